# -*- coding: utf-8 -*-
# Copyright (c) 2026 aks.tunnel contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The article's kubectl commands, run by the real kubectl against one lab (root): `nsg-deny-10250`, where the NIC NSG
drops the API server's connections to the user1 kubelets while the konnectivity agents run on nodepool1.

kubectl get -o wide shows which nodes host the tunnel pods; logs, exec and port-forward work for a pod on a healthy node
and fail with the AKS error (`dial tcp <node ip>:10250: i/o timeout`) for a pod on a blocked node; auth can-i answers
from the lab's RBAC; kubectl's server version is the managed cluster's kubernetesVersion.
"""

from __future__ import annotations

import json

import pytest
import yaml

from ansible_collections.aks.tunnel.tests.integration.clients_kubectl.kubectl_client import Kubectl, client_minor, find_kubectl
from ansible_collections.aks.tunnel.tests.lab.dataplane import lab
from ansible_collections.aks.tunnel.tests.lab.kube import rbac

pytestmark = [pytest.mark.lab, pytest.mark.xdist_group('lab_dataplane')]

KUBECTL, SKIP_REASON = find_kubectl()
BLOCKED_POD = 'article-probe-user1'


def _quiet(_message):
    return None


@pytest.fixture(scope='module')
def nsg_lab(tmp_path_factory):
    """One lab for the module: nsg-deny-10250 plus a pod pinned to a blocked node (user1-0)."""
    if KUBECTL is None:
        pytest.skip(SKIP_REASON)
    state = str(tmp_path_factory.mktemp('kubectl-lab') / 'state')
    record = lab.up('nsg-deny-10250', state, log=_quiet)
    try:
        with open(record.file('vars.yml'), encoding='utf-8') as handle:
            lab_vars = yaml.safe_load(handle)
        kubectl = Kubectl(KUBECTL, lab_vars['aks_tunnel_kubeconfig'])
        plan = record.get('plan')
        blocked = [dict(node, name=name) for name, node in plan['nodes'].items() if node['short'] == 'user1-0'][0]
        manifest = {'apiVersion': 'v1', 'kind': 'Pod', 'metadata': {'name': BLOCKED_POD, 'namespace': 'default'},
                    'spec': {'nodeName': blocked['name'], 'containers': [{'name': 'app', 'image': 'mcr.microsoft.com/azurelinux/busybox:1.36',
                                                                          'ports': [{'containerPort': 8080}]}]}}
        path = record.file('article-probe.json')
        with open(path, 'w', encoding='utf-8') as handle:
            json.dump(manifest, handle)
        created = kubectl.run('create', '--validate=false', '-f', path)  # the lab serves no OpenAPI document
        assert created.returncode == 0, created.stderr
        waited = kubectl.run('wait', '--for=condition=Ready', 'pod/' + BLOCKED_POD, '-n', 'default', '--timeout=20s')
        assert waited.returncode == 0, waited.stdout + waited.stderr
        yield {'vars': lab_vars, 'plan': plan, 'kubectl': kubectl, 'blocked': blocked, 'record': record}
    finally:
        lab.down(state, log=_quiet)


def _agents(nsg_lab):
    """(pod name, node name) of the konnectivity agents, read with kubectl -o json."""
    out = nsg_lab['kubectl'].run('get', 'pods', '-n', 'kube-system', '-l', 'app=konnectivity-agent', '-o', 'json')
    assert out.returncode == 0, out.stderr
    return [(p['metadata']['name'], p['spec']['nodeName']) for p in json.loads(out.stdout)['items']]


def _table(text):
    """Rows of kubectl's column output as dicts keyed by the header cells (single spaces inside a header, e.g. NOMINATED NODE)."""
    lines = [line for line in text.splitlines() if line.strip()]
    header = lines[0]
    # kubectl pads columns with at least 3 spaces; a header cell holds single spaces only.
    starts = [0] + [i for i in range(2, len(header)) if header[i] != ' ' and header[i - 2:i] == '  ']
    names = [header[a:b].strip() for a, b in zip(starts, starts[1:] + [None])]
    return [dict(zip(names, (line[a:b].strip() for a, b in zip(starts, starts[1:] + [None])))) for line in lines[1:]]


def test_get_pods_wide_shows_the_nodes_that_host_the_konnectivity_agents(nsg_lab):
    out = nsg_lab['kubectl'].run('get', 'pods', '-n', 'kube-system', '-o', 'wide')
    assert out.returncode == 0, out.stderr
    header = out.stdout.splitlines()[0].split()
    assert header[:9] == ['NAME', 'READY', 'STATUS', 'RESTARTS', 'AGE', 'IP', 'NODE', 'NOMINATED', 'NODE'], out.stdout
    rows = {row['NAME']: row for row in _table(out.stdout)}
    agents = _agents(nsg_lab)
    assert agents
    assert sorted({node for _unused, node in agents}) == sorted(nsg_lab['vars']['aks_tunnel_lab']['tunnel_nodes'])
    for pod, node in agents:
        assert rows[pod]['NODE'] == node and rows[pod]['STATUS'] == 'Running' and rows[pod]['READY'] == '1/1'
        assert rows[pod]['IP'].count('.') == 3


