# -*- coding: utf-8 -*-
# Copyright (c) 2026 aks.tunnel contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import json

import pytest

from azure.core.exceptions import ClientAuthenticationError, HttpResponseError, ServiceRequestError
from azure.mgmt.core.exceptions import ARMErrorFormat

from ansible_collections.aks.tunnel.plugins.module_utils._azure import (
    AzureConfigError, describe_azure_error, resolve_cloud, resolve_settings, transport_kwargs,
)

SP_ENV = {'AZURE_CLIENT_ID': 'env-id', 'AZURE_SECRET': 'env-secret', 'AZURE_TENANT': 'env-tenant', 'AZURE_SUBSCRIPTION_ID': 'env-sub'}


@pytest.fixture
def credentials_file(tmp_path):
    path = tmp_path / 'credentials'
    path.write_text('[default]\nsubscription_id=file-sub\nclient_id=file-id\nsecret=file-secret\ntenant=file-tenant\n'
                    '[lab]\nsubscription_id=lab-sub\nclient_id=lab-id\nsecret=lab-secret\ntenant=lab-tenant\n')
    return str(path)


@pytest.mark.parametrize('params, environ, expected', [
    # explicit parameters win in auto mode
    ({'client_id': 'p-id', 'secret': 'p-secret', 'tenant': 'p-tenant', 'subscription_id': 'p-sub'}, SP_ENV,
     {'kind': 'service_principal', 'client_id': 'p-id', 'secret': 'p-secret', 'tenant': 'p-tenant', 'subscription_id': 'p-sub',
      'source': 'module parameters'}),
    # a missing field of explicit credentials falls back to its environment variable
    ({'client_id': 'p-id', 'tenant': 'p-tenant'}, SP_ENV,
     {'kind': 'service_principal', 'client_id': 'p-id', 'secret': 'env-secret', 'subscription_id': 'env-sub'}),
    # environment variables, azcollection spelling
    ({}, SP_ENV, {'kind': 'service_principal', 'client_id': 'env-id', 'secret': 'env-secret', 'tenant': 'env-tenant',
                  'subscription_id': 'env-sub', 'source': 'environment variables'}),
    # azure-identity spelling is accepted too
    ({}, {'AZURE_CLIENT_ID': 'i', 'AZURE_CLIENT_SECRET': 's', 'AZURE_TENANT_ID': 't', 'AZURE_SUBSCRIPTION_ID': 'sub'},
     {'kind': 'service_principal', 'secret': 's', 'tenant': 't'}),
    # no credentials anywhere but the file: its [default] profile
    ({}, {}, {'kind': 'service_principal', 'client_id': 'file-id', 'subscription_id': 'file-sub',
              'source': 'credentials file profile default'}),
    # a profile parameter selects that section; an explicit subscription still wins
    ({'profile': 'lab', 'subscription_id': 'override'}, SP_ENV,
     {'client_id': 'lab-id', 'subscription_id': 'override', 'source': 'credentials file profile lab'}),
    # auth_source=env ignores the file
    ({'auth_source': 'env'}, SP_ENV, {'client_id': 'env-id'}),
    # msi and cli only need a subscription
    ({'auth_source': 'msi', 'subscription_id': 's'}, {}, {'kind': 'msi', 'client_id': None}),
    ({'auth_source': 'msi', 'client_id': 'uami', 'subscription_id': 's'}, {}, {'kind': 'msi', 'client_id': 'uami'}),
    ({'auth_source': 'cli', 'subscription_id': 's'}, SP_ENV, {'kind': 'cli', 'source': 'Azure CLI login'}),
])
def test_resolve_settings(params, environ, expected, credentials_file):
    settings = resolve_settings(params, environ, credentials_file)
    for key, value in expected.items():
        assert settings[key] == value, key
    assert settings['arm_endpoint'] == 'https://management.azure.com'
    assert settings['scope'] == 'https://management.azure.com/.default'


def test_cli_fallback_when_nothing_is_configured(tmp_path):
    settings = resolve_settings({'subscription_id': 's'}, {}, str(tmp_path / 'absent'))
    assert settings['kind'] == 'cli'


