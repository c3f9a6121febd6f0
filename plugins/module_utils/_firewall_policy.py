# -*- coding: utf-8 -*-
# Copyright (c) 2026 aks.tunnel contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Azure Firewall rule evaluation for the tunnel egress flows, and the rule collection that allows them (pure).

Rule processing as Azure Firewall documents it ("Azure Firewall rule processing logic"):
* Firewall Policy: the rule collection groups of a parent (base) policy come first whatever their priority; then the
  policy's own groups, lowest priority number first; inside a group its rule collections, lowest priority number first;
  inside a collection the rules in order. DNAT rules (inbound) first, then **every** network rule, then application rules,
  whatever the group or collection priority: a network rule that matches ends the evaluation.
* Classic rules (a firewall without a policy): network rule collections by priority, then application rule collections.
* Application rules are only for HTTP/HTTPS/MSSQL: the TLS flow (konnectivity TCP 443) is matched by its SNI (the API
  server FQDN) against targetFqdns (``*`` and ``*.suffix`` wildcards) and the ``AzureKubernetesService`` FQDN tag
  (``*.azmk8s.io``); TCP 9000 and UDP 1194 only by network rules.
* Nothing matches: denied (Azure Firewall denies by default).

Three-valued matching like the NSG engine: IP groups are decided from their addresses when the module read them (else
undecided, with the reason); service tags other than AzureCloud from the IP ranges Azure publishes (Service Tag Discovery API,
ServiceTags_List) when the module read them (else undecided, with the reason; see _service_tag); targetUrls and web categories
(need TLS inspection / a category lookup) are undecidable. ``AzureCloud`` and ``AzureCloud.<region of the cluster>`` cover the public API
server address (AKS serves it from the cluster's region; the AKS egress documentation allows exactly this tag); another
region's tag does not, and no AzureCloud tag holds a private address (the node's source IP, a private API server). The first
rule that surely matches decides; undecidable rules before it make the verdict Unknown unless they carry the same action.
"""

from __future__ import annotations

import ipaddress

ALLOW = 'Allow'
DENY = 'Deny'
UNKNOWN = 'Unknown'
NETWORK = 'network'
APPLICATION = 'application'
OWNED_NAME = 'aks-tunnel-egress'
GROUP_PRIORITY_MIN = 100
GROUP_PRIORITY_MAX = 65000
AKS_FQDN_TAG = 'azurekubernetesservice'
AKS_FQDN_SUFFIX = '.azmk8s.io'
FILTER_COLLECTION = 'FirewallPolicyFilterRuleCollection'


class FirewallInputError(ValueError):
    """A firewall, policy or rule collection group that cannot be read."""


def _props(item):
    return item.get('properties') if isinstance(item.get('properties'), dict) else item


def _get(props, camel, snake=None, default=None):
    value = props.get(camel)
    if value is None and snake:
        value = props.get(snake)
    return default if value is None else value


def _action(value):
    kind = value.get('type') if isinstance(value, dict) else value
    text = str(kind or '').strip().lower()
    if text not in ('allow', 'deny'):
        raise FirewallInputError('rule collection action must be Allow or Deny, got %r' % (kind,))
    return ALLOW if text == 'allow' else DENY


def _priority(value, what):
    try:
        return int(value)
    except (TypeError, ValueError):
        raise FirewallInputError('%s: priority must be an integer, got %r' % (what, value)) from None


def _rule(kind, props, where):
    """One rule in the engine's shape (policy REST/SDK camelCase or classic REST/SDK, snake_case from as_dict)."""
    rule = {'kind': kind, 'name': props.get('name') or 'unnamed'}
    rule['sources'] = [str(s).strip() for s in _get(props, 'sourceAddresses', 'source_addresses', [])]
    rule['source_ip_groups'] = list(_get(props, 'sourceIpGroups', 'source_ip_groups', []))
    if kind == NETWORK:
        rule['protocols'] = [str(p).strip().upper() for p in (_get(props, 'ipProtocols', 'ip_protocols') or _get(props, 'protocols', None, []))]
        rule['destinations'] = [str(d).strip() for d in _get(props, 'destinationAddresses', 'destination_addresses', [])]
        rule['destination_ip_groups'] = list(_get(props, 'destinationIpGroups', 'destination_ip_groups', []))
        rule['destination_fqdns'] = [str(f).strip().lower() for f in _get(props, 'destinationFqdns', 'destination_fqdns', [])]
        rule['ports'] = [str(p).strip() for p in _get(props, 'destinationPorts', 'destination_ports', [])]
    else:
        protocols = []
        for item in _get(props, 'protocols', None, []):
            if isinstance(item, dict):
                protocols.append((str(_get(item, 'protocolType', 'protocol_type', '')).lower(), _get(item, 'port')))
        rule['app_protocols'] = protocols
        rule['target_fqdns'] = [str(f).strip().lower() for f in _get(props, 'targetFqdns', 'target_fqdns', [])]
        rule['fqdn_tags'] = [str(t).strip().lower() for t in _get(props, 'fqdnTags', 'fqdn_tags', [])]
        rule['target_urls'] = list(_get(props, 'targetUrls', 'target_urls', []))
        rule['web_categories'] = list(_get(props, 'webCategories', 'web_categories', []))
        rule['destinations'] = [str(d).strip() for d in _get(props, 'destinationAddresses', 'destination_addresses', [])]
        rule['terminate_tls'] = bool(_get(props, 'terminateTLS', 'terminate_tls', False))
    rule.update(where)
    return rule


