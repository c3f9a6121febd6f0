# -*- coding: utf-8 -*-
# Copyright (c) 2026 aks.tunnel contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Azure adapter: auth options, credential and client construction, and ARM error messages.

Option names, environment variables and `~/.azure/credentials` profiles follow azure.azcollection,
so users' existing module_defaults and CI secrets keep working. The Azure SDK is imported lazily
and guarded: sanity `import` runs without it, and a missing SDK becomes a clear failure message.
"""

from __future__ import annotations

import configparser
import json
import os
import random
import re
import ssl
import threading
import time

from ansible.module_utils.urls import open_url

from ansible_collections.aks.tunnel.plugins.module_utils import _retry
from ansible_collections.aks.tunnel.plugins.module_utils._counter import PROCESS_RETRY_STATS, RequestCounter

AZURE_SDK_IMPORT_ERROR = None
try:
    from azure.core.exceptions import AzureError, ClientAuthenticationError, ServiceRequestError, ServiceResponseError
    from azure.core.pipeline.policies import RequestHistory, RetryPolicy, SansIOHTTPPolicy
    HAS_AZURE_SDK = True
except ImportError as exc:  # pragma: no cover - exercised by the sanity import test
    HAS_AZURE_SDK = False
    AZURE_SDK_IMPORT_ERROR = exc
    AzureError = ClientAuthenticationError = ServiceRequestError = ServiceResponseError = RequestHistory = None
    SansIOHTTPPolicy = RetryPolicy = object

AZURE_REQUIREMENTS = 'azure-identity, azure-mgmt-network, azure-mgmt-compute, azure-mgmt-containerservice and azure-mgmt-monitor'

CLOUDS = {
    'azurecloud': {'arm_endpoint': 'https://management.azure.com', 'authority_host': 'https://login.microsoftonline.com',
                   'scope': 'https://management.azure.com/.default'},
    'azurechinacloud': {'arm_endpoint': 'https://management.chinacloudapi.cn', 'authority_host': 'https://login.chinacloudapi.cn',
                        'scope': 'https://management.chinacloudapi.cn/.default'},
    'azureusgovernment': {'arm_endpoint': 'https://management.usgovcloudapi.net', 'authority_host': 'https://login.microsoftonline.us',
                          'scope': 'https://management.usgovcloudapi.net/.default'},
}

AZURE_AUTH_ARGSPEC = dict(
    auth_source=dict(type='str', default='auto', choices=['auto', 'cli', 'credential_file', 'env', 'msi']),
    profile=dict(type='str'),
    subscription_id=dict(type='str'),
    client_id=dict(type='str'),
    secret=dict(type='str', no_log=True),
    tenant=dict(type='str'),
    cloud_environment=dict(type='str', default='AzureCloud'),
    arm_endpoint=dict(type='str'),
    authority_host=dict(type='str'),
    ca_path=dict(type='path'),
    api_retry_deadline=dict(type='float'),
)

# Environment variables read for each option; the first one set wins. Both azcollection's and
# azure-identity's spellings are accepted.
AZURE_ENV = {
    'profile': ('AZURE_PROFILE',),
    'subscription_id': ('AZURE_SUBSCRIPTION_ID',),
    'client_id': ('AZURE_CLIENT_ID',),
    'secret': ('AZURE_SECRET', 'AZURE_CLIENT_SECRET'),
    'tenant': ('AZURE_TENANT', 'AZURE_TENANT_ID'),
    'cloud_environment': ('AZURE_CLOUD_ENVIRONMENT',),
    'arm_endpoint': ('AZURE_ARM_ENDPOINT',),
    'authority_host': ('AZURE_AUTHORITY_HOST',),
    'ca_path': ('AZURE_CA_PATH',),
}

CREDENTIALS_FILE = os.path.join('~', '.azure', 'credentials')


class AzureConfigError(ValueError):
    """The Azure auth options are incomplete or contradictory; the message says how to fix it."""


def _env(environ, option):
    for name in AZURE_ENV.get(option, ()):
        if environ.get(name):
            return environ[name]
    return None


def read_credentials_file(path, profile):
    """Return the options of one section of an azcollection-style credentials file, or None."""
    path = os.path.expanduser(path)
    if not os.path.isfile(path):
        return None
    parser = configparser.ConfigParser()
    try:
        parser.read(path)
    except configparser.Error as exc:
        raise AzureConfigError('cannot parse %s: %s' % (path, exc)) from None
    if not parser.has_section(profile):
        return None
    return dict(parser.items(profile))


def _service_principal(values, origin, kind='service_principal'):
    return {'kind': kind, 'source': origin, 'client_id': values.get('client_id'), 'secret': values.get('secret'),
            'tenant': values.get('tenant'), 'subscription_id': values.get('subscription_id')}


def cli_config_dir(environ):
    """The Azure CLI's configuration directory, as az finds it: $AZURE_CONFIG_DIR, else ~/.azure."""
    return os.path.expanduser(environ.get('AZURE_CONFIG_DIR') or os.path.join('~', '.azure'))


