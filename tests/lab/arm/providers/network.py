# -*- coding: utf-8 -*-
# Copyright (c) 2026 aks.tunnel contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Microsoft.Network: NSGs, security rules (with ARM's validation), VNet/subnet, VMSS NICs, LB, public IPs.

The validation here is the emulator's own (it must behave like ARM whatever our engines do). Codes
and messages follow azure-rest-facts.md section 2.4; the ones marked unverified there are best guesses:
InvalidRequestFormat for missing/invalid enum fields, SecurityRuleInvalidPortRange for neither/both of
the singular and plural port fields, SecurityRuleInvalidAddressPrefix for not exactly one prefix field.
"""

from __future__ import annotations

import copy
import ipaddress
import re

from ..common import ArmError, Response, etag_matches, new_etag, not_found, stable_uuid
from . import apiserver_subnet
from . import firewall, natgateway

RULE_TYPE = 'Microsoft.Network/networkSecurityGroups/securityRules'
DEFAULT_RULE_TYPE = 'Microsoft.Network/networkSecurityGroups/defaultSecurityRules'
PROTOCOLS = ('Tcp', 'Udp', 'Icmp', 'Esp', '*', 'Ah')
ACCESSES = ('Allow', 'Deny')
DIRECTIONS = ('Inbound', 'Outbound')
_NAME_RE = re.compile(r'^\w(?:[\w.-]{0,78}\w)?$')
_PORT_RE = re.compile(r'^(\d{1,5})(?:-(\d{1,5}))?$')
SERVICE_TAGS = (
    'VirtualNetwork', 'Internet', 'AzureLoadBalancer', 'AzureCloud', 'AzureTrafficManager', 'Storage', 'Sql', 'SqlManagement',
    'AzureActiveDirectory', 'AzureMonitor', 'AzureContainerRegistry', 'AzureKubernetesService', 'MicrosoftContainerRegistry',
    'AzureKeyVault', 'EventHub', 'ServiceBus', 'AppService', 'AppServiceManagement', 'ApiManagement', 'GatewayManager',
    'AzureFrontDoor.Backend', 'AzureFrontDoor.Frontend', 'AzureFrontDoor.FirstParty', 'AzureBackup', 'AzureBotService',
    'AzureCosmosDB', 'AzureDataLake', 'AzureResourceManager', 'AzurePlatformDNS', 'AzurePlatformIMDS', 'AzurePlatformLKM',
    'AzureUpdateDelivery', 'GuestAndHybridManagement', 'AzureArcInfrastructure', 'AzureMachineLearning', 'AzureSignalR',
    'AzureSiteRecovery', 'BatchNodeManagement', 'CognitiveServicesManagement', 'DataFactory', 'HDInsight', 'PowerBI',
    'AzureConnectors', 'AzureDevOps', 'AzureCloud', 'ActionGroup', 'ApplicationInsightsAvailability', 'AzureIoTHub',
)
_TAGS_LOWER = {t.lower(): t for t in SERVICE_TAGS}
DEFAULT_RULES = (
    ('AllowVnetInBound', 'Allow inbound traffic from all VMs in VNET', 'VirtualNetwork', 'VirtualNetwork', 'Allow', 65000, 'Inbound'),
    ('AllowAzureLoadBalancerInBound', 'Allow inbound traffic from azure load balancer', 'AzureLoadBalancer', '*', 'Allow', 65001, 'Inbound'),
    ('DenyAllInBound', 'Deny all inbound traffic', '*', '*', 'Deny', 65500, 'Inbound'),
    ('AllowVnetOutBound', 'Allow outbound traffic from all VMs to all VMs in VNET', 'VirtualNetwork', 'VirtualNetwork', 'Allow', 65000, 'Outbound'),
    ('AllowInternetOutBound', 'Allow outbound traffic from all VMs to Internet', '*', 'Internet', 'Allow', 65001, 'Outbound'),
    ('DenyAllOutBound', 'Deny all outbound traffic', '*', '*', 'Deny', 65500, 'Outbound'),
)


def _bad(code, message):
    return ArmError(400, code, message, details=[])


def _parse_error(path, detail):
    return ArmError(400, 'InvalidRequestFormat', 'Cannot parse the request.', details=[{'code': 'InvalidJson', 'message': '%s Path \'%s\'.' % (detail, path)}])


def _empty(value):
    return value is None or value == '' or value == []


def _check_port(value, plural):
    text = str(value).strip() if isinstance(value, (str, int)) and not isinstance(value, bool) else None
    ok = False
    if text == '*' and not plural:
        ok = True
    elif text is not None:
        match = _PORT_RE.match(text)
        if match:
            low = int(match.group(1))
            high = int(match.group(2)) if match.group(2) else low
            ok = low <= high <= 65535
    if not ok:
        raise _bad('SecurityRuleInvalidPortRange', "Security rule has invalid Port range. Value provided: %s. Value should be an integer OR "
                   "integer range with '-' delimiter. Valid range 0-65535." % (value,))
    return text


def _classify_prefix(value):
    """'any' (*), 'tag' (canonical name), 'net', or None when invalid."""
    if not isinstance(value, str):
        return None, value
    text = value.strip()
    if text == '*':
        return 'any', text
    base, _unused, region = text.partition('.')
    if text.lower() in _TAGS_LOWER:
        return 'tag', _TAGS_LOWER[text.lower()]
    if region and base.lower() in _TAGS_LOWER and re.match(r'^[A-Za-z0-9]+$', region):
        return 'tag', _TAGS_LOWER[base.lower()] + '.' + region
    try:
        ipaddress.ip_network(text, strict=False)
        return 'net', text
    except ValueError:
        return None, text


def validate_rule_properties(name, props, rule_id):
    """Return normalized properties or raise ArmError(400) like the Network RP."""
    if not isinstance(name, str) or not _NAME_RE.match(name):
        raise _bad('InvalidResourceName', "Resource name %s is invalid. The name can be up to 80 characters long. It must begin with a word "
                   "character, and it must end with a word character or with '_'. The name may contain word characters or '.', '-', '_'." % (name,))
    if not isinstance(props, dict):
        raise _parse_error('properties', 'Expected an object.')
    out = {}
    for field, allowed in (('protocol', PROTOCOLS), ('access', ACCESSES), ('direction', DIRECTIONS)):
        value = props.get(field)
        if value is None:
            raise _parse_error('properties', "Required property '%s' not found in JSON." % field)
        canon = {a.lower(): a for a in allowed}.get(str(value).lower())
        if canon is None:
            raise _parse_error('properties.%s' % field, 'Error converting value "%s" to type \'SecurityRule%s\'; allowed values: %s.'
                               % (value, field.capitalize(), ', '.join(allowed)))
        out[field] = canon
    priority = props.get('priority', 0)
    if isinstance(priority, bool) or not isinstance(priority, int):
        if isinstance(priority, str) and priority.strip().isdigit():
            priority = int(priority)
        else:
            raise _parse_error('properties.priority', 'Could not convert %r to integer.' % (priority,))
    if not 100 <= priority <= 4096:
        raise _bad('SecurityRuleInvalidPriority', 'Security rule has invalid Priority. Value provided: %d Allowed range 100-4096.' % priority)
    out['priority'] = priority
    for side in ('source', 'destination'):
        one, many = props.get(side + 'PortRange'), props.get(side + 'PortRanges')
        if _empty(one) == _empty(many):
            raise _bad('SecurityRuleInvalidPortRange', 'Security rule %s must specify a non-empty value for either %sPortRange or %sPortRanges, '
                       'but not both.' % (name, side.capitalize(), side.capitalize()))
        if not _empty(one):
            out[side + 'PortRange'] = _check_port(one, plural=False)
            out[side + 'PortRanges'] = []
        else:
            if not isinstance(many, list):
                raise _parse_error('properties.%sPortRanges' % side, 'Expected an array.')
            out[side + 'PortRanges'] = [_check_port(v, plural=True) for v in many]
    for side in ('source', 'destination'):
        cap = side.capitalize()
        one, many = props.get(side + 'AddressPrefix'), props.get(side + 'AddressPrefixes')
        asgs = props.get(side + 'ApplicationSecurityGroups')
        if sum(1 for v in (one, many, asgs) if not _empty(v)) != 1:
            raise _bad('SecurityRuleInvalidAddressPrefix', 'Security rule %s must specify exactly one of %sAddressPrefix, %sAddressPrefixes or '
                       '%sApplicationSecurityGroups.' % (name, cap, cap, cap))
        out[side + 'AddressPrefixes'] = []
        if not _empty(one):
            kind, canon = _classify_prefix(one)
            if kind is None:
                raise _bad('SecurityRuleInvalidAddressPrefix', 'Security rule has invalid Address prefix. Value provided: %s' % (one,))
            out[side + 'AddressPrefix'] = canon
        elif not _empty(many):
            if not isinstance(many, list):
                raise _parse_error('properties.%sAddressPrefixes' % side, 'Expected an array.')
            for entry in many:
                kind, canon = _classify_prefix(entry)
                if kind is None:
                    raise _bad('SecurityRuleInvalidAddressPrefix', 'Security rule has invalid Address prefix. Value provided: %s' % (entry,))
                if kind != 'net':
                    raise _bad('SecurityRuleParameterContainsUnsupportedValue',
                               "Security rule parameter %sAddressPrefixes for rule with Id %s cannot specify existing VIRTUALNETWORK, INTERNET, "
                               "AZURELOADBALANCER, '*' or system tags. Unsupported value used: %s." % (cap, rule_id, canon))
            out[side + 'AddressPrefixes'] = [e.strip() for e in many]
        else:
            if not isinstance(asgs, list) or not all(isinstance(a, dict) and isinstance(a.get('id'), str) for a in asgs):
                raise _parse_error('properties.%sApplicationSecurityGroups' % side, 'Expected an array of {"id": ...} objects.')
            out[side + 'ApplicationSecurityGroups'] = [{'id': a['id']} for a in asgs]
    if props.get('description') is not None:
        if not isinstance(props['description'], str) or len(props['description']) > 140:
            raise _bad('SecurityRuleDescriptionTooLong', 'Security rule %s description must be a string of at most 140 characters.' % name)
        out['description'] = props['description']
    out['provisioningState'] = 'Succeeded'
    return out


def build_rule(nsg, name, props, others):
    """Validate `props` against ARM's rules (incl. priority/direction conflicts with `others`); return the stored rule."""
    rule_id = '%s/securityRules/%s' % (nsg['id'], name)
    out = validate_rule_properties(name, props, rule_id)
    for other in others:
        if other['properties']['priority'] == out['priority'] and other['properties']['direction'] == out['direction']:
            raise _bad('SecurityRuleConflict', 'Security rule %s conflicts with rule %s. Rules cannot have the same Priority and Direction. '
                       'To learn more, see aka.ms/nsgrules.' % (name, other['name']))
    return {'name': name, 'id': rule_id, 'etag': new_etag(), 'type': RULE_TYPE, 'properties': out}


