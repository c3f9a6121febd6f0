#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2026 aks.tunnel contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r'''
module: azure_firewall_rule
short_description: Allow the AKS tunnel egress in an Azure Firewall Policy with one rule collection group of its own
version_added: 0.1.0
description:
  - Ensures the rule collection group O(rule_collection_group) of the Firewall Policy O(firewall_policy_id) holds exactly one
    Allow network rule collection of the same name with the O(rules) given - the tunnel flows (node subnet to the API server,
    TCP 443 / TCP 9000 / UDP 1194) that M(aks.tunnel.egress_route_info) found denied, at the group priority it planned (below
    the denying group, so the network rules come first).
  - Only that group is ever written or deleted; the policy's other groups and rules are never read for change. A group of
    that name holding any other rule collection is refused (it is not the collection's).
  - V(absent) deletes the group (the undo).
author: aks.tunnel contributors (@aks-tunnel)
options:
  firewall_policy_id:
    description: Resource id of the Firewall Policy (C(remediation.firewall.policy_id) of the egress finding).
    type: str
    required: true
  rule_collection_group:
    description: Name of the owned rule collection group and of its one rule collection.
    type: str
    default: aks-tunnel-egress
  priority:
    description: Priority of the group (100-65000, lower first). Required with O(state=present).
    type: int
  rules:
    description: The network rules of the collection. Required with O(state=present).
    type: list
    elements: dict
    suboptions:
      name:
        description: Rule name.
        type: str
        required: true
      ip_protocols:
        description: C(TCP), C(UDP), C(Any) or C(ICMP).
        type: list
        elements: str
        required: true
      source_addresses:
        description: Source prefixes (the node subnets).
        type: list
        elements: str
        required: true
      destination_addresses:
        description: Destination addresses (the API server IP) or service tags.
        type: list
        elements: str
        required: true
      destination_ports:
        description: Destination ports.
        type: list
        elements: str
        required: true
  state:
    description: V(present) ensures the group, V(absent) deletes it (only when it holds nothing but the owned collection).
    type: str
    choices: [present, absent]
    default: present
  wait_timeout:
    description: Seconds to wait for the write or delete (a long-running operation).
    type: int
    default: 300
extends_documentation_fragment:
  - aks.tunnel.cluster.API_TIMEOUT
  - aks.tunnel.azure
  - aks.tunnel.attributes
  - aks.tunnel.attributes.ACTIONGROUP_AZURE
attributes:
  check_mode:
    support: full
    details:
      - Reports the group that would be created, changed or deleted without calling a write API.
  diff_mode:
    support: full
    details:
      - The diff shows the group's properties before and after.
  idempotent:
    support: full
    details:
      - A second run finds the group as wanted and reports no change.
notes:
  - Azure RBAC - C(Microsoft.Network/firewallPolicies/ruleCollectionGroups/read) and C(.../ruleCollectionGroups/write)
    (C(.../delete) for O(state=absent)) on the policy. The policy is often owned by a central network team - ask before
    setting C(aks_tunnel_firewall_repair=true) in the remediation.
'''

EXAMPLES = r'''
- name: Read the egress route and the firewall rule that denies the tunnel
  aks.tunnel.egress_route_info:
    resource_group: rg-aks-prod
    name: aks-prod
  register: egress

- name: Add the planned rule collection group (check mode first)
  aks.tunnel.azure_firewall_rule:
    firewall_policy_id: "{{ egress.egress_finding.remediation.firewall.policy_id }}"
    priority: "{{ egress.egress_finding.remediation.firewall.priority }}"
    rules: "{{ egress.egress_finding.remediation.firewall.rules }}"
  check_mode: true
  diff: true
'''

RETURN = r'''
action:
  description: C(created), C(updated), C(deleted) or C(none).
  returned: success
  type: str
rule_collection_group:
  description: The group's properties after the task (before it in check mode when nothing changes).
  returned: success
  type: dict
previous:
  description: The group's properties before the task (empty when it did not exist).
  returned: success
  type: dict
undo:
  description: The module arguments that restore the previous state (V(absent) when the group was created).
  returned: success
  type: dict
diff:
  description: The group before and after (with C(--diff)).
  returned: when diff mode is on
  type: dict
api_calls:
  description: HTTP requests the task sent (C(arm)), also when it failed.
  returned: always
  type: dict
'''

from ansible_collections.aks.tunnel.plugins.module_utils import _firewall_policy
from ansible_collections.aks.tunnel.plugins.module_utils._cluster_model import as_dict, parse_resource_id
from ansible_collections.aks.tunnel.plugins.module_utils._module import AksTunnelModule

PROTOCOLS = ('TCP', 'UDP', 'Any', 'ICMP')


def wait_lro(poller, timeout, what):
    poller.wait(timeout=timeout)
    if not poller.done():
        raise TimeoutError('%s did not finish within %ds; check the policy before retrying' % (what, timeout))
    return poller.result()


def rest_rules(rules):
    """Module option rules -> the REST NetworkRule shape, protocols spelled as the API wants them."""
    out = []
    for rule in rules:
        protocols = []
        for proto in rule['ip_protocols']:
            canon = dict((p.lower(), p) for p in PROTOCOLS).get(str(proto).lower())
            if canon is None:
                raise ValueError('rule %s: ip_protocols must be some of %s, got %r' % (rule['name'], ', '.join(PROTOCOLS), proto))
            protocols.append(canon)
        out.append({'ruleType': 'NetworkRule', 'name': rule['name'], 'ipProtocols': protocols,
                    'sourceAddresses': list(rule['source_addresses']), 'destinationAddresses': list(rule['destination_addresses']),
                    'destinationPorts': [str(p) for p in rule['destination_ports']]})
    return sorted(out, key=lambda r: r['name'])


def _view(group):
    props = dict((group or {}).get('properties') or {})
    props.pop('provisioningState', None)
    return props


def _restore(params, name, before):
    """The module arguments that put the group back as it was."""
    rules = [r for c in before.get('ruleCollections') or [] for r in c.get('rules') or []]
    return {'firewall_policy_id': params['firewall_policy_id'], 'rule_collection_group': name, 'state': 'present',
            'priority': before.get('priority'), 'rules': _firewall_policy.option_rules(rules)}


def main():
    module = AksTunnelModule(
        dict(
            firewall_policy_id=dict(type='str', required=True),
            rule_collection_group=dict(type='str', default=_firewall_policy.OWNED_NAME),
            priority=dict(type='int'),
            rules=dict(type='list', elements='dict', options=dict(
                name=dict(type='str', required=True),
                ip_protocols=dict(type='list', elements='str', required=True),
                source_addresses=dict(type='list', elements='str', required=True),
                destination_addresses=dict(type='list', elements='str', required=True),
                destination_ports=dict(type='list', elements='str', required=True),
            )),
            state=dict(type='str', choices=['present', 'absent'], default='present'),
            wait_timeout=dict(type='int', default=300),
            api_timeout=dict(type='int', default=60),
        ),
        azure=True, supports_check_mode=True,
        required_if=[('state', 'present', ('priority', 'rules'))],
    )
    params = module.params
    parsed = parse_resource_id(params['firewall_policy_id']) or {}
    if not parsed.get('resource_group') or [t.lower() for t in parsed.get('types') or []] != ['firewallpolicies']:
        module.fail('firewall_policy_id must be a Firewall Policy resource id (.../providers/Microsoft.Network/firewallPolicies/<name>), got %r'
                    % params['firewall_policy_id'])
    rg, policy, name = parsed['resource_group'], parsed['name'], params['rule_collection_group']
    desired = None
    if params['state'] == 'present':
        if not _firewall_policy.GROUP_PRIORITY_MIN <= params['priority'] <= _firewall_policy.GROUP_PRIORITY_MAX:
            module.fail('priority must be between %d and %d, got %d'
                        % (_firewall_policy.GROUP_PRIORITY_MIN, _firewall_policy.GROUP_PRIORITY_MAX, params['priority']))
        if not params['rules']:
            module.fail('rules must list at least one network rule')
        try:
            desired = _firewall_policy.desired_group(params['priority'], rest_rules(params['rules']), name)
        except ValueError as exc:
            module.fail(str(exc))
    # The policy may be in another subscription of the tenant (a hub firewall): its id says which.
    network = module.azure.network_for(parsed.get('subscription'))
    current = None
    with module.api_errors('read the rule collection group %s of the firewall policy %s/%s' % (name, rg, policy)):
        try:
            current = as_dict(network.firewall_policy_rule_collection_groups.get(rg, policy, name))
        except Exception as exc:  # pylint: disable=broad-except
            if getattr(exc, 'status_code', None) != 404:
                raise
            current = None
    before = _view(current) if current else {}
    if current and not _firewall_policy.is_owned(before, name):
        module.fail('The rule collection group %s of %s holds rule collections aks.tunnel did not write (%s); refusing to change it: '
                    'choose another rule_collection_group' % (name, policy, ', '.join(
                        str(c.get('name')) for c in before.get('ruleCollections') or before.get('rule_collections') or [])), previous=before)
    if params['state'] == 'absent':
        action = 'deleted' if current else 'none'
        after = {}
        undo = _restore(params, name, before) if current else None
    else:
        action = 'created' if not current else 'updated' if _firewall_policy.group_differs(before, desired) else 'none'
        after = desired
        undo = ({'firewall_policy_id': params['firewall_policy_id'], 'rule_collection_group': name, 'state': 'absent'} if not current else
                _restore(params, name, before))
    changed = action != 'none'
    result = {'changed': changed, 'action': action, 'previous': before, 'rule_collection_group': after if changed else before,
              'undo': undo if changed else None}
    if module.diff_mode:
        result['diff'] = {'before': before, 'after': after}
    if changed and not module.check_mode:
        doing = '%s the rule collection group %s of the firewall policy %s/%s' % (
            {'created': 'create', 'updated': 'update', 'deleted': 'delete'}[action], name, rg, policy)
        with module.api_errors(doing, previous=before, changed=False, undo=None):
            try:
                if action == 'deleted':
                    wait_lro(network.firewall_policy_rule_collection_groups.begin_delete(rg, policy, name), params['wait_timeout'], doing)
                else:
                    stored = wait_lro(network.firewall_policy_rule_collection_groups.begin_create_or_update(rg, policy, name, {'properties': desired}),
                                      params['wait_timeout'], doing)
                    result['rule_collection_group'] = _view(as_dict(stored)) or after
            except TimeoutError as exc:
                module.fail('%s; it may still complete' % exc, changed=True, may_have_changed=True, previous=before, undo=result['undo'])
    module.exit(**result)


if __name__ == '__main__':
    main()
