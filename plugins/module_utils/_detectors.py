# -*- coding: utf-8 -*-
# Copyright (c) 2026 aks.tunnel contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""AKS "Diagnose and solve problems" detectors as a second opinion on the findings (pure).

The detectors are served by ARM under the managed cluster (no published swagger; shapes from Azure/aks-mcp
internal/components/detectors and Azure/vscode-aks-tools webview-ui/src/Detector, both MIT):

* ``GET .../managedClusters/{c}/detectors?api-version=2024-08-01`` -> ``{value: [{id, name, type, location,
  properties: {metadata: {id, name, category, description, type}, status: {message, statusId}}}]}``;
* ``GET .../managedClusters/{c}/detectors/{id}?startTime=..&endTime=..&api-version=2024-08-01`` (at most 24 hours, within
  the last 30 days) -> ``{..., properties: {metadata, status, dataset: [{renderingProperties: {type, title, ...},
  table: {columns: [{columnName}], rows: [[...]]}}]}}``. A dataset of rendering type 7 is an insight whose first row
  holds ``Status`` (Critical, Warning, Info, Success, None) and ``Message``; ``status.statusId`` follows the same order
  (AppLens HealthStatus: 0 Critical, 1 Warning, 2 Info, 3 Success, 4 None).

A detector is matched to the causes it speaks about by words of its id, name and description (CAUSE_WORDS); its verdict
is compared with the finding's: a detector that sees a problem where the check found none, or none where the check found
one, is a disagreement - reported in the finding's evidence, never used to change its status.
"""

from __future__ import annotations

from ansible_collections.aks.tunnel.plugins.module_utils import _causes

CONNECTIVITY = 'Connectivity Issues'
API_VERSION = '2024-08-01'
MAX_WINDOW_S = 24 * 3600
INSIGHT_TYPE = 7
CRITICAL, WARNING, INFO, SUCCESS, NONE = 'critical', 'warning', 'info', 'success', 'none'
STATUS_IDS = (CRITICAL, WARNING, INFO, SUCCESS, NONE)
_RANK = {CRITICAL: 0, WARNING: 1, INFO: 2, SUCCESS: 3, NONE: 4}
_NAMES = {'critical': CRITICAL, 'error': CRITICAL, 'warning': WARNING, 'info': INFO, 'success': SUCCESS, 'none': NONE}
# (words, cause): lower-case words looked for in the detector's id, name and description.
CAUSE_WORDS = (
    (('snat', 'port allocation'), _causes.SNAT_EXHAUSTION),
    (('user defined rout', 'user-defined rout', 'udr', 'route table', 'outbound connectivity', 'egress', 'firewall'), _causes.EGRESS_PORTS_BLOCKED),
    (('network security group', 'nsg'), _causes.NSG_BLOCKS_10250),
    (('konnectivity',), _causes.KONNECTIVITY_AGENT_SCALING),
    (('vnet integration', 'api server subnet'), _causes.APISERVER_SUBNET_PORTS_BLOCKED),
)
SEES_PROBLEM = (CRITICAL, WARNING)


class DetectorInputError(ValueError):
    """A detector response is not in the shape ARM returns."""


def _props(body):
    if not isinstance(body, dict):
        raise DetectorInputError('a detector must be a mapping, got %s' % type(body).__name__)
    return body.get('properties') or {}


def category_detectors(listing, category=CONNECTIVITY):
    """[{id, name, category, description}] of the detectors of ``category`` in a list response (case-insensitive)."""
    values = listing.get('value') if isinstance(listing, dict) else listing
    if not isinstance(values, list):
        raise DetectorInputError('the detector list must be {"value": [...]}')
    found = []
    for item in values:
        meta = _props(item).get('metadata') or {}
        if str(meta.get('category') or '').lower() == category.lower():
            found.append({'id': meta.get('id') or item.get('name'), 'name': meta.get('name') or item.get('name'),
                          'category': meta.get('category'), 'description': meta.get('description') or ''})
    return found


def _status_of_id(status_id):
    if isinstance(status_id, int) and not isinstance(status_id, bool) and 0 <= status_id < len(STATUS_IDS):
        return STATUS_IDS[status_id]
    return None


def detector_result(body):
    """{id, name, category, status, messages} of a detector run: the worst insight, else ``status.statusId``."""
    props = _props(body)
    meta = props.get('metadata') or {}
    insights = []
    for dataset in props.get('dataset') or []:
        if not isinstance(dataset, dict) or (dataset.get('renderingProperties') or {}).get('type') != INSIGHT_TYPE:
            continue
        table = dataset.get('table') or {}
        columns = [str(c.get('columnName') or '') for c in table.get('columns') or [] if isinstance(c, dict)]
        rows = table.get('rows') or []
        if not rows or 'Status' not in columns:
            continue
        row = rows[0]
        status = _NAMES.get(str(row[columns.index('Status')]).lower(), CRITICAL)
        message = str(row[columns.index('Message')]) if 'Message' in columns and len(row) > columns.index('Message') else ''
        insights.append((status, message))
    overall = props.get('status') or {}
    if insights:
        status = min((s for s, _m in insights), key=_RANK.get)
    else:
        status = _status_of_id(overall.get('statusId')) or NONE
    messages = [m for s, m in sorted(insights, key=lambda i: _RANK[i[0]]) if m]
    if not messages and overall.get('message'):
        messages = [str(overall['message'])]
    return {'id': meta.get('id') or body.get('name'), 'name': meta.get('name') or body.get('name'), 'category': meta.get('category'),
            'description': meta.get('description') or '', 'status': status, 'messages': messages[:5]}


def causes_of(detector):
    """The cause ids a detector speaks about (CAUSE_WORDS on its id, name and description)."""
    text = ' '.join(str(detector.get(k) or '') for k in ('id', 'name', 'description')).lower()
    return [cause for words, cause in CAUSE_WORDS if any(w in text for w in words)]


def compare(findings, results):
    """Attach the detectors to the findings of the causes they speak about.

    Returns (findings with evidence lines added - copies, the inputs are not changed -, comparisons
    [{cause, detector, detector_status, finding_status, agree}]). agree is None when the finding is unknown or not
    applicable (nothing to agree with), False for a disagreement (detector critical/warning vs OK, success vs PROBLEM).
    """
    # The first finding of each cause carries the lines (a cause may have several findings, merged later by the report).
    ordered = [dict(f) if isinstance(f, dict) else f for f in findings or []]
    by_cause = {}
    for finding in ordered:
        if isinstance(finding, dict) and finding.get('cause') and finding['cause'] not in by_cause:
            finding['evidence'] = list(finding.get('evidence') or [])
            by_cause[finding['cause']] = finding
    comparisons = []
    for result in results:
        for cause in causes_of(result):
            finding = by_cause.get(cause)
            if finding is None:
                continue
            ours = finding['status']
            if ours in (_causes.STATUS_UNKNOWN, _causes.STATUS_NOT_APPLICABLE) or result['status'] in (INFO, NONE):
                agree = None
            elif result['status'] in SEES_PROBLEM:
                agree = ours == _causes.STATUS_PROBLEM
            else:
                agree = ours != _causes.STATUS_PROBLEM
            message = ': %s' % result['messages'][0] if result['messages'] else ''
            finding['evidence'].append('AKS detector %s (%s): %s%s' % (result['name'], result['id'], result['status'].upper(), message))
            if agree is False:
                finding['evidence'].append('DISAGREEMENT: AKS detector %s says %s, this check says %s - look at both'
                                           % (result['name'], result['status'].upper(), ours.upper()))
            comparisons.append({'cause': cause, 'detector': result['id'], 'detector_status': result['status'], 'finding_status': ours,
                                'agree': agree})
    return ordered, comparisons
