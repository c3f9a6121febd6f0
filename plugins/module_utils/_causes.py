# -*- coding: utf-8 -*-
# Copyright (c) 2026 aks.tunnel contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Cause ids and the finding shape shared by engines, modules, roles and the report.

Pure Python: imported by filters, modules and the lab alike.
"""

from __future__ import annotations

NSG_BLOCKS_10250 = 'nsg_blocks_10250'
UFW_BLOCKS_10250 = 'ufw_blocks_10250'
IPTABLES_BLOCKS_10250 = 'iptables_blocks_10250'
EGRESS_PORTS_BLOCKED = 'egress_ports_blocked'
SNAT_EXHAUSTION = 'snat_exhaustion'
KONNECTIVITY_AGENT_SCALING = 'konnectivity_agent_scaling'

# The report has exactly one finding per cause id, in this order.
CAUSE_IDS = (
    NSG_BLOCKS_10250,
    UFW_BLOCKS_10250,
    IPTABLES_BLOCKS_10250,
    EGRESS_PORTS_BLOCKED,
    SNAT_EXHAUSTION,
    KONNECTIVITY_AGENT_SCALING,
)

CAUSE_TITLES = {
    NSG_BLOCKS_10250: 'NSG rule blocks TCP 10250 between nodes',
    UFW_BLOCKS_10250: 'UFW on a node blocks TCP 10250',
    IPTABLES_BLOCKS_10250: 'iptables rule on a node drops/rejects TCP 10250',
    EGRESS_PORTS_BLOCKED: 'Tunnel egress to the API server is blocked',
    SNAT_EXHAUSTION: 'Load balancer SNAT port exhaustion',
    KONNECTIVITY_AGENT_SCALING: 'konnectivity-agent under-scaled, OOM-killed or broken ladder',
}

STATUS_PROBLEM = 'problem'
STATUS_OK = 'ok'
STATUS_UNKNOWN = 'unknown'
STATUS_NOT_APPLICABLE = 'not_applicable'
STATUSES = (STATUS_PROBLEM, STATUS_OK, STATUS_UNKNOWN, STATUS_NOT_APPLICABLE)

# When several sources report on one cause, the combined status is the most severe.
_SEVERITY = {STATUS_NOT_APPLICABLE: 0, STATUS_OK: 1, STATUS_UNKNOWN: 2, STATUS_PROBLEM: 3}


class FindingError(ValueError):
    """A finding was built with an unknown cause id or status."""


def make_finding(cause, status, summary, affected_nodes=None, evidence=None, remediation=None):
    """Return a finding dict in the one shape the report consumes."""
    if cause not in CAUSE_IDS:
        raise FindingError('unknown cause id %r; expected one of %s' % (cause, ', '.join(CAUSE_IDS)))
    if status not in STATUSES:
        raise FindingError('unknown status %r for %s; expected one of %s' % (status, cause, ', '.join(STATUSES)))
    return {
        'cause': cause,
        'status': status,
        'summary': summary,
        'affected_nodes': sorted(set(affected_nodes or [])),
        'evidence': list(evidence or []),
        'remediation': dict(remediation or {}),
    }


def combine_findings(findings):
    """Merge several findings for the same cause: worst status wins, nodes and evidence are unioned."""
    findings = [f for f in findings if f]
    if not findings:
        raise FindingError('combine_findings needs at least one finding')
    causes = {f['cause'] for f in findings}
    if len(causes) != 1:
        raise FindingError('cannot combine findings of different causes: %s' % ', '.join(sorted(causes)))
    worst = max(findings, key=lambda f: _SEVERITY[f['status']])
    nodes = set()
    evidence = []
    remediation = {}
    for finding in findings:
        nodes.update(finding.get('affected_nodes') or [])
        evidence.extend(finding.get('evidence') or [])
        for key, value in (finding.get('remediation') or {}).items():
            remediation.setdefault(key, value)
    summaries = [f['summary'] for f in findings if f['status'] == worst['status'] and f.get('summary')]
    return make_finding(worst['cause'], worst['status'], '; '.join(dict.fromkeys(summaries)), nodes, evidence, remediation)
