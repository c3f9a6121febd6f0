# -*- coding: utf-8 -*-
# Copyright (c) 2026 aks.tunnel contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""What the data plane of one lab consists of: namespaces, addresses, which node lives where.

Pure computation (JSON-friendly dict) from a validated scenario and its topology; `netns.build` makes it real.

Layout (all inside namespaces named `<prefix>-...`; the root namespace only gets blackhole routes):

    node ns  eth0 10.240.0.N/16 --veth-- [ bridge ns: br0, NSG rules in `table bridge aksnsg` ] --veth-- lan0 10.240.0.1
                                                                                                  router ns (egress firewall,
                                                                                                  SNAT to the LB outbound IP)
                                                                                                  wan0 198.51.100.1/24
                                                                                                     |
                                                                                 api ns eth0 198.51.100.100 (443/9000/1194)

Scale mode: with more than `dataplane.share_above` nodes (default 64), healthy nodes that host no tunnel pod
share one namespace per pool (all their IPs on one eth0, one listening kubelet socket); every probe still
crosses the bridge and its NSG rules.
"""

from __future__ import annotations

import ipaddress
import secrets
import subprocess

from ..topology import DEFAULT_KUBERNETES_VERSION

# The API server's "public" side uses TEST-NET-2. The machine itself reaches its package registries and
# DNS through TEST-NET-1/-3 and 10.255.255.53 here, so the lab must never claim (or blackhole) those;
# netns.build refuses any lab prefix that covers an address the host needs (see host_critical_addresses).
PUBLIC_NET = '198.51.100.0/24'
ROUTER_WAN_IP = '198.51.100.1'
API_IP = '198.51.100.100'
SHARE_ABOVE_DEFAULT = 64


def new_prefix(existing=()):
    """A fresh lab prefix `akl<4 hex>` not used by any existing namespace."""
    taken = set(existing)
    try:
        out = subprocess.run(['ip', 'netns', 'list'], capture_output=True, text=True, check=False).stdout
        taken.update(line.split()[0].split('-')[0] for line in out.splitlines() if line.strip())
    except OSError:
        pass
    while True:
        prefix = 'akl' + secrets.token_hex(2)
        if prefix not in taken:
            return prefix


def _mac(prefix, index):
    tag = int(prefix[3:7], 16)
    return '02:4c:%02x:%02x:%02x:%02x' % (tag >> 8, tag & 0xff, (index >> 8) & 0xff, index & 0xff)


def make_plan(scenario, topology, prefix, tunnel_nodes):
    """Return the plan dict (see module doc). `tunnel_nodes`: names of nodes hosting tunnel pods."""
    faults = scenario['faults']
    subnet = ipaddress.ip_network(topology['vnet']['subnet_prefix'])
    vnet = ipaddress.ip_network(topology['cluster']['vnet_prefix'])
    gateway = str(next(subnet.hosts()))
    plain = set(faults['kubelet_plain_http'])
    down = set(faults['kubelet_down'])
    special = set(tunnel_nodes) | plain | down | set(faults['cannot_report'])
    special.update(e['node'] for e in faults['ufw'])
    special.update(e['node'] for e in faults['iptables'])
    special.update(e['node'] for e in faults.get('nft', []) + faults.get('inspection_fails', []))
    dataplane = scenario.get('dataplane', {})
    share_above = dataplane.get('share_above', SHARE_ABOVE_DEFAULT)
    sharing = len(topology['nodes']) > share_above

    namespaces = []
    nodes = {}
    shared = {}
    for node in topology['nodes']:
        mode = 'http' if node['name'] in plain else 'down' if node['name'] in down else 'tls'
        if sharing and node['name'] not in special:
            entry = shared.get(node['pool'])
            if entry is None:
                entry = {'name': '%s-s%d' % (prefix, len(shared)), 'kind': 'shared', 'port': 's%d' % len(shared),
                         'ips': [], 'nodes': [], 'kubelet': 'tls'}
                shared[node['pool']] = entry
                namespaces.append(entry)
        else:
            index = len([n for n in namespaces if n['kind'] == 'node'])
            entry = {'name': '%s-n%d' % (prefix, index), 'kind': 'node', 'port': 'n%d' % index, 'ips': [], 'nodes': [], 'kubelet': mode}
            namespaces.append(entry)
        entry['ips'].append(node['ip'])
        entry['nodes'].append(node['name'])
        nodes[node['name']] = {'ip': node['ip'], 'ns': entry['name'], 'short': node['short'], 'pool': node['pool'],
                               'kubelet': mode, 'tunnel': node['name'] in tunnel_nodes, 'vm_id': node['vm_id']}
    for index, entry in enumerate(namespaces):
        entry['mac'] = _mac(prefix, index + 16)
    return {
        'prefix': prefix,
        'metric': 100000 + int(prefix[3:7], 16),
        'subnet': str(subnet), 'vnet': str(vnet), 'prefixlen': subnet.prefixlen, 'gateway': gateway,
        'public_net': PUBLIC_NET, 'router_wan_ip': ROUTER_WAN_IP, 'api_ip': API_IP,
        'snat_ips': ['198.51.100.%d' % (10 + i) for i in range(int(scenario['snat'].get('outbound_ips', 1)))],
        'fqdn': topology['cluster']['fqdn'],
        # A private cluster (issue 16): its API server is the private endpoint IP in the node subnet, on the router's LAN side
        # (DNAT to the API server namespace); nodes resolve the private FQDN only when the private DNS zone is linked.
        'private': bool(topology['cluster'].get('private')),
        'private_fqdn': topology['cluster'].get('private_fqdn'),
        'private_endpoint_ip': topology['cluster'].get('private_endpoint_ip'),
        'private_dns_linked': not faults.get('private_dns_unlinked'),
        'bridge_ns': prefix + '-br', 'router_ns': prefix + '-rt', 'api_ns': prefix + '-api',
        'bridge_router_port': 'rt0',
        'namespaces': namespaces,
        'nodes': nodes,
        'tunnel_nodes': list(tunnel_nodes),
        'tunnel': scenario['cluster']['tunnel'],
        'egress_blocked': list(faults['egress_blocked']),
        'alpn_stripped': bool(faults['alpn_stripped']),
        'cannot_report': list(faults['cannot_report']),
        'ufw': list(faults['ufw']),
        'iptables': list(faults['iptables']),
        'nft': list(faults.get('nft', [])),
        # {node: [tool, ...]}: the tools that fail in that node's Run Commands (executor.py)
        'inspection_fails': dict((e['node'], sorted(set(f['tool'] for f in faults['inspection_fails'] if f['node'] == e['node'])))
                                 for e in faults.get('inspection_fails', [])),
        'sharing': sharing,
        # The AKS node firewall every node namespace starts with (baseline.py); a scenario opts out only with a reason.
        'baseline_firewall': bool(dataplane.get('baseline_firewall', True)),
        'kubernetes_version': scenario['cluster'].get('kubernetes_version') or DEFAULT_KUBERNETES_VERSION,
        # Only the prefixes that really get addresses inside lab namespaces; never the whole VNet
        # address space (10.240.0.0/12 covers 10.255.255.53, this machine's DNS server).
        'blackholes': sorted({str(subnet), PUBLIC_NET}),
        'proxy_port': 8443,
    }


def all_namespaces(plan):
    return [plan['bridge_ns'], plan['router_ns'], plan['api_ns']] + [ns['name'] for ns in plan['namespaces']]
