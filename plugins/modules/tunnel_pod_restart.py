#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2026 aks.tunnel contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r'''
module: tunnel_pod_restart
short_description: Recreate the AKS tunnel pods one at a time
version_added: 0.1.0
description:
  - Detects the tunnel component the cluster runs (konnectivity, the legacy tunnel-front, or aks-link, by their Deployments
    C(konnectivity-agent), C(tunnelfront) and C(aks-link))
    and recreates its pods one at a time - delete one pod, wait until its replacement is Ready, then the next - so
    the tunnel never goes fully down (unless the Deployment has a single replica).
  - This is the troubleshooting article's advice after a network fix, so the agents reconnect at once instead of
    after their backoff.
  - In check mode the module lists the pods it would restart.
author: aks.tunnel contributors (@aks-tunnel)
options:
  namespace:
    description: Namespace of the tunnel Deployment.
    type: str
    default: kube-system
  component:
    description:
      - Tunnel component to restart, named as RV(aks.tunnel.aks_cluster_info#module:tunnel.component) names it; V(auto) picks
        the first Deployment that exists of C(konnectivity-agent), C(tunnelfront) (tunnel-front) and C(aks-link).
    type: str
    choices: [auto, konnectivity, tunnel-front, aks-link]
    default: auto
  wait_timeout:
    description: Seconds to wait for each replacement pod to become Ready.
    type: int
    default: 300
  wait_sleep:
    description: Seconds between readiness checks.
    type: int
    default: 2
  resource_group:
    description:
      - Resource group of the AKS cluster. With O(name) and without a kubeconfig, the module reaches Kubernetes through
        Azure Resource Manager (O(kube_access)) - the cluster's credential, an Entra token, or the run command of a private
        cluster (then each pod deletion runs as C(kubectl delete --raw) with the pod's uid as precondition).
    type: str
  name:
    description: Name of the AKS cluster (with O(resource_group)).
    type: str
extends_documentation_fragment:
  - aks.tunnel.cluster.API_TIMEOUT
  - aks.tunnel.kubernetes
  - aks.tunnel.azure
  - aks.tunnel.attributes
  - aks.tunnel.attributes.ACTIONGROUP_AZURE_AND_KUBERNETES
attributes:
  check_mode:
    support: full
    details:
      - Lists the pods that would be recreated and deletes nothing.
  diff_mode:
    support: none
  idempotent:
    support: none
    details:
      - Every run recreates the pods; that is its purpose.
notes:
  - Kubernetes RBAC - C(get) on deployments, C(list) and C(delete) on pods in O(namespace).
'''

EXAMPLES = r'''
- name: Recreate the tunnel pods after fixing the NSG
  aks.tunnel.tunnel_pod_restart:
    kubeconfig: ~/.kube/config
  register: restart

- name: Show what changed
  ansible.builtin.debug:
    msg: "{{ restart.restarted | map(attribute='old_pod') | list }} -> {{ restart.restarted | map(attribute='new_pod') | list }}"

- name: Only the legacy tunnel-front, with a shorter wait
  aks.tunnel.tunnel_pod_restart:
    component: tunnel-front
    wait_timeout: 120
'''

RETURN = r'''
component:
  description: The tunnel component found (null when none).
  returned: always
  type: str
  sample: konnectivity
deployment:
  description: Name of the tunnel Deployment.
  returned: always
  type: str
  sample: konnectivity-agent
selector:
  description: Label selector of its pods.
  returned: always
  type: str
  sample: app=konnectivity-agent
pods_before:
  description: Pod names before the restart.
  returned: always
  type: list
  elements: str
  sample: [konnectivity-agent-5d9c7b6f4-x2k8q, konnectivity-agent-5d9c7b6f4-z7m4c]
would_restart:
  description: Pods that would be recreated, in order.
  returned: in check mode
  type: list
  elements: str
  sample: [konnectivity-agent-5d9c7b6f4-x2k8q, konnectivity-agent-5d9c7b6f4-z7m4c]
restarted:
  description: One entry per recreated pod, in order.
  returned: when not in check mode
  type: list
  elements: dict
  sample: [{old_pod: konnectivity-agent-5d9c7b6f4-x2k8q, old_node: aks-nodepool1-12345678-vmss000000,
            new_pod: konnectivity-agent-5d9c7b6f4-q9w2e, new_node: aks-nodepool1-12345678-vmss000001, seconds: 4.2}]
pods_after:
  description: Pod names after the restart.
  returned: when not in check mode
  type: list
  elements: str
  sample: [konnectivity-agent-5d9c7b6f4-q9w2e, konnectivity-agent-5d9c7b6f4-h3j5k]
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
  sample: {arm: 0, kube: 9}
'''

import time

from ansible_collections.aks.tunnel.plugins.module_utils import _cluster_options
from ansible_collections.aks.tunnel.plugins.module_utils import _konnectivity
from ansible_collections.aks.tunnel.plugins.module_utils import _tunnel_kube
from ansible_collections.aks.tunnel.plugins.module_utils._module import AksTunnelModule

ARGUMENT_SPEC = _cluster_options.argument_spec(
    _cluster_options.API_TIMEOUT_ARGSPEC,
    namespace=dict(type='str', default='kube-system'),
    component=dict(type='str', default='auto', choices=['auto'] + [kind for kind, _deployment, _selector in _konnectivity.TUNNELS]),
    wait_timeout=dict(type='int', default=300),
    wait_sleep=dict(type='int', default=2),
    resource_group=dict(type='str'),
    name=dict(type='str'),
)


def _names(pods):
    return sorted(p['metadata']['name'] for p in pods)


def list_pods(kube, namespace, selector):
    """The pods of the selector that are not being deleted."""
    return [p for p in kube.pods(namespace, selector) if not (p.get('metadata') or {}).get('deletionTimestamp')]


def main():
    module = AksTunnelModule(ARGUMENT_SPEC, kube=True, required_together=[('resource_group', 'name')])
    params = module.params
    for option in ('wait_timeout', 'wait_sleep', 'api_timeout'):
        if params[option] < 1:
            module.fail('%s must be >= 1, got %d' % (option, params[option]))
    kube = _tunnel_kube.from_module(module)
    namespace = params['namespace']
    deployments = {}
    for kind, name, dummy_selector in _konnectivity.TUNNELS:
        if params['component'] not in ('auto', kind):
            continue
        deployments[name] = kube.deployment(namespace, name)
        if deployments[name]:
            break
    tunnel = _konnectivity.detect_tunnel(deployments, params['component'])
    if tunnel is None:
        module.fail('no tunnel Deployment (%s) in namespace %s' % (
            ', '.join(name for kind, name, _sel in _konnectivity.TUNNELS if params['component'] in ('auto', kind)), namespace),
            component=None, deployment=None, selector=None, pods_before=[])
    result = {'component': tunnel['kind'], 'deployment': tunnel['deployment'], 'selector': tunnel['selector']}
    pods = sorted(list_pods(kube, namespace, tunnel['selector']), key=lambda p: p['metadata']['name'])
    result['pods_before'] = _names(pods)
    if not pods:
        module.exit(changed=False, restarted=[], pods_after=[], **result)
    if len(pods) == 1:
        module.warn('%s has a single pod: the tunnel is down until its replacement is Ready' % tunnel['deployment'])
    if module.check_mode:
        module.exit(changed=True, would_restart=result['pods_before'], **result)

    from kubernetes.client.exceptions import ApiException  # pylint: disable=import-outside-toplevel
    seen = set(result['pods_before'])
    restarted = []
    for pod in pods:
        name = pod['metadata']['name']
        started = time.monotonic()
        try:
            kube.delete_pod(namespace, name, pod['metadata'].get('uid'))
        except ApiException as exc:
            if exc.status != 404:
                module.fail_from_exception(exc, 'delete pod %s/%s' % (namespace, name), restarted=restarted, **result)
        replacement = None
        while replacement is None:
            current = list_pods(kube, namespace, tunnel['selector'])
            fresh = [p for p in current if p['metadata']['name'] not in seen and _konnectivity.pod_ready(p)]
            if fresh:
                replacement = sorted(fresh, key=lambda p: p['metadata']['name'])[0]
                break
            if time.monotonic() - started > params['wait_timeout']:
                module.fail('pod %s was deleted, but no Ready replacement appeared within %d seconds; stopped before restarting the others'
                            % (name, params['wait_timeout']), changed=True, restarted=restarted, pods_after=_names(current), **result)
            time.sleep(params['wait_sleep'])
        seen.add(replacement['metadata']['name'])
        restarted.append({'old_pod': name, 'old_node': pod['spec'].get('nodeName'), 'new_pod': replacement['metadata']['name'],
                          'new_node': replacement['spec'].get('nodeName'), 'seconds': round(time.monotonic() - started, 1)})
    result['pods_after'] = _names(list_pods(kube, namespace, tunnel['selector']))
    module.exit(changed=True, restarted=restarted, **result)


if __name__ == '__main__':
    main()
