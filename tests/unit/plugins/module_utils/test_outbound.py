# -*- coding: utf-8 -*-
# Copyright (c) 2026 aks.tunnel contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import datetime

import pytest

from ansible_collections.aks.tunnel.plugins.module_utils import _outbound as o

SUB = '00000000-0000-4000-8000-00000000a1b2'


def cluster(pools=((3, None, '10%'), (2, None, '10%')), outbound='loadBalancer', private=False, ports=0, ips=1, profile=None, sku='standard'):
    agent_pools = []
    for index, (count, max_count, surge) in enumerate(pools):
        pool = {'name': 'pool%d' % index, 'count': count}
        if max_count:
            pool.update(enableAutoScaling=True, maxCount=max_count)
        if surge is not None:
            pool['upgradeSettings'] = {'maxSurge': surge}
        agent_pools.append(pool)
    lb = profile if profile is not None else {'managedOutboundIPs': {'count': ips}, 'allocatedOutboundPorts': ports,
                                              'effectiveOutboundIPs': [{'id': 'pip%d' % i} for i in range(ips)]}
    return {'id': '/subscriptions/%s/resourceGroups/rg/providers/Microsoft.ContainerService/managedClusters/aks' % SUB, 'name': 'aks', 'eTag': 'e1',
            'properties': {'nodeResourceGroup': 'MC_rg_aks_westeurope', 'agentPoolProfiles': agent_pools,
                           'apiServerAccessProfile': {'enablePrivateCluster': private},
                           'networkProfile': {'outboundType': outbound, 'loadBalancerSku': sku, 'loadBalancerProfile': lb}}}


@pytest.mark.parametrize('text, seconds', [('PT1H', 3600), ('pt30m', 1800), ('P1D', 86400), ('P1DT6H', 108000), ('PT1M', 60), ('P93D', 93 * 86400)])
def test_parse_duration(text, seconds):
    assert o.parse_duration(text).total_seconds() == seconds


@pytest.mark.parametrize('text, fragment', [('1h', 'ISO 8601 duration'), ('PT', 'ISO 8601 duration'), ('P1DT', 'ISO 8601 duration'),
                                            ('PT30S', 'at least one minute'), ('P94D', 'at most 93 days'), (None, 'ISO 8601')])
def test_parse_duration_errors(text, fragment):
    with pytest.raises(o.OutboundInputError) as exc:
        o.parse_duration(text)
    assert fragment in str(exc.value)


def test_timespan():
    now = datetime.datetime(2026, 11, 25, 20, 0, 30, 123, tzinfo=datetime.timezone.utc)
    assert o.timespan(datetime.timedelta(hours=1), now) == '2026-11-25T19:00:30Z/2026-11-25T20:00:30Z'


def test_cluster_summary():
    summary = o.cluster_summary(cluster(ports=1024, ips=2))
    assert summary['load_balancer_id'] == ('/subscriptions/%s/resourceGroups/MC_rg_aks_westeurope/providers/Microsoft.Network/loadBalancers/kubernetes'
                                           % SUB)
    assert summary['load_balancer_profile'] == {'allocated_outbound_ports': 1024, 'managed_outbound_ips': 2, 'custom_outbound_ips': 0,
                                                'custom_outbound_ip_prefixes': 0, 'idle_timeout_in_minutes': None, 'outbound_ip_count': 2}
    assert (summary['node_count'], summary['etag'], summary['outbound_type']) == (5, 'e1', 'loadBalancer')


@pytest.mark.parametrize('kwargs, fragment', [
    ({}, None),
    ({'private': True}, 'private cluster'),
    ({'outbound': 'managedNATGateway'}, 'outboundType is managedNATGateway'),
    ({'outbound': 'userDefinedRouting'}, 'outboundType is userDefinedRouting'),
    ({'outbound': 'none'}, 'outboundType is none'),
    ({'sku': 'basic'}, 'basic load balancer'),
])
def test_not_applicable_reason(kwargs, fragment):
    reason = o.not_applicable_reason(o.cluster_summary(cluster(**kwargs)))
    assert (reason is None) if fragment is None else (fragment in reason)


@pytest.mark.parametrize('pools, max_surge, max_nodes, expected', [
    (((3, None, '10%'), (2, None, '10%')), None, None, (5, 2, 7)),
    (((3, 10, '33%'), (2, None, None)), None, None, (12, 4 + 1, 17)),     # autoscaling max, unset surge = 1 node
    (((3, None, '10%'), (2, None, '10%')), '3', None, (5, 6, 11)),        # option overrides each pool
    (((3, None, '10%'),), None, 100, (100, 1, 101)),
    (((0, None, '10%'),), None, None, (1, 0, 1)),
])
def test_capacity(pools, max_surge, max_nodes, expected):
    info = o.capacity(cluster(pools=pools), max_surge, max_nodes)
    assert (info['max_nodes'], info['surge'], info['required_nodes']) == expected


