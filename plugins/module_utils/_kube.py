# -*- coding: utf-8 -*-
# Copyright (c) 2026 aks.tunnel contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Kubernetes adapter: auth options as kubernetes.core names them, API client, error messages.

The `kubernetes` package is imported lazily and guarded so sanity `import` passes without it.
"""

from __future__ import annotations

import json
import os

from ansible_collections.aks.tunnel.plugins.module_utils._counter import RequestCounter

KUBE_IMPORT_ERROR = None
try:
    import kubernetes  # noqa: F401  pylint: disable=unused-import
    from kubernetes.client.exceptions import ApiException
    HAS_KUBERNETES = True
except ImportError as exc:  # pragma: no cover - exercised by the sanity import test
    HAS_KUBERNETES = False
    KUBE_IMPORT_ERROR = exc
    ApiException = None

KUBE_AUTH_ARGSPEC = dict(
    kubeconfig=dict(type='path'),
    context=dict(type='str'),
    host=dict(type='str'),
    api_key=dict(type='str', no_log=True),
    ca_cert=dict(type='path', aliases=['ssl_ca_cert']),
    validate_certs=dict(type='bool', aliases=['verify_ssl']),
)

# kubernetes.core's variables, with its legacy spellings.
KUBE_ENV = {
    'kubeconfig': ('K8S_AUTH_KUBECONFIG',),
    'context': ('K8S_AUTH_CONTEXT',),
    'host': ('K8S_AUTH_HOST',),
    'api_key': ('K8S_AUTH_API_KEY',),
    'ca_cert': ('K8S_AUTH_SSL_CA_CERT', 'K8S_AUTH_CA_CERT'),
    'validate_certs': ('K8S_AUTH_VERIFY_SSL', 'K8S_AUTH_VALIDATE_CERTS'),
}


class KubeConfigError(ValueError):
    """The Kubernetes auth options cannot be turned into a client; the message says why."""


def _truthy(value):
    if isinstance(value, bool):
        return value
    return str(value).strip().lower() in ('1', 'true', 'yes', 'on')


def resolve_kube_settings(params, environ=None):
    """Options merged with K8S_AUTH_* variables (options win)."""
    environ = os.environ if environ is None else environ
    settings = {}
    for key, names in KUBE_ENV.items():
        value = params.get(key)
        if value is None:
            value = next((environ[name] for name in names if environ.get(name)), None)
        settings[key] = value
    if settings['validate_certs'] is not None:
        settings['validate_certs'] = _truthy(settings['validate_certs'])
    if settings['kubeconfig']:
        settings['kubeconfig'] = os.path.expanduser(settings['kubeconfig'])
    return settings


def build_api_client(params, environ=None, timeout=30):
    """kubernetes.client.ApiClient from kubeconfig/context, overridden by host/api_key/ca_cert/validate_certs."""
    from kubernetes import client, config  # pylint: disable=import-outside-toplevel
    from kubernetes.config.config_exception import ConfigException  # pylint: disable=import-outside-toplevel
    settings = resolve_kube_settings(params, environ)
    configuration = client.Configuration()
    if settings['kubeconfig'] or settings['context'] or not (settings['host'] and settings['api_key']):
        path = settings['kubeconfig'] or os.path.expanduser(os.path.join('~', '.kube', 'config'))
        if not os.path.isfile(path):
            raise KubeConfigError('kubeconfig %s does not exist; give kubeconfig, or host and api_key' % path)
        try:
            config.load_kube_config(config_file=path, context=settings['context'], client_configuration=configuration, persist_config=False)
        except (ConfigException, ValueError, TypeError, OSError) as exc:
            raise KubeConfigError('cannot load kubeconfig %s%s: %s' % (
                path, ' (context %s)' % settings['context'] if settings['context'] else '', exc)) from None
    if settings['host']:
        configuration.host = settings['host']
    if settings['api_key']:
        configuration.api_key = {'BearerToken': 'Bearer ' + settings['api_key']}
    if settings['ca_cert']:
        configuration.ssl_ca_cert = os.path.expanduser(settings['ca_cert'])
    if settings['validate_certs'] is not None:
        configuration.verify_ssl = settings['validate_certs']
    if not configuration.host:
        raise KubeConfigError('no Kubernetes API server: give host, or a kubeconfig with a current context')
    api_client = client.ApiClient(configuration)
    api_client.aks_tunnel_timeout = timeout
    count_requests(api_client)
    return api_client


def _attempts(response):
    """HTTP requests behind one urllib3 response: 1 + the retries and redirects urllib3 made on its own."""
    history = getattr(getattr(response, 'retries', None), 'history', None)
    return 1 + (len(history) if isinstance(history, tuple) else 0)


def count_requests(api_client):
    """Count every HTTP request `api_client` sends; returns the RequestCounter (wraps the client once).

    The wrapper sits on the REST client's urllib3 pool manager, below the kubernetes client's own
    retry loop (client-go style Retry-After retries) and above urllib3's retries, whose attempts are
    read from the response's retry history. So every list page, retry, conflict retry of a module and
    redirect counts once. A request that fails without any response (connection error) counts once.
    """
    counter = getattr(api_client, 'aks_tunnel_request_counter', None)
    if counter is not None:
        return counter
    counter = RequestCounter()
    pool = api_client.rest_client.pool_manager
    send = pool.request

    def counted_request(*args, **kwargs):
        attempts = 1
        try:
            response = send(*args, **kwargs)
            attempts = _attempts(response)
            return response
        finally:
            counter.add(attempts)

    pool.request = counted_request
    api_client.aks_tunnel_request_counter = counter
    return counter


def request_count(api_client):
    """HTTP requests `api_client` has sent so far (0 when it is not counted, e.g. a test double)."""
    counter = getattr(api_client, 'aks_tunnel_request_counter', None)
    return counter.value if counter is not None else 0


def request_timeout(api_client):
    """The `_request_timeout` to pass on every call: (connect, read) seconds."""
    timeout = getattr(api_client, 'aks_tunnel_timeout', 30)
    return (min(timeout, 10), timeout)


_HINTS = {
    401: 'The Kubernetes API rejected the credentials: refresh the kubeconfig (az aks get-credentials) or the token.',
    403: 'The user is not allowed to do this: grant the Kubernetes RBAC permission named above (see docs/usage.md, section Permissions).',
    404: 'The object does not exist: check the name and namespace.',
    409: 'The object changed meanwhile (resourceVersion conflict); read it again before writing.',
    429: 'The API server throttled the requests; retry later.',
}


def describe_kube_error(exc, doing):
    """A one-paragraph message for a kubernetes client exception: what failed, Status message, hint."""
    if HAS_KUBERNETES and isinstance(exc, ApiException):
        message = exc.reason or ''
        reason = None
        try:
            body = json.loads(exc.body) if exc.body else {}
            message = body.get('message') or message
            reason = body.get('reason')
        except (TypeError, ValueError):
            pass
        text = 'Failed to %s (HTTP %s): %s%s' % (doing, exc.status, '%s: ' % reason if reason else '', message)
        hint = _HINTS.get(exc.status)
        return text + (' ' + hint if hint else '')
    return 'Failed to %s: %s. Check that the Kubernetes API server is reachable (host, kubeconfig, ca_cert).' % (doing, exc)


# Added for the konnectivity modules (issue 6): raw-JSON reads and paged lists.

def read_json(call, *args, **kwargs):
    """Run a kubernetes client read/list call and return the API's JSON as plain dicts (no model round trip)."""
    kwargs['_preload_content'] = False
    response = call(*args, **kwargs)
    data = response.data
    return json.loads(data.decode('utf-8') if isinstance(data, bytes) else data)


def read_or_none(call, *args, **kwargs):
    """read_json(), or None when the object does not exist (404)."""
    try:
        return read_json(call, *args, **kwargs)
    except ApiException as exc:
        if exc.status == 404:
            return None
        raise


def list_all(call, *args, page_size=500, **kwargs):
    """All items of a list call, following `continue` tokens `page_size` items at a time."""
    items = []
    token = None
    while True:
        page = read_json(call, *args, limit=page_size, _continue=token, **kwargs)
        items.extend(page.get('items') or [])
        token = (page.get('metadata') or {}).get('continue')
        if not token:
            return items
