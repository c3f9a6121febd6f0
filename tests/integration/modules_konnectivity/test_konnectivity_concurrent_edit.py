# -*- coding: utf-8 -*-
# Copyright (c) 2026 aks.tunnel contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""A concurrent edit of the ladder during the module's write is detected and not overwritten.

The emulator holds the module's PUT of the ConfigMap for two seconds (a fault with a delay and no error code);
while it is held, the test changes the ladder as another operator would. The PUT then carries a stale
resourceVersion, gets 409, the module re-reads, sees a different ladder and fails without writing.
"""

from __future__ import annotations

import time

from ansible_collections.aks.tunnel.tests.integration.modules_konnectivity.conftest import configmap_data
from ansible_collections.aks.tunnel.tests.integration.modules_konnectivity.playbook_runner import finish_playbook, start_playbook

CONFIGMAP_PATH = r'/api/v1/namespaces/kube-system/configmaps/konnectivity-agent-autoscaler$'


def test_concurrent_ladder_edit_is_not_overwritten(kube_lab, tmp_path):
    lab = kube_lab('konnectivity-undersized')
    lab.add_fault(CONFIGMAP_PATH, method='PUT', code=None, delay=2.0, times=1)
    held = lab._faults[-1]  # pylint: disable=protected-access
    tasks = [{'aks.tunnel.konnectivity_ladder': {'kubeconfig': lab.admin, 'state': 'present', 'nodes_to_replicas': [[1, 2], [100, 3]]},
              'register': 'write', 'ignore_errors': True}]
    process, results = start_playbook(tmp_path, tasks)
    deadline = time.monotonic() + 60
    while held['times'] > 0:
        assert time.monotonic() < deadline and process.poll() is None, 'the module never sent its PUT'
        time.sleep(0.02)
    # The module's PUT is now held by the emulator: somebody else edits the ladder.
    other = '{"nodesToReplicas":[[1,4]]}'
    lab.set_configmap_data('kube-system', 'konnectivity-agent-autoscaler', {'ladder': other})
    write = finish_playbook(process, results)['write']

    assert write['failed'] is True
    assert 'was changed by someone else while this task was writing it' in write['msg']
    assert 'Nothing was overwritten' in write['msg']
    assert write['concurrent_change'] == {'before': {'ladder': '{"nodesToReplicas":[[1,1]]}'}, 'after': {'ladder': other}}
    assert configmap_data(lab) == {'ladder': other}
    # The PUT really reached the API server and was refused there with a conflict.
    puts = [(r['path'].split('?')[0], r['status'], r['user']) for r in list(lab.requests) if r['method'] == 'PUT']
    assert puts == [('/api/v1/namespaces/kube-system/configmaps/konnectivity-agent-autoscaler', 409, 'lab-admin')]
    # CPA follows the other operator's ladder.
    lab.wait_for(lambda: lab.store.get('deployments', 'kube-system', 'konnectivity-agent')['spec']['replicas'] == 4)
