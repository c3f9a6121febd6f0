# -*- coding: utf-8 -*-
# Copyright (c) 2026 aks.tunnel contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Unit tests run many modules in one process: each test starts with empty throttling/retry figures
(a module run is one process in Ansible, so the plugins keep them per process)."""

from __future__ import annotations

import pytest

from ansible_collections.aks.tunnel.plugins.module_utils import _counter
from ansible_collections.aks.tunnel.plugins.module_utils import _retry


@pytest.fixture(autouse=True)
def _fresh_retry_stats():
    _counter.PROCESS_RETRY_STATS.reset()
    _retry.note_active_deadline(_retry.DEFAULT_RETRY_DEADLINE_S)
    yield
