# -*- coding: utf-8 -*-
# Copyright (c) 2026 aks.tunnel contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Issue #12 on the lab: vmss_runcommand_probe (real module, real SDK, the lab's ARM emulator and node namespaces) names a
native nft drop, a kubelet that is down or serves plain HTTP, and says UNKNOWN - not OK - for a node whose inspection
cannot list iptables.  One lab per scenario; the node causes' statuses are compared exactly.
"""

from __future__ import annotations

import os

import pytest

from ansible_collections.aks.tunnel.tests.integration.modules_network import network_lab

pytestmark = pytest.mark.lab

NODE_CAUSES = ['ufw_blocks_10250', 'iptables_blocks_10250', 'nft_blocks_10250', 'kubelet_not_serving']

PROBE = '''
- hosts: localhost
  gather_facts: false
  module_defaults:
    aks.tunnel.aks_cluster_info: "{{ aks_tunnel_azure_auth | combine({'kubeconfig': aks_tunnel_kubeconfig}) }}"
    aks.tunnel.vmss_runcommand_probe: "{{ aks_tunnel_azure_auth | combine({'kubeconfig': aks_tunnel_kubeconfig}) }}"
  tasks:
    - name: Cluster model
      aks.tunnel.aks_cluster_info:
        resource_group: "{{ aks_tunnel_resource_group }}"
        name: "{{ aks_tunnel_cluster_name }}"
      register: info
    - name: Probe from the tunnel nodes, inspect what failed (and the suspects)
      aks.tunnel.vmss_runcommand_probe:
        resource_group: "{{ aks_tunnel_resource_group }}"
        name: "{{ aks_tunnel_cluster_name }}"
        cluster_model: "{{ info }}"
        checks: [tcp_reachability]
        inspect_unreachable: true
        inspect_nodes: "{{ suspects }}"
        finding_for: [ufw_blocks_10250, iptables_blocks_10250, nft_blocks_10250, kubelet_not_serving]
        run_timeout: 120
      register: probe
    - name: Dump
      ansible.builtin.copy:
        dest: "{{ out }}"
        content: "{{ {'info': info, 'probe': probe} | to_json }}"
'''

# scenario -> (suspects given to inspect_nodes: short names or endpoint:<short name> for its ip:10250,
#              {cause: (status, affected short names, evidence fragment)})
EXPECTED = {
    'nft-drop': ([], {'nft_blocks_10250': ('problem', ['user1-0'], 'inet hostfw input: tcp dport 10250 drop (handle '),
                      'ufw_blocks_10250': ('ok', [], None), 'iptables_blocks_10250': ('ok', [], None),
                      'kubelet_not_serving': ('ok', [], None)}),
    'kubelet-down': ([], {'kubelet_not_serving': ('problem', ['user1-1'], 'nothing listens on TCP 10250'),
                          'ufw_blocks_10250': ('ok', [], None), 'iptables_blocks_10250': ('ok', [], None),
                          'nft_blocks_10250': ('ok', [], None)}),
    # the endpoint as a symptom names it ("dial tcp 10.240.0.8:10250: ... server gave HTTP response to HTTPS client")
    'kubelet-plain-http': (['endpoint:user1-1'], {
        'kubelet_not_serving': ('problem', ['user1-1'], 'answers plain HTTP without TLS (HTTP/1.1 200 OK)'),
        'ufw_blocks_10250': ('ok', [], None), 'iptables_blocks_10250': ('ok', [], None), 'nft_blocks_10250': ('ok', [], None)}),
    'inspection-fails': ([], {'iptables_blocks_10250': ('unknown', ['user1-0'], 'xtables lock'),
                              'ufw_blocks_10250': ('unknown', ['user1-0'], None),
                              'nft_blocks_10250': ('ok', [], None), 'kubelet_not_serving': ('ok', [], None)}),
}


def run_playbook(tmp_path, lab_vars, extra):
    return network_lab.run_playbook(tmp_path, PROBE, lab_vars, extra)


@pytest.mark.xdist_group('lab_dataplane')
@pytest.mark.parametrize('name', sorted(EXPECTED))
def test_the_probe_names_the_node_cause_or_says_unknown(tmp_path, name):
    from ansible_collections.aks.tunnel.tests.lab import scenario as scenario_mod  # pylint: disable=import-outside-toplevel
    from ansible_collections.aks.tunnel.tests.lab.dataplane import lab  # pylint: disable=import-outside-toplevel
    scenario = scenario_mod.load(name)
    state = str(tmp_path / 'lab')
    lab.up(scenario, state, log=lambda message: None)
    try:
        suspects, wanted = EXPECTED[name]
        topology = scenario_mod.topology_of(scenario)
        full = dict((n['short'], n['name']) for n in topology['nodes'])
        ips = dict((n['short'], n['ip']) for n in topology['nodes'])
        refs = ['%s:10250' % ips[s.split(':')[1]] if s.startswith('endpoint:') else full[s] for s in suspects]
        data = run_playbook(tmp_path, os.path.join(state, 'vars.yml'), {'suspects': refs})
    finally:
        lab.down(state, log=lambda message: None)
    short = dict((v, k) for k, v in full.items())
    probe = data['probe']
    got = dict((f['cause'], f) for f in probe['findings'])
    assert sorted(got) == sorted(NODE_CAUSES)
    for cause, (status, nodes, fragment) in wanted.items():
        finding = got[cause]
        assert (finding['status'], sorted(short[n] for n in finding['affected_nodes'])) == (status, nodes), finding
        if fragment:
            assert any(fragment in line for line in finding['evidence']), finding
    # what the scenario file declares is what the probe finds
    declared = scenario_mod.expected(scenario)
    assert sorted(c for c, f in got.items() if f['status'] == 'problem') == declared['problems']
    assert sorted(c for c, f in got.items() if f['status'] == 'unknown') == declared.get('unknown', [])
    if name == 'nft-drop':
        remediation = got['nft_blocks_10250']['remediation']
        rule = remediation['nft_rules'][full['user1-0']][0]
        assert (rule['family'], rule['table'], rule['chain'], rule['rule']) == ('inet', 'hostfw', 'input', 'tcp dport 10250 drop')
        assert remediation['commands'] == [
            "az vmss run-command invoke --resource-group %s --name %s --instance-id 0 --command-id RunShellScript --scripts "
            "'nft list ruleset > /var/tmp/aks-tunnel-nft-backup-$(date +%%s).nft && nft delete rule inet hostfw input handle %d'"
            % (data['info']['cluster']['node_resource_group'], next(n['vmss'] for n in data['info']['nodes'] if n['name'] == full['user1-0']),
               rule['handle'])]
    if name == 'inspection-fails':
        inspected = [r for r in probe['results'] if r['role'] == 'inspect']
        assert [r['node'] for r in inspected] == [full['user1-0']]
        assert [i['section'] for i in inspected[0]['checks']['firewall']['incomplete']] == ['iptables', 'ufw']
