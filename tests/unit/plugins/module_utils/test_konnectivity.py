# -*- coding: utf-8 -*-
# Copyright (c) 2026 aks.tunnel contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import json

import pytest

from ansible_collections.aks.tunnel.plugins.module_utils import _konnectivity as k


def node(name, cpu='1900m', cordoned=False, memory='5368Mi'):
    return {'metadata': {'name': name}, 'spec': {'unschedulable': True} if cordoned else {},
            'status': {'allocatable': {'cpu': cpu, 'memory': memory}}}


def nodes(count, cordoned=0, cpu='1900m'):
    return [node('n%d' % i, cpu=cpu, cordoned=i < cordoned) for i in range(count)]


def configmap(data, labels=None, rv='7'):
    return {'metadata': {'name': 'konnectivity-agent-autoscaler', 'namespace': 'kube-system', 'resourceVersion': rv,
                         'labels': labels or {'addonmanager.kubernetes.io/mode': 'EnsureExists'}}, 'data': data}


def deployment(replicas, ready=None, name='konnectivity-agent'):
    return {'metadata': {'name': name, 'namespace': 'kube-system', 'labels': {'addonmanager.kubernetes.io/mode': 'Reconcile'}},
            'spec': {'replicas': replicas, 'selector': {'matchLabels': {'app': 'konnectivity-agent'}}},
            'status': {'readyReplicas': replicas if ready is None else ready, 'availableReplicas': replicas}}


REF = {'namespace': 'kube-system', 'name': 'konnectivity-agent-autoscaler', 'source': 'default'}
DOC = '{"nodesToReplicas":[[1,2],[100,3],[250,4],[500,5],[1000,6],[5000,10]]}'


@pytest.mark.parametrize('args, flag, expected', [
    (['--configmap=cm1', '--target=deployment/x'], '--configmap', 'cm1'),
    (['--configmap', 'cm2'], '--configmap', 'cm2'),
    (['--configmap'], '--configmap', None),
    (['--configmaps=no'], '--configmap', None),
    ([], '--target', None),
])
def test_flag_value(args, flag, expected):
    assert k.flag_value(args, flag) == expected


def test_nodelabels_limit_the_counted_nodes():
    autoscaler = {'metadata': {'name': 'konnectivity-agent-autoscaler'}, 'spec': {'template': {'spec': {'containers': [
        {'args': ['--configmap=konnectivity-agent-autoscaler', '--nodelabels=pool=system,os=linux']}]}}}}
    labelled = nodes(150)
    for item in labelled[:40]:
        item['metadata']['labels'] = {'pool': 'system', 'os': 'linux'}
    report = k.evaluate_ladder(configmap({'ladder': DOC}), labelled, deployment(2), REF, autoscaler=autoscaler)
    assert report['autoscaler']['args']['node_labels'] == {'pool': 'system', 'os': 'linux'}
    assert report['cluster']['total_nodes'] == 40 and report['expected_replicas'] == 2


def test_autoscaler_refs_reads_command_and_args():
    autoscaler = {'spec': {'template': {'spec': {'containers': [{'command': ['/cluster-proportional-autoscaler', '--namespace=kube-system'],
                                                                 'args': ['--configmap', 'my-ladder', '--target=Deployment/konnectivity-agent']}]}}}}
    assert k.autoscaler_refs(autoscaler) == {'namespace': 'kube-system', 'configmap': 'my-ladder', 'target': 'Deployment/konnectivity-agent',
                                             'target_kind': 'deployment', 'target_name': 'konnectivity-agent'}
    assert k.autoscaler_refs(None) == {}


