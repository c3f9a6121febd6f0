# -*- coding: utf-8 -*-
# Copyright (c) 2026 aks.tunnel contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The cluster model: managedClusters + VMSS + VMSS VMs + NICs + subnets/VNets + NSGs + nodes/pods.

Fetching uses list calls only (paged by the SDKs / `continue` tokens), so a 5000-node cluster costs
a handful of API calls per pool, never one per node. `assemble()` is pure (plain dicts in ARM REST
shape and Kubernetes JSON in, the model out) and is what the unit tests exercise.

Node <-> VMSS instance: `spec.providerID` (``azure:///subscriptions/.../virtualMachines/<id>``,
compared case-insensitively) first, the VM's computer name second.
"""

from __future__ import annotations

import re

from ansible_collections.aks.tunnel.plugins.module_utils._data import condition_true, get_path
from ansible_collections.aks.tunnel.plugins.module_utils import _private_endpoint

TUNNEL_KONNECTIVITY = 'konnectivity'
TUNNEL_FRONT = 'tunnel-front'
TUNNEL_AKS_LINK = 'aks-link'
TUNNEL_NONE = 'none'

# (component, label selector) in the order they are recognised.
TUNNEL_SELECTORS = (
    (TUNNEL_KONNECTIVITY, 'app=konnectivity-agent'),
    (TUNNEL_AKS_LINK, 'app=aks-link'),
    (TUNNEL_FRONT, 'component=tunnel'),
)

# Egress each component needs toward the API server (AKS outbound rules documentation).
TUNNEL_EGRESS = {
    TUNNEL_KONNECTIVITY: [{'protocol': 'Tcp', 'port': 443, 'kind': 'tls', 'alpn': 'konnectivity'}],
    TUNNEL_FRONT: [{'protocol': 'Tcp', 'port': 9000, 'kind': 'tcp', 'alpn': None}],
    TUNNEL_AKS_LINK: [{'protocol': 'Udp', 'port': 1194, 'kind': 'udp', 'alpn': None}],
    TUNNEL_NONE: [],
}

# Marks an aks_cluster_info result, so a module given cluster_model can tell it from any other dict. Raise it when the
# shape of the model changes in a way older results do not have.
MODEL_VERSION = 2

_PROVIDER_PREFIX = 'azure://'
_ID_PAIRS_RE = re.compile(r'/+')


class ClusterModelError(ValueError):
    """The cluster data cannot be turned into a model (missing node resource group, ...)."""


def as_dict(obj):
    """SDK model (TypeSpec or msrest) or dict -> plain dict in ARM REST shape."""
    if obj is None:
        return None
    if isinstance(obj, dict):
        return obj
    if hasattr(obj, '_attribute_map') and hasattr(obj, 'serialize'):
        # msrest models (azure-mgmt-* of the lower end of the supported ranges): as_dict() gives flattened snake_case
        return obj.serialize(keep_readonly=True)
    if hasattr(obj, 'as_dict'):
        try:
            return obj.as_dict()
        except TypeError:
            pass
    if hasattr(obj, 'serialize'):
        return obj.serialize(keep_readonly=True)
    return dict(obj)


def parse_resource_id(resource_id):
    """Split an ARM id into ``{subscription, resource_group, provider, types: [..], names: [..], name}`` (None if not an id)."""
    if not resource_id or not isinstance(resource_id, str):
        return None
    parts = [p for p in _ID_PAIRS_RE.split(resource_id.strip()) if p]
    result = {'subscription': None, 'resource_group': None, 'provider': None, 'types': [], 'names': [], 'name': None}
    i = 0
    while i + 1 < len(parts):
        key, value = parts[i], parts[i + 1]
        lower = key.lower()
        if lower == 'subscriptions' and result['subscription'] is None:
            result['subscription'] = value
        elif lower == 'resourcegroups' and result['resource_group'] is None:
            result['resource_group'] = value
        elif lower == 'providers' and result['provider'] is None:
            result['provider'] = value
        else:
            result['types'].append(key)
            result['names'].append(value)
        i += 2
    result['name'] = result['names'][-1] if result['names'] else None
    return result


def _lower(value):
    return value.lower() if isinstance(value, str) else value


# --------------------------------------------------------------------------- fetching (SDK + kubernetes client)

def fetch_azure(clients, resource_group, name):
    """All Azure data the model needs, as plain dicts: cluster, scale sets, VMs and NICs per scale set, subnets, VNets."""
    cluster = as_dict(clients.containerservice.managed_clusters.get(resource_group, name))
    node_rg = get_path(cluster, 'properties', 'nodeResourceGroup')
    if not node_rg:
        raise ClusterModelError('cluster %s/%s has no nodeResourceGroup; is it fully provisioned?' % (resource_group, name))
    scale_sets = [as_dict(x) for x in clients.compute.virtual_machine_scale_sets.list(node_rg)]
    vms = {}
    nics = {}
    for vmss in scale_sets:
        vmss_name = vmss['name']
        vms[vmss_name] = [as_dict(x) for x in clients.compute.virtual_machine_scale_set_vms.list(node_rg, vmss_name)]
        nics[vmss_name] = [as_dict(x) for x in
                           clients.network.network_interfaces.list_virtual_machine_scale_set_network_interfaces(node_rg, vmss_name)]
    subnet_ids = set()
    for nic_list in nics.values():
        for nic in nic_list:
            for ipconf in get_path(nic, 'properties', 'ipConfigurations', default=[]):
                subnet_id = get_path(ipconf, 'properties', 'subnet', 'id')
                if subnet_id:
                    subnet_ids.add(subnet_id)
    subnets = {}
    vnets = {}
    for subnet_id in sorted(subnet_ids, key=str.lower):
        parsed = parse_resource_id(subnet_id)
        if not parsed or len(parsed['names']) < 2:
            continue
        subnets[subnet_id.lower()] = as_dict(clients.network.subnets.get(parsed['resource_group'], parsed['names'][0], parsed['names'][1]))
        vnet_id = subnet_id.lower().split('/subnets/')[0]
        if vnet_id not in vnets:
            vnets[vnet_id] = as_dict(clients.network.virtual_networks.get(parsed['resource_group'], parsed['names'][0]))
    result = {'cluster': cluster, 'scale_sets': scale_sets, 'vms': vms, 'nics': nics, 'subnets': subnets, 'vnets': vnets}
    access = get_path(cluster, 'properties', 'apiServerAccessProfile') or {}
    if access.get('enablePrivateCluster') and not access.get('enableVnetIntegration'):
        # the API server's private endpoint address, read once here: the controller must not resolve the private FQDN (issue 16)
        result['private_endpoint'] = _private_endpoint.fetch(clients.network, node_rg, get_path(cluster, 'properties', 'privateFQDN'), as_dict)
    return result


def fetch_kube(api_client, request_timeout, list_all):
    """Nodes and the kube-system tunnel pods. ``list_all`` is _kube.list_all.

    The selectors are listed in TUNNEL_SELECTORS order and the listing stops at the first component with pods
    (detect_tunnel() picks that one anyway): a konnectivity cluster costs one pod list, not three.
    """
    from kubernetes import client as kclient  # pylint: disable=import-outside-toplevel
    core = kclient.CoreV1Api(api_client)
    nodes = list_all(core.list_node, _request_timeout=request_timeout)
    pods = {}
    for component, selector in TUNNEL_SELECTORS:
        pods[component] = list_all(core.list_namespaced_pod, 'kube-system', label_selector=selector, _request_timeout=request_timeout)
        if _tunnel_candidates(component, pods[component]):
            break
    return {'nodes': nodes, 'pods': pods}


def fetch_nsgs(network, nsg_ids):
    """NSG objects (ARM REST shape) by lower-cased id; one GET per distinct NSG."""
    result = {}
    for nsg_id in sorted(set(i for i in nsg_ids if i), key=str.lower):
        key = nsg_id.lower()
        if key in result:
            continue
        parsed = parse_resource_id(nsg_id)
        result[key] = as_dict(network.network_security_groups.get(parsed['resource_group'], parsed['name']))
    return result


# --------------------------------------------------------------------------- assembling (pure)

def _node_ip(node):
    for addr in get_path(node, 'status', 'addresses', default=[]):
        if addr.get('type') == 'InternalIP':
            return addr.get('address')
    return None


def _pod_summary(pod):
    statuses = get_path(pod, 'status', 'containerStatuses', default=[])
    ready = condition_true(pod)
    if ready is None and statuses:
        ready = all(s.get('ready') for s in statuses)
    return {
        'name': get_path(pod, 'metadata', 'name'),
        'node': get_path(pod, 'spec', 'nodeName'),
        'phase': get_path(pod, 'status', 'phase'),
        'ready': bool(ready),
        'restarts': sum(int(s.get('restartCount') or 0) for s in statuses),
    }


def _tunnel_candidates(component, pods):
    """The pods of ``component`` that count: not being deleted; a ``component=tunnel`` pod of konnectivity or aks-link is theirs."""
    candidates = list(pods or [])
    if component == TUNNEL_FRONT:
        candidates = [p for p in candidates if get_path(p, 'metadata', 'labels', 'app') not in ('konnectivity-agent', 'aks-link')]
    return [p for p in candidates if not get_path(p, 'metadata', 'deletionTimestamp')]


def _pod_object(pod):
    """A tunnel pod as the API returned it, without metadata.managedFields (the bulk of it, used by nobody)."""
    metadata = dict(pod.get('metadata') or {})
    metadata.pop('managedFields', None)
    return dict(pod, metadata=metadata)


def detect_tunnel(pods_by_component, private_cluster=False, vnet_integration=False):
    """The tunnel component, its pods and nodes, and the egress it needs.

    ``pods_by_component``: {konnectivity|aks-link|tunnel-front: [pod JSON]} as selected by TUNNEL_SELECTORS.
    A ``component=tunnel`` pod that is also ``app=konnectivity-agent`` counts as konnectivity.
    ``pod_objects`` keeps the pods themselves (for konnectivity_agent_info given the model), ``selector`` how they were listed.
    """
    component = TUNNEL_NONE
    pods = []
    objects = []
    for name, _selector in TUNNEL_SELECTORS:
        candidates = _tunnel_candidates(name, pods_by_component.get(name))
        if candidates:
            component = name
            pods = [_pod_summary(p) for p in candidates]
            # all pods the selector listed, terminating ones too: a pod being replaced may be the one that was OOM-killed
            objects = sorted((_pod_object(p) for p in pods_by_component.get(name) or []), key=lambda p: get_path(p, 'metadata', 'name') or '')
            break
    pods.sort(key=lambda p: p['name'] or '')
    nodes = sorted(set(p['node'] for p in pods if p['node'] and p['phase'] in ('Running', 'Pending', None)))
    # A private cluster keeps konnectivity: its agents dial the API server's private FQDN (the private endpoint in the VNet)
    # on 443 (issue 16); the older tunnels of private clusters are not modelled.
    needed = not vnet_integration and component != TUNNEL_NONE and (component == TUNNEL_KONNECTIVITY or not private_cluster)
    if vnet_integration:
        reason = 'API Server VNet Integration: the API server reaches the kubelets directly, no tunnel egress is needed'
    elif private_cluster and needed:
        reason = 'private cluster: %s needs TCP 443 with ALPN konnectivity to the API server\'s private endpoint (its private FQDN)' % component
    elif private_cluster:
        reason = 'private cluster: nodes reach the API server through a private endpoint'
    elif component == TUNNEL_NONE:
        reason = 'no tunnel pods found (labels app=konnectivity-agent, app=aks-link, component=tunnel in kube-system)'
    else:
        reason = '%s needs %s to the API server' % (component, ', '.join(
            '%s %d%s' % (e['protocol'].upper(), e['port'], ' with ALPN %s' % e['alpn'] if e['alpn'] else '') for e in TUNNEL_EGRESS[component]))
    return {
        'component': component,
        'namespace': 'kube-system',
        'selector': dict(TUNNEL_SELECTORS).get(component),
        'pods': pods,
        'pod_objects': objects,
        'nodes': nodes,
        'egress': [dict(e) for e in TUNNEL_EGRESS[component]] if needed else [],
        'egress_reason': reason,
    }


def assemble(azure, kube=None):
    """Build the model ``{cluster, nodes, tunnel}`` from fetch_azure()/fetch_kube() data (pure)."""
    mc = azure['cluster']
    props = mc.get('properties') or {}
    access = props.get('apiServerAccessProfile') or {}
    network = props.get('networkProfile') or {}
    cluster_id = mc.get('id')
    parsed = parse_resource_id(cluster_id) or {}
    node_rg = props.get('nodeResourceGroup')
    private = bool(access.get('enablePrivateCluster'))
    vnet_integration = bool(access.get('enableVnetIntegration'))

    pool_os = {}
    agent_pools = []
    for pool in props.get('agentPoolProfiles') or []:
        pool_os[pool.get('name')] = {'os_type': pool.get('osType'), 'os_sku': pool.get('osSKU'), 'mode': pool.get('mode')}
        agent_pools.append({'name': pool.get('name'), 'count': pool.get('count'), 'max_count': pool.get('maxCount'),
                            'min_count': pool.get('minCount'), 'enable_auto_scaling': pool.get('enableAutoScaling'),
                            'max_surge': get_path(pool, 'upgradeSettings', 'maxSurge'), 'mode': pool.get('mode'),
                            'os_type': pool.get('osType'), 'os_sku': pool.get('osSKU'), 'vm_size': pool.get('vmSize')})

    # NICs by VM id (lower-case)
    nic_by_vm = {}
    lb_ids = set()
    for nic_list in (azure.get('nics') or {}).values():
        for nic in nic_list:
            vm_id = get_path(nic, 'properties', 'virtualMachine', 'id')
            if vm_id:
                nic_by_vm[vm_id.lower()] = nic
            for ipconf in get_path(nic, 'properties', 'ipConfigurations', default=[]):
                for pool in get_path(ipconf, 'properties', 'loadBalancerBackendAddressPools', default=[]):
                    if pool.get('id') and '/backendaddresspools/' in pool['id'].lower():
                        lb_ids.add(pool['id'][:pool['id'].lower().index('/backendaddresspools/')])

    subnets = azure.get('subnets') or {}
    vnets = azure.get('vnets') or {}
    vnet_prefixes = []
    for vnet in vnets.values():
        for prefix in get_path(vnet, 'properties', 'addressSpace', 'addressPrefixes', default=[]):
            if prefix not in vnet_prefixes:
                vnet_prefixes.append(prefix)

    kube_nodes = {}
    kube_by_provider = {}
    for node in (kube or {}).get('nodes') or []:
        name = get_path(node, 'metadata', 'name')
        kube_nodes[_lower(name)] = node
        provider = get_path(node, 'spec', 'providerID')
        if provider and provider.lower().startswith(_PROVIDER_PREFIX):
            kube_by_provider[provider[len(_PROVIDER_PREFIX):].lower().rstrip('/')] = node
    # With VNet integration the tunnel is gone only where pods are routable in the VNet (Azure CNI, not Overlay); with
    # CNI Overlay, BYOCNI (and kubenet) konnectivity stays (api-server-vnet-integration docs, issue 16).
    tunnel_gone = (vnet_integration and (network.get('networkPlugin') or '').lower() == 'azure'
                   and (network.get('networkPluginMode') or '').lower() != 'overlay')
    tunnel = detect_tunnel((kube or {}).get('pods') or {}, private, tunnel_gone) if kube is not None else {
        'component': None, 'namespace': None, 'selector': None, 'pods': [], 'pod_objects': [], 'nodes': [], 'egress': [],
        'egress_reason': 'Kubernetes was not queried'}
    tunnel_nodes = set(tunnel['nodes'])

    nodes = []
    matched = set()
    for vmss in azure.get('scale_sets') or []:
        vmss_name = vmss['name']
        tags = vmss.get('tags') or {}
        pool = tags.get('aks-managed-poolName')
        vmss_nsg = None
        for conf in get_path(vmss, 'properties', 'virtualMachineProfile', 'networkProfile', 'networkInterfaceConfigurations', default=[]):
            vmss_nsg = get_path(conf, 'properties', 'networkSecurityGroup', 'id') or vmss_nsg
        for vm in (azure.get('vms') or {}).get(vmss_name) or []:
            vm_id = vm.get('id') or ''
            computer = get_path(vm, 'properties', 'osProfile', 'computerName')
            knode = kube_by_provider.get('/' + vm_id.lower().lstrip('/')) or kube_nodes.get(_lower(computer))
            nic = nic_by_vm.get(vm_id.lower()) or {}
            ipconfs = get_path(nic, 'properties', 'ipConfigurations', default=[])
            primary = next((c for c in ipconfs if get_path(c, 'properties', 'primary')), ipconfs[0] if ipconfs else {})
            subnet_id = get_path(primary, 'properties', 'subnet', 'id')
            subnet = subnets.get(subnet_id.lower()) if subnet_id else None
            name = get_path(knode, 'metadata', 'name') if knode else (computer or '').lower() or None
            if knode:
                matched.add(_lower(name))
            labels = get_path(knode, 'metadata', 'labels', default={}) if knode else {}
            pool_name = pool or labels.get('kubernetes.azure.com/agentpool') or labels.get('agentpool')
            os_info = pool_os.get(pool_name) or {}
            nodes.append({
                'name': name,
                'pool': pool_name,
                'vmss': vmss_name,
                'vmss_id': vmss.get('id'),
                'instance_id': str(vm.get('instanceId')) if vm.get('instanceId') is not None else vm_id.rsplit('/', 1)[-1],
                'vm_id': vm_id,
                'computer_name': computer,
                'private_ip': get_path(primary, 'properties', 'privateIPAddress') or (_node_ip(knode) if knode else None),
                'subnet_id': subnet_id,
                'subnet_prefix': get_path(subnet, 'properties', 'addressPrefix') if subnet else None,
                'nic_id': nic.get('id'),
                'nic_nsg_id': get_path(nic, 'properties', 'networkSecurityGroup', 'id') or vmss_nsg,
                'subnet_nsg_id': get_path(subnet, 'properties', 'networkSecurityGroup', 'id') if subnet else None,
                'os': os_info.get('os_sku') or get_path(vm, 'properties', 'storageProfile', 'osDisk', 'osType'),
                'os_type': os_info.get('os_type') or get_path(vm, 'properties', 'storageProfile', 'osDisk', 'osType'),
                'in_kubernetes': knode is not None,
                'ready': condition_true(knode) if knode else None,
                'unschedulable': bool(get_path(knode, 'spec', 'unschedulable')) if knode else None,
                'allocatable_cpu': get_path(knode, 'status', 'allocatable', 'cpu') if knode else None,
                'allocatable_memory': get_path(knode, 'status', 'allocatable', 'memory') if knode else None,
                'hosts_tunnel': bool(name and name in tunnel_nodes),
            })
    # Kubernetes nodes without a VMSS instance (virtual nodes, availability sets, stale objects).
    for key, knode in sorted(kube_nodes.items()):
        if key in matched:
            continue
        name = get_path(knode, 'metadata', 'name')
        labels = get_path(knode, 'metadata', 'labels', default={})
        nodes.append({
            'name': name, 'pool': labels.get('kubernetes.azure.com/agentpool') or labels.get('agentpool'), 'vmss': None, 'vmss_id': None,
            'instance_id': None, 'vm_id': None, 'computer_name': None, 'private_ip': _node_ip(knode), 'subnet_id': None,
            'subnet_prefix': None, 'nic_id': None, 'nic_nsg_id': None, 'subnet_nsg_id': None, 'os': get_path(knode, 'status', 'nodeInfo', 'osImage'),
            'os_type': get_path(knode, 'status', 'nodeInfo', 'operatingSystem'), 'in_kubernetes': True, 'ready': condition_true(knode),
            'unschedulable': bool(get_path(knode, 'spec', 'unschedulable')), 'allocatable_cpu': get_path(knode, 'status', 'allocatable', 'cpu'),
            'allocatable_memory': get_path(knode, 'status', 'allocatable', 'memory'), 'hosts_tunnel': name in tunnel_nodes,
        })
    nodes.sort(key=lambda n: (n['pool'] or '', n['name'] or ''))

    outbound = network.get('outboundType') or 'loadBalancer'
    lb_id = sorted(lb_ids)[0] if lb_ids else None
    if lb_id is None and outbound == 'loadBalancer' and node_rg and parsed.get('subscription'):
        lb_id = '/subscriptions/%s/resourceGroups/%s/providers/Microsoft.Network/loadBalancers/kubernetes' % (parsed['subscription'], node_rg)
    fqdn = props.get('fqdn')
    private_fqdn = props.get('privateFQDN')
    cluster = {
        'id': cluster_id,
        'name': mc.get('name'),
        'resource_group': parsed.get('resource_group'),
        'subscription_id': parsed.get('subscription'),
        'location': mc.get('location'),
        'node_resource_group': node_rg,
        'kubernetes_version': props.get('currentKubernetesVersion') or props.get('kubernetesVersion'),
        'fqdn': fqdn,
        'private_fqdn': private_fqdn,
        'api_server_host': private_fqdn if private and private_fqdn else (fqdn or private_fqdn),
        'private_cluster': private,
        'private_dns_zone': access.get('privateDNSZone') if private else None,
        'vnet_integration': vnet_integration,
        'apiserver_subnet_id': access.get('subnetId'),
        'network_plugin': network.get('networkPlugin'),
        'network_plugin_mode': network.get('networkPluginMode'),
        'outbound_type': outbound,
        'load_balancer_profile': network.get('loadBalancerProfile'),
        'load_balancer_id': lb_id if outbound == 'loadBalancer' else None,
        'vnet_ids': sorted(v.get('id') for v in vnets.values() if v.get('id')),
        'vnet_address_prefixes': vnet_prefixes,
        'subnet_ids': sorted(set(n['subnet_id'] for n in nodes if n['subnet_id'])),
        'nsg_ids': _unique_ids(i for n in nodes for i in (n['nic_nsg_id'], n['subnet_nsg_id'])),
        'node_count': len(nodes),
        'etag': mc.get('eTag') or mc.get('etag'),
        'load_balancer_sku': network.get('loadBalancerSku'),
        'agent_pools': agent_pools,
    }
    cluster.update(_private_endpoint.model_fields(azure.get('private_endpoint'), private_fqdn))
    return {'model_version': MODEL_VERSION, 'cluster': cluster, 'nodes': nodes, 'tunnel': tunnel, 'kubernetes_read': kube is not None}


def _unique_ids(ids):
    """Resource ids without duplicates (ARM ids compare case-insensitively), first spelling kept, sorted."""
    seen = {}
    for resource_id in ids:
        if resource_id and resource_id.lower() not in seen:
            seen[resource_id.lower()] = resource_id
    return sorted(seen.values(), key=str.lower)


def build_model(clients, resource_group, name, kube_client=None, request_timeout=None, list_all=None):
    """Fetch and assemble; ``kube_client`` None skips Kubernetes (no readiness, no tunnel pods)."""
    azure = fetch_azure(clients, resource_group, name)
    kube = fetch_kube(kube_client, request_timeout, list_all) if kube_client is not None else None
    model = assemble(azure, kube)
    model['_azure'] = azure
    return model


def nodes_by_name(model):
    return dict((n['name'], n) for n in model['nodes'] if n['name'])


def resolve_nodes(model, refs):
    """Map node references (node name, computer name, or ``vmss/instance``) to model nodes; raise with the unknown ones."""
    by_name = {}
    for node in model['nodes']:
        for key in (node['name'], node['computer_name'], '%s/%s' % (node['vmss'], node['instance_id']) if node['vmss'] else None):
            if key:
                by_name[key.lower()] = node
    found = []
    missing = []
    for ref in refs:
        node = by_name.get(str(ref).lower())
        if node is None:
            missing.append(str(ref))
        elif node not in found:
            found.append(node)
    if missing:
        sample = ', '.join(n['name'] for n in model['nodes'][:3] if n['name'])
        raise ClusterModelError('unknown node(s) %s: give Kubernetes node names (e.g. %s) or <vmss>/<instance id>'
                                % (', '.join(missing), sample or 'aks-nodepool1-12345678-vmss000000'))
    return found


# --------------------------------------------------------------------------- a model handed over by a previous task (pure)

def check_model(model, resource_group=None, name=None):
    """The registered aks_cluster_info result ``model`` if it is one for this cluster; ClusterModelError says why not.

    ``resource_group``/``name`` (when given) must name the cluster of the model (compared case-insensitively, as ARM does).
    """
    if not isinstance(model, dict):
        raise ClusterModelError('must be the registered result of aks.tunnel.aks_cluster_info, got a %s' % type(model).__name__)
    if model.get('failed') or model.get('skipped'):
        raise ClusterModelError('the aks.tunnel.aks_cluster_info task it comes from %s%s' % (
            'failed' if model.get('failed') else 'was skipped', ': %s' % model['msg'] if model.get('msg') else ''))
    cluster = model.get('cluster')
    if (model.get('model_version') is None or not isinstance(cluster, dict) or not isinstance(model.get('nodes'), list)
            or not isinstance(model.get('tunnel'), dict)):
        raise ClusterModelError('is not a result of aks.tunnel.aks_cluster_info (it needs model_version, cluster, nodes and tunnel; '
                                'register the aks_cluster_info task and pass that variable)')
    if model['model_version'] != MODEL_VERSION:
        raise ClusterModelError('comes from another version of aks.tunnel.aks_cluster_info (model_version %s, this module reads %s); '
                                'run aks_cluster_info of this collection again' % (model['model_version'], MODEL_VERSION))
    for option, key in (('resource_group', resource_group), ('name', name)):
        if key is not None and _lower(cluster.get(option)) != _lower(key):
            raise ClusterModelError('is the model of cluster %s/%s, not of %s=%s' % (cluster.get('resource_group'), cluster.get('name'),
                                                                                     option, key))
    return model


def managed_cluster_body(model):
    """The managedClusters GET fields the outbound (SNAT) helpers read, rebuilt from the model (ARM REST shape)."""
    cluster = model['cluster']
    pools = []
    for pool in cluster.get('agent_pools') or []:
        pools.append({'name': pool.get('name'), 'count': pool.get('count'), 'maxCount': pool.get('max_count'),
                      'minCount': pool.get('min_count'), 'enableAutoScaling': pool.get('enable_auto_scaling'),
                      'upgradeSettings': {'maxSurge': pool.get('max_surge')} if pool.get('max_surge') is not None else None,
                      'mode': pool.get('mode'), 'osType': pool.get('os_type'), 'osSKU': pool.get('os_sku'), 'vmSize': pool.get('vm_size')})
    network = {'outboundType': cluster.get('outbound_type'), 'loadBalancerSku': cluster.get('load_balancer_sku'),
               'loadBalancerProfile': cluster.get('load_balancer_profile'), 'networkPlugin': cluster.get('network_plugin'),
               'networkPluginMode': cluster.get('network_plugin_mode')}
    return {'id': cluster.get('id'), 'name': cluster.get('name'), 'location': cluster.get('location'), 'etag': cluster.get('etag'),
            'properties': {'nodeResourceGroup': cluster.get('node_resource_group'), 'fqdn': cluster.get('fqdn'),
                           'privateFQDN': cluster.get('private_fqdn'),
                           'apiServerAccessProfile': {'enablePrivateCluster': cluster.get('private_cluster'),
                                                      'enableVnetIntegration': cluster.get('vnet_integration')},
                           'networkProfile': dict((k, v) for k, v in network.items() if v is not None),
                           'agentPoolProfiles': pools}}


def node_objects(model):
    """The model's Kubernetes nodes as Node objects with the fields CPA counts and `kubectl top node` needs.

    Name, schedulability, allocatable CPU and memory, the Ready condition; not the labels (too big at 5000 nodes).
    """
    nodes = []
    for node in model['nodes']:
        if not node.get('in_kubernetes'):
            continue
        allocatable = dict((k, v) for k, v in (('cpu', node.get('allocatable_cpu')), ('memory', node.get('allocatable_memory'))) if v is not None)
        conditions = [] if node.get('ready') is None else [{'type': 'Ready', 'status': 'True' if node['ready'] else 'False'}]
        nodes.append({'metadata': {'name': node['name']}, 'spec': {'unschedulable': bool(node.get('unschedulable'))},
                      'status': {'allocatable': allocatable, 'conditions': conditions}})
    return nodes


def node_ip_names(model):
    """Private IP -> computer name of the VMSS instances (what the load balancer metrics call a backend)."""
    return dict((n['private_ip'], n['computer_name']) for n in model['nodes'] if n.get('private_ip') and n.get('computer_name'))
