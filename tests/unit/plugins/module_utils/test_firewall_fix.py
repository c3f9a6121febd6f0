# -*- coding: utf-8 -*-
# Copyright (c) 2026 aks.tunnel contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import base64
import gzip
import os
import re
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
    params = ff.build_fix_parameters(port=10250, apply=True, ufw='allow', run_id='r1', sources=['10.224.0.0/16'],
                                     delete_specs=['-A INPUT -p tcp -m comment --comment "no kubelet" -j DROP'])
    assert params[:5] == ['id=r1', 'port=10250', 'apply=1', 'ufw=allow', 'src=10.224.0.0/16']
    params = params[:4] + params[5:]
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


# Unit tests run the repair script on the developer's or CI's own machine: every tool that could change
# the host's firewall is a shell function that only records the call, so even a refusal that regressed
# (the script going on to act) cannot touch the host (a run without these stubs once added
# `ufw allow 10250/tcp` to a development machine).
HOST_GUARD = '''
ufw() { echo "ufw $*" >>"$HOST_GUARD_LOG"; return 99; }
iptables() { echo "iptables $*" >>"$HOST_GUARD_LOG"; return 99; }
iptables-save() { echo "iptables-save $*" >>"$HOST_GUARD_LOG"; return 99; }
iptables-restore() { echo "iptables-restore $*" >>"$HOST_GUARD_LOG"; return 99; }
ip6tables() { echo "ip6tables $*" >>"$HOST_GUARD_LOG"; return 99; }
ipset() { echo "ipset $*" >>"$HOST_GUARD_LOG"; return 99; }
mkdir() { echo "mkdir $*" >>"$HOST_GUARD_LOG"; return 99; }
'''


def run_fix_script_on_host(args, log):
    """FIX_SCRIPT with argv ``args`` on this machine, its firewall tools stubbed (HOST_GUARD, calls logged to ``log``)."""
    script = ff.FIX_SCRIPT.replace('\nexport LC_ALL=C PATH=', '\n' + HOST_GUARD + '\nexport LC_ALL=C PATH=', 1)
    assert HOST_GUARD in script
    log.write_text('')
    env = dict(os.environ, HOST_GUARD_LOG=str(log))
    return subprocess.run(['bash', '-c', script, 'bash'] + list(args), capture_output=True, text=True, timeout=30, check=False, env=env)


def test_host_guard_stubs_every_firewall_tool_the_script_calls(tmp_path):
    log = tmp_path / 'calls'
    proc = run_fix_script_on_host(['id=guard', 'apply=1', 'ufw=allow', 'src=10.224.0.0/16', 'd=3:' + _b64(b'INPUT\0-j\0DROP\0')], log)
    calls = log.read_text().splitlines()
    assert 'iptables -w 5 -S INPUT' in calls and any(c.startswith('mkdir ') for c in calls), calls
    # the stubbed backup fails, so the script acts on nothing (and the host was never at risk)
    assert [a['rc'] for a in ff.parse_fix_output(proc.stdout)['actions']] == [None, None], proc.stdout


@pytest.mark.parametrize('args, position', [
    (['port=99999'], 1), (['ufw=on'], 1), (['id=ok', 'x=1'], 2), (['id=ok', 'd=2:' + _b64(b'IN PUT\0-j\0')], 2),
    (['d=5:' + _b64(b'INPUT\0')], 1), (['d=2:' + _b64(b'INPUT\0\0')], 1), (['d=2:' + _b64(b'INPUT\0a\nb\0')], 1),
    (['d=1:!!!!'], 1), (['d=1:A'], 1), (['d=0:' + _b64(b'INPUT\0')], 1), (['d=9', 'INPUT'], 1),
    (['apply=2'], 1), (['port=1;reboot'], 1),
])
def test_script_refuses_bad_parameters_before_doing_anything(args, position, tmp_path):
    proc = run_fix_script_on_host(args, tmp_path / 'calls')
    assert (tmp_path / 'calls').read_text() == ''  # refused before any tool ran
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
    actions, unresolved = ff.plan_actions(state, parsed['sections'], ufw='allow', iptables='delete_blocking', sources=['10.224.0.0/16'])
    assert [a['type'] for a in actions] == ['ufw_allow', 'iptables_delete', 'iptables_delete']
    # UFW is opened only to the tunnel sources (issue 13), never with `ufw allow 10250/tcp`
    assert (actions[0]['command'], actions[0]['undo']) == ('ufw allow from 10.224.0.0/16 to any port 10250 proto tcp',
                                                           'ufw delete allow from 10.224.0.0/16 to any port 10250 proto tcp')
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


# ---- issue 13 (items 2 and 3): plan only from a complete view, exact undo order, UFW only for the tunnel sources

