# -*- coding: utf-8 -*-
# Copyright (c) 2026 aks.tunnel contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The emulator process: starts in under 2 s, serves TLS for 127.0.0.1 and localhost, stops cleanly."""

from __future__ import annotations

import os
import socket
import ssl
import threading

import pytest
import requests

from ansible_collections.aks.tunnel.tests.lab.arm import ArmEmulator, NullExecutor
from ansible_collections.aks.tunnel.tests.lab.arm.common import LabConfigError


def test_process_starts_quickly_and_stops_cleanly(arm_launcher, tmp_path):
    start, stop, config = arm_launcher
    proc, info, elapsed = start(str(tmp_path), config)
    try:
        # 2 s on an idle machine; loose for a loaded CI machine
        assert elapsed < 10.0, 'emulator took %.2fs to start' % elapsed
        assert info['url'].startswith('https://127.0.0.1:')
        assert os.path.exists(os.path.join(str(tmp_path), 'arm-ready.json'))
        with open(info['admin_token_path'], encoding='utf-8') as handle:
            token = handle.read()
        assert oct(os.stat(info['admin_token_path']).st_mode & 0o777) == '0o600'
        localhost_url = info['url'].replace('127.0.0.1', 'localhost')
        response = requests.get(localhost_url + '/_lab/state', headers={'Authorization': 'Bearer ' + token}, verify=info['ca_path'], timeout=10)
        assert response.status_code == 200
        assert response.json()['node_resource_group'] == 'MC_lab-rg_labaks_westeurope'
        # an idle keep-alive connection must not block shutdown
        idle = socket.create_connection(('127.0.0.1', info['port']))
        idle_tls = ssl.create_default_context(cafile=info['ca_path']).wrap_socket(idle, server_hostname='127.0.0.1')
    finally:
        assert stop(proc) == 0
    idle_tls.close()
    assert not os.path.exists(os.path.join(str(tmp_path), 'arm-ready.json'))
    with pytest.raises(OSError):
        socket.create_connection(('127.0.0.1', info['port']), timeout=1)


def test_bad_config_exits_with_message(arm_launcher, tmp_path):
    start, _stop, _config = arm_launcher
    with pytest.raises(RuntimeError) as info:
        start(str(tmp_path), {'cluster': {'name': 'x'}, 'node_pools': [{'name': 'np', 'count': 1}]})
    assert "ARM emulator config cluster: 'resource_group' is a required property" in str(info.value)


@pytest.mark.parametrize('config, fragment', [
    ({'cluster': {'name': 'a', 'resource_group': 'b'}, 'node_pools': []}, 'node_pools: [] should be non-empty'),
    ({'cluster': {'name': 'a', 'resource_group': 'b', 'load_balancer_profile': {'allocated_outbound_ports': 12}},
      'node_pools': [{'name': 'np', 'count': 1}]}, 'cluster.load_balancer_profile.allocated_outbound_ports: 12 is not a multiple of 8'),
    ({'cluster': {'name': 'a', 'resource_group': 'b'}, 'node_pools': [{'name': 'np', 'count': 1}], 'clients': [{'client_id': 'x'}]},
     "clients.0: 'client_secret' is a required property"),
    ({'cluster': {'name': 'a', 'resource_group': 'b'}, 'node_pools': [{'name': 'np', 'count': 1}],
      'network': {'nsgs': {'n': {'security_rules': [{'name': 'r', 'properties': {'priority': 1}}]}}}}, 'NSG n rule r'),
    ({'cluster': {'name': 'a', 'resource_group': 'b'}, 'node_pools': [{'name': 'np', 'count': 1}], 'faults': [{'type': 'explode'}]},
     "fault type 'explode' is unknown"),
])
def test_config_errors_in_process(config, fragment):
    with pytest.raises(LabConfigError) as info:
        ArmEmulator(config, executor=NullExecutor())
    assert fragment in str(info.value)


def test_in_process_stop_leaves_no_threads(tmp_path):
    before = {t.name for t in threading.enumerate()}
    emu = ArmEmulator({'cluster': {'name': 'a', 'resource_group': 'b'}, 'node_pools': [{'name': 'np', 'count': 1}]}, executor=NullExecutor())
    emu.start()
    state_dir = emu.state_dir
    assert requests.get(emu.url + '/_lab/health', verify=emu.ca_path, timeout=10).json() == {'ok': True}
    emu.stop()
    assert 'arm-emulator' not in {t.name for t in threading.enumerate()} - before
    assert not os.path.exists(state_dir)


def test_only_loopback_binds():
    with pytest.raises(LabConfigError):
        ArmEmulator({'cluster': {'name': 'a', 'resource_group': 'b'}, 'node_pools': [{'name': 'np', 'count': 1}]}, host='0.0.0.0')
