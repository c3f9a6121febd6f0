# -*- coding: utf-8 -*-
# Copyright (c) 2026 aks.tunnel contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""No false fix for OOM kills (issue 18): the closing diagnosis keeps the pre-repair OOM evidence."""

from __future__ import annotations

import pytest

from ansible_collections.aks.tunnel.plugins.module_utils import _repair_proof as p
from ansible_collections.aks.tunnel.plugins.module_utils._causes import make_finding

KONN = 'konnectivity_agent_scaling'
OOM = ('pod konnectivity-agent-1 container konnectivity-agent on n0 was OOMKilled (exit 137, finished 2026-12-04T10:00:00Z, '
       '3 restart(s), memory limit 32Mi)')
REMEDIATION = {'deployment_resources': {'namespace': 'kube-system', 'deployment': 'konnectivity-agent', 'container': 'konnectivity-agent',
                                        'current_memory_limit': '32Mi', 'suggested_memory_limit': '64Mi'}, 'caveat': 'AKS reconciles'}


def before(summary=OOM, status='problem', remediation=None):
    return {'findings': [make_finding(KONN, status, summary, ['n0'], [summary], REMEDIATION if remediation is None else remediation)]}


def agents(*limits, failed=False):
    pods = [{'name': 'konnectivity-agent-%d' % i, 'containers': [{'name': 'konnectivity-agent', 'limits': {'memory': limit} if limit else {}}]}
            for i, limit in enumerate(limits)]
    return [{'expected_replicas': 2}, {'failed': failed, 'pods': [] if failed else pods}]


@pytest.mark.parametrize('text, value', [('32Mi', 32 * 1024 ** 2), ('64M', 64 * 1000 ** 2), ('1Gi', 1024 ** 3), ('1048576', 1048576),
                                         ('0.5Gi', 512 * 1024 ** 2), ('', None), (None, None), ('lots', None)])
def test_memory_bytes(text, value):
    assert p.memory_bytes(text) == value


@pytest.mark.parametrize('before_report, results, after, status', [
    # The limit was not raised: the recreated pods look healthy, the OOM kills before the repair keep it a PROBLEM.
    (before(), agents('32Mi', '32Mi'), [], 'problem'),
    (before(), agents('64Mi', '48Mi'), [], 'problem'),
    # Raised to (at least) the suggested limit: the repair removed the cause.
    (before(), agents('64Mi', '128Mi'), [], None),
    (before(), agents('1Gi'), [], None),
    # The live limit could not be read: not proven fixed.
    (before(), agents(failed=True), [], 'unknown'),
    (before(), agents('32Mi', None), [], 'unknown'),
    # Nothing to keep: no OOM kill before (memory pressure, replicas), not a problem before, no suggested limit.
    (before('pod x uses 30 MiB of its 32 MiB memory limit (94% >= 90%)'), agents('32Mi'), [], None),
    (before(status='ok', remediation={}), agents('32Mi'), [], None),
    (before(remediation={}), agents('32Mi'), [], None),
    ({}, agents('32Mi'), [], None),
    # The closing diagnosis sees a konnectivity problem itself: it stands as it is.
    (before(), agents('32Mi'), [make_finding(KONN, 'problem', 'OOMKilled again')], None),
])
def test_oom_not_fixed(before_report, results, after, status):
    finding = p.oom_not_fixed(before_report, results, after)
    assert (finding or {}).get('status') == status
    if status == 'problem':
        assert finding['summary'].startswith('konnectivity-agent memory limit is still ') and 'below the 64Mi' in finding['summary']
        assert finding['evidence'][0] == 'before the repair: ' + OOM
        assert finding['remediation']['deployment_resources']['suggested_memory_limit'] == '64Mi'
