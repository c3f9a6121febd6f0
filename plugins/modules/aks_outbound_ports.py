#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2026 aks.tunnel contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r'''
module: aks_outbound_ports
short_description: Set the SNAT ports per node and managed outbound IPs of an AKS cluster load balancer
version_added: 0.1.0
description:
  - Sets C(networkProfile.loadBalancerProfile.allocatedOutboundPorts) and/or C(managedOutboundIPs.count) of the
    cluster through the managedClusters API (a long-running operation), the repair for SNAT port exhaustion.
  - V(recommended) takes the SNAT engine's value - the smallest multiple of 8 ports per node at which the observed
    peak (O(peak_ports)) stays below the diagnosis threshold minus a 10% margin (O(usage_threshold)), never fewer
    than today, and that still fits the pools' maximum node count (autoscaler C(maxCount)) plus upgrade surge with
    today's outbound IPs. The rest of the outbound capacity stays free for scale-out.
  - Managed outbound IPs are added only when asked for (O(managed_outbound_ips)); every new IP is a new egress address
    (destinations that allow-list the cluster's IPs must be updated) and costs money, and the module warns about it.
    When the recommended value needs more IPs than allowed, nothing is changed and the task fails saying how many
    outbound IPs it would take (RV(ips_needed)), unless O(if_no_fit=largest_fit).
  - Validates before sending - ports a multiple of 8 in 0..64000, 1..100 managed IPs, and
    C(64000 x IPs / ports >= max nodes + surge) - and refuses values that would block scale-out or upgrades,
    saying why and what would fit.
  - Writes with the cluster's C(eTag) (C(If-Match)), so a concurrent change of the cluster is not overwritten.
author: aks.tunnel contributors (@aks-tunnel)
options:
  allocated_outbound_ports:
    description:
      - SNAT ports per node, a multiple of 8 in 0..64000 (V(0) = automatic allocation by pool size), or V(recommended).
      - Unset keeps the current value.
    type: raw
  managed_outbound_ips:
    description:
      - Number of managed outbound public IPs, 1..100, or V(recommended) (as many as the recommended ports need, never
        fewer than today). Unset keeps the current count, also with O(allocated_outbound_ports=recommended).
      - More IPs mean new egress addresses (update the allow-lists of the destinations) and cost; the module warns.
    type: raw
  max_surge:
    description:
      - Upgrade surge for the capacity check, a node count (V(1)) or a percentage (V(33%)); overrides every pool's
        C(upgradeSettings.maxSurge). Default is each pool's own value (1 node when unset).
    type: str
  max_nodes:
    description: Node count to plan for; default is the sum over pools of C(maxCount) (autoscaling) or C(count).
    type: int
  min_ports:
    description: With V(recommended), never go below this many ports per node.
    type: int
    default: 0
  peak_ports:
    description:
      - With V(recommended), the peak of SNAT ports a node wants (the C(remediation.peak_ports) of the C(snat_exhaustion)
        finding of M(aks.tunnel.snat_usage_info), which estimates it also while ports are exhausted).
      - V(recommended) needs O(peak_ports) or O(min_ports).
    type: int
    default: 0
  usage_threshold:
    description:
      - Used/allocated ratio the diagnosis counts as exhausted (the O(aks.tunnel.snat_usage_info#module:usage_threshold) it used).
        V(recommended) keeps O(peak_ports) at or below this ratio minus a 10% margin (72% for 0.8).
    type: float
    default: 0.8
  if_no_fit:
    description:
      - What V(recommended) does when the ports that cover O(peak_ports) do not fit the maximum node count with the allowed
        outbound IPs.
      - V(refuse) changes nothing and fails, saying how many outbound IPs it would take.
      - V(largest_fit) sets the largest value that fits today's IPs when that is more than today (fewer failed
        connections, but the peak stays above the threshold); it never adds IPs.
    type: str
    choices: [refuse, largest_fit]
    default: refuse
  wait_timeout:
    description: Seconds to wait for the managedClusters update to finish.
    type: int
    default: 1800
extends_documentation_fragment:
  - aks.tunnel.cluster
  - aks.tunnel.cluster.API_TIMEOUT
  - aks.tunnel.azure
  - aks.tunnel.attributes
  - aks.tunnel.attributes.ACTIONGROUP_AZURE
attributes:
  check_mode:
    support: full
    details:
      - Computes and validates the new profile and sends nothing.
  diff_mode:
    support: full
    details:
      - The diff shows the load balancer profile values before and after.
  idempotent:
    support: full
    details:
      - No update is sent when the cluster already has the requested values.
notes:
  - Azure RBAC - C(Microsoft.ContainerService/managedClusters/read) and C(Microsoft.ContainerService/managedClusters/write)
    on the cluster (Azure Kubernetes Service Contributor). A read-only identity gets a clear 403 and nothing changes.
  - Changing the outbound configuration makes AKS update the load balancer; existing outbound connections may be reset.
'''

EXAMPLES = r'''
- name: Read the SNAT use
  aks.tunnel.snat_usage_info:
    resource_group: rg-aks-prod
    name: aks-prod
  register: snat

- name: Take the recommended ports per node for the observed peak, keeping the outbound IPs (check mode first)
  aks.tunnel.aks_outbound_ports:
    resource_group: rg-aks-prod
    name: aks-prod
    allocated_outbound_ports: recommended
    peak_ports: "{{ snat.finding.remediation.peak_ports }}"
  check_mode: true
  diff: true

- name: The same, allowing as many managed outbound IPs as it takes (new egress addresses, extra cost)
  aks.tunnel.aks_outbound_ports:
    resource_group: rg-aks-prod
    name: aks-prod
    allocated_outbound_ports: recommended
    managed_outbound_ips: recommended
    peak_ports: "{{ snat.finding.remediation.peak_ports }}"

- name: 4000 ports per node with 2 managed outbound IPs
  aks.tunnel.aks_outbound_ports:
    resource_group: rg-aks-prod
    name: aks-prod
    allocated_outbound_ports: 4000
    managed_outbound_ips: 2
  register: outbound

- name: Undo
  aks.tunnel.aks_outbound_ports:
    resource_group: rg-aks-prod
    name: aks-prod
    allocated_outbound_ports: "{{ outbound.rollback.allocated_outbound_ports }}"
    managed_outbound_ips: "{{ outbound.rollback.managed_outbound_ips }}"
'''

RETURN = r'''
previous:
  description: The load balancer profile values before the run.
  returned: always
  type: dict
  sample: {allocated_outbound_ports: 1024, managed_outbound_ips: 1}
desired:
  description: The values set (or that would be set in check mode).
  returned: always
  type: dict
  sample: {allocated_outbound_ports: 1824, managed_outbound_ips: 1}
current:
  description: The values the cluster reports after the run.
  returned: always
  type: dict
  sample: {allocated_outbound_ports: 1824, managed_outbound_ips: 1}
rollback:
  description: Module options that restore the previous values.
  returned: always
  type: dict
  sample: {allocated_outbound_ports: 1024, managed_outbound_ips: 1}
capacity:
  description: Nodes the outbound ports must cover (pools' max counts plus surge).
  returned: always
  type: dict
  sample: {max_nodes: 5, surge: 2, required_nodes: 7, current_nodes: 5,
           pools: [{name: nodepool1, count: 3, max_count: 3, max_surge: 10%, surge: 1}]}
max_nodes_supported:
  description: C(64000 x IPs / ports) for the desired values (null with automatic allocation).
  returned: always
  type: int
  sample: 35
recommendation:
  description: The SNAT engine's recommendation, when V(recommended) was asked for.
  returned: when O(allocated_outbound_ports=recommended) or O(managed_outbound_ips=recommended)
  type: dict
  sample: {allocated_outbound_ports: 1824, managed_outbound_ips: 1, target_ports: 1824, ips_needed: 1, fits: true, refused: null,
           peak_ports: 1308, threshold: 0.8, margin: 0.1, expected_ratio: 0.7171, required_nodes: 7, max_nodes_supported: 35,
           current_ports_per_node: 1024, current_ips: 1, changed: true, reason: '...'}
ips_needed:
  description: Outbound IPs the recommended ports need for the maximum node count plus surge.
  returned: when O(allocated_outbound_ports=recommended) or O(managed_outbound_ips=recommended)
  type: int
  sample: 2
added_outbound_ips:
  description: Managed outbound IPs the run adds (or would add in check mode); each is a new egress address and costs money.
  returned: always
  type: int
  sample: 0
validation_errors:
  description: Why the requested values were refused (nothing is sent).
  returned: on failure, when the values do not fit the cluster
  type: list
  elements: str
  sample: ['1 IP(s) x 64000 / 64000 ports per node = 1 nodes, fewer than max_nodes 5 + surge 2 = 7: ...']
provisioning_state:
  description: The cluster's provisioningState after the update.
  returned: when changed and not in check mode
  type: str
  sample: Succeeded
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
    arm: {description: "Requests to Azure Resource Manager.", type: int, returned: always}
    kube: {description: "Requests to the Kubernetes API server (0 - this module uses only Azure).", type: int, returned: always}
  sample: {arm: 4, kube: 0}
'''

from ansible_collections.aks.tunnel.plugins.module_utils import _cluster_options
from ansible_collections.aks.tunnel.plugins.module_utils import _outbound
from ansible_collections.aks.tunnel.plugins.module_utils._cluster_model import as_dict
from ansible_collections.aks.tunnel.plugins.module_utils._module import AksTunnelModule

ARGUMENT_SPEC = _cluster_options.argument_spec(
    _cluster_options.CLUSTER_ARGSPEC, _cluster_options.API_TIMEOUT_ARGSPEC,
    allocated_outbound_ports=dict(type='raw'),
    managed_outbound_ips=dict(type='raw'),
    max_surge=dict(type='str'),
    max_nodes=dict(type='int'),
    min_ports=dict(type='int', default=0),
    peak_ports=dict(type='int', default=0),
    usage_threshold=dict(type='float', default=0.8),
    if_no_fit=dict(type='str', choices=['refuse', 'largest_fit'], default='refuse'),
    wait_timeout=dict(type='int', default=1800),
)


def _option(value):
    """'recommended', an int, or None; numbers given as strings (templating) become ints."""
    if value is None or value == 'recommended':
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return value


def _values(profile):
    return {'allocated_outbound_ports': profile['allocated_outbound_ports'], 'managed_outbound_ips': profile['managed_outbound_ips']}


def main():
    module = AksTunnelModule(ARGUMENT_SPEC, azure=True)
    params = module.params
    for option in ('wait_timeout', 'api_timeout'):
        if params[option] < 1:
            module.fail('%s must be >= 1, got %d' % (option, params[option]))
    if not 0 <= params['min_ports'] <= 64000:
        module.fail('min_ports must be in 0..64000, got %d' % params['min_ports'])
    if params['peak_ports'] < 0:
        module.fail('peak_ports must be >= 0, got %d' % params['peak_ports'])
    if not 0 < params['usage_threshold'] <= 1:
        module.fail('usage_threshold must be in (0, 1], e.g. 0.8, got %s' % params['usage_threshold'])
    ports_option = _option(params['allocated_outbound_ports'])
    ips_option = _option(params['managed_outbound_ips'])
    rg, name = params['resource_group'], params['name']
    clusters = module.azure.containerservice.managed_clusters
    with module.api_errors('read managed cluster %s/%s' % (rg, name)):
        cluster = as_dict(clusters.get(rg, name))
    summary = _outbound.cluster_summary(cluster)
    if summary['outbound_type'] != 'loadBalancer':
        module.fail('cluster %s has outboundType %s; allocated outbound ports and managed outbound IPs exist only with outboundType '
                    'loadBalancer' % (name, summary['outbound_type']))
    profile = summary['load_balancer_profile']
    try:
        capacity = _outbound.capacity(cluster, params['max_surge'], params['max_nodes'])
        desired = _outbound.desired_profile(profile, capacity, ports_option, ips_option, min_ports=params['min_ports'],
                                            peak_ports=params['peak_ports'], threshold=params['usage_threshold'],
                                            if_no_fit=params['if_no_fit'])
    except _outbound.OutboundInputError as exc:
        module.fail(str(exc))
    previous = _values(profile)
    wanted = {'allocated_outbound_ports': desired['allocated_outbound_ports'], 'managed_outbound_ips': desired['managed_outbound_ips']}
    result = {'previous': previous, 'desired': wanted, 'current': previous, 'rollback': dict(previous), 'capacity': capacity,
              'max_nodes_supported': (64000 * desired['outbound_ip_count'] // wanted['allocated_outbound_ports']
                                      if wanted['allocated_outbound_ports'] else None)}
    result['added_outbound_ips'] = max(0, desired['outbound_ip_count'] - profile['outbound_ip_count'])
    if desired['recommendation'] is not None:
        result['recommendation'] = desired['recommendation']
        result['ips_needed'] = desired['recommendation']['ips_needed']
    if desired['refused']:
        result['desired'] = dict(previous)
        result['added_outbound_ips'] = 0
        module.fail('nothing changed: %s' % desired['refused'], changed=False, **result)
    if desired['errors']:
        module.fail('refusing to set allocated_outbound_ports=%s with %s outbound IP(s): %s'
                    % (wanted['allocated_outbound_ports'], desired['outbound_ip_count'], '; '.join(desired['errors'])),
                    validation_errors=desired['errors'], **result)
    changed = wanted != previous
    if result['added_outbound_ips']:
        module.warn('this %s %d managed outbound public IP(s) (%d -> %d): each is a new egress address of the cluster, so destinations '
                    'that allow-list its outbound IPs must add it, and each costs money'
                    % ('would add' if module.check_mode else 'adds', result['added_outbound_ips'], profile['outbound_ip_count'],
                       desired['outbound_ip_count']))
    if module.diff_mode:
        result['diff'] = {'before': previous, 'after': wanted,
                          'before_header': '%s loadBalancerProfile' % name, 'after_header': '%s loadBalancerProfile' % name}
    if not changed or module.check_mode:
        module.exit(changed=changed, **result)

    from azure.core.exceptions import ResourceModifiedError  # pylint: disable=import-outside-toplevel
    body = cluster
    lb_profile = body.setdefault('properties', {}).setdefault('networkProfile', {}).setdefault('loadBalancerProfile', {})
    lb_profile.pop('effectiveOutboundIPs', None)
    lb_profile['allocatedOutboundPorts'] = wanted['allocated_outbound_ports']
    if not (profile['custom_outbound_ips'] or profile['custom_outbound_ip_prefixes']):
        lb_profile['managedOutboundIPs'] = dict(lb_profile.get('managedOutboundIPs') or {}, count=wanted['managed_outbound_ips'])
    kwargs = {}
    if summary['etag']:
        # The eTag exactly as the GET returned it (as az aks and older SDKs send it), not re-quoted.
        kwargs = {'headers': {'If-Match': summary['etag']}}
    with module.api_errors('update the load balancer profile of %s/%s' % (rg, name), changed=False, **result):
        try:
            poller = clusters.begin_create_or_update(rg, name, body, **kwargs)
            updated = poller.result(timeout=params['wait_timeout'])
        except ResourceModifiedError:
            module.fail('cluster %s/%s was changed by someone else since it was read (eTag mismatch); nothing was changed. '
                        'Run the task again.' % (rg, name), changed=False, **result)
    if not poller.done():
        module.fail('the update of %s/%s is still running after %d seconds; check it with az aks show and run the task again'
                    % (rg, name, params['wait_timeout']), changed=True, **result)
    after = _outbound.cluster_summary(as_dict(updated) if updated is not None else cluster)
    result['current'] = _values(after['load_balancer_profile'])
    result['provisioning_state'] = ((as_dict(updated) if updated is not None else {}).get('properties') or {}).get('provisioningState')
    module.exit(changed=True, **result)


if __name__ == '__main__':
    main()
