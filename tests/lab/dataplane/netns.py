# -*- coding: utf-8 -*-
# Copyright (c) 2026 aks.tunnel contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Build and tear down the namespaces, links, addresses, routes and firewall rules of a lab plan.

Safety: the root namespace only ever gets `blackhole` routes (added first, removed last) for the lab's
subnets, so no lab-addressed packet can leave the machine; every address lives inside a lab namespace.
Everything is recorded in the lab record before it is created (see record.py).
"""

from __future__ import annotations

import ipaddress
import os
import re
import shlex
import shutil
import signal
import socket
import time

from . import baseline
from .plan import all_namespaces
from .sh import CommandError, ip_batch, nsexec, process_start_time, run

ETC_NETNS = '/etc/netns'
ROUTER_TABLE = 'aksrouter'


def _sysctl(netns, settings):
    args = ['sysctl', '-q', '-w'] + ['%s=%s' % kv for kv in settings.items()]
    run(nsexec(netns, args))


def _hosts_file(plan, names):
    lines = ['127.0.0.1 localhost']
    if not plan.get('private'):
        lines.append('%s %s' % (plan['api_ip'], plan['fqdn']))
    elif plan.get('private_dns_linked', True):  # the private DNS zone linked to the node VNet: its A record
        lines.append('%s %s' % (plan['private_endpoint_ip'], plan['private_fqdn']))
    for name in names[:1]:
        lines.append('%s %s' % (plan['nodes'][name]['ip'], name))
    return '\n'.join(lines) + '\n'


def _etc_netns(plan, record, entry):
    """/etc/netns/<ns>/: hosts (API FQDN), its own ufw configuration and /etc/default (ufw reads it)."""
    path = os.path.join(ETC_NETNS, entry['name'])
    record.add('etc_netns', path)
    os.makedirs(path, exist_ok=True)
    with open(os.path.join(path, 'hosts'), 'w', encoding='ascii') as handle:
        handle.write(_hosts_file(plan, entry['nodes']))
    if plan.get('private'):
        # Any other name fails at once inside the namespace (nothing listens on its own loopback port 53), as the private
        # FQDN does on Azure DNS without the zone link; no lookup leaves the lab.
        with open(os.path.join(path, 'resolv.conf'), 'w', encoding='ascii') as handle:
            handle.write('nameserver 127.0.0.1\noptions timeout:1 attempts:1\n')
    if os.path.isdir('/etc/ufw'):  # shared namespaces too: a script there must never reach the host's /etc/ufw
        shutil.copytree('/etc/ufw', os.path.join(path, 'ufw'), symlinks=True, dirs_exist_ok=True)
        conf = os.path.join(path, 'ufw', 'ufw.conf')
        if os.path.exists(conf):
            with open(conf, encoding='utf-8') as handle:
                text = handle.read()
            with open(conf, 'w', encoding='utf-8') as handle:
                handle.write('\n'.join('ENABLED=no' if line.startswith('ENABLED=') else line for line in text.splitlines()) + '\n')
        if os.path.isdir('/etc/default'):
            shutil.copytree('/etc/default', os.path.join(path, 'default'), symlinks=True, dirs_exist_ok=True)


def router_ruleset(plan):
    """Egress firewall, SNAT to the load balancer's outbound IP, and the optional TLS-inspecting redirect."""
    api = plan['api_ip']
    lines = ['table ip %s' % ROUTER_TABLE, 'delete table ip %s' % ROUTER_TABLE, 'table ip %s {' % ROUTER_TABLE]
    lines.append('  chain egress_pre { type filter hook prerouting priority -150; policy accept;')
    for block in plan['egress_blocked']:
        if block['action'] == 'drop':
            lines.append('    iifname "lan0" %s dport %d counter drop comment "egress_blocked"' % (block['protocol'], block['port']))
    for block in plan.get('firewall_drops') or []:  # the emulated Azure Firewall (firewall.py)
        lines.append('    iifname "lan0" ip daddr %s %s dport %d counter drop comment "azfw:%s"' % (api, block['protocol'], block['port'], block['rule']))
    lines.append('  }')
    lines.append('  chain egress_fwd { type filter hook forward priority 0; policy accept;')
    for block in plan['egress_blocked']:
        if block['action'] == 'reject':
            reject = 'reject with tcp reset' if block['protocol'] == 'tcp' else 'reject'
            lines.append('    iifname "lan0" %s dport %d counter %s comment "egress_blocked"' % (block['protocol'], block['port'], reject))
    lines.append('  }')
    lines.append('  chain pre_nat { type nat hook prerouting priority dstnat; policy accept;')
    if plan.get('private'):  # the kube-apiserver private endpoint: its IP in the node subnet leads to the API server's 443
        lines.append('    iifname "lan0" ip daddr %s tcp dport 443 counter dnat to %s:443 comment "private_endpoint"'
                     % (plan['private_endpoint_ip'], api))
    if plan['alpn_stripped']:
        lines.append('    iifname "lan0" ip daddr %s tcp dport 443 counter redirect to :%d comment "tls_inspection"' % (api, plan['proxy_port']))
    lines.append('  }')
    lines.append('  chain post_nat { type nat hook postrouting priority srcnat; policy accept;')
    lines.append('    oifname "wan0" ip saddr %s counter snat to %s comment "lb_outbound_snat"' % (plan['vnet'], plan['snat_ips'][0]))
    lines.append('  }')
    lines.append('}')
    return '\n'.join(lines) + '\n'


