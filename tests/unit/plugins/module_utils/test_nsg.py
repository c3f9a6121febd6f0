# -*- coding: utf-8 -*-
# Copyright (c) 2026 aks.tunnel contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import copy

import pytest

from ansible_collections.aks.tunnel.plugins.module_utils._nsg import (
    DEFAULT_RULE_NAMES,
    CompiledNsg,
    NsgInputError,
    NsgPriorityError,
    NsgValidationError,
    build_allow_rule,
    compile_nsg,
    default_rules,
    evaluate_nsg,
    evaluate_path,
    find_allow_priority,
    normalize_rule,
    validate_rule,
)

VNET = ['10.240.0.0/16']
NODE_A = '10.240.0.4'
NODE_B = '10.240.0.5'
API_SERVER = '20.50.60.70'
ASG_ID = '/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/applicationSecurityGroups/asg-nodes'
NSG_ID = '/subscriptions/s/resourceGroups/mc_rg/providers/Microsoft.Network/networkSecurityGroups/aks-agentpool-1-nsg'


def arm(name, priority, access='Deny', direction='Inbound', protocol='Tcp', src='*', dst='*', dport='10250', sport='*',
        **extra):
    """An ARM REST shaped rule; extra camelCase properties override/add fields."""
    props = {
        'priority': priority, 'access': access, 'direction': direction, 'protocol': protocol,
        'sourceAddressPrefix': src, 'destinationAddressPrefix': dst,
        'sourcePortRange': sport, 'destinationPortRange': dport,
    }
    props.update(extra)
    return {'name': name, 'properties': props}


def sdk(name, priority, access='Deny', direction='Inbound', protocol='Tcp', src='*', dst='*', dport='10250', sport='*',
        **extra):
    """An Azure SDK as_dict() shaped rule (flat snake_case)."""
    rule = {
        'name': name, 'priority': priority, 'access': access, 'direction': direction, 'protocol': protocol,
        'source_address_prefix': src, 'destination_address_prefix': dst,
        'source_port_range': sport, 'destination_port_range': dport,
    }
    rule.update(extra)
    return rule


def flow(**overrides):
    base = {'direction': 'Inbound', 'protocol': 'Tcp', 'source_ip': NODE_A, 'destination_ip': NODE_B,
            'destination_port': 10250, 'vnet_prefixes': VNET}
    base.update(overrides)
    return base


def asg_ref(asg_id=ASG_ID):
    return [{'id': asg_id}]


# --------------------------------------------------------------------------- single NSG verdicts

