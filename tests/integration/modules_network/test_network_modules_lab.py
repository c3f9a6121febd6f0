# -*- coding: utf-8 -*-
# Copyright (c) 2026 aks.tunnel contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""aks_cluster_info, nsg_port_check, nsg_port_rule, vmss_runcommand_probe and node_firewall on the lab.

Real `ansible-playbook` runs against a real lab (ARM and Kubernetes emulators, network namespaces,
nftables NSGs, ufw/iptables per node): no mocks. One lab per scenario, one or two playbook runs each;
every playbook dumps its registered results to JSON for the assertions below.
"""

from __future__ import annotations

import time

import pytest

# Lab: tests of other folders load this file by path and take Lab and run_playbook from it.
from ansible_collections.aks.tunnel.tests.integration.modules_network.network_lab import run_playbook, short_names
from ansible_collections.aks.tunnel.tests.integration.modules_network.network_lab import Lab  # noqa: F401  pylint: disable=unused-import

pytestmark = pytest.mark.lab

MY_CAUSES = ('nsg_blocks_10250', 'ufw_blocks_10250', 'iptables_blocks_10250', 'egress_ports_blocked')

# What the detection modules must report per scenario: cause -> affected nodes (<pool>-<instance>), nothing else.
EXPECTED = {
    'healthy': {},
    'nsg-deny-10250': {'nsg_blocks_10250': ['user1-0', 'user1-1']},
    'ufw-enabled': {'ufw_blocks_10250': ['user1-1']},
    'iptables-drop': {'iptables_blocks_10250': ['nodepool1-2']},
    # egress fails from every node that hosts a tunnel pod (the lab places aks-link's 2 replicas on nodepool1-0/1)
    'egress-9000-blocked': {'egress_ports_blocked': 'tunnel'},
    'egress-1194-blocked': {'egress_ports_blocked': 'tunnel'},
    'konnectivity-alpn-stripped': {'egress_ports_blocked': 'tunnel'},
    'all-faults': {'nsg_blocks_10250': ['user1-2'], 'ufw_blocks_10250': ['nodepool1-3'], 'iptables_blocks_10250': ['user1-0']},
}
BLOCKING_RULES = {'nsg-deny-10250': ['deny-kubelet'], 'all-faults': ['deny-kubelet-user1-2']}

DETECT = '''
- hosts: localhost
  gather_facts: false
  vars:
    auth: "{{ (identity == 'reader') | ternary(aks_tunnel_lab_readonly_auth, aks_tunnel_azure_auth) }}"
    kubeconfig: "{{ (identity == 'reader') | ternary(aks_tunnel_lab_readonly_kubeconfig, aks_tunnel_kubeconfig) }}"
  module_defaults:
    aks.tunnel.aks_cluster_info: "{{ auth | combine({'kubeconfig': kubeconfig}) }}"
    aks.tunnel.nsg_port_check: "{{ auth | combine({'kubeconfig': kubeconfig}) }}"
    aks.tunnel.vmss_runcommand_probe: "{{ auth | combine({'kubeconfig': kubeconfig}) }}"
    aks.tunnel.nsg_port_rule: "{{ auth }}"
    aks.tunnel.node_firewall: "{{ auth }}"
  tasks:
    - name: Cluster model
      aks.tunnel.aks_cluster_info:
        resource_group: "{{ aks_tunnel_resource_group }}"
        name: "{{ aks_tunnel_cluster_name }}"
      register: info
    - name: NSG path check
      aks.tunnel.nsg_port_check:
        resource_group: "{{ aks_tunnel_resource_group }}"
        name: "{{ aks_tunnel_cluster_name }}"
        api_server_ip: "{{ aks_tunnel_lab.api_server_ip }}"
      register: nsg
    - name: Probe from the tunnel nodes and inspect what failed
      aks.tunnel.vmss_runcommand_probe:
        resource_group: "{{ aks_tunnel_resource_group }}"
        name: "{{ aks_tunnel_cluster_name }}"
        inspect_unreachable: true
        finding_for: [ufw_blocks_10250, iptables_blocks_10250, egress_ports_blocked]
        run_timeout: 60
      register: probe
    - name: Repairs with this identity (the reader must be refused)
      when: identity == 'reader'
      block:
        - name: NSG rule with the reader
          aks.tunnel.nsg_port_rule:
            resource_group: "{{ aks_tunnel_lab.node_resource_group }}"
            nsg: "{{ nsg.finding.remediation.nsg_rules[0].nsg }}"
          register: reader_rule
          ignore_errors: true
        - name: Node firewall with the reader
          aks.tunnel.node_firewall:
            resource_group: "{{ aks_tunnel_resource_group }}"
            name: "{{ aks_tunnel_cluster_name }}"
            nodes: "{{ info.tunnel.nodes }}"
          register: reader_fw
          ignore_errors: true
    - name: Dump
      ansible.builtin.copy:
        dest: "{{ out }}"
        content: "{{ {'info': info, 'nsg': nsg, 'probe': probe, 'reader_rule': reader_rule | default(None),
                      'reader_fw': reader_fw | default(None)} | to_json }}"
'''

REPAIR = '''
- hosts: localhost
  gather_facts: false
  module_defaults:
    aks.tunnel.nsg_port_rule: "{{ aks_tunnel_azure_auth }}"
    aks.tunnel.node_firewall: "{{ aks_tunnel_azure_auth }}"
    aks.tunnel.vmss_runcommand_probe: "{{ aks_tunnel_azure_auth | combine({'kubeconfig': aks_tunnel_kubeconfig}) }}"
  vars:
    rule_args: {resource_group: "{{ aks_tunnel_lab.node_resource_group }}", nsg: "{{ nsg_name }}"}
    fw_args: {resource_group: "{{ aks_tunnel_resource_group }}", name: "{{ aks_tunnel_cluster_name }}", nodes: "{{ fw_nodes }}"}
  tasks:
    - {name: Rule check mode, aks.tunnel.nsg_port_rule: "{{ rule_args }}", check_mode: true, diff: true, register: r1}
    - {name: Rule, aks.tunnel.nsg_port_rule: "{{ rule_args }}", register: r2}
    - {name: Rule check mode again, aks.tunnel.nsg_port_rule: "{{ rule_args }}", check_mode: true, register: r3}
    - {name: Rule again, aks.tunnel.nsg_port_rule: "{{ rule_args }}", register: r4}
    - {name: Firewall check mode, aks.tunnel.node_firewall: "{{ fw_args }}", check_mode: true, diff: true, register: f1}
    - {name: Firewall, aks.tunnel.node_firewall: "{{ fw_args }}", register: f2}
    - {name: Firewall check mode again, aks.tunnel.node_firewall: "{{ fw_args }}", check_mode: true, register: f3}
    - {name: Firewall again, aks.tunnel.node_firewall: "{{ fw_args }}", register: f4}
    - name: Probe again
      aks.tunnel.vmss_runcommand_probe:
        resource_group: "{{ aks_tunnel_resource_group }}"
        name: "{{ aks_tunnel_cluster_name }}"
        inspect_unreachable: true
        finding_for: [ufw_blocks_10250, iptables_blocks_10250, egress_ports_blocked]
      register: after
    - name: Dump
      ansible.builtin.copy:
        dest: "{{ out }}"
        content: "{{ {'rule': [r1, r2, r3, r4], 'fw': [f1, f2, f3, f4], 'after': after} | to_json }}"
'''


def reported(findings, names):
    """cause -> sorted short names, for the problems among the given findings."""
    result = {}
    for finding in findings:
        assert finding['status'] in ('ok', 'not_applicable', 'problem'), finding
        if finding['status'] == 'problem':
            result.setdefault(finding['cause'], set()).update(names[n] for n in finding['affected_nodes'])
    return dict((k, sorted(v)) for k, v in result.items())


@pytest.mark.parametrize('scenario', sorted(EXPECTED))
def test_detection_names_exactly_the_injected_faults(scenario, lab_factory, tmp_path):
    lab = lab_factory(scenario)
    data = run_playbook(tmp_path, DETECT, lab.vars_file, {'identity': 'contributor'})
    info, nsg, probe = data['info'], data['nsg'], data['probe']
    for result in (info, nsg, probe):
        assert result['changed'] is False
    names = short_names(info)
    assert len(info['nodes']) == len(names) and all(n['vmss'] and n['in_kubernetes'] for n in info['nodes'])
    tunnel_kind = {'egress-9000-blocked': 'tunnel-front', 'egress-1194-blocked': 'aks-link'}.get(scenario, 'konnectivity')
    assert info['tunnel']['component'] == tunnel_kind
    assert [e['port'] for e in info['tunnel']['egress']] == [{'konnectivity': 443, 'tunnel-front': 9000, 'aks-link': 1194}[tunnel_kind]]
    assert sorted(n['name'] for n in info['nodes'] if n['hosts_tunnel']) == sorted(info['tunnel']['nodes'])

    expected = dict(EXPECTED[scenario])
    if expected.get('egress_ports_blocked') == 'tunnel':
        expected['egress_ports_blocked'] = sorted(names[n] for n in info['tunnel']['nodes'])
        assert 'nodepool1-0' in expected['egress_ports_blocked']
    findings = nsg['findings'] + probe['findings']
    assert [f['cause'] for f in findings] == ['nsg_blocks_10250', 'egress_ports_blocked', 'apiserver_subnet_ports_blocked', 'ufw_blocks_10250',
                                              'iptables_blocks_10250', 'egress_ports_blocked']
    assert nsg['findings'][2]['status'] == 'not_applicable'  # no API Server VNet Integration in these scenarios
    assert reported(findings, names) == expected
    assert sorted(b['rule'] for b in nsg['blocking_rules']) == BLOCKING_RULES.get(scenario, [])
    for rule in nsg['blocking_rules']:
        assert sorted(names[n] for n in rule['nodes']) == expected['nsg_blocks_10250']
    # every node that did not answer is explained by exactly one injected fault
    faulty = set(n for cause, nodes in expected.items() if cause != 'egress_ports_blocked' for n in nodes)
    assert sorted(names[u['node']] for u in probe['summary']['unreachable_nodes']) == sorted(faulty)
    assert probe['run_commands'] == {'sources': len(info['tunnel']['nodes']), 'inspections': len(faulty)}
    assert all(r['status'] == 'succeeded' and not r['truncated'] for r in probe['results'])


def test_read_only_identity_detects_and_cannot_repair(lab_factory, tmp_path):
    lab = lab_factory('nsg-deny-10250')
    data = run_playbook(tmp_path, DETECT, lab.vars_file, {'identity': 'reader'})
    names = short_names(data['info'])
    assert reported(data['nsg']['findings'], names) == {'nsg_blocks_10250': ['user1-0', 'user1-1']}
    # The lab's reader has only */read: Run Command is refused, so the probe reports unknown, with the reason.
    probe = data['probe']
    assert all(r['status'] == 'failed' and 'HTTP 403' in r['error'] and 'runCommand/action' in r['error'] for r in probe['results'])
    assert [f['status'] for f in probe['findings']] == ['unknown', 'unknown', 'unknown']
    rule, fw = data['reader_rule'], data['reader_fw']
    assert rule['failed'] is True and rule['changed'] is False
    assert 'HTTP 403' in rule['msg'] and 'Microsoft.Network/networkSecurityGroups/securityRules/write' in rule['msg']
    assert fw['failed'] is True and fw['changed'] is False and 'HTTP 403' in fw['msg']
    # nothing changed: the NSG check still finds the same rule, and no allow rule exists
    again = run_playbook(tmp_path, DETECT, lab.vars_file, {'identity': 'contributor'})
    assert [b['rule'] for b in again['nsg']['blocking_rules']] == ['deny-kubelet']


def test_repairs_are_check_mode_safe_idempotent_and_open_the_path(lab_factory, tmp_path):
    lab = lab_factory('all-faults')
    detect = run_playbook(tmp_path, DETECT, lab.vars_file, {'identity': 'contributor'})
    names = short_names(detect['info'])
    by_short = dict((v, k) for k, v in names.items())
    nsg_name = detect['nsg']['finding']['remediation']['nsg_rules'][0]['nsg']
    fw_nodes = [by_short['nodepool1-3'], by_short['user1-0']]
    data = run_playbook(tmp_path, REPAIR, lab.vars_file, {'nsg_name': nsg_name, 'fw_nodes': fw_nodes})

    r1, r2, r3, r4 = data['rule']
    assert (r1['changed'], r1['action'], r1['previous']) == (True, 'created', {})
    assert r1['diff']['before'] == {} and r1['diff']['after']['priority'] == 309
    assert r2['changed'] is True and r2['rule']['priority'] == 309 and r2['rule']['destinationPortRange'] == '10250'
    assert r2['rule']['sourceAddressPrefix'] == 'VirtualNetwork' and r2['undo']['state'] == 'absent'
    assert [b['name'] for b in r2['blocking_rules']] == ['deny-kubelet-user1-2']
    assert (r3['changed'], r3['action']) == (False, 'none')
    assert (r4['changed'], r4['action'], r4['rule']['priority']) == (False, 'none', 309)

    f1, f2, f3, f4 = data['fw']
    planned = dict((e['node'], [a['type'] for a in e['actions']]) for e in f1['nodes'])
    assert planned == {by_short['nodepool1-3']: ['ufw_allow'], by_short['user1-0']: ['iptables_delete']}
    assert f1['changed'] is True and all(e['after'] is None for e in f1['nodes'])
    assert f2['changed'] is True and all(e['fixed'] is True and e['error'] is None for e in f2['nodes'])
    deleted = [a for e in f2['nodes'] for a in e['actions'] if a['type'] == 'iptables_delete']
    assert [a['spec'] for a in deleted] == ['-A KUBELET-GUARD -p tcp -m multiport --dports 10250,10255 -j DROP']
    assert deleted[0]['result'] == 'done' and deleted[0]['undo'].startswith('iptables -I KUBELET-GUARD 1 ')
    assert all(e['backup']['path'].startswith('/var/lib/aks-tunnel/') for e in f2['nodes'])
    assert f3['changed'] is False and f4['changed'] is False
    assert all(e['actions'] == [] for e in f3['nodes'] + f4['nodes'])
    assert 'outside what AKS manages and supports' in f2['support_policy']

    # real packets: every kubelet answers now, and no firewall finding remains
    after = data['after']
    assert after['summary']['unreachable'] == 0 and after['summary']['reachable'] == len(names)
    assert [f['status'] for f in after['findings']] == ['ok', 'ok', 'ok']


PROBE_TWO = '''
- hosts: localhost
  gather_facts: false
  module_defaults:
    aks.tunnel.vmss_runcommand_probe: "{{ aks_tunnel_azure_auth | combine({'kubeconfig': aks_tunnel_kubeconfig}) }}"
  tasks:
    - name: Inspect two nodes
      aks.tunnel.vmss_runcommand_probe:
        resource_group: "{{ aks_tunnel_resource_group }}"
        name: "{{ aks_tunnel_cluster_name }}"
        checks: [firewall]
        nodes: "{{ probe_nodes }}"
        run_timeout: "{{ probe_timeout }}"
        deadline: "{{ probe_deadline }}"
        conflict_wait: 0.5
      register: probe
    - name: Dump
      ansible.builtin.copy:
        dest: "{{ out }}"
        content: "{{ probe | to_json }}"
'''


def test_runcommand_hang_conflict_and_deadline(lab_factory, tmp_path):
    """A hung run command becomes that node's timeout (others continue); the VM then answers 409 until it
    is released; an overall deadline returns on time even though a worker is still blocked."""
    lab = lab_factory('healthy')
    info = run_playbook(tmp_path, DETECT, lab.vars_file, {'identity': 'contributor'})['info']
    by_short = dict((v, k) for k, v in short_names(info).items())
    nodes = [by_short['nodepool1-1'], by_short['user1-1']]
    lab.admin('POST', 'settings', {'runcommand_latency_s': 1.0})
    lab.admin('POST', 'faults', {'faults': [{'type': 'runcommand_hang', 'node': 'user1-1', 'count': 1}]})
    try:
        first = run_playbook(tmp_path, PROBE_TWO, lab.vars_file, {'probe_nodes': nodes, 'probe_timeout': 6, 'probe_deadline': 60})
        status = dict((r['node'], r) for r in first['results'])
        assert status[nodes[0]]['status'] == 'succeeded' and status[nodes[0]]['checks']['firewall']['blocked_by'] is None
        assert status[nodes[1]]['status'] == 'timeout' and 'did not finish within the timeout of 6s' in status[nodes[1]]['error']
        assert first['changed'] is False and not first.get('failed')

        second = run_playbook(tmp_path, PROBE_TWO, lab.vars_file, {'probe_nodes': nodes[1:], 'probe_timeout': 3, 'probe_deadline': 60})
        busy = second['results'][0]
        assert busy['status'] == 'timeout' and busy['conflicts'] >= 2 and 'HTTP 409' in busy['error']

        lab.admin('POST', 'runcommands/release')
        third = run_playbook(tmp_path, PROBE_TWO, lab.vars_file, {'probe_nodes': nodes[1:], 'probe_timeout': 30, 'probe_deadline': 60})
        assert third['results'][0]['status'] == 'succeeded'

        lab.admin('POST', 'faults', {'faults': [{'type': 'runcommand_hang', 'node': 'user1-1', 'count': 1}]})
        started = time.monotonic()
        fourth = run_playbook(tmp_path, PROBE_TWO, lab.vars_file, {'probe_nodes': nodes, 'probe_timeout': 300, 'probe_deadline': 4})
        assert time.monotonic() - started < 25
        status = dict((r['node'], r) for r in fourth['results'])
        assert status[nodes[0]]['status'] == 'succeeded'
        assert status[nodes[1]]['status'] == 'abandoned' and 'overall deadline of 4s' in status[nodes[1]]['error']
        assert fourth['duration'] < 6
    finally:
        lab.admin('DELETE', 'faults')
        lab.admin('POST', 'runcommands/release')
        lab.admin('POST', 'settings', {'runcommand_latency_s': 0.0})
