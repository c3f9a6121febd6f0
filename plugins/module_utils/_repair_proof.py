# -*- coding: utf-8 -*-
# Copyright (c) 2026 aks.tunnel contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""A finding is OK after a repair only if the repair removed the cause.

Recreating the tunnel pods (after a repair of the 10250/egress path) erases the OOM evidence the agent pods carried
(lastState OOMKilled, restart counts), so the closing diagnosis of a remediation would see healthy agents while their
memory limit is as low as when the kernel killed them. The pre-repair OOM evidence is kept here: an agent whose live
memory limit is still below the limit its OOM kills showed it needs (the suggested one of the "before" report) stays
PROBLEM; UNKNOWN when the live limit could not be read.

Pure Python (standard library only).
"""

from __future__ import annotations

import re

from ansible_collections.aks.tunnel.plugins.module_utils._causes import (
    KONNECTIVITY_AGENT_SCALING,
    STATUS_PROBLEM,
    STATUS_UNKNOWN,
    make_finding,
)

# The problems of the konnectivity finding that are OOM kills of the agent (not memory pressure, replicas or crash loops).
_OOM_RE = re.compile(r'was OOMKilled|kernel OOM-killed|recorded an OOMKilling event')
_UNITS = {'': 1, 'k': 1000, 'M': 1000 ** 2, 'G': 1000 ** 3, 'T': 1000 ** 4,
          'Ki': 1024, 'Mi': 1024 ** 2, 'Gi': 1024 ** 3, 'Ti': 1024 ** 4}
_QUANTITY_RE = re.compile(r'^\s*(\d+(?:\.\d+)?)\s*(Ki|Mi|Gi|Ti|k|M|G|T)?\s*$')


def memory_bytes(text):
    """A Kubernetes memory quantity ('32Mi', '64M', '1Gi', '1048576') in bytes; None when absent or unreadable."""
    match = _QUANTITY_RE.match(str(text)) if text not in (None, '') else None
    if not match:
        return None
    return int(float(match.group(1)) * _UNITS[match.group(2) or ''])


def _finding(report, cause_id):
    for finding in (report or {}).get('findings') or []:
        if isinstance(finding, dict) and finding.get('cause') == cause_id:
            return finding
    return None


def live_memory_limits(konnectivity_results, container):
    """{pod: memory limit text or None} of the agent container, from the aks.tunnel.konnectivity_agent_info result(s)."""
    limits = {}
    for result in konnectivity_results or []:
        if not isinstance(result, dict) or result.get('failed') or result.get('skipped'):
            continue
        for pod in result.get('pods') or []:
            for row in pod.get('containers') or []:
                if row.get('name') == container or (len(pod.get('containers') or []) == 1 and not container):
                    limits[pod.get('name')] = (row.get('limits') or {}).get('memory')
    return limits


def oom_not_fixed(before_report, konnectivity_results, after_findings=()):
    """The konnectivity finding that keeps the pre-repair OOM kills, or None when the repair proved them fixed.

    before_report: the report before the remediation; konnectivity_results: the closing diagnosis's konnectivity
    evidence (a list of results); after_findings: its findings (when one is a konnectivity PROBLEM already, nothing is
    added). PROBLEM when an agent's live memory limit is below the suggested limit, UNKNOWN when it could not be read.
    """
    before = _finding(before_report, KONNECTIVITY_AGENT_SCALING)
    if not before or before.get('status') != STATUS_PROBLEM:
        return None
    kills = [part.strip() for part in str(before.get('summary') or '').split(';') if _OOM_RE.search(part)]
    resources = (before.get('remediation') or {}).get('deployment_resources') or {}
    suggested = resources.get('suggested_memory_limit')
    if not kills or memory_bytes(suggested) is None:
        return None
    if any(f.get('cause') == KONNECTIVITY_AGENT_SCALING and f.get('status') == STATUS_PROBLEM for f in after_findings or ()):
        return None
    evidence = ['before the repair: %s' % kill for kill in kills]
    limits = live_memory_limits(konnectivity_results, resources.get('container'))
    readable = dict((pod, memory_bytes(limit)) for pod, limit in limits.items())
    if not limits or any(value is None for value in readable.values()):
        unread = sorted(str(pod) for pod, value in readable.items() if value is None)
        return make_finding(
            KONNECTIVITY_AGENT_SCALING, STATUS_UNKNOWN,
            'the konnectivity-agent OOM kills found before the repair are not proven fixed: the live memory limit could not be read%s'
            % ((' (no limit on %s)' % ', '.join(unread)) if unread else ''),
            evidence=evidence, remediation=before.get('remediation'))
    low = sorted(pod for pod, value in readable.items() if value < memory_bytes(suggested))
    if not low:
        return None
    live = sorted({str(limits[pod]) for pod in low})
    summary = ('konnectivity-agent memory limit is still %s, below the %s its OOM kills before the repair showed it needs (the '
               'recreated pods no longer show the kills; they are kept from the report before the repair)' % (', '.join(live), suggested))
    evidence += ['pod %s: memory limit %s now' % (pod, limits[pod]) for pod in low]
    return make_finding(KONNECTIVITY_AGENT_SCALING, STATUS_PROBLEM, summary, evidence=evidence, remediation=before.get('remediation'))
