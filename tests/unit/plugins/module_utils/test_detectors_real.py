# -*- coding: utf-8 -*-
# Copyright (c) 2026 aks.tunnel contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The detector engine on real AKS detector responses (fixtures/detectors_real/, from Azure/vscode-aks-tools, see its README):
ids, statuses and the category overview as AKS serves them; detectors matched to causes by id."""

from __future__ import annotations

import json
import os

import pytest

from ansible_collections.aks.tunnel.plugins.module_utils import _detectors as d
from ansible_collections.aks.tunnel.plugins.module_utils._causes import make_finding

HERE = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'fixtures', 'detectors_real')


def _load(name):
    with open(os.path.join(HERE, name + '.json'), encoding='utf-8') as handle:
        return json.load(handle)


@pytest.mark.parametrize('name, status, first_message, causes, role', [
    ('snat-usage', 'success', 'No SNAT connection issues were found for the specified time period', ['snat_exhaustion'], 'verdict'),
    ('user-defined-routing', 'success', 'Cluster egress pathway is not set to user defined routing', ['egress_ports_blocked'], 'advisory'),
    ('aks-category-connectivity', 'none', None, [], None),   # no insight: status.statusId 4 (None)
])
def test_real_detector_runs(name, status, first_message, causes, role):
    result = d.detector_result(_load(name))
    assert (result['id'], result['status']) == (name, status)
    assert (result['messages'][0] if result['messages'] else None) == first_message
    assert d.causes_of(result) == causes and d.role_of(result) == role


def test_status_id_of_a_success_detector_is_three():
    """The insight says Success and statusId is 3: InsightStatus Critical, Warning, Info, Success, None numbered from 0."""
    body = _load('snat-usage')
    body['properties']['dataset'] = [x for x in body['properties']['dataset'] if x['renderingProperties']['type'] != 7]
    assert d.detector_result(body)['status'] == 'success'


def test_the_category_overview_is_not_run():
    overview = _load('aks-category-connectivity')
    listing = {'value': [overview, _load('snat-usage'), _load('user-defined-routing')]}
    assert [x['id'] for x in d.category_detectors(listing)] == ['snat-usage', 'user-defined-routing']
    ids = overview['properties']['dataset'][0]['renderingProperties']['detectorIds']
    assert set(d.DETECTOR_CAUSES) <= set(ids), 'every detector matched by id is one of the real Connectivity Issues category'


@pytest.mark.parametrize('detector_id, causes', [
    ('snat-usage', ['snat_exhaustion']), ('SNAT-Usage', ['snat_exhaustion']), ('user-defined-routing', ['egress_ports_blocked']),
    # words no longer match: the old word table tied these to causes they do not check
    ('advisor-shared-route-table', []), ('aks-subnet-sharing', []), ('cluster-dns', []), ('private-cluster-dns', []),
])
def test_causes_by_id(detector_id, causes):
    assert d.causes_of({'id': detector_id, 'name': 'route table egress firewall nsg snat'}) == causes


def test_advisory_detector_is_never_a_disagreement():
    """user-defined-routing warns because the outbound type is UDR; the check that found the egress open is not contradicted."""
    result = d.detector_result(_load('user-defined-routing'))
    result['status'] = 'warning'
    ok = make_finding('egress_ports_blocked', 'ok', 'the Azure Firewall fw-hub allows the tunnel egress')
    findings, comparisons = d.compare([ok], [result])
    assert comparisons == [{'cause': 'egress_ports_blocked', 'detector': 'user-defined-routing', 'detector_status': 'warning',
                            'finding_status': 'ok', 'agree': None, 'role': 'advisory'}]
    assert findings[0]['evidence'][-1].startswith('AKS detector User Defined Routing (user-defined-routing) (advisory')
    assert not any('DISAGREEMENT' in e for e in findings[0]['evidence'])


def test_snat_detector_disagreement_is_reported():
    result = d.detector_result(_load('snat-usage'))
    problem = make_finding('snat_exhaustion', 'problem', 'SNAT ports exhausted')
    findings, comparisons = d.compare([problem], [result])
    assert comparisons[0]['agree'] is False and comparisons[0]['role'] == 'verdict'
    assert 'DISAGREEMENT: AKS detector SNAT Connection and Port Allocation says SUCCESS' in findings[0]['evidence'][-1]


@pytest.mark.parametrize('status_id, status', [(0, 'critical'), (1, 'warning'), (2, 'info'), (3, 'success'), (4, 'none'),
                                               ('Warning', 'warning'), (7, 'none'), (True, 'none'), (None, 'none')])
def test_status_ids(status_id, status):
    body = {'name': 'x', 'properties': {'metadata': {'id': 'x'}, 'status': {'statusId': status_id}, 'dataset': []}}
    assert d.detector_result(body)['status'] == status


@pytest.mark.parametrize('name', ['snat-usage', 'user-defined-routing', 'aks-category-connectivity'])
def test_the_lab_schema_accepts_the_real_responses(name):
    """The lab's detector schema (no published swagger) is checked against what AKS really answers."""
    import jsonschema  # pylint: disable=import-outside-toplevel
    from ansible_collections.aks.tunnel.tests.lab.arm.providers.detectors import SCHEMAS  # pylint: disable=import-outside-toplevel
    jsonschema.Draft4Validator(SCHEMAS[('aksdetectors', 'ManagedClusterDetectors_Get', 200)]).validate(_load(name))
