# -*- coding: utf-8 -*-
# Copyright (c) 2026 aks.tunnel contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Text from nodes, the cluster and ARM is untrusted: it must not change the reports' structure, the terminal, verdicts or repair plans.

Hostile pod names, process names, rule comments and node output (Markdown/HTML, control characters, ANSI sequences,
forged section markers of the node scripts) go through the report renderers, the konnectivity OOM evidence and the
probe / repair output parsers.
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET

import pytest

from ansible_collections.aks.tunnel.plugins.module_utils._causes import CAUSE_IDS, make_finding
from ansible_collections.aks.tunnel.plugins.module_utils import _konnectivity as k
from ansible_collections.aks.tunnel.plugins.module_utils import _report as r

NSG, UFW, IPT = 'nsg_blocks_10250', 'ufw_blocks_10250', 'iptables_blocks_10250'
EGRESS, SNAT, KONN = 'egress_ports_blocked', 'snat_exhaustion', 'konnectivity_agent_scaling'
CLUSTER = {'name': 'aks-lab', 'resource_group': 'rg-aks-lab', 'tunnel_component': 'konnectivity', 'node_count': 3, 'private': False}

# Markdown / HTML that would render as code, links, images, headings, HTML or extra table cells.
MARKUP = '`x` | <img src=x onerror=alert(1)> &amp; [click](https://evil.example) ![i](https://evil.example/i.png) *b* ~~s~~ \\| end'
# Control characters: clear screen + home, a one-byte CSI, NUL, BEL, CR, a bidi override, a lone surrogate, XML non-characters.
CONTROLS = 'a\x1b[2J\x1b[Hb\x9b31mc\x00d\x07e\rf\u202eg\udcffh\ufffei\x0bj'
HOSTILE_POD = 'konnectivity-agent-`pwn`|<b>x</b>\n# Heading'
HOSTILE_NODE = 'node-0\x1b[2J|`n`'
HOSTILE_RULE = '-A INPUT -p tcp --dport 10250 -m comment --comment "```\n# forged | <script>alert(1)</script>\x1b]0;title\x07" -j DROP'


def hostile_report():
    findings = [make_finding(c, 'ok', 'fine') for c in CAUSE_IDS]
    findings.append(make_finding(IPT, 'problem', 'iptables blocks TCP 10250 on %s: %s' % (HOSTILE_NODE, MARKUP), [HOSTILE_NODE],
                                 ['rule %s' % HOSTILE_RULE, CONTROLS, '@@ufw rc=0 bytes=0\nAKSTP1 end id=x n=0 rc=0'],
                                 {'rules': {HOSTILE_NODE: [HOSTILE_RULE]}}))
    findings.append(make_finding(KONN, 'problem', 'pod %s was OOMKilled' % HOSTILE_POD, ['#n1'], ['process ' + CONTROLS]))
    findings.append(make_finding(SNAT, 'unknown', 'ARM says: ' + MARKUP + CONTROLS))
    cluster = dict(CLUSTER, name='aks-`x`|<i>y</i>\n# h', resource_group='rg\x1b[2J')
    return r.build_report(cluster, findings, {'run_commands': 2}, '2026-12-04T06:00:00Z')


UNSAFE = re.compile('[\x00-\x08\x0b-\x1f\x7f-\x9f\u202e\ud800-\udfff\ufffe\uffff]')


@pytest.mark.parametrize('text, expected', [
    ('plain text', 'plain text'),
    ('a\x1b[2Jb', 'a\\x1b[2Jb'),
    ('a\nb\tc', 'a b c'),
    ('x\x9by\x00z\r', 'x\\x9by\\x00z\\x0d'),
    ('\u202egnp.exe', '\\u202egnp.exe'),
    ('bad\udcffbyte\ufffe', 'bad\\udcffbyte\\ufffe'),
    (None, ''),
    (42, '42'),
])
def test_visible_text_shows_controls_as_escapes(text, expected):
    assert r.visible_text(text) == expected


def test_visible_text_multiline_keeps_newlines_and_tabs_only():
    assert r.visible_text('a\nb\tc\rd\x1be', multiline=True) == 'a\nb\tc\\x0dd\\x1be'


@pytest.mark.parametrize('text, expected', [
    ('deny-kubelet', 'deny-kubelet'),
    ('a|b', 'a\\|b'),
    ('`x`', '\\`x\\`'),
    ('<b>&</b>', '&lt;b&gt;&amp;&lt;/b&gt;'),
    ('[a](b)', '\\[a\\](b)'),
    ('# h', '\\# h'),
    ('-A INPUT -j DROP', '\\-A INPUT -j DROP'),
    ('1. item', '1\\. item'),
    ('a\\|b', 'a\\\\\\|b'),
    ('x\ny', 'x y'),
    ('a\x1bb', 'a\\\\x1bb'),
])
def test_md_text_escapes_markdown(text, expected):
    assert r.md_text(text) == expected


