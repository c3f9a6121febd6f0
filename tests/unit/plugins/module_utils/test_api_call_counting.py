# -*- coding: utf-8 -*-
# Copyright (c) 2026 aks.tunnel contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The API call counters: the ARM pipeline policy of AzureClients, the Kubernetes ApiClient wrapper and
the `api_calls` every AksTunnelModule result carries.

The Azure SDK runs unmodified over a fake HTTP adapter (every request the transport sends is recorded);
the Kubernetes client talks to a real local HTTP server that counts what it receives.
"""

from __future__ import annotations

import http.server
import io
import json
import re
import threading
import urllib.parse

import pytest
import requests
from requests.structures import CaseInsensitiveDict

from ansible.module_utils.testing import patch_module_args

from ansible_collections.aks.tunnel.plugins.module_utils import _azure
from ansible_collections.aks.tunnel.plugins.module_utils import _kube
from ansible_collections.aks.tunnel.plugins.module_utils._module import AksTunnelModule

pytest.importorskip('azure.mgmt.network')
pytest.importorskip('kubernetes')

ARM = 'https://arm.test'
LOGIN = 'https://login.test'
SUB = '00000000-0000-0000-0000-000000000001'
NSGS = '/subscriptions/%s/resourceGroups/rg/providers/Microsoft.Network/networkSecurityGroups' % SUB
SETTINGS = {'kind': 'service_principal', 'source': 'test', 'client_id': 'id', 'secret': 'secret', 'tenant': 'tenant', 'subscription_id': SUB,
            'ca_path': None, 'arm_endpoint': ARM, 'authority_host': LOGIN, 'scope': ARM + '/.default'}


# ------------------------------------------------------------------------------------------------
# Azure: a fake ARM + Entra behind requests' HTTP adapter


class FakeArm:
    """Answers ARM and Entra requests; `plan` maps a regex on 'METHOD path' to a list of (status, body, headers) to use in order."""

    def __init__(self):
        self.sent = []           # every request the SDK put on the wire: (method, url)
        self.plan = {}
        self.lock = threading.Lock()

    @property
    def arm_sent(self):
        return [s for s in self.sent if s[1].startswith(ARM)]

    def respond(self, request):
        url = urllib.parse.urlsplit(request.url)
        with self.lock:
            self.sent.append((request.method, request.url))
            if url.netloc == 'login.test':
                if url.path.endswith('openid-configuration'):
                    return 200, {'token_endpoint': LOGIN + '/tenant/oauth2/v2.0/token', 'issuer': LOGIN + '/tenant/v2.0',
                                 'authorization_endpoint': LOGIN + '/tenant/oauth2/v2.0/authorize'}, {}
                return 200, {'access_token': 'arm-token', 'expires_in': 3600, 'token_type': 'Bearer'}, {}
            key = '%s %s' % (request.method, url.path)
            for pattern, answers in self.plan.items():
                if re.fullmatch(pattern, key):
                    return answers.pop(0) if len(answers) > 1 else answers[0]
        return 404, {'error': {'code': 'NotFound', 'message': key}}, {}


@pytest.fixture
def fake_arm(monkeypatch):
    fake = FakeArm()

    def send(adapter, request, **kwargs):
        status, body, headers = fake.respond(request)
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


def nsg(name):
    return {'id': NSGS + '/' + name, 'name': name, 'location': 'westeurope', 'properties': {'securityRules': []}}


def test_arm_requests_are_counted_and_token_requests_are_not(fake_arm):
    fake_arm.plan[r'GET %s/nsg1' % NSGS] = [(200, nsg('nsg1'), {})]
    clients = _azure.AzureClients(SETTINGS, timeout=5)
    assert clients.request_count == 0
    clients.network.network_security_groups.get('rg', 'nsg1')
    clients.network.network_security_groups.get('rg', 'nsg1')
    assert clients.request_count == 2 == len(fake_arm.arm_sent)
    # the credential fetched its token (Entra discovery + token) over HTTP too: not counted
    assert len(fake_arm.sent) > len(fake_arm.arm_sent)
    clients.close()
    assert clients.request_count == 2


def test_retries_pages_and_lro_polls_each_count(fake_arm):
    # a 503 then the answer: two requests
    fake_arm.plan[r'GET %s/nsg1' % NSGS] = [(503, {'error': {'code': 'ServiceUnavailable', 'message': 'x'}}, {'Retry-After': '0'}),
                                            (200, nsg('nsg1'), {})]
    # three pages
    fake_arm.plan[r'GET %s' % NSGS] = [(200, {'value': [nsg('a')], 'nextLink': ARM + NSGS + '?page=2'}, {}),
                                       (200, {'value': [nsg('b')], 'nextLink': ARM + NSGS + '?page=3'}, {}),
                                       (200, {'value': [nsg('c')]}, {})]
    # an LRO: PUT 201 with Azure-AsyncOperation, two polls, then the final GET
    operation = ARM + '/subscriptions/%s/providers/Microsoft.Network/locations/westeurope/operations/op1' % SUB
    fake_arm.plan[r'PUT %s/nsg2' % NSGS] = [(201, dict(nsg('nsg2'), properties={'provisioningState': 'Updating'}),
                                            {'Azure-AsyncOperation': operation, 'Retry-After': '0'})]
    fake_arm.plan[r'GET /subscriptions/.*/operations/op1'] = [(200, {'status': 'InProgress'}, {'Retry-After': '0'}),
                                                              (200, {'status': 'Succeeded'}, {})]
    fake_arm.plan[r'GET %s/nsg2' % NSGS] = [(200, nsg('nsg2'), {})]
    clients = _azure.AzureClients(SETTINGS, timeout=5)

    clients.network.network_security_groups.get('rg', 'nsg1')
    assert clients.request_count == 2
    assert [n.name for n in clients.network.network_security_groups.list('rg')] == ['a', 'b', 'c']
    assert clients.request_count == 5
    poller = clients.network.network_security_groups.begin_create_or_update('rg', 'nsg2', nsg('nsg2'), polling_interval=0)
    assert poller.result().name == 'nsg2'
    assert clients.request_count == 9
    assert clients.request_count == len(fake_arm.arm_sent)
    assert [m for m, _url in fake_arm.arm_sent] == ['GET', 'GET', 'GET', 'GET', 'GET', 'PUT', 'GET', 'GET', 'GET']


def test_counting_is_thread_safe_across_clients(fake_arm):
    fake_arm.plan[r'GET %s/.*' % NSGS] = [(200, nsg('x'), {})]
    fake_arm.plan[r'GET /subscriptions/.*/virtualMachineScaleSets'] = [(200, {'value': []}, {})]
    clients = _azure.AzureClients(SETTINGS, timeout=5)

    def work(index):
        for _round in range(15):
            if index % 2:
                clients.network.network_security_groups.get('rg', 'nsg%d' % index)
            else:
                list(clients.compute.virtual_machine_scale_sets.list('rg'))
    threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert clients.request_count == 8 * 15 == len(fake_arm.arm_sent)
    assert sorted(clients._clients) == ['compute', 'network']  # pylint: disable=protected-access


def test_request_counter_is_exact_under_contention():
    counter = _azure.RequestCounter()
    threads = [threading.Thread(target=lambda: [counter.add() for _i in range(5000)]) for _t in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert counter.value == 40000


# ------------------------------------------------------------------------------------------------
# Kubernetes: a real local HTTP server


class _KubeHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = 'HTTP/1.1'

    def log_message(self, format, *args):  # pylint: disable=redefined-builtin
        del format, args

    def do_GET(self):  # pylint: disable=invalid-name
        server = self.server
        with server.lock:
            server.seen.append(self.path)
            plan = server.plan.get(urllib.parse.urlsplit(self.path).path)
            answer = (plan.pop(0) if len(plan) > 1 else plan[0]) if plan else None
        if answer is None:
            status, body, headers = 404, {'kind': 'Status', 'code': 404, 'message': 'not found', 'reason': 'NotFound'}, {}
        elif callable(answer):
            status, body, headers = answer(self.path)
        else:
            status, body, headers = answer
        payload = json.dumps(body).encode()
        self.send_response(status)
        self.send_header('Content-Type', 'application/json')
        self.send_header('Content-Length', str(len(payload)))
        for key, value in headers.items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(payload)


@pytest.fixture
def kube_server():
    server = http.server.ThreadingHTTPServer(('127.0.0.1', 0), _KubeHandler)
    server.daemon_threads = True
    server.lock = threading.Lock()
    server.seen = []
    server.plan = {}
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    server.url = 'http://127.0.0.1:%d' % server.server_address[1]
    yield server
    server.shutdown()
    server.server_close()


def nodes_page(path):
    query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(path).query))
    start = int(query.get('continue') or 0)
    limit = int(query['limit'])
    names = ['node-%d' % i for i in range(5)]
    meta = {'continue': str(start + limit)} if start + limit < len(names) else {}
    return 200, {'kind': 'NodeList', 'items': [{'metadata': {'name': n}} for n in names[start:start + limit]], 'metadata': meta}, {}


def cm(name):
    return 200, {'kind': 'ConfigMap', 'metadata': {'name': name, 'namespace': 'kube-system'}, 'data': {}}, {}


def kube_client(server):
    return _kube.build_api_client({'host': server.url, 'api_key': 'token'}, environ={}, timeout=5)


def test_kube_pages_redirects_and_errors_each_count(kube_server):
    from kubernetes import client  # pylint: disable=import-outside-toplevel
    kube_server.plan['/api/v1/nodes'] = [nodes_page]
    kube_server.plan['/api/v1/namespaces/kube-system/configmaps/old'] = [(307, {}, {'Location': '/api/v1/namespaces/kube-system/configmaps/new'})]
    kube_server.plan['/api/v1/namespaces/kube-system/configmaps/new'] = [cm('new')]
    api_client = kube_client(kube_server)
    core = client.CoreV1Api(api_client)
    assert _kube.request_count(api_client) == 0

    items = _kube.list_all(core.list_node, page_size=2)
    assert len(items) == 5 and _kube.request_count(api_client) == 3
    # urllib3 follows the redirect on its own: two HTTP requests behind one client call
    assert _kube.read_json(core.read_namespaced_config_map, 'old', 'kube-system')['metadata']['name'] == 'new'
    assert _kube.request_count(api_client) == 5
    assert _kube.read_or_none(core.read_namespaced_config_map, 'missing', 'kube-system') is None
    assert _kube.request_count(api_client) == 6 == len(kube_server.seen)
    # wrapping again changes nothing
    assert _kube.count_requests(api_client) is api_client.aks_tunnel_request_counter
    core.read_namespaced_config_map('new', 'kube-system')
    assert _kube.request_count(api_client) == 7 == len(kube_server.seen)


def test_kube_client_retries_count_once_per_request(kube_server):
    from kubernetes import client  # pylint: disable=import-outside-toplevel
    throttled = (429, {'kind': 'Status', 'code': 429, 'reason': 'TooManyRequests'}, {'Retry-After': '0'})
    kube_server.plan['/api/v1/namespaces/kube-system/configmaps/busy'] = [throttled, throttled, cm('busy')]
    api_client = kube_client(kube_server)
    api_client.configuration.client_go_retries = True
    core = client.CoreV1Api(api_client)
    assert _kube.read_json(core.read_namespaced_config_map, 'busy', 'kube-system')['metadata']['name'] == 'busy'
    assert _kube.request_count(api_client) == 3 == len(kube_server.seen)


def test_kube_counting_is_thread_safe(kube_server):
    from kubernetes import client  # pylint: disable=import-outside-toplevel
    kube_server.plan['/api/v1/namespaces/kube-system/configmaps/x'] = [cm('x')]
    api_client = kube_client(kube_server)
    core = client.CoreV1Api(api_client)

    def work():
        for _round in range(20):
            _kube.read_json(core.read_namespaced_config_map, 'x', 'kube-system')
    threads = [threading.Thread(target=work) for _t in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert _kube.request_count(api_client) == 160 == len(kube_server.seen)


def test_request_count_of_an_uncounted_client_is_zero():
    assert _kube.request_count(object()) == 0


# ------------------------------------------------------------------------------------------------
# AksTunnelModule results

# No throttling, no retries (tests/unit/conftest.py resets the process's figures before each test).
CALM = {'throttled': 0, 'retries': 0, 'retry_wait_s': 0.0}


def _run(capsys, args, body, **module_kwargs):
    with patch_module_args(args):
        with pytest.raises(SystemExit):
            module = AksTunnelModule(dict(name=dict(type='str')), **module_kwargs)
            body(module)
    return json.loads(capsys.readouterr().out)


def test_results_carry_api_calls_zero_without_clients(capsys):
    assert _run(capsys, {}, lambda m: m.exit(changed=False))['api_calls'] == dict(CALM, arm=0, kube=0)
    assert _run(capsys, {}, lambda m: m.fail('bad input'))['api_calls'] == dict(CALM, arm=0, kube=0)


def test_results_carry_api_calls_of_both_clients_and_survive_close(capsys, monkeypatch, fake_arm, kube_server):
    from kubernetes import client  # pylint: disable=import-outside-toplevel
    fake_arm.plan[r'GET %s/.*' % NSGS] = [(200, nsg('x'), {})]
    kube_server.plan['/api/v1/namespaces/kube-system/configmaps/x'] = [cm('x')]
    monkeypatch.setattr(_azure, 'resolve_settings', lambda params: dict(SETTINGS))

    def body(module):
        module.azure.network.network_security_groups.get('rg', 'a')
        module.close()  # drops the Azure clients; the next call builds new ones
        module.azure.network.network_security_groups.get('rg', 'b')
        module.azure.network.network_security_groups.get('rg', 'c')
        client.CoreV1Api(module.kube).read_namespaced_config_map('x', 'kube-system')
        assert module.api_calls == dict(CALM, arm=3, kube=1)
        module.exit(changed=False)
    result = _run(capsys, {'kubeconfig': None, 'host': kube_server.url, 'api_key': 'token'}, body, azure=True, kube=True)
    assert result['api_calls'] == dict(CALM, arm=3, kube=1)
    assert len(fake_arm.arm_sent) == 3 and len(kube_server.seen) == 1


def test_failures_carry_the_calls_made_before(capsys, monkeypatch, fake_arm):
    fake_arm.plan[r'GET %s/.*' % NSGS] = [(403, {'error': {'code': 'AuthorizationFailed', 'message': 'no'}}, {})]
    monkeypatch.setattr(_azure, 'resolve_settings', lambda params: dict(SETTINGS))

    def body(module):
        with module.api_errors('read the NSG'):
            module.azure.network.network_security_groups.get('rg', 'a')
    result = _run(capsys, {}, body, azure=True)
    assert result['failed'] is True and 'HTTP 403' in result['msg']
    assert result['api_calls'] == dict(CALM, arm=1, kube=0)


def test_kube_settings_failure_after_arm_calls_keeps_the_arm_count(capsys, monkeypatch, fake_arm, tmp_path):
    fake_arm.plan[r'GET %s/.*' % NSGS] = [(200, nsg('x'), {})]
    monkeypatch.setattr(_azure, 'resolve_settings', lambda params: dict(SETTINGS))

    def body(module):
        module.azure.network.network_security_groups.get('rg', 'a')
        module.kube  # pylint: disable=pointless-statement
    result = _run(capsys, {'kubeconfig': str(tmp_path / 'missing')}, body, azure=True, kube=True)
    assert result['failed'] is True and 'Kubernetes authentication settings' in result['msg']
    assert result['api_calls'] == dict(CALM, arm=1, kube=0)
