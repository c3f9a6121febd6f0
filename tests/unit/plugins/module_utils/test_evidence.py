# -*- coding: utf-8 -*-
# Copyright (c) 2026 aks.tunnel contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The report's inputs computed from registered results (plugins/module_utils/_evidence.py)."""

from __future__ import annotations

import pytest

from ansible_collections.aks.tunnel.plugins.module_utils import _causes as c
from ansible_collections.aks.tunnel.plugins.module_utils import _evidence as e

NSG, UFW, IPT, EGRESS, SNAT, KONN, NFT, KUBELET, NETWORK, VNET = c.CAUSE_IDS[:10]
MODEL = {'changed': False, 'cluster': {'name': 'aks', 'resource_group': 'rg', 'node_count': 5, 'private_cluster': False},
         'tunnel': {'component': 'konnectivity'}, 'api_calls': {'arm': 9, 'kube': 2}}


def finding(cause, status='ok'):
    return c.make_finding(cause, status, 'x')


def failed(msg, **extra):
    return dict({'failed': True, 'msg': msg}, **extra)


PROBE = {'findings': [finding(UFW), finding(IPT, 'problem'), finding(EGRESS)],
         'api_calls': {'arm': 12, 'kube': 0, 'throttled': 2, 'retries': 2, 'retry_wait_s': 1.5},
         'run_commands': {'sources': 2, 'inspections': 1}}
NSG_RESULT = {'finding': finding(NSG), 'egress_finding': finding(EGRESS), 'api_calls': {'arm': 3, 'kube': 0}}


@pytest.mark.parametrize('evidence, causes, found, errors', [
    # (No API server evidence: the kubelet's TLS is not proven, so an UNKNOWN kubelet finding is added.)
    ({'model': MODEL, 'probe': PROBE, 'nsg': NSG_RESULT}, None, [UFW, IPT, EGRESS, NSG, EGRESS, KUBELET], {}),
    # Findings of causes the run does not cover are dropped.
    ({'model': MODEL, 'probe': PROBE, 'nsg': NSG_RESULT}, [NSG], [NSG], {}),
    # A failed source: each cause it reports on is UNKNOWN with the module's message (only the covered ones).
    ({'model': MODEL, 'probe': failed('Run Command denied (HTTP 403)')}, [UFW, SNAT], [], {UFW: 'probe check failed: Run Command denied (HTTP 403)'}),
    ({'model': MODEL, 'nsg': failed('boom'), 'probe': PROBE}, [NSG, EGRESS], [EGRESS],
     {NSG: 'nsg check failed: boom', EGRESS: 'nsg check failed: boom'}),
    # konnectivity registers two results: one failing keeps the other's finding.
    ({'model': MODEL, 'konnectivity': [failed('ladder read failed'), {'finding': finding(KONN, 'problem')}]}, [KONN], [KONN],
     {KONN: 'konnectivity check failed: ladder read failed'}),
    # Skipped and missing sources did not run.
    ({'model': MODEL, 'snat': {'skipped': True}, 'probe': {}}, [SNAT], [], {}),
    # The model could not be read: every covered cause is UNKNOWN.
    ({'model': failed('cluster not found (HTTP 404)')}, [NSG, SNAT], [],
     {NSG: 'the cluster model could not be read: cluster not found (HTTP 404)', SNAT: 'the cluster model could not be read: cluster not found (HTTP 404)'}),
])
def test_collect(evidence, causes, found, errors):
    result = e.collect(evidence, causes)
    assert [f['cause'] for f in result['findings']] == found
    assert result['errors'] == errors
    assert result['checked'] == list(c.CAUSE_IDS if causes is None else causes)


def test_collect_adds_up_the_api_calls_and_run_commands_of_every_result():
    evidence = {'model': MODEL, 'probe': PROBE, 'nsg': NSG_RESULT, 'snat': failed('metrics 503', api_calls={'arm': 5, 'kube': 0}),
                'konnectivity': [{'finding': finding(KONN), 'api_calls': {'arm': 0, 'kube': 3}}, {'api_calls': {'kube': 4, 'bogus': 'x'}}]}
    stats = e.collect(evidence)['stats']
    assert stats == {'run_commands': 3, 'arm_calls': 29, 'kube_calls': 9, 'throttled': 2, 'retries': 2, 'retry_wait_s': 1.5}


