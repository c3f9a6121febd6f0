# -*- coding: utf-8 -*-
# Copyright (c) 2026 aks.tunnel contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The REST surface: discovery, routing, authorization, and the per-resource verbs over the store.

`Api.handle()` takes a parsed request and an authenticated user and returns (status, body bytes). It knows
nothing about sockets, so tests and the HTTP server share it.
"""

from __future__ import annotations

import base64
import copy
import json
import re
import urllib.parse

from . import protobuf, rbac, tables
from .controllers import selector_string, to_events_v1
from .kubelet import KubeletUnreachable
from .patch import apply_patch
from .selectors import field_getters, parse_field_selector, parse_label_selector
from .util import (ApiError, already_exists, bad_request, conflict, invalid, kibibytes, nanocores, not_found, parse_quantity, random_suffix,
                   status_body, timestamp)

READ_VERBS = frozenset(('get', 'list', 'watch'))
_POD_LOG = re.compile(r'^/api/v1/namespaces/([^/]+)/pods/([^/]+)/log$')
_NODE_PROXY = re.compile(r'^/api/v1/nodes/([^/]+)/proxy(/.*)?$')
# exec, attach and portforward are streams (upgrade requests, see streams.py); a plain request gets the API server's 400.
POD_STREAM = re.compile(r'^/api/v1/namespaces/([^/]+)/pods/([^/]+)/(exec|attach|portforward)$')
_SELF_REVIEWS = re.compile(r'^/apis/authorization\.k8s\.io/v1/(selfsubjectaccessreviews|selfsubjectrulesreviews)$')
_LOG_PARAMS = ('tailLines', 'previous', 'timestamps', 'sinceSeconds', 'sinceTime', 'limitBytes', 'follow')
ALL_VERBS = ['create', 'delete', 'get', 'list', 'patch', 'update']
READ_ONLY = ['get', 'list']


class Resource:
    """One REST resource of one group/version."""

    def __init__(self, group, version, plural, kind, namespaced, verbs, singular, short_names=(), storage=None, subresources=()):
        self.group = group
        self.version = version
        self.plural = plural
        self.kind = kind
        self.namespaced = namespaced
        self.verbs = verbs
        self.singular = singular
        self.short_names = list(short_names)
        self.storage = storage or plural
        self.subresources = subresources

    @property
    def api_version(self):
        return '%s/%s' % (self.group, self.version) if self.group else self.version


RESOURCES = [
    Resource('', 'v1', 'namespaces', 'Namespace', False, ['create', 'delete', 'get', 'list', 'patch', 'update'], 'namespace', ['ns']),
    Resource('', 'v1', 'nodes', 'Node', False, ALL_VERBS, 'node', ['no']),
    Resource('', 'v1', 'pods', 'Pod', True, ALL_VERBS, 'pod', ['po']),
    Resource('', 'v1', 'configmaps', 'ConfigMap', True, ALL_VERBS, 'configmap', ['cm']),
    Resource('', 'v1', 'events', 'Event', True, ALL_VERBS, 'event', ['ev']),
    Resource('apps', 'v1', 'deployments', 'Deployment', True, ALL_VERBS, 'deployment', ['deploy'], subresources=('scale',)),
    Resource('apps', 'v1', 'replicasets', 'ReplicaSet', True, ALL_VERBS, 'replicaset', ['rs']),
    Resource('events.k8s.io', 'v1', 'events', 'Event', True, READ_ONLY, 'event', ['ev'], storage='events'),
    Resource('metrics.k8s.io', 'v1beta1', 'nodes', 'NodeMetrics', False, READ_ONLY, '', storage=None),
    Resource('metrics.k8s.io', 'v1beta1', 'pods', 'PodMetrics', True, READ_ONLY, '', storage=None),
    # kubectl auth can-i: every authenticated user may ask about itself (system:basic-user).
    Resource('authorization.k8s.io', 'v1', 'selfsubjectaccessreviews', 'SelfSubjectAccessReview', False, ['create'], '', storage=None),
    Resource('authorization.k8s.io', 'v1', 'selfsubjectrulesreviews', 'SelfSubjectRulesReview', False, ['create'], '', storage=None),
]
GROUP_VERSIONS = {}
for _res in RESOURCES:
    GROUP_VERSIONS.setdefault((_res.group, _res.version), {})[_res.plural] = _res
# Subresources whose status lives in its own endpoint: writes to the main resource leave status alone.
STATUS_SUBRESOURCE = {'nodes', 'pods', 'deployments', 'replicasets', 'namespaces'}
GENERATION_TRACKED = {'deployments', 'replicasets'}


def _json(obj):
    return json.dumps(obj, separators=(',', ':')).encode()


def discovery_resource_list(group, version):
    resources = []
    for res in GROUP_VERSIONS[(group, version)].values():
        entry = {'name': res.plural, 'singularName': res.singular, 'namespaced': res.namespaced, 'kind': res.kind, 'verbs': list(res.verbs)}
        if res.short_names:
            entry['shortNames'] = res.short_names
        if res.plural in ('pods', 'deployments', 'replicasets') and group in ('', 'apps'):
            entry['categories'] = ['all']  # kubectl get all
        resources.append(entry)
        if res.plural in STATUS_SUBRESOURCE:
            resources.append({'name': res.plural + '/status', 'singularName': '', 'namespaced': res.namespaced, 'kind': res.kind,
                              'verbs': ['get', 'patch', 'update']})
        if res.plural == 'pods' and not group:
            resources.append({'name': 'pods/log', 'singularName': '', 'namespaced': True, 'kind': 'Pod', 'verbs': ['get']})
            for sub, kind in (('attach', 'PodAttachOptions'), ('exec', 'PodExecOptions'), ('portforward', 'PodPortForwardOptions')):
                resources.append({'name': 'pods/' + sub, 'singularName': '', 'namespaced': True, 'kind': kind, 'verbs': ['create', 'get']})
        if res.plural == 'nodes' and not group:
            resources.append({'name': 'nodes/proxy', 'singularName': '', 'namespaced': False, 'kind': 'NodeProxyOptions',
                              'verbs': ['create', 'delete', 'get', 'patch', 'update']})
        for sub in res.subresources:
            resources.append({'name': '%s/%s' % (res.plural, sub), 'singularName': '', 'namespaced': res.namespaced, 'kind': 'Scale',
                              'group': 'autoscaling', 'version': 'v1', 'verbs': ['get', 'patch', 'update']})
    return {'kind': 'APIResourceList', 'apiVersion': 'v1', 'groupVersion': '%s/%s' % (group, version) if group else version,
            'resources': resources}


def discovery_groups():
    groups = []
    for group in sorted({g for g, _unused in GROUP_VERSIONS if g}, key=lambda g: (g != 'apps', g)):
        versions = [{'groupVersion': '%s/%s' % (group, v), 'version': v} for g, v in GROUP_VERSIONS if g == group]
        groups.append({'name': group, 'versions': versions, 'preferredVersion': versions[0]})
    return {'kind': 'APIGroupList', 'apiVersion': 'v1', 'groups': groups}


def _encode_continue(key, resource_version):
    raw = json.dumps({'v': 'meta.k8s.io/v1', 'rv': int(resource_version), 'start': list(key)}, separators=(',', ':'))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip('=')


def _decode_continue(token):
    try:
        raw = base64.urlsafe_b64decode(token + '=' * (-len(token) % 4))
        data = json.loads(raw)
        start = data['start']
        if not (isinstance(start, list) and len(start) == 2 and all(isinstance(part, str) for part in start)):
            raise ValueError(start)
        return tuple(start)
    except (ValueError, KeyError, TypeError):
        raise bad_request('continue key is not valid: %s' % token) from None


def _forbidden(user, verb, res, namespace, name, subresource):
    plural = res.plural + ('/' + subresource if subresource else '')
    qualified = res.plural + ('.' + res.group if res.group else '')
    who = '%s "%s"' % (qualified, name) if name else qualified
    scope = 'in the namespace "%s"' % namespace if namespace else 'at the cluster scope'
    message = '%s is forbidden: User "%s" cannot %s resource "%s" in API group "%s" %s' % (who, user['name'], verb, plural, res.group, scope)
    return ApiError(403, 'Forbidden', message, name=name or '', kind=res.plural, group=res.group)


def authorize(user, verb, res, namespace, name, subresource=None):
    role = user.get('role', 'none')
    if role == 'admin' or (role == 'readonly' and verb in READ_VERBS):
        return
    if role == 'rbac' and rbac.allows(user['rbac'], verb, res.group, res.plural, namespace if res.namespaced else None, name, subresource):
        return
    raise _forbidden(user, verb, res, namespace, name, subresource)


class Api:
    """Serves requests against a Store and a Cluster (controllers)."""

    def __init__(self, store, cluster, version_info, server_address, metrics_config=None, topology=None, kubelet=None):
        self.kubelet = kubelet
        self.store = store
        self.cluster = cluster
        self.version_info = version_info
        self.server_address = server_address
        self.metrics = metrics_config or {}
        self.topology = topology or {'nodes': []}
        self._static = {
            '/version': _json(version_info),
            '/api': _json({'kind': 'APIVersions', 'versions': ['v1'],
                           'serverAddressByClientCIDRs': [{'clientCIDR': '0.0.0.0/0', 'serverAddress': server_address}]}),
            '/apis': _json(discovery_groups()),
            '/api/v1': _json(discovery_resource_list('', 'v1')),
        }
        for group, version in GROUP_VERSIONS:
            if group:
                self._static['/apis/%s/%s' % (group, version)] = _json(discovery_resource_list(group, version))
                versions = [{'groupVersion': '%s/%s' % (group, v), 'version': v} for g, v in GROUP_VERSIONS if g == group]
                self._static['/apis/%s' % group] = _json({'kind': 'APIGroup', 'apiVersion': 'v1', 'name': group, 'versions': versions,
                                                          'preferredVersion': versions[0]})

    # -- entry point -------------------------------------------------------------------------------
    def handle(self, method, path, query, headers, body, user):
        """Returns (status code, body bytes, content type). Raises nothing: errors become Status bodies."""
        try:
            result = self._dispatch(method, path.rstrip('/') or '/', query, headers, body, user)
        except ApiError as exc:
            return exc.code, _json(exc.body), 'application/json'
        if len(result) == 2:
            result += ('text/plain; charset=utf-8' if result[1] == b'ok' else 'application/json',)
        return result

    def _dispatch(self, method, path, query, headers, body, user):
        if path in self._static:
            if method != 'GET':
                raise ApiError(405, 'MethodNotAllowed', 'the server does not allow this method on the requested resource')
            return 200, self._static[path]
        if path in ('/healthz', '/livez', '/readyz'):
            return 200, b'ok'
        match = _POD_LOG.match(path)
        if match:
            return self._pod_log(method, match.group(1), match.group(2), query, user)
        match = _NODE_PROXY.match(path)
        if match:
            return self._node_proxy(method, match.group(1), match.group(2) or '/', query, user)
        match = POD_STREAM.match(path)
        if match:
            self.stream_target(match.group(3), match.group(1), match.group(2), query, user, method)
            raise bad_request('Upgrade request required')
        match = _SELF_REVIEWS.match(path)
        if match:
            if method != 'POST':
                raise ApiError(405, 'MethodNotAllowed', 'the server does not allow this method on the requested resource')
            if (headers.get('Content-Type') or '').startswith('application/vnd.kubernetes.protobuf'):
                try:
                    review = protobuf.self_review(body)
                except protobuf.ProtobufError as exc:
                    raise bad_request('the body of the request could not be decoded: %s' % exc) from None
            else:
                review = self._body(body)
            return self._self_review(match.group(1), review, user)
        res, namespace, name, subresource = self._route(path)
        if query.get('watch') in ('true', '1'):
            raise ApiError(405, 'MethodNotAllowed', 'watch is not supported by the aks.tunnel lab API server; poll with list instead')
        verb = {'GET': 'get' if name else 'list', 'POST': 'create', 'PUT': 'update', 'PATCH': 'patch', 'DELETE': 'delete'}.get(method)
        if verb is None:
            raise ApiError(405, 'MethodNotAllowed', 'the server does not allow this method on the requested resource')
        if verb == 'delete' and not name:
            verb = 'deletecollection'
        if verb == 'create' and name:
            raise ApiError(405, 'MethodNotAllowed', 'the server does not allow this method on the requested resource')
        authorize(user, verb, res, namespace, name, subresource)
        allowed = res.verbs if not subresource else ['get', 'patch', 'update']
        if verb not in allowed:
            raise ApiError(405, 'MethodNotAllowed', 'the server does not allow this method on the requested resource')
        if res.group == 'metrics.k8s.io':
            return self._metrics(res, namespace, name, query)
        with self.store.lock:
            if subresource == 'scale':
                return self._scale(method, res, namespace, name, headers, body)
            if subresource == 'status':
                if method != 'GET':
                    raise ApiError(405, 'MethodNotAllowed', 'the lab API server does not accept status writes')
                return self._get(res, namespace, name)
            if verb == 'get':
                return self._table(res, headers, query, self._get(res, namespace, name))
            if verb == 'list':
                return self._table(res, headers, query, self._list(res, namespace, query))
            payload = self._body(body)
            if verb == 'create':
                return self._create(res, namespace, payload)
            if verb == 'update':
                return self._update(res, namespace, name, payload)
            if verb == 'patch':
                return self._patch(res, namespace, name, headers.get('Content-Type'), payload)
            if verb == 'delete':
                return self._delete(res, namespace, name)
        raise ApiError(405, 'MethodNotAllowed', 'the lab API server does not implement %s on %s' % (verb, res.plural))

    @staticmethod
    def _table(res, headers, query, result):
        """kubectl get asks for a server-side Table (tables.py); everyone else gets the object or list."""
        version = tables.wants_table(headers.get('Accept'))
        if not version:
            return result
        return result[0], _json(tables.to_table(res, result[1], query, version)), 'application/json;as=Table;v=%s;g=meta.k8s.io' % version

    # -- authorization.k8s.io: kubectl auth can-i ------------------------------------------------------
    def _self_review(self, kind, review, user):
        if not isinstance(review, dict):
            raise bad_request('the body of the request must be a %s' % kind)
        spec = review.get('spec') or {}
        status = {}
        if kind == 'selfsubjectrulesreviews':
            status = self._rules(user, spec.get('namespace') or '')
        else:
            status = self._access(user, spec)
        result = {'kind': 'SelfSubjectAccessReview' if kind == 'selfsubjectaccessreviews' else 'SelfSubjectRulesReview',
                  'apiVersion': 'authorization.k8s.io/v1', 'metadata': {'creationTimestamp': None}, 'spec': spec, 'status': status}
        return 201, _json(result)

    @staticmethod
    def _access(user, spec):
        attrs = spec.get('resourceAttributes')
        role = user.get('role', 'none')
        if attrs is None:
            path, verb = (spec.get('nonResourceAttributes') or {}).get('path', ''), (spec.get('nonResourceAttributes') or {}).get('verb', '')
            allowed = role == 'admin' or (verb == 'get' and path in ('/version', '/healthz', '/livez', '/readyz', '/api', '/apis'))
            return {'allowed': allowed}
        group, resource, verb = attrs.get('group', ''), attrs.get('resource', ''), attrs.get('verb', '')
        namespace, name, subresource = attrs.get('namespace') or None, attrs.get('name') or None, attrs.get('subresource') or None
        table = GROUP_VERSIONS.get((group, attrs.get('version') or 'v1')) or next(
            (t for (g, _unused), t in GROUP_VERSIONS.items() if g == group and resource in t), {})
        res = table.get(resource) or Resource(group, attrs.get('version') or 'v1', resource, '', bool(namespace), [], '')
        try:
            authorize(user, verb, res, namespace, name, subresource)
        except ApiError:
            return {'allowed': False}
        if role == 'admin':
            reason = 'RBAC: allowed by ClusterRoleBinding "lab-admin" of ClusterRole "cluster-admin" to User "%s"' % user['name']
        elif role == 'readonly':
            reason = 'RBAC: allowed by ClusterRoleBinding "lab-reader" of ClusterRole "view" to User "%s"' % user['name']
        else:
            reason = 'RBAC: allowed by the lab binding of the aks.tunnel roles to User "%s"' % user['name']
        return {'allowed': True, 'reason': reason}

    @staticmethod
    def _rules(user, namespace):
        """SelfSubjectRulesReview (kubectl auth can-i --list) from the user's role."""
        role = user.get('role', 'none')
        rules = [{'verbs': ['create'], 'apiGroups': ['authorization.k8s.io'], 'resources': ['selfsubjectaccessreviews', 'selfsubjectrulesreviews']}]
        if role == 'admin':
            rules.append({'verbs': ['*'], 'apiGroups': ['*'], 'resources': ['*']})
        elif role == 'readonly':
            rules.append({'verbs': ['get', 'list', 'watch'], 'apiGroups': ['*'], 'resources': ['*']})
        elif role == 'rbac':
            for doc in user['rbac']:
                if doc['kind'] == 'Role' and doc['metadata']['namespace'] != namespace:
                    continue
                for rule in doc.get('rules') or []:
                    entry = {key: list(rule[key]) for key in ('verbs', 'apiGroups', 'resources')}
                    if rule.get('resourceNames'):
                        entry['resourceNames'] = list(rule['resourceNames'])
                    rules.append(entry)
        public = ['/api', '/api/*', '/apis', '/apis/*', '/healthz', '/livez', '/readyz', '/version', '/version/']
        non_resource = [{'verbs': ['get'], 'nonResourceURLs': public}]
        if role == 'admin':
            non_resource = [{'verbs': ['*'], 'nonResourceURLs': ['*']}]
        return {'resourceRules': rules, 'nonResourceRules': non_resource, 'incomplete': False}

    # -- exec / attach / portforward: authorization and target (streams.py serves the upgrade) ---------
    def stream_target(self, kind, namespace, name, query, user, method='POST'):
        """Authorize `create pods/<kind>` and find the pod's node: (pod copy, node name, node IP, container)."""
        pods = GROUP_VERSIONS[('', 'v1')]['pods']
        authorize(user, 'create' if method == 'POST' else 'get', pods, namespace, name, kind)
        with self.store.lock:
            pod = copy.deepcopy(self._load(pods, namespace, name))
        containers = [c['name'] for c in pod['spec']['containers']]
        container = query.get('container') or (containers[0] if kind != 'portforward' else None)
        if kind != 'portforward' and container not in containers:
            raise bad_request('container %s is not valid for pod %s' % (container, name))
        node_name = pod['spec'].get('nodeName')
        phase = (pod.get('status') or {}).get('phase')
        if not node_name or phase != 'Running':
            raise bad_request('pod %s does not have a host assigned' % name if not node_name else
                              'unable to upgrade connection: container not found ("%s")' % (container or containers[0]))
        return pod, node_name, pod['status'].get('hostIP', ''), container

    def _route(self, path):
        parts = path.strip('/').split('/')
        if parts[0] == 'api' and len(parts) >= 3 and parts[1] == 'v1':
            group, version, rest = '', 'v1', parts[2:]
        elif parts[0] == 'apis' and len(parts) >= 4:
            group, version, rest = parts[1], parts[2], parts[3:]
        else:
            raise ApiError(404, 'NotFound', 'the server could not find the requested resource')
        table = GROUP_VERSIONS.get((group, version))
        if table is None:
            raise ApiError(404, 'NotFound', 'the server could not find the requested resource')
        namespace = None
        if rest[0] == 'namespaces' and len(rest) >= 3 and rest[2] in table and table[rest[2]].namespaced:
            namespace, rest = rest[1], rest[2:]
        res = table.get(rest[0])
        if res is None or len(rest) > 3:
            raise ApiError(404, 'NotFound', 'the server could not find the requested resource')
        if res.namespaced is False and namespace:
            raise ApiError(404, 'NotFound', 'the server could not find the requested resource')
        name = rest[1] if len(rest) >= 2 else None
        subresource = rest[2] if len(rest) == 3 else None
        if subresource and subresource not in res.subresources and not (subresource == 'status' and res.plural in STATUS_SUBRESOURCE):
            raise ApiError(404, 'NotFound', 'the server could not find the requested resource')
        if res.namespaced and name and namespace is None:
            raise ApiError(404, 'NotFound', 'the server could not find the requested resource')
        return res, namespace, name, subresource

    @staticmethod
    def _body(body):
        if not body:
            return None
        try:
            return json.loads(body)
        except ValueError as exc:
            raise bad_request('the body of the request could not be decoded as JSON: %s' % exc) from None

    # -- reads -------------------------------------------------------------------------------------
    def _load(self, res, namespace, name):
        obj = self.store.get(res.storage, namespace, name)
        if obj is None:
            raise not_found(res.plural, name, res.group)
        return obj

    def _get(self, res, namespace, name):
        if res.group == 'events.k8s.io':
            return 200, _json(to_events_v1(self._load(res, namespace, name)))
        self._load(res, namespace, name)
        return 200, self.store.raw(res.storage, namespace, name)

    def _predicate(self, res, query):
        label = parse_label_selector(query.get('labelSelector'))
        kind_label = '%s/%s, Resource=%s' % (res.group, res.version, res.plural) if res.group else '/%s, Resource=%s' % (res.version, res.plural)
        field = parse_field_selector(query.get('fieldSelector'), field_getters(res.storage), kind_label)
        if label and field:
            return lambda obj: label(obj['metadata'].get('labels')) and field(obj)
        if label:
            return lambda obj: label(obj['metadata'].get('labels'))
        return field

    def _list(self, res, namespace, query):
        predicate = self._predicate(res, query)
        try:
            limit = int(query.get('limit') or 0)
        except ValueError:
            raise bad_request('limit must be an integer, got %r' % query.get('limit')) from None
        after = _decode_continue(query['continue']) if query.get('continue') else None
        rows, more, remaining = self.store.page(res.storage, namespace, after, predicate, max(limit, 0))
        rv = self.store.resource_version()
        meta = {'resourceVersion': rv}
        if more:
            meta['continue'] = _encode_continue(rows[-1][0], rv)
            if remaining is not None:
                meta['remainingItemCount'] = remaining
        if res.group == 'events.k8s.io':
            items = b','.join(_json(to_events_v1(obj)) for _unused, _unused, obj in rows)
        else:
            items = b','.join(raw for _unused, raw, _unused in rows)
        head = _json({'kind': res.kind + 'List', 'apiVersion': res.api_version, 'metadata': meta})
        return 200, head[:-1] + b',"items":[' + items + b']}'

    # -- writes ------------------------------------------------------------------------------------
    def _check_object(self, res, namespace, obj, name=None):
        if not isinstance(obj, dict):
            raise bad_request('the body of the request must be a %s object' % res.kind)
        if obj.get('kind') not in (None, res.kind) or obj.get('apiVersion') not in (None, res.api_version):
            raise bad_request('the API version in the data (%s) does not match the expected API version (%s)' % (obj.get('apiVersion'), res.api_version))
        meta = obj.setdefault('metadata', {})
        if not isinstance(meta, dict):
            raise bad_request('metadata must be an object')
        if res.namespaced:
            if meta.get('namespace') not in (None, '', namespace):
                raise bad_request('the namespace of the provided object does not match the namespace sent on the request')
            meta['namespace'] = namespace
            if self.store.get('namespaces', '', namespace) is None:
                raise ApiError(404, 'NotFound', 'namespaces "%s" not found' % namespace, name=namespace, kind='namespaces')
        if name is not None and meta.get('name') not in (None, name):
            raise bad_request('the name of the object (%s) does not match the name on the URL (%s)' % (meta.get('name'), name))
        if name is not None:
            meta['name'] = name
        obj['kind'], obj['apiVersion'] = res.kind, res.api_version
        if res.plural == 'configmaps':
            for field in ('data', 'binaryData'):
                values = obj.get(field) or {}
                if not isinstance(values, dict) or any(not isinstance(v, str) for v in values.values()):
                    raise bad_request('json: cannot unmarshal into Go struct field ConfigMap.%s of type map[string]string' % field)
                for key in values:
                    if not re.match(r'^[-._a-zA-Z0-9]+$', key) or len(key) > 253:
                        raise invalid('ConfigMap', '', meta.get('name'), '%s[%s]' % (field, key), '"%s"' % key,
                                      "a valid config key must consist of alphanumeric characters, '-', '_' or '.'")
        if res.plural == 'deployments':
            spec = obj.get('spec') or {}
            replicas = spec.get('replicas', 1)
            if not isinstance(replicas, int) or isinstance(replicas, bool) or replicas < 0:
                raise invalid('Deployment', 'apps', meta.get('name'), 'spec.replicas', replicas, 'must be greater than or equal to 0')
            if not spec.get('selector') or not spec.get('template'):
                raise invalid('Deployment', 'apps', meta.get('name'), 'spec.selector', 'null', 'field is required')
        return obj

    def _create(self, res, namespace, obj):
        obj = self._check_object(res, namespace, obj)
        meta = obj['metadata']
        if not meta.get('name'):
            if not meta.get('generateName'):
                raise invalid(res.kind, res.group, '', 'metadata.name', '""', 'name or generateName is required')
            meta['name'] = meta['generateName'] + random_suffix(self.cluster.rng)
        for field in ('resourceVersion', 'uid', 'creationTimestamp', 'deletionTimestamp'):
            meta.pop(field, None)
        if self.store.get(res.storage, namespace, meta['name']) is not None:
            raise already_exists(res.plural, meta['name'], res.group)
        if res.plural in GENERATION_TRACKED:
            meta['generation'] = 1
        if res.plural == 'deployments':
            obj['status'] = {}
        if res.plural == 'events':
            obj.setdefault('firstTimestamp', timestamp())
            obj.setdefault('lastTimestamp', obj['firstTimestamp'])
            obj.setdefault('count', 1)
            obj.setdefault('involvedObject', {})
            obj.setdefault('source', {})
            obj.setdefault('eventTime', None)
        if res.plural == 'pods':
            spec = obj.get('spec') or {}
            if not spec.get('containers') or any(not isinstance(c, dict) or not c.get('name') for c in spec['containers']):
                raise invalid('Pod', '', meta['name'], 'spec.containers', '[]', 'Required value')
            obj.pop('status', None)
        stored = self.store.create(res.storage, obj)
        if res.plural == 'pods':
            # Returned as created (Pending, maybe without a node) like the API server; the lab kubelet starts it afterwards.
            raw = self.store.raw(res.storage, namespace, stored['metadata']['name'])
            self.cluster.admit_pod(namespace, stored['metadata']['name'])
            return 201, raw
        return 201, self.store.raw(res.storage, namespace, stored['metadata']['name'])

    def _commit(self, res, namespace, name, current, new):
        """Shared tail of update and patch: immutable fields, status subresource, generation."""
        meta = new['metadata']
        old_meta = current['metadata']
        for field in ('uid', 'creationTimestamp'):
            if field in old_meta:
                meta[field] = old_meta[field]
        if res.plural in STATUS_SUBRESOURCE:
            if 'status' in current:
                new['status'] = copy.deepcopy(current['status'])
            else:
                new.pop('status', None)
        if res.plural in ('deployments', 'replicasets') and (new.get('spec') or {}).get('selector') != current['spec'].get('selector'):
            raise invalid(res.kind, res.group, name, 'spec.selector', json.dumps((new.get('spec') or {}).get('selector')), 'field is immutable')
        if res.plural in GENERATION_TRACKED:
            meta['generation'] = old_meta.get('generation', 1) + (1 if new.get('spec') != current.get('spec') else 0)
        stored = self.store.update(res.storage, new)
        return 200, self.store.raw(res.storage, namespace, stored['metadata']['name'])

    def _update(self, res, namespace, name, obj):
        current = self._load(res, namespace, name)
        obj = self._check_object(res, namespace, obj, name)
        rv = obj['metadata'].get('resourceVersion')
        if rv and rv != current['metadata']['resourceVersion']:
            raise conflict(res.plural, name, res.group)
        return self._commit(res, namespace, name, current, obj)

    def _patch(self, res, namespace, name, content_type, patch):
        current = self._load(res, namespace, name)
        base = copy.deepcopy(current)
        new = apply_patch(content_type, base, patch)
        if not isinstance(new, dict):
            raise bad_request('the patched object is not a %s' % res.kind)
        rv = (new.get('metadata') or {}).get('resourceVersion')
        if rv and rv != current['metadata']['resourceVersion']:
            raise conflict(res.plural, name, res.group)
        new = self._check_object(res, namespace, new, name)
        return self._commit(res, namespace, name, current, new)

    def _delete(self, res, namespace, name):
        current = self._load(res, namespace, name)
        if res.plural == 'namespaces':
            raise ApiError(405, 'MethodNotAllowed', 'the lab API server does not delete namespaces')
        self.store.delete(res.storage, namespace, name)
        if res.plural == 'pods':
            # Graceful deletion returns the pod as it is being terminated.
            gone = copy.deepcopy(current)
            gone['metadata']['deletionTimestamp'] = timestamp()
            gone['metadata']['deletionGracePeriodSeconds'] = current['spec'].get('terminationGracePeriodSeconds', 30)
            return 200, _json(gone)
        body = {'kind': 'Status', 'apiVersion': 'v1', 'metadata': {}, 'status': 'Success',
                'details': {'name': name, 'kind': res.plural, 'uid': current['metadata']['uid']}}
        if res.group:
            body['details']['group'] = res.group
        return 200, _json(body)

    # -- scale subresource -------------------------------------------------------------------------
    def _scale_object(self, deployment):
        meta = deployment['metadata']
        status = {'replicas': deployment.get('status', {}).get('replicas', 0), 'selector': selector_string(deployment['spec']['selector'])}
        return {'kind': 'Scale', 'apiVersion': 'autoscaling/v1',
                'metadata': {'name': meta['name'], 'namespace': meta['namespace'], 'uid': meta['uid'],
                             'resourceVersion': meta['resourceVersion'], 'creationTimestamp': meta['creationTimestamp']},
                'spec': {'replicas': deployment['spec'].get('replicas', 1)}, 'status': status}

    def _scale(self, method, res, namespace, name, headers, body):
        deployment = self._load(res, namespace, name)
        scale = self._scale_object(deployment)
        if method == 'GET':
            return 200, _json(scale)
        payload = self._body(body)
        if method == 'PUT':
            new = payload
            if not isinstance(new, dict) or new.get('kind') not in (None, 'Scale'):
                raise bad_request('the body of the request must be an autoscaling/v1 Scale')
        else:
            new = apply_patch(headers.get('Content-Type'), scale, payload)
        rv = ((new or {}).get('metadata') or {}).get('resourceVersion')
        if rv and rv != deployment['metadata']['resourceVersion']:
            raise conflict(res.plural, name, res.group)
        replicas = ((new or {}).get('spec') or {}).get('replicas', 0)
        if not isinstance(replicas, int) or isinstance(replicas, bool) or replicas < 0:
            raise invalid('Scale', 'autoscaling', name, 'spec.replicas', replicas, 'must be greater than or equal to 0')
        written = self.cluster.set_replicas(namespace, name, replicas)
        result = self._scale_object(written)
        result['spec']['replicas'] = replicas
        return 200, _json(result)

    # -- through the tunnel: pods/log and nodes/proxy --------------------------------------------------
    def _pod_log(self, method, namespace, name, query, user):
        pods = GROUP_VERSIONS[('', 'v1')]['pods']
        authorize(user, 'get', pods, namespace, name, 'log')
        if method != 'GET':
            raise ApiError(405, 'MethodNotAllowed', 'the server does not allow this method on the requested resource')
        with self.store.lock:
            pod = self._load(pods, namespace, name)
            containers = [c['name'] for c in pod['spec']['containers']]
            container = query.get('container')
            if not container:
                if len(containers) > 1:
                    raise bad_request('a container name must be specified for pod %s, choose one of: [%s]' % (name, ' '.join(containers)))
                container = containers[0]
            if container not in containers:
                raise bad_request('container %s is not valid for pod %s' % (container, name))
            status = next((c for c in pod.get('status', {}).get('containerStatuses') or [] if c['name'] == container), {})
            waiting = (status.get('state') or {}).get('waiting')
            if waiting or not pod['spec'].get('nodeName'):
                reason = (waiting or {}).get('reason', 'ContainerCreating')
                raise bad_request('container "%s" in pod "%s" is waiting to start: %s' % (container, name, reason))
            node_name = pod['spec']['nodeName']
            node_ip = pod['status'].get('hostIP', '')
        params = '&'.join('%s=%s' % (key, query[key]) for key in _LOG_PARAMS if key in query)
        kubelet_path = '/containerLogs/%s/%s/%s' % (namespace, name, container)
        url = 'https://%s:10250%s%s' % (node_name, kubelet_path, '?' + params if params else '')
        return self._kubelet(node_name, node_ip, kubelet_path, params, lambda err: 'Get "%s": %s' % (url, err), 500)

    def _node_proxy(self, method, name, subpath, query, user):
        nodes = GROUP_VERSIONS[('', 'v1')]['nodes']
        authorize(user, 'get' if method == 'GET' else 'create', nodes, None, name, 'proxy')
        if method != 'GET':
            raise ApiError(405, 'MethodNotAllowed', 'the lab API server proxies only GET to the kubelet')
        with self.store.lock:
            node = self._load(nodes, None, name)
            node_ip = next((a['address'] for a in node['status'].get('addresses') or [] if a['type'] == 'InternalIP'), '')
        params = urllib.parse.urlencode(query)
        return self._kubelet(name, node_ip, subpath, params, lambda err: 'error trying to reach service: %s' % err, 503)

    def _kubelet(self, node_name, node_ip, path, params, describe, code):
        if self.kubelet is None:
            raise ApiError(503, 'ServiceUnavailable', 'the lab API server has no kubelet backend')
        try:
            return self.kubelet.request(node_name, node_ip, path, params)
        except KubeletUnreachable as exc:
            body = {'kind': 'Status', 'apiVersion': 'v1', 'metadata': {}, 'status': 'Failure', 'message': describe(exc), 'code': code}
            if code == 503:
                body['reason'] = 'ServiceUnavailable'
            error = ApiError(code, '', body['message'])
            error.body = body
            raise error from None

    # -- metrics.k8s.io ----------------------------------------------------------------------------
    def node_usage(self, node):
        config = self.metrics.get('nodes', {})
        name = node['metadata']['name']
        short = next((n['short'] for n in self.topology['nodes'] if n['name'] == name), None)
        usage = config.get(name) or config.get(short) or self.metrics.get('node_default')
        if not usage:
            allocatable = node['status']['allocatable']
            usage = {'cpu': '%dm' % int(parse_quantity(allocatable['cpu']) * 1000 * 12 / 100),
                     'memory': '%dKi' % int(parse_quantity(allocatable['memory']) * 38 / 100 / 1024)}
        return {'cpu': nanocores(usage['cpu']), 'memory': kibibytes(usage['memory'])}

    def pod_usage(self, pod, container):
        config = self.metrics.get('pods', {})
        name = pod['metadata']['name']
        app = pod['metadata'].get('labels', {}).get('app') or pod['metadata'].get('labels', {}).get('k8s-app')
        owner = name.rsplit('-', 2)[0] if name.count('-') >= 2 else name
        usage = config.get(name) or config.get(owner) or config.get(app)
        if usage and isinstance(usage.get(container['name']), dict):
            usage = usage[container['name']]
        if not usage:
            limit = ((container.get('resources') or {}).get('limits') or {}).get('memory')
            status = next((c for c in pod['status'].get('containerStatuses') or [] if c['name'] == container['name']), {})
            if limit and ((status.get('lastState') or {}).get('terminated') or {}).get('reason') == 'OOMKilled':
                # An agent that keeps getting OOM-killed runs close to its limit.
                usage = {'cpu': '12m', 'memory': '%dKi' % int(parse_quantity(limit) * 92 / 100 / 1024)}
            else:
                usage = self.metrics.get('pod_default') or {'cpu': '3m', 'memory': '18Mi'}
        return {'cpu': nanocores(usage['cpu']), 'memory': kibibytes(usage['memory'])}

    def _metrics(self, res, namespace, name, query):
        if self.metrics.get('unavailable'):
            raise ApiError(503, 'ServiceUnavailable', 'the server is currently unable to handle the request')
        stamp = timestamp()
        label = parse_label_selector(query.get('labelSelector'))
        field = parse_field_selector(query.get('fieldSelector'), field_getters('metrics'), res.plural)

        def keep(obj):
            return (label is None or label(obj['metadata'].get('labels'))) and (field is None or field(obj))

        with self.store.lock:
            if res.plural == 'nodes':
                sources = [self._load_plain('nodes', '', name)] if name else self.store.items('nodes')
            else:
                sources = [self._load_plain('pods', namespace, name)] if name else self.store.items('pods', namespace)
            items = []
            for obj in sources:
                if not name and not keep(obj):
                    continue
                meta = {'name': obj['metadata']['name'], 'creationTimestamp': stamp, 'labels': obj['metadata'].get('labels', {})}
                if res.plural == 'nodes':
                    items.append({'kind': 'NodeMetrics', 'apiVersion': 'metrics.k8s.io/v1beta1', 'metadata': meta,
                                  'timestamp': stamp, 'window': '20.05s', 'usage': self.node_usage(obj)})
                else:
                    if obj.get('status', {}).get('phase') != 'Running':
                        if name:
                            raise ApiError(404, 'NotFound', 'podmetrics.metrics.k8s.io "%s/%s" not found' % (namespace, name),
                                           name=name, kind='pods', group='metrics.k8s.io')
                        continue
                    meta['namespace'] = obj['metadata']['namespace']
                    items.append({'kind': 'PodMetrics', 'apiVersion': 'metrics.k8s.io/v1beta1', 'metadata': meta, 'timestamp': stamp,
                                  'window': '18.302s',
                                  'containers': [{'name': c['name'], 'usage': self.pod_usage(obj, c)} for c in obj['spec']['containers']]})
        if name:
            return 200, _json(items[0])
        return 200, _json({'kind': res.kind + 'List', 'apiVersion': 'metrics.k8s.io/v1beta1', 'metadata': {}, 'items': items})

    def _load_plain(self, storage, namespace, name):
        obj = self.store.get(storage, namespace, name)
        if obj is None:
            kind = 'nodemetrics' if storage == 'nodes' else 'podmetrics'
            shown = name if storage == 'nodes' else '%s/%s' % (namespace, name)
            raise ApiError(404, 'NotFound', '%s.metrics.k8s.io "%s" not found' % (kind, shown), name=name, kind=storage, group='metrics.k8s.io')
        return obj


def unauthorized():
    return 401, _json(status_body(401, 'Unauthorized', 'Unauthorized'))
