# -*- coding: utf-8 -*-
# Copyright (c) 2026 aks.tunnel contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""SNAT port math and the SNAT-exhaustion verdict for the AKS cluster load balancer.

Pure Python (standard library only): imported by modules, filters and the lab.

Facts used (AKS "configure a public standard load balancer" and Azure LB outbound docs):

* each frontend (outbound) public IP gives 64,000 SNAT ports;
* ``allocatedOutboundPorts`` is 0..64000 and a multiple of 8; 0 means automatic
  allocation by backend pool size (1-50 nodes: 1024 ports per node, 51-100: 512,
  101-200: 256, 201-400: 128, 401-800: 64, 801-1000: 32). The table ends at 1000
  instances: automatic allocation is not defined for larger pools, so an explicit
  value is required there. The table value is per frontend IP, capped at 1024 ports
  (Azure LB outbound-connections article, "Default port allocation table");
* ``managedOutboundIPs.count`` is 1..100;
* capacity rule: ``ports per node x (max nodes + surge nodes) <= 64000 x outbound IPs``,
  max nodes counting each pool at its autoscaler maxCount (AKS keeps one buffer node for
  upgrades by default, maxSurge otherwise); a profile that breaks it is refused by AKS with
  ``InvalidLoadBalancerProfileAllocatedOutboundPorts`` ("Total node count 9 requires 72000
  ports but only 64000 ports are available given 1 outbound public IPs"; fixes: more IPs,
  fewer ports, a lower node count / maxCount, a lower maxSurge - AKS support article
  error-code-invalidloadbalancerprofileallocatedoutboundports, and
  the reference notes aks-tools-and-facts.md, "AKS load balancer profile").

A repair covers the observed peak with headroom below the diagnosis threshold and keeps the
rest of the outbound ports free for scale-out (recommend()); it adds outbound IPs only when
the caller allows them, because each is a new egress address and costs money.
"""

from __future__ import annotations

import fractions
import ipaddress
import math

from ansible_collections.aks.tunnel.plugins.module_utils._causes import (
    SNAT_EXHAUSTION,
    STATUS_NOT_APPLICABLE,
    STATUS_OK,
    STATUS_PROBLEM,
    STATUS_UNKNOWN,
    make_finding,
)

PORTS_PER_IP = 64000
MAX_ALLOCATED_OUTBOUND_PORTS = 64000
PORT_STEP = 8
MIN_MANAGED_OUTBOUND_IPS = 1
MAX_MANAGED_OUTBOUND_IPS = 100
AUTO_ALLOCATION_MAX_POOL = 1000
# (largest pool size of the tier, ports per node) for allocatedOutboundPorts = 0.
DEFAULT_ALLOCATION_TABLE = (
    (50, 1024),
    (100, 512),
    (200, 256),
    (400, 128),
    (800, 64),
    (1000, 32),
)
# Automatic allocation gives at most this many ports per node, whatever the number of frontend IPs.
DEFAULT_ALLOCATION_CAP = 1024
# AKS keeps one extra node during upgrades unless maxSurge says otherwise.
DEFAULT_SURGE_NODES = 1
# Used/allocated ratio at which a backend counts as (about to be) exhausted. Azure gives
# no official number; 80 % leaves headroom for bursts before connections start failing.
DEFAULT_USAGE_THRESHOLD = 0.8
# Headroom below the threshold a repair aims for: the observed peak may use at most threshold x (1 - margin)
# of the new allocation (72 % with the default threshold), so the next diagnosis is below its own threshold
# and the workload can grow a little before it is flagged again.
HEADROOM_MARGIN = 0.1

METRIC_CONNECTIONS = 'SnatConnectionCount'
METRIC_ALLOCATED = 'AllocatedSnatPorts'
METRIC_USED = 'UsedSnatPorts'
STATE_FAILED = 'failed'
STATE_SUCCEEDED = 'succeeded'
STATE_PENDING = 'pending'
# Azure documents "Successful"; some tools and the issue say "Succeeded".
_STATE_ALIASES = {
    'failed': STATE_FAILED,
    'failure': STATE_FAILED,
    'succeeded': STATE_SUCCEEDED,
    'successful': STATE_SUCCEEDED,
    'success': STATE_SUCCEEDED,
    'pending': STATE_PENDING,
}
# Key used when a series is not split by BackendIPAddress.
ALL_BACKENDS = '*'
# Keep the report readable on 1000-node clusters.
MAX_EVIDENCE_BACKENDS = 20

ADVICE = [
    'Make applications reuse outbound connections (connection pooling, HTTP keep-alive) instead of one new connection per request.',
    'Use a NAT gateway for egress (outboundType managedNATGateway or userAssignedNATGateway): 64,512 ports per IP, allocated on demand.',
    'For many short-lived connections lower the load balancer idle timeout (--load-balancer-idle-timeout, 4..120 minutes, AKS default 30).',
    'Set allocatedOutboundPorts explicitly: automatic allocation shrinks every node\'s ports when the pool crosses 50/100/200/400/800 nodes.',
]


class SnatInputError(ValueError):
    """An input to the SNAT math or verdict is missing, of the wrong type or out of range."""


class AutoAllocationUnsupportedError(SnatInputError):
    """Automatic port allocation (allocatedOutboundPorts = 0) is not defined for this pool size."""


def _int(name, value, minimum, maximum=None):
    """Return value as int or raise SnatInputError saying what is allowed."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise SnatInputError('%s must be an integer, got %r (%s)' % (name, value, type(value).__name__))
    if value < minimum or (maximum is not None and value > maximum):
        allowed = '%d..%d' % (minimum, maximum) if maximum is not None else '>= %d' % minimum
        raise SnatInputError('%s must be %s, got %d' % (name, allowed, value))
    return value


