# -*- coding: utf-8 -*-
# Copyright (c) 2026 aks.tunnel contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Node-side probe scripts (run through Azure Run Command) and the parser of their output.

Pure Python (standard library only).

Scripts
=======
:func:`build_probe_script` returns a *constant* bash script for a combination of checks
(``connect``: TCP connect to many ``ip:port`` targets in parallel; ``egress``: TCP / TLS+ALPN /
UDP checks toward the API server; ``inspect``: ufw, iptables, nft and ``ss -ltn``).  The
script needs only bash and coreutils (``timeout``, ``mktemp``, ``head``), so
Ubuntu and Azure Linux nodes both work. The connect check runs every target in one ``python3``
process with non-blocking connects when the node has it (both node images do: the Azure Linux
agent is a Python program), instead of three processes per target (a subshell, ``timeout`` and
``nc``: 15,000 processes for 5000 nodes on a node that may be short of memory); without it, or
when it fails, the targets go through ``nc`` (OpenBSD netcat or Ncat) when present and bash's
``/dev/tcp`` under ``timeout`` otherwise. Egress TCP checks use ``nc`` or ``/dev/tcp``, ``/dev/udp`` for UDP and
``openssl s_client`` for the TLS check when installed.  Every dynamic value reaches the script
only as a positional parameter (Run Command ``parameters``), built and validated by
:func:`build_probe_parameters`; the script validates them again and refuses anything else.

Positional parameters (one token each, any order except that targets keep their order)::

    id=<[A-Za-z0-9_.-]{1,40}>     run id echoed in the begin/end markers
    timeout=<1..30>               per-target connect timeout in seconds (default 2)
    parallel=<1..256>             concurrent connects (default 32)
    method=auto|py|nc|devtcp      connect tool (default auto: py when python3 runs, else nc when it is OpenBSD/Ncat)
    port=<1..65535>               port the inspection focuses on (default 10250)
    t=<ipv4>:<port>  t=<ipv6>:<port>          one connect target (the port follows the last colon)
    r=<ipv4>+<count>:<port>       <count> (1..65536) consecutive IPv4 addresses from <ipv4>
    e=<tcp|tls|udp>:<host>:<port> one egress check; host is IPv4, IPv6 (no brackets) or a FQDN

Every parameter is a safe shell word (``_runcommand.SAFE_WORD_RE``): the Linux Run Command handler
pastes the values unquoted into the script (``export arg1=...`` / ``set -- ...``), so an IPv6 address
travels without brackets (``[...]`` is a glob) and :func:`build_probe_parameters` checks every word.

The ``r=`` form is the compact encoding of a target list (AKS node IPs are mostly
consecutive): :func:`build_probe_parameters` uses it for runs of 3+ consecutive addresses with
the same port.  5000 targets as ``t=`` tokens are about 90 KB of arguments, which bash accepts;
``r=`` usually makes it a few hundred bytes.  Targets are numbered 0..n-1 in expansion order.

Output format ``AKSTP1``
========================
Run Command keeps only the LAST 4096 bytes of stdout, so the script buffers everything and
prints it at the end, most important information last, and trims itself to fit 4096 bytes::

    AKSTP1 begin id=<id> checks=<c,...> n=<targets>
    @@<section> rc=<rc> bytes=<original size> [filtered=1] [trimmed=<bytes cut>] [bin=<tool>] [src=conf]
    <section text ...>                   sections: ss, ufw, iptables, iptables-legacy|iptables-nft, nft
    @@end
    E <i> <kind> <host>:<port> tcp=<status> [tls=ok|failed|no_openssl alpn=<proto|none>] [issuer=<...>] [udp=reply|no_reply|...]
    C rle <letter><count>...             per-target statuses, run-length encoded
    C p3 <base64url>                     ... or packed: 3 targets per char, 2 bits each (s=0 t=1 r=2 u=3)
    C x <letter> <i>[-<j>],...           with p3: targets whose status is not s/t/r/u
    C p2 <base64url>                     ... or packed: 2 targets per char, 3 bits each (s t r u d e x = 0..6)
    C cut <covered>                      only the first <covered> targets are in the (p2) map: it did not fit
    S n=<n> s=<k> t=<k> r=<k> u=<k> d=<k> e=<k> x=<k> secs=<s> par=<p> to=<t> m=<py|nc|devtcp>
    AKSTP1 end id=<id> n=<n> rc=<0|2>

Section text is the node's (rule comments, tool output): a line of it that starts with ``@``, ``\\``, ``[``
or ``AKS`` gets a leading ``\\`` (:mod:`_node_text`; the parser drops it), so it never reads as a section
header, an end line or Run Command's ``[stderr]``, and an iptables or nft rule whose comment holds newlines
is printed on one line (``\\n`` inside its quotes).

Status letters: ``s`` succeeded, ``t`` timed_out, ``r`` refused, ``u`` unreachable (no route /
host or network unreachable), ``d`` dns_failed, ``e`` error, ``x`` not_run.  Successes are not
listed individually: the map is the shortest of RLE, p3 (ceil(n/3) chars plus exception
ranges) and p2 (ceil(n/2) chars, lossless for every status: 2500 for 5000 targets), so any mix
of 5000 results fits together with up to 4 egress lines (at most 8 egress checks are accepted;
beyond the budget the p2 map keeps a prefix and says ``C cut``).

A target that timed out gets one more try after the first pass, when at most ``2 x parallel`` targets
timed out: a loaded VM (hundreds of connects in flight) can miss a kubelet that answers, and a node
reported unreachable costs an inspection Run Command; a target that times out twice stays ``t``, and
a node that blocks many targets is not retried (at most two more rounds of ``to`` seconds).

Egress line values: ``tcp=`` takes the status names above; ``tls=ok|failed|no_openssl`` with
``alpn=konnectivity`` when the server negotiated it and ``alpn=none`` when it did not (a TLS
inspecting firewall strips ALPN; ``issuer=`` then names its CA); ``udp=reply|no_reply|refused|
unreachable|error`` after sending an OpenVPN ``P_CONTROL_HARD_RESET_CLIENT_V2`` datagram
(``no_reply`` is inconclusive: a server with tls-auth ignores it).

Inspection sections get the room the tail leaves, in priority order ss, ufw, iptables,
iptables-legacy/-nft, nft: a section is printed in full when the later ones still fit in their
filtered form, else filtered (``filtered=1``), else filtered and cut at a line boundary
(``trimmed=<bytes>``).  ``ss`` keeps the header and the lines for the port; ``ufw`` filtered
keeps the header and the IPv4 rules whose "To" can cover the port; ``iptables`` always shows
only ``-P INPUT``, the chains INPUT reaches and their rules, and filtered only jumps and
verdict rules that can match the port; ``nft`` drops packet counters, and filtered keeps
table/chain/hook lines and verdict rules that can match the port, skipping nat/mangle/raw and
the tables iptables-nft manages (already shown as ``iptables``).

