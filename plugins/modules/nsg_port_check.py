#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2026 aks.tunnel contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r'''
module: nsg_port_check
short_description: Find the NSG rules that block the AKS tunnel (kubelet port and tunnel egress)
version_added: 0.1.0
description:
  - Evaluates every network security group on the path from the nodes that host the tunnel pods to every node's
    kubelet port (source NIC and subnet NSGs outbound, destination subnet and NIC NSGs inbound), the way Azure does
    (lowest priority first, first match wins, default rules included, C(VirtualNetwork) = the VNet address space).
  - Optionally evaluates the egress the tunnel component needs from those nodes to the API server (konnectivity
    TCP 443, tunnel-front TCP 9000, aks-link UDP 1194).
  - Evaluates once per distinct combination of NSGs on the path; only when a rule names specific addresses are
    flows evaluated per node pair.
  - Returns per-NSG verdicts, the blocking rules (NSG, name, priority, direction and the nodes they cut off) and
    the C(nsg_blocks_10250) and C(egress_ports_blocked) findings. Verdicts the engine cannot decide (unknown
    service tags, application security groups) are C(unknown) with the reason. Never changes anything.
  - With API Server VNet Integration, also evaluates the flows the API server subnet (C(apiServerAccessProfile.subnetId))
    needs - every node to the subnet on TCP 443 and 4443 (node NIC and subnet NSGs outbound, the API server subnet's NSG
    inbound) and C(AzureLoadBalancer) (168.63.129.16) to it on port 9988 (TCP and UDP, as the articles disagree on it; C(unknown) when
    only one is denied) - to a representative address of the subnet (its .4), and back from that address to every node on TCP
    10250 (the API server's kubelet requests; the subnet's NSG outbound, the node subnet and NIC NSGs inbound),
    and returns the C(apiserver_subnet_ports_blocked) finding (C(not_applicable) without VNet integration, C(unknown) when
    the subnet or its NSG cannot be read) with the exact C(az network nsg rule create) to add for each blocked flow.
