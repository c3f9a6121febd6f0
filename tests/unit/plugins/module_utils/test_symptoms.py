# -*- coding: utf-8 -*-
# Copyright (c) 2026 aks.tunnel contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import pytest

from ansible_collections.aks.tunnel.plugins.module_utils._causes import CAUSE_IDS
from ansible_collections.aks.tunnel.plugins.module_utils._symptoms import (
    CAUSE_TAGS,
    SymptomInputError,
    classify,
    extract_endpoints,
    match_symptoms,
    next_check,
    tags_for,
)

NSG, UFW, IPT = 'nsg_blocks_10250', 'ufw_blocks_10250', 'iptables_blocks_10250'
EGRESS, SNAT, KONN = 'egress_ports_blocked', 'snat_exhaustion', 'konnectivity_agent_scaling'
KUBELET = 'kubelet_not_serving'
NFT, NETWORK = 'nft_blocks_10250', 'network_path_blocks_10250'

# The three symptoms of the AKS "tunnel connectivity issues" article, with real values filled in.
ARTICLE_1 = ('Error from server: Get "https://10.240.0.5:10250/containerLogs/kube-system/coredns-5d78c9869d-x7k2p/coredns": '
             'dial tcp 10.240.0.5:10250: i/o timeout')
ARTICLE_2 = 'Error from server: error dialing backend: dial tcp 10.240.0.5:10250: i/o timeout'
ARTICLE_3 = ('Error from server: Get "https://aks-nodepool1-12345678-vmss000001:10250/containerLogs/default/web-0/web": '
             'http: server gave HTTP response to HTTPS client')
UDS_WEBHOOK = ('Error from server (InternalError): error when creating "deploy.yaml": Internal error occurred: failed calling webhook '
               '"validation.gatekeeper.sh": Post "https://gatekeeper-webhook-service.gatekeeper-system.svc:443/v1/admit?timeout=3s": '
               'read unix @->/tunnel-uds/socket: read: connection reset by peer')
UDS_DIAL = ('Internal error occurred: failed calling webhook "mutate.kyverno.svc": Post "https://kyverno-svc.kyverno.svc:443/mutate": '
            'dial unix /tunnel-uds/socket: connect: connection reset by peer')
PROXY_ERROR = ('error: unable to upgrade connection: error dialing backend: proxy error from 127.0.0.1:8131 while dialing '
               '10.240.0.6:10250, code 503: 503 Service Unavailable')
NO_AGENT = ('Error from server: Get "https://10.224.0.4:10250/containerLogs/default/api-7c9/api": No agent available')


def causes(text):
    return [item['cause'] for item in classify(text)]


