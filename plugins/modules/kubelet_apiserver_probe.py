#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2026 aks.tunnel contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r'''
module: kubelet_apiserver_probe
short_description: Reach every kubelet through the Kubernetes API server, the way kubectl logs does
version_added: 0.1.0
description:
  - Sends one C(GET /api/v1/nodes/<node>/proxy/healthz) per node. The API server dials the node's kubelet on TCP 10250
    through the tunnel (konnectivity, tunnel-front or aks-link) with TLS, exactly as for C(kubectl logs) and C(kubectl exec),
    so this is end-to-end ground truth, independent of Run Command (it works where Run Command is not permitted).
  - "When the API server cannot reach a kubelet it answers with its own error text, kept as evidence per node - for example
    C(error trying to reach service: dial tcp 10.240.0.8:10250: i/o timeout) (something drops the path),
    C(... connect: connection refused) (nothing listens, or a firewall rejects), C(... http: server gave HTTP response to
    HTTPS client) (the kubelet serves plain HTTP), C(... tls: ...) (the TLS handshake fails), C(... No agent available)
    (the tunnel itself is down)."
  - Returns every node the API server could not reach (RV(unreachable_nodes)) and a C(kubelet_not_serving) finding -
    PROBLEM for plain HTTP or a failing TLS handshake (naming the nodes and the API server's text); UNKNOWN for nodes
    that refused the connection (a stopped kubelet and a firewall REJECT give the same text; the node inspection of
    M(aks.tunnel.vmss_runcommand_probe) tells them apart), when the tunnel is down, when the requests were refused (HTTP
    403 without C(get) on C(nodes/proxy)) or failed, or when the deadline left nodes unchecked; OK otherwise. Timeouts
    are not this cause - they are listed in RV(unreachable_nodes) only, for the network path checks.
  - Requests run O(concurrency) at a time; no request starts after O(deadline). The first request runs alone - when the
    API server refuses it (401, 403), no other request is sent. Nodes are taken one pool after the other in turn, so a
    cut (O(max_nodes), O(deadline)) still covers every pool. The nodes' proxy requests are not retried (a retry would only
    wait for the same dial again), except when throttled (HTTP 429, after its C(Retry-After)).
  - "Large clusters: every node is checked by default, because a kubelet serving plain HTTP is seen only by a TLS dial
    (the Run Command probe connects with TCP). On the lab's 5000-node cluster the check takes about a minute (docs/usage.md);
    O(max_nodes) caps it, and the finding's evidence says how many nodes were checked."
  - Never changes anything.
author: aks.tunnel contributors (@aks-tunnel)
options:
  nodes:
    description:
      - Node names to check (for example the nodes a symptom names); default every Kubernetes node of the cluster.
      - A name that is not a Kubernetes node of the cluster is not checked (RV(not_probed) says so, and a warning).
    type: list
    elements: str
  max_nodes:
    description: At most this many nodes are checked (spread over the pools); V(0) checks every node.
    type: int
    default: 0
  concurrency:
    description: Requests sent at the same time.
    type: int
    default: 20
  kubelet_timeout:
    description:
      - Seconds to wait for the API server's answer to one node's request. The API server dials the kubelet meanwhile and
        answers with its own error when the dial fails; a node with no answer in this time counts as a timeout.
    type: int
    default: 45
  deadline:
    description:
      - Seconds after the first request after which no request starts (the running ones finish, within O(kubelet_timeout)).
        Nodes left over are listed in RV(not_probed) and make the finding UNKNOWN.
    type: int
    default: 300
extends_documentation_fragment:
  - aks.tunnel.cluster
  - aks.tunnel.cluster.MODEL
  - aks.tunnel.cluster.API_TIMEOUT
  - aks.tunnel.kubernetes
  - aks.tunnel.azure
  - aks.tunnel.attributes
  - aks.tunnel.attributes.INFO_MODULE
  - aks.tunnel.attributes.ACTIONGROUP_AZURE_AND_KUBERNETES
notes:
  - Kubernetes RBAC - C(get) on C(nodes/proxy), and C(list) on nodes unless O(cluster_model) is given. B(C(nodes/proxy) is
    powerful) - it reaches the kubelet API of every node, which on some Kubernetes versions includes running commands in
    any pod (C(exec) over a WebSocket C(GET)); the shipped diagnose role does not grant it, the opt-in
    C(rbac/kubernetes/aks-tunnel-diagnose-kubelet-proxy.yaml) does (see rbac/README.md).
  - Without that right the module does not fail - the first request gets HTTP 403, no other request is sent, and the
    finding is UNKNOWN with the API server's text.
  - O(resource_group) and O(name) check O(cluster_model) and name the node resource group in the advised commands; with
    O(cluster_model) the nodes are not listed again.
