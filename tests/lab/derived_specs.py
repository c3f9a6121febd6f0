# -*- coding: utf-8 -*-
# Copyright (c) 2026 aks.tunnel contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Swagger 2.0 files derived from what Microsoft generated from a spec, for api-versions whose spec file nobody could read.

Every (operation, api-version) the lab's ARM emulator accepts is validated against a file of that version (tests/lab/swagger.py,
EXACT_SPECS). Where no upstream file of a version could be read (tests/lab/specs/README.md, "Derived files"), this module writes
one mechanically from a SOURCE generated from that version's spec: an SDK release, or bicep-types-az `types.md` sections kept in
tests/lab/specs/derived/. A DERIVED entry names the source and the operations; their paths, verbs and operationIds come from a
template (the project's extract of a nearby version, the shared baseline, or the shells in derived/templates/operations.json);
only their body and success response schemas point at the derived definitions. Three readers:

- msrest models: `_attribute_map` (wire keys; `properties.x` becomes a nested object), `_validation` (read-only, required,
  bounds), the enum class an attribute's `:vartype` names (else its docstring's "Known values"), `_subtype_map` (polymorphism);
- TypeSpec models: `rest_field` (wire name; read-only when visible only to "read"), the type hints (Optional, list, dict,
  Union[str, Enum], Literal), `__mapping__` (polymorphism); list results are written as `{value: [item], nextLink}`;
- bicep `types.md` lines (`* **name**: type {constraints} (flags): text`); a type whose section is not kept becomes {}.

SPEC_CORRECTIONS lists the known spec inaccuracies a release carries and the derived files correct. `request_builders` reads
the `build_<operation>_request` functions of a release, against which tests check every path of that version.