VERDICT_CASES = [
    # id, rules, flow overrides, (access, rule, priority)
    ('defaults-vnet-in', [], {}, ('Allow', 'AllowVnetInBound', 65000)),
    ('defaults-internet-in-denied', [], {'source_ip': '203.0.113.9'}, ('Deny', 'DenyAllInBound', 65500)),
    ('defaults-lb-probe-to-vnet-is-vnet-tag', [], {'source_ip': '168.63.129.16'}, ('Allow', 'AllowVnetInBound', 65000)),
    ('defaults-lb-probe-outside-vnet', [], {'source_ip': '168.63.129.16', 'destination_ip': '10.250.0.5'},
     ('Allow', 'AllowAzureLoadBalancerInBound', 65001)),
    ('defaults-vnet-out', [], {'direction': 'Outbound'}, ('Allow', 'AllowVnetOutBound', 65000)),
    ('defaults-internet-out', [], {'direction': 'Outbound', 'destination_ip': API_SERVER, 'destination_port': 443},
     ('Allow', 'AllowInternetOutBound', 65001)),
    ('defaults-private-non-vnet-out', [], {'direction': 'Outbound', 'destination_ip': '192.168.1.1'},
     ('Deny', 'DenyAllOutBound', 65500)),
    ('defaults-cgnat-is-not-internet', [], {'direction': 'Outbound', 'destination_ip': '100.64.0.1'},
     ('Deny', 'DenyAllOutBound', 65500)),
    ('deny-single-port', [arm('DenyKubelet', 200)], {}, ('Deny', 'DenyKubelet', 200)),
    ('deny-single-port-other-port', [arm('DenyKubelet', 200)], {'destination_port': 10251},
     ('Allow', 'AllowVnetInBound', 65000)),
    ('range-inside', [arm('DenyRange', 300, dport='10000-11000')], {}, ('Deny', 'DenyRange', 300)),
    ('range-low-edge', [arm('DenyRange', 300, dport='10000-11000')], {'destination_port': 10000}, ('Deny', 'DenyRange', 300)),
    ('range-high-edge', [arm('DenyRange', 300, dport='10000-11000')], {'destination_port': 11000}, ('Deny', 'DenyRange', 300)),
    ('range-just-outside', [arm('DenyRange', 300, dport='10000-11000')], {'destination_port': 11001},
     ('Allow', 'AllowVnetInBound', 65000)),
    ('port-star', [arm('DenyAll', 4000, dport='*')], {}, ('Deny', 'DenyAll', 4000)),
    ('port-full-range', [arm('DenyAll', 4000, dport='0-65535')], {'destination_port': 0}, ('Deny', 'DenyAll', 4000)),
    ('plural-ports-hit', [arm('DenyMany', 250, dport=None, destinationPortRanges=['22', '10250'])], {},
     ('Deny', 'DenyMany', 250)),
    ('plural-ports-with-range', [arm('DenyMany', 250, dport=None, destinationPortRanges=['22', '10240-10260'])], {},
     ('Deny', 'DenyMany', 250)),
    ('plural-wins-over-singular', [arm('DenySsh', 250, dport='*', destinationPortRanges=['22'])], {},
     ('Allow', 'AllowVnetInBound', 65000)),
    ('empty-plural-means-unset', [arm('DenyKubelet', 250, destinationPortRanges=[])], {}, ('Deny', 'DenyKubelet', 250)),
    ('integer-port', [arm('DenyKubelet', 250, dport=10250)], {}, ('Deny', 'DenyKubelet', 250)),
    ('lowest-number-wins', [arm('DenyAll', 110, dport='*'), arm('AllowKubelet', 100, access='Allow')], {},
     ('Allow', 'AllowKubelet', 100)),
    ('lowest-number-wins-deny', [arm('AllowKubelet', 300, access='Allow'), arm('DenyAll', 110, dport='*')], {},
     ('Deny', 'DenyAll', 110)),
    ('same-priority-other-direction', [arm('DenyIn', 200), arm('AllowOut', 200, access='Allow', direction='Outbound')], {},
     ('Deny', 'DenyIn', 200)),
    ('outbound-rules-ignored-inbound', [arm('DenyOut', 200, direction='Outbound')], {}, ('Allow', 'AllowVnetInBound', 65000)),
    ('protocol-mismatch', [arm('DenyUdp', 200, protocol='Udp')], {}, ('Allow', 'AllowVnetInBound', 65000)),
    ('protocol-star', [arm('DenyAny', 200, protocol='*')], {}, ('Deny', 'DenyAny', 200)),
    ('protocol-case-insensitive', [arm('DenyTcp', 200, protocol='tcp')], {}, ('Deny', 'DenyTcp', 200)),
    ('udp-flow', [arm('DenyUdp', 200, protocol='Udp', dport='1194')],
     {'protocol': 'udp', 'destination_port': 1194}, ('Deny', 'DenyUdp', 200)),
    ('icmp-skips-port-rule', [arm('DenyAnyKubelet', 200, protocol='*')], {'protocol': 'Icmp', 'destination_port': None},
     ('Allow', 'AllowVnetInBound', 65000)),
    ('icmp-matches-star-port', [arm('DenyIcmp', 200, protocol='Icmp', dport='*')],
     {'protocol': 'Icmp', 'destination_port': None}, ('Deny', 'DenyIcmp', 200)),
    ('esp-protocol', [arm('DenyEsp', 200, protocol='Esp', dport='*')], {'protocol': 'Esp', 'destination_port': None},
     ('Deny', 'DenyEsp', 200)),
    ('ah-rule-tcp-flow', [arm('DenyAh', 200, protocol='Ah', dport='*')], {}, ('Allow', 'AllowVnetInBound', 65000)),
    ('sdk-shape', [sdk('DenyKubelet', 200)], {}, ('Deny', 'DenyKubelet', 200)),
    ('sdk-plural-ports', [sdk('DenyMany', 200, dport=None, destination_port_ranges=['10250-10255'])], {},
     ('Deny', 'DenyMany', 200)),
    ('sdk-plural-prefixes', [sdk('DenyNodes', 200, src=None, source_address_prefixes=['10.1.0.0/16', '10.240.0.4'])], {},
     ('Deny', 'DenyNodes', 200)),
    ('mixed-shapes', [sdk('AllowKubelet', 100, access='Allow'), arm('DenyAll', 150, dport='*')], {},
     ('Allow', 'AllowKubelet', 100)),
    ('source-cidr-miss', [arm('DenyOtherSubnet', 200, src='10.240.1.0/24')], {}, ('Allow', 'AllowVnetInBound', 65000)),
    ('source-cidr-hit', [arm('DenyOtherSubnet', 200, src='10.240.1.0/24')], {'source_ip': '10.240.1.7'},
     ('Deny', 'DenyOtherSubnet', 200)),
    ('non-canonical-cidr', [arm('DenyHostBits', 200, src='10.240.0.9/24')], {}, ('Deny', 'DenyHostBits', 200)),
    ('single-ip-destination', [arm('DenyB', 200, dst='10.240.0.5')], {}, ('Deny', 'DenyB', 200)),
    ('single-ip-destination-miss', [arm('DenyB', 200, dst='10.240.0.6')], {}, ('Allow', 'AllowVnetInBound', 65000)),
    ('plural-prefix-miss', [arm('DenyList', 200, src=None, sourceAddressPrefixes=['10.1.0.0/16', '10.2.0.4'])], {},
     ('Allow', 'AllowVnetInBound', 65000)),
    ('any-keyword-lenient', [arm('DenyAny', 200, src='Any')], {}, ('Deny', 'DenyAny', 200)),
    ('tag-virtualnetwork', [arm('DenyVnet', 200, src='VirtualNetwork', dst='VirtualNetwork')], {},
     ('Deny', 'DenyVnet', 200)),
    ('tag-virtualnetwork-case', [arm('DenyVnet', 200, src='virtualnetwork')], {}, ('Deny', 'DenyVnet', 200)),
    ('tag-virtualnetwork-miss', [arm('DenyVnet', 200, src='VirtualNetwork')], {'source_ip': '203.0.113.9'},
     ('Deny', 'DenyAllInBound', 65500)),
    ('tag-internet-node-source', [arm('DenyInternet', 200, src='Internet')], {}, ('Allow', 'AllowVnetInBound', 65000)),
    ('tag-internet-public-source', [arm('DenyInternet', 200, src='Internet', dport='*')], {'source_ip': '203.0.113.9'},
     ('Deny', 'DenyInternet', 200)),
    ('tag-internet-outbound-deny', [arm('DenyInternetOut', 200, direction='Outbound', dst='Internet', dport='443')],
     {'direction': 'Outbound', 'destination_ip': API_SERVER, 'destination_port': 443}, ('Deny', 'DenyInternetOut', 200)),
    ('tag-internet-public-vnet-space', [arm('DenyInternetOut', 200, direction='Outbound', dst='Internet', dport='*')],
     {'direction': 'Outbound', 'destination_ip': '20.1.0.5', 'vnet_prefixes': VNET + ['20.1.0.0/24']},
     ('Allow', 'AllowVnetOutBound', 65000)),
    ('tag-azureloadbalancer', [arm('DenyLb', 200, src='AzureLoadBalancer', dport='*')], {'source_ip': '168.63.129.16'},
     ('Deny', 'DenyLb', 200)),
    ('tag-azureloadbalancer-miss', [arm('DenyLb', 200, src='AzureLoadBalancer')], {}, ('Allow', 'AllowVnetInBound', 65000)),
    ('unknown-tag-before-decisive', [arm('DenyStorage', 200, src='Storage')], {}, ('Unknown', 'DenyStorage', 200)),
    ('regional-tag-before-decisive', [arm('DenyCloud', 200, src='AzureCloud.westeurope')], {},
     ('Unknown', 'DenyCloud', 200)),
    ('unknown-tag-after-decisive', [arm('AllowKubelet', 300, access='Allow'), arm('DenyStorage', 4000, src='Storage')], {},
     ('Allow', 'AllowKubelet', 300)),
    ('unknown-tag-wrong-port-skipped', [arm('DenyStorage', 200, src='Storage', dport='22')], {},
     ('Allow', 'AllowVnetInBound', 65000)),
    ('unknown-tag-wrong-protocol-skipped', [arm('DenyStorage', 200, src='Storage', protocol='Udp')], {},
     ('Allow', 'AllowVnetInBound', 65000)),
    ('unknown-tag-wrong-destination-skipped', [arm('DenyStorage', 200, src='Storage', dst='10.9.9.9')], {},
     ('Allow', 'AllowVnetInBound', 65000)),
    ('unknown-tag-same-access-is-certain', [arm('AllowStorage', 200, access='Allow', src='Storage')], {},
     ('Allow', 'AllowVnetInBound', 65000)),
    ('unknown-allow-before-deny', [arm('AllowStorage', 200, access='Allow', src='Storage'), arm('DenyKubelet', 300)], {},
     ('Unknown', 'AllowStorage', 200)),
    ('unknown-tag-in-plural-list', [arm('DenyMixed', 200, src=None, sourceAddressPrefixes=['10.1.0.0/16', 'Storage'])], {},
     ('Unknown', 'DenyMixed', 200)),
    ('known-hit-beats-unknown-entry', [arm('DenyMixed', 200, src=None, sourceAddressPrefixes=['10.240.0.0/24', 'Storage'])],
     {}, ('Deny', 'DenyMixed', 200)),
    ('asg-member', [arm('DenyAsg', 200, src=None, sourceApplicationSecurityGroups=asg_ref())],
     {'asg_members': {ASG_ID: [NODE_A]}}, ('Deny', 'DenyAsg', 200)),
    ('asg-member-cidr-and-case', [arm('DenyAsg', 200, src=None, sourceApplicationSecurityGroups=asg_ref(ASG_ID.upper()))],
     {'asg_members': {ASG_ID: ['10.240.0.0/30', '10.240.0.4/32']}}, ('Deny', 'DenyAsg', 200)),
    ('asg-not-member', [arm('DenyAsg', 200, src=None, sourceApplicationSecurityGroups=asg_ref())],
     {'asg_members': {ASG_ID: ['10.240.0.99']}}, ('Allow', 'AllowVnetInBound', 65000)),
    ('asg-membership-missing', [arm('DenyAsg', 200, src=None, sourceApplicationSecurityGroups=asg_ref())], {},
     ('Unknown', 'DenyAsg', 200)),
    ('asg-destination', [arm('DenyToAsg', 200, dst=None, destinationApplicationSecurityGroups=asg_ref())],
     {'asg_members': {ASG_ID.lower(): [NODE_B]}}, ('Deny', 'DenyToAsg', 200)),
    ('asg-sdk-shape', [sdk('DenyAsg', 200, src=None, source_application_security_groups=[{'id': ASG_ID, 'location': 'x'}])],
     {'asg_members': {ASG_ID: [NODE_A]}}, ('Deny', 'DenyAsg', 200)),
    ('ipv6-deny', [arm('DenyV6', 200, src='fd00:10::/64')],
     {'source_ip': 'fd00:10::4', 'destination_ip': 'fd00:10::5', 'vnet_prefixes': ['fd00:10::/64']}, ('Deny', 'DenyV6', 200)),
    ('ipv6-flow-ipv4-rule', [arm('DenyV4', 200, src='10.0.0.0/8')],
     {'source_ip': 'fd00:10::4', 'destination_ip': 'fd00:10::5', 'vnet_prefixes': ['fd00:10::/64']},
     ('Allow', 'AllowVnetInBound', 65000)),
    ('ipv6-internet-out', [], {'direction': 'Outbound', 'source_ip': 'fd00:10::4', 'destination_ip': '2001:db8::1',
                               'destination_port': 443, 'vnet_prefixes': ['fd00:10::/64']},
     ('Allow', 'AllowInternetOutBound', 65001)),
    ('ipv6-link-local-out', [], {'direction': 'Outbound', 'source_ip': 'fd00:10::4', 'destination_ip': 'fe80::1',
                                 'vnet_prefixes': ['fd00:10::/64']}, ('Deny', 'DenyAllOutBound', 65500)),
    ('no-vnet-prefixes-default-unknown', [], {'vnet_prefixes': None}, ('Unknown', 'AllowVnetInBound', 65000)),
    ('no-vnet-prefixes-explicit-deny-first', [arm('DenyKubelet', 200)], {'vnet_prefixes': None}, ('Deny', 'DenyKubelet', 200)),
    ('source-port-specific-undecidable', [arm('DenyFromLowPorts', 200, sport='1024-65535')], {},
     ('Unknown', 'DenyFromLowPorts', 200)),
    ('source-port-given-hit', [arm('DenyFromLowPorts', 200, sport='1024-65535')], {'source_port': 40000},
     ('Deny', 'DenyFromLowPorts', 200)),
    ('source-port-given-miss', [arm('DenyFromLowPorts', 200, sport='1024-65535')], {'source_port': 80},
     ('Allow', 'AllowVnetInBound', 65000)),
    ('source-port-full-range', [arm('DenyFull', 200, sport='0-65535')], {}, ('Deny', 'DenyFull', 200)),
    ('string-priority-and-case', [arm('DenyKubelet', '200', access='deny', direction='inbound')], {},
     ('Deny', 'DenyKubelet', 200)),
    ('rule-named-like-default-kept', [arm('DenyAllInBound', 65500, dport='*', src='*')], {'source_ip': '203.0.113.9'},
     ('Deny', 'DenyAllInBound', 65500)),
]