# (data, node count, cordoned, replicas in the Deployment) -> (cpa_valid, expected, status, summary fragment)
LADDER_TABLE = [
    ({'ladder': DOC}, 5, 0, 2, (True, 2, 'ok', 'is valid and gives 2 replica(s)')),
    ({'ladder': DOC}, 120, 0, 3, (True, 3, 'ok', 'gives 3 replica(s)')),
    ({'ladder': DOC}, 120, 30, 2, (True, 2, 'ok', 'gives 2 replica(s)')),          # cordoned nodes do not count
    ({'ladder': '{"nodesToReplicas":[[1,1]]}'}, 120, 0, 1, (True, 1, 'problem', 'needs at least 3')),
    ({'ladder': '{"nodesToReplicas":[[1,1]]}'}, 3, 0, 1, (True, 1, 'problem', 'needs at least 2')),
    ({'ladder': DOC}, 5, 0, 1, (True, 2, 'problem', 'the autoscaler is not applying the ladder')),
    ({'ladder': '{"nodesToReplicas":[[1,2]]}', 'notes': 'x'}, 5, 0, 2, (False, None, 'problem', 'expected only one entry')),
    ({'ladder': '{"nodesToReplicas":[[1,2],]}'}, 5, 0, 2, (False, None, 'problem', 'could not parse parameters')),
    ({'ladder': '{"nodesToReplicas":[[1,2.5]]}'}, 5, 0, 2, (False, None, 'problem', 'cannot unmarshal number 2.5')),
    ({'Ladder': '{}'}, 5, 0, 2, (False, None, 'problem', 'not a supported control mode: Ladder')),
    ({}, 5, 0, 2, (False, None, 'problem', 'expected only one entry, got: map[]')),
    ({'ladder': '{}'}, 5, 0, 0, (True, 0, 'problem', 'unsafe ladder: the ladder has no entries')),
    ({'ladder': '{"nodesToReplicas":[[1,2],[1,3]]}'}, 5, 0, 3, (True, 3, 'problem', 'threshold 1 more than once')),
    ({'ladder': '{"nodesToReplicas":[[5,0],[10,3]]}'}, 3, 0, 0, (True, 0, 'problem', 'gives 0 replicas at 5+ nodes')),
    ({'linear': '{"nodesPerReplica":2,"min":2}'}, 6, 0, 3, (True, 3, 'ok', 'gives 3 replica(s)')),
    ({'ladder': '{"nodesToReplicas":[[100,3],[1,2]]}'}, 5, 0, 2, (True, 2, 'ok', 'gives 2 replica(s)')),   # unsorted: warning only
]


@pytest.mark.parametrize('data, count, cordoned, replicas, expected', LADDER_TABLE)
def test_evaluate_ladder_table(data, count, cordoned, replicas, expected):
    report = k.evaluate_ladder(configmap(data), nodes(count, cordoned), deployment(replicas), REF)
    valid, replicas_expected, status, fragment = expected
    assert report['cpa_valid'] is valid
    assert report['expected_replicas'] == replicas_expected
    assert report['finding']['status'] == status
    assert report['finding']['cause'] == 'konnectivity_agent_scaling'
    assert fragment in report['finding']['summary']
    if status == 'problem':
        assert report['finding']['remediation']['ladder']['nodes_to_replicas'] == json.loads(DOC)['nodesToReplicas']
    else:
        assert report['finding']['remediation'] == {}


def test_evaluate_ladder_counts_and_warnings():
    report = k.evaluate_ladder(configmap({'ladder': '{"nodesToReplicas":[[100,3],[1,2]]}'}, labels={'addonmanager.kubernetes.io/mode': 'Reconcile'}),
                               nodes(4, cordoned=1, cpu='1500m'), deployment(2), REF, node_count=300)
    assert report['cluster'] == {'total_nodes': 4, 'schedulable_nodes': 3, 'total_cores': 6, 'schedulable_cores': 5}
    assert report['ladder_json'] == '{"nodesToReplicas":[[1,2],[100,3]]}'
    assert report['steps']['nodesToReplicas'] == [{'from': 0, 'to': 99, 'replicas': 2}, {'from': 100, 'to': None, 'replicas': 3}]
    assert report['safety_warnings'] == ['nodesToReplicas is not sorted by threshold; CPA sorts it, and it is written sorted']
    assert report['caveats'] == ['ConfigMap kube-system/konnectivity-agent-autoscaler has addonmanager.kubernetes.io/mode=Reconcile: AKS reverts edits to it']
    assert report['what_if'] == {'total_nodes': 300, 'schedulable_nodes': 300, 'total_cores': 500, 'schedulable_cores': 500,
                                 'core_count_estimated': True, 'expected_replicas': 3, 'baseline_replicas': 4}
    assert report['replicas_agree'] is True


