# -*- coding: utf-8 -*-
# Copyright (c) 2026 aks.tunnel contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import json

import pytest

from ansible.module_utils.testing import patch_module_args
from azure.core.exceptions import ServiceRequestError
from kubernetes.client.exceptions import ApiException

from ansible_collections.aks.tunnel.plugins.module_utils._module import AksTunnelModule


def _run(capsys, args, body, **module_kwargs):
    with patch_module_args(args):
        with pytest.raises(SystemExit):
            module = AksTunnelModule(dict(name=dict(type='str')), **module_kwargs)
            body(module)
    return json.loads(capsys.readouterr().out)


def test_auth_options_are_merged_and_secret_is_hidden(capsys, monkeypatch):
    monkeypatch.delenv('AZURE_SUBSCRIPTION_ID', raising=False)
    result = _run(capsys, {'name': 'x', 'client_id': 'id', 'secret': 'hunter2-secret', 'tenant': 't'},
                  lambda m: m.azure, azure=True, kube=True)
    assert result['failed'] is True
    assert result['msg'].startswith('Azure authentication settings: subscription_id is required')
    assert 'hunter2-secret' not in json.dumps(result)


def test_kube_settings_error_is_a_clean_failure(capsys, tmp_path):
    result = _run(capsys, {'kubeconfig': str(tmp_path / 'missing')}, lambda m: m.kube, kube=True)
    assert result['failed'] is True
    assert 'does not exist' in result['msg']


@pytest.mark.parametrize('exc, fragments', [
    (ServiceRequestError('connection refused'), ['Failed to read the cluster: connection refused', 'could not be reached']),
    (ApiException(status=403, reason='Forbidden'), ['Failed to read the cluster (HTTP 403)', 'RBAC']),
    (ValueError('bad value'), ['Failed to read the cluster: bad value']),
])
def test_api_errors_become_fail_json(capsys, exc, fragments):
    def body(module):
        with module.api_errors('read the cluster', partial=[1]):
            raise exc
    result = _run(capsys, {}, body, azure=True, kube=True)
    assert result['failed'] is True
    assert result['partial'] == [1]
    for fragment in fragments:
        assert fragment in result['msg']


def test_unexpected_exceptions_are_not_swallowed():
    with patch_module_args({}):
        module = AksTunnelModule({})
        with pytest.raises(KeyError):
            with module.api_errors('do things'):
                raise KeyError('bug')
