# -*- coding: utf-8 -*-
# Copyright (c) 2026 aks.tunnel contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Microsoft.ContainerService through ContainerServiceClient: cluster shape, load balancer profile updates and their validation."""

from __future__ import annotations

import pytest
from azure.core.exceptions import HttpResponseError, ResourceNotFoundError

from ansible_collections.aks.tunnel.tests.lab.arm import ArmEmulator, NullExecutor

AKS_API = '2026-08-01'


@pytest.fixture
def restore_lb_profile(arm):
    yield
    cluster = arm.aks().managed_clusters.get(arm.cluster_rg, arm.cluster_name)
    profile = cluster.network_profile.load_balancer_profile
    profile.allocated_outbound_ports = 0
    profile.managed_outbound_i_ps.count = 1
    profile.idle_timeout_in_minutes = 30
    arm.aks().managed_clusters.begin_create_or_update(arm.cluster_rg, arm.cluster_name, cluster).result()


def test_cluster_get_shape(arm):
    cluster = arm.aks().managed_clusters.get(arm.cluster_rg, arm.cluster_name)
    assert cluster.id == arm.topology['cluster']['id']
    assert cluster.type == 'Microsoft.ContainerService/managedClusters'
    assert cluster.node_resource_group == arm.node_rg
    assert cluster.fqdn == arm.topology['cluster']['fqdn']
    assert cluster.private_fqdn is None
    assert cluster.api_server_access_profile.enable_private_cluster is False
    assert cluster.api_server_access_profile.enable_vnet_integration is False
    assert [(p.name, p.count, p.mode) for p in cluster.agent_pool_profiles] == [('system', 2, 'System'), ('user', 120, 'User')]
    net = cluster.network_profile
    assert (net.network_plugin, net.outbound_type) == ('azure', 'loadBalancer')
    lbp = net.load_balancer_profile
    assert lbp.managed_outbound_i_ps.count == 1
    assert lbp.allocated_outbound_ports == 0
    assert len(lbp.effective_outbound_i_ps) == 1
    assert lbp.effective_outbound_i_ps[0].id.startswith('/subscriptions/%s/resourceGroups/%s/providers/Microsoft.Network/publicIPAddresses/'
                                                        % (arm.subscription_id, arm.node_rg))
    assert cluster.tags == {'env': 'lab'}


def test_agent_pools(arm):
    pools = list(arm.aks().agent_pools.list(arm.cluster_rg, arm.cluster_name))
    assert [p.name for p in pools] == ['system', 'user']
    assert arm.aks().agent_pools.get(arm.cluster_rg, arm.cluster_name, 'user').count == 120


def test_cluster_list_and_not_found(arm):
    assert [c.name for c in arm.aks().managed_clusters.list()] == [arm.cluster_name]
    assert [c.name for c in arm.aks().managed_clusters.list_by_resource_group(arm.cluster_rg)] == [arm.cluster_name]
    with pytest.raises(ResourceNotFoundError):
        arm.aks().managed_clusters.get(arm.cluster_rg, 'other')


def test_put_allocated_ports_updates_cluster_and_lb(arm, restore_lb_profile):
    client = arm.aks()
    cluster = client.managed_clusters.get(arm.cluster_rg, arm.cluster_name)
    cluster.network_profile.load_balancer_profile.allocated_outbound_ports = 472
    updated = client.managed_clusters.begin_create_or_update(arm.cluster_rg, arm.cluster_name, cluster).result()
    assert updated.provisioning_state == 'Succeeded'
    assert updated.network_profile.load_balancer_profile.allocated_outbound_ports == 472
    lb = arm.network().load_balancers.get(arm.node_rg, 'kubernetes')
    assert lb.outbound_rules[0].allocated_outbound_ports == 472


@pytest.mark.parametrize('ports, ips, fragment', [
    (12, 1, 'must be a multiple of 8'),
    (64008, 1, 'must be a multiple of 8'),
    (480, 1, 'Total node count 135 requires 64800 ports but only 64000 ports are available given 1 outbound public IPs'),
])
def test_put_invalid_ports_is_rejected(arm, ports, ips, fragment):
    client = arm.aks()
    cluster = client.managed_clusters.get(arm.cluster_rg, arm.cluster_name)
    cluster.network_profile.load_balancer_profile.allocated_outbound_ports = ports
    cluster.network_profile.load_balancer_profile.managed_outbound_i_ps.count = ips
    with pytest.raises(HttpResponseError) as info:
        client.managed_clusters.begin_create_or_update(arm.cluster_rg, arm.cluster_name, cluster).result()
    assert info.value.status_code == 400
    assert info.value.error.code == 'InvalidLoadBalancerProfileAllocatedOutboundPorts'
    assert fragment in info.value.error.message
    assert client.managed_clusters.get(arm.cluster_rg, arm.cluster_name).network_profile.load_balancer_profile.allocated_outbound_ports == 0


def test_more_ips_make_room_for_more_ports(arm, restore_lb_profile):
    client = arm.aks()
    cluster = client.managed_clusters.get(arm.cluster_rg, arm.cluster_name)
    cluster.network_profile.load_balancer_profile.allocated_outbound_ports = 480
    cluster.network_profile.load_balancer_profile.managed_outbound_i_ps.count = 2
    updated = client.managed_clusters.begin_create_or_update(arm.cluster_rg, arm.cluster_name, cluster).result()
    assert len(updated.network_profile.load_balancer_profile.effective_outbound_i_ps) == 2
    assert len(arm.network().load_balancers.get(arm.node_rg, 'kubernetes').frontend_ip_configurations) == 2


