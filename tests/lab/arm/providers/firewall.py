# -*- coding: utf-8 -*-
# Copyright (c) 2026 aks.tunnel contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Microsoft.Network route tables, Azure Firewalls and Firewall Policies (issue 16): what the tunnel egress passes.

* ``routeTables/{rt}`` (RouteTables_Get, routeTable.json, vendored): the node subnet's route table, served when the config has
  user routes (``network_path.routes``, the same routes effectiveRouteTable serves); the subnet GET shows it as ``routeTable``.
  Its name is ``network_path.route_table`` (default ``rt-aks-nodes``), in the node resource group.
* ``azureFirewalls`` (AzureFirewalls_Get / _List / _ListAll) and ``firewallPolicies/{fp}`` (FirewallPolicies_Get) with
  ``ruleCollectionGroups`` (FirewallPolicyRuleCollectionGroups_Get / _List / _CreateOrUpdate): config ``firewall``:
  {"name": "fw-hub", "resource_group": "rg-hub", "private_ip": "10.241.0.4", "policy": "fp-aks",
   "rule_collection_groups": [{"name": ..., "properties": {"priority": ..., "ruleCollections": [...]}}]} (REST shape).
  ``virtual_hub``: the firewall is a Virtual WAN secured hub's (its private IP in hubIPAddresses, no ipConfigurations).
  A PUT of a rule collection group changes the policy the data plane's router enforces (state.nsg_changed(policy id,
  'firewall_policy') tells the lab's control process to re-render it).

The answers are validated against reduced extracts of azureFirewall.json, firewallPolicy.json and ipGroups.json (network stable
2024-03-01, tests/lab/specs/, group ``azfw`` of tests/lab/swagger.py). The spec's shapes the lab follows: a classic network rule
names its protocols ``protocols`` (a policy NetworkRule ``ipProtocols``), a classic application rule has no destinationAddresses
nor terminateTLS, a policy rule collection is polymorphic on ``ruleCollectionType`` and a rule on ``ruleType``.
"""

from __future__ import annotations

import copy

from ..common import ArmError, Response, new_etag, not_found, stable_uuid

FIREWALL_TYPE = 'Microsoft.Network/azureFirewalls'
POLICY_TYPE = 'Microsoft.Network/firewallPolicies'
ROUTE_TABLE_DEFAULT = 'rt-aks-nodes'


def route_table_id(state):
    """The id of the node subnet's route table, or None when the config has no user route."""
    path = state.config.get('network_path') or {}
    if not path.get('routes'):
        return None
    return '/subscriptions/%s/resourceGroups/%s/providers/Microsoft.Network/routeTables/%s' % (
        state.subscription_id, state.node_resource_group, path.get('route_table') or ROUTE_TABLE_DEFAULT)


def subnet_reference(state):
    """The subnet's ``routeTable`` property, or None."""
    table_id = route_table_id(state)
    return {'id': table_id} if table_id else None


def _route_table(state):
    table_id = route_table_id(state)
    name = table_id.rsplit('/', 1)[1]
    routes = []
    for item in (state.config.get('network_path') or {}).get('routes') or []:
        props = {'provisioningState': 'Succeeded', 'addressPrefix': item['address_prefix'], 'nextHopType': item['next_hop_type']}
        if item.get('next_hop_ip'):
            props['nextHopIpAddress'] = item['next_hop_ip']
        routes.append({'name': item['name'], 'id': '%s/routes/%s' % (table_id, item['name']), 'etag': 'W/"%s"' % stable_uuid('route', item['name']),
                       'type': 'Microsoft.Network/routeTables/routes', 'properties': props})
    return {'id': table_id, 'name': name, 'type': 'Microsoft.Network/routeTables', 'location': state.location, 'tags': {},
            'etag': 'W/"%s"' % stable_uuid('rt', table_id),
            'properties': {'provisioningState': 'Succeeded', 'resourceGuid': stable_uuid('rtguid', table_id), 'disableBgpRoutePropagation': False,
                           'routes': routes, 'subnets': [{'id': state.topology['vnet']['subnet_id']}]}}


