# -*- coding: utf-8 -*-
# Copyright (c) 2026 aks.tunnel contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The `cluster_model` option: given the registered aks_cluster_info result, a module reads neither the cluster, its
instances and NICs, nor the Kubernetes nodes again, and returns what it returns standalone; anything else is refused."""

from __future__ import annotations

import copy

import pytest

from ansible_collections.aks.tunnel.plugins.module_utils import _cluster_model
from ansible_collections.aks.tunnel.plugins.modules import konnectivity_agent_info
from ansible_collections.aks.tunnel.plugins.modules import konnectivity_ladder
from ansible_collections.aks.tunnel.plugins.modules import nsg_port_check
from ansible_collections.aks.tunnel.plugins.modules import snat_usage_info
from ansible_collections.aks.tunnel.tests.unit.plugins.modules import test_konnectivity_ladder as ladder_tests
from ansible_collections.aks.tunnel.tests.unit.plugins.modules import test_snat_usage_info as snat_tests
from ansible_collections.aks.tunnel.tests.unit.plugins.modules.conftest import AZURE_ARGS, run_module

VMSS = '/subscriptions/sub/resourceGroups/MC_rg_aks_westeurope/providers/Microsoft.Compute/virtualMachineScaleSets/aks-pool-vmss'


def registered_model(raw_cluster, kube_nodes, pods=None, ips=None):
    """What `register:` holds after aks_cluster_info on this cluster (assembled by the real code, plus the task keys)."""
    ips = ips or {}
    names = sorted(n['metadata']['name'] for n in kube_nodes)
    vms = [{'id': VMSS + '/virtualMachines/%d' % i, 'instanceId': str(i), 'properties': {'osProfile': {'computerName': name}}}
           for i, name in enumerate(names)]
    nics = [{'id': vm['id'] + '/networkInterfaces/nic', 'properties': {'virtualMachine': {'id': vm['id']}, 'ipConfigurations': [
        {'properties': {'primary': True, 'privateIPAddress': ips.get(name, '10.9.0.%d' % (4 + i))}}]}}
        for i, (vm, name) in enumerate(zip(vms, names))]
    azure = {'cluster': raw_cluster, 'scale_sets': [{'name': 'aks-pool-vmss', 'id': VMSS, 'tags': {'aks-managed-poolName': 'pool'}}],
             'vms': {'aks-pool-vmss': vms}, 'nics': {'aks-pool-vmss': nics}, 'subnets': {}, 'vnets': {}}
    model = _cluster_model.assemble(azure, {'nodes': kube_nodes, 'pods': {'konnectivity': pods or []}})
    return dict(copy.deepcopy(model), changed=False, failed=False, api_calls={'arm': 8, 'kube': 2})


def test_snat_usage_info_takes_cluster_and_backend_names_from_the_model(fake_azure, capsys):
    snat_tests.seed(fake_azure, used={'10.240.0.4': 1024, '10.240.0.5': 200}, failed={'10.240.0.4': 37})
    alone = run_module(snat_usage_info.main, dict(AZURE_ARGS), capsys)
    calls_alone = [c[0] for c in fake_azure.calls]
    nodes = [{'metadata': {'name': name}, 'spec': {}, 'status': {'allocatable': {'cpu': '2'}}} for name in snat_tests.IPS.values()]
    model = registered_model(fake_azure.cluster, nodes, ips=dict((v, k) for k, v in snat_tests.IPS.items()))
    del fake_azure.calls[:]
    shared = run_module(snat_usage_info.main, dict(AZURE_ARGS, cluster_model=model), capsys)
    assert calls_alone == ['get', 'metrics', 'metrics', 'vmss_list'] and [c[0] for c in fake_azure.calls] == ['metrics', 'metrics']
    for key in ('cluster', 'nodes', 'finding', 'recommendation', 'capacity', 'worst'):
        assert shared[key] == alone[key], key


def test_konnectivity_modules_take_the_nodes_and_agent_pods_from_the_model(fake_kube, capsys):
    ladder_tests.seed(fake_kube, node_count=7)
    fake_kube.nodes[0]['spec']['unschedulable'] = True
    fake_kube.pods = [{'metadata': {'name': 'konnectivity-agent-%d' % i, 'labels': {'app': 'konnectivity-agent'}},
                       'spec': {'nodeName': 'n%d' % i, 'containers': [{'name': 'konnectivity-agent'}]},
                       'status': {'phase': 'Running', 'conditions': [{'type': 'Ready', 'status': 'True'}]}} for i in range(2)]
    raw = {'id': '/subscriptions/sub/resourceGroups/rg/providers/Microsoft.ContainerService/managedClusters/aks', 'name': 'aks',
           'properties': {'nodeResourceGroup': 'MC_rg_aks_westeurope'}}
    model = registered_model(raw, copy.deepcopy(fake_kube.nodes), pods=copy.deepcopy(fake_kube.pods))
    for main in (konnectivity_ladder.main, konnectivity_agent_info.main):
        del fake_kube.calls[:]
        alone = run_module(main, {}, capsys)
        assert ('list_node', None) in fake_kube.calls
        del fake_kube.calls[:]
        shared = run_module(main, {'cluster_model': model}, capsys)
        assert [c for c in fake_kube.calls if c[0] in ('list_node', 'list_pod')] == []
        # the result does not echo the model (megabytes at 5000 nodes)
        assert shared['invocation']['module_args']['cluster_model'] == 'aks_cluster_info result of rg/aks (7 nodes)'
        assert shared['finding'] == alone['finding']
        for key in ('cluster', 'expected_replicas', 'pods', 'nodes', 'agent_nodes'):
            assert shared.get(key) == alone.get(key), key


def test_ladder_lists_the_nodes_when_the_autoscaler_counts_labelled_nodes_only(fake_kube, capsys):
    ladder_tests.seed(fake_kube, node_count=3)
    fake_kube.deployments['konnectivity-agent-autoscaler']['spec']['template']['spec']['containers'][0]['args'].append('--nodelabels=pool=a')
    raw = {'id': '/subscriptions/sub/resourceGroups/rg/providers/Microsoft.ContainerService/managedClusters/aks', 'name': 'aks',
           'properties': {'nodeResourceGroup': 'MC_rg_aks_westeurope'}}
    run_module(konnectivity_ladder.main, {'cluster_model': registered_model(raw, copy.deepcopy(fake_kube.nodes))}, capsys)
    assert ('list_node', None) in fake_kube.calls


def nsg_model():
    raw = {'id': '/subscriptions/sub/resourceGroups/rg/providers/Microsoft.ContainerService/managedClusters/aks', 'name': 'aks',
           'properties': {'nodeResourceGroup': 'MC_rg_aks_westeurope'}}
    return registered_model(raw, [{'metadata': {'name': 'n0'}, 'spec': {}, 'status': {}}])


@pytest.mark.parametrize('given, message', [
    ({'changed': False}, 'cluster_model is not a result of aks.tunnel.aks_cluster_info'),
    (dict(nsg_model(), model_version=1), 'cluster_model comes from another version of aks.tunnel.aks_cluster_info'),
    (dict(nsg_model(), failed=True, msg='HTTP 403'), 'cluster_model the aks.tunnel.aks_cluster_info task it comes from failed: HTTP 403'),
    ({'skipped': True, 'changed': False}, 'was skipped'),
])
def test_what_is_not_a_model_is_refused(monkeypatch, capsys, given, message):
    monkeypatch.setattr(_cluster_model, 'build_model', lambda *a, **k: pytest.fail('the cluster must not be read'))
    result = run_module(nsg_port_check.main, dict(AZURE_ARGS, cluster_model=given), capsys)
    assert result['failed'] is True and message in result['msg'], result['msg']


@pytest.mark.parametrize('option, value', [('name', 'other'), ('resource_group', 'rg2')])
def test_a_model_of_another_cluster_is_refused(monkeypatch, capsys, option, value):
    monkeypatch.setattr(_cluster_model, 'build_model', lambda *a, **k: pytest.fail('the cluster must not be read'))
    result = run_module(nsg_port_check.main, dict(AZURE_ARGS, cluster_model=nsg_model(), **{option: value}), capsys)
    assert result['failed'] is True
    assert result['msg'] == 'cluster_model is the model of cluster rg/aks, not of %s=%s' % (option, value)


def test_the_cluster_names_compare_case_insensitively():
    model = nsg_model()
    assert _cluster_model.check_model(model, 'RG', 'AKS') is model


def test_agent_info_given_the_ladders_replica_count_reads_no_autoscaler(fake_kube, capsys):
    ladder_tests.seed(fake_kube, node_count=3, replicas=1)
    result = run_module(konnectivity_agent_info.main, {'expected_replicas': 2}, capsys)
    assert not [c for c in fake_kube.calls if c[0] == 'read_configmap' or c[:2] == ('read_deployment', 'konnectivity-agent-autoscaler')]
    assert result['expected_replicas'] == 2
    assert 'konnectivity-agent has 1 replica(s), fewer than the 2 the ladder gives' in result['finding']['summary'] + ' '.join(
        result['finding']['evidence'])
