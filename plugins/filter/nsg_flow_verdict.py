# -*- coding: utf-8 -*-
# Copyright (c) 2026 aks.tunnel contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
name: nsg_flow_verdict
version_added: 0.1.0
short_description: Decide whether an Azure NSG allows a flow and name the deciding rule
description:
  - Evaluates one flow against the security rules of one network security group (NSG) with Azure's
    semantics, rules of the flow's direction only, lowest priority number first, first match wins.
  - The six Azure default rules (V(AllowVnetInBound), V(AllowAzureLoadBalancerInBound), V(DenyAllInBound),
    V(AllowVnetOutBound), V(AllowInternetOutBound), V(DenyAllOutBound)) are added when absent.
  - Service tag V(VirtualNetwork) is the list given in O(vnet_prefixes) (plus 168.63.129.16);
    V(AzureLoadBalancer) is 168.63.129.16/32; V(Internet) is every public address outside O(vnet_prefixes)
    (RFC 1918, 100.64.0.0/10, loopback, link-local, multicast and reserved ranges are not Internet).
  - A rule that cannot be decided offline (another service tag such as V(Storage), an application security
    group missing from O(asg_members), a specific source port range without O(source_port)) makes the verdict
    V(Unknown) when it comes before the first rule that surely matches and could change the outcome.
author: aks.tunnel contributors
positional: _input
options:
  _input:
    description:
      - The security rules, as a list in either the ARM REST shape (C(name) plus C(properties)) or the Azure SDK
        C(as_dict) shape (flat snake_case), or a whole NSG object in either shape.
    type: raw
    required: true
  port:
    description:
      - Destination port of the flow. Required for V(Tcp) and V(Udp); must be omitted for V(Icmp), V(Esp), V(Ah).
    type: int
  protocol:
    description: Protocol of the flow (case-insensitive).
    type: str
    default: Tcp
    choices: [Tcp, Udp, Icmp, Esp, Ah]
  source:
    description: Source IP address of the flow (IPv4 or IPv6, no prefix length).
    type: str
    required: true
  destination:
    description: Destination IP address of the flow.
    type: str
    required: true
  direction:
    description: Which rules of the NSG apply (the NSG sees the flow as inbound or outbound).
    type: str
    default: Inbound
    choices: [Inbound, Outbound]
  vnet_prefixes:
    description:
      - Address prefixes that make up the V(VirtualNetwork) service tag, that is the VNet address spaces plus any
        peered or on-premises prefixes. Without it rules that use V(VirtualNetwork) (including the default rules)
        are undecidable for addresses other than 168.63.129.16.
    type: list
    elements: str
  asg_members:
    description:
      - "Membership of application security groups: a mapping of ASG resource id to a list of IP addresses or CIDRs;
        ids are compared case-insensitively."
    type: dict
  source_port:
    description:
      - Source port of the flow. Flows normally use an ephemeral source port, so leave it unset; rules with a
        specific source port range are then undecidable.
    type: int
"""

EXAMPLES = r"""
- name: Does the node NSG let the tunnel node reach the kubelet of another node?
  ansible.builtin.debug:
    msg: >-
      {{ nsg.properties.securityRules | aks.tunnel.nsg_flow_verdict(port=10250, protocol='Tcp',
         source='10.240.0.4', destination='10.240.0.5', direction='Inbound',
         vnet_prefixes=['10.240.0.0/16']) }}

- name: Egress to the API server (public IP) through the node NSG
  ansible.builtin.set_fact:
    egress_verdict: >-
      {{ nsg | aks.tunnel.nsg_flow_verdict(port=443, source='10.240.0.4', destination='20.50.60.70',
         direction='Outbound', vnet_prefixes=['10.240.0.0/16']) }}
"""

RETURN = r"""
_value:
  description: The verdict.
  type: dict
  contains:
    access:
      description: V(Allow), V(Deny), or V(Unknown) when a rule that could change the outcome cannot be decided.
      type: str
      sample: Deny
    rule:
      description: Name of the deciding rule; for V(Unknown) the first rule that could not be decided.
      type: str
      sample: DenyKubelet
    priority:
      description: Priority of that rule.
      type: int
      sample: 200
    reason:
      description: Human-readable explanation naming the rule, the flow and, for V(Unknown), what is missing.
      type: str
      sample: "rule 'DenyKubelet' (priority 200, Deny) matches inbound Tcp 10.240.0.4 -> 10.240.0.5:10250"
"""

from ansible.errors import AnsibleFilterError

from ansible_collections.aks.tunnel.plugins.module_utils._nsg import NsgError, evaluate_nsg


def nsg_flow_verdict(rules, port=None, protocol='Tcp', source=None, destination=None, direction='Inbound',
                     vnet_prefixes=None, asg_members=None, source_port=None):
    """Return {access, rule, priority, reason} for one flow through one NSG."""
    if source is None or destination is None:
        raise AnsibleFilterError('nsg_flow_verdict: source and destination are required, '
                                 "e.g. nsg_flow_verdict(port=10250, source='10.240.0.4', destination='10.240.0.5')")
    try:
        verdict = evaluate_nsg(rules, direction=direction, protocol=protocol, source_ip=source, destination_ip=destination,
                               destination_port=port, source_port=source_port, vnet_prefixes=vnet_prefixes,
                               asg_members=asg_members)
    except NsgError as exc:
        raise AnsibleFilterError('nsg_flow_verdict: %s' % exc) from None
    return {key: verdict[key] for key in ('access', 'rule', 'priority', 'reason')}


class FilterModule:
    """aks.tunnel NSG filters."""

    def filters(self):
        return {'nsg_flow_verdict': nsg_flow_verdict}
