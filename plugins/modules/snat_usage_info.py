#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2026 aks.tunnel contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r'''
module: snat_usage_info
short_description: Measure SNAT port use of the AKS cluster load balancer or NAT gateway and detect exhaustion
version_added: 0.1.0
description:
  - For public clusters with C(outboundType=loadBalancer) reads, from Azure Monitor on the cluster load balancer
    (C(<node resource group>/kubernetes)), C(SnatConnectionCount) split by C(ConnectionState), and
    C(AllocatedSnatPorts) and C(UsedSnatPorts) per backend IP over O(window).
  - Maps every backend IP to its node name (VMSS VMs and NICs of the node resource group) and returns per node the
    allocated, used and failed numbers, the worst used/allocated ratio, and a C(snat_exhaustion) finding with a
    concrete recommendation - the smallest multiple of 8 ports per node that keeps the peak (estimated above the
    allocation where connections failed) below O(usage_threshold) minus a 10% margin, and whether it fits the pools'
    maximum node count plus surge with today's outbound IPs or how many IPs it would take.
  - When a backend's allocated ports rose during O(window) (for example after M(aks.tunnel.aks_outbound_ports)), only the
    time buckets after the bucket of the change decide its verdict; failures before the change are returned as history
    (RV(failed_before_change), C(allocation_change) per node), so a diagnosis right after a repair judges the allocation
    now in effect. A drop of the allocation (a pool grown past an automatic-allocation tier) keeps the whole window.
  - Clusters of more than 100 nodes are read worst-first so the answer stays small and fast at 5000 nodes - Azure Monitor
    sorts and cuts (C(orderby)/C(top)) the 25 backends with the most failed SNAT connections and the 25 using the most
    ports, then every series of just those backends is read; the finding's evidence says so.
  - Clusters with C(outboundType=managedNATGateway) or C(userAssignedNATGateway) are judged on their NAT gateway - the
    C(natGateway) of the node subnets (else the NAT gateways of the node resource group), its public IPs and prefixes
    (64,512 SNAT ports per IP, at most 16 IPs) and idle timeout, and its Azure Monitor metrics C(SNATConnectionCount) split
    by C(ConnectionState), C(TotalConnectionCount) and C(PacketDropCount). Failed SNAT connections in O(window) are a
    C(problem) (dropped packets are shown beside them), none is C(ok), no data C(unknown). The recommendation is the
    public IP count that keeps the connections wanted (the peak, scaled up by the failed share) at most at O(usage_threshold)
    minus a 10% margin; the advice adds the commands (C(az aks update --nat-gateway-managed-outbound-ip-count) for a managed
    NAT gateway, C(az network nat gateway update) for a user-assigned one), the idle timeout and connection reuse.
    Nothing is changed on a NAT gateway.
  - Private clusters and other outbound types get a C(not_applicable) finding with the reason. Never changes anything.
author: aks.tunnel contributors (@aks-tunnel)
options:
  window:
    description: How far back to look, an ISO 8601 duration (V(PT1H), V(PT30M), V(P1D)).
    type: str
    default: PT1H
  interval:
    description: Metric time grain, an ISO 8601 duration of at least V(PT1M).
    type: str
    default: PT1M
  usage_threshold:
    description: Used/allocated ratio (0 to 1) at which a backend counts as exhausted.
    type: float
    default: 0.8
  max_surge:
    description:
      - Upgrade surge for the capacity check, a node count (V(1)) or a percentage (V(33%)); overrides every pool's
        C(upgradeSettings.maxSurge). Default is each pool's own value (1 node when unset).
    type: str
  max_nodes:
    description: Node count to plan for; default is the sum over pools of C(maxCount) (autoscaling) or C(count).
    type: int
  node_names:
    description:
      - Backend IP to node name map. When given, the module does not read the VMSS VMs and NICs.
      - Default - from O(cluster_model) when given, else read from the VMSS VMs and NICs.
    type: dict
extends_documentation_fragment:
  - aks.tunnel.cluster
  - aks.tunnel.cluster.MODEL
  - aks.tunnel.cluster.API_TIMEOUT
  - aks.tunnel.azure
  - aks.tunnel.attributes
  - aks.tunnel.attributes.INFO_MODULE
  - aks.tunnel.attributes.ACTIONGROUP_AZURE
notes:
  - Azure RBAC - C(Microsoft.ContainerService/managedClusters/read) on the cluster,
    C(Microsoft.Insights/metrics/read) on the load balancer, and C(Microsoft.Compute/virtualMachineScaleSets/read),
    C(Microsoft.Compute/virtualMachineScaleSets/virtualMachines/read),
    C(Microsoft.Network/networkInterfaces/read) in the node resource group (the Reader role covers all). With O(cluster_model)
    only the metrics are read.
  - NAT gateway clusters - C(Microsoft.Network/virtualNetworks/subnets/read) on the node subnets,
    C(Microsoft.Network/natGateways/read), C(Microsoft.Network/publicIPPrefixes/read) and C(Microsoft.Insights/metrics/read)
    on the NAT gateway (all in the Reader role).
