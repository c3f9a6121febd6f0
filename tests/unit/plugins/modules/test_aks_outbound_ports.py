# -*- coding: utf-8 -*-
# Copyright (c) 2026 aks.tunnel contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import pytest

from ansible_collections.aks.tunnel.plugins.module_utils._module import AksTunnelModule
from ansible_collections.aks.tunnel.plugins.modules import aks_outbound_ports
from ansible_collections.aks.tunnel.tests.unit.plugins.modules.conftest import AZURE_ARGS, azure_http_error, run_module


def cluster(ports=1024, ips=1, outbound='loadBalancer', pools=((3, '10%'), (2, '10%')), profile=None):
    lb = profile if profile is not None else {'managedOutboundIPs': {'count': ips}, 'allocatedOutboundPorts': ports, 'idleTimeoutInMinutes': 30,
                                              'effectiveOutboundIPs': [{'id': 'pip'}]}
    return {'id': '/subscriptions/sub/resourceGroups/rg/providers/Microsoft.ContainerService/managedClusters/aks', 'name': 'aks',
            'location': 'westeurope', 'eTag': 'etag-1',
            'properties': {'nodeResourceGroup': 'MC', 'kubernetesVersion': '1.33.3',
                           'agentPoolProfiles': [_pool(i, *spec) for i, spec in enumerate(pools)],
                           'networkProfile': {'outboundType': outbound, 'loadBalancerProfile': lb}}}


def _pool(index, count, surge, max_count=None):
    pool = {'name': 'p%d' % index, 'count': count, 'upgradeSettings': {'maxSurge': surge}}
    if max_count:
        pool.update(enableAutoScaling=True, maxCount=max_count)
    return pool


def puts(fake):
    return [c for c in fake.calls if c[0] == 'put']


@pytest.fixture
def warnings(monkeypatch):
    """Warnings of the module runs (Ansible's own list is process-wide in unit tests)."""
    seen = []
    monkeypatch.setattr(AksTunnelModule, 'warn', lambda self, msg: seen.append(msg))
    return seen


def test_recommended_four_steps(fake_azure, capsys, warnings):
    fake_azure.cluster = cluster()
    args = dict(AZURE_ARGS, allocated_outbound_ports='recommended', peak_ports=1300)
    check = run_module(aks_outbound_ports.main, dict(args, _ansible_check_mode=True, _ansible_diff=True), capsys)
    assert check['changed'] is True and puts(fake_azure) == []
    assert check['diff']['before'] == {'allocated_outbound_ports': 1024, 'managed_outbound_ips': 1}
    # The smallest value that keeps the peak at <= 72%, not the largest that fits today's 7 nodes (9136): room for 35 nodes.
    assert check['diff']['after'] == {'allocated_outbound_ports': 1808, 'managed_outbound_ips': 1}
    assert check['added_outbound_ips'] == 0
    real = run_module(aks_outbound_ports.main, args, capsys)
    assert real['changed'] is True
    assert real['current'] == {'allocated_outbound_ports': 1808, 'managed_outbound_ips': 1}
    assert real['rollback'] == {'allocated_outbound_ports': 1024, 'managed_outbound_ips': 1}
    assert real['provisioning_state'] == 'Succeeded' and real['max_nodes_supported'] == 35
    (_op, rg, name, body, kwargs), = puts(fake_azure)
    assert (rg, name) == ('rg', 'aks') and kwargs == {'headers': {'If-Match': 'etag-1'}}
    lb = body['properties']['networkProfile']['loadBalancerProfile']
    assert lb == {'managedOutboundIPs': {'count': 1}, 'allocatedOutboundPorts': 1808, 'idleTimeoutInMinutes': 30}
    assert body['properties']['kubernetesVersion'] == '1.33.3' and body['location'] == 'westeurope'   # the full model is sent back
    again = run_module(aks_outbound_ports.main, dict(args, _ansible_check_mode=True), capsys)
    assert again['changed'] is False
    assert run_module(aks_outbound_ports.main, args, capsys)['changed'] is False
    assert len(puts(fake_azure)) == 1 and warnings == []


