#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2026 aks.tunnel contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r'''
module: konnectivity_ladder
short_description: Read, evaluate and tune the konnectivity-agent autoscaler ladder
version_added: 0.1.0
description:
  - AKS scales the C(konnectivity-agent) Deployment with cluster-proportional-autoscaler (CPA) v1.9.0, which
    reads the ConfigMap C(kube-system/konnectivity-agent-autoscaler).
  - With O(state=query) the module finds that ConfigMap (from the C(--configmap) argument of the
    C(konnectivity-agent-autoscaler) Deployment when it exists), parses it exactly as CPA v1.9.0 does (one data key,
    C(ladder) or C(linear); anything else and CPA leaves the replica count unchanged), counts nodes and cores the
    way CPA does, and returns the expected replica count, the Deployment's replicas, the ladder's safety warnings
    and a C(konnectivity_agent_scaling) finding. It never changes anything.
  - With O(state=present) the module writes a ladder as compact, sorted JSON under the C(ladder) key. It refuses
    ladders that could scale the agent to zero or that CPA would misread, keeps every other field of the
    ConfigMap, writes with the C(resourceVersion) it read, and never overwrites a ladder somebody else changed
    in the meantime. The previous ladder is returned for rollback.
  - When the write gets HTTP 409 (somebody wrote the ConfigMap after our read), the module reads it again and decides
    again from that read - never writing what it planned from the stale one - at most 3 writes in all; it fails, with
    nothing written, when the other writer changed the data (see RV(concurrent_change)) or the conflicts go on, and
    changes nothing when the other writer wrote exactly the requested ladder.
author: aks.tunnel contributors (@aks-tunnel)
options:
  state:
    description:
      - V(query) reads and evaluates; V(present) writes the ladder given in O(nodes_to_replicas) / O(cores_to_replicas).
    type: str
    choices: [query, present]
    default: query
  namespace:
    description: Namespace of the autoscaler, its ConfigMap and the agent Deployment.
    type: str
    default: kube-system
  configmap:
    description:
      - Name of the autoscaler ConfigMap.
      - Default is the C(--configmap) argument of the O(autoscaler_deployment) Deployment, or
        C(konnectivity-agent-autoscaler) when that Deployment does not exist.
    type: str
  autoscaler_deployment:
    description: Name of the cluster-proportional-autoscaler Deployment.
    type: str
    default: konnectivity-agent-autoscaler
  deployment:
    description:
      - Name of the Deployment the autoscaler scales.
      - Default is the C(--target) argument of the autoscaler, or C(konnectivity-agent).
    type: str
  nodes_to_replicas:
    description:
      - With O(state=present), the C(nodesToReplicas) list, pairs of V([node count, replicas]).
      - Unset keeps the live list; V([]) removes it.
    type: list
    elements: raw
  cores_to_replicas:
    description:
      - With O(state=present), the C(coresToReplicas) list, pairs of V([core count, replicas]).
      - Unset keeps the live list; V([]) removes it.
    type: list
    elements: raw
  include_unschedulable_nodes:
    description:
      - With O(state=present), the ladder's C(includeUnschedulableNodes). Unset keeps the live value.
    type: bool
  remove_extra_keys:
    description:
      - With O(state=present), remove ConfigMap data keys other than C(ladder) (CPA refuses a ConfigMap with more
        than one key, and a C(linear) key means linear mode). Without this the module fails and names them.
      - Their values are returned in RV(previous_data) for rollback.
    type: bool
    default: false
  node_count:
    description:
      - Evaluate "what if the cluster had this many (schedulable) nodes" without changing anything; see RV(what_if).
    type: int
  core_count:
    description:
      - Core count for the what-if evaluation. Default is O(node_count) times the current average cores per node.
    type: int
  minimum_replicas:
    description:
      - Fewest replicas any cluster should get. The finding reports a problem when the ladder gives fewer than
        this, or fewer than the AKS documented ladder gives for the cluster's size.
    type: int
    default: 2
  wait:
    description:
      - After a write, wait until the Deployment has the new expected replica count and that many ready replicas.
    type: bool
    default: false
  wait_timeout:
    description: Seconds to wait with O(wait=true).
    type: int
    default: 120
extends_documentation_fragment:
  - aks.tunnel.cluster.MODEL
  - aks.tunnel.cluster.API_TIMEOUT
  - aks.tunnel.kubernetes
  - aks.tunnel.azure
  - aks.tunnel.attributes
  - aks.tunnel.attributes.ACTIONGROUP_AZURE_AND_KUBERNETES
