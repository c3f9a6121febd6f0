# -*- coding: utf-8 -*-
# Copyright (c) 2026 aks.tunnel contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Kubernetes access through ARM (issue 16): mode choice, AKS kubeconfigs, the run command frame and kubectl's errors."""

from __future__ import annotations

import base64
import io
import json
import zipfile

import pytest
import yaml

from ansible_collections.aks.tunnel.plugins.module_utils import _kube_access as ka

# The shape of `az aks get-credentials` on an AKS-managed Entra ID cluster (kubelogin exec plugin, AKS >= 1.24).
ENTRA_KUBECONFIG = {
    'apiVersion': 'v1', 'kind': 'Config', 'current-context': 'aks',
    'clusters': [{'name': 'aks', 'cluster': {'server': 'https://aks-dns-abc.hcp.westeurope.azmk8s.io:443', 'certificate-authority-data': 'Q0E='}}],
    'contexts': [{'name': 'aks', 'context': {'cluster': 'aks', 'user': 'clusterUser_rg_aks'}}],
    'users': [{'name': 'clusterUser_rg_aks', 'user': {'exec': {
        'apiVersion': 'client.authentication.k8s.io/v1beta1', 'command': 'kubelogin',
        'args': ['get-token', '--environment', 'AzurePublicCloud', '--server-id', '6dae42f8-4368-4678-94ff-3960e28e3630',
                 '--client-id', '80faf920-1908-4b52-b5ef-a8e7bedfc67a', '--tenant-id', '72f988bf-86f1-41af-91ab-2d7cd011db47', '--login', 'devicecode'],
        'env': None, 'provideClusterInfo': False}}}],
}
TOKEN_KUBECONFIG = dict(ENTRA_KUBECONFIG, users=[{'name': 'clusterUser_rg_aks', 'user': {'token': 'abc'}}])


@pytest.mark.parametrize('params, environ, arm_possible, expected', [
    ({}, {}, True, 'arm'),
    ({}, {}, False, 'kubeconfig'),
    ({'kubeconfig': '/k'}, {}, True, 'kubeconfig'),
    ({}, {'K8S_AUTH_KUBECONFIG': '/k'}, True, 'kubeconfig'),
    ({'host': 'https://h', 'api_key': 't'}, {}, True, 'kubeconfig'),
    ({'kube_access': 'kubeconfig'}, {}, True, 'kubeconfig'),
    ({'kube_access': 'arm', 'kubeconfig': '/k'}, {}, True, 'arm'),
    ({'kube_access': 'run_command'}, {}, True, 'run_command'),
])
def test_choose_mode(params, environ, arm_possible, expected, tmp_path):
    assert ka.choose_mode(params, environ, arm_possible, default_kubeconfig=str(tmp_path / 'none')) == expected


@pytest.mark.parametrize('kube_access, expected', [('auto', 'kubeconfig'), ('arm', 'arm'), ('run_command', 'run_command')])
def test_an_existing_default_kubeconfig_wins_in_auto_mode(kube_access, expected, tmp_path):
    (tmp_path / 'config').write_text('apiVersion: v1\n')
    assert ka.choose_mode({'kube_access': kube_access}, {}, True, default_kubeconfig=str(tmp_path / 'config')) == expected


@pytest.mark.parametrize('mode', ['arm', 'run_command'])
def test_arm_modes_need_the_cluster_and_azure(mode):
    with pytest.raises(ka.KubeAccessError, match='needs the Azure options and the cluster'):
        ka.choose_mode({'kube_access': mode}, {}, False)


def _results(config, rest=False):
    value = yaml.safe_dump(config).encode()
    if rest:
        return {'kubeconfigs': [{'name': 'clusterUser', 'value': base64.b64encode(value).decode()}]}
    return type('CredentialResults', (), {'kubeconfigs': [type('CredentialResult', (), {'name': 'clusterUser', 'value': value})()]})()


@pytest.mark.parametrize('rest', [False, True])
def test_decode_credential_sdk_bytes_and_rest_base64(rest):
    assert ka.decode_credential(_results(ENTRA_KUBECONFIG, rest)) == ENTRA_KUBECONFIG


