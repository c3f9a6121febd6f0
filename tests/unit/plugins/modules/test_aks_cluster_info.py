# -*- coding: utf-8 -*-
# Copyright (c) 2026 aks.tunnel contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import json

import pytest

from ansible.module_utils.testing import patch_module_args
from azure.core.exceptions import ResourceNotFoundError

from ansible_collections.aks.tunnel.plugins.module_utils import _cluster_model
from ansible_collections.aks.tunnel.plugins.module_utils._module import AksTunnelModule
from ansible_collections.aks.tunnel.plugins.modules import aks_cluster_info

AUTH = {'subscription_id': 's', 'client_id': 'c', 'secret': 'unit-test-secret', 'tenant': 't'}


def run(monkeypatch, capsys, args, build, kube=(object(), None)):
    calls = []

    def fake_build(clients, rg, name, **kwargs):
        calls.append((rg, name, sorted(kwargs)))
        return build()

    monkeypatch.setattr(AksTunnelModule, 'azure', property(lambda self: object()))
    monkeypatch.setattr(AksTunnelModule, 'kube', property(lambda self: object()))
    monkeypatch.setattr(AksTunnelModule, 'kube_or_reason', lambda self: kube)
    monkeypatch.setattr(AksTunnelModule, 'kube_timeout', property(lambda self: (1, 1)))
    monkeypatch.setattr(_cluster_model, 'build_model', fake_build)
    with patch_module_args(dict(AUTH, **args)):
        with pytest.raises(SystemExit):
            aks_cluster_info.main()
    return json.loads(capsys.readouterr().out), calls


def test_returns_the_model_without_raw_data(monkeypatch, capsys):
    model = {'cluster': {'name': 'aks'}, 'nodes': [{'name': 'n0'}], 'tunnel': {'component': 'konnectivity'}, '_azure': {'raw': 1}}
    result, calls = run(monkeypatch, capsys, {'resource_group': 'rg', 'name': 'aks'}, lambda: dict(model))
    assert (result['changed'], result['cluster'], result['nodes'], result['tunnel']) == \
        (False, {'name': 'aks'}, [{'name': 'n0'}], {'component': 'konnectivity'})
    assert '_azure' not in result
    assert calls == [('rg', 'aks', ['kube_client', 'list_all', 'request_timeout'])]


def test_without_kubernetes_access_the_model_comes_from_azure_alone(monkeypatch, capsys):
    """issue 16: no kubeconfig and no credential from ARM - the Azure-side model, and why Kubernetes was not read."""
    model = {'cluster': {'name': 'aks'}, 'nodes': [{'name': 'n0'}], 'tunnel': {'component': None, 'egress_reason': 'x'}, 'kubernetes_read': False}
    result, calls = run(monkeypatch, capsys, {'resource_group': 'rg', 'name': 'aks'}, lambda: dict(model, tunnel=dict(model['tunnel'])),
                        kube=(None, 'Kubernetes authentication settings: no kubeconfig'))
    assert result['failed'] is False if 'failed' in result else True
    assert result['kubernetes_read'] is False and result['kubernetes_error'] == 'Kubernetes authentication settings: no kubeconfig'
    assert result['tunnel']['egress_reason'] == 'Kubernetes was not read: Kubernetes authentication settings: no kubeconfig'
    assert calls == [('rg', 'aks', [])]


def test_missing_cluster_is_a_clean_failure(monkeypatch, capsys):
    def missing():
        raise ResourceNotFoundError("The Resource 'Microsoft.ContainerService/managedClusters/nope' was not found.")
    result, _calls = run(monkeypatch, capsys, {'resource_group': 'rg', 'name': 'nope'}, missing)
    assert result['failed'] is True and result['msg'].startswith('Failed to read the cluster rg/nope')
    assert 'was not found' in result['msg']


def test_required_options(monkeypatch, capsys):
    result, calls = run(monkeypatch, capsys, {'resource_group': 'rg'}, dict)
    assert result['failed'] is True and 'missing required arguments: name' in result['msg'] and calls == []
