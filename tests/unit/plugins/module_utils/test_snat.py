# -*- coding: utf-8 -*-
# Copyright (c) 2026 aks.tunnel contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import pytest

from ansible_collections.aks.tunnel.plugins.module_utils._snat import (
    HEADROOM_MARGIN,
    AutoAllocationUnsupportedError,
    SnatInputError,
    default_ports_per_node,
    demand_estimate,
    max_nodes_supported,
    max_ports_per_node,
    ports_for_peak,
    recommend,
    series_from_azure_metrics,
    snat_finding,
    snat_not_applicable_finding,
    snat_verdict,
    surge_nodes,
    validate_outbound_settings,
)


# --- default allocation table -----------------------------------------------------------------

@pytest.mark.parametrize('pool_size, ports', [
    (1, 1024), (50, 1024), (51, 512), (100, 512), (101, 256), (200, 256),
    (201, 128), (400, 128), (401, 64), (800, 64), (801, 32), (1000, 32),
])
def test_default_ports_per_node_boundaries(pool_size, ports):
    assert default_ports_per_node(pool_size) == ports


# "Default port allocation table" of the Azure LB outbound-connections article: the table value
# is per frontend IP, capped at 1024 (100 VMs: 512 with one IP, 1024 with two, 1024 with three).
@pytest.mark.parametrize('pool_size, frontend_ips, ports', [
    (100, 1, 512), (100, 2, 1024), (100, 3, 1024), (50, 4, 1024), (150, 2, 512), (150, 4, 1024), (150, 5, 1024),
    (300, 3, 384), (500, 10, 640), (1000, 2, 64), (1000, 32, 1024), (1000, 100, 1024),
])
def test_default_ports_per_node_scales_per_frontend_ip_capped_at_1024(pool_size, frontend_ips, ports):
    assert default_ports_per_node(pool_size, frontend_ips) == ports


@pytest.mark.parametrize('frontend_ips, message', [(0, 'must be >= 1'), ('2', 'must be an integer')])
def test_default_ports_per_node_bad_frontend_ips(frontend_ips, message):
    with pytest.raises(SnatInputError, match='frontend_ips ' + message):
        default_ports_per_node(100, frontend_ips)


@pytest.mark.parametrize('pool_size', [1001, 5000])
def test_default_ports_per_node_above_table(pool_size):
    with pytest.raises(AutoAllocationUnsupportedError, match='up to 1000 instances'):
        default_ports_per_node(pool_size)


@pytest.mark.parametrize('pool_size, message', [
    (0, 'must be >= 1'), (-3, 'must be >= 1'), ('50', 'must be an integer'), (True, 'must be an integer'), (50.0, 'must be an integer'),
])
def test_default_ports_per_node_bad_input(pool_size, message):
    with pytest.raises(SnatInputError, match=message):
        default_ports_per_node(pool_size)


def test_auto_error_is_a_value_error():
    assert issubclass(AutoAllocationUnsupportedError, SnatInputError)
    assert issubclass(SnatInputError, ValueError)


# --- capacity formula -------------------------------------------------------------------------

@pytest.mark.parametrize('ips, ports, nodes', [
    (2, 1000, 128),     # AKS docs example
    (7, 1000, 448),     # AKS docs example
    (2, 4000, 32),      # AKS docs example
    (7, 4000, 112),     # AKS docs example
    (1, 1024, 62),      # 62.5 rounds down
    (1, 8, 8000),
    (1, 64000, 1),
    (100, 64000, 100),
    (100, 8, 800000),
    (1, 512, 125),
])
def test_max_nodes_supported(ips, ports, nodes):
    assert max_nodes_supported(ips, ports) == nodes


@pytest.mark.parametrize('ips, ports, message', [
    (1, 0, 'automatic allocation'),
    (1, 1001, 'multiple of 8'),
    (1, 4, 'must be 8..64000'),
    (1, 64008, 'must be 8..64000'),
    (1, -8, 'must be 8..64000'),
    (0, 1024, 'outbound_ips must be >= 1'),
    (1.0, 1024, 'must be an integer'),
    (1, None, 'must be an integer'),
])
def test_max_nodes_supported_bad_input(ips, ports, message):
    with pytest.raises(SnatInputError, match=message):
        max_nodes_supported(ips, ports)


@pytest.mark.parametrize('ips, nodes, ports', [
    (1, 1, 64000),
    (2, 1, 64000),      # capped at the API maximum
    (1, 3, 21328),      # 21333 rounded down to a multiple of 8
    (1, 62, 1032),
    (1, 63, 1008),      # 1015.9 rounded down to a multiple of 8
    (1, 8000, 8),
    (1, 8001, 0),       # not even 8 ports fit
    (2, 102, 1248),
])
def test_max_ports_per_node(ips, nodes, ports):
    assert max_ports_per_node(ips, nodes) == ports
    if ports:
        assert ports % 8 == 0
        assert max_nodes_supported(ips, ports) >= nodes


