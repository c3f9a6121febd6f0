# -*- coding: utf-8 -*-
# Copyright (c) 2026 aks.tunnel contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""AKS "Diagnose and solve problems" detectors (issue 16), derived from the emulator's state.

``GET .../managedClusters/{c}/detectors`` lists them, ``GET .../detectors/{id}?startTime&endTime`` runs one (at most 24 hours
apart). The API has no published swagger: the shapes (and SCHEMAS below) follow the real responses in Azure/vscode-aks-tools
webview-ui/src/manualTest/detectorData/ (commit 4cd59787b01e0359f17bc5650af1a0100ada53a8; reduced copies and their sources in
tests/unit/plugins/module_utils/fixtures/detectors_real/): insight datasets of rendering type 7 with the columns Status,
Message, Data.Name, Data.Value, Expanded, Solutions, ``status.statusId`` the AppLens InsightStatus number (0 Critical ...
3 Success, 4 None), the category overview of rendering type 10 listing its detector ids, MIT.

Detectors (ids, names and descriptions of the real ones, the verdicts derived from the lab's state):
* ``snat-usage`` "SNAT Connection and Port Allocation" (Connectivity Issues): Critical when the SNAT workload wants more
  ports than the load balancer gives a node, or more connections than the NAT gateway's ports; Success otherwise.
* ``user-defined-routing`` "User Defined Routing" (Connectivity Issues): Warning with outboundType userDefinedRouting, else
  Success ("Cluster egress pathway is not set to user defined routing", the real text).
* ``cluster-dns`` "Cluster DNS" (Connectivity Issues) and ``node-not-ready`` "Node Not Ready" (Node Health, a lab name):
  Success.
* ``aks-category-connectivity`` "Connectivity Issues": the category overview (metadata type CategoryOverview).
Config ``detectors: {<id>: {"status": "Success|Warning|Critical|Info", "message": "..."}}`` overrides a verdict (a lab AKS
that disagrees with the evidence).
"""

from __future__ import annotations

from ..common import ArmError, Response, not_found
from . import natgateway

TYPE = 'Microsoft.ContainerService/managedClusters/detectors'
CONNECTIVITY = 'Connectivity Issues'
# AppLens HealthStatus order (statusId).
STATUS_IDS = {'Critical': 0, 'Warning': 1, 'Info': 2, 'Success': 3, 'None': 4}
DETECTORS = (
    ('snat-usage', 'SNAT Connection and Port Allocation', CONNECTIVITY,
     'Checks SNAT connection counts and port allocation per host for any cluster outbound IPs.', 'Detector'),
    ('user-defined-routing', 'User Defined Routing', CONNECTIVITY,
     'Shows a warning to the customer if the cluster has outbound type set to user defined routing.', 'Detector'),
    ('cluster-dns', 'Cluster DNS', CONNECTIVITY, 'CoreDNS health and custom DNS servers', 'Detector'),
    ('node-not-ready', 'Node Not Ready', 'Node Health', 'Nodes that stopped reporting Ready', 'Detector'),
    ('aks-category-connectivity', 'Connectivity Issues', CONNECTIVITY, 'Diagnose problems relating to networking configuration and '
     'connectivity issues with the cluster, including potential API server issues.', 'CategoryOverview'),
)


def _cluster_path(state):
    return state.topology['cluster']['id']


def _verdict(state, detector_id):
    override = (state.config.get('detectors') or {}).get(detector_id)
    if override:
        return override.get('status', 'Success'), override.get('message') or 'set by the lab'
    outbound = (state.config.get('cluster') or {}).get('outbound_type', 'loadBalancer')
    if detector_id == 'snat-usage':
        if outbound == 'loadBalancer':
            workload = (state.metrics or {}).get('workload') or {}
            demand = float((workload.get('default') or {}).get('demand') or 0)
            ports = state.effective_ports_per_node()
            if ports and demand > ports:
                return 'Critical', 'Nodes want %d SNAT ports but the load balancer gives %d per node: outbound connections fail' % (demand, ports)
        gateway = natgateway.config(state)
        if gateway:
            wanted = float(((gateway.get('workload') or {}).get('concurrent_connections')) or 0)
            ports = natgateway.PORTS_PER_IP * natgateway.ip_count(state)
            if wanted > ports:
                return 'Critical', 'The NAT gateway has %d SNAT ports for %d wanted connections: SNAT connections fail' % (ports, wanted)
        return 'Success', 'No SNAT connection issues were found for the specified time period'
    if detector_id == 'user-defined-routing':
        if outbound == 'userDefinedRouting':
            return 'Warning', 'Egress follows user-defined routes: the appliance must allow the AKS required outbound rules'
        return 'Success', 'Cluster egress pathway is not set to user defined routing'
    return 'Success', 'No issue found'


def _metadata(detector):
    detector_id, name, category, description, kind = detector
    return {'analysisType': '', 'analysisTypes': None, 'author': '', 'category': category, 'description': description, 'id': detector_id,
            'name': name, 'score': 0, 'supportTopicList': [], 'type': kind}


def _find(detector_id):
    for detector in DETECTORS:
        if detector[0].lower() == detector_id.lower():
            return detector
    return None


def _check_cluster(ctx, p):
    state = ctx.state
    if p['rg'].lower() != state.resource_group.lower() or p['name'].lower() != state.cluster_name.lower():
        raise not_found('Microsoft.ContainerService/managedClusters', p['name'], p['rg'])


def detector_list(ctx, p):
    with ctx.state.lock:
        _check_cluster(ctx, p)
        base = _cluster_path(ctx.state)
        return Response(200, {'value': [{'id': '%s/detectors/%s' % (base, d[0]), 'name': d[0], 'type': TYPE, 'location': ctx.state.location,
                                         'properties': {'metadata': _metadata(d), 'status': {'message': None, 'statusId': 4}}}
                                        for d in DETECTORS]})


def detector_get(ctx, p):
    from .insights import parse_timespan  # pylint: disable=import-outside-toplevel,cyclic-import
    with ctx.state.lock:
        _check_cluster(ctx, p)
        detector = _find(p['detector'])
        if detector is None:
            raise not_found(TYPE, p['detector'], p['rg'])
        query = dict((k.lower(), v) for k, v in ctx.query.items())
        start, end = query.get('starttime'), query.get('endtime')
        if not start or not end:
            raise ArmError(400, 'InvalidParameter', 'startTime and endTime are required (ISO 8601, at most 24 hours apart).')
        begin, finish = parse_timespan('%s/%s' % (start.replace(' ', '+'), end.replace(' ', '+')), now=ctx.state.now())
        if (finish - begin).total_seconds() > 24 * 3600:
            raise ArmError(400, 'InvalidParameter', 'The time range cannot exceed 24 hours.')
        if detector[4] == 'CategoryOverview':
            ids = [d[0] for d in DETECTORS if d[2] == detector[2] and d[4] == 'Detector']
            dataset = [{'renderingProperties': {'additionalParams': '', 'description': None, 'detectorIds': ids, 'isVisible': True,
                                                'messageIfCritical': None, 'resourceUri': '', 'title': None, 'type': 10},
                        'table': {'columns': [], 'rows': [], 'tableName': ''}}]
            status_id = STATUS_IDS['None']
        else:
            status, message = _verdict(ctx.state, detector[0])
            dataset = [{'renderingProperties': {'description': None, 'isVisible': True, 'title': None, 'type': 7},
                        'table': {'tableName': '', 'columns': [{'columnName': c, 'columnType': None, 'dataType': 'String'}
                                                               for c in ('Status', 'Message', 'Data.Name', 'Data.Value', 'Expanded', 'Solutions')],
                                  'rows': [[status, message, '', '', 'False', 'null']]}}]
            status_id = STATUS_IDS.get(status, 4)
        return Response(200, {'id': '%s/detectors/%s' % (_cluster_path(ctx.state), detector[0]), 'name': detector[0], 'type': TYPE,
                              'location': ctx.state.location,
                              'properties': {'appFilter': None, 'dataProvidersMetadata': None, 'dataset': dataset, 'metadata': _metadata(detector),
                                             'status': {'message': None, 'statusId': status_id}, 'suggestedUtterances': None}})


_METADATA = {'type': 'object', 'required': ['id', 'name', 'category', 'type'], 'properties': {
    'id': {'type': 'string'}, 'name': {'type': 'string'}, 'category': {'type': 'string'}, 'description': {'type': ['string', 'null']},
    'type': {'enum': ['Detector', 'CategoryOverview', 'Analysis']}, 'typeId': {'type': 'string'}, 'analysisType': {'type': ['string', 'null']},
    'analysisTypes': {'type': ['array', 'null']}, 'author': {'type': ['string', 'null']}, 'score': {'type': 'number'},
    'supportTopicList': {'type': ['array', 'null']}}}
_STATUS = {'type': 'object', 'properties': {'message': {'type': ['string', 'null']}, 'statusId': {'type': 'integer', 'minimum': 0, 'maximum': 4}}}
_DETECTOR = {'type': 'object', 'required': ['id', 'name', 'properties'], 'properties': {
    'id': {'type': 'string'}, 'name': {'type': 'string'}, 'type': {'type': 'string'}, 'location': {'type': 'string'},
    'properties': {'type': 'object', 'required': ['metadata'], 'properties': {'metadata': _METADATA, 'status': _STATUS}}}}
_DATASET = {'type': 'object', 'properties': {
    'renderingProperties': {'type': 'object', 'properties': {'type': {'type': 'integer'}, 'title': {'type': ['string', 'null']},
                                                             'description': {'type': ['string', 'null']}, 'isVisible': {'type': 'boolean'}}},
    'table': {'type': 'object', 'properties': {'tableName': {'type': ['string', 'null']},
                                               'columns': {'type': 'array', 'items': {'type': 'object', 'required': ['columnName']}},
                                               'rows': {'type': 'array', 'items': {'type': 'array'}}}}}}
_RUN = {'type': 'object', 'required': ['id', 'name', 'properties'], 'properties': {
    'id': {'type': 'string'}, 'name': {'type': 'string'}, 'type': {'type': 'string'}, 'location': {'type': 'string'},
    'properties': {'type': 'object', 'required': ['metadata', 'dataset', 'status'], 'properties': {
        'metadata': _METADATA, 'status': _STATUS, 'dataset': {'type': 'array', 'items': _DATASET}, 'appFilter': {},
        'dataProvidersMetadata': {'type': ['array', 'null']}, 'suggestedUtterances': {}}}}}
SCHEMAS = {
    ('aksdetectors', 'ManagedClusterDetectors_List', 200): {'type': 'object', 'required': ['value'], 'properties': {
        'value': {'type': 'array', 'items': _DETECTOR}, 'nextLink': {'type': ['string', 'null']}}},
    ('aksdetectors', 'ManagedClusterDetectors_Get', 200): _RUN,
}
