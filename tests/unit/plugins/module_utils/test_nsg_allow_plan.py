# -*- coding: utf-8 -*-
# Copyright (c) 2026 aks.tunnel contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Planning the nsg_port_rule Allow (issue 13, item 4): it covers exactly the denied flows, sits just above the Deny that
matched them, never weakens another Deny (proved with the engine's own evaluator), and refuses with the reason otherwise."""

from __future__ import annotations

import re

import pytest

from ansible_collections.aks.tunnel.plugins.module_utils import _nsg

NODE_SUBNET = '10.240.0.0/18'          # the node subnet; the jumpbox subnet lies outside it, inside the VNet
JUMPBOX_SUBNET = '10.240.64.0/24'
JUMPBOX = '10.240.64.10'
VNET = ['10.240.0.0/12']
TUNNEL_NODES = ['10.240.0.4', '10.240.0.5']
BLOCKED_NODES = ['10.240.0.7', '10.240.0.8']
FLOWS = [(s, d) for d in BLOCKED_NODES for s in TUNNEL_NODES]
NAME = 'allow-aks-tunnel-10250'


def arm(name, priority, access='Deny', src='*', dst='*', dport='10250', protocol='Tcp', direction='Inbound', **extra):
    props = {'priority': priority, 'access': access, 'direction': direction, 'protocol': protocol, 'sourcePortRange': '*',
             'destinationPortRange': dport, 'sourceAddressPrefix': src, 'destinationAddressPrefix': dst}
    props.update(extra)
    return {'name': name, 'etag': 'W/"%s-etag"' % name, 'properties': props}


JUMPBOX_DENY = arm('deny-kubelet-from-jumpbox-subnet', 300, src=JUMPBOX_SUBNET)
NODE_DENY = arm('deny-kubelet-node-to-node', 400, dport='10000-10300')


def plan(rules, subnet=NODE_SUBNET, **kwargs):
    args = dict(sources=[subnet], destinations=[subnet], port_ranges=['10250'], description='Allows the AKS control-plane tunnel',
                flows=FLOWS, vnet_prefixes=VNET)
    args.update(kwargs)
    return _nsg.plan_allow_rule(rules, NAME, **args)


def verdict(rules, source, destination, port=10250):
    return _nsg.evaluate_nsg(rules, direction='Inbound', protocol='Tcp', source_ip=source, destination_ip=destination,
                             destination_port=port, vnet_prefixes=VNET)


@pytest.mark.parametrize('subnet', [NODE_SUBNET, '10.240.0.0/16'], ids=['jumpbox-outside-node-subnet', 'jumpbox-inside-allow-scope'])
def test_jumpbox_deny_stays_in_force_after_the_planned_allow(subnet):
    rules = [JUMPBOX_DENY, NODE_DENY]
    planned = plan(rules, subnet=subnet)
    desired = planned['desired']
    assert planned['target']['name'] == 'deny-kubelet-node-to-node'
    assert desired['properties'] == {
        'protocol': 'Tcp', 'sourcePortRange': '*', 'access': 'Allow', 'priority': 399, 'direction': 'Inbound',
        'destinationPortRange': '10250', 'sourceAddressPrefix': subnet, 'destinationAddressPrefix': subnet,
        'description': 'Allows the AKS control-plane tunnel [aks.tunnel]'}
    after = rules + [desired]
    # the evaluated flows are open ...
    for source, destination in FLOWS:
        assert (verdict(after, source, destination)['access'], verdict(after, source, destination)['rule']) == ('Allow', NAME)
    # ... and the jumpbox still cannot reach a kubelet
    jump = verdict(after, JUMPBOX, BLOCKED_NODES[0])
    assert (jump['access'], jump['rule']) == ('Deny', 'deny-kubelet-from-jumpbox-subnet')
    # other ports stay denied for the nodes too
    assert verdict(after, TUNNEL_NODES[0], BLOCKED_NODES[0], port=10255)['access'] == 'Deny'


def test_before_the_fix_the_lowest_port_deny_was_overridden_for_the_whole_vnet():
    """What 0.1 did: Allow from VirtualNetwork at 299, above the jumpbox Deny - the jumpbox got through."""
    old_priority = _nsg.find_allow_priority([JUMPBOX_DENY, NODE_DENY], 300, 'Inbound')
    old_rule = _nsg.build_allow_rule(NAME, 10250, 'Tcp', 'VirtualNetwork', '*', old_priority, 'Inbound')
    assert verdict([JUMPBOX_DENY, NODE_DENY, old_rule], JUMPBOX, BLOCKED_NODES[0])['access'] == 'Allow'
    # the new plan with the same broad scope but the real flows still sits under the jumpbox Deny
    planned = plan([JUMPBOX_DENY, NODE_DENY], sources=['VirtualNetwork'], destinations=['*'])
    assert planned['desired']['properties']['priority'] == 399
    assert verdict([JUMPBOX_DENY, NODE_DENY, planned['desired']], JUMPBOX, BLOCKED_NODES[0])['access'] == 'Deny'


def test_subnet_and_nic_nsgs_are_planned_separately_and_the_path_opens():
    subnet_nsg = [arm('deny-from-vnet', 500, src='VirtualNetwork'), JUMPBOX_DENY]
    nic_nsg = [NODE_DENY]
    subnet_plan, nic_plan = plan(subnet_nsg), plan(nic_nsg)
    assert (subnet_plan['target']['name'], subnet_plan['desired']['properties']['priority']) == ('deny-from-vnet', 499)
    assert (nic_plan['target']['name'], nic_plan['desired']['properties']['priority']) == ('deny-kubelet-node-to-node', 399)
    subnet_after, nic_after = subnet_nsg + [subnet_plan['desired']], nic_nsg + [nic_plan['desired']]
    for source, destination in FLOWS:
        path = _nsg.evaluate_path(destination_subnet_nsg=subnet_after, destination_nic_nsg=nic_after, protocol='Tcp',
                                  source_ip=source, destination_ip=destination, destination_port=10250, vnet_prefixes=VNET)
        assert path['access'] == 'Allow', path['reason']
    jump = _nsg.evaluate_path(destination_subnet_nsg=subnet_after, destination_nic_nsg=nic_after, protocol='Tcp', source_ip=JUMPBOX,
                              destination_ip=BLOCKED_NODES[0], destination_port=10250, vnet_prefixes=VNET)
    assert (jump['access'], jump['rule']) == ('Deny', 'deny-kubelet-from-jumpbox-subnet')


PLACEMENT_CASES = [
    # (id, rules, expected priority) - the walk may pass Allow rules and Denies that never match the Allow's packets
    ('right-above', [NODE_DENY], 399),
    ('passes-an-allow', [NODE_DENY, arm('allow-ssh', 399, access='Allow', dport='22')], 398),
    ('passes-a-udp-deny', [NODE_DENY, arm('deny-udp', 399, protocol='Udp')], 398),
    ('passes-a-deny-from-elsewhere', [NODE_DENY, arm('deny-partner', 399, src='192.168.7.0/24')], 398),
    ('passes-a-deny-of-another-port', [NODE_DENY, arm('deny-ssh', 399, dport='22')], 398),
    ('default-deny-decides', [arm('allow-ssh', 4096, access='Allow', dport='22')], 4095),
    ('jumpbox-deny-below-is-no-obstacle', [NODE_DENY, arm('deny-jump', 398, src=JUMPBOX_SUBNET)], 399),
]


@pytest.mark.parametrize('rules, expected', [c[1:] for c in PLACEMENT_CASES], ids=[c[0] for c in PLACEMENT_CASES])
def test_placement(rules, expected):
    rules = list(rules)
    if expected == 4095:
        # flows from outside the VNet: only the default DenyAllInBound decides them
        planned = plan(rules, flows=[('192.0.2.1', BLOCKED_NODES[0])], sources=['192.0.2.0/24'])
        assert planned['target']['name'] == 'DenyAllInBound'
    else:
        planned = plan(rules)
    assert planned['desired']['properties']['priority'] == expected


REFUSALS = [
    ('deny-at-100', [arm('deny-all-kubelet', 100)], {}, 'lowest priority a rule can have (100)'),
    ('gap-taken-by-an-overlapping-deny', [NODE_DENY, arm('deny-one-node', 399, src='10.240.0.99/32')], {},
     "every priority between the Deny 'deny-one-node' (priority 399) and the Deny 'deny-kubelet-node-to-node' (priority 400) is taken"),
    ('gap-full-then-overlapping-deny', [NODE_DENY, arm('a398', 398, access='Allow', dport='22'), arm('a399', 399, access='Allow', dport='22'),
                                        arm('deny-one-node', 397, src='10.240.0.99/32')], {}, "'deny-one-node' (priority 397)"),
    ('same-name-not-ours', [NODE_DENY, arm(NAME, 399, access='Allow', description='hand-made')], {}, 'was not created by aks.tunnel'),
    ('undecidable-flows', [arm('allow-storage', 200, access='Allow', src='Storage'), NODE_DENY], {}, 'cannot be decided offline'),
    ('forced-priority-taken', [NODE_DENY, arm('x', 350, access='Allow', dport='22')], {'priority': 350}, 'already used by the Inbound rule'),
    ('forced-priority-passes-a-deny', [NODE_DENY, arm('deny-one-node', 380, src='10.240.0.99/32')], {'priority': 350},
     'would pass a Deny between 350'),
    ('description-too-long', [NODE_DENY], {'description': 'x' * 130}, 'Azure allows 140'),
]


@pytest.mark.parametrize('rules, kwargs, message', [c[1:] for c in REFUSALS], ids=[c[0] for c in REFUSALS])
def test_refusals_say_why(rules, kwargs, message):
    with pytest.raises(_nsg.NsgError, match=re.escape(message)):
        plan(rules, **kwargs)


def test_existing_rule_is_kept_where_it_is_and_is_not_a_target():
    first = plan([JUMPBOX_DENY, NODE_DENY])['desired']
    existing = dict(first, etag='W/"ours"')
    again = plan([JUMPBOX_DENY, NODE_DENY, existing])
    assert again['current'] is existing and _nsg.allow_rule_differences(existing, again['desired']) == []
    # a new Deny above it that matches the flows moves it (and only it)
    moved = plan([JUMPBOX_DENY, NODE_DENY, existing, arm('deny-new', 250, src=NODE_SUBNET)])
    assert moved['target']['name'] == 'deny-new' and moved['desired']['properties']['priority'] == 249
    assert _nsg.allow_rule_differences(existing, moved['desired']) == ['priority']


def test_flows_already_allowed_need_no_rule():
    planned = plan([arm('allow-nodes', 200, access='Allow', src=NODE_SUBNET), NODE_DENY])
    assert planned['desired'] is None and planned['warnings'] == ['every flow is already allowed by this NSG; no rule is needed']


def test_legacy_description_counts_as_the_marker():
    legacy = arm(NAME, 199, access='Allow', src='VirtualNetwork', description=_nsg.LEGACY_MANAGED_DESCRIPTION)
    assert _nsg.is_managed_rule(legacy) and not _nsg.is_managed_rule(arm('x', 1, description='Allow [aks.tunnel'))
    assert _nsg.with_marker(_nsg.LEGACY_MANAGED_DESCRIPTION) == _nsg.LEGACY_MANAGED_DESCRIPTION
    assert _nsg.with_marker('Mine [aks.tunnel] kept') == 'Mine [aks.tunnel] kept'


@pytest.mark.parametrize('previous, expected', [
    (None, {'nsg': 'ID', 'rule_name': NAME, 'state': 'absent'}),
    (arm(NAME, 199, access='Allow', src=None, dst=None, dport=None, sourceAddressPrefixes=['10.240.0.0/24', '10.240.1.0/24'],
         destinationAddressPrefixes=['10.240.2.0/24'], destinationPortRanges=['10250', '10255-10256'], description='old [aks.tunnel]'),
     {'nsg': 'ID', 'rule_name': NAME, 'state': 'present', 'priority': 199, 'protocol': 'Tcp', 'direction': 'Inbound',
      'source_prefixes': ['10.240.0.0/24', '10.240.1.0/24'], 'destination_prefixes': ['10.240.2.0/24'],
      'port_ranges': ['10250', '10255-10256'], 'description': 'old [aks.tunnel]'}),
], ids=['created', 'updated-plural'])
def test_undo_arguments(previous, expected):
    assert _nsg.undo_arguments('ID', NAME, previous) == expected


def test_undo_of_a_hand_edited_rule_is_refused():
    with pytest.raises(_nsg.NsgPlanError, match='changed by hand .*limits source ports'):
        _nsg.undo_arguments('ID', NAME, arm(NAME, 199, access='Allow', sourcePortRange='1024-2048', description='[aks.tunnel]'))


@pytest.mark.parametrize('first, second, expected', [
    (arm('a', 1), arm('b', 2, dport='22'), False),
    (arm('a', 1), arm('b', 2, protocol='Udp'), False),
    (arm('a', 1), arm('b', 2, protocol='*'), True),
    (arm('a', 1, src='10.240.0.0/18'), arm('b', 2, src='10.240.64.0/24'), False),
    (arm('a', 1, src='10.240.0.0/16'), arm('b', 2, src='10.240.64.0/24'), True),
    (arm('a', 1, src='10.240.0.0/18'), arm('b', 2, src='VirtualNetwork'), True),
    (arm('a', 1, src='10.240.0.0/18'), arm('b', 2, src='Internet'), False),
    (arm('a', 1, src='10.240.0.0/18'), arm('b', 2, src='Storage'), True),
    (arm('a', 1), arm('b', 2, direction='Outbound'), False),
], ids=['port', 'protocol', 'any-protocol', 'disjoint-cidr', 'nested-cidr', 'vnet-tag', 'internet-vs-private', 'other-tag', 'direction'])
def test_rules_may_overlap(first, second, expected):
    assert _nsg.rules_may_overlap(first, second) is expected
