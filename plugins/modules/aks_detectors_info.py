#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2026 aks.tunnel contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r'''
module: aks_detectors_info
short_description: Run AKS's own "Diagnose and solve problems" detectors as a second opinion on the findings
version_added: 0.1.0
description:
  - Lists the detectors of the managed cluster (C(GET .../managedClusters/{name}/detectors), api-version 2024-08-01) and runs
    those of O(category) (default the C(Connectivity Issues) category, where the troubleshooting article points to
    "SNAT Connection and Port Allocation") over the last O(window), at most 24 hours.
  - Each detector's verdict is its worst insight (C(Critical), C(Warning), C(Info), C(Success), C(None)) and its messages.
  - Given O(findings) (for example C(aks_tunnel_report.findings)), a detector is matched to a cause by its id - C(snat-usage)
    (SNAT Connection and Port Allocation) to C(snat_exhaustion), C(user-defined-routing) to C(egress_ports_blocked) - and its
    status and first message are added to the evidence of that finding; other detectors are returned without a cause. A
    detector that sees a problem where the check found none (or none where the check found one) is listed in
    RV(disagreements) and marked C(DISAGREEMENT) in the evidence. C(user-defined-routing) is advisory (it warns whenever the
    outbound type is userDefinedRouting) - attached as context, never compared. The findings' statuses are never changed -
    the detectors are a second opinion.
  - The category's overview (C(aks-category-connectivity), metadata type C(CategoryOverview)) is not run.
  - A detector that cannot be run is returned with status C(unknown) and the error; the others still run. Never changes anything.
author: aks.tunnel contributors (@aks-tunnel)
options:
  window:
    description: How far back the detectors look, an ISO 8601 duration of at most one day (V(PT1H), V(PT6H), V(P1D)).
    type: str
    default: PT1H
  category:
    description: The detector category to run (compared case-insensitively).
    type: str
    default: Connectivity Issues
  detectors:
    description: Detector ids to run instead of the whole O(category).
    type: list
    elements: str
  max_detectors:
    description: Run at most this many detectors of the category (one ARM request each).
    type: int
    default: 15
  findings:
    description: Findings to compare with (the C(findings) of a diagnosis report); without them only the detectors are returned.
    type: list
    elements: dict
extends_documentation_fragment:
  - aks.tunnel.cluster
  - aks.tunnel.cluster.API_TIMEOUT
  - aks.tunnel.azure
  - aks.tunnel.attributes
  - aks.tunnel.attributes.INFO_MODULE
  - aks.tunnel.attributes.ACTIONGROUP_AZURE
notes:
  - Azure RBAC - C(Microsoft.ContainerService/managedClusters/detectors/read) on the cluster (in the Reader role).
  - The detectors API has no published swagger; its shapes are those of Azure/aks-mcp and Azure/vscode-aks-tools.
'''

EXAMPLES = r'''
- name: Ask AKS's connectivity detectors about the last hour
  aks.tunnel.aks_detectors_info:
    resource_group: rg-aks-prod
    name: aks-prod
  register: detectors

- name: Compare them with the diagnosis
  aks.tunnel.aks_detectors_info:
    resource_group: rg-aks-prod
    name: aks-prod
    window: PT6H
    findings: "{{ aks_tunnel_report.findings }}"
  register: second_opinion

- name: Show where AKS and the diagnosis disagree
  ansible.builtin.debug:
    var: second_opinion.disagreements
'''

RETURN = r'''
timespan:
  description: The time range the detectors ran over (start/end, UTC).
  returned: success
  type: str
  sample: 2026-12-04T10:00:00Z/2026-12-04T11:00:00Z
detectors:
  description: One entry per detector run - C(id), C(name), C(category), C(status) (critical, warning, info, success, none, or
    unknown when the run failed), C(messages), C(causes) (the cause ids it speaks about) and C(error).
  returned: success
  type: list
  elements: dict
  sample: [{id: snat-usage, name: SNAT Connection and Port Allocation, category: Connectivity Issues, status: critical,
            messages: [SNAT ports exhausted on 3 node(s)], causes: [snat_exhaustion], error: null}]
comparisons:
  description:
    - Per detector and cause - C(detector_status), C(finding_status), C(agree) (null when there is nothing to agree with or the
      detector is advisory), C(role) (C(verdict) or C(advisory)).
  returned: success
  type: list
  elements: dict
  sample: [{cause: snat_exhaustion, detector: snat-usage, detector_status: critical, finding_status: problem, agree: true, role: verdict}]
disagreements:
  description: The comparisons where the detector and the finding disagree.
  returned: success
  type: list
  elements: dict
  sample: []
findings:
  description: O(findings) with the detectors' lines added to the evidence of the causes they speak about (statuses unchanged).
  returned: success
  type: list
  elements: dict
