# -*- coding: utf-8 -*-
# Copyright (c) 2026 aks.tunnel contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import json

import pytest

from ansible.module_utils.testing import patch_module_args

from ansible_collections.aks.tunnel.plugins.module_utils import _cluster_model
from ansible_collections.aks.tunnel.plugins.module_utils._module import AksTunnelModule
from ansible_collections.aks.tunnel.plugins.modules import nsg_port_check

AUTH = {'subscription_id': 's', 'client_id': 'c', 'secret': 'unit-test-secret', 'tenant': 't', 'resource_group': 'rg', 'name': 'aks'}
NSG_ID = '/subscriptions/s/resourceGroups/MC_rg/providers/Microsoft.Network/networkSecurityGroups/aks-agentpool-1-nsg'
DENY = {'name': 'deny-kubelet', 'properties': {'priority': 200, 'access': 'Deny', 'direction': 'Inbound', 'protocol': 'Tcp',
                                               'sourcePortRange': '*', 'destinationPortRange': '10250', 'sourceAddressPrefix': '*',
                                               'destinationAddressPrefix': '10.0.0.6'}}


def model():
    nodes = [{'name': 'n%d' % i, 'computer_name': 'n%d' % i, 'private_ip': '10.0.0.%d' % (4 + i), 'vmss': 'v', 'instance_id': str(i),
              'nic_nsg_id': NSG_ID, 'subnet_nsg_id': None, 'hosts_tunnel': i == 0} for i in range(3)]
    return {'cluster': {'vnet_address_prefixes': ['10.0.0.0/16'], 'api_server_host': 'api.invalid'}, 'nodes': nodes,
            'tunnel': {'component': 'konnectivity', 'nodes': ['n0'], 'egress': [{'kind': 'tls', 'protocol': 'Tcp', 'port': 443}],
                       'egress_reason': 'x'}}


def run(monkeypatch, capsys, args, kube_used):
    def fake_build(clients, rg, name, kube_client=None, **kwargs):
        kube_used.append(kube_client is not None)
        return model()

    monkeypatch.setattr(AksTunnelModule, 'azure', property(lambda self: type('A', (), {'network': None, 'close': lambda s: None})()))
    monkeypatch.setattr(AksTunnelModule, 'kube', property(lambda self: object()))
    monkeypatch.setattr(AksTunnelModule, 'kube_timeout', property(lambda self: (1, 1)))
    monkeypatch.setattr(_cluster_model, 'build_model', fake_build)
    nsgs = {NSG_ID.lower(): {'id': NSG_ID, 'name': 'aks-agentpool-1-nsg', 'properties': {'securityRules': [DENY]}}}
    monkeypatch.setattr(_cluster_model, 'fetch_nsgs', lambda network, ids: nsgs)
    with patch_module_args(dict(AUTH, **args)):
        with pytest.raises(SystemExit):
            nsg_port_check.main()
    return json.loads(capsys.readouterr().out)


def test_finds_the_rule_and_the_node(monkeypatch, capsys):
    kube_used = []
    result = run(monkeypatch, capsys, {'api_server_ip': '20.1.2.3'}, kube_used)
    assert kube_used == [True] and result['changed'] is False
    assert (result['finding']['status'], result['finding']['affected_nodes']) == ('problem', ['n2'])
    assert [(b['rule'], b['nodes']) for b in result['blocking_rules']] == [('deny-kubelet', ['n2'])]
    assert result['egress_finding']['status'] == 'ok' and result['source_nodes'] == ['n0']


def test_source_nodes_skip_kubernetes_and_unresolvable_api_server_is_unknown(monkeypatch, capsys):
    kube_used = []
    result = run(monkeypatch, capsys, {'source_nodes': ['n1']}, kube_used)
    assert kube_used == [False] and result['source_nodes'] == ['n1']
    assert result['finding']['affected_nodes'] == ['n2']
    assert result['egress_finding']['status'] == 'unknown' and 'api_server_ip' in result['egress_finding']['summary']


@pytest.mark.parametrize('args, message', [({'port': 0}, 'port must be between'), ({'source_nodes': ['ghost']}, 'unknown node(s) ghost')])
def test_option_errors(monkeypatch, capsys, args, message):
    result = run(monkeypatch, capsys, args, [])
    assert result['failed'] is True and message in result['msg']


def test_an_always_allow_admin_rule_makes_the_nsg_deny_no_block(monkeypatch, capsys):
    """Virtual Network Manager admin rules come before NSGs: an AlwaysAllow for n0 -> n2 Inbound skips the NIC NSG's Deny."""
    always_allow = [{'name': 'allow-kubelet', 'priority': 10, 'direction': 'Inbound', 'pairs': [['n0', 'n2']]}]
    result = run(monkeypatch, capsys, {'api_server_ip': '20.1.2.3', 'always_allow': always_allow}, [])
    assert result['finding']['status'] == 'ok', result['finding']
    # Only the pairs the rule covers skip the NSG: an Outbound AlwaysAllow leaves the Inbound Deny in force.
    outbound = [dict(always_allow[0], direction='Outbound')]
    result = run(monkeypatch, capsys, {'api_server_ip': '20.1.2.3', 'always_allow': outbound}, [])
    assert (result['finding']['status'], result['finding']['affected_nodes']) == ('problem', ['n2'])
