# -*- coding: utf-8 -*-
# Copyright (c) 2026 aks.tunnel contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import pytest

from ansible_collections.aks.tunnel.plugins.module_utils._causes import CAUSE_IDS, make_finding
from ansible_collections.aks.tunnel.plugins.module_utils import _report as r

NSG, UFW, IPT = 'nsg_blocks_10250', 'ufw_blocks_10250', 'iptables_blocks_10250'
EGRESS, SNAT, KONN = 'egress_ports_blocked', 'snat_exhaustion', 'konnectivity_agent_scaling'
CLUSTER = {'name': 'aks-lab', 'resource_group': 'rg-aks-lab', 'tunnel_component': 'konnectivity', 'node_count': 7, 'private': False}
NSG_RULE = {'nsg': 'aks-nsg', 'blocking_rule': 'deny-kubelet', 'blocking_priority': 310, 'direction': 'Inbound'}
NSG_PROBLEM = make_finding(NSG, 'problem', "NSG rule(s) 'deny-kubelet' deny TCP 10250", ['n2'], ['rule deny-kubelet ...'],
                           {'module': 'aks.tunnel.nsg_port_rule', 'nsg_rules': [NSG_RULE]})
IPT_PROBLEM = make_finding(IPT, 'problem', 'iptables blocks TCP 10250 on 1 node(s)', ['n0'], [],
                           {'iptables_rules': {'n0': ['-A INPUT -p tcp --dport 10250 -j DROP']}})


def ok(cause, summary='fine'):
    return make_finding(cause, 'ok', summary)


def all_ok():
    return [ok(c) for c in CAUSE_IDS]


# The causes after the first six (added later) are ok in all_ok() and unknown when not checked.
MORE = len(CAUSE_IDS) - 6


@pytest.mark.parametrize('findings, checked, errors, expected', [
    # Every cause ok.
    (all_ok(), None, None, ['ok'] * 6 + ['ok'] * MORE),
    # Missing causes that were not checked become unknown.
    ([ok(NSG)], [NSG], None, ['ok'] + ['unknown'] * 5 + ['unknown'] * MORE),
    # Checked but nothing reported.
    ([], [SNAT], None, ['unknown'] * 6 + ['unknown'] * MORE),
    # A problem wins over ok from another source.
    (all_ok() + [NSG_PROBLEM], None, None, ['problem'] + ['ok'] * 5 + ['ok'] * MORE),
    # The probe's ok settles an undecided NSG egress evaluation ...
    (all_ok() + [make_finding(EGRESS, 'unknown', 'API server address unknown')], None, None, ['ok'] * 6 + ['ok'] * MORE),
    # ... but not for other causes.
    (all_ok() + [make_finding(KONN, 'unknown', 'exit 137')], None, None, ['ok'] * 5 + ['unknown'] + ['ok'] * MORE),
    # A failed check is unknown; a problem from another source still wins.
    (all_ok(), None, {SNAT: 'HTTP 403'}, ['ok'] * 4 + ['unknown', 'ok'] + ['ok'] * MORE),
    (all_ok() + [NSG_PROBLEM], None, {NSG: 'timeout'}, ['problem'] + ['ok'] * 5 + ['ok'] * MORE),
    # not_applicable + ok -> ok; not_applicable alone stays.
    ([make_finding(EGRESS, 'not_applicable', 'private')] + all_ok(), None, None, ['ok'] * 6 + ['ok'] * MORE),
    ([make_finding(EGRESS, 'not_applicable', 'private')] + [ok(c) for c in CAUSE_IDS if c != EGRESS], None, None,
     ['ok'] * 3 + ['not_applicable', 'ok', 'ok'] + ['ok'] * MORE),
])
def test_merge_findings_statuses(findings, checked, errors, expected):
    merged = r.merge_findings(findings, checked, errors)
    assert [f['cause'] for f in merged] == list(CAUSE_IDS)
    assert [f['status'] for f in merged] == expected


