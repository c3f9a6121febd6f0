# -*- coding: utf-8 -*-
# Copyright (c) 2026 aks.tunnel contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""`api_calls` of a real module run equals what the lab's emulators received.

ARM: the ARM emulator journals every ARM request it answers (not the Entra token requests, not the lab admin
API): `GET /_lab/journal?since=N`. Kubernetes: the Kubernetes emulator numbers every response in its
`Audit-Id` header, so the difference of two `GET /version` calls around the run is the number of requests
in between. Nothing else talks to either emulator while the playbook runs.
"""

from __future__ import annotations

import json
import os
import ssl
import urllib.request

import pytest

from ansible_collections.aks.tunnel.tests.integration.modules_network.network_lab import Lab, run_playbook

pytestmark = pytest.mark.lab


PLAYBOOK = '''
- hosts: localhost
  gather_facts: false
  module_defaults:
    aks.tunnel.aks_cluster_info: "{{ aks_tunnel_azure_auth | combine({'kubeconfig': aks_tunnel_kubeconfig}) }}"
  tasks:
    - name: Cluster model
      aks.tunnel.aks_cluster_info:
        resource_group: "{{ aks_tunnel_resource_group }}"
        name: "{{ aks_tunnel_cluster_name }}"
      register: info
    - name: Dump
      ansible.builtin.copy:
        dest: "{{ out }}"
        content: "{{ {'info': info, 'total': [info, {'skipped': true}] | aks.tunnel.api_calls_total({'arm': 1000, 'kube': 2000})} | to_json }}"
'''


class Observer:
    """Reads what the lab's ARM and Kubernetes emulators have seen so far."""

    def __init__(self, lab):
        self.lab = lab
        with open(os.path.join(lab.state_dir, 'control.ready'), encoding='utf-8') as handle:
            self.kube = json.load(handle)['kube']

    def arm_seq(self):
        entries = self.lab.admin('GET', 'journal?since=0')['value']
        return max((e['seq'] for e in entries), default=0)

    def arm_requests_since(self, seq):
        return self.lab.admin('GET', 'journal?since=%d' % seq)['value']

    def kube_audit_id(self):
        context = ssl.create_default_context(cafile=self.kube['ca_path'])
        with urllib.request.urlopen(self.kube['url'] + '/version', context=context, timeout=30) as response:
            response.read()
            return int(response.headers['Audit-Id'].rsplit('-', 1)[1])


@pytest.fixture(scope='module')
def lab(tmp_path_factory):
    started = Lab('healthy', tmp_path_factory.mktemp('lab-api-calls'))
    yield started
    started.down()


def run_and_observe(lab, tmp_path):
    observer = Observer(lab)
    arm_before = observer.arm_seq()
    kube_before = observer.kube_audit_id()
    data = run_playbook(tmp_path, PLAYBOOK, lab.vars_file, {})
    arm_seen = observer.arm_requests_since(arm_before)
    kube_seen = observer.kube_audit_id() - kube_before - 1   # minus the second GET /version
    return data, arm_seen, kube_seen


def test_api_calls_equal_what_the_emulators_received(lab, tmp_path):
    data, arm_seen, kube_seen = run_and_observe(lab, tmp_path)
    info = data['info']
    assert info['changed'] is False and len(info['nodes']) > 0
    assert len(arm_seen) > 0 and kube_seen > 0
    assert info['api_calls'] == {'arm': len(arm_seen), 'kube': kube_seen, 'throttled': 0, 'retries': 0, 'retry_wait_s': 0.0}
    # the managed cluster, the VMSS and their instances and NICs were read; the token requests are not in the journal
    assert any('/managedClusters/' in e['path'] for e in arm_seen)
    assert all('/oauth2/' not in e['path'] for e in arm_seen)
    # the filter adds the result to a running total; a skipped result adds nothing
    assert data['total'] == {'arm': 1000 + len(arm_seen), 'kube': 2000 + kube_seen}


def test_arm_retries_are_counted(lab, tmp_path):
    """A throttled read (429 + Retry-After) is retried by the SDK: both requests count."""
    baseline, arm_plain, kube_plain = run_and_observe(lab, tmp_path)
    lab.admin('POST', 'faults', {'faults': [{'type': 'throttle', 'on': 'read', 'retry_after': 0, 'count': 2}]})
    try:
        data, arm_seen, kube_seen = run_and_observe(lab, tmp_path)
    finally:
        lab.admin('DELETE', 'faults')
    assert [e['status'] for e in arm_seen].count(429) == 2
    # issue 17: the module's result says it was throttled twice and waited (Retry-After 0 = jittered backoff, 0.5-1 s then 1-2 s)
    calls = data['info']['api_calls']
    assert {k: calls[k] for k in ('arm', 'kube', 'throttled', 'retries')} == {'arm': len(arm_seen), 'kube': kube_seen, 'throttled': 2, 'retries': 2}
    assert 1.5 <= calls['retry_wait_s'] <= 3.1
    assert data['info']['api_calls']['arm'] == baseline['info']['api_calls']['arm'] + 2 == len(arm_plain) + 2
    assert kube_seen == kube_plain
