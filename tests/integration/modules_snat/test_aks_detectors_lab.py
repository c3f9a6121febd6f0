# -*- coding: utf-8 -*-
# Copyright (c) 2026 aks.tunnel contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""aks_detectors_info (issue 16): AKS's connectivity detectors as a second opinion, on natgw-snat-exhaustion."""

from __future__ import annotations

from ansible_collections.aks.tunnel.plugins.module_utils._causes import make_finding
from ansible_collections.aks.tunnel.tests.integration.modules_konnectivity.playbook_runner import run_playbook
from ansible_collections.aks.tunnel.tests.lab.swagger import SwaggerSchemas


def test_detectors_agree_and_disagree_with_the_findings(arm_lab, tmp_path):
    lab = arm_lab('natgw-snat-exhaustion')
    # the SNAT check found the exhaustion (agreement); the User Defined Routing detector is advisory (it only tells whether the
    # outbound type is UDR): attached to the egress finding as context, never a disagreement
    findings = [make_finding('snat_exhaustion', 'problem', 'SNAT exhaustion on NAT gateway natgw-aks'),
                make_finding('egress_ports_blocked', 'problem', 'egress blocked'), make_finding('nsg_blocks_10250', 'ok', 'fine')]
    results = run_playbook(tmp_path, [
        {'aks.tunnel.aks_detectors_info': dict(lab.reader, window='PT2H', findings=findings), 'register': 'second'},
        {'aks.tunnel.aks_detectors_info': dict(lab.reader, window='P2D'), 'register': 'too_long', 'ignore_errors': True},
    ])
    second = results['second']
    assert second['changed'] is False
    by_id = dict((d['id'], d) for d in second['detectors'])
    assert sorted(by_id) == ['cluster-dns', 'snat-usage', 'user-defined-routing'], 'the Connectivity Issues detectors, not its overview'
    snat = by_id['snat-usage']
    assert (snat['status'], snat['causes'], snat['error']) == ('critical', ['snat_exhaustion'], None)
    assert 'NAT gateway has 64512 SNAT ports' in snat['messages'][0]
    assert by_id['user-defined-routing']['status'] == 'success' and by_id['cluster-dns']['causes'] == []
    assert second['comparisons'] == [
        {'cause': 'snat_exhaustion', 'detector': 'snat-usage', 'detector_status': 'critical', 'finding_status': 'problem', 'agree': True,
         'role': 'verdict'},
        {'cause': 'egress_ports_blocked', 'detector': 'user-defined-routing', 'detector_status': 'success', 'finding_status': 'problem',
         'agree': None, 'role': 'advisory'}]
    assert second['disagreements'] == []
    annotated = dict((f['cause'], f) for f in second['findings'])
    assert annotated['snat_exhaustion']['status'] == 'problem'
    assert annotated['snat_exhaustion']['evidence'][0].startswith('AKS detector SNAT Connection and Port Allocation (snat-usage): CRITICAL: ')
    assert annotated['egress_ports_blocked']['evidence'][-1] == (
        'AKS detector User Defined Routing (user-defined-routing) (advisory: about the configuration, not compared): SUCCESS: '
        'Cluster egress pathway is not set to user defined routing')
    assert annotated['nsg_blocks_10250'] == findings[2]
    assert results['too_long']['failed'] is True and 'at most one day' in results['too_long']['msg']
    schemas = SwaggerSchemas()
    entries = [e for e in lab.journal() if e['spec'] and e['spec'][0] == 'aksdetectors']
    assert sorted(set(e['spec'][1] for e in entries)) == ['ManagedClusterDetectors_Get', 'ManagedClusterDetectors_List']
    for entry in entries:
        assert entry['status'] == 200, entry
        schemas.validate_journal_entry(entry)
