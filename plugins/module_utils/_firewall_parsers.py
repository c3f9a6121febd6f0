# -*- coding: utf-8 -*-
# Copyright (c) 2026 aks.tunnel contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Parsers for node firewall tool output and the "is TCP 10250 blocked, and by what" verdict.

Pure Python (standard library only): used by modules, filters and the lab.

Inputs are the plain outputs of ``ufw status [verbose|numbered]``, ``iptables -S`` (filter table),
``iptables-save [-c]``, ``iptables -L`` (with any of ``-n -v -x --line-numbers``), ``nft list ruleset``
and ``ss -ltn`` as printed on Ubuntu and Azure Linux nodes or pasted by users (fixtures captured
from the real tools live in ``tests/unit/plugins/module_utils/fixtures/firewall``, outputs posted
publicly in ``fixtures/firewall_real``).  Text in none of these forms is refused with
FirewallParseError naming the forms expected.  Note that on Debian 12 and recent
Ubuntu ``iptables`` is iptables-nft: its rules also appear in ``nft list ruleset`` as
``table ip filter``; :func:`decide_10250_block` therefore judges those tables through the
iptables view and only native nft tables through the nft view.

The packet modelled everywhere is a NEW TCP connection (a SYN) from another node to this
node's address on the port (10250 by default), arriving on a non-loopback interface.  Each
rule is judged ``yes`` (matches every such packet), ``no`` (matches none) or ``maybe``
(depends on something we cannot know here: source address, interface name, rate limits,
ipsets, ...).

Decisions (documented because the repair relies on them):

