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
NODES = {'type': 'array', 'items': {'type': 'string'}, 'description': 'node (computer) names the remediation applies to'}
SUMMARY = {'type': 'string', 'description': 'what to change, for people (every remediation may carry it)'}


def obj(desc, **extra):
    d = {'type': 'object', 'description': desc}
    d.update(extra)
    return d


INT_OR_NULL = {'type': ['integer', 'null']}
EGRESS_DESCRIPTION = ('Partial: an NSG that denies the egress is repaired with aks.tunnel.nsg_port_rule (Outbound); '
                      'a firewall or TLS inspection outside Azure is advice only.')
# cause -> (what its remediation is for, {key: JSON Schema of its value})
KEY_TYPES = {
 'nsg_blocks_10250': ('Automatic repair with aks.tunnel.nsg_port_rule (roles/remediate/tasks/nsg.yml).', {
   'module': {'const': 'aks.tunnel.nsg_port_rule'},
   'nsg_rules': {'type': 'array', 'description': 'one Allow rule per NSG and direction that denies the flows: where it goes and the Deny it must sit above',
                 'items': obj('the arguments of one aks.tunnel.nsg_port_rule call', required=['nsg'], properties={
                     'resource_group': STR, 'nsg': STR, 'direction': {'enum': ['Inbound', 'Outbound']}, 'port': {'type': 'integer'},
                     'blocking_rule': {'type': ['string', 'null']}, 'blocking_priority': {'type': ['integer', 'null']}})}}),
 'ufw_blocks_10250': ('Automatic repair with aks.tunnel.node_firewall (roles/remediate/tasks/node_firewall.yml).', {
   'module': {'const': 'aks.tunnel.node_firewall'}, 'nodes': NODES,
   'ufw': {'enum': ['allow', 'disable'], 'description': 'the UFW action (aks_tunnel_ufw_action may override it)'}}),
 'iptables_blocks_10250': ('Automatic repair with aks.tunnel.node_firewall (roles/remediate/tasks/node_firewall.yml).', {
   'module': {'const': 'aks.tunnel.node_firewall'}, 'nodes': NODES,
   'iptables': {'const': 'delete_blocking'},
   'iptables_rules': obj('node name -> the blocking rules found on it (full iptables-save specs and where they sit)',
                         additionalProperties={'type': 'array'})}),
 'egress_ports_blocked': (EGRESS_DESCRIPTION, {
   'module': {'const': 'aks.tunnel.nsg_port_rule'},
   'nsg_rules': {'type': 'array', 'items': obj('one Outbound Allow rule to add', required=['nsg'], properties={
       'resource_group': STR, 'nsg': STR, 'direction': {'const': 'Outbound'}, 'port': {'type': 'integer'}, 'protocol': STR,
       'destination_prefix': STR, 'blocking_rule': {'type': ['string', 'null']}, 'blocking_priority': {'type': ['integer', 'null']}})},
   'egress': {'type': 'array', 'description': 'the tunnel egress targets the node probe tried',
              'items': obj('one egress target', properties={'kind': STR, 'host': STR, 'port': {'type': 'integer'}})}}),
 'snat_exhaustion': ('Automatic repair of the managed cluster outbound profile (roles/remediate/tasks/snat.yml); refuses what does not fit.', {
   'allocated_outbound_ports': dict(INT_OR_NULL, description='ports per node that cover the observed peak (null: no recommendation)'),
   'managed_outbound_ips': dict(INT_OR_NULL, description='managed outbound IPs those ports need (more than today only when they must)'),
   'peak_ports': dict(INT_OR_NULL, description='the highest SNAT ports in use by one backend'),
   'ips_needed': INT_OR_NULL,
   'fits_current_ips': {'type': ['boolean', 'null']},
   'reason': STR, 'advice': dict(STRS, description='what to change by hand, the az command first')}),
 'konnectivity_agent_scaling': ('Partial: the ladder is repaired with aks.tunnel.konnectivity_ladder; memory limits and OOM kills are advice.', {
   'ladder': obj('the arguments of aks.tunnel.konnectivity_ladder and what decides whether the live ladder must change',
                 properties={'module': {'const': 'aks.tunnel.konnectivity_ladder'}, 'namespace': STR, 'configmap': STR,
                             'nodes_to_replicas': {'type': 'array'}, 'expected_replicas': {'type': ['integer', 'null']},
                             'live': {'type': 'object'}, 'counts': {'type': 'object'}, 'note': STR}),
   'deployment_resources': obj('the Deployment and container whose resources the advice is about'),
   'advice': STRS, 'caveat': STR}),
 'nft_blocks_10250': ('No automatic repair: the exact commands (Run Command per node).', {
   'nodes': NODES, 'nft_rules': obj('node name -> the blocking nftables rules (family, table, chain, handle, verdict)', additionalProperties={'type': 'array'}),
   'commands': STRS}),
 'kubelet_not_serving': ('No automatic repair: the exact commands to look at and restart the kubelet.', {
   'nodes': NODES, 'commands': STRS}),
 'network_path_blocks_10250': ('No automatic repair: the admin rules and routes that drop TCP 10250, and the commands to trace the path.', {
   'admin_rules': {'type': 'array', 'items': {'type': 'object'}, 'description': 'Virtual Network Manager security admin rules that deny'},
   'routes': {'type': 'array', 'items': {'type': 'object'}, 'description': 'user routes that send the traffic to an appliance or nowhere'},
   'pairs': {'type': 'array', 'items': {'type': ['object', 'string']}, 'description': 'sample (tunnel node, node) pairs that do not connect'},
   'commands': STRS}),
}


