# -*- coding: utf-8 -*-
# Copyright (c) 2026 aks.tunnel contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""network_path_info on the lab (issue 12), as the shipped least-privilege diagnose identity: the real probe finds the
unreachable kubelets (the bridge really drops them, before the NSGs), the module reads the Virtual Network Manager admin rules
and the tunnel NICs' effective routes through azure-mgmt-network and names the rule or route; without the probe's answer
an admin Deny is still a problem and an appliance is unknown; a drop no ARM model explains leaves the finding ok with
the unreachable node in the evidence (the report's rule turns it into the problem)."""

from __future__ import annotations


import pytest

from ansible_collections.aks.tunnel.tests.integration.modules_network.network_lab import run_playbook, short_names

pytestmark = pytest.mark.lab


PLAY = '''
- hosts: localhost
  gather_facts: false
  vars:
    auth: "{{ aks_tunnel_lab_diagnose_auth }}"
    kubeconfig: "{{ aks_tunnel_lab_diagnose_kubeconfig }}"
  module_defaults:
    aks.tunnel.aks_cluster_info: "{{ auth | combine({'kubeconfig': kubeconfig}) }}"
    aks.tunnel.vmss_runcommand_probe: "{{ auth | combine({'kubeconfig': kubeconfig}) }}"
    aks.tunnel.network_path_info: "{{ auth }}"
  tasks:
    - name: Cluster model
      aks.tunnel.aks_cluster_info:
        resource_group: "{{ aks_tunnel_resource_group }}"
        name: "{{ aks_tunnel_cluster_name }}"
      register: info
    - name: Probe from the tunnel nodes
      aks.tunnel.vmss_runcommand_probe:
        resource_group: "{{ aks_tunnel_resource_group }}"
        name: "{{ aks_tunnel_cluster_name }}"
        cluster_model: "{{ info }}"
        run_timeout: 60
      register: probe
    - name: Path with the probe's answer
      aks.tunnel.network_path_info:
        resource_group: "{{ aks_tunnel_resource_group }}"
        name: "{{ aks_tunnel_cluster_name }}"
        cluster_model: "{{ info }}"
        unreachable: "{{ probe.summary.unreachable_nodes }}"
        api_timeout: 30
      register: with_probe
    - name: Path without the probe
      aks.tunnel.network_path_info:
        resource_group: "{{ aks_tunnel_resource_group }}"
        name: "{{ aks_tunnel_cluster_name }}"
        cluster_model: "{{ info }}"
      register: without_probe
    - name: Path read by the Reader (*/read does not cover the two POST actions)
      aks.tunnel.network_path_info: "{{ aks_tunnel_lab_readonly_auth | combine({'resource_group': aks_tunnel_resource_group,
                                        'name': aks_tunnel_cluster_name, 'cluster_model': info}) }}"
      register: reader
    - name: Dump
      ansible.builtin.copy:
        dest: "{{ out }}"
        content: "{{ {'info': info, 'probe': probe, 'with_probe': with_probe, 'without_probe': without_probe, 'reader': reader} | to_json }}"
'''

# scenario -> (unreachable short names, status with the probe, affected, status without the probe, affected without)
EXPECTED = {
    'avnm-admin-deny': (['user1-1'], 'problem', ['user1-1'], 'problem', ['user1-1']),
    'route-appliance-drop': (['nodepool1-0', 'nodepool1-1', 'nodepool1-2', 'user1-0', 'user1-1'], 'problem',
                             ['nodepool1-0', 'nodepool1-1', 'nodepool1-2', 'user1-0', 'user1-1'], 'unknown',
                             ['nodepool1-0', 'nodepool1-1', 'nodepool1-2', 'user1-0', 'user1-1']),
    'path-drop-unexplained': (['user1-1'], 'ok', [], 'ok', []),
    'healthy': ([], 'ok', [], 'ok', []),
}


@pytest.mark.parametrize('scenario', sorted(EXPECTED))
def test_network_path_names_the_rule_or_route(scenario, lab_factory, tmp_path):
    lab = lab_factory(scenario)
    data = run_playbook(tmp_path, PLAY, lab.vars_file, {})
    names = short_names(data['info'])
    unreachable, status, affected, status_without, affected_without = EXPECTED[scenario]
    assert sorted(names[i['node']] for i in data['probe']['summary']['unreachable_nodes']) == unreachable
    found, without = data['with_probe']['finding'], data['without_probe']['finding']
    assert found['cause'] == 'network_path_blocks_10250'
    assert (found['status'], sorted(names[n] for n in found['affected_nodes'])) == (status, affected), found
    assert (without['status'], sorted(names[n] for n in without['affected_nodes'])) == (status_without, affected_without), without
    assert data['with_probe']['read_errors'] == [] and data['with_probe']['flows'] > 0
    assert data['with_probe']['api_calls']['arm'] >= 3 and data['with_probe']['api_calls']['kube'] == 0
    remediation = found['remediation']
    if scenario == 'avnm-admin-deny':
        assert [r['rule'] for r in remediation['admin_rules']] == ['deny-kubelet-user1-1']
        assert remediation['admin_rules'][0]['network_manager'] == 'corp-nm'
        assert any(c.startswith('az network watcher run-configuration-diagnostic --resource ') and '--direction Inbound' in c
                   and '--port 10250' in c for c in remediation['commands'])
        assert {p['blocked_by'] for p in remediation['pairs']} == {'admin_rule'}
    elif scenario == 'route-appliance-drop':
        assert {(r['route'], r['next_hop_type'], tuple(r['next_hop_ip'])) for r in remediation['routes']} == {
            ('nodes-via-firewall', 'VirtualAppliance', ('10.241.0.4',))}
        assert any(c.startswith('az network nic show-effective-route-table -g ') for c in remediation['commands'])
        assert data['without_probe']['finding']['summary'].startswith('an appliance is in the kubelet path')
    elif unreachable:
        assert any(e.startswith('unreachable node(s) not explained by admin rules or routes: ') for e in found['evidence'])
    # the lab's Reader holds */read only: both reads are refused, the path is undecided (never ok) without the probe
    reader = data['reader']
    assert reader['finding']['status'] == 'unknown'
    assert {e['what'] for e in reader['read_errors']} == {'admin_rules', 'routes'}
    assert all('403' in e['error'] for e in reader['read_errors'])