def policy_rules(policies):
    """Ordered (network rules, application rules) of a Firewall Policy chain.

    ``policies``: [{'name': policy name, 'groups': [ruleCollectionGroups resources]}], the root base policy first, the
    firewall's own policy last."""
    network, application = [], []
    for level, policy in enumerate(policies):
        groups = []
        for group in policy.get('groups') or []:
            props = _props(group)
            groups.append((_priority(props.get('priority'), 'rule collection group %s' % group.get('name')), group.get('name') or '', props))
        for group_priority, group_name, props in sorted(groups, key=lambda g: (g[0], g[1])):
            collections = []
            for coll in _get(props, 'ruleCollections', 'rule_collections', []):
                ctype = _get(coll, 'ruleCollectionType', 'rule_collection_type', '')
                if 'nat' in str(ctype).lower():
                    continue  # DNAT is inbound: not on the egress path
                collections.append((_priority(coll.get('priority'), 'rule collection %s' % coll.get('name')), coll.get('name') or '', coll))
            for coll_priority, coll_name, coll in sorted(collections, key=lambda c: (c[0], c[1])):
                action = _action(coll.get('action'))
                for index, raw in enumerate(coll.get('rules') or []):
                    rtype = str(_get(raw, 'ruleType', 'rule_type', '')).lower()
                    kind = APPLICATION if 'application' in rtype else NETWORK if 'network' in rtype else None
                    if kind is None:
                        continue
                    where = {'policy': policy.get('name'), 'level': level, 'group': group_name, 'group_priority': group_priority,
                             'collection': coll_name, 'collection_priority': coll_priority, 'action': action, 'index': index}
                    (network if kind == NETWORK else application).append(_rule(kind, raw, where))
    return network, application


def classic_rules(firewall):
    """Ordered (network rules, application rules) of an azureFirewalls resource's classic rule collections."""
    props = _props(firewall)
    out = []
    for key, snake, kind in (('networkRuleCollections', 'network_rule_collections', NETWORK),
                             ('applicationRuleCollections', 'application_rule_collections', APPLICATION)):
        collections = []
        for coll in _get(props, key, snake, []):
            cprops = _props(coll)
            collections.append((_priority(cprops.get('priority'), 'rule collection %s' % coll.get('name')), coll.get('name') or '', cprops))
        rules = []
        for coll_priority, coll_name, cprops in sorted(collections, key=lambda c: (c[0], c[1])):
            action = _action(cprops.get('action'))
            for index, raw in enumerate(cprops.get('rules') or []):
                where = {'policy': None, 'level': 0, 'group': None, 'group_priority': None, 'collection': coll_name,
                         'collection_priority': coll_priority, 'action': action, 'index': index}
                rules.append(_rule(kind, raw, where))
        out.append(rules)
    return out[0], out[1]


