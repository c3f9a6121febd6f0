# -*- coding: utf-8 -*-
# Copyright (c) 2026 aks.tunnel contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import json

import pytest

from ansible_collections.aks.tunnel.plugins.modules import konnectivity_ladder
from ansible_collections.aks.tunnel.tests.unit.plugins.modules.conftest import api_error, run_module

CM = ('kube-system', 'konnectivity-agent-autoscaler')


def seed(fake, ladder='{"nodesToReplicas":[[1,1]]}', data=None, node_count=5, replicas=1, autoscaler=True, configmap_arg='konnectivity-agent-autoscaler'):
    fake.nodes = [{'metadata': {'name': 'n%d' % i}, 'spec': {}, 'status': {'allocatable': {'cpu': '1900m'}}} for i in range(node_count)]
    fake.configmaps[CM] = {'apiVersion': 'v1', 'kind': 'ConfigMap',
                           'metadata': {'name': CM[1], 'namespace': CM[0], 'resourceVersion': '42', 'labels': {'keep': 'me'},
                                        'annotations': {'note': 'kept'}},
                           'data': data if data is not None else {'ladder': ladder}}
    fake.deployments['konnectivity-agent'] = {'metadata': {'name': 'konnectivity-agent'}, 'spec': {'replicas': replicas},
                                              'status': {'readyReplicas': replicas, 'availableReplicas': replicas}}
    if autoscaler:
        fake.deployments['konnectivity-agent-autoscaler'] = {'metadata': {'name': 'konnectivity-agent-autoscaler'}, 'spec': {'template': {'spec': {
            'containers': [{'name': 'autoscaler', 'args': ['--configmap=%s' % configmap_arg, '--target=deployment/konnectivity-agent']}]}}}}


def writes(fake):
    return [call for call in fake.calls if call[0] in ('replace_configmap', 'create_configmap')]


def test_query_returns_evaluation_and_finding(fake_kube, capsys):
    seed(fake_kube, node_count=1200)
    result = run_module(konnectivity_ladder.main, {'kubeconfig': '/dev/null'}, capsys)
    assert result['changed'] is False
    assert result['finding']['status'] == 'problem'
    assert (result['expected_replicas'], result['baseline_replicas']) == (1, 6)
    assert result['cluster'] == {'total_nodes': 1200, 'schedulable_nodes': 1200, 'total_cores': 2280, 'schedulable_cores': 2280}
    assert result['configmap']['source'] == 'autoscaler --configmap'
    # Nodes are read in pages of 500 (limit/continue).
    assert [c for c in fake_kube.calls if c[0] == 'list_node'] == [('list_node', None), ('list_node', '500'), ('list_node', '1000')]
    assert writes(fake_kube) == []


def test_configmap_name_comes_from_the_autoscaler_or_the_option(fake_kube, capsys):
    seed(fake_kube, configmap_arg='custom-ladder')
    fake_kube.configmaps[('kube-system', 'custom-ladder')] = dict(fake_kube.configmaps[CM], metadata={'name': 'custom-ladder'},
                                                                  data={'ladder': '{"nodesToReplicas":[[1,2]]}'})
    result = run_module(konnectivity_ladder.main, {}, capsys)
    assert result['configmap']['name'] == 'custom-ladder' and result['expected_replicas'] == 2
    result = run_module(konnectivity_ladder.main, {'configmap': 'konnectivity-agent-autoscaler'}, capsys)
    assert result['configmap']['source'] == 'option configmap' and result['expected_replicas'] == 1


@pytest.mark.parametrize('args, message', [
    ({'nodes_to_replicas': [[1, 2]]}, 'nodes_to_replicas / cores_to_replicas need state=present'),
    ({'state': 'present'}, 'state=present needs nodes_to_replicas and/or cores_to_replicas'),
    ({'state': 'present', 'nodes_to_replicas': [[1, 'two']]}, 'nodes_to_replicas[0] replicas must be a whole number, got "two"'),
    ({'state': 'present', 'nodes_to_replicas': [[1, 0]]}, 'refusing to write this ladder: nodesToReplicas[0] gives 0 replicas'),
    ({'state': 'present', 'nodes_to_replicas': [[1, 2], [1, 3]]}, 'refusing to write this ladder: nodesToReplicas has threshold 1 more than once'),
    ({'wait_timeout': 0}, 'wait_timeout must be >= 1, got 0'),
    ({'node_count': -3}, 'node_count must be a whole number >= 0, got -3'),
    ({'state': 'bogus'}, 'value of state must be one of: query, present, got: bogus'),
])
def test_bad_options_fail_clearly(fake_kube, capsys, args, message):
    seed(fake_kube)
    result = run_module(konnectivity_ladder.main, args, capsys)
    assert result['failed'] is True
    assert message in result['msg']
    assert writes(fake_kube) == []


