# -*- coding: utf-8 -*-
# Copyright (c) 2026 aks.tunnel contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The full diagnose playbook with the lowest SDK set of requirements.txt (.venv-compat), opt-in.

test_sdk_range_smoke.py runs the modules with both range ends; this runs playbooks/diagnose.yml itself with the ansible-playbook
and Python of .venv-compat (azure-mgmt-network 25.0.0, -compute 30.0.0, -containerservice 30.0.0, -monitor 6.0.0, kubernetes
29.0.0) on the all-faults lab: the report names exactly the scenario's causes, every ARM request was made at the lowest SDKs'
api-versions and every answer fits the swagger of its version. The highest set (.venv) runs the same playbook in
test_playbooks_lab.py. Not in `make test` (its time budget is spent): AKS_TUNNEL_SDK_FLOOR_PLAYBOOK=1 runs it; `make compat-sdk`
sets it (docs/testing.md has the timing).
"""

from __future__ import annotations

import os
import subprocess

import pytest

from ansible_collections.aks.tunnel.tests.integration.lab_arm.test_sdk_range_smoke import SENT_VERSIONS, arm_journal, sdk_bindir
from ansible_collections.aks.tunnel.tests.integration.modules_konnectivity.playbook_runner import collections_path
from ansible_collections.aks.tunnel.tests.integration.playbooks.test_playbooks_lab import TIMEOUT, PlaybookLab, Run, assert_report
from ansible_collections.aks.tunnel.tests.lab import swagger

pytestmark = [pytest.mark.lab, pytest.mark.skipif(os.environ.get('AKS_TUNNEL_SDK_FLOOR_PLAYBOOK') != '1',
                                                  reason='opt-in: AKS_TUNNEL_SDK_FLOOR_PLAYBOOK=1 (make compat-sdk)')]


def test_diagnose_playbook_with_the_lowest_sdk_set(tmp_path):
    bindir = sdk_bindir('lowest')
    env = PlaybookLab(tmp_path, 'all-faults')
    try:
        work = tmp_path / 'run'
        work.mkdir()
        (work / 'ansible.cfg').write_text('[defaults]\nstdout_callback = default\n', encoding='utf-8')
        report_dir = str(work / 'report')
        playbook = os.path.join(collections_path(), 'ansible_collections', 'aks', 'tunnel', 'playbooks', 'diagnose.yml')
        run_env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=collections_path(), ANSIBLE_CONFIG=str(work / 'ansible.cfg'), ANSIBLE_NOCOLOR='1',
                       ANSIBLE_LOCALHOST_WARNING='False', ANSIBLE_INVENTORY_UNPARSED_WARNING='False', ANSIBLE_DEPRECATION_WARNINGS='0',
                       ANSIBLE_PYTHON_INTERPRETER=os.path.join(bindir, 'python'), PYTHONDONTWRITEBYTECODE='1',
                       PATH=bindir + os.pathsep + os.environ.get('PATH', ''))
        run_env.pop('PYTHONPATH', None)
        proc = subprocess.run([os.path.join(bindir, 'ansible-playbook'), playbook, '-e', '@' + env.vars_file, '-e', 'aks_tunnel_report_dir=' + report_dir],
                              cwd=str(work), env=run_env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=TIMEOUT, check=False)
        run = Run(proc, report_dir)
        assert_report(run, env.expect)
        assert run.changed == 0, run
        entries = [e for e in arm_journal(env.vars_file) if e['spec']]
        sent = {(e['spec'][0], e['api_version']) for e in entries if e['spec'][0] in ('aks', 'compute', 'runcommand', 'network', 'metrics')}
        assert SENT_VERSIONS['lowest'] <= sent, sent
        schemas = swagger.SwaggerSchemas()
        for entry in entries:
            schemas.validate_journal_entry(entry)
    finally:
        env.down()