def default_rules(nsg):
    result = []
    for name, desc, src, dst, access, priority, direction in DEFAULT_RULES:
        result.append({
            'name': name, 'id': '%s/defaultSecurityRules/%s' % (nsg['id'], name), 'etag': nsg['etag'], 'type': DEFAULT_RULE_TYPE,
            'properties': {'provisioningState': 'Succeeded', 'description': desc, 'protocol': '*', 'sourcePortRange': '*',
                           'destinationPortRange': '*', 'sourceAddressPrefix': src, 'destinationAddressPrefix': dst, 'access': access,
                           'priority': priority, 'direction': direction, 'sourcePortRanges': [], 'destinationPortRanges': [],
                           'sourceAddressPrefixes': [], 'destinationAddressPrefixes': []},
        })
    return result


# ------------------------------------------------------------------------------------------------
# rendering

def render_nsg(state, nsg):
    props = {
        'provisioningState': 'Succeeded', 'resourceGuid': nsg['resource_guid'], 'flushConnection': False,
        'securityRules': copy.deepcopy(nsg['rules']), 'defaultSecurityRules': default_rules(nsg),
    }
    if state.nic_nsg_enabled and nsg['id'].lower() == state.topology['nic_nsg']['id'].lower():
        props['networkInterfaces'] = [{'id': n['nic_id']} for n in state.topology['nodes']]
    if state.subnet_nsg_id and state.subnet_nsg_id.lower() == nsg['id'].lower():
        props['subnets'] = [{'id': state.topology['vnet']['subnet_id']}]
    return {'name': nsg['name'], 'id': nsg['id'], 'etag': nsg['etag'], 'type': 'Microsoft.Network/networkSecurityGroups',
            'location': nsg['location'], 'tags': dict(nsg['tags']), 'properties': props}


