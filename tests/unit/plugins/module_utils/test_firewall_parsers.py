# -*- coding: utf-8 -*-
# Copyright (c) 2026 aks.tunnel contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Firewall parsers against outputs captured from the real tools (fixtures/firewall/capture.sh)."""

from __future__ import annotations

import os

import pytest

from ansible_collections.aks.tunnel.plugins.module_utils import _firewall_parsers as fw

FIXTURES = os.path.join(os.path.dirname(__file__), 'fixtures', 'firewall')


def fixture(name):
    with open(os.path.join(FIXTURES, name), encoding='utf-8') as handle:
        return handle.read()


@pytest.mark.parametrize('name, active, default_incoming, allows, blocks, n_rules', [
    ('ufw_inactive.txt', False, None, False, False, 0),
    ('ufw_active_default_deny.txt', True, 'deny', False, True, 2),
    ('ufw_allow_10250.txt', True, 'deny', True, False, 4),
    ('ufw_deny_10250.txt', True, 'allow', False, True, 2),
    ('ufw_range_from_subnet.txt', True, 'deny', True, False, 3),
    ('ufw_multiport_allow.txt', True, 'deny', True, False, 4),
])
def test_parse_ufw_status(name, active, default_incoming, allows, blocks, n_rules):
    result = fw.parse_ufw_status(fixture(name))
    assert (result['active'], result['default_incoming'], result['allows_10250'], result['blocks_10250']) == (
        active, default_incoming, allows, blocks)
    assert len(result['rules']) == n_rules


# The probe script's cheap ufw form (section ``ufw`` with ``src=conf``): status/defaults from ufw's own
# sources, the rules as loaded in the ufw-user-input chain (iptables -S lines).
UFW_CONF_HEAD = ('Status: active\nLogging: on (low)\nDefault: %s (incoming), allow (outgoing)\n'
                 'Config: ENABLED=yes in /etc/ufw/ufw.conf\nRules: as loaded in the iptables chain ufw-user-input\n')
UFW_LIMIT = ('-A ufw-user-input -p tcp -m tcp --dport 10250 -m conntrack --ctstate NEW -m recent --set --name DEFAULT --mask 255.255.255.255 --rsource\n'
             '-A ufw-user-input -p tcp -m tcp --dport 10250 -m conntrack --ctstate NEW -m recent --update --seconds 30 --hitcount 6 '
             '--name DEFAULT --mask 255.255.255.255 --rsource -j ufw-user-limit\n'
             '-A ufw-user-input -p tcp -m tcp --dport 10250 -j ufw-user-limit-accept\n')


@pytest.mark.parametrize('default, rules, active, allows, blocks, deciding, n_rules', [
    ('deny', '', True, False, True, None, 0),
    ('deny', '-A ufw-user-input -p tcp -m tcp --dport 22 -j ACCEPT\n-A ufw-user-input -p udp -m udp --dport 22 -j ACCEPT\n',
     True, False, True, None, 2),
    ('deny', '-A ufw-user-input -p tcp -m tcp --dport 10250 -j ACCEPT\n', True, True, False,
     '-A ufw-user-input -p tcp -m tcp --dport 10250 -j ACCEPT', 1),
    ('deny', '-A ufw-user-input -p tcp -m multiport --dports 22,10240:10260 -j ACCEPT\n', True, True, False,
     '-A ufw-user-input -p tcp -m multiport --dports 22,10240:10260 -j ACCEPT', 1),
    ('allow', '-A ufw-user-input -p tcp -m tcp --dport 10250 -j DROP\n-A ufw-user-input -p tcp -m tcp --dport 10250 -j ACCEPT\n',
     True, False, True, '-A ufw-user-input -p tcp -m tcp --dport 10250 -j DROP', 2),
    ('allow', '-A ufw-user-input -p tcp -m tcp --dport 10250 -j REJECT --reject-with tcp-reset\n', True, False, True,
     '-A ufw-user-input -p tcp -m tcp --dport 10250 -j REJECT --reject-with tcp-reset', 1),
    ('deny', UFW_LIMIT, True, True, False, '-A ufw-user-input -p tcp -m tcp --dport 10250 -j ufw-user-limit-accept', 2),
    ('deny', '-A ufw-user-input -s 10.0.0.0/8 -p tcp -m tcp --dport 10250 -j ACCEPT\n', True, False, True, None, 1),
    ('deny', '-A ufw-user-input -i eth0 -p tcp -m tcp --dport 10250 -j ACCEPT\n', True, False, True, None, 1),
    ('deny', '-A ufw-user-input -p tcp -m tcp --dport 10250 -j ufw-user-logging-input\n'
             '-A ufw-user-input -p tcp -m tcp --dport 10250 -j ACCEPT\n', True, True, False,
     '-A ufw-user-input -p tcp -m tcp --dport 10250 -j ACCEPT', 1),
    ('reject', '-A ufw-user-input -p udp -m udp --dport 10250 -j ACCEPT\n', True, False, True, None, 1),
    ('allow', '', True, True, False, None, 0),
])
def test_parse_ufw_conf_form(default, rules, active, allows, blocks, deciding, n_rules):
    result = fw.parse_ufw_status(UFW_CONF_HEAD % default + rules)
    assert (result['active'], result['default_incoming'], result['allows_10250'], result['blocks_10250']) == (
        active, default, allows, blocks)
    assert result['deciding_rule'] == deciding
    assert len(result['rules']) == n_rules
    assert all(r['direction'] == 'IN' and not r['v6'] for r in result['rules'])


