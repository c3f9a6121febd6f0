#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2026 aks.tunnel contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r'''
module: node_firewall
short_description: Open the kubelet port in UFW and iptables on AKS nodes, through VMSS Run Command
version_added: 0.1.0
description:
  - For each node of O(nodes), inspects UFW and iptables (INPUT and every chain it jumps to) through Run Command,
    plans what opens TCP O(port) (10250 by default), and - unless in check mode - applies it in a second Run Command
    that first saves C(iptables-save) to a file on the node, acts, and inspects again in the same script.
  - Everything is judged for the packets the tunnel sends - a SYN to TCP O(port) from each of O(sources) to the node's
    IP - with what the controller knows (the tunnel sources, the node's IP from the cluster model, the interface the
    inspection reports for it, the members of the ipsets the rules use, no packet mark on a SYN from another node).
  - O(ufw=allow) runs C(ufw allow from <source> to any port <port> proto tcp) for each tunnel source that UFW does not
    allow yet (an existing allow that covers the sources, such as C(10250/tcp ALLOW IN 10.224.0.0/16), is enough); UFW is
    never opened to every source. O(ufw=disable) runs C(ufw --force disable) when UFW is active; O(ufw=ignore) leaves
    UFW alone.
  - O(iptables=delete_blocking) deletes only the rules proven to drop or reject those packets on the INPUT path (rules
    in UFW's own chains excepted) - the rule surely matches them (sources, addresses, interfaces, ipsets, marks,
    connection state resolved) and no earlier rule may accept them. A rule that cannot be resolved (an unknown match
    module, an ipset that cannot be listed, ...) is reported as UNKNOWN with the reason in the C(unresolved) list of RV(nodes) and
    never deleted; so is every rule when the listing did not fit the Run Command output. Rules are deleted by their
    full rule spec (C(iptables -D <chain> <spec>), only after C(iptables -C) finds it), never by a line number.
  - The repair Run Command first saves C(iptables-save) to C(/var/lib/aks-tunnel/iptables-<run id>.rules); when that
    fails it changes nothing and says why.
  - Nodes are handled concurrently with a bounded pool; values reach the node as Run Command parameters only.
  - B(Support policy) - changing a node's operating system configuration by hand is outside what AKS manages and
    supports (see the AKS support policy on node maintenance and access); node image upgrades and reimaging revert
    it. Prefer fixing what enabled the firewall. The module prints this caveat as a warning on every run.
author: aks.tunnel contributors (@aks-tunnel)
options:
  nodes:
    description: Nodes to fix (Kubernetes node names, or C(<vmss>/<instance id>)).
    type: list
    elements: str
    required: true
  port:
    description: The port to open.
    type: int
    default: 10250
  sources:
    description:
      - The tunnel sources, IPv4 addresses or CIDRs - the nodes the tunnel reaches the kubelets from (their IPs), or their
        subnet(s). UFW is opened to exactly these, and iptables rules are judged for packets from them.
      - Default from the cluster model - the subnet prefix(es) of the cluster's nodes, or every node IP when a node's
        subnet is not known.
    type: list
    elements: str
  ufw:
    description: What to do about UFW.
    type: str
    choices: [allow, disable, ignore]
    default: allow
  iptables:
    description: What to do about iptables rules that drop or reject the port.
    type: str
    choices: [delete_blocking, ignore]
    default: delete_blocking
  concurrency:
    description: How many Run Commands run at the same time.
    type: int
    default: 10
  run_timeout:
    description: Seconds one node's Run Command may take.
    type: int
    default: 300
  deadline:
    description: Seconds each round (inspection, repair) may take in total. V(0) means no deadline.
    type: int
    default: 1800
  conflict_wait:
    description: Seconds to wait before retrying after HTTP 409 (another run command in progress on the VM).
    type: float
    default: 5
extends_documentation_fragment:
  - aks.tunnel.cluster
  - aks.tunnel.cluster.MODEL
  - aks.tunnel.cluster.API_TIMEOUT
  - aks.tunnel.azure
  - aks.tunnel.attributes
  - aks.tunnel.attributes.ACTIONGROUP_AZURE
