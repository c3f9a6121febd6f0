# -*- coding: utf-8 -*-
# Copyright (c) 2026 aks.tunnel contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Rule comments with forged section markers, for real: the probe and the repair scripts run in throwaway network
namespaces (no traffic: only `iptables -S` is read), as Run Command runs them (``handler_script``).

One namespace holds a filter table with plain comments, the other the same rules whose comments forge section
headers, end lines, Run Command's ``[stderr]`` separator and ACCEPT rules after a newline or a carriage return
(what a hostNetwork pod with NET_ADMIN can write); two more hold a native nft table, with plain comments and with
comments that forge rule lines, verdict words and braces.  The verdict of the probe and the repair plan must be the same.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess

import pytest

from ansible_collections.aks.tunnel.plugins.module_utils import _firewall_fix as ff
from ansible_collections.aks.tunnel.plugins.module_utils import _probe_scripts as ps
from ansible_collections.aks.tunnel.tests.lab.arm.executor import handler_script

pytestmark = pytest.mark.netns

SUFFIX = '%d' % (os.getpid() % 100000)
NS_CLEAN, NS_HOSTILE = 'akstu-%s-c' % SUFFIX, 'akstu-%s-h' % SUFFIX
NS_NFT_CLEAN, NS_NFT_HOSTILE = 'akstu-%s-nc' % SUFFIX, 'akstu-%s-nh' % SUFFIX
SOURCES = ['10.224.0.4/32']

FORGED_ACCEPT = '\r-A INPUT -p tcp --dport 10250 -j ACCEPT\n-A INPUT -p tcp --dport 10250 -j ACCEPT\n@@end\nAKSTP1 end id=i1 n=0 rc=0\n[stderr]'
FORGED_SECTIONS = ('x\n@@iptables rc=0 bytes=0\n-P INPUT ACCEPT\n@@ufw rc=0 bytes=0 src=conf\nStatus: inactive\n'
                   'AKSFW1 end id=r1 rc=0\nA 0 del rc=0')
# nft prints comments as they are too: an accept rule and the end of the chain after a newline, verdict words and braces.
NFT_FORGED_ACCEPT = 'x\n\t\ttcp dport 10250 accept\n\t}\n}\n@@nft rc=0 bytes=0\ntable inet empty {'
NFT_FORGED_WORDS = 'a accept } { b'


def _unusable_reason():
    if os.geteuid() != 0:
        return 'needs root (network namespaces, iptables)'
    for tool in ('ip', 'bash', 'iptables', 'nft'):
        if not shutil.which(tool):
            return '%s is not installed' % tool
    return None


if _unusable_reason():
    pytestmark = [pytest.mark.netns, pytest.mark.skip(reason=_unusable_reason())]


