# -*- coding: utf-8 -*-
# Copyright (c) 2026 aks.tunnel contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Seed variants (legacy tunnels, missing ConfigMap), config errors, cert identities, faults, pods created via the API, concurrency."""

from __future__ import annotations

import copy
import json
import os
import threading

import pytest
import yaml
from kubernetes import client, config as kube_config
from kubernetes.client.rest import ApiException

from ansible_collections.aks.tunnel.tests.lab.kube import KubeEmulator, KubeLabError


def _small(**kube):
    return {'cluster': {'name': 'aks-lab', 'resource_group': 'rg-lab'}, 'node_pools': [{'name': 'nodepool1', 'count': 3}], 'kube': kube}


@pytest.mark.parametrize('tunnel, deployment, selector, containers, replicas', [
    ('tunnelfront', 'tunnelfront', 'component=tunnel', ['tunnel-front', 'tunnel-probe'], 1),
    ('tunnel-front', 'tunnelfront', 'component=tunnel', ['tunnel-front', 'tunnel-probe'], 1),
    ('aks-link', 'aks-link', 'app=aks-link', ['openvpn-client'], 2),
])
def test_legacy_tunnels(make_lab, client_for, tunnel, deployment, selector, containers, replicas):
    lab = make_lab(_small(tunnel=tunnel, random_seed=3))
    api_client = client_for(lab)
    core, apps = client.CoreV1Api(api_client), client.AppsV1Api(api_client)
    assert lab.seeded == {'tunnel': 'tunnelfront' if 'front' in tunnel else 'aks-link', 'tunnel_deployment': deployment}
    assert lab.cpa is None
    pods = core.list_namespaced_pod('kube-system', label_selector=selector).items
    assert len(pods) == replicas and [c.name for c in pods[0].spec.containers] == containers
    names = sorted(d.metadata.name for d in apps.list_namespaced_deployment('kube-system').items)
    assert names == sorted([deployment, 'coredns', 'metrics-server'])
    assert core.list_namespaced_config_map('kube-system').items == []
    assert core.list_namespaced_pod('kube-system', label_selector='app=konnectivity-agent').items == []
    assert len(lab.tunnel_nodes()) == replicas


def test_tunnel_from_topology_and_none(make_lab, client_for):
    config = _small(system_pods=False)
    config['cluster']['tunnel'] = 'none'
    lab = make_lab(config)
    core = client.CoreV1Api(client_for(lab))
    assert core.list_pod_for_all_namespaces().items == [] and lab.tunnel_pods() == []


def test_konnectivity_without_configmap_and_with_two_keys(make_lab, client_for):
    lab = make_lab(_small(konnectivity={'configmap': False, 'replicas': 3}))
    assert lab.deployment('konnectivity-agent')['spec']['replicas'] == 3
    assert lab.cpa.last_error == 'Error syncing configMap with apiserver: configmaps "konnectivity-agent-autoscaler" not found'
    lab = make_lab(_small(konnectivity={'configmap_data': {'ladder': '{"nodesToReplicas":[[1,5]]}', 'notes': 'x'}, 'replicas': 1,
                                        'configmap_labels': {}}))
    core = client.CoreV1Api(client_for(lab))
    configmap = core.read_namespaced_config_map('konnectivity-agent-autoscaler', 'kube-system')
    assert configmap.metadata.labels is None and set(configmap.data) == {'ladder', 'notes'}
    assert lab.deployment('konnectivity-agent')['spec']['replicas'] == 1
    assert 'expected only one entry' in lab.cpa.last_error


@pytest.mark.parametrize('kube, message', [
    ({'tunnel': 'pigeon'}, "tunnel 'pigeon' is unknown"),
    ({'nodes': {'cordoned': ['nodepool9-0']}}, "no node 'nodepool9-0'"),
    ({'konnectivity': {'oom': [{'pod': 5}]}}, 'oom: pod index 5 but konnectivity-agent has only 2 pods'),
    ({'events': [{'type': 'Boom', 'node': 'nodepool1-0'}]}, "events: type 'Boom' is unknown"),
    ({'konnectivity': {'configmap_data': {'ladder': 5}}}, 'configmap_data values must be strings'),
    ({'users': [{'name': 'x', 'role': 'root'}]}, 'kube.users entries need a name and role'),
    ({'kubelet': {'unreachable': {'nodepool1-0': 'sideways'}}}, "kubelet failure mode 'sideways' is unknown"),
])
def test_config_errors_say_what_to_fix(kube, message):
    with pytest.raises(KubeLabError) as info:
        KubeEmulator(_small(**kube))
    assert message in str(info.value)


