# -*- coding: utf-8 -*-
# Copyright (c) 2026 aks.tunnel contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Azure NSG evaluation engine: which rule decides a flow, on one NSG and on a whole path.

Pure Python (standard library only): imported by modules, filters and the lab's ARM emulator.

Semantics follow Azure: rules of the flow's direction only, lowest priority number first,
first match wins; the six default rules are added when absent. Inbound flows pass the
destination subnet NSG then the destination NIC NSG, outbound flows the source NIC NSG then
the source subnet NSG; every NSG present must allow.

Three-valued matching: a rule condition is True, False or undecidable (None + reason), e.g. an
unknown service tag or an ASG whose membership the caller did not give. A rule that surely
does not match is skipped; the first rule that surely matches decides. Undecidable rules
before it make the verdict ``Unknown`` unless every possible outcome has the same access
(then the access is certain and the undecidable rules are listed under ``undecided``).

Choices where Azure cannot be observed offline (documented for callers):

* ``VirtualNetwork`` = the caller's ``vnet_prefixes`` (VNet address spaces plus any peered /
  on-premises prefixes the caller adds) plus 168.63.129.16, which Azure includes in the tag.
  Without ``vnet_prefixes`` the tag is undecidable (except for 168.63.129.16).
* ``AzureLoadBalancer`` = 168.63.129.16/32.
* ``Internet`` = an address that is not ``VirtualNetwork`` and not in a non-public range:
  RFC 1918, 100.64.0.0/10 (CGNAT), 0.0.0.0/8, 127.0.0.0/8, 169.254.0.0/16, 224.0.0.0/4,
  240.0.0.0/4; IPv6 ::/128, ::1/128, fc00::/7, fe80::/10, ff00::/8. Documentation ranges
  (TEST-NET, 2001:db8::/32) count as Internet because labs use them as stand-in public IPs.
  For a public address without ``vnet_prefixes`` the tag is undecidable.
* Any other service tag (``Storage``, ``AzureCloud.westeurope``, ...) is undecidable.
* ``*`` and (leniently, for evaluation only) ``Any`` match every address; the ARM API itself
  rejects ``any`` (see ``validate_rule``).
* Source ports: flows use an ephemeral source port. A source port range that covers 0-65535
  matches; any narrower range is undecidable unless the caller gives ``source_port``.
* Icmp/Esp/Ah flows have no ports: a rule matches them only when its port ranges cover
  0-65535 (``*``); a rule limited to specific ports does not match them.
* Protocol ``*`` matches every flow protocol.
"""

from __future__ import annotations

import copy
import ipaddress
import json
import re

PROTOCOLS = ('*', 'Tcp', 'Udp', 'Icmp', 'Esp', 'Ah')
FLOW_PROTOCOLS = ('Tcp', 'Udp', 'Icmp', 'Esp', 'Ah')
PORTLESS_PROTOCOLS = ('Icmp', 'Esp', 'Ah')
ACCESSES = ('Allow', 'Deny')
DIRECTIONS = ('Inbound', 'Outbound')
ALLOW = 'Allow'
DENY = 'Deny'
UNKNOWN = 'Unknown'

USER_PRIORITY_MIN = 100
USER_PRIORITY_MAX = 4096
AZURE_PLATFORM_IP = '168.63.129.16'

# Path positions in the order a packet meets them (outbound NIC then subnet, inbound subnet then NIC).
PATH_POSITIONS = (
    ('source_nic', 'Outbound', 'source NIC'),
    ('source_subnet', 'Outbound', 'source subnet'),
    ('destination_subnet', 'Inbound', 'destination subnet'),
    ('destination_nic', 'Inbound', 'destination NIC'),
)

_CANON_PROTOCOL = dict((p.lower(), p) for p in PROTOCOLS)
_CANON_PROTOCOL['any'] = '*'
_CANON_ACCESS = dict((a.lower(), a) for a in ACCESSES)
_CANON_DIRECTION = dict((d.lower(), d) for d in DIRECTIONS)

_PORT_RE = re.compile(r'^(\d{1,5})(?:-(\d{1,5}))?$')
# Service tag names: letters/digits, optional dotted region/qualifier (AzureCloud.westeurope).
_BARE_NUMBER_RE = re.compile(r'^\d+(?:\.\d+){0,2}$')
_TAG_RE = re.compile(r'^[A-Za-z][A-Za-z0-9]*(?:\.[A-Za-z0-9][A-Za-z0-9-]*)*$')
_RULE_NAME_RE = re.compile(r'^\w(?:[\w.-]*[\w_])?$')
_RULE_NAME_MAX = 80
_DESCRIPTION_MAX = 140

_NON_PUBLIC_NETWORKS = tuple(ipaddress.ip_network(n) for n in (
    '0.0.0.0/8', '10.0.0.0/8', '100.64.0.0/10', '127.0.0.0/8', '169.254.0.0/16', '172.16.0.0/12',
    '192.168.0.0/16', '224.0.0.0/4', '240.0.0.0/4',
    '::/128', '::1/128', 'fc00::/7', 'fe80::/10', 'ff00::/8',
))
_PLATFORM_NETWORK = ipaddress.ip_network(AZURE_PLATFORM_IP + '/32')

_DEFAULT_RULE_SPECS = (
    ('AllowVnetInBound', 65000, 'Allow', 'Inbound', 'VirtualNetwork', 'VirtualNetwork',
     'Allow inbound traffic from all VMs in VNET'),
    ('AllowAzureLoadBalancerInBound', 65001, 'Allow', 'Inbound', 'AzureLoadBalancer', '*',
     'Allow inbound traffic from azure load balancer'),
    ('DenyAllInBound', 65500, 'Deny', 'Inbound', '*', '*', 'Deny all inbound traffic'),
    ('AllowVnetOutBound', 65000, 'Allow', 'Outbound', 'VirtualNetwork', 'VirtualNetwork',
     'Allow outbound traffic from all VMs to all VMs in VNET'),
    ('AllowInternetOutBound', 65001, 'Allow', 'Outbound', '*', 'Internet',
     'Allow outbound traffic from all VMs to Internet'),
    ('DenyAllOutBound', 65500, 'Deny', 'Outbound', '*', '*', 'Deny all outbound traffic'),
)
DEFAULT_RULE_NAMES = tuple(spec[0] for spec in _DEFAULT_RULE_SPECS)


class NsgError(ValueError):
    """Base class of every error raised by this engine."""


class NsgInputError(NsgError):
    """The rules, NSG or flow given to the engine cannot be used as they are."""


class NsgValidationError(NsgInputError):
    """A security rule that ARM would reject; carries the ARM error code and message."""

    def __init__(self, code, message):
        super().__init__('%s: %s' % (code, message))
        self.code = code
        self.message = message

    def to_arm_error(self):
        """Return the ARM error body ``{"error": {"code", "message", "details"}}`` (HTTP 400)."""
        return {'error': {'code': self.code, 'message': self.message, 'details': []}}


class NsgPriorityError(NsgError):
    """No free priority exists for a new rule."""


# --------------------------------------------------------------------------- default rules

def default_rules(nsg_id=None):
    """Return the six default security rules in ARM REST shape (as the 2026-03-01 API returns them)."""
    rules = []
    for name, priority, access, direction, source, destination, description in _DEFAULT_RULE_SPECS:
        rule = {
            'name': name,
            'properties': {
                'description': description,
                'access': access,
                'destinationAddressPrefix': destination,
                'destinationAddressPrefixes': [],
                'destinationPortRange': '*',
                'destinationPortRanges': [],
                'direction': direction,
                'priority': priority,
                'provisioningState': 'Succeeded',
                'sourceAddressPrefix': source,
                'sourceAddressPrefixes': [],
                'sourcePortRange': '*',
                'sourcePortRanges': [],
                'protocol': '*',
            },
        }
        if nsg_id:
            rule['id'] = '%s/defaultSecurityRules/%s' % (nsg_id, name)
        rules.append(rule)
    return rules


# --------------------------------------------------------------------------- parsing helpers

def _label(name, priority=None, direction=None):
    if name:
        return "'%s'" % name
    return 'the unnamed %s rule at priority %s' % (direction or '', priority)


def _lookup(props, camel, snake):
    """Return the value of a rule field given in camelCase (ARM) or snake_case (SDK as_dict)."""
    if camel in props:
        value = props[camel]
        if value is not None:
            return value
    return props.get(snake)


def _is_empty(value):
    return value is None or value == '' or (isinstance(value, (list, tuple)) and not value)


def _parse_port_range(value):
    """Parse one port entry; return (low, high) or raise NsgValidationError with ARM's code and message."""
    if isinstance(value, (str, int)) and not isinstance(value, bool):
        text = str(value).strip()
        if text == '*':
            return (0, 65535)
        match = _PORT_RE.match(text)
        if match:
            low = int(match.group(1))
            high = int(match.group(2)) if match.group(2) is not None else low
            if low <= high <= 65535:
                return (low, high)
    raise NsgValidationError('SecurityRuleInvalidPortRange', _port_message(value))