attributes:
  check_mode:
    support: full
    details:
      - With O(state=present) reports what would be written and writes nothing.
  diff_mode:
    support: full
    details:
      - The diff shows the ladder JSON before and after.
  idempotent:
    support: full
    details:
      - A semantically equal ladder (same parsed, sorted entries) is never rewritten.
notes:
  - With O(cluster_model) the nodes come from the model, unless the autoscaler counts only nodes with given labels
    (C(--nodelabels)); the model has no node labels, so the nodes are listed then.
  - Kubernetes RBAC - C(get)/C(list) on nodes, C(get) on configmaps and deployments in O(namespace); O(state=present)
    also needs C(update) (and C(create) when the ConfigMap is missing) on configmaps.
  - AKS may label the ConfigMap C(addonmanager.kubernetes.io/mode=Reconcile); the module warns, because AKS then reverts edits.
'''

EXAMPLES = r'''
- name: Evaluate the konnectivity-agent ladder
  aks.tunnel.konnectivity_ladder:
    kubeconfig: ~/.kube/config
  register: ladder

- name: Evaluate it on the cluster model read before (the nodes are not listed again)
  aks.tunnel.konnectivity_ladder:
    cluster_model: "{{ aks }}"  # registered aks.tunnel.aks_cluster_info result

- name: What would a 300-node cluster get?
  aks.tunnel.konnectivity_ladder:
    node_count: 300
  register: ladder_300

- name: Write the AKS documented ladder (check mode first to see the diff)
  aks.tunnel.konnectivity_ladder:
    state: present
    nodes_to_replicas: [[1, 2], [100, 3], [250, 4], [500, 5], [1000, 6], [5000, 10]]
    wait: true
  check_mode: true
  diff: true

- name: Roll back to the previous ladder
  aks.tunnel.konnectivity_ladder:
    state: present
    nodes_to_replicas: "{{ ladder_change.previous_ladder.nodesToReplicas }}"
    cores_to_replicas: "{{ ladder_change.previous_ladder.coresToReplicas }}"
  when: ladder_change.previous_ladder is not none
'''

RETURN = r'''
configmap:
  description: The ConfigMap evaluated or written.
  returned: always
  type: dict
  sample: {namespace: kube-system, name: konnectivity-agent-autoscaler, source: autoscaler --configmap, exists: true,
           data_keys: [ladder], resource_version: "1042", addon_mode: EnsureExists}
autoscaler:
  description: The autoscaler Deployment and the flags it runs with.
  returned: always
  type: dict
  sample: {exists: true, name: konnectivity-agent-autoscaler, args: {configmap: konnectivity-agent-autoscaler,
           target: deployment/konnectivity-agent, target_kind: deployment, target_name: konnectivity-agent, namespace: kube-system}}
mode:
  description: V(ladder) or V(linear) when CPA accepts the ConfigMap, else null.
  returned: always
  type: str
  sample: ladder
ladder:
  description: The live ladder as CPA parses it (sorted lists), or null when it cannot be parsed.
  returned: always
  type: dict
  sample: {coresToReplicas: [], nodesToReplicas: [[1, 2], [100, 3]], includeUnschedulableNodes: false}
ladder_json:
  description: The live ladder in canonical compact JSON (the form O(state=present) writes), or null.
  returned: always
  type: str
  sample: '{"nodesToReplicas":[[1,2],[100,3]]}'
steps:
  description: Replica count per node (and core) range, as CPA looks them up.
  returned: always
  type: dict
  sample: {nodesToReplicas: [{from: 0, to: 99, replicas: 2}, {from: 100, to: null, replicas: 3}], coresToReplicas: []}
cpa_valid:
  description: Whether CPA v1.9.0 accepts the ConfigMap.
  returned: always
  type: bool
  sample: true
cpa_errors:
  description: What CPA logs about the ConfigMap when it refuses it (it then leaves the replica count unchanged).
  returned: always
  type: list
  elements: str
  sample: ['invalid configMap format, expected only one entry, got: map[ladder:{} notes:x]']
safety_errors:
  description: Why the live ladder is unsafe (zero replicas reachable, duplicate thresholds, empty ladder, ...).
  returned: always
  type: list
  elements: str
  sample: ['nodesToReplicas[0] gives 0 replicas at 1+ nodes; CPA would scale konnectivity-agent to zero and drop the tunnel. Use at least 2']
