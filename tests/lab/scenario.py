# -*- coding: utf-8 -*-
# Copyright (c) 2026 aks.tunnel contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Lab scenarios: load, validate (scenario.schema.json), resolve node references, derive emulator configs.

A scenario names a cluster, its pools, the faults injected into the data plane and the emulators, and
the causes a diagnosis is expected to find (`expect`). The catalogue lives in tests/lab/scenarios/.
"""

from __future__ import annotations

import copy
import json
import os
import re
import uuid

import jsonschema
import yaml

from .topology import DEFAULT_KUBERNETES_VERSION, TopologyError, build_topology

HERE = os.path.dirname(os.path.abspath(__file__))
SCENARIO_DIR = os.path.join(HERE, 'scenarios')
SCHEMA_PATH = os.path.join(HERE, 'scenario.schema.json')
CAUSES = ('nsg_blocks_10250', 'ufw_blocks_10250', 'iptables_blocks_10250', 'egress_ports_blocked',
          'snat_exhaustion', 'konnectivity_agent_scaling', 'nft_blocks_10250', 'kubelet_not_serving', 'network_path_blocks_10250',
          'apiserver_subnet_ports_blocked')
TUNNEL_KINDS = {'konnectivity': 'konnectivity', 'tunnel-front': 'tunnelfront', 'aks-link': 'aks-link'}
LAB_CLIENT = {'client_id': '5a1b0c2d-0000-4000-8000-00000000c0de', 'client_secret': 'lab-contributor-secret', 'role': 'contributor'}
LAB_READONLY_CLIENT = {'client_id': '5a1b0c2d-0000-4000-8000-0000000000ad', 'client_secret': 'lab-reader-secret', 'role': 'reader'}
# Least privilege: exactly the custom roles the collection ships (rbac/azure/*.json), read by the ARM emulator.
# diagnose = Reader plus Run Command on VMSS instances (the probes); remediate = diagnose plus the repairs' writes.
RUNCOMMAND_ACTION = 'Microsoft.Compute/virtualMachineScaleSets/virtualMachines/runCommand/action'
AZURE_RBAC_DIR = os.path.join(os.path.dirname(os.path.dirname(HERE)), 'rbac', 'azure')
LAB_DIAGNOSE_CLIENT = {'client_id': '5a1b0c2d-0000-4000-8000-0000000d1a90', 'client_secret': 'lab-diagnose-secret',
                       'role_definition': os.path.join(AZURE_RBAC_DIR, 'aks-tunnel-diagnose.json')}
LAB_REMEDIATE_CLIENT = {'client_id': '5a1b0c2d-0000-4000-8000-0000000e3ed1', 'client_secret': 'lab-remediate-secret',
                        'role_definition': os.path.join(AZURE_RBAC_DIR, 'aks-tunnel-remediate.json')}
DEFAULT_CONNECTIONS_PER_MIN = 60

_RULE_KEYS = ('description', 'priority', 'direction', 'access', 'protocol', 'source_address_prefix', 'source_address_prefixes',
              'destination_address_prefix', 'destination_address_prefixes', 'source_port_range', 'source_port_ranges',
              'destination_port_range', 'destination_port_ranges', 'source_application_security_groups',
              'destination_application_security_groups')


class ScenarioError(ValueError):
    """The scenario file is missing, unreadable or invalid; the message says where and how to fix it."""


def _schema():
    with open(SCHEMA_PATH, encoding='utf-8') as handle:
        return json.load(handle)


def available():
    """Names of the scenarios in the catalogue."""
    return sorted(f[:-5] for f in os.listdir(SCENARIO_DIR) if f.endswith('.yaml'))


def resolve_path(name_or_path):
    """A catalogue name (`healthy`) or a path to a YAML file."""
    if os.path.sep in name_or_path or name_or_path.endswith(('.yaml', '.yml')):
        path = name_or_path
    else:
        path = os.path.join(SCENARIO_DIR, name_or_path + '.yaml')
    if not os.path.isfile(path):
        raise ScenarioError('scenario %r not found (looked for %s); use a file path or one of: %s'
                            % (name_or_path, path, ', '.join(available())))
    return os.path.abspath(path)


def _where(error):
    return '/'.join(str(p) for p in error.absolute_path) or '(top level)'


def validate(data, source='scenario'):
    """Validate against the JSON schema and the cross-field rules; return a normalized deep copy."""
    if not isinstance(data, dict):
        raise ScenarioError('%s: the document must be a mapping (name, cluster, node_pools, ...), got %s' % (source, type(data).__name__))
    validator = jsonschema.Draft7Validator(_schema())
    errors = sorted(validator.iter_errors(data), key=lambda e: list(e.absolute_path))
    if errors:
        lines = ['%s: %s: %s' % (source, _where(e), e.message) for e in errors[:10]]
        raise ScenarioError('invalid scenario (see docs/lab.md for the schema):\n  ' + '\n  '.join(lines))
    scenario = copy.deepcopy(data)
    scenario['cluster'].setdefault('location', 'westeurope')
    scenario['cluster'].setdefault('tunnel', 'konnectivity')
    scenario['cluster'].setdefault('private', False)
    scenario['cluster'].setdefault('outbound_type', 'loadBalancer')
    faults = scenario.setdefault('faults', {})
    for key in ('nsg_rules', 'ufw', 'iptables', 'egress_blocked', 'kubelet_plain_http', 'kubelet_down', 'cannot_report', 'nft',
                'inspection_fails'):
        faults.setdefault(key, [])
    faults.setdefault('alpn_stripped', False)
    for key in ('admin_rules', 'routes', 'path_drop'):  # the path between nodes besides the NSGs (issue 12)
        faults.setdefault(key, [])
    for rule in faults['nsg_rules']:
        rule.setdefault('nsg', 'nic')
    for entry in faults['ufw']:
        entry.setdefault('enabled', True)
    for entry in faults['egress_blocked']:
        entry.setdefault('protocol', 'tcp')
        entry.setdefault('action', 'drop')
    scenario.setdefault('konnectivity', {})
    scenario.setdefault('snat', {})
    scenario.setdefault('dataplane', {})
    scenario.setdefault('expect', {'problems': []})
    scenario['expect'].setdefault('affected_nodes', [])
    try:
        topology = build_topology(scenario)
    except TopologyError as exc:
        raise ScenarioError('%s: %s' % (source, exc)) from None
    names = {}
    for node in topology['nodes']:
        names[node['name']] = node['name']
        names[node['short']] = node['name']

    def resolve(ref, where):
        if ref not in names:
            sample = ', '.join(n['short'] for n in topology['nodes'][:6])
            raise ScenarioError('%s: %s: no node %r in this cluster; use <pool>-<index> (e.g. %s) or the full node name'
                                % (source, where, ref, sample))
        return names[ref]

    for key in ('kubelet_plain_http', 'kubelet_down', 'cannot_report'):
        faults[key] = [resolve(ref, 'faults/%s' % key) for ref in faults[key]]
    for index, entry in enumerate(faults['ufw']):
        entry['node'] = resolve(entry['node'], 'faults/ufw/%d/node' % index)
    for index, entry in enumerate(faults['iptables']):
        entry['node'] = resolve(entry['node'], 'faults/iptables/%d/node' % index)
    for key in ('nft', 'inspection_fails'):
        for index, entry in enumerate(faults[key]):
            entry['node'] = resolve(entry['node'], 'faults/%s/%d/node' % (key, index))
    faults['path_drop'] = [resolve(ref, 'faults/path_drop') for ref in faults['path_drop']]
    for index, rule in enumerate(faults['admin_rules']):
        rule['destination_nodes'] = [resolve(ref, 'faults/admin_rules/%d/destination_nodes' % index) for ref in rule.get('destination_nodes') or []]
    if 'tunnel_nodes' in scenario:
        scenario['tunnel_nodes'] = [resolve(ref, 'tunnel_nodes') for ref in scenario['tunnel_nodes']]
    scenario['expect']['affected_nodes'] = sorted(resolve(ref, 'expect/affected_nodes') for ref in scenario['expect']['affected_nodes'])
    seen = set()
    for index, rule in enumerate(faults['nsg_rules']):
        key = (rule['nsg'], rule['direction'].lower(), rule['priority'])
        if key in seen:
            raise ScenarioError('%s: faults/nsg_rules/%d: two %s rules on the %s NSG use priority %d; priorities must be unique per direction'
                                % (source, index, rule['direction'], rule['nsg'], rule['priority']))
        seen.add(key)
    if isinstance(scenario['konnectivity'].get('ladder'), dict):
        scenario['konnectivity']['ladder'] = json.dumps(scenario['konnectivity']['ladder'], separators=(',', ':'))
    return scenario


def load(name_or_path):
    """Load a scenario by catalogue name or path; returns the validated, normalized scenario (with `source`)."""
    path = resolve_path(name_or_path)
    try:
        with open(path, encoding='utf-8') as handle:
            data = yaml.safe_load(handle)
    except (OSError, yaml.YAMLError) as exc:
        raise ScenarioError('cannot read scenario %s: %s' % (path, exc)) from None
    scenario = validate(data, source=os.path.basename(path))
    scenario['source'] = path
    return scenario


def topology_of(scenario):
    return build_topology(scenario)


def tunnel_kind(scenario):
    """konnectivity | tunnelfront | aks-link (the Kubernetes emulator's names)."""
    return TUNNEL_KINDS[scenario['cluster']['tunnel']]


def _ladder_replicas(ladder, nodes):
    """Replicas a CPA nodesToReplicas ladder gives for `nodes` (0 when the ladder is absent or unreadable)."""
    try:
        steps = json.loads(ladder).get('nodesToReplicas') or []
        return max([int(r) for n, r in steps if int(n) <= nodes] or [0])
    except (TypeError, ValueError, AttributeError):
        return 0


def tunnel_replicas(scenario, node_count=None):
    """Tunnel pods the cluster runs: konnectivity `replicas`, or more when the ladder asks for more (CPA scales up)."""
    if scenario['cluster']['tunnel'] == 'konnectivity':
        replicas = int(scenario['konnectivity'].get('replicas', 2))
        if node_count is not None and scenario['konnectivity'].get('ladder'):
            replicas = max(replicas, _ladder_replicas(scenario['konnectivity']['ladder'], node_count))
        return replicas
    return 1


def tunnel_nodes(scenario, topology=None):
    """Nodes that host the tunnel pods: `tunnel_nodes` or one per replica, round-robin over the pools (system pool first)."""
    if scenario.get('tunnel_nodes'):
        return list(scenario['tunnel_nodes'])
    topology = topology or build_topology(scenario)
    wanted = max(tunnel_replicas(scenario, len(topology['nodes'])), 1)
    by_pool = [[n['name'] for n in topology['nodes'] if n['pool'] == pool['name']] for pool in topology['pools']]
    faulty = set(faulty_nodes(scenario))
    # Prefer nodes without faults so the tunnel itself works; fall back to any node.
    by_pool = [[n for n in names if n not in faulty] or names for names in by_pool]
    chosen = []
    depth = 0
    while len(chosen) < wanted and any(depth < len(names) for names in by_pool):
        for names in by_pool:
            if depth < len(names) and len(chosen) < wanted:
                chosen.append(names[depth])
        depth += 1
    return chosen


def faulty_nodes(scenario):
    faults = scenario['faults']
    nodes = set(faults['kubelet_plain_http']) | set(faults['kubelet_down']) | set(faults['cannot_report'])
    nodes.update(entry['node'] for entry in faults['ufw'])
    nodes.update(entry['node'] for entry in faults['iptables'])
    nodes.update(faults.get('path_drop') or [])
    nodes.update(n for rule in faults.get('admin_rules') or [] for n in rule.get('destination_nodes') or [])
    nodes.update(entry['node'] for entry in faults['nft'] + faults['inspection_fails'])
    return sorted(nodes)


def expected(scenario):
    """What a diagnosis must report: {problems: sorted cause ids, affected_nodes: sorted node names[, unknown: sorted cause ids]}
    (`unknown` only when the scenario declares the causes it leaves undecided)."""
    result = {'problems': sorted(scenario['expect']['problems']), 'affected_nodes': list(scenario['expect']['affected_nodes'])}
    if 'unknown' in scenario['expect']:
        result['unknown'] = sorted(scenario['expect']['unknown'])
    return result


def _camel(key):
    return re.sub(r'_([a-z])', lambda m: m.group(1).upper(), key)


def arm_rule(rule):
    """A scenario NSG rule as ARM `{name, properties}` (camelCase, canonical enum spelling)."""
    props = {}
    for key in _RULE_KEYS:
        if key in rule:
            props[_camel(key)] = rule[key]
    props['direction'] = rule['direction'].capitalize()
    props['access'] = rule['access'].capitalize()
    protocol = rule['protocol']
    props['protocol'] = '*' if protocol.lower() in ('*', 'any') else protocol.capitalize()
    for side in ('source', 'destination'):
        if not any(k.startswith(side + 'PortRange') for k in props):
            props[side + 'PortRange'] = '*'
        if not any(k.startswith(side + 'Address') or k.startswith(side + 'Application') for k in props):
            props[side + 'AddressPrefix'] = '*'
    for key in ('sourcePortRange', 'destinationPortRange'):
        if isinstance(props.get(key), int):
            props[key] = str(props[key])
    for key in ('sourcePortRanges', 'destinationPortRanges'):
        if key in props:
            props[key] = [str(v) for v in props[key]]
    return {'name': rule['name'], 'properties': props}


CUSTOMER_SUBNET_NSG = 'customer-subnet-nsg'


AVNM_RESOURCE_GROUP = 'rg-avnm'
AVNM_DEFAULTS = {'network_manager': 'corp-nm', 'configuration': 'corp-security-admin', 'rule_collection': 'aks-nodes'}


def arm_admin_rule(rule, topology):
    """A scenario admin rule as one entry of listNetworkManagerEffectiveSecurityAdminRules (REST shape, the spec example's fields)."""
    names = dict((k, rule.get(k) or v) for k, v in AVNM_DEFAULTS.items())
    manager = '/subscriptions/%s/resourceGroups/%s/providers/Microsoft.Network/networkManagers/%s' % (
        topology['cluster']['subscription_id'], AVNM_RESOURCE_GROUP, names['network_manager'])
    ips = dict((n['name'], n['ip']) for n in topology['nodes'])
    destinations = list(rule.get('destinations') or []) + ['%s/32' % ips[n] for n in rule.get('destination_nodes') or []]

    def items(prefixes):
        out = []
        for prefix in prefixes or ['*']:
            kind = 'IPPrefix' if prefix == '*' or prefix[:1].isdigit() or ':' in prefix else 'ServiceTag'
            out.append({'addressPrefixType': kind, 'addressPrefix': prefix})
        return out

    props = {'description': 'lab admin rule %s' % rule['name'], 'protocol': rule.get('protocol', 'Tcp'), 'sources': items(rule.get('sources')),
             'destinations': items(destinations), 'sourcePortRanges': list(rule.get('source_ports') or ['0-65535']),
             'destinationPortRanges': list(rule.get('destination_ports') or ['0-65535']), 'direction': rule['direction'],
             'access': rule['access'], 'priority': rule['priority'], 'provisioningState': 'Succeeded',
             'resourceGuid': str(uuid.uuid5(uuid.NAMESPACE_URL, manager + rule['name']))}
    if rule.get('kind', 'Custom') == 'Default':
        props['flag'] = rule['name']
    rule_id = '%s/securityAdminConfigurations/%s/ruleCollections/%s/rules/%s' % (
        manager, names['configuration'], names['rule_collection'], rule['name'])
    return {'id': rule_id,
            'configurationDescription': 'lab security admin configuration', 'ruleCollectionDescription': 'lab rule collection',
            'ruleCollectionAppliesToGroups': [{'networkGroupId': manager + '/networkGroups/aks-vnets'}], 'kind': rule.get('kind', 'Custom'),
            'properties': props,
            'ruleGroups': [{'id': manager + '/networkGroups/aks-vnets',
                            'properties': {'description': 'the AKS node VNets', 'provisioningState': 'Succeeded'}}]}


def network_path_config(scenario, topology):
    """What the path between nodes holds besides the NSGs: admin rules (REST shape), user routes, unexplained drops (node IPs)."""
    faults = scenario['faults']
    ips = dict((n['name'], n['ip']) for n in topology['nodes'])
    return {
        'admin_rules': [arm_admin_rule(r, topology) for r in faults.get('admin_rules') or []],
        'routes': [dict(r, appliance_drops=list(r.get('appliance_drops') or [10250])) for r in faults.get('routes') or []],
        'path_drop': [ips[n] for n in faults.get('path_drop') or []],
    }


def lab_config(scenario, extra_clients=()):
    """The config dict both emulators take: topology spec + network/NSGs + LB profile + SNAT workload + kube + run-command faults.

    The SNAT metrics are the ARM emulator's workload model (`snat.demand_ports`, `snat.connections_per_min`): the
    emulator derives allocated/used ports and failed connections from the LB profile in effect over time, so raising
    allocatedOutboundPorts (aks_outbound_ports) ends the failures from that moment on.
    """
    topology = build_topology(scenario)
    cluster = dict(scenario['cluster'])
    cluster.setdefault('kubernetes_version', DEFAULT_KUBERNETES_VERSION)
    snat = scenario['snat']
    cluster['load_balancer_profile'] = {
        'managed_outbound_ip_count': int(snat.get('outbound_ips', 1)),
        'allocated_outbound_ports': int(snat.get('allocated_ports', 0)),
    }
    nic_rules = [arm_rule(r) for r in scenario['faults']['nsg_rules'] if r['nsg'] == 'nic']
    subnet_rules = [arm_rule(r) for r in scenario['faults']['nsg_rules'] if r['nsg'] == 'subnet']
    network = {'node_nsg_on': 'nic', 'nsgs': {topology['nic_nsg']['name']: {'security_rules': nic_rules}}}
    if subnet_rules:
        network['nsgs'][CUSTOMER_SUBNET_NSG] = {'resource_group': scenario['cluster']['resource_group'], 'security_rules': subnet_rules}
        network['subnet_nsg'] = CUSTOMER_SUBNET_NSG
    kind = tunnel_kind(scenario)
    konn = scenario['konnectivity']
    kube = {'tunnel': kind, 'version': cluster['kubernetes_version']}
    placement = tunnel_nodes(scenario, topology)
    if kind == 'konnectivity':
        spec = {'replicas': tunnel_replicas(scenario), 'nodes': placement}  # CPA scales it along the ladder
        for key in ('ladder', 'memory_limit', 'memory_request', 'cpu_request', 'restarts'):
            if key in konn:
                spec[key] = konn[key]
        spec['oom'] = [{'pod': ref, 'times': max(1, int(konn.get('restarts', 0)) or 1)} for ref in konn.get('oom_killed') or []]
        kube['konnectivity'] = spec
    elif kind == 'tunnelfront':
        kube['tunnelfront'] = {'nodes': placement}
    else:
        kube['aks_link'] = {'nodes': placement}
    kube.update(copy.deepcopy(scenario.get('kube') or {}))
    cluster['kubernetes_version'] = kube['version']  # one version for az aks show and kubectl version
    config = {
        'cluster': cluster,
        'node_pools': copy.deepcopy(scenario['node_pools']),
        'network': network,
        'metrics': {'workload': {'default': {
            'demand': int(snat.get('demand_ports', 0)),
            'connections_per_min': snat.get('connections_per_min', DEFAULT_CONNECTIONS_PER_MIN),
        }}},
        'kube': kube,
        'clients': [dict(LAB_CLIENT), dict(LAB_READONLY_CLIENT), dict(LAB_DIAGNOSE_CLIENT), dict(LAB_REMEDIATE_CLIENT)]
        + [dict(c) for c in extra_clients],
        'faults': [],
        'network_path': network_path_config(scenario, topology),
        # the system private DNS zone's link to the node VNet (fault private_dns_unlinked: none; providers/private_endpoint.py)
        'private_dns': {'linked': not scenario['faults'].get('private_dns_unlinked')},
    }
    for key, value in (scenario.get('arm') or {}).items():
        if isinstance(value, dict) and isinstance(config.get(key), dict):
            config[key] = dict(config[key], **value)
        elif isinstance(value, list) and isinstance(config.get(key), list):
            config[key] = config[key] + list(value)
        else:
            config[key] = copy.deepcopy(value)
    return config