The ``ufw`` section avoids ``ufw status verbose`` (a Python program, by far the most expensive
command of the inspection): with ``src=conf`` it holds the same facts read where ufw itself
takes them - ``Status: active`` when the ``ufw-user-input`` chain is loaded in the ``iptables -S``
listing the script already makes (ufw's own test), ``Default: <in> (incoming), <out> (outgoing)``
from ``DEFAULT_INPUT_POLICY`` / ``DEFAULT_OUTPUT_POLICY`` in ``/etc/default/ufw``, ``Logging:`` and
``Config: ENABLED=<value>`` from ``/etc/ufw/ufw.conf``, then (when active) the rules of the
``ufw-user-input`` chain as ``-A ufw-user-input ...`` lines (filtered: those that can match the
port), which :func:`_firewall_parsers.parse_ufw_status` judges.  The script falls back to the
output of ``ufw status verbose`` (no ``src``) when a file is unreadable or iptables failed.  A missing ``end`` line means
the output was cut or the script died: :func:`parse_probe_output` then sets ``complete:
False``.  Bad parameters print ``@@error bad-arg <position>`` (never the value) and end with
``rc=2``.
"""

from __future__ import annotations

import ipaddress
import re

from ansible_collections.aks.tunnel.plugins.module_utils import _firewall_parsers as fw
from ansible_collections.aks.tunnel.plugins.module_utils import _node_text
from ansible_collections.aks.tunnel.plugins.module_utils._runcommand import SAFE_WORD_RE

FORMAT = 'AKSTP1'
OUTPUT_LIMIT = 4096
CHECKS = ('connect', 'egress', 'inspect')
EGRESS_KINDS = ('tcp', 'tls', 'udp')
METHODS = ('auto', 'py', 'nc', 'devtcp')
MAX_TARGETS = 10000
MAX_EGRESS = 8
TIMEOUT_RANGE = (1, 30)
PARALLEL_RANGE = (1, 256)
STATUS_BY_LETTER = {
    's': 'succeeded', 't': 'timed_out', 'r': 'refused', 'u': 'unreachable',
    'd': 'dns_failed', 'e': 'error', 'x': 'not_run',
}
LETTER_BY_STATUS = dict((v, k) for k, v in STATUS_BY_LETTER.items())
P3_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'
P3_LETTERS = 'stru'
P2_LETTERS = 'strudex'

_FQDN_RE = re.compile(r'^(?=.{1,253}$)([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)*[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.?$')
_RUN_ID_RE = re.compile(r'^[A-Za-z0-9_.-]{1,40}$')


class ProbeParameterError(ValueError):
    """A probe parameter is invalid (bad IP, port, host name, timeout, ...)."""


class ProbeOutputError(ValueError):
    """The probe output cannot be parsed (not AKSTP1 output, or targets that do not match)."""


# --------------------------------------------------------------------------- bash text

_HEAD = r'''#!/bin/bash
# aks.tunnel node probe, output format AKSTP1 (see aks.tunnel _probe_scripts.py).
# Every dynamic value arrives as a positional parameter and is validated below.
# shellcheck disable=SC2034  # some variables are used only by some combinations of checks
export LC_ALL=C PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
shopt -s extglob
AKSTP_LIMIT=4096
run_id=- to=2 par=32 method=auto iport=10250
T_HOST=() T_PORT=() E_KIND=() E_HOST=() E_PORT=()
AKSTP_SECS=()  # inspection sections: names in priority order, header attributes, text, filtered text
declare -A AKSTP_SH=() AKSTP_ST=() AKSTP_SF=() AKSTP_HASF=()
declare -A AKSTP_NAME=([s]=succeeded [t]=timed_out [r]=refused [u]=unreachable [d]=dns_failed [e]=error [x]=not_run)

akstp_fail() {
    printf '%s begin id=%s checks=%s n=0\n@@error %s\n%s end id=%s n=0 rc=2\n' \
        "AKSTP1" "$run_id" "$AKSTP_CHECKS" "$1" "AKSTP1" "$run_id"
    exit 2
}
akstp_ipv4() {
    [[ $1 =~ ^(0|[1-9][0-9]{0,2})\.(0|[1-9][0-9]{0,2})\.(0|[1-9][0-9]{0,2})\.(0|[1-9][0-9]{0,2})$ ]] || return 1
    local o
    for o in "${BASH_REMATCH[@]:1}"; do
        (( o <= 255 )) || return 1
    done
}
akstp_ipv6() { [[ $1 =~ ^[0-9A-Fa-f:.]{2,45}$ && $1 == *:* ]]; }
akstp_port() { [[ $1 =~ ^[1-9][0-9]{0,4}$ ]] && (( $1 <= 65535 )); }
akstp_fqdn() {
    (( ${#1} <= 253 )) && [[ $1 =~ ^([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)*[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.?$ ]]
}
akstp_int() { [[ $1 =~ ^[1-9][0-9]{0,4}$ ]] && (( $1 >= $2 && $1 <= $3 )); }

akstp_pos=0
for akstp_arg in "$@"; do
    akstp_pos=$((akstp_pos + 1))
    akstp_val=${akstp_arg#*=}
    case $akstp_arg in
        id=*) [[ $akstp_val =~ ^[A-Za-z0-9_.-]{1,40}$ ]] || akstp_fail "bad-arg $akstp_pos"; run_id=$akstp_val ;;
        timeout=*) akstp_int "$akstp_val" 1 30 || akstp_fail "bad-arg $akstp_pos"; to=$akstp_val ;;
        parallel=*) akstp_int "$akstp_val" 1 256 || akstp_fail "bad-arg $akstp_pos"; par=$akstp_val ;;
        method=auto|method=py|method=nc|method=devtcp) method=$akstp_val ;;
        port=*) akstp_port "$akstp_val" || akstp_fail "bad-arg $akstp_pos"; iport=$akstp_val ;;
        t=*|r=*) [[ $AKSTP_CHECKS == *connect* ]] || akstp_fail "bad-arg $akstp_pos (connect check not in this script)"
            akstp_p=${akstp_val##*:}
            akstp_h=${akstp_val%:*}
            akstp_port "$akstp_p" || akstp_fail "bad-arg $akstp_pos"
            if [[ $akstp_arg == t=* ]]; then
                if [[ $akstp_h == *:* ]]; then
                    akstp_ipv6 "$akstp_h" || akstp_fail "bad-arg $akstp_pos"
                else
                    akstp_ipv4 "$akstp_h" || akstp_fail "bad-arg $akstp_pos"
                fi
                T_HOST+=("$akstp_h")
                T_PORT+=("$akstp_p")
            else
                akstp_c=${akstp_h##*+}
                akstp_h=${akstp_h%+*}
                akstp_ipv4 "$akstp_h" || akstp_fail "bad-arg $akstp_pos"
                akstp_int "$akstp_c" 1 65536 || akstp_fail "bad-arg $akstp_pos"
                IFS=. read -r akstp_a akstp_b akstp_cc akstp_d <<<"$akstp_h"
                akstp_n=$(( (akstp_a << 24) + (akstp_b << 16) + (akstp_cc << 8) + akstp_d ))
                (( akstp_n + akstp_c - 1 <= 4294967295 )) || akstp_fail "bad-arg $akstp_pos"
                for (( akstp_i = 0; akstp_i < akstp_c; akstp_i++ )); do
                    akstp_v=$((akstp_n + akstp_i))
                    T_HOST+=("$(( (akstp_v >> 24) & 255 )).$(( (akstp_v >> 16) & 255 )).$(( (akstp_v >> 8) & 255 )).$(( akstp_v & 255 ))")
                    T_PORT+=("$akstp_p")
                done
            fi
            (( ${#T_HOST[@]} <= 10000 )) || akstp_fail "too-many-targets" ;;
        e=tcp:*|e=tls:*|e=udp:*) [[ $AKSTP_CHECKS == *egress* ]] || akstp_fail "bad-arg $akstp_pos (egress check not in this script)"
            akstp_k=${akstp_val%%:*}
            akstp_rest=${akstp_val#*:}
            akstp_p=${akstp_rest##*:}
            akstp_h=${akstp_rest%:*}
            akstp_port "$akstp_p" || akstp_fail "bad-arg $akstp_pos"
            if [[ $akstp_h == *:* ]]; then
                akstp_ipv6 "$akstp_h" || akstp_fail "bad-arg $akstp_pos"
                akstp_h="[$akstp_h]"
            else
                akstp_ipv4 "$akstp_h" || akstp_fqdn "$akstp_h" || akstp_fail "bad-arg $akstp_pos"
            fi
            (( ${#E_KIND[@]} < 8 )) || akstp_fail "too-many-egress"
            E_KIND+=("$akstp_k")
            E_HOST+=("$akstp_h")
            E_PORT+=("$akstp_p") ;;
        *) akstp_fail "bad-arg $akstp_pos" ;;
    esac
done

akstp_tmp=$(mktemp -d /tmp/akstp.XXXXXXXX) || akstp_fail "mktemp"
trap 'rm -rf "$akstp_tmp"' EXIT
akstp_start=$SECONDS
use_nc=0
if [ "$method" != devtcp ] && [[ $AKSTP_CHECKS == *connect* || $AKSTP_CHECKS == *egress* ]] && command -v nc >/dev/null 2>&1; then
    # (TCP checks only) only netcats whose -z/-w/-n/-v behave as expected (OpenBSD netcat, Ncat with -z)
    akstp_nchelp=$(nc -h 2>&1 | head -c 4000)
    case $akstp_nchelp in
        *OpenBSD*|*Ncat*|*ncat*) [[ $akstp_nchelp == *"-z"* ]] && use_nc=1 ;;
    esac
fi
if [ "$method" = nc ] && [ "$use_nc" = 0 ]; then
    method=devtcp
fi
[ "$use_nc" = 1 ] && akstp_m=nc || akstp_m=devtcp
# connect check: one python3 process for all targets (method auto or py) when the node has python3
use_py=0
if [[ $method == auto || $method == py ]] && [[ $AKSTP_CHECKS == *connect* ]] && command -v python3 >/dev/null 2>&1; then
    use_py=1
    akstp_m=py
fi

# akstp_classify <rc> <text>: sets R to a status letter (s t r u d e).
akstp_classify() {
    case $1 in
        0) R=s; return ;;
        124|137) R=t; return ;;
    esac
    case ${2,,} in
        *refused*) R=r ;;
        *"no route"*|*unreachable*|*"host is down"*) R=u ;;
        *"timed out"*|*timeout*|*"in progress"*) R=t ;;
        *"not known"*|*"name or service"*|*"temporary failure in name"*|*"could not resolve"*|*"no address"*) R=d ;;
        *) R=e ;;
    esac
}
# akstp_tcp <host> <port> <numeric 0|1>: TCP connect; sets R.
akstp_tcp() {
    local out rc
    if [ "$use_nc" = 1 ]; then
        if [ "$3" = 1 ]; then
            out=$(timeout "$((to + 1))" nc -v -z -n -w "$to" "$1" "$2" 2>&1 </dev/null)
        else
            out=$(timeout "$((to + 1))" nc -v -z -w "$to" "$1" "$2" 2>&1 </dev/null)
        fi
        rc=$?
    else
        # shellcheck disable=SC2016  # $1/$2 are expanded by the inner bash
        out=$(timeout "$to" bash -c 'exec 3<>"/dev/tcp/$1/$2"' akstp "$1" "$2" 2>&1 </dev/null)
        rc=$?
    fi
    akstp_classify "$rc" "$out"
}
# The connect check in one process: non-blocking connects, at most <parallel> in flight, each given <timeout>
# seconds; argv: <targets file "index host port" lines> <result file> <timeout> <parallel>; one "<index> <letter>"
# line per target, letters as akstp_classify sets them from the errno that nc would print.
read -r -d '' AKSTP_PY <<'AKSTP_PY_END'
import errno, selectors, socket, struct, sys, time
src, dst, limit, par = sys.argv[1], sys.argv[2], float(sys.argv[3]), int(sys.argv[4])
with open(src) as f:
    todo = [line.split() for line in f if line.strip()]
todo.reverse()
unreachable = (errno.EHOSTUNREACH, errno.ENETUNREACH, getattr(errno, 'EHOSTDOWN', errno.EHOSTUNREACH))
pending = (errno.EINPROGRESS, errno.EAGAIN, errno.EWOULDBLOCK, errno.EALREADY)


def letter(err):
    if err == 0:
        return 's'
    if err == errno.ECONNREFUSED:
        return 'r'
    if err in unreachable:
        return 'u'
    if err == errno.ETIMEDOUT:
        return 't'
    return 'e'


sel = selectors.DefaultSelector()
out = []


def finish(key, result):
    sel.unregister(key.fileobj)
    if result == 's':
        # close with a reset, as a SYN scan does: the kubelet's kernel drops the connection at once (no FIN
        # exchange, no TIME_WAIT here; a server that defers accept() until data never sees it)
        key.fileobj.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack('ii', 1, 0))
    key.fileobj.close()
    out.append('%s %s\n' % (key.data[0], result))


while todo or sel.get_map():
    while todo and len(sel.get_map()) < par:
        idx, host, port = todo.pop()
        try:
            sock = socket.socket(socket.AF_INET6 if ':' in host else socket.AF_INET, socket.SOCK_STREAM)
        except OSError:
            out.append('%s e\n' % idx)
            continue
        sock.setblocking(False)
        try:
            err = sock.connect_ex((host, int(port)))
        except (OSError, ValueError):
            err = -1
        if err in pending:
            sel.register(sock, selectors.EVENT_WRITE, (idx, time.monotonic() + limit))
        else:
            sock.close()
            out.append('%s %s\n' % (idx, letter(err)))
    if not sel.get_map():
        continue
    wait = min(key.data[1] for key in sel.get_map().values()) - time.monotonic()
    for key, _events in sel.select(max(wait, 0)):
        finish(key, letter(key.fileobj.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)))
    now = time.monotonic()
    for key in [k for k in sel.get_map().values() if k.data[1] <= now]:
        finish(key, 't')
with open(dst, 'w') as f:
    f.writelines(out)
AKSTP_PY_END
# akstp_connect_all <result file> <target index>...: a connect to each, at most $par at a time; one "<index> <letter>"
# line each. python3 first (use_py); if it fails or answers for fewer targets, nc or /dev/tcp for all of them.
akstp_connect_all() {
    local file=$1 running=0 i
    shift
    : >"$file"
    if [ "$use_py" = 1 ]; then
        for i in "$@"; do printf '%d %s %s\n' "$i" "${T_HOST[i]}" "${T_PORT[i]}"; done >"$akstp_tmp/py.in"
        if python3 -c "$AKSTP_PY" "$akstp_tmp/py.in" "$akstp_tmp/py.out" "$to" "$par" </dev/null >/dev/null 2>&1; then
            mapfile -t akstp_pyres <"$akstp_tmp/py.out"
            if (( ${#akstp_pyres[@]} == $# )); then
                cat "$akstp_tmp/py.out" >"$file"
                return
            fi
        fi
        use_py=0
        [ "$use_nc" = 1 ] && akstp_m=nc || akstp_m=devtcp
    fi
    for i in "$@"; do
        { akstp_tcp "${T_HOST[i]}" "${T_PORT[i]}" 1; printf '%d %s\n' "$i" "$R" >>"$file"; } &
        running=$((running + 1))
        if (( running >= par )); then
            wait -n
            running=$((running - 1))
        fi
    done
    wait
}
'''

_CONNECT = r'''
# ---- connect: all targets, bounded parallelism, one result line per target
akstp_n=${#T_HOST[@]}
akstp_all=()
for (( i = 0; i < akstp_n; i++ )); do akstp_all+=("$i"); done
akstp_connect_all "$akstp_tmp/res" "${akstp_all[@]}"
S=()
for (( i = 0; i < akstp_n; i++ )); do S[i]=x; done
while read -r i c; do
    [[ $i =~ ^[0-9]+$ && $c =~ ^[strudex]$ ]] && (( i < akstp_n )) && S[i]=$c
done <"$akstp_tmp/res"
# A busy node (hundreds of connects in flight on a loaded VM) can time out on a kubelet that answers:
# the timed-out targets get one more try, at most AKSTP_RETRY_MAX of them (a fully blocked node costs
# at most two more rounds of `to` seconds); a target that times out twice stays timed out.
AKSTP_RETRY_MAX=$((par * 2))
akstp_retry=()
for (( i = 0; i < akstp_n; i++ )); do
    [ "${S[i]}" = t ] && akstp_retry+=("$i")
done
if (( ${#akstp_retry[@]} > 0 && ${#akstp_retry[@]} <= AKSTP_RETRY_MAX )); then
    akstp_connect_all "$akstp_tmp/res2" "${akstp_retry[@]}"
    while read -r i c; do
        [[ $i =~ ^[0-9]+$ && $c =~ ^[strudex]$ ]] && (( i < akstp_n )) && [ "${S[i]}" = t ] && S[i]=$c
    done <"$akstp_tmp/res2"
fi
declare -A akstp_cnt=([s]=0 [t]=0 [r]=0 [u]=0 [d]=0 [e]=0 [x]=0)
# run-length encoding
akstp_rle="" akstp_prev="" akstp_run=0
for (( i = 0; i < akstp_n; i++ )); do
    c=${S[i]}
    akstp_cnt[$c]=$(( akstp_cnt[$c] + 1 ))
    if [ "$c" = "$akstp_prev" ]; then
        akstp_run=$((akstp_run + 1))
    else
        [ -n "$akstp_prev" ] && akstp_rle+="$akstp_prev$akstp_run"
        akstp_prev=$c
        akstp_run=1
    fi
done
[ -n "$akstp_prev" ] && akstp_rle+="$akstp_prev$akstp_run"
# packed: 3 targets per base64url char (s=0 t=1 r=2 u=3), others listed as index ranges
B64=ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_
declare -A V=([s]=0 [t]=1 [r]=2 [u]=3 [d]=0 [e]=0 [x]=0)
akstp_p3=""
for (( i = 0; i < akstp_n; i += 3 )); do
    a=${V[${S[i]}]}
    b=0
    c=0
    (( i + 1 < akstp_n )) && b=${V[${S[i + 1]}]}
    (( i + 2 < akstp_n )) && c=${V[${S[i + 2]}]}
    akstp_p3+=${B64:$(( a * 16 + b * 4 + c )):1}
done
akstp_x=""
for l in d e x; do
    (( akstp_cnt[$l] > 0 )) || continue
    ranges="" start=-1 last=-2
    for (( i = 0; i <= akstp_n; i++ )); do
        if (( i < akstp_n )) && [ "${S[i]}" = "$l" ]; then
            if (( i != last + 1 )); then
                (( start >= 0 )) && { (( start == last )) && ranges+="$start," || ranges+="$start-$last,"; }
                start=$i
            fi
            last=$i
        fi
    done
    (( start >= 0 )) && { (( start == last )) && ranges+="$start," || ranges+="$start-$last,"; }
    akstp_x+="C x $l ${ranges%,}"$'\n'
done
# packed: 2 targets per char, 3 bits each, lossless for every letter
declare -A V2=([s]=0 [t]=1 [r]=2 [u]=3 [d]=4 [e]=5 [x]=6)
akstp_p2=""
for (( i = 0; i < akstp_n; i += 2 )); do
    a=${V2[${S[i]}]}
    b=0
    (( i + 1 < akstp_n )) && b=${V2[${S[i + 1]}]}
    akstp_p2+=${B64:$(( a * 8 + b )):1}
done
akstp_map="C rle $akstp_rle"$'\n'
if (( ${#akstp_p3} + ${#akstp_x} < ${#akstp_map} && ${#akstp_p3} + ${#akstp_x} <= ${#akstp_p2} )); then
    akstp_map="C p3 $akstp_p3"$'\n'"$akstp_x"
elif (( ${#akstp_p2} + 6 < ${#akstp_map} )); then
    akstp_map="C p2 $akstp_p2"$'\n'
fi
'''

_CONNECT_NONE = r'''
akstp_n=0
akstp_map=""
akstp_p2=""
declare -A akstp_cnt=([s]=0 [t]=0 [r]=0 [u]=0 [d]=0 [e]=0 [x]=0)
'''

_EGRESS = r'''
# ---- egress checks, one line each
AKSTP_OVPN='\070\001\002\003\004\005\006\007\010\000\000\000\000\000'
akstp_egress=""
for (( i = 0; i < ${#E_KIND[@]}; i++ )); do
    k=${E_KIND[i]} h=${E_HOST[i]} p=${E_PORT[i]}
    hb=${h#[}
    hb=${hb%]}
    line="E $i $k $h:$p"
    if [ "$k" = udp ]; then
        # shellcheck disable=SC2016  # expanded by the inner bash
        out=$(timeout "$((to + 2))" bash -c '
            exec 3<>"/dev/udp/$1/$2" || exit 3
            printf "$3" >&3 || exit 4
            x=""
            IFS= read -r -d "" -t "$4" x <&3
            rc=$?
            if [ "$rc" = 0 ] || [ -n "$x" ]; then echo reply; exit 0; fi
            if [ "$rc" -gt 128 ]; then echo no_reply; exit 0; fi
            exit 5' akstp "$hb" "$p" "$AKSTP_OVPN" "$to" 2>&1 </dev/null)
        rc=$?
        case $out in
            *no_reply*) line+=" udp=no_reply" ;;
            *reply*) line+=" udp=reply" ;;
            *) akstp_classify "$rc" "$out"; line+=" udp=${AKSTP_NAME[$R]}" ;;
        esac
    else
        akstp_tcp "$hb" "$p" 0
        line+=" tcp=${AKSTP_NAME[$R]}"
        if [ "$k" = tls ] && [ "$R" = s ]; then
            if command -v openssl >/dev/null 2>&1; then
                sni=()
                [[ $hb == *[A-Za-z]* && $hb != *:* ]] && sni=(-servername "$hb")
                out=$(timeout "$((to + 3))" openssl s_client -connect "$h:$p" "${sni[@]}" -alpn konnectivity </dev/null 2>&1 | head -c 65536)
                tls=failed alpn=none issuer=-
                while IFS= read -r l; do
                    case $l in
                        "ALPN protocol: "*) alpn=${l#ALPN protocol: } ;;
                        "SSL handshake has read "*|"New, TLS"*|"New, SSL"*) tls=ok ;;
                        issuer=*) issuer=${l#issuer=} ;;
                    esac
                done <<<"$out"
                [[ $out == *"Cipher is (NONE)"* ]] && tls=failed
                alpn=${alpn//[^A-Za-z0-9._\/-]/_}
                issuer=${issuer//[^A-Za-z0-9=,.:_-]/_}
                line+=" tls=$tls alpn=${alpn:0:40} issuer=${issuer:0:80}"
            else
                line+=" tls=no_openssl"
            fi
        fi
    fi
    akstp_egress+="$line"$'\n'
done
'''

_EGRESS_NONE = r'''
akstp_egress=""
'''

_INSPECT = r'''
# ---- inspection: every section is kept in variables and assembled later within the budget.
# Kept cheap (a busy node runs it; in the lab dozens of nodes share a few CPUs): no Python
# (`ufw status verbose` is a Python program: its facts are read where ufw takes them, below),
# and files are read with the `read` builtin, not cat/wc.
# akstp_covers <port-list> <port>: true when 22,10000:11000 / 10000-11000 covers the port
akstp_covers() {
    local item lo hi items
    IFS=', ' read -ra items <<<"${1//[\{\}]/ }"
    for item in "${items[@]}"; do
        lo=${item%%[:-]*}
        hi=${item##*[:-]}
        [[ $lo =~ ^[0-9]+$ && $hi =~ ^[0-9]+$ ]] || continue
        (( lo <= $2 && $2 <= hi )) && return 0
    done
    return 1
}
# akstp_canmatch <iptables rule>: true when the rule can match TCP to the inspected port
akstp_canmatch() {
    if [[ $1 =~ (^|\ )(!\ )?--(dport|dports|destination-port|destination-ports)\ ([^ ]+) ]]; then
        [ -n "${BASH_REMATCH[2]}" ] || akstp_covers "${BASH_REMATCH[4]}" "$iport"
    else
        [[ ! $1 =~ -p\ (udp|icmp|icmpv6|17|1|58)( |$) ]]
    fi
}
akstp_slurp() { IFS= read -r -d '' "$1" <"$2"; return 0; } # akstp_slurp <var> <file>: whole file, no fork
# akstp_oneline <file> [nft]: iptables and nft print a comment's newlines as they are (iptables escapes
# only " \ ', nft nothing: its strings hold no "), so one rule can span lines whose text the comment's
# author chose ("-A INPUT ... -j ACCEPT"); such a rule is put back on one line, each newline shown as \n
# inside its quotes.  Only a listing with a line that ends inside quotes is rewritten.
akstp_oneline() {
    local raw t l q out="" part="" re=$'(^|\n)[^"\n]*("[^"\n]*"[^"\n]*)*"[^"\n]*\n'
    akstp_slurp raw "$1"
    t=$raw
    [ "${2-}" = nft ] || { t=${t//\\\\/}; t=${t//\\\"/}; }
    [[ $t =~ $re ]] || return 0
    while IFS= read -r l || [ -n "$l" ]; do
        [ -n "$part" ] && l="$part\\n$l" part=""
        if [[ $l == *\"* ]]; then
            t=$l
            [ "${2-}" = nft ] || { t=${t//\\\\/}; t=${t//\\\"/}; }
            q=${t//[^\"]/}
            (( ${#q} % 2 )) && { part=$l; continue; }
        fi
        out+="$l"$'\n'
    done <"$1"
    [ -n "$part" ] && out+="$part"$'\n'
    printf '%s' "$out" >"$1"
}
akstp_raw=""
akstp_esc() { # AKSTP_E = $1 with a \ before each line that starts with @, \, [ or AKS
    # node text (a rule comment, a hostname) must never read as a section marker, an end line or
    # Run Command's [stderr] separator; parse_probe_output drops the \ again
    local t=$'\n'$1 nl=$'\n' bs=$'\n\\'
    t=${t//"$nl\\"/"$bs\\"}
    t=${t//"$nl@"/"$bs@"}
    t=${t//"${nl}["/"${bs}["}
    t=${t//"${nl}AKS"/"${bs}AKS"}
    AKSTP_E=${t#"$nl"}
}
akstp_sec() { # akstp_sec <name> <header-attrs> <text> [<filtered text>]: register a section
    AKSTP_SECS+=("$1")
    AKSTP_SH[$1]=$2
    akstp_esc "$3"
    AKSTP_ST[$1]=$AKSTP_E
    if (( $# >= 4 )); then
        akstp_esc "$4"
        AKSTP_SF[$1]=$AKSTP_E
        AKSTP_HASF[$1]=1
    fi
}

# ss: header + lines for the inspected port
if command -v ss >/dev/null 2>&1; then
    ss -ltn >"$akstp_tmp/raw.ss" 2>&1
    rc=$?
    akstp_slurp akstp_raw "$akstp_tmp/raw.ss"
    akstp_txt=""
    while IFS= read -r l; do
        case $l in
            State*|*:"$iport"" "*) akstp_txt+="$l"$'\n' ;;
        esac
    done <"$akstp_tmp/raw.ss"
    akstp_sec ss "rc=$rc bytes=${#akstp_raw} filtered=1" "$akstp_txt"
else
    akstp_sec ss "rc=127 bytes=0" "ss: not installed"$'\n'
fi

# tls: does what listens on the port complete a TLS handshake (the kubelet serves only TLS)?  Checked on
# the listener's own address (127.0.0.1 for a wildcard one); only when the handshake fails after the
# connect, a plain HTTP request shows whether the port answers HTTP without TLS.
akstp_laddr=""
if [ -f "$akstp_tmp/raw.ss" ]; then
    while IFS= read -r l; do
        read -ra akstp_f <<<"$l"
        [[ ${akstp_f[0]} == LISTEN && ${akstp_f[3]##*:} == "$iport" ]] || continue
        akstp_a=${akstp_f[3]%:*}
        akstp_a=${akstp_a#[}
        akstp_a=${akstp_a%]}
        akstp_a=${akstp_a%%%*}
        case $akstp_a in
            '*'|0.0.0.0|::) akstp_laddr=127.0.0.1; break ;;
            *) [ -n "$akstp_laddr" ] || akstp_laddr=$akstp_a ;;
        esac
    done <"$akstp_tmp/raw.ss"
fi
akstp_tls=not_listening akstp_http=- akstp_answer=- akstp_hp=-
if [ -n "$akstp_laddr" ]; then
    akstp_hp="$akstp_laddr:$iport"
    [[ $akstp_laddr == *:* ]] && akstp_hp="[$akstp_laddr]:$iport"
    if command -v openssl >/dev/null 2>&1; then
        out=$(timeout "$((to + 3))" openssl s_client -connect "$akstp_hp" </dev/null 2>&1 | head -c 65536
              printf '\nakstp-rc=%s' "${PIPESTATUS[0]}")
        rc=${out##*akstp-rc=}
        out=${out%akstp-rc=*}
        if [[ $out == *"Cipher is (NONE)"* ]]; then
            akstp_tls=failed
        elif [[ $out == *"SSL handshake has read "* || $out == *"New, TLS"* || $out == *"New, SSL"* ]]; then
            akstp_tls=ok
        elif [[ $out == *CONNECTED* ]]; then
            akstp_tls=failed
        else
            [ "$rc" = 0 ] && rc=1
            akstp_classify "$rc" "$out"
            akstp_tls=connect_${AKSTP_NAME[$R]}
        fi
        if [ "$akstp_tls" = failed ]; then
            # shellcheck disable=SC2016  # expanded by the inner bash
            out=$(timeout "$to" bash -c 'exec 3<>"/dev/tcp/$1/$2" || exit 3
                printf "GET /healthz HTTP/1.0\r\nHost: localhost\r\n\r\n" >&3
                IFS= read -r -t "$3" l <&3
                printf "%s" "$l"' akstp "$akstp_laddr" "$iport" "$to" 2>/dev/null </dev/null)
            if [[ $out == HTTP/* ]]; then
                akstp_http=plain
                akstp_answer=${out%$'\r'}
                akstp_answer=${akstp_answer//[^A-Za-z0-9._\/-]/_}
                akstp_answer=${akstp_answer:0:60}
            else
                akstp_http=no
            fi
        fi
    else
        akstp_tls=no_openssl
    fi
fi
akstp_txt="tls=$akstp_tls addr=$akstp_hp http=$akstp_http answer=$akstp_answer"$'\n'
akstp_sec tls "rc=0 bytes=${#akstp_txt}" "$akstp_txt"

# the filter table as iptables lists it (also read by the ufw section)
akstp_ipt_rc=127
if command -v iptables >/dev/null 2>&1; then
    timeout 20 iptables -w -S >"$akstp_tmp/raw.iptables" 2>&1
    akstp_ipt_rc=$?
    akstp_oneline "$akstp_tmp/raw.iptables"
fi

# ufw: what `ufw status verbose` reports, taken where ufw itself takes it: ufw is active when its
# ufw-user-input chain is loaded (ufw's own test), the default policies come from /etc/default/ufw,
# logging from /etc/ufw/ufw.conf, and the rules are shown as loaded in ufw-user-input.  The Python
# `ufw status verbose` runs only when the files or the iptables listing are not available.
akstp_conf() { # akstp_conf <file> <KEY>: AKSTP_V = the value of the last KEY=value (unquoted); false if unreadable
    local l re="^[[:space:]]*$2=[[:space:]]*[\"']?([^\"'[:space:]#]*)"
    AKSTP_V=""
    [ -f "$1" ] && [ -r "$1" ] || return 1
    while IFS= read -r l || [ -n "$l" ]; do
        [[ $l == *"$2="* && $l =~ $re ]] && AKSTP_V=${BASH_REMATCH[1]}
    done <"$1"
    return 0
}
akstp_ufwpol() { # AKSTP_POL = ufw's name for a policy
    case ${1,,} in
        accept) AKSTP_POL=allow ;;
        accept_no_track) AKSTP_POL="allow-without-tracking" ;;
        reject) AKSTP_POL=reject ;;
        *) AKSTP_POL=deny ;;
    esac
}
if command -v ufw >/dev/null 2>&1; then
    akstp_via=status
    if [ "$akstp_ipt_rc" = 0 ] && akstp_conf /etc/default/ufw DEFAULT_INPUT_POLICY && [ -n "$AKSTP_V" ]; then
        akstp_ufwpol "$AKSTP_V"
        akstp_in=$AKSTP_POL
        akstp_conf /etc/default/ufw DEFAULT_OUTPUT_POLICY
        akstp_ufwpol "$AKSTP_V"
        akstp_out=$AKSTP_POL
        if akstp_conf /etc/ufw/ufw.conf ENABLED; then
            akstp_enabled=${AKSTP_V:-unset}
            akstp_conf /etc/ufw/ufw.conf LOGLEVEL
            akstp_log=${AKSTP_V,,}
            akstp_via=conf
        fi
    fi
    if [ "$akstp_via" = conf ]; then
        akstp_active=inactive akstp_rules="" akstp_frules=""
        while IFS= read -r l; do
            case $l in
                "-N ufw-user-input") akstp_active=active ;;
                "-A ufw-user-input "*)
                    akstp_rules+="$l"$'\n'
                    akstp_canmatch "$l" && akstp_frules+="$l"$'\n' ;;
            esac
        done <"$akstp_tmp/raw.iptables"
        [ "$akstp_log" = off ] && akstp_log="Logging: off" || akstp_log="Logging: on (${akstp_log:-low})"
        akstp_txt="Status: $akstp_active"$'\n'"$akstp_log"$'\n'"Default: $akstp_in (incoming), $akstp_out (outgoing)"$'\n'
        akstp_txt+="Config: ENABLED=${akstp_enabled//[^A-Za-z0-9_-]/_} in /etc/ufw/ufw.conf"$'\n'
        if [ "$akstp_active" = active ]; then
            akstp_txt+="Rules: as loaded in the iptables chain ufw-user-input"$'\n'
            akstp_sec ufw "rc=0 bytes=$(( ${#akstp_txt} + ${#akstp_rules} )) src=conf" "$akstp_txt$akstp_rules" "$akstp_txt$akstp_frules"
        else
            akstp_sec ufw "rc=0 bytes=${#akstp_txt} src=conf" "$akstp_txt"
        fi
    else
        timeout 20 ufw status verbose >"$akstp_tmp/raw.ufw" 2>&1
        rc=$?
        akstp_slurp akstp_raw "$akstp_tmp/raw.ufw"
        # filtered variant: the header and the IPv4 rules whose "To" can cover the port
        akstp_intable=0 akstp_txt=""
        while IFS= read -r l; do
            if [ "$akstp_intable" = 0 ]; then
                akstp_txt+="$l"$'\n'
                [[ $l == --+( )-* ]] && akstp_intable=1
                continue
            fi
            [[ $l == *"(v6)"* || -z $l ]] && continue
            akstp_to=${l%%  *}
            akstp_to=${akstp_to%% on *}
            if [[ $akstp_to =~ ^([0-9,:]+)(/(tcp|udp))?$ ]]; then
                [ "${BASH_REMATCH[3]}" = udp ] && continue
                akstp_covers "${BASH_REMATCH[1]}" "$iport" || continue
            fi
            akstp_txt+="$l"$'\n'
        done <"$akstp_tmp/raw.ufw"
        akstp_sec ufw "rc=$rc bytes=${#akstp_raw}" "$akstp_raw" "$akstp_txt"
    fi
else
    akstp_sec ufw "rc=127 bytes=0" "ufw: not installed"$'\n' "ufw: not installed"$'\n'
fi

# iptables: INPUT and every chain it reaches (filter table)
akstp_ipt() { # akstp_ipt <binary> <section> <rc>: from $akstp_tmp/raw.<section>
    local bin=$1 name=$2 rc=$3 l changed from to raw full filt
    akstp_slurp raw "$akstp_tmp/raw.$name"
    local -a L=()
    mapfile -t L <"$akstp_tmp/raw.$name"
    local -A chain=() reach=([INPUT]=1)
    for l in "${L[@]}"; do
        [[ $l == "-N "* ]] && chain[${l#-N }]=1
    done
    changed=1
    while [ "$changed" = 1 ]; do
        changed=0
        for l in "${L[@]}"; do
            [[ $l == "-A "*" -"[jg]" "* && $l =~ ^-A\ ([^ ]+)\ .*-[jg]\ ([^ ]+)( |$) ]] || continue
            from=${BASH_REMATCH[1]} to=${BASH_REMATCH[2]}
            if [ -n "${reach[$from]}" ] && [ -n "${chain[$to]}" ] && [ -z "${reach[$to]}" ]; then
                reach[$to]=1
                changed=1
            fi
        done
    done
    # full: INPUT policy, reachable chains and their rules; filtered: policies, chains, jumps,
    # and verdict rules that can match the port
    full="" filt=""
    for l in "${L[@]}"; do
        case $l in
            "-P INPUT "*) full+="$l"$'\n' filt+="$l"$'\n' ;;
            "-N "*) [ -n "${reach[${l#-N }]}" ] && full+="$l"$'\n' filt+="$l"$'\n' ;;
            "-A "*)
                from=${l#-A }; from=${from%% *}
                [ -n "${reach[$from]}" ] || continue
                full+="$l"$'\n'
                if [[ $l =~ \ -[jg]\ ([^ ]+) ]] && [ -n "${chain[${BASH_REMATCH[1]}]}" ]; then
                    filt+="$l"$'\n'
                elif [[ $l =~ \ -j\ (ACCEPT|DROP|REJECT|RETURN)( |$) ]] && akstp_canmatch "$l"; then
                    filt+="$l"$'\n'
                fi ;;
            -P*) ;;
            *) full+="$l"$'\n' ;;
        esac
    done
    akstp_sec "$name" "rc=$rc bytes=${#raw} bin=$bin" "$full" "$filt"
}
if [ "$akstp_ipt_rc" != 127 ]; then
    akstp_ipt iptables iptables "$akstp_ipt_rc"
    akstp_iv=$(iptables -V 2>&1)
    if [[ $akstp_iv == *nf_tables* ]] && command -v iptables-legacy >/dev/null 2>&1; then
        akstp_alt=iptables-legacy
    elif [[ $akstp_iv != *nf_tables* ]] && command -v iptables-nft >/dev/null 2>&1; then
        akstp_alt=iptables-nft
    else
        akstp_alt=""
    fi
    # the other backend is shown only when it has rules (or a blocking INPUT policy)
    if [ -n "$akstp_alt" ]; then
        timeout 20 "$akstp_alt" -w -S >"$akstp_tmp/raw.$akstp_alt" 2>/dev/null
        rc=$?
        akstp_oneline "$akstp_tmp/raw.$akstp_alt"
        while IFS= read -r l; do
            if [[ $l == "-A "* || $l == "-P INPUT DROP" || $l == "-P INPUT REJECT" ]]; then
                akstp_ipt "$akstp_alt" "$akstp_alt" "$rc"
                break
            fi
        done <"$akstp_tmp/raw.$akstp_alt"
    fi
else
    akstp_sec iptables "rc=127 bytes=0" "iptables: not installed"$'\n'
fi

# nft: with rule handles (-a: the exact `nft delete rule ... handle N` a finding advises), without packet
# counters; filtered variant keeps structure and relevant verdict rules
if command -v nft >/dev/null 2>&1; then
    timeout 20 nft -a list ruleset >"$akstp_tmp/raw.nft" 2>&1
    rc=$?
    akstp_oneline "$akstp_tmp/raw.nft" nft
    akstp_slurp akstp_raw "$akstp_tmp/raw.nft"
    akstp_skip=0 akstp_iptnft=0 akstp_txt="" akstp_ftxt=""
    while IFS= read -r l; do
        if [[ $l == *"counter packets "* ]]; then
            akstp_txt+="${l//counter packets +([0-9]) bytes +([0-9])/counter}"$'\n'
            l=${l//counter packets +([0-9]) bytes +([0-9]) /}
        else
            akstp_txt+="$l"$'\n'
        fi
        t=${l##+([[:space:]])}
        case $t in
            "# Warning: table "*"iptables-nft"*) akstp_iptnft=1; continue ;;
            "table ip nat "*|"table ip6 nat "*|"table ip mangle "*|"table ip6 mangle "*|\
            "table ip raw "*|"table ip6 raw "*|"table ip security "*|"table ip6 security "*)
                # the warning nft printed before this table is about this table only
                akstp_skip=1 akstp_iptnft=0; continue ;;
            "table "*)
                # tables managed by iptables-nft are shown by the iptables section already
                akstp_skip=$akstp_iptnft
                akstp_iptnft=0
                [ "$akstp_skip" = 1 ] || akstp_ftxt+="$t"$'\n'
                continue ;;
        esac
        [ "$akstp_skip" = 1 ] && continue
        case $t in
            "chain "*|"type "*|"}"*) akstp_ftxt+="$t"$'\n' ;;
            *drop*|*reject*|*accept*|*jump*|*goto*)
                if [[ $t =~ (tcp|th)\ dport\ (!=\ )?(\{[^}]*\}|[^ ]+) ]]; then
                    if [ -n "${BASH_REMATCH[2]}" ] || akstp_covers "${BASH_REMATCH[3]}" "$iport"; then
                        akstp_ftxt+="$t"$'\n'
                    fi
                elif [[ ! $t =~ (udp\ |icmp|l4proto\ (udp|icmp)) ]]; then
                    akstp_ftxt+="$t"$'\n'
                fi ;;
        esac
    done <"$akstp_tmp/raw.nft"
    akstp_sec nft "rc=$rc bytes=${#akstp_raw}" "$akstp_txt" "$akstp_ftxt"
else
    akstp_sec nft "rc=127 bytes=0" "nft: not installed"$'\n'
fi
'''

_ASSEMBLE = r'''
# ---- assemble: tail first (it must fit), inspection sections get what is left
akstp_secs=$((SECONDS - akstp_start))
akstp_summary="S n=$akstp_n s=${akstp_cnt[s]} t=${akstp_cnt[t]} r=${akstp_cnt[r]} u=${akstp_cnt[u]}"
akstp_summary+=" d=${akstp_cnt[d]} e=${akstp_cnt[e]} x=${akstp_cnt[x]} secs=$akstp_secs par=$par to=$to m=$akstp_m"
akstp_begin="AKSTP1 begin id=$run_id checks=$AKSTP_CHECKS n=$akstp_n"
akstp_end="AKSTP1 end id=$run_id n=$akstp_n rc=0"
akstp_fixed=$(( ${#akstp_begin} + ${#akstp_egress} + ${#akstp_summary} + ${#akstp_end} + 3 + 16 ))
if (( akstp_fixed + ${#akstp_map} > AKSTP_LIMIT )); then
    # only possible for very large target lists: keep a prefix of the packed map
    akstp_room=$(( AKSTP_LIMIT - akstp_fixed - 40 ))
    (( akstp_room < 0 )) && akstp_room=0
    akstp_map="C p2 ${akstp_p2:0:akstp_room}"$'\n'"C cut $(( akstp_room * 2 < akstp_n ? akstp_room * 2 : akstp_n ))"$'\n'
fi
akstp_tail="$akstp_egress$akstp_map$akstp_summary"$'\n'"$akstp_end"
akstp_room=$(( AKSTP_LIMIT - ${#akstp_begin} - 1 - ${#akstp_tail} - 1 - 6 ))
akstp_body=""
if [[ $AKSTP_CHECKS == *inspect* ]] && (( ${#AKSTP_SECS[@]} > 0 )); then
    # sections in priority order (ss, ufw, iptables, ..., nft): a section is printed in full when
    # the later ones still fit filtered, else filtered, else filtered and cut at a line boundary
    akstp_cnt_sec=${#AKSTP_SECS[@]}
    for (( k = 0; k < akstp_cnt_sec; k++ )); do
        name=${AKSTP_SECS[k]}
        hdr="@@$name ${AKSTP_SH[$name]}"
        later_min=0 later_filtered=0
        for (( j = k + 1; j < akstp_cnt_sec; j++ )); do
            later_min=$(( later_min + 80 ))
            if [ -n "${AKSTP_HASF[${AKSTP_SECS[j]}]}" ]; then
                later_filtered=$(( later_filtered + 80 + ${#AKSTP_SF[${AKSTP_SECS[j]}]} ))
            else
                later_filtered=$(( later_filtered + 80 + ${#AKSTP_ST[${AKSTP_SECS[j]}]} ))
            fi
        done
        txt=${AKSTP_ST[$name]}
        if (( ${#hdr} + 1 + ${#txt} + later_filtered > akstp_room )) && [ -n "${AKSTP_HASF[$name]}" ]; then
            txt=${AKSTP_SF[$name]}
            hdr+=" filtered=1"
        fi
        allow=$(( akstp_room - later_min ))
        if (( ${#hdr} + 1 + ${#txt} > allow )); then
            keep=$(( allow - ${#hdr} - 1 - 16 ))
            (( keep < 0 )) && keep=0
            cut=${txt:0:keep}
            if [[ $cut == *$'\n'* ]]; then cut=${cut%$'\n'*}$'\n'; else cut=""; fi
            hdr+=" trimmed=$(( ${#txt} - ${#cut} ))"
            txt=$cut
        fi
        [ -n "$txt" ] && [[ $txt != *$'\n' ]] && txt+=$'\n'
        akstp_body+="$hdr"$'\n'"$txt"
        akstp_room=$(( akstp_room - ${#hdr} - 1 - ${#txt} ))
    done
    akstp_body+="@@end"$'\n'
fi
printf '%s\n%s%s\n' "$akstp_begin" "$akstp_body" "$akstp_tail"
'''


def build_probe_script(checks):
    """Return the constant bash script for the given checks (any of ``connect``, ``egress``, ``inspect``).

    The text depends only on the set of checks, never on targets or hosts.
    """
    if isinstance(checks, str):
        checks = [checks]
    wanted = []
    for check in checks or ():
        if check not in CHECKS:
            raise ProbeParameterError('unknown probe check %r; use some of %s' % (check, ', '.join(CHECKS)))
        if check not in wanted:
            wanted.append(check)
    if not wanted:
        raise ProbeParameterError('no probe check given; use some of %s' % ', '.join(CHECKS))
    ordered = [c for c in CHECKS if c in wanted]
    parts = [_HEAD.replace('export LC_ALL=C', 'AKSTP_CHECKS=%s\nexport LC_ALL=C' % ','.join(ordered), 1)]
    parts.append(_CONNECT if 'connect' in ordered else _CONNECT_NONE)
    parts.append(_EGRESS if 'egress' in ordered else _EGRESS_NONE)
    if 'inspect' in ordered:
        parts.append(_INSPECT)
    parts.append(_ASSEMBLE)
    return ''.join(parts)


# --------------------------------------------------------------------------- parameters

def validate_ip(value, what='target IP'):
    """Return the normalised IP string, or raise ProbeParameterError."""
    try:
        return str(ipaddress.ip_address(str(value).strip()))
    except ValueError:
        raise ProbeParameterError('invalid %s %r: give a plain IPv4 or IPv6 address such as 10.224.0.4' % (what, value)) from None


def validate_port(value, what='port'):
    """Return the port as int 1..65535, or raise ProbeParameterError."""
    if isinstance(value, bool) or not (isinstance(value, int) or (isinstance(value, str) and value.isdigit())):
        raise ProbeParameterError('invalid %s %r: give an integer from 1 to 65535' % (what, value))
    port = int(value)
    if not 1 <= port <= 65535:
        raise ProbeParameterError('invalid %s %r: give an integer from 1 to 65535' % (what, value))
    return port


def validate_host(value):
    """Return an IP (normalised) or a FQDN matching a strict regex, or raise ProbeParameterError."""
    text = str(value).strip()
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        pass
    if not _FQDN_RE.match(text):
        raise ProbeParameterError('invalid host %r: give an IP address or a DNS name (letters, digits, hyphens, dots)' % (value,))
    return text


def _validate_int(value, low, high, what):
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ProbeParameterError('invalid %s %r: give an integer from %d to %d' % (what, value, low, high))
    return value


def normalize_targets(targets):
    """Validate targets given as ``(ip, port)`` pairs or ``"ip:port"`` / ``"[v6]:port"`` strings.

    Returns a list of ``(ip, port)`` with normalised IPs, in the given order.
    """
    result = []
    for item in targets or ():
        if isinstance(item, str):
            text = item.strip()
            if text.startswith('['):
                host, sep, port = text[1:].partition(']:')
            else:
                host, sep, port = text.rpartition(':')
            if not sep or not host:
                raise ProbeParameterError('invalid target %r: give "ip:port" or "[ipv6]:port"' % (item,))
        elif isinstance(item, (tuple, list)) and len(item) == 2:
            host, port = item
        elif isinstance(item, dict) and 'ip' in item and 'port' in item:
            host, port = item['ip'], item['port']
        else:
            raise ProbeParameterError('invalid target %r: give (ip, port), {"ip":..., "port":...} or "ip:port"' % (item,))
        result.append((validate_ip(host), validate_port(port, 'target port')))
    if len(result) > MAX_TARGETS:
        raise ProbeParameterError('too many targets (%d): at most %d per script; split them over several runs' % (len(result), MAX_TARGETS))
    return result


def target_key(ip, port):
    """The key used in parse results: ``ip:port`` or ``[ipv6]:port``."""
    return '[%s]:%d' % (ip, port) if ':' in ip else '%s:%d' % (ip, port)


def encode_targets(targets, compact=True):
    """Encode validated targets as ``t=``/``r=`` tokens (``r=`` for 3+ consecutive IPv4, same port)."""
    tokens = []
    i = 0
    while i < len(targets):
        ip, port = targets[i]
        run = 1
        if compact and ':' not in ip:
            base = int(ipaddress.IPv4Address(ip))
            while (i + run < len(targets) and targets[i + run][1] == port and ':' not in targets[i + run][0]
                   and int(ipaddress.IPv4Address(targets[i + run][0])) == base + run and run < 65536):
                run += 1
        if run >= 3:
            tokens.append('r=%s+%d:%d' % (ip, run, port))
            i += run
            continue
        tokens.append('t=%s:%d' % (ip, port))
        i += 1
    return tokens


def build_probe_parameters(*, targets=(), egress=(), timeout=2, parallelism=32, method='auto',
                           inspect_port=10250, run_id=None, compact=True):
    """Validate everything and return the positional parameters for a probe script.

    ``egress`` items: ``{"kind": "tcp"|"tls"|"udp", "host": ip-or-fqdn, "port": int}``.
    Raises ProbeParameterError (a ValueError) with a message naming the bad value.
    """
    params = []
    if run_id is not None:
        if not isinstance(run_id, str) or not _RUN_ID_RE.match(run_id):
            raise ProbeParameterError('invalid run_id %r: use 1-40 characters from A-Z a-z 0-9 _ . -' % (run_id,))
        params.append('id=%s' % run_id)
    params.append('timeout=%d' % _validate_int(timeout, TIMEOUT_RANGE[0], TIMEOUT_RANGE[1], 'timeout (seconds)'))
    params.append('parallel=%d' % _validate_int(parallelism, PARALLEL_RANGE[0], PARALLEL_RANGE[1], 'parallelism'))
    if method not in METHODS:
        raise ProbeParameterError('invalid method %r: use one of %s' % (method, ', '.join(METHODS)))
    params.append('method=%s' % method)
    params.append('port=%d' % validate_port(inspect_port, 'inspect_port'))
    if len(egress or ()) > MAX_EGRESS:
        raise ProbeParameterError('too many egress checks (%d): at most %d' % (len(egress), MAX_EGRESS))
    for item in egress or ():
        if not isinstance(item, dict):
            raise ProbeParameterError('invalid egress check %r: give {"kind": "tcp|tls|udp", "host": ..., "port": ...}' % (item,))
        kind = item.get('kind')
        if kind not in EGRESS_KINDS:
            raise ProbeParameterError('invalid egress kind %r: use one of %s' % (kind, ', '.join(EGRESS_KINDS)))
        host = validate_host(item.get('host'))
        port = validate_port(item.get('port'), 'egress port')
        params.append('e=%s:%s:%d' % (kind, host, port))
    params.extend(encode_targets(normalize_targets(targets), compact=compact))
    for index, word in enumerate(params):
        if not SAFE_WORD_RE.match(word):  # cannot happen with the validation above; never send one anyway
            raise ProbeParameterError('probe parameter %d %r is not a safe shell word' % (index + 1, word))
    return params


def build_probe(checks, **kwargs):
    """Convenience: ``(script, parameters)`` for Run Command."""
    return build_probe_script(checks), build_probe_parameters(**kwargs)


# --------------------------------------------------------------------------- parsing

def _expand_ranges(text):
    indexes = []
    for part in text.split(','):
        part = part.strip()
        if not part:
            continue
        low, _sep, high = part.partition('-')
        if not low.isdigit() or (high and not high.isdigit()):
            raise ProbeOutputError('bad index range %r in the probe output' % part)
        indexes.extend(range(int(low), int(high or low) + 1))
    return indexes


def decode_status_map(kind, data, n, exceptions=None):
    """Decode a ``C rle``/``C p3``/``C p2`` map into a list of status letters (at most ``n`` for packed maps)."""
    if kind == 'rle':
        letters = []
        for letter, count in re.findall(r'([a-z])(\d+)', data):
            if letter not in STATUS_BY_LETTER:
                raise ProbeOutputError('unknown status letter %r in the probe output' % letter)
            letters.extend(letter * int(count))
        return letters
    if kind == 'p2':
        letters = []
        for char in data:
            code = P3_ALPHABET.find(char)
            if code < 0 or (code >> 3) >= len(P2_LETTERS) or (code & 7) >= len(P2_LETTERS):
                raise ProbeOutputError('bad character %r in the packed status map' % char)
            letters.extend((P2_LETTERS[code >> 3], P2_LETTERS[code & 7]))
        return letters[:n]
    if kind == 'p3':
        letters = []
        for char in data:
            code = P3_ALPHABET.find(char)
            if code < 0:
                raise ProbeOutputError('bad character %r in the packed status map' % char)
            letters.extend((P3_LETTERS[code >> 4], P3_LETTERS[(code >> 2) & 3], P3_LETTERS[code & 3]))
        letters = letters[:n]
        for letter, indexes in (exceptions or {}).items():
            for index in indexes:
                if index < len(letters):
                    letters[index] = letter
        return letters
    raise ProbeOutputError('unknown status map kind %r' % kind)


def split_run_command_message(message):
    """Split a Linux Run Command message (``Enable succeeded: \\n[stdout]\\n...\\n[stderr]\\n...``)."""
    text = message or ''
    if '[stdout]\n' not in text:
        return text, ''
    after = text.split('[stdout]\n', 1)[1]
    stdout, _sep, stderr = after.partition('\n[stderr]\n')
    return stdout, stderr


def parse_probe_output(stdout, targets=(), run_id=None, port=10250):
    """Parse AKSTP1 output.

    ``targets`` must be the same list (same order) given to :func:`build_probe_parameters`;
    with ``targets=None`` only ``statuses`` (by target index) is filled.
    Returns ``{complete, truncated, begin_seen, run_id, error, targets: {"ip:port": status}, statuses: [status],
    counts: {status: n}, summary: {...}, egress: [{index, kind, host, port, tcp, tls, alpn,
    alpn_konnectivity, issuer, udp}], firewall: {sections: {name: {...}}, verdict} | None,
    problems: [str]}``.  Targets the output does not cover get status ``unknown``.
    """
    text = stdout or ''
    if '[stdout]\n' in text:
        text = split_run_command_message(text)[0]
    by_index = targets is None
    wanted = [] if by_index else normalize_targets(targets)
    result = {
        'complete': False, 'truncated': False, 'begin_seen': False, 'run_id': None, 'error': None,
        'targets': {}, 'counts': {}, 'summary': {}, 'egress': [], 'firewall': None, 'problems': [],
    }
    lines = _node_text.output_lines(text)  # '\n' only: a '\r' in a rule comment is not a line break
    reader = _node_text.SectionReader(extra_keys=('bin', 'src'))
    map_kind = map_data = None
    exceptions = {}
    cut = None
    end_n = None
    for line in lines:
        if line.startswith(FORMAT + ' begin'):
            result['begin_seen'] = True
            reader.close()
            result['run_id'] = _node_text.parse_kv(line.split()[2:]).get('id')
            continue
        if line.startswith(FORMAT + ' end'):
            kv = _node_text.parse_kv(line.split()[2:])
            result['complete'] = True
            end_n = int(kv['n']) if kv.get('n', '').isdigit() else None
            if kv.get('rc') not in (None, '0'):
                result['problems'].append('script ended with rc=%s' % kv.get('rc'))
            continue
        if reader.feed(line):
            continue
        if line.startswith('E '):
            parts = line.split()
            if len(parts) >= 4:
                kv = _node_text.parse_kv(parts[4:])
                hostport = parts[3]
                host, _sep, eport = hostport.rpartition(':')
                result['egress'].append({
                    'index': int(parts[1]) if parts[1].isdigit() else None, 'kind': parts[2],
                    'host': host.strip('[]'), 'port': int(eport) if eport.isdigit() else None,
                    'tcp': kv.get('tcp'), 'tls': kv.get('tls'), 'alpn': kv.get('alpn'),
                    'alpn_konnectivity': (kv.get('alpn') == 'konnectivity') if 'alpn' in kv else None,
                    'issuer': kv.get('issuer'), 'udp': kv.get('udp'),
                })
            continue
        if line.startswith('C '):
            parts = line.split()
            if len(parts) >= 2 and parts[1] in ('rle', 'p3', 'p2'):
                map_kind, map_data = parts[1], parts[2] if len(parts) > 2 else ''
            elif len(parts) >= 4 and parts[1] == 'x':
                exceptions[parts[2]] = _expand_ranges(parts[3])
            elif len(parts) >= 3 and parts[1] == 'cut' and parts[2].isdigit():
                cut = int(parts[2])
            continue
        if line.startswith('S '):
            kv = _node_text.parse_kv(line.split()[1:])
            result['summary'] = dict((k, int(v) if v.isdigit() else v) for k, v in kv.items())
            continue
        # anything else (a fragment left by a cut at the front) is ignored
    result['error'] = reader.error
    sections = reader.sections
    if not result['begin_seen']:
        result['truncated'] = True
        result['problems'].append('output does not start with the begin marker: the front was cut')
    if not result['complete']:
        result['truncated'] = True
        result['problems'].append('no end marker: the output was cut or the script did not finish')
    if run_id is not None and result['run_id'] not in (None, run_id):
        result['problems'].append('run id %r does not match the expected %r' % (result['run_id'], run_id))
    n = len(wanted)
    if by_index:
        n = end_n if end_n is not None else result['summary'].get('n', 0)
    if end_n is not None and end_n != n and result['error'] is None:
        raise ProbeOutputError('the probe reports %d targets but %d were given; pass the same target list as to build_probe_parameters' % (end_n, n))
    letters = []
    if map_kind is not None:
        letters = decode_status_map(map_kind, map_data, n if cut is None else cut, exceptions)
        if cut is not None:
            letters = letters[:cut]
            result['truncated'] = True
            result['problems'].append('status map covers only the first %d of %d targets' % (cut, n))
        if map_kind == 'rle' and len(letters) != n:
            result['problems'].append('status map has %d entries for %d targets' % (len(letters), n))
            result['truncated'] = True
    counts = dict((name, 0) for name in list(STATUS_BY_LETTER.values()) + ['unknown'])
    statuses = [STATUS_BY_LETTER.get(letters[i], 'unknown') if i < len(letters) else 'unknown' for i in range(n or 0)]
    for status in statuses:
        counts[status] += 1
    for (ip, tport), status in zip(wanted, statuses):
        result['targets'][target_key(ip, tport)] = status
    result['statuses'] = statuses
    result['counts'] = counts
    if sections:
        firewall = {'sections': {}, 'verdict': None}
        for name, sec in sections.items():
            sec['text'] = _node_text.section_text(sec.pop('lines'))
            if sec['trimmed']:
                result['truncated'] = True
            firewall['sections'][name] = sec
        firewall['verdict'] = decide_from_sections(firewall['sections'], port=port)
        result['firewall'] = firewall
    return result


# Inspection sections a verdict needs, and the text a section holds when its tool is absent (rc=127).
SECTION_TOOLS = {'ss': 'ss', 'ufw': 'ufw', 'iptables': 'iptables', 'iptables-legacy': 'iptables-legacy', 'iptables-nft': 'iptables-nft',
                 'nft': 'nft', 'tls': 'openssl'}
_RC_MEANING = {124: 'killed by its timeout', 137: 'killed', 4: 'resource problem (e.g. the xtables lock is held)'}


def section_problems(sections):
    """``[{section, rc, reason}]`` for inspection sections that do not prove what they list.

    A section is incomplete when its command failed (rc other than 0; 127 = tool not installed, reported as
    such), when a listing that is never empty is empty (``iptables -S`` always prints its policies, ``ss -ltn``
    its header), or when the script trimmed it to fit the output.  An incomplete section never gives an OK.
    """
    problems = []
    for name, sec in sorted(sections.items()):
        rc = sec.get('rc')
        text = (sec.get('text') or '').strip()
        if rc == 127:
            problems.append({'section': name, 'rc': rc, 'reason': '%s is not installed on the node' % SECTION_TOOLS.get(name, name)})
        elif rc is None:
            problems.append({'section': name, 'rc': rc, 'reason': 'the %s section has no exit code' % name})
        elif rc != 0:
            problems.append({'section': name, 'rc': rc, 'reason': 'the %s command failed with rc=%d%s: %s' % (
                name, rc, ' (%s)' % _RC_MEANING[rc] if rc in _RC_MEANING else '', text.splitlines()[0][:200] if text else 'no output')})
        elif not text and name in ('iptables', 'iptables-legacy', 'iptables-nft', 'ss', 'tls'):
            problems.append({'section': name, 'rc': rc, 'reason': 'the %s listing is empty' % name})
        elif sec.get('trimmed'):
            problems.append({'section': name, 'rc': rc, 'reason': 'the %s section was trimmed by %d bytes to fit the Run Command output'
                             % (name, sec['trimmed'])})
    return problems


def parse_tls_section(text):
    """The ``tls`` section (``tls=<ok|failed|no_openssl|not_listening|connect_<status>> addr= http=<plain|no|-> answer=``)."""
    for line in (text or '').splitlines():
        kv = _node_text.parse_kv(line.split())
        if 'tls' in kv:
            return {'tls': kv.get('tls'), 'addr': kv.get('addr'), 'http': kv.get('http'),
                    'answer': (kv.get('answer') or '').replace('_', ' ') if kv.get('answer') not in (None, '-') else None}
    return None


def decide_from_sections(sections, port=10250):
    """Run :func:`decide_10250_block` on parsed inspection sections.

    A section whose command failed or that is empty is not judged (its tool counts as not collected) and is listed in
    ``incomplete`` ({section, reason}) with the trimmed ones; ``tls`` is the listener's TLS check (parse_tls_section).
    """
    incomplete = section_problems(sections)
    unusable = set(p['section'] for p in incomplete if not (sections[p['section']].get('trimmed') and sections[p['section']].get('rc') == 0))

    def text_of(name):
        sec = sections.get(name)
        if not sec or name in unusable:
            return None
        return sec['text']
    iptables_text = text_of('iptables')
    for alt in ('iptables-legacy', 'iptables-nft'):
        alt_text = text_of(alt)
        if alt_text and '-A ' in alt_text:
            iptables_text = (iptables_text or '') + alt_text
    ufw_text = text_of('ufw')
    if ufw_text is None and 'ufw' in sections and sections['ufw'].get('rc') == 127:
        ufw_text = ''
    tls = parse_tls_section(sections['tls']['text']) if 'tls' in sections else None
    try:
        verdict = fw.decide_10250_block(ufw=ufw_text, iptables=iptables_text, nft=text_of('nft'), ss=text_of('ss'), port=port,
                                        nft_native_only=True if 'iptables' in sections else None)
    except fw.FirewallParseError as exc:
        return {'blocked_by': None, 'rules': [], 'conditional': False, 'reason': 'inspection output not understood: %s' % exc, 'details': {},
                'parse_error': str(exc), 'incomplete': incomplete, 'trimmed_sections': [], 'tls': tls}
    trimmed = [name for name, sec in sections.items() if sec.get('trimmed')]
    if trimmed:
        verdict['reason'] += ' (inspection output trimmed: %s)' % ', '.join(trimmed)
    verdict['trimmed_sections'] = trimmed
    verdict['incomplete'] = incomplete
    verdict['parse_error'] = None
    verdict['tls'] = tls
    return verdict