@pytest.mark.parametrize('rules, overrides, expected', [c[1:] for c in VERDICT_CASES], ids=[c[0] for c in VERDICT_CASES])
def test_evaluate_nsg_verdicts(rules, overrides, expected):
    verdict = evaluate_nsg(rules, **flow(**overrides))
    assert (verdict['access'], verdict['rule'], verdict['priority']) == expected


def test_verdict_shape_and_reason():
    verdict = evaluate_nsg([arm('DenyKubelet', 200)], **flow())
    assert verdict == {
        'access': 'Deny', 'rule': 'DenyKubelet', 'priority': 200, 'nsg': None, 'direction': 'Inbound', 'undecided': [],
        'reason': "rule 'DenyKubelet' (priority 200, Deny) matches inbound Tcp 10.240.0.4 -> 10.240.0.5:10250",
    }


def test_unknown_reason_names_missing_piece_and_fallback():
    verdict = evaluate_nsg([arm('DenyStorage', 200, src='Storage')], **flow())
    assert verdict['access'] == 'Unknown'
    assert 'source service tag Storage cannot be resolved offline' in verdict['reason']
    assert "otherwise default rule 'AllowVnetInBound' (priority 65000, Allow) decides" in verdict['reason']
    assert verdict['undecided'] == [{'rule': 'DenyStorage', 'priority': 200, 'access': 'Deny',
                                     'reason': 'source service tag Storage cannot be resolved offline'}]


def test_same_access_undecided_listed():
    verdict = evaluate_nsg([arm('AllowStorage', 200, access='Allow', src='Storage')], **flow())
    assert verdict['access'] == 'Allow'
    assert [u['rule'] for u in verdict['undecided']] == ['AllowStorage']
    assert 'allowed either way' in verdict['reason']


def test_asg_missing_membership_reason():
    verdict = evaluate_nsg([arm('DenyAsg', 200, src=None, sourceApplicationSecurityGroups=asg_ref())], **flow())
    assert verdict['reason'].count('membership not given (asg_members)') == 1
    assert ASG_ID.lower() in verdict['reason']


def test_source_port_reason():
    verdict = evaluate_nsg([arm('DenyFromLowPorts', 200, sport='1024-65535')], **flow())
    assert 'ephemeral source port; give source_port' in verdict['reason']