def render_subnet(state):
    vnet = state.topology['vnet']
    props = {'provisioningState': 'Succeeded', 'addressPrefix': vnet['subnet_prefix'],
             'ipConfigurations': [{'id': n['nic_id'] + '/ipConfigurations/ipconfig1'} for n in state.topology['nodes']],
             'delegations': [], 'privateEndpointNetworkPolicies': 'Disabled', 'privateLinkServiceNetworkPolicies': 'Enabled'}
    if state.subnet_nsg_id:
        props['networkSecurityGroup'] = {'id': state.subnet_nsg_id}
    if natgateway.subnet_reference(state):
        props['natGateway'] = natgateway.subnet_reference(state)
    if firewall.subnet_reference(state):
        props['routeTable'] = firewall.subnet_reference(state)
    return {'name': vnet['subnet_name'], 'id': vnet['subnet_id'], 'etag': state.subnet_etag,
            'type': 'Microsoft.Network/virtualNetworks/subnets', 'properties': props}


def render_vnet(state):
    vnet = state.topology['vnet']
    return {'name': vnet['name'], 'id': vnet['id'], 'etag': state.vnet_etag, 'type': 'Microsoft.Network/virtualNetworks',
            'location': state.location, 'tags': {},
            'properties': {'provisioningState': 'Succeeded', 'resourceGuid': stable_uuid('vnet', vnet['id']),
                           'addressSpace': {'addressPrefixes': list(vnet['address_prefixes'])}, 'subnets': [render_subnet(state)],
                           'virtualNetworkPeerings': firewall.vnet_peerings(state), 'enableDdosProtection': False}}


