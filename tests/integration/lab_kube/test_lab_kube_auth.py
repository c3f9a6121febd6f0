# -*- coding: utf-8 -*-
# Copyright (c) 2026 aks.tunnel contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Authentication (token, client certificate) and authorization (admin, read-only, no access) in Status shapes."""

from __future__ import annotations

import json
import ssl
import urllib.error
import urllib.request

import pytest
import yaml
from kubernetes import client, config as kube_config
from kubernetes.client.rest import ApiException


def _raw(lab, path, token=None, method='GET'):
    context = ssl.create_default_context(cafile=lab.ca_path)
    request = urllib.request.Request(lab.url + path, method=method)
    if token is not None:
        request.add_header('Authorization', 'Bearer ' + token)
    try:
        with urllib.request.urlopen(request, context=context, timeout=5) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


@pytest.mark.parametrize('user', ['lab-admin', 'lab-admin-cert'])
def test_admin_users_can_write(make_lab, client_for, user):
    lab = make_lab()
    core = client.CoreV1Api(client_for(lab, user))
    patched = core.patch_namespaced_config_map('konnectivity-agent-autoscaler', 'kube-system', {'metadata': {'annotations': {'who': user}}})
    assert patched.metadata.annotations == {'who': user}


@pytest.mark.parametrize('user, name', [('lab-reader', 'lab-reader'), ('lab-reader-cert', 'lab-reader-cert')])
def test_readonly_users_read_but_get_403_status_on_writes(kube_lab, client_for, user, name):
    api_client = client_for(kube_lab, user)
    core, apps = client.CoreV1Api(api_client), client.AppsV1Api(api_client)
    assert core.read_namespaced_config_map('konnectivity-agent-autoscaler', 'kube-system').data
    with pytest.raises(ApiException) as info:
        core.replace_namespaced_config_map('konnectivity-agent-autoscaler', 'kube-system',
                                           {'metadata': {'name': 'konnectivity-agent-autoscaler'}, 'data': {'ladder': '{}'}})
    assert info.value.status == 403
    assert json.loads(info.value.body) == {
        'kind': 'Status', 'apiVersion': 'v1', 'metadata': {}, 'status': 'Failure',
        'message': 'configmaps "konnectivity-agent-autoscaler" is forbidden: User "%s" cannot update resource "configmaps" '
                   'in API group "" in the namespace "kube-system"' % name,
        'reason': 'Forbidden', 'details': {'name': 'konnectivity-agent-autoscaler', 'kind': 'configmaps'}, 'code': 403}
    with pytest.raises(ApiException) as info:
        apps.patch_namespaced_deployment_scale('konnectivity-agent', 'kube-system', {'spec': {'replicas': 5}})
    body = json.loads(info.value.body)
    assert body['message'] == ('deployments.apps "konnectivity-agent" is forbidden: User "%s" cannot patch resource "deployments/scale" '
                               'in API group "apps" in the namespace "kube-system"' % name)
    assert body['details'] == {'name': 'konnectivity-agent', 'group': 'apps', 'kind': 'deployments'}
    with pytest.raises(ApiException) as info:
        core.delete_namespaced_pod(core.list_namespaced_pod('kube-system').items[0].metadata.name, 'kube-system')
    assert info.value.status == 403 and json.loads(info.value.body)['reason'] == 'Forbidden'
    with pytest.raises(ApiException) as info:
        core.patch_node(kube_lab.node_name('nodepool1-0'), {'spec': {'unschedulable': True}})
    assert json.loads(info.value.body)['message'] == (
        'nodes "%s" is forbidden: User "%s" cannot patch resource "nodes" in API group "" at the cluster scope'
        % (kube_lab.node_name('nodepool1-0'), name))


def test_user_without_rbac_gets_403_on_reads(kube_lab, client_for):
    core = client.CoreV1Api(client_for(kube_lab, 'lab-noaccess'))
    with pytest.raises(ApiException) as info:
        core.list_namespaced_pod('kube-system')
    assert info.value.status == 403
    assert json.loads(info.value.body)['message'] == (
        'pods is forbidden: User "lab-noaccess" cannot list resource "pods" in API group "" in the namespace "kube-system"')


@pytest.mark.parametrize('token', [None, 'not-a-valid-token'])
def test_missing_or_bad_token_is_401_status(kube_lab, token):
    status, body = _raw(kube_lab, '/api/v1/nodes', token=token)
    assert status == 401
    assert json.loads(body) == {'kind': 'Status', 'apiVersion': 'v1', 'metadata': {}, 'status': 'Failure', 'message': 'Unauthorized',
                                'reason': 'Unauthorized', 'code': 401}


def test_bad_token_through_client_is_401(kube_lab, tmp_path):
    with open(kube_lab.kubeconfigs['lab-admin'], encoding='utf-8') as handle:
        config = yaml.safe_load(handle)
    config['users'][0]['user']['token'] = 'wrong'
    path = tmp_path / 'bad-kubeconfig'
    path.write_text(yaml.safe_dump(config))
    api_client = kube_config.new_client_from_config(config_file=str(path))
    try:
        with pytest.raises(ApiException) as info:
            client.CoreV1Api(api_client).list_node()
        assert info.value.status == 401 and json.loads(info.value.body)['reason'] == 'Unauthorized'
    finally:
        api_client.close()


def test_version_and_health_are_public(kube_lab):
    status, body = _raw(kube_lab, '/version')
    assert status == 200 and json.loads(body)['gitVersion'] == 'v1.31.2'
    assert _raw(kube_lab, '/healthz') == (200, b'ok')


def test_kubeconfig_shapes(kube_lab):
    with open(kube_lab.kubeconfigs['lab-admin'], encoding='utf-8') as handle:
        token_config = yaml.safe_load(handle)
    with open(kube_lab.kubeconfigs['lab-admin-cert'], encoding='utf-8') as handle:
        cert_config = yaml.safe_load(handle)
    assert token_config['clusters'][0]['cluster'] == {'server': kube_lab.url, 'certificate-authority': kube_lab.ca_path}
    assert set(token_config['users'][0]['user']) == {'token'}
    assert set(cert_config['users'][0]['user']) == {'client-certificate', 'client-key'}
    assert token_config['current-context'] == 'aks-lab'
