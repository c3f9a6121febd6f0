# -*- coding: utf-8 -*-
# Copyright (c) 2026 aks.tunnel contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Server-side printing (what `kubectl get` asks for): meta.k8s.io Tables with the API server's columns and cells."""

from __future__ import annotations

import datetime
import json
import ssl
import urllib.request

import pytest

from ansible_collections.aks.tunnel.tests.lab.kube import tables

TABLE_V1 = 'application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json'


def _get(lab, path, accept=TABLE_V1, user='lab-admin'):
    """(Content-Type, JSON body) of a GET with this Accept header, as kubectl sends it."""
    request = urllib.request.Request(lab.url + path, headers={'Accept': accept, 'Authorization': 'Bearer ' + lab.user(user)['token']})
    with urllib.request.urlopen(request, context=ssl.create_default_context(cafile=lab.ca_path), timeout=10) as response:
        return response.headers['Content-Type'], json.loads(response.read())


@pytest.mark.parametrize('seconds, text', [
    (-5, '<invalid>'), (-1, '0s'), (0, '0s'), (59, '59s'), (119, '119s'), (120, '2m'), (150, '2m30s'), (600, '10m'), (10799, '179m'),
    (10800, '3h'), (3 * 3600 + 60, '3h1m'), (8 * 3600, '8h'), (47 * 3600, '47h'), (48 * 3600, '2d'), (49 * 3600, '2d1h'),
    (8 * 86400, '8d'), (729 * 86400, '729d'), (730 * 86400, '2y'), (731 * 86400, '2y1d'), (8 * 365 * 86400, '8y'),
])
def test_human_duration_is_the_api_servers(seconds, text):
    assert tables.human_duration(seconds) == text


@pytest.mark.parametrize('accept, version', [
    (TABLE_V1, 'v1'),
    ('application/json;as=Table;v=v1beta1;g=meta.k8s.io, application/json', 'v1beta1'),
    ('application/json', None),
    ('application/json, application/json;as=Table;v=v1;g=meta.k8s.io', None),
    ('application/json;as=PartialObjectMetadataList;v=v1;g=meta.k8s.io', None),
    (None, None),
])
def test_wants_table_follows_the_accept_order(accept, version):
    assert tables.wants_table(accept) == version


@pytest.mark.parametrize('path, columns', [
    ('/api/v1/nodes', ['Name', 'Status', 'Roles', 'Age', 'Version', 'Internal-IP', 'External-IP', 'OS-Image', 'Kernel-Version',
                       'Container-Runtime']),
    ('/api/v1/namespaces/kube-system/pods', ['Name', 'Ready', 'Status', 'Restarts', 'Age', 'IP', 'Node', 'Nominated Node', 'Readiness Gates']),
    ('/apis/apps/v1/namespaces/kube-system/deployments', ['Name', 'Ready', 'Up-to-date', 'Available', 'Age', 'Containers', 'Images',
                                                          'Selector']),
    ('/apis/apps/v1/replicasets', ['Name', 'Desired', 'Current', 'Ready', 'Age', 'Containers', 'Images', 'Selector']),
    ('/api/v1/namespaces/kube-system/configmaps', ['Name', 'Data', 'Age']),
    ('/api/v1/namespaces', ['Name', 'Status', 'Age']),
    ('/api/v1/events', ['Last Seen', 'Type', 'Reason', 'Object', 'Subobject', 'Source', 'Message', 'First Seen', 'Count', 'Name']),
    ('/apis/events.k8s.io/v1/events', ['Name', 'Created At']),
])
def test_lists_come_back_as_tables_with_the_api_servers_columns(kube_lab, path, columns):
    content_type, table = _get(kube_lab, path)
    assert content_type == 'application/json;as=Table;v=v1;g=meta.k8s.io'
    assert (table['kind'], table['apiVersion']) == ('Table', 'meta.k8s.io/v1')
    assert [c['name'] for c in table['columnDefinitions']] == columns
    assert all(len(row['cells']) == len(columns) for row in table['rows'])
    assert all(row['object']['kind'] == 'PartialObjectMetadata' for row in table['rows'])
    assert table['metadata']['resourceVersion']


def test_node_rows_show_status_ip_and_kubelet_version(kube_lab):
    _unused, table = _get(kube_lab, '/api/v1/nodes')
    rows = {row['cells'][0]: row['cells'] for row in table['rows']}
    for node in kube_lab.topology['nodes']:
        cells = rows[node['name']]
        expected_status = 'Ready,SchedulingDisabled' if node['short'] == 'user1-1' else 'Ready'
        assert (cells[1], cells[2], cells[4], cells[5], cells[6]) == (expected_status, 'agent', 'v1.31.2', node['ip'], '<none>')


