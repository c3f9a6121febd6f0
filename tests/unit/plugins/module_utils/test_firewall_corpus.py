# -*- coding: utf-8 -*-
# Copyright (c) 2026 aks.tunnel contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The firewall parsers on real output people posted publicly (issue 14).

Every fixture under ``fixtures/firewall_real`` names its source (issue or pull request URL) in its
header.  The expected verdicts below are decided from the tools' documented semantics (iptables(8),
iptables-extensions(8), nft(8), ufw(8)) for the packet the tunnel sends: a SYN from another node to
TCP 10250 on the node's address, arriving on its primary interface, carrying no mark.
"""

from __future__ import annotations

import os

import pytest

from ansible_collections.aks.tunnel.plugins.module_utils import _firewall_parsers as fw

HERE = os.path.join(os.path.dirname(__file__), 'fixtures', 'firewall_real')
POLICY_DROP = ['-P INPUT DROP']
# what the controller knows on an AKS node: the tunnel nodes' subnet, the node's address and primary interface
CONTEXT = fw.firewall_context(sources=['10.0.1.0/24'], node_ip='10.0.1.9', iface='eth0')


def fixture(name):
    with open(os.path.join(HERE, name), encoding='utf-8') as handle:
        return handle.read()


# (fixture, tool, expected blocked_by, expected conditional, expected rules, why - from the tool's semantics)
CORPUS = [
    ('iptables_L_kube_firewall_policy_drop_k8s83063.txt', 'iptables', 'iptables', False, POLICY_DROP,
     'KUBE-FIREWALL drops only marked packets and loopback-destined ones; the INPUT policy DROP decides'),
    ('iptables_L_console_prefixed_k8s83063.txt', 'iptables', 'iptables', False, POLICY_DROP,
     'the same listing read from the console: the timestamps are not part of it'),
    ('iptables_L_kube_worker_k8s61005.txt', 'iptables', None, False, [],
     'policy ACCEPT; the KUBE-* chains jumped to are not in the listing, so nothing drops'),
    ('iptables_L_kilo_ipencap_kilo247.txt', 'iptables', None, False, [],
     'the only DROP matches protocol ipencap (IP-in-IP), never TCP'),
    ('iptables_vL_firewalld_kube_router602.txt', 'iptables', None, False, [],
     'the DROP matches ctstate INVALID only; a SYN is NEW'),
    ('iptables_L_csf_policy_drop_warning_csf1.txt', 'iptables', 'iptables', False, POLICY_DROP,
     'policy DROP and no rule accepts TCP 10250 (smtp/http/https only); the accept-all rows of a listing without -v'
     ' stay unresolved accepts (their interface is hidden)'),
    ('iptables_L_proxmox_docker_proxmox11.txt', 'iptables', None, False, [],
     'INPUT policy ACCEPT; PVEFW-INPUT is not in the listing'),
    ('iptables_save_policy_drop_algo296.txt', 'iptables', 'iptables', False, POLICY_DROP,
     ':INPUT DROP in *filter; the only TCP accepts are 22 and 8080,8118 to 172.16.0.1'),
    ('iptables_save_empty_filter_warning_devsec274.txt', 'iptables', None, False, [],
     'an empty filter table with ACCEPT policies; the warning line is a comment'),
    ('iptables_legacy_save_nat_and_filter_devsec274.txt', 'iptables', None, False, [],
     'nat and filter tables without rules'),
    ('iptables_save_ipset_drop_firewalld574.txt', 'iptables', 'iptables', True, ['-A INPUT -m set --match-set test src -j DROP'],
     'the DROP matches the ipset "test": it depends on the set members (not listed)'),
    ('iptables_S_legacy_kube_calico_microk8s2180.txt', 'iptables', None, False, [],
     'ACCEPT policies and chain declarations only'),
    ('iptables_S_ipset_logdrop_warning_ipsetcountry18.txt', 'iptables', 'iptables', True, ['-A LOGIPS -j DROP'],
     'LOGIPS drops everything but is reached only for sources in the country ipsets'),
    ('iptables_S_cilium_nixos_cilium31565.txt', 'iptables', None, False, [],
     'CILIUM_INPUT accepts marked proxy traffic only; KUBE-FIREWALL and nixos-fw are not in the excerpt'),
    ('iptables_save_c_cilium_input_cilium46062.txt', 'iptables', None, False, [],
     'INPUT holds ACCEPT rules only (the [packets:bytes] counters are not part of the rule)'),
    ('iptables_save_c_cali_input_calico3835.txt', 'iptables', None, False, [],
     'no INPUT rules in the excerpt; the cali-* chains are not on the path'),
    ('iptables_S_cali_input_felix1421.txt', 'iptables', None, False, [],
     'no INPUT rules in the excerpt'),
    ('iptables_L_aks_npm_wireserver_aks2225.txt', 'iptables', None, False, [],
     'INPUT policy ACCEPT; the wireserver DROP (168.63.129.16 port 80) is in FORWARD, not on the INPUT path'),
    ('iptables_L_azure_cni_kube_firewall_acn344.txt', 'iptables', None, False, [],
     'the only DROP is KUBE-FIREWALL\'s mark match: a SYN from another node carries no 0x8000 mark'),
    ('iptables_S_fedora_reject_k8s18802.txt', 'iptables', 'iptables', False, ['-A INPUT -j REJECT --reject-with icmp-host-prohibited'],
     'the catch-all REJECT is reached: the accepts before it are for established, ICMP, loopback and NEW port 22'),
    ('iptables_S_input_firewalld_zones_firewalld59.txt', 'iptables', 'iptables', True,
     ['-A INPUT -j REJECT --reject-with icmp-host-prohibited'],
     'the catch-all REJECT comes after jumps to firewalld zone chains `iptables -S INPUT` does not show: they may accept'),
    ('iptables_S_kube_firewall_docker_k8s43972.txt', 'iptables', None, False, [],
     'ACCEPT policies; INPUT only jumps to KUBE-FIREWALL, which has no rules here'),
    ('iptables_vL_kube_router_input_kube_router914.txt', 'iptables', None, False, [],
     'no INPUT chain in the listing (KUBE-ROUTER-INPUT only): nothing on the INPUT path drops'),
    ('nft_iptables_nft_nixos_nixpkgs81172.txt', 'nft', None, False, [],
     'policy accept; the accepts for 6600/22 do not cover 10250 and nixos-fw is not in the excerpt'),
    ('nft_iptables_nft_kube_router_k3s7219.txt', 'nft', None, False, [],
     'policy accept; the jumped-to chains are not in the excerpt'),
    ('nft_inet_policy_drop_icmp_opensnitch1423.txt', 'nft', 'nft', False,
     ['inet filter input: meta pkttype host limit rate 5/second burst 5 packets counter packets 0 bytes 0 reject with icmpx admin-prohibited',
      'inet filter input: policy drop'],
     'policy drop; "ip protocol icmp accept" matches ICMP only; the rate-limited reject may fire first'),
    ('nft_rhel8_reject_insights1812.txt', 'nft', 'nft', False,
     ['ip filter INPUT: counter packets 0 bytes 0 reject with icmp type host-prohibited'],
     'the catch-all reject ends INPUT; the only TCP accept is NEW to port 22'),
    ('nft_firewalld_filter_input_firewalld1474.txt', 'nft', 'nft', True, ['inet firewalld filter_INPUT: reject with icmpx admin-prohibited'],
     'firewalld\'s final reject comes after a jump to filter_INPUT_POLICIES, which the excerpt does not show (the zones may'
     ' accept 10250); "ct status dnat" never matches a SYN to the node\'s own address'),
    ('nft_kube_proxy_filter_input_talos10354.txt', 'nft', None, False, [],
     'kube-proxy nftables mode: only jumps (for NEW packets) to endpoint-check chains the excerpt does not show; policy accept'),
    ('nft_empty_tables_firewalld742.txt', 'nft', None, False, [],
     'every base chain is empty with policy accept'),
    ('ufw_status_plain_k3s1280.txt', 'ufw', None, False, [],
     'plain `ufw status` does not print the default policy: undecided, said in the reason'),
    ('ufw_verbose_node_subnet_hetzner226.txt', 'ufw', 'ufw', False, [],
     'default deny (incoming); 10250 is allowed only from 10.0.1.0/24 and 10.244.0.0/16, unknown sources are denied'),
    ('ufw_verbose_hosts_hetzner228.txt', 'ufw', 'ufw', False, [],
     'as above (the leading space before "Status:" is the poster\'s)'),
    ('ufw_numbered_range_kali92.txt', 'ufw', None, False, [],
     '`ufw status numbered` does not print the default policy: undecided, said in the reason'),
    ('ufw_numbered_log_konstruktoid79.txt', 'ufw', None, False, [],
     'one logged rule for 22/tcp from 127.0.0.1; the default policy is not printed'),
    ('ufw_status_loaded_ufw_testsuite_live.txt', 'ufw', None, False, [],
     'no rule covers 10250 for every source and the default policy is not printed: undecided'),
    ('ufw_status_reject_ufw_testsuite_live.txt', 'ufw', None, False, [],
     'the REJECT rules cover 113-115 only; the default policy is not printed: undecided'),
]


def test_every_fixture_is_in_the_table_and_names_its_source():
    listed = set(row[0] for row in CORPUS) | set(REFUSED)
    on_disk = set(os.listdir(HERE))
    assert on_disk == listed
    for name in on_disk:
        assert fixture(name).startswith(('# source: https://github.com/', "# source: ufw's own test suite, https://github.com/")), name


@pytest.mark.parametrize('name, tool, blocked_by, conditional, rules, why', CORPUS, ids=[row[0] for row in CORPUS])
def test_real_output_verdict(name, tool, blocked_by, conditional, rules, why):
    verdict = fw.decide_10250_block(**{tool: fixture(name)})
    assert (verdict['blocked_by'], verdict['conditional'], verdict['rules']) == (blocked_by, conditional, rules), why
    assert verdict['reason']


REFUSED = {
    'iptables_error_unknown_option_k8s61005.txt': 'iptables -L',
}


@pytest.mark.parametrize('name, expected_format', sorted(REFUSED.items()))
def test_output_that_is_no_listing_is_refused_naming_the_formats(name, expected_format):
    with pytest.raises(fw.FirewallParseError, match=expected_format.replace(' ', r'\s')):
        fw.analyze_iptables(fixture(name))


# ---------------------------------------------------------------- failure classes of issue 14, on the real outputs

@pytest.mark.parametrize('context', [None, CONTEXT], ids=['no-context', 'context'])
@pytest.mark.parametrize('name, policy', [
    ('iptables_L_kube_firewall_policy_drop_k8s83063.txt', 'DROP'),
    ('iptables_L_console_prefixed_k8s83063.txt', 'DROP'),
    ('iptables_L_azure_cni_kube_firewall_acn344.txt', 'ACCEPT'),
])
def test_kubelet_kube_firewall_never_blocks_a_syn(name, policy, context):
    """A SYN to the kubelet is never marked 0x8000 and is not sent to 127.0.0.0/8: the KUBE-FIREWALL DROPs are 'no'."""
    result = fw.analyze_iptables(fixture(name), context=context)
    assert result['blocking'] == [] and 'KUBE-FIREWALL' in result['reachable_chains']
    assert result['policy'] == policy and result['policy_blocks'] is (policy == 'DROP')
    for spec in fw.parse_iptables_any(fixture(name))['rules']['KUBE-FIREWALL']:
        assert fw.iptables_rule_match(spec, context=context)[0] == 'no', spec


def test_a_jump_to_a_chain_the_listing_does_not_show_leaves_the_later_reject_conditional():
    result = fw.analyze_iptables(fixture('iptables_S_input_firewalld_zones_firewalld59.txt'))
    (entry,) = result['blocking']
    assert entry['conditional'] is True and any('INPUT_ZONES' in reason for reason in entry['reasons'])


@pytest.mark.parametrize('context', [None, CONTEXT], ids=['no-context', 'context'])
def test_calico_cali_input_rules_do_not_make_the_node_suspicious(context):
    """cali-INPUT: the -i cali+ goto, the ipencap DROP and the marked ACCEPT never match a node's SYN on eth0."""
    result = fw.analyze_iptables(fixture('iptables_S_cali_input_felix1421.txt'), chain='cali-INPUT', context=context)
    assert result['blocking'] == [] and result['blocked'] == 'no'
    for spec in fw.parse_iptables_s(fixture('iptables_S_cali_input_felix1421.txt'))['rules']['cali-INPUT'][:3]:
        assert fw.iptables_rule_match(spec, context=context)[0] == 'no', spec


