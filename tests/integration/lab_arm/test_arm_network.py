# -*- coding: utf-8 -*-
# Copyright (c) 2026 aks.tunnel contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Microsoft.Network through NetworkManagementClient: NSGs, rules (validation, LRO, etags), VNet/subnet, VMSS NICs, LB."""

from __future__ import annotations

import time

import pytest
from azure.core.exceptions import HttpResponseError, ResourceNotFoundError
from azure.mgmt.network.models import NetworkSecurityGroup, SecurityRule, Subnet

from ansible_collections.aks.tunnel.tests.lab.arm import ArmEmulator, NullExecutor

NET_API = '2026-03-01'


def _rule(priority=200, direction='Inbound', **overrides):
    fields = dict(protocol='Tcp', access='Allow', priority=priority, direction=direction, source_address_prefix='VirtualNetwork',
                  source_port_range='*', destination_address_prefix='*', destination_port_range='10250')
    fields.update(overrides)
    return SecurityRule(**fields)


def _nsg_path(arm, suffix=''):
    return '/subscriptions/%s/resourceGroups/%s/providers/Microsoft.Network/networkSecurityGroups/%s%s' % (
        arm.subscription_id, arm.node_rg, arm.nsg_name, suffix)


def test_nsg_get_has_default_rules_and_nic_refs(arm):
    nsg = arm.network().network_security_groups.get(arm.node_rg, arm.nsg_name)
    assert nsg.id == arm.nsg_id
    assert nsg.etag.startswith('W/"')
    defaults = {(r.name, r.priority, r.direction, r.access, r.source_address_prefix, r.destination_address_prefix) for r in nsg.default_security_rules}
    assert defaults == {
        ('AllowVnetInBound', 65000, 'Inbound', 'Allow', 'VirtualNetwork', 'VirtualNetwork'),
        ('AllowAzureLoadBalancerInBound', 65001, 'Inbound', 'Allow', 'AzureLoadBalancer', '*'),
        ('DenyAllInBound', 65500, 'Inbound', 'Deny', '*', '*'),
        ('AllowVnetOutBound', 65000, 'Outbound', 'Allow', 'VirtualNetwork', 'VirtualNetwork'),
        ('AllowInternetOutBound', 65001, 'Outbound', 'Allow', '*', 'Internet'),
        ('DenyAllOutBound', 65500, 'Outbound', 'Deny', '*', '*'),
    }
    first = nsg.default_security_rules[0]
    assert first.source_port_ranges == [] and first.destination_address_prefixes == []
    assert first.description == 'Allow inbound traffic from all VMs in VNET'
    assert len(nsg.network_interfaces) == len(arm.topology['nodes'])


def test_nsg_lists(arm):
    client = arm.network()
    assert [n.name for n in client.network_security_groups.list(arm.node_rg)] == [arm.nsg_name]
    assert sorted(n.name for n in client.network_security_groups.list_all()) == sorted([arm.nsg_name, 'customer-nsg'])
    assert [r.name for r in client.default_security_rules.list(arm.node_rg, arm.nsg_name)][0] == 'AllowVnetInBound'
    assert client.default_security_rules.get(arm.node_rg, arm.nsg_name, 'DenyAllInBound').priority == 65500


def test_rule_create_update_delete_with_etags(arm):
    client = arm.network()
    nsg_etag = client.network_security_groups.get(arm.node_rg, arm.nsg_name).etag
    created = client.security_rules.begin_create_or_update(arm.node_rg, arm.nsg_name, 'allow-kubelet', _rule(210)).result()
    assert created.id == _nsg_path(arm, '/securityRules/allow-kubelet')
    assert created.provisioning_state == 'Succeeded'
    assert client.network_security_groups.get(arm.node_rg, arm.nsg_name).etag != nsg_etag
    updated = client.security_rules.begin_create_or_update(arm.node_rg, arm.nsg_name, 'allow-kubelet',
                                                           _rule(211, destination_port_range=None, destination_port_ranges=['10250', '10255-10256'])).result()
    assert updated.etag != created.etag
    assert updated.destination_port_ranges == ['10250', '10255-10256']
    assert updated.destination_port_range is None
    assert client.security_rules.get(arm.node_rg, arm.nsg_name, 'ALLOW-KUBELET').priority == 211
    assert 'allow-kubelet' in [r.name for r in client.security_rules.list(arm.node_rg, arm.nsg_name)]
    client.security_rules.begin_delete(arm.node_rg, arm.nsg_name, 'allow-kubelet').result()
    with pytest.raises(ResourceNotFoundError):
        client.security_rules.get(arm.node_rg, arm.nsg_name, 'allow-kubelet')
    # deleting an absent rule is idempotent (204)
    client.security_rules.begin_delete(arm.node_rg, arm.nsg_name, 'allow-kubelet').result()


