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


# -- exec and port-forward: what the lab kubelet runs in a container ------------------------------------------------
# The lab has no container runtime: a container answers a fixed set of commands (enough for the article's
# `kubectl exec <pod> -- <cmd>` checks); anything else fails like a missing binary under containerd (exit 126).
OCI_NOT_FOUND = ('OCI runtime exec failed: exec failed: unable to start container process: exec: "%s": executable file not found in '
                 '$PATH: unknown\r\n')


def exec_command(pod, container, command, now=None):
    """(stdout bytes, stderr bytes, exit code) of `command` (argv list) in the lab container."""
    import shlex  # pylint: disable=import-outside-toplevel
    import time as _time  # pylint: disable=import-outside-toplevel
    if not command:
        return b'', b'', 0
    name, args = command[0].rsplit('/', 1)[-1], command[1:]
    pod_name = pod['metadata']['name']
    if name in ('sh', 'bash', 'ash') and not args:
        return b'', b'', 0  # an interactive shell: the lab forwards no stdin, so it reads end-of-file and exits
    if name in ('sh', 'bash', 'ash') and len(args) >= 2 and args[0] == '-c':
        out, err, code = b'', b'', 0
        for part in args[1].split(';'):
            part = part.strip()
            if part.startswith('exit '):
                return out, err, int(part[5:].strip() or 0)
            if part:
                o, e, code = exec_command(pod, container, shlex.split(part), now)
                out, err = out + o, err + e
        return out, err, code
    if name == 'hostname' or (name == 'cat' and args == ['/etc/hostname']):
        return (pod_name + '\n').encode(), b'', 0
    if name == 'echo':
        if args[:1] == ['-n']:
            return ' '.join(args[1:]).encode(), b'', 0
        return (' '.join(args) + '\n').encode(), b'', 0
    if name == 'true':
        return b'', b'', 0
    if name == 'false':
        return b'', b'', 1
    if name in ('env', 'printenv'):
        env = ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', 'HOSTNAME=%s' % pod_name,
               'KUBERNETES_SERVICE_HOST=10.0.0.1', 'KUBERNETES_SERVICE_PORT=443', 'KUBERNETES_PORT=tcp://10.0.0.1:443']
        return ('\n'.join(env) + '\n').encode(), b'', 0
    if name == 'date':
        return (_time.strftime('%a %b %d %H:%M:%S UTC %Y', _time.gmtime(now)) + '\n').encode(), b'', 0
    if name == 'cat' and args:
        return b'', ('cat: %s: No such file or directory\n' % args[0]).encode(), 1
    return (OCI_NOT_FOUND % command[0]).encode(), b'', 126


def pod_listens(pod, port):
    """A lab container listens on the TCP ports its spec declares (containerPort)."""
    return any(p.get('containerPort') == port and p.get('protocol', 'TCP') == 'TCP'
               for c in pod['spec'].get('containers') or [] for p in c.get('ports') or [])


def port_answer(request):
    """The answer of a declared container port to one HTTP request (health endpoints say ok)."""
    line = request.split(b'\r\n', 1)[0].decode('latin-1', 'replace')
    parts = line.split()
    path = parts[1] if len(parts) >= 2 else '/'
    if path.split('?')[0] in ('/healthz', '/readyz', '/livez', '/health', '/ready'):
        status, body = '200 OK', b'ok'
    else:
        status, body = '404 Not Found', b'404 page not found\n'
    return ('HTTP/1.1 %s\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: %d\r\nConnection: close\r\n\r\n'
            % (status, len(body))).encode() + body


def port_refused(pod, port):
    """The kubelet's error when nothing listens on the port inside the pod's network namespace."""
    uid = pod['metadata'].get('uid', '')
    return ('error forwarding port %d to pod %s, uid : failed to execute portforward in network namespace "/var/run/netns/cni-%s": '
            'failed to connect to localhost:%d inside namespace "%s", IPv4: dial tcp4 127.0.0.1:%d: connect: connection refused IPv6 '
            'dial tcp6: address localhost: no suitable address found ' % (port, uid, uid[:36], port, uid, port))


def check_reachable(backend, node_name, node_ip):
    """Raise KubeletUnreachable when the API server cannot open a connection to the node's kubelet (exec/attach/portforward
    dial it like logs do: through the tunnel, the same errors)."""
    if backend.no_agent():
        raise KubeletUnreachable('No agent available')
    dialer = backend.emulator.kubelet_dialer
    if dialer is not None:
        dialer(node_name, node_ip, '/healthz', '')
        return
    if backend.mode == 'dial':
        backend._dial(node_name, node_ip, '/healthz', '')  # pylint: disable=protected-access
        return
    mode = backend.unreachable.get(node_name)
    if mode:
        raise KubeletUnreachable(dial_error(mode, node_ip))
