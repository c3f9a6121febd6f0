# -*- coding: utf-8 -*-
# Copyright (c) 2026 aks.tunnel contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""API Server VNet Integration: the NSG paths to the API server subnet, and whether the tunnel still exists (pure).

With API Server VNet Integration (``apiServerAccessProfile.enableVnetIntegration``) the API server sits behind an internal
load balancer in a delegated subnet of the cluster VNet (``apiServerAccessProfile.subnetId``). AKS's
api-server-vnet-integration article (reference notes aks-tools-and-facts.md, 2026-04) lists the NSG rules it needs:

* node (cluster) subnet -> API server subnet, TCP 443 and 4443;
* ``AzureLoadBalancer`` (168.63.129.16, the load balancer's health probes) -> API server subnet, port 9988;
* and back: API server subnet -> the nodes, TCP 10250 (the kubelet). The article: the API server and the nodes "communicate
  with each other through the API server VIP and pod IPs that are projected into the delegated subnet", so the API server's
  kubelet requests (logs, exec, port-forward) come from the API server subnet and must pass the node subnet and NIC NSGs
  (inbound) and the API server subnet's NSG (outbound).

The two Microsoft articles disagree on 9988's protocol: the VNet integration article names the port only, the outbound
rules article ("private clusters with NSGs") says UDP. Both protocols are evaluated: blocked when the NSGs deny both,
UNKNOWN when they deny one and allow the other (which one AKS needs is not settled), OK when they allow both.

The nodes reach the API server's private IP directly; the konnectivity tunnel is gone for Azure CNI (pods routable in the
VNet), but stays with Azure CNI Overlay and bring-your-own CNI (``networkPlugin: none``) - and, by the same reason
(pod IPs not routable from the API server subnet), with kubenet.