def test_pod_rows_show_the_node_ip_and_restarts_with_their_age(kube_lab):
    _unused, table = _get(kube_lab, '/api/v1/namespaces/kube-system/pods?labelSelector=app%3Dkonnectivity-agent')
    rows = {row['cells'][0]: row['cells'] for row in table['rows']}
    pods = {p['metadata']['name']: p for p in kube_lab.tunnel_pods()}
    assert set(rows) == set(pods)
    for name, pod in pods.items():
        ready, status, restarts, _age, pod_ip, node = rows[name][1:7]
        assert (ready, status, pod_ip, node) == ('1/1', 'Running', pod['status']['podIP'], pod['spec']['nodeName'])
        count = pod['status']['containerStatuses'][0]['restartCount']
        assert restarts == '0' if count == 0 else restarts.startswith('%d (' % count) and restarts.endswith(' ago)')


def test_a_single_object_a_page_and_include_object(kube_lab):
    node = kube_lab.topology['nodes'][0]['name']
    _unused, table = _get(kube_lab, '/api/v1/nodes/%s?includeObject=Object' % node)
    assert len(table['rows']) == 1 and table['rows'][0]['object']['kind'] == 'Node'
    _unused, table = _get(kube_lab, '/api/v1/nodes?limit=2&includeObject=None')
    assert len(table['rows']) == 2 and 'object' not in table['rows'][0] and table['metadata']['continue']
    _unused, rest = _get(kube_lab, '/api/v1/nodes?limit=10&continue=%s' % table['metadata']['continue'])
    assert len(rest['rows']) == len(kube_lab.topology['nodes']) - 2


def test_plain_json_clients_still_get_lists(kube_lab):
    content_type, body = _get(kube_lab, '/api/v1/nodes', accept='application/json')
    assert content_type == 'application/json' and body['kind'] == 'NodeList'


def test_pod_cells_follow_the_printer_for_waiting_terminating_and_unscheduled_pods():
    now = datetime.datetime(2026, 12, 4, 12, 0, tzinfo=datetime.timezone.utc)
    pod = {'metadata': {'name': 'p', 'creationTimestamp': '2026-12-04T11:00:00Z'},
           'spec': {'containers': [{'name': 'a'}, {'name': 'b'}]},
           'status': {'phase': 'Running', 'containerStatuses': [
               {'name': 'a', 'ready': True, 'restartCount': 0, 'state': {'running': {}}},
               {'name': 'b', 'ready': False, 'restartCount': 5, 'state': {'waiting': {'reason': 'CrashLoopBackOff'}},
                'lastState': {'terminated': {'reason': 'OOMKilled', 'finishedAt': '2026-12-04T11:58:00Z'}}}]}}
    assert tables.CELLS['pods'](pod, now)[:6] == ['p', '1/2', 'CrashLoopBackOff', '5 (2m ago)', '60m', '<none>']
    pending = {'metadata': {'name': 'q', 'creationTimestamp': '2026-12-04T11:59:30Z', 'deletionTimestamp': '2026-12-04T12:00:00Z'},
               'spec': {'containers': [{'name': 'a'}]}, 'status': {'phase': 'Pending'}}
    assert tables.CELLS['pods'](pending, now) == ['q', '0/1', 'Terminating', '0', '30s', '<none>', '<none>', '<none>', '<none>']


def test_kubectl_get_all_finds_pods_deployments_and_replicasets(kube_lab):
    _unused, core = _get(kube_lab, '/api/v1', accept='application/json')
    _unused, apps = _get(kube_lab, '/apis/apps/v1', accept='application/json')
    in_all = sorted(r['name'] for r in core['resources'] + apps['resources'] if 'all' in r.get('categories', []))
    assert in_all == ['deployments', 'pods', 'replicasets']
    _unused, table = _get(kube_lab, '/apis/apps/v1/namespaces/kube-system/replicasets')
    deployments = {d['metadata']['name']: d for d in kube_lab.store.items('deployments', 'kube-system')}
    for row in table['rows']:
        owner = row['object']['metadata']['ownerReferences'][0]['name']
        assert row['object']['metadata']['creationTimestamp'] == deployments[owner]['metadata']['creationTimestamp']
