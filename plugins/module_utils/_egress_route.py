# -*- coding: utf-8 -*-
# Copyright (c) 2026 aks.tunnel contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Which route carries the tunnel egress from the node subnet to the API server (pure).

Azure picks the route with the longest prefix that covers the destination; among routes of the same prefix a User
route (the subnet's route table) wins over a BGP (VirtualNetworkGateway) route, which wins over a system (Default)
route. The system routes of a subnet are: each VNet address prefix -> VnetLocal, 0.0.0.0/0 -> Internet, and
10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16, 100.64.0.0/10 -> None (the private ranges outside the VNet).

Two inputs, one rule:
* the NIC's effective routes (REST ``networkInterfaces/{nic}/effectiveRouteTable``) when they could be read: what Azure
  itself computed (service-tag routes already expanded into prefixes, BGP routes included); the user route found there is
  named by matching it with the route table (same prefix and next hop);
* otherwise the subnet's route table plus the system routes above. A route whose addressPrefix is a service tag cannot be
  expanded offline: when no explicit route of a longer prefix decides, the choice is UNKNOWN.
"""

from __future__ import annotations

import ipaddress

from ansible_collections.aks.tunnel.plugins.module_utils import _network_path

HOP_APPLIANCE = 'VirtualAppliance'
HOP_INTERNET = 'Internet'
HOP_NONE = 'None'
HOP_VNET_LOCAL = 'VnetLocal'
HOP_GATEWAY = 'VirtualNetworkGateway'
SYSTEM_NONE_PREFIXES = ('10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16', '100.64.0.0/10')
_SOURCE_ORDER = {'user': 0, 'virtualnetworkgateway': 1, 'default': 2}


class EgressRouteError(ValueError):
    """A route table or route that cannot be read."""


def _props(item):
    return item.get('properties') if isinstance(item.get('properties'), dict) else item


def table_routes(route_table):
    """The routes of a routeTables resource (REST shape or SDK as_dict) as [{table, table_id, name, prefix, network|None,
    service_tag|None, next_hop_type, next_hop_ip}]."""
    if not route_table:
        return []
    if not isinstance(route_table, dict):
        raise EgressRouteError('route table must be a mapping, got %s' % type(route_table).__name__)
    table_name = route_table.get('name')
    out = []
    for raw in _props(route_table).get('routes') or []:
        if not isinstance(raw, dict):
            raise EgressRouteError('route of %s must be a mapping' % table_name)
        props = _props(raw)
        prefix = str(props.get('addressPrefix') or props.get('address_prefix') or '').strip()
        hop = props.get('nextHopType') or props.get('next_hop_type')
        if not prefix or not hop:
            raise EgressRouteError('route %s of %s has no addressPrefix or nextHopType' % (raw.get('name'), table_name))
        try:
            network = ipaddress.ip_network(prefix, strict=False)
            tag = None
        except ValueError:
            network, tag = None, prefix
        out.append({'table': table_name, 'table_id': route_table.get('id'), 'name': raw.get('name'), 'prefix': prefix,
                    'network': network, 'service_tag': tag, 'next_hop_type': hop,
                    'next_hop_ip': props.get('nextHopIpAddress') or props.get('next_hop_ip_address') or None, 'source': 'User'})
    return out


def system_routes(vnet_prefixes):
    """The Default routes of a subnet in a VNet with these address prefixes."""
    routes = []
    for prefix in vnet_prefixes or []:
        routes.append({'name': None, 'prefix': prefix, 'network': ipaddress.ip_network(prefix, strict=False), 'service_tag': None,
                       'next_hop_type': HOP_VNET_LOCAL, 'next_hop_ip': None, 'source': 'Default'})
    routes.append({'name': None, 'prefix': '0.0.0.0/0', 'network': ipaddress.ip_network('0.0.0.0/0'), 'service_tag': None,
                   'next_hop_type': HOP_INTERNET, 'next_hop_ip': None, 'source': 'Default'})
    for prefix in SYSTEM_NONE_PREFIXES:
        routes.append({'name': None, 'prefix': prefix, 'network': ipaddress.ip_network(prefix), 'service_tag': None,
                       'next_hop_type': HOP_NONE, 'next_hop_ip': None, 'source': 'Default'})
    return routes


def select_route(routes, ip):
    """(route or None, reason): the route Azure takes to ``ip`` among ``routes`` (table_routes() + system_routes() shape).

    A service-tag route may cover ``ip`` with a prefix of any length: unless an explicit route with a /32 (the longest
    possible) decides, the answer is (None, reason)."""
    address = ipaddress.ip_address(ip)
    best, best_key = None, None
    tagged = []
    for route in routes:
        if route['network'] is None:
            tagged.append(route)
            continue
        if route['network'].version != address.version or address not in route['network']:
            continue
        key = (-route['network'].prefixlen, _SOURCE_ORDER.get(str(route['source']).lower(), 3))
        if best_key is None or key < best_key:
            best, best_key = route, key
    if tagged and (best is None or best['network'].prefixlen < address.max_prefixlen):
        names = ', '.join("'%s' (%s)" % (r['name'], r['service_tag']) for r in tagged)
        return None, ('route(s) %s of the route table use a service tag whose prefixes are not known offline; the effective '
                      'routes of a node NIC decide' % names)
    if best is None:
        return None, 'no route covers %s' % ip
    return best, None


def from_effective(effective_routes, table, ip):
    """(route or None, reason) from a NIC's effective routes (REST list), named from the route table's routes ``table``."""
    normalized = []
    for raw in effective_routes or []:
        try:
            normalized.append(_network_path.normalize_route(raw))
        except _network_path.NetworkPathInputError as exc:
            raise EgressRouteError(str(exc)) from None
    chosen = _network_path.route_for(normalized, ip)
    if chosen is None:
        return None, 'no effective route covers %s' % ip
    hop_ip = (chosen['next_hop_ip'] or [None])[0]
    route = {'name': chosen.get('name'), 'prefix': ', '.join(chosen['address_prefixes']), 'network': None, 'service_tag': None,
             'next_hop_type': chosen['next_hop_type'], 'next_hop_ip': hop_ip, 'source': chosen['source'], 'table': None, 'table_id': None}
    if str(chosen['source']).lower() == 'user':
        candidates = [r for r in table if r['next_hop_type'] == chosen['next_hop_type'] and (r['next_hop_ip'] or None) == hop_ip]
        exact = [r for r in candidates if r['prefix'] in chosen['address_prefixes'] or (chosen.get('name') and r['name'] == chosen['name'])]
        match = exact or (candidates if len(candidates) == 1 else [])
        if match:
            route.update(name=match[0]['name'], table=match[0]['table'], table_id=match[0]['table_id'], prefix=match[0]['prefix'])
    return route, None


def label(route):
    """"route table rt-aks, route 'default-via-fw' (0.0.0.0/0) -> VirtualAppliance 10.241.0.4" or the system route's."""
    hop = route['next_hop_type'] + (' %s' % route['next_hop_ip'] if route.get('next_hop_ip') else '')
    if str(route.get('source')).lower() == 'user':
        where = "route table %s, route '%s'" % (route.get('table') or '<unknown table>', route.get('name') or '<unnamed>')
    elif str(route.get('source')).lower() == 'default':
        where = 'the system route'
    else:
        where = 'a %s route' % route.get('source')
    return '%s (%s) -> %s' % (where, route['prefix'], hop)


def needs_gateway_check(result):
    """True when ``result`` (egress_route) came from the route table and is a system route a gateway's route may override."""
    hop = (result or {}).get('route') or {}
    return (result or {}).get('how') == 'route_table' and str(hop.get('source')).lower() == 'default' and hop.get('next_hop_type') in (
        HOP_INTERNET, HOP_NONE)


def gateway_route_hidden(result, vnet):
    """The reason the route table's answer ``result`` cannot stand, or None: the node VNet (REST or SDK dict) has a peering that
    uses the remote VNet's gateways (a hub's VPN / ExpressRoute gateway or a virtual hub's router), whose routes - a forced
    tunnelling or secured hub default route - override the system routes and are only in a NIC's effective routes."""
    if not needs_gateway_check(result):
        return None
    props = _props(vnet or {})
    names = []
    for peering in props.get('virtualNetworkPeerings') or props.get('virtual_network_peerings') or []:
        pprops = _props(peering)
        if pprops.get('useRemoteGateways') or pprops.get('use_remote_gateways'):
            names.append(peering.get('name') or '<unnamed>')
    if not names:
        return None
    return ('the route table gives %s, but the node VNet uses the remote gateways of its peering %s: the routes they advertise '
            '(a forced tunnelling or Virtual WAN hub default route) override the system routes and are only in the effective routes '
            'of a node NIC, which were not read' % (result['label'], ', '.join(names)))


def egress_route(ip, vnet_prefixes, route_table=None, effective_routes=None):
    """The route to the API server ``ip``: {route, how: effective_routes|route_table, label, reason}.

    ``effective_routes``: the REST list of one tunnel node NIC, or None when not read (then the route table + system
    routes decide). route is None with a reason when the choice is not known."""
    table = table_routes(route_table)
    if effective_routes is not None:
        route, reason = from_effective(effective_routes, table, ip)
        how = 'effective_routes'
    else:
        route, reason = select_route(table + system_routes(vnet_prefixes), ip)
        how = 'route_table'
    if route is None:
        return {'route': None, 'how': how, 'label': None, 'reason': reason}
    view = dict((k, v) for k, v in route.items() if k != 'network')
    return {'route': view, 'how': how, 'label': label(route), 'reason': None}
