# -*- coding: utf-8 -*-
# Copyright (c) 2026 aks.tunnel contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The derived spec files (tests/lab/derived_specs.py) are reproducible, and each way of deriving them is faithful.

- Reproducible: each file under tests/lab/specs/derived/ is exactly what its source gives today (azure-mgmt-network
  33.1.0 runs in .venv, 25.0.0 in .venv-compat, both from scripts/setup.sh; the bicep-types-az extract is in the tree).
- Faithful: where the project holds an upstream spec file of the same api-version as a source, the definitions derived
  from that source agree with it (property names, types, enums, read-only flags), up to three levels deep. That is what
  lets a derived file stand in for the upstream one the project could not read. The same check holds the project's spec
  extracts to the SDK releases of their versions (azure-mgmt-network 32.0.0 and 33.1.0, azure-mgmt-compute 39.0.0).
- Paths: every operation of the project's files at an SDK release's api-version is a request that release builds.
"""

from __future__ import annotations

import json
import os
import re
import subprocess

import pytest

from ansible_collections.aks.tunnel.tests.integration.lab_arm.test_sdk_range_smoke import side_venv
from ansible_collections.aks.tunnel.tests.lab import derived_specs, swagger

LAB = os.path.dirname(os.path.abspath(derived_specs.__file__))
NETWORK_STABLE = 'specification/network/resource-manager/Microsoft.Network/stable/'
NETWORK_TYPESPEC = 'specification/network/resource-manager/Microsoft.Network/Network/stable/'
COMPUTE_TYPESPEC = 'specification/compute/resource-manager/Microsoft.Compute/Compute/stable/'
AKS = 'specification/containerservice/resource-manager/Microsoft.ContainerService/aks/stable/'
# (source, upstream file the project holds at the api-version the source was generated from, its definition, the source's model of
# the same name, how many levels deep, the properties where they may differ)
FAITHFUL = [
    # each release against the upstream extracts of its version (the derived files stand in where no extract exists)
    ('azure-mgmt-network 21.0.0', NETWORK_STABLE + '2022-01-01/networkSecurityGroup.json', 'NetworkSecurityGroup', 'NetworkSecurityGroup', 3, ()),
    ('azure-mgmt-network 28.0.0', NETWORK_STABLE + '2024-03-01/networkSecurityGroup.json', 'NetworkSecurityGroup', 'NetworkSecurityGroup', 3, ()),
    ('azure-mgmt-network 28.0.0', NETWORK_STABLE + '2024-03-01/loadBalancer.json', 'LoadBalancer', 'LoadBalancer', 3, ()),
    ('azure-mgmt-network 28.0.0', NETWORK_STABLE + '2024-03-01/virtualNetwork.json', 'VirtualNetwork', 'VirtualNetwork', 3, ()),
    ('azure-mgmt-network 28.0.0', NETWORK_STABLE + '2024-03-01/publicIpAddress.json', 'PublicIPAddress', 'PublicIPAddress', 3, ()),
    # 26.0.0 against the shared baseline (2024-01-01), 28.0.0 against the firewall extracts (2024-03-01; the polymorphic rules too)
    ('azure-mgmt-network 26.0.0', NETWORK_STABLE + '2024-01-01/networkSecurityGroup.json', 'NetworkSecurityGroup', 'NetworkSecurityGroup', 3, ()),
    ('azure-mgmt-network 26.0.0', NETWORK_STABLE + '2024-01-01/natGateway.json', 'NatGateway', 'NatGateway', 3, ()),
    ('azure-mgmt-network 26.0.0', NETWORK_STABLE + '2024-01-01/networkInterface.json', 'NetworkInterface', 'NetworkInterface', 3, ()),
    ('azure-mgmt-network 28.0.0', NETWORK_STABLE + '2024-03-01/firewallPolicy.json', 'FirewallPolicyRuleCollectionGroup',
     'FirewallPolicyRuleCollectionGroup', 3, ()),
    # (28.0.0's firewall has `autoscaleConfiguration`, which the file at 0c9da75c does not define: read again, offset 17,000)
    ('azure-mgmt-network 28.0.0', NETWORK_STABLE + '2024-03-01/azureFirewall.json', 'AzureFirewall', 'AzureFirewall', 3,
     ('properties/autoscaleConfiguration',)),
    # the managed cluster of each containerservice release against the extract of its version
    ('azure-mgmt-containerservice 32.1.0', AKS + '2024-08-01/managedClusters.json', 'ManagedCluster', 'ManagedCluster', 3, ()),
    ('azure-mgmt-containerservice 41.6.0', AKS + '2026-06-01/managedClusters.json', 'ManagedCluster', 'ManagedCluster', 3, ()),
    ('azure-mgmt-containerservice 41.8.0', AKS + '2026-08-01/managedClusters.json', 'ManagedCluster', 'ManagedCluster', 3, ()),
    # 29.0.0 and 31.0.0 were built after the network specs moved to TypeSpec (2025), from that later state of their versions: the
    # provisioning state enum adds Canceled and Creating, sub-resources' `type` is read-only, and fields added since appear
    ('azure-mgmt-network 29.0.0', NETWORK_STABLE + '2024-07-01/networkSecurityGroup.json', 'NetworkSecurityGroup', 'NetworkSecurityGroup', 3,
     ('properties/provisioningState',)),
    ('azure-mgmt-network 29.0.0', NETWORK_STABLE + '2024-07-01/virtualNetwork.json', 'VirtualNetwork', 'VirtualNetwork', 3,
     ('properties/provisioningState', 'properties/defaultPublicNatGateway')),
    ('azure-mgmt-network 31.0.0', NETWORK_STABLE + '2025-07-01/networkSecurityGroup.json', 'NetworkSecurityGroup', 'NetworkSecurityGroup', 3,
     ('properties/provisioningState', 'properties/securityRules/type', 'properties/defaultSecurityRules/type')),
    ('azure-mgmt-network 31.0.0', NETWORK_STABLE + '2025-07-01/loadBalancer.json', 'LoadBalancer', 'LoadBalancer', 3,
     ('properties/provisioningState', 'properties/scope')),
    ('azure-mgmt-network 31.0.0', NETWORK_STABLE + '2025-07-01/virtualNetwork.json', 'VirtualNetwork', 'VirtualNetwork', 3,
     ('properties/provisioningState', 'properties/subnets/type', 'properties/summarizedGatewayPrefixes')),
    ('azure-mgmt-network 25.0.0', NETWORK_STABLE + '2023-04-01/networkSecurityGroup.json', 'NetworkSecurityGroup', 'NetworkSecurityGroup', 3, ()),
    ('azure-mgmt-network 25.0.0', NETWORK_STABLE + '2023-04-01/networkSecurityGroup.json', 'SecurityRule', 'SecurityRule', 3, ()),
    ('azure-mgmt-network 25.0.0', NETWORK_STABLE + '2023-04-01/loadBalancer.json', 'LoadBalancer', 'LoadBalancer', 3, ()),
    # 33.1.0 was generated from a later state of the 2026-03-01 spec than the stored 2bd38f23 (a spec version keeps changing
    # until it ships): it adds the load balancer `mode` and the SKU name `Service`, and nothing else
    ('azure-mgmt-network 33.1.0', NETWORK_TYPESPEC + '2026-03-01/loadBalancer.json', 'Common.LoadBalancer', 'LoadBalancer', 3,
     ('properties/mode', 'sku/name')),
    ('azure-mgmt-network 33.1.0', NETWORK_TYPESPEC + '2026-03-01/virtualNetwork.json', 'VirtualNetwork', 'VirtualNetwork', 3, ()),
    # the release of 2025-09-01 against that version's extracts (the virtual network file is paired with another commit's common.json)
    ('azure-mgmt-network 32.0.0', NETWORK_TYPESPEC + '2025-09-01/loadBalancer.json', 'Common.LoadBalancer', 'LoadBalancer', 3, ('sku/name',)),
    ('azure-mgmt-network 32.0.0', NETWORK_TYPESPEC + '2025-09-01/virtualNetwork.json', 'Common.VirtualNetwork', 'VirtualNetwork', 3, ()),
    # azure-mgmt-compute 39.0.0 against the 2026-04-01 extract: it too is of a later state (the VM instance view's
    # `capacityReservationType`, the storage profile's `diskApiVersion`); this check found the extract's VM `sku` had lost its read-only flag
    ('azure-mgmt-compute 39.0.0', COMPUTE_TYPESPEC + '2026-04-01/ComputeRP.json', 'VirtualMachineScaleSetVM', 'VirtualMachineScaleSetVM', 3,
     ('properties/instanceView/capacityReservationType', 'properties/storageProfile/diskApiVersion')),
    ('azure-mgmt-compute 39.0.0', COMPUTE_TYPESPEC + '2026-04-01/ComputeRP.json', 'VirtualMachineScaleSet', 'VirtualMachineScaleSet', 3, ()),
    ('azure-mgmt-compute 39.0.0', COMPUTE_TYPESPEC + '2026-04-01/ComputeRP.json', 'RunCommandInput', 'RunCommandInput', 3, ()),
    ('azure-mgmt-compute 39.0.0', COMPUTE_TYPESPEC + '2026-04-01/ComputeRP.json', 'RunCommandResult', 'RunCommandResult', 3, ()),
    # the bicep-types-az extract keeps these two load balancer sections for this check (one level: their references are reduced);
    # like 32.0.0 it is of a later state than the stored c7e741ca, which lacks the SKU name `Service`
    ('bicep-types-az network 2025-09-01', NETWORK_TYPESPEC + '2025-09-01/loadBalancer.json', 'Common.LoadBalancerPropertiesFormat',
     'LoadBalancerPropertiesFormat', 1, ()),
    ('bicep-types-az network 2025-09-01', NETWORK_TYPESPEC + '2025-09-01/loadBalancer.json', 'Common.LoadBalancerSku', 'LoadBalancerSku', 1,
     ('name',)),
]


def _run_with(source, *args):
    """stdout of `python tests/lab/derived_specs.py ARGS` where SOURCES[source] is importable (skips when its folder is absent)."""
    try:
        python, env = derived_specs.runtime(source, side_venv)
    except LookupError as missing:
        pytest.skip('%s (%s) is absent: run scripts/setup.sh' % (missing, source))
    result = subprocess.run([python, os.path.join(LAB, 'derived_specs.py')] + list(args), capture_output=True, text=True,
                            timeout=120, check=False, env=env)
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout


@pytest.mark.parametrize('key', sorted(derived_specs.DERIVED))
def test_the_derived_file_is_what_its_source_gives(key):
    with open(os.path.join(derived_specs.SPECS, derived_specs.DERIVED[key]['file']), encoding='utf-8') as handle:
        assert handle.read() == _run_with(derived_specs.DERIVED[key]['source'], 'print', key), \
            'regenerate: python tests/lab/derived_specs.py write ' + key


@pytest.mark.parametrize('key', sorted(derived_specs.DERIVED))
def test_the_derived_file_is_registered_for_its_version(key):
    entry = derived_specs.DERIVED[key]
    assert entry['file'] in swagger.EXACT_SPECS[(entry['group'], entry['api_version'])]


# (SDK release, spec group and api-version it sends): the project's files of that version (extracts and derived) against its requests
REQUEST_BUILDERS = sorted({(entry['source'], entry['group'], entry['api_version']) for entry in derived_specs.DERIVED.values()
                           if derived_specs.SOURCES[entry['source']]['generator'] != 'bicep-types-md'}
                          | {('azure-mgmt-compute 39.0.0', 'compute', '2026-04-01'), ('azure-mgmt-compute 39.0.0', 'runcommand', '2026-04-01')})


def _template(path):
    return re.sub(r'\{[^}]*\}', '{}', path).lower()


@pytest.mark.parametrize('source, group, version', REQUEST_BUILDERS, ids=['%s-%s' % (r[0], r[1]) for r in REQUEST_BUILDERS])
def test_the_spec_paths_are_those_the_sdk_release_requests(source, group, version):
    """Each operation of the project's files at that version (paths taken from a nearby version where the upstream paths part
    was not read, and every derived file) is a request the release generated from that version builds: same operationId, verb
    and path (parameter names and the provider's case aside)."""
    builders = {name.replace('_', ''): (method, _template(url)) for name, (method, url) in json.loads(_run_with(source, 'builders', source)).items()}
    checked = []
    for rel in swagger.EXACT_SPECS[(group, version)]:
        with open(os.path.join(swagger.PROJECT_SPECS, rel), encoding='utf-8') as handle:
            paths = json.load(handle)['paths']
        for path, operations in paths.items():
            for method, operation in operations.items():
                if isinstance(operation, dict):
                    name = operation['operationId'].replace('_', '').lower()
                    if '_' not in operation['operationId']:  # an operation of the client itself: its builder name starts with the client's
                        name = next((b for b in builders if b.endswith(name)), name)
                    assert builders.get(name) == (method.upper(), _template(path)), (rel, operation['operationId'])
                    checked.append(operation['operationId'])
    assert checked


def _shape(resolve, node, depth, prefix='', out=None):
    """{'a/b': (type, enum, readOnly)} of the properties `depth` levels deep (allOf merged, $refs followed; an array's items
    count as its own level). A property whose target has no properties nor items is a leaf: upstream extracts reduce
    references to other files to {}, so nothing below such a node is compared."""
    out = {} if out is None else out
    props = {}
    for part in resolve(node):
        props.update(part.get('properties') or {})
    for name, prop in props.items():
        parts = resolve(prop)
        merged = {}
        for part in reversed(parts):
            merged.update(part)
        read_only = bool(prop.get('readOnly') or merged.get('readOnly'))
        path = prefix + name
        # None: a property an upstream extract reduced to {} (its shape was not kept)
        kept = any(key in merged for key in ('type', 'enum', 'properties', 'items', 'allOf', 'additionalProperties'))
        out[path] = (merged.get('type'), tuple(sorted(merged.get('enum') or ())), read_only) if kept else None
        if depth > 1:
            target = merged.get('items') if merged.get('type') == 'array' else prop
            if target is not None and any(p.get('properties') or p.get('allOf') for p in resolve(target)):
                _shape(resolve, target, depth - 1, path + '/', out)
    return out


def _resolver(schemas, base_file):
    """node -> [the node and every part its $ref / allOf chain reaches] (raw swagger, across files)."""
    # pylint: disable=protected-access

    def resolve(node, where=base_file):
        if '$ref' in node:
            own = dict((k, v) for k, v in node.items() if k != '$ref')
            try:
                target_file, _pointer, target = schemas._resolve(node['$ref'], where)
            except (KeyError, OSError):  # the shared baseline's files are reduced too: a reference it dropped is a reduced node
                return [own]
            return [own] + resolve(target, target_file)
        parts = [node]
        for part in node.get('allOf') or []:
            parts += resolve(part, where)
        return parts
    return resolve


@pytest.mark.parametrize('source, upstream_file, upstream_name, model, depth, drift', FAITHFUL, ids=['%s-%s' % (f[0], f[3]) for f in FAITHFUL])
def test_the_derivation_agrees_with_the_upstream_file_of_the_same_version(tmp_path, source, upstream_file, upstream_name, model, depth, drift):
    schemas = swagger.SwaggerSchemas()
    upstream_path = os.path.join(swagger.PROJECT_SPECS, upstream_file)
    if not os.path.exists(upstream_path):  # the shared baseline
        upstream_path = os.path.join(swagger.specs_root(), upstream_file)
    upstream = _shape(_resolver(schemas, upstream_path), {'$ref': '#/definitions/' + upstream_name}, depth)
    derived_path = tmp_path / 'derived.json'
    derived_path.write_text(json.dumps({'definitions': json.loads(_run_with(source, 'definitions', source, model))}))
    derived = _shape(_resolver(schemas, str(derived_path)), {'$ref': '#/definitions/' + model}, depth)
    # below a node the upstream extract reduced to {} there is nothing to compare
    leaves = [path for path in upstream if not any(other.startswith(path + '/') for other in upstream)]
    derived = {path: shape for path, shape in derived.items() if not any(path.startswith(leaf + '/') for leaf in leaves)}
    assert len(upstream) >= 2 and sum(shape is not None for shape in upstream.values()) >= 2
    # types are compared where both say one, enums where the upstream file keeps one (extracts reduced some enums to plain strings)
    differing = sorted(set(upstream) ^ set(derived)) + sorted(path for path, shape in upstream.items() if None not in (shape, derived.get(path)) and (
        shape[2] != derived[path][2] or shape[1] and shape[1] != derived[path][1]
        or None not in (shape[0], derived[path][0]) and shape[0] != derived[path][0]))
    # a drift entry covers that property and what is below it; each one must be a real difference
    assert [p for p in differing if not any(p == d or p.startswith(d + '/') for d in drift)] == []
    assert [d for d in drift if not any(p == d or p.startswith(d + '/') for p in differing)] == []


def _inline_maps(definitions, schema):
    """`schema` with a $ref to a plain string map (bicep's ResourceTags) replaced by the map itself (SDK models inline it)."""
    target = definitions.get(schema.get('$ref', '').rsplit('/', 1)[-1])
    if target and set(target) == {'type', 'additionalProperties'}:
        return dict(target)
    return schema


@pytest.mark.parametrize('key', sorted(k for k, v in derived_specs.DERIVED.items() if v.get('cross_check')))
def test_the_derived_file_agrees_with_the_sdk_release_of_its_version(key):
    """bicep-types-az's 2025-09-01 types and azure-mgmt-network 32.0.0 (generated from 2025-09-01 too) give the same definitions:
    every property's name, type, enum, read-only flag and reference, and the required lists."""
    from_sdk = json.loads(_run_with(derived_specs.DERIVED[key]['cross_check'], 'crosscheck', key))
    with open(os.path.join(derived_specs.SPECS, derived_specs.DERIVED[key]['file']), encoding='utf-8') as handle:
        derived = json.load(handle)['definitions']
    compared = [name for name, schema in derived.items() if schema and name in from_sdk]
    assert {'NetworkSecurityGroupPropertiesFormat', 'SecurityRulePropertiesFormat', 'PublicIPAddressPropertiesFormat'} <= set(compared)
    for name in compared:
        ours = {k: _inline_maps(derived, v) for k, v in derived[name].get('properties', {}).items()}
        theirs = from_sdk[name].get('properties', {})
        assert sorted(ours) == sorted(theirs), name
        for prop, schema in ours.items():
            normalized = [{k: sorted(v) if k == 'enum' else v for k, v in s.items()} for s in (schema, theirs[prop])]
            assert normalized[0] == normalized[1], (name, prop)
        assert sorted(derived[name].get('required', [])) == sorted(from_sdk[name].get('required', [])), name


EXAMPLES = os.path.join(derived_specs.SPECS, 'examples')
EXAMPLE_FILES = sorted(os.path.relpath(os.path.join(folder, name), EXAMPLES) for folder, _dirs, names in os.walk(EXAMPLES) for name in names)


@pytest.mark.parametrize('rel', EXAMPLE_FILES)
def test_an_upstream_example_fits_the_spec_file_of_its_version(rel):
    """Microsoft's own examples of an api-version (tests/lab/specs/examples/<group>/<version>/, upstream x-ms-examples) fit the
    file the lab validates that version against, a derived one included, and carry nothing it does not define."""
    group, version, _name = rel.split(os.sep)
    with open(os.path.join(EXAMPLES, rel), encoding='utf-8') as handle:
        example = json.load(handle)
    assert example['parameters']['api-version'] == version
    schemas = swagger.SwaggerSchemas()
    body = example['responses']['200']['body']
    schemas.validate_response(group, example['operationId'], 200, body, version)
    assert schemas.undefined_properties(schemas.response_schema(group, example['operationId'], 200, version), body) == []
    assert '/derived/' in schemas.operation(group, example['operationId'], version)[0]
