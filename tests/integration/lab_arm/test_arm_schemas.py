# -*- coding: utf-8 -*-
# Copyright (c) 2026 aks.tunnel contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Every response body the emulator sends (successes and errors) validates against the Azure swagger specs."""

from __future__ import annotations

import time

import pytest

from ansible_collections.aks.tunnel.tests.lab import swagger
from ansible_collections.aks.tunnel.tests.lab.arm.server import ROUTES

NET, VMSS_NET, CMP, AKS, MON, RES = '2026-03-01', '2018-10-01', '2026-04-01', '2026-08-01', '2024-02-01', '2022-12-01'
# A private cluster's API server private endpoint, its NIC and the zone's links answer only on a private cluster (this lab is
# public: they answer 404 here, validated below); test_arm_private_endpoint.py drives and validates their successes.
PRIVATE_CLUSTER_OPS = {('network', 'PrivateEndpoints_Get'), ('network', 'NetworkInterfaces_Get'), ('privatedns', 'VirtualNetworkLinks_List')}
SPEC_OPS = sorted({tuple(r[7]) for r in ROUTES if r[7] and r[7][0] != 'lro'} - PRIVATE_CLUSTER_OPS)


def _drive_everything(arm):
    """Call every route once successfully and at least once with an error; return the journal of those calls."""
    sub, node_rg, rg = arm.subscription_id, arm.node_rg, arm.cluster_rg
    net = '/subscriptions/%s/resourceGroups/%s/providers/Microsoft.Network' % (sub, node_rg)
    nsg = net + '/networkSecurityGroups/' + arm.nsg_name
    vnet = net + '/virtualNetworks/' + arm.topology['vnet']['name']
    subnet = vnet + '/subnets/' + arm.topology['vnet']['subnet_name']
    vmss = '/subscriptions/%s/resourceGroups/%s/providers/Microsoft.Compute/virtualMachineScaleSets/%s' % (sub, node_rg, arm.vmss['system'])
    nic = vmss + '/virtualMachines/0/networkInterfaces/' + arm.node('system-0')['nic_name']
    mc = '/subscriptions/%s/resourceGroups/%s/providers/Microsoft.ContainerService/managedClusters/%s' % (sub, rg, arm.cluster_name)
    customer = '/subscriptions/%s/resourceGroups/%s/providers/Microsoft.Network/networkSecurityGroups/customer-nsg' % (sub, rg)
    rule_body = {'properties': {'protocol': 'Tcp', 'access': 'Allow', 'priority': 400, 'direction': 'Inbound', 'sourceAddressPrefix': '*',
                                'sourcePortRange': '*', 'destinationAddressPrefix': '*', 'destinationPortRange': '10250',
                                'description': 'schema test'}}
    since = arm.journal_seq()
    calls = [
        ('GET', nsg, NET, None), ('GET', nsg + 'x', NET, None), ('GET', net + '/networkSecurityGroups', NET, None),
        ('GET', '/subscriptions/%s/providers/Microsoft.Network/networkSecurityGroups' % sub, NET, None),
        ('PUT', nsg + '/securityRules/schema-rule', NET, rule_body), ('PUT', nsg + '/securityRules/schema-rule', NET, rule_body),
        ('PUT', nsg + '/securityRules/schema-bad', NET, {'properties': dict(rule_body['properties'], destinationPortRange='1,2')}),
        ('GET', nsg + '/securityRules', NET, None), ('GET', nsg + '/securityRules/schema-rule', NET, None),
        ('GET', nsg + '/securityRules/missing', NET, None), ('DELETE', nsg + '/securityRules/schema-rule', NET, None),
        ('DELETE', nsg + '/securityRules/schema-rule', NET, None),
        ('GET', nsg + '/defaultSecurityRules', NET, None), ('GET', nsg + '/defaultSecurityRules/DenyAllInBound', NET, None),
        ('GET', nsg + '/defaultSecurityRules/Nope', NET, None),
        ('GET', vnet, NET, None), ('GET', vnet + 'x', NET, None), ('GET', net + '/virtualNetworks', NET, None),
        ('GET', '/subscriptions/%s/providers/Microsoft.Network/virtualNetworks' % sub, NET, None),
        ('GET', subnet, NET, None), ('GET', subnet + 'x', NET, None), ('GET', vnet + '/subnets', NET, None),
        ('PUT', subnet, NET, {'properties': {'addressPrefix': arm.topology['vnet']['subnet_prefix'], 'networkSecurityGroup': {'id': customer}}}),
        ('PUT', subnet, NET, {'properties': {'networkSecurityGroup': {'id': customer + 'x'}}}),
        ('GET', vmss + '/networkInterfaces', VMSS_NET, None), ('GET', vmss + 'x/networkInterfaces', VMSS_NET, None),
        ('GET', vmss + '/virtualMachines/0/networkInterfaces', VMSS_NET, None), ('GET', nic, VMSS_NET, None), ('GET', nic + 'x', VMSS_NET, None),
        ('GET', nic + '/ipConfigurations', VMSS_NET, None), ('GET', nic + '/ipConfigurations/ipconfig1', VMSS_NET, None),
        ('GET', nic + '/ipConfigurations/nope', VMSS_NET, None),
        ('GET', net + '/loadBalancers/kubernetes', NET, None), ('GET', net + '/loadBalancers/other', NET, None),
        ('GET', net + '/loadBalancers', NET, None), ('GET', '/subscriptions/%s/providers/Microsoft.Network/loadBalancers' % sub, NET, None),
        ('GET', net + '/loadBalancers/kubernetes/outboundRules', NET, None),
        ('GET', net + '/loadBalancers/kubernetes/outboundRules/aksOutboundRule', NET, None),
        ('GET', net + '/loadBalancers/kubernetes/outboundRules/nope', NET, None),
        ('GET', net + '/publicIPAddresses', NET, None), ('GET', '/subscriptions/%s/providers/Microsoft.Network/publicIPAddresses' % sub, NET, None),
        ('GET', net + '/publicIPAddresses/nope', NET, None), ('GET', nsg, '2099-01-01', None),
        ('GET', '/subscriptions/%s/resourceGroups/%s/providers/Microsoft.Compute/virtualMachineScaleSets' % (sub, node_rg), CMP, None),
        ('GET', '/subscriptions/%s/providers/Microsoft.Compute/virtualMachineScaleSets' % sub, CMP, None),
        ('GET', vmss, CMP, None), ('GET', vmss + 'x', CMP, None), ('GET', vmss + '/virtualMachines', CMP, {'$expand': 'instanceView'}),
        ('GET', vmss + '/virtualMachines/1', CMP, None), ('GET', vmss + '/virtualMachines/99', CMP, None),
        ('GET', vmss.replace(arm.vmss['system'], arm.vmss['user']) + '/virtualMachines', CMP, None),
        ('POST', vmss + '/virtualMachines/99/runCommand', CMP, {'commandId': 'RunShellScript', 'script': ['true']}),
        ('POST', vmss + '/virtualMachines/0/runCommand', CMP, {'script': ['true']}),
        ('GET', mc, AKS, None), ('GET', mc + 'x', AKS, None), ('GET', mc + '/agentPools', AKS, None), ('GET', mc + '/agentPools/user', AKS, None),
        ('GET', mc + '/agentPools/nope', AKS, None),
        ('GET', '/subscriptions/%s/resourceGroups/%s/providers/Microsoft.ContainerService/managedClusters' % (sub, rg), AKS, None),
        ('GET', '/subscriptions/%s/providers/Microsoft.ContainerService/managedClusters' % sub, AKS, None),
        ('PATCH', mc, AKS, {'tags': {'env': 'lab'}}),
        ('GET', mc + '/detectors', '2024-08-01', None), ('GET', mc + 'x/detectors', '2024-08-01', None),  # AKS detectors (issue 16)
        ('GET', mc + '/detectors/snat-usage', '2024-08-01',
         {'params': {'startTime': '2026-11-25T09:00:00Z', 'endTime': '2026-11-25T10:00:00Z'}}),
        ('GET', mc + '/detectors/snat-usage', '2024-08-01', None),
        ('POST', mc + '/listClusterUserCredential', AKS, None), ('POST', mc + 'x/listClusterUserCredential', AKS, None),  # issue 18
        ('POST', mc + '/listClusterAdminCredential', AKS, None), ('POST', mc + 'x/listClusterAdminCredential', AKS, None),  # issue 16
        ('POST', mc + '/runCommand', AKS, {}), ('GET', mc + '/commandResults/nope', AKS, None),
        ('GET', arm.lb_id + '/providers/Microsoft.Insights/metrics', MON,
         {'params': {'metricnames': 'SnatConnectionCount,AllocatedSnatPorts,UsedSnatPorts', 'aggregation': 'Total,Average,Count,Minimum,Maximum',
                     '$filter': "BackendIPAddress eq '*'", 'timespan': '2026-11-25T10:00:00Z/2026-11-25T10:03:00Z', 'interval': 'PT1M'}}),
        ('GET', arm.lb_id + '/providers/Microsoft.Insights/metrics', MON, {'params': {'metricnames': 'Bogus'}}),
        ('GET', arm.lb_id + 'x/providers/Microsoft.Insights/metrics', MON, None),
        ('GET', arm.lb_id + '/providers/Microsoft.Insights/metricDefinitions', MON, None),
        ('GET', arm.lb_id + '/providers/Microsoft.Insights/metricDefinitions', MON, {'params': {'metricnamespace': 'Microsoft.Compute/x'}}),
        ('POST', vnet + '/listNetworkManagerEffectiveSecurityAdminRules', NET, {}),  # the network path (issue 12)
        ('POST', vnet + 'x/listNetworkManagerEffectiveSecurityAdminRules', NET, {}),
        ('POST', net + '/networkInterfaces/nope/effectiveRouteTable', NET, None),
        ('GET', '/subscriptions/%s/resourceGroups/%s/providers/Microsoft.Network/natGateways/natgw-lab' % (sub, rg), NET, None),  # issue 16
        ('GET', '/subscriptions/%s/resourceGroups/%s/providers/Microsoft.Network/natGateways/nope' % (sub, rg), NET, None),
        ('GET', '/subscriptions/%s/resourceGroups/%s/providers/Microsoft.Network/natGateways' % (sub, rg), NET, None),
        ('GET', '/subscriptions/%s/providers/Microsoft.Network/natGateways' % sub, NET, None),
        ('GET', '/subscriptions/%s/resourceGroups/%s/providers/Microsoft.Network/publicIPPrefixes/natgw-lab-prefix-1' % (sub, rg), NET, None),
        ('GET', '/subscriptions/%s/resourceGroups/%s/providers/Microsoft.Network/publicIPPrefixes/nope' % (sub, rg), NET, None),
        ('GET', '/subscriptions/%s/resourceGroups/%s/providers/Microsoft.Network/natGateways/natgw-lab/providers/Microsoft.Insights/metrics'
         % (sub, rg), MON, {'params': {'metricnames': 'SNATConnectionCount', 'aggregation': 'Total', '$filter': "ConnectionState eq '*'",
                                       'timespan': 'PT5M', 'interval': 'PT1M', 'metricnamespace': 'Microsoft.Network/natGateways'}}),
        ('GET', '/subscriptions/%s/resourceGroups/%s/providers/Microsoft.Network/natGateways/natgw-lab/providers/Microsoft.Insights/metrics'
         % (sub, rg), MON, {'params': {'metricnames': 'TotalConnectionCount,PacketDropCount', 'aggregation': 'Maximum,Total', 'timespan': 'PT5M'}}),
        # a private cluster's endpoint, its NIC and zone links: not on this public cluster (404)
        ('GET', net + '/privateEndpoints/kube-apiserver', NET, None), ('GET', net + '/networkInterfaces/kube-apiserver.nic.x', NET, None),
        ('GET', net + '/privateDnsZones/z.example/virtualNetworkLinks', '2024-06-01', None),
        # the egress route and the Azure Firewall behind it (issue 16)
        ('GET', net + '/routeTables/rt-aks-nodes', NET, None), ('GET', net + '/routeTables/nope', NET, None),
        ('GET', '/subscriptions/%s/providers/Microsoft.Network/azureFirewalls' % sub, NET, None),
        ('GET', '/subscriptions/%s/resourceGroups/%s/providers/Microsoft.Network/azureFirewalls' % (sub, rg), NET, None),
        ('GET', '/subscriptions/%s/resourceGroups/%s/providers/Microsoft.Network/azureFirewalls/fw-lab' % (sub, rg), NET, None),
        ('GET', '/subscriptions/%s/resourceGroups/%s/providers/Microsoft.Network/azureFirewalls/nope' % (sub, rg), NET, None),
        ('GET', '/subscriptions/%s/resourceGroups/%s/providers/Microsoft.Network/firewallPolicies/fp-lab' % (sub, rg), NET, None),
        ('GET', '/subscriptions/%s/resourceGroups/%s/providers/Microsoft.Network/firewallPolicies/fp-lab/ruleCollectionGroups' % (sub, rg), NET, None),
        ('GET', '/subscriptions/%s/resourceGroups/%s/providers/Microsoft.Network/firewallPolicies/fp-lab/ruleCollectionGroups/rcg-aks' % (sub, rg),
         NET, None),
        ('PUT', '/subscriptions/%s/resourceGroups/%s/providers/Microsoft.Network/firewallPolicies/fp-lab/ruleCollectionGroups/schema' % (sub, rg),
         NET, {'properties': {'priority': 200, 'ruleCollections': [
             {'ruleCollectionType': 'FirewallPolicyFilterRuleCollection', 'name': 'schema', 'priority': 100, 'action': {'type': 'Allow'},
              'rules': [{'ruleType': 'NetworkRule', 'name': 'r', 'ipProtocols': ['TCP'], 'sourceAddresses': ['10.0.0.0/8'],
                         'destinationAddresses': ['AzureCloud.westeurope'], 'destinationPorts': ['9000']}]}]}}),
        ('PUT', '/subscriptions/%s/resourceGroups/%s/providers/Microsoft.Network/firewallPolicies/fp-lab/ruleCollectionGroups/bad' % (sub, rg),
         NET, {'properties': {'priority': 50, 'ruleCollections': []}}),
        ('DELETE', '/subscriptions/%s/resourceGroups/%s/providers/Microsoft.Network/firewallPolicies/fp-lab/ruleCollectionGroups/schema' % (sub, rg),
         NET, None),
        ('DELETE', '/subscriptions/%s/resourceGroups/%s/providers/Microsoft.Network/firewallPolicies/fp-lab/ruleCollectionGroups/schema' % (sub, rg),
         NET, None),
        ('GET', '/subscriptions/%s/resourceGroups/%s/providers/Microsoft.Network/ipGroups/ipg-nodes' % (sub, rg), NET, None),
        ('GET', '/subscriptions/%s/resourceGroups/%s/providers/Microsoft.Network/ipGroups/nope' % (sub, rg), NET, None),
        ('GET', '/subscriptions/%s/resourceGroups/%s/providers/Microsoft.Network/ipGroups' % (sub, rg), NET, None),
        ('GET', '/subscriptions/%s/providers/Microsoft.Network/ipGroups' % sub, NET, None),
        ('GET', '/subscriptions/%s/providers/Microsoft.Network/locations/westeurope/serviceTags' % sub, NET, None),
        ('GET', '/subscriptions/%s/providers/Microsoft.Network/locations/westeurope/serviceTags' % sub, '2099-01-01', None),
        ('GET', '/subscriptions', RES, None), ('GET', '/subscriptions/' + sub, RES, None), ('GET', '/tenants', RES, None),
        ('GET', '/subscriptions/00000000-0000-4000-8000-0000000000ff', RES, None), ('GET', '/tenants', '2001-01-01', None),
    ]
    for method, path, version, extra in calls:
        kwargs = {}
        if isinstance(extra, dict) and 'params' in extra:
            kwargs['params'] = extra['params']
        elif isinstance(extra, dict) and method == 'GET':
            kwargs['params'] = extra
        elif extra is not None:
            kwargs['json'] = extra
        arm.arm(method, path, version, **kwargs)
    # the managed cluster's run command (issue 16): 202 + Location, commandResults 202 while kubectl runs, then the result
    accepted = arm.arm('POST', mc + '/runCommand', AKS, json={'command': 'kubectl version --client -o json', 'context': ''})
    for _attempt in range(300):
        if arm.arm('GET', accepted.headers['Location']).status_code == 200:
            break
        time.sleep(0.1)
    routes = arm.arm('POST', net + '/networkInterfaces/%s/effectiveRouteTable' % arm.node('system-0')['nic_name'], NET)
    arm.arm('GET', routes.headers['Location'])  # the LRO's result: the EffectiveRouteListResult
    pips = arm.arm('GET', net + '/publicIPAddresses', NET).json()['value']
    arm.arm('GET', pips[0]['id'], NET)
    # cluster PUT: a valid round trip and an invalid profile
    cluster = arm.arm('GET', mc, AKS).json()
    arm.arm('PUT', mc, AKS, json=cluster)
    cluster['properties']['networkProfile']['loadBalancerProfile']['allocatedOutboundPorts'] = 7
    arm.arm('PUT', mc, AKS, json=cluster)
    # NSG PUT round trip and an invalid one
    body = arm.arm('GET', customer, NET).json()
    arm.arm('PUT', customer, NET, json={'location': body['location'], 'properties': {'securityRules': body['properties']['securityRules']}})
    arm.arm('PUT', customer, NET, json={'location': body['location'], 'properties': {'securityRules': [{'name': 'x', 'properties': {}}]}})
    # run command: 202, InProgress status, Location 202, 409 while busy (a hanging run keeps it deterministic), then released
    arm.admin('POST', 'faults', {'faults': [{'type': 'runcommand_hang', 'node': 'system-1', 'count': 1}]})
    hung = arm.arm('POST', vmss + '/virtualMachines/1/runCommand', CMP, json={'commandId': 'RunShellScript', 'script': ['echo schema']})
    arm.arm('POST', vmss + '/virtualMachines/1/runCommand', CMP, json={'commandId': 'RunShellScript', 'script': ['echo schema']})
    arm.arm('GET', hung.headers['Location'])
    arm.arm('GET', hung.headers['Azure-AsyncOperation'])
    arm.admin('POST', 'runcommands/release')
    deadline = time.monotonic() + 10
    while arm.admin('GET', 'runcommands')['busy'] and time.monotonic() < deadline:
        time.sleep(0.05)
    arm.arm('GET', hung.headers['Azure-AsyncOperation'])
    arm.arm('GET', hung.headers['Location'])
    # and a run that succeeds: status with properties.output, Location 200 RunCommandResult
    run = arm.arm('POST', vmss + '/virtualMachines/1/runCommand', CMP, json={'commandId': 'RunShellScript', 'script': ['echo schema']})
    while arm.arm('GET', run.headers['Azure-AsyncOperation']).json()['status'] == 'InProgress' and time.monotonic() < deadline:
        time.sleep(0.05)
    arm.arm('GET', run.headers['Location'])
    arm.arm('GET', run.headers['Azure-AsyncOperation'].replace(run.headers['Azure-AsyncOperation'].split('/operations/')[1].split('?')[0],
                                                               '00000000-0000-0000-0000-000000000000'))
    # a failed run command status (error object)
    arm.admin('POST', 'faults', {'faults': [{'type': 'runcommand_fail', 'count': 1}]})
    failed = arm.arm('POST', vmss + '/virtualMachines/0/runCommand', CMP, json={'commandId': 'RunShellScript', 'script': ['true']})
    while arm.arm('GET', failed.headers['Azure-AsyncOperation']).json()['status'] == 'InProgress' and time.monotonic() < deadline:
        time.sleep(0.05)
    arm.arm('GET', failed.headers['Location'])
    # throttling, server errors, 401 and 403 carry ARM error bodies too
    arm.admin('POST', 'faults', {'faults': [{'type': 'throttle', 'on': 'read', 'count': 1, 'retry_after': 0},
                                            {'type': 'server_error', 'on': 'write', 'count': 1, 'status': 503}]})
    arm.arm('GET', nsg, NET)
    arm.arm('PUT', nsg + '/securityRules/schema-503', NET, json=rule_body)
    arm.arm('GET', nsg, NET, client=arm.clients['reader'])
    arm.arm('PUT', nsg + '/securityRules/schema-403', NET, json=rule_body, client=arm.clients['reader'])
    arm.session.get(arm.url + nsg, params={'api-version': NET}, headers={'Authorization': 'Bearer nope'}, timeout=10)
    arm.session.get(arm.url + arm.lb_id + '/providers/Microsoft.Insights/metrics', params={'api-version': MON}, timeout=10)
    return arm.journal(since)


