# -*- coding: utf-8 -*-
# Copyright (c) 2026 aks.tunnel contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""playbooks/remediate.yml on the SNAT scenarios (issue 13 item 5): headroom kept, outbound IPs only when asked.

snat-exhaustion: the repair covers the peak below the threshold with today's single outbound IP (closing diagnosis OK,
IP count unchanged, ports far below the 9136 that filled the IP before). snat-autoscaler-max: the peak needs a second IP
for 47 nodes, so the default repair changes nothing and says how many IPs it would take; with aks_tunnel_outbound_ips=2
check mode warns about the new egress address and the real run repairs.
"""

from __future__ import annotations

import pytest

from ansible_collections.aks.tunnel.tests.integration.playbooks.test_playbooks_lab import PlaybookLab, assert_report

pytestmark = [pytest.mark.lab]  # a lab per test: no xdist group, the workers share them


@pytest.fixture
def snat_lab(tmp_path):
    labs = []

    def start(scenario):
        labs.append(PlaybookLab(tmp_path, scenario))
        return labs[-1]
    yield start
    for item in labs:
        item.down()


def _snat(report):
    return next(f for f in report['findings'] if f['cause'] == 'snat_exhaustion')


def test_remediate_snat_keeps_the_outbound_ips_and_the_headroom(snat_lab):
    env = snat_lab('snat-exhaustion')
    run = env.play('remediate')
    assert run.before['problems'] == ['snat_exhaustion'], run
    assert_report(run, {'problems': [], 'affected_nodes': []}, rc_expected=0)
    assert 'PROBLEM -> OK' in run.output
    profile = env.admin('GET', 'state')['lb_profile']
    # The smallest value that keeps the ~1308 wanted ports at <= 72% (before: 9136, all of the IP for today's 7 nodes).
    assert profile['managed_outbound_ip_count'] == 1 and 1808 <= profile['allocated_outbound_ports'] <= 1824, profile
    assert 'managed outbound public IP' not in run.output
    closing = _snat(run.report)
    assert closing['status'] == 'ok' and 'highest used/allocated 7' in closing['summary'], closing


def test_remediate_snat_refuses_without_ips_and_repairs_when_they_are_allowed(snat_lab):
    env = snat_lab('snat-autoscaler-max')
    before = env.admin('GET', 'state')['lb_profile']
    assert (before['allocated_outbound_ports'], before['managed_outbound_ip_count']) == (1024, 1)

    # Default: no new outbound IP. The peak needs 2 IPs for 47 nodes, so nothing changes and the output says so.
    refused = env.play('remediate')
    # The refusal is rescued (the play goes on to the closing diagnosis); the one failed task is the report's exit status.
    assert refused.before['problems'] == ['snat_exhaustion'] and refused.failed == 1 and 'rescued=1' in refused.output, refused
    assert 'SNAT NOT REPAIRED - nothing changed:' in refused.output and 'It would take 2 outbound IP(s) (today 1)' in refused.output, refused
    assert env.admin('GET', 'state')['lb_profile'] == before
    # Before: 1360 ports were set and the closing diagnosis still said PROBLEM at 95.6%. Now the problem is reported as it is.
    assert_report(refused, env.expect)
    assert _snat(refused.report)['remediation']['ips_needed'] == 2

    # Asked for the second IP: check mode shows the change and the cost/allow-list warning, and changes nothing. These runs
    # take `--tags snat`, as the refusal's next command says: the SNAT check and repair only (a quarter of a full run).
    check = env.play('remediate', '--check', '--diff', '--tags', 'snat', '-e', 'aks_tunnel_outbound_ips=2')
    assert '[WARNING]: this would add 1 managed outbound public IP(s) (1 -> 2)' in check.output, check
    assert 'destinations that allow-list its outbound IPs must add it, and each costs money' in check.output
    assert env.admin('GET', 'state')['lb_profile'] == before

    real = env.play('remediate', '--tags', 'snat', '-e', 'aks_tunnel_outbound_ips=2')
    assert_report(real, {'problems': [], 'affected_nodes': []}, rc_expected=0)
    assert _snat(real.report)['status'] == 'ok' and real.report['unknown'] == [], real.report
    assert 'PROBLEM -> OK' in real.output and '[WARNING]: this adds 1 managed outbound public IP(s) (1 -> 2)' in real.output
    after = env.admin('GET', 'state')['lb_profile']
    assert after['managed_outbound_ip_count'] == 2 and 1808 <= after['allocated_outbound_ports'] <= 1824, after

    again = env.play('remediate', '--tags', 'snat', '-e', 'aks_tunnel_outbound_ips=2')
    assert again.changed == 0 and again.report['problems'] == [] and again.rc == 0, again