@pytest.mark.parametrize('cm, autoscaler, replicas, status', [
    (None, None, 2, 'ok'),
    (None, None, 1, 'problem'),
    (None, {'metadata': {'name': 'konnectivity-agent-autoscaler'}}, 2, 'problem'),
])
def test_missing_configmap(cm, autoscaler, replicas, status):
    report = k.evaluate_ladder(cm, nodes(3), deployment(replicas), REF, autoscaler=autoscaler)
    assert report['finding']['status'] == status
    assert report['configmap']['exists'] is False


def test_no_agent_deployment_is_not_applicable():
    report = k.evaluate_ladder(None, nodes(3), None, REF)
    assert report['finding']['status'] == 'not_applicable'


@pytest.mark.parametrize('current, nodes_opt, cores_opt, iun, document, errors', [
    (None, [[1, 2], [100, 3]], None, None, {'nodesToReplicas': [[1, 2], [100, 3]]}, []),
    ({'nodesToReplicas': [[1, 1]], 'coresToReplicas': [[1, 2]], 'includeUnschedulableNodes': True}, [[1, 2]], None, None,
     {'coresToReplicas': [[1, 2]], 'nodesToReplicas': [[1, 2]], 'includeUnschedulableNodes': True}, []),
    ({'nodesToReplicas': [[1, 1]], 'coresToReplicas': [[1, 2]]}, None, [], False, {'nodesToReplicas': [[1, 1]]}, []),
    (None, [['1', '2']], None, None, {'nodesToReplicas': [[1, 2]]}, []),
    (None, [[1, 0]], None, None, {'nodesToReplicas': [[1, 0]]},
     ['nodesToReplicas[0] gives 0 replicas at 1+ nodes; CPA would scale konnectivity-agent to zero and drop the tunnel. Use at least 2']),
    (None, [], [], None, {}, ['the ladder has no entries in nodesToReplicas or coresToReplicas; CPA would scale konnectivity-agent to 0 replicas']),
])
def test_desired_ladder(current, nodes_opt, cores_opt, iun, document, errors):
    result, found_errors, _warnings = k.desired_ladder(current, nodes_opt, cores_opt, iun)
    assert result == document
    assert found_errors == errors


@pytest.mark.parametrize('nodes_opt, message', [
    (None, 'state=present needs nodes_to_replicas and/or cores_to_replicas'),
    ('1,2', 'nodes_to_replicas must be a list of [threshold, replicas] pairs, e.g. [[1, 2], [100, 3]]'),
    ([[1, 2, 3]], 'nodes_to_replicas[0] must be a pair [threshold, replicas], got [1, 2, 3]'),
    ([[1, 2.5]], 'nodes_to_replicas[0] replicas must be a whole number, got 2.5'),
    ([[True, 2]], 'nodes_to_replicas[0] threshold must be a whole number, got true'),
])
def test_desired_ladder_rejects_bad_options(nodes_opt, message):
    with pytest.raises(k.KonnectivityInputError) as exc:
        k.desired_ladder(None, nodes_opt)
    assert str(exc.value) == message


def agent_pod(name, node_name, restarts=0, last=None, waiting=None, limit='64Mi', ready=True):
    status = {'name': 'konnectivity-agent', 'restartCount': restarts, 'ready': ready,
              'state': {'waiting': {'reason': waiting}} if waiting else {'running': {}}, 'lastState': {}}
    if last:
        status['lastState'] = {'terminated': last}
    return {'metadata': {'name': name}, 'spec': {'nodeName': node_name, 'containers': [
        {'name': 'konnectivity-agent', 'resources': {'requests': {'memory': '30Mi'}, 'limits': {'memory': limit}}}]},
        'status': {'phase': 'Running', 'conditions': [{'type': 'Ready', 'status': 'True' if ready else 'False'}], 'containerStatuses': [status]}}