def _port_message(value):
    return ("Security rule has invalid Port range. Value provided: %s. Value should be an integer OR integer range "
            "with '-' delimiter. Valid range 0-65535." % (value,))


def _canon_port(value):
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return value.strip()


def _classify_prefix(value):
    """Return a matcher tuple for one address prefix entry, or raise NsgValidationError like ARM."""
    if not isinstance(value, str) or not value.strip():
        raise NsgValidationError('SecurityRuleInvalidAddressPrefix', _prefix_message(value))
    text = value.strip()
    lowered = text.lower()
    if text == '*' or lowered == 'any':
        return ('any', None)
    if lowered == 'virtualnetwork':
        return ('vnet', None)
    if lowered == 'azureloadbalancer':
        return ('net', _PLATFORM_NETWORK)
    if lowered == 'internet':
        return ('internet', None)
    try:
        return ('net', ipaddress.ip_network(text, strict=False))
    except ValueError:
        pass
    if _TAG_RE.match(text):
        return ('tag', text)
    if _BARE_NUMBER_RE.match(text):
        # ARM stores such values (azure-cli's recorded test_network_nsg: "789", "1234", "111") without saying how it
        # matches them; evaluation leaves them undecided instead of guessing.
        return ('unparsed', text)
    raise NsgValidationError('SecurityRuleInvalidAddressPrefix', _prefix_message(text))


def _prefix_message(value):
    return 'Security rule has invalid Address prefix. Value provided: %s' % (value,)


def _canon_prefix(value):
    text = value.strip()
    lowered = text.lower()
    if lowered == 'any':
        return '*'
    for tag in ('VirtualNetwork', 'AzureLoadBalancer', 'Internet'):
        if lowered == tag.lower():
            return tag
    return text


def _asg_ids(value, side, rule_label):
    if _is_empty(value):
        return []
    if not isinstance(value, (list, tuple)):
        raise NsgInputError('rule %s: %sApplicationSecurityGroups must be a list of {"id": ...} references, got %r'
                            % (rule_label, side, value))
    ids = []
    for entry in value:
        asg_id = entry.get('id') if isinstance(entry, dict) else entry
        if not isinstance(asg_id, str) or not asg_id.strip():
            raise NsgInputError('rule %s: every %s application security group needs an "id" (the ASG resource id), got %r'
                                % (rule_label, side, entry))
        ids.append(asg_id.strip().lower())
    return ids


def _pick_list(props, side, kind, rule_label):
    """Return (entries, used_plural) for ports/prefixes; the plural list wins when non-empty."""
    camel_one = '%s%s' % (side, kind)
    camel_many = camel_one + ('es' if kind.endswith('Prefix') else 's')
    snake_one = re.sub(r'([A-Z])', r'_\1', camel_one).lower()
    snake_many = re.sub(r'([A-Z])', r'_\1', camel_many).lower()
    many = _lookup(props, camel_many, snake_many)
    one = _lookup(props, camel_one, snake_one)
    if not _is_empty(many):
        if isinstance(many, (str, int)):
            many = [many]
        if not isinstance(many, (list, tuple)):
            raise NsgInputError('rule %s: %s must be a list, got %r' % (rule_label, camel_many, many))
        return list(many), True
    if not _is_empty(one):
        if isinstance(one, (list, tuple)):
            return list(one), True
        return [one], False
    return [], False


# --------------------------------------------------------------------------- normalization

def normalize_rule(rule):
    """Return a security rule (ARM REST or SDK as_dict shape) in the engine's canonical shape.

    Canonical shape (JSON-friendly): ``name``, ``id``, ``priority`` (int), ``access``
    (Allow|Deny), ``direction`` (Inbound|Outbound), ``protocol`` (one of PROTOCOLS),
    ``source_port_ranges`` / ``destination_port_ranges`` (lists of ``'*'``, ``'N'`` or ``'N-M'``),
    ``source_address_prefixes`` / ``destination_address_prefixes`` (lists; empty when ASGs are used),
    ``source_application_security_groups`` / ``destination_application_security_groups`` (lowercased
    ids), ``description``, ``is_default``. Raises NsgInputError (or NsgValidationError) for unusable rules.
    """
    return _normalize(rule)[0]


def _normalize(rule, index=None):
    where = '' if index is None else ' #%d' % index
    if not isinstance(rule, dict):
        raise NsgInputError('security rule%s must be a mapping (ARM {"name", "properties": {...}} or SDK as_dict()), got %s'
                            % (where, type(rule).__name__))
    props = rule.get('properties')
    if isinstance(props, dict):
        name = rule.get('name') or props.get('name')
        rule_id = rule.get('id')
    elif props is None:
        props = rule
        name = rule.get('name')
        rule_id = rule.get('id')
    else:
        raise NsgInputError('security rule%s: "properties" must be a mapping, got %s' % (where, type(props).__name__))
    if name is not None and not isinstance(name, str):
        raise NsgInputError('security rule%s: name must be a string, got %r' % (where, name))

    raw_priority = props.get('priority')
    label = _label(name, raw_priority)
    priority = _int_or_none(raw_priority)
    if priority is None:
        raise NsgInputError('security rule %s%s: priority must be an integer (100-4096 for user rules), got %r'
                            % (label, where, raw_priority))
    access = _canon(props.get('access'), _CANON_ACCESS)
    if access is None:
        raise NsgInputError('security rule %s: access must be Allow or Deny, got %r' % (label, props.get('access')))
    direction = _canon(props.get('direction'), _CANON_DIRECTION)
    if direction is None:
        raise NsgInputError('security rule %s: direction must be Inbound or Outbound, got %r' % (label, props.get('direction')))
    protocol = _canon(props.get('protocol'), _CANON_PROTOCOL)
    if protocol is None:
        raise NsgInputError('security rule %s: protocol must be one of %s, got %r'
                            % (label, ', '.join(PROTOCOLS), props.get('protocol')))
    label = _label(name, priority, direction)

    compiled_ports = {}
    canon = {}
    for side in ('source', 'destination'):
        entries, _plural = _pick_list(props, side, 'PortRange', label)
        if not entries:
            raise NsgInputError('security rule %s has no %s port range: set %sPortRange (e.g. "*" or "10250") or %sPortRanges'
                                % (label, side, side, side))
        compiled_ports[side] = [_with_rule(label, _parse_port_range, e) for e in entries]
        canon[side + '_port_ranges'] = [_canon_port(e) for e in entries]

    compiled_addresses = {}
    for side in ('source', 'destination'):
        entries, _plural = _pick_list(props, side, 'AddressPrefix', label)
        asgs = _asg_ids(_lookup(props, side + 'ApplicationSecurityGroups', side + '_application_security_groups'),
                        side, label)
        if entries and asgs:
            raise NsgInputError('security rule %s sets both %s address prefixes and %s application security groups; '
                                'Azure allows only one of them per side' % (label, side, side))
        if not entries and not asgs:
            raise NsgInputError('security rule %s has no %s: set %sAddressPrefix (CIDR, IP, "*" or a service tag), '
                                '%sAddressPrefixes or %sApplicationSecurityGroups' % (label, side, side, side, side))
        compiled_addresses[side] = [_with_rule(label, _classify_prefix, e) for e in entries] + [('asg', a) for a in asgs]
        canon[side + '_address_prefixes'] = [_canon_prefix(e) for e in entries]
        canon[side + '_application_security_groups'] = asgs

    description = props.get('description')
    normalized = {
        'name': name,
        'id': rule_id,
        'priority': priority,
        'access': access,
        'direction': direction,
        'protocol': protocol,
        'source_port_ranges': canon['source_port_ranges'],
        'destination_port_ranges': canon['destination_port_ranges'],
        'source_address_prefixes': canon['source_address_prefixes'],
        'destination_address_prefixes': canon['destination_address_prefixes'],
        'source_application_security_groups': canon['source_application_security_groups'],
        'destination_application_security_groups': canon['destination_application_security_groups'],
        'description': description,
        'is_default': bool(name in DEFAULT_RULE_NAMES and priority >= 65000),
    }
    compiled = _CompiledRule(normalized, compiled_ports, compiled_addresses)
    return normalized, compiled


