# -*- coding: utf-8 -*-
# Copyright (c) 2026 aks.tunnel contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The collection builds, installs, documents every plugin, and its filters work in a real playbook; the tarball holds
what runs a diagnosis and leaves the lab, the tests and the development files in the checkout (galaxy.yml build_ignore)."""

from __future__ import annotations

import glob
import json
import os
import subprocess
import tarfile

import pytest

from ansible_collections.aks.tunnel.tests.integration.collection_tarball import BIN, COLLECTION_ROOT, build_tarball

# The installed collection: what runs a diagnosis and what its docs point users to.
TOP_LEVEL = {'MANIFEST.json', 'FILES.json', 'README.md', 'requirements.txt', 'bindep.txt', 'changelogs', 'docs', 'meta', 'playbooks',
             'plugins', 'rbac', 'roles', 'tests'}
# Compressed tarball size bound (bytes): about 420 kB without the lab and the tests (1 MB with them, issue 18).
MAX_TARBALL_BYTES = 600 * 1024

pytestmark = pytest.mark.xdist_group('packaging')


def _run(args, **kwargs):
    env = dict(os.environ, ANSIBLE_NOCOLOR='1', ANSIBLE_FORCE_COLOR='0')
    env.update(kwargs.pop('env', {}))
    return subprocess.run(args, capture_output=True, text=True, timeout=300, env=env, check=False, **kwargs)


@pytest.fixture(scope='module')
def installed(tmp_path_factory):
    """Install the tarball (built once per process, tests/integration/collection_tarball.py) into a fresh collections path."""
    dest = tmp_path_factory.mktemp('pkg') / 'collections'
    install = _run([os.path.join(BIN, 'ansible-galaxy'), 'collection', 'install', '--force', '-p', str(dest), build_tarball()])
    assert install.returncode == 0, install.stdout + install.stderr
    assert (dest / 'ansible_collections' / 'aks' / 'tunnel' / 'MANIFEST.json').is_file()
    return dest


def _plugins(kind):
    folder = os.path.join(COLLECTION_ROOT, 'plugins', kind)
    return sorted(os.path.splitext(os.path.basename(p))[0] for p in glob.glob(os.path.join(folder, '*.py')) if not p.endswith('__init__.py'))


def test_tarball_leaves_out_development_files(installed):
    manifest = json.loads((installed / 'ansible_collections' / 'aks' / 'tunnel' / 'FILES.json').read_text())
    names = {entry['name'] for entry in manifest['files']}
    assert 'galaxy.yml' not in names  # build turns it into MANIFEST.json
    for forbidden in ('.venv', '.tmp', '.lab', 'Makefile', 'tests/output'):
        assert not any(name == forbidden or name.startswith(forbidden + '/') for name in names), forbidden
    assert 'plugins/module_utils/_causes.py' in names
    # The least-privilege roles ship with the collection (docs/usage.md, Permissions).
    assert {'rbac/README.md', 'rbac/azure/aks-tunnel-diagnose.json', 'rbac/azure/aks-tunnel-remediate.json',
            'rbac/kubernetes/aks-tunnel-diagnose.yaml', 'rbac/kubernetes/aks-tunnel-remediate.yaml'} <= names


def test_tarball_keeps_the_lab_tests_and_development_files_in_the_checkout():
    tarball = build_tarball()
    with tarfile.open(tarball) as archive:
        members = archive.getmembers()
    names = {m.name for m in members}
    assert {name.split('/')[0] for name in names} == TOP_LEVEL
    # tests/: only what ansible-test sanity reads on an installed tree
    files = {m.name for m in members if m.isfile()}
    assert {n for n in files if n.startswith('tests/')} == {
        'tests/config.yml', 'tests/sanity/ignore-2.19.txt'}
    for dev_file in ('requirements-dev.txt', 'requirements-compat-min.txt', 'requirements-kubectl.txt', 'ansible.cfg', 'Makefile',
                     'execution-environment.yml', 'scripts/setup.sh'):
        assert dev_file not in names, dev_file
    # what the docs send users of an installed collection to
    assert {'requirements.txt', 'bindep.txt', 'meta/execution-environment.yml', 'meta/runtime.yml', 'docs/report.schema.json',
            'docs/report.md', 'docs/usage.md', 'docs/execution-environment.md', 'docs/ci/github-actions.yml',
            'docs/ci/azure-pipelines.yml', 'playbooks/diagnose.yml', 'playbooks/remediate.yml'} <= names
    size = os.path.getsize(tarball)
    assert size < MAX_TARBALL_BYTES, 'the tarball grew to %d bytes (bound %d): does galaxy.yml build_ignore still leave out the tests?' % (
        size, MAX_TARBALL_BYTES)


@pytest.mark.parametrize('kind, plugin_type', [('filter', 'filter'), ('modules', 'module')])
def test_ansible_doc_renders_every_plugin(installed, kind, plugin_type):
    names = _plugins(kind)
    if kind == 'filter':
        assert {'ladder_replicas', 'nsg_flow_verdict', 'tunnel_symptoms'} <= set(names)
    for name in names:
        result = _run([os.path.join(BIN, 'ansible-doc'), '-t', plugin_type, '--json', 'aks.tunnel.' + name],
                      env={'ANSIBLE_COLLECTIONS_PATH': str(installed)})
        assert result.returncode == 0, '%s: %s' % (name, result.stderr)
        doc = json.loads(result.stdout)['aks.tunnel.' + name]
        assert doc['doc'].get('short_description'), name
        assert doc.get('examples'), '%s has no EXAMPLES' % name


def test_filters_work_in_a_playbook(installed, tmp_path):
    playbook = tmp_path / 'filters.yml'
    playbook.write_text('''
- name: Use the aks.tunnel filters
  hosts: localhost
  gather_facts: false
  vars:
    ansible_python_interpreter: "{{ ansible_playbook_python }}"
    ladder: '{"nodesToReplicas":[[1,2],[100,3],[250,4]]}'
    rules:
      - name: deny-kubelet
        properties: {priority: 200, direction: Inbound, access: Deny, protocol: Tcp, sourceAddressPrefix: '*',
                     sourcePortRange: '*', destinationAddressPrefix: '*', destinationPortRange: '10000-10300'}
  tasks:
    - name: Evaluate
      ansible.builtin.set_fact:
        replicas: "{{ ladder | aks.tunnel.ladder_replicas(nodes=120, cores=240) }}"
        verdict: "{{ rules | aks.tunnel.nsg_flow_verdict(port=10250, protocol='Tcp', source='10.240.0.4', destination='10.240.0.5',
                     direction='Inbound', vnet_prefixes=['10.240.0.0/16']) }}"
        symptoms: "{{ 'error dialing backend: dial tcp 10.240.0.5:10250: i/o timeout' | aks.tunnel.tunnel_symptoms }}"
    - name: Save the results for the test
      ansible.builtin.copy:
        content: "{{ {'replicas': replicas | int, 'verdict': verdict, 'causes': symptoms | map(attribute='cause') | list} | to_json }}"
        dest: "{{ result_file }}"
        mode: '0600'
    - name: A broken ladder fails the task with a readable message
      ansible.builtin.debug:
        msg: "{{ '{\\"nodesToReplicas\\": oops' | aks.tunnel.ladder_replicas(nodes=3, cores=6) }}"
      ignore_errors: true
      register: broken
    - name: Check the failure
      ansible.builtin.assert:
        that: [broken is failed, "'ladder' in broken.msg"]
''')
    result_file = tmp_path / 'result.json'
    result = _run([os.path.join(BIN, 'ansible-playbook'), '-i', 'localhost,', '-c', 'local', str(playbook), '-e', 'result_file=%s' % result_file],
                  env={'ANSIBLE_COLLECTIONS_PATH': str(installed)})
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    data = json.loads(result_file.read_text())
    assert data['replicas'] == 3
    assert data['verdict']['access'] == 'Deny'
    assert data['verdict']['rule'] == 'deny-kubelet'
    assert data['verdict']['priority'] == 200
    # An i/o timeout on 10250 means a silent drop: the three 10250 causes come first, in any order.
    assert set(data['causes'][:3]) == {'nsg_blocks_10250', 'ufw_blocks_10250', 'iptables_blocks_10250'}
