# -*- coding: utf-8 -*-
# Copyright (c) 2026 aks.tunnel contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Issue 17: a time budget, not a retry count.

The pure rules (_retry.py) table-driven; then the two places that apply them, each with a fake clock
and sleep: the azure-core policy of AzureClients (the SDK runs unmodified over a fake HTTP adapter)
and the Kubernetes pool wrapper (the kubernetes client talks to a real local HTTP server). The lab
tests (tests/integration/faults/) do the same against the emulators with real waits.
"""

from __future__ import annotations

import http.server
import io
import json
import socket
import threading
import urllib.parse

import pytest
import requests
from requests.structures import CaseInsensitiveDict

from ansible_collections.aks.tunnel.plugins.module_utils import _azure
from ansible_collections.aks.tunnel.plugins.module_utils import _counter
from ansible_collections.aks.tunnel.plugins.module_utils import _kube
from ansible_collections.aks.tunnel.plugins.module_utils import _retry
from ansible_collections.aks.tunnel.plugins.module_utils import _runcommand as rc

pytest.importorskip('azure.mgmt.network')
pytest.importorskip('kubernetes')


class FakeTime:
    """A clock that only moves when someone sleeps."""

    def __init__(self):
        self.now = 1000.0
        self.slept = []

    def clock(self):
        return self.now

    def sleep(self, seconds):
        self.slept.append(round(seconds, 3))
        self.now += seconds


# ------------------------------------------------------------------------------------------------
# The rules


@pytest.mark.parametrize('method, status, error, api, expected', [
    ('GET', 429, None, 'arm', True),
    ('POST', 429, None, 'arm', True),          # throttling rejects before the request is executed
    ('PATCH', 429, None, 'kube', True),
    ('POST', 503, None, 'arm', True),          # the server did not take it
    ('GET', 500, None, 'arm', True),
    ('PUT', 500, None, 'arm', True),           # ARM PUT replaces: idempotent
    ('DELETE', 504, None, 'arm', True),        # ARM DELETE of a missing resource succeeds
    ('POST', 500, None, 'arm', False),         # a Run Command may have started
    ('POST', 504, None, 'arm', False),
    ('PATCH', 502, None, 'arm', False),
    ('GET', 500, None, 'kube', True),
    ('DELETE', 500, None, 'kube', False),      # a repeated Kubernetes DELETE would answer 404
    ('PUT', 502, None, 'kube', False),
    ('POST', 408, None, 'kube', False),
    ('GET', 408, None, 'kube', True),
    ('GET', 409, None, 'arm', False),          # a conflict has a meaning: the caller decides
    ('GET', 404, None, 'arm', False),
    ('GET', 403, None, 'kube', False),
    ('GET', 501, None, 'arm', False),
    ('POST', None, _retry.ERROR_CONNECT, 'arm', True),    # never sent
    ('DELETE', None, _retry.ERROR_CONNECT, 'kube', True),
    ('GET', None, _retry.ERROR_READ, 'kube', True),
    ('PUT', None, _retry.ERROR_READ, 'arm', True),
    ('POST', None, _retry.ERROR_READ, 'arm', False),      # sent, outcome unknown
    ('PUT', None, _retry.ERROR_READ, 'kube', False),
    ('GET', None, _retry.ERROR_OTHER, 'arm', False),      # TLS, configuration
    ('get', 503, None, 'arm', True),
])
def test_is_retryable(method, status, error, api, expected):
    methods = _retry.ARM_IDEMPOTENT_METHODS if api == 'arm' else _retry.KUBE_IDEMPOTENT_METHODS
    assert _retry.is_retryable(method, status, error, methods) is expected


@pytest.mark.parametrize('retry, rand, expected', [
    (1, 0.0, 0.5), (1, 0.999999, 1.0), (2, 0.0, 1.0), (3, 0.5, 3.0), (5, 0.0, 8.0), (6, 0.0, 15.0), (6, 0.999999, 30.0),
    (40, 0.0, 15.0), (1000, 0.999999, 30.0), (0, 0.0, 0.5),
])
def test_backoff_is_exponential_jittered_and_capped(retry, rand, expected):
    assert _retry.backoff_delay(retry, lambda: rand) == pytest.approx(expected, abs=1e-4)


@pytest.mark.parametrize('headers, expected', [
    ({'Retry-After': '1'}, 1.0),
    ({'retry-after': '2.5'}, 2.5),
    ({'Retry-After': '0'}, 0.0),
    ({'Retry-After': '-3'}, 0.0),
    ({'retry-after-ms': '1500', 'Retry-After': '9'}, 1.5),
    ({'x-ms-retry-after-ms': '250'}, 0.25),
    ({'Retry-After': 'Wed, 21 Oct 2015 07:28:00 GMT'}, 0.0),     # a date in the past
    ({'Retry-After': 'soon'}, None),
    ({'Retry-After': ''}, None),
    ({'Content-Type': 'application/json'}, None),
    ({}, None),
    (None, None),
])
def test_parse_retry_after(headers, expected):
    assert _retry.parse_retry_after(headers) == expected


def test_parse_retry_after_http_date_in_the_future():
    import email.utils  # pylint: disable=import-outside-toplevel
    import time  # pylint: disable=import-outside-toplevel
    assert 8 < _retry.parse_retry_after({'Retry-After': email.utils.formatdate(time.time() + 10, usegmt=True)}) <= 10


@pytest.mark.parametrize('params, environ, expected', [
    ({}, {}, 300.0),
    ({'api_retry_deadline': 20}, {}, 20.0),
    ({'api_retry_deadline': 0}, {_retry.RETRY_DEADLINE_ENV: '99'}, 0.0),
    ({'api_retry_deadline': None}, {_retry.RETRY_DEADLINE_ENV: '45.5'}, 45.5),
    ({}, {_retry.RETRY_DEADLINE_ENV: ''}, 300.0),
    ({}, {_retry.RETRY_DEADLINE_ENV: 'ten'}, "AKS_TUNNEL_API_RETRY_DEADLINE must be a number of seconds, got 'ten'"),
    ({'api_retry_deadline': -1}, {}, 'api_retry_deadline must be a finite number of seconds >= 0'),
    ({}, {_retry.RETRY_DEADLINE_ENV: 'inf'}, 'AKS_TUNNEL_API_RETRY_DEADLINE must be a finite number'),
    ({}, {_retry.RETRY_DEADLINE_ENV: 'nan'}, 'AKS_TUNNEL_API_RETRY_DEADLINE must be a finite number'),
])
def test_resolve_retry_deadline(params, environ, expected):
    if isinstance(expected, str):
        with pytest.raises(_retry.RetryDeadlineError, match=expected):
            _retry.resolve_retry_deadline(params, environ)
    else:
        assert _retry.resolve_retry_deadline(params, environ) == expected


# Each step: (method, status, error, retry_after) -> expected wait (None = give up, then the reason).
STORM = [('GET', 429, None, 1.0)] * 8 + [('GET', 503, None, None)] * 4
STORM_WAITS = [1.0] * 8 + [0.5, 1.0, 2.0, 4.0]


@pytest.mark.parametrize('deadline, steps, waits, reason', [
    (300, STORM, STORM_WAITS, None),
    # the ninth Retry-After would start the next attempt after 8.5 s: give up at once, do not sleep
    (8.5, STORM, [1.0] * 8 + [0.5, None], 'deadline'),
    (0, [('GET', 429, None, 1.0)], [None], 'deadline'),                      # 0 = no retries at all
    (300, [('GET', 429, None, 400.0)], [None], 'deadline'),                  # Retry-After past the budget: no sleep
    (300, [('GET', 429, None, 0.0)] * 3, [0.5, 1.0, 2.0], None),             # Retry-After 0 = back off, never spin
    (300, [('POST', 500, None, 1.0)], [None], 'not retryable'),              # Retry-After does not make a write safe
    (300, [('POST', None, _retry.ERROR_CONNECT, None)] * 6, [0.5, 1.0, 2.0, 4.0, 8.0, None], 'connection errors'),
    # a throttled answer between connection errors starts their count again
    (300, [('GET', None, _retry.ERROR_CONNECT, None)] * 5 + [('GET', 429, None, 1.0)] + [('GET', None, _retry.ERROR_CONNECT, None)] * 2,
     [0.5, 1.0, 2.0, 4.0, 8.0, 1.0, 15.0, 15.0], None),
    (300, [('GET', 404, None, None)], [None], 'not retryable'),
])
def test_retry_state_sequences(deadline, steps, waits, reason):
    fake = FakeTime()
    state = _retry.RetryState(deadline, _retry.ARM_IDEMPOTENT_METHODS, clock=fake.clock, rand=lambda: 0.0)
    got = []
    for method, status, error, retry_after in steps[:len(waits)]:
        delay = state.decide(method, status=status, error=error, retry_after=retry_after)
        got.append(None if delay is None else round(delay, 3))
        if delay is None:
            break
        fake.sleep(delay)
    assert got == waits
    assert state.reason == reason
    assert state.retries == len([w for w in waits if w is not None])


@pytest.mark.parametrize('conflicts, first, rand, expected', [
    (1, 5.0, 0.0, 3.75), (1, 5.0, 0.999999, 5.0), (2, 5.0, 0.999999, 7.5), (4, 5.0, 0.999999, 16.875),
    (6, 5.0, 0.999999, 30.0), (50, 5.0, 0.0, 22.5), (3, 60.0, 0.999999, 60.0), (2, 0.01, 0.999999, 0.015),
])
def test_run_command_conflict_wait_grows_and_is_capped(conflicts, first, rand, expected):
    assert rc.conflict_delay(conflicts, first, lambda: rand) == pytest.approx(expected, abs=1e-4)


def test_retry_stats_add_up_across_threads():
    stats = _counter.RetryStats()
    threads = [threading.Thread(target=lambda: [(stats.add_retry(0.25), stats.add_throttled()) for _i in range(1000)]) for _t in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert stats.as_dict() == {'throttled': 4000, 'retries': 4000, 'retry_wait_s': 1000.0}
    stats.reset()
    assert stats.as_dict() == {'throttled': 0, 'retries': 0, 'retry_wait_s': 0.0}


# ------------------------------------------------------------------------------------------------
# Azure: DeadlineRetryPolicy in an unmodified NetworkManagementClient

ARM = 'https://arm.test'
SUB = '00000000-0000-0000-0000-000000000001'
NSG = '/subscriptions/%s/resourceGroups/rg/providers/Microsoft.Network/networkSecurityGroups/nsg1' % SUB
THROTTLED = (429, {'error': {'code': 'SubscriptionRequestsThrottled', 'message': 'Number of read requests exceeded the limit.'}},
             {'Retry-After': '1'})
UNAVAILABLE = (503, {'error': {'code': 'ServiceUnavailable', 'message': 'try again'}}, {})
OK = (200, {'id': NSG, 'name': 'nsg1', 'location': 'westeurope', 'properties': {'securityRules': []}}, {})


class StaticToken:
    def get_token(self, *scopes, **kwargs):
        del scopes, kwargs
        from azure.core.credentials import AccessToken  # pylint: disable=import-outside-toplevel
        return AccessToken('token', 2 ** 40)

    def get_token_info(self, *scopes, **kwargs):
        del scopes, kwargs
        from azure.core.credentials import AccessTokenInfo  # pylint: disable=import-outside-toplevel
        return AccessTokenInfo('token', 2 ** 40)


@pytest.fixture
def fake_arm(monkeypatch):
    """`fake_arm.answers`: what GET/PUT/POST get, in order (the last repeats); `fake_arm.sent`: the methods sent."""
    fake = type('FakeArm', (), {})()
    fake.answers = []
    fake.sent = []
    fake.errors = []

    def send(adapter, request, **kwargs):
        del adapter, kwargs
        fake.sent.append(request.method)
        if fake.errors:
            raise fake.errors.pop(0)
        status, body, headers = fake.answers.pop(0) if len(fake.answers) > 1 else fake.answers[0]
        response = requests.Response()
        response.status_code = status
        response.reason = 'OK' if status < 400 else 'Error'
        response._content = json.dumps(body).encode()  # pylint: disable=protected-access
        response.raw = io.BytesIO(response._content)  # pylint: disable=protected-access
        response.headers = CaseInsensitiveDict(dict({'Content-Type': 'application/json'}, **headers))
        response.url = request.url
        response.request = request
        return response
    monkeypatch.setattr(requests.adapters.HTTPAdapter, 'send', send)
    return fake


def network(deadline, fake_time, stats):
    from azure.mgmt.network import NetworkManagementClient  # pylint: disable=import-outside-toplevel
    policy = _azure.DeadlineRetryPolicy(deadline, stats, clock=fake_time.clock, rand=lambda: 0.0, sleep=fake_time.sleep)
    counter = _counter.RequestCounter()
    client = NetworkManagementClient(StaticToken(), SUB, base_url=ARM, credential_scopes=[ARM + '/.default'], retry_policy=policy,
                                     per_retry_policies=[_azure.RequestCountingPolicy(counter)], polling_interval=0)
    return client, counter


def test_arm_read_rides_out_a_throttle_storm_and_5xx_burst(fake_arm):
    fake_arm.answers = [THROTTLED] * 8 + [UNAVAILABLE] * 4 + [OK]
    fake_time, stats = FakeTime(), _counter.RetryStats()
    client, counter = network(300, fake_time, stats)
    assert client.network_security_groups.get('rg', 'nsg1').name == 'nsg1'
    assert fake_time.slept == STORM_WAITS
    assert counter.value == 13 == len(fake_arm.sent)
    assert stats.as_dict() == {'throttled': 8, 'retries': 12, 'retry_wait_s': 15.5}


def test_arm_storm_longer_than_the_deadline_fails_with_a_clear_message(fake_arm):
    from azure.core.exceptions import HttpResponseError  # pylint: disable=import-outside-toplevel
    fake_arm.answers = [THROTTLED] * 20 + [OK]
    fake_time, stats = FakeTime(), _counter.RetryStats()
    client, counter = network(5, fake_time, stats)
    with pytest.raises(HttpResponseError) as info:
        client.network_security_groups.get('rg', 'nsg1')
    assert fake_time.slept == [1.0] * 5 and counter.value == 6
    assert stats.as_dict() == {'throttled': 6, 'retries': 5, 'retry_wait_s': 5.0}
    message = _azure.describe_azure_error(info.value, 'read the NSG', retry_deadline=5)
    assert message.startswith('Failed to read the NSG (HTTP 429): SubscriptionRequestsThrottled: Number of read requests exceeded')
    assert 'throttled the requests (HTTP 429) for longer than the retry deadline allows' in message
    assert 'raise api_retry_deadline (or the environment variable AKS_TUNNEL_API_RETRY_DEADLINE; now 5s)' in message


@pytest.mark.parametrize('method_answers, sent', [
    ([(500, {'error': {'code': 'InternalServerError', 'message': 'x'}}, {'Retry-After': '1'})], ['POST']),   # outcome unknown
    ([UNAVAILABLE, (200, {'value': []}, {})], ['POST', 'POST']),
    ([THROTTLED, (200, {'value': []}, {})], ['POST', 'POST']),
])
def test_arm_post_is_retried_only_when_it_was_not_executed(fake_arm, method_answers, sent):
    fake_arm.answers = list(method_answers)
    fake_time, stats = FakeTime(), _counter.RetryStats()
    client, _counter_unused = network(300, fake_time, stats)
    try:
        # POST .../effectiveRouteTable: a POST like Run Command's; a 200 ends the operation at once
        client.network_interfaces.begin_get_effective_route_table('rg', 'nic').result()
    except Exception:  # pylint: disable=broad-except
        pass
    assert fake_arm.sent == sent


def test_arm_connection_errors_are_retried_a_few_times_then_reported(fake_arm):
    from azure.core.exceptions import ServiceRequestError  # pylint: disable=import-outside-toplevel
    fake_arm.errors = [requests.exceptions.ConnectionError('connection refused')] * 10
    fake_arm.answers = [OK]
    fake_time, stats = FakeTime(), _counter.RetryStats()
    client, _counter_unused = network(300, fake_time, stats)
    with pytest.raises(ServiceRequestError):
        client.network_security_groups.get('rg', 'nsg1')
    assert fake_time.slept == [0.5, 1.0, 2.0, 4.0, 8.0] and len(fake_arm.sent) == 6


def test_arm_tls_errors_are_not_retried(fake_arm):
    from azure.core.exceptions import ServiceRequestError  # pylint: disable=import-outside-toplevel
    fake_arm.errors = [requests.exceptions.SSLError('certificate verify failed')] * 3
    fake_arm.answers = [OK]
    fake_time, stats = FakeTime(), _counter.RetryStats()
    client, _counter_unused = network(300, fake_time, stats)
    with pytest.raises(ServiceRequestError):
        client.network_security_groups.get('rg', 'nsg1')
    assert fake_time.slept == [] and len(fake_arm.sent) == 1


def test_azure_clients_use_the_resolved_deadline():
    settings = {'kind': 'service_principal', 'subscription_id': SUB, 'retry_deadline': 42.0}
    clients = _azure.AzureClients(settings, timeout=5)
    assert clients.retry_deadline == 42.0 and clients.stats is _counter.PROCESS_RETRY_STATS
    assert _retry.active_deadline() == 42.0
    assert _azure.AzureClients({'subscription_id': SUB}, timeout=5).retry_deadline == 300.0


def test_resolve_settings_refuses_a_bad_deadline():
    params = {'auth_source': 'cli', 'subscription_id': SUB, 'cloud_environment': 'AzureCloud', 'api_retry_deadline': -5}
    with pytest.raises(_azure.AzureConfigError, match='api_retry_deadline must be a finite number'):
        _azure.resolve_settings(params, environ={})
    params['api_retry_deadline'] = None
    assert _azure.resolve_settings(params, environ={_retry.RETRY_DEADLINE_ENV: '12'})['retry_deadline'] == 12.0


# ------------------------------------------------------------------------------------------------
# Kubernetes: the pool wrapper, against a real local HTTP server


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = 'HTTP/1.1'

    def log_message(self, format, *args):  # pylint: disable=redefined-builtin
        del format, args

    def _answer(self):
        length = int(self.headers.get('Content-Length') or 0)
        if length:
            self.rfile.read(length)
        server = self.server
        with server.lock:
            server.seen.append((self.command, urllib.parse.urlsplit(self.path).path))
            status, headers = server.plan.pop(0) if len(server.plan) > 1 else server.plan[0]
        body = {'kind': 'Status', 'code': status, 'reason': 'TooManyRequests' if status == 429 else 'InternalError',
                'message': 'lab says %d' % status} if status >= 400 else {'kind': 'ConfigMap', 'metadata': {'name': 'x'}}
        payload = json.dumps(body).encode()
        self.send_response(status)
        self.send_header('Content-Type', 'application/json')
        self.send_header('Content-Length', str(len(payload)))
        for key, value in headers.items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(payload)

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _answer


@pytest.fixture
def kube_server():
    server = http.server.ThreadingHTTPServer(('127.0.0.1', 0), _Handler)
    server.daemon_threads = True
    server.lock = threading.Lock()
    server.seen = []
    server.plan = [(200, {})]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    server.url = 'http://127.0.0.1:%d' % server.server_address[1]
    yield server
    server.shutdown()
    server.server_close()


def kube_api(url, deadline, fake_time, stats):
    from kubernetes import client  # pylint: disable=import-outside-toplevel
    configuration = client.Configuration()
    configuration.host = url
    api_client = client.ApiClient(configuration)
    _kube.count_requests(api_client, retry_deadline=deadline, stats=stats, clock=fake_time.clock, rand=lambda: 0.0, sleep=fake_time.sleep)
    return api_client, client.CoreV1Api(api_client)


def test_kube_read_rides_out_a_throttle_storm_and_5xx_burst(kube_server):
    kube_server.plan = [(429, {'Retry-After': '1'})] * 8 + [(500, {})] * 4 + [(200, {})]
    fake_time, stats = FakeTime(), _counter.RetryStats()
    api_client, core = kube_api(kube_server.url, 300, fake_time, stats)
    assert _kube.read_json(core.read_namespaced_config_map, 'x', 'kube-system')['metadata']['name'] == 'x'
    assert fake_time.slept == STORM_WAITS
    assert _kube.request_count(api_client) == 13 == len(kube_server.seen)
    assert stats.as_dict() == {'throttled': 8, 'retries': 12, 'retry_wait_s': 15.5}


def test_kube_storm_longer_than_the_deadline_fails_with_a_clear_message(kube_server):
    kube_server.plan = [(429, {'Retry-After': '2'})]
    fake_time, stats = FakeTime(), _counter.RetryStats()
    api_client, core = kube_api(kube_server.url, 7, fake_time, stats)
    with pytest.raises(_kube.ApiException) as info:
        _kube.read_json(core.read_namespaced_config_map, 'x', 'kube-system')
    assert fake_time.slept == [2.0, 2.0, 2.0] and _kube.request_count(api_client) == 4
    message = _kube.describe_kube_error(info.value, 'read the ConfigMap')
    assert message.startswith('Failed to read the ConfigMap (HTTP 429): TooManyRequests: lab says 429')
    assert 'AKS_TUNNEL_API_RETRY_DEADLINE; now 7s' in message


@pytest.mark.parametrize('call, plan, sent', [
    # a throttled write was not executed: sent again
    ('create', [(429, {'Retry-After': '1'}), (201, {})], ['POST', 'POST']),
    ('replace', [(503, {}), (200, {})], ['PUT', 'PUT']),
    # a write that failed with 500 may have been applied: the caller sees the error
    ('create', [(500, {})], ['POST']),
    ('replace', [(502, {})], ['PUT']),
    ('delete', [(504, {})], ['DELETE']),
    ('read', [(500, {}), (200, {})], ['GET', 'GET']),
    ('read', [(409, {})], ['GET']),
])
def test_kube_writes_are_retried_only_when_safe(kube_server, call, plan, sent):
    kube_server.plan = list(plan)
    fake_time, stats = FakeTime(), _counter.RetryStats()
    _api_client, core = kube_api(kube_server.url, 300, fake_time, stats)
    body = {'metadata': {'name': 'x'}}
    calls = {'create': lambda: core.create_namespaced_config_map('kube-system', body, _preload_content=False),
             'replace': lambda: core.replace_namespaced_config_map('x', 'kube-system', body, _preload_content=False),
             'delete': lambda: core.delete_namespaced_config_map('x', 'kube-system', _preload_content=False),
             'read': lambda: core.read_namespaced_config_map('x', 'kube-system', _preload_content=False)}
    try:
        calls[call]()
    except _kube.ApiException:
        pass
    assert [method for method, _path in kube_server.seen] == sent


def test_kube_connection_refused_is_retried_a_few_times_then_reported():
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        port = sock.getsockname()[1]
    fake_time, stats = FakeTime(), _counter.RetryStats()
    api_client, core = kube_api('http://127.0.0.1:%d' % port, 300, fake_time, stats)
    import urllib3  # pylint: disable=import-outside-toplevel
    with pytest.raises(urllib3.exceptions.MaxRetryError):
        core.read_namespaced_config_map('x', 'kube-system')
    assert fake_time.slept == [0.5, 1.0, 2.0, 4.0, 8.0]
    assert _kube.request_count(api_client) == 6
    assert stats.as_dict() == {'throttled': 0, 'retries': 5, 'retry_wait_s': 15.5}


def test_build_api_client_takes_the_deadline_from_the_option_or_environment(kube_server):
    api_client = _kube.build_api_client({'host': kube_server.url, 'api_key': 't', 'api_retry_deadline': 9}, environ={})
    assert api_client.aks_tunnel_retry_deadline == 9.0
    api_client = _kube.build_api_client({'host': kube_server.url, 'api_key': 't'}, environ={_retry.RETRY_DEADLINE_ENV: '33'})
    assert api_client.aks_tunnel_retry_deadline == 33.0
    with pytest.raises(_kube.KubeConfigError, match='AKS_TUNNEL_API_RETRY_DEADLINE must be a number'):
        _kube.build_api_client({'host': kube_server.url, 'api_key': 't'}, environ={_retry.RETRY_DEADLINE_ENV: 'x'})


# ------------------------------------------------------------------------------------------------
# Run Command 409: waits are retries


class _Conflict(Exception):
    status_code = 409


class _Poller:
    def wait(self, timeout=None):
        del timeout

    @staticmethod
    def done():
        return True

    @staticmethod
    def result():
        return {'value': [{'code': 'ProvisioningState/succeeded', 'displayStatus': 'Provisioning succeeded',
                           'message': 'Enable succeeded: \n[stdout]\nok\n[stderr]\n'}]}


class _Compute:
    def __init__(self, conflicts):
        self.conflicts = conflicts
        self.virtual_machine_scale_set_vms = self

    def begin_run_command(self, *args):
        del args
        if self.conflicts:
            self.conflicts -= 1
            raise _Conflict('Run command extension execution is in progress.')
        return _Poller()


def test_run_command_conflicts_wait_count_as_retries():
    fake_time, stats = FakeTime(), _counter.RetryStats()
    executor = rc.RunCommandExecutor(_Compute(3), timeout=300, conflict_wait=5, clock=fake_time.clock, sleep=fake_time.sleep,
                                     stats=stats, rand=lambda: 0.999999)
    result = executor.run([{'key': 'n0', 'resource_group': 'rg', 'vmss': 'v', 'instance_id': '0', 'script': 'true'}])[0]
    assert (result['status'], result['attempts'], result['conflicts'], result['stdout']) == ('succeeded', 4, 3, 'ok')
    assert fake_time.slept == [5.0, 7.5, 11.25]
    assert stats.as_dict() == {'throttled': 0, 'retries': 3, 'retry_wait_s': 23.7}   # 23.74999 (rand < 1)


def test_run_command_conflict_until_timeout_says_how_long_it_waited():
    fake_time, stats = FakeTime(), _counter.RetryStats()
    executor = rc.RunCommandExecutor(_Compute(1000), timeout=60, conflict_wait=5, clock=fake_time.clock, sleep=fake_time.sleep,
                                     stats=stats, rand=lambda: 0.999999)
    result = executor.run([{'key': 'n0', 'resource_group': 'rg', 'vmss': 'v', 'instance_id': '0', 'script': 'true'}])[0]
    assert result['status'] == 'timeout'
    assert 'waited 60s in total for another run command on this VM to finish' in result['error']
    assert sum(fake_time.slept) == pytest.approx(60.0)


class _FailingPoll:
    def wait(self, timeout=None):
        del timeout
        raise _Throttled('Number of requests for subscription exceeded the backend storage limit.')


class _Throttled(Exception):
    status_code = 429


def test_a_poll_that_fails_for_good_fails_the_target_with_the_message_not_unexpected_error():
    compute = _Compute(0)
    compute.begin_run_command = lambda *args: _FailingPoll()
    result = rc.RunCommandExecutor(compute, timeout=60).run([{'key': 'n0', 'resource_group': 'rg', 'vmss': 'v', 'instance_id': '0',
                                                              'script': 'true'}])[0]
    assert result['status'] == 'failed'
    assert result['error'] == 'Failed to run the command on n0 (HTTP 429): Number of requests for subscription exceeded the backend storage limit.'