def _ports(name, value, allow_zero):
    """Validate an allocatedOutboundPorts-style value (multiple of 8, 0 only when allowed)."""
    _int(name, value, 0 if allow_zero else PORT_STEP, MAX_ALLOCATED_OUTBOUND_PORTS)
    if value % PORT_STEP:
        lower = value - value % PORT_STEP
        raise SnatInputError('%s must be a multiple of %d, got %d (use %d or %d)' % (name, PORT_STEP, value, lower, lower + PORT_STEP))
    return value


def default_ports_per_node(pool_size, frontend_ips=1):
    """Ports per node that automatic allocation (allocatedOutboundPorts = 0) gives a pool of this size.

    The table value is per frontend IP, capped at 1024: MIN(table value x frontend IPs, 1024)
    (Azure Load Balancer "Source Network Address Translation (SNAT) for outbound connections",
    "Default port allocation table": 100 VMs get 512 ports with one frontend IP, 1024 with two,
    and still 1024 with three).
    Raises AutoAllocationUnsupportedError above 1000 instances, where the Azure table ends.
    """
    _int('pool_size', pool_size, 1)
    _int('frontend_ips', frontend_ips, 1)
    for largest, ports in DEFAULT_ALLOCATION_TABLE:
        if pool_size <= largest:
            return min(ports * frontend_ips, DEFAULT_ALLOCATION_CAP)
    raise AutoAllocationUnsupportedError(
        'automatic SNAT port allocation is only defined for backend pools of up to %d instances, got %d; '
        'set allocatedOutboundPorts explicitly (see recommend())' % (AUTO_ALLOCATION_MAX_POOL, pool_size))


def max_nodes_supported(outbound_ips, ports_per_node):
    """How many nodes ``outbound_ips`` IPs can give ``ports_per_node`` ports each: floor(64000 * IPs / ports).

    Rounded down (the docs say "nearest integer", but a node that would get only part of
    its ports does not fit).

    ports_per_node must be an explicit value (8..64000, multiple of 8); for automatic
    allocation pass default_ports_per_node(pool size).
    """
    _int('outbound_ips', outbound_ips, 1)
    if ports_per_node == 0 and not isinstance(ports_per_node, bool):
        raise SnatInputError('ports_per_node 0 means automatic allocation; pass the effective value, '
                             'e.g. default_ports_per_node(<pool size>)')
    _ports('ports_per_node', ports_per_node, allow_zero=False)
    return PORTS_PER_IP * outbound_ips // ports_per_node


def max_ports_per_node(outbound_ips, nodes):
    """Largest valid allocatedOutboundPorts (multiple of 8, <= 64000) that gives every one of ``nodes`` nodes its ports.

    Returns 0 when even 8 ports per node do not fit.
    """
    _int('outbound_ips', outbound_ips, 1)
    _int('nodes', nodes, 1)
    ports = PORTS_PER_IP * outbound_ips // nodes
    ports -= ports % PORT_STEP
    return min(ports, MAX_ALLOCATED_OUTBOUND_PORTS)


def surge_nodes(max_surge=None, node_count=None):
    """Extra nodes an upgrade adds for one pool: AKS maxSurge ('33%', '2', 2) -> node count.

    None -> 1 (AKS default buffer node). Percentages are of node_count, rounded up.
    """
    if max_surge is None or max_surge == '':
        return DEFAULT_SURGE_NODES
    if isinstance(max_surge, bool):
        raise SnatInputError('max_surge must be a node count or a percentage such as "33%%", got %r' % (max_surge,))
    if isinstance(max_surge, int):
        return _int('max_surge', max_surge, 0)
    if isinstance(max_surge, str):
        text = max_surge.strip()
        if text.endswith('%'):
            number = text[:-1].strip()
            if not number.isdigit():
                raise SnatInputError('max_surge percentage must be a whole number such as "33%%", got %r' % (max_surge,))
            if node_count is None:
                raise SnatInputError('max_surge %r is a percentage; node_count (the pool\'s maximum node count) is required' % (max_surge,))
            _int('node_count', node_count, 0)
            return int(math.ceil(node_count * int(number) / 100.0))
        if text.isdigit():
            return int(text)
    raise SnatInputError('max_surge must be a node count or a percentage such as "33%%", got %r' % (max_surge,))


