# -*- coding: utf-8 -*-
# Copyright (c) 2026 aks.tunnel contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""A private cluster's API server address from its kube-apiserver private endpoint, never from a DNS lookup of the private FQDN
on the controller (issue 16). Endpoint shapes: privateEndpoint.json (network 2024-01-01) and its PrivateEndpointGet example."""

from __future__ import annotations

import pytest

from ansible_collections.aks.tunnel.plugins.module_utils import _cluster_model as cm
from ansible_collections.aks.tunnel.plugins.module_utils import _private_endpoint as pe

FQDN = 'aks-1a2b3c4d.0f1e2d3c-aaaa-bbbb-cccc-000000000001.privatelink.westeurope.azmk8s.io'
NIC_ID = '/subscriptions/s/resourceGroups/MC_rg_aks_we/providers/Microsoft.Network/networkInterfaces/kube-apiserver.nic.1234'
EP_ID = '/subscriptions/s/resourceGroups/MC_rg_aks_we/providers/Microsoft.Network/privateEndpoints/kube-apiserver'


def endpoint(dns=(), ipconfs=(), nics=(NIC_ID,)):
    return {'id': EP_ID, 'name': 'kube-apiserver', 'properties': {
        'customDnsConfigs': [{'fqdn': f, 'ipAddresses': list(a)} for f, a in dns],
        'ipConfigurations': [{'name': 'c%d' % i, 'properties': {'privateIPAddress': a}} for i, a in enumerate(ipconfs)],
        'networkInterfaces': [{'id': n} for n in nics]}}


def nic(*addresses, primary=0):
    return {'name': 'kube-apiserver.nic.1234', 'properties': {'ipConfigurations': [
        {'properties': {'privateIPAddress': a, 'primary': i == primary}} for i, a in enumerate(addresses)]}}


@pytest.mark.parametrize('fetched, ip, source, error', [
    # the entry of the private FQDN wins over another name's
    ({'endpoint': endpoint(dns=[('other.example', ['10.0.0.9']), (FQDN.upper(), ['10.0.0.5'])]), 'nic': None, 'error': None},
     '10.0.0.5', 'private endpoint kube-apiserver (customDnsConfigs)', None),
    # an IPv6 address or garbage is skipped
    ({'endpoint': endpoint(dns=[(FQDN, ['fd00::5', 'x', '10.0.0.6'])]), 'nic': None, 'error': None},
     '10.0.0.6', 'private endpoint kube-apiserver (customDnsConfigs)', None),
    # a static address
    ({'endpoint': endpoint(ipconfs=['10.0.0.7']), 'nic': None, 'error': None}, '10.0.0.7', 'private endpoint kube-apiserver (ipConfigurations)', None),
    # the usual AKS endpoint: nothing on it, the NIC's primary address
    ({'endpoint': endpoint(), 'nic': nic('10.0.0.3', '10.0.0.8', primary=1), 'error': None},
     '10.0.0.8', 'private endpoint kube-apiserver (NIC kube-apiserver.nic.1234)', None),
    # the NIC has no IPv4 address
    ({'endpoint': endpoint(), 'nic': nic('fd00::1'), 'error': None}, None, None, 'has no private IPv4 address'),
    # the read failed: the reason stays
    ({'endpoint': None, 'nic': None, 'error': 'cannot read the private endpoint kube-apiserver in MC: (AuthorizationFailed) no'},
     None, None, 'AuthorizationFailed'),
    ({'endpoint': endpoint(), 'nic': None, 'error': 'cannot read the NIC kube-apiserver.nic.1234 of the private endpoint: (NotFound)'},
     None, None, 'cannot read the NIC'),
])
def test_model_fields(fetched, ip, source, error):
    fields = pe.model_fields(fetched, FQDN)
    assert fields['api_server_private_ip'] == ip and fields['api_server_private_ip_source'] == source
    assert (error is None and fields['api_server_private_ip_error'] is None) or error in fields['api_server_private_ip_error']


class FakeNetwork:
    def __init__(self, ep=None, nic_body=None, ep_error=None):
        self.calls = []
        self.private_endpoints = self.network_interfaces = self
        self._ep, self._nic, self._ep_error = ep, nic_body, ep_error

    def get(self, rg, name):
        self.calls.append((rg, name))
        if name == 'kube-apiserver':
            if self._ep_error:
                raise self._ep_error
            return self._ep
        return self._nic


@pytest.mark.parametrize('network, calls, ip', [
    # the address on the endpoint: one read
    (FakeNetwork(endpoint(dns=[(FQDN, ['10.0.0.5'])])), [('MC_rg_aks_we', 'kube-apiserver')], '10.0.0.5'),
    # else its NIC, in the resource group its id names
    (FakeNetwork(endpoint(), nic('10.0.0.8')), [('MC_rg_aks_we', 'kube-apiserver'), ('MC_rg_aks_we', 'kube-apiserver.nic.1234')], '10.0.0.8'),
    (FakeNetwork(ep_error=RuntimeError('(AuthorizationFailed) the client does not have privateEndpoints/read\nmore')),
     [('MC_rg_aks_we', 'kube-apiserver')], None),
])
def test_fetch_reads_the_endpoint_then_its_nic(network, calls, ip):
    fetched = pe.fetch(network, 'MC_rg_aks_we', FQDN, cm.as_dict)
    assert network.calls == calls
    assert pe.model_fields(fetched, FQDN)['api_server_private_ip'] == ip
    if ip is None:
        assert fetched['error'] == ('cannot read the private endpoint kube-apiserver in MC_rg_aks_we: (AuthorizationFailed) the client '
                                    'does not have privateEndpoints/read')


def _never(host):
    raise AssertionError('resolved %s on the controller' % host)


@pytest.mark.parametrize('cluster, resolve, ip, reason', [
    # private cluster: the endpoint address, no lookup
    ({'private_cluster': True, 'api_server_host': FQDN, 'api_server_private_ip': '10.0.0.5'}, _never, '10.0.0.5', None),
    # private cluster without the address: unknown with the read's reason, still no lookup
    ({'private_cluster': True, 'api_server_host': FQDN, 'api_server_private_ip_error': 'cannot read the private endpoint x: 403'}, _never,
     None, 'cannot read the private endpoint x: 403; its private FQDN %s is not resolved from the controller' % FQDN),
    # an older model (no such fields)
    ({'private_cluster': True, 'api_server_host': FQDN}, _never, None, 'the model has no private endpoint address'),
    ({'private_cluster': True, 'vnet_integration': True, 'api_server_host': FQDN}, _never, None, 'API Server VNet Integration'),
    # a privatelink name is never looked up, whatever the flag says
    ({'private_cluster': False, 'api_server_host': FQDN.upper() + '.'}, _never, None, 'not resolved from the controller'),
    # public cluster: its public FQDN is resolved
    ({'private_cluster': False, 'api_server_host': 'aks.hcp.westeurope.azmk8s.io'}, lambda h: '20.1.2.3', '20.1.2.3', None),
    ({'private_cluster': False, 'api_server_host': 'aks.hcp.westeurope.azmk8s.io'}, lambda h: None, None,
     'aks.hcp.westeurope.azmk8s.io did not resolve here'),
])
def test_api_server_address(cluster, resolve, ip, reason):
    address, why = pe.api_server_address(cluster, resolve)
    assert address == ip
    assert (reason is None and why is None) or reason in why


def test_the_model_carries_the_private_endpoint_address():
    azure = {'cluster': {'id': '/subscriptions/s/resourceGroups/rg/providers/Microsoft.ContainerService/managedClusters/aks', 'name': 'aks',
                         'properties': {'nodeResourceGroup': 'MC_rg_aks_we', 'privateFQDN': FQDN,
                                        'apiServerAccessProfile': {'enablePrivateCluster': True}}},
             'private_endpoint': {'endpoint': endpoint(), 'nic': nic('10.0.0.8'), 'error': None}}
    cluster = cm.assemble(azure, None)['cluster']
    assert (cluster['api_server_host'], cluster['api_server_private_ip'], cluster['private_endpoint_id']) == (FQDN, '10.0.0.8', EP_ID)
    public = cm.assemble({'cluster': dict(azure['cluster'], properties={'nodeResourceGroup': 'MC', 'fqdn': 'aks.hcp'})}, None)['cluster']
    assert 'api_server_private_ip' not in public