def test_check_mode_reports_the_change_and_writes_nothing(fake_kube, capsys):
    seed(fake_kube, node_count=120)
    result = run_module(konnectivity_ladder.main, {'state': 'present', 'nodes_to_replicas': [[100, 3], [1, 2]],
                                                   '_ansible_check_mode': True, '_ansible_diff': True}, capsys)
    assert result['changed'] is True
    assert result['diff']['before'] == '{"nodesToReplicas":[[1,1]]}\n'
    assert result['diff']['after'] == '{"nodesToReplicas":[[1,2],[100,3]]}\n'
    assert result['new_expected_replicas'] == 3
    assert result['ladder_warnings'] == ['nodesToReplicas is not sorted by threshold; CPA sorts it, and it is written sorted']
    assert 'finding' not in result
    assert writes(fake_kube) == []


def test_write_keeps_everything_else_and_uses_the_read_resource_version(fake_kube, capsys):
    seed(fake_kube, node_count=120)
    result = run_module(konnectivity_ladder.main, {'state': 'present', 'nodes_to_replicas': [[1, 2], [100, 3]], 'cores_to_replicas': []}, capsys)
    assert result['changed'] is True
    assert result['previous_ladder'] == {'coresToReplicas': [], 'nodesToReplicas': [[1, 1]], 'includeUnschedulableNodes': False}
    assert result['previous_data'] == {'ladder': '{"nodesToReplicas":[[1,1]]}'}
    assert result['resource_version'] == '101'
    (_op, _name, body), = writes(fake_kube)
    assert body['metadata']['resourceVersion'] == '42'
    assert body['metadata']['labels'] == {'keep': 'me'} and body['metadata']['annotations'] == {'note': 'kept'}
    assert body['data'] == {'ladder': '{"nodesToReplicas":[[1,2],[100,3]]}'}


def test_semantically_equal_ladder_is_not_rewritten(fake_kube, capsys):
    seed(fake_kube, ladder='{ "nodesToReplicas": [ [100, 3], [1, 2] ], "includeUnschedulableNodes": false }')
    result = run_module(konnectivity_ladder.main, {'state': 'present', 'nodes_to_replicas': [[1, 2], [100, 3]]}, capsys)
    assert result['changed'] is False
    assert writes(fake_kube) == []


def test_extra_keys_are_named_and_removed_only_on_request(fake_kube, capsys):
    seed(fake_kube, data={'ladder': '{"nodesToReplicas":[[1,2]]}', 'notes': 'hand edit'})
    result = run_module(konnectivity_ladder.main, {'state': 'present', 'nodes_to_replicas': [[1, 2]]}, capsys)
    assert result['failed'] is True
    assert 'ConfigMap data has key(s) notes besides "ladder"' in result['msg'] and 'remove_extra_keys=true' in result['msg']
    result = run_module(konnectivity_ladder.main, {'state': 'present', 'nodes_to_replicas': [[1, 2]], 'remove_extra_keys': True}, capsys)
    assert result['changed'] is True and result['removed_keys'] == ['notes']
    assert fake_kube.configmaps[CM]['data'] == {'ladder': '{"nodesToReplicas":[[1,2]]}'}


def test_linear_mode_is_switched_only_on_request(fake_kube, capsys):
    seed(fake_kube, data={'linear': '{"nodesPerReplica":2}'})
    result = run_module(konnectivity_ladder.main, {'state': 'present', 'nodes_to_replicas': [[1, 2]]}, capsys)
    assert result['failed'] is True and 'a "linear" key means linear mode' in result['msg']


def test_missing_configmap_is_created(fake_kube, capsys):
    seed(fake_kube)
    del fake_kube.configmaps[CM]
    result = run_module(konnectivity_ladder.main, {'state': 'present', 'nodes_to_replicas': [[1, 2]]}, capsys)
    assert result['changed'] is True and result['previous_data'] is None and result['previous_ladder'] is None
    assert [call[0] for call in writes(fake_kube)] == ['create_configmap']
    assert fake_kube.configmaps[CM]['data'] == {'ladder': '{"nodesToReplicas":[[1,2]]}'}


