# -*- coding: utf-8 -*-
# Copyright (c) 2026 aks.tunnel contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Microsoft.ContainerService: the lab's managed cluster (GET/list, PUT/PATCH of the load balancer profile) and agent pools.

Only `networkProfile.loadBalancerProfile` (managedOutboundIPs.count, allocatedOutboundPorts,
idleTimeoutInMinutes) and `tags` can change. Validation follows aks-tools-and-facts.md: ports a
multiple of 8 in 0..64000 and `64000 * IPs / ports >= nodes + surge`, both reported as
InvalidLoadBalancerProfileAllocatedOutboundPorts (message wording unverified).
"""

from __future__ import annotations

import copy
import math

from ..common import ArmError, Response, etag_matches, not_found, stable_uuid
from . import apiserver_subnet

TYPE = 'Microsoft.ContainerService/managedClusters'


def _surge(pool_spec, count):
    surge = str((pool_spec or {}).get('max_surge', '10%'))
    if surge.endswith('%'):
        return max(1, int(math.ceil(count * float(surge[:-1]) / 100.0))) if count else 0
    return int(surge)


def node_capacity_needed(state):
    """Nodes the outbound ports must cover: per pool max(count, max_count) + its max surge."""
    specs = state.pool_specs()
    total = 0
    for pool in state.topology['pools']:
        count = max(pool['count'], pool.get('max_count') or 0)
        total += count + _surge(specs.get(pool['name']), count)
    return total


def render_agent_pool(state, pool, inline=False):
    spec = state.pool_specs().get(pool['name']) or {}
    props = {
        'count': pool['count'], 'vmSize': pool['vm_size'], 'osDiskSizeGB': 128, 'osDiskType': 'Managed', 'kubeletDiskType': 'OS',
        'maxPods': int(spec.get('max_pods', 110)), 'type': 'VirtualMachineScaleSets', 'enableAutoScaling': bool(pool.get('max_count')),
        'provisioningState': 'Succeeded', 'powerState': {'code': 'Running'}, 'orchestratorVersion': state.cluster_props['kubernetes_version'],
        'currentOrchestratorVersion': state.cluster_props['kubernetes_version'], 'nodeImageVersion': 'AKSUbuntu-2204gen2containerd-202611.01.0',
        'mode': pool['mode'], 'osType': 'Linux', 'osSKU': pool['os_sku'], 'enableNodePublicIP': False, 'enableFIPS': False,
        'upgradeSettings': {'maxSurge': str(spec.get('max_surge', '10%'))}, 'enableEncryptionAtHost': False,
    }
    if pool.get('max_count'):
        props['minCount'] = int(spec.get('min_count', 1))
        props['maxCount'] = pool['max_count']
    if state.cluster_props['byo_subnet']:
        props['vnetSubnetID'] = state.topology['vnet']['subnet_id']
    if inline:
        return dict(props, name=pool['name'])
    return {'id': '%s/agentPools/%s' % (state.topology['cluster']['id'], pool['name']), 'name': pool['name'],
            'type': TYPE + '/agentPools', 'properties': props}


def render_cluster(state):
    cluster = state.topology['cluster']
    cp = state.cluster_props
    private = bool(cluster.get('private'))
    props = {
        'provisioningState': 'Succeeded', 'powerState': {'code': 'Running'}, 'kubernetesVersion': cp['kubernetes_version'],
        'currentKubernetesVersion': cp['kubernetes_version'], 'dnsPrefix': '%s-dns' % cluster['name'],
        'nodeResourceGroup': state.node_resource_group, 'enableRBAC': True, 'maxAgentPools': 100, 'supportPlan': 'KubernetesOfficial',
        'agentPoolProfiles': [render_agent_pool(state, pool, inline=True) for pool in state.topology['pools']],
        'servicePrincipalProfile': {'clientId': 'msi'},
        # the kubelet's managed identity, as on every managed-identity cluster (az aks update reads it)
        'identityProfile': {'kubeletidentity': {
            'resourceId': '/subscriptions/%s/resourcegroups/%s/providers/Microsoft.ManagedIdentity/userAssignedIdentities/%s-agentpool' % (
                state.subscription_id, state.node_resource_group, cluster['name']),
            'clientId': stable_uuid('kubelet-client', cluster['id']), 'objectId': stable_uuid('kubelet-object', cluster['id'])}},
        'networkProfile': {
            'networkPlugin': cp['network_plugin'], 'loadBalancerSku': 'standard', 'outboundType': cluster.get('outbound_type', 'loadBalancer'),
            'serviceCidr': '10.0.0.0/16', 'dnsServiceIP': '10.0.0.10', 'ipFamilies': ['IPv4'],
            'serviceCidrs': ['10.0.0.0/16'],
        },
        'apiServerAccessProfile': {'enablePrivateCluster': private, 'enableVnetIntegration': cp['enable_vnet_integration']},
    }
    apiserver_subnet.cluster_properties(state, props)  # apiServerAccessProfile.subnetId (issue 16)
    net = props['networkProfile']
    if cp['network_plugin'] == 'azure' and cp['network_plugin_mode']:
        net['networkPluginMode'] = cp['network_plugin_mode']
    if cp['network_plugin'] == 'kubenet' or net.get('networkPluginMode') == 'overlay':
        net['podCidr'] = cp['pod_cidr']
        net['podCidrs'] = [cp['pod_cidr']]
    if net['outboundType'] == 'loadBalancer':
        net['loadBalancerProfile'] = {
            'managedOutboundIPs': {'count': state.lb_profile['managed_outbound_ip_count']},
            'effectiveOutboundIPs': [{'id': pip['id']} for pip in state.public_ips()],
            'allocatedOutboundPorts': state.lb_profile['allocated_outbound_ports'],
            'idleTimeoutInMinutes': state.lb_profile['idle_timeout_in_minutes'],
            'backendPoolType': 'NodeIPConfiguration',
        }
    if private:
        props['privateFQDN'] = cluster['private_fqdn']  # topology.py: the same name the nodes resolve
        props['apiServerAccessProfile']['privateDNSZone'] = 'system'
        props['apiServerAccessProfile']['enablePrivateClusterPublicFQDN'] = cp['private_fqdn_public']
        if cp['private_fqdn_public']:
            props['fqdn'] = cluster['fqdn']
    else:
        props['fqdn'] = cluster['fqdn']
        props['azurePortalFQDN'] = cluster['fqdn'].replace('.hcp.', '.portal.hcp.')
    from .kube_access import add_cluster_properties  # pylint: disable=import-outside-toplevel,cyclic-import
    add_cluster_properties(state, props)  # aadProfile, disableLocalAccounts (issue 16)
    return {'id': cluster['id'], 'name': cluster['name'], 'type': TYPE, 'location': cluster['location'], 'tags': dict(cp['tags']),
            'eTag': state.cluster_etag, 'sku': {'name': 'Base', 'tier': 'Free'},
            'identity': {'type': 'SystemAssigned', 'principalId': stable_uuid('aks-identity', cluster['id']), 'tenantId': state.tenant_id},
            'properties': props}


def _cluster_or_404(ctx, p):
    state = ctx.state
    if p['rg'].lower() != state.resource_group.lower() or p['name'].lower() != state.cluster_name.lower():
        if not state.known_resource_group(p['rg']):
            raise ArmError(404, 'ResourceGroupNotFound', "Resource group '%s' could not be found." % p['rg'])
        raise not_found(TYPE, p['name'], p['rg'])


def cluster_get(ctx, p):
    with ctx.state.lock:
        _cluster_or_404(ctx, p)
        return Response(200, render_cluster(ctx.state))


def cluster_list(ctx, p):
    with ctx.state.lock:
        rg = p.get('rg')
        if rg is not None and rg.lower() != ctx.state.resource_group.lower():
            return Response(200, {'value': []})
        return Response(200, {'value': [render_cluster(ctx.state)]})


def _bad(code, message):
    return ArmError(400, code, message)


def _int_field(value, name):
    if isinstance(value, bool) or not isinstance(value, int):
        raise _bad('InvalidParameter', 'The value of %s must be an integer, got %r.' % (name, value))
    return value


def validate_lb_profile(state, profile, current):
    """Merge `profile` (ARM JSON) into `current` (state.lb_profile shape); raise ArmError on invalid values."""
    new = dict(current)
    if not isinstance(profile, dict):
        raise _bad('InvalidParameter', 'networkProfile.loadBalancerProfile must be an object.')
    if profile.get('outboundIPs') or profile.get('outboundIPPrefixes'):
        raise _bad('InvalidParameter', 'The lab only supports managedOutboundIPs; outboundIPs and outboundIPPrefixes are not emulated.')
    managed = profile.get('managedOutboundIPs')
    if managed is not None:
        count = _int_field((managed or {}).get('count', 1), 'managedOutboundIPs.count')
        if not 1 <= count <= 100:
            raise _bad('InvalidLoadBalancerProfileManagedOutboundIPCount', 'Load balancer profile managed outbound IP count %d is invalid; '
                       'it must be in the range 1 to 100.' % count)
        new['managed_outbound_ip_count'] = count
    if profile.get('allocatedOutboundPorts') is not None:
        ports = _int_field(profile['allocatedOutboundPorts'], 'allocatedOutboundPorts')
        if not 0 <= ports <= 64000 or ports % 8:
            raise _bad('InvalidLoadBalancerProfileAllocatedOutboundPorts', 'Load balancer profile allocated ports %d is invalid. The value must be '
                       'a multiple of 8 in the range 0 to 64000. Refer to https://aka.ms/aks/slb-ports for more details.' % ports)
        new['allocated_outbound_ports'] = ports
    if profile.get('idleTimeoutInMinutes') is not None:
        idle = _int_field(profile['idleTimeoutInMinutes'], 'idleTimeoutInMinutes')
        if not 4 <= idle <= 120:
            raise _bad('InvalidLoadBalancerProfileIdleTimeoutInMinutes', 'Load balancer profile idle timeout %d minutes is invalid; it must be '
                       'in the range 4 to 120.' % idle)
        new['idle_timeout_in_minutes'] = idle
    if new['allocated_outbound_ports']:
        nodes = node_capacity_needed(state)
        available = 64000 * new['managed_outbound_ip_count']
        needed = nodes * new['allocated_outbound_ports']
        if needed > available:
            raise _bad('InvalidLoadBalancerProfileAllocatedOutboundPorts',
                       'Load balancer profile allocated ports %d is not in an allowable range given the number of nodes and IPs provisioned. '
                       'Total node count %d requires %d ports but only %d ports are available given %d outbound public IPs. Refer to '
                       'https://aka.ms/aks/slb-ports for more details.' % (new['allocated_outbound_ports'], nodes, needed, available,
                                                                           new['managed_outbound_ip_count']))
    return new


def _write(ctx, p, body, full):
    state = ctx.state
    with state.lock:
        _cluster_or_404(ctx, p)
        if not isinstance(body, dict):
            raise _bad('InvalidParameter', 'The request body must be a JSON object.')
        wanted = ctx.headers.get('If-Match')
        if not etag_matches(wanted, state.cluster_etag):
            raise ArmError(412, 'PreconditionFailed', 'Operation is not allowed because the etag %s does not match the current etag %s.'
                           % (wanted, state.cluster_etag))
        if full and body.get('location') and body['location'].replace(' ', '').lower() != state.location.lower():
            raise _bad('OperationNotAllowed', "Changing property 'location' is not allowed.")
        net = ((body.get('properties') or {}).get('networkProfile') or {})
        if full and net.get('outboundType') and net['outboundType'] != (state.config.get('cluster') or {}).get('outbound_type', 'loadBalancer'):
            raise _bad('OperationNotAllowed', 'The lab cannot change networkProfile.outboundType.')
        new_profile = state.lb_profile
        if net.get('loadBalancerProfile') is not None:
            new_profile = validate_lb_profile(state, net['loadBalancerProfile'], state.lb_profile)
        tags = body.get('tags')
        fault = ctx.faults.take_lro_fault('write')
        op = ctx.new_operation('Microsoft.ContainerService', 'put')
        if fault:
            op.finish('Failed', error={'code': fault.get('code', 'InternalOperationError'),
                                       'message': fault.get('message', 'Operation failed with an internal error (lab fault).')})
        else:
            if new_profile != state.lb_profile:
                state.set_lb_profile(new_profile)
            if tags is not None:
                state.cluster_props['tags'] = dict(tags)
            state.cluster_etag = stable_uuid('etag', state.cluster_etag)
            state.lb_etag = 'W/"%s"' % stable_uuid('lbetag', state.cluster_etag)
            op.finish('Succeeded')
        response = copy.deepcopy(render_cluster(state))
        response['properties']['provisioningState'] = 'Updating'
        return Response(200, response, ctx.lro_headers(op, location=False))


def cluster_put(ctx, p):
    return _write(ctx, p, ctx.body, full=True)


def cluster_patch(ctx, p):
    return _write(ctx, p, ctx.body, full=False)


def agent_pool_list(ctx, p):
    with ctx.state.lock:
        _cluster_or_404(ctx, p)
        return Response(200, {'value': [render_agent_pool(ctx.state, pool) for pool in ctx.state.topology['pools']]})


def agent_pool_get(ctx, p):
    with ctx.state.lock:
        _cluster_or_404(ctx, p)
        for pool in ctx.state.topology['pools']:
            if pool['name'].lower() == p['pool'].lower():
                return Response(200, render_agent_pool(ctx.state, pool))
        raise not_found(TYPE + '/%s/agentPools' % p['name'], p['pool'], p['rg'])
