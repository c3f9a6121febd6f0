# -*- coding: utf-8 -*-
# Copyright (c) 2026 aks.tunnel contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import subprocess

import pytest

from ansible_collections.aks.tunnel.plugins.module_utils import _firewall_fix as ff

UFW_ACTIVE = '''Status: active
Logging: on (low)
Default: deny (incoming), allow (outgoing), disabled (routed)
New profiles: skip

To                         Action      From
--                         ------      ----
22                         ALLOW IN    Anywhere
'''
IPT_DROP = '''-P INPUT ACCEPT
-A INPUT -j KUBELET-GUARD
-A INPUT -p tcp -m tcp --dport 10250 -m comment --comment "no kubelet" -j DROP
-N KUBELET-GUARD
-A KUBELET-GUARD -p tcp -m multiport --dports 10250,10255 -j REJECT --reject-with tcp-reset
'''


def output(sections, actions=(), end=True, apply=0):
    lines = ['AKSFW1 begin id=r1 apply=%d' % apply]
    for name, text in sections.items():
        lines.append('@@%s rc=0 bytes=%d%s' % (name, len(text), ' path=/var/lib/aks-tunnel/x.rules' if name == 'backup' else ''))
        lines.extend(text.rstrip('\n').splitlines())
    lines.append('@@end')
    lines.extend(actions)
    if end:
        lines.append('AKSFW1 end id=r1 rc=0')
    return '\n'.join(lines) + '\n'


def test_parameters_carry_the_rule_tokens_exactly():
    params = ff.build_fix_parameters(port=10250, apply=True, ufw='allow', run_id='r1',
                                     delete_specs=['-A INPUT -p tcp -m comment --comment "no kubelet" -j DROP'])
    assert params == ['id=r1', 'port=10250', 'apply=1', 'ufw=allow', 'd=9', 'INPUT', '-p', 'tcp', '-m', 'comment', '--comment',
                      'no kubelet', '-j', 'DROP']


@pytest.mark.parametrize('kwargs, message', [
    ({'port': 0}, 'invalid port'),
    ({'port': True}, 'invalid port'),
    ({'ufw': 'enable'}, 'invalid ufw action'),
    ({'run_id': 'a b'}, 'invalid run_id'),
    ({'delete_specs': ['-I INPUT -j DROP']}, 'not an "-A CHAIN'),
])
def test_bad_parameters(kwargs, message):
    with pytest.raises(ff.FirewallFixError, match=message):
        ff.build_fix_parameters(**kwargs)


@pytest.mark.parametrize('args, position', [
    (['port=99999'], 1), (['ufw=on'], 1), (['id=ok', 'x=1'], 2), (['d=2', 'IN PUT', '-j'], 2), (['d=5', 'INPUT'], 1),
    (['apply=2'], 1), (['port=1;reboot'], 1),
])
def test_script_refuses_bad_parameters_before_doing_anything(args, position):
    proc = subprocess.run(['bash', '-c', ff.FIX_SCRIPT, 'bash'] + args, capture_output=True, text=True, timeout=30, check=False)
    parsed = ff.parse_fix_output(proc.stdout)
    assert parsed['error'] == 'bad-arg %d' % position
    assert parsed['complete'] is True and parsed['sections'] == {}


def test_parse_output_and_plan_iptables_and_ufw():
    parsed = ff.parse_fix_output(output({'ufw': UFW_ACTIVE, 'iptables': IPT_DROP}), run_id='r1')
    assert parsed['complete'] and parsed['problems'] == [] and parsed['apply'] is False
    state = ff.firewall_state(parsed['sections'])
    assert state['ufw']['active'] is True and state['blocked_by'] == 'ufw'
    assert state['iptables_blocking'] == ['-A KUBELET-GUARD -p tcp -m multiport --dports 10250,10255 -j REJECT --reject-with tcp-reset',
                                          '-A INPUT -p tcp -m tcp --dport 10250 -m comment --comment "no kubelet" -j DROP']
    actions, unresolved = ff.plan_actions(state, parsed['sections'], ufw='allow', iptables='delete_blocking')
    assert [a['type'] for a in actions] == ['ufw_allow', 'iptables_delete', 'iptables_delete']
    assert actions[0] == {'type': 'ufw_allow', 'command': 'ufw allow 10250/tcp', 'undo': 'ufw delete allow 10250/tcp'}
    assert actions[2]['command'] == "iptables -D INPUT -p tcp -m tcp --dport 10250 -m comment --comment 'no kubelet' -j DROP"
    assert actions[2]['undo'] == "iptables -I INPUT 2 -p tcp -m tcp --dport 10250 -m comment --comment 'no kubelet' -j DROP"
    assert unresolved == []


@pytest.mark.parametrize('ufw, iptables, types, unresolved', [
    ('disable', 'ignore', ['ufw_disable'], ['iptables rules block']),
    ('ignore', 'delete_blocking', ['iptables_delete', 'iptables_delete'], ['ufw blocks']),
])
def test_plan_options(ufw, iptables, types, unresolved):
    parsed = ff.parse_fix_output(output({'ufw': UFW_ACTIVE, 'iptables': IPT_DROP}))
    state = ff.firewall_state(parsed['sections'])
    actions, left = ff.plan_actions(state, parsed['sections'], ufw=ufw, iptables=iptables)
    assert [a['type'] for a in actions] == types
    assert len(left) == 1 and left[0].startswith(unresolved[0])


def test_nothing_to_do_when_open():
    parsed = ff.parse_fix_output(output({'ufw': 'Status: inactive\n', 'iptables': '-P INPUT ACCEPT\n'}))
    state = ff.firewall_state(parsed['sections'])
    assert state['blocked_by'] is None
    assert ff.plan_actions(state, parsed['sections']) == ([], [])


def test_policy_drop_without_ufw_is_unresolved():
    parsed = ff.parse_fix_output(output({'ufw': 'Status: inactive\n', 'iptables': '-P INPUT DROP\n'}))
    state = ff.firewall_state(parsed['sections'])
    actions, left = ff.plan_actions(state, parsed['sections'])
    assert actions == [] and 'INPUT policy is DROP' in left[0]


def test_after_sections_actions_and_cut_output():
    text = output({'ufw': UFW_ACTIVE, 'iptables': IPT_DROP, 'backup': '*filter\nCOMMIT\n', 'after-ufw': 'Status: inactive\n',
                   'after-iptables': '-P INPUT ACCEPT\n'}, actions=['A 0 ufw-disable rc=0', 'A 1 del absent'], apply=1)
    parsed = ff.parse_fix_output(text)
    assert parsed['actions'] == [{'index': 0, 'kind': 'ufw-disable', 'rc': 0, 'absent': False},
                                 {'index': 1, 'kind': 'del', 'rc': None, 'absent': True}]
    assert parsed['sections']['backup']['path'] == '/var/lib/aks-tunnel/x.rules'
    assert ff.firewall_state(parsed['sections'], prefix='after-')['blocked_by'] is None
    cut = ff.parse_fix_output(output({'ufw': UFW_ACTIVE}, end=False))
    assert cut['complete'] is False and 'incomplete output' in cut['problems'][0]
