# -*- coding: utf-8 -*-
# Copyright (c) 2026 aks.tunnel contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import json

import pytest

from ansible.module_utils.testing import patch_module_args

from ansible_collections.aks.tunnel.plugins.module_utils import _cluster_model
from ansible_collections.aks.tunnel.plugins.module_utils._module import AksTunnelModule
from ansible_collections.aks.tunnel.plugins.modules import node_firewall

AUTH = {'subscription_id': 's', 'client_id': 'c', 'secret': 'unit-test-secret', 'tenant': 't', 'resource_group': 'rg', 'name': 'aks'}
MODEL = {'cluster': {'node_resource_group': 'MC_rg'}, 'tunnel': {},
         'nodes': [{'name': 'n1', 'computer_name': 'n1', 'vmss': 'vmss', 'instance_id': '1', 'private_ip': '10.0.0.5'}]}
BLOCKED = '-P INPUT ACCEPT\n-A INPUT -p tcp -m tcp --dport 10250 -j DROP\n'


def out(apply, after_ipt=None, actions=()):
    lines = ['AKSFW1 begin id=x apply=%d' % apply, '@@ufw rc=0 bytes=17', 'Status: inactive', '@@iptables rc=0 bytes=40'] + BLOCKED.splitlines()
    if apply:
        lines += ['@@backup rc=0 bytes=9 path=/var/lib/aks-tunnel/b.rules', '*filter', 'COMMIT', '@@after-ufw rc=0 bytes=17', 'Status: inactive',
                  '@@after-iptables rc=0 bytes=15'] + after_ipt.splitlines()
    lines += ['@@end'] + list(actions) + ['AKSFW1 end id=x rc=0']
    return '\n'.join(lines) + '\n'


class Poller:
    def __init__(self, stdout):
        self.stdout = stdout

    def wait(self, timeout=None):
        return None

    def done(self):
        return True

    def result(self):
        return {'value': [{'code': 'ProvisioningState/succeeded', 'message': 'Enable succeeded: \n[stdout]\n%s\n[stderr]\n' % self.stdout}]}


class FakeCompute:
    def __init__(self, after='-P INPUT ACCEPT\n', rc=0):
        self.calls = []
        self.after = after
        self.rc = rc
        self.virtual_machine_scale_set_vms = self

    def begin_run_command(self, rg, vmss, instance, body):
        values = [p['value'] for p in body['parameters']]
        self.calls.append(values)
        if 'apply=1' in values:
            return Poller(out(1, self.after, ['A 0 del rc=%d' % self.rc]))
        return Poller(out(0))


def run(monkeypatch, capsys, args, compute):
    class Azure:
        def close(self):
            pass
    azure = Azure()
    azure.compute = compute
    monkeypatch.setattr(AksTunnelModule, 'azure', property(lambda self: azure))
    monkeypatch.setattr(_cluster_model, 'build_model', lambda *a, **k: json.loads(json.dumps(MODEL)))
    warned = []
    monkeypatch.setattr(AksTunnelModule, 'warn', lambda self, msg: warned.append(msg))
    with patch_module_args(dict(AUTH, **args)):
        with pytest.raises(SystemExit):
            node_firewall.main()
    result = json.loads(capsys.readouterr().out)
    result['warned'] = warned
    return result


def test_check_mode_inspects_only_and_plans(monkeypatch, capsys):
    compute = FakeCompute()
    result = run(monkeypatch, capsys, {'nodes': ['n1'], '_ansible_check_mode': True, '_ansible_diff': True}, compute)
    assert result['changed'] is True and len(compute.calls) == 1 and 'apply=0' in compute.calls[0]
    node = result['nodes'][0]
    assert [a['command'] for a in node['actions']] == ['iptables -D INPUT -p tcp -m tcp --dport 10250 -j DROP']
    assert node['after'] is None and result['undo'] == {'n1': ['iptables -I INPUT 1 -p tcp -m tcp --dport 10250 -j DROP']}
    assert result['diff']['after'] == {'n1': {'planned': ['iptables -D INPUT -p tcp -m tcp --dport 10250 -j DROP']}}
    assert any('outside what AKS manages and supports' in w for w in result['warned'])


def test_repair_deletes_by_full_spec_and_verifies(monkeypatch, capsys):
    compute = FakeCompute()
    result = run(monkeypatch, capsys, {'nodes': ['n1']}, compute)
    assert result['changed'] is True and len(compute.calls) == 2
    assert compute.calls[1][-9:] == ['d=8', 'INPUT', '-p', 'tcp', '-m', 'tcp', '--dport', '10250', '-j', 'DROP'][-9:]
    node = result['nodes'][0]
    assert (node['fixed'], node['error'], node['actions'][0]['result']) == (True, None, 'done')
    assert node['backup'] == {'path': '/var/lib/aks-tunnel/b.rules', 'filter_table': '*filter\nCOMMIT\n', 'trimmed': False}


def test_still_blocked_after_the_repair_fails(monkeypatch, capsys):
    result = run(monkeypatch, capsys, {'nodes': ['n1']}, FakeCompute(after=BLOCKED, rc=1))
    assert result['failed'] is True and 'action(s) failed' in result['msg']


def test_ignore_plans_nothing_but_warns(monkeypatch, capsys):
    compute = FakeCompute()
    result = run(monkeypatch, capsys, {'nodes': ['n1'], 'iptables': 'ignore'}, compute)
    assert result['changed'] is False and len(compute.calls) == 1
    assert any('iptables is set to ignore' in w for w in result['warned'])


@pytest.mark.parametrize('args, message', [({'nodes': []}, 'nodes must list at least one node'), ({'nodes': ['x']}, 'unknown node(s) x'),
                                           ({'nodes': ['n1'], 'port': 0}, 'port must be between')])
def test_option_errors(monkeypatch, capsys, args, message):
    compute = FakeCompute()
    result = run(monkeypatch, capsys, args, compute)
    assert result['failed'] is True and message in result['msg'] and compute.calls == []