@pytest.mark.parametrize('spec, expected', [
    ('-A ufw-user-input -p tcp -m tcp --dport 10250 -j ACCEPT', ('10250/tcp', 'ALLOW', 'Anywhere', 'yes')),
    ('-A ufw-user-input -s 10.0.0.0/8 -p tcp -m tcp --dport 10250 -j ACCEPT', ('10250/tcp', 'ALLOW', '10.0.0.0/8', 'maybe')),
    ('-A ufw-user-input -i eth0 -p tcp -m tcp --dport 10250 -j DROP', ('10250/tcp on eth0', 'DENY', 'Anywhere', 'maybe')),
    ('-A ufw-user-input -p tcp -m tcp --dport 22 -j REJECT --reject-with tcp-reset', ('22/tcp', 'REJECT', 'Anywhere', 'no')),
    ('-A ufw-user-input -p tcp -m tcp --dport 10250 -j ufw-user-limit-accept', ('10250/tcp', 'LIMIT', 'Anywhere', 'yes')),
    ('-A ufw-user-input -j ACCEPT', ('Anywhere', 'ALLOW', 'Anywhere', 'yes')),
    ('-A ufw-user-input -p tcp -m tcp --dport 10250 -j ufw-user-logging-input', None),
])
def test_ufw_rule_from_iptables(spec, expected):
    rule = fw._ufw_rule_from_iptables(spec, 10250)
    if expected is None:
        assert rule is None
    else:
        assert (rule['to'], rule['action'], rule['from'], rule['matches_port']) == expected
        assert rule['line'] == spec


def test_ufw_conf_form_inactive_and_in_the_verdict():
    inactive = 'Status: inactive\nLogging: on (low)\nDefault: deny (incoming), allow (outgoing)\nConfig: ENABLED=no in /etc/ufw/ufw.conf\n'
    result = fw.parse_ufw_status(inactive)
    assert (result['active'], result['blocks_10250'], result['reason']) == (False, False, 'ufw is inactive')
    verdict = fw.decide_10250_block(ufw=UFW_CONF_HEAD % 'deny', iptables=fixture('iptables_s_ufw_default_deny.txt'))
    assert verdict['blocked_by'] == 'ufw'
    verdict = fw.decide_10250_block(ufw=UFW_CONF_HEAD % 'deny' + '-A ufw-user-input -p tcp -m tcp --dport 10250 -j ACCEPT\n',
                                    iptables=fixture('iptables_s_ufw_allow_10250.txt'))
    assert verdict['blocked_by'] is None
    assert verdict['details']['ufw']['allows_port'] is True


@pytest.mark.parametrize('to_field, expected', [
    ('10250/tcp', 'yes'), ('10250', 'yes'), ('10250/udp', 'no'), ('22/tcp', 'no'),
    ('10000:11000/tcp', 'yes'), ('22,80,10250/tcp', 'yes'), ('443/tcp on eth0', 'no'),
    ('10250/tcp on eth0', 'maybe'), ('10250/tcp on lo', 'no'), ('Anywhere', 'yes'),
    ('10.224.0.4 10250/tcp', 'maybe'), ('OpenSSH', 'maybe'), ('10250/tcp (v6)', 'yes'),
])
def test_ufw_to_field(to_field, expected):
    assert fw._ufw_to_covers(to_field, 10250) == expected


def test_ufw_first_match_and_conditional_allow():
    text = fixture('ufw_range_from_subnet.txt')
    result = fw.parse_ufw_status(text)
    assert result['rules'][0]['matches_port'] == 'maybe'
    assert result['deciding_rule'] == '10250/tcp                  ALLOW IN    Anywhere'


def test_ufw_default_deny_only_conditional_allow():
    text = ('Status: active\nLogging: on (low)\nDefault: deny (incoming), allow (outgoing), disabled (routed)\n'
            'New profiles: skip\n\nTo                         Action      From\n--                         ------      ----\n'
            '10250/tcp                  ALLOW IN    10.224.0.0/16\n')
    result = fw.parse_ufw_status(text)
    assert result['blocks_10250'] is True
    assert 'only conditional allows' in result['reason']


