#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2026 aks.tunnel contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r'''
module: nsg_port_rule
short_description: Ensure one NSG Allow rule that lets the AKS tunnel through (TCP 10250 by default), scoped to the denied flows
version_added: 0.1.0
description:
  - Ensures one Allow security rule (default name C(allow-aks-tunnel-10250), protocol C(Tcp), destination port 10250) in one
    network security group. The subnet NSG and the NIC NSG are separate NSGs - call the module once per NSG that denies.
  - The rule allows exactly O(source_prefixes) to O(destination_prefixes) (give the node subnets, or the node IPs, of the
    flows the diagnosis found denied), never more.
  - With O(flow_sources) and O(flow_destinations) it evaluates those flows on this NSG (its own rule left out, lowest
    priority number first, first match wins) and places the rule just above the Deny that decides them. Without them it
    is placed above the first Deny of the direction that could match the rule's packets.
  - Never weakens another Deny - walking down from that Deny to a free priority it may pass Allow rules and Deny rules that
    provably never match the rule's packets, but not a Deny that could (for example one for the same port from addresses
    inside the rule's sources). When no free priority fits, or the Deny is at priority 100, it refuses with the reason.
  - Never renumbers or changes another rule. An existing rule of that name keeps its priority while that is still such a place.
  - Only manages a rule it created - rules it writes carry the marker C([aks.tunnel]) in their description (appended to
    O(description)); a rule of the same name without the marker (or with the older fixed description
    C(Allows the AKS control-plane tunnel (managed by aks.tunnel))) is never overwritten or deleted.
  - Uses the securityRules API (not a whole-NSG PUT) with the rule's etag (C(If-Match)) on update and delete, so a rule
    changed by someone else since it was read is not overwritten; waits for the long-running operation.
  - O(state=absent) removes only this rule.
  - Returns the rule before and after and, in RV(undo), the arguments of this module that restore the previous state.
author: aks.tunnel contributors (@aks-tunnel)
options:
  resource_group:
    description: Resource group of the NSG. Not needed when O(nsg) is a resource id.
    type: str
  nsg:
    description: Name or resource id of the network security group (for AKS usually C(aks-agentpool-<n>-nsg) in the node resource group).
    type: str
    required: true
  rule_name:
    description: Name of the rule this module owns.
    type: str
    default: allow-aks-tunnel-10250
    aliases: [name]
  port:
    description: Destination port to allow. Ignored when O(port_ranges) is given.
    type: int
    default: 10250
  port_ranges:
    description:
      - Destination ports or port ranges (C(10250), C(10250-10255)) instead of O(port); the flows are evaluated on the first one.
    type: list
    elements: str
  protocol:
    description: Protocol of the rule.
    type: str
    choices: [Tcp, Udp, '*']
    default: Tcp
  direction:
    description: Direction of the rule (V(Outbound) for tunnel egress to the API server).
    type: str
    choices: [Inbound, Outbound]
    default: Inbound
  source_prefix:
    description:
      - Source address prefix - a CIDR such as the node subnet, an IP, V(VirtualNetwork) or V(*). Ignored when
        O(source_prefixes) is given.
      - A service tag such as V(VirtualNetwork) also covers other subnets of the VNet (a jumpbox, say); prefer the node subnet.
    type: str
    default: VirtualNetwork
  source_prefixes:
    description: Source CIDRs or IPs (the node subnets, or node IPs, the flows start from). Takes precedence over O(source_prefix).
    type: list
    elements: str
  destination_prefix:
    description: Destination address prefix. Ignored when O(destination_prefixes) is given.
    type: str
    default: '*'
  destination_prefixes:
    description: Destination CIDRs or IPs (the node subnets, or node IPs, the flows go to). Takes precedence over O(destination_prefix).
    type: list
    elements: str
  flow_sources:
    description:
      - IP addresses the denied flows start from (the tunnel nodes), as aks.tunnel.nsg_port_check evaluated them.
      - With O(flow_destinations), the rule is placed just above the Deny that decides these flows on this NSG, and the plan is
        checked to open every one of them.
    type: list
    elements: str
  flow_destinations:
    description: IP addresses the denied flows go to (the nodes whose kubelet is blocked).
    type: list
    elements: str
  vnet_prefixes:
    description: Address spaces of the VNet, to decide rules that use the V(VirtualNetwork) tag (otherwise such a rule is undecidable).
    type: list
    elements: str
  priority:
    description:
      - Priority to use instead of the automatic choice. It must be free, and an Allow there must not pass a Deny it could weaken.
      - A priority that does not win over the Deny is accepted with a warning (it restores a previous state, see RV(undo)).
    type: int
  description:
    description: Description stored on the rule; the marker C([aks.tunnel]) is appended when missing (at most 140 characters in all).
    type: str
    default: Allows the AKS control-plane tunnel
  state:
    description: V(present) ensures the rule, V(absent) removes it (only this rule, and only when it carries the marker).
    type: str
    choices: [present, absent]
    default: present
  wait_timeout:
    description: Seconds to wait for the rule write or delete (a long-running operation) to finish.
    type: int
    default: 120
