# -*- coding: utf-8 -*-
# Copyright (c) 2026 aks.tunnel contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The egress_ports_blocked finding of the egress path (pure): the route the tunnel egress takes from the node subnet to
the API server and, when it goes to an Azure Firewall, the rule that decides each tunnel flow (issue 16).

The route comes from _egress_route, the firewall verdicts from _firewall_policy. A route to a third-party appliance
cannot be evaluated: the node probe decides (blocked = PROBLEM naming the appliance, passed = OK, not probed = UNKNOWN).
"""

from __future__ import annotations

import ipaddress

from ansible_collections.aks.tunnel.plugins.module_utils import _causes
from ansible_collections.aks.tunnel.plugins.module_utils import _firewall_policy as _fp

MODULE = 'aks.tunnel.azure_firewall_rule'


def flows_of(tunnel, source_ip, api_ip, fqdn, region):
    """The tunnel's egress flows (the model's tunnel.egress) in the firewall engine's shape."""
    public = False
    try:
        public = api_ip is not None and ipaddress.ip_address(api_ip).is_global
    except ValueError:
        public = False
    if api_ip is not None and not public:
        # Lab and documentation ranges (TEST-NET) stand in for public addresses; private ones are never AzureCloud.
        address = ipaddress.ip_address(api_ip)
        public = not (address.is_loopback or address.is_link_local or any(address in ipaddress.ip_network(n) for n in (
            '10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16', '100.64.0.0/10')))
    return [{'protocol': e['protocol'].upper(), 'port': int(e['port']), 'tls': e.get('kind') == 'tls', 'source_ip': source_ip,
             'destination_ip': api_ip, 'fqdn': fqdn, 'azure_region': region if public else None} for e in tunnel.get('egress') or []]


def flow_text(flow):
    return '%s %d' % (flow['protocol'], flow['port'])


