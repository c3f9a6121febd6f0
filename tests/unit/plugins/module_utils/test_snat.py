# -*- coding: utf-8 -*-
# Copyright (c) 2026 aks.tunnel contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import pytest

from ansible_collections.aks.tunnel.plugins.module_utils._snat import (
    AutoAllocationUnsupportedError,
    SnatInputError,
    default_ports_per_node,
    max_nodes_supported,
    max_ports_per_node,
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

@pytest.mark.parametrize('kwargs, ports, ips, changed', [
    # Current IPs already allow more than today: maximise ports with the same IP count.
    (dict(max_nodes=10, surge=1, current_ports=0, current_ips=1, current_nodes=3), 5816, 1, True),
    (dict(max_nodes=100, surge=2, current_ports=4000, current_ips=7), 4392, 7, True),
    (dict(max_nodes=127, surge=1, current_ports=1000, current_ips=2), 1000, 2, False),
    # Current ports no longer fit: add IPs rather than shrink the ports.
    (dict(max_nodes=100, surge=2, current_ports=1024, current_ips=1), 1248, 2, True),
    (dict(max_nodes=100, surge=2, current_ports=0, current_ips=1, current_nodes=48), 1248, 2, True),
    (dict(max_nodes=5000, surge=10, current_ports=1024, current_ips=1), 1032, 81, True),
    # min_ports (e.g. the used-ports peak) raises the floor.
    (dict(max_nodes=100, surge=2, current_ports=0, current_ips=1, min_ports=2000), 2504, 4, True),
    (dict(max_nodes=100, surge=2, current_ports=0, current_ips=1, min_ports=1), 624, 1, True),
    # Automatic allocation, no pool size known: nothing to preserve, keep the IPs.
    (dict(max_nodes=100, surge=2), 624, 1, True),
    # Pool size above the automatic table: no current value to preserve.
    (dict(max_nodes=1500, surge=1, current_ports=0, current_ips=1, current_nodes=1200), 40, 1, True),
    # Even 100 IPs cannot keep 64000 ports for 200 nodes: shrink to what fits.
    (dict(max_nodes=200, surge=0, current_ports=64000, current_ips=1), 32000, 100, True),
    # max_ips limits the search.
    (dict(max_nodes=100, surge=2, current_ports=1024, current_ips=1, max_ips=1), 624, 1, True),
    # More IPs than max_ips (bring-your-own): never reduced.
    (dict(max_nodes=10, surge=0, current_ports=8, current_ips=3, max_ips=1), 19200, 3, True),
])
def test_recommend(kwargs, ports, ips, changed):
    result = recommend(**kwargs)
    assert result['allocated_outbound_ports'] == ports
    assert result['managed_outbound_ips'] == ips
    assert result['changed'] is changed
    assert result['allocated_outbound_ports'] % 8 == 0
    assert result['max_nodes_supported'] >= result['required_nodes'] == kwargs['max_nodes'] + kwargs.get('surge', 1)
    assert validate_outbound_settings(ports, min(ips, 100), kwargs['max_nodes'], kwargs.get('surge', 1)) == []


def test_recommend_shape_and_reasons():
    keep = recommend(100, 2, 4000, 7)
    assert keep == {
        'allocated_outbound_ports': 4392,
        'managed_outbound_ips': 7,
        'required_nodes': 102,
        'max_nodes_supported': 102,
        'current_ports_per_node': 4000,
        'current_ips': 7,
        'changed': True,
        'reason': '7 outbound IP(s) x 64000 ports cover 102 nodes (max 100 + surge 2) with up to 4392 ports per node '
                  '(largest multiple of 8 that fits; current: explicit allocation of 4000 ports)',
    }
    grow = recommend(100, 2, 0, 1, current_nodes=48)
    assert grow['current_ports_per_node'] == 1024
    assert grow['reason'] == ('1 outbound IP(s) give 102 nodes (max 100 + surge 2) only 624 ports per node, below the floor of 1024 '
                              '(current: automatic allocation (1024 ports per node for 48 nodes)); 2 IPs give 1248 ports per node')
    shrink = recommend(200, 0, 64000, 1)
    assert shrink['reason'] == ('200 nodes (max 200 + surge 0) need at least 64000 ports each, but even 100 outbound IPs give only 32000; '
                                'lowering to 32000 ports per node is the only way to fit (current: explicit allocation of 64000 ports)')
    assert recommend(100, 2)['current_ports_per_node'] is None


@pytest.mark.parametrize('args, kwargs, message', [
    ((0,), {}, 'max_nodes must be >= 1'),
    ((10, -1), {}, 'surge must be >= 0'),
    ((10, 1, 1001), {}, 'multiple of 8'),
    ((10, 1, 0, 0), {}, 'current_ips must be >= 1'),
    ((10, 1), {'max_ips': 101}, 'max_ips must be 1..100'),
    ((10, 1), {'current_nodes': 0}, 'current_nodes must be >= 1'),
    ((10, 1), {'min_ports': 70000}, 'min_ports must be 0..64000'),
    ((800000, 1), {'max_ips': 100}, 'cannot get even 8 SNAT ports'),
])
def test_recommend_bad_input(args, kwargs, message):
    with pytest.raises(SnatInputError, match=message):
        recommend(*args, **kwargs)


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
        allocated={'10.0.0.4': [1024], '10.0.0.5': [1024]},
        used={'10.0.0.4': [100], '10.0.0.5': [900]},
    ))
    finding = snat_finding(verdict, recommend(100, 2, 1024, 1), {'10.0.0.5': 'aks-nodepool1-1-vmss000001'})
    assert finding['cause'] == 'snat_exhaustion'
    assert finding['status'] == 'problem'
    assert finding['affected_nodes'] == ['aks-nodepool1-1-vmss000001']
    assert finding['evidence'] == ['10.0.0.5 (aks-nodepool1-1-vmss000001): allocated 1024, used 900 (87.9%), failed 3, problem']
    remediation = finding['remediation']
    assert remediation['allocated_outbound_ports'] == 1248
    assert remediation['managed_outbound_ips'] == 2
    assert remediation['reason'].startswith('1 outbound IP(s) give 102 nodes')
    assert remediation['advice'][0] == ('az aks update -g <resource-group> -n <cluster> --load-balancer-outbound-ports 1248 '
                                        '--load-balancer-managed-outbound-ip-count 2')
    assert any('connection pooling' in line for line in remediation['advice'])
    assert any('NAT gateway' in line for line in remediation['advice'])


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
