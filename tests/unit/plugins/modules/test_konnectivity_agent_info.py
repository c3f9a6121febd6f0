# -*- coding: utf-8 -*-
# Copyright (c) 2026 aks.tunnel contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import json

import pytest

from ansible_collections.aks.tunnel.plugins.modules import konnectivity_agent_info
from ansible_collections.aks.tunnel.tests.unit.plugins.modules.conftest import api_error, run_module


def pod(name, node, restarts=0, last=None, labels=None):
    status = {'name': 'konnectivity-agent', 'restartCount': restarts, 'ready': True, 'state': {'running': {}},
              'lastState': {'terminated': last} if last else {}}
    return {'metadata': {'name': name, 'labels': labels or {'app': 'konnectivity-agent'}},
            'spec': {'nodeName': node, 'containers': [{'name': 'konnectivity-agent', 'resources': {'limits': {'memory': '100Mi'}}}]},
            'status': {'phase': 'Running', 'conditions': [{'type': 'Ready', 'status': 'True'}], 'containerStatuses': [status]}}


def seed(fake, pods, ladder='{"nodesToReplicas":[[1,2]]}', replicas=2):
    fake.nodes = [{'metadata': {'name': 'n%d' % i}, 'spec': {}, 'status': {'allocatable': {'cpu': '2', 'memory': '8Gi'}}} for i in range(3)]
    fake.pods = pods + [pod('coredns-1', 'n2', 7, {'reason': 'OOMKilled', 'exitCode': 137}, labels={'k8s-app': 'kube-dns'})]
    fake.deployments['konnectivity-agent'] = {'metadata': {'name': 'konnectivity-agent', 'namespace': 'kube-system'},
                                              'spec': {'replicas': replicas}, 'status': {'readyReplicas': replicas}}
    fake.configmaps[('kube-system', 'konnectivity-agent-autoscaler')] = {'metadata': {'name': 'konnectivity-agent-autoscaler'},
                                                                         'data': {'ladder': ladder}}
    fake.pod_metrics = [{'metadata': {'name': p['metadata']['name']}, 'containers': [{'name': 'konnectivity-agent', 'usage': {'cpu': '2m', 'memory': '20Mi'}}]}
                        for p in pods]
    fake.node_metrics = [{'metadata': {'name': 'n0'}, 'usage': {'cpu': '1', 'memory': '4Gi'}}]


def test_healthy_agents(fake_kube, capsys):
    seed(fake_kube, [pod('a', 'n0'), pod('b', 'n1')])
    result = run_module(konnectivity_agent_info.main, {}, capsys)
    assert result['changed'] is False
    assert result['finding']['status'] == 'ok'
    assert [p['name'] for p in result['pods']] == ['a', 'b']          # only app=konnectivity-agent pods
    assert result['expected_replicas'] == 2 and result['metrics_available'] is True
    assert result['nodes'][0] == {'name': 'n0', 'metrics_available': True, 'cpu_millicores': 1000, 'cpu_percent': 50, 'memory_mib': 4096,
                                  'memory_percent': 50, 'allocatable_cpu': '2', 'allocatable_memory': '8Gi'}
    assert result['nodes'][1]['metrics_available'] is False
    # one list for both reasons (issue 11): the Warning events about nodes
    assert [c for c in fake_kube.calls if c[0] == 'list_event'] == [('list_event', 'default', 'involvedObject.kind=Node,type=Warning')]


