# -*- coding: utf-8 -*-
# Copyright (c) 2026 aks.tunnel contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Each api-version's answer against its own spec, without a lab (the emulator's renderers and tests/lab/swagger.py).

For every api-version the emulator accepts and the project has the exact spec of (swagger.spec_versions: the shared
baseline or an extract in tests/lab/specs/), the body the emulator renders, shaped for that version
(versions.shape_for_version), fits the spec and carries no property that version does not define.
test_arm_api_versions.py checks the same over HTTPS on a lab; this one needs no root and runs in about a second.
"""

from __future__ import annotations

import types

import pytest

from ansible_collections.aks.tunnel.tests.lab import derived_specs, swagger
from ansible_collections.aks.tunnel.tests.lab.arm.providers import compute, network
from ansible_collections.aks.tunnel.tests.lab.arm.versions import API_VERSIONS, shape_for_version

# The emulator's own run command result builder (compute._result) renders the body under test.
# pylint: disable=protected-access

SUB = '/subscriptions/00000000-0000-4000-8000-000000000001/resourceGroups/MC_rg_aks_westeurope/providers'
VMSS_ID = SUB + '/Microsoft.Compute/virtualMachineScaleSets/aks-nodepool1-12345678-vmss'


def _state(nic_nsg=True):
    lb_id = SUB + '/Microsoft.Network/loadBalancers/kubernetes'
    pip = {'name': 'outbound-ip-1', 'id': SUB + '/Microsoft.Network/publicIPAddresses/outbound-ip-1', 'address': '20.0.0.1'}
    return types.SimpleNamespace(
        topology={'vnet': {'subnet_id': SUB + '/Microsoft.Network/virtualNetworks/aks-vnet/subnets/aks-subnet', 'name': 'aks-vnet',
                           'id': SUB + '/Microsoft.Network/virtualNetworks/aks-vnet', 'subnet_name': 'aks-subnet',
                           'subnet_prefix': '10.224.0.0/16', 'address_prefixes': ['10.224.0.0/12']},
                  'nic_nsg': {'id': SUB + '/Microsoft.Network/networkSecurityGroups/nic-nsg'},
                  'load_balancer': {'id': lb_id, 'name': 'kubernetes'}, 'pools': [],
                  'nodes': [{'nic_id': VMSS_ID + '/virtualMachines/0/networkInterfaces/nic'}]},
        nic_nsg_enabled=nic_nsg, location='westeurope', config={'cluster': {'outbound_type': 'loadBalancer'}},
        cluster_props={'kubernetes_version': '1.31.2'}, lb_etag='W/"1"', public_ips=lambda: [pip],
        lb_profile={'allocated_outbound_ports': 1024, 'idle_timeout_in_minutes': 30},
        vnet_etag='W/"2"', subnet_etag='W/"3"', subnet_nsg_id=None)


POOL = {'vmss_id': VMSS_ID, 'vmss_name': 'aks-nodepool1-12345678-vmss', 'name': 'nodepool1', 'vm_size': 'Standard_D2s_v3', 'count': 1}
NODE = {'vmss_name': POOL['vmss_name'], 'instance_id': '0', 'vm_id': VMSS_ID + '/virtualMachines/0', 'name': 'aks-nodepool1-12345678-vmss000000',
        'nic_id': VMSS_ID + '/virtualMachines/0/networkInterfaces/aks-nodepool1-12345678-vmss'}

NIC_NODE = dict(NODE, nic_name=POOL['vmss_name'], ip='10.224.0.4', subnet_id=SUB + '/Microsoft.Network/virtualNetworks/aks-vnet/subnets/aks-subnet',
                nic_nsg_id=SUB + '/Microsoft.Network/networkSecurityGroups/nic-nsg')


NSG_ID = SUB + '/Microsoft.Network/networkSecurityGroups/nic-nsg'
PIP = {'name': 'outbound-ip-1', 'id': SUB + '/Microsoft.Network/publicIPAddresses/outbound-ip-1', 'address': '20.0.0.1'}


def _nsg():
    """The NIC security group as the emulator stores it, with one rule built by the emulator's own validation (network.build_rule)."""
    nsg = {'name': 'nic-nsg', 'id': NSG_ID, 'etag': 'W/"4"', 'location': 'westeurope', 'tags': {}, 'rules': [],
           'resource_guid': '6a0e2c7d-1111-4b5e-9d3c-0123456789ab'}
    nsg['rules'].append(network.build_rule(nsg, 'block-kubelet', {
        'protocol': 'Tcp', 'access': 'Deny', 'direction': 'Inbound', 'priority': 200, 'sourcePortRange': '*',
        'destinationPortRange': '10250', 'sourceAddressPrefix': 'VirtualNetwork', 'destinationAddressPrefix': '*'}, []))
    return nsg