def validate_outbound_settings(ports, ips, max_nodes, surge=DEFAULT_SURGE_NODES):
    """Check user-given allocatedOutboundPorts / managed outbound IP count against the cluster's growth.

    Returns a list of error strings (empty when the settings are valid and let the cluster
    scale to max_nodes + surge). Never raises for bad values: each becomes an error line.
    """
    errors = []
    checks = (
        ('allocated_outbound_ports', ports, lambda v: _ports('allocated_outbound_ports', v, allow_zero=True)),
        ('managed_outbound_ips', ips, lambda v: _int('managed_outbound_ips', v, MIN_MANAGED_OUTBOUND_IPS, MAX_MANAGED_OUTBOUND_IPS)),
        ('max_nodes', max_nodes, lambda v: _int('max_nodes', v, 1)),
        ('surge', surge, lambda v: _int('surge', v, 0)),
    )
    for dummy_name, value, check in checks:
        try:
            check(value)
        except SnatInputError as exc:
            errors.append(str(exc))
    if errors:
        return errors
    needed = max_nodes + surge
    if ports == 0:
        if needed > AUTO_ALLOCATION_MAX_POOL:
            errors.append(
                'allocated_outbound_ports 0 (automatic) is only defined for up to %d nodes, but max_nodes + surge = %d; '
                'set an explicit value, at most %d with %d IP(s)' % (AUTO_ALLOCATION_MAX_POOL, needed, max_ports_per_node(ips, needed), ips))
        return errors
    capacity = max_nodes_supported(ips, ports)
    if capacity < needed:
        fitting_ports = max_ports_per_node(ips, needed)
        needed_ips = int(math.ceil(needed * ports / float(PORTS_PER_IP)))
        fixes = []
        if fitting_ports >= PORT_STEP:
            fixes.append('allocated_outbound_ports <= %d with %d IP(s)' % (fitting_ports, ips))
        if needed_ips <= MAX_MANAGED_OUTBOUND_IPS:
            fixes.append('managed_outbound_ips >= %d with %d ports' % (needed_ips, ports))
        errors.append(
            '%d IP(s) x 64000 / %d ports per node = %d nodes, fewer than max_nodes %d + surge %d = %d: '
            'scale-out and upgrades would fail (InvalidLoadBalancerProfileAllocatedOutboundPorts); use %s'
            % (ips, ports, capacity, max_nodes, surge, needed, ' or '.join(fixes) or 'fewer nodes'))
    return errors


def ports_for_peak(peak_ports, threshold=DEFAULT_USAGE_THRESHOLD, margin=HEADROOM_MARGIN):
    """Smallest allocatedOutboundPorts (multiple of 8) at which peak_ports use at most threshold x (1 - margin) of it.

    So the diagnosis run again after the repair (same threshold) sees the peak below its threshold, with the
    margin as headroom for growth. 0 for no peak. Exact arithmetic: 1300 ports at 0.8 x 0.9 -> 1806 -> 1808.
    """
    _int('peak_ports', peak_ports, 0)
    limit = _threshold_fraction(threshold) * (1 - fractions.Fraction(str(margin)))
    if not peak_ports:
        return 0
    return _round_up(int(math.ceil(fractions.Fraction(peak_ports) / limit)))


def ips_needed(ports_per_node, nodes):
    """Outbound IPs that give `nodes` nodes `ports_per_node` ports each: ceil(nodes x ports / 64000)."""
    return max(1, int(math.ceil(nodes * ports_per_node / float(PORTS_PER_IP))))


def _round_up(ports):
    return int(math.ceil(ports / float(PORT_STEP))) * PORT_STEP


def _threshold_fraction(threshold):
    if isinstance(threshold, bool) or not isinstance(threshold, (int, float)) or not 0 < threshold <= 1:
        raise SnatInputError('threshold must be a number in (0, 1], e.g. 0.8, got %r' % (threshold,))
    return fractions.Fraction(str(threshold))


def demand_estimate(verdict):
    """Peak SNAT ports per node the workload wants, from snat_verdict(): (ports, basis text).

    A backend without failed connections used what it wanted: its used peak. A backend with failed connections
    was capped by its allocation, so its use says only "at least the allocation": the estimate is the
    allocation x attempted / succeeded connections (ports are held per connection, so the ports wanted grow with
    the connections tried), or twice the allocation when none succeeded. The highest backend wins.
    """
    best, basis = 0, 'no SNAT port data'
    for backend in verdict.get('backends') or []:
        used = backend.get('used') or 0
        allocated = backend.get('allocated') or 0
        failed = backend.get('failed') or 0
        succeeded = backend.get('succeeded') or 0
        if failed > 0 and max(used, allocated) > 0:
            cap = max(used, allocated)
            if succeeded > 0:
                estimate = int(math.ceil(cap * (succeeded + failed) / float(succeeded)))
                text = ('%s: %s ports in use with %s of %s connections failed -> about %d ports wanted'
                        % (backend['backend_ip'], _tidy(cap), _tidy(failed), _tidy(failed + succeeded), estimate))
            else:
                estimate = int(cap) * 2
                text = '%s: every connection failed at %s ports -> assumed %d ports wanted' % (backend['backend_ip'], _tidy(cap), estimate)
        else:
            estimate = int(math.ceil(used))
            text = '%s: peak of %d used ports' % (backend['backend_ip'], estimate)
        if estimate > best:
            best, basis = estimate, text
    return min(best, MAX_ALLOCATED_OUTBOUND_PORTS * 2), basis


