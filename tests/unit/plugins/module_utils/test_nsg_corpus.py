# -*- coding: utf-8 -*-
# Copyright (c) 2026 aks.tunnel contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The NSG engine (_nsg) on real NSG JSON (issue 14).

Every fixture under ``fixtures/nsg_real`` is ``{"source", "form", "document"}``: where the JSON was published
(Microsoft's REST API examples, real ARM responses recorded by azure-cli's tests, a GitHub issue), what form it
is, and the document as published (``form`` says when it is an excerpt). The expected verdicts follow Azure's
documented NSG evaluation (learn.microsoft.com "How network security groups filter network traffic": rules of the
flow's direction in priority order, first match wins; default rules AllowVnetInBound 65000, AllowInternetOutBound
65001, DenyAll 65500; VirtualNetwork = the VNet's address space, AzureLoadBalancer = 168.63.129.16; an effective
rule list is what Azure evaluates, its service tags already expanded) for the flows the tunnel needs: TCP 10250 from
one AKS node to another, and TCP 443 / 9000 and UDP 1194 from a node to the API server's public address.
"""

from __future__ import annotations

import json
import os

import pytest

from ansible_collections.aks.tunnel.plugins.module_utils import _nsg

HERE = os.path.join(os.path.dirname(__file__), 'fixtures', 'nsg_real')
VNET = ['10.240.0.0/12']          # the AKS default VNet the nodes live in
NODE_A, NODE_B = '10.240.0.4', '10.240.0.5'
API = '52.160.10.20'              # a public API server address (inside the 32.0.0.0/3 of the effective-rule sample)

FLOWS = {
    'kubelet': dict(direction='Inbound', protocol='Tcp', source_ip=NODE_A, destination_ip=NODE_B, destination_port=10250),
    'lb_probe': dict(direction='Inbound', protocol='Tcp', source_ip='168.63.129.16', destination_ip=NODE_B, destination_port=10250),
    'internet_rdp': dict(direction='Inbound', protocol='Tcp', source_ip='198.51.100.7', destination_ip=NODE_B, destination_port=3389),
    'internet_kubelet': dict(direction='Inbound', protocol='Tcp', source_ip='198.51.100.7', destination_ip=NODE_B, destination_port=10250),
    'port_4444': dict(direction='Inbound', protocol='Tcp', source_ip=NODE_A, destination_ip=NODE_B, destination_port=4444),
    'egress_443': dict(direction='Outbound', protocol='Tcp', source_ip=NODE_B, destination_ip=API, destination_port=443),
    'egress_9000': dict(direction='Outbound', protocol='Tcp', source_ip=NODE_B, destination_ip=API, destination_port=9000),
    'egress_1194': dict(direction='Outbound', protocol='Udp', source_ip=NODE_B, destination_ip=API, destination_port=1194),
}
EGRESS = ('egress_443', 'egress_9000', 'egress_1194')


def load(name):
    with open(os.path.join(HERE, name), encoding='utf-8') as handle:
        artifact = json.load(handle)
    assert artifact['source'] and artifact['form'], 'every fixture names its source and form'
    return artifact['document']


def pick(document, path):
    for key in path:
        document = document[key]
    return document


def defaults_open(rule_in='AllowVnetInBound'):
    """The default rules decide: the kubelet flow by AllowVnetInBound, egress by AllowInternetOutBound."""
    expected = {'kubelet': ('Allow', rule_in)}
    expected.update((flow, ('Allow', 'AllowInternetOutBound')) for flow in EGRESS)
    return expected


# (fixture, path to the NSG inside the document, {flow: (access, deciding rule)}, why)
CORPUS = [
    ('specs_nsg_get.json', (), defaults_open(), 'rule1 allows port 80 only; the default rules decide'),
    ('specs_nsg_create_with_rule.json', (), defaults_open(), 'the same NSG as a PUT response'),
    ('specs_nsg_list.json', ('value', 0), defaults_open(), 'nsg1 of the list: default rules only'),
    ('specs_nsg_list.json', ('value', 1), defaults_open(), 'nsg3 of the list: default rules only'),
    ('specs_nsg_rule_list.json', ('value',), defaults_open(), 'a bare rule list: the engine adds the six default rules'),
    ('azcli_recorded_nsg_create.json', (), defaults_open(), 'a new NSG as ARM returns it (provisioningState Updating)'),
    ('azcli_recorded_nsg_list_bez_vm01.json', (), defaults_open(), 'RDP 3389 and WinRM 5985 allowed; 10250 falls to AllowVnetInBound'),
    ('docs_nrp_sample_nsg_backend.json', (),
     dict(defaults_open(), internet_rdp=('Allow', 'rdp-rule'), internet_kubelet=('Deny', 'DenyAllInBound')),
     'rdp-rule allows 3389 from the Internet tag only; 10250 from outside the VNet falls to DenyAllInBound, from a node to '
     'AllowVnetInBound'),
    ('azcli_recorded_rule_web_before_update.json', (),
     dict(defaults_open(), port_4444=('Allow', 'AllowVnetInBound')),
     'the rule for 4444 names prefixes "789"/"1234" the engine cannot place; it would allow, AllowVnetInBound allows too, '
     'so 4444 is allowed either way; 10250 is not its port'),
    ('azcli_recorded_rule_web_after_update.json', (), defaults_open(),
     'the updated rule denies outbound TCP 1234-1235 only: 443/9000/1194 go on to AllowInternetOutBound'),
    ('specs_nic_effective_nsg.json', ('value', 0),
     {'kubelet': ('Deny', None), 'egress_443': ('Allow', 'AllowInternetOutBound'), 'egress_1194': ('Allow', 'AllowInternetOutBound')},
     'effective rules are the whole list Azure evaluates: none of the sample\'s inbound rules (6579, 3389) matches 10250, so '
     'nothing allows it; Internet is expanded (32.0.0.0/3 holds the API address) and protocol All covers UDP'),
    ('specs_watcher_security_group_view.json', ('networkInterfaces', 0, 'securityRuleAssociations'),
     {'kubelet': ('Deny', None), 'egress_443': ('Deny', 'DefaultOutboundDenyAll')},
     'the view\'s effective rules hold only DefaultOutboundDenyAll: egress is denied, no inbound rule allows 10250'),
    ('ps4972_effective_rule_excerpt.json', (),
     {'kubelet': ('Deny', None), 'lb_probe': ('Allow', 'AllowAzureLoadBalancerInBound')},
     'AzureLoadBalancer expanded to 168.63.129.16/32 matches only the platform\'s probe source, not another node'),
]

ERRORS = [
    ('specs_nsg_list.json', (), 'list response', 'a whole list response is not one NSG'),
    ('specs_nsg_rule_list.json', (), 'list response', 'the list wrapper of `nsg rule list`'),
    ('specs_nsg_rule_get.json', (), 'single security rule', 'one rule is not an NSG'),
]


@pytest.mark.parametrize('name, path, expected, why', CORPUS, ids=['%s%s' % (c[0], ''.join('/%s' % p for p in c[1])) for c in CORPUS])
def test_real_nsgs_decide_the_tunnel_flows_as_azure_does(name, path, expected, why):
    nsg = pick(load(name), path)
    got = {}
    for flow in expected:
        verdict = _nsg.evaluate_nsg(nsg, vnet_prefixes=VNET, **FLOWS[flow])
        got[flow] = (verdict['access'], verdict['rule'])
    assert got == expected, why


@pytest.mark.parametrize('name, path, fragment, why', ERRORS, ids=[e[0] + ':' + e[2] for e in ERRORS])
def test_documents_that_are_not_one_nsg_are_refused_by_name(name, path, fragment, why):
    with pytest.raises(_nsg.NsgInputError, match=fragment):
        _nsg.evaluate_nsg(pick(load(name), path), vnet_prefixes=VNET, **FLOWS['kubelet'])


def test_an_unplaceable_prefix_leaves_only_its_own_rule_undecided():
    rules = load('azcli_recorded_rule_web_before_update.json')
    verdict = _nsg.evaluate_nsg(rules, vnet_prefixes=VNET, **FLOWS['port_4444'])
    assert [(u['rule'], u['access']) for u in verdict['undecided']] == [('web', 'Allow')]
    assert "'789' is neither a CIDR" in verdict['undecided'][0]['reason']
    # before the default DenyAllInBound only: a flow from outside the VNet to 4444 cannot be decided
    outside = dict(FLOWS['port_4444'])
    outside['source_ip'] = '198.51.100.7'
    assert _nsg.evaluate_nsg(rules, vnet_prefixes=VNET, **outside)['access'] == _nsg.UNKNOWN


def test_every_fixture_is_in_a_table():
    names = set(os.listdir(HERE))
    assert names == set(c[0] for c in CORPUS) | set(e[0] for e in ERRORS)
