# -*- coding: utf-8 -*-
# Copyright (c) 2026 aks.tunnel contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import json

import pytest

from ansible.module_utils.testing import patch_module_args

from ansible_collections.aks.tunnel.plugins.module_utils._module import AksTunnelModule
from ansible_collections.aks.tunnel.plugins.modules import nsg_port_rule

NSG_ID = '/subscriptions/s/resourceGroups/MC_rg/providers/Microsoft.Network/networkSecurityGroups/aks-agentpool-1-nsg'
AUTH = {'subscription_id': 's', 'client_id': 'c', 'secret': 'unit-test-secret', 'tenant': 't'}


def rule(name, priority, access='Deny', dport='10250', direction='Inbound', src='*', desc=None):
    props = {'priority': priority, 'access': access, 'direction': direction, 'protocol': 'Tcp', 'sourcePortRange': '*',
             'destinationPortRange': dport, 'sourceAddressPrefix': src, 'destinationAddressPrefix': '*'}
    if desc:
        props['description'] = desc
    return {'name': name, 'id': NSG_ID + '/securityRules/' + name, 'properties': props}


OURS = rule('allow-aks-tunnel-10250', 199, access='Allow', src='VirtualNetwork',
            desc='Allows the AKS control-plane tunnel (managed by aks.tunnel)')


class Poller:
    def __init__(self, result):
        self._result = result

    def wait(self, timeout=None):
        return None

    def done(self):
        return True

    def result(self):
        return self._result


class FakeNetwork:
    def __init__(self, rules, fail_write=None):
        self.rules = rules
        self.writes = []
        self.fail_write = fail_write
        self.network_security_groups = self
        self.security_rules = self

    def get(self, rg, name):
        return {'id': NSG_ID, 'name': name, 'properties': {'securityRules': list(self.rules)}}

    def begin_create_or_update(self, rg, nsg, name, body):
        if self.fail_write:
            raise self.fail_write
        self.writes.append(('put', name, body))
        return Poller(dict(body, name=name))

    def begin_delete(self, rg, nsg, name):
        self.writes.append(('delete', name))
        return Poller(None)


class FakeAzure:
    def __init__(self, network):
        self.network = network

    def close(self):
        pass


def run(monkeypatch, capsys, args, network):
    monkeypatch.setattr(AksTunnelModule, 'azure', property(lambda self: FakeAzure(network)))
    with patch_module_args(dict(AUTH, **args)):
        with pytest.raises(SystemExit):
            nsg_port_rule.main()
    return json.loads(capsys.readouterr().out)


@pytest.mark.parametrize('rules, check, expected_priority, writes', [
    ([rule('deny-kubelet', 200, dport='10000-10300')], True, 199, 0),
    ([rule('deny-kubelet', 200, dport='10000-10300')], False, 199, 1),
    ([rule('deny-kubelet', 200), rule('other', 199, access='Allow', dport='22')], False, 198, 1),
    ([], False, 4096, 1),
])
def test_creates_the_rule_below_the_blocking_one(monkeypatch, capsys, rules, check, expected_priority, writes):
    network = FakeNetwork(rules)
    result = run(monkeypatch, capsys, {'resource_group': 'MC_rg', 'nsg': 'aks-agentpool-1-nsg', '_ansible_check_mode': check,
                                       '_ansible_diff': True}, network)
    assert (result['changed'], result['action'], result['rule']['priority']) == (True, 'created', expected_priority)
    assert result['diff']['before'] == {} and result['diff']['after']['sourceAddressPrefix'] == 'VirtualNetwork'
    assert result['undo'] == {'nsg': NSG_ID, 'rule_name': 'allow-aks-tunnel-10250', 'state': 'absent'}
    assert len(network.writes) == writes
    if writes:
        body = network.writes[0][2]['properties']
        assert (body['destinationPortRange'], body['protocol'], body['access'], body['priority']) == ('10250', 'Tcp', 'Allow', expected_priority)


def test_second_run_reports_no_change(monkeypatch, capsys):
    network = FakeNetwork([rule('deny-kubelet', 200), OURS])
    result = run(monkeypatch, capsys, {'nsg': NSG_ID}, network)
    assert (result['changed'], result['action'], network.writes, result['undo']) == (False, 'none', [], None)


def test_rule_that_no_longer_wins_is_moved(monkeypatch, capsys):
    network = FakeNetwork([rule('deny-new', 150), OURS])
    result = run(monkeypatch, capsys, {'nsg': NSG_ID}, network)
    assert (result['action'], result['changed_properties'], result['rule']['priority']) == ('updated', ['priority'], 149)
    assert result['undo']['priority'] == 199 and result['undo']['state'] == 'present'


def test_absent_removes_only_its_rule(monkeypatch, capsys):
    network = FakeNetwork([rule('deny-kubelet', 200), OURS])
    result = run(monkeypatch, capsys, {'nsg': NSG_ID, 'state': 'absent'}, network)
    assert (result['changed'], result['action'], result['rule'], network.writes) == (True, 'deleted', {}, [('delete', 'allow-aks-tunnel-10250')])
    result = run(monkeypatch, capsys, {'nsg': NSG_ID, 'state': 'absent'}, FakeNetwork([rule('deny-kubelet', 200)]))
    assert (result['changed'], result['action']) == (False, 'none')


@pytest.mark.parametrize('args, message', [
    ({'nsg': 'just-a-name'}, 'give resource_group with an NSG name'),
    ({'nsg': NSG_ID, 'priority': 250}, 'does not win over the blocking rule'),
    ({'nsg': NSG_ID, 'priority': 120}, 'priority 120 is already used'),
    ({'nsg': NSG_ID, 'port': 70000}, 'port must be between 1 and 65535'),
])
def test_bad_input_fails_cleanly(monkeypatch, capsys, args, message):
    network = FakeNetwork([rule('deny-kubelet', 200), rule('taken', 120, access='Allow', dport='22')])
    result = run(monkeypatch, capsys, args, network)
    assert result['failed'] is True and message in result['msg'] and network.writes == []


def test_forbidden_write_is_reported_with_the_arm_code(monkeypatch, capsys):
    from azure.core.exceptions import HttpResponseError  # pylint: disable=import-outside-toplevel

    error = HttpResponseError(message="The client 'c' does not have authorization to perform action "
                                      "'Microsoft.Network/networkSecurityGroups/securityRules/write' over scope '/x'", response=None)
    error.status_code = 403
    network = FakeNetwork([rule('deny-kubelet', 200)], fail_write=error)
    result = run(monkeypatch, capsys, {'nsg': NSG_ID}, network)
    assert result['failed'] is True and result['status'] == 403
    assert 'HTTP 403' in result['msg'] and 'Microsoft.Network/networkSecurityGroups/securityRules/write' in result['msg']
    assert 'Traceback' not in json.dumps(result)
