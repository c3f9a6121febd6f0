# -*- coding: utf-8 -*-
# Copyright (c) 2026 aks.tunnel contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import copy
import json

import pytest

from ansible.module_utils.testing import patch_module_args

from ansible_collections.aks.tunnel.plugins.module_utils import _nsg
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


OURS = rule('allow-aks-tunnel-10250', 199, access='Allow', src='VirtualNetwork', desc='Allows the AKS control-plane tunnel [aks.tunnel]')
OURS['etag'] = 'W/"ours-1"'


class Poller:
    def __init__(self, result, done=True):
        self._result = result
        self._done = done

    def wait(self, timeout=None):
        return None

    def done(self):
        return self._done

    def result(self):
        return self._result


class FakeNetwork:
    """The securityRules API over a rule list: PUT replaces or appends (new etag), DELETE removes; If-Match is checked."""

    def __init__(self, rules, fail_write=None, finishes=True):
        self.finishes = finishes
        self.rules = [copy.deepcopy(r) for r in rules]
        self.writes = []
        self.fail_write = fail_write
        self.network_security_groups = self
        self.security_rules = self
        self.etags = 0

    def get(self, rg, name):
        return {'id': NSG_ID, 'name': name, 'etag': 'W/"nsg"', 'properties': {'securityRules': copy.deepcopy(self.rules)}}

    def _check(self, name, headers):
        existing = [r for r in self.rules if r['name'].lower() == name.lower()]
        wanted = (headers or {}).get('If-Match')
        if wanted and existing and existing[0].get('etag') != wanted:
            from azure.core.exceptions import HttpResponseError  # pylint: disable=import-outside-toplevel
            error = HttpResponseError(message='Precondition failed', response=None)
            error.status_code = 412
            raise error
        return existing

    def begin_create_or_update(self, rg, nsg, name, body, headers=None):
        if self.fail_write:
            raise self.fail_write
        existing = self._check(name, headers)
        self.writes.append(('put', name, body, headers))
        self.etags += 1
        stored = {'name': name, 'id': NSG_ID + '/securityRules/' + name, 'etag': 'W/"put-%d"' % self.etags,
                  'properties': copy.deepcopy(body['properties'])}
        if existing:
            self.rules[self.rules.index(existing[0])] = stored
        else:
            self.rules.append(stored)
        return Poller(copy.deepcopy(stored), done=self.finishes)

    def begin_delete(self, rg, nsg, name, headers=None):
        existing = self._check(name, headers)
        self.writes.append(('delete', name, headers))
        self.rules = [r for r in self.rules if r not in existing]
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


def effective(rules):
    """The NSG as the engine sees it (order, etags and singular/plural spelling do not matter)."""
    return sorted((_nsg.normalize_rule(r)['name'], _nsg_rule_tuple(r)) for r in rules)


def _nsg_rule_tuple(rule):
    norm = _nsg.normalize_rule(rule)
    return json.dumps({k: v for k, v in norm.items() if k not in ('id',)}, sort_keys=True)


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
        _put, _name, body, headers = network.writes[0]
        body = body['properties']
        assert (body['destinationPortRange'], body['protocol'], body['access'], body['priority']) == ('10250', 'Tcp', 'Allow', expected_priority)
        assert body['description'] == 'Allows the AKS control-plane tunnel [aks.tunnel]' and headers is None


JUMPBOX_NSG = [rule('deny-kubelet-from-jumpbox-subnet', 300, src='10.240.64.0/24'), rule('deny-kubelet-node-to-node', 400, dport='10000-10300')]
SCOPED = {'nsg': NSG_ID, 'source_prefixes': ['10.240.0.0/18'], 'destination_prefixes': ['10.240.0.0/18'],
          'flow_sources': ['10.240.0.4', '10.240.0.5'], 'flow_destinations': ['10.240.0.7', '10.240.0.8'], 'vnet_prefixes': ['10.240.0.0/12']}


def evaluate(rules, source):
    return _nsg.evaluate_nsg(rules, direction='Inbound', protocol='Tcp', source_ip=source, destination_ip='10.240.0.7', destination_port=10250,
                             vnet_prefixes=['10.240.0.0/12'])


def test_scoped_rule_opens_the_flows_and_keeps_the_jumpbox_deny_four_steps(monkeypatch, capsys):
    network = FakeNetwork(JUMPBOX_NSG)
    steps = [run(monkeypatch, capsys, dict(SCOPED, _ansible_check_mode=check, _ansible_diff=True), network) for check in (True, False, True, False)]
    assert [(r['changed'], r['action']) for r in steps] == [(True, 'created'), (True, 'created'), (False, 'none'), (False, 'none')]
    assert len(network.writes) == 1
    created = steps[1]
    assert created['rule']['priority'] == 399 and created['rule']['sourceAddressPrefix'] == '10.240.0.0/18'
    assert created['rule']['destinationAddressPrefix'] == '10.240.0.0/18'
    assert [(b['name'], b['priority'], b['flows']) for b in created['blocking_rules']] == [('deny-kubelet-node-to-node', 400, 4)]
    assert created['flows'] == {'checked': 4, 'denied': 4, 'allowed': 0} and steps[3]['flows']['denied'] == 4
    assert evaluate(network.rules, '10.240.0.4')['access'] == 'Allow'
    jump = evaluate(network.rules, '10.240.64.10')
    assert (jump['access'], jump['rule']) == ('Deny', 'deny-kubelet-from-jumpbox-subnet')


