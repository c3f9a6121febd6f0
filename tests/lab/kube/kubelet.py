# -*- coding: utf-8 -*-
# Copyright (c) 2026 aks.tunnel contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""API server -> kubelet (:10250) requests: pods/log and nodes/proxy, the path the AKS tunnel carries.

Three backends, picked per request:
1. `KubeEmulator.kubelet_dialer` if the data plane set one: fn(node_name, node_ip, path, query) -> (status, body, content_type),
   raising KubeletUnreachable(message) when the dial fails;
2. `kube.kubelet.mode: dial`: a real HTTPS request to https://<node ip>:10250 (lab CA, short timeout);
3. otherwise a simulation: healthy kubelets answering canned logs, except nodes listed in kube.kubelet.unreachable
   ({node ref: timeout | refused | http}) or set with KubeEmulator.set_kubelet_unreachable().
With konnectivity and no Ready konnectivity-agent pod every request fails with "No agent available", as on AKS.
"""

from __future__ import annotations

import http.client
import socket
import ssl

from .controllers import pod_is_ready

FAILURE_MODES = ('timeout', 'refused', 'http', 'reset')


class KubeletUnreachable(Exception):
    """The API server could not reach the kubelet; str(exc) is the Go-style error after `<verb> "<url>": `."""


def dial_error(mode, node_ip):
    if mode == 'timeout':
        return 'dial tcp %s:10250: i/o timeout' % node_ip
    if mode == 'refused':
        return 'dial tcp %s:10250: connect: connection refused' % node_ip
    if mode == 'http':
        return 'http: server gave HTTP response to HTTPS client'
    if mode == 'reset':
        return 'read tcp 10.224.0.4:51234->%s:10250: read: connection reset by peer' % node_ip
    raise ValueError('kubelet failure mode %r is unknown; use one of %s' % (mode, ', '.join(FAILURE_MODES)))


class KubeletBackend:
    """Answers kubelet requests for the Api (under the store lock only for the lookups, never while dialling)."""

    def __init__(self, emulator):
        self.emulator = emulator
        config = emulator.kube.get('kubelet') or {}
        self.mode = config.get('mode', 'simulate')
        self.dial_timeout = float(config.get('dial_timeout', 3.0))
        self.ca_file = config.get('ca_file')  # CA of the kubelet serving certs; default: the emulator's own CA
        self.unreachable = {}
        for ref, mode in (config.get('unreachable') or {}).items():
            dial_error(mode, '0.0.0.0')
            self.unreachable[emulator.node_name(ref)] = mode
        self.logs = dict(config.get('logs') or {})
        # Test hook: dial these host:port instead of <node ip>:10250 (dial mode only).
        self.dial_addresses = {emulator.node_name(ref): address for ref, address in (config.get('dial_addresses') or {}).items()}

    def no_agent(self):
        """Konnectivity cluster without a Ready agent: the API server has no tunnel at all."""
        emulator = self.emulator
        if emulator.seeded.get('tunnel') != 'konnectivity':
            return False
        return not any(pod_is_ready(pod) for pod in emulator.tunnel_pods())

    def request(self, node_name, node_ip, path, query):
        """(status, body bytes, content type) from the kubelet, or raise KubeletUnreachable."""
        emulator = self.emulator
        if self.no_agent():
            raise KubeletUnreachable('No agent available')
        dialer = emulator.kubelet_dialer
        if dialer is not None:
            return dialer(node_name, node_ip, path, query)
        if self.mode == 'dial':
            return self._dial(node_name, node_ip, path, query)
        mode = self.unreachable.get(node_name)
        if mode:
            raise KubeletUnreachable(dial_error(mode, node_ip))
        return self._simulate(node_name, path)

    def _dial(self, node_name, node_ip, path, query):
        context = ssl.create_default_context(cafile=self.ca_file or self.emulator.ca_path)
        context.check_hostname = False
        host, _unused, port = self.dial_addresses.get(node_name, '%s:10250' % node_ip).rpartition(':')
        connection = http.client.HTTPSConnection(host, int(port), timeout=self.dial_timeout, context=context)
        try:
            connection.request('GET', path + ('?' + query if query else ''))
            response = connection.getresponse()
            return response.status, response.read(), response.getheader('Content-Type') or 'text/plain'
        except socket.timeout:
            raise KubeletUnreachable(dial_error('timeout', node_ip)) from None
        except ConnectionRefusedError:
            raise KubeletUnreachable(dial_error('refused', node_ip)) from None
        except ConnectionResetError:
            raise KubeletUnreachable(dial_error('reset', node_ip)) from None
        except ssl.SSLError as exc:
            if 'WRONG_VERSION_NUMBER' in str(exc) or 'wrong version number' in str(exc):
                raise KubeletUnreachable(dial_error('http', node_ip)) from None
            raise KubeletUnreachable('remote error: tls: %s' % exc.reason) from None
        except OSError as exc:
            raise KubeletUnreachable('dial tcp %s:10250: %s' % (node_ip, exc.strerror or exc)) from None
        finally:
            connection.close()

    def _simulate(self, node_name, path):
        if path.startswith('/containerLogs/'):
            parts = path.split('/')
            pod_name, container = parts[3], parts[4] if len(parts) > 4 else ''
            for prefix, text in self.logs.items():
                if pod_name.startswith(prefix):
                    return 200, text.encode(), 'text/plain'
            return 200, canned_log(pod_name, container, node_name).encode(), 'text/plain'
        if path in ('/healthz', '/healthz/'):
            return 200, b'ok', 'text/plain'
        if path == '/configz':
            return 200, b'{"kubeletconfig":{"port":10250,"authentication":{"anonymous":{"enabled":false}}}}', 'application/json'
        return 404, b'404 page not found\n', 'text/plain'


def canned_log(pod_name, container, node_name):
    if container == 'konnectivity-agent' or pod_name.startswith('konnectivity-agent-'):
        return ('I1125 20:00:00.000001       1 options.go:151] AgentCert set to "/certs/client.crt".\n'
                'I1125 20:00:00.100000       1 client.go:204] "Connect to server" serverID="lab-hcp-0"\n'
                'I1125 20:00:00.200000       1 clientset.go:223] "sync added client connecting to proxy server" serverID="lab-hcp-0"\n'
                'I1125 20:00:00.300000       1 client.go:314] "Start serving" serverID="lab-hcp-0" agentID="%s"\n' % node_name)
    return '%s/%s on %s: lab log line 1\n%s/%s on %s: lab log line 2\n' % (pod_name, container, node_name, pod_name, container, node_name)