def lb_backend_pool_id(state):
    return state.topology['load_balancer']['id'] + '/backendAddressPools/kubernetes'


def render_nic(state, node):
    nic_id = node['nic_id']
    ipconf = {'name': 'ipconfig1', 'id': nic_id + '/ipConfigurations/ipconfig1', 'etag': 'W/"%s"' % stable_uuid('nicetag', nic_id),
              'properties': {'provisioningState': 'Succeeded', 'privateIPAddress': node['ip'], 'privateIPAllocationMethod': 'Dynamic',
                             'subnet': {'id': node['subnet_id']}, 'primary': True, 'privateIPAddressVersion': 'IPv4'}}
    if state.config.get('cluster', {}).get('outbound_type', 'loadBalancer') == 'loadBalancer':
        ipconf['properties']['loadBalancerBackendAddressPools'] = [{'id': lb_backend_pool_id(state)}]
    mac = stable_uuid('mac', nic_id).replace('-', '')[:12].upper()
    props = {'provisioningState': 'Succeeded', 'resourceGuid': stable_uuid('nic', nic_id), 'ipConfigurations': [ipconf],
             'dnsSettings': {'dnsServers': [], 'appliedDnsServers': []}, 'macAddress': '-'.join(mac[i:i + 2] for i in range(0, 12, 2)),
             'enableAcceleratedNetworking': False, 'enableIPForwarding': True, 'primary': True, 'virtualMachine': {'id': node['vm_id']}}
    if state.nic_nsg_enabled:
        props['networkSecurityGroup'] = {'id': node['nic_nsg_id']}
    return {'name': node['nic_name'], 'id': nic_id, 'etag': ipconf['etag'], 'properties': props}


def render_public_ip(state, pip):
    lb = state.topology['load_balancer']
    return {'name': pip['name'], 'id': pip['id'], 'etag': 'W/"%s"' % stable_uuid('pipetag', pip['id']), 'type': 'Microsoft.Network/publicIPAddresses',
            'location': state.location, 'tags': {'aks-managed-type': 'managedOutboundIPs'}, 'sku': {'name': 'Standard', 'tier': 'Regional'},
            'properties': {'provisioningState': 'Succeeded', 'resourceGuid': stable_uuid('pip', pip['id']), 'ipAddress': pip['address'],
                           'publicIPAddressVersion': 'IPv4', 'publicIPAllocationMethod': 'Static', 'idleTimeoutInMinutes': 4,
                           'ipTags': [], 'ipConfiguration': {'id': '%s/frontendIPConfigurations/%s' % (lb['id'], pip['name'])}}}