def recommend(max_nodes, surge=DEFAULT_SURGE_NODES, current_ports=0, current_ips=1, current_nodes=None, peak_ports=0,
              threshold=DEFAULT_USAGE_THRESHOLD, min_ports=0, max_ips=None, if_no_fit='refuse'):
    """allocatedOutboundPorts and outbound IP count for the observed peak, fitting max_nodes + surge nodes.

    Policy (docs/causes.md, SNAT):
    1. target = the smallest multiple of 8 that keeps peak_ports at or below threshold x (1 - HEADROOM_MARGIN)
       (ports_for_peak), and never below today's ports per node or min_ports - no headroom for scale-out is
       given away, no port is taken from a node;
    2. it must fit 64000 x IPs >= target x (max_nodes + surge) (the rule AKS enforces with
       InvalidLoadBalancerProfileAllocatedOutboundPorts);
    3. outbound IPs are added only up to max_ips (default: current_ips - none); each new IP is a new egress
       address and costs money, so the caller must ask for it;
    4. when the target does not fit: if_no_fit 'refuse' keeps today's values (refused says why and how many
       IPs it would take); 'largest_fit' takes the largest value that fits today's IPs when that is more than
       today (fewer failures, but still above the threshold).

    Returns {'allocated_outbound_ports', 'managed_outbound_ips', 'target_ports', 'ips_needed', 'fits', 'refused'
    (None or why), 'peak_ports', 'threshold', 'margin', 'expected_ratio', 'required_nodes', 'max_nodes_supported',
    'current_ports_per_node', 'current_ips', 'changed', 'reason'}.
    """
    _int('max_nodes', max_nodes, 1)
    _int('surge', surge, 0)
    _ports('current_ports', current_ports, allow_zero=True)
    _int('current_ips', current_ips, 1)
    if max_ips is None:
        max_ips = current_ips
    _int('max_ips', max_ips, MIN_MANAGED_OUTBOUND_IPS, MAX_MANAGED_OUTBOUND_IPS)
    _int('min_ports', min_ports, 0, MAX_ALLOCATED_OUTBOUND_PORTS)
    if if_no_fit not in ('refuse', 'largest_fit'):
        raise SnatInputError('if_no_fit must be refuse or largest_fit, got %r' % (if_no_fit,))
    threshold_value = float(_threshold_fraction(threshold))
    needed = max_nodes + surge
    nodes_text = '%d nodes (max %d + surge %d)' % (needed, max_nodes, surge)

    effective = current_ports or None
    effective_note = 'explicit allocation of %d ports' % current_ports
    if not current_ports:
        effective_note = 'automatic allocation'
        if current_nodes is not None:
            _int('current_nodes', current_nodes, 1)
            if current_nodes <= AUTO_ALLOCATION_MAX_POOL:
                effective = default_ports_per_node(current_nodes, current_ips)
                effective_note = 'automatic allocation (%d ports per node for %d nodes)' % (effective, current_nodes)
    peak_target = ports_for_peak(peak_ports, threshold_value)
    target = max(peak_target, effective or 0, _round_up(min_ports), PORT_STEP)
    if peak_target >= target:
        why = ('%d ports per node keep the peak of %d at %.1f%% used (threshold %.0f%% minus a %.0f%% margin)'
               % (target, peak_ports, 100.0 * peak_ports / target, threshold_value * 100, HEADROOM_MARGIN * 100))
    else:
        why = '%d ports per node (current: %s%s)' % (target, effective_note, ', min_ports %d' % min_ports if min_ports else '')
    top_ips = max(current_ips, max_ips)
    refused = None
    if target > MAX_ALLOCATED_OUTBOUND_PORTS:
        target_ips = None
        refused = ('the peak of %d ports per node needs %d ports per node, above the maximum of %d; no load balancer setting covers it '
                   '(reuse connections or use a NAT gateway)' % (peak_ports, target, MAX_ALLOCATED_OUTBOUND_PORTS))
    else:
        target_ips = ips_needed(target, needed)
        if target_ips > MAX_MANAGED_OUTBOUND_IPS:
            refused = ('%s at %d ports each: that needs %d outbound IPs, more than the maximum of %d (use a NAT gateway or split the cluster)'
                       % (nodes_text, target, target_ips, MAX_MANAGED_OUTBOUND_IPS))
    fits = refused is None and target_ips <= top_ips
    if not fits and refused is None and PORT_STEP <= peak_target and PORT_STEP <= peak_target < target and ips_needed(peak_target, needed) <= top_ips:
        # Today's allocation is the floor; a lower one would cover the peak, but taking ports away is the operator's call.
        lower_hint = (' (allocated_outbound_ports=%d covers the peak and fits %d IP(s), but is below today\'s %d ports per node; '
                      'set it explicitly if that is acceptable)' % (peak_target, top_ips, target))
    else:
        lower_hint = ''
    largest = max_ports_per_node(top_ips, needed)
    if fits:
        ports, ips = target, max(current_ips, target_ips)
        reason = '%s; %d outbound IP(s) x 64000 cover %s at that value' % (why, ips, nodes_text)
        if ips > current_ips:
            reason += ' (%d more than today: new egress addresses, update allow-lists; each IP costs money)' % (ips - current_ips)
    else:
        if refused is None:
            refused = ('%s; that needs %d outbound IP(s) for %s (%d x %d > 64000 x %d), %d today%s. Nothing changed: set '
                       'aks_tunnel_outbound_ips / managed_outbound_ips to %d to allow it, or lower the node count / maxSurge'
                       % (why, target_ips, nodes_text, target, needed, top_ips, current_ips,
                          '' if top_ips == current_ips else ' and %d allowed' % top_ips, target_ips)) + lower_hint
        ports, ips = current_ports, current_ips
        reason = refused
        if if_no_fit == 'largest_fit' and largest >= PORT_STEP and largest > (effective or 0):
            ports, ips = largest, top_ips
            reason = ('%s. Taking the largest value that fits %d IP(s) instead: %d ports per node (if_no_fit=largest_fit)%s'
                      % (refused, top_ips, largest,
                         ', the peak would use %.1f%%, still at or above the threshold' % (100.0 * peak_ports / largest)
                         if peak_ports and float(peak_ports) / largest >= threshold_value else ''))
    return {
        'allocated_outbound_ports': ports,
        'managed_outbound_ips': ips,
        'target_ports': target,
        'ips_needed': target_ips,
        'fits': fits,
        'refused': None if fits else refused,
        'peak_ports': peak_ports,
        'threshold': threshold_value,
        'margin': HEADROOM_MARGIN,
        'expected_ratio': round(float(peak_ports) / ports, 4) if peak_ports and ports else None,
        'required_nodes': needed,
        'max_nodes_supported': max_nodes_supported(ips, ports) if ports else None,
        'current_ports_per_node': effective,
        'current_ips': current_ips,
        'changed': ports != current_ports or ips != current_ips,
        'reason': reason,
    }