def cli_default_subscription(environ):
    """The subscription `az account show` shows: {id, name, tenant, path}, or None when the CLI has none.

    az keeps its login in <config dir>/azureProfile.json (UTF-8 with a byte order mark): the subscription marked
    `isDefault` is the current one (`az account set` moves the mark). With several clouds registered each has its own
    default; the one of the active cloud (`[cloud] name` of <config dir>/config, default AzureCloud) is taken, as az does.
    """
    directory = cli_config_dir(environ)
    path = os.path.join(directory, 'azureProfile.json')
    try:
        with open(path, encoding='utf-8-sig') as handle:
            profile = json.load(handle)
    except (OSError, ValueError):
        return None
    defaults = [s for s in (profile.get('subscriptions') or []) if isinstance(s, dict) and s.get('isDefault') and s.get('id')]
    if len(defaults) > 1:
        config = configparser.ConfigParser()
        try:
            config.read(os.path.join(directory, 'config'), encoding='utf-8')
            cloud = config.get('cloud', 'name', fallback='AzureCloud')
        except configparser.Error:
            cloud = 'AzureCloud'
        defaults = [s for s in defaults if s.get('environmentName') == cloud] or defaults[:1]
    if not defaults:
        return None
    chosen = defaults[0]
    return {'id': chosen['id'], 'name': chosen.get('name'), 'tenant': chosen.get('tenantId'), 'path': path}


# The playbook variables (roles aks.tunnel.diagnose / remediate) that carry each Azure option, for messages.
PLAYBOOK_VARIABLES = {
    'subscription_id': 'aks_tunnel_subscription_id (or aks_tunnel_azure_auth.subscription_id)',
}