@pytest.mark.parametrize('results, message', [
    ({'kubeconfigs': []}, 'no kubeconfig'),
    ({'kubeconfigs': [{'value': base64.b64encode(b'- just\n- a list').decode()}]}, 'no cluster or user'),
])
def test_decode_credential_refuses_what_is_not_a_kubeconfig(results, message):
    with pytest.raises(ka.KubeAccessError, match=message):
        ka.decode_credential(results)


@pytest.mark.parametrize('config, expected', [
    (ENTRA_KUBECONFIG, '6dae42f8-4368-4678-94ff-3960e28e3630'),
    (TOKEN_KUBECONFIG, None),
])
def test_entra_server_id(config, expected):
    assert ka.entra_server_id(config) == expected


@pytest.mark.parametrize('exec_spec, message', [
    ({'command': 'gke-gcloud-auth-plugin', 'args': []}, 'only kubelogin'),
    ({'command': 'kubelogin', 'args': ['get-token', '--server-id', '$(id)']}, 'not an application id'),
])
def test_entra_server_id_refuses_other_plugins_and_odd_ids(exec_spec, message):
    config = dict(ENTRA_KUBECONFIG, users=[{'name': 'clusterUser_rg_aks', 'user': {'exec': exec_spec}}])
    with pytest.raises(ka.KubeAccessError, match=message):
        ka.entra_server_id(config)


def test_with_token_replaces_the_exec_user_only_in_a_copy():
    config = ka.with_token(ENTRA_KUBECONFIG, 'tok')
    assert config['users'][0]['user'] == {'token': 'tok'}
    assert 'exec' in ENTRA_KUBECONFIG['users'][0]['user']
    assert ka.server_url(config) == 'https://aks-dns-abc.hcp.westeurope.azmk8s.io:443'


@pytest.mark.parametrize('method, path, body, expected', [
    ('GET', '/api/v1/nodes?limit=500', False, "kubectl get --raw '/api/v1/nodes?limit=500' >"),
    ('PUT', '/api/v1/namespaces/kube-system/configmaps/x', True, 'kubectl replace --raw /api/v1/namespaces/kube-system/configmaps/x -f body.json >'),
    ('POST', '/api/v1/namespaces/kube-system/configmaps', True, 'kubectl create --raw /api/v1/namespaces/kube-system/configmaps -f body.json >'),
    ('DELETE', '/api/v1/namespaces/kube-system/pods/p', True, 'kubectl delete --raw /api/v1/namespaces/kube-system/pods/p -f body.json >'),
    ('GET', "/api/v1/pods?labelSelector=a'b", False, "kubectl get --raw '/api/v1/pods?labelSelector=a'\"'\"'b' >"),
])
def test_raw_command_quotes_the_path(method, path, body, expected):
    assert ka.raw_command(method, path, body, '@@m').startswith(expected)


def test_raw_command_refuses_patch():
    with pytest.raises(ka.KubeAccessError, match='PATCH'):
        ka.raw_command('PATCH', '/api/v1/nodes/n', True, '@@m')


@pytest.mark.parametrize('logs, expected', [
    ('@@m rc=0\n@@m stdout\n{"items": []}', (0, '', '{"items": []}')),
    ('noise\n@@m rc=1\nError from server (NotFound): x\n@@m stdout\n', (1, 'Error from server (NotFound): x', '')),
    ('@@m rc=0\nWarning: w\n@@m stdout\n{"a":\n"@@m stdout"}', (0, 'Warning: w', '{"a":\n"@@m stdout"}')),
    ('{"items": [', None),
    ('@@m rc=x\n@@m stdout\n', None),
])
def test_parse_framed(logs, expected):
    assert ka.parse_framed(logs, '@@m') == expected


@pytest.mark.parametrize('stderr, code, reason', [
    ('Error from server (NotFound): configmaps "x" not found', 404, 'NotFound'),
    ('Error from server (Forbidden): pods is forbidden: User "u" cannot list resource "pods"', 403, 'Forbidden'),
    ('Error from server (Conflict): Operation cannot be fulfilled on configmaps "x": the object has been modified', 409, 'Conflict'),
    ('Error from server (TooManyRequests): slow down', 429, 'TooManyRequests'),
    ('Error from server (SomethingNew): ?', 500, 'SomethingNew'),
])
def test_status_from_stderr(stderr, code, reason):
    status, body = ka.status_from_stderr(stderr)
    assert (status, body['code'], body['reason'], body['kind']) == (code, code, reason, 'Status')


