# -*- coding: utf-8 -*-
# Copyright (c) 2026 aks.tunnel contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""ConfigMaps: CRUD, the three patch types, optimistic concurrency, error Status shapes."""

from __future__ import annotations

import json

import pytest
from kubernetes import client
from kubernetes.client.rest import ApiException

NAME = 'konnectivity-agent-autoscaler'


@pytest.fixture(params=['lab-admin', 'lab-admin-cert'])
def core(make_lab, client_for, request):
    lab = make_lab()
    return client.CoreV1Api(client_for(lab, request.param))


def _error(info):
    return info.value.status, json.loads(info.value.body)


def test_create_get_list_delete(core):
    created = core.create_namespaced_config_map('default', {'metadata': {'name': 'notes', 'labels': {'team': 'net'}}, 'data': {'a': '1'}})
    assert created.metadata.uid and created.metadata.resource_version and created.metadata.namespace == 'default'
    assert core.read_namespaced_config_map('notes', 'default').data == {'a': '1'}
    assert [c.metadata.name for c in core.list_namespaced_config_map('default', label_selector='team=net').items] == ['notes']
    assert [c.metadata.name for c in core.list_config_map_for_all_namespaces().items] == ['notes', NAME]
    with pytest.raises(ApiException) as info:
        core.create_namespaced_config_map('default', {'metadata': {'name': 'notes'}, 'data': {}})
    assert _error(info) == (409, {'kind': 'Status', 'apiVersion': 'v1', 'metadata': {}, 'status': 'Failure',
                                  'message': 'configmaps "notes" already exists', 'reason': 'AlreadyExists',
                                  'details': {'name': 'notes', 'kind': 'configmaps'}, 'code': 409})
    status = core.delete_namespaced_config_map('notes', 'default')
    # delete returns a Status (the v37 client hands it back as a dict)
    assert status['status'] == 'Success' and status['details']['name'] == 'notes'
    with pytest.raises(ApiException) as info:
        core.read_namespaced_config_map('notes', 'default')
    assert _error(info) == (404, {'kind': 'Status', 'apiVersion': 'v1', 'metadata': {}, 'status': 'Failure',
                                  'message': 'configmaps "notes" not found', 'reason': 'NotFound',
                                  'details': {'name': 'notes', 'kind': 'configmaps'}, 'code': 404})


def test_put_with_current_resource_version_then_stale_is_409(core):
    current = core.read_namespaced_config_map(NAME, 'kube-system')
    stale_rv = current.metadata.resource_version
    current.data = {'ladder': '{"nodesToReplicas":[[1,3]]}'}
    updated = core.replace_namespaced_config_map(NAME, 'kube-system', current)
    assert int(updated.metadata.resource_version) > int(stale_rv)
    assert updated.metadata.uid == current.metadata.uid
    current.data = {'ladder': '{"nodesToReplicas":[[1,4]]}'}
    current.metadata.resource_version = stale_rv
    with pytest.raises(ApiException) as info:
        core.replace_namespaced_config_map(NAME, 'kube-system', current)
    assert _error(info) == (409, {
        'kind': 'Status', 'apiVersion': 'v1', 'metadata': {}, 'status': 'Failure',
        'message': 'Operation cannot be fulfilled on configmaps "%s": the object has been modified; please apply your changes to the latest '
                   'version and try again' % NAME,
        'reason': 'Conflict', 'details': {'name': NAME, 'kind': 'configmaps'}, 'code': 409})
    assert core.read_namespaced_config_map(NAME, 'kube-system').data == {'ladder': '{"nodesToReplicas":[[1,3]]}'}


def test_put_without_resource_version_is_unconditional(core):
    updated = core.replace_namespaced_config_map(NAME, 'kube-system', {'metadata': {'name': NAME}, 'data': {'ladder': '{}'}})
    assert updated.data == {'ladder': '{}'}
    assert updated.metadata.labels is None  # PUT replaces the whole object