@pytest.mark.parametrize('max_surge, max_nodes, fragment', [
    ('lots', None, 'max_surge must be a node count or a percentage'),
    (None, 0, 'max_nodes must be a whole number >= 1'),
])
def test_capacity_errors(max_surge, max_nodes, fragment):
    with pytest.raises(o.OutboundInputError) as exc:
        o.capacity(cluster(), max_surge, max_nodes)
    assert fragment in str(exc.value)


def test_node_ip_map_is_case_insensitive_and_skips_unknown_vms():
    vm = '/subscriptions/x/resourceGroups/MC/providers/Microsoft.Compute/virtualMachineScaleSets/v/virtualMachines/0'
    assert o.node_ip_map({vm: 'node0', 'other': None}, [(vm.lower(), '10.0.0.4'), ('nope', '10.0.0.5'), (None, '10.0.0.6')]) == {'10.0.0.4': 'node0'}


# Boundaries of the automatic allocation table (allocatedOutboundPorts = 0).
@pytest.mark.parametrize('ports, nodes, expected', [
    (0, 1, 1024), (0, 50, 1024), (0, 51, 512), (0, 100, 512), (0, 101, 256), (0, 200, 256), (0, 201, 128), (0, 400, 128),
    (0, 401, 64), (0, 800, 64), (0, 801, 32), (0, 1000, 32), (0, 1001, None), (0, 0, None), (4000, 1001, 4000),
])
def test_effective_ports(ports, nodes, expected):
    assert o.effective_ports(o.lb_profile({'allocatedOutboundPorts': ports}), nodes) == expected


def _desired(ports=None, ips=None, current_ports=1024, current_ips=1, pools=((3, None, '10%'), (2, None, '10%')), **kwargs):
    c = cluster(pools=pools, ports=current_ports, ips=current_ips)
    profile = o.lb_profile(c['properties']['networkProfile']['loadBalancerProfile'])
    return o.desired_profile(profile, o.capacity(c), ports, ips, **kwargs)


# (ports option, ips option, current ports, current ips) -> (ports, ips, number of errors, error fragment); 7 nodes with surge.
DESIRED_TABLE = [
    ('recommended', None, 1024, 1, (1808, 1, 0, None)),            # peak 1300 at <= 72% -> 1808, not the largest that fits (9136)
    (9136, None, 1024, 1, (9136, 1, 0, None)),
    (9144, None, 1024, 1, (9144, 1, 1, 'use allocated_outbound_ports <= 9136 with 1 IP(s) or managed_outbound_ips >= 2')),
    (64000, None, 1024, 1, (64000, 1, 1, 'managed_outbound_ips >= 7 with 64000 ports')),
    (64000, 7, 1024, 1, (64000, 7, 0, None)),
    (1001, None, 1024, 1, (1001, 1, 1, 'must be a multiple of 8, got 1001 (use 1000 or 1008)')),
    (8, None, 1024, 1, (8, 1, 0, None)),
    (0, None, 1024, 1, (0, 1, 0, None)),
    (None, 100, 1024, 1, (1024, 100, 0, None)),
    ('recommended', 'recommended', 1024, 1, (1808, 1, 0, None)),  # allowed to add IPs, but one is enough
    ('recommended', 2, 1024, 1, (1808, 2, 0, None)),
    ('1024', '2', 0, 1, (1024, 2, 0, None)),
]


@pytest.mark.parametrize('ports, ips, current_ports, current_ips, expected', DESIRED_TABLE)
def test_desired_profile_table(ports, ips, current_ports, current_ips, expected):
    desired = _desired(ports, ips, current_ports, current_ips, peak_ports=1300)
    want_ports, want_ips, error_count, fragment = expected
    assert (desired['allocated_outbound_ports'], desired['managed_outbound_ips']) == (want_ports, want_ips)
    assert len(desired['errors']) == error_count
    if fragment:
        assert fragment in desired['errors'][0]
    assert desired['refused'] is None


# Issue 13 item 5: a 3-node pool under an autoscaler max of 40 (+ a 2-node pool; surge 10%: 44 + 3 = 47 nodes), one outbound
# IP, 1024 ports, a peak of 1300 ports. Before: "recommended" set 1360 (the largest that fits) and the diagnosis still said
# PROBLEM at 95.6%. (ports option, ips option, extra kwargs) -> (ports, ips, refused fragment or None)
AUTOSCALER_POOLS = ((3, 40, '10%'), (2, None, '10%'))
AUTOSCALER_TABLE = [
    ('recommended', None, {}, (1024, 1, 'that needs 2 outbound IP(s) for 47 nodes (max 42 + surge 5) (1808 x 47 > 64000 x 1), 1 today. '
                                        'Nothing changed')),
    ('recommended', 'recommended', {}, (1808, 2, None)),        # asked for IPs: the smallest ports with the IPs they need
    ('recommended', 2, {}, (1808, 2, None)),
    ('recommended', None, {'if_no_fit': 'largest_fit'}, (1360, 1, None)),
    ('recommended', None, {'peak_ports': 900}, (1256, 1, None)),  # a smaller peak fits one IP: 900 / 1256 = 71.7%
]


