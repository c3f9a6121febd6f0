# -*- coding: utf-8 -*-
# Copyright (c) 2026 aks.tunnel contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
name: ladder_replicas
version_added: 0.1.0
short_description: Replicas that cluster-proportional-autoscaler sets for a ladder
description:
  - Evaluates a cluster-proportional-autoscaler (CPA) C(ladder) document with the exact semantics of CPA v1.9.0,
    the version AKS runs as C(konnectivity-agent-autoscaler).
  - Both lists are sorted by threshold; a count equal to or above a threshold uses that entry; a count below the
    first threshold still uses the first entry; an absent or empty list gives 0; the result is the larger of the
    cores and nodes results.
  - Schedulable (not cordoned) counts are used unless the ladder sets C(includeUnschedulableNodes=true), then the totals.
  - The ladder is decoded like CPA's Go JSON decoder (keys match case-insensitively, unknown keys are ignored,
    non-integer numbers and negative values are refused).
options:
  _input:
    description:
      - The value of the C(ladder) key of the CPA ConfigMap's C(data), as a JSON string, or the same document as a mapping.
    type: raw
    required: true
  nodes:
    description: Total number of nodes CPA counts.
    type: int
    required: true
  cores:
    description: Total allocatable cores CPA counts (the sum of every node's allocatable CPU, rounded up once).
    type: int
    required: true
  schedulable_nodes:
    description: Number of schedulable (not cordoned) nodes. Defaults to O(nodes).
    type: int
  schedulable_cores:
    description: Allocatable cores of the schedulable nodes. Defaults to O(cores).
    type: int
author: aks.tunnel contributors
"""

EXAMPLES = r"""
- name: Replicas the AKS documented example ladder gives for 120 nodes
  ansible.builtin.debug:
    msg: "{{ '{\"nodesToReplicas\":[[1,2],[100,3],[250,4],[500,5],[1000,6],[5000,10]]}' | aks.tunnel.ladder_replicas(nodes=120, cores=480) }}"
  # => 3

- name: Predict konnectivity-agent replicas from the live ConfigMap, with two nodes cordoned
  ansible.builtin.set_fact:
    expected_agents: >-
      {{ autoscaler_cm.data.ladder
         | aks.tunnel.ladder_replicas(nodes=10, cores=40, schedulable_nodes=8, schedulable_cores=32) }}
"""

RETURN = r"""
_value:
  description: Number of replicas CPA v1.9.0 would set (0 when both lists are empty).
  type: int
"""

from ansible.errors import AnsibleFilterError

from ansible_collections.aks.tunnel.plugins.module_utils._ladder import LadderError, ladder_replicas as _engine_ladder_replicas


def _as_count(value, name, required):
    """Counts from Jinja may be ints or digit strings (extra vars); anything else is refused."""
    if value is None:
        if required:
            raise AnsibleFilterError('ladder_replicas: %s is required; pass %s=<whole number>' % (name, name))
        return None
    if isinstance(value, bool):
        raise AnsibleFilterError('ladder_replicas: %s must be a whole number, got the boolean %r' % (name, value))
    if isinstance(value, int) and value >= 0:
        return int(value)
    if isinstance(value, str) and value.strip().isdigit() and value.strip().isascii():
        return int(value.strip())
    raise AnsibleFilterError('ladder_replicas: %s must be a whole number of 0 or more, got %r' % (name, value))


def ladder_replicas(ladder, nodes=None, cores=None, schedulable_nodes=None, schedulable_cores=None):
    """Replicas CPA v1.9.0 sets for ``ladder`` at the given counts."""
    if ladder is None or (isinstance(ladder, str) and not ladder.strip()):
        raise AnsibleFilterError('ladder_replicas: the ladder is empty; pass the ConfigMap data.ladder JSON string '
                                 '(e.g. {"nodesToReplicas":[[1,2],[100,3]]}) or an equivalent mapping')
    counts = {
        'nodes': _as_count(nodes, 'nodes', True),
        'cores': _as_count(cores, 'cores', True),
        'schedulable_nodes': _as_count(schedulable_nodes, 'schedulable_nodes', False),
        'schedulable_cores': _as_count(schedulable_cores, 'schedulable_cores', False),
    }
    try:
        return _engine_ladder_replicas(ladder, **counts)
    except LadderError as exc:
        raise AnsibleFilterError('ladder_replicas: invalid ladder: %s' % exc) from exc


class FilterModule:
    """aks.tunnel ladder_replicas filter."""

    def filters(self):
        return {'ladder_replicas': ladder_replicas}
