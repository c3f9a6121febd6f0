# -*- coding: utf-8 -*-
# Copyright (c) 2026 aks.tunnel contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Microsoft.Network service tags (issue 16): the Service Tag Discovery API, ServiceTags_List
(``GET /subscriptions/{sub}/providers/Microsoft.Network/locations/{location}/serviceTags``; action
``Microsoft.Network/locations/serviceTags/read``), validated against the vendored extract of serviceTags.json (network stable
2024-03-01, tests/lab/specs/, group ``azfw`` of tests/lab/swagger.py).

The answer is the cloud's whole tag list whatever the location (the location only picks the version, as the spec says). The lab
answers with the entries of the public sample of that operation - Azure/azure-rest-api-specs,
``specification/network/resource-manager/Microsoft.Network/stable/2024-03-01/examples/ServiceTagsList.json`` (MIT, commit
4c2bd88b25b6343f7b22b372534b8e1f9f365ff1): real tag names, system services and prefixes of the public cloud, a reduced list - then
the entries of config ``service_tags`` ([{name, region?, system_service?, address_prefixes}]) for a scenario that needs a tag
holding its own addresses. The sample's ``nextLink`` (a placeholder with ``{skipToken}``) is left out: one page.
"""

from __future__ import annotations

import copy

from ..common import Response

# The sample's cloud-level fields and values, as published (name 'public', change number 63).
SAMPLE_CHANGE_NUMBER = '63'
SAMPLE_VALUES = [
    {'name': 'ApiManagement', 'id': 'ApiManagement', 'properties': {
        'changeNumber': '7', 'region': '', 'systemService': 'AzureApiManagement',
        'addressPrefixes': ['13.64.39.16/32', '40.74.146.80/31', '40.74.147.32/28']}},
    {'name': 'ApiManagement.AustraliaCentral', 'id': 'ApiManagement.AustraliaCentral', 'properties': {
        'changeNumber': '2', 'region': 'australiacentral', 'systemService': 'AzureApiManagement',
        'addressPrefixes': ['20.36.106.68/31', '20.36.107.176/28']}},
    {'name': 'AppService', 'id': 'AppService', 'properties': {
        'changeNumber': '13', 'region': '', 'systemService': 'AzureAppService',
        'addressPrefixes': ['13.64.73.110/32', '191.235.208.12/32', '191.235.215.184/32']}},
    {'name': 'ServiceBus', 'id': 'ServiceBus', 'properties': {
        'changeNumber': '10', 'region': '', 'systemService': 'AzureServiceBus',
        'addressPrefixes': ['23.98.82.96/29', '40.68.127.68/32', '40.70.146.64/29']}},
    {'name': 'ServiceBus.EastUS2', 'id': 'ServiceBus.EastUS2', 'properties': {
        'changeNumber': '1', 'region': 'eastus2', 'systemService': 'AzureServiceBus',
        'addressPrefixes': ['13.68.110.36/32', '40.70.146.64/29']}},
]


def service_tags_answer(subscription_id, extra=()):
    """The ServiceTags_List body: the sample's entries, then ``extra`` (config ``service_tags``)."""
    values = copy.deepcopy(SAMPLE_VALUES)
    for item in extra or ():
        values.append({'name': item['name'], 'id': item['name'], 'properties': {
            'changeNumber': str(item.get('change_number', '1')), 'region': item.get('region', ''),
            'systemService': item.get('system_service', ''), 'addressPrefixes': list(item.get('address_prefixes') or [])}})
    return {'name': 'public', 'id': '/subscriptions/%s/providers/Microsoft.Network/serviceTags/public' % subscription_id,
            'type': 'Microsoft.Network/serviceTags', 'changeNumber': SAMPLE_CHANGE_NUMBER, 'cloud': 'Public', 'values': values}


def service_tags_list(ctx, p):
    with ctx.state.lock:
        return Response(200, service_tags_answer(ctx.state.subscription_id, ctx.state.config.get('service_tags')))