def test_get_nodes_wide_shows_status_internal_ip_and_version(nsg_lab):
    out = nsg_lab['kubectl'].run('get', 'nodes', '-o', 'wide')
    assert out.returncode == 0, out.stderr
    assert out.stdout.split()[:10] == ['NAME', 'STATUS', 'ROLES', 'AGE', 'VERSION', 'INTERNAL-IP', 'EXTERNAL-IP', 'OS-IMAGE',
                                       'KERNEL-VERSION', 'CONTAINER-RUNTIME']
    rows = {row['NAME']: row for row in _table(out.stdout)}
    version = 'v' + nsg_lab['record'].get('config')['cluster']['kubernetes_version']
    assert set(rows) == set(nsg_lab['plan']['nodes'])
    for name, node in nsg_lab['plan']['nodes'].items():
        assert (rows[name]['STATUS'], rows[name]['INTERNAL-IP'], rows[name]['VERSION']) == ('Ready', node['ip'], version)


def test_kubectl_version_is_the_managed_clusters_kubernetes_version(nsg_lab):
    from azure.identity import ClientSecretCredential  # pylint: disable=import-outside-toplevel
    from azure.mgmt.containerservice import ContainerServiceClient  # pylint: disable=import-outside-toplevel

    out = nsg_lab['kubectl'].run('version', '-o', 'json')
    server = json.loads(out.stdout)['serverVersion']['gitVersion']
    auth = nsg_lab['vars']['aks_tunnel_azure_auth']
    credential = ClientSecretCredential(auth['tenant'], auth['client_id'], auth['secret'], authority=auth['authority_host'],
                                        disable_instance_discovery=True, connection_verify=auth['ca_path'])
    client = ContainerServiceClient(credential, auth['subscription_id'], base_url=auth['arm_endpoint'],
                                    credential_scopes=[auth['arm_endpoint'].rstrip('/') + '/.default'], connection_verify=auth['ca_path'])
    cluster = client.managed_clusters.get(nsg_lab['vars']['aks_tunnel_resource_group'], nsg_lab['vars']['aks_tunnel_cluster_name'])
    assert server == 'v' + cluster.kubernetes_version


def test_logs_work_through_a_healthy_node_and_time_out_on_a_blocked_one(nsg_lab):
    kubectl, blocked = nsg_lab['kubectl'], nsg_lab['blocked']
    pod, node = _agents(nsg_lab)[0]
    out = kubectl.run('logs', '-n', 'kube-system', pod)
    assert out.returncode == 0 and 'lab kubelet on %s' % node in out.stdout, out.stderr
    out = kubectl.run('logs', '-n', 'default', BLOCKED_POD)
    assert out.returncode == 1
    assert out.stderr.strip() == ('Error from server: Get "https://%s:10250/containerLogs/default/%s/app": dial tcp %s:10250: i/o timeout'
                                  % (blocked['name'], BLOCKED_POD, blocked['ip']))


def test_exec_runs_on_a_healthy_node_and_fails_with_the_aks_error_on_a_blocked_one(nsg_lab):
    kubectl, blocked = nsg_lab['kubectl'], nsg_lab['blocked']
    pod = _agents(nsg_lab)[0][0]
    out = kubectl.run('exec', '-n', 'kube-system', pod, '--', 'hostname')
    assert (out.returncode, out.stdout) == (0, pod + '\n'), out.stderr
    out = kubectl.run('exec', '-n', 'kube-system', pod, '--', 'sh', '-c', 'echo tunnel ok; exit 3')
    assert (out.returncode, out.stdout, out.stderr.strip()) == (3, 'tunnel ok\n', 'command terminated with exit code 3')
    out = kubectl.run('exec', '-n', 'default', BLOCKED_POD, '--', 'hostname')
    assert out.returncode == 1 and out.stdout == ''
    error = 'error dialing backend: dial tcp %s:10250: i/o timeout' % blocked['ip']
    # kubectl up to 1.3x prints the API server's Status as `Error from server: <message>`; newer ones as
    # `error: unable to upgrade connection: <message>` (the server's answer is the same 500 Status).
    assert out.stderr.strip() in ('Error from server: ' + error, 'error: unable to upgrade connection: ' + error), out.stderr


