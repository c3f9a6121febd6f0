# -*- coding: utf-8 -*-
# Copyright (c) 2026 aks.tunnel contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""kubelet_apiserver_probe on the lab (issue #12): each kubelet through the Kubernetes API server, as kubectl logs goes.

A real lab (network namespaces, nftables NSGs, the Kubernetes emulator dialling every kubelet through the tunnel node's
namespace) from the nsg-deny-10250 scenario, plus a third pool with one stopped kubelet and one answering plain HTTP
(scenario overrides `kubelet_down` / `kubelet_plain_http`): real `ansible-playbook` runs, no mocks. The error texts are
the lab API server's, which are the real API server's (`error trying to reach service: <Go dial error>`).
"""

from __future__ import annotations

import os

import pytest

from ansible_collections.aks.tunnel.tests.integration.modules_network.network_lab import ROOT, Lab, run_playbook

# One lab for the module (make test runs pytest -n 2 --dist loadgroup); the last test removes the tunnel agents.
pytestmark = [pytest.mark.lab, pytest.mark.xdist_group('apiserver_probe_lab')]

PROBE = '''
- hosts: localhost
  gather_facts: false
  vars:
    cluster: {resource_group: "{{ aks_tunnel_resource_group }}", name: "{{ aks_tunnel_cluster_name }}"}
  tasks:
    - name: Cluster model
      aks.tunnel.aks_cluster_info: "{{ cluster | combine(aks_tunnel_azure_auth, {'kubeconfig': aks_tunnel_kubeconfig}) }}"
      register: info
    - name: Every kubelet through the API server (admin), given the model
      aks.tunnel.kubelet_apiserver_probe: "{{ cluster | combine({'kubeconfig': aks_tunnel_kubeconfig, 'cluster_model': info}) }}"
      register: admin
    - name: The same without the model (lists the nodes itself)
      aks.tunnel.kubelet_apiserver_probe: "{{ cluster | combine({'kubeconfig': aks_tunnel_kubeconfig, 'concurrency': 2}) }}"
      register: listed
    - name: Only named nodes
      aks.tunnel.kubelet_apiserver_probe: "{{ cluster | combine({'kubeconfig': aks_tunnel_kubeconfig, 'cluster_model': info,
                                              'nodes': [user2_1, 'no-such-node']}) }}"
      vars:
        user2_1: "{{ (info.nodes | selectattr('pool', 'equalto', 'user2') | selectattr('instance_id', 'equalto', '1') | first).name }}"
      register: named
    - name: The shipped least-privilege diagnose role (no nodes/proxy)
      aks.tunnel.kubelet_apiserver_probe: "{{ cluster | combine({'kubeconfig': aks_tunnel_lab_diagnose_kubeconfig, 'cluster_model': info}) }}"
      register: diagnose
    - name: Dump
      ansible.builtin.copy:
        dest: "{{ out }}"
        content: "{{ {'info': info, 'admin': admin, 'listed': listed, 'named': named, 'diagnose': diagnose} | to_json }}"
'''


@pytest.fixture(scope='module')
def lab(tmp_path_factory):
    """nsg-deny-10250 (user1-0/1 blocked by the NIC NSG) plus a pool user2: user2-0's kubelet stopped, user2-1's plain HTTP."""
    import yaml  # pylint: disable=import-outside-toplevel
    from ansible_collections.aks.tunnel.tests.lab import scenario as scenario_mod  # pylint: disable=import-outside-toplevel
    with open(scenario_mod.resolve_path('nsg-deny-10250'), encoding='utf-8') as handle:
        raw = yaml.safe_load(handle)
    raw['name'] = 'apiserver-probe'
    raw['node_pools'] = raw['node_pools'] + [{'name': 'user2', 'count': 2}]  # after user1: the NSG rule's IPs stay user1's
    raw['faults'] = dict(raw['faults'], kubelet_down=['user2-0'], kubelet_plain_http=['user2-1'])
    raw['expect'] = {'problems': ['kubelet_not_serving', 'nsg_blocks_10250'], 'affected_nodes': ['user1-0', 'user1-1', 'user2-0', 'user2-1']}
    lab = Lab(scenario_mod.validate(raw, source='apiserver-probe'), tmp_path_factory.mktemp('lab-apiserver'))
    yield lab
    lab.down()


def test_every_kubelet_through_the_api_server(lab, tmp_path):
    data = run_playbook(tmp_path, PROBE, lab.vars_file, {})
    names = dict(('%s-%s' % (n['pool'], n['instance_id']), n['name']) for n in data['info']['nodes'])
    ips = dict(('%s-%s' % (n['pool'], n['instance_id']), n['private_ip']) for n in data['info']['nodes'])
    short = dict((v, k) for k, v in names.items())
    reach = 'error trying to reach service: '

    for key in ('admin', 'listed'):
        result = data[key]
        assert result['changed'] is False and result['node_count'] == 7 and result['probed'] == 7, result
        # the healthy node pool answers; the NSG-blocked nodes time out; the stopped kubelet refuses; plain HTTP is named
        assert result['reached'] == 3 and result['by_kind'] == {'answered': 3, 'timeout': 2, 'refused': 1, 'plain_http': 1}, result
        assert dict((short[u['node']], (u['kind'], u['error'])) for u in result['unreachable_nodes']) == {
            'user1-0': ('timeout', reach + 'dial tcp %s:10250: i/o timeout' % ips['user1-0']),
            'user1-1': ('timeout', reach + 'dial tcp %s:10250: i/o timeout' % ips['user1-1']),
            'user2-0': ('refused', reach + 'dial tcp %s:10250: connect: connection refused' % ips['user2-0']),
            'user2-1': ('plain_http', reach + 'http: server gave HTTP response to HTTPS client'),
        }
        finding = result['finding']
        assert (finding['cause'], finding['status'], finding['affected_nodes']) == ('kubelet_not_serving', 'problem', [names['user2-1']])
        assert finding['remediation']['nodes'] == [names['user2-1']]
        assert 'kubectl get --raw /api/v1/nodes/%s/proxy/healthz' % names['user2-1'] in finding['remediation']['commands']
        assert any(line.startswith(names['user2-0'] + ': ' + reach) and 'or a firewall rejects' in line for line in finding['evidence'])
        assert result['not_probed'] == [] and result['request_errors'] == [] and result['no_tunnel_nodes'] == []
        assert result['api_calls']['arm'] == 0
    # one request per node, plus the node list without the model
    assert data['admin']['api_calls']['kube'] == 7
    assert data['listed']['api_calls']['kube'] == 8
    # with the model the run command advice names the scale set and instance
    assert 'az vmss run-command invoke --resource-group %s' % data['info']['cluster']['node_resource_group'] in \
        data['admin']['finding']['remediation']['commands'][1]

    named = data['named']
    assert named['probed'] == 1 and [short[u['node']] for u in named['unreachable_nodes']] == ['user2-1']
    assert named['not_probed'] == [{'node': 'no-such-node', 'reason': 'not a Kubernetes node of the cluster'}]
    assert any('no-such-node is not a Kubernetes node' in w for w in named.get('warnings') or [])

    # Without get on nodes/proxy: one request, HTTP 403, UNKNOWN with the API server's text, the task does not fail.
    diagnose = data['diagnose']
    assert diagnose.get('failed') is not True and diagnose['probed'] == 1 and diagnose['api_calls']['kube'] == 1
    assert diagnose['request_errors'][0]['kind'] == 'forbidden'
    assert 'cannot get resource "nodes/proxy"' in diagnose['request_errors'][0]['error']
    assert len(diagnose['not_probed']) == 6 and diagnose['unreachable_nodes'] == []
    finding = diagnose['finding']
    assert finding['status'] == 'unknown' and finding['affected_nodes'] == []
    assert 'cannot get resource "nodes/proxy"' in finding['summary'] and 'aks-tunnel-diagnose-kubelet-proxy.yaml' in finding['summary']


ROLE_TASKS = '''
- hosts: localhost
  gather_facts: false
  module_defaults:
    group/aks.tunnel.azure: "{{ aks_tunnel_azure_auth }}"
    group/aks.tunnel.kubernetes: {kubeconfig: "{{ aks_tunnel_kubeconfig }}"}
  vars:  # the role's defaults (the task file is included on its own here)
    aks_tunnel_api_timeout: 60
    aks_tunnel_apiserver_probe_max_nodes: 0
    aks_tunnel_apiserver_probe_concurrency: 20
  tasks:
    - name: Cluster model
      aks.tunnel.aks_cluster_info: {resource_group: "{{ aks_tunnel_resource_group }}", name: "{{ aks_tunnel_cluster_name }}"}
      register: aks_tunnel_model
    - {name: No evidence yet, ansible.builtin.set_fact: {aks_tunnel_evidence: {}}}
    - name: The role's apiserver source, skipped
      ansible.builtin.include_tasks: {file: "{{ tasks_file }}"}
      vars: {aks_tunnel_apiserver_probe: false}
    - name: Keep what the skipped run left
      ansible.builtin.set_fact:
        skipped_evidence: "{{ aks_tunnel_evidence }}"
    - name: The role's apiserver source, run
      ansible.builtin.include_tasks: {file: "{{ tasks_file }}"}
      vars: {aks_tunnel_apiserver_probe: true}
    - name: Dump
      ansible.builtin.copy:
        dest: "{{ out }}"
        content: "{{ {'skipped': skipped_evidence, 'run': aks_tunnel_evidence} | to_json }}"
'''


def test_role_source_runs_the_module_on_the_model_and_honours_the_skip_variable(lab, tmp_path):
    tasks_file = os.path.join(ROOT, 'ansible_collections', 'aks', 'tunnel', 'roles', 'diagnose', 'tasks', 'apiserver.yml')
    data = run_playbook(tmp_path, ROLE_TASKS, lab.vars_file, {'tasks_file': tasks_file})
    # aks_tunnel_apiserver_probe: false - the module is not called, the evidence gets nothing
    assert data['skipped'] == {}
    result = data['run']['apiserver']
    # 7 requests: one per node, no node list (the role passes cluster_model)
    assert result.get('finding', {}).get('status') == 'problem' and result['probed'] == 7 and result['api_calls']['kube'] == 7, result


ONLY_PROBE = '''
- hosts: localhost
  gather_facts: false
  tasks:
    - name: Every kubelet through the API server
      aks.tunnel.kubelet_apiserver_probe:
        resource_group: "{{ aks_tunnel_resource_group }}"
        name: "{{ aks_tunnel_cluster_name }}"
        kubeconfig: "{{ aks_tunnel_kubeconfig }}"
      register: probe
    - name: Dump
      ansible.builtin.copy:
        dest: "{{ out }}"
        content: "{{ probe | to_json }}"
'''


def test_without_a_tunnel_no_node_is_called_unreachable(lab, tmp_path):
    """No konnectivity agent: the API server has no tunnel ('No agent available'). That is not a path or kubelet fault of any
    node, so no node is listed unreachable (the report's network path rule would blame the network) and the finding is
    UNKNOWN, not OK. Runs last: it removes the agents (and the autoscaler ConfigMap, so nothing scales them back)."""
    import yaml  # pylint: disable=import-outside-toplevel
    from kubernetes import client, config  # pylint: disable=import-outside-toplevel
    with open(lab.vars_file, encoding='utf-8') as handle:
        kubeconfig = yaml.safe_load(handle)['aks_tunnel_kubeconfig']
    api_client = config.new_client_from_config(config_file=kubeconfig)
    client.CoreV1Api(api_client).delete_namespaced_config_map('konnectivity-agent-autoscaler', 'kube-system')
    client.AppsV1Api(api_client).patch_namespaced_deployment_scale('konnectivity-agent', 'kube-system', {'spec': {'replicas': 0}})
    result = run_playbook(tmp_path, ONLY_PROBE, lab.vars_file, {})
    assert result['probed'] == 7 and result['reached'] == 0 and result['by_kind'] == {'no_agent': 7}, result
    assert result['unreachable_nodes'] == [] and len(result['no_tunnel_nodes']) == 7
    assert result['no_tunnel_nodes'][0]['error'] == 'error trying to reach service: No agent available'
    finding = result['finding']
    assert (finding['status'], finding['affected_nodes']) == ('unknown', [])
    assert 'no tunnel to the nodes (error trying to reach service: No agent available)' in finding['summary']