def test_update_uses_if_match_and_the_undo_restores_the_nsg(monkeypatch, capsys):
    previous = rule('allow-aks-tunnel-10250', 390, access='Allow', desc='old scope [aks.tunnel]')
    previous['properties'].pop('sourceAddressPrefix')
    previous['properties'].pop('destinationPortRange')
    previous['properties'].update(sourceAddressPrefixes=['10.240.0.0/24', '10.240.1.0/24'], destinationPortRanges=['10250', '10255-10256'])
    previous['etag'] = 'W/"prev"'
    original = JUMPBOX_NSG + [previous]
    network = FakeNetwork(original)
    result = run(monkeypatch, capsys, SCOPED, network)
    assert (result['changed'], result['action']) == (True, 'updated')
    # it stays at 390 (nothing between it and the Deny at 400 could be weakened); scope, ports and description change
    assert result['changed_properties'] == ['destinationPortRanges', 'sourceAddressPrefixes', 'destinationAddressPrefixes', 'description']
    assert result['rule']['priority'] == 390
    assert network.writes[0][3] == {'If-Match': 'W/"prev"'}
    undo = result['undo']
    assert undo == {'nsg': NSG_ID, 'rule_name': 'allow-aks-tunnel-10250', 'state': 'present', 'priority': 390, 'protocol': 'Tcp',
                    'direction': 'Inbound', 'source_prefixes': ['10.240.0.0/24', '10.240.1.0/24'], 'destination_prefixes': ['*'],
                    'port_ranges': ['10250', '10255-10256'], 'description': 'old scope [aks.tunnel]'}
    assert effective(network.rules) != effective(original)
    restored = run(monkeypatch, capsys, undo, network)
    assert (restored['changed'], restored['action']) == (True, 'updated') and network.writes[1][3] == {'If-Match': 'W/"put-1"'}
    assert effective(network.rules) == effective(original)
    # and the undo of the undo is again a valid call
    assert run(monkeypatch, capsys, restored['undo'], network)['changed'] is True


def test_undo_of_a_created_rule_removes_it(monkeypatch, capsys):
    network = FakeNetwork(JUMPBOX_NSG)
    result = run(monkeypatch, capsys, SCOPED, network)
    undone = run(monkeypatch, capsys, result['undo'], network)
    assert (undone['changed'], undone['action']) == (True, 'deleted') and network.writes[-1] == ('delete', 'allow-aks-tunnel-10250',
                                                                                                 {'If-Match': 'W/"put-1"'})
    assert effective(network.rules) == effective(JUMPBOX_NSG)
    # the undo of the deletion recreates it
    again = run(monkeypatch, capsys, undone['undo'], network)
    assert again['action'] == 'created' and again['rule']['priority'] == 399


def test_a_rule_changed_since_it_was_read_is_not_overwritten(monkeypatch, capsys):
    network = FakeNetwork(JUMPBOX_NSG + [OURS])
    real_get = network.get

    def get_then_someone_edits(rg, name):
        nsg = real_get(rg, name)
        network.rules[-1] = dict(network.rules[-1], etag='W/"edited-by-someone"')
        return nsg
    network.get = get_then_someone_edits
    result = run(monkeypatch, capsys, SCOPED, network)
    assert result['failed'] is True and result['changed'] is False and result['status'] == 412
    assert 'the rule changed since it was read; run again' in result['msg'] and network.writes == []


@pytest.mark.parametrize('state', ['present', 'absent'])
def test_a_same_name_rule_it_did_not_create_is_left_alone(monkeypatch, capsys, state):
    theirs = rule('allow-aks-tunnel-10250', 250, access='Allow', desc='made by the network team')
    network = FakeNetwork(JUMPBOX_NSG + [theirs])
    result = run(monkeypatch, capsys, dict(SCOPED, state=state), network)
    assert result['failed'] is True and result['changed'] is False and network.writes == []
    assert 'was not created by aks.tunnel' in result['msg'] and '[aks.tunnel]' in result['msg']


def test_no_free_priority_is_refused_with_the_reason(monkeypatch, capsys):
    network = FakeNetwork(JUMPBOX_NSG + [rule('deny-node-99', 399, src='10.240.0.99/32')])
    result = run(monkeypatch, capsys, SCOPED, network)
    assert result['failed'] is True and network.writes == []
    assert "every priority between the Deny 'deny-node-99' (priority 399) and the Deny 'deny-kubelet-node-to-node' (priority 400)" in result['msg']


def test_second_run_reports_no_change(monkeypatch, capsys):
    network = FakeNetwork([rule('deny-kubelet', 200), OURS])
    result = run(monkeypatch, capsys, {'nsg': NSG_ID}, network)
    assert (result['changed'], result['action'], network.writes, result['undo']) == (False, 'none', [], None)


