# -*- coding: utf-8 -*-
# Copyright (c) 2026 aks.tunnel contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Table tests of the emulator's pure helpers: selectors, patches, quantities, the store's paging."""

from __future__ import annotations

import decimal

import pytest

from ansible_collections.aks.tunnel.tests.lab.kube.patch import json_patch, merge_patch, strategic_merge_patch
from ansible_collections.aks.tunnel.tests.lab.kube.selectors import parse_label_selector
from ansible_collections.aks.tunnel.tests.lab.kube.store import Store
from ansible_collections.aks.tunnel.tests.lab.kube.util import ApiError, QuantityError, kibibytes, nanocores, parse_quantity

LABELS = {'app': 'konnectivity-agent', 'component': 'tunnel', 'tier': ''}


@pytest.mark.parametrize('selector, expected', [
    ('app=konnectivity-agent', True),
    ('app==konnectivity-agent', True),
    ('app = konnectivity-agent , component=tunnel', True),
    ('app!=konnectivity-agent', False),
    ('app!=other', True),
    ('missing!=x', True),
    ('app in (a, konnectivity-agent)', True),
    ('app in (a,b)', False),
    ('app notin (a,b)', True),
    ('missing notin (a)', True),
    ('app notin (konnectivity-agent)', False),
    ('tier', True),
    ('tier=', True),
    ('!tier', False),
    ('!missing', True),
    ('missing', False),
    ('app in (konnectivity-agent),component notin (x),!missing', True),
])
def test_label_selector(selector, expected):
    assert parse_label_selector(selector)(LABELS) is expected


@pytest.mark.parametrize('selector', ['a b=c', 'app in ()', '=x'])
def test_bad_label_selector(selector):
    with pytest.raises(ApiError) as info:
        parse_label_selector(selector)
    assert info.value.code == 400


@pytest.mark.parametrize('target, patch, expected', [
    ({'a': 1, 'b': {'c': 2, 'd': 3}}, {'b': {'c': None, 'e': 4}}, {'a': 1, 'b': {'d': 3, 'e': 4}}),
    ({'a': [1, 2]}, {'a': [3]}, {'a': [3]}),
    ({'a': 1}, {'a': None, 'z': None}, {}),
    ({'a': {'b': 1}}, {'a': 'flat'}, {'a': 'flat'}),
])
def test_merge_patch(target, patch, expected):
    assert merge_patch(target, patch) == expected


@pytest.mark.parametrize('target, patch, expected', [
    ({'containers': [{'name': 'a', 'image': 'x'}, {'name': 'b', 'image': 'y'}]},
     {'containers': [{'name': 'b', 'image': 'z'}]},
     {'containers': [{'name': 'a', 'image': 'x'}, {'name': 'b', 'image': 'z'}]}),
    ({'containers': [{'name': 'a'}, {'name': 'b'}]}, {'containers': [{'name': 'a', '$patch': 'delete'}]}, {'containers': [{'name': 'b'}]}),
    ({'containers': [{'name': 'a'}]}, {'containers': [{'name': 'c'}]}, {'containers': [{'name': 'a'}, {'name': 'c'}]}),
    ({'args': ['-a', '-b']}, {'args': ['-c']}, {'args': ['-c']}),
    ({'data': {'x': '1', 'y': '2'}}, {'data': {'$patch': 'replace', 'z': '3'}}, {'data': {'z': '3'}}),
    ({'data': {'x': '1'}}, {'data': {'x': None}}, {'data': {}}),
])
def test_strategic_merge_patch(target, patch, expected):
    assert strategic_merge_patch(target, patch) == expected