safety_warnings:
  description: Weaker concerns about the live ladder (fewer than 2 replicas somewhere, unsorted, non-monotonic).
  returned: always
  type: list
  elements: str
  sample: ['nodesToReplicas is not sorted by threshold; CPA sorts it, and it is written sorted']
cluster:
  description: Node and core counts as CPA v1.9.0 computes them (schedulable = not cordoned; cores = ceil of summed allocatable CPU).
  returned: always
  type: dict
  sample: {total_nodes: 5, schedulable_nodes: 4, total_cores: 10, schedulable_cores: 8}
expected_replicas:
  description: Replicas CPA sets for this ConfigMap and cluster, or null when CPA refuses the ConfigMap.
  returned: always
  type: int
  sample: 2
baseline_replicas:
  description: Fewest replicas this cluster should have (AKS documented ladder, at least O(minimum_replicas)).
  returned: always
  type: int
  sample: 2
deployment:
  description: The agent Deployment's replica counts and its addon-manager mode label.
  returned: always
  type: dict
  sample: {exists: true, name: konnectivity-agent, replicas: 2, ready_replicas: 2, available_replicas: 2, addon_mode: Reconcile}
replicas_agree:
  description: Whether the Deployment's replicas equal RV(expected_replicas) (null when unknown).
  returned: always
  type: bool
  sample: true
caveats:
  description: Caveats, such as a C(Reconcile) addon-manager label on the ConfigMap (also shown as warnings).
  returned: always
  type: list
  elements: str
  sample: []
what_if:
  description: Expected replicas for O(node_count) / O(core_count) (with O(state=present), for the new ladder).
  returned: when O(node_count) or O(core_count) is given
  type: dict
  sample: {total_nodes: 300, schedulable_nodes: 300, total_cores: 600, schedulable_cores: 600, core_count_estimated: true,
           expected_replicas: 4, baseline_replicas: 4}
finding:
  description: The C(konnectivity_agent_scaling) finding of this check (see aks.tunnel.konnectivity_agent_info for the pod side).
  returned: when O(state=query)
  type: dict
  sample: {cause: konnectivity_agent_scaling, status: problem, summary: 'the ladder gives 1 replica(s) for 12 schedulable nodes; ...',
           affected_nodes: [], evidence: ['ladder: {"nodesToReplicas":[[1,1]]}'],
           remediation: {ladder: {module: aks.tunnel.konnectivity_ladder, nodes_to_replicas: [[1, 2], [100, 3]], expected_replicas: 2}}}
new_ladder:
  description: The ladder written (or that would be written in check mode).
  returned: when O(state=present)
  type: dict
  sample: {nodesToReplicas: [[1, 2], [100, 3]]}
new_ladder_json:
  description: The exact JSON text written under the C(ladder) key.
  returned: when O(state=present)
  type: str
  sample: '{"nodesToReplicas":[[1,2],[100,3]]}'
new_expected_replicas:
  description: Replicas CPA sets with the new ladder for the current cluster.
  returned: when O(state=present)
  type: int
  sample: 3
previous_ladder:
  description: The ladder before the change, parsed (null when it was missing or unparseable); pass its lists back to roll back.
  returned: when O(state=present)
  type: dict
  sample: {coresToReplicas: [], nodesToReplicas: [[1, 1]], includeUnschedulableNodes: false}
previous_data:
  description: The ConfigMap's whole C(data) before the change (null when the ConfigMap did not exist).
  returned: when O(state=present)
  type: dict
  sample: {ladder: '{"nodesToReplicas":[[1,1]]}'}
ladder_warnings:
  description: Safety warnings about the new ladder (it is written anyway), e.g. unsorted input.
  returned: when O(state=present)
  type: list
  elements: str
  sample: ['nodesToReplicas is not sorted by threshold; CPA sorts it, and it is written sorted']
ladder_errors:
  description: Why the requested ladder was refused (nothing is written).
  returned: on failure, when the ladder is unsafe
  type: list
  elements: str
  sample: ['nodesToReplicas[0] gives 0 replicas at 1+ nodes; CPA would scale konnectivity-agent to zero and drop the tunnel. Use at least 2']
concurrent_change:
  description: The ConfigMap data read before the write and the data somebody else wrote meanwhile (nothing was overwritten).
  returned: on failure, when the ladder changed between the read and the write
  type: dict
  sample: {before: {ladder: '{"nodesToReplicas":[[1,1]]}'}, after: {ladder: '{"nodesToReplicas":[[1,4]]}'}}
