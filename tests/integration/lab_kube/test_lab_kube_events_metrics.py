# -*- coding: utf-8 -*-
# Copyright (c) 2026 aks.tunnel contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Events (core/v1 and events.k8s.io/v1 with field selectors) and metrics.k8s.io usage."""

from __future__ import annotations

import pytest
from kubernetes import client
from kubernetes.client.rest import ApiException


def _agent_node(core):
    return next(p.spec.node_name for p in core.list_namespaced_pod('kube-system', label_selector='app=konnectivity-agent').items
                if p.status.container_statuses[0].restart_count)


def test_core_events_field_selectors(kube_lab, client_for):
    core = client.CoreV1Api(client_for(kube_lab))
    node = _agent_node(core)
    by_node = core.list_namespaced_event('default', field_selector='involvedObject.kind=Node,involvedObject.name=%s' % node).items
    assert sorted(e.reason for e in by_node) == ['OOMKilling', 'SystemOOM']
    oom_all = core.list_event_for_all_namespaces(field_selector='reason=OOMKilling').items
    assert len(oom_all) == 2 and {e.metadata.namespace for e in oom_all} == {'default'}
    assert core.list_namespaced_event('kube-system').items == []
    assert len(core.list_event_for_all_namespaces(field_selector='source=kernel-monitor').items) == 2
    assert len(core.list_event_for_all_namespaces(field_selector='type=Warning,reason!=OOMKilling').items) == 1


def test_events_v1_field_selectors(kube_lab, client_for):
    events = client.EventsV1Api(client_for(kube_lab))
    core = client.CoreV1Api(client_for(kube_lab))
    node = _agent_node(core)
    listed = events.list_namespaced_event('default', field_selector='regarding.kind=Node,regarding.name=%s' % node).items
    assert sorted(e.reason for e in listed) == ['OOMKilling', 'SystemOOM']
    oom = events.list_event_for_all_namespaces(field_selector='reason=OOMKilling').items
    assert len(oom) == 2
    first = next(e for e in oom if e.regarding.name == node)
    assert first.note.startswith('Memory cgroup out of memory: Killed process ')
    assert first.deprecated_source.component == 'kernel-monitor' and first.deprecated_count == 4
    assert first.reporting_controller == 'kernel-monitor' and first.event_time is not None
    legacy_names = events.list_event_for_all_namespaces(field_selector='involvedObject.name=%s' % node).items
    assert len(legacy_names) == 2


def test_create_event_and_in_process_event(make_lab, client_for):
    lab = make_lab()
    core = client.CoreV1Api(client_for(lab))
    core.create_namespaced_event('kube-system', {'metadata': {'name': 'probe.1'}, 'involvedObject': {'kind': 'Pod', 'name': 'x', 'namespace': 'kube-system'},
                                                 'reason': 'Probe', 'message': 'hello', 'type': 'Normal'})
    lab.add_oom_event('nodepool1-2', comm='python3', pid=4242)
    assert [e.reason for e in core.list_namespaced_event('kube-system').items] == ['Probe']
    oom = core.list_namespaced_event('default', field_selector='involvedObject.name=%s,reason=OOMKilling' % lab.node_name('nodepool1-2')).items
    assert len(oom) == 1 and 'Killed process 4242 (python3)' in oom[0].message


def test_node_metrics(kube_lab, client_for):
    custom = client.CustomObjectsApi(client_for(kube_lab))
    items = custom.list_cluster_custom_object('metrics.k8s.io', 'v1beta1', 'nodes')['items']
    usage = {item['metadata']['name']: item['usage'] for item in items}
    assert usage[kube_lab.node_name('nodepool1-0')] == {'cpu': '1500000000n', 'memory': '4096000Ki'}
    assert usage[kube_lab.node_name('nodepool1-1')] == {'cpu': '250000000n', 'memory': '2048000Ki'}
    one = custom.get_cluster_custom_object('metrics.k8s.io', 'v1beta1', 'nodes', kube_lab.node_name('user1-0'))
    assert one['kind'] == 'NodeMetrics' and one['window'] and one['timestamp']
    selected = custom.list_cluster_custom_object('metrics.k8s.io', 'v1beta1', 'nodes', label_selector='agentpool=user1')['items']
    assert len(selected) == 2
    with pytest.raises(ApiException) as info:
        custom.get_cluster_custom_object('metrics.k8s.io', 'v1beta1', 'nodes', 'nope')
    assert info.value.status == 404


def test_pod_metrics(kube_lab, client_for):
    custom = client.CustomObjectsApi(client_for(kube_lab))
    items = custom.list_namespaced_custom_object('metrics.k8s.io', 'v1beta1', 'kube-system', 'pods',
                                                 label_selector='app=konnectivity-agent')['items']
    assert len(items) == 2
    assert items[0]['containers'] == [{'name': 'konnectivity-agent', 'usage': {'cpu': '7000000n', 'memory': '61440Ki'}}]
    everything = custom.list_cluster_custom_object('metrics.k8s.io', 'v1beta1', 'pods')['items']
    coredns = next(i for i in everything if i['metadata']['name'].startswith('coredns-'))
    assert coredns['containers'][0]['usage'] == {'cpu': '3000000n', 'memory': '18432Ki'}


def test_metrics_can_be_changed_and_made_unavailable(make_lab, client_for):
    lab = make_lab()
    custom = client.CustomObjectsApi(client_for(lab))
    lab.set_metrics(nodes={'nodepool1-1': {'cpu': '1800m', 'memory': '5000Mi'}})
    one = custom.get_cluster_custom_object('metrics.k8s.io', 'v1beta1', 'nodes', lab.node_name('nodepool1-1'))
    assert one['usage'] == {'cpu': '1800000000n', 'memory': '5120000Ki'}
    lab.set_metrics(unavailable=True)
    with pytest.raises(ApiException) as info:
        custom.list_cluster_custom_object('metrics.k8s.io', 'v1beta1', 'nodes')
    assert info.value.status == 503