def route_table_get(ctx, p):
    with ctx.state.lock:
        table_id = route_table_id(ctx.state)
        if not table_id or table_id.split('/')[4].lower() != p['rg'].lower() or table_id.rsplit('/', 1)[1].lower() != p['rt'].lower():
            raise not_found('Microsoft.Network/routeTables', p['rt'], p['rg'])
        return Response(200, _route_table(ctx.state))


# --------------------------------------------------------------------------- firewall and policy

def config(state):
    return state.config.get('firewall')


def hub(state):
    """Config ``firewall.hub_subscription``: {id, readers?: [client ids] (default every client), vnet?, address_prefixes?} - the
    firewall, its policy and IP groups live in that other subscription of the tenant (hub and spoke), the node VNet is peered
    with the hub VNet. None: they are in the cluster's subscription."""
    return (config(state) or {}).get('hub_subscription')


def firewall_subscription(state):
    return (hub(state) or {}).get('id') or state.subscription_id


HUB_TYPES = ('azureFirewalls', 'firewallPolicies', 'firewallPolicies/ruleCollectionGroups', 'ipGroups')


def hub_access(state, sub, rtype, principal):
    """True when ``sub`` is the hub subscription and the route reads what the lab keeps there; ARM's 403 when the principal holds
    no role in it (the readers); False for any other subscription (the caller answers SubscriptionNotFound)."""
    spec = hub(state)
    if not spec or not sub or sub.lower() != spec['id'].lower() or rtype not in HUB_TYPES:
        return False
    readers = spec.get('readers')
    if readers is not None and principal.client_id not in readers:
        raise ArmError(403, 'AuthorizationFailed', "The client '%s' with object id '%s' does not have authorization to perform action "
                       "'Microsoft.Network/%s/read' over scope '/subscriptions/%s' or the scope is invalid. If access was recently granted, "
                       "please refresh your credentials." % (principal.client_id, principal.object_id, rtype, spec['id']))
    return True


def _in_firewall_subscription(state, p):
    return p.get('sub', state.subscription_id).lower() == firewall_subscription(state).lower()


def hub_vnet_id(state):
    spec = hub(state) or {}
    rg = (config(state) or {}).get('resource_group') or state.resource_group
    return '/subscriptions/%s/resourceGroups/%s/providers/Microsoft.Network/virtualNetworks/%s' % (
        firewall_subscription(state), rg, spec.get('vnet') or 'vnet-hub')


def vnet_peerings(state):
    """The node VNet's peering with the hub VNet (the hub's address space is what the spoke sees without reading the hub)."""
    spec = hub(state)
    if not spec:
        return []
    vnet_id = state.topology['vnet']['id']
    return [{'name': 'spoke-to-hub', 'id': vnet_id + '/virtualNetworkPeerings/spoke-to-hub', 'etag': 'W/"%s"' % stable_uuid('peer', vnet_id),
             'type': 'Microsoft.Network/virtualNetworks/virtualNetworkPeerings',
             'properties': {'provisioningState': 'Succeeded', 'peeringState': 'Connected', 'peeringSyncLevel': 'FullyInSync',
                            'allowVirtualNetworkAccess': True, 'allowForwardedTraffic': True, 'allowGatewayTransit': False,
                            'useRemoteGateways': False, 'remoteVirtualNetwork': {'id': hub_vnet_id(state)},
                            'remoteAddressSpace': {'addressPrefixes': list(spec.get('address_prefixes') or ['10.241.0.0/16'])}}}]