@pytest.mark.parametrize('max_surge, node_count, nodes', [
    (None, None, 1), ('', None, 1), (0, None, 0), (3, None, 3), ('2', None, 2), (' 4 ', None, 4),
    ('33%', 10, 4), ('10%', 100, 10), ('10%', 5, 1), ('100%', 7, 7), ('0%', 7, 0),
])
def test_surge_nodes(max_surge, node_count, nodes):
    assert surge_nodes(max_surge, node_count) == nodes


@pytest.mark.parametrize('max_surge, node_count, message', [
    ('33%', None, 'node_count'), ('x%', 3, 'whole number'), ('abc', 3, 'node count or a percentage'),
    (True, 3, 'node count or a percentage'), (-1, None, 'must be >= 0'), (1.5, None, 'node count or a percentage'),
])
def test_surge_nodes_bad_input(max_surge, node_count, message):
    with pytest.raises(SnatInputError, match=message):
        surge_nodes(max_surge, node_count)


# --- validator ------------------------------------------------------------------------------

@pytest.mark.parametrize('ports, ips, max_nodes, surge', [
    (4000, 7, 100, 2),      # AKS docs example: 448,000 ports, 408,000 needed
    (1000, 2, 127, 1),      # exact fit: 128 nodes
    (0, 1, 50, 1),          # automatic allocation
    (0, 1, 999, 1),         # automatic, exactly 1000
    (8, 1, 7999, 1),
    (64000, 1, 1, 0),
    (64000, 100, 99, 1),
    (1024, 1, 62, 0),
])
def test_validate_accepts(ports, ips, max_nodes, surge):
    assert validate_outbound_settings(ports, ips, max_nodes, surge) == []


@pytest.mark.parametrize('ports, ips, max_nodes, surge, expected', [
    (1000, 2, 128, 1, [
        '2 IP(s) x 64000 / 1000 ports per node = 128 nodes, fewer than max_nodes 128 + surge 1 = 129: scale-out and upgrades would fail '
        '(InvalidLoadBalancerProfileAllocatedOutboundPorts); use allocated_outbound_ports <= 992 with 2 IP(s) '
        'or managed_outbound_ips >= 3 with 1000 ports']),
    (4000, 2, 32, 1, [
        '2 IP(s) x 64000 / 4000 ports per node = 32 nodes, fewer than max_nodes 32 + surge 1 = 33: scale-out and upgrades would fail '
        '(InvalidLoadBalancerProfileAllocatedOutboundPorts); use allocated_outbound_ports <= 3872 with 2 IP(s) '
        'or managed_outbound_ips >= 3 with 4000 ports']),
    (64000, 100, 100, 1, [
        '100 IP(s) x 64000 / 64000 ports per node = 100 nodes, fewer than max_nodes 100 + surge 1 = 101: scale-out and upgrades would fail '
        '(InvalidLoadBalancerProfileAllocatedOutboundPorts); use allocated_outbound_ports <= 63360 with 100 IP(s)']),
    (0, 2, 1000, 1, [
        'allocated_outbound_ports 0 (automatic) is only defined for up to 1000 nodes, but max_nodes + surge = 1001; '
        'set an explicit value, at most 120 with 2 IP(s)']),
    (1001, 1, 10, 1, ['allocated_outbound_ports must be a multiple of 8, got 1001 (use 1000 or 1008)']),
    (64008, 1, 10, 1, ['allocated_outbound_ports must be 0..64000, got 64008']),
    (-8, 1, 10, 1, ['allocated_outbound_ports must be 0..64000, got -8']),
    (1024, 0, 10, 1, ['managed_outbound_ips must be 1..100, got 0']),
    (1024, 101, 10, 1, ['managed_outbound_ips must be 1..100, got 101']),
    ('1024', 1, 0, -1, [
        "allocated_outbound_ports must be an integer, got '1024' (str)",
        'max_nodes must be >= 1, got 0',
        'surge must be >= 0, got -1']),
])
def test_validate_refuses(ports, ips, max_nodes, surge, expected):
    assert validate_outbound_settings(ports, ips, max_nodes, surge) == expected


@pytest.mark.parametrize('ports, ips, max_nodes, ok', [
    (1024, 1, 61, True),    # 62 needed with one surge node: fits exactly
    (1024, 1, 62, False),   # off by one
    (512, 1, 124, True),
    (512, 1, 125, False),
])
def test_validate_off_by_one(ports, ips, max_nodes, ok):
    assert (validate_outbound_settings(ports, ips, max_nodes, 1) == []) is ok


def test_validate_default_surge_is_one():
    assert validate_outbound_settings(1000, 2, 128) != []
    assert validate_outbound_settings(1000, 2, 127) == []


# --- recommendation ---------------------------------------------------------------------------

@pytest.mark.parametrize('peak, threshold, ports', [
    (0, 0.8, 0),
    (1, 0.8, 8),
    (720, 0.8, 1000),        # 720 / (0.8 x 0.9) = 1000 exactly: no float rounding up to 1008
    (1300, 0.8, 1808),       # 1805.6 -> 1806 -> next multiple of 8
    (1308, 0.8, 1824),       # the lab's estimate for 1300 wanted ports at 13 of 60 connections failed
    (1300, 0.9, 1608),
    (1300, 1, 1448),
])
def test_ports_for_peak(peak, threshold, ports):
    assert ports_for_peak(peak, threshold) == ports
    if peak:
        assert ports % 8 == 0 and peak / ports <= threshold * (1 - HEADROOM_MARGIN)
        assert ports == 8 or peak / (ports - 8) > threshold * (1 - HEADROOM_MARGIN)


