# -*- coding: utf-8 -*-
# Copyright (c) 2026 aks.tunnel contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""snat-autoscaler-max (issue 13 item 5): a 3-node pool under an autoscaler max of 40, SNAT exhausted.

The ports that cover the peak with headroom do not fit 47 nodes on one outbound IP: aks_outbound_ports changes nothing
and says it takes 2 IPs (before: it set 1360 and the diagnosis stayed a PROBLEM at 95.6%). With the second IP allowed
explicitly it repairs (four steps, with the cost/allow-list warning) and the diagnosis is OK.
"""

from __future__ import annotations

import pytest

from ansible_collections.aks.tunnel.plugins.module_utils import _snat
from ansible_collections.aks.tunnel.tests.integration.modules_konnectivity.playbook_runner import run_playbook
from ansible_collections.aks.tunnel.tests.lab import scenario

PEAK = '{{ detect.finding.remediation.peak_ports }}'


def _aks_client(lab):
    from azure.identity import ClientSecretCredential  # pylint: disable=import-outside-toplevel
    from azure.mgmt.containerservice import ContainerServiceClient  # pylint: disable=import-outside-toplevel
    credential = ClientSecretCredential(lab.state.tenant_id, scenario.LAB_CLIENT['client_id'], scenario.LAB_CLIENT['client_secret'],
                                        authority=lab.url, disable_instance_discovery=True, connection_verify=lab.ca_path)
    return ContainerServiceClient(credential, lab.state.subscription_id, base_url=lab.url, credential_scopes=[lab.url + '/.default'],
                                  connection_verify=lab.ca_path)


def test_emulator_enforces_the_aks_rule_with_the_autoscaler_max(arm_lab):
    """InvalidLoadBalancerProfileAllocatedOutboundPorts: ports x (sum of max(count, maxCount) + surge) must fit 64000 x IPs."""
    from azure.core.exceptions import HttpResponseError  # pylint: disable=import-outside-toplevel
    lab = arm_lab('snat-autoscaler-max')
    client = _aks_client(lab)
    cluster = client.managed_clusters.get(lab.state.resource_group, lab.state.cluster_name)
    cluster.network_profile.load_balancer_profile.allocated_outbound_ports = 1368
    with pytest.raises(HttpResponseError) as info:
        client.managed_clusters.begin_create_or_update(lab.state.resource_group, lab.state.cluster_name, cluster).result()
    assert info.value.error.code == 'InvalidLoadBalancerProfileAllocatedOutboundPorts'
    assert 'Total node count 47 requires 64296 ports but only 64000 ports are available given 1 outbound public IPs' in info.value.error.message
    assert lab.state.lb_profile['allocated_outbound_ports'] == 1024


def test_autoscaler_pool_needs_a_second_ip_and_gets_it_only_when_asked(arm_lab, tmp_path):
    lab = arm_lab('snat-autoscaler-max')
    ports = 'aks.tunnel.aks_outbound_ports'
    info = 'aks.tunnel.snat_usage_info'
    recommended = dict(lab.auth, allocated_outbound_ports='recommended', peak_ports=PEAK)
    grow = dict(recommended, managed_outbound_ips=2)
    tasks = [
        {info: lab.reader, 'register': 'detect'},
        {ports: recommended, 'check_mode': True, 'register': 'refused_check', 'ignore_errors': True},
        {ports: recommended, 'register': 'refused', 'ignore_errors': True},
        {ports: dict(recommended, if_no_fit='largest_fit'), 'check_mode': True, 'register': 'largest'},
        {ports: grow, 'check_mode': True, 'diff': True, 'register': 'grow_check1'},
        {ports: grow, 'register': 'grow_real1'},
        {ports: grow, 'check_mode': True, 'register': 'grow_check2'},
        {ports: grow, 'register': 'grow_real2'},
        {info: lab.reader, 'register': 'verify'},
    ]
    results = run_playbook(tmp_path, tasks)

    detect = results['detect']
    assert detect['capacity']['max_nodes'] == 42 and detect['capacity']['surge'] == 5 and detect['capacity']['required_nodes'] == 47
    finding = detect['finding']
    assert finding['status'] == 'problem'
    peak = finding['remediation']['peak_ports']
    # 1300 wanted, 1024 allocated, 13 of 60 connections a minute fail: 1024 x 60 / 47 = 1307 (the last, partial minute rounds).
    assert 1300 <= peak <= 1310, finding
    target = _snat.ports_for_peak(peak)
    assert target in (1808, 1816, 1824)
    assert (finding['remediation']['allocated_outbound_ports'], finding['remediation']['managed_outbound_ips']) == (target, 2)
    assert finding['remediation']['ips_needed'] == 2 and finding['remediation']['fits_current_ips'] is False
    assert detect['recommendation']['fits'] is False and detect['recommendation']['refused']

    for name in ('refused_check', 'refused'):
        refused = results[name]
        assert refused['failed'] is True and refused['changed'] is False, refused
        assert refused['msg'].startswith('nothing changed: %d ports per node keep the peak of %d' % (target, peak))
        assert 'that needs 2 outbound IP(s) for 47 nodes (max 42 + surge 5) (%d x 47 > 64000 x 1), 1 today' % target in refused['msg']
        assert refused['ips_needed'] == 2 and refused['previous'] == {'allocated_outbound_ports': 1024, 'managed_outbound_ips': 1}
    # "Only what helps without new IPs": 1360, the largest that fits one IP (what the repair set before), still above 80%.
    largest = results['largest']
    assert largest['changed'] is True and largest['desired'] == {'allocated_outbound_ports': 1360, 'managed_outbound_ips': 1}
    assert 'still at or above the threshold' in largest['recommendation']['reason']

    check1 = results['grow_check1']
    assert check1['changed'] is True and check1['added_outbound_ips'] == 1
    assert check1['diff']['after'] == {'allocated_outbound_ports': target, 'managed_outbound_ips': 2}
    assert '[WARNING]: this would add 1 managed outbound public IP(s) (1 -> 2)' in results['_output']
    assert '[WARNING]: this adds 1 managed outbound public IP(s) (1 -> 2)' in results['_output']
    real1 = results['grow_real1']
    assert real1['changed'] is True and real1['current'] == {'allocated_outbound_ports': target, 'managed_outbound_ips': 2}
    assert real1['rollback'] == {'allocated_outbound_ports': 1024, 'managed_outbound_ips': 1}
    assert real1['max_nodes_supported'] == 128000 // target >= 47
    assert results['grow_check2']['changed'] is False and results['grow_real2']['changed'] is False
    assert results['grow_real2']['added_outbound_ips'] == 0
    assert lab.state.lb_profile == dict(lab.state.lb_profile, allocated_outbound_ports=target, managed_outbound_ip_count=2)

    verify = results['verify']
    assert verify['finding']['status'] == 'ok' and verify['failed_total'] == 0
    assert verify['max_ratio'] == round(1300.0 / target, 4) < 0.8