def resolve_settings(params, environ=None, credentials_file=CREDENTIALS_FILE):
    """Turn module parameters (+ environment, credentials file, Azure CLI profile) into connection settings.

    Precedence with auth_source=auto (as azure.azcollection): a `profile` parameter, explicit
    client_id parameters, AZURE_CLIENT_ID in the environment, the [default] profile of the
    credentials file, then the Azure CLI login. Each field of a service principal falls back to its
    environment variable. With the Azure CLI login and no subscription given anywhere, the CLI's current
    subscription is used (as `az` does). Returns a dict: kind (service_principal|msi|cli), source,
    subscription_id, subscription_source (where the subscription came from), subscription_name (CLI only),
    client_id, secret, tenant, ca_path, arm_endpoint, authority_host, scope.
    """
    environ = os.environ if environ is None else environ
    source = params.get('auth_source') or 'auto'
    merged = {key: params.get(key) or _env(environ, key) for key in ('subscription_id', 'client_id', 'secret', 'tenant')}
    profile = params.get('profile') or (_env(environ, 'profile') if source == 'credential_file' else None)

    if source == 'msi':
        settings = _service_principal(merged, 'managed identity', kind='msi')
    elif source == 'cli':
        settings = _service_principal(merged, 'Azure CLI login', kind='cli')
    elif source == 'env':
        settings = _service_principal(merged, 'environment variables')
    elif profile or source == 'credential_file':
        name = profile or 'default'
        section = read_credentials_file(credentials_file, name)
        if section is None:
            raise AzureConfigError('profile [%s] was not found in %s' % (name, credentials_file))
        settings = _service_principal(section, 'credentials file profile %s' % name)
    elif params.get('client_id'):
        settings = _service_principal(merged, 'module parameters')
    elif _env(environ, 'client_id'):
        settings = _service_principal(merged, 'environment variables')
    else:
        section = read_credentials_file(credentials_file, 'default')
        if section is not None:
            settings = _service_principal(section, 'credentials file profile default')
        else:
            settings = _service_principal(merged, 'Azure CLI login', kind='cli')
    # An explicit subscription always wins over the one stored with the credentials.
    stored = settings['subscription_id']
    settings['subscription_name'] = None
    if params.get('subscription_id'):
        settings['subscription_id'], settings['subscription_source'] = params['subscription_id'], 'option subscription_id'
    elif stored and settings['source'].startswith('credentials file'):
        settings['subscription_source'] = settings['source']
    elif merged['subscription_id']:
        settings['subscription_id'], settings['subscription_source'] = merged['subscription_id'], 'environment variable AZURE_SUBSCRIPTION_ID'
    elif settings['kind'] == 'cli':
        current = cli_default_subscription(environ)
        if current is not None:
            settings['subscription_id'], settings['subscription_name'] = current['id'], current['name']
            settings['subscription_source'] = "the Azure CLI's current subscription (az account show, %s)" % current['path']
    settings['ca_path'] = params.get('ca_path') or _env(environ, 'ca_path')

    if settings['kind'] == 'service_principal':
        missing = [name for name in ('client_id', 'secret', 'tenant') if not settings[name]]
        if missing:
            raise AzureConfigError(
                'service principal credentials from %s lack %s; set them in the playbook variable aks_tunnel_azure_auth (module options %s) '
                'or the environment variable(s) %s'
                % (settings['source'], ', '.join(missing), ', '.join(missing), ', '.join(' or '.join(AZURE_ENV[name]) for name in missing)))
    if not settings['subscription_id']:
        where = ('; the Azure CLI has no current subscription in %s (run `az login`, then `az account set --subscription ID`)'
                 % os.path.join(cli_config_dir(environ), 'azureProfile.json') if settings['kind'] == 'cli' else '')
        raise AzureConfigError('subscription_id is required: set the playbook variable %s (module option subscription_id), AZURE_SUBSCRIPTION_ID, '
                               'or subscription_id in %s%s' % (PLAYBOOK_VARIABLES['subscription_id'], CREDENTIALS_FILE, where))
    settings.update(resolve_cloud(params, environ, settings['ca_path']))
    try:
        settings['retry_deadline'] = _retry.resolve_retry_deadline(params, environ)
    except _retry.RetryDeadlineError as exc:
        raise AzureConfigError(str(exc)) from None
    return settings


def describe_subscription(settings):
    """What a module result says about the subscription it used: {id, name, source, auth}."""
    return {'id': settings.get('subscription_id'), 'name': settings.get('subscription_name'),
            'source': settings.get('subscription_source'), 'auth': settings.get('source')}


def resolve_cloud(params, environ, ca_path=None, timeout=30):
    """ARM endpoint, authority and token scope for the configured cloud (name or metadata URL)."""
    cloud = params.get('cloud_environment') or _env(environ, 'cloud_environment') or 'AzureCloud'
    arm = params.get('arm_endpoint') or _env(environ, 'arm_endpoint')
    authority = params.get('authority_host') or _env(environ, 'authority_host')
    known = CLOUDS.get(cloud.lower())
    if known is None and re.match(r'^https://', cloud):
        # Azure Stack style: the URL is the ARM endpoint and publishes its metadata.
        url = cloud.rstrip('/') + '/metadata/endpoints?api-version=2015-01-01'
        try:
            response = open_url(url, timeout=timeout, ca_path=os.path.expanduser(ca_path) if ca_path else None)
            metadata = json.loads(response.read().decode('utf-8'))
        except (OSError, ValueError) as exc:
            raise AzureConfigError('cannot read cloud metadata from %s: %s' % (url, exc)) from None
        auth = metadata.get('authentication') or {}
        audiences = auth.get('audiences') or [cloud]
        known = {'arm_endpoint': cloud.rstrip('/'), 'authority_host': (auth.get('loginEndpoint') or '').rstrip('/'),
                 'scope': audiences[0].rstrip('/') + '/.default'}
    elif known is None:
        raise AzureConfigError('unknown cloud_environment %r; use AzureCloud, AzureChinaCloud, AzureUSGovernment or a metadata URL' % cloud)
    result = dict(known)
    if arm:
        result['arm_endpoint'] = arm.rstrip('/')
        result['scope'] = result['arm_endpoint'] + '/.default'
    if authority:
        result['authority_host'] = authority.rstrip('/')
    for key in ('arm_endpoint', 'authority_host'):
        if not result[key].startswith('https://'):
            raise AzureConfigError('%s must be an https:// URL, got %r' % (key, result[key]))
    return result


