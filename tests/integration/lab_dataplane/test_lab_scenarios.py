# -*- coding: utf-8 -*-
# Copyright (c) 2026 aks.tunnel contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Scenario files, their validation errors, the data-plane plan and the NSG -> nftables compiler (no root needed)."""

from __future__ import annotations

import copy
import os
import subprocess
import sys

import pytest

from ansible_collections.aks.tunnel.tests.lab import scenario as scenario_mod
from ansible_collections.aks.tunnel.tests.lab.dataplane import nsg, plan as plan_mod
from ansible_collections.aks.tunnel.tests.lab.topology import build_topology

CATALOGUE = ['all-faults', 'apiserver-vnet-integration-nsg-blocks-4443', 'avnm-admin-deny', 'egress-1194-blocked', 'egress-9000-blocked',
             'entra-only', 'healthy', 'inspection-fails', 'iptables-drop', 'iptables-hardened', 'iptables-kube-proxy',
             'konnectivity-alpn-stripped', 'konnectivity-oom', 'konnectivity-undersized', 'kubelet-down', 'kubelet-plain-http',
             'natgw-snat-exhaustion', 'nft-drop', 'nsg-deny-10250', 'nsg-jumpbox-deny', 'path-drop-unexplained', 'private-cluster',
             'private-dns-unlinked', 'route-appliance-drop', 'scale-5000', 'snat-autoscaler-max', 'snat-exhaustion', 'udr-appliance-blocks-9000',
             'udr-azure-firewall-blocks-443', 'ufw-enabled', 'ufw-scoped-allow']

EXPECTED = {
    'healthy': ([], []),
    'nsg-deny-10250': (['nsg_blocks_10250'], ['aks-user1-64844604-vmss000000', 'aks-user1-64844604-vmss000001']),
    'nsg-jumpbox-deny': (['nsg_blocks_10250'], ['aks-user1-64844604-vmss000000', 'aks-user1-64844604-vmss000001']),
    'ufw-enabled': (['ufw_blocks_10250'], ['aks-user1-64844604-vmss000001']),
    'iptables-drop': (['iptables_blocks_10250'], ['aks-nodepool1-64844604-vmss000002']),
    'iptables-hardened': (['iptables_blocks_10250'], ['aks-user1-64844604-vmss000000']),
    'iptables-kube-proxy': ([], []),
    'ufw-scoped-allow': ([], []),
    'egress-9000-blocked': (['egress_ports_blocked'], ['aks-nodepool1-64844604-vmss000000']),
    'egress-1194-blocked': (['egress_ports_blocked'], ['aks-nodepool1-64844604-vmss000000']),
    'konnectivity-alpn-stripped': (['egress_ports_blocked'], ['aks-nodepool1-64844604-vmss000000', 'aks-user1-64844604-vmss000000']),
    'snat-exhaustion': (['snat_exhaustion'], []),
    'snat-autoscaler-max': (['snat_exhaustion'], []),
    'natgw-snat-exhaustion': (['snat_exhaustion'], []),  # the NAT gateway's metrics, no per-node split (issue 16)
    'apiserver-vnet-integration-nsg-blocks-4443': (['apiserver_subnet_ports_blocked'],
                                                   ['aks-nodepool1-64844604-vmss000000', 'aks-nodepool1-64844604-vmss000001',
                                                    'aks-nodepool1-64844604-vmss000002']),
    'konnectivity-undersized': (['konnectivity_agent_scaling'], []),
    'konnectivity-oom': (['konnectivity_agent_scaling'], []),
    'all-faults': (['iptables_blocks_10250', 'konnectivity_agent_scaling', 'nsg_blocks_10250', 'snat_exhaustion', 'ufw_blocks_10250'],
                   ['aks-nodepool1-64844604-vmss000003', 'aks-user1-64844604-vmss000000', 'aks-user1-64844604-vmss000002']),
    'scale-5000': ([], []),
    # the path between nodes besides the NSGs (issue 12)
    'avnm-admin-deny': (['network_path_blocks_10250'], ['aks-user1-64844604-vmss000001']),
    'route-appliance-drop': (['network_path_blocks_10250'], ['aks-nodepool1-64844604-vmss000000', 'aks-nodepool1-64844604-vmss000001',
                                                             'aks-nodepool1-64844604-vmss000002', 'aks-user1-64844604-vmss000000',
                                                             'aks-user1-64844604-vmss000001']),
    'path-drop-unexplained': (['network_path_blocks_10250'], ['aks-user1-64844604-vmss000001']),
    # the node side of the kubelet path (issue 12); inspection-fails also expects UNKNOWN (UNKNOWN_EXPECTED)
    'nft-drop': (['nft_blocks_10250'], ['aks-user1-64844604-vmss000000']),
    'kubelet-down': (['kubelet_not_serving'], ['aks-user1-64844604-vmss000001']),
    'kubelet-plain-http': (['kubelet_not_serving'], ['aks-user1-64844604-vmss000001']),
    'inspection-fails': ([], ['aks-user1-64844604-vmss000000']),
    # Kubernetes access without a kubeconfig (issue 16): healthy clusters reached through an Entra token / the run command
    'entra-only': ([], []),
    'private-cluster': ([], []),
    'private-dns-unlinked': (['egress_ports_blocked'], ['aks-nodepool1-64844604-vmss000000', 'aks-user1-64844604-vmss000000']),
    # egress through a firewall or an appliance on a route table (issue 16)
    'udr-azure-firewall-blocks-443': (['egress_ports_blocked'], ['aks-nodepool1-64844604-vmss000000', 'aks-user1-64844604-vmss000000']),
    'udr-appliance-blocks-9000': (['egress_ports_blocked'], ['aks-nodepool1-64844604-vmss000000']),
}
UNKNOWN_EXPECTED = {'inspection-fails': ['iptables_blocks_10250', 'ufw_blocks_10250'],
                    # The tunnel is down: the API server reaches no kubelet, so their TLS is not proven.
                    'egress-9000-blocked': ['kubelet_not_serving'], 'egress-1194-blocked': ['kubelet_not_serving'],
                    'konnectivity-alpn-stripped': ['kubelet_not_serving'], 'udr-azure-firewall-blocks-443': ['kubelet_not_serving'],
                    'udr-appliance-blocks-9000': ['kubelet_not_serving'], 'private-dns-unlinked': ['kubelet_not_serving']}

