# -*- coding: utf-8 -*-
# Copyright (c) 2026 aks.tunnel contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The egress route (longest prefix, User over BGP over Default, service-tag routes) and the Azure Firewall rule evaluation
(policy group/collection priority, network before application rules, classic collections, default deny), and the owned rule
collection group the repair writes (issue 16)."""

from __future__ import annotations

import pytest

from ansible_collections.aks.tunnel.plugins.module_utils import _egress_path as ep
from ansible_collections.aks.tunnel.plugins.module_utils import _egress_route as er
from ansible_collections.aks.tunnel.plugins.module_utils import _firewall_policy as fp

VNET = ['10.240.0.0/16']
API = '20.50.1.10'
FQDN = 'aks-prod-1a2b.hcp.westeurope.azmk8s.io'


def _table(*routes):
    return {'id': '/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/routeTables/rt-aks', 'name': 'rt-aks',
            'properties': {'routes': [{'name': n, 'properties': dict({'addressPrefix': p, 'nextHopType': h}, **({'nextHopIpAddress': ip} if ip else {}))}
                                      for n, p, h, ip in routes]}}


@pytest.mark.parametrize('routes, ip, expected', [
    ([], API, (None, '0.0.0.0/0', 'Internet', None)),
    ([('default-fw', '0.0.0.0/0', 'VirtualAppliance', '10.241.0.4')], API, ('default-fw', '0.0.0.0/0', 'VirtualAppliance', '10.241.0.4')),
    # a more specific system route (the VNet) beats a user 0.0.0.0/0
    ([('default-fw', '0.0.0.0/0', 'VirtualAppliance', '10.241.0.4')], '10.240.0.5', (None, '10.240.0.0/16', 'VnetLocal', None)),
    # a longer user prefix for the API server wins over the default through the firewall
    ([('default-fw', '0.0.0.0/0', 'VirtualAppliance', '10.241.0.4'), ('api-direct', API + '/32', 'Internet', None)], API,
     ('api-direct', API + '/32', 'Internet', None)),
    # same prefix: the user route wins over the system route
    ([('pvt', '10.0.0.0/8', 'VirtualAppliance', '10.241.0.5')], '10.9.0.1', ('pvt', '10.0.0.0/8', 'VirtualAppliance', '10.241.0.5')),
    ([], '10.9.0.1', (None, '10.0.0.0/8', 'None', None)),
    ([('blackhole', '20.50.0.0/16', 'None', None)], API, ('blackhole', '20.50.0.0/16', 'None', None)),
])
def test_route_table_selection(routes, ip, expected):
    result = er.egress_route(ip, VNET, _table(*routes))
    route = result['route']
    assert (route['name'], route['prefix'], route['next_hop_type'], route['next_hop_ip']) == expected
    assert result['how'] == 'route_table'


def test_service_tag_route_is_unknown_offline_and_decided_by_effective_routes():
    table = _table(('azurecloud-fw', 'AzureCloud.westeurope', 'VirtualAppliance', '10.241.0.4'))
    result = er.egress_route(API, VNET, table)
    assert result['route'] is None and 'service tag' in result['reason']
    effective = [{'source': 'Default', 'state': 'Active', 'addressPrefix': ['0.0.0.0/0'], 'nextHopType': 'Internet', 'nextHopIpAddress': []},
                 {'source': 'User', 'state': 'Active', 'addressPrefix': ['20.50.0.0/16', '20.60.0.0/16'], 'nextHopType': 'VirtualAppliance',
                  'nextHopIpAddress': ['10.241.0.4']}]
    result = er.egress_route(API, VNET, table, effective)
    assert result['how'] == 'effective_routes'
    assert (result['route']['table'], result['route']['name'], result['route']['next_hop_ip']) == ('rt-aks', 'azurecloud-fw', '10.241.0.4')
    assert result['label'] == "route table rt-aks, route 'azurecloud-fw' (AzureCloud.westeurope) -> VirtualAppliance 10.241.0.4"


def _flow(protocol='TCP', port=443, tls=True):
    return {'protocol': protocol, 'port': port, 'source_ip': '10.240.0.4', 'destination_ip': API, 'fqdn': FQDN, 'tls': tls,
            'azure_region': 'westeurope'}


def _net(name, protocols, dest, ports, sources=('*',), **extra):
    return dict({'ruleType': 'NetworkRule', 'name': name, 'ipProtocols': list(protocols), 'sourceAddresses': list(sources),
                 'destinationAddresses': list(dest), 'destinationPorts': list(ports)}, **extra)


def _app(name, fqdns=(), tags=(), port=443, sources=('*',)):
    return {'ruleType': 'ApplicationRule', 'name': name, 'protocols': [{'protocolType': 'Https', 'port': port}],
            'sourceAddresses': list(sources), 'targetFqdns': list(fqdns), 'fqdnTags': list(tags)}


def _group(name, priority, *collections):
    return {'name': name, 'properties': {'priority': priority, 'ruleCollections': [
        {'ruleCollectionType': 'FirewallPolicyFilterRuleCollection', 'name': c, 'priority': p, 'action': {'type': a}, 'rules': rules}
        for c, p, a, rules in collections]}}


DENY_443 = _group('rcg-block', 200, ('deny-web', 100, 'Deny', [_net('deny-443', ['TCP'], ['*'], ['443'])]))
ALLOW_AKS_TAG = _group('rcg-aks', 300, ('aks-app', 100, 'Allow', [_app('aks-fqdn-tag', tags=['AzureKubernetesService'])]))
ALLOW_TUNNEL = _group('rcg-aks-net', 400, ('aks-net', 100, 'Allow', [
    _net('tunnel-9000', ['TCP'], ['AzureCloud.westeurope'], ['9000'], sources=['10.240.0.0/16']),
    _net('aks-link', ['UDP'], ['AzureCloud.westeurope'], ['1194'])]))


@pytest.mark.parametrize('groups, flow, access, deciding', [
    ([], _flow(), 'Deny', None),
    ([ALLOW_AKS_TAG], _flow(), 'Allow', ('rcg-aks', 'aks-app', 'aks-fqdn-tag')),
    # network rules come before application rules whatever the group priority
    ([ALLOW_AKS_TAG, DENY_443], _flow(), 'Deny', ('rcg-block', 'deny-web', 'deny-443')),
    ([ALLOW_TUNNEL], _flow('TCP', 9000, False), 'Allow', ('rcg-aks-net', 'aks-net', 'tunnel-9000')),
    ([ALLOW_TUNNEL], _flow('UDP', 1194, False), 'Allow', ('rcg-aks-net', 'aks-net', 'aks-link')),
    ([ALLOW_TUNNEL], _flow('TCP', 443), 'Deny', None),
    # application rules never carry TCP 9000 (not TLS to an FQDN)
    ([_group('g', 100, ('c', 100, 'Allow', [_app('any', fqdns=['*'], port=9000)]))], _flow('TCP', 9000, False), 'Deny', None),
    # another region's AzureCloud tag does not cover the API server
    ([_group('g', 100, ('c', 100, 'Allow', [_net('r', ['TCP'], ['AzureCloud.eastus'], ['9000'])]))], _flow('TCP', 9000, False), 'Deny', None),
    # group priority orders groups; collection priority orders collections in a group
    ([_group('late', 500, ('allow', 100, 'Allow', [_net('a', ['Any'], ['*'], ['*'])])),
      _group('early', 150, ('deny', 300, 'Deny', [_net('d', ['TCP'], [API], ['443'])]), ('allow', 200, 'Allow', [_net('a2', ['TCP'], [API], ['443'])]))],
     _flow(), 'Allow', ('early', 'allow', 'a2')),
    ([_group('g', 100, ('c', 100, 'Allow', [_app('wild', fqdns=['*.hcp.westeurope.azmk8s.io'])]))], _flow(), 'Allow', ('g', 'c', 'wild')),
    ([_group('g', 100, ('c', 100, 'Allow', [_net('fqdn', ['TCP'], [], ['443'], destinationFqdns=[FQDN])]))], _flow(), 'Allow', ('g', 'c', 'fqdn')),
    # an IP group cannot be resolved: an Allow may match -> unknown rather than a default deny
    ([_group('g', 100, ('c', 100, 'Allow', [_net('ipg', ['TCP'], [], ['443'], destinationIpGroups=['/x/ipGroups/api'])]))], _flow(), 'Unknown', None),
    # an undecidable Deny before a matching Deny still denies
    ([_group('g', 100, ('c', 100, 'Deny', [_net('tag', ['TCP'], ['Storage'], ['443']), _net('all', ['TCP'], ['*'], ['443'])]))], _flow(), 'Deny',
     ('g', 'c', 'all')),
])
def test_policy_evaluation(groups, flow, access, deciding):
    network, application = fp.policy_rules([{'name': 'fp-aks', 'groups': groups}])
    verdict = fp.evaluate(network, application, flow)
    assert verdict['access'] == access, verdict
    if deciding:
        assert (verdict['rule']['group'], verdict['rule']['collection'], verdict['rule']['name']) == deciding
    elif access == 'Deny':
        assert verdict['default'] and verdict['reason'] == 'no rule allows it: Azure Firewall denies by default'


def test_parent_policy_groups_come_first_whatever_their_priority():
    parent = {'name': 'fp-base', 'groups': [_group('base', 60000, ('deny', 100, 'Deny', [_net('d', ['TCP'], ['*'], ['443'])]))]}
    child = {'name': 'fp-aks', 'groups': [_group('child', 100, ('allow', 100, 'Allow', [_net('a', ['TCP'], ['*'], ['443'])]))]}
    network, application = fp.policy_rules([parent, child])
    verdict = fp.evaluate(network, application, _flow())
    assert (verdict['access'], verdict['rule']['policy']) == ('Deny', 'fp-base')
    plan = fp.plan_repair([parent, child], [verdict], [_flow()], ['10.240.0.0/16'])
    assert plan['properties'] is None and 'parent policy fp-base' in plan['refused']


def test_classic_rule_collections():
    firewall = {'name': 'fw', 'properties': {
        'networkRuleCollections': [{'name': 'net-deny', 'properties': {'priority': 200, 'action': {'type': 'Deny'}, 'rules': [
            {'name': 'no-9000', 'protocols': ['TCP'], 'sourceAddresses': ['*'], 'destinationAddresses': ['*'], 'destinationPorts': ['9000']}]}}],
        'applicationRuleCollections': [{'name': 'app-allow', 'properties': {'priority': 100, 'action': {'type': 'Allow'}, 'rules': [
            {'name': 'aks', 'protocols': [{'protocolType': 'Https', 'port': 443}], 'sourceAddresses': ['10.240.0.0/16'],
             'fqdnTags': ['AzureKubernetesService']}]}}]}}
    network, application = fp.classic_rules(firewall)
    assert fp.evaluate(network, application, _flow())['access'] == 'Allow'
    verdict = fp.evaluate(network, application, _flow('TCP', 9000, False))
    assert verdict['access'] == 'Deny'
    assert fp.rule_label(verdict['rule']) == 'classic network rule collection net-deny (priority 200, Deny), network rule no-9000'


def test_repair_plan_goes_just_before_the_denying_group_and_is_idempotent():
    policies = [{'name': 'fp-aks', 'groups': [DENY_443, _group('rcg-199', 199, ('x', 100, 'Allow', []))]}]
    network, application = fp.policy_rules(policies)
    flows = [_flow()]
    verdicts = [fp.evaluate(network, application, f) for f in flows]
    plan = fp.plan_repair(policies, verdicts, flows, ['10.240.0.0/16'])
    assert plan['refused'] is None and plan['priority'] == 198  # 199 is taken
    coll = plan['properties']['ruleCollections'][0]
    assert (coll['name'], coll['action'], coll['rules'][0]['name']) == ('aks-tunnel-egress', {'type': 'Allow'}, 'aks-tunnel-tcp-443')
    assert coll['rules'][0]['destinationAddresses'] == [API] and coll['rules'][0]['sourceAddresses'] == ['10.240.0.0/16']
    # with the owned group in place the flow is allowed and nothing is left to repair
    policies[0]['groups'].append({'name': 'aks-tunnel-egress', 'properties': plan['properties']})
    network, application = fp.policy_rules(policies)
    assert fp.evaluate(network, application, flows[0])['access'] == 'Allow'
    assert not fp.group_differs(plan['properties'], fp.desired_group(198, fp.desired_rules(flows, ['10.240.0.0/16'])))
    assert fp.is_owned(plan['properties']) and not fp.is_owned(DENY_443['properties'])


@pytest.mark.parametrize('before, taken, current, expected', [
    (None, [], None, 65000), (None, [65000], None, 64999), (200, [], None, 199), (101, [100], None, None), (100, [], None, None),
    (300, [], 150, 150), (300, [], 400, 299),
])
def test_choose_priority(before, taken, current, expected):
    assert fp.choose_priority(taken, before, current) == expected


def test_appliance_advice_names_the_exact_allow():
    advice = fp.appliance_advice('10.241.0.5', [_flow('TCP', 9000, False)], ['10.240.0.0/16'], 'route table rt-aks, route x')
    assert advice['allow'] == ['allow tcp from 10.240.0.0/16 to %s (%s) port 9000' % (API, FQDN)]


# --------------------------------------------------------------------------- the finding of the egress path

KONN = {'component': 'konnectivity', 'egress': [{'protocol': 'Tcp', 'port': 443, 'kind': 'tls', 'alpn': 'konnectivity'}]}
FRONT = {'component': 'tunnel-front', 'egress': [{'protocol': 'Tcp', 'port': 9000, 'kind': 'tcp', 'alpn': None}]}
FW_ROUTE = _table(('default-fw', '0.0.0.0/0', 'VirtualAppliance', '10.241.0.4'))
POLICY = [{'name': 'fp-aks', 'groups': [DENY_443, ALLOW_AKS_TAG]}]


def _firewall(policies):
    network, application = fp.policy_rules(policies)
    return {'name': 'fw-hub', 'id': '/x/azureFirewalls/fw-hub', 'policy': 'fp-aks', 'policy_id': '/x/firewallPolicies/fp-aks', 'kind': 'policy',
            'network': network, 'application': application}


@pytest.mark.parametrize('tunnel, table, firewall, policies, probe_blocked, status, summary_start', [
    ({'egress': [], 'egress_reason': 'no tunnel'}, None, None, None, None, 'not_applicable', 'no tunnel'),
    (KONN, None, None, None, None, 'ok', 'no firewall or appliance on the tunnel egress route: the system route (0.0.0.0/0) -> Internet'),
    (KONN, _table(('drop', '20.50.0.0/16', 'None', None)), None, None, None, 'problem', 'the tunnel egress (TCP 443) is dropped'),
    (KONN, _table(('vpn', '0.0.0.0/0', 'VirtualNetworkGateway', None)), None, None, None, 'unknown', 'the tunnel egress goes to a VirtualNetworkGateway'),
    (KONN, _table(('vpn', '0.0.0.0/0', 'VirtualNetworkGateway', None)), None, None, [], 'ok', 'the tunnel egress (TCP 443) passes'),
    (FRONT, FW_ROUTE, None, None, ['TCP 9000'], 'problem', 'the appliance 10.241.0.4 blocks the tunnel egress (TCP 9000)'),
    (FRONT, FW_ROUTE, None, None, [], 'ok', 'the appliance 10.241.0.4 passes the tunnel egress (TCP 9000) today'),
    (FRONT, FW_ROUTE, None, None, None, 'unknown', 'the tunnel egress goes through the appliance 10.241.0.4'),
    (KONN, FW_ROUTE, {'error': '403'}, None, None, 'unknown', 'the tunnel egress goes to route table rt-aks'),
    (KONN, FW_ROUTE, 'policy', POLICY, None, 'problem', 'the Azure Firewall fw-hub denies the tunnel egress (TCP 443)'),
    (KONN, FW_ROUTE, 'allow', [{'name': 'fp-aks', 'groups': [ALLOW_AKS_TAG]}], None, 'ok', 'the Azure Firewall fw-hub allows the tunnel egress'),
    (KONN, FW_ROUTE, 'ipgroup', [{'name': 'fp-aks', 'groups': [
        _group('g', 100, ('c', 100, 'Allow', [_net('ipg', ['TCP'], [], ['443'], destinationIpGroups=['/x/ipGroups/api'])]))]}], None, 'unknown',
     'the Azure Firewall fw-hub verdict on the tunnel egress is undecided'),
])
def test_egress_path_finding(tunnel, table, firewall, policies, probe_blocked, status, summary_start):
    route = er.egress_route(API, VNET, table)
    if firewall in ('policy', 'allow', 'ipgroup'):
        firewall = _firewall(policies)
    flows = ep.flows_of(tunnel, '10.240.0.4', API, FQDN, 'westeurope')
    found = ep.finding(tunnel, flows, route, firewall, policies, ['10.240.0.0/16'], probe_blocked, ['n1'], API)
    assert (found['cause'], found['status']) == ('egress_ports_blocked', status), found
    assert found['summary'].startswith(summary_start), found['summary']
    if status == 'problem' and firewall:
        fix = found['remediation']['firewall']
        assert (fix['rule_collection_group'], fix['priority'], fix['refused']) == ('aks-tunnel-egress', 199, None)
        assert fix['rules'][0]['name'] == 'aks-tunnel-tcp-443' and found['remediation']['route']['name'] == 'default-fw'
    if status == 'problem' and probe_blocked:
        assert found['remediation']['appliance']['allow'] == ['allow tcp from 10.240.0.0/16 to %s (%s) port 9000' % (API, FQDN)]


def test_classic_firewall_deny_prints_the_az_command_and_is_not_repaired():
    classic = {'name': 'fw', 'properties': {'networkRuleCollections': [], 'applicationRuleCollections': []}}
    network, application = fp.classic_rules(classic)
    firewall = {'name': 'fw-classic', 'id': '/x/fw', 'resource_group': 'rg-hub', 'policy': None, 'policy_id': None, 'kind': 'classic',
                'network': network, 'application': application}
    flows = ep.flows_of(FRONT, '10.240.0.4', API, FQDN, 'westeurope')
    found = ep.finding(FRONT, flows, er.egress_route(API, VNET, FW_ROUTE), firewall, None, ['10.240.0.0/16'], None, ['n1'], API)
    assert found['status'] == 'problem' and found['remediation']['firewall']['refused'].startswith('the firewall uses classic rules')
    assert 'az network firewall network-rule create -g rg-hub -f fw-classic --collection-name aks-tunnel-egress' in found['remediation']['summary']


def test_unknown_api_server_address_is_unknown():
    found = ep.finding(KONN, [], {}, api_ip=None)
    assert found['status'] == 'unknown' and 'API server address is not known' in found['summary']
