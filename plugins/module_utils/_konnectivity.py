# -*- coding: utf-8 -*-
# Copyright (c) 2026 aks.tunnel contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""konnectivity-agent checks over Kubernetes API objects (plain dicts as the API returns them).

Pure Python (standard library + the collection's pure engines): the modules do the API calls and
hand the objects to these functions, which decide what they mean:

* evaluate_ladder(): the autoscaler ConfigMap read with CPA v1.9.0 semantics, compared with the
  Deployment, plus the `konnectivity_agent_scaling` finding;
* desired_ladder(): the ladder document a `state: present` run writes;
* analyze_agents(): OOM kills, crash loops, memory usage and replicas of the agent pods;
* detect_tunnel() / pod_ready(): which tunnel component the cluster runs and pod readiness.
"""

from __future__ import annotations

import datetime
import json
import math
import re

from ansible_collections.aks.tunnel.plugins.module_utils import _cluster_model
from ansible_collections.aks.tunnel.plugins.module_utils import _ladder
from ansible_collections.aks.tunnel.plugins.module_utils._data import condition_true, get_path
from ansible_collections.aks.tunnel.plugins.module_utils._causes import (
    KONNECTIVITY_AGENT_SCALING,
    STATUS_NOT_APPLICABLE,
    STATUS_OK,
    STATUS_PROBLEM,
    STATUS_UNKNOWN,
    make_finding,
)

NAMESPACE = 'kube-system'
AGENT_DEPLOYMENT = 'konnectivity-agent'
AGENT_CONTAINER = 'konnectivity-agent'
AGENT_SELECTOR = 'app=konnectivity-agent'
AUTOSCALER_DEPLOYMENT = 'konnectivity-agent-autoscaler'
DEFAULT_CONFIGMAP = _ladder.AKS_CONFIGMAP_NAME
ADDON_MODE_LABEL = 'addonmanager.kubernetes.io/mode'
# The agent binary is /proxy-agent: that is the <comm> of the kernel's "Killed process" line.
AGENT_PROCESSES = ('proxy-agent', 'konnectivity-agent')
DEFAULT_MEMORY_THRESHOLD = 0.9
DEFAULT_MIN_REPLICAS = _ladder.HA_MIN_REPLICAS
OOM_EXIT_CODE = 137

# Tunnel components, newest first: (kind as aks_cluster_info names it, Deployment name AKS uses, label selector used
# when the Deployment has none).
TUNNELS = (
    (_cluster_model.TUNNEL_KONNECTIVITY, 'konnectivity-agent', 'app=konnectivity-agent'),
    (_cluster_model.TUNNEL_FRONT, 'tunnelfront', 'component=tunnel'),
    (_cluster_model.TUNNEL_AKS_LINK, 'aks-link', 'app=aks-link'),
)

RECONCILE_CAVEAT = ('AKS manages konnectivity-agent: its Deployment carries %s=Reconcile, so edits to its resources are '
                    'reverted at the next reconcile (upgrade, az aks update); more replicas through the ladder ConfigMap persist, '
                    'a higher memory limit needs a support request or an AKS-supported setting.' % ADDON_MODE_LABEL)

_KILLED_RE = re.compile(r'Killed process (\d+) \(([^)]*)\)')
_ANON_RSS_RE = re.compile(r'anon-rss:(\d+)kB')
# What an OOM kill shows the agent needs: its resident memory when killed, with the headroom _agent_remediation suggests.
OOM_HEADROOM = 1.5
# kubelet's SystemOOM event: "System OOM encountered, victim process: <comm>, pid: <pid>" (greedy: a comm may hold ", pid: ").
_SYSTEM_OOM_RE = re.compile(r'victim process: (.*), pid: (\d+)\s*$')


class KonnectivityInputError(ValueError):
    """An option value the konnectivity modules cannot use; the message says how to fix it."""


# ---------------------------------------------------------------------------------------------
# small helpers
# ---------------------------------------------------------------------------------------------


def flag_value(args, name):
    """Value of `--name=value` or `--name value` in a container's command + args, or None."""
    args = [str(arg) for arg in args or []]
    for index, arg in enumerate(args):
        if arg.startswith(name + '='):
            return arg.split('=', 1)[1]
        if arg == name and index + 1 < len(args):
            return args[index + 1]
    return None


def autoscaler_refs(deployment):
    """ConfigMap, target and namespace the CPA Deployment is started with ({} when it is absent)."""
    if not deployment:
        return {}
    refs = {}
    for container in get_path(deployment, 'spec', 'template', 'spec', 'containers', default=[]):
        args = list(container.get('command') or []) + list(container.get('args') or [])
        for key, flag in (('configmap', '--configmap'), ('target', '--target'), ('namespace', '--namespace'), ('nodelabels', '--nodelabels')):
            value = flag_value(args, flag)
            if value and key not in refs:
                refs[key] = value
    if 'nodelabels' in refs:
        # CPA counts only the nodes matching --nodelabels=key=value[,key=value...].
        refs['node_labels'] = dict(pair.split('=', 1) for pair in refs['nodelabels'].split(',') if '=' in pair)
    target = refs.get('target')
    if target:
        kind, _sep, name = target.partition('/')
        refs['target_kind'] = kind.lower()
        refs['target_name'] = name
    return refs


def quantity(text):
    """A Kubernetes quantity string as a float (None when absent or unparseable)."""
    if text is None or text == '':
        return None
    try:
        return float(_ladder.parse_cpu_quantity(str(text)))
    except _ladder.LadderError:
        return None


def mib(value_bytes):
    return None if value_bytes is None else int(value_bytes // (1024 * 1024))


def millicores(cores):
    return None if cores is None else int(round(cores * 1000))


def pod_ready(pod):
    return condition_true(pod) is True


def selector_string(match_labels):
    return ','.join('%s=%s' % (key, match_labels[key]) for key in sorted(match_labels or {}))


def detect_tunnel(deployments, component='auto'):
    """Pick the tunnel component: deployments maps Deployment name -> object (or None when absent).

    Returns {'kind', 'deployment', 'selector'} or None when no tunnel Deployment exists (or the
    requested component is absent).
    """
    for kind, name, fallback in TUNNELS:
        if component not in ('auto', kind):
            continue
        deployment = deployments.get(name)
        if deployment:
            selector = selector_string(get_path(deployment, 'spec', 'selector', 'matchLabels', default={})) or fallback
            return {'kind': kind, 'deployment': name, 'selector': selector}
    return None


def deployment_summary(deployment):
    if not deployment:
        return {'exists': False, 'name': None, 'replicas': None, 'ready_replicas': None, 'available_replicas': None, 'addon_mode': None}
    status = deployment.get('status') or {}
    return {
        'exists': True,
        'name': get_path(deployment, 'metadata', 'name'),
        'replicas': get_path(deployment, 'spec', 'replicas', default=1),
        'ready_replicas': status.get('readyReplicas', 0) or 0,
        'available_replicas': status.get('availableReplicas', 0) or 0,
        'addon_mode': get_path(deployment, 'metadata', 'labels', default={}).get(ADDON_MODE_LABEL),
    }


def deployment_seen_by_ladder(ladder, namespace, name):
    """The agent Deployment as the ladder's query read it, rebuilt from its `deployment` summary; None to read it again.

    ladder: a konnectivity_ladder result. Used only when the ladder read a Deployment of this name in this namespace (a
    missing one is read again: the ladder does not say which name it looked for). deployment_summary() of the object
    returned equals the ladder's summary, which is all konnectivity_agent_info uses of the Deployment.
    """
    seen = (ladder or {}).get('deployment') or {}
    ladder_namespace = ((ladder or {}).get('configmap') or {}).get('namespace')
    if not seen.get('exists') or seen.get('name') != name or ladder_namespace != namespace:
        return None
    labels = {ADDON_MODE_LABEL: seen['addon_mode']} if seen.get('addon_mode') else {}
    return {'metadata': {'name': name, 'namespace': namespace, 'labels': labels}, 'spec': {'replicas': seen.get('replicas')},
            'status': {'readyReplicas': seen.get('ready_replicas') or 0, 'availableReplicas': seen.get('available_replicas') or 0}}


# ---------------------------------------------------------------------------------------------
# the ladder
# ---------------------------------------------------------------------------------------------

def _int_list(value, option):
    """Option value -> [[int, int], ...]; digit strings are converted, anything else is an error."""
    if value is None:
        return None
    if not isinstance(value, (list, tuple)):
        raise KonnectivityInputError('%s must be a list of [threshold, replicas] pairs, e.g. [[1, 2], [100, 3]]' % option)
    result = []
    for index, entry in enumerate(value):
        if not isinstance(entry, (list, tuple)) or len(entry) != 2:
            raise KonnectivityInputError('%s[%d] must be a pair [threshold, replicas], got %s' % (option, index, json.dumps(entry, default=str)))
        pair = []
        for item, what in zip(entry, ('threshold', 'replicas')):
            if isinstance(item, str) and item.strip().isdigit():
                item = int(item.strip())
            if isinstance(item, bool) or not isinstance(item, int):
                raise KonnectivityInputError('%s[%d] %s must be a whole number, got %s' % (option, index, what, json.dumps(item, default=str)))
            pair.append(item)
        result.append(pair)
    return result


def desired_ladder(current, nodes_to_replicas=None, cores_to_replicas=None, include_unschedulable_nodes=None):
    """The ladder document to write.

    current: the live ladder as parse_ladder() returns it, or None (missing or not parseable).
    An option left None keeps the live value; an empty list removes that list. Returns
    (document, errors, warnings): errors from the stricter-than-CPA validator mean "do not write".
    """
    nodes = _int_list(nodes_to_replicas, 'nodes_to_replicas')
    cores = _int_list(cores_to_replicas, 'cores_to_replicas')
    if nodes is None and cores is None:
        raise KonnectivityInputError('state=present needs nodes_to_replicas and/or cores_to_replicas')
    current = current or {}
    if nodes is None:
        nodes = current.get(_ladder.NODES_KEY) or []
    if cores is None:
        cores = current.get(_ladder.CORES_KEY) or []
    if include_unschedulable_nodes is None:
        include_unschedulable_nodes = bool(current.get(_ladder.INCLUDE_UNSCHEDULABLE_KEY))
    document = {}
    if cores:
        document[_ladder.CORES_KEY] = cores
    if nodes:
        document[_ladder.NODES_KEY] = nodes
    if include_unschedulable_nodes:
        document[_ladder.INCLUDE_UNSCHEDULABLE_KEY] = True
    errors, warnings = _ladder.validate_ladder_for_write(document)
    return document, errors, warnings


def cluster_counts(nodes, node_labels=None):
    """CPA v1.9.0 counts over Node objects (schedulable = not cordoned; only nodes matching --nodelabels)."""
    return _ladder.cluster_status(nodes, node_labels=node_labels or None)


def _expected(params, counts):
    return _ladder.compute_replicas(params, counts['total_nodes'], counts['total_cores'],
                                    counts['schedulable_nodes'], counts['schedulable_cores'])


def what_if_counts(counts, node_count=None, core_count=None):
    """Counts for "what if the cluster had N nodes / C cores": cores estimated from the average node when not given."""
    if node_count is None and core_count is None:
        return None
    for name, value in (('node_count', node_count), ('core_count', core_count)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 0):
            raise KonnectivityInputError('%s must be a whole number >= 0, got %r' % (name, value))
    estimated = False
    if node_count is None:
        node_count = counts['schedulable_nodes']
    if core_count is None:
        per_node = float(counts['schedulable_cores']) / counts['schedulable_nodes'] if counts['schedulable_nodes'] else 2.0
        core_count = int(math.ceil(node_count * per_node))
        estimated = True
    return {'total_nodes': node_count, 'schedulable_nodes': node_count, 'total_cores': core_count, 'schedulable_cores': core_count,
            'core_count_estimated': estimated}


def baseline_replicas(schedulable_nodes, minimum=DEFAULT_MIN_REPLICAS):
    """What a cluster of this size needs at least: the AKS documented ladder's value, never below `minimum`."""
    return max(minimum, _ladder.entries_replicas(schedulable_nodes, _ladder.AKS_DOC_EXAMPLE_LADDER[_ladder.NODES_KEY]))


def evaluate_ladder(configmap, nodes, deployment, configmap_ref, autoscaler=None, node_count=None, core_count=None,
                    minimum_replicas=DEFAULT_MIN_REPLICAS):
    """Everything `konnectivity_ladder state=query` returns (without the Kubernetes plumbing).

    configmap / deployment / autoscaler: API objects or None when absent; nodes: Node objects;
    configmap_ref: {'namespace', 'name', 'source'}. Returns a dict (see the module's RETURN).
    """
    counts = cluster_counts(nodes, autoscaler_refs(autoscaler).get('node_labels'))
    data = (configmap or {}).get('data') or {}
    labels = get_path(configmap, 'metadata', 'labels', default={})
    report = {
        'configmap': dict(configmap_ref, exists=configmap is not None, data_keys=sorted(data),
                          resource_version=get_path(configmap, 'metadata', 'resourceVersion'), addon_mode=labels.get(ADDON_MODE_LABEL)),
        'autoscaler': {'exists': autoscaler is not None, 'name': get_path(autoscaler, 'metadata', 'name'),
                       'args': autoscaler_refs(autoscaler) if autoscaler else {}},
        'mode': None, 'ladder': None, 'ladder_json': None, 'steps': {}, 'cpa_valid': False, 'cpa_errors': [],
        'safety_errors': [], 'safety_warnings': [], 'cluster': counts, 'expected_replicas': None,
        'deployment': deployment_summary(deployment), 'replicas_agree': None,
        'baseline_replicas': baseline_replicas(counts['schedulable_nodes'], minimum_replicas),
        'caveats': [], 'what_if': None,
    }
    params = None
    if configmap is None:
        report['cpa_errors'].append('Error syncing configMap with apiserver: configmaps "%s" not found' % configmap_ref['name'])
    else:
        try:
            params = _ladder.parse_configmap_data(data)
        except _ladder.LadderError as exc:
            report['cpa_errors'].append(exc.cpa_message or str(exc))
    if params is not None:
        report['cpa_valid'] = True
        report['mode'] = params.mode
        report['expected_replicas'] = _expected(params, counts)
        if params.mode == _ladder.LADDER_MODE:
            report['ladder'] = params.params
            report['ladder_json'] = _ladder.render_ladder(params.params)
            report['steps'] = {key: _ladder.ladder_steps(params.params[key]) for key in (_ladder.NODES_KEY, _ladder.CORES_KEY)}
            errors, warnings = _ladder.validate_ladder_for_write(data[_ladder.LADDER_MODE])
            report['safety_errors'], report['safety_warnings'] = errors, warnings
        else:
            report['ladder'] = params.params
    elif len(data) >= 1 and _ladder.LADDER_MODE in data:
        # CPA refuses it, but show what the ladder key alone would mean.
        try:
            report['ladder'] = _ladder.parse_ladder(data[_ladder.LADDER_MODE])
        except _ladder.LadderError:
            report['ladder'] = None
    replicas = report['deployment']['replicas']
    if report['expected_replicas'] is not None and replicas is not None:
        report['replicas_agree'] = replicas == report['expected_replicas']
    if report['configmap']['addon_mode'] == 'Reconcile':
        report['caveats'].append('ConfigMap %s/%s has %s=Reconcile: AKS reverts edits to it' % (configmap_ref['namespace'], configmap_ref['name'],
                                                                                                ADDON_MODE_LABEL))
    what_if = what_if_counts(counts, node_count, core_count)
    if what_if is not None:
        report['what_if'] = dict(what_if, expected_replicas=_expected(params, what_if) if params is not None else None,
                                 baseline_replicas=baseline_replicas(what_if['schedulable_nodes'], minimum_replicas))
    report['finding'] = ladder_finding(report)
    return report


def ladder_finding(report):
    """The konnectivity_agent_scaling finding of the ladder check."""
    ref = report['configmap']
    where = '%s/%s' % (ref['namespace'], ref['name'])
    deployment = report['deployment']
    counts = report['cluster']
    evidence = ['cluster: %d schedulable of %d nodes, %d schedulable cores (CPA v1.9.0 counts)'
                % (counts['schedulable_nodes'], counts['total_nodes'], counts['schedulable_cores'])]
    problems = []
    if not deployment['exists']:
        return make_finding(KONNECTIVITY_AGENT_SCALING, STATUS_NOT_APPLICABLE,
                            'no konnectivity-agent Deployment: the cluster runs a legacy tunnel (or none)', evidence=evidence)
    if ref['exists']:
        evidence.append('ConfigMap %s data keys: %s' % (where, ', '.join(ref['data_keys']) or '(none)'))
    if report['ladder_json']:
        evidence.append('ladder: %s' % report['ladder_json'])
    if not ref['exists'] and not report['autoscaler']['exists']:
        status = STATUS_OK if (deployment['replicas'] or 0) >= DEFAULT_MIN_REPLICAS else STATUS_PROBLEM
        evidence.append('no autoscaler and no ConfigMap %s: konnectivity-agent has a fixed %s replica(s)' % (where, deployment['replicas']))
        summary = 'konnectivity-agent is not autoscaled (%s replicas)' % deployment['replicas']
        return make_finding(KONNECTIVITY_AGENT_SCALING, status, summary, evidence=evidence,
                            remediation=_ladder_remediation(report) if status == STATUS_PROBLEM else {})
    for error in report['cpa_errors']:
        problems.append('CPA refuses ConfigMap %s (%s); konnectivity-agent stays at %s replica(s)' % (where, error, deployment['replicas']))
    for error in report['safety_errors']:
        problems.append('unsafe ladder: %s' % error)
    expected = report['expected_replicas']
    if expected is not None:
        evidence.append('CPA expects %d replica(s); Deployment has %s (ready %s)' % (expected, deployment['replicas'], deployment['ready_replicas']))
        if report['mode'] == _ladder.LADDER_MODE and expected < report['baseline_replicas']:
            problems.append('the ladder gives %d replica(s) for %d schedulable nodes; the cluster needs at least %d (AKS documented ladder, HA minimum %d)'
                            % (expected, counts['schedulable_nodes'], report['baseline_replicas'], DEFAULT_MIN_REPLICAS))
        if report['replicas_agree'] is False:
            problems.append('konnectivity-agent has %s replica(s) but CPA expects %d: the autoscaler is not applying the ladder'
                            % (deployment['replicas'], expected))
    for warning in report['safety_warnings'] + report['caveats']:
        evidence.append('warning: %s' % warning)
    if problems:
        return make_finding(KONNECTIVITY_AGENT_SCALING, STATUS_PROBLEM, '; '.join(problems), evidence=problems + evidence,
                            remediation=_ladder_remediation(report))
    return make_finding(KONNECTIVITY_AGENT_SCALING, STATUS_OK,
                        'ladder in %s is valid and gives %s replica(s), matching the Deployment' % (where, expected), evidence=evidence)


def _ladder_remediation(report):
    # The AKS documented ladder: safe (>= 2 everywhere), sorted, and what AKS itself ships as the example.
    suggested = _ladder.aks_doc_example_ladder()
    counts = report['cluster']
    ref = report['configmap']
    return {'ladder': {
        'module': 'aks.tunnel.konnectivity_ladder',
        'namespace': ref['namespace'],
        'configmap': ref['name'],
        'nodes_to_replicas': suggested[_ladder.NODES_KEY],
        'expected_replicas': _ladder_replicas_for(suggested, counts),
        # What ladder_repair() needs to decide whether a configured ladder must replace the live one.
        'live': {'cpa_valid': bool(report['cpa_valid']), 'safety_errors': list(report['safety_errors']),
                 'expected_replicas': report['expected_replicas']},
        'counts': dict((key, counts[key]) for key in ('total_nodes', 'total_cores', 'schedulable_nodes', 'schedulable_cores')),
        'note': 'write a sorted ladder under the single "ladder" key with state=present; the previous ladder is returned for rollback',
    }}


def _ladder_replicas_for(ladder_document, counts):
    return _ladder.ladder_replicas(ladder_document, counts['total_nodes'], counts['total_cores'], counts['schedulable_nodes'],
                                   counts['schedulable_cores'])


def ladder_repair(ladder_remediation, nodes_to_replicas):
    """Whether the repair writes nodes_to_replicas over the live ladder, from a finding's remediation.ladder.

    The live ladder is replaced only when CPA refuses it, it is unsafe, it gives no replica count, or it gives fewer
    replicas than the configured one for today's cluster; a live ladder that already gives as many stays (it may hold
    the operator's own tuning). Returns {needs_fix, reason, live_replicas, desired_replicas, configmap, namespace}.
    """
    if not isinstance(ladder_remediation, dict) or not isinstance(ladder_remediation.get('live'), dict):
        raise ValueError('ladder_repair needs the remediation.ladder of a konnectivity_agent_scaling finding '
                         '(from aks.tunnel.konnectivity_ladder state=query), got %r' % (ladder_remediation,))
    live = ladder_remediation['live']
    counts = ladder_remediation['counts']
    desired = _ladder_replicas_for({_ladder.NODES_KEY: nodes_to_replicas}, counts)
    current = live.get('expected_replicas')
    if not live.get('cpa_valid'):
        reason = 'CPA refuses the live ladder'
    elif live.get('safety_errors'):
        reason = 'the live ladder is unsafe: %s' % '; '.join(live['safety_errors'])
    elif current is None:
        reason = 'the live ladder gives no replica count'
    elif current < desired:
        reason = 'the live ladder gives %d replica(s), the configured ladder %d' % (current, desired)
    else:
        reason = None
    return {'needs_fix': reason is not None, 'reason': reason or 'the live ladder gives %s replica(s), the configured ladder %d: kept'
            % (current, desired), 'live_replicas': current, 'desired_replicas': desired,
            'configmap': ladder_remediation.get('configmap'), 'namespace': ladder_remediation.get('namespace')}


# ---------------------------------------------------------------------------------------------
# the agent pods
# ---------------------------------------------------------------------------------------------

def parse_killed_process(message):
    """(pid, comm) from a kernel `Killed process <pid> (<comm>)` line, or (None, None)."""
    match = _KILLED_RE.search(message or '')
    if not match:
        return None, None
    return int(match.group(1)), match.group(2)


def _termination(state):
    terminated = (state or {}).get('terminated')
    if not terminated:
        return None
    return {'reason': terminated.get('reason'), 'exit_code': terminated.get('exitCode'),
            'started_at': terminated.get('startedAt'), 'finished_at': terminated.get('finishedAt')}


def _oom_kind(termination):
    if not termination:
        return None
    if termination['reason'] == 'OOMKilled':
        return 'definite'
    if termination['exit_code'] == OOM_EXIT_CODE:
        return 'possible'
    return None


def _resources(container):
    resources = container.get('resources') or {}
    return {'requests': dict(resources.get('requests') or {}), 'limits': dict(resources.get('limits') or {})}


def _metrics_by_pod(pod_metrics):
    result = {}
    for item in pod_metrics or []:
        name = get_path(item, 'metadata', 'name')
        result[name] = {c.get('name'): c.get('usage') or {} for c in item.get('containers') or []}
    return result


def _timestamp(text):
    """RFC 3339 text ('2026-11-26T01:56:25Z') -> aware datetime, None when absent or unreadable."""
    if not isinstance(text, str) or not text:
        return None
    try:
        value = datetime.datetime.fromisoformat(text.strip().replace('Z', '+00:00'))
    except ValueError:
        return None
    return value if value.tzinfo else value.replace(tzinfo=datetime.timezone.utc)


def _agents_started(pods):
    """{node: when the earliest agent pod now on it started} (status.startTime, else creationTimestamp)."""
    started = {}
    for pod in pods:
        node = get_path(pod, 'spec', 'nodeName')
        when = _timestamp(get_path(pod, 'status', 'startTime')) or _timestamp(get_path(pod, 'metadata', 'creationTimestamp'))
        if node and when and (node not in started or when < started[node]):
            started[node] = when
    return started


def parse_system_oom_victim(message):
    """(pid, comm) from kubelet's SystemOOM `victim process: <comm>, pid: <pid>` message, or (None, None)."""
    match = _SYSTEM_OOM_RE.search(message or '')
    if not match:
        return None, None
    return int(match.group(2)), match.group(1)


def _event_summary(event, agent_processes):
    """One OOMKilling/SystemOOM event; the victim's name, pid and the message are kept only when it is the agent.

    The OOM events of a node name the processes of every workload on it: those are other people's data (and text anyone
    who runs a process there chooses), so they are counted, never reported.
    """
    if event.get('reason') == 'SystemOOM':
        pid, comm = parse_system_oom_victim(event.get('message'))
    else:
        pid, comm = parse_killed_process(event.get('message'))
    agent = comm in agent_processes
    return {
        'node': get_path(event, 'involvedObject', 'name') or get_path(event, 'source', 'host'),
        'reason': event.get('reason'), 'source': get_path(event, 'source', 'component'), 'message': event.get('message') if agent else None,
        'count': event.get('count') or 1, 'last_timestamp': event.get('lastTimestamp') or event.get('eventTime'),
        'pid': pid if agent else None, 'process': comm if agent else None, 'agent_process': agent,
    }


def node_top(node, usage):
    """`kubectl top node` numbers: millicores, MiB and their percentages of allocatable (truncated)."""
    allocatable = get_path(node, 'status', 'allocatable', default={})
    cpu = quantity((usage or {}).get('cpu'))
    memory = quantity((usage or {}).get('memory'))
    cpu_total = quantity(allocatable.get('cpu'))
    memory_total = quantity(allocatable.get('memory'))
    return {
        'name': get_path(node, 'metadata', 'name'),
        'metrics_available': usage is not None,
        'cpu_millicores': millicores(cpu),
        'cpu_percent': int(cpu * 100 / cpu_total) if cpu is not None and cpu_total else None,
        'memory_mib': mib(memory),
        'memory_percent': int(memory * 100 / memory_total) if memory is not None and memory_total else None,
        'allocatable_cpu': allocatable.get('cpu'),
        'allocatable_memory': allocatable.get('memory'),
    }


def analyze_agents(pods, deployment, events, nodes, pod_metrics=None, node_metrics=None, metrics_error=None, expected_replicas=None,
                   memory_threshold=DEFAULT_MEMORY_THRESHOLD, agent_processes=AGENT_PROCESSES, container_name=AGENT_CONTAINER):
    """konnectivity-agent health from its pods, node events and metrics; returns the module's result and finding.

    pods: agent Pod objects; deployment: the agent Deployment or None; events: core/v1 Events
    (OOMKilling and SystemOOM on any node; only the agent nodes are kept); nodes: Node objects
    (for allocatable); pod_metrics / node_metrics: metrics.k8s.io items, or None with metrics_error.
    """
    if isinstance(memory_threshold, bool) or not isinstance(memory_threshold, (int, float)) or not 0 < memory_threshold <= 1:
        raise KonnectivityInputError('memory_threshold must be a number in (0, 1], e.g. 0.9, got %r' % (memory_threshold,))
    usage_by_pod = _metrics_by_pod(pod_metrics)
    agent_nodes = sorted({get_path(p, 'spec', 'nodeName') for p in pods if get_path(p, 'spec', 'nodeName')})
    problems, unknowns, affected = [], [], set()
    pod_rows = []
    for pod in sorted(pods, key=lambda p: get_path(p, 'metadata', 'name', default='')):
        name = get_path(pod, 'metadata', 'name')
        node = get_path(pod, 'spec', 'nodeName')
        statuses = {s.get('name'): s for s in get_path(pod, 'status', 'containerStatuses', default=[])}
        containers = []
        for container in get_path(pod, 'spec', 'containers', default=[]):
            cname = container.get('name')
            status = statuses.get(cname) or {}
            last = _termination(status.get('lastState')) or _termination(status.get('state'))
            waiting = get_path(status, 'state', 'waiting', 'reason')
            res = _resources(container)
            usage = usage_by_pod.get(name, {}).get(cname) if name in usage_by_pod else None
            memory_used = quantity((usage or {}).get('memory'))
            memory_limit = quantity(res['limits'].get('memory'))
            ratio = round(memory_used / memory_limit, 4) if memory_used is not None and memory_limit else None
            row = {
                'name': cname, 'restarts': status.get('restartCount', 0) or 0, 'ready': bool(status.get('ready')),
                'waiting_reason': waiting, 'last_termination': last, 'oom': _oom_kind(last),
                'requests': res['requests'], 'limits': res['limits'],
                'usage': {'cpu_millicores': millicores(quantity((usage or {}).get('cpu'))), 'memory_mib': mib(memory_used)} if usage else None,
                'memory_usage_ratio': ratio,
            }
            containers.append(row)
            label = 'pod %s container %s on %s' % (name, cname, node)
            if row['oom'] == 'definite':
                problems.append('%s was OOMKilled (exit %s, finished %s, %d restart(s), memory limit %s)'
                                % (label, last['exit_code'], last['finished_at'], row['restarts'], res['limits'].get('memory', 'none')))
                affected.add(node)
            elif row['oom'] == 'possible':
                unknowns.append((node, '%s was killed with exit code 137 (reason %s): possibly OOM or a failed liveness probe'
                                 % (label, last['reason'])))
            if waiting == 'CrashLoopBackOff':
                problems.append('%s is in CrashLoopBackOff (%d restarts)' % (label, row['restarts']))
                affected.add(node)
            if ratio is not None and ratio >= memory_threshold:
                problems.append('%s uses %d MiB of its %d MiB memory limit (%.0f%% >= %.0f%%)'
                                % (label, mib(memory_used), mib(memory_limit), ratio * 100, memory_threshold * 100))
                affected.add(node)
        pod_rows.append({'name': name, 'node': node, 'phase': get_path(pod, 'status', 'phase'), 'ready': pod_ready(pod),
                         'restarts': sum(c['restarts'] for c in containers), 'containers': containers})

    oom_events, system_oom_events, moved_kills = [], [], []
    started = _agents_started(pods)
    for event in events or []:
        summary = _event_summary(event, agent_processes)
        if summary['node'] not in agent_nodes:
            if event.get('reason') == 'OOMKilling' and summary['agent_process']:
                moved_kills.append(summary)  # the killed agent's pod was rescheduled: only its memory need counts (below)
            continue
        if event.get('reason') == 'OOMKilling':
            # A kill older than every agent pod now on the node hit a pod that is gone (recreated or rescheduled).
            last = _timestamp(summary['last_timestamp'])
            summary['before_current_pods'] = bool(last and summary['node'] in started and last < started[summary['node']])
            oom_events.append(summary)
        elif event.get('reason') == 'SystemOOM':
            system_oom_events.append(summary)
    # A kill that hit an earlier pod is history only if the agent now has room for what it used then: recreating the pods
    # (a restart, a repair) erases their OOMKilled state, not the low limit (issue 18).
    limits_on = {}
    for row in pod_rows:
        for container in row['containers']:
            if container['name'] == container_name or len(row['containers']) == 1:
                limits_on.setdefault(row['node'], []).append(quantity(container['limits'].get('memory')))
    for summary in oom_events + moved_kills:
        rss = _ANON_RSS_RE.search(summary['message'] or '') if summary['agent_process'] and summary.get('before_current_pods', True) else None
        needed = int(rss.group(1)) * 1024 * OOM_HEADROOM if rss else None
        # Every agent pod comes from the one Deployment: an agent rescheduled to another node has the same limit.
        candidates = limits_on.get(summary['node'], []) if summary in oom_events else [v for values in limits_on.values() for v in values]
        low = [limit for limit in candidates if limit and needed and limit < needed]
        if low:
            summary['limit_too_low'] = '%dMi' % mib(min(low))
    for summary in moved_kills:
        if summary.get('limit_too_low'):
            problems.append('node %s: kernel OOM-killed %s (pid %s) %d time(s), last %s, before the agent pod was rescheduled to another '
                            'node; the agent\'s memory limit %s is still below %.1fx what it used then (the kill will recur)'
                            % (summary['node'], summary['process'], summary['pid'], summary['count'], summary['last_timestamp'],
                               summary['limit_too_low'], OOM_HEADROOM))
    current_kills = [e for e in oom_events if e['agent_process'] and (not e['before_current_pods'] or e.get('limit_too_low'))]
    for summary in current_kills:
        problems.append('node %s: kernel OOM-killed %s (pid %s) %d time(s), last %s%s'
                        % (summary['node'], summary['process'], summary['pid'], summary['count'], summary['last_timestamp'],
                           (', before the agent pod now on the node started, whose memory limit %s is still below %.1fx what it used '
                            'then (the kill will recur)' % (summary['limit_too_low'], OOM_HEADROOM)) if summary.get('limit_too_low') else ''))
        affected.add(summary['node'])
    for node, text in unknowns:
        corroborated = any(e['node'] == node for e in current_kills)
        if not corroborated:
            continue
        problems.append(text + ', and the node recorded an OOMKilling event for the agent')
        affected.add(node)
    unknowns = [(node, text) for node, text in unknowns if not any(e['node'] == node for e in current_kills)]

    summary = deployment_summary(deployment)
    if deployment is not None:
        if expected_replicas is not None and (summary['replicas'] or 0) < expected_replicas:
            problems.append('konnectivity-agent has %s replica(s), fewer than the %d the ladder gives' % (summary['replicas'], expected_replicas))
        if summary['ready_replicas'] < (summary['replicas'] or 0):
            problems.append('only %d of %s konnectivity-agent replica(s) are ready' % (summary['ready_replicas'], summary['replicas']))

    by_name = {get_path(n, 'metadata', 'name'): n for n in nodes or []}
    node_usage = {get_path(m, 'metadata', 'name'): m.get('usage') or {} for m in node_metrics or []}
    node_rows = [node_top(by_name.get(name, {'metadata': {'name': name}}), node_usage.get(name) if node_metrics is not None else None)
                 for name in agent_nodes]

    evidence = []
    for row in pod_rows:
        for container in row['containers']:
            if container['name'] != container_name and len(row['containers']) > 1:
                continue
            usage = container['usage'] or {}
            evidence.append('pod %s on %s: ready %s, %d restart(s), last termination %s, memory %s MiB of limit %s'
                            % (row['name'], row['node'], row['ready'], container['restarts'],
                               (container['last_termination'] or {}).get('reason') or 'none',
                               usage.get('memory_mib', 'n/a'), container['limits'].get('memory', 'none')))
    evidence.extend(text for _node, text in unknowns)
    other_kills = {}
    for event in system_oom_events:
        if event['agent_process']:
            evidence.append('node %s: SystemOOM, victim process %s (pid %s), %d time(s), last %s'
                            % (event['node'], event['process'], event['pid'], event['count'], event['last_timestamp']))
        else:
            other_kills.setdefault(event['node'], [0, 0])[1] += event['count']
    for event in oom_events:
        if not event['agent_process']:
            other_kills.setdefault(event['node'], [0, 0])[0] += event['count']
        elif event['before_current_pods'] and not event.get('limit_too_low'):
            evidence.append('node %s: kernel OOM-killed %s %d time(s), last %s, before the agent pod now on the node started (%s)'
                            % (event['node'], event['process'], event['count'], event['last_timestamp'],
                               started[event['node']].strftime('%Y-%m-%dT%H:%M:%SZ')))
    for node, (kernel, system) in sorted(other_kills.items()):
        evidence.append('node %s: OOM kills of other workloads\' processes (not the agent; names not reported): %d kernel, %d SystemOOM'
                        % (node, kernel, system))
    if metrics_error:
        evidence.append('metrics.k8s.io unavailable: %s' % metrics_error)

    if deployment is None and not pods:
        finding = make_finding(KONNECTIVITY_AGENT_SCALING, STATUS_NOT_APPLICABLE,
                               'no konnectivity-agent Deployment or pods: the cluster runs a legacy tunnel (or none)', evidence=evidence)
    elif problems:
        finding = make_finding(KONNECTIVITY_AGENT_SCALING, STATUS_PROBLEM, '; '.join(problems), affected, problems + evidence,
                               _agent_remediation(deployment, pod_rows, container_name))
    elif unknowns:
        finding = make_finding(KONNECTIVITY_AGENT_SCALING, STATUS_UNKNOWN, 'konnectivity-agent was SIGKILLed (exit 137) without an OOM record',
                               sorted({node for node, _text in unknowns}), evidence)
    else:
        finding = make_finding(KONNECTIVITY_AGENT_SCALING, STATUS_OK,
                               '%d konnectivity-agent pod(s) healthy: no OOM kills, no crash loops, memory below %.0f%% of the limit'
                               % (len(pod_rows), memory_threshold * 100), evidence=evidence)
    return {
        'pods': pod_rows, 'deployment': summary, 'expected_replicas': expected_replicas, 'agent_nodes': agent_nodes,
        'oom_events': oom_events, 'system_oom_events': system_oom_events, 'nodes': node_rows,
        'metrics_available': pod_metrics is not None and not metrics_error, 'finding': finding,
    }


def _agent_remediation(deployment, pod_rows, container_name):
    limit = None
    peak = 0
    for row in pod_rows:
        for container in row['containers']:
            if container['name'] != container_name:
                continue
            limit = quantity(container['limits'].get('memory')) or limit
            peak = max(peak, (container['usage'] or {}).get('memory_mib') or 0)
    suggested = None
    if limit:
        suggested = '%dMi' % max(int(math.ceil(2 * limit / (1024 * 1024))), int(math.ceil(peak * 1.5)))
    name = get_path(deployment, 'metadata', 'name', default=AGENT_DEPLOYMENT)
    namespace = get_path(deployment, 'metadata', 'namespace', default=NAMESPACE)
    return {
        'advice': ['raise the replica count with aks.tunnel.konnectivity_ladder state=present (more agents share the tunnel load)'],
        'deployment_resources': {'namespace': namespace, 'deployment': name, 'container': container_name,
                                 'current_memory_limit': '%dMi' % mib(limit) if limit else None, 'suggested_memory_limit': suggested},
        'caveat': RECONCILE_CAVEAT,
    }