Commands (in the Python that has the source; `regenerate` finds each one under the repository):
`python tests/lab/derived_specs.py regenerate`, `write|print|crosscheck KEY`, `definitions SOURCE MODEL...`, `builders SOURCE`.
tests/integration/lab_arm/test_derived_specs.py checks the files against their sources, the upstream files and the examples.
"""

from __future__ import annotations

import datetime
import enum
import importlib
import json
import os
import re
import sys
import typing

HERE = os.path.dirname(os.path.abspath(__file__))
SPECS = os.path.join(HERE, 'specs')
_STABLE = 'specification/network/resource-manager/Microsoft.Network/stable/'
_NSG_OPERATIONS = ('NetworkSecurityGroups_Get', 'NetworkSecurityGroups_List', 'NetworkSecurityGroups_ListAll',
                   'NetworkSecurityGroups_CreateOrUpdate', 'SecurityRules_Get', 'SecurityRules_List', 'SecurityRules_CreateOrUpdate',
                   'SecurityRules_Delete', 'DefaultSecurityRules_Get', 'DefaultSecurityRules_List')
_PIP_OPERATIONS = ('PublicIPAddresses_Get', 'PublicIPAddresses_List', 'PublicIPAddresses_ListAll')
_VMSS_NIC_OPERATIONS = ('NetworkInterfaces_ListVirtualMachineScaleSetVMNetworkInterfaces',
                        'NetworkInterfaces_ListVirtualMachineScaleSetNetworkInterfaces',
                        'NetworkInterfaces_GetVirtualMachineScaleSetNetworkInterface',
                        'NetworkInterfaces_ListVirtualMachineScaleSetIpConfigurations',
                        'NetworkInterfaces_GetVirtualMachineScaleSetIpConfiguration')
# security groups and public IPs: the nearest versions the project has extracts of
_NSG_AND_PIP_TEMPLATES = ((_STABLE + '2025-07-01/networkSecurityGroup.json', _NSG_OPERATIONS),
                          (_STABLE + '2024-07-01/publicIpAddress.json', _PIP_OPERATIONS))
# the other network operations the emulator serves, from the shared baseline (2024-01-01)
_BASELINE = _STABLE + '2024-01-01/'
_SUBNET_PUT = ((_BASELINE + 'virtualNetwork.json', ('Subnets_CreateOrUpdate',)),)
_NIC_NAT_ROUTES = ((_BASELINE + 'networkInterface.json', ('NetworkInterfaces_Get', 'NetworkInterfaces_GetEffectiveRouteTable')),
                   (_BASELINE + 'natGateway.json', ('NatGateways_Get', 'NatGateways_List', 'NatGateways_ListAll')),
                   (_BASELINE + 'routeTable.json', ('RouteTables_Get',)),
                   (_BASELINE + 'privateEndpoint.json', ('PrivateEndpoints_Get',)))
_VNET_AND_PIP = ((_BASELINE + 'virtualNetwork.json', ('VirtualNetworks_Get', 'VirtualNetworks_List', 'VirtualNetworks_ListAll',
                                                      'Subnets_Get', 'Subnets_List', 'Subnets_CreateOrUpdate')),
                 (_BASELINE + 'publicIpAddress.json', _PIP_OPERATIONS))
_LOAD_BALANCERS = ((_BASELINE + 'loadBalancer.json', ('LoadBalancers_Get', 'LoadBalancers_List', 'LoadBalancers_ListAll',
                                                      'LoadBalancerOutboundRules_Get', 'LoadBalancerOutboundRules_List')),)
# Azure Firewall, Firewall Policy, IP groups and service tags: the project's 2024-03-01 extracts (paths read upstream)
_AZFW = 'specification/network/resource-manager/Microsoft.Network/stable/2024-03-01/'
_FIREWALLS = ((_AZFW + 'azureFirewall.json', ('AzureFirewalls_Get', 'AzureFirewalls_List', 'AzureFirewalls_ListAll')),
              (_AZFW + 'firewallPolicy.json', ('FirewallPolicies_Get', 'FirewallPolicyRuleCollectionGroups_Get', 'FirewallPolicyRuleCollectionGroups_List',
                                               'FirewallPolicyRuleCollectionGroups_CreateOrUpdate', 'FirewallPolicyRuleCollectionGroups_Delete')),
              (_AZFW + 'ipGroups.json', ('IpGroups_Get', 'IpGroups_ListByResourceGroup', 'IpGroups_List')),
              (_AZFW + 'serviceTags.json', ('ServiceTags_List',)))
# operations neither the extracts nor the baseline hold: shells written by the project (path, verb, model names)
_SHELLS = 'derived/templates/operations.json'
_AKS_BASELINE = 'specification/containerservice/resource-manager/Microsoft.ContainerService/aks/stable/2024-02-01/managedClusters.json'
# the managed cluster operations the project's extracts (Get and List only) leave out
_AKS_WRITES = ((_AKS_BASELINE, ('ManagedClusters_CreateOrUpdate', 'ManagedClusters_UpdateTags', 'ManagedClusters_ListClusterAdminCredentials',
                                'ManagedClusters_ListClusterUserCredentials', 'ManagedClusters_RunCommand', 'ManagedClusters_GetCommandResult')),)
# What definitions are read from: SDK releases (`python`: the virtualenv of scripts/setup.sh that has the release; `target`:
# a folder holding the release alone, put first on PYTHONPATH so it shadows that virtualenv's own) and bicep type extracts.
SOURCES = {
    'azure-mgmt-network 33.1.0': {'distribution': 'azure-mgmt-network', 'release': '33.1.0', 'models': 'azure.mgmt.network.models',
                                  'generator': 'typespec', 'python': '.venv'},
    'azure-mgmt-network 32.0.0': {'distribution': 'azure-mgmt-network', 'release': '32.0.0', 'models': 'azure.mgmt.network.models',
                                  'generator': 'typespec', 'python': '.venv', 'target': '.sdk/azure-mgmt-network-32.0.0'},
    'azure-mgmt-network 31.0.0': {'distribution': 'azure-mgmt-network', 'release': '31.0.0', 'models': 'azure.mgmt.network.models',
                                  'generator': 'typespec', 'python': '.venv', 'target': '.sdk/azure-mgmt-network-31.0.0'},
    'azure-mgmt-network 29.0.0': {'distribution': 'azure-mgmt-network', 'release': '29.0.0', 'models': 'azure.mgmt.network.models',
                                  'generator': 'msrest', 'python': '.venv', 'target': '.sdk/azure-mgmt-network-29.0.0'},
    # multi-api (msrest needs the older core of .venv-compat); its 2022-01-01 folder
    'azure-mgmt-network 21.0.0': {'distribution': 'azure-mgmt-network', 'release': '21.0.0', 'models': 'azure.mgmt.network.v2022_01_01.models',
                                  'generator': 'msrest', 'python': '.venv-compat', 'target': '.sdk/azure-mgmt-network-21.0.0'},
    'azure-mgmt-network 28.0.0': {'distribution': 'azure-mgmt-network', 'release': '28.0.0', 'models': 'azure.mgmt.network.models',
                                  'generator': 'msrest', 'python': '.venv-azcoll'},
    'azure-mgmt-network 26.0.0': {'distribution': 'azure-mgmt-network', 'release': '26.0.0', 'models': 'azure.mgmt.network.models',
                                  'generator': 'msrest', 'python': '.venv', 'target': '.sdk/azure-mgmt-network-26.0.0'},
    'azure-mgmt-network 25.0.0': {'distribution': 'azure-mgmt-network', 'release': '25.0.0', 'models': 'azure.mgmt.network.models',
                                  'generator': 'msrest', 'python': '.venv-compat'},
    'azure-mgmt-compute 39.0.0': {'distribution': 'azure-mgmt-compute', 'release': '39.0.0', 'models': 'azure.mgmt.compute.models',
                                  'generator': 'typespec', 'python': '.venv'},
    'azure-mgmt-containerservice 41.8.0': {'distribution': 'azure-mgmt-containerservice', 'release': '41.8.0',
                                           'models': 'azure.mgmt.containerservice.models', 'generator': 'typespec', 'python': '.venv'},
    'azure-mgmt-containerservice 41.6.0': {'distribution': 'azure-mgmt-containerservice', 'release': '41.6.0',
                                           'models': 'azure.mgmt.containerservice.models', 'generator': 'typespec', 'python': '.venv-az'},
    'azure-mgmt-containerservice 32.1.0': {'distribution': 'azure-mgmt-containerservice', 'release': '32.1.0',
                                           'models': 'azure.mgmt.containerservice.v2024_08_01.models', 'generator': 'msrest',
                                           'python': '.venv-azcoll'},
    'azure-mgmt-resource 24.0.0': {'distribution': 'azure-mgmt-resource', 'release': '24.0.0',
                                   'models': 'azure.mgmt.resource.subscriptions.v2022_12_01.models', 'generator': 'msrest', 'python': '.venv-az'},
    'azure-mgmt-resource 24.0.0 v2016_06_01': {'distribution': 'azure-mgmt-resource', 'release': '24.0.0',
                                               'models': 'azure.mgmt.resource.subscriptions.v2016_06_01.models', 'generator': 'msrest',
                                               'python': '.venv-az'},
    'bicep-types-az network 2025-09-01': {'distribution': 'Azure/bicep-types-az', 'release': '430768b4dc20f00655986a1ed27cb1fc593041c6',
                                          'models': 'derived/network/2025-09-01/types.md', 'generator': 'bicep-types-md'},
}
# the SDK release of each network api-version the emulator accepts
_NETWORK_RELEASES = (('2022-01-01', 'azure-mgmt-network 21.0.0'), ('2023-04-01', 'azure-mgmt-network 25.0.0'),
                     ('2024-01-01', 'azure-mgmt-network 26.0.0'), ('2024-03-01', 'azure-mgmt-network 28.0.0'),
                     ('2024-07-01', 'azure-mgmt-network 29.0.0'), ('2025-07-01', 'azure-mgmt-network 31.0.0'),
                     ('2025-09-01', 'azure-mgmt-network 32.0.0'), ('2026-03-01', 'azure-mgmt-network 33.1.0'))
# key -> what a derived file is made of: the operations of a spec group at an api-version that the project's extracts leave
# out, for the clients that send that version. `file`: relative to tests/lab/specs; `templates`: (spec file relative to
# tests/lab/specs, else to the shared folder; operationIds taken from it); `cross_check`: another source of the same version it
# must agree with.
DERIVED = {
    # azure-mgmt-network 33.1.0, the highest
    'network-2026-03-01': {
        'group': 'network', 'api_version': '2026-03-01', 'source': 'azure-mgmt-network 33.1.0', 'file': 'derived/network/2026-03-01/network.json',
        'templates': _NSG_AND_PIP_TEMPLATES + _SUBNET_PUT + _NIC_NAT_ROUTES,
    },
    # azure-mgmt-network 25.0.0, the lowest
    'network-2023-04-01': {
        'group': 'network', 'api_version': '2023-04-01', 'source': 'azure-mgmt-network 25.0.0', 'file': 'derived/network/2023-04-01/network.json',
        'templates': ((_STABLE + '2023-09-01/vmssNetworkInterface.json', _VMSS_NIC_OPERATIONS),) + _VNET_AND_PIP + _NIC_NAT_ROUTES,
    },
    # azure-mgmt-network 28.0.0, azure.azcollection's pin
    'network-2024-03-01': {
        'group': 'network', 'api_version': '2024-03-01', 'source': 'azure-mgmt-network 28.0.0', 'file': 'derived/network/2024-03-01/network.json',
        'templates': _SUBNET_PUT + _NIC_NAT_ROUTES,
    },
    # az network public-ip sends 2025-09-01: derived from the bicep types kept in the tree (no client of ours pins azure-mgmt-network
    # 32.0.0, the release of that version), and checked against 32.0.0 where scripts/setup.sh installed it
    'network-2025-09-01': {
        'group': 'network', 'api_version': '2025-09-01', 'source': 'bicep-types-az network 2025-09-01', 'cross_check': 'azure-mgmt-network 32.0.0',
        'file': 'derived/network/2025-09-01/networkSecurityGroup-publicIpAddress.json', 'templates': _NSG_AND_PIP_TEMPLATES,
    },
    # ... and the other operations at 2025-09-01 (accepted, sent by no client of ours) from 32.0.0
    'network-2025-09-01-sdk': {
        'group': 'network', 'api_version': '2025-09-01', 'source': 'azure-mgmt-network 32.0.0', 'file': 'derived/network/2025-09-01/network.json',
        'templates': _SUBNET_PUT + _NIC_NAT_ROUTES,
    },
    # the versions the Azure CLI sends for some network commands (az network nsg 2022-01-01, subnet 2024-07-01, lb / vnet 2025-07-01):
    # the other operations there, from the SDK release of each version
    'network-2022-01-01': {
        'group': 'network', 'api_version': '2022-01-01', 'source': 'azure-mgmt-network 21.0.0', 'file': 'derived/network/2022-01-01/network.json',
        'templates': _LOAD_BALANCERS + _VNET_AND_PIP + _NIC_NAT_ROUTES,
    },
    'network-2024-07-01': {
        'group': 'network', 'api_version': '2024-07-01', 'source': 'azure-mgmt-network 29.0.0', 'file': 'derived/network/2024-07-01/network.json',
        'templates': _SUBNET_PUT + _NIC_NAT_ROUTES,
    },
    'network-2025-07-01': {
        'group': 'network', 'api_version': '2025-07-01', 'source': 'azure-mgmt-network 31.0.0', 'file': 'derived/network/2025-07-01/network.json',
        'templates': ((_BASELINE + 'publicIpAddress.json', _PIP_OPERATIONS),) + _SUBNET_PUT + _NIC_NAT_ROUTES,
    },
    # firewalls at every network api-version the emulator accepts but 2024-03-01 (the extract's), from the release of each
    **{'azfw-' + version: {'group': 'azfw', 'api_version': version, 'source': source, 'file': 'derived/azfw/%s/firewalls.json' % version,
                           'templates': _FIREWALLS}
       for version, source in _NETWORK_RELEASES if version != '2024-03-01'},
    # Virtual Network Manager effective security admin rules (polymorphic) and public IP prefixes at every network api-version
    **{'%s-%s' % (group, version): {'group': group, 'api_version': version, 'source': source, 'file': 'derived/%s/%s/%s.json' % (group, version, group),
                                    'templates': ((_SHELLS, (operation,)),)}
       for group, operation in (('avnm', 'ListNetworkManagerEffectiveSecurityAdminRules'), ('pipprefix', 'PublicIPPrefixes_Get'))
       for version, source in _NETWORK_RELEASES},
    # subscriptions and tenants: az login (azure-cli 2.91's SubscriptionClient, azure-mgmt-resource 24.0.0), and the oldest version
    **{'resources-' + version: {'group': 'resources', 'api_version': version, 'source': source,
                                'file': 'derived/resources/%s/subscriptions.json' % version,
                                'templates': ((_SHELLS, ('Subscriptions_List', 'Subscriptions_Get', 'Tenants_List')),)}
       for version, source in (('2016-06-01', 'azure-mgmt-resource 24.0.0 v2016_06_01'), ('2022-12-01', 'azure-mgmt-resource 24.0.0'))},
    # azure-mgmt-containerservice 32.1.0 (azure.azcollection's pin), az aks (azure-cli 2.91: 41.6.0), 41.8.0 (the highest)
    'aks-2024-08-01': {'group': 'aks', 'api_version': '2024-08-01', 'source': 'azure-mgmt-containerservice 32.1.0',
                       'file': 'derived/aks/2024-08-01/managedClusters.json', 'templates': _AKS_WRITES},
    'aks-2026-06-01': {'group': 'aks', 'api_version': '2026-06-01', 'source': 'azure-mgmt-containerservice 41.6.0',
                       'file': 'derived/aks/2026-06-01/managedClusters.json', 'templates': _AKS_WRITES},
    'aks-2026-08-01': {'group': 'aks', 'api_version': '2026-08-01', 'source': 'azure-mgmt-containerservice 41.8.0',
                       'file': 'derived/aks/2026-08-01/managedClusters.json', 'templates': _AKS_WRITES},
}
# Known inaccuracies of a spec that its SDK release carries, corrected in the derived definitions: (definition, required
# property) -> the upstream report. ARM leaves nextLink out on the last page, and every real client accepts that.
SPEC_CORRECTIONS = {
    ('SubscriptionListResult', 'nextLink'): 'Azure/azure-rest-api-specs#17621 (Subscriptions_List requires nextLink; the service omits it)',
    ('TenantListResult', 'nextLink'): 'Azure/azure-rest-api-specs#17621 (the same for Tenants_List)',
}
_TITLES = {'network': 'NetworkManagementClient', 'azfw': 'NetworkManagementClient', 'avnm': 'NetworkManagementClient',
           'pipprefix': 'NetworkManagementClient', 'aks': 'ContainerServiceClient', 'resources': 'SubscriptionClient'}
_KNOWN_VALUES = re.compile(r'Known values are:(.*?)(?:\.\s*$|\.\s+[A-Z]|$)', re.S)
_PRIMITIVES = {str: {'type': 'string'}, int: {'type': 'integer'}, float: {'type': 'number'}, bool: {'type': 'boolean'},
               datetime.datetime: {'type': 'string', 'format': 'date-time'}, datetime.date: {'type': 'string'},
               datetime.timedelta: {'type': 'string'}, bytes: {'type': 'string'}}
_MSREST_PRIMITIVES = {'str': {'type': 'string'}, 'int': {'type': 'integer'}, 'long': {'type': 'integer'}, 'float': {'type': 'number'},
                      'bool': {'type': 'boolean'}, 'iso-8601': {'type': 'string', 'format': 'date-time'},
                      'rfc-1123': {'type': 'string'}, 'duration': {'type': 'string'}, 'date': {'type': 'string'},
                      'bytearray': {'type': 'string'}, 'base64': {'type': 'string'}, 'object': {}}


def specs_root():
    """AKS_TUNNEL_AZURE_SPECS, else the first `shared/azure-specs` beside the repo or beside one of its ancestors.

    Walking up also finds it from a collection copy such as <repo>/.tmp/collections/ansible_collections/aks/tunnel.
    """
    env = os.environ.get('AKS_TUNNEL_AZURE_SPECS')
    if env:
        return env
    default = None
    for start in (os.path.realpath(__file__), os.path.abspath(__file__)):
        repo = os.path.dirname(os.path.dirname(os.path.dirname(start)))
        parent = os.path.dirname(repo)
        default = default or os.path.join(parent, 'shared', 'azure-specs')
        while True:
            candidate = os.path.join(parent, 'shared', 'azure-specs')
            if os.path.isdir(os.path.join(candidate, 'specification')):
                return candidate
            if os.path.dirname(parent) == parent:
                break
            parent = os.path.dirname(parent)
    return default


class DerivationError(RuntimeError):
    """The SDK at hand is not the release a derived file names, or a model cannot be read."""


def _unique(values):
    return list(dict.fromkeys(values))


def _ivar_known_values(module, cls, attr):
    """The enum of the `:ivar attr:` of `cls` (or a base class): its `:vartype` enum class, else the "Known values are" list."""
    for klass in cls.__mro__:
        doc = klass.__dict__.get('__doc__') or ''
        vartype = re.search(r':vartype %s: str or\s+~[\w.]+\.(\w+)' % re.escape(attr), doc)
        enum_cls = getattr(module, vartype.group(1), None) if vartype else None
        if isinstance(enum_cls, type) and issubclass(enum_cls, enum.Enum):
            return _unique(m.value for m in enum_cls)
        match = re.search(r':ivar %s:(.*?)(?=\n\s*:(?:vartype|ivar|keyword|param)\b|\Z)' % re.escape(attr), doc, re.S)
        if match:
            known = _KNOWN_VALUES.search(' '.join(match.group(1).split()))
            return _unique(re.findall(r'"([^"]*)"', known.group(1))) if known else None
    return None


def _polymorphic(root, subtypes, wire, base_value, refs):
    """A polymorphic model the way swagger writes one: the base names its `discriminator` (its subtypes are reached through it),
    each subtype has `allOf` the base and its `x-ms-discriminator-value` (tests/lab/swagger.py turns them into a oneOf)."""
    if subtypes:
        root['discriminator'] = wire
        refs.extend(sorted(subtypes))
    if base_value:
        base, value = base_value
        root['allOf'] = [{'$ref': '#/definitions/' + base}]
        root['x-ms-discriminator-value'] = value
        refs.append(base)
    return root


class _MsrestModels:
    """msrest-generated models: the wire shape is `_attribute_map`, flattened `properties.x` keys become one nested object."""

    def __init__(self, module):
        self.module = module

    def model(self, name):
        cls = getattr(self.module, name, None)
        return cls if isinstance(cls, type) and hasattr(cls, '_attribute_map') else None

    def _type(self, type_name, cls, attr, refs):
        if type_name.startswith('[') and type_name.endswith(']'):
            return {'type': 'array', 'items': self._type(type_name[1:-1], cls, attr, refs)}
        if type_name.startswith('{') and type_name.endswith('}'):
            return {'type': 'object', 'additionalProperties': self._type(type_name[1:-1], cls, attr, refs)}
        if type_name in _MSREST_PRIMITIVES:
            schema = dict(_MSREST_PRIMITIVES[type_name])
            known = _ivar_known_values(self.module, cls, attr) if type_name == 'str' else None
            if known:
                schema['enum'] = known
            return schema
        if self.model(type_name) is None:
            enum_cls = getattr(self.module, type_name, None)
            if isinstance(enum_cls, type) and issubclass(enum_cls, enum.Enum):
                return {'type': 'string', 'enum': _unique(m.value for m in enum_cls)}
            raise DerivationError('%s.%s has the type %r, which is neither a model nor an enum' % (cls.__name__, attr, type_name))
        refs.append(type_name)
        return {'$ref': '#/definitions/' + type_name}

    def definition(self, name, refs):
        cls = self.model(name)
        validation = getattr(cls, '_validation', {}) or {}
        root = {'type': 'object', 'properties': {}}
        for attr, spec in cls._attribute_map.items():
            keys = [k.replace('\\.', '.') for k in re.split(r'(?<!\\)\.', spec['key'])]
            schema = self._type(spec['type'], cls, attr, refs)
            rules = validation.get(attr, {})
            if rules.get('readonly'):
                schema['readOnly'] = True
            for rule, keyword in (('minimum', 'minimum'), ('maximum', 'maximum'), ('min_items', 'minItems'), ('max_items', 'maxItems')):
                if rule in rules:
                    schema[keyword] = rules[rule]
            node = root
            for key in keys[:-1]:
                node = node['properties'].setdefault(key, {'type': 'object', 'properties': {}})
            node['properties'][keys[-1]] = schema
            if rules.get('required') and not rules.get('readonly'):
                node.setdefault('required', []).append(keys[-1])
        own = vars(cls).get('_subtype_map') or {}
        attr, values = next(iter(own.items())) if own else (None, {})
        base_value = next(((base.__name__, value) for base in cls.__mro__[1:] for subtypes in (vars(base).get('_subtype_map') or {}).values()
                           for value, name in subtypes.items() if name == cls.__name__), None)
        return _polymorphic(root, set(values.values()), cls._attribute_map[attr]['key'] if attr else None, base_value, refs)


class _TypespecModels:
    """TypeSpec-generated hybrid models: `rest_field` descriptors and type hints."""

    def __init__(self, module):
        self.module = module
        namespace = dict(vars(importlib.import_module(module.__name__ + '._models')))
        namespace['_models'] = module
        self.namespace = namespace

    def model(self, name):
        cls = getattr(self.module, name, None)
        return cls if isinstance(cls, type) and getattr(cls, '_is_model', False) else None

    def _type(self, hint, cls, attr, refs):
        origin, args = typing.get_origin(hint), typing.get_args(hint)
        if origin is typing.Union:
            args = [a for a in args if a is not type(None)]
            enums = [a for a in args if isinstance(a, type) and issubclass(a, enum.Enum)]
            if enums:
                return {'type': 'string', 'enum': _unique(m.value for e in enums for m in e)}
            if len(args) == 1:
                return self._type(args[0], cls, attr, refs)
            return {}
        if origin is typing.Literal:
            return {'type': 'string', 'enum': list(args)}
        if origin in (list, typing.List):
            return {'type': 'array', 'items': self._type(args[0], cls, attr, refs)}
        if origin in (dict, typing.Dict):
            return {'type': 'object', 'additionalProperties': self._type(args[1], cls, attr, refs)}
        if hint is typing.Any:
            return {}
        if isinstance(hint, type) and issubclass(hint, enum.Enum):
            return {'type': 'string', 'enum': _unique(m.value for m in hint)}
        if hint in _PRIMITIVES:
            return dict(_PRIMITIVES[hint])
        if isinstance(hint, type) and self.model(hint.__name__) is hint:
            refs.append(hint.__name__)
            return {'$ref': '#/definitions/' + hint.__name__}
        raise DerivationError('%s.%s has the type %r, which the derivation does not know' % (cls.__name__, attr, hint))

    def definition(self, name, refs):
        cls = self.model(name)
        hints = typing.get_type_hints(cls, globalns=self.namespace)
        fields = {}
        for klass in reversed(cls.__mro__):
            for attr, value in vars(klass).items():
                if type(value).__name__ == '_RestField':
                    fields[attr] = value
        root = {'type': 'object', 'properties': {}}
        for attr, field in fields.items():
            hint = hints.get(attr, typing.Any)
            schema = self._type(hint, cls, attr, refs)
            if field._visibility == ['read']:
                schema['readOnly'] = True
            wire = field._rest_name_input or attr
            root['properties'][wire] = schema
            optional = typing.get_origin(hint) is typing.Union and type(None) in typing.get_args(hint)
            if not optional and field._visibility != ['read']:
                root.setdefault('required', []).append(wire)
        mapping = vars(cls).get('__mapping__') or {}
        wire = next((f._rest_name_input or a for a, f in fields.items() if f._is_discriminator), None)
        base_value = next(((base.__name__, value) for base in cls.__mro__[1:] for value, sub in
                           (vars(base).get('__mapping__') or {}).items() if sub is cls), None)
        return _polymorphic(root, {sub.__name__ for sub in mapping.values()}, wire, base_value, refs)


class _BicepTypesModels:
    """Sections of a bicep-types-az `types.md` (`## Name`, then `* **wire**: type {constraints} (flags): text` lines)."""

    reduced_outside = True  # a type whose section is not kept becomes {}
    _LINE = re.compile(r'^\* \*\*(?P<name>[^*]+)\*\*: (?P<rest>.*)$')
    _TAIL = re.compile(r'^(?: \{(?P<constraints>[^}]*)\})?(?: \((?P<flags>[A-Za-z, ]+)\))?(?::.*)?$')

    def __init__(self, path):
        self.sections = {}
        name = None
        with open(path, encoding='utf-8') as handle:
            for line in handle:
                if line.startswith('## '):
                    name = line[3:].strip()
                    self.sections[name] = []
                elif name and line.startswith('* **'):
                    self.sections[name].append(line.rstrip('\n'))

    def model(self, name):
        return name if name in self.sections else None

    @staticmethod
    def _split_type(rest):
        """(type text, the rest of the line): a [Name](#anchor)[], a ('a' | string)[] or a union / primitive."""
        if rest.startswith('['):
            end = rest.index(')') + 1
        elif rest.startswith('('):
            end = rest.index(')') + 1
        else:
            end = len(rest)
            for stop in (' {', ' (', ':'):
                index = rest.find(stop)
                if index != -1:
                    end = min(end, index)
        if rest[end:end + 2] == '[]':
            end += 2
        return rest[:end], rest[end:]

    def _type(self, text, refs):
        if text.endswith('[]'):
            inner = text[:-2]
            if inner.startswith('(') and inner.endswith(')'):
                inner = inner[1:-1]
            return {'type': 'array', 'items': self._type(inner, refs)}
        ref = re.fullmatch(r'\[(\w+)\]\(#\w+\)', text)
        if ref:
            refs.append(ref.group(1))
            return {'$ref': '#/definitions/' + ref.group(1)}
        if "'" in text:
            values = [part.strip()[1:-1] for part in text.split('|') if part.strip().startswith("'")]
            return {'type': 'string', 'enum': values}
        primitive = {'string': {'type': 'string'}, 'int': {'type': 'integer'}, 'bool': {'type': 'boolean'}, 'any': {}}.get(text)
        if primitive is None:
            raise DerivationError('unknown bicep type %r' % text)
        return dict(primitive)

    def definition(self, name, refs):
        root = {'type': 'object', 'properties': {}}
        for line in self.sections[name]:
            match = self._LINE.match(line)
            type_text, tail = self._split_type(match.group('rest'))
            if match.group('name') == 'Additional Properties Type':
                root['additionalProperties'] = self._type(type_text, refs)
                continue
            schema = self._type(type_text, refs)
            extra = self._TAIL.match(tail)
            if extra is None:
                raise DerivationError('%s: cannot read %r' % (name, line))
            for constraint in (extra.group('constraints') or '').split(','):
                key, _sep, value = constraint.partition(':')
                keyword = {'minValue': 'minimum', 'maxValue': 'maximum'}.get(key.strip())
                if keyword:
                    schema[keyword] = int(value)
            flags = [f.strip() for f in (extra.group('flags') or '').split(',')]
            if 'ReadOnly' in flags:
                schema['readOnly'] = True
            if 'Required' in flags:
                root.setdefault('required', []).append(match.group('name'))
            root['properties'][match.group('name')] = schema
        if not root['properties']:
            del root['properties']
        return root


def _models(entry):
    """The reader of SOURCES entry `entry` (an SDK release must be the one importable here)."""
    if entry['generator'] == 'bicep-types-md':
        return _BicepTypesModels(os.path.join(SPECS, entry['models']))
    module = importlib.import_module(entry['models'])
    try:
        from importlib import metadata  # pylint: disable=import-outside-toplevel
        release = metadata.version(entry['distribution'])
    except Exception as exc:  # pylint: disable=broad-except
        raise DerivationError('%s is not installed: %s' % (entry['distribution'], exc)) from exc
    if release != entry['release']:
        raise DerivationError('%s %s is installed, the file is derived from %s' % (entry['distribution'], release, entry['release']))
    return (_MsrestModels if entry['generator'] == 'msrest' else _TypespecModels)(module)


def _template_operations(rel, operation_ids):
    """(spec, {operationId: (path, method, operation with its body parameter's $ref resolved)}) of `rel`: the project's file at
    that path under tests/lab/specs, else the shared folder's (the baseline)."""
    path = os.path.join(SPECS, rel)
    with open(path if os.path.exists(path) else os.path.join(specs_root(), rel), encoding='utf-8') as handle:
        spec = json.load(handle)
    found = {}
    for template, ops in spec['paths'].items():
        for method, op in ops.items():
            if isinstance(op, dict) and op.get('operationId') in operation_ids:
                params = [spec['parameters'][p['$ref'].rsplit('/', 1)[-1]] if str(p.get('$ref', '')).startswith('#/parameters/') else p
                          for p in op.get('parameters', [])]
                found[op['operationId']] = (template, method, dict(op, parameters=params))
    missing = sorted(set(operation_ids) - set(found))
    if missing:
        raise DerivationError('%s has no operation %s' % (rel, ', '.join(missing)))
    return spec, found


def _list_item(spec, name):
    """The item definition of the template's list result `name` ({value: [item], nextLink}), or None."""
    value = spec.get('definitions', {}).get(name, {}).get('properties', {}).get('value', {})
    return _schema_name(spec, value.get('items', {})) or None if value.get('type') == 'array' else None


def _schema_name(spec, schema):
    """The definition name a template's `$ref` points at (the SDK names its model classes after the spec's definitions)."""
    ref = schema.get('$ref', '')
    name = ref.rsplit('/', 1)[-1]
    return name[len('Common.'):] if name.startswith('Common.') else name


def _closure(entry, models, roots, list_items=None):
    """The definitions of the models named in `roots` and of every model they reach, sorted by name."""
    definitions, queue, list_items = {}, list(roots), list_items or {}
    while queue:
        name = queue.pop()
        if name in definitions:
            continue
        if models.model(name) is None and name in list_items:
            # TypeSpec clients have no list result models: their pagers read `value` (a list of the item model) and `nextLink`
            definitions[name] = {'type': 'object', 'properties': {
                'value': {'type': 'array', 'items': {'$ref': '#/definitions/' + list_items[name]}}, 'nextLink': {'type': 'string'}}}
            queue.append(list_items[name])
            continue
        if models.model(name) is None and getattr(models, 'reduced_outside', False):
            definitions[name] = {}
            continue
        if models.model(name) is None:
            raise DerivationError('%s %s has no model %s' % (entry['distribution'], entry['release'], name))
        refs = []
        definitions[name] = models.definition(name, refs)
        queue.extend(refs)
        for (definition, prop), _report in SPEC_CORRECTIONS.items():
            required = definitions[name].get('required') or []
            if definition == name and prop in required:
                required.remove(prop)
                if not required:
                    del definitions[name]['required']
    return dict(sorted(definitions.items()))


def derive_definitions(source, roots):
    """The definitions SOURCES[source] gives for the models `roots` and all they reach."""
    entry = SOURCES[source]
    return _closure(entry, _models(entry), roots)


def cross_check_definitions(key):
    """The definitions DERIVED[key]'s `cross_check` source gives for the models its file defines (those not reduced)."""
    entry = SOURCES[DERIVED[key]['cross_check']]
    models = _models(entry)
    with open(os.path.join(SPECS, DERIVED[key]['file']), encoding='utf-8') as handle:
        defined = json.load(handle)['definitions']
    return _closure(entry, models, [name for name, schema in defined.items() if schema and models.model(name)])


def request_builders(source):
    """{builder name: [HTTP method, URL template]} of the `build_*_request` functions of SOURCES[source]'s operations package.

    The generated clients build every request in such a function; its URL template and method are the spec's path and verb
    of the operation (`build_load_balancers_get_request` is LoadBalancers_Get).
    """
    entry = SOURCES[source]
    _models(entry)  # the release check
    package = importlib.import_module(entry['models'].rsplit('.', 1)[0] + '.operations')
    builders = {}
    folder = os.path.dirname(package.__file__)
    for filename in sorted(os.listdir(folder)):
        if not filename.endswith('.py'):
            continue
        with open(os.path.join(folder, filename), encoding='utf-8') as handle:
            text = handle.read()
        # one file per operation group (`_managed_clusters_operations.py`) names its builders without the group (`build_get_request`)
        group = re.fullmatch(r'_(\w+)_operations\.py', filename)
        # (older generators name the first request of a long-running operation `build_<operation>_request_initial`)
        for match in re.finditer(r'^def build_(\w+?)_request(?:_initial)?\((.*?)(?=^def |^class |\Z)', text, re.S | re.M):
            url = re.search(r'_url = (?:kwargs\.pop\(\s*"template_url",\s*|\(\s*)?"([^"]+)"', match.group(2))
            method = re.search(r'HttpRequest\(\s*method="(\w+)"', match.group(2))
            if url and method:
                name = match.group(1)
                if group and not name.startswith(group.group(1) + '_'):
                    name = group.group(1) + '_' + name
                builders[name] = [method.group(1), url.group(1)]
    return dict(sorted(builders.items()))


def derive(key):
    """The swagger 2.0 document of DERIVED[key], from its source (an SDK release must be the one importable here)."""
    entry = DERIVED[key]
    source = SOURCES[entry['source']]
    models = _models(source)
    paths, roots, list_items = {}, [], {}
    for rel, operation_ids in entry['templates']:
        spec, found = _template_operations(rel, operation_ids)
        list_items.update((name, _list_item(spec, name)) for name in spec.get('definitions', {}) if _list_item(spec, name))
        for operation_id in operation_ids:
            template, method, op = found[operation_id]
            out = {'operationId': operation_id, 'responses': {}}
            for param in op.get('parameters', []):
                if param.get('in') == 'body':
                    name = _schema_name(spec, param['schema'])
                    roots.append(name)
                    out['parameters'] = [{'name': param['name'], 'in': 'body', 'required': True,
                                          'schema': {'$ref': '#/definitions/' + name}}]
            for status, response in op['responses'].items():
                if status == 'default':
                    continue  # errors are validated against the baseline's CloudError
                if 'schema' in response:
                    name = _schema_name(spec, response['schema'])
                    roots.append(name)
                    out['responses'][status] = {'description': 'OK', 'schema': {'$ref': '#/definitions/' + name}}
                else:
                    out['responses'][status] = {'description': 'OK'}
            paths.setdefault(template, {})[method] = out
    definitions = _closure(source, models, roots, list_items)
    return {
        'swagger': '2.0',
        'info': {'title': _TITLES[entry['group']], 'version': entry['api_version'], 'x-aks-tunnel-derived': (
            'Derived by tests/lab/derived_specs.py (%s) from %s %s, which Microsoft generated from the %s specs (MIT); '
            'operation paths from %s. Not an upstream file: see tests/lab/specs/README.md, "Derived files".'
            % (key, source['distribution'], source['release'], entry['api_version'], ', '.join(rel for rel, _operations in entry['templates'])))},
        'paths': paths,
        'definitions': definitions,
    }


def dumps(document):
    return json.dumps(document, indent=1, sort_keys=False) + '\n'


def runtime(source, locate):
    """(python, environment) in which SOURCES[source] is importable. `locate(folder)` gives the path of a virtualenv or .sdk/
    folder of scripts/setup.sh, or None; a folder it cannot find raises LookupError(folder). `.venv` is the running Python."""
    entry = SOURCES[source]
    python, env = sys.executable, dict(os.environ)
    for kind in ('python', 'target'):
        folder = entry.get(kind)
        if folder in (None, '.venv'):
            continue
        found = locate(folder)
        if found is None:
            raise LookupError(folder)
        if kind == 'python':
            python = os.path.join(found, 'bin', 'python')
        else:
            env['PYTHONPATH'] = found
    return python, env


def _regenerate_all():
    """Rewrite every derived file, each in the Python where its source is importable (the repository's virtualenvs and .sdk/)."""
    import subprocess  # pylint: disable=import-outside-toplevel
    repo = os.path.dirname(os.path.dirname(HERE))
    for key, entry in DERIVED.items():
        python, env = runtime(entry['source'], lambda folder: os.path.join(repo, folder))
        subprocess.run([python, os.path.abspath(__file__), 'write', key], check=True, env=env, timeout=300)
        sys.stdout.write('wrote %s\n' % entry['file'])
    return 0


def main(argv):
    if argv[1:] == ['regenerate']:
        return _regenerate_all()
    command, name = (argv[1], argv[2]) if len(argv) > 2 else (None, None)
    if not (command in ('write', 'print', 'crosscheck') and name in DERIVED or command in ('definitions', 'builders') and name in SOURCES):
        sys.stderr.write('usage: python tests/lab/derived_specs.py regenerate, write|print|crosscheck KEY (%s), definitions SOURCE MODEL..., '
                         'or builders SOURCE (SOURCE: %s)\n' % (', '.join(DERIVED), '; '.join(SOURCES)))
        return 2
    if command == 'builders':
        sys.stdout.write(dumps(request_builders(name)))
        return 0
    if command in ('definitions', 'crosscheck'):
        sys.stdout.write(dumps(derive_definitions(name, argv[3:]) if command == 'definitions' else cross_check_definitions(name)))
        return 0
    text = dumps(derive(name))
    if command == 'print':
        sys.stdout.write(text)
        return 0
    path = os.path.join(SPECS, DERIVED[name]['file'])
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, 'w', encoding='utf-8') as handle:
        handle.write(text)
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv))
