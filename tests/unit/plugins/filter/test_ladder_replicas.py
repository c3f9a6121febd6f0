# -*- coding: utf-8 -*-
# Copyright (c) 2026 aks.tunnel contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Tests for the aks.tunnel.ladder_replicas filter."""

from __future__ import annotations

import json

import pytest
import yaml

from ansible.errors import AnsibleFilterError

from ansible_collections.aks.tunnel.plugins.filter import ladder_replicas as plugin
from ansible_collections.aks.tunnel.plugins.filter.ladder_replicas import FilterModule, ladder_replicas

AKS_DOC = '{"nodesToReplicas":[[1,2],[100,3],[250,4],[500,5],[1000,6],[5000,10]]}'
UPSTREAM_ENTRIES = [[1, 1], [2, 2], [3, 3], [4, 4], [10, 10], [20, 20]]


def test_filter_is_registered():
    assert FilterModule().filters() == {'ladder_replicas': ladder_replicas}


def test_documentation_is_valid_yaml():
    doc = yaml.safe_load(plugin.DOCUMENTATION)
    assert doc['name'] == 'ladder_replicas'
    assert set(doc['options']) == {'_input', 'nodes', 'cores', 'schedulable_nodes', 'schedulable_cores'}
    assert yaml.safe_load(plugin.RETURN)['_value']['type'] == 'int'
    assert isinstance(yaml.safe_load(plugin.EXAMPLES), list)


@pytest.mark.parametrize('nodes, replicas', [
    (0, 2), (1, 2), (99, 2), (100, 3), (249, 3), (250, 4), (500, 5), (999, 5), (1000, 6), (5000, 10), (9999, 10),
])
def test_aks_documented_ladder(nodes, replicas):
    assert ladder_replicas(AKS_DOC, nodes=nodes, cores=nodes * 4) == replicas


@pytest.mark.parametrize('count, replicas', [
    (0, 1), (1, 1), (2, 2), (3, 3), (4, 4), (6, 4), (10, 10), (11, 10), (19, 10), (20, 20), (21, 20), (40, 20),
])
def test_upstream_scaler_table(count, replicas):
    assert ladder_replicas({'nodesToReplicas': UPSTREAM_ENTRIES}, nodes=count, cores=0) == replicas
    assert ladder_replicas(json.dumps({'coresToReplicas': UPSTREAM_ENTRIES}), nodes=0, cores=count) == replicas


@pytest.mark.parametrize('include, nodes, sched_nodes, cores, sched_cores, replicas', [
    (True, 3, 2, 12, 8, 3),
    (False, 3, 1, 12, 4, 1),
])
def test_upstream_unschedulable_table(include, nodes, sched_nodes, cores, sched_cores, replicas):
    document = {'nodesToReplicas': [[0, 0], [1, 1], [2, 2], [3, 3]], 'coresToReplicas': [[0, 0], [4, 1], [8, 2], [12, 3]],
                'includeUnschedulableNodes': include}
    assert ladder_replicas(document, nodes=nodes, cores=cores, schedulable_nodes=sched_nodes, schedulable_cores=sched_cores) == replicas