def _with_rule(label, parse, value):
    """Run a parser; name the rule in the error (evaluation input) while keeping the ARM code."""
    try:
        return parse(value)
    except NsgValidationError as exc:
        raise NsgValidationError(exc.code, 'security rule %s: %s' % (label, exc.message)) from None


def _int_or_none(value):
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and re.match(r'^\s*\d+\s*$', value):
        return int(value)
    return None


def _canon(value, table):
    if not isinstance(value, str):
        return None
    return table.get(value.strip().lower())


class _CompiledRule:
    """A normalized rule plus parsed ports and address matchers (internal)."""

    __slots__ = ('rule', 'ports', 'addresses')

    def __init__(self, rule, ports, addresses):
        self.rule = rule
        self.ports = ports
        self.addresses = addresses


# --------------------------------------------------------------------------- NSG input

class CompiledNsg:
    """Rules of one NSG, normalized once, defaults added; reuse it to evaluate many flows quickly."""

    def __init__(self, rules_or_nsg, label=None):
        rules, nsg_label, nsg_id = _split_nsg(rules_or_nsg)
        self.label = label if label is not None else nsg_label
        effective = isinstance(rules_or_nsg, dict) and 'effectiveSecurityRules' in rules_or_nsg
        compiled = [_normalize(r, i)[1] for i, r in enumerate(rules)]
        present = set((c.rule['name'] or '').lower() for c in compiled)
        for i, default in enumerate(() if effective else default_rules(nsg_id)):  # an effective list holds them already
            if default['name'].lower() not in present:
                compiled.append(_normalize(default, len(rules) + i)[1])
        seen = {}
        for c in compiled:
            key = (c.rule['direction'], c.rule['priority'])
            if key in seen:
                other = seen[key].rule
                raise NsgInputError(
                    'security rules %s and %s both have priority %d and direction %s; Azure rejects this '
                    '(SecurityRuleConflict), give one of them another priority'
                    % (_label(other['name'], other['priority'], other['direction']),
                       _label(c.rule['name'], c.rule['priority'], c.rule['direction']), key[1], key[0]))
            seen[key] = c
        self.compiled = sorted(compiled, key=lambda c: c.rule['priority'])

    @property
    def rules(self):
        """Normalized rules (defaults included), lowest priority number first (copies: safe to change)."""
        return [copy.deepcopy(c.rule) for c in self.compiled]


_COMPILE_CACHE = {}
_COMPILE_CACHE_MAX = 64


def compile_nsg(rules_or_nsg, label=None):
    """Return a CompiledNsg (accepted wherever rules or an NSG are); raises NsgInputError on bad input.

    Results are memoized by content, so evaluating thousands of flows against the same
    NSG dict (e.g. one per node) parses its rules once.
    """
    if isinstance(rules_or_nsg, CompiledNsg):
        return rules_or_nsg
    try:
        key = (json.dumps(rules_or_nsg, sort_keys=True), label)
    except (TypeError, ValueError):
        return CompiledNsg(rules_or_nsg, label)
    compiled = _COMPILE_CACHE.get(key)
    if compiled is None:
        compiled = CompiledNsg(rules_or_nsg, label)
        if len(_COMPILE_CACHE) >= _COMPILE_CACHE_MAX:
            _COMPILE_CACHE.clear()
        _COMPILE_CACHE[key] = compiled
    return compiled


def _split_nsg(rules_or_nsg):
    """Return (rules, label, nsg_id) from a rule list or an NSG object in ARM or SDK shape."""
    if isinstance(rules_or_nsg, (list, tuple)):
        return list(rules_or_nsg), None, None
    if isinstance(rules_or_nsg, dict) and isinstance(rules_or_nsg.get('effectiveSecurityRules'), list):
        # One entry of `az network nic list-effective-nsg` (REST effectiveNetworkSecurityGroups) or the
        # securityRuleAssociations of a Network Watcher security group view: the rules Azure really evaluates.
        ref = rules_or_nsg.get('networkSecurityGroup') or {}
        nsg_id = ref.get('id') if isinstance(ref, dict) and isinstance(ref.get('id'), str) else None
        return [_from_effective(r) for r in rules_or_nsg['effectiveSecurityRules']], nsg_id or 'effective rules', nsg_id
    if isinstance(rules_or_nsg, dict) and isinstance(rules_or_nsg.get('value'), list):
        raise NsgInputError('got a list response ({"value": [...]}, e.g. `az network nsg list` or `nic list-effective-nsg`); '
                            'pass one of its entries')
    if isinstance(rules_or_nsg, dict):
        nsg = rules_or_nsg
        props = nsg.get('properties')
        rules = None
        if isinstance(props, dict) and ('securityRules' in props or 'defaultSecurityRules' in props
                                        or str(nsg.get('type', '')).lower().endswith('/networksecuritygroups')):
            rules = list(props.get('securityRules') or []) + list(props.get('defaultSecurityRules') or [])
        elif 'security_rules' in nsg or 'default_security_rules' in nsg or 'securityRules' in nsg:
            rules = (list(nsg.get('security_rules') or nsg.get('securityRules') or [])
                     + list(nsg.get('default_security_rules') or nsg.get('defaultSecurityRules') or []))
        elif str(nsg.get('type', '')).lower().endswith('/networksecuritygroups'):
            rules = []
        if rules is not None:
            nsg_id = nsg.get('id') if isinstance(nsg.get('id'), str) else None
            return rules, nsg_id or nsg.get('name'), nsg_id
        inner = nsg.get('properties') if isinstance(nsg.get('properties'), dict) else nsg
        if 'priority' in inner and 'direction' in inner:
            raise NsgInputError('got a single security rule (%s); pass a list of rules, e.g. [rule], or the whole NSG'
                                % (nsg.get('name') or 'unnamed'))
        raise NsgInputError('expected a list of security rules or an NSG object (with properties.securityRules or '
                            'security_rules); got a mapping with keys %s' % ', '.join(sorted(str(k) for k in nsg)))
    raise NsgInputError('expected a list of security rules or an NSG object, got %s' % type(rules_or_nsg).__name__)