HARDENED = '''-P INPUT DROP
-A INPUT -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
-A INPUT -i lo -j ACCEPT
-A INPUT -s 10.224.0.0/16 -p tcp -m tcp --dport 10250 -j REJECT --reject-with tcp-reset
-A INPUT -s 10.224.0.0/16 -p tcp -j ACCEPT
-A INPUT -j DROP
'''


@pytest.mark.parametrize('header, reason', [
    ('filtered=1', 'filtered'),
    ('trimmed=400', 'trimmed (400 of'),
])
def test_a_filtered_or_trimmed_listing_deletes_nothing(header, reason):
    text = output({'ufw': 'Status: inactive\n', 'iptables': HARDENED}).replace(
        '@@iptables rc=0 bytes=%d' % len(HARDENED), '@@iptables rc=0 bytes=%d %s' % (len(HARDENED), header))
    parsed = ff.parse_fix_output(text)
    state = ff.firewall_state(parsed['sections'], context=ff.context_from_sections(parsed['sections'], sources=['10.224.0.4']))
    assert state['iptables_blocking'] == [] and state['iptables_view_problem'].startswith('the iptables listing was ' + reason.split()[0])
    actions, unresolved = ff.plan_actions(state, parsed['sections'], sources=['10.224.0.4'])
    assert actions == []
    assert any(reason in u and 'UNKNOWN' in u for u in unresolved)


def test_the_complete_hardened_listing_deletes_only_the_reject():
    parsed = ff.parse_fix_output(output({'ufw': 'Status: inactive\n', 'iptables': HARDENED}))
    state = ff.firewall_state(parsed['sections'], context=ff.context_from_sections(parsed['sections'], sources=['10.224.0.4']))
    actions, unresolved = ff.plan_actions(state, parsed['sections'], sources=['10.224.0.4'])
    assert [(a['spec'], a['undo']) for a in actions] == [(
        '-A INPUT -s 10.224.0.0/16 -p tcp -m tcp --dport 10250 -j REJECT --reject-with tcp-reset',
        'iptables -I INPUT 3 -s 10.224.0.0/16 -p tcp -m tcp --dport 10250 -j REJECT --reject-with tcp-reset')]
    assert unresolved == []


def test_a_compressed_listing_is_decoded():
    blob = base64.b64encode(gzip.compress(HARDENED.encode())).decode()
    text = 'AKSFW1 begin id=r1 apply=0\n@@iptables rc=0 bytes=%d enc=gz64\n%s\n@@end\nAKSFW1 end id=r1 rc=0\n' % (len(HARDENED), blob)
    parsed = ff.parse_fix_output(text)
    assert parsed['sections']['iptables']['text'] == HARDENED and parsed['problems'] == []
    broken = ff.parse_fix_output(text.replace(blob, blob[:-8]))
    assert broken['sections']['iptables']['trimmed'] and 'could not be decoded' in broken['problems'][0]


def test_undo_reinserts_by_ascending_original_position():
    listing = ('-P INPUT ACCEPT\n-A INPUT -p tcp --dport 10250 -j DROP\n-A INPUT -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT\n'
               '-A INPUT -p tcp -m multiport --dports 10250,10255 -j REJECT\n-A INPUT -j GUARD\n-N GUARD\n-A GUARD -p tcp --dport 10250 -j DROP\n')
    parsed = ff.parse_fix_output(output({'ufw': 'Status: inactive\n', 'iptables': listing}))
    state = ff.firewall_state(parsed['sections'])
    actions, _left = ff.plan_actions(state, parsed['sections'])
    assert ff.undo_commands(actions) == ['iptables -I GUARD 1 -p tcp --dport 10250 -j DROP', 'iptables -I INPUT 1 -p tcp --dport 10250 -j DROP',
                                         'iptables -I INPUT 3 -p tcp -m multiport --dports 10250,10255 -j REJECT']


SCOPED_UFW = UFW_ACTIVE + '10250/tcp                  ALLOW IN    10.224.0.0/16\n'


@pytest.mark.parametrize('sources, commands', [
    (['10.224.0.4', '10.224.0.5'], []),                      # the scoped allow covers the tunnel sources: not a problem
    (['10.224.0.4', '10.9.0.0/24'], ['ufw allow from 10.9.0.0/24 to any port 10250 proto tcp']),
])
def test_ufw_is_opened_only_to_the_tunnel_sources_it_does_not_allow(sources, commands):
    parsed = ff.parse_fix_output(output({'ufw': SCOPED_UFW, 'iptables': '-P INPUT ACCEPT\n'}))
    state = ff.firewall_state(parsed['sections'], context=ff.context_from_sections(parsed['sections'], sources=sources))
    assert (state['blocked_by'] == 'ufw') is bool(commands)
    actions, unresolved = ff.plan_actions(state, parsed['sections'], sources=sources)
    assert [a['command'] for a in actions] == commands and unresolved == []