def transport_kwargs(settings, timeout):
    """Keyword arguments every SDK client and credential gets: CA bundle and per-call timeouts."""
    kwargs = {'connection_timeout': min(timeout, 30), 'read_timeout': timeout}
    if settings.get('ca_path'):
        kwargs['connection_verify'] = os.path.expanduser(settings['ca_path'])
    return kwargs


def build_credential(settings, timeout=60):
    """azure-identity credential for the resolved settings."""
    from azure.identity import AzureCliCredential, ClientSecretCredential, ManagedIdentityCredential  # pylint: disable=import-outside-toplevel
    kwargs = transport_kwargs(settings, timeout)
    if settings['kind'] == 'service_principal':
        return ClientSecretCredential(settings['tenant'], settings['client_id'], settings['secret'],
                                      authority=settings['authority_host'], disable_instance_discovery=True, **kwargs)
    if settings['kind'] == 'msi':
        return ManagedIdentityCredential(client_id=settings.get('client_id'), **kwargs)
    return AzureCliCredential(tenant_id=settings.get('tenant'), process_timeout=timeout)


class RequestCountingPolicy(SansIOHTTPPolicy):
    """azure-core pipeline policy that counts every HTTP request it sees.

    Installed with `per_retry_policies`, so it sits after the RetryPolicy: each attempt (first try,
    retry, redirect, LRO poll, next page) passes it once. The credential's token requests use the
    credential's own pipeline and are not counted.
    """

    def __init__(self, counter):
        super().__init__()
        self.counter = counter

    def on_request(self, request):
        self.counter.add()


def _is_tls_error(error):
    return isinstance(error, ssl.SSLError) or any(cls.__name__ in ('SSLError', 'CertificateError') for cls in type(error).__mro__)


def azure_error_kind(error):
    """The _retry error kind of an azure-core exception raised without an HTTP response."""
    inner = getattr(error, 'inner_exception', None)
    if isinstance(error, ServiceRequestError):
        # No inner exception: raised by a policy (e.g. "bearer token over http"), a configuration error.
        if inner is None or _is_tls_error(inner):
            return _retry.ERROR_OTHER
        return _retry.ERROR_CONNECT
    if isinstance(error, ServiceResponseError):
        return _retry.ERROR_READ
    return _retry.ERROR_OTHER