attributes:
  check_mode:
    support: full
    details:
      - Inspects only (one Run Command per node) and reports the planned actions.
  diff_mode:
    support: full
    details:
      - The diff shows, per node, the UFW state and the blocking iptables rules before and after.
  idempotent:
    support: full
    details:
      - A second run finds nothing to change (one inspecting Run Command per node) and reports no change.
notes:
  - Azure RBAC - Reader on the cluster and node resource group plus
    C(Microsoft.Compute/virtualMachineScaleSets/virtualMachines/runCommand/action).
  - The full C(iptables-save) backup is written on the node to C(/var/lib/aks-tunnel/iptables-<run id>.rules); the result
    carries its path, the filter table (capped) and an undo command for each change. The undo re-inserts each deleted rule
    at its original position; run the commands of RV(undo) in the order given.
  - When the repair Run Command does not answer in time it may still run on the VM - the node is reported with
    C(may_have_changed), C(changed=true), the backup path and the undo commands.
  - After a repair, restart the tunnel pods (aks.tunnel.tunnel_pod_restart) and probe again.
'''

EXAMPLES = r'''
- name: Plan (check mode) what would open 10250 on two nodes
  aks.tunnel.node_firewall:
    resource_group: rg-aks-prod
    name: aks-prod
    nodes: [aks-user1-12345678-vmss000001, aks-user1-12345678-vmss000002]
  check_mode: true
  register: plan

- name: Open it
  aks.tunnel.node_firewall:
    resource_group: rg-aks-prod
    name: aks-prod
    nodes: "{{ probe.findings | selectattr('status', 'eq', 'problem') | map(attribute='affected_nodes') | flatten | unique }}"
    cluster_model: "{{ aks }}"  # registered aks.tunnel.aks_cluster_info result: the cluster and its instances are not read again

- name: Disable UFW instead of adding a rule, leave iptables alone
  aks.tunnel.node_firewall:
    resource_group: rg-aks-prod
    name: aks-prod
    nodes: [aks-user1-12345678-vmss000001]
    ufw: disable
    iptables: ignore
