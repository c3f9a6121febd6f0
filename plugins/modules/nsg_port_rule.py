#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2026 aks.tunnel contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r'''
module: nsg_port_rule
short_description: Ensure one NSG Allow rule that lets the AKS tunnel through (TCP 10250 by default)
version_added: 0.1.0
description:
  - Ensures one Allow security rule (default name C(allow-aks-tunnel-10250), protocol C(Tcp), destination port
    10250, source C(VirtualNetwork)) in a network security group, at a priority that wins over every Deny rule of
    the same direction that covers the port.
  - Picks the highest free priority below the lowest blocking rule; never reuses a priority of another rule, never
    renumbers or changes another rule. An existing rule of that name keeps its priority while it still wins.
  - Uses the securityRules API (not a whole-NSG PUT) and waits for the long-running operation.
  - O(state=absent) removes only this rule.
  - Returns the rule before and after and what is needed to undo the change.
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
    description: Destination port to allow.
    type: int
    default: 10250
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
    description: Source address prefix - V(VirtualNetwork), a CIDR such as the node subnet, or V(*).
    type: str
    default: VirtualNetwork
  destination_prefix:
    description: Destination address prefix.
    type: str
    default: '*'
  priority:
    description:
      - Priority to use instead of the automatic choice. Must be free and lower than every blocking rule's.
    type: int
  description:
    description: Description stored on the rule.
    type: str
    default: Allows the AKS control-plane tunnel (managed by aks.tunnel)
  state:
    description: V(present) ensures the rule, V(absent) removes it (only this rule).
    type: str
    choices: [present, absent]
    default: present
  timeout:
    description: Seconds allowed for each Azure call and for the long-running operation.
    type: int
    default: 120
extends_documentation_fragment:
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
- name: Let the API server reach every kubelet again
  aks.tunnel.nsg_port_rule:
    resource_group: MC_rg-aks-prod_aks-prod_westeurope
    nsg: aks-agentpool-12345678-nsg
  register: rule

- name: Stricter - only from the node subnet
  aks.tunnel.nsg_port_rule:
    nsg: /subscriptions/0000/resourceGroups/rg-net/providers/Microsoft.Network/networkSecurityGroups/customer-nsg
    source_prefix: 10.224.0.0/16

- name: Open tunnel-front egress (TCP 9000) to the API server
  aks.tunnel.nsg_port_rule:
    resource_group: MC_rg-aks-prod_aks-prod_westeurope
    nsg: aks-agentpool-12345678-nsg
    rule_name: allow-aks-tunnel-9000-out
    direction: Outbound
    port: 9000
    destination_prefix: 20.50.1.10

- name: Undo
  aks.tunnel.nsg_port_rule:
    resource_group: MC_rg-aks-prod_aks-prod_westeurope
    nsg: aks-agentpool-12345678-nsg
    state: absent
'''

RETURN = r'''
rule:
  description: The rule after the run (ARM property names; empty when absent).
  returned: always
  type: dict
  sample: {name: allow-aks-tunnel-10250, protocol: Tcp, access: Allow, direction: Inbound, priority: 199, sourcePortRange: '*',
           destinationPortRange: '10250', sourceAddressPrefix: VirtualNetwork, destinationAddressPrefix: '*',
           description: Allows the AKS control-plane tunnel (managed by aks.tunnel)}
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
  description: Deny rules of the same direction that cover the port, lowest priority first (the rule must win over these).
  returned: always
  type: list
  elements: dict
  sample: [{name: deny-kubelet, priority: 200, direction: Inbound, protocol: Tcp, destination_port_ranges: ['10000-10300']}]
nsg_id:
  description: Resource id of the NSG.
  returned: always
  type: str
undo:
  description: Arguments for this module that restore the previous state (null when nothing changed).
  returned: always
  type: dict
  sample: {nsg: /subscriptions/.../aks-agentpool-12345678-nsg, rule_name: allow-aks-tunnel-10250, state: absent}
diff:
  description: Rule before and after (with C(--diff)).
  returned: when diff mode is on
  type: dict
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

from ansible_collections.aks.tunnel.plugins.module_utils import _nsg
from ansible_collections.aks.tunnel.plugins.module_utils import _nsg_check
from ansible_collections.aks.tunnel.plugins.module_utils._cluster_model import as_dict, parse_resource_id
from ansible_collections.aks.tunnel.plugins.module_utils._module import AksTunnelModule


def wait_lro(poller, timeout, what):
    poller.wait(timeout=timeout)
    if not poller.done():
        raise TimeoutError('%s did not finish within %ds; check the NSG in the portal before retrying' % (what, timeout))
    return poller.result()


