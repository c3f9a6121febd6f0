# -*- coding: utf-8 -*-
# Copyright (c) 2026 aks.tunnel contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""pods/log and nodes/proxy: the API server -> kubelet path that the AKS tunnel carries, healthy and broken."""

from __future__ import annotations

import http.server
import json
import socket
import ssl
import threading

import pytest
from kubernetes import client
from kubernetes.client.rest import ApiException

from ansible_collections.aks.tunnel.tests.lab.kube.kubelet import KubeletUnreachable
from ansible_collections.aks.tunnel.tests.lab.pki import LabCA


def _coredns(core):
    return core.list_namespaced_pod('kube-system', label_selector='k8s-app=kube-dns').items[0]


def test_logs_and_node_proxy_when_healthy(kube_lab, client_for):
    core = client.CoreV1Api(client_for(kube_lab))
    agent = core.list_namespaced_pod('kube-system', label_selector='app=konnectivity-agent').items[0]
    text = core.read_namespaced_pod_log(agent.metadata.name, 'kube-system')
    assert '"Connect to server"' in text and agent.spec.node_name in text
    assert core.read_namespaced_pod_log(_coredns(core).metadata.name, 'kube-system', container='coredns', tail_lines=5)
    health = core.connect_get_node_proxy_with_path(kube_lab.node_name('user1-0'), 'healthz')
    assert health == 'ok'


def test_log_container_errors(kube_lab, client_for):
    core = client.CoreV1Api(client_for(kube_lab))
    pod = _coredns(core).metadata.name
    with pytest.raises(ApiException) as info:
        core.read_namespaced_pod_log(pod, 'kube-system', container='nope')
    assert info.value.status == 400 and json.loads(info.value.body)['message'] == 'container nope is not valid for pod %s' % pod


@pytest.mark.parametrize('mode, error', [
    ('timeout', 'dial tcp {ip}:10250: i/o timeout'),
    ('refused', 'dial tcp {ip}:10250: connect: connection refused'),
    ('http', 'http: server gave HTTP response to HTTPS client'),
])
def test_unreachable_kubelet_gives_the_article_errors(make_lab, client_for, mode, error):
    lab = make_lab()
    core = client.CoreV1Api(client_for(lab))
    pod = _coredns(core)
    lab.set_kubelet_unreachable(pod.spec.node_name, mode)
    with pytest.raises(ApiException) as info:
        core.read_namespaced_pod_log(pod.metadata.name, 'kube-system')
    body = json.loads(info.value.body)
    url = 'https://%s:10250/containerLogs/kube-system/%s/coredns' % (pod.spec.node_name, pod.metadata.name)
    assert info.value.status == 500
    assert body == {'kind': 'Status', 'apiVersion': 'v1', 'metadata': {}, 'status': 'Failure',
                    'message': 'Get "%s": %s' % (url, error.format(ip=pod.status.host_ip)), 'code': 500}
    with pytest.raises(ApiException) as info:
        core.connect_get_node_proxy_with_path(pod.spec.node_name, 'healthz')
    assert info.value.status == 503
    assert json.loads(info.value.body)['message'] == 'error trying to reach service: ' + error.format(ip=pod.status.host_ip)
    lab.set_kubelet_unreachable(pod.spec.node_name, None)
    assert core.read_namespaced_pod_log(pod.metadata.name, 'kube-system')


def test_no_ready_agent_means_no_agent_available(make_lab, client_for, base_config):
    base_config['kube']['konnectivity']['autoscaler'] = {'enabled': False}
    lab = make_lab(base_config)
    core, apps = client.CoreV1Api(client_for(lab)), client.AppsV1Api(client_for(lab))
    apps.patch_namespaced_deployment_scale('konnectivity-agent', 'kube-system', {'spec': {'replicas': 0}})
    with pytest.raises(ApiException) as info:
        core.read_namespaced_pod_log(_coredns(core).metadata.name, 'kube-system')
    assert json.loads(info.value.body)['message'].endswith('": No agent available')


