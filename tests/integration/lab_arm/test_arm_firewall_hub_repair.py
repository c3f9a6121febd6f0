# -*- coding: utf-8 -*-
# Copyright (c) 2026 aks.tunnel contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""azure_firewall_rule on a Firewall Policy in a hub subscription (issue 16): the module writes through the subscription the
policy id names, not the run's own (one real ansible-playbook run: check, real, real again)."""

from __future__ import annotations

from ansible_collections.aks.tunnel.tests.integration.modules_konnectivity.playbook_runner import run_playbook
from ansible_collections.aks.tunnel.tests.lab import scenario as scenario_mod
from ansible_collections.aks.tunnel.tests.lab.arm import ArmEmulator, NullExecutor

HUB_SUB = '0c0c0c0c-0000-4000-8000-0000000000ab'


def test_rule_collection_group_written_in_the_hub_subscription(tmp_path):
    spec = scenario_mod.validate({
        'name': 'hub-repair', 'cluster': {'name': 'aks-lab', 'resource_group': 'rg-aks-lab', 'outbound_type': 'userDefinedRouting'},
        'node_pools': [{'name': 'nodepool1', 'count': 1}],
        'faults': {'routes': [{'name': 'default-via-firewall', 'address_prefix': '0.0.0.0/0', 'next_hop_type': 'VirtualAppliance',
                               'next_hop_ip': '10.241.0.4'}]},
        'arm': {'firewall': {'name': 'fw-hub', 'private_ip': '10.241.0.4', 'policy': 'fp-hub', 'rule_collection_groups': [],
                             'hub_subscription': {'id': HUB_SUB}}}})
    with ArmEmulator(scenario_mod.lab_config(spec), executor=NullExecutor(), state_dir=str(tmp_path / 'arm')) as emu:
        auth = {'subscription_id': emu.state.subscription_id, 'tenant': emu.state.tenant_id, 'arm_endpoint': emu.url, 'authority_host': emu.url,
                'ca_path': emu.ca_path, 'client_id': scenario_mod.LAB_CLIENT['client_id'], 'secret': scenario_mod.LAB_CLIENT['client_secret']}
        policy_id = '/subscriptions/%s/resourceGroups/%s/providers/Microsoft.Network/firewallPolicies/fp-hub' % (HUB_SUB, emu.state.resource_group)
        args = dict(auth, firewall_policy_id=policy_id, rule_collection_group='aks-tunnel-egress', priority=199, rules=[
            {'name': 'aks-tunnel-tcp-9000', 'ip_protocols': ['TCP'], 'source_addresses': ['10.240.0.0/16'], 'destination_addresses': ['20.50.1.10'],
             'destination_ports': ['9000']}])
        results = run_playbook(tmp_path, [
            {'aks.tunnel.azure_firewall_rule': args, 'check_mode': True, 'register': 'check'},
            {'aks.tunnel.azure_firewall_rule': args, 'register': 'real'},
            {'aks.tunnel.azure_firewall_rule': args, 'register': 'again'}])
        puts = [e for e in emu.journal() if e['spec'] == ['azfw', 'FirewallPolicyRuleCollectionGroups_CreateOrUpdate']]
    assert (results['check']['changed'], results['real']['changed'], results['again']['changed']) == (True, True, False)
    assert [e['status'] for e in puts] == [201], puts
    assert puts[0]['path'].startswith('/subscriptions/%s/' % HUB_SUB), puts[0]['path']