def test_rule_put_raw_lro_headers_and_status(arm):
    body = {'properties': {'protocol': 'Tcp', 'access': 'Allow', 'priority': 220, 'direction': 'Inbound', 'sourceAddressPrefix': '*',
                           'sourcePortRange': '*', 'destinationAddressPrefix': '*', 'destinationPortRange': '443'}}
    response = arm.arm('PUT', _nsg_path(arm, '/securityRules/raw-rule'), NET_API, json=body)
    assert response.status_code == 201
    assert response.json()['properties']['provisioningState'] == 'Updating'
    status_url = response.headers['Azure-AsyncOperation']
    assert status_url.startswith(arm.url + '/subscriptions/%s/providers/Microsoft.Network/locations/westeurope/operations/' % arm.subscription_id)
    assert arm.arm('GET', status_url).json() == {'status': 'Succeeded'}
    again = arm.arm('PUT', _nsg_path(arm, '/securityRules/raw-rule'), NET_API, json=body)
    assert again.status_code == 200
    deleted = arm.arm('DELETE', _nsg_path(arm, '/securityRules/raw-rule'), NET_API)
    assert deleted.status_code == 202
    assert arm.arm('GET', deleted.headers['Location']).status_code == 204
    assert arm.arm('DELETE', _nsg_path(arm, '/securityRules/raw-rule'), NET_API).status_code == 204


def test_if_match_mismatch_is_412(arm):
    client = arm.network()
    client.security_rules.begin_create_or_update(arm.node_rg, arm.nsg_name, 'etag-rule', _rule(230)).result()
    response = arm.arm('PUT', _nsg_path(arm, '/securityRules/etag-rule'), NET_API, headers={'If-Match': 'W/"stale"'},
                       json={'properties': {'protocol': 'Tcp', 'access': 'Allow', 'priority': 230, 'direction': 'Inbound', 'sourceAddressPrefix': '*',
                                            'sourcePortRange': '*', 'destinationAddressPrefix': '*', 'destinationPortRange': '22'}})
    assert response.status_code == 412
    client.security_rules.begin_delete(arm.node_rg, arm.nsg_name, 'etag-rule').result()


@pytest.mark.parametrize('name, overrides, code, message', [
    ('bad-ports-comma', {'destination_port_range': '636, 389'}, 'SecurityRuleInvalidPortRange',
     "Security rule has invalid Port range. Value provided: 636, 389. Value should be an integer OR integer range with '-' delimiter. "
     "Valid range 0-65535."),
    ('bad-ports-high', {'destination_port_range': '70000'}, 'SecurityRuleInvalidPortRange', None),
    ('bad-ports-reversed', {'destination_port_range': '20-10'}, 'SecurityRuleInvalidPortRange', None),
    ('bad-ports-both', {'destination_port_ranges': ['22']}, 'SecurityRuleInvalidPortRange', None),
    ('bad-prefix-any', {'source_address_prefix': 'any'}, 'SecurityRuleInvalidAddressPrefix',
     'Security rule has invalid Address prefix. Value provided: any'),
    ('bad-prefix-cidr', {'source_address_prefix': '10.0.0.0/33'}, 'SecurityRuleInvalidAddressPrefix', None),
    ('bad-plural-tag', {'source_address_prefix': None, 'source_address_prefixes': ['10.0.0.0/8', 'VirtualNetwork']},
     'SecurityRuleParameterContainsUnsupportedValue', None),
    ('bad-plural-star', {'source_address_prefix': None, 'source_address_prefixes': ['*']}, 'SecurityRuleParameterContainsUnsupportedValue', None),
    ('bad-priority-low', {'priority': 99}, 'SecurityRuleInvalidPriority', 'Security rule has invalid Priority. Value provided: 99 Allowed range 100-4096.'),
    ('bad-priority-high', {'priority': 4097}, 'SecurityRuleInvalidPriority', None),
    ('bad-protocol', {'protocol': 'Tcpx'}, 'InvalidRequestFormat', 'Cannot parse the request.'),
    ('missing-direction', {'direction': None}, 'InvalidRequestFormat', 'Cannot parse the request.'),
    ('bad.name.', {}, 'InvalidResourceName', None),
])
def test_rule_validation_errors(arm, name, overrides, code, message):
    with pytest.raises(HttpResponseError) as info:
        arm.network().security_rules.begin_create_or_update(arm.node_rg, arm.nsg_name, name, _rule(**dict({"priority": 240}, **overrides))).result()
    assert info.value.status_code == 400
    assert info.value.error.code == code
    if message:
        assert info.value.error.message == message
    assert name not in [r.name for r in arm.network().security_rules.list(arm.node_rg, arm.nsg_name)]


