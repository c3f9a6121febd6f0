# -*- coding: utf-8 -*-
# Copyright (c) 2026 aks.tunnel contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Every kind the emulator serves deserializes through the official client models, for token and cert users."""

from __future__ import annotations

import pytest
from kubernetes import client


@pytest.mark.parametrize('user', ['lab-admin', 'lab-admin-cert', 'lab-reader', 'lab-reader-cert'])
def test_every_kind_lists_and_reads_through_client_models(kube_lab, client_for, user):
    api_client = client_for(kube_lab, user)
    core, apps, events = client.CoreV1Api(api_client), client.AppsV1Api(api_client), client.EventsV1Api(api_client)
    custom = client.CustomObjectsApi(api_client)

    nodes = core.list_node().items
    assert len(nodes) == 5
    node = core.read_node(nodes[0].metadata.name)
    assert isinstance(node, client.V1Node)
    assert node.status.node_info.kubelet_version == 'v1.31.2'

    assert {ns.metadata.name for ns in core.list_namespace().items} == {'default', 'kube-node-lease', 'kube-public', 'kube-system'}
    assert core.read_namespace('kube-system').status.phase == 'Active'

    pods = core.list_namespaced_pod('kube-system').items
    assert len(pods) == len(core.list_pod_for_all_namespaces().items) == 7
    pod = core.read_namespaced_pod(pods[0].metadata.name, 'kube-system')
    assert isinstance(pod, client.V1Pod) and pod.status.phase == 'Running'

    configmap = core.read_namespaced_config_map('konnectivity-agent-autoscaler', 'kube-system')
    assert isinstance(configmap, client.V1ConfigMap)
    assert [cm.metadata.name for cm in core.list_config_map_for_all_namespaces().items] == ['konnectivity-agent-autoscaler']

    core_events = core.list_event_for_all_namespaces().items
    assert len(core_events) == 3
    assert isinstance(core.read_namespaced_event(core_events[0].metadata.name, 'default'), client.CoreV1Event)
    new_events = events.list_event_for_all_namespaces().items
    assert len(new_events) == 3
    assert isinstance(events.read_namespaced_event(new_events[0].metadata.name, 'default'), client.EventsV1Event)

    deployments = apps.list_deployment_for_all_namespaces().items
    assert sorted(d.metadata.name for d in deployments) == ['coredns', 'konnectivity-agent', 'konnectivity-agent-autoscaler', 'metrics-server']
    deployment = apps.read_namespaced_deployment('konnectivity-agent', 'kube-system')
    assert isinstance(deployment, client.V1Deployment)
    scale = apps.read_namespaced_deployment_scale('konnectivity-agent', 'kube-system')
    assert isinstance(scale, client.V1Scale) and scale.status.selector == 'app=konnectivity-agent'
    replicasets = apps.list_namespaced_replica_set('kube-system').items
    assert len(replicasets) == 4
    assert isinstance(apps.read_namespaced_replica_set(replicasets[0].metadata.name, 'kube-system'), client.V1ReplicaSet)

    node_metrics = custom.list_cluster_custom_object('metrics.k8s.io', 'v1beta1', 'nodes')
    assert node_metrics['kind'] == 'NodeMetricsList' and len(node_metrics['items']) == 5
    pod_metrics = custom.list_namespaced_custom_object('metrics.k8s.io', 'v1beta1', 'kube-system', 'pods')
    assert pod_metrics['kind'] == 'PodMetricsList' and len(pod_metrics['items']) == 7


def test_node_object_carries_aks_identity(kube_lab, client_for):
    core = client.CoreV1Api(client_for(kube_lab))
    topo = kube_lab.topology['nodes'][0]
    node = core.read_node(topo['name'])
    labels = node.metadata.labels
    assert labels['kubernetes.azure.com/agentpool'] == labels['agentpool'] == 'nodepool1'
    assert labels['kubernetes.azure.com/mode'] == 'system'
    assert labels['kubernetes.io/os'] == 'linux'
    assert labels['node.kubernetes.io/instance-type'] == 'Standard_D2s_v3'
    assert node.spec.provider_id == topo['provider_id']
    assert [(a.type, a.address) for a in node.status.addresses] == [('InternalIP', topo['ip']), ('Hostname', topo['name'])]
    assert node.status.allocatable['cpu'] == '1900m'
    assert node.status.capacity['cpu'] == '2'
    assert [c.status for c in node.status.conditions if c.type == 'Ready'] == ['True']
    assert node.spec.unschedulable is None
    cordoned = core.read_node(kube_lab.node_name('user1-1'))
    assert cordoned.spec.unschedulable is True
    assert [t.key for t in cordoned.spec.taints] == ['node.kubernetes.io/unschedulable']
    assert cordoned.status.allocatable['cpu'] == '3860m'