def render_lb(state):
    lb = state.topology['load_balancer']
    pool_id = lb_backend_pool_id(state)
    rule_id = lb['id'] + '/outboundRules/aksOutboundRule'
    frontends = [{'name': p['name'], 'id': '%s/frontendIPConfigurations/%s' % (lb['id'], p['name']), 'etag': state.lb_etag,
                  'type': 'Microsoft.Network/loadBalancers/frontendIPConfigurations',
                  'properties': {'provisioningState': 'Succeeded', 'privateIPAllocationMethod': 'Dynamic', 'publicIPAddress': {'id': p['id']},
                                 'outboundRules': [{'id': rule_id}]}} for p in state.public_ips()]
    outbound = {'name': 'aksOutboundRule', 'id': rule_id, 'etag': state.lb_etag, 'type': 'Microsoft.Network/loadBalancers/outboundRules',
                'properties': {'provisioningState': 'Succeeded', 'allocatedOutboundPorts': state.lb_profile['allocated_outbound_ports'],
                               'protocol': 'All', 'enableTcpReset': True, 'idleTimeoutInMinutes': state.lb_profile['idle_timeout_in_minutes'],
                               'backendAddressPool': {'id': pool_id}, 'frontendIPConfigurations': [{'id': f['id']} for f in frontends]}}
    pool = {'name': 'kubernetes', 'id': pool_id, 'etag': state.lb_etag, 'type': 'Microsoft.Network/loadBalancers/backendAddressPools',
            'properties': {'provisioningState': 'Succeeded', 'outboundRules': [{'id': rule_id}],
                           'backendIPConfigurations': [{'id': n['nic_id'] + '/ipConfigurations/ipconfig1'} for n in state.topology['nodes']]}}
    return {'name': lb['name'], 'id': lb['id'], 'etag': state.lb_etag, 'type': 'Microsoft.Network/loadBalancers', 'location': state.location,
            'tags': {}, 'sku': {'name': 'Standard', 'tier': 'Regional'},
            'properties': {'provisioningState': 'Succeeded', 'resourceGuid': stable_uuid('lb', lb['id']), 'frontendIPConfigurations': frontends,
                           'backendAddressPools': [pool], 'loadBalancingRules': [], 'probes': [], 'inboundNatRules': [],
                           'inboundNatPools': [], 'outboundRules': [outbound]}}


def has_lb(state):
    return (state.config.get('cluster') or {}).get('outbound_type', 'loadBalancer') == 'loadBalancer'


# ------------------------------------------------------------------------------------------------
# handlers: handler(ctx, params) -> Response

def _nsg_or_404(ctx, p):
    nsg = ctx.state.find_nsg(p['rg'], p['nsg'])
    if nsg is None:
        raise not_found('Microsoft.Network/networkSecurityGroups', p['nsg'], p['rg'])
    return nsg


def _check_if_match(ctx, etag):
    wanted = ctx.headers.get('If-Match')
    if not etag_matches(wanted, etag):
        raise ArmError(412, 'PreconditionFailed', 'Precondition failed: the If-Match etag %s does not match the current etag %s.' % (wanted, etag))


def nsg_get(ctx, p):
    with ctx.state.lock:
        return Response(200, render_nsg(ctx.state, _nsg_or_404(ctx, p)))


def nsg_list(ctx, p):
    with ctx.state.lock:
        rg = p.get('rg')
        return Response(200, {'value': [render_nsg(ctx.state, n) for n in ctx.state.nsgs.values()
                                        if rg is None or n['resource_group'].lower() == rg.lower()]})


def _lro_write(ctx, status, body, apply, change_nsg_id=None, change=None):
    """Network RP write pattern: 200/201 + Azure-AsyncOperation; `apply()` runs unless an lro_fail fault hits."""
    fault = ctx.faults.take_lro_fault('write')
    op = ctx.new_operation('Microsoft.Network', 'put')
    if fault:
        op.finish('Failed', error={'code': fault.get('code', 'InternalServerError'),
                                   'message': fault.get('message', 'An error occurred while processing the request (lab fault).')})
    else:
        apply()
        op.finish('Succeeded')
        if change_nsg_id:
            ctx.state.nsg_changed(change_nsg_id, change)
    body = copy.deepcopy(body)
    body.setdefault('properties', {})['provisioningState'] = 'Updating'
    return Response(status, body, ctx.lro_headers(op, location=False))


