# -*- coding: utf-8 -*-
# Copyright (c) 2026 aks.tunnel contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Fault knobs: throttling, server errors, failing/hanging run commands, failing LROs.

A fault is a dict; `count` is how many matching calls it affects (null = until cleared):
  {"type": "throttle", "on": "read|write|runcommand|poll|any", "count": 2, "retry_after": 1}
  {"type": "server_error", "on": "...", "count": 1, "status": 500|503, "retry_after": null}
  {"type": "runcommand_fail", "node": "<name or pool-index, optional>", "count": 1, "code": "...", "message": "..."}
  {"type": "runcommand_hang", "node": "...", "count": 1}        # never runs, stays InProgress
  {"type": "runcommand_unreported", "node": "...", "count": 1}  # runs, but never reports (stays InProgress)
  {"type": "lro_fail", "on": "write", "count": 1, "code": "...", "message": "..."}  # network/AKS write LRO ends Failed
"""

from __future__ import annotations

import copy
import threading

from .common import LabConfigError

REQUEST_TYPES = ('throttle', 'server_error')
RUNCOMMAND_TYPES = ('runcommand_fail', 'runcommand_hang', 'runcommand_unreported')
ALL_TYPES = REQUEST_TYPES + RUNCOMMAND_TYPES + ('lro_fail',)
KINDS = ('read', 'write', 'runcommand', 'poll', 'any')


def validate_fault(fault):
    if not isinstance(fault, dict):
        raise LabConfigError('a fault must be an object, got %r' % (fault,))
    ftype = fault.get('type')
    if ftype not in ALL_TYPES:
        raise LabConfigError('fault type %r is unknown; use one of %s' % (ftype, ', '.join(ALL_TYPES)))
    count = fault.get('count', 1)
    if count is not None and (not isinstance(count, int) or isinstance(count, bool) or count < 0):
        raise LabConfigError('fault count must be a non-negative integer or null, got %r' % (count,))
    result = dict(fault, count=count)
    if ftype in REQUEST_TYPES or ftype == 'lro_fail':
        result.setdefault('on', 'write' if ftype == 'lro_fail' else 'any')
        if result['on'] not in KINDS:
            raise LabConfigError('fault "on" must be one of %s, got %r' % (', '.join(KINDS), result['on']))
    if ftype == 'server_error':
        result.setdefault('status', 500)
        if result['status'] not in (500, 502, 503, 504):
            raise LabConfigError('server_error status must be 500, 502, 503 or 504, got %r' % (result['status'],))
    if ftype == 'throttle':
        result.setdefault('retry_after', 1)
    return result


class Faults:
    """Thread-safe list of pending faults; `take_*` consumes one matching use."""

    def __init__(self, faults=None):
        self._lock = threading.Lock()
        self._faults = []
        self.add(faults or [])

    def add(self, faults):
        checked = [validate_fault(f) for f in faults]
        with self._lock:
            self._faults.extend(checked)

    def replace(self, faults):
        checked = [validate_fault(f) for f in faults]
        with self._lock:
            self._faults = checked

    def clear(self):
        with self._lock:
            self._faults = []

    def snapshot(self):
        with self._lock:
            return copy.deepcopy(self._faults)

    def _take(self, predicate):
        with self._lock:
            for fault in self._faults:
                if fault['count'] == 0 or not predicate(fault):
                    continue
                if fault['count'] is not None:
                    fault['count'] -= 1
                taken = dict(fault)
                self._faults = [f for f in self._faults if f['count'] != 0]
                return taken
        return None

    def take_request_fault(self, kind):
        """A throttle/server_error fault for a request of `kind` (read/write/runcommand/poll), or None."""
        return self._take(lambda f: f['type'] in REQUEST_TYPES and f['on'] in (kind, 'any' if kind != 'poll' else 'poll'))

    def take_lro_fault(self, kind='write'):
        return self._take(lambda f: f['type'] == 'lro_fail' and f['on'] in (kind, 'any'))

    def take_runcommand_fault(self, node):
        names = (node.get('name'), node.get('short'))
        return self._take(lambda f: f['type'] in RUNCOMMAND_TYPES and (not f.get('node') or f['node'] in names))