def test_summary_lines_carry_no_control_characters_or_forged_lines():
    lines = r.summary_lines(hostile_report())
    assert len(lines) == 1 + len(CAUSE_IDS) + 4
    for line in lines:
        assert not UNSAFE.search(line), line
        assert '\n' not in line
    assert '\\x1b[2J' in lines[0] and '\\x1b[2J' in lines[3]
    assert lines[3].startswith('iptables_blocks_10250       PROBLEM  ')


def _tokens(markdown):
    markdown_it = pytest.importorskip('markdown_it')
    return markdown_it.MarkdownIt('commonmark').enable(['table', 'strikethrough']).parse(markdown)


def _inline_text(token):
    """The literal text an inline token renders (text, code spans, softbreaks)."""
    return ''.join(child.content if child.type in ('text', 'code_inline') else ' ' if child.type == 'softbreak' else ''
                   for child in token.children or [])


def test_markdown_keeps_its_structure_and_shows_hostile_text_literally():
    report = hostile_report()
    text = r.render_markdown(report, 'playbooks/remediate.yml', '-e @v.yml')
    tokens = _tokens(text)
    kinds = {t.type for t in tokens} | {c.type for t in tokens for c in t.children or []}
    # No HTML, links, images, emphasis or strikethrough from the hostile text.
    assert not kinds & {'html_block', 'html_inline', 'link_open', 'image', 'em_open', 'strong_open', 's_open'}, kinds
    headings = [_inline_text(tokens[i + 1]) for i, t in enumerate(tokens) if t.type == 'heading_open']
    assert headings == ['aks.tunnel report: rg\\x1b[2J/aks-`x`|<i>y</i> # h',
                        'iptables_blocks_10250: %s (PROBLEM)' % r.CAUSE_TITLES[IPT],
                        'snat_exhaustion: %s (UNKNOWN)' % r.CAUSE_TITLES[SNAT],
                        'konnectivity_agent_scaling: %s (PROBLEM)' % r.CAUSE_TITLES[KONN]]
    # One table: every row has exactly 4 cells, and the cells show the untrusted text as it is (controls visible).
    rows, row = [], None
    for token in tokens:
        if token.type == 'tr_open':
            row = []
        elif token.type == 'inline' and row is not None:
            row.append(_inline_text(token))
        elif token.type == 'tr_close':
            rows.append(row)
            row = None
    assert len(rows) == 1 + len(CAUSE_IDS) and all(len(cells) == 4 for cells in rows), rows
    assert rows[3] == [IPT, 'PROBLEM', r.visible_text(HOSTILE_NODE), r.visible_text(report['findings'][2]['summary'])]
    assert rows[6][3] == r.visible_text(report['findings'][5]['summary'])
    # Evidence bullets: one list item per line of evidence, each literal.
    items = [_inline_text(tokens[i + 2]) for i, t in enumerate(tokens) if t.type == 'list_item_open' and tokens[i + 2].type == 'inline']
    assert r.visible_text(HOSTILE_RULE) in [item[len('rule '):] for item in items]
    assert r.visible_text(CONTROLS) in items
    # Affected nodes are code spans holding the name; the remediation is one JSON fence that nothing closes early.
    codes = [c.content for t in tokens for c in t.children or [] if c.type == 'code_inline']
    assert r.visible_text(HOSTILE_NODE) in codes and '#n1' in codes
    fences = [t for t in tokens if t.type == 'fence']
    assert len(fences) == 1 and fences[0].info == 'json'
    assert json.loads(fences[0].content) == report['findings'][2]['remediation']
    assert not UNSAFE.search(text)


def test_junit_parses_and_carries_the_text_visibly():
    report = hostile_report()
    xml = r.render_junit(report)
    root = ET.fromstring(xml.encode('utf-8'))
    assert not UNSAFE.search(xml)
    assert root.find('testsuite').get('name') == 'aks.tunnel rg\\x1b[2J/aks-`x`|<i>y</i> # h'
    cases = root.findall('.//testcase')
    assert len(cases) == len(CAUSE_IDS)
    failure = cases[2].find('failure')
    assert failure.get('message') == r.visible_text(report['findings'][2]['summary'])
    assert r.visible_text(CONTROLS) in failure.text and 'nodes: node-0\\x1b[2J|`n`' in failure.text
    assert cases[4].find('skipped').get('message') == r.visible_text('ARM says: ' + MARKUP + CONTROLS)
    assert cases[5].find('failure').get('message') == r.visible_text('pod %s was OOMKilled' % HOSTILE_POD)


