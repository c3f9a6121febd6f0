# -*- coding: utf-8 -*-
# Copyright (c) 2026 aks.tunnel contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Action plugin for aks.tunnel.tunnel_report: runs on the controller, so the report lands where ansible-playbook runs."""

from __future__ import annotations

import datetime
import os
import time

from ansible import constants as C
from ansible import context
from ansible.errors import AnsibleActionFail
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator
from ansible.module_utils.common.text.converters import to_native
from ansible.plugins.action import ActionBase

from ansible_collections.aks.tunnel.plugins.module_utils import _causes, _command_line, _evidence, _repair_proof, _report

ARGUMENT_SPEC = dict(
    evidence=dict(type='dict'),
    causes=dict(type='list', elements='str'),
    findings=dict(type='list', elements='raw'),
    cluster=dict(type='dict', default={}),
    checked=dict(type='list', elements='str'),
    errors=dict(type='dict', default={}),
    stats=dict(type='dict', default={}),
    started_at=dict(type='float'),
    report_dir=dict(type='path', default='aks-tunnel-report'),
    before=dict(type='dict'),
    fail_on_problem=dict(type='bool', default=True),
    fail_on_unknown=dict(type='bool', default=True),
    remediate_playbook=dict(type='str'),
    extra_args=dict(type='str'),
    plan=dict(type='bool', default=False),
    source_times=dict(type='dict', default={}),
    repairs_failed=dict(type='list', elements='str', default=[]),
    write=dict(type='bool', default=True),
    display=dict(type='bool', default=True),
)


def _next_command_parts(args):
    """(remediation playbook, arguments) of the suggested next commands: as given, else this run's own command line."""
    cliargs = context.CLIARGS or {}
    playbook = args['remediate_playbook'] or _command_line.remediate_playbook(cliargs.get('args'))
    extra_args = args['extra_args']
    if extra_args is None:
        words, _secrets = _command_line.replay_args(cliargs, default_inventory=C.DEFAULT_HOST_LIST)
        extra_args = _command_line.quote(words)
    return playbook, extra_args


def _write(path, text):
    """Write atomically (a reader never sees half a report)."""
    tmp = '%s.tmp.%d' % (path, os.getpid())
    with open(tmp, 'w', encoding='utf-8') as handle:
        handle.write(text)
    os.chmod(tmp, 0o644)
    os.replace(tmp, path)


def _evidence_list(value):
    if isinstance(value, dict):
        return [value]
    return [item for item in value or [] if isinstance(item, dict)]


class ActionModule(ActionBase):
    """Build the report from findings and stats, write report.json/report.md/junit.xml, return summary and verdict."""

    TRANSFERS_FILES = False
    _VALID_ARGS = frozenset(ARGUMENT_SPEC)
    _supports_check_mode = True

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        validation = ArgumentSpecValidator(ARGUMENT_SPEC).validate(self._task.args)
        if validation.error_messages:
            raise AnsibleActionFail('aks.tunnel.tunnel_report: %s' % '; '.join(validation.error_messages))
        args = validation.validated_parameters
        if (args['evidence'] is None) == (args['findings'] is None):
            raise AnsibleActionFail('aks.tunnel.tunnel_report: give either evidence (the registered results of the aks.tunnel.diagnose '
                                    'role) or findings (finding dicts of your own checks), not both and not neither')
        cluster = args['cluster']
        stats = dict(args['stats'] or {})
        findings, checked, errors = args['findings'], args['checked'], args['errors']
        failure = None
        if args['evidence'] is not None:
            # The report is computed from the results themselves: findings, failed checks and API-call totals.
            try:
                collected = _evidence.collect(args['evidence'], args['causes'])
            except (_evidence.EvidenceError, _causes.FindingError) as exc:
                raise AnsibleActionFail('aks.tunnel.tunnel_report: %s' % exc) from exc
            findings, checked = collected['findings'], collected['checked']
            if args['before'] and not args['plan']:
                # Recreated agent pods no longer show the OOM kills of the report before the repair: kept unless the limit was raised.
                kept = _repair_proof.oom_not_fixed(args['before'], _evidence_list(args['evidence'].get(_causes.SOURCE_KONNECTIVITY)), findings)
                if kept is not None and _causes.KONNECTIVITY_AGENT_SCALING in checked:
                    findings = findings + [kept]
            errors = dict(collected['errors'], **(errors or {}))
            stats = dict(collected['stats'], **stats)
            cluster = _evidence.cluster_of(args['evidence'].get(_evidence.MODEL), cluster)
            failure = collected['error']
        elif args['causes'] is not None and checked is None:
            checked = args['causes']
        if args['started_at'] is not None and stats.get('duration_s') is None:
            stats['duration_s'] = max(time.time() - args['started_at'], 0.0)
        generated_at = datetime.datetime.now(datetime.timezone.utc).strftime('%Y-%m-%dT%H:%M:%SZ')
        playbook, extra_args = _next_command_parts(args)
        plan = args['plan']
        try:
            report = _report.build_report(cluster, findings, stats, generated_at, checked, errors, failure)
            summary = _report.summary_lines(report, playbook, extra_args, args['before'], plan)
            markdown = _report.render_markdown(report, playbook, extra_args, args['before'], plan)
            junit = _report.render_junit(report, _report.cause_times(args['source_times']))
        except _report.ReportInputError as exc:
            raise AnsibleActionFail('aks.tunnel.tunnel_report: %s' % exc) from exc

        files = {}
        if args['write']:
            # Report files are the output of a diagnosis, not managed state: they are written in check mode too.
            directory = args['report_dir']
            try:
                os.makedirs(directory, exist_ok=True)
                names = [('json', 'report.json', _report.render_json(report)), ('markdown', 'report.md', markdown),
                         ('junit', 'junit.xml', junit)]
                if args['before']:
                    names.append(('before', 'report-before.json', _report.render_json(args['before'])))
                for key, name, text in names:
                    path = os.path.join(directory, name)
                    _write(path, text)
                    files[key] = os.path.abspath(path)
                stale = os.path.join(directory, 'report-before.json')
                if not args['before'] and os.path.exists(stale):
                    # A plain diagnosis must not leave the "before" of an older remediation next to its report.
                    os.remove(stale)
            except OSError as exc:
                raise AnsibleActionFail('aks.tunnel.tunnel_report: cannot write the report to %s: %s; set aks_tunnel_report_dir to a '
                                        'writable directory' % (directory, to_native(exc))) from exc

        if args['display']:
            # Printed as plain lines (not through the result callback's YAML/JSON folding): readable in a terminal and a CI log.
            rule = '=' * 100
            lines = [rule] + summary + (['Reports: %s' % ', '.join(files.values())] if files else []) + [rule]
            self._display.display('\n'.join(lines))
        # A check run of the remediation only planned: it fails when the diagnosis could not run or a repair could not be planned.
        fail = (report['outcome'] == _report.OUTCOME_ERROR if plan else _report.should_fail(report, args['fail_on_problem'], args['fail_on_unknown']))
        fail = fail or bool(args['repairs_failed'])
        verdict = _report.verdict_line(report, plan, args['repairs_failed'], files.get('markdown'))
        result.update(changed=False, report=report, problems=report['problems'], unknown=report['unknown'], outcome=report['outcome'],
                      summary=summary, files=files, fail=fail, verdict=verdict)
        return result
