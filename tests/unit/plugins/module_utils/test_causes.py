# -*- coding: utf-8 -*-
# Copyright (c) 2026 aks.tunnel contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The cause registry and everything that must agree with it: role variables, task files, tags, docs."""

from __future__ import annotations

import json
import os
import re

import pytest
import yaml

from ansible_collections.aks.tunnel.plugins.module_utils import _causes as c

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..', '..', '..'))
ALL = list(c.CAUSE_IDS)
NSG, UFW, IPT, EGRESS, SNAT, KONN, NFT, KUBELET, NETWORK, VNET = ALL[:10]


def _yaml(*parts):
    with open(os.path.join(ROOT, *parts), encoding='utf-8') as handle:
        return yaml.safe_load(handle)


def test_registry_is_consistent():
    assert len(set(ALL)) == len(ALL) == len(c.CAUSES)
    assert len(set(c.CAUSE_TAGS.values())) == len(ALL), 'each cause has its own tag'
    assert c.TAG_SYMPTOM not in c.CAUSE_TAGS.values()
    for cause in c.CAUSES:
        assert cause.sources and set(cause.sources) <= set(c.SOURCES), cause
        assert cause.repair in (c.REPAIR_AUTOMATIC, c.REPAIR_PARTIAL, c.REPAIR_ADVICE), cause
        assert cause.title and cause.remediation_keys, cause
    for source in c.SOURCES:
        assert c.causes_of_source(source), 'source %s reports on no cause' % source


# Every hand-written list of cause ids left in YAML: (file, path to the list).
ROLE_CAUSE_LISTS = [
    (('roles', 'diagnose', 'defaults', 'main.yml'), ('aks_tunnel_checks',)),
    (('roles', 'remediate', 'defaults', 'main.yml'), ('aks_tunnel_remediate',)),
    (('roles', 'diagnose', 'meta', 'argument_specs.yml'), ('argument_specs', 'main', 'options', 'aks_tunnel_checks', 'choices')),
    (('roles', 'diagnose', 'meta', 'argument_specs.yml'), ('argument_specs', 'main', 'options', 'aks_tunnel_checks', 'default')),
    (('roles', 'remediate', 'meta', 'argument_specs.yml'), ('argument_specs', 'main', 'options', 'aks_tunnel_remediate', 'choices')),
    (('roles', 'remediate', 'meta', 'argument_specs.yml'), ('argument_specs', 'main', 'options', 'aks_tunnel_remediate', 'default')),
]


@pytest.mark.parametrize('path, keys', ROLE_CAUSE_LISTS, ids='/'.join)
def test_every_cause_list_in_yaml_is_the_registry(path, keys):
    value = _yaml(*path)
    for key in keys:
        value = value[key]
    assert value == ALL, '%s %s differs from the cause registry (plugins/module_utils/_causes.py)' % ('/'.join(path), '.'.join(keys))


@pytest.mark.parametrize('key', ['problems', 'unknown'])
def test_the_lab_scenario_schema_lists_the_registry(key):
    """A scenario's expect.problems/unknown are validated by tests/lab/scenario.schema.json's enum, so every scenario's ids are checked too."""
    with open(os.path.join(ROOT, 'tests', 'lab', 'scenario.schema.json'), encoding='utf-8') as handle:
        schema = json.load(handle)
    assert schema['properties']['expect']['properties'][key]['items']['enum'] == ALL, \
        'tests/lab/scenario.schema.json expect.%s differs from the cause registry (plugins/module_utils/_causes.py)' % key


def test_no_other_yaml_spells_the_cause_list():
    """No other YAML of roles/ or playbooks/ names a cause id (a list, a `when:`): derive it from the registry
    (aks_tunnel_plan, the report's findings) or add the list to ROLE_CAUSE_LISTS, where it is checked."""
    checked = set(os.path.join(*p) for p, _k in ROLE_CAUSE_LISTS)
    for top in ('roles', 'playbooks'):
        for folder, _dirs, files in os.walk(os.path.join(ROOT, top)):
            for name in files:
                path = os.path.relpath(os.path.join(folder, name), ROOT)
                if not name.endswith('.yml') or path in checked:
                    continue
                with open(os.path.join(ROOT, path), encoding='utf-8') as handle:
                    text = handle.read()
                named = [cause for cause in ALL if cause in text]
                assert not named, '%s names cause id(s) %s: derive them from the registry, or check the list in ROLE_CAUSE_LISTS' % (
                    path, ', '.join(named))


def test_every_source_and_repair_has_its_task_file():
    for source in c.SOURCES:
        assert os.path.exists(os.path.join(ROOT, 'roles', 'diagnose', 'tasks', source + '.yml')), source
    for cause in c.CAUSES:
        assert os.path.exists(os.path.join(ROOT, 'roles', 'remediate', 'tasks', cause.repair_tasks + '.yml')), cause.id


@pytest.mark.parametrize('role', ['diagnose', 'remediate'])
def test_the_include_loops_list_every_cause_tag(role):
    """--list-tags shows the cause tags; the include carries them (and `always`, so every source/repair runs)."""
    tasks = _yaml('roles', role, 'tasks', 'main.yml')
    (loop,) = [t for t in tasks if 'ansible.builtin.include_tasks' in t]
    tags = set(loop['tags'])
    assert 'always' in tags and set(c.CAUSE_TAGS.values()) <= tags