@pytest.mark.parametrize('params, environ, fragment', [
    ({'client_id': 'p-id'}, {}, 'lack secret, tenant'),
    ({'auth_source': 'env'}, {'AZURE_CLIENT_ID': 'x', 'AZURE_SUBSCRIPTION_ID': 's'}, 'AZURE_SECRET or AZURE_CLIENT_SECRET'),
    ({'client_id': 'i', 'secret': 's', 'tenant': 't'}, {}, 'subscription_id is required'),
    ({'profile': 'nope'}, {}, 'profile [nope] was not found'),
    ({'subscription_id': 's', 'cloud_environment': 'Mars'}, {}, 'unknown cloud_environment'),
    ({'subscription_id': 's', 'arm_endpoint': 'http://127.0.0.1:8443'}, {}, 'arm_endpoint must be an https:// URL'),
])
def test_resolve_settings_errors(params, environ, fragment, tmp_path):
    with pytest.raises(AzureConfigError) as info:
        resolve_settings(params, environ, str(tmp_path / 'absent'))
    assert fragment in str(info.value)


@pytest.mark.parametrize('params, environ, expected', [
    ({'cloud_environment': 'AzureChinaCloud'}, {},
     ('https://management.chinacloudapi.cn', 'https://login.chinacloudapi.cn', 'https://management.chinacloudapi.cn/.default')),
    ({'cloud_environment': 'azureusgovernment'}, {},
     ('https://management.usgovcloudapi.net', 'https://login.microsoftonline.us', 'https://management.usgovcloudapi.net/.default')),
    # the lab: own ARM endpoint and authority; the token scope follows the ARM endpoint
    ({'arm_endpoint': 'https://127.0.0.1:8443/', 'authority_host': 'https://127.0.0.1:8443'}, {},
     ('https://127.0.0.1:8443', 'https://127.0.0.1:8443', 'https://127.0.0.1:8443/.default')),
    ({}, {'AZURE_ARM_ENDPOINT': 'https://arm.example', 'AZURE_AUTHORITY_HOST': 'https://login.example'},
     ('https://arm.example', 'https://login.example', 'https://arm.example/.default')),
])
def test_resolve_cloud(params, environ, expected):
    cloud = resolve_cloud(params, environ)
    assert (cloud['arm_endpoint'], cloud['authority_host'], cloud['scope']) == expected


def test_transport_kwargs_carry_ca_and_timeouts():
    assert transport_kwargs({'ca_path': '/tmp/ca.pem'}, 90) == {'connection_timeout': 30, 'read_timeout': 90, 'connection_verify': '/tmp/ca.pem'}
    assert transport_kwargs({}, 10) == {'connection_timeout': 10, 'read_timeout': 10}


class _Response:
    headers = {}
    content_type = 'application/json'
    request = None

    def __init__(self, status, body):
        self.status_code = status
        self.reason = 'reason'
        self._body = json.dumps(body)

    def text(self, encoding=None):
        return self._body

    def body(self):
        return self._body.encode()


def _arm_error(status, code, message):
    return HttpResponseError(response=_Response(status, {'error': {'code': code, 'message': message}}), error_format=ARMErrorFormat)


@pytest.mark.parametrize('exc, expected', [
    (_arm_error(403, 'AuthorizationFailed', "The client 'c' with object id 'o' does not have authorization to perform action "
                "'Microsoft.Network/networkSecurityGroups/securityRules/write' over scope '/subscriptions/s/x' or the scope is invalid."),
     ['Failed to create rule (HTTP 403): AuthorizationFailed:',
      'lacks the permission Microsoft.Network/networkSecurityGroups/securityRules/write on /subscriptions/s/x']),
    (_arm_error(404, 'ResourceNotFound', "The Resource 'Microsoft.ContainerService/managedClusters/x' was not found."),
     ['(HTTP 404): ResourceNotFound:', 'Check the resource group']),
    (_arm_error(400, 'SecurityRuleConflict', 'Rules conflict.'), ['(HTTP 400): SecurityRuleConflict: Rules conflict.']),
    (_arm_error(429, 'SubscriptionRequestsThrottled', 'Slow down'), ['throttled']),
    (ClientAuthenticationError(message='AADSTS7000215: Invalid client secret provided.'), ['AADSTS7000215', 'check client_id, secret and tenant']),
    (ServiceRequestError('Connection refused'), ['Connection refused', 'could not be reached']),
])
def test_describe_azure_error(exc, expected):
    text = describe_azure_error(exc, 'create rule')
    for fragment in expected:
        assert fragment in text
    assert 'Traceback' not in text
