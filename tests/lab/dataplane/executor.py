# -*- coding: utf-8 -*-
# Copyright (c) 2026 aks.tunnel contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Run-command executor for the ARM emulator: the script runs with bash, as root, inside the node's
network namespace (`ip netns exec`, so the node's /etc/netns files - hosts, ufw - apply), in its own UTS
namespace with the node's host name, the Run Command parameters written into the script text exactly as
the Linux Run Command handler does (`handler_script`: `export`/`set --` lines on top, values unquoted;
written to a private script file like the handler's script.sh), stdout/stderr captured, killed at the
timeout. A node listed in `cannot_report` runs the script but the call never returns (until close), like
a VM whose agent cannot reach Azure to report the result. On a node of `inspection_fails` ({node: [tool]}) the
script runs in a private mount namespace where those tools are replaced by a failing stub (bind mounts that only
that script sees): iptables (every iptables binary) waits for a held xtables lock and fails with rc 4, as iptables
-w does after its wait; nft and ss fail with rc 127 as if not installed.

Interface: `executor.run(node, script, args, timeout) -> (stdout: bytes, stderr: bytes)`, `close()`.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import threading

from ..arm.executor import ScriptProcesses
from .record import LabRecord

# $1 = host name, rest = the command; a private UTS namespace so `hostname` shows the node name.
_WRAPPER = 'hostname "$1" 2>/dev/null; shift; exec "$@"'
_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'
# $1 = host name, then <stub> <binary> pairs up to `--`, then the command: each binary is covered by its stub.
_FAILING_WRAPPER = ('hostname "$1" 2>/dev/null; shift; while [ "$1" != -- ]; do mount --bind "$1" "$2" || exit 97; shift 2; done; '
                    'shift; exec "$@"')
# tool -> (binaries it is run as, the stub's text)
_STUBS = {
    'iptables': (('iptables', 'iptables-nft', 'iptables-legacy', 'ip6tables', 'iptables-save', 'iptables-restore'),
                 '#!/bin/sh\nsleep 1\necho "Another app is currently holding the xtables lock. Stopped waiting after 20s." >&2\nexit 4\n'),
    'nft': (('nft',), '#!/bin/sh\necho "nft: command not found" >&2\nexit 127\n'),
    'ss': (('ss',), '#!/bin/sh\necho "ss: command not found" >&2\nexit 127\n'),
}


class NetnsExecutor:
    def __init__(self, plan):
        self.plan = plan
        self._processes = ScriptProcesses()
        self._stub_dir = None
        self._stub_lock = threading.Lock()
        self.journal = []

    def _stub_binds(self, name):
        """[stub, binary, ...] for the failing tools of a node (the real files the commands resolve to)."""
        tools = (self.plan.get('inspection_fails') or {}).get(name) or []
        if not tools:
            return []
        with self._stub_lock:  # (command() is called while ScriptProcesses holds its lock)
            if self._stub_dir is None:
                self._stub_dir = tempfile.mkdtemp(prefix='aks-tunnel-lab-stubs-')
        binds = []
        for tool in tools:
            commands, text = _STUBS[tool]
            stub = os.path.join(self._stub_dir, tool)
            if not os.path.exists(stub):
                with open(stub, 'w', encoding='ascii') as handle:
                    handle.write(text)
                os.chmod(stub, 0o755)
            for real in sorted(set(os.path.realpath(p) for p in (shutil.which(c, path=_PATH) for c in commands) if p)):
                binds += [stub, real]
        return binds

    def namespace_of(self, node):
        name = node.get('name') if isinstance(node, dict) else node
        entry = self.plan['nodes'].get(name)
        if entry is None:
            raise KeyError('node %r is not part of this lab' % (name,))
        return entry['ns']

    def command(self, node, path):
        """The argv that runs the script file ``path`` (see write_script_file) as root in the node."""
        name = node.get('name') if isinstance(node, dict) else node
        binds = self._stub_binds(name)
        if binds:
            return (['ip', 'netns', 'exec', self.namespace_of(node), 'unshare', '--uts', '--mount', '--propagation', 'private', '--', 'sh',
                     '-c', _FAILING_WRAPPER, 'sh', name] + binds + ['--', 'bash', path])
        return ['ip', 'netns', 'exec', self.namespace_of(node), 'unshare', '--uts', '--', 'sh', '-c', _WRAPPER, 'sh', name, 'bash', path]

    def run(self, node, script, args, timeout):
        name = node.get('name') if isinstance(node, dict) else node
        env = {'PATH': _PATH, 'HOME': '/root', 'LANG': 'C.UTF-8', 'LAB_NODE_NAME': name,
               'LAB_NODE_IP': self.plan['nodes'].get(name, {}).get('ip', '')}
        rc, out, err = self._processes.run(lambda path: self.command(node, path), script, args, env, '/', timeout)
        if rc is None:
            return out, err
        self.journal.append({'node': name, 'rc': rc})
        del self.journal[:-200]
        if name in self.plan.get('cannot_report', []):
            # The script ran; the result never reaches "Azure".
            self._processes.closed.wait()
            return b'', b'executor closed\n'
        return out, err

    def close(self):
        self._processes.close()
        if self._stub_dir:
            shutil.rmtree(self._stub_dir, ignore_errors=True)


def factory(config):
    """`load_executor('...dataplane.executor:factory', config)` hook: config['lab_state_dir'] names the lab."""
    record = LabRecord.load(config['lab_state_dir'])
    if record is None:
        raise ValueError('no lab record in %s' % config['lab_state_dir'])
    return NetnsExecutor(record.get('plan'))
