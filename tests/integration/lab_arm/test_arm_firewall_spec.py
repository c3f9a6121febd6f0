# -*- coding: utf-8 -*-
# Copyright (c) 2026 aks.tunnel contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The lab's Azure Firewall, Firewall Policy and IP group answers against the spec of their api-version (issue 16): nothing outside
the spec, the polymorphic rule collections and rules checked per type (the ``discriminator`` of the spec). At 2026-03-01 that spec is
derived from azure-mgmt-network 33.1.0's models (tests/lab/derived_specs.py); the polymorphism is derived too."""

from __future__ import annotations

import pytest

from ansible_collections.aks.tunnel.tests.lab import swagger

NET = '2026-03-01'  # what azure-mgmt-network 33 sends; validated against its own (derived) version


@pytest.fixture(scope='module')
def schemas():
    return swagger.SwaggerSchemas()


def _calls(arm):
    base = '/subscriptions/%s/resourceGroups/%s/providers/Microsoft.Network' % (arm.subscription_id, arm.cluster_rg)
    return [(base + '/azureFirewalls/fw-lab', 'AzureFirewalls_Get'), (base + '/azureFirewalls', 'AzureFirewalls_List'),
            (base + '/firewallPolicies/fp-lab', 'FirewallPolicies_Get'),
            (base + '/firewallPolicies/fp-lab/ruleCollectionGroups', 'FirewallPolicyRuleCollectionGroups_List'),
            (base + '/firewallPolicies/fp-lab/ruleCollectionGroups/rcg-aks', 'FirewallPolicyRuleCollectionGroups_Get'),
            (base + '/ipGroups/ipg-nodes', 'IpGroups_Get'), (base + '/ipGroups', 'IpGroups_ListByResourceGroup')]


def test_firewall_answers_carry_nothing_outside_the_spec(arm, schemas):
    assert swagger.spec_version('azfw', NET) == (NET, True)
    for path, operation_id in _calls(arm):
        response = arm.arm('GET', path, NET)
        assert response.status_code == 200, (path, response.text)
        body = response.json()
        schemas.validate_response('azfw', operation_id, 200, body, NET)
        assert schemas.undefined_properties(schemas.response_schema('azfw', operation_id, 200, NET), body) == [], operation_id
    group = arm.arm('GET', _calls(arm)[3][0], NET).json()['value'][0]
    assert group['properties']['ruleCollections'][0]['rules'][0]['ruleType'] == 'ApplicationRule'


GROUP = {'name': 'g', 'properties': {'priority': 200, 'ruleCollections': [
    {'ruleCollectionType': 'FirewallPolicyFilterRuleCollection', 'name': 'c', 'priority': 100, 'action': {'type': 'Allow'},
     'rules': [{'ruleType': 'NetworkRule', 'name': 'r', 'ipProtocols': ['TCP'], 'sourceIpGroups': ['/x/ipGroups/a'], 'destinationPorts': ['443']}]}]}}


@pytest.mark.parametrize('path, value, fragment', [
    (('ruleType',), 'FilterRule', 'is not valid under any of the given schemas'),            # no such subtype
    (('ipProtocols',), ['TCPX'], 'is not valid under any of the given schemas'),             # the NetworkRule subtype's enum
    (('ruleType',), 'ApplicationRule', None),      # ipProtocols and destinationPorts are no ApplicationRule fields: allowed, reported
])
def test_polymorphic_rules_are_checked_per_type(schemas, path, value, fragment):
    import copy  # pylint: disable=import-outside-toplevel
    body = copy.deepcopy(GROUP)
    body['properties']['ruleCollections'][0]['rules'][0][path[0]] = value
    if fragment:
        with pytest.raises(swagger.SchemaValidationError, match=fragment):
            schemas.validate_response('azfw', 'FirewallPolicyRuleCollectionGroups_Get', 200, body, NET)
        return
    schemas.validate_response('azfw', 'FirewallPolicyRuleCollectionGroups_Get', 200, body, NET)
    undefined = schemas.undefined_properties(schemas.response_schema('azfw', 'FirewallPolicyRuleCollectionGroups_Get', 200, NET), body)
    assert sorted(undefined) == ['/properties/ruleCollections/0/rules/0/destinationPorts', '/properties/ruleCollections/0/rules/0/ipProtocols']


def test_classic_rules_name_their_protocols_protocols(schemas):
    """A classic network rule (no policy) has ``protocols``; ``ipProtocols`` is the policy NetworkRule's name."""
    firewall = {'location': 'x', 'properties': {'networkRuleCollections': [{'name': 'c', 'properties': {
        'priority': 100, 'action': {'type': 'Deny'}, 'rules': [{'name': 'r', 'protocols': ['TCP'], 'ipProtocols': ['TCP']}]}}]}}
    schema = schemas.response_schema('azfw', 'AzureFirewalls_Get', 200, NET)
    assert schemas.undefined_properties(schema, firewall) == ['/properties/networkRuleCollections/0/properties/rules/0/ipProtocols']