def _from_effective(rule):
    """An effective security rule (flat, ``protocol: All``, ``0-65535``, ``securityRules/<name>``, service tags
    expanded into ``expanded*AddressPrefix``) in ARM rule shape; the expanded prefixes are what Azure matched."""
    if not isinstance(rule, dict):
        raise NsgInputError('effective security rule must be a mapping, got %s' % type(rule).__name__)
    props = dict((key[:1].lower() + key[1:], value) for key, value in rule.items())  # PowerShell prints PascalCase
    name = props.pop('name', None)
    if isinstance(name, str) and '/' in name:
        name = name.split('/', 1)[1]  # securityRules/x, defaultSecurityRules/AllowVnetInBound
    if isinstance(props.get('protocol'), str) and props['protocol'].strip().lower() == 'all':
        props['protocol'] = '*'
    for side in ('source', 'destination'):
        expanded = props.pop('expanded%sAddressPrefix' % side.capitalize(), None)
        if expanded:
            props[side + 'AddressPrefixes'] = list(expanded)
            props.pop(side + 'AddressPrefix', None)
        elif props.get(side + 'AddressPrefixes'):
            props.pop(side + 'AddressPrefix', None)
        if props.get(side + 'PortRanges'):
            props.pop(side + 'PortRange', None)
        for kind in ('PortRange', 'AddressPrefix'):
            if isinstance(props.get(side + kind), list):  # PowerShell: "SourcePortRange": ["0-65535"]
                props[side + kind + 'es' if kind == 'AddressPrefix' else side + kind + 's'] = props.pop(side + kind)
    return {'name': name, 'properties': props}


# --------------------------------------------------------------------------- flow

def _parse_ip(value, what):
    if isinstance(value, (ipaddress.IPv4Address, ipaddress.IPv6Address)):
        return value
    if not isinstance(value, str):
        raise NsgInputError('%s must be an IP address string such as "10.240.0.4", got %r' % (what, value))
    try:
        return ipaddress.ip_address(value.strip())
    except ValueError:
        raise NsgInputError('%s must be a single IP address such as "10.240.0.4" (no prefix length), got %r'
                            % (what, value)) from None


def _parse_port(value, what, required):
    if value is None:
        if required:
            raise NsgInputError('%s is required for Tcp/Udp flows (an integer 0-65535)' % what)
        return None
    port = _int_or_none(value)
    if port is None or not 0 <= port <= 65535:
        raise NsgInputError('%s must be an integer 0-65535, got %r' % (what, value))
    return port


def _parse_networks(values, what):
    if values is None:
        return []
    if isinstance(values, str):
        values = [values]
    if not isinstance(values, (list, tuple, set, frozenset)):
        raise NsgInputError('%s must be a list of CIDR prefixes, got %r' % (what, values))
    networks = []
    for value in values:
        try:
            networks.append(ipaddress.ip_network(str(value).strip(), strict=False))
        except ValueError:
            raise NsgInputError('%s: %r is not a CIDR prefix or IP address (e.g. "10.240.0.0/16")' % (what, value)) from None
    return networks


def _parse_asg_members(asg_members):
    if asg_members is None:
        return {}
    if not isinstance(asg_members, dict):
        raise NsgInputError('asg_members must be a mapping {asg_id: [ip, ...]}, got %s' % type(asg_members).__name__)
    members = {}
    for key, ips in asg_members.items():
        if not isinstance(key, str):
            raise NsgInputError('asg_members keys must be ASG resource ids (strings), got %r' % (key,))
        members[key.strip().lower()] = _parse_networks(ips, 'asg_members[%r]' % key)
    return members


class _Flow:
    __slots__ = ('direction', 'protocol', 'source', 'destination', 'destination_port', 'source_port',
                 'vnet', 'asg_members')

    def __init__(self, direction, protocol, source_ip, destination_ip, destination_port, source_port,
                 vnet_prefixes, asg_members):
        self.direction = _canon(direction, _CANON_DIRECTION)
        if self.direction is None:
            raise NsgInputError('direction must be Inbound or Outbound, got %r' % (direction,))
        self.protocol = _canon(protocol, _CANON_PROTOCOL)
        if self.protocol not in FLOW_PROTOCOLS:
            raise NsgInputError('flow protocol must be one of %s (a real packet has one protocol), got %r'
                                % (', '.join(FLOW_PROTOCOLS), protocol))
        self.source = _parse_ip(source_ip, 'source_ip')
        self.destination = _parse_ip(destination_ip, 'destination_ip')
        if self.source.version != self.destination.version:
            raise NsgInputError('source_ip %s and destination_ip %s are of different IP versions' % (self.source, self.destination))
        portless = self.protocol in PORTLESS_PROTOCOLS
        if portless and (destination_port is not None or source_port is not None):
            raise NsgInputError('%s flows have no ports; leave destination_port and source_port unset' % self.protocol)
        self.destination_port = _parse_port(destination_port, 'destination_port', not portless)
        self.source_port = _parse_port(source_port, 'source_port', False)
        self.vnet = _parse_networks(vnet_prefixes, 'vnet_prefixes')
        self.asg_members = _parse_asg_members(asg_members)

    def describe(self):
        if self.destination_port is None:
            return '%s %s -> %s' % (self.protocol, self.source, self.destination)
        return '%s %s -> %s:%d' % (self.protocol, self.source, self.destination, self.destination_port)


# --------------------------------------------------------------------------- matching (three-valued)

def _in_any(ip, networks):
    return any(ip.version == n.version and ip in n for n in networks)


def _match_address(ip, matcher, flow, side):
    """Return (True|False|None, reason) for one address entry."""
    kind, value = matcher
    if kind == 'any':
        return True, None
    if kind == 'net':
        return (ip.version == value.version and ip in value), None
    if kind == 'vnet':
        if ip.version == 4 and ip in _PLATFORM_NETWORK:
            return True, None
        if not flow.vnet:
            return None, '%s service tag VirtualNetwork needs vnet_prefixes (the VNet address spaces)' % side
        return _in_any(ip, flow.vnet), None
    if kind == 'internet':
        if (ip.version == 4 and ip in _PLATFORM_NETWORK) or _in_any(ip, _NON_PUBLIC_NETWORKS):
            return False, None
        if not flow.vnet:
            return None, ('%s service tag Internet: %s is public, but without vnet_prefixes it cannot be told apart '
                          'from the VirtualNetwork' % (side, ip))
        return not _in_any(ip, flow.vnet), None
    if kind == 'tag':
        return None, '%s service tag %s cannot be resolved offline' % (side, value)
    if kind == 'unparsed':
        return None, '%s address prefix %r is neither a CIDR, an IP address nor a service tag' % (side, value)
    # kind == 'asg'
    members = flow.asg_members.get(value)
    if members is None:
        return None, '%s application security group %s: membership not given (asg_members)' % (side, value)
    return _in_any(ip, members), None


def _match_side(ip, matchers, flow, side):
    """Kleene OR over the entries of one side."""
    reasons = []
    for matcher in matchers:
        result, reason = _match_address(ip, matcher, flow, side)
        if result is True:
            return True, None
        if result is None:
            reasons.append(reason)
    if reasons:
        return None, '; '.join(reasons)
    return False, None


def _match_ports(ranges, port, flow, side):
    full = any(low == 0 and high == 65535 for low, high in ranges)
    if full:
        return True, None
    if flow.protocol in PORTLESS_PROTOCOLS:
        return False, None
    if port is None:
        return None, ('source port range %s is specific but flows use an ephemeral source port; give source_port to decide'
                      % ','.join('%d-%d' % r if r[0] != r[1] else str(r[0]) for r in ranges))
    return any(low <= port <= high for low, high in ranges), None


def _match_rule(compiled, flow):
    """Kleene AND of protocol, ports and addresses; return (True|False|None, reason)."""
    rule = compiled.rule
    if rule['protocol'] != '*' and rule['protocol'] != flow.protocol:
        return False, None
    checks = (
        lambda: _match_ports(compiled.ports['destination'], flow.destination_port, flow, 'destination'),
        lambda: _match_side(flow.source, compiled.addresses['source'], flow, 'source'),
        lambda: _match_side(flow.destination, compiled.addresses['destination'], flow, 'destination'),
        lambda: _match_ports(compiled.ports['source'], flow.source_port, flow, 'source'),
    )
    reasons = []
    for check in checks:
        result, reason = check()
        if result is False:
            return False, None
        if result is None:
            reasons.append(reason)
    if reasons:
        return None, '; '.join(reasons)
    return True, None