@pytest.mark.parametrize('text', ['', 'bash: ufw: command not found'])
def test_ufw_not_installed(text):
    result = fw.parse_ufw_status(text)
    assert (result['installed'], result['active'], result['blocks_10250']) == (False, False, False)


def test_ufw_garbage_raises():
    with pytest.raises(fw.FirewallParseError, match='Status:'):
        fw.parse_ufw_status('hello world')


IPT_CASES = [
    ('iptables_s_empty.txt', 'no', [], False, None),
    ('iptables_s_drop_single.txt', 'yes', ['-A INPUT -s 10.224.0.7/32 -p tcp -m tcp --dport 10250 -j DROP',
                                           '-A INPUT -p tcp -m tcp --dport 10250 -j DROP'], False, None),
    ('iptables_s_reject_range.txt', 'yes', ['-A INPUT -p tcp -m tcp --dport 10000:11000 -j REJECT --reject-with tcp-reset'], False, None),
    ('iptables_s_multiport.txt', 'yes', ['-A INPUT -p tcp -m multiport --dports 22,10240:10260 -j DROP'], False, None),
    ('iptables_s_custom_chain.txt', 'maybe', ['-A AKS-INNER -p tcp -m tcp --dport 10250 -j REJECT --reject-with icmp-port-unreachable'],
     False, None),
    ('iptables_s_accept_first.txt', 'no', [], False, '-A INPUT -p tcp -m tcp --dport 10250 -j ACCEPT'),
    ('iptables_s_policy_drop.txt', 'yes', [], True, None),
    ('iptables_s_negated_dport.txt', 'yes', ['-A INPUT -p tcp -m tcp ! --dport 22 -j DROP'], False, None),
    ('iptables_s_drop_all.txt', 'yes', ['-A INPUT -j DROP'], False, None),
    ('iptables_s_other_ports.txt', 'no', [], False, None),
    ('iptables_s_ufw_default_deny.txt', 'yes', [], True, None),
    ('iptables_s_ufw_allow_10250.txt', 'no', [], False, '-A ufw-user-input -p tcp -m tcp --dport 10250 -j ACCEPT'),
    ('iptables_s_ufw_deny_10250.txt', 'yes', ['-A ufw-user-input -p tcp -m tcp --dport 10250 -j DROP'], False, None),
    # kube-proxy's own rules (loopback-only KUBE-FIREWALL drop, service ports) are not blocks
    ('iptables_s_kube_proxy_like.txt', 'yes', ['-A INPUT -p tcp -m tcp --dport 10250 -m comment --comment "injected fault" -j DROP'],
     False, None),
]


@pytest.mark.parametrize('name, blocked, specs, policy_blocks, accepted_by', IPT_CASES)
def test_analyze_iptables(name, blocked, specs, policy_blocks, accepted_by):
    result = fw.analyze_iptables(fixture(name))
    assert result['blocked'] == blocked
    assert [b['spec'] for b in result['blocking']] == specs
    assert result['policy_blocks'] is policy_blocks
    assert result['accepted_by'] == accepted_by
    assert fw.iptables_blocking_rules(fixture(name)) == specs


def test_accept_first_shadows_later_drop():
    result = fw.analyze_iptables(fixture('iptables_s_accept_first.txt'))
    assert result['shadowed'] == ['-A INPUT -p tcp -m tcp --dport 10250 -j DROP']


def test_conditional_flags_and_ufw_attribution():
    result = fw.analyze_iptables(fixture('iptables_s_drop_single.txt'))
    assert [b['conditional'] for b in result['blocking']] == [True, False]
    # the jump into AKS-INNER happens only for -s 10.0.0.0/8
    result = fw.analyze_iptables(fixture('iptables_s_custom_chain.txt'))
    assert [b['conditional'] for b in result['blocking']] == [True]
    result = fw.analyze_iptables(fixture('iptables_s_ufw_deny_10250.txt'))
    assert [b['ufw'] for b in result['blocking']] == [True]


def test_custom_chain_reachability():
    result = fw.analyze_iptables(fixture('iptables_s_custom_chain.txt'))
    assert result['reachable_chains'] == ['INPUT', 'AKS-BLOCK', 'AKS-INNER']