* With a :func:`firewall_context` (what the controller knows: the tunnel sources, the node's
  IP, the interface the packets arrive on, the members of the ipsets), ``-s/-d/-i`` (with
  ``!``), ipsets, ``--src-range/--dst-range`` are resolved, and the walk runs once per tunnel
  source.  A SYN from another node carries no mark and no connmark (``--mark X/Y`` with a
  nonzero ``X`` never matches), is in state NEW and has only the SYN flag.  Target options
  (after ``-j``) are never matches.  Without a context the addresses, interfaces and ipsets stay
  ``maybe``, but a nonzero ``--mark`` never matches (kubelet's ``KUBE-FIREWALL``) and pod-side
  interfaces (``cali+``, ``lxc+``, ``azv+``, ``veth+``, ...) never carry a node's SYN (issue 14).
* An ACCEPT that matches with ``yes`` ends the walk: later DROP/REJECT rules are *not*
  blocking (they are reported in ``shadowed`` instead); so does an ACCEPT after a sure
  DROP (once that DROP is deleted, the ACCEPT decides).  A ``maybe`` ACCEPT (or RETURN)
  does not shadow anything, but a later DROP is then no longer *proven*.
* A DROP/REJECT that matches with ``yes`` or ``maybe`` is a blocking rule; it is *proven*
  (``conditional: False``) only when, for some source, it matches with ``yes`` and nothing
  before it may accept the packet or return; otherwise ``conditional: True`` with the
  ``reasons`` that could not be resolved (the repair never deletes those).  The walk
  continues after a sure DROP so one repair can remove every rule on the path, in order.
* Jumps are followed whatever their condition; the jump's condition is carried into the
  called chain (a REJECT behind ``-s 10.0.0.0/8 -j CHAIN`` is conditional); ``-g`` returns to
  the caller of the current chain; RETURN with ``yes`` leaves the chain.
* The INPUT policy DROP blocks when no ``yes`` ACCEPT was met; it is returned as the spec
  ``-P INPUT DROP`` (it cannot be deleted with ``iptables -D``: the repair adds an ACCEPT).
* Rules are returned as the exact ``iptables -S`` line (``-A CHAIN ...``), so the repair can
  run ``iptables -D CHAIN <rest>`` with the full spec, never a line number.
* Rules in chains named ``ufw-*``/``ufw6-*`` are attributed to UFW, and so is a DROP INPUT
  policy while UFW is active.
"""

from __future__ import annotations

import ipaddress
import re
import shlex

DEFAULT_PORT = 10250

YES = 'yes'
NO = 'no'
MAYBE = 'maybe'

IPTABLES_BUILTIN_TARGETS = frozenset((
    'ACCEPT', 'DROP', 'REJECT', 'RETURN', 'LOG', 'NFLOG', 'ULOG', 'MARK', 'CONNMARK', 'CT',
    'NOTRACK', 'TRACE', 'AUDIT', 'CHECKSUM', 'CLASSIFY', 'DSCP', 'TOS', 'TTL', 'HL', 'TCPMSS',
    'SET', 'QUEUE', 'NFQUEUE', 'TEE', 'SNAT', 'DNAT', 'MASQUERADE', 'REDIRECT', 'SECMARK',
    'CONNSECMARK', 'IDLETIMER', 'LED', 'RATEEST', 'SYNPROXY', 'TPROXY', 'CLUSTERIP', 'NETMAP',
))
BLOCK_TARGETS = frozenset(('DROP', 'REJECT'))
UFW_CHAIN_PREFIXES = ('ufw-', 'ufw6-')
IPTABLES_NFT_TABLES = frozenset(('filter', 'nat', 'mangle', 'raw', 'security'))


class FirewallParseError(ValueError):
    """Raised when a firewall tool output cannot be understood at all."""


# --------------------------------------------------------------------------- helpers

def port_spec_covers(spec, port):
    """Tell whether an iptables/ufw/nft port list covers ``port``.

    Accepts ``10250``, ``10000:11000``, ``10000-11000``, ``22,10250`` and
    ``{ 22, 10240-10260 }``; service names (``ssh``) never match a number.
    """
    text = str(spec).strip().strip('{}').strip()
    for item in re.split(r'[,\s]+', text):
        if not item:
            continue
        bounds = re.split(r'[:-]', item, maxsplit=1)
        try:
            low = int(bounds[0])
            high = int(bounds[1]) if len(bounds) > 1 else low
        except ValueError:
            continue
        if low <= port <= high:
            return True
    return False


def _combine(a, b):
    """AND two match results."""
    if NO in (a, b):
        return NO
    if MAYBE in (a, b):
        return MAYBE
    return YES


def _negate(result, negated):
    if not negated:
        return result
    return {YES: NO, NO: YES, MAYBE: MAYBE}[result]


# --------------------------------------------------------------------------- ufw

# ``ufw status`` pads the To column to 26 characters: a wider To leaves a single space before the action;
# ``ufw status numbered`` prefixes ``[ n] ``; a rule comment follows the From column as ``# text``
_UFW_RULE_RE = re.compile(
    r'^(?:\[\s*\d+\]\s*)?(?P<to>\S.*?)\s+(?P<action>ALLOW|DENY|REJECT|LIMIT)(?:\s+(?P<direction>IN|OUT|FWD))?'
    r'(?:\s+\((?:log|log-all)\))?\s+(?P<from>.+?)\s*$')


def _ufw_to_covers(to_field, port):
    """Judge whether a ufw "To" column covers TCP ``port``: returns yes/no/maybe."""
    text = to_field.replace('(v6)', ' ').strip()
    on_iface = None
    match = re.search(r'\s+on\s+(\S+)$', text)
    if match:
        on_iface = match.group(1)
        text = text[:match.start()].strip()
    result = YES if on_iface is None else (NO if on_iface == 'lo' else MAYBE)
    if text in ('Anywhere', ''):
        return result
    # forms: "10250/tcp", "10250", "22,80/tcp", "10000:11000/tcp", "10.0.0.1 10250/tcp", "OpenSSH"
    parts = text.split()
    portpart = parts[-1]
    if not re.match(r'^[0-9,:]+(/\w+)?$', portpart):
        # an address only, or an application profile name: the ports are unknown here
        return _combine(result, MAYBE)
    if len(parts) > 1:
        # "<address> <port>/tcp": only traffic to that address
        result = _combine(result, MAYBE)
    ports, _sep, proto = portpart.partition('/')
    if proto and proto != 'tcp':
        return NO
    if not port_spec_covers(ports, port):
        return NO
    return result


# targets of ufw's user chain and the ufw action they implement (others - logging - decide nothing)
_UFW_CHAIN_ACTIONS = {'ACCEPT': 'ALLOW', 'ufw-user-limit-accept': 'LIMIT', 'DROP': 'DENY', 'REJECT': 'REJECT',
                      'ufw-user-limit': 'REJECT'}


def _ufw_rule_from_iptables(spec, port):
    """A rule of the ``ufw-user-input`` chain (``iptables -S`` line) as a ufw status rule, or None."""
    match, target, _goto = iptables_rule_match(spec, port)
    action = _UFW_CHAIN_ACTIONS.get(target or '')
    if action is None:
        return None
    tokens = _tokens(spec)

    def value(*names):
        for i, tok in enumerate(tokens[:-1]):
            if tok in names and (i == 0 or tokens[i - 1] != '!'):
                return tokens[i + 1]
        return None
    ports = value('--dport', '--dports', '--destination-port', '--destination-ports')
    proto = value('-p', '--protocol')
    to_field = (ports or 'Anywhere') + ('/%s' % proto if ports and proto else '')
    if value('-i', '--in-interface'):
        to_field += ' on %s' % value('-i', '--in-interface')
    # the rule without its (plain) source: the source is judged per tunnel source
    unsourced = [t for i, t in enumerate(tokens) if not (t in ('-s', '--source') and (i == 0 or tokens[i - 1] != '!'))
                 and not (i > 0 and tokens[i - 1] in ('-s', '--source') and (i < 2 or tokens[i - 2] != '!'))]
    to_match = iptables_rule_match(shlex.join(unsourced), port)[0]
    return {'to': to_field, 'action': action, 'direction': 'IN', 'from': value('-s', '--source') or 'Anywhere',
            'v6': False, 'matches_port': match, 'to_match': to_match, 'line': spec}


def _ufw_from_match(from_field, source):
    """Judge a ufw "From" column against one tunnel source (a network, or None when unknown)."""
    text = from_field.replace('(v6)', ' ').strip()
    if ' on ' in text:
        return MAYBE
    if text == 'Anywhere':
        return YES
    if source is None:
        return MAYBE
    try:
        net = _network(text.split()[0])
    except ValueError:
        return MAYBE
    if net.version != source.version:
        return NO
    if source.subnet_of(net):
        return YES
    return NO if not source.overlaps(net) else MAYBE


def parse_ufw_status(text, port=DEFAULT_PORT, sources=None):
    """Parse ``ufw status verbose`` (or plain ``ufw status``), or the same facts as the probe script reads them.

    The probe script's cheap form (section ``ufw`` with ``src=conf``) has the ``Status:``,
    ``Logging:`` and ``Default:`` lines of ``ufw status verbose`` (taken from ufw's own sources:
    the ``ufw-user-input`` chain being loaded, ``/etc/default/ufw``, ``/etc/ufw/ufw.conf``) and,
    instead of the rule table, the rules of the ``ufw-user-input`` chain as ``iptables -S``
    lines (``-A ufw-user-input ...``): they are judged with :func:`iptables_rule_match`, in
    order, like the table rows (ACCEPT = ALLOW, ``ufw-user-limit-accept`` = LIMIT, DROP = DENY,
    REJECT / ``ufw-user-limit`` = REJECT; logging jumps decide nothing).

    With ``sources`` (the tunnel sources, IPs or CIDRs) each source is judged on its own (first rule
    that surely matches it, else the default): ``allows_port`` when every source is allowed, and
    ``allowed_sources`` / ``blocked_sources`` list them; a rule "from 10.224.0.0/16" then covers the
    sources inside that range.  Without ``sources``, a rule with a source is conditional.

    Returns ``{installed, active, default_incoming, logging, rules: [{to, action, direction,
    from, v6, matches_port}], allows_port, blocks_port, deciding_rule, reason, allowed_sources, blocked_sources}``.
    ``allows_10250``/``blocks_10250`` are aliases for the default port.
    """
    result = {
        'installed': True, 'active': False, 'default_incoming': None, 'logging': None,
        'rules': [], 'allows_port': False, 'blocks_port': False, 'deciding_rule': None,
        'port': port, 'reason': '', 'allowed_sources': [], 'blocked_sources': [],
    }
    stripped = (text or '').strip()
    if not stripped or 'command not found' in stripped or 'No such file' in stripped:
        result['installed'] = False
        result['reason'] = 'ufw is not installed'
        return _ufw_alias(result, port)
    status = re.search(r'^\s*Status:\s*(\w+)', stripped, re.M)
    if not status:
        raise FirewallParseError('ufw output has no "Status:" line; expected the output of `ufw status verbose`')
    result['active'] = status.group(1) in ('active', 'loaded')  # early ufw releases print "Status: loaded"
    default = re.search(r'^Default:\s*(\w+)\s*\(incoming\)', stripped, re.M)
    if default:
        result['default_incoming'] = default.group(1)
    logging = re.search(r'^Logging:\s*(.+)$', stripped, re.M)
    if logging:
        result['logging'] = logging.group(1).strip()
    in_table = False
    for line in stripped.splitlines():
        if line.startswith('-A ufw-user-input '):
            rule = _ufw_rule_from_iptables(line.strip(), port)
            if rule is not None:
                result['rules'].append(rule)
            continue
        if re.match(r'^--\s+-+\s+-+', line.strip()):
            in_table = True
            continue
        if not in_table or not line.strip():
            continue
        match = _UFW_RULE_RE.match(line.rstrip())
        if not match:
            continue
        direction = match.group('direction') or 'IN'
        to_field = match.group('to').strip()
        from_field = re.sub(r'\s+#\s.*$', '', match.group('from')).strip()
        from_field = re.sub(r'\s+\((?:log|log-all)\)$', '', from_field)
        if from_field.endswith('(out)'):
            direction = 'OUT'
            from_field = from_field[:-5].strip()
        v6 = '(v6)' in to_field or '(v6)' in from_field
        matches = to_match = NO
        if direction == 'IN':
            matches = to_match = _ufw_to_covers(to_field, port)
            if matches != NO and not from_field.replace('(v6)', '').strip().startswith('Anywhere'):
                matches = _combine(matches, MAYBE)
            elif matches != NO and ' on ' in from_field:
                matches = _combine(matches, MAYBE)
        result['rules'].append({
            'to': to_field, 'action': match.group('action'), 'direction': direction,
            'from': from_field, 'v6': v6, 'matches_port': matches, 'to_match': to_match, 'line': line.rstrip(),
        })
    if not result['active']:
        result['reason'] = 'ufw is inactive'
        return _ufw_alias(result, port)
    if sources:
        return _ufw_alias(_ufw_per_source(result, [_network(s) for s in sources], port), port)
    # ufw is first-match: the first IPv4 rule that surely matches decides; else the default.
    for rule in result['rules']:
        if rule['v6'] or rule['matches_port'] != YES:
            continue
        result['deciding_rule'] = rule['line'].strip()
        if rule['action'] in ('ALLOW', 'LIMIT'):
            result['allows_port'] = True
            result['reason'] = 'ufw rule "%s" allows %d/tcp' % (result['deciding_rule'], port)
        else:
            result['blocks_port'] = True
            result['reason'] = 'ufw rule "%s" denies %d/tcp' % (result['deciding_rule'], port)
        return _ufw_alias(result, port)
    conditional = [r for r in result['rules'] if not r['v6'] and r['matches_port'] == MAYBE and r['action'] in ('ALLOW', 'LIMIT')]
    if result['default_incoming'] in ('deny', 'reject'):
        result['blocks_port'] = True
        result['reason'] = 'ufw is active with default %s (incoming) and no rule allowing %d/tcp from anywhere' % (
            result['default_incoming'], port)
        if conditional:
            result['reason'] += ' (only conditional allows: %s)' % '; '.join(r['line'].strip() for r in conditional)
    elif result['default_incoming'] is None:
        result['reason'] = 'ufw is active but its default incoming policy is unknown (use `ufw status verbose`)'
    else:
        result['allows_port'] = True
        result['reason'] = 'ufw is active with default %s (incoming)' % result['default_incoming']
    return _ufw_alias(result, port)


def _ufw_per_source(result, sources, port):
    """ufw's first-match decision for each tunnel source (see :func:`parse_ufw_status`)."""
    reasons = []
    for source in sources:
        deciding = None
        for rule in result['rules']:
            if rule['v6'] or rule['direction'] != 'IN':
                continue
            if _combine(rule.get('to_match', rule['matches_port']), _ufw_from_match(rule['from'], source)) == YES:
                deciding = rule
                break
        if deciding is not None:
            allowed = deciding['action'] in ('ALLOW', 'LIMIT')
            reasons.append('%s: rule "%s" %s' % (source, deciding['line'].strip(), 'allows' if allowed else 'denies'))
            result['deciding_rule'] = result['deciding_rule'] or deciding['line'].strip()
        elif result['default_incoming'] in ('deny', 'reject'):
            allowed = False
            reasons.append('%s: default %s (incoming)' % (source, result['default_incoming']))
        else:
            allowed = result['default_incoming'] is not None
            reasons.append('%s: default %s (incoming)' % (source, result['default_incoming'] or 'unknown'))
        (result['allowed_sources'] if allowed else result['blocked_sources']).append(str(source))
    result['allows_port'] = not result['blocked_sources']
    result['blocks_port'] = bool(result['blocked_sources'])
    if result['blocks_port']:
        result['reason'] = 'ufw is active and does not allow %d/tcp from every tunnel source (%s)' % (port, '; '.join(reasons))
    else:
        result['reason'] = 'ufw allows %d/tcp from every tunnel source (%s)' % (port, '; '.join(reasons))
    return result


def _ufw_alias(result, port):
    if port == DEFAULT_PORT:
        result['allows_10250'] = result['allows_port']
        result['blocks_10250'] = result['blocks_port']
    return result


# --------------------------------------------------------------------------- iptables -S

def parse_iptables_s(text):
    """Parse ``iptables -S`` output of one table, or an ``iptables-save`` dump (its ``*filter`` table only).

    Returns ``{policies: {chain: policy}, chains: [names in order], rules: {chain: [spec, ...]}, format}``
    where every spec is the full original line (``-A CHAIN ...``) and ``format`` is ``iptables-S`` or
    ``iptables-save``.  In a dump, ``:CHAIN POLICY [packets:bytes]`` lines give the policies, the
    ``[packets:bytes]`` prefix of ``iptables-save -c`` is dropped, and the other tables (nat, mangle,
    raw, security) are left out: only the filter table can drop a packet on INPUT, and their chain
    names (nat ``KUBE-SERVICES``) must not mix with the filter ones.  A dump without a filter table
    means the kernel's defaults: every filter chain ACCEPTs.  Comment lines (``# Generated by``,
    ``# Warning: iptables-legacy tables present ...``) are ignored.
    """
    policies = {}
    chains = []
    rules = {}
    save_format = False
    table = 'filter'
    for raw in (text or '').splitlines():
        line = re.sub(r'^\[\d+:\d+\]\s+', '', raw.strip())
        if not line or line.startswith('#'):
            continue
        if line.startswith('*'):
            save_format = True
            table = line[1:].strip()
            continue
        if line == 'COMMIT':
            table = None if save_format else table
            continue
        if table != 'filter':
            continue
        if line.startswith(':'):
            save_format = True
            parts = line[1:].split()
            if parts:
                if parts[0] not in chains:
                    chains.append(parts[0])
                rules.setdefault(parts[0], [])
                if len(parts) >= 2 and parts[1] != '-':
                    policies[parts[0]] = parts[1]
        elif line.startswith('-P '):
            parts = line.split()
            if len(parts) >= 3:
                policies[parts[1]] = parts[2]
                if parts[1] not in chains:
                    chains.append(parts[1])
                rules.setdefault(parts[1], [])
        elif line.startswith('-N '):
            parts = line.split()
            if len(parts) >= 2:
                if parts[1] not in chains:
                    chains.append(parts[1])
                rules.setdefault(parts[1], [])
        elif line.startswith('-A '):
            parts = line.split()
            if len(parts) < 2:
                continue
            if parts[1] not in chains:
                chains.append(parts[1])
            rules.setdefault(parts[1], []).append(line)
    if save_format and not policies:
        # no (or an empty) *filter table in the dump: the built-in filter chains accept
        for name in ('INPUT', 'FORWARD', 'OUTPUT'):
            policies[name] = 'ACCEPT'
            if name not in chains:
                chains.append(name)
            rules.setdefault(name, [])
    return {'policies': policies, 'chains': chains, 'rules': rules, 'format': 'iptables-save' if save_format else 'iptables-S'}


def _tokens(spec):
    try:
        return shlex.split(spec)
    except ValueError:
        return spec.split()


# --------------------------------------------------------------------------- what the controller knows

_SYN_FLAGS = frozenset(('SYN',))
_ALL_TCP_FLAGS = frozenset(('FIN', 'SYN', 'RST', 'PSH', 'ACK', 'URG', 'ECE', 'CWR'))
_IPSET_ADDRESS_TYPES = frozenset(('hash:ip', 'hash:net', 'bitmap:ip'))


def _network(value):
    return ipaddress.ip_network(str(value).strip(), strict=False)


def firewall_context(sources=None, node_ip=None, iface=None, ipsets=None):
    """What the controller knows about the packets to judge: a SYN to the kubelet from each tunnel source.

    ``sources``: tunnel source IPs or CIDRs (the tunnel nodes' IPs or the node subnet); ``node_ip``: this
    node's address (the destination); ``iface``: the interface those packets arrive on; ``ipsets``:
    ``{name: {type, members: [str], nomatch: bool, complete: bool}}`` as listed on the node
    (:func:`parse_ipset_save`).  Unknown facts stay None and make the rules that need them ``maybe``.
    Raises FirewallParseError for a value that is not an address.
    """
    try:
        nets = [_network(s) for s in (sources or ())]
        node = ipaddress.ip_address(str(node_ip).strip()) if node_ip else None
    except ValueError as exc:
        raise FirewallParseError('not an IP address or CIDR: %s' % exc) from None
    if iface is not None and not re.match(r'^[A-Za-z0-9_.:@-]{1,15}$', str(iface)):
        iface = None
    return {'sources': nets, 'node_ip': node, 'iface': iface or None, 'ipsets': ipsets}


def parse_ipset_save(text):
    """``ipset save <name>`` output -> ``{name: {type, members, nomatch, complete}}`` (complete: its listing was not cut)."""
    sets = {}
    for raw in (text or '').splitlines():
        parts = raw.split()
        if len(parts) >= 3 and parts[0] == 'create':
            sets[parts[1]] = {'type': parts[2], 'members': [], 'nomatch': False, 'complete': True}
        elif len(parts) >= 3 and parts[0] == 'add' and parts[1] in sets:
            sets[parts[1]]['members'].append(parts[2])
            if 'nomatch' in parts[3:]:
                sets[parts[1]]['nomatch'] = True
        elif len(parts) >= 2 and parts[0] == 'cut' and parts[1] in sets:
            sets[parts[1]]['complete'] = False
    return sets


def _address_match(arg, known, what):
    """``-s``/``-d`` CIDR against the known address/network of the packet: (result, reason)."""
    if arg.startswith('127.') or arg in ('::1', '::1/128'):
        return NO, None
    if arg in ('0.0.0.0/0', '::/0'):
        return YES, None
    if known is None:
        return MAYBE, '%s %s: the %s is not known' % ('-s' if what == 'source' else '-d', arg, what)
    try:
        net = _network(arg)
    except ValueError:
        return MAYBE, 'address %r not understood' % arg
    if isinstance(known, (ipaddress.IPv4Address, ipaddress.IPv6Address)):
        return (YES if known in net else NO), None
    if known.version != net.version:
        return NO, None
    if known.subnet_of(net):
        return YES, None
    if not known.overlaps(net):
        return NO, None
    return MAYBE, '%s %s covers only part of the tunnel source %s' % ('-s' if what == 'source' else '-d', arg, known)


# interfaces on the pod side of the node (Calico, Cilium, Azure CNI, bridge CNIs, docker): a SYN from
# another node to the node's address arrives on the primary interface, never on one of these
_POD_SIDE_IFACE_PREFIXES = ('cali', 'lxc', 'azv', 'veth', 'docker', 'cni', 'cbr', 'kube-bridge')


def _iface_match(arg, iface):
    if arg == 'lo':
        return NO, None
    if arg == '+':
        return YES, None
    if iface is None and arg.rstrip('+').startswith(_POD_SIDE_IFACE_PREFIXES):
        return NO, None
    if iface is None:
        return MAYBE, '-i %s: the interface the packets arrive on is not known' % arg
    if arg.endswith('+'):
        return (YES if iface.startswith(arg[:-1]) else NO), None
    return (YES if iface == arg else NO), None


def _mark_match(arg):
    """``--mark value[/mask]`` (mark and connmark): a SYN to the kubelet from another node carries mark 0."""
    value, _sep, mask = arg.partition('/')
    try:
        value, mask = int(value, 0), int(mask, 0) if mask else 0xffffffff
    except ValueError:
        return MAYBE, '--mark %s not understood' % arg
    return (YES if value & mask == 0 else NO), None


def _tcp_flags_match(mask, comp):
    def flags(text):
        if text == 'ALL':
            return _ALL_TCP_FLAGS
        if text == 'NONE':
            return frozenset()
        return frozenset(text.split(','))
    return (YES if _SYN_FLAGS & flags(mask) == flags(comp) else NO), None


def _set_match(name, flags, ctx, source):
    """``-m set --match-set <name> <flags>`` resolved with the set's members as listed on the node."""
    ipsets = (ctx or {}).get('ipsets')
    info = ipsets.get(name) if ipsets else None
    if info is None:
        return MAYBE, 'ipset %s could not be listed on the node' % name
    if not info.get('complete', True):
        return MAYBE, 'the listing of ipset %s was cut (too many members)' % name
    if info.get('type') not in _IPSET_ADDRESS_TYPES or ',' in flags or info.get('nomatch'):
        return MAYBE, 'ipset %s (%s, %s) is not a plain address set' % (name, info.get('type'), flags)
    known = source if flags == 'src' else (ctx or {}).get('node_ip')
    if known is None:
        return MAYBE, 'ipset %s: the %s address is not known' % (name, flags)
    try:
        members = [_network(m) for m in info['members']]
    except ValueError:
        return MAYBE, 'ipset %s has members that are not addresses' % name
    if isinstance(known, (ipaddress.IPv4Address, ipaddress.IPv6Address)):
        known = _network(known)
    if any(known.version == m.version and known.subnet_of(m) for m in members):
        return YES, None
    if not any(known.version == m.version and known.overlaps(m) for m in members):
        return NO, None
    return MAYBE, 'ipset %s holds part of the tunnel source %s' % (name, known)


def _range_match(arg, known, what):
    low, _sep, high = arg.partition('-')
    try:
        low, high = ipaddress.ip_address(low), ipaddress.ip_address(high or low)
    except ValueError:
        return MAYBE, 'range %s not understood' % arg
    if known is None:
        return MAYBE, 'range %s: the %s is not known' % (arg, what)
    if isinstance(known, (ipaddress.IPv4Address, ipaddress.IPv6Address)):
        return (YES if low <= known <= high else NO), None
    first, last = known.network_address, known.broadcast_address
    if low <= first and last <= high:
        return YES, None
    if last < low or first > high:
        return NO, None
    return MAYBE, 'range %s covers only part of the tunnel source %s' % (arg, known)


# options that take no argument
_FLAG_OPTIONS = frozenset(('--syn', '-f', '--fragment', '--log-uid', '--log-tcp-options', '--log-ip-options', '--log-tcp-sequence',
                           '--rcheck', '--update', '--set', '--remove', '--rsource', '--rdest', '--reap', '--rttl',
                           '--limit-iface-in', '--limit-iface-out', '--return-nomatch', '--update-counters', '--update-subcounters'))


def _rule_match(spec, port=DEFAULT_PORT, ctx=None, source=None):
    """Judge one ``-A`` rule against a SYN to ``port`` from ``source``: ``(match, target, goto, reasons)``.

    ``reasons`` say why a ``maybe`` could not be resolved.  Target options (after ``-j``) are not matches.
    """
    tokens = _tokens(spec)
    ctx = ctx or {}
    node_ip = ctx.get('node_ip')
    result = YES
    target = None
    goto = False
    negate = False
    reasons = []
    i = 2  # skip "-A CHAIN"
    while i < len(tokens):
        tok = tokens[i]
        arg = tokens[i + 1] if i + 1 < len(tokens) else ''
        if tok == '!':
            negate = True
            i += 1
            continue
        if tok in ('-j', '--jump', '-g', '--goto'):
            target = arg
            goto = tok in ('-g', '--goto')
            break  # the rest are the target's options
        step = 2
        part, why = YES, None
        if tok in ('-m', '--match', '--comment', '-o', '--out-interface'):
            # modules are judged by their options; -o cannot occur on the INPUT path
            i += step
            negate = False
            continue
        if tok in ('-p', '--protocol'):
            part = YES if arg.lower() in ('tcp', '6', 'all', '0') else NO
        elif tok in ('--dport', '--destination-port', '--dports', '--destination-ports'):
            part = YES if port_spec_covers(arg, port) else NO
        elif tok in ('--sport', '--source-port', '--sports', '--source-ports'):
            part, why = MAYBE, '%s %s: the source port is random' % (tok, arg)
        elif tok == '--ports':
            # multiport --ports matches source OR destination port
            part, why = (YES, None) if port_spec_covers(arg, port) else (MAYBE, '--ports %s: the source port is random' % arg)
        elif tok in ('-i', '--in-interface'):
            part, why = _iface_match(arg, ctx.get('iface'))
        elif tok in ('-s', '--source'):
            part, why = _address_match(arg, source, 'source')
        elif tok in ('-d', '--destination'):
            part, why = _address_match(arg, node_ip, "node's address")
        elif tok == '--src-range':
            part, why = _range_match(arg, source, 'source')
        elif tok == '--dst-range':
            part, why = _range_match(arg, node_ip, "node's address")
        elif tok in ('--ctstate', '--state'):
            part = YES if 'NEW' in arg.upper().split(',') else NO
        elif tok == '--mark':
            part, why = _mark_match(arg)
        elif tok == '--match-set':
            flags = tokens[i + 2] if i + 2 < len(tokens) else ''
            part, why = _set_match(arg, flags, ctx, source)
            step = 3
        elif tok == '--tcp-flags':
            part, why = _tcp_flags_match(arg, tokens[i + 2] if i + 2 < len(tokens) else '')
            step = 3
        elif tok == '--dst-type':
            part = YES if arg.upper() == 'LOCAL' else NO
        elif tok == '--src-type':
            part, why = (NO, None) if arg.upper() == 'LOCAL' else (MAYBE, '--src-type %s not resolved' % arg)
        elif tok == _UNRESOLVED_OPTION:
            part, why = MAYBE, arg
        elif tok == '--syn':
            part, step = YES, 1
        elif tok in ('-f', '--fragment'):
            part, step = NO, 1  # a SYN is never a non-first fragment
        elif tok.startswith('-'):
            # any other match option (limit, recent, hashlimit, string, ...): not resolved
            part, why = MAYBE, 'match option %s is not resolved' % tok
            if tok in _FLAG_OPTIONS:
                step = 1
        else:
            step, part = 1, YES
        part = _negate(part, negate)
        if part == MAYBE and why:
            reasons.append(('! ' if negate else '') + why)
        result = _combine(result, part)
        negate = False
        i += step
    return result, target, goto, reasons


def iptables_rule_match(spec, port=DEFAULT_PORT, context=None, source=None):
    """Judge one ``-A`` rule against a NEW TCP packet to ``port`` (from ``source``, with :func:`firewall_context`).

    Returns ``(match, target, goto)`` with match yes/no/maybe, target the jump target or None.
    """
    match, target, goto, _reasons = _rule_match(spec, port, context, _network(source) if source else None)
    return match, target, goto


def analyze_iptables(text, port=DEFAULT_PORT, chain='INPUT', context=None):
    """Walk the filter table from ``chain`` for a SYN to ``port``, once per tunnel source of ``context``.

    Returns ``{blocked: yes|maybe|no, blocking: [{spec, chain, position, target, conditional, reasons, sources, ufw}],
    accepted_by: spec|None, shadowed: [spec], policy: str|None, policy_blocks: bool, reachable_chains: [...]}``.
    A rule is *proven* (``conditional: False``) when, for at least one source, it surely matches and is surely
    reached: no earlier rule may accept the packet or return from the chain.  Otherwise its ``reasons`` say
    what could not be resolved.  ``position`` is the rule's 1-based index in its chain.
    """
    parsed = parse_iptables_any(text)
    user_chains = set(c for c in parsed['chains'] if c not in parsed['policies'])
    sources = (context or {}).get('sources') or [None]
    reachable = []
    hits = {}
    order = []
    shadowed = []
    accepted_all = []
    policy_blocks = False

    def note(key, entry):
        if key not in hits:
            hits[key] = entry
            order.append(key)
        return hits[key]

    for source in sources:
        state = {'accepted_by': None, 'dropped': False, 'stopped': False, 'uncertain': []}

        def walk(name, stack, cond, cond_reasons, local, state=state, source=source):  # pylint: disable=dangerous-default-value
            if name not in reachable:
                reachable.append(name)
            local = list(local)
            for position, spec in enumerate(parsed['rules'].get(name, []), 1):
                match, target, goto, reasons = _rule_match(spec, port, context, source)
                match = _combine(match, cond)
                if match == NO:
                    continue
                reasons = (cond_reasons + reasons) if match == MAYBE else []
                if state['accepted_by'] or state['stopped']:
                    if target in BLOCK_TARGETS and spec not in shadowed:
                        shadowed.append(spec)
                    continue
                if target == 'ACCEPT':
                    if match == YES and state['dropped']:
                        # once the earlier blocking rules are gone this ACCEPT decides: later rules do not block
                        state['stopped'] = True
                    elif match == YES:
                        state['accepted_by'] = spec
                    else:
                        state['uncertain'].append('an earlier rule may accept the packet: %s (%s)' % (spec, '; '.join(reasons)))
                elif target in BLOCK_TARGETS:
                    entry = note((name, position), {'spec': spec, 'chain': name, 'position': position, 'target': target,
                                                    'ufw': name.startswith(UFW_CHAIN_PREFIXES), 'sources': [], 'reasons': []})
                    doubt = reasons + state['uncertain'] + local
                    if match == YES and not state['uncertain'] and not local:
                        if source is not None:
                            entry['sources'].append(str(source))
                        entry['proven'] = True
                    else:
                        entry['reasons'].extend(r for r in doubt if r not in entry['reasons'])
                    if match == YES:
                        state['dropped'] = True
                elif target == 'RETURN':
                    if match == YES:
                        return
                    local.append('an earlier rule may return from %s: %s (%s)' % (name, spec, '; '.join(reasons)))
                elif target in user_chains and target not in stack:
                    walk(target, stack + [target], match, reasons, local)
                    if goto and match == YES:
                        return
                elif target and target not in user_chains and target not in IPTABLES_BUILTIN_TARGETS and target not in stack:
                    # a chain the listing does not show (`iptables -S INPUT`, a cut paste): it may accept the packet
                    state['uncertain'].append('an earlier rule jumps to chain %s, which is not in the listing: %s' % (target, spec))
            return

        walk(chain, [chain], YES, [], [])
        accepted_all.append(state['accepted_by'])
        if parsed['policies'].get(chain) in ('DROP', 'REJECT') and not state['accepted_by'] and not state['dropped'] \
                and not state['stopped']:
            policy_blocks = True

    blocking = []
    for key in order:
        entry = hits[key]
        proven = entry.pop('proven', False)
        entry['conditional'] = not proven
        if proven:
            entry['reasons'] = []
        blocking.append(entry)
    policy = parsed['policies'].get(chain)
    accepted_by = accepted_all[0] if all(accepted_all) else None
    if any(not b['conditional'] for b in blocking) or policy_blocks:
        blocked = YES
    elif blocking:
        blocked = MAYBE
    else:
        blocked = NO
    return {
        'blocked': blocked, 'blocking': blocking, 'accepted_by': accepted_by,
        'shadowed': [s for s in shadowed if not any(b['spec'] == s for b in blocking)], 'policy': policy, 'policy_blocks': policy_blocks,
        'reachable_chains': reachable, 'port': port,
    }


def iptables_blocking_rules(text, port=DEFAULT_PORT, include_ufw=True):
    """Full ``-A CHAIN ...`` specs that drop/reject TCP ``port`` on the INPUT path (in walk order).

    Suitable for ``iptables -D``: strip the leading ``-A`` and pass the rest as arguments.
    A blocking ``-P INPUT DROP`` policy is not included (see :func:`analyze_iptables`).
    """
    analysis = analyze_iptables(text, port=port)
    return [b['spec'] for b in analysis['blocking'] if include_ufw or not b['ufw']]


def iptables_delete_args(spec):
    """Turn ``-A CHAIN <match...>`` into the argv for ``iptables -D CHAIN <match...>``."""
    tokens = _tokens(spec)
    if len(tokens) < 2 or tokens[0] != '-A':
        raise FirewallParseError('not an "-A CHAIN ..." rule spec: %r; pass a line from `iptables -S`' % spec)
    return ['-D'] + tokens[1:]


# --------------------------------------------------------------------------- iptables -L

_CHAIN_HEADER_RE = re.compile(r'^Chain (\S+) \((?:policy (\S+)(?: .*)?|(\d+) references)\)')


def parse_iptables_list_line_numbers(text):
    """Parse ``iptables --list --line-numbers [-n]``.

    Returns ``{chain: {policy, references, rules: [{num, target, prot, opt, source,
    destination, extra}]}}``.  Informational only: ``-L`` hides interfaces (``-i lo``) and
    match details, so verdicts use ``iptables -S``.
    """
    chains = {}
    current = None
    for raw in (text or '').splitlines():
        line = raw.rstrip()
        if not line.strip():
            continue
        header = _CHAIN_HEADER_RE.match(line)
        if header:
            current = {
                'policy': header.group(2), 'references': int(header.group(3)) if header.group(3) else None, 'rules': [],
            }
            chains[header.group(1)] = current
            continue
        if current is None or line.startswith('num '):
            continue
        parts = line.split(None, 5)
        if len(parts) < 5 or not parts[0].isdigit():
            continue
        # "num target prot opt source destination extra"; target may be empty (no -j)
        if len(parts) >= 6 and (parts[3] in ('--', '-f', '!f') or parts[3].startswith('-')):
            num, target, prot, opt, rest = parts[0], parts[1], parts[2], parts[3], parts[4] + ' ' + parts[5]
        else:
            num, target = parts[0], ''
            rest_parts = line.split(None, 4)
            prot, opt, rest = rest_parts[1], rest_parts[2], ' '.join(rest_parts[3:])
        rest_split = rest.split(None, 2)
        source = rest_split[0] if rest_split else ''
        destination = rest_split[1] if len(rest_split) > 1 else ''
        extra = rest_split[2].strip() if len(rest_split) > 2 else ''
        current['rules'].append({
            'num': int(num), 'target': target, 'prot': prot, 'opt': opt,
            'source': source, 'destination': destination, 'extra': extra,
        })
    return chains


# the pseudo match option that carries what a listing could not say (never a real iptables option)
_UNRESOLVED_OPTION = '--aks-unresolved'
_LIST_OPT_TOKENS = ('--', '-f', '!f', '-4', '-6', '!-f')
_TCP_FLAG_BITS = (('FIN', 0x01), ('SYN', 0x02), ('RST', 0x04), ('PSH', 0x08), ('ACK', 0x10), ('URG', 0x20),
                  ('ECE', 0x40), ('CWR', 0x80))


def _list_flags(value):
    """``0x17/0x02`` (as ``iptables -L`` prints ``--tcp-flags``) -> ``('FIN,SYN,RST,ACK', 'SYN')``."""
    def names(number):
        return ','.join(name for name, bit in _TCP_FLAG_BITS if number & bit) or 'NONE'
    mask, _sep, comp = value.partition('/')
    return names(int(mask, 16)), names(int(comp or '0', 16))


def _list_address(value, option):
    negated = value.startswith('!')
    value = value.lstrip('!')
    if value in ('anywhere', '0.0.0.0/0', '::/0'):
        return [] if not negated else [option, '0.0.0.0/0']
    if value.split('/')[0] in ('localhost', 'localhost.localdomain', 'ip6-localhost'):
        value = '127.0.0.0/8'
    try:
        _network(value)
    except ValueError:
        return [_UNRESOLVED_OPTION, '%s %s is a name (`iptables -L` without -n): not resolved' % (option, value)]
    return (['!'] if negated else []) + [option, value]


def _list_extra_tokens(extra, target):
    """The match text of an ``iptables -L`` row as ``iptables -S`` options; what is not understood stays unresolved."""
    text = re.sub(r'/\*.*?\*/', ' ', extra)
    # target options (after the matches): they decide nothing for the match
    text = re.sub(r'\breject-with\s+\S+', ' ', text)
    text = re.sub(r'\b(?:LOG|NFLOG)\b.*$', ' ', text) if target in ('LOG', 'NFLOG') else text
    text = re.sub(r'\b(?:MARK|CONNMARK)\s+(?:xset|set|or|and|xor|save|restore)\b.*$', ' ', text)
    text = re.sub(r'\b(?:to|to-destination|to-source|redir ports)[: ]\S+', ' ', text)
    out = []
    patterns = (
        (r'(?:tcp|udp|sctp)\s+', lambda m: []),
        (r'(!\s*)?dpts?:(\S+)', lambda m: (['!'] if m.group(1) else []) + ['--dport', m.group(2)]),
        (r'(!\s*)?spts?:(\S+)', lambda m: (['!'] if m.group(1) else []) + ['--sport', m.group(2)]),
        (r'multiport\s+(!\s*)?dports\s+(\S+)', lambda m: (['!'] if m.group(1) else []) + ['--dports', m.group(2)]),
        (r'multiport\s+(!\s*)?sports\s+(\S+)', lambda m: (['!'] if m.group(1) else []) + ['--sports', m.group(2)]),
        (r'multiport\s+(!\s*)?ports\s+(\S+)', lambda m: (['!'] if m.group(1) else []) + ['--ports', m.group(2)]),
        (r'(?:ctstate|state)\s+(!\s*)?([A-Z,]+)', lambda m: (['!'] if m.group(1) else []) + ['--ctstate', m.group(2)]),
        (r'(?:connmark|mark)\s+match\s+(!\s*)?(\S+)', lambda m: (['!'] if m.group(1) else []) + ['--mark', m.group(2)]),
        (r'(!\s*)?match-set\s+(\S+)\s+(\S+)', lambda m: (['!'] if m.group(1) else []) + ['--match-set', m.group(2), m.group(3)]),
        (r'ADDRTYPE\s+match\s+(!\s*)?dst-type\s+(\S+)', lambda m: (['!'] if m.group(1) else []) + ['--dst-type', m.group(2)]),
        (r'ADDRTYPE\s+match\s+(!\s*)?src-type\s+(\S+)', lambda m: (['!'] if m.group(1) else []) + ['--src-type', m.group(2)]),
        (r'(!\s*)?flags:\s*(0x[0-9A-Fa-f]+/0x[0-9A-Fa-f]+)', lambda m: (['!'] if m.group(1) else []) + ['--tcp-flags'] + list(_list_flags(m.group(2)))),
        (r'PKTTYPE\s*=\s*(\S+)', lambda m: [] if m.group(1) in ('unicast', 'host') else ['-f']),
        (r'icmp(?:v6)?\s*(?:type|echo-request|echo-reply|any|\S+)?(?:\s+\d+)?', lambda m: []),
    )
    pos = 0
    text = text.strip()
    negate = []
    while pos < len(text):
        if text[pos].isspace():
            pos += 1
            continue
        if text[pos] == '!':
            # "! ctstate RELATED,ESTABLISHED": the negation printed before the match name
            negate, pos = ['!'], pos + 1
            continue
        for pattern, build in patterns:
            match = re.compile(pattern).match(text, pos)
            if match and match.end() > pos:
                built = build(match)
                out.extend((negate + built) if built and built[0] != '!' else built)
                negate = []
                pos = match.end()
                break
        else:
            rest = text[pos:].strip()
            out.extend([_UNRESOLVED_OPTION, 'listing text %r not understood' % rest])
            break
    return out


def iptables_list_to_specs(text):
    """Turn ``iptables -L`` output (``-n``, ``-v``, ``-x``, ``--line-numbers`` in any mix) into ``iptables -S`` rules.

    Returns the :func:`parse_iptables_s` structure with ``format: iptables-L``.  The listing hides
    facts ``-S`` shows: without ``-v`` the interfaces (``-i lo -j ACCEPT`` prints like an accept-all),
    without ``-n`` addresses may be names; such rules carry an unresolved condition (they are at most
    ``maybe``), and so does any match text that is not understood.  Raises FirewallParseError when no
    ``Chain NAME (...)`` header is found.
    """
    policies = {}
    chains = []
    rules = {}
    current = None
    columns = None
    for raw in (text or '').splitlines():
        line = raw.rstrip()
        if not line.strip() or line.lstrip().startswith('#'):
            continue
        header = _CHAIN_HEADER_RE.match(line.strip())
        if header:
            current = header.group(1)
            chains.append(current)
            rules.setdefault(current, [])
            if header.group(2):
                policies[current] = header.group(2)
            columns = None
            continue
        words = line.split()
        if current is None:
            continue
        if 'target' in words and 'prot' in words and 'source' in words:
            columns = words
            continue
        if columns is None:
            continue
        tokens = line.split()
        has_num = columns[0] == 'num'
        verbose = 'pkts' in columns
        k = 0
        if has_num:
            k += 1
        if verbose:
            k += 2
        if len(tokens) < k + 4:
            continue
        glued = re.match(r'^([A-Za-z0-9!]+)(--|-f)$', tokens[k + 1])
        if glued:
            # a long protocol name runs into the opt column: "ipencap--"
            tokens[k + 1:k + 2] = [glued.group(1), glued.group(2)]
        if tokens[k + 1] in _LIST_OPT_TOKENS:
            target = ''  # no -j: the prot column comes first
            prot, opt = tokens[k], tokens[k + 1]
            k += 2
        else:
            target, prot, opt = tokens[k], tokens[k + 1], tokens[k + 2]
            k += 3
        spec = ['-A', current]
        if verbose:
            if len(tokens) < k + 4:
                continue
            in_iface, k = tokens[k], k + 2  # the out column: never set on INPUT
            if in_iface not in ('any', '*'):
                spec += (['!', '-i', in_iface[1:]] if in_iface.startswith('!') else ['-i', in_iface])
        else:
            spec += [_UNRESOLVED_OPTION, '`iptables -L` without -v does not show the interface']
        if len(tokens) < k + 2:
            continue
        source, destination = tokens[k], tokens[k + 1]
        extra = ' '.join(tokens[k + 2:])
        if prot not in ('all', '0'):
            spec += (['!', '-p', prot[1:]] if prot.startswith('!') else ['-p', prot])
        if opt in ('-f', '!f', '!-f'):
            spec += (['!', '-f'] if opt.startswith('!') else ['-f'])
        spec += _list_address(source, '-s') + _list_address(destination, '-d')
        spec += _list_extra_tokens(extra, target)
        if target:
            spec += ['-j', target]
        rules[current].append(shlex.join(spec))
    if not chains:
        raise FirewallParseError('no "Chain NAME (policy ...)" header found; expected the output of `iptables -L`'
                                 ' (with or without -n, -v, --line-numbers)')
    return {'policies': policies, 'chains': chains, 'rules': rules, 'format': 'iptables-L'}


def parse_iptables_any(text):
    """Parse ``iptables -S``, ``iptables-save`` or ``iptables -L`` (any options), telling them apart.

    A kernel console timestamp before every line (``[ 14.414142] : ``, a listing read from the serial console) is dropped.
    """
    text = re.sub(r'(?m)^\[\s*\d+\.\d+\]\s*:?[ \t]*', '', text or '')
    if re.search(r'^\s*Chain \S+ \(', text or '', re.M):
        return iptables_list_to_specs(text)
    parsed = parse_iptables_s(text)
    if not parsed['policies'] and not parsed['rules']:
        raise FirewallParseError('no iptables rules found; expected the output of `iptables -S` (filter table),'
                                 ' `iptables-save` or `iptables -L [-n] [-v] [--line-numbers]`')
    return parsed


def list_rule_mentions_port(rule, port=DEFAULT_PORT):
    """True when a parsed ``-L`` rule's match text names ``port`` (dpt:, dpts:, multiport dports)."""
    prot_ok = rule['prot'] in ('tcp', '6', 'all', '0')
    found = re.findall(r'(?:dpt|dpts):(\S+)|multiport dports (\S+)', rule['extra'])
    return prot_ok and any(port_spec_covers(a or b, port) for a, b in found)


# --------------------------------------------------------------------------- ss -ltn

def parse_ss_ltn(text):
    """Parse ``ss -ltn``: returns ``{listeners: [{address, port}], ports: sorted set}``."""
    listeners = []
    for raw in (text or '').splitlines():
        parts = raw.split()
        if len(parts) < 5 or parts[0] != 'LISTEN':
            continue
        local = parts[3]
        address, _sep, port = local.rpartition(':')
        if not port.isdigit():
            continue
        listeners.append({'address': address.strip('[]'), 'port': int(port)})
    return {'listeners': listeners, 'ports': sorted(set(item['port'] for item in listeners))}


def ss_listening(text, port=DEFAULT_PORT):
    """Return ``yes`` (listening on a non-loopback or wildcard address), ``loopback_only`` or ``no``."""
    addrs = [item['address'] for item in parse_ss_ltn(text)['listeners'] if item['port'] == port]
    if not addrs:
        return 'no'
    if all(a.startswith('127.') or a == '::1' for a in addrs):
        return 'loopback_only'
    return 'yes'


# --------------------------------------------------------------------------- nft

_NFT_COMMENT_RE = re.compile(r'(^|\s)comment\s+"[^"]*"')  # nft strings hold no '"'
_NFT_HANDLE_RE = re.compile(r'\s+#\s*handle\s+(\d+)\s*$')  # `nft -a list ruleset`: the handle a rule is deleted by
_NFT_IPTABLES_WARNING_RE = re.compile(r'^#\s*Warning:\s*table\s+(\S+)\s+(\S+)\s+is managed by iptables-nft')


def parse_nft_ruleset(text):
    """Minimal ``nft list ruleset`` parser.

    Returns ``{tables: [{family, name, iptables_nft, chains: {name: {hook, type, priority,
    policy, rules: [text], handles: [int or None]}}}]}``.  Sets, maps and flowtables are skipped.
    With ``nft -a`` (``# handle N`` after each rule) ``handles`` holds each rule's handle, and the rule
    text is without it.  A table is iptables-nft's when its family and name are iptables' (``ip filter``,
    ``ip6 nat``, ...) or nft printed its "managed by iptables-nft" warning before it (nft >= 1.0.7).
    """
    tables = []
    table = None
    chain = None
    depth = 0
    skip_depth = None
    warned = set()
    for raw in (text or '').splitlines():
        # a comment is the rule owner's text: its words ("accept"), braces and lines are never syntax
        line = _NFT_COMMENT_RE.sub('', raw).strip()
        warning = _NFT_IPTABLES_WARNING_RE.match(line)
        if warning:
            warned.add((warning.group(1), warning.group(2)))
        handle = _NFT_HANDLE_RE.search(line)
        if handle:
            line = line[:handle.start()].strip()
        if not line or line.startswith('#'):
            continue
        opens = line.count('{')
        closes = line.count('}')
        if skip_depth is not None:
            depth += opens - closes
            if depth <= skip_depth:
                skip_depth = None
            continue
        match = re.match(r'^table\s+(\S+)\s+(\S+)\s*\{', line)
        if match and depth == 0:
            table = {'family': match.group(1), 'name': match.group(2), 'chains': {},
                     'iptables_nft': (match.group(1) in ('ip', 'ip6') and match.group(2) in IPTABLES_NFT_TABLES)
                     or (match.group(1), match.group(2)) in warned}
            tables.append(table)
            depth += 1
            continue
        match = re.match(r'^chain\s+(\S+)\s*\{', line)
        if match and depth == 1 and table is not None:
            chain = {'hook': None, 'type': None, 'priority': None, 'policy': None, 'rules': [], 'handles': []}
            table['chains'][match.group(1)] = chain
            depth += 1
            continue
        if depth == 1 and re.match(r'^(set|map|flowtable|counter|quota|limit|ct|secmark|synproxy)\s', line) and opens:
            skip_depth = depth
            depth += opens - closes
            if depth <= skip_depth:
                skip_depth = None
            continue
        if line == '}':
            depth -= 1
            if depth == 1:
                chain = None
            elif depth == 0:
                table = None
            continue
        if chain is not None and depth == 2:
            base = re.match(r'^type\s+(\S+)\s+hook\s+(\S+)(?:\s+device\s+\S+)?\s+priority\s+([^;]+);(?:\s*policy\s+(\w+);)?', line)
            if base:
                chain['type'] = base.group(1)
                chain['hook'] = base.group(2)
                chain['priority'] = base.group(3).strip()
                chain['policy'] = base.group(4) or 'accept'
                continue
            chain['rules'].append(line)
            chain['handles'].append(int(handle.group(1)) if handle else None)
            depth += opens - closes
    return {'tables': tables}


def nft_rule_match(rule, port=DEFAULT_PORT):
    """Judge one nft rule text; returns ``(match, verdict, target)``."""
    result = YES
    verdict = None
    target = None
    words = rule.replace('{', ' { ').replace('}', ' } ').replace(',', ' , ').split()
    i = 0
    while i < len(words):
        word = words[i]
        if word in ('accept', 'drop', 'reject', 'return', 'continue'):
            verdict = word
            break  # what follows is the verdict's own options ("reject with icmp type host-prohibited")
        elif word in ('jump', 'goto') and i + 1 < len(words):
            verdict, target = word, words[i + 1]
            i += 1
        elif word in ('tcp', 'udp', 'th', 'sctp', 'dccp', 'udplite') and i + 2 < len(words) and words[i + 1] in ('dport', 'sport'):
            field = words[i + 1]
            negated = words[i + 2] == '!='
            j = i + 3 if negated else i + 2
            if j < len(words) and words[j] == '{':
                end = words.index('}', j) if '}' in words[j:] else len(words) - 1
                value = ' '.join(w for w in words[j + 1:end] if w != ',')
                i = end
            else:
                value = words[j] if j < len(words) else ''
                i = j
            if field == 'sport':
                part = MAYBE
            elif word in ('tcp', 'th'):
                part = YES if port_spec_covers(value, port) else NO
            else:
                part = NO
            result = _combine(result, _negate(part, negated))
        elif (word == 'l4proto' or (word in ('protocol', 'nexthdr') and i > 0 and words[i - 1] in ('ip', 'ip6'))) \
                and i + 1 < len(words):
            negated = words[i + 1] == '!='
            j = i + 2 if negated else i + 1
            if j < len(words) and words[j] == '.':
                result = _combine(result, MAYBE)  # a concatenation looked up in a set/map
            elif j < len(words) and words[j] == '{':
                end = words.index('}', j) if '}' in words[j:] else len(words) - 1
                values = [w for w in words[j + 1:end] if w != ',']
                result = _combine(result, _negate(YES if set(values) & {'tcp', '6'} else NO, negated))
                j = end
            elif j < len(words) and words[j] == 'vmap':
                result = _combine(result, MAYBE)
            elif j < len(words):
                result = _combine(result, _negate(YES if words[j] in ('tcp', '6') else NO, negated))
            i = j
        elif word in ('icmp', 'icmpv6') and i + 1 < len(words) and words[i + 1] in ('type', 'code'):
            result = _combine(result, NO)  # an ICMP header match: never a TCP SYN
            i += 1
        elif word in ('iifname', 'iif') and i + 1 < len(words):
            value = words[i + 1].strip('"')
            negated = value == '!='
            if negated and i + 2 < len(words):
                value = words[i + 2].strip('"')
                i += 1
            part = NO if value == 'lo' else MAYBE
            result = _combine(result, _negate(part, negated))
            i += 1
        elif word == 'status' and i > 0 and words[i - 1] == 'ct' and i + 1 < len(words):
            # a SYN to the kubelet on the node's own address is not DNATed (firewalld's "ct status dnat accept")
            result = _combine(result, NO if words[i + 1] in ('dnat', 'snat') else MAYBE)
            i += 1
        elif word == 'state' and i > 0 and words[i - 1] == 'ct' and i + 2 < len(words) and words[i + 1] == 'vmap':
            # ct state vmap { established : accept, related : accept, invalid : drop }: only the "new" entry applies
            end = words.index('}', i) if '}' in words[i:] else len(words) - 1
            entries = ' '.join(words[i + 3:end]).split(',')
            chosen = [e.split(':')[1].split() for e in entries if ':' in e and 'new' in e.split(':')[0].split()]
            if chosen and chosen[0]:
                verdict = chosen[0][0]
                target = chosen[0][1] if len(chosen[0]) > 1 else None
            else:
                result = _combine(result, NO)
            i = end
        elif word == 'state' and i > 0 and words[i - 1] == 'ct' and i + 1 < len(words):
            values = []
            j = i + 1
            if words[j] == '{':
                j += 1
            # only conntrack state names: "ct state new tcp dport 22" must leave "tcp dport 22" to its own match
            while j < len(words) and (words[j] == ',' or re.match(r'^(?:new|established|related|invalid|untracked|,)+$', words[j])):
                values.extend(v for v in words[j].split(',') if v)
                j += 1
            result = _combine(result, YES if 'new' in values else NO)
            i = j - 1
        elif word in ('saddr', 'daddr') and i > 0 and words[i - 1] in ('ip', 'ip6'):
            result = _combine(result, MAYBE)
            i += 1
        elif word == 'fib' and i + 3 < len(words) and words[i + 1] == 'daddr' and words[i + 2] == 'type':
            negated = words[i + 3] == '!='
            value = words[i + 4] if negated and i + 4 < len(words) else words[i + 3]
            result = _combine(result, _negate(YES if value == 'local' else NO, negated))
            i += 4 if negated else 3
        elif word == 'pkttype' and i + 1 < len(words):
            result = _combine(result, YES if words[i + 1] in ('host', 'unicast') else NO)
            i += 1
        elif word in ('limit', 'meter', 'mark', '@') or word.startswith('@'):
            result = _combine(result, MAYBE)
        i += 1
    return result, verdict, target


def analyze_nft(text, port=DEFAULT_PORT, include_iptables_nft=False):
    """Walk every ``hook input`` filter chain for a NEW TCP packet to ``port``.

    Tables managed by iptables-nft are skipped unless ``include_iptables_nft`` (their rules
    are judged through ``iptables -S``).  Returns ``{blocked, blocking: [{table, family, table_name, chain,
    rule, handle, verdict, conditional}], policy_drops: ['family table chain'], accepted_by: [...]}``
    (``table`` is ``'<family> <name>'``; ``handle`` is None unless the listing came from ``nft -a``).
    """
    parsed = parse_nft_ruleset(text)
    blocking = []
    policy_drops = []
    accepted = []
    for table in parsed['tables']:
        if table['family'] not in ('ip', 'inet', 'ip6') or (table['iptables_nft'] and not include_iptables_nft):
            continue
        if table['family'] == 'ip6':
            continue
        label = '%s %s' % (table['family'], table['name'])
        for chain_name, chain in table['chains'].items():
            if chain['hook'] != 'input' or chain['type'] != 'filter':
                continue
            state = {'accept': None, 'unlisted': False}

            def walk(name, stack, cond, table=table, label=label, state=state):  # pylint: disable=dangerous-default-value
                listed = table['chains'].get(name, {})
                for rule, handle in zip(listed.get('rules', []), listed.get('handles') or [None] * len(listed.get('rules', []))):
                    match, verdict, target = nft_rule_match(rule, port)
                    match = _combine(match, cond)
                    if match == NO or verdict is None:
                        continue
                    if verdict == 'accept' and match == YES:
                        state['accept'] = '%s %s: %s' % (label, name, rule)
                        return 'accept'
                    if verdict in ('drop', 'reject'):
                        blocking.append({'table': label, 'family': table['family'], 'table_name': table['name'], 'chain': name,
                                         'rule': rule, 'handle': handle, 'verdict': verdict,
                                         'conditional': match != YES or state['unlisted']})
                        if match == YES:
                            return 'drop'
                    elif verdict == 'return' and match == YES:
                        return None
                    elif verdict in ('jump', 'goto') and target not in table['chains']:
                        state['unlisted'] = True  # a chain the excerpt does not show may accept the packet
                    elif verdict in ('jump', 'goto') and target in table['chains'] and target not in stack:
                        outcome = walk(target, stack + [target], match)
                        if outcome in ('accept', 'drop'):
                            return outcome
                        if verdict == 'goto' and match == YES:
                            return None
                return None

            outcome = walk(chain_name, [chain_name], YES)
            if state['accept']:
                accepted.append(state['accept'])
            if outcome is None and chain['policy'] == 'drop':
                policy_drops.append('%s %s' % (label, chain_name))
    sure = [b for b in blocking if not b['conditional']]
    blocked = YES if sure or policy_drops else (MAYBE if blocking else NO)
    return {'blocked': blocked, 'blocking': blocking, 'policy_drops': policy_drops, 'accepted_by': accepted, 'port': port}


# --------------------------------------------------------------------------- verdict

def decide_10250_block(ufw=None, iptables=None, nft=None, ss=None, port=DEFAULT_PORT, context=None, nft_native_only=None):
    """Decide whether (and by what) TCP ``port`` is blocked on a node.

    Each argument is the raw text of the tool output, or None when not collected; ``context``
    (:func:`firewall_context`) resolves sources, addresses, interfaces and ipsets.
    Returns ``{blocked_by: 'ufw'|'iptables'|'nft'|'not_listening'|None, rules: [...],
    conditional: bool, reason: str, details: {ufw, iptables, nft, listening}}``.
    Precedence: ufw, iptables (non-ufw chains and the INPUT policy), native nft, listener.
    ``nft_native_only``: judge only native nft tables (default: when ``iptables`` is given; pass True when the
    iptables listing failed, so iptables-nft's tables are never taken for native nft rules).
    """
    details = {'ufw': None, 'iptables': None, 'nft': None, 'listening': None}
    ufw_active = False
    if ufw is not None:
        details['ufw'] = parse_ufw_status(ufw, port=port, sources=(context or {}).get('sources'))
        ufw_active = details['ufw']['active']
    if iptables is not None and iptables.strip():
        details['iptables'] = analyze_iptables(iptables, port=port, context=context)
    if nft is not None and nft.strip():
        native_only = details['iptables'] is not None if nft_native_only is None else nft_native_only
        details['nft'] = analyze_nft(nft, port=port, include_iptables_nft=not native_only)
    if ss is not None:
        details['listening'] = ss_listening(ss, port=port)

    ipt = details['iptables']
    ufw_rules = [b for b in ipt['blocking'] if b['ufw']] if ipt else []
    other_rules = [b for b in ipt['blocking'] if not b['ufw']] if ipt else []

    def verdict(by, rules, conditional, reason):
        return {'blocked_by': by, 'rules': rules, 'conditional': conditional, 'reason': reason, 'details': details}

    if details['ufw'] and details['ufw']['blocks_port']:
        rules = [b['spec'] for b in ufw_rules]
        return verdict('ufw', rules, False, details['ufw']['reason'])
    if ufw_active and ufw_rules and not details['ufw']['allows_port']:
        return verdict('ufw', [b['spec'] for b in ufw_rules], any(b['conditional'] for b in ufw_rules),
                       'ufw chains drop/reject %d/tcp' % port)
    if other_rules:
        conditional = all(b['conditional'] for b in other_rules)
        what = 'may drop/reject (conditional)' if conditional else 'drop/reject'
        return verdict('iptables', [b['spec'] for b in other_rules], conditional,
                       'iptables rules on the INPUT path %s %d/tcp: %s' % (what, port, '; '.join(b['spec'] for b in other_rules)))
    if ipt and ipt['policy_blocks'] and not ufw_active:
        return verdict('iptables', ['-P INPUT %s' % ipt['policy']], False,
                       'iptables INPUT policy is %s and no rule accepts %d/tcp' % (ipt['policy'], port))
    if ipt and ipt['policy_blocks'] and ufw_active:
        return verdict('ufw', ['-P INPUT %s' % ipt['policy']], False,
                       'ufw is active and the INPUT policy %s is reached for %d/tcp' % (ipt['policy'], port))
    nftd = details['nft']
    if nftd and nftd['blocked'] != NO:
        rules = ['%s %s: %s' % (b['table'], b['chain'], b['rule']) for b in nftd['blocking']]
        rules += ['%s: policy drop' % p for p in nftd['policy_drops']]
        conditional = nftd['blocked'] == MAYBE
        return verdict('nft', rules, conditional, 'nftables %s %d/tcp in an input hook: %s' % (
            'may drop/reject' if conditional else 'drops/rejects', port, '; '.join(rules)))
    if details['listening'] in ('no', 'loopback_only'):
        return verdict('not_listening', [], False, 'nothing listens on %s:%d/tcp (%s)' % (
            'a non-loopback address' if details['listening'] == 'loopback_only' else 'any address', port,
            details['listening']))
    return verdict(None, [], False, 'no firewall rule blocking %d/tcp was found' % port)