def _bodies():
    """(spec group, emulator category, operationId, body as the newest shape renders it)."""
    state = _state()
    vmss = compute.render_vmss(state, POOL)
    vm = compute.render_vm(state, POOL, NODE, 'instanceView')
    nsg = network.render_nsg(state, _nsg())
    pip = network.render_public_ip(state, PIP)
    return [
        ('network', 'network', 'NetworkSecurityGroups_Get', nsg),
        ('network', 'network', 'NetworkSecurityGroups_List', {'value': [nsg]}),
        ('network', 'network', 'NetworkSecurityGroups_ListAll', {'value': [nsg]}),
        ('network', 'network', 'SecurityRules_Get', nsg['properties']['securityRules'][0]),
        ('network', 'network', 'SecurityRules_List', {'value': nsg['properties']['securityRules']}),
        ('network', 'network', 'DefaultSecurityRules_Get', nsg['properties']['defaultSecurityRules'][0]),
        ('network', 'network', 'DefaultSecurityRules_List', {'value': nsg['properties']['defaultSecurityRules']}),
        ('network', 'network', 'PublicIPAddresses_Get', pip),
        ('network', 'network', 'PublicIPAddresses_List', {'value': [pip]}),
        ('network', 'network', 'PublicIPAddresses_ListAll', {'value': [pip]}),
        ('compute', 'compute', 'VirtualMachineScaleSets_Get', vmss),
        ('compute', 'compute', 'VirtualMachineScaleSets_List', {'value': [vmss]}),
        ('compute', 'compute', 'VirtualMachineScaleSets_ListAll', {'value': [vmss]}),
        ('compute', 'compute', 'VirtualMachineScaleSetVMs_Get', vm),
        ('compute', 'compute', 'VirtualMachineScaleSetVMs_List', {'value': [compute.render_vm(state, POOL, NODE)]}),
        ('network', 'network', 'LoadBalancers_Get', network.render_lb(state)),
        ('network', 'network', 'LoadBalancers_List', {'value': [network.render_lb(state)]}),
        ('network', 'network', 'LoadBalancerOutboundRules_List', {'value': network.render_lb(state)['properties']['outboundRules']}),
        ('network', 'network', 'VirtualNetworks_Get', network.render_vnet(state)),
        ('network', 'network', 'VirtualNetworks_List', {'value': [network.render_vnet(state)]}),
        ('network', 'network', 'VirtualNetworks_ListAll', {'value': [network.render_vnet(state)]}),
        ('network', 'network', 'Subnets_Get', network.render_subnet(state)),
        ('network', 'network', 'Subnets_List', {'value': [network.render_subnet(state)]}),
        # a scale set VM's NIC (category network-vmss; the spec files are vmssNetworkInterface.json and networkInterface.json)
        ('network', 'network-vmss', 'NetworkInterfaces_ListVirtualMachineScaleSetNetworkInterfaces', {'value': [network.render_nic(state, NIC_NODE)]}),
        ('network', 'network-vmss', 'NetworkInterfaces_ListVirtualMachineScaleSetVMNetworkInterfaces', {'value': [network.render_nic(state, NIC_NODE)]}),
        ('network', 'network-vmss', 'NetworkInterfaces_GetVirtualMachineScaleSetNetworkInterface', network.render_nic(state, NIC_NODE)),
        ('network', 'network-vmss', 'NetworkInterfaces_ListVirtualMachineScaleSetIpConfigurations',
         {'value': network.render_nic(state, NIC_NODE)['properties']['ipConfigurations']}),
        ('network', 'network-vmss', 'NetworkInterfaces_GetVirtualMachineScaleSetIpConfiguration',
         network.render_nic(state, NIC_NODE)['properties']['ipConfigurations'][0]),
        # the run command's final result (Location answer), the shape the Linux RunCommand handler reports
        ('runcommand', 'compute', 'VirtualMachineScaleSetVMs_RunCommand',
         compute._result('succeeded', 'Info', 'Provisioning succeeded', compute.format_output(b'Connection to 10.240.0.7 10250 port succeeded!\n', b''))),
    ]


# every (operation, api-version) the emulator accepts whose exact spec the project has
CASES = [(group, category, operation_id, version) for group, category, operation_id, _body in _bodies()
         for version in swagger.spec_versions(group) if version in API_VERSIONS[category]]


@pytest.fixture(scope='module')
def schemas():
    return swagger.SwaggerSchemas()