def test_ufw_allow_without_sources_is_refused():
    parsed = ff.parse_fix_output(output({'ufw': UFW_ACTIVE, 'iptables': '-P INPUT ACCEPT\n'}))
    state = ff.firewall_state(parsed['sections'])
    actions, unresolved = ff.plan_actions(state, parsed['sections'])
    assert actions == [] and 'no tunnel source is known' in unresolved[0]
    with pytest.raises(ff.FirewallFixError, match='needs the tunnel sources'):
        ff.build_fix_parameters(apply=True, ufw='allow')


@pytest.mark.parametrize('sources, message', [
    (['10.224.0.0/16', 'any'], "invalid tunnel source 'any'"),
    (['0.0.0.0/0 ; reboot'], 'invalid tunnel source'),
    (['10.%d.0.1' % i for i in range(40)], 'too many'),
])
def test_bad_sources_are_refused(sources, message):
    with pytest.raises(ff.FirewallFixError, match=message):
        ff.normalize_sources(sources)


@pytest.mark.parametrize('args, error', [
    (['src=10.0.0.0/8;x'], 'bad-arg 1'), (['node_ip=10.0.0.1/8'], 'bad-arg 1'), (['apply=1', 'ufw=allow'], 'ufw-allow-needs-src'),
])
def test_script_refuses_bad_sources(args, error, tmp_path):
    proc = run_fix_script_on_host(args, tmp_path / 'calls')
    assert ff.parse_fix_output(proc.stdout)['error'] == error


def test_context_interface_known_only_when_the_route_agrees():
    sections = {'net': {'rc': 0, 'text': 'iface=eth0\nroute_dev=eth0\n'}}
    assert ff.context_from_sections(sections, sources=['10.224.0.4'], node_ip='10.224.0.9')['iface'] == 'eth0'
    sections = {'net': {'rc': 0, 'text': 'iface=eth0\nroute_dev=eth1\n'}}
    assert ff.context_from_sections(sections, sources=['10.224.0.4'])['iface'] is None


def _script_functions(*names):
    found = []
    for name in names:
        match = re.search(r'^%s\(\) \{.*?^\}$' % re.escape(name), ff.FIX_SCRIPT, re.S | re.M)
        assert match, name
        found.append(match.group(0))
    return '\n'.join(found)


FAKE_IPSET = r'''ipset() {  # a stand-in for `ipset save <name>`
    case $2 in
        crowdsec-blacklists) printf 'create crowdsec-blacklists hash:ip family inet hashsize 1024 maxelem 65536\nadd crowdsec-blacklists 203.0.113.9\n' ;;
        huge) printf 'create huge hash:net family inet\n'; for i in $(seq 1 200); do printf 'add huge 10.%d.0.0/16\n' "$i"; done ;;
        *) return 1 ;;
    esac
}
'''


def test_the_inspection_lists_the_ipsets_the_rules_use_and_marks_a_cut_one():
    listing = ('-P INPUT ACCEPT\n-A INPUT -m set --match-set crowdsec-blacklists src -j DROP\n'
               '-A INPUT -m set --match-set huge src -p tcp --dport 10250 -j DROP\n')
    driver = 'OUT=$(mktemp); IPT=$1; ipset_section; cat "$OUT"; rm -f "$OUT"'
    proc = subprocess.run(['bash', '-c', FAKE_IPSET + _script_functions('section', 'ipset_section') + '\n' + driver, 'bash', listing],
                          capture_output=True, text=True, timeout=30, check=True)
    parsed = ff.parse_fix_output('AKSFW1 begin id=r1 apply=0\n' + proc.stdout + '@@end\nAKSFW1 end id=r1 rc=0\n')
    sections = dict(parsed['sections'], iptables={'rc': 0, 'text': listing, 'bytes': len(listing), 'trimmed': 0})
    context = ff.context_from_sections(sections, sources=['10.224.0.4'], node_ip='10.224.0.9')
    assert context['ipsets']['crowdsec-blacklists']['members'] == ['203.0.113.9'] and context['ipsets']['huge']['complete'] is False
    state = ff.firewall_state(sections, context=context)
    # the crowdsec set does not hold the tunnel source: not blocking; the cut set cannot be judged: UNKNOWN, never deleted
    assert state['iptables_blocking'] == []
    assert state['iptables_unknown'] == [{'spec': '-A INPUT -m set --match-set huge src -p tcp --dport 10250 -j DROP',
                                          'reasons': ['the listing of ipset huge was cut (too many members)']}]
