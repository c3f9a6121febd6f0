# -*- coding: utf-8 -*-
# Copyright (c) 2026 aks.tunnel contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The lab's least-privilege diagnosis identity (`aks_tunnel_lab_diagnose_auth` + `_kubeconfig`): the shipped rbac/ diagnose roles.

With it, vmss_runcommand_probe runs its Run Commands and reports the UFW fault of `ufw-enabled` as a problem (not
unknown), while a repair (nsg_port_rule) is refused with HTTP 403 naming the missing permission and changes nothing.
The reader (`*/read` only) case - probe status unknown with the 403 reason - is covered by
test_network_modules_lab.py::test_read_only_identity_detects_and_cannot_repair.
"""

from __future__ import annotations

import json
import os

import pytest

from ansible_collections.aks.tunnel.tests.integration.modules_network.network_lab import run_playbook, short_names

pytestmark = pytest.mark.lab

HERE = os.path.dirname(os.path.abspath(__file__))
COLLECTION_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(HERE)))


RUNCOMMAND_ACTION = 'Microsoft.Compute/virtualMachineScaleSets/virtualMachines/runCommand/action'

DIAGNOSE = '''
- hosts: localhost
  gather_facts: false
  module_defaults:
    aks.tunnel.aks_cluster_info: "{{ aks_tunnel_lab_diagnose_auth | combine({'kubeconfig': aks_tunnel_lab_diagnose_kubeconfig}) }}"
    aks.tunnel.vmss_runcommand_probe: "{{ aks_tunnel_lab_diagnose_auth | combine({'kubeconfig': aks_tunnel_lab_diagnose_kubeconfig}) }}"
    aks.tunnel.nsg_port_rule: "{{ aks_tunnel_lab_diagnose_auth }}"
  tasks:
    - name: Cluster model
      aks.tunnel.aks_cluster_info:
        resource_group: "{{ aks_tunnel_resource_group }}"
        name: "{{ aks_tunnel_cluster_name }}"
      register: info
    - name: Probe from the tunnel nodes and inspect what failed
      aks.tunnel.vmss_runcommand_probe:
        resource_group: "{{ aks_tunnel_resource_group }}"
        name: "{{ aks_tunnel_cluster_name }}"
        inspect_unreachable: true
        finding_for: [ufw_blocks_10250, iptables_blocks_10250, egress_ports_blocked]
        run_timeout: 60
      register: probe
    - name: A repair with the diagnose identity must be refused
      aks.tunnel.nsg_port_rule:
        resource_group: "{{ aks_tunnel_lab.node_resource_group }}"
        nsg: "{{ nsg_name }}"
      register: rule
      ignore_errors: true
    - name: Dump
      ansible.builtin.copy:
        dest: "{{ out }}"
        content: "{{ {'info': info, 'probe': probe, 'rule': rule} | to_json }}"
'''


def test_vars_expose_the_diagnose_identity(lab_factory):
    import yaml  # pylint: disable=import-outside-toplevel
    from ansible_collections.aks.tunnel.tests.lab import scenario  # pylint: disable=import-outside-toplevel

    lab = lab_factory('ufw-enabled')
    with open(lab.vars_file, encoding='utf-8') as handle:
        lab_vars = yaml.safe_load(handle)
    diagnose, reader = lab_vars['aks_tunnel_lab_diagnose_auth'], lab_vars['aks_tunnel_lab_readonly_auth']
    assert set(diagnose) == set(reader)
    assert diagnose['client_id'] == scenario.LAB_DIAGNOSE_CLIENT['client_id'] != reader['client_id']
    assert {k: v for k, v in diagnose.items() if k not in ('client_id', 'secret')} == \
        {k: v for k, v in reader.items() if k not in ('client_id', 'secret')}
    # The lab's identity is exactly the custom role the collection ships.
    assert os.path.realpath(scenario.LAB_DIAGNOSE_CLIENT['role_definition']) == \
        os.path.realpath(os.path.join(COLLECTION_ROOT, 'rbac', 'azure', 'aks-tunnel-diagnose.json'))
    with open(scenario.LAB_DIAGNOSE_CLIENT['role_definition'], encoding='utf-8') as handle:
        # Reader, Run Command, and the two network path reads of issue 12 (admin rules, effective routes).
        assert json.load(handle)['Actions'] == ['*/read', RUNCOMMAND_ACTION,
                                                'Microsoft.Network/virtualNetworks/listNetworkManagerEffectiveSecurityAdminRules/action',
                                                'Microsoft.Network/networkInterfaces/effectiveRouteTable/action']
    assert lab_vars['aks_tunnel_lab_diagnose_kubeconfig'].endswith('/kubeconfig-diagnose')


def test_diagnose_identity_probes_but_cannot_repair(lab_factory, tmp_path):
    from ansible_collections.aks.tunnel.tests.lab import scenario  # pylint: disable=import-outside-toplevel

    lab = lab_factory('ufw-enabled')
    nsg_name = scenario.topology_of(scenario.load('ufw-enabled'))['nic_nsg']['name']
    before = lab.admin('GET', 'nsgs/%s/securityRules' % nsg_name)
    data = run_playbook(tmp_path, DIAGNOSE, lab.vars_file, {'nsg_name': nsg_name})
    names = short_names(data['info'])

    probe = data['probe']
    assert probe['changed'] is False
    assert probe['results'] and all(r['status'] == 'succeeded' for r in probe['results'])
    by_cause = {f['cause']: f for f in probe['findings']}
    ufw = by_cause['ufw_blocks_10250']
    assert ufw['status'] == 'problem', ufw
    assert [names[n] for n in ufw['affected_nodes']] == ['user1-1']
    assert all(f['status'] != 'unknown' for f in probe['findings']), probe['findings']
    assert probe['run_commands'] == {'sources': len(data['info']['tunnel']['nodes']), 'inspections': 1}

    rule = data['rule']
    assert rule['failed'] is True and rule['changed'] is False
    assert 'HTTP 403' in rule['msg'], rule['msg']
    assert 'Microsoft.Network/networkSecurityGroups/securityRules/write' in rule['msg'], rule['msg']
    after = lab.admin('GET', 'nsgs/%s/securityRules' % nsg_name)
    assert after == before
    # the Run Commands really ran under the diagnose identity (nothing else ran in this lab before)
    journal = lab.admin('GET', 'runcommands')['value']
    assert journal and {entry['status'] for entry in journal} == {'Succeeded'}, journal
