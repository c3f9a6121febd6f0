# -*- coding: utf-8 -*-
# Copyright (c) 2026 aks.tunnel contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Issue 17: the overall diagnosis deadline in the retry rules (_retry.py).

The aks.tunnel.diagnose role hands every module one absolute time (AKS_TUNNEL_DIAGNOSIS_DEADLINE_AT); no retry
wait may end after it, whatever the per-request budget (api_retry_deadline) still allows. The rules table-driven,
then the wiring through the azure-core policy of AzureClients (unmodified SDK over a fake HTTP adapter).
The playbook side (checks not started are UNKNOWN, the report is written) is
tests/integration/playbooks/test_playbooks_deadline_lab.py.
"""

from __future__ import annotations

import time

import pytest

from ansible_collections.aks.tunnel.plugins.module_utils import _azure
from ansible_collections.aks.tunnel.plugins.module_utils import _counter
from ansible_collections.aks.tunnel.plugins.module_utils import _kube
from ansible_collections.aks.tunnel.plugins.module_utils import _retry
from ansible_collections.aks.tunnel.tests.unit.plugins.module_utils import test_retry_policy as policy

pytest.importorskip('azure.mgmt.network')

fake_arm = policy.fake_arm  # the fixture: answers of a fake ARM under the unmodified SDK


@pytest.fixture(autouse=True)
def no_deadline_cut_left_behind():
    """The 'retries were cut' flag is per process (one module run): no test may leave it set for the next."""
    _retry.reset_diagnosis_deadline_cut()
    yield
    _retry.reset_diagnosis_deadline_cut()


@pytest.mark.parametrize('value, expected', [
    (None, None), ('', None), ('0', None), ('-5', None), ('soon', None), ('inf', None), ('nan', None),
    ('1700000000', 1700000000.0), ('1700000000.25', 1700000000.25),
])
def test_diagnosis_deadline_from_the_environment(value, expected):
    environ = {} if value is None else {_retry.DIAGNOSIS_DEADLINE_ENV: value}
    assert _retry.diagnosis_deadline_at(environ) == expected


@pytest.mark.parametrize('value, now, expected', [
    (None, 1000.0, None), ('1010', 1000.0, 10.0), ('1010', 1010.0, 0.0), ('1010', 2000.0, 0.0),
])
def test_diagnosis_time_left(value, now, expected):
    environ = {} if value is None else {_retry.DIAGNOSIS_DEADLINE_ENV: value}
    assert _retry.diagnosis_time_left(environ, wall_clock=lambda: now) == expected


STORM = [('GET', 429, None, 1.0)] * 20


# Per-request budget 300 s (the default) against a diagnosis deadline `left` seconds away; the fake clock moves only by the waits.
@pytest.mark.parametrize('left, steps, waits, reason', [
    (None, STORM[:5], [1.0] * 5, None),                                # no diagnosis deadline: the per-request budget rules
    (3.5, STORM, [1.0, 1.0, 1.0, None], 'diagnosis deadline'),         # the 4th wait would end at 4 s > 3.5 s
    (3.0, STORM, [1.0, 1.0, 1.0, None], 'diagnosis deadline'),         # ending exactly at the deadline is still allowed
    (0.5, STORM, [None], 'diagnosis deadline'),                        # nearly over: not even one wait
    (-10.0, STORM, [None], 'diagnosis deadline'),                      # already passed
    (100.0, [('GET', 429, None, 400.0)], [None], 'deadline'),          # the per-request budget still applies first
    (1.0, [('POST', 500, None, None)], [None], 'not retryable'),       # what is not retried stays so
    (2.0, [('GET', 503, None, None)] * 5, [0.5, 1.0, None], 'diagnosis deadline'),   # backoff too: 0.5 + 1 + 2 > 2
])
def test_retry_waits_never_end_after_the_diagnosis_deadline(left, steps, waits, reason):
    fake = policy.FakeTime()
    not_after = None if left is None else fake.now + left
    _retry.reset_diagnosis_deadline_cut()
    state = _retry.RetryState(300, _retry.ARM_IDEMPOTENT_METHODS, clock=fake.clock, rand=lambda: 0.0, not_after=not_after,
                              wall_clock=fake.clock)
    got = []
    for method, status, error, retry_after in steps[:len(waits)]:
        delay = state.decide(method, status=status, error=error, retry_after=retry_after)
        got.append(None if delay is None else round(delay, 3))
        if delay is None:
            break
        fake.sleep(delay)
    assert got == waits
    assert state.reason == reason
    assert _retry.diagnosis_deadline_cut() is (reason == 'diagnosis deadline')
    _retry.reset_diagnosis_deadline_cut()


def test_retry_state_reads_the_diagnosis_deadline_from_the_environment(monkeypatch):
    monkeypatch.setenv(_retry.DIAGNOSIS_DEADLINE_ENV, '1234.5')
    assert _retry.RetryState(300).not_after == 1234.5
    monkeypatch.delenv(_retry.DIAGNOSIS_DEADLINE_ENV)
    assert _retry.RetryState(300).not_after is None


def test_arm_client_stops_retrying_at_the_diagnosis_deadline(fake_arm, monkeypatch):
    """A throttled read whose Retry-After would end past the diagnosis deadline is answered at once, not waited for,
    though its own budget (300 s) would allow it; the error is the service's 429, counted in the stats."""
    from azure.core.exceptions import HttpResponseError  # pylint: disable=import-outside-toplevel
    monkeypatch.setenv(_retry.DIAGNOSIS_DEADLINE_ENV, '%.3f' % (time.time() + 0.5))
    _retry.reset_diagnosis_deadline_cut()
    fake_arm.answers = [policy.THROTTLED] * 3 + [policy.OK]
    fake_time, stats = policy.FakeTime(), _counter.RetryStats()
    client, counter = policy.network(300, fake_time, stats)
    with pytest.raises(HttpResponseError) as info:
        client.network_security_groups.get('rg', 'nsg1')
    assert info.value.status_code == 429
    assert fake_time.slept == [] and counter.value == 1
    assert stats.as_dict() == {'throttled': 1, 'retries': 0, 'retry_wait_s': 0.0}
    assert _retry.diagnosis_deadline_cut() is True
    # The message says why the retries stopped early, not "raise api_retry_deadline".
    message = _azure.describe_azure_error(info.value, 'read the NSG')
    assert message.startswith('Failed to read the NSG (HTTP 429): SubscriptionRequestsThrottled')
    assert 'The retries stopped at the diagnosis deadline (diagnosis deadline reached)' in message and 'api_retry_deadline' not in message
    _retry.reset_diagnosis_deadline_cut()
    assert 'raise api_retry_deadline' in _azure.describe_azure_error(info.value, 'read the NSG')

    # Without the diagnosis deadline the same storm is ridden out.
    monkeypatch.delenv(_retry.DIAGNOSIS_DEADLINE_ENV)
    fake_arm.answers = [policy.THROTTLED] * 3 + [policy.OK]
    assert client.network_security_groups.get('rg', 'nsg1').name == 'nsg1'
    assert fake_time.slept == [1.0] * 3 and _retry.diagnosis_deadline_cut() is False


