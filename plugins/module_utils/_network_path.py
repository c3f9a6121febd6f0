# -*- coding: utf-8 -*-
# Copyright (c) 2026 aks.tunnel contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The path between nodes outside the nodes and outside the NSGs (pure): Azure Virtual Network Manager security admin
rules of the node VNets and the effective routes of the tunnel nodes' NICs, for the kubelet flows tunnel node -> node:10250.

Admin rules (REST ``virtualNetworks/{vnet}/listNetworkManagerEffectiveSecurityAdminRules``) are evaluated before the NSGs,
per direction: the source VNet's Outbound rules, then the destination VNet's Inbound rules, lowest priority number first,
first match wins. ``Deny`` drops the flow whatever the NSGs say, ``AlwaysAllow`` lets it through and skips the NSGs of that
direction, ``Allow`` hands it on to the NSGs; no match hands it on too. Rules of equal priority (several configurations)
are taken Deny first, then AlwaysAllow, then Allow (the most restrictive reading).

Effective routes (REST ``networkInterfaces/{nic}/effectiveRouteTable``): the active route with the longest prefix that
covers the destination decides, a User route winning over a VirtualNetworkGateway (BGP) route over a Default one of the
same prefix. Next hop ``VirtualAppliance`` puts an appliance in the kubelet path, ``None`` drops the traffic (blackhole).

