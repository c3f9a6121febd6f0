# -*- coding: utf-8 -*-
# Copyright (c) 2026 aks.tunnel contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The cluster options every module that reads the cluster shares (doc fragment aks.tunnel.cluster), and the model they give.

``cluster_model`` is the registered result of aks.tunnel.aks_cluster_info: a module given it reads neither the cluster,
its scale sets, instances, NICs, subnets and VNets, nor the Kubernetes nodes again; without it the module reads them itself.
"""

from __future__ import annotations

from ansible_collections.aks.tunnel.plugins.module_utils import _azure
from ansible_collections.aks.tunnel.plugins.module_utils import _cluster_model
from ansible_collections.aks.tunnel.plugins.module_utils import _kube

# The cluster a module works on (doc fragment aks.tunnel.cluster).
CLUSTER_ARGSPEC = dict(
    resource_group=dict(type='str', required=True),
    name=dict(type='str', required=True),
)

# The model of a previous aks_cluster_info task (doc fragment aks.tunnel.cluster.MODEL).
MODEL_ARGSPEC = dict(
    cluster_model=dict(type='dict'),
)

# The timeout of each API request, the same name in every module (doc fragment aks.tunnel.cluster.API_TIMEOUT).
API_TIMEOUT_ARGSPEC = dict(
    api_timeout=dict(type='int', default=60),
)

# The nodes the checked flows start from (doc fragment aks.tunnel.cluster.SOURCE_NODES).
SOURCE_NODES_ARGSPEC = dict(
    source_nodes=dict(type='list', elements='str'),
)

# The kubelet port (doc fragment aks.tunnel.cluster.KUBELET_PORT).
KUBELET_PORT_ARGSPEC = dict(
    port=dict(type='int', default=10250),
)


def argument_spec(*shared, **options):
    """One argument spec from the shared parts (CLUSTER_ARGSPEC, ...) and the module's own options."""
    spec = {}
    for part in shared:
        spec.update(part)
    spec.update(options)
    return spec


def given_model(module):
    """The validated cluster_model option, or None when it is not set (fails the task when it is not a model of this cluster)."""
    model = module.params.get('cluster_model')
    if model is None:
        return None
    try:
        return _cluster_model.check_model(model, module.params.get('resource_group'), module.params.get('name'))
    except _cluster_model.ClusterModelError as exc:
        module.fail('cluster_model %s' % exc)
    return None


def cluster_model(module, kube=False):
    """The cluster model: the cluster_model option when given, else read now (Kubernetes nodes and tunnel pods too with ``kube``).

    ``kube='optional'`` (aks_cluster_info, issue 16): without Kubernetes access, or when the nodes and pods cannot be read,
    the model is built from Azure alone (``kubernetes_read`` false) and ``kubernetes_error`` says why.
    """
    model = given_model(module)
    if model is not None:
        return model
    params = module.params
    if kube == 'optional':
        return _model_kube_optional(module)
    with module.api_errors('read the cluster %s/%s' % (params['resource_group'], params['name']),
                           hint_404=_azure.node_resource_group_hint(params['resource_group'])):
        client = module.kube if kube else None
        model = _cluster_model.build_model(module.azure, params['resource_group'], params['name'], kube_client=client,
                                           request_timeout=module.kube_timeout if client is not None else None, list_all=_kube.list_all)
    model.pop('_azure', None)
    return model


def _model_kube_optional(module):
    params = module.params
    rg, name = params['resource_group'], params['name']
    client, reason = module.kube_or_reason()
    model = None
    if client is not None:
        try:
            model = _cluster_model.build_model(module.azure, rg, name, kube_client=client, request_timeout=module.kube_timeout,
                                               list_all=_kube.list_all)
        except Exception as exc:  # pylint: disable=broad-except
            if not _is_kube_error(exc):
                with module.api_errors('read the cluster %s/%s' % (rg, name), hint_404=_azure.node_resource_group_hint(rg)):
                    raise
            reason = module.describe_exception(exc, 'read the Kubernetes nodes and tunnel pods')
    if model is None:
        with module.api_errors('read the cluster %s/%s' % (rg, name), hint_404=_azure.node_resource_group_hint(rg)):
            model = _cluster_model.build_model(module.azure, rg, name)
    model.pop('_azure', None)
    if reason:
        model['kubernetes_error'] = reason
        model['tunnel']['egress_reason'] = 'Kubernetes was not read: %s' % reason
    if module.kube_access is not None:
        model['kube_access'] = module.kube_access
    return model


def _is_kube_error(exc):
    """An error of the Kubernetes side (API status, connection, run command transport), not of Azure Resource Manager."""
    if _kube.HAS_KUBERNETES and isinstance(exc, _kube.ApiException):
        return True
    return type(exc).__module__.startswith('urllib3') or isinstance(exc, _kube.Urllib3Error or ())
