# -*- coding: utf-8 -*-
# Copyright (c) 2026 aks.tunnel contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
name: tunnel_symptoms
version_added: 0.1.0
short_description: Map AKS tunnel error text to the likely causes
description:
  - >-
    Reads error output of C(kubectl logs), C(kubectl exec), C(kubectl port-forward), admission
    webhook failures, API server or konnectivity-agent logs and returns the likely causes, most
    likely first.
  - >-
    Recognises the three symptoms of the AKS tunnel troubleshooting article
    (C(dial tcp <node-ip>:10250: i/o timeout) from a C(containerLogs) URL or C(error dialing backend),
    and C(http: server gave HTTP response to HTTPS client) on port 10250) and related ones
    (C(connection refused), C(connection timed out), C(no route to host) on 10250,
    C(/tunnel-uds/socket) resets, C(No agent available), C(proxy error from ... while dialing),
    C(error dialing backend: EOF), C(context deadline exceeded), agent egress failures on 9000/1194,
    konnectivity-agent OOM kills).
  - >-
    Matching is case-insensitive, line by line, on the English error strings (kubectl output is
    never localized).
  - >-
    Causes are the collection's cause ids C(nsg_blocks_10250), C(ufw_blocks_10250),
    C(iptables_blocks_10250), C(egress_ports_blocked), C(snat_exhaustion), C(konnectivity_agent_scaling).
options:
  _input:
    description: The error text, one or more lines (for example the registered C(stderr) of a C(kubectl logs) task).
    type: string
    required: true
author: aks.tunnel contributors
"""

EXAMPLES = r"""
- name: Classify a failing kubectl logs call
  ansible.builtin.debug:
    msg: "{{ 'Error from server: error dialing backend: dial tcp 10.240.0.5:10250: i/o timeout' | aks.tunnel.tunnel_symptoms }}"
  # -> [{"cause": "nsg_blocks_10250", ...}, {"cause": "ufw_blocks_10250", ...}, {"cause": "iptables_blocks_10250", ...}]

- name: Run the checks for the most likely cause
  ansible.builtin.debug:
    msg: "{{ (logs_result.stderr | aks.tunnel.tunnel_symptoms | first).next_check }}"
  when: logs_result.stderr | aks.tunnel.tunnel_symptoms | length > 0

- name: Collect the cause ids only
  ansible.builtin.set_fact:
    suspected_causes: "{{ logs_result.stderr | aks.tunnel.tunnel_symptoms | map(attribute='cause') | list }}"
"""

RETURN = r"""
_value:
  description:
    - The likely causes, most likely first, each cause at most once.
    - An empty list when the text contains no known tunnel symptom.
  type: list
  elements: dictionary
  contains:
    cause:
      description: Cause id.
      type: string
      sample: nsg_blocks_10250
    explanation:
      description: One line saying what the text shows and why it points to this cause.
      type: string
      sample: >-
        connection to the kubelet port 10.240.0.5:10250 timed out (packets silently dropped): an NSG rule
        (subnet or node NIC NSG) denying TCP 10250 between nodes is the most common cause
    next_check:
      description: The command that checks this cause.
      type: string
      sample: ansible-playbook playbooks/diagnose.yml --tags nsg
"""

from ansible.errors import AnsibleFilterError

from ansible_collections.aks.tunnel.plugins.module_utils._symptoms import SymptomInputError, classify


def tunnel_symptoms(text):
    """Filter entry point: text -> list of {cause, explanation, next_check}."""
    if not isinstance(text, str):
        raise AnsibleFilterError(
            'tunnel_symptoms expects a string (error text), got %s; pass e.g. result.stderr, '
            'or join a list of lines first with "| join(\'\\n\')"' % type(text).__name__)
    try:
        return classify(str(text))
    except SymptomInputError as exc:
        raise AnsibleFilterError('tunnel_symptoms: %s' % exc) from exc


class FilterModule:
    """aks.tunnel.tunnel_symptoms"""

    def filters(self):
        return {'tunnel_symptoms': tunnel_symptoms}