def oom_event(node_name, comm='proxy-agent', reason='OOMKilling'):
    message = 'Memory cgroup out of memory: Killed process 4242 (%s) total-vm:1kB, anon-rss:2kB' % comm
    if reason == 'SystemOOM':
        message = 'System OOM encountered, victim process: %s, pid: 4242' % comm
    return {'reason': reason, 'message': message, 'count': 2, 'lastTimestamp': '2026-11-25T20:00:00Z',
            'involvedObject': {'kind': 'Node', 'name': node_name}, 'source': {'component': 'kernel-monitor', 'host': node_name}}


OOM = {'reason': 'OOMKilled', 'exitCode': 137, 'startedAt': 'a', 'finishedAt': 'b'}
SIGKILL = {'reason': 'Error', 'exitCode': 137, 'startedAt': 'a', 'finishedAt': 'b'}


def usage(name, memory):
    return {'metadata': {'name': name}, 'containers': [{'name': 'konnectivity-agent', 'usage': {'cpu': '5m', 'memory': memory}}]}


# (pods, events, pod metrics, deployment replicas/ready, expected replicas) -> (status, affected, summary fragment)
AGENT_TABLE = [
    ([agent_pod('a', 'n0'), agent_pod('b', 'n1')], [], [usage('a', '20Mi'), usage('b', '20Mi')], (2, 2), 2, ('ok', [], 'healthy')),
    ([agent_pod('a', 'n0', 3, OOM), agent_pod('b', 'n1')], [], None, (2, 2), 2, ('problem', ['n0'], 'was OOMKilled (exit 137')),
    ([agent_pod('a', 'n0', 1, SIGKILL), agent_pod('b', 'n1')], [], None, (2, 2), 2, ('unknown', ['n0'], 'without an OOM record')),
    ([agent_pod('a', 'n0', 1, SIGKILL), agent_pod('b', 'n1')], [oom_event('n0')], None, (2, 2), 2,
     ('problem', ['n0'], 'the node recorded an OOMKilling event for the agent')),
    ([agent_pod('a', 'n0'), agent_pod('b', 'n1')], [oom_event('n1')], None, (2, 2), 2, ('problem', ['n1'], 'kernel OOM-killed proxy-agent')),
    ([agent_pod('a', 'n0'), agent_pod('b', 'n1')], [oom_event('n1', comm='java'), oom_event('n5')], None, (2, 2), 2, ('ok', [], 'healthy')),
    ([agent_pod('a', 'n0', 9, waiting='CrashLoopBackOff', ready=False)], [], None, (1, 0), 1, ('problem', ['n0'], 'CrashLoopBackOff')),
    ([agent_pod('a', 'n0'), agent_pod('b', 'n1')], [], [usage('a', '60Mi'), usage('b', '20Mi')], (2, 2), 2,
     ('problem', ['n0'], 'uses 60 MiB of its 64 MiB memory limit (94% >= 90%)')),
    ([agent_pod('a', 'n0')], [], None, (1, 1), 3, ('problem', [], 'fewer than the 3 the ladder gives')),
]


@pytest.mark.parametrize('pods, events, pod_metrics, counts, expected_replicas, expected', AGENT_TABLE)
def test_analyze_agents_table(pods, events, pod_metrics, counts, expected_replicas, expected):
    result = k.analyze_agents(pods, deployment(counts[0], counts[1]), events, nodes(6), pod_metrics=pod_metrics,
                              node_metrics=[] if pod_metrics is not None else None, expected_replicas=expected_replicas)
    status, affected, fragment = expected
    assert result['finding']['status'] == status
    assert result['finding']['affected_nodes'] == affected
    assert fragment in result['finding']['summary']
    if status == 'problem':
        resources = result['finding']['remediation']['deployment_resources']
        assert resources['current_memory_limit'] == '64Mi' and resources['suggested_memory_limit'] in ('128Mi', '90Mi')
        assert 'Reconcile' in result['finding']['remediation']['caveat']


