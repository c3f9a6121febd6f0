# -*- coding: utf-8 -*-
# Copyright (c) 2026 aks.tunnel contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The firewall every lab node starts with: what an idle AKS node (Ubuntu 22.04 image, kube-proxy in iptables mode)
carries before anybody touches it, so every diagnosis and every repair is judged against a real-looking node.

Where each part comes from (the rules are written as `iptables-save` prints them):

* kube-proxy's chains (filter: KUBE-PROXY-FIREWALL, KUBE-NODEPORTS, KUBE-EXTERNAL-SERVICES, KUBE-SERVICES,
  KUBE-FORWARD; nat: KUBE-SERVICES, KUBE-NODEPORTS, KUBE-POSTROUTING, KUBE-MARK-MASQ and the `default/kubernetes`
  service; the KUBE-PROXY-CANARY chains): kubernetes/kubernetes pkg/proxy/iptables/proxier.go (1.27+ layout), as
  nodes print them: `iptables -L` of a kubeadm 1.28+ node in github.com/inquisitivefrog/kubernetes
  control-panel/kubeadm/README.kubeadm.cluster_modified_network.txt, an AKS node's INPUT/FORWARD/OUTPUT in
  Azure/AKS#2225 and Azure/azure-container-networking#344 (tests/unit/plugins/module_utils/fixtures/firewall_real/).
  The service chain names are kube-proxy's hashes: KUBE-SVC-NPX46M4PTMTKRN6Y = base32(sha256("default/kubernetes:https"
  + "tcp"))[:16], the endpoint chain likewise with the endpoint appended.
* KUBE-FIREWALL: kubelets before 1.28 create it with the `mark 0x8000/0x8000` DROP and the localnet DROP (and nat
  KUBE-MARK-DROP); from 1.28 on the kubelet no longer creates them (KEP-3178, kubernetes/enhancements
  keps/sig-network/3178-iptables-cleanup) and kube-proxy keeps only the localnet rule in its own KUBE-FIREWALL.
  Both forms as in imixs/imixs-cloud's `iptables -L` (kubelet < 1.28) and the kubeadm 1.28+ listing above.
  The version is the scenario's `cluster.kubernetes_version` (the nodes' kubeletVersion in the lab).
* KUBE-KUBELET-CANARY in mangle, nat and filter: the kubelet's iptables canary (pkg/kubelet/kubelet_network_linux.go).
* Azure wireserver, FORWARD: `-d 168.63.129.16 -p tcp --dport 80 -j DROP` and `--dport 32526 -j DROP` so pods cannot
  reach the host agent plugin: Azure/AgentBaker parts/linux/cloud-init/artifacts/block_wireserver.sh (PR 375 for 80,
  PR 4470 for 32526). It inserts (-I) as the kubelet's ExecStartPre; kube-proxy's jumps come first as in the AKS paste.
* Azure wireserver, OUTPUT of the security table: the Linux guest agent's three rules (DNS accepted, root accepted,
  any other new TCP dropped): Azure/WALinuxAgent azurelinuxagent/ga/firewall_manager.py (`IpTables`), seen on AKS
  nodes in Azure/WALinuxAgent#3492 and Azure/custom-script-extension-linux#185.

