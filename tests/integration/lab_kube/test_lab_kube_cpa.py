# -*- coding: utf-8 -*-
# Copyright (c) 2026 aks.tunnel contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The cluster-proportional-autoscaler simulation driving konnectivity-agent (CPA v1.9.0 semantics)."""

from __future__ import annotations

import json
import time

import pytest
from kubernetes import client
from kubernetes.client.rest import ApiException

NAME = 'konnectivity-agent-autoscaler'


def _ladder(**params):
    return {'data': {'ladder': json.dumps(params)}}


def _replicas(apps):
    return apps.read_namespaced_deployment('konnectivity-agent', 'kube-system').spec.replicas


def _pods(core):
    return core.list_namespaced_pod('kube-system', label_selector='app=konnectivity-agent').items


@pytest.fixture
def lab_apis(make_lab, client_for):
    lab = make_lab()
    api_client = client_for(lab, 'lab-admin-cert')
    return lab, client.CoreV1Api(api_client), client.AppsV1Api(api_client)


def test_cluster_status_counts_like_cpa(lab_apis):
    lab = lab_apis[0]
    # 3 x 1900m + 2 x 3860m = 13.42 -> 14 cores; user1-1 (3860m) is cordoned -> 4 nodes, 9.56 -> 10 cores
    assert lab.cpa.cluster_status() == {'total_nodes': 5, 'total_cores': 14, 'schedulable_nodes': 4, 'schedulable_cores': 10}


def test_ladder_change_moves_replicas_and_pods(lab_apis):
    lab, core, apps = lab_apis
    assert _replicas(apps) == 2
    core.patch_namespaced_config_map(NAME, 'kube-system', _ladder(nodesToReplicas=[[1, 3], [4, 4]]))
    assert _replicas(apps) == 4  # 4 schedulable nodes
    assert len(_pods(core)) == 4
    assert lab.cpa.log[-1] == 'Replicas are not as expected : updating deployment/konnectivity-agent from 2 to 4'
    core.patch_namespaced_config_map(NAME, 'kube-system', _ladder(coresToReplicas=[[1, 1], [10, 5], [14, 7]], nodesToReplicas=[[1, 2]]))
    assert _replicas(apps) == 5  # 10 schedulable cores
    core.patch_namespaced_config_map(NAME, 'kube-system', _ladder(coresToReplicas=[[1, 1], [10, 5], [14, 7]], includeUnschedulableNodes=True))
    assert _replicas(apps) == 7  # 14 total cores
    assert len(_pods(core)) == 7
    apps_status = apps.read_namespaced_deployment('konnectivity-agent', 'kube-system').status
    assert apps_status.replicas == 7 and apps_status.ready_replicas == 7


@pytest.mark.parametrize('data', [
    {'ladder': '{"nodesToReplicas": [[1, 5]],}'},
    {'ladder': '{"nodesToReplicas": [[1.5, 5]]}'},
    {'ladder': '{"nodesToReplicas": [[-1, 5]]}'},
    {'ladder': '{"nodesToReplicas": [[1, 5]]}', 'notes': 'a second key breaks CPA'},
    {'linearish': '{"nodesPerReplica": 1}'},
    {'ladder': ''},
])
def test_broken_configmap_leaves_replicas(lab_apis, data):
    lab, core, apps = lab_apis
    core.patch_namespaced_config_map(NAME, 'kube-system', {'data': {'ladder': '{"nodesToReplicas":[[1,3]]}'}})
    assert _replicas(apps) == 3
    core.replace_namespaced_config_map(NAME, 'kube-system', {'metadata': {'name': NAME}, 'data': data})
    assert _replicas(apps) == 3
    assert lab.cpa.last_error
    # a node change does not help while the ConfigMap is broken
    lab.set_node_unschedulable('nodepool1-0')
    assert _replicas(apps) == 3
    core.replace_namespaced_config_map(NAME, 'kube-system', {'metadata': {'name': NAME}, 'data': {'ladder': '{"nodesToReplicas":[[1,2],[4,6]]}'}})
    assert lab.cpa.last_error is None
    assert _replicas(apps) == 2  # 3 schedulable nodes now