def _sdk_default(rule):
    props = rule['properties']
    return {'name': rule['name'], 'priority': props['priority'], 'access': props['access'],
            'direction': props['direction'], 'protocol': props['protocol'],
            'source_address_prefix': props['sourceAddressPrefix'], 'destination_address_prefix': props['destinationAddressPrefix'],
            'source_port_range': '*', 'destination_port_range': '*', 'source_address_prefixes': [],
            'destination_address_prefixes': [], 'source_port_ranges': [], 'destination_port_ranges': []}


NSG_OBJECT_CASES = [
    ('arm-nsg-with-defaults', {
        'id': NSG_ID, 'name': 'aks-agentpool-1-nsg', 'type': 'Microsoft.Network/networkSecurityGroups',
        'properties': {'securityRules': [arm('DenyKubelet', 200)], 'defaultSecurityRules': default_rules(NSG_ID)},
    }, {}, ('Deny', 'DenyKubelet', 200, NSG_ID)),
    ('arm-nsg-without-rules', {'id': NSG_ID, 'name': 'n', 'type': 'Microsoft.Network/networkSecurityGroups',
                               'properties': {}}, {}, ('Allow', 'AllowVnetInBound', 65000, NSG_ID)),
    ('sdk-nsg', {'name': 'customer-nsg', 'security_rules': [sdk('DenyKubelet', 300)], 'default_security_rules': []},
     {}, ('Deny', 'DenyKubelet', 300, 'customer-nsg')),
    ('sdk-nsg-with-sdk-defaults', {'name': 'customer-nsg', 'security_rules': [],
                                   'default_security_rules': [_sdk_default(r) for r in default_rules()]},
     {'source_ip': '203.0.113.9'}, ('Deny', 'DenyAllInBound', 65500, 'customer-nsg')),
    ('compiled-nsg', CompiledNsg([arm('DenyKubelet', 200)], label='precompiled'), {}, ('Deny', 'DenyKubelet', 200, 'precompiled')),
]


@pytest.mark.parametrize('nsg, overrides, expected', [c[1:] for c in NSG_OBJECT_CASES], ids=[c[0] for c in NSG_OBJECT_CASES])
def test_evaluate_nsg_objects(nsg, overrides, expected):
    verdict = evaluate_nsg(nsg, **flow(**overrides))
    assert (verdict['access'], verdict['rule'], verdict['priority'], verdict['nsg']) == expected


def test_compiled_nsg_adds_only_missing_defaults():
    compiled = compile_nsg([arm('DenyAllInBound', 65500, dport='*')] + default_rules()[3:])
    assert sorted(r['name'] for r in compiled.rules) == sorted(DEFAULT_RULE_NAMES)
    assert [r['priority'] for r in compiled.rules] == sorted(r['priority'] for r in compiled.rules)


def test_nsg_label_override():
    verdict = evaluate_nsg([arm('DenyKubelet', 200)], nsg_label='node-nic-nsg', **flow())
    assert verdict['nsg'] == 'node-nic-nsg'
    assert "in NSG 'node-nic-nsg'" in verdict['reason']


# --------------------------------------------------------------------------- default rules

DEFAULT_FACTS = [
    ('AllowVnetInBound', 65000, 'Allow', 'Inbound', 'VirtualNetwork', 'VirtualNetwork', 'Allow inbound traffic from all VMs in VNET'),
    ('AllowAzureLoadBalancerInBound', 65001, 'Allow', 'Inbound', 'AzureLoadBalancer', '*',
     'Allow inbound traffic from azure load balancer'),
    ('DenyAllInBound', 65500, 'Deny', 'Inbound', '*', '*', 'Deny all inbound traffic'),
    ('AllowVnetOutBound', 65000, 'Allow', 'Outbound', 'VirtualNetwork', 'VirtualNetwork',
     'Allow outbound traffic from all VMs to all VMs in VNET'),
    ('AllowInternetOutBound', 65001, 'Allow', 'Outbound', '*', 'Internet', 'Allow outbound traffic from all VMs to Internet'),
    ('DenyAllOutBound', 65500, 'Deny', 'Outbound', '*', '*', 'Deny all outbound traffic'),
]


@pytest.mark.parametrize('index, fact', list(enumerate(DEFAULT_FACTS)), ids=[f[0] for f in DEFAULT_FACTS])
def test_default_rules_match_api(index, fact):
    rule = default_rules(NSG_ID)[index]
    props = rule['properties']
    name, priority, access, direction, src, dst, description = fact
    assert rule['name'] == name
    assert rule['id'] == NSG_ID + '/defaultSecurityRules/' + name
    assert (props['priority'], props['access'], props['direction'], props['sourceAddressPrefix'],
            props['destinationAddressPrefix'], props['description']) == (priority, access, direction, src, dst, description)
    assert (props['protocol'], props['sourcePortRange'], props['destinationPortRange']) == ('*', '*', '*')
    assert props['sourceAddressPrefixes'] == props['destinationAddressPrefixes'] == []
    assert props['sourcePortRanges'] == props['destinationPortRanges'] == []
    assert props['provisioningState'] == 'Succeeded'


def test_default_rules_returns_fresh_copies():
    first = default_rules()
    first[0]['properties']['priority'] = 1
    assert default_rules()[0]['properties']['priority'] == 65000
    assert 'id' not in default_rules()[0]


# --------------------------------------------------------------------------- path evaluation

DENY_IN = [arm('DenyKubeletIn', 200)]
ALLOW_IN = [arm('AllowKubeletIn', 150, access='Allow')]
DENY_OUT = [arm('DenyKubeletOut', 210, direction='Outbound')]
UNKNOWN_OUT = [arm('DenyStorageOut', 120, direction='Outbound', dst='Storage')]
UNKNOWN_IN = [arm('DenyStorageIn', 120, src='Storage')]


def nsg_obj(name, rules):
    return {'id': NSG_ID.replace('aks-agentpool-1-nsg', name), 'name': name, 'type': 'Microsoft.Network/networkSecurityGroups',
            'properties': {'securityRules': rules}}


def path_nsg_id(name):
    return NSG_ID.replace('aks-agentpool-1-nsg', name)