'''

EXAMPLES = r'''
- name: SNAT usage over the last hour
  aks.tunnel.snat_usage_info:
    resource_group: rg-aks-prod
    name: aks-prod
  register: snat

- name: Last day, stricter threshold, planning for 2 surge nodes per pool
  aks.tunnel.snat_usage_info:
    resource_group: rg-aks-prod
    name: aks-prod
    window: P1D
    interval: PT15M
    usage_threshold: 0.7
    max_surge: "2"

- name: Read the cluster model once
  aks.tunnel.aks_cluster_info:
    resource_group: rg-aks-prod
    name: aks-prod
  register: aks

- name: SNAT usage on that model (reads only the load balancer metrics)
  aks.tunnel.snat_usage_info:
    resource_group: rg-aks-prod
    name: aks-prod
    cluster_model: "{{ aks }}"
'''

RETURN = r'''
applicable:
  description: Whether SNAT of the load balancer or of a NAT gateway is on the tunnel's path.
  returned: always
  type: bool
  sample: true
reason:
  description: Why SNAT does not apply (null when it does).
  returned: always
  type: str
  sample: null
cluster:
  description: The cluster fields that decide SNAT exposure.
  returned: always
  type: dict
  sample: {name: aks-prod, outbound_type: loadBalancer, private: false, load_balancer_sku: standard,
           node_resource_group: MC_rg-aks-prod_aks-prod_westeurope, node_count: 5,
           load_balancer_id: /subscriptions/0000/resourceGroups/MC_rg-aks-prod_aks-prod_westeurope/providers/Microsoft.Network/loadBalancers/kubernetes,
           load_balancer_profile: {allocated_outbound_ports: 1024, managed_outbound_ips: 1, custom_outbound_ips: 0,
                                   custom_outbound_ip_prefixes: 0, idle_timeout_in_minutes: 30, outbound_ip_count: 1}}
timespan:
  description: The Azure Monitor timespan queried.
  returned: when applicable
  type: str
  sample: 2026-11-25T19:00:00Z/2026-11-25T20:00:00Z
nodes:
  description: One entry per backend IP, worst first.
  returned: always
  type: list
  elements: dict
  sample: [{backend_ip: 10.240.0.4, node: aks-nodepool1-12345678-vmss000000, allocated: 1024, used: 1024, failed: 250,
            failed_before_change: 0, allocation_change: null,
            succeeded: 4000, pending: 0, ratio: 1.0, status: problem, reasons: ['250 failed SNAT connections']}]
worst:
  description: The backend with the highest used/allocated ratio (null without data).
  returned: always
  type: dict
  sample: {backend_ip: 10.240.0.4, node: aks-nodepool1-12345678-vmss000000, ratio: 1.0, failed: 250}
max_ratio:
  description: Highest used/allocated ratio.
  returned: always
  type: float
  sample: 1.0
failed_total:
  description:
    - Failed SNAT connections over the window, all backends; for a backend whose allocation rose, only after the change.
  returned: always
  type: int
  sample: 1250
failed_before_change:
  description:
    - Failed SNAT connections in the window before (and in the time bucket of) a rise of the backends' allocated ports.
    - Each such node has C(allocation_change) = C({from, to, at}) in RV(nodes).
  returned: always
  type: int
  sample: 0
capacity:
  description: Nodes the outbound ports must cover (pools' max counts plus surge).
  returned: when applicable and the cluster egresses through the load balancer
  type: dict
  sample: {max_nodes: 5, surge: 2, required_nodes: 7, current_nodes: 5,
           pools: [{name: nodepool1, count: 3, max_count: 3, max_surge: 10%, surge: 1}]}
recommendation:
  description:
    - Ports per node for the observed peak and whether they fit RV(capacity) with today's outbound IPs (see
      aks.tunnel.aks_outbound_ports). C(fits=false) - the repair would need C(ips_needed) outbound IPs; C(refused) says so.
    - C(peak_ports) is the peak of ports a node wants (C(peak_basis) says how it was found).
  returned: when applicable and the cluster egresses through the load balancer
  type: dict
  sample: {allocated_outbound_ports: 1824, managed_outbound_ips: 1, target_ports: 1824, ips_needed: 1, fits: true, refused: null,
           peak_ports: 1308, peak_basis: '10.240.0.4: 1024 ports in use with 13 of 60 connections failed -> about 1308 ports wanted',
           threshold: 0.8, margin: 0.1, expected_ratio: 0.7171, required_nodes: 7, max_nodes_supported: 35,
           current_ports_per_node: 1024, current_ips: 1, changed: true, reason: '1824 ports per node keep the peak ...'}
