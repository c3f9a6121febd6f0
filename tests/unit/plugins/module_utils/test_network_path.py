# -*- coding: utf-8 -*-
# Copyright (c) 2026 aks.tunnel contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The network path engine: Virtual Network Manager admin rules and effective routes for the kubelet flows.

Admin rule shapes follow the spec example NetworkManagerEffectiveSecurityAdminRulesList.json (Azure/azure-rest-api-specs,
network 2024-01-01); route shapes NetworkInterfaceEffectiveRouteTableList.json plus the fields the service adds
(Azure/azure-powershell issue 23091: disableBgpRoutePropagation, hasBgpOverride, destinationServiceTags, tagMap).
"""

from __future__ import annotations

import pytest

from ansible_collections.aks.tunnel.plugins.module_utils import _causes
from ansible_collections.aks.tunnel.plugins.module_utils import _network_path as np

SUB = '00000000-0000-0000-0000-000000000000'
VNET = '/subscriptions/%s/resourceGroups/rg-net/providers/Microsoft.Network/virtualNetworks/aks-vnet' % SUB
SUBNET = VNET + '/subnets/aks-subnet'
NM = '/subscriptions/%s/resourceGroups/rg-avnm/providers/Microsoft.Network/networkManagers/corp-nm' % SUB


def nic(name, index):
    return ('/subscriptions/%s/resourceGroups/MC_rg_aks_westeurope/providers/Microsoft.Compute/virtualMachineScaleSets/aks-np-vmss/'
            'virtualMachines/%d/networkInterfaces/aks-np-vmss' % (SUB, index))


def node(name, ip, index, subnet=SUBNET):
    return {'name': name, 'private_ip': ip, 'subnet_id': subnet, 'nic_id': nic(name, index), 'hosts_tunnel': index == 0}


MODEL = {'cluster': {'vnet_address_prefixes': ['10.240.0.0/12']},
         'nodes': [node('n0', '10.240.0.4', 0), node('n1', '10.240.0.5', 1), node('n2', '10.240.0.6', 2)]}
SOURCES = [MODEL['nodes'][0]]


def admin(name, access='Deny', direction='Inbound', priority=10, ports=('10250',), protocol='Tcp', sources=('*',), destinations=('*',),
          kind='Custom', source_type='IPPrefix', destination_type='IPPrefix'):
    return {
        'id': NM + '/securityAdminConfigurations/corp-config/ruleCollections/kubelet/rules/' + name,
        'configurationDescription': 'corp', 'ruleCollectionDescription': 'rc',
        'ruleCollectionAppliesToGroups': [{'networkGroupId': NM + '/networkGroups/aks'}],
        'kind': kind,
        'properties': {'protocol': protocol, 'access': access, 'direction': direction, 'priority': priority,
                       'sources': [{'addressPrefixType': source_type, 'addressPrefix': s} for s in sources],
                       'destinations': [{'addressPrefixType': destination_type, 'addressPrefix': d} for d in destinations],
                       'sourcePortRanges': ['0-65535'], 'destinationPortRanges': list(ports), 'provisioningState': 'Succeeded'},
        'ruleGroups': [{'id': NM + '/networkGroups/aks', 'properties': {'provisioningState': 'Succeeded'}}],
    }


def route(prefix, hop, source='Default', name=None, hop_ip=(), state='Active'):
    item = {'source': source, 'state': state, 'addressPrefix': [prefix], 'nextHopType': hop, 'nextHopIpAddress': list(hop_ip),
            'disableBgpRoutePropagation': False, 'hasBgpOverride': False, 'destinationServiceTags': [], 'tagMap': {}}
    if name:
        item['name'] = name
    return item


SYSTEM = [route('10.240.0.0/12', 'VnetLocal'), route('0.0.0.0/0', 'Internet'), route('10.0.0.0/8', 'None'), route('172.16.0.0/12', 'None'),
          route('192.168.0.0/16', 'None'), route('100.64.0.0/10', 'None')]
APPLIANCE = SYSTEM + [route('10.240.0.0/16', 'VirtualAppliance', source='User', name='via-fw', hop_ip=['10.241.0.4'])]
BLACKHOLE = SYSTEM + [route('10.240.0.6/32', 'None', source='User', name='drop-n2')]


def run(admin_rules=None, routes=None, unreachable=None, sources=None, model=None):
    model = MODEL if model is None else model
    sources = SOURCES if sources is None else sources
    admin_rules = {VNET.lower(): [] if admin_rules is None else admin_rules}
    routes = {'n0': SYSTEM} if routes is None else routes
    result = np.check_network_path(model, sources, admin_rules, routes)
    return result, np.path_finding(result, sources, unreachable)


@pytest.mark.parametrize('rules, routes, unreachable, status, nodes', [
    # nothing in the way
    ([], None, None, 'ok', []),
    ([], None, [], 'ok', []),
    # an admin Deny for 10250 to one node: PROBLEM with or without the probe (it names the node the probe found down)
    ([admin('deny-kubelet-n2', destinations=['10.240.0.6/32'])], None, None, 'problem', ['n2']),
    ([admin('deny-kubelet-n2', destinations=['10.240.0.6'])], None, [{'node': 'n2'}], 'problem', ['n2']),
    # a Deny the probe contradicts (every node reached): a warning, not a problem
    ([admin('deny-kubelet-n2', destinations=['10.240.0.6/32'])], None, [], 'ok', []),
    # Outbound Deny from the tunnel node's VNet blocks too
    ([admin('deny-out', direction='Outbound')], None, None, 'problem', ['n1', 'n2']),
    # an AlwaysAllow of lower number wins over the Deny; an Allow of lower number hands on to the NSG (the Deny is not reached)
    ([admin('always', access='AlwaysAllow', priority=5), admin('deny', priority=10)], None, None, 'ok', []),
    ([admin('allow', access='Allow', priority=5), admin('deny', priority=10)], None, None, 'ok', []),
    # same priority: Deny first
    ([admin('allow', access='Allow', priority=10), admin('deny', priority=10)], None, None, 'problem', ['n1', 'n2']),
    # other ports, other protocol, other directions do not block
    ([admin('deny-ssh', ports=['22'])], None, None, 'ok', []),
    ([admin('deny-udp', protocol='Udp')], None, None, 'ok', []),
    ([admin('deny-any', protocol='Any', ports=['10000-10300'])], None, None, 'problem', ['n1', 'n2']),
    # the default-kind rules (AVNM "DenyHighRiskPorts"-style) evaluate the same way
    ([admin('deny-default', kind='Default', ports=['10250'])], None, None, 'problem', ['n1', 'n2']),
    # a service tag the engine cannot resolve: UNKNOWN without the probe
    ([admin('tagged', source_type='ServiceTag', sources=['AzureCloud'])], None, None, 'unknown', ['n1', 'n2']),
    # VirtualNetwork service tag resolves with the VNet prefixes
    ([admin('vnet', source_type='ServiceTag', sources=['VirtualNetwork'])], None, None, 'problem', ['n1', 'n2']),
    # routes: an appliance for the node subnet; UNKNOWN without the probe, PROBLEM for unreachable nodes, OK when all reachable
    ([], {'n0': APPLIANCE}, None, 'unknown', ['n1', 'n2']),
    ([], {'n0': APPLIANCE}, [{'node': 'n1', 'status': 'timeout'}], 'problem', ['n1']),
    ([], {'n0': APPLIANCE}, [], 'ok', []),
    # a user blackhole for one node is a problem without the probe
    ([], {'n0': BLACKHOLE}, None, 'problem', ['n2']),
    # the system None routes (10.0.0.0/8 ...) are less specific than the VNet's VnetLocal: no problem
    ([], {'n0': SYSTEM}, None, 'ok', []),
    # routes not read: UNKNOWN without the probe; with every node reachable OK
    ([], {'n0': {'error': '403 AuthorizationFailed'}}, None, 'unknown', ['n1', 'n2']),
    ([], {'n0': {'error': '403 AuthorizationFailed'}}, [], 'ok', []),
    ([], {'n0': {'error': '403 AuthorizationFailed'}}, [{'node': 'n2'}], 'unknown', ['n2']),
])
def test_path_finding(rules, routes, unreachable, status, nodes):
    _result, finding = run(rules, routes, unreachable)
    assert finding['cause'] == _causes.NETWORK_PATH_BLOCKS_10250
    assert (finding['status'], finding['affected_nodes']) == (status, nodes), finding


def test_problem_remediation_names_rule_pairs_and_commands():
    _result, finding = run([admin('deny-kubelet-n2', destinations=['10.240.0.6/32'])], None, [{'node': 'n2', 'from': 'n0'}])
    rem = finding['remediation']
    assert [r['rule'] for r in rem['admin_rules']] == ['deny-kubelet-n2']
    assert rem['admin_rules'][0]['network_manager'] == 'corp-nm'
    assert rem['admin_rules'][0]['configuration'] == 'corp-config'
    assert rem['admin_rules'][0]['rule_collection'] == 'kubelet'
    assert 'post-commit' in rem['admin_rules'][0]['where']
    assert rem['routes'] == []
    assert [(p['from'], p['to'], p['blocked_by']) for p in rem['pairs']] == [('n0', 'n2', 'admin_rule')]
    assert rem['commands'][0] == ('az network watcher run-configuration-diagnostic --resource %s --direction Inbound --protocol TCP '
                                  '--source 10.240.0.4 --destination 10.240.0.6 --port 10250' % nic('n2', 2))
    assert any(c.startswith('az rest --method get --url "https://management.azure.com%s' % NM) for c in rem['commands'])
    assert set(rem) >= {'summary', 'admin_rules', 'routes', 'pairs', 'commands'}
    assert 'deny-kubelet-n2' in finding['summary']


def test_appliance_route_named():
    _result, finding = run([], {'n0': APPLIANCE}, [{'node': 'n1'}, {'node': 'n2'}])
    assert finding['status'] == 'problem'
    route_entry = finding['remediation']['routes'][0]
    assert (route_entry['route'], route_entry['next_hop_type'], route_entry['next_hop_ip'], route_entry['effect']) == (
        'via-fw', 'VirtualAppliance', ['10.241.0.4'], 'appliance')
    assert "route 'via-fw' (User, 10.240.0.0/16) -> next hop VirtualAppliance 10.241.0.4" in finding['evidence'][0]


def test_appliance_all_reachable_warns():
    _result, finding = run([], {'n0': APPLIANCE}, [])
    assert finding['status'] == 'ok'
    assert any(e.startswith('warning: ') and 'via-fw' in e for e in finding['evidence'])


def test_zero_flows_is_unknown():
    model = {'cluster': {'vnet_address_prefixes': []}, 'nodes': [dict(n, private_ip=None) for n in MODEL['nodes']]}
    sources = [model['nodes'][0]]
    _result, finding = run([], None, None, sources=sources, model=model)
    assert finding['status'] == 'unknown'
    assert '0 kubelet flows' in finding['summary']


def test_no_sources_is_unknown():
    _result, finding = run([], None, None, sources=[])
    assert finding['status'] == 'unknown'


def test_admin_rules_not_read_is_unknown():
    result = np.check_network_path(MODEL, SOURCES, {VNET.lower(): {'error': 'AuthorizationFailed'}}, {'n0': SYSTEM})
    assert np.path_finding(result, SOURCES)['status'] == 'unknown'
    # a VNet missing from the map was not read either
    result = np.check_network_path(MODEL, SOURCES, {}, {'n0': SYSTEM})
    assert np.path_finding(result, SOURCES)['status'] == 'unknown'


def test_unexplained_unreachable_node_in_evidence():
    _result, finding = run([], None, [{'node': 'n1'}])
    assert finding['status'] == 'ok'
    assert 'unreachable node(s) not explained by admin rules or routes: n1' in finding['evidence']


def test_always_allow_reported():
    result, finding = run([admin('always', access='AlwaysAllow', priority=5)], None, None)
    assert [r['name'] for r in result['always_allow']] == ['always']
    assert result['always_allow'][0]['nodes'] == ['n1', 'n2']
    assert any('without NSG evaluation' in e for e in finding['evidence'])


@pytest.mark.parametrize('routes, ip, expected', [
    (SYSTEM, '10.240.0.6', 'VnetLocal'),
    (APPLIANCE, '10.240.0.6', 'VirtualAppliance'),
    (BLACKHOLE, '10.240.0.6', 'None'),
    (BLACKHOLE, '10.240.0.5', 'VnetLocal'),
    # same prefix: User over Default
    (SYSTEM + [route('10.240.0.0/12', 'VirtualAppliance', source='User', name='u')], '10.240.0.5', 'VirtualAppliance'),
    # invalid routes do not count
    (SYSTEM + [route('10.240.0.0/16', 'VirtualAppliance', source='User', name='u', state='Invalid')], '10.240.0.5', 'VnetLocal'),
    ([], '10.240.0.5', None),
])
def test_route_for(routes, ip, expected):
    found = np.route_for([np.normalize_route(r) for r in routes], ip)
    assert (found['next_hop_type'] if found else None) == expected


@pytest.mark.parametrize('raw, error', [
    ({'properties': {'access': 'Maybe', 'direction': 'Inbound', 'priority': 1, 'protocol': 'Tcp'}}, 'access must be'),
    ({'properties': {'access': 'Deny', 'direction': 'Up', 'priority': 1, 'protocol': 'Tcp'}}, 'direction must be'),
    ({'properties': {'access': 'Deny', 'direction': 'Inbound', 'priority': 'x', 'protocol': 'Tcp'}}, 'priority must be'),
    ({'properties': {'access': 'Deny', 'direction': 'Inbound', 'priority': 1, 'protocol': 'Gre'}}, 'protocol'),
    ('text', 'must be a mapping'),
])
def test_normalize_admin_rule_errors(raw, error):
    with pytest.raises(np.NetworkPathInputError, match=error):
        np.normalize_admin_rule(raw)


def test_bad_admin_rule_makes_vnet_unknown():
    bad = admin('x')
    bad['properties']['access'] = 'Sometimes'
    result = np.check_network_path(MODEL, SOURCES, {VNET.lower(): [bad]}, {'n0': SYSTEM})
    assert result['input_errors']
    assert np.path_finding(result, SOURCES)['status'] == 'unknown'


def test_id_parts():
    parts = np.id_parts(admin('r1')['id'])
    assert parts == {'resource_group': 'rg-avnm', 'network_manager': 'corp-nm', 'configuration': 'corp-config', 'rule_collection': 'kubelet',
                     'rule': 'r1', 'subscription': SUB}


def test_sdk_as_dict_shape():
    """azure-mgmt-network 33 models: as_dict() keeps the REST names (TypeSpec models)."""
    raw = {'id': 'x', 'kind': 'Custom', 'properties': {'access': 'alwaysallow', 'direction': 'outbound', 'priority': '7', 'protocol': 'ANY'}}
    rule = np.normalize_admin_rule(raw)
    assert (rule['access'], rule['direction'], rule['priority'], rule['protocol'], rule['sources'], rule['destination_port_ranges']) == (
        'AlwaysAllow', 'Outbound', 7, '*', ['*'], ['*'])


NSG_ID = '/subscriptions/%s/resourceGroups/MC_rg_aks_westeurope/providers/Microsoft.Network/networkSecurityGroups/aks-agentpool-nsg' % SUB
DENY_NSG = {'id': NSG_ID, 'name': 'aks-agentpool-nsg', 'properties': {'securityRules': [
    {'name': 'deny-kubelet', 'properties': {'priority': 200, 'direction': 'Inbound', 'access': 'Deny', 'protocol': 'Tcp',
                                            'sourceAddressPrefix': '*', 'sourcePortRange': '*', 'destinationAddressPrefix': '*',
                                            'destinationPortRange': '10250'}}]}}


@pytest.mark.parametrize('rules, denied', [
    # no admin rule: the NSG Deny blocks n1 and n2
    ([], ['n1', 'n2']),
    # AlwaysAllow Inbound to n2: its NSGs are skipped (Azure), n1 stays blocked
    ([admin('always-n2', access='AlwaysAllow', destinations=['10.240.0.6/32'])], ['n1']),
    # an Allow admin rule hands on to the NSG: still blocked
    ([admin('allow', access='Allow')], ['n1', 'n2']),
    # AlwaysAllow Outbound skips only the source's NSGs; the Inbound NIC NSG still denies
    ([admin('always-out', access='AlwaysAllow', direction='Outbound')], ['n1', 'n2']),
])
def test_nsg_check_honours_always_allow(rules, denied):
    from ansible_collections.aks.tunnel.plugins.module_utils import _nsg_check  # pylint: disable=import-outside-toplevel
    model = {'cluster': MODEL['cluster'], 'nodes': [dict(n, nic_nsg_id=NSG_ID, subnet_nsg_id=None) for n in MODEL['nodes']]}
    sources = [model['nodes'][0]]
    result = np.check_network_path(model, sources, {VNET.lower(): rules}, {'n0': SYSTEM})
    checked = _nsg_check.check_paths(model, {NSG_ID.lower(): DENY_NSG}, sources, nsg_bypass=np.nsg_bypass(result['always_allow']))
    assert sorted(checked['denied_nodes']) == denied
