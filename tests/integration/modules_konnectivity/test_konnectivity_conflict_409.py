# -*- coding: utf-8 -*-
# Copyright (c) 2026 aks.tunnel contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Issue 17: HTTP 409 (Conflict) on the ladder write: re-read, decide again, bounded; never a write from a stale read.

The other concurrent-edit case (somebody else writes another ladder) is test_konnectivity_concurrent_edit.py.
Here, against the lab's Kubernetes emulator: 409s injected on the PUT (a writer that changed only metadata, as far as
the module can tell) - three in a row fail clearly with nothing written, one is ridden out by a write on the
re-read version (its labels kept); and a concurrent writer that wrote exactly the requested ladder makes the
task change nothing.
"""

from __future__ import annotations

import time

from ansible_collections.aks.tunnel.tests.integration.modules_konnectivity.conftest import configmap_data
from ansible_collections.aks.tunnel.tests.integration.modules_konnectivity.playbook_runner import finish_playbook, run_playbook, start_playbook

CONFIGMAP_PATH = r'/api/v1/namespaces/kube-system/configmaps/konnectivity-agent-autoscaler$'
NAME = 'konnectivity-agent-autoscaler'
ORIGINAL = {'ladder': '{"nodesToReplicas":[[1,1]]}'}
WANTED = '{"nodesToReplicas":[[1,2],[100,3]]}'


def _puts(lab):
    return [r['status'] for r in list(lab.requests) if r['method'] == 'PUT' and r['path'].split('?')[0].endswith('/' + NAME)]


def _write(lab, register, **extra):
    return dict({'aks.tunnel.konnectivity_ladder': {'kubeconfig': lab.admin, 'state': 'present', 'nodes_to_replicas': [[1, 2], [100, 3]]},
                 'register': register, 'ignore_errors': True}, **extra)


def test_conflicts_are_read_again_and_bounded(kube_lab, tmp_path):
    lab = kube_lab('konnectivity-undersized')
    # Four 409s: the first task meets three in a row and gives up; the second meets the last one and writes on the new version.
    lab.add_fault(CONFIGMAP_PATH, method='PUT', code=409, message='Operation cannot be fulfilled on configmaps "%s": the object has been '
                  'modified; please apply your changes to the latest version and try again' % NAME, times=4)
    stored = lab.store.get('configmaps', 'kube-system', NAME)
    stored['metadata'].setdefault('labels', {})['team'] = 'platform'  # metadata the write must keep
    results = run_playbook(tmp_path, [_write(lab, 'gave_up'), _write(lab, 'wrote')])

    gave_up, wrote = results['gave_up'], results['wrote']
    assert gave_up['failed'] is True, gave_up
    assert 'kept changing (3 conflicts in a row: HTTP 409 on every write, its data unchanged); nothing was written' in gave_up['msg']
    assert 'Traceback' not in results['_output']
    assert wrote['failed'] is False and wrote['changed'] is True, wrote
    assert _puts(lab) == [409, 409, 409, 409, 200]
    assert configmap_data(lab) == {'ladder': WANTED}
    assert lab.store.get('configmaps', 'kube-system', NAME)['metadata']['labels']['team'] == 'platform'
    assert wrote['previous_data'] == ORIGINAL


def test_a_concurrent_writer_of_the_same_ladder_leaves_nothing_to_do(kube_lab, tmp_path):
    lab = kube_lab('konnectivity-undersized')
    lab.add_fault(CONFIGMAP_PATH, method='PUT', code=None, delay=2.0, times=1)
    held = lab._faults[-1]  # pylint: disable=protected-access
    process, results = start_playbook(tmp_path, [_write(lab, 'write')])
    deadline = time.monotonic() + 60
    while held['times'] > 0:
        assert time.monotonic() < deadline and process.poll() is None, 'the module never sent its PUT'
        time.sleep(0.02)
    # While the module's PUT is held, another run writes the same ladder (as compact JSON, like the module).
    lab.set_configmap_data('kube-system', NAME, {'ladder': WANTED})
    write = finish_playbook(process, results)['write']

    assert write['failed'] is False and write['changed'] is False, write
    assert _puts(lab) == [409]
    assert configmap_data(lab) == {'ladder': WANTED}
