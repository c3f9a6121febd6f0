# -*- coding: utf-8 -*-
# Copyright (c) 2026 aks.tunnel contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Run the ARM emulator as a process.

    python -m ansible_collections.aks.tunnel.tests.lab.arm --state-dir DIR --port 0 --config CONFIG.json [--exit-with-parent]

When listening it writes DIR/arm-ready.json ({url, port, ca_path, admin_token_path, pid, tenant_id,
subscription_id}) and prints one line `ARM_EMULATOR_READY <same json>` on stdout; SIGTERM/SIGINT stop it.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
import threading

from .common import LabConfigError
from .server import ArmEmulator


def main(argv=None):
    parser = argparse.ArgumentParser(prog='python -m ansible_collections.aks.tunnel.tests.lab.arm', description='aks.tunnel lab ARM emulator')
    parser.add_argument('--state-dir', required=True, help='directory for the CA, admin token and ready file')
    parser.add_argument('--config', help='JSON config file (default: a one-pool cluster)')
    parser.add_argument('--port', type=int, default=0, help='TCP port on 127.0.0.1 (0 = pick a free one)')
    parser.add_argument('--ca-dir', help='reuse an existing lab CA (ca.pem + ca.key) instead of creating one in STATE_DIR/ca')
    parser.add_argument('--exit-with-parent', action='store_true', help='stop when the parent process goes away (no orphans after a crashed test run)')
    parser.add_argument('--debug', action='store_true')
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.debug else logging.WARNING, stream=sys.stderr,
                        format='%(asctime)s %(name)s %(levelname)s %(message)s')
    if args.config:
        with open(args.config, encoding='utf-8') as handle:
            config = json.load(handle)
    else:
        config = {'cluster': {'name': 'lab', 'resource_group': 'lab-rg'}, 'node_pools': [{'name': 'nodepool1', 'count': 3}]}
    try:
        emulator = ArmEmulator(config, state_dir=args.state_dir, port=args.port, ca_dir=args.ca_dir)
        emulator.start()
    except (LabConfigError, ValueError, OSError) as exc:
        print('ARM emulator failed to start: %s' % exc, file=sys.stderr)
        return 2
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    info = emulator.ready_info()
    ready = os.path.join(args.state_dir, 'arm-ready.json')
    with open(ready + '.tmp', 'w', encoding='utf-8') as handle:
        json.dump(info, handle)
    os.replace(ready + '.tmp', ready)
    print('ARM_EMULATOR_READY ' + json.dumps(info), flush=True)
    parent = os.getppid()
    try:
        while not stop.wait(0.5):
            if args.exit_with_parent and os.getppid() != parent:
                break
    finally:
        emulator.stop()
        try:
            os.unlink(ready)
        except OSError:
            pass
    return 0


if __name__ == '__main__':
    sys.exit(main())
