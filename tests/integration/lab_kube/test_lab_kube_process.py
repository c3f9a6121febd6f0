# -*- coding: utf-8 -*-
# Copyright (c) 2026 aks.tunnel contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The emulator as a process (python -m ...lab.kube) and in-process start/stop timing."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest
import yaml
from kubernetes import client, config as kube_config

from ansible_collections.aks.tunnel.tests.lab.kube import KubeEmulator
from ansible_collections.aks.tunnel.tests.lab.kube.control import LabControlError, LabKubeControl


def test_in_process_start_under_2s_and_clean_stop(base_config, tmp_path):
    started = time.monotonic()
    lab = KubeEmulator(base_config, state_dir=str(tmp_path)).start()
    assert time.monotonic() - started < 2
    path = lab.write_kubeconfig(str(tmp_path / 'kubeconfig'))
    api_client = kube_config.new_client_from_config(config_file=path)
    assert len(client.CoreV1Api(api_client).list_node().items) == 5
    api_client.close()
    stopped = time.monotonic()
    lab.stop()
    assert time.monotonic() - stopped < 2
    lab.stop()  # idempotent
    lab.start()  # and restartable, with the same objects
    path = lab.write_kubeconfig(str(tmp_path / 'kubeconfig2'))
    api_client = kube_config.new_client_from_config(config_file=path)
    assert len(client.CoreV1Api(api_client).list_node().items) == 5
    api_client.close()
    lab.stop()


def test_stop_with_open_keepalive_connection(base_config, tmp_path):
    lab = KubeEmulator(base_config, state_dir=str(tmp_path)).start()
    api_client = kube_config.new_client_from_config(config_file=lab.write_kubeconfig(str(tmp_path / 'kubeconfig')))
    client.CoreV1Api(api_client).list_node()  # leaves a pooled keep-alive connection open
    stopped = time.monotonic()
    lab.stop()
    assert time.monotonic() - stopped < 2
    api_client.close()


def test_subprocess_writes_kubeconfigs_and_stops_on_sigterm(base_config, tmp_path):
    config_path = tmp_path / 'config.json'
    config_path.write_text(json.dumps(base_config))
    state = tmp_path / 'state'
    env = dict(os.environ)
    started = time.monotonic()
    proc = subprocess.Popen([sys.executable, '-m', 'ansible_collections.aks.tunnel.tests.lab.kube', '--state-dir', str(state),
                             '--config', str(config_path)], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        ready = state / 'ready'
        while not ready.exists():
            assert proc.poll() is None, proc.stderr.read()
            assert time.monotonic() - started < 10
            time.sleep(0.05)
        marker = json.loads(ready.read_text())
        assert marker['url'].startswith('https://127.0.0.1:') and marker['pid'] == proc.pid and marker['nodes'] == 5
        assert sorted(os.listdir(state)) == ['kubeconfig', 'kubeconfig-cert', 'kubeconfig-readonly', 'pki', 'ready']
        control = LabKubeControl.from_state_dir(str(state))
        assert control.state()['nodes'] == 5
        control.add_nodes('user1', 1)
        for name in ('kubeconfig', 'kubeconfig-cert', 'kubeconfig-readonly'):
            api_client = kube_config.new_client_from_config(config_file=str(state / name))
            try:
                assert len(client.CoreV1Api(api_client).list_node().items) == 6
            finally:
                api_client.close()
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=10)
    assert proc.returncode == 0, err
    assert 'ready at https://127.0.0.1:' in out and 'stopped' in out
    assert not (state / 'ready').exists()


def test_subprocess_bad_config_exits_nonzero(tmp_path):
    config_path = tmp_path / 'config.json'
    config_path.write_text(json.dumps({'cluster': {'name': 'x', 'resource_group': 'y'}, 'node_pools': [{'name': 'p', 'count': 1}],
                                       'kube': {'tunnel': 'carrier-pigeon'}}))
    result = subprocess.run([sys.executable, '-m', 'ansible_collections.aks.tunnel.tests.lab.kube', '--state-dir', str(tmp_path / 's'),
                             '--config', str(config_path)], capture_output=True, text=True, timeout=30, check=False)
    assert result.returncode == 1
    assert "tunnel 'carrier-pigeon' is unknown" in result.stderr


def test_control_calls_over_https(make_lab, client_for, tmp_path):
    lab = make_lab()
    with open(lab.kubeconfigs['lab-admin'], encoding='utf-8') as handle:
        token = yaml.safe_load(handle)['users'][0]['user']['token']
    control = LabKubeControl(lab.url, lab.ca_path, token)
    name = control.set_node_unschedulable('nodepool1-2')['metadata']['name']
    core = client.CoreV1Api(client_for(lab))
    assert core.read_node(name).spec.unschedulable is True
    pod = control.tunnel_pods()[0]['metadata']['name']
    control.mark_pod_oom_killed('kube-system', pod, times=2, crashloop=True)
    assert core.read_namespaced_pod(pod, 'kube-system').status.container_statuses[0].state.waiting.reason == 'CrashLoopBackOff'
    state = control.state()
    assert state['tunnel'] == 'konnectivity' and pod in state['tunnel_pods'] and state['cpa']['last_status']['schedulable_nodes'] == 3
    with pytest.raises(LabControlError) as info:
        control.call('stop')
    assert "lab control 'stop' is unknown" in str(info.value)
    with pytest.raises(LabControlError) as info:
        control.set_node_ready('nodepool7-0')
    assert "no node 'nodepool7-0'" in str(info.value)
    with open(lab.kubeconfigs['lab-reader'], encoding='utf-8') as handle:
        reader = LabKubeControl(lab.url, lab.ca_path, yaml.safe_load(handle)['users'][0]['user']['token'])
    with pytest.raises(LabControlError) as info:
        reader.state()
    assert 'HTTP 403' in str(info.value)