def test_rule_conflict_same_priority_and_direction(arm):
    client = arm.network()
    client.security_rules.begin_create_or_update(arm.node_rg, arm.nsg_name, 'first-250', _rule(250)).result()
    try:
        with pytest.raises(HttpResponseError) as info:
            client.security_rules.begin_create_or_update(arm.node_rg, arm.nsg_name, 'second-250', _rule(250)).result()
        assert info.value.error.code == 'SecurityRuleConflict'
        assert info.value.error.message == ('Security rule second-250 conflicts with rule first-250. Rules cannot have the same Priority and '
                                            'Direction. To learn more, see aka.ms/nsgrules.')
        # same priority, other direction is fine
        client.security_rules.begin_create_or_update(arm.node_rg, arm.nsg_name, 'out-250', _rule(250, direction='Outbound')).result()
    finally:
        client.security_rules.begin_delete(arm.node_rg, arm.nsg_name, 'first-250').result()
        client.security_rules.begin_delete(arm.node_rg, arm.nsg_name, 'out-250').result()


def test_nsg_put_replaces_rules_and_validates(arm):
    client = arm.network()
    nsg = client.network_security_groups.get(arm.cluster_rg, 'customer-nsg')
    assert [r.name for r in nsg.security_rules] == ['deny-kubelet']
    bad = NetworkSecurityGroup(location='westeurope', security_rules=[SecurityRule(name='a', **_rule(300).as_dict()),
                                                                      SecurityRule(name='b', **_rule(300).as_dict())])
    with pytest.raises(HttpResponseError) as info:
        client.network_security_groups.begin_create_or_update(arm.cluster_rg, 'customer-nsg', bad).result()
    assert info.value.error.code == 'SecurityRuleConflict'
    assert [r.name for r in client.security_rules.list(arm.cluster_rg, 'customer-nsg')] == ['deny-kubelet']


def test_case_insensitive_routing_echoes_canonical_ids(arm):
    path = _nsg_path(arm).lower().replace('microsoft.network', 'MICROSOFT.NETWORK')
    response = arm.arm('GET', path, NET_API)
    assert response.status_code == 200
    assert response.json()['id'] == arm.nsg_id


@pytest.mark.parametrize('version, status, code', [
    ('2099-01-01', 400, 'NoRegisteredProviderFound'),
    ('yesterday', 400, 'InvalidApiVersionParameter'),
    (None, 400, 'MissingApiVersionParameter'),
    ('2018-10-01', 400, 'NoRegisteredProviderFound'),
])
def test_api_version_checks(arm, version, status, code):
    response = arm.arm('GET', _nsg_path(arm), version)
    assert response.status_code == status
    assert response.json()['error']['code'] == code


def test_unknown_nsg_and_subscription(arm):
    with pytest.raises(ResourceNotFoundError) as info:
        arm.network().network_security_groups.get(arm.node_rg, 'nope')
    assert info.value.error.code == 'ResourceNotFound'
    response = arm.arm('GET', '/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/x/providers/Microsoft.Network/'
                              'networkSecurityGroups/y', NET_API)
    assert response.status_code == 404
    assert response.json()['error']['code'] == 'SubscriptionNotFound'


def test_vnet_and_subnet_with_customer_nsg(arm):
    client = arm.network()
    vnet = arm.topology['vnet']
    got = client.virtual_networks.get(arm.node_rg, vnet['name'])
    assert got.address_space.address_prefixes == vnet['address_prefixes']
    subnet = client.subnets.get(arm.node_rg, vnet['name'], vnet['subnet_name'])
    assert subnet.id == vnet['subnet_id']
    assert subnet.address_prefix == vnet['subnet_prefix']
    assert subnet.network_security_group.id.endswith('/networkSecurityGroups/customer-nsg')
    assert [s.name for s in client.subnets.list(arm.node_rg, vnet['name'])] == [vnet['subnet_name']]
    assert [v.name for v in client.virtual_networks.list(arm.node_rg)] == [vnet['name']]


