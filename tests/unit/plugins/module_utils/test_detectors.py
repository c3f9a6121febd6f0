# -*- coding: utf-8 -*-
# Copyright (c) 2026 aks.tunnel contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""AKS detectors as a second opinion: list, run result, cause matching, comparison (pure)."""

from __future__ import annotations

import pytest

from ansible_collections.aks.tunnel.plugins.module_utils import _detectors as d
from ansible_collections.aks.tunnel.plugins.module_utils._causes import make_finding

MC = '/subscriptions/s/resourceGroups/rg/providers/Microsoft.ContainerService/managedClusters/aks'


def listed(detector_id, name, category, description=''):
    return {'id': MC + '/detectors/' + detector_id, 'name': detector_id, 'type': 'Microsoft.ContainerService/managedClusters/detectors',
            'properties': {'metadata': {'id': detector_id, 'name': name, 'category': category, 'description': description, 'type': 'Detector'},
                           'status': {'message': None, 'statusId': 4}}}


def run(detector_id, name, insights=(), status_id=4, message=None):
    datasets = [{'renderingProperties': {'type': 7, 'title': None, 'isVisible': True},
                 'table': {'tableName': '', 'columns': [{'columnName': c} for c in ('Status', 'Message', 'Data.Name', 'Data.Value', 'Expanded')],
                           'rows': [[status, text, '', '', 'False']]}} for status, text in insights]
    datasets.append({'renderingProperties': {'type': 4}, 'table': {'columns': [{'columnName': 'x'}], 'rows': [['ignored']]}})
    return {'name': detector_id, 'properties': {'metadata': {'id': detector_id, 'name': name, 'category': d.CONNECTIVITY},
                                                'status': {'message': message, 'statusId': status_id}, 'dataset': datasets}}


def test_category_detectors():
    listing = {'value': [listed('snat-usage', 'SNAT Connection and Port Allocation', 'Connectivity Issues'),
                         listed('node-not-ready', 'Node Not Ready', 'Node Health')]}
    assert [x['id'] for x in d.category_detectors(listing)] == ['snat-usage']
    assert [x['id'] for x in d.category_detectors(listing, 'node health')] == ['node-not-ready']


@pytest.mark.parametrize('insights, status_id, status, messages', [
    ([('Success', 'fine'), ('Critical', 'SNAT ports exhausted on 3 nodes')], 4, 'critical', ['SNAT ports exhausted on 3 nodes', 'fine']),
    ([('Warning', 'close to the limit')], 3, 'warning', ['close to the limit']),
    ([('Success', 'no issue')], 0, 'success', ['no issue']),
    ([], 1, 'warning', ['from status']),
    ([], None, 'none', ['from status']),
    ([('Bogus', 'x')], 3, 'critical', ['x']),
])
def test_detector_result(insights, status_id, status, messages):
    result = d.detector_result(run('snat-usage', 'SNAT Connection and Port Allocation', insights, status_id, 'from status'))
    assert (result['id'], result['status'], result['messages']) == ('snat-usage', status, messages)


@pytest.mark.parametrize('detector, causes', [
    ({'id': 'snat-usage', 'name': 'SNAT Connection and Port Allocation'}, ['snat_exhaustion']),
    ({'id': 'user-defined-routing', 'name': 'User Defined Routing'}, ['egress_ports_blocked']),
    # matched by id only (the real ids, fixtures/detectors_real/): words in a name or description match nothing
    ({'id': 'udr', 'name': 'User Defined Routing', 'description': 'outbound connectivity through a route table'}, []),
    ({'id': 'nsg-check', 'name': 'Network Security Group rules'}, []),
    ({'id': 'cluster-dns', 'name': 'Cluster DNS'}, []),
])
def test_causes_of(detector, causes):
    assert d.causes_of(detector) == causes


@pytest.mark.parametrize('detector_status, ours, agree, disagreement', [
    ('critical', 'ok', False, True),
    ('critical', 'problem', True, False),
    ('success', 'problem', False, True),
    ('success', 'ok', True, False),
    ('warning', 'unknown', None, False),
    ('info', 'ok', None, False),
])
def test_compare(detector_status, ours, agree, disagreement):
    findings = [make_finding('snat_exhaustion', ours, 'ours', evidence=['ours']), make_finding('nsg_blocks_10250', 'ok', 'fine')]
    result = {'id': 'snat-usage', 'name': 'SNAT Connection and Port Allocation', 'description': '', 'status': detector_status,
              'messages': ['the detector says so']}
    annotated, comparisons = d.compare(findings, [result])
    assert comparisons == [{'cause': 'snat_exhaustion', 'detector': 'snat-usage', 'detector_status': detector_status,
                            'finding_status': ours, 'agree': agree, 'role': 'verdict'}]
    assert annotated[0]['evidence'][:2] == ['ours', 'AKS detector SNAT Connection and Port Allocation (snat-usage): %s: the detector says so'
                                            % detector_status.upper()]
    assert any(line.startswith('DISAGREEMENT') for line in annotated[0]['evidence']) is disagreement
    assert annotated[0]['status'] == ours and findings[0]['evidence'] == ['ours'], 'the status and the input stay as they were'
    assert annotated[1] == findings[1]


@pytest.mark.parametrize('bad', ['x', {'value': 'x'}])
def test_bad_listing(bad):
    with pytest.raises(d.DetectorInputError):
        d.category_detectors(bad)


def test_compare_annotates_the_first_finding_of_a_cause_only():
    findings = [make_finding('egress_ports_blocked', 'problem', 'probe'), make_finding('egress_ports_blocked', 'ok', 'nsg')]
    result = {'id': 'user-defined-routing', 'name': 'User Defined Routing', 'description': '', 'status': 'warning', 'messages': []}
    annotated, comparisons = d.compare(findings, [result])
    assert annotated[0]['evidence'] == ['AKS detector User Defined Routing (user-defined-routing) (advisory: about the configuration, not '
                                        'compared): WARNING'] and annotated[1] == findings[1]
    assert [c['agree'] for c in comparisons] == [None]  # an advisory detector is context, never a vote


def test_the_report_evidence_carries_the_detectors_second_opinion():
    from ansible_collections.aks.tunnel.plugins.module_utils import _evidence

    snat = {'changed': False, 'finding': make_finding('snat_exhaustion', 'ok', 'no failed SNAT connections'), 'api_calls': {'arm': 3, 'kube': 0}}
    detectors = {'changed': False, 'api_calls': {'arm': 4, 'kube': 0}, 'detectors': [
        {'id': 'snat-usage', 'name': 'SNAT Connection and Port Allocation', 'description': '', 'status': 'critical', 'messages': ['exhausted']},
        {'id': 'broken', 'name': 'SNAT broken', 'description': '', 'status': 'unknown', 'messages': [], 'error': 'HTTP 500'}]}
    collected = _evidence.collect({'model': {'changed': False}, 'snat': snat, 'detectors': detectors}, ['snat_exhaustion'])
    [finding] = collected['findings']
    assert finding['status'] == 'ok' and finding['evidence'][-2:] == [
        'AKS detector SNAT Connection and Port Allocation (snat-usage): CRITICAL: exhausted',
        'DISAGREEMENT: AKS detector SNAT Connection and Port Allocation says CRITICAL, this check says OK - look at both']
    assert collected['stats']['arm_calls'] == 7
    # a failed detectors run changes nothing but the request count
    failed = _evidence.collect({'model': {'changed': False}, 'snat': snat, 'detectors': {'failed': True, 'msg': 'HTTP 403'}}, ['snat_exhaustion'])
    assert failed['findings'] == [snat['finding']] and failed['errors'] == {}