def test_iptables_save_keeps_only_the_filter_table_and_its_policies():
    parsed = fw.parse_iptables_s(fixture('iptables_save_policy_drop_algo296.txt'))
    assert parsed['format'] == 'iptables-save'
    assert parsed['policies'] == {'INPUT': 'DROP', 'FORWARD': 'DROP', 'OUTPUT': 'ACCEPT'}
    assert 'POSTROUTING' not in parsed['rules'] and len(parsed['rules']['INPUT']) == 10
    counters = fw.parse_iptables_s(fixture('iptables_save_c_cilium_input_cilium46062.txt'))['rules']['INPUT']
    assert counters[0].startswith('-A INPUT -s 192.168.100.8/29') and len(counters) == 6


def test_iptables_save_nat_chain_names_do_not_mix_with_filter_ones():
    # kube-proxy declares KUBE-SERVICES in both tables (kubernetes/kubernetes#61005 dump layout); only *filter decides
    dump = ('*nat\n:PREROUTING ACCEPT [0:0]\n:KUBE-SERVICES - [0:0]\n-A KUBE-SERVICES -p tcp -j DROP\nCOMMIT\n'
            '*filter\n:INPUT ACCEPT [0:0]\n:KUBE-SERVICES - [0:0]\n-A INPUT -j KUBE-SERVICES\nCOMMIT\n')
    assert fw.analyze_iptables(dump)['blocking'] == []