# --------------------------------------------------------------------------- matching

def _service_tag(tag, ip, side):
    """True/False/None (with the reason) for a service tag against the tunnel flow's address on ``side``.

    Documented semantics ("Azure service tags overview"): ``AzureCloud`` is every Azure datacenter public IP address and
    ``AzureCloud.<region>`` those of one region; AKS serves a public API server from the cluster's region (its egress rules
    allow exactly ``AzureCloud.<region>``). So for the public API server address AzureCloud and AzureCloud.<cluster region>
    match and another region's does not; a private address (node IP, private API server) is in no AzureCloud tag. Every other
    tag (ApiManagement, Storage, regional variants ...) is decided by the IP ranges Azure publishes for it (``side['tags']``,
    service_tag_ranges of the module's ServiceTags_List read); not read, unreadable or not in Azure's list: undecided, never
    assumed."""
    name = tag.lower()
    if name == 'azurecloud' or name.startswith('azurecloud.'):
        if not side['public']:
            return False, None
        if name == 'azurecloud':
            return True, None
        if side.get('region'):
            return name == 'azurecloud.' + side['region'].lower(), None
        return None, "%s '%s' (the API server's region is not known)" % (side['name'], tag)
    published = (side.get('tags') or {}).get(name)
    if published is None:
        return None, "%s '%s' (a service tag: its IP ranges were not read, only AzureCloud and AzureCloud.<region> are decided without them)" % (
            side['name'], tag)
    if published.get('error'):
        return None, "%s '%s' (a service tag whose IP ranges are not known: %s)" % (side['name'], tag, published['error'])
    bad = None
    for prefix in published.get('prefixes') or []:
        try:
            network = ipaddress.ip_network(prefix, strict=False)
        except ValueError:
            bad = prefix
            continue
        if network.version == ip.version and ip in network:
            return True, None
    if bad:
        return None, "%s '%s' (a published prefix is not a network: %r)" % (side['name'], tag, bad)
    return False, None


def _address_match(item, ip, side):
    """(True/False/None, reason) for one address item: '*', IP, CIDR, range a-b, or a service tag."""
    if item in ('*', 'any', 'Any'):
        return True, None
    try:
        return ip in ipaddress.ip_network(item, strict=False), None
    except ValueError:
        pass
    low, sep, high = item.partition('-')
    if sep:
        try:
            return ipaddress.ip_address(low.strip()) <= ip <= ipaddress.ip_address(high.strip()), None
        except (ValueError, TypeError):
            return None, "%s '%s' (not an address range)" % (side['name'], item)
    return _service_tag(item, ip, side)


def _group_key(group_id):
    return str(group_id).strip().rstrip('/').lower()


def _addresses(items, groups, ip, side, ip_groups):
    """(True|False|None, reason): does one of the addresses or IP groups hold ``ip``. ``ip_groups``: {IP group id (lower case):
    {'addresses': [...]} or {'error': reason}} as read by the module; a group missing there or unreadable is undecided."""
    undecided = None
    for item in items:
        found, why = _address_match(item, ip, side)
        if found:
            return True, None
        if found is None:
            undecided = why
    for group_id in groups:
        name = str(group_id).rstrip('/').rsplit('/', 1)[-1]
        group = (ip_groups or {}).get(_group_key(group_id))
        if not group or group.get('error'):
            undecided = '%s IP group %s (%s)' % (side['name'], name, (group or {}).get('error') or 'its addresses were not read')
            continue
        for item in group.get('addresses') or []:
            found, why = _address_match(item, ip, side)
            if found:
                return True, None
            if found is None:
                undecided = '%s IP group %s: %s' % (side['name'], name, why)
    return (None, undecided) if undecided else (False, None)


def _port_match(ports, port):
    for item in ports:
        if item == '*':
            return True
        low, _sep, high = item.partition('-')
        if low.strip().isdigit() and int(low) <= port <= int((high or low).strip() or low):
            return True
    return False


