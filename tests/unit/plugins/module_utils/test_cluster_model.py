# -*- coding: utf-8 -*-
# Copyright (c) 2026 aks.tunnel contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import pytest

from ansible_collections.aks.tunnel.plugins.module_utils import _cluster_model as cm

SUB = '/subscriptions/s1'
MC_RG = SUB + '/resourceGroups/MC_rg_aks_we'
VMSS = MC_RG + '/providers/Microsoft.Compute/virtualMachineScaleSets/aks-np1-1234-vmss'
SUBNET = MC_RG + '/providers/Microsoft.Network/virtualNetworks/aks-vnet/subnets/aks-subnet'
NSG = MC_RG + '/providers/Microsoft.Network/networkSecurityGroups/aks-agentpool-1234-nsg'
LB_POOL = MC_RG + '/providers/Microsoft.Network/loadBalancers/kubernetes/backendAddressPools/kubernetes'


def azure(private=False, vnet_integration=False):
    vms = [{'id': VMSS + '/virtualMachines/%d' % i, 'instanceId': str(i),
            'properties': {'osProfile': {'computerName': 'aks-np1-1234-vmss00000%d' % i}}} for i in range(3)]
    nics = [{'id': VMSS + '/virtualMachines/%d/networkInterfaces/nic' % i,
             'properties': {'virtualMachine': {'id': VMSS + '/virtualMachines/%d' % i}, 'networkSecurityGroup': {'id': NSG},
                            'ipConfigurations': [{'properties': {'primary': True, 'privateIPAddress': '10.0.0.%d' % (4 + i),
                                                                 'subnet': {'id': SUBNET},
                                                                 'loadBalancerBackendAddressPools': [
                                                                     {'id': LB_POOL}]}}]}} for i in range(3)]
    return {
        'cluster': {'id': SUB + '/resourceGroups/rg/providers/Microsoft.ContainerService/managedClusters/aks', 'name': 'aks', 'location': 'we',
                    'properties': {'nodeResourceGroup': 'MC_rg_aks_we', 'fqdn': 'aks.hcp.we.azmk8s.io', 'privateFQDN': 'aks.privatelink' if private else None,
                                   'apiServerAccessProfile': {'enablePrivateCluster': private, 'enableVnetIntegration': vnet_integration},
                                   'agentPoolProfiles': [{'name': 'np1', 'osType': 'Linux', 'osSKU': 'Ubuntu', 'mode': 'System'}],
                                   'networkProfile': {'networkPlugin': 'azure', 'outboundType': 'loadBalancer'}}},
        'scale_sets': [{'name': 'aks-np1-1234-vmss', 'id': VMSS, 'tags': {'aks-managed-poolName': 'np1'}}],
        'vms': {'aks-np1-1234-vmss': vms},
        'nics': {'aks-np1-1234-vmss': nics},
        'subnets': {SUBNET.lower(): {'id': SUBNET, 'properties': {'addressPrefix': '10.0.0.0/16', 'networkSecurityGroup': {'id': NSG + '2'}}}},
        'vnets': {'x': {'id': 'vnet-id', 'properties': {'addressSpace': {'addressPrefixes': ['10.0.0.0/8']}}}},
    }


def knode(name, provider=None, ready='True'):
    node = {'metadata': {'name': name, 'labels': {'kubernetes.azure.com/agentpool': 'np1'}},
            'spec': {}, 'status': {'conditions': [{'type': 'Ready', 'status': ready}], 'allocatable': {'cpu': '1900m'},
                                   'addresses': [{'type': 'InternalIP', 'address': '10.9.9.9'}]}}
    if provider:
        node['spec']['providerID'] = provider
    return node


def pod(name, node, labels, phase='Running'):
    return {'metadata': {'name': name, 'labels': labels}, 'spec': {'nodeName': node},
            'status': {'phase': phase, 'conditions': [{'type': 'Ready', 'status': 'True'}], 'containerStatuses': [{'restartCount': 2, 'ready': True}]}}


