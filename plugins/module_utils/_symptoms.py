# -*- coding: utf-8 -*-
# Copyright (c) 2026 aks.tunnel contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Map tunnel error text (kubectl, API server, webhook, konnectivity logs) to the likely causes.

Pure Python (standard library only): used by the tunnel_symptoms filter, modules and the lab.

kubectl and Go errors are never localized, so the English strings are matched, plus the Polish
translation of the article's own three messages (people paste the localized page). Placeholders
(``<aks-node-ip>``, ``{ip}``, ``x.x.x.x``) and host names stand for the node; ANSI escapes are
dropped and lines a terminal wrapped (even inside a word) are joined back. Each
symptom rule names the causes it points to with a weight; the weights of every distinct
symptom found in the text are added per cause, and causes are returned by that score
(ties in the report's cause order). Why the weights are ordered as they are:

* ``dial tcp <ip>:10250: i/o timeout`` (and ``connection timed out``): packets are silently
  dropped. NSG deny rules drop, UFW's default incoming policy drops, an iptables DROP drops;
  NSG rules are the most common in AKS, then UFW, then hand-made iptables rules.
* ``connection refused`` / ``no route to host`` / ``connection reset`` on 10250: something
  answered with a reject - an iptables REJECT (tcp-reset, icmp-port-unreachable,
  icmp-host-prohibited) or UFW ``reject``; NSGs never answer. Refused may also mean the kubelet
  does not listen, which the node inspection tells apart.
* ``http: server gave HTTP response to HTTPS client`` on 10250: a plain-HTTP server answers on
  the kubelet port - another process holds it or an iptables nat REDIRECT/DNAT diverts it.
* ``/tunnel-uds/socket`` resets, ``No agent available``, ``error dialing backend: EOF``: the
  API server has no working konnectivity agent connection - agents too few/OOM-killed/broken
  ladder, or agents cannot reach the API server (egress 443, SNAT exhaustion).
* agent-side dial failures to 9000 (tunnel-front), 1194 (aks-link) or konnectivity's
  ``cannot connect once``: node egress to the API server is blocked, or SNAT ports ran out.
"""

from __future__ import annotations

import ipaddress
import re

from ansible_collections.aks.tunnel.plugins.module_utils._causes import (
    CAUSE_IDS,
    CAUSE_TAGS,
    EGRESS_PORTS_BLOCKED,
    IPTABLES_BLOCKS_10250,
    KONNECTIVITY_AGENT_SCALING,
    KUBELET_NOT_SERVING,
    NETWORK_PATH_BLOCKS_10250,
    NFT_BLOCKS_10250,
    NSG_BLOCKS_10250,
    SNAT_EXHAUSTION,
    UFW_BLOCKS_10250,
)

DIAGNOSE_PLAYBOOK = 'playbooks/diagnose.yml'
KUBELET_PORT = 10250

# Longest input scanned; kubectl/event dumps larger than this are cut (keeps the filter fast).
MAX_TEXT_CHARS = 1000000

# An IP, a host name, or a documentation placeholder (<aks-node-ip>, < node-ip >, {ip}, [ip], x.x.x.x).
_HOST = r'(?:\[[^\[\]\s]{1,45}\]|<[^<>\n]{1,40}>|\{[^{}\n]{1,30}\}|[A-Za-z0-9_.-]+)'
# "połączenie tcp" is the Polish translation of the article's "dial tcp" (people paste the localized page).
_KUBELET = r'(?:dial tcp|po\u0142\u0105czenie tcp|->|while dialing)\s*' + _HOST + r':10250\b'


class SymptomInputError(ValueError):
    """The text to classify is not a string."""


def _rule(symptom, pattern, description, causes, generic=False):
    """generic rules only count on lines no specific rule explained (e.g. a bare 'context deadline exceeded')."""
    return {
        'symptom': symptom,
        'regex': re.compile(pattern, re.IGNORECASE),
        'description': description,
        'causes': causes,
        'generic': generic,
    }


# Order matters only for the order of matched symptoms in match_symptoms(); scores decide causes.
RULES = (
    _rule(
        'kubelet_timeout',
        _KUBELET + r'[^\n]*?(?:i/o timeout|connection timed out|context deadline exceeded|przekroczenie limitu czasu)',
        'connection to the kubelet port {endpoints} timed out (packets silently dropped)',
        (
            (NSG_BLOCKS_10250, 90, 'an NSG rule (subnet or node NIC NSG) denying TCP 10250 between nodes is the most common cause'),
            (UFW_BLOCKS_10250, 80, 'UFW enabled on the target node drops 10250 through its default deny-incoming policy'),
            (IPTABLES_BLOCKS_10250, 70, 'an iptables INPUT rule with target DROP for tcp dpt:10250 on the target node'),
            (NFT_BLOCKS_10250, 40, 'a native nftables rule (not iptables) dropping tcp dport 10250 on the target node'),
            (NETWORK_PATH_BLOCKS_10250, 30, 'a drop between the nodes outside the NSGs: a Virtual Network Manager admin rule or a '
                                            'route through a firewall appliance'),
        ),
    ),
    _rule(
        'kubelet_refused',
        _KUBELET + r'[^\n]*?connection refused',
        'connection to the kubelet port {endpoints} was refused',
        (
            (IPTABLES_BLOCKS_10250, 90, 'an iptables REJECT rule for tcp dpt:10250 answers with a refusal'),
            (KUBELET_NOT_SERVING, 80, 'nothing listens on 10250: the kubelet is down or bound elsewhere'),
            (UFW_BLOCKS_10250, 60, 'UFW with a "reject" rule or policy for 10250 refuses the connection'),
        ),
    ),
    _rule(
        'kubelet_unreachable',
        _KUBELET + r'[^\n]*?(?:no route to host|host is unreachable|network is unreachable)',
        'the node answered the kubelet port {endpoints} with an ICMP unreachable',
        (
            (IPTABLES_BLOCKS_10250, 80, 'an iptables REJECT --reject-with icmp-host-prohibited rule for 10250 on the target node'),
            (UFW_BLOCKS_10250, 50, 'UFW rejecting 10250 on the target node'),
        ),
    ),
    _rule(
        'kubelet_reset',
        _KUBELET + r'[^\n]*?connection reset by peer',
        'the connection to the kubelet port {endpoints} was reset',
        (
            (IPTABLES_BLOCKS_10250, 70, 'an iptables REJECT --reject-with tcp-reset rule for 10250 on the target node'),
            (UFW_BLOCKS_10250, 40, 'UFW rejecting 10250 on the target node'),
        ),
    ),
    _rule(
        'kubelet_plain_http',
        r':10250\b[^\n]*?(?:server gave HTTP response to HTTPS client|odpowiedzi HTTP na klienta HTTPS)',
        'a plain-HTTP server answered on the kubelet port {endpoints} instead of the kubelet\'s TLS',
        (
            (KUBELET_NOT_SERVING, 90, 'the kubelet does not serve TLS on 10250 (another process holds the port, or the kubelet runs without TLS)'),
            (IPTABLES_BLOCKS_10250, 60, 'another process holds 10250 or an iptables nat REDIRECT/DNAT rule diverts it; inspect the node'),
        ),
    ),
    _rule(
        'tunnel_uds_failure',
        # also /tunnel-uds/proxysocket, and the JSON-escaped \/tunnel-uds\/ of AKS diagnostic logs
        r'/tunnel-uds\\?/(?:proxy)?socket',
        'the API server lost its konnectivity connection (/tunnel-uds/socket)',
        (
            (KONNECTIVITY_AGENT_SCALING, 90, 'konnectivity-agent replicas too few, OOM-killed or restarting for the cluster size'),
            (EGRESS_PORTS_BLOCKED, 70, 'konnectivity-agent cannot keep its TCP 443 (ALPN konnectivity) connection to the API server'),
            (SNAT_EXHAUSTION, 60, 'agents\' outbound connections to the API server fail when the load balancer runs out of SNAT ports'),
        ),
    ),
    _rule(
        'no_agent_available',
        r'no agent available',
        'konnectivity has no connected agent ("No agent available")',
        (
            (KONNECTIVITY_AGENT_SCALING, 90, 'no konnectivity-agent pod is running or connected (0 replicas from the ladder, OOMKilled, crash loop)'),
            (EGRESS_PORTS_BLOCKED, 80, 'konnectivity-agent cannot reach the API server on TCP 443 (firewall, UDR, TLS inspection stripping ALPN)'),
            (SNAT_EXHAUSTION, 60, 'agents cannot open outbound connections because SNAT ports are exhausted'),
        ),
    ),
    _rule(
        'proxy_error',
        r'proxy error from\s+\S+\s+while dialing\s+' + _HOST + r':\d+',
        'the konnectivity proxy failed to reach {endpoints} through an agent',
        (
            (KONNECTIVITY_AGENT_SCALING, 80, 'the agents carrying the connection are overloaded, restarting or missing'),
            (NSG_BLOCKS_10250, 50, 'the agent could not reach the node\'s kubelet port (blocked between nodes)'),
            (EGRESS_PORTS_BLOCKED, 40, 'agents keep losing their connection to the API server'),
        ),
    ),
    _rule(
        'dialing_backend_eof',
        r'error dialing backend:\s*EOF',
        'the tunnel closed the connection ("error dialing backend: EOF")',
        (
            (KONNECTIVITY_AGENT_SCALING, 80, 'a konnectivity-agent died or was OOM-killed while carrying the connection'),
            (EGRESS_PORTS_BLOCKED, 60, 'the tunnel connection from the node to the API server is being cut'),
            (SNAT_EXHAUSTION, 50, 'tunnel connections drop when SNAT ports run out'),
        ),
    ),
    _rule(
        'agent_egress_failure',
        r'(?:dial (?:tcp|udp)\s*' + _HOST + r':(?:9000|1194)\b[^\n]*?(?:timeout|timed out|refused|reset|unreachable|no route)'
        r'|cannot connect once|failed to connect to proxy server)',
        'the tunnel client on a node cannot reach the API server {endpoints}',
        (
            (EGRESS_PORTS_BLOCKED, 90, 'node egress to the API server is blocked (TCP 9000 tunnel-front, UDP 1194 aks-link, TCP 443 konnectivity)'),
            (SNAT_EXHAUSTION, 70, 'outbound connections fail because the load balancer ran out of SNAT ports'),
            (KONNECTIVITY_AGENT_SCALING, 20, 'check the agents are healthy once egress works'),
        ),
    ),
    _rule(
        'snat_mentioned',
        r'snat[^\n]{0,40}?(?:exhaust|fail|port allocation)|snatconnectioncount',
        'SNAT port exhaustion is reported',
        (
            (SNAT_EXHAUSTION, 90, 'the load balancer reports failed or exhausted SNAT ports'),
        ),
    ),
    _rule(
        'agent_oom',
        r'(?:konnectivity|proxy-agent)[^\n]*?(?:oomkill|out of memory|crashloopbackoff|exit code:? 137)'
        r'|(?:oomkill|out of memory)[^\n]*?(?:konnectivity|proxy-agent)',
        'konnectivity-agent is being OOM-killed or crash-looping',
        (
            (KONNECTIVITY_AGENT_SCALING, 95, 'konnectivity-agent memory limit too low or too few replicas for the load'),
        ),
    ),
    _rule(
        'plain_http_answer',
        # Image pulls from a plain-HTTP registry produce the same Go error; they are not the tunnel.
        r'^(?!.*(?:pull|registry|image)).*server gave HTTP response to HTTPS client',
        'a plain-HTTP server answered where TLS was expected (the article\'s third symptom when it is the kubelet port 10250)',
        (
            (IPTABLES_BLOCKS_10250, 50, 'if the URL was a node on :10250: another process holds the port or an iptables nat REDIRECT/DNAT diverts it'),
        ),
        generic=True,
    ),
    _rule(
        'webhook_failure',
        r'failed calling webhook',
        'an admission webhook call through the tunnel failed',
        (
            (KONNECTIVITY_AGENT_SCALING, 45, 'webhook calls ride konnectivity; overloaded or missing agents make them fail'),
            (EGRESS_PORTS_BLOCKED, 35, 'the tunnel from the nodes to the API server is unstable'),
            (SNAT_EXHAUSTION, 25, 'tunnel connections fail when SNAT ports run out'),
        ),
        generic=True,
    ),
    _rule(
        'deadline_exceeded',
        r'context deadline exceeded|client\.timeout exceeded',
        'a request through the tunnel timed out',
        (
            (KONNECTIVITY_AGENT_SCALING, 40, 'slow or overloaded konnectivity agents'),
            (EGRESS_PORTS_BLOCKED, 35, 'unstable tunnel connection to the API server'),
            (SNAT_EXHAUSTION, 30, 'outbound connections waiting for free SNAT ports'),
        ),
        generic=True,
    ),
)

_RULES_BY_SYMPTOM = {r['symptom']: r for r in RULES}

_ENDPOINT_PATTERNS = (
    re.compile(r'dial (?:tcp|udp)[46]?\s+(' + _HOST + r'):(\d{1,5})\b', re.IGNORECASE),
    re.compile(r'while dialing\s+(' + _HOST + r'):(\d{1,5})\b', re.IGNORECASE),
    re.compile(r'->\s*(' + _HOST + r'):(\d{1,5})\b'),
    re.compile(r'https?://(' + _HOST + r'):(\d{1,5})\b', re.IGNORECASE),
)


def _check_text(text):
    if not isinstance(text, str):
        raise SymptomInputError('text must be a string (error output of kubectl, events or logs), got %s' % type(text).__name__)
    return text[:MAX_TEXT_CHARS]


def _as_ip(host):
    host = host.strip('[]')
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        return None


def extract_endpoints(text):
    """IP endpoints a failing dial went to, in order of first appearance: [{'ip': str, 'port': int}].

    Taken from ``dial tcp <ip>:<port>``, ``while dialing <ip>:<port>``, ``-><ip>:<port>`` and
    ``https://<ip>:<port>/``; host names (not IP literals) and invalid ports are skipped.
    """
    text = _check_text(text)
    found = []
    for line in text.splitlines():
        hits = []
        for pattern in _ENDPOINT_PATTERNS:
            for match in pattern.finditer(line):
                hits.append((match.start(), match.group(1), match.group(2)))
        for dummy_pos, host, port in sorted(hits):
            ip = _as_ip(host)
            port = int(port)
            if ip is None or not 0 < port < 65536:
                continue
            endpoint = {'ip': ip, 'port': port}
            if endpoint not in found:
                found.append(endpoint)
    return found


# `kubectl describe pod konnectivity-agent-...` puts the pod name and "Reason: OOMKilled" on
# different lines, so this symptom is also looked for across the whole text.
_AGENT_NAME = re.compile(r'konnectivity-agent', re.IGNORECASE)
_OOM_KILLED = re.compile(r'oomkill', re.IGNORECASE)


# Colour and cursor escapes of terminals and log viewers (ESC [ ... letter).
_ANSI_ESCAPE = re.compile(r'\x1b\[[0-9;?]*[A-Za-z]')
# A message wrapped by a terminal or a log viewer is joined back over at most this many lines.
_MAX_WRAPPED_LINES = 4


def _specific(line):
    # agent_oom is not a wrapped message: `kubectl describe` prints its parts on separate lines (see below).
    return set(r['symptom'] for r in RULES if not r['generic'] and r['symptom'] != 'agent_oom' and r['regex'].search(line))


# Every specific rule's text holds one of these words; a joined line without any is not tried (speed).
_JOIN_HINT = re.compile(r'dial|->|10250|tunnel-uds|agent|proxy|cannot connect|snat|po\u0142\u0105czenie', re.IGNORECASE)


def _logical_lines(text):
    """Lines with ANSI escapes removed and wrapped messages joined back.

    A terminal breaks a long line at its width, even inside a word ("getsocko" / "pt: connection
    refused"); a line is joined with the next ones (without a separator, else with a space) when
    only the joined text shows a symptom that neither part shows alone.
    """
    lines = [line.rstrip('\r') for line in _ANSI_ESCAPE.sub('', text).split('\n')]
    result = []
    index = 0
    while index < len(lines):
        line, used = lines[index], 1
        seen = _specific(line) if _JOIN_HINT.search(line) else set()
        for count in range(2, _MAX_WRAPPED_LINES + 1):
            if index + count > len(lines):
                break
            parts = lines[index:index + count]
            if not _JOIN_HINT.search(''.join(parts)):
                continue
            if _JOIN_HINT.search(parts[-1]):
                seen |= _specific(parts[-1])
            joined = next((j for j in (''.join(parts), ' '.join(parts)) if _specific(j) - seen), None)
            if joined is not None:
                line, used = joined, count
                break
        result.append(line)
        index += used
    return result


def match_symptoms(text):
    """Symptoms found in text: [{'symptom', 'description', 'line', 'endpoints': [{'ip', 'port'}]}].

    One entry per symptom (its first matching line; endpoints from every matching line), in
    order of first appearance. Generic rules count only on lines no specific rule matched.
    """
    text = _check_text(text)
    matches = {}
    order = []

    def add(rule, line):
        entry = matches.get(rule['symptom'])
        if entry is None:
            entry = {'symptom': rule['symptom'], 'line': line.strip(), 'endpoints': [], '_rule': rule}
            matches[rule['symptom']] = entry
            order.append(rule['symptom'])
        for endpoint in extract_endpoints(line):
            if endpoint not in entry['endpoints']:
                entry['endpoints'].append(endpoint)

    for line in _logical_lines(text):
        specific = [r for r in RULES if not r['generic'] and r['regex'].search(line)]
        found = specific or [r for r in RULES if r['generic'] and r['regex'].search(line)]
        for rule in found:
            add(rule, line)
    if 'agent_oom' not in matches and _AGENT_NAME.search(text) and _OOM_KILLED.search(text):
        rule = _RULES_BY_SYMPTOM['agent_oom']
        add(rule, next(line for line in text.splitlines() if _OOM_KILLED.search(line)))
    result = []
    for symptom in order:
        entry = matches[symptom]
        rule = entry.pop('_rule')
        entry['description'] = _describe(rule, entry['endpoints'])
        result.append(entry)
    return result


def _describe(rule, endpoints):
    if endpoints:
        where = ', '.join('%s:%d' % (e['ip'], e['port']) for e in endpoints[:5])
        if len(endpoints) > 5:
            where += ' and %d more' % (len(endpoints) - 5)
    else:
        where = ''
    return ' '.join(rule['description'].format(endpoints=where).split())


def next_check(causes):
    """The diagnose command that checks these causes: 'ansible-playbook playbooks/diagnose.yml --tags a,b'."""
    if isinstance(causes, str):
        causes = [causes]
    tags = []
    for cause in causes:
        if cause not in CAUSE_TAGS:
            raise SymptomInputError('unknown cause id %r; expected one of %s' % (cause, ', '.join(CAUSE_IDS)))
        if CAUSE_TAGS[cause] not in tags:
            tags.append(CAUSE_TAGS[cause])
    return 'ansible-playbook %s --tags %s' % (DIAGNOSE_PLAYBOOK, ','.join(tags))


def classify(text):
    """Likely causes of the tunnel errors in text, most likely first, no duplicates.

    Returns [{'cause': <cause id>, 'explanation': <one line>, 'next_check': <command>}];
    an empty list when nothing matches. Raises SymptomInputError for non-string input.
    """
    scores = {}
    best = {}
    for entry in match_symptoms(text):
        rule = _RULES_BY_SYMPTOM[entry['symptom']]
        for cause, weight, why in rule['causes']:
            scores[cause] = scores.get(cause, 0) + weight
            if cause not in best or weight > best[cause][0]:
                best[cause] = (weight, '%s: %s' % (entry['description'], why))
    ranked = sorted(scores, key=lambda c: (-scores[c], CAUSE_IDS.index(c)))
    return [{'cause': cause, 'explanation': best[cause][1], 'next_check': next_check(cause)} for cause in ranked]


def tags_for(classification):
    """Playbook tags for a classify() result (or a list of cause ids), in rank order, without duplicates."""
    tags = []
    for item in classification:
        cause = item['cause'] if isinstance(item, dict) else item
        if cause not in CAUSE_TAGS:
            raise SymptomInputError('unknown cause id %r; expected one of %s' % (cause, ', '.join(CAUSE_IDS)))
        if CAUSE_TAGS[cause] not in tags:
            tags.append(CAUSE_TAGS[cause])
    return tags