def test_merge_keeps_undecided_evidence_and_reasons():
    merged = r.merge_findings([ok(EGRESS, 'works from 2 node(s)'), make_finding(EGRESS, 'unknown', 'address unknown')], [EGRESS])
    egress = merged[3]
    assert egress['summary'] == 'works from 2 node(s)'
    assert egress['evidence'] == ['inconclusive static check (settled by the probe): address unknown']
    assert merged[0]['summary'] == r.NOT_CHECKED
    failed = r.merge_findings([], [SNAT], {SNAT: 'HTTP 403 Forbidden'})[4]
    assert (failed['status'], failed['summary'], failed['evidence']) == ('unknown', 'check failed: HTTP 403 Forbidden', ['HTTP 403 Forbidden'])


@pytest.mark.parametrize('findings, checked, errors, message', [
    ('x', None, None, 'findings must be a list'),
    (['x'], None, None, 'findings[0] must be a finding dict'),
    ([{'cause': NSG}], None, None, 'findings[0] lacks status'),
    ([{'cause': 'bogus', 'status': 'ok'}], None, None, "findings[0] has unknown cause 'bogus'"),
    ([{'cause': NSG, 'status': 'bad'}], None, None, "findings[0] has unknown status 'bad'"),
    ([], ['bogus'], None, 'checked names unknown cause id(s) bogus'),
    ([], None, {'bogus': 'x'}, 'errors must map cause ids'),
])
def test_merge_findings_refuses_bad_input(findings, checked, errors, message):
    with pytest.raises(r.ReportInputError, match=message.replace('(', r'\(').replace(')', r'\)').replace('[', r'\[').replace(']', r'\]')):
        r.merge_findings(findings, checked, errors)


def test_build_report_contract_and_verdict():
    report = r.build_report(CLUSTER, all_ok() + [NSG_PROBLEM, IPT_PROBLEM], {'run_commands': 3, 'duration_s': 12.345},
                            '2026-11-25T21:00:00Z')
    assert list(report) == ['schema', 'generated_at', 'outcome', 'error', 'cluster', 'findings', 'problems', 'unknown', 'stats']
    assert report['outcome'] == 'problem' and report['error'] is None and report['unknown'] == []
    assert report['schema'] == 'aks.tunnel/report/v1'
    assert report['cluster'] == CLUSTER
    assert report['problems'] == [NSG, IPT]
    assert report['stats'] == {'run_commands': 3, 'arm_calls': None, 'kube_calls': None, 'throttled': None, 'retries': None,
                               'retry_wait_s': None, 'duration_s': 12.3}
    assert r.should_fail(report) is True and r.should_fail(report, False) is False
    assert r.should_fail(r.build_report(CLUSTER, all_ok())) is False
    assert json.loads(r.render_json(report)) == report


@pytest.mark.parametrize('cluster, stats, message', [
    ('x', None, 'cluster must be a dict'),
    (CLUSTER, {'bogus': 1}, 'stats has unknown key(s) bogus'),
    (CLUSTER, {'run_commands': 'many'}, "stats.run_commands must be a number or null, got 'many'"),
    (CLUSTER, {'duration_s': True}, 'stats.duration_s must be a number or null, got True'),
])
def test_build_report_refuses_bad_input(cluster, stats, message):
    with pytest.raises(r.ReportInputError) as exc:
        r.build_report(cluster, all_ok(), stats)
    assert str(exc.value).startswith(message)


def pad(cause):
    """The cause column of a summary line: as wide as the longest cause id of the registry, then two spaces."""
    return cause.ljust(max(len(c) for c in CAUSE_IDS) + 2)


