# -*- coding: utf-8 -*-
# Copyright (c) 2026 aks.tunnel contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Where a run command script really runs.

Interface (duck-typed): `executor.run(node, script, args, timeout) -> (stdout: bytes, stderr: bytes)`
with `node` = the node dict from `topology.build_topology`; optional `close()` is called on stop.
`args` are the Run Command parameters: `(name, value)` pairs (what the ARM provider passes) or bare
values (named arg1, arg2, ...). They never become an argv: the executors run
`bash -c <handler_script(script, args)>` the way the Linux Run Command handler does.
The data plane plugs in an executor that enters the node's network namespace.
"""

from __future__ import annotations

import importlib
import os
import signal
import subprocess
import tempfile
import threading


def handler_script(script, parameters=()):
    """The script text as the Linux Run Command handler runs it.

    The handler passes no argv: it adds two lines at the top of the script,
    `export <name1>=<value1> <name2>=<value2> ...` and `set -- <value1> <value2> ...`, with the values
    NOT quoted (stated by the Run Command maintainer in Azure/azure-cli issue 10400; a value `-a hello`
    arrives as two arguments in Azure/azure-powershell issue 14415; docs/lab.md "Run Command").
    So a value is script text: spaces split it, `$(...)`, backticks, `;` and globs run or expand as
    root before the script's first line. The lab does exactly the same, on purpose, so that every lab
    test sees what Azure does. Without parameters the script is unchanged.
    """
    pairs = []
    for index, item in enumerate(parameters or ()):
        if isinstance(item, (tuple, list)):
            name, value = item
        else:
            name, value = 'arg%d' % (index + 1), item
        pairs.append((str(name), '' if value is None else str(value)))
    if not pairs:
        return script
    return 'export %s\nset -- %s\n%s' % (' '.join('%s=%s' % pair for pair in pairs), ' '.join(value for _name, value in pairs), script)


def write_script_file(script, parameters=()):
    """Write ``handler_script(script, parameters)`` to a private temporary file (the handler writes a
    script.sh too; a file also avoids the 128 KiB limit of one argv string); the caller removes it."""
    handle, path = tempfile.mkstemp(prefix='aks-tunnel-runcommand-', suffix='.sh')
    with os.fdopen(handle, 'w', encoding='utf-8', errors='surrogateescape') as out:
        out.write(handler_script(script, parameters))
    return path


class ScriptProcesses:
    """Runs handler script files as killable process groups, and kills the ones still running on close()."""

    def __init__(self):
        self._procs = set()
        self._lock = threading.Lock()
        self.closed = threading.Event()

    def run(self, argv_for, script, args, env, cwd, timeout):
        """(returncode or None when closed, stdout, stderr) of `argv_for(path)` for the script file of
        handler_script(script, args); killed (with its children) after `timeout` seconds."""
        path = write_script_file(script, args)
        try:
            with self._lock:
                if self.closed.is_set():
                    return None, b'', b'executor closed\n'
                proc = subprocess.Popen(argv_for(path), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                        env=env, cwd=cwd, start_new_session=True)
                self._procs.add(proc)
            try:
                out, err = proc.communicate(timeout=timeout)
            except subprocess.TimeoutExpired:
                self._kill(proc)
                out, err = proc.communicate()
                err = err + b'\nscript timed out after %ds\n' % int(timeout)
            finally:
                with self._lock:
                    self._procs.discard(proc)
        finally:
            os.unlink(path)
        return proc.returncode, out, err

    @staticmethod
    def _kill(proc):
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass

    def close(self):
        with self._lock:
            self.closed.set()
            procs = list(self._procs)
        for proc in procs:
            self._kill(proc)


class LocalBashExecutor:
    """Runs `bash <file with handler_script(script, args)>` on this host (unit use; no isolation).

    `env` adds variables; the node's name/IP are exported as LAB_NODE_NAME / LAB_NODE_IP so tests
    can see which node a script was meant for.
    """

    def __init__(self, env=None, cwd=None):
        self.env = dict(env or {})
        self.cwd = cwd
        self._processes = ScriptProcesses()

    def run(self, node, script, args, timeout):
        env = dict(os.environ)
        env.update(self.env)
        env['LAB_NODE_NAME'] = node.get('name', '')
        env['LAB_NODE_IP'] = node.get('ip', '')
        _rc, out, err = self._processes.run(lambda path: ['bash', path], script, args, env, self.cwd, timeout)
        return out, err

    def close(self):
        self._processes.close()


class NullExecutor:
    """Runs nothing; every script 'succeeds' with empty output."""

    def run(self, node, script, args, timeout):
        return b'', b''


def load_executor(spec, config):
    """Build an executor from a config string: 'local', 'null', or 'package.module:factory' (factory(config))."""
    if spec in (None, '', 'local'):
        return LocalBashExecutor()
    if spec == 'null':
        return NullExecutor()
    if ':' not in spec:
        raise ValueError("executor %r: use 'local', 'null' or 'package.module:factory'" % spec)
    module_name, attr = spec.split(':', 1)
    factory = getattr(importlib.import_module(module_name), attr)
    return factory(config)
