# -*- coding: utf-8 -*-
# Copyright (c) 2026 aks.tunnel contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The api-versions the ARM emulator accepts, and the response shape each one gets.

Azure accepts many api-versions per resource type; a client sends the one its SDK (or the Azure CLI command) was
generated for. The emulator accepts those of every client the project supports or tests with, and answers an other
one like ARM (400 NoRegisteredProviderFound naming the accepted ones). `extra_api_versions` in the config adds more.

Shapes: the emulator renders the newest shape; `shape_for_version` removes what an older api-version's spec does not
define (tests/integration/lab_arm/test_arm_api_versions.py checks both sides against the vendored specs).
"""

from __future__ import annotations

# The api-versions the emulator accepts per provider: those the supported SDK range sends (requirements.txt: the lowest
# and the highest of each range), those the Azure CLI sends for the commands of the article (azure-cli 2.91), and those
# whose swagger is vendored. Responses are validated against the spec of their own api-version where the project has
# it (tests/lab/swagger.py spec_version: VENDORED_VERSIONS and EXACT_SPECS), the nearest one otherwise.
API_VERSIONS = {
    # azure-mgmt-network 25.0.0 -> 2023-04-01, 28.0.0 (azure.azcollection's pin) -> 2024-03-01, 33.1.0 -> 2026-03-01;
    # az 2.91 (aaz, per command): nsg / nsg rule 2022-01-01, lb show 2025-07-01 (its SDK part 2023-04-01), vnet 2025-07-01,
    # subnet 2024-07-01, public-ip 2025-09-01; vendored spec 2024-01-01
    'network': ('2022-01-01', '2023-04-01', '2024-01-01', '2024-03-01', '2024-07-01', '2025-07-01', '2025-09-01', '2026-03-01'),
    # VMSS NIC operations: azure-mgmt-network 25.0.0 and 33.1.0 send 2018-10-01 (the spec file of that folder names 2017-03-30 in
    # its parameter enum, but no supported client sends it: unclaimed, like any other), 25.0.0 also 2023-04-01;
    # az vmss nic 2023-09-01. 2018-10-01 and 2023-09-01 are validated against their own extracts (tests/lab/specs/).
    'network-vmss': ('2018-10-01', '2023-04-01', '2023-09-01'),
    # azure-mgmt-compute 30.0.0 -> 2023-03-01, 33.0.0 (azure.azcollection's pin) -> 2024-07-01, 39.0.0 -> 2026-04-01;
    # az 2.91 -> 2024-11-01; vendored spec 2024-03-01
    'compute': ('2023-03-01', '2024-03-01', '2024-07-01', '2024-11-01', '2026-04-01'),
    # azure-mgmt-containerservice 30.0.0 -> 2024-02-01 (= the vendored spec), 32.1.0 (azure.azcollection's pin) -> 2024-08-01,
    # 41.8.0 -> 2026-08-01; az 2.91 -> 2026-06-01
    'aks': ('2024-02-01', '2024-08-01', '2026-06-01', '2026-08-01'),
    # azure-mgmt-monitor 6.0.0 -> 2021-05-01, 7.0.0 -> 2024-02-01 (= the vendored spec); az 2.91 -> 2018-01-01
    'insights': ('2018-01-01', '2021-05-01', '2024-02-01'),
    # Microsoft.Resources subscriptions / tenants (SubscriptionClient): az 2.91 -> 2022-12-01
    # (2020-01-01 was accepted too; no client of ours sends it and no SDK release has it, so there is no spec file of it either:
    # refused like any other since issue 15)
    'resources': ('2016-06-01', '2022-12-01'),
    # Microsoft.Network/privateDnsZones (its own api-versions): the collection's plain GET of the virtual network links sends
    # 2024-06-01 (_private_dns.LINKS_API_VERSION; the vendored extract)
    'privatedns': ('2024-06-01',),
}

# (category, resource type, field path, last api-version without it): the field is dropped for that version and older
# ones. Found by swagger.undefined_properties on the responses at the vendored versions
# (test_arm_api_versions.py): the managed cluster's `eTag` and `apiServerAccessProfile.enableVnetIntegration` / `subnetId`
# are neither in the 2024-02-01 nor in the 2024-08-01 spec (tests/lab/specs/), and all three are in 2026-06-01 and 2026-08-01
# (the SDKs of that range send If-Match with the eTag).
VERSION_FIELDS = (
    ('aks', 'Microsoft.ContainerService/managedClusters', ('eTag',), '2024-08-01'),
    ('aks', 'Microsoft.ContainerService/managedClusters', ('properties', 'apiServerAccessProfile', 'enableVnetIntegration'), '2024-08-01'),
    ('aks', 'Microsoft.ContainerService/managedClusters', ('properties', 'apiServerAccessProfile', 'subnetId'), '2024-08-01'),
    # a scale set VM's `timeCreated` is not in the compute 2023-03-01 spec (tests/lab/specs/), it is in 2024-03-01
    ('compute', 'Microsoft.Compute/virtualMachineScaleSets/virtualMachines', ('properties', 'timeCreated'), '2023-03-01'),
)


def _drop(node, path):
    for key in path[:-1]:
        node = node.get(key) if isinstance(node, dict) else None
    if isinstance(node, dict):
        node.pop(path[-1], None)


def _strip(node, category, api_version):
    if isinstance(node, list):
        return [_strip(x, category, api_version) for x in node]
    if not isinstance(node, dict):
        return node
    node = {k: _strip(v, category, api_version) for k, v in node.items()}
    rtype = node.get('type') if isinstance(node.get('type'), str) else None
    for cat, resource_type, path, last in VERSION_FIELDS:
        if cat == category and rtype and rtype.lower() == resource_type.lower() and api_version <= last:
            _drop(node, path)
    return node


def shape_for_version(category, api_version, body):
    """`body` as the api-version's spec describes it (only the known differences, VERSION_FIELDS)."""
    if body is None or not api_version or not any(cat == category for cat, _a, _b, _c in VERSION_FIELDS):
        return body
    return _strip(body, category, api_version)