def test_summary_lines_one_per_cause_and_the_exact_next_commands():
    report = r.build_report(CLUSTER, all_ok() + [NSG_PROBLEM, IPT_PROBLEM])
    lines = r.summary_lines(report, 'playbooks/remediate.yml', '-e @.lab/vars.yml')
    assert lines[0] == 'aks.tunnel diagnosis of rg-aks-lab/aks-lab (konnectivity, 7 nodes): 2 problem(s): nsg_blocks_10250, iptables_blocks_10250'
    assert lines[1] == (pad('nsg_blocks_10250') + "PROBLEM  NSG rule(s) 'deny-kubelet' deny TCP 10250 | nodes: n2"
                        ' | blocking: aks-nsg/deny-kubelet (priority 310, Inbound)')
    assert lines[2] == pad('ufw_blocks_10250') + 'OK       fine'
    assert lines[3] == (pad('iptables_blocks_10250') + 'PROBLEM  iptables blocks TCP 10250 on 1 node(s) | nodes: n0'
                        ' | blocking: n0: -A INPUT -p tcp --dport 10250 -j DROP')
    assert lines[1 + len(CAUSE_IDS):] == [
        'Next (plan the repair, changes nothing):',
        '  nsg_blocks_10250: ansible-playbook playbooks/remediate.yml --check --diff --tags nsg -e @.lab/vars.yml',
        '  iptables_blocks_10250: ansible-playbook playbooks/remediate.yml --check --diff --tags iptables -e @.lab/vars.yml',
        '  all: ansible-playbook playbooks/remediate.yml --check --diff --tags nsg,iptables -e @.lab/vars.yml',
    ]
    clean = r.summary_lines(r.build_report(CLUSTER, all_ok()), before=report)
    assert clean[0].endswith(': no problem found')
    assert clean[1].startswith(pad('nsg_blocks_10250') + 'PROBLEM -> OK       fine')
    assert len(clean) == 1 + len(CAUSE_IDS)


def test_nodes_are_shortened():
    finding = make_finding(SNAT, 'problem', 'SNAT exhaustion', ['a', 'b', 'c', 'd', 'e', 'f'])
    line = r.summary_lines(r.build_report(CLUSTER, all_ok() + [finding]))[5]
    assert line.endswith('| nodes: a, b, c, d (+2 more)')


def test_junit_problem_is_failure_unknown_is_skipped():
    report = r.build_report(CLUSTER, [NSG_PROBLEM, ok(UFW)], {'duration_s': 5}, '2026-11-25T21:00:00Z', checked=[NSG, UFW])
    root = ET.fromstring(r.render_junit(report))
    assert (root.get('tests'), root.get('failures'), root.get('skipped')) == (str(len(CAUSE_IDS)), '1', str(len(CAUSE_IDS) - 2))
    cases = root.findall('.//testcase')
    assert [c.get('classname') for c in cases] == ['aks.tunnel.nsg', 'aks.tunnel.ufw', 'aks.tunnel.iptables', 'aks.tunnel.egress',
                                                   'aks.tunnel.snat', 'aks.tunnel.konnectivity', 'aks.tunnel.nft', 'aks.tunnel.kubelet',
                                                   'aks.tunnel.network', 'aks.tunnel.vnet']
    failure = cases[0].find('failure')
    assert failure.get('message') == "NSG rule(s) 'deny-kubelet' deny TCP 10250"
    assert 'nodes: n2' in failure.text
    assert cases[1].find('failure') is None and cases[1].find('skipped') is None
    assert cases[2].find('skipped').get('message') == r.NOT_CHECKED


def test_markdown_lists_findings_and_before_after():
    report = r.build_report(CLUSTER, all_ok() + [NSG_PROBLEM], {'run_commands': 2}, '2026-11-25T21:00:00Z')
    text = r.render_markdown(report, 'playbooks/remediate.yml', '-e @v.yml')
    assert text.startswith('# aks.tunnel report: rg-aks-lab/aks-lab\n')
    assert '| `nsg_blocks_10250` | PROBLEM | n2 | NSG rule(s) \'deny-kubelet\' deny TCP 10250 |' in text
    assert 'Next: `ansible-playbook playbooks/remediate.yml --check --diff --tags nsg -e @v.yml`' in text
    assert '* run commands: 2, ARM calls: n/a, Kubernetes calls: n/a, throttled: n/a, retries: n/a (n/a s waiting), duration: n/a s' in text
    after = r.render_markdown(r.build_report(CLUSTER, all_ok()), before=report)
    assert '| `nsg_blocks_10250` | PROBLEM | OK | fine |' in after


