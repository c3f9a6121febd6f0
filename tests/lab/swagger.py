# -*- coding: utf-8 -*-
# Copyright (c) 2026 aks.tunnel contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Validate JSON bodies against the Azure swagger 2.0 specs in ../shared/azure-specs.

Swagger definitions are converted to JSON Schema (draft 4): `$ref`s across files are resolved into
one `definitions` map, `allOf` is kept, a `discriminator` becomes a oneOf of its subtypes, `x-ms-*`/`example` are dropped, `x-nullable`
allows null, `readOnly` is harmless, additional properties stay allowed (the README of azure-specs lists
fields newer api-versions add). Only `date-time` formats are checked.

The specs folder: env AKS_TUNNEL_AZURE_SPECS, else `<repo>/../shared/azure-specs` (CI clones the repo
beside shared/). Other versions: the project's extracts and derived files in tests/lab/specs/ (EXACT_SPECS; its README).
"""

from __future__ import annotations

import copy
import datetime
import json
import os
import re
import threading

import jsonschema

from .derived_specs import DERIVED, specs_root


def _detector_schemas():
    from .arm.providers.detectors import SCHEMAS  # pylint: disable=import-outside-toplevel
    return SCHEMAS


NETWORK = 'specification/network/resource-manager/Microsoft.Network/stable/2024-01-01/'
COMPUTE = 'specification/compute/resource-manager/Microsoft.Compute/ComputeRP/stable/2024-03-01/'
# The api-version of each spec group's baseline in the shared azure-specs folder. The emulator accepts more versions
# (tests/lab/arm/versions.py); a response at a version the project vendors a spec of (EXACT_SPECS, tests/lab/specs/) is
# validated against that one, any other against the nearest version the project has (additional properties of newer
# versions are allowed, fields an older version lacks are removed by versions.shape_for_version).
VENDORED_VERSIONS = {'network': '2024-01-01', 'compute': '2024-03-01', 'runcommand': '2024-03-01', 'aks': '2024-02-01', 'metrics': '2024-02-01'}
SPEC_GROUPS = {
    'network': [NETWORK + f for f in ('networkSecurityGroup.json', 'virtualNetwork.json', 'vmssNetworkInterface.json', 'loadBalancer.json',
                                      'publicIpAddress.json', 'networkInterface.json', 'natGateway.json',
                                      'routeTable.json', 'privateEndpoint.json')],
    'compute': [COMPUTE + 'virtualMachineScaleSet.json'],
    'runcommand': [COMPUTE + 'runCommand.json'],
    'aks': ['specification/containerservice/resource-manager/Microsoft.ContainerService/aks/stable/2024-02-01/managedClusters.json'],
    'metrics': ['specification/monitor/resource-manager/Microsoft.Insights/stable/2024-02-01/metrics_API.json',
                'specification/monitor/resource-manager/Microsoft.Insights/stable/2024-02-01/metricDefinitions_API.json'],
}
# Spec versions vendored in the project (tests/lab/specs/, upstream relative paths; README.md there records source,
# commit, licence and how each file was reduced): (group, api-version) -> files. An operation missing from them is
# looked up in the baseline (SPEC_GROUPS).
PROJECT_SPECS = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'specs')
EXACT_SPECS = {
    ('aks', '2024-08-01'): ['specification/containerservice/resource-manager/Microsoft.ContainerService/aks/stable/2024-08-01/managedClusters.json'],
    ('aks', '2026-06-01'): ['specification/containerservice/resource-manager/Microsoft.ContainerService/aks/stable/2026-06-01/managedClusters.json'],
    ('network', '2022-01-01'): ['specification/network/resource-manager/Microsoft.Network/stable/2022-01-01/networkSecurityGroup.json'],
    ('network', '2023-04-01'): ['specification/network/resource-manager/Microsoft.Network/stable/2023-04-01/' + f
                                for f in ('networkSecurityGroup.json', 'loadBalancer.json')],
    ('network', '2024-03-01'): ['specification/network/resource-manager/Microsoft.Network/stable/2024-03-01/' + f
                                for f in ('networkSecurityGroup.json', 'loadBalancer.json', 'virtualNetwork.json', 'publicIpAddress.json')],
    # az network vnet subnet (azure-cli 2.91) (issue 15)
    ('network', '2024-07-01'): ['specification/network/resource-manager/Microsoft.Network/stable/2024-07-01/' + f
                                for f in ('networkSecurityGroup.json', 'loadBalancer.json', 'virtualNetwork.json', 'publicIpAddress.json')],
    # az network lb / vnet (azure-cli 2.91)
    ('network', '2025-07-01'): ['specification/network/resource-manager/Microsoft.Network/stable/2025-07-01/' + f
                                for f in ('networkSecurityGroup.json', 'loadBalancer.json', 'virtualNetwork.json')],
    # azure-mgmt-network 33.1.0: load balancers, virtual networks and subnets from the TypeSpec layout (Network/stable/; each file with
    # the reduced common.json of its upstream commit)
    ('network', '2026-03-01'): ['specification/network/resource-manager/Microsoft.Network/Network/stable/2026-03-01/' + f
                                for f in ('loadBalancer.json', 'virtualNetwork.json')],
    # 2025-09-01 (az network public-ip; accepted for every network operation): its load balancer and virtual network files, same layout
    ('network', '2025-09-01'): ['specification/network/resource-manager/Microsoft.Network/Network/stable/2025-09-01/' + f
                                for f in ('loadBalancer.json', 'virtualNetwork.json')],
    # VM scale set NICs (category network-vmss, issue 15): azure-mgmt-network 25.0.0 and 33.1.0 send 2018-10-01, az vmss nic 2023-09-01
    ('network', '2018-10-01'): ['specification/network/resource-manager/Microsoft.Network/stable/2018-10-01/' + f
                                for f in ('vmssNetworkInterface.json', 'networkInterface.json')],
    ('network', '2023-09-01'): ['specification/network/resource-manager/Microsoft.Network/stable/2023-09-01/' + f
                                for f in ('vmssNetworkInterface.json', 'networkInterface.json')],
    ('metrics', '2018-01-01'): ['specification/monitor/resource-manager/Microsoft.Insights/stable/2018-01-01/metrics_API.json',
                                'specification/monitor/resource-manager/Microsoft.Insights/stable/2018-01-01/metricDefinitions_API.json'],
    ('metrics', '2021-05-01'): ['specification/monitor/resource-manager/Microsoft.Insights/stable/2021-05-01/metrics_API.json',
                                'specification/monitor/resource-manager/Microsoft.Insights/stable/2021-05-01/metricDefinitions_API.json'],
    ('runcommand', '2023-03-01'): ['specification/compute/resource-manager/Microsoft.Compute/ComputeRP/stable/2023-03-01/runCommand.json'],
    # VM scale sets and their VMs (issue 15): azure-mgmt-compute 30.0.0, the lowest of the range
    ('compute', '2023-03-01'): ['specification/compute/resource-manager/Microsoft.Compute/ComputeRP/stable/2023-03-01/virtualMachineScaleSet.json'],
    # and azure-mgmt-compute 33.0.0 (azure.azcollection's pin)
    ('compute', '2024-07-01'): ['specification/compute/resource-manager/Microsoft.Compute/ComputeRP/stable/2024-07-01/virtualMachineScaleSet.json'],
    # and azure-cli 2.91 (az vmss)
    ('compute', '2024-11-01'): ['specification/compute/resource-manager/Microsoft.Compute/ComputeRP/stable/2024-11-01/virtualMachineScaleSet.json'],
    ('runcommand', '2024-07-01'): ['specification/compute/resource-manager/Microsoft.Compute/ComputeRP/stable/2024-07-01/runCommand.json'],
    ('runcommand', '2024-11-01'): ['specification/compute/resource-manager/Microsoft.Compute/ComputeRP/stable/2024-11-01/runCommand.json'],
    # azure-mgmt-compute 39.0.0, the highest of the range: one TypeSpec-generated file holds the scale sets, their VMs and the run command
    # (issue 15); its TrackedResource comes from the project's reduced common-types/resource-management/v3/types.json
    ('compute', '2026-04-01'): ['specification/compute/resource-manager/Microsoft.Compute/Compute/stable/2026-04-01/ComputeRP.json'],
    ('runcommand', '2026-04-01'): ['specification/compute/resource-manager/Microsoft.Compute/Compute/stable/2026-04-01/ComputeRP.json'],
    ('aks', '2026-08-01'): ['specification/containerservice/resource-manager/Microsoft.ContainerService/aks/stable/2026-08-01/managedClusters.json'],
    # Azure Firewall, Firewall Policy and IP groups (issue 16): the shared folder has none of them, so every api-version of the
    # group is validated against this one (the azure.azcollection pin's; the nearest the index held to 2026-03-01).
    ('azfw', '2024-03-01'): ['specification/network/resource-manager/Microsoft.Network/stable/2024-03-01/' + f
                             for f in ('azureFirewall.json', 'firewallPolicy.json', 'ipGroups.json', 'serviceTags.json')],
}
# The operations a version's extracts leave out, derived from what Microsoft generated from that version's spec (SDK models, bicep
# types: tests/lab/derived_specs.py, tests/lab/specs/README.md "Derived files"); listed after the extracts, which win where both have one.
for _derived in DERIVED.values():
    EXACT_SPECS.setdefault((_derived['group'], _derived['api_version']), []).append(_derived['file'])
SPEC_GROUPS['azfw'] = []
# A private DNS zone's virtual network links (issue 16): privatedns.json is not in the shared folder; every api-version is
# validated against this extract.
EXACT_SPECS[('privatedns', '2024-06-01')] = ['specification/privatedns/resource-manager/Microsoft.Network/stable/2024-06-01/privatedns.json']
SPEC_GROUPS['privatedns'] = []
# Microsoft.Resources subscriptions and tenants, Virtual Network Manager effective security admin rules and public IP prefixes:
# no upstream file of theirs could be read; each accepted version has a file derived from its SDK release (DERIVED above), whose
# operations come from shells the project wrote (tests/lab/specs/derived/templates/operations.json). Their errors: ARM's shapes.
for _group in ('resources', 'avnm', 'pipprefix'):
    SPEC_GROUPS[_group] = []
_ARM_ERROR_BODY = {'type': 'object', 'required': ['error'], 'properties': {'error': {'type': 'object', 'required': ['code', 'message']}}}
# AKS detectors (issue 16): no published swagger at all, so their schemas are the project's: tests/lab/arm/providers/detectors.py.
LAB_SCHEMAS = dict(_detector_schemas())
LAB_GROUPS = ('aksdetectors',)
# Error shape for operations whose spec lists no `default` response.
DEFAULT_ERRORS = {
    'runcommand': ('specification/compute/resource-manager/Microsoft.Compute/common-types/v1/common.json', 'CloudError'),
    # groups whose files are all derived (no error responses): the network CloudError, and ARM's ErrorResponse for subscriptions
    'avnm': ('specification/network/resource-manager/Microsoft.Network/stable/2024-01-01/network.json', 'CloudError'),
    'pipprefix': ('specification/network/resource-manager/Microsoft.Network/stable/2024-01-01/network.json', 'CloudError'),
    'resources': ('specification/common-types/resource-management/v5/types.json', 'ErrorResponse'),
}
# The LRO status resource is not described per operation; ARM's common shape is OperationStatusResult.
OPERATION_STATUS = ('specification/common-types/resource-management/v5/types.json', 'OperationStatusResult')
ARM_ERROR = ('specification/common-types/resource-management/v5/types.json', 'ErrorResponse')
# Enum values newer api-versions add (azure-specs README "Schema deltas").
ENUM_DELTAS = {('loadBalancer', 'userDefinedRouting'): ['none']}
_KEEP = ('type', 'required', 'enum', 'minimum', 'maximum', 'exclusiveMinimum', 'exclusiveMaximum', 'minLength', 'maxLength', 'minItems',
         'maxItems', 'uniqueItems', 'readOnly', 'pattern')


def _days(version):
    return datetime.date.fromisoformat(version[:10]).toordinal()


def spec_versions(group):
    """The api-versions of `group` the project has a spec of (baseline first)."""
    base = [VENDORED_VERSIONS[group]] if group in VENDORED_VERSIONS else []
    return base + sorted(v for g, v in EXACT_SPECS if g == group and v not in base)


def spec_version(group, api_version):
    """(api-version of the spec a response of `group` at `api_version` is validated against, True when it is that version).

    The exact one when the project has it, else the nearest in time (the baseline on a tie), else the baseline.
    """
    versions = spec_versions(group)
    if not versions:
        return None, False
    if api_version in versions:
        return api_version, True
    try:
        return min(versions, key=lambda v: abs(_days(v) - _days(api_version))), False
    except (TypeError, ValueError):
        return versions[0], False


def _versions_by_distance(group, version):
    """`version` first, then the other spec versions of `group`, nearest in time first (the baseline first on a tie)."""
    base = VENDORED_VERSIONS.get(group)
    others = [v for v in spec_versions(group) if v != version]
    if version:
        others.sort(key=lambda v: (abs(_days(v) - _days(version)), v != base))
    return ([version] if version else []) + others or [base]


def _spec_files(group, version):
    """(root, relative files) of `group`'s spec at `version` (one of spec_versions)."""
    if (group, version) in EXACT_SPECS:
        return PROJECT_SPECS, EXACT_SPECS[(group, version)]
    return None, SPEC_GROUPS[group]


