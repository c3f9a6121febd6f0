# -*- coding: utf-8 -*-
# Copyright (c) 2026 aks.tunnel contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The private DNS of a private cluster's API server (issue 16), pure.

A private cluster's nodes (and their konnectivity agents) dial the API server at its private FQDN
(``<dns prefix>-<hash>.<guid>.privatelink.<region>.azmk8s.io``), which only a private DNS zone linked to the node VNet
resolves to the private endpoint. ``apiServerAccessProfile.privateDNSZone`` says which zone
(learn.microsoft.com/azure/aks/private-clusters, "Configure a private DNS zone"):

- ``system`` (the default): AKS creates ``<guid>.privatelink.<region>.azmk8s.io`` in the node resource group and links it
  to the cluster's VNet;
- a zone resource id: the customer's zone (``privatelink.<region>.azmk8s.io`` or ``<subzone>.privatelink.<region>.azmk8s.io``);
  the customer links it to the VNets that must resolve it;
- ``none``: no private zone; the nodes use the public FQDN, which resolves to the private IP.

When a node cannot resolve the name, the missing piece is the zone's virtual network link to the node VNet (or, with custom
DNS servers on the VNet, their forwarding to Azure DNS 168.63.129.16).
"""

from __future__ import annotations

import re
import shlex

AZURE_DNS = '168.63.129.16'
_ZONE_ID = re.compile(r'^/subscriptions/([^/]+)/resourceGroups/([^/]+)/providers/Microsoft\.Network/privateDnsZones/([^/]+)$', re.IGNORECASE)
_VNET_ID = re.compile(r'^/subscriptions/([^/]+)/resourceGroups/([^/]+)/providers/Microsoft\.Network/virtualNetworks/([^/]+)$', re.IGNORECASE)


def is_dns_failure(reason):
    """True for a node probe egress reason that failed in name resolution (the probe's dns_failed)."""
    return 'dns_failed' in (reason or '')


def zone_of(cluster):
    """``{kind: system|custom|none, name, resource_group, subscription_id}`` of the cluster's API server private DNS zone,
    or None for a public cluster. ``cluster``: the model's cluster (private_cluster, private_fqdn, private_dns_zone,
    node_resource_group, subscription_id); a zone the model cannot name has name None."""
    if not cluster or not cluster.get('private_cluster'):
        return None
    setting = cluster.get('private_dns_zone') or 'system'
    if setting.lower() == 'none':
        return {'kind': 'none', 'name': None, 'resource_group': None, 'subscription_id': None}
    match = _ZONE_ID.match(setting)
    if match:
        return {'kind': 'custom', 'name': match.group(3), 'resource_group': match.group(2), 'subscription_id': match.group(1)}
    fqdn = cluster.get('private_fqdn') or ''
    name = fqdn.split('.', 1)[1] if '.privatelink.' in fqdn else None
    return {'kind': 'system', 'name': name, 'resource_group': cluster.get('node_resource_group'), 'subscription_id': cluster.get('subscription_id')}


def link_command(zone, vnet_id):
    """The az command that links ``zone`` (zone_of) to the VNet ``vnet_id``, or None when either is unknown."""
    vnet = _VNET_ID.match(vnet_id or '')
    if not zone or not zone.get('name') or not zone.get('resource_group') or not vnet:
        return None
    words = ['az', 'network', 'private-dns', 'link', 'vnet', 'create', '--resource-group', zone['resource_group'],
             '--zone-name', zone['name'], '--name', '%s-link' % vnet.group(3), '--virtual-network', vnet_id, '--registration-enabled', 'false']
    if zone.get('subscription_id'):
        words += ['--subscription', zone['subscription_id']]
    return ' '.join(shlex.quote(w) for w in words)


# The virtual network links of the zone (privatedns.json, VirtualNetworkLinks_List; Microsoft.Network/privateDnsZones/
# virtualNetworkLinks/read, in Reader). azure-mgmt-network has no private DNS operations: a plain GET through its pipeline.
LINKS_API_VERSION = '2024-06-01'


def links_path(zone):
    """The ARM path of the zone's virtualNetworkLinks list, or None when the zone is not named."""
    if not zone or not zone.get('name') or not zone.get('resource_group') or not zone.get('subscription_id'):
        return None
    return '/subscriptions/%s/resourceGroups/%s/providers/Microsoft.Network/privateDnsZones/%s/virtualNetworkLinks' % (
        zone['subscription_id'], zone['resource_group'], zone['name'])


def link_state(links, vnet_ids, error=None):
    """Which node VNets the zone's virtual network links (VirtualNetworkLinks_List ``value``) cover (pure).

    ``{read, error, linked: [node VNet ids], unlinked: [node VNet ids], links: [{name, vnet, state}]}``; a link counts when its
    virtualNetwork is a node VNet and it is not InProgress or Failed (virtualNetworkLinkState, provisioningState).
    """
    if error:
        return {'read': False, 'error': error, 'linked': [], 'unlinked': [], 'links': []}
    shown = []
    done = set()
    for link in links or []:
        props = link.get('properties') or {}
        vnet = ((props.get('virtualNetwork') or {}).get('id') or '')
        state = props.get('virtualNetworkLinkState') or ''
        shown.append({'name': link.get('name'), 'vnet': vnet, 'state': state or props.get('provisioningState')})
        if vnet and state != 'InProgress' and props.get('provisioningState') not in ('Failed', 'Deleting', 'Canceled'):
            done.add(vnet.lower())
    vnet_ids = list(vnet_ids or [])
    return {'read': True, 'error': None, 'links': shown, 'linked': [v for v in vnet_ids if v.lower() in done],
            'unlinked': [v for v in vnet_ids if v.lower() not in done]}


def needs_links(cluster, results):
    """True when the links are worth reading: a private cluster with a named zone whose nodes failed name resolution."""
    zone = zone_of(cluster)
    if not zone or zone['kind'] == 'none' or not links_path(zone):
        return False
    return any(e.get('ok') is False and is_dns_failure(e.get('reason'))
               for r in results or [] for e in (r.get('checks') or {}).get('egress') or [])


def read_links(client, cluster):
    """link_state() of the cluster's zone, read through ``client``'s pipeline (an azure-mgmt client: send_request)."""
    from azure.core.rest import HttpRequest  # pylint: disable=import-outside-toplevel  # azure-core comes with every azure-mgmt SDK
    path = links_path(zone_of(cluster))
    vnet_ids = (cluster or {}).get('vnet_ids') or []
    links = []
    url = '%s?api-version=%s' % (path, LINKS_API_VERSION)
    try:
        for _page in range(20):  # 100 links a page; a zone has at most 1000 (Azure's limit)
            response = client.send_request(HttpRequest('GET', url))
            response.raise_for_status()
            body = response.json()
            links.extend(body.get('value') or [])
            url = body.get('nextLink')
            if not url:
                break
    except Exception as exc:  # pylint: disable=broad-except  # any SDK or HTTP error: the links are unknown, the advice stays general
        text = str(exc).splitlines()[0][:300] if str(exc) else type(exc).__name__
        return link_state(None, vnet_ids, 'cannot read the virtual network links of %s: %s' % (path.rsplit('/', 2)[-2], text))
    return link_state(links, vnet_ids)


def remediation(cluster, host):
    """(summary, remediation dict) for nodes that cannot resolve the API server name ``host``."""
    zone = zone_of(cluster)
    vnet_ids = list((cluster or {}).get('vnet_ids') or [])
    forwarding = ('if the node VNet uses custom DNS servers, they must forward azmk8s.io (or the zone) to Azure DNS %s' % AZURE_DNS)
    if zone is None:
        return ('the nodes cannot resolve the API server FQDN %s' % host,
                {'summary': 'Make the node VNet\'s DNS resolve %s (%s).' % (host, forwarding), 'dns': {'host': host}})
    if zone['kind'] == 'none':
        return ('the nodes cannot resolve the API server FQDN %s (private cluster without a private DNS zone)' % host,
                {'summary': 'The cluster has no private DNS zone (privateDNSZone none): the node VNet\'s DNS must resolve %s to the '
                            'private endpoint (%s).' % (host, forwarding), 'dns': {'host': host, 'zone': None}})
    where = 'the %s private DNS zone %s%s' % (zone['kind'], zone['name'] or '(name unknown)',
                                              ' in %s' % zone['resource_group'] if zone.get('resource_group') else '')
    links = (cluster or {}).get('private_dns_links')
    if links and links.get('read') and vnet_ids and not links['unlinked']:
        # proven: the zone is linked to every node VNet, so the nodes' DNS is not Azure DNS (custom DNS servers)
        names = ', '.join(v.rsplit('/', 1)[-1] for v in links['linked'])
        dns = {'host': host, 'zone': zone['name'], 'zone_resource_group': zone['resource_group'], 'vnet_ids': vnet_ids, 'links': links['links']}
        advice = ('Make the node VNet\'s custom DNS servers forward azmk8s.io (or the zone %s) to Azure DNS %s (the zone is linked to %s).'
                  % (zone['name'], AZURE_DNS, names))
        return ('the nodes cannot resolve the API server\'s private FQDN %s although %s is linked to their VNet %s: their DNS servers '
                'do not forward to Azure DNS %s' % (host, where, names, AZURE_DNS), {'summary': advice, 'dns': dns})
    if links and links.get('read') and links['unlinked']:
        vnet_ids = links['unlinked']
    commands = [c for c in (link_command(zone, v) for v in vnet_ids) if c]
    vnet_names = ' ' + ', '.join(v.rsplit('/', 1)[-1] for v in vnet_ids) if vnet_ids else ''
    summary = 'Link %s to the node VNet%s (%s).' % (where, vnet_names, forwarding)
    remedy = {'summary': summary, 'dns': {'host': host, 'zone': zone['name'], 'zone_resource_group': zone['resource_group'],
                                          'vnet_ids': vnet_ids}}
    if commands:
        remedy['commands'] = commands
    if links and links.get('read'):
        # proven from the zone's virtual network links
        remedy['dns']['links'] = links['links']
        return ('the nodes cannot resolve the API server\'s private FQDN %s: %s is not linked to their VNet %s (its virtual network '
                'links: %s)' % (host, where, ', '.join(v.rsplit('/', 1)[-1] for v in vnet_ids),
                                ', '.join('%s -> %s' % (l['name'], (l['vnet'] or '?').rsplit('/', 1)[-1]) for l in links['links']) or 'none'),
                remedy)
    if links and links.get('error'):
        remedy['dns']['links_error'] = links['error']
    return ('the nodes cannot resolve the API server\'s private FQDN %s: %s is not linked to their VNet (or their DNS does not '
            'forward to Azure DNS)' % (host, where), remedy)
