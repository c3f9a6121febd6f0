# -*- coding: utf-8 -*-
# Copyright (c) 2026 aks.tunnel contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations


class ModuleDocFragment:
    # The cluster options of every module that reads the cluster (argument spec: module_utils/_cluster_options.py).
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
  cluster_model:
    description:
      - The registered result of M(aks.tunnel.aks_cluster_info) for this cluster.
      - When given, the module does not read the managed cluster, its scale sets, instances, network interfaces, subnets and
        VNets, nor the Kubernetes nodes and tunnel pods again; it works on that model. A diagnosis reads the cluster once
        this way.
      - It must be a result of M(aks.tunnel.aks_cluster_info) of this collection version for the cluster named by O(resource_group)
        and O(name); anything else fails the task.
      - Default - the module reads what it needs itself.
    type: dict
'''

    # Kubernetes-only modules: no Azure cluster options, the model only.
    MODEL = r'''
options:
  cluster_model:
    description:
      - The registered result of M(aks.tunnel.aks_cluster_info).
      - When given, the module takes the Kubernetes nodes (and the tunnel pods it lists) from that model instead of listing them
        again. A diagnosis reads the cluster once this way.
      - It must be a result of M(aks.tunnel.aks_cluster_info) of this collection version; anything else fails the task.
      - Default - the module reads what it needs itself.
    type: dict
'''
