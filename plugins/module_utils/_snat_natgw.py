# -*- coding: utf-8 -*-
# Copyright (c) 2026 aks.tunnel contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""SNAT capacity math and the SNAT-exhaustion verdict for a NAT gateway (outboundType managedNATGateway / userAssignedNATGateway).

Pure Python (standard library only).

Facts used (Azure NAT gateway docs: "Troubleshoot Azure NAT Gateway connectivity", "NAT gateway metrics",
Azure Monitor "Supported metrics for Microsoft.Network/natgateways"):

* each public IP gives 64,512 SNAT ports; a NAT gateway holds at most 16 public IPs, counting the IPs of its public IP
  prefixes (a /28 prefix = 16 IPs, /29 = 8, /30 = 4, /31 = 2);
* a SNAT port is reused for connections to different destinations, so the ports bound only the concurrent connections to
  one destination endpoint (IP and port - for the tunnel, the API server), where NAT gateway supports up to 50,000
  concurrent connections per public IP;
* the TCP idle timeout is 4..120 minutes, default 4; a higher value holds idle flows and their ports longer;
* metrics (REST names): ``SNATConnectionCount`` (new SNAT connections, dimensions Protocol and ConnectionState -
  attempted, established, failed, closed, timed out), ``TotalConnectionCount`` (active SNAT connections, dimension Protocol)
  and ``PacketDropCount`` (no dimension). The troubleshooting article's evidence of exhaustion: failed SNAT connections
  over time, with dropped packets consistent with them; its mitigation: more public IPs or prefixes (up to 16 IPs),
  connection reuse, the default idle timeout.