nat_gateways:
  description:
    - NAT gateway clusters - one entry per NAT gateway of the node subnets, with its capacity (C(ip_count), C(snat_ports),
      C(same_destination_limit) - 50,000 concurrent connections per public IP to one destination), C(idle_timeout_in_minutes),
      where it was found, its C(verdict) (failed and attempted SNAT connections, peak active connections, dropped packets)
      and C(recommendation) (C(ips_needed), C(fits) - false when even 16 IPs are not enough).
  returned: when the cluster egresses through a NAT gateway
  type: list
  elements: dict
  sample: [{name: natgw-aks, ip_count: 1, snat_ports: 64512, same_destination_limit: 50000, idle_timeout_in_minutes: 4,
            found_as: natGateway of node subnet aks-subnet,
            verdict: {status: problem, failed: 5400, attempted: 21600, peak_active_connections: 64512, dropped_packets: 16200},
            recommendation: {ips_needed: 3, fits: true, demand_connections: 86016}}]
finding:
  description: The C(snat_exhaustion) finding.
  returned: always
  type: dict
  sample: {cause: snat_exhaustion, status: problem, summary: 'SNAT exhaustion on 5 of 5 backend(s) ...',
           affected_nodes: [aks-nodepool1-12345678-vmss000000], evidence: ['10.240.0.4 (aks-nodepool1-12345678-vmss000000): allocated 1024, ...'],
           remediation: {allocated_outbound_ports: 1824, managed_outbound_ips: 1, peak_ports: 1308, ips_needed: 1,
                         fits_current_ips: true, reason: '...', advice: ['...']}}
