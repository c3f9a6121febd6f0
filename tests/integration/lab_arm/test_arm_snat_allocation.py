# -*- coding: utf-8 -*-
# Copyright (c) 2026 aks.tunnel contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The SNAT ports per node the lab's ARM emulator gives follow the Load Balancer's rules (issue 14).

Automatic allocation (allocatedOutboundPorts 0): the "Default port allocation table" by backend pool size, per
frontend IP, capped at 1024 (min(table x IPs, 1024): 100 VMs get 512 ports with one frontend IP, 1024 with two,
1024 with three); an explicit value is given as is, and it must fit 64000 ports per outbound IP for every node.
Before, the emulator ignored the outbound IP count.
"""

from __future__ import annotations

import datetime

import pytest

from ansible_collections.aks.tunnel.tests.lab import scenario
from ansible_collections.aks.tunnel.tests.lab.arm.common import LabConfigError
from ansible_collections.aks.tunnel.tests.lab.arm.state import ArmState


def state_for(nodes, ips, ports):
    spec = scenario.validate({'name': 'snat-allocation', 'cluster': {'name': 'aks-lab', 'resource_group': 'rg-aks-lab'},
                              'node_pools': [{'name': 'nodepool1', 'count': nodes}],
                              'snat': {'allocated_ports': ports, 'outbound_ips': ips}})
    return ArmState(dict(scenario.lab_config(spec), executor='null'))


@pytest.mark.parametrize('nodes, ips, ports, expected', [
    (3, 1, 0, 1024),        # 1-50 instances: 1024
    (3, 4, 0, 1024),        # capped at 1024 whatever the IPs
    (100, 1, 0, 512),       # the table's example: 100 VMs, one frontend IP
    (100, 2, 0, 1024),      # ... two frontend IPs
    (100, 3, 0, 1024),      # ... three: still 1024
    (150, 1, 0, 256),       # 101-200: 256 per IP
    (150, 3, 0, 768),
    (900, 1, 0, 32),        # 801-1000: 32 per IP
    (900, 4, 0, 128),
    (1001, 4, 0, 16),       # past the table: the lab's 16
    (5000, 1, 0, 8),        # ... or the largest share the IPs cover (64000 / 5000 = 12.8 -> 8)
    (20, 1, 2048, 2048),    # explicit: as set (20 x 2048 = 40960 <= 64000)
    (20, 2, 4000, 4000),    # 80000 ports fit two IPs
])
def test_ports_per_node_follow_the_load_balancer_rules(nodes, ips, ports, expected):
    assert state_for(nodes, ips, ports).effective_ports_per_node() == expected


def test_an_explicit_allocation_the_ips_cannot_cover_is_refused():
    with pytest.raises(LabConfigError, match=r'4000 allocated outbound ports x 20 nodes = 80000 ports, but 1 outbound IP\(s\) give only 64000'):
        state_for(20, 1, 4000)


def test_a_second_outbound_ip_doubles_the_automatic_allocation_from_that_moment():
    state = state_for(100, 1, 0)
    when = datetime.datetime(2026, 12, 4, 9, 0, tzinfo=datetime.timezone.utc)
    state.set_lb_profile(dict(state.lb_profile, managed_outbound_ip_count=2), when=when)
    assert state.ports_history() == [(None, 512), (when, 1024)]