BASE = {
    'name': 'unit', 'cluster': {'name': 'aks-lab', 'resource_group': 'rg-aks-lab'},
    'node_pools': [{'name': 'nodepool1', 'count': 2}, {'name': 'user1', 'count': 2}],
}


def test_catalogue_is_complete():
    assert scenario_mod.available() == CATALOGUE


@pytest.mark.parametrize('name', CATALOGUE)
def test_every_scenario_validates_and_declares_its_causes(name):
    loaded = scenario_mod.load(name)
    assert loaded['name'] == name
    wanted = {'problems': EXPECTED[name][0], 'affected_nodes': EXPECTED[name][1]}
    if name in UNKNOWN_EXPECTED:
        wanted['unknown'] = UNKNOWN_EXPECTED[name]
    assert scenario_mod.expected(loaded) == wanted


@pytest.mark.parametrize('patch, message', [
    ({'cluster': {'name': 'aks-lab'}}, "cluster: 'resource_group' is a required property"),
    ({'node_pools': [{'name': 'Pool', 'count': 1}]}, "node_pools/0/name: 'Pool' does not match"),
    ({'faults': {'ufw': [{'node': 'user1-9'}]}}, "faults/ufw/0/node: no node 'user1-9' in this cluster"),
    ({'faults': {'nsg_rules': [{'name': 'x', 'priority': 50, 'direction': 'Inbound', 'access': 'Deny', 'protocol': 'Tcp'}]}},
     'faults/nsg_rules/0/priority: 50 is less than the minimum of 100'),
    ({'faults': {'nsg_rules': [{'name': 'x', 'priority': 200, 'direction': 'Inbound', 'access': 'Deny', 'protocol': 'Tcp', 'port': 1}]}},
     "Additional properties are not allowed ('port' was unexpected)"),
    ({'faults': {'egress_blocked': [{'port': 9000, 'protocol': 'icmp'}]}}, "faults/egress_blocked/0/protocol: 'icmp' is not one of"),
    ({'expect': {'problems': ['dns_broken']}}, "expect/problems/0: 'dns_broken' is not one of"),
    ({'faults': {'nsg_rules': [
        {'name': 'a', 'priority': 200, 'direction': 'Inbound', 'access': 'Deny', 'protocol': 'Tcp'},
        {'name': 'b', 'priority': 200, 'direction': 'inbound', 'access': 'Allow', 'protocol': 'Tcp'}]}},
     'faults/nsg_rules/1: two inbound rules on the nic NSG use priority 200'),
])
def test_invalid_scenarios_get_clear_errors(patch, message):
    data = copy.deepcopy(BASE)
    data.update(patch)
    with pytest.raises(scenario_mod.ScenarioError) as info:
        scenario_mod.validate(data, source='bad.yaml')
    assert message in str(info.value)


