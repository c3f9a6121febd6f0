# -*- coding: utf-8 -*-
# Copyright (c) 2026 aks.tunnel contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import base64
import shlex
import subprocess

import pytest

from ansible_collections.aks.tunnel.plugins.module_utils import _firewall_fix as ff
from ansible_collections.aks.tunnel.plugins.module_utils import _runcommand as rc
from ansible_collections.aks.tunnel.tests.lab.arm.executor import handler_script

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
    assert params[:4] == ['id=r1', 'port=10250', 'apply=1', 'ufw=allow']
    assert params[4] == 'd=9:' + base64.urlsafe_b64encode(b'INPUT\0-p\0tcp\0-m\0comment\0--comment\0no kubelet\0-j\0DROP\0').decode().rstrip('=')
    assert ff.decode_rule(params[4]) == ['INPUT', '-p', 'tcp', '-m', 'comment', '--comment', 'no kubelet', '-j', 'DROP']
    assert len(params) == 5


# Lines as `iptables -S` prints them (it double-quotes a comment with special characters and escapes " and \).
HOSTILE_SPECS = [
    '-A KUBE-FIREWALL -m comment --comment "kubernetes firewall for dropping marked packets" -m mark --mark 0x8000/0x8000 -j DROP',
    '-A INPUT -m comment --comment "kubernetes forwarding rules" -j KUBE-FORWARD',
    '-A INPUT -p tcp -m tcp --dport 10250 -m comment --comment "$(touch /tmp/aks-tunnel-hostile-x)" -j DROP',
    '-A INPUT -p tcp -m tcp --dport 10250 -m comment --comment "`touch /tmp/aks-tunnel-hostile-y`" -j DROP',
    '-A INPUT -p tcp -m comment --comment "a;reboot|b&c>d<e" -j REJECT --reject-with tcp-reset',
    '-A INPUT -m comment --comment "* ? [a-z] ~root {a,b} #x !y" -j DROP',
    '-A INPUT -m comment --comment "say \\"hi\\" \\\\ \'single\'" -j DROP',
    '-A INPUT -m comment --comment "k\u00fcbelet \u2603 \u30c6\u30b9\u30c8" -j DROP',
    '-A INPUT -m comment --comment plain -j DROP',
    '-A cali-INPUT -m comment --comment "cali:msRIDfJRWnYwzW4g" -m mark --mark 0x10000/0x10000 -j ACCEPT',
]


@pytest.mark.parametrize('spec', HOSTILE_SPECS)
def test_rule_encoding_round_trip_is_a_safe_word(spec):
    value = ff.encode_rule(spec)
    assert rc.SAFE_WORD_RE.match(value), value
    assert rc.run_command_input(ff.FIX_SCRIPT, [value])['parameters'][0]['value'] == value
    assert ff.decode_rule(value) == shlex.split(spec)[1:]


def _parsed_by_script(params):
    """The script's own argument parsing, run the way Azure runs it (parameters pasted into the script
    text): FIX_SCRIPT up to the first command that touches the system, then the DEL array NUL-separated."""
    cut = ff.FIX_SCRIPT.index('\nOUT=$(mktemp)')
    script = ff.FIX_SCRIPT[:cut] + '\nprintf \'%s\\0\' "${DEL[@]}"\n'
    proc = subprocess.run(['bash', '-c', handler_script(script, params), 'bash'], capture_output=True, timeout=30, check=False)
    assert proc.stderr == b'', proc.stderr
    return proc.stdout


def test_script_decodes_every_rule_exactly_under_the_azure_rewrite():
    params = ff.build_fix_parameters(apply=True, run_id='r1', delete_specs=HOSTILE_SPECS)
    expected = b''
    for spec in HOSTILE_SPECS:
        tokens = shlex.split(spec)[1:]
        expected += b''.join(x.encode() + b'\0' for x in [str(len(tokens))] + tokens)
    assert _parsed_by_script(params) == expected


@pytest.mark.parametrize('spec, message', [
    ('-A INPUT -m comment --comment "unbalanced -j DROP', 'cannot be split'),
    ('-A IN$PUT -j DROP', 'invalid chain name'),
    ('-A INPUT ' + ' '.join(['-j'] * 64), 'more than 64 tokens'),
    ('-A INPUT -m comment --comment "" -j DROP', 'empty/multi-line token'),
    ('-A INPUT -m comment --comment "%s" -j DROP' % ('x' * 4090), 'longer than 4096 bytes'),
    (None, 'not a string'),
])
def test_rules_that_cannot_be_sent_are_refused(spec, message):
    with pytest.raises(ff.FirewallFixError, match=message):
        ff.encode_rule(spec)


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


def _b64(data):
    return base64.urlsafe_b64encode(data).decode().rstrip('=')


@pytest.mark.parametrize('args, position', [
    (['port=99999'], 1), (['ufw=on'], 1), (['id=ok', 'x=1'], 2), (['id=ok', 'd=2:' + _b64(b'IN PUT\0-j\0')], 2),
    (['d=5:' + _b64(b'INPUT\0')], 1), (['d=2:' + _b64(b'INPUT\0\0')], 1), (['d=2:' + _b64(b'INPUT\0a\nb\0')], 1),
    (['d=1:!!!!'], 1), (['d=1:A'], 1), (['d=0:' + _b64(b'INPUT\0')], 1), (['d=9', 'INPUT'], 1),
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
