# -*- coding: utf-8 -*-
# Copyright (c) 2026 aks.tunnel contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Fake Kubernetes and Azure clients for the module unit tests (the integration tests use the lab emulators)."""

from __future__ import annotations

import copy
import json
import types

import pytest

from ansible.module_utils.testing import patch_module_args

from ansible_collections.aks.tunnel.plugins.module_utils import _azure
from ansible_collections.aks.tunnel.plugins.module_utils import _kube

kubernetes = pytest.importorskip('kubernetes')
from kubernetes.client.exceptions import ApiException  # noqa: E402  pylint: disable=wrong-import-position


def run_module(main, args, capsys):
    """Run a module's main() with args; return the JSON it printed."""
    with patch_module_args(args):
        with pytest.raises(SystemExit):
            main()
    return json.loads(capsys.readouterr().out)


def api_error(status, message):
    reasons = {403: 'Forbidden', 404: 'NotFound', 409: 'Conflict', 500: 'InternalError'}
    exc = ApiException(status=status, reason=reasons.get(status, 'Error'))
    exc.body = json.dumps({'kind': 'Status', 'status': 'Failure', 'reason': reasons.get(status), 'message': message, 'code': status})
    return exc


class _Response:
    def __init__(self, obj):
        self.data = json.dumps(obj).encode()


def _matches(labels, selector):
    for part in (selector or '').split(','):
        if part:
            key, _sep, value = part.partition('=')
            if (labels or {}).get(key) != value:
                return False
    return True


class FakeKube:
    """An in-memory cluster: objects are API dicts; every call is recorded in .calls."""

    def __init__(self):
        self.configmaps = {}
        self.deployments = {}
        self.nodes = []
        self.pods = []
        self.events = []
        self.pod_metrics = []
        self.node_metrics = []
        self.metrics_error = None
        self.calls = []
        self.errors = {}          # method name -> list of exceptions to raise, in order
        self.before_replace = None
        self.on_delete = None
        self._rv = 100

    def next_rv(self):
        self._rv += 1
        return str(self._rv)

    def _raise(self, method):
        pending = self.errors.get(method)
        if pending:
            raise pending.pop(0)

    def page(self, items, kwargs):
        limit = kwargs.get('limit') or len(items) or 1
        start = int(kwargs.get('_continue') or 0)
        chunk = items[start:start + limit]
        meta = {'resourceVersion': str(self._rv)}
        if start + limit < len(items):
            meta['continue'] = str(start + limit)
        return _Response({'items': copy.deepcopy(chunk), 'metadata': meta})


class FakeCore:
    def __init__(self, fake):
        self.fake = fake

    def read_namespaced_config_map(self, name, namespace, **kwargs):
        self.fake.calls.append(('read_configmap', name))
        self.fake._raise('read_namespaced_config_map')
        if (namespace, name) not in self.fake.configmaps:
            raise api_error(404, 'configmaps "%s" not found' % name)
        return _Response(self.fake.configmaps[(namespace, name)])

    def replace_namespaced_config_map(self, name, namespace, body, **kwargs):
        self.fake.calls.append(('replace_configmap', name, copy.deepcopy(body)))
        if self.fake.before_replace:
            hook, self.fake.before_replace = self.fake.before_replace, None
            hook(self.fake)
        self.fake._raise('replace_namespaced_config_map')
        current = self.fake.configmaps[(namespace, name)]
        if body['metadata'].get('resourceVersion') != current['metadata']['resourceVersion']:
            raise api_error(409, 'Operation cannot be fulfilled on configmaps "%s": the object has been modified' % name)
        stored = copy.deepcopy(body)
        stored['metadata']['resourceVersion'] = self.fake.next_rv()
        self.fake.configmaps[(namespace, name)] = stored
        return _Response(stored)

    def create_namespaced_config_map(self, namespace, body, **kwargs):
        self.fake.calls.append(('create_configmap', body['metadata']['name'], copy.deepcopy(body)))
        stored = copy.deepcopy(body)
        stored['metadata']['resourceVersion'] = self.fake.next_rv()
        self.fake.configmaps[(namespace, body['metadata']['name'])] = stored
        return _Response(stored)

    def list_node(self, **kwargs):
        self.fake.calls.append(('list_node', kwargs.get('_continue')))
        return self.fake.page(self.fake.nodes, kwargs)

    def list_namespaced_pod(self, namespace, **kwargs):
        self.fake.calls.append(('list_pod', kwargs.get('label_selector')))
        pods = [p for p in self.fake.pods if _matches(p['metadata'].get('labels'), kwargs.get('label_selector'))]
        return self.fake.page(pods, kwargs)

    def list_namespaced_event(self, namespace, **kwargs):
        self.fake.calls.append(('list_event', namespace, kwargs.get('field_selector')))
        return self.fake.page([e for e in self.fake.events if _fields_match(e, kwargs.get('field_selector'))], kwargs)

    def delete_namespaced_pod(self, name, namespace, **kwargs):
        self.fake.calls.append(('delete_pod', name, (kwargs.get('body') or {}).get('preconditions')))
        self.fake._raise('delete_namespaced_pod')
        self.fake.pods = [p for p in self.fake.pods if p['metadata']['name'] != name]
        if self.fake.on_delete:
            self.fake.on_delete(self.fake, name)
        return _Response({'kind': 'Status', 'status': 'Success'})


def _fields_match(obj, selector):
    """A field selector of `path=value` terms joined by commas (AND), as the API server reads it; an event's `type` defaults to Normal."""
    for term in (selector or '').split(','):
        if not term:
            continue
        path, _eq, value = term.partition('=')
        current = obj
        for part in path.split('.'):
            current = (current or {}).get(part) if isinstance(current, dict) else None
        if current is None and path == 'type':
            current = 'Normal'
        if current != value:
            return False
    return True


