# -*- coding: utf-8 -*-
# Copyright (c) 2026 aks.tunnel contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""apiserver-vnet-integration-nsg-blocks-4443 (issue 16): nsg_port_check evaluates the API server subnet's NSG paths."""

from __future__ import annotations

from ansible_collections.aks.tunnel.tests.integration.modules_konnectivity.playbook_runner import run_playbook
from ansible_collections.aks.tunnel.tests.lab.swagger import SwaggerSchemas


def test_apiserver_subnet_nsg_blocking_4443_is_found(arm_lab, tmp_path):
    """The scenario's 4443 deny, plus (added here) an API server subnet NSG rule denying the kubelets' TCP 10250: both
    directions are evaluated in one run, while the tunnel nodes still reach every kubelet (nsg_blocks_10250 stays OK)."""
    lab = arm_lab('apiserver-vnet-integration-nsg-blocks-4443')
    _deny_apiserver_to_kubelets(lab)
    topology = lab.state.topology
    nodes = sorted(n['name'] for n in lab.state.topology['nodes'])
    check = dict(lab.reader, source_nodes=[nodes[0]], check_egress=False)
    results = run_playbook(tmp_path, [{'aks.tunnel.nsg_port_check': check, 'register': 'check'}])
    result = results['check']
    [kubelet, _egress, finding] = result['findings']
    assert kubelet['cause'] == 'nsg_blocks_10250' and kubelet['status'] == 'ok'
    assert (finding['cause'], finding['status']) == ('apiserver_subnet_ports_blocked', 'problem'), finding
    assert finding['affected_nodes'] == nodes
    assert "'deny-4443-from-vnet' (priority 200) in NSG apiserver-nsg" in finding['summary'] and 'TCP 4443' in finding['summary']
    assert 'TCP 4443 to the API server subnet 10.241.0.0/28 and TCP 10250 from the API server subnet 10.241.0.0/28 to 3 node(s)' in finding['summary']
    assert "'deny-kubelet-out' (priority 300) in NSG apiserver-nsg" in finding['summary']
    assert any('CNI Overlay' in line for line in finding['evidence']), finding['evidence']
    subnet = result['apiserver_subnet']
    assert (subnet['apiserver_subnet']['prefix'], subnet['apiserver_subnet']['address']) == ('10.241.0.0/28', '10.241.0.4')
    assert sorted((f['source'], f['port'], f['access']) for f in subnet['flows']) == [
        ('AzureLoadBalancer', 9988, 'Allow'), ('AzureLoadBalancer', 9988, 'Allow'), ('apiserver_subnet', 10250, 'Deny'),
        ('nodes', 443, 'Allow'), ('nodes', 4443, 'Deny')]
    [command, kubelet_command] = finding['remediation']['commands']
    assert kubelet_command == (
        'az network nsg rule create -g rg-aks-lab --nsg-name apiserver-nsg -n allow-apiserver-10250 --priority <below 300> --direction Outbound '
        '--access Allow --protocol Tcp --source-address-prefixes 10.241.0.0/28 --destination-address-prefixes %s --destination-port-ranges 10250'
        % topology['vnet']['subnet_prefix'])
    assert command.startswith('az network nsg rule create -g rg-aks-lab --nsg-name apiserver-nsg -n allow-apiserver-4443 --priority <below 200>')
    assert '--direction Inbound' in command and '--destination-address-prefixes 10.241.0.0/28 --destination-port-ranges 4443' in command
    assert finding['remediation']['blocked_flows'] == [
        {'source': 'nodes', 'port': 4443, 'protocol': 'Tcp', 'nsg': subnet['flows'][1]['nsg'], 'rule': 'deny-4443-from-vnet', 'priority': 200,
         'position': 'destination_subnet'},
        {'source': 'apiserver_subnet', 'port': 10250, 'protocol': 'Tcp', 'nsg': subnet['flows'][1]['nsg'], 'rule': 'deny-kubelet-out',
         'priority': 300, 'position': 'source_subnet'}]
    # the managed cluster names the subnet, which answers as the swagger says
    schemas = SwaggerSchemas()
    entries = [e for e in lab.journal() if e['spec'] == ['network', 'Subnets_Get'] and 'aks-apiserver-subnet' in e['path']]
    assert [e['status'] for e in entries] == [200]
    for entry in entries:
        schemas.validate_journal_entry(entry)


def _deny_apiserver_to_kubelets(lab):
    """An outbound rule of the API server subnet's NSG denying TCP 10250 to the VirtualNetwork, through the real SDK (the API server
    -> kubelet path; a tag, so the nodes still share one evaluation)."""
    from azure.identity import ClientSecretCredential  # pylint: disable=import-outside-toplevel
    from azure.mgmt.network import NetworkManagementClient  # pylint: disable=import-outside-toplevel
    from azure.mgmt.network.models import SecurityRule  # pylint: disable=import-outside-toplevel
    auth = lab.auth
    credential = ClientSecretCredential(auth['tenant'], auth['client_id'], auth['secret'], authority=auth['authority_host'],
                                        disable_instance_discovery=True, connection_verify=auth['ca_path'])
    network = NetworkManagementClient(credential, auth['subscription_id'], base_url=auth['arm_endpoint'],
                                      credential_scopes=[auth['arm_endpoint'] + '/.default'], connection_verify=auth['ca_path'], polling_interval=0.1)
    network.security_rules.begin_create_or_update(
        'rg-aks-lab', 'apiserver-nsg', 'deny-kubelet-out',
        SecurityRule(priority=300, direction='Outbound', access='Deny', protocol='Tcp', source_address_prefix='*',
                     source_port_range='*', destination_address_prefix='VirtualNetwork', destination_port_range='10250')).result()
