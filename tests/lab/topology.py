# -*- coding: utf-8 -*-
# Copyright (c) 2026 aks.tunnel contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The lab cluster's topology: one source of names, ids and IPs for every emulator and the data plane.

The ARM emulator (VMSS, VMs, NICs), the Kubernetes emulator (nodes, providerID) and the data plane
(namespaces, IPs) all derive their objects from `build_topology(spec)`, so they always agree the way a
real AKS cluster does: node name = VMSS computer name, providerID = the VMSS VM resource id (lower-case
resource group, as AKS writes it), InternalIP = the NIC's private IP.
"""

from __future__ import annotations

import hashlib
import ipaddress
import uuid

DEFAULT_SUBSCRIPTION = '00000000-0000-4000-8000-00000000a1b2'
DEFAULT_TENANT = '11111111-1111-4111-8111-11111111c3d4'
# The one Kubernetes version of a lab: ARM's managed cluster (kubernetesVersion, orchestratorVersion) and the
# Kubernetes API (/version, nodes' kubeletVersion) both take it from the lab config's cluster.kubernetes_version.
DEFAULT_KUBERNETES_VERSION = '1.31.2'
BASE36 = '0123456789abcdefghijklmnopqrstuvwxyz'


class TopologyError(ValueError):
    """The cluster spec cannot be turned into a topology."""


def base36(number, width=6):
    """VMSS computer-name suffix: the instance id in base 36, zero-padded to 6 characters."""
    if number < 0:
        raise TopologyError('instance id must be >= 0, got %r' % number)
    digits = ''
    while True:
        number, rem = divmod(number, 36)
        digits = BASE36[rem] + digits
        if number == 0:
            break
    return digits.rjust(width, '0')


def _pool_hash(cluster_name, resource_group):
    # AKS puts an 8-digit number derived from the cluster into VMSS names (aks-nodepool1-12345678-vmss).
    digest = hashlib.sha256(('%s/%s' % (resource_group, cluster_name)).encode()).hexdigest()
    return str(int(digest[:12], 16) % 90000000 + 10000000)


def build_topology(spec):
    """Return a dict describing the cluster from a scenario-like spec.

    spec keys: cluster {name, resource_group, location, node_resource_group?, subscription_id?,
    vnet_prefix? (default 10.240.0.0/16 within vnet 10.240.0.0/12 when not given), private?, tunnel?,
    outbound_type?}, node_pools [{name, count, vm_size?, mode?, os_sku?, max_count?}].
    """
    cluster = dict(spec.get('cluster') or {})
    for key in ('name', 'resource_group'):
        if not cluster.get(key):
            raise TopologyError('cluster.%s is required' % key)
    cluster.setdefault('location', 'westeurope')
    cluster.setdefault('subscription_id', DEFAULT_SUBSCRIPTION)
    cluster.setdefault('tenant_id', DEFAULT_TENANT)
    cluster.setdefault('node_resource_group', 'MC_%s_%s_%s' % (cluster['resource_group'], cluster['name'], cluster['location']))
    cluster.setdefault('subnet_prefix', '10.240.0.0/16')
    cluster.setdefault('vnet_prefix', '10.240.0.0/12')
    cluster.setdefault('tunnel', 'konnectivity')
    cluster.setdefault('private', False)
    cluster.setdefault('outbound_type', 'loadBalancer')
    subnet = ipaddress.ip_network(cluster['subnet_prefix'])
    if not subnet.subnet_of(ipaddress.ip_network(cluster['vnet_prefix'])):
        raise TopologyError('subnet_prefix %s is not inside vnet_prefix %s' % (cluster['subnet_prefix'], cluster['vnet_prefix']))
    pools = spec.get('node_pools') or []
    if not pools:
        raise TopologyError('node_pools must list at least one pool')

    sub = cluster['subscription_id']
    mc_rg = cluster['node_resource_group']
    pool_hash = _pool_hash(cluster['name'], cluster['resource_group'])
    vnet_name = 'aks-vnet-%s' % pool_hash
    vnet_id = '/subscriptions/%s/resourceGroups/%s/providers/Microsoft.Network/virtualNetworks/%s' % (sub, mc_rg, vnet_name)
    subnet_id = vnet_id + '/subnets/aks-subnet'
    nic_nsg_name = 'aks-agentpool-%s-nsg' % pool_hash
    nic_nsg_id = '/subscriptions/%s/resourceGroups/%s/providers/Microsoft.Network/networkSecurityGroups/%s' % (sub, mc_rg, nic_nsg_name)
    hosts = subnet.hosts()
    # Azure reserves .1-.3 of every subnet; nodes start at .4.
    for _reserved in range(3):
        next(hosts)

    result_pools = []
    nodes = []
    seen = set()
    for pool in pools:
        name = pool.get('name')
        count = pool.get('count')
        if not name or not isinstance(name, str) or not name.isalnum() or not name.islower() or len(name) > 12:
            raise TopologyError('node pool name %r must be 1-12 lower-case letters/digits' % (name,))
        if name in seen:
            raise TopologyError('node pool %r is listed twice' % name)
        seen.add(name)
        if not isinstance(count, int) or isinstance(count, bool) or count < 0 or count > 5000:
            raise TopologyError('node pool %s: count must be an integer 0..5000, got %r' % (name, count))
        vmss_name = 'aks-%s-%s-vmss' % (name, pool_hash)
        vmss_id = '/subscriptions/%s/resourceGroups/%s/providers/Microsoft.Compute/virtualMachineScaleSets/%s' % (sub, mc_rg, vmss_name)
        result_pools.append({
            'name': name, 'count': count, 'vmss_name': vmss_name, 'vmss_id': vmss_id,
            'vm_size': pool.get('vm_size', 'Standard_D2s_v3'), 'mode': pool.get('mode', 'System' if not result_pools else 'User'),
            'os_sku': pool.get('os_sku', 'Ubuntu'), 'max_count': pool.get('max_count'),
            'allocatable_cpu': pool.get('allocatable_cpu', '1900m'), 'allocatable_memory': pool.get('allocatable_memory', '5368Mi'),
        })
        for index in range(count):
            try:
                ip = str(next(hosts))
            except StopIteration:
                raise TopologyError('subnet %s has no room for %d nodes' % (subnet, sum(p.get('count', 0) for p in pools))) from None
            computer_name = vmss_name + base36(index)
            vm_id = '%s/virtualMachines/%d' % (vmss_id, index)
            provider_id = 'azure://' + ('/subscriptions/%s/resourceGroups/%s/providers/Microsoft.Compute/virtualMachineScaleSets/%s/virtualMachines/%d'
                                        % (sub, mc_rg.lower(), vmss_name, index))
            nodes.append({
                'name': computer_name,
                'short': '%s-%d' % (name, index),
                'pool': name,
                'index': index,
                'instance_id': str(index),
                'vmss_name': vmss_name,
                'vmss_id': vmss_id,
                'vm_id': vm_id,
                'provider_id': provider_id,
                'ip': ip,
                'nic_name': 'aks-%s-%s-vmss' % (name, pool_hash),
                'nic_id': '%s/virtualMachines/%d/networkInterfaces/aks-%s-%s-vmss' % (vmss_id, index, name, pool_hash),
                'subnet_id': subnet_id,
                'nic_nsg_id': nic_nsg_id,
                'allocatable_cpu': result_pools[-1]['allocatable_cpu'],
                'allocatable_memory': result_pools[-1]['allocatable_memory'],
            })
    cluster_id = '/subscriptions/%s/resourceGroups/%s/providers/Microsoft.ContainerService/managedClusters/%s' % (
        sub, cluster['resource_group'], cluster['name'])
    private = {}
    if cluster['private']:
        # AKS's shape: <name>-<hash>.<guid>.privatelink.<region>.azmk8s.io in the system private DNS zone
        # <guid>.privatelink.<region>.azmk8s.io (node resource group); the kube-apiserver private endpoint takes an
        # address of the node subnet (here its last one, never a node's).
        zone = '%s.privatelink.%s.azmk8s.io' % (uuid.uuid5(uuid.NAMESPACE_URL, 'aks.tunnel-lab:pdns/' + cluster_id), cluster['location'])
        private = {'private_fqdn': '%s-%s.%s' % (cluster['name'], pool_hash[:8], zone), 'private_dns_zone': zone,
                   'private_endpoint_ip': str(subnet.broadcast_address - 1)}
        if private['private_endpoint_ip'] in {n['ip'] for n in nodes}:
            raise TopologyError('subnet %s has no room for the private endpoint' % subnet)
    return {
        'cluster': dict(cluster, id=cluster_id, fqdn='%s-%s.hcp.%s.azmk8s.io' % (cluster['name'], pool_hash[:8], cluster['location']),
                        **private),
        'vnet': {'name': vnet_name, 'id': vnet_id, 'address_prefixes': [cluster['vnet_prefix']],
                 'subnet_name': 'aks-subnet', 'subnet_id': subnet_id, 'subnet_prefix': cluster['subnet_prefix']},
        'nic_nsg': {'name': nic_nsg_name, 'id': nic_nsg_id},
        'load_balancer': {'name': 'kubernetes',
                          'id': '/subscriptions/%s/resourceGroups/%s/providers/Microsoft.Network/loadBalancers/kubernetes' % (sub, mc_rg)},
        'pools': result_pools,
        'nodes': nodes,
    }


def node_by_ref(topology, ref):
    """Find a node by full name or `<pool>-<index>` short name."""
    for node in topology['nodes']:
        if ref in (node['name'], node['short']):
            return node
    raise TopologyError('no node %r in the cluster (use <pool>-<index> or the full node name)' % ref)