# ---------------------------------------------------------------------------------------------
# Verdict from Azure Monitor series
# ---------------------------------------------------------------------------------------------

def _number(value, where):
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise SnatInputError('%s: expected a number, got %r' % (where, value))
    if isinstance(value, float) and not math.isfinite(value):
        raise SnatInputError('%s: expected a finite number, got %r' % (where, value))
    return value


def _point_value(point, preference, where):
    """A point is a number, None (no sample) or an Azure data dict {total|maximum|average|...}."""
    if point is None:
        return None
    if isinstance(point, dict):
        for key in preference:
            if point.get(key) is not None:
                return _number(point[key], '%s.%s' % (where, key))
        return None
    return _number(point, where)


_CONNECTION_PREFERENCE = ('total', 'value', 'maximum', 'average')
_PORTS_PREFERENCE = ('maximum', 'value', 'average', 'total')


def _points(series_by_ip, preference, where):
    """{ip: [points]} -> {ip: [number or None]}; None (no sample) keeps its place so series stay aligned in time."""
    if series_by_ip is None:
        return {}
    if not isinstance(series_by_ip, dict):
        raise SnatInputError('%s must be a mapping of backend IP -> list of points, got %s' % (where, type(series_by_ip).__name__))
    result = {}
    for ip, points in series_by_ip.items():
        if points is None:
            points = []
        if not isinstance(points, (list, tuple)):
            raise SnatInputError('%s[%r] must be a list of points, got %s' % (where, ip, type(points).__name__))
        result[str(ip)] = [_point_value(p, preference, '%s[%r][%d]' % (where, ip, i)) for i, p in enumerate(points)]
    return result


def _present(values):
    return [v for v in values if v is not None]


def _lookup(mapping, name):
    for key, value in mapping.items():
        if isinstance(key, str) and key.lower() == name.lower():
            return value
    return None


def _ip_sort_key(ip):
    try:
        return (0, int(ipaddress.ip_address(ip)), ip)
    except ValueError:
        return (1, 0, ip)


def _tidy(number):
    if isinstance(number, float) and number.is_integer():
        return int(number)
    return number