@pytest.mark.parametrize('spec, port, expected', [
    ('-A INPUT -p udp -m udp --dport 10250 -j DROP', 10250, 'no'),
    ('-A INPUT -p tcp -m tcp --dport 10250 -j DROP', 10251, 'no'),
    ('-A INPUT -i lo -j ACCEPT', 10250, 'no'),
    ('-A INPUT -i eth0 -p tcp --dport 10250 -j DROP', 10250, 'maybe'),
    ('-A INPUT -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT', 10250, 'no'),
    ('-A INPUT -m conntrack --ctstate NEW -p tcp -j DROP', 10250, 'yes'),
    ('-A INPUT -m conntrack ! --ctstate NEW -j DROP', 10250, 'no'),
    ('-A INPUT -m comment --comment "block kubelet" -p tcp --dport 10250 -j DROP', 10250, 'yes'),
    ('-A INPUT -p tcp -m multiport --dports 10000:10300 -j DROP', 10250, 'yes'),
    ('-A INPUT -p tcp -m multiport ! --dports 22,80 -j DROP', 10250, 'yes'),
    ('-A INPUT -p tcp -m limit --limit 3/min -j DROP', 10250, 'maybe'),
    ('-A INPUT -m addrtype --dst-type LOCAL -j RETURN', 10250, 'yes'),
    ('-A INPUT -m addrtype --dst-type BROADCAST -j RETURN', 10250, 'no'),
    ('-A INPUT -p 6 --dport 10250 -j REJECT', 10250, 'yes'),
    ('-A KUBE-FIREWALL ! -s 127.0.0.0/8 -d 127.0.0.0/8 -m conntrack ! --ctstate RELATED,ESTABLISHED,DNAT -j DROP', 10250, 'no'),
    ('-A INPUT -s 127.0.0.1/32 -j DROP', 10250, 'no'),
    ('-A INPUT ! -s 127.0.0.0/8 -p tcp --dport 10250 -j DROP', 10250, 'yes'),
    ('-A INPUT -i + -p tcp --dport 10250 -j DROP', 10250, 'yes'),
    ('-A INPUT -p tcp -m multiport --ports 10250 -j DROP', 10250, 'yes'),
    ('-A INPUT -p tcp -m multiport --ports 22 -j DROP', 10250, 'maybe'),
])
def test_iptables_rule_match(spec, port, expected):
    assert fw.iptables_rule_match(spec, port)[0] == expected


def test_iptables_delete_args_keeps_full_spec():
    spec = '-A INPUT -m comment --comment "aks test block" -j AKS-BLOCK'
    assert fw.iptables_delete_args(spec) == ['-D', 'INPUT', '-m', 'comment', '--comment', 'aks test block', '-j', 'AKS-BLOCK']
    with pytest.raises(fw.FirewallParseError, match='-A CHAIN'):
        fw.iptables_delete_args('-P INPUT DROP')


def test_iptables_empty_text_raises():
    with pytest.raises(fw.FirewallParseError, match='iptables -S'):
        fw.analyze_iptables('')


@pytest.mark.parametrize('name, chain, policy, nums, targets', [
    ('iptables_L_empty.txt', 'INPUT', 'ACCEPT', [], []),
    ('iptables_L_drop_single.txt', 'INPUT', 'ACCEPT', [1, 2, 3, 4], ['ACCEPT', 'ACCEPT', 'DROP', 'DROP']),
    ('iptables_L_drop_single_names.txt', 'INPUT', 'ACCEPT', [1, 2, 3, 4], ['ACCEPT', 'ACCEPT', 'DROP', 'DROP']),
    ('iptables_L_reject_range.txt', 'INPUT', 'ACCEPT', [1, 2], ['REJECT', 'DROP']),
    ('iptables_L_multiport.txt', 'INPUT', 'ACCEPT', [1, 2], ['DROP', 'REJECT']),
    ('iptables_L_custom_chain.txt', 'AKS-INNER', None, [1], ['REJECT']),
    ('iptables_L_policy_drop.txt', 'INPUT', 'DROP', [1, 2, 3], ['ACCEPT', 'ACCEPT', 'ACCEPT']),
])
def test_parse_iptables_list_line_numbers(name, chain, policy, nums, targets):
    chains = fw.parse_iptables_list_line_numbers(fixture(name))
    assert chains[chain]['policy'] == policy
    assert [r['num'] for r in chains[chain]['rules']] == nums
    assert [r['target'] for r in chains[chain]['rules']] == targets


@pytest.mark.parametrize('name, chain, mentions', [
    ('iptables_L_drop_single.txt', 'INPUT', [False, False, True, True]),
    ('iptables_L_reject_range.txt', 'INPUT', [True, False]),
    ('iptables_L_multiport.txt', 'INPUT', [True, False]),
    ('iptables_L_custom_chain.txt', 'AKS-BLOCK', [False, False]),
])
def test_list_rule_mentions_port(name, chain, mentions):
    rules = fw.parse_iptables_list_line_numbers(fixture(name))[chain]['rules']
    assert [fw.list_rule_mentions_port(r) for r in rules] == mentions


def test_parse_iptables_list_custom_chain_references():
    chains = fw.parse_iptables_list_line_numbers(fixture('iptables_L_custom_chain.txt'))
    assert chains['UNUSED-CHAIN']['references'] == 0
    assert chains['AKS-BLOCK']['rules'][0]['source'] == '10.0.0.0/8'