extends_documentation_fragment:
  - aks.tunnel.cluster.API_TIMEOUT
  - aks.tunnel.azure
  - aks.tunnel.attributes
  - aks.tunnel.attributes.ACTIONGROUP_AZURE
attributes:
  check_mode:
    support: full
    details:
      - Reports the rule that would be created, changed or removed without calling a write API.
  diff_mode:
    support: full
    details:
      - The diff shows the rule before and after.
  idempotent:
    support: full
    details:
      - A second run finds the rule in place and reports no change.
notes:
  - Azure RBAC - C(Microsoft.Network/networkSecurityGroups/read) and
    C(Microsoft.Network/networkSecurityGroups/securityRules/write) (and C(.../securityRules/delete) for O(state=absent)).
  - Changing the AKS-managed node NSG is supported by AKS for rules you add; AKS may still reconcile rules it owns.
'''

EXAMPLES = r'''
- name: Let the tunnel nodes reach every kubelet again, from the node subnet to the node subnet only
  aks.tunnel.nsg_port_rule:
    resource_group: MC_rg-aks-prod_aks-prod_westeurope
    nsg: aks-agentpool-12345678-nsg
    source_prefixes: [10.224.0.0/16]
    destination_prefixes: [10.224.0.0/16]
    flow_sources: [10.224.0.4, 10.224.0.5]
    flow_destinations: [10.224.0.7, 10.224.0.8]
  register: rule

- name: Open tunnel-front egress (TCP 9000) to the API server
  aks.tunnel.nsg_port_rule:
    resource_group: MC_rg-aks-prod_aks-prod_westeurope
    nsg: aks-agentpool-12345678-nsg
    rule_name: allow-aks-tunnel-9000-out
    direction: Outbound
    port: 9000
    destination_prefix: 20.50.1.10

- name: Undo (the module returns these arguments)
  aks.tunnel.nsg_port_rule: "{{ rule.undo }}"
  when: rule.undo is not none
'''

RETURN = r'''
rule:
  description: The rule after the run (ARM property names; empty when absent).
  returned: always
  type: dict
  sample: {name: allow-aks-tunnel-10250, protocol: Tcp, access: Allow, direction: Inbound, priority: 399, sourcePortRange: '*',
           destinationPortRange: '10250', sourceAddressPrefix: 10.224.0.0/16, destinationAddressPrefix: 10.224.0.0/16,
           description: 'Allows the AKS control-plane tunnel [aks.tunnel]'}
previous:
  description: The rule before the run (empty when it did not exist).
  returned: always
  type: dict
  sample: {}
action:
  description: What was (or in check mode would be) done - created, updated, deleted or none.
  returned: always
  type: str
  sample: created
changed_properties:
  description: Properties that differ from the existing rule.
  returned: always
  type: list
  elements: str
  sample: [priority]
blocking_rules:
  description:
    - The Deny rules the rule must win over, lowest priority first - with O(flow_sources), those that decide the flows on this
      NSG (C(flows) = how many), otherwise the first Deny that could match the rule's packets.
  returned: always
  type: list
  elements: dict
  sample: [{name: deny-kubelet, priority: 400, default: false, flows: 6}]
flows:
  description: The evaluated flows on this NSG without the rule (null without O(flow_sources)).
  returned: always
  type: dict
  sample: {checked: 6, denied: 6, allowed: 0}
