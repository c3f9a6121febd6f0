# -*- coding: utf-8 -*-
# Copyright (c) 2026 aks.tunnel contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Kubernetes API emulators seeded from the lab scenarios, for the konnectivity module tests (no network namespaces)."""

from __future__ import annotations

import os

import pytest

from ansible_collections.aks.tunnel.tests.lab import scenario
from ansible_collections.aks.tunnel.tests.lab.kube import KubeEmulator

pytest.importorskip('kubernetes')


@pytest.fixture
def kube_lab(tmp_path):
    """kube_lab(scenario name) -> a started KubeEmulator with .admin / .reader kubeconfig paths and .scenario."""
    labs = []

    def start(name):
        spec = scenario.load(name)
        state = str(tmp_path / ('kube-%s-%d' % (name, len(labs))))
        lab = KubeEmulator(scenario.lab_config(spec), state_dir=state).start()
        labs.append(lab)
        lab.scenario = spec
        lab.admin = lab.write_kubeconfig(os.path.join(state, 'kubeconfig-admin'), 'lab-admin')
        lab.reader = lab.write_kubeconfig(os.path.join(state, 'kubeconfig-reader'), 'lab-reader')
        return lab
    yield start
    for lab in labs:
        lab.stop()


def configmap_data(lab, name='konnectivity-agent-autoscaler'):
    return dict((lab.store.get_copy('configmaps', 'kube-system', name) or {}).get('data') or {})
