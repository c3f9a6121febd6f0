#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2026 aks.tunnel contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r'''
module: aks_cluster_info
short_description: Build the model of an AKS cluster that the tunnel diagnosis works on
version_added: 0.1.0
description:
  - Reads the managed cluster, its node resource group's scale sets, their instances and network interfaces,
    the node subnets and VNets from Azure Resource Manager, and the nodes and tunnel pods from Kubernetes.
  - Maps every Kubernetes node to its VMSS instance by C(spec.providerID), falling back to the computer name.
  - Detects the tunnel component from the pods in C(kube-system) - C(app=konnectivity-agent) (konnectivity),
    C(app=aks-link) (aks-link) or C(component=tunnel) (tunnel-front) - and the egress it needs to the API
    server (konnectivity TCP 443 with ALPN C(konnectivity), tunnel-front TCP 9000, aks-link UDP 1194; none for
    private clusters and API Server VNet Integration).
  - All lists are paged, so a 5000-node cluster costs a handful of API calls per node pool, not one per node.
  - Never changes anything.
author: aks.tunnel contributors (@aks-tunnel)
extends_documentation_fragment:
  - aks.tunnel.cluster
  - aks.tunnel.cluster.API_TIMEOUT
  - aks.tunnel.azure
  - aks.tunnel.kubernetes
  - aks.tunnel.attributes
  - aks.tunnel.attributes.ACTIONGROUP_AZURE_AND_KUBERNETES
  - aks.tunnel.attributes.INFO_MODULE
notes:
  - Azure RBAC - read access to the managed cluster, the scale sets and instances of the node resource group,
    their network interfaces, the node subnets and VNets (the built-in Reader role is enough).
  - Kubernetes RBAC - C(list) on nodes and on pods in C(kube-system).
  - Without a kubeconfig the module gets Kubernetes access from its Azure identity (O(kube_access)); Azure RBAC then also needs
    C(Microsoft.ContainerService/managedClusters/listClusterUserCredential/action), and for a private cluster
    C(Microsoft.ContainerService/managedClusters/runCommand/action).
'''

EXAMPLES = r'''
- name: Read the cluster model
  aks.tunnel.aks_cluster_info:
    resource_group: rg-aks-prod
    name: aks-prod
    kubeconfig: ~/.kube/config
  register: aks

- name: Show the nodes that host the tunnel pods
  ansible.builtin.debug:
    msg: "{{ aks.tunnel.component }} runs on {{ aks.tunnel.nodes | join(', ') }}"

- name: Same, with module defaults for the whole play
  module_defaults:
    group/aks.tunnel.azure:
      subscription_id: "{{ subscription_id }}"
      auth_source: cli
  aks.tunnel.aks_cluster_info:
    resource_group: rg-aks-prod
    name: aks-prod
