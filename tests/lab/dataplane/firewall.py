# -*- coding: utf-8 -*-
# Copyright (c) 2026 aks.tunnel contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The router namespace as the Azure Firewall of the ARM config (issue 16).

When the node subnet's route to the API server goes to the emulated firewall's private IP (config ``network_path.routes``
and ``firewall.private_ip``), the router drops each tunnel flow (TCP 443 with the API server's SNI, TCP 9000, UDP 1194)
that the firewall's policy (or classic rules) does not allow, with the engine the diagnosis uses; a PUT of a rule
collection group re-renders it (control.py), so a repair is proven by a packet that really gets through.
"""

from __future__ import annotations

from ansible_collections.aks.tunnel.plugins.module_utils import _egress_route
from ansible_collections.aks.tunnel.plugins.module_utils import _firewall_policy

TUNNEL_FLOWS = (('TCP', 443, True), ('TCP', 9000, False), ('UDP', 1194, False))


def drops(config, plan):
    """[{protocol, port, action: drop, rule}] for the router's egress chain."""
    firewall = config.get('firewall')
    routes = (config.get('network_path') or {}).get('routes') or []
    if not firewall or not routes:
        return []
    table = {'name': 'lab', 'properties': {'routes': [{'name': r['name'], 'properties': dict(
        {'addressPrefix': r['address_prefix'], 'nextHopType': r['next_hop_type']},
        **({'nextHopIpAddress': r['next_hop_ip']} if r.get('next_hop_ip') else {}))} for r in routes]}}
    route = _egress_route.egress_route(plan['api_ip'], [plan['vnet']], table)['route']
    if not route or route['next_hop_type'] != 'VirtualAppliance' or route.get('next_hop_ip') != firewall.get('private_ip'):
        return []
    if firewall.get('policy'):
        network, application = _firewall_policy.policy_rules([{'name': firewall['policy'], 'groups': firewall.get('rule_collection_groups') or []}])
    else:
        network, application = _firewall_policy.classic_rules({'properties': firewall})
    # The IP groups the rules name, by their name (config firewall.ip_groups: the ARM provider serves them under the same names).
    configured = dict((g['name'].lower(), g) for g in firewall.get('ip_groups') or [])
    ip_groups = {}
    for group_id in _firewall_policy.rule_ip_groups(network + application):
        group = configured.get(str(group_id).rstrip('/').rsplit('/', 1)[-1].lower())
        if group:
            ip_groups[str(group_id).strip().rstrip('/').lower()] = {'addresses': list(group.get('ip_addresses') or [])}
    source = sorted(n['ip'] for n in plan['nodes'].values())[0]
    out = []
    for protocol, port, tls in TUNNEL_FLOWS:
        flow = {'protocol': protocol, 'port': port, 'tls': tls, 'source_ip': source, 'destination_ip': plan['api_ip'], 'fqdn': plan['fqdn'],
                'azure_region': (config.get('cluster') or {}).get('location')}
        verdict = _firewall_policy.evaluate(network, application, flow, ip_groups)
        if verdict['access'] != _firewall_policy.ALLOW:
            out.append({'protocol': protocol.lower(), 'port': port, 'action': 'drop', 'rule': (verdict.get('rule') or {}).get('name') or 'default-deny'})
    return out
