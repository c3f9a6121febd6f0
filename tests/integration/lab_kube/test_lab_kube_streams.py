# -*- coding: utf-8 -*-
# Copyright (c) 2026 aks.tunnel contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""exec / port-forward / auth can-i on the in-process emulator (simulated kubelets, no root): the real kubectl where it is
installed, the official Python client otherwise."""

from __future__ import annotations

import hashlib
import json
import ssl
import struct
import urllib.error
import urllib.request

import pytest

from ansible_collections.aks.tunnel.tests.integration.clients_kubectl.kubectl_client import Kubectl, find_kubectl
from ansible_collections.aks.tunnel.tests.lab.kube import kubelet, protobuf, streams

KUBECTL, SKIP_REASON = find_kubectl()
needs_kubectl = pytest.mark.skipif(KUBECTL is None, reason=str(SKIP_REASON))


def test_the_spdy_header_dictionary_is_byte_exact():
    assert len(streams.SPDY_DICTIONARY) == 1423
    assert hashlib.sha256(streams.SPDY_DICTIONARY).hexdigest() == streams.SPDY_DICTIONARY_SHA256


def _pb(number, value):
    """One length-delimited protobuf field."""
    data = value.encode() if isinstance(value, str) else value
    return bytes([number << 3 | 2, len(data)]) + data


def _envelope(kind, spec):
    raw = _pb(2, spec)
    return protobuf.MAGIC + _pb(1, _pb(1, 'authorization.k8s.io/v1') + _pb(2, kind)) + _pb(2, raw) + _pb(4, 'application/vnd.kubernetes.protobuf')


@pytest.mark.parametrize('kind, spec, expected', [
    ('SelfSubjectAccessReview', _pb(1, _pb(1, 'kube-system') + _pb(2, 'create') + _pb(5, 'pods') + _pb(6, 'exec')),
     {'resourceAttributes': {'namespace': 'kube-system', 'verb': 'create', 'resource': 'pods', 'subresource': 'exec'}}),
    ('SelfSubjectAccessReview', _pb(1, _pb(2, 'update') + _pb(3, 'apps') + _pb(4, 'v1') + _pb(5, 'deployments') + _pb(7, 'coredns')),
     {'resourceAttributes': {'verb': 'update', 'group': 'apps', 'version': 'v1', 'resource': 'deployments', 'name': 'coredns'}}),
    ('SelfSubjectAccessReview', _pb(2, _pb(1, '/version') + _pb(2, 'get')), {'nonResourceAttributes': {'path': '/version', 'verb': 'get'}}),
    ('SelfSubjectRulesReview', _pb(1, 'kube-system'), {'namespace': 'kube-system'}),
])
def test_protobuf_self_reviews_decode_to_their_json_form(kind, spec, expected):
    assert protobuf.self_review(_envelope(kind, spec)) == {'apiVersion': 'authorization.k8s.io/v1', 'kind': kind, 'spec': expected}


@pytest.mark.parametrize('body', [b'{"kind": "x"}', protobuf.MAGIC + b'\x0a\x05\x0a\x03abc', _envelope('Pod', b'')])
def test_other_protobuf_bodies_are_refused(body):
    with pytest.raises(protobuf.ProtobufError):
        protobuf.self_review(body)


def _post(lab, path, body, user='lab-admin', content_type='application/json', headers=None):
    request = urllib.request.Request(lab.url + path, data=body, method='POST',
                                     headers=dict({'Content-Type': content_type, 'Authorization': 'Bearer ' + lab.user(user)['token']},
                                                  **(headers or {})))
    try:
        with urllib.request.urlopen(request, context=ssl.create_default_context(cafile=lab.ca_path), timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


@pytest.mark.parametrize('user, attributes, allowed', [
    ('lab-admin', {'verb': 'create', 'resource': 'pods', 'subresource': 'exec', 'namespace': 'kube-system'}, True),
    ('lab-reader', {'verb': 'list', 'resource': 'nodes'}, True),
    ('lab-reader', {'verb': 'create', 'resource': 'pods', 'subresource': 'exec', 'namespace': 'kube-system'}, False),
    ('lab-noaccess', {'verb': 'list', 'resource': 'pods', 'namespace': 'kube-system'}, False),
    ('lab-diagnose', {'verb': 'list', 'resource': 'pods', 'namespace': 'kube-system'}, True),
    ('lab-diagnose', {'verb': 'list', 'resource': 'pods', 'namespace': 'default'}, False),
    ('lab-diagnose', {'verb': 'get', 'group': 'apps', 'resource': 'deployments', 'name': 'konnectivity-agent', 'namespace': 'kube-system'}, True),
    ('lab-diagnose', {'verb': 'get', 'group': 'apps', 'resource': 'deployments', 'name': 'coredns', 'namespace': 'kube-system'}, False),
    ('lab-remediate', {'verb': 'update', 'resource': 'configmaps', 'name': 'konnectivity-agent-autoscaler', 'namespace': 'kube-system'}, True),
])
def test_self_subject_access_review_evaluates_the_users_rbac(kube_lab, user, attributes, allowed):
    review = {'apiVersion': 'authorization.k8s.io/v1', 'kind': 'SelfSubjectAccessReview', 'spec': {'resourceAttributes': attributes}}
    status, body = _post(kube_lab, '/apis/authorization.k8s.io/v1/selfsubjectaccessreviews', json.dumps(review).encode(), user=user)
    assert status == 201 and body['status']['allowed'] is allowed and body['spec'] == review['spec']


def test_the_official_python_client_gets_the_same_answer(kube_lab):
    from kubernetes import client, config  # pylint: disable=import-outside-toplevel
    api = client.AuthorizationV1Api(config.new_client_from_config(config_file=kube_lab.kubeconfigs['lab-reader']))
    review = client.V1SelfSubjectAccessReview(spec=client.V1SelfSubjectAccessReviewSpec(
        resource_attributes=client.V1ResourceAttributes(verb='delete', resource='pods', namespace='kube-system')))
    assert api.create_self_subject_access_review(review).status.allowed is False


def test_a_plain_exec_request_needs_an_upgrade_and_authorization(kube_lab):
    pod = kube_lab.tunnel_pods()[0]['metadata']['name']
    path = '/api/v1/namespaces/kube-system/pods/%s/exec?command=hostname&stdout=true' % pod
    status, body = _post(kube_lab, path, b'')
    assert (status, body['message']) == (400, 'Upgrade request required')
    status, body = _post(kube_lab, path, b'', user='lab-reader')
    assert status == 403 and 'cannot create resource "pods/exec"' in body['message']


def _websocket_handshake(lab, path, protocol):
    """Raw upgrade request; (status line, headers text) of the answer."""
    import socket  # pylint: disable=import-outside-toplevel
    host, port = lab.url[len('https://'):].split(':')
    raw = socket.create_connection((host, int(port)), timeout=10)
    conn = ssl.create_default_context(cafile=lab.ca_path).wrap_socket(raw, server_hostname='localhost')
    try:
        conn.sendall(('GET %s HTTP/1.1\r\nHost: %s\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\n'
                      'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Protocol: %s\r\nAuthorization: Bearer %s\r\n\r\n'
                      % (path, host, protocol, lab.user('lab-admin')['token'])).encode())
        data = b''
        while b'\r\n\r\n' not in data:
            data += conn.recv(4096)
        head, _unused, rest = data.partition(b'\r\n\r\n')
        # Unmasked server frames: binary messages, first byte the channel.
        messages = []
        while True:
            chunk = conn.recv(65536)
            if not chunk:
                break
            rest += chunk
        while len(rest) >= 2:
            opcode, length = rest[0] & 0x0F, rest[1] & 0x7F
            offset = 2
            if length == 126:
                length, offset = struct.unpack('>H', rest[2:4])[0], 4
            messages.append((opcode, rest[offset:offset + length]))
            rest = rest[offset + length:]
        return head.decode(), messages
    finally:
        conn.close()


def test_exec_over_a_websocket_speaks_the_v5_channel_protocol(kube_lab):
    pod = kube_lab.tunnel_pods()[0]['metadata']['name']
    head, messages = _websocket_handshake(kube_lab, '/api/v1/namespaces/kube-system/pods/%s/exec?command=hostname&stdout=true&stderr=true'
                                          % pod, 'v5.channel.k8s.io, v4.channel.k8s.io')
    assert head.startswith('HTTP/1.1 101') and 'Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=' in head
    assert 'Sec-WebSocket-Protocol: v5.channel.k8s.io' in head
    assert messages[0] == (2, b'\x01' + (pod + '\n').encode())
    assert messages[1][0] == 2 and json.loads(messages[1][1][1:]) == {'metadata': {}, 'status': 'Success'} and messages[1][1][0] == 3
    assert messages[-1][0] == 8


@pytest.mark.parametrize('command, result', [
    (['hostname'], (b'POD\n', b'', 0)),
    (['/bin/sh'], (b'', b'', 0)),
    (['cat', '/etc/hostname'], (b'POD\n', b'', 0)),
    (['echo', 'a', 'b'], (b'a b\n', b'', 0)),
    (['sh', '-c', 'echo x; exit 4'], (b'x\n', b'', 4)),
    (['/bin/false'], (b'', b'', 1)),
    (['cat', '/nope'], (b'', b'cat: /nope: No such file or directory\n', 1)),
    (['curl', 'x'], (kubelet.OCI_NOT_FOUND.replace('%s', 'curl').encode(), b'', 126)),
])
def test_the_lab_kubelet_runs_a_fixed_command_set(command, result):
    pod = {'metadata': {'name': 'POD'}}
    assert kubelet.exec_command(pod, 'c', command) == result


@needs_kubectl
def test_kubectl_exec_and_port_forward_with_simulated_kubelets(make_lab, base_config):
    lab = make_lab(base_config)
    kubectl = Kubectl(KUBECTL, lab.kubeconfigs['lab-admin'])
    agent = lab.tunnel_pods()[0]
    pod, node_ip = agent['metadata']['name'], agent['status']['hostIP']
    out = kubectl.run('exec', '-n', 'kube-system', pod, '--', 'hostname')
    assert (out.returncode, out.stdout) == (0, pod + '\n'), out.stderr
    answer, output = kubectl.port_forward_once('kube-system', pod, 8082)
    assert answer is not None and answer.endswith(b'ok'), output
    for mode, error in (('refused', 'dial tcp %s:10250: connect: connection refused' % node_ip),
                        ('http', 'tls: first record does not look like a TLS handshake')):
        lab.set_kubelet_unreachable(agent['spec']['nodeName'], mode)
        out = kubectl.run('exec', '-n', 'kube-system', pod, '--', 'hostname')
        assert out.returncode == 1 and 'error dialing backend: ' + error in out.stderr, out.stderr


@needs_kubectl
def test_kubectl_get_and_auth_can_i_with_the_emulator(kube_lab):
    kubectl = Kubectl(KUBECTL, kube_lab.kubeconfigs['lab-admin'])
    out = kubectl.run('get', 'nodes', '-o', 'wide')
    assert out.returncode == 0 and 'INTERNAL-IP' in out.stdout.splitlines()[0] and 'Ready,SchedulingDisabled' in out.stdout, out.stderr
    out = kubectl.run('auth', 'can-i', 'list', 'pods', '-n', 'kube-system', kubeconfig=kube_lab.kubeconfigs['lab-noaccess'])
    assert (out.returncode, out.stdout.strip()) == (1, 'no')


@needs_kubectl
def test_kubectl_exec_without_a_ready_konnectivity_agent(make_lab, base_config):
    lab = make_lab(base_config)
    for agent in lab.tunnel_pods():
        lab.mark_pod_oom_killed('kube-system', agent['metadata']['name'], crashloop=True)
    other = lab.pods('kube-system', 'k8s-app=kube-dns')[0]['metadata']['name']
    out = Kubectl(KUBECTL, lab.kubeconfigs['lab-admin']).run('exec', '-n', 'kube-system', other, '--', 'hostname')
    assert out.returncode == 1 and 'error dialing backend: No agent available' in out.stderr, out.stderr