nsg_id:
  description: Resource id of the NSG.
  returned: always
  type: str
undo:
  description:
    - Arguments of this module that restore the previous state (null when nothing changed) - C(state=absent) for a created rule,
      the previous rule with its priority, prefixes and port ranges for an updated one, the deleted rule for a deleted one.
    - Pass them as they are to this module (as its whole argument set) with the same authentication.
  returned: always
  type: dict
  sample: {nsg: /subscriptions/.../aks-agentpool-12345678-nsg, rule_name: allow-aks-tunnel-10250, state: absent}
diff:
  description: Rule before and after (with C(--diff)).
  returned: when diff mode is on
  type: dict
may_have_changed:
  description:
    - True when the write was accepted but did not finish within O(wait_timeout) (the task fails with C(changed=true)); the change
      may still complete - check the NSG, and use RV(undo) to go back.
  returned: when the write did not finish in time
  type: bool
  sample: true
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
from ansible_collections.aks.tunnel.plugins.module_utils import _nsg
from ansible_collections.aks.tunnel.plugins.module_utils import _nsg_check
from ansible_collections.aks.tunnel.plugins.module_utils._cluster_model import as_dict, parse_resource_id
from ansible_collections.aks.tunnel.plugins.module_utils._module import AksTunnelModule

PRECONDITION_FAILED = 412


def wait_lro(poller, timeout, what):
    poller.wait(timeout=timeout)
    if not poller.done():
        raise TimeoutError('%s did not finish within %ds; check the NSG in the portal before retrying' % (what, timeout))
    return poller.result()


def flows_of(params):
    sources = params['flow_sources'] or []
    destinations = params['flow_destinations'] or []
    return [(s, d) for d in destinations for s in sources if s != d]


def plan_rule(nsg, params):
    # Decide the rule; returns (current, desired or None, blocking, action, changed_properties, plan).
    rules = list((nsg.get('properties') or {}).get('securityRules') or [])
    name = params['rule_name']
    if params['state'] == 'absent':
        current = next((r for r in rules if (r.get('name') or '').lower() == name.lower()), None)
        if current is not None and not _nsg.is_managed_rule(current):
            raise _nsg.NsgPlanError("the rule '%s' was not created by aks.tunnel (its description has no %s marker); it is not deleted"
                                    % (name, _nsg.MANAGED_MARKER))
        return current, None, [], 'deleted' if current else 'none', [], {'warnings': [], 'evaluated': None}
    plan = _nsg.plan_allow_rule(
        rules, name, sources=params['source_prefixes'] or [params['source_prefix']],
        destinations=params['destination_prefixes'] or [params['destination_prefix']],
        port_ranges=params['port_ranges'] or [str(params['port'])], protocol=params['protocol'], direction=params['direction'],
        description=params['description'], flows=flows_of(params), vnet_prefixes=params['vnet_prefixes'], priority=params['priority'])
    current, desired = plan['current'], plan['desired']
    blocking = [dict(d, direction=params['direction']) for d in plan['denies']]
    if desired is None:
        return current, None, blocking, 'none', [], plan
    if current is None:
        return None, desired, blocking, 'created', sorted(k for k in desired['properties'] if k != 'access'), plan
    diffs = _nsg.allow_rule_differences(current, desired)
    return current, desired if diffs else current, blocking, 'updated' if diffs else 'none', diffs, plan


