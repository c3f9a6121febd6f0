# -*- coding: utf-8 -*-
# Copyright (c) 2026 aks.tunnel contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The diagnosis report: one finding per cause, report.json / report.md / junit.xml and the terminal summary.

Pure Python (standard library only): used by the tunnel_report action plugin and its unit tests.
"""

from __future__ import annotations

import json
import re
from xml.sax.saxutils import escape, quoteattr

from ansible_collections.aks.tunnel.plugins.module_utils._causes import (
    REPAIR_ADVICE,
    CAUSE_IDS,
    CAUSE_TAGS,
    CAUSE_TITLES,
    EGRESS_PORTS_BLOCKED,
    KONNECTIVITY_AGENT_SCALING,
    STATUS_NOT_APPLICABLE,
    STATUS_OK,
    STATUS_PROBLEM,
    STATUS_UNKNOWN,
    STATUSES,
    FindingError,
    cause,
    combine_findings,
    make_finding,
)

SCHEMA = 'aks.tunnel/report/v1'

STATUS_LABELS = {STATUS_PROBLEM: 'PROBLEM', STATUS_OK: 'OK', STATUS_UNKNOWN: 'UNKNOWN', STATUS_NOT_APPLICABLE: 'N/A'}

# Causes where one source's proof settles another source that could not decide: the real probe from the nodes ("a
# packet got through") settles a static NSG evaluation of the egress. Not the kubelet: the probe proves TCP for the nodes
# that answered, only the API server's request (or the inspection of a node) proves their TLS.
_PROBE_SETTLES = (EGRESS_PORTS_BLOCKED,)

NOT_CHECKED = 'not checked in this run (skipped by --tags or aks_tunnel_checks)'

# run_commands: Run Commands sent; arm_calls/kube_calls: HTTP requests (retries included); throttled: 429 answers;
# retries: requests sent again; retry_wait_s: seconds spent waiting before retries; duration_s: wall time.
STATS_KEYS = ('run_commands', 'arm_calls', 'kube_calls', 'throttled', 'retries', 'retry_wait_s', 'duration_s')


class ReportInputError(ValueError):
    """The findings, cluster or stats given to the report are malformed."""


# --------------------------------------------------------------------------- untrusted text
# Summaries, evidence, node/pod/process names and rule comments come from nodes, the cluster and ARM: anyone who can
# name a pod, add an iptables rule or run a process on a node writes some of it.  Each renderer makes it inert.

# C0/C1 controls (ESC starts terminal sequences, \x9b is a one-byte CSI), line/paragraph separators, bidi overrides
# (text that reads differently than it is), lone surrogates (undecodable bytes) and the XML 1.0 non-characters.
_UNSAFE_RE = re.compile(r'[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069'
                        r'\ud800-\udfff\ufffe\uffff]')
_LINE_BREAK_RE = re.compile(r'[\n\t]')
_MD_ESCAPES = {'\\': '\\\\', '`': '\\`', '*': '\\*', '~': '\\~', '[': '\\[', ']': '\\]', '|': '\\|',
               '<': '&lt;', '>': '&gt;', '&': '&amp;'}
_MD_SPECIAL_RE = re.compile('[%s]' % re.escape(''.join(_MD_ESCAPES)))
# An underscore next to a non-word character can open or close emphasis; one inside a word (nsg_blocks_10250) cannot.
_MD_UNDERSCORE_RE = re.compile(r'(?<![A-Za-z0-9])_|_(?![A-Za-z0-9])')
# What makes a line a heading, list item, quote, thematic break or setext underline when it starts a block.
_MD_BLOCK_START_RE = re.compile(r'^(\s*|\s*\d+)([#+=-]|(?<=\d)[.)])')


def _char_escape(match):
    code = ord(match.group(0))
    return '\\x%02x' % code if code < 0x100 else '\\u%04x' % code


def visible_text(value, multiline=False):
    """`value` as text without control characters: each one is shown as \\xNN / \\uNNNN, so it prints as itself.

    A node output with `\\x1b[2J` must not clear the terminal, and a newline in a name must not forge a line of the
    summary: newlines and tabs become spaces unless `multiline` (then tabs and newlines are kept, CR is escaped).
    """
    text = '' if value is None else str(value)
    if not multiline:
        text = _LINE_BREAK_RE.sub(' ', text)
    return _UNSAFE_RE.sub(_char_escape, text)


def md_text(value):
    """Untrusted text as literal Markdown (one line): no code span, emphasis, link, HTML, table cell or block starts."""
    text = _MD_SPECIAL_RE.sub(lambda m: _MD_ESCAPES[m.group(0)], visible_text(value))
    text = _MD_UNDERSCORE_RE.sub(r'\\_', text)
    return _MD_BLOCK_START_RE.sub(lambda m: m.group(1) + '\\' + m.group(2), text, count=1)


def md_code(value):
    """Untrusted text as a Markdown code span: the fence is longer than any backtick run inside (content stays literal)."""
    text = visible_text(value)
    fence = '`' * (max([len(run) for run in re.findall('`+', text)] + [0]) + 1)
    pad = ' ' if text.startswith('`') or text.endswith('`') or not text.strip() else ''
    return '%s%s%s%s%s' % (fence, pad, text, pad, fence)


def md_fenced(text, info=''):
    """A fenced code block whose fence no line of `text` can close."""
    text = visible_text(text, multiline=True)
    fence = '`' * max([3] + [len(run) + 1 for run in re.findall('`{3,}', text)])
    return [fence + info] + text.split('\n') + [fence]


def xml_text(value, multiline=True):
    """Untrusted text valid in XML 1.0 (controls shown as \\xNN), not yet escaped."""
    return visible_text(value, multiline=multiline)


def _check_finding(finding, where):
    if not isinstance(finding, dict):
        raise ReportInputError('%s must be a finding dict (cause, status, summary, ...), got %s' % (where, type(finding).__name__))
    missing = [key for key in ('cause', 'status') if key not in finding]
    if missing:
        raise ReportInputError('%s lacks %s; pass the `finding`/`findings` a detection module returned' % (where, ', '.join(missing)))
    if finding['cause'] not in CAUSE_IDS:
        raise ReportInputError('%s has unknown cause %r; expected one of %s' % (where, finding['cause'], ', '.join(CAUSE_IDS)))
    if finding['status'] not in STATUSES:
        raise ReportInputError('%s has unknown status %r; expected one of %s' % (where, finding['status'], ', '.join(STATUSES)))


def _normalized(finding):
    return make_finding(finding['cause'], finding['status'], finding.get('summary') or '', finding.get('affected_nodes'),
                        finding.get('evidence'), finding.get('remediation'))


def merge_cause(cause, findings):
    """One finding for `cause` from every source that reported on it (None when no source did).

    The most severe status wins (combine_findings), except that for causes in _PROBE_SETTLES an `ok` from the
    real probe beats an `unknown` static evaluation; the undecided evaluation stays in the evidence.
    """
    findings = [_normalized(f) for f in findings]
    if not findings:
        return None
    statuses = {f['status'] for f in findings}
    if cause in _PROBE_SETTLES and STATUS_PROBLEM not in statuses and STATUS_OK in statuses and STATUS_UNKNOWN in statuses:
        settled = [f for f in findings if f['status'] != STATUS_UNKNOWN]
        merged = combine_findings(settled)
        notes = ['inconclusive static check (settled by the probe): %s' % f['summary'] for f in findings if f['status'] == STATUS_UNKNOWN]
        merged['evidence'] = merged['evidence'] + notes
        return merged
    try:
        return combine_findings(findings)
    except FindingError as exc:
        raise ReportInputError(str(exc)) from exc


def merge_findings(findings, checked=None, errors=None):
    """Exactly one finding per cause id, in CAUSE_IDS order.

    findings: list of finding dicts (several per cause allowed). checked: cause ids that were checked in this run
    (None = all); a cause that was checked but has no finding, or was not checked, becomes `unknown` with the reason.
    errors: {cause id: why its check failed}; each adds an `unknown` finding for that cause (a problem still wins).
    """
    if not isinstance(findings, list):
        raise ReportInputError('findings must be a list of finding dicts, got %s' % type(findings).__name__)
    errors = errors or {}
    if not isinstance(errors, dict) or set(errors) - set(CAUSE_IDS):
        raise ReportInputError('errors must map cause ids (%s) to messages, got %r' % (', '.join(CAUSE_IDS), errors))
    by_cause = dict((cause, []) for cause in CAUSE_IDS)
    for index, finding in enumerate(findings):
        _check_finding(finding, 'findings[%d]' % index)
        by_cause[finding['cause']].append(finding)
    for cause, message in errors.items():
        by_cause[cause].append(make_finding(cause, STATUS_UNKNOWN, 'check failed: %s' % message, evidence=[str(message)]))
    checked = set(CAUSE_IDS if checked is None else checked)
    unknown_ids = checked - set(CAUSE_IDS)
    if unknown_ids:
        raise ReportInputError('checked names unknown cause id(s) %s; expected some of %s' % (', '.join(sorted(unknown_ids)), ', '.join(CAUSE_IDS)))
    merged = []
    for cause in CAUSE_IDS:
        finding = merge_cause(cause, by_cause[cause])
        if finding is None:
            reason = 'checked, but no check returned a result' if cause in checked else NOT_CHECKED
            finding = make_finding(cause, STATUS_UNKNOWN, reason)
        merged.append(finding)
    return merged


def _stats(stats):
    stats = dict(stats or {})
    unknown = set(stats) - set(STATS_KEYS)
    if unknown:
        raise ReportInputError('stats has unknown key(s) %s; expected some of %s' % (', '.join(sorted(unknown)), ', '.join(STATS_KEYS)))
    result = {}
    for key in STATS_KEYS:
        value = stats.get(key)
        if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))):
            raise ReportInputError('stats.%s must be a number or null, got %r' % (key, value))
        result[key] = value
    for key in ('duration_s', 'retry_wait_s'):
        if result[key] is not None:
            result[key] = round(float(result[key]), 1)
    return result


OUTCOME_OK = 'ok'
OUTCOME_PROBLEM = 'problem'
OUTCOME_UNKNOWN = 'unknown'
OUTCOME_ERROR = 'error'


def build_report(cluster, findings, stats=None, generated_at=None, checked=None, errors=None, error=None):
    """The report.json document (schema aks.tunnel/report/v1).

    cluster: {name, resource_group, tunnel_component, node_count, private} (missing keys are null).
    error: why the diagnosis itself failed (the cluster could not be read), None when it ran.
    `outcome` is `error` when it failed, else `problem` when a cause is a problem, else `unknown` when a checked cause
    could not be decided, else `ok`; `unknown` lists those causes (causes not checked in this run are not in it).
    """
    if not isinstance(cluster, dict):
        raise ReportInputError('cluster must be a dict with name, resource_group, tunnel_component, node_count, private')
    merged = merge_findings(findings, checked, errors)
    covered = set(CAUSE_IDS if checked is None else checked)
    problems = [f['cause'] for f in merged if f['status'] == STATUS_PROBLEM]
    unknown = [f['cause'] for f in merged if f['status'] == STATUS_UNKNOWN and f['cause'] in covered]
    if error:
        outcome = OUTCOME_ERROR
    elif problems:
        outcome = OUTCOME_PROBLEM
    elif unknown:
        outcome = OUTCOME_UNKNOWN
    else:
        outcome = OUTCOME_OK
    return {
        'schema': SCHEMA,
        'generated_at': generated_at,
        'outcome': outcome,
        'error': str(error) if error else None,
        'cluster': dict((key, cluster.get(key)) for key in ('name', 'resource_group', 'tunnel_component', 'node_count', 'private')),
        'findings': merged,
        'problems': problems,
        'unknown': unknown,
        'stats': _stats(stats),
    }


def should_fail(report, fail_on_problem=True, fail_on_unknown=True):
    """The run must end non-zero: the diagnosis failed, or a problem / an undecided cause was found and the caller fails on it."""
    if report.get('outcome') == OUTCOME_ERROR:
        return True
    return (bool(fail_on_problem) and bool(report['problems'])) or (bool(fail_on_unknown) and bool(report.get('unknown')))


# --------------------------------------------------------------------------- next commands

def _has_repair(cause_id):
    return cause(cause_id).repair != REPAIR_ADVICE


def automatic_repair(finding):
    """Whether the remediation playbook changes something for this finding (else a human does: manual_steps).

    Causes with a partial repair decide per finding: konnectivity-agent only when the ladder falls short (OOM kills
    need a memory limit AKS manages), the egress only when an NSG (or an Azure Firewall Policy the caller lets the
    collection edit) blocks it.
    """
    cause_id = finding['cause']
    if not _has_repair(cause_id):
        return False
    remediation = finding.get('remediation') or {}
    if cause_id == KONNECTIVITY_AGENT_SCALING:
        return bool(remediation.get('ladder'))
    if cause_id == EGRESS_PORTS_BLOCKED:
        return bool(remediation.get('nsg_rules')) or _firewall_fixable(remediation)
    return True


def _firewall_fixable(remediation):
    firewall = remediation.get('firewall') if isinstance(remediation.get('firewall'), dict) else {}
    return bool(firewall.get('rules')) and not firewall.get('refused') and not remediation.get('nsg_rules')


def manual_steps(finding):
    """What a human does for a problem without an automatic repair: the finding's commands, else its advice."""
    remediation = finding.get('remediation') or {}
    commands = [str(c) for c in remediation.get('commands') or []]
    if commands:
        return commands
    resources = remediation.get('deployment_resources')
    if isinstance(resources, dict) and resources.get('suggested_memory_limit'):
        return ['raise the memory limit of %s/%s (container %s) from %s to %s: %s' % (
            resources.get('namespace'), resources.get('deployment'), resources.get('container'), resources.get('current_memory_limit'),
            resources.get('suggested_memory_limit'), remediation.get('caveat') or 'AKS manages this Deployment')]
    lines = [str(remediation['summary'])] if remediation.get('summary') else []
    for key in ('firewall', 'appliance'):
        part = remediation.get(key)
        if isinstance(part, dict):
            lines += [str(part['summary'])] if part.get('summary') else []
            lines += [str(a) for a in part.get('allow') or []]
    for item in remediation.get('egress') or []:
        if isinstance(item, dict):
            lines.append('allow %s %s to %s from the node subnet on the egress firewall / proxy' % (
                str(item.get('kind') or '').upper(), item.get('port'), item.get('host') or 'the API server'))
    lines += [str(a) for a in remediation.get('advice') or [] if 'aks.tunnel.' not in str(a)]
    return lines or ['see report.md']


