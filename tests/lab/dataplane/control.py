# -*- coding: utf-8 -*-
# Copyright (c) 2026 aks.tunnel contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The control daemon: the ARM emulator (with the netns run-command executor and NSG enforcement) and
the Kubernetes API emulator of one lab, in one process.

Every NSG change made through ARM is compiled to nftables and loaded on the lab bridge before the ARM
request returns, so a rule PUT by azure-mgmt-network changes what packets pass at once.

Run as `python -m ansible_collections.aks.tunnel.tests.lab.dataplane.control --state DIR`; writes
DIR/control.ready (JSON: arm, kube, kubeconfigs) when both emulators listen.
"""

from __future__ import annotations

import argparse
import base64
import http.client
import json
import logging
import os
import signal
import socket
import ssl
import sys
import threading
import time
import traceback

import yaml

from ..pki import LabCA
from . import firewall, netns, nsg
from .executor import NetnsExecutor
from .record import LabRecord
from .sh import in_netns

LOG = logging.getLogger('lab.control')


class NsgEnforcer:
    """Renders the ARM state's NSGs into the bridge's nftables table (serialized, skips identical rulesets)."""

    def __init__(self, plan):
        self.plan = plan
        self._lock = threading.Lock()
        self._last = None
        self.renders = 0

    def apply_dump(self, dump):
        view = nsg.view_from_arm(dump)
        view['gateway'] = self.plan['gateway']
        text = nsg.render(view)
        with self._lock:
            if text == self._last:
                return False
            started = time.monotonic()
            netns.apply_nsg(self.plan, text)
            self._last = text
            self.renders += 1
        LOG.info('NSG rules loaded on the bridge in %.3fs', time.monotonic() - started)
        return True

    def on_change(self, state, event):
        try:
            self.apply_dump(state.dump())
        except Exception:  # pylint: disable=broad-except
            LOG.error('NSG re-render after %s failed:\n%s', event, traceback.format_exc())


class _NetnsHTTPSConnection(http.client.HTTPSConnection):
    """HTTPS connection whose socket is created inside a lab namespace (the packets start there)."""

    def __init__(self, netns, host, port, timeout, context):
        super().__init__(host, port, timeout=timeout, context=context)
        self.netns = netns

    def connect(self):
        with in_netns(self.netns):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        try:
            sock.connect((self.host, self.port))
        except BaseException:
            sock.close()
            raise
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)


class KubeletDialer:
    """`KubeEmulator.kubelet_dialer`: API server -> kubelet requests travel the lab's real tunnel path.

    The tunnel works when a tunnel-hosting node can reach the API server endpoint (TLS with ALPN
    `konnectivity` on 443, TCP 9000 for tunnel-front, UDP 1194 for aks-link); the request then leaves
    that node's namespace for <node ip>:10250 through the bridge and its NSG rules, so `kubectl logs`
    fails with the same error as on AKS (i/o timeout, connection refused, HTTP response to HTTPS client).
    """

    def __init__(self, plan, ca_path, unreachable_error, timeout=3.0):
        self.plan = plan
        self.ca_path = ca_path
        self.unreachable_error = unreachable_error
        self.timeout = timeout
        self._agent = (0.0, None)
        self._lock = threading.Lock()

    def _tunnel_up(self, node_name):
        ns = self.plan['nodes'][node_name]['ns']
        tunnel = self.plan['tunnel']
        with in_netns(ns):
            kind = socket.SOCK_DGRAM if tunnel == 'aks-link' else socket.SOCK_STREAM
            sock = socket.socket(socket.AF_INET, kind)
        sock.settimeout(2)
        address, hostname = self.plan['api_ip'], self.plan['fqdn']
        if self.plan.get('private') and tunnel == 'konnectivity':
            # a private cluster's agent dials the private FQDN: the private endpoint when the node resolves it (netns.py)
            if not self.plan.get('private_dns_linked', True):
                sock.close()
                return False
            address, hostname = self.plan['private_endpoint_ip'], self.plan['private_fqdn']
        try:
            if tunnel == 'aks-link':
                sock.sendto(b'\x38' + os.urandom(8) + b'\0' * 5, (self.plan['api_ip'], 1194))
                return bool(sock.recvfrom(512)[0])
            sock.connect((address, 9000 if tunnel == 'tunnel-front' else 443))
            if tunnel == 'tunnel-front':
                return True
            context = ssl.create_default_context(cafile=self.ca_path)
            context.set_alpn_protocols(['konnectivity'])
            with context.wrap_socket(sock, server_hostname=hostname) as tls:
                return tls.selected_alpn_protocol() == 'konnectivity'
        except (OSError, ssl.SSLError):
            return False
        finally:
            sock.close()

    def agent_node(self):
        """A tunnel node whose agent is connected (cached for 2 s), or None."""
        with self._lock:
            stamp, node = self._agent
            if time.monotonic() - stamp < 2:
                return node
        found = next((n for n in self.plan['tunnel_nodes'] if self._tunnel_up(n)), None)
        with self._lock:
            self._agent = (time.monotonic(), found)
        return found

    def __call__(self, node_name, node_ip, path, query):
        agent = self.agent_node()
        if agent is None:
            if self.plan['tunnel'] == 'konnectivity':
                raise self.unreachable_error('No agent available')
            raise self.unreachable_error('dial tcp %s:10250: i/o timeout' % node_ip)
        context = ssl.create_default_context(cafile=self.ca_path)
        context.check_hostname = False
        connection = _NetnsHTTPSConnection(self.plan['nodes'][agent]['ns'], node_ip, 10250, self.timeout, context)
        try:
            connection.request('GET', path + ('?' + query if query else ''))
            response = connection.getresponse()
            return response.status, response.read(), response.getheader('Content-Type') or 'text/plain'
        except socket.timeout:
            raise self.unreachable_error('dial tcp %s:10250: i/o timeout' % node_ip) from None
        except ConnectionRefusedError:
            raise self.unreachable_error('dial tcp %s:10250: connect: connection refused' % node_ip) from None
        except ConnectionResetError:
            raise self.unreachable_error('read tcp %s->%s:10250: read: connection reset by peer'
                                         % (self.plan['nodes'][agent]['ip'], node_ip)) from None
        except ssl.SSLError as exc:
            if 'WRONG_VERSION_NUMBER' in str(exc) or 'wrong version number' in str(exc) or 'RECORD_LAYER' in str(exc):
                raise self.unreachable_error('http: server gave HTTP response to HTTPS client') from None
            raise self.unreachable_error('remote error: tls: %s' % exc.reason) from None
        except OSError as exc:
            raise self.unreachable_error('dial tcp %s:10250: %s' % (node_ip, exc.strerror or exc)) from None
        finally:
            connection.close()


def _inline_ca(path):
    """The kubeconfig at `path` with its CA file inlined as certificate-authority-data, as AKS returns it."""
    with open(path, encoding='utf-8') as handle:
        config = yaml.safe_load(handle)
    for entry in config['clusters']:
        with open(entry['cluster'].pop('certificate-authority'), 'rb') as handle:
            entry['cluster']['certificate-authority-data'] = base64.b64encode(handle.read()).decode('ascii')
    return yaml.safe_dump(config, default_flow_style=False, sort_keys=False)


def run(state_dir, stop):
    from ..arm.server import ArmEmulator  # pylint: disable=import-outside-toplevel
    from ..kube.server import KubeEmulator  # pylint: disable=import-outside-toplevel
    from ..kube.kubelet import KubeletUnreachable  # pylint: disable=import-outside-toplevel

    record = LabRecord.load(state_dir)
    plan = record.get('plan')
    config = record.get('config')
    pki_dir = record.get('pki')['dir']
    executor = NetnsExecutor(plan)
    enforcer = NsgEnforcer(plan)
    arm = ArmEmulator(config, executor=executor, state_dir=record.file('arm'), ca_dir=pki_dir)
    arm.on_nsg_change(enforcer.on_change)

    def firewall_changed(state, event):  # a rule collection group PUT: the router enforces the new policy (issue 16)
        if event.get('change') == 'firewall_policy':
            try:
                netns.apply_router(dict(plan, firewall_drops=firewall.drops(state.config, plan)))
            except Exception:  # pylint: disable=broad-except
                LOG.error('router re-render after %s failed:\n%s', event, traceback.format_exc())
    arm.on_nsg_change(firewall_changed)
    arm.start()
    enforcer.apply_dump(arm.state.dump())
    kube = KubeEmulator(config, state_dir=record.file('kube'), ca=LabCA.load(pki_dir))
    kube.kubelet_dialer = KubeletDialer(plan, record.get('pki')['ca'], KubeletUnreachable)
    kube.start()
    kubeconfig = record.file('kubeconfig')
    kubeconfig_ro = record.file('kubeconfig-readonly')
    kube.write_kubeconfig(kubeconfig, user='lab-admin')
    arm.cluster_user_kubeconfig = _inline_ca(kubeconfig)  # listClusterUserCredential (az aks get-credentials)
    kube.write_kubeconfig(kubeconfig_ro, user='lab-reader')
    info = {'pid': os.getpid(), 'arm': arm.ready_info(), 'kube': {'url': kube.url, 'ca_path': kube.ca_path},
            'kubeconfig': kubeconfig, 'kubeconfig_readonly': kubeconfig_ro}
    for role in ('diagnose', 'remediate'):  # the users bound to the collection's rbac/kubernetes YAML
        info['kubeconfig_' + role] = kube.write_kubeconfig(record.file('kubeconfig-' + role), user='lab-' + role)
    ready = record.file('control.ready')
    with open(ready + '.tmp', 'w', encoding='utf-8') as handle:
        json.dump(info, handle)
    os.replace(ready + '.tmp', ready)
    print('control ready: ARM %s, Kubernetes %s' % (arm.url, kube.url), flush=True)
    try:
        while not stop.wait(0.5):
            pass
    finally:
        kube.stop()
        arm.stop()


def main(argv=None):
    parser = argparse.ArgumentParser(description='lab control daemon (ARM + Kubernetes emulators, NSG enforcement)')
    parser.add_argument('--state', required=True)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format='%(asctime)s %(name)s %(levelname)s %(message)s')
    with open(os.path.join(args.state, 'control.pid'), 'w', encoding='ascii') as handle:
        handle.write(str(os.getpid()))
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    try:
        run(args.state, stop)
    except Exception:  # pylint: disable=broad-except
        traceback.print_exc()
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main())
