# -*- coding: utf-8 -*-
# Copyright (c) 2026 aks.tunnel contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Each kubelet through the API server, the way `kubectl logs` goes (issue 12): GET /api/v1/nodes/{node}/proxy/healthz.

The API server dials the kubelet on TCP 10250 through the tunnel (konnectivity, tunnel-front, aks-link) with TLS; when
the dial fails it answers 503 `error trying to reach service: <Go error>` (apimachinery's proxy transport), and that
error text is the ground truth this source keeps per node: `dial tcp 10.240.0.8:10250: i/o timeout` (something drops the
path), `connect: connection refused` (nothing listens, or a firewall rejects), `http: server gave HTTP response to HTTPS
client` (the kubelet serves plain HTTP), `tls: ...` / `x509: ...` (the TLS handshake fails), `No agent available` (the
tunnel itself is down).

Pure parts (node selection, classification, the concurrent runner with an injected request function, summary, finding)
use the standard library only; `request_node_health` is the kubernetes-client adapter. Workers never call
exit_json/fail_json: they return (kind, text) tuples.
"""

from __future__ import annotations

import collections
import json
import re
import threading
import time

from ansible_collections.aks.tunnel.plugins.module_utils import _causes

PORT = 10250
HEALTH_PATH = 'healthz'

# What one request showed.  The kubelet answered (any HTTP answer the kubelet itself gave: it serves TLS):
ANSWERED = 'answered'
# The API server could not reach the kubelet (its own error text):
TIMEOUT = 'timeout'          # nothing answered in time: a drop on the path (NSG, firewall DROP, appliance, route)
REFUSED = 'refused'          # nothing listens on 10250, or a firewall rejects (REJECT / tcp-reset gives the same text)
PLAIN_HTTP = 'plain_http'    # the kubelet answers without TLS
TLS = 'tls'                  # the TLS handshake with the kubelet fails
RESET = 'reset'              # the connection was reset after it was set up
NO_ROUTE = 'no_route'        # ICMP unreachable: no route, host down or a firewall rejecting with ICMP
NO_AGENT = 'no_agent'        # the API server has no tunnel at all (konnectivity: no agent connected)
OTHER = 'other'              # another dial error of the API server (the text says which)
# The request itself could not be made or was not answered by the node's proxy:
FORBIDDEN = 'forbidden'        # RBAC: get on nodes/proxy is not granted
UNAUTHORIZED = 'unauthorized'  # the credentials were rejected
NOT_FOUND = 'not_found'        # the node object is gone (deleted meanwhile)
THROTTLED = 'throttled'        # still throttled (HTTP 429) at the deadline
API_ERROR = 'api_error'        # the API server failed the request (or could not be reached) for its own reasons

# The kubelet answers on 10250, but not with working TLS: proof the kubelet is not serving.
KUBELET_KINDS = (PLAIN_HTTP, TLS)
# The API server could not reach the kubelet (unreachable_nodes): every dial failure except a missing tunnel.
UNREACHABLE_KINDS = (TIMEOUT, REFUSED, PLAIN_HTTP, TLS, RESET, NO_ROUTE, OTHER)
REQUEST_KINDS = (FORBIDDEN, UNAUTHORIZED, NOT_FOUND, THROTTLED, API_ERROR)
# Kinds after which no further request is worth sending (every one would get the same answer).
STOP_KINDS = (FORBIDDEN, UNAUTHORIZED)

# (pattern in the lower-cased dial error, kind), first match wins: plain HTTP before TLS ('tls: first record ...' is the
# upgrade dialer's plain-HTTP text), a TLS handshake timeout is a timeout, refused before the generic texts.
_DIAL_ERRORS = (
    ('no agent available', NO_AGENT),
    ('server gave http response to https client', PLAIN_HTTP),
    ('first record does not look like a tls handshake', PLAIN_HTTP),
    ('connection refused', REFUSED),
    ('i/o timeout', TIMEOUT),
    ('tls handshake timeout', TIMEOUT),
    ('context deadline exceeded', TIMEOUT),
    ('timeout awaiting response headers', TIMEOUT),
    ('connection reset by peer', RESET),
    ('no route to host', NO_ROUTE),
    ('network is unreachable', NO_ROUTE),
    ('host is unreachable', NO_ROUTE),
    ('x509:', TLS),
    ('tls:', TLS),
    ('remote error', TLS),
)
# How the API server prefixes a failed dial of the node proxy (503) and of the streaming subresources (500).
_DIAL_PREFIXES = ('error trying to reach service', 'error dialing backend')
_EXCERPT = 200
_GATEWAY_ERRORS = (502, 504)


class ApiserverProbeError(ValueError):
    """Bad input for the API server probe; the message says which."""


def classify_dial_error(text):
    """The kind of an API server dial error text (OTHER when no known pattern matches)."""
    lowered = (text or '').lower()
    for pattern, kind in _DIAL_ERRORS:
        if pattern in lowered:
            return kind
    return OTHER


def _status_body(body):
    """The metav1.Status of an API server answer, or None when the body is not one (then the kubelet answered)."""
    if isinstance(body, bytes):
        body = body.decode('utf-8', 'replace')
    if not body or not body.lstrip().startswith('{'):
        return None
    try:
        data = json.loads(body)
    except ValueError:
        return None
    return data if isinstance(data, dict) and data.get('kind') == 'Status' else None


def _excerpt(text):
    if isinstance(text, bytes):
        text = text.decode('utf-8', 'replace')
    text = ' '.join(str(text or '').split())
    return text if len(text) <= _EXCERPT else text[:_EXCERPT - 3] + '...'


def classify_response(status, body):
    """(kind, text, retry_after) of one HTTP answer to GET nodes/{node}/proxy/healthz.

    A 2xx, or any answer that is not a metav1.Status of the API server, is the kubelet's own answer (it serves TLS; the
    text says what it answered) - except a bare 502/504, which comes from a gateway in front of the API server. A Status
    is the API server's: 401/403/404/429 say the request was not made; otherwise the message is the dial error
    (`error trying to reach service: ...`), classified; an unrecognised Status is API_ERROR.
    """
    if not status:
        return API_ERROR, 'the request to the API server failed without an HTTP answer: %s' % _excerpt(body), None
    if 200 <= status <= 299:
        return ANSWERED, _excerpt(body) or 'HTTP %d' % status, None
    parsed = _status_body(body)
    if parsed is None:
        if status in _GATEWAY_ERRORS:
            # A kubelet never answers these; a proxy or load balancer in front of the API server does.
            return API_ERROR, 'HTTP %d from in front of the API server: %s' % (status, _excerpt(body)), None
        return ANSWERED, 'HTTP %d: %s' % (status, _excerpt(body)), None
    message = str(parsed.get('message') or parsed.get('reason') or 'HTTP %d' % status)
    if status == 401:
        return UNAUTHORIZED, message, None
    if status == 403:
        return FORBIDDEN, message, None
    if status == 404:
        return NOT_FOUND, message, None
    if status == 429:
        details = parsed.get('details') if isinstance(parsed.get('details'), dict) else {}
        return THROTTLED, message, details.get('retryAfterSeconds')
    lowered = message.lower()
    if any(lowered.startswith(prefix) for prefix in _DIAL_PREFIXES) or classify_dial_error(message) != OTHER:
        return classify_dial_error(message), message, None
    return API_ERROR, 'HTTP %d: %s' % (status, message), None


def classify_exception(exc, read_timeout):
    """(kind, text) for a request that got no HTTP answer: a read timeout is TIMEOUT (the API server was still waiting for
    the kubelet), anything else (the API server unreachable, TLS to it) is API_ERROR."""
    names = [cls.__name__ for cls in type(exc).__mro__]
    reason = getattr(exc, 'reason', None)
    if reason is not None:
        names += [cls.__name__ for cls in type(reason).__mro__]
    if 'ReadTimeoutError' in names or (isinstance(exc, TimeoutError) and 'ConnectTimeoutError' not in names):
        return TIMEOUT, 'no answer from the API server within %s s (it was still waiting for the kubelet)' % read_timeout
    return API_ERROR, 'the request to the API server failed: %s' % _excerpt(exc)


_PROVIDER_RE = re.compile(r'/resourceGroups/([^/]+)/providers/Microsoft\.Compute/virtualMachineScaleSets/([^/]+)/virtualMachines/([^/]+)',
                          re.IGNORECASE)


def provider_location(provider_id):
    """{resource_group, vmss, instance_id} from a node's spec.providerID (azure:///subscriptions/.../virtualMachines/3), or {}."""
    match = _PROVIDER_RE.search(provider_id or '')
    if not match:
        return {}
    return {'resource_group': match.group(1), 'vmss': match.group(2), 'instance_id': match.group(3)}


