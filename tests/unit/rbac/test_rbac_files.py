# -*- coding: utf-8 -*-
# Copyright (c) 2026 aks.tunnel contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The shipped least-privilege roles (rbac/) against every API call the modules make.

The calls are read from the plugin sources (AST): every Azure SDK operation and every Kubernetes client method. Each
must be in the tables below (a new call fails here until the table and the role files say what it needs), and:
- Azure: diagnose = Reader (`*/read`) + Run Command; remediate = `*/read` + exactly the non-read actions called.
- Kubernetes: the diagnose YAML allows every read call and nothing else; the remediate YAML allows every call except
  the documented exception (creating a missing ladder ConfigMap) and nothing else; ConfigMap and Deployment rules are
  limited by resourceNames to the names the modules read.
The lab (tests/lab) loads the same files for its diagnose/remediate identities; the lab tests prove they work.
"""

from __future__ import annotations

import ast
import glob
import json
import os
import re

import pytest
import yaml

from ansible_collections.aks.tunnel.plugins.module_utils import _konnectivity
from ansible_collections.aks.tunnel.tests.lab.arm import auth as arm_auth
from ansible_collections.aks.tunnel.tests.lab.arm import server as arm_server
from ansible_collections.aks.tunnel.tests.lab.kube import rbac as kube_rbac

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..', '..'))
PLUGIN_FILES = sorted(glob.glob(os.path.join(ROOT, 'plugins', 'modules', '*.py')) + glob.glob(os.path.join(ROOT, 'plugins', 'module_utils', '*.py')))
RUNCOMMAND = 'Microsoft.Compute/virtualMachineScaleSets/virtualMachines/runCommand/action'
# The network path check (network_path_info): two POST operations that only read, but are actions, not */read.
ADMIN_RULES = 'Microsoft.Network/virtualNetworks/listNetworkManagerEffectiveSecurityAdminRules/action'
EFFECTIVE_ROUTES = 'Microsoft.Network/networkInterfaces/effectiveRouteTable/action'
# Kubernetes access without a kubeconfig (issue 16): opt-in, in rbac/azure/aks-tunnel-kube-access.json (the admin credential
# only when asked for: kube_credential admin).
USER_CREDENTIAL = 'Microsoft.ContainerService/managedClusters/listClusterUserCredential/action'
ADMIN_CREDENTIAL = 'Microsoft.ContainerService/managedClusters/listClusterAdminCredential/action'
AKS_RUNCOMMAND = 'Microsoft.ContainerService/managedClusters/runCommand/action'
AZURE_OPT_IN = {USER_CREDENTIAL: 'kube-access', AKS_RUNCOMMAND: 'kube-access', ADMIN_CREDENTIAL: None}
# Operations on the NetworkManagementClient itself (no operations group): (CLIENT, method).
CLIENT = 'client'
CLIENT_OPERATIONS = frozenset(('list_network_manager_effective_security_admin_rules',))

# (SDK operations group, method) -> the ARM action it needs.
AZURE_SDK_ACTIONS = {
    ('managed_clusters', 'get'): 'Microsoft.ContainerService/managedClusters/read',
    ('managed_clusters', 'begin_create_or_update'): 'Microsoft.ContainerService/managedClusters/write',
    ('managed_clusters', 'list_cluster_user_credentials'): USER_CREDENTIAL,
    ('managed_clusters', 'list_cluster_admin_credentials'): ADMIN_CREDENTIAL,
    ('managed_clusters', 'begin_run_command'): AKS_RUNCOMMAND,
    ('virtual_machine_scale_sets', 'list'): 'Microsoft.Compute/virtualMachineScaleSets/read',
    ('virtual_machine_scale_set_vms', 'list'): 'Microsoft.Compute/virtualMachineScaleSets/virtualMachines/read',
    ('virtual_machine_scale_set_vms', 'begin_run_command'): RUNCOMMAND,
    ('network_interfaces', 'list_virtual_machine_scale_set_network_interfaces'): 'Microsoft.Compute/virtualMachineScaleSets/networkInterfaces/read',
    ('virtual_networks', 'get'): 'Microsoft.Network/virtualNetworks/read',
    # A private cluster's API server address: its kube-apiserver private endpoint and that endpoint's NIC (_private_endpoint; issue 16).
    ('private_endpoints', 'get'): 'Microsoft.Network/privateEndpoints/read',
    ('network_interfaces', 'get'): 'Microsoft.Network/networkInterfaces/read',
    ('subnets', 'get'): 'Microsoft.Network/virtualNetworks/subnets/read',
    # The NAT gateway of the node subnets and its prefixes (snat_usage_info; issue 16).
    ('nat_gateways', 'get'): 'Microsoft.Network/natGateways/read',
    ('nat_gateways', 'list'): 'Microsoft.Network/natGateways/read',
    ('public_ip_prefixes', 'get'): 'Microsoft.Network/publicIPPrefixes/read',
    ('network_security_groups', 'get'): 'Microsoft.Network/networkSecurityGroups/read',
    ('security_rules', 'get'): 'Microsoft.Network/networkSecurityGroups/securityRules/read',
    ('security_rules', 'begin_create_or_update'): 'Microsoft.Network/networkSecurityGroups/securityRules/write',
    ('security_rules', 'begin_delete'): 'Microsoft.Network/networkSecurityGroups/securityRules/delete',
    ('metrics', 'list'): 'Microsoft.Insights/metrics/read',
    ('network_interfaces', 'begin_get_effective_route_table'): EFFECTIVE_ROUTES,
    (CLIENT, 'list_network_manager_effective_security_admin_rules'): ADMIN_RULES,
    # The egress route and the Azure Firewall behind it (egress_route_info, azure_firewall_rule; issue 16).
    ('route_tables', 'get'): 'Microsoft.Network/routeTables/read',
    ('azure_firewalls', 'list_all'): 'Microsoft.Network/azureFirewalls/read',
    ('firewall_policies', 'get'): 'Microsoft.Network/firewallPolicies/read',
    ('firewall_policy_rule_collection_groups', 'list'): 'Microsoft.Network/firewallPolicies/ruleCollectionGroups/read',
    ('firewall_policy_rule_collection_groups', 'get'): 'Microsoft.Network/firewallPolicies/ruleCollectionGroups/read',
    ('firewall_policy_rule_collection_groups', 'begin_create_or_update'): 'Microsoft.Network/firewallPolicies/ruleCollectionGroups/write',
    ('firewall_policy_rule_collection_groups', 'begin_delete'): 'Microsoft.Network/firewallPolicies/ruleCollectionGroups/delete',
    ('ip_groups', 'get'): 'Microsoft.Network/ipGroups/read',
    ('service_tags', 'list'): 'Microsoft.Network/locations/serviceTags/read',
}
AZURE_OPERATION_GROUPS = frozenset(group for group, _method in AZURE_SDK_ACTIONS) | frozenset((
    'agent_pools', 'load_balancers', 'public_ip_addresses', 'metric_definitions', 'virtual_machines', 'load_balancer_outbound_rules'))

KUBE_NAMESPACE = _konnectivity.NAMESPACE
DEPLOYMENT_NAMES = tuple(name for _kind, name, _selector in _konnectivity.TUNNELS) + (_konnectivity.AUTOSCALER_DEPLOYMENT,)
CONFIGMAP_NAMES = (_konnectivity.DEFAULT_CONFIGMAP,)
# Kubernetes client method (custom objects: + group, plural) -> (verb, API group, resource, namespace or None, object names).
KUBE_CALLS = {
    ('list_node',): ('list', '', 'nodes', None, ()),
    ('list_namespaced_pod',): ('list', '', 'pods', KUBE_NAMESPACE, ()),
    ('delete_namespaced_pod',): ('delete', '', 'pods', KUBE_NAMESPACE, ()),
    ('list_namespaced_event',): ('list', '', 'events', 'default', ()),
    ('read_namespaced_deployment',): ('get', 'apps', 'deployments', KUBE_NAMESPACE, DEPLOYMENT_NAMES),
    ('read_namespaced_config_map',): ('get', '', 'configmaps', KUBE_NAMESPACE, CONFIGMAP_NAMES),
    ('replace_namespaced_config_map',): ('update', '', 'configmaps', KUBE_NAMESPACE, CONFIGMAP_NAMES),
    ('create_namespaced_config_map',): ('create', '', 'configmaps', KUBE_NAMESPACE, ()),
    ('list_namespaced_custom_object', 'metrics.k8s.io', 'pods'): ('list', 'metrics.k8s.io', 'pods', KUBE_NAMESPACE, ()),
    ('list_cluster_custom_object', 'metrics.k8s.io', 'nodes'): ('list', 'metrics.k8s.io', 'nodes', None, ()),
    ('connect_get_node_proxy_with_path',): ('get', '', 'nodes/proxy', None, ()),
}
# Called, deliberately not granted (rbac/kubernetes/aks-tunnel-remediate.yaml says why): AKS always has this ConfigMap.
NOT_GRANTED = {('create_namespaced_config_map',)}
# Granted only by the opt-in rbac/kubernetes/aks-tunnel-diagnose-kubelet-proxy.yaml: nodes/proxy reaches the kubelet API
# (exec on some versions), more than a diagnose role should carry by default (rbac/README.md).
OPT_IN = {('connect_get_node_proxy_with_path',): 'diagnose-kubelet-proxy'}
KUBE_API_CLASSES = ('CoreV1Api', 'AppsV1Api', 'CustomObjectsApi')
READ_VERBS = ('get', 'list')


def _tree(path):
    with open(path, encoding='utf-8') as handle:
        return ast.parse(handle.read(), path)


def _enclosing_calls(tree):
    parents = {}
    for node in ast.walk(tree):
        for child in ast.iter_child_nodes(node):
            parents[child] = node
    return parents


def azure_calls():
    """{(operations group, method): [file:line, ...]} of every Azure SDK operation call in the plugins."""
    found = {}
    for path in PLUGIN_FILES:
        tree = _tree(path)
        aliases = {}  # e.g. clusters = module.azure.containerservice.managed_clusters
        for node in ast.walk(tree):
            if isinstance(node, ast.Assign) and isinstance(node.value, ast.Attribute) and node.value.attr in AZURE_OPERATION_GROUPS:
                for target in node.targets:
                    if isinstance(target, ast.Name):
                        aliases[target.id] = node.value.attr
        for node in ast.walk(tree):
            if not isinstance(node, ast.Attribute):
                continue
            value = node.value
            group = value.attr if isinstance(value, ast.Attribute) else aliases.get(value.id) if isinstance(value, ast.Name) else None
            if node.attr in CLIENT_OPERATIONS:
                group = CLIENT
            if group in AZURE_OPERATION_GROUPS or group == CLIENT or node.attr.startswith('begin_'):
                found.setdefault((group, node.attr), []).append('%s:%d' % (os.path.relpath(path, ROOT), node.lineno))
    return found


def kube_calls():
    """{call key: [file:line, ...]} of every Kubernetes client method used in the plugins (called or passed to list_all)."""
    found = {}
    for path in PLUGIN_FILES:
        tree = _tree(path)
        parents = _enclosing_calls(tree)
        apis = {}
        for node in ast.walk(tree):
            if isinstance(node, ast.Assign) and isinstance(node.value, ast.Call) and isinstance(node.value.func, ast.Attribute) \
                    and re.match(r'^\w+Api$', node.value.func.attr) and node.value.func.attr != 'ApiClient':
                assert node.value.func.attr in KUBE_API_CLASSES, 'unknown Kubernetes API class %s in %s' % (node.value.func.attr, path)
                for target in node.targets:
                    apis[target.id] = node.value.func.attr
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in apis:
                key = (node.attr,)
                if node.attr.endswith('_custom_object'):
                    call = parents.get(node)
                    strings = [a.value for a in call.args if isinstance(a, ast.Constant) and isinstance(a.value, str)]
                    key = (node.attr, strings[0], strings[-1])
                found.setdefault(key, []).append('%s:%d' % (os.path.relpath(path, ROOT), node.lineno))
    return found


def azure_role(name):
    with open(os.path.join(ROOT, 'rbac', 'azure', 'aks-tunnel-%s.json' % name), encoding='utf-8') as handle:
        return json.load(handle)


def test_every_azure_call_is_known_and_named_as_the_lab_names_it():
    calls = azure_calls()
    unknown = {key: where for key, where in calls.items() if key not in AZURE_SDK_ACTIONS}
    assert not unknown, 'Azure SDK calls without a known action (add them to AZURE_SDK_ACTIONS and the roles in rbac/azure): %s' % unknown
    assert ('security_rules', 'begin_create_or_update') in calls and ('managed_clusters', 'begin_create_or_update') in calls
    emulator_actions = {route[5] for route in arm_server.ROUTES}
    assert set(AZURE_SDK_ACTIONS.values()) <= emulator_actions


@pytest.mark.parametrize('name', ['diagnose', 'remediate'])
def test_azure_role_files_are_custom_role_definitions(name):
    role = azure_role(name)
    assert set(role) == {'Name', 'IsCustom', 'Description', 'Actions', 'NotActions', 'DataActions', 'NotDataActions', 'AssignableScopes'}
    assert role['IsCustom'] is True and role['Name'] == 'aks.tunnel %s' % name
    assert role['DataActions'] == [] and role['NotDataActions'] == [] and role['NotActions'] == []
    assert 'root on every node' in role['Description'] or 'as root on every node' in role['Description']
    assert arm_auth.role_definition_actions(role) == (role['Actions'], [])


def test_azure_diagnose_is_reader_plus_run_command():
    assert azure_role('diagnose')['Actions'] == ['*/read', RUNCOMMAND, ADMIN_RULES, EFFECTIVE_ROUTES]
    assert {ADMIN_RULES, EFFECTIVE_ROUTES} <= {AZURE_SDK_ACTIONS[key] for key in azure_calls()}
    assert RUNCOMMAND in {AZURE_SDK_ACTIONS[key] for key in azure_calls()}


def test_azure_remediate_is_read_plus_exactly_the_non_read_actions_called():
    called = {AZURE_SDK_ACTIONS[key] for key in azure_calls()}
    actions = azure_role('remediate')['Actions']
    assert len(actions) == len(set(actions))
    assert set(actions) == {'*/read'} | {action for action in called if not action.endswith('/read') and action not in AZURE_OPT_IN}
    assert set(azure_role('diagnose')['Actions']) <= set(actions)
    reader = arm_auth.Principal('x', 'y', 'z', ['*/read'], [])
    assert all(reader.allowed(action) for action in called if action.endswith('/read'))


def test_azure_kube_access_role_is_exactly_the_opt_in_actions_called():
    role = azure_role('kube-access')
    called = {AZURE_SDK_ACTIONS[key] for key in azure_calls()}
    assert set(AZURE_OPT_IN) <= called
    assert role['Actions'] == sorted(action for action, name in AZURE_OPT_IN.items() if name == 'kube-access')
    assert role['IsCustom'] is True and role['NotActions'] == [] and role['DataActions'] == []
    assert 'cluster admin' in role['Description'] and arm_auth.role_definition_actions(role) == (role['Actions'], [])


def _kube_needed(include):
    """Atomic grants the selected calls need: (namespace or '*', group, resource, verb, name or None)."""
    needed = set()
    for key, (verb, group, resource, namespace, names) in KUBE_CALLS.items():
        if include(key, verb):
            for name in names or (None,):
                needed.add((namespace or '*', group, resource, verb, name))
    return needed


def test_every_kubernetes_call_is_known():
    calls = kube_calls()
    assert set(calls) == set(KUBE_CALLS), 'Kubernetes calls changed (update KUBE_CALLS and rbac/kubernetes): found %s' % calls


@pytest.mark.parametrize('name', ['diagnose', 'remediate'])
def test_kubernetes_files_are_roles_with_names_limited(name):
    path = os.path.join(ROOT, 'rbac', 'kubernetes', 'aks-tunnel-%s.yaml' % name)
    with open(path, encoding='utf-8') as handle:
        shipped = yaml.safe_load(handle)  # one document (ansible-test yamllint): a v1 List for kubectl apply -f
    assert (shipped['apiVersion'], shipped['kind']) == ('v1', 'List')
    documents = shipped['items']
    assert documents == kube_rbac.shipped(name)
    assert sorted((doc['kind'], doc['metadata'].get('namespace')) for doc in documents) == \
        [('ClusterRole', None), ('Role', 'default'), ('Role', KUBE_NAMESPACE)]
    for doc in documents:
        assert doc['metadata']['name'].startswith('aks-tunnel-%s' % name)
        for rule in doc['rules']:
            assert '*' not in rule['apiGroups'] + rule['resources'] + rule['verbs'], rule
            if set(rule['resources']) & {'configmaps', 'deployments'}:
                assert rule.get('resourceNames'), 'ConfigMap and Deployment rules must name their objects: %r' % rule
    configmaps = {n for g in kube_rbac.grants(documents) if g[2] == 'configmaps' for n in [g[4]]}
    deployments = {n for g in kube_rbac.grants(documents) if g[2] == 'deployments' for n in [g[4]]}
    assert configmaps == set(CONFIGMAP_NAMES) and deployments == set(DEPLOYMENT_NAMES)


@pytest.mark.parametrize('name, include', [
    ('diagnose', lambda key, verb: verb in READ_VERBS and key not in OPT_IN),
    ('remediate', lambda key, verb: key not in NOT_GRANTED and key not in OPT_IN),
    ('diagnose-kubelet-proxy', lambda key, verb: OPT_IN.get(key) == 'diagnose-kubelet-proxy'),
])
def test_kubernetes_role_covers_and_does_not_exceed_the_calls(name, include):
    documents = kube_rbac.shipped(name)
    for key, (verb, group, resource, namespace, names) in KUBE_CALLS.items():
        for object_name in names or (None if verb in ('list', 'create') else 'any-pod-name',):
            allowed = kube_rbac.allows(documents, verb, group, resource, namespace, object_name)
            assert allowed is bool(include(key, verb)), (name, key, object_name)
    assert kube_rbac.grants(documents) == _kube_needed(include)


@pytest.mark.parametrize('request_, allowed', [
    (('get', '', 'configmaps', 'kube-system', 'coredns'), False),  # other ConfigMaps stay unreadable
    (('update', '', 'configmaps', 'kube-system', 'konnectivity-agent-autoscaler'), True),
    (('patch', '', 'configmaps', 'kube-system', 'konnectivity-agent-autoscaler'), False),
    (('update', 'apps', 'deployments', 'kube-system', 'konnectivity-agent'), False),
    (('list', '', 'configmaps', 'kube-system', None), False),
    (('list', '', 'secrets', 'kube-system', None), False),
    (('delete', '', 'pods', 'default', 'x'), False),
    (('list', '', 'pods', 'default', None), False),
    (('get', '', 'pods', 'kube-system', 'x'), False),
    (('list', '', 'nodes', None, None), True),
])
def test_kubernetes_remediate_role_examples(request_, allowed):
    verb, group, resource, namespace, name = request_
    assert kube_rbac.allows(kube_rbac.shipped('remediate'), verb, group, resource, namespace, name) is allowed


def test_kubelet_proxy_opt_in_is_one_cluster_role_with_get_on_nodes_proxy_only():
    path = os.path.join(ROOT, 'rbac', 'kubernetes', 'aks-tunnel-diagnose-kubelet-proxy.yaml')
    with open(path, encoding='utf-8') as handle:
        shipped = yaml.safe_load(handle)
    assert (shipped['apiVersion'], shipped['kind']) == ('v1', 'List')
    documents = shipped['items']
    assert documents == kube_rbac.shipped('diagnose-kubelet-proxy')
    assert [(doc['kind'], doc['metadata']['name']) for doc in documents] == [('ClusterRole', 'aks-tunnel-diagnose-kubelet-proxy')]
    assert kube_rbac.grants(documents) == {('*', '', 'nodes/proxy', 'get', None)}
    # The shipped diagnose and remediate roles never reach the kubelet API.
    for name in ('diagnose', 'remediate'):
        assert not kube_rbac.allows(kube_rbac.shipped(name), 'get', '', 'nodes', None, 'any-node', 'proxy')