def apply_router(plan):
    run(nsexec(plan['router_ns'], ['nft', '-f', '-']), input_text=router_ruleset(plan))


def apply_nsg(plan, text):
    run(nsexec(plan['bridge_ns'], ['nft', '-f', '-']), input_text=text)


def host_critical_addresses():
    """Addresses the host itself needs: its own, its gateways, its DNS servers, its package registries."""
    addresses = set()
    for args in (['ip', '-4', '-o', 'addr', 'show'], ['ip', '-4', 'route', 'show', 'default']):
        out = run(args, check=False).stdout
        addresses.update(re.findall(r'(?:inet|via) (\d+\.\d+\.\d+\.\d+)', out))
    try:
        with open('/etc/resolv.conf', encoding='utf-8') as handle:
            addresses.update(re.findall(r'^\s*nameserver\s+(\d+\.\d+\.\d+\.\d+)', handle.read(), re.MULTILINE))
    except OSError:
        pass
    for host in ('pypi.org', 'files.pythonhosted.org', 'deb.debian.org'):
        try:
            addresses.update(info[4][0] for info in socket.getaddrinfo(host, 443, socket.AF_INET, socket.SOCK_STREAM))
        except OSError:
            pass
    return {a for a in addresses if not a.startswith('127.')}


def check_blackholes_are_safe(prefixes):
    """Refuse to blackhole any prefix that would cut the host off its network, DNS or registries."""
    critical = host_critical_addresses()
    for prefix in prefixes:
        network = ipaddress.ip_network(prefix)
        hit = sorted(a for a in critical if ipaddress.ip_address(a) in network)
        if hit:
            raise CommandError('refusing to add blackhole %s: it covers %s, which this machine needs (its own address, '
                               'gateway, DNS server or package registry); choose other lab prefixes' % (prefix, ', '.join(hit)))


