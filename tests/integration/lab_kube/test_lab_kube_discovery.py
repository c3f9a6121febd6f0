# -*- coding: utf-8 -*-
# Copyright (c) 2026 aks.tunnel contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Discovery: /version, /api, /apis, resource lists, and the dynamic client (what kubernetes.core uses)."""

from __future__ import annotations

import json

import pytest
from kubernetes import client, dynamic
from kubernetes.client.rest import ApiException


def test_version_and_api_versions(kube_lab, client_for):
    api_client = client_for(kube_lab)
    version = client.VersionApi(api_client).get_code()
    assert (version.major, version.minor, version.git_version, version.platform) == ('1', '31', 'v1.31.2', 'linux/amd64')
    versions = client.CoreApi(api_client).get_api_versions()
    assert versions.versions == ['v1']
    groups = client.ApisApi(api_client).get_api_versions()
    assert [g.name for g in groups.groups] == ['apps', 'authorization.k8s.io', 'events.k8s.io', 'metrics.k8s.io']
    assert groups.groups[3].preferred_version.group_version == 'metrics.k8s.io/v1beta1'


def test_resource_lists(kube_lab, client_for):
    api_client = client_for(kube_lab)
    core = client.CoreV1Api(api_client).get_api_resources()
    names = {r.name: r for r in core.resources}
    assert {'nodes', 'pods', 'configmaps', 'events', 'namespaces'} <= set(names)
    assert names['nodes'].namespaced is False and names['pods'].namespaced is True and names['configmaps'].kind == 'ConfigMap'
    apps = client.AppsV1Api(api_client).get_api_resources()
    scale = next(r for r in apps.resources if r.name == 'deployments/scale')
    assert (scale.group, scale.version, scale.kind) == ('autoscaling', 'v1', 'Scale')
    events = client.EventsV1Api(api_client).get_api_resources()
    assert [r.name for r in events.resources] == ['events']


def test_unknown_paths_are_404_status(kube_lab, client_for):
    api_client = client_for(kube_lab)
    with pytest.raises(ApiException) as info:
        client.CustomObjectsApi(api_client).list_cluster_custom_object('example.com', 'v1', 'widgets')
    assert info.value.status == 404 and json.loads(info.value.body)['reason'] == 'NotFound'


def test_dynamic_client_discovers_and_reads(kube_lab, client_for, tmp_path):
    dyn = dynamic.DynamicClient(client_for(kube_lab), cache_file=str(tmp_path / 'discovery.json'))
    nodes = dyn.resources.get(api_version='v1', kind='Node')
    assert len(nodes.get().items) == 5
    configmaps = dyn.resources.get(api_version='v1', kind='ConfigMap')
    configmap = configmaps.get(name='konnectivity-agent-autoscaler', namespace='kube-system')
    assert 'nodesToReplicas' in configmap.data.ladder
    deployments = dyn.resources.get(api_version='apps/v1', kind='Deployment')
    agent = deployments.get(name='konnectivity-agent', namespace='kube-system')
    assert agent.spec.replicas == 2
    metrics = dyn.resources.get(api_version='metrics.k8s.io/v1beta1', kind='NodeMetrics')
    assert len(metrics.get().items) == 5


def test_dynamic_client_patch(make_lab, client_for, tmp_path):
    lab = make_lab()
    dyn = dynamic.DynamicClient(client_for(lab), cache_file=str(tmp_path / 'discovery.json'))
    configmaps = dyn.resources.get(api_version='v1', kind='ConfigMap')
    patched = configmaps.patch(name='konnectivity-agent-autoscaler', namespace='kube-system',
                               body={'data': {'ladder': '{"nodesToReplicas":[[1,3]]}'}}, content_type='application/merge-patch+json')
    assert patched.data.ladder == '{"nodesToReplicas":[[1,3]]}'
    assert lab.deployment('konnectivity-agent')['spec']['replicas'] == 3


def test_watch_is_refused_clearly(kube_lab, client_for):
    core = client.CoreV1Api(client_for(kube_lab))
    with pytest.raises(ApiException) as info:
        core.list_node(watch=True, _preload_content=False, timeout_seconds=1)
    assert info.value.status == 405
