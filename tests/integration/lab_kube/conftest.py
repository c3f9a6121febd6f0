# -*- coding: utf-8 -*-
# Copyright (c) 2026 aks.tunnel contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Fixtures for the Kubernetes API emulator tests: emulators started in-process, real `kubernetes` clients."""

from __future__ import annotations

import copy
import os

import pytest

from ansible_collections.aks.tunnel.tests.lab.kube import KubeEmulator

kubernetes = pytest.importorskip('kubernetes')

BASE_CONFIG = {
    'cluster': {'name': 'aks-lab', 'resource_group': 'rg-lab', 'location': 'westeurope'},
    'node_pools': [
        {'name': 'nodepool1', 'count': 3, 'vm_size': 'Standard_D2s_v3', 'mode': 'System'},
        {'name': 'user1', 'count': 2, 'vm_size': 'Standard_D4s_v3', 'allocatable_cpu': '3860m', 'allocatable_memory': '12884Mi'},
    ],
    'kube': {
        'random_seed': 7,
        'nodes': {'cordoned': ['user1-1']},
        'konnectivity': {
            'replicas': 2,
            'memory_limit': '64Mi',
            'nodes': ['nodepool1-0', 'nodepool1-1'],
            'oom': [{'pod': 0, 'times': 4, 'system_oom': True}],
        },
        'events': [{'type': 'OOMKilling', 'node': 'user1-0', 'comm': 'java', 'minutes_ago': 12}],
        'metrics': {'node_default': {'cpu': '250m', 'memory': '2000Mi'}, 'nodes': {'nodepool1-0': {'cpu': '1500m', 'memory': '4000Mi'}},
                    'pods': {'konnectivity-agent': {'cpu': '7m', 'memory': '60Mi'}}},
    },
}

KUBECONFIG_USERS = ('lab-admin', 'lab-admin-cert', 'lab-reader', 'lab-reader-cert', 'lab-noaccess')


@pytest.fixture
def base_config():
    return copy.deepcopy(BASE_CONFIG)


@pytest.fixture(scope='session')
def kube_lab(tmp_path_factory):
    """A shared emulator for read-only tests. Tests that change the cluster use make_lab instead."""
    state = tmp_path_factory.mktemp('kube-lab')
    lab = KubeEmulator(copy.deepcopy(BASE_CONFIG), state_dir=str(state)).start()
    lab.kubeconfigs = {user: lab.write_kubeconfig(os.path.join(str(state), 'kubeconfig-' + user), user) for user in KUBECONFIG_USERS}
    yield lab
    lab.stop()


@pytest.fixture
def make_lab(tmp_path):
    """Factory: make_lab(config) -> a started emulator with .kubeconfigs, stopped after the test."""
    labs = []

    def factory(config=None):
        state = tmp_path / ('lab%d' % len(labs))
        lab = KubeEmulator(copy.deepcopy(config or BASE_CONFIG), state_dir=str(state)).start()
        labs.append(lab)
        lab.kubeconfigs = {user: lab.write_kubeconfig(str(state / ('kubeconfig-' + user)), user) for user in KUBECONFIG_USERS}
        return lab
    yield factory
    for lab in labs:
        lab.stop()


@pytest.fixture
def client_for():
    """client_for(lab, user='lab-admin') -> kubernetes.client.ApiClient built from that user's kubeconfig."""
    clients = []

    def factory(lab, user='lab-admin'):
        api_client = kubernetes.config.new_client_from_config(config_file=lab.kubeconfigs[user])
        clients.append(api_client)
        return api_client
    yield factory
    for api_client in clients:
        api_client.close()
