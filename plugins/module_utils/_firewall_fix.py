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
    ufw=none|allow|disable      ufw action (only with apply=1)
    d=<n>:<base64url>           delete one iptables rule: base64url (no padding) of its n tokens without
                                "-A" (chain first), each followed by a NUL byte (:func:`encode_rule`);
                                the script decodes it with `base64 -d` into an array (`mapfile -d ''`,
                                never eval or word splitting), checks n, the chain name and every token,
                                and runs `iptables -D <chain> <arg>...` only when `iptables -C` finds the
                                rule (never by line number)

Output format ``AKSFW1`` (fits the 4096-byte Run Command limit; each section is capped)::

    AKSFW1 begin id=<id> apply=<0|1>
    @@<section> rc=<rc> bytes=<size> [trimmed=<cut>]    sections: ufw, iptables, backup, after-ufw, after-iptables
    <text>
    @@end
    A <index> <ufw-allow|ufw-disable|del> rc=<rc>|absent
    AKSFW1 end id=<id> rc=<0|2>

``iptables`` sections list the filter table's INPUT chain and every chain reachable from it by
jumps (``iptables -S <chain>`` each), which is what :func:`_firewall_parsers.analyze_iptables` needs.
The full ``iptables-save`` backup stays on the node (path in the ``backup`` section header); the
section itself holds the filter table, capped.
"""

from __future__ import annotations

import base64
import re
import shlex

from ansible_collections.aks.tunnel.plugins.module_utils import _firewall_parsers as fw

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
run_id=- port=10250 apply=0 ufw_action=none
DEL=()
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
        *) akfw_fail "bad-arg $pos" ;;
    esac
done

OUT=$(mktemp) || exit 0
trap 'rm -f "$OUT"' EXIT
CAP=900
section() {  # section <name> <rc> <text> [extra header words] [cap]
    local text=$3 size=${#3} cut=0 extra=${4:+ $4} cap=${5:-$CAP}
    if (( size > cap )); then
        text=${text:0:cap}; text=${text%$'\n'*}; cut=$((size - ${#text}))
    fi
    if (( cut > 0 )); then printf '@@%s rc=%s bytes=%s trimmed=%s%s\n' "$1" "$2" "$size" "$cut" "$extra" >> "$OUT"
    else printf '@@%s rc=%s bytes=%s%s\n' "$1" "$2" "$size" "$extra" >> "$OUT"; fi
    [[ -n $text ]] && printf '%s\n' "$text" >> "$OUT"
}
ufw_status() {
    local text rc
    if command -v ufw > /dev/null 2>&1; then text=$(ufw status verbose 2>&1); rc=$?
    else text='ufw: command not found'; rc=127; fi
    section "$1" "$rc" "$text" '' 700
}
ipt_chains() {  # INPUT and every chain reachable from it, as iptables -S lines
    local name text rc=0 queue=(INPUT) all='' t
    declare -A seen=()
    if ! command -v iptables > /dev/null 2>&1; then section "$1" 127 'iptables: command not found'; return; fi
    while (( ${#queue[@]} > 0 )); do
        name=${queue[0]}; queue=("${queue[@]:1}")
        [[ -n ${seen[$name]} ]] && continue
        seen[$name]=1
        text=$(iptables -w 5 -S "$name" 2>&1) || rc=$?
        all+="$text"$'\n'
        while read -r t; do
            case $t in ACCEPT|DROP|REJECT|RETURN|LOG|NFLOG|MARK|CONNMARK|CT|NOTRACK|TRACE|AUDIT|MASQUERADE|SNAT|DNAT|REDIRECT|QUEUE|NFQUEUE|'') ;;
                *) [[ $t =~ ^[A-Za-z0-9_.:-]{1,64}$ ]] && queue+=("$t") ;;
            esac
        done < <(printf '%s\n' "$text" | sed -n 's/.* -[jg] \([^ ]*\).*/\1/p')
    done
    all=${all%$'\n'}
    if (( ${#all} > CAP )); then
        # keep policies, chains, jumps, DROP/REJECT, port rules and unconditional ACCEPTs
        all=$(printf '%s\n' "$all" | awk '/^-[PN] / || /dport|multiport/ || /^-A [^ ]+ -j ACCEPT$/ {print; next}
            / -[jg] (ACCEPT|RETURN|LOG|NFLOG|MARK|CONNMARK|CT|NOTRACK|TRACE|AUDIT)( |$)/ {next} {print}')
        section "$1" "$rc" "$all" filtered=1
    else
        section "$1" "$rc" "$all"
    fi
}
printf '%s begin id=%s apply=%s\n' AKSFW1 "$run_id" "$apply" > "$OUT"
ufw_status ufw
ipt_chains iptables
ACTIONS=''
if [[ $apply == 1 ]]; then
    if command -v iptables-save > /dev/null 2>&1; then
        mkdir -p /var/lib/aks-tunnel 2>/dev/null
        bfile=/var/lib/aks-tunnel/iptables-$run_id-$(date +%Y%m%dT%H%M%S).rules
        iptables-save > "$bfile" 2>/dev/null; brc=$?
        btext=$(iptables-save -t filter 2>/dev/null | grep -v '^#')
        section backup "$brc" "$btext" "path=$bfile" 400
    fi
    idx=0
    case $ufw_action in
        allow) ufw allow "$port/tcp" > /dev/null 2>&1; ACTIONS+="A $idx ufw-allow rc=$?"$'\n'; idx=$((idx + 1)) ;;
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
    ipt_chains after-iptables
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


def build_fix_parameters(*, port=10250, apply=False, ufw='ignore', delete_specs=(), run_id=None):
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
    for spec in delete_specs or ():
        params.append(encode_rule(spec))
    return params


def parse_fix_output(stdout, run_id=None):
    """Parse AKSFW1 output: ``{complete, error, apply, sections: {name: {rc, bytes, trimmed, text, path}}, actions: [{index, kind, rc, absent}], problems}``."""
    result = {'complete': False, 'begin_seen': False, 'error': None, 'apply': None, 'sections': {}, 'actions': [], 'problems': []}
    current = None
    for line in (stdout or '').splitlines():
        if line.startswith(FORMAT + ' begin'):
            result['begin_seen'] = True
            kv = dict(w.split('=', 1) for w in line.split()[2:] if '=' in w)
            result['apply'] = kv.get('apply') == '1'
            if run_id is not None and kv.get('id') not in (None, run_id):
                result['problems'].append('run id %r does not match the expected %r' % (kv.get('id'), run_id))
            continue
        if line.startswith(FORMAT + ' end'):
            result['complete'] = True
            current = None
            continue
        if line.startswith('@@'):
            head = line[2:].split()
            name = head[0] if head else ''
            if name == 'end':
                current = None
            elif name == 'error':
                result['error'] = line[len('@@error '):].strip()
                current = None
            else:
                kv = dict(w.split('=', 1) for w in head[1:] if '=' in w)
                current = {'rc': int(kv['rc']) if kv.get('rc', '').lstrip('-').isdigit() else None, 'filtered': kv.get('filtered') == '1',
                           'bytes': int(kv['bytes']) if kv.get('bytes', '').isdigit() else None,
                           'trimmed': int(kv.get('trimmed') or 0), 'path': kv.get('path'), 'lines': []}
                result['sections'][name] = current
            continue
        if current is not None:
            current['lines'].append(line)
            continue
        if line.startswith('A '):
            parts = line.split()
            if len(parts) >= 4 and parts[1].isdigit():
                status = parts[3]
                rc = int(status[3:]) if status.startswith('rc=') and status[3:].lstrip('-').isdigit() else None
                result['actions'].append({'index': int(parts[1]), 'kind': parts[2], 'rc': rc, 'absent': status == 'absent'})
    for sec in result['sections'].values():
        lines = sec.pop('lines')
        sec['text'] = '\n'.join(lines) + '\n' if lines else ''
        if sec['trimmed']:
            result['problems'].append('a section was trimmed to fit the Run Command output limit')
    if not result['begin_seen'] or not result['complete']:
        result['problems'].append('incomplete output: the script did not finish or the output was cut')
    return result


def _text(section):
    if not section or section.get('rc') == 127:
        return None
    return section.get('text') or ''


def firewall_state(sections, prefix='', port=10250):
    """``{ufw: {installed, active, allows_port, blocks_port, reason}, iptables_blocking: [spec], ufw_rules: [spec],
    policy_blocks, verdict: decide_10250_block(...)}`` from parsed sections (``prefix`` 'after-' for the re-inspection)."""
    ufw_text = _text(sections.get(prefix + 'ufw'))
    ipt_text = _text(sections.get(prefix + 'iptables'))
    if ufw_text is None and (prefix + 'ufw') in sections:
        ufw_text = ''
    try:
        verdict = fw.decide_10250_block(ufw=ufw_text, iptables=ipt_text if ipt_text and ipt_text.strip() else None, port=port)
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
    return {
        'ufw': {'installed': ufw['installed'], 'active': ufw['active'], 'allows_port': ufw['allows_port'],
                'blocks_port': ufw['blocks_port'], 'reason': ufw['reason']},
        'iptables_blocking': [b['spec'] for b in ipt['blocking'] if not b['ufw']],
        'ufw_rules': [b['spec'] for b in ipt['blocking'] if b['ufw']],
        'policy': ipt.get('policy'),
        'policy_blocks': bool(ipt.get('policy_blocks')),
        'blocked_by': blocked_by,
        'conditional': verdict['conditional'] if blocked_by else False,
        'reason': reason,
    }


def _insert_position(spec, iptables_text):
    chain = spec.split()[1]
    position = 0
    for line in (iptables_text or '').splitlines():
        if line.startswith('-A %s ' % chain) or line == '-A %s' % chain:
            position += 1
            if line.strip() == spec.strip():
                return position
    return 1


def plan_actions(state, sections, ufw='allow', iptables='delete_blocking', port=10250):
    """The actions that open ``port`` given the inspected state; each with the command and its undo.

    Returns ``(actions, unresolved)``; ``unresolved`` lists what these options cannot fix (with why).
    """
    actions = []
    unresolved = []
    if ufw == 'allow' and state['ufw']['active'] and not state['ufw']['allows_port']:
        actions.append({'type': 'ufw_allow', 'command': 'ufw allow %d/tcp' % port, 'undo': 'ufw delete allow %d/tcp' % port})
    elif ufw == 'disable' and state['ufw']['active']:
        actions.append({'type': 'ufw_disable', 'command': 'ufw --force disable', 'undo': 'ufw --force enable'})
    elif ufw == 'ignore' and state['blocked_by'] == 'ufw':
        unresolved.append('ufw blocks %d/tcp (%s) and ufw is set to ignore' % (port, state['ufw']['reason']))
    ipt_text = _text(sections.get('iptables'))
    if iptables == 'delete_blocking':
        for spec in state['iptables_blocking']:
            args = fw.iptables_delete_args(spec)[1:]
            insert = ['iptables', '-I', args[0], str(_insert_position(spec, ipt_text))] + args[1:]
            actions.append({'type': 'iptables_delete', 'spec': spec, 'command': shlex.join(['iptables', '-D'] + args),
                            'undo': shlex.join(insert)})
        if state['policy_blocks'] and not state['ufw']['active']:
            unresolved.append('the iptables INPUT policy is %s and no rule accepts %d/tcp; deleting rules cannot fix this, '
                              'add an ACCEPT rule for tcp dport %d' % (state['policy'], port, port))
    elif state['iptables_blocking']:
        unresolved.append('iptables rules block %d/tcp and iptables is set to ignore: %s' % (port, '; '.join(state['iptables_blocking'])))
    return actions, unresolved