def nodes_from_model(model):
    """[{name, pool, resource_group, vmss, instance_id}] of the model's Kubernetes nodes (only those can be proxied)."""
    node_rg = ((model or {}).get('cluster') or {}).get('node_resource_group')
    return [{'name': n['name'], 'pool': n.get('pool'), 'resource_group': node_rg, 'vmss': n.get('vmss'), 'instance_id': n.get('instance_id')}
            for n in (model or {}).get('nodes') or [] if n.get('in_kubernetes') and n.get('name')]


def nodes_from_kubernetes(items):
    """The same from Kubernetes Node objects (JSON dicts): the pool label, the scale set from spec.providerID."""
    nodes = []
    for item in items or []:
        meta = item.get('metadata') or {}
        if not meta.get('name'):
            continue
        labels = meta.get('labels') or {}
        where = provider_location((item.get('spec') or {}).get('providerID'))
        nodes.append({'name': meta['name'], 'pool': labels.get('kubernetes.azure.com/agentpool') or labels.get('agentpool'),
                      'resource_group': where.get('resource_group'), 'vmss': where.get('vmss'), 'instance_id': where.get('instance_id')})
    return nodes


def select_nodes(nodes, wanted=None, max_nodes=0):
    """(names to probe in order, [{node, reason}] not probed).

    `wanted` (node names, e.g. a symptom's) come first, in their order; a name that is not a Kubernetes node of the
    cluster is not probed (reason says so). Then the other nodes, one pool after the other in turn (round robin, names
    sorted within a pool), so that a cut (max_nodes, the deadline) still covers every pool. With wanted names only
    those are probed. `max_nodes` > 0 caps the count (the rest: reason max_nodes).
    """
    if max_nodes is None or max_nodes < 0:
        raise ApiserverProbeError('max_nodes must be >= 0 (0 = every node), got %r' % (max_nodes,))
    known = dict((n['name'], n) for n in nodes)
    not_probed = []
    order = []
    if wanted:
        for name in wanted:
            if name in order:
                continue
            if name in known:
                order.append(name)
            else:
                not_probed.append({'node': name, 'reason': 'not a Kubernetes node of the cluster'})
    else:
        pools = collections.OrderedDict()
        for node in sorted(nodes, key=lambda n: (n.get('pool') or '', n['name'])):
            pools.setdefault(node.get('pool') or '', []).append(node['name'])
        queues = [collections.deque(names) for names in pools.values()]
        while queues:
            for queue in list(queues):
                order.append(queue.popleft())
                if not queue:
                    queues.remove(queue)
    if max_nodes and len(order) > max_nodes:
        not_probed.extend({'node': name, 'reason': 'max_nodes: only %d node(s) are checked per run' % max_nodes} for name in order[max_nodes:])
        order = order[:max_nodes]
    return order, not_probed