UNKNOWN_NSG = make_finding(NSG, 'unknown', 'NSG verdict undecided for 1 node(s)', ['n2'])


@pytest.mark.parametrize('findings, checked, error, outcome, unknown, headline, fails', [
    (all_ok, None, None, 'ok', [], 'no problem found', (False, False, False)),
    (lambda: all_ok() + [NSG_PROBLEM], None, None, 'problem', [], '1 problem(s): nsg_blocks_10250', (True, True, False)),
    # A checked cause that could not be decided is never an all-clear; it fails the run unless fail_on_unknown is off.
    (lambda: all_ok() + [UNKNOWN_NSG], None, None, 'unknown', [NSG], '1 unknown: nsg_blocks_10250', (True, False, True)),
    (lambda: [IPT_PROBLEM, UNKNOWN_NSG], [NSG, IPT], None, 'problem', [NSG],
     '1 problem(s): iptables_blocks_10250; 1 unknown: nsg_blocks_10250', (True, True, True)),
    # Causes left out by tags are UNKNOWN "not checked" but do not count.
    (lambda: [ok(NSG)], [NSG], None, 'ok', [], 'no problem found', (False, False, False)),
    # The diagnosis could not run: always fails, whatever the switches.
    (lambda: [], None, 'the cluster model could not be read: not found (HTTP 404)', 'error', list(CAUSE_IDS),
     'the diagnosis could not run: the cluster model could not be read: not found (HTTP 404)', (True, True, True)),
])
def test_outcome_headline_and_verdict(findings, checked, error, outcome, unknown, headline, fails):
    report = r.build_report(CLUSTER, findings(), checked=checked, error=error)
    assert (report['outcome'], report['unknown']) == (outcome, unknown)
    assert r.summary_lines(report)[0].endswith(': ' + headline)
    assert (r.should_fail(report), r.should_fail(report, True, False), r.should_fail(report, False, True)) == fails


def test_junit_unknown_is_an_error_and_a_failed_diagnosis_adds_a_testcase():
    report = r.build_report(CLUSTER, [UNKNOWN_NSG, ok(UFW)], checked=[NSG, UFW])
    root = ET.fromstring(r.render_junit(report))
    assert (root.get('tests'), root.get('failures'), root.get('errors'), root.get('skipped')) == (str(len(CAUSE_IDS)), '0', '1', str(len(CAUSE_IDS) - 2))
    assert root.findall('.//testcase')[0].find('error').get('message') == 'NSG verdict undecided for 1 node(s)'
    failed = r.build_report(CLUSTER, [], error='the cluster model could not be read: denied (HTTP 403)',
                            errors=dict((c, 'the cluster model could not be read: denied (HTTP 403)') for c in CAUSE_IDS))
    root = ET.fromstring(r.render_junit(failed))
    cases = root.findall('.//testcase')
    assert cases[0].get('classname') == 'aks.tunnel.diagnosis' and 'denied (HTTP 403)' in cases[0].find('error').text
    assert (root.get('tests'), root.get('errors')) == (str(len(CAUSE_IDS) + 1),) * 2
    assert '* outcome: error - the cluster model could not be read: denied (HTTP 403)' in r.render_markdown(failed)


def test_causes_without_a_repair_get_their_commands_not_the_remediation_playbook():
    nft = make_finding('nft_blocks_10250', 'problem', 'nft rule drops TCP 10250 on 1 node(s)', ['n3'], [],
                       {'summary': 'delete the rule', 'nodes': ['n3'], 'nft_rules': {'n3': ['tcp dport 10250 drop # handle 4']},
                        'commands': ['nft list ruleset > /root/nft-backup.nft', 'nft delete rule inet hostfw input handle 4']})
    report = r.build_report(CLUSTER, all_ok() + [nft, NSG_PROBLEM])
    lines = r.summary_lines(report, 'playbooks/remediate.yml', '-e @v.yml')
    # One repairable cause: its command only (no "all" line repeating it).
    assert '  nsg_blocks_10250: ansible-playbook playbooks/remediate.yml --check --diff --tags nsg -e @v.yml' in lines
    assert not any(line.startswith('  all: ') for line in lines)
    assert not any('--tags nft' in line for line in lines)
    # The manual steps themselves (the first three; report.md has every one), never the remediation playbook.
    assert lines[-3:] == ['No safe automatic repair (do this by hand; report.md has every step):',
                          '  nft_blocks_10250: nft list ruleset > /root/nft-backup.nft',
                          '                    nft delete rule inet hostfw input handle 4']
    text = r.render_markdown(report)
    assert 'No safe automatic repair; by hand:\n\n```sh\nnft list ruleset > /root/nft-backup.nft\nnft delete rule inet hostfw input handle 4\n```' in text