@pytest.mark.parametrize('name, ports, listening', [
    ('ss_ltn_with_10250.txt', [22, 10248, 10250, 10256], 'yes'),
    ('ss_ltn_without_10250.txt', [22, 10255], 'no'),
    ('ss_ltn_v6_and_loopback.txt', [22, 10250], 'yes'),
    ('ss_ltn_v6_any.txt', [10250], 'yes'),
])
def test_parse_ss_ltn(name, ports, listening):
    assert fw.parse_ss_ltn(fixture(name))['ports'] == ports
    assert fw.ss_listening(fixture(name)) == listening


def test_ss_loopback_only():
    text = 'State  Recv-Q Send-Q Local Address:Port  Peer Address:PortProcess\nLISTEN 0      128        127.0.0.1:10250      0.0.0.0:*\n'
    assert fw.ss_listening(text) == 'loopback_only'


@pytest.mark.parametrize('name, include_ipt, blocked, n_blocking, policy_drops', [
    ('nft_empty.txt', True, 'no', 0, []),
    ('nft_iptables_drop_single.txt', True, 'yes', 2, []),
    ('nft_iptables_drop_single.txt', False, 'no', 0, []),
    ('nft_iptables_custom_chain.txt', True, 'maybe', 1, []),
    ('nft_ufw_enabled.txt', True, 'yes', 0, ['ip filter INPUT']),
    ('nft_ufw_enabled.txt', False, 'no', 0, []),
    ('nft_native_drop.txt', False, 'yes', 1, []),
    ('nft_native_jump_reject.txt', False, 'maybe', 1, []),
    ('nft_native_policy_drop.txt', False, 'yes', 0, ['inet akstest input']),
    ('nft_native_accept.txt', False, 'no', 0, []),
])
def test_analyze_nft(name, include_ipt, blocked, n_blocking, policy_drops):
    result = fw.analyze_nft(fixture(name), include_iptables_nft=include_ipt)
    assert result['blocked'] == blocked
    assert len(result['blocking']) == n_blocking
    assert result['policy_drops'] == policy_drops


@pytest.mark.parametrize('rule, expected', [
    ('fib daddr type local counter packets 0 bytes 0 return', ('yes', 'return', None)),
    ('fib daddr type broadcast counter packets 0 bytes 0 jump ufw-skip-to-policy-input', ('no', 'jump', 'ufw-skip-to-policy-input')),
    ('udp dport 10250 drop', ('no', 'drop', None)),
    ('tcp dport != 22 drop', ('yes', 'drop', None)),
    ('tcp dport != { 10000-11000 } drop', ('no', 'drop', None)),
    ('tcp sport 10250 drop', ('maybe', 'drop', None)),
    ('iifname "lo" accept', ('no', 'accept', None)),
    ('iifname "eth0" tcp dport 10250 drop', ('maybe', 'drop', None)),
    ('ct state established,related accept', ('no', 'accept', None)),
    ('ct state new tcp dport 10250 reject with tcp reset', ('yes', 'reject', None)),
    ('meta l4proto udp ct state new counter packets 0 bytes 0 accept', ('no', 'accept', None)),
    ('ip saddr 10.224.0.0/16 jump blockers', ('maybe', 'jump', 'blockers')),
])
def test_nft_rule_match(rule, expected):
    assert fw.nft_rule_match(rule) == expected


def test_nft_jump_is_conditional_on_source():
    # the jump happens only for 10.224.0.0/16, but the reject inside the chain is unconditional
    result = fw.analyze_nft(fixture('nft_native_jump_reject.txt'))
    assert result['blocking'][0]['rule'] == 'tcp dport 10000-11000 reject with tcp reset'


def test_parse_nft_ruleset_structure():
    parsed = fw.parse_nft_ruleset(fixture('nft_native_drop.txt'))
    assert [(t['family'], t['name'], t['iptables_nft']) for t in parsed['tables']] == [('ip', 'filter', True), ('inet', 'akstest', False)]
    chain = parsed['tables'][1]['chains']['input']
    assert (chain['hook'], chain['type'], chain['policy']) == ('input', 'filter', 'accept')
    assert chain['rules'][-1] == 'tcp dport { 22, 10250 } counter packets 0 bytes 0 drop'


