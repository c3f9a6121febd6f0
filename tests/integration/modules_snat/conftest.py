# -*- coding: utf-8 -*-
# Copyright (c) 2026 aks.tunnel contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""ARM emulators seeded from the lab scenarios, for the SNAT module tests (control plane only)."""

from __future__ import annotations

import pytest

from ansible_collections.aks.tunnel.tests.lab import scenario
from ansible_collections.aks.tunnel.tests.lab.arm import ArmEmulator

pytest.importorskip('azure.mgmt.containerservice')


def arm_config(spec, **cluster):
    """scenario.lab_config() with cluster overrides. Its SNAT metrics come from the lab's workload model, which
    follows the load balancer profile's history, so a repair by aks_outbound_ports shows up as it would on Azure."""
    spec = dict(spec, cluster=dict(spec['cluster'], **cluster))
    return scenario.lab_config(spec)


@pytest.fixture
def arm_lab(tmp_path):
    """arm_lab(scenario name, **cluster overrides) -> started ArmEmulator with .auth (contributor) / .reader option dicts."""
    labs = []

    def start(name, **cluster):
        spec = scenario.load(name)
        lab = ArmEmulator(arm_config(spec, **cluster), state_dir=str(tmp_path / ('arm-%s-%d' % (name, len(labs))))).start()
        labs.append(lab)
        lab.scenario = spec
        common = {'subscription_id': lab.state.subscription_id, 'tenant': lab.state.tenant_id, 'arm_endpoint': lab.url,
                  'authority_host': lab.url, 'ca_path': lab.ca_path, 'resource_group': lab.state.resource_group, 'name': lab.state.cluster_name}
        lab.auth = dict(common, client_id=scenario.LAB_CLIENT['client_id'], secret=scenario.LAB_CLIENT['client_secret'])
        lab.reader = dict(common, client_id=scenario.LAB_READONLY_CLIENT['client_id'], secret=scenario.LAB_READONLY_CLIENT['client_secret'])
        lab.node_by_ip = {node['ip']: node['name'] for node in lab.state.topology['nodes']}
        return lab
    yield start
    for lab in labs:
        lab.stop()