author: aks.tunnel contributors (@aks-tunnel)
options:
  check_egress:
    description: Also evaluate the tunnel's egress to the API server.
    type: bool
    default: true
  api_server_ip:
    description:
      - IP address of the API server for the egress evaluation. Default - for a private cluster, the address of its
        C(kube-apiserver) private endpoint read from ARM (its private FQDN is never resolved on the controller); else the
        address the controller resolves the API server FQDN to. The egress verdict is C(unknown), with the reason, when
        neither is known.
    type: str
  always_allow:
    description:
      - Azure Virtual Network Manager AlwaysAllow admin rules that match kubelet flows, as RV(aks.tunnel.network_path_info#module:always_allow)
        returns them. Admin rules are evaluated before NSGs, and an AlwaysAllow rule lets its flows through without NSG evaluation,
        so an NSG Deny on those flows (in that direction) is not a block.
    type: list
    elements: dict
extends_documentation_fragment:
  - aks.tunnel.cluster
  - aks.tunnel.cluster.MODEL
  - aks.tunnel.cluster.API_TIMEOUT
  - aks.tunnel.cluster.KUBELET_PORT
  - aks.tunnel.cluster.SOURCE_NODES
  - aks.tunnel.azure
  - aks.tunnel.kubernetes
  - aks.tunnel.attributes
  - aks.tunnel.attributes.ACTIONGROUP_AZURE_AND_KUBERNETES
  - aks.tunnel.attributes.INFO_MODULE
notes:
  - Azure RBAC - read access to the cluster, the node resource group (scale sets, instances, network interfaces,
    NSGs) and the node subnets and their NSGs (the built-in Reader role is enough). With O(cluster_model) only the NSGs are read,
    one request per distinct NSG.
  - Kubernetes RBAC - C(list) on nodes and on pods in C(kube-system) (not needed with O(source_nodes) or O(cluster_model)).
  - Azure platform traffic and NSG flows between two IPs of the same node are not evaluated.
  - API Server VNet Integration - C(Microsoft.Network/virtualNetworks/subnets/read) on the API server subnet and
    C(Microsoft.Network/networkSecurityGroups/read) on its NSG (in the Reader role).
'''

EXAMPLES = r'''
- name: Which NSG rules cut the tunnel off?
  aks.tunnel.nsg_port_check:
    resource_group: rg-aks-prod
    name: aks-prod
  register: nsg_check

- name: Show the blocking rules
  ansible.builtin.debug:
    msg: "{{ item.nsg_name }}/{{ item.rule }} ({{ item.priority }}) blocks {{ item.nodes | join(', ') }}"
  loop: "{{ nsg_check.blocking_rules }}"

- name: Check from given nodes, with a known API server address
  aks.tunnel.nsg_port_check:
    resource_group: rg-aks-prod
    name: aks-prod
    source_nodes: [aks-nodepool1-12345678-vmss000000]
    api_server_ip: 20.50.1.10

- name: Read the cluster model once
  aks.tunnel.aks_cluster_info:
    resource_group: rg-aks-prod
    name: aks-prod
  register: aks

- name: Check on that model (reads only the NSGs)
  aks.tunnel.nsg_port_check:
    resource_group: rg-aks-prod
    name: aks-prod
    cluster_model: "{{ aks }}"
'''

RETURN = r'''
finding:
  description: The C(nsg_blocks_10250) finding (cause, status, summary, affected_nodes, evidence, remediation).
  returned: success
  type: dict
  sample:
    cause: nsg_blocks_10250
    status: problem
    summary: NSG rule(s) 'deny-kubelet' deny TCP 10250 from the tunnel nodes to 2 node(s)
    affected_nodes: [aks-user1-12345678-vmss000000, aks-user1-12345678-vmss000001]
    evidence: ["rule 'deny-kubelet' (priority 200, Inbound) in NSG aks-agentpool-12345678-nsg denies TCP 10250 from ... to ..."]
    remediation:
      module: aks.tunnel.nsg_port_rule
      summary: In each NSG that denies, add an Allow rule for TCP 10250 from the node subnet(s) ...
      # one entry per NSG and direction that denies the flows (subnet and NIC NSGs separately), with the node subnets,
      # node IPs and a sample of the denied flows (up to 16 per deciding Deny) - the arguments of nsg_port_rule
      rules: [{resource_group: MC_rg_aks_westeurope, nsg: aks-agentpool-12345678-nsg, nsg_id: /subscriptions/.../aks-agentpool-12345678-nsg,
               direction: Inbound, port: 10250, protocol: Tcp, blocking_rule: deny-kubelet, blocking_priority: 200,
               blocking_rules: [{rule: deny-kubelet, priority: 200}], source_prefixes: [10.224.0.0/16],
               destination_prefixes: [10.224.0.0/16], source_ips: [10.224.0.4], destination_ips: [10.224.0.7, 10.224.0.8],
               flow_sources: [10.224.0.4], flow_destinations: [10.224.0.7, 10.224.0.8], vnet_prefixes: [10.224.0.0/12]}]
egress_finding:
  description: The C(egress_ports_blocked) finding for NSGs (C(not_applicable) when no egress is needed or checked).
  returned: success
  type: dict
  sample: {cause: egress_ports_blocked, status: ok, summary: no NSG blocks the tunnel egress (TCP 443) to the API server,
           affected_nodes: [], evidence: [], remediation: {}}
findings:
  description: The kubelet path, egress and API server subnet (C(apiserver_subnet_ports_blocked)) findings, in that order.
  returned: success
  type: list
  elements: dict
apiserver_subnet:
  description:
    - API Server VNet Integration - the API server subnet (id, prefix, NSG, the address the flows were evaluated to) and every
      flow (C(source) nodes, apiserver_subnet (to the C(source_nodes)) or AzureLoadBalancer, C(port), C(access), deciding C(rule),
      C(priority), C(nsg), C(reason));
      C(blocked) and C(unknown) list the flows denied or undecided. Null without VNet integration or when it was not read.
  returned: success
  type: dict
  sample: {apiserver_subnet: {prefix: 10.225.0.0/28, address: 10.225.0.4, nsg_id: /subscriptions/.../apiserver-nsg},
           flows: [{source: nodes, port: 4443, access: Deny, rule: deny-4443, priority: 200}], blocked: [], unknown: []}
blocking_rules:
  description: Rules that deny a checked flow, with the nodes they cut off.
  returned: success
  type: list
  elements: dict
  sample:
    - nsg_id: /subscriptions/.../networkSecurityGroups/aks-agentpool-12345678-nsg
      nsg_name: aks-agentpool-12345678-nsg
      resource_group: MC_rg_aks_westeurope
      rule: deny-kubelet
      priority: 200
      direction: Inbound
      position: destination_nic
      default_rule: false
      flow: kubelet
      port: 10250
      protocol: Tcp
      nodes: [aks-user1-12345678-vmss000000]
      source_nodes: [aks-nodepool1-12345678-vmss000000]
nsgs:
  description: Per-NSG verdicts over the evaluated flow combinations (allowed, denied, unknown counts, blocking rule names, reasons).
  returned: success
  type: list
  elements: dict
  sample:
    - {nsg_id: /subscriptions/.../aks-agentpool-12345678-nsg, nsg_name: aks-agentpool-12345678-nsg, resource_group: MC_rg_aks_westeurope,
       positions: [source_nic, destination_nic], flows: 6, allowed: 4, denied: 2, unknown: 0, blocking_rules: [deny-kubelet], unknown_reasons: []}
paths:
  description: Counts over all (source node, destination node) pairs.
  returned: success
  type: dict
  sample: {checked: 8, allowed: 4, denied: 4, unknown: 0}
unknown_nodes:
  description: Nodes whose verdict could not be decided, with the reason.
  returned: success
  type: list
  elements: dict
egress:
  description: Egress verdict per source node and port (access Allow, Deny or Unknown, deciding rule, reason).
  returned: success
  type: list
  elements: dict
source_nodes:
  description: The nodes the flows start from.
  returned: success
  type: list
  elements: str
evaluations:
  description: How many path evaluations were needed (distinct NSG combinations, or pairs where rules name addresses).
  returned: success
  type: int
  sample: 1
api_server_ip:
  description: The API server address used for the egress evaluation (null when unknown).
  returned: success
  type: str
  sample: 20.50.1.10
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
    kube: {description: "Requests to the Kubernetes API server.", type: int, returned: always}
  sample: {arm: 12, kube: 2}
'''

import socket
import threading

from ansible_collections.aks.tunnel.plugins.module_utils import _apiserver_subnet
from ansible_collections.aks.tunnel.plugins.module_utils import _cluster_model
from ansible_collections.aks.tunnel.plugins.module_utils import _cluster_options
from ansible_collections.aks.tunnel.plugins.module_utils import _nsg_check
from ansible_collections.aks.tunnel.plugins.module_utils import _network_path
from ansible_collections.aks.tunnel.plugins.module_utils import _private_endpoint
from ansible_collections.aks.tunnel.plugins.module_utils._module import AksTunnelModule


def resolve_host(host, timeout=3.0):
    """First IPv4 address of ``host``, or None (in a daemon thread: getaddrinfo has no timeout)."""
    if not host:
        return None
    found = []

    def lookup():
        try:
            for info in socket.getaddrinfo(host, None, socket.AF_INET, socket.SOCK_STREAM):
                found.append(info[4][0])
                return
        except OSError:
            return

    thread = threading.Thread(target=lookup, daemon=True)
    thread.start()
    thread.join(timeout)
    return found[0] if found else None


def apiserver_subnet_check(module, model, nsgs):
    """API Server VNet Integration: (the apiserver_subnet_ports_blocked finding, the flows evaluated or None).

    Reads the API server subnet and its NSG; a read that fails makes only this cause UNKNOWN (the kubelet and egress
    verdicts stand).
    """
    cluster = model['cluster']
    if not cluster.get('vnet_integration'):
        return _apiserver_subnet.finding(None, False), None
    tunnel = _apiserver_subnet.tunnel_remains(cluster.get('network_plugin'), cluster.get('network_plugin_mode'))
    subnet_id = cluster.get('apiserver_subnet_id')
    parsed = _cluster_model.parse_resource_id(subnet_id) or {}
    if not subnet_id or len(parsed.get('names') or []) < 2:
        return _apiserver_subnet.finding(None, True, tunnel), None
    try:
        subnet = _cluster_model.as_dict(module.azure.network.subnets.get(parsed['resource_group'], parsed['names'][0], parsed['names'][1]))
        nsg_id = ((subnet.get('properties') or {}).get('networkSecurityGroup') or {}).get('id')
        if nsg_id and nsg_id.lower() not in nsgs:
            nsgs.update(_cluster_model.fetch_nsgs(module.azure.network, [nsg_id]))
    except Exception as exc:  # pylint: disable=broad-except  # any SDK error: this cause is UNKNOWN, the others stand
        reason = 'cannot read the API server subnet %s or its NSG: %s' % (subnet_id, str(exc).splitlines()[0][:300] if str(exc) else type(exc).__name__)
        found = _apiserver_subnet.finding(None, True, tunnel)
        found.update(summary=reason, evidence=[reason] + found['evidence'][1:])
        return found, None
    prefixes = sorted(set(n['subnet_prefix'] for n in model['nodes'] if n.get('subnet_prefix')))
    try:
        result = _apiserver_subnet.check_flows(model, subnet, nsgs)
    except (_apiserver_subnet.ApiserverSubnetError, ValueError) as exc:
        reason = 'cannot evaluate the API server subnet paths: %s' % exc
        found = _apiserver_subnet.finding(None, True, tunnel)
        found.update(summary=reason, evidence=[reason])
        return found, None
    return _apiserver_subnet.finding(result, True, tunnel, prefixes), result


def main():
    module = AksTunnelModule(
        _cluster_options.argument_spec(
            _cluster_options.CLUSTER_ARGSPEC, _cluster_options.MODEL_ARGSPEC, _cluster_options.API_TIMEOUT_ARGSPEC,
            _cluster_options.KUBELET_PORT_ARGSPEC, _cluster_options.SOURCE_NODES_ARGSPEC,
            check_egress=dict(type='bool', default=True),
            api_server_ip=dict(type='str'),
            always_allow=dict(type='list', elements='dict'),
        ),
        azure=True, kube=True,
    )
    params = module.params
    if not 1 <= params['port'] <= 65535:
        module.fail('port must be between 1 and 65535, got %d' % params['port'])
    model = _cluster_options.cluster_model(module, kube=not params['source_nodes'])
    nsg_ids = set()
    for node in model['nodes']:
        nsg_ids.update(i for i in (node['nic_nsg_id'], node['subnet_nsg_id']) if i)
    with module.api_errors('read the network security groups of the cluster'):
        nsgs = _cluster_model.fetch_nsgs(module.azure.network, nsg_ids)
    try:
        if params['source_nodes']:
            sources = _cluster_model.resolve_nodes(model, params['source_nodes'])
        else:
            sources = [n for n in model['nodes'] if n['hosts_tunnel']]
    except _cluster_model.ClusterModelError as exc:
        module.fail(str(exc))
    tunnel = model['tunnel']
    if params['source_nodes'] and params['check_egress'] and tunnel['component'] is None:
        module.warn('source_nodes is set, so Kubernetes was not read and the tunnel component (and its egress) is unknown; '
                    'egress is not checked')
    egress = tunnel['egress'] if params['check_egress'] else []
    api_ip, api_reason = params['api_server_ip'], None
    if egress and not api_ip:
        # a private cluster: its private endpoint address from the model (the private FQDN is never resolved here)
        api_ip, api_reason = _private_endpoint.api_server_address(model['cluster'], resolve_host)
    bypass = _network_path.nsg_bypass(params['always_allow']) if params['always_allow'] else None
    result = _nsg_check.check_paths(model, nsgs, sources, port=params['port'], egress=egress, api_server_ip=api_ip, nsg_bypass=bypass,
                                    api_server_reason=api_reason)
    finding = _nsg_check.kubelet_finding(result, sources, port=params['port'])
    egress_finding = _nsg_check.egress_finding(result, tunnel if tunnel['component'] is not None else {'egress': []},
                                               checked=params['check_egress'])
    apiserver_finding, apiserver_result = apiserver_subnet_check(module, model, nsgs)
    module.exit(changed=False, finding=finding, egress_finding=egress_finding, findings=[finding, egress_finding, apiserver_finding],
                apiserver_subnet=apiserver_result,
                blocking_rules=result['blocking_rules'], nsgs=result['nsgs'], paths=result['paths'],
                unknown_nodes=result['unknown_nodes'], egress=result['egress'], source_nodes=[n['name'] for n in sources],
                evaluations=result['evaluations'], api_server_ip=api_ip)


if __name__ == '__main__':
    main()