# Issue 13 item 5. Required nodes = pools' max (autoscaler maxCount) + surge; "3-node pool, autoscaler max 40" is the lab's
# nodepool1 (3 -> 40, surge 10% = 4) plus user1 (2, surge 1): 47 nodes, 64000 / 47 = 1361 -> 1360 with one IP.
# kwargs -> (ports set, IPs set, target ports, IPs the target needs, fits)
RECOMMEND_TABLE = [
    # Before: 1360 (the largest that fits) and the re-diagnosis at 1300 / 1360 = 95.6% >= 80%. Now: 1808 covers the peak, needs
    # 2 IPs, one is allowed: nothing changes and the result says 2 IPs.
    (dict(max_nodes=44, surge=3, current_ports=1024, current_ips=1, current_nodes=5, peak_ports=1300), (1024, 1, 1808, 2, False)),
    # ... IPs allowed explicitly: 2 IPs and the smallest value that covers the peak, not the largest that fits them.
    (dict(max_nodes=44, surge=3, current_ports=1024, current_ips=1, current_nodes=5, peak_ports=1300, max_ips=100), (1808, 2, 1808, 2, True)),
    # ... or "only what helps without new IPs": the largest value that fits one IP.
    (dict(max_nodes=44, surge=3, current_ports=1024, current_ips=1, current_nodes=5, peak_ports=1300, if_no_fit='largest_fit'),
     (1360, 1, 1808, 2, False)),
    # A 3-node pool without autoscaler: before 16000 (64000 / 4, no room for a 5th node); now 1808, room for 35 nodes.
    (dict(max_nodes=3, surge=1, current_ports=0, current_ips=1, current_nodes=3, peak_ports=1300), (1808, 1, 1808, 1, True)),
    # The next run with that 16000 as the floor and an autoscaler max of 50: before 13 new IPs; now nothing changes.
    (dict(max_nodes=50, surge=5, current_ports=16000, current_ips=1, current_nodes=3, peak_ports=500), (16000, 1, 16000, 14, False)),
    # A peak below today's allocation: today's ports are kept (a repair takes no port away).
    (dict(max_nodes=10, surge=1, current_ports=4000, current_ips=1, peak_ports=1000), (4000, 1, 4000, 1, True)),
    # Automatic allocation keeps its 1024 for 48 nodes as the floor; 102 nodes x 1024 need a second IP: refused.
    (dict(max_nodes=100, surge=2, current_ports=0, current_ips=1, current_nodes=48, peak_ports=600), (0, 1, 1024, 2, False)),
    # min_ports alone sets the target.
    (dict(max_nodes=100, surge=2, current_ports=0, current_ips=1, min_ports=500), (504, 1, 504, 1, True)),
    # Several IPs today: used, never reduced.
    (dict(max_nodes=100, surge=2, current_ports=1024, current_ips=3, peak_ports=1300), (1808, 3, 1808, 3, True)),
    # A peak no allocation covers (> 64000 per node), and a target that needs more than 100 IPs: refused.
    (dict(max_nodes=3, surge=1, current_ports=1024, current_ips=1, peak_ports=50000, max_ips=100), (1024, 1, 69448, None, False)),
    (dict(max_nodes=5000, surge=10, current_ports=1024, current_ips=1, peak_ports=2000, max_ips=100), (1024, 1, 2784, 218, False)),
]


@pytest.mark.parametrize('kwargs, expected', RECOMMEND_TABLE)
def test_recommend(kwargs, expected):
    result = recommend(**kwargs)
    ports, ips, target, needed_ips, fits = expected
    assert (result['allocated_outbound_ports'], result['managed_outbound_ips'], result['target_ports'], result['ips_needed'],
            result['fits']) == expected
    assert result['changed'] is (ports != kwargs.get('current_ports', 0) or ips != kwargs.get('current_ips', 1))
    assert ips <= max(kwargs.get('current_ips', 1), kwargs.get('max_ips') or 0)     # no IP that was not allowed
    if fits:
        assert result['refused'] is None
        # The value AKS accepts (64000 x IPs >= ports x (max nodes + surge)) ...
        assert validate_outbound_settings(ports, ips, kwargs['max_nodes'], kwargs['surge']) == []
        # ... and the diagnosis run again on the repaired allocation is below its own threshold.
        peak = kwargs.get('peak_ports', 0)
        if peak:
            again = snat_verdict(_series(failed={'10.0.0.4': [0]}, allocated={'10.0.0.4': [ports]}, used={'10.0.0.4': [peak]}))
            assert again['status'] == 'ok' and again['max_ratio'] < 0.8 * 0.9 + 0.0001
    else:
        assert result['refused'] and ('needs %s outbound IP' % needed_ips in result['refused'] or 'above the maximum' in result['refused'])