def test_conflict_with_unchanged_ladder_is_retried(fake_kube, capsys):
    seed(fake_kube)

    def relabel(fake):
        fake.configmaps[CM]['metadata']['labels'] = {'other': 'writer'}
        fake.configmaps[CM]['metadata']['resourceVersion'] = '43'
    fake_kube.before_replace = relabel
    result = run_module(konnectivity_ladder.main, {'state': 'present', 'nodes_to_replicas': [[1, 2]]}, capsys)
    assert result['changed'] is True
    first, second = writes(fake_kube)
    assert first[2]['metadata']['resourceVersion'] == '42' and second[2]['metadata']['resourceVersion'] == '43'
    assert fake_kube.configmaps[CM]['metadata']['labels'] == {'other': 'writer'}


def test_conflict_with_a_changed_ladder_fails_without_overwriting(fake_kube, capsys):
    seed(fake_kube)

    def edit(fake):
        fake.configmaps[CM]['data'] = {'ladder': '{"nodesToReplicas":[[1,5]]}'}
        fake.configmaps[CM]['metadata']['resourceVersion'] = '43'
    fake_kube.before_replace = edit
    result = run_module(konnectivity_ladder.main, {'state': 'present', 'nodes_to_replicas': [[1, 2]]}, capsys)
    assert result['failed'] is True
    assert 'was changed by someone else while this task was writing it' in result['msg']
    assert result['concurrent_change'] == {'before': {'ladder': '{"nodesToReplicas":[[1,1]]}'}, 'after': {'ladder': '{"nodesToReplicas":[[1,5]]}'}}
    assert len(writes(fake_kube)) == 1
    assert fake_kube.configmaps[CM]['data'] == {'ladder': '{"nodesToReplicas":[[1,5]]}'}


def test_forbidden_write_is_a_clear_failure(fake_kube, capsys):
    seed(fake_kube)
    fake_kube.errors['replace_namespaced_config_map'] = [api_error(403, 'configmaps "konnectivity-agent-autoscaler" is forbidden: '
                                                                        'User "reader" cannot update resource "configmaps"')]
    result = run_module(konnectivity_ladder.main, {'state': 'present', 'nodes_to_replicas': [[1, 2]]}, capsys)
    assert result['failed'] is True and result['status'] == 403
    assert result['msg'].startswith('Failed to write ConfigMap kube-system/konnectivity-agent-autoscaler (HTTP 403): Forbidden: configmaps')
    assert 'grant the Kubernetes RBAC permission' in result['msg']
    assert 'Traceback' not in json.dumps(result)


def test_wait_follows_the_deployment(fake_kube, capsys):
    seed(fake_kube, node_count=120)
    states = iter([1, 3])

    def deployment():
        replicas = next(states, 3)
        return {'metadata': {'name': 'konnectivity-agent'}, 'spec': {'replicas': replicas}, 'status': {'readyReplicas': replicas}}
    reads = {'n': 0}

    original = fake_kube.deployments['konnectivity-agent']

    def dynamic():
        reads['n'] += 1
        return original if reads['n'] == 1 else deployment()
    fake_kube.deployments['konnectivity-agent'] = dynamic
    result = run_module(konnectivity_ladder.main, {'state': 'present', 'nodes_to_replicas': [[1, 2], [100, 3]], 'wait': True,
                                                   'wait_timeout': 5}, capsys)
    assert result['changed'] is True
    assert result['deployment_after']['replicas'] == 3 and result['deployment_after']['ready_replicas'] == 3


def test_wait_timeout_fails_but_says_the_ladder_was_written(fake_kube, capsys):
    seed(fake_kube, node_count=120)
    result = run_module(konnectivity_ladder.main, {'state': 'present', 'nodes_to_replicas': [[1, 2], [100, 3]], 'wait': True,
                                                   'wait_timeout': 1}, capsys)
    assert result['failed'] is True and result['changed'] is True
    assert 'the ladder was written, but kube-system/konnectivity-agent did not reach 3 ready replica(s) within 1 seconds' in result['msg']


def test_what_if_for_the_new_ladder(fake_kube, capsys):
    seed(fake_kube)
    result = run_module(konnectivity_ladder.main, {'state': 'present', 'nodes_to_replicas': [[1, 2], [100, 3]], 'node_count': 150,
                                                   '_ansible_check_mode': True}, capsys)
    assert result['what_if']['expected_replicas'] == 1 and result['what_if']['new_expected_replicas'] == 3
