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
import subprocess
import xml.etree.ElementTree as ET

import pytest

from ansible_collections.aks.tunnel.plugins.module_utils._causes import CAUSE_IDS, make_finding
from ansible_collections.aks.tunnel.plugins.module_utils import _firewall_fix as ff
from ansible_collections.aks.tunnel.plugins.module_utils import _konnectivity as k
from ansible_collections.aks.tunnel.plugins.module_utils import _probe_scripts as ps
from ansible_collections.aks.tunnel.plugins.module_utils import _report as r
from ansible_collections.aks.tunnel.plugins.module_utils._node_text import output_lines, section_line, section_text

NSG, UFW, IPT = 'nsg_blocks_10250', 'ufw_blocks_10250', 'iptables_blocks_10250'
EGRESS, SNAT, KONN = 'egress_ports_blocked', 'snat_exhaustion', 'konnectivity_agent_scaling'
CLUSTER = {'name': 'aks-lab', 'resource_group': 'rg-aks-lab', 'tunnel_component': 'konnectivity', 'node_count': 3, 'private': False}

# Markdown / HTML that would render as code, links, images, headings, HTML or extra table cells.
MARKUP = ('`x` | <img src=x onerror=alert(1)> &amp; [click](https://evil.example) ![i](https://evil.example/i.png) *b* _i_ __s__ '
          '~~s~~ \\| nsg_blocks_10250 end')
# Control characters: clear screen + home, a one-byte CSI, NUL, BEL, CR, a bidi override, a lone surrogate, XML non-characters.
CONTROLS = 'a\x1b[2J\x1b[Hb\x9b31mc\x00d\x07e\rf\u202eg\udcffh\ufffei\x0bj'
HOSTILE_POD = 'konnectivity-agent-`pwn`|<b>x</b>\n# Heading'
HOSTILE_NODE = 'node-0\x1b[2J|`n`'
HOSTILE_RULE = '-A INPUT -p tcp --dport 10250 -m comment --comment "```\n# forged | <script>alert(1)</script>\x1b]0;title\x07" -j DROP'


def hostile_report():
    findings = [make_finding(c, 'ok', 'fine') for c in CAUSE_IDS]
    findings.append(make_finding(IPT, 'problem', 'iptables blocks TCP 10250 on %s: %s' % (HOSTILE_NODE, MARKUP), [HOSTILE_NODE],
                                 ['rule %s' % HOSTILE_RULE, CONTROLS, '@@ufw rc=0 bytes=0\nAKSTP1 end id=x n=0 rc=0'],
                                 {'iptables_rules': {HOSTILE_NODE: [HOSTILE_RULE]}}))
    findings.append(make_finding(KONN, 'problem', 'pod %s was OOMKilled' % HOSTILE_POD, ['#n1'], ['process ' + CONTROLS]))
    findings.append(make_finding(SNAT, 'unknown', 'ARM says: ' + MARKUP + CONTROLS))
    cluster = dict(CLUSTER, name='aks-`x`|<i>y</i>\n# h', resource_group='rg\x1b[2J')
    return r.build_report(cluster, findings, {'run_commands': 2}, '2026-12-04T06:00:00Z')


def test_hostile_text_changes_no_report_verdict():
    hostile = hostile_report()
    plain = r.build_report(CLUSTER, [make_finding(f['cause'], f['status'], 'text') for f in hostile['findings']])
    assert [f['status'] for f in hostile['findings']] == [f['status'] for f in plain['findings']]
    assert (hostile['problems'], r.should_fail(hostile)) == (plain['problems'], r.should_fail(plain)) == ([IPT, KONN], True)
    assert [r.next_command(f, 'p.yml', '') for f in hostile['findings']] == [r.next_command(f, 'p.yml', '') for f in plain['findings']]


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
    ('_i_ __b__ deny_kubelet x_', '\\_i\\_ \\_\\_b\\_\\_ deny_kubelet x\\_'),
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
    assert lines[3].startswith('iptables_blocks_10250'.ljust(max(len(c) for c in CAUSE_IDS) + 2) + 'PROBLEM  ')


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
    # A checked cause that could not be decided is an error testcase (issue 12), its message made visible all the same.
    assert cases[4].find('error').get('message') == r.visible_text('ARM says: ' + MARKUP + CONTROLS)
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


# --------------------------------------------------------------------------- forged section markers in node output

def _bash_function(script, name):
    match = re.search(r'^%s\(\) \{.*?^\}$' % re.escape(name), script, re.S | re.M)
    assert match, 'function %s not found in the script' % name
    return match.group(0)


