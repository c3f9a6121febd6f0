# -*- coding: utf-8 -*-
# Copyright (c) 2026 aks.tunnel contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Probe script builders, parameter validation and the AKSTP1 output parser.

The budget tests run the REAL generated bash (encoding, budgeting, markers) with only the
per-target TCP connect replaced by a lookup into a predetermined status string, so 5000
targets need no network.
"""

from __future__ import annotations

import itertools
import os
import random
import re
import shutil
import socket
import subprocess
import sys

import pytest

from ansible_collections.aks.tunnel.plugins.module_utils import _probe_scripts as ps
from ansible_collections.aks.tunnel.plugins.module_utils import _runcommand as rc
from ansible_collections.aks.tunnel.tests.lab.arm.executor import handler_script

ALL_COMBOS = [list(c) for n in range(1, 4) for c in itertools.combinations(ps.CHECKS, n)]
BASH = shutil.which('bash')
SHELLCHECK = shutil.which('shellcheck')

FAKE_TCP = r'''
# test double: the status of target 10.<b>.<c>.<d> is character (c*256+d) of $AKSTP_FAKE (through the
# per-target jobs: the one-process python3 connect is tested on real sockets, test_probe_scripts_netns.py)
use_py=0 akstp_m=devtcp
akstp_tcp() {
    local a b c d
    IFS=. read -r a b c d <<<"$1"
    R=${AKSTP_FAKE:$(( (c << 8) + d )):1}
}
'''


JOB_LINE = '''        { akstp_tcp "${T_HOST[i]}" "${T_PORT[i]}" 1; printf '%d %s\\n' "$i" "$R" >>"$file"; } &'''


def fake_script(checks, fork=True):
    """The real script with a fake connect; fork=False also runs the jobs inline (fast, same encoder)."""
    script = ps.build_probe_script(checks)
    marker = '# ---- connect: all targets'
    assert marker in script
    assert JOB_LINE in script
    script = script.replace(marker, FAKE_TCP + marker, 1)
    if not fork:
        script = script.replace(JOB_LINE, JOB_LINE[:-2], 1)
    return script


def run_script(script, params, env_extra=None, timeout=120, azure=False):
    """Run the script with params as an argv, or (azure=True, for built parameters only) pasted into the
    script text as the Linux Run Command handler does."""
    env = dict(os.environ)
    env.update(env_extra or {})
    argv = [BASH, '-c', handler_script(script, params), 'bash'] if azure else [BASH, '-c', script, 'bash'] + list(params)
    proc = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=timeout, check=False)
    return proc


def fake_targets(n, port=10250):
    return [('10.0.%d.%d' % (i >> 8, i & 255), port) for i in range(n)]


# --------------------------------------------------------------------------- builders

@pytest.mark.parametrize('checks', ALL_COMBOS, ids=['+'.join(c) for c in ALL_COMBOS])
def test_script_is_valid_bash(checks, tmp_path):
    script = ps.build_probe_script(checks)
    path = tmp_path / 'probe.sh'
    path.write_text(script)
    assert subprocess.run([BASH, '-n', str(path)], capture_output=True, check=False).returncode == 0
    if SHELLCHECK:
        proc = subprocess.run([SHELLCHECK, '-s', 'bash', str(path)], capture_output=True, text=True, check=False)
        assert proc.returncode == 0, proc.stdout


@pytest.mark.parametrize('checks', ALL_COMBOS, ids=['+'.join(c) for c in ALL_COMBOS])
def test_script_is_constant_and_names_its_checks(checks):
    script = ps.build_probe_script(checks)
    assert script == ps.build_probe_script(list(reversed(checks)))
    assert 'AKSTP_CHECKS=%s\n' % ','.join(c for c in ps.CHECKS if c in checks) in script
    assert script.startswith('#!/bin/bash\n')
    assert ('akstp_ipt' in script) is ('inspect' in checks)
    assert ('openssl s_client' in script) is ('egress' in checks or 'inspect' in checks)  # inspect: the listener's TLS


def test_script_contains_no_parameter_values():
    params = ps.build_probe_parameters(
        targets=[('10.224.0.4', 10250), ('10.224.0.99', 10250)],
        egress=[{'kind': 'tls', 'host': 'mycluster-dns-1a2b3c.hcp.westeurope.azmk8s.io', 'port': 443}],
        timeout=3, parallelism=17, run_id='run-42')
    script = ps.build_probe_script(ps.CHECKS)
    for value in ('10.224.0.4', '10.224.0.99', 'azmk8s', 'run-42', 'parallel=17', '=17'):
        assert value not in script
    assert params[:5] == ['id=run-42', 'timeout=3', 'parallel=17', 'method=auto', 'port=10250']


@pytest.mark.parametrize('checks, message', [
    ([], 'no probe check given'),
    (['connect', 'portscan'], "unknown probe check 'portscan'"),
])
def test_build_probe_script_rejects(checks, message):
    with pytest.raises(ps.ProbeParameterError, match=message):
        ps.build_probe_script(checks)


def test_build_probe_script_accepts_a_single_string():
    assert ps.build_probe_script('inspect') == ps.build_probe_script(['inspect'])


# --------------------------------------------------------------------------- parameters

@pytest.mark.parametrize('targets, expected', [
    ([('10.224.0.4', 10250)], ['t=10.224.0.4:10250']),
    (['10.224.0.4:10250', '10.224.0.5:10250'], ['t=10.224.0.4:10250', 't=10.224.0.5:10250']),
    ([('10.224.0.%d' % i, 10250) for i in range(4, 10)], ['r=10.224.0.4+6:10250']),
    ([('10.224.0.254', 10250), ('10.224.0.255', 10250), ('10.224.1.0', 10250), ('10.224.1.1', 22)],
     ['r=10.224.0.254+3:10250', 't=10.224.1.1:22']),
    ([('fd00::1', 10250), '[fd00::2]:10250', ('fd00::', 443)], ['t=fd00::1:10250', 't=fd00::2:10250', 't=fd00:::443']),
    ([{'ip': '10.0.0.1', 'port': '10250'}], ['t=10.0.0.1:10250']),
])
def test_target_encoding(targets, expected):
    params = ps.build_probe_parameters(targets=targets)
    assert params[4:] == expected


def test_target_encoding_5000_consecutive_is_tiny():
    params = ps.build_probe_parameters(targets=fake_targets(5000))
    assert params[4:] == ['r=10.0.0.0+5000:10250']
    uncompact = ps.build_probe_parameters(targets=fake_targets(5000), compact=False)
    assert len(uncompact) == 5004


@pytest.mark.parametrize('kwargs, message', [
    ({'targets': ['10.0.0.1; rm -rf /:10250']}, 'invalid target IP'),
    ({'targets': [('10.0.0.1; rm -rf /', 10250)]}, 'invalid target IP'),
    ({'targets': [('$(reboot)', 10250)]}, 'invalid target IP'),
    ({'targets': [('10.0.0.1', '10250; reboot')]}, 'invalid target port'),
    ({'targets': [('010.0.0.1', 10250)]}, 'invalid target IP'),
    ({'targets': [('10.0.0.1', 0)]}, 'invalid target port'),
    ({'targets': [('10.0.0.1', 65536)]}, 'invalid target port'),
    ({'targets': [('10.0.0.1', True)]}, 'invalid target port'),
    ({'targets': ['10.0.0.1']}, 'invalid target'),
    ({'targets': [('10.0.0.1', 1, 2)]}, 'invalid target'),
    ({'targets': fake_targets(ps.MAX_TARGETS + 1)}, 'too many targets'),
    ({'egress': [{'kind': 'tls', 'host': 'api.example.com; reboot', 'port': 443}]}, 'invalid host'),
    ({'egress': [{'kind': 'tls', 'host': '-servername', 'port': 443}]}, 'invalid host'),
    ({'egress': [{'kind': 'tls', 'host': 'a b', 'port': 443}]}, 'invalid host'),
    ({'egress': [{'kind': 'tls', 'host': 'x' * 64 + '.example.com', 'port': 443}]}, 'invalid host'),
    ({'egress': [{'kind': 'icmp', 'host': '1.2.3.4', 'port': 1}]}, 'invalid egress kind'),
    ({'egress': [{'kind': 'udp', 'host': '1.2.3.4', 'port': 'x'}]}, 'invalid egress port'),
    ({'egress': ['tcp:1.2.3.4:443']}, 'invalid egress check'),
    ({'egress': [{'kind': 'tcp', 'host': '1.2.3.4', 'port': 1}] * 9}, 'too many egress checks'),
    ({'timeout': 0}, r'invalid timeout \(seconds\) 0'),
    ({'timeout': 31}, 'from 1 to 30'),
    ({'timeout': '2'}, 'invalid timeout'),
    ({'parallelism': 0}, 'invalid parallelism'),
    ({'parallelism': 257}, 'invalid parallelism'),
    ({'method': 'curl'}, 'invalid method'),
    ({'inspect_port': 70000}, 'invalid inspect_port'),
    ({'run_id': 'a b'}, 'invalid run_id'),
    ({'run_id': 'x' * 41}, 'invalid run_id'),
])
def test_build_probe_parameters_rejects(kwargs, message):
    with pytest.raises(ps.ProbeParameterError, match=message):
        ps.build_probe_parameters(**kwargs)


def test_parameter_error_is_a_value_error():
    assert issubclass(ps.ProbeParameterError, ValueError)
    assert issubclass(ps.ProbeOutputError, ValueError)


def test_egress_parameters():
    params = ps.build_probe_parameters(egress=[
        {'kind': 'tls', 'host': 'Api.Example.com', 'port': 443},
        {'kind': 'udp', 'host': '20.1.2.3', 'port': 1194},
        {'kind': 'tcp', 'host': 'fd00::10', 'port': 9000},
    ])
    assert params[4:] == ['e=tls:Api.Example.com:443', 'e=udp:20.1.2.3:1194', 'e=tcp:fd00::10:9000']


ALL_KINDS_OF_PARAMETERS = dict(
    targets=[('10.224.0.4', 10250), ('fd00::1', 10250), ('::ffff:10.0.0.1', 1), ('10.224.0.9', 22)] + fake_targets(5),
    egress=[{'kind': 'tls', 'host': 'mycluster-dns-1a2b3c.hcp.westeurope.azmk8s.io.', 'port': 443},
            {'kind': 'udp', 'host': '20.1.2.3', 'port': 1194}, {'kind': 'tcp', 'host': 'fd00::10', 'port': 9000}],
    timeout=30, parallelism=256, method='devtcp', inspect_port=65535, run_id='p0123456789ab_i.x-y')


def test_every_probe_parameter_is_a_safe_shell_word():
    params = ps.build_probe_parameters(**ALL_KINDS_OF_PARAMETERS)
    assert all(rc.SAFE_WORD_RE.match(p) for p in params), params
    assert rc.run_command_input(ps.build_probe_script(ps.CHECKS), params)['parameters'][-1]['value'] == params[-1]


def test_script_reads_every_parameter_exactly_under_the_azure_rewrite():
    """The script's argument loop, run the way Azure runs it (values pasted into the script text)."""
    script = ps.build_probe_script(ps.CHECKS)
    cut = script.index('\nakstp_tmp=$(mktemp')
    script = script[:cut] + '''
printf 'run_id=%s to=%s par=%s method=%s iport=%s\\n' "$run_id" "$to" "$par" "$method" "$iport"
for i in "${!T_HOST[@]}"; do printf 't %s %s\\n' "${T_HOST[i]}" "${T_PORT[i]}"; done
for i in "${!E_KIND[@]}"; do printf 'e %s %s %s\\n' "${E_KIND[i]}" "${E_HOST[i]}" "${E_PORT[i]}"; done
'''
    params = ps.build_probe_parameters(**ALL_KINDS_OF_PARAMETERS)
    proc = subprocess.run([BASH, '-c', handler_script(script, params), 'bash'], capture_output=True, text=True, timeout=60, check=False)
    assert proc.stderr == '' and proc.returncode == 0, proc.stdout
    lines = proc.stdout.splitlines()
    assert lines[0] == 'run_id=p0123456789ab_i.x-y to=30 par=256 method=devtcp iport=65535'
    targets = ps.normalize_targets(ALL_KINDS_OF_PARAMETERS['targets'])
    assert lines[1:-3] == ['t %s %d' % target for target in targets]
    assert lines[-3:] == ['e tls mycluster-dns-1a2b3c.hcp.westeurope.azmk8s.io. 443', 'e udp 20.1.2.3 1194', 'e tcp [fd00::10] 9000']


