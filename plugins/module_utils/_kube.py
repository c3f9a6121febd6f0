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
import random
import ssl
import time

from ansible_collections.aks.tunnel.plugins.module_utils import _retry
from ansible_collections.aks.tunnel.plugins.module_utils._counter import PROCESS_RETRY_STATS, RequestCounter

KUBE_IMPORT_ERROR = None
try:
    import kubernetes  # noqa: F401  pylint: disable=unused-import
    from kubernetes.client.exceptions import ApiException
    from urllib3.exceptions import ConnectTimeoutError, HTTPError as Urllib3Error, MaxRetryError, ProtocolError, ProxyError, ReadTimeoutError
    from urllib3.util.retry import Retry
    HAS_KUBERNETES = True
except ImportError as exc:  # pragma: no cover - exercised by the sanity import test
    HAS_KUBERNETES = False
    KUBE_IMPORT_ERROR = exc
    ApiException = Retry = None
    ConnectTimeoutError = Urllib3Error = MaxRetryError = ProtocolError = ProxyError = ReadTimeoutError = None

KUBE_AUTH_ARGSPEC = dict(
    kubeconfig=dict(type='path'),
    context=dict(type='str'),
    host=dict(type='str'),
    api_key=dict(type='str', no_log=True),
    ca_cert=dict(type='path', aliases=['ssl_ca_cert']),
    validate_certs=dict(type='bool', aliases=['verify_ssl']),
    api_retry_deadline=dict(type='float'),
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
            raise KubeConfigError('kubeconfig %s does not exist; give kubeconfig (playbook variable aks_tunnel_kubeconfig, or %s), '
                                  'or host and api_key (playbook variable aks_tunnel_kube_auth: {host: URL, api_key: TOKEN})'
                                  % (path, KUBE_ENV['kubeconfig'][0]))
        try:
            config.load_kube_config(config_file=path, context=settings['context'], client_configuration=configuration, persist_config=False)
        except (ConfigException, ValueError, TypeError, OSError) as exc:
            raise KubeConfigError('cannot load kubeconfig %s%s: %s (playbook variable aks_tunnel_kubeconfig%s)' % (
                path, ' (context %s)' % settings['context'] if settings['context'] else '', exc,
                ', context from aks_tunnel_kube_auth.context' if settings['context'] else '')) from None
    if settings['host']:
        configuration.host = settings['host']
    if settings['api_key']:
        configuration.api_key = {'BearerToken': 'Bearer ' + settings['api_key']}
    if settings['ca_cert']:
        configuration.ssl_ca_cert = os.path.expanduser(settings['ca_cert'])
    if settings['validate_certs'] is not None:
        configuration.verify_ssl = settings['validate_certs']
    if not configuration.host:
        raise KubeConfigError('no Kubernetes API server: give host (playbook variable aks_tunnel_kube_auth.host), or a kubeconfig with a '
                              'current context (aks_tunnel_kubeconfig, plus aks_tunnel_kube_auth.context to pick one)')
    try:
        retry_deadline = _retry.resolve_retry_deadline(params, os.environ if environ is None else environ)
    except _retry.RetryDeadlineError as exc:
        raise KubeConfigError(str(exc)) from None
    api_client = client.ApiClient(configuration)
    api_client.aks_tunnel_timeout = timeout
    count_requests(api_client, retry_deadline=retry_deadline)
    return api_client


def _attempts(response):
    """HTTP requests behind one urllib3 response: 1 + the retries and redirects urllib3 made on its own."""
    history = getattr(getattr(response, 'retries', None), 'history', None)
    return 1 + (len(history) if isinstance(history, tuple) else 0)


def _is_tls_error(error):
    return isinstance(error, ssl.SSLError) or any(cls.__name__ in ('SSLError', 'CertificateError') for cls in type(error).__mro__)


def kube_error_kind(error):
    """The _retry error kind of an exception urllib3 raised instead of a response."""
    reason = error.reason if isinstance(error, MaxRetryError) and error.reason is not None else error
    if isinstance(reason, ProxyError) and getattr(reason, 'original_error', None) is not None:
        reason = reason.original_error
    if _is_tls_error(reason):
        return _retry.ERROR_OTHER
    if isinstance(reason, ConnectTimeoutError):   # NewConnectionError and NameResolutionError too: nothing was sent
        return _retry.ERROR_CONNECT
    if isinstance(reason, (ReadTimeoutError, ProtocolError)):
        return _retry.ERROR_READ
    return _retry.ERROR_OTHER


def _release(response):
    try:
        response.drain_conn()
        response.release_conn()
    except Exception:  # pylint: disable=broad-except
        pass


def count_requests(api_client, retry_deadline=None, stats=None, clock=time.monotonic, rand=random.random, sleep=time.sleep):
    """Count and retry every HTTP request `api_client` sends; returns the RequestCounter (wraps the client once).

    The wrapper sits on the REST client's urllib3 pool manager, so every list page, watch, write and
    conflict retry of a module passes it. Retries (rules in _retry.py: 429 and 503 for every method,
    other 5xx and read errors for reads only, connection errors before sending for every method) are
    made here, until `retry_deadline` seconds after the first attempt; urllib3's own status and error
    retries are switched off so that nothing is retried twice, and the kubernetes client's optional
    client-go retry loop (off by default) only ever sees the final answer. Every attempt counts once,
    plus the redirects urllib3 followed (its retry history). 429s, retries and waits go to `stats`.
    """
    counter = getattr(api_client, 'aks_tunnel_request_counter', None)
    if counter is not None:
        return counter
    counter = RequestCounter()
    stats = stats if stats is not None else PROCESS_RETRY_STATS
    deadline = _retry.DEFAULT_RETRY_DEADLINE_S if retry_deadline is None else float(retry_deadline)
    _retry.note_active_deadline(deadline)
    pool = api_client.rest_client.pool_manager
    send = pool.request
    # urllib3 still follows redirects; statuses and errors are decided by the loop below.
    no_retries = Retry(total=None, connect=0, read=0, status=0, other=0, redirect=5, respect_retry_after_header=False)

    def counted_request(method, url, *args, **kwargs):
        kwargs['retries'] = no_retries
        state = _retry.RetryState(deadline, _retry.KUBE_IDEMPOTENT_METHODS, clock, rand)
        while True:
            attempts = 1
            try:
                response = send(method, url, *args, **kwargs)
            except Urllib3Error as exc:
                delay = state.decide(method, error=kube_error_kind(exc))
                if delay is None:
                    raise
                stats.add_retry(delay)
                sleep(delay)
                continue
            finally:
                counter.add(attempts)
            counter.add(_attempts(response) - 1)
            if response.status == _retry.THROTTLED:
                stats.add_throttled()
            if response.status < 400:
                return response
            delay = state.decide(method, status=response.status, retry_after=_retry.parse_retry_after(response.headers))
            if delay is None:
                return response
            _release(response)
            stats.add_retry(delay)
            sleep(delay)

    pool.request = counted_request
    api_client.aks_tunnel_request_counter = counter
    api_client.aks_tunnel_retry_deadline = deadline
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
    429: ('The API server throttled the requests (HTTP 429) for longer than the retry deadline allows: ' + _retry.RETRY_OPTION_HINT
          + ', or retry later.'),
}
_SERVER_ERROR_HINT = ('The API server answered with a server error; requests that are safe to repeat were retried until the retry '
                      'deadline. Retry later, or ' + _retry.RETRY_OPTION_HINT + '.')


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
        if exc.status == 429:
            hint = hint % _retry.format_seconds(_retry.active_deadline())
        elif exc.status in (500, 502, 503, 504):
            hint = _SERVER_ERROR_HINT % _retry.format_seconds(_retry.active_deadline())
        if exc.status in (429, 500, 502, 503, 504):
            hint = _retry.retry_hint(hint)
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