def test_docs_have_a_section_per_cause():
    with open(os.path.join(ROOT, 'docs', 'causes.md'), encoding='utf-8') as handle:
        text = handle.read()
    headings = re.findall(r'^## `(\w+)`', text, re.MULTILINE)
    assert headings == ALL


@pytest.mark.parametrize('kwargs, causes, sources', [
    ({}, ALL, ['probe', 'path', 'nsg', 'snat', 'konnectivity', 'apiserver', 'egress']),
    ({'run_tags': ['nsg']}, [NSG], ['nsg']),
    ({'run_tags': ['egress']}, [EGRESS], ['probe', 'nsg', 'egress']),
    ({'run_tags': ['ufw', 'iptables']}, [UFW, IPT], ['probe']),
    ({'run_tags': ['kubelet']}, [KUBELET], ['probe', 'apiserver']),
    ({'run_tags': ['all'], 'skip_tags': ['nsg', 'egress', 'network', 'kubelet', 'vnet']}, [UFW, IPT, SNAT, KONN, NFT], ['probe', 'snat', 'konnectivity']),
    ({'run_tags': ['always']}, [], []),
    ({'checks': [SNAT, NSG]}, [NSG, SNAT], ['nsg', 'snat']),
    ({'checks': 'snat_exhaustion,nsg_blocks_10250'}, [NSG, SNAT], ['nsg', 'snat']),
    # The symptom's evidence first, in the symptom's order; without --tags symptom every cause is still covered.
    ({'symptom_causes': [KONN, EGRESS]}, ALL, ['konnectivity', 'probe', 'nsg', 'egress', 'path', 'snat', 'apiserver']),
    ({'symptom_causes': [{'cause': SNAT, 'explanation': 'x'}]}, ALL, ['snat', 'probe', 'path', 'nsg', 'konnectivity', 'apiserver', 'egress']),
    # The path evaluation reads the probe's unreachable nodes: the probe runs first even when the symptom names the path.
    ({'symptom_causes': [NETWORK]}, ALL, ['probe', 'path', 'nsg', 'snat', 'konnectivity', 'apiserver', 'egress']),
    ({'run_tags': ['network']}, [NETWORK], ['path']),
    # --tags symptom: only the symptom's causes; a symptom that matched nothing covers every cause.
    ({'run_tags': ['symptom'], 'symptom_causes': [NSG, UFW, IPT]}, [NSG, UFW, IPT], ['nsg', 'probe']),
    ({'run_tags': ['symptom'], 'symptom_causes': []}, ALL, ['probe', 'path', 'nsg', 'snat', 'konnectivity', 'apiserver', 'egress']),
    ({'run_tags': ['symptom', 'snat'], 'symptom_causes': [NSG]}, [NSG, SNAT], ['nsg', 'snat']),
    ({'skip_tags': ['symptom'], 'symptom_causes': [NSG]}, [UFW, IPT, EGRESS, SNAT, KONN, NFT, KUBELET, NETWORK, VNET],
     ['probe', 'path', 'nsg', 'snat', 'konnectivity', 'apiserver', 'egress']),
    # A remediation covers only the problems.
    ({'problems': [IPT, SNAT]}, [IPT, SNAT], ['probe', 'snat']),
    ({'problems': [], 'run_tags': ['nsg']}, [], []),
])
def test_plan(kwargs, causes, sources):
    result = c.plan(**kwargs)
    assert result['causes'] == causes
    assert result['sources'] == sources
    assert result['tags'] == dict((cause, c.CAUSE_TAGS[cause]) for cause in causes)
    for source, covered in result['source_causes'].items():
        assert covered == [x for x in c.causes_of_source(source) if x in causes]


@pytest.mark.parametrize('problems, repairs', [
    ([NSG, EGRESS], ['nsg', 'egress']),
    ([UFW, IPT], ['node_firewall']),
    ([IPT, KONN, SNAT], ['node_firewall', 'snat', 'konnectivity']),
    ([NFT, KUBELET, NETWORK, NSG], ['nsg', 'advice']),
    ([], []),
])
def test_plan_repairs(problems, repairs):
    result = c.plan(problems=problems)
    assert result['repairs'] == repairs
    assert sorted(x for v in result['repair_causes'].values() for x in v) == sorted(problems)


@pytest.mark.parametrize('kwargs, message', [
    ({'checks': ['nsg', 'bogus']}, 'the causes to check names unknown cause(s) nsg, bogus'),
    ({'problems': ['bogus']}, 'the problems names unknown cause(s) bogus'),
])
def test_plan_refuses_unknown_causes(kwargs, message):
    with pytest.raises(c.PlanError, match=re.escape(message)):
        c.plan(**kwargs)


@pytest.mark.parametrize('args, message', [
    (('bogus', 'ok', 's'), "unknown cause id 'bogus'"),
    ((NSG, 'fine', 's'), "unknown status 'fine' for nsg_blocks_10250"),
])
def test_make_finding_refuses(args, message):
    with pytest.raises(c.FindingError, match=re.escape(message)):
        c.make_finding(*args)
