#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2026 aks.tunnel contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r'''
module: tunnel_report
short_description: Write the aks.tunnel diagnosis report (report.json, report.md, junit.xml) and decide the verdict
version_added: 0.1.0
description:
  - Merges the findings of the detection modules into exactly one finding per cause id of the cause registry
    (C(nsg_blocks_10250), C(ufw_blocks_10250), C(iptables_blocks_10250), C(egress_ports_blocked), C(snat_exhaustion),
    C(konnectivity_agent_scaling), C(nft_blocks_10250), C(kubelet_not_serving), C(network_path_blocks_10250));
    when several checks report on one cause the most severe status wins, except that
    a real probe that reached the API server settles an undecided static NSG evaluation of the egress.
  - With O(evidence) (what the aks.tunnel.diagnose role passes) the report is computed from the registered module
    results - their findings, the causes of every check that failed (C(unknown) with the module's message), the
    API-call totals and the Run Command count, and the cluster block from the C(aks.tunnel.aks_cluster_info) result.
    With O(findings) the caller passes finding dicts of its own checks instead.
  - With O(evidence), every node that the probe or the API server saw unreachable on TCP 10250 ends in a C(problem) or
    C(unknown) finding - a node that no finding of a kubelet-path cause names becomes C(network_path_blocks_10250).
  - A cause that was not checked in this run (tags) or that no check reported on is C(unknown) with the reason.
  - Writes C(report.json) (schema C(aks.tunnel/report/v1)), C(report.md) and C(junit.xml) (one testcase per cause;
    problem = failure, checked but undecided = error, not checked in this run = skipped; a diagnosis that could not
    run adds an error testcase C(aks.tunnel.diagnosis)) into O(report_dir), and returns the report, a readable summary (one line per
    cause, then the exact commands to run next) and whether the run should fail.
  - Runs on the controller (action plugin). Never fails because of problems; the caller fails after printing the
    summary when RV(fail) is true.
  - Summaries, evidence and names come from the nodes, the cluster and ARM, so anyone who names a pod, adds a rule
    comment or runs a process on a node writes some of it. C(report.md) shows it as literal text (Markdown and HTML
    escaped, one line per table cell or list item), C(junit.xml) as valid XML 1.0 and the summary without control
    characters; a control character is shown as C(\xNN) (for example C(\x1b[2J)). C(report.json) and RV(report)
    keep the text as it was (JSON escapes it).
author: aks.tunnel contributors (@aks-tunnel)
options:
  evidence:
    description:
      - Registered results by evidence source, failed ones included - C(model) (aks.tunnel.aks_cluster_info),
        C(probe) (aks.tunnel.vmss_runcommand_probe), C(nsg) (aks.tunnel.nsg_port_check), C(snat)
        (aks.tunnel.snat_usage_info), C(konnectivity) (a list - aks.tunnel.konnectivity_ladder and
        aks.tunnel.konnectivity_agent_info). A missing or skipped source did not run.
      - Mutually exclusive with O(findings); one of the two is required.
    type: dict
  causes:
    description:
      - Cause ids this run covers (the others are C(unknown), not checked). Default - every cause.
      - With O(findings), the default of O(checked).
    type: list
    elements: str
  findings:
    description:
      - Findings of your own checks (each C(cause), C(status), C(summary), C(affected_nodes), C(evidence), C(remediation)).
      - Mutually exclusive with O(evidence); one of the two is required.
    type: list
    elements: raw
  cluster:
    description:
      - C(name), C(resource_group), C(tunnel_component), C(node_count) and C(private) of the cluster.
      - With O(evidence), taken from its C(model) result; these values are used when the model could not be read.
    type: dict
    default: {}
  checked:
    description: Cause ids checked in this run (with O(findings)). Default - O(causes), else every cause.
    type: list
    elements: str
  errors:
    description: Cause id to the reason its check failed; each becomes an C(unknown) finding for that cause (a problem still wins).
    type: dict
    default: {}
  stats:
    description:
      - C(run_commands), C(arm_calls), C(kube_calls), C(throttled), C(retries), C(retry_wait_s), C(duration_s); missing
        ones are null in the report.
      - C(arm_calls) and C(kube_calls) are the HTTP requests the diagnosis sent to Azure Resource Manager and to the
        Kubernetes API server. With O(evidence) they, C(run_commands) and the retry counters are added up from the
        results (the C(api_calls) of every module result); a key given here overrides the computed value.
    type: dict
    default: {}
  started_at:
    description: Unix time the diagnosis started; gives C(stats.duration_s) when O(stats) has none.
    type: float
  report_dir:
    description: Directory for the report files (created when missing).
    type: path
    default: aks-tunnel-report
  before:
    description:
      - The report before a remediation; the summary and C(report.md) then show before and after, and it is written as C(report-before.json).
      - A finding is OK after a repair only if the repair removed the cause - konnectivity-agent OOM kills of O(before) stay
        C(problem) while the live memory limit of the agent (O(evidence)) is below the suggested one, even when the recreated pods
        no longer show the kills (C(unknown) when the limit could not be read).
    type: dict
  fail_on_problem:
    description: Whether RV(fail) is true when a problem was found.
    type: bool
    default: true
  fail_on_unknown:
    description:
      - Whether RV(fail) is true when a cause checked in this run could not be decided (status C(unknown)); causes not
        checked in this run (tags) never fail the run.
      - Set it to V(false) for a read-only identity that cannot run the node checks, to fail only on problems.
    type: bool
    default: true
  remediate_playbook:
    description:
      - How the remediation playbook is called in the suggested next commands.
      - Default - the remediation playbook next to the playbook that runs (C(playbooks/diagnose.yml) gives C(playbooks/remediate.yml),
        C(aks.tunnel.diagnose) gives C(aks.tunnel.remediate)), else C(playbooks/remediate.yml).
    type: str
  extra_args:
    description:
      - Arguments appended to the suggested next commands (for example C(-e @.lab/vars.yml)).
      - Default - the arguments of the running ansible-playbook command that the next command must repeat - every C(-e) (vars files
        and values, in order), C(-i) when not the configured default, and the vault options - so the next command reads the same
        cluster with the same auth, kubeconfig and report directory. Values of secret-named keys given inline (C(secret),
        C(password), C(token), ...) are printed as C(REDACTED); pass them in a vars file.
    type: str
  plan:
    description:
      - "The report of a check run of the remediation - nothing changed. With O(before), each cause shows its status with
        C(check mode: nothing changed) instead of before -> after, the next commands are the real run (without C(--check)),
        and RV(fail) is true only when the diagnosis could not run or O(repairs_failed) is not empty."
    type: bool
    default: false
  source_times:
    description:
      - Seconds each evidence source took (C(probe), C(nsg), C(snat), C(konnectivity), ...), as the aks.tunnel.diagnose role measures
        them. The JUnit testcase time of a cause is the sum of the times of the sources it reads; without one it is 0.
    type: dict
    default: {}
  repairs_failed:
    description: Repairs that failed (aks.tunnel.remediate); RV(fail) is true when there is one, and RV(verdict) names them.
    type: list
    elements: str
    default: []
  write:
    description: Write the files (V(false) only returns the report).
    type: bool
    default: true
  display:
    description: Print the summary as plain lines on the controller's terminal (in addition to RV(summary)).
    type: bool
    default: true
extends_documentation_fragment:
  - aks.tunnel.attributes
attributes:
  check_mode:
    support: full
    details:
      - The report files are output, not managed state, so they are written in check mode too.
  diff_mode:
    support: none
  idempotent:
    support: full
    details:
      - Always reports no change.
  action:
    support: full
    description: Indicates this has a corresponding action plugin so some parts of the options can be executed on the controller.
notes:
  - Needs no Azure or Kubernetes access.
'''

EXAMPLES = r'''
- name: Report what the checks of a custom play found (failed checks included), computed from their results
  aks.tunnel.tunnel_report:
    evidence:
      model: "{{ model }}"           # registered aks.tunnel.aks_cluster_info
      nsg: "{{ nsg }}"               # registered aks.tunnel.nsg_port_check, in a block whose rescue keeps going
    causes: [nsg_blocks_10250]
    cluster: {name: aks-prod, resource_group: rg-aks-prod}
  register: report

- name: Report the findings of a custom pipeline
  aks.tunnel.tunnel_report:
    findings: "{{ [nsg.finding] + probe.findings }}"
    checked: [nsg_blocks_10250, ufw_blocks_10250, iptables_blocks_10250, egress_ports_blocked]
    cluster: {name: aks-prod, resource_group: rg-aks-prod, tunnel_component: konnectivity, node_count: 12, private: false}
    report_dir: "{{ playbook_dir }}/aks-tunnel-report"
  register: report

- name: Fail the pipeline on problems, after the report is written (the summary is printed already)
  ansible.builtin.fail:
    msg: "{{ report.verdict }}"
  when: report.fail
'''

RETURN = r'''
report:
  description: The report.json document.
  returned: success
  type: dict
  contains:
    schema: {description: C(aks.tunnel/report/v1)., type: str, returned: success}
    generated_at: {description: UTC time of the report., type: str, returned: success}
    outcome:
      description:
        - C(error) when the diagnosis could not run (the cluster could not be read), else C(problem) when a cause is a problem,
          else C(unknown) when a checked cause could not be decided, else C(ok) (every checked cause was proven fine or does not apply).
      type: str
      returned: success
      choices: [ok, problem, unknown, error]
    error: {description: Why the diagnosis could not run (null when it ran)., type: str, returned: success}
    cluster: {description: "name, resource_group, tunnel_component, node_count, private.", type: dict, returned: success}
    findings: {description: "Exactly one finding per cause id, in the fixed cause order.", type: list, elements: dict, returned: success}
    problems: {description: Cause ids with status problem., type: list, elements: str, returned: success}
    unknown: {description: "Cause ids checked in this run whose status is unknown (not decided; the reason is the summary).",
              type: list, elements: str, returned: success}
    stats:
      description: "run_commands, arm_calls, kube_calls, throttled, retries, retry_wait_s, duration_s (null when not measured)."
      type: dict
      returned: success
  sample:
    schema: aks.tunnel/report/v1
    generated_at: '2026-11-25T21:30:00Z'
    outcome: problem
    error: null
    cluster: {name: aks-prod, resource_group: rg-aks-prod, tunnel_component: konnectivity, node_count: 7, private: false}
    findings: [{cause: nsg_blocks_10250, status: problem, summary: "NSG rule(s) 'deny-kubelet' deny TCP 10250 ...",
                affected_nodes: [aks-user1-12345678-vmss000002], evidence: [], remediation: {}}]
    problems: [nsg_blocks_10250]
    unknown: []
    stats: {run_commands: 5, arm_calls: 27, kube_calls: 9, throttled: 0, retries: 0, retry_wait_s: 0.0, duration_s: 21.2}
problems:
  description: Cause ids with status problem.
  returned: success
  type: list
  elements: str
  sample: [nsg_blocks_10250]
summary:
  description: The readable summary, one line per cause, then the commands to run next.
  returned: success
  type: list
  elements: str
files:
  description: Absolute paths of the files written (C(json), C(markdown), C(junit), and C(before) with O(before)).
  returned: success
  type: dict
  sample: {json: /work/aks-tunnel-report/report.json, markdown: /work/aks-tunnel-report/report.md, junit: /work/aks-tunnel-report/junit.xml}
outcome:
  description: The report's C(outcome) (C(ok), C(problem), C(unknown) or C(error)).
  returned: success
  type: str
  sample: problem
unknown:
  description: Cause ids checked in this run that could not be decided.
  returned: success
  type: list
  elements: str
  sample: []
fail:
  description:
    - True when the diagnosis could not run, when a problem was found and O(fail_on_problem) is true, when a checked
      cause could not be decided and O(fail_on_unknown) is true, or when a repair failed (O(repairs_failed)). With O(plan) only
      the first and the last.
  returned: success
  type: bool
  sample: true
verdict:
  description: One line for the end of a failing run - what was found (or why the diagnosis could not run) and where the report is.
  returned: success
  type: str
  sample: "1 problem(s): nsg_blocks_10250; see /work/aks-tunnel-report/report.md"
'''
