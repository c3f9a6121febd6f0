# -*- coding: utf-8 -*-
# Copyright (c) 2026 aks.tunnel contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Deployments: get/list/patch, the scale subresource (get/put/patch), status following the pods, rollouts."""

from __future__ import annotations

import json

import pytest
from kubernetes import client
from kubernetes.client.rest import ApiException


@pytest.fixture
def cpa_off(base_config):
    base_config['kube']['konnectivity']['autoscaler'] = {'enabled': False}
    return base_config


def _agent_pods(core):
    return core.list_namespaced_pod('kube-system', label_selector='app=konnectivity-agent').items


def test_list_and_get(kube_lab, client_for):
    apps = client.AppsV1Api(client_for(kube_lab))
    listed = apps.list_namespaced_deployment('kube-system', label_selector='app=konnectivity-agent')
    assert [d.metadata.name for d in listed.items] == ['konnectivity-agent']
    agent = apps.read_namespaced_deployment('konnectivity-agent', 'kube-system')
    assert agent.spec.replicas == 2 and agent.status.replicas == 2 and agent.status.ready_replicas == 2
    assert agent.status.available_replicas == 2 and agent.status.updated_replicas == 2
    assert agent.status.observed_generation == agent.metadata.generation
    assert {c.type: c.status for c in agent.status.conditions} == {'Available': 'True', 'Progressing': 'True'}
    with pytest.raises(ApiException) as info:
        apps.read_namespaced_deployment('nope', 'kube-system')
    assert json.loads(info.value.body)['message'] == 'deployments.apps "nope" not found'
    assert json.loads(info.value.body)['details'] == {'name': 'nope', 'group': 'apps', 'kind': 'deployments'}


@pytest.mark.parametrize('how', ['put', 'patch', 'patch-merge', 'patch-deployment'])
def test_scale_moves_pods_and_status(make_lab, client_for, cpa_off, how):
    lab = make_lab(cpa_off)
    api_client = client_for(lab)
    core, apps = client.CoreV1Api(api_client), client.AppsV1Api(api_client)
    scale = apps.read_namespaced_deployment_scale('konnectivity-agent', 'kube-system')
    assert scale.spec.replicas == 2 and scale.status.replicas == 2
    if how == 'put':
        scale.spec.replicas = 4
        result = apps.replace_namespaced_deployment_scale('konnectivity-agent', 'kube-system', scale)
        assert result.spec.replicas == 4
    elif how == 'patch':
        apps.patch_namespaced_deployment_scale('konnectivity-agent', 'kube-system', {'spec': {'replicas': 4}})
    elif how == 'patch-merge':
        apps.patch_namespaced_deployment_scale('konnectivity-agent', 'kube-system', {'spec': {'replicas': 4}},
                                               _content_type='application/merge-patch+json')
    else:
        apps.patch_namespaced_deployment('konnectivity-agent', 'kube-system', {'spec': {'replicas': 4}})
    pods = _agent_pods(core)
    assert len(pods) == 4
    # four replicas over the four schedulable nodes (user1-1 is cordoned)
    assert len({p.spec.node_name for p in pods}) == 4 and lab.node_name('user1-1') not in {p.spec.node_name for p in pods}
    agent = apps.read_namespaced_deployment('konnectivity-agent', 'kube-system')
    assert (agent.spec.replicas, agent.status.replicas, agent.status.ready_replicas, agent.metadata.generation) == (4, 4, 4, 2)
    rs = apps.list_namespaced_replica_set('kube-system', label_selector='app=konnectivity-agent').items
    assert [(r.spec.replicas, r.status.ready_replicas) for r in rs] == [(4, 4)]
    apps.patch_namespaced_deployment_scale('konnectivity-agent', 'kube-system', {'spec': {'replicas': 1}})
    assert len(_agent_pods(core)) == 1
    agent = apps.read_namespaced_deployment('konnectivity-agent', 'kube-system')
    assert (agent.status.replicas, agent.status.ready_replicas) == (1, 1)


def test_scale_to_zero_drops_zero_counters(make_lab, client_for, cpa_off):
    lab = make_lab(cpa_off)
    apps = client.AppsV1Api(client_for(lab))
    apps.patch_namespaced_deployment_scale('konnectivity-agent', 'kube-system', {'spec': {'replicas': 0}})
    agent = apps.read_namespaced_deployment('konnectivity-agent', 'kube-system')
    assert agent.spec.replicas == 0 and agent.status.replicas is None and agent.status.ready_replicas is None
    assert lab.tunnel_pods() == []


