# -*- coding: utf-8 -*-
# Copyright (c) 2026 aks.tunnel contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Microsoft.Insights metrics (2024-02-01) for the cluster load balancer (SNAT connections and ports) and the NAT gateway
(providers/natgateway.py: SNATConnectionCount, TotalConnectionCount, PacketDropCount; issue 16).

Series values come from config `metrics`, in one of two forms.

Static series:
  {"default": {"allocated": null, "used": 0, "successful": 0, "failed": 0, "pending": 0},
   "nodes": {"<node name | pool-index | ip>": {"used": 900, "failed": 12, ...}}}
`allocated` null means what the LB profile gives each node. A value may be a list: one number per
time point (the last one repeats).

Workload model (the series follow the load balancer profile over time, so a repair shows):
  {"workload": {"default": {"demand": 1300, "connections_per_min": 60},
                "nodes": {"<node name | pool-index | ip>": {"demand": 200}}}}
`demand` = SNAT ports a node wants at once, `connections_per_min` = new outbound connections per node
and minute. For each time bucket [t, t+interval) (the current one clamped to now, later ones without
data) and each span of it under one entry of `state.ports_history()` (ports per node in effect):
allocated = ports in effect, used = min(demand, allocated) - Average time-weighted, Minimum/Maximum
over the spans; SnatConnectionCount: attempts = connections_per_min x minutes, of which the fraction
(demand - allocated) / demand fails when demand > allocated; Pending 0; counts rounded to integers.

