# -*- coding: utf-8 -*-
# Copyright (c) 2026 aks.tunnel contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The egress finding when the next hop is in a hub VNet of another subscription (issue 16): the hub's firewall unreadable ->
unknown naming the subscription and the Reader role; the hub read and no firewall there -> the third-party appliance, named."""

from __future__ import annotations

import pytest

from ansible_collections.aks.tunnel.plugins.module_utils import _egress_path as ep

API = '20.50.1.10'
HUB = {'subscription': '0c0c0c0c-0000-4000-8000-0000000000ab', 'peering': 'spoke-to-hub',
       'vnet_id': '/subscriptions/0c0c0c0c-0000-4000-8000-0000000000ab/resourceGroups/rg-hub/providers/Microsoft.Network/virtualNetworks/vnet-hub'}
ROUTE = {'route': {'prefix': '0.0.0.0/0', 'next_hop_type': 'VirtualAppliance', 'next_hop_ip': '10.241.0.4', 'table': 'rt', 'name': 'default'},
         'label': "route table rt, route 'default'", 'how': 'route_table'}
TUNNEL = {'egress': [{'protocol': 'tcp', 'port': 9000}]}


@pytest.mark.parametrize('firewall, probe_blocked, status, fragments', [
    ({'error': 'HTTP 403: AuthorizationFailed', 'hub': HUB}, None, 'unknown',
     ['peered VNet vnet-hub of subscription %s (a hub)' % HUB['subscription'], 'HTTP 403']),
    ({'error': 'HTTP 403: AuthorizationFailed', 'hub': HUB}, ['TCP 9000'], 'unknown', ['cannot read']),   # the probe does not name the rule
    ({'absent': True, 'hub': HUB}, ['TCP 9000'], 'problem',
     ['no Azure Firewall of this subscription nor of the hub subscription %s (peered VNet vnet-hub)' % HUB['subscription'],
      'a third-party appliance, whose rules']),
    ({'absent': True, 'hub': HUB}, None, 'unknown', ['which no Azure Firewall of this subscription nor of the hub subscription']),
    (None, None, 'unknown', ['which no Azure Firewall of this subscription owns']),
])
def test_hub_findings(firewall, probe_blocked, status, fragments):
    flows = ep.flows_of(TUNNEL, '10.240.0.4', API, None, 'westeurope')
    found = ep.finding(TUNNEL, flows, ROUTE, firewall, None, ['10.240.0.0/16'], probe_blocked, ['n1'], API)
    assert found['status'] == status, found
    for fragment in fragments:
        assert fragment in found['summary'], found['summary']
    if firewall and firewall.get('error'):
        assert found['remediation']['hub_subscription'] == HUB['subscription']
        assert 'Reader role on subscription %s' % HUB['subscription'] in found['remediation']['summary']