def test_scale_errors(make_lab, client_for, cpa_off):
    lab = make_lab(cpa_off)
    apps = client.AppsV1Api(client_for(lab))
    with pytest.raises(ApiException) as info:
        apps.patch_namespaced_deployment_scale('konnectivity-agent', 'kube-system', {'spec': {'replicas': -1}})
    body = json.loads(info.value.body)
    assert info.value.status == 422 and body['reason'] == 'Invalid'
    assert body['message'] == 'Scale.autoscaling "konnectivity-agent" is invalid: spec.replicas: Invalid value: -1: must be greater than or equal to 0'
    scale = apps.read_namespaced_deployment_scale('konnectivity-agent', 'kube-system')
    apps.patch_namespaced_deployment_scale('konnectivity-agent', 'kube-system', {'spec': {'replicas': 3}})
    with pytest.raises(ApiException) as info:
        apps.replace_namespaced_deployment_scale('konnectivity-agent', 'kube-system', scale)
    assert info.value.status == 409 and json.loads(info.value.body)['message'].startswith(
        'Operation cannot be fulfilled on deployments.apps "konnectivity-agent": the object has been modified')


def test_template_patch_rolls_out_new_pods(make_lab, client_for, cpa_off):
    lab = make_lab(cpa_off)
    api_client = client_for(lab)
    core, apps = client.CoreV1Api(api_client), client.AppsV1Api(api_client)
    old = {p.metadata.name for p in _agent_pods(core)}
    patched = apps.patch_namespaced_deployment('konnectivity-agent', 'kube-system', {'spec': {'template': {'spec': {'containers': [
        {'name': 'konnectivity-agent', 'resources': {'limits': {'memory': '256Mi'}}}]}}}})
    container = patched.spec.template.spec.containers[0]
    assert container.resources.limits == {'memory': '256Mi'} and container.image  # strategic merge kept the other fields
    assert container.resources.requests == {'cpu': '20m', 'memory': '30Mi'}
    pods = _agent_pods(core)
    assert len(pods) == 2 and not old & {p.metadata.name for p in pods}
    assert all(p.spec.containers[0].resources.limits == {'memory': '256Mi'} for p in pods)
    rs = apps.list_namespaced_replica_set('kube-system', label_selector='app=konnectivity-agent').items
    assert sorted(r.spec.replicas for r in rs) == [0, 2]
    # kubectl rollout restart: an annotation on the template
    restarted = apps.patch_namespaced_deployment('konnectivity-agent', 'kube-system', {'spec': {'template': {'metadata': {'annotations': {
        'kubectl.kubernetes.io/restartedAt': '2026-11-25T20:00:00Z'}}}}})
    assert restarted.metadata.generation == 3
    assert len(_agent_pods(core)) == 2
    agent = apps.read_namespaced_deployment('konnectivity-agent', 'kube-system')
    assert agent.metadata.annotations['deployment.kubernetes.io/revision'] == '3'


def test_put_deployment_keeps_status(make_lab, client_for, cpa_off):
    lab = make_lab(cpa_off)
    apps = client.AppsV1Api(client_for(lab))
    agent = apps.read_namespaced_deployment('konnectivity-agent', 'kube-system')
    agent.spec.replicas = 3
    agent.status.replicas = 99
    updated = apps.replace_namespaced_deployment('konnectivity-agent', 'kube-system', agent)
    assert updated.spec.replicas == 3 and updated.status.replicas == 3


def test_selector_is_immutable_and_deleted_replicaset_comes_back(make_lab, client_for, cpa_off):
    lab = make_lab(cpa_off)
    api_client = client_for(lab)
    core, apps = client.CoreV1Api(api_client), client.AppsV1Api(api_client)
    with pytest.raises(ApiException) as info:
        apps.patch_namespaced_deployment('konnectivity-agent', 'kube-system', {'spec': {'selector': {'matchLabels': {'app': 'other'}}}})
    assert info.value.status == 422 and 'field is immutable' in json.loads(info.value.body)['message']
    rs = apps.list_namespaced_replica_set('kube-system', label_selector='app=konnectivity-agent').items[0]
    old_pods = {p.metadata.name for p in _agent_pods(core)}
    apps.delete_namespaced_replica_set(rs.metadata.name, 'kube-system')
    pods = _agent_pods(core)
    assert len(pods) == 2 and not old_pods & {p.metadata.name for p in pods}
    assert apps.read_namespaced_deployment('konnectivity-agent', 'kube-system').status.ready_replicas == 2


def test_create_deployment_through_api(make_lab, client_for, cpa_off):
    lab = make_lab(cpa_off)
    api_client = client_for(lab)
    core, apps = client.CoreV1Api(api_client), client.AppsV1Api(api_client)
    apps.create_namespaced_deployment('default', {
        'metadata': {'name': 'web'},
        'spec': {'replicas': 3, 'selector': {'matchLabels': {'app': 'web'}},
                 'template': {'metadata': {'labels': {'app': 'web'}}, 'spec': {'containers': [{'name': 'web', 'image': 'nginx'}]}}}})
    assert len(core.list_namespaced_pod('default', label_selector='app=web').items) == 3
    assert apps.read_namespaced_deployment('web', 'default').status.ready_replicas == 3
    apps.delete_namespaced_deployment('web', 'default')
    assert core.list_namespaced_pod('default').items == [] and apps.list_namespaced_replica_set('default').items == []