Errors use Monitor's flat shape {"code", "message"}.
"""

from __future__ import annotations

import datetime
import re
import urllib.parse

from ..common import ArmError, Response, iso_z, utcnow
from . import natgateway
from .network import has_lb

NAMESPACE = 'Microsoft.Network/loadBalancers'
AGGREGATIONS = ('average', 'count', 'minimum', 'maximum', 'total')
# orderby names ("sum asc" in the API's own example) -> aggregation
ORDERBY_ALIASES = {'sum': 'total', 'avg': 'average', 'min': 'minimum', 'max': 'maximum'}
METRICS = {
    'SnatConnectionCount': {'unit': 'Count', 'primary': 'total', 'display': 'SNAT Connection Count',
                            'description': 'Total number of new SNAT connections created within the time period',
                            'dims': ('FrontendIPAddress', 'BackendIPAddress', 'ConnectionState')},
    'AllocatedSnatPorts': {'unit': 'Count', 'primary': 'average', 'display': 'Allocated SNAT Ports',
                           'description': 'Total number of SNAT ports allocated within time period',
                           'dims': ('FrontendIPAddress', 'BackendIPAddress', 'ProtocolType', 'IsAwaitingRemoval')},
    'UsedSnatPorts': {'unit': 'Count', 'primary': 'average', 'display': 'Used SNAT Ports',
                      'description': 'Total number of SNAT ports used within time period',
                      'dims': ('FrontendIPAddress', 'BackendIPAddress', 'ProtocolType', 'IsAwaitingRemoval')},
}
_DURATION_RE = re.compile(r'^P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?)?$', re.IGNORECASE)
_COND_RE = re.compile(r"^\s*\(*\s*([A-Za-z][\w]*)\s+eq\s+'([^']*)'\s*\)*\s*$", re.IGNORECASE)


def _bad(message, code='BadRequest', status=400):
    return ArmError(status, code, message, flat=True)


def parse_duration(text):
    match = _DURATION_RE.match(text or '')
    if not match or not any(match.groups()):
        return None
    days, hours, minutes, seconds = (int(g or 0) for g in match.groups())
    return datetime.timedelta(days=days, hours=hours, minutes=minutes, seconds=seconds)


def _format_duration(delta):
    seconds = int(delta.total_seconds())
    if seconds % 86400 == 0:
        return 'P%dD' % (seconds // 86400)
    hours, rem = divmod(seconds, 3600)
    minutes, secs = divmod(rem, 60)
    return 'PT' + (('%dH' % hours) if hours else '') + (('%dM' % minutes) if minutes else '') + (('%dS' % secs) if secs else '')


def _parse_time(text):
    try:
        value = datetime.datetime.fromisoformat(text.strip().replace('Z', '+00:00'))
    except ValueError:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=datetime.timezone.utc)
    return value


def parse_timespan(text, now=None):
    now = now or utcnow()
    if not text:
        return now - datetime.timedelta(hours=1), now
    parts = text.split('/')
    if len(parts) == 1:
        delta = parse_duration(parts[0])
        if delta is None:
            raise _bad("Invalid time interval input: '%s'. Use '<start>/<end>' ISO 8601 times or a duration." % text)
        return now - delta, now
    if len(parts) != 2:
        raise _bad("Invalid time interval input: '%s'." % text)
    start_d, end_d = parse_duration(parts[0]), parse_duration(parts[1])
    start, end = _parse_time(parts[0]) if start_d is None else None, _parse_time(parts[1]) if end_d is None else None
    if start is None and end is not None and start_d is not None:
        start = end - start_d
    if end is None and start is not None and end_d is not None:
        end = start + end_d
    if start is None or end is None or end <= start:
        raise _bad("Invalid time interval input: '%s'. The start must be before the end." % text)
    return start, end


def parse_filter(text, dims_allowed, metric_name):
    """`Dim eq 'v' [or Dim eq 'w'] [and Other eq '*']` -> ordered {dim: set(values) | '*'}."""
    result = {}
    if not text or not text.strip():
        return result
    canon = {d.lower(): d for d in dims_allowed}
    for clause in re.split(r'\s+and\s+', text.strip(), flags=re.IGNORECASE):
        dim_name, values = None, set()
        for cond in re.split(r'\s+or\s+', clause.strip(), flags=re.IGNORECASE):
            match = _COND_RE.match(cond)
            if not match:
                raise _bad("Invalid $filter '%s': use \"<Dimension> eq '<value>'\" joined by 'and' / 'or'." % text)
            name = match.group(1)
            if name.lower() not in canon:
                raise _bad('Metric: %s does not support requested dimension combination: %s, supported ones are: %s, please check metric '
                           'definition.' % (metric_name, name, ','.join(dims_allowed)))
            if dim_name and dim_name != canon[name.lower()]:
                raise _bad("Invalid $filter '%s': 'or' may only combine values of one dimension." % text)
            dim_name = canon[name.lower()]
            values.add(match.group(2))
        result[dim_name] = '*' if '*' in values else values
    return result


def _node_values(state, node):
    cfg = state.metrics or {}
    merged = {'allocated': None, 'used': 0, 'successful': 0, 'failed': 0, 'pending': 0}
    merged.update(cfg.get('default') or {})
    nodes = cfg.get('nodes') or {}
    for key in (node['name'], node['short'], node['ip']):
        if key in nodes:
            merged.update(nodes[key] or {})
    if merged['allocated'] is None:
        merged['allocated'] = state.effective_ports_per_node()
    return merged


def _at(value, index):
    if isinstance(value, list):
        if not value:
            return 0
        return value[min(index, len(value) - 1)]
    return value


def _dims(metric, frontend, node, conn_state=None):
    if metric == 'SnatConnectionCount':
        return {'FrontendIPAddress': frontend, 'BackendIPAddress': node['ip'], 'ConnectionState': conn_state}
    return {'FrontendIPAddress': frontend, 'BackendIPAddress': node['ip'], 'ProtocolType': 'TCP', 'IsAwaitingRemoval': 'False'}


def _static_cells(state, metric, count):
    frontend = state.public_ips()[0]['address'] if state.public_ips() else ''
    cells = []
    for node in state.topology['nodes']:
        values = _node_values(state, node)
        if metric == 'SnatConnectionCount':
            for conn_state in ('Successful', 'Failed', 'Pending'):
                value = values[conn_state.lower()]
                cells.append((_dims(metric, frontend, node, conn_state), [_at(value, i) for i in range(count)]))
        else:
            value = values['allocated'] if metric == 'AllocatedSnatPorts' else values['used']
            cells.append((_dims(metric, frontend, node), [_at(value, i) for i in range(count)]))
    return cells


def is_workload(metrics):
    return isinstance(metrics, dict) and 'workload' in metrics


def _workload_values(state, node):
    workload = (state.metrics or {}).get('workload') or {}
    merged = {'demand': 0, 'connections_per_min': 60}
    merged.update(workload.get('default') or {})
    nodes = workload.get('nodes') or {}
    for key in (node['name'], node['short'], node['ip']):
        if key in nodes:
            merged.update(nodes[key] or {})
    return merged


def _spans(history, start, end):
    """[(seconds, ports per node)] covering [start, end) under the port history [(since or None, ports)]."""
    spans = []
    for index, (since, ports) in enumerate(history):
        span_start = start if since is None else max(start, since)
        following = history[index + 1][0] if index + 1 < len(history) else None
        span_end = end if following is None else min(end, following)
        if span_end > span_start:
            spans.append(((span_end - span_start).total_seconds(), ports))
    return spans


def _ports_point(weighted):
    """[(seconds, value)] -> an aggregated data cell (time-weighted average, min, max)."""
    seconds = sum(s for s, _v in weighted)
    average = round(sum(s * v for s, v in weighted) / seconds, 2)
    return {'average': average, 'minimum': min(v for _s, v in weighted), 'maximum': max(v for _s, v in weighted),
            'total': average, 'count': 1}


def _workload_series(metric, demand, per_min, bucket_spans):
    """{dimension value or None: [cell per bucket]} for one node's workload (None = no data for the bucket)."""
    if metric == 'SnatConnectionCount':
        result = {'Successful': [], 'Failed': [], 'Pending': []}
        for spans in bucket_spans:
            if spans is None:
                for series in result.values():
                    series.append(None)
                continue
            attempts = failed = 0.0
            for seconds, ports in spans:
                tried = per_min * seconds / 60.0
                attempts += tried
                if demand > ports and demand > 0:
                    failed += tried * (demand - ports) / float(demand)
            failed_count = int(round(failed))
            result['Failed'].append(failed_count)
            result['Successful'].append(max(0, int(round(attempts)) - failed_count))
            result['Pending'].append(0)
        return result
    series = []
    for spans in bucket_spans:
        if spans is None:
            series.append(None)
        elif metric == 'AllocatedSnatPorts':
            series.append(_ports_point(spans))
        else:
            series.append(_ports_point([(seconds, min(demand, ports)) for seconds, ports in spans]))
    return {None: series}


