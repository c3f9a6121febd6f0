# -*- coding: utf-8 -*-
# Copyright (c) 2026 aks.tunnel contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The bridge rules for the path between nodes besides the NSGs (tests/lab/dataplane/path.py, issue 12): admin rules before
the NSGs (Outbound then Inbound, priority order, Deny drops, Allow/AlwaysAllow return), the route each node IP really gets
(a more specific VnetLocal user route wins over the appliance route), blackholes, unexplained drops. No root needed; with
root the ruleset is also checked by nft itself (`nft -c`, nothing is loaded)."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest

from ansible_collections.aks.tunnel.tests.lab import scenario as scenario_mod
from ansible_collections.aks.tunnel.tests.lab.dataplane import path
from ansible_collections.aks.tunnel.tests.lab.topology import build_topology

BASE = {'name': 'unit', 'cluster': {'name': 'aks-lab', 'resource_group': 'rg-aks-lab'},
        'node_pools': [{'name': 'nodepool1', 'count': 2}, {'name': 'user1', 'count': 2}]}


def _render(**faults):
    scenario = scenario_mod.validate(dict(BASE, faults=faults))
    topology = build_topology(scenario)
    return path.render(scenario_mod.lab_config(scenario), topology, '10.240.0.1'), dict((n['short'], n['ip']) for n in topology['nodes'])


def test_admin_rules_in_priority_order_before_the_nsgs():
    text, ips = _render(admin_rules=[
        {'name': 'allow-first', 'priority': 5, 'direction': 'Inbound', 'access': 'AlwaysAllow', 'destination_nodes': ['user1-0'],
         'destination_ports': ['10250']},
        {'name': 'deny-kubelet', 'priority': 10, 'direction': 'Inbound', 'access': 'Deny', 'destination_ports': ['10250']},
        {'name': 'deny-out', 'priority': 7, 'direction': 'Outbound', 'access': 'Deny', 'protocol': 'Udp', 'destination_ports': ['53']}])
    assert 'type filter hook forward priority -10; policy accept;' in text  # before table aksnsg (priority 0)
    inbound = text[text.index('chain admin_in'):text.index('chain forward')]
    assert inbound.index('AlwaysAllow-allow-first') < inbound.index('Deny-deny-kubelet')
    assert 'ip daddr { %s/32 } meta l4proto tcp th dport { 10250 } counter return' % ips['user1-0'] in inbound
    assert 'meta l4proto tcp th dport { 10250 } counter drop comment "admin-inbound:Deny-deny-kubelet:10"' in inbound
    outbound = text[text.index('chain admin_out'):text.index('chain admin_in')]
    assert 'meta l4proto udp th dport { 53 } counter drop' in outbound
    forward = text[text.index('chain forward'):]
    assert forward.index('jump admin_out') < forward.index('jump admin_in')
    _nft_check(text)


def test_routes_follow_the_longest_prefix():
    text, ips = _render(routes=[
        {'name': 'via-fw', 'address_prefix': '10.240.0.0/16', 'next_hop_type': 'VirtualAppliance', 'next_hop_ip': '10.241.0.4',
         'appliance_drops': [10250, 10255]},
        {'name': 'direct-user1-1', 'address_prefix': '%s/32' % '10.240.0.7', 'next_hop_type': 'VnetLocal'},
        {'name': 'drop-user1-0', 'address_prefix': '10.240.0.6/32', 'next_hop_type': 'None'}])
    assert ips == {'nodepool1-0': '10.240.0.4', 'nodepool1-1': '10.240.0.5', 'user1-0': '10.240.0.6', 'user1-1': '10.240.0.7'}
    assert ('ip saddr 10.240.0.0/16 ip daddr { 10.240.0.4, 10.240.0.5 } tcp dport { 10250, 10255 } counter drop comment '
            '"route:via-fw:appliance"') in text
    assert 'ip saddr 10.240.0.0/16 ip daddr 10.240.0.6 counter drop comment "route:drop-user1-0:blackhole"' in text
    assert '10.240.0.7' not in text  # its own VnetLocal route is more specific than the appliance route
    # a blackhole drops every packet, so it comes before the SYN-only filter
    assert text.index('blackhole') < text.index('tcp flags & (syn | ack) != syn accept')
    _nft_check(text)


def test_unexplained_drop_and_empty():
    text, ips = _render(path_drop=['user1-1'])
    assert 'ip daddr { %s } tcp dport 10250 counter drop comment "path_drop:unexplained"' % ips['user1-1'] in text
    _nft_check(text)
    empty, _ips = _render()
    assert 'drop' not in empty
    _nft_check(empty)


def _nft_check(text):
    if os.geteuid() != 0 or not shutil.which('nft'):
        return
    # `nft -c` parses and checks the ruleset without loading it; the delete of a missing table is left out
    body = '\n'.join(line for line in text.splitlines() if not line.startswith(('table bridge akspath', 'delete table')) or '{' in line)
    proc = subprocess.run(['nft', '-c', '-f', '-'], input=body, capture_output=True, text=True, check=False, timeout=30)
    assert proc.returncode == 0, proc.stderr


@pytest.mark.parametrize('name', ['avnm-admin-deny', 'route-appliance-drop', 'path-drop-unexplained'])
def test_catalogue_scenarios_render(name):
    scenario = scenario_mod.load(name)
    text = path.render(scenario_mod.lab_config(scenario), build_topology(scenario), '10.240.0.1')
    assert text.count(' drop ') >= 1
    _nft_check(text)