def test_oom_killed_agent_is_a_problem(fake_kube, capsys):
    seed(fake_kube, [pod('a', 'n0', 4, {'reason': 'OOMKilled', 'exitCode': 137, 'finishedAt': '2026-11-25T20:00:00Z'}), pod('b', 'n1')])
    fake_kube.events = [{'reason': 'OOMKilling', 'message': 'Memory cgroup out of memory: Killed process 77 (proxy-agent) total-vm:1kB',
                         'involvedObject': {'kind': 'Node', 'name': 'n0'}, 'source': {'component': 'kernel-monitor'}, 'count': 4,
                         'type': 'Warning'}]
    result = run_module(konnectivity_agent_info.main, {}, capsys)
    finding = result['finding']
    assert finding['status'] == 'problem' and finding['affected_nodes'] == ['n0']
    assert ('pod a container konnectivity-agent on n0 was OOMKilled (exit 137, finished 2026-11-25T20:00:00Z, 4 restart(s), memory limit 100Mi)'
            in finding['summary'])
    assert result['oom_events'][0]['agent_process'] is True
    assert finding['remediation']['deployment_resources']['suggested_memory_limit'] == '200Mi'


def test_too_few_replicas_for_the_ladder(fake_kube, capsys):
    seed(fake_kube, [pod('a', 'n0')], ladder='{"nodesToReplicas":[[1,3]]}', replicas=1)
    result = run_module(konnectivity_agent_info.main, {}, capsys)
    assert result['finding']['status'] == 'problem'
    assert 'konnectivity-agent has 1 replica(s), fewer than the 3 the ladder gives' in result['finding']['summary']


def test_metrics_unavailable_is_reported_not_fatal(fake_kube, capsys):
    seed(fake_kube, [pod('a', 'n0'), pod('b', 'n1')])
    fake_kube.metrics_error = api_error(404, 'the server could not find the requested resource')
    result = run_module(konnectivity_agent_info.main, {}, capsys)
    assert result['metrics_available'] is False
    assert result['metrics_error'].startswith('Failed to read metrics.k8s.io (HTTP 404)')
    assert result['finding']['status'] == 'ok'
    assert any(line.startswith('metrics.k8s.io unavailable') for line in result['finding']['evidence'])


def test_forbidden_events_are_reported_not_fatal(fake_kube, capsys, monkeypatch):
    seed(fake_kube, [pod('a', 'n0', 2, {'reason': 'OOMKilled', 'exitCode': 137}), pod('b', 'n1')])
    original = fake_kube.page

    def page(items, kwargs):
        if items is fake_kube.events or kwargs.get('field_selector'):
            raise api_error(403, 'events is forbidden: User "ns-reader" cannot list resource "events" in the namespace "default"')
        return original(items, kwargs)
    monkeypatch.setattr(fake_kube, 'page', page)
    result = run_module(konnectivity_agent_info.main, {}, capsys)
    assert result['finding']['status'] == 'problem'
    assert result['events_error'].startswith('Failed to list the OOMKilling and SystemOOM events in namespace default (HTTP 403)')
    assert result['finding']['evidence'][-1].startswith('node events unavailable: Failed to list the OOMKilling and SystemOOM events')
    # Module warnings reach the JSON only when no controller code was imported into this process
    # (the filter tests import it), so check them only when present.
    if 'warnings' in result:
        assert 'node events were not readable' in json.dumps(result['warnings'])


def test_no_agent_is_not_applicable(fake_kube, capsys):
    fake_kube.nodes = []
    result = run_module(konnectivity_agent_info.main, {}, capsys)
    assert result['finding']['status'] == 'not_applicable'


@pytest.mark.parametrize('args, message', [
    ({'memory_threshold': 1.5}, 'memory_threshold must be in (0, 1]'),
    ({'api_timeout': 0}, 'api_timeout must be >= 1, got 0'),
])
def test_bad_options(fake_kube, capsys, args, message):
    result = run_module(konnectivity_agent_info.main, args, capsys)
    assert result['failed'] is True and message in result['msg']


def test_forbidden_list_is_a_clear_failure(fake_kube, capsys):
    fake_kube.errors['read_namespaced_deployment'] = [api_error(403, 'deployments.apps is forbidden: User "nobody" cannot get resource')]
    result = run_module(konnectivity_agent_info.main, {}, capsys)
    assert result['failed'] is True and result['status'] == 403
    assert result['msg'].startswith('Failed to read Deployment kube-system/konnectivity-agent (HTTP 403)')