'''

RETURN = r'''
cluster:
  description: Cluster-level facts.
  returned: success
  type: dict
  contains:
    id: {description: Resource id of the managed cluster., type: str, returned: success}
    name: {description: Cluster name., type: str, returned: success}
    resource_group: {description: Resource group of the cluster., type: str, returned: success}
    subscription_id: {description: Subscription of the cluster., type: str, returned: success}
    location: {description: Azure region., type: str, returned: success}
    node_resource_group: {description: The node (MC_) resource group., type: str, returned: success}
    kubernetes_version: {description: Current Kubernetes version., type: str, returned: success}
    fqdn: {description: Public API server FQDN (null for private clusters without a public FQDN)., type: str, returned: success}
    private_fqdn: {description: Private API server FQDN of private clusters., type: str, returned: success}
    api_server_host: {description: The API server host the nodes use (private FQDN for private clusters)., type: str, returned: success}
    private_cluster: {description: Whether the API server is private., type: bool, returned: success}
    private_dns_zone:
      description: A private cluster's C(apiServerAccessProfile.privateDNSZone) (C(system), C(none) or a private DNS zone id); null otherwise.
      type: str
      returned: success
    api_server_private_ip:
      description:
        - A private cluster's API server address, from its C(kube-apiserver) private endpoint in the node resource group (the
          endpoint's C(customDnsConfigs), static C(ipConfigurations), else its NIC). Null when it could not be read.
      type: str
      returned: private clusters without API Server VNet Integration
    api_server_private_ip_source: {description: Where RV(cluster.api_server_private_ip) was read., type: str,
                                   returned: private clusters without API Server VNet Integration}
    api_server_private_ip_error: {description: Why RV(cluster.api_server_private_ip) is null (the ARM error)., type: str,
                                  returned: private clusters without API Server VNet Integration}
    private_endpoint_id: {description: Resource id of the C(kube-apiserver) private endpoint., type: str,
                          returned: private clusters without API Server VNet Integration}
    vnet_integration:
      description: Whether API Server VNet Integration is enabled (no tunnel with Azure CNI; konnectivity stays with CNI Overlay or BYOCNI).
      type: bool
      returned: success
    apiserver_subnet_id:
      description: The API server subnet of API Server VNet Integration (C(apiServerAccessProfile.subnetId); null when AKS manages it).
      type: str
      returned: success
    network_plugin: {description: "azure, kubenet or none.", type: str, returned: success}
    network_plugin_mode: {description: overlay or null., type: str, returned: success}
    outbound_type: {description: "loadBalancer, userDefinedRouting, managedNATGateway, userAssignedNATGateway or none.", type: str, returned: success}
    load_balancer_profile:
      description: The networkProfile.loadBalancerProfile as ARM returns it (null without a load balancer).
      type: dict
      returned: success
    load_balancer_id: {description: Id of the cluster load balancer (outboundType loadBalancer only)., type: str, returned: success}
    load_balancer_sku: {description: "C(standard) or C(basic) (null when ARM does not say).", type: str, returned: success}
    etag: {description: ETag of the managed cluster., type: str, returned: success}
    agent_pools:
      description:
        - 'The node pools: name, count, max_count, min_count, enable_auto_scaling, max_surge, mode, os_type, os_sku, vm_size.'
      type: list
      elements: dict
      returned: success
    nsg_ids: {description: The distinct NSGs of the node NICs and node subnets., type: list, elements: str, returned: success}
    vnet_ids: {description: VNets of the node subnets., type: list, elements: str, returned: success}
    vnet_address_prefixes:
      description: Address prefixes of those VNets (what the VirtualNetwork service tag covers).
      type: list
      elements: str
      returned: success
    subnet_ids: {description: Node subnets., type: list, elements: str, returned: success}
    node_count: {description: Number of nodes in the model., type: int, returned: success}
  sample:
    id: /subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg-aks-prod/providers/Microsoft.ContainerService/managedClusters/aks-prod
    name: aks-prod
    node_resource_group: MC_rg-aks-prod_aks-prod_westeurope
    fqdn: aks-prod-1a2b3c4d.hcp.westeurope.azmk8s.io
    api_server_host: aks-prod-1a2b3c4d.hcp.westeurope.azmk8s.io
    private_cluster: false
    vnet_integration: false
    network_plugin: azure
    outbound_type: loadBalancer
    vnet_address_prefixes: [10.224.0.0/12]
nodes:
  description: One entry per node (VMSS instance and/or Kubernetes node), sorted by pool and name.
  returned: success
  type: list
  elements: dict
  sample:
    - name: aks-nodepool1-12345678-vmss000000
      pool: nodepool1
      vmss: aks-nodepool1-12345678-vmss
      instance_id: '0'
      vm_id: /subscriptions/.../virtualMachineScaleSets/aks-nodepool1-12345678-vmss/virtualMachines/0
      computer_name: aks-nodepool1-12345678-vmss000000
      private_ip: 10.224.0.4
      subnet_id: /subscriptions/.../virtualNetworks/aks-vnet-12345678/subnets/aks-subnet
      subnet_prefix: 10.224.0.0/16
      nic_id: /subscriptions/.../virtualMachines/0/networkInterfaces/aks-nodepool1-12345678-vmss
      nic_nsg_id: /subscriptions/.../networkSecurityGroups/aks-agentpool-12345678-nsg
      subnet_nsg_id: null
      os: Ubuntu
      os_type: Linux
      in_kubernetes: true
      ready: true
      unschedulable: false
      allocatable_cpu: 1900m
      allocatable_memory: 5368Mi
      hosts_tunnel: true