def _bash(functions, driver, *args):
    # bytes, not text=True: universal newlines would turn the '\r' of a comment into a line break
    proc = subprocess.run(['bash', '-c', 'set -u\n%s\n%s' % ('\n'.join(functions), driver), 'bash'] + list(args),
                          capture_output=True, timeout=30, check=False)
    assert proc.returncode == 0 and proc.stderr == b'', proc.stderr
    return proc.stdout.decode('utf-8')


def iptables_quote(value):
    """A comment as `iptables -S` prints it (xtables_save_string: only " \\ ' escaped, newlines as they are)."""
    if re.match(r'^[A-Za-z0-9_-]+$', value):
        return value
    return '"%s"' % re.sub(r'(["\\\\\'])', r'\\\1', value)


# Comments a hostNetwork pod with NET_ADMIN can write: forged section headers and end lines, Run Command's stderr
# separator, and rule lines after a newline or a carriage return (str.splitlines splits on \r).
FORGED_ACCEPT = '\r-A INPUT -p tcp --dport 10250 -j ACCEPT\n-A INPUT -p tcp --dport 10250 -j ACCEPT\n@@end\nAKSTP1 end id=i1 n=0 rc=0\n[stderr]'
FORGED_SECTIONS = ('x\n@@iptables rc=0 bytes=0\n-P INPUT ACCEPT\n@@ufw rc=0 bytes=0 src=conf\nStatus: inactive\n'
                   'AKSFW1 end id=r1 rc=0\n\\@@x\nA 0 del rc=0')


def iptables_listing(accept_comment, drop_comment):
    """A filter table: an established ACCEPT, an unrelated UDP ACCEPT and the DROP of TCP 10250 (the real block)."""
    return '\n'.join([
        '-P INPUT ACCEPT',
        '-A INPUT -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT',
        '-A INPUT -p udp -m udp --dport 9 -m comment --comment %s -j ACCEPT' % iptables_quote(accept_comment),
        '-A INPUT -p tcp -m tcp --dport 10250 -m comment --comment %s -j DROP' % iptables_quote(drop_comment),
    ]) + '\n'


CLEAN_LISTING = iptables_listing('discard', 'no kubelet')
HOSTILE_LISTING = iptables_listing(FORGED_ACCEPT, FORGED_SECTIONS)
_COMMENT_RE = re.compile(r' -m comment --comment ("(?:[^"\\]|\\.)*"|\S+)')


def _without_comments(specs):
    return [_COMMENT_RE.sub('', spec) for spec in specs]


def _probe_output(listing, escape=True, nft=None):
    """AKSTP1 inspect output as the probe script prints it: each listing through akstp_oneline and akstp_esc."""
    script = ps.build_probe_script(['inspect'])
    functions = [_bash_function(script, name) for name in ('akstp_slurp', 'akstp_oneline', 'akstp_esc')]

    def printed(text, kind):
        if not escape:
            return text
        return _bash(functions, 'f=$(mktemp); printf "%s" "$1" > "$f"; akstp_oneline "$f" "$2"; akstp_slurp raw "$f"; rm -f "$f"\n'
                     'akstp_esc "$raw"; printf "%s" "$AKSTP_E"', text, kind)
    nft_section = '@@nft rc=0 bytes=%d\n%s' % (len(nft), printed(nft, 'nft')) if nft is not None else ''
    return ('AKSTP1 begin id=i1 checks=inspect n=0\n@@ss rc=0 bytes=80 filtered=1\n'
            'State  Recv-Q Send-Q Local Address:Port  Peer Address:PortProcess\nLISTEN 0      4096         0.0.0.0:10250      0.0.0.0:*\n'
            '@@ufw rc=127 bytes=0\nufw: not installed\n@@iptables rc=0 bytes=%d bin=iptables\n%s%s@@end\n'
            'S n=0 s=0 t=0 r=0 u=0 d=0 e=0 x=0 secs=0 par=32 to=2 m=devtcp\nAKSTP1 end id=i1 n=0 rc=0\n'
            % (len(listing), printed(listing, 'iptables'), nft_section))


def _verdict(output):
    parsed = ps.parse_probe_output('Enable succeeded: \n[stdout]\n%s\n[stderr]\n' % output, targets=None, run_id='i1')
    verdict = parsed['firewall']['verdict']
    return {'complete': parsed['complete'], 'sections': sorted(parsed['firewall']['sections']), 'blocked_by': verdict['blocked_by'],
            'conditional': verdict['conditional'], 'rules': _without_comments(verdict['rules'])}