def test_rule_that_no_longer_wins_is_moved(monkeypatch, capsys):
    network = FakeNetwork([rule('deny-new', 150), OURS])
    result = run(monkeypatch, capsys, {'nsg': NSG_ID}, network)
    assert (result['action'], result['changed_properties'], result['rule']['priority']) == ('updated', ['priority'], 149)
    assert result['undo']['priority'] == 199 and result['undo']['state'] == 'present'
    assert network.writes[0][3] == {'If-Match': 'W/"ours-1"'}


def test_absent_removes_only_its_rule(monkeypatch, capsys):
    network = FakeNetwork([rule('deny-kubelet', 200), OURS])
    result = run(monkeypatch, capsys, {'nsg': NSG_ID, 'state': 'absent'}, network)
    assert (result['changed'], result['action'], result['rule']) == (True, 'deleted', {})
    assert network.writes == [('delete', 'allow-aks-tunnel-10250', {'If-Match': 'W/"ours-1"'})]
    result = run(monkeypatch, capsys, {'nsg': NSG_ID, 'state': 'absent'}, FakeNetwork([rule('deny-kubelet', 200)]))
    assert (result['changed'], result['action']) == (False, 'none')


@pytest.mark.parametrize('args, message', [
    ({'nsg': 'just-a-name'}, 'give resource_group with an NSG name'),
    ({'nsg': NSG_ID, 'priority': 120}, 'priority 120 is already used'),
    ({'nsg': NSG_ID, 'port': 70000}, 'port must be between 1 and 65535'),
    ({'nsg': NSG_ID, 'flow_sources': ['10.0.0.1']}, 'parameters are required together'),
])
def test_bad_input_fails_cleanly(monkeypatch, capsys, args, message):
    network = FakeNetwork([rule('deny-kubelet', 200), rule('taken', 120, access='Allow', dport='22')])
    result = run(monkeypatch, capsys, args, network)
    assert result['failed'] is True and message in result['msg'] and network.writes == []


def test_a_priority_that_does_not_win_is_a_warning(monkeypatch, capsys):
    network = FakeNetwork([rule('deny-kubelet', 200)])
    warned = []
    monkeypatch.setattr(AksTunnelModule, 'warn', lambda self, msg: warned.append(msg))
    result = run(monkeypatch, capsys, {'nsg': NSG_ID, 'priority': 250}, network)
    assert result['changed'] is True and result['rule']['priority'] == 250
    assert warned == ["priority 250 does not win over the Deny 'deny-kubelet' (priority 200), so the rule does not open the flows"]


def test_forbidden_write_is_reported_with_the_arm_code(monkeypatch, capsys):
    from azure.core.exceptions import HttpResponseError  # pylint: disable=import-outside-toplevel

    error = HttpResponseError(message="The client 'c' does not have authorization to perform action "
                                      "'Microsoft.Network/networkSecurityGroups/securityRules/write' over scope '/x'", response=None)
    error.status_code = 403
    network = FakeNetwork([rule('deny-kubelet', 200)], fail_write=error)
    result = run(monkeypatch, capsys, {'nsg': NSG_ID}, network)
    assert result['failed'] is True and result['status'] == 403 and result['changed'] is False
    assert 'HTTP 403' in result['msg'] and 'Microsoft.Network/networkSecurityGroups/securityRules/write' in result['msg']
    assert 'Traceback' not in json.dumps(result)


def test_an_operation_that_did_not_finish_may_have_changed(monkeypatch, capsys):
    network = FakeNetwork(JUMPBOX_NSG, finishes=False)
    result = run(monkeypatch, capsys, dict(SCOPED, wait_timeout=1), network)
    assert result['failed'] is True and result['changed'] is True and result['may_have_changed'] is True
    assert 'did not finish within 1s' in result['msg'] and 'it may still complete' in result['msg']
    assert result['undo'] == {'nsg': NSG_ID, 'rule_name': 'allow-aks-tunnel-10250', 'state': 'absent'}


def test_egress_repair_as_the_egress_role_calls_it(monkeypatch, capsys):
    """roles/egress: Outbound, VirtualNetwork -> the API server address, no flows: above the first Deny that could match."""
    deny_out = rule('deny-internet-out', 200, dport='*', direction='Outbound')
    deny_out['properties']['destinationAddressPrefix'] = 'Internet'
    other = rule('deny-smtp-out', 150, dport='25', direction='Outbound')
    network = FakeNetwork([deny_out, other])
    args = {'nsg': NSG_ID, 'rule_name': 'allow-aks-tunnel-9000-out', 'direction': 'Outbound', 'port': 9000, 'protocol': 'Tcp',
            'source_prefix': 'VirtualNetwork', 'destination_prefix': '20.50.1.10'}
    result = run(monkeypatch, capsys, args, network)
    assert (result['action'], result['rule']['priority'], result['rule']['destinationAddressPrefix']) == ('created', 199, '20.50.1.10')
    assert [b['name'] for b in result['blocking_rules']] == ['deny-internet-out']
    assert run(monkeypatch, capsys, args, network)['changed'] is False
