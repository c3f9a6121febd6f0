# -*- coding: utf-8 -*-
# Copyright (c) 2026 aks.tunnel contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The private DNS of a private cluster's API server (issue 16): the zone, the link command, the egress finding on a DNS failure."""

from __future__ import annotations

import pytest

from ansible_collections.aks.tunnel.plugins.module_utils import _node_probe
from ansible_collections.aks.tunnel.plugins.module_utils import _private_dns as pd

SUB = '00000000-0000-4000-8000-00000000a1b2'
ZONE = '7c2b0a52-1a8e-5d64-9a0c-2f3f3e1d6c11.privatelink.westeurope.azmk8s.io'
FQDN = 'aks-lab-64844604.' + ZONE
VNET = '/subscriptions/%s/resourceGroups/MC_rg_aks_we/providers/Microsoft.Network/virtualNetworks/aks-vnet-64844604' % SUB
CUSTOM = '/subscriptions/%s/resourceGroups/rg-dns/providers/Microsoft.Network/privateDnsZones/privatelink.westeurope.azmk8s.io' % 'ffff'


def cluster(private=True, zone='system', fqdn=FQDN, vnets=(VNET,)):
    return {'private_cluster': private, 'private_fqdn': fqdn if private else None, 'private_dns_zone': zone, 'subscription_id': SUB,
            'node_resource_group': 'MC_rg_aks_we', 'vnet_ids': list(vnets)}


@pytest.mark.parametrize('model, expected', [
    (cluster(private=False), None),
    (cluster(), {'kind': 'system', 'name': ZONE, 'resource_group': 'MC_rg_aks_we', 'subscription_id': SUB}),
    (cluster(zone=None), {'kind': 'system', 'name': ZONE, 'resource_group': 'MC_rg_aks_we', 'subscription_id': SUB}),
    (cluster(zone='System'), {'kind': 'system', 'name': ZONE, 'resource_group': 'MC_rg_aks_we', 'subscription_id': SUB}),
    (cluster(zone='None'), {'kind': 'none', 'name': None, 'resource_group': None, 'subscription_id': None}),
    (cluster(zone=CUSTOM), {'kind': 'custom', 'name': 'privatelink.westeurope.azmk8s.io', 'resource_group': 'rg-dns', 'subscription_id': 'ffff'}),
    (cluster(fqdn='aks-lab.example.internal'), {'kind': 'system', 'name': None, 'resource_group': 'MC_rg_aks_we', 'subscription_id': SUB}),
])
def test_zone_of(model, expected):
    assert pd.zone_of(model) == expected


@pytest.mark.parametrize('zone, vnet, expected', [
    (pd.zone_of(cluster()), VNET,
     'az network private-dns link vnet create --resource-group MC_rg_aks_we --zone-name %s --name aks-vnet-64844604-link '
     '--virtual-network %s --registration-enabled false --subscription %s' % (ZONE, VNET, SUB)),
    (pd.zone_of(cluster(zone=CUSTOM)), VNET,
     'az network private-dns link vnet create --resource-group rg-dns --zone-name privatelink.westeurope.azmk8s.io --name '
     'aks-vnet-64844604-link --virtual-network %s --registration-enabled false --subscription ffff' % VNET),
    (pd.zone_of(cluster(zone='none')), VNET, None),
    (pd.zone_of(cluster()), 'not-a-vnet-id', None),
    (None, VNET, None),
])
def test_link_command(zone, vnet, expected):
    assert pd.link_command(zone, vnet) == expected


@pytest.mark.parametrize('reason, dns', [
    ('tls aks.privatelink:443: TCP dns_failed', True),
    ('tls aks.privatelink:443: TCP timed_out', False),
    ('tls 10.240.255.254:443: TLS failed', False),
    (None, False),
])
def test_is_dns_failure(reason, dns):
    assert pd.is_dns_failure(reason) is dns


def _probe(node, tcp):
    entry = {'index': 0, 'kind': 'tls', 'host': FQDN, 'port': 443, 'tcp': tcp, 'tls': 'ok' if tcp == 'succeeded' else None,
             'alpn': 'konnectivity' if tcp == 'succeeded' else None}
    ok, reason = _node_probe.egress_verdict(entry)
    return {'node': node, 'status': 'succeeded', 'role': 'source', 'checks': {'egress': [dict(entry, ok=ok, reason=reason)]}}


TUNNEL = {'egress': [{'protocol': 'Tcp', 'port': 443, 'kind': 'tls', 'alpn': 'konnectivity'}], 'egress_reason': 'private cluster'}


@pytest.mark.parametrize('model, statuses, status, summary, command', [
    # the zone is not linked: DNS fails on every tunnel node -> the zone link, not a port
    (cluster(), ['dns_failed', 'dns_failed'], 'problem', "cannot resolve the API server's private FQDN %s" % FQDN, True),
    # custom DNS zone: the link goes to the customer's zone
    (cluster(zone=CUSTOM), ['dns_failed', 'dns_failed'], 'problem', 'the custom private DNS zone privatelink.westeurope.azmk8s.io in rg-dns', True),
    # privateDNSZone none: the VNet's own DNS must resolve it; no link to create
    (cluster(zone='none'), ['dns_failed', 'succeeded'], 'problem', 'private cluster without a private DNS zone', False),
    # a public cluster whose nodes cannot resolve the FQDN: the VNet's DNS
    (cluster(private=False), ['dns_failed', 'dns_failed'], 'problem', 'cannot resolve the API server FQDN', False),
    # a port really blocked: the usual advice, no DNS
    (cluster(), ['timed_out', 'dns_failed'], 'problem', 'tunnel egress to the API server fails from 2 node(s): TLS 443', False),
    (cluster(), ['succeeded', 'succeeded'], 'ok', 'tunnel egress to the API server works from 2 node(s)', False),
])
def test_egress_finding_on_dns_failure(model, statuses, status, summary, command):
    results = [_probe('n%d' % i, tcp) for i, tcp in enumerate(statuses)]
    finding = _node_probe.findings(['egress_ports_blocked'], results, [], {}, ['egress'], TUNNEL, True, cluster=model)[0]
    assert finding['cause'] == 'egress_ports_blocked' and finding['status'] == status
    assert summary in finding['summary']
    assert finding['affected_nodes'] == ['n%d' % i for i, tcp in enumerate(statuses) if tcp != 'succeeded']
    commands = finding['remediation'].get('commands') or []
    assert bool(commands) is command
    if command:
        assert commands[0].startswith('az network private-dns link vnet create') and VNET in commands[0]
    if status == 'problem' and 'dns_failed' in statuses and 'timed_out' not in statuses:
        assert '168.63.129.16' in finding['remediation']['summary']
