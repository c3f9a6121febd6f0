# -*- coding: utf-8 -*-
# Copyright (c) 2026 aks.tunnel contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The API server address of a private cluster, read from ARM (issue 16).

A private cluster's API server is a private endpoint in the node VNet: AKS creates ``Microsoft.Network/privateEndpoints/
kube-apiserver`` in the node resource group, in the node subnet (Azure/AKS#2892; learn.microsoft.com/azure/aks/private-clusters).
Its address is what the nodes' private FQDN resolves to, but only inside the VNet: the controller is usually outside it, so a
lookup there fails (after its timeout) and, worse, asks the controller's resolver about a private name. The address is therefore
read once from ARM when the model is built (PrivateEndpoints_Get, then the endpoint's NIC, NetworkInterfaces_Get; both under
``*/read``) and the private FQDN is never resolved on the controller.

Where the address is in the endpoint (privateEndpoint.json, network 2024-01-01): ``customDnsConfigs[].ipAddresses`` (filled when
the endpoint has no DNS zone group), ``ipConfigurations[].properties.privateIPAddress`` (static addresses only), else the
``privateIPAddress`` of the NIC in ``networkInterfaces[]`` (always there).
"""

from __future__ import annotations

import ipaddress

ENDPOINT_NAME = 'kube-apiserver'


def _ipv4(value):
    try:
        return str(ipaddress.IPv4Address(value))
    except (ipaddress.AddressValueError, ValueError, TypeError):
        return None


def _props(obj):
    return (obj or {}).get('properties') or {}


def address_in_endpoint(endpoint, private_fqdn=None):
    """(IPv4, where) from the private endpoint itself, or (None, None): the customDnsConfigs entry of ``private_fqdn`` first."""
    configs = [c for c in _props(endpoint).get('customDnsConfigs') or [] if isinstance(c, dict)]
    wanted = (private_fqdn or '').lower().rstrip('.')
    configs.sort(key=lambda c: (c.get('fqdn') or '').lower().rstrip('.') != wanted)
    for config in configs:
        for value in config.get('ipAddresses') or []:
            if _ipv4(value):
                return _ipv4(value), 'customDnsConfigs'
    for ipconf in _props(endpoint).get('ipConfigurations') or []:
        if _ipv4(_props(ipconf).get('privateIPAddress')):
            return _ipv4(_props(ipconf)['privateIPAddress']), 'ipConfigurations'
    return None, None


def address_in_nic(nic):
    """The primary IPv4 private address of the endpoint's NIC, or None."""
    ipconfs = sorted(_props(nic).get('ipConfigurations') or [], key=lambda c: not _props(c).get('primary'))
    for ipconf in ipconfs:
        if _ipv4(_props(ipconf).get('privateIPAddress')):
            return _ipv4(_props(ipconf)['privateIPAddress'])
    return None


def nic_ids(endpoint):
    return [n['id'] for n in _props(endpoint).get('networkInterfaces') or [] if isinstance(n, dict) and n.get('id')]


def endpoint_id(subscription_id, node_resource_group):
    return '/subscriptions/%s/resourceGroups/%s/providers/Microsoft.Network/privateEndpoints/%s' % (
        subscription_id, node_resource_group, ENDPOINT_NAME)


def _error_text(exc):
    text = str(exc).splitlines()[0][:300] if str(exc) else ''
    return text or type(exc).__name__


def fetch(network, node_resource_group, private_fqdn, as_dict):
    """Read the kube-apiserver private endpoint (and its NIC when the endpoint does not carry the address).

    ``{endpoint, nic, error}``; any SDK error becomes ``error`` (the address is then unknown with that reason; the model
    still builds). ``as_dict``: _cluster_model.as_dict.
    """
    result = {'endpoint': None, 'nic': None, 'error': None}
    try:
        result['endpoint'] = as_dict(network.private_endpoints.get(node_resource_group, ENDPOINT_NAME))
    except Exception as exc:  # pylint: disable=broad-except  # any SDK error: only the API server address is unknown
        result['error'] = 'cannot read the private endpoint %s in %s: %s' % (ENDPOINT_NAME, node_resource_group, _error_text(exc))
        return result
    if address_in_endpoint(result['endpoint'], private_fqdn)[0]:
        return result
    for nic_id in nic_ids(result['endpoint'])[:1]:
        parts = nic_id.split('/')
        if len(parts) < 9 or parts[3].lower() != 'resourcegroups':
            continue
        try:
            result['nic'] = as_dict(network.network_interfaces.get(parts[4], parts[-1]))
        except Exception as exc:  # pylint: disable=broad-except  # any SDK error: only the API server address is unknown
            result['error'] = 'cannot read the NIC %s of the private endpoint %s: %s' % (parts[-1], ENDPOINT_NAME, _error_text(exc))
    return result


def model_fields(fetched, private_fqdn=None):
    """The cluster model's fields from fetch(): api_server_private_ip, its source and, when unknown, the reason (pure)."""
    if fetched is None:
        return {}
    endpoint = fetched.get('endpoint')
    fields = {'private_endpoint_id': (endpoint or {}).get('id'), 'api_server_private_ip': None,
              'api_server_private_ip_source': None, 'api_server_private_ip_error': fetched.get('error')}
    address, where = address_in_endpoint(endpoint, private_fqdn)
    if not address and fetched.get('nic') is not None:
        address, where = address_in_nic(fetched['nic']), 'NIC %s' % (fetched['nic'].get('name') or '')
    if address:
        fields.update(api_server_private_ip=address, api_server_private_ip_error=None,
                      api_server_private_ip_source='private endpoint %s (%s)' % (ENDPOINT_NAME, where.strip()))
    elif endpoint is not None and not fields['api_server_private_ip_error']:
        fields['api_server_private_ip_error'] = 'the private endpoint %s has no private IPv4 address (customDnsConfigs, ipConfigurations, NIC)' % (
            ENDPOINT_NAME)
    return fields


def is_private_name(host):
    """True for a name only a private DNS zone resolves (``*.privatelink.*``): never looked up on the controller."""
    return '.privatelink.' in ('.%s.' % (host or '').lower().strip('.'))


def api_server_address(cluster, resolve):
    """(the API server address the nodes dial, or None; the reason when None).

    Private cluster: the private endpoint address from the model, never a DNS lookup of the private FQDN here. Other
    clusters: ``resolve(host)`` (the public FQDN, which public DNS answers).
    """
    cluster = cluster or {}
    host = cluster.get('api_server_host')
    if cluster.get('private_cluster') or is_private_name(host):
        if cluster.get('api_server_private_ip'):
            return cluster['api_server_private_ip'], None
        if cluster.get('vnet_integration'):
            why = 'API Server VNet Integration: the address of its internal load balancer is not read'
        else:
            why = cluster.get('api_server_private_ip_error') or 'the model has no private endpoint address (an older aks_cluster_info result?)'
        return None, ('the private cluster\'s API server address is unknown: %s; its private FQDN %s is not resolved from the controller '
                      '(give api_server_ip, playbook variable aks_tunnel_api_server_ip)' % (why, host))
    address = resolve(host) if host else None
    if address:
        return address, None
    return None, 'the API server address is unknown: %s did not resolve here (give api_server_ip, playbook variable aks_tunnel_api_server_ip)' % (
        host or 'no API server FQDN')