def build(plan, record, nsg_text, log=print):
    """Create the whole network of `plan`; `nsg_text` is the initial NSG ruleset for the bridge."""
    started = time.monotonic()
    # 1. Blackholes first: from now on nothing addressed to the lab can leave the host.
    check_blackholes_are_safe(plan['blackholes'])
    for prefix in plan['blackholes']:
        route = {'dst': prefix, 'metric': plan['metric']}
        record.add('routes', route)
        proc = run(['ip', 'route', 'add', 'blackhole', prefix, 'metric', str(plan['metric'])], check=False)
        if proc.returncode != 0 and 'File exists' not in proc.stderr:
            raise CommandError('cannot add the safety route blackhole %s: %s' % (prefix, proc.stderr.strip()))
    # 2. Namespaces.
    names = all_namespaces(plan)
    for name in names:
        record.add('netns', name)
    ip_batch(['netns add %s' % name for name in names])
    for entry in plan['namespaces']:
        _etc_netns(plan, record, entry)
    # 3. Bridge with the NSG rules in place before any port joins it.
    br = plan['bridge_ns']
    ip_batch(['link set lo up', 'link add br0 type bridge', 'link set br0 up'], netns=br)
    apply_nsg(plan, nsg_text)
    lines = []
    for entry in plan['namespaces']:
        lines += ['link add %s type veth peer name eth0 netns %s' % (entry['port'], entry['name']),
                  'link set %s master br0 up' % entry['port']]
    lines += ['link add %s type veth peer name lan0 netns %s' % (plan['bridge_router_port'], plan['router_ns']),
              'link set %s master br0 up' % plan['bridge_router_port']]
    ip_batch(lines, netns=br)
    # 4. Nodes.
    for entry in plan['namespaces']:
        lines = ['link set lo up', 'link set eth0 address %s' % entry['mac'], 'link set eth0 up']
        lines += ['addr add %s/%d dev eth0' % (ip, plan['prefixlen']) for ip in entry['ips']]
        lines.append('route add default via %s' % plan['gateway'])
        ip_batch(lines, netns=entry['name'])
        settings = {'net.ipv6.conf.all.disable_ipv6': 1, 'net.ipv6.conf.default.disable_ipv6': 1}
        if len(entry['ips']) > 1:
            # a shared namespace stands in for up to 2500 kubelets: every tunnel node's probe connects to each of
            # them within seconds (one python3 process per probe), so its one listener must queue them all (the
            # services process drains the queue slower than 10 probes connect; a full queue drops SYNs = timeouts)
            settings['net.core.somaxconn'] = 65535
            settings['net.ipv4.tcp_max_syn_backlog'] = 65535
        _sysctl(entry['name'], settings)
    # 5. Router and API server.
    rt, api = plan['router_ns'], plan['api_ns']
    lines = ['link set lo up', 'link add wan0 type veth peer name eth0 netns %s' % api,
             'addr add %s/%d dev lan0' % (plan['gateway'], plan['prefixlen']), 'link set lan0 up',
             *(['addr add %s/%d dev lan0' % (plan['private_endpoint_ip'], plan['prefixlen'])] if plan.get('private') else []),
             'addr add %s/24 dev wan0' % plan['router_wan_ip']]
    lines += ['addr add %s/24 dev wan0' % ip for ip in plan['snat_ips']]
    lines.append('link set wan0 up')
    ip_batch(lines, netns=rt)
    ip_batch(['link set lo up', 'addr add %s/24 dev eth0' % plan['api_ip'], 'link set eth0 up',
              'route add default via %s' % plan['router_wan_ip']], netns=api)
    _sysctl(rt, {'net.ipv4.ip_forward': 1, 'net.ipv6.conf.all.disable_ipv6': 1, 'net.ipv6.conf.default.disable_ipv6': 1})
    _sysctl(api, {'net.ipv6.conf.all.disable_ipv6': 1, 'net.ipv6.conf.default.disable_ipv6': 1, 'net.core.somaxconn': 4096})
    _sysctl(br, {'net.ipv6.conf.all.disable_ipv6': 1, 'net.ipv6.conf.default.disable_ipv6': 1})
    apply_router(plan)
    # 6. Scale mode: static neighbour entries for shared IPs (the kernel's dynamic ARP table is limited host-wide).
    shared = [e for e in plan['namespaces'] if e['kind'] == 'shared']
    if shared:
        neigh = ['neigh replace %s lladdr %s dev eth0 nud permanent' % (ip, e['mac']) for e in shared for ip in e['ips']]
        for entry in plan['namespaces']:
            if entry['kind'] == 'node':
                ip_batch(neigh, netns=entry['name'])
        ip_batch([line.replace('dev eth0', 'dev lan0') for line in neigh], netns=rt)
    log('network: %d namespaces, %d node IPs in %.1fs' % (len(names), len(plan['nodes']), time.monotonic() - started))


def apply_baseline_firewall(plan, log=print):
    """The AKS node firewall (baseline.py) in every node namespace, shared ones too, before any fault is injected."""
    if not plan.get('baseline_firewall', True):
        log('baseline firewall: off (the scenario opts out)')
        return
    text = baseline.restore_text(plan.get('kubernetes_version'), plan['api_ip'])
    for entry in plan['namespaces']:
        run(nsexec(entry['name'], ['iptables-restore', '--noflush']), input_text=text)
    log('baseline firewall: kube-proxy, KUBE-FIREWALL (kubernetes %s) and wireserver rules on %d namespaces'
        % (plan.get('kubernetes_version'), len(plan['namespaces'])))


