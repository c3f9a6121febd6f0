# -*- coding: utf-8 -*-
# Copyright (c) 2026 aks.tunnel contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import threading
import time

import pytest

from ansible_collections.aks.tunnel.plugins.module_utils import _runcommand as rc


class HttpError(Exception):
    def __init__(self, status, message='boom'):
        super().__init__(message)
        self.status_code = status


class FakePoller:
    def __init__(self, result=None, delay=0.0, error=None, never=False):
        self._result, self._delay, self._error, self._never = result, delay, error, never
        self._start = time.monotonic()

    def wait(self, timeout=None):
        if self._never:
            time.sleep(min(timeout or 0, 5))
            return
        left = self._delay - (time.monotonic() - self._start)
        if left > 0:
            time.sleep(min(left, timeout if timeout is not None else left))

    def done(self):
        return not self._never and time.monotonic() - self._start >= self._delay

    def result(self):
        if self._error:
            raise self._error
        return self._result


def linux(stdout, stderr=''):
    return {'value': [{'code': 'ProvisioningState/succeeded', 'level': 'Info', 'displayStatus': 'Provisioning succeeded',
                       'message': 'Enable succeeded: \n[stdout]\n%s\n[stderr]\n%s' % (stdout, stderr)}]}


class FakeCompute:
    """begin_run_command answers by a per-instance plan: list of ('409'|'ok'|'slow'|'hang'|'fail'|'403')."""

    def __init__(self, plans, delay=0.05):
        self.plans = plans
        self.delay = delay
        self.calls = []
        self.lock = threading.Lock()
        self.active = 0
        self.max_active = 0
        self.virtual_machine_scale_set_vms = self

    def begin_run_command(self, rg, vmss, instance, body):
        with self.lock:
            self.calls.append((rg, vmss, instance, body))
            step = self.plans[instance].pop(0) if len(self.plans[instance]) > 1 else self.plans[instance][0]
            self.active += 1
            self.max_active = max(self.max_active, self.active)
        try:
            if step == '409':
                raise HttpError(409, 'Run command extension execution is in progress.')
            if step == '403':
                raise HttpError(403, 'AuthorizationFailed')
            if step == 'hang':
                return FakePoller(never=True)
            if step == 'fail':
                return FakePoller(error=HttpError(None, 'VMExtensionProvisioningError'), delay=self.delay)
            time.sleep(self.delay)
            return FakePoller(result=linux('out-%s' % instance), delay=0)
        finally:
            with self.lock:
                self.active -= 1


def target(i):
    return {'key': 'node%d' % i, 'resource_group': 'mc', 'vmss': 'vmss', 'instance_id': str(i), 'script': 'echo "$1"\necho b',
            'parameters': ['x=y', 7]}


def test_run_command_input_passes_values_as_parameters_only():
    body = rc.run_command_input('echo "$1"\necho "$2"', ['a=b', 3])
    assert body == {'commandId': 'RunShellScript', 'script': ['echo "$1"', 'echo "$2"'],
                    'parameters': [{'name': 'arg1', 'value': 'a=b'}, {'name': 'arg2', 'value': '3'}]}


@pytest.mark.parametrize('value', [
    'id=r1', 'port=10250', 'r=10.0.0.4+3:10250', 't=fd00::1:443', 'e=tls:api.example.com:443', 'src=10.224.0.0/16',
    'd=LUEgSU5QVVQ_-', 'x@y%z,w', '=', 'a-b',
])
def test_safe_words_are_sent(value):
    assert rc.run_command_input('true', [value])['parameters'] == [{'name': 'arg1', 'value': value}]


@pytest.mark.parametrize('value', [
    'a b', '', ' ', 'a\tb', 'a\nb', '$(touch /tmp/x)', '`id`', 'a;reboot', 'a|b', 'a&b', 'a>b', 'a<b', '(a)', '*', 'a?', '[ab]',
    '~root', '{a,b}', '#c', '!x', 'a\\b', '"q"', "'q'", 'd=ü', '-a', '--', None, True,
])
def test_unsafe_values_are_refused_with_their_position(value):
    with pytest.raises(rc.UnsafeParameterError, match=r'parameter 2 \(arg2\).*not a safe shell word'):
        rc.run_command_input('true', ['ok', value])


def test_executor_sends_nothing_for_a_target_with_an_unsafe_value():
    compute = FakeCompute({'0': ['ok'], '1': ['ok']})
    bad = dict(target(1), parameters=['ok', 'x $(id)'])
    results = rc.RunCommandExecutor(compute, timeout=10).run([target(0), bad])
    assert [c[2] for c in compute.calls] == ['0']
    assert results[0]['status'] == 'succeeded'
    assert (results[1]['status'], results[1]['attempts'], results[1]['started']) == ('failed', 0, False)
    assert 'parameter 2 (arg2)' in results[1]['error'] and 'not a safe shell word' in results[1]['error']


