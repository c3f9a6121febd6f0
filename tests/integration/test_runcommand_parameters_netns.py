# -*- coding: utf-8 -*-
# Copyright (c) 2026 aks.tunnel contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The iptables repair through the lab's Azure-faithful Run Command executor, with hostile rule comments.

On Azure the Linux Run Command handler pastes parameter values unquoted into the script
(``export arg1=...`` / ``set -- ...``), and the lab's NetnsExecutor does the same. A throwaway network
namespace plays the node: whoever can add an iptables rule there chooses the text of its comment.
The repair must delete the blocking rule whose comment is ``$(touch <marker>)`` without running it,
and carry kube-proxy comments with spaces intact.
"""

from __future__ import annotations

import os
import secrets
import subprocess

import pytest

from ansible_collections.aks.tunnel.plugins.module_utils import _firewall_fix as ff
from ansible_collections.aks.tunnel.tests.lab.dataplane.executor import NetnsExecutor

pytestmark = pytest.mark.netns

NODE = 'aks-hostile-node'
KUBE_COMMENT = 'kubernetes forwarding conntrack rule'


def ipt(ns, *args):
    proc = subprocess.run(['ip', 'netns', 'exec', ns, 'iptables', '-w', '5'] + list(args), capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


@pytest.fixture
def node(tmp_path):
    """(executor, namespace, marker path): a namespace with kube-proxy style rules and a hostile blocking rule."""
    ns = 'aksrp-%d-%s' % (os.getpid() % 100000, secrets.token_hex(3))
    subprocess.run(['ip', 'netns', 'add', ns], check=True, capture_output=True)
    marker_dir = tmp_path / ('aks-tunnel-hostile-%s' % secrets.token_hex(4))
    marker_dir.mkdir()
    marker = marker_dir / 'ran'
    backups = []
    try:
        ipt(ns, '-A', 'INPUT', '-m', 'conntrack', '--ctstate', 'RELATED,ESTABLISHED', '-m', 'comment', '--comment', KUBE_COMMENT, '-j', 'ACCEPT')
        ipt(ns, '-A', 'INPUT', '-p', 'tcp', '--dport', '10250', '-m', 'comment', '--comment', '$(touch %s)' % marker, '-j', 'DROP')
        ipt(ns, '-A', 'INPUT', '-p', 'tcp', '--dport', '22', '-m', 'comment', '--comment', '`touch %s`; "x" \\ *' % marker, '-j', 'DROP')
        yield NetnsExecutor({'nodes': {NODE: {'ns': ns, 'ip': '10.250.9.2'}}}), ns, marker, backups
    finally:
        subprocess.run(['ip', 'netns', 'del', ns], capture_output=True, check=False)
        for path in backups:
            if path and os.path.basename(path).startswith('iptables-hostile'):
                try:
                    os.unlink(path)
                except OSError:
                    pass


def run_fix(executor, params, backups):
    out, err = executor.run({'name': NODE}, ff.FIX_SCRIPT, params, 60)
    parsed = ff.parse_fix_output(out.decode(), 'hostile1')
    assert parsed['error'] is None and parsed['complete'], (out, err)
    backup = parsed['sections'].get('backup')
    if backup:
        backups.append(backup.get('path'))
    return parsed


def test_the_lab_executor_runs_a_raw_hostile_value_like_azure(node):
    """Control: the executor really pastes values into the script, so the test below would see a leak."""
    executor, _ns, marker, _backups = node
    executor.run({'name': NODE}, 'true', ['$(touch %s)' % marker], 30)
    assert marker.exists()


def test_hostile_comment_rule_is_deleted_and_its_command_never_runs(node):
    executor, ns, marker, backups = node
    before = ipt(ns, '-S', 'INPUT')
    hostile = next(line for line in before.splitlines() if '--dport 10250' in line)
    assert '$(touch ' in hostile

    inspected = run_fix(executor, ff.build_fix_parameters(apply=False, run_id='hostile1'), backups)
    state = ff.firewall_state(inspected['sections'])
    assert hostile in state['iptables_blocking']
    actions, _unresolved = ff.plan_actions(state, inspected['sections'], ufw='ignore', iptables='delete_blocking')
    specs = [a['spec'] for a in actions if a['type'] == 'iptables_delete']
    assert specs == [hostile]

    applied = run_fix(executor, ff.build_fix_parameters(apply=True, ufw='ignore', delete_specs=specs, run_id='hostile1'), backups)
    assert [(a['kind'], a['rc']) for a in applied['actions']] == [('del', 0)]
    after = ipt(ns, '-S', 'INPUT')
    assert after.splitlines() == [line for line in before.splitlines() if line != hostile]
    assert not marker.exists()


def test_kube_proxy_comment_with_spaces_and_shell_text_survive_transport(node):
    """Every rule spec reaches iptables -C/-D token for token: a rule with a comment full of spaces,
    quotes, backticks and a glob is found and deleted exactly, and nothing else changes."""
    executor, ns, marker, backups = node
    before = ipt(ns, '-S', 'INPUT').splitlines()
    kube = next(line for line in before if KUBE_COMMENT in line)
    odd = next(line for line in before if '--dport 22' in line)
    assert '"%s"' % KUBE_COMMENT in kube
    applied = run_fix(executor, ff.build_fix_parameters(apply=True, ufw='ignore', delete_specs=[kube, odd], run_id='hostile1'), backups)
    assert [(a['kind'], a['rc'], a['absent']) for a in applied['actions']] == [('del', 0, False), ('del', 0, False)]
    assert ipt(ns, '-S', 'INPUT').splitlines() == [line for line in before if line not in (kube, odd)]
    # a second run finds them absent (the rule spec still decodes to the same tokens)
    again = run_fix(executor, ff.build_fix_parameters(apply=True, ufw='ignore', delete_specs=[kube, odd], run_id='hostile1'), backups)
    assert [a['absent'] for a in again['actions']] == [True, True]
    assert not marker.exists()
