# -*- coding: utf-8 -*-
# Copyright (c) 2026 aks.tunnel contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Shared by the unit tests: patch_module_args on older ansible-core, and empty throttling/retry figures for each
test (a module run is one process in Ansible, so the plugins keep them per process; unit tests run many in one)."""

from __future__ import annotations

import contextlib
import json
import sys
import types
from unittest import mock

import pytest

try:  # ansible-core >= 2.19
    import ansible.module_utils.testing  # noqa: F401  pylint: disable=unused-import
except ImportError:
    # ansible-core 2.16 - 2.18 (tests/compat/ansible-core-matrix.sh): the same helper, the way those releases set module args.
    @contextlib.contextmanager
    def _patch_module_args(args=None):
        from ansible.module_utils import basic  # pylint: disable=import-outside-toplevel
        with mock.patch.object(basic, '_ANSIBLE_ARGS', json.dumps({'ANSIBLE_MODULE_ARGS': args or {}}).encode()):
            yield

    sys.modules['ansible.module_utils.testing'] = types.ModuleType('ansible.module_utils.testing')
    sys.modules['ansible.module_utils.testing'].patch_module_args = _patch_module_args

from ansible_collections.aks.tunnel.plugins.module_utils import _counter
from ansible_collections.aks.tunnel.plugins.module_utils import _retry


@pytest.fixture(autouse=True)
def _fresh_retry_stats():
    _counter.PROCESS_RETRY_STATS.reset()
    _retry.note_active_deadline(_retry.DEFAULT_RETRY_DEADLINE_S)
    yield
