# -*- coding: utf-8 -*-
# Copyright (c) 2026 aks.tunnel contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Microsoft.Insights metrics 2024-02-01 for the cluster load balancer through MonitorManagementClient."""

from __future__ import annotations

import datetime

import pytest
from azure.core.exceptions import HttpResponseError

SPAN = '2026-11-25T10:00:00Z/2026-11-25T10:05:00Z'


def _list(arm, **kwargs):
    kwargs.setdefault('timespan', SPAN)
    kwargs.setdefault('interval', 'PT1M')
    return arm.monitor().metrics.list(arm.lb_id, metricnamespace='Microsoft.Network/loadBalancers', **kwargs)


def _meta(series):
    return {m.name.value: m.value for m in series.metadatavalues}


def test_snat_connections_split_by_state(arm):
    result = _list(arm, metricnames='SnatConnectionCount', aggregation='Total', filter="ConnectionState eq '*'")
    assert result.timespan == SPAN
    assert result.interval == 'PT1M'
    metric = result.value[0]
    assert metric.name.value == 'SnatConnectionCount' and metric.unit == 'Count'
    assert metric.id == arm.lb_id + '/providers/Microsoft.Insights/metrics/SnatConnectionCount'
    by_state = {_meta(s)['connectionstate']: s for s in metric.timeseries}
    assert set(by_state) == {'Successful', 'Failed', 'Pending'}
    assert by_state['Failed'].metadatavalues[0].name.localized_value == 'connectionstate'
    failed = by_state['Failed'].data
    assert len(failed) == 5
    assert [d.total for d in failed] == [7.0] * 5
    assert failed[0].average is None and failed[0].maximum is None
    assert failed[0].time_stamp == datetime.datetime(2026, 11, 25, 10, 0, tzinfo=datetime.timezone.utc)
    nodes = len(arm.topology['nodes'])
    # system-0 reports 10, 20, 30 successful connections per minute, every other node 50
    assert [d.total for d in by_state['Successful'].data] == [10.0 + 50 * (nodes - 1), 20.0 + 50 * (nodes - 1)] + [30.0 + 50 * (nodes - 1)] * 3


def test_filter_single_state(arm):
    result = _list(arm, metricnames='SnatConnectionCount', aggregation='Total,Maximum', filter="ConnectionState eq 'Failed'")
    series = result.value[0].timeseries
    assert len(series) == 1
    assert _meta(series[0]) == {'connectionstate': 'Failed'}
    assert (series[0].data[0].total, series[0].data[0].maximum) == (7.0, 7.0)


def test_ports_per_backend_ip_with_top(arm):
    result = _list(arm, metricnames='AllocatedSnatPorts,UsedSnatPorts', aggregation='Average', filter="BackendIPAddress eq '*'",
                   top=200, interval='PT5M')
    allocated, used = result.value
    assert allocated.name.value == 'AllocatedSnatPorts' and used.name.value == 'UsedSnatPorts'
    assert len(allocated.timeseries) == len(arm.topology['nodes'])
    per_ip = {_meta(s)['backendipaddress']: s.data[0].average for s in allocated.timeseries}
    assert per_ip[arm.node('user-5')['ip']] == 64.0
    assert per_ip[arm.node('user-6')['ip']] == 256.0  # allocatedOutboundPorts 0 and 122 nodes: the default table gives 256
    used_per_ip = {_meta(s)['backendipaddress']: s.data[0].average for s in used.timeseries}
    assert used_per_ip[arm.node('system-0')['ip']] == 1000.0
    assert used_per_ip[arm.node('user-0')['ip']] == 100.0
    assert len(allocated.timeseries[0].data) == 1


def test_default_top_is_ten_series(arm):
    result = _list(arm, metricnames='UsedSnatPorts', aggregation='Average', filter="BackendIPAddress eq '*'", orderby='average desc')
    series = result.value[0].timeseries
    assert len(series) == 10
    assert _meta(series[0]) == {'backendipaddress': arm.node('system-0')['ip']}


def test_no_filter_is_one_aggregated_series(arm):
    result = _list(arm, metricnames='UsedSnatPorts', aggregation='Maximum,Minimum')
    series = result.value[0].timeseries
    assert len(series) == 1 and series[0].metadatavalues == []
    assert (series[0].data[0].maximum, series[0].data[0].minimum) == (1000.0, 100.0)


def test_runtime_metrics_replacement(arm):
    original = arm.admin('GET', 'metrics')
    try:
        arm.admin('PUT', 'metrics', {'default': {'failed': 3}})
        result = _list(arm, metricnames='SnatConnectionCount', aggregation='Total', filter="ConnectionState eq 'Failed'")
        assert result.value[0].timeseries[0].data[0].total == 3.0 * len(arm.topology['nodes'])
    finally:
        arm.admin('PUT', 'metrics', original)


@pytest.mark.parametrize('kwargs, fragment', [
    ({'metricnames': 'NoSuchMetric'}, 'Failed to find metric configuration'),
    ({'metricnames': 'UsedSnatPorts', 'aggregation': 'Median'}, 'Invalid aggregation type'),
    ({'metricnames': 'UsedSnatPorts', 'filter': "Color eq '*'"}, 'does not support requested dimension combination'),
    ({'metricnames': 'UsedSnatPorts', 'timespan': 'not-a-time'}, 'Invalid time interval'),
])
def test_errors_are_flat_bad_request(arm, kwargs, fragment):
    with pytest.raises(HttpResponseError) as info:
        _list(arm, **kwargs)
    assert info.value.status_code == 400
    assert info.value.error.code == 'BadRequest'
    assert fragment in info.value.error.message
    body = info.value.response.json()
    assert set(body) == {'code', 'message'}


def test_metrics_api_version_error_is_flat(arm):
    response = arm.arm('GET', arm.lb_id + '/providers/Microsoft.Insights/metrics', '2019-07-01')
    assert response.status_code == 400
    assert response.json()['code'] == 'NoRegisteredProviderFound'


def test_metric_definitions(arm):
    definitions = list(arm.monitor().metric_definitions.list(arm.lb_id, metricnamespace='Microsoft.Network/loadBalancers'))
    by_name = {d.name.value: d for d in definitions}
    assert set(by_name) == {'SnatConnectionCount', 'AllocatedSnatPorts', 'UsedSnatPorts'}
    assert by_name['SnatConnectionCount'].primary_aggregation_type == 'Total'
    assert [d.value for d in by_name['SnatConnectionCount'].dimensions] == ['FrontendIPAddress', 'BackendIPAddress', 'ConnectionState']


def test_timespan_with_offsets_and_unencoded_plus(arm):
    path = arm.lb_id + '/providers/Microsoft.Insights/metrics'
    response = arm.arm('GET', path + '?api-version=2024-02-01&metricnames=UsedSnatPorts&timespan=2026-11-25T10:00:00+00:00/2026-11-25T10:02:00+00:00')
    assert response.status_code == 200
    assert response.json()['timespan'] == '2026-11-25T10:00:00Z/2026-11-25T10:02:00Z'
    assert len(response.json()['value'][0]['timeseries'][0]['data']) == 2