def snat_verdict(series, threshold=DEFAULT_USAGE_THRESHOLD):
    """Decide SNAT exhaustion from load balancer metric series.

    series: {
      'SnatConnectionCount': {'Failed': {ip: [points]}, 'Succeeded' (or 'Successful'): {...}, 'Pending': {...}},
      'AllocatedSnatPorts': {ip: [points]},
      'UsedSnatPorts': {ip: [points]},
      'timestamps': [str],   # optional: the time of each point (series_from_azure_metrics() adds it)
    }
    Metric and state names are case-insensitive; a point is a number, None (no sample), or an Azure
    data dict (connections: total preferred; ports: maximum, then average). ip '*' = not split by
    backend. Lists of one backend are aligned in time (index i = the same time bucket).

    A backend is 'problem' when it has failed SNAT connections (> 0) or used/allocated >= threshold;
    'ok' when it has data and neither holds; 'unknown' without data. When the backend's allocated
    ports rose during the window (the outbound-ports repair, or a smaller pool), only the buckets
    after the bucket of the change count: failures before it are history (``failed_before_change``,
    ``allocation_change``), because the allocation that failed is no longer in effect.
    Overall: problem if any backend is, ok if any backend has data, unknown otherwise.

    Returns {'status', 'threshold', 'failed_total', 'failed_before_change', 'max_ratio' (None
    without port data), 'problem_backends': [ip], 'backends': [{'backend_ip', 'allocated', 'used',
    'failed', 'failed_before_change', 'allocation_change' ({'from', 'to', 'at'} or None),
    'succeeded', 'pending', 'ratio', 'status', 'reasons': [str]}] (sorted by IP), 'summary'}.
    """
    if isinstance(threshold, bool) or not isinstance(threshold, (int, float)) or not 0 < threshold <= 1:
        raise SnatInputError('threshold must be a number in (0, 1], e.g. 0.8 for 80%% used/allocated, got %r' % (threshold,))
    if series is None:
        series = {}
    if not isinstance(series, dict):
        raise SnatInputError('series must be a mapping of metric name -> data, got %s' % type(series).__name__)

    connections = _lookup(series, METRIC_CONNECTIONS)
    if connections is None:
        connections = {}
    if not isinstance(connections, dict):
        raise SnatInputError('%s must be a mapping of ConnectionState -> {ip: [points]}' % METRIC_CONNECTIONS)
    by_state = {STATE_FAILED: {}, STATE_SUCCEEDED: {}, STATE_PENDING: {}}
    for state_name, per_ip in connections.items():
        state = _STATE_ALIASES.get(str(state_name).lower())
        if state is None:
            raise SnatInputError('unknown ConnectionState %r in %s; expected Failed, Succeeded/Successful or Pending'
                                 % (state_name, METRIC_CONNECTIONS))
        for ip, values in _points(per_ip, _CONNECTION_PREFERENCE, '%s.%s' % (METRIC_CONNECTIONS, state_name)).items():
            by_state[state][ip] = _add_aligned(by_state[state].get(ip), values)
    allocated = _points(_lookup(series, METRIC_ALLOCATED), _PORTS_PREFERENCE, METRIC_ALLOCATED)
    used = _points(_lookup(series, METRIC_USED), _PORTS_PREFERENCE, METRIC_USED)
    timestamps = _lookup(series, 'timestamps')
    if not isinstance(timestamps, (list, tuple)):
        timestamps = None

    ips = set(allocated) | set(used)
    for per_ip in by_state.values():
        ips.update(per_ip)
    backends = []
    for ip in sorted(ips, key=_ip_sort_key):
        backends.append(_backend_verdict(ip, by_state, allocated.get(ip, []), used.get(ip, []), threshold, timestamps))

    problem = [b['backend_ip'] for b in backends if b['status'] == STATUS_PROBLEM]
    with_data = [b for b in backends if b['status'] != STATUS_UNKNOWN]
    ratios = [b['ratio'] for b in backends if b['ratio'] is not None]
    failed_total = _tidy(sum(b['failed'] for b in backends))
    failed_before = _tidy(sum(b['failed_before_change'] for b in backends))
    max_ratio = max(ratios) if ratios else None
    if problem:
        status = STATUS_PROBLEM
    elif with_data:
        status = STATUS_OK
    else:
        status = STATUS_UNKNOWN
    changed = [b for b in backends if b['allocation_change']]
    return {
        'status': status,
        'threshold': threshold,
        'failed_total': failed_total,
        'failed_before_change': failed_before,
        'max_ratio': max_ratio,
        'problem_backends': problem,
        'backends': backends,
        'summary': _verdict_summary(status, problem, failed_total, max_ratio, threshold, len(backends), changed, failed_before),
    }


def _add_aligned(current, values):
    """Element-wise sum of two aligned point lists (None + None = None)."""
    if current is None:
        return list(values)
    longer, shorter = (current, values) if len(current) >= len(values) else (values, current)
    result = list(longer)
    for index, value in enumerate(shorter):
        if value is not None:
            result[index] = value if result[index] is None else result[index] + value
    return result


def _allocation_raise(allocated_values):
    """(index of the first bucket with the new allocation, from, to) when the allocation ended higher than before, else None.

    Only the final allocation matters: the last bucket that shows another value ends the old period.
    A drop (more nodes under automatic allocation) is not a raise: earlier failures then still count.
    """
    present = [(index, value) for index, value in enumerate(allocated_values) if value is not None]
    if len(present) < 2:
        return None
    last = present[-1][1]
    other = [position for position, (_index, value) in enumerate(present) if value != last]
    if not other:
        return None
    previous = present[other[-1]][1]
    if max(value for _index, value in present[:other[-1] + 1]) >= last:
        return None
    return present[other[-1] + 1][0], previous, last


