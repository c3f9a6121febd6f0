# -*- coding: utf-8 -*-
# Copyright (c) 2026 aks.tunnel contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""API Server VNet Integration (issue 16): the API server subnet, delegated to AKS, in the node VNet.

Config ``apiserver_subnet`` (only with ``cluster.enable_vnet_integration``):
  {"name": "aks-apiserver-subnet", "prefix": "10.241.0.0/28", "nsg": "<name or id of an NSG of network.nsgs>"}
The managed cluster's ``apiServerAccessProfile.subnetId`` names it; Subnets_Get answers it (virtualNetwork.json Subnet,
with the ``Microsoft.ContainerService/managedClusters`` delegation AKS requires). The data plane is not affected: the
lab's API server stand-in is not in this subnet; the NSG paths to it are evaluated from the ARM view.
"""

from __future__ import annotations

DEFAULT_NAME = 'aks-apiserver-subnet'
DELEGATION = 'Microsoft.ContainerService/managedClusters'


def config(state):
    cfg = state.config.get('apiserver_subnet')
    if not cfg or not state.cluster_props.get('enable_vnet_integration'):
        return None
    return cfg


def subnet_id(state):
    cfg = config(state)
    if not cfg:
        return None
    return state.topology['vnet']['id'] + '/subnets/' + (cfg.get('name') or DEFAULT_NAME)


def render(state):
    cfg = config(state)
    sid = subnet_id(state)
    props = {'provisioningState': 'Succeeded', 'addressPrefix': cfg['prefix'],
             'delegations': [{'name': 'aks-delegation', 'id': sid + '/delegations/aks-delegation',
                              'type': 'Microsoft.Network/virtualNetworks/subnets/delegations',
                              'properties': {'serviceName': DELEGATION, 'actions': ['Microsoft.Network/virtualNetworks/subnets/join/action'],
                                             'provisioningState': 'Succeeded'}}],
             'privateEndpointNetworkPolicies': 'Disabled', 'privateLinkServiceNetworkPolicies': 'Enabled'}
    if cfg.get('nsg'):
        props['networkSecurityGroup'] = {'id': state.find_nsg_by_ref(cfg['nsg'])['id']}
    return {'name': sid.rsplit('/', 1)[1], 'id': sid, 'etag': 'W/"%s"' % state.subnet_etag,
            'type': 'Microsoft.Network/virtualNetworks/subnets', 'properties': props}


def find(state, name):
    """The API server subnet body when ``name`` is its name, else None."""
    sid = subnet_id(state)
    if sid and sid.rsplit('/', 1)[1].lower() == name.lower():
        return render(state)
    return None


def cluster_properties(state, props):
    """apiServerAccessProfile.subnetId of the managed cluster (a bring-your-own API server subnet)."""
    sid = subnet_id(state)
    if sid:
        props.setdefault('apiServerAccessProfile', {})['subnetId'] = sid
