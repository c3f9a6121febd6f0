# -*- coding: utf-8 -*-
# Copyright (c) 2026 aks.tunnel contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Pods: list/get with selectors, delete -> the ReplicaSet replaces the pod (new name, Ready after a delay)."""

from __future__ import annotations

import json
import re
import time

import pytest
from kubernetes import client
from kubernetes.client.rest import ApiException


def test_list_and_field_selectors(kube_lab, client_for):
    core = client.CoreV1Api(client_for(kube_lab))
    agents = core.list_namespaced_pod('kube-system', label_selector='app=konnectivity-agent').items
    assert len(agents) == 2
    tunnel = core.list_pod_for_all_namespaces(label_selector='component=tunnel').items
    assert sorted(p.metadata.name for p in tunnel) == sorted(p.metadata.name for p in agents)
    node = agents[0].spec.node_name
    on_node = core.list_pod_for_all_namespaces(field_selector='spec.nodeName=%s' % node).items
    assert agents[0].metadata.name in [p.metadata.name for p in on_node]
    assert all(p.spec.node_name == node for p in on_node)
    both = core.list_namespaced_pod('kube-system', label_selector='app=konnectivity-agent', field_selector='spec.nodeName=%s' % node).items
    assert [p.metadata.name for p in both] == [agents[0].metadata.name]
    by_name = core.list_namespaced_pod('kube-system', field_selector='metadata.name=%s' % agents[1].metadata.name).items
    assert [p.metadata.name for p in by_name] == [agents[1].metadata.name]
    assert len(core.list_pod_for_all_namespaces(field_selector='status.phase=Running').items) == 7
    assert core.list_pod_for_all_namespaces(field_selector='status.phase!=Running').items == []
    assert core.list_namespaced_pod('default').items == []
    paged = core.list_namespaced_pod('kube-system', limit=3)
    rest = core.list_namespaced_pod('kube-system', limit=10, _continue=paged.metadata._continue)
    assert len(paged.items) == 3 and len(rest.items) == 4 and rest.metadata._continue is None


def test_pod_names_and_status_look_real(kube_lab, client_for):
    core = client.CoreV1Api(client_for(kube_lab))
    for pod in core.list_namespaced_pod('kube-system').items:
        assert re.match(r'^[a-z-]+-[bcdfghjklmnpqrstvwxz2456789]{10}-[bcdfghjklmnpqrstvwxz2456789]{5}$', pod.metadata.name), pod.metadata.name
        assert pod.metadata.labels['pod-template-hash'] in pod.metadata.name
        assert [c.status for c in pod.status.conditions if c.type == 'Ready'] == ['True']
        assert pod.status.pod_ip and pod.status.host_ip
        assert pod.status.container_statuses[0].ready is True


@pytest.mark.parametrize('user', ['lab-admin', 'lab-admin-cert'])
def test_delete_pod_is_replaced_with_new_name_after_ready_delay(make_lab, client_for, base_config, user):
    base_config['kube']['pod_ready_delay'] = 0.3
    lab = make_lab(base_config)
    core, apps = client.CoreV1Api(client_for(lab, user)), client.AppsV1Api(client_for(lab, user))
    before = {p.metadata.name for p in core.list_namespaced_pod('kube-system', label_selector='app=konnectivity-agent').items}
    victim = sorted(before)[0]
    deleted = core.delete_namespaced_pod(victim, 'kube-system')
    assert deleted.metadata.name == victim and deleted.metadata.deletion_timestamp is not None
    pods = core.list_namespaced_pod('kube-system', label_selector='app=konnectivity-agent').items
    names = {p.metadata.name for p in pods}
    assert len(names) == 2 and victim not in names
    new = next(p for p in pods if p.metadata.name not in before)
    assert new.metadata.name[:-5] == victim[:-5]
    assert new.status.phase == 'Pending'
    assert [c.status for c in new.status.conditions if c.type == 'Ready'] == ['False']
    deployment = apps.read_namespaced_deployment('konnectivity-agent', 'kube-system')
    assert deployment.status.replicas == 2 and deployment.status.ready_replicas == 1 and deployment.status.unavailable_replicas == 1
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        pod = core.read_namespaced_pod(new.metadata.name, 'kube-system')
        if pod.status.phase == 'Running':
            break
        time.sleep(0.05)
    assert pod.status.phase == 'Running' and pod.status.container_statuses[0].ready is True
    assert pod.status.container_statuses[0].restart_count == 0
    deployment = apps.read_namespaced_deployment('konnectivity-agent', 'kube-system')
    assert deployment.status.ready_replicas == 2 and deployment.status.available_replicas == 2
    assert deployment.status.unavailable_replicas is None


def test_replacement_avoids_cordoned_and_spreads(make_lab, client_for, base_config):
    base_config['kube']['nodes']['cordoned'] = ['nodepool1-2', 'user1-0', 'user1-1']
    lab = make_lab(base_config)
    core = client.CoreV1Api(client_for(lab))
    pods = core.list_namespaced_pod('kube-system', label_selector='app=konnectivity-agent').items
    for _unused in range(4):
        victim = pods[0]
        core.delete_namespaced_pod(victim.metadata.name, 'kube-system')
        pods = core.list_namespaced_pod('kube-system', label_selector='app=konnectivity-agent').items
        # only nodepool1-0/1 are schedulable and the two replicas spread over them
        assert sorted(p.spec.node_name for p in pods) == [lab.node_name('nodepool1-0'), lab.node_name('nodepool1-1')]


def test_delete_missing_pod_is_404(kube_lab, client_for):
    core = client.CoreV1Api(client_for(kube_lab))
    with pytest.raises(ApiException) as info:
        core.delete_namespaced_pod('nope', 'kube-system')
    assert info.value.status == 404 and json.loads(info.value.body)['message'] == 'pods "nope" not found'


def test_in_process_oom_mark_and_delete(make_lab, client_for):
    lab = make_lab()
    core = client.CoreV1Api(client_for(lab))
    pod = lab.tunnel_pods()[1]
    lab.mark_pod_oom_killed('kube-system', pod['metadata']['name'], times=2)
    status = core.read_namespaced_pod(pod['metadata']['name'], 'kube-system').status.container_statuses[0]
    assert status.restart_count == 2 and status.last_state.terminated.reason == 'OOMKilled'
    events = core.list_namespaced_event('default', field_selector='reason=OOMKilling,involvedObject.name=%s' % pod['spec']['nodeName']).items
    assert events and events[-1].count == 2
    lab.delete_pod('kube-system', pod['metadata']['name'])
    assert pod['metadata']['name'] not in [p['metadata']['name'] for p in lab.tunnel_pods()]
    assert len(lab.tunnel_pods()) == 2
