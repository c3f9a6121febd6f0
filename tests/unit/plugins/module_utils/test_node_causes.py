# -*- coding: utf-8 -*-
# Copyright (c) 2026 aks.tunnel contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Issue #12: the node causes of the probe (ufw, iptables, native nft, kubelet not serving) say PROBLEM with evidence, or
UNKNOWN with the reason when the evidence is missing - never OK for what the inspection could not prove.

Section texts: `nft -a list ruleset` and `iptables -S` as nftables 1.0.6 / iptables 1.8.9 (nf_tables) print them in a
network namespace (Debian 12, captured 2026-12-04 for this test); `ss -ltn` lines as iproute2 6.1 prints them; the `tls`
section is the probe script's own line.
"""

from __future__ import annotations

import pytest

from ansible_collections.aks.tunnel.plugins.module_utils import _causes
from ansible_collections.aks.tunnel.plugins.module_utils import _node_probe as npb

UFW, IPT, NFT, KUBELET = _causes.UFW_BLOCKS_10250, _causes.IPTABLES_BLOCKS_10250, _causes.NFT_BLOCKS_10250, _causes.KUBELET_NOT_SERVING
NODE = {'name': 'n2', 'private_ip': '10.0.0.6', 'vmss': 'aks-user1-vmss', 'instance_id': '2'}

SS_LISTEN = 'State  Recv-Q Send-Q Local Address:Port Peer Address:PortProcess\nLISTEN 0      4096         0.0.0.0:10250      0.0.0.0:*\n'
SS_NONE = 'State  Recv-Q Send-Q Local Address:Port Peer Address:PortProcess\n'
SS_LOOPBACK = 'State  Recv-Q Send-Q Local Address:Port Peer Address:PortProcess\nLISTEN 0      4096       127.0.0.1:10250      0.0.0.0:*\n'
IPT_CLEAN = '-P INPUT ACCEPT\n-P FORWARD ACCEPT\n-P OUTPUT ACCEPT\n'
IPT_DROP = IPT_CLEAN + '-A INPUT -p tcp -m tcp --dport 10250 -j DROP\n'
NFT_IPTABLES_ONLY = '''table ip filter { # handle 1
\tchain INPUT { # handle 1
\t\ttype filter hook input priority filter; policy accept;
\t\tmeta l4proto tcp tcp dport 10250 counter drop # handle 2
\t}
}
'''
NFT_HOSTFW = NFT_IPTABLES_ONLY + '''table inet hostfw { # handle 2
\tchain input { # handle 1
\t\ttype filter hook input priority filter; policy accept;
\t\ttcp dport 10250 drop # handle 4
\t}
}
'''
NFT_CLEAN = '''table inet hostfw { # handle 2
\tchain input { # handle 1
\t\ttype filter hook input priority filter; policy accept;
\t\ttcp dport 22 drop # handle 3
\t}
}
'''
UFW_OFF = 'ufw: not installed\n'
TLS_OK = 'tls=ok addr=127.0.0.1:10250 http=- answer=-\n'
TLS_PLAIN = 'tls=failed addr=127.0.0.1:10250 http=plain answer=HTTP/1.1_200_OK\n'
TLS_FAILED = 'tls=failed addr=127.0.0.1:10250 http=no answer=-\n'
TLS_NO_OPENSSL = 'tls=no_openssl addr=127.0.0.1:10250 http=- answer=-\n'
TLS_TIMEOUT = 'tls=connect_timed_out addr=127.0.0.1:10250 http=- answer=-\n'
TLS_DOWN = 'tls=not_listening addr=- http=- answer=-\n'
XTABLES_LOCK = 'Another app is currently holding the xtables lock. Stopped waiting after 20s.\n'  # iptables -w after its wait, rc 4

HEALTHY = {'ss': ('rc=0 filtered=1', SS_LISTEN), 'tls': ('rc=0', TLS_OK), 'ufw': ('rc=127', UFW_OFF),
           'iptables': ('rc=0 bin=iptables', IPT_CLEAN), 'nft': ('rc=0', NFT_CLEAN)}


def inspection(**changes):
    """One inspection result (role inspect) from the probe output with HEALTHY's sections, changed by `changes`
    (name=(header attributes, text), or name=None to leave the section out)."""
    sections = dict(HEALTHY, **changes)
    lines = ['AKSTP1 begin id=i1 checks=inspect n=0']
    for name in ('ss', 'tls', 'ufw', 'iptables', 'nft'):
        if sections.get(name) is None:
            continue
        attrs, text = sections[name]
        lines.append('@@%s %s bytes=%d' % (name, attrs, len(text)))
        lines.extend(text.splitlines())
    lines += ['@@end', 'S n=0 s=0 t=0 r=0 u=0 d=0 e=0 x=0 secs=1 par=32 to=2 m=devtcp', 'AKSTP1 end id=i1 n=0 rc=0']
    run = {'key': 'n2', 'status': 'succeeded', 'error': None, 'stdout': '\n'.join(lines) + '\n', 'stderr': '', 'duration': 1.0,
           'attempts': 1, 'conflicts': 0, 'stdout_truncated': False}
    shaped = npb.shape_result(run, NODE, ['firewall'], [], {}, 'i1')
    shaped['role'] = 'inspect'
    assert shaped['status'] == 'succeeded', shaped['error']
    return shaped


STATE_CASES = [
    # (id, sections changed, {cause: (state, fragment)})
    ('healthy', {}, {UFW: ('ok', None), IPT: ('ok', None), NFT: ('ok', None), KUBELET: ('ok', None)}),
    ('native nft drop: PROBLEM with table, chain, rule and handle', {'nft': ('rc=0', NFT_HOSTFW)},
     {NFT: ('problem', 'inet hostfw input: tcp dport 10250 drop (handle 4)'), IPT: ('ok', None), KUBELET: ('ok', None)}),
    ("iptables-nft's translation is not a native nft rule", {'iptables': ('rc=0 bin=iptables', IPT_DROP), 'nft': ('rc=0', NFT_IPTABLES_ONLY),
                                                             'tls': ('rc=0', TLS_TIMEOUT)},
     {NFT: ('ok', None), IPT: ('problem', '--dport 10250 -j DROP'), KUBELET: ('ok', None)}),
    ('xtables lock: iptables failed with rc=4', {'iptables': ('rc=4 bin=iptables', XTABLES_LOCK)},
     {IPT: ('unknown', 'rc=4 (resource problem (e.g. the xtables lock is held)): Another app is currently holding the xtables lock'),
      NFT: ('ok', None), KUBELET: ('ok', None)}),
    ('iptables killed by the timeout', {'iptables': ('rc=124 bin=iptables', '')}, {IPT: ('unknown', 'rc=124 (killed by its timeout)')}),
    ('iptables printed nothing', {'iptables': ('rc=0 bin=iptables', '')}, {IPT: ('unknown', 'the iptables listing is empty')}),
    ('iptables section missing from a trimmed output', {'iptables': ('rc=0 bin=iptables trimmed=300', '-P INPUT ACCEPT\n')},
     {IPT: ('unknown', 'trimmed by 300 bytes')}),
    ('nft trimmed without a blocking rule', {'nft': ('rc=0 filtered=1 trimmed=512', 'table inet hostfw {\n')},
     {NFT: ('unknown', 'the nft section was trimmed by 512 bytes')}),
    ('nft trimmed but the blocking rule is shown', {'nft': ('rc=0 trimmed=80', NFT_HOSTFW)}, {NFT: ('problem', 'handle 4')}),
    ('nft not installed', {'nft': ('rc=127', 'nft: not installed\n')}, {NFT: ('unknown', 'nft is not installed on the node'),
                                                                        IPT: ('ok', None)}),
    ('nft failed', {'nft': ('rc=1', 'Error: cache initialization failed: Operation not permitted\n')},
     {NFT: ('unknown', 'the nft command failed with rc=1: Error: cache initialization failed')}),
    ('ufw not installed cannot block', {'ufw': ('rc=127', UFW_OFF)}, {UFW: ('ok', None)}),
    ('ufw status failed', {'ufw': ('rc=1', 'ERROR: problem running iptables\n')}, {UFW: ('unknown', 'the ufw command failed with rc=1')}),
    ('iptables text not understood', {'iptables': ('rc=0 bin=iptables', 'this is not iptables output\n')},
     {IPT: ('unknown', 'not understood'), NFT: ('unknown', 'not understood'), KUBELET: ('unknown', 'not understood')}),
    ('kubelet down: nothing listens', {'ss': ('rc=0 filtered=1', SS_NONE), 'tls': ('rc=0', TLS_DOWN)},
     {KUBELET: ('problem', 'nothing listens on TCP 10250'), IPT: ('ok', None)}),
    ('kubelet on loopback only', {'ss': ('rc=0 filtered=1', SS_LOOPBACK)}, {KUBELET: ('problem', 'except on loopback')}),
    ('kubelet answers plain HTTP', {'tls': ('rc=0', TLS_PLAIN)},
     {KUBELET: ('problem', 'answers plain HTTP without TLS (HTTP/1.1 200 OK)')}),
    ('TLS handshake fails', {'tls': ('rc=0', TLS_FAILED)}, {KUBELET: ('problem', 'the TLS handshake fails')}),
    ('no openssl: UNKNOWN, not PROBLEM', {'tls': ('rc=0', TLS_NO_OPENSSL)}, {KUBELET: ('unknown', 'openssl is not installed')}),
    ('local connect timed out, no firewall explains it', {'tls': ('rc=0', TLS_TIMEOUT)},
     {KUBELET: ('unknown', 'did not take a local connection (connect_timed_out)')}),
    ('ss failed', {'ss': ('rc=1', 'Cannot open netlink socket: Protocol not supported\n')},
     {KUBELET: ('unknown', 'the ss command failed with rc=1')}),
    ('ss not installed', {'ss': ('rc=127', 'ss: not installed\n')}, {KUBELET: ('unknown', 'ss is not installed on the node')}),
    ('no TLS section (older script)', {'tls': None}, {KUBELET: ('unknown', 'no TLS check')}),
]


@pytest.mark.parametrize('changes, expected', [c[1:] for c in STATE_CASES], ids=[c[0] for c in STATE_CASES])
def test_node_cause_state(changes, expected):
    result = inspection(**changes)
    for cause, (state, fragment) in expected.items():
        got, text = npb.node_cause_state(cause, result['checks']['firewall'])
        assert got == state, (cause, text)
        if fragment:
            assert fragment in text


def test_no_firewall_section_is_unknown_for_every_node_cause():
    for cause in npb.NODE_CAUSES:
        assert npb.node_cause_state(cause, None)[0] == 'unknown'


SUMMARY = {'sources': ['n0'], 'unreachable': 1,
           'unreachable_nodes': [{'node': 'n2', 'target': '10.0.0.6:10250', 'status': 'timed_out', 'from': {'n0': 'timed_out'}}]}


def finding(cause, inspections, summary=None, **kwargs):
    return npb.findings([cause], [], inspections, summary or SUMMARY, ['tcp_reachability'], {}, False, node_resource_group='MC_rg', **kwargs)[0]


def test_nft_finding_is_a_problem_with_the_exact_commands():
    found = finding(NFT, [inspection(nft=('rc=0', NFT_HOSTFW))])
    assert (found['status'], found['affected_nodes']) == ('problem', ['n2'])
    assert found['evidence'] == ['n2: native nftables rules drop/reject TCP 10250 in an input hook: inet hostfw input: tcp dport 10250 drop '
                                 '(handle 4)']
    remediation = found['remediation']
    assert remediation['nodes'] == ['n2']
    assert remediation['nft_rules'] == {'n2': [{'family': 'inet', 'table': 'hostfw', 'chain': 'input', 'handle': 4, 'rule': 'tcp dport 10250 drop',
                                                'verdict': 'drop', 'conditional': False}]}
    assert remediation['commands'] == [
        "az vmss run-command invoke --resource-group MC_rg --name aks-user1-vmss --instance-id 2 --command-id RunShellScript --scripts "
        "'nft list ruleset > /var/tmp/aks-tunnel-nft-backup-$(date +%s).nft && nft delete rule inet hostfw input handle 4'"]
    assert set(remediation) >= set(_causes.cause(NFT).remediation_keys) | {'summary'}


def test_nft_policy_drop_gets_an_accept_rule():
    policy = NFT_CLEAN.replace('policy accept;', 'policy drop;')
    found = finding(NFT, [inspection(nft=('rc=0', policy))])
    assert found['status'] == 'problem'
    assert found['remediation']['commands'][0].endswith("&& nft insert rule inet hostfw input tcp dport 10250 accept'")


@pytest.mark.parametrize('changes, fragment', [
    ({'ss': ('rc=0 filtered=1', SS_NONE), 'tls': ('rc=0', TLS_DOWN)}, 'nothing listens on TCP 10250'),
    ({'tls': ('rc=0', TLS_PLAIN)}, 'http: server gave HTTP response to HTTPS client'),
])
def test_kubelet_not_serving_is_a_problem_with_commands(changes, fragment):
    found = finding(KUBELET, [inspection(**changes)])
    assert (found['status'], found['affected_nodes']) == ('problem', ['n2'])
    assert fragment in found['evidence'][0]
    assert found['remediation']['nodes'] == ['n2']
    assert 'journalctl -u kubelet' in found['remediation']['commands'][0]
    assert found['remediation']['commands'][0].startswith('az vmss run-command invoke --resource-group MC_rg --name aks-user1-vmss --instance-id 2 ')


UNKNOWN_CASES = [
    # (id, inspections, summary, fragment): every node cause must be UNKNOWN, naming the node and the reason
    ('inspection Run Command refused', [{'node': 'n2', 'status': 'failed', 'error': 'Failed to run (HTTP 403 AuthorizationFailed)',
                                         'role': 'inspect', 'checks': {}}], SUMMARY, 'HTTP 403'),
    ('inspection never finished', [{'node': 'n2', 'status': 'timeout', 'error': 'no result after 300 s', 'role': 'inspect', 'checks': {}}],
     SUMMARY, 'no result after 300 s'),
    ('unreachable node that is not a VMSS node', [],
     dict(SUMMARY, not_inspected=[{'node': 'n2', 'reason': 'not a VMSS node: Run Command cannot reach it'}]),
     'was not inspected (not a VMSS node'),
    ('unreachable, inspection off', [], SUMMARY, 'use inspect_unreachable'),
    ('node without an IP', [], {'sources': ['n0'], 'unreachable': 0, 'unreachable_nodes': [],
                                'unprobed_nodes': [{'node': 'n2', 'reason': 'the node has no private IP: its kubelet was not probed'}]},
     'no private IP'),
]


@pytest.mark.parametrize('inspections, summary, fragment', [c[1:] for c in UNKNOWN_CASES], ids=[c[0] for c in UNKNOWN_CASES])
@pytest.mark.parametrize('cause', [UFW, IPT, NFT, KUBELET])
def test_missing_evidence_is_unknown_never_ok(cause, inspections, summary, fragment):
    found = finding(cause, inspections, summary)
    assert found['status'] == 'unknown'
    assert found['affected_nodes'] == ['n2']
    assert fragment in found['summary'] and fragment in found['evidence'][0]


@pytest.mark.parametrize('changes, cause', [
    ({'iptables': ('rc=4 bin=iptables', 'Another app is currently holding the xtables lock.\n')}, IPT),
    ({'nft': ('rc=0 trimmed=512', 'table inet hostfw {\n')}, NFT),
    ({'tls': ('rc=0', TLS_NO_OPENSSL)}, KUBELET),
])
def test_an_incomplete_section_makes_the_finding_unknown(changes, cause):
    found = finding(cause, [inspection(**changes)])
    assert (found['status'], found['affected_nodes']) == ('unknown', ['n2'])


def test_a_problem_keeps_the_nodes_it_could_not_check_in_its_evidence():
    other = {'node': 'n1', 'status': 'failed', 'error': 'Failed to run (HTTP 409 Conflict)', 'role': 'inspect', 'checks': {}}
    found = finding(NFT, [inspection(nft=('rc=0', NFT_HOSTFW)), other])
    assert (found['status'], found['affected_nodes']) == ('problem', ['n2'])
    assert 'not checked: n1: could not be inspected: Failed to run (HTTP 409 Conflict)' in found['evidence']


def test_summary_lists_nodes_without_ip_as_unprobed():
    nodes = [{'name': 'n0', 'private_ip': '10.0.0.4'}, {'name': 'n9', 'private_ip': None}]
    source = {'node': 'n0', 'status': 'succeeded', 'checks': {'tcp_reachability': {'failed': []}}}
    summary = npb.summarize([source], nodes)
    assert summary['unprobed_nodes'] == [{'node': 'n9', 'reason': 'the node has no private IP: its kubelet was not probed'}]
    assert npb.summarize([source], nodes, node_targets=False)['unprobed_nodes'] == []


def test_egress_tls_without_openssl_is_unknown_not_a_problem():
    entry = {'kind': 'tls', 'host': 'api', 'port': 443, 'tcp': 'succeeded', 'tls': 'no_openssl'}
    assert npb.egress_verdict(entry)[0] is None
    source = {'node': 'n0', 'status': 'succeeded', 'role': 'source', 'checks': {'egress': [dict(entry, ok=None, reason=npb.egress_verdict(entry)[1])]}}
    found = npb.findings([_causes.EGRESS_PORTS_BLOCKED], [source], [], SUMMARY, ['egress'], {'egress': [1]}, True)[0]
    assert (found['status'], found['affected_nodes']) == ('unknown', ['n0'])
    assert 'openssl is not installed' in found['summary']