def _fqdn_match(pattern, fqdn):
    if pattern == '*':
        return True
    if pattern.startswith('*.'):
        return fqdn.endswith(pattern[1:])
    return fqdn == pattern


def rule_ip_groups(rules):
    """The IP group ids the rules refer to (sources and destinations), each once, in order."""
    seen, out = set(), []
    for rule in rules:
        for group_id in list(rule.get('source_ip_groups') or []) + list(rule.get('destination_ip_groups') or []):
            if _group_key(group_id) not in seen:
                seen.add(_group_key(group_id))
                out.append(group_id)
    return out


def _is_address(item):
    if item in ('*', 'any', 'Any'):
        return True
    try:
        ipaddress.ip_network(item, strict=False)
        return True
    except ValueError:
        pass
    low, sep, high = item.partition('-')
    if not sep:
        return False
    try:
        ipaddress.ip_address(low.strip())
        ipaddress.ip_address(high.strip())
        return True
    except ValueError:
        return False


def rule_service_tags(rules):
    """The service tags the rules name (sources and destinations) that only Azure's published IP ranges decide (not AzureCloud
    nor AzureCloud.<region>), each once (case-insensitive), in order: what the module reads ServiceTags_List for."""
    seen, out = set(), []
    for rule in rules:
        for item in list(rule.get('sources') or []) + list(rule.get('destinations') or []):
            item = str(item).strip()
            name = item.lower()
            if not item or _is_address(item) or name == 'azurecloud' or name.startswith('azurecloud.') or name in seen:
                continue
            seen.add(name)
            out.append(item)
    return out


def service_tag_ranges(answer, names):
    """{tag (lower case): {'prefixes': [...], 'region', 'system_service'} or {'error': reason}} for ``names`` from one
    ServiceTags_List answer (REST or SDK as_dict: {name, cloud, changeNumber, values: [{name, id, properties: {region,
    systemService, addressPrefixes}}], nextLink}). A tag the answer does not hold is undecided: Azure Firewall only takes tags
    of that list, and a further page (nextLink) is not read."""
    answer = answer or {}
    values = {}
    for value in answer.get('values') or []:
        if not isinstance(value, dict):
            continue
        props = value.get('properties') if isinstance(value.get('properties'), dict) else {}
        for key in (value.get('name'), value.get('id')):
            if key:
                values.setdefault(str(key).lower(), {
                    'prefixes': [str(p).strip() for p in _get(props, 'addressPrefixes', 'address_prefixes', [])],
                    'region': props.get('region') or '', 'system_service': _get(props, 'systemService', 'system_service', '')})
    where = "Azure's service tag list (cloud %s, change number %s)" % (answer.get('cloud') or answer.get('name') or '?',
                                                                       _get(answer, 'changeNumber', 'change_number', '?'))
    more = _get(answer, 'nextLink', 'next_link')
    out = {}
    for name in names:
        key = str(name).lower()
        if key in values:
            out[key] = values[key]
        elif more:
            out[key] = {'error': '%s has no such tag on its first page, and its further pages were not read' % where}
        else:
            out[key] = {'error': '%s has no such tag' % where}
    return out


def ip_group_addresses(resource):
    """{'addresses': [...]} of an ipGroups resource (REST or SDK as_dict)."""
    props = _props(resource)
    return {'addresses': [str(a).strip() for a in _get(props, 'ipAddresses', 'ip_addresses', [])]}