Address and port matching is the NSG engine's (_nsg.evaluate_nsg on the single rule), so service tags, CIDRs and port
ranges mean the same in both.
"""

from __future__ import annotations

import ipaddress

from ansible_collections.aks.tunnel.plugins.module_utils import _causes
from ansible_collections.aks.tunnel.plugins.module_utils import _nsg

ADMIN_DENY = 'Deny'
ADMIN_ALLOW = 'Allow'
ADMIN_ALWAYS_ALLOW = 'AlwaysAllow'
ADMIN_ACCESSES = (ADMIN_DENY, ADMIN_ALLOW, ADMIN_ALWAYS_ALLOW)
_ACCESS_ORDER = {ADMIN_DENY: 0, ADMIN_ALWAYS_ALLOW: 1, ADMIN_ALLOW: 2}
_CANON_ACCESS = dict((a.lower(), a) for a in ADMIN_ACCESSES)

NEXT_HOP_APPLIANCE = 'VirtualAppliance'
NEXT_HOP_NONE = 'None'
# What a next hop does to a node-to-node flow.
ROUTE_EFFECT = {NEXT_HOP_APPLIANCE: 'appliance', NEXT_HOP_NONE: 'drop'}
_SOURCE_ORDER = {'user': 0, 'virtualnetworkgateway': 1, 'default': 2}
# A name that cannot collide with a default NSG rule: the single admin rule is evaluated as an NSG rule under it.
_PROBE_RULE = 'aks-tunnel-admin-rule'
PAIR_SAMPLE = 50
COMMAND_SAMPLE = 10


class NetworkPathInputError(ValueError):
    """An admin rule or a route that cannot be read."""


def _canon_protocol(value):
    text = str(value or '').strip().lower()
    if text in ('any', '*', 'all'):
        return '*'
    for proto in _nsg.FLOW_PROTOCOLS:
        if proto.lower() == text:
            return proto
    raise NetworkPathInputError('protocol %r is not one of Tcp, Udp, Icmp, Esp, Ah, Any' % (value,))


def _prefixes(items):
    """AddressPrefixItem list -> NSG prefixes ('*', CIDR, service tag); empty = any."""
    found = []
    for item in items or []:
        prefix = item.get('addressPrefix') if isinstance(item, dict) else item
        if isinstance(item, dict) and prefix is None:
            prefix = item.get('address_prefix')
        if prefix in (None, ''):
            continue
        found.append(str(prefix).strip())
    return found or ['*']


def _ports(values):
    return [str(v).strip() for v in values or [] if str(v).strip()] or ['*']


def id_parts(resource_id):
    """{'network_manager', 'resource_group', 'configuration', 'rule_collection', 'rule'} of an admin rule id (missing parts None)."""
    parts = [p for p in str(resource_id or '').split('/') if p]
    lowered = [p.lower() for p in parts]
    found = {}
    for key, segment in (('resource_group', 'resourcegroups'), ('network_manager', 'networkmanagers'),
                         ('configuration', 'securityadminconfigurations'), ('rule_collection', 'rulecollections'), ('rule', 'rules'),
                         ('subscription', 'subscriptions')):
        found[key] = parts[lowered.index(segment) + 1] if segment in lowered and lowered.index(segment) + 1 < len(parts) else None
    return found


def normalize_admin_rule(rule):
    """One entry of listNetworkManagerEffectiveSecurityAdminRules (REST shape, or the SDK's as_dict) in the engine's shape."""
    if not isinstance(rule, dict):
        raise NetworkPathInputError('admin rule must be a mapping, got %s' % type(rule).__name__)
    props = rule.get('properties') if isinstance(rule.get('properties'), dict) else rule
    rule_id = rule.get('id')
    parts = id_parts(rule_id)
    name = parts['rule'] or rule.get('name') or rule_id or 'unnamed admin rule'
    access = _CANON_ACCESS.get(str(props.get('access') or '').lower())
    if access is None:
        raise NetworkPathInputError('admin rule %s: access must be Allow, Deny or AlwaysAllow, got %r' % (name, props.get('access')))
    direction = str(props.get('direction') or '').capitalize()
    if direction not in _nsg.DIRECTIONS:
        raise NetworkPathInputError('admin rule %s: direction must be Inbound or Outbound, got %r' % (name, props.get('direction')))
    try:
        priority = int(props.get('priority'))
    except (TypeError, ValueError):
        raise NetworkPathInputError('admin rule %s: priority must be an integer 1-4096, got %r' % (name, props.get('priority'))) from None
    try:
        protocol = _canon_protocol(props.get('protocol'))
    except NetworkPathInputError as exc:
        raise NetworkPathInputError('admin rule %s: %s' % (name, exc)) from None
    return {
        'id': rule_id,
        'name': name,
        'kind': rule.get('kind') or 'Custom',
        'network_manager': parts['network_manager'],
        'resource_group': parts['resource_group'],
        'configuration': parts['configuration'],
        'rule_collection': parts['rule_collection'],
        'configuration_description': rule.get('configurationDescription') or rule.get('configuration_description'),
        'flag': props.get('flag'),
        'description': props.get('description'),
        'access': access,
        'direction': direction,
        'priority': priority,
        'protocol': protocol,
        'sources': _prefixes(props.get('sources')),
        'destinations': _prefixes(props.get('destinations')),
        'source_port_ranges': _ports(props.get('sourcePortRanges') or props.get('source_port_ranges')),
        'destination_port_ranges': _ports(props.get('destinationPortRanges') or props.get('destination_port_ranges')),
    }


def as_nsg_rule(rule):
    """The admin rule as a one-rule NSG (AlwaysAllow reads as Allow: matching is all the NSG engine does here)."""
    return [{'name': _PROBE_RULE, 'properties': {
        'priority': min(max(rule['priority'], 1), 4096), 'access': _nsg.DENY if rule['access'] == ADMIN_DENY else _nsg.ALLOW,
        'direction': rule['direction'], 'protocol': rule['protocol'], 'sourceAddressPrefixes': rule['sources'],
        'destinationAddressPrefixes': rule['destinations'], 'sourcePortRanges': rule['source_port_ranges'],
        'destinationPortRanges': rule['destination_port_ranges']}}]


def _port_may_match(rule, protocol, port):
    """Cheap pre-filter: protocol and destination port (most admin rules are about other ports)."""
    if rule['protocol'] not in ('*', protocol):
        return False
    for item in rule['destination_port_ranges']:
        if item == '*':
            return True
        low, _sep, high = item.partition('-')
        if low.isdigit() and int(low) <= port <= int(high if high.isdigit() else low):
            return True
    return False


def match_admin_rule(rule, direction, protocol, source_ip, destination_ip, port, vnet_prefixes=None):
    """(True|False|None, reason): does the normalized admin ``rule`` match the flow (None = cannot be decided offline)."""
    if rule['direction'] != direction or not _port_may_match(rule, protocol, port):
        return False, None
    try:
        verdict = _nsg.evaluate_nsg(as_nsg_rule(rule), direction=direction, protocol=protocol, source_ip=source_ip,
                                    destination_ip=destination_ip, destination_port=port, vnet_prefixes=vnet_prefixes)
    except _nsg.NsgError as exc:
        return None, 'admin rule %s cannot be evaluated: %s' % (rule['name'], exc)
    for item in verdict.get('undecided') or []:
        if item['rule'] == _PROBE_RULE:
            return None, 'admin rule %s: %s' % (rule['name'], item['reason'])
    if verdict['rule'] == _PROBE_RULE:
        if verdict['access'] == _nsg.UNKNOWN:
            return None, 'admin rule %s may match' % rule['name']
        return True, None
    return False, None


def sort_admin_rules(rules):
    return sorted(rules, key=lambda r: (r['priority'], _ACCESS_ORDER[r['access']], r['id'] or r['name']))


def evaluate_admin_direction(rules, direction, protocol, source_ip, destination_ip, port, vnet_prefixes=None):
    """First admin rule of ``direction`` that matches: {access: Deny|AlwaysAllow|Allow|None (no match)|Unknown, rule, reason}."""
    for rule in rules:
        result, reason = match_admin_rule(rule, direction, protocol, source_ip, destination_ip, port, vnet_prefixes)
        if result is True:
            reason = '%s admin rule %s (priority %d) matches' % (rule['access'], rule['name'], rule['priority'])
            return {'access': rule['access'], 'rule': rule, 'reason': reason}
        if result is None:
            return {'access': _nsg.UNKNOWN, 'rule': rule, 'reason': reason}
    return {'access': None, 'rule': None, 'reason': 'no %s admin rule matches' % direction.lower()}


# --------------------------------------------------------------------------- routes

def normalize_route(route):
    """One EffectiveRoute (REST or SDK as_dict) in the engine's shape, its prefixes parsed."""
    if not isinstance(route, dict):
        raise NetworkPathInputError('effective route must be a mapping, got %s' % type(route).__name__)
    prefixes = route.get('addressPrefix') or route.get('address_prefix') or []
    if isinstance(prefixes, str):
        prefixes = [prefixes]
    networks = []
    for prefix in prefixes:
        try:
            networks.append(ipaddress.ip_network(str(prefix).strip(), strict=False))
        except ValueError:
            continue  # service-tag routes (destinationServiceTags) cannot cover a node IP
    hops = route.get('nextHopIpAddress') or route.get('next_hop_ip_address') or []
    return {'name': route.get('name'), 'source': route.get('source') or 'Unknown', 'state': route.get('state') or 'Active',
            'address_prefixes': [str(p) for p in prefixes], 'next_hop_type': route.get('nextHopType') or route.get('next_hop_type'),
            'next_hop_ip': list(hops) if isinstance(hops, (list, tuple)) else [hops], 'networks': networks}


def route_for(routes, ip):
    """The effective route that carries traffic to ``ip`` (normalized routes), or None."""
    address = ipaddress.ip_address(ip)
    best = None
    best_key = None
    for route in routes:
        if str(route['state']).lower() != 'active':
            continue
        for network in route['networks']:
            if network.version != address.version or address not in network:
                continue
            key = (-network.prefixlen, _SOURCE_ORDER.get(str(route['source']).lower(), 3))
            if best_key is None or key < best_key:
                best, best_key = route, key
    return best


def route_label(route):
    name = "'%s'" % route['name'] if route.get('name') else 'a %s route' % route['source']
    hop = route['next_hop_type']
    if route['next_hop_ip']:
        hop = '%s %s' % (hop, ', '.join(route['next_hop_ip']))
    return 'route %s (%s, %s) -> next hop %s' % (name, route['source'], ', '.join(route['address_prefixes']), hop)


# --------------------------------------------------------------------------- the path

def vnet_of(subnet_id):
    """The VNet id of a subnet id (as given, lower-cased key separately)."""
    if not subnet_id:
        return None
    lowered = subnet_id.lower()
    index = lowered.find('/subnets/')
    return subnet_id[:index] if index > 0 else None


def network_watcher_command(nic_id, direction, source_ip, destination_ip, port=10250):
    """The exact az command that runs Network Watcher's configuration diagnostic on a (VMSS) NIC for one flow."""
    return ('az network watcher run-configuration-diagnostic --resource %s --direction %s --protocol TCP --source %s '
            '--destination %s --port %d' % (nic_id, direction, source_ip, destination_ip, port))


def check_network_path(model, sources, admin_rules, routes, port=10250, protocol='Tcp'):
    """Evaluate the kubelet flows from ``sources`` (model nodes) to every node with an IP.

    ``admin_rules``: {lower-case VNet id: [raw admin rules] | {'error': reason}}; a VNet missing from it was not read.
    ``routes``: {source node name: [raw effective routes] | {'error': reason}}.
    Returns {flows, pairs: [{from, to, from_ip, to_ip, blocked_by: admin_rule|route, ...}], admin_blocks, always_allow,
    route_hits, unknown: [{node, reason}], input_errors, vnets}.
    """
    vnet_prefixes = model['cluster'].get('vnet_address_prefixes') or None
    rules_by_vnet = {}
    unknown_vnets = {}
    input_errors = []
    for key, value in (admin_rules or {}).items():
        if isinstance(value, dict):
            unknown_vnets[key.lower()] = value.get('error') or 'the admin rules could not be read'
            continue
        parsed = []
        for raw in value or []:
            try:
                parsed.append(normalize_admin_rule(raw))
            except NetworkPathInputError as exc:
                input_errors.append(str(exc))
                unknown_vnets[key.lower()] = str(exc)
        rules_by_vnet[key.lower()] = sort_admin_rules(parsed)
    routes_by_node = {}
    unknown_routes = {}
    for node, value in (routes or {}).items():
        if isinstance(value, dict):
            unknown_routes[node] = value.get('error') or 'the effective routes could not be read'
            continue
        parsed = []
        for raw in value or []:
            try:
                parsed.append(normalize_route(raw))
            except NetworkPathInputError as exc:
                input_errors.append(str(exc))
        routes_by_node[node] = parsed

    pairs = []
    admin_blocks = {}
    always_allow = {}
    route_hits = {}
    unknown = {}
    flows = 0
    targets = [n for n in model['nodes'] if n.get('private_ip')]
    for src in sources:
        if not src.get('private_ip'):
            continue
        src_vnet = (vnet_of(src.get('subnet_id')) or '').lower()
        src_routes = routes_by_node.get(src['name'])
        for dest in targets:
            if dest['name'] == src['name']:
                continue
            flows += 1
            dest_vnet = (vnet_of(dest.get('subnet_id')) or '').lower()
            blocked = None
            for direction, vnet in (('Outbound', src_vnet), ('Inbound', dest_vnet)):
                if vnet in unknown_vnets or vnet not in rules_by_vnet:
                    reason = unknown_vnets.get(vnet) or ('the VNet of %s is unknown' % (src if direction == 'Outbound' else dest)['name']
                                                         if not vnet else 'the admin rules of VNet %s were not read' % vnet)
                    unknown.setdefault(dest['name'], 'admin rules (%s): %s' % (direction.lower(), reason))
                    continue
                verdict = evaluate_admin_direction(rules_by_vnet[vnet], direction, protocol, src['private_ip'], dest['private_ip'], port,
                                                   vnet_prefixes)
                rule = verdict['rule']
                if verdict['access'] == ADMIN_DENY:
                    entry = admin_blocks.setdefault((rule['id'] or rule['name'], direction), dict(rule, nodes=set(), source_nodes=set()))
                    entry['nodes'].add(dest['name'])
                    entry['source_nodes'].add(src['name'])
                    blocked = blocked or {'blocked_by': 'admin_rule', 'rule': rule['name'], 'rule_id': rule['id'], 'direction': direction}
                    break
                if verdict['access'] == ADMIN_ALWAYS_ALLOW:
                    entry = always_allow.setdefault((rule['id'] or rule['name'], direction), dict(rule, nodes=set(), source_nodes=set(), pairs=[]))
                    entry['nodes'].add(dest['name'])
                    entry['source_nodes'].add(src['name'])
                    entry['pairs'].append([src['name'], dest['name']])
                elif verdict['access'] == _nsg.UNKNOWN:
                    unknown.setdefault(dest['name'], verdict['reason'])
            if src['name'] in unknown_routes:
                unknown.setdefault(dest['name'], 'effective routes of %s: %s' % (src['name'], unknown_routes[src['name']]))
            elif src_routes is None:
                unknown.setdefault(dest['name'], 'the effective routes of %s were not read' % src['name'])
            else:
                route = route_for(src_routes, dest['private_ip'])
                effect = ROUTE_EFFECT.get(route['next_hop_type']) if route else None
                if effect:
                    key = (src['name'], route['name'], tuple(route['address_prefixes']), route['next_hop_type'])
                    hit = route_hits.setdefault(key, {'node': src['name'], 'nic_id': src.get('nic_id'), 'name': route['name'],
                                                      'source': route['source'], 'address_prefixes': route['address_prefixes'],
                                                      'next_hop_type': route['next_hop_type'], 'next_hop_ip': route['next_hop_ip'],
                                                      'effect': effect, 'label': route_label(route), 'nodes': set()})
                    hit['nodes'].add(dest['name'])
                    if blocked is None:
                        blocked = {'blocked_by': 'route', 'route': route['name'], 'next_hop_type': route['next_hop_type'], 'effect': effect,
                                   'direction': 'Outbound'}
            if blocked is not None:
                pairs.append(dict(blocked, **{'from': src['name'], 'to': dest['name'], 'from_ip': src['private_ip'], 'to_ip': dest['private_ip'],
                                              'from_nic_id': src.get('nic_id'), 'to_nic_id': dest.get('nic_id')}))

    def finish(entries):
        out = []
        for entry in entries.values():
            entry = dict(entry, nodes=sorted(entry['nodes']))
            if 'source_nodes' in entry:
                entry['source_nodes'] = sorted(entry['source_nodes'])
            out.append(entry)
        return sorted(out, key=lambda e: (e.get('priority') or 0, e.get('node') or '', e.get('name') or ''))

    return {
        'flows': flows,
        'pairs': pairs,
        'admin_blocks': finish(admin_blocks),
        'always_allow': finish(always_allow),
        'route_hits': finish(route_hits),
        'unknown': [{'node': k, 'reason': v} for k, v in sorted(unknown.items())],
        'input_errors': input_errors,
        'vnets': sorted(set(list(rules_by_vnet) + list(unknown_vnets))),
    }


def nsg_bypass(always_allow):
    """{(source node, destination node): {directions}} whose NSGs an AlwaysAllow admin rule skips, from check_network_path()'s
    (or network_path_info's) ``always_allow``; for _nsg_check.check_paths(nsg_bypass=...)."""
    bypass = {}
    for entry in always_allow or []:
        for src, dest in entry.get('pairs') or []:
            bypass.setdefault((src, dest), set()).add(entry['direction'])
    return bypass


# --------------------------------------------------------------------------- the finding

def _some(names, limit=20):
    names = list(names)
    if len(names) <= limit:
        return ', '.join(names)
    return '%s and %d more' % (', '.join(names[:limit]), len(names) - limit)


def _admin_text(rule):
    where = []
    if rule.get('network_manager'):
        where.append('network manager %s' % rule['network_manager'])
    if rule.get('configuration'):
        where.append('security admin configuration %s' % rule['configuration'])
    if rule.get('rule_collection'):
        where.append('rule collection %s' % rule['rule_collection'])
    place = ', ' + ', '.join(where) if where else ''
    return "%s admin rule '%s' (priority %d, %s%s)" % (rule['access'], rule['name'], rule['priority'], rule['direction'], place)


def _admin_remediation(rule):
    parts = {'rule': rule['name'], 'id': rule['id'], 'network_manager': rule.get('network_manager'), 'resource_group': rule.get('resource_group'),
             'configuration': rule.get('configuration'), 'rule_collection': rule.get('rule_collection'), 'priority': rule['priority'],
             'access': rule['access'], 'direction': rule['direction'], 'kind': rule.get('kind'), 'nodes': rule['nodes'],
             'source_nodes': rule.get('source_nodes') or []}
    parts['where'] = ('Azure Virtual Network Manager %s (resource group %s): security admin configuration %s, rule collection %s; change '
                      'the rule (an AlwaysAllow or Allow for TCP %s between the node subnets at a lower priority number, or narrow the '
                      'Deny) and deploy the configuration again to the region (az network manager post-commit, extension '
                      'virtual-network-manager). The rule is owned by whoever manages that network manager, often a central network team.'
                      % (rule.get('network_manager'), rule.get('resource_group'), rule.get('configuration'), rule.get('rule_collection'),
                         '10250'))
    return parts


def _commands(pairs, port):
    commands = []
    seen = set()
    for pair in pairs:
        if len(commands) >= COMMAND_SAMPLE:
            break
        if pair.get('to_nic_id') and ('in', pair['to']) not in seen:
            seen.add(('in', pair['to']))
            commands.append(network_watcher_command(pair['to_nic_id'], 'Inbound', pair['from_ip'], pair['to_ip'], port))
        if pair.get('from_nic_id') and ('out', pair['from'], pair['to']) not in seen and len(seen) < 2 * COMMAND_SAMPLE:
            seen.add(('out', pair['from'], pair['to']))
            commands.append(network_watcher_command(pair['from_nic_id'], 'Outbound', pair['from_ip'], pair['to_ip'], port))
    return commands


def _route_commands(hits):
    commands = []
    for hit in hits:
        parts = (hit.get('nic_id') or '').split('/')
        lowered = [p.lower() for p in parts]
        if 'resourcegroups' in lowered and 'networkinterfaces' in lowered:
            rg = parts[lowered.index('resourcegroups') + 1]
            nic = parts[lowered.index('networkinterfaces') + 1]
            command = 'az network nic show-effective-route-table -g %s -n %s -o table' % (rg, nic)
            if command not in commands:
                commands.append(command)
    return commands


def path_finding(result, sources, unreachable=None, port=10250):
    """The network_path_blocks_10250 finding for check_network_path() output.

    ``unreachable``: the probe's summary.unreachable_nodes ([{node, ...}]) or None when the probe did not run.
    With it, a Deny admin rule, a blackhole or an appliance route is a PROBLEM for the unreachable nodes it covers; an
    appliance in front of nodes that are all reachable is OK with a warning. Without it, a Deny admin rule or a blackhole
    route is a PROBLEM (as an NSG Deny would be) and an appliance route is UNKNOWN.
    """
    cause = _causes.NETWORK_PATH_BLOCKS_10250
    if not sources:
        return _causes.make_finding(cause, _causes.STATUS_UNKNOWN, 'no tunnel-hosting node is known, so the path between the nodes cannot '
                                    'be evaluated; give source_nodes')
    if not result['flows']:
        return _causes.make_finding(cause, _causes.STATUS_UNKNOWN, '0 kubelet flows evaluated: the tunnel node(s) %s or the other nodes have '
                                    'no private IP in the model' % ', '.join(n['name'] for n in sources),
                                    [n['name'] for n in sources], ['0 flows evaluated'])
    probe_ran = unreachable is not None
    down = sorted(set(str(item.get('node')) if isinstance(item, dict) else str(item) for item in unreachable or [] if item))
    down_set = set(down)
    evidence = []
    problem_nodes = set()
    admin_rules = []
    routes = []
    warnings = []
    for rule in result['admin_blocks']:
        nodes = [n for n in rule['nodes'] if n in down_set] if probe_ran else rule['nodes']
        text = '%s denies TCP %d from %s to %s' % (_admin_text(rule), port, _some(rule['source_nodes']), _some(rule['nodes']))
        if nodes:
            problem_nodes.update(nodes)
            evidence.append(text)
            admin_rules.append(_admin_remediation(dict(rule, nodes=nodes)))
        else:
            warnings.append('%s, but the probe reached those nodes (is the configuration deployed to this region yet?)' % text)
    unknown_appliance = []
    for hit in result['route_hits']:
        text = 'on %s, %s carries TCP %d to %s' % (hit['node'], hit['label'], port, _some(hit['nodes']))
        entry = {'node': hit['node'], 'nic_id': hit['nic_id'], 'route': hit['name'], 'source': hit['source'],
                 'address_prefixes': hit['address_prefixes'], 'next_hop_type': hit['next_hop_type'], 'next_hop_ip': hit['next_hop_ip'],
                 'effect': hit['effect'], 'nodes': hit['nodes']}
        if probe_ran:
            nodes = [n for n in hit['nodes'] if n in down_set]
            if nodes:
                problem_nodes.update(nodes)
                what = ': the appliance drops the kubelet traffic' if hit['effect'] == 'appliance' else ': a blackhole'
                evidence.append(text + ('; %s of them unreachable' % len(nodes)) + what)
                routes.append(dict(entry, nodes=nodes))
            elif hit['effect'] == 'appliance':
                warnings.append(text + '; every one of them was reachable, so the appliance passes TCP %d today (a change on it can cut '
                                'the tunnel)' % port)
            else:
                warnings.append(text + ', but the probe reached those nodes')
        elif hit['effect'] == 'drop':
            problem_nodes.update(hit['nodes'])
            evidence.append(text + ': a blackhole drops it')
            routes.append(entry)
        else:
            unknown_appliance.append(text)
            routes.append(entry)
    pairs = [p for p in result['pairs'] if p['to'] in problem_nodes] if problem_nodes else []
    evidence.extend('warning: ' + w for w in warnings)
    if result['always_allow']:
        evidence.extend('AlwaysAllow admin rule %s (priority %d, %s) lets TCP %d to %s through without NSG evaluation'
                        % (r['name'], r['priority'], r['direction'], port, _some(r['nodes'])) for r in result['always_allow'])
    unexplained = [n for n in down if n not in problem_nodes]
    if problem_nodes:
        remediation = {
            'summary': 'The kubelet traffic between nodes is dropped outside the nodes and the NSGs: %s. Change the Virtual Network Manager '
                       'security admin rule(s) where they are defined, or route the node subnet(s) directly (VnetLocal) instead of through '
                       'the appliance / blackhole, or allow TCP %d on the appliance; then check the path with Network Watcher.'
                       % ('; '.join(e for e in evidence if not e.startswith('warning: ')), port),
            'admin_rules': admin_rules,
            'routes': routes,
            'pairs': pairs[:PAIR_SAMPLE],
            'commands': _commands(pairs, port) + _route_commands(routes)
            + ['az rest --method get --url "https://management.azure.com%s?api-version=2024-05-01"' % r['id'] for r in admin_rules if r['id']],
        }
        named = ['admin rule %s' % r['rule'] for r in admin_rules]
        named += ['%s route %s on %s' % (r['effect'], r['route'] or r['next_hop_type'], r['node']) for r in routes]
        summary = 'TCP %d to %d node(s) is blocked between the nodes outside the NSGs: %s' % (port, len(problem_nodes), ', '.join(sorted(set(named))))
        if unexplained:
            evidence.append('unreachable node(s) not explained by admin rules or routes: %s' % _some(unexplained))
        return _causes.make_finding(cause, _causes.STATUS_PROBLEM, summary, problem_nodes, evidence, remediation)
    unknown = result['unknown']
    if unknown_appliance:
        return _causes.make_finding(cause, _causes.STATUS_UNKNOWN, 'an appliance is in the kubelet path; the probe did not run, so whether it '
                                    'passes TCP %d is not known' % port, sorted(set(n for h in result['route_hits'] for n in h['nodes'])),
                                    unknown_appliance + evidence, {'routes': routes,
                                                                   'commands': _route_commands(routes)})
    if unknown and (not probe_ran or unexplained):
        nodes = [u['node'] for u in unknown] if not probe_ran else [u['node'] for u in unknown if u['node'] in set(unexplained)] or unexplained
        return _causes.make_finding(cause, _causes.STATUS_UNKNOWN, 'path between the nodes undecided: %s' % unknown[0]['reason'], nodes,
                                    ['%s: %s' % (u['node'], u['reason']) for u in unknown[:PAIR_SAMPLE]] + evidence)
    if unknown:
        evidence.append('not evaluated (every node was reachable): %s' % unknown[0]['reason'])
    if unexplained:
        evidence.append('unreachable node(s) not explained by admin rules or routes: %s' % _some(unexplained))
    summary = ('no Virtual Network Manager admin rule or route blocks TCP %d between the nodes (%d flow(s) evaluated, %d VNet(s))'
               % (port, result['flows'], len(result['vnets'])))
    return _causes.make_finding(cause, _causes.STATUS_OK, summary, [], evidence)
