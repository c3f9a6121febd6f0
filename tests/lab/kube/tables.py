# -*- coding: utf-8 -*-
# Copyright (c) 2026 aks.tunnel contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Server-side printing: `Accept: application/json;as=Table;v=v1;g=meta.k8s.io` (what `kubectl get` sends).

Columns and cells follow the API server's printers (kubernetes pkg/printers/internalversion/printers.go): the server
always prints the wide columns (priority 1) and kubectl shows them with `-o wide`. Rows carry the object's metadata as
`PartialObjectMetadata` (`includeObject=Metadata`, the default), the whole object (`Object`) or nothing (`None`).
Resources without a printer get the default table of the API server (Name, Created At).
"""

from __future__ import annotations

import datetime
import json

from .util import ApiError

_NAME = {'name': 'Name', 'type': 'string', 'format': 'name', 'description': 'Name must be unique within a namespace.', 'priority': 0}
_AGE = {'name': 'Age', 'type': 'string', 'format': '', 'description': 'CreationTimestamp is a timestamp representing the server time '
        'when this object was created.', 'priority': 0}


def _col(name, description, priority=0, kind='string'):
    return {'name': name, 'type': kind, 'format': '', 'description': description, 'priority': priority}


COLUMNS = {
    'pods': [_NAME, _col('Ready', 'The aggregate readiness state of this pod for accepting traffic.'),
             _col('Status', 'The aggregate status of the containers in this pod.'),
             _col('Restarts', 'The number of times the containers in this pod have been restarted and when the last container in '
                              'this pod has restarted.'),
             _AGE, _col('IP', 'podIP address allocated to the pod.', 1), _col('Node', 'NodeName indicates in which node this pod is scheduled.', 1),
             _col('Nominated Node', 'nominatedNodeName is set only when this pod preempts other pods on the node.', 1),
             _col('Readiness Gates', 'If specified, all readiness gates will be evaluated for pod readiness.', 1)],
    'nodes': [_NAME, _col('Status', 'The status of the node'), _col('Roles', 'The roles of the node'), _AGE,
              _col('Version', 'Kubelet Version reported by the node.'),
              _col('Internal-IP', 'List of addresses reachable to the node.', 1), _col('External-IP', 'List of addresses reachable to the node.', 1),
              _col('OS-Image', 'OS Image reported by the node from /etc/os-release (e.g. Debian GNU/Linux 7 (wheezy)).', 1),
              _col('Kernel-Version', "Kernel Version reported by the node from 'uname -r' (e.g. 3.16.0-0.bpo.4-amd64).", 1),
              _col('Container-Runtime', 'ContainerRuntime Version reported by the node through runtime remote API (e.g. containerd://1.4.2).', 1)],
    'deployments': [_NAME, _col('Ready', 'Number of the pod with ready state'),
                    _col('Up-to-date', 'Total number of non-terminated pods targeted by this deployment that have the desired template spec.'),
                    _col('Available', 'Total number of available pods (ready for at least minReadySeconds) targeted by this deployment.'), _AGE,
                    _col('Containers', 'Names of each container in the template.', 1),
                    _col('Images', 'Images referenced by each container in the template.', 1),
                    _col('Selector', 'Label selector for pods.', 1)],
    'replicasets': [_NAME, _col('Desired', 'Replicas is the number of desired replicas.', kind='integer'),
                    _col('Current', 'Replicas is the most recently observed number of replicas.', kind='integer'),
                    _col('Ready', 'readyReplicas is the number of pods targeted by this ReplicaSet with a Ready Condition.', kind='integer'), _AGE,
                    _col('Containers', 'Names of each container in the template.', 1),
                    _col('Images', 'Images referenced by each container in the template.', 1),
                    _col('Selector', 'Selector is a label query over pods that should match the replica count.', 1)],
    'configmaps': [_NAME, _col('Data', 'Data contains the configuration data.', kind='integer'), _AGE],
    'namespaces': [_NAME, _col('Status', 'The status of the namespace'), _AGE],
    'events': [_col('Last Seen', 'The time at which the most recent occurrence of this event was recorded.'),
               _col('Type', 'Type of this event (Normal, Warning), new types could be added in the future'),
               _col('Reason', 'This should be a short, machine understandable string that gives the reason for the transition into the '
                              "object's current status."),
               _col('Object', 'The object that this event is about.'),
               _col('Subobject', 'If referring to a piece of an object instead of an entire object, this string should contain a valid '
                                 'JSON/Go field access statement, such as desiredState.manifest.containers[2].', 1),
               _col('Source', 'The component reporting this event. Should be a short machine understandable string.', 1),
               _col('Message', 'A human-readable description of the status of this operation.'),
               _col('First Seen', 'The time at which the event was first recorded. (Time of server receipt is in TypeMeta.)', 1),
               _col('Count', 'The number of times this event has occurred.', 1),
               dict(_NAME, priority=1)],
}
DEFAULT_COLUMNS = [_NAME, {'name': 'Created At', 'type': 'date', 'format': '', 'priority': 0,
                           'description': 'CreationTimestamp is a timestamp representing the server time when this object was created.'}]


def wants_table(accept):
    """True when the Accept header asks for a meta.k8s.io Table (v1 or v1beta1) before plain JSON."""
    for part in (accept or '').split(','):
        params = dict(p.strip().split('=', 1) for p in part.split(';')[1:] if '=' in p)
        if params.get('as') == 'Table' and params.get('g') == 'meta.k8s.io' and params.get('v') in ('v1', 'v1beta1'):
            return params['v']
        if part.split(';')[0].strip() in ('application/json', '*/*') and 'as' not in params:
            return None
    return None


def _parse_time(value):
    if not value:
        return None
    return datetime.datetime.strptime(value.replace('Z', '+0000').split('.')[0] + ('+0000' if '.' in value else ''),
                                      '%Y-%m-%dT%H:%M:%S%z')


def human_duration(seconds):
    """k8s.io/apimachinery/pkg/util/duration.HumanDuration."""
    seconds = int(seconds)
    if seconds < -1:
        return '<invalid>'
    if seconds < 0:
        return '0s'
    if seconds < 120:
        return '%ds' % seconds
    minutes = seconds // 60
    if minutes < 10:
        rest = seconds % 60
        return '%dm' % minutes if rest == 0 else '%dm%ds' % (minutes, rest)
    if minutes < 180:
        return '%dm' % minutes
    hours = seconds // 3600
    if hours < 8:
        rest = minutes % 60
        return '%dh' % hours if rest == 0 else '%dh%dm' % (hours, rest)
    if hours < 48:
        return '%dh' % hours
    if hours < 24 * 8:
        rest = hours % 24
        return '%dd' % (hours // 24) if rest == 0 else '%dd%dh' % (hours // 24, rest)
    if hours < 24 * 365 * 2:
        return '%dd' % (hours // 24)
    if hours < 24 * 365 * 8:
        rest = (hours // 24) % 365
        return '%dy' % (hours // 24 // 365) if rest == 0 else '%dy%dd' % (hours // 24 // 365, rest)
    return '%dy' % (hours // 24 // 365)


def since(value, now):
    stamp = _parse_time(value)
    if stamp is None:
        return '<unknown>'
    return human_duration((now - stamp).total_seconds())


def _pod_cells(pod, now):
    spec, status = pod.get('spec') or {}, pod.get('status') or {}
    restarts, ready, last_restart = 0, 0, None
    reason = status.get('reason') or status.get('phase') or ''
    has_running = False
    for container in reversed(status.get('containerStatuses') or []):
        restarts += int(container.get('restartCount') or 0)
        finished = _parse_time((((container.get('lastState') or {}).get('terminated')) or {}).get('finishedAt'))
        if finished and (last_restart is None or finished > last_restart):
            last_restart = finished
        state = container.get('state') or {}
        if (state.get('waiting') or {}).get('reason'):
            reason = state['waiting']['reason']
        elif (state.get('terminated') or {}).get('reason'):
            reason = state['terminated']['reason']
        elif state.get('terminated') is not None:
            terminated = state['terminated']
            reason = 'Signal:%d' % terminated['signal'] if terminated.get('signal') else 'ExitCode:%d' % terminated.get('exitCode', 0)
        elif container.get('ready') and state.get('running') is not None:
            has_running = True
            ready += 1
    if reason == 'Completed' and has_running:
        ready_condition = any(c.get('type') == 'Ready' and c.get('status') == 'True' for c in status.get('conditions') or [])
        reason = 'Running' if ready_condition else 'NotReady'
    if pod['metadata'].get('deletionTimestamp') and status.get('phase') not in ('Succeeded', 'Failed'):
        reason = 'Terminating'
    restarts_text = str(restarts)
    if restarts and last_restart is not None:
        restarts_text = '%d (%s ago)' % (restarts, human_duration((now - last_restart).total_seconds()))
    pod_ip = ((status.get('podIPs') or [{}])[0]).get('ip') or '<none>'
    gates = spec.get('readinessGates') or []
    gates_text = '<none>'
    if gates:
        true = sum(1 for gate in gates for c in status.get('conditions') or []
                   if c.get('type') == gate.get('conditionType') and c.get('status') == 'True')
        gates_text = '%d/%d' % (true, len(gates))
    return [pod['metadata']['name'], '%d/%d' % (ready, len(spec.get('containers') or [])), reason, restarts_text,
            since(pod['metadata'].get('creationTimestamp'), now), pod_ip, spec.get('nodeName') or '<none>',
            status.get('nominatedNodeName') or '<none>', gates_text]


def _node_cells(node, now):
    status = node.get('status') or {}
    conditions = {c.get('type'): c for c in status.get('conditions') or []}
    states = []
    if 'Ready' in conditions:
        states.append('Ready' if conditions['Ready'].get('status') == 'True' else 'NotReady')
    if not states:
        states.append('Unknown')
    if (node.get('spec') or {}).get('unschedulable'):
        states.append('SchedulingDisabled')
    roles = set()
    for key, value in (node['metadata'].get('labels') or {}).items():
        if key.startswith('node-role.kubernetes.io/') and key[len('node-role.kubernetes.io/'):]:
            roles.add(key[len('node-role.kubernetes.io/'):])
        elif key == 'kubernetes.io/role' and value:
            roles.add(value)
    info = status.get('nodeInfo') or {}
    addresses = status.get('addresses') or []

    def address(kind):
        return next((a['address'] for a in addresses if a.get('type') == kind), '<none>')

    return [node['metadata']['name'], ','.join(states), ','.join(sorted(roles)) or '<none>', since(node['metadata'].get('creationTimestamp'), now),
            info.get('kubeletVersion', ''), address('InternalIP'), address('ExternalIP'), info.get('osImage') or '<unknown>',
            info.get('kernelVersion') or '<unknown>', info.get('containerRuntimeVersion') or '<unknown>']


def _selector_text(selector):
    parts = ['%s=%s' % item for item in sorted(((selector or {}).get('matchLabels') or {}).items())]
    for expr in (selector or {}).get('matchExpressions') or []:
        operator = expr.get('operator')
        if operator in ('In', 'NotIn'):
            parts.append('%s %s (%s)' % (expr['key'], operator.lower(), ','.join(expr.get('values') or [])))
        elif operator == 'Exists':
            parts.append(expr['key'])
        else:
            parts.append('!' + expr['key'])
    return ','.join(parts)


def _containers(template):
    containers = ((template or {}).get('spec') or {}).get('containers') or []
    return ','.join(c.get('name', '') for c in containers), ','.join(c.get('image', '') for c in containers)


def _deployment_cells(obj, now):
    spec, status = obj.get('spec') or {}, obj.get('status') or {}
    names, images = _containers(spec.get('template'))
    return [obj['metadata']['name'], '%d/%d' % (status.get('readyReplicas', 0), spec.get('replicas', 1)), status.get('updatedReplicas', 0),
            status.get('availableReplicas', 0), since(obj['metadata'].get('creationTimestamp'), now), names, images,
            _selector_text(spec.get('selector'))]


def _replicaset_cells(obj, now):
    spec, status = obj.get('spec') or {}, obj.get('status') or {}
    names, images = _containers(spec.get('template'))
    return [obj['metadata']['name'], spec.get('replicas', 1), status.get('replicas', 0), status.get('readyReplicas', 0),
            since(obj['metadata'].get('creationTimestamp'), now), names, images, _selector_text(spec.get('selector'))]


def _event_cells(obj, now):
    first = since(obj.get('firstTimestamp'), now) if obj.get('firstTimestamp') else since(obj.get('eventTime'), now)
    last = since(obj.get('lastTimestamp'), now) if obj.get('lastTimestamp') else first
    count = obj.get('count') or 1
    if obj.get('series'):
        last, count = since(obj['series'].get('lastObservedTime'), now), obj['series'].get('count', count)
    involved = obj.get('involvedObject') or {}
    kind = (involved.get('kind') or '').lower()
    target = '%s/%s' % (kind, involved['name']) if involved.get('name') else kind
    source = obj.get('source') or {}
    component = source.get('component') or obj.get('reportingComponent') or ''
    host = source.get('host') or obj.get('reportingInstance') or ''
    return [last, obj.get('type', ''), obj.get('reason', ''), target, involved.get('fieldPath', ''), '%s, %s' % (component, host) if host else component,
            (obj.get('message') or '').strip(), first, count, obj['metadata']['name']]


CELLS = {
    'pods': _pod_cells,
    'nodes': _node_cells,
    'deployments': _deployment_cells,
    'replicasets': _replicaset_cells,
    'configmaps': lambda obj, now: [obj['metadata']['name'], len(obj.get('data') or {}) + len(obj.get('binaryData') or {}),
                                    since(obj['metadata'].get('creationTimestamp'), now)],
    'namespaces': lambda obj, now: [obj['metadata']['name'], (obj.get('status') or {}).get('phase', 'Active'),
                                    since(obj['metadata'].get('creationTimestamp'), now)],
    'events': _event_cells,
}


def _row_object(obj, include, version):
    if include == 'None':
        return None
    if include == 'Object':
        return obj
    return {'kind': 'PartialObjectMetadata', 'apiVersion': 'meta.k8s.io/' + version, 'metadata': obj.get('metadata') or {}}


def to_table(resource, body, query, version='v1', now=None):
    """The Table for a get/list response body (bytes) of `resource` (an api.Resource)."""
    include = query.get('includeObject') or 'Metadata'
    if include not in ('None', 'Metadata', 'Object'):
        raise ApiError(400, 'BadRequest', 'includeObject must be one of None, Metadata, Object; got %r' % include)
    now = now or datetime.datetime.now(datetime.timezone.utc)
    data = json.loads(body)
    is_list = data.get('kind', '').endswith('List') and 'items' in data
    items = data.get('items') or [] if is_list else [data]
    # events.k8s.io/v1 events have their own printer upstream; the lab prints them with the default table.
    key = resource.plural if resource.group in ('', 'apps') else None
    printer = CELLS.get(key)
    rows = []
    for obj in items:
        if printer is not None:
            cells = printer(obj, now)
        else:
            cells = [obj['metadata']['name'], obj['metadata'].get('creationTimestamp', '')]
        row = {'cells': cells}
        row_object = _row_object(obj, include, version)
        if row_object is not None:
            row['object'] = row_object
        rows.append(row)
    meta = {}
    if is_list:
        for field in ('resourceVersion', 'continue', 'remainingItemCount'):
            if field in (data.get('metadata') or {}):
                meta[field] = data['metadata'][field]
    else:
        meta['resourceVersion'] = (data.get('metadata') or {}).get('resourceVersion', '')
    return {'kind': 'Table', 'apiVersion': 'meta.k8s.io/' + version, 'metadata': meta,
            'columnDefinitions': COLUMNS.get(key, DEFAULT_COLUMNS), 'rows': rows}