@pytest.mark.parametrize('field, value, code', [
    ('idleTimeoutInMinutes', 3, 'InvalidLoadBalancerProfileIdleTimeoutInMinutes'),
    ('managedOutboundIPs', {'count': 101}, 'InvalidLoadBalancerProfileManagedOutboundIPCount'),
])
def test_raw_put_other_profile_limits(arm, field, value, code):
    path = '/subscriptions/%s/resourceGroups/%s/providers/Microsoft.ContainerService/managedClusters/%s' % (
        arm.subscription_id, arm.cluster_rg, arm.cluster_name)
    body = arm.arm('GET', path, AKS_API).json()
    body['properties']['networkProfile']['loadBalancerProfile'][field] = value
    response = arm.arm('PUT', path, AKS_API, json=body)
    assert response.status_code == 400
    assert response.json()['error']['code'] == code


def test_put_lro_headers(arm):
    path = '/subscriptions/%s/resourceGroups/%s/providers/Microsoft.ContainerService/managedClusters/%s' % (
        arm.subscription_id, arm.cluster_rg, arm.cluster_name)
    body = arm.arm('GET', path, AKS_API).json()
    response = arm.arm('PUT', path, AKS_API, json=body)
    assert response.status_code == 200
    assert response.json()['properties']['provisioningState'] == 'Updating'
    status = arm.arm('GET', response.headers['Azure-AsyncOperation']).json()
    assert status['status'] == 'Succeeded' and 'startTime' in status and 'endTime' in status


def test_update_tags_patch(arm):
    client = arm.aks()
    updated = client.managed_clusters.begin_update_tags(arm.cluster_rg, arm.cluster_name, {'tags': {'env': 'lab', 'touched': 'yes'}}).result()
    assert updated.tags == {'env': 'lab', 'touched': 'yes'}
    client.managed_clusters.begin_update_tags(arm.cluster_rg, arm.cluster_name, {'tags': {'env': 'lab'}}).result()


def test_cluster_put_lro_failure(arm):
    arm.admin('POST', 'faults', {'faults': [{'type': 'lro_fail', 'on': 'write', 'count': 1}]})
    client = arm.aks()
    cluster = client.managed_clusters.get(arm.cluster_rg, arm.cluster_name)
    cluster.network_profile.load_balancer_profile.allocated_outbound_ports = 256
    with pytest.raises(HttpResponseError) as info:
        client.managed_clusters.begin_create_or_update(arm.cluster_rg, arm.cluster_name, cluster).result()
    assert 'InternalOperationError' in str(info.value)
    assert client.managed_clusters.get(arm.cluster_rg, arm.cluster_name).network_profile.load_balancer_profile.allocated_outbound_ports == 0


def test_private_cluster_in_process(tmp_path):
    config = {'cluster': {'name': 'priv', 'resource_group': 'priv-rg', 'private': True, 'enable_vnet_integration': True,
                          'outbound_type': 'userDefinedRouting'},
              'node_pools': [{'name': 'np', 'count': 1}]}
    with ArmEmulator(config, executor=NullExecutor(), state_dir=str(tmp_path)) as emu:
        from azure.identity import ClientSecretCredential  # pylint: disable=import-outside-toplevel
        from azure.mgmt.containerservice import ContainerServiceClient  # pylint: disable=import-outside-toplevel
        from azure.mgmt.network import NetworkManagementClient  # pylint: disable=import-outside-toplevel
        cred = ClientSecretCredential(emu.state.tenant_id, '22222222-2222-4222-8222-22222222e5f6', 'lab-client-secret', authority=emu.url,
                                      disable_instance_discovery=True, connection_verify=emu.ca_path)
        kwargs = dict(base_url=emu.url, credential_scopes=[emu.url + '/.default'], connection_verify=emu.ca_path)
        cluster = ContainerServiceClient(cred, emu.state.subscription_id, **kwargs).managed_clusters.get('priv-rg', 'priv')
        assert cluster.fqdn is None
        assert cluster.private_fqdn.endswith('.privatelink.westeurope.azmk8s.io')
        assert cluster.api_server_access_profile.enable_private_cluster is True
        assert cluster.api_server_access_profile.enable_vnet_integration is True
        assert cluster.network_profile.outbound_type == 'userDefinedRouting'
        assert cluster.network_profile.load_balancer_profile is None
        with pytest.raises(ResourceNotFoundError):
            NetworkManagementClient(cred, emu.state.subscription_id, **kwargs).load_balancers.get(emu.state.node_resource_group, 'kubernetes')


def test_raw_patch_of_load_balancer_profile(arm, restore_lb_profile):
    path = '/subscriptions/%s/resourceGroups/%s/providers/Microsoft.ContainerService/managedClusters/%s' % (
        arm.subscription_id, arm.cluster_rg, arm.cluster_name)
    profile_patch = {'allocatedOutboundPorts': 64, 'idleTimeoutInMinutes': 10}
    response = arm.arm('PATCH', path, AKS_API, json={'properties': {'networkProfile': {'loadBalancerProfile': profile_patch}}})
    assert response.status_code == 200
    assert 'Azure-AsyncOperation' in response.headers
    profile = arm.aks().managed_clusters.get(arm.cluster_rg, arm.cluster_name).network_profile.load_balancer_profile
    assert (profile.allocated_outbound_ports, profile.idle_timeout_in_minutes, profile.managed_outbound_i_ps.count) == (64, 10, 1)
    bad = arm.arm('PATCH', path, AKS_API, json={'properties': {'networkProfile': {'loadBalancerProfile': {'allocatedOutboundPorts': 63}}}})
    assert bad.status_code == 400
    assert bad.json()['error']['code'] == 'InvalidLoadBalancerProfileAllocatedOutboundPorts'