'''

EXAMPLES = r'''
- name: Reach every kubelet through the API server
  aks.tunnel.kubelet_apiserver_probe:
    resource_group: rg-aks-prod
    name: aks-prod
  register: apiserver

- name: Only the nodes a symptom names, on the model read once
  aks.tunnel.kubelet_apiserver_probe:
    resource_group: rg-aks-prod
    name: aks-prod
    cluster_model: "{{ aks }}"
    nodes: [aks-user1-12345678-vmss000003]

- name: The nodes the API server could not reach, with its own error text
  ansible.builtin.debug:
    msg: "{{ apiserver.unreachable_nodes | map(attribute='error') | list }}"
'''

RETURN = r'''
node_count:
  description: Kubernetes nodes of the cluster.
  returned: always
  type: int
  sample: 5
probed:
  description: Nodes a request was sent for.
  returned: always
  type: int
  sample: 5
reached:
  description: Nodes whose kubelet answered through the API server (any answer of the kubelet itself counts - it serves TLS).
  returned: always
  type: int
  sample: 3
by_kind:
  description:
    - Nodes per outcome - C(answered), C(timeout), C(refused), C(plain_http), C(tls), C(reset), C(no_route), C(no_agent),
      C(other) (another dial error), and for requests that were not answered by a kubelet dial C(forbidden),
      C(unauthorized), C(not_found), C(throttled), C(api_error).
  returned: always
  type: dict
  sample: {answered: 3, timeout: 1, plain_http: 1}
unreachable_nodes:
  description:
    - Every node whose kubelet the API server could not reach, with the API server's own error text and its kind (not the
      nodes of RV(no_tunnel_nodes) - the tunnel, not the path, failed for them).
  returned: always
  type: list
  elements: dict
  sample: [{node: aks-user1-12345678-vmss000000, kind: timeout,
            error: 'error trying to reach service: dial tcp 10.240.0.7:10250: i/o timeout'},
           {node: aks-user1-12345678-vmss000001, kind: plain_http,
            error: 'error trying to reach service: http: server gave HTTP response to HTTPS client'}]
no_tunnel_nodes:
  description: Nodes the API server had no tunnel for (C(No agent available)), with its text.
  returned: always
  type: list
  elements: dict
  sample: []
unhealthy_nodes:
  description: Nodes whose kubelet answered, but not C(ok) (for example C(HTTP 500) with the failed health checks).
  returned: always
  type: list
  elements: dict
  sample: [{node: aks-nodepool1-12345678-vmss000002, answer: 'HTTP 500: [-]syncloop failed: reason withheld healthz check failed'}]
request_errors:
  description: Nodes whose request was not answered by a kubelet dial (RBAC, a node deleted meanwhile, throttling, API server errors).
  returned: always
  type: list
  elements: dict
  sample: [{node: aks-user1-12345678-vmss000000, kind: forbidden,
            error: 'nodes "aks-user1-12345678-vmss000000" is forbidden: User "ops" cannot get resource "nodes/proxy" ...'}]
not_probed:
  description: Nodes no request was sent for, and why (O(max_nodes), O(deadline), the first request refused, an unknown name).
  returned: always
  type: list
  elements: dict
  sample: [{node: aks-user2-12345678-vmss0000zz, reason: 'deadline: no request starts 300 s after the first'}]
duration_s:
  description: Seconds the requests took.
  returned: always
  type: float
  sample: 1.3
finding:
  description: The C(kubelet_not_serving) finding of this evidence source.
  returned: always
  type: dict
  sample: {cause: kubelet_not_serving, status: problem,
           summary: 'The kubelet of 1 node(s) answers the API server with plain HTTP on TCP 10250 (...)',
           affected_nodes: [aks-user1-12345678-vmss000001],
           evidence: ['aks-user1-12345678-vmss000001: error trying to reach service: http: server gave HTTP response to HTTPS client'],
           remediation: {summary: 'Make the kubelet serve TLS on TCP 10250 again ...', nodes: [aks-user1-12345678-vmss000001],
                         commands: ['kubectl get --raw /api/v1/nodes/aks-user1-12345678-vmss000001/proxy/healthz', 'az vmss run-command invoke ...']}}