def _rule_text(rule):
    kind = 'default rule' if rule['is_default'] else 'rule'
    name = "'%s'" % rule['name'] if rule['name'] else '(unnamed)'
    return '%s %s (priority %d, %s)' % (kind, name, rule['priority'], rule['access'])


# --------------------------------------------------------------------------- evaluation

def evaluate_nsg(rules_or_nsg, *, direction, protocol, source_ip, destination_ip, destination_port=None,
                 source_port=None, vnet_prefixes=None, asg_members=None, nsg_label=None):
    """Evaluate one flow against one NSG.

    ``rules_or_nsg``: a list of rules (ARM or SDK shape), an NSG object (ARM or SDK shape) or a CompiledNsg.
    ``asg_members``: ``{asg_id: [ip or CIDR, ...]}`` (ids compared lowercased).
    Returns ``{access: Allow|Deny|Unknown, rule: name|None, priority: int|None, reason: str,
    nsg: id-or-name|None, direction: str, undecided: [{rule, priority, access, reason}]}``.
    ``rule``/``priority`` name the deciding rule, or for Unknown the first rule that could not be decided.
    """
    flow = _Flow(direction, protocol, source_ip, destination_ip, destination_port, source_port,
                 vnet_prefixes, asg_members)
    nsg = compile_nsg(rules_or_nsg)
    return _evaluate_compiled(nsg, flow, nsg_label if nsg_label is not None else nsg.label)


def _evaluate_compiled(nsg, flow, label):
    undecided = []
    where = " in NSG '%s'" % label if label else ''
    for compiled in nsg.compiled:
        rule = compiled.rule
        if rule['direction'] != flow.direction:
            continue
        result, reason = _match_rule(compiled, flow)
        if result is False:
            continue
        if result is None:
            undecided.append({'rule': rule['name'], 'priority': rule['priority'], 'access': rule['access'],
                              'reason': reason})
            continue
        outcomes = set(u['access'] for u in undecided) | set([rule['access']])
        if len(outcomes) == 1:
            text = '%s%s matches %s %s' % (_rule_text(rule), where, flow.direction.lower(), flow.describe())
            if undecided:
                text += ('; earlier rules %s could not be decided but have the same access, so the flow is %s either way'
                         % (', '.join("'%s' (%s)" % (u['rule'], u['reason']) for u in undecided),
                            'allowed' if rule['access'] == ALLOW else 'denied'))
            return _verdict(rule['access'], rule['name'], rule['priority'], text, label, flow.direction, undecided)
        first = undecided[0]
        text = ("cannot decide %s %s%s: rule '%s' (priority %d, %s) may match (%s); otherwise %s decides"
                % (flow.direction.lower(), flow.describe(), where, first['rule'], first['priority'], first['access'],
                   first['reason'], _rule_text(rule)))
        return _verdict(UNKNOWN, first['rule'], first['priority'], text, label, flow.direction, undecided)
    # Only reachable when default rules were replaced (same name) by narrower rules.
    if undecided:
        first = undecided[0]
        text = ("cannot decide %s %s%s: rule '%s' may match (%s) and no later rule surely matches"
                % (flow.direction.lower(), flow.describe(), where, first['rule'], first['reason']))
        return _verdict(UNKNOWN, first['rule'], first['priority'], text, label, flow.direction, undecided)
    text = 'no rule%s matches %s %s' % (where, flow.direction.lower(), flow.describe())
    return _verdict(DENY, None, None, text, label, flow.direction, [])


def _verdict(access, rule, priority, reason, nsg, direction, undecided):
    return {'access': access, 'rule': rule, 'priority': priority, 'reason': reason, 'nsg': nsg,
            'direction': direction, 'undecided': undecided}


def evaluate_path(*, source_nic_nsg=None, source_subnet_nsg=None, destination_subnet_nsg=None,
                  destination_nic_nsg=None, protocol, source_ip, destination_ip, destination_port=None,
                  source_port=None, vnet_prefixes=None, asg_members=None):
    """Evaluate a flow through every NSG on its path (None = no NSG there, which allows).

    Order: source NIC (Outbound), source subnet (Outbound), destination subnet (Inbound),
    destination NIC (Inbound). For egress to the Internet/API server leave the destination NSGs None.
    Returns the verdict of the deciding NSG (first Deny; else first Unknown; else the last NSG
    present) with ``position`` and ``steps`` (one verdict per position, each with ``position``
    and ``present``). Unknown only when no NSG denies.
    """
    given = {
        'source_nic': source_nic_nsg,
        'source_subnet': source_subnet_nsg,
        'destination_subnet': destination_subnet_nsg,
        'destination_nic': destination_nic_nsg,
    }
    flows = {}
    steps = []
    for position, direction, title in PATH_POSITIONS:
        if direction not in flows:
            flows[direction] = _Flow(direction, protocol, source_ip, destination_ip, destination_port, source_port,
                                     vnet_prefixes, asg_members)
        nsg = given[position]
        if nsg is None:
            step = _verdict(ALLOW, None, None, 'no NSG attached to the %s' % title, None, direction, [])
            step.update(position=position, present=False)
        else:
            try:
                compiled = compile_nsg(nsg)
            except NsgInputError as exc:
                raise NsgInputError('%s NSG: %s' % (title, exc)) from None
            step = _evaluate_compiled(compiled, flows[direction], compiled.label)
            step.update(position=position, present=True)
        steps.append(step)

    present = [s for s in steps if s['present']]
    titles = dict((p, t) for p, _d, t in PATH_POSITIONS)
    denied = [s for s in steps if s['access'] == DENY]
    unknown = [s for s in steps if s['access'] == UNKNOWN]
    if denied:
        decider = denied[0]
        reason = 'denied by the %s NSG: %s' % (titles[decider['position']], decider['reason'])
        if unknown:
            reason += '; also undecided: %s' % ', '.join('%s NSG' % titles[s['position']] for s in unknown)
    elif unknown:
        decider = unknown[0]
        reason = 'undecided at the %s NSG: %s' % (titles[decider['position']], decider['reason'])
    elif present:
        decider = present[-1]
        reason = 'allowed by every NSG on the path: %s' % '; '.join(
            '%s NSG %s rule %s' % (titles[s['position']], "'%s'" % s['nsg'] if s['nsg'] else '(unnamed)',
                                   "'%s'" % s['rule']) for s in present)
    else:
        decider = steps[-1]
        reason = 'no NSG on the path; nothing filters the flow'
    return {
        'access': decider['access'],
        'rule': decider['rule'],
        'priority': decider['priority'],
        'nsg': decider['nsg'],
        'direction': decider['direction'],
        'position': decider['position'] if decider['present'] else None,
        'reason': reason,
        'steps': steps,
    }


# --------------------------------------------------------------------------- repair helpers

def find_allow_priority(rules_or_nsg, blocking_priority, direction):
    """Return the highest free priority below ``blocking_priority`` (within 100-4096) for ``direction``.

    An Allow rule placed there is evaluated right before the blocking rule. Priorities of
    the other direction do not collide (Azure: unique per direction). Raises NsgPriorityError
    when no number is free, NsgInputError on bad input.
    """
    canon_direction = _canon(direction, _CANON_DIRECTION)
    if canon_direction is None:
        raise NsgInputError('direction must be Inbound or Outbound, got %r' % (direction,))
    blocking = _int_or_none(blocking_priority)
    if blocking is None:
        raise NsgInputError('blocking_priority must be an integer (the priority of the rule to override), got %r'
                            % (blocking_priority,))
    taken = set(r['priority'] for r in compile_nsg(rules_or_nsg).rules if r['direction'] == canon_direction)
    start = min(blocking - 1, USER_PRIORITY_MAX)
    for priority in range(start, USER_PRIORITY_MIN - 1, -1):
        if priority not in taken:
            return priority
    if blocking <= USER_PRIORITY_MIN:
        raise NsgPriorityError(
            'no priority is lower than %d (user rules use %d-%d), so no rule can be placed before the blocking %s '
            'rule; change or remove the blocking rule instead'
            % (blocking, USER_PRIORITY_MIN, USER_PRIORITY_MAX, canon_direction))
    raise NsgPriorityError(
        'every %s priority from %d to %d is taken, so no Allow rule can be placed before the blocking rule at %d; '
        'free one of these priorities or move the blocking rule'
        % (canon_direction, USER_PRIORITY_MIN, start, blocking))


