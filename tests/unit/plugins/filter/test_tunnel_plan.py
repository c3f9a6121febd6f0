# -*- coding: utf-8 -*-
# Copyright (c) 2026 aks.tunnel contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import pytest

from ansible.errors import AnsibleFilterError

from ansible_collections.aks.tunnel.plugins.filter.ladder_repair import FilterModule as LadderRepair
from ansible_collections.aks.tunnel.plugins.filter.tunnel_plan import FilterModule as TunnelPlan
from ansible_collections.aks.tunnel.plugins.module_utils._causes import CAUSE_IDS

PLAN = TunnelPlan().filters()['tunnel_plan']
REPAIR = LadderRepair().filters()['ladder_repair']
DOC_LADDER = [[1, 2], [100, 3], [250, 4], [500, 5], [1000, 6], [5000, 10]]


def test_plan_from_run_tags_and_symptom():
    symptom = [{'cause': 'snat_exhaustion', 'explanation': 'x', 'next_check': 'y'}]
    plan = PLAN(list(CAUSE_IDS), symptom_causes=symptom, run_tags=['all'], skip_tags=[])
    assert plan['sources'][0] == 'snat' and plan['causes'] == list(CAUSE_IDS)
    assert PLAN(list(CAUSE_IDS), run_tags=['snat'])['sources'] == ['snat']


@pytest.mark.parametrize('checks, message', [
    ({'nsg': 1}, 'tunnel_plan expects a list of cause ids'),
    (['nsg'], 'tunnel_plan: the causes to check names unknown cause(s) nsg'),
])
def test_plan_bad_input(checks, message):
    with pytest.raises(AnsibleFilterError) as info:
        PLAN(checks)
    assert message in str(info.value)


def remediation(cpa_valid=True, safety_errors=(), live=2, nodes=7):
    return {'configmap': 'konnectivity-agent-autoscaler', 'namespace': 'kube-system',
            'live': {'cpa_valid': cpa_valid, 'safety_errors': list(safety_errors), 'expected_replicas': live},
            'counts': {'total_nodes': nodes, 'total_cores': nodes * 2, 'schedulable_nodes': nodes, 'schedulable_cores': nodes * 2}}


@pytest.mark.parametrize('ladder, desired, needs_fix, reason', [
    (remediation(live=1), DOC_LADDER, True, 'the live ladder gives 1 replica(s), the configured ladder 2'),
    (remediation(live=2), DOC_LADDER, False, 'the live ladder gives 2 replica(s), the configured ladder 2: kept'),
    # A live ladder that already gives more (the operator's own tuning) is kept.
    (remediation(live=4), DOC_LADDER, False, 'the live ladder gives 4 replica(s), the configured ladder 2: kept'),
    (remediation(live=3, nodes=150), DOC_LADDER, False, 'the live ladder gives 3 replica(s), the configured ladder 3: kept'),
    (remediation(live=2, nodes=150), DOC_LADDER, True, 'the live ladder gives 2 replica(s), the configured ladder 3'),
    (remediation(cpa_valid=False, live=None), DOC_LADDER, True, 'CPA refuses the live ladder'),
    (remediation(safety_errors=['nodesToReplicas[0] gives 0 replicas'], live=5), DOC_LADDER, True,
     'the live ladder is unsafe: nodesToReplicas[0] gives 0 replicas'),
    (remediation(live=None), DOC_LADDER, True, 'the live ladder gives no replica count'),
])
def test_ladder_repair_decides_in_python(ladder, desired, needs_fix, reason):
    decision = REPAIR(ladder, desired)
    assert (decision['needs_fix'], decision['reason']) == (needs_fix, reason)
    assert decision['configmap'] == 'konnectivity-agent-autoscaler' and decision['namespace'] == 'kube-system'


def test_ladder_repair_refuses_what_is_not_a_finding_remediation():
    with pytest.raises(AnsibleFilterError) as info:
        REPAIR({'nodes_to_replicas': DOC_LADDER}, DOC_LADDER)
    assert 'needs the remediation.ladder of a konnectivity_agent_scaling finding' in str(info.value)


def test_symptom_endpoints_for_the_probe():
    from ansible_collections.aks.tunnel.plugins.filter.tunnel_symptom_endpoints import FilterModule as Endpoints
    endpoints = Endpoints().filters()['tunnel_symptom_endpoints']
    text = ('Error from server: Get "https://10.240.0.6:10250/containerLogs/a/b/c": http: server gave HTTP response to HTTPS client\n'
            'error dialing backend: dial tcp 10.240.0.6:10250: i/o timeout\nproxy error from 127.0.0.1:6443 while dialing 10.240.0.7:10250\n'
            'dial tcp <aks-node-ip>:10250: i/o timeout\ndial tcp 20.1.2.3:443: i/o timeout')
    assert endpoints(text) == ['10.240.0.6:10250', '10.240.0.7:10250']
    assert endpoints(text, port=0)[-1] == '20.1.2.3:443'
    with pytest.raises(AnsibleFilterError):
        endpoints(None)