# Issue 18: the next commands after a check run, for findings without an automatic repair, and the verdict line.
KONN_OOM = make_finding(KONN, 'problem', 'pod a on n0 was OOMKilled (exit 137)', ['n0'], [],
                        {'advice': ['raise the replica count with aks.tunnel.konnectivity_ladder state=present'],
                         'deployment_resources': {'namespace': 'kube-system', 'deployment': 'konnectivity-agent', 'container': 'konnectivity-agent',
                                                  'current_memory_limit': '32Mi', 'suggested_memory_limit': '64Mi'},
                         'caveat': 'AKS reconciles the agent Deployment'})
KONN_LADDER = make_finding(KONN, 'problem', 'the ladder gives 2 replicas, 3 expected', [], [], {'ladder': {'configmap': 'x'}})
EGRESS_FIREWALL = make_finding(EGRESS, 'problem', 'egress to 9000 blocked outside the NSGs', ['n0'], [],
                               {'egress': [{'kind': 'tcp', 'port': 9000}], 'summary': 'allow TCP 9000 to the API server on the egress firewall',
                                'commands': ['az network firewall policy rule-collection-group collection rule add ...']})
EGRESS_NSG = make_finding(EGRESS, 'problem', 'egress to 9000 blocked by an NSG', ['n0'], [], {'nsg_rules': [{'nsg': 'x', 'port': 9000}]})


@pytest.mark.parametrize('finding, automatic, next_line', [
    (NSG_PROBLEM, True, 'ansible-playbook p.yml --check --diff --tags nsg -e @v.yml'),
    (KONN_LADDER, True, 'ansible-playbook p.yml --check --diff --tags konnectivity -e @v.yml'),
    # OOM kills need a memory limit AKS manages: the manual step, never the remediation playbook.
    (KONN_OOM, False, 'raise the memory limit of kube-system/konnectivity-agent (container konnectivity-agent) from 32Mi to 64Mi: '
                      'AKS reconciles the agent Deployment'),
    (EGRESS_FIREWALL, False, 'az network firewall policy rule-collection-group collection rule add ...'),
    (EGRESS_NSG, True, 'ansible-playbook p.yml --check --diff --tags egress -e @v.yml'),
    (ok(NSG), True, None),
])
def test_next_command_per_finding(finding, automatic, next_line):
    assert r.automatic_repair(finding) is automatic
    assert r.next_command(finding, 'p.yml', '-e @v.yml') == next_line


def test_a_check_run_reports_the_plan_and_suggests_the_real_run():
    report = r.build_report(CLUSTER, all_ok() + [NSG_PROBLEM, IPT_PROBLEM, KONN_OOM])
    lines = r.summary_lines(report, 'playbooks/remediate.yml', '-e @v.yml', before=report, plan=True)
    assert lines[0].startswith('aks.tunnel remediation plan (check mode: nothing changed) for rg-aks-lab/aks-lab')
    assert lines[1].startswith(pad(NSG) + 'PROBLEM (check mode: nothing changed) ')
    assert not any('PROBLEM -> PROBLEM' in line or '--check' in line for line in lines), lines
    assert lines[1 + len(CAUSE_IDS):] == [
        'Next (run the repair planned above):',
        '  nsg_blocks_10250: ansible-playbook playbooks/remediate.yml --tags nsg -e @v.yml',
        '  iptables_blocks_10250: ansible-playbook playbooks/remediate.yml --tags iptables -e @v.yml',
        '  all: ansible-playbook playbooks/remediate.yml --tags nsg,iptables -e @v.yml',
        'No safe automatic repair (do this by hand; report.md has every step):',
        '  konnectivity_agent_scaling: raise the memory limit of kube-system/konnectivity-agent (container konnectivity-agent) from 32Mi '
        'to 64Mi: AKS reconciles the agent Deployment',
    ]
    text = r.render_markdown(report, 'playbooks/remediate.yml', '-e @v.yml', before=report, plan=True)
    assert '| `nsg_blocks_10250` | PROBLEM | check mode: nothing changed |' in text
    assert 'Next: `ansible-playbook playbooks/remediate.yml --tags nsg -e @v.yml`' in text and '--check' not in text


