# -*- coding: utf-8 -*-
# Copyright (c) 2026 aks.tunnel contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Thread-safe request and retry counters shared by the Azure and Kubernetes adapters (standard library only)."""

from __future__ import annotations

import threading


class RequestCounter:
    """A thread-safe counter (modules send SDK requests from worker threads)."""

    def __init__(self):
        self._lock = threading.Lock()
        self._value = 0

    def add(self, count=1):
        with self._lock:
            self._value += count

    @property
    def value(self):
        with self._lock:
            return self._value


class RetryStats:
    """Throttling and retry figures of the API clients of one module run (thread-safe).

    `throttled`: 429 responses received; `retries`: requests sent again (after a 429, a 5xx, a
    connection error, or a Run Command 409); `retry_wait_s`: seconds spent waiting before them.
    """

    def __init__(self):
        self._lock = threading.Lock()
        self._throttled = 0
        self._retries = 0
        self._wait_s = 0.0

    def add_throttled(self, count=1):
        with self._lock:
            self._throttled += count

    def add_retry(self, wait_s):
        with self._lock:
            self._retries += 1
            self._wait_s += max(float(wait_s), 0.0)

    def as_dict(self):
        with self._lock:
            return {'throttled': self._throttled, 'retries': self._retries, 'retry_wait_s': round(self._wait_s, 1)}

    def reset(self):
        with self._lock:
            self._throttled = self._retries = 0
            self._wait_s = 0.0


# One Ansible module run is one process: the Azure clients, the Kubernetes client and the Run Command
# executor of a module all add to this one, which AksTunnelModule.api_calls reports.
PROCESS_RETRY_STATS = RetryStats()