def plan_rule(nsg, params):
    """Decide the desired rule: returns (current, desired or None, blocking, action, changed_properties)."""
    rules = list((nsg.get('properties') or {}).get('securityRules') or [])
    name = params['rule_name']
    current = next((r for r in rules if (r.get('name') or '').lower() == name.lower()), None)
    direction = params['direction']
    protocol = params['protocol']
    blocking = _nsg_check.blocking_rules_for(rules, params['port'], protocol, direction, exclude=name)
    if params['state'] == 'absent':
        return current, None, blocking, 'deleted' if current else 'none', []
    limit = blocking[0]['priority'] if blocking else _nsg.USER_PRIORITY_MAX + 1
    others = [r for r in rules if (r.get('name') or '').lower() != name.lower()]
    taken = set(_nsg.normalize_rule(r)['priority'] for r in others if _nsg.normalize_rule(r)['direction'] == direction)
    if params['priority'] is not None:
        priority = params['priority']
        if priority in taken:
            raise ValueError('priority %d is already used by another %s rule in this NSG; choose a free one or leave priority unset'
                             % (priority, direction))
        if priority >= limit:
            raise ValueError('priority %d does not win over the blocking rule %r (priority %d); use a lower number or leave priority unset'
                             % (priority, blocking[0]['name'], limit))
    else:
        cur_priority = (current or {}).get('properties', {}).get('priority')
        if current is not None and cur_priority is not None and int(cur_priority) < limit and int(cur_priority) not in taken:
            priority = int(cur_priority)
        else:
            priority = _nsg.find_allow_priority(others, limit, direction)
    desired = _nsg.build_allow_rule(name, params['port'], protocol, params['source_prefix'], params['destination_prefix'], priority,
                                    direction, description=params['description'])
    if current is None:
        return current, desired, blocking, 'created', sorted(k for k in _nsg_check.RULE_COMPARE_KEYS if desired['properties'].get(k) is not None)
    diffs = _nsg_check.rule_differences(current, desired)
    return current, desired, blocking, 'updated' if diffs else 'none', diffs


def main():
    module = AksTunnelModule(
        dict(
            resource_group=dict(type='str'),
            nsg=dict(type='str', required=True),
            rule_name=dict(type='str', default='allow-aks-tunnel-10250', aliases=['name']),
            port=dict(type='int', default=10250),
            protocol=dict(type='str', default='Tcp', choices=['Tcp', 'Udp', '*']),
            direction=dict(type='str', default='Inbound', choices=['Inbound', 'Outbound']),
            source_prefix=dict(type='str', default='VirtualNetwork'),
            destination_prefix=dict(type='str', default='*'),
            priority=dict(type='int'),
            description=dict(type='str', default='Allows the AKS control-plane tunnel (managed by aks.tunnel)'),
            state=dict(type='str', default='present', choices=['present', 'absent']),
            timeout=dict(type='int', default=120),
        ),
        azure=True,
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
    try:
        current, desired, blocking, action, diffs = plan_rule(nsg, params)
    except (ValueError, _nsg.NsgError) as exc:
        module.fail('Cannot place the rule %s in %s: %s' % (params['rule_name'], nsg_name, exc), blocking_rules=[])
    before = _nsg_check.rule_view(current)
    after = _nsg_check.rule_view(desired) if desired else {}
    changed = action != 'none'
    result = {'changed': changed, 'action': action, 'changed_properties': diffs, 'blocking_rules': blocking,
              'nsg_id': nsg.get('id'), 'previous': before, 'rule': after if changed else before,
              'undo': None}
    if changed:
        if action == 'created':
            result['undo'] = {'nsg': nsg.get('id'), 'rule_name': params['rule_name'], 'state': 'absent'}
        else:
            props = (current or {}).get('properties') or {}
            result['undo'] = {'nsg': nsg.get('id'), 'rule_name': params['rule_name'], 'state': 'present', 'rule': before,
                              'priority': props.get('priority'), 'port': params['port'], 'protocol': props.get('protocol'),
                              'direction': props.get('direction'), 'source_prefix': props.get('sourceAddressPrefix'),
                              'destination_prefix': props.get('destinationAddressPrefix'), 'description': props.get('description')}
    if module.diff_mode:
        result['diff'] = {'before': before, 'after': after if params['state'] == 'present' else {}}
    if changed and not module.check_mode:
        verb = {'created': 'create', 'updated': 'update', 'deleted': 'delete'}[action]
        doing = '%s the security rule %s in %s/%s' % (verb, params['rule_name'], resource_group, nsg_name)
        with module.api_errors(doing, previous=before):
            if action == 'deleted':
                wait_lro(network.security_rules.begin_delete(resource_group, nsg_name, current['name']), params['timeout'], doing)
                result['rule'] = {}
            else:
                body = {'properties': desired['properties']}
                stored = wait_lro(network.security_rules.begin_create_or_update(resource_group, nsg_name, params['rule_name'], body),
                                  params['timeout'], doing)
                result['rule'] = _nsg_check.rule_view(as_dict(stored)) or after
    module.exit(**result)


if __name__ == '__main__':
    main()