# --------------------------------------------------------------------------- the script defends itself

@pytest.mark.parametrize('checks, args, position', [
    (['connect'], ['t=10.0.0.1; rm -rf /:80'], 1),
    (['connect'], ['timeout=2', 't=10.0.0.1:80', 't=$(reboot):80'], 3),
    (['connect'], ['t=010.0.0.1:80'], 1),
    (['connect'], ['t=[fd00::1]:80'], 1),
    (['connect'], ['t=fd00::g:80'], 1),
    (['connect'], ['t=10.0.0.256:80'], 1),
    (['connect'], ['t=10.0.0.1:0'], 1),
    (['connect'], ['t=10.0.0.1:65536'], 1),
    (['connect'], ['r=10.0.0.1+0:80'], 1),
    (['connect'], ['r=255.255.255.255+2:80'], 1),
    (['connect'], ['timeout=0'], 1),
    (['connect'], ['parallel=1000'], 1),
    (['connect'], ['method=bash'], 1),
    (['connect'], ['id=a;b'], 1),
    (['connect'], ['--help'], 1),
    (['connect'], ['e=tcp:1.2.3.4:443'], 1),
    (['egress'], ['t=10.0.0.1:80'], 1),
    (['egress'], ['e=tls:-servername:443'], 1),
    (['egress'], ['e=tls:a`b`.com:443'], 1),
    (['egress'], ['e=ftp:1.2.3.4:21'], 1),
    (['inspect'], ['port=abc'], 1),
])
def test_script_refuses_bad_arguments(checks, args, position):
    proc = run_script(ps.build_probe_script(checks), args)
    assert proc.returncode == 2
    lines = proc.stdout.splitlines()
    assert lines[1].startswith('@@error bad-arg %d' % position)
    assert lines[-1].endswith('rc=2')
    for arg in args:
        assert arg not in proc.stdout.replace('AKSTP1', '') or arg.startswith(('timeout=', 'id='))
    parsed = ps.parse_probe_output(proc.stdout, [])
    assert parsed['error'].startswith('bad-arg %d' % position)
    assert parsed['complete'] is True