PATH_CASES = [
    # id, nsgs by position, (access, rule, priority, position, nsg)
    ('no-nsg-at-all', {}, ('Allow', None, None, None, None)),
    ('destination-subnet-denies', {'destination_subnet_nsg': nsg_obj('subnet-nsg', DENY_IN),
                                   'destination_nic_nsg': nsg_obj('nic-nsg', ALLOW_IN)},
     ('Deny', 'DenyKubeletIn', 200, 'destination_subnet', path_nsg_id('subnet-nsg'))),
    ('destination-nic-denies', {'destination_subnet_nsg': nsg_obj('subnet-nsg', []),
                                'destination_nic_nsg': nsg_obj('nic-nsg', DENY_IN)},
     ('Deny', 'DenyKubeletIn', 200, 'destination_nic', path_nsg_id('nic-nsg'))),
    ('subnet-allow-does-not-bypass-nic', {'destination_subnet_nsg': nsg_obj('subnet-nsg', ALLOW_IN),
                                          'destination_nic_nsg': nsg_obj('nic-nsg', DENY_IN)},
     ('Deny', 'DenyKubeletIn', 200, 'destination_nic', path_nsg_id('nic-nsg'))),
    ('source-nic-outbound-denies', {'source_nic_nsg': nsg_obj('nic-nsg', DENY_OUT + DENY_IN),
                                    'destination_nic_nsg': nsg_obj('nic-nsg', DENY_OUT + DENY_IN)},
     ('Deny', 'DenyKubeletOut', 210, 'source_nic', path_nsg_id('nic-nsg'))),
    ('source-subnet-outbound-denies', {'source_subnet_nsg': nsg_obj('subnet-nsg', DENY_OUT)},
     ('Deny', 'DenyKubeletOut', 210, 'source_subnet', path_nsg_id('subnet-nsg'))),
    ('all-allow-names-last-nsg', {'source_nic_nsg': nsg_obj('nic-nsg', ALLOW_IN), 'source_subnet_nsg': nsg_obj('subnet-nsg', []),
                                  'destination_subnet_nsg': nsg_obj('subnet-nsg', []),
                                  'destination_nic_nsg': nsg_obj('nic-nsg', ALLOW_IN)},
     ('Allow', 'AllowKubeletIn', 150, 'destination_nic', path_nsg_id('nic-nsg'))),
    ('unknown-without-deny', {'source_subnet_nsg': nsg_obj('subnet-nsg', UNKNOWN_OUT),
                              'destination_nic_nsg': nsg_obj('nic-nsg', [])},
     ('Unknown', 'DenyStorageOut', 120, 'source_subnet', path_nsg_id('subnet-nsg'))),
    ('deny-beats-earlier-unknown', {'source_subnet_nsg': nsg_obj('subnet-nsg', UNKNOWN_OUT),
                                    'destination_nic_nsg': nsg_obj('nic-nsg', DENY_IN)},
     ('Deny', 'DenyKubeletIn', 200, 'destination_nic', path_nsg_id('nic-nsg'))),
    ('unknown-inbound-subnet', {'destination_subnet_nsg': UNKNOWN_IN},
     ('Unknown', 'DenyStorageIn', 120, 'destination_subnet', None)),
    ('plain-rule-lists', {'destination_nic_nsg': DENY_IN}, ('Deny', 'DenyKubeletIn', 200, 'destination_nic', None)),
]


@pytest.mark.parametrize('nsgs, expected', [c[1:] for c in PATH_CASES], ids=[c[0] for c in PATH_CASES])
def test_evaluate_path(nsgs, expected):
    result = evaluate_path(protocol='Tcp', source_ip=NODE_A, destination_ip=NODE_B, destination_port=10250,
                           vnet_prefixes=VNET, **nsgs)
    assert (result['access'], result['rule'], result['priority'], result['position'], result['nsg']) == expected
    assert [s['position'] for s in result['steps']] == ['source_nic', 'source_subnet', 'destination_subnet', 'destination_nic']
    assert [s['direction'] for s in result['steps']] == ['Outbound', 'Outbound', 'Inbound', 'Inbound']


def test_path_steps_detail():
    result = evaluate_path(destination_nic_nsg=nsg_obj('nic-nsg', DENY_IN), protocol='Tcp', source_ip=NODE_A,
                           destination_ip=NODE_B, destination_port=10250, vnet_prefixes=VNET)
    assert [(s['present'], s['access'], s['rule']) for s in result['steps']] == [
        (False, 'Allow', None), (False, 'Allow', None), (False, 'Allow', None), (True, 'Deny', 'DenyKubeletIn')]
    assert result['steps'][0]['reason'] == 'no NSG attached to the source NIC'
    assert result['reason'].startswith('denied by the destination NIC NSG: ')
    assert result['direction'] == 'Inbound'


@pytest.mark.parametrize('source_nsg, expected', [
    (None, ('Allow', None, None)),
    ([], ('Allow', 'AllowInternetOutBound', 65001)),
    ([arm('DenyApi', 300, direction='Outbound', dst='Internet', dport='443')], ('Deny', 'DenyApi', 300)),
    ([arm('Deny443', 300, direction='Outbound', dst=API_SERVER + '/32', dport='443')], ('Deny', 'Deny443', 300)),
    ([arm('DenyTunnelFront', 300, direction='Outbound', dport='9000')], ('Allow', 'AllowInternetOutBound', 65001)),
], ids=['no-nsg', 'defaults', 'deny-internet-443', 'deny-api-ip', 'other-port'])
def test_egress_to_api_server(source_nsg, expected):
    result = evaluate_path(source_nic_nsg=source_nsg, protocol='Tcp', source_ip=NODE_A, destination_ip=API_SERVER,
                           destination_port=443, vnet_prefixes=VNET)
    assert (result['access'], result['rule'], result['priority']) == expected


def test_egress_udp_1194_aks_link():
    result = evaluate_path(source_subnet_nsg=[arm('DenyVpn', 400, direction='Outbound', protocol='Udp', dport='1194')],
                           protocol='Udp', source_ip=NODE_A, destination_ip=API_SERVER, destination_port=1194,
                           vnet_prefixes=VNET)
    assert (result['access'], result['rule'], result['position']) == ('Deny', 'DenyVpn', 'source_subnet')


def test_path_bad_nsg_names_position():
    with pytest.raises(NsgInputError, match='^destination subnet NSG: '):
        evaluate_path(destination_subnet_nsg='not-an-nsg', protocol='Tcp', source_ip=NODE_A, destination_ip=NODE_B,
                      destination_port=10250, vnet_prefixes=VNET)


# --------------------------------------------------------------------------- priority finding

def taken(*priorities, direction='Inbound'):
    return [arm('R%d' % p, p, direction=direction) for p in priorities]


PRIORITY_CASES = [
    ('free-right-below', [], 200, 'Inbound', 199),
    ('adjacent-taken', taken(199), 200, 'Inbound', 198),
    ('several-adjacent-taken', taken(199, 198, 197), 200, 'Inbound', 196),
    ('gap-below-taken', taken(199, 197), 200, 'Inbound', 198),
    ('other-direction-does-not-collide', taken(199, direction='Outbound'), 200, 'Inbound', 199),
    ('outbound', taken(199, 198, direction='Outbound'), 200, 'outbound', 197),
    ('boundary-100', [], 101, 'Inbound', 100),
    ('default-rule-blocks', [], 65500, 'Inbound', 4096),
    ('default-rule-blocks-4096-taken', taken(4096, 4095), 65500, 'Inbound', 4094),
    ('blocking-4096', [], 4096, 'Inbound', 4095),
    ('string-priority', [], '300', 'Inbound', 299),
    ('nsg-object', nsg_obj('n', taken(299)), 300, 'Inbound', 298),
    ('sdk-shape', [sdk('x', 299)], 300, 'Inbound', 298),
]


