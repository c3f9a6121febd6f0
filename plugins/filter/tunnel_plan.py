# -*- coding: utf-8 -*-
# Copyright (c) 2026 aks.tunnel contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
name: tunnel_plan
version_added: 0.1.0
short_description: Which causes a diagnosis or a remediation covers, and in which order its evidence sources run
description:
  - Derived from the cause registry (each cause has a playbook tag and the evidence sources that report on it).
  - The input is the list of cause ids the caller allows (C(aks_tunnel_checks) or C(aks_tunnel_remediate)).
  - A cause is covered when its tag is in O(run_tags) (or the run has no C(--tags), which Ansible reports as C(all)),
    or when O(run_tags) has C(symptom) and the symptom points to it (every cause when the symptom matched nothing),
    and its tag is not in O(skip_tags).
  - The evidence sources of the causes the symptom points to come first, in the symptom's order; the others follow in
    the order C(probe), C(nsg), C(snat), C(konnectivity). Each source appears once.
  - With O(problems) (a remediation), only the causes the diagnosis found a problem for are covered, and RV(_value.repairs)
    names the repair task files of the aks.tunnel.remediate role to run.
options:
  _input:
    description: Cause ids the caller allows.
    type: list
    elements: string
    required: true
  symptom_causes:
    description: The causes the symptom points to, most likely first (the result of P(aks.tunnel.tunnel_symptoms#filter), or cause ids).
    type: list
    elements: raw
    default: []
  run_tags:
    description: C(ansible_run_tags).
    type: list
    elements: string
    default: [all]
  skip_tags:
    description: C(ansible_skip_tags).
    type: list
    elements: string
    default: []
  problems:
    description: Cause ids the diagnosis found a problem for (a remediation covers only those).
    type: list
    elements: string
author: aks.tunnel contributors
"""

EXAMPLES = r"""
- name: Plan the checks of this run
  ansible.builtin.set_fact:
    plan: >-
      {{ aks_tunnel_checks | aks.tunnel.tunnel_plan(symptom_causes=aks_tunnel_symptom | aks.tunnel.tunnel_symptoms,
                                                    run_tags=ansible_run_tags, skip_tags=ansible_skip_tags) }}
  # --tags nsg,egress -> {causes: [nsg_blocks_10250, egress_ports_blocked], sources: [probe, nsg], ...}
"""

RETURN = r"""
_value:
  description: The plan.
  type: dictionary
  contains:
    causes:
      description: The cause ids covered, in registry order.
      type: list
      elements: string
      sample: [nsg_blocks_10250, egress_ports_blocked]
    sources:
      description: The evidence sources to run, in order (the symptom's first).
      type: list
      elements: string
      sample: [probe, nsg]
    symptom_first:
      description: The covered causes the symptom points to, most likely first.
      type: list
      elements: string
      sample: [egress_ports_blocked]
    tags:
      description: Cause id to its playbook tag, for the covered causes.
      type: dictionary
      sample: {nsg_blocks_10250: nsg, egress_ports_blocked: egress}
    source_causes:
      description: Evidence source to the covered causes it reports on.
      type: dictionary
      sample: {probe: [egress_ports_blocked], nsg: [nsg_blocks_10250, egress_ports_blocked], snat: [], konnectivity: []}
    repairs:
      description: Repair task files of the aks.tunnel.remediate role for the covered causes, in order, each once.
      type: list
      elements: string
      sample: [nsg, egress]
    repair_causes:
      description: Repair task file to the covered causes it repairs (every task file of the registry is a key).
      type: dictionary
      sample: {nsg: [nsg_blocks_10250], node_firewall: [], egress: [egress_ports_blocked], snat: [], konnectivity: []}
"""

from ansible.errors import AnsibleFilterError

from ansible_collections.aks.tunnel.plugins.module_utils import _causes


def tunnel_plan(checks, symptom_causes=None, run_tags=None, skip_tags=None, problems=None):
    if not isinstance(checks, (list, tuple, str)):
        raise AnsibleFilterError('tunnel_plan expects a list of cause ids (%s), got %s' % (', '.join(_causes.CAUSE_IDS), type(checks).__name__))
    try:
        return _causes.plan(checks, symptom_causes or [], run_tags or ['all'], skip_tags or [], problems)
    except _causes.PlanError as exc:
        raise AnsibleFilterError('tunnel_plan: %s' % exc) from exc


class FilterModule:
    """aks.tunnel.tunnel_plan"""

    def filters(self):
        return {'tunnel_plan': tunnel_plan}