@pytest.mark.parametrize('group, category, operation_id, version', CASES, ids=['%s@%s' % (c[2], c[3]) for c in CASES])
def test_the_answer_fits_the_spec_of_its_own_version(schemas, group, category, operation_id, version):
    body = {op: b for _g, _c, op, b in _bodies()}[operation_id]
    shaped = shape_for_version(category, version, body)
    assert swagger.spec_version(group, version) == (version, True)
    schemas.validate_response(group, operation_id, 200, shaped, version)
    assert schemas.undefined_properties(schemas.response_schema(group, operation_id, 200, version), shaped) == [], (operation_id, version)


@pytest.mark.parametrize('group, operation_id, version, body_path, undefined', [
    # compute 2023-03-01 (azure-mgmt-compute 30.0.0) has no scale set VM `timeCreated`; 2024-03-01 has it
    ('compute', 'VirtualMachineScaleSetVMs_Get', '2023-03-01', (), ['/properties/timeCreated']),
    ('compute', 'VirtualMachineScaleSetVMs_Get', '2024-03-01', (), []),
    ('compute', 'VirtualMachineScaleSetVMs_List', '2023-03-01', ('value',), ['/value/0/properties/timeCreated']),
])
def test_a_property_the_version_lacks_is_found(schemas, group, operation_id, version, body_path, undefined):
    """The check above is not vacuous: the newest shape, unshaped, carries what the older spec does not define."""
    vm = compute.render_vm(_state(), POOL, NODE)
    body = {'value': [vm]} if body_path else vm
    assert schemas.undefined_properties(schemas.response_schema(group, operation_id, 200, version), body) == undefined


# compute 2026-04-01 (azure-mgmt-compute 39.0.0, tests/lab/specs/ ComputeRP.json) adds these to 2024-11-01, and defines no `madeUpField`:
# a 2026-04-01 answer is checked against its own file (before it was vendored, against 2024-11-01, which would report the first three)
NEW_IN_2026_04_01 = [('properties', 'virtualMachineResourceId'), ('properties', 'storageProfile', 'osDisk', 'storageFaultDomainAlignment'),
                     ('properties', 'hardwareProfile', 'processorMode')]


@pytest.mark.parametrize('version, undefined', [
    ('2024-11-01', ['/properties/virtualMachineResourceId', '/properties/storageProfile/osDisk/storageFaultDomainAlignment',
                    '/properties/hardwareProfile/processorMode', '/properties/madeUpField']),
    ('2026-04-01', ['/properties/madeUpField']),
])
def test_the_compute_2026_04_01_extract_defines_its_own_properties(schemas, version, undefined):
    vm = compute.render_vm(_state(), POOL, NODE)
    for path in NEW_IN_2026_04_01 + [('properties', 'madeUpField')]:
        node = vm
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = 'x'
    assert sorted(schemas.undefined_properties(schemas.response_schema('compute', 'VirtualMachineScaleSetVMs_Get', 200, version), vm)) == sorted(undefined)


@pytest.mark.parametrize('version, undefined', [('2023-04-01', ['/properties/backendAddressPools/0/properties/syncMode']), ('2024-01-01', [])])
def test_a_backend_pool_sync_mode_is_only_in_newer_network_specs(schemas, version, undefined):
    """The load balancer extract of 2023-04-01 (azure-mgmt-network 25.0.0) lacks the backend pool's syncMode that 2024-01-01 has."""
    lb = network.render_lb(_state())
    lb['properties']['backendAddressPools'][0]['properties']['syncMode'] = 'Automatic'
    assert schemas.undefined_properties(schemas.response_schema('network', 'LoadBalancers_Get', 200, version), lb) == undefined


# (spec group, operationId, api-version) answered from a vendored extract of that exact version, not the baseline nor a neighbour
# (tests/lab/specs/README.md lists the files): a registration lost from swagger.EXACT_SPECS fails here.
OWN_FILE = [('compute', op, v) for v in ('2023-03-01', '2024-07-01', '2024-11-01', '2026-04-01')
            for op in ('VirtualMachineScaleSets_Get', 'VirtualMachineScaleSets_List', 'VirtualMachineScaleSets_ListAll',
                       'VirtualMachineScaleSetVMs_Get', 'VirtualMachineScaleSetVMs_List')]
OWN_FILE += [('runcommand', 'VirtualMachineScaleSetVMs_RunCommand', v) for v in ('2023-03-01', '2024-07-01', '2024-11-01', '2026-04-01')]
OWN_FILE += [('network', op, v) for v in ('2023-04-01', '2024-03-01', '2024-07-01', '2025-07-01', '2025-09-01', '2026-03-01')
             for op in ('LoadBalancers_Get', 'LoadBalancers_List', 'LoadBalancers_ListAll', 'LoadBalancerOutboundRules_List',
                        'LoadBalancerOutboundRules_Get')]
