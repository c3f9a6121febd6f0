# -*- coding: utf-8 -*-
# Copyright (c) 2026 aks.tunnel contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""API Server VNet Integration: tunnel by network plugin, NSG paths to the API server subnet, finding (pure)."""

from __future__ import annotations

import pytest

from ansible_collections.aks.tunnel.plugins.module_utils import _apiserver_subnet as apisubnet

SUB = '/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg-net/providers/Microsoft.Network'
NIC_NSG = SUB + '/networkSecurityGroups/aks-agentpool-nsg'
NODE_SUBNET_NSG = SUB + '/networkSecurityGroups/nodes-nsg'
API_NSG = SUB + '/networkSecurityGroups/apiserver-nsg'
API_SUBNET = SUB + '/virtualNetworks/vnet/subnets/apiserver'


def rule(name, priority, direction, access, port, source='*', destination='*', protocol='Tcp'):
    return {'name': name, 'properties': {'priority': priority, 'direction': direction, 'access': access, 'protocol': protocol,
                                         'sourceAddressPrefix': source, 'sourcePortRange': '*', 'destinationAddressPrefix': destination,
                                         'destinationPortRange': str(port)}}


def nsg(nsg_id, *rules):
    return {'id': nsg_id, 'name': nsg_id.rsplit('/', 1)[1], 'type': 'Microsoft.Network/networkSecurityGroups',
            'properties': {'securityRules': list(rules)}}


def model(subnet_nsg=True):
    nodes = [{'name': 'aks-nodepool1-0000000%d' % i, 'private_ip': '10.224.0.%d' % (4 + i), 'nic_nsg_id': NIC_NSG,
              'subnet_nsg_id': NODE_SUBNET_NSG if subnet_nsg else None} for i in range(3)]
    return {'cluster': {'vnet_address_prefixes': ['10.224.0.0/12']}, 'nodes': nodes}


def subnet(nsg_id=API_NSG, prefix='10.225.0.0/28'):
    props = {'addressPrefix': prefix}
    if nsg_id:
        props['networkSecurityGroup'] = {'id': nsg_id}
    return {'id': API_SUBNET, 'name': 'apiserver', 'properties': props}


def nsgs(*api_rules, node_rules=()):
    return dict((n['id'].lower(), n) for n in (nsg(NIC_NSG), nsg(NODE_SUBNET_NSG, *node_rules), nsg(API_NSG, *api_rules)))


@pytest.mark.parametrize('plugin, mode, remains', [
    ('azure', None, False), ('azure', '', False), ('azure', 'overlay', True), ('none', None, True), ('kubenet', None, True), (None, None, True),
])
def test_tunnel_remains(plugin, mode, remains):
    assert apisubnet.tunnel_remains(plugin, mode)[0] is remains


@pytest.mark.parametrize('prefix, address', [('10.225.0.0/28', '10.225.0.4'), ('10.1.2.0/24', '10.1.2.4')])
def test_representative_ip(prefix, address):
    assert apisubnet.representative_ip(apisubnet.subnet_prefix(subnet(prefix=prefix))) == address


@pytest.mark.parametrize('body', [subnet(prefix='10.225.0.0/30'), {'id': 'x', 'properties': {}}])
def test_unusable_subnets_are_refused(body):
    with pytest.raises(apisubnet.ApiserverSubnetError):
        apisubnet.representative_ip(apisubnet.subnet_prefix(body))


