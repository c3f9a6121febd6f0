# -*- coding: utf-8 -*-
# Copyright (c) 2026 aks.tunnel contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Issue #12: each kubelet through the API server (GET nodes/{node}/proxy/healthz), the API server's own error text kept.

Answer bodies: the metav1.Status the API server writes when the node proxy cannot dial the kubelet - apimachinery's
proxy transport wraps the Go error as `errors.NewServiceUnavailable("error trying to reach service: %v")` (503, reason
ServiceUnavailable), the Go errors being net/http's and net's texts (`dial tcp <ip>:10250: i/o timeout`, `connect:
connection refused`, `http: server gave HTTP response to HTTPS client`) and konnectivity's `No agent available`; the
RBAC 403 is the API server's `nodes "<n>" is forbidden: User ... cannot get resource "nodes/proxy"` text.
"""

from __future__ import annotations

import json

import pytest

from ansible_collections.aks.tunnel.plugins.module_utils import _apiserver_probe as ap
from ansible_collections.aks.tunnel.plugins.module_utils import _causes


def status(code, message, reason='ServiceUnavailable', **extra):
    return json.dumps(dict({'kind': 'Status', 'apiVersion': 'v1', 'metadata': {}, 'status': 'Failure', 'message': message,
                            'reason': reason, 'code': code}, **extra)).encode()


REACH = 'error trying to reach service: '
FORBIDDEN_TEXT = ('nodes "aks-user1-1" is forbidden: User "lab-diagnose" cannot get resource "nodes/proxy" in API group "" at '
                  'the cluster scope')


@pytest.mark.parametrize('code, body, kind, text', [
    (200, b'ok', ap.ANSWERED, 'ok'),
    (500, b'[+]ping ok\n[-]syncloop failed: reason withheld\nhealthz check failed\n', ap.ANSWERED,
     'HTTP 500: [+]ping ok [-]syncloop failed: reason withheld healthz check failed'),
    (401, b'Unauthorized', ap.ANSWERED, 'HTTP 401: Unauthorized'),  # the kubelet's own text/plain answer: it serves TLS
    (503, status(503, REACH + 'dial tcp 10.240.0.8:10250: i/o timeout'), ap.TIMEOUT, REACH + 'dial tcp 10.240.0.8:10250: i/o timeout'),
    (503, status(503, REACH + 'dial tcp 10.240.0.8:10250: connect: connection refused'), ap.REFUSED, None),
    (503, status(503, REACH + 'http: server gave HTTP response to HTTPS client'), ap.PLAIN_HTTP, None),
    (500, status(500, 'error dialing backend: tls: first record does not look like a TLS handshake', reason=''), ap.PLAIN_HTTP, None),
    (503, status(503, REACH + 'remote error: tls: bad certificate'), ap.TLS, None),
    (503, status(503, REACH + 'tls: failed to verify certificate: x509: certificate signed by unknown authority'), ap.TLS, None),
    (503, status(503, REACH + 'net/http: TLS handshake timeout'), ap.TIMEOUT, None),
    (503, status(503, REACH + 'read tcp 10.224.0.4:51234->10.240.0.8:10250: read: connection reset by peer'), ap.RESET, None),
    (503, status(503, REACH + 'dial tcp 10.240.0.8:10250: connect: no route to host'), ap.NO_ROUTE, None),
    (503, status(503, REACH + 'No agent available'), ap.NO_AGENT, None),
    (503, status(503, REACH + 'EOF'), ap.OTHER, REACH + 'EOF'),
    (403, status(403, FORBIDDEN_TEXT, reason='Forbidden'), ap.FORBIDDEN, FORBIDDEN_TEXT),
    (401, status(401, 'Unauthorized', reason='Unauthorized'), ap.UNAUTHORIZED, 'Unauthorized'),
    (404, status(404, 'nodes "gone" not found', reason='NotFound'), ap.NOT_FOUND, 'nodes "gone" not found'),
    (503, status(503, 'the server is currently unable to handle the request'), ap.API_ERROR,
     'HTTP 503: the server is currently unable to handle the request'),
    (502, b'<html><body><h1>502 Bad Gateway</h1></body></html>', ap.API_ERROR,
     'HTTP 502 from in front of the API server: <html><body><h1>502 Bad Gateway</h1></body></html>'),
    (0, None, ap.API_ERROR, 'the request to the API server failed without an HTTP answer: '),
])
def test_classify_response(code, body, kind, text):
    got_kind, got_text, retry_after = ap.classify_response(code, body)
    assert got_kind == kind
    assert got_text == (text if text is not None else json.loads(body)['message'])
    assert retry_after is None


def test_throttled_answer_carries_retry_after():
    body = status(429, 'Too many requests, please try again later.', reason='TooManyRequests', details={'retryAfterSeconds': 2})
    assert ap.classify_response(429, body) == (ap.THROTTLED, 'Too many requests, please try again later.', 2)


class ReadTimeoutError(Exception):
    pass


class ConnectTimeoutError(TimeoutError):
    pass


class MaxRetryError(Exception):
    def __init__(self, reason):
        super().__init__('Max retries exceeded (Caused by %r)' % reason)
        self.reason = reason


@pytest.mark.parametrize('exc, kind', [
    (MaxRetryError(ReadTimeoutError('Read timed out. (read timeout=5)')), ap.TIMEOUT),
    (ReadTimeoutError('Read timed out.'), ap.TIMEOUT),
    (MaxRetryError(ConnectTimeoutError('connect timed out')), ap.API_ERROR),
    (MaxRetryError(ConnectionRefusedError(111, 'Connection refused')), ap.API_ERROR),
])
def test_classify_exception(exc, kind):
    got, text = ap.classify_exception(exc, 5)
    assert got == kind
    assert ('within 5 s' in text) is (kind == ap.TIMEOUT)


@pytest.mark.parametrize('provider, expected', [
    ('azure:///subscriptions/0000/resourceGroups/MC_rg_aks_westeurope/providers/Microsoft.Compute/virtualMachineScaleSets/'
     'aks-user1-12345678-vmss/virtualMachines/3', {'resource_group': 'MC_rg_aks_westeurope', 'vmss': 'aks-user1-12345678-vmss',
                                                   'instance_id': '3'}),
    ('azure:///subscriptions/0000/resourceGroups/mc_rg/providers/Microsoft.Compute/virtualMachines/aks-vm-0', {}),
    ('', {}),
    (None, {}),
])
def test_provider_location(provider, expected):
    assert ap.provider_location(provider) == expected


def test_nodes_from_model_and_kubernetes_agree():
    model = {'cluster': {'node_resource_group': 'MC_rg'}, 'nodes': [
        {'name': 'n0', 'pool': 'p', 'vmss': 'vmss-p', 'instance_id': '0', 'in_kubernetes': True},
        {'name': 'vm-only', 'pool': 'p', 'vmss': 'vmss-p', 'instance_id': '1', 'in_kubernetes': False}]}
    items = [{'metadata': {'name': 'n0', 'labels': {'kubernetes.azure.com/agentpool': 'p'}},
              'spec': {'providerID': 'azure:///subscriptions/s/resourceGroups/MC_rg/providers/Microsoft.Compute/'
                                     'virtualMachineScaleSets/vmss-p/virtualMachines/0'}}]
    expected = [{'name': 'n0', 'pool': 'p', 'resource_group': 'MC_rg', 'vmss': 'vmss-p', 'instance_id': '0'}]
    assert ap.nodes_from_model(model) == expected
    assert ap.nodes_from_kubernetes(items) == expected


NODES = [{'name': n, 'pool': n.split('-', maxsplit=1)[0]} for n in ('a-0', 'a-1', 'a-2', 'b-0', 'b-1', 'c-0')]


@pytest.mark.parametrize('wanted, max_nodes, order, not_probed', [
    (None, 0, ['a-0', 'b-0', 'c-0', 'a-1', 'b-1', 'a-2'], []),
    (None, 4, ['a-0', 'b-0', 'c-0', 'a-1'], ['b-1', 'a-2']),
    (['b-1', 'zz', 'b-1', 'a-0'], 0, ['b-1', 'a-0'], ['zz']),
    (['b-1', 'a-0', 'c-0'], 2, ['b-1', 'a-0'], ['c-0']),
])
def test_select_nodes_spreads_over_pools_and_puts_wanted_first(wanted, max_nodes, order, not_probed):
    got, skipped = ap.select_nodes(NODES, wanted, max_nodes)
    assert got == order
    assert [s['node'] for s in skipped] == not_probed
    assert all(s['reason'] for s in skipped)


def test_select_nodes_rejects_negative_cap():
    with pytest.raises(ap.ApiserverProbeError, match='max_nodes'):
        ap.select_nodes(NODES, None, -1)


class FakeClock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.now += seconds


def test_probe_nodes_runs_every_node_concurrently_and_keeps_the_texts():
    answers = {'a-0': (ap.ANSWERED, 'ok', None), 'b-0': (ap.TIMEOUT, REACH + 'dial tcp 10.0.0.5:10250: i/o timeout', None)}
    seen = []

    def request(name):
        seen.append(name)
        return answers.get(name, (ap.ANSWERED, 'ok', None))
    results, not_probed = ap.probe_nodes([n['name'] for n in NODES], request, concurrency=3)
    assert sorted(seen) == sorted(n['name'] for n in NODES) and not_probed == []
    assert results['b-0'] == (ap.TIMEOUT, REACH + 'dial tcp 10.0.0.5:10250: i/o timeout')


@pytest.mark.parametrize('kind', [ap.FORBIDDEN, ap.UNAUTHORIZED])
def test_probe_nodes_stops_after_a_refused_first_request(kind):
    calls = []

    def request(name):
        calls.append(name)
        return kind, FORBIDDEN_TEXT, None
    results, not_probed = ap.probe_nodes(['a-0', 'a-1', 'a-2'], request, concurrency=2)
    assert calls == ['a-0'] and list(results) == ['a-0']
    assert [p['node'] for p in not_probed] == ['a-1', 'a-2'] and 'refused the first request' in not_probed[0]['reason']


def test_probe_nodes_deadline_leaves_the_rest_unprobed():
    clock = FakeClock()

    def request(name):
        clock.now += 10
        return ap.TIMEOUT, 'i/o timeout', None
    results, not_probed = ap.probe_nodes(['a-0', 'a-1', 'a-2', 'a-3'], request, concurrency=1, deadline=15, clock=clock, sleep=clock.sleep)
    assert sorted(results) == ['a-0', 'a-1']
    assert [p['node'] for p in not_probed] == ['a-2', 'a-3'] and not_probed[0]['reason'].startswith('deadline')


def test_probe_nodes_retries_throttled_after_retry_after():
    clock = FakeClock()
    answers = {'a-0': [(ap.ANSWERED, 'ok', None)], 'a-1': [(ap.THROTTLED, 'Too many requests', 3), (ap.ANSWERED, 'ok', None)]}
    waits = []

    def request(name):
        return answers[name].pop(0)
    results, not_probed = ap.probe_nodes(['a-0', 'a-1'], request, concurrency=1, deadline=60, clock=clock, sleep=clock.sleep,
                                         on_retry=waits.append)
    assert results == {'a-0': (ap.ANSWERED, 'ok'), 'a-1': (ap.ANSWERED, 'ok')} and not_probed == [] and waits == [3.0]


def test_probe_nodes_gives_up_on_throttling_at_the_deadline():
    clock = FakeClock()
    results, _unused = ap.probe_nodes(['a-0'], lambda name: (ap.THROTTLED, 'Too many requests', 30), deadline=20, clock=clock, sleep=clock.sleep)
    assert results == {'a-0': (ap.THROTTLED, 'Too many requests')}


MODEL_NODES = [{'name': 'n%d' % i, 'resource_group': 'MC_rg', 'vmss': 'vmss-u', 'instance_id': str(i)} for i in range(6)]
TIMEOUT_TEXT = REACH + 'dial tcp 10.240.0.8:10250: i/o timeout'
REFUSED_TEXT = REACH + 'dial tcp 10.240.0.9:10250: connect: connection refused'
HTTP_TEXT = REACH + 'http: server gave HTTP response to HTTPS client'
OK = (ap.ANSWERED, 'ok')


@pytest.mark.parametrize('results, not_probed, status, affected, summary_part', [
    ({'n0': OK, 'n1': OK}, [], _causes.STATUS_OK, [], 'every checked node over TLS (2 of 2)'),
    ({'n0': OK, 'n1': (ap.PLAIN_HTTP, HTTP_TEXT)}, [], _causes.STATUS_PROBLEM, ['n1'], 'plain HTTP on TCP 10250 (n1: ' + HTTP_TEXT),
    ({'n0': OK, 'n1': (ap.TLS, REACH + 'remote error: tls: bad certificate')}, [], _causes.STATUS_PROBLEM, ['n1'], 'a failing TLS handshake'),
    # refused: kubelet down or a firewall REJECT (tcp-reset gives the same text): not decided here, the node is named
    ({'n0': OK, 'n1': (ap.REFUSED, REFUSED_TEXT)}, [], _causes.STATUS_UNKNOWN, ['n1'], 'or a firewall rejects it'),
    ({'n0': (ap.REFUSED, REFUSED_TEXT), 'n1': (ap.PLAIN_HTTP, HTTP_TEXT)}, [], _causes.STATUS_PROBLEM, ['n1'], 'plain HTTP'),
    # timeouts are not this cause: OK for the kubelet, the nodes go to unreachable_nodes (the report's network path rule)
    ({'n0': OK, 'n1': (ap.TIMEOUT, TIMEOUT_TEXT)}, [], _causes.STATUS_OK, [], '1 of 2 checked node(s) answered'),
    ({'n0': (ap.FORBIDDEN, FORBIDDEN_TEXT)}, [{'node': 'n1', 'reason': 'not sent: the API server refused the first request (forbidden)'}],
     _causes.STATUS_UNKNOWN, [], 'cannot get resource "nodes/proxy"'),
    ({'n0': (ap.NO_AGENT, REACH + 'No agent available'), 'n1': (ap.NO_AGENT, REACH + 'No agent available')}, [],
     _causes.STATUS_UNKNOWN, [], 'no tunnel to the nodes (error trying to reach service: No agent available)'),
    ({'n0': (ap.API_ERROR, 'the request to the API server failed: refused')}, [], _causes.STATUS_UNKNOWN, [], 'could not be checked'),
    ({'n0': OK}, [{'node': 'n1', 'reason': 'deadline: no request starts 300 s after the first'}], _causes.STATUS_UNKNOWN, [],
     '1 of 2 node(s) were not checked before the deadline'),
    # OK only for what was proven: a sampled run or a node whose request failed leaves that node's TLS unproven
    ({'n0': OK}, [{'node': 'n1', 'reason': 'max_nodes: only 1 node(s) are checked per run'}], _causes.STATUS_UNKNOWN, [],
     '1 of 2 node(s) were not checked through the API server (max_nodes: only 1 node(s) are checked per run'),
    ({'n0': OK, 'n1': (ap.API_ERROR, 'the request to the API server failed: reset')}, [], _causes.STATUS_UNKNOWN, [],
     '1 of 2 node(s) could not be checked through the API server (n1: the request to the API server failed: reset)'),
    ({}, [], _causes.STATUS_UNKNOWN, [], 'no node was checked'),
])
def test_kubelet_finding(results, not_probed, status, affected, summary_part):
    summary = ap.summarize(results, not_probed, len(results) + len(not_probed))
    finding = ap.kubelet_finding(summary, MODEL_NODES)
    assert finding['cause'] == _causes.KUBELET_NOT_SERVING
    assert (finding['status'], finding['affected_nodes']) == (status, affected), finding
    assert summary_part in finding['summary'], finding['summary']
    if status == _causes.STATUS_PROBLEM:
        assert sorted(finding['remediation']) == ['commands', 'nodes', 'summary']
        assert finding['remediation']['nodes'] == affected
        assert 'kubectl get --raw /api/v1/nodes/n1/proxy/healthz' in finding['remediation']['commands']
        assert ('az vmss run-command invoke --resource-group MC_rg --name vmss-u --instance-id 1 --command-id RunShellScript '
                "--scripts 'systemctl status kubelet") in finding['remediation']['commands'][1]
        assert any(line.startswith('n1: ' + REACH) for line in finding['evidence'])


def test_summary_lists_unreachable_with_the_api_server_text_and_keeps_the_tunnel_apart():
    summary = ap.summarize({'n0': OK, 'n1': (ap.TIMEOUT, TIMEOUT_TEXT), 'n2': (ap.REFUSED, REFUSED_TEXT),
                            'n3': (ap.NO_AGENT, 'No agent available'), 'n4': (ap.ANSWERED, 'HTTP 500: [-]syncloop failed'),
                            'n5': (ap.NOT_FOUND, 'nodes "n5" not found')}, [], 6)
    assert summary['reached'] == 2 and summary['probed'] == 6 and summary['node_count'] == 6
    assert summary['unreachable_nodes'] == [{'node': 'n1', 'kind': ap.TIMEOUT, 'error': TIMEOUT_TEXT},
                                            {'node': 'n2', 'kind': ap.REFUSED, 'error': REFUSED_TEXT}]
    assert summary['no_tunnel_nodes'] == [{'node': 'n3', 'error': 'No agent available'}]
    assert summary['unhealthy_nodes'] == [{'node': 'n4', 'answer': 'HTTP 500: [-]syncloop failed'}]
    assert summary['request_errors'] == [{'node': 'n5', 'kind': ap.NOT_FOUND, 'error': 'nodes "n5" not found'}]
    assert summary['by_kind'] == {ap.ANSWERED: 2, ap.NO_AGENT: 1, ap.NOT_FOUND: 1, ap.REFUSED: 1, ap.TIMEOUT: 1}
    finding = ap.kubelet_finding(summary, MODEL_NODES)
    assert finding['status'] == _causes.STATUS_UNKNOWN and finding['affected_nodes'] == ['n2']
    assert any('did not answer for a reason on the path' in line and TIMEOUT_TEXT in line for line in finding['evidence'])


class FakeResponse:
    def __init__(self, status, data):
        self.status = status
        self.data = data
        self.released = False

    def release_conn(self):
        self.released = True


def test_request_node_health_adapter_never_raises():
    from kubernetes.client.exceptions import ApiException

    class Core:
        def __init__(self):
            self.calls = []
            self.response = FakeResponse(200, b'ok')

        def connect_get_node_proxy_with_path(self, name, path, **kwargs):
            self.calls.append((name, path, kwargs))
            if name == 'down':
                exc = ApiException(status=503, reason='Service Unavailable')
                exc.body = status(503, REFUSED_TEXT)
                raise exc
            if name == 'slow':
                raise MaxRetryError(ReadTimeoutError('Read timed out.'))
            return self.response
    core = Core()
    request = ap.request_node_health(core.connect_get_node_proxy_with_path, 7)
    assert request('up') == (ap.ANSWERED, 'ok', None) and core.response.released
    assert core.calls[0] == ('up', 'healthz', {'_preload_content': False, '_request_timeout': (10, 7)})
    assert request('down') == (ap.REFUSED, REFUSED_TEXT, None)
    assert request('slow')[0] == ap.TIMEOUT