@pytest.mark.parametrize('rules, blocking, direction, expected', [c[1:] for c in PRIORITY_CASES],
                         ids=[c[0] for c in PRIORITY_CASES])
def test_find_allow_priority(rules, blocking, direction, expected):
    assert find_allow_priority(rules, blocking, direction) == expected


@pytest.mark.parametrize('rules, blocking, message', [
    (taken(100), 101, 'every Inbound priority from 100 to 100 is taken'),
    ([], 100, 'no priority is lower than 100'),
    ([], 50, 'no priority is lower than 50'),
    (taken(*range(100, 200)), 200, 'every Inbound priority from 100 to 199 is taken'),
], ids=['100-taken', 'blocking-at-100', 'blocking-below-100', 'all-taken'])
def test_find_allow_priority_none_free(rules, blocking, message):
    with pytest.raises(NsgPriorityError, match=message):
        find_allow_priority(rules, blocking, 'Inbound')


@pytest.mark.parametrize('blocking, direction, message', [
    (None, 'Inbound', 'blocking_priority must be an integer'),
    (True, 'Inbound', 'blocking_priority must be an integer'),
    (200, 'Sideways', 'direction must be Inbound or Outbound'),
], ids=['none', 'bool', 'direction'])
def test_find_allow_priority_bad_input(blocking, direction, message):
    with pytest.raises(NsgInputError, match=message):
        find_allow_priority([], blocking, direction)


def test_found_priority_really_wins():
    rules = [arm('DenyKubelet', 200), arm('R199', 199, dport='22')]
    priority = find_allow_priority(rules, 200, 'Inbound')
    new_rule = build_allow_rule('AllowKubelet', 10250, 'Tcp', 'VirtualNetwork', '*', priority, 'Inbound', 'fix')
    verdict = evaluate_nsg(rules + [new_rule], **flow())
    assert (verdict['access'], verdict['rule'], verdict['priority']) == ('Allow', 'AllowKubelet', 198)


# --------------------------------------------------------------------------- build_allow_rule

def test_build_allow_rule_exact():
    assert build_allow_rule('AllowKubelet10250', 10250, 'tcp', 'VirtualNetwork', '10.240.0.0/16', 199, 'inbound',
                            'aks.tunnel: allow kubelet') == {
        'name': 'AllowKubelet10250',
        'properties': {
            'protocol': 'Tcp', 'sourcePortRange': '*', 'destinationPortRange': '10250',
            'sourceAddressPrefix': 'VirtualNetwork', 'destinationAddressPrefix': '10.240.0.0/16',
            'access': 'Allow', 'priority': 199, 'direction': 'Inbound', 'description': 'aks.tunnel: allow kubelet',
        },
    }


def test_build_allow_rule_lists_and_no_description():
    rule = build_allow_rule('AllowEgress', ['443', 9000], 'Tcp', ['10.240.0.0/24', '10.240.1.0/24'], 'Internet', 300,
                            'Outbound')
    props = rule['properties']
    assert props['destinationPortRanges'] == ['443', '9000']
    assert props['sourceAddressPrefixes'] == ['10.240.0.0/24', '10.240.1.0/24']
    assert 'destinationPortRange' not in props and 'sourceAddressPrefix' not in props and 'description' not in props


@pytest.mark.parametrize('kwargs, code', [
    ({'priority': 99}, 'SecurityRuleInvalidPriority'),
    ({'priority': 5000}, 'SecurityRuleInvalidPriority'),
    ({'port': '10250,10251'}, 'SecurityRuleInvalidPortRange'),
    ({'source_prefix': 'any'}, 'SecurityRuleInvalidAddressPrefix'),
    ({'source_prefix': ['VirtualNetwork']}, 'SecurityRuleParameterContainsUnsupportedValue'),
    ({'name': 'bad name'}, 'InvalidResourceName'),
    ({'protocol': 'Gre'}, 'InvalidRequestFormat'),
], ids=['prio-low', 'prio-high', 'port-comma', 'any', 'tag-in-list', 'name', 'protocol'])
def test_build_allow_rule_invalid(kwargs, code):
    args = {'name': 'AllowKubelet', 'port': 10250, 'protocol': 'Tcp', 'source_prefix': 'VirtualNetwork',
            'destination_prefix': '*', 'priority': 200, 'direction': 'Inbound'}
    args.update(kwargs)
    with pytest.raises(NsgValidationError) as excinfo:
        build_allow_rule(**args)
    assert excinfo.value.code == code


# --------------------------------------------------------------------------- validate_rule

def valid(**props):
    rule = arm('AllowKubelet', 200, access='Allow')
    for key, value in props.items():
        if value is None:
            rule['properties'].pop(key, None)
        else:
            rule['properties'][key] = value
    return rule


