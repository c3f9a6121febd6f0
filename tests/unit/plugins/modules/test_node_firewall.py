# -*- coding: utf-8 -*-
# Copyright (c) 2026 aks.tunnel contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import json

import pytest

from ansible.module_utils.testing import patch_module_args

from ansible_collections.aks.tunnel.plugins.module_utils import _cluster_model
from ansible_collections.aks.tunnel.plugins.module_utils import _firewall_fix as ff
from ansible_collections.aks.tunnel.plugins.module_utils._module import AksTunnelModule
from ansible_collections.aks.tunnel.plugins.modules import node_firewall

AUTH = {'subscription_id': 's', 'client_id': 'c', 'secret': 'unit-test-secret', 'tenant': 't', 'resource_group': 'rg', 'name': 'aks'}
MODEL = {'cluster': {'node_resource_group': 'MC_rg'}, 'tunnel': {},
         'nodes': [{'name': 'n1', 'computer_name': 'n1', 'vmss': 'vmss', 'instance_id': '1', 'private_ip': '10.0.0.5',
                    'subnet_prefix': '10.0.0.0/24'}]}
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
    assert ff.decode_rule(compute.calls[1][-1]) == ['INPUT', '-p', 'tcp', '-m', 'tcp', '--dport', '10250', '-j', 'DROP']
    node = result['nodes'][0]
    assert (node['fixed'], node['error'], node['actions'][0]['result']) == (True, None, 'done')
    assert node['backup'] == {'path': '/var/lib/aks-tunnel/b.rules', 'filter_table': '*filter\nCOMMIT\n', 'trimmed': False}
    # the tunnel sources default to the node subnet of the cluster model; the node's IP is passed for its interface
    assert 'src=10.0.0.0/24' in compute.calls[0] and 'node_ip=10.0.0.5' in compute.calls[0] and result['sources'] == ['10.0.0.0/24']


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


# ---- issue 13: a timed-out apply may have changed the node; no backup, no change; trimmed view, no deletion

class HungPoller(Poller):
    def done(self):
        return False


class ScriptedCompute(FakeCompute):
    """Inspection answers ``inspect_out``; the apply answers ``apply_out`` (or hangs when it is None)."""

    def __init__(self, inspect_out, apply_out=None):
        super().__init__()
        self.inspect_out = inspect_out
        self.apply_out = apply_out

    def begin_run_command(self, rg, vmss, instance, body):
        values = [p['value'] for p in body['parameters']]
        self.calls.append(values)
        if 'apply=1' in values:
            return HungPoller('') if self.apply_out is None else Poller(self.apply_out)
        return Poller(self.inspect_out)


TWO_IN_ONE_CHAIN = ('-P INPUT ACCEPT\n-A INPUT -p tcp -m tcp --dport 10250 -j DROP\n'
                    '-A INPUT -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT\n-A INPUT -p tcp -m tcp --dport 10250 -j REJECT\n')


def inspection(ipt, ufw='Status: inactive', header=''):
    return '\n'.join(['AKSFW1 begin id=x apply=0', '@@net rc=0 bytes=10', 'iface=eth0', '@@ufw rc=0 bytes=17'] + ufw.splitlines()
                     + ['@@iptables rc=0 bytes=%d%s' % (len(ipt), header)] + ipt.splitlines() + ['@@end', 'AKSFW1 end id=x rc=0']) + '\n'


def test_a_timed_out_apply_may_have_changed_and_returns_backup_and_undo(monkeypatch, capsys):
    compute = ScriptedCompute(inspection(TWO_IN_ONE_CHAIN))
    result = run(monkeypatch, capsys, {'nodes': ['n1'], 'run_timeout': 1}, compute)
    node = result['nodes'][0]
    assert result['failed'] is True and result['changed'] is True and node['may_have_changed'] is True
    assert node['backup']['path'] == '/var/lib/aks-tunnel/iptables-%s.rules' % compute.calls[0][0][3:]
    assert 'may still run on the VM' in node['error'] and node['backup']['path'] in node['error']
    # undo: ascending original positions, so each rule lands where it was
    assert result['undo'] == {'n1': ['iptables -I INPUT 1 -p tcp -m tcp --dport 10250 -j DROP',
                                     'iptables -I INPUT 3 -p tcp -m tcp --dport 10250 -j REJECT']}


