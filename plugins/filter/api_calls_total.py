# -*- coding: utf-8 -*-
# Copyright (c) 2026 aks.tunnel contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
name: api_calls_total
version_added: 0.1.0
short_description: Add up the Azure and Kubernetes API calls of registered aks.tunnel results
description:
  - >-
    Every aks.tunnel module returns C(api_calls), the HTTP requests it sent to Azure Resource Manager
    (C(arm): retries, long-running operation polls and list pages included, token requests not) and
    to the Kubernetes API server (C(kube)). This filter sums them over registered results.
  - >-
    A skipped result, a result without C(api_calls) (for example of another module) and C(None)
    count 0. A loop result (with C(results)) counts each of its items. A failed result counts too:
    modules report the calls they made before failing.
  - >-
    The roles of this collection keep the running total of a diagnosis in the fact
    C(aks_tunnel_api_calls) with this filter; the report shows it as C(stats.arm_calls) and
    C(stats.kube_calls).
options:
  _input:
    description: Registered results (a list), or one registered result (a dictionary).
    type: raw
    required: true
  start:
    description:
      - A counter to add to, for example the running total of the previous tasks.
      - Missing keys count 0; C(None) starts from zero.
    type: dict
author: aks.tunnel contributors
"""

EXAMPLES = r"""
- name: Add up the calls of two tasks
  ansible.builtin.debug:
    msg: "{{ [model, nsg_check] | aks.tunnel.api_calls_total }}"
  # -> {"arm": 14, "kube": 2}

- name: Keep a running total (a loop result counts every item)
  ansible.builtin.set_fact:
    my_api_calls: "{{ nsg_rules | aks.tunnel.api_calls_total(my_api_calls | default(none)) }}"

- name: Count a failed task in a rescue
  ansible.builtin.set_fact:
    my_api_calls: "{{ ansible_failed_result | aks.tunnel.api_calls_total(my_api_calls) }}"
"""

RETURN = r"""
_value:
  description: The sum, added to O(start).
  type: dict
  contains:
    arm:
      description: HTTP requests to Azure Resource Manager.
      type: int
      sample: 14
    kube:
      description: HTTP requests to the Kubernetes API server.
      type: int
      sample: 2
"""

from collections.abc import Mapping, Sequence

from ansible.errors import AnsibleFilterError

KEYS = ('arm', 'kube')


def _count(value, where):
    if value is None:
        return 0
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise AnsibleFilterError('api_calls_total: %s must be a non-negative integer, got %r' % (where, value))
    return int(value)


def _add(total, counts, where):
    if not isinstance(counts, Mapping):
        raise AnsibleFilterError('api_calls_total: %s must be a dictionary with arm and kube, got %s' % (where, type(counts).__name__))
    for key in KEYS:
        total[key] += _count(counts.get(key), '%s.%s' % (where, key))


def _add_result(total, result, where):
    if result is None:
        return
    if not isinstance(result, Mapping):
        raise AnsibleFilterError('api_calls_total: %s is not a registered result (a dictionary), got %s' % (where, type(result).__name__))
    if result.get('skipped') is True and 'api_calls' not in result:
        return
    if 'api_calls' in result:
        # Checked first: a module may itself return a list named `results` (vmss_runcommand_probe does).
        _add(total, result['api_calls'], where + '.api_calls')
        return
    items = result.get('results')
    if isinstance(items, Sequence) and not isinstance(items, (str, bytes)):
        for index, item in enumerate(items):
            _add_result(total, item, '%s.results[%d]' % (where, index))


def api_calls_total(results, start=None):
    """Filter entry point: registered result(s) -> {"arm": N, "kube": N}, added to `start`."""
    total = dict.fromkeys(KEYS, 0)
    if start is not None:
        _add(total, start, 'start')
    if isinstance(results, Mapping):
        results = [results]
    elif results is None or isinstance(results, (str, bytes)) or not isinstance(results, Sequence):
        raise AnsibleFilterError('api_calls_total expects a list of registered results or one result, got %s' % type(results).__name__)
    for index, result in enumerate(results):
        _add_result(total, result, 'result[%d]' % index)
    return total


class FilterModule:
    """aks.tunnel.api_calls_total"""

    def filters(self):
        return {'api_calls_total': api_calls_total}
