# -*- coding: utf-8 -*-
# Copyright (c) 2026 aks.tunnel contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""playbooks/diagnose.yml and remediate.yml on udr-azure-firewall-blocks-443 (issue 16), opt-in: AKS_TUNNEL_LAB_PLAYBOOKS_EGRESS=1.

Three playbook runs (about four minutes), so not in `make test`: tests/integration/modules_network/test_egress_firewall_lab.py
covers the modules, the four-step repair and the packet that gets through after it. Here the roles: the diagnosis names the
route and the rule; remediate without aks_tunnel_firewall_repair prints the planned group and changes nothing (the finding
stays PROBLEM); with it, the group is added, the tunnel pods are recreated and the closing diagnosis is clean.
"""

from __future__ import annotations

import os

import pytest

from ansible_collections.aks.tunnel.tests.integration.playbooks.test_playbooks_lab import PlaybookLab, assert_report

pytestmark = [pytest.mark.lab, pytest.mark.xdist_group('lab_playbooks_egress'),
              pytest.mark.skipif(os.environ.get('AKS_TUNNEL_LAB_PLAYBOOKS_EGRESS') != '1',
                                 reason='opt-in (three playbook runs): AKS_TUNNEL_LAB_PLAYBOOKS_EGRESS=1')]


@pytest.fixture
def firewall_lab(tmp_path):
    env = PlaybookLab(tmp_path, 'udr-azure-firewall-blocks-443')
    yield env
    env.down()


def _egress(report):
    return [f for f in report['findings'] if f['cause'] == 'egress_ports_blocked'][0]


def test_remediate_adds_the_firewall_rule_collection_only_when_asked(firewall_lab):
    env = firewall_lab
    run = env.play('diagnose')
    assert_report(run, env.expect)
    found = _egress(run.report)
    assert "route table rt-aks-nodes, route 'default-via-firewall' (0.0.0.0/0) -> VirtualAppliance 10.241.0.4" in found['summary']
    assert 'network rule deny-tcp-443' in found['summary']
    assert found['remediation']['firewall']['rule_collection_group'] == 'aks-tunnel-egress'

    run = env.play('remediate')
    assert run.changed == 0 and _egress(run.report)['status'] == 'problem', run.output[-3000:]
    assert 'set aks_tunnel_firewall_repair: true to add the planned rule collection group' in run.output
    assert 'Planned rule collection group aks-tunnel-egress (priority 199)' in run.output

    run = env.play('remediate', '-e', 'aks_tunnel_firewall_repair=true')
    assert run.before is not None and _egress(run.before)['status'] == 'problem'
    assert _egress(run.report)['status'] == 'ok' and run.report['problems'] == [], run.output[-3000:]
    assert 'egress: rule collection group aks-tunnel-egress of the firewall policy fp-aks-egress: created' in run.output
