# -*- coding: utf-8 -*-
# Copyright (c) 2026 aks.tunnel contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations


class ModuleDocFragment:
    # The options every module shares; their argument spec is in plugins/module_utils/_cluster_options.py.

    # The cluster a module works on (CLUSTER_ARGSPEC).
    DOCUMENTATION = r'''
options:
  resource_group:
    description: Resource group of the managed cluster.
    type: str
    required: true
  name:
    description: Name of the managed cluster.
    type: str
    required: true
'''

    # The model of a previous aks.tunnel.aks_cluster_info task (MODEL_ARGSPEC).
    MODEL = r'''
options:
  cluster_model:
    description:
      - The registered result of M(aks.tunnel.aks_cluster_info) for this cluster.
      - When given, the module does not read again what the model holds - the managed cluster, its scale sets, instances,
        network interfaces, subnets and VNets, the Kubernetes nodes and the tunnel pods; it works on the model. A diagnosis
        reads the cluster once this way.
      - It must be a result of M(aks.tunnel.aks_cluster_info) of this collection version, and of the cluster named by the
        module's C(resource_group) and C(name) when it has them; anything else fails the task.
      - Default - the module reads what it needs itself.
    type: dict
'''

    # The timeout of each API request (API_TIMEOUT_ARGSPEC).
    API_TIMEOUT = r'''
options:
  api_timeout:
    description: Seconds allowed for each request to Azure Resource Manager or the Kubernetes API server.
    type: int
    default: 60
'''

    # The nodes the checked flows start from (SOURCE_NODES_ARGSPEC): nsg_port_check, network_path_info, egress_route_info.
    SOURCE_NODES = r'''
options:
  source_nodes:
    description:
      - Nodes the checked flows start from (Kubernetes node names).
      - Default - the nodes hosting the tunnel pods (from O(cluster_model), else read from Kubernetes).
    type: list
    elements: str
'''

    # The kubelet port (KUBELET_PORT_ARGSPEC): nsg_port_check, network_path_info, vmss_runcommand_probe.
    KUBELET_PORT = r'''
options:
  port:
    description: The kubelet port the API server reaches through the tunnel (TCP).
    type: int
    default: 10250
'''
