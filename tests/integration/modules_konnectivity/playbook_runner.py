# -*- coding: utf-8 -*-
# Copyright (c) 2026 aks.tunnel contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Run the collection's modules through real `ansible-playbook` runs and return what every task registered.

Used by the modules_konnectivity and modules_snat integration tests. The collection is found where the tests
were imported from (`<X>/ansible_collections/aks/tunnel/...`), so the copied tree of `make test` and the
development symlink tree (.tmp/dev) both work.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import yaml

import ansible_collections.aks.tunnel.tests.lab.pki as _anchor

PLAYBOOK_TIMEOUT = 240


def collections_path():
    """<X> such that <X>/ansible_collections/aks/tunnel is the collection these tests were imported from."""
    # <X>/ansible_collections/aks/tunnel/tests/lab/pki.py: six levels up (abspath, not realpath: keep the tree's layout).
    path = os.path.abspath(_anchor.__file__)
    for _level in range(6):
        path = os.path.dirname(path)
    if not os.path.isdir(os.path.join(path, 'ansible_collections', 'aks', 'tunnel')):
        raise RuntimeError('cannot locate the collection tree above %s; run the tests from <X>/ansible_collections/aks/tunnel' % _anchor.__file__)
    return path


def ansible_playbook():
    return os.path.join(os.path.dirname(sys.executable), 'ansible-playbook')


def _environment(extra=None):
    env = dict(os.environ)
    env.update({
        'ANSIBLE_COLLECTIONS_PATH': collections_path(),
        'ANSIBLE_LOCALHOST_WARNING': 'False',
        'ANSIBLE_INVENTORY_UNPARSED_WARNING': 'False',
        'ANSIBLE_NOCOLOR': '1',
        'ANSIBLE_RETRY_FILES_ENABLED': 'False',
        'ANSIBLE_HOST_KEY_CHECKING': 'False',
        'PYTHONDONTWRITEBYTECODE': '1',
    })
    env.update(extra or {})
    return env


def write_playbook(directory, tasks, module_defaults=None):
    """A play on localhost running `tasks` (each with `register`), then dumping every registered result to results.json."""
    directory = str(directory)
    results = os.path.join(directory, 'results.json')
    names = [task['register'] for task in tasks if task.get('register')]
    dump = '{{ {%s} | to_json }}' % ', '.join("'%s': %s" % (name, name) for name in names)
    play = {'name': 'aks.tunnel module integration', 'hosts': 'localhost', 'gather_facts': False, 'tasks': list(tasks) + [
        {'name': 'Save the results', 'ansible.builtin.copy': {'content': dump, 'dest': results, 'mode': '0600'}}]}
    if module_defaults:
        play['module_defaults'] = module_defaults
    # An empty ansible.cfg next to the playbook: no user or checkout config leaks into the run.
    with open(os.path.join(directory, 'ansible.cfg'), 'w', encoding='utf-8') as handle:
        handle.write('[defaults]\n')
    path = os.path.join(directory, 'playbook.yml')
    with open(path, 'w', encoding='utf-8') as handle:
        yaml.safe_dump([play], handle, sort_keys=False)
    return path, results


def start_playbook(directory, tasks, module_defaults=None, env=None):
    """Start ansible-playbook in the background; returns (Popen, results path)."""
    path, results = write_playbook(directory, tasks, module_defaults)
    command = [ansible_playbook(), '-i', 'localhost,', '-c', 'local', '-e', 'ansible_python_interpreter=%s' % sys.executable, path]
    env = dict(env or {}, ANSIBLE_CONFIG=os.path.join(str(directory), 'ansible.cfg'))
    process = subprocess.Popen(command, cwd=str(directory), env=_environment(env), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               text=True)
    return process, results


def finish_playbook(process, results):
    """Wait for the run; return the registered results (raise with the output when the play itself failed)."""
    output, _unused = process.communicate(timeout=PLAYBOOK_TIMEOUT)
    if process.returncode != 0 or not os.path.exists(results):
        raise AssertionError('ansible-playbook failed (rc %s):\n%s' % (process.returncode, output[-6000:]))
    with open(results, encoding='utf-8') as handle:
        data = json.load(handle)
    data['_output'] = output
    return data


def run_playbook(directory, tasks, module_defaults=None, env=None):
    process, results = start_playbook(directory, tasks, module_defaults, env)
    return finish_playbook(process, results)
