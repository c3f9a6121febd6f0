# -*- coding: utf-8 -*-
# Copyright (c) 2026 aks.tunnel contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The lab and playbook runner of the module-level lab tests (tests/integration/modules_network and their neighbours).

A test starts labs through the module-scoped ``lab_factory`` fixture (conftest.py next to this file), runs a playbook
against one with ``run_playbook`` (the playbook dumps its registered results to JSON) and names nodes with ``short_names``.
"""

from __future__ import annotations

import json
import os
import ssl
import subprocess
import sys
import textwrap
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))


def collections_root():
    """The directory that holds ansible_collections/aks/tunnel (tests may run from a copied tree)."""
    parts = os.path.abspath(__file__).split(os.sep)
    if 'ansible_collections' in parts:
        index = len(parts) - 1 - parts[::-1].index('ansible_collections')
        return os.sep.join(parts[:index]) or os.sep
    repo = os.path.dirname(os.path.dirname(os.path.dirname(HERE)))
    root = os.path.join(repo, '.tmp', 'dev')
    link = os.path.join(root, 'ansible_collections', 'aks', 'tunnel')
    if not os.path.exists(link):
        os.makedirs(os.path.dirname(link), exist_ok=True)
        os.symlink(repo, link)
    return root


ROOT = collections_root()
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)


def run_playbook(tmp_path, text, lab_vars, extra):
    playbook = tmp_path / 'play.yml'
    playbook.write_text(textwrap.dedent(text))
    out = tmp_path / 'out.json'
    extra = dict(extra, out=str(out))
    extra_file = tmp_path / 'extra.json'
    extra_file.write_text(json.dumps(extra))
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=ROOT, ANSIBLE_NOCOLOR='1', ANSIBLE_DEPRECATION_WARNINGS='0')
    ansible_playbook = os.path.join(os.path.dirname(sys.executable), 'ansible-playbook')
    proc = subprocess.run([ansible_playbook, str(playbook), '-e', '@' + lab_vars, '-e', '@' + str(extra_file)],
                          capture_output=True, text=True, env=env, cwd=str(tmp_path), timeout=600, check=False)
    assert proc.returncode == 0, 'ansible-playbook failed:\n%s\n%s' % (proc.stdout[-6000:], proc.stderr[-3000:])
    return json.loads(out.read_text())


class Lab:
    def __init__(self, scenario, state_dir):
        from ansible_collections.aks.tunnel.tests.lab.dataplane import lab  # pylint: disable=import-outside-toplevel
        self._lab = lab
        self.scenario = scenario
        self.state_dir = str(state_dir)
        lab.up(scenario, self.state_dir, log=lambda message: None)
        self.vars_file = os.path.join(self.state_dir, 'vars.yml')

    def down(self):
        self._lab.down(self.state_dir, log=lambda message: None)

    def admin(self, method, path, body=None):
        """The ARM emulator's lab admin API (faults, settings, hung run commands)."""
        with open(os.path.join(self.state_dir, 'control.ready'), encoding='utf-8') as handle:
            arm = json.load(handle)['arm']
        with open(arm['admin_token_path'], encoding='utf-8') as handle:
            token = handle.read().strip()
        request = urllib.request.Request(arm['url'] + '/_lab/' + path, method=method,
                                         data=json.dumps(body).encode() if body is not None else None,
                                         headers={'Authorization': 'Bearer ' + token, 'Content-Type': 'application/json'})
        with urllib.request.urlopen(request, context=ssl.create_default_context(cafile=arm['ca_path']), timeout=30) as response:
            return json.loads(response.read())


def short_names(info):
    """Full node name -> <pool>-<instance id>."""
    return dict((n['name'], '%s-%s' % (n['pool'], n['instance_id'])) for n in info['nodes'])
