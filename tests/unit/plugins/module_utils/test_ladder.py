# -*- coding: utf-8 -*-
# Copyright (c) 2026 aks.tunnel contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Tests for the CPA v1.9.0 ladder/linear engine.

Sections mirror the upstream cluster-proportional-autoscaler test tables
(ladder_controller_test.go, linear_controller_test.go, plugin_test.go,
autoscaler_test.go) as transcribed in shared/reference, then Go encoding/json
and sort.Sort behaviour (fixture produced by Go 1.19), then our own helpers.
"""

from __future__ import annotations

import json
import os
from fractions import Fraction

import pytest

from ansible_collections.aks.tunnel.plugins.module_utils import _ladder as ladder
from ansible_collections.aks.tunnel.plugins.module_utils._ladder import (
    AKS_DOC_EXAMPLE_LADDER,
    LadderError,
    QuantityError,
    ScalerParams,
    aks_doc_example_ladder,
    cluster_status,
    compute_replicas,
    decode_ladder_json,
    entries_replicas,
    go_sort_entries,
    ladder_replicas,
    ladder_steps,
    ladders_equal,
    linear_replicas,
    parse_configmap_data,
    parse_cpu_quantity,
    parse_ladder,
    parse_linear,
    render_ladder,
    sum_allocatable_cores,
    validate_ladder_for_write,
)

FIXTURE = os.path.join(os.path.dirname(__file__), 'fixtures', 'ladder', 'go119_decode_and_sort.json')
with open(FIXTURE, encoding='utf-8') as _handle:
    GO_CASES = json.load(_handle)['cases']

UPSTREAM_SORTED = [[1, 1], [2, 2], [3, 3], [512, 5], [1024, 7], [2048, 10], [4096, 15], [8192, 20],
                   [12288, 30], [16384, 40], [20480, 50], [24576, 60], [28672, 70], [32768, 80], [65535, 100]]


def _ladder_data(document):
    return {'ladder': json.dumps(document)}


# ---------------------------------------------------------------------------
# Upstream ladder_controller_test.go
# ---------------------------------------------------------------------------

P5_ENTRIES = [[0, 0], [1, 0], [2, 2], [3, 3], [512, 5], [1024, 7], [2048, 10], [4096, 15], [8192, 20],
              [12288, 30], [16384, 40], [20480, 50], [24576, 60], [28672, 70], [65535, 100], [32768, 80]]


@pytest.mark.parametrize('text, expected', [
    pytest.param('{ "coresToReplicas" : [ [1,1] ] }',
                 {'coresToReplicas': [[1, 1]], 'nodesToReplicas': [], 'includeUnschedulableNodes': False}, id='P1-ok'),
    pytest.param('{ "coresToReplicas" : {{ 1:1 } }', None, id='P2-invalid-json'),
    pytest.param('{ "coresToReplicas" : [[ "1, "a"]] }', None, id='P3-invalid-string'),
    pytest.param('{ "coresToReplicas" : [[:-200]] }', None, id='P4-syntax-error'),
    pytest.param(json.dumps({'coresToReplicas': P5_ENTRIES}),
                 {'coresToReplicas': P5_ENTRIES, 'nodesToReplicas': [], 'includeUnschedulableNodes': False}, id='P5-parse-keeps-order'),
    pytest.param('{"coresToReplicas": [[0,0],[1,0],[2,2],[3,3]], "nodesToReplicas": [[1,1],[2,2],[3,3]], "includeUnschedulableNodes": true}',
                 {'coresToReplicas': [[0, 0], [1, 0], [2, 2], [3, 3]], 'nodesToReplicas': [[1, 1], [2, 2], [3, 3]],
                  'includeUnschedulableNodes': True}, id='P6-include-unschedulable'),
])
def test_upstream_ladder_parser(text, expected):
    if expected is None:
        with pytest.raises(LadderError) as info:
            decode_ladder_json(text)
        assert 'error parsing ladder params: could not parse parameters (' in str(info.value)
    else:
        assert decode_ladder_json(text) == expected


@pytest.mark.parametrize('entries', [
    pytest.param([[2, 2], [3, 3], [512, 5], [1024, 7], [20480, 50], [4096, 15], [2048, 10], [8192, 20], [65535, 100],
                  [16384, 40], [12288, 30], [1, 1], [24576, 60], [32768, 80], [28672, 70]], id='shuffled'),
    pytest.param(list(reversed(UPSTREAM_SORTED)), id='reversed'),
])
def test_upstream_ladder_sorter(entries):
    assert go_sort_entries(entries) == UPSTREAM_SORTED
    assert parse_ladder({'coresToReplicas': entries})['coresToReplicas'] == UPSTREAM_SORTED


SCALER_ENTRIES = [[1, 1], [2, 2], [3, 3], [4, 4], [10, 10], [20, 20]]


@pytest.mark.parametrize('count, replicas', [
    (0, 1), (1, 1), (2, 2), (3, 3), (4, 4), (6, 4), (10, 10), (11, 10), (19, 10), (20, 20), (21, 20), (40, 20),
])
def test_upstream_ladder_scaler(count, replicas):
    assert entries_replicas(count, SCALER_ENTRIES) == replicas
    # The same through the whole engine, on either list.
    assert ladder_replicas({'coresToReplicas': SCALER_ENTRIES}, nodes=0, cores=count) == replicas
    assert ladder_replicas({'nodesToReplicas': SCALER_ENTRIES}, nodes=count, cores=0) == replicas


@pytest.mark.parametrize('entries', [[[0, 0], [3, 3]], [[1, 0], [3, 3]]], ids=['from-0', 'from-1'])
@pytest.mark.parametrize('count, replicas', [(0, 0), (1, 0), (2, 0), (3, 3), (4, 3)])
def test_upstream_ladder_scaler_from_zero(entries, count, replicas):
    assert entries_replicas(count, entries) == replicas


@pytest.mark.parametrize('include, total_nodes, sched_nodes, total_cores, sched_cores, replicas', [
    (True, 3, 2, 12, 8, 3),
    (False, 3, 1, 12, 4, 1),
])
def test_upstream_ladder_unschedulable(include, total_nodes, sched_nodes, total_cores, sched_cores, replicas):
    document = {'nodesToReplicas': [[0, 0], [1, 1], [2, 2], [3, 3]], 'coresToReplicas': [[0, 0], [4, 1], [8, 2], [12, 3]],
                'includeUnschedulableNodes': include}
    assert ladder_replicas(document, total_nodes, total_cores, sched_nodes, sched_cores) == replicas
    assert compute_replicas(_ladder_data(document), total_nodes, total_cores, sched_nodes, sched_cores) == replicas


# ---------------------------------------------------------------------------
# Upstream linear_controller_test.go
# ---------------------------------------------------------------------------

@pytest.mark.parametrize('text, error', [
    pytest.param('{"coresPerReplica": 2, "nodesPerReplica": 1, "min": 1, "max": 100, "preventSinglePointFailure": true, '
                 '"includeUnschedulableNodes": true}', None, id='L1-ok'),
    pytest.param('{"coresPerReplica": 2, "nodesPerReplica": 1, "min": 1, "max": 100,}', 'could not parse parameters', id='L2-trailing-comma'),
    pytest.param('{"coresPerReplica": {{ 1:1 } }', 'could not parse parameters', id='L3-invalid-json'),
    pytest.param('{"coresPerReplica": "whatisthis"', 'could not parse parameters', id='L4-string'),
    pytest.param('{"nodesPerReplica": -20}', 'invalid negative value for nodesPerReplica: -20', id='L5-negative'),
    pytest.param('{"nodesPerReplica": 1, "min": 100, "max": 50}',
                 'max replicas count 50 should be greater than / equal to min replicas count 100', id='L6-max-below-min'),
    pytest.param('{"min": 1, "max": 100}', 'should at least provide either CoresPerReplica or NodesPerReplica (Greater than 0)', id='L7-no-per-replica'),
    pytest.param('{"coresPerReplica": 2, "preventSinglePointFailure": invalid, "min": 1}', 'could not parse parameters', id='L8-bad-pspf'),
    pytest.param('{"coresPerReplica": 2, "includeUnschedulableNodes": invalid, "min": 1}', 'could not parse parameters', id='L9-bad-iun'),
])
def test_upstream_linear_parser(text, error):
    if error is None:
        assert parse_linear(text) == {'coresPerReplica': 2.0, 'nodesPerReplica': 1.0, 'min': 1, 'max': 100,
                                      'preventSinglePointFailure': True, 'includeUnschedulableNodes': True}
    else:
        with pytest.raises(LadderError) as info:
            parse_linear(text)
        assert info.value.cpa_message.startswith('Error syncing configMap with controller: error parsing linear params: ')
        assert error in info.value.cpa_message


@pytest.mark.parametrize('cores, replicas', [
    (0, 2), (1, 2), (2, 2), (3, 2), (4, 2), (6, 3), (10, 5), (11, 6), (19, 10), (20, 10), (21, 11), (30, 15), (40, 20),
])
def test_upstream_linear_single_param(cores, replicas):
    params = '{"coresPerReplica": 2, "min": 2, "max": 100}'
    assert linear_replicas(params, nodes=0, cores=cores) == replicas


@pytest.mark.parametrize('cores, nodes, replicas', [
    (0, 0, 1), (1, 2, 2), (2, 3, 2), (3, 4, 2), (4, 4, 2), (6, 4, 3), (6, 5, 3), (8, 5, 4), (8, 15, 6), (8, 16, 7),
    (19, 21, 10), (23, 20, 12), (26, 38, 16), (30, 49, 20), (40, 20, 20),
])
def test_upstream_linear_multiple_params(cores, nodes, replicas):
    params = {'coresPerReplica': 2, 'nodesPerReplica': 2.5, 'min': 1, 'max': 100,
              'preventSinglePointFailure': True, 'includeUnschedulableNodes': False}
    # Schedulable counts are what the upstream test passes; totals are larger and must be ignored.
    assert linear_replicas(params, nodes=nodes + 7, cores=cores + 70, schedulable_nodes=nodes, schedulable_cores=cores) == replicas


@pytest.mark.parametrize('sched_cores, sched_nodes, total, replicas', [
    (0, 0, 0, 1), (1, 1, 1, 1), (2, 2, 2, 2), (4, 4, 4, 2), (2, 2, 4, 2), (8, 8, 8, 4), (6, 6, 8, 4), (21, 21, 210, 100),
])
def test_upstream_linear_unschedulable(sched_cores, sched_nodes, total, replicas):
    params = {'coresPerReplica': 2, 'nodesPerReplica': 2, 'min': 1, 'max': 100,
              'preventSinglePointFailure': True, 'includeUnschedulableNodes': True}
    assert linear_replicas(params, nodes=total, cores=total, schedulable_nodes=sched_nodes, schedulable_cores=sched_cores) == replicas


# ---------------------------------------------------------------------------
# Upstream plugin_test.go and autoscaler_test.go
# ---------------------------------------------------------------------------

@pytest.mark.parametrize('data, message', [
    ({'invalidmode': ''}, 'not a supported control mode: invalidmode'),
    ({'toomanyentries1': '', 'toomanyentries2': ''}, 'invalid configMap format, expected only one entry, got: map[toomanyentries1: toomanyentries2:]'),
    ({'linear': '{"nodesPerReplica":1}'}, None),
])
def test_upstream_ensure_controller(data, message):
    if message is None:
        assert parse_configmap_data(data) == ScalerParams('linear', {
            'coresPerReplica': 0.0, 'nodesPerReplica': 1.0, 'min': 1, 'max': 0,
            'preventSinglePointFailure': False, 'includeUnschedulableNodes': False})
    else:
        with pytest.raises(LadderError) as info:
            parse_configmap_data(data)
        assert info.value.cpa_message == message


LADDER_A = {'coresToReplicas': [[1, 1], [2, 2], [3, 3], [512, 5], [1024, 7], [2048, 10], [4096, 15], [8192, 20], [12288, 30],
                                [16384, 40], [20480, 50], [24576, 60], [28672, 70], [32768, 80], [65535, 100]],
            'nodesToReplicas': [[1, 1], [2, 2]]}
LADDER_B = {'coresToReplicas': [[1, 1], [2, 2], [3, 4], [512, 5], [1024, 7], [2048, 10], [4096, 15], [8192, 20], [12288, 30],
                                [16384, 40], [20480, 50], [24576, 60], [28672, 70], [32768, 80], [65535, 200]],
            'nodesToReplicas': [[1, 1], [2, 2]]}
LINEAR_C = {'coresPerReplica': 100, 'nodesPerReplica': 10, 'min': 1, 'max': 100}


@pytest.mark.parametrize('data, cores, nodes, replicas', [
    pytest.param({'ladder': json.dumps(LADDER_A)}, 0, 0, 1, id='1'),
    pytest.param({'ladder': json.dumps(LADDER_A)}, 800, 1, 5, id='2'),
    pytest.param({'ladder': json.dumps(LADDER_A)}, 1, 3, 2, id='3'),
    pytest.param({'ladder': json.dumps(LADDER_A)}, 200000, 50000, 100, id='4'),
    pytest.param({'ladder': json.dumps(LADDER_B)}, 200000, 50000, 200, id='5'),
    pytest.param({'ladder': json.dumps(LADDER_B)}, 500, 100, 4, id='6'),
    pytest.param({'ladder': json.dumps(LADDER_B)}, 2000, 400, 7, id='7'),
    pytest.param({'linear': json.dumps(LINEAR_C)}, 2000, 400, 40, id='8'),
    pytest.param({'linear': json.dumps(LINEAR_C)}, 1600, 100, 16, id='9'),
    pytest.param({'linear': json.dumps(LINEAR_C)}, 100000, 20000, 100, id='10'),
])
def test_upstream_run_scenario(data, cores, nodes, replicas):
    assert compute_replicas(data, nodes, cores) == replicas


# ---------------------------------------------------------------------------
# Derived edge cases (reference 2.12), README examples, the AKS example ladder
# ---------------------------------------------------------------------------

@pytest.mark.parametrize('text, nodes, cores, replicas', [
    ('{}', 0, 0, 0),
    ('{}', 5000, 20000, 0),
    ('null', 10, 40, 0),
    ('{"nodesToReplicas":[[5,3]]}', 1, 4, 3),
    ('{"nodesToReplicas":[[10,3],[10,5]]}', 10, 4, 5),
    ('{"nodesToReplicas":[[10,3],[10,5]]}', 0, 4, 3),
    ('{"nodesToReplicas":[[1,5],[10,2]]}', 20, 4, 2),
    ('{"nodesToReplicas":[[1,2]],"coresToReplicas":[[1,1],[64,4]]}', 3, 100, 4),
    ('{"coresToReplicas":[[1,1],[64,3],[512,5],[1024,7],[2048,10],[4096,15]],"nodesToReplicas":[[1,1],[2,2]]}', 100, 400, 3),
    ('{"nodesToReplicas":[[5]]}', 5, 0, 0),
    ('{"nodesToReplicas":[[0, 4294967298]]}', 1, 0, 2),
    ('{"nodesToReplicas":[[0, 2147483648]]}', 1, 0, -2147483648),
])
def test_derived_ladder_cases(text, nodes, cores, replicas):
    assert compute_replicas({'ladder': text}, nodes, cores) == replicas


@pytest.mark.parametrize('text, nodes, cores, replicas', [
    ('{"coresPerReplica":100,"min":1,"max":1,"preventSinglePointFailure":true}', 3, 4, 2),
    ('{"coresPerReplica":2,"nodesPerReplica":1}', 4, 13, 7),
    ('{"coresPerReplica":2,"nodesPerReplica":1,"preventSinglePointFailure":true}', 1, 0, 1),
    ('{"coresPerReplica":100,"preventSinglePointFailure":true}', 2, 4, 2),
    ('{"nodesPerReplica":3,"min":5}', 0, 0, 5),
    ('{"coresPerReplica":0.5,"max":3}', 0, 100, 3),
    ('{"coresPerReplica":1e-320}', 1, 5, 1),
    ('{"coresPerReplica":1e-320,"min":3}', 1, 0, 3),
])
def test_derived_linear_cases(text, nodes, cores, replicas):
    assert compute_replicas({'linear': text}, nodes, cores) == replicas


@pytest.mark.parametrize('nodes, replicas', [
    (0, 2), (1, 2), (99, 2), (100, 3), (249, 3), (250, 4), (499, 4), (500, 5), (999, 5), (1000, 6), (4999, 6), (5000, 10), (100000, 10),
])
def test_aks_doc_example_ladder(nodes, replicas):
    assert ladder_replicas(AKS_DOC_EXAMPLE_LADDER, nodes=nodes, cores=nodes * 4) == replicas
    assert compute_replicas({'ladder': render_ladder(AKS_DOC_EXAMPLE_LADDER)}, nodes, nodes * 4) == replicas


def test_aks_doc_example_ladder_copy_is_independent():
    copy = aks_doc_example_ladder()
    assert copy == AKS_DOC_EXAMPLE_LADDER
    copy['nodesToReplicas'][0][1] = 99
    assert AKS_DOC_EXAMPLE_LADDER['nodesToReplicas'][0] == [1, 2]
    assert ladder.AKS_CONFIGMAP_NAME == 'konnectivity-agent-autoscaler'
    assert ladder.AKS_CONFIGMAP_NAMESPACE == 'kube-system'
    assert ladder.AKS_LADDER_DATA_KEY == 'ladder'


# ---------------------------------------------------------------------------
# Schedulable vs includeUnschedulableNodes
# ---------------------------------------------------------------------------

@pytest.mark.parametrize('include, nodes, sched_nodes, replicas', [
    (False, 150, 90, 2),
    (True, 150, 90, 3),
    (False, 150, None, 3),
    (True, 150, None, 3),
    (False, 100, 0, 2),
])
def test_schedulable_counts(include, nodes, sched_nodes, replicas):
    document = dict(AKS_DOC_EXAMPLE_LADDER, includeUnschedulableNodes=include)
    assert ladder_replicas(document, nodes=nodes, cores=nodes * 2, schedulable_nodes=sched_nodes) == replicas


def test_cores_side_uses_schedulable_cores():
    document = {'coresToReplicas': [[0, 1], [100, 5]]}
    assert ladder_replicas(document, nodes=10, cores=120, schedulable_cores=90) == 1
    assert ladder_replicas(dict(document, includeUnschedulableNodes=True), nodes=10, cores=120, schedulable_cores=90) == 5


# ---------------------------------------------------------------------------
# Go encoding/json and sort.Sort behaviour (fixture produced by Go 1.19)
# ---------------------------------------------------------------------------

@pytest.mark.parametrize('case', [case for case in GO_CASES if case['kind'] == 'ladder'], ids=lambda case: case['input'])
def test_go_decode_fixture(case):
    if case['go_error']:
        with pytest.raises(LadderError) as info:
            decode_ladder_json(case['input'])
        assert info.value.cpa_message == ('Error syncing configMap with controller: error parsing ladder params: '
                                          'could not parse parameters (%s)' % case['go_error'])
    else:
        expected = case['go_value']
        assert decode_ladder_json(case['input']) == {
            'coresToReplicas': expected['coresToReplicas'] or [],
            'nodesToReplicas': expected['nodesToReplicas'] or [],
            'includeUnschedulableNodes': expected['includeUnschedulableNodes'],
        }


@pytest.mark.parametrize('case', [case for case in GO_CASES if case['kind'] == 'sort'], ids=lambda case: case['input'][:40])
def test_go_sort_fixture(case):
    assert go_sort_entries(json.loads(case['input'])) == case['go_value']


def test_go_sort_is_not_stable_above_twelve_entries():
    fourteen = [[3, 1], [1, 1], [2, 1], [1, 2], [2, 2], [3, 2], [1, 3], [2, 3], [3, 3], [1, 4], [2, 4], [3, 4], [1, 5], [2, 5]]
    # Go 1.19 sort.Sort output (pdqsort): equal thresholds are reordered.
    assert go_sort_entries(fourteen) == [[1, 3], [1, 5], [1, 2], [1, 1], [1, 4], [2, 1], [2, 2], [2, 5], [2, 3], [2, 4],
                                         [3, 1], [3, 4], [3, 3], [3, 2]]
    # So at 1 node CPA uses [1, 4] (a stable sort would say 5), at 0 nodes [1, 3].
    assert ladder_replicas({'nodesToReplicas': fourteen}, nodes=1, cores=0) == 4
    assert ladder_replicas({'nodesToReplicas': fourteen}, nodes=0, cores=0) == 3
    twelve = [[10, replicas] for replicas in range(12, 0, -1)]
    assert go_sort_entries(twelve) == twelve  # insertion sort (stable) up to 12 entries


@pytest.mark.parametrize('text, expected', [
    ('{"NODESTOREPLICAS":[[1,2]],"CoresToReplicas":[[3,4]]}', ([[3, 4]], [[1, 2]], False)),
    ('{"nodesToReplicas":[[1,2]],"foo":1,"bar":{"x":[1.5]}}', ([], [[1, 2]], False)),
    ('{"nodesToReplicas":[[1,2]],"nodesToReplicas":[[7,8]]}', ([], [[7, 8]], False)),
    ('{"nodesToReplicas":null,"coresToReplicas":null}', ([], [], False)),
    ('{}', ([], [], False)),
    ('null', ([], [], False)),
    ('  {"nodesToReplicas":[[1,2,3]]}\n', ([], [[1, 2]], False)),
    ('{"nodesToReplicas":[[5]]}', ([], [[5, 0]], False)),
    ('{"nodesToReplicas":[[]]}', ([], [[0, 0]], False)),
    ('{"nodesToReplicas":[[null,2]]}', ([], [[0, 2]], False)),
    ('{"nodesToReplicas":[null]}', ([], [[0, 0]], False)),
    ('{"nodesToReplicas":[[0,0]]}', ([], [[0, 0]], False)),
    ('{"nodesToReplicas":[[3000000000,1]]}', ([], [[3000000000, 1]], False)),
    ('{"includeUnschedulableNodes":false}', ([], [], False)),
    ('{"IncludeUnschedulableNodes":true}', ([], [], True)),
])
def test_go_decode_accepts(text, expected):
    params = decode_ladder_json(text)
    assert (params['coresToReplicas'], params['nodesToReplicas'], params['includeUnschedulableNodes']) == expected


@pytest.mark.parametrize('text, detail', [
    ('{"nodesToReplicas":[[1.5,2]]}', 'json: cannot unmarshal number 1.5 into Go struct field ladderParams.nodesToReplicas of type int'),
    ('{"nodesToReplicas":[[1.0,2]]}', 'json: cannot unmarshal number 1.0 into Go struct field ladderParams.nodesToReplicas of type int'),
    ('{"nodesToReplicas":[[1e2,2]]}', 'json: cannot unmarshal number 1e2 into Go struct field ladderParams.nodesToReplicas of type int'),
    ('{"nodesToReplicas":[["1",2]]}', 'json: cannot unmarshal string into Go struct field ladderParams.nodesToReplicas of type int'),
    ('{"nodesToReplicas":[[true,2]]}', 'json: cannot unmarshal bool into Go struct field ladderParams.nodesToReplicas of type int'),
    ('{"nodesToReplicas":[1,2]}',
     'json: cannot unmarshal number into Go struct field ladderParams.nodesToReplicas of type laddercontroller.paramEntry'),
    ('{"coresToReplicas":{}}',
     'json: cannot unmarshal object into Go struct field ladderParams.coresToReplicas of type laddercontroller.paramEntries'),
    ('{"nodesToReplicas":[[99999999999999999999,1]]}',
     'json: cannot unmarshal number 99999999999999999999 into Go struct field ladderParams.nodesToReplicas of type int'),
    ('{"nodesToReplicas":[[%s,1]]}' % ('9' * 5000),
     'json: cannot unmarshal number %s into Go struct field ladderParams.nodesToReplicas of type int' % ('9' * 5000)),
    ('{"nodesToReplicas":[[9223372036854775808,1]]}',
     'json: cannot unmarshal number 9223372036854775808 into Go struct field ladderParams.nodesToReplicas of type int'),
    ('{"includeUnschedulableNodes":"true"}',
     'json: cannot unmarshal string into Go struct field ladderParams.includeUnschedulableNodes of type bool'),
    ('{"includeUnschedulableNodes":1}',
     'json: cannot unmarshal number into Go struct field ladderParams.includeUnschedulableNodes of type bool'),
    ('[[1,2]]', 'json: cannot unmarshal array into Go value of type laddercontroller.ladderParams'),
    ('"x"', 'json: cannot unmarshal string into Go value of type laddercontroller.ladderParams'),
    ('', 'unexpected end of JSON input'),
    ('   ', 'unexpected end of JSON input'),
    ('{"nodesToReplicas":[[1,2]], "x": NaN}', "invalid character 'N' looking for beginning of value"),
    ('{"nodesToReplicas":[[1,2]], "x": -Infinity}', "invalid character 'I' in numeric literal"),
    ('{"nodesToReplicas":[[1,2]],}', 'invalid JSON: '),
    ('{"nodesToReplicas":[[1,2]]} trailing', 'invalid JSON: '),
])
def test_go_decode_refuses(text, detail):
    with pytest.raises(LadderError) as info:
        decode_ladder_json(text)
    prefix = 'Error syncing configMap with controller: error parsing ladder params: could not parse parameters ('
    assert info.value.cpa_message.startswith(prefix + detail)
    assert 'until then CPA keeps the target at its current replica count' in str(info.value)
    assert 'Fix the ladder JSON' in str(info.value)


@pytest.mark.parametrize('text, message', [
    ('{"coresToReplicas":[[-1,2]]}', 'invalid negative values in entry [-1 2] in cores_to_replicas_map'),
    ('{"nodesToReplicas":[[1,-2]]}', 'invalid negative values in entry [1 -2] in nodes_to_replicas_map'),
    ('{"nodesToReplicas":[[1,2]],"coresToReplicas":[[-5,1]]}', 'invalid negative values in entry [-5 1] in cores_to_replicas_map'),
    ('{"nodesToReplicas":[[-9223372036854775808,1]]}', 'invalid negative values in entry [-9223372036854775808 1] in nodes_to_replicas_map'),
])
def test_negative_values_refused(text, message):
    with pytest.raises(LadderError) as info:
        compute_replicas({'ladder': text}, 1, 1)
    assert info.value.cpa_message == 'Error syncing configMap with controller: error parsing ladder params: ' + message


@pytest.mark.parametrize('text, detail', [
    ('{"coresPerReplica":"a"}', 'json: cannot unmarshal string into Go struct field linearParams.coresPerReplica of type float64'),
    ('{"coresPerReplica":1e400}', 'json: cannot unmarshal number 1e400 into Go struct field linearParams.coresPerReplica of type float64'),
    ('{"coresPerReplica":2,"min":1.0}', 'json: cannot unmarshal number 1.0 into Go struct field linearParams.min of type int'),
    ('{"coresPerReplica":2,"max":"1"}', 'json: cannot unmarshal string into Go struct field linearParams.max of type int'),
    ('{"coresPerReplica":2,"preventSinglePointFailure":1}',
     'json: cannot unmarshal number into Go struct field linearParams.preventSinglePointFailure of type bool'),
    ('[]', 'json: cannot unmarshal array into Go value of type linearcontroller.linearParams'),
])
def test_linear_decode_refuses(text, detail):
    with pytest.raises(LadderError) as info:
        parse_linear(text)
    assert info.value.cpa_message == 'Error syncing configMap with controller: error parsing linear params: could not parse parameters (%s)' % detail


@pytest.mark.parametrize('text, message', [
    ('{"coresPerReplica":2,"min":-1}', 'invalid negative value for min: -1'),
    ('{"coresPerReplica":-2.5}', 'invalid negative value for coresPerReplica: -2.5'),
    ('{"coresPerReplica":-1234567}', 'invalid negative value for coresPerReplica: -1.234567e+06'),
    ('{"coresPerReplica":2,"nodesPerReplica":-0.00001}', 'invalid negative value for nodesPerReplica: -1e-05'),
    ('{"nodesPerReplica":1,"min":3,"max":2}', 'max replicas count 2 should be greater than / equal to min replicas count 3'),
    ('{"coresPerReplica":0,"nodesPerReplica":-0}', 'should at least provide either CoresPerReplica or NodesPerReplica (Greater than 0)'),
    ('{"coresPerReplica":-1,"min":-1}', 'invalid negative value for min: -1'),
])
def test_linear_validation_messages(text, message):
    with pytest.raises(LadderError) as info:
        parse_linear(text)
    assert info.value.cpa_message == 'Error syncing configMap with controller: error parsing linear params: ' + message


@pytest.mark.parametrize('text, expected', [
    ('{"nodesPerReplica":1}', {'coresPerReplica': 0.0, 'nodesPerReplica': 1.0, 'min': 1, 'max': 0,
                               'preventSinglePointFailure': False, 'includeUnschedulableNodes': False}),
    ('{"NodesPerReplica":2.5,"MIN":3,"max":0,"extra":"x"}', {'coresPerReplica': 0.0, 'nodesPerReplica': 2.5, 'min': 3, 'max': 0,
                                                             'preventSinglePointFailure': False, 'includeUnschedulableNodes': False}),
    ('{"coresPerReplica":1e2,"min":null}', {'coresPerReplica': 100.0, 'nodesPerReplica': 0.0, 'min': 1, 'max': 0,
                                            'preventSinglePointFailure': False, 'includeUnschedulableNodes': False}),
])
def test_linear_decode_accepts(text, expected):
    assert parse_linear(text) == expected


# ---------------------------------------------------------------------------
# ConfigMap data shape
# ---------------------------------------------------------------------------

@pytest.mark.parametrize('data, message', [
    (None, 'invalid configMap format, expected only one entry, got: map[]'),
    ({}, 'invalid configMap format, expected only one entry, got: map[]'),
    ({'ladder': '{"nodesToReplicas":[[1,2]]}', 'notes': 'x'},
     'invalid configMap format, expected only one entry, got: map[ladder:{"nodesToReplicas":[[1,2]]} notes:x]'),
    ({'linear': '{"nodesPerReplica":1}', 'ladder': '{}'},
     'invalid configMap format, expected only one entry, got: map[ladder:{} linear:{"nodesPerReplica":1}]'),
    ({'Ladder': '{"nodesToReplicas":[[1,2]]}'}, 'not a supported control mode: Ladder'),
    ({'nodesToReplicas': '[[1,2]]'}, 'not a supported control mode: nodesToReplicas'),
])
def test_configmap_data_refused(data, message):
    with pytest.raises(LadderError) as info:
        parse_configmap_data(data)
    assert info.value.cpa_message == message
    with pytest.raises(LadderError):
        compute_replicas(data, 3, 12)


def test_configmap_data_must_be_mapping():
    with pytest.raises(LadderError) as info:
        parse_configmap_data('ladder')
    assert 'must be a mapping' in str(info.value)
    assert info.value.cpa_message is None


@pytest.mark.parametrize('data, mode, replicas', [
    ({'ladder': '{"nodesToReplicas":[[1,2],[100,3]]}'}, 'ladder', 3),
    ({'ladder': {'nodesToReplicas': [[1, 2], [100, 3]]}}, 'ladder', 3),
    ({'linear': '{"nodesPerReplica":50,"min":2}'}, 'linear', 3),
])
def test_configmap_data_accepted(data, mode, replicas):
    params = parse_configmap_data(data)
    assert params.mode == mode
    assert compute_replicas(params, 120, 480) == replicas
    assert compute_replicas(data, 120, 480) == replicas


def test_wrong_params_kind():
    with pytest.raises(LadderError):
        ladder_replicas(parse_configmap_data({'linear': '{"nodesPerReplica":1}'}), 1, 1)
    with pytest.raises(LadderError):
        linear_replicas(parse_configmap_data({'ladder': '{}'}), 1, 1)


@pytest.mark.parametrize('value', [None, 5, 1.5, True, b'{}'])
def test_ladder_value_type_refused(value):
    with pytest.raises(LadderError) as info:
        parse_ladder(value)
    assert info.value.cpa_message is None


def test_ladder_mapping_not_serializable():
    with pytest.raises(LadderError) as info:
        parse_ladder({'nodesToReplicas': {1, 2}})
    assert 'cannot be serialized' in str(info.value)


@pytest.mark.parametrize('kwargs, message', [
    ({'nodes': -1, 'cores': 0}, 'nodes must not be negative'),
    ({'nodes': 1, 'cores': -4}, 'cores must not be negative'),
    ({'nodes': True, 'cores': 0}, 'nodes must be an integer'),
    ({'nodes': 1.0, 'cores': 0}, 'nodes must be an integer'),
    ({'nodes': '3', 'cores': 0}, 'nodes must be an integer'),
    ({'nodes': 3, 'cores': 0, 'schedulable_nodes': -1}, 'schedulable_nodes must not be negative'),
    ({'nodes': 3, 'cores': 0, 'schedulable_cores': None, 'schedulable_nodes': 2.5}, 'schedulable_nodes must be an integer'),
])
def test_counts_refused(kwargs, message):
    with pytest.raises(LadderError) as info:
        ladder_replicas(AKS_DOC_EXAMPLE_LADDER, **kwargs)
    assert message in str(info.value)


# ---------------------------------------------------------------------------
# Kubernetes CPU quantities and cluster counts
# ---------------------------------------------------------------------------

@pytest.mark.parametrize('text, value', [
    ('1900m', Fraction(19, 10)),
    ('2', Fraction(2)),
    ('3.5', Fraction(7, 2)),
    (' 2 ', Fraction(2)),
    ('0', Fraction(0)),
    ('000', Fraction(0)),
    ('-0', Fraction(0)),
    ('0.5', Fraction(1, 2)),
    ('.5', Fraction(1, 2)),
    ('5.', Fraction(5)),
    ('+2', Fraction(2)),
    ('-1', Fraction(-1)),
    ('100u', Fraction(1, 10000)),
    ('1500000n', Fraction(3, 2000)),
    ('250m', Fraction(1, 4)),
    ('1k', Fraction(1000)),
    ('1M', Fraction(10 ** 6)),
    ('1E', Fraction(10 ** 18)),
    ('1Ki', Fraction(1024)),
    ('1.5Ki', Fraction(1536)),
    ('2Mi', Fraction(2 * 2 ** 20)),
    ('1e3', Fraction(1000)),
    ('1E3', Fraction(1000)),
    ('1e+3', Fraction(1000)),
    ('1e-3', Fraction(1, 1000)),
    ('15e-1', Fraction(3, 2)),
    ('1.G', Fraction(10 ** 9)),
    ('0.0000000001', Fraction(1, 10 ** 9)),
    ('1.0000000001', Fraction(1000000001, 10 ** 9)),
    ('-0.0000000001', Fraction(-1, 10 ** 9)),
    ('1e-40', Fraction(1, 10 ** 9)),
    ('1e30', Fraction(2 ** 63 - 1)),
    ('9Ei', Fraction(2 ** 63 - 1)),
    ('-1e30', Fraction(-(2 ** 63 - 1))),
    ('123456789012345678901234567890e-40', Fraction(1, 10 ** 9)),
])
def test_parse_cpu_quantity(text, value):
    assert parse_cpu_quantity(text) == value


@pytest.mark.parametrize('text', ['', '   ', 'abc', '1x', '1.5.5', '1mm', '1e', '1 m', '1Ki5', '1EE', '2cores', '1e99999999999999999999',
                                  '1' * 5000, 5, None])
def test_parse_cpu_quantity_refused(text):
    with pytest.raises(QuantityError):
        parse_cpu_quantity(text)


@pytest.mark.parametrize('quantities, cores', [
    (['1900m', '1900m', '1900m'], 6),
    (['1900m', '100m'], 2),
    (['3860m'] * 10, 39),
    ([], 0),
    ([None, '2'], 2),
    ([2, '500m'], 3),
    (['0.0000000005', '0.9999999995'], 2),
    (['0.5', '0.5'], 1),
    (['2147483648'], -2147483648),
    (['-500m'], -1),
    ([1.5, 1.5], 3),
])
def test_sum_allocatable_cores(quantities, cores):
    assert sum_allocatable_cores(quantities) == cores


@pytest.mark.parametrize('quantities', [[True], ['x'], [float('inf')]])
def test_sum_allocatable_cores_refused(quantities):
    with pytest.raises(QuantityError):
        sum_allocatable_cores(quantities)


def _node(name, cpu, unschedulable=False, ready=True, labels=None):
    node = {'metadata': {'name': name, 'labels': labels or {}},
            'spec': {'unschedulable': True} if unschedulable else {},
            'status': {'allocatable': {'cpu': cpu} if cpu is not None else {},
                       'conditions': [{'type': 'Ready', 'status': 'True' if ready else 'False'}]}}
    return node


CLUSTER = [
    _node('a', '1900m', labels={'pool': 'sys'}),
    _node('b', '1900m', labels={'pool': 'sys'}),
    _node('c', '3860m', unschedulable=True, labels={'pool': 'user'}),
    _node('d', '3860m', ready=False, labels={'pool': 'user'}),
    _node('e', None, labels={'pool': 'user'}),
]


@pytest.mark.parametrize('kwargs, expected', [
    ({}, {'total_nodes': 5, 'schedulable_nodes': 4, 'total_cores': 12, 'schedulable_cores': 8}),
    ({'require_ready': True}, {'total_nodes': 5, 'schedulable_nodes': 3, 'total_cores': 12, 'schedulable_cores': 4}),
    ({'node_labels': {'pool': 'user'}}, {'total_nodes': 3, 'schedulable_nodes': 2, 'total_cores': 8, 'schedulable_cores': 4}),
    ({'node_labels': {'pool': 'none'}}, {'total_nodes': 0, 'schedulable_nodes': 0, 'total_cores': 0, 'schedulable_cores': 0}),
])
def test_cluster_status(kwargs, expected):
    assert cluster_status(CLUSTER, **kwargs) == expected


def test_cluster_status_feeds_compute():
    status = cluster_status(CLUSTER)
    data = {'ladder': '{"nodesToReplicas":[[1,1],[5,4]],"coresToReplicas":[[0,1],[10,3]]}'}
    args = (status['total_nodes'], status['total_cores'], status['schedulable_nodes'], status['schedulable_cores'])
    assert compute_replicas(data, *args) == 1
    data = {'ladder': '{"nodesToReplicas":[[1,1],[5,4]],"coresToReplicas":[[0,1],[10,3]],"includeUnschedulableNodes":true}'}
    assert compute_replicas(data, *args) == 4


# ---------------------------------------------------------------------------
# Safety validator for what we write
# ---------------------------------------------------------------------------

@pytest.mark.parametrize('value', [
    '{"nodesToReplicas":[[1,2],[100,3],[250,4],[500,5],[1000,6],[5000,10]]}',
    {'nodesToReplicas': [[1, 2], [100, 3]]},
    {'nodesToReplicas': ((0, 2), (100, 3))},
    {'coresToReplicas': [[0, 2], [64, 3]], 'nodesToReplicas': [[0, 2], [16, 3]], 'includeUnschedulableNodes': True},
    {'coresToReplicas': [], 'nodesToReplicas': [[0, 3]]},
    {'nodesToReplicas': [[0, 2]], 'includeUnschedulableNodes': False},
])
def test_validator_clean(value):
    assert validate_ladder_for_write(value) == ([], [])


@pytest.mark.parametrize('value, error', [
    ('', 'the ladder is empty'),
    ('{"nodesToReplicas":[[1,2]],}', 'the ladder is not valid JSON'),
    ('{"nodesToReplicas":[[1,2]], "x": NaN}', 'the ladder is not valid JSON'),
    ('[[1,2]]', 'must be a JSON object'),
    (None, 'must be a JSON object'),
    ('null', 'must be a JSON object'),
    ('{"nodesToReplicas":[[1,2]],"nodesToReplicas":[[1,3]]}', "key 'nodesToReplicas' appears more than once"),
    ({}, 'no entries in nodesToReplicas or coresToReplicas; CPA would scale konnectivity-agent to 0 replicas'),
    ({'nodesToReplicas': [], 'coresToReplicas': []}, 'no entries in nodesToReplicas or coresToReplicas'),
    ({'nodesToReplicas': None}, 'nodesToReplicas must be a list of [threshold, replicas] pairs, got null'),
    ({'nodesToReplicas': {'1': 2}}, 'nodesToReplicas must be a list of [threshold, replicas] pairs, got an object'),
    ({'nodesToReplicas': [[1, 0]]}, 'nodesToReplicas[0] gives 0 replicas at 1+ nodes'),
    ({'nodesToReplicas': [[0, 0], [3, 3]]}, 'nodesToReplicas[0] gives 0 replicas at 0+ nodes'),
    ({'nodesToReplicas': [[1, 2]], 'coresToReplicas': [[0, 0]]}, 'coresToReplicas[0] gives 0 replicas at 0+ cores'),
    ({'nodesToReplicas': [[1, 2], [1, 3]]}, 'nodesToReplicas has threshold 1 more than once'),
    ({'nodesToReplicas': [[1.5, 2]]}, 'nodesToReplicas[0] threshold must be an integer, got 1.5 (a non-integer number)'),
    ('{"nodesToReplicas":[[1.0,2]]}', 'nodesToReplicas[0] threshold must be an integer, got 1.0'),
    ('{"nodesToReplicas":[[1,2e0]]}', 'nodesToReplicas[0] replicas must be an integer, got 2.0'),
    ({'nodesToReplicas': [[True, 2]]}, 'nodesToReplicas[0] threshold must be an integer, got true (a boolean)'),
    ({'nodesToReplicas': [[1, False]]}, 'nodesToReplicas[0] replicas must be an integer, got false (a boolean)'),
    ({'nodesToReplicas': [['1', 2]]}, 'nodesToReplicas[0] threshold must be an integer, got "1" (a string)'),
    ({'nodesToReplicas': [[1, -2]]}, 'nodesToReplicas[0] replicas must not be negative, got -2'),
    ({'nodesToReplicas': [[-1, 2]]}, 'nodesToReplicas[0] threshold must not be negative, got -1'),
    ({'nodesToReplicas': [[1, 2, 3]]}, 'nodesToReplicas[0] must be a pair [threshold, replicas], got [1, 2, 3]'),
    ({'nodesToReplicas': [[5]]}, 'nodesToReplicas[0] must be a pair [threshold, replicas], got [5]'),
    ({'nodesToReplicas': [7]}, 'nodesToReplicas[0] must be a pair [threshold, replicas], got 7'),
    ({'nodesToReplicas': [[1, 2 ** 31]]}, 'nodesToReplicas[0] replicas 2147483648 is larger than 2147483647'),
    ({'nodesToReplicas': [[1, 2]], 'nodesToreplicas': [[1, 3]]}, "key 'nodesToreplicas' must be spelled exactly 'nodesToReplicas'"),
    ({'nodesToReplicas': [[1, 2]], 'notes': 'x'}, "unknown key 'notes'"),
    ({'nodesToReplicas': [[1, 2]], 'includeUnschedulableNodes': 'true'}, 'includeUnschedulableNodes must be true or false'),
    ({'nodesToReplicas': [[1, 2]], 'includeUnschedulableNodes': 1}, 'includeUnschedulableNodes must be true or false'),
])
def test_validator_errors(value, error):
    errors, _warnings = validate_ladder_for_write(value)
    assert any(error in message for message in errors), errors


@pytest.mark.parametrize('value, warnings', [
    ({'nodesToReplicas': [[100, 3], [1, 2]]},
     ['nodesToReplicas is not sorted by threshold; CPA sorts it, and it is written sorted']),
    ({'nodesToReplicas': [[1, 5], [10, 2]]},
     ['nodesToReplicas goes down from 5 replicas at 1 to 2 replicas at 10; replicas usually grow with the cluster']),
    ({'nodesToReplicas': [[1, 1], [10, 2]]},
     ['some cluster sizes get only 1 replica(s): no high availability for the tunnel; use at least 2 at every step']),
    ({'coresToReplicas': [[1, 1], [64, 3]], 'nodesToReplicas': [[1, 1], [2, 2]]},
     ['some cluster sizes get only 1 replica(s): no high availability for the tunnel; use at least 2 at every step']),
    ({'coresToReplicas': [[1, 1], [64, 3]], 'nodesToReplicas': [[1, 2], [2, 3]]}, []),
    ({'nodesToReplicas': [[10, 3], [1, 4]]},
     ['nodesToReplicas is not sorted by threshold; CPA sorts it, and it is written sorted',
      'nodesToReplicas goes down from 4 replicas at 1 to 3 replicas at 10; replicas usually grow with the cluster']),
])
def test_validator_warnings(value, warnings):
    assert validate_ladder_for_write(value) == ([], warnings)


def test_validator_errors_and_warnings_are_separate():
    errors, warnings = validate_ladder_for_write({'nodesToReplicas': [[10, 3], [1, 4]], 'coresToReplicas': [[0, 0]]})
    assert errors == ['coresToReplicas[0] gives 0 replicas at 0+ cores; CPA would scale konnectivity-agent to zero and drop the tunnel. Use at least 2']
    assert len(warnings) == 2


def test_validator_is_stricter_than_cpa():
    # CPA accepts all of these; we never write them.
    for text in ('{}', '{"nodesToReplicas":[[5]]}', '{"NodesToReplicas":[[1,2]]}', '{"nodesToReplicas":[[1,2,3]]}',
                 '{"nodesToReplicas":[[1,2]],"x":1}', '{"nodesToReplicas":[[1,0],[5,2]]}'):
        parse_ladder(text)
        assert validate_ladder_for_write(text)[0], text


# ---------------------------------------------------------------------------
# Rendering, equality and steps
# ---------------------------------------------------------------------------

@pytest.mark.parametrize('value, rendered', [
    (AKS_DOC_EXAMPLE_LADDER, '{"nodesToReplicas":[[1,2],[100,3],[250,4],[500,5],[1000,6],[5000,10]]}'),
    ('{ "nodesToReplicas" : [ [100, 3], [1, 2] ] }', '{"nodesToReplicas":[[1,2],[100,3]]}'),
    ({'nodesToReplicas': [[1, 2]], 'coresToReplicas': [[64, 3], [0, 2]], 'includeUnschedulableNodes': True},
     '{"coresToReplicas":[[0,2],[64,3]],"includeUnschedulableNodes":true,"nodesToReplicas":[[1,2]]}'),
    ({'nodesToReplicas': [[1, 2]], 'coresToReplicas': [], 'includeUnschedulableNodes': False}, '{"nodesToReplicas":[[1,2]]}'),
    ('{"NODESTOREPLICAS":[[1,2]],"junk":1}', '{"nodesToReplicas":[[1,2]]}'),
    ('{}', '{}'),
])
def test_render_ladder(value, rendered):
    assert render_ladder(value) == rendered
    assert ladders_equal(rendered, value)


def test_render_refuses_what_cpa_refuses():
    with pytest.raises(LadderError):
        render_ladder('{"nodesToReplicas":[[1.5,2]]}')


@pytest.mark.parametrize('left, right, equal', [
    ('{"nodesToReplicas":[[1,2],[100,3]]}', {'nodesToReplicas': [[100, 3], [1, 2]]}, True),
    ('{"nodesToReplicas":[[1,2]]}', '{"nodesToReplicas":[[1,2]],"coresToReplicas":[],"includeUnschedulableNodes":false}', True),
    ('{"nodesToReplicas":[[1,2]]}', '{"NodesToReplicas":[[1,2]],"comment":"x"}', True),
    ('{"nodesToReplicas":[[1,2]]}', '{"nodesToReplicas":[[1,3]]}', False),
    ('{"nodesToReplicas":[[1,2]]}', '{"coresToReplicas":[[1,2]]}', False),
    ('{"nodesToReplicas":[[1,2]]}', '{"nodesToReplicas":[[1,2]],"includeUnschedulableNodes":true}', False),
    ('{"nodesToReplicas":[[10,3],[10,5]]}', '{"nodesToReplicas":[[10,5],[10,3]]}', False),
    ('{"nodesToReplicas":[[1.5,2]]}', '{"nodesToReplicas":[[1.5,2]]}', False),
    ('{"nodesToReplicas":[[1,2]]}', 'not json', False),
])
def test_ladders_equal(left, right, equal):
    assert ladders_equal(left, right) is equal
    assert ladders_equal(right, left) is equal  # symmetric


@pytest.mark.parametrize('entries, steps', [
    ([], []),
    ([[1, 2], [100, 3], [250, 4]], [{'from': 0, 'to': 99, 'replicas': 2}, {'from': 100, 'to': 249, 'replicas': 3},
                                    {'from': 250, 'to': None, 'replicas': 4}]),
    ([[5, 3]], [{'from': 0, 'to': None, 'replicas': 3}]),
    ([[0, 0], [3, 3]], [{'from': 0, 'to': 2, 'replicas': 0}, {'from': 3, 'to': None, 'replicas': 3}]),
    ([[10, 3], [10, 5]], [{'from': 0, 'to': 9, 'replicas': 3}, {'from': 10, 'to': None, 'replicas': 5}]),
    ([[1, 5], [10, 2], [20, 2]], [{'from': 0, 'to': 9, 'replicas': 5}, {'from': 10, 'to': None, 'replicas': 2}]),
])
def test_ladder_steps(entries, steps):
    assert ladder_steps(entries) == steps
    for step in steps:
        for count in (step['from'], step['to'] if step['to'] is not None else step['from'] + 1000):
            assert entries_replicas(count, entries) == step['replicas']


def test_ladder_error_parts():
    with pytest.raises(LadderError) as info:
        parse_configmap_data({'a': '1', 'b': '2'})
    error = info.value
    assert isinstance(error, ValueError)
    assert error.message == error.cpa_message == 'invalid configMap format, expected only one entry, got: map[a:1 b:2]'
    assert error.hint and str(error) == '%s. %s' % (error.message, error.hint)
