# -*- coding: utf-8 -*-
# Copyright (c) 2026 aks.tunnel contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations


class ModuleDocFragment:
    # Kubernetes authentication options, named as kubernetes.core names them (and read from the
    # same K8S_AUTH_* environment variables).
    DOCUMENTATION = r'''
options:
  kubeconfig:
    description:
      - Path to a kubeconfig file. When neither this nor O(host) is given, C(~/.kube/config) is used.
      - Can also be set with the E(K8S_AUTH_KUBECONFIG) environment variable; in the roles and playbooks, with the variable
        C(aks_tunnel_kubeconfig) (or C(aks_tunnel_kube_auth), a dict of these options).
    type: path
  context:
    description:
      - Context of the kubeconfig to use.
      - Can also be set with the E(K8S_AUTH_CONTEXT) environment variable.
    type: str
  host:
    description:
      - URL of the Kubernetes API server; overrides the kubeconfig's.
      - Can also be set with the E(K8S_AUTH_HOST) environment variable.
    type: str
  api_key:
    description:
      - Bearer token for the Kubernetes API; overrides the kubeconfig's.
      - Can also be set with the E(K8S_AUTH_API_KEY) environment variable.
    type: str
  ca_cert:
    description:
      - PEM file of the certificate authority of the API server.
      - Can also be set with the E(K8S_AUTH_SSL_CA_CERT) environment variable.
    type: path
    aliases: [ssl_ca_cert]
  validate_certs:
    description:
      - Whether to verify the API server's certificate.
      - Can also be set with the E(K8S_AUTH_VERIFY_SSL) environment variable.
    type: bool
    aliases: [verify_ssl]
  kube_access:
    description:
      - How the module reaches the Kubernetes API server.
      - V(kubeconfig) uses O(kubeconfig), O(context), O(host) and O(api_key) (or C(~/.kube/config)).
      - V(arm) gets the cluster's kubeconfig from Azure Resource Manager (C(listClusterUserCredential), or
        C(listClusterAdminCredential) with O(kube_credential=admin)). On a cluster with Microsoft Entra ID the kubeconfig
        names kubelogin; the module gets the token for the AKS server application from the same Azure credential as its
        Azure calls instead, so kubelogin is not needed.
      - V(run_command) runs every Kubernetes request as C(kubectl --raw) inside the cluster through the managed cluster's
        run command (C(az aks command invoke)), for a private cluster whose API server cannot be reached from here. Needs
        the Azure RBAC action C(Microsoft.ContainerService/managedClusters/runCommand/action).
      - V(auto) uses the kubeconfig options when any of them (or a E(K8S_AUTH_*) variable) is set, then C(~/.kube/config)
        when it exists; otherwise, in a module with the Azure options that knows the cluster, V(arm), switching to
        V(run_command) when the API server the credential names cannot be reached.
    type: str
    choices: [auto, kubeconfig, arm, run_command]
    default: auto
  kube_credential:
    description:
      - Which cluster credential V(arm) and V(run_command) access get from Azure Resource Manager.
      - V(admin) (C(listClusterAdminCredential)) is refused by clusters with local accounts disabled.
    type: str
    choices: [user, admin]
    default: user
  api_retry_deadline:
    description:
      - Seconds one API request may spend being retried when Azure Resource Manager or the Kubernetes API
        server throttles it (HTTP 429, honouring C(Retry-After)), answers 5xx, or cannot be reached; waits
        between attempts back off with jitter. When not set, E(AKS_TUNNEL_API_RETRY_DEADLINE) is used,
        else 300 seconds. V(0) disables retries.
      - Writes whose outcome is unknown (a 500, 502 or 504, or a lost answer) are not repeated, except
        Azure PUT and DELETE, which are idempotent.
      - Bounds the retries of one request only; O(api_timeout) still bounds each attempt.
      - Throttled responses, retries and the seconds spent waiting are returned in RV(api_calls).
    type: float
'''
