# -*- coding: utf-8 -*-
# Copyright (c) 2026 aks.tunnel contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The path between nodes besides the NSGs, on the lab bridge (`table bridge akspath`, issue 12).

Its forward chain runs at priority -10, before the NSG table (`aksnsg`, priority 0), as Azure evaluates Virtual Network
Manager security admin rules before the NSGs:

* admin rules (config ``network_path.admin_rules``, the REST shape the ARM emulator serves): the Outbound rules for packets
  leaving a node, then the Inbound rules for packets reaching one, priority order, first match wins; Deny = `drop`, Allow and
  AlwaysAllow = `return` (the NSGs still judge the flow: the lab does not model AlwaysAllow's NSG bypass);
* user routes (``network_path.routes``): the route each node IP really gets (longest prefix over the system and user routes,
  the engine's own rule) decides; next hop VirtualAppliance stands for an appliance that drops TCP ``appliance_drops``
  (a drop rule, no appliance namespace), next hop None drops every packet to that node (blackhole);
* ``network_path.path_drop``: TCP 10250 to these node IPs is dropped for no reason any ARM model shows.

Like the NSGs, only bare TCP SYNs are judged (other TCP packets pass), so a rule change never cuts an established flow.
"""

from __future__ import annotations

from ansible_collections.aks.tunnel.plugins.module_utils import _network_path
from ansible_collections.aks.tunnel.plugins.module_utils._nsg import NsgError, normalize_rule

from ..arm.providers.network_path import effective_routes_body
from .nsg import compile_rule

TABLE = 'akspath'


class _RouteState:
    """Just what effective_routes_body() reads."""

    def __init__(self, config, topology):
        self.config = config
        self.topology = topology


def _admin_chain(name, rules, direction, vnet):
    lines = ['  chain %s {' % name]
    parsed = []
    for raw in rules:
        try:
            parsed.append(_network_path.normalize_admin_rule(raw))
        except _network_path.NetworkPathInputError as exc:
            lines.append('    # invalid admin rule skipped: %s' % str(exc).replace('\n', ' ')[:200])
    for rule in _network_path.sort_admin_rules(parsed):
        if rule['direction'] != direction:
            continue
        try:
            item = normalize_rule(_network_path.as_nsg_rule(rule)[0])
        except NsgError as exc:
            lines.append('    # admin rule %s cannot be compiled: %s' % (rule['name'], str(exc).replace('\n', ' ')[:200]))
            continue
        item['name'] = '%s-%s' % (rule['access'], rule['name'])
        lines.append('    ' + compile_rule(item, vnet, 'admin-%s' % direction.lower()))
    lines.append('  }')
    return lines


def render(config, topology, gateway=None, table=TABLE):
    """The complete nft script (atomic replace of the table) for the config's network_path (an empty chain when there is none)."""
    path = config.get('network_path') or {}
    vnet = list(topology['vnet']['address_prefixes'])
    subnet = topology['vnet']['subnet_prefix']
    not_gateway = ' ip daddr != %s' % gateway if gateway else ''
    out = ['table bridge %s' % table, 'delete table bridge %s' % table, 'table bridge %s {' % table]
    out += _admin_chain('admin_out', path.get('admin_rules') or [], 'Outbound', vnet)
    out += _admin_chain('admin_in', path.get('admin_rules') or [], 'Inbound', vnet)
    blackholes = []
    appliance = {}
    if path.get('routes'):
        routes = [_network_path.normalize_route(r) for r in effective_routes_body(_RouteState(config, topology))['value']]
        drops = dict((r['name'], r.get('appliance_drops') or [10250]) for r in path['routes'])
        for node in topology['nodes']:
            route = _network_path.route_for(routes, node['ip'])
            if route is None or route['source'] != 'User':
                continue
            if route['next_hop_type'] == _network_path.NEXT_HOP_NONE:
                blackholes.append((node['ip'], route['name']))
            elif route['next_hop_type'] == _network_path.NEXT_HOP_APPLIANCE:
                appliance.setdefault((route['name'], tuple(drops.get(route['name']) or [10250])), []).append(node['ip'])
    out += ['  chain forward {', '    type filter hook forward priority -10; policy accept;', '    ether type != ip accept']
    for ip, name in blackholes:
        out.append('    ip saddr %s ip daddr %s counter drop comment "route:%s:blackhole"' % (subnet, ip, name))
    out.append('    meta l4proto tcp tcp flags & (syn | ack) != syn accept')
    out.append('    ip saddr %s jump admin_out' % subnet)
    out.append('    ip daddr %s%s jump admin_in' % (subnet, not_gateway))
    for (name, ports), ips in sorted(appliance.items()):
        out.append('    ip saddr %s ip daddr { %s } tcp dport { %s } counter drop comment "route:%s:appliance"'
                   % (subnet, ', '.join(ips), ', '.join(str(p) for p in ports), name))
    if path.get('path_drop'):
        out.append('    ip daddr { %s } tcp dport 10250 counter drop comment "path_drop:unexplained"' % ', '.join(path['path_drop']))
    out += ['  }', '}']
    return '\n'.join(out) + '\n'