class FakeApps:
    def __init__(self, fake):
        self.fake = fake

    def read_namespaced_deployment(self, name, namespace, **kwargs):
        self.fake.calls.append(('read_deployment', name))
        self.fake._raise('read_namespaced_deployment')
        if name not in self.fake.deployments:
            raise api_error(404, 'deployments.apps "%s" not found' % name)
        deployment = self.fake.deployments[name]
        if callable(deployment):
            deployment = deployment()
        return _Response(deployment)


class FakeCustom:
    def __init__(self, fake):
        self.fake = fake

    def list_namespaced_custom_object(self, group, version, namespace, plural, **kwargs):
        self.fake.calls.append(('list_metrics', plural))
        if self.fake.metrics_error:
            raise self.fake.metrics_error
        return _Response({'items': self.fake.pod_metrics})

    def list_cluster_custom_object(self, group, version, plural, **kwargs):
        self.fake.calls.append(('list_metrics', plural))
        if self.fake.metrics_error:
            raise self.fake.metrics_error
        return _Response({'items': self.fake.node_metrics})


@pytest.fixture
def fake_kube(monkeypatch):
    fake = FakeKube()
    api_client = types.SimpleNamespace(configuration=types.SimpleNamespace(api_key={}), aks_tunnel_timeout=5)
    monkeypatch.setattr(_kube, 'build_api_client', lambda params, environ=None, timeout=30: api_client)
    monkeypatch.setattr(kubernetes.client, 'CoreV1Api', lambda api: FakeCore(fake))
    monkeypatch.setattr(kubernetes.client, 'AppsV1Api', lambda api: FakeApps(fake))
    monkeypatch.setattr(kubernetes.client, 'CustomObjectsApi', lambda api: FakeCustom(fake))
    return fake


# ------------------------------------------------------------------------------------------------
# Azure


class _Model:
    """Stands in for SDK models: attribute access plus as_dict()."""

    def __init__(self, data=None, **attrs):
        self._data = data or {}
        for key, value in attrs.items():
            setattr(self, key, value)

    def as_dict(self):
        return copy.deepcopy(self._data)


class _Poller:
    def __init__(self, result, done=True):
        self._result = result
        self._done = done

    def result(self, timeout=None):
        return self._result

    def done(self):
        return self._done


class FakeAzure:
    """Fake AzureClients: .cluster (REST dict), .metrics (list of metric dicts), .vmss {name: [(vm id, computer name, ip)]}."""

    instance = None

    def __init__(self):
        self.cluster = None
        self.metrics = []
        self.vmss = {}
        self.calls = []
        self.errors = {}
        self.lro_done = True
        self.settings = None
        self.containerservice = types.SimpleNamespace(managed_clusters=types.SimpleNamespace(
            get=self._get, begin_create_or_update=self._put))
        self.monitor = types.SimpleNamespace(metrics=types.SimpleNamespace(list=self._metrics))
        self.compute = types.SimpleNamespace(virtual_machine_scale_sets=types.SimpleNamespace(list=self._vmss_list),
                                             virtual_machine_scale_set_vms=types.SimpleNamespace(list=self._vm_list))
        self.network = types.SimpleNamespace(network_interfaces=types.SimpleNamespace(
            list_virtual_machine_scale_set_network_interfaces=self._nic_list))

    def _raise(self, name):
        pending = self.errors.get(name)
        if pending:
            raise pending.pop(0)

    def _get(self, rg, name):
        self.calls.append(('get', rg, name))
        self._raise('get')
        return _Model(self.cluster)

    def _put(self, rg, name, body, **kwargs):
        self.calls.append(('put', rg, name, copy.deepcopy(body), kwargs))
        self._raise('put')
        self.cluster = copy.deepcopy(body)
        self.cluster['properties']['provisioningState'] = 'Succeeded'
        return _Poller(_Model(self.cluster), done=self.lro_done)

    def _metrics(self, resource_uri, **kwargs):
        self.calls.append(('metrics', resource_uri, kwargs))
        self._raise('metrics')
        names = kwargs['metricnames'].split(',')
        return types.SimpleNamespace(value=[_Model(m) for m in self.metrics if m['name']['value'] in names])

    def _vmss_list(self, rg):
        self.calls.append(('vmss_list', rg))
        return [types.SimpleNamespace(name=name) for name in self.vmss]

    def _vm_list(self, rg, vmss):
        return [_Model({'properties': {'osProfile': {'computerName': computer}}}, id=vm_id) for vm_id, computer, _ip in self.vmss[vmss]]

    def _nic_list(self, rg, vmss):
        return [types.SimpleNamespace(virtual_machine=types.SimpleNamespace(id=vm_id),
                                      ip_configurations=[types.SimpleNamespace(private_ip_address=ip)]) for vm_id, _c, ip in self.vmss[vmss]]

    def close(self):
        pass


AZURE_ARGS = {'subscription_id': 'sub', 'client_id': 'id', 'secret': 'very-secret-value', 'tenant': 'tenant',
              'resource_group': 'rg', 'name': 'aks'}


@pytest.fixture
def fake_azure(monkeypatch):
    fake = FakeAzure()

    def factory(settings, timeout=60, retry_total=4):
        fake.settings = settings
        return fake
    monkeypatch.setattr(_azure, 'AzureClients', factory)
    return fake


def azure_http_error(status, code, message):
    from azure.core.exceptions import HttpResponseError  # pylint: disable=import-outside-toplevel
    exc = HttpResponseError(message='(%s) %s' % (code, message))
    exc.status_code = status
    exc.error = types.SimpleNamespace(code=code, message=message)
    return exc