@pytest.mark.parametrize('ufw, ipt, nft, ss, blocked_by, rules', [
    ('ufw_inactive.txt', 'iptables_s_empty.txt', 'nft_empty.txt', 'ss_ltn_with_10250.txt', None, []),
    ('ufw_active_default_deny.txt', 'iptables_s_ufw_default_deny.txt', None, 'ss_ltn_with_10250.txt', 'ufw', []),
    ('ufw_deny_10250.txt', 'iptables_s_ufw_deny_10250.txt', None, 'ss_ltn_with_10250.txt', 'ufw',
     ['-A ufw-user-input -p tcp -m tcp --dport 10250 -j DROP']),
    ('ufw_allow_10250.txt', 'iptables_s_ufw_allow_10250.txt', None, 'ss_ltn_with_10250.txt', None, []),
    ('ufw_inactive.txt', 'iptables_s_drop_single.txt', 'nft_iptables_drop_single.txt', 'ss_ltn_with_10250.txt', 'iptables',
     ['-A INPUT -s 10.224.0.7/32 -p tcp -m tcp --dport 10250 -j DROP', '-A INPUT -p tcp -m tcp --dport 10250 -j DROP']),
    ('ufw_inactive.txt', 'iptables_s_policy_drop.txt', None, None, 'iptables', ['-P INPUT DROP']),
    ('ufw_inactive.txt', 'iptables_s_empty.txt', 'nft_native_drop.txt', 'ss_ltn_with_10250.txt', 'nft',
     ['inet akstest input: tcp dport { 22, 10250 } counter packets 0 bytes 0 drop']),
    ('ufw_inactive.txt', 'iptables_s_empty.txt', 'nft_native_policy_drop.txt', None, 'nft', ['inet akstest input: policy drop']),
    ('ufw_inactive.txt', 'iptables_s_empty.txt', 'nft_empty.txt', 'ss_ltn_without_10250.txt', 'not_listening', []),
    (None, None, 'nft_iptables_custom_chain.txt', None, 'nft',
     ['ip filter AKS-INNER: tcp dport 10250 counter packets 0 bytes 0 reject']),
])
def test_decide_10250_block(ufw, ipt, nft, ss, blocked_by, rules):
    def load(name):
        return fixture(name) if name else None
    verdict = fw.decide_10250_block(ufw=load(ufw), iptables=load(ipt), nft=load(nft), ss=load(ss))
    assert verdict['blocked_by'] == blocked_by
    assert verdict['rules'] == rules
    assert verdict['reason']


def test_delete_args_of_kube_proxy_like_rule_round_trip():
    spec = fw.iptables_blocking_rules(fixture('iptables_s_kube_proxy_like.txt'))[0]
    assert fw.iptables_delete_args(spec) == ['-D', 'INPUT', '-p', 'tcp', '-m', 'tcp', '--dport', '10250', '-m', 'comment',
                                             '--comment', 'injected fault', '-j', 'DROP']


def test_decide_conditional_iptables():
    verdict = fw.decide_10250_block(iptables='-P INPUT ACCEPT\n-A INPUT -s 10.224.0.7/32 -p tcp --dport 10250 -j DROP\n')
    assert (verdict['blocked_by'], verdict['conditional']) == ('iptables', True)


@pytest.mark.parametrize('spec, port, expected', [
    ('10250', 10250, True), ('10000:11000', 10250, True), ('10000-11000', 10250, True),
    ('22,10240:10260', 10250, True), ('{ 22, 10250 }', 10250, True), ('22,80', 10250, False),
    ('ssh', 22, False), ('10251:10300', 10250, False),
])
def test_port_spec_covers(spec, port, expected):
    assert fw.port_spec_covers(spec, port) is expected


# ---- issue 13: only rules proven to block the tunnel sources; everything else is UNKNOWN with the reason

TUNNEL = fw.firewall_context(sources=['10.224.0.4', '10.224.0.5'], node_ip='10.224.0.9', iface='eth0')
CROWDSEC = fw.parse_ipset_save('create crowdsec-blacklists hash:ip family inet hashsize 1024 maxelem 65536\n'
                               'add crowdsec-blacklists 198.51.100.7\nadd crowdsec-blacklists 203.0.113.9\n')
NOISE = '''-A INPUT -m set --match-set crowdsec-blacklists src -j DROP
-A INPUT -s 203.0.113.0/24 -j DROP
-A INPUT -j KUBE-FIREWALL
-A INPUT -i cali+ -m comment --comment "cali:Sb3b1E" -m comment --comment "Unknown interface" -j DROP
-A KUBE-FIREWALL ! -s 127.0.0.0/8 -d 127.0.0.0/8 -m comment --comment "block incoming localnet" -m conntrack ! --ctstate RELATED,ESTABLISHED,DNAT -j DROP
-A KUBE-FIREWALL -m comment --comment "kubernetes firewall for dropping marked packets" -m mark --mark 0x8000/0x8000 -j DROP
'''


@pytest.mark.parametrize('accept_first', [True, False])
def test_rules_that_do_not_block_the_tunnel_sources_are_not_blocking(accept_first):
    text = '-P INPUT ACCEPT\n-N KUBE-FIREWALL\n' + ('-A INPUT -p tcp -m tcp --dport 10250 -j ACCEPT\n' if accept_first else '') + NOISE
    ctx = dict(TUNNEL, ipsets=CROWDSEC)
    result = fw.analyze_iptables(text, context=ctx)
    assert result['blocking'] == [] and result['blocked'] == 'no'
    verdict = fw.decide_10250_block(ufw='Status: inactive\n', iptables=text, context=ctx)
    assert verdict['blocked_by'] is None


