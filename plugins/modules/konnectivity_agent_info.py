#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2026 aks.tunnel contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r'''
module: konnectivity_agent_info
short_description: Check konnectivity-agent pods for OOM kills, crash loops, memory pressure and missing replicas
version_added: 0.1.0
description:
  - Reads the konnectivity-agent pods (label C(app=konnectivity-agent) in C(kube-system)) and reports per pod the
    restarts, the last termination (reason C(OOMKilled) is a definite OOM kill; exit code 137 with another reason
    is a possible one), container requests and limits, and current usage from C(metrics.k8s.io) when available.
  - Collects the node-problem-detector C(OOMKilling) events (namespace C(default), source C(kernel-monitor),
    message C(Killed process <pid> (<comm>))) and kubelet C(SystemOOM) events of the nodes that host agents, and
    C(kubectl top nodes) numbers for those nodes. An agent C(OOMKilling) event older than every agent pod now on
    its node hit a pod that is gone (recreated or rescheduled), so it is evidence, not a problem (C(before_current_pods)).
  - Compares the Deployment's replicas with the count the autoscaler ladder gives (see aks.tunnel.konnectivity_ladder).
  - Returns a C(konnectivity_agent_scaling) finding; it is a problem on OOM kills, memory usage at or above
    O(memory_threshold) of the limit, too few replicas for the ladder, and crash loops. Never changes anything.
