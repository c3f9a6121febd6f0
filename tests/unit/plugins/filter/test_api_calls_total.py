# -*- coding: utf-8 -*-
# Copyright (c) 2026 aks.tunnel contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import pytest
import yaml

from ansible.errors import AnsibleFilterError

from ansible_collections.aks.tunnel.plugins.filter import api_calls_total as plugin
from ansible_collections.aks.tunnel.plugins.filter.api_calls_total import FilterModule, api_calls_total


def ok(arm, kube, **extra):
    return dict({'changed': False, 'api_calls': {'arm': arm, 'kube': kube}}, **extra)


SKIPPED = {'changed': False, 'skipped': True, 'skip_reason': 'Conditional result was False', 'false_condition': 'x'}
LOOP = {'changed': True, 'msg': 'All items completed', 'skipped': False,
        'results': [ok(3, 0, item='a', ansible_loop_var='item'), dict(SKIPPED, item='b', ansible_loop_var='item'),
                    ok(4, 1, item='c', ansible_loop_var='item', failed=True, msg='boom')]}


@pytest.mark.parametrize('results, start, expected', [
    ([], None, {'arm': 0, 'kube': 0}),
    ([ok(5, 2)], None, {'arm': 5, 'kube': 2}),
    # one result may be passed without a list
    (ok(5, 2), None, {'arm': 5, 'kube': 2}),
    ([ok(5, 2), ok(1, 0), ok(0, 7)], None, {'arm': 6, 'kube': 9}),
    # skipped results, results of other modules and None count 0
    ([ok(1, 1), SKIPPED, {'changed': False, 'msg': 'debug'}, None], None, {'arm': 1, 'kube': 1}),
    # a loop result counts each item (skipped items 0, failed items what they report)
    ([LOOP], None, {'arm': 7, 'kube': 1}),
    (LOOP, {'arm': 10, 'kube': 20}, {'arm': 17, 'kube': 21}),
    # a skipped loop
    ([{'changed': False, 'skipped': True, 'results': [dict(SKIPPED, item=1)]}], None, {'arm': 0, 'kube': 0}),
    # a module result with its own `results` list (vmss_runcommand_probe): api_calls wins, results are not items
    ([ok(9, 1, results=[ok(100, 100)])], None, {'arm': 9, 'kube': 1}),
    # a failed result (rescue: ansible_failed_result) counts what the module reported
    ([dict(ok(2, 0), failed=True, msg='HTTP 403')], {'arm': 1, 'kube': 1}, {'arm': 3, 'kube': 1}),
    # start: missing keys and None values count 0, None starts from zero
    ([ok(1, 1)], {'arm': 4}, {'arm': 5, 'kube': 1}),
    ([ok(1, 1)], {'arm': None, 'kube': 2}, {'arm': 1, 'kube': 3}),
    ([], {'arm': 3, 'kube': 4}, {'arm': 3, 'kube': 4}),
    # partial api_calls
    ([{'api_calls': {'arm': 2}}], None, {'arm': 2, 'kube': 0}),
])
def test_sums(results, start, expected):
    assert api_calls_total(results, start) == expected


@pytest.mark.parametrize('results, start, message', [
    (None, None, 'expects a list of registered results or one result, got NoneType'),
    ('text', None, 'expects a list of registered results or one result, got str'),
    (42, None, 'expects a list of registered results or one result, got int'),
    (['text'], None, r'result\[0\] is not a registered result \(a dictionary\), got str'),
    ([{'api_calls': 3}], None, r'result\[0\].api_calls must be a dictionary with arm and kube, got int'),
    ([{'api_calls': {'arm': -1, 'kube': 0}}], None, r'result\[0\].api_calls.arm must be a non-negative integer, got -1'),
    ([{'api_calls': {'arm': '3', 'kube': 0}}], None, r"result\[0\].api_calls.arm must be a non-negative integer, got '3'"),
    ([{'api_calls': {'arm': True, 'kube': 0}}], None, r'result\[0\].api_calls.arm must be a non-negative integer, got True'),
    ([{'results': [{'api_calls': {'kube': 1.5}}]}], None, r'result\[0\].results\[0\].api_calls.kube must be a non-negative integer'),
    ([], [1, 2], 'start must be a dictionary with arm and kube, got list'),
])
def test_rejects_what_is_not_a_result(results, start, message):
    with pytest.raises(AnsibleFilterError, match=message):
        api_calls_total(results, start)


def test_result_is_plain_ints():
    class TaggedList(list):
        """Stands in for the list subclasses Ansible's templar passes to filters."""

    class TaggedDict(dict):
        pass

    total = api_calls_total(TaggedList([TaggedDict(api_calls=TaggedDict(arm=2, kube=3))]), TaggedDict(arm=1, kube=0))
    assert total == {'arm': 3, 'kube': 3}
    assert all(value.__class__ is int for value in total.values())


def test_filter_module_registration():
    filters = FilterModule().filters()
    assert list(filters) == ['api_calls_total']
    assert filters['api_calls_total'] is api_calls_total


@pytest.mark.parametrize('block', ['DOCUMENTATION', 'EXAMPLES', 'RETURN'])
def test_docs_are_valid_yaml(block):
    data = yaml.safe_load(getattr(plugin, block))
    assert data
    if block == 'DOCUMENTATION':
        assert data['name'] == 'api_calls_total'
        assert data['version_added'] == '0.1.0'
        assert sorted(data['options']) == ['_input', 'start']
    if block == 'RETURN':
        assert sorted(data['_value']['contains']) == ['arm', 'kube']