def test_iptables_save_without_a_filter_table_is_accepted_as_the_defaults():
    dump = fixture('iptables_legacy_save_nat_and_filter_devsec274.txt').split('*filter')[0]  # the nat table only
    result = fw.analyze_iptables(dump)
    assert result['blocked'] == 'no' and result['policy'] == 'ACCEPT'


@pytest.mark.parametrize('name, chain, count, spec_part', [
    ('iptables_L_csf_policy_drop_warning_csf1.txt', 'INPUT', 11, '--aks-unresolved'),
    ('iptables_vL_firewalld_kube_router602.txt', 'INPUT', 8, '-i lo'),
    ('iptables_L_kilo_ipencap_kilo247.txt', 'INPUT', 5, '-p ipencap'),
    ('iptables_L_kube_firewall_policy_drop_k8s83063.txt', 'KUBE-FIREWALL', 2, '--mark 0x8000/0x8000'),
    ('iptables_L_proxmox_docker_proxmox11.txt', 'FORWARD', 7, '--ctstate RELATED,ESTABLISHED'),
])
def test_iptables_list_rows_are_all_kept(name, chain, count, spec_part):
    """-L, -L -n, -v -L: every row becomes a rule (never silently dropped); hidden facts stay unresolved."""
    parsed = fw.parse_iptables_any(fixture(name))
    assert parsed['format'] == 'iptables-L'
    assert len(parsed['rules'][chain]) == count
    assert any(spec_part in spec for spec in parsed['rules'][chain]), parsed['rules'][chain]