@pytest.mark.parametrize('text, expected', [
    (ARTICLE_1, [NSG, UFW, IPT, NFT, NETWORK]),
    (ARTICLE_2, [NSG, UFW, IPT, NFT, NETWORK]),
    (ARTICLE_3, [KUBELET, IPT]),
    # Variations: other IPs, pod names, kubectl exec/port-forward wording, older Go error texts.
    ('Error from server: Get "https://172.16.8.77:10250/containerLogs/prod/api-6f9c7b9d8-q2w3e/api?follow=true": '
     'dial tcp 172.16.8.77:10250: i/o timeout', [NSG, UFW, IPT, NFT, NETWORK]),
    ('error: unable to upgrade connection: error dialing backend: dial tcp 10.1.2.3:10250: i/o timeout', [NSG, UFW, IPT, NFT, NETWORK]),
    ('Error from server: error dialing backend: dial tcp 10.240.0.4:10250: getsockopt: connection timed out', [NSG, UFW, IPT, NFT, NETWORK]),
    ('Error from server: error dialing backend: dial tcp 10.240.0.4:10250: connect: connection timed out', [NSG, UFW, IPT, NFT, NETWORK]),
    ('error dialing backend: dial tcp 10.240.0.4:10250: context deadline exceeded', [NSG, UFW, IPT, NFT, NETWORK]),
    ('Error from server: error dialing backend: dial tcp [fd00:10::5]:10250: i/o timeout', [NSG, UFW, IPT, NFT, NETWORK]),
    ('Error from server: error dialing backend: dial tcp 10.240.0.4:10250: connect: connection refused', [IPT, KUBELET, UFW]),
    ('Error from server: Get "https://10.240.0.4:10250/containerLogs/a/b/c": dial tcp 10.240.0.4:10250: getsockopt: connection refused',
     [IPT, KUBELET, UFW]),
    ('error dialing backend: dial tcp 10.240.0.4:10250: connect: no route to host', [IPT, UFW]),
    ('error dialing backend: read tcp 10.240.0.9:43210->10.240.0.4:10250: read: connection reset by peer', [IPT, UFW]),
    ('Error from server: Get "https://10.240.0.4:10250/containerLogs/a/b/c": http: server gave HTTP response to HTTPS client', [KUBELET, IPT]),
    (UDS_WEBHOOK, [KONN, EGRESS, SNAT]),
    (UDS_DIAL, [KONN, EGRESS, SNAT]),
    (NO_AGENT, [KONN, EGRESS, SNAT]),
    ('E0504 16:31:08.864858 server.go:528] "Failed to get a backend" err="No agent available" dialID=896810405210690112',
     [KONN, EGRESS, SNAT]),
    (PROXY_ERROR, [KONN, NSG, EGRESS]),
    ('Error from server: error dialing backend: EOF', [KONN, EGRESS, SNAT]),
    ('Internal error occurred: failed calling webhook "x.example.com": Post "https://x.default.svc:443/v": context deadline exceeded',
     [KONN, EGRESS, SNAT]),
    ('Error from server: the server was unable to return a response in the time allotted: context deadline exceeded', [KONN, EGRESS, SNAT]),
    ('tunnelfront: dial tcp 20.50.60.70:9000: i/o timeout', [EGRESS, SNAT, KONN]),
    ('openvpn: dial udp 20.50.60.70:1194: connect: network is unreachable', [EGRESS, SNAT, KONN]),
    ('E1102 client.go:512] "cannot connect once" err="rpc error: code = Unavailable desc = connection error: desc = '
     '\\"transport: Error while dialing: dial tcp 20.50.60.70:443: i/o timeout\\""', [EGRESS, SNAT, KONN]),
    ('SNAT port exhaustion detected on backend 10.240.0.4', [SNAT]),
    ('konnectivity-agent-7d9f8b6c5-abcde   0/1   OOMKilled   4 (30s ago)   10m', [KONN]),
    ('Warning  OOMKilling  node/aks-nodepool1-1-vmss000000  Memory cgroup out of memory: Killed process 4242 (proxy-agent)', [KONN]),
])
def test_classify_causes(text, expected):
    assert causes(text) == expected


@pytest.mark.parametrize('text', [
    '',
    'pod/web-0 created',
    'Error from server (NotFound): pods "web-0" not found',
    'Error from server (Forbidden): pods "web-0" is forbidden: User "dev" cannot get resource "pods/log"',
    # The same Go error on an image pull is not a kubelet-port symptom.
    'Failed to pull image "myreg:5000/app:1": http: server gave HTTP response to HTTPS client',
    'dial tcp 10.0.0.8:5432: i/o timeout',
])
def test_classify_no_match(text):
    assert classify(text) == []


@pytest.mark.parametrize('text', [ARTICLE_1.upper(), ARTICLE_2.lower(), 'ERROR DIALING BACKEND: DIAL TCP 10.240.0.5:10250: I/O TIMEOUT'])
def test_classify_case_insensitive(text):
    assert causes(text) == [NSG, UFW, IPT, NFT, NETWORK]


def test_classify_article_1_exact_output():
    assert classify(ARTICLE_1) == [
        {
            'cause': NSG,
            'explanation': 'connection to the kubelet port 10.240.0.5:10250 timed out (packets silently dropped): '
                           'an NSG rule (subnet or node NIC NSG) denying TCP 10250 between nodes is the most common cause',
            'next_check': 'ansible-playbook playbooks/diagnose.yml --tags nsg',
        },
        {
            'cause': UFW,
            'explanation': 'connection to the kubelet port 10.240.0.5:10250 timed out (packets silently dropped): '
                           'UFW enabled on the target node drops 10250 through its default deny-incoming policy',
            'next_check': 'ansible-playbook playbooks/diagnose.yml --tags ufw',
        },
        {
            'cause': IPT,
            'explanation': 'connection to the kubelet port 10.240.0.5:10250 timed out (packets silently dropped): '
                           'an iptables INPUT rule with target DROP for tcp dpt:10250 on the target node',
            'next_check': 'ansible-playbook playbooks/diagnose.yml --tags iptables',
        },
        {
            'cause': NFT,
            'explanation': 'connection to the kubelet port 10.240.0.5:10250 timed out (packets silently dropped): '
                           'a native nftables rule (not iptables) dropping tcp dport 10250 on the target node',
            'next_check': 'ansible-playbook playbooks/diagnose.yml --tags nft',
        },
        {
            'cause': NETWORK,
            'explanation': 'connection to the kubelet port 10.240.0.5:10250 timed out (packets silently dropped): '
                           'a drop between the nodes outside the NSGs: a Virtual Network Manager admin rule or a route through a '
                           'firewall appliance',
            'next_check': 'ansible-playbook playbooks/diagnose.yml --tags network',
        },
    ]


