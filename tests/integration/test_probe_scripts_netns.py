# -*- coding: utf-8 -*-
# Copyright (c) 2026 aks.tunnel contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Run the generated probe scripts for real inside throwaway network namespaces.

Topology (all inside namespaces named ``akstp-*``; the host gets blackhole routes for
10.250.7.0/24 and 10.250.8.0/24 while they exist, so no test packet can leave the machine)::

    akstp-<id>-a  (prober, bridge br0 10.250.7.1/24, route "unreachable 10.250.8.0/24")
        |-- veth --> akstp-<id>-b  10.250.7.2  servers: tcp 10250, tls 443 (ALPN konnectivity),
        |                                      tls 8443 (no ALPN), udp 1194 (echo)
        `-- veth --> akstp-<id>-c  10.250.7.3  server: tcp 10250, 10255, 10260; own ufw config
                                               (/etc/netns/<ns>/ufw and /etc/netns/<ns>/default)

Scripts run exactly as Run Command runs them: the parameters pasted unquoted into the script text
(``export arg1=...`` / ``set -- ...`` on top, the lab's ``handler_script``), here via ``ip netns exec <ns>``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
import time

import pytest

from ansible_collections.aks.tunnel.plugins.module_utils import _firewall_parsers as fw
from ansible_collections.aks.tunnel.plugins.module_utils import _probe_scripts as ps
from ansible_collections.aks.tunnel.tests.lab.arm.executor import handler_script

pytestmark = pytest.mark.netns

SUBNET = '10.250.7.0/24'
UNREACHABLE_SUBNET = '10.250.8.0/24'
IP_A, IP_B, IP_C = '10.250.7.1', '10.250.7.2', '10.250.7.3'
IP_NOROUTE = '10.250.8.5'
SUFFIX = '%d' % (os.getpid() % 100000)
NS_A, NS_B, NS_C = 'akstp-%s-a' % SUFFIX, 'akstp-%s-b' % SUFFIX, 'akstp-%s-c' % SUFFIX
# A per-run metric so concurrent runs (two checkouts, or xdist workers) never collide on the safety routes.
ROUTE_METRIC = str(200000 + os.getpid() % 100000)


def _netns_unusable_reason():
    if os.geteuid() != 0:
        return 'needs root (network namespaces, veth, iptables)'
    for tool in ('ip', 'bash', 'iptables', 'nft', 'ss', 'timeout'):
        if not shutil.which(tool):
            return '%s is not installed' % tool
    probe = 'akstp-%s-probe' % SUFFIX
    proc = subprocess.run(['ip', 'netns', 'add', probe], capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        return '`ip netns add` is not usable here: %s' % proc.stderr.strip()
    subprocess.run(['ip', 'netns', 'del', probe], capture_output=True, check=False)
    return None


_REASON = _netns_unusable_reason()
if _REASON:
    pytestmark = [pytest.mark.netns, pytest.mark.skip(reason=_REASON)]


def sh(*args, check=True):
    proc = subprocess.run(list(args), capture_output=True, text=True, check=False)
    if check and proc.returncode != 0:
        raise RuntimeError('%s failed (%d): %s' % (' '.join(args), proc.returncode, proc.stderr.strip()))
    return proc


def nsx(ns, *args, check=True):
    return sh('ip', 'netns', 'exec', ns, *args, check=check)


SERVER = textwrap.dedent('''
    import socket, ssl, sys, threading, time
    ip, certfile, keyfile, spec = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]

    def tcp(port, alpn):
        srv = socket.socket()
        srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        srv.bind((ip, port))
        srv.listen(64)
        ctx = None
        if alpn is not None:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(certfile, keyfile)
            if alpn:
                ctx.set_alpn_protocols([alpn])
        while True:
            conn, _ = srv.accept()
            def handle(conn=conn):
                try:
                    if ctx is not None:
                        conn = ctx.wrap_socket(conn, server_side=True)
                        conn.recv(1)
                except Exception:
                    pass
                finally:
                    conn.close()
            threading.Thread(target=handle, daemon=True).start()

    def udp(port):
        srv = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        srv.bind((ip, port))
        while True:
            data, peer = srv.recvfrom(2048)
            srv.sendto(b'@' + data, peer)

    for item in spec.split(','):
        kind, port = item.split(':')
        target = {'tcp': (tcp, (int(port), None)), 'tls': (tcp, (int(port), 'konnectivity')),
                  'tlsnoalpn': (tcp, (int(port), '')), 'udp': (udp, (int(port),))}[kind]
        threading.Thread(target=target[0], args=target[1], daemon=True).start()
    print('ready', flush=True)
    while True:
        time.sleep(3600)
''')


class Lab:
    """Namespaces, servers and helpers; torn down by the fixture finalizer."""

    def __init__(self, tmpdir):
        self.tmpdir = tmpdir
        self.servers = {}
        self.routes = []
        self.namespaces = []
        self.etc_dirs = []

    def start_server(self, name, ns, ip, spec):
        proc = subprocess.Popen(
            ['ip', 'netns', 'exec', ns, sys.executable, '-c', SERVER, ip,
             os.path.join(self.tmpdir, 'cert.pem'), os.path.join(self.tmpdir, 'key.pem'), spec],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        line = proc.stdout.readline()
        if line.strip() != 'ready':
            proc.kill()
            raise RuntimeError('server %s did not start: %s' % (name, proc.stderr.read()))
        self.servers[name] = proc

    def stop_server(self, name):
        proc = self.servers.pop(name, None)
        if proc is not None:
            proc.kill()
            proc.wait(timeout=5)

    def run(self, ns, checks, wrap=(), **kwargs):
        script = ps.build_probe_script(checks)
        params = ps.build_probe_parameters(**kwargs)
        proc = subprocess.run(['ip', 'netns', 'exec', ns] + list(wrap) + ['bash', '-c', handler_script(script, params), 'bash'],
                              capture_output=True, text=True, timeout=120, check=False)
        assert len(proc.stdout.encode()) <= ps.OUTPUT_LIMIT, proc.stdout
        assert proc.stderr == ''
        return proc.stdout, ps.parse_probe_output(proc.stdout, kwargs.get('targets', ()), run_id=kwargs.get('run_id'))

    def teardown(self):
        for name in list(self.servers):
            self.stop_server(name)
        for ns in self.namespaces:
            pids = sh('ip', 'netns', 'pids', ns, check=False).stdout.split()
            for pid in pids:
                try:
                    os.kill(int(pid), 9)
                except (OSError, ValueError):
                    pass
            sh('ip', 'netns', 'del', ns, check=False)
        for path in self.etc_dirs:
            shutil.rmtree(path, ignore_errors=True)
        for route in self.routes:
            sh('ip', 'route', 'del', 'blackhole', route, 'metric', ROUTE_METRIC, check=False)


def _make_cert(tmpdir):
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID
    import datetime
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, 'akstp-apiserver')])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=1)).sign(key, hashes.SHA256()))
    with open(os.path.join(tmpdir, 'cert.pem'), 'wb') as handle:
        handle.write(cert.public_bytes(serialization.Encoding.PEM))
    with open(os.path.join(tmpdir, 'key.pem'), 'wb') as handle:
        handle.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))


@pytest.fixture(scope='module')
def lab(tmp_path_factory):
    tmpdir = str(tmp_path_factory.mktemp('akstp'))
    lab = Lab(tmpdir)
    try:
        for route in (SUBNET, UNREACHABLE_SUBNET):
            sh('ip', 'route', 'add', 'blackhole', route, 'metric', ROUTE_METRIC)
            lab.routes.append(route)
        for ns in (NS_A, NS_B, NS_C):
            sh('ip', 'netns', 'add', ns)
            lab.namespaces.append(ns)
            nsx(ns, 'ip', 'link', 'set', 'lo', 'up')
        nsx(NS_A, 'ip', 'link', 'add', 'br0', 'type', 'bridge')
        nsx(NS_A, 'ip', 'addr', 'add', IP_A + '/24', 'dev', 'br0')
        nsx(NS_A, 'ip', 'link', 'set', 'br0', 'up')
        for ns, ip, peer in ((NS_B, IP_B, 'vb'), (NS_C, IP_C, 'vc')):
            nsx(NS_A, 'ip', 'link', 'add', peer, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns)
            nsx(NS_A, 'ip', 'link', 'set', peer, 'master', 'br0')
            nsx(NS_A, 'ip', 'link', 'set', peer, 'up')
            nsx(ns, 'ip', 'addr', 'add', ip + '/24', 'dev', 'eth0')
            nsx(ns, 'ip', 'link', 'set', 'eth0', 'up')
        nsx(NS_A, 'ip', 'route', 'add', 'unreachable', UNREACHABLE_SUBNET)
        # REJECT answers with ICMP: without this, back-to-back runs hit the ICMP rate limit and time out
        nsx(NS_C, 'sysctl', '-q', '-w', 'net.ipv4.icmp_ratelimit=0')
        # private ufw configuration for node c (ip netns exec bind-mounts /etc/netns/<ns>/* over /etc/*)
        if shutil.which('ufw'):
            etc = '/etc/netns/%s' % NS_C
            lab.etc_dirs.append(etc)
            os.makedirs(etc)
            shutil.copytree('/etc/ufw', os.path.join(etc, 'ufw'), symlinks=True)
            shutil.copytree('/etc/default', os.path.join(etc, 'default'), symlinks=True)
        _make_cert(tmpdir)
        lab.start_server('b', NS_B, IP_B, 'tcp:10250,tls:443,tlsnoalpn:8443,udp:1194')
        lab.start_server('c', NS_C, IP_C, 'tcp:10250,tcp:10255,tcp:10260,udp:1194')
        for _attempt in range(50):
            if nsx(NS_A, 'ping', '-c1', '-W1', IP_C, check=False).returncode == 0:
                break
            time.sleep(0.1)
        yield lab
    finally:
        lab.teardown()


@pytest.fixture
def clean_c(lab):
    """Node c with an empty firewall before and after each test."""
    def reset():
        if shutil.which('ufw'):
            nsx(NS_C, 'ufw', '--force', 'reset', check=False)
            shutil.copy('/etc/default/ufw', '/etc/netns/%s/default/ufw' % NS_C)
        nsx(NS_C, 'nft', 'flush', 'ruleset')
        nsx(NS_C, 'iptables', '-P', 'INPUT', 'ACCEPT')
    reset()
    yield lab
    reset()
    if 'c' not in lab.servers:
        lab.start_server('c', NS_C, IP_C, 'tcp:10250,tcp:10255,tcp:10260,udp:1194')


@pytest.mark.parametrize('method', ['py', 'nc', 'devtcp'])
def test_connect_classification(clean_c, method):
    tool = {'py': 'python3', 'nc': 'nc'}.get(method)
    if tool and not nsx(NS_A, 'bash', '-c', 'command -v %s' % tool, check=False).stdout:
        pytest.skip('%s is not installed' % tool)
    nsx(NS_C, 'iptables', '-A', 'INPUT', '-p', 'tcp', '--dport', '10250', '-j', 'DROP')
    nsx(NS_C, 'iptables', '-A', 'INPUT', '-p', 'tcp', '--dport', '10255', '-j', 'REJECT', '--reject-with', 'tcp-reset')
    nsx(NS_C, 'iptables', '-A', 'INPUT', '-p', 'tcp', '--dport', '10260', '-j', 'REJECT')
    targets = [(IP_B, 10250), (IP_B, 10251), (IP_C, 10250), (IP_C, 10255), (IP_C, 10260), (IP_NOROUTE, 10250)]
    # timeout 2: over veth the ICMP answer to the first SYN can arrive while connect() still holds the
    # socket lock (it is then only a soft error); the retransmitted SYN after 1 s gets the refusal.
    out, parsed = clean_c.run(NS_A, ['connect'], targets=targets, timeout=2, parallelism=8, method=method, run_id='c1')
    assert (parsed['complete'], parsed['truncated'], parsed['problems']) == (True, False, []), out
    assert parsed['targets'] == {
        '10.250.7.2:10250': 'succeeded', '10.250.7.2:10251': 'refused', '10.250.7.3:10250': 'timed_out',
        '10.250.7.3:10255': 'refused', '10.250.7.3:10260': 'refused', '10.250.8.5:10250': 'unreachable',
    }, out
    assert parsed['summary']['m'] == method


def test_connect_falls_back_when_python3_fails(clean_c):
    """auto connects in one python3 process; a node where python3 does not run gets nc (or /dev/tcp), same verdicts."""
    # the python3 the script finds on its own PATH (not the test runner's)
    python3 = nsx(NS_A, 'bash', '-c', 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin; '
                  'p=$(command -v python3) && readlink -f "$p"', check=False).stdout.strip()
    if not python3 or not shutil.which('unshare'):
        pytest.skip('python3 or unshare is not installed')
    nsx(NS_C, 'iptables', '-A', 'INPUT', '-p', 'tcp', '--dport', '10250', '-j', 'DROP')
    targets = [(IP_B, 10250), (IP_B, 10251), (IP_C, 10250), (IP_NOROUTE, 10250)]
    want = {'10.250.7.2:10250': 'succeeded', '10.250.7.2:10251': 'refused', '10.250.7.3:10250': 'timed_out',
            '10.250.8.5:10250': 'unreachable'}
    out, parsed = clean_c.run(NS_A, ['connect'], targets=targets, timeout=1, run_id='auto1')
    assert (parsed['targets'], parsed['summary']['m']) == (want, 'py'), out
    # a private mount namespace where python3 is /bin/false: the script's python3 exits 1 and answers nothing
    broken = ['unshare', '-m', 'sh', '-c', 'mount --bind /bin/false "$0" && exec "$@"', python3]
    out, parsed = clean_c.run(NS_A, ['connect'], wrap=broken, targets=targets, timeout=1, run_id='auto2')
    fallback = 'nc' if nsx(NS_A, 'bash', '-c', 'command -v nc', check=False).stdout else 'devtcp'
    assert (parsed['targets'], parsed['summary']['m']) == (want, fallback), out


def test_connect_range_parameter(clean_c):
    targets = [(IP_A, 10250), (IP_B, 10250), (IP_C, 10250)]
    params = ps.build_probe_parameters(targets=targets)
    assert params[-1] == 'r=10.250.7.1+3:10250'
    out, parsed = clean_c.run(NS_A, ['connect'], targets=targets, timeout=2)
    assert parsed['targets'] == {
        '10.250.7.1:10250': 'refused', '10.250.7.2:10250': 'succeeded', '10.250.7.3:10250': 'succeeded'}, out


def test_egress_checks(clean_c):
    nsx(NS_C, 'iptables', '-A', 'INPUT', '-p', 'udp', '--dport', '1194', '-j', 'DROP')
    egress = [
        {'kind': 'tls', 'host': IP_B, 'port': 443},
        {'kind': 'tls', 'host': IP_B, 'port': 8443},
        {'kind': 'udp', 'host': IP_B, 'port': 1194},
        {'kind': 'udp', 'host': IP_C, 'port': 1194},
        {'kind': 'udp', 'host': IP_B, 'port': 1195},
        {'kind': 'tcp', 'host': IP_B, 'port': 9000},
        {'kind': 'tls', 'host': IP_NOROUTE, 'port': 443},
        # no DNS server is reachable from the namespace (no route): resolution fails locally
        {'kind': 'tcp', 'host': 'kubelet-probe.invalid', 'port': 443},
    ]
    out, parsed = clean_c.run(NS_A, ['egress'], egress=egress, timeout=1)
    assert parsed['complete'] is True, out
    got = [(e['kind'], e['port'], e['tcp'], e['tls'], e['alpn_konnectivity'], e['udp']) for e in parsed['egress']]
    tls_ok = 'ok' if shutil.which('openssl') else 'no_openssl'
    assert got == [
        ('tls', 443, 'succeeded', tls_ok, True if tls_ok == 'ok' else None, None),
        ('tls', 8443, 'succeeded', tls_ok, False if tls_ok == 'ok' else None, None),
        ('udp', 1194, None, None, None, 'reply'),
        ('udp', 1194, None, None, None, 'no_reply'),
        ('udp', 1195, None, None, None, 'refused'),
        ('tcp', 9000, 'refused', None, None, None),
        ('tls', 443, 'unreachable', None, None, None),
        ('tcp', 443, 'dns_failed', None, None, None),
    ], out
    if tls_ok == 'ok':
        assert parsed['egress'][0]['issuer'] == 'CN_=_akstp-apiserver'


def _inspect(lab):
    out, parsed = lab.run(NS_C, ['inspect'], run_id='i1')
    assert parsed['complete'] is True, out
    return out, parsed['firewall']['verdict'], parsed


def _probe_c(lab):
    _out, parsed = lab.run(NS_A, ['connect'], targets=[(IP_C, 10250)], timeout=1)
    return parsed['targets']['10.250.7.3:10250']


def test_inspect_iptables_drop_then_delete_by_spec(clean_c):
    nsx(NS_C, 'iptables', '-A', 'INPUT', '-m', 'conntrack', '--ctstate', 'RELATED,ESTABLISHED', '-j', 'ACCEPT')
    nsx(NS_C, 'iptables', '-N', 'AKS-BLOCK')
    nsx(NS_C, 'iptables', '-A', 'INPUT', '-m', 'comment', '--comment', 'test block', '-j', 'AKS-BLOCK')
    nsx(NS_C, 'iptables', '-A', 'AKS-BLOCK', '-p', 'tcp', '-m', 'multiport', '--dports', '22,10240:10260', '-j', 'DROP')
    assert _probe_c(clean_c) == 'timed_out'
    out, verdict, _parsed = _inspect(clean_c)
    assert verdict['blocked_by'] == 'iptables', out
    assert verdict['rules'] == ['-A AKS-BLOCK -p tcp -m multiport --dports 22,10240:10260 -j DROP']
    nsx(NS_C, 'iptables', *fw.iptables_delete_args(verdict['rules'][0]))
    assert _probe_c(clean_c) == 'succeeded'
    _out, verdict, _parsed = _inspect(clean_c)
    assert verdict['blocked_by'] is None


@pytest.mark.skipif(not shutil.which('ufw'), reason='ufw is not installed')
def test_inspect_ufw(clean_c):
    nsx(NS_C, 'ufw', '--force', 'enable')
    assert _probe_c(clean_c) == 'timed_out'
    out, verdict, parsed = _inspect(clean_c)
    assert verdict['blocked_by'] == 'ufw', out
    assert parsed['firewall']['sections']['ufw']['text'].startswith('Status: active')
    nsx(NS_C, 'ufw', 'allow', '10250/tcp')
    assert _probe_c(clean_c) == 'succeeded'
    out, verdict, _parsed = _inspect(clean_c)
    assert verdict['blocked_by'] is None, out


def test_inspect_native_nft_and_not_listening(clean_c):
    nsx(NS_C, 'nft', 'add table inet akstp; add chain inet akstp input { type filter hook input priority 0; policy accept; }; '
        'add rule inet akstp input tcp dport { 22, 10250 } reject with tcp reset')
    assert _probe_c(clean_c) == 'refused'
    out, verdict, _parsed = _inspect(clean_c)
    assert verdict['blocked_by'] == 'nft', out
    assert verdict['rules'] == ['inet akstp input: tcp dport { 22, 10250 } reject with tcp reset']
    nsx(NS_C, 'nft', 'flush', 'ruleset')
    clean_c.stop_server('c')
    assert _probe_c(clean_c) == 'refused'
    out, verdict, _parsed = _inspect(clean_c)
    assert verdict['blocked_by'] == 'not_listening', out


def test_inspect_large_ruleset_fits_and_keeps_the_blocking_rule(clean_c):
    # 400 irrelevant rules in a chain reached from INPUT, plus the one that matters at the end
    lines = ['*filter', ':AKS-BIG - [0:0]', '-A INPUT -j AKS-BIG']
    lines += ['-A AKS-BIG -s 192.0.2.%d/32 -p tcp -m tcp --dport %d -j DROP' % (i % 250 + 1, 20000 + i) for i in range(400)]
    lines += ['-A AKS-BIG -p tcp -m tcp --dport 10250 -j REJECT --reject-with tcp-reset', 'COMMIT', '']
    proc = subprocess.run(['ip', 'netns', 'exec', NS_C, 'iptables-restore', '--noflush'], input='\n'.join(lines),
                          capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    out, verdict, parsed = _inspect(clean_c)
    assert len(out.encode()) <= ps.OUTPUT_LIMIT
    section = parsed['firewall']['sections']['iptables']
    assert section['filtered'] is True
    assert section['bytes'] > 4096
    assert verdict['blocked_by'] == 'iptables', out
    assert verdict['rules'] == ['-A AKS-BIG -p tcp -m tcp --dport 10250 -j REJECT --reject-with tcp-reset']
    nsx(NS_C, 'iptables', '-F', 'INPUT')
    nsx(NS_C, 'iptables', '-F', 'AKS-BIG')
    nsx(NS_C, 'iptables', '-X', 'AKS-BIG')


def test_script_rejects_injection_on_the_node(clean_c):
    script = ps.build_probe_script(['connect', 'egress'])
    marker = '/tmp/akstp-injected-%s' % SUFFIX
    proc = subprocess.run(['ip', 'netns', 'exec', NS_A, 'bash', '-c', script, 'bash', 't=10.250.7.2:80;touch %s' % marker,
                           'e=tls:$(touch %s):443' % marker], capture_output=True, text=True, check=False)
    assert proc.returncode == 2
    assert '@@error bad-arg 1' in proc.stdout
    assert not os.path.exists(marker)