def test_issue_regression_old_value_stays_above_the_threshold():
    # What the repair set before: 1360 ports; the workload wants 1300: the diagnosis still says PROBLEM at 95.6%.
    old = snat_verdict(_series(failed={'10.0.0.4': [0]}, allocated={'10.0.0.4': [1360]}, used={'10.0.0.4': [1300]}))
    assert old['status'] == 'problem' and old['max_ratio'] == 0.9559
    refused = recommend(44, 3, 1024, 1, current_nodes=5, peak_ports=1300)
    assert refused['refused'] == (
        '1808 ports per node keep the peak of 1300 at 71.9% used (threshold 80% minus a 10% margin); that needs 2 outbound IP(s) for '
        '47 nodes (max 44 + surge 3) (1808 x 47 > 64000 x 1), 1 today. Nothing changed: set aks_tunnel_outbound_ips / '
        'managed_outbound_ips to 2 to allow it, or lower the node count / maxSurge')
    partial = recommend(44, 3, 1024, 1, current_nodes=5, peak_ports=1300, if_no_fit='largest_fit')
    assert partial['reason'].endswith('Taking the largest value that fits 1 IP(s) instead: 1360 ports per node (if_no_fit=largest_fit), '
                                      'the peak would use 95.6%, still at or above the threshold')
    floor = recommend(50, 5, 16000, 1, current_nodes=3, peak_ports=500)
    assert floor['refused'].endswith('(allocated_outbound_ports=696 covers the peak and fits 1 IP(s), but is below today\'s 16000 '
                                     'ports per node; set it explicitly if that is acceptable)')


def test_recommend_shape_and_reasons():
    fit = recommend(5, 2, 1024, 1, current_nodes=5, peak_ports=1308)
    assert fit == {
        'allocated_outbound_ports': 1824, 'managed_outbound_ips': 1, 'target_ports': 1824, 'ips_needed': 1, 'fits': True, 'refused': None,
        'peak_ports': 1308, 'threshold': 0.8, 'margin': 0.1, 'expected_ratio': 0.7171, 'required_nodes': 7, 'max_nodes_supported': 35,
        'current_ports_per_node': 1024, 'current_ips': 1, 'changed': True,
        'reason': '1824 ports per node keep the peak of 1308 at 71.7% used (threshold 80% minus a 10% margin); 1 outbound IP(s) x 64000 '
                  'cover 7 nodes (max 5 + surge 2) at that value',
    }
    grow = recommend(44, 3, 1024, 1, peak_ports=1300, max_ips=100)
    assert grow['reason'].endswith('(1 more than today: new egress addresses, update allow-lists; each IP costs money)')
    keep = recommend(10, 1, 4000, 1, peak_ports=1000)
    assert keep['changed'] is False and keep['reason'].startswith('4000 ports per node (current: explicit allocation of 4000 ports)')
    assert recommend(100, 2, min_ports=8)['current_ports_per_node'] is None


@pytest.mark.parametrize('args, kwargs, message', [
    ((0,), {}, 'max_nodes must be >= 1'),
    ((10, -1), {}, 'surge must be >= 0'),
    ((10, 1, 1001), {}, 'multiple of 8'),
    ((10, 1, 0, 0), {}, 'current_ips must be >= 1'),
    ((10, 1), {'max_ips': 101}, 'max_ips must be 1..100'),
    ((10, 1), {'current_nodes': 0}, 'current_nodes must be >= 1'),
    ((10, 1), {'min_ports': 70000}, 'min_ports must be 0..64000'),
    ((10, 1), {'peak_ports': -1}, 'peak_ports must be >= 0'),
    ((10, 1), {'threshold': 0}, 'threshold must be a number in'),
    ((10, 1), {'if_no_fit': 'grow'}, 'if_no_fit must be refuse or largest_fit'),
])
def test_recommend_bad_input(args, kwargs, message):
    with pytest.raises(SnatInputError, match=message):
        recommend(*args, **kwargs)


@pytest.mark.parametrize('series, ports, basis', [
    # No failure: the used peak is what the node wanted.
    (dict(failed={'a': [0]}, succeeded={'a': [60]}, allocated={'a': [1024]}, used={'a': [300]}), 300, 'a: peak of 300 used ports'),
    # Exhausted: used is capped at the allocation; 13 of 60 connections failed -> 1024 x 60 / 47.
    (dict(failed={'a': [13]}, succeeded={'a': [47]}, allocated={'a': [1024]}, used={'a': [1024]}), 1308,
     'a: 1024 ports in use with 13 of 60 connections failed -> about 1308 ports wanted'),
    # Nothing succeeded: at least twice the allocation.
    (dict(failed={'a': [5]}, allocated={'a': [512]}, used={'a': [512]}), 1024, 'a: every connection failed at 512 ports -> assumed 1024 ports wanted'),
    # The highest backend wins.
    (dict(failed={'a': [0], 'b': [0]}, allocated={'a': [1024], 'b': [1024]}, used={'a': [100], 'b': [700]}), 700, 'b: peak of 700 used ports'),
    ({}, 0, 'no SNAT port data'),
])
def test_demand_estimate(series, ports, basis):
    assert demand_estimate(snat_verdict(_series(**series) if series else {})) == (ports, basis)


