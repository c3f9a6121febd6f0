# -*- coding: utf-8 -*-
# Copyright (c) 2026 aks.tunnel contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Issue 17: a throttling storm longer than the diagnosis deadline ends in UNKNOWN and a written report, not a hang.

One diagnose run of two checks (--tags ufw,nsg: the Run Command probe, then the NSG evaluation) while ARM throttles
every Run Command without end (429, Retry-After 2 s), with aks_tunnel_diagnosis_deadline=10: the probe's retries stop
at the deadline (the per-request budget alone would wait 300 s), the NSG check, not started by then, is UNKNOWN with
"diagnosis deadline reached", and the report is written with the usual outcome (unknown, exit 2).
Then, on the same lab, a Run Command that fails on one tunnel node: the other one still probes every kubelet (UFW OK)
and the egress is UNKNOWN with the failed node's ARM message.
The retry rules themselves: tests/unit/plugins/module_utils/test_diagnosis_deadline.py.
"""

from __future__ import annotations

import pytest

from ansible_collections.aks.tunnel.tests.integration.playbooks import test_playbooks_lab as playbooks

pytestmark = [pytest.mark.lab, pytest.mark.xdist_group('lab_playbooks_deadline')]

playbook_lab = playbooks.playbook_lab  # the fixture: a lab per scenario and a runner for the collection's playbooks

DEADLINE_S = 10


def test_storm_past_the_diagnosis_deadline_and_a_failed_run_command_end_unknown_with_a_report(playbook_lab):
    env = playbook_lab('healthy')
    env.admin('POST', 'faults', {'faults': [{'type': 'throttle', 'on': 'runcommand', 'count': None, 'retry_after': 2}]})
    run = env.play('diagnose', '--tags', 'ufw,nsg', '-e', 'aks_tunnel_diagnosis_deadline=%d' % DEADLINE_S)
    storm_left = env.admin('GET', 'faults')['faults']
    env.admin('DELETE', 'faults')

    report = run.report
    findings = dict((f['cause'], f) for f in report['findings'])
    assert report['outcome'] == 'unknown' and report['error'] is None and report['problems'] == [], run
    assert sorted(report['unknown']) == ['nsg_blocks_10250', 'ufw_blocks_10250'], run
    assert run.rc == 2 and 'diagnosis could not run' not in run.output, run
    # The check that had not started when the deadline passed says why; the report, junit and markdown were written.
    nsg = findings['nsg_blocks_10250']
    assert 'diagnosis deadline reached: aks_tunnel_diagnosis_deadline (10 s) had passed before this check started' in nsg['summary'], nsg
    assert 'Diagnosis deadline reached (10 s): the nsg check is not run' in run.output, run
    assert 'diagnosis deadline reached' in run.markdown
    # The probe in flight at the deadline: its Run Commands abandoned, the reason in the finding.
    ufw = findings['ufw_blocks_10250']
    assert ufw['status'] == 'unknown' and 'diagnosis deadline reached' in ufw['summary'], ufw
    # The storm never ended (count null), yet the diagnosis did: well before the 300 s each request alone may wait.
    assert storm_left and storm_left[0]['type'] == 'throttle', storm_left
    stats = report['stats']
    assert stats['duration_s'] < 60, stats
    # Normally the probe's Run Commands are throttled until the deadline; on a loaded machine the model read may take the
    # whole 10 s, and then they are not even sent ("not started: diagnosis deadline reached"). Either way: UNKNOWN, reason.
    assert stats['throttled'] >= 1 or 'not started: diagnosis deadline reached' in ufw['summary'], (stats, ufw)
    # Causes outside --tags stay "not checked", not "deadline".
    assert findings['snat_exhaustion']['summary'].startswith('not checked in this run'), findings['snat_exhaustion']

    # Same lab, the storm over: the Run Command on one tunnel node fails (runcommand_fail). The other tunnel node still probes
    # every kubelet (no kubelet problem is missed), and the egress of the failed node is UNKNOWN, never OK.
    tunnel_nodes = env.vars['aks_tunnel_lab']['tunnel_nodes']
    env.admin('POST', 'faults', {'faults': [{'type': 'runcommand_fail', 'node': tunnel_nodes[0], 'count': 1,
                                             'code': 'VMExtensionProvisioningError', 'message': 'lab: the run command failed'}]})
    failed = env.play('diagnose', '--tags', 'ufw,egress')
    env.admin('DELETE', 'faults')
    statuses = dict((f['cause'], f) for f in failed.report['findings'])
    assert statuses['ufw_blocks_10250']['status'] == 'ok', failed
    egress = statuses['egress_ports_blocked']
    assert egress['status'] == 'unknown' and 'egress could not be probed' in egress['summary'], egress
    assert 'Failed to run the command on %s' % tunnel_nodes[0] in egress['summary'] and 'lab: the run command failed' in egress['summary']
    assert failed.report['unknown'] == ['egress_ports_blocked'] and failed.rc == 2, failed