def test_analyze_agents_shapes_rows_events_and_node_top():
    pods = [agent_pod('a', 'n0', 3, OOM)]
    events = [oom_event('n0'), oom_event('n0', reason='SystemOOM'), oom_event('n3')]
    node_metrics = [{'metadata': {'name': 'n0'}, 'usage': {'cpu': '487558164n', 'memory': '732212Ki'}}]
    result = k.analyze_agents(pods, deployment(1), events, nodes(4), pod_metrics=[usage('a', '48Mi')], node_metrics=node_metrics)
    container = result['pods'][0]['containers'][0]
    assert container['oom'] == 'definite'
    assert container['last_termination'] == {'reason': 'OOMKilled', 'exit_code': 137, 'started_at': 'a', 'finished_at': 'b'}
    assert container['usage'] == {'cpu_millicores': 5, 'memory_mib': 48}
    assert container['memory_usage_ratio'] == 0.75
    assert [(e['node'], e['pid'], e['process'], e['agent_process']) for e in result['oom_events']] == [('n0', 4242, 'proxy-agent', True)]
    assert [e['reason'] for e in result['system_oom_events']] == ['SystemOOM']
    assert result['nodes'] == [{'name': 'n0', 'metrics_available': True, 'cpu_millicores': 488, 'cpu_percent': 25, 'memory_mib': 715,
                                'memory_percent': 13, 'allocatable_cpu': '1900m', 'allocatable_memory': '5368Mi'}]
    assert result['agent_nodes'] == ['n0'] and result['metrics_available'] is True


def _started(pod, when):
    pod['status']['startTime'] = when
    return pod


# An agent OOM event (last at 20:00) counts only when an agent pod now on that node was already running then.
@pytest.mark.parametrize('pods, status, history', [
    ([_started(agent_pod('a', 'n0'), '2026-11-25T19:00:00Z')], 'problem', False),          # pod older than the kill
    ([_started(agent_pod('a', 'n0'), '2026-11-25T20:00:00Z')], 'problem', False),          # same second: not before
    ([_started(agent_pod('a', 'n0'), '2026-11-25T20:05:00Z')], 'ok', True),                # recreated after the kill
    ([_started(agent_pod('a', 'n0'), '2026-11-25T20:05:00Z'), _started(agent_pod('b', 'n0'), '2026-11-25T18:00:00Z')], 'problem', False),
    ([agent_pod('a', 'n0')], 'problem', False),                                              # no start time: counts
    ([dict(agent_pod('a', 'n0'), metadata={'name': 'a', 'creationTimestamp': '2026-11-25T21:00:00Z'})], 'ok', True),
])
def test_agent_oom_events_before_the_current_pods_are_history(pods, status, history):
    result = k.analyze_agents(pods, deployment(len(pods)), [oom_event('n0')], nodes(2))
    assert result['finding']['status'] == status
    assert result['oom_events'][0]['before_current_pods'] is history
    texts = result['finding']['evidence']
    assert any('before the agent pod now on the node started' in text for text in texts) is history


def test_analyze_agents_without_deployment_is_not_applicable():
    assert k.analyze_agents([], None, [], [])['finding']['status'] == 'not_applicable'


@pytest.mark.parametrize('threshold', [0, 1.5, True, 'x'])
def test_analyze_agents_rejects_bad_threshold(threshold):
    with pytest.raises(k.KonnectivityInputError):
        k.analyze_agents([], None, [], [], memory_threshold=threshold)


@pytest.mark.parametrize('message, expected', [
    ('Memory cgroup out of memory: Killed process 1234 (proxy-agent) total-vm:100kB', (1234, 'proxy-agent')),
    ('Out of memory: Killed process 3103923 (stress-ng-vm) total-vm:15791416kB', (3103923, 'stress-ng-vm')),
    ('System OOM encountered', (None, None)),
    (None, (None, None)),
])
def test_parse_killed_process(message, expected):
    assert k.parse_killed_process(message) == expected


