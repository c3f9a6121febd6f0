# -*- coding: utf-8 -*-
# Copyright (c) 2026 aks.tunnel contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""When to retry an Azure or Kubernetes API request, and how long to wait: a time budget, not a count.

Pure functions (standard library only), shared by the Azure pipeline policy (_azure.py) and the
Kubernetes request wrapper (_kube.py), so both APIs follow one rule set:

* 429 (throttled) is retried for every method: ARM's and the API server's throttling (API Priority
  and Fairness) reject a request before it is executed, so a retry cannot apply a write twice.
* 503 is retried for every method: the server says it did not take the request.
* 408, 500, 502 and 504 leave a write's outcome unknown, so only idempotent methods are retried
  (ARM: GET, HEAD, OPTIONS, PUT, DELETE - ARM's PUT replaces, DELETE of a missing resource succeeds;
  Kubernetes: reads only, because a repeated DELETE answers 404 and a repeated POST 409).
* A connection error before the request was sent (refused, unreachable, connect timeout) is retried
  for every method, at most MAX_CONNECTION_RETRIES times in a row: a wrong endpoint or a network
  path that stays down should be reported within about half a minute, not after the whole budget.
  An error after it was sent (read timeout, connection reset) counts as outcome unknown. TLS and
  configuration errors are not retried.
* The wait is the response's Retry-After when it gives one above zero (honoured as is: the server
  knows when its bucket refills), else an exponential backoff with jitter (BACKOFF_BASE_S * 2^(n-1),
  at most BACKOFF_MAX_S, times a random factor in [0.5, 1)) so parallel workers do not retry in
  lockstep. A Retry-After of 0 is treated as absent (azure-core does the same), so a server that
  says "now" cannot make us spin.
* Nothing is retried once the next attempt would start after the deadline (`api_retry_deadline`
  seconds from the first attempt of this request); the last response or error is then returned to
  the caller, whose message names throttling and the option to raise.
* Nor once it would start after the diagnosis deadline: the aks.tunnel.diagnose role computes one
  absolute time per run (`aks_tunnel_diagnosis_deadline`) and hands it to every module it runs in the
  environment variable AKS_TUNNEL_DIAGNOSIS_DEADLINE_AT (UNIX seconds), so a throttling storm longer
  than the whole diagnosis may take ends the check in flight instead of the diagnosis; the role then
  skips the checks that have not started (UNKNOWN, "diagnosis deadline reached") and writes the report.