@pytest.mark.parametrize('args, fragment', [
    ({}, 'give allocated_outbound_ports and/or managed_outbound_ips'),
    ({'allocated_outbound_ports': 1001}, 'allocated_outbound_ports must be a multiple of 8, got 1001 (use 1000 or 1008)'),
    ({'allocated_outbound_ports': 64008}, 'allocated_outbound_ports must be in 0..64000, got 64008'),
    ({'allocated_outbound_ports': 'lots'}, 'must be a whole number or "recommended"'),
    ({'managed_outbound_ips': 101}, 'managed_outbound_ips must be in 1..100, got 101'),
    ({'allocated_outbound_ports': 16000}, 'refusing to set allocated_outbound_ports=16000 with 1 outbound IP(s): 1 IP(s) x 64000 / 16000 ports per node '
                                          '= 4 nodes, fewer than max_nodes 5 + surge 2 = 7'),
    ({'allocated_outbound_ports': 16000, 'max_surge': '0'}, 'fewer than max_nodes 5 + surge 0 = 5'),
    ({'allocated_outbound_ports': 2048, 'max_nodes': 60}, 'fewer than max_nodes 60 + surge 2 = 62'),
    ({'min_ports': 70000}, 'min_ports must be in 0..64000, got 70000'),
    ({'allocated_outbound_ports': 'recommended'}, 'allocated_outbound_ports=recommended needs peak_ports'),
    ({'allocated_outbound_ports': 'recommended', 'peak_ports': -1}, 'peak_ports must be >= 0, got -1'),
    ({'allocated_outbound_ports': 'recommended', 'peak_ports': 1300, 'usage_threshold': 1.5}, 'usage_threshold must be in (0, 1]'),
    ({'allocated_outbound_ports': 1024, 'max_surge': 'x%'}, 'max_surge percentage must be a whole number'),
])
def test_invalid_values_are_refused_before_sending(fake_azure, capsys, args, fragment):
    fake_azure.cluster = cluster()
    result = run_module(aks_outbound_ports.main, dict(AZURE_ARGS, **args), capsys)
    assert result['failed'] is True and fragment in result['msg']
    assert puts(fake_azure) == []


def test_more_ips_and_automatic_allocation(fake_azure, capsys):
    fake_azure.cluster = cluster(ports=0)
    result = run_module(aks_outbound_ports.main, dict(AZURE_ARGS, managed_outbound_ips='3', allocated_outbound_ports='0'), capsys)
    assert result['changed'] is True and result['current'] == {'allocated_outbound_ports': 0, 'managed_outbound_ips': 3}
    assert result['max_nodes_supported'] is None


def test_other_outbound_types_are_refused(fake_azure, capsys):
    fake_azure.cluster = cluster(outbound='userAssignedNATGateway', profile={})
    result = run_module(aks_outbound_ports.main, dict(AZURE_ARGS, allocated_outbound_ports=2048), capsys)
    assert result['failed'] is True and 'outboundType userAssignedNATGateway' in result['msg']


def test_read_only_identity_gets_a_clear_403(fake_azure, capsys):
    fake_azure.cluster = cluster()
    fake_azure.errors['put'] = [azure_http_error(
        403, 'AuthorizationFailed', "The client 'x' does not have authorization to perform action 'Microsoft.ContainerService/managedClusters/write' "
        "over scope '/subscriptions/sub/resourceGroups/rg/providers/Microsoft.ContainerService/managedClusters/aks' or the scope is invalid.")]
    result = run_module(aks_outbound_ports.main, dict(AZURE_ARGS, allocated_outbound_ports=2048), capsys)
    assert result['failed'] is True and result['changed'] is False and result['status'] == 403
    assert result['msg'].startswith('Failed to update the load balancer profile of rg/aks (HTTP 403): AuthorizationFailed')
    assert 'The identity lacks the permission Microsoft.ContainerService/managedClusters/write' in result['msg']
    assert result['rollback'] == {'allocated_outbound_ports': 1024, 'managed_outbound_ips': 1}


def test_etag_mismatch_is_reported_as_a_concurrent_change(fake_azure, capsys):
    from azure.core.exceptions import ResourceModifiedError
    fake_azure.cluster = cluster()
    fake_azure.errors['put'] = [ResourceModifiedError(message='(PreconditionFailed) etag mismatch')]
    result = run_module(aks_outbound_ports.main, dict(AZURE_ARGS, allocated_outbound_ports=2048), capsys)
    assert result['failed'] is True and result['changed'] is False
    assert 'was changed by someone else since it was read (eTag mismatch); nothing was changed' in result['msg']