@pytest.mark.parametrize('present, component, expected', [
    ({'konnectivity-agent': deployment(2), 'tunnelfront': None}, 'auto', ('konnectivity', 'konnectivity-agent', 'app=konnectivity-agent')),
    ({'konnectivity-agent': None, 'tunnelfront': {'spec': {'selector': {'matchLabels': {'component': 'tunnel'}}}}}, 'auto',
     ('tunnel-front', 'tunnelfront', 'component=tunnel')),
    ({'aks-link': {'spec': {}}}, 'aks-link', ('aks-link', 'aks-link', 'app=aks-link')),
    ({'konnectivity-agent': deployment(2)}, 'tunnel-front', None),
    ({}, 'auto', None),
])
def test_detect_tunnel(present, component, expected):
    found = k.detect_tunnel(present, component)
    assert (found and (found['kind'], found['deployment'], found['selector'])) == expected


def test_what_if_rejects_negative_counts():
    with pytest.raises(k.KonnectivityInputError):
        k.what_if_counts({'schedulable_nodes': 1, 'schedulable_cores': 2}, node_count=-1)


# Issue 18: recreating the agent pods erases their OOMKilled state, not the low limit. A kill of an earlier pod stays a
# problem while the agent's limit is below 1.5x the memory the kernel saw it use (anon-rss), the headroom the remediation suggests.
@pytest.mark.parametrize('limit, anon_rss_kb, status', [
    ('32Mi', 32556, 'problem'),     # the lab's all-faults agent after the pods were recreated: 32Mi < 1.5 x 31.8 MiB
    ('40Mi', 32556, 'problem'),
    ('48Mi', 32556, 'ok'),          # 48Mi >= 1.5 x 31.8 MiB
    ('64Mi', 32556, 'ok'),          # raised to the suggested 64Mi
    ('32Mi', 2, 'ok'),              # a kill far below today's limit: history
])
def test_an_earlier_oom_kill_stays_a_problem_while_the_limit_is_too_low(limit, anon_rss_kb, status):
    event = oom_event('n0')
    event['message'] = ('Memory cgroup out of memory: Killed process 4242 (proxy-agent) total-vm:847000kB, anon-rss:%dkB, file-rss:18000kB, '
                        'shmem-rss:0kB, UID:0 pgtables:240kB oom_score_adj:-997' % anon_rss_kb)
    pod = _started(agent_pod('a', 'n0', limit=limit), '2026-11-25T20:05:00Z')
    result = k.analyze_agents([pod], deployment(1), [event], nodes(2))
    assert result['finding']['status'] == status
    assert result['oom_events'][0]['before_current_pods'] is True
    if status == 'problem':
        assert ('before the agent pod now on the node started, whose memory limit %s is still below 1.5x what it used then' % limit
                in result['finding']['summary'])
        assert result['finding']['remediation']['deployment_resources']['suggested_memory_limit'] == '%dMi' % (2 * int(limit[:-2]))


@pytest.mark.parametrize('anon_rss_kb, status', [(32556, 'problem'), (2, 'ok')])
def test_an_oom_kill_on_a_node_the_agent_left_counts_with_the_agents_limit(anon_rss_kb, status):
    """The tunnel pods were recreated on other nodes: the kill on the old node still says what the agent needs."""
    event = oom_event('n0')
    event['message'] = 'Memory cgroup out of memory: Killed process 4242 (proxy-agent) total-vm:847000kB, anon-rss:%dkB, file-rss:0kB' % anon_rss_kb
    result = k.analyze_agents([agent_pod('a', 'n1', limit='32Mi')], deployment(1), [event, oom_event('n3', comm='java')], nodes(4))
    assert result['finding']['status'] == status
    assert result['oom_events'] == []      # the events of nodes without an agent are not reported (other workloads' names)
    if status == 'problem':
        assert ('node n0: kernel OOM-killed proxy-agent (pid 4242) 2 time(s), last 2026-11-25T20:00:00Z, before the agent pod was '
                "rescheduled to another node; the agent's memory limit 32Mi is still below 1.5x what it used then") in result['finding']['summary']
