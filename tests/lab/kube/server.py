# -*- coding: utf-8 -*-
# Copyright (c) 2026 aks.tunnel contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The Kubernetes API emulator: HTTPS on 127.0.0.1 (bearer tokens and client certificates), plus the
in-process handle (`KubeEmulator`) that scenarios and the data plane use to change the cluster.
"""

from __future__ import annotations

import collections
import http.server
import ipaddress
import json
import os
import random
import re
import secrets
import socket
import socketserver
import ssl
import tempfile
import threading
import time
import urllib.parse

import yaml

from ansible_collections.aks.tunnel.tests.lab import topology as topology_module
from ansible_collections.aks.tunnel.tests.lab.pki import LabCA
from ansible_collections.aks.tunnel.tests.lab.topology import base36, build_topology

from . import rbac, streams
from . import seed as seed_module
from .api import POD_STREAM, Api, unauthorized
from .controllers import Cluster, Scheduler
from .cpa import CpaSimulator
from .kubelet import KubeletBackend, dial_error
from .selectors import parse_label_selector
from .store import Store
from .util import status_body

PUBLIC_PATHS = frozenset(('/version', '/healthz', '/livez', '/readyz'))
# Scenario controls reachable over HTTPS (POST /lab/v1/call, admin users only) when the emulator runs as a process.
CONTROL_METHODS = frozenset((
    'node_name', 'set_node_unschedulable', 'set_node_ready', 'add_nodes', 'remove_node', 'delete_pod', 'mark_pod_oom_killed',
    'recover_pod', 'add_oom_event', 'set_configmap_data', 'set_metrics', 'set_kubelet_unreachable', 'add_fault', 'clear_faults',
    'tunnel_nodes', 'tunnel_pods', 'deployment', 'lab_state',
))


class KubeLabError(ValueError):
    """The emulator config or a scenario call is wrong; the message says how to fix it."""


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = 'HTTP/1.1'
    server_version = 'aks-tunnel-lab-kube/1.0'
    timeout = 120

    def log_message(self, format, *args):  # pylint: disable=redefined-builtin
        # Requests are recorded in KubeEmulator.requests instead of stderr noise.
        del format, args

    def do_GET(self):
        self._serve('GET')

    def do_POST(self):
        self._serve('POST')

    def do_PUT(self):
        self._serve('PUT')

    def do_PATCH(self):
        self._serve('PATCH')

    def do_DELETE(self):
        self._serve('DELETE')

    def _read_chunked(self, limit=16 * 1024 * 1024):
        """An HTTP/1.1 chunked request body (as Go's net/http sends a body of unknown length)."""
        parts, total = [], 0
        while True:
            size = int(self.rfile.readline(1024).split(b';', 1)[0].strip() or b'0', 16)
            if size == 0:
                while self.rfile.readline(1024) not in (b'\r\n', b'\n', b''):
                    pass
                return b''.join(parts)
            total += size
            if total > limit:
                raise ValueError('request body larger than %d bytes' % limit)
            parts.append(self.rfile.read(size))
            self.rfile.readline(1024)

    def _serve(self, method):
        emulator = self.server.emulator
        if 'chunked' in (self.headers.get('Transfer-Encoding') or '').lower():
            body = self._read_chunked()  # kubectl create/replace --raw -f streams the file (issue 16: the run command's writes)
        else:
            length = int(self.headers.get('Content-Length') or 0)
            body = self.rfile.read(length) if length else b''
        url = urllib.parse.urlsplit(self.path)
        query = {key: values[-1] for key, values in urllib.parse.parse_qs(url.query, keep_blank_values=True).items()}
        path = url.path
        user = emulator.authenticate(self.headers.get('Authorization'), self.connection)
        content_type = 'application/json'
        fault_headers = {}
        stream = POD_STREAM.match(path)
        if user is not None and stream and streams.is_upgrade(self.headers):
            # exec / attach / portforward: dial the kubelet through the tunnel, then upgrade (streams.py).
            status = streams.serve(self, emulator, stream.group(3), stream.group(1), stream.group(2), url.query, user, method)
            emulator.record(method, self.path, status, user, self.headers.get('Content-Type'))
            self.close_connection = True
            return
        if user is None and path.rstrip('/') not in PUBLIC_PATHS:
            status, payload = unauthorized()
        elif path.startswith('/lab/'):
            status, payload = emulator.control(method, path, body, user)
        else:
            fault = emulator.match_fault(method, path)
            if fault is not None and fault.get('delay'):
                time.sleep(fault['delay'])
            if fault is not None and fault.get('code'):
                status = fault['code']
                payload = emulator.fault_body(fault)
                if fault.get('retry_after') is not None:
                    fault_headers['Retry-After'] = str(fault['retry_after'])
            else:
                status, payload, content_type = emulator.api.handle(method, path, query, self.headers, body,
                                                                    user or {'name': 'system:anonymous', 'role': 'none'})
        emulator.record(method, self.path, status, user, self.headers.get('Content-Type'))
        self.send_response(status)
        self.send_header('Content-Type', content_type)
        self.send_header('Content-Length', str(len(payload)))
        self.send_header('Audit-Id', emulator.next_audit_id())
        for name, value in fault_headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(payload)


class _TLSServer(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address, context, emulator):
        self.ssl_context = context
        self.emulator = emulator
        self._connections = set()
        self._conn_lock = threading.Lock()
        super().__init__(address, _Handler)

    def finish_request(self, request, client_address):
        # The TLS handshake runs in the request thread, so one slow client cannot stall accept().
        request.settimeout(30)
        # Headers and body go out in separate writes; without NODELAY, Nagle + delayed ACK add ~40 ms per response.
        request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            conn = self.ssl_context.wrap_socket(request, server_side=True)
        except (ssl.SSLError, OSError):
            return
        with self._conn_lock:
            self._connections.add(conn)
        try:
            self.RequestHandlerClass(conn, client_address, self)
        except (ssl.SSLError, OSError):
            pass
        finally:
            with self._conn_lock:
                self._connections.discard(conn)
            try:
                conn.close()
            except OSError:
                pass

    def close_connections(self):
        with self._conn_lock:
            connections = list(self._connections)
        for conn in connections:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


def _cert_identity(conn):
    """(CN, [O...]) of a verified client certificate, or None."""
    try:
        cert = conn.getpeercert()
    except (ValueError, AttributeError):
        return None
    if not cert:
        return None
    common_name, groups = None, []
    for rdn in cert.get('subject', ()):
        for key, value in rdn:
            if key == 'commonName':
                common_name = value
            elif key == 'organizationName':
                groups.append(value)
    return (common_name, groups) if common_name else None


def entra_users(entries):
    """app id (lower) -> lab user, from kube.entra_users: [{client_id, name?, role, rbac?}]; `rbac` is a list of
    Role/ClusterRole documents, or names of shipped sets (rbac/kubernetes/aks-tunnel-<name>.yaml: diagnose, remediate, ...)."""
    users = {}
    for entry in entries:
        if not isinstance(entry, dict) or not entry.get('client_id') or entry.get('role') not in ('admin', 'readonly', 'none', 'rbac'):
            raise KubeLabError('kube.entra_users entries need client_id and role admin, readonly, none or rbac: %r' % (entry,))
        user = {'name': entry.get('name') or entry['client_id'], 'role': entry['role'], 'entra': True}
        if entry['role'] == 'rbac':
            documents = entry.get('rbac')
            names = [documents] if isinstance(documents, str) else documents
            if isinstance(names, list) and names and all(isinstance(name, str) for name in names):
                documents = [doc for name in names for doc in rbac.shipped(name)]
            try:
                rbac.check_documents(documents, 'kube.entra_users %s rbac' % user['name'])
            except rbac.RbacError as exc:
                raise KubeLabError(str(exc)) from exc
            user['rbac'] = documents
        users[entry['client_id'].lower()] = user
    return users


def default_users():
    return [
        {'name': 'lab-admin', 'token': secrets.token_urlsafe(24), 'role': 'admin'},
        {'name': 'lab-reader', 'token': secrets.token_urlsafe(24), 'role': 'readonly'},
        {'name': 'lab-noaccess', 'token': secrets.token_urlsafe(24), 'role': 'none'},
        {'name': 'lab-admin-cert', 'client_cert': True, 'groups': ['system:masters'], 'role': 'admin'},
        {'name': 'lab-reader-cert', 'client_cert': True, 'groups': ['aks-tunnel:readers'], 'role': 'readonly'},
        # Least privilege: exactly the Role/ClusterRole YAML the collection ships in rbac/kubernetes/.
        {'name': 'lab-diagnose', 'token': secrets.token_urlsafe(24), 'role': 'rbac', 'rbac': rbac.shipped('diagnose')},
        {'name': 'lab-remediate', 'token': secrets.token_urlsafe(24), 'role': 'rbac', 'rbac': rbac.shipped('remediate')},
    ]


class KubeEmulator:
    """A seeded, running Kubernetes API for one lab cluster.

    config: the lab/scenario dict: `cluster` + `node_pools` (topology spec, see topology.build_topology) or a
    prebuilt `topology`, and an optional `kube` section (see seed.py and the README in this package).
    """

    def __init__(self, config, state_dir=None, ca=None):
        if not isinstance(config, dict):
            raise KubeLabError('config must be a dict (the scenario spec with cluster, node_pools and kube)')
        self.config = config
        self.kube = dict(config.get('kube') or {})
        # One Kubernetes version per lab: the ARM managed cluster's kubernetesVersion is cluster.kubernetes_version too.
        self.kube.setdefault('version', (config.get('cluster') or {}).get('kubernetes_version')
                             or getattr(topology_module, 'DEFAULT_KUBERNETES_VERSION', '1.31.2'))
        self.topology = config['topology'] if config.get('topology') else build_topology(config)
        self.state_dir = state_dir
        self._ca = ca
        self.store = Store()
        self.rng = random.Random(self.kube.get('random_seed'))
        self.scheduler = Scheduler()
        self.cluster = Cluster(self.store, self.rng, pod_ready_delay=float(self.kube.get('pod_ready_delay', 0.0)), scheduler=self.scheduler)
        self.users = [dict(user) for user in (self.kube.get('users') or default_users())]
        for user in self.users:
            if not user.get('name') or user.get('role') not in ('admin', 'readonly', 'none', 'rbac'):
                raise KubeLabError('kube.users entries need a name and role admin, readonly, none or rbac: %r' % (user,))
            if user['role'] == 'rbac':
                try:
                    rbac.check_documents(user.get('rbac'), 'kube.users %s rbac' % user['name'])
                except rbac.RbacError as exc:
                    raise KubeLabError(str(exc)) from exc
        self._tokens = {user['token']: user for user in self.users if user.get('token')}
        self.entra_users = entra_users(self.kube.get('entra_users') or [])
        self._cert_users = {user['name']: user for user in self.users if user.get('client_cert')}
        self.requests = collections.deque(maxlen=5000)
        self._faults = []
        self._faults_lock = threading.Lock()
        self._audit = 0
        self._server = None
        self._thread = None
        self.url = None
        self.ca_path = None
        # The data plane may set fn(node_name, node_ip, path, query) -> (status, body, content_type) to carry
        # pods/log and nodes/proxy to the real kubelet stand-ins (raise kubelet.KubeletUnreachable on failure).
        self.kubelet_dialer = None
        self.api = None
        try:
            self.seeded = seed_module.seed(self.store, self.cluster, self.topology, self.kube)
        except (seed_module.SeedError, KeyError, ValueError) as exc:
            raise KubeLabError('cannot seed the cluster: %s' % exc) from exc
        try:
            self.kubelet = KubeletBackend(self)
        except ValueError as exc:
            raise KubeLabError('kube.kubelet: %s' % exc) from exc
        self.cpa = None
        if self.seeded['tunnel'] == 'konnectivity':
            spec = (self.kube.get('konnectivity') or {}).get('autoscaler') or {}
            self.cpa = CpaSimulator(self.store, self.cluster, scheduler=self.scheduler, enabled=spec.get('enabled', True),
                                    delay=float(spec.get('delay', 0.0)), poll_seconds=float(spec.get('poll_seconds', 0.0)),
                                    check_ready=bool(spec.get('check_ready', False)), node_labels=spec.get('node_labels'))
            # CPA polls once at start-up.
            self.cpa.sync()

    # -- lifecycle ---------------------------------------------------------------------------------
    def start(self):
        if self._server is not None:
            return self
        if self.state_dir is None:
            self.state_dir = tempfile.mkdtemp(prefix='lab-kube-')
        os.makedirs(self.state_dir, exist_ok=True)
        if self.scheduler.ident is not None:
            # Restart after stop(): threads cannot be started twice, so the timers get a new one.
            self.scheduler = Scheduler()
            self.cluster.scheduler = self.scheduler
            if self.cpa is not None:
                self.cpa.scheduler = self.scheduler
        ca = self._ca or (LabCA.load(self.kube['ca_dir']) if self.kube.get('ca_dir') else LabCA.create(os.path.join(self.state_dir, 'pki')))
        self._ca = ca
        self.ca_path = ca.cert_path
        names = ['localhost', 'kubernetes', 'kubernetes.default', 'kubernetes.default.svc', self.topology['cluster']['fqdn']]
        cert, key = ca.issue_server_cert('kube-apiserver', dns_names=names, ip_addresses=('127.0.0.1',))
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        context.load_cert_chain(cert, key)
        context.load_verify_locations(ca.cert_path)
        context.verify_mode = ssl.CERT_OPTIONAL
        context.set_alpn_protocols(['http/1.1'])
        self._server = _TLSServer((self.kube.get('host', '127.0.0.1'), int(self.kube.get('port', 0))), context, self)
        host, port = self._server.server_address[:2]
        self.url = 'https://%s:%d' % (host, port)
        self.api = Api(self.store, self.cluster, self.version_info(), '%s:%d' % (host, port),
                       metrics_config=self.kube.setdefault('metrics', {}), topology=self.topology, kubelet=self.kubelet)
        self.scheduler.start()
        if self.cpa is not None:
            self.cpa.start()
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={'poll_interval': 0.2}, name='lab-kube-http', daemon=True)
        self._thread.start()
        return self

    def stop(self):
        if self._server is None:
            return
        self._server.shutdown()
        self._server.close_connections()
        self._server.server_close()
        self._thread.join(5)
        self.scheduler.stop()
        self._server = None

    @property
    def ca(self):
        """The LabCA signing the API server certificate (None before start() unless one was passed in)."""
        return self._ca

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    def version_info(self):
        version = self.kube.get('version', '1.31.2')
        major, minor = version.split('.')[:2]
        return {'major': major, 'minor': minor, 'gitVersion': 'v' + version, 'gitCommit': '0' * 40, 'gitTreeState': 'clean',
                'buildDate': '2025-10-01T00:00:00Z', 'goVersion': 'go1.23.4', 'compiler': 'gc', 'platform': 'linux/amd64'}

    # -- auth, faults, request log -----------------------------------------------------------------
    def authenticate(self, authorization, conn):
        """The user dict for a request, or None (anonymous / bad credentials -> 401 outside public paths)."""
        if authorization:
            scheme, _unused, token = authorization.partition(' ')
            if scheme.lower() != 'bearer':
                return None
            return self._tokens.get(token.strip()) or self._entra_user(token.strip())
        identity = _cert_identity(conn)
        if identity is None:
            return None
        common_name, groups = identity  # pylint: disable=unpacking-non-sequence
        user = self._cert_users.get(common_name)
        if user is not None:
            return user
        return {'name': common_name, 'groups': groups, 'role': 'admin' if 'system:masters' in groups else 'none'}

    def _entra_user(self, token):
        """An Entra ID token for the AKS server application (issue 16): the user its app id maps to (kube.entra_users), else the
        principal's object id with no rights - as AKS names an Entra service principal that RBAC does not know."""
        from ..arm.auth import aks_token_claims  # pylint: disable=import-outside-toplevel
        claims = aks_token_claims(token) if token.count('.') == 2 else None
        if claims is None:
            return None
        user = self.entra_users.get(str(claims.get('appid', '')).lower())
        return user if user is not None else {'name': claims.get('oid'), 'groups': [], 'role': 'none'}

    def add_fault(self, path_regex, method=None, code=500, message=None, delay=0.0, times=None, retry_after=None):
        """Make matching requests fail (code) and/or stall (delay seconds); `times` None = until cleared.

        `retry_after` (seconds) adds a Retry-After header to the failure, as the API server's
        max-in-flight and priority-and-fairness filters do on their 429s.
        """
        fault = {'regex': re.compile(path_regex), 'method': method, 'code': code, 'message': message, 'delay': delay, 'times': times,
                 'retry_after': retry_after}
        with self._faults_lock:
            self._faults.append(fault)

    def clear_faults(self):
        with self._faults_lock:
            self._faults = []

    def match_fault(self, method, path):
        with self._faults_lock:
            for fault in self._faults:
                if fault['method'] not in (None, method) or not fault['regex'].search(path):
                    continue
                if fault['times'] is not None:
                    fault['times'] -= 1
                    if fault['times'] <= 0:
                        self._faults.remove(fault)
                return fault
        return None

    @staticmethod
    def fault_body(fault):
        reasons = {429: 'TooManyRequests', 500: 'InternalError', 503: 'ServiceUnavailable', 504: 'Timeout', 403: 'Forbidden', 404: 'NotFound'}
        return json.dumps(status_body(fault['code'], reasons.get(fault['code'], 'InternalError'),
                                      fault['message'] or 'injected fault (lab)')).encode()

    def record(self, method, path, status, user, content_type=None):
        """Request log for tests: dicts with method, path (with query), status, user, content_type."""
        self.requests.append({'method': method, 'path': path, 'status': status, 'user': (user or {}).get('name'),
                              'content_type': content_type})

    def next_audit_id(self):
        self._audit += 1
        return '00000000-0000-4000-8000-%012d' % self._audit

    # -- scenario control over HTTPS ----------------------------------------------------------------
    def control(self, method, path, body, user):
        """POST /lab/v1/call {"method": name, "args": [...], "kwargs": {...}} -> {"result": ...}; GET /lab/v1/state."""
        if user.get('role') != 'admin':
            return 403, json.dumps(status_body(403, 'Forbidden', 'lab controls need an admin user')).encode()
        if method == 'GET' and path.rstrip('/') == '/lab/v1/state':
            return 200, json.dumps(self.lab_state()).encode()
        if method != 'POST' or path.rstrip('/') != '/lab/v1/call':
            return 404, json.dumps(status_body(404, 'NotFound', 'lab controls: POST /lab/v1/call or GET /lab/v1/state')).encode()
        try:
            request = json.loads(body or b'{}')
            name = request['method']
            args, kwargs = list(request.get('args') or []), dict(request.get('kwargs') or {})
        except (ValueError, KeyError, TypeError) as exc:
            return 400, json.dumps(status_body(400, 'BadRequest', 'lab control body must be {"method", "args", "kwargs"}: %s' % exc)).encode()
        if name not in CONTROL_METHODS:
            message = 'lab control %r is unknown; use one of %s' % (name, ', '.join(sorted(CONTROL_METHODS)))
            return 400, json.dumps(status_body(400, 'BadRequest', message)).encode()
        with self.store.lock:
            try:
                result = getattr(self, name)(*args, **kwargs)
            except (KubeLabError, KeyError, ValueError, TypeError, re.error) as exc:
                return 422, json.dumps(status_body(422, 'Invalid', '%s failed: %s' % (name, exc))).encode()
            # Serialized under the lock: results may be live store objects.
            return 200, json.dumps({'result': result}).encode()

    def lab_state(self):
        """A summary for scenario scripts: tunnel, its nodes and pods, CPA status."""
        with self.store.lock:
            return {
                'tunnel': self.seeded['tunnel'], 'tunnel_deployment': self.seeded['tunnel_deployment'], 'tunnel_nodes': self.tunnel_nodes(),
                'tunnel_pods': [p['metadata']['name'] for p in self.tunnel_pods()], 'nodes': self.store.count('nodes'),
                'cpa': None if self.cpa is None else {'enabled': self.cpa.enabled, 'last_error': self.cpa.last_error,
                                                      'last_status': self.cpa.last_status, 'log': self.cpa.log[-20:]},
                'kubelet_unreachable': dict(self.kubelet.unreachable),
            }

    # -- kubeconfig --------------------------------------------------------------------------------
    def user(self, name):
        for user in self.users:
            if user['name'] == name:
                return user
        raise KubeLabError('no lab user %r; users are %s' % (name, ', '.join(u['name'] for u in self.users)))

    def write_kubeconfig(self, path, user='lab-admin'):
        """Write a kubeconfig for `user` (a name from kube.users); client-cert users get a fresh certificate."""
        if self.url is None:
            raise KubeLabError('start() the emulator before writing a kubeconfig')
        entry = self.user(user)
        credentials = {}
        if entry.get('token'):
            credentials['token'] = entry['token']
        elif entry.get('client_cert'):
            groups = entry.get('groups') or []
            cert, key = self._ca.issue_client_cert('client-' + entry['name'], entry['name'], organization=groups[0] if groups else None)
            credentials.update({'client-certificate': cert, 'client-key': key})
        cluster_name = self.topology['cluster']['name']
        config = {
            'apiVersion': 'v1', 'kind': 'Config', 'preferences': {},
            'clusters': [{'name': cluster_name, 'cluster': {'server': self.url, 'certificate-authority': self.ca_path}}],
            'users': [{'name': entry['name'], 'user': credentials}],
            'contexts': [{'name': cluster_name, 'context': {'cluster': cluster_name, 'user': entry['name'], 'namespace': 'default'}}],
            'current-context': cluster_name,
        }
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        with open(path, 'w', encoding='utf-8') as handle:
            yaml.safe_dump(config, handle, default_flow_style=False, sort_keys=False)
        os.chmod(path, 0o600)
        return path

    # -- scenario helpers (the data plane and scenarios call these) --------------------------------
    def node_name(self, ref):
        for node in self.topology['nodes']:
            if ref in (node['name'], node['short']):
                return node['name']
        if self.store.get('nodes', '', ref) is not None:
            return ref
        raise KubeLabError('no node %r in the cluster (use <pool>-<index> or the full node name)' % (ref,))

    def set_node_unschedulable(self, ref, unschedulable=True):
        """kubectl cordon / uncordon."""
        return self.store.mutate('nodes', '', self.node_name(ref), lambda node: seed_module.set_node_unschedulable(node, unschedulable))

    def set_node_ready(self, ref, ready=True):
        return self.store.mutate('nodes', '', self.node_name(ref), lambda node: seed_module.set_node_ready(node, ready))

    def add_nodes(self, pool, count):
        """Scale a pool up by `count` nodes (names and provider ids continue the VMSS numbering; IPs after the highest in use)."""
        pools = {p['name']: p for p in self.topology['pools']}
        if pool not in pools:
            raise KubeLabError('no node pool %r; pools are %s' % (pool, ', '.join(pools)))
        spec = pools[pool]
        with self.store.lock:
            used = [n for n in self.topology['nodes'] if n['pool'] == pool]
            next_index = max([n['index'] for n in used] + [-1]) + 1
            highest = max(ipaddress.ip_address(n['ip']) for n in self.topology['nodes']) if self.topology['nodes'] else None
            subnet = ipaddress.ip_network(self.topology['cluster']['subnet_prefix'])
            ip = highest + 1 if highest else subnet.network_address + 4
            added = []
            template = used[0] if used else None
            for offset in range(count):
                index = next_index + offset
                if ip not in subnet:
                    raise KubeLabError('subnet %s is full' % subnet)
                vm_id = '%s/virtualMachines/%d' % (spec['vmss_id'], index)
                node = {
                    'name': spec['vmss_name'] + base36(index), 'short': '%s-%d' % (pool, index), 'pool': pool, 'index': index,
                    'instance_id': str(index), 'vmss_name': spec['vmss_name'], 'vmss_id': spec['vmss_id'], 'vm_id': vm_id,
                    'provider_id': 'azure://' + re.sub(r'/resourceGroups/([^/]+)/', lambda m: '/resourceGroups/%s/' % m.group(1).lower(), vm_id),
                    'ip': str(ip), 'allocatable_cpu': spec['allocatable_cpu'], 'allocatable_memory': spec['allocatable_memory'],
                    'subnet_id': (template or {}).get('subnet_id'), 'nic_nsg_id': (template or {}).get('nic_nsg_id'),
                }
                ip += 1
                self.topology['nodes'].append(node)
                spec['count'] = spec.get('count', 0) + 1
                obj = seed_module.node_object(node, spec, self.topology, self.kube, seed_module.timestamp_now())
                self.store.create('nodes', obj)
                added.append(node['name'])
            return added

    def remove_node(self, ref):
        """The node is gone (scale-in): its pods are deleted and their ReplicaSets create replacements elsewhere."""
        name = self.node_name(ref)
        with self.store.lock:
            self.topology['nodes'] = [n for n in self.topology['nodes'] if n['name'] != name]
            return self.store.delete('nodes', '', name)

    def pods(self, namespace='kube-system', label_selector=None):
        predicate = parse_label_selector(label_selector)
        with self.store.lock:
            return [p for p in self.store.items('pods', namespace) if predicate is None or predicate(p['metadata'].get('labels'))]

    def tunnel_pods(self):
        """The pods of the tunnel Deployment (konnectivity-agent / tunnelfront / aks-link)."""
        name = self.seeded.get('tunnel_deployment')
        return self.cluster.pods_of_deployment('kube-system', name) if name else []

    def tunnel_nodes(self):
        return sorted({p['spec'].get('nodeName') for p in self.tunnel_pods() if p['spec'].get('nodeName')})

    def delete_pod(self, namespace, name):
        return self.store.delete('pods', namespace, name)

    def mark_pod_oom_killed(self, namespace, name, times=1, node_event=True, system_oom=False, container=None, comm=None, finished_ago=5,
                            crashloop=False):
        """The container was OOM-killed and restarted; optionally the node events NPD / kubelet would record."""
        return self.cluster.record_oom(namespace, name, times=times, node_event=node_event, system_oom=system_oom, container=container,
                                       comm=comm or self.kube.get('oom_comm', 'proxy-agent'), finished_ago=finished_ago, crashloop=crashloop)

    def recover_pod(self, namespace, name):
        """A crash-looping pod's container starts and stays up (Ready again; restart history kept)."""
        self.cluster.make_pod_ready(namespace, name)
        return self.store.get_copy('pods', namespace, name)

    def add_oom_event(self, node_ref, comm=None, **kwargs):
        return self.cluster.oom_node_event(self.node_name(node_ref), comm=comm or self.kube.get('oom_comm', 'proxy-agent'), **kwargs)

    def add_event(self, involved, reason, message, **kwargs):
        return self.cluster.add_event(involved, reason, message, **kwargs)

    def set_kubelet_unreachable(self, ref, mode='timeout'):
        """Simulated tunnel fault: the API server cannot reach this node's kubelet (mode timeout|refused|http|reset; None heals)."""
        name = self.node_name(ref)
        if mode is None:
            self.kubelet.unreachable.pop(name, None)
        else:
            dial_error(mode, '0.0.0.0')
            self.kubelet.unreachable[name] = mode

    def set_configmap_data(self, namespace, name, data):
        def change(obj):
            obj['data'] = dict(data)
        return self.store.mutate('configmaps', namespace, name, change)

    def set_metrics(self, nodes=None, pods=None, node_default=None, pod_default=None, unavailable=None):
        metrics = self.kube.setdefault('metrics', {})
        if nodes:
            metrics.setdefault('nodes', {}).update(nodes)
        if pods:
            metrics.setdefault('pods', {}).update(pods)
        if node_default:
            metrics['node_default'] = node_default
        if pod_default:
            metrics['pod_default'] = pod_default
        if unavailable is not None:
            metrics['unavailable'] = unavailable

    def deployment(self, name, namespace='kube-system'):
        return self.store.get_copy('deployments', namespace, name)

    def wait_for(self, predicate, timeout=5.0, interval=0.02):
        """Poll predicate() until true; returns its value or raises TimeoutError."""
        deadline = time.monotonic() + timeout
        while True:
            with self.store.lock:
                value = predicate()
            if value:
                return value
            if time.monotonic() > deadline:
                raise TimeoutError('condition not met within %.1fs' % timeout)
            time.sleep(interval)