def next_command(finding, remediate_playbook, extra_args, plan=False):
    """The exact command to run next for a finding (None when nothing is to be done).

    A finding with an automatic repair: plan it with the remediation playbook (`--check --diff`), or, after a check
    run (`plan`), run it. Without one: the first manual step (what a human runs), never the remediation playbook.
    """
    if finding['status'] != STATUS_PROBLEM:
        return None
    if not automatic_repair(finding):
        return manual_steps(finding)[0]
    return _remediate(remediate_playbook, CAUSE_TAGS[finding['cause']], extra_args, plan, _firewall_fixable(finding.get('remediation') or {}))


def _remediate(remediate_playbook, tags, extra_args, plan, firewall=False):
    mode = '' if plan else ' --check --diff'
    opt_in = ' -e aks_tunnel_firewall_repair=true' if firewall else ''
    args = (' ' + extra_args) if extra_args else ''
    return 'ansible-playbook %s%s --tags %s%s%s' % (remediate_playbook, mode, tags, args, opt_in)


def _blocking(finding):
    """A short 'what blocks' text from the finding's remediation (NSG rule, iptables rules, egress rule to add)."""
    remediation = finding.get('remediation') or {}
    rules = remediation.get('nsg_rules')
    if isinstance(rules, list) and rules and isinstance(rules[0], dict):
        parts = []
        for rule in rules:
            if rule.get('blocking_rule'):
                parts.append('%s/%s (priority %s, %s)' % (rule.get('nsg'), rule['blocking_rule'], rule.get('blocking_priority'),
                                                          rule.get('direction')))
        return ', '.join(dict.fromkeys(parts))
    rules = remediation.get('iptables_rules')
    if isinstance(rules, dict) and rules:
        return '; '.join('%s: %s' % (node, ' / '.join(specs)) for node, specs in sorted(rules.items()))
    firewall = remediation.get('firewall')  # the egress through an Azure Firewall (issue 16)
    if isinstance(firewall, dict) and firewall.get('denied'):
        return '; '.join('%s: %s' % (d.get('flow'), d.get('rule') or 'no rule allows it (the default deny)')
                         for d in firewall['denied'] if isinstance(d, dict))
    appliance = remediation.get('appliance')
    if isinstance(appliance, dict) and appliance.get('appliance_ip'):
        return 'appliance %s (%s)' % (appliance['appliance_ip'], appliance.get('route'))
    return ''


