# -*- coding: utf-8 -*-
# Copyright (c) 2026 aks.tunnel contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""snat-exhaustion: detected from the LB metrics with per-node evidence; aks_outbound_ports repairs it (four steps)."""

from __future__ import annotations

from ansible_collections.aks.tunnel.plugins.module_utils import _snat
from ansible_collections.aks.tunnel.tests.integration.modules_konnectivity.playbook_runner import run_playbook


def test_snat_exhaustion_is_detected_and_outbound_ports_are_raised(arm_lab, tmp_path):
    lab = arm_lab('snat-exhaustion')
    ports = 'aks.tunnel.aks_outbound_ports'
    info = 'aks.tunnel.snat_usage_info'
    recommended = dict(lab.auth, allocated_outbound_ports='recommended', peak_ports='{{ detect.finding.remediation.peak_ports }}')
    tasks = [
        {info: lab.reader, 'register': 'detect'},
        {ports: dict(recommended, **{k: lab.reader[k] for k in ('client_id', 'secret')}), 'register': 'readonly', 'ignore_errors': True},
        {ports: dict(lab.auth, allocated_outbound_ports=64000), 'register': 'blocking', 'ignore_errors': True},
        {ports: dict(lab.auth, allocated_outbound_ports='1001'), 'register': 'not_multiple', 'ignore_errors': True},
        {ports: recommended, 'check_mode': True, 'diff': True, 'register': 'check1'},
        {ports: recommended, 'register': 'real1'},
        {ports: recommended, 'check_mode': True, 'register': 'check2'},
        {ports: recommended, 'register': 'real2'},
        {info: lab.reader, 'register': 'verify'},
    ]
    results = run_playbook(tmp_path, tasks)

    detect = results['detect']
    snat = lab.scenario['snat']
    assert (snat['allocated_ports'], snat['demand_ports'], snat.get('outbound_ips', 1)) == (1024, 1300, 1), 'expectations below assume these'
    assert [pool['count'] for pool in lab.scenario['node_pools']] == [3, 2], 'expectations below assume 5 nodes in 2 pools (surge 10% each)'
    assert detect['changed'] is False and detect['applicable'] is True
    assert detect['cluster']['load_balancer_profile']['allocated_outbound_ports'] == 1024
    assert detect['capacity']['max_nodes'] == 5 and detect['capacity']['surge'] == 2
    finding = detect['finding']
    assert finding['cause'] == 'snat_exhaustion' and finding['status'] == 'problem'
    assert finding['affected_nodes'] == sorted(lab.node_by_ip.values())
    assert {row['node'] for row in detect['nodes']} == set(lab.node_by_ip.values())
    for row in detect['nodes']:
        assert (row['allocated'], row['used'], row['ratio'], row['status']) == (1024, 1024, 1.0, 'problem')
        assert row['failed'] > 0 and row['node'] == lab.node_by_ip[row['backend_ip']]
    assert detect['worst']['ratio'] == 1.0 and detect['max_ratio'] == 1.0
    assert any(line.startswith('%s (%s): allocated 1024, used 1024 (100.0%%)' % (ip, name)) for ip, name in lab.node_by_ip.items()
               for line in finding['evidence'])
    # The peak a node wants, estimated from the failed share (1300 wanted, 1024 allocated), and the smallest multiple of 8
    # that keeps it at <= 72% - not the largest value one IP allows for 7 nodes (9136), which left no room to scale.
    peak = finding['remediation']['peak_ports']
    assert 1300 <= peak <= 1310, finding
    target = _snat.ports_for_peak(peak)
    assert target in (1808, 1816, 1824)
    assert (finding['remediation']['allocated_outbound_ports'], finding['remediation']['managed_outbound_ips']) == (target, 1)
    assert finding['remediation']['fits_current_ips'] is True

    readonly = results['readonly']
    assert readonly['failed'] is True and 'HTTP 403' in readonly['msg']
    assert 'Microsoft.ContainerService/managedClusters/write' in readonly['msg']
    assert results['blocking']['failed'] is True
    assert 'refusing to set allocated_outbound_ports=64000 with 1 outbound IP(s)' in results['blocking']['msg']
    assert 'use allocated_outbound_ports <= 9136 with 1 IP(s) or managed_outbound_ips >= 7' in results['blocking']['msg']
    assert results['not_multiple']['failed'] is True
    assert 'allocated_outbound_ports must be a multiple of 8, got 1001 (use 1000 or 1008)' in results['not_multiple']['msg']

    check1 = results['check1']
    assert check1['changed'] is True
    assert check1['diff'] == {'before': {'allocated_outbound_ports': 1024, 'managed_outbound_ips': 1},
                              'after': {'allocated_outbound_ports': target, 'managed_outbound_ips': 1},
                              'before_header': 'aks-lab loadBalancerProfile', 'after_header': 'aks-lab loadBalancerProfile'}
    real1 = results['real1']
    # previous = what the server had when the real run started: the read-only attempt, the refused values
    # and check mode changed nothing.
    assert real1['changed'] is True and real1['previous'] == {'allocated_outbound_ports': 1024, 'managed_outbound_ips': 1}
    assert real1['current'] == {'allocated_outbound_ports': target, 'managed_outbound_ips': 1}
    assert real1['rollback'] == {'allocated_outbound_ports': 1024, 'managed_outbound_ips': 1}
    assert real1['provisioning_state'] == 'Succeeded' and real1['max_nodes_supported'] == 64000 // target >= 35
    assert results['check2']['changed'] is False and results['real2']['changed'] is False
    assert lab.state.lb_profile['allocated_outbound_ports'] == target and lab.state.lb_profile['managed_outbound_ip_count'] == 1

    verify = results['verify']
    assert verify['cluster']['load_balancer_profile']['allocated_outbound_ports'] == target
    assert {row['allocated'] for row in verify['nodes']} == {target}
    assert verify['max_ratio'] == round(1300 / target, 4) < 0.8
    # Right after the repair the window still holds the failures from before it: they are history, the verdict is ok.
    assert verify['finding']['status'] == 'ok' and verify['failed_total'] == 0 and verify['failed_before_change'] > 0
    assert {row['allocation_change']['to'] for row in verify['nodes']} == {target}


