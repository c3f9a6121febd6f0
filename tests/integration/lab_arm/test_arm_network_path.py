# -*- coding: utf-8 -*-
# Copyright (c) 2026 aks.tunnel contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The ARM emulator's network path operations (issue 12), driven by azure-mgmt-network through network_path_info's own
read functions: Virtual Network Manager effective admin rules (paged with skipToken, $top <= 20) and a NIC's effective
route table (202 + Location LRO), every answer validated against the spec schema; then the engine on what was read."""

from __future__ import annotations

import pytest
from azure.core.exceptions import HttpResponseError, ResourceNotFoundError

from ansible_collections.aks.tunnel.plugins.module_utils import _network_path
from ansible_collections.aks.tunnel.plugins.modules import network_path_info
from ansible_collections.aks.tunnel.tests.integration.lab_arm.inprocess_arm import network_client
from ansible_collections.aks.tunnel.tests.lab import scenario as scenario_mod
from ansible_collections.aks.tunnel.tests.lab import swagger
from ansible_collections.aks.tunnel.tests.lab.arm import ArmEmulator, NullExecutor
from ansible_collections.aks.tunnel.tests.lab.topology import build_topology


def _scenario(**faults):
    base = {'name': 'path', 'cluster': {'name': 'aks-lab', 'resource_group': 'rg-aks-lab'},
            'node_pools': [{'name': 'nodepool1', 'count': 2}, {'name': 'user1', 'count': 2}], 'faults': faults}
    return scenario_mod.validate(base)


@pytest.fixture(scope='module')
def schemas():
    return swagger.SwaggerSchemas()


def _config(scenario):
    config = scenario_mod.lab_config(scenario)
    config['clients'] = []  # the emulator's default contributor
    return config


def test_admin_rules_pages_and_spec(tmp_path, schemas):
    rules = [{'name': 'deny-%02d' % i, 'priority': 100 + i, 'direction': 'Inbound', 'access': 'Deny', 'destination_ports': [str(2000 + i)]}
             for i in range(23)]
    rules.append({'name': 'deny-kubelet', 'priority': 10, 'direction': 'Inbound', 'access': 'Deny', 'destination_nodes': ['user1-1'],
                  'destination_ports': ['10250']})
    rules.append({'name': 'high-risk', 'priority': 5, 'direction': 'Outbound', 'access': 'AlwaysAllow', 'kind': 'Default', 'protocol': 'Any'})
    scenario = _scenario(admin_rules=rules)
    topology = build_topology(scenario)
    with ArmEmulator(_config(scenario), executor=NullExecutor(), state_dir=str(tmp_path)) as emu:
        network = network_client(emu)
        vnet = topology['vnet']['id']
        read = network_path_info.read_admin_rules(network, vnet)
        assert len(read) == 25
        assert [r['id'].rsplit('/', 1)[-1] for r in read] == [r['name'] for r in rules]
        kinds = {r['id'].rsplit('/', 1)[-1]: r['kind'] for r in read}
        assert kinds['high-risk'] == 'Default' and kinds['deny-kubelet'] == 'Custom'
        entries = [e for e in emu.journal() if e['spec'] == ['avnm', 'ListNetworkManagerEffectiveSecurityAdminRules']]
        assert [e['status'] for e in entries] == [200, 200]  # 20 + 5, chained by skipToken
        assert entries[1]['request'] == {'skipToken': '20'}
        for entry in entries:
            schemas.validate_journal_entry(entry)
        with pytest.raises(ResourceNotFoundError):
            network_path_info.read_admin_rules(network, vnet.rsplit('/', 1)[0] + '/other-vnet')
        with pytest.raises(HttpResponseError) as info:
            network.list_network_manager_effective_security_admin_rules(emu.state.node_resource_group, topology['vnet']['name'], {}, top=21)
        assert info.value.status_code == 400
        # the engine on what was read: the Deny for user1-1 blocks it, the other ports do not matter
        model = {'cluster': {'vnet_address_prefixes': topology['vnet']['address_prefixes']},
                 'nodes': [{'name': n['name'], 'private_ip': n['ip'], 'subnet_id': n['subnet_id'], 'nic_id': n['nic_id']} for n in topology['nodes']]}
        sources = [model['nodes'][0]]
        result = _network_path.check_network_path(model, sources, {vnet.lower(): read}, {sources[0]['name']: []})
        assert [(b['name'], b['nodes']) for b in result['admin_blocks']] == [('deny-kubelet', [topology['nodes'][3]['name']])]
        assert [a['name'] for a in result['always_allow']] == ['high-risk']


def test_effective_route_table_lro_and_spec(tmp_path, schemas):
    scenario = _scenario(routes=[{'name': 'nodes-via-firewall', 'address_prefix': '10.240.0.0/16', 'next_hop_type': 'VirtualAppliance',
                                  'next_hop_ip': '10.241.0.4'}])
    topology = build_topology(scenario)
    with ArmEmulator(_config(scenario), executor=NullExecutor(), state_dir=str(tmp_path)) as emu:
        network = network_client(emu)
        node = topology['nodes'][0]
        routes = network_path_info.read_routes(network, node['nic_id'], 30)
        hops = [(r.get('name'), r['source'], r['addressPrefix'], r['nextHopType']) for r in routes]
        assert (None, 'Default', topology['vnet']['address_prefixes'], 'VnetLocal') in hops
        assert ('nodes-via-firewall', 'User', ['10.240.0.0/16'], 'VirtualAppliance') in hops
        first = [e for e in emu.journal() if e['spec'] == ['network', 'NetworkInterfaces_GetEffectiveRouteTable']]
        assert [e['status'] for e in first] == [202, 200]  # the POST, then the result at the Location URL
        for entry in first:
            schemas.validate_journal_entry(entry)
        found = _network_path.route_for([_network_path.normalize_route(r) for r in routes], topology['nodes'][1]['ip'])
        assert (found['name'], found['next_hop_ip']) == ('nodes-via-firewall', ['10.241.0.4'])
        with pytest.raises(ResourceNotFoundError):
            network_path_info.read_routes(network, node['nic_id'].rsplit('/', 1)[0] + '/no-such-nic', 30)