def build_schema():
    """The schema document (a dict)."""
    defs = {}
    branches = []
    for entry in CAUSES:
        cause = entry.id
        desc, props = KEY_TYPES.get(cause, ('', {}))
        name = 'remediation_' + cause
        p = {'summary': SUMMARY}
        p.update((key, props.get(key, {'description': 'see docs/causes.md'})) for key in entry.remediation_keys)
        defs[name] = {'type': 'object', 'description': desc + ' Keys of a PROBLEM finding (docs/causes.md); other statuses carry at most some of them.',
                      'properties': p, 'propertyNames': {'enum': list(p)}}
        branches.append({'if': {'properties': {'cause': {'const': cause}}}, 'then': {'properties': {'remediation': {'$ref': '#/$defs/' + name}}}})
    CAUSE_IDS = [c.id for c in CAUSES]
    schema = {
     '$schema': 'https://json-schema.org/draft/2020-12/schema',
     '$id': 'https://github.com/aks-tunnel/aks.tunnel/blob/main/docs/report.schema.json',
     'title': 'aks.tunnel diagnosis report (report.json), version 1',
     'description': 'Written by the aks.tunnel.report role (plugins/module_utils/_report.py build_report). docs/report.md describes it; '
                    'tests/unit/plugins/module_utils/test_report_schema.py keeps it in step with the cause registry.',
     'type': 'object',
     'required': ['schema', 'generated_at', 'outcome', 'error', 'cluster', 'findings', 'problems', 'unknown', 'stats'],
     'additionalProperties': False,
     'properties': {
      'schema': {'const': _report.SCHEMA},
      'generated_at': {'type': ['string', 'null'], 'description': 'UTC time the report was written, e.g. 2026-11-25T21:07:52Z'},
      'outcome': {'enum': ['ok', 'problem', 'unknown', 'error'], 'description':
                  'error: the diagnosis could not run (see error; every cause unknown); problem: at least one cause is a problem; '
                  'unknown: no problem, but a checked cause could not be decided; ok: every checked cause proven fine or not applicable'},
      'error': {'type': ['string', 'null'], 'description': 'why the diagnosis could not run; null when it ran'},
      'cluster': {'type': 'object', 'additionalProperties': False,
                  'required': ['name', 'resource_group', 'tunnel_component', 'node_count', 'private'],
                  'properties': {'name': {'type': ['string', 'null']}, 'resource_group': {'type': ['string', 'null']},
                                 'tunnel_component': {'type': ['string', 'null'], 'description': 'konnectivity, tunnel-front or aks-link'},
                                 'node_count': {'type': ['integer', 'null']}, 'private': {'type': ['boolean', 'null']}}},
      'findings': {'type': 'array', 'description': 'exactly one finding per cause, in the registry order',
                   'minItems': len(CAUSE_IDS), 'maxItems': len(CAUSE_IDS),
                   'prefixItems': [{'$ref': '#/$defs/finding', 'properties': {'cause': {'const': c}}} for c in CAUSE_IDS],
                   'items': False},
      'problems': {'type': 'array', 'items': {'$ref': '#/$defs/cause'}, 'uniqueItems': True,
                   'description': 'the causes whose status is problem, in report order'},
      'unknown': {'type': 'array', 'items': {'$ref': '#/$defs/cause'}, 'uniqueItems': True,
                  'description': 'the checked causes whose status is unknown (causes not checked in this run are not listed)'},
      'stats': {'type': 'object', 'additionalProperties': False,
                'required': list(_report.STATS_KEYS),
                'properties': {'run_commands': {'type': ['integer', 'null']}, 'arm_calls': {'type': ['integer', 'null']},
                               'kube_calls': {'type': ['integer', 'null']}, 'throttled': {'type': ['integer', 'null']},
                               'retries': {'type': ['integer', 'null']}, 'retry_wait_s': {'type': ['number', 'null']},
                               'duration_s': {'type': ['number', 'null']}}},
     },
     'allOf': [
      {'if': {'properties': {'outcome': {'const': 'error'}}}, 'then': {'properties': {'error': {'type': 'string'}}},
       'else': {'properties': {'error': {'type': 'null'}}}},
      {'if': {'properties': {'outcome': {'const': 'problem'}}}, 'then': {'properties': {'problems': {'minItems': 1}}}},
      {'if': {'properties': {'outcome': {'enum': ['ok', 'unknown']}}}, 'then': {'properties': {'problems': {'maxItems': 0}}}},
      {'if': {'properties': {'outcome': {'const': 'ok'}}}, 'then': {'properties': {'unknown': {'maxItems': 0}}}},
     ],
     '$defs': dict({
      'cause': {'enum': CAUSE_IDS},
      'finding': {'type': 'object', 'additionalProperties': False,
                  'required': ['cause', 'status', 'summary', 'affected_nodes', 'evidence', 'remediation'],
                  'properties': {'cause': {'$ref': '#/$defs/cause'},
                                 'status': {'enum': list(STATUSES)},
                                 'summary': {'type': 'string', 'description': 'one line; for unknown the reason it could not be decided'},
                                 'affected_nodes': {'type': 'array', 'items': {'type': 'string'}, 'uniqueItems': True},
                                 'evidence': {'type': 'array', 'items': {'type': 'string'}},
                                 'remediation': {'type': 'object',
                                                 'description': 'empty unless there is something to change; shape per cause: $defs/remediation_<cause>'}},
                  'allOf': branches},
     }, **defs),
    }
    return schema


def main():
    text = json.dumps(build_schema(), indent=1) + '\n'
    with open(OUT, 'w', encoding='utf-8') as handle:
        handle.write(text)
    print('wrote %s' % os.path.normpath(OUT))
    return 0


if __name__ == '__main__':
    sys.exit(main())
