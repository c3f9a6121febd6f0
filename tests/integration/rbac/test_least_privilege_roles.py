# -*- coding: utf-8 -*-
# Copyright (c) 2026 aks.tunnel contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The shipped roles (rbac/) against the real modules and the lab emulators (control plane only, no root needed).

Each repair module works with the remediate role; the diagnose role and a remediate role without the one action or
verb the module needs get a clear HTTP 403 naming it, and nothing changes. The identities load the files themselves:
the ARM emulator reads rbac/azure/*.json (client `role_definition`), the Kubernetes emulator enforces the Role and
ClusterRole rules of rbac/kubernetes/*.yaml. The whole diagnose/remediate playbooks under these roles run in
test_least_privilege_lab.py.
"""

from __future__ import annotations

import copy
import json
import os
import secrets

import pytest

from ansible_collections.aks.tunnel.tests.integration.modules_konnectivity.playbook_runner import run_playbook
from ansible_collections.aks.tunnel.tests.lab import scenario
from ansible_collections.aks.tunnel.tests.lab.arm import ArmEmulator
from ansible_collections.aks.tunnel.tests.lab.arm.executor import NullExecutor
from ansible_collections.aks.tunnel.tests.lab.kube import KubeEmulator
from ansible_collections.aks.tunnel.tests.lab.kube import rbac as kube_rbac
from ansible_collections.aks.tunnel.tests.lab.kube.server import default_users

pytest.importorskip('azure.mgmt.containerservice')
pytest.importorskip('kubernetes')

RUNCOMMAND = 'Microsoft.Compute/virtualMachineScaleSets/virtualMachines/runCommand/action'
RULE_WRITE = 'Microsoft.Network/networkSecurityGroups/securityRules/write'
RULE_DELETE = 'Microsoft.Network/networkSecurityGroups/securityRules/delete'
CLUSTER_WRITE = 'Microsoft.ContainerService/managedClusters/write'
DOC_LADDER = [[1, 2], [100, 3], [250, 4], [500, 5], [1000, 6], [5000, 10]]


def _remediate_actions():
    with open(scenario.LAB_REMEDIATE_CLIENT['role_definition'], encoding='utf-8') as handle:
        return json.load(handle)['Actions']


def _without(action):
    """A client with the remediate role minus one action."""
    return {'client_id': 'without-' + action.replace('/', '-'), 'client_secret': secrets.token_urlsafe(12),
            'actions': [a for a in _remediate_actions() if a != action]}


@pytest.fixture
def arm_lab(tmp_path):
    spec = scenario.load('snat-exhaustion')
    missing = {action: _without(action) for action in (RUNCOMMAND, RULE_WRITE, RULE_DELETE, CLUSTER_WRITE)}
    # NullExecutor: nothing may run on this host even if a Run Command were (wrongly) authorized.
    lab = ArmEmulator(scenario.lab_config(spec, extra_clients=list(missing.values())), executor=NullExecutor(),
                      state_dir=str(tmp_path / 'arm')).start()
    common = {'subscription_id': lab.state.subscription_id, 'tenant': lab.state.tenant_id, 'arm_endpoint': lab.url,
              'authority_host': lab.url, 'ca_path': lab.ca_path}

    def auth(client):
        return dict(common, client_id=client['client_id'], secret=client['client_secret'])
    lab.diagnose = auth(scenario.LAB_DIAGNOSE_CLIENT)
    lab.remediate = auth(scenario.LAB_REMEDIATE_CLIENT)
    lab.without = {action: auth(client) for action, client in missing.items()}
    lab.topology = scenario.topology_of(spec)
    yield lab
    lab.stop()


def _forbidden(result, action):
    assert result.get('failed') is True, result
    assert 'HTTP 403' in result['msg'] and action in result['msg'], result['msg']
    assert result.get('changed') is False, result


def test_azure_repairs_work_with_the_remediate_role_and_each_missing_action_is_a_clear_403(arm_lab, tmp_path):
    lab = arm_lab
    node_rg = lab.topology['cluster']['node_resource_group']
    cluster = {'resource_group': lab.state.resource_group, 'name': lab.state.cluster_name}
    rule = {'resource_group': node_rg, 'nsg': lab.topology['nic_nsg']['name']}
    ports = dict(cluster, allocated_outbound_ports=2048)
    node = lab.topology['nodes'][0]['name']
    nsg_rule, outbound, firewall = 'aks.tunnel.nsg_port_rule', 'aks.tunnel.aks_outbound_ports', 'aks.tunnel.node_firewall'

    def task(module, auth, args, register, **extra):
        return dict({module: dict(auth, **args), 'register': register, 'ignore_errors': True}, **extra)
    tasks = [
        task(nsg_rule, lab.diagnose, rule, 'rule_diagnose'),
        task(nsg_rule, lab.without[RULE_WRITE], rule, 'rule_without_write'),
        task(nsg_rule, lab.remediate, rule, 'rule_check', check_mode=True),
        task(nsg_rule, lab.remediate, rule, 'rule_add'),
        task(nsg_rule, lab.without[RULE_DELETE], dict(rule, state='absent'), 'undo_without_delete'),
        task(nsg_rule, lab.remediate, dict(rule, state='absent'), 'undo'),
        task(outbound, lab.diagnose, ports, 'ports_diagnose'),
        task(outbound, lab.without[CLUSTER_WRITE], ports, 'ports_without_write'),
        task(outbound, lab.remediate, ports, 'ports'),
        task(firewall, lab.without[RUNCOMMAND], dict(cluster, nodes=[node], run_timeout=30), 'firewall_without_runcommand'),
    ]
    nsgs_before = lab.state.dump()['nsgs']
    results = run_playbook(tmp_path, tasks)

    _forbidden(results['rule_diagnose'], RULE_WRITE)
    _forbidden(results['rule_without_write'], RULE_WRITE)
    assert results['rule_check'].get('failed') is not True and results['rule_check']['changed'] is True, results['rule_check']
    assert results['rule_add'].get('failed') is not True and results['rule_add']['changed'] is True, results['rule_add']
    _forbidden(results['undo_without_delete'], RULE_DELETE)
    assert results['undo'].get('failed') is not True and results['undo']['changed'] is True, results['undo']
    nsgs_after = lab.state.dump()['nsgs']
    assert {i: sorted(r['name'] for r in n['rules']) for i, n in nsgs_after.items()} == \
        {i: sorted(r['name'] for r in n['rules']) for i, n in nsgs_before.items()}

    _forbidden(results['ports_diagnose'], CLUSTER_WRITE)
    _forbidden(results['ports_without_write'], CLUSTER_WRITE)
    assert results['ports'].get('failed') is not True and results['ports']['changed'] is True, results['ports']
    assert results['ports']['current']['allocated_outbound_ports'] == 2048

    firewall_result = json.dumps(results['firewall_without_runcommand'])
    assert 'HTTP 403' in firewall_result and RUNCOMMAND in firewall_result, firewall_result[:3000]
    assert results['firewall_without_runcommand'].get('changed') is False


def _kube_user(name, documents):
    return {'name': name, 'token': secrets.token_urlsafe(24), 'role': 'rbac', 'rbac': documents}


def _remediate_without(verb, resource):
    documents = copy.deepcopy(kube_rbac.shipped('remediate'))
    for doc in documents:
        for rule in doc['rules']:
            if resource in rule['resources'] and verb in rule['verbs']:
                rule['verbs'].remove(verb)
    return documents


@pytest.fixture
def kube_lab(tmp_path):
    spec = scenario.load('konnectivity-undersized')
    config = scenario.lab_config(spec)
    config['kube']['users'] = default_users() + [
        _kube_user('without-update', _remediate_without('update', 'configmaps')),
        _kube_user('without-delete', _remediate_without('delete', 'pods')),
    ]
    state = str(tmp_path / 'kube')
    lab = KubeEmulator(config, state_dir=state).start()
    lab.kubeconfigs = {user: lab.write_kubeconfig(os.path.join(state, 'kubeconfig-' + user), user)
                       for user in ('lab-diagnose', 'lab-remediate', 'without-update', 'without-delete')}
    yield lab
    lab.stop()


def test_kubernetes_roles_diagnose_reads_remediate_writes_only_what_is_named(kube_lab, tmp_path):
    lab = kube_lab
    kubeconfig = lab.kubeconfigs
    ladder, agents, restart = 'aks.tunnel.konnectivity_ladder', 'aks.tunnel.konnectivity_agent_info', 'aks.tunnel.tunnel_pod_restart'
    present = {'state': 'present', 'nodes_to_replicas': DOC_LADDER}
    restart_args = {'wait_timeout': 30, 'wait_sleep': 1}

    def task(module, user, args, register, **extra):
        return dict({module: dict(args, kubeconfig=kubeconfig[user]), 'register': register, 'ignore_errors': True}, **extra)
    before = copy.deepcopy(lab.store.get_copy('configmaps', 'kube-system', 'konnectivity-agent-autoscaler')['data'])
    pods_before = sorted(p['metadata']['name'] for p in lab.tunnel_pods())
    tasks = [
        task(ladder, 'lab-diagnose', {}, 'query'),
        task(agents, 'lab-diagnose', {}, 'agents'),
        task(ladder, 'lab-diagnose', {'configmap': 'coredns'}, 'other_configmap'),
        task(ladder, 'lab-diagnose', present, 'ladder_diagnose'),
        task(ladder, 'without-update', present, 'ladder_without_update'),
        task(restart, 'lab-diagnose', restart_args, 'restart_diagnose'),
        task(restart, 'without-delete', restart_args, 'restart_without_delete'),
        task(ladder, 'lab-remediate', present, 'ladder_check', check_mode=True),
        task(ladder, 'lab-remediate', dict(present, wait=True, wait_timeout=30), 'ladder'),
        task(ladder, 'lab-remediate', present, 'ladder_again'),
        task(restart, 'lab-remediate', restart_args, 'restart'),
    ]
    results = run_playbook(tmp_path, tasks)

    assert results['query'].get('failed') is not True, results['query']
    assert results['query']['finding']['status'] == 'problem'
    assert results['agents'].get('failed') is not True, results['agents']
    assert results['agents'].get('events_error') is None and results['agents'].get('metrics_error') is None, results['agents']
    # resourceNames: the diagnose role reads the ladder ConfigMap, not any other.
    other = results['other_configmap']
    assert other['failed'] is True and 'HTTP 403' in other['msg'] and 'configmaps "coredns" is forbidden' in other['msg'], other['msg']
    for name, verb, resource in (('ladder_diagnose', 'update', 'configmaps'), ('ladder_without_update', 'update', 'configmaps'),
                                 ('restart_diagnose', 'delete', 'pods'), ('restart_without_delete', 'delete', 'pods')):
        result = results[name]
        assert result['failed'] is True and 'HTTP 403' in result['msg'], (name, result)
        assert 'cannot %s resource "%s"' % (verb, resource) in result['msg'], (name, result['msg'])
    assert sorted(results['restart_diagnose']['pods_before']) == pods_before

    assert results['ladder_check']['changed'] is True
    assert results['ladder'].get('failed') is not True and results['ladder']['changed'] is True, results['ladder']
    assert results['ladder_again']['changed'] is False
    assert lab.store.get_copy('configmaps', 'kube-system', 'konnectivity-agent-autoscaler')['data'] != before
    restarted = results['restart']
    assert restarted.get('failed') is not True and restarted['changed'] is True, restarted
    assert {entry['old_pod'] for entry in restarted['restarted']} == set(restarted['pods_before'])