author: aks.tunnel contributors (@aks-tunnel)
options:
  namespace:
    description: Namespace of the agent.
    type: str
    default: kube-system
  deployment:
    description: Name of the agent Deployment.
    type: str
    default: konnectivity-agent
  label_selector:
    description: Label selector of the agent pods.
    type: str
    default: app=konnectivity-agent
  container:
    description: Name of the agent container.
    type: str
    default: konnectivity-agent
  configmap:
    description:
      - Autoscaler ConfigMap to compute the expected replica count from. Default is the C(--configmap) argument of the
        C(konnectivity-agent-autoscaler) Deployment, or C(konnectivity-agent-autoscaler).
    type: str
  expected_replicas:
    description:
      - The replica count the autoscaler ladder gives, as RV(aks.tunnel.konnectivity_ladder#module:expected_replicas) returns it.
      - When given, the autoscaler Deployment and its ConfigMap are not read (a diagnosis has just evaluated them); O(configmap)
        is then not used.
    type: int
  ladder:
    description:
      - The registered result of P(aks.tunnel.konnectivity_ladder#module) with O(aks.tunnel.konnectivity_ladder#module:state=query),
        run just before on the same cluster (a diagnosis does).
      - Its RV(aks.tunnel.konnectivity_ladder#module:expected_replicas) is used unless O(expected_replicas) is given, and the
        autoscaler Deployment and its ConfigMap are not read again (O(configmap) is then not used). When it read the agent
        Deployment O(deployment) in O(namespace), its replica counts are used and the Deployment is not read again either.
    type: dict
  read_node_metrics:
    description:
      - List the nodes' C(metrics.k8s.io) usage for the RV(nodes) numbers of the agent nodes (C(kubectl top nodes)).
      - The finding does not use them (the agents' own usage, from their pod metrics, decides), so a diagnosis sets
        C(false) - one request less, and not every node's metrics on a large cluster; RV(nodes) then has
        C(metrics_available=false) for each node.
    type: bool
    default: true
  memory_threshold:
    description: Fraction of the memory limit (0 to 1) at which current usage counts as a problem.
    type: float
    default: 0.9
  agent_processes:
    description: Process names (the kernel's C(<comm>)) that identify the agent in C(OOMKilling) events.
    type: list
    elements: str
    default: [proxy-agent, konnectivity-agent]
extends_documentation_fragment:
  - aks.tunnel.cluster.MODEL
  - aks.tunnel.cluster.API_TIMEOUT
  - aks.tunnel.kubernetes
  - aks.tunnel.azure
  - aks.tunnel.attributes
  - aks.tunnel.attributes.INFO_MODULE
  - aks.tunnel.attributes.ACTIONGROUP_AZURE_AND_KUBERNETES
notes:
  - Kubernetes RBAC - C(get)/C(list) on pods, deployments and configmaps in O(namespace), C(list) on events in C(default),
    C(get)/C(list) on nodes, and C(get)/C(list) on C(pods.metrics.k8s.io) and C(nodes.metrics.k8s.io) (optional).
  - Events expire (one hour by default), so the pods' C(lastState) is the primary signal and events corroborate it.
  - With O(cluster_model) the nodes and, when O(namespace) and O(label_selector) are the ones the model listed the tunnel
    pods with, the agent pods come from the model (as they were when it was read).
'''

EXAMPLES = r'''
- name: Check the konnectivity-agent pods
  aks.tunnel.konnectivity_agent_info:
    kubeconfig: ~/.kube/config
  register: agents

- name: Show the OOM kills
  ansible.builtin.debug:
    msg: "{{ agents.pods | selectattr('restarts') | map(attribute='name') | list }}"

- name: Check them on the cluster model read before (nodes and agent pods are not listed again)
  aks.tunnel.konnectivity_agent_info:
    cluster_model: "{{ aks }}"  # registered aks.tunnel.aks_cluster_info result

- name: Check them after the ladder (the autoscaler, its ConfigMap and the agent Deployment are not read again)
  aks.tunnel.konnectivity_agent_info:
    cluster_model: "{{ aks }}"
    ladder: "{{ ladder }}"  # registered aks.tunnel.konnectivity_ladder state=query result

- name: Stricter memory threshold
  aks.tunnel.konnectivity_agent_info:
    memory_threshold: 0.8
'''

RETURN = r'''
pods:
  description: One entry per agent pod.
  returned: always
  type: list
  elements: dict
  sample:
    - name: konnectivity-agent-5d9c7b6f4-x2k8q
      node: aks-nodepool1-12345678-vmss000000
      phase: Running
      ready: true
      restarts: 3
      containers:
        - name: konnectivity-agent
          restarts: 3
          ready: true
          waiting_reason: null
          last_termination: {reason: OOMKilled, exit_code: 137, started_at: '2026-11-25T19:40:00Z', finished_at: '2026-11-25T19:57:00Z'}
          oom: definite
          requests: {cpu: 20m, memory: 30Mi}
          limits: {memory: 64Mi}
          usage: {cpu_millicores: 7, memory_mib: 60}
          memory_usage_ratio: 0.9375
deployment:
  description: Replica counts of the agent Deployment.
  returned: always
  type: dict
  sample: {exists: true, name: konnectivity-agent, replicas: 2, ready_replicas: 2, available_replicas: 2, addon_mode: Reconcile}
expected_replicas:
  description: Replicas the autoscaler ladder gives for this cluster (null when the ConfigMap is missing or refused by CPA).
  returned: always
  type: int
  sample: 2
agent_nodes:
  description: Nodes that host agent pods.
  returned: always
  type: list
  elements: str
  sample: [aks-nodepool1-12345678-vmss000000, aks-nodepool1-12345678-vmss000001]
oom_events:
  description:
    - C(OOMKilling) node events on the agent nodes; the C(agent_process) key of each event tells whether the killed process was the agent,
      C(before_current_pods) whether the last kill is older than every agent pod now on that node.
    - Other workloads' kills are counted, not reported - their C(process), C(pid) and C(message) are null (the same in RV(system_oom_events)).
  returned: always
  type: list
  elements: dict
  sample:
    - {node: aks-nodepool1-12345678-vmss000000, reason: OOMKilling, source: kernel-monitor, count: 3, last_timestamp: '2026-11-25T19:57:00Z',
       pid: 4242, process: proxy-agent, agent_process: true, before_current_pods: false,
       message: 'Memory cgroup out of memory: Killed process 4242 (proxy-agent) total-vm:...'}
system_oom_events:
  description: Kubelet C(SystemOOM) events on the agent nodes, with C(agent_process) as in RV(oom_events).
  returned: always
  type: list
  elements: dict
  sample: [{node: aks-nodepool1-12345678-vmss000000, reason: SystemOOM, source: kubelet, count: 1, pid: 4242, process: proxy-agent, agent_process: true,
            last_timestamp: '2026-11-25T19:57:00Z', message: 'System OOM encountered, victim process: proxy-agent, pid: 4242'}]
nodes:
  description:
    - C(kubectl top nodes) numbers for the agent nodes (percentages of allocatable, truncated).
    - C(metrics_available) is false when they were not read (O(read_node_metrics=false)) or metrics-server did not answer.
  returned: always
  type: list
  elements: dict
  sample: [{name: aks-nodepool1-12345678-vmss000000, metrics_available: true, cpu_millicores: 250, cpu_percent: 13, memory_mib: 1953,
            memory_percent: 37, allocatable_cpu: 1900m, allocatable_memory: 5368Mi}]
metrics_available:
  description: Whether C(metrics.k8s.io) answered.
  returned: always
  type: bool
  sample: true
metrics_error:
  description: Why usage numbers are missing (metrics-server absent or not allowed).
  returned: when metrics.k8s.io could not be read
  type: str
  sample: 'HTTP 503: the server is currently unable to handle the request'
events_error:
  description: Why the node events could not be read (the check then relies on pod status alone).
  returned: when listing events in C(default) was forbidden
  type: str
  sample: 'Failed to list the OOMKilling and SystemOOM events in namespace default (HTTP 403): Forbidden: ...'
finding:
  description: The C(konnectivity_agent_scaling) finding from the pod side.
  returned: always
  type: dict
  sample: {cause: konnectivity_agent_scaling, status: problem, summary: 'pod konnectivity-agent-... was OOMKilled ...',
           affected_nodes: [aks-nodepool1-12345678-vmss000000], evidence: ['...'],
           remediation: {advice: ['raise the replica count with aks.tunnel.konnectivity_ladder ...'],
                         deployment_resources: {namespace: kube-system, deployment: konnectivity-agent, container: konnectivity-agent,
                                                current_memory_limit: 64Mi, suggested_memory_limit: 128Mi},
                         caveat: 'AKS manages konnectivity-agent ...'}}
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
    kube: {description: "Requests to the Kubernetes API server.", type: int, returned: always}
  sample: {arm: 0, kube: 7}
'''

from ansible_collections.aks.tunnel.plugins.module_utils import _cluster_model
from ansible_collections.aks.tunnel.plugins.module_utils import _cluster_options
from ansible_collections.aks.tunnel.plugins.module_utils import _konnectivity
from ansible_collections.aks.tunnel.plugins.module_utils import _ladder
from ansible_collections.aks.tunnel.plugins.module_utils import _tunnel_kube
from ansible_collections.aks.tunnel.plugins.module_utils._module import AksTunnelModule

ARGUMENT_SPEC = _cluster_options.argument_spec(
    _cluster_options.MODEL_ARGSPEC, _cluster_options.API_TIMEOUT_ARGSPEC,
    namespace=dict(type='str', default='kube-system'),
    deployment=dict(type='str', default='konnectivity-agent'),
    label_selector=dict(type='str', default='app=konnectivity-agent'),
    container=dict(type='str', default='konnectivity-agent'),
    configmap=dict(type='str'),
    expected_replicas=dict(type='int'),
    ladder=dict(type='dict'),
    read_node_metrics=dict(type='bool', default=True),
    memory_threshold=dict(type='float', default=0.9),
    agent_processes=dict(type='list', elements='str', default=['proxy-agent', 'konnectivity-agent']),
)


def main():
    module = AksTunnelModule(ARGUMENT_SPEC, kube=True)
    params = module.params
    if not 0 < params['memory_threshold'] <= 1:
        module.fail('memory_threshold must be in (0, 1], e.g. 0.9 for 90%% of the limit, got %s' % params['memory_threshold'])
    if params['api_timeout'] < 1:
        module.fail('api_timeout must be >= 1, got %d' % params['api_timeout'])
    kube = _tunnel_kube.from_module(module)
    namespace = params['namespace']
    ladder = params['ladder']
    deployment = _konnectivity.deployment_seen_by_ladder(ladder, namespace, params['deployment'])
    if deployment is None:
        deployment = kube.deployment(namespace, params['deployment'])
    model = _cluster_options.given_model(module)
    tunnel = (model or {}).get('tunnel') or {}
    if model is not None and (tunnel.get('namespace'), tunnel.get('selector')) == (namespace, params['label_selector']):
        pods = tunnel.get('pod_objects') or []
    else:
        pods = kube.pods(namespace, params['label_selector'])
    events, events_error = kube.oom_events()
    nodes = _cluster_model.node_objects(model) if model is not None else kube.nodes()
    expected = params['expected_replicas']
    if expected is None and ladder is not None:
        expected = ladder.get('expected_replicas')
    if expected is not None or ladder is not None:
        configmap = None  # given, or the ladder just read the autoscaler and its ConfigMap (and found no count)
    else:
        autoscaler = kube.deployment(namespace, _konnectivity.AUTOSCALER_DEPLOYMENT, doing='read the autoscaler ConfigMap')
        name = params['configmap'] or _konnectivity.autoscaler_refs(autoscaler).get('configmap') or _konnectivity.DEFAULT_CONFIGMAP
        configmap = kube.configmap(namespace, name, doing='read the autoscaler ConfigMap')
    if configmap is not None:
        node_labels = _konnectivity.autoscaler_refs(autoscaler).get('node_labels')
        if node_labels and model is not None:
            # CPA counts only the nodes with these labels, and the model has no labels
            nodes = kube.nodes()
        counts = _konnectivity.cluster_counts(nodes, node_labels)
        try:
            expected = _ladder.compute_replicas(configmap.get('data') or {}, counts['total_nodes'], counts['total_cores'],
                                                counts['schedulable_nodes'], counts['schedulable_cores'])
        except _ladder.LadderError:
            expected = None
    pod_metrics, node_metrics, metrics_error = kube.metrics(namespace, params['label_selector'], nodes=params['read_node_metrics'])
    try:
        result = _konnectivity.analyze_agents(pods, deployment, events, nodes, pod_metrics=pod_metrics, node_metrics=node_metrics,
                                              metrics_error=metrics_error, expected_replicas=expected,
                                              memory_threshold=params['memory_threshold'], agent_processes=tuple(params['agent_processes']),
                                              container_name=params['container'])
    except (_konnectivity.KonnectivityInputError, _ladder.LadderError) as exc:
        module.fail(str(exc))
    if metrics_error:
        result['metrics_error'] = metrics_error
    if events_error:
        result['events_error'] = events_error
        result['finding']['evidence'].append('node events unavailable: %s' % events_error)
        module.warn('node events were not readable, OOMKilling/SystemOOM evidence is missing: %s' % events_error)
    module.exit(changed=False, **result)


if __name__ == '__main__':
    main()
