# -*- coding: utf-8 -*-
# Copyright (c) 2026 aks.tunnel contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""node_firewall on the lab against a rule whose comment is shell text (issue #13, item 1).

The lab's Run Command executor pastes parameter values unquoted into the script, as Azure does. On the
`iptables-drop` lab the blocking rule of nodepool1-2 is replaced by one whose comment holds spaces,
quotes and `$(touch <marker>)` (what a hostNetwork pod with NET_ADMIN could write), next to a
kube-proxy style rule with a comment with spaces. The repair (check mode, real, check mode and real
again) deletes exactly the blocking rule, leaves the other one alone, and the command never runs.
"""

from __future__ import annotations

import secrets
import subprocess

import pytest

from ansible_collections.aks.tunnel.tests.integration.modules_network.network_lab import run_playbook

pytestmark = pytest.mark.lab


REPAIR = '''
- hosts: localhost
  gather_facts: false
  module_defaults:
    aks.tunnel.node_firewall: "{{ aks_tunnel_azure_auth }}"
  vars:
    fw_args: {resource_group: "{{ aks_tunnel_resource_group }}", name: "{{ aks_tunnel_cluster_name }}", nodes: "{{ fw_nodes }}"}
  tasks:
    - {name: Firewall check mode, aks.tunnel.node_firewall: "{{ fw_args }}", check_mode: true, diff: true, register: f1}
    - {name: Firewall, aks.tunnel.node_firewall: "{{ fw_args }}", register: f2}
    - {name: Firewall check mode again, aks.tunnel.node_firewall: "{{ fw_args }}", check_mode: true, register: f3}
    - {name: Firewall again, aks.tunnel.node_firewall: "{{ fw_args }}", register: f4}
    - name: Dump
      ansible.builtin.copy:
        dest: "{{ out }}"
        content: "{{ {'fw': [f1, f2, f3, f4]} | to_json }}"
'''

KUBE_COMMENT = 'kubernetes health check service ports'


def ipt(ns, *args):
    proc = subprocess.run(['ip', 'netns', 'exec', ns, 'iptables', '-w', '5'] + list(args), capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def test_hostile_rule_comment_is_deleted_and_never_runs(lab_factory, tmp_path):
    from ansible_collections.aks.tunnel.tests.lab.dataplane.record import LabRecord  # pylint: disable=import-outside-toplevel
    lab = lab_factory('iptables-drop')
    plan = LabRecord.load(lab.state_dir).get('plan')
    name, node = next((n, v) for n, v in plan['nodes'].items() if v['short'] == 'nodepool1-2')
    ns = node['ns']
    marker_dir = tmp_path / ('aks-tunnel-hostile-%s' % secrets.token_hex(4))
    marker_dir.mkdir()
    marker = marker_dir / 'ran'
    hostile_comment = 'kube-proxy "style" text; $(touch %s)' % marker

    ipt(ns, '-D', 'INPUT', '-p', 'tcp', '--dport', '10250', '-j', 'DROP')
    # The lab's AKS baseline firewall already has kube-proxy's KUBE-NODEPORTS chain; create it only where it is missing.
    if subprocess.run(['ip', 'netns', 'exec', ns, 'iptables', '-w', '5', '-S', 'KUBE-NODEPORTS'], capture_output=True, check=False).returncode:
        ipt(ns, '-N', 'KUBE-NODEPORTS')
    ipt(ns, '-A', 'INPUT', '-m', 'comment', '--comment', KUBE_COMMENT, '-m', 'addrtype', '--dst-type', 'LOCAL', '-j', 'KUBE-NODEPORTS')
    ipt(ns, '-A', 'INPUT', '-p', 'tcp', '--dport', '10250', '-m', 'comment', '--comment', hostile_comment, '-j', 'DROP')
    before = ipt(ns, '-S', 'INPUT').splitlines()
    hostile = next(line for line in before if '$(touch ' in line)
    kube = next(line for line in before if KUBE_COMMENT in line)

    data = run_playbook(tmp_path, REPAIR, lab.vars_file, {'fw_nodes': [name]})
    f1, f2, f3, f4 = data['fw']
    assert [a['spec'] for e in f1['nodes'] for a in e['actions'] if a['type'] == 'iptables_delete'] == [hostile]
    assert f1['changed'] is True and not marker.exists()
    assert f2['changed'] is True and all(e['error'] is None and e['fixed'] is True for e in f2['nodes']), f2['nodes']
    assert [a['result'] for e in f2['nodes'] for a in e['actions']] == ['done']
    assert f3['changed'] is False and f4['changed'] is False
    after = ipt(ns, '-S', 'INPUT').splitlines()
    assert hostile not in after and kube in after
    assert after == [line for line in before if line != hostile]
    assert not marker.exists()
