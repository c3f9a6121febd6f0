# -*- coding: utf-8 -*-
# Copyright (c) 2026 aks.tunnel contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Microsoft.Network/natGateways (issue 16): the node subnet's NAT gateway and its Azure Monitor metrics.

Config ``nat_gateway`` (a NAT gateway exists only when it is set):
  {"name": "natgw-aks", "resource_group": <default: the cluster's>, "public_ips": 1, "public_ip_prefixes": [30],
   "idle_timeout_in_minutes": 4, "workload": {"concurrent_connections": 90000, "connections_per_min": 600}}
The gateway is associated with the node subnet (the subnet GET shows ``natGateway``). Operations (natGateway.json,
network stable 2024-01-01): NatGateways_Get, NatGateways_List, NatGateways_ListAll; its prefixes (``public_ip_prefixes``:
prefix lengths) answer PublicIPPrefixes_Get, validated against files derived from the SDK release of each api-version
(tests/lab/derived_specs.py: publicIpPrefix.json is not among the vendored specs).

Metrics (Azure Monitor "Supported metrics for Microsoft.Network/natgateways"): SNATConnectionCount (Protocol, ConnectionState),
TotalConnectionCount (Protocol), PacketDropCount (no dimension). Workload model, per time bucket [t, t+interval) clamped to
now: the gateway has 64,512 SNAT ports per public IP; active connections = min(wanted, ports); of the new connections
(connections_per_min x minutes) the share (wanted - ports) / wanted fails when more are wanted than the ports hold; each
failed connection drops its SYN and two retransmissions (3 packets). ConnectionState values Attempted, Established, Failed.
"""

from __future__ import annotations

from ..common import Response, not_found, stable_uuid

TYPE = 'Microsoft.Network/natGateways'
NAMESPACE = TYPE
PORTS_PER_IP = 64512
DROPS_PER_FAILED_CONNECTION = 3
METRICS = {
    'SNATConnectionCount': {'unit': 'Count', 'primary': 'total', 'display': 'SNAT Connection Count',
                            'description': 'Total concurrent active connections', 'dims': ('Protocol', 'ConnectionState')},
    'TotalConnectionCount': {'unit': 'Count', 'primary': 'total', 'display': 'Total SNAT Connection Count',
                             'description': 'Total number of active SNAT connections', 'dims': ('Protocol',)},
    'PacketDropCount': {'unit': 'Count', 'primary': 'total', 'display': 'Dropped Packets', 'description': 'Count of dropped packets',
                        'dims': ()},
}


def config(state):
    return state.config.get('nat_gateway')


def gateway_id(state):
    cfg = config(state)
    if not cfg:
        return None
    return '/subscriptions/%s/resourceGroups/%s/providers/%s/%s' % (
        state.subscription_id, cfg.get('resource_group') or state.resource_group, TYPE, cfg.get('name') or 'natgw-aks')


def ip_count(state):
    """Public IPs plus the IPs of the prefixes (the SNAT port inventory)."""
    cfg = config(state) or {}
    return int(cfg.get('public_ips', 1)) + sum(2 ** (32 - int(length)) for length in cfg.get('public_ip_prefixes') or [])


def prefix_ids(state):
    gw_id = gateway_id(state)
    rg = gw_id.split('/')[4]
    return ['/subscriptions/%s/resourceGroups/%s/providers/Microsoft.Network/publicIPPrefixes/%s-prefix-%d'
            % (state.subscription_id, rg, gw_id.rsplit('/', 1)[1], index + 1) for index in range(len(config(state).get('public_ip_prefixes') or []))]


def render(state):
    cfg = config(state)
    gw_id = gateway_id(state)
    rg = gw_id.split('/')[4]
    pips = ['/subscriptions/%s/resourceGroups/%s/providers/Microsoft.Network/publicIPAddresses/%s-pip-%d'
            % (state.subscription_id, rg, gw_id.rsplit('/', 1)[1], index + 1) for index in range(int(cfg.get('public_ips', 1)))]
    return {'id': gw_id, 'name': gw_id.rsplit('/', 1)[1], 'type': TYPE, 'location': state.location, 'tags': {},
            'etag': 'W/"%s"' % stable_uuid('natgw-etag', gw_id), 'sku': {'name': 'Standard'},
            'properties': {'provisioningState': 'Succeeded', 'resourceGuid': stable_uuid('natgw', gw_id),
                           'idleTimeoutInMinutes': int(cfg.get('idle_timeout_in_minutes', 4)),
                           'publicIpAddresses': [{'id': pip} for pip in pips], 'publicIpPrefixes': [{'id': i} for i in prefix_ids(state)],
                           'subnets': [{'id': state.topology['vnet']['subnet_id']}]}}


def subnet_reference(state):
    """The subnet's natGateway reference (None without a NAT gateway)."""
    gw_id = gateway_id(state)
    return {'id': gw_id} if gw_id else None