def apply_node_faults(plan, log=print):
    """UFW and iptables faults, run inside each node's namespace with its own /etc/ufw."""
    for entry in plan['ufw']:
        ns = plan['nodes'][entry['node']]['ns']
        # each item is the argument list of one ufw command: 22, '80/tcp' or 'from 10.240.0.0/16 to any port 10250 proto tcp'
        for port in entry.get('allow') or []:
            run(nsexec(ns, ['ufw', 'allow'] + shlex.split(str(port))))
        for port in entry.get('deny') or []:
            run(nsexec(ns, ['ufw', 'deny'] + shlex.split(str(port))))
        if entry.get('enabled', True):
            run(nsexec(ns, ['ufw', '--force', 'enable']))
        log('fault: ufw on %s (enabled=%s allow=%s)' % (entry['node'], entry.get('enabled', True), entry.get('allow') or []))
    for entry in plan['iptables']:
        ns = plan['nodes'][entry['node']]['ns']
        for rule in entry['rules']:
            run(nsexec(ns, ['iptables'] + shlex.split(rule)))
        log('fault: iptables on %s: %s' % (entry['node'], '; '.join(entry['rules'])))
    for entry in plan.get('nft', []):
        # a native nftables table (not iptables-nft's), loaded as an admin or a hardening tool would
        run(nsexec(plan['nodes'][entry['node']]['ns'], ['nft', '-f', '-']), input_text=entry['ruleset'])
        log('fault: nft on %s: %s' % (entry['node'], ' '.join(entry['ruleset'].split())))


def _kill(pids, sig):
    for pid in pids:
        try:
            os.kill(pid, sig)
        except (ProcessLookupError, PermissionError):
            pass


def _wait_gone(pids, seconds):
    deadline = time.monotonic() + seconds
    alive = list(pids)
    while alive and time.monotonic() < deadline:
        alive = [p for p in alive if os.path.exists('/proc/%d' % p) and not _zombie(p)]
        if alive:
            time.sleep(0.05)
    return alive


def _zombie(pid):
    try:
        with open('/proc/%d/stat' % pid, encoding='ascii', errors='replace') as handle:
            return handle.read().rsplit(')', 1)[1].split()[0] == 'Z'
    except OSError:
        return True


def stop_processes(record):
    """Stop the lab's daemons (only the recorded pids whose start time still matches)."""
    pids = []
    for entry in record.created('pids'):
        if process_start_time(entry['pid']) == entry['start_time']:
            pids.append(entry['pid'])
    _kill(pids, signal.SIGTERM)
    left = _wait_gone(pids, 5)
    _kill(left, signal.SIGKILL)
    _wait_gone(left, 5)
    return pids


def lab_namespaces(record):
    """Recorded namespaces plus any existing one with this lab's prefix (crash leftovers)."""
    names = list(record.created('netns'))
    prefix = record.get('prefix')
    if prefix:
        out = run(['ip', 'netns', 'list'], check=False).stdout
        for line in out.splitlines():
            name = line.split()[0] if line.strip() else ''
            if name.startswith(prefix + '-') and name not in names:
                names.append(name)
    return names


def destroy(record, log=print):
    """Undo everything the record lists; idempotent. Routes go last so lab addresses never leak."""
    stopped = stop_processes(record)
    names = lab_namespaces(record)
    for name in names:
        if not os.path.exists('/run/netns/%s' % name):
            continue
        inside = [int(p) for p in run(['ip', 'netns', 'pids', name], check=False).stdout.split() if p.isdigit()]
        _kill(inside, signal.SIGKILL)
        _wait_gone(inside, 3)
    for name in names:
        if os.path.exists('/run/netns/%s' % name):
            run(['ip', 'netns', 'delete', name], check=False)
    etc = list(record.created('etc_netns'))
    prefix = record.get('prefix')
    if prefix and os.path.isdir(ETC_NETNS):
        etc += [os.path.join(ETC_NETNS, n) for n in os.listdir(ETC_NETNS) if n.startswith(prefix + '-')]
    for path in set(etc):
        if os.path.basename(path).startswith('akl') and os.path.dirname(path) == ETC_NETNS:
            shutil.rmtree(path, ignore_errors=True)
    for route in record.created('routes'):
        run(['ip', 'route', 'del', 'blackhole', route['dst'], 'metric', str(route['metric'])], check=False)
    log('down: stopped %d processes, deleted %d namespaces, %d blackhole routes' % (len(stopped), len(names), len(record.created('routes'))))