def rule_put(ctx, p):
    state = ctx.state
    with state.lock:
        nsg = _nsg_or_404(ctx, p)
        if not isinstance(ctx.body, dict):
            raise _parse_error('', 'The request body must be a JSON object.')
        existing = [r for r in nsg['rules'] if r['name'].lower() == p['rule'].lower()]
        if existing:
            _check_if_match(ctx, existing[0]['etag'])
        name = existing[0]['name'] if existing else p['rule']
        others = [r for r in nsg['rules'] if r['name'].lower() != p['rule'].lower()]
        rule = build_rule(nsg, name, ctx.body.get('properties') or {}, others)

        def apply():
            index = [i for i, r in enumerate(nsg['rules']) if r['name'].lower() == name.lower()]
            if index:
                nsg['rules'][index[0]] = rule
            else:
                nsg['rules'].append(rule)
            nsg['etag'] = new_etag()
        return _lro_write(ctx, 200 if existing else 201, rule, apply, nsg['id'], 'rule_put')


def rule_get(ctx, p):
    with ctx.state.lock:
        nsg = _nsg_or_404(ctx, p)
        for rule in nsg['rules']:
            if rule['name'].lower() == p['rule'].lower():
                return Response(200, copy.deepcopy(rule))
        raise not_found('Microsoft.Network/networkSecurityGroups/%s/securityRules' % nsg['name'], p['rule'], p['rg'])


def rule_list(ctx, p):
    with ctx.state.lock:
        return Response(200, {'value': copy.deepcopy(_nsg_or_404(ctx, p)['rules'])})


def rule_delete(ctx, p):
    state = ctx.state
    with state.lock:
        nsg = _nsg_or_404(ctx, p)
        existing = [r for r in nsg['rules'] if r['name'].lower() == p['rule'].lower()]
        if not existing:
            return Response(204)
        _check_if_match(ctx, existing[0]['etag'])
        fault = ctx.faults.take_lro_fault('write')
        op = ctx.new_operation('Microsoft.Network', 'delete')
        op.result_status = 204
        if fault:
            op.finish('Failed', error={'code': fault.get('code', 'InternalServerError'),
                                       'message': fault.get('message', 'An error occurred while processing the request (lab fault).')})
        else:
            nsg['rules'] = [r for r in nsg['rules'] if r['name'].lower() != p['rule'].lower()]
            nsg['etag'] = new_etag()
            op.finish('Succeeded')
            state.nsg_changed(nsg['id'], 'rule_delete')
        return Response(202, None, ctx.lro_headers(op, location=True))


def nsg_put(ctx, p):
    """NSG create/update: replaces the whole securityRules list (same validation as single rules)."""
    state = ctx.state
    with state.lock:
        if not state.known_resource_group(p['rg']):
            raise ArmError(404, 'ResourceGroupNotFound', "Resource group '%s' could not be found." % p['rg'])
        if not isinstance(ctx.body, dict):
            raise _parse_error('', 'The request body must be a JSON object.')
        nsg = state.find_nsg(p['rg'], p['nsg'])
        created = nsg is None
        target = nsg or {'name': p['nsg'], 'resource_group': p['rg'], 'location': ctx.body.get('location', state.location),
                         'id': '/subscriptions/%s/resourceGroups/%s/providers/Microsoft.Network/networkSecurityGroups/%s'
                               % (state.subscription_id, p['rg'], p['nsg']),
                         'etag': new_etag(), 'resource_guid': stable_uuid('nsg', p['rg'], p['nsg']), 'tags': {}, 'rules': []}
        if nsg:
            _check_if_match(ctx, nsg['etag'])
        new_rules = []
        for raw in (ctx.body.get('properties') or {}).get('securityRules') or []:
            if not isinstance(raw, dict) or not raw.get('name'):
                raise _parse_error('properties.securityRules', 'Each security rule needs a name.')
            new_rules.append(build_rule(target, raw['name'], raw.get('properties') or {}, new_rules))

        def apply():
            target['rules'] = new_rules
            target['tags'] = dict(ctx.body.get('tags') or {})
            target['etag'] = new_etag()
            state.nsgs[(p['rg'].lower(), p['nsg'].lower())] = target
        body = render_nsg(state, dict(target, rules=new_rules))
        return _lro_write(ctx, 201 if created else 200, body, apply, target['id'], 'nsg_put')