def test_healthy_and_not_applicable_clusters(arm_lab, tmp_path):
    healthy = arm_lab('healthy')
    udr = arm_lab('healthy', outbound_type='userDefinedRouting')
    private = arm_lab('healthy', private=True)
    info = 'aks.tunnel.snat_usage_info'
    tasks = [
        {info: healthy.reader, 'register': 'healthy'},
        {info: udr.reader, 'register': 'udr'},
        {info: private.reader, 'register': 'private'},
        {'aks.tunnel.aks_outbound_ports': dict(udr.auth, allocated_outbound_ports=2048), 'register': 'udr_ports', 'ignore_errors': True},
    ]
    results = run_playbook(tmp_path, tasks)
    ok = results['healthy']
    assert ok['finding']['status'] == 'ok' and ok['finding']['affected_nodes'] == []
    assert ok['failed_total'] == 0 and ok['max_ratio'] == round(300 / 1024, 4)
    assert {row['status'] for row in ok['nodes']} == {'ok'} and len(ok['nodes']) == 5
    assert ok['finding']['remediation'] == {}
    assert results['udr']['applicable'] is False and results['udr']['finding']['status'] == 'not_applicable'
    assert results['udr']['reason'].startswith('outboundType is userDefinedRouting')
    assert results['private']['finding']['status'] == 'not_applicable'
    assert results['private']['reason'].startswith('private cluster')
    assert results['udr_ports']['failed'] is True and 'outboundType userDefinedRouting' in results['udr_ports']['msg']
