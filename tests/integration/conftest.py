# -*- coding: utf-8 -*-
# Copyright (c) 2026 aks.tunnel contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Skip tests that need root and network namespaces when they cannot run here, and say so once."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest


def _netns_usable():
    if os.geteuid() != 0:
        return 'not running as root'
    if not shutil.which('ip'):
        return 'iproute2 (ip) is not installed'
    probe = 'akstn-probe-%d' % os.getpid()
    try:
        subprocess.run(['ip', 'netns', 'add', probe], check=True, capture_output=True, timeout=10)
        subprocess.run(['ip', 'netns', 'delete', probe], check=True, capture_output=True, timeout=10)
    except (OSError, subprocess.SubprocessError) as exc:
        return 'network namespaces are not usable: %s' % exc
    return None


_NETNS_SKIP_REASON = _netns_usable()


# Longest first. xdist (--dist loadgroup) hands the work units out in collection order, so the longest tests (see the
# --durations list `make test` prints) start first and the two workers end together, instead of one worker starting
# a six-minute test when the other is nearly done. Then the other integration tests, then the unit tests (short ones
# fill the gaps at the end). Whole files keep their order, so module-scoped fixtures are set up once.
_LONGEST_FIRST = (
    'tests/integration/playbooks/test_playbooks_lab.py::test_all_faults_check_then_repair_then_idempotent',
    'tests/integration/playbooks/test_playbooks_lab.py::test_diagnose_scale_5000',
    'tests/integration/playbooks/test_playbooks_snat_lab.py',
    'tests/integration/rbac/test_least_privilege_lab.py',
    'tests/integration/playbooks/test_playbooks_lab.py::test_diagnose_never_gives_a_false_all_clear',
    'tests/integration/playbooks/test_playbooks_lab.py::test_remediate_',
    'tests/integration/playbooks/test_playbooks_lab.py::test_diagnose_is_exact_on_the_enterprise_scenarios',
    'tests/integration/playbooks/',
    'tests/integration/modules_network/',
    'tests/integration/',
)


def _start_rank(item):
    nodeid = item.nodeid
    for rank, prefix in enumerate(_LONGEST_FIRST):
        if nodeid.startswith(prefix):
            return rank
    return len(_LONGEST_FIRST)


def pytest_collection_modifyitems(config, items):
    items.sort(key=_start_rank)  # stable: the order within a rank is the collection order
    if not _NETNS_SKIP_REASON:
        return
    skip = pytest.mark.skip(reason='lab/netns test skipped: %s (run make test as root)' % _NETNS_SKIP_REASON)
    for item in items:
        if 'netns' in item.keywords or 'lab' in item.keywords:
            item.add_marker(skip)


def pytest_report_header(config):
    if _NETNS_SKIP_REASON:
        return 'NOTICE: lab and network-namespace tests will be SKIPPED: %s' % _NETNS_SKIP_REASON
    return 'lab and network-namespace tests enabled (root, ip netns usable)'


_REPORT_WATCH = None


@pytest.fixture(autouse=True)
def _reports_match_the_schema(request):
    """Every report.json the test's runs wrote validates against docs/report.schema.json (tests/integration/report_schema.py)."""
    yield
    global _REPORT_WATCH  # pylint: disable=global-statement
    factory = getattr(request.config, '_tmp_path_factory', None)
    base = getattr(factory, '_basetemp', None)  # None until a test used tmp_path: nothing to look at, and none is created
    if base is None:
        return
    if _REPORT_WATCH is None:
        from ansible_collections.aks.tunnel.tests.integration.report_schema import ReportWatch  # pylint: disable=import-outside-toplevel
        _REPORT_WATCH = ReportWatch()
    errors = _REPORT_WATCH.check(str(base))
    if errors:
        pytest.fail('report(s) not valid against docs/report.schema.json:\n' + '\n'.join(errors[:30]), pytrace=False)
