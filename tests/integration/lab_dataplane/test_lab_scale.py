# -*- coding: utf-8 -*-
# Copyright (c) 2026 aks.tunnel contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""SLOW (about 30-60 s): the scale-5000 scenario through `labctl up`, then one run command through the
ARM SDK on a tunnel node that probes all 5000 kubelets with the collection's probe script.
Set AKS_TUNNEL_LAB_SKIP_SCALE=1 to skip it."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest
import yaml

from ansible_collections.aks.tunnel.plugins.module_utils import _probe_scripts as probes
from ansible_collections.aks.tunnel.tests.lab import scenario as scenario_mod
from ansible_collections.aks.tunnel.tests.lab.dataplane import lab

pytestmark = [pytest.mark.lab, pytest.mark.xdist_group('lab_dataplane'),
              pytest.mark.skipif(os.environ.get('AKS_TUNNEL_LAB_SKIP_SCALE') == '1', reason='AKS_TUNNEL_LAB_SKIP_SCALE=1')]

LABCTL = os.path.join(os.path.dirname(os.path.abspath(scenario_mod.__file__)), 'labctl.py')


def _mem_available_kib():
    with open('/proc/meminfo', encoding='ascii') as handle:
        for line in handle:
            if line.startswith('MemAvailable:'):
                return int(line.split()[1])
    return 0


def _rss_kib(pids):
    total = 0
    for pid in pids:
        try:
            with open('/proc/%d/status' % pid, encoding='ascii') as handle:
                total += next(int(line.split()[1]) for line in handle if line.startswith('VmRSS:'))
        except (OSError, StopIteration):
            pass
    return total


def test_scale_5000_up_under_3_minutes_and_a_tunnel_node_reaches_every_kubelet(tmp_path):
    from azure.identity import ClientSecretCredential  # pylint: disable=import-outside-toplevel
    from azure.mgmt.compute import ComputeManagementClient  # pylint: disable=import-outside-toplevel

    state = str(tmp_path / 'scale')
    available_before = _mem_available_kib()
    started = time.monotonic()
    env = dict(os.environ, PYTHONPATH=lab.python_path())
    try:
        proc = subprocess.run([sys.executable, LABCTL, 'up', '--scenario', 'scale-5000', '--state', state], capture_output=True, text=True,
                              env=env, timeout=300, check=False)
        up_seconds = time.monotonic() - started
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert up_seconds < 180
        record = lab.status(state)
        daemons_kib = _rss_kib([p['pid'] for p in record['processes']])
        used_kib = max(available_before - _mem_available_kib(), daemons_kib)
        assert used_kib < 4 * 1024 * 1024
        assert len(record['nodes']) == 5000

        with open(os.path.join(state, 'vars.yml'), encoding='utf-8') as handle:
            data = yaml.safe_load(handle)
        auth = data['aks_tunnel_azure_auth']
        cred = ClientSecretCredential(auth['tenant'], auth['client_id'], auth['secret'], authority=auth['authority_host'],
                                      disable_instance_discovery=True, connection_verify=auth['ca_path'])
        compute = ComputeManagementClient(cred, auth['subscription_id'], base_url=auth['arm_endpoint'],
                                          credential_scopes=[auth['arm_endpoint'] + '/.default'], connection_verify=auth['ca_path'],
                                          polling_interval=1)
        tunnel = data['aks_tunnel_lab']['tunnel_nodes'][-1]
        node = next(n for n in record['nodes'] if n['name'] == tunnel)
        vmss, index = tunnel[:-6], int(tunnel[-6:], 36)
        targets = sorted(((n['ip'], 10250) for n in record['nodes']), key=lambda t: tuple(int(x) for x in t[0].split('.')))
        script, params = probes.build_probe(['connect'], targets=targets, timeout=3, parallelism=128)
        probe_started = time.monotonic()
        poller = compute.virtual_machine_scale_set_vms.begin_run_command(
            data['aks_tunnel_lab']['node_resource_group'], vmss, str(index),
            {'commandId': 'RunShellScript', 'script': script.splitlines(),
             'parameters': [{'name': 'p%d' % i, 'value': v} for i, v in enumerate(params)]})
        message = poller.result(timeout=240).value[0].message
        result = probes.parse_probe_output(message, targets=targets)
        assert result['complete'], message[-2000:]
        assert result['counts']['succeeded'] == 5000, result['counts']
        print('scale-5000: up %.1fs, memory %.0f MiB (daemons %.0f MiB), probe of 5000 kubelets from %s (%s) %.1fs'
              % (up_seconds, used_kib / 1024, daemons_kib / 1024, tunnel, node['ns'], time.monotonic() - probe_started))
    finally:
        lab.down(state, log=lambda _m: None)
