# -*- coding: utf-8 -*-
# Copyright (c) 2026 aks.tunnel contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Issue 17 on the Kubernetes emulator: the collection's own API client (_kube.build_api_client, the pool
wrapper that counts and retries) rides out 429 storms (with Retry-After, as the API server's priority and
fairness filter sends them), 5xx bursts and a list that times out, within api_retry_deadline; it never
repeats a write whose outcome is unknown, and fails clearly when the storm outlasts the deadline.

Faults: KubeEmulator.add_fault (its retry_after argument was added for this file). Real waits: about 20 s.
"""

from __future__ import annotations

import time

import pytest

from ansible_collections.aks.tunnel.plugins.module_utils import _counter
from ansible_collections.aks.tunnel.plugins.module_utils import _kube

kubernetes = pytest.importorskip('kubernetes')
from kubernetes import client  # noqa: E402  pylint: disable=wrong-import-position

CONFIGMAP_PATH = '/api/v1/namespaces/kube-system/configmaps/konnectivity-agent-autoscaler'
CONFIGMAP = 'konnectivity-agent-autoscaler'


@pytest.fixture
def lab(make_lab):
    # The figures a module reports are per process; start each test from zero.
    _counter.PROCESS_RETRY_STATS.reset()
    yield make_lab()
    _counter.PROCESS_RETRY_STATS.reset()


def api(lab, deadline=None, timeout=30, environ=None):
    """The ApiClient and CoreV1Api a module builds from its options (kubeconfig, api_retry_deadline, api_timeout)."""
    api_client = _kube.build_api_client({'kubeconfig': lab.kubeconfigs['lab-admin'], 'api_retry_deadline': deadline}, environ=environ or {},
                                        timeout=timeout)
    return api_client, client.CoreV1Api(api_client)


def statuses(lab, since, method, path):
    return [r['status'] for r in list(lab.requests)[since:] if r['method'] == method and r['path'].split('?')[0] == path]


def test_read_rides_out_a_throttle_storm_and_a_5xx_burst(lab):
    api_client, core = api(lab)
    lab.add_fault('^%s$' % CONFIGMAP_PATH, method='GET', code=429, message='too many requests, please try again later', times=8,
                  retry_after=1)
    lab.add_fault('^%s$' % CONFIGMAP_PATH, method='GET', code=500, message='etcd leader changed', times=3)
    since = len(lab.requests)
    started = time.monotonic()
    configmap = _kube.read_json(core.read_namespaced_config_map, CONFIGMAP, 'kube-system', _request_timeout=_kube.request_timeout(api_client))
    elapsed = time.monotonic() - started
    assert configmap['metadata']['name'] == CONFIGMAP
    assert statuses(lab, since, 'GET', CONFIGMAP_PATH) == [429] * 8 + [500] * 3 + [200]
    assert _kube.request_count(api_client) == 12
    stats = _counter.PROCESS_RETRY_STATS.as_dict()
    assert (stats['throttled'], stats['retries']) == (8, 11)
    assert 11.5 <= stats['retry_wait_s'] <= 15.1
    # retry_wait_s is rounded to 0.1 s: allow that much on the lower bound.
    assert stats['retry_wait_s'] - 0.05 <= elapsed < stats['retry_wait_s'] + 10


def test_storm_longer_than_the_deadline_fails_naming_throttling_and_the_option(lab):
    api_client, core = api(lab, environ={'AKS_TUNNEL_API_RETRY_DEADLINE': '2.5'})
    lab.add_fault('^/api/v1/nodes$', method='GET', code=429, message='too many requests, please try again later', times=20, retry_after=1)
    started = time.monotonic()
    with pytest.raises(_kube.ApiException) as info:
        _kube.list_all(core.list_node, _request_timeout=_kube.request_timeout(api_client))
    elapsed = time.monotonic() - started
    stats = _counter.PROCESS_RETRY_STATS.as_dict()
    assert stats['retries'] == 2 and stats['throttled'] == 3 and _kube.request_count(api_client) == 3
    # well under the 20 s the storm lasts: the deadline stopped the retries (loose for a loaded CI machine)
    assert 2 <= elapsed < 10
    message = _kube.describe_kube_error(info.value, 'list the nodes')
    assert message.startswith('Failed to list the nodes (HTTP 429): TooManyRequests: too many requests, please try again later')
    assert 'raise api_retry_deadline (or the environment variable AKS_TUNNEL_API_RETRY_DEADLINE; now 2.5s)' in message


def test_a_write_of_unknown_outcome_is_not_repeated_a_throttled_one_is(lab):
    _api_client, core = api(lab)
    path = '/api/v1/namespaces/default/configmaps'
    body = {'metadata': {'name': 'retry-budget'}, 'data': {'a': '1'}}
    lab.add_fault('^%s$' % path, method='POST', code=500, message='the server may have applied it', times=1)
    since = len(lab.requests)
    with pytest.raises(_kube.ApiException) as info:
        core.create_namespaced_config_map('default', body)
    assert info.value.status == 500
    assert statuses(lab, since, 'POST', path) == [500]
    lab.add_fault('^%s$' % path, method='POST', code=429, message='too many requests', times=2, retry_after=1)
    since = len(lab.requests)
    created = core.create_namespaced_config_map('default', body)
    assert created.metadata.name == 'retry-budget'
    assert statuses(lab, since, 'POST', path) == [429, 429, 201]
    assert _counter.PROCESS_RETRY_STATS.as_dict() == {'throttled': 2, 'retries': 2, 'retry_wait_s': 2.0}


def test_a_list_that_times_out_is_sent_again(lab):
    api_client, core = api(lab, timeout=1)
    lab.add_fault('^/api/v1/nodes$', method='GET', code=None, delay=2.5, times=1)
    since = len(lab.requests)
    started = time.monotonic()
    nodes = _kube.list_all(core.list_node, _request_timeout=_kube.request_timeout(api_client))
    assert len(nodes) == 5 and time.monotonic() - started < 6
    # the emulator logs the slow request once its delay has passed
    assert lab.wait_for(lambda: len([r for r in list(lab.requests)[since:] if r['path'].startswith('/api/v1/nodes')]) == 2, timeout=5)
    stats = _counter.PROCESS_RETRY_STATS.as_dict()
    assert stats['retries'] == 1 and stats['throttled'] == 0 and _kube.request_count(api_client) == 2