# --- verdict ----------------------------------------------------------------------------------

def _series(failed=None, succeeded=None, allocated=None, used=None, pending=None):
    connections = {}
    if failed is not None:
        connections['Failed'] = failed
    if succeeded is not None:
        connections['Succeeded'] = succeeded
    if pending is not None:
        connections['Pending'] = pending
    return {'SnatConnectionCount': connections, 'AllocatedSnatPorts': allocated or {}, 'UsedSnatPorts': used or {}}


@pytest.mark.parametrize('series', [None, {}, _series(), _series(failed={'10.0.0.4': []}, allocated={'10.0.0.4': [None]})])
def test_verdict_no_data(series):
    verdict = snat_verdict(series)
    assert verdict['status'] == 'unknown'
    assert verdict['failed_total'] == 0
    assert verdict['max_ratio'] is None
    assert verdict['problem_backends'] == []


def test_verdict_failed_connections():
    verdict = snat_verdict(_series(
        failed={'10.240.0.5': [0, 2, {'total': 3.0}, None]},
        succeeded={'10.240.0.5': [100]},
        allocated={'10.240.0.5': [1024]},
        used={'10.240.0.5': [100]},
    ))
    assert verdict == {
        'status': 'problem',
        'threshold': 0.8,
        'failed_total': 5,
        'failed_before_change': 0,
        'max_ratio': 0.0977,
        'problem_backends': ['10.240.0.5'],
        'backends': [{
            'backend_ip': '10.240.0.5', 'allocated': 1024, 'used': 100, 'failed': 5, 'failed_before_change': 0, 'allocation_change': None,
            'succeeded': 100, 'pending': 0,
            'ratio': 0.0977, 'status': 'problem', 'reasons': ['5 failed SNAT connections'],
        }],
        'summary': 'SNAT exhaustion on 1 of 1 backend(s): 5 failed SNAT connections, highest used/allocated 9.8% (threshold 80%)',
    }


@pytest.mark.parametrize('used, threshold, status', [
    (819, 0.8, 'ok'),       # 79.98 %
    (820, 0.8, 'problem'),  # 80.08 %
    (1024, 0.8, 'problem'),
    (900, 0.9, 'ok'),
    (922, 0.9, 'problem'),
    (1024, 1, 'problem'),
    (1023, 1, 'ok'),
])
def test_verdict_ratio_threshold(used, threshold, status):
    verdict = snat_verdict(_series(failed={'10.0.0.4': [0]}, allocated={'10.0.0.4': [1024]}, used={'10.0.0.4': [10, used, 5]}), threshold)
    assert verdict['status'] == status
    assert verdict['backends'][0]['used'] == used


def test_verdict_high_ratio_reason():
    verdict = snat_verdict(_series(allocated={'10.0.0.4': [{'average': 1024.0}]}, used={'10.0.0.4': [{'maximum': 1000.0, 'average': 10}]}))
    assert verdict['backends'][0]['reasons'] == ['used 1000 of 1024 allocated SNAT ports (97.7% >= 80%)']
    assert verdict['status'] == 'problem'
    assert verdict['failed_total'] == 0


def test_verdict_healthy():
    verdict = snat_verdict({
        'snatconnectioncount': {'failed': {'10.0.0.4': [0, 0]}, 'Successful': {'10.0.0.4': [50, 60]}, 'PENDING': {'10.0.0.4': [1]}},
        'allocatedsnatports': {'10.0.0.4': [1024]},
        'usedsnatports': {'10.0.0.4': [12.5]},
    })
    assert verdict['status'] == 'ok'
    assert verdict['backends'][0] == {
        'backend_ip': '10.0.0.4', 'allocated': 1024, 'used': 12.5, 'failed': 0, 'failed_before_change': 0, 'allocation_change': None,
        'succeeded': 110, 'pending': 1,
        'ratio': 0.0122, 'status': 'ok', 'reasons': [],
    }
    assert verdict['summary'] == 'no failed SNAT connections on 1 backend(s), highest used/allocated 1.2% (threshold 80%)'


def test_verdict_multiple_backends_sorted_numerically():
    verdict = snat_verdict(_series(
        failed={'10.0.0.10': [0], '10.0.0.9': [4], '10.0.0.11': []},
        allocated={'10.0.0.10': [512], '10.0.0.9': [512], '10.0.0.2': [512]},
        used={'10.0.0.10': [500], '10.0.0.9': [10], '10.0.0.2': [1]},
    ))
    assert [b['backend_ip'] for b in verdict['backends']] == ['10.0.0.2', '10.0.0.9', '10.0.0.10', '10.0.0.11']
    assert [b['status'] for b in verdict['backends']] == ['ok', 'problem', 'problem', 'unknown']
    assert verdict['problem_backends'] == ['10.0.0.9', '10.0.0.10']
    assert verdict['failed_total'] == 4
    assert verdict['max_ratio'] == 0.9766
    assert verdict['status'] == 'problem'


def test_verdict_ok_with_partial_data():
    verdict = snat_verdict(_series(failed={'10.0.0.4': [0]}, allocated={'10.0.0.5': [1024]}))
    assert verdict['status'] == 'ok'
    assert [b['ratio'] for b in verdict['backends']] == [None, None]


