# -*- coding: utf-8 -*-
# Copyright (c) 2026 aks.tunnel contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""docs/report.schema.json (issue 18): valid JSON Schema, in step with the cause registry, and every report the report
engine builds validates against it (the integration tests validate every report.json their runs write, see
tests/integration/report_schema.py)."""

from __future__ import annotations

import copy
import glob
import importlib.util
import json
import os

import jsonschema
import pytest

from ansible_collections.aks.tunnel.plugins.module_utils import _report as r
from ansible_collections.aks.tunnel.plugins.module_utils._causes import CAUSE_IDS, CAUSES, STATUSES, make_finding

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..', '..', '..'))
SCHEMA_PATH = os.path.join(ROOT, 'docs', 'report.schema.json')
SAMPLES = sorted(glob.glob(os.path.join(os.path.dirname(__file__), 'fixtures', 'reports', '*.json')))
CLUSTER = {'name': 'aks-lab', 'resource_group': 'rg-aks-lab', 'tunnel_component': 'konnectivity', 'node_count': 7, 'private': False}
STATS = {'run_commands': 5, 'arm_calls': 45, 'kube_calls': 10, 'throttled': 0, 'retries': 0, 'retry_wait_s': 0.0, 'duration_s': 15.2}


def _load(path):
    with open(path, encoding='utf-8') as handle:
        return json.load(handle)


SCHEMA = _load(SCHEMA_PATH)
VALIDATOR = jsonschema.Draft202012Validator(SCHEMA)


def _errors(report):
    return ['%s: %s' % ('/'.join(map(str, e.absolute_path)), e.message) for e in VALIDATOR.iter_errors(report)]


def test_schema_file_is_what_scripts_report_schema_writes():
    """After a change to the cause registry: PYTHONPATH=.tmp/dev .venv/bin/python scripts/report_schema.py"""
    spec = importlib.util.spec_from_file_location('report_schema_gen', os.path.join(ROOT, 'scripts', 'report_schema.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.build_schema() == SCHEMA, 'docs/report.schema.json is stale: run scripts/report_schema.py'


def test_schema_is_valid_draft_2020_12_and_matches_the_registry():
    jsonschema.Draft202012Validator.check_schema(SCHEMA)
    assert SCHEMA['properties']['schema']['const'] == r.SCHEMA
    assert SCHEMA['$defs']['cause']['enum'] == list(CAUSE_IDS)
    assert SCHEMA['$defs']['finding']['properties']['status']['enum'] == list(STATUSES)
    assert sorted(SCHEMA['properties']['stats']['required']) == sorted(r.STATS_KEYS)
    assert [item['properties']['cause']['const'] for item in SCHEMA['properties']['findings']['prefixItems']] == list(CAUSE_IDS)
    for cause in CAUSES:
        shape = SCHEMA['$defs']['remediation_' + cause.id]
        # the documented keys of the registry (docs/causes.md) and `summary`, nothing else
        assert shape['propertyNames']['enum'] == ['summary'] + list(cause.remediation_keys), cause.id
        assert sorted(shape['properties']) == sorted(['summary'] + list(cause.remediation_keys)), cause.id


@pytest.mark.parametrize('path', SAMPLES, ids=[os.path.basename(p) for p in SAMPLES])
def test_real_reports_rebuilt_by_the_engine_validate(path):
    """A real report's findings through build_report: the same findings (causes added to the registry since the sample
    was written are unknown, not checked), and the result validates."""
    sample = _load(path)
    rebuilt = r.build_report(sample['cluster'], copy.deepcopy(sample['findings']), sample['stats'], generated_at=sample['generated_at'])
    assert _errors(rebuilt) == []
    assert [f for f in rebuilt['findings'] if f['cause'] in {s['cause'] for s in sample['findings']}] == sample['findings']
    assert (rebuilt['outcome'], rebuilt['problems']) == (sample['outcome'], sample['problems'])
    if [f['cause'] for f in sample['findings']] == list(CAUSE_IDS):
        assert _errors(sample) == []


def test_samples_cover_a_problem_with_a_remediation_for_every_cause_they_claim():
    covered = {f['cause'] for path in SAMPLES for f in _load(path)['findings'] if f['status'] == 'problem' and f['remediation']}
    assert covered >= {'nsg_blocks_10250', 'ufw_blocks_10250', 'iptables_blocks_10250', 'egress_ports_blocked', 'snat_exhaustion',
                       'konnectivity_agent_scaling', 'nft_blocks_10250', 'kubelet_not_serving', 'network_path_blocks_10250'}


def _report(findings=(), **kwargs):
    return r.build_report(CLUSTER, list(findings), STATS, generated_at='2026-12-04T12:00:00Z', **kwargs)


@pytest.mark.parametrize('status', STATUSES)
@pytest.mark.parametrize('cause', CAUSE_IDS)
def test_every_cause_and_status_from_the_engine_validates(cause, status):
    keys = next(c.remediation_keys for c in CAUSES if c.id == cause)
    remediation = {'summary': 'what to change'} if status == 'problem' else {}
    if status == 'problem' and 'commands' in keys:
        remediation['commands'] = ['az vmss run-command invoke ...']
    if status == 'problem' and 'nodes' in keys:
        remediation['nodes'] = ['aks-nodepool1-1-vmss000000']
    report = _report([make_finding(cause, status, 'summary of %s' % cause, ['aks-nodepool1-1-vmss000000'], ['evidence line'], remediation)])
    assert report['outcome'] == {'problem': 'problem'}.get(status, 'unknown')  # the other causes have no finding: unknown
    assert _errors(report) == []


@pytest.mark.parametrize('kwargs, outcome', [
    ({}, 'unknown'),                                                     # checked, no finding: every cause unknown
    ({'checked': []}, 'ok'),                                             # nothing checked (--tags that select nothing)
    ({'error': 'the cluster model could not be read: HTTP 401'}, 'error'),
])
def test_reports_without_findings_validate(kwargs, outcome):
    report = _report(**kwargs)
    assert report['outcome'] == outcome
    assert _errors(report) == []


def test_all_ok_validates():
    report = _report([make_finding(c, 'ok', 'fine') for c in CAUSE_IDS])
    assert report['outcome'] == 'ok' and _errors(report) == []


@pytest.mark.parametrize('change, message', [
    (lambda rep: rep['findings'][0]['remediation'].update(undocumented=1), "'undocumented' is not one of"),
    (lambda rep: rep['findings'][4]['remediation'].update(allocated_outbound_ports='many'), "'many' is not of type"),
    (lambda rep: rep.update(outcome='fine'), "'fine' is not one of"),
    (lambda rep: rep.update(outcome='ok'), 'problems: '),               # ok with problems listed
    (lambda rep: rep.update(error='boom'), "'boom' is not of type 'null'"),
    (lambda rep: rep['findings'].reverse(), 'was expected'),
    (lambda rep: rep['findings'][0].update(extra=True), 'Additional properties are not allowed'),
    (lambda rep: rep['stats'].pop('arm_calls'), "'arm_calls' is a required property"),
])
def test_schema_rejects_what_the_contract_forbids(change, message):
    sample = _load(SAMPLES[0])
    report = r.build_report(sample['cluster'], sample['findings'], sample['stats'], generated_at=sample['generated_at'])
    assert _errors(report) == []
    change(report)
    errors = _errors(report)
    assert any(message in e for e in errors), errors


def test_docs_report_md_documents_every_cause_remediation():
    with open(os.path.join(ROOT, 'docs', 'report.md'), encoding='utf-8') as handle:
        text = handle.read()
    assert 'report.schema.json' in text and 'scripts/report_schema.py' in text
    rows = {line.split('|')[1].strip(' `'): line for line in text.splitlines() if line.startswith('| `')}
    assert sorted(rows) == sorted(CAUSE_IDS)
    for cause in CAUSES:
        documented = [key for key in cause.remediation_keys if '`%s`' % key in rows[cause.id]]
        assert documented, cause.id