def _nodes_text(nodes, limit=4):
    nodes = list(nodes or [])
    if not nodes:
        return ''
    shown = ', '.join(nodes[:limit])
    return shown + (' (+%d more)' % (len(nodes) - limit) if len(nodes) > limit else '')


def headline(report):
    """'no problem found' only when every checked cause is OK (or not applicable); otherwise what was found and left open."""
    if report.get('outcome') == OUTCOME_ERROR:
        return 'the diagnosis could not run: %s' % report.get('error')
    parts = []
    if report['problems']:
        parts.append('%d problem(s): %s' % (len(report['problems']), ', '.join(report['problems'])))
    if report.get('unknown'):
        parts.append('%d unknown: %s' % (len(report['unknown']), ', '.join(report['unknown'])))
    return '; '.join(parts) if parts else 'no problem found'


PLAN_LABEL = 'check mode: nothing changed'


def summary_lines(report, remediate_playbook='playbooks/remediate.yml', extra_args='', before=None, plan=False):
    """The end-of-run summary: a title, one line per cause, then what to run next.

    plan: the report of a check run of the remediation (`--check`): nothing changed, so each cause shows its status
    with "check mode: nothing changed" instead of a before -> after, and the next command is the real run.
    """
    cluster = report['cluster']
    title = 'aks.tunnel remediation plan (%s) for' % PLAN_LABEL if plan else 'aks.tunnel diagnosis of'
    lines = ['%s %s/%s (%s, %s nodes): %s' % (
        title, cluster.get('resource_group'), cluster.get('name'), cluster.get('tunnel_component') or 'no tunnel component',
        cluster.get('node_count'), headline(report))]
    previous = dict((f['cause'], f['status']) for f in (before or {}).get('findings', [])) if not plan else {}
    width = max(len(c) for c in CAUSE_IDS)
    for finding in report['findings']:
        status = STATUS_LABELS[finding['status']]
        if previous:
            status = '%s -> %s' % (STATUS_LABELS.get(previous.get(finding['cause']), '?'), status)
        elif plan and finding['status'] == STATUS_PROBLEM:
            status = '%s (%s)' % (status, PLAN_LABEL)
        line = '%-*s  %-*s %s' % (width, finding['cause'], 19 if previous else 8, status, finding['summary'])
        if finding['affected_nodes']:
            line += ' | nodes: %s' % _nodes_text(finding['affected_nodes'])
        blocking = _blocking(finding) if finding['status'] == STATUS_PROBLEM else ''
        if blocking:
            line += ' | blocking: %s' % blocking
        lines.append(line)
    commands = []
    by_hand = []
    repairable = []
    for finding in report['findings']:
        if finding['status'] != STATUS_PROBLEM:
            continue
        if automatic_repair(finding):
            repairable.append(finding)
            commands.append('  %s: %s' % (finding['cause'], next_command(finding, remediate_playbook, extra_args, plan)))
        else:
            steps = manual_steps(finding)
            by_hand.append('  %s: %s' % (finding['cause'], steps[0]))
            by_hand.extend('  %s  %s' % (' ' * len(finding['cause']), step) for step in steps[1:3])
    if commands:
        lines.append('Next (run the repair planned above):' if plan else 'Next (plan the repair, changes nothing):')
        if len(commands) > 1:
            lines.extend(commands)
            tags = ','.join(dict.fromkeys(CAUSE_TAGS[f['cause']] for f in repairable))
            firewall = any(_firewall_fixable(f.get('remediation') or {}) for f in repairable)
            lines.append('  all: %s' % _remediate(remediate_playbook, tags, extra_args, plan, firewall))
        else:
            lines.extend(commands)
    if by_hand:
        lines.append('No safe automatic repair (do this by hand; report.md has every step):')
        lines.extend(by_hand)
    # Printed to the operator's terminal: fields from nodes and the cluster must not carry escape sequences or line breaks.
    return [visible_text(line) for line in lines]


