# -*- coding: utf-8 -*-
# Copyright (c) 2026 aks.tunnel contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""From the registered results of a diagnosis to the report's inputs: findings, checked causes, errors, stats, cluster.

The aks.tunnel.diagnose role registers one result per evidence source (failed ones included) and hands them over as
`evidence: {model: <aks_cluster_info result>, probe: ..., nsg: ..., snat: ..., konnectivity: [..., ...]}`; nothing is
counted or copied by hand in YAML.  Which source reports on which cause comes from the cause registry.

Pure Python (standard library only).
"""

from __future__ import annotations

from ansible_collections.aks.tunnel.plugins.module_utils import _causes
from ansible_collections.aks.tunnel.plugins.module_utils import _detectors

MODEL = 'model'
# aks_detectors_info (issue 16): AKS's own detectors, a second opinion attached to the findings, never a source of one.
DETECTORS = 'detectors'
# Keys of a module result that carry findings.
_FINDING_KEYS = ('finding', 'egress_finding')
_FINDINGS_KEYS = ('findings',)
# api_calls keys and the report stats they add up to (other numeric keys keep their name: throttled, retries, ...).
_API_STATS = {'arm': 'arm_calls', 'kube': 'kube_calls'}


class EvidenceError(ValueError):
    """The evidence is not what the diagnose role registers."""


def _results(value, where):
    """A source's value as a list of result dicts (a source may register several results)."""
    if value is None:
        return []
    if isinstance(value, dict):
        return [value] if value else []
    if isinstance(value, list):
        for index, item in enumerate(value):
            if not isinstance(item, dict):
                raise EvidenceError('evidence.%s[%d] must be a registered module result (a dict), got %s' % (where, index, type(item).__name__))
        return [item for item in value if item]
    raise EvidenceError('evidence.%s must be a registered module result or a list of them, got %s' % (where, type(value).__name__))


def _ran(result):
    return not result.get('skipped')


def _failure(result):
    """The message of a failed result, None when it did not fail."""
    if not result.get('failed'):
        return None
    return str(result.get('msg') or 'the module failed without a message').strip()


def add_api_calls(total, result):
    """Add a result's api_calls ({arm, kube, throttled, retries, retry_wait_s, ...}) to total, a dict of stats."""
    calls = result.get('api_calls') if isinstance(result, dict) else None
    if not isinstance(calls, dict):
        return total
    for key, value in calls.items():
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            continue
        name = _API_STATS.get(key, key)
        total[name] = (total.get(name) or 0) + value
    return total


def _run_commands(result):
    counts = result.get('run_commands')
    if isinstance(counts, dict):
        return sum(v for v in counts.values() if isinstance(v, int) and not isinstance(v, bool))
    if isinstance(counts, int) and not isinstance(counts, bool):
        return counts
    return 0


def cluster_of(model, fallback=None):
    """The report's cluster block from the aks_cluster_info result (the fallback names when the model was not read)."""
    fallback = dict(fallback or {})
    model = model if isinstance(model, dict) and _ran(model) and not _failure(model) else {}
    cluster = model.get('cluster') or {}
    tunnel = model.get('tunnel') or {}
    return {
        'name': cluster.get('name') or fallback.get('name'),
        'resource_group': cluster.get('resource_group') or fallback.get('resource_group'),
        'tunnel_component': tunnel.get('component') if model else fallback.get('tunnel_component'),
        'node_count': cluster.get('node_count') if model else fallback.get('node_count'),
        'private': cluster.get('private_cluster') if model else fallback.get('private'),
    }


