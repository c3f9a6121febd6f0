# -*- coding: utf-8 -*-
# Copyright (c) 2026 aks.tunnel contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import pytest

from ansible_collections.aks.tunnel.plugins.module_utils import _node_probe as npb

NODES = [{'name': 'n%d' % i, 'private_ip': '10.0.0.%d' % (4 + i), 'vmss': 'v', 'instance_id': str(i)} for i in range(3)]
TARGETS = [('10.0.0.4', 10250), ('10.0.0.5', 10250), ('10.0.0.6', 10250)]
IP_TO_NODE = dict((n['private_ip'], n['name']) for n in NODES)


def run(stdout, status='succeeded', error=None):
    return {'key': 'n0', 'status': status, 'error': error, 'stdout': stdout, 'stderr': '', 'duration': 1.5, 'attempts': 1, 'conflicts': 0,
            'stdout_truncated': False}


PROBE_OUT = '''AKSTP1 begin id=r1 checks=connect,egress n=3
E 0 tls api.example:443 tcp=succeeded tls=ok alpn=none issuer=CN_=_proxy
C rle s2t1
S n=3 s=2 t=1 r=0 u=0 d=0 e=0 x=0 secs=2 par=32 to=2 m=nc
AKSTP1 end id=r1 n=3 rc=0
'''


@pytest.mark.parametrize('entry, ok, fragment', [
    ({'kind': 'tls', 'host': 'h', 'port': 443, 'tcp': 'succeeded', 'tls': 'ok', 'alpn': 'konnectivity'}, True, 'reachable'),
    ({'kind': 'tls', 'host': 'h', 'port': 443, 'tcp': 'succeeded', 'tls': 'ok', 'alpn': 'none'}, False, 'ALPN none instead of konnectivity'),
    ({'kind': 'tls', 'host': 'h', 'port': 443, 'tcp': 'timed_out'}, False, 'TCP timed_out'),
    ({'kind': 'tcp', 'host': 'h', 'port': 9000, 'tcp': 'refused'}, False, 'TCP refused'),
    ({'kind': 'udp', 'host': 'h', 'port': 1194, 'udp': 'reply'}, True, 'answered'),
    ({'kind': 'udp', 'host': 'h', 'port': 1194, 'udp': 'no_reply'}, False, 'no_reply'),
])
def test_egress_verdict(entry, ok, fragment):
    got, reason = npb.egress_verdict(entry)
    assert got is ok and fragment in reason


def test_egress_checks_follow_the_component_or_overrides():
    tunnel = {'egress': [{'kind': 'udp', 'port': 1194}]}
    assert npb.egress_checks(tunnel, 'api.example') == [{'kind': 'udp', 'host': 'api.example', 'port': 1194}]
    assert npb.egress_checks(tunnel, 'api', [{'kind': 'tcp', 'port': '9000', 'host': None}]) == [{'kind': 'tcp', 'host': 'api', 'port': 9000}]
    assert npb.egress_checks(tunnel, None) == []


def test_shape_summary_and_findings():
    shaped = npb.shape_result(run(PROBE_OUT), NODES[0], ['tcp_reachability', 'egress'], TARGETS, IP_TO_NODE, 'r1')
    shaped['role'] = 'source'
    assert shaped['checks']['tcp_reachability'] == {'counts': {'succeeded': 2, 'timed_out': 1}, 'targets': 3, 'scan_seconds': 2,
                                                    'failed': [{'target': '10.0.0.6:10250', 'node': 'n2', 'status': 'timed_out'}]}
    assert shaped['checks']['egress'][0]['ok'] is False
    summary = npb.summarize([shaped], NODES)
    assert (summary['reachable'], summary['unreachable'], summary['by_reason']) == (2, 1, {'timed_out': 1})
    assert summary['unreachable_nodes'] == [{'node': 'n2', 'target': '10.0.0.6:10250', 'status': 'timed_out', 'from': {'n0': 'timed_out'}}]
    inspect = {'node': 'n2', 'status': 'succeeded', 'error': None, 'role': 'inspect',
               'checks': {'firewall': {'blocked_by': 'ufw', 'rules': [], 'reason': 'ufw is active', 'conditional': False}}}
    found = npb.findings(['ufw_blocks_10250', 'iptables_blocks_10250', 'egress_ports_blocked'], [shaped, inspect], [inspect], summary,
                         ['tcp_reachability', 'egress'], {'egress': [1]}, True)
    assert [(f['cause'], f['status'], f['affected_nodes']) for f in found] == [
        ('ufw_blocks_10250', 'problem', ['n2']), ('iptables_blocks_10250', 'ok', []), ('egress_ports_blocked', 'problem', ['n0'])]
    assert 'TLS inspection' in found[2]['remediation']['summary']


def test_unreachable_but_not_inspected_is_unknown_and_all_reachable_is_ok():
    summary = {'unreachable': 1, 'unreachable_nodes': [{'node': 'n2'}], 'sources': ['n0']}
    assert npb.findings(['ufw_blocks_10250'], [], [], summary, ['tcp_reachability'], {}, False)[0]['status'] == 'unknown'
    summary = {'unreachable': 0, 'unreachable_nodes': [], 'sources': ['n0']}
    assert npb.findings(['iptables_blocks_10250'], [], [], summary, ['tcp_reachability'], {}, False)[0]['status'] == 'ok'
    assert npb.findings(['egress_ports_blocked'], [], [], summary, ['tcp_reachability'], {'egress_reason': 'private'}, False)[0]['status'] \
        == 'not_applicable'


def test_failed_runs_make_unknown_findings():
    failed = {'node': 'n0', 'status': 'failed', 'error': 'Failed to run (HTTP 403)', 'role': 'source', 'checks': {}}
    summary = npb.summarize([failed], NODES)
    assert summary['errors'] == [{'node': 'n0', 'error': 'Failed to run (HTTP 403)'}]
    found = npb.findings(['ufw_blocks_10250', 'egress_ports_blocked'], [failed], [failed], summary, ['tcp_reachability', 'egress'],
                         {'egress': [1]}, True)
    assert [f['status'] for f in found] == ['unknown', 'unknown'] and 'HTTP 403' in found[0]['summary']


@pytest.mark.parametrize('stdout, error', [
    ('AKSTP1 begin id=r1 checks=connect n=0\n@@error bad-arg 3\nAKSTP1 end id=r1 n=0 rc=2\n', 'refused its parameters: bad-arg 3'),
    ('', 'no probe output'),
])
def test_bad_outputs(stdout, error):
    shaped = npb.shape_result(run(stdout), NODES[0], ['tcp_reachability'], TARGETS, IP_TO_NODE, 'r1')
    assert shaped['status'] == 'failed' and error in shaped['error']
