#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2026 aks.tunnel contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r'''
module: egress_route_info
short_description: Find the route and the Azure Firewall rule that decide the AKS tunnel egress to the API server
version_added: 0.1.0
description:
  - Finds the route the tunnel egress takes from the node subnet to the API server - the effective routes of a tunnel node's
    NIC when they can be read (what Azure computed), else the node subnet's route table over the system routes (longest
    prefix, a user route over a system route of the same prefix). The route is named by its route table, name and prefix.
    Each node subnet of O(source_nodes) is evaluated this way.
  - When the next hop is a virtual appliance whose IP is the private IP of an Azure Firewall in the subscription - or in the
    hub subscription of a VNet the node VNet is peered with, when the next hop is in that peering's remote address space (hub and
    spoke; read when the identity can, else the finding is C(unknown) naming that subscription and the Reader role) - evaluates
    the firewall's rules for each tunnel flow (konnectivity TCP 443 with its SNI, tunnel-front TCP 9000, aks-link UDP 1194) -
    a Firewall Policy (parent policy first, rule collection groups and collections by priority, network rules before
    application rules, the C(AzureKubernetesService) FQDN tag) or the classic rule collections - and names the rule that
    denies, or says that none allows (Azure Firewall denies by default).
  - A next hop of type C(VirtualNetworkGateway) with an IP (a route a Virtual WAN hub gives its spokes) is looked up the same
    way among the subscription's Azure Firewalls by their virtual hub private IP (C(hubIPAddresses)); a secured hub's firewall
    is evaluated like a VNet's, and none found leaves the verdict to the probe (else C(unknown), naming the next hop). Such routes
    are only in the effective routes - when they are not read and the route table gives a system route while the node VNet uses a
    peering's remote gateways, the route is C(unknown).
  - For a denied flow it plans the rule collection group the repair adds (M(aks.tunnel.azure_firewall_rule)). For an appliance
    that is not an Azure Firewall it names the appliance and the exact allow to add; whether it blocks comes from the node
    probe (O(probe_results)).
  - Returns the C(egress_ports_blocked) finding. Never changes anything.
author: aks.tunnel contributors (@aks-tunnel)
options:
  api_server_ip:
    description:
      - The API server address the nodes reach. Default - for a private cluster, the address of its C(kube-apiserver) private
        endpoint read from ARM (its private FQDN is never resolved on the controller); else the API server FQDN resolved here.
    type: str
  probe_results:
    description:
      - The C(results) of M(aks.tunnel.vmss_runcommand_probe) (their C(checks.egress)); decides for an appliance that is not an
        Azure Firewall. Leave it unset when the probe did not run.
    type: list
    elements: dict
  read_effective_routes:
    description: Read the effective routes of a tunnel node's NIC (a long-running operation); else the route table decides.
    type: bool
    default: true
extends_documentation_fragment:
  - aks.tunnel.cluster
  - aks.tunnel.cluster.MODEL
  - aks.tunnel.cluster.API_TIMEOUT
  - aks.tunnel.cluster.SOURCE_NODES
  - aks.tunnel.azure
  - aks.tunnel.kubernetes
  - aks.tunnel.attributes
  - aks.tunnel.attributes.ACTIONGROUP_AZURE_AND_KUBERNETES
  - aks.tunnel.attributes.INFO_MODULE
