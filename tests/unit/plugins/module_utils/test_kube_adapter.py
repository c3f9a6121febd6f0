# -*- coding: utf-8 -*-
# Copyright (c) 2026 aks.tunnel contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import json

import pytest

from kubernetes.client.exceptions import ApiException

from ansible_collections.aks.tunnel.plugins.module_utils._kube import (
    KubeConfigError, build_api_client, describe_kube_error, request_timeout, resolve_kube_settings,
)

KUBECONFIG = '''apiVersion: v1
kind: Config
clusters:
- name: lab
  cluster: {server: "https://127.0.0.1:6443", insecure-skip-tls-verify: false}
- name: other
  cluster: {server: "https://10.0.0.1:443"}
users:
- name: admin
  user: {token: "tok-admin"}
contexts:
- name: lab
  context: {cluster: lab, user: admin}
- name: other
  context: {cluster: other, user: admin}
current-context: lab
'''


@pytest.fixture
def kubeconfig(tmp_path):
    path = tmp_path / 'kubeconfig'
    path.write_text(KUBECONFIG)
    return str(path)


@pytest.mark.parametrize('params, environ, expected', [
    ({'kubeconfig': '/k'}, {'K8S_AUTH_KUBECONFIG': '/env'}, {'kubeconfig': '/k'}),
    ({}, {'K8S_AUTH_KUBECONFIG': '/env', 'K8S_AUTH_CONTEXT': 'c'}, {'kubeconfig': '/env', 'context': 'c'}),
    ({}, {'K8S_AUTH_VERIFY_SSL': 'no'}, {'validate_certs': False}),
    ({}, {'K8S_AUTH_SSL_CA_CERT': '/ca'}, {'ca_cert': '/ca'}),
    ({'validate_certs': True}, {'K8S_AUTH_VERIFY_SSL': 'no'}, {'validate_certs': True}),
])
def test_resolve_kube_settings(params, environ, expected):
    settings = resolve_kube_settings(params, environ)
    for key, value in expected.items():
        assert settings[key] == value


def test_kubeconfig_current_context(kubeconfig):
    client = build_api_client({'kubeconfig': kubeconfig}, environ={}, timeout=42)
    assert client.configuration.host == 'https://127.0.0.1:6443'
    assert client.configuration.api_key['BearerToken'] == 'Bearer tok-admin'
    assert request_timeout(client) == (10, 42)


def test_context_and_overrides(kubeconfig):
    client = build_api_client({'kubeconfig': kubeconfig, 'context': 'other', 'api_key': 'tok2', 'ca_cert': '/ca.pem',
                               'validate_certs': False}, environ={})
    assert client.configuration.host == 'https://10.0.0.1:443'
    assert client.configuration.api_key['BearerToken'] == 'Bearer tok2'
    assert client.configuration.ssl_ca_cert == '/ca.pem'
    assert client.configuration.verify_ssl is False


def test_host_and_token_need_no_kubeconfig():
    client = build_api_client({'host': 'https://api.example:443', 'api_key': 't'}, environ={})
    assert client.configuration.host == 'https://api.example:443'


@pytest.mark.parametrize('params, fragment', [
    ({'kubeconfig': '/nonexistent/kubeconfig'}, 'does not exist'),
    ({'context': 'missing'}, 'context missing'),
])
def test_kube_config_errors(params, fragment, kubeconfig):
    if 'context' in params:
        params = dict(params, kubeconfig=kubeconfig)
    with pytest.raises(KubeConfigError) as info:
        build_api_client(params, environ={})
    assert fragment in str(info.value)


def _api_exception(status, message, reason):
    exc = ApiException(status=status, reason='r')
    exc.body = json.dumps({'kind': 'Status', 'status': 'Failure', 'message': message, 'reason': reason, 'code': status})
    return exc


@pytest.mark.parametrize('exc, expected', [
    (_api_exception(403, 'configmaps "x" is forbidden: User "ro" cannot update resource "configmaps"', 'Forbidden'),
     ['Failed to update ladder (HTTP 403): Forbidden: configmaps "x" is forbidden', 'Kubernetes RBAC']),
    (_api_exception(409, 'Operation cannot be fulfilled on configmaps "x": the object has been modified', 'Conflict'),
     ['(HTTP 409): Conflict:', 'read it again']),
    (ConnectionRefusedError('refused'), ['Failed to update ladder: refused', 'reachable']),
])
def test_describe_kube_error(exc, expected):
    text = describe_kube_error(exc, 'update ladder')
    for fragment in expected:
        assert fragment in text