@pytest.mark.parametrize('result, expected', [
    (linux('hello\nworld', 'warn'), {'succeeded': True, 'stdout': 'hello\nworld', 'stderr': 'warn', 'stdout_truncated': False}),
    (linux('x' * 4096), {'succeeded': True, 'stdout': 'x' * 4096, 'stderr': '', 'stdout_truncated': True}),
    ({'value': [{'code': 'ComponentStatus/StdOut/succeeded', 'message': 'out'}, {'code': 'ComponentStatus/StdErr/succeeded', 'message': 'err'}]},
     {'succeeded': True, 'stdout': 'out', 'stderr': 'err', 'stdout_truncated': False}),
    ({'value': [{'code': 'ProvisioningState/failed', 'message': 'Enable failed: x'}]},
     {'succeeded': False, 'stdout': 'Enable failed: x', 'stderr': '', 'stdout_truncated': False}),
    ({'value': []}, {'succeeded': False, 'stdout': '', 'stderr': '', 'stdout_truncated': False}),
])
def test_parse_result(result, expected):
    parsed = rc.parse_result(result)
    assert dict((k, parsed[k]) for k in expected) == expected


def test_split_message_keeps_stderr_marker_inside_stdout():
    assert rc.split_message('Enable succeeded: \n[stdout]\na\n[stderr]\nb\n[stderr]\nc') == ('a\n[stderr]\nb', 'c')
    assert rc.split_message('plain') == ('plain', '')


def test_all_targets_succeed_with_bounded_concurrency():
    compute = FakeCompute(dict((str(i), ['ok']) for i in range(12)), delay=0.05)
    results = rc.RunCommandExecutor(compute, concurrency=4, timeout=10).run([target(i) for i in range(12)])
    assert [r['key'] for r in results] == ['node%d' % i for i in range(12)]
    assert all(r['status'] == 'succeeded' and r['stdout'] == 'out-%d' % i for i, r in enumerate(results))
    assert compute.max_active <= 4
    assert compute.calls[0][3]['parameters'] == [{'name': 'arg1', 'value': 'x=y'}, {'name': 'arg2', 'value': '7'}]


def test_conflict_is_retried_then_succeeds():
    compute = FakeCompute({'0': ['409', '409', 'ok']})
    result = rc.RunCommandExecutor(compute, timeout=10, conflict_wait=0.01).run([target(0)])[0]
    assert (result['status'], result['attempts'], result['conflicts']) == ('succeeded', 3, 2)


def test_hung_target_times_out_and_others_continue():
    compute = FakeCompute({'0': ['hang'], '1': ['ok'], '2': ['fail'], '3': ['403']})
    results = rc.RunCommandExecutor(compute, concurrency=4, timeout=0.3).run([target(i) for i in range(4)])
    assert [r['status'] for r in results] == ['timeout', 'succeeded', 'failed', 'failed']
    assert 'did not finish within the timeout' in results[0]['error']
    assert 'VMExtensionProvisioningError' in results[2]['error']
    assert 'HTTP 403' in results[3]['error']


def test_conflicts_until_timeout_report_the_last_error():
    compute = FakeCompute({'0': ['409']})
    result = rc.RunCommandExecutor(compute, timeout=0.2, conflict_wait=0.05).run([target(0)])[0]
    assert result['status'] == 'timeout' and 'HTTP 409' in result['error'] and result['conflicts'] >= 2


def test_deadline_abandons_unfinished_targets_without_waiting_for_them():
    compute = FakeCompute({'0': ['hang'], '1': ['hang'], '2': ['ok']})
    started = time.monotonic()
    results = rc.RunCommandExecutor(compute, concurrency=2, timeout=30, deadline=0.3).run([target(i) for i in range(3)])
    assert time.monotonic() - started < 2
    assert [r['status'] for r in results] == ['abandoned', 'abandoned', 'abandoned']
    assert 'not started' in results[2]['error'] and 'in progress' in results[0]['error']


@pytest.mark.parametrize('kwargs, message', [({'concurrency': 0}, 'concurrency'), ({'timeout': 0}, 'timeout')])
def test_bad_settings(kwargs, message):
    with pytest.raises(ValueError, match=message):
        rc.RunCommandExecutor(object(), **kwargs)


def test_duplicate_keys_are_refused():
    with pytest.raises(ValueError, match='unique keys; duplicates: node0'):
        rc.RunCommandExecutor(object()).run([target(0), target(0)])
