# -*- coding: utf-8 -*-
# Copyright (c) 2026 aks.tunnel contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Run Command adapter: run one script on many VMSS instances concurrently, safely.

Run Command (``virtual_machine_scale_set_vms.begin_run_command``) is the expensive unit: tens of
seconds per call, one call at a time per VM (a second one gets HTTP 409), only the last 4096 bytes
of each stream come back, and a VM whose agent cannot report keeps the operation running forever.
So:

* a bounded pool of *daemon* worker threads (``concurrency``): a hung call can never keep the
  module process alive after ``exit_json`` (stdlib ``ThreadPoolExecutor`` joins its threads at exit);
* workers only return data; the caller (main thread) is the only one talking to AnsibleModule;
* per-target ``timeout`` (the target becomes an error, the others continue) and an overall
  ``deadline`` (targets not finished by then are reported as errors and abandoned); the diagnosis
  deadline of the aks.tunnel.diagnose role (_retry.diagnosis_time_left) ends the run too, 409/429 waits included;
* 409 "execution in progress" (another run command holds the VM, e.g. a probe of a previous run that
  timed out on our side: Run Command cannot be cancelled): wait for it and send ours again, bounded by
  the target's timeout and the overall deadline, not failing the node. The wait starts at
  ``conflict_wait`` and grows by half each time up to CONFLICT_WAIT_MAX_S (jittered, so parallel
  workers do not retry in lockstep): a short script ends soon, a hung one is not polled every few
  seconds for 90 minutes. The lab answers 409 without Retry-After like ARM, and the Azure client
  (DeadlineRetryPolicy) never retries a 409, so the wait happens here, where its meaning is known;
* 429: the Azure client already retried with ``Retry-After`` until its deadline; if it still fails we
  wait ``throttle_wait`` and retry too. Every wait and retry is added to ``stats`` (RetryStats);
* values are Run Command ``parameters``, and on Linux a parameter value IS script text: the handler adds
  ``export arg1=v1 arg2=v2`` and ``set -- v1 v2`` at the top of the script, values unquoted
  (Azure/azure-cli issue 10400, Azure/azure-powershell issue 14415). :func:`run_command_input` is the
  one place a body is built and it refuses every value that is not a safe shell word
  (:data:`SAFE_WORD_RE`); anything else must be encoded by the caller (base64url, decoded in the script).
