# -*- coding: utf-8 -*-
# Copyright (c) 2026 aks.tunnel contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The ARM emulator: one TLS server (own lab CA) serving Entra token endpoints, ARM resource providers and a lab admin API.

In-process use:
    emu = ArmEmulator(config, executor=None, state_dir=None)
    emu.start(); emu.url; emu.ca_path; emu.state; emu.admin_token; emu.on_nsg_change(cb); emu.stop()

Request pipeline (like ARM): route (case-insensitive) -> 401 token check -> 400 api-version check ->
404 subscription -> 403 RBAC -> fault knobs (429 / 5xx) -> provider handler. Every answer carries
x-ms-request-id, x-ms-correlation-request-id and x-ms-ratelimit-remaining-subscription-{reads,writes,deletes}.
"""

from __future__ import annotations

import http.server
import ipaddress
import json
import logging
import os
import re
import secrets
import shutil
import socket
import ssl
import tempfile
import threading
import urllib.parse
import uuid

from ..pki import LabCA
from .auth import Identity, OAuthError
from .common import ArmError, LabConfigError, Response
from .executor import load_executor
from .faults import Faults
from .lro import TERMINAL, async_operation_url, location_url
from .providers import compute, containerservice as aks, credentials, insights, network as net, network_path, resources
from .providers import detectors, natgateway
from .providers import firewall
from .providers import servicetags
from .providers import private_endpoint
from .providers import kube_access
from .state import ArmState
from .versions import API_VERSIONS, shape_for_version

LOG = logging.getLogger(__name__)
# The journal keeps the last answers for the schema tests; a session of the Azure CLI (its LRO polls included) made more
# than 5000 under load, which let its first requests go before the test that checks them ran.
JOURNAL_LIMIT = 20000

NAMESPACE_CATEGORY = {'microsoft.network': 'network', 'microsoft.compute': 'compute', 'microsoft.containerservice': 'aks'}
DEFAULT_CLIENT = {'client_id': '22222222-2222-4222-8222-22222222e5f6', 'client_secret': 'lab-client-secret', 'role': 'contributor'}

SUB = '/subscriptions/{sub}'
RG = SUB + '/resourceGroups/{rg}'
NET = RG + '/providers/Microsoft.Network'
NSG = NET + '/networkSecurityGroups/{nsg}'
CMP = RG + '/providers/Microsoft.Compute'
VMSS = CMP + '/virtualMachineScaleSets/{vmss}'
VM = VMSS + '/virtualMachines/{instance}'
AKS = RG + '/providers/Microsoft.ContainerService'
MC = AKS + '/managedClusters/{name}'
# (method, template, handler, api category, fault kind, RBAC action, resource type, (spec, operationId))
ROUTES = [
    # Microsoft.Resources: no RBAC action (Azure lists the subscriptions a principal holds any role in)
    ('GET', '/subscriptions', resources.subscription_list, 'resources', 'read', None, 'subscriptions', ('resources', 'Subscriptions_List')),
    ('GET', SUB, resources.subscription_get, 'resources', 'read', None, 'subscriptions', ('resources', 'Subscriptions_Get')),
    ('GET', '/tenants', resources.tenant_list, 'resources', 'read', None, 'tenants', ('resources', 'Tenants_List')),
    ('GET', NSG, net.nsg_get, 'network', 'read', 'Microsoft.Network/networkSecurityGroups/read', 'networkSecurityGroups',
     ('network', 'NetworkSecurityGroups_Get')),
    ('PUT', NSG, net.nsg_put, 'network', 'write', 'Microsoft.Network/networkSecurityGroups/write', 'networkSecurityGroups',
     ('network', 'NetworkSecurityGroups_CreateOrUpdate')),
    ('GET', NET + '/networkSecurityGroups', net.nsg_list, 'network', 'read', 'Microsoft.Network/networkSecurityGroups/read',
     'networkSecurityGroups', ('network', 'NetworkSecurityGroups_List')),
    ('GET', SUB + '/providers/Microsoft.Network/networkSecurityGroups', net.nsg_list, 'network', 'read',
     'Microsoft.Network/networkSecurityGroups/read', 'networkSecurityGroups', ('network', 'NetworkSecurityGroups_ListAll')),
    ('GET', NSG + '/securityRules', net.rule_list, 'network', 'read', 'Microsoft.Network/networkSecurityGroups/securityRules/read',
     'networkSecurityGroups/securityRules', ('network', 'SecurityRules_List')),
    ('GET', NSG + '/securityRules/{rule}', net.rule_get, 'network', 'read', 'Microsoft.Network/networkSecurityGroups/securityRules/read',
     'networkSecurityGroups/securityRules', ('network', 'SecurityRules_Get')),
    ('PUT', NSG + '/securityRules/{rule}', net.rule_put, 'network', 'write', 'Microsoft.Network/networkSecurityGroups/securityRules/write',
     'networkSecurityGroups/securityRules', ('network', 'SecurityRules_CreateOrUpdate')),
    ('DELETE', NSG + '/securityRules/{rule}', net.rule_delete, 'network', 'write', 'Microsoft.Network/networkSecurityGroups/securityRules/delete',
     'networkSecurityGroups/securityRules', ('network', 'SecurityRules_Delete')),
    ('GET', NSG + '/defaultSecurityRules', net.default_rule_list, 'network', 'read',
     'Microsoft.Network/networkSecurityGroups/defaultSecurityRules/read', 'networkSecurityGroups/defaultSecurityRules',
     ('network', 'DefaultSecurityRules_List')),
    ('GET', NSG + '/defaultSecurityRules/{rule}', net.default_rule_get, 'network', 'read',
     'Microsoft.Network/networkSecurityGroups/defaultSecurityRules/read', 'networkSecurityGroups/defaultSecurityRules',
     ('network', 'DefaultSecurityRules_Get')),
    ('GET', NET + '/virtualNetworks/{vnet}', net.vnet_get, 'network', 'read', 'Microsoft.Network/virtualNetworks/read', 'virtualNetworks',
     ('network', 'VirtualNetworks_Get')),
    ('GET', NET + '/virtualNetworks', net.vnet_list, 'network', 'read', 'Microsoft.Network/virtualNetworks/read', 'virtualNetworks',
     ('network', 'VirtualNetworks_List')),
    ('GET', SUB + '/providers/Microsoft.Network/virtualNetworks', net.vnet_list, 'network', 'read', 'Microsoft.Network/virtualNetworks/read',
     'virtualNetworks', ('network', 'VirtualNetworks_ListAll')),
    ('GET', NET + '/virtualNetworks/{vnet}/subnets/{subnet}', net.subnet_get, 'network', 'read', 'Microsoft.Network/virtualNetworks/subnets/read',
     'virtualNetworks/subnets', ('network', 'Subnets_Get')),
    ('PUT', NET + '/virtualNetworks/{vnet}/subnets/{subnet}', net.subnet_put, 'network', 'write',
     'Microsoft.Network/virtualNetworks/subnets/write', 'virtualNetworks/subnets', ('network', 'Subnets_CreateOrUpdate')),
    ('GET', NET + '/virtualNetworks/{vnet}/subnets', net.subnet_list, 'network', 'read', 'Microsoft.Network/virtualNetworks/subnets/read',
     'virtualNetworks/subnets', ('network', 'Subnets_List')),
    ('GET', VMSS + '/networkInterfaces', net.vmss_nic_list, 'network-vmss', 'read',
     'Microsoft.Compute/virtualMachineScaleSets/networkInterfaces/read', 'virtualMachineScaleSets/networkInterfaces',
     ('network', 'NetworkInterfaces_ListVirtualMachineScaleSetNetworkInterfaces')),
    ('GET', VM + '/networkInterfaces', net.vmss_vm_nic_list, 'network-vmss', 'read',
     'Microsoft.Compute/virtualMachineScaleSets/virtualMachines/networkInterfaces/read', 'virtualMachineScaleSets/virtualMachines/networkInterfaces',
     ('network', 'NetworkInterfaces_ListVirtualMachineScaleSetVMNetworkInterfaces')),
    ('GET', VM + '/networkInterfaces/{nic}', net.vmss_vm_nic_get, 'network-vmss', 'read',
     'Microsoft.Compute/virtualMachineScaleSets/virtualMachines/networkInterfaces/read', 'virtualMachineScaleSets/virtualMachines/networkInterfaces',
     ('network', 'NetworkInterfaces_GetVirtualMachineScaleSetNetworkInterface')),
    ('GET', VM + '/networkInterfaces/{nic}/ipConfigurations', net.vmss_vm_nic_ipconfig_list, 'network-vmss', 'read',
     'Microsoft.Compute/virtualMachineScaleSets/virtualMachines/networkInterfaces/ipConfigurations/read',
     'virtualMachineScaleSets/virtualMachines/networkInterfaces/ipConfigurations',
     ('network', 'NetworkInterfaces_ListVirtualMachineScaleSetIpConfigurations')),
    ('GET', VM + '/networkInterfaces/{nic}/ipConfigurations/{ipconf}', net.vmss_vm_nic_ipconfig_get, 'network-vmss', 'read',
     'Microsoft.Compute/virtualMachineScaleSets/virtualMachines/networkInterfaces/ipConfigurations/read',
     'virtualMachineScaleSets/virtualMachines/networkInterfaces/ipConfigurations',
     ('network', 'NetworkInterfaces_GetVirtualMachineScaleSetIpConfiguration')),
    ('GET', NET + '/loadBalancers/{lb}', net.lb_get, 'network', 'read', 'Microsoft.Network/loadBalancers/read', 'loadBalancers',
     ('network', 'LoadBalancers_Get')),
    ('GET', NET + '/loadBalancers', net.lb_list, 'network', 'read', 'Microsoft.Network/loadBalancers/read', 'loadBalancers',
     ('network', 'LoadBalancers_List')),
    ('GET', SUB + '/providers/Microsoft.Network/loadBalancers', net.lb_list, 'network', 'read', 'Microsoft.Network/loadBalancers/read',
     'loadBalancers', ('network', 'LoadBalancers_ListAll')),
    ('GET', NET + '/loadBalancers/{lb}/outboundRules', net.lb_outbound_rule_list, 'network', 'read', 'Microsoft.Network/loadBalancers/read',
     'loadBalancers/outboundRules', ('network', 'LoadBalancerOutboundRules_List')),
    ('GET', NET + '/loadBalancers/{lb}/outboundRules/{rule}', net.lb_outbound_rule_get, 'network', 'read', 'Microsoft.Network/loadBalancers/read',
     'loadBalancers/outboundRules', ('network', 'LoadBalancerOutboundRules_Get')),
    ('GET', NET + '/publicIPAddresses/{pip}', net.pip_get, 'network', 'read', 'Microsoft.Network/publicIPAddresses/read', 'publicIPAddresses',
     ('network', 'PublicIPAddresses_Get')),
    ('GET', NET + '/publicIPAddresses', net.pip_list, 'network', 'read', 'Microsoft.Network/publicIPAddresses/read', 'publicIPAddresses',
     ('network', 'PublicIPAddresses_List')),
    ('GET', SUB + '/providers/Microsoft.Network/publicIPAddresses', net.pip_list, 'network', 'read', 'Microsoft.Network/publicIPAddresses/read',
     'publicIPAddresses', ('network', 'PublicIPAddresses_ListAll')),
    ('GET', CMP + '/virtualMachineScaleSets', compute.vmss_list, 'compute', 'read', 'Microsoft.Compute/virtualMachineScaleSets/read',
     'virtualMachineScaleSets', ('compute', 'VirtualMachineScaleSets_List')),
    ('GET', SUB + '/providers/Microsoft.Compute/virtualMachineScaleSets', compute.vmss_list, 'compute', 'read',
     'Microsoft.Compute/virtualMachineScaleSets/read', 'virtualMachineScaleSets', ('compute', 'VirtualMachineScaleSets_ListAll')),
    ('GET', VMSS, compute.vmss_get, 'compute', 'read', 'Microsoft.Compute/virtualMachineScaleSets/read', 'virtualMachineScaleSets',
     ('compute', 'VirtualMachineScaleSets_Get')),
    ('GET', VMSS + '/virtualMachines', compute.vm_list, 'compute', 'read', 'Microsoft.Compute/virtualMachineScaleSets/virtualMachines/read',
     'virtualMachineScaleSets/virtualMachines', ('compute', 'VirtualMachineScaleSetVMs_List')),
    ('GET', VM, compute.vm_get, 'compute', 'read', 'Microsoft.Compute/virtualMachineScaleSets/virtualMachines/read',
     'virtualMachineScaleSets/virtualMachines', ('compute', 'VirtualMachineScaleSetVMs_Get')),
    ('POST', VM + '/runCommand', compute.run_command, 'compute', 'runcommand',
     'Microsoft.Compute/virtualMachineScaleSets/virtualMachines/runCommand/action', 'virtualMachineScaleSets/virtualMachines/runCommand',
     ('runcommand', 'VirtualMachineScaleSetVMs_RunCommand')),
    ('GET', MC, aks.cluster_get, 'aks', 'read', 'Microsoft.ContainerService/managedClusters/read', 'managedClusters',
     ('aks', 'ManagedClusters_Get')),
    ('PUT', MC, aks.cluster_put, 'aks', 'write', 'Microsoft.ContainerService/managedClusters/write', 'managedClusters',
     ('aks', 'ManagedClusters_CreateOrUpdate')),
    ('PATCH', MC, aks.cluster_patch, 'aks', 'write', 'Microsoft.ContainerService/managedClusters/write', 'managedClusters',
     ('aks', 'ManagedClusters_UpdateTags')),
    ('GET', AKS + '/managedClusters', aks.cluster_list, 'aks', 'read', 'Microsoft.ContainerService/managedClusters/read', 'managedClusters',
     ('aks', 'ManagedClusters_ListByResourceGroup')),
    ('GET', SUB + '/providers/Microsoft.ContainerService/managedClusters', aks.cluster_list, 'aks', 'read',
     'Microsoft.ContainerService/managedClusters/read', 'managedClusters', ('aks', 'ManagedClusters_List')),
    ('POST', MC + '/listClusterUserCredential', credentials.list_cluster_user_credential, 'aks', 'read',
     'Microsoft.ContainerService/managedClusters/listClusterUserCredential/action', 'managedClusters',
     ('aks', 'ManagedClusters_ListClusterUserCredentials')),
    ('GET', MC + '/agentPools', aks.agent_pool_list, 'aks', 'read', 'Microsoft.ContainerService/managedClusters/agentPools/read',
     'managedClusters/agentPools', ('aks', 'AgentPools_List')),
    # AKS's own detectors (issue 16, providers/detectors.py; no published swagger, lab schemas).
    ('GET', MC + '/detectors', detectors.detector_list, 'aks', 'read', 'Microsoft.ContainerService/managedClusters/detectors/read',
     'managedClusters/detectors', ('aksdetectors', 'ManagedClusterDetectors_List')),
    ('GET', MC + '/detectors/{detector}', detectors.detector_get, 'aks', 'read', 'Microsoft.ContainerService/managedClusters/detectors/read',
     'managedClusters/detectors', ('aksdetectors', 'ManagedClusterDetectors_Get')),
    ('GET', MC + '/agentPools/{pool}', aks.agent_pool_get, 'aks', 'read', 'Microsoft.ContainerService/managedClusters/agentPools/read',
     'managedClusters/agentPools', ('aks', 'AgentPools_Get')),
    # The path between nodes besides the NSGs (issue 12): POST actions that only read (providers/network_path.py).
    ('POST', NET + '/virtualNetworks/{vnet}/listNetworkManagerEffectiveSecurityAdminRules', network_path.admin_rules_list, 'network', 'read',
     'Microsoft.Network/virtualNetworks/listNetworkManagerEffectiveSecurityAdminRules/action', 'virtualNetworks',
     ('avnm', 'ListNetworkManagerEffectiveSecurityAdminRules')),
    ('POST', NET + '/networkInterfaces/{nic}/effectiveRouteTable', network_path.effective_route_table, 'network', 'read',
     'Microsoft.Network/networkInterfaces/effectiveRouteTable/action', 'networkInterfaces', ('network', 'NetworkInterfaces_GetEffectiveRouteTable')),
    # The node subnet's NAT gateway (issue 16, providers/natgateway.py).
    ('GET', NET + '/natGateways/{natgw}', natgateway.gateway_get, 'network', 'read', 'Microsoft.Network/natGateways/read', 'natGateways',
     ('network', 'NatGateways_Get')),
    ('GET', NET + '/natGateways', natgateway.gateway_list, 'network', 'read', 'Microsoft.Network/natGateways/read', 'natGateways',
     ('network', 'NatGateways_List')),
    ('GET', SUB + '/providers/Microsoft.Network/natGateways', natgateway.gateway_list, 'network', 'read', 'Microsoft.Network/natGateways/read',
     'natGateways', ('network', 'NatGateways_ListAll')),
    ('GET', NET + '/publicIPPrefixes/{prefix}', natgateway.prefix_get, 'network', 'read', 'Microsoft.Network/publicIPPrefixes/read',
     'publicIPPrefixes', ('pipprefix', 'PublicIPPrefixes_Get')),
    # The tunnel egress route and the Azure Firewall behind it (issue 16, providers/firewall.py).
    ('GET', NET + '/routeTables/{rt}', firewall.route_table_get, 'network', 'read', 'Microsoft.Network/routeTables/read', 'routeTables',
     ('network', 'RouteTables_Get')),
    ('GET', NET + '/azureFirewalls/{fw}', firewall.firewall_get, 'network', 'read', 'Microsoft.Network/azureFirewalls/read', 'azureFirewalls',
     ('azfw', 'AzureFirewalls_Get')),
    ('GET', NET + '/azureFirewalls', firewall.firewall_list, 'network', 'read', 'Microsoft.Network/azureFirewalls/read', 'azureFirewalls',
     ('azfw', 'AzureFirewalls_List')),
    ('GET', SUB + '/providers/Microsoft.Network/azureFirewalls', firewall.firewall_list, 'network', 'read', 'Microsoft.Network/azureFirewalls/read',
     'azureFirewalls', ('azfw', 'AzureFirewalls_ListAll')),
    ('GET', NET + '/firewallPolicies/{fp}', firewall.policy_get, 'network', 'read', 'Microsoft.Network/firewallPolicies/read', 'firewallPolicies',
     ('azfw', 'FirewallPolicies_Get')),
    ('GET', NET + '/firewallPolicies/{fp}/ruleCollectionGroups', firewall.group_list, 'network', 'read',
     'Microsoft.Network/firewallPolicies/ruleCollectionGroups/read', 'firewallPolicies/ruleCollectionGroups',
     ('azfw', 'FirewallPolicyRuleCollectionGroups_List')),
    ('GET', NET + '/firewallPolicies/{fp}/ruleCollectionGroups/{rcg}', firewall.group_get, 'network', 'read',
     'Microsoft.Network/firewallPolicies/ruleCollectionGroups/read', 'firewallPolicies/ruleCollectionGroups',
     ('azfw', 'FirewallPolicyRuleCollectionGroups_Get')),
    ('PUT', NET + '/firewallPolicies/{fp}/ruleCollectionGroups/{rcg}', firewall.group_put, 'network', 'write',
     'Microsoft.Network/firewallPolicies/ruleCollectionGroups/write', 'firewallPolicies/ruleCollectionGroups',
     ('azfw', 'FirewallPolicyRuleCollectionGroups_CreateOrUpdate')),
    ('DELETE', NET + '/firewallPolicies/{fp}/ruleCollectionGroups/{rcg}', firewall.group_delete, 'network', 'write',
     'Microsoft.Network/firewallPolicies/ruleCollectionGroups/delete', 'firewallPolicies/ruleCollectionGroups',
     ('azfw', 'FirewallPolicyRuleCollectionGroups_Delete')),
    ('GET', NET + '/ipGroups/{ipg}', firewall.ip_group_get, 'network', 'read', 'Microsoft.Network/ipGroups/read', 'ipGroups', ('azfw', 'IpGroups_Get')),
    ('GET', NET + '/ipGroups', firewall.ip_group_list, 'network', 'read', 'Microsoft.Network/ipGroups/read', 'ipGroups',
     ('azfw', 'IpGroups_ListByResourceGroup')),
    ('GET', SUB + '/providers/Microsoft.Network/ipGroups', firewall.ip_group_list, 'network', 'read', 'Microsoft.Network/ipGroups/read', 'ipGroups',
     ('azfw', 'IpGroups_List')),
    # The Service Tag Discovery API: the published ranges of the service tags a firewall rule names (providers/servicetags.py).
    ('GET', SUB + '/providers/Microsoft.Network/locations/{loc}/serviceTags', servicetags.service_tags_list, 'network', 'read',
     'Microsoft.Network/locations/serviceTags/read', 'locations/serviceTags', ('azfw', 'ServiceTags_List')),
    # A private cluster's API server private endpoint and its NIC: the address the nodes dial (issue 16, providers/private_endpoint.py).
    ('GET', NET + '/privateEndpoints/{pe}', private_endpoint.endpoint_get, 'network', 'read', 'Microsoft.Network/privateEndpoints/read',
     'privateEndpoints', ('network', 'PrivateEndpoints_Get')),
    ('GET', NET + '/privateDnsZones/{zone}/virtualNetworkLinks', private_endpoint.zone_links_list, 'privatedns', 'read',
     'Microsoft.Network/privateDnsZones/virtualNetworkLinks/read', 'privateDnsZones/virtualNetworkLinks',
     ('privatedns', 'VirtualNetworkLinks_List')),
    ('GET', NET + '/networkInterfaces/{nic}', private_endpoint.nic_get, 'network', 'read', 'Microsoft.Network/networkInterfaces/read',
     'networkInterfaces', ('network', 'NetworkInterfaces_Get')),
    ('GET', SUB + '/providers/{ns}/locations/{loc}/operations/{op}', None, 'ops', 'poll', '{ns}/locations/operations/read', 'locations/operations',
     ('lro', 'status')),
    ('GET', SUB + '/providers/{ns}/locations/{loc}/operationResults/{op}', None, 'ops', 'poll', '{ns}/locations/operationResults/read',
     'locations/operationResults', ('lro', 'location')),
    ('GET', '/{resource_uri}/providers/Microsoft.Insights/metrics', insights.metrics_list, 'insights', 'read', 'Microsoft.Insights/metrics/read',
     'metrics', ('metrics', 'Metrics_List')),
    ('GET', '/{resource_uri}/providers/Microsoft.Insights/metricDefinitions', insights.metric_definitions_list, 'insights', 'read',
     'Microsoft.Insights/metricDefinitions/read', 'metricDefinitions', ('metrics', 'MetricDefinitions_List')),
]

# Kubernetes access through ARM: Entra and private clusters' credentials, admin credential, run command (issue 16); first,
# so that their listClusterUserCredential route is matched before the plain one
ROUTES[:0] = kube_access.routes(MC)


def _compile(template):
    parts = []
    for piece in re.split(r'(\{\w+\})', template):
        if piece.startswith('{') and piece.endswith('}'):
            name = piece[1:-1]
            parts.append('(?P<%s>.+?)' % name if name == 'resource_uri' else '(?P<%s>[^/]+)' % name)
        else:
            parts.append(re.escape(piece))
    return re.compile('^' + ''.join(parts) + '/?$', re.IGNORECASE)


COMPILED = [(method, _compile(tpl)) + tuple(rest) for method, tpl, *rest in ROUTES]
_API_VERSION_RE = re.compile(r'^\d{4}-\d{2}-\d{2}(-preview|-beta|-alpha|-privatepreview)?$')
_OIDC_RE = re.compile(r'^/([^/]+)/v2\.0/\.well-known/openid-configuration/?$', re.IGNORECASE)
_TOKEN_RE = re.compile(r'^/([^/]+)/oauth2/v2\.0/token/?$', re.IGNORECASE)


class RequestContext:
    """Per-request view the providers use."""

    def __init__(self, emulator, method, path, query, headers, body, base, api_version, principal):
        self.emulator = emulator
        self.state = emulator.state
        self.faults = emulator.faults
        self.method = method
        self.path = path
        self.query = query
        self.headers = headers
        self.body = body
        self.base = base
        self.api_version = api_version
        self.principal = principal

    def new_operation(self, namespace, kind):
        polls = int(self.state.settings['lro_in_progress_polls']) if kind != 'runcommand' else 0
        return self.state.operations.create(namespace, self.state.location, self.api_version, kind, polls)

    def retry_headers(self, op=None):
        seconds = self.state.settings.get('lro_retry_after_s')
        if seconds:
            return {'Retry-After': str(int(seconds))}
        wait_ms = int(self.state.settings['lro_retry_after_ms'])
        if op is not None:
            # Back off past 10 s of age (an eighth of the time beyond, up to lro_retry_after_max_ms): a short operation is
            # still seen at once, a two-minute Run Command is polled every second instead of five times a second
            # (each poll is an HTTPS request on the same 2 cores as the nodes).
            beyond_ms = (op.age_s() - 10.0) * 1000 / 8
            wait_ms = max(wait_ms, min(int(self.state.settings['lro_retry_after_max_ms']), int(beyond_ms)))
        return {'retry-after-ms': str(wait_ms)}

    def lro_headers(self, op, location):
        headers = {'Azure-AsyncOperation': async_operation_url(self.base, self.state.subscription_id, op)}
        if location:
            headers['Location'] = location_url(self.base, self.state.subscription_id, op)
        headers.update(self.retry_headers())
        return headers


def operation_status(ctx, params, results_route):
    op = ctx.state.operations.get(params['op'])
    if op is None or op.namespace.lower() != params['ns'].lower():
        raise ArmError(404, 'OperationNotFound' if not results_route else 'NotFound', "The operation '%s' could not be found." % params['op'])
    monitor = results_route or ctx.query.get('monitor', '').lower() == 'true'
    status = op.poll_status()
    if monitor:
        if status not in TERMINAL:
            headers = {'Location': ctx.base + ctx.raw_path_qs}
            headers.update(ctx.retry_headers(op))
            return Response(202, None, headers, spec=('lro', 'location'))
        if op.kind == 'runcommand':
            return Response(200, compute.location_body(op), spec=('runcommand', 'VirtualMachineScaleSetVMs_RunCommand'))
        if op.status == 'Failed':
            raise ArmError(400, (op.error or {}).get('code', 'Failed'), (op.error or {}).get('message', 'The operation failed.'))
        if 'result' in op.extra:  # a POST whose result is served here (network_path.effective_route_table)
            return Response(200, op.extra['result'], spec=op.extra['spec'])
        return Response(op.result_status if op.kind == 'delete' else 200, None if op.kind == 'delete' else {}, spec=('lro', 'location'))
    headers = ctx.retry_headers(op) if status not in TERMINAL else {}
    return Response(200, op.status_body(status), headers, spec=('lro', 'status'))


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = 'HTTP/1.1'
    server_version = 'aks-tunnel-lab-arm/1.0'
    sys_version = ''
    timeout = 60

    def setup(self):
        self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.request = self.server.ssl_context.wrap_socket(self.request, server_side=True)
        self.server.track(self.request, True)
        super().setup()

    def finish(self):
        try:
            super().finish()
        finally:
            self.server.track(self.request, False)

    def log_message(self, format, *args):  # pylint: disable=redefined-builtin
        LOG.debug('%s - %s', self.address_string(), format % args)

    def do_GET(self):
        self._dispatch('GET')

    def do_PUT(self):
        self._dispatch('PUT')

    def do_POST(self):
        self._dispatch('POST')

    def do_DELETE(self):
        self._dispatch('DELETE')

    def do_PATCH(self):
        self._dispatch('PATCH')

    def _send(self, status, body, headers=None, content_type='application/json; charset=utf-8'):
        data = b'' if body is None else (body if isinstance(body, bytes) else json.dumps(body).encode())
        self.send_response(status)
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        if data or status not in (204, 304):
            self.send_header('Content-Type', content_type)
        self.send_header('Content-Length', str(len(data)))
        self.send_header('Cache-Control', 'no-cache')
        # one write for head + body (two small writes would meet Nagle + delayed ACK: ~40 ms per response)
        self._headers_buffer.append(b'\r\n' + data)
        self.flush_headers()

    def _read_body(self):
        length = int(self.headers.get('Content-Length') or 0)
        return self.rfile.read(length) if length else b''

    def _dispatch(self, method):
        emu = self.server.emulator
        raw = self._read_body()
        parsed = urllib.parse.urlsplit(self.path)
        path = re.sub('/+', '/', urllib.parse.unquote(parsed.path))
        query = {}
        for key, value in urllib.parse.parse_qsl(parsed.query, keep_blank_values=True):
            query.setdefault(key.lower(), value)
        base = 'https://%s' % (self.headers.get('Host') or emu.url.split('://', 1)[1])
        try:
            if path.startswith('/_lab/'):
                status, body = emu.admin(method, path, query, self.headers, raw)
                self._send(status, body)
                return
            if path.rstrip('/').lower() == '/metadata/endpoints' and method == 'GET':
                status, body = resources.metadata_endpoints(base, query.get('api-version'))
                self._send(status, body)
                return
            if _OIDC_RE.match(path) or _TOKEN_RE.match(path):
                self._identity(method, path, raw, base)
                return
        except (OAuthError, ArmError, LabConfigError) as exc:
            if isinstance(exc, OAuthError):
                self._send(exc.status, exc.body)
            elif isinstance(exc, ArmError):
                self._send(exc.status, exc.body(), exc.headers)
            else:
                self._send(400, {'error': {'code': 'LabConfigError', 'message': str(exc)}})
            return
        except Exception:  # pylint: disable=broad-except
            LOG.exception('emulator bug on %s %s', method, path)
            self._send(500, {'error': {'code': 'InternalServerError', 'message': 'The lab emulator failed on %s %s (see its log).' % (method, path)}})
            return
        status, body, headers, spec, route_name = emu.handle_arm(method, path, parsed.query, query, self.headers, raw, base)
        emu.record(method, path, parsed.query, status, body, spec, route_name, request=raw)
        self._send(status, body, headers)

    def _identity(self, method, path, raw, base):
        emu = self.server.emulator
        match = _OIDC_RE.match(path)
        if match and method == 'GET':
            self._send(200, emu.identity.openid_configuration(base, match.group(1)))
            return
        match = _TOKEN_RE.match(path)
        if match and method == 'POST':
            form = dict(urllib.parse.parse_qsl(raw.decode('utf-8', 'replace'), keep_blank_values=True))
            self._send(200, emu.identity.issue_token(match.group(1), form))
            return
        self._send(405, {'error': 'invalid_request', 'error_description': 'AADSTS900561: The endpoint only accepts %s requests.'
                         % ('GET' if match is None else 'POST')})


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128  # parallel run commands / pagers from thread pools

    def __init__(self, address, handler, emulator, ssl_context):
        self.emulator = emulator
        self.ssl_context = ssl_context
        self._conns = set()
        self._conns_lock = threading.Lock()
        super().__init__(address, handler)

    def track(self, conn, add):
        with self._conns_lock:
            if add:
                self._conns.add(conn)
            else:
                self._conns.discard(conn)

    def close_connections(self):
        with self._conns_lock:
            conns = list(self._conns)
        for conn in conns:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def handle_error(self, request, client_address):
        LOG.debug('connection from %s failed', client_address, exc_info=True)


class ArmEmulator:
    """The ARM emulator. `config` is the JSON config described in tests/lab/arm/README section of the report."""

    def __init__(self, config, executor=None, state_dir=None, host='127.0.0.1', port=0, ca_dir=None):
        if not ipaddress.ip_address(host).is_loopback:
            raise LabConfigError('the ARM emulator only binds loopback addresses, got %s' % host)
        self.config = dict(config or {})
        self.state = ArmState(self.config)
        clients = self.config.get('clients') or [DEFAULT_CLIENT]
        self.identity = Identity(self.state.tenant_id, clients, self.config.get('token_lifetime_s', 3599))
        self.faults = Faults(self.config.get('faults') or [])
        self.executor = executor if executor is not None else load_executor(self.config.get('executor'), self.config)
        self.extra_api_versions = {k: tuple(v) for k, v in (self.config.get('extra_api_versions') or {}).items()}
        self.host = host
        self.port = port
        self.state_dir = state_dir
        self.ca_dir = ca_dir
        self._own_state_dir = False
        self.stopping = threading.Event()
        self.admin_token = secrets.token_urlsafe(24)
        self.url = None
        self.ca_path = None
        self._server = None
        self._thread = None
        self._journal = []
        self._journal_seq = 0
        self._journal_lock = threading.Lock()
        self._counters = {'reads': 12000, 'writes': 1200, 'deletes': 15000}

    # --- lifecycle ------------------------------------------------------------------------------
    def start(self):
        if self.state_dir is None:
            self.state_dir = tempfile.mkdtemp(prefix='aks-tunnel-arm-')
            self._own_state_dir = True
        os.makedirs(self.state_dir, exist_ok=True)
        ca_dir = self.ca_dir or os.path.join(self.state_dir, 'ca')
        if os.path.exists(os.path.join(ca_dir, 'ca.pem')) and os.path.exists(os.path.join(ca_dir, 'ca.key')):
            ca = LabCA.load(ca_dir)
        else:
            ca = LabCA.create(ca_dir)
        cert, key = ca.issue_server_cert('arm-server', dns_names=('localhost',), ip_addresses=('127.0.0.1',))
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        context.load_cert_chain(cert, key)
        self.ca_path = ca.cert_path
        self._server = _Server((self.host, self.port), _Handler, self, context)
        self.port = self._server.server_address[1]
        self.url = 'https://%s:%d' % (self.host, self.port)
        token_path = os.path.join(self.state_dir, 'admin-token')
        with open(os.open(token_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), 'w', encoding='utf-8') as handle:
            handle.write(self.admin_token)
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={'poll_interval': 0.1}, name='arm-emulator', daemon=True)
        self._thread.start()
        return self

    def stop(self):
        self.stopping.set()
        for op in self.state.operations.all():
            op.done.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.close_connections()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(5)
            self._thread = None
        close = getattr(self.executor, 'close', None)
        if close:
            close()
        if self._own_state_dir and self.state_dir:
            shutil.rmtree(self.state_dir, ignore_errors=True)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    def on_nsg_change(self, callback):
        """Register `callback(state, event)`; called after every NSG rule / association change."""
        self.state.on_nsg_change(callback)

    def ready_info(self):
        return {'url': self.url, 'port': self.port, 'ca_path': self.ca_path, 'admin_token_path': os.path.join(self.state_dir, 'admin-token'),
                'pid': os.getpid(), 'tenant_id': self.state.tenant_id, 'subscription_id': self.state.subscription_id}

    # --- ARM pipeline ---------------------------------------------------------------------------
    def _ratelimit_headers(self, method, throttled=False):
        kind = {'GET': 'reads', 'DELETE': 'deletes'}.get(method, 'writes')
        with self._journal_lock:
            self._counters[kind] = max(0, self._counters[kind] - 1) if not throttled else 0
            remaining = self._counters[kind]
            if remaining == 0 and not throttled:
                self._counters[kind] = {'reads': 12000, 'writes': 1200, 'deletes': 15000}[kind]
        return {'x-ms-ratelimit-remaining-subscription-%s' % kind: str(remaining),
                'x-ms-ratelimit-remaining-tenant-%s' % kind: str(remaining)}

    def handle_arm(self, method, path, raw_query, query, headers, raw, base):
        """Return (status, body, headers, spec, route name)."""
        request_id = str(uuid.uuid4())
        common = {'x-ms-request-id': request_id, 'x-ms-correlation-request-id': headers.get('x-ms-correlation-request-id') or request_id,
                  'x-ms-routing-request-id': 'WESTEUROPE:%s' % request_id}
        spec = None
        route_name = None
        flat = False
        throttled = False
        try:
            route, params, method_mismatch = self._match(method, path)
            if route is None:
                if method_mismatch:
                    raise ArmError(405, 'HttpMethodNotSupported', "The requested resource does not support http method '%s'." % method)
                raise ArmError(404, 'InvalidResourceType', "The resource type could not be found for path '%s'." % path)
            _method, _regex, handler, category, kind, action, rtype, spec = route
            route_name = handler.__name__ if handler else 'operation_status'
            flat = category == 'insights'
            principal = self.identity.authenticate(headers.get('Authorization'))
            api_version = self._check_api_version(category, query, params, rtype, flat)
            if params.get('sub', self.state.subscription_id).lower() != self.state.subscription_id.lower() and not firewall.hub_access(
                    self.state, params.get('sub'), rtype, principal):  # a hub subscription holding the Azure Firewall (issue 16)
                raise ArmError(404, 'SubscriptionNotFound', "The subscription '%s' could not be found." % params['sub'], flat=flat)
            if category == 'insights' and not params['resource_uri'].strip('/').lower().startswith('subscriptions/%s/' % self.state.subscription_id):
                raise ArmError(404, 'ResourceNotFound', "The Resource '%s' was not found." % params['resource_uri'].strip('/'), flat=True)
            if action:
                self.identity.authorize(principal, action.replace('{ns}', params.get('ns', '')), path)
            if 'rg' in params and not self.state.known_resource_group(params['rg']):
                raise ArmError(404, 'ResourceGroupNotFound', "Resource group '%s' could not be found." % params['rg'], flat=flat)
            fault = self.faults.take_request_fault(kind)
            if fault:
                throttled = fault['type'] == 'throttle'
                raise self._fault_error(fault, principal, flat)
            body = None
            if raw:
                try:
                    body = json.loads(raw.decode('utf-8'))
                except ValueError as exc:
                    raise ArmError(400, 'InvalidRequestContent', 'The request content was invalid and could not be deserialized: %s' % exc,
                                   flat=flat) from None
            ctx = RequestContext(self, method, path, query, headers, body, base, api_version, principal)
            ctx.raw_path_qs = path + ('?' + raw_query if raw_query else '')
            if handler is None:
                result = operation_status(ctx, params, route[1].pattern.lower().find('operationresults') >= 0)
            else:
                result = handler(ctx, params)
            out_headers = dict(common)
            out_headers.update(self._ratelimit_headers(method))
            out_headers.update(result.headers)
            body = shape_for_version(category, api_version, result.body)
            return result.status, body, out_headers, result.spec or spec, route_name
        except ArmError as exc:
            if flat and not exc.flat:
                exc.flat = True
            out_headers = dict(common)
            out_headers.update(self._ratelimit_headers(method, throttled))
            out_headers.update(exc.headers)
            return exc.status, exc.body(), out_headers, spec, route_name
        except Exception:  # pylint: disable=broad-except
            LOG.exception('emulator bug on %s %s', method, path)
            error = ArmError(500, 'InternalServerError', 'The lab ARM emulator failed to process the request (see its log).', flat=flat)
            return 500, error.body(), dict(common), spec, route_name

    def _match(self, method, path):
        mismatch = False
        for route in COMPILED:
            match = route[1].match(path)
            if match:
                if route[0] == method:
                    return route, match.groupdict(), False
                mismatch = True
        return None, None, mismatch

    def _check_api_version(self, category, query, params, rtype, flat):
        version = query.get('api-version')
        if category == 'ops':
            category = NAMESPACE_CATEGORY.get(params['ns'].lower(), 'network')
        allowed = API_VERSIONS[category] + self.extra_api_versions.get(category, ())
        if not version:
            raise ArmError(400, 'MissingApiVersionParameter', 'The api-version query parameter (?api-version=) is required for all requests.', flat=flat)
        if not _API_VERSION_RE.match(version):
            raise ArmError(400, 'InvalidApiVersionParameter', "The api-version '%s' is invalid. The supported versions are '%s'."
                           % (version, ','.join(allowed)), flat=flat)
        if version not in allowed:
            raise ArmError(400, 'NoRegisteredProviderFound', "No registered resource provider found for location '%s' and API version '%s' for "
                           "type '%s'. The supported api-versions are '%s'. The supported locations are '%s'."
                           % (self.state.location, version, rtype, ', '.join(allowed), self.state.location), flat=flat)
        return version

    def _fault_error(self, fault, principal, flat):
        if fault['type'] == 'throttle':
            retry = int(fault.get('retry_after', 1))
            headers = {'Retry-After': str(retry)}
            code = fault.get('code', 'SubscriptionRequestsThrottled')
            message = fault.get('message') or ("Number of requests for subscription '%s' and operation '%s' exceeded the backend storage limit. "
                                               "Please try again after '%d' seconds." % (self.state.subscription_id, fault['on'].upper(), retry))
            return ArmError(429, code, message, headers=headers, flat=flat)
        status = fault.get('status', 500)
        headers = {'Retry-After': str(int(fault['retry_after']))} if fault.get('retry_after') is not None else {}
        code = fault.get('code') or {500: 'InternalServerError', 502: 'BadGateway', 503: 'ServiceUnavailable', 504: 'GatewayTimeout'}[status]
        message = fault.get('message') or 'The server encountered an internal error (lab fault %s).' % status
        return ArmError(status, code, message, headers=headers, flat=flat)

    # --- journal (for schema tests) -------------------------------------------------------------
    def record(self, method, path, raw_query, status, body, spec, route_name, request=None):
        try:
            request_body = json.loads(request.decode('utf-8')) if request else None
        except ValueError:
            request_body = None
        api_version = urllib.parse.parse_qs(raw_query or '').get('api-version', [None])[0]
        with self._journal_lock:
            self._journal_seq += 1
            self._journal.append({'seq': self._journal_seq, 'method': method, 'path': path, 'query': raw_query, 'status': status, 'body': body,
                                  'spec': list(spec) if spec else None, 'route': route_name, 'request': request_body,
                                  'api_version': api_version})
            del self._journal[:-JOURNAL_LIMIT]

    def journal(self, since=0):
        with self._journal_lock:
            return [dict(e) for e in self._journal if e['seq'] > since]

    # --- admin API ------------------------------------------------------------------------------
    def admin(self, method, path, query, headers, raw):
        """Lab admin endpoints (bearer = admin token from <state_dir>/admin-token); returns (status, body)."""
        if path.rstrip('/') == '/_lab/health':
            return 200, {'ok': True}
        auth = headers.get('Authorization') or ''
        if not secrets.compare_digest(auth.encode(), ('Bearer ' + self.admin_token).encode()):
            raise ArmError(401, 'LabAdminUnauthorized', 'Send Authorization: Bearer <admin token from %s/admin-token>.' % self.state_dir)
        try:
            body = json.loads(raw.decode('utf-8')) if raw else None
        except ValueError as exc:
            raise LabConfigError('admin request body is not JSON: %s' % exc) from None
        parts = [p for p in path.split('/') if p][1:]
        state = self.state
        if parts == ['state'] and method == 'GET':
            return 200, state.dump()
        if parts == ['faults']:
            if method == 'GET':
                return 200, {'faults': self.faults.snapshot()}
            if method == 'POST':
                faults = (body or {}).get('faults', body if isinstance(body, list) else [])
                if (body or {}).get('replace') if isinstance(body, dict) else False:
                    self.faults.replace(faults)
                else:
                    self.faults.add(faults)
                return 200, {'faults': self.faults.snapshot()}
            if method == 'DELETE':
                self.faults.clear()
                return 200, {'faults': []}
        if len(parts) == 3 and parts[0] == 'nsgs' and parts[2] == 'securityRules':
            with state.lock:
                nsg = state.find_nsg_by_ref(parts[1])
                if method == 'GET':
                    return 200, {'id': nsg['id'], 'value': nsg['rules']}
                if method == 'PUT':
                    rules = (body or {}).get('security_rules', body if isinstance(body, list) else None)
                    if not isinstance(rules, list):
                        raise LabConfigError('PUT /_lab/nsgs/<nsg>/securityRules needs {"security_rules": [...]} (ARM rule objects or flat dicts)')
                    backup = nsg['rules']
                    nsg['rules'] = []
                    try:
                        state._seed_rules(nsg, rules)  # pylint: disable=protected-access
                    except LabConfigError:
                        nsg['rules'] = backup
                        raise
                    nsg['etag'] = net.new_etag()
                    state.nsg_changed(nsg['id'], 'admin_replace')
                    return 200, {'id': nsg['id'], 'value': nsg['rules']}
        if parts == ['subnet_nsg'] and method == 'PUT':
            with state.lock:
                ref = (body or {}).get('nsg')
                old = state.subnet_nsg_id
                state.subnet_nsg_id = state.find_nsg_by_ref(ref)['id'] if ref else None
                state.subnet_etag = net.new_etag()
                for nsg_id in {x for x in (old, state.subnet_nsg_id) if x}:
                    state.nsg_changed(nsg_id, 'subnet_nsg')
                return 200, {'subnet_nsg_id': state.subnet_nsg_id}
        if parts == ['metrics'] and method in ('GET', 'PUT'):
            with state.lock:
                if method == 'PUT':
                    if not isinstance(body, dict):
                        raise LabConfigError('PUT /_lab/metrics needs a JSON object like {"default": {...}, "nodes": {...}}')
                    state.metrics = body
                return 200, state.metrics
        if parts == ['settings'] and method in ('GET', 'POST'):
            with state.lock:
                if method == 'POST':
                    for key, value in (body or {}).items():
                        if key not in state.settings:
                            raise LabConfigError('unknown setting %r; known: %s' % (key, ', '.join(sorted(state.settings))))
                        if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
                            raise LabConfigError('setting %s must be a non-negative number, got %r' % (key, value))
                        state.settings[key] = value
                return 200, dict(state.settings)
        if parts == ['runcommands'] and method == 'GET':
            with state.lock:
                return 200, {'value': [dict(e) for e in state.runcommand_journal], 'busy': dict(state.runcommand_busy)}
        if parts == ['runcommands', 'release'] and method == 'POST':
            return 200, {'released': compute.release_hung(state)}
        if parts == ['journal'] and method == 'GET':
            return 200, {'value': self.journal(int(query.get('since') or 0))}
        if parts == ['tokens'] and method == 'DELETE':
            self.identity.revoke_all()
            return 200, {'revoked': True}
        raise ArmError(404, 'LabAdminNotFound', 'Unknown admin endpoint %s %s. See tests/lab/arm/server.py ArmEmulator.admin.' % (method, path))