class DeadlineRetryPolicy(RetryPolicy):
    """azure-core RetryPolicy that retries until a time budget is spent, not a number of times (rules in _retry.py).

    azure-core's own policy (1.41) makes at most 3 status retries, sleeps any Retry-After literally even
    past its `timeout`, and uses no jitter; this one replaces its `send` loop and keeps its option
    parsing, so per-call `retry_*` keyword arguments are still consumed. Every 429, retry and wait is
    added to `stats`.
    """

    def __init__(self, deadline=_retry.DEFAULT_RETRY_DEADLINE_S, stats=None, clock=time.monotonic, rand=random.random, sleep=None):
        super().__init__()
        self.deadline = float(deadline)
        self.stats = stats if stats is not None else PROCESS_RETRY_STATS
        self._clock = clock
        self._rand = rand
        self._sleep = sleep

    @staticmethod
    def _rewind(request, settings):
        body = request.http_request.body
        if body is None or not hasattr(body, 'read'):
            return True
        if settings.get('body_position') is None:
            return False
        try:
            body.seek(settings['body_position'])
        except (OSError, ValueError, AttributeError):
            return False
        return True

    def _wait(self, transport, delay):
        self.stats.add_retry(delay)
        if self._sleep is not None:
            self._sleep(delay)
        else:
            transport.sleep(delay)

    def send(self, request):
        settings = self.configure_retries(request.context.options)
        self._configure_positions(request, settings)
        state = _retry.RetryState(self.deadline, _retry.ARM_IDEMPOTENT_METHODS, self._clock, self._rand)
        transport = request.context.transport
        method = request.http_request.method
        while True:
            request.context['retry_count'] = state.retries
            try:
                response = self.next.send(request)
            except ClientAuthenticationError:
                raise
            except AzureError as err:
                delay = state.decide(method, error=azure_error_kind(err))
                if delay is None or not self._rewind(request, settings):
                    raise
                settings['history'].append(RequestHistory(request.http_request, error=err))
                self._wait(transport, delay)
                continue
            status = response.http_response.status_code
            if status == _retry.THROTTLED:
                self.stats.add_throttled()
            if status < 400:
                break
            delay = state.decide(method, status=status, retry_after=_retry.parse_retry_after(response.http_response.headers))
            if delay is None or not self._rewind(request, settings):
                break
            settings['history'].append(RequestHistory(request.http_request, http_response=response.http_response))
            self._wait(transport, delay)
        self.update_context(response.context, settings)
        return response


class AzureClients:
    """Lazily built management clients sharing one credential (clients are thread-safe).

    `request_count` is the number of HTTP requests all clients sent to ARM so far. Each request is
    retried on throttling, 5xx and connection errors for up to `settings['retry_deadline']` seconds
    (DeadlineRetryPolicy); `stats` (default: the process's RetryStats) gets the 429s, retries and waits.
    """

    def __init__(self, settings, timeout=60, stats=None):
        self.settings = settings
        self.timeout = timeout
        self.retry_deadline = settings.get('retry_deadline', _retry.DEFAULT_RETRY_DEADLINE_S)
        self.stats = stats if stats is not None else PROCESS_RETRY_STATS
        _retry.note_active_deadline(self.retry_deadline)
        self._credential = None
        self._clients = {}
        self._counter = RequestCounter()
        self._lock = threading.Lock()

    @property
    def request_count(self):
        """HTTP requests sent to ARM by every client of this object (retries, LRO polls and pages included)."""
        return self._counter.value

    @property
    def subscription_id(self):
        return self.settings['subscription_id']

    def _client(self, name, factory):
        # Worker threads may ask for a client first: build each one once.
        with self._lock:
            if name not in self._clients:
                if self._credential is None:
                    self._credential = build_credential(self.settings, self.timeout)
                kwargs = transport_kwargs(self.settings, self.timeout)
                kwargs.update(base_url=self.settings['arm_endpoint'], credential_scopes=[self.settings['scope']],
                              retry_policy=DeadlineRetryPolicy(self.retry_deadline, self.stats), polling_interval=2,
                              per_retry_policies=[RequestCountingPolicy(self._counter)])
                self._clients[name] = factory(self._credential, self.subscription_id, **kwargs)
            return self._clients[name]

    @property
    def network(self):
        from azure.mgmt.network import NetworkManagementClient  # pylint: disable=import-outside-toplevel
        return self._client('network', NetworkManagementClient)

    def network_for(self, subscription_id):
        """The network client of another subscription of the tenant (a hub's Azure Firewall, issue 16): same credential, retry
        deadline and request counting; the run's own client for its own subscription or None."""
        if not subscription_id or subscription_id.lower() == str(self.subscription_id).lower():
            return self.network
        from azure.mgmt.network import NetworkManagementClient  # pylint: disable=import-outside-toplevel

        def factory(credential, _own_subscription, **kwargs):
            return NetworkManagementClient(credential, subscription_id, **kwargs)
        return self._client('network:' + subscription_id.lower(), factory)

    @property
    def compute(self):
        from azure.mgmt.compute import ComputeManagementClient  # pylint: disable=import-outside-toplevel
        return self._client('compute', ComputeManagementClient)

    @property
    def containerservice(self):
        from azure.mgmt.containerservice import ContainerServiceClient  # pylint: disable=import-outside-toplevel
        return self._client('containerservice', ContainerServiceClient)

    @property
    def monitor(self):
        from azure.mgmt.monitor import MonitorManagementClient  # pylint: disable=import-outside-toplevel
        return self._client('monitor', MonitorManagementClient)

    def close(self):
        for client in self._clients.values():
            try:
                client.close()
            except Exception:  # pylint: disable=broad-except
                pass
        if self._credential is not None and hasattr(self._credential, 'close'):
            self._credential.close()