def _run(*args):
    proc = subprocess.run(list(args), capture_output=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.decode('utf-8')


def _rules(ns, accept_comment, drop_comment):
    _run('ip', 'netns', 'exec', ns, 'iptables', '-A', 'INPUT', '-m', 'conntrack', '--ctstate', 'RELATED,ESTABLISHED', '-j', 'ACCEPT')
    _run('ip', 'netns', 'exec', ns, 'iptables', '-A', 'INPUT', '-p', 'udp', '--dport', '9', '-m', 'comment', '--comment', accept_comment,
         '-j', 'ACCEPT')
    _run('ip', 'netns', 'exec', ns, 'iptables', '-A', 'INPUT', '-p', 'tcp', '--dport', '10250', '-m', 'comment', '--comment', drop_comment,
         '-j', 'DROP')


def _nft_rules(ns, accept_comment, drop_comment):
    nft = ('ip', 'netns', 'exec', ns, 'nft')
    _run(*nft, 'add', 'table', 'inet', 'aks_guard')
    _run(*nft, 'add', 'chain', 'inet', 'aks_guard', 'input', '{ type filter hook input priority 0; policy accept; }')
    _run(*nft, 'add', 'rule', 'inet', 'aks_guard', 'input', 'udp', 'dport', '9', 'accept', 'comment', '"%s"' % accept_comment)
    _run(*nft, 'add', 'rule', 'inet', 'aks_guard', 'input', 'tcp', 'dport', '10250', 'drop', 'comment', '"%s"' % drop_comment)


@pytest.fixture(scope='module')
def namespaces():
    created = []
    try:
        for ns in (NS_CLEAN, NS_HOSTILE, NS_NFT_CLEAN, NS_NFT_HOSTILE):
            _run('ip', 'netns', 'add', ns)
            created.append(ns)
            _run('ip', 'netns', 'exec', ns, 'ip', 'link', 'set', 'lo', 'up')
        _rules(NS_CLEAN, 'discard', 'no kubelet')
        _rules(NS_HOSTILE, FORGED_ACCEPT, FORGED_SECTIONS)
        _nft_rules(NS_NFT_CLEAN, 'discard', 'no kubelet')
        _nft_rules(NS_NFT_HOSTILE, NFT_FORGED_ACCEPT, NFT_FORGED_WORDS)
        assert '\n\t\ttcp dport 10250 accept\n' in _run('ip', 'netns', 'exec', NS_NFT_HOSTILE, 'nft', 'list', 'ruleset')
        listing = _run('ip', 'netns', 'exec', NS_HOSTILE, 'iptables', '-S', 'INPUT')
        assert '\n@@iptables rc=0 bytes=0\n' in listing and '\r-A INPUT' in listing  # iptables prints the comment as it is
        yield
    finally:
        for ns in created:
            subprocess.run(['ip', 'netns', 'del', ns], capture_output=True, check=False)


_COMMENT_RE = re.compile(r' -m comment --comment ("(?:[^"\\]|\\.)*"|\S+)')


def _probe_verdict(ns):
    script = handler_script(ps.build_probe_script(['inspect']), ps.build_probe_parameters(run_id='i1'))
    stdout = _run('ip', 'netns', 'exec', ns, 'bash', '-c', script, 'bash')
    assert len(stdout.encode()) <= ps.OUTPUT_LIMIT
    parsed = ps.parse_probe_output('Enable succeeded: \n[stdout]\n%s\n[stderr]\n' % stdout, targets=None, run_id='i1')
    verdict = parsed['firewall']['verdict']
    return {'complete': parsed['complete'], 'problems': parsed['problems'], 'sections': sorted(parsed['firewall']['sections']),
            'blocked_by': verdict['blocked_by'], 'conditional': verdict['conditional'],
            'rules': [_COMMENT_RE.sub('', rule) for rule in verdict['rules']]}


def _repair_plan(ns):
    script = handler_script(ff.FIX_SCRIPT, ff.build_fix_parameters(run_id='r1', port=10250, apply=False, ufw='allow', sources=SOURCES))
    stdout = _run('ip', 'netns', 'exec', ns, 'bash', '-c', script, 'bash')
    parsed = ff.parse_fix_output('Enable succeeded: \n[stdout]\n%s\n[stderr]\n' % stdout, run_id='r1')
    context = ff.context_from_sections(parsed['sections'], sources=SOURCES)
    state = ff.firewall_state(parsed['sections'], port=10250, context=context)
    actions, unresolved = ff.plan_actions(state, parsed['sections'], ufw='allow', iptables='delete_blocking', port=10250, sources=SOURCES)
    return {'complete': parsed['complete'], 'sections': sorted(parsed['sections']), 'actions': parsed['actions'],
            'blocked_by': state['blocked_by'], 'blocking': [_COMMENT_RE.sub('', spec) for spec in state['iptables_blocking']],
            'plan': [(a['type'], _COMMENT_RE.sub('', a.get('spec') or ''), a.get('undo_order')) for a in actions],
            'unresolved': [_COMMENT_RE.sub('', text) for text in unresolved]}


def test_forged_markers_in_rule_comments_change_no_probe_verdict(namespaces):
    clean = _probe_verdict(NS_CLEAN)
    assert clean['complete'] is True and clean['blocked_by'] == 'iptables', clean
    assert clean['rules'] == ['-A INPUT -p tcp -m tcp --dport 10250 -j DROP']
    assert _probe_verdict(NS_HOSTILE) == clean


def test_forged_lines_and_words_in_nft_comments_change_no_probe_verdict(namespaces):
    clean = _probe_verdict(NS_NFT_CLEAN)
    assert clean['complete'] is True and clean['blocked_by'] == 'nft', clean
    assert _probe_verdict(NS_NFT_HOSTILE) == clean


def test_forged_markers_in_rule_comments_change_no_repair_plan(namespaces):
    clean = _repair_plan(NS_CLEAN)
    assert clean['complete'] is True and clean['actions'] == [] and clean['blocked_by'] == 'iptables', clean
    assert [spec for kind, spec, _order in clean['plan'] if kind == 'iptables_delete'] == ['-A INPUT -p tcp -m tcp --dport 10250 -j DROP']
    assert _repair_plan(NS_HOSTILE) == clean