api_calls:
  description:
    - HTTP requests the task sent, also when it failed. C(arm) counts every request to Azure Resource Manager (retries,
      long-running operation polls and list pages included; Entra token requests not), C(kube) every request to the
      Kubernetes API server.
    - Add them up over tasks with the P(aks.tunnel.api_calls_total#filter) filter; the diagnosis report shows the totals as
      C(stats.arm_calls) and C(stats.kube_calls).
  returned: always
  type: dict
  contains:
    arm: {description: "Requests to Azure Resource Manager.", type: int, returned: always}
    kube: {description: "Requests to the Kubernetes API server (0 - this module uses only Azure).", type: int, returned: always}
  sample: {arm: 5, kube: 0}
'''

from ansible_collections.aks.tunnel.plugins.module_utils import _cluster_model
from ansible_collections.aks.tunnel.plugins.module_utils import _cluster_options
from ansible_collections.aks.tunnel.plugins.module_utils import _outbound
from ansible_collections.aks.tunnel.plugins.module_utils import _snat
from ansible_collections.aks.tunnel.plugins.module_utils import _snat_metrics
from ansible_collections.aks.tunnel.plugins.module_utils import _snat_natgw
from ansible_collections.aks.tunnel.plugins.module_utils._module import AksTunnelModule

ARGUMENT_SPEC = _cluster_options.argument_spec(
    _cluster_options.CLUSTER_ARGSPEC, _cluster_options.MODEL_ARGSPEC, _cluster_options.API_TIMEOUT_ARGSPEC,
    window=dict(type='str', default='PT1H'),
    interval=dict(type='str', default='PT1M'),
    usage_threshold=dict(type='float', default=0.8),
    max_surge=dict(type='str'),
    max_nodes=dict(type='int'),
    node_names=dict(type='dict'),
)


NAT_OUTBOUND_TYPES = ('managedNATGateway', 'userAssignedNATGateway')


def nat_gateway_usage(module, cluster, model, summary, window, result):
    """NAT gateway path: find the node subnets' NAT gateway(s), read their SNAT metrics, exit with the verdict."""
    params = module.params
    subnet_ids = list((model or {}).get('cluster', {}).get('subnet_ids') or [])
    if not subnet_ids:
        pools = (cluster.get('properties') or {}).get('agentPoolProfiles') or []
        subnet_ids = sorted(set(pool['vnetSubnetID'] for pool in pools if pool.get('vnetSubnetID')))
    found = _snat_metrics.find_nat_gateways(module.azure, module.api_errors, subnet_ids, summary['node_resource_group'])
    span = _outbound.timespan(window)
    results, gateways = [], []
    for body, origin in found:
        try:
            gateway = _snat_natgw.gateway_summary(body, _snat_metrics.prefix_lengths(module.azure, module.api_errors, body))
            series = _snat_metrics.read_nat_metrics(module.azure.monitor, module.api_errors, gateway['id'], span, params['interval'].upper())
            verdict = _snat_natgw.natgw_verdict(series, gateway, params['usage_threshold'])
            recommendation = _snat_natgw.recommend_ips(verdict, gateway, params['usage_threshold'])
        except _snat_natgw.NatGatewayInputError as exc:
            module.fail('cannot evaluate NAT gateway %s: %s' % (body.get('id'), exc))
        results.append((gateway, verdict, recommendation))
        gateways.append(dict(gateway, found_as=origin, verdict=verdict, recommendation=recommendation))
    finding = _snat_natgw.natgw_finding(results, managed=summary['outbound_type'] == 'managedNATGateway')
    failed = sum(v['failed'] for _g, v, _r in results)
    module.exit(changed=False, applicable=True, reason=None, timespan=span, nat_gateways=gateways, finding=finding,
                **dict(result, failed_total=failed))


def main():
    module = AksTunnelModule(ARGUMENT_SPEC, azure=True)
    params = module.params
    if params['api_timeout'] < 1:
        module.fail('api_timeout must be >= 1, got %d' % params['api_timeout'])
    try:
        window = _outbound.parse_duration(params['window'], 'window')
        _outbound.parse_duration(params['interval'], 'interval')
    except _outbound.OutboundInputError as exc:
        module.fail(str(exc))
    model = _cluster_options.given_model(module)
    if model is not None:
        cluster = _cluster_model.managed_cluster_body(model)
    else:
        with module.api_errors('read managed cluster %s/%s' % (params['resource_group'], params['name'])):
            cluster = _cluster_model.as_dict(module.azure.containerservice.managed_clusters.get(params['resource_group'], params['name']))
    summary = _outbound.cluster_summary(cluster)
    result = {'cluster': summary, 'nodes': [], 'worst': None, 'max_ratio': None, 'failed_total': 0, 'failed_before_change': 0}
    if summary['outbound_type'] in NAT_OUTBOUND_TYPES and not summary['private']:
        nat_gateway_usage(module, cluster, model, summary, window, result)
    reason = _outbound.not_applicable_reason(summary)
    if reason:
        module.exit(changed=False, applicable=False, reason=reason, finding=_snat.snat_not_applicable_finding(reason), **result)
    try:
        capacity = _outbound.capacity(cluster, params['max_surge'], params['max_nodes'])
    except _outbound.OutboundInputError as exc:
        module.fail(str(exc))
    span = _outbound.timespan(window)
    series, sampled = _snat_metrics.read_metrics(module.azure.monitor, module.api_errors, summary['load_balancer_id'], span,
                                                 params['interval'].upper(), summary['node_count'])
    try:
        verdict = _snat.snat_verdict(series, params['usage_threshold'])
    except _snat.SnatInputError as exc:
        module.fail('cannot evaluate the SNAT metrics: %s' % exc)
    node_names = params['node_names']
    if node_names is None and model is not None:
        node_names = _cluster_model.node_ip_names(model)
    if node_names is None:
        node_names = _snat_metrics.resolve_node_names(module.azure, summary['node_resource_group'], module.api_errors)
    profile = summary['load_balancer_profile']
    # The ports a node wants: its used peak, or an estimate above the allocation where connections failed.
    peak_ports, peak_basis = _snat.demand_estimate(verdict)
    recommendation = None
    try:
        # Today's outbound IPs only: the recommendation says how many IPs it would take, it never plans new ones.
        recommendation = _snat.recommend(capacity['max_nodes'], capacity['surge'], current_ports=profile['allocated_outbound_ports'],
                                         current_ips=profile['outbound_ip_count'], current_nodes=capacity['current_nodes'] or None,
                                         peak_ports=peak_ports, threshold=params['usage_threshold'])
        recommendation['peak_basis'] = peak_basis
    except _snat.SnatInputError as exc:
        module.warn('no SNAT recommendation: %s' % exc)
    finding = _snat.snat_finding(verdict, recommendation, node_names)
    if sampled is not None:
        finding['evidence'].insert(0, 'large cluster: read the %d backend(s) with the most failed SNAT connections or used ports, of %d nodes'
                                   % (len(sampled), summary['node_count']))
    rows = []
    for backend in verdict['backends']:
        rows.append(dict(backend, node=node_names.get(backend['backend_ip'])))
    rows.sort(key=lambda row: (row['status'] != 'problem', -(row['ratio'] or 0), -row['failed'], row['backend_ip']))
    worst = None
    if rows and (rows[0]['ratio'] is not None or rows[0]['failed']):
        worst = {key: rows[0][key] for key in ('backend_ip', 'node', 'ratio', 'failed')}
    result.update(nodes=rows, worst=worst, max_ratio=verdict['max_ratio'], failed_total=verdict['failed_total'],
                  failed_before_change=verdict['failed_before_change'])
    module.exit(changed=False, applicable=True, reason=None, timespan=span, capacity=capacity, recommendation=recommendation,
                finding=finding, **result)


if __name__ == '__main__':
    main()