notes:
  - Azure RBAC - read on the node subnet, its route table, the Azure Firewalls of the subscription
    (C(Microsoft.Network/azureFirewalls/read)), the firewall policies and their rule collection groups
    (C(Microsoft.Network/firewallPolicies/read), C(.../ruleCollectionGroups/read)), and
    C(Microsoft.Network/networkInterfaces/effectiveRouteTable/action) for the effective routes (without it the route table
    decides); C(Microsoft.Network/virtualNetworks/read) on the node VNet for its peerings, and the same reads on the hub
    subscription of a peered hub VNet that holds the next hop.
  - The IP groups the rules refer to are read (C(Microsoft.Network/ipGroups/read)) and decided from their addresses. Service
    tags other than C(AzureCloud) and C(AzureCloud.<region>) are decided from the IP ranges Azure publishes for them, read once
    per run through the Service Tag Discovery API (C(Microsoft.Network/locations/serviceTags/read), in Reader) and only when a
    rule names such a tag. An IP group or a service tag that cannot be read (or is not in Azure's list), target URLs and web
    categories are not resolved - a rule that may match through them makes the verdict C(unknown) when it could change it.
'''

EXAMPLES = r'''
- name: Read the cluster model once
  aks.tunnel.aks_cluster_info:
    resource_group: rg-aks-prod
    name: aks-prod
  register: aks

- name: Which route and firewall rule decide the tunnel egress?
  aks.tunnel.egress_route_info:
    resource_group: rg-aks-prod
    name: aks-prod
    cluster_model: "{{ aks }}"
  register: egress

- name: Show the denying rule and the rule collection group to add
  ansible.builtin.debug:
    var: egress.egress_finding.remediation
'''

RETURN = r'''
egress_finding:
  description: The C(egress_ports_blocked) finding of the egress path (cause, status, summary, affected_nodes, evidence, remediation).
  returned: success
  type: dict
  sample:
    cause: egress_ports_blocked
    status: problem
    summary: "the Azure Firewall fw-hub denies the tunnel egress (TCP 443) on route table rt-aks, route 'default-via-fw' (0.0.0.0/0) -> ..."
    remediation:
      route: {table: rt-aks, name: default-via-fw, prefix: 0.0.0.0/0, next_hop_type: VirtualAppliance, next_hop_ip: 10.241.0.4}
      firewall: {firewall: fw-hub, policy: fp-aks, rule_collection_group: aks-tunnel-egress, priority: 199,
                 denied: [{flow: TCP 443, rule: 'firewall policy fp-aks, rule collection group rcg-block ... network rule deny-443'}]}
route:
  description: The route to the API server from the first node subnet (C(table), C(name), C(prefix), C(next_hop_type), C(next_hop_ip),
    C(source), C(how), C(subnet_id)), or null.
  returned: success
  type: dict
routes:
  description: The route to the API server from each node subnet of the tunnel nodes (each subnet has its own route table).
  returned: success
  type: list
  elements: dict
firewall:
  description:
    - The Azure Firewall that owns the next hop IP (C(name), C(id), C(policy), C(policy_id), C(kind), C(subscription),
      C(virtual_hub) - the virtual hub id of a Virtual WAN secured hub's firewall, else null), or null.
    - C(subscription) is another subscription of the tenant when the firewall is in the hub VNet the node VNet is peered with.
  returned: success
  type: dict
api_server_ip:
  description: The API server address evaluated.
  returned: success
  type: str
api_calls:
  description: HTTP requests the task sent (C(arm), C(kube)), also when it failed.
  returned: always
  type: dict
  contains:
    arm: {description: "Requests to Azure Resource Manager.", type: int, returned: always}
    kube: {description: "Requests to the Kubernetes API server.", type: int, returned: always}
'''

import ipaddress
import socket
import threading

from ansible_collections.aks.tunnel.plugins.module_utils import _azure
from ansible_collections.aks.tunnel.plugins.module_utils import _causes
from ansible_collections.aks.tunnel.plugins.module_utils import _cluster_model
from ansible_collections.aks.tunnel.plugins.module_utils import _cluster_options
from ansible_collections.aks.tunnel.plugins.module_utils import _egress_path
from ansible_collections.aks.tunnel.plugins.module_utils import _egress_route
from ansible_collections.aks.tunnel.plugins.module_utils import _firewall_policy
from ansible_collections.aks.tunnel.plugins.module_utils import _private_endpoint
from ansible_collections.aks.tunnel.plugins.module_utils._module import AksTunnelModule

# A policy chain longer than this is refused (Azure allows one parent per policy; chains stay short).
MAX_POLICY_DEPTH = 8


def resolve_host(host, timeout=3.0):
    """First IPv4 address of ``host``, or None (in a daemon thread: getaddrinfo has no timeout)."""
    if not host:
        return None
    found = []

    def lookup():
        try:
            found.extend(info[4][0] for info in socket.getaddrinfo(host, None, socket.AF_INET, socket.SOCK_STREAM))
        except OSError:
            return

    thread = threading.Thread(target=lookup, daemon=True)
    thread.start()
    thread.join(timeout)
    return found[0] if found else None


def _is_api_error(exc):
    if isinstance(exc, (OSError, ValueError, TimeoutError)):
        return True
    from azure.core.exceptions import AzureError  # pylint: disable=import-outside-toplevel
    return isinstance(exc, AzureError)


def _error_text(exc, doing):
    if _azure.HAS_AZURE_SDK:
        return _azure.describe_azure_error(exc, doing)
    return 'Failed to %s: %s' % (doing, exc)


def _ids(resource_id):
    parsed = _cluster_model.parse_resource_id(resource_id) or {}
    return parsed.get('resource_group'), parsed.get('names') or [parsed.get('name')]


def read_effective_routes(network, nic_id, timeout):
    """The effective routes of one NIC (the same operation network_path_info reads)."""
    rg, names = _ids(nic_id)
    poller = network.network_interfaces.begin_get_effective_route_table(rg, names[-1])
    poller.wait(timeout=timeout)
    if not poller.done():
        raise TimeoutError('the effective route table of %s did not finish within %ds' % (nic_id, timeout))
    return [_cluster_model.as_dict(r) for r in _cluster_model.as_dict(poller.result()).get('value') or []]


def find_firewall(network, ip):
    """The azureFirewalls resource whose private IP is ``ip`` (ipConfigurations or a virtual hub's private IP), or None."""
    for firewall in network.azure_firewalls.list_all():
        data = _cluster_model.as_dict(firewall)
        props = data.get('properties') or {}
        addresses = [(c.get('properties') or {}).get('privateIPAddress') for c in props.get('ipConfigurations') or []]
        addresses.append(((props.get('hubIPAddresses') or {}).get('privateIPAddress')))
        if ip in addresses:
            return data
    return None


def read_policy_chain(network, policy_id):
    """[{name, id, groups}] from the root parent policy to ``policy_id``."""
    chain = []
    seen = set()
    while policy_id:
        if policy_id.lower() in seen or len(chain) >= MAX_POLICY_DEPTH:
            raise ValueError('the firewall policy chain at %s loops or is deeper than %d' % (policy_id, MAX_POLICY_DEPTH))
        seen.add(policy_id.lower())
        rg, names = _ids(policy_id)
        policy = _cluster_model.as_dict(network.firewall_policies.get(rg, names[-1]))
        groups = [_cluster_model.as_dict(g) for g in network.firewall_policy_rule_collection_groups.list(rg, names[-1])]
        chain.insert(0, {'name': policy.get('name'), 'id': policy.get('id'), 'resource_group': rg, 'groups': groups})
        policy_id = ((policy.get('properties') or {}).get('basePolicy') or {}).get('id')
    return chain


def read_ip_groups(network, subscription_id, group_ids):
    """{IP group id (lower case): {'addresses': [...]} or {'error': reason}} of the IP groups the firewall's rules refer to."""
    out = {}
    for group_id in group_ids:
        parsed = _cluster_model.parse_resource_id(group_id) or {}
        key = str(group_id).strip().rstrip('/').lower()
        if not parsed.get('resource_group') or not parsed.get('name'):
            out[key] = {'error': 'not an IP group id'}
            continue
        if subscription_id and (parsed.get('subscription') or '').lower() != subscription_id.lower():
            out[key] = {'error': 'it is in subscription %s, which this run does not read' % parsed.get('subscription')}
            continue
        try:
            out[key] = _firewall_policy.ip_group_addresses(_cluster_model.as_dict(network.ip_groups.get(parsed['resource_group'], parsed['name'])))
        except Exception as exc:  # pylint: disable=broad-except
            if not _is_api_error(exc):
                raise
            out[key] = {'error': _error_text(exc, 'read the IP group %s' % group_id)}
    return out


class ServiceTagReader:
    """Azure's published service tag ranges (Service Tag Discovery API, ServiceTags_List), read at most once per run and only
    when a firewall rule names a tag nothing else decides; a failed or forbidden read leaves those tags undecided with the reason."""

    def __init__(self, network, location):
        self.network = network
        self.location = location
        self.answer = None
        self.error = None
        self.reads = 0

    def ranges(self, names):
        """({tag (lower case): {prefixes, ...} or {error}}, where they come from) for ``names``; ({}, None) when there are none."""
        if not names:
            return {}, None
        if self.answer is None and self.error is None:
            if not self.location:
                self.error = 'the cluster location is not known (the Service Tag Discovery API is read per location)'
            else:
                self.reads += 1
                try:
                    self.answer = _cluster_model.as_dict(self.network.service_tags.list(self.location)) or {}
                except Exception as exc:  # pylint: disable=broad-except
                    if not _is_api_error(exc):
                        raise
                    self.error = _error_text(exc, 'read the service tags at %s (Service Tag Discovery API, '
                                                  'Microsoft.Network/locations/serviceTags/read)' % self.location)
        if self.error:
            return dict((str(n).lower(), {'error': self.error}) for n in names), None
        answer = self.answer
        return _firewall_policy.service_tag_ranges(answer, names), 'read from the Service Tag Discovery API at %s (cloud %s, change number %s)' % (
            self.location, answer.get('cloud') or answer.get('name') or '?', answer.get('changeNumber') or answer.get('change_number') or '?')


def probe_blocked(results):
    """['TCP 9000', ...] the probe saw blocked, [] when every egress check passed, None when none ran."""
    if results is None:
        return None
    blocked, ran = [], False
    for result in results:
        for check in ((result or {}).get('checks') or {}).get('egress') or []:
            if check.get('ok') is None:
                continue
            ran = True
            if check.get('ok') is False:
                text = '%s %s' % ('UDP' if check.get('kind') == 'udp' else 'TCP', check.get('port'))
                if text not in blocked:
                    blocked.append(text)
    return blocked if ran else None


def main():
    module = AksTunnelModule(
        _cluster_options.argument_spec(
            _cluster_options.CLUSTER_ARGSPEC, _cluster_options.MODEL_ARGSPEC, _cluster_options.API_TIMEOUT_ARGSPEC,
            _cluster_options.SOURCE_NODES_ARGSPEC,
            api_server_ip=dict(type='str'),
            probe_results=dict(type='list', elements='dict'),
            read_effective_routes=dict(type='bool', default=True),
        ),
        azure=True, kube=True,
    )
    params = module.params
    if params['api_timeout'] < 1:
        module.fail('api_timeout must be >= 1, got %d' % params['api_timeout'])
    if params['api_server_ip']:
        try:
            ipaddress.ip_address(params['api_server_ip'])
        except ValueError:
            module.fail('api_server_ip must be an IP address (the API server address the nodes reach), got %r' % params['api_server_ip'])
    model = _cluster_options.cluster_model(module, kube=True)
    try:
        if params['source_nodes']:
            sources = _cluster_model.resolve_nodes(model, params['source_nodes'])
        else:
            sources = [n for n in model['nodes'] if n['hosts_tunnel']]
    except _cluster_model.ClusterModelError as exc:
        module.fail(str(exc))
    cluster = model['cluster']
    tunnel = model['tunnel']
    api_ip, api_reason = params['api_server_ip'], None
    if not api_ip and tunnel.get('egress'):
        # a private cluster: its private endpoint address from the model (the private FQDN is never resolved here)
        api_ip, api_reason = _private_endpoint.api_server_address(cluster, resolve_host)
    subnets = {}
    for node in sources:
        if node.get('subnet_id'):
            subnets.setdefault(node['subnet_id'].lower(), []).append(node)
    result = {'route': None, 'routes': [], 'firewall': None, 'api_server_ip': api_ip}
    if not tunnel.get('egress') or not api_ip:
        finding = _egress_path.finding(tunnel, [], {}, api_ip=api_ip, api_reason=api_reason)
        module.exit(changed=False, egress_finding=finding, **result)
    if not subnets:
        finding = _egress_path.finding(tunnel, [], {'error': 'no tunnel node with a subnet in the model'}, api_ip=api_ip)
        module.exit(changed=False, egress_finding=finding, **result)
    network = module.azure.network
    source_prefixes = sorted(set(n['subnet_prefix'] for n in sources if n.get('subnet_prefix')))
    blocked = probe_blocked(params['probe_results'])
    firewalls = {}
    service_tags = ServiceTagReader(network, cluster.get('location'))
    findings = []
    # One evaluation per node subnet of the tunnel nodes: each subnet has its own route table.
    for _key, nodes in sorted(subnets.items()):
        route = read_route(module, network, nodes, api_ip, cluster.get('vnet_address_prefixes') or [])
        hop = route.get('route') or {}
        firewall, policies = None, None
        if hop.get('next_hop_type') in ('VirtualAppliance', 'VirtualNetworkGateway') and hop.get('next_hop_ip'):
            if hop['next_hop_ip'] not in firewalls and hop['next_hop_type'] == 'VirtualAppliance':
                firewalls[hop['next_hop_ip']] = locate_firewall(module, network, hop['next_hop_ip'], nodes[0]['subnet_id'], service_tags)
            elif hop['next_hop_ip'] not in firewalls:
                # A route learned from a virtual hub (Virtual WAN): a secured hub's Azure Firewall has the next hop as its
                # hubIPAddresses; the hub's own VNet is Microsoft's (not readable), so no peering lookup.
                firewalls[hop['next_hop_ip']] = read_firewall(network, hop['next_hop_ip'], module.azure.subscription_id, service_tags)
            firewall, policies = firewalls[hop['next_hop_ip']]
        source = nodes[0]
        flows = _egress_path.flows_of(tunnel, source.get('private_ip'), api_ip, cluster.get('api_server_host'), cluster.get('location'))
        findings.append(_egress_path.finding(tunnel, flows, route, firewall, policies, source_prefixes or [source['private_ip']], blocked,
                                             [n['name'] for n in nodes], api_ip))
        if hop:
            result['routes'].append(dict(hop, how=route.get('how'), subnet_id=source['subnet_id']))
        if firewall and not firewall.get('error') and not firewall.get('absent') and result['firewall'] is None:
            result['firewall'] = dict((k, firewall.get(k)) for k in ('name', 'id', 'policy', 'policy_id', 'kind', 'virtual_hub'))
            result['firewall']['subscription'] = (firewall.get('hub') or {}).get('subscription') or module.azure.subscription_id
    result['route'] = result['routes'][0] if result['routes'] else None
    finding = findings[0] if len(findings) == 1 else _causes.combine_findings(findings)
    module.exit(changed=False, egress_finding=finding, **result)


def read_route(module, network, nodes, api_ip, vnet_prefixes):
    """The route to the API server from the node subnet of ``nodes``: its route table, and a node NIC's effective routes."""
    source = nodes[0]
    subnet_rg, subnet_names = _ids(source['subnet_id'])
    with module.api_errors('read the node subnet %s' % source['subnet_id']):
        subnet = _cluster_model.as_dict(network.subnets.get(subnet_rg, subnet_names[0], subnet_names[-1]))
    table_id = ((subnet.get('properties') or {}).get('routeTable') or {}).get('id')
    table = None
    if table_id:
        rg, names = _ids(table_id)
        with module.api_errors('read the route table %s' % table_id):
            table = _cluster_model.as_dict(network.route_tables.get(rg, names[-1]))
    effective = None
    nic_id = next((n['nic_id'] for n in nodes if n.get('nic_id')), None)
    if module.params['read_effective_routes'] and nic_id:
        try:
            effective = read_effective_routes(network, nic_id, module.params['api_timeout'])
        except Exception as exc:  # pylint: disable=broad-except
            if not _is_api_error(exc):
                raise
            module.warn('%s; the route table decides' % _error_text(exc, 'read the effective routes of %s' % nic_id))
    try:
        result = _egress_route.egress_route(api_ip, vnet_prefixes, table, effective)
    except (_egress_route.EgressRouteError, ValueError) as exc:
        return {'error': str(exc)}
    if _egress_route.needs_gateway_check(result):
        # Without the effective routes a gateway's routes (forced tunnelling, a Virtual WAN hub) are invisible: the VNet says
        # whether there can be any.
        vnet_rg, vnet_names = _ids(source['subnet_id'])
        try:
            vnet = _cluster_model.as_dict(network.virtual_networks.get(vnet_rg, vnet_names[0]))
        except Exception as exc:  # pylint: disable=broad-except
            if not _is_api_error(exc):
                raise
            return {'error': 'the route table gives %s, but whether the node VNet learns routes from a gateway is not known: %s' % (
                result['label'], _error_text(exc, 'read the node VNet of %s' % source['subnet_id']))}
        hidden = _egress_route.gateway_route_hidden(result, vnet)
        if hidden:
            return {'error': hidden}
    return result


def peered_hub(network, subnet_id, ip, own_subscription):
    """{subscription, vnet_id, peering} of the peered VNet in another subscription whose address space holds ``ip`` (the hub of a
    hub and spoke), read from the node VNet's peerings (the spoke sees the remote address space without reading the hub); None."""
    rg, names = _ids(subnet_id)
    vnet = _cluster_model.as_dict(network.virtual_networks.get(rg, names[0]))
    props = vnet.get('properties') or vnet
    address = ipaddress.ip_address(ip)
    for peering in props.get('virtualNetworkPeerings') or props.get('virtual_network_peerings') or []:
        pprops = peering.get('properties') or peering
        remote = (pprops.get('remoteVirtualNetwork') or pprops.get('remote_virtual_network') or {}).get('id')
        space = pprops.get('remoteAddressSpace') or pprops.get('remote_address_space') or {}
        prefixes = space.get('addressPrefixes') or space.get('address_prefixes') or []
        subscription = (_cluster_model.parse_resource_id(remote) or {}).get('subscription')
        if not subscription or subscription.lower() == str(own_subscription).lower():
            continue
        if any(address in ipaddress.ip_network(p, strict=False) for p in prefixes):
            return {'subscription': subscription, 'vnet_id': remote, 'peering': peering.get('name')}
    return None


def locate_firewall(module, network, ip, subnet_id, service_tags=None):
    """The Azure Firewall behind ``ip``: in the run's subscription, else in the hub subscription the node VNet is peered with
    (read when the identity can; else {'error', 'hub'} for an UNKNOWN naming that subscription and the role it needs).
    ``service_tags``: the run's ServiceTagReader (service tags are the same for every subscription of the cloud)."""
    own = module.azure.subscription_id
    firewall, policies = read_firewall(network, ip, own, service_tags)
    if firewall is not None:
        return firewall, policies
    try:
        hub = peered_hub(network, subnet_id, ip, own)
    except Exception as exc:  # pylint: disable=broad-except
        if not _is_api_error(exc):
            raise
        module.warn('%s; a hub firewall in another subscription is not looked for' % _error_text(exc, 'read the peerings of the node VNet'))
        return None, None
    if hub is None:
        return None, None
    firewall, policies = read_firewall(module.azure.network_for(hub['subscription']), ip, hub['subscription'], service_tags)
    if firewall is None:
        return {'absent': True, 'hub': hub}, None
    firewall['hub'] = hub
    return firewall, policies


def read_firewall(network, ip, subscription_id=None, service_tags=None):
    """(firewall for _egress_path.finding, policy chain) of the Azure Firewall that owns ``ip``: (None, None) when none does.
    ``service_tags``: a ServiceTagReader for the tags the rules name (None: they stay undecided)."""
    try:
        found = find_firewall(network, ip)
        if found is None:
            return None, None
        props = found.get('properties') or {}
        policy_id = (props.get('firewallPolicy') or {}).get('id')
        firewall = {'name': found.get('name'), 'id': found.get('id'), 'resource_group': _ids(found.get('id'))[0],
                    'policy': None, 'policy_id': policy_id, 'kind': 'policy' if policy_id else 'classic',
                    'virtual_hub': (props.get('virtualHub') or {}).get('id')}
        policies = None
        if policy_id:
            policies = read_policy_chain(network, policy_id)
            firewall['policy'] = policies[-1]['name']
            firewall['network'], firewall['application'] = _firewall_policy.policy_rules(policies)
        else:
            firewall['network'], firewall['application'] = _firewall_policy.classic_rules(found)
        firewall['ip_groups'] = read_ip_groups(network, subscription_id, _firewall_policy.rule_ip_groups(firewall['network'] + firewall['application']))
        if service_tags is not None:
            firewall['service_tags'], firewall['service_tags_source'] = service_tags.ranges(
                _firewall_policy.rule_service_tags(firewall['network'] + firewall['application']))
        return firewall, policies
    except _firewall_policy.FirewallInputError as exc:
        return {'error': str(exc)}, None
    except Exception as exc:  # pylint: disable=broad-except
        if not _is_api_error(exc):
            raise
        return {'error': _error_text(exc, 'read the Azure Firewall behind %s' % ip)}, None


if __name__ == '__main__':
    main()