def main():
    module = AksTunnelModule(
        _cluster_options.argument_spec(
            _cluster_options.API_TIMEOUT_ARGSPEC,
            resource_group=dict(type='str'),
            nsg=dict(type='str', required=True),
            rule_name=dict(type='str', default='allow-aks-tunnel-10250', aliases=['name']),
            port=dict(type='int', default=10250),
            port_ranges=dict(type='list', elements='str'),
            protocol=dict(type='str', default='Tcp', choices=['Tcp', 'Udp', '*']),
            direction=dict(type='str', default='Inbound', choices=['Inbound', 'Outbound']),
            source_prefix=dict(type='str', default='VirtualNetwork'),
            source_prefixes=dict(type='list', elements='str'),
            destination_prefix=dict(type='str', default='*'),
            destination_prefixes=dict(type='list', elements='str'),
            flow_sources=dict(type='list', elements='str'),
            flow_destinations=dict(type='list', elements='str'),
            vnet_prefixes=dict(type='list', elements='str'),
            priority=dict(type='int'),
            description=dict(type='str', default='Allows the AKS control-plane tunnel'),
            state=dict(type='str', default='present', choices=['present', 'absent']),
            wait_timeout=dict(type='int', default=120),
        ),
        azure=True,
        required_together=[('flow_sources', 'flow_destinations')],
    )
    params = module.params
    parsed = parse_resource_id(params['nsg']) if params['nsg'].startswith('/') else None
    if parsed:
        resource_group, nsg_name = parsed['resource_group'], parsed['name']
    else:
        resource_group, nsg_name = params['resource_group'], params['nsg']
    if not resource_group or not nsg_name:
        module.fail('give resource_group with an NSG name, or the NSG resource id in nsg')
    if not 1 <= params['port'] <= 65535:
        module.fail('port must be between 1 and 65535, got %d' % params['port'])
    network = module.azure.network
    with module.api_errors('read the network security group %s/%s' % (resource_group, nsg_name)):
        nsg = as_dict(network.network_security_groups.get(resource_group, nsg_name))
    nsg_id = nsg.get('id')
    try:
        current, desired, blocking, action, diffs, plan = plan_rule(nsg, params)
        undo = None
        if action == 'created':
            undo = _nsg.undo_arguments(nsg_id, params['rule_name'], None)
        elif action in ('updated', 'deleted'):
            undo = _nsg.undo_arguments(nsg_id, params['rule_name'], current)
    except (ValueError, _nsg.NsgError) as exc:
        module.fail('Cannot place the rule %s in %s: %s' % (params['rule_name'], nsg_name, exc), changed=False, blocking_rules=[])
    for warning in plan['warnings']:
        module.warn(warning)
    before = _nsg_check.rule_view(current)
    after = _nsg_check.rule_view(desired) if desired else {}
    changed = action != 'none'
    evaluated = plan.get('evaluated')
    result = {'changed': changed, 'action': action, 'changed_properties': diffs, 'blocking_rules': blocking, 'nsg_id': nsg_id,
              'previous': before, 'rule': after if changed else before, 'undo': undo,
              'flows': ({'checked': evaluated['allowed'] + evaluated['denied'] + len(evaluated['unknown']), 'denied': evaluated['denied'],
                         'allowed': evaluated['allowed']} if evaluated else None)}
    if module.diff_mode:
        result['diff'] = {'before': before, 'after': after if params['state'] == 'present' else {}}
    if changed and not module.check_mode:
        verb = {'created': 'create', 'updated': 'update', 'deleted': 'delete'}[action]
        doing = '%s the security rule %s in %s/%s' % (verb, params['rule_name'], resource_group, nsg_name)
        # The etag exactly as read: ARM answers 412 when the rule changed since (someone else's edit is never overwritten).
        kwargs = {'headers': {'If-Match': current['etag']}} if current is not None and current.get('etag') else {}
        with module.api_errors(doing, previous=before, changed=False, undo=None):
            try:
                if action == 'deleted':
                    wait_lro(network.security_rules.begin_delete(resource_group, nsg_name, current['name'], **kwargs), params['wait_timeout'], doing)
                    result['rule'] = {}
                else:
                    body = {'properties': desired['properties']}
                    stored = wait_lro(network.security_rules.begin_create_or_update(resource_group, nsg_name, params['rule_name'], body, **kwargs),
                                      params['wait_timeout'], doing)
                    result['rule'] = _nsg_check.rule_view(as_dict(stored)) or after
            except TimeoutError as exc:
                # The operation was accepted and may still complete: say so, with what restores the previous state.
                module.fail('%s; it may still complete' % exc, changed=True, may_have_changed=True, previous=before, undo=result['undo'])
            except Exception as exc:  # pylint: disable=broad-except
                if getattr(exc, 'status_code', None) != PRECONDITION_FAILED:
                    raise
                module.fail('Cannot %s: the rule changed since it was read; run again (HTTP 412, etag mismatch; nothing was changed)'
                            % doing, changed=False, previous=before, undo=None, status=PRECONDITION_FAILED)
    module.exit(**result)


if __name__ == '__main__':
    main()
