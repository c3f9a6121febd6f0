# -*- coding: utf-8 -*-
# Copyright (c) 2026 aks.tunnel contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Node firewall repair through Run Command: a constant script, its parameters, its output parser, the plan.

Pure Python (standard library only).

The script (:data:`FIX_SCRIPT`) never contains a value: everything arrives as positional parameters,
validated again by the script. Azure pastes parameter values unquoted into the script
(``export arg1=...`` / ``set -- ...``, see _runcommand.py), so every parameter is one safe shell word
and a rule spec, whose tokens are text from ``iptables -S`` (comments with spaces, quotes, anything),
travels base64url-encoded::

    id=<[A-Za-z0-9_.-]{1,40}>   run id echoed in the markers
    port=<1..65535>             the port (default 10250)
    apply=0|1                   0 = only inspect, 1 = back up, act, and inspect again
    ufw=none|allow|disable      ufw action (only with apply=1); allow needs src=
    src=<IPv4[/len]>            a tunnel source (repeatable, at most 32): ``ufw allow from <src> to any port
                                <port> proto tcp`` for each; the first one also names the route to report
    node_ip=<IPv4>              the node's IP: the inspection reports the interface that holds it
    d=<n>:<base64url>           delete one iptables rule: base64url (no padding) of its n tokens without
                                "-A" (chain first), each followed by a NUL byte (:func:`encode_rule`);
                                the script decodes it with `base64 -d` into an array (`mapfile -d ''`,
                                never eval or word splitting), checks n, the chain name and every token,
                                and runs `iptables -D <chain> <arg>...` only when `iptables -C` finds the
                                rule (never by line number)

Output format ``AKSFW1`` (fits the 4096-byte Run Command limit; each section is capped)::

    AKSFW1 begin id=<id> apply=<0|1>
    @@<section> rc=<rc> bytes=<size> [trimmed=<cut>] [enc=gz64] [path=<file>]
    <text>
    @@end
    A <index> <ufw-allow|ufw-disable|del> rc=<rc>|absent|skipped
    AKSFW1 end id=<id> rc=<0|2>

Section text is the node's: a line of it that starts with ``@``, ``\\``, ``[`` or ``AKS`` gets a leading ``\\``
(:mod:`_node_text`; the parser drops it) and a rule whose comment holds newlines is listed on one line
(``\\n`` inside its quotes), so no rule comment forges a section, an action or the end line.

