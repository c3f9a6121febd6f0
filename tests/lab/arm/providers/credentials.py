# -*- coding: utf-8 -*-
# Copyright (c) 2026 aks.tunnel contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Microsoft.ContainerService: the cluster user credential, so `az aks get-credentials` works against the lab (issue 18).

``POST .../managedClusters/{name}/listClusterUserCredential`` (ManagedClusters_ListClusterUserCredentials,
managedClusters.json): ``{"kubeconfigs": [{"name": "clusterUser", "value": <base64 kubeconfig>}]}``. The kubeconfig is the
lab's `lab-admin` one with the CA inline (`certificate-authority-data`, as AKS returns it), set by the lab's control daemon
(tests/lab/dataplane/control.py) once the Kubernetes emulator listens. The CI recipes of docs/ci/ get their Kubernetes access
this way in tests/integration/test_ci_recipes.py. An emulator without a Kubernetes emulator (tests/integration/lab_arm) answers
a kubeconfig for the cluster's FQDN with a placeholder token. A cluster with Entra ID returns an exec (kubelogin) kubeconfig on
AKS; the lab has local accounts only.
"""

from __future__ import annotations

import base64

import yaml

from ..common import Response
from .containerservice import _cluster_or_404, render_cluster


def list_cluster_user_credential(ctx, p):
    with ctx.state.lock:
        _cluster_or_404(ctx, p)
        kubeconfig = getattr(ctx.emulator, 'cluster_user_kubeconfig', None) or _placeholder(render_cluster(ctx.state))
    value = base64.b64encode(kubeconfig.encode('utf-8')).decode('ascii')
    return Response(200, {'kubeconfigs': [{'name': 'clusterUser', 'value': value}]})


def _placeholder(cluster):
    props = cluster['properties']
    name, user = cluster['name'], 'clusterUser_%s_%s' % (_resource_group(cluster), cluster['name'])
    return yaml.safe_dump({
        'apiVersion': 'v1', 'kind': 'Config', 'current-context': name, 'preferences': {},
        'clusters': [{'name': name, 'cluster': {'server': 'https://%s:443' % (props.get('fqdn') or props.get('privateFQDN'))}}],
        'users': [{'name': user, 'user': {'token': 'lab-placeholder-no-kubernetes-emulator'}}],
        'contexts': [{'name': name, 'context': {'cluster': name, 'user': user}}]}, default_flow_style=False, sort_keys=False)


def _resource_group(cluster):
    return cluster['id'].split('/')[4]