def test_cert_identity_from_subject(make_lab, tmp_path):
    lab = make_lab()
    with open(lab.kubeconfigs['lab-admin'], encoding='utf-8') as handle:
        api_base = yaml.safe_load(handle)
    results = {}
    for cn, group in (('ops-admin', 'system:masters'), ('ops-viewer', 'viewers')):
        cert, key = lab.ca.issue_client_cert('extra-' + cn, cn, organization=group)
        cfg = copy.deepcopy(api_base)
        cfg['users'][0]['user'] = {'client-certificate': cert, 'client-key': key}
        path = tmp_path / cn
        path.write_text(yaml.safe_dump(cfg))
        api_client = kube_config.new_client_from_config(config_file=str(path))
        try:
            client.CoreV1Api(api_client).list_node()
            results[cn] = 'ok'
        except ApiException as exc:
            results[cn] = json.loads(exc.body)['message']
        finally:
            api_client.close()
    assert results == {'ops-admin': 'ok',
                       'ops-viewer': 'nodes is forbidden: User "ops-viewer" cannot list resource "nodes" in API group "" at the cluster scope'}


def test_fault_injection(make_lab, client_for):
    lab = make_lab()
    core = client.CoreV1Api(client_for(lab))
    lab.add_fault(r'^/api/v1/nodes$', method='GET', code=503, message='etcd is sulking', times=1)
    with pytest.raises(ApiException) as info:
        core.list_node()
    assert info.value.status == 503 and json.loads(info.value.body)['message'] == 'etcd is sulking'
    assert len(core.list_node().items) == 5
    lab.add_fault(r'/configmaps/', code=500)
    with pytest.raises(ApiException):
        core.read_namespaced_config_map('konnectivity-agent-autoscaler', 'kube-system')
    lab.clear_faults()
    assert core.read_namespaced_config_map('konnectivity-agent-autoscaler', 'kube-system').data


def test_pod_created_through_api_is_scheduled_and_started(make_lab, client_for):
    lab = make_lab()
    core = client.CoreV1Api(client_for(lab))
    created = core.create_namespaced_pod('default', {'metadata': {'generateName': 'netcheck-'},
                                                     'spec': {'containers': [{'name': 'probe', 'image': 'busybox:1.36'}],
                                                              'nodeName': lab.node_name('nodepool1-2')}})
    assert created.metadata.name.startswith('netcheck-') and len(created.metadata.name) == len('netcheck-') + 5
    pod = core.read_namespaced_pod(created.metadata.name, 'default')
    assert pod.spec.node_name == lab.node_name('nodepool1-2') and pod.status.phase == 'Running'
    assert core.read_namespaced_pod_log(created.metadata.name, 'default')
    core.delete_namespaced_pod(created.metadata.name, 'default')
    assert core.list_namespaced_pod('default').items == []  # no owner, no replacement
    with pytest.raises(ApiException) as info:
        core.create_namespaced_pod('default', {'metadata': {'name': 'bad'}, 'spec': {'containers': []}})
    assert info.value.status == 422


def test_concurrent_clients(make_lab, client_for):
    lab = make_lab()
    errors = []

    def worker(index):
        api_client = kube_config.new_client_from_config(config_file=lab.kubeconfigs['lab-admin' if index % 2 else 'lab-admin-cert'])
        core, apps = client.CoreV1Api(api_client), client.AppsV1Api(api_client)
        try:
            for step in range(15):
                assert len(core.list_node(limit=2).items) == 2
                core.patch_namespaced_config_map('konnectivity-agent-autoscaler', 'kube-system', {'metadata': {'annotations': {
                    'worker-%d' % index: str(step)}}})
                apps.read_namespaced_deployment('konnectivity-agent', 'kube-system')
                core.list_pod_for_all_namespaces(label_selector='app=konnectivity-agent')
        except Exception as exc:  # pylint: disable=broad-except
            errors.append(repr(exc))
        finally:
            api_client.close()
    threads = [threading.Thread(target=worker, args=(i,)) for i in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    annotations = lab.store.get('configmaps', 'kube-system', 'konnectivity-agent-autoscaler')['metadata']['annotations']
    assert annotations == {'worker-%d' % i: '14' for i in range(6)}
    assert os.path.exists(lab.ca_path)