def default_rule_list(ctx, p):
    with ctx.state.lock:
        return Response(200, {'value': default_rules(_nsg_or_404(ctx, p))})


def default_rule_get(ctx, p):
    with ctx.state.lock:
        nsg = _nsg_or_404(ctx, p)
        for rule in default_rules(nsg):
            if rule['name'].lower() == p['rule'].lower():
                return Response(200, rule)
        raise not_found('Microsoft.Network/networkSecurityGroups/%s/defaultSecurityRules' % nsg['name'], p['rule'], p['rg'])


def _vnet_or_404(ctx, p):
    vnet = ctx.state.topology['vnet']
    if p['rg'].lower() != ctx.state.node_resource_group.lower() or p['vnet'].lower() != vnet['name'].lower():
        raise not_found('Microsoft.Network/virtualNetworks', p['vnet'], p['rg'])
    return vnet


def vnet_get(ctx, p):
    with ctx.state.lock:
        _vnet_or_404(ctx, p)
        return Response(200, render_vnet(ctx.state))


def vnet_list(ctx, p):
    with ctx.state.lock:
        rg = p.get('rg')
        if rg is not None and rg.lower() != ctx.state.node_resource_group.lower():
            return Response(200, {'value': []})
        return Response(200, {'value': [render_vnet(ctx.state)]})


def _subnet_or_404(ctx, p):
    vnet = _vnet_or_404(ctx, p)
    if p['subnet'].lower() != vnet['subnet_name'].lower():
        raise not_found('Microsoft.Network/virtualNetworks/%s/subnets' % vnet['name'], p['subnet'], p['rg'])


def subnet_get(ctx, p):
    with ctx.state.lock:
        apiserver = apiserver_subnet.find(ctx.state, p['subnet'])  # API Server VNet Integration (issue 16)
        if apiserver is not None and _vnet_or_404(ctx, p):
            return Response(200, apiserver)
        _subnet_or_404(ctx, p)
        return Response(200, render_subnet(ctx.state))


def subnet_list(ctx, p):
    with ctx.state.lock:
        _vnet_or_404(ctx, p)
        return Response(200, {'value': [render_subnet(ctx.state)]})


def subnet_put(ctx, p):
    """Only the NSG association can change (the prefix is fixed by the topology)."""
    state = ctx.state
    with state.lock:
        _subnet_or_404(ctx, p)
        props = (ctx.body or {}).get('properties') or {}
        prefix = props.get('addressPrefix')
        if prefix and prefix != state.topology['vnet']['subnet_prefix']:
            raise ArmError(400, 'InUseSubnetCannotBeUpdated', 'Subnet %s is in use and cannot be updated.' % p['subnet'])
        ref = (props.get('networkSecurityGroup') or {}).get('id')
        new_id = None
        if ref:
            matches = [n for n in state.nsgs.values() if n['id'].lower() == ref.lower()]
            if not matches:
                raise ArmError(400, 'InvalidResourceReference', 'Resource %s referenced by resource %s was not found. Please make sure that the '
                               'referenced resource exists, and that both resources are in the same region.' % (ref, state.topology['vnet']['subnet_id']))
            new_id = matches[0]['id']
        old_id = state.subnet_nsg_id

        def apply():
            state.subnet_nsg_id = new_id
            state.subnet_etag = new_etag()
        changed = (old_id or '').lower() != (new_id or '').lower()
        body = render_subnet(state)
        if new_id:
            body['properties']['networkSecurityGroup'] = {'id': new_id}
        else:
            body['properties'].pop('networkSecurityGroup', None)
        response = _lro_write(ctx, 200, body, apply, (new_id or old_id) if changed else None, 'subnet_nsg')
        if changed and old_id and new_id:
            state.nsg_changed(old_id, 'subnet_nsg')
        return response


