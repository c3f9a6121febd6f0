# -*- coding: utf-8 -*-
# Copyright (c) 2026 aks.tunnel contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The lab admin API (/_lab/...): state, NSG rule replacement, subnet NSG, faults, settings, run command journal, tokens."""

from __future__ import annotations

import pytest
import requests
from azure.core.exceptions import ClientAuthenticationError, ResourceNotFoundError

from ansible_collections.aks.tunnel.tests.lab.arm import ArmEmulator, NullExecutor

DENY_10250 = {'name': 'lab-deny-10250', 'protocol': 'Tcp', 'access': 'Deny', 'priority': 110, 'direction': 'Inbound', 'sourceAddressPrefix': '*',
              'sourcePortRange': '*', 'destinationAddressPrefix': '*', 'destinationPortRange': '10250'}


def _admin_raw(arm, method, path, body=None):
    return arm.session.request(method, arm.url + '/_lab/' + path, json=body, headers={'Authorization': 'Bearer ' + arm.admin_token}, timeout=10)


def test_state_dump(arm):
    state = arm.admin('GET', 'state')
    assert state['subscription_id'] == arm.subscription_id
    assert set(state['nsgs']) == {arm.nsg_id, '/subscriptions/%s/resourceGroups/%s/providers/Microsoft.Network/networkSecurityGroups/customer-nsg'
                                  % (arm.subscription_id, arm.cluster_rg)}
    assert state['subnet_nsg_id'].endswith('/customer-nsg')
    assert len(state['topology']['nodes']) == 122


def test_replace_nsg_rules_via_admin_is_visible_through_arm(arm):
    before = arm.admin('GET', 'nsgs/customer-nsg/securityRules')['value']
    try:
        replaced = arm.admin('PUT', 'nsgs/customer-nsg/securityRules', {'security_rules': [DENY_10250]})
        assert [r['name'] for r in replaced['value']] == ['lab-deny-10250']
        rules = list(arm.network().security_rules.list(arm.cluster_rg, 'customer-nsg'))
        assert [(r.name, r.priority, r.access) for r in rules] == [('lab-deny-10250', 110, 'Deny')]
    finally:
        arm.admin('PUT', 'nsgs/customer-nsg/securityRules', {'security_rules': before})
    assert [r.name for r in arm.network().security_rules.list(arm.cluster_rg, 'customer-nsg')] == ['deny-kubelet']


def test_admin_rules_are_validated_like_arm(arm):
    response = _admin_raw(arm, 'PUT', 'nsgs/customer-nsg/securityRules', {'security_rules': [dict(DENY_10250, priority=5)]})
    assert response.status_code == 400
    assert 'SecurityRuleInvalidPriority' in response.json()['error']['message']
    assert [r.name for r in arm.network().security_rules.list(arm.cluster_rg, 'customer-nsg')] == ['deny-kubelet']


def test_subnet_nsg_switch(arm):
    try:
        assert arm.admin('PUT', 'subnet_nsg', {'nsg': None}) == {'subnet_nsg_id': None}
        vnet = arm.topology['vnet']
        assert arm.network().subnets.get(arm.node_rg, vnet['name'], vnet['subnet_name']).network_security_group is None
        assert arm.admin('PUT', 'subnet_nsg', {'nsg': arm.nsg_name})['subnet_nsg_id'] == arm.nsg_id
    finally:
        arm.admin('PUT', 'subnet_nsg', {'nsg': 'customer-nsg'})


def test_faults_roundtrip_and_validation(arm):
    arm.admin('POST', 'faults', {'faults': [{'type': 'throttle', 'on': 'write', 'count': 2}]})
    assert arm.admin('GET', 'faults')['faults'] == [{'type': 'throttle', 'on': 'write', 'count': 2, 'retry_after': 1}]
    assert _admin_raw(arm, 'POST', 'faults', {'faults': [{'type': 'throttle', 'on': 'sometimes'}]}).status_code == 400
    assert arm.admin('DELETE', 'faults') == {'faults': []}


def test_settings_reject_unknown_keys(arm):
    response = _admin_raw(arm, 'POST', 'settings', {'latency': 1})
    assert response.status_code == 400
    assert "unknown setting 'latency'" in response.json()['error']['message']
    response = _admin_raw(arm, 'POST', 'settings', {'runcommand_latency_s': 'slow'})
    assert response.status_code == 400
    assert 'must be a non-negative number' in response.json()['error']['message']


def test_unknown_resource_group_is_404(arm):
    with pytest.raises(ResourceNotFoundError) as info:
        list(arm.network().network_security_groups.list('no-such-rg'))
    assert info.value.error.code == 'ResourceGroupNotFound'


def test_revoked_tokens_are_rejected(arm):
    client = arm.network(arm.clients['reader'])
    client.network_security_groups.get(arm.node_rg, arm.nsg_name)
    arm.admin('DELETE', 'tokens')
    with pytest.raises(ClientAuthenticationError):
        client.network_security_groups.get(arm.node_rg, arm.nsg_name)
    arm._creds.clear()  # pylint: disable=protected-access
    assert arm.network(arm.clients['reader']).network_security_groups.get(arm.node_rg, arm.nsg_name).name == arm.nsg_name


def test_admin_replace_fires_nsg_hook_in_process(tmp_path):
    events = []
    config = {'cluster': {'name': 'hook', 'resource_group': 'hook-rg'}, 'node_pools': [{'name': 'np', 'count': 1}],
              'network': {'nsgs': {'cust': {'resource_group': 'hook-rg'}}, 'subnet_nsg': 'cust'}}
    with ArmEmulator(config, executor=NullExecutor(), state_dir=str(tmp_path)) as emu:
        emu.on_nsg_change(lambda state, event: events.append(event['change']))
        headers = {'Authorization': 'Bearer ' + emu.admin_token}
        with open(tmp_path / 'admin-token', encoding='utf-8') as handle:
            assert handle.read() == emu.admin_token
        response = requests.put(emu.url + '/_lab/nsgs/cust/securityRules', json={'security_rules': [DENY_10250]}, headers=headers,
                                verify=emu.ca_path, timeout=10)
        assert response.status_code == 200
        requests.put(emu.url + '/_lab/subnet_nsg', json={'nsg': None}, headers=headers, verify=emu.ca_path, timeout=10).raise_for_status()
        assert emu.state.subnet_nsg_id is None
    assert events == ['admin_replace', 'subnet_nsg']