def probe_nodes(names, request, concurrency=20, deadline=None, clock=time.monotonic, sleep=time.sleep, max_throttled=5, on_retry=None):
    """Run `request(name) -> (kind, text, retry_after)` for every name, `concurrency` at a time; returns (results, not_probed).

    results: {name: (kind, text)}; not_probed: [{node, reason}]. The first name runs alone: when it is FORBIDDEN or
    UNAUTHORIZED, every other request would be refused the same way, so none is sent. No request starts `deadline`
    seconds after the start (None: no deadline). A THROTTLED answer is sent again after its Retry-After (else 1, 2, 4 s),
    at most `max_throttled` times and within the deadline; `on_retry(wait_s)` is told. `request` must not raise.
    """
    if concurrency < 1:
        raise ApiserverProbeError('concurrency must be >= 1, got %r' % (concurrency,))
    started = clock()
    results = {}
    not_probed = []
    pending = collections.deque((name, 0) for name in names)
    lock = threading.Lock()
    stop = []

    def past_deadline():
        return deadline is not None and clock() - started >= deadline

    def run_one(name, attempt):
        kind, text, retry_after = request(name)
        if kind == THROTTLED and attempt < max_throttled:
            wait = float(retry_after) if retry_after else float(2 ** attempt)
            if deadline is None or clock() - started + wait < deadline:
                if on_retry is not None:
                    on_retry(wait)
                sleep(wait)
                with lock:
                    pending.append((name, attempt + 1))
                return
        with lock:
            results[name] = (kind, text)
            if kind in STOP_KINDS:
                stop.append(kind)

    def worker():
        while True:
            with lock:
                if stop or not pending:
                    return
                if past_deadline():
                    return
                name, attempt = pending.popleft()
            run_one(name, attempt)

    if pending:
        name, attempt = pending.popleft()
        run_one(name, attempt)
    threads = [threading.Thread(target=worker, name='apiserver-probe-%d' % index, daemon=True)
               for index in range(min(concurrency, len(pending)) if not stop else 0)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if stop:
        reason = 'not sent: the API server refused the first request (%s)' % stop[0]
    else:
        reason = 'deadline: no request starts %s s after the first' % deadline
    seen = set(results)
    for name, _attempt in pending:
        if name not in seen:
            seen.add(name)
            not_probed.append({'node': name, 'reason': reason})
    return results, not_probed


def summarize(results, not_probed, node_count):
    """The module's result fields from probe_nodes' output (lists sorted by node name)."""
    by_kind = collections.Counter(kind for kind, _text in results.values())
    unreachable = [{'node': name, 'kind': kind, 'error': text} for name, (kind, text) in sorted(results.items()) if kind in UNREACHABLE_KINDS]
    no_tunnel = [{'node': name, 'error': text} for name, (kind, text) in sorted(results.items()) if kind == NO_AGENT]
    unhealthy = [{'node': name, 'answer': text} for name, (kind, text) in sorted(results.items())
                 if kind == ANSWERED and text.strip().lower() != 'ok']
    errors = [{'node': name, 'kind': kind, 'error': text} for name, (kind, text) in sorted(results.items()) if kind in REQUEST_KINDS]
    return {
        'node_count': node_count,
        'probed': len(results),
        'reached': by_kind.get(ANSWERED, 0),
        'by_kind': dict(sorted(by_kind.items())),
        'unreachable_nodes': unreachable,
        'no_tunnel_nodes': no_tunnel,
        'unhealthy_nodes': unhealthy,
        'request_errors': errors,
        'not_probed': sorted(not_probed, key=lambda item: item['node']),
    }


def _run_command(node, script):
    return ('az vmss run-command invoke --resource-group %s --name %s --instance-id %s --command-id RunShellScript --scripts %s'
            % (node.get('resource_group') or '<node resource group>', node.get('vmss') or '<scale set of %s>' % node['name'],
               node.get('instance_id') or '<instance id>', "'%s'" % script))


def kubelet_commands(nodes, port=PORT):
    """The commands a human runs for kubelets that do not serve TLS: the API server's view again, then the node's."""
    commands = []
    for node in nodes:
        commands.append('kubectl get --raw /api/v1/nodes/%s/proxy/healthz' % node['name'])
        commands.append(_run_command(node, 'systemctl status kubelet --no-pager; journalctl -u kubelet --no-pager -n 100; '
                                           'ss -ltnp | grep -w %d' % port))
    return commands


_NOT_SERVING_ADVICE = ('Make the kubelet serve TLS on TCP %d again: look at why it is down or serving without TLS (systemctl status '
                       'kubelet, journalctl -u kubelet; for plain HTTP the serving certificate settings tlsCertFile / '
                       'serverTLSBootstrap in /var/lib/kubelet/config.yaml), then systemctl restart kubelet, or reimage the node.')
RBAC_HINT = ('grant get on nodes/proxy (rbac/kubernetes/aks-tunnel-diagnose-kubelet-proxy.yaml; it reaches the kubelet API, see '
             'rbac/README.md) or skip this check (aks_tunnel_apiserver_probe: false)')


def kubelet_finding(summary, nodes=None, port=PORT, limit=20):
    """The kubelet_not_serving finding of this source.

    PROBLEM: the API server's TLS dial met plain HTTP or a failing TLS handshake (names those nodes). UNKNOWN: nodes that
    refused the connection and nothing else (nothing listens, or a firewall rejects - the same text; the node inspection
    tells them apart), the tunnel is down, the requests were refused (RBAC) or failed, or the deadline left nodes
    unchecked. OK: no kubelet showed either; nodes that timed out are not this cause (unreachable_nodes carries them to
    the report's network path rule) and are said so in the evidence.
    """
    cause = _causes.KUBELET_NOT_SERVING
    by_name = dict((n['name'], n) for n in nodes or [])
    unreachable = summary['unreachable_nodes']
    bad = [u for u in unreachable if u['kind'] in KUBELET_KINDS]
    refused = [u for u in unreachable if u['kind'] == REFUSED]
    elsewhere = [u for u in unreachable if u['kind'] not in KUBELET_KINDS + (REFUSED,)]
    stopped = [e for e in summary['request_errors'] if e['kind'] in STOP_KINDS]
    deadline = [p for p in summary['not_probed'] if p['reason'].startswith('deadline')]
    sampled = [p for p in summary['not_probed'] if p['reason'].startswith('max_nodes')]
    evidence = ['%s: %s' % (u['node'], u['error']) for u in bad[:limit]]
    if refused:
        evidence += ['%s: %s (nothing listens on TCP %d, or a firewall rejects: the node inspection tells)' % (u['node'], u['error'], port)
                     for u in refused[:limit]]
    if elsewhere:
        evidence.append('%d node(s) did not answer for a reason on the path, not the kubelet (see unreachable_nodes): %s' % (
            len(elsewhere), '; '.join('%s: %s' % (u['node'], u['error']) for u in elsewhere[:5])))
    if summary['no_tunnel_nodes']:
        evidence.append('the API server has no tunnel for %d node(s): %s' % (len(summary['no_tunnel_nodes']), summary['no_tunnel_nodes'][0]['error']))
    if deadline:
        evidence.append('%d node(s) not checked: %s' % (len(deadline), deadline[0]['reason']))
    if sampled:
        evidence.append('%d of %d node(s) checked: %s' % (summary['probed'], summary['node_count'], sampled[0]['reason']))
    if bad:
        targets = [dict(by_name.get(u['node']) or {}, name=u['node']) for u in bad]
        what = sorted(set('plain HTTP' if u['kind'] == PLAIN_HTTP else 'a failing TLS handshake' for u in bad))
        return _causes.make_finding(
            cause, _causes.STATUS_PROBLEM,
            'The kubelet of %d node(s) answers the API server with %s on TCP %d (%s: %s)' % (
                len(bad), ' or '.join(what), port, bad[0]['node'], bad[0]['error']),
            [u['node'] for u in bad], evidence,
            {'summary': _NOT_SERVING_ADVICE % port, 'nodes': [u['node'] for u in bad], 'commands': kubelet_commands(targets[:limit], port)})
    if stopped and not summary['reached']:
        return _causes.make_finding(cause, _causes.STATUS_UNKNOWN, 'the kubelets could not be checked through the API server: %s; %s' % (
            stopped[0]['error'], RBAC_HINT), [], ['API server: %s' % stopped[0]['error']] + evidence)
    if refused:
        targets = [dict(by_name.get(u['node']) or {}, name=u['node']) for u in refused]
        return _causes.make_finding(
            cause, _causes.STATUS_UNKNOWN,
            '%d node(s) refused the API server\'s connection to the kubelet (%s: %s): nothing listens on TCP %d, or a firewall '
            'rejects it' % (len(refused), refused[0]['node'], refused[0]['error'], port),
            [u['node'] for u in refused], evidence,
            {'summary': 'Inspect the node(s): ss -ltn shows whether the kubelet listens, the firewall rules whether they reject.',
             'nodes': [u['node'] for u in refused], 'commands': kubelet_commands(targets[:limit], port)})
    if summary['no_tunnel_nodes'] and not summary['reached']:
        return _causes.make_finding(cause, _causes.STATUS_UNKNOWN, 'the API server has no tunnel to the nodes (%s): no kubelet could be '
                                    'checked' % summary['no_tunnel_nodes'][0]['error'], [], evidence)
    failed = [e for e in summary['request_errors'] if e['kind'] in (API_ERROR, THROTTLED)]
    if failed and not summary['reached']:
        return _causes.make_finding(cause, _causes.STATUS_UNKNOWN, 'the kubelets could not be checked through the API server: %s'
                                    % failed[0]['error'], [], ['%s: %s' % (e['node'], e['error']) for e in failed[:limit]] + evidence)
    if deadline:
        return _causes.make_finding(cause, _causes.STATUS_UNKNOWN, '%d of %d node(s) were not checked before the deadline (raise deadline '
                                    'or concurrency, or limit the nodes)' % (len(deadline), summary['node_count']), [], evidence)
    if not summary['probed']:
        return _causes.make_finding(cause, _causes.STATUS_UNKNOWN, 'no node was checked through the API server', [], evidence)
    if sampled:
        # OK only for what was proven: a node left out by max_nodes has no TLS proof (issue 12).
        return _causes.make_finding(cause, _causes.STATUS_UNKNOWN, '%d of %d node(s) were not checked through the API server (%s; '
                                    'set max_nodes to 0 to check every node)' % (len(sampled), summary['node_count'], sampled[0]['reason']),
                                    [], evidence)
    if failed:
        evidence += ['not checked: %s: %s' % (e['node'], e['error']) for e in failed[:limit]]
        return _causes.make_finding(cause, _causes.STATUS_UNKNOWN, '%d of %d node(s) could not be checked through the API server (%s: %s)'
                                    % (len(failed), summary['node_count'], failed[0]['node'], failed[0]['error']), [], evidence)
    if elsewhere or summary['no_tunnel_nodes']:
        text = ('no kubelet refused the API server or answered it without TLS: %d of %d checked node(s) answered; the others did '
                'not answer for another reason (unreachable_nodes)' % (summary['reached'], summary['probed']))
    else:
        text = 'the API server reached the kubelet of every checked node over TLS (%d of %d)' % (summary['reached'], summary['probed'])
    for item in summary['unhealthy_nodes'][:limit]:
        evidence.append('%s: the kubelet answered /healthz with %s' % (item['node'], item['answer']))
    return _causes.make_finding(cause, _causes.STATUS_OK, text, [], evidence)


def request_node_health(connect, read_timeout, connect_timeout=10, path=HEALTH_PATH):
    """A `request(name)` for probe_nodes over CoreV1Api.connect_get_node_proxy_with_path (`connect`): GET
    /api/v1/nodes/{name}/proxy/{path}, never raising."""
    from kubernetes.client.exceptions import ApiException  # pylint: disable=import-outside-toplevel

    def request(name):
        try:
            response = connect(name, path, _preload_content=False, _request_timeout=(connect_timeout, read_timeout))
            try:
                body = response.data
            finally:
                response.release_conn()
            return classify_response(response.status, body)
        except ApiException as exc:
            return classify_response(exc.status or 0, exc.body)
        except Exception as exc:  # pylint: disable=broad-except
            kind, text = classify_exception(exc, read_timeout)
            return kind, text, None
    return request