def verdict_line(report, plan=False, repairs_failed=None, report_file=None):
    """The one line that ends a run with a non-zero status: what was found (or why nothing could be diagnosed)."""
    if report.get('outcome') == OUTCOME_ERROR:
        text = 'the diagnosis could not run: %s' % report.get('error')
    elif plan:
        text = 'the remediation plan is above (%s)' % PLAN_LABEL
    else:
        text = headline(report)
    if repairs_failed:
        text += '; repairs that failed: %s' % '; '.join(str(r) for r in repairs_failed)
    if report_file:
        text += '; see %s' % report_file
    return visible_text(text[:1].upper() + text[1:])


# --------------------------------------------------------------------------- renderers

def render_json(report):
    return json.dumps(report, indent=2, sort_keys=False) + '\n'


def render_markdown(report, remediate_playbook='playbooks/remediate.yml', extra_args='', before=None, plan=False):
    """report.md; every value from the cluster, the nodes or ARM goes through md_text / md_code / md_fenced."""
    cluster = report['cluster']
    out = ['# aks.tunnel report: %s/%s' % (md_text(cluster.get('resource_group')), md_text(cluster.get('name'))), '',
           '* generated: %s' % md_text(report.get('generated_at')),
           '* tunnel component: %s, nodes: %s, private: %s' % (md_text(cluster.get('tunnel_component')), md_text(cluster.get('node_count')),
                                                               md_text(cluster.get('private'))),
           '* outcome: %s%s' % (md_text(report.get('outcome')), (' - ' + md_text(report.get('error'))) if report.get('error') else ''),
           '* problems: %s' % (', '.join(md_code(p) for p in report['problems']) or 'none'),
           '* unknown (checked, not decided): %s' % (', '.join(md_code(p) for p in report.get('unknown') or []) or 'none'),
           '* run commands: %s, ARM calls: %s, Kubernetes calls: %s, throttled: %s, retries: %s (%s s waiting), duration: %s s' % tuple(
               'n/a' if report['stats'][k] is None else md_text(report['stats'][k]) for k in STATS_KEYS), '']
    previous = dict((f['cause'], f['status']) for f in (before or {}).get('findings', []))
    if plan:
        out += ['Remediation plan (%s): the repairs the real run makes are in the output of the check run.' % PLAN_LABEL, '']
    if previous:
        out += ['| cause | before | after | summary |', '|---|---|---|---|']
        for finding in report['findings']:
            row = (md_code(finding['cause']), STATUS_LABELS.get(previous.get(finding['cause']), '?'),
                   PLAN_LABEL if plan else STATUS_LABELS[finding['status']], md_text(finding['summary']))
            out.append('| %s | %s | %s | %s |' % row)
    else:
        out += ['| cause | status | affected nodes | summary |', '|---|---|---|---|']
        for finding in report['findings']:
            row = (md_code(finding['cause']), STATUS_LABELS[finding['status']], md_text(', '.join(finding['affected_nodes'])) or '-',
                   md_text(finding['summary']))
            out.append('| %s | %s | %s | %s |' % row)
    for finding in report['findings']:
        if finding['status'] in (STATUS_OK, STATUS_NOT_APPLICABLE) and not finding['evidence']:
            continue
        out += ['', '## %s: %s (%s)' % (finding['cause'], CAUSE_TITLES[finding['cause']], STATUS_LABELS[finding['status']]), '',
                md_text(finding['summary'])]
        if finding['affected_nodes']:
            out += ['', 'Affected nodes: %s' % ', '.join(md_code(n) for n in finding['affected_nodes'])]
        if finding['evidence']:
            out += ['', 'Evidence:', ''] + ['* %s' % md_text(line) for line in finding['evidence']]
        remediation = finding['remediation']
        if remediation:
            out += ['', 'Remediation:', ''] + md_fenced(json.dumps(remediation, indent=2, sort_keys=True), 'json')
        if finding['status'] == STATUS_PROBLEM and not automatic_repair(finding):
            steps = [str(c) for c in remediation.get('commands') or []]
            by_hand = md_fenced('\n'.join(steps), 'sh') if steps else ['* %s' % md_text(step) for step in manual_steps(finding)]
            out += ['', 'No safe automatic repair; by hand:', ''] + by_hand
        else:
            command = next_command(finding, remediate_playbook, extra_args, plan)
            if command:
                out += ['', 'Next: %s' % md_code(command)]
    return '\n'.join(out) + '\n'


