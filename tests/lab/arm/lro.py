# -*- coding: utf-8 -*-
# Copyright (c) 2026 aks.tunnel contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Long-running operations: the Azure-AsyncOperation status resource and the Location (monitor) URL.

URLs are minted absolute on the emulator's own scheme/host/port (the SDK uses them verbatim):
  Azure-AsyncOperation  {base}/subscriptions/{sub}/providers/{ns}/locations/{loc}/operations/{id}?api-version=V
  Location              same path + &monitor=true (Compute) or .../operationResults/{id} (Network, AKS)
"""

from __future__ import annotations

import threading
import time
import uuid

from .common import iso, utcnow

TERMINAL = ('Succeeded', 'Failed', 'Canceled')


class Operation:
    def __init__(self, namespace, location, api_version, kind, in_progress_polls=0):
        self.id = str(uuid.uuid4())
        self.namespace = namespace
        self.location = location
        self.api_version = api_version
        self.kind = kind  # 'runcommand' | 'put' | 'delete'
        self.status = 'InProgress'
        self.start = utcnow()
        self.started = time.monotonic()
        self.end = None
        self.error = None
        self.output = None           # run command: RunCommandResult body
        self.result_status = 200     # Location answer when done (delete: 204)
        self.in_progress_polls = in_progress_polls
        self.done = threading.Event()
        self.extra = {}

    def finish(self, status='Succeeded', error=None, output=None):
        self.status = status
        self.error = error
        self.output = output
        self.end = utcnow()
        self.done.set()

    def age_s(self):
        return time.monotonic() - self.started

    def poll_status(self):
        """Status as seen by one poll: the first `in_progress_polls` polls still say InProgress."""
        if self.status in TERMINAL and self.in_progress_polls > 0:
            self.in_progress_polls -= 1
            return 'InProgress'
        return self.status

    def status_body(self, status):
        if self.namespace.lower() == 'microsoft.network':
            body = {'status': status}
        else:
            body = {'name': self.id, 'status': status, 'startTime': iso(self.start)}
            if status in TERMINAL and self.end:
                body['endTime'] = iso(self.end)
        if status == 'Failed' and self.error:
            body['error'] = dict(self.error)
        if status == 'Succeeded' and self.output is not None:
            body['properties'] = {'output': self.output}
        return body


class OperationStore:
    def __init__(self):
        self._ops = {}
        self._lock = threading.Lock()

    def create(self, namespace, location, api_version, kind, in_progress_polls=0):
        op = Operation(namespace, location, api_version, kind, in_progress_polls)
        with self._lock:
            self._ops[op.id] = op
        return op

    def get(self, op_id):
        with self._lock:
            return self._ops.get(op_id.lower())

    def all(self):
        with self._lock:
            return list(self._ops.values())


def async_operation_url(base, subscription, op):
    return '%s/subscriptions/%s/providers/%s/locations/%s/operations/%s?api-version=%s' % (
        base, subscription, op.namespace, op.location, op.id, op.api_version)


def location_url(base, subscription, op):
    if op.namespace.lower() == 'microsoft.compute':
        return async_operation_url(base, subscription, op) + '&monitor=true'
    return '%s/subscriptions/%s/providers/%s/locations/%s/operationResults/%s?api-version=%s' % (
        base, subscription, op.namespace, op.location, op.id, op.api_version)