@pytest.mark.parametrize('operations, expected', [
    ([{'op': 'add', 'path': '/a/-', 'value': 3}], {'a': [1, 2, 3], 'b': {'c': 'd'}}),
    ([{'op': 'add', 'path': '/a/0', 'value': 0}], {'a': [0, 1, 2], 'b': {'c': 'd'}}),
    ([{'op': 'remove', 'path': '/a/1'}], {'a': [1], 'b': {'c': 'd'}}),
    ([{'op': 'replace', 'path': '/b/c', 'value': 'e'}], {'a': [1, 2], 'b': {'c': 'e'}}),
    ([{'op': 'move', 'from': '/b/c', 'path': '/x'}], {'a': [1, 2], 'b': {}, 'x': 'd'}),
    ([{'op': 'copy', 'from': '/a', 'path': '/y'}], {'a': [1, 2], 'b': {'c': 'd'}, 'y': [1, 2]}),
    ([{'op': 'test', 'path': '/b/c', 'value': 'd'}], {'a': [1, 2], 'b': {'c': 'd'}}),
    ([{'op': 'add', 'path': '/b/s~1l~0t', 'value': 1}], {'a': [1, 2], 'b': {'c': 'd', 's/l~t': 1}}),
])
def test_json_patch(operations, expected):
    assert json_patch({'a': [1, 2], 'b': {'c': 'd'}}, operations) == expected


@pytest.mark.parametrize('operations, code', [
    ([{'op': 'test', 'path': '/b/c', 'value': 'x'}], 422),
    ([{'op': 'remove', 'path': '/nope'}], 422),
    ([{'op': 'replace', 'path': '/a/9', 'value': 1}], 422),
    ([{'op': 'jump', 'path': '/a'}], 400),
    ({'op': 'add'}, 400),
])
def test_json_patch_errors(operations, code):
    with pytest.raises(ApiError) as info:
        json_patch({'a': [1, 2], 'b': {'c': 'd'}}, operations)
    assert info.value.code == code


@pytest.mark.parametrize('value, expected', [('1900m', '1.9'), ('2', '2'), ('5368Mi', str(5368 * 1024 * 1024)), ('1.5Gi', str(1536 * 1024 * 1024)),
                                             ('250000n', '0.00025'), (3, '3'), ('1e3', '1000'), ('100Ki', '102400')])
def test_parse_quantity(value, expected):
    assert parse_quantity(value) == decimal.Decimal(expected)


def test_quantity_formats_and_errors():
    assert nanocores('1500m') == '1500000000n' and kibibytes('4000Mi') == '4096000Ki'
    with pytest.raises(QuantityError):
        parse_quantity('lots')


def test_store_paging_with_namespaces_and_predicates():
    store = Store()
    for namespace in ('a', 'b', 'c'):
        for index in range(5):
            store.create('pods', {'metadata': {'name': 'p%d' % index, 'namespace': namespace}, 'odd': index % 2})
    rows, more, remaining = store.page('pods', 'b', None, None, 2)
    assert [key for key, _unused, _unused in rows] == [('b', 'p0'), ('b', 'p1')] and more and remaining == 3
    rows, more, remaining = store.page('pods', 'b', rows[-1][0], None, 3)
    assert [key for key, _unused, _unused in rows] == [('b', 'p2'), ('b', 'p3'), ('b', 'p4')] and not more
    rows, more, _unused = store.page('pods', None, None, lambda o: o['odd'], 5)
    assert [key for key, _unused, _unused in rows] == [('a', 'p1'), ('a', 'p3'), ('b', 'p1'), ('b', 'p3'), ('c', 'p1')] and more
    rows, more, _unused = store.page('pods', None, rows[-1][0], lambda o: o['odd'], 5)
    assert [key for key, _unused, _unused in rows] == [('c', 'p3')] and not more
    store.delete('pods', 'b', 'p2')
    assert [o['metadata']['name'] for o in store.items('pods', 'b')] == ['p0', 'p1', 'p3', 'p4']
    before = store.resource_version()
    store.mutate('pods', 'a', 'p0', lambda o: o.update(odd=9))
    assert int(store.get('pods', 'a', 'p0')['metadata']['resourceVersion']) == int(before) + 1