def test_exec_over_spdy_when_websockets_are_off(nsg_lab):
    if client_minor(KUBECTL) < 30:
        pytest.skip('kubectl before 1.30 speaks only SPDY; the websocket test above already used it')
    pod = _agents(nsg_lab)[0][0]
    out = nsg_lab['kubectl'].run('exec', '-n', 'kube-system', pod, '--', 'hostname', env={'KUBECTL_REMOTE_COMMAND_WEBSOCKETS': 'false'})
    assert (out.returncode, out.stdout) == (0, pod + '\n'), out.stderr


def test_port_forward_carries_one_exchange_on_a_healthy_node_and_fails_on_a_blocked_one(nsg_lab):
    kubectl, blocked = nsg_lab['kubectl'], nsg_lab['blocked']
    pod = _agents(nsg_lab)[0][0]
    answer, output = kubectl.port_forward_once('kube-system', pod, 8082)
    assert answer is not None and answer.startswith(b'HTTP/1.1 200 OK') and answer.endswith(b'\r\n\r\nok'), output
    answer, output = kubectl.port_forward_once('default', BLOCKED_POD, 8080)
    assert answer is None
    assert 'error upgrading connection:' in output and 'error dialing backend: dial tcp %s:10250: i/o timeout' % blocked['ip'] in output, output


@pytest.mark.parametrize('user, question', [
    # kubectl auth can-i VERB TYPE[/NAME] [--subresource=SUB]
    ('aks_tunnel_kubeconfig', ('create', 'pods', 'kube-system', 'exec')),
    ('aks_tunnel_lab_diagnose_kubeconfig', ('list', 'pods', 'kube-system', None)),
    ('aks_tunnel_lab_diagnose_kubeconfig', ('create', 'pods', 'kube-system', 'exec')),
    ('aks_tunnel_lab_diagnose_kubeconfig', ('get', 'pods', 'kube-system', 'log')),
    ('aks_tunnel_lab_diagnose_kubeconfig', ('list', 'nodes', 'default', None)),
    ('aks_tunnel_lab_remediate_kubeconfig', ('update', 'configmaps/konnectivity-agent-autoscaler', 'kube-system', None)),
    ('aks_tunnel_lab_remediate_kubeconfig', ('update', 'configmaps/kube-proxy', 'kube-system', None)),
    ('aks_tunnel_lab_remediate_kubeconfig', ('delete', 'pods', 'kube-system', None)),
    ('aks_tunnel_lab_remediate_kubeconfig', ('delete', 'pods', 'default', None)),
])
def test_auth_can_i_answers_from_the_lab_rbac(nsg_lab, user, question):
    verb, resource, namespace, subresource = question
    args = ['auth', 'can-i', verb, resource, '-n', namespace] + (['--subresource', subresource] if subresource else [])
    out = nsg_lab['kubectl'].run(*args, kubeconfig=nsg_lab['vars'][user])
    plural, _unused, name = resource.partition('/')
    if user == 'aks_tunnel_kubeconfig':
        expected = True
    else:
        documents = rbac.shipped('diagnose' if 'diagnose' in user else 'remediate')
        scope = None if plural == 'nodes' else namespace
        expected = rbac.allows(documents, verb, '', plural, scope, name=name or None, subresource=subresource)
    assert (out.stdout.strip(), out.returncode) == (('yes', 0) if expected else ('no', 1)), out.stderr


def test_top_events_and_the_autoscaler_configmap_patch(nsg_lab):
    """Runs last: the ladder patch scales the konnectivity agents (CPA), as `kubectl edit` of the ConfigMap does on AKS."""
    kubectl = nsg_lab['kubectl']
    out = kubectl.run('top', 'nodes')
    assert out.returncode == 0 and out.stdout.split()[:5] == ['NAME', 'CPU(cores)', 'CPU(%)', 'MEMORY(bytes)', 'MEMORY(%)'], out.stderr
    assert len(out.stdout.strip().splitlines()) == 1 + len(nsg_lab['plan']['nodes'])
    out = kubectl.run('get', 'events', '-A')
    # nsg-deny-10250 records no events (the OOM scenarios do: tests/integration/lab_kube/test_lab_kube_tables.py).
    assert out.returncode == 0 and (out.stdout.split()[:6] == ['NAMESPACE', 'LAST', 'SEEN', 'TYPE', 'REASON', 'OBJECT']
                                    or out.stderr.strip() == 'No resources found'), out.stderr
    ladder = json.dumps({'nodesToReplicas': [[1, 3]]})
    out = kubectl.run('patch', 'configmap', 'konnectivity-agent-autoscaler', '-n', 'kube-system', '--type', 'merge',
                      '-p', json.dumps({'data': {'ladder': ladder}}))
    assert out.returncode == 0 and out.stdout.strip() == 'configmap/konnectivity-agent-autoscaler patched', out.stderr
    out = kubectl.run('get', 'deployment', 'konnectivity-agent', '-n', 'kube-system', '-o', 'jsonpath={.spec.replicas}')
    assert out.stdout == '3', out.stderr