def _ids(state):
    cfg = config(state)
    rg = cfg.get('resource_group') or state.resource_group
    base = '/subscriptions/%s/resourceGroups/%s/providers/Microsoft.Network' % (firewall_subscription(state), rg)
    firewall_id = '%s/azureFirewalls/%s' % (base, cfg.get('name') or 'fw-hub')
    policy_id = '%s/firewallPolicies/%s' % (base, cfg['policy']) if cfg.get('policy') else None
    return rg, firewall_id, policy_id


def _firewall(state):
    cfg = config(state)
    rg, firewall_id, policy_id = _ids(state)
    vnet = hub_vnet_id(state)
    props = {'provisioningState': 'Succeeded', 'threatIntelMode': 'Alert',
             'sku': {'name': 'AZFW_VNet', 'tier': 'Standard'},
             'ipConfigurations': [{'name': 'ipconfig1', 'id': firewall_id + '/azureFirewallIpConfigurations/ipconfig1',
                                   'etag': 'W/"%s"' % stable_uuid('fwip', firewall_id),
                                   'properties': {'provisioningState': 'Succeeded', 'privateIPAddress': cfg['private_ip'],
                                                  'subnet': {'id': vnet + '/subnets/AzureFirewallSubnet'},
                                                  'publicIPAddress': {'id': '/subscriptions/%s/resourceGroups/%s/providers/Microsoft.Network/'
                                                                            'publicIPAddresses/%s-pip'
                                                                            % (firewall_subscription(state), rg, cfg.get('name') or 'fw-hub')}}}],
             'applicationRuleCollections': [], 'natRuleCollections': [], 'networkRuleCollections': []}
    if cfg.get('virtual_hub'):
        # A Virtual WAN secured hub's firewall (config ``virtual_hub``: the hub's name): no ipConfigurations, its private IP in
        # hubIPAddresses, the hub in virtualHub, SKU AZFW_Hub (azureFirewall.json HubIPAddresses / virtualHub).
        props.update(sku={'name': 'AZFW_Hub', 'tier': 'Standard'}, ipConfigurations=[],
                     virtualHub={'id': '/subscriptions/%s/resourceGroups/%s/providers/Microsoft.Network/virtualHubs/%s'
                                       % (firewall_subscription(state), rg, cfg['virtual_hub'])},
                     hubIPAddresses={'privateIPAddress': cfg['private_ip'], 'publicIPs': {'addresses': [], 'count': 1}})
    if policy_id:
        props['firewallPolicy'] = {'id': policy_id}
    else:
        for key in ('networkRuleCollections', 'applicationRuleCollections'):
            props[key] = copy.deepcopy(cfg.get(key) or [])
    return {'id': firewall_id, 'name': firewall_id.rsplit('/', 1)[1], 'type': FIREWALL_TYPE, 'location': state.location, 'tags': {},
            'etag': 'W/"%s"' % stable_uuid('fw', firewall_id), 'properties': props}


def _firewall_or_404(ctx, p):
    if not config(ctx.state) or not _in_firewall_subscription(ctx.state, p):
        raise not_found(FIREWALL_TYPE, p['fw'], p['rg'])
    rg, firewall_id, _policy = _ids(ctx.state)
    if rg.lower() != p['rg'].lower() or firewall_id.rsplit('/', 1)[1].lower() != p['fw'].lower():
        raise not_found(FIREWALL_TYPE, p['fw'], p['rg'])


def firewall_get(ctx, p):
    with ctx.state.lock:
        _firewall_or_404(ctx, p)
        return Response(200, _firewall(ctx.state))


def firewall_list(ctx, p):
    with ctx.state.lock:
        if not config(ctx.state) or not _in_firewall_subscription(ctx.state, p):
            return Response(200, {'value': []})
        rg = _ids(ctx.state)[0]
        if p.get('rg') is not None and p['rg'].lower() != rg.lower():
            return Response(200, {'value': []})
        return Response(200, {'value': [_firewall(ctx.state)]})


