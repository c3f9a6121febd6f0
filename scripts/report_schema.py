# -*- coding: utf-8 -*-
# Copyright (c) 2026 aks.tunnel contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Write docs/report.schema.json, the JSON Schema of report.json (v1), from the cause registry (issue 18).

    PYTHONPATH=.tmp/dev .venv/bin/python scripts/report_schema.py

Run it after adding a cause or a remediation key to plugins/module_utils/_causes.py:
tests/unit/plugins/module_utils/test_report_schema.py fails while the file differs from what this writes. The
types of the remediation keys are below (KEY_TYPES); a key without one is documented, not typed.
"""

from __future__ import annotations

import json
import os
import sys

from ansible_collections.aks.tunnel.plugins.module_utils import _report
from ansible_collections.aks.tunnel.plugins.module_utils._causes import CAUSES, STATUSES

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'docs', 'report.schema.json')
STR = {'type': 'string'}
STRS = {'type': 'array', 'items': {'type': 'string'}}
INT = {'type': 'integer'}
INT_OR_NULL = {'type': ['integer', 'null']}
STR_OR_NULL = {'type': ['string', 'null']}
NODES = {'type': 'array', 'items': STR, 'description': 'node (computer) names the remediation applies to'}
SUMMARY = {'type': 'string', 'description': 'what to change, for people (every remediation may carry it)'}
NODE_RULES = {'type': 'object', 'additionalProperties': {'type': 'array'}}


def obj(description, **extra):
    """An object schema with a description."""
    return dict({'type': 'object', 'description': description}, **extra)


def described(schema, description):
    return dict(schema, description=description)


NSG_RULE = obj('the arguments of one aks.tunnel.nsg_port_rule call', required=['nsg'], properties={
    'resource_group': STR, 'nsg': STR, 'direction': {'enum': ['Inbound', 'Outbound']}, 'port': INT, 'protocol': STR,
    'destination_prefix': STR, 'blocking_rule': STR_OR_NULL, 'blocking_priority': INT_OR_NULL})
LADDER = obj('the arguments of aks.tunnel.konnectivity_ladder and what decides whether the live ladder must change', properties={
    'module': {'const': 'aks.tunnel.konnectivity_ladder'}, 'namespace': STR, 'configmap': STR, 'nodes_to_replicas': {'type': 'array'},
    'expected_replicas': INT_OR_NULL, 'live': {'type': 'object'}, 'counts': {'type': 'object'}, 'note': STR})
EGRESS_TARGET = obj('one egress target', properties={'kind': STR, 'host': STR, 'port': INT})

# cause -> (what its remediation is for, {key: JSON Schema of its value}); a registry key missing here is documented only.
KEY_TYPES = {
    'nsg_blocks_10250': (
        'Automatic repair with aks.tunnel.nsg_port_rule (roles/remediate/tasks/nsg.yml).', {
            'module': {'const': 'aks.tunnel.nsg_port_rule'},
            'nsg_rules': {'type': 'array', 'items': NSG_RULE,
                          'description': 'one Allow rule per NSG and direction that denies the flows, and the Deny it must sit above'}}),
    'ufw_blocks_10250': (
        'Automatic repair with aks.tunnel.node_firewall (roles/remediate/tasks/node_firewall.yml).', {
            'module': {'const': 'aks.tunnel.node_firewall'}, 'nodes': NODES,
            'ufw': {'enum': ['allow', 'disable'], 'description': 'the UFW action (aks_tunnel_ufw_action may override it)'}}),
    'iptables_blocks_10250': (
        'Automatic repair with aks.tunnel.node_firewall (roles/remediate/tasks/node_firewall.yml).', {
            'module': {'const': 'aks.tunnel.node_firewall'}, 'nodes': NODES, 'iptables': {'const': 'delete_blocking'},
            'iptables_rules': described(NODE_RULES, 'node name -> the blocking rules found on it')}),
    'egress_ports_blocked': (
        'Partial: an NSG or the owned Azure Firewall rule collection group is repaired; other firewalls, appliances and TLS '
        'inspection are advice.', {
            'module': {'const': 'aks.tunnel.nsg_port_rule'},
            'nsg_rules': {'type': 'array', 'items': NSG_RULE, 'description': 'one Outbound Allow rule per NSG that denies the egress'},
            'egress': {'type': 'array', 'items': EGRESS_TARGET, 'description': 'the tunnel egress targets the node probe tried'},
            # the egress route and the firewall behind it (egress_route_info, issue 16)
            'route': {'type': 'object', 'description': 'the route the egress takes to the API server (route table, name, prefix, next hop)',
                      'properties': {'label': STR, 'table': {'type': ['string', 'null']}, 'name': {'type': ['string', 'null']}, 'prefix': STR,
                                     'next_hop_type': STR, 'next_hop_ip': {'type': ['string', 'null']}}},
            'firewall': {'type': 'object', 'description': 'the Azure Firewall that denies a tunnel flow: the deciding rule per flow and '
                                                          'the owned rule collection group aks-tunnel-egress the repair adds (or why not)',
                         'properties': {'firewall': STR, 'policy': {'type': ['string', 'null']}, 'policy_id': {'type': ['string', 'null']},
                                        'module': {'const': 'aks.tunnel.azure_firewall_rule'}, 'rule_collection_group': STR,
                                        'priority': INT_OR_NULL, 'rules': {'type': ['array', 'null']}, 'refused': {'type': ['string', 'null']},
                                        'denied': {'type': 'array'}}},
            'appliance': {'type': 'object', 'description': 'a next hop that is no Azure Firewall: its IP and the exact allow to add',
                          'properties': {'appliance_ip': {'type': ['string', 'null']}, 'route': STR, 'allow': STRS}},
            # the nodes cannot resolve the API server FQDN (a private cluster's private DNS zone, issue 16)
            'dns': {'type': 'object', 'description': 'the API server FQDN the nodes cannot resolve and the private DNS zone to link',
                    'properties': {'host': STR, 'zone': {'type': ['string', 'null']}, 'zone_resource_group': {'type': ['string', 'null']},
                                   'vnet_ids': STRS,
                                   'links': {'type': 'array', 'description': "the zone's virtual network links as read (name, vnet, state)",
                                             'items': {'type': 'object'}},
                                   'links_error': {'type': 'string', 'description': 'why the virtual network links could not be read'}}},
            'commands': described(STRS, 'the exact az network private-dns link vnet create per node VNet')}),
    'snat_exhaustion': (
        'Automatic repair of the managed cluster outbound profile (roles/remediate/tasks/snat.yml); refuses what does not fit; '
        'a NAT gateway is advice.', {
            'allocated_outbound_ports': described(INT_OR_NULL, 'ports per node that cover the observed peak (null: no recommendation)'),
            'managed_outbound_ips': described(INT_OR_NULL, 'managed outbound IPs those ports need (more than today only when they must)'),
            'peak_ports': described(INT_OR_NULL, 'the highest SNAT ports in use by one backend'),
            'ips_needed': INT_OR_NULL, 'fits_current_ips': {'type': ['boolean', 'null']}, 'reason': STR,
            'advice': described(STRS, 'what to change by hand, the az command first')}),
    'konnectivity_agent_scaling': (
        'Partial: the ladder is repaired with aks.tunnel.konnectivity_ladder; memory limits and OOM kills are advice.', {
            'ladder': LADDER, 'deployment_resources': obj('the Deployment and container whose resources the advice is about'),
            'advice': STRS, 'caveat': STR}),
    'nft_blocks_10250': (
        'No automatic repair: the exact commands (Run Command per node).', {
            'nodes': NODES, 'nft_rules': described(NODE_RULES, 'node name -> the blocking nftables rules (family, table, chain, handle)'),
            'commands': STRS}),
    'kubelet_not_serving': (
        'No automatic repair: the exact commands to look at and restart the kubelet.', {'nodes': NODES, 'commands': STRS}),
    'network_path_blocks_10250': (
        'No automatic repair: the admin rules and routes that drop TCP 10250, and the commands to trace the path.', {
            'admin_rules': {'type': 'array', 'items': {'type': 'object'}, 'description': 'Virtual Network Manager admin rules that deny'},
            'routes': {'type': 'array', 'items': {'type': 'object'}, 'description': 'user routes to an appliance or to nowhere'},
            'pairs': {'type': 'array', 'items': {'type': ['object', 'string']}, 'description': 'sample node pairs that do not connect'},
            'commands': STRS}),
}

OUTCOME = {'enum': ['ok', 'problem', 'unknown', 'error'], 'description': (
    'error: the diagnosis could not run (see error; every cause unknown); problem: at least one cause is a problem; '
    'unknown: no problem, but a checked cause could not be decided; ok: every checked cause proven fine or not applicable')}
CLUSTER = {'type': 'object', 'additionalProperties': False, 'required': ['name', 'resource_group', 'tunnel_component', 'node_count', 'private'],
           'properties': {'name': STR_OR_NULL, 'resource_group': STR_OR_NULL,
                          'tunnel_component': described(STR_OR_NULL, 'konnectivity, tunnel-front or aks-link'),
                          'node_count': INT_OR_NULL, 'private': {'type': ['boolean', 'null']}}}
# outcome, error and problems agree (plugins/module_utils/_report.py build_report)
OUTCOME_RULES = [
    {'if': {'properties': {'outcome': {'const': 'error'}}}, 'then': {'properties': {'error': STR}},
     'else': {'properties': {'error': {'type': 'null'}}}},
    {'if': {'properties': {'outcome': {'const': 'problem'}}}, 'then': {'properties': {'problems': {'minItems': 1}}}},
    {'if': {'properties': {'outcome': {'enum': ['ok', 'unknown']}}}, 'then': {'properties': {'problems': {'maxItems': 0}}}},
    {'if': {'properties': {'outcome': {'const': 'ok'}}}, 'then': {'properties': {'unknown': {'maxItems': 0}}}},
]


def remediation_shapes():
    """($defs entries remediation_<cause>, the finding's if/then branch per cause)."""
    defs, branches = {}, []
    for entry in CAUSES:
        description, types = KEY_TYPES.get(entry.id, ('', {}))
        properties = {'summary': SUMMARY}
        properties.update((key, types.get(key, {'description': 'see docs/causes.md'})) for key in entry.remediation_keys)
        name = 'remediation_' + entry.id
        defs[name] = {'type': 'object', 'properties': properties, 'propertyNames': {'enum': list(properties)},
                      'description': (description + ' The keys of a PROBLEM finding (docs/causes.md); other statuses carry at '
                                      'most some of them.').strip()}
        branches.append({'if': {'properties': {'cause': {'const': entry.id}}},
                         'then': {'properties': {'remediation': {'$ref': '#/$defs/' + name}}}})
    return defs, branches


def build_schema():
    """The schema document (a dict)."""
    cause_ids = [c.id for c in CAUSES]
    defs, branches = remediation_shapes()
    finding = {
        'type': 'object', 'additionalProperties': False, 'allOf': branches,
        'required': ['cause', 'status', 'summary', 'affected_nodes', 'evidence', 'remediation'],
        'properties': {
            'cause': {'$ref': '#/$defs/cause'}, 'status': {'enum': list(STATUSES)},
            'summary': described(STR, 'one line; for unknown the reason it could not be decided'),
            'affected_nodes': {'type': 'array', 'items': STR, 'uniqueItems': True}, 'evidence': STRS,
            'remediation': obj('empty unless there is something to change; shape per cause: $defs/remediation_<cause>')}}
    stats = {'type': 'object', 'additionalProperties': False, 'required': list(_report.STATS_KEYS),
             'properties': dict((key, {'type': ['number' if key.endswith('_s') else 'integer', 'null']}) for key in _report.STATS_KEYS)}
    return {
        '$schema': 'https://json-schema.org/draft/2020-12/schema',
        '$id': 'https://github.com/aks-tunnel/aks.tunnel/blob/main/docs/report.schema.json',
        'title': 'aks.tunnel diagnosis report (report.json), version 1',
        'description': ('Written by the aks.tunnel.report role (plugins/module_utils/_report.py build_report); docs/report.md describes it. '
                        'scripts/report_schema.py writes this file from the cause registry.'),
        'type': 'object', 'additionalProperties': False, 'allOf': OUTCOME_RULES,
        'required': ['schema', 'generated_at', 'outcome', 'error', 'cluster', 'findings', 'problems', 'unknown', 'stats'],
        'properties': {
            'schema': {'const': _report.SCHEMA},
            'generated_at': described(STR_OR_NULL, 'UTC time the report was written, e.g. 2026-11-25T21:07:52Z'),
            'outcome': OUTCOME,
            'error': described(STR_OR_NULL, 'why the diagnosis could not run; null when it ran'),
            'cluster': CLUSTER,
            'findings': {'type': 'array', 'description': 'exactly one finding per cause, in the registry order', 'items': False,
                         'minItems': len(cause_ids), 'maxItems': len(cause_ids),
                         'prefixItems': [{'$ref': '#/$defs/finding', 'properties': {'cause': {'const': c}}} for c in cause_ids]},
            'problems': {'type': 'array', 'items': {'$ref': '#/$defs/cause'}, 'uniqueItems': True,
                         'description': 'the causes whose status is problem, in report order'},
            'unknown': {'type': 'array', 'items': {'$ref': '#/$defs/cause'}, 'uniqueItems': True,
                        'description': 'the checked causes whose status is unknown (causes not checked in this run are not listed)'},
            'stats': stats},
        '$defs': dict({'cause': {'enum': cause_ids}, 'finding': finding}, **defs),
    }


def main():
    text = json.dumps(build_schema(), indent=1) + '\n'
    with open(OUT, 'w', encoding='utf-8') as handle:
        handle.write(text)
    print('wrote %s' % os.path.normpath(OUT))
    return 0


if __name__ == '__main__':
    sys.exit(main())