# After the allocation rose (the outbound-ports repair), only buckets after the bucket of the change count.
@pytest.mark.parametrize('allocated, used, failed, status, failed_after, failed_before, change', [
    # exhausted, then raised: failures only up to the change bucket -> recovered
    ([1024, 1024, 4000, 4000], [1024, 1024, 1100, 1100], [50, 50, 20, 0], 'ok', 0, 120, (1024, 4000)),
    # the change bucket is the last one: its failures are still counted as before the change
    ([1024, 1024, 4000], [1024, 1024, 1100], [50, 50, 20], 'ok', 0, 120, (1024, 4000)),
    # failures go on after the raise -> still a problem
    ([1024, 4000, 4000], [1024, 4000, 4000], [50, 10, 7], 'problem', 7, 60, (1024, 4000)),
    # raised but the new allocation is nearly full -> problem by ratio
    ([1024, 1200, 1200], [1024, 1100, 1100], [50, 0, 0], 'problem', 0, 50, (1024, 1200)),
    # a drop (pool grew under automatic allocation) is not a repair: every failure counts
    ([1024, 512, 512], [1024, 512, 512], [50, 0, 0], 'problem', 50, 0, None),
    # up and down again to the old value: no raise
    ([1024, 4000, 1024], [1024, 1100, 1024], [5, 0, 5], 'problem', 10, 0, None),
    # no samples in some buckets keep their place
    ([1024, None, 4000, None], [1024, None, 1100, None], [9, None, 1, None], 'ok', 0, 10, (1024, 4000)),
    # a constant allocation: the whole window counts
    ([1024, 1024, 1024], [10, 10, 10], [0, 1, 0], 'problem', 1, 0, None),
])
def test_verdict_after_allocation_rose(allocated, used, failed, status, failed_after, failed_before, change):
    stamps = ['2026-11-25T01:0%d:00Z' % i for i in range(len(allocated))]
    series = _series(failed={'10.0.0.4': failed}, succeeded={'10.0.0.4': [30] * len(allocated)},
                     allocated={'10.0.0.4': allocated}, used={'10.0.0.4': used})
    series['timestamps'] = stamps
    verdict = snat_verdict(series)
    backend = verdict['backends'][0]
    assert (verdict['status'], backend['failed'], backend['failed_before_change']) == (status, failed_after, failed_before)
    if change is None:
        assert backend['allocation_change'] is None
    else:
        first = next(i for i, value in enumerate(allocated) if value == change[1])
        assert backend['allocation_change'] == {'from': change[0], 'to': change[1], 'at': stamps[first]}
        assert backend['allocated'] == change[1]
        assert 'since the allocated SNAT ports rose on 1 backend(s) (%s failed connection(s) before the change)' % failed_before \
            in verdict['summary']
    assert verdict['failed_before_change'] == failed_before


def test_verdict_misaligned_series_count_the_whole_window():
    # Lists of different lengths cannot be matched in time: nothing is discounted.
    verdict = snat_verdict(_series(failed={'10.0.0.4': [5]}, allocated={'10.0.0.4': [1024, 4000]}, used={'10.0.0.4': [10, 10]}))
    assert verdict['status'] == 'problem' and verdict['backends'][0]['allocation_change'] is None


def test_finding_after_repair_tells_the_history():
    series = _series(failed={'10.0.0.4': [40, 0, 0]}, allocated={'10.0.0.4': [1024, 4000, 4000]}, used={'10.0.0.4': [1024, 1100, 1100]})
    finding = snat_finding(snat_verdict(series), node_by_ip={'10.0.0.4': 'aks-nodepool1-0'})
    assert finding['status'] == 'ok' and finding['remediation'] == {}
    assert finding['evidence'] == ['10.0.0.4 (aks-nodepool1-0): allocated 4000, used 1100 (27.5%), failed 0, ok; '
                                   'allocated ports rose 1024 -> 4000, 40 failed before the change']


def test_series_from_azure_metrics_aligns_a_change_across_frontends():
    response = {'value': [
        _metric('AllocatedSnatPorts', [
            _ts({'frontendipaddress': '20.1.1.1', 'backendipaddress': '10.0.0.4'},
                [{'timeStamp': 't0', 'maximum': 1024.0}, {'timeStamp': 't1', 'maximum': 2000.0}]),
            _ts({'frontendipaddress': '20.1.1.2', 'backendipaddress': '10.0.0.4'}, [{'timeStamp': 't1', 'maximum': 2000.0}]),
        ]),
        _metric('SnatConnectionCount', [
            _ts({'backendipaddress': '10.0.0.4', 'connectionstate': 'Failed'}, [{'timeStamp': 't0', 'total': 3.0}, {'timeStamp': 't1'}]),
        ]),
    ]}
    series = series_from_azure_metrics(response)
    assert series['AllocatedSnatPorts'] == {'10.0.0.4': [1024.0, 4000.0]}
    assert series['SnatConnectionCount'] == {'Failed': {'10.0.0.4': [3.0, None]}}
    backend = snat_verdict(series)['backends'][0]
    assert backend['allocation_change'] == {'from': 1024, 'to': 4000, 'at': 't1'} and backend['failed_before_change'] == 3