def match(rule, flow, ip_groups=None, service_tags=None):
    """(True|False|None, reason) does the rule match the flow. ``service_tags``: service_tag_ranges of the tags the rules name."""
    ip = ipaddress.ip_address(flow['source_ip'])
    dest = ipaddress.ip_address(flow['destination_ip'])
    source_side = {'name': 'source', 'public': ip.is_global, 'region': None, 'tags': service_tags}
    dest_side = {'name': 'destination', 'public': bool(flow.get('azure_region')) or dest.is_global, 'region': flow.get('azure_region'),
                 'tags': service_tags}
    if rule['kind'] == NETWORK:
        if not any(p in ('ANY', flow['protocol'].upper()) for p in rule['protocols']):
            return False, None
        if not _port_match(rule['ports'], flow['port']):
            return False, None
    else:
        if not flow.get('tls'):
            return False, None
        if not any(kind == 'https' and str(port) == str(flow['port']) for kind, port in rule['app_protocols']):
            return False, None
    found, why = _addresses(rule['sources'], rule['source_ip_groups'], ip, source_side, ip_groups)
    if found is False:
        return False, None
    reasons = [why] if found is None else []
    if rule['kind'] == NETWORK:
        dest_found, dest_why = _addresses(rule['destinations'], rule['destination_ip_groups'], dest, dest_side, ip_groups)
        if not dest_found and flow.get('fqdn') and flow['fqdn'].lower() in rule['destination_fqdns']:
            dest_found, dest_why = True, None
    else:
        fqdn = (flow.get('fqdn') or '').lower()
        if rule['target_urls'] or rule['web_categories']:
            dest_found, dest_why = None, 'target URLs / web categories (need TLS inspection or a category lookup)'
        elif not fqdn:
            dest_found, dest_why = None, 'the API server FQDN is not known'
        else:
            dest_found = any(_fqdn_match(p, fqdn) for p in rule['target_fqdns']) or (
                AKS_FQDN_TAG in rule['fqdn_tags'] and fqdn.endswith(AKS_FQDN_SUFFIX))
            dest_why = None
            if dest_found and rule['destinations']:
                dest_found, dest_why = _addresses(rule['destinations'], [], dest, dest_side, ip_groups)
    if dest_found is False:
        return False, None
    if dest_found is None:
        reasons.append(dest_why)
    if reasons:
        return None, '; '.join(r for r in reasons if r)
    return True, None


def rule_label(rule):
    """"firewall policy fp-aks, rule collection group rcg-egress (priority 200), rule collection deny-web (priority 100, Deny),
    network rule deny-443"; classic rules say "classic network rule collection ..."."""
    parts = []
    if rule.get('policy'):
        parts.append('firewall policy %s' % rule['policy'])
    if rule.get('group'):
        parts.append('rule collection group %s (priority %d)' % (rule['group'], rule['group_priority']))
    kind = '' if rule.get('policy') else 'classic %s ' % rule['kind']
    parts.append('%srule collection %s (priority %d, %s)' % (kind, rule['collection'], rule['collection_priority'], rule['action']))
    parts.append('%s rule %s' % (rule['kind'], rule['name']))
    return ', '.join(parts)


def rule_view(rule):
    return dict((k, rule.get(k)) for k in ('policy', 'group', 'group_priority', 'collection', 'collection_priority', 'kind', 'name', 'action'))


def evaluate(network, application, flow, ip_groups=None, service_tags=None):
    """The firewall's verdict on one flow: {access: Allow|Deny|Unknown, rule: rule_view or None, default: bool, reason,
    undecided: [{rule, reason}], warning}. ``ip_groups``: the IP groups the rules refer to, as _addresses takes them;
    ``service_tags``: the published ranges of the service tags they name (service_tag_ranges)."""
    undecided = []
    for rules in (network, application):
        for rule in rules:
            found, why = match(rule, flow, ip_groups, service_tags)
            if found is False:
                continue
            if found is None:
                undecided.append((rule, why))
                continue
            other = [u for u in undecided if u[0]['action'] != rule['action']]
            listed = [{'rule': rule_label(u[0]), 'reason': u[1]} for u in undecided]
            if other:
                return {'access': UNKNOWN, 'rule': rule_view(rule), 'default': False, 'undecided': listed,
                        'reason': 'undecided: %s may match first (%s)' % (rule_label(other[0][0]), other[0][1])}
            warning = None
            if rule['kind'] == APPLICATION and rule.get('terminate_tls') and rule['action'] == ALLOW:
                warning = 'the application rule terminates TLS (inspection): konnectivity needs its ALPN unchanged'
            return {'access': rule['action'], 'rule': rule_view(rule), 'default': False, 'undecided': listed,
                    'reason': '%s %s' % ('allowed by' if rule['action'] == ALLOW else 'denied by', rule_label(rule)), 'warning': warning}
    listed = [{'rule': rule_label(u[0]), 'reason': u[1]} for u in undecided]
    allows = [u for u in undecided if u[0]['action'] == ALLOW]
    if allows:
        return {'access': UNKNOWN, 'rule': None, 'default': True, 'undecided': listed,
                'reason': 'undecided: %s may allow it (%s); otherwise the default deny' % (rule_label(allows[0][0]), allows[0][1])}
    return {'access': DENY, 'rule': None, 'default': True, 'undecided': listed,
            'reason': 'no rule allows it: Azure Firewall denies by default'}