def test_kube_router_input_chain_matches_are_understood():
    rules = fw.parse_iptables_any(fixture('iptables_vL_kube_router_input_kube_router914.txt'))['rules']['KUBE-ROUTER-INPUT']
    assert '--dst-type LOCAL' in rules[0] and '--dports 30000:32767' in rules[0] and '--aks-unresolved' not in rules[0]
    assert [fw.iptables_rule_match(spec, context=CONTEXT)[0] for spec in rules[:3]] == ['no', 'no', 'no']


def test_iptables_list_with_line_numbers_and_counters():
    # the -nvL --line-numbers layout (columns as iptables 1.8 prints them)
    text = ('Chain INPUT (policy ACCEPT 0 packets, 0 bytes)\n'
            'num   pkts bytes target     prot opt in     out     source               destination\n'
            '1      41M   12G KUBE-FIREWALL  all  --  *      *       0.0.0.0/0            0.0.0.0/0\n'
            '2        0     0 REJECT     tcp  --  eth0   *       0.0.0.0/0            0.0.0.0/0            tcp dpt:10250 reject-with icmp-port-unreachable\n'
            '\nChain KUBE-FIREWALL (1 references)\n'
            'num   pkts bytes target     prot opt in     out     source               destination\n'
            '1        0     0 DROP       all  --  *      *       0.0.0.0/0            0.0.0.0/0            '
            '/* kubernetes firewall for dropping marked packets */ mark match 0x8000/0x8000\n')
    for context in (None, CONTEXT):
        result = fw.analyze_iptables(text, context=context)
        assert [b['target'] for b in result['blocking']] == ['REJECT'], context
    assert fw.analyze_iptables(text, context=CONTEXT)['blocked'] == 'yes'
    assert fw.analyze_iptables(text)['blocked'] == 'maybe'  # -i eth0: the interface is not known without a context


