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

MODEL = 'model'
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
    cause UNKNOWN (nothing could be checked without it).
    """
    if not isinstance(evidence, dict):
        raise EvidenceError('evidence must be a dict of registered results by source (%s), got %s'
                            % (', '.join((MODEL,) + _causes.SOURCES), type(evidence).__name__))
    unknown = sorted(set(evidence) - set((MODEL,) + _causes.SOURCES))
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
    return {'findings': findings, 'errors': errors, 'checked': selected, 'stats': stats, 'error': failure}


def _findings_of(result):
    for key in _FINDING_KEYS:
        if isinstance(result.get(key), dict):
            yield result[key]
    for key in _FINDINGS_KEYS:
        for finding in result.get(key) or []:
            if isinstance(finding, dict):
                yield finding