def test_missing_configmap_leaves_replicas(lab_apis):
    lab, core, apps = lab_apis
    core.delete_namespaced_config_map(NAME, 'kube-system')
    lab.set_node_unschedulable('nodepool1-0')
    assert _replicas(apps) == 2
    assert lab.cpa.last_error == 'Error syncing configMap with apiserver: configmaps "%s" not found' % NAME


def test_cordon_and_uncordon_change_schedulable_counts(lab_apis):
    lab, core, apps = lab_apis
    core.patch_namespaced_config_map(NAME, 'kube-system', _ladder(nodesToReplicas=[[1, 1], [2, 2], [3, 3], [4, 4], [5, 5]]))
    assert _replicas(apps) == 4
    core.patch_node(lab.node_name('nodepool1-0'), {'spec': {'unschedulable': True}})
    assert _replicas(apps) == 3
    assert lab.cpa.last_status == {'total_nodes': 5, 'total_cores': 14, 'schedulable_nodes': 3, 'schedulable_cores': 8}
    lab.set_node_unschedulable('user1-1', False)
    lab.set_node_unschedulable('nodepool1-0', False)
    assert _replicas(apps) == 5
    # NotReady nodes still count for CPA v1.9.0 (the Ready check came in v1.10.1)
    lab.set_node_ready('nodepool1-1', False)
    assert _replicas(apps) == 5
    assert len(_pods(core)) == 5


def test_nodes_added_and_removed(lab_apis):
    lab, core, apps = lab_apis
    core.patch_namespaced_config_map(NAME, 'kube-system', _ladder(nodesToReplicas=[[1, 2], [6, 3], [8, 4]]))
    assert _replicas(apps) == 2
    added = lab.add_nodes('user1', 4)
    assert added == ['aks-user1-76070142-vmss00000%d' % i for i in range(2, 6)]
    node = core.read_node(added[0])
    assert node.status.addresses[0].address == '10.240.0.9' and node.spec.provider_id.endswith('/virtualMachines/2')
    assert _replicas(apps) == 4  # 8 schedulable nodes
    lab.remove_node('user1-5')
    assert _replicas(apps) == 3
    assert len(_pods(core)) == 3


def test_manual_scale_is_reverted(lab_apis):
    lab, core, apps = lab_apis
    apps.patch_namespaced_deployment_scale('konnectivity-agent', 'kube-system', {'spec': {'replicas': 6}})
    assert _replicas(apps) == 2
    assert len(_pods(core)) == 2
    assert 'updating deployment/konnectivity-agent from 6 to 2' in lab.cpa.log[-1]


def test_delayed_polls(make_lab, client_for, base_config):
    base_config['kube']['konnectivity']['autoscaler'] = {'delay': 0.3}
    lab = make_lab(base_config)
    core, apps = client.CoreV1Api(client_for(lab)), client.AppsV1Api(client_for(lab))
    core.patch_namespaced_config_map(NAME, 'kube-system', _ladder(nodesToReplicas=[[1, 3]]))
    assert _replicas(apps) == 2
    deadline = time.monotonic() + 5
    while _replicas(apps) != 3 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _replicas(apps) == 3


def test_seeded_broken_ladder_keeps_configured_replicas(make_lab, client_for, base_config):
    base_config['kube']['konnectivity'].update({'replicas': 1, 'ladder': '{"nodesToReplicas": [[1, 3]],}'})
    lab = make_lab(base_config)
    apps = client.AppsV1Api(client_for(lab))
    assert _replicas(apps) == 1
    assert 'could not parse parameters' in lab.cpa.last_error or 'invalid character' in lab.cpa.last_error


def test_seeded_valid_ladder_applies_at_start(make_lab, client_for, base_config):
    base_config['kube']['konnectivity'].update({'replicas': 1, 'ladder': {'nodesToReplicas': [[1, 2], [4, 5]]}})
    lab = make_lab(base_config)
    assert _replicas(client.AppsV1Api(client_for(lab))) == 5


