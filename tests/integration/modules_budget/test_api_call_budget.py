# -*- coding: utf-8 -*-
# Copyright (c) 2026 aks.tunnel contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The API-call budget of a healthy 5-node diagnosis (issue #11): at most 28 ARM and 12 Kubernetes requests.

The diagnosis is the six detection modules in sequence, each given the registered aks_cluster_info result as
`cluster_model`: aks_cluster_info, vmss_runcommand_probe (tcp_reachability + egress, inspect_unreachable),
nsg_port_check, snat_usage_info, konnectivity_ladder (query) and konnectivity_agent_info (also given the ladder's
result as `ladder`, and `read_node_metrics: false` as the diagnosis role does). The counts are
deterministic (a healthy lab, Run Command latency 0), so the test asserts them; it also checks that the modules'
own `api_calls` add up to what the emulators received (ARM journal, Kubernetes Audit-Id), so the budget is
measured on the wire, not only by the modules' counters.
"""

from __future__ import annotations

import collections
import json

import pytest

from ansible_collections.aks.tunnel.tests.integration.modules_network.network_lab import Lab, run_playbook
from ansible_collections.aks.tunnel.tests.integration.modules_network.test_api_calls import Observer

pytestmark = pytest.mark.lab

ARM_BUDGET = 28
KUBE_BUDGET = 12
MODULES = ('info', 'probe', 'nsg', 'snat', 'ladder', 'agents')


DIAGNOSIS = '''
- hosts: localhost
  gather_facts: false
  vars:
    both: "{{ aks_tunnel_azure_auth | combine({'kubeconfig': aks_tunnel_kubeconfig}) }}"
    cluster: {resource_group: "{{ aks_tunnel_resource_group }}", name: "{{ aks_tunnel_cluster_name }}"}
    model: "{{ {'cluster_model': info} if use_model else {} }}"
  module_defaults:
    aks.tunnel.aks_cluster_info: "{{ both }}"
    aks.tunnel.vmss_runcommand_probe: "{{ both }}"
    aks.tunnel.nsg_port_check: "{{ both }}"
    aks.tunnel.snat_usage_info: "{{ aks_tunnel_azure_auth }}"
    aks.tunnel.konnectivity_ladder: {kubeconfig: "{{ aks_tunnel_kubeconfig }}"}
    aks.tunnel.konnectivity_agent_info: {kubeconfig: "{{ aks_tunnel_kubeconfig }}"}
  tasks:
    - {name: Cluster model, aks.tunnel.aks_cluster_info: "{{ cluster }}", register: info}
    - name: Probe
      aks.tunnel.vmss_runcommand_probe: "{{ cluster | combine(model, {'checks': ['tcp_reachability', 'egress'], 'inspect_unreachable': true,
                                             'finding_for': ['ufw_blocks_10250', 'iptables_blocks_10250', 'egress_ports_blocked']}) }}"
      register: probe
    - name: NSG
      aks.tunnel.nsg_port_check: "{{ cluster | combine(model, {'api_server_ip': aks_tunnel_lab.api_server_ip}) }}"
      register: nsg
    - {name: SNAT, aks.tunnel.snat_usage_info: "{{ cluster | combine(model) }}", register: snat}
    - {name: Ladder, aks.tunnel.konnectivity_ladder: "{{ {'state': 'query'} | combine(model) }}", register: ladder}
    - name: Agents (with the model, the ladder's result too; the autoscaler, its ConfigMap and the agent Deployment were just read)
      aks.tunnel.konnectivity_agent_info: "{{ model | combine({'ladder': ladder, 'read_node_metrics': false} if use_model else {}) }}"
      register: agents
    - name: Dump
      ansible.builtin.copy:
        dest: "{{ out }}"
        content: "{{ {'info': info, 'probe': probe, 'nsg': nsg, 'snat': snat, 'ladder': ladder, 'agents': agents} | to_json }}"
'''


@pytest.fixture(scope='module')
def lab(tmp_path_factory):
    started = Lab('healthy', tmp_path_factory.mktemp('lab-budget'))
    yield started
    started.down()


def diagnose(lab, tmp_path, use_model):
    observer = Observer(lab)
    arm_before, kube_before = observer.arm_seq(), observer.kube_audit_id()
    data = run_playbook(tmp_path, DIAGNOSIS, lab.vars_file, {'use_model': use_model})
    arm_seen = observer.arm_requests_since(arm_before)
    kube_seen = observer.kube_audit_id() - kube_before - 1   # minus the second GET /version
    calls = dict((key, data[key]['api_calls']) for key in MODULES)
    totals = {'arm': sum(c['arm'] for c in calls.values()), 'kube': sum(c['kube'] for c in calls.values())}
    # what each request was, for the failure message: method + the path without ids
    kinds = collections.Counter('%s %s' % (e.get('method'), e['path'].split('?')[0].rsplit('/', 1)[-1]) for e in arm_seen)
    print('use_model=%s per module %s totals %s arm requests %s' % (use_model, json.dumps(calls), totals, dict(kinds)))
    return data, calls, totals, len(arm_seen), kube_seen


def test_healthy_diagnosis_with_the_model_stays_within_the_budget(lab, tmp_path):
    data, calls, totals, arm_seen, kube_seen = diagnose(lab, tmp_path, use_model=True)
    assert totals == {'arm': arm_seen, 'kube': kube_seen}, calls
    assert totals['arm'] <= ARM_BUDGET and totals['kube'] <= KUBE_BUDGET, calls
    # the evidence is all there: every kubelet answered, egress and NSG paths checked, SNAT and the ladder evaluated
    assert data['probe']['summary']['unreachable'] == 0 and data['probe']['summary']['reachable'] == len(data['info']['nodes'])
    assert [f['status'] for f in data['probe']['findings']] == ['ok', 'ok', 'ok']
    # kubelet path, egress, and the API server subnet (not applicable without API Server VNet Integration)
    assert [f['status'] for f in data['nsg']['findings']] == ['ok', 'ok', 'not_applicable']
    assert data['snat']['applicable'] is True and data['snat']['finding']['status'] == 'ok'
    assert data['ladder']['finding']['status'] == 'ok' and data['agents']['finding']['status'] == 'ok'
    # the modules given the model read neither the cluster nor the nodes again
    assert calls['nsg']['kube'] == 0 and calls['snat']['kube'] == 0 and calls['probe']['kube'] == 0
    # the agent check reads only what the ladder did not and the finding uses: the OOM events (one list for both reasons)
    # and the agents' pod metrics
    assert calls['agents']['kube'] == 2, calls


def test_the_model_changes_no_finding(lab, tmp_path):
    """Standalone (each module reads what it needs) and with the model: the same findings, more requests."""
    alone, calls_alone, totals_alone, _arm, _kube = diagnose(lab, tmp_path, use_model=False)
    shared, _calls, totals_shared, _arm, _kube = diagnose(lab, tmp_path, use_model=True)
    for key in ('probe', 'nsg'):
        assert alone[key]['findings'] == shared[key]['findings']
    for key in ('snat', 'ladder', 'agents'):
        assert alone[key]['finding'] == shared[key]['finding'], key
    # the lab's SNAT counters move with the clock: compare which node each backend is, not the counts
    assert [(n['backend_ip'], n['node']) for n in alone['snat']['nodes']] == [(n['backend_ip'], n['node']) for n in shared['snat']['nodes']]
    assert alone['ladder']['cluster'] == shared['ladder']['cluster']
    assert totals_alone['arm'] > totals_shared['arm'] and totals_alone['kube'] > totals_shared['kube'], calls_alone