@pytest.mark.parametrize('series, threshold, message', [
    ({}, 0, 'threshold must be a number in'),
    ({}, 1.5, 'threshold must be a number in'),
    ({}, '0.8', 'threshold must be a number in'),
    ({}, True, 'threshold must be a number in'),
    ([], 0.8, 'series must be a mapping'),
    ({'SnatConnectionCount': {'Broken': {}}}, 0.8, 'unknown ConnectionState'),
    ({'SnatConnectionCount': []}, 0.8, 'must be a mapping of ConnectionState'),
    ({'UsedSnatPorts': []}, 0.8, 'mapping of backend IP'),
    ({'UsedSnatPorts': {'10.0.0.4': 5}}, 0.8, 'must be a list of points'),
    ({'UsedSnatPorts': {'10.0.0.4': ['x']}}, 0.8, 'expected a number'),
    ({'UsedSnatPorts': {'10.0.0.4': [float('nan')]}}, 0.8, 'finite number'),
    ({'UsedSnatPorts': {'10.0.0.4': [{'average': 'x'}]}}, 0.8, 'expected a number'),
])
def test_verdict_bad_input(series, threshold, message):
    with pytest.raises(SnatInputError, match=message):
        snat_verdict(series, threshold)


# --- Azure Monitor conversion -----------------------------------------------------------------

def _metric(name, timeseries):
    return {'name': {'value': name, 'localizedValue': name}, 'unit': 'Count', 'timeseries': timeseries}


def _ts(dims, data):
    return {'metadatavalues': [{'name': {'value': k}, 'value': v} for k, v in dims.items()], 'data': data}


def test_series_from_azure_metrics_rest_shape():
    response = {'value': [
        _metric('SnatConnectionCount', [
            _ts({'backendipaddress': '10.0.0.4', 'connectionstate': 'Failed'},
                [{'timeStamp': '2026-01-01T00:00:00Z', 'total': 2.0}, {'timeStamp': '2026-01-01T00:01:00Z'}]),
            _ts({'backendipaddress': '10.0.0.4', 'connectionstate': 'Successful'}, [{'timeStamp': '2026-01-01T00:00:00Z', 'total': 9.0}]),
            _ts({'backendipaddress': '10.0.0.4'}, [{'timeStamp': '2026-01-01T00:00:00Z', 'total': 99.0}]),
        ]),
        _metric('AllocatedSnatPorts', [
            # Two frontend IPs: a node's ports are summed across them.
            _ts({'frontendipaddress': '20.1.1.1', 'backendipaddress': '10.0.0.4'}, [{'timeStamp': '2026-01-01T00:00:00Z', 'average': 512.0}]),
            _ts({'frontendipaddress': '20.1.1.2', 'backendipaddress': '10.0.0.4'}, [{'timeStamp': '2026-01-01T00:00:00Z', 'average': 512.0}]),
        ]),
        _metric('UsedSnatPorts', [
            _ts({'frontendipaddress': '20.1.1.1', 'backendipaddress': '10.0.0.4'}, [{'timeStamp': '2026-01-01T00:00:00Z', 'maximum': 500.0}]),
            _ts({'frontendipaddress': '20.1.1.2', 'backendipaddress': '10.0.0.4'}, [{'timeStamp': '2026-01-01T00:00:00Z', 'maximum': 400.0}]),
        ]),
        _metric('ByteCount', [_ts({}, [{'timeStamp': '2026-01-01T00:00:00Z', 'total': 1.0}])]),
    ]}
    series = series_from_azure_metrics(response)
    # Aligned on the union of the timestamps; a bucket without a sample is None.
    assert series == {
        'SnatConnectionCount': {'Failed': {'10.0.0.4': [2.0, None]}, 'Successful': {'10.0.0.4': [9.0, None]}},
        'AllocatedSnatPorts': {'10.0.0.4': [1024.0, None]},
        'UsedSnatPorts': {'10.0.0.4': [900.0, None]},
        'timestamps': ['2026-01-01T00:00:00Z', '2026-01-01T00:01:00Z'],
    }
    verdict = snat_verdict(series)
    assert verdict['status'] == 'problem'
    assert verdict['backends'][0]['ratio'] == 0.8789


def test_series_from_azure_metrics_sdk_shape_and_unsplit():
    metrics = [{
        'name': 'UsedSnatPorts',
        'timeseries': [{'metadatavalues': [], 'data': [{'time_stamp': 't1', 'average': 3.0}, {'time_stamp': 't2', 'average': 7.0}]}],
    }]
    assert series_from_azure_metrics(metrics) == {'UsedSnatPorts': {'*': [3.0, 7.0]}, 'timestamps': ['t1', 't2']}


@pytest.mark.parametrize('metrics', [None, 'x', {'value': None}, [1]])
def test_series_from_azure_metrics_bad_input(metrics):
    with pytest.raises(SnatInputError):
        series_from_azure_metrics(metrics)


# --- finding ----------------------------------------------------------------------------------

