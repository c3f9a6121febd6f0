# -*- coding: utf-8 -*-
# Copyright (c) 2026 aks.tunnel contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Seed the Kubernetes emulator from the lab topology and the `kube` section of the config.

Objects follow what AKS shows (see /work/shared/reference/cpa-ladder-and-konnectivity.md section 3):
nodes with AKS labels and providerID, konnectivity-agent (app=konnectivity-agent, component=tunnel) scaled by
konnectivity-agent-autoscaler (CPA v1.9.0) from the ConfigMap of the same name, or the legacy tunnelfront /
aks-link Deployment, a few ordinary kube-system Deployments, OOM evidence (pod lastState, node events).
"""

from __future__ import annotations

import copy
import datetime
import json
import math
import re
import uuid

from .util import parse_quantity, timestamp

DOC_LADDER = {'nodesToReplicas': [[1, 2], [100, 3], [250, 4], [500, 5], [1000, 6], [5000, 10]]}
KONNECTIVITY_IMAGE = 'mcr.microsoft.com/oss/v2/kubernetes/apiserver-network-proxy/agent:v0.32.1-11'
CPA_IMAGE = 'mcr.microsoft.com/oss/v2/kubernetes/autoscaler/cluster-proportional-autoscaler:v1.9.0-21'
TUNNEL_ALIASES = {
    'konnectivity': 'konnectivity', 'konnectivity-agent': 'konnectivity',
    'tunnelfront': 'tunnelfront', 'tunnel-front': 'tunnelfront',
    'aks-link': 'aks-link', 'akslink': 'aks-link', 'openvpn': 'aks-link',
    'none': 'none',
}


class SeedError(ValueError):
    """The kube section of the lab config cannot be turned into cluster objects."""


def timestamp_now():
    return datetime.datetime.now(datetime.timezone.utc)


def tunnel_kind(topology, kube):
    raw = kube.get('tunnel') or topology['cluster'].get('tunnel') or 'konnectivity'
    if raw not in TUNNEL_ALIASES:
        raise SeedError('tunnel %r is unknown; use one of konnectivity, tunnelfront, aks-link, none' % raw)
    return TUNNEL_ALIASES[raw]


def _node_ref(topology, ref):
    for node in topology['nodes']:
        if ref in (node['name'], node['short']):
            return node['name']
    raise SeedError('no node %r in the cluster (use <pool>-<index> or the full node name)' % (ref,))


def _vm_cores(vm_size, allocatable_cpu):
    match = re.match(r'^Standard_[A-Za-z]+?(\d+)', vm_size or '')
    if match:
        return int(match.group(1))
    return int(math.ceil(parse_quantity(allocatable_cpu)))


def node_object(node, pool, topology, kube, created):
    """One v1 Node as AKS registers it."""
    cluster = topology['cluster']
    version = kube.get('version', '1.31.2')
    mode = (pool.get('mode') or 'User').lower()
    os_sku = pool.get('os_sku', 'Ubuntu')
    image_version = 'AKSUbuntu-2204gen2containerd-202510.19.0' if os_sku == 'Ubuntu' else 'AKSAzureLinux-V3gen2-202510.19.0'
    allocatable_memory = parse_quantity(node['allocatable_memory'])
    labels = {
        'agentpool': node['pool'], 'kubernetes.azure.com/agentpool': node['pool'], 'kubernetes.azure.com/mode': mode,
        'kubernetes.azure.com/role': 'agent', 'kubernetes.azure.com/cluster': cluster['node_resource_group'],
        'kubernetes.azure.com/os-sku': os_sku, 'kubernetes.azure.com/node-image-version': image_version,
        'kubernetes.io/os': 'linux', 'kubernetes.io/arch': 'amd64', 'kubernetes.io/hostname': node['name'],
        'beta.kubernetes.io/os': 'linux', 'beta.kubernetes.io/arch': 'amd64',
        'node.kubernetes.io/instance-type': pool['vm_size'], 'beta.kubernetes.io/instance-type': pool['vm_size'],
        'topology.kubernetes.io/region': cluster['location'], 'topology.kubernetes.io/zone': '0',
        'failure-domain.beta.kubernetes.io/region': cluster['location'], 'failure-domain.beta.kubernetes.io/zone': '0',
        'node-role.kubernetes.io/agent': '', 'storageprofile': 'managed', 'storagetier': 'Premium_LRS',
    }
    return {
        'apiVersion': 'v1', 'kind': 'Node',
        'metadata': {
            'name': node['name'], 'labels': labels, 'creationTimestamp': timestamp(created),
            'annotations': {'node.alpha.kubernetes.io/ttl': '0', 'volumes.kubernetes.io/controller-managed-attach-detach': 'true',
                            'csi.volume.kubernetes.io/nodeid': json.dumps({'disk.csi.azure.com': node['name'], 'file.csi.azure.com': node['name']})},
        },
        'spec': {'providerID': node['provider_id']},
        'status': {
            'capacity': {'cpu': str(_vm_cores(pool['vm_size'], node['allocatable_cpu'])), 'memory': '%dKi' % int(allocatable_memory * 13 / 10 / 1024),
                         'pods': '110', 'ephemeral-storage': '129886128Ki', 'hugepages-1Gi': '0', 'hugepages-2Mi': '0'},
            'allocatable': {'cpu': node['allocatable_cpu'], 'memory': node['allocatable_memory'], 'pods': '110',
                            'ephemeral-storage': '119703055367', 'hugepages-1Gi': '0', 'hugepages-2Mi': '0'},
            'conditions': _node_conditions(True, created),
            'addresses': [{'type': 'InternalIP', 'address': node['ip']}, {'type': 'Hostname', 'address': node['name']}],
            'daemonEndpoints': {'kubeletEndpoint': {'Port': 10250}},
            'nodeInfo': {
                'architecture': 'amd64', 'bootID': str(uuid.uuid4()), 'containerRuntimeVersion': 'containerd://1.7.28-1',
                'kernelVersion': '5.15.0-1098-azure', 'kubeProxyVersion': '', 'kubeletVersion': 'v' + version,
                'machineID': uuid.uuid4().hex, 'operatingSystem': 'linux',
                'osImage': 'Ubuntu 22.04.5 LTS' if os_sku == 'Ubuntu' else 'Azure Linux 3.0', 'systemUUID': str(uuid.uuid4()),
            },
        },
    }


def _node_conditions(ready, when):
    stamp = timestamp(when)
    conditions = []
    for kind, reason, message in (('MemoryPressure', 'KubeletHasSufficientMemory', 'kubelet has sufficient memory available'),
                                  ('DiskPressure', 'KubeletHasNoDiskPressure', 'kubelet has no disk pressure'),
                                  ('PIDPressure', 'KubeletHasSufficientPID', 'kubelet has sufficient PID available')):
        conditions.append({'type': kind, 'status': 'False', 'lastHeartbeatTime': stamp, 'lastTransitionTime': stamp,
                           'reason': reason, 'message': message})
    if ready:
        conditions.append({'type': 'Ready', 'status': 'True', 'lastHeartbeatTime': stamp, 'lastTransitionTime': stamp,
                           'reason': 'KubeletReady', 'message': 'kubelet is posting ready status'})
    else:
        conditions.append({'type': 'Ready', 'status': 'Unknown', 'lastHeartbeatTime': stamp, 'lastTransitionTime': stamp,
                           'reason': 'NodeStatusUnknown', 'message': 'Kubelet stopped posting node status.'})
    return conditions


def set_node_unschedulable(node, unschedulable):
    """What `kubectl cordon/uncordon` plus the node lifecycle controller do to a Node object (in place)."""
    taints = [t for t in node['spec'].get('taints') or [] if t['key'] != 'node.kubernetes.io/unschedulable']
    if unschedulable:
        node['spec']['unschedulable'] = True
        taints.append({'key': 'node.kubernetes.io/unschedulable', 'effect': 'NoSchedule', 'timeAdded': timestamp()})
    else:
        node['spec'].pop('unschedulable', None)
    if taints:
        node['spec']['taints'] = taints
    else:
        node['spec'].pop('taints', None)


def set_node_ready(node, ready):
    node['status']['conditions'] = [c for c in node['status']['conditions'] if c['type'] != 'Ready'] + \
        [c for c in _node_conditions(ready, datetime.datetime.now(datetime.timezone.utc)) if c['type'] == 'Ready']
    taints = [t for t in node['spec'].get('taints') or [] if t['key'] != 'node.kubernetes.io/unreachable']
    if not ready:
        taints += [{'key': 'node.kubernetes.io/unreachable', 'effect': 'NoSchedule', 'timeAdded': timestamp()},
                   {'key': 'node.kubernetes.io/unreachable', 'effect': 'NoExecute', 'timeAdded': timestamp()}]
    if taints:
        node['spec']['taints'] = taints
    else:
        node['spec'].pop('taints', None)


def build_nodes(topology, kube, created):
    pools = {pool['name']: pool for pool in topology['pools']}
    node_cfg = kube.get('nodes') or {}
    cordoned = {_node_ref(topology, ref) for ref in node_cfg.get('cordoned') or []}
    not_ready = {_node_ref(topology, ref) for ref in node_cfg.get('not_ready') or []}
    extra_labels = {_node_ref(topology, ref): labels for ref, labels in (node_cfg.get('labels') or {}).items()}
    objects = []
    for node in topology['nodes']:
        obj = node_object(node, pools[node['pool']], topology, kube, created)
        name = node['name']
        if name in cordoned:
            set_node_unschedulable(obj, True)
        if name in not_ready:
            set_node_ready(obj, False)
        obj['metadata']['labels'].update(extra_labels.get(name) or {})
        objects.append(obj)
    return objects


def _deployment(name, namespace, labels, containers, replicas, created, selector=None, service_account=None, priority_class=None,
                node_selector=None, annotations=None, pod_labels=None):
    selector = selector or {'matchLabels': dict(labels)}
    spec = {'containers': containers, 'nodeSelector': node_selector or {'kubernetes.io/os': 'linux'}}
    if service_account:
        spec['serviceAccountName'] = service_account
    if priority_class:
        spec['priorityClassName'] = priority_class
        spec['priority'] = 2000001000 if priority_class == 'system-node-critical' else 2000000000
    return {
        'apiVersion': 'apps/v1', 'kind': 'Deployment',
        'metadata': {'name': name, 'namespace': namespace, 'labels': dict(labels), 'generation': 1, 'creationTimestamp': timestamp(created),
                     'annotations': dict(annotations or {'deployment.kubernetes.io/revision': '1'})},
        'spec': {
            'replicas': replicas, 'selector': selector, 'revisionHistoryLimit': 2, 'progressDeadlineSeconds': 600,
            'strategy': {'type': 'RollingUpdate', 'rollingUpdate': {'maxSurge': '25%', 'maxUnavailable': 1}},
            'template': {'metadata': {'labels': dict(pod_labels or labels)}, 'spec': spec},
        },
        'status': {},
    }


def _container(name, image, args=None, requests=None, limits=None, ports=None, command=None):
    container = {'name': name, 'image': image, 'imagePullPolicy': 'IfNotPresent', 'terminationMessagePath': '/dev/termination-log',
                 'terminationMessagePolicy': 'File', 'resources': {}}
    if command:
        container['command'] = command
    if args:
        container['args'] = args
    if requests:
        container['resources']['requests'] = requests
    if limits:
        container['resources']['limits'] = limits
    if ports:
        container['ports'] = ports
    return container


def _resources(spec, defaults):
    requests, limits = {}, {}
    for key, target, resource in (('cpu_request', requests, 'cpu'), ('memory_request', requests, 'memory'),
                                  ('cpu_limit', limits, 'cpu'), ('memory_limit', limits, 'memory')):
        value = spec.get(key, defaults.get(key))
        if value:
            target[resource] = str(value)
    return requests, limits


def konnectivity_objects(topology, kube, created):
    """(deployments, configmaps) for the konnectivity era."""
    spec = kube.get('konnectivity') or {}
    fqdn = topology['cluster']['fqdn']
    requests, limits = _resources(spec, {'cpu_request': '20m', 'memory_request': '30Mi', 'memory_limit': '100Mi'})
    args = spec.get('args') or [
        '--logtostderr=true', '--ca-cert=/certs/ca.crt', '--agent-cert=/certs/client.crt', '--agent-key=/certs/client.key',
        '--proxy-server-host=%s' % fqdn, '--proxy-server-port=443', '--health-server-port=8082', '--keepalive-time=30s',
        '--sync-forever=true', '--agent-identifiers=default-route=true', '--alpn-proto=konnectivity', '-v=2',
    ]
    agent = _deployment(
        'konnectivity-agent', 'kube-system', {'app': 'konnectivity-agent', 'component': 'tunnel'},
        [_container('konnectivity-agent', spec.get('image', KONNECTIVITY_IMAGE), args=args, requests=requests, limits=limits,
                    command=['/proxy-agent'], ports=[{'containerPort': 8082, 'name': 'health', 'protocol': 'TCP'}])],
        int(spec.get('replicas', 2)), created, selector={'matchLabels': {'app': 'konnectivity-agent'}},
        service_account='konnectivity-agent', priority_class='system-node-critical',
        pod_labels={'app': 'konnectivity-agent', 'component': 'tunnel', 'kubernetes.azure.com/managedby': 'aks'})
    agent['metadata']['labels'].update({'addonmanager.kubernetes.io/mode': 'Reconcile', 'kubernetes.azure.com/managedby': 'aks'})
    deployments = [agent]
    configmaps = []
    autoscaler = spec.get('autoscaler') or {}
    if autoscaler.get('deployment', True):
        scaler = _deployment(
            'konnectivity-agent-autoscaler', 'kube-system', {'k8s-app': 'konnectivity-agent-autoscaler'},
            [_container('autoscaler', autoscaler.get('image', CPA_IMAGE), command=['/cluster-proportional-autoscaler'], args=[
                '--namespace=kube-system', '--configmap=konnectivity-agent-autoscaler', '--target=deployment/konnectivity-agent',
                '--logtostderr=true', '--v=2'],
                requests={'cpu': '10m', 'memory': '20Mi'}, limits={'memory': '500Mi'})],
            1, created, service_account='konnectivity-agent-cpha', priority_class='system-cluster-critical')
        scaler['metadata']['labels'].update({'addonmanager.kubernetes.io/mode': 'Reconcile', 'kubernetes.azure.com/managedby': 'aks'})
        deployments.append(scaler)
    if spec.get('configmap', True):
        if 'configmap_data' in spec:
            data = dict(spec['configmap_data'])
        else:
            ladder = spec.get('ladder', DOC_LADDER)
            data = {'ladder': ladder if isinstance(ladder, str) else json.dumps(ladder, separators=(',', ':'))}
        if any(not isinstance(value, str) for value in data.values()):
            raise SeedError('konnectivity.configmap_data values must be strings (the JSON text CPA parses)')
        configmaps.append({
            'apiVersion': 'v1', 'kind': 'ConfigMap',
            'metadata': {'name': 'konnectivity-agent-autoscaler', 'namespace': 'kube-system', 'creationTimestamp': timestamp(created),
                         'labels': dict(spec.get('configmap_labels', {'addonmanager.kubernetes.io/mode': 'EnsureExists'})),
                         'annotations': dict(spec.get('configmap_annotations', {}))},
            'data': data,
        })
        if not configmaps[0]['metadata']['annotations']:
            del configmaps[0]['metadata']['annotations']
        if not configmaps[0]['metadata']['labels']:
            del configmaps[0]['metadata']['labels']
    return deployments, configmaps


def legacy_objects(kind, kube, created):
    if kind == 'tunnelfront':
        spec = kube.get('tunnelfront') or {}
        requests, limits = _resources(spec, {'cpu_request': '10m', 'memory_request': '64Mi', 'memory_limit': '128Mi'})
        deployment = _deployment(
            'tunnelfront', 'kube-system', {'component': 'tunnel'},
            [_container('tunnel-front', spec.get('image', 'mcr.microsoft.com/aks/hcp/hcp-tunnel-front:master.221109.1'),
                        requests=requests, limits=limits),
             _container('tunnel-probe', 'mcr.microsoft.com/aks/hcp/hcp-tunnel-front:master.221109.1',
                        command=['/lib/tunnel-front/check-tunnel-connection.sh'])],
            int(spec.get('replicas', len(spec.get('nodes') or []) or 1)), created, service_account='tunnelfront', priority_class='system-node-critical')
    else:
        spec = kube.get('aks_link') or {}
        requests, limits = _resources(spec, {'cpu_request': '10m', 'memory_request': '64Mi', 'memory_limit': '256Mi'})
        deployment = _deployment(
            'aks-link', 'kube-system', {'app': 'aks-link'},
            [_container('openvpn-client', spec.get('image', 'mcr.microsoft.com/aks/hcp/hcp-tunnel-front:master.221109.1'),
                        requests=requests, limits=limits)],
            int(spec.get('replicas', len(spec.get('nodes') or []) or 2)), created, service_account='aks-link', priority_class='system-node-critical')
    deployment['metadata']['labels']['addonmanager.kubernetes.io/mode'] = 'Reconcile'
    return spec, deployment


def system_deployments(created):
    coredns = _deployment('coredns', 'kube-system', {'k8s-app': 'kube-dns', 'kubernetes.io/cluster-service': 'true', 'version': 'v20'},
                          [_container('coredns', 'mcr.microsoft.com/oss/v2/kubernetes/coredns:v1.11.3-8', args=['-conf', '/etc/coredns/Corefile'],
                                      requests={'cpu': '100m', 'memory': '70Mi'}, limits={'memory': '500Mi'},
                                      ports=[{'containerPort': 53, 'name': 'dns', 'protocol': 'UDP'},
                                             {'containerPort': 53, 'name': 'dns-tcp', 'protocol': 'TCP'}])],
                          2, created, selector={'matchLabels': {'k8s-app': 'kube-dns'}}, service_account='coredns',
                          priority_class='system-node-critical')
    metrics = _deployment('metrics-server', 'kube-system', {'k8s-app': 'metrics-server'},
                          [_container('metrics-server', 'mcr.microsoft.com/oss/v2/kubernetes/metrics-server:v0.7.2-5',
                                      args=['--kubelet-insecure-tls', '--kubelet-preferred-address-types=InternalIP', '--secure-port=4443'],
                                      requests={'cpu': '150m', 'memory': '100Mi'}, limits={'cpu': '1', 'memory': '400Mi'},
                                      ports=[{'containerPort': 4443, 'name': 'https', 'protocol': 'TCP'}])],
                          2, created, service_account='metrics-server', priority_class='system-cluster-critical')
    return [coredns, metrics]


def namespaces(created):
    result = []
    for name in ('default', 'kube-node-lease', 'kube-public', 'kube-system'):
        result.append({'apiVersion': 'v1', 'kind': 'Namespace',
                       'metadata': {'name': name, 'labels': {'kubernetes.io/metadata.name': name}, 'creationTimestamp': timestamp(created)},
                       'spec': {'finalizers': ['kubernetes']}, 'status': {'phase': 'Active'}})
    return result


def apply_oom(cluster, deployment_name, spec, kube):
    """spec.oom: [{pod: <index or name>, times, node_event, system_oom, container, comm, minutes_ago, crashloop}] on the tunnel pods."""
    pods = sorted(cluster.pods_of_deployment('kube-system', deployment_name), key=lambda p: p['metadata']['name'])
    for entry in spec.get('oom') or []:
        ref = entry.get('pod', 0)
        if isinstance(ref, int):
            if ref >= len(pods):
                raise SeedError('oom: pod index %d but %s has only %d pods' % (ref, deployment_name, len(pods)))
            pod = pods[ref]
        else:
            pod = next((p for p in pods if p['metadata']['name'] == ref), None)
            if pod is None:
                raise SeedError('oom: no pod %r in %s' % (ref, deployment_name))
        cluster.record_oom('kube-system', pod['metadata']['name'], times=int(entry.get('times', 1)), node_event=entry.get('node_event', True),
                           system_oom=entry.get('system_oom', False), container=entry.get('container'),
                           comm=entry.get('comm', kube.get('oom_comm', 'proxy-agent')), finished_ago=float(entry.get('minutes_ago', 0.5)) * 60,
                           crashloop=bool(entry.get('crashloop', False)))


def apply_events(cluster, topology, kube):
    """kube.events: [{type: OOMKilling|SystemOOM|custom, node, comm, pid, count, minutes_ago, reason, message, ...}]."""
    now = datetime.datetime.now(datetime.timezone.utc)
    for entry in kube.get('events') or []:
        kind = entry.get('type', 'custom')
        when = now - datetime.timedelta(minutes=float(entry.get('minutes_ago', 5)))
        node = _node_ref(topology, entry['node']) if entry.get('node') else None
        if kind == 'OOMKilling':
            cluster.oom_node_event(node, comm=entry.get('comm', kube.get('oom_comm', 'proxy-agent')), pid=entry.get('pid'), when=when,
                                   cgroup=entry.get('cgroup', True), count=int(entry.get('count', 1)),
                                   memory_limit_kb=entry.get('anon_rss_kb'))
        elif kind == 'SystemOOM':
            cluster.system_oom_event(node, comm=entry.get('comm', kube.get('oom_comm', 'proxy-agent')), pid=entry.get('pid'), when=when,
                                     count=int(entry.get('count', 1)))
        elif kind == 'custom':
            involved = copy.deepcopy(entry.get('involved_object') or ({'kind': 'Node', 'name': node, 'uid': node} if node else None))
            if not involved or not entry.get('reason'):
                raise SeedError('events: a custom event needs reason and node or involved_object')
            cluster.add_event(involved, entry['reason'], entry.get('message', ''), event_type=entry.get('event_type', 'Normal'),
                              namespace=entry.get('namespace'), source_component=entry.get('source'), source_host=node,
                              count=int(entry.get('count', 1)), when=when)
        else:
            raise SeedError('events: type %r is unknown; use OOMKilling, SystemOOM or custom' % kind)


def seed(store, cluster, topology, kube):
    """Fill the store. Returns a dict with the tunnel kind and the tunnel Deployment name (None for 'none')."""
    created = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(days=3)
    store.bulk_load('namespaces', namespaces(created))
    store.bulk_load('nodes', build_nodes(topology, kube, created))
    kind = tunnel_kind(topology, kube)
    deployments, configmaps, placements, tunnel_spec, tunnel_name = [], [], {}, {}, None
    if kind == 'konnectivity':
        deployments, configmaps = konnectivity_objects(topology, kube, created)
        tunnel_spec, tunnel_name = kube.get('konnectivity') or {}, 'konnectivity-agent'
    elif kind in ('tunnelfront', 'aks-link'):
        tunnel_spec, deployment = legacy_objects(kind, kube, created)
        deployments, tunnel_name = [deployment], deployment['metadata']['name']
    if tunnel_name and tunnel_spec.get('nodes'):
        placements[tunnel_name] = [_node_ref(topology, ref) for ref in tunnel_spec['nodes']]
    if kube.get('system_pods', True):
        deployments += system_deployments(created)
    for configmap in configmaps:
        store.create('configmaps', configmap, notify=False)
    cluster.creation_time = created + datetime.timedelta(minutes=2)
    try:
        for deployment in deployments:
            store.create('deployments', deployment, notify=False)
            cluster.reconcile_deployment('kube-system', deployment['metadata']['name'], placement=placements.get(deployment['metadata']['name']))
    finally:
        cluster.creation_time = None
    if tunnel_name:
        apply_oom(cluster, tunnel_name, tunnel_spec, kube)
    apply_events(cluster, topology, kube)
    return {'tunnel': kind, 'tunnel_deployment': tunnel_name}