def test_classify_article_3_without_ip():
    result = classify(ARTICLE_3)
    assert result == [{
        'cause': KUBELET,
        'explanation': "a plain-HTTP server answered on the kubelet port instead of the kubelet's TLS: "
                       'the kubelet does not serve TLS on 10250 (another process holds the port, or the kubelet runs without TLS)',
        'next_check': 'ansible-playbook playbooks/diagnose.yml --tags kubelet',
    }, {
        'cause': IPT,
        'explanation': "a plain-HTTP server answered on the kubelet port instead of the kubelet's TLS: "
                       'another process holds 10250 or an iptables nat REDIRECT/DNAT rule diverts it; inspect the node',
        'next_check': 'ansible-playbook playbooks/diagnose.yml --tags iptables',
    }]


def test_classify_multi_line_kubectl_output():
    text = '\n'.join([
        '$ kubectl logs -n kube-system coredns-5d78c9869d-x7k2p',
        ARTICLE_1,
        '$ kubectl logs web-0',
        'Error from server: Get "https://10.240.0.6:10250/containerLogs/default/web-0/web": dial tcp 10.240.0.6:10250: i/o timeout',
        '$ kubectl exec -it web-1 -- sh',
        'error: unable to upgrade connection: error dialing backend: dial tcp 10.240.0.7:10250: i/o timeout',
    ])
    result = classify(text)
    assert [r['cause'] for r in result] == [NSG, UFW, IPT, NFT, NETWORK]
    assert result[0]['explanation'].startswith('connection to the kubelet port 10.240.0.5:10250, 10.240.0.6:10250, 10.240.0.7:10250 timed out')


def test_classify_mixed_symptoms_sum_scores():
    # Timeouts on one node and refusals on another: iptables explains both, so it ranks first.
    text = ARTICLE_2 + '\nError from server: error dialing backend: dial tcp 10.240.0.9:10250: connect: connection refused'
    assert causes(text) == [IPT, UFW, NSG, KUBELET, NFT, NETWORK]
    # A 10250 timeout plus a konnectivity symptom: both families, no duplicates.
    mixed = causes(ARTICLE_2 + '\n' + NO_AGENT)
    assert mixed == [NSG, KONN, UFW, EGRESS, IPT, SNAT, NFT, NETWORK]
    assert len(mixed) == len(set(mixed))


def test_classify_explanation_comes_from_strongest_symptom():
    result = classify(ARTICLE_2 + '\n' + PROXY_ERROR)
    nsg = next(r for r in result if r['cause'] == NSG)
    assert nsg['explanation'].startswith('connection to the kubelet port 10.240.0.5:10250 timed out')


def test_generic_rules_do_not_add_to_specific_lines():
    # The webhook + tunnel-uds line is explained by the tunnel-uds rule alone.
    assert [m['symptom'] for m in match_symptoms(UDS_WEBHOOK)] == ['tunnel_uds_failure']
    assert [m['symptom'] for m in match_symptoms('error dialing backend: dial tcp 10.0.0.4:10250: context deadline exceeded')] == [
        'kubelet_timeout']
    assert [m['symptom'] for m in match_symptoms('failed calling webhook "a": context deadline exceeded')] == [
        'webhook_failure', 'deadline_exceeded']


def test_oom_across_lines_of_kubectl_describe():
    text = '\n'.join([
        'Name:             konnectivity-agent-7d9f8b6c5-abcde',
        'Namespace:        kube-system',
        '    Last State:     Terminated',
        '      Reason:       OOMKilled',
        '      Exit Code:    137',
    ])
    assert causes(text) == [KONN]
    assert match_symptoms(text)[0]['line'] == 'Reason:       OOMKilled'
    assert classify('Name: coredns-1\n Reason: OOMKilled') == []


def test_match_symptoms_shape():
    assert match_symptoms(ARTICLE_2) == [{
        'symptom': 'kubelet_timeout',
        'line': ARTICLE_2,
        'endpoints': [{'ip': '10.240.0.5', 'port': 10250}],
        'description': 'connection to the kubelet port 10.240.0.5:10250 timed out (packets silently dropped)',
    }]