def test_finding_problem_with_recommendation():
    verdict = snat_verdict(_series(
        failed={'10.0.0.4': [0], '10.0.0.5': [3]},
        succeeded={'10.0.0.4': [10], '10.0.0.5': [9]},
        allocated={'10.0.0.4': [1024], '10.0.0.5': [1024]},
        used={'10.0.0.4': [100], '10.0.0.5': [900]},
    ))
    peak, _basis = demand_estimate(verdict)
    assert peak == 1366     # failures: the allocation (1024) was the cap; 3 of 12 connections failed -> 1024 x 12 / 9
    finding = snat_finding(verdict, recommend(20, 2, 1024, 1, peak_ports=peak), {'10.0.0.5': 'aks-nodepool1-1-vmss000001'})
    assert finding['cause'] == 'snat_exhaustion'
    assert finding['status'] == 'problem'
    assert finding['affected_nodes'] == ['aks-nodepool1-1-vmss000001']
    assert finding['evidence'] == ['10.0.0.5 (aks-nodepool1-1-vmss000001): allocated 1024, used 900 (87.9%), failed 3, problem']
    remediation = finding['remediation']
    assert (remediation['allocated_outbound_ports'], remediation['managed_outbound_ips']) == (1904, 1)
    assert (remediation['peak_ports'], remediation['ips_needed'], remediation['fits_current_ips']) == (1366, 1, True)
    assert remediation['reason'].startswith('1904 ports per node keep the peak of 1366 at 71.7% used')
    assert remediation['advice'][0] == 'az aks update -g <resource-group> -n <cluster> --load-balancer-outbound-ports 1904'
    assert any('connection pooling' in line for line in remediation['advice'])
    assert any('NAT gateway' in line for line in remediation['advice'])
    # Needs more IPs than today: the diagnosis says how many, and the command says what they mean.
    more = snat_finding(verdict, recommend(44, 3, 1024, 1, peak_ports=1300))['remediation']
    assert (more['allocated_outbound_ports'], more['managed_outbound_ips'], more['ips_needed'], more['fits_current_ips']) == (1808, 2, 2, False)
    assert more['reason'].endswith('Nothing changed: set aks_tunnel_outbound_ips / managed_outbound_ips to 2 to allow it, '
                                   'or lower the node count / maxSurge')
    assert more['advice'][0] == ('az aks update -g <resource-group> -n <cluster> --load-balancer-outbound-ports 1808 '
                                 '--load-balancer-managed-outbound-ip-count 2 (adds 1 public IP(s): new egress addresses for '
                                 'allow-lists, and each costs money)')
    beyond = snat_finding(verdict, recommend(3, 1, 1024, 1, peak_ports=50000))['remediation']
    assert (beyond['allocated_outbound_ports'], beyond['managed_outbound_ips'], beyond['ips_needed']) == (None, 1, None)
    assert beyond['advice'][0].startswith('Make applications reuse outbound connections')


def test_finding_problem_without_recommendation_uses_ip():
    verdict = snat_verdict(_series(failed={'10.0.0.5': [1]}))
    finding = snat_finding(verdict)
    assert finding['affected_nodes'] == ['10.0.0.5']
    assert finding['remediation']['allocated_outbound_ports'] is None
    assert finding['remediation']['managed_outbound_ips'] is None
    assert len(finding['remediation']['advice']) == 4


def test_finding_unsplit_series_names_no_node():
    finding = snat_finding(snat_verdict({'SnatConnectionCount': {'Failed': {'*': [7]}}}))
    assert finding['status'] == 'problem'
    assert finding['affected_nodes'] == []
    assert finding['evidence'] == ['all backends (series not split by BackendIPAddress): allocated n/a, used n/a (n/a), failed 7, problem']


def test_finding_ok_and_unknown():
    ok = snat_finding(snat_verdict(_series(failed={'10.0.0.4': [0]}, allocated={'10.0.0.4': [64]}, used={'10.0.0.4': [1]})))
    assert ok['status'] == 'ok'
    assert ok['remediation'] == {}
    assert ok['affected_nodes'] == []
    assert ok['evidence'] == ['10.0.0.4: allocated 64, used 1 (1.6%), failed 0, ok']
    unknown = snat_finding(snat_verdict({}))
    assert unknown['status'] == 'unknown'
    assert unknown['evidence'] == [unknown['summary']]


def test_finding_evidence_is_capped_worst_first():
    allocated = {'10.0.1.%d' % i: [1000] for i in range(30)}
    used = {'10.0.1.%d' % i: [i] for i in range(30)}
    finding = snat_finding(snat_verdict(_series(allocated=allocated, used=used)))
    assert len(finding['evidence']) == 21
    assert finding['evidence'][0].startswith('10.0.1.29: ')
    assert finding['evidence'][-1] == '... and 10 more backend(s)'


def test_finding_bad_verdict():
    with pytest.raises(SnatInputError, match='snat_verdict'):
        snat_finding({'status': 'weird'})


def test_not_applicable_finding():
    finding = snat_not_applicable_finding('private cluster: the API server is reached inside the VNet')
    assert finding['status'] == 'not_applicable'
    assert finding['cause'] == 'snat_exhaustion'