def test_nodes_are_mapped_by_provider_id_then_computer_name():
    kube = {'nodes': [knode('aks-np1-1234-vmss000000', 'azure://' + VMSS.lower() + '/virtualMachines/0'),
                      knode('aks-np1-1234-vmss000001'), knode('virtual-node-aci')],
            'pods': {'konnectivity': [pod('konn-a', 'aks-np1-1234-vmss000001', {'app': 'konnectivity-agent', 'component': 'tunnel'})]}}
    model = cm.assemble(azure(), kube)
    by_name = dict((n['name'], n) for n in model['nodes'])
    assert sorted(by_name) == ['aks-np1-1234-vmss000000', 'aks-np1-1234-vmss000001', 'aks-np1-1234-vmss000002', 'virtual-node-aci']
    first = by_name['aks-np1-1234-vmss000000']
    assert (first['pool'], first['instance_id'], first['private_ip'], first['nic_nsg_id'], first['subnet_nsg_id']) == \
        ('np1', '0', '10.0.0.4', NSG, NSG + '2')
    assert (first['in_kubernetes'], first['ready'], first['allocatable_cpu'], first['hosts_tunnel']) == (True, True, '1900m', False)
    assert by_name['aks-np1-1234-vmss000001']['hosts_tunnel'] is True
    assert by_name['aks-np1-1234-vmss000002']['in_kubernetes'] is False
    assert by_name['virtual-node-aci']['vmss'] is None and by_name['virtual-node-aci']['private_ip'] == '10.9.9.9'
    cluster = model['cluster']
    assert cluster['load_balancer_id'] == MC_RG + '/providers/Microsoft.Network/loadBalancers/kubernetes'
    assert (cluster['vnet_address_prefixes'], cluster['subnet_ids'], cluster['resource_group']) == (['10.0.0.0/8'], [SUBNET], 'rg')
    assert model['tunnel']['pods'] == [{'name': 'konn-a', 'node': 'aks-np1-1234-vmss000001', 'phase': 'Running', 'ready': True, 'restarts': 2}]


@pytest.mark.parametrize('pods, private, vnet, component, ports', [
    ({'konnectivity': [pod('k', 'n1', {'app': 'konnectivity-agent', 'component': 'tunnel'})],
      'tunnel-front': [pod('k', 'n1', {'app': 'konnectivity-agent', 'component': 'tunnel'})]}, False, False, 'konnectivity', [443]),
    ({'tunnel-front': [pod('t', 'n1', {'component': 'tunnel'})]}, False, False, 'tunnel-front', [9000]),
    ({'aks-link': [pod('a', 'n1', {'app': 'aks-link'})]}, False, False, 'aks-link', [1194]),
    ({}, False, False, 'none', []),
    # a private cluster's konnectivity agents dial the private endpoint on 443 (issue 16)
    ({'konnectivity': [pod('k', 'n1', {'app': 'konnectivity-agent'})]}, True, False, 'konnectivity', [443]),
    ({'tunnel-front': [pod('t', 'n1', {'component': 'tunnel'})]}, True, False, 'tunnel-front', []),
    ({'konnectivity': [pod('k', 'n1', {'app': 'konnectivity-agent'})]}, False, True, 'konnectivity', []),
])
def test_detect_tunnel(pods, private, vnet, component, ports):
    tunnel = cm.detect_tunnel(pods, private, vnet)
    assert tunnel['component'] == component
    assert [e['port'] for e in tunnel['egress']] == ports
    assert tunnel['nodes'] == (['n1'] if component != 'none' else [])


def test_private_cluster_uses_private_fqdn():
    model = cm.assemble(azure(private=True), {'nodes': [], 'pods': {}})
    assert model['cluster']['api_server_host'] == 'aks.privatelink' and model['cluster']['private_cluster'] is True


def test_without_kubernetes_the_tunnel_is_unknown():
    model = cm.assemble(azure(), None)
    assert model['tunnel']['component'] is None and all(n['ready'] is None for n in model['nodes'])


def test_parse_resource_id():
    parsed = cm.parse_resource_id(VMSS + '/virtualMachines/3')
    assert (parsed['subscription'], parsed['resource_group'], parsed['provider'], parsed['types'], parsed['name']) == \
        ('s1', 'MC_rg_aks_we', 'Microsoft.Compute', ['virtualMachineScaleSets', 'virtualMachines'], '3')
    assert cm.parse_resource_id('') is None


def test_resolve_nodes_by_name_and_vmss_instance_and_unknown():
    model = cm.assemble(azure(), None)
    found = cm.resolve_nodes(model, ['AKS-NP1-1234-VMSS000001', 'aks-np1-1234-vmss/2'])
    assert [n['instance_id'] for n in found] == ['1', '2']
    with pytest.raises(cm.ClusterModelError, match='unknown node.s. nope: give Kubernetes node names'):
        cm.resolve_nodes(model, ['nope'])


def test_fetch_azure_uses_list_calls_only():
    class Pager(list):
        pass

    class Fake:
        def __init__(self):
            self.calls = []
            data = azure()
            self.containerservice = self.compute = self.network = self
            self.managed_clusters = self.virtual_machine_scale_sets = self.virtual_machine_scale_set_vms = self
            self.network_interfaces = self.subnets = self.virtual_networks = self
            self._data = data

        def get(self, *args):
            self.calls.append(('get',) + args)
            if len(args) == 2 and args[1] == 'aks':
                return self._data['cluster']
            if len(args) == 3:
                return list(self._data['subnets'].values())[0]
            return list(self._data['vnets'].values())[0]

        def list(self, *args):
            self.calls.append(('list',) + args)
            if len(args) == 1:
                return Pager(self._data['scale_sets'])
            return Pager(self._data['vms'][args[1]])

        def list_virtual_machine_scale_set_network_interfaces(self, *args):
            self.calls.append(('nics',) + args)
            return Pager(self._data['nics'][args[1]])

    fake = Fake()
    data = cm.fetch_azure(fake, 'rg', 'aks')
    assert len(fake.calls) == 6  # cluster, scale sets, VMs, NICs, subnet, vnet - independent of the node count
    assert len(data['vms']['aks-np1-1234-vmss']) == 3