def test_esc_helpers_keep_node_text_off_the_markers():
    text = FORGED_ACCEPT + '\n' + FORGED_SECTIONS + '\n[x\n\\\\y\nplain @@ line'
    probe = _bash([_bash_function(ps.build_probe_script(['inspect']), 'akstp_esc')], 'akstp_esc "$1"; printf "%s" "$AKSTP_E"', text)
    fix = _bash([_bash_function(ff.FIX_SCRIPT, 'section')], 'OUT=$(mktemp); CAP=4000; section iptables 0 "$1"; cat "$OUT"; rm -f "$OUT"', text)
    assert fix.startswith('@@iptables rc=0 bytes=%d\n' % len(text))
    for escaped in (probe, fix.split('\n', 1)[1]):
        lines = output_lines(escaped)
        assert not [line for line in lines if line.startswith(('@', 'AKS', '['))], escaped
        assert [section_line(line) for line in lines] == output_lines(text)


def test_oneline_helpers_put_a_multiline_comment_back_on_its_rule():
    probe = [_bash_function(ps.build_probe_script(['inspect']), name) for name in ('akstp_slurp', 'akstp_oneline')]
    from_probe = _bash(probe, 'f=$(mktemp); printf "%s" "$1" > "$f"; akstp_oneline "$f"; cat "$f"; rm -f "$f"', HOSTILE_LISTING)
    from_fix = _bash([_bash_function(ff.FIX_SCRIPT, 'oneline')], 'oneline "$1"; printf "%s\\n" "$ONE"', HOSTILE_LISTING.rstrip('\n'))
    assert from_probe == from_fix
    lines = from_probe.split('\n')[:-1]
    assert len(lines) == 4 and all(line.startswith(('-P ', '-A ')) for line in lines), lines
    assert lines[3] == '-A INPUT -p tcp -m tcp --dport 10250 -m comment --comment %s -j DROP' % iptables_quote(
        FORGED_SECTIONS).replace('\n', '\\n')
    # A listing without such a rule is left exactly as it is (also an escaped quote or backslash in a comment).
    clean = iptables_listing('say "hi" \\ there', "it's")
    assert _bash(probe, 'f=$(mktemp); printf "%s" "$1" > "$f"; akstp_oneline "$f"; cat "$f"; rm -f "$f"', clean) == clean


def test_forged_markers_in_rule_comments_do_not_change_the_probe_verdict():
    clean = _verdict(_probe_output(CLEAN_LISTING))
    assert clean == {'complete': True, 'sections': ['iptables', 'ss', 'ufw'], 'blocked_by': 'iptables', 'conditional': False,
                     'rules': ['-A INPUT -p tcp -m tcp --dport 10250 -j DROP']}
    assert _verdict(_probe_output(HOSTILE_LISTING)) == clean
    # The same node text printed as it is (the scripts before this fix) forges sections and hides the block.
    assert _verdict(_probe_output(HOSTILE_LISTING, escape=False)) != clean


def nft_ruleset(accept_comment, drop_comment):
    """A native nft table as `nft list ruleset` prints it (comments as they are: nft strings hold no '"')."""
    return ('table inet aks_guard {\n\tchain input {\n\t\ttype filter hook input priority filter; policy accept;\n'
            '\t\tudp dport 9 accept comment "%s"\n\t\ttcp dport 10250 drop comment "%s"\n\t}\n}\n' % (accept_comment, drop_comment))


# An accept rule and the end of the chain after a newline, braces and verdict words in a comment.
NFT_FORGED_ACCEPT = 'x\n\t\ttcp dport 10250 accept\n\t}\n}\n@@nft rc=0 bytes=0\ntable inet empty {'
NFT_FORGED_WORDS = 'a accept } { b'


def test_forged_lines_and_words_in_nft_comments_do_not_change_the_probe_verdict():
    empty = '-P INPUT ACCEPT\n'
    clean = _verdict(_probe_output(empty, nft=nft_ruleset('discard', 'no kubelet')))
    assert (clean['blocked_by'], clean['sections']) == ('nft', ['iptables', 'nft', 'ss', 'ufw']), clean
    assert _verdict(_probe_output(empty, nft=nft_ruleset(NFT_FORGED_ACCEPT, NFT_FORGED_WORDS))) == clean
    assert _verdict(_probe_output(empty, escape=False, nft=nft_ruleset(NFT_FORGED_ACCEPT, NFT_FORGED_WORDS))) != clean


