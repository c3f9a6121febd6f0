# -*- coding: utf-8 -*-
# Copyright (c) 2026 aks.tunnel contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Azure Firewall service tags decided from the ranges Azure publishes (Service Tag Discovery API, ServiceTags_List; issue 16):
which tags are read, the answer turned into ranges, the verdict they give, and the read itself (once per run, its failure an
UNKNOWN with the reason). The answer is the public sample of ServiceTags_List (tests/lab/arm/providers/servicetags.py, source
recorded there): ServiceBus.EastUS2 holds 40.70.146.64/29, ApiManagement does not."""

from __future__ import annotations

import copy

import pytest

from ansible_collections.aks.tunnel.plugins.module_utils import _firewall_policy as fp
from ansible_collections.aks.tunnel.plugins.modules import egress_route_info
from ansible_collections.aks.tunnel.tests.lab.arm.providers import servicetags

ANSWER = servicetags.service_tags_answer('s')
API_IN_SERVICEBUS = '40.70.146.66'
API_ELSEWHERE = '20.50.1.10'
NODE = '10.240.0.4'


def _flow(destination=API_IN_SERVICEBUS, region='eastus2'):
    return {'protocol': 'TCP', 'port': 9000, 'tls': False, 'source_ip': NODE, 'destination_ip': destination, 'fqdn': None,
            'azure_region': region}


def _rules(*specs):
    """Network rules, one collection each, in order: (action, destinations)."""
    collections = [{'ruleCollectionType': 'FirewallPolicyFilterRuleCollection', 'name': 'c%d' % i, 'priority': 100 + i,
                    'action': {'type': action}, 'rules': [{'ruleType': 'NetworkRule', 'name': 'r%d' % i, 'ipProtocols': ['TCP'],
                                                           'destinationPorts': ['9000'], 'sourceAddresses': ['10.240.0.0/16'],
                                                           'destinationAddresses': list(destinations)}]}
                   for i, (action, destinations) in enumerate(specs)]
    network, _application = fp.policy_rules([{'name': 'fp', 'groups': [{'name': 'g', 'properties': {'priority': 100,
                                                                                                    'ruleCollections': collections}}]}])
    return network


def _ranges(names, answer=None):
    return fp.service_tag_ranges(ANSWER if answer is None else answer, names)


PAGED = dict(copy.deepcopy(ANSWER), nextLink='https://management.azure.com/next')
ODD = dict(copy.deepcopy(ANSWER), values=[{'name': 'Odd', 'id': 'Odd', 'properties': {'addressPrefixes': ['not-a-prefix']}},
                                          {'name': 'V6', 'id': 'V6', 'properties': {'addressPrefixes': ['2603:1030::/48']}}])


@pytest.mark.parametrize('rules, flow, tags, access, reason', [
    # the tag's published prefixes hold the API server: the allow decides
    (_rules(('Allow', ['ServiceBus.EastUS2'])), _flow(), _ranges(['ServiceBus.EastUS2']), 'Allow', 'allowed by'),
    # tag names are case-insensitive (Azure Firewall and the tag list)
    (_rules(('Allow', ['servicebus.eastus2'])), _flow(), _ranges(['servicebus.eastus2']), 'Allow', 'allowed by'),
    # the prefixes do not hold it: the rule does not match, the default deny decides (a proven deny, not unknown)
    (_rules(('Allow', ['ApiManagement'])), _flow(), _ranges(['ApiManagement']), 'Deny', 'no rule allows it'),
    (_rules(('Allow', ['ServiceBus.EastUS2'])), _flow(API_ELSEWHERE), _ranges(['ServiceBus.EastUS2']), 'Deny', 'no rule allows it'),
    # a deny naming a tag that holds the API server, before an allow of everything
    (_rules(('Deny', ['ServiceBus']), ('Allow', ['*'])), _flow(), _ranges(['ServiceBus']), 'Deny', 'denied by'),
    # a deny naming a tag that does not hold it: the allow after it decides
    (_rules(('Deny', ['AppService']), ('Allow', ['*'])), _flow(), _ranges(['AppService']), 'Allow', 'allowed by'),
    # not read (no Service Tag Discovery read): undecided, as before
    (_rules(('Allow', ['ServiceBus.EastUS2'])), _flow(), None, 'Unknown', "its IP ranges were not read"),
    # the read failed or was forbidden: undecided with that reason
    (_rules(('Allow', ['ServiceBus.EastUS2'])), _flow(), {'servicebus.eastus2': {'error': 'AuthorizationFailed: no read'}}, 'Unknown',
     'AuthorizationFailed: no read'),
    # a deny through an unreadable tag before the allow: unknown, not a false allow
    (_rules(('Deny', ['Storage']), ('Allow', ['*'])), _flow(), {'storage': {'error': 'forbidden'}}, 'Unknown', "'Storage'"),
    # not in Azure's list (one page): undecided, naming the list
    (_rules(('Allow', ['AzureKubernetesService'])), _flow(), _ranges(['AzureKubernetesService']), 'Unknown',
     "Azure's service tag list (cloud Public, change number 63) has no such tag"),
    # not on the first page of a paged answer
    (_rules(('Allow', ['Storage'])), _flow(), _ranges(['Storage'], PAGED), 'Unknown', 'further pages were not read'),
    # a published prefix that is not a network, and an IPv6-only tag for an IPv4 address
    (_rules(('Allow', ['Odd'])), _flow(), _ranges(['Odd'], ODD), 'Unknown', "a published prefix is not a network: 'not-a-prefix'"),
    (_rules(('Allow', ['V6'])), _flow(), _ranges(['V6'], ODD), 'Deny', 'no rule allows it'),
    # AzureCloud keeps its documented decision without any read
    (_rules(('Allow', ['AzureCloud.eastus2'])), _flow(), {}, 'Allow', 'allowed by'),
])
def test_service_tag_verdicts(rules, flow, tags, access, reason):
    verdict = fp.evaluate(rules, [], flow, None, tags)
    assert verdict['access'] == access, verdict
    assert reason in verdict['reason'] + ' '.join(u['reason'] for u in verdict.get('undecided') or []), verdict


@pytest.mark.parametrize('sources, destinations, expected', [
    (['10.240.0.0/16'], ['ServiceBus', 'AzureCloud', 'AzureCloud.westeurope', '*', '20.0.0.1-20.0.0.9', 'Storage.WestEurope'],
     ['ServiceBus', 'Storage.WestEurope']),
    (['*'], ['servicebus', 'ServiceBus'], ['servicebus']),
    (['10.0.0.1'], ['1.2.3.0/24', 'any'], []),
    (['ApiManagement'], [], ['ApiManagement']),
])
def test_rule_service_tags_names_only_the_tags_to_read(sources, destinations, expected):
    rules = [{'sources': sources, 'destinations': destinations}]
    assert fp.rule_service_tags(rules) == expected


def test_service_tag_ranges_of_rest_and_sdk_shapes():
    rest = fp.service_tag_ranges(ANSWER, ['ServiceBus.EastUS2'])
    assert rest == {'servicebus.eastus2': {'prefixes': ['13.68.110.36/32', '40.70.146.64/29'], 'region': 'eastus2',
                                           'system_service': 'AzureServiceBus'}}
    snake = {'cloud': 'Public', 'change_number': '63', 'values': [
        {'name': 'ServiceBus.EastUS2', 'properties': {'region': 'eastus2', 'system_service': 'AzureServiceBus',
                                                      'address_prefixes': ['13.68.110.36/32', '40.70.146.64/29']}}]}
    assert fp.service_tag_ranges(snake, ['ServiceBus.EastUS2']) == rest
    assert fp.service_tag_ranges(None, ['X']) == {'x': {'error': "Azure's service tag list (cloud ?, change number ?) has no such tag"}}


class _Tags:
    def __init__(self, answer=None, error=None):
        self.answer, self.error, self.locations = answer, error, []

    def list(self, location):
        self.locations.append(location)
        if self.error:
            raise self.error
        return self.answer


class _Network:
    def __init__(self, tags):
        self.service_tags = tags


@pytest.mark.parametrize('location, tags, first, expected', [
    ('eastus2', _Tags(ANSWER), ['ServiceBus'],
     {'servicebus': {'prefixes': ['23.98.82.96/29', '40.68.127.68/32', '40.70.146.64/29'], 'region': '', 'system_service': 'AzureServiceBus'}}),
    ('eastus2', _Tags(error=OSError('connection reset')), ['ServiceBus'], {'servicebus': {'error': 'connection reset'}}),
    (None, _Tags(ANSWER), ['ServiceBus'], {'servicebus': {'error': 'the cluster location is not known'}}),
])
def test_service_tag_reader_reads_once_and_keeps_a_failure_as_the_reason(location, tags, first, expected):
    reader = egress_route_info.ServiceTagReader(_Network(tags), location)
    assert reader.ranges([]) == ({}, None) and tags.locations == []
    got, source = reader.ranges(first)
    again, _source = reader.ranges(['AppService'])
    for key, value in expected.items():
        if 'error' in value:
            assert value['error'] in got[key]['error'] and source is None
            assert again['appservice']['error'] == got[key]['error']
        else:
            assert got[key] == value and 'Service Tag Discovery API at eastus2 (cloud Public, change number 63)' in source
            assert again['appservice']['prefixes'][0] == '13.64.73.110/32'
    assert tags.locations == ([location] if location else [])
