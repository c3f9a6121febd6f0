# -*- coding: utf-8 -*-
# Copyright (c) 2026 aks.tunnel contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Microsoft.Network: what sits in the path between nodes besides the NSGs (issue 12).

* ``POST .../virtualNetworks/{vnet}/listNetworkManagerEffectiveSecurityAdminRules`` (ListNetworkManagerEffectiveSecurityAdminRules,
  networkManagerEffectiveConfiguration.json): the Virtual Network Manager security admin rules in effect on the node VNet,
  from the config's ``network_path.admin_rules`` (already in the REST shape, see tests/lab/scenario.py). Body QueryRequestOptions
  ``{skipToken}``; ``$top`` 1-20; pages chain with ``skipToken`` (here the index of the next rule).
* ``POST .../networkInterfaces/{nic}/effectiveRouteTable`` (NetworkInterfaces_GetEffectiveRouteTable, a long-running operation with
  ``final-state-via: location``): 202 + Location, the result at the Location URL. The routes are the system routes of the VNet
  (the spec example's set: VnetLocal for the address space, Internet for 0.0.0.0/0, None for the private ranges outside it)
  plus the user routes of the node subnet's route table (config ``network_path.routes``), with the fields the service adds to
  the spec's (Azure/azure-powershell issue 23091: disableBgpRoutePropagation, hasBgpOverride, destinationServiceTags, tagMap).
  VMSS instances share their NIC name; the NIC name is looked up among the node resource group's scale sets (the routes come
  from the subnet, so every instance has the same table).
"""

from __future__ import annotations

import ipaddress

from ..common import ArmError, Response, not_found

MAX_TOP = 20
# The default routes Azure adds for private ranges (the spec example NetworkInterfaceEffectiveRouteTableList.json);
# a range the VNet's address space overlaps is covered by the more specific VnetLocal route anyway.
SYSTEM_NONE_PREFIXES = ('10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16', '100.64.0.0/10')


def _config(ctx):
    return ctx.state.config.get('network_path') or {}


def _vnet_or_404(ctx, p):
    vnet = ctx.state.topology['vnet']
    if p['rg'].lower() != ctx.state.node_resource_group.lower() or p['vnet'].lower() != vnet['name'].lower():
        raise not_found('Microsoft.Network/virtualNetworks', p['vnet'], p['rg'])
    return vnet


def admin_rules_list(ctx, p):
    with ctx.state.lock:
        _vnet_or_404(ctx, p)
        rules = list(_config(ctx).get('admin_rules') or [])
    body = ctx.body if isinstance(ctx.body, dict) else {}
    top = ctx.query.get('$top')
    try:
        top = int(top) if top not in (None, '') else MAX_TOP
    except ValueError:
        top = -1
    if not 1 <= top <= MAX_TOP:
        raise ArmError(400, 'InvalidParameter', "The value of parameter '$top' must be between 1 and %d." % MAX_TOP)
    token = body.get('skipToken')
    start = 0
    if token:
        if not str(token).isdigit() or int(token) > len(rules):
            raise ArmError(400, 'InvalidSkipToken', 'The skipToken %s is not valid.' % token)
        start = int(token)
    page = rules[start:start + top]
    answer = {'value': page}
    if start + top < len(rules):
        answer['skipToken'] = str(start + top)
    return Response(200, answer)


def system_routes(vnet_prefixes):
    routes = [{'prefix': p, 'hop': 'VnetLocal'} for p in vnet_prefixes] + [{'prefix': '0.0.0.0/0', 'hop': 'Internet'}]
    vnets = [ipaddress.ip_network(p, strict=False) for p in vnet_prefixes]
    for prefix in SYSTEM_NONE_PREFIXES:
        network = ipaddress.ip_network(prefix)
        if not any(v == network for v in vnets):
            routes.append({'prefix': prefix, 'hop': 'None'})
    return [_effective(None, 'Default', [r['prefix']], r['hop'], []) for r in routes]


def _effective(name, source, prefixes, hop, hop_ips):
    route = {'source': source, 'state': 'Active', 'addressPrefix': list(prefixes), 'nextHopType': hop, 'nextHopIpAddress': list(hop_ips),
             'disableBgpRoutePropagation': False, 'hasBgpOverride': False, 'destinationServiceTags': [], 'tagMap': {}}
    if name:
        route = dict({'name': name}, **route)
    return route


def effective_routes_body(state):
    vnet = state.topology['vnet']
    routes = system_routes(list(vnet['address_prefixes']))
    for item in (state.config.get('network_path') or {}).get('routes') or []:
        hop_ip = item.get('next_hop_ip')
        routes.append(_effective(item['name'], 'User', [item['address_prefix']], item['next_hop_type'], [hop_ip] if hop_ip else []))
    return {'value': routes}


def effective_route_table(ctx, p):
    state = ctx.state
    with state.lock:
        if p['rg'].lower() != state.node_resource_group.lower() or not any(
                n['nic_name'].lower() == p['nic'].lower() for n in state.topology['nodes']):
            raise not_found('Microsoft.Network/networkInterfaces', p['nic'], p['rg'])
        body = effective_routes_body(state)
    op = ctx.new_operation('Microsoft.Network', 'result')
    op.extra['result'] = body
    op.extra['spec'] = ('network', 'NetworkInterfaces_GetEffectiveRouteTable')
    op.finish('Succeeded')
    # Real service: 202 with Location (the spec example) and Azure-AsyncOperation; the result is served at the Location URL.
    return Response(202, None, ctx.lro_headers(op, location=True))