@pytest.mark.parametrize('evidence, message', [
    ([], 'evidence must be a dict of registered results by source'),
    ({'firewall': {}}, 'evidence has unknown source(s) firewall'),
    ({'probe': 'x'}, 'evidence.probe must be a registered module result or a list of them, got str'),
    ({'konnectivity': ['x']}, 'evidence.konnectivity[0] must be a registered module result'),
])
def test_collect_refuses_what_the_role_never_registers(evidence, message):
    with pytest.raises(e.EvidenceError) as info:
        e.collect(evidence)
    assert message in str(info.value)


def test_cluster_block_from_the_model_or_the_names_given():
    assert e.cluster_of(MODEL) == {'name': 'aks', 'resource_group': 'rg', 'tunnel_component': 'konnectivity', 'node_count': 5, 'private': False}
    assert e.cluster_of(failed('404'), {'name': 'aks', 'resource_group': 'rg'}) == {
        'name': 'aks', 'resource_group': 'rg', 'tunnel_component': None, 'node_count': None, 'private': None}


MODEL_NODES = dict(MODEL, nodes=[{'name': 'n1', 'nic_id': '/subscriptions/s/.../networkInterfaces/nic1', 'private_ip': '10.240.0.5'},
                                 {'name': 'n2', 'nic_id': None, 'private_ip': '10.240.0.6'}])


def probe_seeing(*nodes):
    return {'findings': [finding(UFW), finding(IPT), finding(NFT), finding(KUBELET)],
            'summary': {'unreachable_nodes': [{'node': n, 'target': '10.240.0.%d:10250' % i, 'from': {'t0': 'timed_out'},
                                               'status': 'timed_out'} for i, n in enumerate(nodes, 5)]}}


ALL_PATH_SOURCES_OK = {'nsg': {'finding': finding(NSG)}, 'path': {'finding': finding(NETWORK)}}


@pytest.mark.parametrize('evidence, causes, status, nodes', [
    # Unreachable, and no NSG, admin rule, route, firewall or kubelet finding explains it: a PROBLEM, never an all-clear.
    (dict(ALL_PATH_SOURCES_OK, model=MODEL_NODES, probe=probe_seeing('n1', 'n2')), None, 'problem', ['n1', 'n2']),
    # Only the API server saw it (the tunnel nodes reach it): never silent, but not proven to be the path: UNKNOWN.
    (dict(ALL_PATH_SOURCES_OK, model=MODEL_NODES, probe=probe_seeing(), apiserver={'unreachable_nodes': [
        {'node': 'n2', 'error': 'error dialing backend: dial tcp 10.240.0.6:10250: i/o timeout'}]}), None, 'unknown', ['n2']),
    # Both saw it: PROBLEM.
    (dict(ALL_PATH_SOURCES_OK, model=MODEL_NODES, probe=probe_seeing('n1'), apiserver={'unreachable_nodes': [
        {'node': 'n1', 'error': 'error dialing backend: dial tcp 10.240.0.5:10250: i/o timeout'}]}), None, 'problem', ['n1']),
    # Explained by another cause's PROBLEM (or UNKNOWN): nothing left over.
    (dict(ALL_PATH_SOURCES_OK, model=MODEL_NODES, probe=probe_seeing('n1'), nsg={'finding': c.make_finding(NSG, 'problem', 'deny', ['n1'])}),
     None, None, []),
    (dict(ALL_PATH_SOURCES_OK, model=MODEL_NODES, probe=dict(probe_seeing('n1'), findings=[c.make_finding(UFW, 'unknown', 'x', ['n1'])])),
     None, None, []),
    # Not every kubelet-path check ran (the NSG check failed, or --tags left causes out): UNKNOWN, not a guessed PROBLEM.
    (dict(ALL_PATH_SOURCES_OK, model=MODEL_NODES, probe=probe_seeing('n1'), nsg=failed('403')), None, 'unknown', ['n1']),
    (dict(ALL_PATH_SOURCES_OK, model=MODEL_NODES, probe=probe_seeing('n1')), [NETWORK, UFW], 'unknown', ['n1']),
    # The network cause not covered by this run: no finding for it.
    (dict(ALL_PATH_SOURCES_OK, model=MODEL_NODES, probe=probe_seeing('n1')), [NSG, UFW], None, []),
])
def test_every_unreachable_kubelet_ends_in_a_problem_or_unknown(evidence, causes, status, nodes):
    result = e.collect(evidence, causes)
    leftover = [f for f in result['findings'] if f['cause'] == NETWORK and f['status'] != 'ok']
    if status is None:
        assert not leftover, leftover
        return
    (finding,) = leftover
    assert (finding['status'], finding['affected_nodes']) == (status, nodes)
    assert finding['remediation']['commands'][0].startswith('az network watcher run-configuration-diagnostic')
    assert any(line.startswith(nodes[0] + ': ') for line in finding['remediation']['pairs'])


