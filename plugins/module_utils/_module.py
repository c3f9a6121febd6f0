# -*- coding: utf-8 -*-
# Copyright (c) 2026 aks.tunnel contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The one AnsibleModule wrapper every aks.tunnel module uses.

It merges the shared Azure/Kubernetes auth options into the module's argument spec, fails cleanly
when an SDK is missing, builds the clients once, and turns every SDK exception into a `fail_json`
with the service's code and message plus a hint - so no traceback ever reaches the user.
Every result (exit and fail) carries `api_calls: {arm, kube}`, the HTTP requests the module sent.
Only the main thread may call exit_json/fail_json/warn; workers return data.
"""

from __future__ import annotations

import contextlib
import os
import traceback

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.aks.tunnel.plugins.module_utils import _azure
from ansible_collections.aks.tunnel.plugins.module_utils import _counter
from ansible_collections.aks.tunnel.plugins.module_utils import _kube
from ansible_collections.aks.tunnel.plugins.module_utils import _kube_access
from ansible_collections.aks.tunnel.plugins.module_utils import _retry


class AksTunnelModule:
    """AnsibleModule plus lazily built Azure clients and Kubernetes ApiClient."""

    def __init__(self, argument_spec, azure=False, kube=False, **kwargs):
        spec = dict(argument_spec)
        if azure:
            spec.update(_azure.AZURE_AUTH_ARGSPEC)
        if kube:
            spec.update(_kube.KUBE_AUTH_ARGSPEC)
            spec.update(_kube_access.KUBE_ACCESS_ARGSPEC)
            if not azure:
                # the Azure options of a Kubernetes-only module: its Kubernetes access through ARM (issue 16); the Azure SDK is
                # needed only then
                spec.update(_azure.AZURE_AUTH_ARGSPEC)
        kwargs.setdefault('supports_check_mode', True)
        self.module = AnsibleModule(argument_spec=spec, **kwargs)
        self.params = self.module.params
        self.check_mode = self.module.check_mode
        self.diff_mode = self.module._diff  # pylint: disable=protected-access
        self._azure = None
        self._kube = None
        self._has_azure = azure
        # How Kubernetes was reached (issue 16): KubeAccess.as_dict() of the ARM paths, None for a kubeconfig.
        self.kube_access = None
        # The subscription the Azure clients use and where it came from (results say it: `azure_subscription`).
        self._subscription = None
        # Requests of clients already closed (close() drops the Azure clients; a later call builds new ones).
        self._closed_calls = {'arm': 0, 'kube': 0}
        if azure and not _azure.HAS_AZURE_SDK:
            self.fail(missing_required_lib(_azure.AZURE_REQUIREMENTS),
                      exception=''.join(traceback.format_exception(_azure.AZURE_SDK_IMPORT_ERROR)))
        if kube and not _kube.HAS_KUBERNETES:
            self.fail(missing_required_lib('kubernetes'), exception=''.join(traceback.format_exception(_kube.KUBE_IMPORT_ERROR)))

    @property
    def timeout(self):
        return self.params.get('api_timeout') or 60

    @property
    def azure(self):
        """AzureClients for the resolved auth settings (fails the task with the reason if incomplete)."""
        if self._azure is None:
            try:
                settings = _azure.resolve_settings(self.params)
            except _azure.AzureConfigError as exc:
                self.fail('Azure authentication settings: %s' % exc)
            if settings.get('secret'):
                self.module.no_log_values.add(settings['secret'])
            self._subscription = _azure.describe_subscription(settings)
            self._azure = _azure.AzureClients(settings, timeout=self.timeout)
        return self._azure

    @property
    def kube(self):
        """kubernetes ApiClient for the resolved kubeconfig/host/token, or through ARM (kube_access); fails the task with the reason."""
        if self._kube is None:
            client, reason = self.kube_or_reason()
            if client is None:
                self.fail(reason)
        return self._kube

    def _aks_target(self):
        """(resource group, cluster name) the module works on, from its options or its cluster_model; None when it has neither."""
        params = self.params
        if params.get('resource_group') and params.get('name'):
            return params['resource_group'], params['name']
        model = params.get('cluster_model')
        cluster = model.get('cluster') if isinstance(model, dict) and isinstance(model.get('cluster'), dict) else {}
        if cluster.get('resource_group') and cluster.get('name'):
            return cluster['resource_group'], cluster['name']
        return None

    def _azure_usable(self):
        """Whether Kubernetes access through ARM can be tried: the Azure SDK is there and the Azure settings resolve (a
        Kubernetes-only module without Azure settings keeps using ~/.kube/config, as before)."""
        if not _azure.HAS_AZURE_SDK:
            return False
        if self._has_azure or self.params.get('kube_access') in ('arm', 'run_command'):
            return True
        try:
            _azure.resolve_settings(self.params)
        except _azure.AzureConfigError:
            return False
        return True

    def _entra_token(self, scope):
        """An access token for `scope` from the module's azure-identity credential (the Entra path of issue 16)."""
        credential = _azure.build_credential(self.azure.settings, self.timeout)
        try:
            token = credential.get_token(scope).token
        finally:
            if hasattr(credential, 'close'):
                credential.close()
        self.module.no_log_values.add(token)
        return token

    def kube_or_reason(self):
        """(ApiClient, None), or (None, why there is no Kubernetes access) without failing the task."""
        if self._kube is not None:
            return self._kube, None
        target = self._aks_target()
        try:
            mode = _kube_access.choose_mode(self.params, arm_possible=target is not None and self._azure_usable())
            if mode == 'kubeconfig':
                self._kube = _kube.build_api_client(self.params, timeout=self.timeout)
            else:
                deadline = _retry.resolve_retry_deadline(self.params, os.environ)
                try:
                    self._kube, access = _kube_access.build_through_arm(self.azure, target[0], target[1], self.params, self.timeout,
                                                                        deadline, self._entra_token)
                except Exception as exc:  # pylint: disable=broad-except
                    doing = 'get Kubernetes access to %s/%s through Azure Resource Manager' % target
                    message = self.describe_exception(exc, doing)
                    if message is None:
                        raise
                    return None, message
                self.kube_access = access.as_dict()
        except (_kube.KubeConfigError, _kube_access.KubeAccessError, _retry.RetryDeadlineError) as exc:
            return None, 'Kubernetes authentication settings: %s' % exc
        key = self._kube.configuration.api_key or {}
        for value in key.values():
            if value:
                self.module.no_log_values.add(value.split(' ', 1)[-1])
        return self._kube, None

    @property
    def kube_timeout(self):
        return _kube.request_timeout(self.kube)

    @property
    def api_calls(self):
        """HTTP requests sent so far: {"arm": N, "kube": N} (0 for a client never built), retries included,
        plus the throttling figures of this module run (issue 17): {"throttled", "retries", "retry_wait_s"}."""
        arm = self._closed_calls['arm'] + (getattr(self._azure, 'request_count', 0) if self._azure is not None else 0)
        kube = self._closed_calls['kube'] + (_kube.request_count(self._kube) if self._kube is not None else 0)
        return dict({'arm': arm, 'kube': kube}, **_counter.PROCESS_RETRY_STATS.as_dict())

    def _add_subscription(self, result):
        if self._subscription is not None and 'azure_subscription' not in result:
            result['azure_subscription'] = self._subscription

    def fail(self, msg, **result):
        self.close()
        result['api_calls'] = self.api_calls
        self._add_subscription(result)
        self.module.fail_json(msg=msg, invocation=self._invocation(), **result)

    def exit(self, **result):
        self.close()
        result['api_calls'] = self.api_calls
        self._add_subscription(result)
        self.module.exit_json(invocation=self._invocation(), **result)

    def _invocation(self):
        """The module arguments the result echoes, without the cluster model (megabytes at 5000 nodes, and the caller has it)."""
        args = dict(self.params)
        model = args.get('cluster_model')
        if isinstance(model, dict):
            cluster = model.get('cluster') if isinstance(model.get('cluster'), dict) else {}
            args['cluster_model'] = 'aks_cluster_info result of %s/%s (%s nodes)' % (
                cluster.get('resource_group'), cluster.get('name'), len(model.get('nodes') or []))
        return {'module_args': args}

    def warn(self, msg):
        self.module.warn(msg)

    def close(self):
        if self._azure is not None:
            self._closed_calls['arm'] += getattr(self._azure, 'request_count', 0)
            self._azure.close()
            self._azure = None

    @contextlib.contextmanager
    def api_errors(self, doing, hint_404=None, **partial_result):
        """Fail the task with a clear message when an Azure or Kubernetes call inside raises.

        `partial_result` goes into the failure so callers can report what was done before; `hint_404`
        replaces the generic hint of an Azure 404.
        """
        try:
            yield
        except Exception as exc:  # pylint: disable=broad-except
            self.fail_from_exception(exc, doing, hint_404=hint_404, **partial_result)

    @staticmethod
    def describe_exception(exc, doing):
        """The message fail_from_exception gives for `exc`, or None for an exception it does not know (a bug)."""
        if _kube.HAS_KUBERNETES and isinstance(exc, _kube.ApiException):
            return _kube.describe_kube_error(exc, doing)
        if _azure.HAS_AZURE_SDK and _is_azure_error(exc):
            return _azure.describe_azure_error(exc, doing)
        if isinstance(exc, (OSError, ValueError)) or type(exc).__module__.startswith('urllib3'):
            return 'Failed to %s: %s' % (doing, exc)
        return None

    def fail_from_exception(self, exc, doing, hint_404=None, **partial_result):
        if _kube.HAS_KUBERNETES and isinstance(exc, _kube.ApiException):
            self.fail(_kube.describe_kube_error(exc, doing), status=exc.status, **partial_result)
        if _azure.HAS_AZURE_SDK and _is_azure_error(exc):
            error = getattr(exc, 'error', None)
            self.fail(_azure.describe_azure_error(exc, doing, hint_404=hint_404), status=getattr(exc, 'status_code', None),
                      error_code=getattr(error, 'code', None), **partial_result)
        if isinstance(exc, (OSError, ValueError)) or type(exc).__module__.startswith('urllib3'):
            self.fail('Failed to %s: %s' % (doing, exc), **partial_result)
        raise exc


def _is_azure_error(exc):
    from azure.core.exceptions import AzureError  # pylint: disable=import-outside-toplevel
    return isinstance(exc, AzureError)
