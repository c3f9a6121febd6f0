# -*- coding: utf-8 -*-
# Copyright (c) 2026 aks.tunnel contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""egress_route_info's firewall reads on the ARM emulator (issue 16), through azure-mgmt-network: the firewall behind the next hop,
its policy and the IP groups its rules name (read and decided from their addresses; one in another subscription or missing
stays undecided with the reason), every answer validated against the vendored network 2024-03-01 extracts."""

from __future__ import annotations

import pytest

from ansible_collections.aks.tunnel.plugins.module_utils import _egress_path
from ansible_collections.aks.tunnel.plugins.module_utils import _firewall_policy as fp
from ansible_collections.aks.tunnel.plugins.modules import egress_route_info
from ansible_collections.aks.tunnel.tests.integration.lab_arm.inprocess_arm import CONTRIBUTOR, network_client
from ansible_collections.aks.tunnel.tests.lab import scenario as scenario_mod
from ansible_collections.aks.tunnel.tests.lab import swagger
from ansible_collections.aks.tunnel.tests.lab.arm import ArmEmulator, NullExecutor
from ansible_collections.aks.tunnel.tests.lab.topology import build_topology

OTHER_SUB = '0b0b0b0b-0000-4000-8000-00000000beef'


def _net_rule(name, ports, source_groups=(), destination_groups=(), destinations=(), protocol='TCP'):
    return {'ruleType': 'NetworkRule', 'name': name, 'ipProtocols': [protocol], 'destinationPorts': list(ports), 'sourceAddresses': [],
            'sourceIpGroups': list(source_groups), 'destinationIpGroups': list(destination_groups), 'destinationAddresses': list(destinations)}


def _scenario(rg, sub):
    ipg = '/subscriptions/%s/resourceGroups/%s/providers/Microsoft.Network/ipGroups/' % (sub, rg)
    rules = [_net_rule('nodes-to-api-9000', ['9000'], [ipg + 'ipg-nodes'], destinations=['AzureCloud.westeurope']),
             _net_rule('nodes-to-api-443', ['443'], [ipg + 'ipg-nodes'], [ipg + 'ipg-missing']),
             _net_rule('hub-group-1194', ['1194'], ['/subscriptions/%s/resourceGroups/rg-hub/providers/Microsoft.Network/ipGroups/ipg-hub' % OTHER_SUB],
                       destinations=['*'], protocol='UDP')]
    base = {'name': 'fw-reads', 'cluster': {'name': 'aks-lab', 'resource_group': rg, 'location': 'westeurope', 'outbound_type': 'userDefinedRouting'},
            'node_pools': [{'name': 'nodepool1', 'count': 2}],
            'faults': {'routes': [{'name': 'default-via-firewall', 'address_prefix': '0.0.0.0/0', 'next_hop_type': 'VirtualAppliance',
                                   'next_hop_ip': '10.241.0.4'}]},
            'arm': {'firewall': {'name': 'fw-hub', 'private_ip': '10.241.0.4', 'policy': 'fp-aks', 'ip_groups': [
                {'name': 'ipg-nodes', 'ip_addresses': ['10.240.0.0/16']}],
                'rule_collection_groups': [{'name': 'rcg-aks', 'properties': {'priority': 300, 'ruleCollections': [
                    {'ruleCollectionType': 'FirewallPolicyFilterRuleCollection', 'name': 'aks', 'priority': 100, 'action': {'type': 'Allow'},
                     'rules': rules}]}}]}}}
    return scenario_mod.validate(base)


def test_ip_groups_are_read_and_decide_the_verdict(tmp_path):
    probe = build_topology(_scenario('rg-aks-lab', 'x'))
    scenario = _scenario('rg-aks-lab', probe['cluster']['subscription_id'])
    topology = build_topology(scenario)
    config = scenario_mod.lab_config(scenario)
    config['clients'] = []
    schemas = swagger.SwaggerSchemas()
    with ArmEmulator(config, executor=NullExecutor(), state_dir=str(tmp_path)) as emu:
        sub = emu.state.subscription_id
        firewall, policies = egress_route_info.read_firewall(network_client(emu), '10.241.0.4', sub)
        assert (firewall['name'], firewall['policy'], policies[-1]['name']) == ('fw-hub', 'fp-aks', 'fp-aks')
        groups = firewall['ip_groups']
        ipg = '/subscriptions/%s/resourceGroups/rg-aks-lab/providers/Microsoft.Network/ipGroups/' % sub
        assert groups[(ipg + 'ipg-nodes').lower()] == {'addresses': ['10.240.0.0/16']}
        assert 'ipg-missing' in groups[(ipg + 'ipg-missing').lower()]['error']
        hub = [v for k, v in groups.items() if OTHER_SUB in k][0]
        assert hub == {'error': 'it is in subscription %s, which this run does not read' % OTHER_SUB}
        entries = [e for e in emu.journal() if e['spec'] and e['spec'][0] == 'azfw']
        assert {e['spec'][1] for e in entries} >= {'AzureFirewalls_ListAll', 'FirewallPolicies_Get', 'FirewallPolicyRuleCollectionGroups_List',
                                                   'IpGroups_Get'}
        for entry in entries:
            schemas.validate_journal_entry(entry)

    api = '20.50.1.10'
    node = topology['nodes'][0]
    flows = _egress_path.flows_of({'egress': [{'protocol': 'tcp', 'port': 9000}, {'protocol': 'tcp', 'port': 443, 'kind': 'tls'},
                                              {'protocol': 'udp', 'port': 1194}]}, node['ip'], api, 'aks.hcp.westeurope.azmk8s.io', 'westeurope')
    verdicts = dict(('%s %d' % (f['protocol'], f['port']), fp.evaluate(firewall['network'], firewall['application'], f, groups)) for f in flows)
    # TCP 9000: the node is in ipg-nodes (read) and the API server in AzureCloud.westeurope
    assert verdicts['TCP 9000']['access'] == 'Allow' and verdicts['TCP 9000']['rule']['name'] == 'nodes-to-api-9000'
    # TCP 443: the destination group cannot be read -> undecided, then the default deny: unknown, not a false deny
    assert verdicts['TCP 443']['access'] == 'Unknown' and 'IP group ipg-missing' in verdicts['TCP 443']['reason']
    # UDP 1194: the source group is in another subscription -> unknown, naming that subscription
    assert verdicts['UDP 1194']['access'] == 'Unknown' and OTHER_SUB in verdicts['UDP 1194']['reason']


@pytest.mark.parametrize('group_id, error', [
    ('not-an-id', 'not an IP group id'),
])
def test_ip_group_ids_that_are_not_ids(group_id, error):
    assert egress_route_info.read_ip_groups(None, 's', [group_id]) == {group_id: {'error': error}}


HUB_SUB = '0c0c0c0c-0000-4000-8000-0000000000ab'


class _Run:
    """What locate_firewall uses of a module: its AzureClients (built from options as a module builds them) and warn()."""

    def __init__(self, emu):
        from ansible_collections.aks.tunnel.plugins.module_utils import _azure  # pylint: disable=import-outside-toplevel
        params = {'auth_source': 'env', 'client_id': CONTRIBUTOR[0], 'secret': CONTRIBUTOR[1], 'tenant': emu.state.tenant_id,
                  'subscription_id': emu.state.subscription_id, 'arm_endpoint': emu.url, 'authority_host': emu.url, 'ca_path': emu.ca_path,
                  'cloud_environment': 'AzureCloud'}
        self.azure = _azure.AzureClients(_azure.resolve_settings(params, environ={}, credentials_file='/nonexistent'), timeout=30)
        self.warnings = []

    def warn(self, text):
        self.warnings.append(text)


def _hub_scenario(readers):
    scenario = _scenario('rg-aks-lab', HUB_SUB)
    scenario['arm']['firewall']['hub_subscription'] = {'id': HUB_SUB, 'readers': readers, 'address_prefixes': ['10.241.0.0/16']}
    group = scenario['arm']['firewall']['rule_collection_groups'][0]['properties']['ruleCollections'][0]
    group['rules'] = [_net_rule('allow-9000', ['9000'], destinations=['AzureCloud.westeurope'])]
    group['rules'][0]['sourceAddresses'] = ['10.240.0.0/16']
    return scenario


@pytest.mark.parametrize('readers', [None, ['someone-else']], ids=['hub-readable', 'hub-not-readable'])
def test_hub_firewall_in_another_subscription(tmp_path, readers):
    scenario = _hub_scenario(readers)
    topology = build_topology(scenario)
    config = scenario_mod.lab_config(scenario)
    config['clients'] = []
    with ArmEmulator(config, executor=NullExecutor(), state_dir=str(tmp_path)) as emu:
        run = _Run(emu)
        node = topology['nodes'][0]
        firewall, policies = egress_route_info.locate_firewall(run, run.azure.network, '10.241.0.4', node['subnet_id'])
        entries = [e for e in emu.journal() if e['spec'] and e['spec'][0] in ('azfw', 'network')]
        for entry in entries:
            swagger.SwaggerSchemas().validate_journal_entry(entry)
        run.azure.close()
    hub = firewall['hub']
    assert (hub['subscription'], hub['vnet_id'].rsplit('/', 1)[-1], hub['peering']) == (HUB_SUB, 'vnet-hub', 'spoke-to-hub')
    route = {'route': {'prefix': '0.0.0.0/0', 'next_hop_type': 'VirtualAppliance', 'next_hop_ip': '10.241.0.4', 'table': 'rt-aks-nodes',
                       'name': 'default-via-firewall'}, 'label': "route table rt-aks-nodes, route 'default-via-firewall'", 'how': 'route_table'}
    tunnel = {'egress': [{'protocol': 'tcp', 'port': 9000}]}
    flows = _egress_path.flows_of(tunnel, node['ip'], '20.50.1.10', 'aks.hcp.westeurope.azmk8s.io', 'westeurope')
    found = _egress_path.finding(tunnel, flows, route, firewall, policies, ['10.240.0.0/16'], None, [node['name']], '20.50.1.10')
    if readers is None:
        assert firewall['id'].startswith('/subscriptions/%s/' % HUB_SUB) and policies[-1]['id'].startswith('/subscriptions/%s/' % HUB_SUB)
        assert found['status'] == 'ok' and 'allow-9000' in found['summary'], found
        assert any('in the hub subscription %s' % HUB_SUB in e for e in found['evidence'])
    else:
        assert found['status'] == 'unknown', found
        assert 'subscription %s (a hub)' % HUB_SUB in found['summary'] and 'AuthorizationFailed' in found['summary']
        assert found['remediation']['summary'].startswith('Grant this identity the Reader role on subscription %s' % HUB_SUB)