OWN_FILE += [('network', op, v) for v in ('2024-03-01', '2024-07-01')
             for op in ('VirtualNetworks_Get', 'VirtualNetworks_List', 'VirtualNetworks_ListAll', 'Subnets_Get', 'Subnets_List',
                        'PublicIPAddresses_Get', 'PublicIPAddresses_List', 'PublicIPAddresses_ListAll')]
OWN_FILE += [('network', op, v) for v in ('2025-07-01',) for op in ('VirtualNetworks_Get', 'Subnets_List')]
OWN_FILE += [('network', op, v) for v in ('2025-09-01', '2026-03-01')
             for op in ('VirtualNetworks_Get', 'VirtualNetworks_List', 'VirtualNetworks_ListAll', 'Subnets_Get', 'Subnets_List')]
OWN_FILE += [('network', op, v) for v in ('2024-07-01', '2025-07-01')
             for op in ('NetworkSecurityGroups_Get', 'SecurityRules_List', 'SecurityRules_CreateOrUpdate', 'DefaultSecurityRules_List')]
OWN_FILE += [('network', op, v) for v in ('2018-10-01', '2023-09-01')
             for op in ('NetworkInterfaces_ListVirtualMachineScaleSetNetworkInterfaces', 'NetworkInterfaces_ListVirtualMachineScaleSetVMNetworkInterfaces',
                        'NetworkInterfaces_GetVirtualMachineScaleSetNetworkInterface', 'NetworkInterfaces_ListVirtualMachineScaleSetIpConfigurations',
                        'NetworkInterfaces_GetVirtualMachineScaleSetIpConfiguration')]


# ... or from a file derived from what Microsoft generated from that version's spec (tests/lab/derived_specs.py)
OWN_DERIVED_FILE = sorted({(entry['group'], op, entry['api_version']) for entry in derived_specs.DERIVED.values()
                           for _rel, operation_ids in entry['templates'] for op in operation_ids})


@pytest.mark.parametrize('group, operation_id, version', OWN_FILE + OWN_DERIVED_FILE,
                         ids=['%s@%s' % (c[1], c[2]) for c in OWN_FILE + OWN_DERIVED_FILE])
def test_the_operation_is_read_from_its_own_versions_file(schemas, group, operation_id, version):
    path, _template, _method, _op = schemas.operation(group, operation_id, version)
    folder = '/derived/%s/%s/' % (group, version) if (group, operation_id, version) in OWN_DERIVED_FILE else '/stable/%s/' % version
    assert path.startswith(swagger.PROJECT_SPECS) and folder in path, path


@pytest.mark.parametrize('group, operation_id, version, read_from', [
    # a version no client sends (the emulator refuses it): the nearest the project has, an extract before a derived file
    ('network', 'LoadBalancers_Get', '2023-01-01', 'stable/2023-04-01/'),
    ('network', 'NatGateways_Get', '2023-01-01', 'derived/network/2023-04-01/'),
    ('azfw', 'AzureFirewalls_Get', '2024-04-01', 'stable/2024-03-01/'),
    ('network', 'NetworkSecurityGroups_Get', None, 'stable/2024-01-01/'),  # errors and unversioned: the baseline
])
def test_an_operation_an_extract_leaves_out_comes_from_the_nearest_version_that_has_it(schemas, group, operation_id, version, read_from):
    assert read_from in schemas.operation(group, operation_id, version)[0]


@pytest.mark.parametrize('version, undefined', [
    ('2018-10-01', ['/properties/ipConfigurations/0/properties/gatewayLoadBalancer', '/properties/nicType']),
    ('2023-09-01', []),
])
def test_a_nic_field_newer_than_2018_10_01_is_found(schemas, version, undefined):
    """The scale set NIC extracts are their own: 2018-10-01 (azure-mgmt-network) lacks what az vmss nic's 2023-09-01 defines."""
    nic = network.render_nic(_state(), NIC_NODE)
    nic['properties']['nicType'] = 'Standard'
    nic['properties']['ipConfigurations'][0]['properties']['gatewayLoadBalancer'] = {'id': 'x'}
    schema = schemas.response_schema('network', 'NetworkInterfaces_GetVirtualMachineScaleSetNetworkInterface', 200, version)
    assert sorted(schemas.undefined_properties(schema, nic)) == undefined


