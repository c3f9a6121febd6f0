# -*- coding: utf-8 -*-
# Copyright (c) 2026 aks.tunnel contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Compile the ARM emulator's NSG state into nftables rules for the lab bridge (`table bridge aksnsg`).

Evaluated like Azure: a new flow leaving a node passes its NIC NSG then the subnet NSG (Outbound rules);
a flow arriving at a node passes the subnet NSG then the NIC NSG (Inbound rules); flows to the router /
API server get only the outbound evaluation. In each NSG the rules of that direction run in priority
order, first match wins (Allow = `return` to the next NSG, Deny = `drop`), the six default rules last.

Statefulness without bridge conntrack (not available in every kernel): TCP packets that are not a bare
SYN pass (so only connection set-up is judged), UDP flows allowed once are remembered in a dynamic set
(`udpflows`) that admits their replies, ICMP errors and echo replies pass.

Service tags: VirtualNetwork = the VNet prefix + 168.63.129.16; AzureLoadBalancer = 168.63.129.16;
Internet = not VirtualNetwork and not a non-public range (documentation ranges such as 198.51.100.0/24
count as Internet). Other tags and application security groups cannot be decided in the lab: such a
rule never matches (it is written as a comment in the ruleset).
"""

from __future__ import annotations

import ipaddress

from ansible_collections.aks.tunnel.plugins.module_utils._nsg import NsgError, default_rules, normalize_rule

TABLE = 'aksnsg'
PLATFORM_IP = '168.63.129.16'
NON_PUBLIC = ('0.0.0.0/8', '10.0.0.0/8', '100.64.0.0/10', '127.0.0.0/8', '169.254.0.0/16', '172.16.0.0/12',
              '192.168.0.0/16', '224.0.0.0/4', '240.0.0.0/4')
_PROTO = {'Tcp': 'tcp', 'Udp': 'udp', 'Icmp': 'icmp', 'Esp': 'esp', 'Ah': 'ah'}


def view_from_arm(dump):
    """NSG view from `ArmState.dump()`: which NSG applies to which node IPs, and the subnet NSG."""
    topology = dump['topology']
    nsgs = {k.lower(): v for k, v in dump['nsgs'].items()}
    nic = {}
    if dump.get('nic_nsg_enabled', True):
        for node in topology['nodes']:
            nsg_id = (node.get('nic_nsg_id') or topology['nic_nsg']['id']).lower()
            if nsg_id in nsgs:
                nic.setdefault(nsg_id, {'rules': nsgs[nsg_id]['rules'], 'ips': []})['ips'].append(node['ip'])
    subnet = None
    if dump.get('subnet_nsg_id') and dump['subnet_nsg_id'].lower() in nsgs:
        subnet = {'id': dump['subnet_nsg_id'].lower(), 'rules': nsgs[dump['subnet_nsg_id'].lower()]['rules']}
    return {'nic': nic, 'subnet': subnet, 'subnet_prefix': topology['vnet']['subnet_prefix'],
            'vnet_prefixes': list(topology['vnet']['address_prefixes'])}


def view_from_config(config, topology):
    """The same view from the lab config (before the ARM emulator runs, or without it)."""
    network = config.get('network') or {}
    by_name = {}
    for name, spec in (network.get('nsgs') or {}).items():
        by_name[name.lower()] = [dict(r) for r in (spec or {}).get('security_rules') or []]
    nic_name = topology['nic_nsg']['name'].lower()
    nic = {}
    if network.get('node_nsg_on', 'nic') in ('nic', 'both'):
        nic[topology['nic_nsg']['id'].lower()] = {'rules': by_name.get(nic_name, []), 'ips': [n['ip'] for n in topology['nodes']]}
    subnet = None
    subnet_ref = network.get('subnet_nsg') or (nic_name if network.get('node_nsg_on') in ('subnet', 'both') else None)
    if subnet_ref:
        subnet = {'id': subnet_ref.lower(), 'rules': by_name.get(subnet_ref.lower(), [])}
    return {'nic': nic, 'subnet': subnet, 'subnet_prefix': topology['vnet']['subnet_prefix'],
            'vnet_prefixes': list(topology['vnet']['address_prefixes'])}


def _quote(text):
    return '"%s"' % ''.join(c if c.isalnum() or c in '-_.:/ ' else '_' for c in text)[:120]


def _address(field, prefixes, vnet):
    """nft match for one side, '' for any, None when the lab cannot decide it (unknown tag)."""
    if not prefixes or '*' in prefixes:
        return ''
    if len(prefixes) == 1:
        tag = prefixes[0].lower()
        if tag == 'virtualnetwork':
            return '%s { %s }' % (field, ', '.join(list(vnet) + [PLATFORM_IP]))
        if tag == 'azureloadbalancer':
            return '%s %s' % (field, PLATFORM_IP)
        if tag == 'internet':
            return '%s != { %s }' % (field, ', '.join(sorted(set(NON_PUBLIC) | set(vnet) | {PLATFORM_IP + '/32'})))
    nets = []
    for prefix in prefixes:
        try:
            network = ipaddress.ip_network(prefix, strict=False)
        except ValueError:
            return None
        if network.version == 4:  # the lab is IPv4-only: IPv6 entries never match
            nets.append(str(network))
    if not nets:
        return None
    return '%s { %s }' % (field, ', '.join(nets))


def _ports(field, ranges):
    if not ranges or '*' in ranges or '0-65535' in ranges:
        return ''
    return 'th %s { %s }' % (field, ', '.join(ranges))


def compile_rule(rule, vnet, direction_label):
    """One normalized rule -> an nft rule line (or a comment explaining why it cannot match)."""
    name = '%s:%s:%s' % (direction_label, rule['name'], rule['priority'])
    verdict = 'return' if rule['access'] == 'Allow' else 'drop'
    if rule['source_application_security_groups'] or rule['destination_application_security_groups']:
        return '# %s uses application security groups: never matches in the lab' % name
    src = _address('ip saddr', rule['source_address_prefixes'], vnet)
    dst = _address('ip daddr', rule['destination_address_prefixes'], vnet)
    if src is None or dst is None:
        return '# %s uses a service tag or only IPv6 prefixes the lab cannot match: never matches' % name
    sport = _ports('sport', rule['source_port_ranges'])
    dport = _ports('dport', rule['destination_port_ranges'])
    proto = rule['protocol']
    parts = [src, dst]
    if proto == '*':
        if sport or dport:
            parts.append('meta l4proto { tcp, udp }')
    elif proto in ('Tcp', 'Udp'):
        parts.append('meta l4proto %s' % _PROTO[proto])
    else:
        if sport or dport:
            return '# %s limits ports on a portless protocol: never matches' % name
        parts.append('meta l4proto %s' % _PROTO[proto])
    parts += [sport, dport, 'counter', verdict, 'comment %s' % _quote(name)]
    return ' '.join(p for p in parts if p)


def _chain(name, rules, direction, vnet, label):
    normalized = []
    for rule in list(rules) + default_rules():
        try:
            item = normalize_rule(rule)
        except NsgError as exc:
            normalized.append({'error': str(exc), 'priority': -1})
            continue
        if item['direction'] == direction:
            normalized.append(item)
    seen = set()
    lines = ['  chain %s {' % name]
    for item in sorted(normalized, key=lambda r: r['priority']):
        if 'error' in item:
            lines.append('    # invalid rule skipped: %s' % item['error'].replace('\n', ' ')[:200])
            continue
        if item['is_default'] and item['name'] in seen:
            continue
        seen.add(item['name'])
        lines.append('    ' + compile_rule(item, vnet, label))
    lines.append('  }')
    return lines


def render(view, table=TABLE):
    """The complete nft script (atomic replace of the table) for an NSG view."""
    vnet = view['vnet_prefixes']
    out = ['table bridge %s' % table, 'delete table bridge %s' % table, 'table bridge %s {' % table]
    out.append('  set udpflows { type ipv4_addr . inet_service . ipv4_addr . inet_service; flags dynamic,timeout; timeout 180s; size 262144; }')
    outbound = ['  chain outbound {']
    inbound = ['  chain inbound {']
    chains = []
    if view.get('subnet'):
        chains += _chain('subnet_out', view['subnet']['rules'], 'Outbound', vnet, 'subnet-out')
        chains += _chain('subnet_in', view['subnet']['rules'], 'Inbound', vnet, 'subnet-in')
    for index, (nsg_id, entry) in enumerate(sorted(view['nic'].items())):
        if not entry['ips']:
            continue
        out.append('  set nic%d { type ipv4_addr; flags interval; auto-merge; elements = { %s } }' % (index, ', '.join(entry['ips'])))
        chains += ['  # %s' % nsg_id.replace('\n', ' ')]
        chains += _chain('nic%d_out' % index, entry['rules'], 'Outbound', vnet, 'nic-out')
        chains += _chain('nic%d_in' % index, entry['rules'], 'Inbound', vnet, 'nic-in')
        outbound.append('    ip saddr @nic%d jump nic%d_out' % (index, index))
    if view.get('subnet'):
        outbound.append('    ip saddr %s jump subnet_out' % view['subnet_prefix'])
        not_gateway = ' ip daddr != %s' % view['gateway'] if view.get('gateway') else ''
        inbound.append('    ip daddr %s%s jump subnet_in' % (view['subnet_prefix'], not_gateway))
    for index, (nsg_id, entry) in enumerate(sorted(view['nic'].items())):
        if entry['ips']:
            inbound.append('    ip daddr @nic%d jump nic%d_in' % (index, index))
    outbound.append('  }')
    inbound.append('  }')
    out += chains + outbound + inbound
    out += [
        '  chain forward {',
        '    type filter hook forward priority 0; policy accept;',
        '    ether type != ip accept',
        '    meta l4proto udp ip saddr . udp sport . ip daddr . udp dport @udpflows accept',
        '    meta l4proto tcp tcp flags & (syn | ack) != syn accept',
        '    icmp type { echo-reply, destination-unreachable, time-exceeded, parameter-problem } accept',
        '    jump outbound',
        '    jump inbound',
        '    meta l4proto udp update @udpflows { ip daddr . udp dport . ip saddr . udp sport }',
        '    accept',
        '  }',
        '}',
    ]
    return '\n'.join(out) + '\n'
