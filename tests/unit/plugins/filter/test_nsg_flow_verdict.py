# -*- coding: utf-8 -*-
# Copyright (c) 2026 aks.tunnel contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import pytest
import yaml

from ansible.errors import AnsibleFilterError

from ansible_collections.aks.tunnel.plugins.filter import nsg_flow_verdict as plugin
from ansible_collections.aks.tunnel.plugins.filter.nsg_flow_verdict import FilterModule, nsg_flow_verdict

VNET = ['10.240.0.0/16']
ASG_ID = '/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/applicationSecurityGroups/asg-nodes'
DENY_ARM = {'name': 'DenyKubelet', 'properties': {
    'priority': 200, 'access': 'Deny', 'direction': 'Inbound', 'protocol': 'Tcp', 'sourceAddressPrefix': '*',
    'destinationAddressPrefix': '*', 'sourcePortRange': '*', 'destinationPortRange': '10250'}}
DENY_SDK = {'name': 'DenyKubeletSdk', 'priority': 300, 'access': 'Deny', 'direction': 'Inbound', 'protocol': 'Tcp',
            'source_address_prefix': '*', 'destination_address_prefix': '*', 'source_port_range': '*',
            'destination_port_ranges': ['10250']}
STORAGE_ARM = {'name': 'DenyStorage', 'properties': dict(DENY_ARM['properties'], sourceAddressPrefix='Storage', priority=150)}
ALLOW_STORAGE_ARM = {'name': 'AllowStorage', 'properties': dict(STORAGE_ARM['properties'], access='Allow')}
ASG_ARM = {'name': 'DenyAsg', 'properties': {
    'priority': 120, 'access': 'Deny', 'direction': 'Inbound', 'protocol': '*', 'sourceApplicationSecurityGroups': [{'id': ASG_ID}],
    'destinationAddressPrefix': '*', 'sourcePortRange': '*', 'destinationPortRange': '*'}}
NSG_ARM = {'id': '/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/networkSecurityGroups/nsg1', 'name': 'nsg1',
           'type': 'Microsoft.Network/networkSecurityGroups', 'properties': {'securityRules': [DENY_ARM]}}
NSG_SDK = {'name': 'nsg1', 'security_rules': [DENY_SDK], 'default_security_rules': []}

BASE = {'port': 10250, 'protocol': 'Tcp', 'source': '10.240.0.4', 'destination': '10.240.0.5', 'direction': 'Inbound',
        'vnet_prefixes': VNET}

CASES = [
    ('contract-example-defaults', [], {}, {
        'access': 'Allow', 'rule': 'AllowVnetInBound', 'priority': 65000,
        'reason': "default rule 'AllowVnetInBound' (priority 65000, Allow) matches inbound Tcp 10.240.0.4 -> 10.240.0.5:10250"}),
    ('arm-deny', [DENY_ARM], {}, {
        'access': 'Deny', 'rule': 'DenyKubelet', 'priority': 200,
        'reason': "rule 'DenyKubelet' (priority 200, Deny) matches inbound Tcp 10.240.0.4 -> 10.240.0.5:10250"}),
    ('nsg-object-arm', NSG_ARM, {}, {
        'access': 'Deny', 'rule': 'DenyKubelet', 'priority': 200,
        'reason': "rule 'DenyKubelet' (priority 200, Deny) in NSG '%s' matches inbound Tcp 10.240.0.4 -> 10.240.0.5:10250"
                  % NSG_ARM['id']}),
]