@pytest.mark.parametrize('version, undefined', [
    ('2025-07-01', ['/properties/frontendIPConfigurations/0/properties/ddosSettings', '/properties/scope']),
    ('2025-09-01', []),
    ('2026-03-01', []),
])
def test_the_network_2026_03_01_load_balancer_extract_defines_its_own_properties(schemas, version, undefined):
    """azure-mgmt-network 33.1.0's load balancer (TypeSpec layout, Common.* names) adds `scope` and the frontend's `ddosSettings`."""
    lb = network.render_lb(_state())
    lb['properties']['scope'] = 'Public'
    lb['properties']['frontendIPConfigurations'][0]['properties']['ddosSettings'] = {}
    assert sorted(schemas.undefined_properties(schemas.response_schema('network', 'LoadBalancers_Get', 200, version), lb)) == undefined


@pytest.mark.parametrize('version, undefined', [
    ('2025-07-01', ['/properties/subnets/0/properties/serviceGateway', '/properties/summarizedGatewayPrefixes']),
    ('2025-09-01', []),
    ('2026-03-01', []),
])
def test_the_network_2026_03_01_virtual_network_extract_defines_its_own_properties(schemas, version, undefined):
    """azure-mgmt-network 33.1.0's virtual network (TypeSpec layout) adds `summarizedGatewayPrefixes` and the subnet's `serviceGateway`."""
    vnet = network.render_vnet(_state())
    vnet['properties']['summarizedGatewayPrefixes'] = {'addressPrefixes': ['10.0.0.0/8']}
    vnet['properties']['subnets'][0]['properties']['serviceGateway'] = {'id': 'x'}
    assert sorted(schemas.undefined_properties(schemas.response_schema('network', 'VirtualNetworks_Get', 200, version), vnet)) == undefined


@pytest.mark.parametrize('version, undefined', [
    ('2024-07-01', ['/properties/madeUpField', '/properties/upgradedToV2']),
    ('2025-09-01', ['/properties/madeUpField']),
    ('2026-03-01', ['/properties/madeUpField']),
])
def test_the_derived_public_ips_define_their_own_properties(schemas, version, undefined):
    """The public IP of 2025-09-01 (derived from bicep-types-az) and of 2026-03-01 (from azure-mgmt-network 33.1.0's models) adds
    `upgradedToV2`, and the check is not vacuous."""
    pip = network.render_public_ip(_state(), PIP)
    pip['properties'].update(upgradedToV2=False, madeUpField='x')
    assert sorted(schemas.undefined_properties(schemas.response_schema('network', 'PublicIPAddresses_Get', 200, version), pip)) == undefined


@pytest.mark.parametrize('version, undefined', [
    ('2023-04-01', ['/properties/ipConfigurations/0/properties/privateIPAddressPrefixLength']),
    ('2023-09-01', []),
])
def test_the_derived_2023_04_01_nic_lacks_what_2023_09_01_adds(schemas, version, undefined):
    """azure-mgmt-network 25.0.0's scale set NIC (a file derived from its models) has no IP configuration prefix length."""
    nic = network.render_nic(_state(), NIC_NODE)
    nic['properties']['ipConfigurations'][0]['properties']['privateIPAddressPrefixLength'] = 28
    schema = schemas.response_schema('network', 'NetworkInterfaces_GetVirtualMachineScaleSetNetworkInterface', 200, version)
    assert sorted(schemas.undefined_properties(schema, nic)) == undefined


def test_every_accepted_version_of_every_operation_has_a_spec_file_of_its_own(schemas):
    """What the emulator answers at an api-version it accepts is validated against a file of that very version (an extract, the
    baseline or a derived file), never a neighbour's: the nearest-version fallback only serves versions the emulator refuses."""
    from ansible_collections.aks.tunnel.tests.lab.arm import server  # pylint: disable=import-outside-toplevel
    pairs, elsewhere = set(), []
    for route in server.ROUTES:
        category, spec = route[3], route[7]
        if not spec or category not in API_VERSIONS or spec[0] in swagger.LAB_GROUPS:
            continue
        for version in API_VERSIONS[category]:
            pairs.add((spec[0], spec[1], version))
    for group, operation_id, version in sorted(pairs):
        path = schemas.operation(group, operation_id, version)[0]
        if '/%s/' % version not in path:
            elsewhere.append((group, operation_id, version, path.rsplit('specs/', 1)[-1]))
    assert len(pairs) > 400 and elsewhere == []
    assert {group for group, _op, _v in pairs} >= {'network', 'azfw', 'aks', 'compute', 'resources', 'avnm', 'pipprefix'}
