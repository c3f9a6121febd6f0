# -*- coding: utf-8 -*-
# Copyright (c) 2026 aks.tunnel contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The CPA engine (_ladder) on real cluster-proportional-autoscaler ConfigMaps and ladders (issue 14).

Every fixture under ``fixtures/cpa_real`` names its source in its header: AKS documentation (the tunnel article's
konnectivity ladder, the CoreDNS autoscaler), GKE's konnectivity-agent ladders as users printed them, the CPA project's
own examples and README, and the Kubernetes DNS add-on. The expected replica counts are worked out from CPA's
documented semantics (README: ladder = step function, the higher of the cores and nodes lookups; linear =
max(ceil(cores/coresPerReplica), ceil(nodes/nodesPerReplica)) clamped to min/max, at least 2 with
preventSinglePointFailure and more than one node; schedulable counts unless includeUnschedulableNodes), not from the
code, and where the README gives a worked example it is used as is.
"""

from __future__ import annotations

import json
import os

import pytest
import yaml

from ansible_collections.aks.tunnel.plugins.module_utils import _ladder as ld

HERE = os.path.join(os.path.dirname(__file__), 'fixtures', 'cpa_real')


def _body(name):
    with open(os.path.join(HERE, name), encoding='utf-8') as handle:
        lines = handle.read().splitlines()
    assert lines[0].startswith('# source: '), 'every fixture names its source in its first line'
    return '\n'.join(line for line in lines if not line.startswith('#'))


def data_of(name):
    """The ConfigMap ``data`` CPA reads, from the artifact as published."""
    body = _body(name)
    if name.endswith('.configmap.yaml'):
        return yaml.safe_load(body)['data']
    if name.endswith('.args.txt'):
        # --default-params: CPA creates the ConfigMap with each mode's value marshalled back to a JSON string
        # (Go's encoding/json sorts map keys)
        arg = body.strip().lstrip('- ')
        params = json.loads(arg.split('=', 1)[1])
        return dict((mode, json.dumps(value, sort_keys=True, separators=(',', ':'))) for mode, value in params.items())
    if name.endswith('.ladder.txt'):
        return {'ladder': '{"nodesToReplicas": %s}' % body.strip()}
    return {'ladder': body.strip() + '\n'}


# (fixture, [(total nodes, total cores, schedulable nodes, schedulable cores, replicas)], why)
CORPUS = [
    ('aks_coredns_autoscaler_doc.configmap.yaml',
     [(3, 6, 3, 6, 2), (8, 16, 8, 16, 3), (20, 600, 20, 600, 4), (40, 100, 40, 100, 5), (5, 1100, 5, 1100, 4)],
     'both ladders, the higher lookup wins: 8 nodes reach [8,3]; 600 cores [512,3] < 20 nodes [16,4]; 1100 cores [1024,4]'),
    ('gke_konnectivity_2i2c_stock.ladder.txt',
     [(1, 4, 1, 4, 1), (7, 28, 7, 28, 6), (10, 40, 10, 40, 8), (99, 396, 99, 396, 8), (100, 400, 100, 400, 12),
      (600, 2400, 600, 2400, 25), (5000, 20000, 5000, 20000, 100)],
     'nodes only: a count between two thresholds takes the lower step (7 -> [6,6], 99 -> [10,8])'),
    ('gke_konnectivity_2i2c_tuned.ladder.txt',
     [(1, 4, 1, 4, 1), (5, 20, 5, 20, 2), (10, 40, 10, 40, 3), (150, 600, 150, 600, 12)],
     'the cheaper ladder: 3-9 nodes stay at 2 agents'),
    ('cpa_example_ladder.configmap.yaml',
     [(1, 2, 1, 2, 1), (3, 12, 3, 12, 3), (100, 600, 100, 600, 5), (600, 70000, 600, 70000, 100)],
     'the cores ladder dominates past 2 nodes; 70000 cores is past the last threshold 65535 -> 100'),
    ('cpa_readme_ladder.configmap.yaml',
     [(100, 400, 100, 400, 3), (100, 400, 1, 2, 1)],
     'the README\'s own example (100 nodes, 400 cores -> 3); includeUnschedulableNodes false: a cluster with one '
     'schedulable 2-core node gets 1'),
    ('cpa_readme_ladder_scale_from_zero.configmap.yaml',
     [(0, 0, 0, 0, 0), (5, 20, 5, 20, 0), (6, 24, 6, 24, 1), (20, 80, 20, 80, 1)],
     'the README: "a single replica once the cluster reaches six nodes" (0 replicas below)'),
    ('cpa_example_linear.configmap.yaml',
     [(1, 2, 1, 2, 1), (2, 2, 2, 2, 2), (4, 13, 4, 13, 7)],
     'linear 2 cores / 1 node per replica; preventSinglePointFailure needs more than one node'),
    ('cpa_readme_linear.configmap.yaml',
     [(4, 13, 4, 13, 7), (4, 13, 2, 6, 7), (1000, 10, 1000, 10, 100)],
     'the README\'s example (4 nodes, 13 cores -> 7); includeUnschedulableNodes true uses the totals; max 100'),
    ('cpa_example_linear_defaultparams.args.txt',
     [(4, 13, 4, 13, 7), (3, 4, 1, 2, 3)],
     'the same linear parameters from --default-params, with includeUnschedulableNodes true (totals: 3 nodes -> 3)'),
    ('k8s_dns_horizontal_autoscaler.args.txt',
     [(1, 2, 1, 2, 1), (3, 6, 3, 6, 2), (100, 400, 100, 400, 7), (10, 3000, 10, 3000, 12)],
     'kube-dns: 256 cores / 16 nodes per replica, at least 2 from two nodes on'),
]

ERRORS = [
    ('aks_tunnel_doc_ladder_snippet.txt', 'error parsing ladder params',
     'the article prints `nodesToReplicas": [...]` without the opening brace and quote: pasted as is, CPA cannot parse '
     'it and keeps the current replica count'),
    ('cpa_example_ladder_defaultparams.args.txt', 'includeUnschedulableNodes',
     'the example passes includeUnschedulableNodes as the string "true"; the ladder parser wants a JSON bool'),
]


@pytest.mark.parametrize('name, cases, why', CORPUS, ids=[c[0] for c in CORPUS])
def test_real_configmaps_give_the_documented_replicas(name, cases, why):
    data = data_of(name)
    got = [(n, c, sn, sc, ld.compute_replicas(data, n, c, schedulable_nodes=sn, schedulable_cores=sc)) for n, c, sn, sc, _r in cases]
    assert got == cases, why


@pytest.mark.parametrize('name, fragment, why', ERRORS, ids=[e[0] for e in ERRORS])
def test_configmaps_cpa_refuses_are_refused_with_its_message(name, fragment, why):
    with pytest.raises(ld.LadderError) as info:
        ld.compute_replicas(data_of(name), 10, 40)
    assert fragment in str(info.value), (why, str(info.value))


def test_the_tunnel_articles_ladder_once_completed_is_the_engines_doc_example():
    snippet = _body('aks_tunnel_doc_ladder_snippet.txt').strip()
    completed = {'ladder': '{"' + snippet + '}'}  # what the article means: the one missing brace and quote added
    params = ld.parse_configmap_data(completed).params
    assert params['nodesToReplicas'] == ld.AKS_DOC_EXAMPLE_LADDER['nodesToReplicas']
    expected = {0: 2, 1: 2, 99: 2, 100: 3, 249: 3, 250: 4, 500: 5, 999: 5, 1000: 6, 4999: 6, 5000: 10, 6000: 10}
    assert dict((n, ld.compute_replicas(completed, n, 4 * n)) for n in expected) == expected


def test_every_fixture_is_in_a_table():
    names = set(os.listdir(HERE))
    assert names == set(c[0] for c in CORPUS) | set(e[0] for e in ERRORS)
