# -*- coding: utf-8 -*-
# Copyright (c) 2026 aks.tunnel contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""A thread-safe request counter shared by the Azure and Kubernetes adapters (standard library only)."""

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