# --------------------------------------------------------------------------- 4096-byte budget, 5000 targets

def _pattern(name, n=5000):
    rng = random.Random(20261125)
    if name == 'all_succeeded':
        return 's' * n
    if name == 'all_timed_out':
        return 't' * n
    if name == 'every_other_refused':
        return ''.join('sr'[i % 2] for i in range(n))
    if name == 'random_stru':
        return ''.join(rng.choice('stru') for _index in range(n))
    if name == 'random_all_letters':
        return ''.join(rng.choice('strudex') for _index in range(n))
    if name == 'every_other_error':
        return ''.join('se'[i % 2] for i in range(n))
    if name == 'few_failures':
        letters = ['s'] * n
        for i in (0, 17, 18, 19, n // 2, n - 1):
            letters[i] = 't'
        letters[1234] = 'd'
        return ''.join(letters)
    raise ValueError(name)


# (pattern, number of targets)
PATTERNS = [('all_succeeded', 5000), ('all_timed_out', 5000), ('every_other_refused', 5000), ('random_stru', 5000),
            ('random_all_letters', 5000), ('every_other_error', 5000), ('few_failures', 5000), ('random_stru', 1)]


@pytest.mark.parametrize('pattern, n', PATTERNS)
def test_budget_5000_targets_lossless(pattern, n):
    statuses = _pattern(pattern, n)
    targets = fake_targets(n)
    params = ps.build_probe_parameters(targets=targets, parallelism=256, run_id='budget',
                                       egress=[{'kind': 'tls', 'host': 'a' * 60 + '.hcp.westeurope.azmk8s.io', 'port': 443}])
    # one run goes through the real background-job loop with 5000 jobs, the others run inline
    script = fake_script(['connect'], fork=pattern == 'all_timed_out')
    proc = run_script(script, [p for p in params if not p.startswith('e=')], {'AKSTP_FAKE': statuses}, azure=True)
    assert proc.returncode == 0, proc.stderr
    assert len(proc.stdout.encode()) <= ps.OUTPUT_LIMIT
    parsed = ps.parse_probe_output(proc.stdout, targets, run_id='budget')
    assert (parsed['complete'], parsed['truncated'], parsed['problems']) == (True, False, [])
    expected = dict((ps.target_key(ip, port), ps.STATUS_BY_LETTER[statuses[i]]) for i, (ip, port) in enumerate(targets))
    assert parsed['targets'] == expected
    for letter, name in ps.STATUS_BY_LETTER.items():
        assert parsed['counts'][name] == statuses.count(letter)
        assert parsed['summary'][letter] == statuses.count(letter)
    if pattern == 'all_succeeded':
        assert 'C rle s5000' in proc.stdout
    if pattern == 'random_all_letters':
        assert 'C p2 ' in proc.stdout
    if pattern == 'random_stru':
        assert 'C p3 ' in proc.stdout


def test_budget_over_limit_is_flagged_as_cut():
    n = ps.MAX_TARGETS
    statuses = _pattern('random_all_letters', n)
    targets = [('10.0.%d.%d' % (i >> 8, i & 255), 10250) for i in range(n)]
    params = ps.build_probe_parameters(targets=targets, parallelism=256)
    proc = run_script(fake_script(['connect'], fork=False), params, {'AKSTP_FAKE': statuses}, azure=True)
    assert len(proc.stdout.encode()) <= ps.OUTPUT_LIMIT
    parsed = ps.parse_probe_output(proc.stdout, targets)
    assert parsed['complete'] is True
    assert parsed['truncated'] is True
    covered = [k for k, v in parsed['targets'].items() if v != 'unknown']
    assert 6000 < len(covered) < n
    for i, (ip, port) in enumerate(targets[:len(covered)]):
        assert parsed['targets'][ps.target_key(ip, port)] == ps.STATUS_BY_LETTER[statuses[i]]
    assert parsed['counts']['unknown'] == n - len(covered)
    assert parsed['summary']['n'] == n


# --------------------------------------------------------------------------- parser on synthetic output

GOOD = '''AKSTP1 begin id=r1 checks=connect,egress,inspect n=4
@@ss rc=0 bytes=300 filtered=1
State  Recv-Q Send-Q Local Address:Port  Peer Address:PortProcess
LISTEN 0      4096         0.0.0.0:10250      0.0.0.0:*
@@ufw rc=0 bytes=17
Status: inactive
@@iptables rc=0 bytes=120 bin=iptables
-P INPUT ACCEPT
-A INPUT -p tcp -m tcp --dport 10250 -j DROP
@@nft rc=0 bytes=0
@@end
E 0 tls api.example.com:443 tcp=succeeded tls=ok alpn=none issuer=CN_=_Corp_TLS_Inspection
E 1 udp 20.1.2.3:1194 udp=no_reply
E 2 tcp [fd00::1]:9000 tcp=refused
C p3 Bx
C x d 3
S n=4 s=1 t=1 r=0 u=0 d=1 e=0 x=0 secs=3 par=32 to=2 m=nc
AKSTP1 end id=r1 n=4 rc=0
'''
GOOD_TARGETS = [('10.0.0.1', 10250), ('10.0.0.2', 10250), ('10.0.0.3', 10250), ('fd00::5', 10250)]


def test_parse_good_output():
    parsed = ps.parse_probe_output(GOOD, GOOD_TARGETS, run_id='r1')
    assert (parsed['complete'], parsed['truncated'], parsed['begin_seen'], parsed['run_id']) == (True, False, True, 'r1')
    # Bx: B=1 -> (s,s,t) ; x=49 -> (t,s,t) but only n=4, then target 3 is overridden by "C x d 3"
    assert parsed['targets'] == {
        '10.0.0.1:10250': 'succeeded', '10.0.0.2:10250': 'succeeded', '10.0.0.3:10250': 'timed_out',
        '[fd00::5]:10250': 'dns_failed'}
    assert parsed['egress'][0] == {
        'index': 0, 'kind': 'tls', 'host': 'api.example.com', 'port': 443, 'tcp': 'succeeded', 'tls': 'ok',
        'alpn': 'none', 'alpn_konnectivity': False, 'issuer': 'CN_=_Corp_TLS_Inspection', 'udp': None}
    assert parsed['egress'][1]['udp'] == 'no_reply'
    assert (parsed['egress'][2]['host'], parsed['egress'][2]['port'], parsed['egress'][2]['tcp']) == ('fd00::1', 9000, 'refused')
    verdict = parsed['firewall']['verdict']
    assert verdict['blocked_by'] == 'iptables'
    assert verdict['rules'] == ['-A INPUT -p tcp -m tcp --dport 10250 -j DROP']
    assert parsed['firewall']['sections']['ss']['filtered'] is True
    assert parsed['summary']['secs'] == 3


def test_parse_by_index_without_targets():
    parsed = ps.parse_probe_output(GOOD, None)
    assert parsed['statuses'] == ['succeeded', 'succeeded', 'timed_out', 'dns_failed']
    assert parsed['targets'] == {}
    assert parsed['counts']['succeeded'] == 2


def test_parse_run_command_message_wrapper():
    message = 'Enable succeeded: \n[stdout]\n' + GOOD + '\n[stderr]\nsome warning\n'
    assert ps.split_run_command_message(message) == (GOOD, 'some warning\n')
    parsed = ps.parse_probe_output(message, GOOD_TARGETS)
    assert parsed['complete'] is True
    assert parsed['targets']['10.0.0.3:10250'] == 'timed_out'


def test_parse_detects_missing_end_marker():
    cut = GOOD[:GOOD.index('S n=4')]
    parsed = ps.parse_probe_output(cut, GOOD_TARGETS)
    assert (parsed['complete'], parsed['truncated']) == (False, True)
    assert 'no end marker' in parsed['problems'][0]


def test_parse_detects_front_cut():
    cut = GOOD[40:]
    parsed = ps.parse_probe_output(cut, GOOD_TARGETS)
    assert (parsed['begin_seen'], parsed['complete'], parsed['truncated']) == (False, True, True)
    assert parsed['targets']['10.0.0.3:10250'] == 'timed_out'


def test_parse_trimmed_section_sets_truncated():
    text = GOOD.replace('@@iptables rc=0 bytes=120 bin=iptables', '@@iptables rc=0 bytes=9000 bin=iptables filtered=1 trimmed=5000')
    parsed = ps.parse_probe_output(text, GOOD_TARGETS)
    assert parsed['truncated'] is True
    assert parsed['firewall']['sections']['iptables']['trimmed'] == 5000
    assert parsed['firewall']['verdict']['trimmed_sections'] == ['iptables']


def test_parse_wrong_target_count_raises():
    with pytest.raises(ps.ProbeOutputError, match='reports 4 targets but 2 were given'):
        ps.parse_probe_output(GOOD, GOOD_TARGETS[:2])


def test_parse_run_id_mismatch_is_reported():
    parsed = ps.parse_probe_output(GOOD, GOOD_TARGETS, run_id='other')
    assert "run id 'r1' does not match the expected 'other'" in parsed['problems']


@pytest.mark.parametrize('kind, data, n, exceptions, expected', [
    ('rle', 's3t1r2', 6, None, list('ssstrr')),
    ('p3', 'A', 3, None, list('sss')),
    ('p3', '_', 3, None, list('uuu')),
    ('p3', 'G', 2, {'e': [0]}, list('et')),
    ('p2', 'B', 2, None, list('st')),
    ('p2', 'w', 1, None, list('x')),
])
def test_decode_status_map(kind, data, n, exceptions, expected):
    assert ps.decode_status_map(kind, data, n, exceptions) == expected


@pytest.mark.parametrize('kind, data, message', [
    ('p3', '!', 'bad character'),
    ('p2', '_', 'bad character'),
    ('rle', 'q5', 'unknown status letter'),
    ('zip', '', 'unknown status map kind'),
])
def test_decode_status_map_errors(kind, data, message):
    with pytest.raises(ps.ProbeOutputError, match=message):
        ps.decode_status_map(kind, data, 3)


def test_build_probe_returns_script_and_parameters():
    script, params = ps.build_probe(['connect'], targets=[('10.0.0.1', 10250)], run_id='x1')
    assert script == ps.build_probe_script(['connect'])
    assert params == ['id=x1', 'timeout=2', 'parallel=32', 'method=auto', 'port=10250', 't=10.0.0.1:10250']


# test double: every target times out on its first connect; on the second it answers as $AKSTP_FAKE says
FLAKY_TCP = r'''
use_py=0 akstp_m=devtcp
akstp_tcp() {
    local a b c d
    IFS=. read -r a b c d <<<"$1"
    if [ -e "$akstp_tmp/tried.$c.$d" ]; then
        R=${AKSTP_FAKE:$(( (c << 8) + d )):1}
    else
        : >"$akstp_tmp/tried.$c.$d"
        R=t
    fi
}
'''


@pytest.mark.parametrize('n, parallelism, second, expected', [
    # a busy node's transient timeouts: one more try finds the kubelets that answer
    (20, 16, 's' * 20, 's' * 20),
    (6, 4, 'srtsut', 'srtsut'),  # a second timeout stays a timeout; other answers are taken as they are
    (8, 4, 'ssssssss', 'ssssssss'),  # exactly 2 x parallelism: still retried
    # more timeouts than 2 x parallelism (a blocked subnet): no second round, they stay timed out
    (9, 4, 'sssssssss', 'ttttttttt'),
])
def test_timed_out_targets_get_one_bounded_retry(n, parallelism, second, expected):
    script = ps.build_probe_script(['connect']).replace('# ---- connect: all targets', FLAKY_TCP + '# ---- connect: all targets', 1)
    targets = fake_targets(n)
    params = ps.build_probe_parameters(targets=targets, parallelism=parallelism, run_id='retry')
    proc = run_script(script, params, {'AKSTP_FAKE': second}, azure=True)
    assert proc.returncode == 0, proc.stderr
    parsed = ps.parse_probe_output(proc.stdout, targets, run_id='retry')
    assert [parsed['targets'][ps.target_key(ip, port)] for ip, port in targets] == [ps.STATUS_BY_LETTER[c] for c in expected]


def _connect_program():
    """The python3 program of the connect check, as the script carries it (between its heredoc markers)."""
    script = ps.build_probe_script(['connect'])
    match = re.search(r"<<'AKSTP_PY_END'\n(.*?)\nAKSTP_PY_END\n", script, re.S)
    assert match, 'the connect check has no python3 program'
    return match.group(1)


@pytest.mark.parametrize('family, host', [(socket.AF_INET, '127.0.0.1'), (socket.AF_INET6, '::1')])
def test_python_connect_program_on_loopback(tmp_path, family, host):
    """The one-process connect on real loopback sockets: a listener answers (s), a closed port refuses (r), each line keeps
    its target's index, and more targets than `parallel` all get an answer."""
    try:
        listener = socket.socket(family, socket.SOCK_STREAM)
        listener.bind((host, 0))
    except OSError as exc:
        pytest.skip('no %s loopback here: %s' % (host, exc))
    listener.listen(64)
    closed = socket.socket(family, socket.SOCK_STREAM)
    closed.bind((host, 0))  # bound, not listening: the kernel refuses connections to it
    try:
        open_port, closed_port = listener.getsockname()[1], closed.getsockname()[1]
        targets = [(i, host, open_port if i % 3 else closed_port) for i in range(7, 17)]
        (tmp_path / 'in').write_text(''.join('%d %s %d\n' % t for t in targets))
        proc = subprocess.run([sys.executable, '-c', _connect_program(), str(tmp_path / 'in'), str(tmp_path / 'out'), '2', '4'],
                              capture_output=True, text=True, timeout=60, check=False)
        assert (proc.returncode, proc.stderr) == (0, '')
        got = dict(line.split() for line in (tmp_path / 'out').read_text().splitlines())
        assert got == {str(i): ('s' if i % 3 else 'r') for i, _h, _p in targets}
    finally:
        listener.close()
        closed.close()