@pytest.mark.parametrize('pods, listed', [
    ({'konnectivity': [pod('k', 'n1', {'app': 'konnectivity-agent'})]}, ['app=konnectivity-agent']),
    ({'aks-link': [pod('a', 'n1', {'app': 'aks-link'})]}, ['app=konnectivity-agent', 'app=aks-link']),
    ({'tunnel-front': [pod('t', 'n1', {'component': 'tunnel'})]}, ['app=konnectivity-agent', 'app=aks-link', 'component=tunnel']),
    ({}, ['app=konnectivity-agent', 'app=aks-link', 'component=tunnel']),
    # a konnectivity pod being deleted does not count: the next selectors are listed too
    ({'konnectivity': [dict(pod('k', 'n1', {'app': 'konnectivity-agent'}), metadata={'name': 'k', 'deletionTimestamp': 'x'})]},
     ['app=konnectivity-agent', 'app=aks-link', 'component=tunnel']),
])
def test_fetch_kube_stops_at_the_first_component_with_pods(monkeypatch, pods, listed):
    kubernetes = pytest.importorskip('kubernetes')
    selectors = []
    by_selector = dict((selector, pods.get(component, [])) for component, selector in cm.TUNNEL_SELECTORS)

    class Core:
        def __init__(self, api):
            pass

        def list_node(self, **kwargs):
            return []

        def list_namespaced_pod(self, namespace, label_selector=None, **kwargs):
            selectors.append(label_selector)
            return by_selector[label_selector]

    monkeypatch.setattr(kubernetes.client, 'CoreV1Api', Core)
    fetched = cm.fetch_kube(object(), 5, lambda call, *args, **kwargs: call(*args, **kwargs))
    assert selectors == listed
    assert cm.detect_tunnel(fetched['pods']) == cm.detect_tunnel(pods)


def test_the_model_carries_what_the_other_modules_need():
    data = azure()
    data['cluster']['properties']['agentPoolProfiles'][0].update(count=3, maxCount=5, enableAutoScaling=True, upgradeSettings={'maxSurge': '33%'})
    konn = dict(pod('konn-a', 'aks-np1-1234-vmss000001', {'app': 'konnectivity-agent'}))
    konn['metadata'] = dict(konn['metadata'], managedFields=[{'manager': 'kubelet'}])
    nodes = [dict(knode('aks-np1-1234-vmss00000%d' % i), status={'allocatable': {'cpu': '1900m', 'memory': '5Gi'}}) for i in range(3)]
    leaving = dict(pod('konn-b', 'aks-np1-1234-vmss000002', {'app': 'konnectivity-agent'}))
    leaving['metadata'] = dict(leaving['metadata'], deletionTimestamp='2026-12-04T08:00:00Z')
    model = cm.assemble(data, {'nodes': nodes, 'pods': {'konnectivity': [leaving, konn]}})
    cluster = model['cluster']
    assert model['model_version'] == cm.MODEL_VERSION and model['kubernetes_read'] is True
    assert cluster['nsg_ids'] == [NSG, NSG + '2']
    assert cluster['agent_pools'][0]['max_count'] == 5 and cluster['agent_pools'][0]['max_surge'] == '33%'
    assert [n['allocatable_memory'] for n in model['nodes']] == ['5Gi'] * 3
    assert model['tunnel']['selector'] == 'app=konnectivity-agent' and model['tunnel']['namespace'] == 'kube-system'
    # the agent check given the model sees every listed pod, the terminating one too (it may be the OOM-killed one)
    assert [p['metadata'] for p in model['tunnel']['pod_objects']] == [
        {'name': 'konn-a', 'labels': {'app': 'konnectivity-agent'}},
        {'name': 'konn-b', 'labels': {'app': 'konnectivity-agent'}, 'deletionTimestamp': '2026-12-04T08:00:00Z'}]
    assert [p['name'] for p in model['tunnel']['pods']] == ['konn-a']
    body = cm.managed_cluster_body(model)
    assert body['properties']['agentPoolProfiles'][0]['upgradeSettings'] == {'maxSurge': '33%'}
    assert cm.check_model(model, 'rg', 'aks') is model
    assert [n['status']['allocatable'] for n in cm.node_objects(model)] == [{'cpu': '1900m', 'memory': '5Gi'}] * 3
