# -*- coding: utf-8 -*-
# Copyright (c) 2026 aks.tunnel contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Issue 18: with the Azure CLI login and no subscription given, the CLI's current subscription is used (as `az` does),
and the settings say where the subscription came from; messages name the playbook variables.

The azureProfile.json layout (UTF-8 with a byte order mark, `isDefault`, `environmentName`) is the one azure-cli 2.91
writes (tests/integration/clients_az/test_az_cli_subscription_lab.py reads a real one).
"""

from __future__ import annotations

import json

import pytest

from azure.core.exceptions import HttpResponseError
from azure.mgmt.core.exceptions import ARMErrorFormat

from ansible_collections.aks.tunnel.plugins.module_utils._azure import (
    AzureConfigError, cli_default_subscription, describe_azure_error, describe_subscription, node_resource_group_hint, resolve_settings,
)


def _sub(sub_id, default, cloud='AzureCloud', name=None):
    return {'id': sub_id, 'name': name or 'name-' + sub_id, 'isDefault': default, 'environmentName': cloud, 'tenantId': 'tenant-' + sub_id,
            'state': 'Enabled', 'user': {'name': 'someone@example.com', 'type': 'user'}}


def _config_dir(tmp_path, subscriptions, cloud=None):
    directory = tmp_path / 'azure'
    directory.mkdir()
    # az writes the profile with a byte order mark
    (directory / 'azureProfile.json').write_bytes(b'\xef\xbb\xbf' + json.dumps({'installationId': 'x', 'subscriptions': subscriptions}).encode())
    if cloud:
        (directory / 'config').write_text('[cloud]\nname = %s\n' % cloud)
    return str(directory)


@pytest.mark.parametrize('subscriptions, cloud, expected', [
    ([_sub('a', False), _sub('b', True)], None, 'b'),
    ([_sub('a', False)], None, None),
    ([], None, None),
    # one default per cloud: the active cloud's (az cloud set)
    ([_sub('a', True), _sub('lab', True, cloud='AksTunnelLab')], 'AksTunnelLab', 'lab'),
    ([_sub('a', True), _sub('lab', True, cloud='AksTunnelLab')], None, 'a'),
])
def test_cli_default_subscription(tmp_path, subscriptions, cloud, expected):
    found = cli_default_subscription({'AZURE_CONFIG_DIR': _config_dir(tmp_path, subscriptions, cloud)})
    assert (found or {}).get('id') == expected


def test_cli_default_subscription_without_profile(tmp_path):
    assert cli_default_subscription({'AZURE_CONFIG_DIR': str(tmp_path / 'absent')}) is None
    (tmp_path / 'azureProfile.json').write_text('not json')
    assert cli_default_subscription({'AZURE_CONFIG_DIR': str(tmp_path)}) is None


@pytest.mark.parametrize('params, env, source, sub', [
    # nothing given: the Azure CLI login and its current subscription
    ({}, {}, "the Azure CLI's current subscription", 'cli-sub'),
    ({'auth_source': 'cli'}, {}, "the Azure CLI's current subscription", 'cli-sub'),
    # an explicit subscription or AZURE_SUBSCRIPTION_ID wins over the CLI's
    ({'subscription_id': 'given'}, {}, 'option subscription_id', 'given'),
    ({'auth_source': 'cli'}, {'AZURE_SUBSCRIPTION_ID': 'env-sub'}, 'environment variable AZURE_SUBSCRIPTION_ID', 'env-sub'),
])
def test_cli_login_uses_the_cli_subscription(tmp_path, params, env, source, sub):
    environ = dict(env, AZURE_CONFIG_DIR=_config_dir(tmp_path, [_sub('other', False), _sub('cli-sub', True, name='Lab subscription')]))
    settings = resolve_settings(params, environ, str(tmp_path / 'no-credentials'))
    assert settings['kind'] == 'cli'
    assert settings['subscription_id'] == sub
    assert settings['subscription_source'].startswith(source)
    described = describe_subscription(settings)
    assert described['id'] == sub and described['auth'] == 'Azure CLI login'
    if sub == 'cli-sub':
        assert described['name'] == 'Lab subscription' and 'azureProfile.json' in described['source']


def test_service_principal_does_not_borrow_the_cli_subscription(tmp_path):
    environ = {'AZURE_CONFIG_DIR': _config_dir(tmp_path, [_sub('cli-sub', True)])}
    with pytest.raises(AzureConfigError) as info:
        resolve_settings({'client_id': 'i', 'secret': 's', 'tenant': 't'}, environ, str(tmp_path / 'no-credentials'))
    assert 'aks_tunnel_subscription_id' in str(info.value) and 'az account set' not in str(info.value)


def test_cli_login_without_a_subscription_says_how_to_set_one(tmp_path):
    with pytest.raises(AzureConfigError) as info:
        resolve_settings({'auth_source': 'cli'}, {'AZURE_CONFIG_DIR': str(tmp_path)}, str(tmp_path / 'no-credentials'))
    text = str(info.value)
    for fragment in ('playbook variable aks_tunnel_subscription_id', 'AZURE_SUBSCRIPTION_ID', 'az account set', 'az login'):
        assert fragment in text


def test_incomplete_service_principal_names_the_playbook_variable(tmp_path):
    with pytest.raises(AzureConfigError) as info:
        resolve_settings({'client_id': 'i', 'subscription_id': 's'}, {}, str(tmp_path / 'no-credentials'))
    assert 'aks_tunnel_azure_auth' in str(info.value) and 'secret, tenant' in str(info.value)


class _Response:
    headers = {}
    content_type = 'application/json'
    request = None
    reason = 'Not Found'
    status_code = 404

    def __init__(self, body):
        self._body = json.dumps(body)

    def text(self, encoding=None):
        return self._body

    def body(self):
        return self._body.encode()


@pytest.mark.parametrize('group, hinted', [('MC_rg-aks-lab_aks-lab_eastus', True), ('mc_rg_x_westeurope', True), ('rg-aks-lab', False), ('', False)])
def test_node_resource_group_gets_a_hint(group, hinted):
    exc = HttpResponseError(response=_Response({'error': {'code': 'ResourceNotFound', 'message': 'The Resource was not found.'}}),
                            error_format=ARMErrorFormat)
    text = describe_azure_error(exc, 'read the cluster %s/aks-lab' % group, hint_404=node_resource_group_hint(group))
    assert ('is the node resource group' in text) is hinted
    assert ('az aks list -o table' in text) is hinted
    assert ('aks_tunnel_resource_group' in text) is hinted
    if not hinted:
        assert 'Check the resource group' in text and 'aks_tunnel_subscription_id' in text