def test_ufw_numbered_rows_lose_their_number_and_log_flag():
    rules = fw.parse_ufw_status(fixture('ufw_numbered_range_kali92.txt'))['rules']
    assert [r['to'] for r in rules] == ['22/tcp', '5000:5999/tcp', '5901/tcp', '22/tcp (v6)', '5000:5999/tcp (v6)', '5901/tcp (v6)']
    (logged,) = fw.parse_ufw_status(fixture('ufw_numbered_log_konstruktoid79.txt'))['rules']
    assert (logged['to'], logged['from'], logged['action']) == ('22/tcp', '127.0.0.1', 'ALLOW')


def test_ufw_test_suite_status_judged_per_tunnel_source():
    parsed = fw.parse_ufw_status(fixture('ufw_status_loaded_ufw_testsuite_live.txt'), sources=['10.0.1.0/24', '203.0.113.5'])
    assert parsed['active'] is True and len(parsed['rules']) == 17
    assert sum(r['v6'] for r in parsed['rules']) == 4  # the rows marked (v6); 2001:db8::/32 rows are unmarked
    assert parsed['allowed_sources'] == ['10.0.1.0/24']  # "Anywhere ALLOW 10.0.0.0/8"
    assert parsed['blocked_sources'] == ['203.0.113.5/32']  # no rule; the default policy is not printed, so not allowed


def test_ufw_rule_from_the_tunnel_subnet_allows_the_tunnel():
    verdict = fw.decide_10250_block(ufw=fixture('ufw_verbose_node_subnet_hetzner226.txt'), context=CONTEXT)
    assert verdict['blocked_by'] is None and verdict['details']['ufw']['allowed_sources'] == ['10.0.1.0/24']


@pytest.mark.parametrize('row, to, action, matches', [
    # ufw pads To to 26 characters: a wider To leaves one space before the action (ufw's src/ufw/frontend.py format)
    ('10.0.1.9 10250:10260/tcp on eth0 ALLOW IN    Anywhere', '10.0.1.9 10250:10260/tcp on eth0', 'ALLOW', 'maybe'),
    ('[ 1] 10250/tcp                  ALLOW IN    Anywhere', '10250/tcp', 'ALLOW', 'yes'),
    ('10250/tcp (v6)             DENY IN     Anywhere (v6)', '10250/tcp (v6)', 'DENY', 'yes'),
    ('22/tcp                     LIMIT IN    Anywhere', '22/tcp', 'LIMIT', 'no'),
    ('Anywhere on eth0           ALLOW IN    10.0.0.0/8                 # aks nodes', 'Anywhere on eth0', 'ALLOW', 'maybe'),
])
def test_ufw_row_forms(row, to, action, matches):
    text = 'Status: active\nDefault: deny (incoming), allow (outgoing), deny (routed)\n\nTo   Action   From\n--   ------   ----\n' + row + '\n'
    (rule,) = fw.parse_ufw_status(text)['rules']
    assert (rule['to'], rule['action'], rule['matches_port']) == (to, action, matches)


@pytest.mark.parametrize('rule, match, verdict', [
    ('ip protocol icmp accept comment "allow icmp"', 'no', 'accept'),            # evilsocket/opensnitch#1423
    ('meta l4proto ipv6-icmp accept comment "allow icmp v6"', 'no', 'accept'),   # evilsocket/opensnitch#1423
    ('meta l4proto tcp ct state new tcp dport 22 counter packets 3 bytes 180 accept', 'no', 'accept'),  # insights-core#1812
    ('counter packets 0 bytes 0 reject with icmp type host-prohibited', 'yes', 'reject'),          # insights-core#1812
    ('meta l4proto { tcp, udp } th dport 10250 accept', 'yes', 'accept'),        # nft(8) set syntax
    ('meta l4proto { udp, icmp } drop', 'no', 'drop'),
    ('ip protocol tcp tcp dport 10250 drop', 'yes', 'drop'),
    ('ct state vmap { established : accept, related : accept, invalid : drop }', 'no', None),  # firewalld's filter_INPUT
    ('ct state vmap { new : jump check, established : accept }', 'yes', 'jump'),
    ('ct status dnat accept', 'no', 'accept'),                                   # firewalld's filter_INPUT
])
def test_nft_rule_forms(rule, match, verdict):
    assert fw.nft_rule_match(rule)[:2] == (match, verdict)
