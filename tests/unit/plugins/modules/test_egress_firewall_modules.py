# -*- coding: utf-8 -*-
# Copyright (c) 2026 aks.tunnel contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""egress_route_info's reading of the probe's egress checks and azure_firewall_rule's rule options (issue 16)."""

from __future__ import annotations

import pytest

from ansible_collections.aks.tunnel.plugins.module_utils import _firewall_policy
from ansible_collections.aks.tunnel.plugins.modules import azure_firewall_rule, egress_route_info


def _result(*checks):
    return {'node': 'n', 'checks': {'egress': [dict(zip(('kind', 'port', 'ok'), c)) for c in checks]}}


@pytest.mark.parametrize('results, blocked', [
    (None, None),
    ([], None),
    ([{'node': 'n', 'checks': {}}], None),
    ([_result(('tls', 443, None))], None),  # no openssl: not checked
    ([_result(('tls', 443, True))], []),
    ([_result(('tcp', 9000, False)), _result(('tcp', 9000, False))], ['TCP 9000']),
    ([_result(('udp', 1194, False), ('tls', 443, True))], ['UDP 1194']),
])
def test_probe_blocked(results, blocked):
    assert egress_route_info.probe_blocked(results) == blocked


def test_rule_options_round_trip_and_protocols_are_spelled_as_the_api_wants():
    options = [{'name': 'b', 'ip_protocols': ['tcp'], 'source_addresses': ['10.240.0.0/16'], 'destination_addresses': ['20.1.2.3'],
                'destination_ports': [443]},
               {'name': 'a', 'ip_protocols': ['ANY'], 'source_addresses': ['*'], 'destination_addresses': ['AzureCloud.westeurope'],
                'destination_ports': ['9000']}]
    rest = azure_firewall_rule.rest_rules(options)
    assert [(r['name'], r['ipProtocols'], r['destinationPorts']) for r in rest] == [('a', ['Any'], ['9000']), ('b', ['TCP'], ['443'])]
    assert _firewall_policy.option_rules(rest)[1] == dict(options[0], ip_protocols=['TCP'], destination_ports=['443'])
    with pytest.raises(ValueError, match='ip_protocols must be some of TCP, UDP, Any, ICMP'):
        azure_firewall_rule.rest_rules([dict(options[0], ip_protocols=['SCTP'])])


def test_a_group_of_the_owned_name_with_other_collections_is_not_owned():
    owned = _firewall_policy.desired_group(199, azure_firewall_rule.rest_rules([
        {'name': 'r', 'ip_protocols': ['TCP'], 'source_addresses': ['*'], 'destination_addresses': ['1.2.3.4'], 'destination_ports': ['443']}]))
    assert _firewall_policy.is_owned(owned)
    assert not _firewall_policy.is_owned(dict(owned, ruleCollections=owned['ruleCollections'] + [{'name': 'someone-else', 'rules': []}]))
    assert _firewall_policy.group_differs(owned, dict(owned, priority=200))