@pytest.mark.parametrize('report, plan, failed, line', [
    (r.build_report(CLUSTER, all_ok() + [NSG_PROBLEM]), False, [], '1 problem(s): nsg_blocks_10250; see /r/report.md'),
    (r.build_report(CLUSTER, all_ok() + [NSG_PROBLEM]), True, ['nsg: lab: the NSG write failed'],
     'The remediation plan is above (check mode: nothing changed); repairs that failed: nsg: lab: the NSG write failed; see /r/report.md'),
    (r.build_report(CLUSTER, [], error='the cluster model could not be read: not found (HTTP 404)'), False, [],
     'The diagnosis could not run: the cluster model could not be read: not found (HTTP 404); see /r/report.md'),
])
def test_verdict_line_is_one_line(report, plan, failed, line):
    assert r.verdict_line(report, plan, failed, '/r/report.md') == line


def test_junit_times_are_the_times_of_the_evidence_of_each_cause():
    times = r.cause_times({'nsg': 1.25, 'probe': 4.5, 'snat': 0.75, 'konnectivity': 2.0, 'bogus': True})
    assert times[NSG] == 1.25 and times[UFW] == 4.5 and times[SNAT] == 0.75 and times[KONN] == 2.0
    report = r.build_report(CLUSTER, all_ok() + [NSG_PROBLEM], {'duration_s': 9})
    cases = ET.fromstring(r.render_junit(report, times)).findall('.//testcase')
    assert [float(c.get('time')) for c in cases[:6]] == [1.25, 4.5, 4.5, times[EGRESS], 0.75, 2.0]
    assert times[EGRESS] >= 4.5 and all(float(c.get('time')) >= 0 for c in cases)
    assert [c.get('time') for c in ET.fromstring(r.render_junit(report)).findall('.//testcase')] == ['0.000'] * len(CAUSE_IDS)


@pytest.mark.parametrize('remediation, blocking', [
    ({'firewall': {'denied': [
        {'flow': 'TCP 443', 'rule': 'firewall policy fp, rule collection group g (priority 200), rule collection c (priority 100, Deny), '
                                    'network rule deny-443'},
        {'flow': 'UDP 1194', 'rule': None}]}},
     'TCP 443: firewall policy fp, rule collection group g (priority 200), rule collection c (priority 100, Deny), network rule deny-443; '
     'UDP 1194: no rule allows it (the default deny)'),
    ({'appliance': {'appliance_ip': '10.241.0.5', 'route': "route table rt, route 'nva' (0.0.0.0/0) -> VirtualAppliance 10.241.0.5"}},
     "appliance 10.241.0.5 (route table rt, route 'nva' (0.0.0.0/0) -> VirtualAppliance 10.241.0.5)"),
])
def test_the_egress_blocking_text_names_the_firewall_rule_or_the_appliance(remediation, blocking):
    """Issue 16: what blocks the egress through a route table, in the summary line."""
    finding = make_finding(EGRESS, 'problem', 'egress blocked', ['n0'], [], remediation)
    report = r.build_report(CLUSTER, [f for f in all_ok() if f['cause'] != EGRESS] + [finding])
    line = [x for x in r.summary_lines(report, 'playbooks/remediate.yml', '') if x.startswith(pad(EGRESS))][0]
    assert line.endswith(' | blocking: ' + blocking), line