VALIDATION_ERRORS = [
    ('priority-99', valid(priority=99), 'SecurityRuleInvalidPriority'),
    ('priority-4097', valid(priority=4097), 'SecurityRuleInvalidPriority'),
    ('priority-default-range', valid(priority=65000), 'SecurityRuleInvalidPriority'),
    ('priority-float', valid(priority=1.5), 'InvalidRequestFormat'),
    ('priority-missing', valid(priority=None), 'SecurityRuleParametersMissing'),
    ('priority-word', valid(priority='high'), 'InvalidRequestFormat'),
    ('description-too-long', valid(description='d' * 141), 'InvalidRequestFormat'),
    ('port-comma-list', valid(destinationPortRange='636, 389'), 'SecurityRuleInvalidPortRange'),
    ('port-too-big', valid(destinationPortRange='70000'), 'SecurityRuleInvalidPortRange'),
    ('port-reversed-range', valid(destinationPortRange='200-100'), 'SecurityRuleInvalidPortRange'),
    ('port-any-word', valid(destinationPortRange='any'), 'SecurityRuleInvalidPortRange'),
    ('port-negative', valid(sourcePortRange=-1), 'SecurityRuleInvalidPortRange'),
    ('port-plural-bad-entry', valid(destinationPortRange=None, destinationPortRanges=['80', '80-x']),
     'SecurityRuleInvalidPortRange'),
    ('port-both-set', valid(destinationPortRanges=['80']), 'SecurityRuleInvalidPortRange'),
    ('port-neither-set', valid(destinationPortRange=None), 'SecurityRuleParametersMissing'),
    ('port-empty-plural-only', valid(sourcePortRange=None, sourcePortRanges=[]), 'SecurityRuleParametersMissing'),
    ('prefix-any-word', valid(sourceAddressPrefix='any'), 'SecurityRuleInvalidAddressPrefix'),
    ('prefix-bad-ip', valid(sourceAddressPrefix='10.0.0.300'), 'SecurityRuleInvalidAddressPrefix'),
    ('prefix-bad-cidr', valid(destinationAddressPrefix='10.0.0.0/33'), 'SecurityRuleInvalidAddressPrefix'),
    ('prefix-classic-tag', valid(sourceAddressPrefix='VIRTUAL_NETWORK'), 'SecurityRuleInvalidAddressPrefix'),
    ('prefix-neither-set', valid(sourceAddressPrefix=None), 'SecurityRuleParametersMissing'),
    ('prefix-empty-string', valid(destinationAddressPrefix=''), 'SecurityRuleParametersMissing'),
    ('prefix-and-asg', valid(sourceApplicationSecurityGroups=asg_ref()), 'SecurityRuleInvalidAddressPrefix'),
    ('plural-virtualnetwork', valid(sourceAddressPrefix=None, sourceAddressPrefixes=['VirtualNetwork']),
     'SecurityRuleParameterContainsUnsupportedValue'),
    ('plural-star', valid(destinationAddressPrefix=None, destinationAddressPrefixes=['*']),
     'SecurityRuleParameterContainsUnsupportedValue'),
    ('plural-internet-mixed', valid(sourceAddressPrefix=None, sourceAddressPrefixes=['10.0.0.0/8', 'Internet']),
     'SecurityRuleParameterContainsUnsupportedValue'),
    ('plural-system-tag', valid(sourceAddressPrefix=None, sourceAddressPrefixes=['Storage']),
     'SecurityRuleParameterContainsUnsupportedValue'),
    ('plural-loadbalancer', valid(sourceAddressPrefix=None, sourceAddressPrefixes=['AzureLoadBalancer']),
     'SecurityRuleParameterContainsUnsupportedValue'),
    ('protocol-any-word', valid(protocol='Any'), 'InvalidRequestFormat'),
    ('protocol-unknown', valid(protocol='Gre'), 'InvalidRequestFormat'),
    ('access-missing', valid(access=None), 'SecurityRuleParametersMissing'),
    ('protocol-missing', valid(protocol=None), 'SecurityRuleParametersMissing'),
    ('direction-bad', valid(direction='Both'), 'InvalidRequestFormat'),
    ('name-space', dict(valid(), name='allow kubelet'), 'InvalidResourceName'),
    ('name-trailing-dash', dict(valid(), name='allow-'), 'InvalidResourceName'),
    ('name-too-long', dict(valid(), name='a' * 81), 'InvalidResourceName'),
    ('not-a-mapping', ['x'], 'InvalidRequestFormat'),
]


@pytest.mark.parametrize('rule, code', [c[1:] for c in VALIDATION_ERRORS], ids=[c[0] for c in VALIDATION_ERRORS])
def test_validate_rule_errors(rule, code):
    with pytest.raises(NsgValidationError) as excinfo:
        validate_rule(rule)
    assert excinfo.value.code == code
    assert excinfo.value.to_arm_error() == {'error': {'code': code, 'message': excinfo.value.message, 'details': []}}


VALID_RULES = [
    ('minimal', valid()),
    ('priority-100', valid(priority=100)),
    ('priority-4096', valid(priority=4096)),
    ('port-star', valid(destinationPortRange='*')),
    ('port-range', valid(destinationPortRange='10000-11000')),
    ('port-zero', valid(destinationPortRange='0')),
    ('port-plural', valid(destinationPortRange=None, destinationPortRanges=['80', '443', '10000-11000'])),
    ('tag-virtualnetwork', valid(sourceAddressPrefix='VirtualNetwork')),
    ('tag-regional', valid(destinationAddressPrefix='AzureCloud.westeurope')),
    ('tag-storage', valid(destinationAddressPrefix='Storage')),
    ('ipv6-cidr', valid(sourceAddressPrefix='fd00::/8')),
    ('plural-cidrs', valid(sourceAddressPrefix=None, sourceAddressPrefixes=['10.0.0.0/8', '192.168.1.4'])),
    ('asg', valid(sourceAddressPrefix=None, sourceApplicationSecurityGroups=asg_ref())),
    ('protocol-star', valid(protocol='*')),
    ('protocol-ah', valid(protocol='Ah')),
    ('name-underscore-end', dict(valid(), name='allow_')),
    ('name-dots', dict(valid(), name='a.b-c_d')),
    ('description-140', valid(description='d' * 140)),
    ('string-priority', valid(priority='200')),
    ('sdk-shape', sdk('AllowKubelet', 300, access='Allow')),
    ('no-name-put-body', {'properties': valid()['properties']}),
]


@pytest.mark.parametrize('rule', [c[1] for c in VALID_RULES], ids=[c[0] for c in VALID_RULES])
def test_validate_rule_accepts(rule):
    normalized = validate_rule(rule)
    assert normalized['priority'] in (200, 100, 4096, 300)


@pytest.mark.parametrize('rule, message', [
    (valid(destinationPortRange='636, 389'),
     "Security rule has invalid Port range. Value provided: 636, 389. Value should be an integer OR integer range "
     "with '-' delimiter. Valid range 0-65535."),
    (valid(sourceAddressPrefix='any'), 'Security rule has invalid Address prefix. Value provided: any'),
    (valid(priority=50), "Security rule 'AllowKubelet' has invalid Priority. Value provided: 50. Allowed range 100-4096."),
    (valid(sourceAddressPrefix=None, sourceAddressPrefixes=['VirtualNetwork']),
     "Security rule parameter SourceAddressPrefix for rule 'AllowKubelet' cannot specify existing VIRTUALNETWORK, "
     "INTERNET, AZURELOADBALANCER, '*' or system tags. Unsupported value used: VirtualNetwork."),
    (valid(destinationPortRanges=['80']),
     "Security rule 'AllowKubelet' must specify a non-empty value for either DestinationPortRange or "
     "DestinationPortRanges, but not both."),
    (dict(valid(sourceAddressPrefix=None), id=NSG_ID + '/securityRules/AllowKubelet'),
     'Required security rule parameters are missing for security rule with Id: %s/securityRules/AllowKubelet. '
     'Security rule must specify SourceAddressPrefixes, SourceAddressPrefix, or SourceApplicationSecurityGroups.' % NSG_ID),
], ids=['port', 'prefix', 'priority', 'plural-tag', 'both-ports', 'missing-source'])
def test_validate_rule_messages(rule, message):
    with pytest.raises(NsgValidationError) as excinfo:
        validate_rule(rule)
    assert excinfo.value.message == message


# --------------------------------------------------------------------------- normalize_rule

def test_normalize_arm_and_sdk_agree():
    arm_rule = arm('DenyKubelet', 200, src=None, sourceAddressPrefixes=['10.240.0.0/24'], description='d')
    sdk_rule = sdk('DenyKubelet', 200, src=None, source_address_prefixes=['10.240.0.0/24'], description='d')
    expected = {
        'name': 'DenyKubelet', 'id': None, 'priority': 200, 'access': 'Deny', 'direction': 'Inbound', 'protocol': 'Tcp',
        'source_port_ranges': ['*'], 'destination_port_ranges': ['10250'],
        'source_address_prefixes': ['10.240.0.0/24'], 'destination_address_prefixes': ['*'],
        'source_application_security_groups': [], 'destination_application_security_groups': [],
        'description': 'd', 'is_default': False,
    }
    assert normalize_rule(arm_rule) == expected
    assert normalize_rule(sdk_rule) == expected