def _policy_or_404(ctx, p):
    cfg = config(ctx.state)
    if not cfg or not cfg.get('policy') or not _in_firewall_subscription(ctx.state, p):
        raise not_found(POLICY_TYPE, p['fp'], p['rg'])
    rg, _fw, policy_id = _ids(ctx.state)
    if rg.lower() != p['rg'].lower() or cfg['policy'].lower() != p['fp'].lower():
        raise not_found(POLICY_TYPE, p['fp'], p['rg'])
    return cfg, policy_id


def _group(policy_id, raw):
    props = copy.deepcopy(raw.get('properties') or {})
    props['provisioningState'] = 'Succeeded'
    return {'id': '%s/ruleCollectionGroups/%s' % (policy_id, raw['name']), 'name': raw['name'],
            'type': POLICY_TYPE + '/ruleCollectionGroups', 'etag': raw.get('etag') or 'W/"%s"' % stable_uuid('rcg', raw['name']),
            'properties': props}


def policy_get(ctx, p):
    with ctx.state.lock:
        cfg, policy_id = _policy_or_404(ctx, p)
        _rg, firewall_id, _pid = _ids(ctx.state)
        groups = [{'id': '%s/ruleCollectionGroups/%s' % (policy_id, g['name'])} for g in cfg.get('rule_collection_groups') or []]
        return Response(200, {'id': policy_id, 'name': cfg['policy'], 'type': POLICY_TYPE, 'location': ctx.state.location, 'tags': {},
                              'etag': 'W/"%s"' % stable_uuid('fp', policy_id),
                              'properties': {'provisioningState': 'Succeeded', 'threatIntelMode': 'Alert', 'sku': {'tier': 'Standard'},
                                             'ruleCollectionGroups': groups, 'firewalls': [{'id': firewall_id}], 'childPolicies': []}})


def group_list(ctx, p):
    with ctx.state.lock:
        cfg, policy_id = _policy_or_404(ctx, p)
        return Response(200, {'value': [_group(policy_id, g) for g in cfg.get('rule_collection_groups') or []]})


def group_get(ctx, p):
    with ctx.state.lock:
        cfg, policy_id = _policy_or_404(ctx, p)
        for raw in cfg.get('rule_collection_groups') or []:
            if raw['name'].lower() == p['rcg'].lower():
                return Response(200, _group(policy_id, raw))
        raise not_found(POLICY_TYPE + '/%s/ruleCollectionGroups' % cfg['policy'], p['rcg'], p['rg'])


def _bad(message):
    return ArmError(400, 'InvalidRequestFormat', message)


def _validate_group(props):
    """What Azure refuses before it stores a group (priorities 100-65000, a known collection and rule type, Allow/Deny)."""
    priority = props.get('priority')
    if not isinstance(priority, int) or not 100 <= priority <= 65000:
        raise _bad('Rule collection group priority must be between 100 and 65000, got %r.' % (priority,))
    for coll in props.get('ruleCollections') or []:
        if coll.get('ruleCollectionType') not in ('FirewallPolicyFilterRuleCollection', 'FirewallPolicyNatRuleCollection'):
            raise _bad('Unknown ruleCollectionType %r.' % coll.get('ruleCollectionType'))
        if not isinstance(coll.get('priority'), int) or not 100 <= coll['priority'] <= 65000:
            raise _bad('Rule collection %s priority must be between 100 and 65000.' % coll.get('name'))
        if coll['ruleCollectionType'] == 'FirewallPolicyFilterRuleCollection' and (coll.get('action') or {}).get('type') not in ('Allow', 'Deny'):
            raise _bad('Rule collection %s action must be Allow or Deny.' % coll.get('name'))
        for rule in coll.get('rules') or []:
            if rule.get('ruleType') not in ('NetworkRule', 'ApplicationRule', 'NatRule'):
                raise _bad('Unknown ruleType %r in rule collection %s.' % (rule.get('ruleType'), coll.get('name')))
            for proto in rule.get('ipProtocols') or []:
                if proto not in ('TCP', 'UDP', 'Any', 'ICMP'):
                    raise _bad('Rule %s: unknown protocol %r.' % (rule.get('name'), proto))


