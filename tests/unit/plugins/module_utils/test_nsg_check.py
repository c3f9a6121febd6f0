# -*- coding: utf-8 -*-
# Copyright (c) 2026 aks.tunnel contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import pytest

from ansible_collections.aks.tunnel.plugins.module_utils import _nsg_check as nc

NIC_NSG = '/subscriptions/s/resourceGroups/MC_rg/providers/Microsoft.Network/networkSecurityGroups/aks-agentpool-1-nsg'
SUBNET_NSG = '/subscriptions/s/resourceGroups/rg-net/providers/Microsoft.Network/networkSecurityGroups/customer-nsg'


def rule(name, priority, access='Deny', direction='Inbound', protocol='Tcp', dport='10250', src='*', dst='*', dsts=None):
    props = {'priority': priority, 'access': access, 'direction': direction, 'protocol': protocol, 'sourcePortRange': '*',
             'destinationPortRange': dport, 'sourceAddressPrefix': src}
    if dsts:
        props['destinationAddressPrefixes'] = dsts
    else:
        props['destinationAddressPrefix'] = dst
    return {'name': name, 'properties': props}


def nsg(nsg_id, rules):
    return {'id': nsg_id, 'name': nsg_id.rsplit('/', 1)[-1], 'type': 'Microsoft.Network/networkSecurityGroups',
            'properties': {'securityRules': rules}}


def node(name, ip, tunnel=False, subnet_nsg=None):
    return {'name': name, 'private_ip': ip, 'nic_nsg_id': NIC_NSG, 'subnet_nsg_id': subnet_nsg, 'hosts_tunnel': tunnel}


def model(n=4, subnet_nsg=None):
    nodes = [node('n%d' % i, '10.0.0.%d' % (4 + i), tunnel=i < 2, subnet_nsg=subnet_nsg) for i in range(n)]
    return {'cluster': {'vnet_address_prefixes': ['10.0.0.0/16']}, 'nodes': nodes,
            'tunnel': {'egress': [{'protocol': 'Tcp', 'port': 443}], 'egress_reason': 'x'}}


def run(rules, subnet_rules=None, egress=None, api_ip='20.1.2.3', n=4):
    m = model(n, subnet_nsg=SUBNET_NSG if subnet_rules is not None else None)
    nsgs = {NIC_NSG.lower(): nsg(NIC_NSG, rules)}
    if subnet_rules is not None:
        nsgs[SUBNET_NSG.lower()] = nsg(SUBNET_NSG, subnet_rules)
    sources = [x for x in m['nodes'] if x['hosts_tunnel']]
    return m, sources, nc.check_paths(m, nsgs, sources, egress=egress, api_server_ip=api_ip)


def test_healthy_needs_one_evaluation_per_combination():
    _m, sources, result = run([])
    assert result['evaluations'] == 1 and result['paths'] == {'checked': 6, 'allowed': 6, 'denied': 0, 'unknown': 0}
    finding = nc.kubelet_finding(result, sources)
    assert finding['status'] == 'ok' and finding['affected_nodes'] == []


def test_address_specific_deny_names_the_rule_and_the_nodes():
    _m, sources, result = run([rule('deny-kubelet', 200, dport='10000-10300', dsts=['10.0.0.6/32', '10.0.0.7/32'])])
    assert result['evaluations'] == 6
    assert [(b['rule'], b['priority'], b['nodes'], b['source_nodes'], b['position']) for b in result['blocking_rules']] == \
        [('deny-kubelet', 200, ['n2', 'n3'], ['n0', 'n1'], 'destination_nic')]
    finding = nc.kubelet_finding(result, sources)
    assert (finding['cause'], finding['status'], finding['affected_nodes']) == ('nsg_blocks_10250', 'problem', ['n2', 'n3'])
    assert finding['remediation']['nsg_rules'] == [{
        'resource_group': 'MC_rg', 'nsg': 'aks-agentpool-1-nsg', 'nsg_id': NIC_NSG, 'direction': 'Inbound', 'port': 10250, 'protocol': 'Tcp',
        'blocking_rule': 'deny-kubelet', 'blocking_priority': 200, 'blocking_rules': [{'rule': 'deny-kubelet', 'priority': 200}],
        # no subnet prefix in this model: the node IPs stand for their subnets
        'source_prefixes': ['10.0.0.4/32', '10.0.0.5/32'], 'destination_prefixes': ['10.0.0.6/32', '10.0.0.7/32'],
        'source_ips': ['10.0.0.4', '10.0.0.5'], 'destination_ips': ['10.0.0.6', '10.0.0.7'],
        'flow_sources': ['10.0.0.4', '10.0.0.5'], 'flow_destinations': ['10.0.0.6', '10.0.0.7'], 'vnet_prefixes': ['10.0.0.0/16']}]
    per_nsg = result['nsgs'][0]
    assert per_nsg['blocking_rules'] == ['deny-kubelet'] and per_nsg['denied'] == 4


def test_subnet_nsg_deny_and_allow_override():
    _m, sources, result = run([], subnet_rules=[rule('allow-10250', 100, access='Allow', src='VirtualNetwork'),
                                                rule('deny-all-10250', 300)])
    assert nc.kubelet_finding(result, sources)['status'] == 'ok'
    _m, sources, result = run([], subnet_rules=[rule('deny-all-10250', 300)])
    assert [b['nsg_name'] for b in result['blocking_rules']] == ['customer-nsg']
    assert nc.kubelet_finding(result, sources)['affected_nodes'] == ['n0', 'n1', 'n2', 'n3']


