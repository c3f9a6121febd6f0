# -*- coding: utf-8 -*-
# Copyright (c) 2026 aks.tunnel contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The simulated control plane: Deployment -> ReplicaSet -> Pods, a spreading scheduler, a kubelet that makes pods Ready.

Reacts to store changes (listeners), so a pod deleted through the API or in-process is replaced the same way.
"""

from __future__ import annotations

import copy
import datetime
import heapq
import ipaddress
import json
import threading
import time
import traceback

from .util import micro_timestamp, now, parse_quantity, random_suffix, template_hash, timestamp


class Scheduler(threading.Thread):
    """Runs callables after a delay on one daemon thread (pod readiness, delayed CPA polls)."""

    def __init__(self):
        super().__init__(name='lab-kube-scheduler', daemon=True)
        self._heap = []
        self._cond = threading.Condition()
        self._stopped = False
        self._seq = 0

    def call_later(self, delay, func):
        with self._cond:
            self._seq += 1
            heapq.heappush(self._heap, (time.monotonic() + delay, self._seq, func))
            self._cond.notify()

    def run(self):
        while True:
            with self._cond:
                while not self._stopped and (not self._heap or self._heap[0][0] > time.monotonic()):
                    timeout = self._heap[0][0] - time.monotonic() if self._heap else None
                    self._cond.wait(timeout)
                if self._stopped:
                    return
                _unused, _unused, func = heapq.heappop(self._heap)
            try:
                func()
            except Exception:  # pylint: disable=broad-except
                # A failing timer must not kill the emulator; the error shows up in the test that caused it.
                traceback.print_exc()

    def stop(self):
        with self._cond:
            self._stopped = True
            self._cond.notify()


def owner_of(obj, kind):
    for ref in obj['metadata'].get('ownerReferences') or []:
        if ref.get('kind') == kind and ref.get('controller', True):
            return ref
    return None


def pod_is_ready(pod):
    for condition in pod.get('status', {}).get('conditions') or []:
        if condition['type'] == 'Ready':
            return condition['status'] == 'True'
    return False


def node_is_ready(node):
    for condition in node.get('status', {}).get('conditions') or []:
        if condition['type'] == 'Ready':
            return condition['status'] == 'True'
    return False


def _matches_selector(labels, selector):
    labels = labels or {}
    for key, value in (selector.get('matchLabels') or {}).items():
        if labels.get(key) != value:
            return False
    for expr in selector.get('matchExpressions') or []:
        present = expr['key'] in labels
        values = expr.get('values') or []
        if expr['operator'] == 'In' and (not present or labels[expr['key']] not in values):
            return False
        if expr['operator'] == 'NotIn' and present and labels[expr['key']] in values:
            return False
        if expr['operator'] == 'Exists' and not present:
            return False
        if expr['operator'] == 'DoesNotExist' and present:
            return False
    return True


def selector_string(selector):
    """LabelSelector -> the string form the scale subresource reports in status.selector."""
    parts = ['%s=%s' % item for item in sorted((selector.get('matchLabels') or {}).items())]
    for expr in selector.get('matchExpressions') or []:
        op = expr['operator']
        if op in ('In', 'NotIn'):
            parts.append('%s %s (%s)' % (expr['key'], op.lower(), ','.join(expr.get('values') or [])))
        elif op == 'Exists':
            parts.append(expr['key'])
        else:
            parts.append('!' + expr['key'])
    return ','.join(parts)


class Cluster:
    """Controllers over a Store. All methods expect to run under store.lock (they take it themselves)."""

    def __init__(self, store, rng, pod_ready_delay=0.0, scheduler=None, pod_cidr='10.244.0.0/14'):
        self.store = store
        self.rng = rng
        self.pod_ready_delay = pod_ready_delay
        self.scheduler = scheduler
        self._pod_ips = ipaddress.ip_network(pod_cidr).hosts()
        self._pid = 4000 + rng.randrange(1000)
        # While seeding, pods are backdated to this time (they have been running for days).
        self.creation_time = None
        store.add_listener(self._on_change)

    # -- reactions ---------------------------------------------------------------------------------
    def _on_change(self, event, resource, obj, old):
        if resource == 'pods' and event == 'DELETED':
            owner = owner_of(obj, 'ReplicaSet')
            if owner:
                self.reconcile_replicaset(obj['metadata']['namespace'], owner['name'])
        elif resource == 'deployments' and event in ('ADDED', 'MODIFIED'):
            if event == 'ADDED' or old.get('spec') != obj.get('spec'):
                self.reconcile_deployment(obj['metadata']['namespace'], obj['metadata']['name'])
        elif resource == 'deployments' and event == 'DELETED':
            for rs in self._replicasets_of(obj):
                self.store.delete('replicasets', rs['metadata']['namespace'], rs['metadata']['name'])
        elif resource == 'replicasets' and event == 'DELETED':
            for pod in self.pods_of_replicaset(obj):
                self.store.delete('pods', pod['metadata']['namespace'], pod['metadata']['name'], notify=False)
            owner = owner_of(obj, 'Deployment')
            if owner:
                # The Deployment controller notices its ReplicaSet is gone and makes a new one.
                self.reconcile_deployment(obj['metadata']['namespace'], owner['name'])
        elif resource == 'nodes' and event == 'DELETED':
            name = obj['metadata']['name']
            for pod in [p for p in self.store.items('pods') if p['spec'].get('nodeName') == name]:
                self.store.delete('pods', pod['metadata']['namespace'], pod['metadata']['name'])

    # -- queries -----------------------------------------------------------------------------------
    def _replicasets_of(self, deployment):
        uid = deployment['metadata']['uid']
        return [rs for rs in self.store.items('replicasets', deployment['metadata']['namespace'])
                if (owner_of(rs, 'Deployment') or {}).get('uid') == uid]

    def pods_of_replicaset(self, rs):
        uid = rs['metadata']['uid']
        return [pod for pod in self.store.items('pods', rs['metadata']['namespace'])
                if (owner_of(pod, 'ReplicaSet') or {}).get('uid') == uid]

    def pods_of_deployment(self, namespace, name):
        deployment = self.store.get('deployments', namespace, name)
        if deployment is None:
            return []
        pods = []
        for rs in self._replicasets_of(deployment):
            pods.extend(self.pods_of_replicaset(rs))
        return pods

    # -- deployments -------------------------------------------------------------------------------
    def set_replicas(self, namespace, name, replicas):
        """What the scale subresource does: change spec.replicas (generation +1) and reconcile."""
        with self.store.lock:
            deployment = self.store.get('deployments', namespace, name)
            if deployment is None or deployment['spec'].get('replicas') == replicas:
                return deployment

            def change(obj):
                obj['spec']['replicas'] = replicas
                obj['metadata']['generation'] = obj['metadata'].get('generation', 1) + 1
            return self.store.mutate('deployments', namespace, name, change)

    def reconcile_deployment(self, namespace, name, placement=None):
        with self.store.lock:
            deployment = self.store.get('deployments', namespace, name)
            if deployment is None:
                return
            template = deployment['spec']['template']
            pod_hash = template_hash(json.dumps(template, sort_keys=True))
            replicasets = self._replicasets_of(deployment)
            current = None
            for rs in replicasets:
                if rs['metadata']['labels'].get('pod-template-hash') == pod_hash:
                    current = rs
            desired = deployment['spec'].get('replicas', 1)
            revision = max([int(rs['metadata'].get('annotations', {}).get('deployment.kubernetes.io/revision', '0')) for rs in replicasets] + [0])
            if current is None:
                current = self._new_replicaset(deployment, pod_hash, desired, revision + 1)
            elif current['spec'].get('replicas') != desired:
                self.store.mutate('replicasets', namespace, current['metadata']['name'], lambda obj: obj['spec'].update(replicas=desired))
            # A template change is a rollout: old ReplicaSets go to zero (at once; the lab needs no surge).
            for rs in replicasets:
                if rs['metadata']['name'] != current['metadata']['name'] and rs['spec'].get('replicas'):
                    self.store.mutate('replicasets', namespace, rs['metadata']['name'], lambda obj: obj['spec'].update(replicas=0))
                    self.reconcile_replicaset(namespace, rs['metadata']['name'])
            self.reconcile_replicaset(namespace, current['metadata']['name'], placement=placement)
            revision = current['metadata'].get('annotations', {}).get('deployment.kubernetes.io/revision')
            deployment = self.store.get('deployments', namespace, name)
            if revision and (deployment['metadata'].get('annotations') or {}).get('deployment.kubernetes.io/revision') != revision:
                self.store.mutate('deployments', namespace, name,
                                  lambda obj: obj['metadata'].setdefault('annotations', {}).update({'deployment.kubernetes.io/revision': revision}))

    def _new_replicaset(self, deployment, pod_hash, replicas, revision):
        meta = deployment['metadata']
        template = copy.deepcopy(deployment['spec']['template'])
        template.setdefault('metadata', {}).setdefault('labels', {})['pod-template-hash'] = pod_hash
        selector = copy.deepcopy(deployment['spec']['selector'])
        selector.setdefault('matchLabels', {})['pod-template-hash'] = pod_hash
        labels = dict(template['metadata']['labels'])
        rs = {
            'apiVersion': 'apps/v1', 'kind': 'ReplicaSet',
            'metadata': {
                'name': '%s-%s' % (meta['name'], pod_hash), 'namespace': meta['namespace'], 'labels': labels, 'generation': 1,
                'annotations': {'deployment.kubernetes.io/desired-replicas': str(replicas),
                                'deployment.kubernetes.io/max-replicas': str(replicas + 1),
                                'deployment.kubernetes.io/revision': str(revision)},
                'ownerReferences': [{'apiVersion': 'apps/v1', 'kind': 'Deployment', 'name': meta['name'], 'uid': meta['uid'],
                                     'controller': True, 'blockOwnerDeletion': True}],
            },
            'spec': {'replicas': replicas, 'selector': selector, 'template': template},
            'status': {'replicas': 0, 'observedGeneration': 1},
        }
        if str(revision) == '1' and meta.get('creationTimestamp'):
            # The first ReplicaSet is as old as its Deployment (kubectl get rs shows the same AGE).
            rs['metadata']['creationTimestamp'] = meta['creationTimestamp']
        return self.store.create('replicasets', rs)

    def reconcile_replicaset(self, namespace, name, placement=None):
        """Create or delete pods until the ReplicaSet has spec.replicas of them, then refresh statuses."""
        with self.store.lock:
            rs = self.store.get('replicasets', namespace, name)
            if rs is None:
                return
            pods = self.pods_of_replicaset(rs)
            desired = rs['spec'].get('replicas', 1)
            placement = list(placement or [])
            for _unused in range(desired - len(pods)):
                self._create_pod(rs, placement.pop(0) if placement else None)
            if len(pods) > desired:
                # Like the ReplicaSet controller: unready first, then the youngest.
                ranked = sorted(pods, key=lambda p: (pod_is_ready(p), p['metadata']['creationTimestamp'], p['metadata']['name']))
                victims = ranked[:len(pods) - desired]
                for pod in victims:
                    self.store.delete('pods', namespace, pod['metadata']['name'], notify=False)
            self.refresh_status(namespace, name)

    def refresh_status(self, namespace, rs_name):
        with self.store.lock:
            rs = self.store.get('replicasets', namespace, rs_name)
            if rs is None:
                return
            pods = self.pods_of_replicaset(rs)
            ready = sum(1 for pod in pods if pod_is_ready(pod))
            status = {'replicas': len(pods), 'fullyLabeledReplicas': len(pods), 'readyReplicas': ready, 'availableReplicas': ready,
                      'observedGeneration': rs['metadata'].get('generation', 1)}
            status = {key: value for key, value in status.items() if value or key in ('replicas', 'observedGeneration')}
            if rs.get('status') != status:
                self.store.mutate('replicasets', namespace, rs_name, lambda obj: obj.update(status=status))
            owner = owner_of(rs, 'Deployment')
            if owner:
                self._refresh_deployment_status(namespace, owner['name'])

    def _refresh_deployment_status(self, namespace, name):
        deployment = self.store.get('deployments', namespace, name)
        if deployment is None:
            return
        pod_hash = template_hash(json.dumps(deployment['spec']['template'], sort_keys=True))
        pods = self.pods_of_deployment(namespace, name)
        ready = sum(1 for pod in pods if pod_is_ready(pod))
        updated = sum(1 for pod in pods if pod['metadata']['labels'].get('pod-template-hash') == pod_hash)
        desired = deployment['spec'].get('replicas', 1)
        old = deployment.get('status') or {}
        old_conditions = {c['type']: c for c in old.get('conditions') or []}
        stamp = timestamp()

        def condition(kind, status, reason, message):
            previous = old_conditions.get(kind)
            changed = previous is None or previous['status'] != status
            return {'type': kind, 'status': status, 'lastUpdateTime': stamp if changed or previous.get('reason') != reason else previous['lastUpdateTime'],
                    'lastTransitionTime': stamp if changed else previous['lastTransitionTime'], 'reason': reason, 'message': message}
        available = ready >= desired
        rs_name = '%s-%s' % (name, pod_hash)
        status = {
            'observedGeneration': deployment['metadata'].get('generation', 1),
            'replicas': len(pods), 'updatedReplicas': updated, 'readyReplicas': ready, 'availableReplicas': ready,
            'unavailableReplicas': max(0, desired - ready),
            'conditions': [
                condition('Available', 'True' if available else 'False', 'MinimumReplicasAvailable' if available else 'MinimumReplicasUnavailable',
                          'Deployment has minimum availability.' if available else 'Deployment does not have minimum availability.'),
                condition('Progressing', 'True', 'NewReplicaSetAvailable' if available else 'ReplicaSetUpdated',
                          'ReplicaSet "%s" has successfully progressed.' % rs_name if available else 'ReplicaSet "%s" is progressing.' % rs_name),
            ],
        }
        # The API server omits zero counters (omitempty), and so do we: readers must cope with a missing readyReplicas.
        status = {key: value for key, value in status.items() if value or key == 'observedGeneration'}
        if old != status:
            self.store.mutate('deployments', namespace, name, lambda obj: obj.update(status=status))

    # -- pods --------------------------------------------------------------------------------------
    def schedulable_nodes(self, node_selector=None):
        result = []
        for node in self.store.items('nodes'):
            if node['spec'].get('unschedulable') or not node_is_ready(node):
                continue
            labels = node['metadata'].get('labels') or {}
            if node_selector and any(labels.get(key) != value for key, value in node_selector.items()):
                continue
            result.append(node)
        return result

    def pick_node(self, rs):
        """Spread: a schedulable node with the fewest pods of this ReplicaSet's Deployment."""
        template = rs['spec']['template']
        candidates = self.schedulable_nodes(template['spec'].get('nodeSelector'))
        if not candidates:
            return None
        owner = owner_of(rs, 'Deployment')
        siblings = self.pods_of_deployment(rs['metadata']['namespace'], owner['name']) if owner else self.pods_of_replicaset(rs)
        load = {}
        for pod in siblings:
            node_name = pod['spec'].get('nodeName')
            load[node_name] = load.get(node_name, 0) + 1
        least = min(load.get(node['metadata']['name'], 0) for node in candidates)
        best = [node for node in candidates if load.get(node['metadata']['name'], 0) == least]
        return self.rng.choice(best)

    def _next_pod_ip(self):
        return str(next(self._pod_ips))

    def next_pid(self):
        self._pid += self.rng.randrange(7, 400)
        return self._pid

    def _create_pod(self, rs, node_name=None):
        meta = rs['metadata']
        template = copy.deepcopy(rs['spec']['template'])
        generate = (owner_of(rs, 'Deployment') or {}).get('name', meta['name'])
        base = '%s-%s-' % (generate, template['metadata']['labels'].get('pod-template-hash', ''))
        if not template['metadata']['labels'].get('pod-template-hash'):
            base = meta['name'] + '-'
        while True:
            name = base + random_suffix(self.rng)
            if self.store.get('pods', meta['namespace'], name) is None:
                break
        node = self.store.get('nodes', '', node_name) if node_name else self.pick_node(rs)
        spec = template['spec']
        created = self.creation_time or now()
        pod = {
            'apiVersion': 'v1', 'kind': 'Pod',
            'metadata': {
                'name': name, 'generateName': base, 'namespace': meta['namespace'],
                'labels': template['metadata'].get('labels', {}), 'annotations': template['metadata'].get('annotations', {}),
                'ownerReferences': [{'apiVersion': 'apps/v1', 'kind': 'ReplicaSet', 'name': meta['name'], 'uid': meta['uid'],
                                     'controller': True, 'blockOwnerDeletion': True}],
                'creationTimestamp': timestamp(created),
            },
            'spec': spec,
            'status': {'phase': 'Pending', 'qosClass': _qos_class(spec)},
        }
        if not pod['metadata']['annotations']:
            del pod['metadata']['annotations']
        spec.setdefault('restartPolicy', 'Always')
        spec.setdefault('schedulerName', 'default-scheduler')
        spec.setdefault('dnsPolicy', 'ClusterFirst')
        spec.setdefault('terminationGracePeriodSeconds', 30)
        spec.setdefault('enableServiceLinks', True)
        spec.setdefault('preemptionPolicy', 'PreemptLowerPriority')
        spec.setdefault('tolerations', [
            {'key': 'node.kubernetes.io/not-ready', 'operator': 'Exists', 'effect': 'NoExecute', 'tolerationSeconds': 300},
            {'key': 'node.kubernetes.io/unreachable', 'operator': 'Exists', 'effect': 'NoExecute', 'tolerationSeconds': 300},
        ])
        if spec.get('serviceAccountName'):
            spec.setdefault('serviceAccount', spec['serviceAccountName'])
        if node is None:
            pod['status']['conditions'] = [{'type': 'PodScheduled', 'status': 'False', 'reason': 'Unschedulable', 'lastProbeTime': None,
                                            'lastTransitionTime': timestamp(created),
                                            'message': '0/%d nodes are available: no schedulable node matches.' % self.store.count('nodes')}]
            return self.store.create('pods', pod)
        spec['nodeName'] = node['metadata']['name']
        host_ip = _internal_ip(node)
        pod['status'].update({
            'hostIP': host_ip, 'hostIPs': [{'ip': host_ip}], 'startTime': timestamp(created),
            'conditions': _pod_conditions(False, created, [c['name'] for c in spec['containers']]),
            'containerStatuses': [_container_status(c, ready=False) for c in spec['containers']],
        })
        pod = self.store.create('pods', pod)
        if self.creation_time is not None:
            self.make_pod_ready(meta['namespace'], name, when=self.creation_time + datetime.timedelta(seconds=20))
        elif self.pod_ready_delay <= 0 or self.scheduler is None:
            self.make_pod_ready(meta['namespace'], name)
        else:
            namespace = meta['namespace']
            self.scheduler.call_later(self.pod_ready_delay, lambda: self.make_pod_ready(namespace, name))
        return self.store.get('pods', meta['namespace'], name)

    def admit_pod(self, namespace, name):
        """A pod created through the API (no controller): schedule it if needed, then start it like the kubelet would."""
        with self.store.lock:
            pod = self.store.get('pods', namespace, name)
            if pod is None:
                return None
            node_name = pod['spec'].get('nodeName')
            node = self.store.get('nodes', '', node_name) if node_name else None
            if node is None and not node_name:
                candidates = self.schedulable_nodes(pod['spec'].get('nodeSelector'))
                node = self.rng.choice(candidates) if candidates else None
            created = now()

            def change(obj):
                spec = obj['spec']
                spec.setdefault('restartPolicy', 'Always')
                spec.setdefault('schedulerName', 'default-scheduler')
                spec.setdefault('terminationGracePeriodSeconds', 30)
                obj['status'] = {'phase': 'Pending', 'qosClass': _qos_class(spec)}
                if node is None:
                    obj['status']['conditions'] = [{'type': 'PodScheduled', 'status': 'False', 'reason': 'Unschedulable', 'lastProbeTime': None,
                                                    'lastTransitionTime': timestamp(created),
                                                    'message': '0/%d nodes are available.' % self.store.count('nodes')}]
                    return
                spec['nodeName'] = node['metadata']['name']
                host_ip = _internal_ip(node)
                obj['status'].update({
                    'hostIP': host_ip, 'hostIPs': [{'ip': host_ip}], 'startTime': timestamp(created),
                    'conditions': _pod_conditions(False, created, [c['name'] for c in spec['containers']]),
                    'containerStatuses': [_container_status(c, ready=False) for c in spec['containers']]})
            self.store.mutate('pods', namespace, name, change)
            if node is None:
                return self.store.get('pods', namespace, name)
            if self.pod_ready_delay <= 0 or self.scheduler is None:
                self.make_pod_ready(namespace, name)
            else:
                self.scheduler.call_later(self.pod_ready_delay, lambda: self.make_pod_ready(namespace, name))
            return self.store.get('pods', namespace, name)

    def make_pod_ready(self, namespace, name, when=None):
        """The kubelet: containers started, pod Running and Ready."""
        with self.store.lock:
            pod = self.store.get('pods', namespace, name)
            if pod is None or pod_is_ready(pod) or not pod['spec'].get('nodeName'):
                return
            started = when or now()
            pod_ip = pod['status'].get('podIP') or self._next_pod_ip()

            def change(obj):
                status = obj['status']
                status.update({'phase': 'Running', 'podIP': pod_ip, 'podIPs': [{'ip': pod_ip}], 'conditions': _pod_conditions(True, started)})
                previous = {c['name']: c for c in status.get('containerStatuses') or []}
                status['containerStatuses'] = [_container_status(c, ready=True, started=started, previous=previous.get(c['name']))
                                               for c in obj['spec']['containers']]
            self.store.mutate('pods', namespace, name, change)
            owner = owner_of(pod, 'ReplicaSet')
            if owner:
                self.refresh_status(namespace, owner['name'])

    def oom_kill(self, namespace, name, container=None, times=1, when=None, finished_ago=30, crashloop=False):
        """A container was OOM-killed `times` times: restartCount, lastState.terminated OOMKilled/137; running again,
        or (crashloop) waiting in CrashLoopBackOff and not Ready until make_pod_ready() recovers it."""
        with self.store.lock:
            pod = self.store.get('pods', namespace, name)
            if pod is None:
                raise KeyError('pod %s/%s does not exist' % (namespace, name))
            container = container or pod['spec']['containers'][0]['name']
            finished = when or (now() - datetime.timedelta(seconds=finished_ago))
            started_before = finished - datetime.timedelta(minutes=17)

            def change(obj):
                for status in obj['status'].get('containerStatuses') or []:
                    if status['name'] != container:
                        continue
                    status['restartCount'] = status.get('restartCount', 0) + times
                    status['lastState'] = {'terminated': {
                        'exitCode': 137, 'reason': 'OOMKilled', 'startedAt': timestamp(started_before), 'finishedAt': timestamp(finished),
                        'containerID': 'containerd://' + _hex(self.rng, 64)}}
                    if crashloop:
                        status['state'] = {'waiting': {'reason': 'CrashLoopBackOff', 'message': 'back-off 5m0s restarting failed container=%s pod=%s_%s(%s)'
                                                       % (container, name, namespace, obj['metadata']['uid'])}}
                        status.update(ready=False, started=False)
                        status.pop('containerID', None)
                        obj['status']['conditions'] = _pod_conditions(False, finished, [container])
                        for condition in obj['status']['conditions']:
                            if condition['type'] == 'PodReadyToStartContainers':
                                condition.update(status='True')
                    else:
                        status['state'] = {'running': {'startedAt': timestamp(finished + datetime.timedelta(seconds=1))}}
                        status['containerID'] = 'containerd://' + _hex(self.rng, 64)
                    return
                raise KeyError('pod %s/%s has no container %s' % (namespace, name, container))
            updated = self.store.mutate('pods', namespace, name, change)
            owner = owner_of(updated, 'ReplicaSet')
            if owner:
                self.refresh_status(namespace, owner['name'])
            return updated

    def record_oom(self, namespace, name, times=1, node_event=True, system_oom=False, container=None, comm='proxy-agent', finished_ago=30,
                   crashloop=False):
        """OOM kill of a pod's container plus the node evidence (NPD OOMKilling, kubelet SystemOOM) at the same time."""
        with self.store.lock:
            finished = now() - datetime.timedelta(seconds=finished_ago)
            pod = self.oom_kill(namespace, name, container=container, times=times, when=finished, crashloop=crashloop)
            node = pod['spec'].get('nodeName')
            killed = next((c for c in pod['spec']['containers'] if c['name'] == (container or pod['spec']['containers'][0]['name'])), {})
            limit = ((killed.get('resources') or {}).get('limits') or {}).get('memory')
            limit_kb = int(parse_quantity(limit) / 1024) if limit else None
            if node and node_event:
                self.oom_node_event(node, comm=comm, memory_limit_kb=limit_kb, count=times, when=finished)
            if node and system_oom:
                self.system_oom_event(node, comm=comm, when=finished)
            return pod

    # -- events ------------------------------------------------------------------------------------
    def add_event(self, involved, reason, message, event_type='Warning', namespace=None, source_component=None, source_host=None,
                  count=1, when=None, first=None):
        """A core/v1 Event; for cluster-scoped objects (Node) it lands in `default` like client-go records it."""
        with self.store.lock:
            when = when or now()
            first = first or when
            namespace = namespace or involved.get('namespace') or 'default'
            name = '%s.%x' % (involved['name'], int(when.timestamp() * 1e9) + self.rng.randrange(1 << 20))
            event = {
                'apiVersion': 'v1', 'kind': 'Event',
                'metadata': {'name': name, 'namespace': namespace, 'creationTimestamp': timestamp(first)},
                'involvedObject': dict(involved), 'reason': reason, 'message': message, 'type': event_type,
                'source': {k: v for k, v in (('component', source_component), ('host', source_host)) if v},
                'firstTimestamp': timestamp(first), 'lastTimestamp': timestamp(when), 'count': count,
                'eventTime': None, 'reportingComponent': source_component or '', 'reportingInstance': source_host or '',
            }
            return self.store.create('events', event)

    def oom_node_event(self, node_name, comm='proxy-agent', pid=None, when=None, memory_limit_kb=None, cgroup=True, count=1):
        """node-problem-detector's OOMKilling event with the kernel's `Killed process` line."""
        pid = pid or self.next_pid()
        anon = memory_limit_kb or 51200
        why = 'Memory cgroup out of memory' if cgroup else 'Out of memory'
        message = ('%s: Killed process %d (%s) total-vm:%dkB, anon-rss:%dkB, file-rss:%dkB, shmem-rss:0kB, UID:0 pgtables:%dkB oom_score_adj:%d'
                   % (why, pid, comm, anon * 26 + 811240, anon - 212, 18360 + pid % 997, 180 + anon // 512, -997 if cgroup else 1000))
        when = when or now()
        # Repeated kills: the first one was a while ago (a few minutes apart, like a crash-looping agent).
        first = when - datetime.timedelta(minutes=3 * (count - 1))
        return self.add_event({'kind': 'Node', 'name': node_name, 'uid': node_name}, 'OOMKilling', message,
                              source_component='kernel-monitor', source_host=node_name, when=when, count=count, first=first)

    def system_oom_event(self, node_name, comm='proxy-agent', pid=None, when=None, count=1):
        node = self.store.get('nodes', '', node_name)
        uid = node['metadata']['uid'] if node else node_name
        pid = pid or self.next_pid()
        return self.add_event({'kind': 'Node', 'name': node_name, 'uid': uid}, 'SystemOOM',
                              'System OOM encountered, victim process: %s, pid: %d' % (comm, pid),
                              source_component='kubelet', source_host=node_name, when=when, count=count)


def to_events_v1(event):
    """core/v1 Event -> events.k8s.io/v1 Event (how the API server converts stored events)."""
    meta = dict(event['metadata'])
    converted = {
        'apiVersion': 'events.k8s.io/v1', 'kind': 'Event', 'metadata': meta,
        'eventTime': event.get('eventTime') or (event.get('firstTimestamp') or meta.get('creationTimestamp')).replace('Z', '.000000Z'),
        'reason': event.get('reason'), 'note': event.get('message'), 'type': event.get('type'), 'regarding': event.get('involvedObject'),
        'reportingController': event.get('reportingComponent') or '', 'reportingInstance': event.get('reportingInstance') or '',
        'deprecatedSource': event.get('source') or {}, 'deprecatedFirstTimestamp': event.get('firstTimestamp'),
        'deprecatedLastTimestamp': event.get('lastTimestamp'), 'deprecatedCount': event.get('count'),
    }
    if event.get('action'):
        converted['action'] = event['action']
    return {key: value for key, value in converted.items() if value is not None}


def _hex(rng, length):
    return ''.join(rng.choice('0123456789abcdef') for _unused in range(length))


def _internal_ip(node):
    for address in node.get('status', {}).get('addresses') or []:
        if address['type'] == 'InternalIP':
            return address['address']
    return ''


def _qos_class(spec):
    requests_set = limits_all = True
    any_resources = False
    for container in spec.get('containers') or []:
        resources = container.get('resources') or {}
        if resources.get('requests') or resources.get('limits'):
            any_resources = True
        limits = resources.get('limits') or {}
        requests = resources.get('requests') or limits
        if not (limits.get('cpu') and limits.get('memory') and requests == limits):
            limits_all = False
        if not requests:
            requests_set = False
    if not any_resources:
        return 'BestEffort'
    return 'Guaranteed' if limits_all and requests_set else 'Burstable'


def _pod_conditions(ready, when, names=()):
    stamp = timestamp(when)
    status = 'True' if ready else 'False'
    conditions = [
        {'type': 'PodReadyToStartContainers', 'status': status, 'lastProbeTime': None, 'lastTransitionTime': stamp},
        {'type': 'Initialized', 'status': 'True', 'lastProbeTime': None, 'lastTransitionTime': stamp},
        {'type': 'Ready', 'status': status, 'lastProbeTime': None, 'lastTransitionTime': stamp},
        {'type': 'ContainersReady', 'status': status, 'lastProbeTime': None, 'lastTransitionTime': stamp},
        {'type': 'PodScheduled', 'status': 'True', 'lastProbeTime': None, 'lastTransitionTime': stamp},
    ]
    if not ready:
        for condition in conditions[2:4]:
            condition.update(reason='ContainersNotReady', message='containers with unready status: [%s]' % 'containers')
    return conditions


def _container_status(container, ready, started=None, previous=None):
    image = container.get('image', '')
    status = {
        'name': container['name'], 'image': image, 'imageID': '%s@sha256:%s' % (image.split(':')[0], template_hash(image) * 6 + 'abcd'),
        'ready': ready, 'restartCount': (previous or {}).get('restartCount', 0), 'started': ready,
        'lastState': (previous or {}).get('lastState', {}),
    }
    if ready:
        status['containerID'] = 'containerd://' + template_hash(container['name'] + micro_timestamp(started)) * 6 + 'abcd'
        status['state'] = {'running': {'startedAt': timestamp(started)}}
    else:
        status['state'] = {'waiting': {'reason': 'ContainerCreating'}}
    return status