@pytest.mark.parametrize('apiserver, status', [
    # The API server reached every kubelet: its TLS is proven, the probe's TCP-only OK stands.
    ({'finding': finding(KUBELET), 'unreachable_nodes': []}, 'ok'),
    # Not allowed (no get on nodes/proxy): UNKNOWN stays UNKNOWN; the probe's TCP answer proves no TLS.
    ({'finding': c.make_finding(KUBELET, 'unknown', 'nodes/proxy forbidden (HTTP 403)')}, 'unknown'),
    # Skipped (aks_tunnel_apiserver_probe: false) or not there at all: not proven, so UNKNOWN with the reason.
    ({'skipped': True}, 'unknown'),
    (None, 'unknown'),
])
def test_kubelet_tls_is_ok_only_when_the_api_server_proved_it(apiserver, status):
    from ansible_collections.aks.tunnel.plugins.module_utils import _report
    evidence = dict(ALL_PATH_SOURCES_OK, model=MODEL_NODES, probe=probe_seeing())
    if apiserver is not None:
        evidence['apiserver'] = apiserver
    result = e.collect(evidence)
    merged = _report.merge_findings(result['findings'], result['checked'], result['errors'])
    assert next(f for f in merged if f['cause'] == KUBELET)['status'] == status


def test_the_api_server_cut_off_by_a_broken_tunnel_is_not_a_network_path():
    timeouts = {'unreachable_nodes': [{'node': n, 'error': 'dial tcp %s:10250: i/o timeout' % n} for n in ('n1', 'n2')]}
    evidence = dict(ALL_PATH_SOURCES_OK, model=MODEL_NODES, probe=dict(probe_seeing(), findings=[
        finding(UFW), finding(IPT), finding(NFT), finding(KUBELET), c.make_finding(EGRESS, 'problem', 'TCP 9000 blocked', ['n0'])]),
        apiserver=timeouts)
    assert not [f for f in e.collect(evidence)['findings'] if f['cause'] == NETWORK and f['status'] != 'ok']
    # With the tunnel healthy, the same timeouts are never silent: UNKNOWN (the tunnel nodes reach those kubelets).
    evidence['probe'] = probe_seeing()
    (left,) = [f for f in e.collect(evidence)['findings'] if f['cause'] == NETWORK and f['status'] != 'ok']
    assert left['status'] == 'unknown' and left['affected_nodes'] == ['n1', 'n2']
    assert 'the tunnel nodes reach it' in left['evidence'][0]


@pytest.mark.parametrize('apiserver, status', [
    ({'finding': finding(KUBELET), 'probed': 5, 'reached': 5}, 'ok'),
    # The tunnel is down: the API server reached no kubelet, so nothing proves their TLS.
    ({'finding': finding(KUBELET), 'probed': 5, 'reached': 0, 'unreachable_nodes': []}, 'unknown'),
    ({'finding': c.make_finding(KUBELET, 'unknown', 'nodes/proxy forbidden (HTTP 403)'), 'probed': 1, 'reached': 0}, 'unknown'),
])
def test_kubelet_tls_unproven_when_the_api_server_reached_none(apiserver, status):
    from ansible_collections.aks.tunnel.plugins.module_utils import _report
    evidence = dict(ALL_PATH_SOURCES_OK, model=MODEL_NODES, probe=probe_seeing(), apiserver=apiserver)
    result = e.collect(evidence)
    kubelet = [f for f in result['findings'] if f['cause'] == KUBELET]
    assert len([f for f in kubelet if 'reached none' in f['summary']]) == (1 if apiserver['finding']['status'] == 'ok' and status == 'unknown' else 0)
    merged = _report.merge_findings(result['findings'], result['checked'], result['errors'])
    assert next(f for f in merged if f['cause'] == KUBELET)['status'] == status