def _backend_verdict(ip, by_state, allocated_values, used_values, threshold, timestamps=None):
    failed = by_state[STATE_FAILED].get(ip, [])
    succeeded = by_state[STATE_SUCCEEDED].get(ip, [])
    pending = by_state[STATE_PENDING].get(ip, [])
    change = _allocation_raise(allocated_values)
    aligned = all(len(values) in (0, len(allocated_values)) for values in (failed, succeeded, pending, used_values))
    failed_before = []
    allocation_change = None
    if change and aligned:
        first, previous, current = change
        at = timestamps[first] if timestamps and len(timestamps) == len(allocated_values) else None
        # The bucket of the change still holds connections made under the old allocation.
        failed_before, failed = failed[:first + 1], failed[first + 1:]
        succeeded, pending, used_values = succeeded[first + 1:], pending[first + 1:], used_values[first:]
        allocated_values = allocated_values[first:]
        allocation_change = {'from': _tidy(previous), 'to': _tidy(current), 'at': at}
    allocated_present = _present(allocated_values)
    used_present = _present(used_values)
    allocated = _tidy(max(allocated_present)) if allocated_present else None
    used = _tidy(max(used_present)) if used_present else None
    ratio = None
    if allocated and used is not None:
        ratio = round(float(used) / allocated, 4)
    failed_total = _tidy(sum(_present(failed)))
    reasons = []
    if failed_total > 0:
        reasons.append('%s failed SNAT connections' % failed_total
                       + (' after the allocation rose to %s ports' % allocation_change['to'] if allocation_change else ''))
    if ratio is not None and ratio >= threshold:
        reasons.append('used %s of %s allocated SNAT ports (%.1f%% >= %.0f%%)' % (used, allocated, ratio * 100, threshold * 100))
    has_data = bool(_present(failed) or _present(succeeded) or _present(pending) or allocated_present or used_present)
    if reasons:
        status = STATUS_PROBLEM
    elif has_data:
        status = STATUS_OK
    else:
        status = STATUS_UNKNOWN
    return {
        'backend_ip': ip,
        'allocated': allocated,
        'used': used,
        'failed': failed_total,
        'failed_before_change': _tidy(sum(_present(failed_before))),
        'allocation_change': allocation_change,
        'succeeded': _tidy(sum(_present(succeeded))),
        'pending': _tidy(sum(_present(pending))),
        'ratio': ratio,
        'status': status,
        'reasons': reasons,
    }


def _verdict_summary(status, problem, failed_total, max_ratio, threshold, backend_count, changed=(), failed_before=0):
    ratio_text = 'no port data' if max_ratio is None else 'highest used/allocated %.1f%%' % (max_ratio * 100)
    since = ''
    if changed:
        since = (' since the allocated SNAT ports rose on %d backend(s) (%s failed connection(s) before the change)'
                 % (len(changed), failed_before))
    if status == STATUS_PROBLEM:
        return ('SNAT exhaustion on %d of %d backend(s): %s failed SNAT connections%s, %s (threshold %.0f%%)'
                % (len(problem), backend_count, failed_total, since, ratio_text, threshold * 100))
    if status == STATUS_OK:
        return ('no failed SNAT connections on %d backend(s)%s, %s (threshold %.0f%%)'
                % (backend_count, since, ratio_text, threshold * 100))
    return 'no SNAT metric data (SnatConnectionCount, AllocatedSnatPorts, UsedSnatPorts) for the cluster load balancer'


def series_from_azure_metrics(metrics):
    """Convert an Azure Monitor metrics response into the ``series`` shape snat_verdict() takes.

    metrics: the response dict (with 'value') or its 'value' list, REST JSON or SDK ``as_dict()``
    (keys timeStamp/time_stamp, metadatavalues with lower-cased dimension names). Request the
    series split by BackendIPAddress (and ConnectionState for SnatConnectionCount). Series of the
    same backend split by frontend IP are summed per timestamp, so a node's ports across all
    outbound IPs count once. Every list is aligned on the sorted union of the timestamps (None
    where a series has no sample), listed under 'timestamps'.
    """
    if isinstance(metrics, dict):
        metrics = metrics.get('value')
    if not isinstance(metrics, (list, tuple)):
        raise SnatInputError('metrics must be an Azure Monitor metrics response or its "value" list')
    # (metric, state or None, ip) -> {timestamp or index: value}
    sums = {}
    stamps = set()
    for metric in metrics:
        if not isinstance(metric, dict):
            raise SnatInputError('each metric must be a mapping, got %s' % type(metric).__name__)
        name = metric.get('name')
        if isinstance(name, dict):
            name = name.get('value')
        canonical = {m.lower(): m for m in (METRIC_CONNECTIONS, METRIC_ALLOCATED, METRIC_USED)}.get(str(name).lower())
        if canonical is None:
            continue
        preference = _CONNECTION_PREFERENCE if canonical == METRIC_CONNECTIONS else _PORTS_PREFERENCE
        for series in metric.get('timeseries') or []:
            dims = {}
            for meta in series.get('metadatavalues') or []:
                meta_name = meta.get('name')
                if isinstance(meta_name, dict):
                    meta_name = meta_name.get('value')
                dims[str(meta_name).lower()] = meta.get('value')
            ip = dims.get('backendipaddress') or ALL_BACKENDS
            state = dims.get('connectionstate') if canonical == METRIC_CONNECTIONS else None
            if canonical == METRIC_CONNECTIONS and not state:
                continue
            bucket = sums.setdefault((canonical, state, ip), {})
            for index, point in enumerate(series.get('data') or []):
                stamp = (point.get('timeStamp') or point.get('time_stamp') or index) if isinstance(point, dict) else index
                stamp = stamp.isoformat() if hasattr(stamp, 'isoformat') else stamp
                stamps.add(stamp)
                value = _point_value(point, preference, '%s[%s]' % (canonical, ip))
                if value is None:
                    bucket.setdefault(stamp, None)
                    continue
                bucket[stamp] = value if bucket.get(stamp) is None else bucket[stamp] + value
    order = sorted(stamps, key=lambda stamp: (isinstance(stamp, str), stamp if isinstance(stamp, str) else '%012d' % stamp))
    result = {}
    for (metric, state, ip), bucket in sums.items():
        values = [bucket.get(stamp) for stamp in order]
        if metric == METRIC_CONNECTIONS:
            result.setdefault(metric, {}).setdefault(state, {})[ip] = values
        else:
            result.setdefault(metric, {})[ip] = values
    if result:
        result['timestamps'] = [str(stamp) for stamp in order]
    return result