def test_match_symptoms_caps_endpoints_in_description():
    text = '\n'.join('error dialing backend: dial tcp 10.0.0.%d:10250: i/o timeout' % i for i in range(1, 8))
    entry = match_symptoms(text)[0]
    assert len(entry['endpoints']) == 7
    assert entry['description'] == ('connection to the kubelet port 10.0.0.1:10250, 10.0.0.2:10250, 10.0.0.3:10250, 10.0.0.4:10250, '
                                    '10.0.0.5:10250 and 2 more timed out (packets silently dropped)')


@pytest.mark.parametrize('text, endpoints', [
    (ARTICLE_1, [{'ip': '10.240.0.5', 'port': 10250}]),
    (ARTICLE_2, [{'ip': '10.240.0.5', 'port': 10250}]),
    (ARTICLE_3, []),
    (PROXY_ERROR, [{'ip': '10.240.0.6', 'port': 10250}]),
    ('read tcp 10.240.0.9:43210->10.240.0.4:10250: read: connection reset by peer', [{'ip': '10.240.0.4', 'port': 10250}]),
    ('dial tcp [fd00:10::5]:10250: i/o timeout', [{'ip': 'fd00:10::5', 'port': 10250}]),
    ('dial udp 20.50.60.70:1194: i/o timeout\ndial tcp 20.50.60.70:9000: i/o timeout',
     [{'ip': '20.50.60.70', 'port': 1194}, {'ip': '20.50.60.70', 'port': 9000}]),
    ('Get "https://10.0.0.1:10250/x": dial tcp 10.0.0.2:10250: i/o timeout', [{'ip': '10.0.0.1', 'port': 10250}, {'ip': '10.0.0.2', 'port': 10250}]),
    (ARTICLE_2 + '\n' + ARTICLE_2, [{'ip': '10.240.0.5', 'port': 10250}]),
    ('dial tcp 999.1.1.1:10250: i/o timeout', []),
    ('dial tcp 10.0.0.1:70000: i/o timeout', []),
    ('dial tcp: lookup aks-node on 10.0.0.10:53: no such host', []),
    ('read unix @->/tunnel-uds/socket: read: connection reset by peer', []),
    ('', []),
])
def test_extract_endpoints(text, endpoints):
    assert extract_endpoints(text) == endpoints


@pytest.mark.parametrize('func', [classify, extract_endpoints, match_symptoms])
@pytest.mark.parametrize('value', [None, 42, b'dial tcp 10.0.0.1:10250: i/o timeout', ['a']])
def test_non_string_input(func, value):
    with pytest.raises(SymptomInputError, match='text must be a string'):
        func(value)


def test_cause_tags_cover_every_cause():
    assert sorted(CAUSE_TAGS) == sorted(CAUSE_IDS)
    assert sorted(CAUSE_TAGS.values()) == ['egress', 'iptables', 'konnectivity', 'kubelet', 'network', 'nft', 'nsg', 'snat', 'ufw', 'vnet']


@pytest.mark.parametrize('arg, command', [
    (NSG, 'ansible-playbook playbooks/diagnose.yml --tags nsg'),
    ([NSG, UFW, IPT], 'ansible-playbook playbooks/diagnose.yml --tags nsg,ufw,iptables'),
    ([NSG, UFW, IPT, NFT, NETWORK], 'ansible-playbook playbooks/diagnose.yml --tags nsg,ufw,iptables,nft,network'),
    ([KONN, KONN, SNAT], 'ansible-playbook playbooks/diagnose.yml --tags konnectivity,snat'),
])
def test_next_check(arg, command):
    assert next_check(arg) == command


def test_next_check_and_tags_unknown_cause():
    with pytest.raises(SymptomInputError, match='unknown cause id'):
        next_check('dns')
    with pytest.raises(SymptomInputError, match='unknown cause id'):
        tags_for(['dns'])


def test_tags_for():
    assert tags_for(classify(ARTICLE_1)) == ['nsg', 'ufw', 'iptables', 'nft', 'network']
    assert tags_for([SNAT, EGRESS, SNAT]) == ['snat', 'egress']
    assert tags_for([]) == []


@pytest.mark.parametrize('text, causes', [
    # the article's third symptom pasted without the URL still points at the node's port 10250
    ('http: server gave HTTP response to HTTPS client', ['iptables_blocks_10250']),
    # with the kubelet URL the specific rule explains it, so the generic one adds nothing more
    ('Error from server: Get "https://10.240.0.5:10250/containerLogs/ns/p/c": http: server gave HTTP response to HTTPS client',
     ['kubelet_not_serving', 'iptables_blocks_10250']),
])
def test_plain_http_answer_without_port(text, causes):
    assert [c['cause'] for c in classify(text)] == causes


