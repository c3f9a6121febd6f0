# -*- coding: utf-8 -*-
# Copyright (c) 2026 aks.tunnel contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Nodes: label selectors, field selectors, limit/continue paging (also at 5000 nodes), cordon by patch."""

from __future__ import annotations

import json
import time

import pytest
from kubernetes import client
from kubernetes.client.rest import ApiException

POOL1 = ['aks-nodepool1-76070142-vmss00000%d' % i for i in range(3)]
USER1 = ['aks-user1-76070142-vmss00000%d' % i for i in range(2)]


@pytest.mark.parametrize('selector, expected', [
    ('agentpool=nodepool1', POOL1),
    ('kubernetes.azure.com/agentpool==user1', USER1),
    ('agentpool!=nodepool1', USER1),
    ('agentpool in (user1, nodepool1)', POOL1 + USER1),
    ('agentpool notin (user1)', POOL1),
    ('kubernetes.azure.com/mode=system,kubernetes.io/os=linux', POOL1),
    ('node-role.kubernetes.io/agent', POOL1 + USER1),
    ('!node-role.kubernetes.io/agent', []),
    ('node.kubernetes.io/instance-type=Standard_D4s_v3', USER1),
    ('agentpool in (nodepool1),kubernetes.azure.com/mode!=system', []),
    ('missing-label notin (x)', POOL1 + USER1),
])
def test_label_selectors(kube_lab, client_for, selector, expected):
    core = client.CoreV1Api(client_for(kube_lab, 'lab-admin-cert'))
    assert [n.metadata.name for n in core.list_node(label_selector=selector).items] == expected


@pytest.mark.parametrize('selector, expected', [
    ('metadata.name=aks-user1-76070142-vmss000001', USER1[1:]),
    ('spec.unschedulable=true', USER1[1:]),
    ('spec.unschedulable!=true', POOL1 + USER1[:1]),
])
def test_field_selectors(kube_lab, client_for, selector, expected):
    core = client.CoreV1Api(client_for(kube_lab))
    assert [n.metadata.name for n in core.list_node(field_selector=selector).items] == expected


def test_bad_selectors_are_400(kube_lab, client_for):
    core = client.CoreV1Api(client_for(kube_lab))
    with pytest.raises(ApiException) as info:
        core.list_node(field_selector='spec.podCIDR=x')
    assert info.value.status == 400 and 'field label not supported: spec.podCIDR' in json.loads(info.value.body)['message']
    with pytest.raises(ApiException) as info:
        core.list_node(label_selector='bad key=x')
    assert info.value.status == 400


@pytest.mark.parametrize('user', ['lab-admin', 'lab-admin-cert', 'lab-reader'])
def test_paging_small(kube_lab, client_for, user):
    core = client.CoreV1Api(client_for(kube_lab, user))
    first = core.list_node(limit=2)
    assert [n.metadata.name for n in first.items] == POOL1[:2]
    assert first.metadata._continue and first.metadata.remaining_item_count == 3
    second = core.list_node(limit=2, _continue=first.metadata._continue)
    assert [n.metadata.name for n in second.items] == [POOL1[2], USER1[0]]
    third = core.list_node(limit=2, _continue=second.metadata._continue)
    assert [n.metadata.name for n in third.items] == USER1[1:]
    assert third.metadata._continue is None
    exact = core.list_node(limit=5)
    assert len(exact.items) == 5 and exact.metadata._continue is None
    with_selector = core.list_node(limit=1, label_selector='agentpool=user1')
    assert [n.metadata.name for n in with_selector.items] == USER1[:1] and with_selector.metadata.remaining_item_count is None
    rest = core.list_node(limit=1, label_selector='agentpool=user1', _continue=with_selector.metadata._continue)
    assert [n.metadata.name for n in rest.items] == USER1[1:] and rest.metadata._continue is None
    with pytest.raises(ApiException) as info:
        core.list_node(limit=2, _continue='garbage!')
    assert info.value.status == 400


def test_cordon_by_strategic_patch_like_kubectl(make_lab, client_for):
    lab = make_lab()
    core = client.CoreV1Api(client_for(lab))
    name = lab.node_name('nodepool1-2')
    cordoned = core.patch_node(name, {'spec': {'unschedulable': True}})
    assert cordoned.spec.unschedulable is True
    assert [n.metadata.name for n in core.list_node(field_selector='spec.unschedulable=true').items] == [name, USER1[1]]
    uncordoned = core.patch_node(name, {'spec': {'unschedulable': None}})
    assert uncordoned.spec.unschedulable is None


def test_5000_nodes_page_quickly(make_lab, client_for):
    config = {'cluster': {'name': 'big', 'resource_group': 'rg-big'},
              'node_pools': [{'name': 'system', 'count': 3}, {'name': 'user', 'count': 4997}],
              'kube': {'random_seed': 1, 'konnectivity': {'replicas': 2}}}
    started = time.monotonic()
    lab = make_lab(config)
    # Guards against a pathological regression (per-node work), not a benchmark: the machine runs other tests meanwhile.
    assert time.monotonic() - started < 30
    core = client.CoreV1Api(client_for(lab))
    started = time.monotonic()
    names, token, pages = [], None, 0
    while True:
        page = core.list_node(limit=500, _continue=token, _preload_content=False)
        body = json.loads(page.data)
        names += [item['metadata']['name'] for item in body['items']]
        pages += 1
        token = body['metadata'].get('continue')
        if not token:
            break
    elapsed = time.monotonic() - started
    assert pages == 10 and len(names) == 5000 == len(set(names))
    assert elapsed < 30, 'paging 5000 nodes took %.2fs' % elapsed
    # The doc ladder gives 10 replicas at >= 5000 nodes: CPA scaled the agent on start-up.
    assert lab.deployment('konnectivity-agent')['spec']['replicas'] == 10
    assert len(lab.tunnel_nodes()) == 10
    # Pages deserialize through the client models too.
    typed = core.list_node(limit=500, label_selector='agentpool=system')
    assert len(typed.items) == 3