def test_unresolvable_rules_are_unknown_with_the_reason_never_proven():
    # issue 14: a pod-side interface (cali+) never carries a SYN from another node, even when the interface is unknown
    text = '-P INPUT ACCEPT\n-N KUBE-FIREWALL\n' + NOISE.replace('-i cali+', '-i eth1')
    result = fw.analyze_iptables(text, context=fw.firewall_context(sources=['10.224.0.4'], node_ip='10.224.0.9'))
    by_spec = dict((b['spec'], b) for b in result['blocking'])
    assert sorted(by_spec) == ['-A INPUT -i eth1 -m comment --comment "cali:Sb3b1E" -m comment --comment "Unknown interface" -j DROP',
                               '-A INPUT -m set --match-set crowdsec-blacklists src -j DROP']
    assert all(b['conditional'] for b in result['blocking']) and result['blocked'] == 'maybe'
    assert by_spec['-A INPUT -m set --match-set crowdsec-blacklists src -j DROP']['reasons'] == [
        'ipset crowdsec-blacklists could not be listed on the node']
    assert 'interface the packets arrive on is not known' in by_spec[
        '-A INPUT -i eth1 -m comment --comment "cali:Sb3b1E" -m comment --comment "Unknown interface" -j DROP']['reasons'][0]
    calico = fw.analyze_iptables('-P INPUT ACCEPT\n-N KUBE-FIREWALL\n' + NOISE, context=fw.firewall_context(sources=['10.224.0.4']))
    assert not any('cali+' in b['spec'] for b in calico['blocking'])


def test_a_drop_after_a_maybe_accept_is_not_proven():
    text = '-P INPUT ACCEPT\n-A INPUT -p tcp -m limit --limit 10/sec -j ACCEPT\n-A INPUT -p tcp --dport 10250 -j DROP\n'
    (entry,) = fw.analyze_iptables(text, context=TUNNEL)['blocking']
    assert entry['conditional'] is True and entry['reasons'][0].startswith('an earlier rule may accept the packet')


def test_proven_rules_carry_their_position_and_sources():
    text = ('-P INPUT DROP\n-A INPUT -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT\n-A INPUT -i lo -j ACCEPT\n'
            '-A INPUT -s 10.224.0.5/32 -p tcp --dport 10250 -j REJECT\n-A INPUT -s 10.224.0.0/16 -p tcp -j ACCEPT\n-A INPUT -j DROP\n')
    result = fw.analyze_iptables(text, context=TUNNEL)
    assert [(b['spec'], b['position'], b['conditional'], b['sources']) for b in result['blocking']] == [
        ('-A INPUT -s 10.224.0.5/32 -p tcp --dport 10250 -j REJECT', 3, False, ['10.224.0.5/32'])]
    assert result['policy_blocks'] is False
    # without the tunnel sources the same REJECT and the catch-all DROP are only conditional
    assert [b['conditional'] for b in fw.analyze_iptables(text)['blocking']] == [True, True]


def test_an_accept_after_a_sure_drop_ends_the_blocking_path():
    text = '-P INPUT ACCEPT\n-A INPUT -p tcp --dport 10250 -j DROP\n-A INPUT -p tcp --dport 10250 -j ACCEPT\n-A INPUT -j DROP\n'
    result = fw.analyze_iptables(text, context=TUNNEL)
    assert [b['spec'] for b in result['blocking']] == ['-A INPUT -p tcp --dport 10250 -j DROP']
    assert result['shadowed'] == ['-A INPUT -j DROP']