def build_allow_rule(name, port, protocol, source_prefix, destination_prefix, priority, direction, description=None):
    """Return a minimal Allow securityRule in ARM REST shape, validated like ARM would (NsgValidationError)."""
    properties = {
        'protocol': _canon(protocol, _CANON_PROTOCOL) or protocol,
        'sourcePortRange': '*',
        'access': ALLOW,
        'priority': priority,
        'direction': _canon(direction, _CANON_DIRECTION) or direction,
    }
    if isinstance(port, (list, tuple)):
        properties['destinationPortRanges'] = [_canon_port(p) if isinstance(p, (int, str)) else p for p in port]
    else:
        properties['destinationPortRange'] = _canon_port(port) if isinstance(port, (int, str)) else port
    for side, value in (('source', source_prefix), ('destination', destination_prefix)):
        if isinstance(value, (list, tuple)):
            properties[side + 'AddressPrefixes'] = list(value)
        else:
            properties[side + 'AddressPrefix'] = value
    if description is not None:
        properties['description'] = description
    rule = {'name': name, 'properties': properties}
    validate_rule(rule)
    return rule


# --------------------------------------------------------------------------- allow planning (nsg_port_rule)

# Rules this collection creates carry this marker in their description; a same-name rule without it is
# someone else's and is never changed or deleted. Rules written before the marker existed carry the old
# fixed description, which counts as the marker too.
MANAGED_MARKER = '[aks.tunnel]'
LEGACY_MANAGED_DESCRIPTION = 'Allows the AKS control-plane tunnel (managed by aks.tunnel)'


class NsgPlanError(NsgError):
    """The Allow rule cannot be planned safely (the reason says why and what to do)."""


def is_managed_rule(rule):
    """True when a security rule (ARM or SDK shape) carries the aks.tunnel marker in its description."""
    props = rule.get('properties') if isinstance(rule.get('properties'), dict) else rule
    description = props.get('description') or ''
    return MANAGED_MARKER in description or description.strip() == LEGACY_MANAGED_DESCRIPTION


def with_marker(description):
    """The description with the marker (appended when missing); NsgInputError when it gets longer than ARM allows."""
    text = (description or '').strip()
    if MANAGED_MARKER not in text and text != LEGACY_MANAGED_DESCRIPTION:
        text = ('%s %s' % (text, MANAGED_MARKER)).strip()
    if len(text) > _DESCRIPTION_MAX:
        raise NsgInputError('the description with the marker %s is %d characters long; Azure allows %d, so shorten it'
                            % (MANAGED_MARKER, len(text), _DESCRIPTION_MAX))
    return text


def _matchers_may_overlap(left, right, vnet):
    """Could one address entry and another share an address? True unless provably disjoint."""
    kinds = (left[0], right[0])
    if 'any' in kinds:
        return True
    if kinds == ('net', 'net'):
        return left[1].version == right[1].version and left[1].overlaps(right[1])
    if 'net' in kinds:
        net = left[1] if left[0] == 'net' else right[1]
        other = right if left[0] == 'net' else left
        if other[0] == 'vnet' and vnet:
            return any(net.version == v.version and net.overlaps(v) for v in list(vnet) + [_PLATFORM_NETWORK])
        if other[0] == 'internet':
            # private or link-local space is never Internet; anything else may be
            return not any(net.version == n.version and net.subnet_of(n) for n in _NON_PUBLIC_NETWORKS)
    return True


def _sides_may_overlap(left, right, vnet):
    return any(_matchers_may_overlap(a, b, vnet) for a in left for b in right)


def _ports_overlap(left, right):
    return any(a_low <= b_high and b_low <= a_high for a_low, a_high in left for b_low, b_high in right)


def rules_may_overlap(first, second, vnet_prefixes=None):
    """True unless the two rules (ARM/SDK shape or compiled) provably never match the same packet.

    Service tags other than VirtualNetwork (with ``vnet_prefixes``) and Internet, and application security
    groups, may overlap anything: the answer errs towards True.
    """
    a = first if isinstance(first, _CompiledRule) else _normalize(first)[1]
    b = second if isinstance(second, _CompiledRule) else _normalize(second)[1]
    if a.rule['direction'] != b.rule['direction']:
        return False
    if '*' not in (a.rule['protocol'], b.rule['protocol']) and a.rule['protocol'] != b.rule['protocol']:
        return False
    vnet = _parse_networks(vnet_prefixes, 'vnet_prefixes')
    for side in ('source', 'destination'):
        if not _ports_overlap(a.ports[side], b.ports[side]):
            return False
        if not _sides_may_overlap(a.addresses[side], b.addresses[side], vnet):
            return False
    return True


def _without(rules, name):
    return [r for r in rules if ((r.get('name') or '') if isinstance(r, dict) else '').lower() != (name or '').lower()]


def deciding_denies(rules, direction, protocol, port, flows, vnet_prefixes=None):
    """Evaluate each flow ``(source_ip, destination_ip)`` on one NSG; return the Deny rules that decide them.

    Returns ``{denies: [{name, priority, default, flows}], allowed: n, denied: n, unknown: [reason, ...]}``,
    denies lowest priority first (``flows`` = how many flows each one decides).
    """
    nsg = compile_nsg(list(rules))
    flow_protocol = 'Tcp' if protocol == '*' else protocol
    denies = {}
    result = {'denies': [], 'allowed': 0, 'denied': 0, 'unknown': []}
    for source_ip, destination_ip in flows:
        verdict = evaluate_nsg(nsg, direction=direction, protocol=flow_protocol, source_ip=source_ip, destination_ip=destination_ip,
                               destination_port=port, vnet_prefixes=vnet_prefixes)
        if verdict['access'] == ALLOW:
            result['allowed'] += 1
        elif verdict['access'] == DENY:
            result['denied'] += 1
            key = (verdict['rule'], verdict['priority'])
            entry = denies.setdefault(key, {'name': verdict['rule'], 'priority': verdict['priority'],
                                            'default': verdict['rule'] in DEFAULT_RULE_NAMES, 'flows': 0})
            entry['flows'] += 1
        elif verdict['reason'] not in result['unknown']:
            result['unknown'].append(verdict['reason'])
    result['denies'] = sorted(denies.values(), key=lambda d: d['priority'] if d['priority'] is not None else 1 << 30)
    return result


