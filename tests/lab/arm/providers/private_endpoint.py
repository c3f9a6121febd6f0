# -*- coding: utf-8 -*-
# Copyright (c) 2026 aks.tunnel contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Microsoft.Network: the API server's private endpoint of a private cluster (issue 16).

AKS creates ``privateEndpoints/kube-apiserver`` in the node resource group, in the node subnet (Azure/AKS#2892), connected to
the private link service of the cluster's control plane (in a subscription of Microsoft's, not readable by the customer). The
lab serves it (PrivateEndpoints_Get) and its NIC ``kube-apiserver.nic.<guid>`` (NetworkInterfaces_Get), both validated against
privateEndpoint.json / networkInterface.json (network 2024-01-01, the shared azure-specs). The address is the lab's endpoint
IP (tests/lab/topology.py ``private_endpoint_ip``: the one the nodes' hosts file gives the private FQDN, DNAT'ed to the API
server). The endpoint carries no ``customDnsConfigs`` (AKS writes the private DNS zone's record itself, no DNS zone group), so
the address is read from its NIC, as on Azure when the endpoint does not list it. Not served: private clusters with API Server
VNet Integration (their API server is an internal load balancer, no private endpoint) and public clusters.

The system private DNS zone (``<guid>.privatelink.<region>.azmk8s.io`` in the node resource group) answers its virtual network
links (VirtualNetworkLinks_List, privatedns.json 2024-06-01 extract in tests/lab/specs/): one link to the node VNet, as AKS
creates it, or none with the fault ``private_dns_unlinked`` (config ``private_dns.linked``), the same fault that leaves the
private FQDN out of the nodes' hosts files. The zone itself and its records are not served.
"""

from __future__ import annotations

from ..common import Response, not_found, stable_uuid

ENDPOINT_NAME = 'kube-apiserver'
ENDPOINT_TYPE = 'Microsoft.Network/privateEndpoints'
NIC_TYPE = 'Microsoft.Network/networkInterfaces'


def _served(state):
    cluster = state.topology['cluster']
    return bool(cluster.get('private') and cluster.get('private_endpoint_ip') and not state.cluster_props.get('enable_vnet_integration'))


def _ids(state):
    net = '/subscriptions/%s/resourceGroups/%s/providers/Microsoft.Network' % (state.subscription_id, state.node_resource_group)
    nic_name = '%s.nic.%s' % (ENDPOINT_NAME, stable_uuid('pe-nic', state.topology['cluster']['id']))
    return net + '/privateEndpoints/' + ENDPOINT_NAME, net + '/networkInterfaces/' + nic_name, nic_name


def render_endpoint(state):
    endpoint_id, nic_id, _nic_name = _ids(state)
    cluster = state.topology['cluster']
    # the control plane's private link service: a stand-in id (Azure's is in a subscription of Microsoft's)
    pls_id = '/subscriptions/%s/resourceGroups/lab-hcp-%s/providers/Microsoft.Network/privateLinkServices/%s' % (
        stable_uuid('hcp-sub', cluster['id']), state.location, stable_uuid('pls', cluster['id']))
    return {'name': ENDPOINT_NAME, 'id': endpoint_id, 'type': ENDPOINT_TYPE, 'location': state.location,
            'etag': 'W/"%s"' % stable_uuid('pe-etag', endpoint_id),
            'properties': {
                'provisioningState': 'Succeeded', 'resourceGuid': stable_uuid('pe', endpoint_id),
                'subnet': {'id': state.topology['vnet']['subnet_id']},
                'networkInterfaces': [{'id': nic_id}],
                'privateLinkServiceConnections': [{
                    'name': ENDPOINT_NAME, 'id': endpoint_id + '/privateLinkServiceConnections/' + ENDPOINT_NAME,
                    'type': ENDPOINT_TYPE + '/privateLinkServiceConnections',
                    'properties': {'provisioningState': 'Succeeded', 'privateLinkServiceId': pls_id, 'groupIds': ['management'],
                                   'privateLinkServiceConnectionState': {'status': 'Approved', 'description': 'Auto Approved',
                                                                         'actionsRequired': 'None'}}}],
                'manualPrivateLinkServiceConnections': [], 'customDnsConfigs': [], 'ipConfigurations': [],
                'applicationSecurityGroups': [], 'customNetworkInterfaceName': ''}}


def render_nic(state):
    endpoint_id, nic_id, nic_name = _ids(state)
    return {'name': nic_name, 'id': nic_id, 'type': NIC_TYPE, 'location': state.location,
            'etag': 'W/"%s"' % stable_uuid('pe-nic-etag', nic_id),
            'properties': {
                'provisioningState': 'Succeeded', 'resourceGuid': stable_uuid('pe-nic', nic_id),
                'ipConfigurations': [{
                    'name': 'privateEndpointIpConfig.%s' % stable_uuid('pe-ipconfig', nic_id),
                    'id': nic_id + '/ipConfigurations/privateEndpointIpConfig.%s' % stable_uuid('pe-ipconfig', nic_id),
                    'type': NIC_TYPE + '/ipConfigurations',
                    'properties': {'provisioningState': 'Succeeded', 'privateIPAddress': state.topology['cluster']['private_endpoint_ip'],
                                   'privateIPAllocationMethod': 'Dynamic', 'privateIPAddressVersion': 'IPv4',
                                   'subnet': {'id': state.topology['vnet']['subnet_id']}, 'primary': True}}],
                'dnsSettings': {'dnsServers': [], 'appliedDnsServers': []},
                'enableAcceleratedNetworking': False, 'enableIPForwarding': False, 'privateEndpoint': {'id': endpoint_id},
                'nicType': 'Standard', 'vnetEncryptionSupported': False}}


def endpoint_get(ctx, p):
    with ctx.state.lock:
        state = ctx.state
        if not _served(state) or p['rg'].lower() != state.node_resource_group.lower() or p['pe'].lower() != ENDPOINT_NAME:
            raise not_found(ENDPOINT_TYPE, p['pe'], p['rg'])
        return Response(200, render_endpoint(state))


def nic_get(ctx, p):
    with ctx.state.lock:
        state = ctx.state
        _endpoint_id, _nic_id, nic_name = _ids(state)
        if not _served(state) or p['rg'].lower() != state.node_resource_group.lower() or p['nic'].lower() != nic_name.lower():
            raise not_found(NIC_TYPE, p['nic'], p['rg'])
        return Response(200, render_nic(state))


ZONE_TYPE = 'Microsoft.Network/privateDnsZones'


def zone_links_list(ctx, p):
    with ctx.state.lock:
        state = ctx.state
        cluster = state.topology['cluster']
        zone = cluster.get('private_dns_zone')
        if (not cluster.get('private') or not zone or p['rg'].lower() != state.node_resource_group.lower()
                or p['zone'].lower() != zone.lower()):
            raise not_found(ZONE_TYPE, p['zone'], p['rg'])
        links = []
        if (state.config.get('private_dns') or {}).get('linked', True):
            vnet = state.topology['vnet']
            link_id = '/subscriptions/%s/resourceGroups/%s/providers/%s/%s/virtualNetworkLinks/%s' % (
                state.subscription_id, state.node_resource_group, ZONE_TYPE, zone, vnet['name'])
            links.append({'id': link_id, 'name': vnet['name'], 'type': ZONE_TYPE + '/virtualNetworkLinks', 'location': 'global',
                          'etag': stable_uuid('pdns-link-etag', link_id), 'tags': {},
                          'properties': {'virtualNetwork': {'id': vnet['id']}, 'registrationEnabled': False, 'resolutionPolicy': 'Default',
                                         'virtualNetworkLinkState': 'Completed', 'provisioningState': 'Succeeded'}})
        return Response(200, {'value': links})