tunnel:
  description: The tunnel component, its pods, the nodes hosting them and the egress it needs.
  returned: success
  type: dict
  contains:
    component: {description: "konnectivity, tunnel-front, aks-link or none.", type: str, returned: success}
    namespace: {description: Namespace of the tunnel pods., type: str, returned: success}
    selector: {description: Label selector the tunnel pods were listed with (null without a tunnel)., type: str, returned: success}
    pods: {description: 'Tunnel pods: name, node, phase, ready, restarts.', type: list, elements: dict, returned: success}
    pod_objects:
      description:
        - Every pod the component's selector listed (terminating ones too) as the Kubernetes API returned it, without
          C(metadata.managedFields); M(aks.tunnel.konnectivity_agent_info) given the model reads them from here.
      type: list
      elements: dict
      returned: success
    nodes: {description: Nodes that host a tunnel pod., type: list, elements: str, returned: success}
    egress:
      description: 'Egress the component needs to the API server: protocol, port, kind (tcp, tls, udp) and alpn.'
      type: list
      elements: dict
      returned: success
    egress_reason: {description: Why that egress is (or is not) needed., type: str, returned: success}
  sample:
    component: konnectivity
    pods: [{name: konnectivity-agent-5d9c7b6f4-x2k8q, node: aks-nodepool1-12345678-vmss000000, phase: Running, ready: true, restarts: 0}]
    nodes: [aks-nodepool1-12345678-vmss000000]
    egress: [{protocol: Tcp, port: 443, kind: tls, alpn: konnectivity}]
    egress_reason: konnectivity needs TCP 443 with ALPN konnectivity to the API server
model_version:
  description:
    - Version of the model's shape. Modules given the result as O(aks.tunnel.vmss_runcommand_probe#module:cluster_model) check it.
  returned: success
  type: int
  sample: 2
kubernetes_read:
  description:
    - Whether the Kubernetes nodes and tunnel pods were read. Without Kubernetes access (no kubeconfig, no credential
      from Azure, an API server that does not answer) the model is built from Azure alone and RV(kubernetes_error) says why;
      the Kubernetes-side checks of a diagnosis are then UNKNOWN.
  returned: success
  type: bool
  sample: true
kubernetes_error:
  description: Why the Kubernetes nodes and tunnel pods were not read.
  returned: when RV(kubernetes_read) is false
  type: str
  sample: "Kubernetes authentication settings: kubeconfig /home/ci/.kube/config does not exist; ..."
kube_access:
  description:
    - How Kubernetes was reached when not through a kubeconfig (O(kube_access)) - V(arm) or V(run_command) - with the
      credential, whether the cluster uses Microsoft Entra ID, and why.
  returned: when Kubernetes was reached through Azure Resource Manager
  type: dict
  contains:
    mode: {description: "V(arm) or V(run_command).", type: str, returned: always}
    credential: {description: "V(user) or V(admin).", type: str, returned: always}
    entra: {description: "Whether the token came from Microsoft Entra ID for the AKS server application.", type: bool, returned: always}
    notes: {description: "What was done and why.", type: list, elements: str, returned: always}
  sample: {mode: run_command, credential: user, entra: true, notes: ["user credential of rg-aks/aks from ARM"]}
azure_subscription:
  description:
    - The subscription the task used and where it came from - the O(subscription_id) option, E(AZURE_SUBSCRIPTION_ID), the
      credentials file, or the Azure CLI's current subscription (C(az account show)) when nothing else names one.
  returned: when Azure was used
  type: dict
  contains:
    id: {description: "Subscription id.", type: str, returned: always}
    name: {description: "Subscription name (known from the Azure CLI profile only).", type: str, returned: always}
    source: {description: "Where the subscription came from.", type: str, returned: always}
    auth: {description: "Where the credentials came from.", type: str, returned: always}
  sample: {id: 00000000-0000-0000-0000-000000000000, name: Production, source: "the Azure CLI's current subscription (az account show,
           /home/me/.azure/azureProfile.json)", auth: Azure CLI login}
api_calls:
  description:
    - HTTP requests the task sent, also when it failed. C(arm) counts every request to Azure Resource Manager (retries,
      long-running operation polls and list pages included; Entra token requests not), C(kube) every request to the
      Kubernetes API server (retries and list pages included).
    - Add them up over tasks with the P(aks.tunnel.api_calls_total#filter) filter; the diagnosis report shows the totals as
      C(stats.arm_calls) and C(stats.kube_calls).
  returned: always
  type: dict
  contains:
    arm: {description: "Requests to Azure Resource Manager.", type: int, returned: always}
    kube: {description: "Requests to the Kubernetes API server.", type: int, returned: always}
  sample: {arm: 12, kube: 2}
'''

from ansible_collections.aks.tunnel.plugins.module_utils import _cluster_options
from ansible_collections.aks.tunnel.plugins.module_utils._module import AksTunnelModule


def main():
    module = AksTunnelModule(
        _cluster_options.argument_spec(_cluster_options.CLUSTER_ARGSPEC, _cluster_options.API_TIMEOUT_ARGSPEC),
        azure=True, kube=True,
    )
    model = _cluster_options.cluster_model(module, kube='optional')
    module.exit(changed=False, **model)


if __name__ == '__main__':
    main()