def test_unknown_scenario_names_the_catalogue():
    with pytest.raises(scenario_mod.ScenarioError, match='use a file path or one of: all-faults, '):
        scenario_mod.load('no-such-scenario')


def test_snake_case_rule_becomes_an_arm_rule_with_every_property():
    rule = {'nsg': 'subnet', 'name': 'deny', 'priority': 300, 'direction': 'inbound', 'access': 'deny', 'protocol': 'any',
            'source_address_prefixes': ['10.1.0.0/16'], 'source_port_ranges': [1000, '2000-3000'],
            'destination_address_prefix': 'VirtualNetwork', 'destination_port_range': 10250, 'description': 'd'}
    assert scenario_mod.arm_rule(rule) == {'name': 'deny', 'properties': {
        'description': 'd', 'priority': 300, 'direction': 'Inbound', 'access': 'Deny', 'protocol': '*',
        'sourceAddressPrefixes': ['10.1.0.0/16'], 'sourcePortRanges': ['1000', '2000-3000'],
        'destinationAddressPrefix': 'VirtualNetwork', 'destinationPortRange': '10250'}}


def test_lab_config_puts_subnet_rules_on_a_customer_nsg_and_places_tunnel_pods():
    data = copy.deepcopy(BASE)
    data['faults'] = {'nsg_rules': [{'nsg': 'subnet', 'name': 's', 'priority': 100, 'direction': 'Outbound', 'access': 'Deny',
                                     'protocol': 'Udp', 'destination_port_range': '1194'}],
                      'ufw': [{'node': 'nodepool1-0'}]}
    data['cluster']['tunnel'] = 'aks-link'
    config = scenario_mod.lab_config(scenario_mod.validate(data))
    assert config['network']['subnet_nsg'] == scenario_mod.CUSTOMER_SUBNET_NSG
    assert config['network']['nsgs'][scenario_mod.CUSTOMER_SUBNET_NSG]['security_rules'][0]['properties']['destinationPortRange'] == '1194'
    # The faulty node is avoided for the tunnel pod.
    assert config['kube'] == {'tunnel': 'aks-link', 'version': '1.31.2', 'aks_link': {'nodes': ['aks-nodepool1-64844604-vmss000001']}}


def _view(rules, subnet_rules=None):
    data = copy.deepcopy(BASE)
    data['faults'] = {'nsg_rules': [dict(r, nsg='nic') for r in rules] + [dict(r, nsg='subnet') for r in subnet_rules or []]}
    scenario = scenario_mod.validate(data)
    view = nsg.view_from_config(scenario_mod.lab_config(scenario), build_topology(scenario))
    view['gateway'] = '10.240.0.1'
    return view


def test_nsg_render_orders_rules_and_compiles_tags_ports_and_protocols():
    text = nsg.render(_view([
        {'name': 'deny-kubelet', 'priority': 200, 'direction': 'Inbound', 'access': 'Deny', 'protocol': 'Tcp',
         'destination_port_ranges': ['10250', '10000-10300']},
        {'name': 'allow-vnet', 'priority': 150, 'direction': 'Inbound', 'access': 'Allow', 'protocol': '*',
         'source_address_prefix': 'VirtualNetwork', 'destination_port_range': '22'},
        {'name': 'deny-internet', 'priority': 100, 'direction': 'Outbound', 'access': 'Deny', 'protocol': 'Udp',
         'destination_address_prefix': 'Internet', 'destination_port_range': '1194'},
        {'name': 'storage', 'priority': 300, 'direction': 'Outbound', 'access': 'Deny', 'protocol': 'Tcp',
         'destination_address_prefix': 'Storage'},
        {'name': 'mixed', 'priority': 310, 'direction': 'Outbound', 'access': 'Deny', 'protocol': 'Tcp',
         'destination_address_prefixes': ['2001:db8::/32', '10.240.0.9/16']},
    ]))
    lines = [line.strip() for line in text.splitlines()]
    nic_in = lines[lines.index('chain nic0_in {') + 1:]
    assert nic_in[0] == ('ip saddr { 10.240.0.0/12, 168.63.129.16 } meta l4proto { tcp, udp } th dport { 22 } counter return '
                         'comment "nic-in:allow-vnet:150"')
    assert nic_in[1] == 'meta l4proto tcp th dport { 10250, 10000-10300 } counter drop comment "nic-in:deny-kubelet:200"'
    assert nic_in[2].startswith('ip saddr { 10.240.0.0/12, 168.63.129.16 } ip daddr { 10.240.0.0/12, 168.63.129.16 } counter return')
    assert nic_in[4] == 'counter drop comment "nic-in:DenyAllInBound:65500"'
    nic_out = lines[lines.index('chain nic0_out {') + 1:]
    assert nic_out[0].startswith('ip daddr != { 0.0.0.0/8, 10.0.0.0/8, 10.240.0.0/12, ')
    assert nic_out[0].endswith('meta l4proto udp th dport { 1194 } counter drop comment "nic-out:deny-internet:100"')
    assert nic_out[1] == '# nic-out:storage:300 uses a service tag or only IPv6 prefixes the lab cannot match: never matches'
    assert nic_out[2] == 'ip daddr { 10.240.0.0/16 } meta l4proto tcp counter drop comment "nic-out:mixed:310"'
    assert 'set nic0 { type ipv4_addr; flags interval; auto-merge; elements = { 10.240.0.4, 10.240.0.5, 10.240.0.6, 10.240.0.7 } }' in lines
    assert 'ip saddr @nic0 jump nic0_out' in lines and 'ip daddr @nic0 jump nic0_in' in lines
    assert 'subnet_in' not in text


