# -*- coding: utf-8 -*-
# Copyright (c) 2026 aks.tunnel contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""NAT gateway SNAT: capacity math, metric series, verdict, recommendation and finding (pure)."""

from __future__ import annotations

import pytest

from ansible_collections.aks.tunnel.plugins.module_utils import _snat_natgw as natgw

SUB = '/subscriptions/00000000-0000-0000-0000-000000000000'
GW_ID = SUB + '/resourceGroups/rg-net/providers/Microsoft.Network/natGateways/natgw-aks'
PIP = SUB + '/resourceGroups/rg-net/providers/Microsoft.Network/publicIPAddresses/pip-%d'
PREFIX = SUB + '/resourceGroups/rg-net/providers/Microsoft.Network/publicIPPrefixes/prefix-%d'


def gateway(ips=1, prefixes=(), idle=None):
    props = {'publicIpAddresses': [{'id': PIP % i} for i in range(ips)], 'publicIpPrefixes': [{'id': PREFIX % i} for i in range(len(prefixes))],
             'subnets': [{'id': SUB + '/resourceGroups/rg-net/providers/Microsoft.Network/virtualNetworks/vnet/subnets/nodes'}]}
    if idle is not None:
        props['idleTimeoutInMinutes'] = idle
    body = {'id': GW_ID, 'name': 'natgw-aks', 'sku': {'name': 'Standard'}, 'properties': props}
    return natgw.gateway_summary(body, dict((PREFIX % i, length) for i, length in enumerate(prefixes)))


@pytest.mark.parametrize('length, ips', [(31, 2), (30, 4), (29, 8), (28, 16)])
def test_prefix_ip_count(length, ips):
    assert natgw.prefix_ip_count(length) == ips


@pytest.mark.parametrize('length', [27, 32, 24, '28', True, None])
def test_prefix_ip_count_refuses_what_a_nat_gateway_cannot_take(length):
    with pytest.raises(natgw.NatGatewayInputError):
        natgw.prefix_ip_count(length)


@pytest.mark.parametrize('ips, prefixes, idle, ip_count, ports, idle_out', [
    (1, (), None, 1, 64512, 4),
    (2, (), 10, 2, 129024, 10),
    (1, (30,), 4, 5, 322560, 4),
    (0, (28,), None, 16, 1032192, 4),
])
def test_gateway_summary_capacity(ips, prefixes, idle, ip_count, ports, idle_out):
    summary = gateway(ips, prefixes, idle)
    assert (summary['ip_count'], summary['snat_ports'], summary['idle_timeout_in_minutes']) == (ip_count, ports, idle_out)
    assert summary['same_destination_limit'] == 50000 * ip_count
    assert summary['resource_group'] == 'rg-net' and summary['name'] == 'natgw-aks'


def test_gateway_summary_with_an_unread_prefix_has_unknown_capacity():
    body = {'id': GW_ID, 'properties': {'publicIpAddresses': [{'id': PIP % 0}], 'publicIpPrefixes': [{'id': PREFIX % 0}]}}
    summary = natgw.gateway_summary(body, {})
    assert summary['ip_count'] is None and summary['snat_ports'] is None


def metric(name, series):
    return {'name': {'value': name}, 'timeseries': series}


def series(dims, values, key='total'):
    return {'metadatavalues': [{'name': {'value': k}, 'value': v} for k, v in dims.items()],
            'data': [{'timeStamp': '2026-12-04T10:0%d:00Z' % i, key: v} for i, v in enumerate(values)]}


def response(attempted, failed, active, dropped):
    return {'value': [
        metric('SNATConnectionCount', [series({'protocol': 'TCP', 'connectionstate': 'Attempted'}, attempted),
                                       series({'protocol': 'TCP', 'connectionstate': 'Failed'}, failed)]),
        metric('TotalConnectionCount', [series({'protocol': 'TCP'}, active, 'maximum')]),
        metric('PacketDropCount', [series({}, dropped)]),
    ]}


def test_series_from_azure_metrics_aligns_and_sums_protocols():
    body = response([10, 20], [0, 5], [100, 200], [0, 7])
    body['value'][1]['timeseries'].append(series({'protocol': 'UDP'}, [1, 2], 'maximum'))
    result = natgw.series_from_azure_metrics(body)
    assert result['connections'] == {'attempted': [10, 20], 'failed': [0, 5]}
    assert result['active'] == [101, 202] and result['dropped'] == [0, 7]
    assert result['timestamps'] == ['2026-12-04T10:00:00Z', '2026-12-04T10:01:00Z']


@pytest.mark.parametrize('bad', ['x', {'value': 3}, {'value': [1]}])
def test_series_from_azure_metrics_refuses_non_metrics(bad):
    with pytest.raises(natgw.NatGatewayInputError):
        natgw.series_from_azure_metrics(bad)