def test_unfinished_operation_is_reported(fake_azure, capsys):
    fake_azure.cluster = cluster()
    fake_azure.lro_done = False
    result = run_module(aks_outbound_ports.main, dict(AZURE_ARGS, allocated_outbound_ports=2048, wait_timeout=1), capsys)
    assert result['failed'] is True and result['changed'] is True
    assert 'is still running after 1 seconds' in result['msg']


def test_custom_outbound_ips_keep_their_profile(fake_azure, capsys):
    profile = {'outboundIPs': {'publicIPs': [{'id': 'a'}, {'id': 'b'}]}, 'allocatedOutboundPorts': 0, 'effectiveOutboundIPs': [{'id': 'a'}, {'id': 'b'}]}
    fake_azure.cluster = cluster(profile=profile)
    result = run_module(aks_outbound_ports.main, dict(AZURE_ARGS, allocated_outbound_ports=8000), capsys)
    assert result['changed'] is True
    lb = puts(fake_azure)[0][3]['properties']['networkProfile']['loadBalancerProfile']
    assert lb == {'outboundIPs': {'publicIPs': [{'id': 'a'}, {'id': 'b'}]}, 'allocatedOutboundPorts': 8000}


# Issue 13 item 5: a 3-node pool under an autoscaler max of 40 plus a 2-node pool (47 nodes with surge), a peak of 1300 ports.
AUTOSCALER = ((3, '10%', 40), (2, '10%'))


def test_recommended_refuses_when_the_peak_needs_more_outbound_ips(fake_azure, capsys):
    fake_azure.cluster = cluster(pools=AUTOSCALER)
    args = dict(AZURE_ARGS, allocated_outbound_ports='recommended', peak_ports=1300)
    for check_mode in (True, False):
        result = run_module(aks_outbound_ports.main, dict(args, _ansible_check_mode=check_mode), capsys)
        # Before: 1360 ports (the largest that fits), and the diagnosis run again still said PROBLEM at 95.6%.
        assert result['failed'] is True and result['changed'] is False
        assert result['msg'].startswith('nothing changed: 1808 ports per node keep the peak of 1300 at 71.9% used')
        assert 'that needs 2 outbound IP(s) for 47 nodes' in result['msg'] and result['ips_needed'] == 2
        assert result['desired'] == result['previous'] == {'allocated_outbound_ports': 1024, 'managed_outbound_ips': 1}
        assert result['added_outbound_ips'] == 0
    assert puts(fake_azure) == []


def test_outbound_ips_are_added_only_when_asked_and_with_a_warning(fake_azure, capsys, warnings):
    fake_azure.cluster = cluster(pools=AUTOSCALER)
    args = dict(AZURE_ARGS, allocated_outbound_ports='recommended', managed_outbound_ips='recommended', peak_ports=1300)
    check = run_module(aks_outbound_ports.main, dict(args, _ansible_check_mode=True, _ansible_diff=True), capsys)
    assert check['changed'] is True and puts(fake_azure) == []
    assert check['diff']['after'] == {'allocated_outbound_ports': 1808, 'managed_outbound_ips': 2} and check['added_outbound_ips'] == 1
    assert warnings == ['this would add 1 managed outbound public IP(s) (1 -> 2): each is a new egress address of the cluster, '
                        'so destinations that allow-list its outbound IPs must add it, and each costs money']
    real = run_module(aks_outbound_ports.main, args, capsys)
    assert real['changed'] is True and real['current'] == {'allocated_outbound_ports': 1808, 'managed_outbound_ips': 2}
    assert len(warnings) == 2 and warnings[1].startswith('this adds 1 managed outbound public IP(s) (1 -> 2)')
    assert real['rollback'] == {'allocated_outbound_ports': 1024, 'managed_outbound_ips': 1}
    for check_mode in (True, False):
        again = run_module(aks_outbound_ports.main, dict(args, _ansible_check_mode=check_mode), capsys)
        assert again['changed'] is False and again['added_outbound_ips'] == 0
    assert len(puts(fake_azure)) == 1 and len(warnings) == 2


def test_largest_fit_raises_what_today_s_ips_allow(fake_azure, capsys):
    fake_azure.cluster = cluster(pools=AUTOSCALER)
    result = run_module(aks_outbound_ports.main, dict(AZURE_ARGS, allocated_outbound_ports='recommended', peak_ports=1300,
                                                      if_no_fit='largest_fit'), capsys)
    assert result['changed'] is True and result['current'] == {'allocated_outbound_ports': 1360, 'managed_outbound_ips': 1}
    assert 'the peak would use 95.6%, still at or above the threshold' in result['recommendation']['reason']
