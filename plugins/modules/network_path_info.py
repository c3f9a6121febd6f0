#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2026 aks.tunnel contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r'''
module: network_path_info
short_description: Find what blocks the kubelet port between AKS nodes outside the nodes and outside the NSGs
version_added: 0.1.0
description:
  - Evaluates the kubelet flows from the nodes that host the tunnel pods to every node's port O(port) against what sits
    in the virtual network's path besides the NSGs.
  - Azure Virtual Network Manager security admin rules of the node VNet(s), read with
    C(listNetworkManagerEffectiveSecurityAdminRules). They are evaluated before the NSGs - the source VNet's Outbound rules,
    then the destination VNet's Inbound rules, lowest priority number first. C(Deny) blocks whatever the NSGs say,
    C(AlwaysAllow) lets the flow through without NSG evaluation, C(Allow) hands it on to the NSGs.
  - The effective routes of the tunnel nodes' NICs (C(effectiveRouteTable), a long-running operation). A route for the VNet or
    the node subnet whose next hop is C(VirtualAppliance) puts an appliance in the kubelet path, next hop C(None) drops the
    traffic; the route is named.
  - With O(unreachable) (the probe's C(summary.unreachable_nodes)), a Deny admin rule, a blackhole or an appliance route is a
    problem for the unreachable nodes it covers, and an appliance in front of nodes that all answered is C(ok) with a
    warning. Without it a Deny admin rule or a blackhole is a problem and an appliance is C(unknown).
  - Returns the C(network_path_blocks_10250) finding with the rule or route, the blocked pairs and the exact Network Watcher
    commands. Never changes anything.
author: aks.tunnel contributors (@aks-tunnel)
options:
  unreachable:
    description:
      - The nodes the probe could not reach on O(port) - C(summary.unreachable_nodes) of M(aks.tunnel.vmss_runcommand_probe),
        a list of dicts with C(node) (other keys are ignored). An empty list means every node answered.
      - Leave it unset when the probe did not run.
    type: list
    elements: dict
  read_routes:
    description: Read the effective routes of the tunnel nodes' NICs (one long-running operation per distinct NIC name).
    type: bool
    default: true
  read_admin_rules:
    description: Read the Virtual Network Manager effective security admin rules of the node VNets.
    type: bool
    default: true
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
  - Azure RBAC - C(Microsoft.Network/virtualNetworks/listNetworkManagerEffectiveSecurityAdminRules/action) on the node VNet(s) and
    C(Microsoft.Network/networkInterfaces/effectiveRouteTable/action) on the node NICs, besides read access to the cluster and
    its node resource group (not with O(cluster_model)). The shipped role C(rbac/azure/aks-tunnel-diagnose.json) has both;
    the built-in Reader role has neither, so the path is C(unknown) with the reason.
  - Kubernetes RBAC - C(list) on nodes and on pods in C(kube-system) (not needed with O(source_nodes) or O(cluster_model)).
  - A failed read (403, 404, timeout) of one VNet's admin rules or one NIC's routes makes only the flows through it undecided.
'''

EXAMPLES = r'''
- name: Read the cluster model once
  aks.tunnel.aks_cluster_info:
    resource_group: rg-aks-prod
    name: aks-prod
  register: aks

- name: Probe the kubelets from the tunnel nodes
  aks.tunnel.vmss_runcommand_probe:
    resource_group: rg-aks-prod
    name: aks-prod
    cluster_model: "{{ aks }}"
  register: probe

- name: What between the nodes drops the kubelet traffic?
  aks.tunnel.network_path_info:
    resource_group: rg-aks-prod
    name: aks-prod
    cluster_model: "{{ aks }}"
    unreachable: "{{ probe.summary.unreachable_nodes }}"
  register: path

- name: Show the blocking admin rules and routes
  ansible.builtin.debug:
    var: path.finding.remediation
'''

RETURN = r'''
finding:
  description: The C(network_path_blocks_10250) finding (cause, status, summary, affected_nodes, evidence, remediation).
  returned: success
  type: dict
  sample:
    cause: network_path_blocks_10250
    status: problem
    summary: 'TCP 10250 to 1 node(s) is blocked between the nodes outside the NSGs: admin rule deny-kubelet'
    affected_nodes: [aks-user1-12345678-vmss000000]
    evidence: ["Deny admin rule 'deny-kubelet' (priority 10, Inbound, network manager corp-nm, ...) denies TCP 10250 from ... to ..."]
    remediation:
      summary: The kubelet traffic between nodes is dropped outside the nodes and the NSGs ...
      admin_rules: [{rule: deny-kubelet, id: /subscriptions/.../networkManagers/corp-nm/securityAdminConfigurations/cfg/ruleCollections/rc/rules/deny-kubelet,
                     network_manager: corp-nm, resource_group: rg-avnm, configuration: cfg, rule_collection: rc, priority: 10, access: Deny,
                     direction: Inbound, nodes: [aks-user1-12345678-vmss000000], source_nodes: [aks-nodepool1-12345678-vmss000000], where: '...'}]
      routes: []
      pairs: [{from: aks-nodepool1-12345678-vmss000000, to: aks-user1-12345678-vmss000000, from_ip: 10.224.0.4, to_ip: 10.224.0.7,
               blocked_by: admin_rule, rule: deny-kubelet, direction: Inbound}]
      commands: ['az network watcher run-configuration-diagnostic --resource /subscriptions/.../networkInterfaces/aks-user1-12345678-vmss
                  --direction Inbound --protocol TCP --source 10.224.0.4 --destination 10.224.0.7 --port 10250']
admin_rule_blocks:
  description: Deny admin rules that match a kubelet flow, with the nodes they cut off.
  returned: success
  type: list
  elements: dict
always_allow:
  description: AlwaysAllow admin rules that match a kubelet flow (those flows skip the NSGs of that direction).
  returned: success
  type: list
  elements: dict
route_hits:
  description: Effective routes of the tunnel nodes whose next hop is an appliance (C(VirtualAppliance)) or a drop (C(None)) for a node IP.
  returned: success
  type: list
  elements: dict
pairs:
  description: Blocked (source node, destination node) pairs, each with C(blocked_by) (C(admin_rule) or C(route)).
  returned: success
  type: list
  elements: dict
flows:
  description: Kubelet flows evaluated (0 when no source or destination has an IP, which makes the finding unknown).
  returned: success
  type: int
  sample: 8
unknown_nodes:
  description: Nodes whose path could not be decided, with the reason.
  returned: success
  type: list
  elements: dict
read_errors:
  description: Admin rule and route reads that failed (VNet or NIC, and the reason).
  returned: success
  type: list
  elements: dict
source_nodes:
  description: The nodes the flows start from.
  returned: success
  type: list
  elements: str
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
    kube: {description: "Requests to the Kubernetes API server.", type: int, returned: always}
  sample: {arm: 4, kube: 0}
'''

from ansible_collections.aks.tunnel.plugins.module_utils import _azure
from ansible_collections.aks.tunnel.plugins.module_utils import _cluster_model
from ansible_collections.aks.tunnel.plugins.module_utils import _cluster_options
from ansible_collections.aks.tunnel.plugins.module_utils import _network_path
from ansible_collections.aks.tunnel.plugins.module_utils._module import AksTunnelModule

# The service returns at most 20 admin rules per page ($top maximum in the spec); pages chain with skipToken.
ADMIN_RULES_PAGE = 20
ADMIN_RULES_MAX_PAGES = 100


def _error_text(exc, doing):
    if _azure.HAS_AZURE_SDK:
        return _azure.describe_azure_error(exc, doing)
    return 'Failed to %s: %s' % (doing, exc)


def _is_api_error(exc):
    if isinstance(exc, (OSError, ValueError, TimeoutError)):
        return True
    from azure.core.exceptions import AzureError  # pylint: disable=import-outside-toplevel
    return isinstance(exc, AzureError)


def read_admin_rules(network, vnet_id):
    """Every effective security admin rule of one VNet (REST shape); raises the SDK's errors."""
    parsed = _cluster_model.parse_resource_id(vnet_id) or {}
    rg, name = parsed.get('resource_group'), parsed.get('name')
    if not rg or not name:
        raise ValueError('%s is not a virtual network id' % vnet_id)
    rules = []
    token = None
    for _page in range(ADMIN_RULES_MAX_PAGES):
        body = {'skipToken': token} if token else {}
        page = _cluster_model.as_dict(network.list_network_manager_effective_security_admin_rules(rg, name, body, top=ADMIN_RULES_PAGE))
        rules.extend(_cluster_model.as_dict(r) for r in page.get('value') or [])
        token = page.get('skipToken') or page.get('skip_token')
        if not token:
            return rules
    raise ValueError('more than %d pages of admin rules' % ADMIN_RULES_MAX_PAGES)


def nic_address(nic_id):
    """(resource group, NIC name) for the effectiveRouteTable operation (VMSS instance NICs carry the scale set's NIC name)."""
    parsed = _cluster_model.parse_resource_id(nic_id) or {}
    return parsed.get('resource_group'), parsed.get('name')


def read_routes(network, nic_id, timeout):
    rg, name = nic_address(nic_id)
    if not rg or not name:
        raise ValueError('%s is not a network interface id' % nic_id)
    poller = network.network_interfaces.begin_get_effective_route_table(rg, name)
    poller.wait(timeout=timeout)
    if not poller.done():
        raise TimeoutError('the effective route table of %s did not finish within %ds' % (nic_id, timeout))
    result = _cluster_model.as_dict(poller.result())
    return [_cluster_model.as_dict(r) for r in result.get('value') or []]


def main():
    module = AksTunnelModule(
        _cluster_options.argument_spec(
            _cluster_options.CLUSTER_ARGSPEC, _cluster_options.MODEL_ARGSPEC, _cluster_options.API_TIMEOUT_ARGSPEC,
            _cluster_options.KUBELET_PORT_ARGSPEC, _cluster_options.SOURCE_NODES_ARGSPEC,
            unreachable=dict(type='list', elements='dict'),
            read_routes=dict(type='bool', default=True),
            read_admin_rules=dict(type='bool', default=True),
        ),
        azure=True, kube=True,
    )
    params = module.params
    if not 1 <= params['port'] <= 65535:
        module.fail('port must be between 1 and 65535, got %d' % params['port'])
    if params['api_timeout'] < 1:
        module.fail('api_timeout must be >= 1, got %d' % params['api_timeout'])
    model = _cluster_options.cluster_model(module, kube=not params['source_nodes'])
    try:
        if params['source_nodes']:
            sources = _cluster_model.resolve_nodes(model, params['source_nodes'])
        else:
            sources = [n for n in model['nodes'] if n['hosts_tunnel']]
    except _cluster_model.ClusterModelError as exc:
        module.fail(str(exc))
    read_errors = []
    network = module.azure.network if (params['read_admin_rules'] or params['read_routes']) else None

    admin_rules = {}
    if params['read_admin_rules']:
        vnets = {}
        for node in model['nodes']:
            vnet = _network_path.vnet_of(node.get('subnet_id'))
            if vnet:
                vnets.setdefault(vnet.lower(), vnet)
        for key, vnet in sorted(vnets.items()):
            doing = 'list the effective security admin rules of %s' % vnet
            try:
                admin_rules[key] = read_admin_rules(network, vnet)
            except Exception as exc:  # pylint: disable=broad-except
                if not _is_api_error(exc):
                    raise
                admin_rules[key] = {'error': _error_text(exc, doing)}
                read_errors.append({'resource': vnet, 'what': 'admin_rules', 'error': admin_rules[key]['error']})
    else:
        admin_rules = dict((k, {'error': 'not read (read_admin_rules=false)'}) for k in set(
            (_network_path.vnet_of(n.get('subnet_id')) or '').lower() for n in model['nodes']))

    routes = {}
    by_nic = {}
    for src in sources:
        if not params['read_routes']:
            routes[src['name']] = {'error': 'not read (read_routes=false)'}
        elif not src.get('nic_id'):
            routes[src['name']] = {'error': 'the node has no NIC in the model (not a VMSS node)'}
        else:
            by_nic.setdefault(nic_address(src['nic_id']), []).append(src)
    for (_rg, _name), nodes in sorted(by_nic.items(), key=lambda item: str(item[0])):
        nic_id = nodes[0]['nic_id']
        doing = 'read the effective route table of %s' % nic_id
        try:
            value = read_routes(network, nic_id, params['api_timeout'])
        except Exception as exc:  # pylint: disable=broad-except
            if not _is_api_error(exc):
                raise
            value = {'error': _error_text(exc, doing)}
            read_errors.append({'resource': nic_id, 'what': 'routes', 'error': value['error']})
        for node in nodes:
            routes[node['name']] = value

    result = _network_path.check_network_path(model, sources, admin_rules, routes, port=params['port'])
    finding = _network_path.path_finding(result, sources, params['unreachable'], port=params['port'])
    module.exit(changed=False, finding=finding, admin_rule_blocks=result['admin_blocks'], always_allow=result['always_allow'],
                route_hits=result['route_hits'], pairs=result['pairs'][:_network_path.PAIR_SAMPLE * 10], flows=result['flows'],
                unknown_nodes=result['unknown'], read_errors=read_errors, source_nodes=[n['name'] for n in sources])


if __name__ == '__main__':
    main()