def test_unknown_service_tag_is_unknown_with_reason():
    _m, sources, result = run([rule('deny-storage', 200, src='Storage')])
    finding = nc.kubelet_finding(result, sources)
    assert finding['status'] == 'unknown' and 'Storage' in finding['summary']


def test_egress_deny_and_unknown_address():
    egress = [{'protocol': 'Tcp', 'port': 9000}]
    _m, _sources, result = run([rule('deny-9000-out', 400, direction='Outbound', dport='9000', dst='Internet')], egress=egress)
    finding = nc.egress_finding(result, {'egress': egress})
    assert (finding['status'], finding['affected_nodes']) == ('problem', ['n0', 'n1'])
    assert finding['remediation']['nsg_rules'][0]['blocking_rule'] == 'deny-9000-out'
    _m, _sources, result = run([], egress=egress, api_ip=None)
    assert nc.egress_finding(result, {'egress': egress})['status'] == 'unknown'
    _m, _sources, result = run([], egress=egress)
    assert nc.egress_finding(result, {'egress': egress})['status'] == 'ok'
    assert nc.egress_finding(result, {'egress': [], 'egress_reason': 'private cluster'})['status'] == 'not_applicable'


def test_no_sources_is_unknown():
    assert nc.kubelet_finding({'blocking_rules': []}, [])['status'] == 'unknown'


def test_zero_flows_evaluated_is_unknown_never_ok():
    # Issue 12: tunnel nodes without an IP in the model - nothing evaluated proves nothing.
    m = model(4)
    for item in m['nodes']:
        item['private_ip'] = None
    sources = [x for x in m['nodes'] if x['hosts_tunnel']]
    result = nc.check_paths(m, {NIC_NSG.lower(): nsg(NIC_NSG, [])}, sources, api_server_ip='20.1.2.3')
    assert result['paths']['checked'] == 0
    finding = nc.kubelet_finding(result, sources)
    assert finding['status'] == 'unknown' and '0 flows' in finding['summary'], finding


@pytest.mark.parametrize('rules, expected', [
    ([rule('a', 300), rule('b', 200, dport='10000-11000'), rule('c', 100, dport='22')], [200, 300]),
    ([rule('a', 300, protocol='Udp')], []),
    ([rule('a', 300, protocol='*')], [300]),
    ([rule('a', 300, access='Allow')], []),
    ([rule('a', 300, direction='Outbound')], []),
    ([rule('allow-aks-tunnel-10250', 300)], []),
])
def test_blocking_rules_for(rules, expected):
    found = nc.blocking_rules_for(rules, 10250, 'Tcp', 'Inbound', exclude='allow-aks-tunnel-10250')
    assert [r['priority'] for r in found] == expected


def test_rule_differences():
    current = rule('x', 199, access='Allow', src='VirtualNetwork')
    desired = rule('x', 199, access='allow', src='VirtualNetwork')
    assert nc.rule_differences(current, desired) == []
    desired['properties']['priority'] = 150
    assert nc.rule_differences(current, desired) == ['priority']
    assert nc.rule_view(current)['priority'] == 199 and nc.rule_view(None) == {}


def test_unreadable_or_invalid_nsg_is_unknown_not_a_crash():
    m = model(2)
    broken = {NIC_NSG.lower(): nsg(NIC_NSG, [{'name': 'bad', 'properties': {'priority': 'x', 'access': 'Deny', 'direction': 'Inbound'}}])}
    result = nc.check_paths(m, broken, [m['nodes'][0]])
    assert result['paths'] == {'checked': 1, 'allowed': 0, 'denied': 0, 'unknown': 1}
    assert 'priority must be an integer' in result['unknown_nodes'][0]['reason']
    result = nc.check_paths(m, {}, [m['nodes'][0]])
    assert result['unknown_nodes'] == [{'node': 'n1', 'reason': 'NSG %s could not be read' % NIC_NSG}]


def test_every_nsg_that_denies_gets_its_own_repair_with_the_node_subnets():
    """Subnet NSG and NIC NSG are separate: both deny, so both need an Allow (the path reports the first only)."""
    m = model(4, subnet_nsg=SUBNET_NSG)
    for item in m['nodes']:
        item['subnet_prefix'] = '10.0.0.0/24'
    nsgs = {NIC_NSG.lower(): nsg(NIC_NSG, [rule('deny-nic', 400)]),
            SUBNET_NSG.lower(): nsg(SUBNET_NSG, [rule('deny-jumpbox', 300, src='10.0.64.0/24'), rule('deny-subnet', 500)])}
    sources = [x for x in m['nodes'] if x['hosts_tunnel']]
    result = nc.check_paths(m, nsgs, sources)
    assert [b['rule'] for b in result['blocking_rules']] == ['deny-subnet']
    rules = nc.kubelet_finding(result, sources)['remediation']['nsg_rules']
    assert [(r['nsg'], r['direction'], r['blocking_rule'], r['blocking_priority']) for r in rules] == [
        ('aks-agentpool-1-nsg', 'Inbound', 'deny-nic', 400), ('customer-nsg', 'Inbound', 'deny-subnet', 500)]
    for entry in rules:
        assert entry['source_prefixes'] == entry['destination_prefixes'] == ['10.0.0.0/24']
        assert entry['flow_sources'] == ['10.0.0.4', '10.0.0.5'] and entry['flow_destinations'] == ['10.0.0.4', '10.0.0.5', '10.0.0.6', '10.0.0.7']