def collect(evidence, causes=None):
    """Findings, errors and stats of the selected causes from the registered results.

    evidence: {model: result, <source>: result or [results]} (sources from _causes.SOURCES); a missing or skipped
    source did not run. causes: the cause ids this run covers (None = all); findings of other causes are dropped.
    Returns {findings: [...], errors: {cause: message}, checked: [...], stats: {...}, error: message or None}; error says
    why the diagnosis itself could not run (the model read failed).
    A failed source makes each cause it reports on UNKNOWN with the module's message; a failed model read makes every
    cause UNKNOWN (nothing could be checked without it). Every node the probe or the API server saw unreachable ends in a
    PROBLEM or UNKNOWN finding (unexplained_unreachable).
    """
    if not isinstance(evidence, dict):
        raise EvidenceError('evidence must be a dict of registered results by source (%s), got %s'
                            % (', '.join((MODEL,) + _causes.SOURCES), type(evidence).__name__))
    unknown = sorted(set(evidence) - set((MODEL, DETECTORS) + _causes.SOURCES))
    if unknown:
        raise EvidenceError('evidence has unknown source(s) %s; expected some of %s'
                            % (', '.join(unknown), ', '.join((MODEL,) + _causes.SOURCES)))
    selected = list(_causes.CAUSE_IDS if causes is None else causes)
    for cause_id in selected:
        _causes.cause(cause_id)
    findings = []
    errors = {}
    stats = {'run_commands': 0}
    failure = None

    def error(cause_id, message):
        if cause_id in selected:
            errors[cause_id] = ('%s; %s' % (errors[cause_id], message)) if cause_id in errors else message

    models = _results(evidence.get(MODEL), MODEL)
    for result in models:
        add_api_calls(stats, result)
        message = _failure(result)
        if message:
            failure = 'the cluster model could not be read: %s' % message
            for cause_id in selected:
                error(cause_id, failure)
    for source in _causes.SOURCES:
        for result in _results(evidence.get(source), source):
            add_api_calls(stats, result)
            stats['run_commands'] += _run_commands(result)
            if not _ran(result):
                continue
            message = _failure(result)
            if message:
                for cause_id in _causes.causes_of_source(source):
                    error(cause_id, '%s check failed: %s' % (source, message))
                continue
            for finding in _findings_of(result):
                if finding.get('cause') in selected:
                    findings.append(finding)
    findings = _second_opinion(evidence, findings, stats)
    if failure is None:
        leftover = unexplained_unreachable(evidence, findings, selected)
        if leftover is not None:
            findings.append(leftover)
        unproven = unproven_kubelet_tls(evidence, selected)
        if unproven is not None:
            findings.append(unproven)
    return {'findings': findings, 'errors': errors, 'checked': selected, 'stats': stats, 'error': failure}


def _second_opinion(evidence, findings, stats):
    """The findings with the AKS detectors' verdicts in their evidence (aks_detectors_info run in this diagnosis, if any)."""
    results = []
    for result in _results(evidence.get(DETECTORS), DETECTORS):
        add_api_calls(stats, result)
        if _ran(result) and not _failure(result):
            results.extend(d for d in result.get('detectors') or [] if isinstance(d, dict) and d.get('status') not in (None, 'unknown'))
    if not results:
        return findings
    return _detectors.compare(findings, results)[0]


def _findings_of(result):
    for key in _FINDING_KEYS:
        if isinstance(result.get(key), dict):
            yield result[key]
    for key in _FINDINGS_KEYS:
        for finding in result.get(key) or []:
            if isinstance(finding, dict):
                yield finding


def _unreachable_nodes(evidence):
    """Nodes seen unreachable on the kubelet port: ({node: [why]} of the probe, {node: [why]} of the API server)."""
    probe, api = {}, {}
    for result in _results(evidence.get(_causes.SOURCE_PROBE), _causes.SOURCE_PROBE):
        if not _ran(result) or _failure(result):
            continue
        for item in (result.get('summary') or {}).get('unreachable_nodes') or []:
            if isinstance(item, dict) and item.get('node'):
                sources = ', '.join('%s: %s' % (src, status) for src, status in sorted((item.get('from') or {}).items()))
                probe.setdefault(item['node'], []).append('probe of %s from %s' % (item.get('target') or item['node'], sources))
    for result in _results(evidence.get(_causes.SOURCE_APISERVER), _causes.SOURCE_APISERVER):
        if not _ran(result) or _failure(result):
            continue
        for item in result.get('unreachable_nodes') or []:
            if isinstance(item, dict) and item.get('node'):
                api.setdefault(item['node'], []).append('API server: %s' % item.get('error'))
    return probe, api


def _sources_ran(evidence, sources):
    for source in sources:
        results = [r for r in _results(evidence.get(source), source) if _ran(r)]
        if not results or any(_failure(r) for r in results):
            return False
    return True


