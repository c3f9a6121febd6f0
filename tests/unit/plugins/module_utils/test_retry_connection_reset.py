# -*- coding: utf-8 -*-
# Copyright (c) 2026 aks.tunnel contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Issue 17, fault matrix: a connection reset after the request was sent (outcome unknown).

Reads are sent again, writes are not (they may have been applied). Azure: the unmodified SDK over a fake HTTP adapter
that raises what requests raises on a reset; Kubernetes: the real client against a local server that resets the TCP
connection (SO_LINGER 0) instead of answering.
"""

from __future__ import annotations

import socket
import struct

import pytest
import requests
import urllib3

from ansible_collections.aks.tunnel.plugins.module_utils import _counter
from ansible_collections.aks.tunnel.plugins.module_utils import _kube
from ansible_collections.aks.tunnel.tests.unit.plugins.module_utils import test_retry_policy as policy

pytest.importorskip('azure.mgmt.network')
pytest.importorskip('kubernetes')

fake_arm = policy.fake_arm  # the fixture: answers of a fake ARM under the unmodified SDK


def _reset():
    return requests.exceptions.ConnectionError(urllib3.exceptions.ProtocolError(
        'Connection aborted.', ConnectionResetError(104, 'Connection reset by peer')))


def test_arm_read_is_sent_again_after_a_reset(fake_arm):
    fake_arm.errors = [_reset(), _reset()]
    fake_arm.answers = [policy.OK]
    fake_time, stats = policy.FakeTime(), _counter.RetryStats()
    client, _counter_unused = policy.network(300, fake_time, stats)
    assert client.network_security_groups.get('rg', 'nsg1').name == 'nsg1'
    assert fake_arm.sent == ['GET', 'GET', 'GET'] and fake_time.slept == [0.5, 1.0]
    assert stats.as_dict() == {'throttled': 0, 'retries': 2, 'retry_wait_s': 1.5}


def test_arm_post_is_not_sent_again_after_a_reset(fake_arm):
    from azure.core.exceptions import ServiceResponseError  # pylint: disable=import-outside-toplevel
    fake_arm.errors = [_reset()]
    fake_arm.answers = [(200, {'value': []}, {})]
    fake_time, stats = policy.FakeTime(), _counter.RetryStats()
    client, _counter_unused = policy.network(300, fake_time, stats)
    with pytest.raises(ServiceResponseError):
        # POST .../effectiveRouteTable, like a Run Command POST: it may have been executed
        client.network_interfaces.begin_get_effective_route_table('rg', 'nic').result()
    assert fake_arm.sent == ['POST'] and fake_time.slept == []


class _ResettingHandler(policy._Handler):  # pylint: disable=protected-access
    """Answers by the server's plan; a 0 in the plan resets the connection instead (RST, no answer)."""

    def _answer(self):
        with self.server.lock:
            reset = self.server.plan[0][0] == 0
            if reset:
                self.server.plan.pop(0)
                self.server.seen.append((self.command, self.path))
        if not reset:
            super()._answer()
            return
        length = int(self.headers.get('Content-Length') or 0)
        if length:
            self.rfile.read(length)
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack('ii', 1, 0))
        self.close_connection = True
        self.connection.close()

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _answer


@pytest.fixture
def resetting_server(kube_server):
    kube_server.RequestHandlerClass = _ResettingHandler
    kube_server.handle_error = lambda request, client_address: None  # a reset socket is the point, not a server error
    return kube_server


kube_server = policy.kube_server  # the fixture resetting_server builds on


@pytest.mark.parametrize('call, plan, sent', [
    ('read', [(0, {}), (0, {}), (200, {})], ['GET', 'GET', 'GET']),
    ('replace', [(0, {}), (200, {})], ['PUT']),
    ('create', [(0, {}), (201, {})], ['POST']),
])
def test_kube_reads_are_sent_again_after_a_reset_writes_are_not(resetting_server, call, plan, sent):
    resetting_server.plan = list(plan)
    fake_time, stats = policy.FakeTime(), _counter.RetryStats()
    _api_client, core = policy.kube_api(resetting_server.url, 300, fake_time, stats)
    body = {'metadata': {'name': 'x'}}
    calls = {'create': lambda: core.create_namespaced_config_map('kube-system', body, _preload_content=False),
             'replace': lambda: core.replace_namespaced_config_map('x', 'kube-system', body, _preload_content=False),
             'read': lambda: core.read_namespaced_config_map('x', 'kube-system', _preload_content=False)}
    if call == 'read':
        calls[call]()
        assert stats.as_dict()['retries'] == 2
    else:
        with pytest.raises(Exception) as info:  # pylint: disable=broad-except
            calls[call]()
        assert 'reset' in str(info.value).lower() or 'aborted' in str(info.value).lower() or 'disconnected' in str(info.value).lower(), info.value
        assert stats.as_dict()['retries'] == 0
    assert [method for method, _path in resetting_server.seen] == sent
    assert _kube.request_count(_api_client) == len(sent)
