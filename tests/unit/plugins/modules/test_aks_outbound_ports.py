# -*- coding: utf-8 -*-
# Copyright (c) 2026 aks.tunnel contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import pytest

from ansible_collections.aks.tunnel.plugins.modules import aks_outbound_ports
from ansible_collections.aks.tunnel.tests.unit.plugins.modules.conftest import AZURE_ARGS, azure_http_error, run_module


def cluster(ports=1024, ips=1, outbound='loadBalancer', pools=((3, '10%'), (2, '10%')), profile=None):
    lb = profile if profile is not None else {'managedOutboundIPs': {'count': ips}, 'allocatedOutboundPorts': ports, 'idleTimeoutInMinutes': 30,
                                              'effectiveOutboundIPs': [{'id': 'pip'}]}
    return {'id': '/subscriptions/sub/resourceGroups/rg/providers/Microsoft.ContainerService/managedClusters/aks', 'name': 'aks',
            'location': 'westeurope', 'eTag': 'etag-1',
            'properties': {'nodeResourceGroup': 'MC', 'kubernetesVersion': '1.33.3',
                           'agentPoolProfiles': [{'name': 'p%d' % i, 'count': c, 'upgradeSettings': {'maxSurge': s}} for i, (c, s) in enumerate(pools)],
                           'networkProfile': {'outboundType': outbound, 'loadBalancerProfile': lb}}}


def puts(fake):
    return [c for c in fake.calls if c[0] == 'put']


def test_recommended_four_steps(fake_azure, capsys):
    fake_azure.cluster = cluster()
    args = dict(AZURE_ARGS, allocated_outbound_ports='recommended')
    check = run_module(aks_outbound_ports.main, dict(args, _ansible_check_mode=True, _ansible_diff=True), capsys)
    assert check['changed'] is True and puts(fake_azure) == []
    assert check['diff']['before'] == {'allocated_outbound_ports': 1024, 'managed_outbound_ips': 1}
    assert check['diff']['after'] == {'allocated_outbound_ports': 9136, 'managed_outbound_ips': 1}
    real = run_module(aks_outbound_ports.main, args, capsys)
    assert real['changed'] is True
    assert real['current'] == {'allocated_outbound_ports': 9136, 'managed_outbound_ips': 1}
    assert real['rollback'] == {'allocated_outbound_ports': 1024, 'managed_outbound_ips': 1}
    assert real['provisioning_state'] == 'Succeeded' and real['max_nodes_supported'] == 7
    (_op, rg, name, body, kwargs), = puts(fake_azure)
    assert (rg, name) == ('rg', 'aks') and kwargs == {'headers': {'If-Match': 'etag-1'}}
    lb = body['properties']['networkProfile']['loadBalancerProfile']
    assert lb == {'managedOutboundIPs': {'count': 1}, 'allocatedOutboundPorts': 9136, 'idleTimeoutInMinutes': 30}
    assert body['properties']['kubernetesVersion'] == '1.33.3' and body['location'] == 'westeurope'   # the full model is sent back
    again = run_module(aks_outbound_ports.main, dict(args, _ansible_check_mode=True), capsys)
    assert again['changed'] is False
    assert run_module(aks_outbound_ports.main, args, capsys)['changed'] is False
    assert len(puts(fake_azure)) == 1


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