def test_subnet_nsg_association_change_and_back(arm):
    client = arm.network()
    vnet = arm.topology['vnet']
    original = client.subnets.get(arm.node_rg, vnet['name'], vnet['subnet_name'])
    detached = client.subnets.begin_create_or_update(arm.node_rg, vnet['name'], vnet['subnet_name'],
                                                     Subnet(address_prefix=vnet['subnet_prefix'])).result()
    assert detached.network_security_group is None
    assert client.network_security_groups.get(arm.cluster_rg, 'customer-nsg').subnets is None
    restored = client.subnets.begin_create_or_update(arm.node_rg, vnet['name'], vnet['subnet_name'], original).result()
    assert restored.network_security_group.id == original.network_security_group.id
    assert client.network_security_groups.get(arm.cluster_rg, 'customer-nsg').subnets[0].id == vnet['subnet_id']


def test_vmss_network_interfaces_have_node_ips(arm):
    client = arm.network()
    vmss = arm.vmss['system']
    nics = list(client.network_interfaces.list_virtual_machine_scale_set_network_interfaces(arm.node_rg, vmss))
    expected = {n['nic_id']: n['ip'] for n in arm.topology['nodes'] if n['pool'] == 'system'}
    assert {n.id: n.ip_configurations[0].private_ip_address for n in nics} == expected
    node = arm.node('system-1')
    per_vm = list(client.network_interfaces.list_virtual_machine_scale_set_vm_network_interfaces(arm.node_rg, vmss, '1'))
    assert [n.ip_configurations[0].private_ip_address for n in per_vm] == [node['ip']]
    nic = client.network_interfaces.get_virtual_machine_scale_set_network_interface(arm.node_rg, vmss, '1', node['nic_name'])
    assert nic.virtual_machine.id == node['vm_id']
    assert nic.network_security_group.id == arm.nsg_id
    assert nic.ip_configurations[0].subnet.id == arm.topology['vnet']['subnet_id']
    ipconf = client.network_interfaces.get_virtual_machine_scale_set_ip_configuration(arm.node_rg, vmss, '1', node['nic_name'], 'ipconfig1')
    assert ipconf.private_ip_address == node['ip']


def test_load_balancer_outbound_rule_and_public_ip(arm):
    client = arm.network()
    lb = client.load_balancers.get(arm.node_rg, 'kubernetes')
    assert lb.id == arm.lb_id
    assert [r.name for r in lb.outbound_rules] == ['aksOutboundRule']
    rule = lb.outbound_rules[0]
    assert rule.allocated_outbound_ports == 0
    assert rule.backend_address_pool.id == arm.lb_id + '/backendAddressPools/kubernetes'
    assert len(lb.backend_address_pools[0].backend_ip_configurations) == len(arm.topology['nodes'])
    pip_id = lb.frontend_ip_configurations[0].public_ip_address.id
    pip = client.public_ip_addresses.get(arm.node_rg, pip_id.rsplit('/', 1)[1])
    assert pip.ip_address == '198.51.100.10'
    assert [x.name for x in client.load_balancer_outbound_rules.list(arm.node_rg, 'kubernetes')] == ['aksOutboundRule']


def test_lro_in_progress_then_succeeded_fast(arm):
    arm.admin('POST', 'settings', {'lro_in_progress_polls': 2, 'lro_retry_after_ms': 100})
    client = arm.network()
    started = time.monotonic()
    client.security_rules.begin_create_or_update(arm.node_rg, arm.nsg_name, 'slow-rule', _rule(260)).result()
    assert time.monotonic() - started < 5
    client.security_rules.begin_delete(arm.node_rg, arm.nsg_name, 'slow-rule').result()


def test_lro_failure_surfaces_and_does_not_apply(arm):
    arm.admin('POST', 'faults', {'faults': [{'type': 'lro_fail', 'on': 'write', 'count': 1, 'code': 'InternalServerError',
                                             'message': 'lab says no'}]})
    with pytest.raises(HttpResponseError) as info:
        arm.network().security_rules.begin_create_or_update(arm.node_rg, arm.nsg_name, 'failing-rule', _rule(270)).result()
    assert 'lab says no' in str(info.value)
    assert 'failing-rule' not in [r.name for r in arm.network().security_rules.list(arm.node_rg, arm.nsg_name)]


