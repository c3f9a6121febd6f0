# -*- coding: utf-8 -*-
# Copyright (c) 2026 aks.tunnel contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
name: ladder_repair
version_added: 0.1.0
short_description: Whether a configured konnectivity-agent ladder must replace the live one
description:
  - Takes the C(remediation.ladder) of a C(konnectivity_agent_scaling) finding (from P(aks.tunnel.konnectivity_ladder#module)
    with C(state=query)) and the ladder the operator configured.
  - The live ladder is replaced only when cluster-proportional-autoscaler refuses it, it is unsafe (a step with fewer than
    one replica), it gives no replica count, or it gives fewer replicas than the configured ladder for today's cluster
    (CPA v1.9.0 semantics); a live ladder that already gives as many replicas is kept, since it may hold the operator's
    own tuning.
options:
  _input:
    description: The C(remediation.ladder) of the finding.
    type: dictionary
    required: true
  nodes_to_replicas:
    description: The configured ladder, C([[nodes, replicas], ...]).
    type: list
    elements: list
    required: true
author: aks.tunnel contributors
"""

EXAMPLES = r"""
- name: Write the configured ladder only where the live one falls short
  aks.tunnel.konnectivity_ladder:
    state: present
    nodes_to_replicas: "{{ my_ladder }}"
  when: (finding.remediation.ladder | aks.tunnel.ladder_repair(my_ladder)).needs_fix
"""

RETURN = r"""
_value:
  description: The decision.
  type: dictionary
  contains:
    needs_fix: {description: Whether to write the configured ladder., type: boolean}
    reason: {description: Why (or why not)., type: string, sample: 'the live ladder gives 1 replica(s), the configured ladder 2'}
    live_replicas: {description: Replicas the live ladder gives (null when CPA refuses it)., type: integer}
    desired_replicas: {description: Replicas the configured ladder gives., type: integer}
    configmap: {description: Name of the ConfigMap that holds the ladder., type: string}
    namespace: {description: Its namespace., type: string}
"""

from ansible.errors import AnsibleFilterError

from ansible_collections.aks.tunnel.plugins.module_utils import _konnectivity, _ladder


def ladder_repair(ladder_remediation, nodes_to_replicas):
    try:
        return _konnectivity.ladder_repair(ladder_remediation, nodes_to_replicas)
    except (ValueError, _ladder.LadderError) as exc:
        raise AnsibleFilterError('ladder_repair: %s' % exc) from exc


class FilterModule:
    """aks.tunnel.ladder_repair"""

    def filters(self):
        return {'ladder_repair': ladder_repair}
