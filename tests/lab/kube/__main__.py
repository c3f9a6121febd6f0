# -*- coding: utf-8 -*-
# Copyright (c) 2026 aks.tunnel contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Run the Kubernetes API emulator as a process.

    python -m ansible_collections.aks.tunnel.tests.lab.kube --state-dir DIR --config CONFIG.json|yaml

Writes DIR/kubeconfig (token, admin), DIR/kubeconfig-cert (client certificate, admin),
DIR/kubeconfig-readonly (token, read-only) and, last, DIR/ready (JSON: url, ca, pid, kubeconfigs).
SIGTERM/SIGINT stop it cleanly and remove DIR/ready.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading

import yaml

from .server import KubeEmulator, KubeLabError

KUBECONFIGS = {'kubeconfig': 'lab-admin', 'kubeconfig-cert': 'lab-admin-cert', 'kubeconfig-readonly': 'lab-reader'}


def main(argv=None):
    parser = argparse.ArgumentParser(prog='python -m ansible_collections.aks.tunnel.tests.lab.kube', description=__doc__.split('\n', maxsplit=1)[0])
    parser.add_argument('--state-dir', required=True, help='directory for the CA, certificates, kubeconfigs and the ready marker')
    parser.add_argument('--config', required=True, help='scenario/lab config (JSON or YAML): cluster, node_pools, kube')
    parser.add_argument('--port', type=int, default=None, help='listen port on 127.0.0.1 (default: kube.port or a free port)')
    args = parser.parse_args(argv)
    try:
        with open(args.config, encoding='utf-8') as handle:
            config = yaml.safe_load(handle)
    except (OSError, yaml.YAMLError) as exc:
        print('cannot read --config %s: %s' % (args.config, exc), file=sys.stderr)
        return 2
    if args.port is not None:
        config.setdefault('kube', {})['port'] = args.port
    ready = os.path.join(args.state_dir, 'ready')
    try:
        emulator = KubeEmulator(config, state_dir=args.state_dir)
        emulator.start()
    except (KubeLabError, OSError) as exc:
        print('lab kube emulator failed to start: %s' % exc, file=sys.stderr)
        return 1
    names = [user['name'] for user in emulator.users]
    files = {}
    for filename, user in KUBECONFIGS.items():
        if user in names:
            files[filename] = emulator.write_kubeconfig(os.path.join(args.state_dir, filename), user)
    stop = threading.Event()

    def _stop(signum, frame):
        del signum, frame
        stop.set()
    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    marker = {'url': emulator.url, 'ca': emulator.ca_path, 'pid': os.getpid(), 'kubeconfigs': files,
              'tunnel': emulator.seeded['tunnel'], 'nodes': emulator.store.count('nodes')}
    tmp = ready + '.tmp'
    with open(tmp, 'w', encoding='utf-8') as handle:
        json.dump(marker, handle)
    os.replace(tmp, ready)
    print('lab kube emulator ready at %s' % emulator.url, flush=True)
    while not stop.wait(0.5):
        pass
    emulator.stop()
    try:
        os.remove(ready)
    except OSError:
        pass
    print('lab kube emulator stopped', flush=True)
    return 0


if __name__ == '__main__':
    sys.exit(main())