@pytest.fixture(scope='module')
def schemas():
    return swagger.SwaggerSchemas()


@pytest.fixture(scope='module')
def driven(arm):
    try:
        return _drive_everything(arm)
    finally:
        arm.reset()


@pytest.mark.parametrize('group, operation_id', SPEC_OPS, ids=['%s:%s' % op for op in SPEC_OPS])
def test_operation_responses_match_spec(driven, schemas, group, operation_id):
    entries = [e for e in driven if e['spec'] == [group, operation_id]]
    assert any(200 <= e['status'] < 300 for e in entries), 'no successful %s call was driven' % operation_id
    for entry in entries:
        schemas.validate_journal_entry(entry)


def test_accepted_request_bodies_match_spec(driven, schemas):
    accepted = [e for e in driven if e['spec'] and e['spec'][0] != 'lro' and e['request'] is not None and e['status'] < 400]
    wanted = {('network', 'SecurityRules_CreateOrUpdate'), ('network', 'NetworkSecurityGroups_CreateOrUpdate'), ('network', 'Subnets_CreateOrUpdate'),
              ('aks', 'ManagedClusters_CreateOrUpdate'), ('aks', 'ManagedClusters_UpdateTags'), ('runcommand', 'VirtualMachineScaleSetVMs_RunCommand')}
    assert {tuple(e['spec']) for e in accepted} >= wanted
    for entry in accepted:
        schemas.validate_journal_entry(entry)
    with pytest.raises(swagger.SchemaValidationError) as info:
        schemas.validate_request('network', 'SecurityRules_CreateOrUpdate', {'properties': {'priority': 'first', 'protocol': 'Tcp'}})
    assert "properties/priority: 'first' is not of type 'integer'" in str(info.value)


