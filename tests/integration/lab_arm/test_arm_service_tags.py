# -*- coding: utf-8 -*-
# Copyright (c) 2026 aks.tunnel contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""egress_route_info's service tag read on the ARM emulator (issue 16), through azure-mgmt-network: the firewall's rules name
service tags, the Service Tag Discovery API (ServiceTags_List) is read once and decides them from the published prefixes (the
lab answers with the public sample's entries, tests/lab/arm/providers/servicetags.py); an identity without
Microsoft.Network/locations/serviceTags/read gets ARM's 403 and every such tag stays unknown naming it. A Virtual WAN secured
hub's firewall is found by its hub IP and evaluated. Every answer is validated against the vendored network 2024-03-01 extracts."""

from __future__ import annotations

from ansible_collections.aks.tunnel.plugins.module_utils import _egress_path
from ansible_collections.aks.tunnel.plugins.module_utils import _firewall_policy as fp
from ansible_collections.aks.tunnel.plugins.modules import egress_route_info
from ansible_collections.aks.tunnel.tests.lab import scenario as scenario_mod
from ansible_collections.aks.tunnel.tests.lab import swagger
from ansible_collections.aks.tunnel.tests.lab.arm import ArmEmulator, NullExecutor

CONTRIBUTOR = ('22222222-2222-4222-8222-22222222e5f6', 'lab-client-secret')
# A reader without the service tag read (a custom role that leaves it out).
NO_TAGS = ('33333333-3333-4333-8333-3333333333aa', 'lab-no-tags-secret')
API = '40.70.146.66'  # in ServiceBus.EastUS2 (40.70.146.64/29) of the sample, in none of ApiManagement


def _net_rule(name, port, destinations, protocol='TCP'):
    return {'ruleType': 'NetworkRule', 'name': name, 'ipProtocols': [protocol], 'destinationPorts': [port], 'sourceAddresses': ['10.240.0.0/16'],
            'destinationAddresses': list(destinations)}


def _scenario():
    rules = [_net_rule('api-by-servicebus-tag', '9000', ['ServiceBus.EastUS2']), _net_rule('api-by-apim-tag', '443', ['ApiManagement']),
             _net_rule('api-by-storage-tag', '1194', ['Storage'], 'UDP')]
    base = {'name': 'fw-tags', 'cluster': {'name': 'aks-lab', 'resource_group': 'rg-aks-lab', 'location': 'eastus2',
                                           'outbound_type': 'userDefinedRouting'},
            'node_pools': [{'name': 'nodepool1', 'count': 1}],
            'faults': {'routes': [{'name': 'default-via-firewall', 'address_prefix': '0.0.0.0/0', 'next_hop_type': 'VirtualAppliance',
                                   'next_hop_ip': '10.241.0.4'}]},
            'arm': {'firewall': {'name': 'fw-hub', 'private_ip': '10.241.0.4', 'policy': 'fp-aks',
                                 'rule_collection_groups': [{'name': 'rcg-aks', 'properties': {'priority': 300, 'ruleCollections': [
                                     {'ruleCollectionType': 'FirewallPolicyFilterRuleCollection', 'name': 'aks', 'priority': 100,
                                      'action': {'type': 'Allow'}, 'rules': rules}]}}]}}}
    return scenario_mod.validate(base)


def _client(emu, who):
    from azure.identity import ClientSecretCredential  # pylint: disable=import-outside-toplevel
    from azure.mgmt.network import NetworkManagementClient  # pylint: disable=import-outside-toplevel
    cred = ClientSecretCredential(emu.state.tenant_id, who[0], who[1], authority=emu.url, disable_instance_discovery=True,
                                  connection_verify=emu.ca_path)
    return NetworkManagementClient(cred, emu.state.subscription_id, base_url=emu.url, credential_scopes=[emu.url + '/.default'],
                                   connection_verify=emu.ca_path, polling_interval=0.1)


def _verdicts(firewall):
    tunnel = {'egress': [{'protocol': 'tcp', 'port': 9000}, {'protocol': 'tcp', 'port': 443}, {'protocol': 'udp', 'port': 1194}]}
    flows = _egress_path.flows_of(tunnel, '10.240.0.4', API, None, 'eastus2')
    verdicts = {}
    for flow in flows:
        verdicts['%s %d' % (flow['protocol'], flow['port'])] = fp.evaluate(firewall['network'], firewall['application'], flow, firewall['ip_groups'],
                                                                           firewall.get('service_tags'))
    return verdicts


def test_service_tags_are_read_once_and_decide_or_stay_unknown_with_the_reason(tmp_path):
    config = scenario_mod.lab_config(_scenario())
    config['clients'] = [{'client_id': CONTRIBUTOR[0], 'client_secret': CONTRIBUTOR[1], 'role': 'contributor'},
                         {'client_id': NO_TAGS[0], 'client_secret': NO_TAGS[1], 'role': 'reader',
                          'not_actions': ['Microsoft.Network/locations/serviceTags/read']}]
    schemas = swagger.SwaggerSchemas()
    with ArmEmulator(config, executor=NullExecutor(), state_dir=str(tmp_path)) as emu:
        sub = emu.state.subscription_id
        network = _client(emu, CONTRIBUTOR)
        reader = egress_route_info.ServiceTagReader(network, 'eastus2')
        firewall, _policies = egress_route_info.read_firewall(network, '10.241.0.4', sub, reader)
        # a second firewall read in the same run does not read the tags again
        egress_route_info.read_firewall(network, '10.241.0.4', sub, reader)
        tag_reads = [e for e in emu.journal() if e['spec'] == ('azfw', 'ServiceTags_List') or list(e['spec'] or ()) == ['azfw', 'ServiceTags_List']]
        assert reader.reads == 1 and len(tag_reads) == 1, tag_reads
        denied_network = _client(emu, NO_TAGS)
        denied, _policies = egress_route_info.read_firewall(denied_network, '10.241.0.4', sub,
                                                            egress_route_info.ServiceTagReader(denied_network, 'eastus2'))
        for entry in emu.journal():
            if entry['spec'] and entry['spec'][0] == 'azfw':
                schemas.validate_journal_entry(entry)
    assert sorted(firewall['service_tags']) == ['apimanagement', 'servicebus.eastus2', 'storage']
    assert 'Service Tag Discovery API at eastus2 (cloud Public, change number 63)' in firewall['service_tags_source']
    verdicts = _verdicts(firewall)
    # TCP 9000: ServiceBus.EastUS2's published prefixes hold the API server -> allowed by that rule
    assert verdicts['TCP 9000']['access'] == 'Allow' and verdicts['TCP 9000']['rule']['name'] == 'api-by-servicebus-tag'
    # TCP 443: ApiManagement's do not -> no rule allows it (a proven default deny)
    assert verdicts['TCP 443']['access'] == 'Deny' and verdicts['TCP 443']['default']
    # UDP 1194: Storage is not in the (one-page) list -> unknown naming it
    assert verdicts['UDP 1194']['access'] == 'Unknown' and 'has no such tag' in verdicts['UDP 1194']['reason']
    # the identity without the service tag read: every tag unknown with ARM's refusal, never a guess
    assert denied['service_tags_source'] is None
    assert all('AuthorizationFailed' in v['error'] and 'serviceTags/read' in v['error'] for v in denied['service_tags'].values()), denied
    verdicts = _verdicts(denied)
    assert verdicts['TCP 9000']['access'] == 'Unknown' and 'AuthorizationFailed' in verdicts['TCP 9000']['reason']
    assert verdicts['TCP 443']['access'] == 'Unknown'


def test_secured_hub_firewall_is_found_by_its_hub_ip_and_evaluated(tmp_path):
    """A Virtual WAN secured hub's Azure Firewall (AZFW_Hub: no ipConfigurations, its private IP in hubIPAddresses) is found
    through azure-mgmt-network by the VirtualNetworkGateway next hop the spokes learn, and its policy decides the flows."""
    scenario = _scenario()
    scenario['arm']['firewall'].update(virtual_hub='vhub-eastus2', private_ip='10.100.0.132')
    config = scenario_mod.lab_config(scenario)
    config['clients'] = [{'client_id': CONTRIBUTOR[0], 'client_secret': CONTRIBUTOR[1], 'role': 'contributor'}]
    with ArmEmulator(config, executor=NullExecutor(), state_dir=str(tmp_path)) as emu:
        network = _client(emu, CONTRIBUTOR)
        firewall, policies = egress_route_info.read_firewall(network, '10.100.0.132', emu.state.subscription_id,
                                                             egress_route_info.ServiceTagReader(network, 'eastus2'))
        for entry in emu.journal():
            if entry['spec'] and entry['spec'][0] == 'azfw':
                swagger.SwaggerSchemas().validate_journal_entry(entry)
    assert firewall['name'] == 'fw-hub' and firewall['virtual_hub'].endswith('/virtualHubs/vhub-eastus2')
    route = {'route': {'prefix': '0.0.0.0/0', 'next_hop_type': 'VirtualNetworkGateway', 'next_hop_ip': '10.100.0.132',
                       'source': 'VirtualNetworkGateway', 'table': None, 'name': None},
             'label': 'a VirtualNetworkGateway route (0.0.0.0/0) -> VirtualNetworkGateway 10.100.0.132', 'how': 'effective_routes'}
    tunnel = {'egress': [{'protocol': 'tcp', 'port': 9000}, {'protocol': 'tcp', 'port': 443}]}
    flows = _egress_path.flows_of(tunnel, '10.240.0.4', API, None, 'eastus2')
    found = _egress_path.finding(tunnel, flows, route, firewall, policies, ['10.240.0.0/16'], None, ['nodepool1-0'], API)
    # TCP 9000 allowed through ServiceBus.EastUS2, TCP 443 denied by default (ApiManagement does not hold the API server)
    assert found['status'] == 'problem' and 'denies the tunnel egress (TCP 443)' in found['summary'], found
    assert any('of the virtual hub vhub-eastus2 (a Virtual WAN secured hub)' in e for e in found['evidence'])
    assert found['remediation']['firewall']['policy'] == 'fp-aks'
