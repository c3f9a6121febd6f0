# -*- coding: utf-8 -*-
# Copyright (c) 2026 aks.tunnel contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The egress finding behind a Virtual WAN secured hub (issue 16): the spokes' route to the hub's Azure Firewall is a
VirtualNetworkGateway route whose next hop is the firewall's hub IP (hubIPAddresses.privateIPAddress). A firewall found with that
IP is evaluated like a VNet firewall (allow, deny with the repair plan, unknown with the reason); none found, or the firewalls
unreadable, leaves the verdict to the probe or UNKNOWN naming the next hop - never an OK without proof. Without the effective
routes, a VNet that uses a peering's remote gateways may learn such a route: the route table's system route does not stand."""

from __future__ import annotations

import pytest

from ansible_collections.aks.tunnel.plugins.module_utils import _egress_path as ep
from ansible_collections.aks.tunnel.plugins.module_utils import _egress_route
from ansible_collections.aks.tunnel.plugins.module_utils import _firewall_policy as fp

API = '20.50.1.10'
HUB_IP = '10.100.0.132'
VHUB = '/subscriptions/s/resourceGroups/rg-vwan/providers/Microsoft.Network/virtualHubs/vhub-weu'
ROUTE = {'route': {'prefix': '0.0.0.0/0', 'next_hop_type': 'VirtualNetworkGateway', 'next_hop_ip': HUB_IP, 'source': 'VirtualNetworkGateway',
                   'table': None, 'name': None}, 'label': 'a VirtualNetworkGateway route (0.0.0.0/0) -> VirtualNetworkGateway %s' % HUB_IP,
         'how': 'effective_routes'}
TUNNEL = {'egress': [{'protocol': 'tcp', 'port': 9000}]}


def _policy(action, port='9000'):
    return [{'name': 'fp-vwan', 'id': '/subscriptions/s/resourceGroups/rg-vwan/providers/Microsoft.Network/firewallPolicies/fp-vwan',
             'resource_group': 'rg-vwan', 'groups': [{'name': 'rcg', 'properties': {'priority': 300, 'ruleCollections': [
                 {'ruleCollectionType': 'FirewallPolicyFilterRuleCollection', 'name': 'c', 'priority': 100, 'action': {'type': action},
                  'rules': [{'ruleType': 'NetworkRule', 'name': 'r-%s' % action.lower(), 'ipProtocols': ['TCP'], 'destinationPorts': [port],
                             'sourceAddresses': ['10.240.0.0/16'], 'destinationAddresses': ['ServiceBus']}]}]}}]}]


def _firewall(policies, service_tags=None):
    network, application = fp.policy_rules(policies)
    return {'name': 'fw-vhub', 'id': '/subscriptions/s/resourceGroups/rg-vwan/providers/Microsoft.Network/azureFirewalls/fw-vhub',
            'resource_group': 'rg-vwan', 'policy': 'fp-vwan', 'policy_id': policies[-1]['id'], 'kind': 'policy', 'virtual_hub': VHUB,
            'network': network, 'application': application, 'ip_groups': {}, 'service_tags': service_tags}


IN_TAG = {'servicebus': {'prefixes': ['20.50.1.0/24']}}


@pytest.mark.parametrize('firewall, policies, probe_blocked, status, fragments', [
    # the secured hub's firewall allows it (its tag read): OK naming the rule, the hub in the evidence
    (_firewall(_policy('Allow'), IN_TAG), _policy('Allow'), None, 'ok', ['the Azure Firewall fw-vhub allows', 'r-allow']),
    # it denies it: PROBLEM, the repair planned on the hub's policy
    (_firewall(_policy('Deny'), IN_TAG), _policy('Deny'), None, 'problem', ['the Azure Firewall fw-vhub denies', 'r-deny']),
    # no rule for the port: the default deny
    (_firewall(_policy('Allow', '443'), IN_TAG), _policy('Allow', '443'), None, 'problem', ['no rule allows it']),
    # the tag that decides is not read: UNKNOWN with the reason, even if the probe got through
    (_firewall(_policy('Allow')), _policy('Allow'), [], 'unknown', ["'ServiceBus'"]),
    # no Azure Firewall has the hub IP: the probe decides, else UNKNOWN naming the next hop and what it may be
    (None, None, None, 'unknown', ['no Azure Firewall of this subscription was found with %s as its virtual hub IP' % HUB_IP,
                                   'another subscription']),
    (None, None, [], 'ok', ['the probe got through']),
    # the firewalls could not be read: UNKNOWN with that error
    ({'error': 'HTTP 403: AuthorizationFailed'}, None, None, 'unknown', ['HTTP 403: AuthorizationFailed']),
])
def test_secured_hub_findings(firewall, policies, probe_blocked, status, fragments):
    flows = ep.flows_of(TUNNEL, '10.240.0.4', API, None, 'westeurope')
    found = ep.finding(TUNNEL, flows, ROUTE, firewall, policies, ['10.240.0.0/16'], probe_blocked, ['n1'], API)
    assert found['status'] == status, found
    for fragment in fragments:
        assert fragment in found['summary'] + ' '.join(found.get('evidence') or []), found
    if firewall and firewall.get('virtual_hub') and status != 'unknown':
        assert any('the Azure Firewall fw-vhub of the virtual hub vhub-weu (a Virtual WAN secured hub)' in e for e in found['evidence'])
    if status == 'problem':
        assert found['remediation']['firewall']['policy'] == 'fp-vwan'
        assert found['remediation']['firewall']['rule_collection_group'] == fp.OWNED_NAME


def _route_result(how, source, hop_type, prefix='0.0.0.0/0'):
    return {'how': how, 'label': 'the system route (%s) -> %s' % (prefix, hop_type), 'reason': None,
            'route': {'source': source, 'next_hop_type': hop_type, 'prefix': prefix, 'next_hop_ip': None}}


def _vnet(*peerings):
    return {'properties': {'virtualNetworkPeerings': [{'name': name, 'properties': {'useRemoteGateways': remote}} for name, remote in peerings]}}


@pytest.mark.parametrize('result, vnet, hidden', [
    # the route table's system route to the Internet, the VNet using a hub's gateways (a Virtual WAN connection, a VPN /
    # ExpressRoute hub): a gateway's default route may override it -> not known
    (_route_result('route_table', 'Default', 'Internet'), _vnet(('to-hub', True)), "peering to-hub"),
    (_route_result('route_table', 'Default', 'None', '10.0.0.0/8'), _vnet(('a', False), ('b', True)), 'peering b:'),
    # the SDK's snake_case
    (_route_result('route_table', 'Default', 'Internet'),
     {'virtual_network_peerings': [{'name': 'p', 'use_remote_gateways': True}]}, 'peering p:'),
    # no peering uses remote gateways: the route table stands
    (_route_result('route_table', 'Default', 'Internet'), _vnet(('to-hub', False)), None),
    (_route_result('route_table', 'Default', 'Internet'), {}, None),
    # a user route wins over a gateway's route of the same prefix; the effective routes already hold the gateway's routes
    (_route_result('route_table', 'User', 'VirtualAppliance'), _vnet(('to-hub', True)), None),
    (_route_result('effective_routes', 'Default', 'Internet'), _vnet(('to-hub', True)), None),
])
def test_gateway_routes_hidden_from_the_route_table(result, vnet, hidden):
    reason = _egress_route.gateway_route_hidden(result, vnet)
    if hidden is None:
        assert reason is None
    else:
        assert hidden in reason and 'only in the effective routes' in reason, reason