# --------------------------------------------------------------------------- the repair

def flow_rule_name(flow):
    return 'aks-tunnel-%s-%d' % (flow['protocol'].lower(), flow['port'])


def desired_rules(flows, source_prefixes):
    """The network rules of the owned collection: one per flow, node subnet(s) -> the API server IP, that port."""
    rules = []
    for flow in flows:
        rules.append({'ruleType': 'NetworkRule', 'name': flow_rule_name(flow), 'ipProtocols': [flow['protocol'].upper()],
                      'sourceAddresses': sorted(source_prefixes), 'destinationAddresses': [flow['destination_ip']],
                      'destinationPorts': [str(flow['port'])]})
    return sorted(rules, key=lambda r: r['name'])


def option_rules(rest):
    """REST NetworkRules -> the rules option of aks.tunnel.azure_firewall_rule."""
    return [{'name': r.get('name'), 'ip_protocols': list(_get(r, 'ipProtocols', 'ip_protocols', [])),
             'source_addresses': list(_get(r, 'sourceAddresses', 'source_addresses', [])),
             'destination_addresses': list(_get(r, 'destinationAddresses', 'destination_addresses', [])),
             'destination_ports': [str(p) for p in _get(r, 'destinationPorts', 'destination_ports', [])]} for r in rest or []]


def desired_group(priority, rules, name=OWNED_NAME):
    """The rule collection group the repair PUTs (REST shape, properties only): one Allow filter collection named ``name``."""
    return {'priority': int(priority), 'ruleCollections': [
        {'ruleCollectionType': FILTER_COLLECTION, 'name': name, 'priority': GROUP_PRIORITY_MIN, 'action': {'type': ALLOW}, 'rules': rules}]}


def choose_priority(group_priorities, before=None, current=None):
    """A free group priority (GROUP_PRIORITY_MIN..MAX) below ``before`` (the denying group's), as late as possible, so the
    owned group precedes only what it must; ``current`` (the owned group's own) is kept when it fits. None when none fits."""
    limit = GROUP_PRIORITY_MAX if before is None else before - 1
    if current is not None and GROUP_PRIORITY_MIN <= current <= limit:
        return current
    taken = set(int(p) for p in group_priorities)
    for candidate in range(limit, GROUP_PRIORITY_MIN - 1, -1):
        if candidate not in taken:
            return candidate
    return None