def test_run_command_waits_end_at_the_diagnosis_deadline(monkeypatch):
    """Run Command: the executor's own waits (409: another run command in progress; 429 past the client's retries) and a
    run in progress end at the diagnosis deadline, though each target's timeout (30 s) and the module's deadline allow more."""
    from ansible_collections.aks.tunnel.tests.unit.plugins.module_utils import test_runcommand as fakes  # pylint: disable=import-outside-toplevel
    from ansible_collections.aks.tunnel.plugins.module_utils import _runcommand  # pylint: disable=import-outside-toplevel
    compute = fakes.FakeCompute({'0': ['409'], '1': ['hang'], '2': ['ok']})
    monkeypatch.setenv(_retry.DIAGNOSIS_DEADLINE_ENV, '%.3f' % (time.time() + 0.4))
    started = time.monotonic()
    results = _runcommand.RunCommandExecutor(compute, concurrency=2, timeout=30, deadline=1800, conflict_wait=0.05,
                                             stats=_counter.RetryStats()).run([fakes.target(i) for i in range(3)])
    assert time.monotonic() - started < 2
    assert [r['status'] for r in results] == ['abandoned', 'abandoned', 'abandoned']
    assert [r['error'] for r in results] == ['abandoned: diagnosis deadline reached while the run command was being sent or was in progress'] * 2 + [
        'not started: diagnosis deadline reached']

    # Passed already: nothing is sent.
    monkeypatch.setenv(_retry.DIAGNOSIS_DEADLINE_ENV, '%.3f' % (time.time() - 1))
    compute = fakes.FakeCompute({'0': ['ok']})
    results = _runcommand.RunCommandExecutor(compute, timeout=30).run([fakes.target(0)])
    assert results[0]['error'] == 'not started: diagnosis deadline reached' and compute.calls == []


kube_server = policy.kube_server  # the fixture: a local HTTP server answering by plan


def test_kube_client_stops_retrying_at_the_diagnosis_deadline_and_says_so(kube_server, monkeypatch):
    monkeypatch.setenv(_retry.DIAGNOSIS_DEADLINE_ENV, '%.3f' % (time.time() + 0.5))
    _retry.reset_diagnosis_deadline_cut()
    kube_server.plan = [(429, {'Retry-After': '1'})]
    fake_time, stats = policy.FakeTime(), _counter.RetryStats()
    api_client, core = policy.kube_api(kube_server.url, 300, fake_time, stats)
    with pytest.raises(_kube.ApiException) as info:
        _kube.read_json(core.read_namespaced_config_map, 'x', 'kube-system')
    assert fake_time.slept == [] and _kube.request_count(api_client) == 1
    message = _kube.describe_kube_error(info.value, 'read the ConfigMap')
    assert message.startswith('Failed to read the ConfigMap (HTTP 429)')
    assert 'The retries stopped at the diagnosis deadline (diagnosis deadline reached)' in message
    _retry.reset_diagnosis_deadline_cut()


def test_a_probe_the_deadline_ended_says_so_in_its_unknown_findings():
    """Every tunnel node's Run Command abandoned at the diagnosis deadline: the node causes are UNKNOWN with that reason."""
    from ansible_collections.aks.tunnel.plugins.module_utils import _node_probe  # pylint: disable=import-outside-toplevel
    error = 'abandoned: diagnosis deadline reached while the run command was being sent or was in progress'
    summary = {'errors': [{'node': 'n0', 'error': error}], 'sources': [], 'unreachable': 0, 'unreachable_nodes': []}
    found = _node_probe.findings(['ufw_blocks_10250'], [], [], summary, ['tcp_reachability'], {}, False)[0]
    assert found['status'] == 'unknown'
    assert found['summary'] == 'neither reachability nor the firewall was checked (n0: %s)' % error
    assert found['evidence'] == ['n0: %s' % error] and found['affected_nodes'] == []