def _workload_cells(state, metric, points, interval, end_of_full):
    """Cells of the workload model: per node, one value per bucket [t, t + interval) clamped to now."""
    now = state.now()
    history = state.ports_history()
    bucket_spans = []
    for point in points:
        bucket_end = min(end_of_full or point + interval, now)
        bucket_spans.append(_spans(history, point, bucket_end) if point < now else None)
    frontend = state.public_ips()[0]['address'] if state.public_ips() else ''
    cache = {}
    cells = []
    for node in state.topology['nodes']:
        values = _workload_values(state, node)
        key = (float(values['demand']), float(values['connections_per_min']))
        if key not in cache:
            cache[key] = _workload_series(metric, key[0], key[1], bucket_spans)
        for conn_state, series in cache[key].items():
            cells.append((_dims(metric, frontend, node, conn_state), series))
    return cells


def _aggregate(values, aggregations):
    """Combine the cells of a series at one time point; a cell is a number, an aggregated dict, or None (no data)."""
    point = {}
    cells = [v if isinstance(v, dict) else {'average': v, 'minimum': v, 'maximum': v, 'total': v, 'count': 1}
             for v in values if v is not None]
    if not cells:
        return point
    combined = {'total': float(sum(c['total'] for c in cells)), 'count': float(sum(c['count'] for c in cells)),
                'average': float(sum(c['average'] for c in cells)) / len(cells),
                'minimum': float(min(c['minimum'] for c in cells)), 'maximum': float(max(c['maximum'] for c in cells))}
    for agg in aggregations:
        point[agg] = combined[agg]
    return point