class SpecNotFound(RuntimeError):
    """The azure-specs folder or an operation in it is missing."""


class SchemaValidationError(AssertionError):
    """A body does not match its swagger schema; `errors` lists 'path: message' strings."""

    def __init__(self, label, errors):
        super().__init__('%s does not match the spec:\n  %s' % (label, '\n  '.join(errors)))
        self.errors = errors


def _check_datetime(value):
    if not isinstance(value, str):
        return True
    try:
        datetime.datetime.fromisoformat(re.sub(r'(\.\d{6})\d+', r'\1', value.replace('Z', '+00:00')))
    except ValueError:
        return False
    return True


FORMAT_CHECKER = jsonschema.FormatChecker(formats=())
FORMAT_CHECKER.checks('date-time')(_check_datetime)


class SwaggerSchemas:
    """Loads spec files lazily and builds (cached) JSON Schemas for operation responses."""

    def __init__(self, root=None):
        self.root = root or specs_root()
        if not os.path.isdir(os.path.join(self.root, 'specification')):
            raise SpecNotFound('Azure specs not found at %s; set AKS_TUNNEL_AZURE_SPECS or put shared/azure-specs beside the repo' % self.root)
        self._files = {}
        self._lock = threading.RLock()
        self._cache = {}

    def _load(self, path):
        path = os.path.normpath(path)
        with self._lock:
            if path not in self._files:
                with open(path, encoding='utf-8') as handle:
                    self._files[path] = json.load(handle)
            return self._files[path]

    def _abs(self, rel):
        return os.path.normpath(os.path.join(self.root, rel))

    # --- conversion -----------------------------------------------------------------------------
    def _resolve(self, ref, base_file):
        file_part, _unused, pointer = ref.partition('#')
        target_file = os.path.normpath(os.path.join(os.path.dirname(base_file), file_part)) if file_part else base_file
        project = os.path.normpath(PROJECT_SPECS)
        if target_file.startswith(project + os.sep) and not os.path.exists(target_file):
            # a project spec's $ref to a shared file (common-types): the azure-specs folder has it at the same relative path
            target_file = self._abs(os.path.relpath(target_file, project))
        node = self._load(target_file)
        for token in [t for t in pointer.split('/') if t]:
            node = node[token.replace('~1', '/').replace('~0', '~')]
        return target_file, pointer, node

    def _key(self, target_file, pointer):
        project = os.path.normpath(PROJECT_SPECS)
        rel = ('project/' + os.path.relpath(target_file, project) if target_file.startswith(project + os.sep)
               else os.path.relpath(target_file, self.root))
        return re.sub(r'[^A-Za-z0-9_.]+', '_', rel + pointer)

    def _convert(self, node, base_file, defs):
        if isinstance(node, list):
            return [self._convert(x, base_file, defs) for x in node]
        if not isinstance(node, dict):
            return node
        if '$ref' in node:
            target_file, pointer, target = self._resolve(node['$ref'], base_file)
            key = self._key(target_file, pointer)
            if key not in defs:
                defs[key] = {}
                defs[key] = self._convert(target, target_file, defs)
                if isinstance(target, dict) and target.get('discriminator'):
                    defs[key]['oneOf'] = self._subtypes(target_file, pointer, target['discriminator'], defs)
            return {'$ref': '#/definitions/' + key}
        out = {}
        for key in _KEEP:
            if key in node:
                out[key] = copy.deepcopy(node[key])
        if 'pattern' in out:
            try:
                re.compile(out['pattern'])
            except re.error:
                del out['pattern']
        if out.get('type') == 'file':
            del out['type']
        if node.get('format') == 'date-time':
            out['format'] = 'date-time'
        if 'enum' in out:
            for marker, extra in ENUM_DELTAS.items():
                if all(m in out['enum'] for m in marker):
                    out['enum'] = out['enum'] + [e for e in extra if e not in out['enum']]
        if 'properties' in node:
            out['properties'] = {k: self._convert(v, base_file, defs) for k, v in node['properties'].items()}
        if 'items' in node:
            out['items'] = self._convert(node['items'], base_file, defs)
        if 'allOf' in node:
            out['allOf'] = [self._convert(x, base_file, defs) for x in node['allOf']]
        if isinstance(node.get('additionalProperties'), dict):
            out['additionalProperties'] = self._convert(node['additionalProperties'], base_file, defs)
        if node.get('x-nullable') and 'type' in out:
            out['type'] = [out['type'], 'null'] if isinstance(out['type'], str) else out['type'] + ['null']
            if 'enum' in out:
                out['enum'] = out['enum'] + [None]
        return out

    def _subtypes(self, spec_file, pointer, discriminator, defs):
        """A polymorphic definition's subtypes (same file, `x-ms-discriminator-value`, allOf the base) as oneOf branches: each one's
        own properties with the discriminator fixed to its value (the allOf back to the base is left out: the base holds the oneOf)."""
        base = '#/definitions/' + pointer.rsplit('/', 1)[-1]
        branches = []
        for sub in self._load(spec_file).get('definitions', {}).values():
            value = sub.get('x-ms-discriminator-value')
            if value and any(str(part.get('$ref', '')).endswith(base) for part in sub.get('allOf') or []):
                branch = self._convert(dict((k, v) for k, v in sub.items() if k != 'allOf'), spec_file, defs)
                branch.setdefault('properties', {})[discriminator] = {'enum': [value]}
                branch['required'] = sorted(set(branch.get('required', [])) | {discriminator})
                branches.append(branch)
        return branches or [{}]

    def _schema_for(self, node, base_file):
        defs = {}
        root = self._convert(node, base_file, defs)
        root = dict(root)
        root['definitions'] = defs
        return root

    # --- lookups --------------------------------------------------------------------------------
    def operation(self, group, operation_id, api_version=None, upstream_only=False):
        """(file, path template, method, operation) from the spec of `group` that `api_version` is validated against.

        `upstream_only`: skip the derived files (they describe no error responses: errors come from an upstream file).
        """
        version, _exact = spec_version(group, api_version)
        # that version's files first; an operation its extracts leave out comes from the nearest other version that has it
        # (the baseline wins a tie), so a partial extract never sends an operation further away than before it existed
        for candidate in _versions_by_distance(group, version):
            root, rels = _spec_files(group, candidate)
            for rel in rels:
                if upstream_only and rel.startswith('derived/'):
                    continue
                path = os.path.normpath(os.path.join(root, rel)) if root else self._abs(rel)
                spec = self._load(path)
                for template, ops in spec.get('paths', {}).items():
                    for method, op in ops.items():
                        if isinstance(op, dict) and op.get('operationId') == operation_id:
                            return path, template, method.upper(), op
        raise SpecNotFound('operation %s not found in spec group %s' % (operation_id, group))

    def definition_schema(self, rel_file, name):
        key = ('def', rel_file, name)
        with self._lock:
            if key not in self._cache:
                path = self._abs(rel_file)
                self._cache[key] = self._schema_for({'$ref': '#/definitions/' + name}, path)
            return self._cache[key]

    def response_schema(self, group, operation_id, status, api_version=None):
        """JSON Schema for the response body, or None when the spec says the response has no body.

        `api_version`: the version the response answered; its own spec when the project has it (errors: the baseline's).
        """
        if group in LAB_GROUPS:
            return LAB_SCHEMAS.get((group, operation_id, int(status)), _ARM_ERROR_BODY if int(status) >= 400 else None)
        version = spec_version(group, api_version)[0] if int(status) < 400 else None
        key = ('op', group, operation_id, int(status), version)
        with self._lock:
            if key in self._cache:
                return self._cache[key]
            try:
                path, _template, _method, op = self.operation(group, operation_id, version, upstream_only=int(status) >= 400)
            except SpecNotFound:
                if int(status) < 400 or group not in DEFAULT_ERRORS:
                    raise
                path, op = None, {}  # an operation only derived files hold: its group's error shape (DEFAULT_ERRORS below)
            responses = op.get('responses', {})
            response = responses.get(str(status))
            if response is None and int(status) >= 400:
                response = responses.get('default')
                if response is None and group in DEFAULT_ERRORS:
                    schema = self.definition_schema(*DEFAULT_ERRORS[group])
                    self._cache[key] = schema
                    return schema
            if response is None:
                raise SpecNotFound('%s has no response %s (has %s)' % (operation_id, status, ', '.join(responses)))
            schema = self._schema_for(response['schema'], path) if 'schema' in response else None
            self._cache[key] = schema
            return schema

    def request_schema(self, group, operation_id, api_version=None):
        """JSON Schema of the operation's body parameter (in the spec `api_version` is validated against), or None."""
        if group in LAB_GROUPS:
            return None
        version = spec_version(group, api_version)[0]
        key = ('req', group, operation_id, version)
        with self._lock:
            if key in self._cache:
                return self._cache[key]
            path, _template, _method, op = self.operation(group, operation_id, version)
            schema = None
            for param in op.get('parameters', []):
                param_file = path
                if '$ref' in param:
                    param_file, _pointer, param = self._resolve(param['$ref'], path)
                if param.get('in') == 'body' and 'schema' in param:
                    schema = self._schema_for(param['schema'], param_file)
            self._cache[key] = schema
            return schema

    def validate_request(self, group, operation_id, body, api_version=None):
        """Raise SchemaValidationError unless the request `body` fits the operation's body parameter."""
        schema = self.request_schema(group, operation_id, api_version)
        if schema is not None and body is not None:
            self.validate_schema(schema, body, '%s request' % operation_id)

    def undefined_properties(self, schema, body, path=''):
        """Paths of object keys in `body` that `schema` does not define (where it allows no additionalProperties).

        The validator allows unknown keys (newer api-versions add fields); for a response at exactly the vendored
        version this lists what that version's spec does not have, i.e. what the emulator must not send.
        """
        definitions = schema.get('definitions', {})

        def resolve(node):
            while isinstance(node, dict) and '$ref' in node:
                node = definitions[node['$ref'].split('/')[-1]]
            return node

        def merged(node, value=None):
            node = resolve(node)
            props, extra = dict(node.get('properties') or {}), node.get('additionalProperties')
            branches = [b for b in node.get('oneOf') or [] if isinstance(value, dict) and all(
                value.get(k) in (s.get('enum') or [value.get(k)]) for k, s in (resolve(b).get('properties') or {}).items() if 'enum' in s)]
            for part in (node.get('allOf') or []) + branches[:1]:
                sub_props, sub_extra = merged(part, value)
                props.update(sub_props)
                extra = extra or sub_extra
            return props, extra

        def walk(node, value, where, out):
            node = resolve(node)
            if isinstance(value, list):
                for index, item in enumerate(value):
                    walk(node.get('items') or {}, item, '%s/%d' % (where, index), out)
                return
            if not isinstance(value, dict):
                return
            props, extra = merged(node, value)
            if not props and not extra:
                return  # a free-form object in the spec
            for key, item in value.items():
                if key in props:
                    walk(props[key], item, '%s/%s' % (where, key), out)
                elif isinstance(extra, dict):
                    walk(extra, item, '%s/%s' % (where, key), out)
                else:
                    out.append('%s/%s' % (where, key))

        found = []
        walk(schema, body, path, found)
        return found

    def validate_schema(self, schema, body, label):
        validator = jsonschema.Draft4Validator(schema, format_checker=FORMAT_CHECKER)
        errors = ['%s: %s' % ('/'.join(str(p) for p in e.absolute_path) or '<root>', e.message)
                  for e in sorted(validator.iter_errors(body), key=lambda e: list(e.absolute_path))]
        if errors:
            raise SchemaValidationError(label, errors[:20])

    def validate_response(self, group, operation_id, status, body, api_version=None):
        """Raise SchemaValidationError unless `body` fits the spec's response `status` of `operation_id` (at `api_version`)."""
        schema = self.response_schema(group, operation_id, status, api_version)
        version, exact = spec_version(group, api_version)
        label = '%s %s response' % (operation_id, status) + (' (spec %s%s)' % (version, '' if exact else ', nearest') if api_version and version else '')
        if schema is None:
            if body not in (None, b'', '', {}):
                raise SchemaValidationError(label, ['the spec defines no body for this response, got %r' % (body,)])
            return
        self.validate_schema(schema, body, label)

    def validate_operation_status(self, body):
        self.validate_schema(self.definition_schema(*OPERATION_STATUS), body, 'LRO status resource')

    def validate_journal_entry(self, entry):
        """Validate one emulator journal entry ({spec: [group, operationId], status, body}); LRO entries use ARM's shapes."""
        group, operation_id = entry['spec']
        if group == 'lro':
            if operation_id == 'status' and entry['status'] == 200:
                self.validate_operation_status(entry['body'])
            elif operation_id == 'status' or entry['status'] >= 400:
                self.validate_schema(self.definition_schema(*ARM_ERROR), entry['body'], 'LRO error')
            elif entry['body'] not in (None, {}):
                raise SchemaValidationError('LRO location response', ['expected no body, got %r' % (entry['body'],)])
            return
        self.validate_response(group, operation_id, entry['status'], entry['body'], entry.get('api_version'))
        if entry.get('request') is not None and entry['status'] < 400:
            # what the emulator accepted must be what the spec allows (ARM refuses the rest with 400)
            self.validate_request(group, operation_id, entry['request'], entry.get('api_version'))