@pytest.mark.parametrize('ladder, kwargs, replicas', [
    pytest.param(AKS_DOC, {'nodes': 150, 'cores': 600, 'schedulable_nodes': 90}, 2, id='schedulable-nodes-used'),
    pytest.param(AKS_DOC, {'nodes': 150, 'cores': 600}, 3, id='schedulable-defaults-to-total'),
    pytest.param(AKS_DOC.replace('}', ',"includeUnschedulableNodes":true}'), {'nodes': 150, 'cores': 600, 'schedulable_nodes': 90}, 3,
                 id='include-unschedulable-uses-total'),
    pytest.param('{}', {'nodes': 10, 'cores': 40}, 0, id='empty-ladder-zero'),
    pytest.param('{"nodesToReplicas":[[5,3]]}', {'nodes': 1, 'cores': 4}, 3, id='below-first-threshold'),
    pytest.param('{"nodesToReplicas":[[1,2]],"coresToReplicas":[[1,1],[64,4]]}', {'nodes': 3, 'cores': 100}, 4, id='max-of-both'),
    pytest.param('{"nodesToReplicas":[[1,5],[10,2]]}', {'nodes': 20, 'cores': 4}, 2, id='non-monotonic-literal'),
    pytest.param('{"NodesToReplicas":[[1,2],[3,4,5]],"note":"x"}', {'nodes': 3, 'cores': 0}, 4, id='go-json-leniency'),
    pytest.param(AKS_DOC, {'nodes': '120', 'cores': '480'}, 3, id='digit-strings'),
    pytest.param(AKS_DOC, {'nodes': ' 120 ', 'cores': 480, 'schedulable_nodes': '99'}, 2, id='digit-strings-schedulable'),
])
def test_filter_values(ladder, kwargs, replicas):
    result = ladder_replicas(ladder, **kwargs)
    assert result == replicas
    assert isinstance(result, int)


@pytest.mark.parametrize('ladder, kwargs, message', [
    pytest.param(None, {'nodes': 1, 'cores': 1}, 'the ladder is empty', id='none'),
    pytest.param('  ', {'nodes': 1, 'cores': 1}, 'the ladder is empty', id='blank'),
    pytest.param('{"nodesToReplicas":[[1.5,2]]}', {'nodes': 1, 'cores': 1},
                 'cannot unmarshal number 1.5 into Go struct field ladderParams.nodesToReplicas of type int', id='float'),
    pytest.param('{"nodesToReplicas":[[1,2]],}', {'nodes': 1, 'cores': 1}, 'could not parse parameters (invalid JSON', id='syntax'),
    pytest.param('{"nodesToReplicas":[[-1,2]]}', {'nodes': 1, 'cores': 1},
                 'invalid negative values in entry [-1 2] in nodes_to_replicas_map', id='negative'),
    pytest.param('{"includeUnschedulableNodes":"true"}', {'nodes': 1, 'cores': 1}, 'of type bool', id='string-bool'),
    pytest.param('[[1,2]]', {'nodes': 1, 'cores': 1}, 'cannot unmarshal array into Go value', id='not-object'),
    pytest.param(42, {'nodes': 1, 'cores': 1}, 'must be a JSON string or a mapping', id='int-ladder'),
    pytest.param(AKS_DOC, {'cores': 1}, 'nodes is required', id='missing-nodes'),
    pytest.param(AKS_DOC, {'nodes': 1}, 'cores is required', id='missing-cores'),
    pytest.param(AKS_DOC, {'nodes': -1, 'cores': 1}, 'nodes must be a whole number of 0 or more, got -1', id='negative-nodes'),
    pytest.param(AKS_DOC, {'nodes': True, 'cores': 1}, 'nodes must be a whole number, got the boolean True', id='bool-nodes'),
    pytest.param(AKS_DOC, {'nodes': 1.5, 'cores': 1}, 'nodes must be a whole number of 0 or more, got 1.5', id='float-nodes'),
    pytest.param(AKS_DOC, {'nodes': 'many', 'cores': 1}, "nodes must be a whole number of 0 or more, got 'many'", id='word-nodes'),
    pytest.param(AKS_DOC, {'nodes': 3, 'cores': 1, 'schedulable_cores': '-1'}, 'schedulable_cores must be a whole number', id='neg-string'),
])
def test_filter_errors(ladder, kwargs, message):
    with pytest.raises(AnsibleFilterError) as info:
        ladder_replicas(ladder, **kwargs)
    assert message in str(info.value)
    assert str(info.value).startswith('ladder_replicas: ')


def test_filter_error_explains_cpa_consequence():
    with pytest.raises(AnsibleFilterError) as info:
        ladder_replicas('{"nodesToReplicas":[[1,"2"]]}', nodes=1, cores=1)
    assert 'until then CPA keeps the target at its current replica count' in str(info.value)