def test_configured_unreachable_and_dialer_hook(make_lab, client_for, base_config):
    base_config['kube']['kubelet'] = {'unreachable': {'user1-0': 'timeout'}, 'logs': {'coredns-': 'custom log\n'}}
    lab = make_lab(base_config)
    core = client.CoreV1Api(client_for(lab))
    assert core.read_namespaced_pod_log(_coredns(core).metadata.name, 'kube-system') == 'custom log\n'
    with pytest.raises(ApiException):
        core.connect_get_node_proxy_with_path(lab.node_name('user1-0'), 'healthz')
    calls = []

    def dialer(node_name, node_ip, path, query):
        calls.append((node_name, path, query))
        if node_name == lab.node_name('nodepool1-0'):
            raise KubeletUnreachable('dial tcp %s:10250: i/o timeout' % node_ip)
        return 200, b'from the data plane', 'text/plain'
    lab.kubelet_dialer = dialer
    assert core.connect_get_node_proxy_with_path(lab.node_name('user1-0'), 'healthz') == 'from the data plane'
    with pytest.raises(ApiException) as info:
        core.connect_get_node_proxy_with_path(lab.node_name('nodepool1-0'), 'healthz')
    assert 'i/o timeout' in json.loads(info.value.body)['message']
    assert calls[0] == (lab.node_name('user1-0'), '/healthz', '')


def test_readonly_can_read_logs_noaccess_cannot(kube_lab, client_for):
    reader = client.CoreV1Api(client_for(kube_lab, 'lab-reader'))
    assert reader.read_namespaced_pod_log(_coredns(reader).metadata.name, 'kube-system')
    noaccess = client.CoreV1Api(client_for(kube_lab, 'lab-noaccess'))
    with pytest.raises(ApiException) as info:
        noaccess.read_namespaced_pod_log(_coredns(reader).metadata.name, 'kube-system')
    assert 'cannot get resource "pods/log"' in json.loads(info.value.body)['message']


def test_dial_mode_maps_real_socket_errors(make_lab, client_for, base_config, tmp_path):
    """Dial mode against loopback stand-ins: a TLS kubelet, a closed port, a plain-HTTP server, a silent listener."""
    ca = LabCA.create(str(tmp_path / 'ca'))
    cert, key = ca.issue_server_cert('kubelet', dns_names=('localhost',), ip_addresses=('127.0.0.1',))

    class Kubelet(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            body = ('kubelet says %s' % self.path).encode()
            self.send_response(200)
            self.send_header('Content-Length', str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format, *args):  # pylint: disable=redefined-builtin
            del format, args

    tls = http.server.ThreadingHTTPServer(('127.0.0.1', 0), Kubelet)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    tls.socket = context.wrap_socket(tls.socket, server_side=True)
    plain = http.server.ThreadingHTTPServer(('127.0.0.1', 0), Kubelet)
    closed = socket.socket()
    closed.bind(('127.0.0.1', 0))
    closed_port = closed.getsockname()[1]
    closed.close()
    silent = socket.socket()
    silent.bind(('127.0.0.1', 0))
    silent.listen(8)
    servers = [tls, plain]
    for server in servers:
        threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        base_config['kube']['kubelet'] = {'mode': 'dial', 'dial_timeout': 0.5, 'ca_file': ca.cert_path, 'dial_addresses': {
            'nodepool1-0': '127.0.0.1:%d' % tls.server_address[1], 'nodepool1-1': '127.0.0.1:%d' % closed_port,
            'nodepool1-2': '127.0.0.1:%d' % plain.server_address[1], 'user1-0': '127.0.0.1:%d' % silent.getsockname()[1]}}
        lab = make_lab(base_config)
        core = client.CoreV1Api(client_for(lab))
        assert core.connect_get_node_proxy_with_path(lab.node_name('nodepool1-0'), 'healthz') == 'kubelet says /healthz'
        expected = {'nodepool1-1': 'connect: connection refused', 'nodepool1-2': 'http: server gave HTTP response to HTTPS client',
                    'user1-0': 'i/o timeout'}
        for ref, error in expected.items():
            with pytest.raises(ApiException) as info:
                core.connect_get_node_proxy_with_path(lab.node_name(ref), 'healthz')
            assert json.loads(info.value.body)['message'].endswith(error), ref
    finally:
        for server in servers:
            server.shutdown()
            server.server_close()
        silent.close()