def _fix_output(listing, escape=True):
    """AKSFW1 inspection output (apply=0) as FIX_SCRIPT prints it: the listing through oneline and section."""
    functions = [_bash_function(ff.FIX_SCRIPT, name) for name in ('section', 'oneline')]
    if escape:
        body = _bash(functions, 'OUT=$(mktemp); CAP=3000\nsection net 0 "iface=eth0"$\'\\n\'"route_dev=eth0" "" 200\n'
                     'section ufw 127 "ufw: command not found" "" 700\noneline "$1"; section iptables 0 "$ONE" "" 3000\n'
                     'cat "$OUT"; rm -f "$OUT"', listing.rstrip('\n'))
    else:
        body = '@@net rc=0 bytes=0\niface=eth0\nroute_dev=eth0\n@@ufw rc=127 bytes=0\nufw: command not found\n@@iptables rc=0 bytes=0\n' + listing
    return 'AKSFW1 begin id=r1 apply=0\n%s@@end\nAKSFW1 end id=r1 rc=0\n' % body


def _plan(output):
    parsed = ff.parse_fix_output(output, run_id='r1')
    sources = ['10.224.0.4/32']
    context = ff.context_from_sections(parsed['sections'], sources=sources, node_ip='10.224.0.9')
    state = ff.firewall_state(parsed['sections'], port=10250, context=context)
    actions, unresolved = ff.plan_actions(state, parsed['sections'], ufw='allow', iptables='delete_blocking', port=10250, sources=sources)
    return {'complete': parsed['complete'], 'sections': sorted(parsed['sections']), 'actions': parsed['actions'],
            'blocked_by': state['blocked_by'], 'blocking': _without_comments(state['iptables_blocking']),
            'plan': [(a['type'], _without_comments([a.get('spec') or ''])) for a in actions], 'unresolved': len(unresolved)}


def test_forged_markers_in_rule_comments_do_not_change_the_repair_plan():
    clean = _plan(_fix_output(CLEAN_LISTING))
    assert clean['complete'] is True and clean['actions'] == [] and clean['sections'] == ['iptables', 'net', 'ufw']
    assert clean['blocked_by'] == 'iptables' and clean['blocking'] == ['-A INPUT -p tcp -m tcp --dport 10250 -j DROP']
    assert clean['plan'] == [('iptables_delete', ['-A INPUT -p tcp -m tcp --dport 10250 -j DROP'])]
    assert _plan(_fix_output(HOSTILE_LISTING)) == clean
    assert _plan(_fix_output(HOSTILE_LISTING, escape=False)) != clean


@pytest.mark.parametrize('text, lines', [
    ('a\nb\n', ['a', 'b']),
    ('a\r@@ufw rc=0\x0b@@x\u2028y\n', ['a\r@@ufw rc=0\x0b@@x\u2028y']),
    ('', []),
])
def test_output_lines_split_on_newline_only(text, lines):
    assert output_lines(text) == lines


def test_section_text_shows_other_line_breaks():
    assert section_text(['-A INPUT -m comment --comment "a\r-A INPUT -j ACCEPT\x85" -j DROP']) == (
        '-A INPUT -m comment --comment "a\\x0d-A INPUT -j ACCEPT\\x85" -j DROP\n')
    assert section_line('\\@@ufw') == '@@ufw' and section_line('\\\\x') == '\\x' and section_line('-A x') == '-A x'


def test_the_report_action_writes_and_prints_hostile_text_safely(tmp_path):
    from unittest.mock import MagicMock
    from ansible_collections.aks.tunnel.plugins.action.tunnel_report import ActionModule
    report = hostile_report()
    task = MagicMock()
    task.args = {'findings': report['findings'], 'cluster': dict(CLUSTER, name='aks\udcff\x1b[2J'), 'report_dir': str(tmp_path)}
    task.async_val = 0
    task.check_mode = False
    action = ActionModule(task, MagicMock(), MagicMock(), MagicMock(), MagicMock(), MagicMock())
    action._display = MagicMock()  # pylint: disable=protected-access
    result = action.run(task_vars={})
    printed = action._display.display.call_args[0][0]  # pylint: disable=protected-access
    assert not UNSAFE.search(printed) and '\\x1b[2J' in printed
    assert result['problems'] == [IPT, KONN] and result['fail'] is True
    ET.parse(result['files']['junit'])
    with open(result['files']['markdown'], encoding='utf-8') as handle:
        assert not UNSAFE.search(handle.read())
    with open(result['files']['json'], encoding='utf-8') as handle:
        assert json.load(handle)['findings'] == result['report']['findings']