def test_error_responses_match_spec_for_every_provider(driven, schemas):
    errors = [e for e in driven if e['spec'] and e['status'] >= 400]
    statuses = {e['status'] for e in errors}
    assert {400, 401, 403, 404, 409, 429, 503} <= statuses
    groups = {e['spec'][0] for e in errors}
    assert {'network', 'compute', 'runcommand', 'aks', 'metrics', 'lro'} <= groups
    for entry in errors:
        schemas.validate_journal_entry(entry)


def test_lro_status_and_location_responses_match(driven, schemas):
    lro = [e for e in driven if e['spec'] and e['spec'][0] == 'lro' or (e['spec'] and e['spec'][1] == 'VirtualMachineScaleSetVMs_RunCommand')]
    statuses = {(e['spec'][1], e['status']) for e in lro}
    assert ('status', 200) in statuses and ('VirtualMachineScaleSetVMs_RunCommand', 200) in statuses
    assert ('VirtualMachineScaleSetVMs_RunCommand', 202) in statuses and ('VirtualMachineScaleSetVMs_RunCommand', 409) in statuses
    bodies = [e['body'] for e in lro if e['spec'][1] == 'status' and e['status'] == 200]
    assert {b['status'] for b in bodies} >= {'InProgress', 'Succeeded', 'Failed'}
    for entry in lro:
        schemas.validate_journal_entry(entry)


