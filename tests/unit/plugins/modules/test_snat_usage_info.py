# -*- coding: utf-8 -*-
# Copyright (c) 2026 aks.tunnel contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import json

import pytest

from ansible_collections.aks.tunnel.plugins.modules import snat_usage_info
from ansible_collections.aks.tunnel.tests.unit.plugins.modules.conftest import AZURE_ARGS, azure_http_error, run_module

LB = '/subscriptions/sub/resourceGroups/MC_rg_aks_westeurope/providers/Microsoft.Network/loadBalancers/kubernetes'
IPS = {'10.240.0.4': 'aks-pool-vmss000000', '10.240.0.5': 'aks-pool-vmss000001'}


def cluster(outbound='loadBalancer', private=False, ports=1024):
    return {'id': '/subscriptions/sub/resourceGroups/rg/providers/Microsoft.ContainerService/managedClusters/aks', 'name': 'aks',
            'properties': {'nodeResourceGroup': 'MC_rg_aks_westeurope',
                           'agentPoolProfiles': [{'name': 'pool', 'count': 2, 'upgradeSettings': {'maxSurge': '1'}}],
                           'apiServerAccessProfile': {'enablePrivateCluster': private},
                           'networkProfile': {'outboundType': outbound, 'loadBalancerSku': 'standard',
                                              'loadBalancerProfile': {'managedOutboundIPs': {'count': 1}, 'allocatedOutboundPorts': ports}}}}


def series(name, dims, points):
    return {'name': {'value': name}, 'metadatavalues': [{'name': {'value': k}, 'value': v} for k, v in dims.items()],
            'data': [dict(p, time_stamp='2026-11-25T20:%02d:00Z' % i) for i, p in enumerate(points)]}


def metrics(used, failed):
    connections = {'name': {'value': 'SnatConnectionCount'}, 'timeseries': []}
    allocated = {'name': {'value': 'AllocatedSnatPorts'}, 'timeseries': []}
    used_metric = {'name': {'value': 'UsedSnatPorts'}, 'timeseries': []}
    for ip in IPS:
        connections['timeseries'].append({'metadatavalues': [{'name': {'value': 'backendipaddress'}, 'value': ip},
                                                             {'name': {'value': 'connectionstate'}, 'value': 'Failed'}],
                                          'data': [{'time_stamp': 't1', 'total': failed.get(ip, 0)}]})
        connections['timeseries'].append({'metadatavalues': [{'name': {'value': 'backendipaddress'}, 'value': ip},
                                                             {'name': {'value': 'connectionstate'}, 'value': 'Successful'}],
                                          'data': [{'time_stamp': 't1', 'total': 50}]})
        allocated['timeseries'].append({'metadatavalues': [{'name': {'value': 'backendipaddress'}, 'value': ip}],
                                        'data': [{'time_stamp': 't1', 'average': 1024, 'maximum': 1024}]})
        used_metric['timeseries'].append({'metadatavalues': [{'name': {'value': 'backendipaddress'}, 'value': ip}],
                                          'data': [{'time_stamp': 't1', 'average': used[ip] - 10, 'maximum': used[ip]}]})
    return [connections, allocated, used_metric]


def seed(fake, used=None, failed=None, **kwargs):
    fake.cluster = cluster(**kwargs)
    fake.metrics = metrics(used or {'10.240.0.4': 100, '10.240.0.5': 200}, failed or {})
    fake.vmss = {'aks-pool-vmss': [('/subscriptions/sub/.../virtualMachines/%d' % i, name, ip) for i, (ip, name) in enumerate(sorted(IPS.items()))]}


def test_exhaustion_is_found_per_node_with_a_recommendation(fake_azure, capsys):
    seed(fake_azure, used={'10.240.0.4': 1024, '10.240.0.5': 200}, failed={'10.240.0.4': 37})
    result = run_module(snat_usage_info.main, dict(AZURE_ARGS, window='PT30M'), capsys)
    assert result['changed'] is False and result['applicable'] is True
    assert result['finding']['status'] == 'problem' and result['finding']['affected_nodes'] == ['aks-pool-vmss000000']
    worst = result['nodes'][0]
    assert (worst['backend_ip'], worst['node'], worst['allocated'], worst['used'], worst['failed'], worst['ratio']) == (
        '10.240.0.4', 'aks-pool-vmss000000', 1024, 1024, 37, 1.0)
    assert result['worst'] == {'backend_ip': '10.240.0.4', 'node': 'aks-pool-vmss000000', 'ratio': 1.0, 'failed': 37}
    assert result['failed_total'] == 37 and result['max_ratio'] == 1.0
    assert result['capacity']['required_nodes'] == 3
    # The node used all its 1024 ports and 37 of 87 connections failed: it wants about 1024 x 87 / 50 = 1782 ports; at <= 72%
    # that is 2480 per node (not the 21328 that would fill the one IP for 3 nodes and leave no room to scale).
    recommendation = result['recommendation']
    assert (recommendation['peak_ports'], recommendation['allocated_outbound_ports'], recommendation['managed_outbound_ips']) == (1782, 2480, 1)
    assert recommendation['fits'] is True and recommendation['peak_basis'].startswith('10.240.0.4: 1024 ports in use with 37 of 87')
    remediation = result['finding']['remediation']
    assert (remediation['allocated_outbound_ports'], remediation['peak_ports'], remediation['fits_current_ips']) == (2480, 1782, True)
    # Two metric queries on the LB, split by backend (and by connection state for connections), with a top large enough.
    queries = [c for c in fake_azure.calls if c[0] == 'metrics']
    assert [q[1] for q in queries] == [LB, LB]
    assert queries[0][2]['filter'] == "BackendIPAddress eq '*' and ConnectionState eq '*'" and queries[0][2]['aggregation'] == 'Total'
    assert queries[1][2]['metricnames'] == 'AllocatedSnatPorts,UsedSnatPorts' and queries[1][2]['filter'] == "BackendIPAddress eq '*'"
    assert queries[0][2]['top'] >= 6 and queries[0][2]['interval'] == 'PT1M'
    start, end = queries[0][2]['timespan'].split('/')
    assert start < end
    assert 'very-secret-value' not in json.dumps(result)