'''

RETURN = r'''
nodes:
  description: Per node - before, planned/applied actions (with undo commands), after, backup, unresolved problems.
  returned: always
  type: list
  elements: dict
  sample:
    - node: aks-nodepool1-12345678-vmss000002
      changed: true
      error: null
      before: {ufw: {installed: true, active: false, allows_port: false, blocks_port: false, reason: ufw is inactive},
               iptables_blocking: ['-A INPUT -p tcp -m tcp --dport 10250 -j DROP'], ufw_rules: [], policy: ACCEPT,
               policy_blocks: false, blocked_by: iptables, conditional: false, reason: '...'}
      actions:
        - {type: iptables_delete, spec: '-A INPUT -p tcp -m tcp --dport 10250 -j DROP', chain: INPUT, position: 1,
           command: 'iptables -D INPUT -p tcp -m tcp --dport 10250 -j DROP',
           undo: 'iptables -I INPUT 1 -p tcp -m tcp --dport 10250 -j DROP', rc: 0, result: done}
      after: {ufw: {active: false}, iptables_blocking: [], blocked_by: null}
      fixed: true
      may_have_changed: false
      backup: {path: /var/lib/aks-tunnel/iptables-f1a2b3c4d5e6f.rules, filter_table: "*filter ..."}
      unresolved: ['not deleted, not proven to block 10250/tcp from the tunnel sources (UNKNOWN): -A INPUT -m set --match-set
                   blocklist src -j DROP (ipset blocklist could not be listed on the node)']
changed:
  description: Whether any node was (or in check mode would be) changed.
  returned: always
  type: bool
undo:
  description: Commands that revert the changes, per node, in the order to run them (re-insertions by ascending original
    position, so that each rule lands where it was).
  returned: always
  type: dict
  sample: {aks-nodepool1-12345678-vmss000002: ['iptables -I INPUT 1 -p tcp -m tcp --dport 10250 -j DROP']}
sources:
  description: The tunnel sources UFW was opened to and iptables rules were judged for (normalized, merged).
  returned: always
  type: list
  elements: str
  sample: [10.224.0.0/16]
support_policy:
  description: The AKS support-policy caveat.
  returned: always
  type: str
diff:
  description: Per-node firewall state before and after (with C(--diff)).
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
  sample: {arm: 18, kube: 0}
'''

import uuid

from ansible_collections.aks.tunnel.plugins.module_utils import _azure
from ansible_collections.aks.tunnel.plugins.module_utils import _cluster_model
from ansible_collections.aks.tunnel.plugins.module_utils import _cluster_options
from ansible_collections.aks.tunnel.plugins.module_utils import _firewall_fix as ff
from ansible_collections.aks.tunnel.plugins.module_utils import _runcommand
from ansible_collections.aks.tunnel.plugins.module_utils._module import AksTunnelModule

SUPPORT_POLICY = ('Changing the operating system configuration of AKS nodes by hand (UFW, iptables) is outside what AKS manages '
                  'and supports (AKS support policy: node maintenance and access); node image upgrades and reimaging revert it. '
                  'Fix what enabled the firewall as well.')


def _diff_view(state):
    if not state:
        return {}
    return {'ufw_active': state['ufw']['active'], 'ufw_allows_port': state['ufw']['allows_port'],
            'iptables_blocking': state['iptables_blocking'], 'blocked_by': state['blocked_by']}


def default_sources(model):
    """The node subnet prefix(es) of the cluster model, or every node IP when a node's subnet is not known."""
    nodes = model.get('nodes') or []
    prefixes = [n.get('subnet_prefix') for n in nodes]
    if nodes and all(prefixes):
        return sorted(set(prefixes))
    return sorted(set(n['private_ip'] for n in nodes if n.get('private_ip')))


def main():
    module = AksTunnelModule(
        _cluster_options.argument_spec(
            _cluster_options.CLUSTER_ARGSPEC, _cluster_options.MODEL_ARGSPEC, _cluster_options.API_TIMEOUT_ARGSPEC,
            nodes=dict(type='list', elements='str', required=True),
            port=dict(type='int', default=10250),
            sources=dict(type='list', elements='str'),
            ufw=dict(type='str', default='allow', choices=['allow', 'disable', 'ignore']),
            iptables=dict(type='str', default='delete_blocking', choices=['delete_blocking', 'ignore']),
            concurrency=dict(type='int', default=10),
            run_timeout=dict(type='int', default=300),
            deadline=dict(type='int', default=1800),
            conflict_wait=dict(type='float', default=5),
        ),
        azure=True,
    )
    params = module.params
    if not params['nodes']:
        module.fail('nodes must list at least one node')
    if not 1 <= params['port'] <= 65535:
        module.fail('port must be between 1 and 65535, got %d' % params['port'])
    for key in ('concurrency', 'run_timeout'):
        if params[key] < 1:
            module.fail('%s must be at least 1, got %d' % (key, params[key]))
    model = _cluster_options.cluster_model(module)
    try:
        nodes = _cluster_model.resolve_nodes(model, params['nodes'])
    except _cluster_model.ClusterModelError as exc:
        module.fail(str(exc))
    missing = [n['name'] for n in nodes if not n['vmss']]
    if missing:
        module.fail('node(s) %s are not VMSS instances; Run Command cannot reach them' % ', '.join(missing))
    node_rg = model['cluster']['node_resource_group']
    run_id = 'f' + uuid.uuid4().hex[:12]
    try:
        sources = ff.normalize_sources(params['sources'] if params['sources'] is not None else default_sources(model))
        for node in nodes:
            if node.get('private_ip'):
                ff.build_fix_parameters(node_ip=node['private_ip'])
    except ff.FirewallFixError as exc:
        module.fail(str(exc))
    if not sources:
        module.fail('no tunnel sources: the cluster model has no node subnet or node IP; give sources (IPs or CIDRs)')
    backup_path = '%s/iptables-%s.rules' % (ff.BACKUP_DIR, run_id)

    def run(targets):
        executor = _runcommand.RunCommandExecutor(module.azure.compute, concurrency=params['concurrency'], timeout=params['run_timeout'],
                                                  deadline=params['deadline'] or None, conflict_wait=params['conflict_wait'],
                                                  describe=_azure.describe_azure_error)
        return dict((r['key'], r) for r in executor.run(targets))

    inspected = run([{'key': n['name'], 'resource_group': node_rg, 'vmss': n['vmss'], 'instance_id': n['instance_id'],
                      'script': ff.FIX_SCRIPT,
                      'parameters': ff.build_fix_parameters(port=params['port'], apply=False, run_id=run_id, sources=sources,
                                                            node_ip=n.get('private_ip') or None)} for n in nodes])
    contexts = {}
    per_node = []
    apply_targets = []
    for node in nodes:
        entry = {'node': node['name'], 'changed': False, 'error': None, 'before': None, 'actions': [], 'after': None, 'fixed': None,
                 'may_have_changed': False, 'backup': None, 'unresolved': []}
        per_node.append(entry)
        run_result = inspected[node['name']]
        if run_result['status'] != 'succeeded':
            entry['error'] = run_result['error']
            continue
        parsed = ff.parse_fix_output(run_result['stdout'], run_id)
        if parsed['error'] or not parsed['complete']:
            entry['error'] = 'inspection failed: %s' % (parsed['error'] or '; '.join(parsed['problems']))
            continue
        try:
            contexts[node['name']] = ff.context_from_sections(parsed['sections'], sources=sources, node_ip=node.get('private_ip') or None)
            entry['before'] = ff.firewall_state(parsed['sections'], port=params['port'], context=contexts[node['name']])
            actions, unresolved = ff.plan_actions(entry['before'], parsed['sections'], ufw=params['ufw'],
                                                  iptables=params['iptables'], port=params['port'], sources=sources)
        except ff.FirewallFixError as exc:
            entry['error'] = str(exc)
            continue
        entry['actions'] = actions
        entry['unresolved'] = unresolved
        entry['changed'] = bool(actions)
        if actions and not module.check_mode:
            ufw_action = next((a['type'][4:] for a in actions if a['type'].startswith('ufw_')), 'ignore')
            specs = [a['spec'] for a in actions if a['type'] == 'iptables_delete']
            ufw_sources = [a['source'] for a in actions if a['type'] == 'ufw_allow']
            # the script runs the actions in this order: UFW first, then the deletions (indexes of the A lines)
            entry['actions'] = [a for a in actions if a['type'].startswith('ufw_')] + [a for a in actions if a['type'] == 'iptables_delete']
            apply_targets.append({'key': node['name'], 'resource_group': node_rg, 'vmss': node['vmss'], 'instance_id': node['instance_id'],
                                  'script': ff.FIX_SCRIPT,
                                  'parameters': ff.build_fix_parameters(port=params['port'], apply=True, ufw=ufw_action,
                                                                        delete_specs=specs, run_id=run_id, sources=ufw_sources)})
        elif not actions:
            entry['after'] = entry['before']
            entry['fixed'] = entry['before']['blocked_by'] not in ('ufw', 'iptables')

    if apply_targets:
        applied = run(apply_targets)
        for entry in per_node:
            run_result = applied.get(entry['node'])
            if run_result is None:
                continue
            sent = run_result.get('attempts', 1) > run_result.get('conflicts', 0)  # not every attempt was refused with 409
            if sent and (run_result['status'] == _runcommand.STATUS_TIMEOUT or (
                    run_result['status'] == _runcommand.STATUS_ABANDONED and run_result.get('started'))):
                # the Run Command may still run on the VM: it may have changed the firewall
                entry['may_have_changed'] = True
                entry['changed'] = True
                entry['backup'] = {'path': backup_path, 'filter_table': None, 'trimmed': False}
                for action in entry['actions']:
                    action['result'] = 'unknown'
                entry['error'] = ('the repair Run Command did not finish in time (%s) and may still run on the VM: it may have changed '
                                  'the firewall. Inspect the node again (check mode); the backup is %s and the undo commands are in '
                                  'the result' % (run_result['error'], backup_path))
                continue
            if run_result['status'] != 'succeeded':
                entry['error'] = run_result['error']
                entry['changed'] = False
                continue
            parsed = ff.parse_fix_output(run_result['stdout'], run_id)
            if parsed['error'] or not parsed['complete']:
                entry['error'] = 'repair script failed: %s' % (parsed['error'] or '; '.join(parsed['problems']))
                continue
            backup = parsed['sections'].get('backup')
            if not backup or backup.get('rc') != 0:
                for action in entry['actions']:
                    action['result'] = 'skipped'
                entry['changed'] = False
                entry['error'] = ('the backup of the firewall (iptables-save to %s) failed%s: nothing was changed' % (
                    (backup or {}).get('path') or backup_path, ' (rc %s)' % backup.get('rc') if backup else ' (iptables-save not found)'))
                continue
            results = dict((a['index'], a) for a in parsed['actions'])
            for index, action in enumerate(entry['actions']):
                outcome = results.get(index)
                if outcome is None:
                    action['result'] = 'not run'
                elif outcome['absent']:
                    action['result'] = 'already absent'
                else:
                    action['rc'] = outcome['rc']
                    action['result'] = 'done' if outcome['rc'] == 0 else 'failed'
            entry['changed'] = any(a.get('result') == 'done' for a in entry['actions'])
            backup = parsed['sections'].get('backup')
            if backup:
                entry['backup'] = {'path': backup.get('path'), 'filter_table': backup.get('text'), 'trimmed': bool(backup.get('trimmed'))}
            try:
                entry['after'] = ff.firewall_state(parsed['sections'], prefix='after-', port=params['port'], context=contexts[entry['node']])
            except ff.FirewallFixError as exc:
                entry['error'] = 'could not verify the result: %s' % exc
                continue
            if entry['after']['iptables_view_problem']:
                entry['error'] = 'could not verify the result: %s' % entry['after']['iptables_view_problem']
                continue
            handled = set()
            if params['ufw'] != 'ignore':
                handled.add('ufw')
            if params['iptables'] != 'ignore':
                handled.add('iptables')
            entry['fixed'] = entry['after']['blocked_by'] not in handled and not (
                params['iptables'] != 'ignore' and entry['after']['iptables_blocking'])
            failed = [a for a in entry['actions'] if a.get('result') == 'failed']
            if failed:
                entry['error'] = 'action(s) failed: %s' % '; '.join('%s (rc %s)' % (a['command'], a.get('rc')) for a in failed)
            elif not entry['fixed']:
                entry['error'] = 'port %d is still blocked after the repair: %s' % (params['port'], entry['after']['reason'])

    changed = any(e['changed'] for e in per_node)
    undo = dict((e['node'], ff.undo_commands([a for a in e['actions'] if module.check_mode or a.get('result') in ('done', 'unknown')]))
                for e in per_node if e['actions'])
    for entry in per_node:
        for action in entry['actions']:
            action.pop('undo_order', None)
    result = {'changed': changed, 'nodes': per_node, 'undo': undo, 'sources': sources, 'support_policy': SUPPORT_POLICY}
    if module.diff_mode:
        after = {}
        for entry in per_node:
            view = _diff_view(entry['after']) if not module.check_mode else None
            after[entry['node']] = view or {'planned': [a['command'] for a in entry['actions']]}
        result['diff'] = {'before': dict((e['node'], _diff_view(e['before'])) for e in per_node), 'after': after}
    module.warn(SUPPORT_POLICY)
    for entry in per_node:
        for text in entry['unresolved']:
            module.warn('%s: %s' % (entry['node'], text))
    errors = [e for e in per_node if e['error']]
    if errors:
        details = '; '.join('%s: %s' % (e['node'], e['error']) for e in errors)
        module.fail('node_firewall failed on %d of %d node(s): %s' % (len(errors), len(per_node), details), **result)
    module.exit(**result)


if __name__ == '__main__':
    main()
