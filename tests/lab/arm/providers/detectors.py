# -*- coding: utf-8 -*-
# Copyright (c) 2026 aks.tunnel contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""AKS "Diagnose and solve problems" detectors (issue 16), derived from the emulator's state.

``GET .../managedClusters/{c}/detectors`` lists them, ``GET .../detectors/{id}?startTime&endTime`` runs one (at most 24 hours
apart). The API has no published swagger: the shapes (and SCHEMAS below) are written from Azure/aks-mcp
(internal/components/detectors, types DetectorListResponse / DetectorRunResponse) and Azure/vscode-aks-tools
(webview-ui/src/Detector: insight datasets of rendering type 7 with the columns Status, Message, Data.Name, Data.Value), MIT.

Detectors:
* ``aks-snat-port-allocation`` "SNAT Connection and Port Allocation" (Connectivity Issues): Critical when the SNAT workload
  wants more ports than the load balancer gives a node, or more connections than the NAT gateway's ports; Success otherwise.
* ``aks-udr-outbound`` "User Defined Routing" (Connectivity Issues): Warning with outboundType userDefinedRouting, else Success.
* ``cluster-dns`` "Cluster DNS" (Connectivity Issues) and ``node-not-ready`` "Node Not Ready" (Node Health): Success.
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
    ('aks-snat-port-allocation', 'SNAT Connection and Port Allocation', CONNECTIVITY,
     'SNAT port usage and failed outbound connections of the cluster load balancer or NAT gateway'),
    ('aks-udr-outbound', 'User Defined Routing', CONNECTIVITY, 'Outbound connectivity of clusters whose egress follows a route table'),
    ('cluster-dns', 'Cluster DNS', CONNECTIVITY, 'CoreDNS health and custom DNS servers'),
    ('node-not-ready', 'Node Not Ready', 'Node Health', 'Nodes that stopped reporting Ready'),
)


def _cluster_path(state):
    return state.topology['cluster']['id']


def _verdict(state, detector_id):
    override = (state.config.get('detectors') or {}).get(detector_id)
    if override:
        return override.get('status', 'Success'), override.get('message') or 'set by the lab'
    outbound = (state.config.get('cluster') or {}).get('outbound_type', 'loadBalancer')
    if detector_id == 'aks-snat-port-allocation':
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
        return 'Success', 'No SNAT port exhaustion found'
    if detector_id == 'aks-udr-outbound' and outbound == 'userDefinedRouting':
        return 'Warning', 'Egress follows user-defined routes: the appliance must allow the AKS required outbound rules'
    return 'Success', 'No issue found'


def _metadata(detector):
    detector_id, name, category, description = detector
    return {'id': detector_id, 'name': name, 'category': category, 'description': description, 'type': 'Detector'}


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
        status, message = _verdict(ctx.state, detector[0])
        insight = {'renderingProperties': {'type': 7, 'title': None, 'description': None, 'isVisible': True},
                   'table': {'tableName': '', 'columns': [{'columnName': c, 'dataType': 'String', 'columnType': None}
                                                          for c in ('Status', 'Message', 'Data.Name', 'Data.Value', 'Expanded', 'Solutions')],
                             'rows': [[status, message, '', '', 'True', '[]']]}}
        return Response(200, {'id': '%s/detectors/%s' % (_cluster_path(ctx.state), detector[0]), 'name': detector[0], 'type': TYPE,
                              'location': ctx.state.location,
                              'properties': {'metadata': _metadata(detector), 'status': {'message': None, 'statusId': STATUS_IDS.get(status, 4)},
                                             'dataset': [insight]}})


_METADATA = {'type': 'object', 'properties': {'id': {'type': 'string'}, 'name': {'type': 'string'}, 'category': {'type': 'string'},
                                              'description': {'type': ['string', 'null']}, 'type': {'type': ['string', 'null']}}}
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
    'properties': {'type': 'object', 'required': ['metadata', 'dataset'], 'properties': {
        'metadata': _METADATA, 'status': _STATUS, 'dataset': {'type': 'array', 'items': _DATASET}}}}}
SCHEMAS = {
    ('aksdetectors', 'ManagedClusterDetectors_List', 200): {'type': 'object', 'required': ['value'], 'properties': {
        'value': {'type': 'array', 'items': _DETECTOR}, 'nextLink': {'type': ['string', 'null']}}},
    ('aksdetectors', 'ManagedClusterDetectors_Get', 200): _RUN,
}