api_calls:
  description: HTTP requests the task sent (C(arm)); C(kube) is 0.
  returned: always
  type: dict
  contains:
    arm: {description: "Requests to Azure Resource Manager.", type: int, returned: always}
    kube: {description: "Requests to the Kubernetes API server (0 - this module uses only Azure).", type: int, returned: always}
  sample: {arm: 4, kube: 0}
'''

import urllib.parse

from ansible_collections.aks.tunnel.plugins.module_utils import _cluster_options
from ansible_collections.aks.tunnel.plugins.module_utils import _detectors
from ansible_collections.aks.tunnel.plugins.module_utils import _outbound
from ansible_collections.aks.tunnel.plugins.module_utils._module import AksTunnelModule

try:
    from azure.core.rest import HttpRequest
except ImportError:  # pragma: no cover - AksTunnelModule(azure=True) fails with a clear message first
    HttpRequest = None

ARGUMENT_SPEC = _cluster_options.argument_spec(
    _cluster_options.CLUSTER_ARGSPEC, _cluster_options.API_TIMEOUT_ARGSPEC,
    window=dict(type='str', default='PT1H'),
    category=dict(type='str', default=_detectors.CONNECTIVITY),
    detectors=dict(type='list', elements='str'),
    max_detectors=dict(type='int', default=15),
    findings=dict(type='list', elements='dict'),
)


def _get(module, path, query, doing):
    """GET an ARM path through the container service client's pipeline (retries, timeouts, request counting)."""
    client = module.azure.containerservice
    url = '%s?%s' % (path, urllib.parse.urlencode(dict(query, **{'api-version': _detectors.API_VERSION})))
    with module.api_errors(doing):
        response = client.send_request(HttpRequest('GET', url))
        response.raise_for_status()
        return response.json()


def main():
    module = AksTunnelModule(ARGUMENT_SPEC, azure=True)
    params = module.params
    if params['api_timeout'] < 1:
        module.fail('api_timeout must be >= 1, got %d' % params['api_timeout'])
    if params['max_detectors'] < 1:
        module.fail('max_detectors must be >= 1, got %d' % params['max_detectors'])
    try:
        window = _outbound.parse_duration(params['window'], 'window')
    except _outbound.OutboundInputError as exc:
        module.fail(str(exc))
    if window.total_seconds() > _detectors.MAX_WINDOW_S:
        module.fail('window must be at most one day (P1D): the detectors API answers at most 24 hours, got %s' % params['window'])
    span = _outbound.timespan(window)
    start, end = span.split('/')
    cluster_path = '/subscriptions/%s/resourceGroups/%s/providers/Microsoft.ContainerService/managedClusters/%s' % (
        urllib.parse.quote(module.azure.subscription_id), urllib.parse.quote(params['resource_group']), urllib.parse.quote(params['name']))
    if params['detectors']:
        wanted = [{'id': i, 'name': i, 'category': params['category'], 'description': ''} for i in params['detectors']]
    else:
        listing = _get(module, cluster_path + '/detectors', {}, 'list the detectors of %s/%s' % (params['resource_group'], params['name']))
        try:
            wanted = _detectors.category_detectors(listing, params['category'])
        except _detectors.DetectorInputError as exc:
            module.fail('unexpected detector list: %s' % exc)
    wanted = wanted[:params['max_detectors']]
    results = []
    for item in wanted:
        try:
            body = _run(module, cluster_path, item['id'], start, end)
            result = _detectors.detector_result(body)
            result['error'] = None
        except (_detectors.DetectorInputError, _RunError) as exc:
            result = dict(item, status='unknown', messages=[], error=str(exc))
        result['causes'] = _detectors.causes_of(result)
        results.append(result)
    findings, comparisons = _detectors.compare(params['findings'] or [], [r for r in results if r['status'] != 'unknown'])
    module.exit(changed=False, timespan=span, detectors=results, comparisons=comparisons,
                disagreements=[c for c in comparisons if c['agree'] is False], findings=findings)


class _RunError(Exception):
    """One detector could not be run (the others go on)."""


def _run(module, cluster_path, detector_id, start, end):
    url = '%s/detectors/%s?%s' % (cluster_path, urllib.parse.quote(detector_id, safe=''), urllib.parse.urlencode(
        {'startTime': start, 'endTime': end, 'api-version': _detectors.API_VERSION}))
    try:
        response = module.azure.containerservice.send_request(HttpRequest('GET', url))
        response.raise_for_status()
        return response.json()
    except Exception as exc:  # pylint: disable=broad-except  # any SDK or HTTP error: this detector is unknown, the rest run
        raise _RunError('detector %s: %s' % (detector_id, str(exc).splitlines()[0][:300] if str(exc) else type(exc).__name__)) from None


if __name__ == '__main__':
    main()