@pytest.mark.parametrize('ports, ips, kwargs, expected', AUTOSCALER_TABLE)
def test_desired_profile_autoscaler_pool(ports, ips, kwargs, expected):
    desired = _desired(ports, ips, 1024, 1, pools=AUTOSCALER_POOLS, **dict({'peak_ports': 1300}, **kwargs))
    want_ports, want_ips, refused = expected
    assert (desired['allocated_outbound_ports'], desired['outbound_ip_count']) == (want_ports, want_ips)
    assert desired['recommendation']['required_nodes'] == 47
    if refused:
        assert refused in desired['refused']
        assert desired['recommendation']['ips_needed'] == 2
    else:
        assert desired['refused'] is None and desired['errors'] == []
        # Unless asked for largest_fit, the diagnosis run again on this allocation is below its 80% threshold.
        peak = kwargs.get('peak_ports', 1300)
        assert (peak / float(want_ports) < 0.8) is (kwargs.get('if_no_fit') != 'largest_fit')


def test_unset_ips_never_change_and_recommended_needs_a_peak():
    # Floor today's 1024 for 110 nodes needs 2 IPs: with managed_outbound_ips unset nothing changes (before: 2 IPs were added).
    kept = _desired('recommended', None, 1024, 1, pools=((100, None, '10%'),), min_ports=1024)
    assert (kept['allocated_outbound_ports'], kept['outbound_ip_count']) == (1024, 1) and 'needs 2 outbound IP(s)' in kept['refused']
    grown = _desired('recommended', 'recommended', 1024, 1, pools=((100, None, '10%'),), min_ports=1024)
    assert (grown['allocated_outbound_ports'], grown['outbound_ip_count'], grown['refused']) == (1024, 2, None)
    with pytest.raises(o.OutboundInputError) as exc:
        _desired('recommended', None)
    assert 'allocated_outbound_ports=recommended needs peak_ports' in str(exc.value)


@pytest.mark.parametrize('ports, ips, fragment', [
    (None, None, 'give allocated_outbound_ports and/or managed_outbound_ips'),
    (64008, None, 'allocated_outbound_ports must be in 0..64000, got 64008'),
    (-8, None, 'allocated_outbound_ports must be in 0..64000, got -8'),
    (None, 0, 'managed_outbound_ips must be in 1..100, got 0'),
    (None, 101, 'managed_outbound_ips must be in 1..100, got 101'),
    ('lots', None, 'must be a whole number or "recommended", got \'lots\''),
    (1.5, None, 'must be a whole number'),
])
def test_desired_profile_rejects_bad_options(ports, ips, fragment):
    with pytest.raises(o.OutboundInputError) as exc:
        _desired(ports, ips)
    assert fragment in str(exc.value)


def test_custom_outbound_ips_cannot_take_a_managed_count():
    ips = [{'id': 'a'}, {'id': 'b'}]
    c = cluster(profile={'outboundIPs': {'publicIPs': ips}, 'allocatedOutboundPorts': 0, 'effectiveOutboundIPs': ips})
    profile = o.lb_profile(c['properties']['networkProfile']['loadBalancerProfile'])
    assert profile['outbound_ip_count'] == 2 and profile['managed_outbound_ips'] is None
    with pytest.raises(o.OutboundInputError) as exc:
        o.desired_profile(profile, o.capacity(c), None, 3)
    assert 'uses its own outbound public IPs' in str(exc.value)
    desired = o.desired_profile(profile, o.capacity(c), 'recommended', None, peak_ports=1300)
    assert (desired['allocated_outbound_ports'], desired['managed_outbound_ips'], desired['outbound_ip_count']) == (1808, None, 2)


# Automatic allocation scales with the outbound IPs up to 1024 ports (Azure LB "Default port allocation table").
@pytest.mark.parametrize('profile, nodes, expected', [
    ({'managedOutboundIPs': {'count': 2}}, 100, 1024),
    ({'managedOutboundIPs': {'count': 3}}, 100, 1024),
    ({'managedOutboundIPs': {'count': 2}}, 300, 256),
    ({'managedOutboundIPs': {'count': 1}}, 300, 128),
    ({'outboundIPs': {'publicIPs': [{'id': 'a'}, {'id': 'b'}, {'id': 'c'}]}}, 300, 384),
    ({'managedOutboundIPs': {'count': 4}, 'allocatedOutboundPorts': 4000}, 300, 4000),
])
def test_effective_ports_default_allocation_per_outbound_ip(profile, nodes, expected):
    assert o.effective_ports(o.lb_profile(profile), nodes) == expected