def _resource(state, resource_uri):
    """(metric namespace, metric table) of an emulated resource: the cluster load balancer or the NAT gateway (issue 16)."""
    if natgateway.is_gateway(state, resource_uri):
        return natgateway.NAMESPACE, natgateway.METRICS
    if resource_uri.lower() == state.topology['load_balancer']['id'].lower() and has_lb(state):
        return NAMESPACE, METRICS
    raise _bad("The Resource '%s' was not found, or metrics are not emulated for it." % resource_uri.strip('/'), 'ResourceNotFound', 404)


def metrics_list(ctx, p):
    state = ctx.state
    query = ctx.query
    resource_uri = '/' + p['resource_uri'].strip('/')
    namespace_of, metrics_of = _resource(state, resource_uri)
    namespace = query.get('metricnamespace')
    if namespace and namespace.lower() != namespace_of.lower():
        raise _bad("Metric namespace '%s' is not valid for resource type '%s'." % (namespace, namespace_of))
    names = [n.strip() for n in (query.get('metricnames') or next(iter(metrics_of))).split(',') if n.strip()]
    canon = {k.lower(): k for k in metrics_of}
    for name in names:
        if name.lower() not in canon:
            raise _bad('Failed to find metric configuration for provider: Microsoft.Network, resource Type: %s, metric: %s, '
                       'Valid metrics: %s' % (namespace_of.split('/')[1], name, ','.join(metrics_of)))
    requested_aggs = [a.strip().lower() for a in (query.get('aggregation') or '').split(',') if a.strip()]
    for agg in requested_aggs:
        if agg not in AGGREGATIONS:
            raise _bad('Invalid aggregation type: %s. Valid values: %s' % (agg, ', '.join(AGGREGATIONS)))
    # an unencoded '+' of a UTC offset arrives as a space; the Azure CLI (az monitor metrics list) sends the timespan
    # percent-encoded twice ('%253A'), which Azure Monitor accepts
    timespan = query.get('timespan') or ''
    if '%' in timespan:
        timespan = urllib.parse.unquote(timespan)
    start, end = parse_timespan(timespan.replace(' ', '+'), now=state.now())
    interval_text = query.get('interval') or 'PT1M'
    if interval_text.upper() == 'FULL':
        interval = end - start
    else:
        interval = parse_duration(interval_text)
        if interval is None or interval.total_seconds() < 60:
            raise _bad("Invalid interval '%s': use an ISO 8601 duration of at least PT1M, or FULL." % interval_text)
    if interval_text.upper() != 'FULL':
        epoch = datetime.datetime(2000, 1, 1, tzinfo=datetime.timezone.utc)
        start = epoch + ((start - epoch) // interval) * interval
    points = []
    cursor = start
    while cursor < end and len(points) <= 10000:
        points.append(cursor)
        cursor += interval
    if len(points) > 10000:
        raise _bad('The query would return more than 10000 data points per series; use a larger interval or a shorter timespan.')
    try:
        top = int(query.get('top') or 10)
    except ValueError:
        raise _bad("Invalid value for 'top': %s" % query.get('top')) from None
    orderby = (query.get('orderby') or '').strip().lower().split()
    metadata_only = (query.get('resulttype') or '').lower() == 'metadata'
    stamps = [iso_z(ts) for ts in points]
    value = []
    full = interval_text.upper() == 'FULL'
    with state.lock:
        workload = is_workload(state.metrics)
        nat = namespace_of == natgateway.NAMESPACE
        for raw_name in names:
            name = canon[raw_name.lower()]
            info = metrics_of[name]
            aggs = requested_aggs or [info['primary']]
            filt = parse_filter(query.get('$filter'), info['dims'], name)
            groups = {}
            if nat:
                cells = natgateway.cells(state, name, points, interval, end if full else None)
            elif workload:
                cells = _workload_cells(state, name, points, interval, end if full else None)
            else:
                cells = _static_cells(state, name, len(points))
            for dims, series_values in cells:
                key = []
                keep = True
                for dim, wanted in filt.items():
                    if wanted != '*' and dims[dim] not in wanted:
                        keep = False
                        break
                    key.append((dim, dims[dim]))
                if keep:
                    groups.setdefault(tuple(key), []).append(series_values)
            series = []
            for key, cell_values in groups.items():
                entry = {'metadatavalues': [{'name': {'value': dim.lower(), 'localizedValue': dim.lower()}, 'value': val} for dim, val in key]}
                if not metadata_only:
                    entry['data'] = [dict({'timeStamp': stamp}, **_aggregate([v[i] for v in cell_values], aggs))
                                     for i, stamp in enumerate(stamps)]
                series.append(entry)
            order_by = ORDERBY_ALIASES.get(orderby[0], orderby[0]) if orderby else None
            if filt and order_by in AGGREGATIONS and not metadata_only:
                # The series' value over the whole timespan in that aggregation decides the order.
                combine = {'maximum': max, 'minimum': min}.get(order_by, sum)
                series.sort(key=lambda s: combine([d[order_by] for d in s['data'] if order_by in d] or [0]),
                            reverse=len(orderby) < 2 or orderby[1] != 'asc')
            if filt:
                series = series[:top]
            value.append({'id': '%s/providers/Microsoft.Insights/metrics/%s' % (resource_uri, name), 'type': 'Microsoft.Insights/metrics',
                          'name': {'value': name, 'localizedValue': info['display']}, 'displayDescription': info['description'],
                          'unit': info['unit'], 'errorCode': 'Success', 'timeseries': series})
    body = {'cost': len(points) * max(1, len(value)), 'timespan': '%s/%s' % (iso_z(start), iso_z(end)),
            'interval': _format_duration(interval) if interval_text.upper() != 'FULL' else _format_duration(end - start),
            'namespace': namespace_of, 'resourceregion': state.location, 'value': value}
    return Response(200, body)


def metric_definitions_list(ctx, p):
    """The three emulated load balancer metrics as MetricDefinition objects."""
    state = ctx.state
    resource_uri = '/' + p['resource_uri'].strip('/')
    namespace_of, metrics_of = _resource(state, resource_uri)
    namespace = ctx.query.get('metricnamespace')
    if namespace and namespace.lower() != namespace_of.lower():
        raise _bad("Metric namespace '%s' is not valid for resource type '%s'." % (namespace, namespace_of))
    grains = ('PT1M', 'PT5M', 'PT15M', 'PT30M', 'PT1H', 'PT6H', 'PT12H', 'P1D')
    value = []
    for name, info in metrics_of.items():
        value.append({
            'id': '%s/providers/microsoft.insights/metricdefinitions/%s' % (resource_uri, name), 'resourceId': resource_uri,
            'namespace': namespace_of, 'name': {'value': name, 'localizedValue': info['display']}, 'displayDescription': info['description'],
            'isDimensionRequired': False, 'unit': info['unit'], 'primaryAggregationType': info['primary'].capitalize(),
            'supportedAggregationTypes': ['None', 'Average', 'Minimum', 'Maximum', 'Total', 'Count'],
            'metricAvailabilities': [{'timeGrain': g, 'retention': 'P93D'} for g in grains],
            'dimensions': [{'value': d, 'localizedValue': d} for d in info['dims']],
        })
    return Response(200, {'value': value})
