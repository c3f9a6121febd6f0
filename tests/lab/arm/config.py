# -*- coding: utf-8 -*-
# Copyright (c) 2026 aks.tunnel contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""JSON Schema of the ARM emulator config, and its validation (clear 'where + what' messages).

The config is scenario-shaped (`cluster` + `node_pools` feed `topology.build_topology`), so unknown
top-level and cluster/pool keys are allowed: other lab parts (Kubernetes emulator, data plane) read
the same scenario file.
"""

from __future__ import annotations

import jsonschema

from .common import LabConfigError

_METRIC_VALUE = {'oneOf': [{'type': 'number', 'minimum': 0}, {'type': 'array', 'items': {'type': 'number', 'minimum': 0}}]}
_METRIC_VALUES = {
    'type': 'object', 'additionalProperties': False,
    'properties': {'allocated': {'oneOf': [{'type': 'null'}, _METRIC_VALUE]}, 'used': _METRIC_VALUE, 'successful': _METRIC_VALUE,
                   'failed': _METRIC_VALUE, 'pending': _METRIC_VALUE},
}
_WORKLOAD_VALUES = {
    'type': 'object', 'additionalProperties': False,
    'properties': {'demand': {'type': 'number', 'minimum': 0}, 'connections_per_min': {'type': 'number', 'minimum': 0}},
}
# Static series ({"default", "nodes"}) or a workload model ({"workload": {"default", "nodes"}}) - not both.
METRICS_SCHEMA = {
    'type': 'object', 'additionalProperties': False,
    'properties': {
        'default': _METRIC_VALUES, 'nodes': {'type': 'object', 'additionalProperties': _METRIC_VALUES},
        'workload': {'type': 'object', 'additionalProperties': False,
                     'properties': {'default': _WORKLOAD_VALUES, 'nodes': {'type': 'object', 'additionalProperties': _WORKLOAD_VALUES}}},
    },
}
CONFIG_SCHEMA = {
    '$schema': 'http://json-schema.org/draft-07/schema#',
    'title': 'aks.tunnel lab ARM emulator config',
    'type': 'object',
    'required': ['cluster', 'node_pools'],
    'properties': {
        'cluster': {
            'type': 'object', 'required': ['name', 'resource_group'],
            'properties': {
                'name': {'type': 'string', 'minLength': 1}, 'resource_group': {'type': 'string', 'minLength': 1},
                'location': {'type': 'string'}, 'node_resource_group': {'type': 'string'},
                'subscription_id': {'type': 'string'}, 'tenant_id': {'type': 'string'},
                'vnet_prefix': {'type': 'string'}, 'subnet_prefix': {'type': 'string'},
                'private': {'type': 'boolean'}, 'tunnel': {'type': 'string'},
                'outbound_type': {'enum': ['loadBalancer', 'userDefinedRouting', 'managedNATGateway', 'userAssignedNATGateway', 'none']},
                'kubernetes_version': {'type': 'string'}, 'network_plugin': {'enum': ['azure', 'kubenet', 'none']},
                'network_plugin_mode': {'type': ['string', 'null']}, 'pod_cidr': {'type': 'string'},
                'enable_vnet_integration': {'type': 'boolean'}, 'enable_private_cluster_public_fqdn': {'type': 'boolean'},
                'byo_subnet': {'type': 'boolean'}, 'tags': {'type': 'object', 'additionalProperties': {'type': 'string'}},
                'load_balancer_profile': {
                    'type': 'object', 'additionalProperties': False,
                    'properties': {'managed_outbound_ip_count': {'type': 'integer', 'minimum': 1, 'maximum': 100},
                                   'allocated_outbound_ports': {'type': 'integer', 'minimum': 0, 'maximum': 64000, 'multipleOf': 8},
                                   'idle_timeout_in_minutes': {'type': 'integer', 'minimum': 4, 'maximum': 120}},
                },
            },
        },
        'node_pools': {
            'type': 'array', 'minItems': 1,
            'items': {'type': 'object', 'required': ['name', 'count'],
                      'properties': {'name': {'type': 'string'}, 'count': {'type': 'integer', 'minimum': 0}, 'vm_size': {'type': 'string'},
                                     'mode': {'enum': ['System', 'User']}, 'os_sku': {'type': 'string'},
                                     'max_count': {'type': ['integer', 'null'], 'minimum': 0}, 'min_count': {'type': 'integer', 'minimum': 0},
                                     'max_surge': {'type': ['string', 'integer']}, 'max_pods': {'type': 'integer', 'minimum': 10}}},
        },
        'clients': {
            'type': 'array',
            'items': {'type': 'object', 'required': ['client_id', 'client_secret'], 'additionalProperties': False,
                      'properties': {'client_id': {'type': 'string', 'minLength': 1}, 'client_secret': {'type': 'string', 'minLength': 1},
                                     'object_id': {'type': 'string'}, 'role': {'enum': ['owner', 'contributor', 'reader', 'none']},
                                     'actions': {'type': 'array', 'items': {'type': 'string'}},
                                     'not_actions': {'type': 'array', 'items': {'type': 'string'}},
                                     'role_definition': {'type': 'string', 'minLength': 1}}},
        },
        'network': {
            'type': 'object', 'additionalProperties': False,
            'properties': {
                'node_nsg_on': {'enum': ['nic', 'subnet', 'both']},
                'nsgs': {'type': 'object', 'additionalProperties': {
                    'type': ['object', 'null'], 'additionalProperties': False,
                    'properties': {'resource_group': {'type': 'string'}, 'security_rules': {'type': 'array', 'items': {'type': 'object'}}}}},
                'subnet_nsg': {'type': ['string', 'null']},
                'outbound_ip_addresses': {'type': 'array', 'items': {'type': 'string'}},
            },
        },
        'metrics': METRICS_SCHEMA,
        # the node subnet's NAT gateway and its metrics workload (providers/natgateway.py, issue 16)
        'nat_gateway': {
            'type': 'object', 'additionalProperties': False,
            'properties': {'name': {'type': 'string', 'minLength': 1}, 'resource_group': {'type': 'string', 'minLength': 1},
                           'public_ips': {'type': 'integer', 'minimum': 0, 'maximum': 16},
                           'public_ip_prefixes': {'type': 'array', 'items': {'type': 'integer', 'minimum': 28, 'maximum': 31}},
                           'idle_timeout_in_minutes': {'type': 'integer', 'minimum': 4, 'maximum': 120},
                           'workload': {'type': 'object', 'additionalProperties': False,
                                        'properties': {'concurrent_connections': {'type': 'number', 'minimum': 0},
                                                       'connections_per_min': {'type': 'number', 'minimum': 0}}}},
        },
        'faults': {'type': 'array', 'items': {'type': 'object', 'required': ['type']}},
        'executor': {'type': 'string'},
        'runcommand_latency_s': {'type': 'number', 'minimum': 0},
        'runcommand_timeout_s': {'type': 'number', 'exclusiveMinimum': 0},
        'lro_in_progress_polls': {'type': 'integer', 'minimum': 0},
        'lro_retry_after_ms': {'type': 'integer', 'minimum': 1},
        'lro_retry_after_max_ms': {'type': 'integer', 'minimum': 1},
        'lro_retry_after_s': {'type': 'integer', 'minimum': 0},
        'vmss_vm_page_size': {'type': 'integer', 'minimum': 1},
        'token_lifetime_s': {'type': 'integer', 'minimum': 60},
        'extra_api_versions': {'type': 'object', 'additionalProperties': {'type': 'array', 'items': {'type': 'string'}}},
    },
}


def _check(schema, document, prefix, what):
    validator = jsonschema.Draft7Validator(schema)
    errors = sorted(validator.iter_errors(document), key=lambda e: list(e.absolute_path))
    if errors:
        error = errors[0]
        where = '.'.join([prefix] + [str(p) for p in error.absolute_path] if prefix else [str(p) for p in error.absolute_path]) or '<root>'
        raise LabConfigError('%s %s: %s (see CONFIG_SCHEMA in tests/lab/arm/config.py)' % (what, where, error.message))


def _check_metrics_form(metrics, where):
    if isinstance(metrics, dict) and 'workload' in metrics and ({'default', 'nodes'} & set(metrics)):
        raise LabConfigError('%s: use either the static series {"default", "nodes"} or the workload model {"workload": {...}}, not both'
                             % where)


def validate_metrics(metrics):
    """Raise LabConfigError unless `metrics` is a valid static or workload metrics object (admin PUT /_lab/metrics)."""
    if not isinstance(metrics, dict):
        raise LabConfigError('metrics must be a JSON object: {"default": {...}, "nodes": {...}} or {"workload": {"default": {...}, '
                             '"nodes": {...}}}')
    _check(METRICS_SCHEMA, metrics, 'metrics', 'ARM emulator')
    _check_metrics_form(metrics, 'metrics')


def validate_config(config):
    """Raise LabConfigError naming the first problem (JSON path + message)."""
    _check(CONFIG_SCHEMA, config, '', 'ARM emulator config')
    if isinstance(config, dict):
        _check_metrics_form(config.get('metrics'), 'ARM emulator config metrics')
