# -*- coding: utf-8 -*-
# Copyright (c) 2026 aks.tunnel contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import json
import os
from unittest.mock import MagicMock

import pytest

from ansible import context
from ansible.errors import AnsibleActionFail
from ansible.module_utils.common.collections import ImmutableDict

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
    assert result['summary'][1].startswith('nsg_blocks_10250'.ljust(max(len(c) for c in CAUSE_IDS) + 2) + 'PROBLEM -> OK')
    _action, result = run_action({'findings': findings(), 'cluster': CLUSTER, 'report_dir': str(tmp_path), 'display': False})
    assert not os.path.exists(str(tmp_path / 'report-before.json'))
    _action, result = run_action({'findings': findings('snat_exhaustion'), 'fail_on_problem': False, 'write': False,
                                  'report_dir': str(tmp_path / 'none')})
    assert result['fail'] is False and result['files'] == {} and not os.path.exists(str(tmp_path / 'none'))


@pytest.mark.parametrize('args, message', [
    ({}, 'give either evidence (the registered results of the aks.tunnel.diagnose role) or findings'),
    ({'findings': [], 'evidence': {}}, 'give either evidence'),
    ({'evidence': {'firewall': {}}}, 'evidence has unknown source(s) firewall'),
    ({'evidence': {}, 'causes': ['bogus']}, "unknown cause id 'bogus'"),
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


def test_report_from_evidence_counts_failed_checks_and_api_calls(tmp_path):
    """What the aks.tunnel.diagnose role passes: registered results, a failed one included; nothing counted in YAML."""
    model = {'cluster': {'name': 'aks-lab', 'resource_group': 'rg-aks-lab', 'node_count': 7, 'private_cluster': False},
             'tunnel': {'component': 'konnectivity'}, 'api_calls': {'arm': 10, 'kube': 2}}
    probe = {'findings': [make_finding('ufw_blocks_10250', 'problem', 'ufw is active', ['n1']),
                          make_finding('iptables_blocks_10250', 'ok', 'fine'), make_finding('egress_ports_blocked', 'ok', 'fine')],
             'run_commands': {'sources': 2, 'inspections': 1},
             'api_calls': {'arm': 14, 'kube': 0, 'throttled': 1, 'retries': 1, 'retry_wait_s': 2.0}}
    nsg = {'failed': True, 'msg': 'Failed to read NSG x (HTTP 403)', 'api_calls': {'arm': 2, 'kube': 0}}
    _action, result = run_action({'evidence': {'model': model, 'probe': probe, 'nsg': nsg},
                                  'causes': ['nsg_blocks_10250', 'ufw_blocks_10250', 'iptables_blocks_10250', 'egress_ports_blocked'],
                                  'cluster': {'name': 'ignored', 'resource_group': 'ignored'}, 'report_dir': str(tmp_path), 'display': False})
    report = result['report']
    assert report['cluster'] == CLUSTER
    statuses = dict((f['cause'], (f['status'], f['summary'])) for f in report['findings'])
    assert statuses['nsg_blocks_10250'] == ('unknown', 'check failed: nsg check failed: Failed to read NSG x (HTTP 403)')
    assert statuses['ufw_blocks_10250'] == ('problem', 'ufw is active')
    # The egress: the real probe from the tunnel nodes proved it open, which settles the failed static NSG evaluation;
    # that failure stays in the evidence.
    egress = next(f for f in report['findings'] if f['cause'] == 'egress_ports_blocked')
    assert egress['status'] == 'ok' and any('nsg check failed' in line for line in egress['evidence']), egress
    assert statuses['snat_exhaustion'][1].startswith('not checked in this run')
    assert report['stats'] == {'run_commands': 3, 'arm_calls': 26, 'kube_calls': 2, 'throttled': 1, 'retries': 1, 'retry_wait_s': 2.0,
                               'duration_s': None}
    assert result['problems'] == ['ufw_blocks_10250'] and result['fail'] is True


MODEL = {'cluster': {'name': 'aks-lab', 'resource_group': 'rg-aks-lab', 'node_count': 7, 'private_cluster': False},
         'tunnel': {'component': 'konnectivity'}, 'api_calls': {'arm': 1, 'kube': 1}}
OOM_BEFORE = {'findings': [make_finding('konnectivity_agent_scaling', 'problem', 'pod a container konnectivity-agent on n0 was OOMKilled (exit 137)',
                                        ['n0'], [], {'deployment_resources': {'container': 'konnectivity-agent', 'current_memory_limit': '32Mi',
                                                                              'suggested_memory_limit': '64Mi'}})]}


def agents(limit):
    return [{}, {'finding': make_finding('konnectivity_agent_scaling', 'ok', '2 konnectivity-agent pod(s) healthy'),
                 'pods': [{'name': 'b', 'containers': [{'name': 'konnectivity-agent', 'limits': {'memory': limit}}]}]}]


@pytest.mark.parametrize('limit, status, fail', [('32Mi', 'problem', True), ('64Mi', 'ok', False)])
def test_after_a_repair_oom_kills_stay_a_problem_until_the_limit_is_raised(tmp_path, limit, status, fail):
    """Issue 18: the recreated agent pods no longer show the OOM kills; the report before the repair keeps them."""
    _action, result = run_action({'evidence': {'model': MODEL, 'konnectivity': agents(limit)}, 'causes': ['konnectivity_agent_scaling'],
                                  'before': OOM_BEFORE, 'report_dir': str(tmp_path), 'display': False})
    konn = next(f for f in result['report']['findings'] if f['cause'] == 'konnectivity_agent_scaling')
    assert (konn['status'], result['fail']) == (status, fail), konn
    if status == 'problem':
        assert 'memory limit is still 32Mi, below the 64Mi' in konn['summary'] and 'PROBLEM -> PROBLEM' in '\n'.join(result['summary'])


def test_a_check_run_reports_the_plan_and_ends_green(tmp_path):
    before = {'findings': findings('ufw_blocks_10250')}
    _action, result = run_action({'findings': findings('ufw_blocks_10250'), 'cluster': CLUSTER, 'before': before, 'plan': True,
                                  'report_dir': str(tmp_path), 'extra_args': '-e @v.yml', 'display': False}, check_mode=True)
    assert result['fail'] is False and result['problems'] == ['ufw_blocks_10250']
    assert '  ufw_blocks_10250: ansible-playbook playbooks/remediate.yml --tags ufw -e @v.yml' in result['summary']
    assert result['verdict'].startswith('The remediation plan is above (check mode: nothing changed)')
    # A repair that could not even be planned fails the check run.
    _action, result = run_action({'findings': findings('ufw_blocks_10250'), 'cluster': CLUSTER, 'before': before, 'plan': True,
                                  'repairs_failed': ['ufw: n1 did not answer'], 'report_dir': str(tmp_path), 'display': False})
    assert result['fail'] is True and 'repairs that failed: ufw: n1 did not answer' in result['verdict']


def test_next_commands_repeat_the_command_line_of_the_run(tmp_path, monkeypatch):
    """Issue 18: the vars files, auth, kubeconfig and report dir the user passed; the sibling remediation playbook."""
    monkeypatch.setattr(context, 'CLIARGS', ImmutableDict({
        'args': ('playbooks/diagnose.yml',), 'inventory': (), 'vault_ids': (), 'vault_password_files': (), 'ask_vault_pass': False,
        'extra_vars': ('@/work/vars.yml', '{"aks_tunnel_azure_auth": {"auth_source": "cli"}}', 'aks_tunnel_report_dir=/tmp/r')}))
    _action, result = run_action({'findings': findings('nsg_blocks_10250'), 'cluster': CLUSTER, 'report_dir': str(tmp_path), 'display': False})
    assert ('  nsg_blocks_10250: ansible-playbook playbooks/remediate.yml --check --diff --tags nsg -e @/work/vars.yml '
            '-e \'{"aks_tunnel_azure_auth": {"auth_source": "cli"}}\' -e aks_tunnel_report_dir=/tmp/r') in result['summary']


def test_junit_times_from_the_source_times(tmp_path):
    _action, result = run_action({'findings': findings('nsg_blocks_10250'), 'cluster': CLUSTER, 'report_dir': str(tmp_path), 'display': False,
                                  'source_times': {'nsg': 2.5, 'probe': 7.25}})
    with open(result['files']['junit'], encoding='utf-8') as handle:
        junit = handle.read()
    assert 'name="nsg_blocks_10250: NSG rule blocks TCP 10250 between nodes" time="2.500"' in junit
    assert 'time="7.250"' in junit
