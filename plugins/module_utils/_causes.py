# -*- coding: utf-8 -*-
# Copyright (c) 2026 aks.tunnel contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The cause registry: one definition per cause, and the finding shape shared by engines, modules, roles and the report.

Everything else derives from CAUSES: the report order, the playbook tags, the argument-spec choices of the roles
(checked by tests/unit/plugins/module_utils/test_causes.py), which evidence sources a diagnosis runs, the summary and docs/causes.md.
Adding a cause: docs/contributing.md.

Pure Python: imported by filters, modules, the action plugin and the lab alike.
"""

from __future__ import annotations

from collections import namedtuple

NSG_BLOCKS_10250 = 'nsg_blocks_10250'
UFW_BLOCKS_10250 = 'ufw_blocks_10250'
IPTABLES_BLOCKS_10250 = 'iptables_blocks_10250'
EGRESS_PORTS_BLOCKED = 'egress_ports_blocked'
SNAT_EXHAUSTION = 'snat_exhaustion'
KONNECTIVITY_AGENT_SCALING = 'konnectivity_agent_scaling'
NFT_BLOCKS_10250 = 'nft_blocks_10250'
KUBELET_NOT_SERVING = 'kubelet_not_serving'
NETWORK_PATH_BLOCKS_10250 = 'network_path_blocks_10250'
APISERVER_SUBNET_PORTS_BLOCKED = 'apiserver_subnet_ports_blocked'

# Evidence sources: one task file of the aks.tunnel.diagnose role each (roles/diagnose/tasks/<source>.yml), one
# registered result (or a list of them) each.  A source that fails makes every cause it reports on UNKNOWN.
SOURCE_PROBE = 'probe'                # vmss_runcommand_probe: kubelets and egress from the tunnel nodes, firewalls of the rest
SOURCE_NSG = 'nsg'                    # nsg_port_check: NSG evaluation of the kubelet flows and the egress
SOURCE_SNAT = 'snat'                  # snat_usage_info: Azure Monitor SNAT metrics of the outbound load balancer
SOURCE_KONNECTIVITY = 'konnectivity'  # konnectivity_ladder (query) + konnectivity_agent_info
SOURCE_PATH = 'path'                  # network_path_info: Virtual Network Manager admin rules, effective routes of the node NICs
SOURCE_APISERVER = 'apiserver'        # kubelet_apiserver_probe: each kubelet through the API server, as kubectl logs goes
SOURCE_EGRESS = 'egress'              # egress_route_info: the route to the API server and the Azure Firewall rule behind it
SOURCES = (SOURCE_PROBE, SOURCE_PATH, SOURCE_NSG, SOURCE_SNAT, SOURCE_KONNECTIVITY, SOURCE_APISERVER, SOURCE_EGRESS)
# A source that reads the result of another runs after it (path takes the probe's unreachable nodes).
SOURCE_AFTER = {SOURCE_PATH: (SOURCE_PROBE,), SOURCE_EGRESS: (SOURCE_PROBE,)}

# How a cause is repaired by playbooks/remediate.yml (roles/remediate/tasks/<repair>.yml).
REPAIR_AUTOMATIC = 'automatic'   # the repair changes exactly what the finding proves blocks
REPAIR_PARTIAL = 'partial'       # some findings have a safe repair, the others get exact advice
REPAIR_ADVICE = 'advice'         # no safe automatic repair: the finding says what to change

Cause = namedtuple('Cause', 'id title tag sources repair repair_tasks remediation_keys kubelet_path')
Cause.__doc__ = """One cause of a broken tunnel.

