# -*- coding: utf-8 -*-
# Copyright (c) 2026 aks.tunnel contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""AKS "Diagnose and solve problems" detectors as a second opinion on the findings (pure).

The detectors are served by ARM under the managed cluster (no published swagger). Sources of the shapes, ids and statuses
(all MIT): Azure/vscode-aks-tools webview-ui/src/manualTest/detectorData/*.json (responses of real clusters, commit
4cd59787b01e0359f17bc5650af1a0100ada53a8; reduced copies in tests/unit/plugins/module_utils/fixtures/detectors_real/) and
webview-ui/src/Detector/utils.ts; Azure/aks-mcp internal/components/detectors (api-version 2024-08-01, window at most 24 hours
within the last 30 days); Azure/Azure-AppServices-Diagnostics src/Diagnostics.ModelsAndUtils (the AppLens detector runtime:
Models/Response.cs ``Status {Message, StatusId: InsightStatus}``, default None; Models/ResponseExtensions/Insight.cs
``enum InsightStatus {Critical, Warning, Info, Success, None}`` and the insight table Status, Message, Data.Name, Data.Value,
Expanded, Solutions, rendering type 7).

* ``GET .../managedClusters/{c}/detectors?api-version=2024-08-01`` -> ``{value: [{id, name, type, location, properties:
  {metadata: {id, name, category, description, type: Detector|CategoryOverview, ...}, status: {message, statusId}}}]}``;
* ``GET .../managedClusters/{c}/detectors/{id}?startTime=..&endTime=..&api-version=2024-08-01`` -> ``{..., properties:
  {metadata, status, dataset: [{renderingProperties: {type, title, ...}, table: {columns: [{columnName}], rows: [[...]]}}],
  appFilter, dataProvidersMetadata, suggestedUtterances}}``. A dataset of rendering type 7 is an insight whose first row
  holds ``Status`` (the InsightStatus name) and ``Message``; ``status.statusId`` is the InsightStatus number (0 Critical,
  1 Warning, 2 Info, 3 Success, 4 None - the real samples: a detector whose insight says Success has 3, the category
  overview 4). The category's own overview (``aks-category-connectivity``, metadata type CategoryOverview) lists the
  category's detector ids in a dataset of rendering type 10 and is not a detector to run.

A detector is matched to a cause by its id (DETECTOR_CAUSES, the ids of the real Connectivity Issues category); a
detector the table does not know is reported without a cause. Its verdict is compared with the finding's: a detector that
sees a problem where the check found none, or none where the check found one, is a disagreement - reported in the finding's
evidence, never used to change its status. An advisory detector (``user-defined-routing`` warns whenever the cluster's
outbound type is userDefinedRouting, whatever the appliance does) is attached as context, never compared.
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
VERDICT, ADVISORY = 'verdict', 'advisory'
# detector id -> (cause, role). From the real detectors' metadata (fixtures/detectors_real/): snat-usage "SNAT Connection
# and Port Allocation" - "Checks SNAT connection counts and port allocation per host for any cluster outbound IPs.";
# user-defined-routing "User Defined Routing" - "Shows a warning to the customer if the cluster has outbound type set to
# user defined routing." (a notice about the configuration, not a verdict on the egress).
DETECTOR_CAUSES = {
    'snat-usage': (_causes.SNAT_EXHAUSTION, VERDICT),
    'user-defined-routing': (_causes.EGRESS_PORTS_BLOCKED, ADVISORY),
}
CATEGORY_OVERVIEW = 'categoryoverview'
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
        if str(meta.get('type') or '').lower() == CATEGORY_OVERVIEW:
            continue  # the category's overview lists detector ids; it is no detector
        if str(meta.get('category') or '').lower() == category.lower():
            found.append({'id': meta.get('id') or item.get('name'), 'name': meta.get('name') or item.get('name'),
                          'category': meta.get('category'), 'description': meta.get('description') or ''})
    return found


def _status_of_id(status_id):
    """InsightStatus as serialized: its number (what the real samples show) or its name."""
    if isinstance(status_id, int) and not isinstance(status_id, bool) and 0 <= status_id < len(STATUS_IDS):
        return STATUS_IDS[status_id]
    if isinstance(status_id, str):
        return _NAMES.get(status_id.strip().lower())
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
    """The cause ids a detector speaks about: by its id (DETECTOR_CAUSES); [] for a detector the table does not know."""
    known = DETECTOR_CAUSES.get(str(detector.get('id') or '').strip().lower())
    return [known[0]] if known else []


def role_of(detector):
    """VERDICT (compared with the finding), ADVISORY (attached as context) or None (not matched)."""
    known = DETECTOR_CAUSES.get(str(detector.get('id') or '').strip().lower())
    return known[1] if known else None


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
            advisory = role_of(result) == ADVISORY
            if advisory or ours in (_causes.STATUS_UNKNOWN, _causes.STATUS_NOT_APPLICABLE) or result['status'] in (INFO, NONE):
                agree = None
            elif result['status'] in SEES_PROBLEM:
                agree = ours == _causes.STATUS_PROBLEM
            else:
                agree = ours != _causes.STATUS_PROBLEM
            message = ': %s' % result['messages'][0] if result['messages'] else ''
            role = ' (advisory: about the configuration, not compared)' if advisory else ''
            finding['evidence'].append('AKS detector %s (%s)%s: %s%s' % (result['name'], result['id'], role, result['status'].upper(), message))
            if agree is False:
                finding['evidence'].append('DISAGREEMENT: AKS detector %s says %s, this check says %s - look at both'
                                           % (result['name'], result['status'].upper(), ours.upper()))
            comparisons.append({'cause': cause, 'detector': result['id'], 'detector_status': result['status'], 'finding_status': ours,
                                'agree': agree, 'role': role_of(result)})
    return ordered, comparisons