# Issue 14: the article's messages as printed (placeholders, also the Polish page's translation),
# hostnames, terminal-wrapped lines (a break inside a word) and log noise around the message.
@pytest.mark.parametrize('text, expected', [
    ('Error from server: Get "https://<aks-node-name>:10250/containerLogs/<namespace>/<pod-name>/<container-name>": '
     'dial tcp <aks-node-ip>:10250: i/o timeout', [NSG, UFW, IPT, NFT, NETWORK]),
    ('Error from server: error dialing backend: dial tcp <aks-node-ip>:10250: i/o timeout', [NSG, UFW, IPT, NFT, NETWORK]),
    ('Error from server: Get "https://< aks-node-name>:10250/containerLogs/<namespace>/<pod-name>/<container-name>": '
     'http: server gave HTTP response to HTTPS client', [KUBELET, IPT]),
    ('Błąd z serwera: Pobierz "https://<aks-node-name>:10250/containerLogs/<namespace>/<pod-name>/<container-name>": '
     'dial tcp <aks-node-ip>:10250: i/o timeout', [NSG, UFW, IPT, NFT, NETWORK]),
    ('Błąd z serwera: błąd połączenia z zapleczem: połączenie tcp <aks-node-ip>:10250: przekroczenie limitu czasu operacji we/wy',
     [NSG, UFW, IPT, NFT, NETWORK]),
    ('Błąd z serwera: Pobierz "https://< aks-node-name>:10250/containerLogs/<name>/<pod-name>/<container-name>": '
     'http: serwer udzielił odpowiedzi HTTP na klienta HTTPS', [KUBELET, IPT]),
    ('error dialing backend: dial tcp <node-ip>:10250: connect: connection refused', [IPT, KUBELET, UFW]),
    ('error dialing backend: dial tcp x.x.x.x:10250: connect: connection timed out', [NSG, UFW, IPT, NFT, NETWORK]),
    ('error dialing backend: dial tcp {ip}:10250: i/o timeout', [NSG, UFW, IPT, NFT, NETWORK]),
    ('error dialing backend: dial tcp aks-nodepool1-12345678-vmss000001:10250: i/o timeout', [NSG, UFW, IPT, NFT, NETWORK]),
    ('error dialing backend: dial tcp node-1.example.internal:10250: connect: no route to host', [IPT, UFW]),
    # Wrapped by a terminal: inside a word, at a space, and over three lines.
    ('Error from server: error dialing backend: dial tcp 10.240.0.4:10250: getsocko\npt: connection refused', [IPT, KUBELET, UFW]),
    ('Error from server: error dialing backend: dial tcp 10.240.0.4:10250:\ni/o timeout', [NSG, UFW, IPT, NFT, NETWORK]),
    ('Error from server: Get "https://10.240.0.4:10250/containerLogs/default/web-0/web": dial tcp 10.2\n40.0.4:102\n50: i/o tim\neout',
     [NSG, UFW, IPT, NFT, NETWORK]),
    ('Error from server: error dialing backend: dial tcp 10.240.0.4:10250: connect: connection refused\r\n', [IPT, KUBELET, UFW]),
    # Log noise: timestamps, klog prefixes, the kubectl command line, ANSI colours.
    ('$ kubectl logs -n default web-0\n2026-12-04T12:00:00Z E1204 12:00:00.000000   12345 helpers.go:118] '
     'Error from server: error dialing backend: dial tcp 10.240.0.4:10250: i/o timeout\n', [NSG, UFW, IPT, NFT, NETWORK]),
    ('\x1b[0;31mError from server:\x1b[0m error dialing backend: dial tcp \x1b[1m10.240.0.4:10250\x1b[0m: i/o timeout', [NSG, UFW, IPT, NFT, NETWORK]),
])
def test_classify_placeholders_hostnames_wrapping_and_noise(text, expected):
    assert causes(text) == expected


def test_wrapped_lines_are_not_joined_without_a_new_symptom():
    # Two complete messages on consecutive lines stay two lines (each keeps its own symptom line).
    text = ('error dialing backend: dial tcp 10.240.0.4:10250: i/o timeout\n'
            'error dialing backend: dial tcp 10.240.0.5:10250: connect: connection refused')
    first, second = text.split('\n')
    found = {m['symptom']: m['line'] for m in match_symptoms(text)}
    assert found == {'kubelet_timeout': first, 'kubelet_refused': second}
