# -*- coding: utf-8 -*-
# Copyright (c) 2026 aks.tunnel contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Run the node firewall repair script for real, in a throwaway network namespace with real iptables.

The namespace ``aksfw-<pid>-<n>`` has only ``lo`` and a veth pair ``eth0``/``eth0p`` (10.250.9.9/24): no packet can
leave it.  The script runs as the Linux Run Command handler runs it (parameters pasted into the script
text, tests/lab/arm/executor.py), the plan is made by the same code as node_firewall's, and the
checks compare ``iptables -S`` before and after.
"""

from __future__ import annotations

import itertools
import os
import shutil
import subprocess

import pytest

from ansible_collections.aks.tunnel.plugins.module_utils import _firewall_fix as ff
from ansible_collections.aks.tunnel.tests.lab.arm.executor import handler_script

pytestmark = pytest.mark.netns

NODE_IP = '10.250.9.9'
SOURCES = ['10.250.9.4', '10.250.9.5']
_COUNTER = itertools.count()


def _unusable():
    if os.geteuid() != 0:
        return 'needs root (network namespaces, iptables)'
    for tool in ('ip', 'iptables', 'iptables-save', 'iptables-restore', 'gzip', 'base64', 'unshare', 'mount'):
        if not shutil.which(tool):
            return '%s is not installed' % tool
    return None


if _unusable():
    pytestmark = [pytest.mark.netns, pytest.mark.skip(reason=_unusable())]


def sh(args, check=True, input_text=None):
    proc = subprocess.run(args, capture_output=True, text=True, check=False, input=input_text, timeout=120)
    if check and proc.returncode != 0:
        raise RuntimeError('%s failed (%d): %s' % (' '.join(args), proc.returncode, proc.stderr.strip()))
    return proc


@pytest.fixture
def node():
    name = 'aksfw-%d-%d' % (os.getpid() % 100000, next(_COUNTER))
    sh(['ip', 'netns', 'add', name])
    try:
        sh(['ip', '-n', name, 'link', 'set', 'lo', 'up'])
        sh(['ip', '-n', name, 'link', 'add', 'eth0', 'type', 'veth', 'peer', 'name', 'eth0p'])
        sh(['ip', '-n', name, 'addr', 'add', NODE_IP + '/24', 'dev', 'eth0'])
        sh(['ip', '-n', name, 'link', 'set', 'eth0', 'up'])
        yield name
    finally:
        sh(['ip', 'netns', 'del', name], check=False)


def restore(ns, rules):
    """Load filter rules (``iptables -S`` style lines, ``-P``/``-N``/``-A``) with iptables-restore."""
    lines = ['*filter']
    lines += [':%s %s [0:0]' % (r.split()[1], r.split()[2]) for r in rules if r.startswith('-P ')]
    lines += [':%s - [0:0]' % r.split()[1] for r in rules if r.startswith('-N ')]
    lines += [r for r in rules if r.startswith('-A ')] + ['COMMIT', '']
    sh(['ip', 'netns', 'exec', ns, 'iptables-restore'], input_text='\n'.join(lines))


def listing(ns):
    return sh(['ip', 'netns', 'exec', ns, 'iptables', '-S']).stdout


def run_script(ns, params, prefix=()):
    proc = sh(['ip', 'netns', 'exec', ns] + list(prefix) + ['bash', '-c', handler_script(ff.FIX_SCRIPT, params)])
    assert len(proc.stdout) < 4096, 'the output must fit the Run Command limit'
    return ff.parse_fix_output(proc.stdout)


def inspect_and_plan(ns, run_id):
    parsed = run_script(ns, ff.build_fix_parameters(run_id=run_id, sources=SOURCES, node_ip=NODE_IP))
    assert parsed['complete'] and not parsed['error'], parsed
    context = ff.context_from_sections(parsed['sections'], sources=SOURCES, node_ip=NODE_IP)
    state = ff.firewall_state(parsed['sections'], context=context)
    actions, unresolved = ff.plan_actions(state, parsed['sections'], sources=SOURCES)
    return parsed, context, state, actions, unresolved


def apply(ns, run_id, actions, prefix=()):
    specs = [a['spec'] for a in actions if a['type'] == 'iptables_delete']
    return run_script(ns, ff.build_fix_parameters(run_id=run_id, apply=True, delete_specs=specs, sources=SOURCES), prefix=prefix)


def run_undo(ns, actions):
    for command in ff.undo_commands(actions):
        sh(['ip', 'netns', 'exec', ns, 'bash', '-c', command])


# A hardened host: policy DROP, the established accept, the cluster's TCP accepted, a catch-all DROP at the end, and
# enough commented rules that the listing is over 900 bytes (the old script then filtered the ACCEPTs out of its view
# and deleted the catch-all DROP too). Exactly one rule blocks the kubelet port from the tunnel sources: the REJECT.
HARDENED = [
    '-P INPUT DROP',
    '-A INPUT -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT',
    '-A INPUT -i lo -j ACCEPT',
    '-A INPUT -p icmp -m comment --comment "hardening baseline: ping from anywhere" -j ACCEPT',
    '-A INPUT -p tcp -m tcp --dport 22 -m comment --comment "hardening baseline: ssh from the admin network" -j ACCEPT',
    '-A INPUT -s 10.250.9.0/24 -p tcp -m tcp --dport 10250 -m comment --comment "hardening baseline: no kubelet" -j REJECT --reject-with tcp-reset',
    '-A INPUT -s 10.250.9.0/24 -p tcp -m comment --comment "hardening baseline: cluster nodes talk tcp" -j ACCEPT',
    '-A INPUT -s 10.250.9.0/24 -p udp -m comment --comment "hardening baseline: cluster nodes talk udp" -j ACCEPT',
] + ['-A INPUT -p tcp -m tcp --dport %d -m comment --comment "hardening baseline: service port %d" -j ACCEPT' % (p, p)
     for p in range(8000, 8012)] + [
    '-A INPUT -m limit --limit 5/min -m comment --comment "hardening baseline: log the rest" -j LOG --log-prefix "dropped: "',
    '-A INPUT -m comment --comment "hardening baseline: drop the rest" -j DROP',
]


def test_hardened_host_only_the_blocking_rule_is_deleted_and_the_undo_restores_it(node):
    restore(node, HARDENED)
    before = listing(node)
    assert len(before) > 900
    parsed, context, _state, actions, unresolved = inspect_and_plan(node, 'hard1')
    assert not parsed['sections']['iptables']['trimmed']
    assert [a['spec'] for a in actions] == [
        '-A INPUT -s 10.250.9.0/24 -p tcp -m tcp --dport 10250 -m comment --comment "hardening baseline: no kubelet" '
        '-j REJECT --reject-with tcp-reset']
    assert unresolved == [] and context['iface'] == 'eth0'
    done = apply(node, 'hard1', actions)
    assert done['sections']['backup']['rc'] == 0 and done['sections']['backup']['path'] == '/var/lib/aks-tunnel/iptables-hard1.rules'
    assert [a['rc'] for a in done['actions']] == [0]
    after = ff.firewall_state(done['sections'], prefix='after-', context=context)
    assert (after['blocked_by'], after['iptables_blocking'], after['policy_blocks']) == (None, [], False)
    assert '-A INPUT -m comment --comment "hardening baseline: drop the rest" -j DROP' in listing(node)
    run_undo(node, actions)
    assert listing(node) == before
    os.remove('/var/lib/aks-tunnel/iptables-hard1.rules')


def test_undo_of_several_deletions_in_one_chain_reproduces_the_chain(node):
    restore(node, [
        '-P INPUT ACCEPT', '-N KUBELET-GUARD',
        '-A INPUT -p tcp -m tcp --dport 10250 -m comment --comment "first block" -j DROP',
        '-A INPUT -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT',
        '-A INPUT -p tcp -m tcp --dport 22 -j ACCEPT',
        '-A INPUT -p tcp -m multiport --dports 10250,10255 -m comment --comment "after the established accept" -j REJECT --reject-with icmp-port-unreachable',
        '-A INPUT -j KUBELET-GUARD',
        '-A INPUT -p udp -m udp --dport 53 -j ACCEPT',
        '-A KUBELET-GUARD -p tcp -m tcp --dport 10250 -j DROP',
        '-A KUBELET-GUARD -j RETURN',
    ])
    before = listing(node)
    _parsed, _context, _state, actions, unresolved = inspect_and_plan(node, 'undo1')
    assert [(a['chain'], a['position']) for a in actions] == [('INPUT', 1), ('INPUT', 4), ('KUBELET-GUARD', 1)] and unresolved == []
    done = apply(node, 'undo1', actions)
    assert [a['rc'] for a in done['actions']] == [0, 0, 0]
    assert listing(node) != before
    run_undo(node, actions)
    assert listing(node) == before
    os.remove('/var/lib/aks-tunnel/iptables-undo1.rules')


def test_a_failed_backup_deletes_nothing(node):
    restore(node, ['-P INPUT ACCEPT', '-A INPUT -p tcp -m tcp --dport 10250 -j DROP'])
    before = listing(node)
    _parsed, _context, _state, actions, _unresolved = inspect_and_plan(node, 'nobak1')
    assert len(actions) == 1
    # /var/lib/aks-tunnel read-only (a private mount namespace): iptables-save cannot write the backup
    readonly = ['unshare', '-m', 'sh', '-c', 'mount -t tmpfs -o ro tmpfs /var/lib/aks-tunnel && exec "$0" "$@"']
    done = run_script(node, ff.build_fix_parameters(run_id='nobak1', apply=True, delete_specs=[actions[0]['spec']]), prefix=readonly)
    assert done['sections']['backup']['rc'] != 0
    assert [(a['kind'], a['rc'], a['absent']) for a in done['actions']] == [('del', None, False)]
    assert listing(node) == before


def test_a_long_listing_is_sent_complete_compressed_or_refused_when_it_cannot_fit(node):
    rules = ['-P INPUT ACCEPT', '-A INPUT -p tcp -m tcp --dport 10250 -j DROP']
    rules += ['-A INPUT -s 10.%d.%d.0/24 -p tcp -m tcp --dport 443 -m comment --comment "allow partner network number %d" -j ACCEPT'
              % (i // 200, i % 200, i) for i in range(120)]
    restore(node, rules)
    parsed, _context, _state, actions, _unresolved = inspect_and_plan(node, 'long1')
    assert parsed['sections']['iptables']['enc'] == 'gz64' and not parsed['sections']['iptables']['trimmed']
    assert [a['spec'] for a in actions] == ['-A INPUT -p tcp -m tcp --dport 10250 -j DROP']
    # comments that do not compress: the listing cannot fit, so nothing is planned
    noise = ['-A INPUT -s 10.9.%d.0/24 -m comment --comment "%s" -j ACCEPT' % (i, os.urandom(60).hex()) for i in range(60)]
    restore(node, ['-P INPUT ACCEPT'] + noise + ['-A INPUT -p tcp -m tcp --dport 10250 -j DROP'])
    parsed, _context, state, actions, unresolved = inspect_and_plan(node, 'long2')
    assert parsed['sections']['iptables']['trimmed'] and actions == []
    assert state['iptables_view_problem'].startswith('the iptables listing was trimmed')
