# -*- coding: utf-8 -*-
# Copyright (c) 2026 aks.tunnel contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""node_firewall on the lab scenarios of issue 13: only what is proven to block the tunnel is changed.

Real ``ansible-playbook`` runs against a real lab (no mocks): a hardened host loses exactly its blocking REJECT
(four steps: check mode changed, real changed, check mode and real again not changed), a node with kube-proxy's and
Calico's own DROP rules and a node whose UFW allows 10250 from the node subnet get no action and nothing UNKNOWN.
"""

from __future__ import annotations

import pytest

from ansible_collections.aks.tunnel.tests.integration.modules_network.network_lab import run_playbook

pytestmark = pytest.mark.lab

FW = '''
- hosts: localhost
  gather_facts: false
  module_defaults:
    aks.tunnel.node_firewall: "{{ aks_tunnel_azure_auth }}"
  vars:
    fw_args: {resource_group: "{{ aks_tunnel_resource_group }}", name: "{{ aks_tunnel_cluster_name }}", nodes: "{{ fw_nodes }}"}
  tasks:
    - {name: Firewall check mode, aks.tunnel.node_firewall: "{{ fw_args }}", check_mode: true, diff: true, register: f1}
    - {name: Firewall, aks.tunnel.node_firewall: "{{ fw_args }}", register: f2, when: not plan_only}
    - {name: Firewall check mode again, aks.tunnel.node_firewall: "{{ fw_args }}", check_mode: true, register: f3, when: not plan_only}
    - {name: Firewall again, aks.tunnel.node_firewall: "{{ fw_args }}", register: f4, when: not plan_only}
    - name: Dump
      ansible.builtin.copy:
        dest: "{{ out }}"
        content: "{{ {'fw': [f1, f2, f3, f4]} | to_json }}"
'''

REJECT = ('-A INPUT -s 10.240.0.0/16 -p tcp -m tcp --dport 10250 -m comment --comment "hardening baseline: no kubelet" '
          '-j REJECT --reject-with tcp-reset')


def test_hardened_host_loses_only_its_blocking_reject(lab_factory, tmp_path):
    lab = lab_factory('iptables-hardened')
    node = 'aks-user1-64844604-vmss000000'
    f1, f2, f3, f4 = run_playbook(tmp_path, FW, lab.vars_file, {'fw_nodes': [node], 'plan_only': False})['fw']
    (plan,) = f1['nodes']
    assert f1['changed'] is True and [a['spec'] for a in plan['actions']] == [REJECT] and plan['unresolved'] == []
    assert plan['actions'][0]['undo'].startswith('iptables -I INPUT 9 -s 10.240.0.0/16 ')  # after the 4 kube-proxy jumps of the node baseline
    assert f1['sources'] == ['10.240.0.0/16']
    (done,) = f2['nodes']
    assert f2['changed'] is True and done['fixed'] is True and done['error'] is None
    assert [a['result'] for a in done['actions']] == ['done'] and done['after']['policy_blocks'] is False
    assert done['backup']['path'].startswith('/var/lib/aks-tunnel/iptables-')
    assert f3['changed'] is False and f4['changed'] is False
    assert f4['nodes'][0]['actions'] == [] and f4['nodes'][0]['unresolved'] == []


@pytest.mark.parametrize('scenario, node', [
    ('iptables-kube-proxy', 'aks-nodepool1-64844604-vmss000002'),
    ('ufw-scoped-allow', 'aks-user1-64844604-vmss000001'),
])
def test_rules_that_do_not_block_the_tunnel_are_left_alone(lab_factory, tmp_path, scenario, node):
    lab = lab_factory(scenario)
    f1 = run_playbook(tmp_path, FW, lab.vars_file, {'fw_nodes': [node], 'plan_only': True})['fw'][0]
    (plan,) = f1['nodes']
    assert f1['changed'] is False and plan['actions'] == [] and plan['unresolved'] == [], plan
    assert plan['before']['blocked_by'] is None and plan['fixed'] is True