api_calls:
  description:
    - HTTP requests the task sent, also when it failed. C(arm) counts every request to Azure Resource Manager (retries,
      long-running operation polls and list pages included; Entra token requests not), C(kube) every request to the
      Kubernetes API server (retries and list pages included).
    - Add them up over tasks with the P(aks.tunnel.api_calls_total#filter) filter; the diagnosis report shows the totals as
      C(stats.arm_calls) and C(stats.kube_calls).
  returned: always
  type: dict
  contains:
    arm: {description: "Requests to Azure Resource Manager (0 - this module uses only the Kubernetes API).", type: int, returned: always}
    kube: {description: "Requests to the Kubernetes API server (one per checked node, plus the node list pages).", type: int, returned: always}
  sample: {arm: 0, kube: 6}
'''

import time

from ansible_collections.aks.tunnel.plugins.module_utils import _apiserver_probe
from ansible_collections.aks.tunnel.plugins.module_utils import _cluster_options
from ansible_collections.aks.tunnel.plugins.module_utils import _kube
from ansible_collections.aks.tunnel.plugins.module_utils import _kube_access
from ansible_collections.aks.tunnel.plugins.module_utils import _retry
from ansible_collections.aks.tunnel.plugins.module_utils._counter import PROCESS_RETRY_STATS
from ansible_collections.aks.tunnel.plugins.module_utils._module import AksTunnelModule

ARGUMENT_SPEC = _cluster_options.argument_spec(
    _cluster_options.CLUSTER_ARGSPEC, _cluster_options.MODEL_ARGSPEC, _cluster_options.API_TIMEOUT_ARGSPEC,
    nodes=dict(type='list', elements='str'),
    max_nodes=dict(type='int', default=0),
    concurrency=dict(type='int', default=20),
    kubelet_timeout=dict(type='int', default=45),
    deadline=dict(type='int', default=300),
)


class ProbeModule(AksTunnelModule):
    """AksTunnelModule that also counts the requests of the proxy client (a second ApiClient without retries)."""

    proxy_client = None

    @property
    def api_calls(self):
        calls = super().api_calls
        if self.proxy_client is not None:
            calls['kube'] += _kube.request_count(self.proxy_client)
        return calls


def cluster_nodes(module):
    """The Kubernetes nodes ({name, pool, resource_group, vmss, instance_id}) from the model, else listed now."""
    model = _cluster_options.given_model(module)
    if model is not None and model.get('kubernetes_read', True):
        return _apiserver_probe.nodes_from_model(model)
    from kubernetes import client  # pylint: disable=import-outside-toplevel
    core = client.CoreV1Api(module.kube)
    with module.api_errors('list nodes'):
        items = _kube.list_all(core.list_node, _request_timeout=module.kube_timeout)
    return _apiserver_probe.nodes_from_kubernetes(items)


def node_proxy(module, concurrency):
    """CoreV1Api.connect_get_node_proxy_with_path on a client of its own: no retries of the proxy requests (a 503 there is
    the dial error, the answer we want), a connection pool as large as the concurrency."""
    from kubernetes import client  # pylint: disable=import-outside-toplevel
    deadline = getattr(module.kube, 'aks_tunnel_retry_deadline', None)
    if module.kube_access is not None:  # reached through ARM (issue 16): the same credential / run command, no retries
        api_client = _kube_access.clone_client(module.kube, 0)
    else:
        try:
            api_client = _kube.build_api_client(dict(module.params, api_retry_deadline=0), timeout=module.timeout)
        except _kube.KubeConfigError as exc:
            module.fail('Kubernetes authentication settings: %s' % exc)
    if deadline is not None:
        _retry.note_active_deadline(deadline)  # the error hints name the user's retry deadline, not this client's 0
    api_client.rest_client.pool_manager.connection_pool_kw['maxsize'] = max(concurrency, 1)
    module.proxy_client = api_client
    core = client.CoreV1Api(api_client)
    return core.connect_get_node_proxy_with_path


def main():
    module = ProbeModule(ARGUMENT_SPEC, kube=True)
    params = module.params
    for option, minimum in (('api_timeout', 1), ('concurrency', 1), ('kubelet_timeout', 1), ('deadline', 1), ('max_nodes', 0)):
        if params[option] < minimum:
            module.fail('%s must be >= %d, got %d' % (option, minimum, params[option]))
    nodes = cluster_nodes(module)
    try:
        order, not_probed = _apiserver_probe.select_nodes(nodes, params['nodes'], params['max_nodes'])
    except _apiserver_probe.ApiserverProbeError as exc:
        module.fail(str(exc))
    for item in not_probed:
        if item['reason'].startswith('not a Kubernetes node'):
            module.warn('%s is not a Kubernetes node of the cluster: not checked' % item['node'])
    started = time.monotonic()
    results = {}
    if order:
        request = _apiserver_probe.request_node_health(node_proxy(module, params['concurrency']), params['kubelet_timeout'])
        results, late = _apiserver_probe.probe_nodes(order, request, concurrency=params['concurrency'], deadline=params['deadline'],
                                                     on_retry=PROCESS_RETRY_STATS.add_retry)
        not_probed.extend(late)
    summary = _apiserver_probe.summarize(results, not_probed, len(nodes))
    finding = _apiserver_probe.kubelet_finding(summary, nodes)
    module.exit(changed=False, duration_s=round(time.monotonic() - started, 1), finding=finding, **summary)


if __name__ == '__main__':
    main()