@pytest.mark.parametrize('spec, expected', [
    ('-A KUBE-FIREWALL -m mark --mark 0x8000/0x8000 -j DROP', 'no'),
    ('-A INPUT -m mark ! --mark 0x8000/0x8000 -p tcp --dport 10250 -j DROP', 'yes'),
    ('-A INPUT -m mark --mark 0x0/0xff00 -p tcp --dport 10250 -j DROP', 'yes'),
    ('-A INPUT -m connmark --mark 0x1 -j DROP', 'no'),
    ('-A INPUT -m conntrack --ctstate INVALID -j DROP', 'no'),
    ('-A INPUT -m conntrack --ctstate ESTABLISHED -j DROP', 'no'),
    ('-A INPUT -m state --state NEW -p tcp --dport 10250 -j DROP', 'yes'),
    ('-A INPUT -s 10.224.0.0/16 -p tcp --dport 10250 -j DROP', 'yes'),
    ('-A INPUT ! -s 10.224.0.0/16 -p tcp --dport 10250 -j DROP', 'no'),
    ('-A INPUT -s 10.224.0.4/32 -p tcp --dport 10250 -j DROP', 'yes'),
    ('-A INPUT -s 203.0.113.0/24 -j DROP', 'no'),
    ('-A INPUT -d 10.224.0.9/32 -p tcp --dport 10250 -j DROP', 'yes'),
    ('-A INPUT -d 10.224.0.10/32 -p tcp --dport 10250 -j DROP', 'no'),
    ('-A INPUT ! -d 10.224.0.9/32 -j DROP', 'no'),
    ('-A INPUT -i eth0 -p tcp --dport 10250 -j DROP', 'yes'),
    ('-A INPUT -i eth1 -p tcp --dport 10250 -j DROP', 'no'),
    ('-A INPUT -i cali+ -j DROP', 'no'),
    ('-A INPUT ! -i cali+ -p tcp --dport 10250 -j DROP', 'yes'),
    ('-A INPUT -i eth+ -p tcp --dport 10250 -j DROP', 'yes'),
    ('-A INPUT -p tcp --tcp-flags FIN,SYN,RST,ACK SYN --dport 10250 -j DROP', 'yes'),
    ('-A INPUT -p tcp --tcp-flags SYN,ACK SYN,ACK -j DROP', 'no'),
    ('-A INPUT -f -j DROP', 'no'),
    ('-A INPUT -m iprange --src-range 10.224.0.1-10.224.0.200 -p tcp --dport 10250 -j DROP', 'yes'),
    ('-A INPUT -m iprange --src-range 10.225.0.1-10.225.0.200 -j DROP', 'no'),
    ('-A INPUT -p tcp --dport 10250 -j REJECT --reject-with tcp-reset', 'yes'),
    ('-A INPUT -m set --match-set crowdsec-blacklists src -j DROP', 'no'),
    ('-A INPUT -m set ! --match-set crowdsec-blacklists src -p tcp --dport 10250 -j DROP', 'yes'),
    ('-A INPUT -m set --match-set unknown-set src -j DROP', 'maybe'),
    ('-A INPUT -p tcp --sport 1024:65535 --dport 10250 -j DROP', 'maybe'),
    ('-A INPUT -m recent --rcheck --seconds 60 --name ssh -j DROP', 'maybe'),
])
def test_rule_match_with_what_the_controller_knows(spec, expected):
    ctx = dict(TUNNEL, ipsets=CROWDSEC)
    assert fw.iptables_rule_match(spec, 10250, context=ctx, source='10.224.0.4')[0] == expected


def test_source_subnet_partly_covered_is_maybe():
    ctx = fw.firewall_context(sources=['10.224.0.0/16'])
    assert fw.iptables_rule_match('-A INPUT -s 10.224.0.0/24 -j DROP', context=ctx, source='10.224.0.0/16')[0] == 'maybe'


def test_ipset_listing_cut_or_not_plain_is_unknown():
    sets = fw.parse_ipset_save('create big hash:net family inet\nadd big 10.0.0.0/8\ncut big\n'
                               'create pairs hash:ip,port family inet\nadd pairs 10.224.0.4,tcp:10250\n')
    ctx = dict(TUNNEL, ipsets=sets)
    assert fw._rule_match('-A INPUT -m set --match-set big src -j DROP', ctx=ctx, source=fw._network('10.224.0.4'))[3] == [
        'the listing of ipset big was cut (too many members)']
    assert fw.iptables_rule_match('-A INPUT -m set --match-set pairs src,dst -j DROP', context=ctx, source='10.224.0.4')[0] == 'maybe'


SCOPED_UFW = '''Status: active
Logging: on (low)
Default: deny (incoming), allow (outgoing), disabled (routed)
New profiles: skip

To                         Action      From
--                         ------      ----
22/tcp                     ALLOW IN    Anywhere
10250/tcp                  ALLOW IN    10.224.0.0/16
'''


def test_a_scoped_ufw_allow_that_covers_the_tunnel_sources_allows():
    result = fw.parse_ufw_status(SCOPED_UFW, sources=['10.224.0.4', '10.224.0.5'])
    assert (result['allows_port'], result['blocks_port'], result['blocked_sources']) == (True, False, [])
    partly = fw.parse_ufw_status(SCOPED_UFW, sources=['10.224.0.4', '10.225.0.5'])
    assert (partly['allows_port'], partly['blocked_sources']) == (False, ['10.225.0.5/32'])
    # without the sources the allow is only conditional, as before
    assert fw.parse_ufw_status(SCOPED_UFW)['blocks_port'] is True
    verdict = fw.decide_10250_block(ufw=SCOPED_UFW, iptables='-P INPUT ACCEPT\n', context=fw.firewall_context(sources=['10.224.0.0/16']))
    assert verdict['blocked_by'] is None


def test_scoped_ufw_allow_in_the_iptables_form_covers_the_sources():
    text = UFW_CONF_HEAD % 'deny' + '-A ufw-user-input -s 10.224.0.0/16 -p tcp -m tcp --dport 10250 -j ACCEPT\n'
    assert fw.parse_ufw_status(text, sources=['10.224.0.4'])['allows_port'] is True
    assert fw.parse_ufw_status(text, sources=['10.9.0.4'])['blocks_port'] is True