# ---------------------------------------------------------------------------------------------
# Finding
# ---------------------------------------------------------------------------------------------

def snat_finding(verdict, recommendation=None, node_by_ip=None):
    """Build the snat_exhaustion finding from snat_verdict() and (optionally) recommend() output.

    node_by_ip maps backend IP -> node name for affected_nodes and evidence (a '*' series, not
    split by backend, names no node). remediation (only
    when the status is problem) is {'allocated_outbound_ports', 'managed_outbound_ips', 'reason',
    'advice': [str]} (the first two None without a recommendation) plus, with one, 'peak_ports' (what the
    repair must cover), 'ips_needed' and 'fits_current_ips' (false: the repair needs more outbound IPs).
    """
    if not isinstance(verdict, dict) or verdict.get('status') not in (STATUS_PROBLEM, STATUS_OK, STATUS_UNKNOWN):
        raise SnatInputError('verdict must be the dict returned by snat_verdict()')
    node_by_ip = node_by_ip or {}
    evidence = [verdict.get('summary', '')] if verdict['status'] == STATUS_UNKNOWN else []
    affected = []
    shown = []
    for backend in verdict.get('backends', []):
        node = node_by_ip.get(backend['backend_ip'])
        if backend['status'] == STATUS_PROBLEM and backend['backend_ip'] != ALL_BACKENDS:
            affected.append(node or backend['backend_ip'])
        if backend['status'] == STATUS_PROBLEM or verdict['status'] != STATUS_PROBLEM:
            shown.append((backend, node))
    # Worst first: problem backends, then by used/allocated ratio, then by failed connections.
    shown.sort(key=lambda item: (item[0]['status'] != STATUS_PROBLEM, -(item[0]['ratio'] or 0), -item[0]['failed']))
    for backend, node in shown[:MAX_EVIDENCE_BACKENDS]:
        label = '%s (%s)' % (backend['backend_ip'], node) if node else backend['backend_ip']
        if backend['backend_ip'] == ALL_BACKENDS:
            label = 'all backends (series not split by BackendIPAddress)'
        ratio = 'n/a' if backend['ratio'] is None else '%.1f%%' % (backend['ratio'] * 100)
        line = ('%s: allocated %s, used %s (%s), failed %s, %s'
                % (label, _or_na(backend['allocated']), _or_na(backend['used']), ratio, backend['failed'], backend['status']))
        change = backend.get('allocation_change')
        if change:
            line += ('; allocated ports rose %s -> %s%s, %s failed before the change'
                     % (change['from'], change['to'], ' at %s' % change['at'] if change['at'] else '', backend['failed_before_change']))
        evidence.append(line)
    if len(shown) > MAX_EVIDENCE_BACKENDS:
        evidence.append('... and %d more backend(s)' % (len(shown) - MAX_EVIDENCE_BACKENDS))
    remediation = {}
    if verdict['status'] == STATUS_PROBLEM:
        advice = list(ADVICE)
        remediation = {
            'allocated_outbound_ports': None,
            'managed_outbound_ips': None,
            'reason': 'no recommendation computed (cluster size unknown)',
            'advice': advice,
        }
        if recommendation:
            # What covers the peak: the target ports and the IPs they take (more than today only when they must).
            target = recommendation['target_ports'] if recommendation['ips_needed'] is not None else None
            ips = max(recommendation['current_ips'], recommendation['ips_needed'] or 0)
            remediation.update({
                'allocated_outbound_ports': target,
                'managed_outbound_ips': ips,
                'peak_ports': recommendation['peak_ports'],
                'ips_needed': recommendation['ips_needed'],
                'fits_current_ips': recommendation['fits'] and recommendation['managed_outbound_ips'] == recommendation['current_ips'],
                'reason': recommendation['reason'],
            })
            if target is not None and ips <= MAX_MANAGED_OUTBOUND_IPS:
                command = 'az aks update -g <resource-group> -n <cluster> --load-balancer-outbound-ports %d' % target
                if ips > recommendation['current_ips']:
                    command += (' --load-balancer-managed-outbound-ip-count %d (adds %d public IP(s): new egress addresses for '
                                'allow-lists, and each costs money)' % (ips, ips - recommendation['current_ips']))
                advice.insert(0, command)
    return make_finding(SNAT_EXHAUSTION, verdict['status'], verdict.get('summary', ''), affected, evidence, remediation)


def snat_not_applicable_finding(reason):
    """Finding for clusters where load balancer SNAT is not on the tunnel path (private cluster, NAT gateway, UDR)."""
    return make_finding(SNAT_EXHAUSTION, STATUS_NOT_APPLICABLE, reason, evidence=[reason])


def _or_na(value):
    return 'n/a' if value is None else value
