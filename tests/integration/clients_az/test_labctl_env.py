# -*- coding: utf-8 -*-
# Copyright (c) 2026 aks.tunnel contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""`labctl env` (issue 15): the printed lines point the real az and kubectl at the lab, so the article replays by hand."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest
import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(os.path.dirname(HERE)))
if os.path.join(REPO, '.tmp', 'dev') not in sys.path and 'ansible_collections' not in HERE:
    sys.path.insert(0, os.path.join(REPO, '.tmp', 'dev'))

from ansible_collections.aks.tunnel.tests.lab.arm import azcli  # noqa: E402  pylint: disable=wrong-import-position
from ansible_collections.aks.tunnel.tests.lab.dataplane import lab  # noqa: E402  pylint: disable=wrong-import-position

pytestmark = [pytest.mark.lab, pytest.mark.xdist_group('lab_clients_az')]

LABCTL = os.path.join(REPO, 'tests', 'lab', 'labctl.py')


def _kubectl():
    return os.path.exists(os.path.join(REPO, '.venv', 'bin', 'kubectl')) or shutil.which('kubectl')


@pytest.mark.skipif(os.geteuid() != 0, reason='the lab needs root')
@pytest.mark.skipif(azcli.find_az() is None or not _kubectl(), reason='az (.venv-az) or kubectl (.venv) is absent: run scripts/setup.sh')
def test_labctl_env_points_az_and_kubectl_at_the_lab(tmp_path):
    state = str(tmp_path / 'lab')
    lab.up('nsg-deny-10250', state, log=lambda _m: None)
    try:
        with open(os.path.join(state, 'vars.yml'), encoding='utf-8') as handle:
            lab_vars = yaml.safe_load(handle)
        env = subprocess.run([sys.executable, LABCTL, 'env', '--state', state], capture_output=True, text=True, timeout=180, check=True)
        lines = env.stdout.splitlines()
        assert lines[0] == 'export KUBECONFIG=%s' % os.path.join(state, 'kubeconfig') and any('AZURE_CONFIG_DIR=' in x for x in lines), env
        show = 'az aks show -g %s -n %s --query kubernetesVersion -o tsv' % (lab_vars['aks_tunnel_resource_group'],
                                                                             lab_vars['aks_tunnel_cluster_name'])
        script = '\n'.join([env.stdout, 'kubectl get nodes -o wide', show])
        out = subprocess.run(['bash', '-ec', script], capture_output=True, text=True, timeout=300, check=False,
                             env=dict(os.environ, HOME=str(tmp_path)))
        assert out.returncode == 0, (out.stdout, out.stderr)
        assert 'INTERNAL-IP' in out.stdout and 'aks-nodepool1-' in out.stdout, out.stdout
        assert out.stdout.strip().splitlines()[-1].count('.') == 2, out.stdout   # e.g. 1.31.2
    finally:
        lab.down(state, log=lambda _m: None)