def test_konnectivity_objects_match_aks(kube_lab, client_for):
    api_client = client_for(kube_lab)
    core, apps = client.CoreV1Api(api_client), client.AppsV1Api(api_client)
    agent = apps.read_namespaced_deployment('konnectivity-agent', 'kube-system')
    assert agent.spec.selector.match_labels == {'app': 'konnectivity-agent'}
    container = agent.spec.template.spec.containers[0]
    assert container.name == 'konnectivity-agent'
    assert container.resources.limits == {'memory': '64Mi'}
    assert container.resources.requests == {'cpu': '20m', 'memory': '30Mi'}
    assert '--proxy-server-port=443' in container.args and '--alpn-proto=konnectivity' in container.args
    assert agent.spec.template.metadata.labels['component'] == 'tunnel'
    scaler = apps.read_namespaced_deployment('konnectivity-agent-autoscaler', 'kube-system')
    args = scaler.spec.template.spec.containers[0].args
    assert '--configmap=konnectivity-agent-autoscaler' in args and '--target=deployment/konnectivity-agent' in args
    assert scaler.spec.template.spec.containers[0].name == 'autoscaler'
    configmap = core.read_namespaced_config_map('konnectivity-agent-autoscaler', 'kube-system')
    assert configmap.data == {'ladder': '{"nodesToReplicas":[[1,2],[100,3],[250,4],[500,5],[1000,6],[5000,10]]}'}
    assert configmap.metadata.labels == {'addonmanager.kubernetes.io/mode': 'EnsureExists'}

    pods = core.list_namespaced_pod('kube-system', label_selector='app=konnectivity-agent').items
    assert sorted(p.spec.node_name for p in pods) == sorted(kube_lab.node_name(r) for r in ('nodepool1-0', 'nodepool1-1'))
    for pod in pods:
        rs_ref = pod.metadata.owner_references[0]
        assert rs_ref.kind == 'ReplicaSet' and rs_ref.controller is True
        rs = apps.read_namespaced_replica_set(rs_ref.name, 'kube-system')
        assert rs.metadata.owner_references[0].kind == 'Deployment' and rs.metadata.owner_references[0].name == 'konnectivity-agent'
        assert pod.metadata.name.startswith(rs.metadata.name + '-') and len(pod.metadata.name) == len(rs.metadata.name) + 6
        assert pod.status.host_ip == next(n['ip'] for n in kube_lab.topology['nodes'] if n['name'] == pod.spec.node_name)
    oom = [p for p in pods if p.status.container_statuses[0].restart_count]
    assert len(oom) == 1
    status = oom[0].status.container_statuses[0]
    assert status.restart_count == 4
    assert status.last_state.terminated.reason == 'OOMKilled' and status.last_state.terminated.exit_code == 137
    assert status.state.running is not None


def test_oom_events_have_npd_and_kubelet_shape(kube_lab, client_for):
    core = client.CoreV1Api(client_for(kube_lab))
    oom = core.list_namespaced_event('default', field_selector='reason=OOMKilling').items
    assert len(oom) == 2
    agent_node = next(p.spec.node_name for p in core.list_namespaced_pod('kube-system', label_selector='app=konnectivity-agent').items
                      if p.status.container_statuses[0].restart_count)
    event = next(e for e in oom if e.involved_object.name == agent_node)
    assert event.type == 'Warning' and event.source.component == 'kernel-monitor' and event.source.host == agent_node
    assert event.involved_object.kind == 'Node' and event.metadata.namespace == 'default' and event.count == 4
    assert event.message.startswith('Memory cgroup out of memory: Killed process ')
    assert ' (proxy-agent) total-vm:' in event.message and ', shmem-rss:0kB, UID:0 pgtables:' in event.message
    assert 'anon-rss:65324kB' in event.message
    other = next(e for e in oom if e.involved_object.name != agent_node)
    assert ' (java) ' in other.message
    system = core.list_event_for_all_namespaces(field_selector='reason=SystemOOM').items
    assert len(system) == 1 and system[0].source.component == 'kubelet'
    assert system[0].message.startswith('System OOM encountered, victim process: proxy-agent, pid: ')