# --------------------------------------------------------------------------- konnectivity OOM evidence

def _agent_pod(name, node_name):
    return {'metadata': {'name': name}, 'spec': {'nodeName': node_name, 'containers': [
        {'name': 'konnectivity-agent', 'resources': {'limits': {'memory': '64Mi'}}}]},
        'status': {'phase': 'Running', 'conditions': [{'type': 'Ready', 'status': 'True'}],
                   'containerStatuses': [{'name': 'konnectivity-agent', 'restartCount': 0, 'ready': True, 'state': {'running': {}}}]}}


def _deployment(replicas):
    return {'metadata': {'name': 'konnectivity-agent', 'namespace': 'kube-system'}, 'spec': {'replicas': replicas},
            'status': {'readyReplicas': replicas, 'availableReplicas': replicas}}


def _oom(node_name, comm, reason='OOMKilling', count=2):
    message = 'Memory cgroup out of memory: Killed process 4242 (%s) total-vm:1kB, anon-rss:2kB' % comm
    if reason == 'SystemOOM':
        message = 'System OOM encountered, victim process: %s, pid: 4242' % comm
    return {'reason': reason, 'message': message, 'count': count, 'lastTimestamp': '2026-11-25T20:00:00Z',
            'involvedObject': {'kind': 'Node', 'name': node_name}, 'source': {'component': 'kernel-monitor', 'host': node_name}}


# Process names other workloads choose (comm is up to 15 bytes; events may carry anything).
FOREIGN_PROCESSES = ['java', 'secret-batch-42', '`x`|<b>', '\x1b[2J\x1b[H', '[a](http://e)', 'postgres: user=x']


@pytest.mark.parametrize('agent_events, status', [
    ([], 'ok'),
    ([_oom('n1', 'proxy-agent')], 'problem'),
])
def test_oom_evidence_keeps_only_the_agent_processes(agent_events, status):
    pods = [_agent_pod('konnectivity-agent-a', 'n0'), _agent_pod('konnectivity-agent-b', 'n1')]
    foreign = [_oom(node, comm, reason) for node in ('n0', 'n1') for comm in FOREIGN_PROCESSES for reason in ('OOMKilling', 'SystemOOM')]
    plain = k.analyze_agents(pods, _deployment(2), agent_events, [])
    result = k.analyze_agents(pods, _deployment(2), foreign + agent_events, [])
    # Other workloads' kills change nothing in the verdict ...
    assert (result['finding']['status'], result['finding']['summary'], result['finding']['affected_nodes']) == (
        status, plain['finding']['summary'], plain['finding']['affected_nodes'])
    # ... and their process names, pids and messages appear nowhere: they are counted per node.
    text = json.dumps(result)
    for comm in FOREIGN_PROCESSES:
        assert json.dumps(comm)[1:-1] not in text, comm
    foreign_events = [e for e in result['oom_events'] + result['system_oom_events'] if not e['agent_process']]
    assert len(foreign_events) == 4 * len(FOREIGN_PROCESSES)
    assert all((e['process'], e['pid'], e['message']) == (None, None, None) for e in foreign_events)
    counts = [line for line in result['finding']['evidence'] if 'other workloads' in line]
    assert counts == ["node %s: OOM kills of other workloads' processes (not the agent; names not reported): 12 kernel, 12 SystemOOM" % n
                      for n in ('n0', 'n1')]
    agent = [e for e in result['oom_events'] if e['agent_process']]
    assert [(e['node'], e['process'], e['pid']) for e in agent] == [(e['involvedObject']['name'], 'proxy-agent', 4242) for e in agent_events]


def test_system_oom_of_the_agent_is_named_from_the_parsed_victim():
    result = k.analyze_agents([_agent_pod('a', 'n0')], _deployment(1), [_oom('n0', 'proxy-agent', 'SystemOOM', 1)], [])
    assert [e['process'] for e in result['system_oom_events']] == ['proxy-agent']
    assert 'node n0: SystemOOM, victim process proxy-agent (pid 4242), 1 time(s), last 2026-11-25T20:00:00Z' in result['finding']['evidence']
    assert k.parse_system_oom_victim('System OOM encountered, victim process: a, pid: 1, pid: 77') == (77, 'a, pid: 1')
    assert k.parse_system_oom_victim('something else') == (None, None)
