# -*- coding: utf-8 -*-
# Copyright (c) 2026 aks.tunnel contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""natgw-snat-exhaustion (issue 16): snat_usage_info finds the node subnet's NAT gateway and judges its SNAT metrics."""

from __future__ import annotations

from ansible_collections.aks.tunnel.tests.integration.modules_konnectivity.playbook_runner import run_playbook
from ansible_collections.aks.tunnel.tests.lab.swagger import SwaggerSchemas


def test_natgw_snat_exhaustion_is_found_from_the_nat_gateway_metrics(arm_lab, tmp_path):
    lab = arm_lab('natgw-snat-exhaustion')
    results = run_playbook(tmp_path, [{'aks.tunnel.snat_usage_info': dict(lab.reader, window='PT10M'), 'register': 'detect'}])
    detect = results['detect']
    assert detect['changed'] is False and detect['applicable'] is True and detect['reason'] is None
    [gateway] = detect['nat_gateways']
    assert (gateway['name'], gateway['ip_count'], gateway['snat_ports'], gateway['idle_timeout_in_minutes']) == ('natgw-aks', 1, 64512, 4)
    assert gateway['found_as'] == 'natGateway of node subnet aks-subnet'
    verdict = gateway['verdict']
    # 600 new connections a minute, a quarter of them failing (86,016 wanted, 64,512 ports), 3 dropped packets each
    assert verdict['status'] == 'problem' and verdict['peak_active_connections'] == 64512 and verdict['ratio'] == 1.0
    assert verdict['failed'] > 0 and abs(verdict['failed'] * 4 - verdict['attempted']) <= 4 * verdict['failing_buckets'], verdict
    assert verdict['dropped_packets'] == 3 * verdict['failed']
    assert gateway['recommendation']['ips_needed'] == 2 and gateway['recommendation']['fits'] is True
    finding = detect['finding']
    assert (finding['cause'], finding['status'], finding['affected_nodes']) == ('snat_exhaustion', 'problem', [])
    assert finding['summary'].startswith('SNAT exhaustion on NAT gateway natgw-aks: ')
    remediation = finding['remediation']
    assert (remediation['nat_gateway'], remediation['public_ips'], remediation['ips_needed']) == ('natgw-aks', 1, 2)
    assert any('az network nat gateway update -g rg-aks-lab -n natgw-aks' in line for line in remediation['advice'])
    assert detect['failed_total'] == verdict['failed'] and detect['nodes'] == []

    # every NAT gateway and metrics answer matches the vendored swagger
    schemas = SwaggerSchemas()
    entries = [e for e in lab.journal() if e['spec'] and (e['spec'][1].startswith('NatGateways_') or e['spec'] == ['metrics', 'Metrics_List'])]
    assert {tuple(e['spec']) for e in entries} == {('network', 'NatGateways_Get'), ('metrics', 'Metrics_List')}
    for entry in entries:
        assert entry['status'] == 200, entry
        schemas.validate_journal_entry(entry)