"""

from __future__ import annotations

import email.utils
import math
import os
import random
import time

DEFAULT_RETRY_DEADLINE_S = 300.0
RETRY_DEADLINE_ENV = 'AKS_TUNNEL_API_RETRY_DEADLINE'
BACKOFF_BASE_S = 1.0
BACKOFF_MAX_S = 30.0
MAX_CONNECTION_RETRIES = 5

ARM_IDEMPOTENT_METHODS = frozenset(('GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE'))
KUBE_IDEMPOTENT_METHODS = frozenset(('GET', 'HEAD', 'OPTIONS'))

THROTTLED = 429
RETRY_ANY_METHOD = frozenset((429, 503))
RETRY_IDEMPOTENT_ONLY = frozenset((408, 500, 502, 504))

# Error kinds (no HTTP response).
ERROR_CONNECT = 'connect'    # not sent: safe to send again
ERROR_READ = 'read'          # sent, no (complete) answer: outcome unknown
ERROR_OTHER = 'other'        # TLS, configuration, programming errors: never retried

# Set by the aks.tunnel.diagnose role for the modules it runs: the absolute time (UNIX seconds, a float) after which
# no retry starts. Unset, empty or unusable (not a finite number > 0): no such deadline (modules run on their own).
DIAGNOSIS_DEADLINE_ENV = 'AKS_TUNNEL_DIAGNOSIS_DEADLINE_AT'
DIAGNOSIS_DEADLINE_REACHED = 'diagnosis deadline reached'

RETRY_OPTION_HINT = 'raise api_retry_deadline (or the environment variable %s; now %%ss)' % RETRY_DEADLINE_ENV


_ACTIVE = {'deadline': DEFAULT_RETRY_DEADLINE_S, 'diagnosis_deadline_cut': False}


def note_active_deadline(seconds):
    """Remember the deadline the clients of this process (one module run) use, for error hints."""
    _ACTIVE['deadline'] = float(seconds)


def active_deadline():
    return _ACTIVE['deadline']


def diagnosis_deadline_at(environ=None):
    """The diagnosis deadline (UNIX seconds) from AKS_TUNNEL_DIAGNOSIS_DEADLINE_AT, None when there is none."""
    environ = os.environ if environ is None else environ
    try:
        value = float(environ.get(DIAGNOSIS_DEADLINE_ENV) or 0)
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) and value > 0 else None


def diagnosis_time_left(environ=None, wall_clock=time.time):
    """Seconds until the diagnosis deadline (0 when it has passed), None when there is none."""
    deadline = diagnosis_deadline_at(environ)
    return None if deadline is None else max(deadline - wall_clock(), 0.0)


def diagnosis_deadline_cut():
    """Whether a retry of this process (one module run) was given up because of the diagnosis deadline."""
    return _ACTIVE['diagnosis_deadline_cut']


def reset_diagnosis_deadline_cut():
    _ACTIVE['diagnosis_deadline_cut'] = False


DIAGNOSIS_DEADLINE_HINT = ('The retries stopped at the diagnosis deadline (%s): the diagnosis must end in time to write its report. '
                           'Raise aks_tunnel_diagnosis_deadline, or run fewer jobs against this subscription at once.'
                           % DIAGNOSIS_DEADLINE_REACHED)


def retry_hint(hint):
    """The hint of a throttling or server error: `hint`, or why the retries stopped early when the diagnosis deadline cut them."""
    return DIAGNOSIS_DEADLINE_HINT if _ACTIVE['diagnosis_deadline_cut'] else hint


def format_seconds(seconds):
    return ('%d' % seconds) if float(seconds).is_integer() else ('%.1f' % seconds)


class RetryDeadlineError(ValueError):
    """api_retry_deadline is not a usable number of seconds."""


def resolve_retry_deadline(params, environ=None):
    """Seconds one request may spend on retries: the `api_retry_deadline` option, else the environment variable, else 300."""
    environ = os.environ if environ is None else environ
    value = params.get('api_retry_deadline')
    origin = 'api_retry_deadline'
    if value is None and environ.get(RETRY_DEADLINE_ENV):
        value, origin = environ[RETRY_DEADLINE_ENV], RETRY_DEADLINE_ENV
    if value is None:
        return DEFAULT_RETRY_DEADLINE_S
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        raise RetryDeadlineError('%s must be a number of seconds, got %r' % (origin, value)) from None
    if not math.isfinite(seconds) or seconds < 0:
        raise RetryDeadlineError('%s must be a finite number of seconds >= 0 (0 = no retries), got %r' % (origin, value))
    return seconds


def parse_retry_after(headers):
    """Seconds from `Retry-After` (seconds or HTTP date) or `retry-after-ms`/`x-ms-retry-after-ms`; None when absent or unusable."""
    if not headers:
        return None
    lowered = dict((str(k).lower(), v) for k, v in headers.items())
    for name in ('retry-after-ms', 'x-ms-retry-after-ms'):
        if lowered.get(name) not in (None, ''):
            try:
                return max(float(lowered[name]) / 1000.0, 0.0)
            except ValueError:
                pass
    value = lowered.get('retry-after')
    if value in (None, ''):
        return None
    try:
        return max(float(value), 0.0)
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when is None:
        return None
    return max(when.timestamp() - time.time(), 0.0)


def is_retryable(method, status=None, error=None, idempotent_methods=ARM_IDEMPOTENT_METHODS):
    """Whether a request that got `status` (or failed with the error kind `error`) may be sent again (see module doc)."""
    method = (method or '').upper()
    if error is not None:
        if error == ERROR_CONNECT:
            return True
        if error == ERROR_READ:
            return method in idempotent_methods
        return False
    if status in RETRY_ANY_METHOD:
        return True
    if status in RETRY_IDEMPOTENT_ONLY:
        return method in idempotent_methods
    return False


def backoff_delay(backoff_retries, rand=random.random, base=BACKOFF_BASE_S, cap=BACKOFF_MAX_S):
    """Jittered exponential backoff before backoff retry number `backoff_retries` (1 = the first)."""
    exponent = max(int(backoff_retries), 1) - 1
    ceiling = min(cap, base * (2 ** min(exponent, 30)))
    return ceiling * (0.5 + 0.5 * rand())


class RetryState:
    """Retry bookkeeping of one request (first attempt + its retries).

    `decide()` returns the seconds to wait before the next attempt, or None to give up and hand the
    last response/error to the caller (`reason` then says why: 'not retryable', 'deadline',
    'diagnosis deadline', 'connection errors').
    `not_after`: the diagnosis deadline (UNIX seconds on `wall_clock`); default: AKS_TUNNEL_DIAGNOSIS_DEADLINE_AT.
    """

    def __init__(self, deadline, idempotent_methods=ARM_IDEMPOTENT_METHODS, clock=time.monotonic, rand=random.random,
                 not_after=None, wall_clock=time.time):
        self.deadline = float(deadline)
        self.not_after = diagnosis_deadline_at() if not_after is None else float(not_after)
        self.wall_clock = wall_clock
        self.idempotent_methods = idempotent_methods
        self.clock = clock
        self.rand = rand
        self.started = clock()
        self.retries = 0
        self.backoff_retries = 0
        self.connection_retries = 0
        self.reason = None

    def decide(self, method, status=None, error=None, retry_after=None):
        if not is_retryable(method, status, error, self.idempotent_methods):
            self.reason = 'not retryable'
            return None
        if error == ERROR_CONNECT:
            if self.connection_retries >= MAX_CONNECTION_RETRIES:
                self.reason = 'connection errors'
                return None
        else:
            self.connection_retries = 0
        if retry_after is not None and retry_after > 0:
            delay = float(retry_after)
        else:
            delay = backoff_delay(self.backoff_retries + 1, self.rand)
        remaining = self.deadline - (self.clock() - self.started)
        if delay > remaining:
            # Waiting would start the next attempt after the deadline: give the caller the answer now.
            self.reason = 'deadline'
            return None
        if self.not_after is not None and self.wall_clock() + delay > self.not_after:
            # The whole diagnosis must end: this check gives up so the report can still be written in time.
            self.reason = 'diagnosis deadline'
            _ACTIVE['diagnosis_deadline_cut'] = True
            return None
        if retry_after is None or retry_after <= 0:
            self.backoff_retries += 1
        if error == ERROR_CONNECT:
            self.connection_retries += 1
        self.retries += 1
        return delay