def allow_priority_window(rules, scope_rule, limit, vnet_prefixes=None, keep=None):
    """The priority for an Allow rule ``scope_rule`` that must win over the rule at ``limit`` and over nothing else it could hit.

    Walks down from ``limit - 1`` over free numbers; it may pass Allow rules (same access: nothing changes) and Deny
    rules that provably never match the Allow's packets, but stops at a Deny that could: placing the Allow above it would
    weaken that Deny. ``keep`` (the current priority of the rule) is returned when it is still such a place.
    Returns the priority or raises NsgPlanError with the reason.
    """
    scope = _normalize(scope_rule)[1]
    direction = scope.rule['direction']
    others = [c for c in compile_nsg(list(rules)).compiled if c.rule['direction'] == direction]
    taken = dict((c.rule['priority'], c) for c in others)

    def guard_between(low, high):
        """The first rule strictly between low and high that the Allow must not pass (None when none)."""
        for c in others:
            if low < c.rule['priority'] < high and c.rule['access'] == DENY and rules_may_overlap(scope, c, vnet_prefixes):
                return c
        return None

    limit_text = 'priority %d' % limit
    owner = taken.get(limit)
    if owner is not None:
        limit_text = "'%s' (priority %d)" % (owner.rule['name'], limit)
    if keep is not None and keep < limit and keep not in taken and USER_PRIORITY_MIN <= keep <= USER_PRIORITY_MAX \
            and guard_between(keep, limit) is None:
        return keep
    if limit <= USER_PRIORITY_MIN:
        raise NsgPlanError('the Deny %s has the lowest priority a rule can have (%d), so no Allow can be placed before it; '
                           'narrow or remove that Deny instead' % (limit_text, USER_PRIORITY_MIN))
    start = min(limit - 1, USER_PRIORITY_MAX)
    for priority in range(start, USER_PRIORITY_MIN - 1, -1):
        if priority in taken:
            c = taken[priority]
            if c.rule['access'] == DENY and rules_may_overlap(scope, c, vnet_prefixes):
                raise NsgPlanError(
                    "every priority between the Deny '%s' (priority %d) and the Deny %s is taken (up to %d), and an Allow above "
                    "'%s' would also win over it for these addresses; free a number between them (or move %s)"
                    % (c.rule['name'], priority, limit_text, start, c.rule['name'], limit_text))
            continue
        return priority
    raise NsgPlanError('every %s priority from %d to %d is taken, so no Allow can be placed before %s; free one of them'
                       % (direction, USER_PRIORITY_MIN, start, limit_text))


def _one_or_list(values):
    values = list(values)
    return values[0] if len(values) == 1 else values


def plan_allow_rule(rules, name, *, sources, destinations, port_ranges, protocol='Tcp', direction='Inbound', description=None,
                    flows=None, vnet_prefixes=None, priority=None):
    """Plan the one Allow rule ``name`` on one NSG so that it opens exactly what is asked and weakens no other Deny.

    ``rules``: the NSG's user security rules (ARM or SDK shape, the current rule ``name`` included if present);
    ``sources``/``destinations``: the Allow's address prefixes (the node subnets or node IPs of the flows);
    ``port_ranges``: destination ports (``['10250']``); ``flows``: ``[(source_ip, destination_ip), ...]`` the diagnosis found
    denied - the Allow is placed just above the Deny that decides them in this NSG. Without ``flows`` it is placed above
    the first Deny of the direction that could match its packets. ``priority`` forces a number (it must be free and must
    not pass a Deny the rule could weaken).

    Returns ``{current, desired, target, denies, evaluated, warnings}`` (``desired`` None when the flows are already
    allowed and no rule of that name exists). Raises NsgPlanError (unsafe or impossible, with the reason) or NsgInputError.
    """
    rules = list(rules or [])
    current = next((r for r in rules if (r.get('name') or '').lower() == name.lower()), None)
    if current is not None and not is_managed_rule(current):
        raise NsgPlanError("a rule named '%s' already exists and was not created by aks.tunnel (its description has no %s "
                           "marker); it is left as it is - choose another rule name, or add the marker to its description "
                           "if aks.tunnel may manage it" % (name, MANAGED_MARKER))
    others = _without(rules, name)
    canon_direction = _canon(direction, _CANON_DIRECTION) or direction
    ports = [str(p) for p in port_ranges]
    probe = build_allow_rule(name, _one_or_list(ports), protocol, _one_or_list(sources), _one_or_list(destinations),
                             USER_PRIORITY_MAX, canon_direction, with_marker(description))
    compiled_probe = _normalize(probe)[1]
    warnings = []
    denies = []
    evaluated = None
    if flows:
        first_port = _parse_port_range(ports[0])[0]
        evaluated = deciding_denies(others, canon_direction, probe['properties']['protocol'], first_port, flows, vnet_prefixes)
        if evaluated['unknown']:
            raise NsgPlanError('the NSG verdict for %d of the flows cannot be decided offline (%s); nothing was planned'
                               % (len(evaluated['unknown']), evaluated['unknown'][0]))
        denies = evaluated['denies']
        target = denies[0] if denies else None
        if target is None and current is None:
            return {'current': None, 'desired': None, 'target': None, 'denies': [], 'evaluated': evaluated,
                    'warnings': ['every flow is already allowed by this NSG; no rule is needed']}
    else:
        target = None
        for c in compile_nsg(others).compiled:
            if c.rule['direction'] == canon_direction and c.rule['access'] == DENY and rules_may_overlap(compiled_probe, c, vnet_prefixes):
                target = {'name': c.rule['name'], 'priority': c.rule['priority'], 'default': c.rule['is_default'], 'flows': None}
                break
        denies = [target] if target else []
    limit = target['priority'] if target else USER_PRIORITY_MAX + 1
    current_priority = _int_or_none(((current or {}).get('properties') or current or {}).get('priority'))
    if priority is not None:
        taken = [c.rule for c in compile_nsg(others).compiled if c.rule['direction'] == canon_direction and c.rule['priority'] == priority]
        if taken:
            raise NsgPlanError("priority %d is already used by the %s rule '%s' in this NSG; choose a free one or leave priority unset"
                               % (priority, canon_direction, taken[0]['name']))
        if priority >= limit:
            warnings.append("priority %d does not win over the Deny '%s' (priority %d), so the rule does not open the flows"
                            % (priority, target['name'], limit))
        else:
            chosen = allow_priority_window(others, probe, limit, vnet_prefixes, keep=priority)
            if chosen != priority:
                raise NsgPlanError("an Allow at priority %d would pass a Deny between %d and '%s' (priority %d) that could match "
                                   "its packets, and weaken it; use priority %d or leave priority unset"
                                   % (priority, priority, target['name'], limit, chosen))
    else:
        priority = allow_priority_window(others, probe, limit, vnet_prefixes, keep=current_priority)
    desired = copy.deepcopy(probe)
    desired['properties']['priority'] = priority
    validate_rule(desired)
    if flows and limit > priority:
        after = deciding_denies(others + [desired], canon_direction, desired['properties']['protocol'],
                                _parse_port_range(ports[0])[0], flows, vnet_prefixes)
        if after['denied'] or after['unknown']:
            raise NsgPlanError('the planned rule at priority %d would not open every flow (%d still denied); nothing was changed'
                               % (priority, after['denied'] + len(after['unknown'])))
    return {'current': current, 'desired': desired, 'target': target, 'denies': denies, 'evaluated': evaluated,
            'warnings': warnings}


def _rule_canon(rule):
    norm = normalize_rule(rule)
    return {
        'priority': norm['priority'], 'access': norm['access'], 'direction': norm['direction'], 'protocol': norm['protocol'],
        'sourcePortRanges': sorted(norm['source_port_ranges']), 'destinationPortRanges': sorted(norm['destination_port_ranges']),
        'sourceAddressPrefixes': sorted(norm['source_address_prefixes']),
        'destinationAddressPrefixes': sorted(norm['destination_address_prefixes']),
        'sourceApplicationSecurityGroups': sorted(norm['source_application_security_groups']),
        'destinationApplicationSecurityGroups': sorted(norm['destination_application_security_groups']),
        'description': norm['description'] or None,
    }


def allow_rule_differences(current, desired):
    """Which properties (ARM names, singular and plural forms folded) differ between two rules."""
    left, right = _rule_canon(current), _rule_canon(desired)
    return [key for key in left if left[key] != right[key]]