def test_large_cluster_reads_the_worst_backends_first(fake_azure, capsys):
    seed(fake_azure, used={'10.240.0.4': 1024, '10.240.0.5': 200}, failed={'10.240.0.4': 37})
    fake_azure.cluster['properties']['agentPoolProfiles'][0]['count'] = 2000
    fake_azure.cluster['properties']['networkProfile']['loadBalancerProfile']['allocatedOutboundPorts'] = 16
    fake_azure.cluster['properties']['networkProfile']['loadBalancerProfile']['managedOutboundIPs']['count'] = 4
    result = run_module(snat_usage_info.main, dict(AZURE_ARGS, node_names=IPS), capsys)
    queries = [c[2] for c in fake_azure.calls if c[0] == 'metrics']
    # Azure sorts and cuts: failed connections by sum, used ports by maximum, 25 each; then every series of those backends.
    assert [(q['metricnames'], q['filter'], q.get('orderby'), q['top']) for q in queries[:2]] == [
        ('SnatConnectionCount', "BackendIPAddress eq '*' and ConnectionState eq 'Failed'", 'sum desc', 25),
        ('UsedSnatPorts', "BackendIPAddress eq '*'", 'maximum desc', 25)]
    assert queries[2]['filter'] == "(BackendIPAddress eq '10.240.0.4' or BackendIPAddress eq '10.240.0.5') and ConnectionState eq '*'"
    assert queries[3]['filter'] == "(BackendIPAddress eq '10.240.0.4' or BackendIPAddress eq '10.240.0.5')"
    assert len(queries) == 4
    assert result['finding']['status'] == 'problem' and result['finding']['affected_nodes'] == ['aks-pool-vmss000000']
    assert result['finding']['evidence'][0] == ('large cluster: read the 2 backend(s) with the most failed SNAT connections or used ports, '
                                                'of 2000 nodes')


def test_healthy_is_ok(fake_azure, capsys):
    seed(fake_azure)
    result = run_module(snat_usage_info.main, AZURE_ARGS, capsys)
    assert result['finding']['status'] == 'ok' and result['finding']['remediation'] == {}
    assert {row['node'] for row in result['nodes']} == set(IPS.values())


def test_node_names_option_skips_the_vmss_lookup(fake_azure, capsys):
    seed(fake_azure)
    result = run_module(snat_usage_info.main, dict(AZURE_ARGS, node_names={'10.240.0.4': 'given'}), capsys)
    assert {row['backend_ip']: row['node'] for row in result['nodes']} == {'10.240.0.4': 'given', '10.240.0.5': None}
    assert not [c for c in fake_azure.calls if c[0] == 'vmss_list']


@pytest.mark.parametrize('kwargs, fragment', [
    ({'outbound': 'userDefinedRouting'}, 'outboundType is userDefinedRouting'),
    ({'private': True}, 'private cluster'),
])
def test_not_applicable(fake_azure, capsys, kwargs, fragment):
    seed(fake_azure, **kwargs)
    result = run_module(snat_usage_info.main, AZURE_ARGS, capsys)
    assert result['applicable'] is False and fragment in result['reason']
    assert result['finding'] == {'cause': 'snat_exhaustion', 'status': 'not_applicable', 'summary': result['reason'], 'affected_nodes': [],
                                 'evidence': [result['reason']], 'remediation': {}}
    assert not [c for c in fake_azure.calls if c[0] == 'metrics']


@pytest.mark.parametrize('args, fragment', [
    ({'window': '1h'}, 'window must be an ISO 8601 duration such as PT1H'),
    ({'interval': 'PT10S'}, 'interval must be at least one minute'),
    ({'api_timeout': 0}, 'api_timeout must be >= 1, got 0'),
])
def test_bad_options(fake_azure, capsys, args, fragment):
    seed(fake_azure)
    result = run_module(snat_usage_info.main, dict(AZURE_ARGS, **args), capsys)
    assert result['failed'] is True and fragment in result['msg']


def test_missing_cluster_is_a_clear_failure(fake_azure, capsys):
    seed(fake_azure)
    fake_azure.errors['get'] = [azure_http_error(404, 'ResourceNotFound', "The Resource 'Microsoft.ContainerService/managedClusters/aks' under "
                                                 "resource group 'rg' was not found.")]
    result = run_module(snat_usage_info.main, AZURE_ARGS, capsys)
    assert result['failed'] is True and result['status'] == 404 and result['error_code'] == 'ResourceNotFound'
    assert result['msg'].startswith('Failed to read managed cluster rg/aks (HTTP 404): ResourceNotFound: The Resource')
    assert 'Check the resource group and resource names' in result['msg']


def test_incomplete_credentials_fail_before_any_call(fake_azure, capsys, monkeypatch):
    for name in ('AZURE_SECRET', 'AZURE_CLIENT_SECRET'):
        monkeypatch.delenv(name, raising=False)
    args = dict(AZURE_ARGS)
    del args['secret']
    result = run_module(snat_usage_info.main, args, capsys)
    assert result['failed'] is True and 'lack secret' in result['msg']
    assert fake_azure.calls == []