@pytest.mark.parametrize('attempted, failed, active, dropped, status, failed_total, ratio', [
    # failures: exhaustion (the troubleshooting article's evidence), drops corroborate
    ([600, 600], [150, 160], [64512, 64512], [300, 320], 'problem', 310, 1.0),
    # no failures, data present: proven for the window even at high use (ports are reused across destinations)
    ([600, 600], [0, 0], [60000, 50000], [0, 0], 'ok', 0, 0.9301),
    # drops without failed connections: not SNAT exhaustion by the documented evidence
    ([600, 600], [0, 0], [1000, 1000], [5, 0], 'ok', 0, 0.0155),
    # no SNATConnectionCount data at all
    ([None, None], [None, None], [None, None], [None, None], 'unknown', 0, None),
])
def test_verdict(attempted, failed, active, dropped, status, failed_total, ratio):
    verdict = natgw.natgw_verdict(natgw.series_from_azure_metrics(response(attempted, failed, active, dropped)), gateway(1))
    assert (verdict['status'], verdict['failed'], verdict['ratio']) == (status, failed_total, ratio)
    assert verdict['gateway'] in verdict['summary']


def test_verdict_without_any_series_is_unknown():
    verdict = natgw.natgw_verdict({'connections': {}, 'active': [], 'dropped': []}, gateway(1))
    assert verdict['status'] == 'unknown' and 'not checked' in verdict['summary']


@pytest.mark.parametrize('threshold', [0, 1.5, True, '0.8'])
def test_verdict_refuses_a_bad_threshold(threshold):
    with pytest.raises(natgw.NatGatewayInputError):
        natgw.natgw_verdict({}, gateway(1), threshold)


@pytest.mark.parametrize('ips, attempted, failed, peak, needed, fits', [
    # 64,512 active with a quarter of the new connections failing -> ~86,016 wanted; at <= 72% per IP (46,448) -> 2 IPs
    (1, 1200, 300, 64512, 2, True),
    # failed but the estimate fits today's IPs: still one more than today (the failures prove today's are not enough)
    (2, 1000, 1, 60000, 3, True),
    # everything failed: twice the peak
    (1, 100, 100, 64512, 3, True),
    # beyond 16 IPs: capped, fits False
    (16, 1000, 500, 1032192, 16, False),
    # no failures: sized by the peak
    (1, 100, 0, 10000, 1, True),
])
def test_recommend_ips(ips, attempted, failed, peak, needed, fits):
    verdict = {'peak_active_connections': peak, 'failed': failed, 'attempted': attempted}
    rec = natgw.recommend_ips(verdict, gateway(ips))
    assert (rec['ips_needed'], rec['fits']) == (needed, fits), rec


def test_recommend_ips_unknown_ip_count():
    body = {'id': GW_ID, 'properties': {'publicIpPrefixes': [{'id': PREFIX % 0}]}}
    rec = natgw.recommend_ips({'peak_active_connections': 5, 'failed': 1, 'attempted': 2}, natgw.gateway_summary(body, {}))
    assert rec['ips_needed'] is None and 'unknown' in rec['reason']


@pytest.mark.parametrize('managed, idle, expect_in_advice', [
    (True, 4, '--nat-gateway-managed-outbound-ip-count 2'),
    (False, 4, 'az network nat gateway update -g rg-net -n natgw-aks --public-ip-addresses'),
    (True, 30, '--nat-gateway-idle-timeout 4'),
    (False, 30, '--idle-timeout 4'),
])
def test_finding_problem_with_advice(managed, idle, expect_in_advice):
    gw = gateway(1, idle=idle)
    verdict = natgw.natgw_verdict(natgw.series_from_azure_metrics(response([600, 600], [150, 160], [64512, 64512], [300, 0])), gw)
    finding = natgw.natgw_finding([(gw, verdict, natgw.recommend_ips(verdict, gw))], managed=managed)
    assert finding['cause'] == 'snat_exhaustion' and finding['status'] == 'problem' and finding['affected_nodes'] == []
    assert finding['remediation']['ips_needed'] == 2 and finding['remediation']['nat_gateway'] == 'natgw-aks'
    assert any(expect_in_advice in line for line in finding['remediation']['advice']), finding['remediation']['advice']
    assert any('packets dropped in 1 of the 2 time bucket(s)' in line for line in finding['evidence'])


def test_finding_worst_gateway_wins_and_no_gateway_is_unknown():
    gw = gateway(1)
    ok = natgw.natgw_verdict(natgw.series_from_azure_metrics(response([1], [0], [1], [0])), gw)
    unknown = natgw.natgw_verdict({}, gw)
    assert natgw.natgw_finding([(gw, ok, None), (gw, unknown, None)])['status'] == 'unknown'
    assert natgw.natgw_finding([(gw, ok, None)])['status'] == 'ok'
    assert natgw.natgw_finding([])['status'] == 'unknown'
