# -*- coding: utf-8 -*-
# Copyright (c) 2026 aks.tunnel contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Azure Firewall address matching (issue 16): IP groups decided from their addresses, service tags decided only where Azure's
documented semantics prove it (AzureCloud, AzureCloud.<region>), everything else undecided with the reason - never a false OK."""

from __future__ import annotations

import pytest

from ansible_collections.aks.tunnel.plugins.module_utils import _firewall_policy as fp

API = '20.50.1.10'
PRIVATE_API = '10.240.8.4'
NODE = '10.240.0.4'
IPG_NODES = '/subscriptions/s/resourceGroups/rg-hub/providers/Microsoft.Network/ipGroups/ipg-nodes'
IPG_API = '/subscriptions/s/resourceGroups/rg-hub/providers/Microsoft.Network/ipGroups/ipg-api'
IPG_OTHER = '/subscriptions/s/resourceGroups/rg-hub/providers/Microsoft.Network/ipGroups/ipg-other'
READ = {IPG_NODES.lower(): {'addresses': ['10.240.0.0/16']}, IPG_API.lower(): {'addresses': ['20.50.1.0-20.50.1.20', '52.1.1.1']},
        IPG_OTHER.lower(): {'addresses': ['192.168.0.0/24']}}


def _flow(destination=API, region='westeurope', port=9000, source=NODE):
    return {'protocol': 'TCP', 'port': port, 'tls': False, 'source_ip': source, 'destination_ip': destination, 'fqdn': None,
            'azure_region': region if destination == API else None}


def _rule(action, sources=('*',), destinations=(), source_groups=(), destination_groups=()):
    return fp.policy_rules([{'name': 'fp', 'groups': [{'name': 'g', 'properties': {'priority': 100, 'ruleCollections': [
        {'ruleCollectionType': 'FirewallPolicyFilterRuleCollection', 'name': 'c', 'priority': 100, 'action': {'type': action},
         'rules': [{'ruleType': 'NetworkRule', 'name': 'r', 'ipProtocols': ['TCP'], 'destinationPorts': ['9000'],
                    'sourceAddresses': list(sources), 'destinationAddresses': list(destinations),
                    'sourceIpGroups': list(source_groups), 'destinationIpGroups': list(destination_groups)}]}]}}]}])


@pytest.mark.parametrize('action, rule, flow, ip_groups, access, reason', [
    # --- service tags as the destination (the API server)
    ('Allow', {'destinations': ['AzureCloud']}, _flow(), None, 'Allow', None),
    ('Allow', {'destinations': ['AzureCloud.westeurope']}, _flow(), None, 'Allow', None),
    ('Allow', {'destinations': ['AzureCloud.WestEurope']}, _flow(), None, 'Allow', None),
    # another region's addresses do not hold the API server of a westeurope cluster
    ('Allow', {'destinations': ['AzureCloud.eastus']}, _flow(), None, 'Deny', None),
    ('Deny', {'destinations': ['AzureCloud.eastus']}, _flow(), None, 'Deny', 'no rule allows it'),
    # the region is not known: AzureCloud still holds every public Azure address, a regional tag is undecided
    ('Allow', {'destinations': ['AzureCloud']}, _flow(region=None), None, 'Allow', None),
    ('Allow', {'destinations': ['AzureCloud.westeurope']}, _flow(region=None), None, 'Unknown', "destination 'AzureCloud.westeurope'"),
    # a private API server (private cluster) is in no AzureCloud tag
    ('Allow', {'destinations': ['AzureCloud']}, _flow(PRIVATE_API), None, 'Deny', None),
    # other tags need their published ranges: undecided, never assumed (an Allow -> unknown, not a false deny; a Deny -> unknown,
    # not a false allow)
    ('Allow', {'destinations': ['AzureKubernetesService']}, _flow(), None, 'Unknown', "destination 'AzureKubernetesService' (a service tag"),
    ('Allow', {'destinations': ['ApiManagement']}, _flow(), None, 'Unknown', "destination 'ApiManagement'"),
    ('Allow', {'destinations': ['Storage.westeurope']}, _flow(), None, 'Unknown', "destination 'Storage.westeurope'"),
    ('Deny', {'destinations': ['AzureFrontDoor.Backend']}, _flow(), None, 'Deny', 'no rule allows it'),
    # --- service tags as the source (the node's private address): in no AzureCloud tag, even when the API server is public
    ('Allow', {'sources': ['AzureCloud'], 'destinations': ['*']}, _flow(), None, 'Deny', None),
    ('Deny', {'sources': ['AzureCloud.westeurope'], 'destinations': ['*']}, _flow(), None, 'Deny', 'no rule allows it'),
    # --- IP groups, read
    ('Allow', {'sources': [], 'source_groups': [IPG_NODES], 'destinations': ['*']}, _flow(), READ, 'Allow', None),
    ('Allow', {'destination_groups': [IPG_API]}, _flow(), READ, 'Allow', None),                      # a range a-b
    ('Allow', {'destination_groups': [IPG_OTHER]}, _flow(), READ, 'Deny', None),                     # read, does not hold it
    ('Allow', {'sources': [], 'source_groups': [IPG_OTHER], 'destinations': ['*']}, _flow(), READ, 'Deny', None),
    ('Allow', {'destination_groups': [IPG_OTHER, IPG_API]}, _flow(), READ, 'Allow', None),
    ('Allow', {'destination_groups': [IPG_API.upper()]}, _flow(), READ, 'Allow', None),              # ids compare case-insensitively
    # --- IP groups not read or unreadable: undecided with the reason
    ('Allow', {'destination_groups': [IPG_API]}, _flow(), None, 'Unknown', 'IP group ipg-api (its addresses were not read)'),
    ('Allow', {'destination_groups': [IPG_API]}, _flow(), {IPG_API.lower(): {'error': 'HTTP 403'}}, 'Unknown', 'IP group ipg-api (HTTP 403)'),
    ('Deny', {'destination_groups': [IPG_API]}, _flow(), {IPG_API.lower(): {'error': 'HTTP 403'}}, 'Deny', 'no rule allows it'),
    # an address list hit decides before an unreadable group
    ('Allow', {'destinations': [API], 'destination_groups': [IPG_API]}, _flow(), {}, 'Allow', None),
])
def test_addresses_service_tags_and_ip_groups(action, rule, flow, ip_groups, access, reason):
    network, application = _rule(action, **rule)
    verdict = fp.evaluate(network, application, flow, ip_groups)
    assert verdict['access'] == access, verdict
    if reason:
        assert reason in verdict['reason'] or any(reason in u['reason'] for u in verdict['undecided']), verdict


def test_an_undecided_deny_before_an_allow_makes_it_unknown():
    """A Deny through an unreadable IP group before the Allow that matches: it may deny first."""
    deny, _app = _rule('Deny', destination_groups=[IPG_API])
    allow, _app = _rule('Allow', destinations=['AzureCloud'])
    verdict = fp.evaluate(deny + allow, [], _flow(), {IPG_API.lower(): {'error': 'HTTP 403'}})
    assert verdict['access'] == 'Unknown' and 'IP group ipg-api (HTTP 403)' in verdict['reason']


def test_rule_ip_groups_lists_each_group_once():
    network, _app = _rule('Allow', source_groups=[IPG_NODES], destination_groups=[IPG_API, IPG_NODES.upper()])
    assert fp.rule_ip_groups(network) == [IPG_NODES, IPG_API]


@pytest.mark.parametrize('resource, addresses', [
    ({'properties': {'ipAddresses': ['10.0.0.0/8', ' 1.2.3.4 ']}}, ['10.0.0.0/8', '1.2.3.4']),   # REST
    ({'ip_addresses': ['10.0.0.0/8']}, ['10.0.0.0/8']),                                            # SDK as_dict
    ({'properties': {}}, []),
])
def test_ip_group_addresses(resource, addresses):
    assert fp.ip_group_addresses(resource) == {'addresses': addresses}