def _attr(value):
    return quoteattr(xml_text(value, multiline=False))


def _body(value):
    return escape(xml_text(value))


def _seconds(value):
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
        return 0.0
    return float(value)


def cause_times(source_seconds):
    """{cause: seconds} from {evidence source: seconds it took}: a cause takes the time of every source it reads.

    A source shared by several causes (the probe serves UFW, iptables, nft, ...) counts in full for each: its time is
    what checking that cause cost, as a JUnit testcase time should say.
    """
    times = {}
    for cause_id in CAUSE_IDS:
        seconds = [_seconds((source_seconds or {}).get(source)) for source in cause(cause_id).sources if source in (source_seconds or {})]
        if seconds:
            times[cause_id] = round(sum(seconds), 3)
    return times


def render_junit(report, times=None):
    """JUnit XML: one testcase per cause; problem = failure, checked but undecided = error, not checked = skipped.

    times: {cause: seconds its evidence took} (cause_times); a cause without one has time 0.

    A diagnosis that could not run adds a testcase `aks.tunnel.diagnosis` with the error, so a pipeline tells "the tool
    failed" from "the cluster has a problem".

    Text from the cluster and the nodes is made valid XML 1.0 (controls shown as \\xNN) before it is escaped.
    """
    cluster = report['cluster']
    suite = 'aks.tunnel %s/%s' % (cluster.get('resource_group'), cluster.get('name'))
    unknown = set(report.get('unknown') or [])
    failed_run = report.get('outcome') == OUTCOME_ERROR
    failures = sum(1 for f in report['findings'] if f['status'] == STATUS_PROBLEM)
    errors = sum(1 for f in report['findings'] if f['cause'] in unknown) + (1 if failed_run else 0)
    skipped = sum(1 for f in report['findings'] if f['status'] == STATUS_UNKNOWN and f['cause'] not in unknown)
    tests = len(report['findings']) + (1 if failed_run else 0)
    duration = report['stats'].get('duration_s') or 0
    out = ['<?xml version="1.0" encoding="UTF-8"?>',
           '<testsuites name="aks.tunnel" tests="%d" failures="%d" skipped="%d" errors="%d" time=%s>' % (
               tests, failures, skipped, errors, _attr(duration)),
           '  <testsuite name=%s tests="%d" failures="%d" skipped="%d" errors="%d" time=%s timestamp=%s>' % (
               _attr(suite), tests, failures, skipped, errors, _attr(duration), _attr(report.get('generated_at') or ''))]
    if failed_run:
        out += ['    <testcase classname="aks.tunnel.diagnosis" name="diagnosis: the diagnosis ran" time="0">',
                '      <error message=%s type="error">%s</error>' % (_attr(report.get('error') or 'error'), _body(report.get('error') or '')),
                '    </testcase>']
    for finding in report['findings']:
        out.append('    <testcase classname="aks.tunnel.%s" name=%s time="%.3f">' % (
            CAUSE_TAGS[finding['cause']], _attr('%s: %s' % (finding['cause'], CAUSE_TITLES[finding['cause']])),
            _seconds((times or {}).get(finding['cause']))))
        body = '\n'.join([finding['summary'] or ''] + (['nodes: ' + ', '.join(finding['affected_nodes'])] if finding['affected_nodes'] else [])
                         + [str(line) for line in finding['evidence']])
        if finding['status'] == STATUS_PROBLEM:
            out.append('      <failure message=%s type="problem">%s</failure>' % (_attr(finding['summary'] or 'problem'), _body(body)))
        elif finding['cause'] in unknown:
            out.append('      <error message=%s type="unknown">%s</error>' % (_attr(finding['summary'] or 'unknown'), _body(body)))
        elif finding['status'] == STATUS_UNKNOWN:
            out.append('      <skipped message=%s/>' % _attr(finding['summary'] or 'unknown'))
        else:
            out.append('      <system-out>%s</system-out>' % _body('%s: %s' % (STATUS_LABELS[finding['status']], body)))
        out.append('    </testcase>')
    out += ['  </testsuite>', '</testsuites>']
    return '\n'.join(out) + '\n'
