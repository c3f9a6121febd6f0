# -*- coding: utf-8 -*-
# Copyright (c) 2026 aks.tunnel contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""NSG path checks over a cluster model (pure): tunnel nodes -> every node's kubelet port, and tunnel
nodes -> API server for the tunnel's egress port(s); plus helpers for the nsg_port_rule repair.

Flows are evaluated per distinct combination of NSGs on the path (source NIC, source subnet,
destination subnet, destination NIC). Only when a rule on that path names specific addresses (CIDRs,
IPs or ASGs rather than ``*`` or a service tag) is the combination evaluated per node pair; the
compiled NSGs are memoized by the engine, so even then 5000 nodes are quick.
"""

from __future__ import annotations

import ipaddress

from ansible_collections.aks.tunnel.plugins.module_utils import _causes
from ansible_collections.aks.tunnel.plugins.module_utils import _nsg

# Flows kept per deciding Deny for the repair (it evaluates them again to find that Deny).
REPAIR_SAMPLE = 16
_TAG_ONLY = ('*', 'any', 'virtualnetwork', 'internet', 'azureloadbalancer')


def nsg_name(nsg_id):
    return nsg_id.rstrip('/').rsplit('/', 1)[-1] if nsg_id else None


def nsg_resource_group(nsg_id):
    parts = (nsg_id or '').split('/')
    lowered = [p.lower() for p in parts]
    if 'resourcegroups' in lowered:
        index = lowered.index('resourcegroups')
        if index + 1 < len(parts):
            return parts[index + 1]
    return None


def address_sensitive(nsg):
    """True when a user rule of the NSG names specific addresses (so verdicts can differ per node IP)."""
    if nsg is None:
        return False
    for rule in _nsg.compile_nsg(nsg).rules:
        if rule['is_default']:
            continue
        if rule['source_application_security_groups'] or rule['destination_application_security_groups']:
            return True
        for prefix in rule['source_address_prefixes'] + rule['destination_address_prefixes']:
            if str(prefix).lower() not in _TAG_ONLY:
                return True
    return False


def _lookup(nsgs, nsg_id):
    return nsgs.get(nsg_id.lower()) if nsg_id else None


def _blocking_entry(verdict, flow, port, protocol, nsgs):
    nsg_id = verdict['nsg']
    nsg = _lookup(nsgs, nsg_id) or {}
    return {
        'nsg_id': nsg.get('id') or nsg_id,
        'nsg_name': nsg.get('name') or nsg_name(nsg_id),
        'resource_group': nsg_resource_group(nsg.get('id') or nsg_id),
        'rule': verdict['rule'],
        'priority': verdict['priority'],
        'direction': verdict['direction'],
        'position': verdict['position'],
        'default_rule': verdict['rule'] in _nsg.DEFAULT_RULE_NAMES,
        'flow': flow,
        'port': port,
        'protocol': protocol,
        'nodes': [],
        'source_nodes': [],
    }


def check_paths(model, nsgs, sources, port=10250, protocol='Tcp', egress=None, api_server_ip=None, nsg_bypass=None, api_server_reason=None):
    """Evaluate the kubelet path and, when ``egress`` is given, the egress path.

    ``model``: aks_cluster_info's model; ``nsgs``: {lower-case id: NSG in ARM shape}; ``sources``: model
    nodes (tunnel hosts); ``egress``: the tunnel's egress list (``[{protocol, port, ...}]``); ``nsg_bypass``: {(source node,
    destination node): {directions}} that an AlwaysAllow Virtual Network Manager admin rule lets through without NSG evaluation
    (_network_path.nsg_bypass): Azure skips those NSGs for that pair, so does the evaluation.
    Returns ``{nsgs: [per-NSG verdicts], blocking_rules, paths: {checked, allowed, denied, unknown},
    denied_nodes, unknown_nodes: [{node, reason}], egress: [...], evaluations}``.
    """
    vnet_prefixes = model['cluster'].get('vnet_address_prefixes') or None
    # Compile every NSG once (the engine would otherwise re-key its cache by serializing the NSG per flow).
    compiled = {}
    sensitive = {}
    for key, value in nsgs.items():
        try:
            compiled[key] = _nsg.compile_nsg(value)
            sensitive[key] = address_sensitive(compiled[key])
        except _nsg.NsgError:
            compiled[key] = value
            sensitive[key] = True
    per_nsg = {}
    blocking = {}
    cache = {}
    stats = {'checked': 0, 'allowed': 0, 'denied': 0, 'unknown': 0}
    denied_nodes = {}
    unknown_nodes = {}
    evaluations = 0

    def note_nsg(step):
        if not step['present']:
            return
        key = step['nsg'].lower() if step['nsg'] else None
        nsg = _lookup(nsgs, step['nsg']) or {}
        entry = per_nsg.setdefault(key, {'nsg_id': nsg.get('id') or step['nsg'], 'nsg_name': nsg.get('name') or nsg_name(step['nsg']),
                                         'resource_group': nsg_resource_group(nsg.get('id') or step['nsg']), 'positions': [],
                                         'flows': 0, 'allowed': 0, 'denied': 0, 'unknown': 0, 'blocking_rules': [], 'unknown_reasons': []})
        if step['position'] not in entry['positions']:
            entry['positions'].append(step['position'])
        entry['flows'] += 1
        if step['access'] == _nsg.ALLOW:
            entry['allowed'] += 1
        elif step['access'] == _nsg.DENY:
            entry['denied'] += 1
            if step['rule'] and step['rule'] not in entry['blocking_rules']:
                entry['blocking_rules'].append(step['rule'])
        else:
            entry['unknown'] += 1
            if step['reason'] not in entry['unknown_reasons'] and len(entry['unknown_reasons']) < 5:
                entry['unknown_reasons'].append(step['reason'])

    repairs = {}

    def note_repair(verdict, src, dest):
        """Every NSG on the path that denies the flow needs its own Allow (subnet and NIC NSGs are separate)."""
        for step in verdict['steps']:
            if not step['present'] or step['access'] != _nsg.DENY:
                continue
            key = ((step['nsg'] or '').lower(), step['direction'])
            nsg = _lookup(nsgs, step['nsg']) or {}
            entry = repairs.setdefault(key, {
                'nsg_id': nsg.get('id') or step['nsg'], 'nsg_name': nsg.get('name') or nsg_name(step['nsg']),
                'resource_group': nsg_resource_group(nsg.get('id') or step['nsg']), 'direction': step['direction'],
                'denies': {}, 'source_prefixes': set(), 'destination_prefixes': set(), 'source_ips': set(), 'destination_ips': set()})
            deny = entry['denies'].setdefault(step['rule'], {'rule': step['rule'], 'priority': step['priority'], 'sample': set()})
            entry['source_prefixes'].add(src.get('subnet_prefix') or src['private_ip'] + '/32')
            entry['destination_prefixes'].add(dest.get('subnet_prefix') or dest['private_ip'] + '/32')
            entry['source_ips'].add(src['private_ip'])
            entry['destination_ips'].add(dest['private_ip'])
            # A few flows per deciding Deny are enough to find it again (the repair evaluates them); keeps reports small.
            if len(deny['sample']) < REPAIR_SAMPLE:
                deny['sample'].add((src['private_ip'], dest['private_ip']))

    targets = [n for n in model['nodes'] if n.get('private_ip')]
    for dest in targets:
        for src in sources:
            if src.get('name') == dest.get('name') or not src.get('private_ip'):
                continue
            combo = (src.get('nic_nsg_id'), src.get('subnet_nsg_id'), dest.get('subnet_nsg_id'), dest.get('nic_nsg_id'))
            skipped = (nsg_bypass or {}).get((src.get('name'), dest.get('name')))
            if skipped:  # AlwaysAllow admin rule: Outbound skips the source NSGs, Inbound the destination NSGs
                combo = tuple(None if ('Outbound' if i < 2 else 'Inbound') in skipped else nsg_id for i, nsg_id in enumerate(combo))
            combo_nsgs = [_lookup(compiled, i) for i in combo]
            missing = [i for i, n in zip(combo, combo_nsgs) if i and n is None]
            if missing or any(sensitive.get(i.lower()) for i in combo if i):
                key = combo + (src['private_ip'], dest['private_ip'])
            else:
                key = combo
            verdict = cache.get(key)
            if verdict is None:
                evaluations += 1
                if missing:
                    verdict = {'access': _nsg.UNKNOWN, 'rule': None, 'priority': None, 'nsg': missing[0], 'direction': None,
                               'position': None, 'reason': 'NSG %s could not be read' % missing[0], 'steps': []}
                else:
                    try:
                        verdict = _nsg.evaluate_path(
                            source_nic_nsg=combo_nsgs[0], source_subnet_nsg=combo_nsgs[1], destination_subnet_nsg=combo_nsgs[2],
                            destination_nic_nsg=combo_nsgs[3], protocol=protocol, source_ip=src['private_ip'],
                            destination_ip=dest['private_ip'], destination_port=port, vnet_prefixes=vnet_prefixes)
                    except _nsg.NsgError as exc:
                        verdict = {'access': _nsg.UNKNOWN, 'rule': None, 'priority': None, 'nsg': None, 'direction': None,
                                   'position': None, 'reason': str(exc), 'steps': []}
                    for step in verdict['steps']:
                        note_nsg(step)
                cache[key] = verdict
            stats['checked'] += 1
            if verdict['access'] == _nsg.DENY:
                note_repair(verdict, src, dest)
                stats['denied'] += 1
                denied_nodes.setdefault(dest['name'], []).append(src['name'])
                bkey = ((verdict['nsg'] or '').lower(), verdict['rule'], verdict['direction'])
                entry = blocking.setdefault(bkey, _blocking_entry(verdict, 'kubelet', port, protocol, nsgs))
                if dest['name'] not in entry['nodes']:
                    entry['nodes'].append(dest['name'])
                if src['name'] not in entry['source_nodes']:
                    entry['source_nodes'].append(src['name'])
            elif verdict['access'] == _nsg.UNKNOWN:
                stats['unknown'] += 1
                unknown_nodes.setdefault(dest['name'], verdict['reason'])
            else:
                stats['allowed'] += 1

    egress_results = []
    for item in egress or []:
        for src in sources:
            result = {'node': src['name'], 'protocol': item['protocol'], 'port': item['port'], 'destination': api_server_ip,
                      'access': None, 'rule': None, 'nsg_id': None, 'reason': None}
            if not api_server_ip:
                result.update(access=_nsg.UNKNOWN, reason=api_server_reason or
                              'the API server address is unknown (give api_server_ip, playbook variable aks_tunnel_api_server_ip)')
            elif not src.get('private_ip'):
                result.update(access=_nsg.UNKNOWN, reason='the node has no private IP in the model')
            else:
                evaluations += 1
                try:
                    verdict = _nsg.evaluate_path(source_nic_nsg=_lookup(compiled, src.get('nic_nsg_id')),
                                                 source_subnet_nsg=_lookup(compiled, src.get('subnet_nsg_id')),
                                                 protocol=item['protocol'], source_ip=src['private_ip'], destination_ip=api_server_ip,
                                                 destination_port=item['port'], vnet_prefixes=vnet_prefixes)
                except _nsg.NsgError as exc:
                    result.update(access=_nsg.UNKNOWN, reason=str(exc))
                else:
                    for step in verdict['steps']:
                        note_nsg(step)
                    result.update(access=verdict['access'], rule=verdict['rule'], nsg_id=verdict['nsg'], reason=verdict['reason'],
                                  priority=verdict['priority'])
                    if verdict['access'] == _nsg.DENY:
                        bkey = ((verdict['nsg'] or '').lower(), verdict['rule'], verdict['direction'])
                        entry = blocking.setdefault(bkey, _blocking_entry(verdict, 'egress', item['port'], item['protocol'], nsgs))
                        if src['name'] not in entry['nodes']:
                            entry['nodes'].append(src['name'])
                        if src['name'] not in entry['source_nodes']:
                            entry['source_nodes'].append(src['name'])
            egress_results.append(result)

    for entry in blocking.values():
        entry['nodes'].sort()
        entry['source_nodes'].sort()
    repair_list = []
    for entry in repairs.values():
        denies = sorted(entry.pop('denies').values(), key=lambda d: d['priority'] if d['priority'] is not None else 1 << 30)
        sample = set()
        for deny in denies:
            sample.update(deny.pop('sample'))
        entry['blocking_rules'] = denies
        entry['flow_sources'] = sorted(set(f[0] for f in sample), key=_ip_key)
        entry['flow_destinations'] = sorted(set(f[1] for f in sample), key=_ip_key)
        for key in ('source_prefixes', 'destination_prefixes', 'source_ips', 'destination_ips'):
            entry[key] = sorted(entry[key], key=_ip_key)
        repair_list.append(entry)
    return {
        'nsgs': sorted(per_nsg.values(), key=lambda e: (e['nsg_id'] or '').lower()),
        'blocking_rules': sorted(blocking.values(), key=lambda e: (e['flow'], (e['nsg_id'] or '').lower(), e['priority'] or 0)),
        'paths': stats,
        'denied_nodes': dict(sorted(denied_nodes.items())),
        'unknown_nodes': [{'node': k, 'reason': v} for k, v in sorted(unknown_nodes.items())],
        'egress': egress_results,
        'evaluations': evaluations,
        'repairs': sorted(repair_list, key=lambda e: ((e['nsg_id'] or '').lower(), e['direction'])),
        'vnet_prefixes': list(vnet_prefixes or []),
    }


def _ip_key(text):
    address = str(text).split('/', 1)[0]
    try:
        return (0, int(ipaddress.ip_address(address)), str(text))
    except ValueError:
        return (1, 0, str(text))


def _some(names, limit=20):
    """A readable list: the first ``limit`` names and how many more."""
    if len(names) <= limit:
        return ', '.join(names)
    return '%s and %d more' % (', '.join(names[:limit]), len(names) - limit)


def _rule_text(entry):
    return "rule '%s' (priority %s, %s) in NSG %s" % (entry['rule'], entry['priority'], entry['direction'], entry['nsg_name'])


def kubelet_finding(result, sources, port=10250):
    """The nsg_blocks_10250 finding for check_paths() output."""
    cause = _causes.NSG_BLOCKS_10250
    if not sources:
        return _causes.make_finding(cause, _causes.STATUS_UNKNOWN, 'no tunnel-hosting node is known, so the path to the kubelets '
                                    'cannot be evaluated; give source_nodes')
    rules = [b for b in result['blocking_rules'] if b['flow'] == 'kubelet']
    if rules:
        nodes = sorted(result['denied_nodes'])
        evidence = ['%s denies TCP %d from %s to %s' % (_rule_text(b), port, _some(b['source_nodes']), _some(b['nodes'])) for b in rules]
        remediation = {
            'summary': 'In each NSG that denies, add an Allow rule for TCP %d from the node subnet(s) of the tunnel nodes to the '
                       'node subnet(s) of the blocked nodes, just above the Deny that matched (other Denies stay in force), with '
                       'aks.tunnel.nsg_port_rule; then restart the tunnel pods.' % port,
            'module': 'aks.tunnel.nsg_port_rule',
            'nsg_rules': [_repair_rule(r, port, result.get('vnet_prefixes')) for r in result.get('repairs') or []
                          if r['direction'] and any(b['rule'] for b in r['blocking_rules'])],
        }
        return _causes.make_finding(cause, _causes.STATUS_PROBLEM, 'NSG rule(s) %s deny TCP %d from the tunnel nodes to %d node(s)'
                                    % (', '.join("'%s'" % b['rule'] for b in rules), port, len(nodes)), nodes, evidence, remediation)
    if result['unknown_nodes']:
        nodes = [u['node'] for u in result['unknown_nodes']]
        return _causes.make_finding(cause, _causes.STATUS_UNKNOWN, 'NSG verdict for TCP %d undecided for %d node(s): %s'
                                    % (port, len(nodes), result['unknown_nodes'][0]['reason']), nodes,
                                    ['%s: %s' % (u['node'], u['reason']) for u in result['unknown_nodes'][:20]])
    if not result['paths']['checked']:
        # Nothing was evaluated (e.g. the tunnel nodes have no IP in the model): that proves nothing.
        return _causes.make_finding(cause, _causes.STATUS_UNKNOWN, 'no NSG flow to TCP %d could be evaluated (0 flows: the tunnel '
                                    'nodes or the other nodes have no private IP in the cluster model)' % port)
    return _causes.make_finding(cause, _causes.STATUS_OK, 'every NSG on the path allows TCP %d from the tunnel nodes to every node '
                                '(%d flows checked)' % (port, result['paths']['checked']))


def _repair_rule(repair, port, vnet_prefixes):
    first = repair['blocking_rules'][0]
    return {'resource_group': repair['resource_group'], 'nsg': repair['nsg_name'], 'nsg_id': repair['nsg_id'],
            'direction': repair['direction'], 'port': port, 'protocol': 'Tcp', 'blocking_rule': first['rule'],
            'blocking_priority': first['priority'], 'blocking_rules': repair['blocking_rules'],
            'source_prefixes': repair['source_prefixes'], 'destination_prefixes': repair['destination_prefixes'],
            'source_ips': repair['source_ips'], 'destination_ips': repair['destination_ips'],
            'flow_sources': repair['flow_sources'], 'flow_destinations': repair['flow_destinations'],
            'vnet_prefixes': list(vnet_prefixes or [])}


def egress_finding(result, tunnel, checked=True):
    """The egress_ports_blocked finding (NSG part) for check_paths() output."""
    cause = _causes.EGRESS_PORTS_BLOCKED
    if not checked:
        return _causes.make_finding(cause, _causes.STATUS_NOT_APPLICABLE, 'egress was not checked')
    if not tunnel.get('egress'):
        return _causes.make_finding(cause, _causes.STATUS_NOT_APPLICABLE, tunnel.get('egress_reason') or 'no tunnel egress is needed')
    denied = [e for e in result['egress'] if e['access'] == _nsg.DENY]
    unknown = [e for e in result['egress'] if e['access'] == _nsg.UNKNOWN]
    if denied:
        rules = [b for b in result['blocking_rules'] if b['flow'] == 'egress']
        evidence = ['%s: %s %d to %s denied by %s' % (e['node'], e['protocol'].upper(), e['port'], e['destination'], e['reason'])
                    for e in denied]
        remediation = {
            'summary': 'Add an Outbound Allow rule for the tunnel port(s) to the API server at a priority lower than the blocking rule '
                       'with aks.tunnel.nsg_port_rule (direction Outbound).',
            'module': 'aks.tunnel.nsg_port_rule',
            'nsg_rules': [{'resource_group': b['resource_group'], 'nsg': b['nsg_name'], 'direction': 'Outbound', 'port': b['port'],
                           'protocol': b['protocol'], 'destination_prefix': denied[0]['destination'], 'blocking_rule': b['rule'],
                           'blocking_priority': b['priority']} for b in rules],
        }
        return _causes.make_finding(cause, _causes.STATUS_PROBLEM, 'an NSG denies the tunnel egress (%s) to the API server'
                                    % ', '.join(sorted(set('%s %d' % (e['protocol'].upper(), e['port']) for e in denied))),
                                    [e['node'] for e in denied], evidence, remediation)
    if unknown:
        return _causes.make_finding(cause, _causes.STATUS_UNKNOWN, 'NSG verdict for the tunnel egress undecided: %s' % unknown[0]['reason'],
                                    [e['node'] for e in unknown], ['%s: %s' % (e['node'], e['reason']) for e in unknown])
    return _causes.make_finding(cause, _causes.STATUS_OK, 'no NSG blocks the tunnel egress (%s) to the API server'
                                % ', '.join('%s %d' % (e['protocol'].upper(), e['port']) for e in tunnel['egress']))


# --------------------------------------------------------------------------- nsg_port_rule helpers

def _covers(ranges, port):
    for item in ranges:
        if item == '*':
            return True
        low, _sep, high = str(item).partition('-')
        if low.isdigit() and int(low) <= port <= int(high or low):
            return True
    return False


def blocking_rules_for(rules, port, protocol, direction, exclude=None):
    """User Deny rules of ``direction`` whose protocol and destination ports cover the flow (addresses are
    not narrowed: an Allow rule must win over every Deny that may apply). Sorted by priority."""
    found = []
    for rule in rules:
        norm = _nsg.normalize_rule(rule)
        if norm['is_default'] or norm['access'] != _nsg.DENY or norm['direction'] != direction:
            continue
        if exclude and (norm['name'] or '').lower() == exclude.lower():
            continue
        if norm['protocol'] not in ('*', protocol) and protocol != '*':
            continue
        if not _covers(norm['destination_port_ranges'], port):
            continue
        found.append({'name': norm['name'], 'priority': norm['priority'], 'direction': norm['direction'], 'protocol': norm['protocol'],
                      'destination_port_ranges': norm['destination_port_ranges']})
    return sorted(found, key=lambda r: r['priority'])


RULE_COMPARE_KEYS = ('protocol', 'access', 'direction', 'priority', 'sourcePortRange', 'destinationPortRange', 'sourceAddressPrefix',
                     'destinationAddressPrefix', 'description')


_PLURAL_KEYS = ('sourcePortRanges', 'destinationPortRanges', 'sourceAddressPrefixes', 'destinationAddressPrefixes',
                'sourceApplicationSecurityGroups', 'destinationApplicationSecurityGroups')


def rule_differences(current, desired):
    """Property names whose value differs between an existing rule and the desired one (ARM shape)."""
    cur = (current or {}).get('properties') or {}
    des = desired.get('properties') or {}
    diffs = []
    for key in RULE_COMPARE_KEYS:
        left, right = cur.get(key), des.get(key)
        if key in ('protocol', 'access', 'direction') and isinstance(left, str) and isinstance(right, str):
            if left.lower() == right.lower():
                continue
        if key == 'priority' and left is not None and right is not None and int(left) == int(right):
            continue
        if (left or None) != (right or None):
            diffs.append(key)
    for key in ('sourcePortRanges', 'destinationPortRanges', 'sourceAddressPrefixes', 'destinationAddressPrefixes',
                'sourceApplicationSecurityGroups', 'destinationApplicationSecurityGroups'):
        if cur.get(key):
            diffs.append(key)
    return diffs


def rule_view(rule):
    """A small, stable view of a rule for results and diffs."""
    if not rule:
        return {}
    props = rule.get('properties') or {}
    view = {'name': rule.get('name')}
    for key in RULE_COMPARE_KEYS + _PLURAL_KEYS:
        if props.get(key) not in (None, [], ''):
            view[key] = props.get(key)
    if rule.get('id'):
        view['id'] = rule['id']
    return view