@pytest.mark.parametrize('api_rules, node_rules, status, blocked', [
    # AKS's default rules allow VirtualNetwork -> VirtualNetwork and AzureLoadBalancer inbound
    ((), (), 'ok', []),
    ((rule('deny-4443', 200, 'Inbound', 'Deny', 4443, 'VirtualNetwork'),), (), 'problem', [('nodes', 4443)]),
    # 9988: the articles name no protocol / UDP; denied for both is a problem, for one only is undecided
    ((rule('deny-lb', 300, 'Inbound', 'Deny', 9988, 'AzureLoadBalancer', protocol='*'),), (), 'problem', [('AzureLoadBalancer', 9988)]),
    ((rule('deny-lb', 300, 'Inbound', 'Deny', 9988, 'AzureLoadBalancer'),), (), 'unknown', []),
    ((rule('deny-lb', 300, 'Inbound', 'Deny', 9988, 'AzureLoadBalancer', protocol='Udp'),), (), 'unknown', []),
    ((rule('deny-lb-t', 300, 'Inbound', 'Deny', 9988, 'AzureLoadBalancer'), rule('deny-lb-u', 310, 'Inbound', 'Deny', 9988, 'AzureLoadBalancer',
                                                                                 protocol='Udp')), (), 'problem', [('AzureLoadBalancer', 9988)]),
    # the node subnet's outbound rules count too
    ((), (rule('deny-out-443', 100, 'Outbound', 'Deny', 443, '*', '10.225.0.0/28'),), 'problem', [('nodes', 443)]),
    # an allow before the deny
    ((rule('allow-4443', 150, 'Inbound', 'Allow', 4443, '10.224.0.0/16'), rule('deny-4443', 200, 'Inbound', 'Deny', 4443)), (), 'ok', []),
    # the API server subnet -> the kubelets (TCP 10250): the node subnet's and NIC's inbound rules, the API server subnet's outbound
    ((), (rule('deny-10250-in', 200, 'Inbound', 'Deny', 10250, '10.225.0.0/28'),), 'problem', [('apiserver_subnet', 10250)]),
    ((), (rule('deny-10250-vnet', 200, 'Inbound', 'Deny', 10250, 'VirtualNetwork'),), 'problem', [('apiserver_subnet', 10250)]),
    ((rule('deny-10250-out', 200, 'Outbound', 'Deny', 10250, '*', 'VirtualNetwork'),), (), 'problem', [('apiserver_subnet', 10250)]),
    # a deny from elsewhere, or to another port, does not touch it
    ((), (rule('deny-10250-other', 200, 'Inbound', 'Deny', 10250, '10.226.0.0/24'),), 'ok', []),
    ((), (rule('allow-api', 150, 'Inbound', 'Allow', 10250, '10.225.0.0/28'), rule('deny-10250-all', 200, 'Inbound', 'Deny', 10250)), 'ok', []),
    # both directions at once
    ((rule('deny-4443', 200, 'Inbound', 'Deny', 4443, 'VirtualNetwork'),), (rule('deny-10250-in', 200, 'Inbound', 'Deny', 10250),), 'problem',
     [('apiserver_subnet', 10250), ('nodes', 4443)]),
    # a tag the evaluator cannot resolve decides nothing: unknown, not ok
    ((rule('deny-cloud', 200, 'Inbound', 'Deny', 443, 'AzureCloud.westeurope'),), (), 'unknown', []),
])
def test_check_and_finding(api_rules, node_rules, status, blocked):
    result = apisubnet.check_flows(model(), subnet(), nsgs(*api_rules, node_rules=node_rules))
    # rules naming addresses are evaluated per node: one blocked flow per node then, the same (source, port)
    assert sorted(set((f['source'], f['port']) for f in result['blocked'])) == blocked
    finding = apisubnet.finding(result, True, apisubnet.tunnel_remains('azure', 'overlay'), ['10.224.0.0/16'])
    assert finding['cause'] == 'apiserver_subnet_ports_blocked' and finding['status'] == status, finding
    assert any('10.225.0.4' in line for line in finding['evidence'])
    if status == 'problem':
        if blocked[0][0] != 'AzureLoadBalancer':
            assert finding['affected_nodes'] == ['aks-nodepool1-00000000', 'aks-nodepool1-00000001', 'aks-nodepool1-00000002']
        else:
            assert finding['affected_nodes'] == []
        command = next(c for c in finding['remediation']['commands'] if c.endswith('--destination-port-ranges %d' % blocked[0][1]))
        if blocked[0][0] == 'apiserver_subnet':
            assert '--destination-port-ranges 10250' in command and '--source-address-prefixes 10.225.0.0/28' in command
            assert '--destination-address-prefixes 10.224.0.0/16' in command and 'TCP 10250 from the API server subnet' in finding['summary']
            assert ('--direction Outbound' in command) is (api_rules != () and api_rules[0]['name'] == 'deny-10250-out')
        else:
            assert '--destination-port-ranges %d' % blocked[0][1] in command and '--destination-address-prefixes 10.225.0.0/28' in command
        assert ("--protocol '*'" if blocked[0][1] == 9988 else '--protocol Tcp') in command
    if status == 'unknown' and api_rules[0]['name'] == 'deny-lb':
        assert 'AKS\'s articles name 9988 without a protocol and as UDP' in finding['summary'], finding['summary']


def test_one_evaluation_per_nsg_combination():
    result = apisubnet.check_flows(model(), subnet(), nsgs())
    flows = [(f['source'], f['port'], len(f['source_nodes'])) for f in result['flows']]
    assert flows == [('nodes', 443, 3), ('nodes', 4443, 3), ('apiserver_subnet', 10250, 3), ('AzureLoadBalancer', 9988, 0),
                     ('AzureLoadBalancer', 9988, 0)]
    assert [f['protocol'] for f in result['flows']] == ['Tcp', 'Tcp', 'Tcp', 'Tcp', 'Udp']


def test_no_nsg_anywhere_allows():
    result = apisubnet.check_flows(model(subnet_nsg=False), subnet(nsg_id=None), {NIC_NSG.lower(): nsg(NIC_NSG)})
    assert result['blocked'] == [] and result['unknown'] == []


def test_finding_without_vnet_integration_or_subnet():
    assert apisubnet.finding(None, False)['status'] == 'not_applicable'
    assert apisubnet.finding(None, True)['status'] == 'unknown'


def test_an_nsg_not_read_is_an_error():
    with pytest.raises(apisubnet.ApiserverSubnetError):
        apisubnet.check_flows(model(), subnet(), {})


@pytest.mark.parametrize('plugin, mode, egress_needed', [('azure', None, False), ('azure', 'overlay', True), ('none', None, True)])
def test_the_cluster_model_keeps_the_tunnel_where_it_remains(plugin, mode, egress_needed):
    from ansible_collections.aks.tunnel.plugins.module_utils import _cluster_model
    from ansible_collections.aks.tunnel.tests.unit.plugins.module_utils.test_cluster_model import azure, pod

    data = azure(vnet_integration=True)
    network = data['cluster']['properties']['networkProfile']
    network['networkPlugin'] = plugin
    if mode:
        network['networkPluginMode'] = mode
    data['cluster']['properties']['apiServerAccessProfile']['subnetId'] = API_SUBNET
    pods = {'konnectivity': [pod('konn-a', 'aks-np1-1234-vmss000001', {'app': 'konnectivity-agent', 'component': 'tunnel'})]}
    model = _cluster_model.assemble(data, {'nodes': [], 'pods': pods})
    assert bool(model['tunnel']['egress']) is egress_needed, model['tunnel']
    assert model['cluster']['apiserver_subnet_id'] == API_SUBNET and model['cluster']['vnet_integration'] is True