The flows are evaluated with the project's NSG evaluator (``_nsg.evaluate_path``) through the source NIC / node subnet
NSGs (outbound) and the API server subnet's NSG (inbound). The API server's ILB address is not in the cluster body: the
flows use a representative address of the API server subnet (the first host Azure does not reserve, .4), which decides
every rule written for the subnet's prefix, the VirtualNetwork tag or any address; a rule that names single addresses
inside the subnet can make the verdict depend on the real one, and the evidence says which address was used.
"""

from __future__ import annotations

import ipaddress

from ansible_collections.aks.tunnel.plugins.module_utils import _nsg
from ansible_collections.aks.tunnel.plugins.module_utils import _nsg_check
from ansible_collections.aks.tunnel.plugins.module_utils._causes import (
    APISERVER_SUBNET_PORTS_BLOCKED,
    STATUS_NOT_APPLICABLE,
    STATUS_OK,
    STATUS_PROBLEM,
    STATUS_UNKNOWN,
    make_finding,
)

NODE_PORTS = (443, 4443)
KUBELET_PORT = 10250
APISERVER_SOURCE = 'apiserver_subnet'
PROBE_PORT = 9988
PROBE_PROTOCOLS = ('Tcp', 'Udp')
LOAD_BALANCER_IP = _nsg.AZURE_PLATFORM_IP
# Azure reserves the first four addresses of a subnet; .4 is the first an ILB frontend can take.
RESERVED_ADDRESSES = 4
RULE_PRIORITY_HINT = 'a priority below the deny'


class ApiserverSubnetError(ValueError):
    """The cluster, the API server subnet or an NSG is not in the expected shape."""


def tunnel_remains(network_plugin, network_plugin_mode):
    """(True when the konnectivity tunnel still exists with VNet integration, why)."""
    plugin = (network_plugin or '').lower()
    mode = (network_plugin_mode or '').lower()
    if plugin == 'azure' and mode != 'overlay':
        return False, 'Azure CNI: pod IPs are routable in the VNet, so the API server reaches nodes and pods directly - no tunnel'
    if plugin == 'azure':
        return True, 'Azure CNI Overlay: pod IPs are not routable from the API server subnet, konnectivity stays'
    if plugin == 'none':
        return True, 'bring-your-own CNI: konnectivity stays'
    return True, '%s: pod IPs are not routable from the API server subnet, konnectivity stays' % (network_plugin or 'unknown network plugin')


def subnet_prefix(subnet):
    """The first IPv4 address prefix of a subnet GET body."""
    props = (subnet or {}).get('properties') or {}
    prefixes = [props.get('addressPrefix')] if props.get('addressPrefix') else list(props.get('addressPrefixes') or [])
    for prefix in prefixes:
        try:
            network = ipaddress.ip_network(prefix, strict=False)
        except ValueError:
            continue
        if network.version == 4:
            return network
    raise ApiserverSubnetError('the API server subnet %s has no IPv4 address prefix' % (subnet or {}).get('id'))


def representative_ip(network):
    """The first address of the subnet Azure does not reserve (.4 of a /28)."""
    if network.num_addresses <= RESERVED_ADDRESSES + 1:
        raise ApiserverSubnetError('API server subnet %s is too small (AKS needs at least a /28)' % network)
    return str(network.network_address + RESERVED_ADDRESSES)


def check_flows(model, apiserver_subnet, nsgs):
    """Evaluate node -> API server subnet TCP 443/4443, API server subnet -> node TCP 10250 and AzureLoadBalancer -> 9988 (TCP
    and UDP, see the module doc).

    model: the cluster model (nodes with private_ip, nic_nsg_id, subnet_nsg_id; cluster vnet_address_prefixes);
    apiserver_subnet: the subnet GET body; nsgs: {lower-cased NSG id: NSG body} holding every NSG named.
    Returns {'apiserver_subnet': {id, prefix, nsg_id, address}, 'flows': [...], 'blocked': [...], 'unknown': [...]};
    a flow is {source (nodes | apiserver_subnet | AzureLoadBalancer), source_nodes (for apiserver_subnet: the nodes it goes to),
    port, protocol, access, rule, priority, nsg, position, reason}. Nodes with the same NSGs
    (and rules that name no addresses) share one evaluation.
    """
    network = subnet_prefix(apiserver_subnet)
    address = representative_ip(network)
    props = apiserver_subnet.get('properties') or {}
    apiserver_nsg_id = (props.get('networkSecurityGroup') or {}).get('id')
    vnet = list((model.get('cluster') or {}).get('vnet_address_prefixes') or [])

    def nsg(nsg_id):
        if not nsg_id:
            return None
        body = nsgs.get(nsg_id.lower())
        if body is None:
            raise ApiserverSubnetError('NSG %s was not read' % nsg_id)
        return body

    destination = nsg(apiserver_nsg_id)
    groups = {}
    for node in model.get('nodes') or []:
        if not node.get('private_ip'):
            continue
        sensitive = any(_nsg_check.address_sensitive(nsg(i)) for i in (node.get('nic_nsg_id'), node.get('subnet_nsg_id'), apiserver_nsg_id))
        key = (node.get('nic_nsg_id') or '', node.get('subnet_nsg_id') or '', node['private_ip'] if sensitive else '')
        groups.setdefault(key, []).append(node)
    flows = []
    for (nic_nsg_id, subnet_nsg_id, _ip), nodes in sorted(groups.items()):
        for port in NODE_PORTS:
            verdict = _nsg.evaluate_path(source_nic_nsg=nsg(nic_nsg_id), source_subnet_nsg=nsg(subnet_nsg_id),
                                         destination_subnet_nsg=destination, protocol='Tcp', source_ip=nodes[0]['private_ip'],
                                         destination_ip=address, destination_port=port, vnet_prefixes=vnet)
            flows.append(_flow('nodes', sorted(n.get('name') or n['private_ip'] for n in nodes), port, 'Tcp', verdict))
    for (nic_nsg_id, subnet_nsg_id, _ip), nodes in sorted(groups.items()):
        # the API server (from its subnet) -> the kubelets; source_nodes are the destination nodes here
        verdict = _nsg.evaluate_path(source_subnet_nsg=destination, destination_subnet_nsg=nsg(subnet_nsg_id),
                                     destination_nic_nsg=nsg(nic_nsg_id), protocol='Tcp', source_ip=address,
                                     destination_ip=nodes[0]['private_ip'], destination_port=KUBELET_PORT, vnet_prefixes=vnet)
        flows.append(_flow(APISERVER_SOURCE, sorted(n.get('name') or n['private_ip'] for n in nodes), KUBELET_PORT, 'Tcp', verdict))
    probe = []
    for protocol in PROBE_PROTOCOLS:
        verdict = _nsg.evaluate_path(destination_subnet_nsg=destination, protocol=protocol, source_ip=LOAD_BALANCER_IP,
                                     destination_ip=address, destination_port=PROBE_PORT, vnet_prefixes=vnet)
        probe.append(_flow('AzureLoadBalancer', [], PROBE_PORT, protocol, verdict))
    flows.extend(probe)
    nodes_flows = [f for f in flows if f['source'] in ('nodes', APISERVER_SOURCE)]
    probe_access = set(f['access'] for f in probe)
    return {
        'apiserver_subnet': {'id': apiserver_subnet.get('id'), 'prefix': str(network), 'nsg_id': apiserver_nsg_id, 'address': address},
        'flows': flows,
        'blocked': [f for f in nodes_flows if f['access'] == _nsg.DENY] + (probe if probe_access == {_nsg.DENY} else []),
        # 9988 denied for one protocol and allowed for the other is undecided too: AKS's articles name different protocols
        'unknown': [f for f in nodes_flows if f['access'] == _nsg.UNKNOWN] + ([] if len(probe_access) == 1 and _nsg.UNKNOWN not in probe_access
                                                                              else [f for f in probe if f['access'] != _nsg.ALLOW]),
    }


def _flow(source, nodes, port, protocol, verdict):
    return {'source': source, 'source_nodes': nodes, 'port': port, 'protocol': protocol, 'access': verdict['access'], 'rule': verdict['rule'],
            'priority': verdict['priority'], 'nsg': verdict['nsg'], 'position': verdict['position'], 'reason': verdict['reason']}


def _nsg_name(nsg_id):
    return nsg_id.rstrip('/').rsplit('/', 1)[-1] if nsg_id else None


def _nsg_rg(nsg_id):
    parts = (nsg_id or '').split('/')
    lowered = [p.lower() for p in parts]
    return parts[lowered.index('resourcegroups') + 1] if 'resourcegroups' in lowered else '<resource-group>'


def _allow_command(flow, result, node_prefixes):
    """The az command that adds the allow rule a blocked flow needs on the NSG that denies it."""
    subnet = result['apiserver_subnet']
    inbound = flow['position'] in ('destination_subnet', 'destination_nic')
    nsg_id = flow['nsg'] if flow['nsg'] and flow['nsg'].startswith('/') else None
    nsg_label = flow['nsg'] or '<nsg>'
    name = 'allow-apiserver-%d' % flow['port'] if flow['source'] != 'AzureLoadBalancer' else 'allow-azurelb-%d' % flow['port']
    source = 'AzureLoadBalancer' if flow['source'] == 'AzureLoadBalancer' else ' '.join(node_prefixes) or 'VirtualNetwork'
    destination = subnet['prefix']
    if flow['source'] == APISERVER_SOURCE:  # the other way: from the API server subnet to the node subnet(s)
        source, destination = subnet['prefix'], ' '.join(node_prefixes) or 'VirtualNetwork'
    # 9988: both protocols were denied; the articles disagree on which one AKS uses, so the rule allows both
    protocol = "'*'" if flow['source'] == 'AzureLoadBalancer' else flow['protocol']
    return ('az network nsg rule create -g %s --nsg-name %s -n %s --priority <%s> --direction %s --access Allow --protocol %s '
            '--source-address-prefixes %s --destination-address-prefixes %s --destination-port-ranges %d'
            % (_nsg_rg(nsg_id) if nsg_id else '<resource-group>', _nsg_name(nsg_id) if nsg_id else nsg_label, name,
               RULE_PRIORITY_HINT if flow['priority'] is None else 'below %d' % flow['priority'], 'Inbound' if inbound else 'Outbound',
               protocol, source, destination, flow['port']))


def finding(result, vnet_integration, tunnel_info=None, node_prefixes=()):
    """The apiserver_subnet_ports_blocked finding from check_flows() (None result with vnet_integration: not read)."""
    if not vnet_integration:
        reason = 'API Server VNet Integration is not enabled: the API server subnet ports do not apply'
        return make_finding(APISERVER_SUBNET_PORTS_BLOCKED, STATUS_NOT_APPLICABLE, reason, evidence=[reason])
    tunnel_line = 'tunnel: %s' % tunnel_info[1] if tunnel_info else None
    if result is None:
        reason = 'the API server subnet (apiServerAccessProfile.subnetId) is not known: its NSG paths were not checked'
        return make_finding(APISERVER_SUBNET_PORTS_BLOCKED, STATUS_UNKNOWN, reason, evidence=[reason] + ([tunnel_line] if tunnel_line else []))
    subnet = result['apiserver_subnet']
    evidence = ['API server subnet %s (%s), NSG %s; flows evaluated to %s (representative address of the subnet)'
                % (subnet['id'], subnet['prefix'], _nsg_name(subnet['nsg_id']) or 'none', subnet['address'])]
    if tunnel_line:
        evidence.append(tunnel_line)
    for flow in result['flows']:
        if flow['source'] == APISERVER_SOURCE:
            evidence.append('API server subnet -> nodes %s TCP %d: %s - %s'
                            % (', '.join(flow['source_nodes'][:10]), flow['port'], flow['access'], flow['reason']))
            continue
        who = 'AzureLoadBalancer (168.63.129.16)' if flow['source'] == 'AzureLoadBalancer' else 'nodes %s' % ', '.join(flow['source_nodes'][:10])
        evidence.append('%s -> API server subnet %s %d: %s - %s' % (who, flow['protocol'].upper(), flow['port'], flow['access'], flow['reason']))
    affected = sorted(set(n for f in result['blocked'] for n in f['source_nodes']))
    if result['blocked']:
        ports = sorted(set(f['port'] for f in result['blocked'] if f['source'] != APISERVER_SOURCE))
        back = [f for f in result['blocked'] if f['source'] == APISERVER_SOURCE]
        rules = sorted(set("'%s' (priority %s) in NSG %s" % (f['rule'] or 'no matching rule', f['priority'], _nsg_name(f['nsg']) or '?')
                           for f in result['blocked']))
        parts = []
        if ports:
            named = '/'.join(('TCP %d' % p) if p != PROBE_PORT else ('TCP and UDP %d' % p) for p in ports)
            parts.append('%s to the API server subnet %s' % (named, subnet['prefix']))
        if back:
            count = len(set(n for f in back for n in f['source_nodes']))
            parts.append('TCP %d from the API server subnet %s to %d node(s)' % (KUBELET_PORT, subnet['prefix'], count))
        summary = 'the NSGs block %s (API Server VNet Integration): %s' % (' and '.join(parts), '; '.join(rules))
        commands = [_allow_command(f, result, node_prefixes) for f in result['blocked']]
        remediation = {'blocked_flows': [dict((k, f[k]) for k in ('source', 'port', 'protocol', 'nsg', 'rule', 'priority', 'position'))
                                         for f in result['blocked']],
                       'summary': 'Allow the API server subnet ports on the NSG that denies them (a rule with a lower priority number '
                                  'than the deny); nothing was changed.',
                       'commands': list(dict.fromkeys(commands))}
        return make_finding(APISERVER_SUBNET_PORTS_BLOCKED, STATUS_PROBLEM, summary, affected, evidence, remediation)
    if result['unknown']:
        split = [f for f in result['unknown'] if f['source'] == 'AzureLoadBalancer' and f['access'] == _nsg.DENY]
        if split and len(split) == len(result['unknown']):
            summary = ("the NSGs deny AzureLoadBalancer %s 9988 to the API server subnet %s and allow the other protocol: AKS's articles "
                       "name 9988 without a protocol and as UDP, so whether this blocks is not decided; allowing both is safe"
                       % (split[0]['protocol'].upper(), subnet['prefix']))
        else:
            summary = 'cannot decide %d API server subnet flow(s) from the NSG rules' % len(result['unknown'])
        return make_finding(APISERVER_SUBNET_PORTS_BLOCKED, STATUS_UNKNOWN, summary, [], evidence)
    summary = ('the NSGs allow the nodes TCP 443 and 4443 and AzureLoadBalancer TCP and UDP 9988 to the API server subnet %s, and the API '
               'server subnet TCP %d to the nodes' % (subnet['prefix'], KUBELET_PORT))
    return make_finding(APISERVER_SUBNET_PORTS_BLOCKED, STATUS_OK, summary, [], evidence)
