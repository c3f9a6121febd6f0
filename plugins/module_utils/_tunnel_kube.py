# -*- coding: utf-8 -*-
# Copyright (c) 2026 aks.tunnel contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The Kubernetes API calls of the tunnel modules (konnectivity_ladder, konnectivity_agent_info, tunnel_pod_restart).

Objects come back as plain API dicts. ``guard(doing)`` is a context manager that turns an API exception into the
task's failure with a message naming what was read or written (AksTunnelModule.api_errors); the modules keep the
decisions, this file only talks to the API server.
"""

from __future__ import annotations

from ansible_collections.aks.tunnel.plugins.module_utils import _kube

OOM_EVENT_REASONS = ('OOMKilling', 'SystemOOM')
OOM_EVENT_FIELD_SELECTOR = 'involvedObject.kind=Node,type=Warning'


def _client():
    from kubernetes import client  # pylint: disable=import-outside-toplevel
    return client


class TunnelKube:
    """Reads and writes of Deployments, ConfigMaps, pods, nodes, events and metrics, each under ``guard``."""

    def __init__(self, api_client, request_timeout, guard):
        self.api_client = api_client
        self.timeout = request_timeout
        self.guard = guard

    def deployment(self, namespace, name, doing=None):
        """The Deployment, or None when it does not exist."""
        apps = _client().AppsV1Api(self.api_client)
        with self.guard(doing or 'read Deployment %s/%s' % (namespace, name)):
            return _kube.read_or_none(apps.read_namespaced_deployment, name, namespace, _request_timeout=self.timeout)

    def configmap(self, namespace, name, doing=None):
        """The ConfigMap, or None when it does not exist."""
        core = _client().CoreV1Api(self.api_client)
        with self.guard(doing or 'read ConfigMap %s/%s' % (namespace, name)):
            return _kube.read_or_none(core.read_namespaced_config_map, name, namespace, _request_timeout=self.timeout)

    def pods(self, namespace, selector):
        core = _client().CoreV1Api(self.api_client)
        with self.guard('list pods %s in %s' % (selector, namespace)):
            return _kube.list_all(core.list_namespaced_pod, namespace, label_selector=selector, _request_timeout=self.timeout)

    def nodes(self):
        core = _client().CoreV1Api(self.api_client)
        with self.guard('list nodes'):
            return _kube.list_all(core.list_node, _request_timeout=self.timeout)

    def oom_events(self, namespace='default'):
        """(OOMKilling and SystemOOM events, error text): a 403 is reported, not fatal (pod status is the primary signal).

        One list for both reasons (a field selector cannot OR two reasons): both are Warning events about a Node
        (node-problem-detector's kernel monitor reports a temporary problem as a Warning; the kubelet records SystemOOM with
        EventTypeWarning on its node reference), so ``involvedObject.kind=Node,type=Warning`` returns every one of them and
        the reasons are picked here. The list is paged to the end, so on a large cluster it costs pages, never events.
        """
        from kubernetes.client.exceptions import ApiException  # pylint: disable=import-outside-toplevel
        core = _client().CoreV1Api(self.api_client)
        doing = 'list the %s events in namespace %s' % (' and '.join(OOM_EVENT_REASONS), namespace)
        try:
            events = _kube.list_all(core.list_namespaced_event, namespace, field_selector=OOM_EVENT_FIELD_SELECTOR,
                                    _request_timeout=self.timeout)
        except ApiException as exc:
            if exc.status != 403:
                with self.guard(doing):
                    raise
            return [], _kube.describe_kube_error(exc, doing)
        return [e for e in events if e.get('reason') in OOM_EVENT_REASONS], None

    def metrics(self, namespace, selector, nodes=True):
        """(pod metrics items, node metrics items, error text); both None when metrics.k8s.io is unavailable.

        nodes=False: the node metrics are not listed (None): one request less, and every node's metrics on a large cluster.
        """
        from kubernetes.client.exceptions import ApiException  # pylint: disable=import-outside-toplevel
        custom = _client().CustomObjectsApi(self.api_client)
        try:
            pods = _kube.read_json(custom.list_namespaced_custom_object, 'metrics.k8s.io', 'v1beta1', namespace, 'pods',
                                   label_selector=selector, _request_timeout=self.timeout).get('items') or []
            node_items = None
            if nodes:
                node_items = _kube.read_json(custom.list_cluster_custom_object, 'metrics.k8s.io', 'v1beta1', 'nodes',
                                             _request_timeout=self.timeout).get('items') or []
        except ApiException as exc:
            return None, None, _kube.describe_kube_error(exc, 'read metrics.k8s.io')
        return pods, node_items, None

    def create_configmap(self, namespace, body):
        """Create; an ApiException (409 included) is raised to the caller, which decides."""
        core = _client().CoreV1Api(self.api_client)
        return _kube.read_json(core.create_namespaced_config_map, namespace, body, _request_timeout=self.timeout)

    def replace_configmap(self, namespace, name, body):
        """Replace with the body's resourceVersion; an ApiException (409 included) is raised to the caller, which decides."""
        core = _client().CoreV1Api(self.api_client)
        return _kube.read_json(core.replace_namespaced_config_map, name, namespace, body, _request_timeout=self.timeout)

    def delete_pod(self, namespace, name, uid):
        """Delete the pod only if it still has this uid (a replacement with the same name is never deleted)."""
        body = {'apiVersion': 'v1', 'kind': 'DeleteOptions', 'preconditions': {'uid': uid}}
        core = _client().CoreV1Api(self.api_client)
        core.delete_namespaced_pod(name, namespace, body=body, _request_timeout=self.timeout, _preload_content=False)


def from_module(module):
    """The TunnelKube of an AksTunnelModule (its client, request timeout and api_errors)."""
    return TunnelKube(module.kube, module.kube_timeout, module.api_errors)