def unexplained_unreachable(evidence, findings, selected):
    """The network path finding for unreachable kubelets that no finding of a kubelet-path cause names.

    Every node some evidence saw unreachable ends in a PROBLEM or UNKNOWN finding. When every kubelet-path cause was
    checked and every source ran, a node none of them explains is unreachable for a reason outside the nodes and the
    NSGs (PROBLEM); otherwise the reason is not known (UNKNOWN). None when nothing is left over.
    """
    if _causes.NETWORK_PATH_BLOCKS_10250 not in selected:
        return None
    probe, api = _unreachable_nodes(evidence)
    path_causes = [c.id for c in _causes.CAUSES if c.kubelet_path]
    explained = set()
    tunnel_broken = False
    for finding in findings:
        if finding.get('status') not in (_causes.STATUS_PROBLEM, _causes.STATUS_UNKNOWN):
            continue
        if finding.get('cause') in path_causes:
            explained.update(finding.get('affected_nodes') or [])
        else:
            # A broken tunnel (egress, SNAT, konnectivity-agent) cuts the API server off every kubelet at once.
            tunnel_broken = True
    unreachable = dict(probe)
    for node, why in api.items():
        if node in probe:
            unreachable[node] = probe[node] + why
        elif not tunnel_broken:
            unreachable[node] = why + (['the tunnel nodes reach it: the path from the API server through the tunnel fails']
                                       if _sources_ran(evidence, [_causes.SOURCE_PROBE]) else [])
    rest = dict((node, why) for node, why in unreachable.items() if node not in explained)
    if not rest:
        return None
    needed = set(s for c in path_causes for s in _causes.cause(c).sources if s != _causes.SOURCE_APISERVER)
    # PROBLEM only for nodes the probe itself saw unreachable, with every kubelet-path check run; the rest is UNKNOWN.
    decided = set(path_causes) <= set(selected) and _sources_ran(evidence, sorted(needed)) and any(node in probe for node in rest)
    nodes = sorted(rest)
    model = (_results(evidence.get(MODEL), MODEL) or [{}])[0]
    by_name = dict((n.get('name'), n) for n in (model.get('nodes') or []) if isinstance(n, dict))
    commands = []
    for node in nodes[:5]:
        info = by_name.get(node) or {}
        nic = info.get('nic_id') or '<NIC id of %s>' % node
        commands.append('az network watcher run-configuration-diagnostic --resource %s --direction Inbound --protocol TCP '
                        '--destination %s --port 10250 --source <tunnel node IP>' % (nic, info.get('private_ip') or node))
    evidence_lines = ['%s: %s' % (node, '; '.join(rest[node])) for node in nodes[:20]]
    if decided:
        status = _causes.STATUS_PROBLEM
        summary = ('%d node(s) do not answer on TCP 10250 for a reason outside the nodes and the NSGs (no NSG, admin rule, '
                   'route, firewall or kubelet finding explains it)' % len(nodes))
    else:
        status = _causes.STATUS_UNKNOWN
        summary = ('%d node(s) do not answer on TCP 10250 and the checks of this run do not explain why (not every '
                   'kubelet-path check ran)' % len(nodes))
    remediation = {'summary': 'Trace the path from a tunnel node to each node with Network Watcher (an appliance, firewall or '
                              'route outside the NSGs drops the traffic).', 'pairs': evidence_lines, 'commands': commands}
    return _causes.make_finding(_causes.NETWORK_PATH_BLOCKS_10250, status, summary, nodes, evidence_lines, remediation)


def unproven_kubelet_tls(evidence, selected):
    """UNKNOWN for the kubelet when the API server check did not run: the probe connects with TCP, so a kubelet that
    answers without TLS on a node that answered is seen only by a TLS request (the API server's, as kubectl logs goes)."""
    if _causes.KUBELET_NOT_SERVING not in selected:
        return None
    ran = [r for r in _results(evidence.get(_causes.SOURCE_APISERVER), _causes.SOURCE_APISERVER) if _ran(r) and not _failure(r)]
    if ran and all(r.get('reached') == 0 and r.get('probed') and (r.get('finding') or {}).get('status') == _causes.STATUS_OK for r in ran):
        # The API server reached no kubelet at all (the tunnel itself is down), yet its finding found nothing wrong with a
        # kubelet: no kubelet's TLS is proven, so not OK. (A 403 or "No agent" finding is UNKNOWN already, with its reason.)
        return _causes.make_finding(
            _causes.KUBELET_NOT_SERVING, _causes.STATUS_UNKNOWN,
            'the TLS of the kubelets is not proven: the API server reached none of the %d it asked (the tunnel is down, see the '
            'tunnel causes)' % max(r.get('probed') or 0 for r in ran))
    if ran or any(_ran(r) for r in _results(evidence.get(_causes.SOURCE_APISERVER), _causes.SOURCE_APISERVER)):
        return None
    return _causes.make_finding(
        _causes.KUBELET_NOT_SERVING, _causes.STATUS_UNKNOWN,
        'the TLS of the kubelets that answered on TCP 10250 is not proven: the API server check did not run '
        '(aks_tunnel_apiserver_probe is false)',
        evidence=['the Run Command probe connects with TCP only; a kubelet answering without TLS is seen by a TLS request'],
        remediation={'summary': 'Run the diagnosis with aks_tunnel_apiserver_probe=true and get on nodes/proxy '
                                '(rbac/kubernetes/aks-tunnel-diagnose-kubelet-proxy.yaml), or check a node by hand.',
                     'commands': ['kubectl get --raw /api/v1/nodes/<node>/proxy/healthz']})