def test_throttled_read_is_retried_after_retry_after(arm):
    arm.admin('POST', 'faults', {'faults': [{'type': 'throttle', 'on': 'read', 'count': 1, 'retry_after': 1}]})
    since = arm.journal_seq()
    started = time.monotonic()
    nsg = arm.network().network_security_groups.get(arm.node_rg, arm.nsg_name)
    assert nsg.name == arm.nsg_name
    assert time.monotonic() - started >= 0.9
    statuses = [e['status'] for e in arm.journal(since) if e['route'] == 'nsg_get']
    assert statuses == [429, 200]


def test_throttle_exhausts_sdk_retries(arm):
    arm.admin('POST', 'faults', {'faults': [{'type': 'throttle', 'on': 'read', 'count': 3, 'retry_after': 0}]})
    with pytest.raises(HttpResponseError) as info:
        arm.network(retry_total=1).network_security_groups.get(arm.node_rg, arm.nsg_name)
    assert info.value.status_code == 429
    assert info.value.error.code == 'SubscriptionRequestsThrottled'
    assert info.value.response.headers['Retry-After'] == '0'
    assert info.value.response.headers['x-ms-ratelimit-remaining-subscription-reads'] == '0'


def test_server_error_on_write_is_retried(arm):
    arm.admin('POST', 'faults', {'faults': [{'type': 'server_error', 'on': 'write', 'count': 1, 'status': 503}]})
    client = arm.network(retry_backoff_factor=0.01)
    client.security_rules.begin_create_or_update(arm.node_rg, arm.nsg_name, 'after-503', _rule(280)).result()
    client.security_rules.begin_delete(arm.node_rg, arm.nsg_name, 'after-503').result()


def test_ratelimit_headers_on_every_response(arm):
    response = arm.arm('GET', _nsg_path(arm), NET_API)
    assert int(response.headers['x-ms-ratelimit-remaining-subscription-reads']) > 0
    assert response.headers['x-ms-request-id']


def test_on_nsg_change_hook_in_process(tmp_path):
    config = {'cluster': {'name': 'hook', 'resource_group': 'hook-rg'}, 'node_pools': [{'name': 'np', 'count': 1}]}
    events = []
    with ArmEmulator(config, executor=NullExecutor(), state_dir=str(tmp_path)) as emu:
        emu.on_nsg_change(lambda state, event: events.append((event['change'], event['nsg_id'], len(state.find_nsg_by_ref(event['nsg_id'])['rules']))))
        from azure.identity import ClientSecretCredential  # pylint: disable=import-outside-toplevel
        from azure.mgmt.network import NetworkManagementClient  # pylint: disable=import-outside-toplevel
        cred = ClientSecretCredential(emu.state.tenant_id, '22222222-2222-4222-8222-22222222e5f6', 'lab-client-secret', authority=emu.url,
                                      disable_instance_discovery=True, connection_verify=emu.ca_path)
        client = NetworkManagementClient(cred, emu.state.subscription_id, base_url=emu.url, credential_scopes=[emu.url + '/.default'],
                                         connection_verify=emu.ca_path)
        nsg = emu.state.topology['nic_nsg']
        client.security_rules.begin_create_or_update(emu.state.node_resource_group, nsg['name'], 'r1', _rule(300)).result()
        client.security_rules.begin_delete(emu.state.node_resource_group, nsg['name'], 'r1').result()
    assert events == [('rule_put', nsg['id'], 1), ('rule_delete', nsg['id'], 0)]


@pytest.mark.parametrize('quote', ['%s', '"%s"'])
def test_if_match_accepts_quoted_and_bare_etags(quote):
    from ansible_collections.aks.tunnel.tests.lab.arm.common import etag_matches
    etag = 'W/"7d2c1c7e-0000-4000-8000-000000000001"'
    inner = '7d2c1c7e-0000-4000-8000-000000000001'
    assert etag_matches(quote % etag if quote == '%s' else etag, etag)
    assert etag_matches(quote % inner, etag)
    assert etag_matches('*', etag)
    assert not etag_matches(quote % 'other', etag)
