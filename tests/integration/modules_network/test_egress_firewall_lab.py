# -*- coding: utf-8 -*-
# Copyright (c) 2026 aks.tunnel contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""egress_route_info and azure_firewall_rule on the lab (issue 16), as the shipped least-privilege identities.

udr-azure-firewall-blocks-443: the node subnet's route table sends 0.0.0.0/0 to the emulated Azure Firewall, whose policy
denies TCP 443 with a network rule (before the AKS FQDN tag application rule); the router namespace enforces the policy, so
the konnectivity probe really times out. The module names the route and the rule and plans the owned rule collection group;
the repair is applied in four steps (check: changed, real: changed, check and real again: not changed) and a new probe
gets through. udr-appliance-blocks-9000: the next hop is no Azure Firewall; the probe's block names the appliance and the
exact allow."""

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
    fix: "{{ egress.egress_finding.remediation.firewall | default({}) }}"
  module_defaults:
    aks.tunnel.aks_cluster_info: "{{ auth | combine({'kubeconfig': kubeconfig}) }}"
    aks.tunnel.vmss_runcommand_probe: "{{ auth | combine({'kubeconfig': kubeconfig}) }}"
    aks.tunnel.egress_route_info: "{{ auth }}"
    aks.tunnel.azure_firewall_rule: "{{ aks_tunnel_lab_remediate_auth }}"
  tasks:
    - name: Cluster model
      aks.tunnel.aks_cluster_info:
        resource_group: "{{ aks_tunnel_resource_group }}"
        name: "{{ aks_tunnel_cluster_name }}"
      register: info
    - name: Probe the egress from the tunnel nodes
      aks.tunnel.vmss_runcommand_probe:
        resource_group: "{{ aks_tunnel_resource_group }}"
        name: "{{ aks_tunnel_cluster_name }}"
        cluster_model: "{{ info }}"
        checks: [egress]
        run_timeout: 60
      register: probe
    - name: The route and the firewall rule
      aks.tunnel.egress_route_info:
        resource_group: "{{ aks_tunnel_resource_group }}"
        name: "{{ aks_tunnel_cluster_name }}"
        cluster_model: "{{ info }}"
        api_server_ip: "{{ aks_tunnel_lab.api_server_ip }}"
        probe_results: "{{ probe.results }}"
      register: egress
    - name: Repair in four steps
      when: fix.rules is defined
      block:
        - {name: check, aks.tunnel.azure_firewall_rule: {firewall_policy_id: "{{ fix.policy_id }}", priority: "{{ fix.priority }}", rules: "{{ fix.rules }}"},
           check_mode: true, diff: true, register: step1}
        - {name: real, aks.tunnel.azure_firewall_rule: {firewall_policy_id: "{{ fix.policy_id }}", priority: "{{ fix.priority }}", rules: "{{ fix.rules }}"},
           register: step2}
        - {name: check again, aks.tunnel.azure_firewall_rule: {firewall_policy_id: "{{ fix.policy_id }}", priority: "{{ fix.priority }}",
                                                               rules: "{{ fix.rules }}"}, check_mode: true, register: step3}
        - {name: real again, aks.tunnel.azure_firewall_rule: {firewall_policy_id: "{{ fix.policy_id }}", priority: "{{ fix.priority }}",
                                                              rules: "{{ fix.rules }}"}, register: step4}
        - name: Probe again
          aks.tunnel.vmss_runcommand_probe:
            resource_group: "{{ aks_tunnel_resource_group }}"
            name: "{{ aks_tunnel_cluster_name }}"
            cluster_model: "{{ info }}"
            checks: [egress]
            run_timeout: 60
          register: probe_after
        - name: The route and the firewall rule after the repair
          aks.tunnel.egress_route_info:
            resource_group: "{{ aks_tunnel_resource_group }}"
            name: "{{ aks_tunnel_cluster_name }}"
            cluster_model: "{{ info }}"
            api_server_ip: "{{ aks_tunnel_lab.api_server_ip }}"
            probe_results: "{{ probe_after.results }}"
          register: egress_after
        - {name: undo, aks.tunnel.azure_firewall_rule: "{{ step2.undo }}", register: undo}
        - {name: undo again, aks.tunnel.azure_firewall_rule: "{{ step2.undo }}", register: undo_again}
    - name: Dump
      ansible.builtin.copy:
        dest: "{{ out }}"
        content: "{{ {'info': info, 'probe': probe, 'egress': egress, 'steps': [step1 | default(none), step2 | default(none),
                      step3 | default(none), step4 | default(none)], 'probe_after': probe_after | default(none),
                      'egress_after': egress_after | default(none), 'undo': [undo | default(none), undo_again | default(none)]} | to_json }}"
'''


def _egress_checks(probe):
    return sorted(set((c['kind'], c['port'], c['ok']) for r in probe['results'] for c in (r.get('checks') or {}).get('egress') or []))


def test_azure_firewall_rule_named_and_repaired_in_four_steps(lab_factory, tmp_path):
    lab = lab_factory('udr-azure-firewall-blocks-443')
    data = run_playbook(tmp_path, PLAY, lab.vars_file, {})
    assert _egress_checks(data['probe']) == [('tls', 443, False)]
    found = data['egress']['egress_finding']
    assert (found['cause'], found['status']) == ('egress_ports_blocked', 'problem'), found
    names = short_names(data['info'])
    assert sorted(names[n] for n in found['affected_nodes']) == ['nodepool1-0', 'user1-0']
    route = found['remediation']['route']
    assert (route['table'], route['name'], route['prefix'], route['next_hop_type'], route['next_hop_ip']) == (
        'rt-aks-nodes', 'default-via-firewall', '0.0.0.0/0', 'VirtualAppliance', '10.241.0.4')
    fix = found['remediation']['firewall']
    assert (fix['firewall'], fix['policy'], fix['rule_collection_group'], fix['priority'], fix['refused']) == (
        'fw-hub', 'fp-aks-egress', 'aks-tunnel-egress', 199, None)
    assert fix['denied'] == [{'flow': 'TCP 443', 'default_deny': False, 'reason': fix['denied'][0]['reason'],
                              'rule': 'firewall policy fp-aks-egress, rule collection group rcg-platform (priority 200), rule collection '
                                      'deny-outbound-web (priority 100, Deny), network rule deny-tcp-443'}]
    assert fix['rules'] == [{'name': 'aks-tunnel-tcp-443', 'ip_protocols': ['TCP'], 'source_addresses': ['10.240.0.0/16'],
                             'destination_addresses': [data['egress']['api_server_ip']], 'destination_ports': ['443']}]
    assert "route table rt-aks-nodes, route 'default-via-firewall' (0.0.0.0/0) -> VirtualAppliance 10.241.0.4" in found['summary']
    assert data['egress']['firewall']['kind'] == 'policy' and [r['name'] for r in data['egress']['routes']] == ['default-via-firewall']
    step1, step2, step3, step4 = data['steps']
    assert (step1['changed'], step2['changed'], step3['changed'], step4['changed']) == (True, True, False, False)
    assert (step1['action'], step2['action'], step3['action']) == ('created', 'created', 'none')
    assert step1['diff']['before'] == {} and step1['diff']['after']['priority'] == 199
    assert step2['undo']['state'] == 'absent'
    # a real packet gets through now, and the evaluation agrees
    assert _egress_checks(data['probe_after']) == [('tls', 443, True)]
    after = data['egress_after']['egress_finding']
    assert after['status'] == 'ok' and 'aks-tunnel-egress' in after['summary'], after
    # the undo deletes the owned group only, once
    assert [(u['changed'], u['action']) for u in data['undo']] == [(True, 'deleted'), (False, 'none')]
    _answers_match_the_spec(lab, {('network', 'RouteTables_Get'), ('azfw', 'AzureFirewalls_ListAll'), ('azfw', 'FirewallPolicies_Get'),
                                  ('azfw', 'FirewallPolicyRuleCollectionGroups_List'), ('azfw', 'FirewallPolicyRuleCollectionGroups_Get'),
                                  ('azfw', 'FirewallPolicyRuleCollectionGroups_CreateOrUpdate'),
                                  ('azfw', 'FirewallPolicyRuleCollectionGroups_Delete')})


def _answers_match_the_spec(lab, operations):
    """Every route table, firewall and policy answer (and request) matches the swagger (azfw: the schemas written from it)."""
    from ansible_collections.aks.tunnel.tests.lab.swagger import SwaggerSchemas  # pylint: disable=import-outside-toplevel
    schemas = SwaggerSchemas()
    entries = [e for e in lab.admin('GET', 'journal')['value'] if e['spec'] and (e['spec'][0] == 'azfw' or e['spec'][1] == 'RouteTables_Get')]
    assert {tuple(e['spec']) for e in entries} == operations
    for entry in entries:
        assert entry['status'] in (200, 201, 202, 404), entry
        schemas.validate_journal_entry(entry)


def test_third_party_appliance_named_with_the_exact_allow(lab_factory, tmp_path):
    lab = lab_factory('udr-appliance-blocks-9000')
    data = run_playbook(tmp_path, PLAY, lab.vars_file, {})
    assert _egress_checks(data['probe']) == [('tcp', 9000, False)]
    found = data['egress']['egress_finding']
    assert (found['cause'], found['status']) == ('egress_ports_blocked', 'problem'), found
    assert data['egress']['firewall'] is None
    assert found['summary'].startswith('the appliance 10.241.0.5 blocks the tunnel egress (TCP 9000)')
    appliance = found['remediation']['appliance']
    api_ip, fqdn = data['egress']['api_server_ip'], data['info']['cluster']['api_server_host']
    assert appliance['allow'] == ['allow tcp from 10.240.0.0/16 to %s (%s) port 9000' % (api_ip, fqdn)]
    assert found['remediation']['route']['name'] == 'default-via-nva' and 'firewall' not in found['remediation']
    assert all(step['skipped'] for step in data['steps'])  # nothing to write for an appliance that is not an Azure Firewall
    _answers_match_the_spec(lab, {('network', 'RouteTables_Get'), ('azfw', 'AzureFirewalls_ListAll')})