@pytest.mark.parametrize('group, operation_id, status, body, fragment', [
    ('network', 'SecurityRules_Get', 200, {'name': 'r', 'properties': {'priority': 'high', 'protocol': 'Tcp', 'access': 'Allow', 'direction': 'Inbound'}},
     "properties/priority: 'high' is not of type 'integer'"),
    ('network', 'SecurityRules_Get', 200, {'name': 'r', 'properties': {'priority': 100, 'protocol': 'Tcp', 'access': 'Allow'}},
     "'direction' is a required property"),
    ('network', 'SecurityRules_Get', 200, {'name': 'r', 'properties': {'priority': 100, 'protocol': 'TCP!', 'access': 'Allow', 'direction': 'Inbound'}},
     'properties/protocol'),
    ('metrics', 'Metrics_List', 200, {'timespan': 'x', 'interval': 'PT1M', 'value': [{'name': {'value': 'a'}, 'unit': 'Count', 'timeseries': [
        {'data': [{'timeStamp': 'yesterday'}]}], 'id': 'i', 'type': 't'}]}, "is not a 'date-time'"),
    ('runcommand', 'VirtualMachineScaleSetVMs_RunCommand', 202, {'value': []}, 'no body'),
    ('aks', 'ManagedClusters_Get', 200, {'properties': {}}, "'location' is a required property"),  # required via allOf TrackedResource
    ('compute', 'VirtualMachineScaleSetVMs_List', 200, {'value': [{'location': 'x', 'properties': {'osProfile': {'computerName': 5}}}]},
     'value/0/properties/osProfile/computerName'),
    ('aks', 'ManagedClusters_Get', 200, {'location': 'westeurope', 'properties': {'agentPoolProfiles': [{'count': 'three', 'name': 'np'}]}},
     'agentPoolProfiles/0/count'),
])
def test_validator_rejects_wrong_bodies(schemas, group, operation_id, status, body, fragment):
    with pytest.raises(swagger.SchemaValidationError) as info:
        schemas.validate_response(group, operation_id, status, body)
    assert fragment in str(info.value)


def test_newer_enum_values_from_readme_deltas_are_allowed(schemas):
    body = {'location': 'westeurope', 'properties': {'networkProfile': {'outboundType': 'none'}}}
    schemas.validate_response('aks', 'ManagedClusters_Get', 200, body)


def test_specs_location_from_env(monkeypatch, tmp_path):
    default_root = swagger.specs_root()
    monkeypatch.setenv('AKS_TUNNEL_AZURE_SPECS', default_root)
    assert swagger.SwaggerSchemas().root == default_root
    monkeypatch.setenv('AKS_TUNNEL_AZURE_SPECS', str(tmp_path))
    with pytest.raises(swagger.SpecNotFound):
        swagger.SwaggerSchemas()