@pytest.mark.parametrize('rule, field, expected', [
    (arm('r', 200, protocol='any'), 'protocol', '*'),
    (arm('r', 200, src='any'), 'source_address_prefixes', ['*']),
    (arm('r', 200, src='internet'), 'source_address_prefixes', ['Internet']),
    (arm('r', 200, dport=10250), 'destination_port_ranges', ['10250']),
    (arm('r', 200, src=None, sourceApplicationSecurityGroups=asg_ref(ASG_ID.upper())),
     'source_application_security_groups', [ASG_ID.lower()]),
    (arm('r', 200, src=None, sourceApplicationSecurityGroups=asg_ref()), 'source_address_prefixes', []),
    (default_rules()[2], 'is_default', True),
], ids=['protocol-any', 'prefix-any', 'tag-case', 'int-port', 'asg-lowercase', 'asg-no-prefixes', 'default'])
def test_normalize_fields(rule, field, expected):
    assert normalize_rule(rule)[field] == expected


def test_normalize_does_not_mutate_input():
    rule = arm('DenyKubelet', 200)
    before = copy.deepcopy(rule)
    normalize_rule(rule)
    evaluate_nsg([rule], **flow())
    assert rule == before


# --------------------------------------------------------------------------- bad input

BAD_INPUT = [
    ('rules-not-list', 'rules', {}, 'expected a list of security rules or an NSG object, got str'),
    ('rule-not-mapping', ['x'], {}, 'security rule #0 must be a mapping'),
    ('mapping-not-nsg', {'foo': 1}, {}, 'got a mapping with keys foo'),
    ('single-rule-not-list', arm('DenyKubelet', 200), {}, 'got a single security rule (DenyKubelet); pass a list'),
    ('single-sdk-rule-not-list', sdk('DenyKubelet', 200), {}, 'got a single security rule (DenyKubelet)'),
    ('missing-priority', [arm('r', None)], {}, "security rule 'r' #0: priority must be an integer"),
    ('bad-access', [arm('r', 200, access='Block')], {}, "access must be Allow or Deny, got 'Block'"),
    ('bad-protocol', [arm('r', 200, protocol='Gre')], {}, 'protocol must be one of'),
    ('no-destination-port', [arm('r', 200, dport=None)], {}, "security rule 'r' has no destination port range"),
    ('bad-port', [arm('r', 200, dport='80,81')], {}, "security rule 'r': Security rule has invalid Port range"),
    ('no-source-prefix', [arm('r', 200, src=None)], {}, "security rule 'r' has no source"),
    ('bad-prefix', [arm('r', 200, src='10.0.0.300')], {}, 'invalid Address prefix. Value provided: 10.0.0.300'),
    ('prefix-and-asg', [arm('r', 200, sourceApplicationSecurityGroups=asg_ref())], {}, 'sets both source address prefixes'),
    ('asg-without-id', [arm('r', 200, src=None, sourceApplicationSecurityGroups=[{}])], {}, 'needs an "id"'),
    ('duplicate-priority', [arm('a', 200), arm('b', 200, dport='22')], {}, 'SecurityRuleConflict'),
    ('flow-protocol-star', [], {'protocol': '*'}, 'flow protocol must be one of'),
    ('flow-direction', [], {'direction': 'Up'}, 'direction must be Inbound or Outbound'),
    ('tcp-without-port', [], {'destination_port': None}, 'destination_port is required for Tcp/Udp flows'),
    ('icmp-with-port', [], {'protocol': 'Icmp'}, 'Icmp flows have no ports'),
    ('port-out-of-range', [], {'destination_port': 70000}, 'destination_port must be an integer 0-65535'),
    ('bad-source-ip', [], {'source_ip': '10.240.0.0/24'}, 'source_ip must be a single IP address'),
    ('bad-destination-ip', [], {'destination_ip': 5}, 'destination_ip must be an IP address string'),
    ('mixed-families', [], {'destination_ip': 'fd00::5'}, 'different IP versions'),
    ('bad-vnet-prefix', [], {'vnet_prefixes': ['10.240.0.0/40']}, 'vnet_prefixes'),
    ('bad-asg-members', [], {'asg_members': ['x']}, 'asg_members must be a mapping'),
    ('bad-asg-member-ip', [], {'asg_members': {ASG_ID: ['nope']}}, 'is not a CIDR prefix or IP address'),
]


@pytest.mark.parametrize('rules, overrides, message', [c[1:] for c in BAD_INPUT], ids=[c[0] for c in BAD_INPUT])
def test_bad_input(rules, overrides, message):
    """Bad input raises NsgInputError (a ValueError) naming what is wrong."""
    with pytest.raises(NsgInputError) as excinfo:
        evaluate_nsg(rules, **flow(**overrides))
    assert message in str(excinfo.value)


def test_compile_cache_returns_same_object_for_same_content():
    rules = [arm('DenyKubelet', 200)]
    assert compile_nsg(rules) is compile_nsg(copy.deepcopy(rules))
    assert compile_nsg(rules) is not compile_nsg([arm('DenyKubelet', 201)])


def test_compiled_rules_are_copies():
    compiled = compile_nsg([arm('DenyKubelet', 200)])
    compiled.rules[0]['access'] = 'Allow'
    assert evaluate_nsg(compiled, **flow())['access'] == 'Deny'


def test_no_rule_matches_when_defaults_replaced_by_name():
    narrowed = [arm(name, priority, access='Deny', dport='22') for name, priority in
                (('AllowVnetInBound', 65000), ('AllowAzureLoadBalancerInBound', 65001), ('DenyAllInBound', 65500))]
    verdict = evaluate_nsg(narrowed, **flow())
    assert (verdict['access'], verdict['rule'], verdict['priority']) == ('Deny', None, None)
    assert verdict['reason'] == 'no rule matches inbound Tcp 10.240.0.4 -> 10.240.0.5:10250'


def test_vnet_prefixes_single_string():
    verdict = evaluate_nsg([], **flow(vnet_prefixes='10.240.0.0/16'))
    assert verdict['rule'] == 'AllowVnetInBound'


def test_internet_without_vnet_prefixes_is_undecidable():
    verdict = evaluate_nsg([arm('DenyInternet', 200, src='Internet')], **flow(vnet_prefixes=None, source_ip='203.0.113.9'))
    assert (verdict['access'], verdict['rule']) == ('Unknown', 'DenyInternet')
    assert 'without vnet_prefixes' in verdict['reason']
