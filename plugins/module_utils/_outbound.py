# -*- coding: utf-8 -*-
# Copyright (c) 2026 aks.tunnel contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The cluster's outbound (SNAT) set-up read from a managedClusters GET body (REST camelCase dict).

Pure Python: snat_usage_info and aks_outbound_ports hand the ARM objects to these functions.
"""

from __future__ import annotations

import datetime
import re

from ansible_collections.aks.tunnel.plugins.module_utils import _snat
from ansible_collections.aks.tunnel.plugins.module_utils._data import get_path

LOAD_BALANCER_NAME = 'kubernetes'
_DURATION_RE = re.compile(r'^P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?)?$')


class OutboundInputError(ValueError):
    """An option or cluster value the outbound modules cannot use; the message says how to fix it."""


def parse_duration(text, option='window'):
    """ISO 8601 duration (PT1H, PT30M, P1D, P1DT6H) -> datetime.timedelta; at least one minute."""
    match = _DURATION_RE.match(str(text or '').strip().upper())
    if not match or not any(match.groups()) or str(text).strip().upper().endswith('T'):
        raise OutboundInputError('%s must be an ISO 8601 duration such as PT1H, PT30M or P1D, got %r' % (option, text))
    days, hours, minutes, seconds = (int(group or 0) for group in match.groups())
    delta = datetime.timedelta(days=days, hours=hours, minutes=minutes, seconds=seconds)
    if delta < datetime.timedelta(minutes=1):
        raise OutboundInputError('%s must be at least one minute (PT1M), got %r' % (option, text))
    if delta > datetime.timedelta(days=93):
        raise OutboundInputError('%s must be at most 93 days (Azure Monitor keeps metrics for 93 days), got %r' % (option, text))
    return delta


def timespan(window, now=None):
    """Azure Monitor timespan 'start/end' (UTC, seconds precision) for the last `window`."""
    now = (now or datetime.datetime.now(datetime.timezone.utc)).replace(microsecond=0)
    start = now - window
    fmt = '%Y-%m-%dT%H:%M:%SZ'
    return '%s/%s' % (start.strftime(fmt), now.strftime(fmt))


def cluster_summary(cluster):
    """The fields of a managedClusters GET that decide SNAT exposure."""
    props = cluster.get('properties') or {}
    network = props.get('networkProfile') or {}
    profile = network.get('loadBalancerProfile') or {}
    node_rg = props.get('nodeResourceGroup')
    sub_match = re.match(r'^/subscriptions/([^/]+)/', cluster.get('id') or '', re.IGNORECASE)
    lb_id = None
    if node_rg and sub_match:
        lb_id = '/subscriptions/%s/resourceGroups/%s/providers/Microsoft.Network/loadBalancers/%s' % (sub_match.group(1), node_rg, LOAD_BALANCER_NAME)
    return {
        'name': cluster.get('name'),
        'id': cluster.get('id'),
        'etag': cluster.get('eTag') or cluster.get('etag'),
        'outbound_type': network.get('outboundType') or 'loadBalancer',
        'private': bool(get_path(props, 'apiServerAccessProfile', 'enablePrivateCluster')),
        'load_balancer_sku': network.get('loadBalancerSku'),
        'node_resource_group': node_rg,
        'load_balancer_id': lb_id,
        'load_balancer_profile': lb_profile(profile),
        'node_count': sum(int(pool.get('count') or 0) for pool in props.get('agentPoolProfiles') or []),
    }


def lb_profile(profile):
    """loadBalancerProfile -> {allocated_outbound_ports, managed_outbound_ips, custom_outbound_ips, idle_timeout_in_minutes, outbound_ip_count}."""
    profile = profile or {}
    managed = get_path(profile, 'managedOutboundIPs', 'count')
    custom = len(get_path(profile, 'outboundIPs', 'publicIPs', default=[]) or [])
    prefixes = len(get_path(profile, 'outboundIPPrefixes', 'publicIPPrefixes', default=[]) or [])
    effective = len(profile.get('effectiveOutboundIPs') or [])
    if managed is None and not custom and not prefixes:
        managed = 1
    return {
        'allocated_outbound_ports': int(profile.get('allocatedOutboundPorts') or 0),
        'managed_outbound_ips': managed,
        'custom_outbound_ips': custom,
        'custom_outbound_ip_prefixes': prefixes,
        'idle_timeout_in_minutes': profile.get('idleTimeoutInMinutes'),
        'outbound_ip_count': managed if managed and not custom and not prefixes else (effective or custom or managed or 1),
    }


def not_applicable_reason(summary):
    """Why load balancer SNAT is not on the tunnel path, or None when it is."""
    if summary['private']:
        return 'private cluster: the tunnel reaches the API server over a private endpoint, not through load balancer SNAT'
    if summary['outbound_type'] != 'loadBalancer':
        return 'outboundType is %s, not loadBalancer: egress does not use the cluster load balancer SNAT ports' % summary['outbound_type']
    if (summary['load_balancer_sku'] or 'standard').lower() != 'standard':
        return 'the cluster uses a %s load balancer; SNAT metrics exist only for Standard load balancers' % summary['load_balancer_sku']
    return None


def capacity(cluster, max_surge=None, max_nodes=None):
    """Nodes the outbound ports must cover: per pool max(count, maxCount when autoscaling) plus its surge.

    max_surge (option) overrides every pool's upgradeSettings.maxSurge; max_nodes (option)
    overrides the pools' total. Returns {'max_nodes', 'surge', 'required_nodes', 'current_nodes', 'pools': [...]}.
    """
    pools = []
    for pool in get_path(cluster, 'properties', 'agentPoolProfiles', default=[]):
        count = int(pool.get('count') or 0)
        top = count
        if pool.get('enableAutoScaling') and pool.get('maxCount'):
            top = max(count, int(pool['maxCount']))
        surge_spec = max_surge if max_surge not in (None, '') else get_path(pool, 'upgradeSettings', 'maxSurge')
        try:
            surge = _snat.surge_nodes(surge_spec, top) if top else 0
        except _snat.SnatInputError as exc:
            raise OutboundInputError('node pool %s: %s' % (pool.get('name'), exc)) from None
        pools.append({'name': pool.get('name'), 'count': count, 'max_count': top, 'max_surge': surge_spec, 'surge': surge})
    total = sum(p['max_count'] for p in pools)
    if max_nodes is not None:
        if isinstance(max_nodes, bool) or not isinstance(max_nodes, int) or max_nodes < 1:
            raise OutboundInputError('max_nodes must be a whole number >= 1, got %r' % (max_nodes,))
        total = max_nodes
    surge = sum(p['surge'] for p in pools) if pools else _snat.DEFAULT_SURGE_NODES
    return {'max_nodes': max(total, 1), 'surge': surge, 'required_nodes': max(total, 1) + surge,
            'current_nodes': sum(p['count'] for p in pools), 'pools': pools}


def node_ip_map(vm_names, nic_ips):
    """Backend IP -> node name.

    vm_names: {VMSS VM resource id: computer name}; nic_ips: [(VM resource id, private IP), ...]
    from the VMSS NICs. Ids are compared case-insensitively (ARM mixes the casing).
    """
    names = dict((vm_id.lower(), name) for vm_id, name in (vm_names or {}).items() if vm_id and name)
    result = {}
    for vm_id, address in nic_ips or []:
        if vm_id and address and vm_id.lower() in names:
            result[address] = names[vm_id.lower()]
    return result


def effective_ports(profile, node_count):
    """Ports each node gets today (explicit value, or the automatic table for node_count per outbound IP, capped at 1024; None above 1000 nodes)."""
    if profile['allocated_outbound_ports']:
        return profile['allocated_outbound_ports']
    if node_count < 1:
        return None
    try:
        return _snat.default_ports_per_node(node_count, profile.get('outbound_ip_count') or 1)
    except _snat.AutoAllocationUnsupportedError:
        return None


def _whole(value, option, low, high):
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    if isinstance(value, bool) or not isinstance(value, int):
        raise OutboundInputError('%s must be a whole number or "recommended", got %r' % (option, value))
    if not low <= value <= high:
        raise OutboundInputError('%s must be in %d..%d, got %d' % (option, low, high, value))
    return value


def desired_profile(current, capacity_info, allocated_outbound_ports=None, managed_outbound_ips=None, min_ports=0, max_ips=None,
                    peak_ports=0, threshold=_snat.DEFAULT_USAGE_THRESHOLD, if_no_fit='refuse'):
    """What aks_outbound_ports would set.

    current: lb_profile(); options as given ("recommended", a number, or None = keep). managed_outbound_ips None
    keeps today's IP count, also with allocated_outbound_ports "recommended": outbound IPs are added only when
    asked ("recommended" = as many as the recommendation needs, up to max_ips or 100; a number = that count).
    Returns {'allocated_outbound_ports', 'managed_outbound_ips', 'outbound_ip_count', 'recommendation' (or None),
    'errors': [str], 'refused': None or why nothing can be set without more outbound IPs}.
    """
    if allocated_outbound_ports is None and managed_outbound_ips is None:
        raise OutboundInputError('give allocated_outbound_ports and/or managed_outbound_ips (a number or "recommended")')
    wants_recommendation = 'recommended' in (allocated_outbound_ports, managed_outbound_ips)
    if (current['custom_outbound_ips'] or current['custom_outbound_ip_prefixes']) and managed_outbound_ips is not None:
        raise OutboundInputError('the cluster uses its own outbound public IPs or prefixes (loadBalancerProfile.outboundIPs / '
                                 'outboundIPPrefixes); managed_outbound_ips cannot be set, change allocated_outbound_ports only')
    ips = current['outbound_ip_count']
    if managed_outbound_ips not in (None, 'recommended'):
        ips = _whole(managed_outbound_ips, 'managed_outbound_ips', _snat.MIN_MANAGED_OUTBOUND_IPS, _snat.MAX_MANAGED_OUTBOUND_IPS)
    ports = current['allocated_outbound_ports']
    if allocated_outbound_ports not in (None, 'recommended'):
        ports = _whole(allocated_outbound_ports, 'allocated_outbound_ports', 0, _snat.MAX_ALLOCATED_OUTBOUND_PORTS)
    recommendation = None
    refused = None
    custom = bool(current['custom_outbound_ips'] or current['custom_outbound_ip_prefixes'])
    if wants_recommendation:
        if allocated_outbound_ports == 'recommended' and not peak_ports and not min_ports:
            raise OutboundInputError('allocated_outbound_ports=recommended needs peak_ports (the peak of SNAT ports a node wants, '
                                     'e.g. the finding\'s remediation.peak_ports from aks.tunnel.snat_usage_info) or min_ports')
        # Only managed_outbound_ips=recommended may add IPs; a number fixes the count; unset keeps today's.
        allowed = ips
        if managed_outbound_ips == 'recommended' and not custom:
            allowed = max(ips, max_ips or _snat.MAX_MANAGED_OUTBOUND_IPS)
        try:
            recommendation = _snat.recommend(
                capacity_info['max_nodes'], capacity_info['surge'], current_ports=current['allocated_outbound_ports'],
                current_ips=ips, current_nodes=capacity_info['current_nodes'] or None, peak_ports=peak_ports,
                threshold=threshold, min_ports=min_ports, max_ips=allowed, if_no_fit=if_no_fit)
        except _snat.SnatInputError as exc:
            raise OutboundInputError('cannot compute a recommendation: %s' % exc) from None
        refused = recommendation['refused'] if recommendation['allocated_outbound_ports'] == current['allocated_outbound_ports'] else None
        if allocated_outbound_ports == 'recommended':
            ports = recommendation['allocated_outbound_ports']
        if not custom and managed_outbound_ips == 'recommended':
            ips = recommendation['managed_outbound_ips']
    errors = _snat.validate_outbound_settings(ports, ips, capacity_info['max_nodes'], capacity_info['surge'])
    managed = current['managed_outbound_ips'] if custom else ips
    return {'allocated_outbound_ports': ports, 'managed_outbound_ips': managed, 'outbound_ip_count': ips,
            'recommendation': recommendation, 'errors': errors, 'refused': refused}