def test_nsg_render_adds_the_subnet_nsg_in_azure_order():
    text = nsg.render(_view([], subnet_rules=[{'name': 'x', 'priority': 100, 'direction': 'Inbound', 'access': 'Deny', 'protocol': 'Icmp'}]))
    lines = [line.strip() for line in text.splitlines()]
    outbound = lines[lines.index('chain outbound {') + 1:lines.index('chain outbound {') + 3]
    inbound = lines[lines.index('chain inbound {') + 1:lines.index('chain inbound {') + 3]
    assert outbound == ['ip saddr @nic0 jump nic0_out', 'ip saddr 10.240.0.0/16 jump subnet_out']
    assert inbound == ['ip daddr 10.240.0.0/16 ip daddr != 10.240.0.1 jump subnet_in', 'ip daddr @nic0 jump nic0_in']
    assert 'meta l4proto icmp counter drop comment "subnet-in:x:100"' in lines


def test_plan_shares_healthy_nodes_only_in_scale_mode():
    data = copy.deepcopy(BASE)
    data['node_pools'] = [{'name': 'nodepool1', 'count': 3}, {'name': 'user1', 'count': 70}]
    data['faults'] = {'kubelet_down': ['user1-5']}
    scenario = scenario_mod.validate(data)
    topology = build_topology(scenario)
    plan = plan_mod.make_plan(scenario, topology, 'akl0a0b', scenario_mod.tunnel_nodes(scenario, topology))
    kinds = [(ns['name'], ns['kind'], len(ns['ips']), ns['kubelet']) for ns in plan['namespaces']]
    assert kinds == [('akl0a0b-n0', 'node', 1, 'tls'), ('akl0a0b-s0', 'shared', 2, 'tls'), ('akl0a0b-n1', 'node', 1, 'tls'),
                     ('akl0a0b-s1', 'shared', 68, 'tls'), ('akl0a0b-n2', 'node', 1, 'down')]
    assert plan['blackholes'] == ['10.240.0.0/16', '198.51.100.0/24']
    assert all(len(name) <= 15 for name in plan_mod.all_namespaces(plan))


def test_labctl_help_works_without_root():
    labctl = os.path.join(os.path.dirname(os.path.abspath(scenario_mod.__file__)), 'labctl.py')
    proc = subprocess.run([sys.executable, labctl, '--help'], capture_output=True, text=True, check=False)
    assert proc.returncode == 0
    for word in ('up', 'down', 'status'):
        assert word in proc.stdout


@pytest.mark.parametrize('replicas, ladder, nodes, expected', [
    (2, None, 5, 2),
    (2, '{"nodesToReplicas":[[1,2],[100,3]]}', 150, 3),
    (1, '{"nodesToReplicas":[[1,1]]}', 120, 1),
    (3, '{"nodesToReplicas":[[1,1]]}', 120, 3),
    (2, 'not json', 120, 2),
])
def test_tunnel_pod_count_follows_the_ladder_when_it_asks_for_more(replicas, ladder, nodes, expected):
    data = copy.deepcopy(BASE)
    data['node_pools'] = [{'name': 'nodepool1', 'count': nodes}]
    data['konnectivity'] = {'replicas': replicas}
    if ladder:
        data['konnectivity']['ladder'] = ladder
    scenario = scenario_mod.validate(data)
    assert len(scenario_mod.tunnel_nodes(scenario)) == expected