def group_put(ctx, p):
    # network imports this module, so this one imports network's write helper when it runs
    from .network import _lro_write  # pylint: disable=import-outside-toplevel
    state = ctx.state
    with state.lock:
        cfg, policy_id = _policy_or_404(ctx, p)
        if not isinstance(ctx.body, dict):
            raise _bad('The request body must be a JSON object.')
        props = copy.deepcopy(ctx.body.get('properties') or {})
        props.pop('provisioningState', None)
        _validate_group(props)
        groups = cfg.setdefault('rule_collection_groups', [])
        existing = [g for g in groups if g['name'].lower() == p['rcg'].lower()]
        others = [g for g in groups if g['name'].lower() != p['rcg'].lower()]
        if any((g.get('properties') or {}).get('priority') == props['priority'] for g in others):
            raise _bad('Rule collection group priority %d is already used by another group of policy %s.' % (props['priority'], cfg['policy']))
        name = existing[0]['name'] if existing else p['rcg']
        raw = {'name': name, 'etag': new_etag(), 'properties': props}

        def apply():
            if existing:
                groups[groups.index(existing[0])] = raw
            else:
                groups.append(raw)
        return _lro_write(ctx, 200 if existing else 201, _group(policy_id, raw), apply, policy_id, 'firewall_policy')


def group_delete(ctx, p):
    """202 + Location (final-state-via location), 204 when the group does not exist, as the spec lists."""
    state = ctx.state
    with state.lock:
        cfg, policy_id = _policy_or_404(ctx, p)
        groups = cfg.setdefault('rule_collection_groups', [])
        existing = [g for g in groups if g['name'].lower() == p['rcg'].lower()]
        if not existing:
            return Response(204, None)
        groups.remove(existing[0])
        op = ctx.new_operation('Microsoft.Network', 'delete')
        op.finish('Succeeded')
        state.nsg_changed(policy_id, 'firewall_policy')
        return Response(202, None, ctx.lro_headers(op, location=True))


# --------------------------------------------------------------------------- IP groups

IP_GROUP_TYPE = 'Microsoft.Network/ipGroups'


def _ip_groups(state):
    """[(resource group, IpGroup resource)] of config ``firewall.ip_groups``: [{name, resource_group?, ip_addresses}]."""
    cfg = config(state) or {}
    out = []
    for item in cfg.get('ip_groups') or []:
        rg = item.get('resource_group') or cfg.get('resource_group') or state.resource_group
        group_id = '/subscriptions/%s/resourceGroups/%s/providers/Microsoft.Network/ipGroups/%s' % (firewall_subscription(state), rg, item['name'])
        out.append((rg, {'id': group_id, 'name': item['name'], 'type': IP_GROUP_TYPE, 'location': state.location, 'tags': {},
                         'etag': 'W/"%s"' % stable_uuid('ipg', group_id),
                         'properties': {'provisioningState': 'Succeeded', 'ipAddresses': list(item.get('ip_addresses') or []),
                                        'firewalls': [], 'firewallPolicies': []}}))
    return out


def ip_group_get(ctx, p):
    with ctx.state.lock:
        for rg, group in _ip_groups(ctx.state) if _in_firewall_subscription(ctx.state, p) else []:
            if rg.lower() == p['rg'].lower() and group['name'].lower() == p['ipg'].lower():
                return Response(200, group)
        raise not_found(IP_GROUP_TYPE, p['ipg'], p['rg'])


def ip_group_list(ctx, p):
    with ctx.state.lock:
        if not _in_firewall_subscription(ctx.state, p):
            return Response(200, {'value': []})
        return Response(200, {'value': [g for rg, g in _ip_groups(ctx.state) if p.get('rg') is None or rg.lower() == p['rg'].lower()]})
