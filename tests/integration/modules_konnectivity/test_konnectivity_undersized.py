# -*- coding: utf-8 -*-
# Copyright (c) 2026 aks.tunnel contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""konnectivity-undersized: the ladder keeps 120 nodes at one agent; detect it, repair it (four steps), CPA follows."""

from __future__ import annotations

import json

from ansible_collections.aks.tunnel.tests.integration.modules_konnectivity.playbook_runner import run_playbook

DOC_LADDER = [[1, 2], [100, 3], [250, 4], [500, 5], [1000, 6], [5000, 10]]


def _present(**extra):
    return dict({'state': 'present', 'nodes_to_replicas': DOC_LADDER}, **extra)


def test_undersized_ladder_is_detected_and_repaired(kube_lab, tmp_path):
    lab = kube_lab('konnectivity-undersized')
    before = json.loads(lab.store.get_copy('configmaps', 'kube-system', 'konnectivity-agent-autoscaler')['data']['ladder'])
    assert before == {'nodesToReplicas': [[1, 1]]}
    ladder = 'aks.tunnel.konnectivity_ladder'
    tasks = [
        {ladder: {'kubeconfig': lab.reader}, 'register': 'detect'},
        {'aks.tunnel.konnectivity_agent_info': {'kubeconfig': lab.reader}, 'register': 'agents'},
        {ladder: dict(_present(), kubeconfig=lab.reader), 'register': 'readonly', 'ignore_errors': True},
        {ladder: _present(wait=True), 'check_mode': True, 'diff': True, 'register': 'check1'},
        {ladder: _present(wait=True, wait_timeout=30), 'register': 'real1'},
        {ladder: _present(), 'check_mode': True, 'register': 'check2'},
        {ladder: _present(), 'register': 'real2'},
        {ladder: {'node_count': 300}, 'register': 'verify'},
    ]
    results = run_playbook(tmp_path, tasks, module_defaults={ladder: {'kubeconfig': lab.admin}})

    detect = results['detect']
    node_count = sum(pool['count'] for pool in lab.scenario['node_pools'])
    assert node_count >= 100, 'the scenario must be big enough for the documented ladder to want 3 replicas'
    cores = -(-node_count * 19 // 10)   # 1900m allocatable per node, summed, then rounded up
    assert detect['changed'] is False
    assert detect['cluster'] == {'total_nodes': node_count, 'schedulable_nodes': node_count, 'total_cores': cores, 'schedulable_cores': cores}
    assert (detect['expected_replicas'], detect['baseline_replicas'], detect['deployment']['replicas']) == (1, 3, 1)
    assert detect['configmap']['source'] == 'autoscaler --configmap'
    assert detect['finding']['cause'] == 'konnectivity_agent_scaling'
    assert detect['finding']['status'] == 'problem'
    assert ('the ladder gives 1 replica(s) for %d schedulable nodes; the cluster needs at least 3' % node_count) in detect['finding']['summary']
    assert detect['finding']['remediation']['ladder']['nodes_to_replicas'] == DOC_LADDER
    assert any('some cluster sizes get only 1 replica(s)' in w for w in detect['safety_warnings'])
    # The pod side agrees with the ladder (1 replica, as the ladder says) and the read-only user may read everything.
    assert results['agents']['finding']['status'] == 'ok'
    assert results['agents']['expected_replicas'] == 1

    assert results['readonly']['failed'] is True
    assert 'HTTP 403' in results['readonly']['msg'] and 'cannot update resource "configmaps"' in results['readonly']['msg']

    check1 = results['check1']
    assert check1['changed'] is True
    assert check1['new_ladder_json'] == '{"nodesToReplicas":[[1,2],[100,3],[250,4],[500,5],[1000,6],[5000,10]]}'
    assert check1['diff']['before'] == '{"nodesToReplicas":[[1,1]]}\n'
    assert check1['new_expected_replicas'] == 3
    assert 'deployment_after' not in check1

    real1 = results['real1']
    assert real1['changed'] is True
    # What the real run read proves the check-mode run changed nothing on the server.
    assert real1['ladder_json'] == '{"nodesToReplicas":[[1,1]]}' and real1['deployment']['replicas'] == 1
    assert real1['previous_ladder'] == {'coresToReplicas': [], 'nodesToReplicas': [[1, 1]], 'includeUnschedulableNodes': False}
    assert real1['previous_data'] == {'ladder': '{"nodesToReplicas":[[1,1]]}'}
    # The CPA simulation moved konnectivity-agent to the new expected value and the pods are ready.
    assert real1['deployment_after']['replicas'] == 3 and real1['deployment_after']['ready_replicas'] == 3
    assert results['check2']['changed'] is False
    assert results['real2']['changed'] is False
    assert 'resource_version' not in results['real2']

    verify = results['verify']
    assert verify['finding']['status'] == 'ok'
    assert (verify['expected_replicas'], verify['deployment']['replicas'], verify['replicas_agree']) == (3, 3, True)
    assert verify['what_if']['expected_replicas'] == 4
    data = lab.store.get_copy('configmaps', 'kube-system', 'konnectivity-agent-autoscaler')
    assert list(data['data']) == ['ladder']
    assert data['metadata']['labels'] == {'addonmanager.kubernetes.io/mode': 'EnsureExists'}
    assert lab.deployment('konnectivity-agent')['spec']['replicas'] == 3


def test_broken_ladder_is_detected_and_extra_keys_are_only_removed_on_request(kube_lab, tmp_path):
    lab = kube_lab('konnectivity-undersized')
    lab.set_configmap_data('kube-system', 'konnectivity-agent-autoscaler',
                           {'ladder': '{"nodesToReplicas":[[1,3]]}', 'notes': 'raised by hand'})
    ladder = 'aks.tunnel.konnectivity_ladder'
    tasks = [
        {ladder: {}, 'register': 'detect'},
        {ladder: _present(), 'register': 'refused', 'ignore_errors': True},
        {ladder: _present(nodes_to_replicas=[[1, 0]], remove_extra_keys=True), 'register': 'unsafe', 'ignore_errors': True},
        {ladder: _present(remove_extra_keys=True, wait=True, wait_timeout=30), 'register': 'fixed'},
        {ladder: {}, 'register': 'verify'},
    ]
    results = run_playbook(tmp_path, tasks, module_defaults={ladder: {'kubeconfig': lab.admin}})

    detect = results['detect']
    assert detect['cpa_valid'] is False
    assert detect['cpa_errors'] == ['invalid configMap format, expected only one entry, got: map[ladder:{"nodesToReplicas":[[1,3]]} notes:raised by hand]']
    assert detect['expected_replicas'] is None
    assert detect['finding']['status'] == 'problem'
    assert 'CPA refuses ConfigMap kube-system/konnectivity-agent-autoscaler' in detect['finding']['summary']
    assert 'konnectivity-agent stays at 1 replica(s)' in detect['finding']['summary']

    assert results['refused']['failed'] is True
    assert 'ConfigMap data has key(s) notes besides "ladder"' in results['refused']['msg']
    assert results['unsafe']['failed'] is True
    assert 'refusing to write this ladder: nodesToReplicas[0] gives 0 replicas' in results['unsafe']['msg']

    fixed = results['fixed']
    assert fixed['changed'] is True
    assert fixed['removed_keys'] == ['notes']
    assert fixed['previous_data'] == {'ladder': '{"nodesToReplicas":[[1,3]]}', 'notes': 'raised by hand'}
    assert fixed['deployment_after']['replicas'] == 3
    assert results['verify']['cpa_valid'] is True and results['verify']['finding']['status'] == 'ok'
    assert lab.store.get_copy('configmaps', 'kube-system', 'konnectivity-agent-autoscaler')['data'] == {
        'ladder': '{"nodesToReplicas":[[1,2],[100,3],[250,4],[500,5],[1000,6],[5000,10]]}'}