_HINTS = {
    401: 'Azure rejected the credentials: check client_id, secret and tenant (or the AZURE_* environment variables) and that the secret has not expired.',
    403: 'The identity is not allowed to do this. Grant it the permission named above on that scope (docs/usage.md, section Permissions).',
    404: ('Check the resource group and resource names, and that the subscription is the one that holds them '
          '(playbook variable aks_tunnel_subscription_id, module option subscription_id).'),
    409: 'Another operation holds the resource; retry when it has finished.',
    429: ('Azure Resource Manager throttled the requests (HTTP 429) for longer than the retry deadline allows: ' + _retry.RETRY_OPTION_HINT
          + ', lower the concurrency, or run fewer jobs against this subscription at once.'),
}
_SERVER_ERROR_HINT = ('Azure Resource Manager answered with a server error; requests that are safe to repeat were retried until the '
                      'retry deadline. Retry later, or ' + _retry.RETRY_OPTION_HINT + '.')

_ACTION_RE = re.compile(r"perform action '([^']+)' over scope '([^']+)'")


def node_resource_group_hint(resource_group):
    """The hint for a cluster looked up in its node resource group (MC_<rg>_<cluster>_<region>), or None."""
    if resource_group and re.match(r'^MC_', resource_group, re.IGNORECASE):
        return ('%s is the node resource group AKS keeps the nodes in; give the cluster\'s own resource group (playbook variable '
                'aks_tunnel_resource_group, module option resource_group), see `az aks list -o table`.' % resource_group)
    return None


def describe_azure_error(exc, doing, retry_deadline=None, hint_404=None):
    """A one-paragraph message for an Azure SDK exception: what failed, ARM code and message, hint.

    `retry_deadline` (seconds) is shown in the hint of throttling and server errors; default: the
    value the clients of this process use. `hint_404` replaces the generic hint of a 404.
    """
    shown = retry_deadline if retry_deadline is not None else _retry.active_deadline()
    status = getattr(exc, 'status_code', None)
    error = getattr(exc, 'error', None)
    code = getattr(error, 'code', None) if error is not None else None
    message = getattr(error, 'message', None) if error is not None else None
    if not message:
        message = str(getattr(exc, 'message', None) or exc).strip().splitlines()[0] if str(exc).strip() else exc.__class__.__name__
    parts = ['Failed to %s' % doing]
    if status:
        parts.append('HTTP %s' % status)
    head = ' ('.join([parts[0], ', '.join(parts[1:]) + ')']) if len(parts) > 1 else parts[0]
    text = '%s: %s%s' % (head, '%s: ' % code if code else '', message)
    hint = None
    if HAS_AZURE_SDK and isinstance(exc, ClientAuthenticationError) and status is None:
        hint = _HINTS[401]
    elif status == 404 and hint_404:
        hint = hint_404
    elif status in _HINTS:
        hint = _HINTS[status]
        if status == 429:
            hint = hint % _retry.format_seconds(shown)
        match = _ACTION_RE.search(message or '')
        if status == 403 and match:
            hint = 'The identity lacks the permission %s on %s. Grant a role that includes it (see docs/usage.md, section Permissions).' % match.groups()
    elif status in (500, 502, 503, 504):
        hint = _SERVER_ERROR_HINT % _retry.format_seconds(shown)
    elif HAS_AZURE_SDK and isinstance(exc, (ServiceRequestError, ServiceResponseError)):
        hint = 'Azure Resource Manager could not be reached: check arm_endpoint/cloud_environment, the network path and ca_path.'
    if status in (429, 500, 502, 503, 504):
        hint = _retry.retry_hint(hint)
    return text + (' ' + hint if hint else '')