def gateway_get(ctx, p):
    with ctx.state.lock:
        gw_id = gateway_id(ctx.state)
        if gw_id:
            parts = gw_id.split('/')
            if parts[4].lower() == p['rg'].lower() and parts[-1].lower() == p['natgw'].lower():
                return Response(200, render(ctx.state))
        raise not_found(TYPE, p['natgw'], p['rg'])


def gateway_list(ctx, p):
    with ctx.state.lock:
        gw_id = gateway_id(ctx.state)
        rg = p.get('rg')
        if not gw_id or (rg is not None and rg.lower() != gw_id.split('/')[4].lower()):
            return Response(200, {'value': []})
        return Response(200, {'value': [render(ctx.state)]})


def prefix_get(ctx, p):
    with ctx.state.lock:
        if config(ctx.state):
            lengths = config(ctx.state).get('public_ip_prefixes') or []
            for index, prefix_id in enumerate(prefix_ids(ctx.state)):
                parts = prefix_id.split('/')
                if parts[4].lower() == p['rg'].lower() and parts[-1].lower() == p['prefix'].lower():
                    length = int(lengths[index])
                    return Response(200, {
                        'id': prefix_id, 'name': parts[-1], 'type': 'Microsoft.Network/publicIPPrefixes', 'location': ctx.state.location,
                        'etag': 'W/"%s"' % stable_uuid('prefix-etag', prefix_id), 'sku': {'name': 'Standard', 'tier': 'Regional'}, 'zones': [],
                        'properties': {'provisioningState': 'Succeeded', 'resourceGuid': stable_uuid('prefix', prefix_id), 'publicIPAddressVersion': 'IPv4',
                                       'prefixLength': length, 'ipPrefix': '20.61.%d.0/%d' % (index * 16, length), 'ipTags': [],
                                       'natGateway': {'id': gateway_id(ctx.state)}}})
        raise not_found('Microsoft.Network/publicIPPrefixes', p['prefix'], p['rg'])


def is_gateway(state, resource_uri):
    gw_id = gateway_id(state)
    return bool(gw_id) and resource_uri.lower() == gw_id.lower()


def cells(state, metric, points, interval, end_of_full):
    """[(dims, [cell per bucket])] of the workload model (None = no data for the bucket)."""
    workload = (config(state) or {}).get('workload') or {}
    wanted = float(workload.get('concurrent_connections', 0))
    per_min = float(workload.get('connections_per_min', 60))
    ports = PORTS_PER_IP * ip_count(state)
    failing_share = (wanted - ports) / wanted if wanted > ports else 0.0
    now = state.now()
    attempted, failed, active = [], [], []
    for point in points:
        if point >= now:
            attempted.append(None)
            failed.append(None)
            active.append(None)
            continue
        minutes = ((min(end_of_full or point + interval, now)) - point).total_seconds() / 60.0
        tried = int(round(per_min * minutes))
        attempted.append(tried)
        failed.append(int(round(tried * failing_share)))
        active.append({'average': min(wanted, ports), 'minimum': min(wanted, ports), 'maximum': min(wanted, ports),
                       'total': min(wanted, ports), 'count': 1})
    if metric == 'SNATConnectionCount':
        established = [None if a is None else a - f for a, f in zip(attempted, failed)]
        return [({'Protocol': 'TCP', 'ConnectionState': 'Attempted'}, attempted),
                ({'Protocol': 'TCP', 'ConnectionState': 'Established'}, established),
                ({'Protocol': 'TCP', 'ConnectionState': 'Failed'}, failed)]
    if metric == 'TotalConnectionCount':
        return [({'Protocol': 'TCP'}, active)]
    return [({}, [None if f is None else f * DROPS_PER_FAILED_CONNECTION for f in failed])]
