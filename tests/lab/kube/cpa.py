# -*- coding: utf-8 -*-
# Copyright (c) 2026 aks.tunnel contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""cluster-proportional-autoscaler v1.9.0 as AKS runs it for konnectivity-agent, simulated over the store.

A poll: count nodes and cores (all and schedulable = not cordoned; v1.9.0 ignores Ready), read the ConfigMap,
compute with the collection's CPA engine (`_ladder.compute_replicas`), and write spec.replicas through the
scale path only if it differs. A missing or broken ConfigMap leaves the target untouched, like CPA.
Polls run on every relevant change (ConfigMap, node set, node schedulability, target replicas) after
`delay` seconds (0 = at once, inside the change), and every `poll_seconds` if that is > 0.
"""

from __future__ import annotations

import math

from .controllers import node_is_ready
from .util import parse_quantity


def _engine():
    # Lazy: the engine is written in parallel and the emulator must start without it.
    from ansible_collections.aks.tunnel.plugins.module_utils._ladder import LadderError, compute_replicas
    return compute_replicas, LadderError


class CpaSimulator:
    """One autoscaler: ConfigMap `configmap` scaling deployment `target`, both in `namespace`."""

    def __init__(self, store, cluster, scheduler=None, namespace='kube-system', configmap='konnectivity-agent-autoscaler',
                 target='konnectivity-agent', enabled=True, delay=0.0, poll_seconds=0.0, check_ready=False, node_labels=None,
                 deployment='konnectivity-agent-autoscaler'):
        self.store = store
        self.cluster = cluster
        self.scheduler = scheduler
        self.namespace = namespace
        self.configmap = configmap
        self.target = target
        self.enabled = enabled
        self.delay = delay
        self.poll_seconds = poll_seconds
        self.check_ready = check_ready
        self.node_labels = node_labels or {}
        # CPA itself runs as this Deployment: with no Ready pod nobody scales the target.
        self.deployment = deployment
        self.last_error = None
        self.last_status = None
        self.log = []
        self.polls = 0
        self._pending = False
        self._syncing = False
        store.add_listener(self._on_change)

    def start(self):
        if self.enabled and self.poll_seconds > 0 and self.scheduler is not None:
            self.scheduler.call_later(self.poll_seconds, self._periodic)

    def _periodic(self):
        if not self.enabled:
            return
        self.sync()
        self.scheduler.call_later(self.poll_seconds, self._periodic)

    # -- triggers ----------------------------------------------------------------------------------
    def _on_change(self, event, resource, obj, old):
        if not self.enabled or self._syncing:
            return
        meta = obj['metadata']
        if resource == 'configmaps' and meta.get('namespace') == self.namespace and meta['name'] == self.configmap:
            self.trigger()
        elif resource == 'nodes':
            if event != 'MODIFIED' or bool(old['spec'].get('unschedulable')) != bool(obj['spec'].get('unschedulable')) \
                    or old['status'].get('allocatable') != obj['status'].get('allocatable') \
                    or old['metadata'].get('labels') != obj['metadata'].get('labels'):
                self.trigger()
        elif resource == 'deployments' and meta.get('namespace') == self.namespace and meta['name'] == self.target:
            if event == 'ADDED' or (old and old['spec'].get('replicas') != obj['spec'].get('replicas')):
                self.trigger()
        elif resource == 'deployments' and meta.get('namespace') == self.namespace and meta['name'] == self.deployment:
            if event == 'MODIFIED' and not (old.get('status') or {}).get('readyReplicas') and (obj.get('status') or {}).get('readyReplicas'):
                # The autoscaler pod came (back) up: it polls at once.
                self.trigger()

    def trigger(self):
        if self.delay <= 0 or self.scheduler is None:
            self.sync()
        elif not self._pending:
            self._pending = True
            self.scheduler.call_later(self.delay, self._delayed)

    def _delayed(self):
        self._pending = False
        self.sync()

    # -- the poll ----------------------------------------------------------------------------------
    def cluster_status(self):
        """CPA's GetClusterStatus: totals over all (label-selected) nodes, schedulable = not spec.unschedulable."""
        total_nodes = schedulable_nodes = 0
        total_cpu = schedulable_cpu = 0
        for node in self.store.items('nodes'):
            labels = node['metadata'].get('labels') or {}
            if any(labels.get(key) != value for key, value in self.node_labels.items()):
                continue
            cpu = parse_quantity(node['status'].get('allocatable', {}).get('cpu', '0'))
            total_nodes += 1
            total_cpu += cpu
            if node['spec'].get('unschedulable') or (self.check_ready and not node_is_ready(node)):
                continue
            schedulable_nodes += 1
            schedulable_cpu += cpu
        return {'total_nodes': total_nodes, 'total_cores': int(math.ceil(total_cpu)),
                'schedulable_nodes': schedulable_nodes, 'schedulable_cores': int(math.ceil(schedulable_cpu))}

    def expected_replicas(self):
        """What CPA would set now, or raise the engine's LadderError / KeyError (ConfigMap missing)."""
        configmap = self.store.get('configmaps', self.namespace, self.configmap)
        if configmap is None:
            raise KeyError('configmaps "%s" not found' % self.configmap)
        status = self.cluster_status()
        compute_replicas, _unused = _engine()
        return compute_replicas(dict(configmap.get('data') or {}), status['total_nodes'], status['total_cores'],
                                status['schedulable_nodes'], status['schedulable_cores'])

    def sync(self):
        """One poll. Returns the replicas written, or None when nothing was written."""
        if not self.enabled:
            return None
        with self.store.lock:
            self.polls += 1
            self._syncing = True
            try:
                return self._sync()
            finally:
                self._syncing = False

    def running(self):
        """False when the autoscaler Deployment exists but has no Ready pod (scaled to 0, crash-looping, ...)."""
        scaler = self.store.get('deployments', self.namespace, self.deployment) if self.deployment else None
        return scaler is None or bool((scaler.get('status') or {}).get('readyReplicas'))

    def _sync(self):
        if not self.running():
            self.last_error = 'deployment/%s has no ready pod: nothing runs the autoscaler' % self.deployment
            return None
        status = self.cluster_status()
        self.last_status = status
        self._log('Cluster status: SchedulableNodes[%(schedulable_nodes)d], TotalNodes[%(total_nodes)d], '
                  'SchedulableCores[%(schedulable_cores)d], TotalCores[%(total_cores)d]' % status)
        configmap = self.store.get('configmaps', self.namespace, self.configmap)
        if configmap is None:
            return self._fail('Error syncing configMap with apiserver: configmaps "%s" not found' % self.configmap)
        try:
            compute_replicas, ladder_error = _engine()
        except ImportError as exc:
            return self._fail('CPA engine (_ladder) is not available: %s' % exc)
        try:
            replicas = compute_replicas(dict(configmap.get('data') or {}), status['total_nodes'], status['total_cores'],
                                        status['schedulable_nodes'], status['schedulable_cores'])
        except ladder_error as exc:
            return self._fail('Error ensuring controller: Error syncing configMap with controller: %s' % exc)
        self.last_error = None
        deployment = self.store.get('deployments', self.namespace, self.target)
        if deployment is None:
            return self._fail('Error while getting scale for target deployment/%s: deployments.apps "%s" not found' % (self.target, self.target))
        current = deployment['spec'].get('replicas', 1)
        if current == replicas:
            return None
        self._log('Replicas are not as expected : updating deployment/%s from %d to %d' % (self.target, current, replicas))
        self.cluster.set_replicas(self.namespace, self.target, replicas)
        return replicas

    def _fail(self, message):
        self.last_error = message
        self._log(message)
        return None

    def _log(self, line):
        self.log.append(line)
        del self.log[:-200]
