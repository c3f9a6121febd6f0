# -*- coding: utf-8 -*-
# Copyright (c) 2026 aks.tunnel contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import json
import os
from unittest.mock import MagicMock

import pytest

from ansible.errors import AnsibleActionFail

from ansible_collections.aks.tunnel.plugins.action.tunnel_report import ActionModule
from ansible_collections.aks.tunnel.plugins.module_utils._causes import CAUSE_IDS, make_finding

CLUSTER = {'name': 'aks-lab', 'resource_group': 'rg-aks-lab', 'tunnel_component': 'konnectivity', 'node_count': 7, 'private': False}


def run_action(args, check_mode=False):
    task = MagicMock()
    task.args = args
    task.async_val = 0
    task.check_mode = check_mode
    play_context = MagicMock()
    play_context.check_mode = check_mode
    action = ActionModule(task, MagicMock(), play_context, MagicMock(), MagicMock(), MagicMock())
    action._display = MagicMock()  # pylint: disable=protected-access
    return action, action.run(task_vars={})


def findings(problem=None):
    out = [make_finding(cause, 'ok', 'fine') for cause in CAUSE_IDS]
    if problem:
        out.append(make_finding(problem, 'problem', 'broken', ['n1']))
    return out


@pytest.mark.parametrize('check_mode', [False, True])
def test_writes_the_three_files_and_returns_the_verdict(tmp_path, check_mode):
    report_dir = str(tmp_path / 'out' / 'report')
    action, result = run_action({'findings': findings('ufw_blocks_10250'), 'cluster': CLUSTER, 'stats': {'run_commands': 3},
                                 'started_at': 0.0, 'report_dir': report_dir, 'extra_args': '-e @v.yml'}, check_mode)
    assert result['changed'] is False and result['fail'] is True
    assert result['problems'] == ['ufw_blocks_10250']
    assert sorted(os.listdir(report_dir)) == ['junit.xml', 'report.json', 'report.md']
    with open(os.path.join(report_dir, 'report.json'), encoding='utf-8') as handle:
        written = json.load(handle)
    assert written == result['report'] and written['stats']['run_commands'] == 3 and written['stats']['duration_s'] > 0
    assert result['files']['json'] == os.path.join(report_dir, 'report.json')
    assert 'ufw_blocks_10250: ansible-playbook playbooks/remediate.yml --check --diff --tags ufw -e @v.yml' in '\n'.join(result['summary'])
    printed = action._display.display.call_args[0][0]  # pylint: disable=protected-access
    assert result['summary'][0] in printed


def test_no_problem_no_fail_and_before_file(tmp_path):
    before = {'findings': [make_finding('nsg_blocks_10250', 'problem', 'x')]}
    _action, result = run_action({'findings': findings(), 'cluster': CLUSTER, 'report_dir': str(tmp_path), 'before': before,
                                  'display': False})
    assert result['fail'] is False and result['problems'] == []
    assert os.path.exists(str(tmp_path / 'report-before.json'))
    assert result['summary'][1].startswith('nsg_blocks_10250            PROBLEM -> OK')
    _action, result = run_action({'findings': findings(), 'cluster': CLUSTER, 'report_dir': str(tmp_path), 'display': False})
    assert not os.path.exists(str(tmp_path / 'report-before.json'))
    _action, result = run_action({'findings': findings('snat_exhaustion'), 'fail_on_problem': False, 'write': False,
                                  'report_dir': str(tmp_path / 'none')})
    assert result['fail'] is False and result['files'] == {} and not os.path.exists(str(tmp_path / 'none'))


@pytest.mark.parametrize('args, message', [
    ({}, 'missing required arguments: findings'),
    ({'findings': [{'cause': 'bogus', 'status': 'ok'}]}, "findings[0] has unknown cause 'bogus'"),
    ({'findings': [], 'stats': {'calls': 1}}, 'stats has unknown key(s) calls'),
])
def test_bad_input_fails_with_a_clear_message(tmp_path, args, message):
    args = dict(args, report_dir=str(tmp_path))
    with pytest.raises(AnsibleActionFail) as exc:
        run_action(args)
    assert message in str(exc.value)


def test_unwritable_directory(tmp_path):
    blocker = tmp_path / 'file'
    blocker.write_text('x')
    with pytest.raises(AnsibleActionFail) as exc:
        run_action({'findings': findings(), 'report_dir': str(blocker / 'sub')})
    assert 'cannot write the report to' in str(exc.value) and 'aks_tunnel_report_dir' in str(exc.value)