def finding(tunnel, flows, route, firewall=None, policies=None, source_prefixes=(), probe_blocked=None, nodes=(), api_ip=None, api_reason=None):
    """The finding. ``route``: _egress_route.egress_route() or {'error': reason}; ``firewall``: None (the next hop is not an
    Azure Firewall), {'error': reason}, or {name, id, policy_id, kind: policy|classic, network, application}; with ``hub``
    ({subscription, vnet_id, peering}) when it is in the hub subscription the node VNet is peered with, and {'absent': True,
    hub} when that hub was read and no firewall there owns the next hop either;
    ``ip_groups``: in ``firewall``, the IP groups its rules refer to ({id: {addresses} or {error}}, _firewall_policy._addresses);
    ``service_tags``: in ``firewall``, the published ranges of the service tags they name (_firewall_policy.service_tag_ranges), and
    ``service_tags_source``: where they come from (the Service Tag Discovery API read, for the evidence);
    ``policies``: the policy chain (for the repair plan); ``probe_blocked``: ['TCP 9000', ...] the probe saw blocked, [] when
    it saw them all pass, None when it did not probe the egress."""
    cause = _causes.EGRESS_PORTS_BLOCKED
    if not tunnel.get('egress'):
        return _causes.make_finding(cause, _causes.STATUS_NOT_APPLICABLE, tunnel.get('egress_reason') or 'no tunnel egress is needed')
    if not api_ip:
        return _causes.make_finding(cause, _causes.STATUS_UNKNOWN, 'the egress route was not evaluated: %s' % (
            api_reason or 'the API server address is not known (it did not resolve here; give api_server_ip)'))
    if route.get('error') or route.get('route') is None:
        return _causes.make_finding(cause, _causes.STATUS_UNKNOWN, 'the route of the tunnel egress to %s is not known: %s'
                                    % (api_ip, route.get('error') or route.get('reason')))
    hop = route['route']
    label = route['label']
    route_view = {'label': label, 'table': hop.get('table'), 'table_id': hop.get('table_id'), 'name': hop.get('name'), 'prefix': hop['prefix'],
                  'next_hop_type': hop['next_hop_type'], 'next_hop_ip': hop.get('next_hop_ip'), 'source': hop.get('source'), 'how': route['how']}
    evidence = ['the tunnel egress to the API server %s takes %s (from the %s)' % (api_ip, label, route['how'].replace('_', ' '))]
    ports = ', '.join(flow_text(f) for f in flows)
    if hop['next_hop_type'] == 'None':
        return _causes.make_finding(cause, _causes.STATUS_PROBLEM, 'the tunnel egress (%s) is dropped: %s' % (ports, label), nodes, evidence,
                                    {'summary': 'Remove or change the route: next hop None drops every packet to the API server.',
                                     'route': route_view})
    if hop['next_hop_type'] in ('Internet', 'VnetLocal'):
        return _causes.make_finding(cause, _causes.STATUS_OK, 'no firewall or appliance on the tunnel egress route: %s' % label, [], evidence)
    # A Virtual WAN secured hub: the spokes' route to the hub's Azure Firewall is a VirtualNetworkGateway route to its hub IP.
    secured_hub = (hop['next_hop_type'] == 'VirtualNetworkGateway' and firewall is not None and not firewall.get('absent')
                   and not firewall.get('error'))
    if secured_hub:
        evidence.append('next hop %s is the private IP of the Azure Firewall %s of the virtual hub %s (a Virtual WAN secured hub)'
                        % (hop.get('next_hop_ip'), firewall.get('name'), str(firewall.get('virtual_hub') or '<not named>').rsplit('/', 1)[-1]))
    elif hop['next_hop_type'] != 'VirtualAppliance':
        if firewall is not None and firewall.get('error'):
            evidence.append('the Azure Firewalls were not read to see whether one owns %s: %s' % (hop.get('next_hop_ip'), firewall['error']))
        if probe_blocked == []:
            return _causes.make_finding(cause, _causes.STATUS_OK, 'the tunnel egress (%s) passes %s (the probe got through)' % (ports, label), [],
                                        evidence)
        why = 'the firewall behind it is not visible from Azure'
        if hop['next_hop_type'] == 'VirtualNetworkGateway' and hop.get('next_hop_ip'):
            why = ('no Azure Firewall of this subscription was found with %s as its virtual hub IP (%s)' % (
                hop['next_hop_ip'], (firewall or {}).get('error') or 'an NVA or SaaS firewall in a virtual hub, a secured hub\'s firewall in '
                'another subscription, or a VPN / ExpressRoute gateway'))
        return _causes.make_finding(cause, _causes.STATUS_UNKNOWN, 'the tunnel egress goes to a %s (%s): %s' % (hop['next_hop_type'], label, why),
                                    nodes, evidence, {'route': route_view})
    appliance_ip = hop.get('next_hop_ip')
    hub = (firewall or {}).get('hub')
    if firewall is not None and firewall.get('absent'):
        firewall = None  # the hub subscription was read: no Azure Firewall there owns the IP either
    owner = ('this subscription nor of the hub subscription %s (peered VNet %s)' % (hub['subscription'], hub['vnet_id'].rsplit('/', 1)[-1])
             if hub else 'this subscription')
    if firewall is None:
        advice = _fp.appliance_advice(appliance_ip, [f for f in flows if probe_blocked and flow_text(f) in probe_blocked] or flows,
                                      source_prefixes, label)
        if probe_blocked:
            return _causes.make_finding(
                cause, _causes.STATUS_PROBLEM, 'the appliance %s blocks the tunnel egress (%s): %s (no Azure Firewall of %s has '
                'that IP: a third-party appliance%s, whose rules are not read)'
                % (appliance_ip, ', '.join(probe_blocked), label, owner, '' if hub else ', or a firewall in another subscription'), nodes,
                evidence + ['the probe from the nodes saw %s blocked' % ', '.join(probe_blocked)] + advice['allow'],
                {'summary': advice['summary'], 'route': route_view, 'appliance': advice})
        if probe_blocked == []:
            return _causes.make_finding(cause, _causes.STATUS_OK, 'the appliance %s passes the tunnel egress (%s) today (the probe got '
                                        'through); a change on it can cut the tunnel' % (appliance_ip, ports), [], evidence)
        return _causes.make_finding(cause, _causes.STATUS_UNKNOWN, 'the tunnel egress goes through the appliance %s (%s), which no Azure '
                                    'Firewall of %s owns, and was not probed' % (appliance_ip, label, owner), nodes, evidence,
                                    {'route': route_view, 'appliance': advice})
    if firewall.get('error') and hub:
        hub_vnet = hub['vnet_id'].rsplit('/', 1)[-1]
        return _causes.make_finding(
            cause, _causes.STATUS_UNKNOWN, 'the tunnel egress goes to %s: the next hop %s is in the peered VNet %s of subscription %s (a hub), '
            'whose Azure Firewall this identity cannot read: %s' % (label, appliance_ip, hub_vnet, hub['subscription'], firewall['error']), nodes,
            evidence + ['next hop %s is in the address space of the peering %s to %s' % (appliance_ip, hub.get('peering'), hub['vnet_id'])],
            {'summary': 'Grant this identity the Reader role on subscription %s (or Microsoft.Network/azureFirewalls/read, '
                        'firewallPolicies/read, firewallPolicies/ruleCollectionGroups/read and ipGroups/read there) so the firewall\'s '
                        'rules can be evaluated.' % hub['subscription'], 'route': route_view, 'hub_subscription': hub['subscription']})
    if firewall.get('error'):
        return _causes.make_finding(cause, _causes.STATUS_UNKNOWN, 'the tunnel egress goes to %s, but the Azure Firewall could not be '
                                    'read: %s' % (label, firewall['error']), nodes, evidence, {'route': route_view})
    verdicts = [_fp.evaluate(firewall['network'], firewall['application'], f, firewall.get('ip_groups'), firewall.get('service_tags'))
                for f in flows]
    if firewall.get('service_tags_source'):
        evidence.append('service tags %s: %s' % (', '.join(sorted(firewall.get('service_tags') or {})), firewall['service_tags_source']))
    where = 'Azure Firewall %s%s%s' % (firewall['name'], ' (policy %s)' % firewall['policy'] if firewall.get('policy') else ' (classic rules)',
                                       ' in the hub subscription %s' % hub['subscription'] if hub else '')
    lines = []
    for flow, verdict in zip(flows, verdicts):
        lines.append('%s: %s to %s %s' % (where, flow_text(flow), api_ip, verdict['reason']))
        lines.extend('  undecided: %s (%s)' % (u['rule'], u['reason']) for u in verdict.get('undecided') or [])
        if verdict.get('warning'):
            lines.append('  warning: %s' % verdict['warning'])
    evidence += lines
    denied = [(f, v) for f, v in zip(flows, verdicts) if v['access'] == _fp.DENY]
    unknown = [(f, v) for f, v in zip(flows, verdicts) if v['access'] == _fp.UNKNOWN]
    if denied:
        fix = {'firewall': firewall['name'], 'firewall_id': firewall.get('id'), 'policy': firewall.get('policy'),
               'policy_id': firewall.get('policy_id'), 'route': label,
               'denied': [{'flow': flow_text(f), 'rule': _fp.rule_label(v['rule']) if v.get('rule') else None, 'default_deny': v['default'],
                           'reason': v['reason']} for f, v in denied]}
        if firewall.get('kind') == 'policy':
            plan = _fp.plan_repair(policies or [], verdicts, flows, source_prefixes)
            fix.update(module=MODULE, rule_collection_group=plan['rule_collection_group'], priority=plan['priority'],
                       properties=plan['properties'], rules=plan.get('rules'), refused=plan['refused'])
            text = ('Add the rule collection group %s (priority %s) to the firewall policy %s: one Allow network rule collection %s with %s '
                    '(aks.tunnel.azure_firewall_rule, or aks_tunnel_firewall_repair: true in the remediation)'
                    % (plan['rule_collection_group'], plan['priority'], firewall.get('policy'), _fp.OWNED_NAME,
                       '; '.join('%s from %s to %s' % (flow_text(f), ', '.join(source_prefixes), api_ip) for f, _v in denied))
                    if not plan['refused'] else 'No rule collection can be added automatically: %s.' % plan['refused'])
        else:
            fix.update(refused='the firewall uses classic rules (no Firewall Policy): the repair only writes Firewall Policy rule collection groups')
            text = ('Add a network rule collection (Allow) to the firewall %s: %s' % (firewall['name'], '; '.join(
                'az network firewall network-rule create -g %s -f %s --collection-name %s --priority <free, below the deny> --action Allow '
                '-n %s --protocols %s --source-addresses %s --destination-addresses %s --destination-ports %d'
                % (firewall.get('resource_group') or '<rg>', firewall['name'], _fp.OWNED_NAME, _fp.flow_rule_name(f), f['protocol'],
                   ' '.join(source_prefixes), api_ip, f['port']) for f, _v in denied)))
        fix['summary'] = text
        summary = 'the Azure Firewall %s denies the tunnel egress (%s) on %s: %s' % (
            firewall['name'], ', '.join(flow_text(f) for f, _v in denied), label, '; '.join(v['reason'] for _f, v in denied))
        return _causes.make_finding(cause, _causes.STATUS_PROBLEM, summary, nodes, evidence,
                                    {'summary': text, 'route': route_view, 'firewall': fix})
    if unknown:
        return _causes.make_finding(cause, _causes.STATUS_UNKNOWN, 'the Azure Firewall %s verdict on the tunnel egress is undecided: %s'
                                    % (firewall['name'], unknown[0][1]['reason']), nodes, evidence, {'route': route_view})
    return _causes.make_finding(cause, _causes.STATUS_OK, 'the Azure Firewall %s allows the tunnel egress (%s): %s' % (
        firewall['name'], ports, '; '.join(v['reason'] for v in verdicts)), [], evidence)
