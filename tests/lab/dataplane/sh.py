# -*- coding: utf-8 -*-
# Copyright (c) 2026 aks.tunnel contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Small process and namespace helpers shared by the data-plane modules."""

from __future__ import annotations

import contextlib
import ctypes
import os
import subprocess

CLONE_NEWNET = 0x40000000
_LIBC = ctypes.CDLL(None, use_errno=True)


class CommandError(RuntimeError):
    """A command the lab needs failed; the message carries the command and its stderr."""


def run(cmd, check=True, input_text=None, timeout=120):
    """Run a command (list); raise CommandError with its stderr when `check` and it fails."""
    try:
        proc = subprocess.run(cmd, input=input_text, capture_output=True, text=True, timeout=timeout, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise CommandError('%s: %s' % (' '.join(cmd), exc)) from None
    if check and proc.returncode != 0:
        shown = ' '.join(cmd[:8]) + (' ...' if len(cmd) > 8 else '')
        raise CommandError('%s failed (rc=%d): %s' % (shown, proc.returncode, (proc.stderr or proc.stdout).strip()[:2000]))
    return proc


def ip_batch(lines, netns=None, check=True):
    """Run many `ip` commands in one process (`ip [-n NS] -batch -`)."""
    if not lines:
        return None
    cmd = ['ip'] + (['-n', netns] if netns else []) + ['-batch', '-']
    return run(cmd, check=check, input_text='\n'.join(lines) + '\n')


def nsexec(netns, cmd):
    return ['ip', 'netns', 'exec', netns] + list(cmd)


def _setns(fd):
    if _LIBC.setns(fd, CLONE_NEWNET) != 0:
        err = ctypes.get_errno()
        raise OSError(err, 'setns: %s' % os.strerror(err))


@contextlib.contextmanager
def in_netns(name):
    """Run the block with this thread in network namespace `name` (sockets created inside stay there)."""
    own = os.open('/proc/thread-self/ns/net', os.O_RDONLY)
    target = os.open('/run/netns/%s' % name, os.O_RDONLY)
    try:
        _setns(target)
        try:
            yield
        finally:
            _setns(own)
    finally:
        os.close(target)
        os.close(own)


def process_start_time(pid):
    """The start time (clock ticks since boot) of a process, or None when it is gone (guards against pid reuse)."""
    try:
        with open('/proc/%d/stat' % pid, encoding='ascii', errors='replace') as handle:
            data = handle.read()
    except OSError:
        return None
    return int(data.rsplit(')', 1)[1].split()[19])