Inspection (apply=0) sections: ``net`` (``iface=`` / ``route_dev=``), ``ufw``, ``ipsets`` (``ipset save`` of the sets the
rules use; ``cut <name>`` when a set did not fit) and ``iptables``.  Repair (apply=1): ``backup``, then after the actions
``after-ufw`` and ``after-iptables``.  ``iptables`` sections list the filter table's INPUT chain and every chain reachable
from it by jumps (``iptables -S <chain>`` each), always complete: gzip+base64 (``enc=gz64``) when the plain text does not
fit, and ``trimmed=`` only when even that does not fit - then nothing may be planned from it (:func:`firewall_state`).
The full ``iptables-save`` backup stays on the node at ``/var/lib/aks-tunnel/iptables-<id>.rules`` (known even when the
run times out); when it cannot be written nothing is changed (every action ``skipped``).  The section holds the
filter table, capped.
"""

from __future__ import annotations

import base64
import gzip
import ipaddress
import re
import shlex

from ansible_collections.aks.tunnel.plugins.module_utils import _firewall_parsers as fw
from ansible_collections.aks.tunnel.plugins.module_utils import _node_text

FORMAT = 'AKSFW1'
UFW_ACTIONS = ('allow', 'disable', 'ignore')
IPTABLES_ACTIONS = ('delete_blocking', 'ignore')
MAX_RULE_TOKENS = 64
MAX_RULE_BYTES = 4096  # encoded tokens of one rule; iptables comments are at most 256 bytes
BACKUP_DIR = '/var/lib/aks-tunnel'
_CHAIN_RE = re.compile(r'^[A-Za-z0-9_.:-]{1,64}$')
_RUN_ID_RE = re.compile(r'^[A-Za-z0-9_.-]{1,40}$')


class FirewallFixError(ValueError):
    """Bad input for the repair (rule spec, port, run id) or output that cannot be parsed."""


FIX_SCRIPT = r'''#!/bin/bash
# aks.tunnel node firewall repair, output format AKSFW1 (see aks.tunnel _firewall_fix.py).
# Every dynamic value arrives as a positional parameter and is validated below.
export LC_ALL=C PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
run_id=- port=10250 apply=0 ufw_action=none node_ip=''
DEL=() SRC=()
akfw_fail() {
    printf '%s begin id=%s apply=0\n@@error %s\n%s end id=%s rc=2\n' AKSFW1 "$run_id" "$1" AKSFW1 "$run_id"
    exit 0
}
pos=0
while (( $# > 0 )); do
    arg=$1; shift; pos=$((pos + 1))
    case $arg in
        id=*) v=${arg#id=}; [[ $v =~ ^[A-Za-z0-9_.-]{1,40}$ ]] || akfw_fail "bad-arg $pos"; run_id=$v ;;
        port=*) v=${arg#port=}; [[ $v =~ ^[0-9]{1,5}$ ]] && (( 10#$v >= 1 && 10#$v <= 65535 )) || akfw_fail "bad-arg $pos"; port=$((10#$v)) ;;
        apply=*) v=${arg#apply=}; [[ $v == 0 || $v == 1 ]] || akfw_fail "bad-arg $pos"; apply=$v ;;
        ufw=*) v=${arg#ufw=}; [[ $v == none || $v == allow || $v == disable ]] || akfw_fail "bad-arg $pos"; ufw_action=$v ;;
        d=*)
            # one rule: <n>:<base64url of n NUL-terminated tokens>; decoded into an array, never eval'd or word-split
            v=${arg#d=}
            [[ $v =~ ^([0-9]{1,2}):([A-Za-z0-9_-]{2,5462})$ ]] || akfw_fail "bad-arg $pos"
            n=$((10#${BASH_REMATCH[1]})) v=${BASH_REMATCH[2]}
            (( n >= 1 && n <= 64 )) || akfw_fail "bad-arg $pos"
            v=${v//-/+} v=${v//_//}
            while (( ${#v} % 4 )); do v+='='; done
            printf '%s' "$v" | base64 -d > /dev/null 2>&1 || akfw_fail "bad-arg $pos"
            rule=()
            mapfile -d '' -t rule < <(printf '%s' "$v" | base64 -d 2> /dev/null)
            (( ${#rule[@]} == n )) && [[ ${rule[0]} =~ ^[A-Za-z0-9_.:-]{1,64}$ ]] || akfw_fail "bad-arg $pos"
            for t in "${rule[@]}"; do [[ $t == *$'\n'* || -z $t ]] && akfw_fail "bad-arg $pos"; done
            DEL+=("$n" "${rule[@]}") ;;
        src=*) v=${arg#src=}; [[ $v =~ ^([0-9]{1,3}\.){3}[0-9]{1,3}(/[0-9]{1,2})?$ ]] && (( ${#SRC[@]} < 32 )) || akfw_fail "bad-arg $pos"; SRC+=("$v") ;;
        node_ip=*) v=${arg#node_ip=}; [[ $v =~ ^([0-9]{1,3}\.){3}[0-9]{1,3}$ ]] || akfw_fail "bad-arg $pos"; node_ip=$v ;;
        *) akfw_fail "bad-arg $pos" ;;
    esac
done
# UFW is only ever opened to the tunnel sources, never to the world
[[ $ufw_action == allow && ${#SRC[@]} == 0 ]] && akfw_fail 'ufw-allow-needs-src'

OUT=$(mktemp) || exit 0
trap 'rm -f "$OUT"' EXIT
# Run Command returns at most 4096 bytes of stdout: the whole output stays under LIMIT
LIMIT=3900
CAP=900
section() {  # section <name> <rc> <text> [extra header words] [cap]
    local text=$'\n'$3 size=${#3} cut=0 extra=${4:+ $4} cap=${5:-$CAP} nl=$'\n' bs=$'\n\\' full
    # node text must never read as a marker: a \ before each line starting with @ \ [ AKS (parse_fix_output drops it)
    text=${text//"$nl\\"/"$bs\\"}; text=${text//"$nl@"/"$bs@"}; text=${text//"${nl}["/"${bs}["}; text=${text//"${nl}AKS"/"${bs}AKS"}
    text=${text#"$nl"}; full=${#text}
    if (( full > cap )); then
        text=${text:0:cap}; text=${text%$'\n'*}; cut=$((full - ${#text}))
    fi
    if (( cut > 0 )); then printf '@@%s rc=%s bytes=%s trimmed=%s%s\n' "$1" "$2" "$size" "$cut" "$extra" >> "$OUT"
    else printf '@@%s rc=%s bytes=%s%s\n' "$1" "$2" "$size" "$extra" >> "$OUT"; fi
    [[ -n $text ]] && printf '%s\n' "$text" >> "$OUT"
}
room() {  # bytes left for one more section, keeping <reserve> for what follows
    local used
    used=$(wc -c < "$OUT")
    echo $(( LIMIT - used - 80 - ${1:-0} ))
}
ufw_status() {
    local text rc
    if command -v ufw > /dev/null 2>&1; then text=$(ufw status verbose 2>&1); rc=$?
    else text='ufw: command not found'; rc=127; fi
    section "$1" "$rc" "$text" '' 700
}
IPT='' IPT_RC=0
oneline() {  # ONE = iptables -S text $1 with each rule on one line: a comment's newlines (printed as they are) become \n
    local t l q part='' re=$'(^|\n)[^"\n]*("[^"\n]*"[^"\n]*)*"[^"\n]*\n'
    ONE=$1
    t=${1//\\\\/}; t=${t//\\\"/}
    [[ $t$'\n' =~ $re ]] || return 0
    ONE=''
    while IFS= read -r l; do
        [[ -n $part ]] && l="$part\\n$l" part=''
        if [[ $l == *\"* ]]; then
            t=${l//\\\\/}; t=${t//\\\"/}; q=${t//[^\"]/}
            (( ${#q} % 2 )) && { part=$l; continue; }
        fi
        ONE+="$l"$'\n'
    done <<< "$1"
    [[ -n $part ]] && ONE+="$part"$'\n'
    ONE=${ONE%$'\n'}
}
ipt_chains() {  # IPT = INPUT and every chain reachable from it, as iptables -S lines (complete, never filtered)
    local name text queue=(INPUT) t
    declare -A seen=()
    IPT='' IPT_RC=0
    if ! command -v iptables > /dev/null 2>&1; then IPT_RC=127; IPT='iptables: command not found'; return; fi
    while (( ${#queue[@]} > 0 )); do
        name=${queue[0]}; queue=("${queue[@]:1}")
        [[ -n ${seen[$name]} ]] && continue
        seen[$name]=1
        text=$(iptables -w 5 -S "$name" 2>&1) || IPT_RC=$?
        oneline "$text"; text=$ONE
        IPT+="$text"$'\n'
        while read -r t; do
            case $t in ACCEPT|DROP|REJECT|RETURN|LOG|NFLOG|MARK|CONNMARK|CT|NOTRACK|TRACE|AUDIT|MASQUERADE|SNAT|DNAT|REDIRECT|QUEUE|NFQUEUE|'') ;;
                *) [[ $t =~ ^[A-Za-z0-9_.:-]{1,64}$ ]] && queue+=("$t") ;;
            esac
        done < <(printf '%s\n' "$text" | sed -n 's/.* -[jg] \([^ ]*\).*/\1/p')
    done
    IPT=${IPT%$'\n'}
}
ipt_section() {  # ipt_section <name> <reserve>: the complete listing, gzip+base64 when it does not fit, else trimmed
    local cap enc
    cap=$(room "$2")
    if (( IPT_RC == 127 || ${#IPT} <= cap )); then section "$1" "$IPT_RC" "$IPT" '' "$cap"; return; fi
    enc=$(printf '%s\n' "$IPT" | gzip -9c 2> /dev/null | base64 -w 0 2> /dev/null)
    if [[ -n $enc ]] && (( ${#enc} <= cap )); then
        printf '@@%s rc=%s bytes=%s enc=gz64\n%s\n' "$1" "$IPT_RC" "${#IPT}" "$enc" >> "$OUT"
    else
        section "$1" "$IPT_RC" "$IPT" '' "$cap"   # trimmed: the controller refuses to plan deletions from it
    fi
}
net_section() {  # the interface that holds the node IP, and the one the route to the first tunnel source uses
    local text='' dev='' rdev=''
    if [[ -n $node_ip ]] && command -v ip > /dev/null 2>&1; then
        dev=$(ip -o -4 addr show 2> /dev/null | awk -v ip="$node_ip" '{split($4, a, "/"); if (a[1] == ip) {print $2; exit}}')
        text+="iface=${dev//[^A-Za-z0-9_.:@-]/}"$'\n'
    fi
    if (( ${#SRC[@]} > 0 )) && command -v ip > /dev/null 2>&1; then
        rdev=$(ip -o -4 route get "${SRC[0]%/*}" 2> /dev/null | sed -n 's/.* dev \([^ ]*\).*/\1/p' | head -n 1)
        text+="route_dev=${rdev//[^A-Za-z0-9_.:@-]/}"$'\n'
    fi
    section net 0 "${text%$'\n'}" '' 200
}
ipset_section() {  # members of the ipsets the listing matches on (capped: a cut set is marked "cut <name>")
    local names name text='' one rc=0 cap=500
    names=$(printf '%s\n' "$IPT" | grep -o -- '--match-set [A-Za-z0-9_.:-]*' | awk '{print $2}' | sort -u)
    [[ -z $names ]] && return
    if ! command -v ipset > /dev/null 2>&1; then section ipsets 127 'ipset: command not found'; return; fi
    for name in $names; do
        one=$(ipset save "$name" 2> /dev/null) || { rc=1; continue; }
        if (( ${#text} + ${#one} + 1 > cap )); then
            text+="${one%%$'\n'*}"$'\n'"cut $name"$'\n'   # its create line only: the set is judged unknown
        else
            text+="$one"$'\n'
        fi
    done
    section ipsets "$rc" "${text%$'\n'}" '' 1200
}
printf '%s begin id=%s apply=%s\n' AKSFW1 "$run_id" "$apply" > "$OUT"
ACTIONS=''
ipt_chains
if [[ $apply != 1 ]]; then
    net_section
    ufw_status ufw
    ipset_section
    ipt_section iptables 0
else
    # the backup must succeed before anything changes; the path is fixed per run id (known even if the run times out)
    bfile=/var/lib/aks-tunnel/iptables-$run_id.rules
    brc=127
    if command -v iptables-save > /dev/null 2>&1; then
        ( umask 077 && mkdir -p /var/lib/aks-tunnel && iptables-save > "$bfile" ) 2> /dev/null; brc=$?
        (( brc == 0 )) && ! grep -q '^\*filter' "$bfile" 2> /dev/null && brc=3
    fi
    btext=''
    (( brc == 0 )) && btext=$(iptables-save -t filter 2> /dev/null | grep -v '^#')
    section backup "$brc" "$btext" "path=$bfile" 300
    idx=0
    if (( brc != 0 )); then
        # no backup: change nothing
        case $ufw_action in
            allow) for s in "${SRC[@]}"; do ACTIONS+="A $idx ufw-allow skipped"$'\n'; idx=$((idx + 1)); done ;;
            disable) ACTIONS+="A $idx ufw-disable skipped"$'\n'; idx=$((idx + 1)) ;;
        esac
        i=0
        while (( i < ${#DEL[@]} )); do ACTIONS+="A $idx del skipped"$'\n'; idx=$((idx + 1)); i=$((i + DEL[i] + 1)); done
    else
        case $ufw_action in
            allow)
                for s in "${SRC[@]}"; do
                    ufw allow from "$s" to any port "$port" proto tcp > /dev/null 2>&1; ACTIONS+="A $idx ufw-allow rc=$?"$'\n'; idx=$((idx + 1))
                done ;;
            disable) ufw --force disable > /dev/null 2>&1; ACTIONS+="A $idx ufw-disable rc=$?"$'\n'; idx=$((idx + 1)) ;;
        esac
        i=0
        while (( i < ${#DEL[@]} )); do
            n=${DEL[$i]}
            rule=("${DEL[@]:$((i + 1)):$n}")
            if iptables -w 5 -C "${rule[@]}" > /dev/null 2>&1; then
                iptables -w 5 -D "${rule[@]}" > /dev/null 2>&1; ACTIONS+="A $idx del rc=$?"$'\n'
            else
                ACTIONS+="A $idx del absent"$'\n'
            fi
            idx=$((idx + 1)); i=$((i + n + 1))
        done
        ufw_status after-ufw
        ipt_chains
        ipt_section after-iptables "${#ACTIONS}"
    fi
fi
printf '@@end\n%s' "$ACTIONS" >> "$OUT"
printf '%s end id=%s rc=0\n' AKSFW1 "$run_id" >> "$OUT"
cat "$OUT"
'''


def encode_rule(spec):
    """``d=<n>:<base64url>`` for one ``-A CHAIN ...`` line from ``iptables -S`` (the FIX_SCRIPT parameter).

    The tokens (as ``iptables -S`` quotes them, undone with shlex) without ``-A``, chain first, each
    followed by a NUL byte, UTF-8, base64url without padding: a safe shell word whatever the rule's
    comment holds, decoded back to exactly these tokens by the script.
    """
    if not isinstance(spec, str):
        raise FirewallFixError('rule spec %r is not a string; pass a line from `iptables -S`' % (spec,))
    try:
        tokens = shlex.split(spec)
    except ValueError as exc:
        raise FirewallFixError('rule %r cannot be split into tokens (%s); pass a line from `iptables -S`' % (spec, exc)) from None
    if len(tokens) < 2 or tokens[0] != '-A':
        raise FirewallFixError('not an "-A CHAIN ..." rule spec: %r; pass a line from `iptables -S`' % (spec,))
    args = tokens[1:]
    if not _CHAIN_RE.match(args[0]):
        raise FirewallFixError('invalid chain name %r in rule %r' % (args[0], spec))
    if len(args) > MAX_RULE_TOKENS or any(not a or '\n' in a or '\0' in a for a in args):
        raise FirewallFixError('rule %r cannot be passed safely (empty/multi-line token or more than %d tokens)' % (spec, MAX_RULE_TOKENS))
    payload = b''.join(a.encode('utf-8', 'surrogateescape') + b'\0' for a in args)
    if len(payload) > MAX_RULE_BYTES:
        raise FirewallFixError('rule %r is longer than %d bytes and is not sent' % (spec, MAX_RULE_BYTES))
    return 'd=%d:%s' % (len(args), base64.urlsafe_b64encode(payload).rstrip(b'=').decode('ascii'))


def decode_rule(value):
    """The tokens of a ``d=<n>:<base64url>`` parameter (what FIX_SCRIPT decodes; for tests and diagnostics)."""
    match = re.match(r'^d=([0-9]{1,2}):([A-Za-z0-9_-]+)$', value or '')
    if not match:
        raise FirewallFixError('not a d=<n>:<base64url> parameter: %r' % (value,))
    data = match.group(2)
    payload = base64.urlsafe_b64decode(data + '=' * (-len(data) % 4))
    if not payload.endswith(b'\0'):
        raise FirewallFixError('rule parameter does not end with a NUL byte')
    tokens = [t.decode('utf-8', 'surrogateescape') for t in payload[:-1].split(b'\0')]
    if len(tokens) != int(match.group(1)):
        raise FirewallFixError('rule parameter holds %d tokens, not %s' % (len(tokens), match.group(1)))
    return tokens


MAX_SOURCES = 32


def _valid_ipv4(value, what):
    try:
        return str(ipaddress.IPv4Address(str(value).strip()))
    except ValueError:
        raise FirewallFixError('invalid %s %r: give an IPv4 address' % (what, value)) from None


def normalize_sources(sources):
    """Tunnel sources (IPv4 addresses or CIDRs) as the words ``ufw allow from`` takes: ``10.224.0.4``, ``10.224.0.0/16``.

    Refuses anything else with the reason; overlapping entries are merged; at most MAX_SOURCES.
    """
    nets = []
    for value in sources or ():
        try:
            nets.append(ipaddress.IPv4Network(str(value).strip(), strict=False))
        except ValueError:
            raise FirewallFixError('invalid tunnel source %r: give an IPv4 address or CIDR (e.g. 10.224.0.0/16)' % (value,)) from None
    nets = list(ipaddress.collapse_addresses(nets))
    if len(nets) > MAX_SOURCES:
        raise FirewallFixError('%d tunnel sources are too many (at most %d): give the node subnet(s) as CIDRs' % (len(nets), MAX_SOURCES))
    return [str(n.network_address) if n.prefixlen == 32 else str(n) for n in nets]


def build_fix_parameters(*, port=10250, apply=False, ufw='ignore', delete_specs=(), run_id=None, sources=(), node_ip=None):
    """Validated positional parameters for FIX_SCRIPT, each a safe shell word. ``delete_specs``: ``-A CHAIN ...`` lines from ``iptables -S``."""
    params = []
    if run_id is not None:
        if not isinstance(run_id, str) or not _RUN_ID_RE.match(run_id):
            raise FirewallFixError('invalid run_id %r: use 1-40 characters from A-Z a-z 0-9 _ . -' % (run_id,))
        params.append('id=%s' % run_id)
    if isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535:
        raise FirewallFixError('invalid port %r: give an integer from 1 to 65535' % (port,))
    params.append('port=%d' % port)
    params.append('apply=%d' % (1 if apply else 0))
    if ufw not in UFW_ACTIONS:
        raise FirewallFixError('invalid ufw action %r: use one of %s' % (ufw, ', '.join(UFW_ACTIONS)))
    params.append('ufw=%s' % ('none' if ufw == 'ignore' else ufw))
    for source in normalize_sources(sources):
        params.append('src=%s' % source)
    if node_ip is not None:
        params.append('node_ip=%s' % _valid_ipv4(node_ip, 'node_ip'))
    if ufw == 'allow' and not sources:
        raise FirewallFixError('ufw allow needs the tunnel sources: UFW is only opened to them, never to the world')
    for spec in delete_specs or ():
        params.append(encode_rule(spec))
    return params


def parse_fix_output(stdout, run_id=None):
    """Parse AKSFW1 output: ``{complete, error, apply, sections: {name: {rc, bytes, trimmed, text, path}}, actions: [{index, kind, rc, absent}], problems}``."""
    result = {'complete': False, 'begin_seen': False, 'error': None, 'apply': None, 'sections': {}, 'actions': [], 'problems': []}
    reader = _node_text.SectionReader(extra_keys=('path', 'enc'))
    for line in _node_text.output_lines(stdout):  # '\n' only: a '\r' in a rule comment is not a line break
        if line.startswith(FORMAT + ' begin'):
            result['begin_seen'] = True
            kv = _node_text.parse_kv(line.split()[2:])
            result['apply'] = kv.get('apply') == '1'
            if run_id is not None and kv.get('id') not in (None, run_id):
                result['problems'].append('run id %r does not match the expected %r' % (kv.get('id'), run_id))
            continue
        if line.startswith(FORMAT + ' end'):
            result['complete'] = True
            reader.close()
            continue
        if reader.feed(line):
            continue
        if line.startswith('A '):
            parts = line.split()
            if len(parts) >= 4 and parts[1].isdigit():
                status = parts[3]
                rc = int(status[3:]) if status.startswith('rc=') and status[3:].lstrip('-').isdigit() else None
                result['actions'].append({'index': int(parts[1]), 'kind': parts[2], 'rc': rc, 'absent': status == 'absent'})
    result['error'] = reader.error
    result['sections'] = reader.sections
    for sec in result['sections'].values():
        lines = sec.pop('lines')
        sec['text'] = _node_text.section_text(lines)
        if sec.get('enc') == 'gz64':
            try:
                sec['text'] = _node_text.section_text(_node_text.output_lines(
                    gzip.decompress(base64.b64decode(''.join(lines), validate=True)).decode('utf-8', 'replace')))
            except (ValueError, OSError, EOFError):
                sec['text'] = ''
                sec['trimmed'] = sec['bytes'] or 1
                result['problems'].append('a compressed section could not be decoded')
        if sec['trimmed']:
            result['problems'].append('a section was trimmed to fit the Run Command output limit')
    if not result['begin_seen'] or not result['complete']:
        result['problems'].append('incomplete output: the script did not finish or the output was cut')
    return result


def _text(section):
    if not section or section.get('rc') == 127:
        return None
    return section.get('text') or ''


def context_from_sections(sections, sources=None, node_ip=None):
    """The :func:`_firewall_parsers.firewall_context` of one node: the tunnel sources and node IP the controller
    knows, the interface and the ipsets the inspection reported.  The interface is known only when the node IP's
    interface is also the one the route to the tunnel sources uses."""
    net = {}
    for line in (_text(sections.get('net')) or '').splitlines():
        key, _sep, value = line.partition('=')
        net[key.strip()] = value.strip() or None
    iface = net.get('iface')
    if iface and net.get('route_dev') not in (None, iface):
        iface = None
    ipsets_section = sections.get('ipsets')
    ipsets = {}
    if ipsets_section and ipsets_section.get('rc') != 127:
        ipsets = fw.parse_ipset_save(ipsets_section.get('text'))
        if ipsets_section.get('trimmed'):
            for info in ipsets.values():
                info['complete'] = False
    try:
        return fw.firewall_context(sources=normalize_sources(sources), node_ip=node_ip, iface=iface, ipsets=ipsets)
    except fw.FirewallParseError as exc:
        raise FirewallFixError(str(exc)) from None


def _view_problem(section):
    """Why a listing cannot be planned from (filtered or trimmed), or None when it is complete."""
    if not section:
        return None
    if section.get('filtered'):
        return 'the iptables listing was filtered to fit the Run Command output'
    if section.get('trimmed'):
        return 'the iptables listing was trimmed (%s of %s bytes cut) to fit the Run Command output' % (section['trimmed'], section.get('bytes'))
    return None


def firewall_state(sections, prefix='', port=10250, context=None):
    """``{ufw: {installed, active, allows_port, blocks_port, reason, blocked_sources}, iptables_blocking: [spec],
    iptables_rules: [{spec, chain, position}], iptables_unknown: [{spec, reasons}], iptables_view_problem, ufw_rules: [spec],
    policy, policy_blocks, blocked_by, conditional, reason}`` from parsed sections (``prefix`` 'after-' for the re-inspection).

    ``context`` (:func:`context_from_sections`) resolves the rules against the tunnel sources; ``iptables_blocking``
    holds only the rules proven to block them, ``iptables_unknown`` the ones that could not be resolved (never deleted).
    A filtered or trimmed listing proves nothing: every rule is then unknown (``iptables_view_problem`` says why).
    """
    ufw_text = _text(sections.get(prefix + 'ufw'))
    ipt_section = sections.get(prefix + 'iptables')
    ipt_text = _text(ipt_section)
    if ufw_text is None and (prefix + 'ufw') in sections:
        ufw_text = ''
    try:
        verdict = fw.decide_10250_block(ufw=ufw_text, iptables=ipt_text if ipt_text and ipt_text.strip() else None, port=port,
                                        context=context)
    except fw.FirewallParseError as exc:
        raise FirewallFixError('firewall output not understood: %s' % exc) from None
    details = verdict['details']
    ufw = details.get('ufw') or {'installed': False, 'active': False, 'allows_port': False, 'blocks_port': False, 'reason': 'not inspected'}
    ipt = details.get('iptables') or {'blocking': [], 'policy_blocks': False, 'policy': None}
    blocked_by, reason = verdict['blocked_by'], verdict['reason']
    other = [b for b in ipt['blocking'] if not b['ufw']]
    if blocked_by == 'ufw' and ufw['active'] and ufw['allows_port'] and not other:
        # ufw's own chains are often trimmed from the iptables view; ufw status is authoritative for them
        blocked_by, reason = None, ufw['reason']
    view_problem = _view_problem(ipt_section) if ipt_text is not None else None
    proven = [b for b in other if not b['conditional']]
    unknown = [{'spec': b['spec'], 'reasons': b.get('reasons') or []} for b in other if b['conditional']]
    if view_problem:
        unknown = [{'spec': b['spec'], 'reasons': [view_problem] + (b.get('reasons') or [])} for b in other]
        proven = []
    return {
        'ufw': {'installed': ufw['installed'], 'active': ufw['active'], 'allows_port': ufw['allows_port'],
                'blocks_port': ufw['blocks_port'], 'reason': ufw['reason'], 'blocked_sources': ufw.get('blocked_sources') or []},
        'iptables_blocking': [b['spec'] for b in proven],
        'iptables_rules': [{'spec': b['spec'], 'chain': b['chain'], 'position': b['position']} for b in proven],
        'iptables_unknown': unknown,
        'iptables_view_problem': view_problem,
        'ufw_rules': [b['spec'] for b in ipt['blocking'] if b['ufw']],
        'policy': ipt.get('policy'),
        'policy_blocks': bool(ipt.get('policy_blocks')),
        'blocked_by': blocked_by,
        'conditional': (verdict['conditional'] or bool(view_problem)) if blocked_by else False,
        'reason': reason + (' (%s)' % view_problem if view_problem and blocked_by else ''),
    }


def _ufw_source_word(source):
    return source[:-3] if source.endswith('/32') else source


def plan_actions(state, sections=None, ufw='allow', iptables='delete_blocking', port=10250, sources=()):
    """The actions that open ``port`` to the tunnel sources given the inspected state; each with the command and its undo.

    UFW is opened only to the tunnel sources it does not allow yet (``ufw allow from <cidr> to any port <port> proto tcp``).
    Only iptables rules proven to block are deleted; an undo re-inserts a rule at its original position
    (``undo_order``: run the undos sorted by it, see :func:`undo_commands`).  Rules that could not be resolved,
    and everything when the listing was filtered or trimmed, are left alone and reported in ``unresolved``.

    Returns ``(actions, unresolved)``; ``unresolved`` lists what these options cannot fix (with why).
    """
    del sections  # the positions come from the analysis of the complete listing
    actions = []
    unresolved = []
    if ufw == 'allow' and state['ufw']['active'] and not state['ufw']['allows_port']:
        missing = state['ufw'].get('blocked_sources') or normalize_sources(sources)
        if not missing:
            unresolved.append('ufw blocks %d/tcp (%s) and no tunnel source is known to allow: give sources' % (port, state['ufw']['reason']))
        for source in normalize_sources(missing):
            word = _ufw_source_word(source)
            actions.append({'type': 'ufw_allow', 'source': word, 'undo_order': (1, len(actions)),
                            'command': 'ufw allow from %s to any port %d proto tcp' % (word, port),
                            'undo': 'ufw delete allow from %s to any port %d proto tcp' % (word, port)})
    elif ufw == 'disable' and state['ufw']['active']:
        actions.append({'type': 'ufw_disable', 'command': 'ufw --force disable', 'undo': 'ufw --force enable', 'undo_order': (1, 0)})
    elif ufw == 'ignore' and state['blocked_by'] == 'ufw':
        unresolved.append('ufw blocks %d/tcp (%s) and ufw is set to ignore' % (port, state['ufw']['reason']))
    if iptables == 'delete_blocking':
        for rule in state.get('iptables_rules') or []:
            args = fw.iptables_delete_args(rule['spec'])[1:]
            insert = ['iptables', '-I', args[0], str(rule['position'])] + args[1:]
            actions.append({'type': 'iptables_delete', 'spec': rule['spec'], 'chain': rule['chain'], 'position': rule['position'],
                            'command': shlex.join(['iptables', '-D'] + args), 'undo': shlex.join(insert),
                            'undo_order': (0, rule['chain'], rule['position'])})
        for rule in state.get('iptables_unknown') or []:
            unresolved.append('not deleted, not proven to block %d/tcp from the tunnel sources (UNKNOWN): %s (%s)' % (
                port, rule['spec'], '; '.join(rule['reasons']) or 'not resolved'))
        if state['policy_blocks'] and not state['ufw']['active']:
            unresolved.append('the iptables INPUT policy is %s and no rule accepts %d/tcp; deleting rules cannot fix this, '
                              'add an ACCEPT rule for tcp dport %d' % (state['policy'], port, port))
    elif state['iptables_blocking'] or state.get('iptables_unknown'):
        unresolved.append('iptables rules block %d/tcp and iptables is set to ignore: %s' % (
            port, '; '.join(state['iptables_blocking'] + [r['spec'] for r in state.get('iptables_unknown') or []])))
    return actions, unresolved


def undo_commands(actions):
    """The undo commands of ``actions`` in the order that restores the original chains: re-insertions by ascending
    original position (each ``iptables -I CHAIN <pos>`` lands where the rule was), then the UFW undos."""
    return [a['undo'] for a in sorted(actions, key=lambda a: a.get('undo_order', (2,)))]