@pytest.mark.parametrize('rules, overrides, expected', [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_exact_verdicts(rules, overrides, expected):
    kwargs = dict(BASE, **overrides)
    assert nsg_flow_verdict(rules, **kwargs) == expected


SHORT_CASES = [
    ('sdk-deny', [DENY_SDK], {}, ('Deny', 'DenyKubeletSdk', 300)),
    ('nsg-object-sdk', NSG_SDK, {}, ('Deny', 'DenyKubeletSdk', 300)),
    ('other-port', [DENY_ARM], {'port': 22}, ('Allow', 'AllowVnetInBound', 65000)),
    ('port-as-string', [DENY_ARM], {'port': '10250'}, ('Deny', 'DenyKubelet', 200)),
    ('udp-skips-tcp-rule', [DENY_ARM], {'protocol': 'udp'}, ('Allow', 'AllowVnetInBound', 65000)),
    ('outbound-ignores-inbound-rule', [DENY_ARM], {'direction': 'Outbound'}, ('Allow', 'AllowVnetOutBound', 65000)),
    ('egress-internet', [], {'direction': 'Outbound', 'destination': '20.50.60.70', 'port': 443},
     ('Allow', 'AllowInternetOutBound', 65001)),
    ('unknown-tag-first', [ALLOW_STORAGE_ARM, DENY_ARM], {}, ('Unknown', 'AllowStorage', 150)),
    ('unknown-tag-same-access', [DENY_ARM, STORAGE_ARM], {}, ('Deny', 'DenyKubelet', 200)),
    ('unknown-tag-irrelevant-port', [ALLOW_STORAGE_ARM, DENY_ARM], {'port': 22}, ('Allow', 'AllowVnetInBound', 65000)),
    ('asg-member', [ASG_ARM], {'asg_members': {ASG_ID.upper(): ['10.240.0.4']}}, ('Deny', 'DenyAsg', 120)),
    ('asg-not-member', [ASG_ARM], {'asg_members': {ASG_ID: ['10.240.0.9']}}, ('Allow', 'AllowVnetInBound', 65000)),
    ('asg-membership-missing', [ASG_ARM], {}, ('Unknown', 'DenyAsg', 120)),
    ('no-vnet-prefixes', [], {'vnet_prefixes': None}, ('Unknown', 'AllowVnetInBound', 65000)),
    ('source-port-given', [{'name': 'DenyLow', 'properties': dict(DENY_ARM['properties'], sourcePortRange='0-1023')}],
     {'source_port': 1000}, ('Deny', 'DenyLow', 200)),
    ('icmp-without-port', [], {'protocol': 'Icmp', 'port': None}, ('Allow', 'AllowVnetInBound', 65000)),
    ('ipv6', [], {'source': 'fd00::4', 'destination': 'fd00::5', 'vnet_prefixes': ['fd00::/64']},
     ('Allow', 'AllowVnetInBound', 65000)),
]


@pytest.mark.parametrize('rules, overrides, expected', [c[1:] for c in SHORT_CASES], ids=[c[0] for c in SHORT_CASES])
def test_verdicts(rules, overrides, expected):
    result = nsg_flow_verdict(rules, **dict(BASE, **overrides))
    assert sorted(result) == ['access', 'priority', 'reason', 'rule']
    assert (result['access'], result['rule'], result['priority']) == expected


ERRORS = [
    ('no-source', [], {'source': None}, 'nsg_flow_verdict: source and destination are required'),
    ('no-destination', [], {'destination': None}, 'source and destination are required'),
    ('rules-string', 'DenyKubelet', {}, 'expected a list of security rules or an NSG object, got str'),
    ('rule-without-priority', [{'name': 'x', 'properties': {'access': 'Deny'}}], {}, "security rule 'x' #0: priority must be an integer"),
    ('bad-protocol', [], {'protocol': 'Gre'}, 'flow protocol must be one of Tcp, Udp, Icmp, Esp, Ah'),
    ('bad-direction', [], {'direction': 'In'}, 'direction must be Inbound or Outbound'),
    ('bad-ip', [], {'source': '10.240.0.300'}, 'source_ip must be a single IP address'),
    ('missing-port', [], {'port': None}, 'destination_port is required for Tcp/Udp flows'),
    ('bad-vnet', [], {'vnet_prefixes': ['nope']}, "vnet_prefixes: 'nope' is not a CIDR prefix"),
    ('bad-rule-port', [{'name': 'x', 'properties': dict(DENY_ARM['properties'], destinationPortRange='1-2-3')}], {},
     'Security rule has invalid Port range. Value provided: 1-2-3'),
]


@pytest.mark.parametrize('rules, overrides, message', [c[1:] for c in ERRORS], ids=[c[0] for c in ERRORS])
def test_errors(rules, overrides, message):
    with pytest.raises(AnsibleFilterError) as excinfo:
        nsg_flow_verdict(rules, **dict(BASE, **overrides))
    assert message in str(excinfo.value)
    assert str(excinfo.value).startswith('nsg_flow_verdict: ')


def test_filter_registered():
    assert FilterModule().filters() == {'nsg_flow_verdict': nsg_flow_verdict}


@pytest.mark.parametrize('block', ['DOCUMENTATION', 'EXAMPLES', 'RETURN'])
def test_docs_are_yaml(block):
    data = yaml.safe_load(getattr(plugin, block))
    assert data
    if block == 'DOCUMENTATION':
        assert data['name'] == 'nsg_flow_verdict'
        assert data['version_added'] == '0.1.0'
        assert set(data['options']) == set(['_input', 'port', 'protocol', 'source', 'destination', 'direction',
                                            'vnet_prefixes', 'asg_members', 'source_port'])