removed_keys:
  description: Data keys removed with O(remove_extra_keys=true).
  returned: when O(state=present)
  type: list
  elements: str
  sample: []
resource_version:
  description: C(resourceVersion) of the ConfigMap after the write.
  returned: when O(state=present) and changed and not in check mode
  type: str
  sample: "1107"
deployment_after:
  description: The Deployment's replica counts after waiting.
  returned: when O(wait=true) and changed and not in check mode
  type: dict
  sample: {exists: true, name: konnectivity-agent, replicas: 3, ready_replicas: 3, available_replicas: 3, addon_mode: Reconcile}
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
    arm: {description: "Requests to Azure Resource Manager (0 - this module uses only the Kubernetes API).", type: int, returned: always}
    kube: {description: "Requests to the Kubernetes API server.", type: int, returned: always}
  sample: {arm: 0, kube: 4}
'''

import json
import time

from ansible_collections.aks.tunnel.plugins.module_utils import _cluster_model
from ansible_collections.aks.tunnel.plugins.module_utils import _cluster_options
from ansible_collections.aks.tunnel.plugins.module_utils import _konnectivity
from ansible_collections.aks.tunnel.plugins.module_utils import _ladder
from ansible_collections.aks.tunnel.plugins.module_utils import _tunnel_kube
from ansible_collections.aks.tunnel.plugins.module_utils._module import AksTunnelModule

ARGUMENT_SPEC = _cluster_options.argument_spec(
    _cluster_options.MODEL_ARGSPEC, _cluster_options.API_TIMEOUT_ARGSPEC,
    state=dict(type='str', default='query', choices=['query', 'present']),
    namespace=dict(type='str', default='kube-system'),
    configmap=dict(type='str'),
    autoscaler_deployment=dict(type='str', default='konnectivity-agent-autoscaler'),
    deployment=dict(type='str'),
    nodes_to_replicas=dict(type='list', elements='raw'),
    cores_to_replicas=dict(type='list', elements='raw'),
    include_unschedulable_nodes=dict(type='bool'),
    remove_extra_keys=dict(type='bool', default=False),
    node_count=dict(type='int'),
    core_count=dict(type='int'),
    minimum_replicas=dict(type='int', default=2),
    wait=dict(type='bool', default=False),
    wait_timeout=dict(type='int', default=120),
)


class _Concurrent(Exception):
    """The ladder changed between our read and our write."""


def read_state(module, params, model=None):
    """Read autoscaler, ConfigMap, agent Deployment and nodes (from ``model`` when given); returns (objects, configmap_ref)."""
    kube = _tunnel_kube.from_module(module)
    namespace = params['namespace']
    autoscaler = kube.deployment(namespace, params['autoscaler_deployment'])
    refs = _konnectivity.autoscaler_refs(autoscaler)
    if params['configmap']:
        ref = {'namespace': namespace, 'name': params['configmap'], 'source': 'option configmap'}
    elif refs.get('configmap'):
        ref = {'namespace': namespace, 'name': refs['configmap'], 'source': 'autoscaler --configmap'}
    else:
        ref = {'namespace': namespace, 'name': _konnectivity.DEFAULT_CONFIGMAP, 'source': 'default'}
    deployment_name = params['deployment'] or refs.get('target_name') or _konnectivity.AGENT_DEPLOYMENT
    configmap = kube.configmap(namespace, ref['name'])
    deployment = kube.deployment(namespace, deployment_name)
    # the model has no node labels: with --nodelabels CPA counts only some nodes, so they are listed
    nodes = _cluster_model.node_objects(model) if model is not None and not refs.get('node_labels') else kube.nodes()
    return {'autoscaler': autoscaler, 'configmap': configmap, 'deployment': deployment, 'nodes': nodes, 'deployment_name': deployment_name}, ref


def evaluate(module, params, objects, ref):
    try:
        return _konnectivity.evaluate_ladder(objects['configmap'], objects['nodes'], objects['deployment'], ref, autoscaler=objects['autoscaler'],
                                             node_count=params['node_count'], core_count=params['core_count'],
                                             minimum_replicas=params['minimum_replicas'])
    except (_konnectivity.KonnectivityInputError, _ladder.LadderError) as exc:
        module.fail(str(exc))
    return None


def _live_params(configmap):
    """The live ladder keys we keep for unset options (None when not parseable)."""
    data = (configmap or {}).get('data') or {}
    if _ladder.LADDER_MODE not in data:
        return None
    try:
        return _ladder.parse_ladder(data[_ladder.LADDER_MODE])
    except _ladder.LadderError:
        return None


def plan_write(module, params, configmap):
    """(new data dict, document, rendered JSON, warnings, removed keys) or fail with the reason."""
    try:
        document, errors, warnings = _konnectivity.desired_ladder(_live_params(configmap), params['nodes_to_replicas'],
                                                                  params['cores_to_replicas'], params['include_unschedulable_nodes'])
    except _konnectivity.KonnectivityInputError as exc:
        module.fail(str(exc))
    if errors:
        module.fail('refusing to write this ladder: %s' % '; '.join(errors), ladder_errors=errors, ladder_warnings=warnings)
    rendered = _ladder.render_ladder(document)
    data = dict((configmap or {}).get('data') or {})
    extra = sorted(key for key in data if key != _ladder.LADDER_MODE)
    if extra and not params['remove_extra_keys']:
        module.fail('ConfigMap data has key(s) %s besides "ladder"; CPA needs exactly one key (%s). Set remove_extra_keys=true to remove '
                    'them (their values are returned for rollback), or edit the ConfigMap by hand.'
                    % (', '.join(extra), 'a "linear" key means linear mode' if 'linear' in extra else 'it refuses the whole ConfigMap'))
    new_data = {key: value for key, value in data.items() if key not in extra}
    current = data.get(_ladder.LADDER_MODE)
    if current is None or not _ladder.ladders_equal(current, rendered):
        new_data[_ladder.LADDER_MODE] = rendered
    return new_data, document, rendered, warnings, extra


WRITE_ATTEMPTS = 3


def write(module, params, ref, configmap):
    """Create or replace the ConfigMap with optimistic concurrency; returns (the object now, whether we wrote it).

    The PUT carries the resourceVersion of our read, so a write by anybody else in between makes the API server answer
    409 (a create: 409 AlreadyExists). Then the ConfigMap is read again and the write decided again from that read: its
    data unchanged (only metadata was written, e.g. a label) - write again on the new version, at most WRITE_ATTEMPTS
    times; the data already what we would write - nothing to do; other data - _Concurrent (nothing is overwritten).
    """
    from kubernetes.client.exceptions import ApiException  # pylint: disable=import-outside-toplevel
    kube = _tunnel_kube.from_module(module)
    original = configmap
    for _attempt in range(WRITE_ATTEMPTS):
        new_data, dummy_doc, dummy_json, dummy_warn, dummy_removed = plan_write(module, params, configmap)
        if configmap is not None and new_data == (configmap.get('data') or {}):
            return configmap, False
        try:
            if configmap is None:
                body = {'apiVersion': 'v1', 'kind': 'ConfigMap', 'metadata': {'name': ref['name'], 'namespace': ref['namespace']}, 'data': new_data}
                return kube.create_configmap(ref['namespace'], body), True
            body = json.loads(json.dumps(configmap))
            body['data'] = new_data
            return kube.replace_configmap(ref['namespace'], ref['name'], body), True
        except ApiException as exc:
            if exc.status != 409:
                module.fail_from_exception(exc, 'write ConfigMap %s/%s' % (ref['namespace'], ref['name']))
        # 409: somebody wrote in between. Re-read and decide again; never write what was planned from the stale read.
        configmap = kube.configmap(ref['namespace'], ref['name'], doing='re-read ConfigMap %s/%s after a conflict' % (ref['namespace'], ref['name']))
        if ((configmap or {}).get('data') or None) != ((original or {}).get('data') or None):
            if configmap is not None and plan_write(module, params, configmap)[0] == (configmap.get('data') or {}):
                return configmap, False  # the other writer wrote exactly the ladder asked for
            raise _Concurrent(((original or {}).get('data'), (configmap or {}).get('data')))
    module.fail('ConfigMap %s/%s kept changing (%d conflicts in a row: HTTP 409 on every write, its data unchanged); nothing was written. '
                'Try again later, or find the other writer (kubectl get configmap %s -n %s --show-managed-fields).'
                % (ref['namespace'], ref['name'], WRITE_ATTEMPTS, ref['name'], ref['namespace']))
    return None, False


def wait_for_replicas(module, namespace, name, expected, wait_timeout):
    kube = _tunnel_kube.from_module(module)
    deadline = time.monotonic() + wait_timeout
    summary = None
    while True:
        deployment = kube.deployment(namespace, name, doing='read Deployment %s/%s while waiting' % (namespace, name))
        summary = _konnectivity.deployment_summary(deployment)
        if summary['replicas'] == expected and summary['ready_replicas'] >= expected:
            return summary, True
        if time.monotonic() >= deadline:
            return summary, False
        time.sleep(1)


def main():
    module = AksTunnelModule(ARGUMENT_SPEC, kube=True)
    params = module.params
    for option in ('wait_timeout', 'api_timeout', 'minimum_replicas'):
        if params[option] is not None and params[option] < (0 if option == 'minimum_replicas' else 1):
            module.fail('%s must be %s, got %d' % (option, '>= 0' if option == 'minimum_replicas' else '>= 1', params[option]))
    if params['state'] == 'query' and (params['nodes_to_replicas'] is not None or params['cores_to_replicas'] is not None):
        module.fail('nodes_to_replicas / cores_to_replicas need state=present (state=query only reads)')
    objects, ref = read_state(module, params, _cluster_options.given_model(module))
    report = evaluate(module, params, objects, ref)
    for caveat in report['caveats']:
        module.warn(caveat)
    if params['state'] == 'query':
        module.exit(changed=False, **report)

    configmap = objects['configmap']
    data = (configmap or {}).get('data') or {}
    new_data, document, rendered, warnings, removed = plan_write(module, params, configmap)
    changed = configmap is None or new_data != data
    counts = report['cluster']
    # The finding describes the state before the write; a remediation run returns what it changed instead.
    result = {key: value for key, value in report.items() if key != 'finding'}
    result.update(
        new_ladder=document, new_ladder_json=rendered, ladder_warnings=warnings, removed_keys=removed,
        new_expected_replicas=_ladder.ladder_replicas(document, counts['total_nodes'], counts['total_cores'],
                                                      counts['schedulable_nodes'], counts['schedulable_cores']),
        previous_ladder=_live_params(configmap), previous_data=dict(data) if configmap is not None else None,
    )
    if report['what_if']:
        what_if = report['what_if']
        result['what_if'] = dict(what_if, new_expected_replicas=_ladder.ladder_replicas(
            document, what_if['total_nodes'], what_if['total_cores'], what_if['schedulable_nodes'], what_if['schedulable_cores']))
    if module.diff_mode:
        result['diff'] = {'before': (data.get(_ladder.LADDER_MODE) or '') + '\n', 'after': rendered + '\n',
                          'before_header': '%s/%s data.ladder' % (ref['namespace'], ref['name']),
                          'after_header': '%s/%s data.ladder' % (ref['namespace'], ref['name'])}
        if removed:
            result['diff']['before'] = json.dumps(data, indent=2, sort_keys=True) + '\n'
            result['diff']['after'] = json.dumps(new_data, indent=2, sort_keys=True) + '\n'
    if not changed or module.check_mode:
        module.exit(changed=changed, **result)
    try:
        written, changed = write(module, params, ref, configmap)
    except _Concurrent as exc:
        before, now = exc.args[0]
        module.fail('ConfigMap %s/%s was changed by someone else while this task was writing it (ladder read: %s; ladder now: %s). '
                    'Nothing was overwritten; review the new ladder and run the task again.'
                    % (ref['namespace'], ref['name'], (before or {}).get('ladder'), (now or {}).get('ladder')),
                    concurrent_change={'before': before, 'after': now}, **{k: v for k, v in result.items() if k != 'diff'})
    result['resource_version'] = (written.get('metadata') or {}).get('resourceVersion')
    result['configmap'] = dict(result['configmap'], exists=True, resource_version=result['resource_version'],
                               data_keys=sorted((written.get('data') or {})))
    if params['wait'] and changed:
        summary, reached = wait_for_replicas(module, ref['namespace'], objects['deployment_name'], result['new_expected_replicas'],
                                             params['wait_timeout'])
        result['deployment_after'] = summary
        if not reached:
            module.fail('the ladder was written, but %s/%s did not reach %d ready replica(s) within %d seconds (now %s, ready %s)'
                        % (ref['namespace'], objects['deployment_name'], result['new_expected_replicas'], params['wait_timeout'],
                           summary['replicas'], summary['ready_replicas']), changed=True, **{k: v for k, v in result.items() if k != 'diff'})
    module.exit(changed=changed, **result)


if __name__ == '__main__':
    main()
