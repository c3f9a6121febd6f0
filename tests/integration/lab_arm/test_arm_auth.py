# -*- coding: utf-8 -*-
# Copyright (c) 2026 aks.tunnel contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Entra token endpoints with the real ClientSecretCredential; 401 / 403 like ARM."""

from __future__ import annotations

import pytest
from azure.core.credentials import AccessToken
from azure.core.exceptions import ClientAuthenticationError, HttpResponseError
from azure.identity import ClientSecretCredential


class _BogusCredential:
    def get_token(self, *scopes, **kwargs):
        return AccessToken('not-a-lab-token', 4102444800)

    def get_token_info(self, *scopes, options=None):
        from azure.core.credentials import AccessTokenInfo  # pylint: disable=import-outside-toplevel
        return AccessTokenInfo('not-a-lab-token', 4102444800)


def test_openid_configuration_names_token_endpoint_on_own_host(arm):
    response = arm.session.get('%s/%s/v2.0/.well-known/openid-configuration' % (arm.url, arm.tenant_id), timeout=10)
    assert response.status_code == 200
    body = response.json()
    assert body['token_endpoint'] == '%s/%s/oauth2/v2.0/token' % (arm.url, arm.tenant_id)
    assert body['authorization_endpoint'] == '%s/%s/oauth2/v2.0/authorize' % (arm.url, arm.tenant_id)


def test_client_secret_credential_gets_a_bearer_token(arm):
    token = arm.credential(arm.clients['contributor']).get_token('https://management.azure.com/.default')
    assert token.token.count('.') == 2
    assert token.expires_on > 0


@pytest.mark.parametrize('client_id, secret, fragment', [
    ('0b5e1c7a-0000-4000-8000-00000000c0de', 'wrong-secret', 'AADSTS7000215'),
    ('99999999-0000-4000-8000-000000000000', 'whatever', 'AADSTS700016'),
])
def test_bad_client_credentials_fail_like_entra(arm, client_id, secret, fragment):
    cred = ClientSecretCredential(arm.tenant_id, client_id, secret, authority=arm.url, disable_instance_discovery=True,
                                  connection_verify=arm.ca_path)
    with pytest.raises(ClientAuthenticationError) as info:
        cred.get_token(arm.url + '/.default')
    assert fragment in str(info.value)


def test_wrong_secret_raw_oauth_error_shape(arm):
    response = arm.session.post('%s/%s/oauth2/v2.0/token' % (arm.url, arm.tenant_id), timeout=10,
                                data={'grant_type': 'client_credentials', 'client_id': arm.clients['reader']['client_id'],
                                      'client_secret': 'nope', 'scope': 'https://management.azure.com/.default'})
    assert response.status_code == 401
    body = response.json()
    assert body['error'] == 'invalid_client'
    assert body['error_codes'] == [7000215]
    assert body['error_description'].startswith('AADSTS7000215: Invalid client secret provided.')


def test_unknown_tenant_is_rejected(arm):
    response = arm.session.get('%s/not-my-tenant/v2.0/.well-known/openid-configuration' % arm.url, timeout=10)
    assert response.status_code == 400
    assert response.json()['error_description'].startswith('AADSTS90002')


def test_missing_authorization_header_is_401(arm):
    response = arm.session.get(arm.url + '/subscriptions/%s/resourceGroups/%s/providers/Microsoft.Network/networkSecurityGroups'
                               % (arm.subscription_id, arm.node_rg), params={'api-version': '2026-03-01'}, timeout=10)
    assert response.status_code == 401
    assert response.json() == {'error': {'code': 'AuthenticationFailed', 'message': "Authentication failed. The 'Authorization' header is missing."}}
    assert 'WWW-Authenticate' in response.headers


def test_unknown_token_is_invalid_authentication_token(arm):
    client = arm.network(credential=_BogusCredential())
    with pytest.raises(ClientAuthenticationError) as info:
        client.network_security_groups.get(arm.node_rg, arm.nsg_name)
    assert info.value.status_code == 401
    assert info.value.error.code == 'InvalidAuthenticationToken'


def test_reader_can_read(arm):
    nsg = arm.network(arm.clients['reader']).network_security_groups.get(arm.node_rg, arm.nsg_name)
    assert nsg.name == arm.nsg_name


def test_reader_write_is_authorization_failed_with_arm_message(arm):
    from azure.mgmt.network.models import SecurityRule  # pylint: disable=import-outside-toplevel
    client = arm.network(arm.clients['reader'])
    rule = SecurityRule(protocol='Tcp', access='Allow', priority=150, direction='Inbound', source_address_prefix='*', source_port_range='*',
                        destination_address_prefix='*', destination_port_range='10250')
    with pytest.raises(HttpResponseError) as info:
        client.security_rules.begin_create_or_update(arm.node_rg, arm.nsg_name, 'reader-try', rule).result()
    assert info.value.status_code == 403
    assert info.value.error.code == 'AuthorizationFailed'
    scope = '/subscriptions/%s/resourceGroups/%s/providers/Microsoft.Network/networkSecurityGroups/%s/securityRules/reader-try' % (
        arm.subscription_id, arm.node_rg, arm.nsg_name)
    reader = arm.clients['reader']['client_id']
    assert info.value.error.message.startswith(
        "The client '%s' with object id '" % reader)
    assert ("does not have authorization to perform action 'Microsoft.Network/networkSecurityGroups/securityRules/write' over scope '%s' "
            "or the scope is invalid. If access was recently granted, please refresh your credentials." % scope) in info.value.error.message


@pytest.mark.parametrize('client_key', ['reader', 'netops'])
def test_run_command_needs_its_action(arm, client_key):
    vmss = arm.vmss['system']
    with pytest.raises(HttpResponseError) as info:
        arm.compute(arm.clients[client_key]).virtual_machine_scale_set_vms.begin_run_command(
            arm.node_rg, vmss, '0', {'commandId': 'RunShellScript', 'script': ['true']}).result()
    assert info.value.status_code == 403
    assert "'Microsoft.Compute/virtualMachineScaleSets/virtualMachines/runCommand/action'" in info.value.error.message


def test_netops_client_may_write_rules(arm):
    from azure.mgmt.network.models import SecurityRule  # pylint: disable=import-outside-toplevel
    client = arm.network(arm.clients['netops'])
    rule = SecurityRule(protocol='Tcp', access='Allow', priority=151, direction='Inbound', source_address_prefix='VirtualNetwork',
                        source_port_range='*', destination_address_prefix='*', destination_port_range='10250')
    created = client.security_rules.begin_create_or_update(arm.node_rg, arm.nsg_name, 'netops-rule', rule).result()
    assert created.priority == 151
    client.security_rules.begin_delete(arm.node_rg, arm.nsg_name, 'netops-rule').result()


def test_admin_endpoint_needs_admin_token(arm):
    assert arm.session.get(arm.url + '/_lab/state', timeout=10).status_code == 401
    assert arm.session.get(arm.url + '/_lab/state', headers={'Authorization': 'Bearer ' + arm.token()}, timeout=10).status_code == 401
    assert arm.session.get(arm.url + '/_lab/health', timeout=10).json() == {'ok': True}
