# -*- coding: utf-8 -*-
# Copyright (c) 2026 aks.tunnel contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The private DNS zone's virtual network links (issue 16): when the nodes cannot resolve the private FQDN, the links read from
ARM (VirtualNetworkLinks_List, privatedns.json 2024-06-01) prove "the zone is not linked to VNet X" or "it is linked: the
nodes' custom DNS does not forward to Azure DNS"; unread, the advice names both."""

from __future__ import annotations

import pytest

from ansible_collections.aks.tunnel.plugins.module_utils import _private_dns as pd

SUB = '00000000-0000-4000-8000-00000000a1b2'
ZONE = '7c2b0a52-1a8e-5d64-9a0c-2f3f3e1d6c11.privatelink.westeurope.azmk8s.io'
FQDN = 'aks-lab-64844604.' + ZONE
VNET = '/subscriptions/%s/resourceGroups/MC_rg_aks_we/providers/Microsoft.Network/virtualNetworks/aks-vnet-64844604' % SUB
HUB = '/subscriptions/%s/resourceGroups/rg-hub/providers/Microsoft.Network/virtualNetworks/hub-vnet' % SUB


def link(name, vnet, state='Completed', provisioning='Succeeded'):
    return {'name': name, 'properties': {'virtualNetwork': {'id': vnet}, 'virtualNetworkLinkState': state, 'provisioningState': provisioning,
                                         'registrationEnabled': False}}


@pytest.mark.parametrize('links, vnets, linked, unlinked', [
    ([], [VNET], [], [VNET]),
    ([link('hub', HUB)], [VNET], [], [VNET]),
    ([link('aks', VNET.upper())], [VNET], [VNET], []),
    # a link still being made or failed does not resolve yet
    ([link('aks', VNET, state='InProgress')], [VNET], [], [VNET]),
    ([link('aks', VNET, provisioning='Failed')], [VNET], [], [VNET]),
    ([link('aks', VNET), link('hub', HUB)], [VNET, HUB], [VNET, HUB], []),
])
def test_link_state(links, vnets, linked, unlinked):
    state = pd.link_state(links, vnets)
    assert state['read'] is True and state['linked'] == linked and state['unlinked'] == unlinked
    assert [entry['name'] for entry in state['links']] == [entry['name'] for entry in links]


def cluster(links=None):
    model = {'private_cluster': True, 'private_fqdn': FQDN, 'private_dns_zone': 'system', 'subscription_id': SUB,
             'node_resource_group': 'MC_rg_aks_we', 'vnet_ids': [VNET]}
    if links is not None:
        model['private_dns_links'] = links
    return model


@pytest.mark.parametrize('model, summary, commands, advice', [
    # proven: no link to the node VNet
    (cluster(pd.link_state([link('hub', HUB)], [VNET])),
     "the nodes cannot resolve the API server's private FQDN %s: the system private DNS zone %s in MC_rg_aks_we is not linked to their VNet "
     "aks-vnet-64844604 (its virtual network links: hub -> hub-vnet)" % (FQDN, ZONE), 1, 'Link the system private DNS zone'),
    (cluster(pd.link_state([], [VNET])), 'is not linked to their VNet aks-vnet-64844604 (its virtual network links: none)', 1, 'Link'),
    # proven: linked, so the nodes' DNS is not Azure DNS
    (cluster(pd.link_state([link('aks', VNET)], [VNET])),
     "the nodes cannot resolve the API server's private FQDN %s although the system private DNS zone %s in MC_rg_aks_we is linked to their "
     "VNet aks-vnet-64844604: their DNS servers do not forward to Azure DNS 168.63.129.16" % (FQDN, ZONE), 0,
     "Make the node VNet's custom DNS servers forward"),
    # the links could not be read: both reasons, the read's error kept
    (cluster(pd.link_state(None, [VNET], 'cannot read the virtual network links of %s: (AuthorizationFailed) no' % ZONE)),
     'is not linked to their VNet (or their DNS does not forward to Azure DNS)', 1, 'Link'),
    # not read at all (an older caller)
    (cluster(), 'is not linked to their VNet (or their DNS does not forward to Azure DNS)', 1, 'Link'),
])
def test_remediation_with_the_links(model, summary, commands, advice):
    text, remedy = pd.remediation(model, FQDN)
    assert summary in text
    assert len(remedy.get('commands') or []) == commands and remedy['summary'].startswith(advice)
    links = model.get('private_dns_links')
    if links and links.get('error'):
        assert remedy['dns']['links_error'].endswith('(AuthorizationFailed) no')
    if links and links.get('read'):
        assert remedy['dns']['links'] == links['links']


def _result(reason, ok=False):
    return {'node': 'n0', 'status': 'succeeded', 'checks': {'egress': [{'ok': ok, 'reason': reason}]}}


@pytest.mark.parametrize('model, results, wanted', [
    (cluster(), [_result('tls %s:443: TCP dns_failed' % FQDN)], True),
    (cluster(), [_result('tls %s:443: TCP timed_out' % FQDN)], False),
    (cluster(), [_result('', ok=True)], False),
    (dict(cluster(), private_dns_zone='none'), [_result('dns_failed')], False),
    (dict(cluster(), private_cluster=False), [_result('dns_failed')], False),
])
def test_needs_links(model, results, wanted):
    assert pd.needs_links(model, results) is wanted


def test_links_path():
    assert pd.links_path(pd.zone_of(cluster())) == (
        '/subscriptions/%s/resourceGroups/MC_rg_aks_we/providers/Microsoft.Network/privateDnsZones/%s/virtualNetworkLinks' % (SUB, ZONE))
    assert pd.links_path(None) is None
