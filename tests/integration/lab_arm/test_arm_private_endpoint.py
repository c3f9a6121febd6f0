# -*- coding: utf-8 -*-
# Copyright (c) 2026 aks.tunnel contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""A private cluster's API server address read from ARM (issue 16), through azure-mgmt-network on the ARM emulator: the
``kube-apiserver`` private endpoint in the node resource group and its NIC give the lab's endpoint IP (the address the nodes'
private FQDN resolves to); a reader without ``Microsoft.Network/privateEndpoints/read`` gets ARM's 403 and the address stays
unknown naming it. Every answer is validated against privateEndpoint.json / networkInterface.json."""

from __future__ import annotations

import os

import yaml

from ansible_collections.aks.tunnel.plugins.module_utils import _cluster_model
from ansible_collections.aks.tunnel.plugins.module_utils import _private_endpoint
from ansible_collections.aks.tunnel.tests.lab import scenario as scenario_mod
from ansible_collections.aks.tunnel.tests.lab import swagger
from ansible_collections.aks.tunnel.tests.lab.arm import ArmEmulator, NullExecutor

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..', '..'))
CONTRIBUTOR = ('22222222-2222-4222-8222-22222222e5f6', 'lab-client-secret')
NO_PE = ('33333333-3333-4333-8333-3333333333ab', 'lab-no-pe-secret')


def _client(emu, who):
    from azure.identity import ClientSecretCredential  # pylint: disable=import-outside-toplevel
    from azure.mgmt.network import NetworkManagementClient  # pylint: disable=import-outside-toplevel
    cred = ClientSecretCredential(emu.state.tenant_id, who[0], who[1], authority=emu.url, disable_instance_discovery=True,
                                  connection_verify=emu.ca_path)
    return NetworkManagementClient(cred, emu.state.subscription_id, base_url=emu.url, credential_scopes=[emu.url + '/.default'],
                                   connection_verify=emu.ca_path)


def test_private_endpoint_address_is_read_from_arm_or_unknown_with_the_reason(tmp_path):
    with open(os.path.join(ROOT, 'tests', 'lab', 'scenarios', 'private-cluster.yaml'), encoding='utf-8') as handle:
        config = scenario_mod.lab_config(scenario_mod.validate(yaml.safe_load(handle)))
    config['clients'] = [{'client_id': CONTRIBUTOR[0], 'client_secret': CONTRIBUTOR[1], 'role': 'contributor'},
                         {'client_id': NO_PE[0], 'client_secret': NO_PE[1], 'role': 'reader',
                          'not_actions': ['Microsoft.Network/privateEndpoints/read']}]
    schemas = swagger.SwaggerSchemas()
    with ArmEmulator(config, executor=NullExecutor(), state_dir=str(tmp_path)) as emu:
        cluster = emu.state.topology['cluster']
        node_rg = emu.state.node_resource_group
        fetched = _private_endpoint.fetch(_client(emu, CONTRIBUTOR), node_rg, cluster['private_fqdn'], _cluster_model.as_dict)
        denied = _private_endpoint.fetch(_client(emu, NO_PE), node_rg, cluster['private_fqdn'], _cluster_model.as_dict)
        entries = [e for e in emu.journal() if '/privateendpoints/' in e['path'].lower() or '/networkinterfaces/kube-apiserver' in e['path'].lower()]
        for entry in entries:
            schemas.validate_journal_entry(entry)
    assert [e['status'] for e in entries] == [200, 200, 403], entries
    fields = _private_endpoint.model_fields(fetched, cluster['private_fqdn'])
    # no customDnsConfigs on the endpoint: the address comes from its NIC, and it is the one the nodes' private FQDN resolves to
    assert fields['api_server_private_ip'] == cluster['private_endpoint_ip'] == '10.240.255.254'
    assert fields['api_server_private_ip_source'].startswith('private endpoint kube-apiserver (NIC kube-apiserver.nic.')
    assert fields['private_endpoint_id'].endswith('/resourceGroups/%s/providers/Microsoft.Network/privateEndpoints/kube-apiserver' % node_rg)
    denied_fields = _private_endpoint.model_fields(denied, cluster['private_fqdn'])
    assert denied_fields['api_server_private_ip'] is None
    assert 'AuthorizationFailed' in denied_fields['api_server_private_ip_error'] and 'privateEndpoints/read' in denied_fields['api_server_private_ip_error']


def test_private_dns_zone_links_are_read_through_the_network_client(tmp_path):
    """The system zone's virtual network links (VirtualNetworkLinks_List) through azure-mgmt-network's pipeline: linked to the node
    VNet, none with the fault private_dns_unlinked, ARM's 403 without the read; validated against the privatedns.json extract."""
    from ansible_collections.aks.tunnel.plugins.module_utils import _private_dns  # pylint: disable=import-outside-toplevel
    with open(os.path.join(ROOT, 'tests', 'lab', 'scenarios', 'private-dns-unlinked.yaml'), encoding='utf-8') as handle:
        unlinked = scenario_mod.validate(yaml.safe_load(handle))
    states = {}
    for name, faults in (('linked', dict(unlinked['faults'], private_dns_unlinked=False)), ('unlinked', unlinked['faults'])):
        config = scenario_mod.lab_config(dict(unlinked, faults=faults))
        config['clients'] = [{'client_id': CONTRIBUTOR[0], 'client_secret': CONTRIBUTOR[1], 'role': 'contributor'},
                             {'client_id': NO_PE[0], 'client_secret': NO_PE[1], 'role': 'reader',
                              'not_actions': ['Microsoft.Network/privateDnsZones/virtualNetworkLinks/read']}]
        with ArmEmulator(config, executor=NullExecutor(), state_dir=str(tmp_path / name)) as emu:
            topo = emu.state.topology
            cluster = {'private_cluster': True, 'private_fqdn': topo['cluster']['private_fqdn'], 'private_dns_zone': 'system',
                       'node_resource_group': emu.state.node_resource_group, 'subscription_id': emu.state.subscription_id,
                       'vnet_ids': [topo['vnet']['id']]}
            states[name] = _private_dns.read_links(_client(emu, CONTRIBUTOR), cluster)
            states[name + '-denied'] = _private_dns.read_links(_client(emu, NO_PE), cluster)
            entries = [e for e in emu.journal() if '/virtualnetworklinks' in e['path'].lower()]
            for entry in entries:
                swagger.SwaggerSchemas().validate_journal_entry(entry)
            assert [e['status'] for e in entries] == [200, 403]
    vnet = topo['vnet']['id']
    assert states['linked']['linked'] == [vnet] and states['linked']['unlinked'] == [] and states['linked']['links'][0]['state'] == 'Completed'
    assert states['unlinked'] == {'read': True, 'error': None, 'links': [], 'linked': [], 'unlinked': [vnet]}
    assert states['unlinked-denied']['read'] is False and 'AuthorizationFailed' in states['unlinked-denied']['error']