def _vmss_nodes(ctx, p):
    pool = ctx.state.vmss(p['rg'], p['vmss'])
    if pool is None:
        raise not_found('Microsoft.Compute/virtualMachineScaleSets', p['vmss'], p['rg'])
    return ctx.state.nodes_of(pool['vmss_name'])


def _vmss_node(ctx, p):
    nodes = [n for n in _vmss_nodes(ctx, p) if n['instance_id'] == p['instance']]
    if not nodes:
        raise not_found('Microsoft.Compute/virtualMachineScaleSets/%s/virtualMachines' % p['vmss'], p['instance'], p['rg'])
    return nodes[0]


def vmss_nic_list(ctx, p):
    with ctx.state.lock:
        return Response(200, {'value': [render_nic(ctx.state, n) for n in _vmss_nodes(ctx, p)]})


def vmss_vm_nic_list(ctx, p):
    with ctx.state.lock:
        return Response(200, {'value': [render_nic(ctx.state, _vmss_node(ctx, p))]})


def vmss_vm_nic_get(ctx, p):
    with ctx.state.lock:
        node = _vmss_node(ctx, p)
        if p['nic'].lower() != node['nic_name'].lower():
            raise not_found('Microsoft.Compute/virtualMachineScaleSets/%s/virtualMachines/%s/networkInterfaces' % (p['vmss'], p['instance']),
                            p['nic'], p['rg'])
        return Response(200, render_nic(ctx.state, node))


def vmss_vm_nic_ipconfig_list(ctx, p):
    with ctx.state.lock:
        body = vmss_vm_nic_get(ctx, p).body
        return Response(200, {'value': body['properties']['ipConfigurations']})


def vmss_vm_nic_ipconfig_get(ctx, p):
    with ctx.state.lock:
        body = vmss_vm_nic_get(ctx, p).body
        for conf in body['properties']['ipConfigurations']:
            if conf['name'].lower() == p['ipconf'].lower():
                return Response(200, conf)
        raise not_found('Microsoft.Network/networkInterfaces/%s/ipConfigurations' % p['nic'], p['ipconf'], p['rg'])


def _lb_or_404(ctx, p):
    if not has_lb(ctx.state) or p['rg'].lower() != ctx.state.node_resource_group.lower() or p['lb'].lower() != 'kubernetes':
        raise not_found('Microsoft.Network/loadBalancers', p['lb'], p['rg'])


def lb_get(ctx, p):
    with ctx.state.lock:
        _lb_or_404(ctx, p)
        return Response(200, render_lb(ctx.state))


def lb_list(ctx, p):
    with ctx.state.lock:
        rg = p.get('rg')
        if not has_lb(ctx.state) or (rg is not None and rg.lower() != ctx.state.node_resource_group.lower()):
            return Response(200, {'value': []})
        return Response(200, {'value': [render_lb(ctx.state)]})


def lb_outbound_rule_list(ctx, p):
    with ctx.state.lock:
        _lb_or_404(ctx, p)
        return Response(200, {'value': render_lb(ctx.state)['properties']['outboundRules']})


def lb_outbound_rule_get(ctx, p):
    with ctx.state.lock:
        _lb_or_404(ctx, p)
        for rule in render_lb(ctx.state)['properties']['outboundRules']:
            if rule['name'].lower() == p['rule'].lower():
                return Response(200, rule)
        raise not_found('Microsoft.Network/loadBalancers/kubernetes/outboundRules', p['rule'], p['rg'])


def pip_get(ctx, p):
    with ctx.state.lock:
        if has_lb(ctx.state) and p['rg'].lower() == ctx.state.node_resource_group.lower():
            for pip in ctx.state.public_ips():
                if pip['name'].lower() == p['pip'].lower():
                    return Response(200, render_public_ip(ctx.state, pip))
        raise not_found('Microsoft.Network/publicIPAddresses', p['pip'], p['rg'])


def pip_list(ctx, p):
    with ctx.state.lock:
        rg = p.get('rg')
        if not has_lb(ctx.state) or (rg is not None and rg.lower() != ctx.state.node_resource_group.lower()):
            return Response(200, {'value': []})
        return Response(200, {'value': [render_public_ip(ctx.state, pip) for pip in ctx.state.public_ips()]})
