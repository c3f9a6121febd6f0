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
    commands = [c for c in (link_command(zone, v) for v in vnet_ids) if c]
    where = 'the %s private DNS zone %s%s' % (zone['kind'], zone['name'] or '(name unknown)',
                                              ' in %s' % zone['resource_group'] if zone.get('resource_group') else '')
    vnet_names = ' ' + ', '.join(v.rsplit('/', 1)[-1] for v in vnet_ids) if vnet_ids else ''
    summary = 'Link %s to the node VNet%s (%s).' % (where, vnet_names, forwarding)
    remedy = {'summary': summary, 'dns': {'host': host, 'zone': zone['name'], 'zone_resource_group': zone['resource_group'],
                                          'vnet_ids': vnet_ids}}
    if commands:
        remedy['commands'] = commands
    return ('the nodes cannot resolve the API server\'s private FQDN %s: %s is not linked to their VNet (or their DNS does not '
            'forward to Azure DNS)' % (host, where), remedy)