def test_one_event_list_keeps_only_the_oom_reasons(fake_kube, capsys):
    """Both OOM reasons come from one list of Warning node events (issue 11); other reasons and Normal events are left out."""
    seed(fake_kube, [pod('a', 'n0'), pod('b', 'n1')])
    kill = {'message': 'Memory cgroup out of memory: Killed process 77 (proxy-agent) total-vm:1kB', 'involvedObject': {'kind': 'Node', 'name': 'n0'},
            'count': 1, 'type': 'Warning'}
    fake_kube.events = [dict(kill, reason='OOMKilling', source={'component': 'kernel-monitor'}),
                        dict(kill, reason='SystemOOM', message='System OOM encountered, victim process: proxy-agent, pid: 77',
                             source={'component': 'kubelet'}),
                        dict(kill, reason='KernelOops', message='BUG: unable to handle kernel NULL pointer dereference'),
                        dict(kill, reason='NodeReady', type='Normal')]
    result = run_module(konnectivity_agent_info.main, {}, capsys)
    assert [e['reason'] for e in result['oom_events']] == ['OOMKilling']
    assert [e['reason'] for e in result['system_oom_events']] == ['SystemOOM']


LADDER = {'expected_replicas': 3, 'configmap': {'namespace': 'kube-system', 'name': 'konnectivity-agent-autoscaler'},
          'deployment': {'exists': True, 'name': 'konnectivity-agent', 'replicas': 2, 'ready_replicas': 2, 'available_replicas': 2,
                         'addon_mode': 'Reconcile'}}


@pytest.mark.parametrize('ladder, reads, deployment', [
    # the ladder read the autoscaler, its ConfigMap and the agent Deployment: none of them is read again
    (LADDER, [], LADDER['deployment']),
    # the ladder found no count (no ConfigMap): the autoscaler is not read again either
    (dict(LADDER, expected_replicas=None), [], LADDER['deployment']),
    # the ladder found no Deployment, or another one: the agent Deployment is read
    (dict(LADDER, deployment={'exists': False, 'name': None}), [('read_deployment', 'konnectivity-agent')], None),
    (dict(LADDER, deployment=dict(LADDER['deployment'], name='other')), [('read_deployment', 'konnectivity-agent')], None),
    (dict(LADDER, configmap={'namespace': 'other'}), [('read_deployment', 'konnectivity-agent')], None),
])
def test_the_ladders_reads_are_not_repeated(fake_kube, capsys, ladder, reads, deployment):
    seed(fake_kube, [pod('a', 'n0'), pod('b', 'n1')], replicas=1)   # what a second read would see
    result = run_module(konnectivity_agent_info.main, {'ladder': ladder}, capsys)
    assert [c for c in fake_kube.calls if c[0] in ('read_deployment', 'read_configmap')] == reads
    assert result['expected_replicas'] == ladder['expected_replicas']
    if deployment:
        assert result['deployment'] == deployment
    else:
        assert result['deployment']['replicas'] == 1
    if deployment and ladder['expected_replicas']:
        assert 'konnectivity-agent has 2 replica(s), fewer than the 3 the ladder gives' in result['finding']['summary']


@pytest.mark.parametrize('read, listed', [(True, ['pods', 'nodes']), (False, ['pods'])])
def test_node_metrics_are_listed_only_when_asked(fake_kube, capsys, read, listed):
    """A diagnosis leaves the nodes' usage out (read_node_metrics=false): the finding is decided without it (issue 11)."""
    seed(fake_kube, [pod('a', 'n0'), pod('b', 'n1')])
    with_nodes = run_module(konnectivity_agent_info.main, {}, capsys)
    fake_kube.calls.clear()
    result = run_module(konnectivity_agent_info.main, {'read_node_metrics': read}, capsys)
    assert [c[1] for c in fake_kube.calls if c[0] == 'list_metrics'] == listed
    assert result['finding'] == with_nodes['finding'] and result['metrics_available'] is True
    assert [n['metrics_available'] for n in result['nodes']] == ([True, False] if read else [False, False])