None of these rules can block a TCP SYN from another node to the kubelet's 10250: the jumps lead to chains that are
empty on an idle node or match other destinations, the mark DROP needs a mark a SYN from the wire never carries, the
localnet DROP only matches 127.0.0.0/8 destinations. The repairs must leave every one of them in place.
"""

from __future__ import annotations

import base64
import hashlib
import re

SERVICE_CIDR_KUBERNETES_IP = '10.0.0.1'  # AKS default service CIDR 10.0.0.0/16: the `kubernetes` service's cluster IP
WIRESERVER = '168.63.129.16'
KUBELET_FIREWALL_REMOVED_IN = (1, 28)

_MARK_DROP = ('-A KUBE-FIREWALL -m comment --comment "kubernetes firewall for dropping marked packets" '
              '-m mark --mark 0x8000/0x8000 -j DROP')
_LOCALNET_DROP = ('-A KUBE-FIREWALL ! -s 127.0.0.0/8 -d 127.0.0.0/8 -m comment --comment "block incoming localnet connections" '
                  '-m conntrack ! --ctstate RELATED,ESTABLISHED,DNAT -j DROP')


def kubelet_has_own_firewall(kubernetes_version):
    """True when the kubelet of this version still creates KUBE-FIREWALL with the mark DROP (before 1.28)."""
    match = re.match(r'^v?(\d+)\.(\d+)', str(kubernetes_version or ''))
    if not match:
        return False
    return (int(match.group(1)), int(match.group(2))) < KUBELET_FIREWALL_REMOVED_IN


def tables(kubernetes_version, api_ip):
    """{table: (chains, rules)} of the baseline, in `iptables-save` order (rules as `-A CHAIN ...`)."""
    old_kubelet = kubelet_has_own_firewall(kubernetes_version)
    svc = 'KUBE-SVC-NPX46M4PTMTKRN6Y'
    sep = _endpoint_chain('default/kubernetes:https', 'tcp', '%s:443' % api_ip)
    new_lb = '-m conntrack --ctstate NEW -m comment --comment "kubernetes load balancer firewall" -j KUBE-PROXY-FIREWALL'
    filter_rules = [
        '-A INPUT ' + new_lb,
        '-A INPUT -m comment --comment "kubernetes health check service ports" -j KUBE-NODEPORTS',
        '-A INPUT -m conntrack --ctstate NEW -m comment --comment "kubernetes externally-visible service portals" -j KUBE-EXTERNAL-SERVICES',
        '-A INPUT -j KUBE-FIREWALL',
        '-A FORWARD ' + new_lb,
        '-A FORWARD -m comment --comment "kubernetes forwarding rules" -j KUBE-FORWARD',
        '-A FORWARD -m conntrack --ctstate NEW -m comment --comment "kubernetes service portals" -j KUBE-SERVICES',
        '-A FORWARD -m conntrack --ctstate NEW -m comment --comment "kubernetes externally-visible service portals" -j KUBE-EXTERNAL-SERVICES',
        '-A FORWARD -d %s/32 -p tcp -m tcp --dport 32526 -j DROP' % WIRESERVER,
        '-A FORWARD -d %s/32 -p tcp -m tcp --dport 80 -j DROP' % WIRESERVER,
        '-A OUTPUT ' + new_lb,
        '-A OUTPUT -m conntrack --ctstate NEW -m comment --comment "kubernetes service portals" -j KUBE-SERVICES',
        '-A OUTPUT -j KUBE-FIREWALL',
    ]
    filter_rules += ([_MARK_DROP] if old_kubelet else []) + [_LOCALNET_DROP]
    filter_rules += [
        '-A KUBE-FORWARD -m conntrack --ctstate INVALID -j DROP',
        '-A KUBE-FORWARD -m comment --comment "kubernetes forwarding rules" -m mark --mark 0x4000/0x4000 -j ACCEPT',
        '-A KUBE-FORWARD -m comment --comment "kubernetes forwarding conntrack rule" -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT',
    ]
    filter_chains = ['KUBE-EXTERNAL-SERVICES', 'KUBE-FIREWALL', 'KUBE-FORWARD', 'KUBE-KUBELET-CANARY', 'KUBE-NODEPORTS',
                     'KUBE-PROXY-CANARY', 'KUBE-PROXY-FIREWALL', 'KUBE-SERVICES']
    nat_chains = ['KUBE-KUBELET-CANARY'] + (['KUBE-MARK-DROP'] if old_kubelet else []) + [
        'KUBE-MARK-MASQ', 'KUBE-NODEPORTS', 'KUBE-POSTROUTING', 'KUBE-PROXY-CANARY', sep, 'KUBE-SERVICES', svc]
    nat_rules = [
        '-A PREROUTING -m comment --comment "kubernetes service portals" -j KUBE-SERVICES',
        '-A OUTPUT -m comment --comment "kubernetes service portals" -j KUBE-SERVICES',
        '-A POSTROUTING -m comment --comment "kubernetes postrouting rules" -j KUBE-POSTROUTING',
    ]
    nat_rules += ['-A KUBE-MARK-DROP -j MARK --set-xmark 0x8000/0x8000'] if old_kubelet else []
    nat_rules += [
        '-A KUBE-MARK-MASQ -j MARK --set-xmark 0x4000/0x4000',
        '-A KUBE-POSTROUTING -m mark ! --mark 0x4000/0x4000 -j RETURN',
        '-A KUBE-POSTROUTING -j MARK --set-xmark 0x4000/0x0',
        '-A KUBE-POSTROUTING -m comment --comment "kubernetes service traffic requiring SNAT" -j MASQUERADE --random-fully',
        '-A %s -s %s/32 -m comment --comment "default/kubernetes:https" -j KUBE-MARK-MASQ' % (sep, api_ip),
        '-A %s -p tcp -m comment --comment "default/kubernetes:https" -m tcp -j DNAT --to-destination %s:443' % (sep, api_ip),
        '-A KUBE-SERVICES -d %s/32 -p tcp -m comment --comment "default/kubernetes:https cluster IP" -m tcp --dport 443 -j %s'
        % (SERVICE_CIDR_KUBERNETES_IP, svc),
        '-A KUBE-SERVICES -m comment --comment "kubernetes service nodeports; NOTE: this must be the last rule in this chain" '
        '-m addrtype --dst-type LOCAL -j KUBE-NODEPORTS',
        '-A %s -m comment --comment "default/kubernetes:https -> %s:443" -j %s' % (svc, api_ip, sep),
    ]
    security_rules = [
        '-A OUTPUT -d %s/32 -p tcp -m tcp --dport 53 -j ACCEPT' % WIRESERVER,
        '-A OUTPUT -d %s/32 -p tcp -m owner --uid-owner 0 -j ACCEPT' % WIRESERVER,
        '-A OUTPUT -d %s/32 -p tcp -m conntrack --ctstate INVALID,NEW -j DROP' % WIRESERVER,
    ]
    return {
        'mangle': (['KUBE-KUBELET-CANARY', 'KUBE-PROXY-CANARY'], []),
        'filter': (filter_chains, filter_rules),
        'nat': (nat_chains, nat_rules),
        'security': ([], security_rules),
    }


def _endpoint_chain(service_port, protocol, endpoint):
    """kube-proxy's servicePortEndpointChainName: KUBE-SEP- + base32(sha256(name + protocol + endpoint))[:16]."""
    digest = hashlib.sha256((service_port + protocol + endpoint).encode('ascii')).digest()
    return 'KUBE-SEP-' + base64.b32encode(digest).decode('ascii')[:16]


def restore_text(kubernetes_version, api_ip):
    """Input for `iptables-restore --noflush`: adds the chains and rules, keeps whatever is already there."""
    lines = []
    for table, (chains, rules) in tables(kubernetes_version, api_ip).items():
        lines.append('*' + table)
        lines += [':%s - [0:0]' % chain for chain in chains]
        lines += rules
        lines.append('COMMIT')
    return '\n'.join(lines) + '\n'


def rule_lines(kubernetes_version, api_ip):
    """[(table, '-A ...')] of every baseline rule, for tests that prove a repair left them all in place."""
    return [(table, rule) for table, (_chains, rules) in tables(kubernetes_version, api_ip).items() for rule in rules]


def chain_lines(kubernetes_version, api_ip):
    """[(table, chain)] of every chain the baseline creates."""
    return [(table, chain) for table, (chains, _rules) in tables(kubernetes_version, api_ip).items() for chain in chains]