def plan_repair(policies, verdicts, flows, source_prefixes, name=OWNED_NAME):
    """The owned rule collection group that allows the denied flows, or a refusal.

    ``policies``: as policy_rules() takes (the firewall's own policy last); ``verdicts``: evaluate() per flow (same order).
    Returns {rule_collection_group, priority, properties, flows, refused: reason or None}."""
    denied = [f for f, v in zip(flows, verdicts) if v['access'] == DENY]
    if not denied:
        return {'rule_collection_group': name, 'priority': None, 'properties': None, 'flows': [], 'refused': 'no flow is denied'}
    own = policies[-1] if policies else {'name': None, 'groups': []}
    own_groups = dict((g.get('name'), _props(g)) for g in own.get('groups') or [])
    current = own_groups.get(name)
    before = None
    for flow, verdict in zip(flows, verdicts):
        rule = verdict.get('rule')
        if verdict['access'] != DENY or not rule or rule['kind'] != NETWORK:
            continue  # the default deny or an application rule: any network rule comes first
        if rule['policy'] != own.get('name'):
            return {'rule_collection_group': name, 'priority': None, 'properties': None, 'flows': denied,
                    'refused': 'the deny is in the parent policy %s (%s): a child policy cannot come before it; change the parent '
                               'policy' % (rule['policy'], rule_label(rule))}
        if rule['group'] == name:
            return {'rule_collection_group': name, 'priority': None, 'properties': None, 'flows': denied,
                    'refused': 'the owned group %s itself denies it; remove it by hand' % name}
        before = rule['group_priority'] if before is None else min(before, rule['group_priority'])
    others = [p.get('priority') for n, p in own_groups.items() if n != name and p.get('priority') is not None]
    priority = choose_priority(others, before, _priority(current['priority'], name) if current and current.get('priority') is not None else None)
    if priority is None:
        return {'rule_collection_group': name, 'priority': None, 'properties': None, 'flows': denied,
                'refused': 'no free rule collection group priority below %s: add the rules to that group by hand' % before}
    wanted = list(denied)
    if current:
        # Keep the flows the owned group allows today (a later run must not drop them).
        for coll in _get(current, 'ruleCollections', 'rule_collections', []):
            for raw in coll.get('rules') or []:
                for flow in flows:
                    if raw.get('name') == flow_rule_name(flow) and flow not in wanted:
                        wanted.append(flow)
    rules = desired_rules(wanted, source_prefixes)
    return {'rule_collection_group': name, 'priority': priority, 'properties': desired_group(priority, rules, name),
            'rules': option_rules(rules), 'flows': denied, 'refused': None}


def _canon_group(props):
    """A comparable view of a rule collection group's properties (order of lists and key spelling do not matter)."""
    if not props:
        return None
    colls = []
    for coll in _get(props, 'ruleCollections', 'rule_collections', []):
        rules = []
        for raw in coll.get('rules') or []:
            rules.append((raw.get('name'), str(_get(raw, 'ruleType', 'rule_type', '')),
                          tuple(sorted(str(p).upper() for p in _get(raw, 'ipProtocols', 'ip_protocols', []))),
                          tuple(sorted(_get(raw, 'sourceAddresses', 'source_addresses', []))),
                          tuple(sorted(_get(raw, 'destinationAddresses', 'destination_addresses', []))),
                          tuple(sorted(str(p) for p in _get(raw, 'destinationPorts', 'destination_ports', []))),
                          tuple(sorted(_get(raw, 'sourceIpGroups', 'source_ip_groups', []))),
                          tuple(sorted(_get(raw, 'destinationFqdns', 'destination_fqdns', [])))))
        action = coll.get('action')
        colls.append((coll.get('name'), str(_get(coll, 'ruleCollectionType', 'rule_collection_type', '')), int(coll.get('priority') or 0),
                      str(action.get('type') if isinstance(action, dict) else action).lower(), tuple(sorted(rules, key=str))))
    return (int(props.get('priority') or 0), tuple(sorted(colls, key=str)))


def group_differs(current_props, desired_props):
    return _canon_group(current_props) != _canon_group(desired_props)


def is_owned(props, name=OWNED_NAME):
    """The group holds nothing but the owned collection (so the repair may replace it whole)."""
    colls = _get(props or {}, 'ruleCollections', 'rule_collections', [])
    return all(c.get('name') == name for c in colls)


def appliance_advice(appliance_ip, flows, source_prefixes, route_text):
    """The exact allow to add on a third-party appliance (not an Azure Firewall)."""
    lines = []
    for flow in flows:
        lines.append('allow %s from %s to %s%s port %d' % (flow['protocol'].lower(), ', '.join(sorted(source_prefixes)), flow['destination_ip'],
                                                           ' (%s)' % flow['fqdn'] if flow.get('fqdn') else '', flow['port']))
    return {'appliance_ip': appliance_ip, 'route': route_text, 'allow': lines,
            'summary': 'The tunnel egress goes through the appliance %s (%s); on it, %s.' % (appliance_ip, route_text, '; '.join(lines))}