id: the finding's `cause`; title: one line for humans; tag: the playbook tag (--tags) that selects it;
sources: the evidence sources whose results carry its findings (in the order they are merged);
repair: REPAIR_*; repair_tasks: the task file of the aks.tunnel.remediate role that repairs it (several causes may share
one, e.g. UFW and iptables are repaired by one Run Command per node); remediation_keys: the documented keys of the finding's `remediation` when it is a PROBLEM
(besides `summary`, which every remediation may carry); kubelet_path: the cause makes a kubelet unreachable from the
tunnel, so its findings name unreachable nodes (the report's rule: every unreachable kubelet ends in a PROBLEM or
UNKNOWN finding of such a cause).
"""

CAUSES = (
    Cause(NSG_BLOCKS_10250, 'NSG rule blocks TCP 10250 between nodes', 'nsg', (SOURCE_NSG,), REPAIR_AUTOMATIC, 'nsg',
          ('module', 'nsg_rules'), True),
    Cause(UFW_BLOCKS_10250, 'UFW on a node blocks TCP 10250', 'ufw', (SOURCE_PROBE,), REPAIR_AUTOMATIC, 'node_firewall',
          ('module', 'nodes', 'ufw'), True),
    Cause(IPTABLES_BLOCKS_10250, 'iptables rule on a node drops/rejects TCP 10250', 'iptables', (SOURCE_PROBE,), REPAIR_AUTOMATIC,
          'node_firewall', ('module', 'nodes', 'iptables', 'iptables_rules'), True),
    Cause(EGRESS_PORTS_BLOCKED, 'Tunnel egress to the API server is blocked', 'egress', (SOURCE_PROBE, SOURCE_NSG, SOURCE_EGRESS),
          REPAIR_PARTIAL, 'egress', ('module', 'nsg_rules', 'egress', 'route', 'firewall', 'appliance', 'dns', 'commands'), False),
    # A NAT gateway finding (issue 16) has nat_gateway/nat_gateway_id/public_ips/fits instead of the load balancer's ports: advice only.
    Cause(SNAT_EXHAUSTION, 'SNAT port exhaustion (load balancer or NAT gateway)', 'snat', (SOURCE_SNAT,), REPAIR_AUTOMATIC, 'snat',
          ('allocated_outbound_ports', 'managed_outbound_ips', 'peak_ports', 'ips_needed', 'fits_current_ips', 'reason', 'advice',
           'nat_gateway', 'nat_gateway_id', 'public_ips', 'fits'), False),
    Cause(KONNECTIVITY_AGENT_SCALING, 'konnectivity-agent under-scaled, OOM-killed or broken ladder', 'konnectivity',
          (SOURCE_KONNECTIVITY,), REPAIR_PARTIAL, 'konnectivity', ('ladder', 'deployment_resources', 'advice', 'caveat'), False),
    Cause(NFT_BLOCKS_10250, 'nftables rule on a node drops/rejects TCP 10250', 'nft', (SOURCE_PROBE,), REPAIR_ADVICE, 'advice',
          ('nodes', 'nft_rules', 'commands'), True),
    Cause(KUBELET_NOT_SERVING, 'The kubelet does not serve TLS on TCP 10250 (down, refusing, or plain HTTP)', 'kubelet',
          (SOURCE_PROBE, SOURCE_APISERVER), REPAIR_ADVICE, 'advice', ('nodes', 'commands'), True),
    Cause(NETWORK_PATH_BLOCKS_10250, 'The network drops TCP 10250 between nodes outside the nodes and the NSGs', 'network',
          (SOURCE_PATH,), REPAIR_ADVICE, 'advice', ('admin_rules', 'routes', 'pairs', 'commands'), True),
    # API Server VNet Integration (issue 16): node subnet -> API server subnet TCP 443/4443, AzureLoadBalancer -> 9988 (TCP and UDP).
    Cause(APISERVER_SUBNET_PORTS_BLOCKED, 'NSGs block the API server subnet ports (API Server VNet Integration)', 'vnet', (SOURCE_NSG,),
          REPAIR_ADVICE, 'advice', ('blocked_flows', 'commands'), False),
)

_BY_ID = dict((c.id, c) for c in CAUSES)
_REPAIR_TASKS = tuple(dict.fromkeys(c.repair_tasks for c in CAUSES))

# The report has exactly one finding per cause id, in this order.
CAUSE_IDS = tuple(c.id for c in CAUSES)
CAUSE_TITLES = dict((c.id, c.title) for c in CAUSES)
CAUSE_TAGS = dict((c.id, c.tag) for c in CAUSES)

# Tags that are not a cause: `symptom` selects the causes the symptom text points to.
TAG_SYMPTOM = 'symptom'

STATUS_PROBLEM = 'problem'
STATUS_OK = 'ok'
STATUS_UNKNOWN = 'unknown'
STATUS_NOT_APPLICABLE = 'not_applicable'
STATUSES = (STATUS_PROBLEM, STATUS_OK, STATUS_UNKNOWN, STATUS_NOT_APPLICABLE)

# When several sources report on one cause, the combined status is the most severe.
_SEVERITY = {STATUS_NOT_APPLICABLE: 0, STATUS_OK: 1, STATUS_UNKNOWN: 2, STATUS_PROBLEM: 3}


class FindingError(ValueError):
    """A finding was built with an unknown cause id or status."""


class PlanError(ValueError):
    """The causes or tags asked for name no known cause."""


def cause(cause_id):
    """The registry entry of a cause id (FindingError for an unknown id)."""
    try:
        return _BY_ID[cause_id]
    except (KeyError, TypeError):
        raise FindingError('unknown cause id %r; expected one of %s' % (cause_id, ', '.join(CAUSE_IDS))) from None


def causes_of_source(source):
    """Cause ids the evidence source reports on, in registry order."""
    return [c.id for c in CAUSES if source in c.sources]


def make_finding(cause_id, status, summary, affected_nodes=None, evidence=None, remediation=None):
    """Return a finding dict in the one shape the report consumes."""
    cause(cause_id)
    if status not in STATUSES:
        raise FindingError('unknown status %r for %s; expected one of %s' % (status, cause_id, ', '.join(STATUSES)))
    return {
        'cause': cause_id,
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


def _cause_list(values, what):
    if values is None:
        return list(CAUSE_IDS)
    if isinstance(values, str):
        values = [v.strip() for v in values.split(',') if v.strip()]
    unknown = [v for v in values if v not in _BY_ID]
    if unknown:
        raise PlanError('%s names unknown cause(s) %s; expected some of %s' % (what, ', '.join(map(str, unknown)), ', '.join(CAUSE_IDS)))
    return [c for c in CAUSE_IDS if c in values]


def plan(checks=None, symptom_causes=None, run_tags=None, skip_tags=None, problems=None):
    """Which causes a run covers and in which order their evidence sources run (or their repairs).

    checks: cause ids the caller allows (aks_tunnel_checks / aks_tunnel_remediate; None = all).
    symptom_causes: cause ids (or tunnel_symptoms results) the symptom points to, most likely first.
    run_tags / skip_tags: ansible_run_tags / ansible_skip_tags. Cause tags select causes; `symptom` selects the symptom's
    causes (every cause when the symptom matched nothing); `all` (a run without --tags) selects every cause; other tags
    (e.g. `always`) select none.
    problems: for a remediation, the cause ids the diagnosis found a problem for; only those are covered.
    Returns {causes: [...registry order], sources: [...symptom's sources first], source_causes: {source: [covered causes]},
    symptom_first: [...], repairs: [remediate task files of the covered causes], repair_causes: {task file: [covered causes]},
    tags: {cause: tag}}.
    """
    allowed = _cause_list(checks, 'the causes to check')
    pointed = []
    for item in symptom_causes or []:
        cause_id = item.get('cause') if isinstance(item, dict) else item
        if cause_id in _BY_ID and cause_id not in pointed:
            pointed.append(cause_id)
    run_tags = set(run_tags or ['all'])
    skip_tags = set(skip_tags or [])
    tag_to_cause = dict((c.tag, c.id) for c in CAUSES)
    tagged = set(tag_to_cause[t] for t in run_tags if t in tag_to_cause)
    if TAG_SYMPTOM in run_tags:
        tagged.update(pointed or CAUSE_IDS)
    if 'all' in run_tags:
        tagged.update(CAUSE_IDS)
    selected = [c for c in allowed if c in tagged and cause(c).tag not in skip_tags and not (TAG_SYMPTOM in skip_tags and c in pointed)]
    if problems is not None:
        problems = _cause_list(problems, 'the problems')
        selected = [c for c in selected if c in problems]
    first = [c for c in pointed if c in selected]
    sources = []
    for cause_id in first:
        for source in cause(cause_id).sources:
            if source not in sources:
                sources.append(source)
    sources += [s for s in SOURCES if s not in sources and any(s in cause(c).sources for c in selected)]
    for source, before in SOURCE_AFTER.items():
        for needed in before:
            if source in sources and needed in sources and sources.index(needed) > sources.index(source):
                sources.remove(needed)
                sources.insert(sources.index(source), needed)
    repairs = []
    for cause_id in selected:
        if cause(cause_id).repair_tasks not in repairs:
            repairs.append(cause(cause_id).repair_tasks)
    return {'causes': selected, 'sources': sources, 'symptom_first': first, 'tags': dict((c, cause(c).tag) for c in selected),
            'source_causes': dict((s, [c for c in causes_of_source(s) if c in selected]) for s in SOURCES), 'repairs': repairs,
            'repair_causes': dict((r, [c for c in selected if cause(c).repair_tasks == r]) for r in _REPAIR_TASKS)}