def test_autoscaler_deployment_down_means_no_scaling(lab_apis):
    lab, core, apps = lab_apis
    apps.patch_namespaced_deployment_scale('konnectivity-agent-autoscaler', 'kube-system', {'spec': {'replicas': 0}})
    core.patch_namespaced_config_map(NAME, 'kube-system', _ladder(nodesToReplicas=[[1, 4]]))
    assert _replicas(apps) == 2
    assert lab.cpa.last_error == 'deployment/konnectivity-agent-autoscaler has no ready pod: nothing runs the autoscaler'
    apps.patch_namespaced_deployment_scale('konnectivity-agent-autoscaler', 'kube-system', {'spec': {'replicas': 1}})
    assert _replicas(apps) == 4


def test_oom_mark_in_process(lab_apis):
    lab, core, _unused = lab_apis
    pod = lab.tunnel_pods()[1]
    lab.mark_pod_oom_killed('kube-system', pod['metadata']['name'], times=3, system_oom=True)
    events = core.list_namespaced_event('default', field_selector='involvedObject.name=%s' % pod['spec']['nodeName']).items
    oom = [e for e in events if e.reason == 'OOMKilling']
    assert oom[-1].count == 3 and oom[-1].first_timestamp < oom[-1].last_timestamp
    assert [e.reason for e in events].count('SystemOOM') == 1
    status = core.read_namespaced_pod(pod['metadata']['name'], 'kube-system').status.container_statuses[0]
    assert status.last_state.terminated.finished_at <= oom[-1].last_timestamp


def test_crashlooping_agents_drop_ready_replicas_and_the_tunnel(make_lab, client_for, base_config):
    base_config['kube']['konnectivity']['oom'] = [{'pod': 0, 'times': 6, 'crashloop': True}]
    base_config['kube']['metrics'] = {}
    lab = make_lab(base_config)
    core, apps = client.CoreV1Api(client_for(lab)), client.AppsV1Api(client_for(lab))
    agent = apps.read_namespaced_deployment('konnectivity-agent', 'kube-system')
    assert (agent.status.replicas, agent.status.ready_replicas, agent.status.unavailable_replicas) == (2, 1, 1)
    looping = next(p for p in _pods(core) if p.status.container_statuses[0].restart_count)
    status = looping.status.container_statuses[0]
    assert status.state.waiting.reason == 'CrashLoopBackOff' and status.ready is False
    assert status.last_state.terminated.reason == 'OOMKilled'
    other = next(p for p in _pods(core) if p.metadata.name != looping.metadata.name)
    lab.mark_pod_oom_killed('kube-system', other.metadata.name, crashloop=True)
    assert apps.read_namespaced_deployment('konnectivity-agent', 'kube-system').status.ready_replicas is None
    with pytest.raises(ApiException) as info:
        core.read_namespaced_pod_log(other.metadata.name, 'kube-system')
    assert json.loads(info.value.body)['message'] == (
        'container "konnectivity-agent" in pod "%s" is waiting to start: CrashLoopBackOff' % other.metadata.name)
    coredns = core.list_namespaced_pod('kube-system', label_selector='k8s-app=kube-dns').items[0]
    with pytest.raises(ApiException) as info:
        core.read_namespaced_pod_log(coredns.metadata.name, 'kube-system')
    assert json.loads(info.value.body)['message'].endswith(': No agent available')
    lab.recover_pod('kube-system', other.metadata.name)
    assert apps.read_namespaced_deployment('konnectivity-agent', 'kube-system').status.ready_replicas == 1
    assert core.read_namespaced_pod_log(coredns.metadata.name, 'kube-system')
    usage = client.CustomObjectsApi(client_for(lab)).get_namespaced_custom_object('metrics.k8s.io', 'v1beta1', 'kube-system', 'pods',
                                                                                  other.metadata.name)
    assert usage['containers'][0]['usage']['memory'] == '60293Ki'  # 92 % of the 64Mi limit when metrics.pods does not say


def test_periodic_polls(make_lab, base_config):
    base_config['kube']['konnectivity']['autoscaler'] = {'poll_seconds': 0.1}
    lab = make_lab(base_config)
    polls = lab.cpa.polls
    lab.wait_for(lambda: lab.cpa.polls >= polls + 2, timeout=5)