def test_a_failed_backup_changes_nothing_and_says_why(monkeypatch, capsys):
    applied = ('AKSFW1 begin id=x apply=1\n@@backup rc=1 bytes=0 path=/var/lib/aks-tunnel/iptables-x.rules\n@@end\n'
               'A 0 del skipped\nA 1 del skipped\nAKSFW1 end id=x rc=0\n')
    result = run(monkeypatch, capsys, {'nodes': ['n1']}, ScriptedCompute(inspection(TWO_IN_ONE_CHAIN), applied))
    node = result['nodes'][0]
    assert result['failed'] is True and result['changed'] is False and node['changed'] is False
    assert 'backup of the firewall (iptables-save to /var/lib/aks-tunnel/iptables-x.rules) failed (rc 1): nothing was changed' in node['error']
    assert [a['result'] for a in node['actions']] == ['skipped', 'skipped'] and result['undo'] == {'n1': []}


@pytest.mark.parametrize('header', [' trimmed=300', ' filtered=1'])
def test_a_trimmed_or_filtered_inspection_deletes_nothing(monkeypatch, capsys, header):
    compute = ScriptedCompute(inspection(TWO_IN_ONE_CHAIN, header=header))
    result = run(monkeypatch, capsys, {'nodes': ['n1']}, compute)
    node = result['nodes'][0]
    assert result['changed'] is False and node['actions'] == [] and len(compute.calls) == 1
    assert len(node['unresolved']) == 2 and all('UNKNOWN' in u and 'the iptables listing was' in u for u in node['unresolved'])


def test_a_scoped_ufw_allow_covering_the_sources_is_not_a_problem(monkeypatch, capsys):
    ufw = ('Status: active\nDefault: deny (incoming), allow (outgoing), disabled (routed)\n\nTo                         Action      From\n'
           '--                         ------      ----\n10250/tcp                  ALLOW IN    10.0.0.0/16\n')
    result = run(monkeypatch, capsys, {'nodes': ['n1']}, ScriptedCompute(inspection('-P INPUT ACCEPT\n', ufw=ufw)))
    assert result['changed'] is False and result['nodes'][0]['actions'] == [] and result['nodes'][0]['fixed'] is True


def test_ufw_is_opened_only_to_the_given_sources(monkeypatch, capsys):
    ufw = 'Status: active\nDefault: deny (incoming), allow (outgoing), disabled (routed)\n'
    compute = ScriptedCompute(inspection('-P INPUT ACCEPT\n', ufw=ufw))
    result = run(monkeypatch, capsys, {'nodes': ['n1'], 'sources': ['10.0.0.4', '10.0.0.6'], '_ansible_check_mode': True}, compute)
    assert [a['command'] for a in result['nodes'][0]['actions']] == ['ufw allow from 10.0.0.4 to any port 10250 proto tcp',
                                                                     'ufw allow from 10.0.0.6 to any port 10250 proto tcp']
    assert result['undo']['n1'] == ['ufw delete allow from 10.0.0.4 to any port 10250 proto tcp',
                                    'ufw delete allow from 10.0.0.6 to any port 10250 proto tcp']


def test_bad_sources_are_refused_before_any_run_command(monkeypatch, capsys):
    compute = FakeCompute()
    result = run(monkeypatch, capsys, {'nodes': ['n1'], 'sources': ['0.0.0.0/0; reboot']}, compute)
    assert result['failed'] is True and 'invalid tunnel source' in result['msg'] and compute.calls == []


def test_a_trimmed_re_inspection_is_not_reported_as_fixed(monkeypatch, capsys):
    applied = ('AKSFW1 begin id=x apply=1\n@@backup rc=0 bytes=9 path=/var/lib/aks-tunnel/iptables-x.rules\n*filter\nCOMMIT\n'
               '@@after-ufw rc=0 bytes=17\nStatus: inactive\n@@after-iptables rc=0 bytes=9000 trimmed=8000\n-P INPUT ACCEPT\n'
               '@@end\nA 0 del rc=0\nAKSFW1 end id=x rc=0\n')
    result = run(monkeypatch, capsys, {'nodes': ['n1']}, ScriptedCompute(inspection(BLOCKED), applied))
    node = result['nodes'][0]
    assert result['failed'] is True and result['changed'] is True and node['fixed'] is None
    assert 'could not verify the result: the iptables listing was trimmed' in node['error']
    assert result['undo'] == {'n1': ['iptables -I INPUT 1 -p tcp -m tcp --dport 10250 -j DROP']}