"""

from __future__ import annotations

import queue
import random
import re
import threading
import time

from ansible_collections.aks.tunnel.plugins.module_utils import _retry
from ansible_collections.aks.tunnel.plugins.module_utils._counter import PROCESS_RETRY_STATS

RUN_SHELL_SCRIPT = 'RunShellScript'
OUTPUT_LIMIT = 4096
SUCCEEDED_CODE = 'ProvisioningState/succeeded'

# Result status of one target.
STATUS_SUCCEEDED = 'succeeded'   # the script ran and reported its output
STATUS_FAILED = 'failed'         # the operation ended Failed (extension error) or the call was refused
STATUS_TIMEOUT = 'timeout'       # no result within the target's timeout
STATUS_ABANDONED = 'abandoned'   # the overall deadline passed first (started or not)

CONFLICT_WAIT_MAX_S = 30.0


def conflict_delay(conflicts, first_wait, rand=random.random, cap=CONFLICT_WAIT_MAX_S):
    """Seconds to wait after the `conflicts`-th 409 in a row: first_wait * 1.5^(n-1), at most max(cap, first_wait), times [0.75, 1)."""
    exponent = min(max(int(conflicts), 1) - 1, 40)
    ceiling = min(max(cap, first_wait), first_wait * (1.5 ** exponent))
    return ceiling * (0.75 + 0.25 * rand())


# A value the handler can paste unquoted into `export argN=<value>` and `set -- <value>` and that bash
# still reads as exactly one word, unchanged: no whitespace, quotes, `$`, backticks, `;&|<>()`, glob
# characters (`*?[]`), `~`, `{}`, `#`, `!`, backslash or non-ASCII. A leading `-` is refused too: our
# values never need it, and it would become an option if a handler version wrote `set` without `--`.
SAFE_WORD_RE = re.compile(r'^[A-Za-z0-9_.:/,+=@%][A-Za-z0-9_.:/,+=@%-]*$')


class UnsafeParameterError(ValueError):
    """A Run Command parameter value is not a safe shell word (Azure pastes values into the script)."""


def check_parameters(parameters):
    """Return the values as strings, or raise UnsafeParameterError naming the first bad one (1-based)."""
    values = []
    for index, value in enumerate(parameters or ()):
        text = value if isinstance(value, str) else str(value)
        if isinstance(value, bool) or value is None or not SAFE_WORD_RE.match(text):
            shown = text if len(text) <= 60 else text[:57] + '...'
            raise UnsafeParameterError(
                'refused to send Run Command parameter %d (arg%d) %r: it is not a safe shell word. The Linux Run Command '
                'handler pastes parameter values unquoted into the script (export/set -- lines), so only the characters '
                'A-Z a-z 0-9 _ . : / , + = @ %% - are allowed (not empty, not starting with -); encode anything else'
                % (index + 1, index + 1, shown))
        values.append(text)
    return values


def run_command_input(script, parameters=()):
    """The RunCommandInput body: the constant script (as lines) and the values as parameters arg1..argN.

    Raises UnsafeParameterError if a value could change the script once Azure pastes it in.
    """
    return {
        'commandId': RUN_SHELL_SCRIPT,
        'script': script.split('\n'),
        'parameters': [{'name': 'arg%d' % (index + 1), 'value': value} for index, value in enumerate(check_parameters(parameters))],
    }


def _as_dict(obj):
    if obj is None:
        return {}
    if isinstance(obj, dict):
        return obj
    if hasattr(obj, '_attribute_map') and hasattr(obj, 'serialize'):
        return obj.serialize(keep_readonly=True)  # msrest model (older azure-mgmt-compute): REST names, not snake_case
    if hasattr(obj, 'as_dict'):
        return obj.as_dict()
    return dict(obj)


def split_message(message):
    """Split a Linux Run Command message ``Enable succeeded: \\n[stdout]\\n...\\n[stderr]\\n...`` into (stdout, stderr)."""
    text = message or ''
    if '[stdout]\n' not in text:
        return text, ''
    after = text.split('[stdout]\n', 1)[1]
    if '\n[stderr]\n' in after:
        stdout, stderr = after.rsplit('\n[stderr]\n', 1)
    else:
        stdout, stderr = after, ''
    return stdout, stderr


def parse_result(result):
    """Turn a RunCommandResult (model or dict) into ``{code, display_status, succeeded, stdout, stderr, stdout_truncated, stderr_truncated}``.

    Linux reports one status whose message carries both streams; Windows-style results report
    ``ComponentStatus/StdOut`` and ``ComponentStatus/StdErr`` separately. A stream of 4096 bytes or
    more may have lost its beginning (the handler keeps the last 4096 bytes), so it is flagged.
    """
    data = _as_dict(result)
    statuses = [_as_dict(s) for s in (data.get('value') or [])]
    parsed = {'code': None, 'display_status': None, 'succeeded': False, 'stdout': '', 'stderr': '',
              'stdout_truncated': False, 'stderr_truncated': False}
    if not statuses:
        parsed['display_status'] = 'no status returned'
        return parsed
    stdout_parts = [s for s in statuses if 'stdout' in str(s.get('code', '')).lower()]
    stderr_parts = [s for s in statuses if 'stderr' in str(s.get('code', '')).lower()]
    if stdout_parts or stderr_parts:
        first = (stdout_parts or stderr_parts)[0]
        parsed['code'] = first.get('code')
        parsed['display_status'] = first.get('displayStatus')
        parsed['stdout'] = ''.join(s.get('message') or '' for s in stdout_parts)
        parsed['stderr'] = ''.join(s.get('message') or '' for s in stderr_parts)
        parsed['succeeded'] = all(str(s.get('code', '')).lower().endswith('/succeeded') for s in stdout_parts + stderr_parts)
    else:
        status = statuses[0]
        parsed['code'] = status.get('code')
        parsed['display_status'] = status.get('displayStatus')
        parsed['stdout'], parsed['stderr'] = split_message(status.get('message'))
        parsed['succeeded'] = str(status.get('code', '')).lower() == SUCCEEDED_CODE.lower()
    parsed['stdout_truncated'] = len(parsed['stdout'].encode('utf-8')) >= OUTPUT_LIMIT
    parsed['stderr_truncated'] = len(parsed['stderr'].encode('utf-8')) >= OUTPUT_LIMIT
    return parsed


def _status_code(exc):
    code = getattr(exc, 'status_code', None)
    if code is None:
        response = getattr(exc, 'response', None)
        code = getattr(response, 'status_code', None)
    return code


def _default_describe(exc, doing):
    error = getattr(exc, 'error', None)
    code = getattr(error, 'code', None)
    message = getattr(error, 'message', None) or (str(exc).strip().splitlines() or [exc.__class__.__name__])[0]
    status = _status_code(exc)
    return 'Failed to %s%s: %s%s' % (doing, ' (HTTP %s)' % status if status else '', '%s: ' % code if code else '', message)


class RunCommandExecutor:
    """Runs Run Command on many targets with a bounded pool of daemon threads.

    ``compute``: a ComputeManagementClient (shared by the workers; clients are thread-safe).
    ``describe``: ``describe(exc, doing) -> str`` for error messages (e.g. _azure.describe_azure_error).
    ``clock``/``sleep`` are injectable for tests.
    """

    def __init__(self, compute, concurrency=10, timeout=300, deadline=None, conflict_wait=5.0, throttle_wait=5.0,
                 describe=None, clock=time.monotonic, sleep=None, stats=None, rand=random.random):
        if concurrency < 1:
            raise ValueError('concurrency must be at least 1, got %r' % (concurrency,))
        if timeout <= 0:
            raise ValueError('timeout must be a positive number of seconds, got %r' % (timeout,))
        self.compute = compute
        self.concurrency = int(concurrency)
        self.timeout = float(timeout)
        self.deadline = float(deadline) if deadline else None
        self.conflict_wait = float(conflict_wait)
        self.throttle_wait = float(throttle_wait)
        self.describe = describe or _default_describe
        self.clock = clock
        self.stats = stats if stats is not None else PROCESS_RETRY_STATS
        self.rand = rand
        self._abandon = threading.Event()
        self._sleep = sleep or self._abandon.wait

    def run(self, targets):
        """Run every target; return results in the order of ``targets``.

        A target is a dict: ``key`` (unique, e.g. the node name), ``resource_group``, ``vmss``,
        ``instance_id``, ``script``, ``parameters`` (list of strings) and any extra keys (kept).
        Each result: ``{key, status, duration, attempts, conflicts, error, stdout, stderr, code,
        display_status, stdout_truncated, stderr_truncated, started, target}``.
        """
        targets = list(targets)
        keys = [t['key'] for t in targets]
        if len(set(keys)) != len(keys):
            raise ValueError('run command targets must have unique keys; duplicates: %s'
                             % ', '.join(sorted(set(k for k in keys if keys.count(k) > 1))))
        if not targets:
            return []
        self._abandon.clear()
        work = queue.Queue()
        for target in targets:
            work.put(target)
        done = queue.Queue()
        started = {}
        lock = threading.Lock()

        def worker():
            while not self._abandon.is_set():
                try:
                    target = work.get_nowait()
                except queue.Empty:
                    return
                with lock:
                    started[target['key']] = self.clock()
                try:
                    result = self.run_one(target)
                except Exception as exc:  # pylint: disable=broad-except
                    result = self._result(target, STATUS_FAILED, 0.0, 0, 0, error='unexpected error: %s' % exc)
                done.put(result)

        begin = self.clock()
        end = begin + self.deadline if self.deadline else None
        diagnosis_left = _retry.diagnosis_time_left()
        by_diagnosis = diagnosis_left is not None and (end is None or begin + diagnosis_left < end)
        if by_diagnosis:
            end = begin + diagnosis_left
        for _index in range(min(self.concurrency, len(targets)) if diagnosis_left != 0 else 0):
            thread = threading.Thread(target=worker, name='aks-tunnel-runcommand', daemon=True)
            thread.start()
        results = {}
        while len(results) < len(targets):
            wait = 0.5
            if end is not None:
                remaining = end - self.clock()
                if remaining <= 0:
                    break
                wait = min(wait, remaining)
            try:
                result = done.get(timeout=wait)
            except queue.Empty:
                continue
            results[result['key']] = result
        self._abandon.set()
        now = self.clock()
        ordered = []
        for target in targets:
            result = results.get(target['key'])
            if result is None:
                with lock:
                    start = started.get(target['key'])
                if by_diagnosis:
                    error = '%s: %s' % ('not started' if start is None else 'abandoned', _retry.DIAGNOSIS_DEADLINE_REACHED + (
                        '' if start is None else ' while the run command was being sent or was in progress'))
                elif start is None:
                    error = 'not started: the overall deadline of %ds passed first' % self.deadline
                else:
                    error = 'abandoned: the overall deadline of %ds passed while the run command was in progress' % self.deadline
                result = self._result(target, STATUS_ABANDONED, now - start if start else 0.0, 0, 0, error=error)
                result['started'] = start is not None
            ordered.append(result)
        return ordered

    @staticmethod
    def _result(target, status, duration, attempts, conflicts, error=None, parsed=None):
        result = {'key': target['key'], 'status': status, 'duration': round(duration, 3), 'attempts': attempts,
                  'conflicts': conflicts, 'error': error, 'stdout': '', 'stderr': '', 'code': None, 'display_status': None,
                  'stdout_truncated': False, 'stderr_truncated': False, 'started': attempts > 0, 'target': target}
        if parsed:
            result.update(parsed)
        return result

    def _wait(self, seconds):
        self.stats.add_retry(seconds)
        self._sleep(seconds)

    def run_one(self, target):
        """Run Command on one target (called from a worker thread; returns data, never raises for API errors)."""
        begin = self.clock()
        try:
            body = run_command_input(target['script'], target.get('parameters') or ())
        except UnsafeParameterError as exc:
            # nothing was sent to this VM
            return self._result(target, STATUS_FAILED, 0.0, 0, 0, error=str(exc))
        doing = 'run the command on %s' % target['key']
        attempts = conflicts = 0
        conflict_wait_s = 0.0
        last_error = None
        while True:
            remaining = self.timeout - (self.clock() - begin)
            if remaining <= 0 or self._abandon.is_set():
                error = 'no result within the timeout of %ds' % self.timeout
                if last_error:
                    error += ' (last error: %s)' % last_error
                if conflicts:
                    error += '; waited %ds in total for another run command on this VM to finish (%d times HTTP 409)' % (
                        round(conflict_wait_s), conflicts)
                return self._result(target, STATUS_TIMEOUT, self.clock() - begin, attempts, conflicts, error=error)
            attempts += 1
            try:
                poller = self.compute.virtual_machine_scale_set_vms.begin_run_command(
                    target['resource_group'], target['vmss'], str(target['instance_id']), body)
            except Exception as exc:  # pylint: disable=broad-except
                status = _status_code(exc)
                if status == 409:
                    # One run command at a time per VM: wait for the other one to finish.
                    conflicts += 1
                    last_error = 'HTTP 409: another run command is in progress on this VM'
                    wait = min(conflict_delay(conflicts, self.conflict_wait, self.rand), max(remaining, 0))
                    conflict_wait_s += wait
                    self._wait(wait)
                    continue
                if status == 429:
                    last_error = 'HTTP 429: throttled'
                    self._wait(min(self.throttle_wait, max(remaining, 0)))
                    continue
                return self._result(target, STATUS_FAILED, self.clock() - begin, attempts, conflicts, error=self.describe(exc, doing))
            remaining = self.timeout - (self.clock() - begin)
            try:
                poller.wait(timeout=max(remaining, 0.01))
            except Exception as exc:  # pylint: disable=broad-except
                # a status poll that failed for good (throttled past the deadline, a 5xx): the node's result is unknown
                return self._result(target, STATUS_FAILED, self.clock() - begin, attempts, conflicts, error=self.describe(exc, doing))
            if not poller.done():
                return self._result(target, STATUS_TIMEOUT, self.clock() - begin, attempts, conflicts,
                                    error='the run command did not finish within the timeout of %ds (it cannot be cancelled and may '
                                          'still be running on the VM; a new run there gets HTTP 409 until it ends)' % self.timeout)
            try:
                parsed = parse_result(poller.result())
            except Exception as exc:  # pylint: disable=broad-except
                return self._result(target, STATUS_FAILED, self.clock() - begin, attempts, conflicts, error=self.describe(exc, doing))
            status = STATUS_SUCCEEDED if parsed['succeeded'] else STATUS_FAILED
            error = None if parsed['succeeded'] else 'run command reported %s: %s' % (parsed['code'], parsed['display_status'])
            return self._result(target, status, self.clock() - begin, attempts, conflicts, error=error, parsed=parsed)


def run_many(compute, targets, **kwargs):
    """Convenience: ``RunCommandExecutor(compute, **kwargs).run(targets)``."""
    return RunCommandExecutor(compute, **kwargs).run(targets)