def test_status_from_stderr_none_for_client_side_failures():
    assert ka.status_from_stderr('error: unable to connect') is None


def test_context_zip_holds_the_files():
    data = base64.b64decode(ka.context_zip({'body.json': b'{"a": 1}'}))
    with zipfile.ZipFile(io.BytesIO(data)) as bundle:
        assert json.loads(bundle.read('body.json')) == {'a': 1}


class FakeRunCommand:
    """Stands for ManagedClusters.begin_run_command: answers with the frame the real command prints (unit test double)."""

    def __init__(self, rc, stderr, stdout, state='succeeded'):
        self.answer = (rc, stderr, stdout, state)
        self.payloads = []
        self.managed_clusters = self

    def begin_run_command(self, _rg, _name, payload):
        self.payloads.append(payload)
        marker = payload.command.split('echo "', 1)[1].split(' rc=', 1)[0]
        rc, stderr, stdout, state = self.answer
        logs = '%s rc=%d\n%s\n%s stdout\n%s' % (marker, rc, stderr, marker, stdout)
        result = {'properties': {'provisioningState': state, 'exitCode': 0, 'logs': logs, 'reason': 'ImagePullBackoff'}}
        return type('Poller', (), {'result': lambda self, timeout=None: result, 'done': lambda self: True})()


def test_transport_turns_kubectl_output_into_responses():
    fake = FakeRunCommand(0, '', '{"kind": "NodeList", "items": []}')
    transport = ka.RunCommandTransport(fake, 'rg', 'aks', cluster_token='tok')
    response = transport.request('GET', 'https://127.0.0.1:1/api/v1/nodes?limit=500')
    assert (response.status, json.loads(response.data)) == (200, {'kind': 'NodeList', 'items': []})
    assert fake.payloads[0].cluster_token == 'tok' and "--raw '/api/v1/nodes?limit=500'" in fake.payloads[0].command


def test_transport_sends_the_body_in_the_context_and_maps_conflicts():
    fake = FakeRunCommand(1, 'Error from server (Conflict): the object has been modified', '')
    response = ka.RunCommandTransport(fake, 'rg', 'aks').request('PUT', 'https://x/api/v1/namespaces/kube-system/configmaps/c', body='{"a": 1}')
    assert response.status == 409 and json.loads(response.data)['reason'] == 'Conflict'
    with zipfile.ZipFile(io.BytesIO(base64.b64decode(fake.payloads[0].context))) as bundle:
        assert bundle.read('body.json') == b'{"a": 1}'


@pytest.mark.parametrize('fake, message', [
    (FakeRunCommand(1, 'error: You must be logged in to the server', ''), 'kubectl in the cluster rg/aks failed'),
    (FakeRunCommand(0, '', '', state='failed'), 'the run command failed: ImagePullBackoff'),
])
def test_transport_errors_are_urllib3_errors_with_the_reason(fake, message):
    from urllib3.exceptions import HTTPError
    with pytest.raises(HTTPError, match=message):
        ka.RunCommandTransport(fake, 'rg', 'aks').request('GET', 'https://x/api/v1/nodes')


def test_transport_refuses_watches():
    with pytest.raises(ka.RunCommandTransportError, match='watch'):
        ka.RunCommandTransport(FakeRunCommand(0, '', ''), 'rg', 'aks').request('GET', 'https://x/api/v1/pods?watch=true')


def test_transport_reports_arm_refusals_as_failed_requests():
    from azure.core.exceptions import HttpResponseError

    class Refusing(FakeRunCommand):
        def begin_run_command(self, _rg, _name, payload):
            raise HttpResponseError(message="(AuthorizationFailed) The client 'x' does not have authorization to perform action "
                                            "'Microsoft.ContainerService/managedClusters/runCommand/action'")
    with pytest.raises(ka.RunCommandTransportError, match='runCommand/action'):
        ka.RunCommandTransport(Refusing(0, '', ''), 'rg', 'aks').request('GET', 'https://x/api/v1/nodes')
