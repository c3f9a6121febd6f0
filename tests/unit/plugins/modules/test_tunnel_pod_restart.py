# -*- coding: utf-8 -*-
# Copyright (c) 2026 aks.tunnel contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import pytest

from ansible_collections.aks.tunnel.plugins.modules import tunnel_pod_restart
from ansible_collections.aks.tunnel.tests.unit.plugins.modules.conftest import api_error, run_module


def pod(name, node, labels, ready=True):
    return {'metadata': {'name': name, 'uid': 'uid-' + name, 'labels': labels}, 'spec': {'nodeName': node},
            'status': {'conditions': [{'type': 'Ready', 'status': 'True' if ready else 'False'}]}}


def seed(fake, kind='konnectivity', count=2, replacement_ready=True):
    labels = {'konnectivity': {'app': 'konnectivity-agent'}, 'tunnel-front': {'component': 'tunnel'}, 'aks-link': {'app': 'aks-link'}}[kind]
    name = {'konnectivity': 'konnectivity-agent', 'tunnel-front': 'tunnelfront', 'aks-link': 'aks-link'}[kind]
    fake.deployments[name] = {'metadata': {'name': name}, 'spec': {'replicas': count, 'selector': {'matchLabels': labels}}}
    fake.pods = [pod('%s-old%d' % (name, i), 'n%d' % i, labels) for i in range(count)]
    counter = {'n': 0}

    def replace(fake_, deleted):
        counter['n'] += 1
        fake_.pods.append(pod('%s-new%d' % (name, counter['n']), 'n9', labels, ready=replacement_ready))
    fake.on_delete = replace


def test_check_mode_lists_the_pods(fake_kube, capsys):
    seed(fake_kube)
    result = run_module(tunnel_pod_restart.main, {'_ansible_check_mode': True}, capsys)
    assert result['changed'] is True
    assert result['would_restart'] == ['konnectivity-agent-old0', 'konnectivity-agent-old1']
    assert (result['component'], result['deployment'], result['selector']) == ('konnectivity', 'konnectivity-agent', 'app=konnectivity-agent')
    assert [c for c in fake_kube.calls if c[0] == 'delete_pod'] == []


@pytest.mark.parametrize('kind, deployment, selector', [
    ('konnectivity', 'konnectivity-agent', 'app=konnectivity-agent'),
    ('tunnel-front', 'tunnelfront', 'component=tunnel'),
    ('aks-link', 'aks-link', 'app=aks-link'),
])
def test_pods_are_recreated_one_at_a_time(fake_kube, capsys, kind, deployment, selector):
    seed(fake_kube, kind)
    result = run_module(tunnel_pod_restart.main, {'wait_sleep': 1}, capsys)
    assert result['changed'] is True and result['component'] == kind and result['selector'] == selector
    assert [(r['old_pod'], r['new_pod']) for r in result['restarted']] == [
        ('%s-old0' % deployment, '%s-new1' % deployment), ('%s-old1' % deployment, '%s-new2' % deployment)]
    assert result['pods_after'] == ['%s-new1' % deployment, '%s-new2' % deployment]
    deletes = [c for c in fake_kube.calls if c[0] == 'delete_pod']
    assert deletes == [('delete_pod', '%s-old0' % deployment, {'uid': 'uid-%s-old0' % deployment}),
                       ('delete_pod', '%s-old1' % deployment, {'uid': 'uid-%s-old1' % deployment})]
    # The second pod is deleted only after the first replacement was seen Ready.
    order = [c[0] for c in fake_kube.calls if c[0] in ('delete_pod', 'list_pod')]
    assert order[order.index('delete_pod') + 1] == 'list_pod'


def test_replacement_that_never_gets_ready_stops_the_restart(fake_kube, capsys):
    seed(fake_kube, replacement_ready=False)
    result = run_module(tunnel_pod_restart.main, {'wait_timeout': 1, 'wait_sleep': 1}, capsys)
    assert result['failed'] is True and result['changed'] is True
    assert 'pod konnectivity-agent-old0 was deleted, but no Ready replacement appeared within 1 seconds' in result['msg']
    assert result['restarted'] == []
    assert [c[1] for c in fake_kube.calls if c[0] == 'delete_pod'] == ['konnectivity-agent-old0']


def test_no_tunnel_fails_clearly(fake_kube, capsys):
    result = run_module(tunnel_pod_restart.main, {'component': 'aks-link'}, capsys)
    assert result['failed'] is True and result['msg'] == 'no tunnel Deployment (aks-link) in namespace kube-system'


def test_forbidden_delete(fake_kube, capsys):
    seed(fake_kube)
    fake_kube.errors['delete_namespaced_pod'] = [api_error(403, 'pods "x" is forbidden: User "lab-reader" cannot delete resource "pods"')]
    result = run_module(tunnel_pod_restart.main, {}, capsys)
    assert result['failed'] is True and result['status'] == 403
    assert 'Failed to delete pod kube-system/konnectivity-agent-old0 (HTTP 403)' in result['msg']
    assert result['restarted'] == []


def test_bad_option(fake_kube, capsys):
    result = run_module(tunnel_pod_restart.main, {'wait_timeout': 0}, capsys)
    assert result['failed'] is True and result['msg'] == 'wait_timeout must be >= 1, got 0'