@pytest.mark.parametrize('content_type', ['application/merge-patch+json', 'application/strategic-merge-patch+json'])
def test_merge_and_strategic_patch_on_data(core, content_type):
    core.patch_namespaced_config_map(NAME, 'kube-system', {'data': {'extra': 'x', 'other': 'y'}}, _content_type=content_type)
    patched = core.patch_namespaced_config_map(NAME, 'kube-system', {'data': {'extra': None, 'ladder': '{"nodesToReplicas":[[1,5]]}'}},
                                               _content_type=content_type)
    assert patched.data == {'ladder': '{"nodesToReplicas":[[1,5]]}', 'other': 'y'}
    assert patched.metadata.labels == {'addonmanager.kubernetes.io/mode': 'EnsureExists'}


def test_default_dict_patch_is_strategic_and_list_patch_is_json_patch(make_lab, client_for):
    lab = make_lab()
    core = client.CoreV1Api(client_for(lab))
    core.patch_namespaced_config_map(NAME, 'kube-system', {'data': {'note': 'n'}})
    patched = core.patch_namespaced_config_map(NAME, 'kube-system', [
        {'op': 'test', 'path': '/data/note', 'value': 'n'},
        {'op': 'replace', 'path': '/data/ladder', 'value': '{"nodesToReplicas":[[1,6]]}'},
        {'op': 'remove', 'path': '/data/note'},
        {'op': 'add', 'path': '/metadata/annotations', 'value': {'a~/b': 'c'}},
    ])
    assert patched.data == {'ladder': '{"nodesToReplicas":[[1,6]]}'}
    assert patched.metadata.annotations == {'a~/b': 'c'}
    assert [r['content_type'] for r in lab.requests if r['method'] == 'PATCH'] == [
        'application/strategic-merge-patch+json', 'application/json-patch+json']


def test_json_patch_failed_test_op_is_422_and_changes_nothing(core):
    before = core.read_namespaced_config_map(NAME, 'kube-system')
    with pytest.raises(ApiException) as info:
        core.patch_namespaced_config_map(NAME, 'kube-system', [{'op': 'test', 'path': '/data/ladder', 'value': 'nope'},
                                                               {'op': 'remove', 'path': '/data/ladder'}])
    assert info.value.status == 422
    after = core.read_namespaced_config_map(NAME, 'kube-system')
    assert after.metadata.resource_version == before.metadata.resource_version


def test_patch_with_stale_resource_version_is_409(core):
    current = core.read_namespaced_config_map(NAME, 'kube-system')
    core.patch_namespaced_config_map(NAME, 'kube-system', {'data': {'ladder': '{"nodesToReplicas":[[1,2]]}'}})
    with pytest.raises(ApiException) as info:
        core.patch_namespaced_config_map(NAME, 'kube-system', {'metadata': {'resourceVersion': current.metadata.resource_version},
                                                               'data': {'ladder': '{}'}}, _content_type='application/merge-patch+json')
    status, body = _error(info)
    assert status == 409 and body['reason'] == 'Conflict'
    # With the current resourceVersion the same patch goes through.
    fresh = core.read_namespaced_config_map(NAME, 'kube-system').metadata.resource_version
    patched = core.patch_namespaced_config_map(NAME, 'kube-system', {'metadata': {'resourceVersion': fresh}, 'data': {'ladder': '{}'}},
                                               _content_type='application/merge-patch+json')
    assert patched.data == {'ladder': '{}'}


def test_non_string_data_is_400_and_apply_patch_is_415(core):
    with pytest.raises(ApiException) as info:
        core.patch_namespaced_config_map(NAME, 'kube-system', {'data': {'ladder': 5}}, _content_type='application/merge-patch+json')
    assert info.value.status == 400 and json.loads(info.value.body)['reason'] == 'BadRequest'
    with pytest.raises(ApiException) as info:
        core.patch_namespaced_config_map(NAME, 'kube-system', {'data': {'ladder': '{}'}}, _content_type='application/apply-patch+yaml')
    assert info.value.status == 415


def test_missing_namespace_is_404(core):
    with pytest.raises(ApiException) as info:
        core.create_namespaced_config_map('nope', {'metadata': {'name': 'x'}, 'data': {}})
    assert _error(info)[1]['message'] == 'namespaces "nope" not found'
