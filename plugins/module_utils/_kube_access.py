# -*- coding: utf-8 -*-
# Copyright (c) 2026 aks.tunnel contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Kubernetes access without a kubeconfig at hand (issue 16): from the Azure identity, and through the managed cluster's run command.

Three ways to the API server, chosen by the ``kube_access`` option (doc fragment aks.tunnel.kube_access):

- ``kubeconfig``: the kubeconfig / host / api_key options (_kube.build_api_client), as before.
- ``arm``: the cluster's credential from ARM (``listClusterUserCredential``; ``listClusterAdminCredential`` with
  ``kube_credential: admin``). An Entra-enabled cluster's kubeconfig runs kubelogin (``exec``); instead, a token for the AKS
  server application (scope ``<server id>/.default``) comes from the same azure-identity credential as the ARM calls.
- ``run_command``: the credential as with ``arm``, but every Kubernetes request runs as ``kubectl get|create|replace|delete
  --raw`` inside the cluster through ``managedClusters/runCommand`` (a private cluster's API server is not reachable from
  where Ansible runs). The kubernetes client is the same; only its transport (the urllib3 pool manager's ``request``) is
  replaced, so every module's reads, paging and writes (with their resourceVersion and uid preconditions) are unchanged.

``auto`` takes the kubeconfig options when any is given (options or K8S_AUTH_* variables), then ~/.kube/config when it
exists; otherwise ARM when the module knows the cluster and has the Azure options, switching to run command when the API
server the credential names cannot be reached (TCP connect).
"""

from __future__ import annotations

import base64
import io
import json
import os
import re
import shlex
import socket
import uuid
import zipfile
from urllib.parse import urlsplit

from ansible_collections.aks.tunnel.plugins.module_utils import _kube

AKS_SERVER_APP_ID = '6dae42f8-4368-4678-94ff-3960e28e3630'
MODES = ('auto', 'kubeconfig', 'arm', 'run_command')
CREDENTIALS = ('user', 'admin')

KUBE_ACCESS_ARGSPEC = dict(
    kube_access=dict(type='str', default='auto', choices=list(MODES)),
    kube_credential=dict(type='str', default='user', choices=list(CREDENTIALS)),
)

RUN_COMMAND_RBAC = 'Microsoft.ContainerService/managedClusters/runCommand/action'
CREDENTIAL_RBAC = {'user': 'Microsoft.ContainerService/managedClusters/listClusterUserCredential/action',
                   'admin': 'Microsoft.ContainerService/managedClusters/listClusterAdminCredential/action'}
# How long the reachability check of the API server waits (auto mode): a private endpoint that does not answer costs this.
REACH_TIMEOUT_S = 5.0
_GUID = re.compile(r'^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$')
# kubectl's "Error from server (Reason): message" -> HTTP status (k8s.io/apimachinery metav1.StatusReason)
_REASON_STATUS = {'BadRequest': 400, 'Unauthorized': 401, 'Forbidden': 403, 'NotFound': 404, 'MethodNotAllowed': 405, 'NotAcceptable': 406,
                  'AlreadyExists': 409, 'Conflict': 409, 'Gone': 410, 'Expired': 410, 'RequestEntityTooLarge': 413,
                  'UnsupportedMediaType': 415, 'Invalid': 422, 'TooManyRequests': 429, 'InternalError': 500, 'ServiceUnavailable': 503,
                  'Timeout': 504, 'ServerTimeout': 500}
_SERVER_ERROR = re.compile(r'Error from server \((\w+)\): (.*)', re.DOTALL)
_RAW_VERBS = {'GET': 'get', 'POST': 'create', 'PUT': 'replace', 'DELETE': 'delete'}


class KubeAccessError(ValueError):
    """Kubernetes access through ARM is not possible; the message says why and what to do."""


def kubeconfig_given(params, environ=None):
    """True when any kubeconfig/host/api_key/context option or K8S_AUTH_* variable is set (auto then uses them)."""
    settings = _kube.resolve_kube_settings(params, environ)
    return any(settings.get(key) for key in ('kubeconfig', 'context', 'host', 'api_key'))


DEFAULT_KUBECONFIG = os.path.join('~', '.kube', 'config')


def choose_mode(params, environ=None, arm_possible=False, default_kubeconfig=DEFAULT_KUBECONFIG):
    """'kubeconfig', 'arm' or 'run_command' for the options. auto: the kubeconfig options, else ~/.kube/config when it
    exists (as before issue 16), else ARM when the module can reach ARM for this cluster."""
    mode = params.get('kube_access') or 'auto'
    if mode == 'auto':
        if kubeconfig_given(params, environ) or not arm_possible or os.path.isfile(os.path.expanduser(default_kubeconfig)):
            return 'kubeconfig'
        return 'arm'
    if mode in ('arm', 'run_command') and not arm_possible:
        raise KubeAccessError('kube_access=%s needs the Azure options and the cluster (resource_group and name, or a cluster_model of '
                              'aks.tunnel.aks_cluster_info)' % mode)
    return mode


# --------------------------------------------------------------------------- kubeconfig from ARM

def decode_credential(results):
    """The kubeconfig (dict) of a CredentialResults (SDK model or REST dict)."""
    import yaml  # pylint: disable=import-outside-toplevel
    kubeconfigs = getattr(results, 'kubeconfigs', None)
    if kubeconfigs is None and isinstance(results, dict):
        kubeconfigs = results.get('kubeconfigs')
    if not kubeconfigs:
        raise KubeAccessError('the cluster returned no kubeconfig')
    first = kubeconfigs[0]
    value = first.get('value') if isinstance(first, dict) else getattr(first, 'value', None)
    if isinstance(value, str):  # the REST shape: base64 text; the SDK decodes format: byte to bytes
        value = base64.b64decode(value)
    try:
        config = yaml.safe_load(value.decode('utf-8'))
    except (AttributeError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise KubeAccessError('the kubeconfig the cluster returned cannot be read: %s' % exc) from None
    if not isinstance(config, dict) or not config.get('clusters') or not config.get('users'):
        raise KubeAccessError('the kubeconfig the cluster returned has no cluster or user')
    return config


def _current(config):
    """(cluster entry, user entry) of the kubeconfig's current context (the first ones without a context)."""
    contexts = {c.get('name'): c.get('context') or {} for c in config.get('contexts') or []}
    context = contexts.get(config.get('current-context')) or {}
    clusters = {c.get('name'): c.get('cluster') or {} for c in config['clusters']}
    users = {u.get('name'): u.get('user') or {} for u in config['users']}
    cluster = clusters.get(context.get('cluster')) or config['clusters'][0].get('cluster') or {}
    user = users.get(context.get('user')) or config['users'][0].get('user') or {}
    return cluster, user


def entra_server_id(config):
    """The AKS server application id when the kubeconfig's user is kubelogin (an Entra-enabled cluster), else None."""
    _cluster, user = _current(config)
    exec_spec = user.get('exec')
    if not isinstance(exec_spec, dict):
        return None
    command = os.path.basename(str(exec_spec.get('command') or ''))
    args = [str(a) for a in exec_spec.get('args') or []]
    if command not in ('kubelogin', 'kubelogin.exe') and '--server-id' not in args:
        raise KubeAccessError('the cluster kubeconfig runs %s to get a token; only kubelogin (Microsoft Entra ID) is understood'
                              % (command or 'an exec plugin'))
    server_id = args[args.index('--server-id') + 1] if '--server-id' in args[:-1] else AKS_SERVER_APP_ID
    if not _GUID.match(server_id):
        raise KubeAccessError('the kubeconfig names the server application %r, not an application id' % server_id)
    return server_id


def server_url(config):
    cluster, _user = _current(config)
    return cluster.get('server')


def with_token(config, token):
    """The kubeconfig with its current user replaced by a bearer token (what kubelogin would hand kubectl)."""
    config = json.loads(json.dumps(config))
    contexts = {c.get('name'): c.get('context') or {} for c in config.get('contexts') or []}
    wanted = (contexts.get(config.get('current-context')) or {}).get('user') or config['users'][0].get('name')
    for entry in config['users']:
        if entry.get('name') == wanted:
            entry['user'] = {'token': token}
    return config


def reachable(url, timeout=REACH_TIMEOUT_S):
    """(True, None) when a TCP connection to the API server URL opens, else (False, why)."""
    parts = urlsplit(url or '')
    if not parts.hostname:
        return False, 'the kubeconfig names no API server'
    port = parts.port or (443 if parts.scheme == 'https' else 80)
    try:
        with socket.create_connection((parts.hostname, port), timeout=timeout):
            return True, None
    except OSError as exc:
        return False, 'cannot connect to %s:%s: %s' % (parts.hostname, port, exc.strerror or exc)


def fetch_credential(containerservice, resource_group, name, credential='user'):
    """The kubeconfig dict of listClusterUserCredential (or listClusterAdminCredential) of the cluster."""
    operations = containerservice.managed_clusters
    if credential == 'admin':
        return decode_credential(operations.list_cluster_admin_credentials(resource_group, name))
    return decode_credential(operations.list_cluster_user_credentials(resource_group, name))


def configuration_from_config(config):
    """kubernetes client Configuration of a kubeconfig dict."""
    from kubernetes import client, config as kconfig  # pylint: disable=import-outside-toplevel
    from kubernetes.config.config_exception import ConfigException  # pylint: disable=import-outside-toplevel
    configuration = client.Configuration()
    try:
        kconfig.load_kube_config_from_dict(config, client_configuration=configuration, persist_config=False)
    except (ConfigException, ValueError, TypeError, OSError) as exc:
        raise KubeAccessError('cannot load the kubeconfig the cluster returned: %s' % exc) from None
    return configuration


# --------------------------------------------------------------------------- run command transport

def raw_command(method, path_qs, has_body, marker):
    """The shell command that runs one API request with kubectl inside the cluster; its output is framed by ``marker`` lines:
    ``<marker> rc=N``, kubectl's stderr, ``<marker> stdout``, then the API's answer (stdout) to the end."""
    verb = _RAW_VERBS.get(method)
    if verb is None:
        raise KubeAccessError('%s requests cannot run through the run command (kubectl --raw knows GET, POST, PUT and DELETE)' % method)
    words = ['kubectl', verb, '--raw', path_qs]
    if has_body:
        words += ['-f', 'body.json']
    return ('%s >.aks-tunnel.out 2>.aks-tunnel.err; rc=$?; echo "%s rc=$rc"; cat .aks-tunnel.err; echo "%s stdout"; cat .aks-tunnel.out'
            % (' '.join(shlex.quote(w) for w in words), marker, marker))


def parse_framed(logs, marker):
    """(kubectl exit code, stderr, stdout) from the logs of raw_command's command; None when the frame is missing."""
    text = logs or ''
    head = '%s rc=' % marker
    start = text.find(head)
    split = text.find('\n%s stdout\n' % marker, start)
    if start < 0 or split < 0:
        return None
    line_end = text.find('\n', start)
    try:
        code = int(text[start + len(head):line_end].strip())
    except ValueError:
        return None
    return code, text[line_end + 1:split], text[split + len('\n%s stdout\n' % marker):]


def status_from_stderr(stderr):
    """(HTTP status, Status body) of kubectl's "Error from server (Reason): message", or None for other failures."""
    match = _SERVER_ERROR.search(stderr or '')
    if not match:
        return None
    reason, message = match.group(1), match.group(2).strip()
    code = _REASON_STATUS.get(reason, 500)
    return code, {'kind': 'Status', 'apiVersion': 'v1', 'metadata': {}, 'status': 'Failure', 'message': message, 'reason': reason, 'code': code}


def context_zip(files):
    """base64 zip of {name: bytes}: the run command's ``context``."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, 'w', zipfile.ZIP_DEFLATED) as bundle:
        for name, data in files.items():
            bundle.writestr(name, data)
    return base64.b64encode(buffer.getvalue()).decode('ascii')


class RunCommandError(Exception):
    """The run command did not run kubectl (ARM accepted it, the command failed to start or finish)."""


def _result_properties(result):
    from ansible_collections.aks.tunnel.plugins.module_utils._cluster_model import as_dict  # pylint: disable=import-outside-toplevel
    data = as_dict(result) or {}
    props = data.get('properties') if isinstance(data.get('properties'), dict) else data
    return {'state': props.get('provisioningState', props.get('provisioning_state')), 'exit_code': props.get('exitCode', props.get('exit_code')),
            'logs': props.get('logs'), 'reason': props.get('reason')}


class RunCommandTransport:
    """Stands in for a urllib3 PoolManager's ``request``: each Kubernetes request becomes one managed cluster run command."""

    def __init__(self, containerservice, resource_group, name, cluster_token=None, poll_timeout=300):
        self.containerservice = containerservice
        self.resource_group = resource_group
        self.name = name
        self.cluster_token = cluster_token
        self.poll_timeout = poll_timeout
        self.commands = 0

    def run(self, command, files=None):
        """(logs, exit code) of one run command."""
        from azure.mgmt.containerservice import models  # pylint: disable=import-outside-toplevel
        payload = models.RunCommandRequest(command=command, context=context_zip(files) if files else '', cluster_token=self.cluster_token)
        poller = self.containerservice.managed_clusters.begin_run_command(self.resource_group, self.name, payload)
        result = _result_properties(poller.result(timeout=self.poll_timeout))
        self.commands += 1
        if not poller.done():
            raise RunCommandError('the run command did not finish within %d seconds' % self.poll_timeout)
        if str(result['state'] or '').lower() != 'succeeded':
            reason = ': %s' % result['reason'] if result['reason'] else ''
            raise RunCommandError('the run command %s%s' % (str(result['state'] or 'failed').lower(), reason))
        return result['logs'] or '', result['exit_code']

    def request(self, method, url, body=None, headers=None, **_kwargs):
        """One Kubernetes API request (the kubernetes client's call) through kubectl --raw in the cluster; an urllib3 response."""
        from urllib3.response import HTTPResponse  # pylint: disable=import-outside-toplevel
        parts = urlsplit(url)
        path_qs = parts.path + ('?' + parts.query if parts.query else '')
        if 'watch=true' in (parts.query or '').lower():
            raise RunCommandTransportError('watch requests cannot run through the run command')
        marker = '@@aks-tunnel-%s' % uuid.uuid4().hex[:12]
        files = None
        if body is not None and method in ('POST', 'PUT', 'DELETE'):
            files = {'body.json': body if isinstance(body, bytes) else str(body).encode('utf-8')}
        try:
            command = raw_command(method, path_qs, files is not None, marker)
            logs, _exit_code = self.run(command, files)
        except Exception as exc:  # pylint: disable=broad-except
            # ARM's answer (e.g. 403 without runCommand/action) included: a failed Kubernetes request, not a failed Azure read
            if not isinstance(exc, (KubeAccessError, RunCommandError)) and not type(exc).__module__.startswith('azure.'):
                raise
            raise RunCommandTransportError('%s %s through the run command of %s/%s: %s'
                                           % (method, parts.path, self.resource_group, self.name, exc)) from None
        framed = parse_framed(logs, marker)
        if framed is None:
            raise RunCommandTransportError('the run command of %s/%s returned output without the expected frame (truncated?): %s'
                                           % (self.resource_group, self.name, logs[-300:]))
        code, stderr, stdout = framed
        if code == 0:
            status, data = 200, stdout.encode('utf-8')
        else:
            parsed = status_from_stderr(stderr)
            if parsed is None:
                raise RunCommandTransportError('kubectl in the cluster %s/%s failed (exit %s): %s' % (
                    self.resource_group, self.name, code, stderr.strip()[-500:] or stdout.strip()[-500:]))
            status, status_body = parsed
            data = json.dumps(status_body).encode('utf-8')
        return HTTPResponse(body=data, status=status, reason=_reason(status), preload_content=True,
                            headers={'Content-Type': 'application/json', 'Audit-Id': 'run-command'})


def _reason(status):
    return {200: 'OK', 400: 'Bad Request', 401: 'Unauthorized', 403: 'Forbidden', 404: 'Not Found', 409: 'Conflict', 422: 'Unprocessable Entity',
            429: 'Too Many Requests', 500: 'Internal Server Error', 503: 'Service Unavailable'}.get(status, 'Error')


def _transport_error_base():
    try:
        from urllib3.exceptions import HTTPError  # pylint: disable=import-outside-toplevel
        return HTTPError
    except ImportError:  # pragma: no cover - urllib3 comes with the kubernetes client
        return Exception


class RunCommandTransportError(_transport_error_base()):
    """A request that could not run through the run command (urllib3's HTTPError: the module reports it as a failed request)."""


def install_run_command(api_client, transport):
    """Route every request of ``api_client`` through ``transport`` (before _kube.count_requests wraps it, so retries and counts hold)."""
    api_client.rest_client.pool_manager.request = transport.request
    api_client.aks_tunnel_run_command = transport
    return api_client


def clone_client(api_client, retry_deadline):
    """A second ApiClient on the same server and credential (and run command transport), counted with its own retry deadline
    (kubelet_apiserver_probe's proxy client: no retries)."""
    from kubernetes import client  # pylint: disable=import-outside-toplevel
    clone = client.ApiClient(api_client.configuration)
    clone.aks_tunnel_timeout = getattr(api_client, 'aks_tunnel_timeout', 30)
    transport = getattr(api_client, 'aks_tunnel_run_command', None)
    if transport is not None:
        install_run_command(clone, transport)
    _kube.count_requests(clone, retry_deadline=retry_deadline)
    return clone


# --------------------------------------------------------------------------- the whole path

class KubeAccess:
    """How a module reached Kubernetes: ``mode`` (kubeconfig | arm | run_command), ``credential`` and ``notes`` (why)."""

    def __init__(self, mode, credential=None, entra=False, notes=None):
        self.mode = mode
        self.credential = credential
        self.entra = entra
        self.notes = list(notes or [])

    def as_dict(self):
        return {'mode': self.mode, 'credential': self.credential, 'entra': self.entra, 'notes': self.notes}


def build_through_arm(azure, resource_group, name, params, timeout, retry_deadline, get_token, probe=reachable):
    """(ApiClient, KubeAccess) for kube_access arm / run_command / auto-without-kubeconfig.

    ``azure``: _azure.AzureClients; ``get_token(scope)`` -> access token string of the module's azure-identity credential.
    """
    requested = params.get('kube_access') or 'auto'
    credential = params.get('kube_credential') or 'user'
    config = fetch_credential(azure.containerservice, resource_group, name, credential)
    server_id = entra_server_id(config)
    notes = ['%s credential of %s/%s from ARM' % (credential, resource_group, name)]
    token = None
    if server_id:
        token = get_token('%s/.default' % server_id)
        config = with_token(config, token)
        notes.append('Microsoft Entra ID cluster: token for the AKS server application %s from the Azure credential' % server_id)
    mode = 'run_command' if requested == 'run_command' else 'arm'
    if requested == 'auto':
        ok, why = probe(server_url(config))
        if not ok:
            mode = 'run_command'
            notes.append('API server %s not reachable from here (%s): requests run inside the cluster through runCommand '
                         '(needs %s)' % (server_url(config), why, RUN_COMMAND_RBAC))
    from kubernetes import client  # pylint: disable=import-outside-toplevel
    api_client = client.ApiClient(configuration_from_config(config))
    api_client.aks_tunnel_timeout = timeout
    if mode == 'run_command':
        # the transport is the run command: the kubeconfig's own server is never contacted
        install_run_command(api_client, RunCommandTransport(azure.containerservice, resource_group, name, cluster_token=token,
                                                            poll_timeout=max(60, timeout * 5)))
    _kube.count_requests(api_client, retry_deadline=retry_deadline)
    return api_client, KubeAccess(mode, credential, bool(server_id), notes)