"""

from __future__ import annotations

import math

from ansible_collections.aks.tunnel.plugins.module_utils._causes import (
    SNAT_EXHAUSTION,
    STATUS_OK,
    STATUS_PROBLEM,
    STATUS_UNKNOWN,
    make_finding,
)

PORTS_PER_IP = 64512
SAME_DESTINATION_PER_IP = 50000
MAX_IPS = 16
DEFAULT_IDLE_TIMEOUT = 4
MIN_IDLE_TIMEOUT = 4
MAX_IDLE_TIMEOUT = 120
# IPv4 public IP prefix lengths a NAT gateway takes (/28 = 16 IPs, the most one gateway holds).
MIN_PREFIX_LENGTH = 28
MAX_PREFIX_LENGTH = 31
NAMESPACE = 'Microsoft.Network/natGateways'
METRIC_CONNECTIONS = 'SNATConnectionCount'
METRIC_ACTIVE = 'TotalConnectionCount'
METRIC_DROPPED = 'PacketDropCount'
STATE_FAILED = 'failed'
STATE_ATTEMPTED = 'attempted'
# Used/available ratio a repair aims below, as for the load balancer (0.8 threshold x 0.9 margin).
DEFAULT_USAGE_THRESHOLD = 0.8
HEADROOM_MARGIN = 0.1


class NatGatewayInputError(ValueError):
    """A NAT gateway body, metric response or setting is missing, of the wrong type or out of range."""


def _get(node, *keys):
    for key in keys:
        if not isinstance(node, dict):
            return None
        node = node.get(key)
    return node


def prefix_ip_count(prefix_length):
    """IPs of a public IP prefix of this length that a NAT gateway can take: 2 ** (32 - length), /28../31."""
    if isinstance(prefix_length, bool) or not isinstance(prefix_length, int):
        raise NatGatewayInputError('prefixLength must be an integer, got %r' % (prefix_length,))
    if not MIN_PREFIX_LENGTH <= prefix_length <= MAX_PREFIX_LENGTH:
        raise NatGatewayInputError('a NAT gateway takes IPv4 public IP prefixes /%d../%d, got /%d'
                                   % (MIN_PREFIX_LENGTH, MAX_PREFIX_LENGTH, prefix_length))
    return 2 ** (32 - prefix_length)


def gateway_summary(gateway, prefix_lengths=None):
    """The fields of a natGateways GET that decide its SNAT capacity.

    prefix_lengths: {public IP prefix id (any case): prefixLength} read from the prefixes; a prefix without a length
    counts as unknown (ip_count None: the capacity cannot be computed).
    """
    if not isinstance(gateway, dict) or not gateway.get('id'):
        raise NatGatewayInputError('the NAT gateway must be a natGateways GET body with an id')
    lengths = dict((str(k).lower(), v) for k, v in (prefix_lengths or {}).items())
    props = gateway.get('properties') or {}
    ips = [item.get('id') for item in props.get('publicIpAddresses') or [] if isinstance(item, dict) and item.get('id')]
    prefixes = []
    for item in props.get('publicIpPrefixes') or []:
        prefix_id = item.get('id') if isinstance(item, dict) else None
        if not prefix_id:
            continue
        length = lengths.get(prefix_id.lower())
        prefixes.append({'id': prefix_id, 'prefix_length': length, 'ips': prefix_ip_count(length) if length is not None else None})
    ip_count = len(ips) + sum(p['ips'] for p in prefixes) if all(p['ips'] is not None for p in prefixes) else None
    idle = props.get('idleTimeoutInMinutes')
    idle = DEFAULT_IDLE_TIMEOUT if idle is None else idle
    parts = gateway['id'].split('/')
    resource_group = parts[4] if len(parts) > 4 else None
    return {
        'id': gateway['id'], 'name': gateway.get('name') or parts[-1], 'resource_group': resource_group,
        'sku': _get(gateway, 'sku', 'name'), 'idle_timeout_in_minutes': idle,
        'public_ip_ids': ips, 'public_ip_prefixes': prefixes, 'ip_count': ip_count,
        'snat_ports': PORTS_PER_IP * ip_count if ip_count is not None else None,
        'same_destination_limit': SAME_DESTINATION_PER_IP * ip_count if ip_count is not None else None,
        'subnet_ids': [item.get('id') for item in props.get('subnets') or [] if isinstance(item, dict) and item.get('id')],
    }


def _name_of(metric):
    name = metric.get('name')
    if isinstance(name, dict):
        name = name.get('value')
    return str(name or '')


def _point(point, preference):
    if not isinstance(point, dict):
        return None
    for key in preference:
        value = point.get(key)
        if value is not None:
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
                raise NatGatewayInputError('metric point %s is not a count: %r' % (key, value))
            return value
    return None


def series_from_azure_metrics(metrics):
    """An Azure Monitor metrics response (REST or SDK as_dict(), or its 'value' list) -> the series natgw_verdict() reads.

    Returns {'connections': {state (lower case): [per time point]}, 'active': [...], 'dropped': [...], 'timestamps': [...]},
    each list aligned on the sorted union of the timestamps (None where a series has no sample); series split by Protocol
    are summed. Request SNATConnectionCount split by ConnectionState (Total), TotalConnectionCount (Maximum) and
    PacketDropCount (Total).
    """
    if isinstance(metrics, dict):
        metrics = metrics.get('value')
    if not isinstance(metrics, (list, tuple)):
        raise NatGatewayInputError('metrics must be an Azure Monitor metrics response or its "value" list')
    sums = {}
    stamps = set()
    canon = dict((m.lower(), m) for m in (METRIC_CONNECTIONS, METRIC_ACTIVE, METRIC_DROPPED))
    for metric in metrics:
        if not isinstance(metric, dict):
            raise NatGatewayInputError('each metric must be a mapping, got %s' % type(metric).__name__)
        name = canon.get(_name_of(metric).lower())
        if name is None:
            continue
        # Peak active connections: the maximum of a bucket; counts of events: their total.
        preference = ('maximum', 'total', 'average') if name == METRIC_ACTIVE else ('total', 'maximum', 'average')
        for series in metric.get('timeseries') or []:
            dims = {}
            for meta in series.get('metadatavalues') or []:
                dims[_name_of(meta).lower()] = meta.get('value')
            if name == METRIC_CONNECTIONS:
                state = str(dims.get('connectionstate') or '').lower()
                if not state:
                    continue
                key = (name, state)
            else:
                key = (name, None)
            bucket = sums.setdefault(key, {})
            for index, point in enumerate(series.get('data') or []):
                stamp = (point.get('timeStamp') or point.get('time_stamp') or index) if isinstance(point, dict) else index
                stamp = stamp.isoformat() if hasattr(stamp, 'isoformat') else stamp
                stamps.add(stamp)
                value = _point(point, preference)
                if value is None:
                    bucket.setdefault(stamp, None)
                elif name == METRIC_ACTIVE:
                    # Protocol series of one bucket add up (TCP + UDP connections at the same time).
                    bucket[stamp] = value if bucket.get(stamp) is None else bucket[stamp] + value
                else:
                    bucket[stamp] = value if bucket.get(stamp) is None else bucket[stamp] + value
    order = sorted(stamps, key=lambda s: (isinstance(s, str), s if isinstance(s, str) else '%012d' % s))
    result = {'connections': {}, 'active': [], 'dropped': [], 'timestamps': [str(s) for s in order]}
    for (name, state), bucket in sums.items():
        values = [bucket.get(s) for s in order]
        if name == METRIC_CONNECTIONS:
            result['connections'][state] = values
        elif name == METRIC_ACTIVE:
            result['active'] = values
        else:
            result['dropped'] = values
    return result


def _total(values):
    return sum(v for v in values or [] if v is not None)


def _has_data(values):
    return any(v is not None for v in values or [])


def _tidy(value):
    return int(value) if float(value).is_integer() else round(value, 2)


def natgw_verdict(series, gateway, threshold=DEFAULT_USAGE_THRESHOLD):
    """SNAT exhaustion of one NAT gateway from series_from_azure_metrics() and gateway_summary().

    problem: failed SNAT connections in the window (the documented sign of exhaustion; dropped packets corroborate).
    ok: SNATConnectionCount has data and no connection failed. unknown: no SNATConnectionCount data.
    The peak of active connections against the gateway's ports is reported (ratio) and drives the recommendation.
    """
    if isinstance(threshold, bool) or not isinstance(threshold, (int, float)) or not 0 < threshold <= 1:
        raise NatGatewayInputError('threshold must be a number in (0, 1], e.g. 0.8, got %r' % (threshold,))
    connections = (series or {}).get('connections') or {}
    failed_series = connections.get(STATE_FAILED) or []
    attempted_series = connections.get(STATE_ATTEMPTED)
    has_connections = any(_has_data(v) for v in connections.values())
    failed = _total(failed_series)
    if attempted_series is not None:
        attempted = _total(attempted_series)
    else:
        attempted = sum(_total(v) for v in connections.values())
    active = [v for v in (series or {}).get('active') or [] if v is not None]
    peak = max(active) if active else None
    dropped = _total((series or {}).get('dropped'))
    has_dropped = _has_data((series or {}).get('dropped'))
    ports = gateway.get('snat_ports')
    ratio = round(peak / float(ports), 4) if peak is not None and ports else None
    failing_buckets = sum(1 for v in failed_series if v)
    drop_buckets_with_failures = sum(1 for f, d in zip(failed_series, (series or {}).get('dropped') or []) if f and d)
    if not has_connections:
        status = STATUS_UNKNOWN
    elif failed > 0:
        status = STATUS_PROBLEM
    else:
        status = STATUS_OK
    verdict = {
        'gateway': gateway['name'], 'gateway_id': gateway['id'], 'status': status, 'failed': _tidy(failed), 'attempted': _tidy(attempted),
        'peak_active_connections': _tidy(peak) if peak is not None else None, 'dropped_packets': _tidy(dropped) if has_dropped else None,
        'failing_buckets': failing_buckets, 'drop_buckets_with_failures': drop_buckets_with_failures, 'ratio': ratio,
        'threshold': threshold, 'ip_count': gateway.get('ip_count'), 'snat_ports': ports,
    }
    verdict['summary'] = _summary(verdict, gateway)
    return verdict


def _summary(verdict, gateway):
    capacity = ('%d public IP(s) = %s SNAT ports' % (gateway['ip_count'], '{:,}'.format(gateway['snat_ports']))
                if gateway.get('ip_count') is not None else 'public IP count unknown')
    peak = verdict['peak_active_connections']
    usage = 'peak %s active connections' % ('{:,}'.format(peak) if peak is not None else 'n/a')
    if verdict['ratio'] is not None:
        usage += ' (%.1f%% of the ports)' % (verdict['ratio'] * 100)
    if verdict['status'] == STATUS_PROBLEM:
        drops = ''
        if verdict['dropped_packets']:
            drops = ', %s dropped packets' % '{:,}'.format(verdict['dropped_packets'])
        return ('SNAT exhaustion on NAT gateway %s: %s of %s SNAT connections failed in %d time bucket(s)%s; %s; %s'
                % (gateway['name'], '{:,}'.format(verdict['failed']), '{:,}'.format(verdict['attempted']), verdict['failing_buckets'],
                   drops, usage, capacity))
    if verdict['status'] == STATUS_OK:
        return 'no failed SNAT connections on NAT gateway %s (%s attempted); %s; %s' % (
            gateway['name'], '{:,}'.format(verdict['attempted']), usage, capacity)
    return 'no SNATConnectionCount data for NAT gateway %s: SNAT exhaustion not checked' % gateway['name']


def recommend_ips(verdict, gateway, threshold=DEFAULT_USAGE_THRESHOLD, margin=HEADROOM_MARGIN):
    """Public IPs the gateway needs for its observed demand: {ips_needed, demand_connections, basis, fits, reason}.

    Demand: the peak of active connections, scaled up by attempted / succeeded where connections failed (the failed ones
    wanted ports too). Needed: ceil(demand / (64,512 x threshold x (1 - margin))), at least today's count plus one when
    connections failed, at most 16 (fits False above: more IPs alone cannot cover it - spread egress or reuse connections).
    """
    current = gateway.get('ip_count')
    peak = verdict.get('peak_active_connections')
    failed, attempted = verdict.get('failed') or 0, verdict.get('attempted') or 0
    if current is None:
        return {'ips_needed': None, 'demand_connections': None, 'basis': 'public IP count unknown', 'fits': None,
                'reason': 'the public IP prefixes of the NAT gateway could not be read: IP count unknown'}
    if peak is None:
        demand, basis = None, 'no TotalConnectionCount data'
    elif failed and attempted > failed:
        demand = int(math.ceil(peak * attempted / float(attempted - failed)))
        basis = '%s active connections with %s of %s new connections failed -> about %s wanted' % (
            '{:,}'.format(peak), '{:,}'.format(failed), '{:,}'.format(attempted), '{:,}'.format(demand))
    elif failed:
        demand = int(peak) * 2
        basis = 'every new connection failed at %s active connections -> assumed %s wanted' % ('{:,}'.format(peak), '{:,}'.format(demand))
    else:
        demand = int(peak)
        basis = 'peak of %s active connections' % '{:,}'.format(peak)
    per_ip = PORTS_PER_IP * threshold * (1 - margin)
    needed = max(1, int(math.ceil(demand / per_ip))) if demand is not None else None
    if failed:
        needed = max(needed or 0, current + 1)
    if needed is None:
        return {'ips_needed': None, 'demand_connections': None, 'basis': basis, 'fits': None,
                'reason': 'no connection data to size the NAT gateway'}
    fits = needed <= MAX_IPS
    if fits:
        reason = '%d public IP(s) keep %s connections at <= %.0f%% of the SNAT ports (%s)' % (
            needed, '{:,}'.format(demand), threshold * (1 - margin) * 100, basis)
    else:
        reason = ('%s connections would need %d public IPs, more than the %d a NAT gateway holds (%s): reuse connections or spread '
                  'the egress over more subnets / NAT gateways' % ('{:,}'.format(demand), needed, MAX_IPS, basis))
    return {'ips_needed': min(needed, MAX_IPS), 'demand_connections': demand, 'basis': basis, 'fits': fits, 'reason': reason}


def advice(gateway, verdict, recommendation, managed):
    """Advice lines for a NAT gateway (commands with placeholders for what the finding cannot know)."""
    lines = []
    ips = (recommendation or {}).get('ips_needed')
    current = gateway.get('ip_count')
    if verdict['status'] == STATUS_PROBLEM and ips and current is not None and ips > current:
        if managed:
            lines.append('az aks update -g <resource-group> -n <cluster> --nat-gateway-managed-outbound-ip-count %d (today %d; '
                         'new egress addresses for allow-lists, each costs money)' % (ips, current))
        else:
            lines.append('Add %d public IP(s) or a public IP prefix (/31 = 2, /30 = 4, /29 = 8, /28 = 16 IPs; at most %d IPs in total) '
                         'to NAT gateway %s: az network nat gateway update -g %s -n %s --public-ip-addresses <all IPs> '
                         '[--public-ip-prefixes <prefixes>] (today %d IP(s); new egress addresses for allow-lists)'
                         % (ips - current, MAX_IPS, gateway['name'], gateway['resource_group'], gateway['name'], current))
    idle = gateway.get('idle_timeout_in_minutes')
    if isinstance(idle, int) and idle > DEFAULT_IDLE_TIMEOUT:
        if managed:
            lines.append('The TCP idle timeout is %d minutes: idle flows hold their ports that long; the default %d frees them sooner: '
                         'az aks update -g <resource-group> -n <cluster> --nat-gateway-idle-timeout %d'
                         % (idle, DEFAULT_IDLE_TIMEOUT, DEFAULT_IDLE_TIMEOUT))
        else:
            lines.append('The TCP idle timeout is %d minutes: idle flows hold their ports that long; the default %d frees them sooner: '
                         'az network nat gateway update -g %s -n %s --idle-timeout %d'
                         % (idle, DEFAULT_IDLE_TIMEOUT, gateway['resource_group'], gateway['name'], DEFAULT_IDLE_TIMEOUT))
    lines.append('Make applications reuse outbound connections (connection pooling, HTTP keep-alive) instead of one new connection '
                 'per request: a SNAT port to one destination is held for the connection and its idle timeout.')
    if gateway.get('same_destination_limit'):
        lines.append('To one destination (IP and port, e.g. the API server on 443) NAT gateway keeps at most %s concurrent connections '
                     '(50,000 per public IP); ports are reused only across different destinations.'
                     % '{:,}'.format(gateway['same_destination_limit']))
    return lines


def natgw_finding(results, managed=False):
    """The snat_exhaustion finding over the cluster's NAT gateways.

    results: [(gateway_summary, natgw_verdict, recommend_ips or None)]. Worst status wins (problem > unknown > ok);
    remediation (problem only): {nat_gateway, nat_gateway_id, public_ips, ips_needed, fits, reason, advice}.
    """
    if not results:
        return make_finding(SNAT_EXHAUSTION, STATUS_UNKNOWN, 'no NAT gateway found for the node subnets',
                            evidence=['no NAT gateway found for the node subnets'])
    order = {STATUS_PROBLEM: 0, STATUS_UNKNOWN: 1, STATUS_OK: 2}
    ranked = sorted(results, key=lambda item: order[item[1]['status']])
    status = ranked[0][1]['status']
    summaries = [v['summary'] for _g, v, _r in ranked if v['status'] == status]
    evidence = []
    for gateway, verdict, _rec in ranked:
        prefixes = ', '.join('/%s' % (p['prefix_length'] if p['prefix_length'] is not None else '?') for p in gateway['public_ip_prefixes'])
        evidence.append('NAT gateway %s: %d public IP(s)%s -> %s SNAT ports, idle timeout %s min; failed %s, attempted %s, '
                        'peak active %s, dropped packets %s'
                        % (gateway['name'], len(gateway['public_ip_ids']), ' + prefix(es) %s' % prefixes if prefixes else '',
                           '{:,}'.format(gateway['snat_ports']) if gateway['snat_ports'] is not None else 'unknown',
                           gateway['idle_timeout_in_minutes'], verdict['failed'], verdict['attempted'],
                           _or_na(verdict['peak_active_connections']), _or_na(verdict['dropped_packets'])))
        if verdict['status'] == STATUS_PROBLEM and verdict['dropped_packets']:
            evidence.append('NAT gateway %s: packets dropped in %d of the %d time bucket(s) with failed connections'
                            % (gateway['name'], verdict['drop_buckets_with_failures'], verdict['failing_buckets']))
    remediation = {}
    if status == STATUS_PROBLEM:
        gateway, verdict, rec = ranked[0]
        rec = rec or {}
        remediation = {
            'nat_gateway': gateway['name'], 'nat_gateway_id': gateway['id'], 'public_ips': gateway['ip_count'],
            'ips_needed': rec.get('ips_needed'), 'fits': rec.get('fits'), 'reason': rec.get('reason') or 'no recommendation',
            'advice': advice(gateway, verdict, rec, managed),
        }
    return make_finding(SNAT_EXHAUSTION, status, '; '.join(summaries), [], evidence, remediation)


def _or_na(value):
    return 'n/a' if value is None else value