def undo_arguments(nsg_id, name, previous):
    """nsg_port_rule arguments that restore ``previous`` (None: remove the rule); NsgPlanError when the module cannot express it."""
    if previous is None:
        return {'nsg': nsg_id, 'rule_name': name, 'state': 'absent'}
    norm = normalize_rule(previous)
    reasons = []
    if norm['access'] != ALLOW:
        reasons.append('its access is %s' % norm['access'])
    if norm['protocol'] not in ('Tcp', 'Udp', '*'):
        reasons.append('its protocol is %s' % norm['protocol'])
    if norm['source_port_ranges'] != ['*']:
        reasons.append('it limits source ports (%s)' % ','.join(norm['source_port_ranges']))
    if norm['source_application_security_groups'] or norm['destination_application_security_groups']:
        reasons.append('it uses application security groups')
    if reasons:
        raise NsgPlanError("the existing rule '%s' was changed by hand (%s); updating it could not be undone by this module, so it "
                           "is left as it is - remove or rename it first" % (name, '; '.join(reasons)))
    return {'nsg': nsg_id, 'rule_name': name, 'state': 'present', 'priority': norm['priority'], 'protocol': norm['protocol'],
            'direction': norm['direction'], 'source_prefixes': norm['source_address_prefixes'],
            'destination_prefixes': norm['destination_address_prefixes'], 'port_ranges': norm['destination_port_ranges'],
            'description': norm['description']}


# --------------------------------------------------------------------------- validation (ARM emulator, repair)

def validate_rule(rule):
    """Validate a user security rule the way ARM does; return its normalized form.

    Raises NsgValidationError with the ARM code: InvalidResourceName (name), SecurityRuleParametersMissing
    (a required property, or neither singular nor plural port/prefix/ASG given), InvalidRequestFormat
    (invalid protocol/access/direction value, non-integer priority, description over 140 characters;
    code unverified), SecurityRuleInvalidPriority (outside 100-4096; code unverified),
    SecurityRuleInvalidPortRange (bad port, or both singular and plural given), SecurityRuleInvalidAddressPrefix
    (bad prefix such as 'any', or more than one of prefix, prefixes and ASGs given),
    SecurityRuleParameterContainsUnsupportedValue (service tag or '*' inside a plural prefix list).
    """
    if not isinstance(rule, dict):
        raise NsgValidationError('InvalidRequestFormat', 'Cannot parse the request: a security rule must be a JSON object.')
    props = rule.get('properties') if isinstance(rule.get('properties'), dict) else rule
    name = rule.get('name')
    if name is not None:
        if not isinstance(name, str) or len(name) > _RULE_NAME_MAX or not _RULE_NAME_RE.match(name):
            raise NsgValidationError(
                'InvalidResourceName',
                "Resource name %s is invalid. The name can be up to 80 characters long. It must begin with a word "
                "character, and it must end with a word character or with '_'. The name may contain word characters "
                "or '.', '-', '_'." % (name,))
    rule_ref = "'%s' " % name if name else ''
    for field, table, allowed in (('protocol', _CANON_PROTOCOL, PROTOCOLS), ('access', _CANON_ACCESS, ACCESSES),
                                  ('direction', _CANON_DIRECTION, DIRECTIONS)):
        value = props.get(field)
        if value is None:
            raise NsgValidationError('SecurityRuleParametersMissing', _missing_message(rule, field.capitalize()))
        if _canon(value, table) is None or (field == 'protocol' and str(value).strip().lower() == 'any'):
            raise NsgValidationError('InvalidRequestFormat', 'Security rule %shas invalid %s %r; allowed values: %s.'
                                     % (rule_ref, field, value, ', '.join(allowed)))
    raw_priority = props.get('priority')
    if raw_priority is None:
        raise NsgValidationError('SecurityRuleParametersMissing', _missing_message(rule, 'Priority'))
    priority = _int_or_none(raw_priority)
    if priority is None:
        raise NsgValidationError('InvalidRequestFormat', 'Security rule %shas a non-integer priority %r.'
                                 % (rule_ref, raw_priority))
    if not USER_PRIORITY_MIN <= priority <= USER_PRIORITY_MAX:
        raise NsgValidationError(
            'SecurityRuleInvalidPriority',
            'Security rule %shas invalid Priority. Value provided: %d. Allowed range %d-%d.'
            % (rule_ref, priority, USER_PRIORITY_MIN, USER_PRIORITY_MAX))
    description = props.get('description')
    if description is not None and (not isinstance(description, str) or len(description) > _DESCRIPTION_MAX):
        raise NsgValidationError('InvalidRequestFormat', 'Security rule %sdescription must be a string of at most %d '
                                 'characters.' % (rule_ref, _DESCRIPTION_MAX))
    for side in ('source', 'destination'):
        _validate_ports(rule, props, side, rule_ref)
    for side in ('source', 'destination'):
        _validate_addresses(rule, props, side, rule_ref)
    return normalize_rule(rule)


def _missing_message(rule, what):
    rule_id = rule.get('id') or rule.get('name') or ''
    return ('Required security rule parameters are missing for security rule with Id: %s. Security rule must specify %s.'
            % (rule_id, what))


def _validate_ports(rule, props, side, rule_ref):
    side_cap = side.capitalize()
    one = _lookup(props, side + 'PortRange', side + '_port_range')
    many = _lookup(props, side + 'PortRanges', side + '_port_ranges')
    if _is_empty(one) and _is_empty(many):
        raise NsgValidationError('SecurityRuleParametersMissing',
                                 _missing_message(rule, '%sPortRanges or %sPortRange' % (side_cap, side_cap)))
    if not _is_empty(one) and not _is_empty(many):
        raise NsgValidationError(
            'SecurityRuleInvalidPortRange',
            'Security rule %smust specify a non-empty value for either %sPortRange or %sPortRanges, but not both.'
            % (rule_ref, side_cap, side_cap))
    if not _is_empty(one):
        _parse_port_range(one)
        return
    if not isinstance(many, (list, tuple)):
        raise NsgValidationError('InvalidRequestFormat', 'Security rule %s%sPortRanges must be a list.' % (rule_ref, side_cap))
    for entry in many:
        _parse_port_range(entry)


def _validate_addresses(rule, props, side, rule_ref):
    side_cap = side.capitalize()
    one = _lookup(props, side + 'AddressPrefix', side + '_address_prefix')
    many = _lookup(props, side + 'AddressPrefixes', side + '_address_prefixes')
    asgs = _lookup(props, side + 'ApplicationSecurityGroups', side + '_application_security_groups')
    given = sum(1 for value in (one, many, asgs) if not _is_empty(value))
    if given == 0:
        raise NsgValidationError('SecurityRuleParametersMissing', _missing_message(
            rule, '%sAddressPrefixes, %sAddressPrefix, or %sApplicationSecurityGroups' % (side_cap, side_cap, side_cap)))
    if given > 1:
        raise NsgValidationError(
            'SecurityRuleInvalidAddressPrefix',
            'Security rule %smust specify exactly one of %sAddressPrefix, %sAddressPrefixes or '
            '%sApplicationSecurityGroups.' % (rule_ref, side_cap, side_cap, side_cap))
    if not _is_empty(one):
        # ARM accepts '*', CIDRs, IPs and service tags here, but not 'any'.
        if not isinstance(one, str) or one.strip().lower() == 'any':
            raise NsgValidationError('SecurityRuleInvalidAddressPrefix', _prefix_message(one))
        _classify_prefix(one)
        return
    if not _is_empty(many):
        if not isinstance(many, (list, tuple)):
            raise NsgValidationError('InvalidRequestFormat', 'Security rule %s%sAddressPrefixes must be a list.'
                                     % (rule_ref, side_cap))
        for entry in many:
            if not isinstance(entry, str) or entry.strip().lower() == 'any':
                raise NsgValidationError('SecurityRuleInvalidAddressPrefix', _prefix_message(entry))
            kind = _classify_prefix(entry)[0]
            if kind != 'net' or entry.strip().lower() == 'azureloadbalancer':
                raise NsgValidationError(
                    'SecurityRuleParameterContainsUnsupportedValue',
                    "Security rule parameter %sAddressPrefix for rule %scannot specify existing VIRTUALNETWORK, "
                    "INTERNET, AZURELOADBALANCER, '*' or system tags. Unsupported value used: %s."
                    % (side_cap, rule_ref, entry.strip()))
        return
    try:
        _asg_ids(asgs, side, rule_ref.strip())
    except NsgInputError as exc:
        raise NsgValidationError('InvalidRequestFormat', str(exc)) from None
