# -*- coding: utf-8 -*-
# Copyright (c) 2026 aks.tunnel contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
name: tunnel_symptom_endpoints
version_added: 0.1.0
short_description: The node endpoints an AKS tunnel error text names
description:
  - Returns the C(<ip>:<port>) endpoints a failing dial in the text went to (C(dial tcp <ip>:<port>), C(while dialing <ip>:<port>),
    C(-><ip>:<port>), C(https://<ip>:<port>/)), in order of first appearance, each once; host names and placeholders are skipped.
  - The diagnose role passes the kubelet endpoints (O(port)) to the Run Command probe's C(inspect_nodes), so the node a symptom
    names is inspected (firewall, listener, TLS) even when it answers on TCP - a plain-HTTP kubelet accepts connections.
options:
  _input:
    description: The error text.
    type: string
    required: true
  port:
    description: Keep only the endpoints on this port (V(0) keeps every port).
    type: int
    default: 10250
author: aks.tunnel contributors
"""

EXAMPLES = r"""
- name: The kubelet endpoints of a kubectl error
  ansible.builtin.debug:
    msg: "{{ 'Error from server: error dialing backend: dial tcp 10.240.0.5:10250: i/o timeout' | aks.tunnel.tunnel_symptom_endpoints }}"
  # -> ["10.240.0.5:10250"]
"""

RETURN = r"""
_value:
  description: The endpoints, C(<ip>:<port>) (IPv6 without brackets, as C(vmss_runcommand_probe) takes them).
  type: list
  elements: string
  sample: ["10.240.0.5:10250"]
"""

from ansible.errors import AnsibleFilterError

from ansible_collections.aks.tunnel.plugins.module_utils._symptoms import SymptomInputError, extract_endpoints


def tunnel_symptom_endpoints(text, port=10250):
    if not isinstance(text, str):
        raise AnsibleFilterError('tunnel_symptom_endpoints expects a string (error text), got %s' % type(text).__name__)
    try:
        found = extract_endpoints(str(text))
    except SymptomInputError as exc:
        raise AnsibleFilterError('tunnel_symptom_endpoints: %s' % exc) from exc
    out = []
    for item in found:
        if port and int(item['port']) != int(port):
            continue
        value = '%s:%d' % (item['ip'], item['port'])
        if value not in out:
            out.append(value)
    return out


class FilterModule:
    """aks.tunnel.tunnel_symptom_endpoints"""

    def filters(self):
        return {'tunnel_symptom_endpoints': tunnel_symptom_endpoints}
