# -*- coding: utf-8 -*-
# Copyright (c) 2026 aks.tunnel contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Issue 18: `sudo labctl up` leaves the lab's client files to the user who ran sudo (SUDO_UID/SUDO_GID).

The state is written by the lab's own writers (LabCA, the kube emulator's kubeconfig layout with mode 0600, vars.yml),
then owner.give_to_invoking_user runs with SUDO_UID set to an unprivileged uid; the user then reads every file a
`ansible-playbook -e @.lab/vars.yml` run reads, in a real process running as that uid. Needs root (chown, setuid).
"""

from __future__ import annotations

import os
import pathlib
import stat
import subprocess
import sys
import tempfile

import pytest
import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(os.path.dirname(HERE)))
if os.path.join(REPO, '.tmp', 'dev') not in sys.path and 'ansible_collections' not in HERE:
    sys.path.insert(0, os.path.join(REPO, '.tmp', 'dev'))

from ansible_collections.aks.tunnel.tests.lab.dataplane import owner  # noqa: E402  pylint: disable=wrong-import-position
from ansible_collections.aks.tunnel.tests.lab.pki import LabCA  # noqa: E402  pylint: disable=wrong-import-position

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason='chown and setuid need root')

USER = 65534   # nobody


@pytest.fixture
def tmp_path():
    """A directory the unprivileged user can reach (pytest's own live under a 0700 /tmp/pytest-of-root)."""
    with tempfile.TemporaryDirectory(prefix='aks-tunnel-owner-') as directory:
        os.chmod(directory, 0o755)
        yield pathlib.Path(directory)


def _state(tmp_path):
    """A state directory as `labctl up` leaves it: pki/, kubeconfigs (token and client certificate), vars.yml, daemon files."""
    state = tmp_path / 'state'
    state.mkdir(mode=0o755)
    ca = LabCA.create(str(state / 'pki'), common_name='owner test CA')
    cert, key = ca.issue_client_cert('client-lab-reader', 'lab-reader')
    for name, user in (('kubeconfig', {'token': 'lab-admin-token'}), ('kubeconfig-readonly', {'client-certificate': cert, 'client-key': key})):
        path = state / name
        path.write_text(yaml.safe_dump({'apiVersion': 'v1', 'kind': 'Config', 'current-context': 'lab',
                                        'clusters': [{'name': 'lab', 'cluster': {'server': 'https://127.0.0.1:1', 'certificate-authority': ca.cert_path}}],
                                        'users': [{'name': 'u', 'user': user}],
                                        'contexts': [{'name': 'lab', 'context': {'cluster': 'lab', 'user': 'u'}}]}))
        os.chmod(path, 0o600)   # as KubeEmulator.write_kubeconfig
    (state / 'vars.yml').write_text(yaml.safe_dump({'aks_tunnel_kubeconfig': str(state / 'kubeconfig'),
                                                    'aks_tunnel_lab': {'ca_path': ca.cert_path}}))
    (state / 'control.pid').write_text('1\n')
    return state, ca


def test_sudo_user_owns_and_reads_the_client_files(tmp_path):
    state, ca = _state(tmp_path)
    modes = {p: stat.S_IMODE(os.stat(p).st_mode) for p in (str(state / 'kubeconfig'), key_of(state))}
    changed = owner.give_to_invoking_user(str(state), environ={'SUDO_UID': str(USER), 'SUDO_GID': str(USER)})
    expected = {str(state), str(state / 'vars.yml'), str(state / 'kubeconfig'), str(state / 'kubeconfig-readonly'), str(state / 'pki'),
                ca.cert_path, key_of(state), cert_of(state)}
    assert set(changed) == expected
    for path in expected:
        assert (os.stat(path).st_uid, os.stat(path).st_gid) == (USER, USER), path
    for path, mode in modes.items():
        assert stat.S_IMODE(os.stat(path).st_mode) == mode == 0o600   # secrets stay private, now to the user
    # the daemon files and the CA key stay root's
    assert os.stat(state / 'control.pid').st_uid == 0
    assert os.stat(state / 'pki' / 'ca.key').st_uid == 0
    # a process of that user reads what a playbook run reads
    proc = subprocess.run(['cat'] + sorted(p for p in expected if os.path.isfile(p)), user=USER, group=USER, extra_groups=[],
                          capture_output=True, text=True, check=False, timeout=60, cwd='/')
    assert proc.returncode == 0, proc.stderr


def key_of(state):
    with open(state / 'kubeconfig-readonly', encoding='utf-8') as handle:
        return yaml.safe_load(handle)['users'][0]['user']['client-key']


def cert_of(state):
    with open(state / 'kubeconfig-readonly', encoding='utf-8') as handle:
        return yaml.safe_load(handle)['users'][0]['user']['client-certificate']


@pytest.mark.parametrize('environ', [{}, {'SUDO_UID': '0', 'SUDO_GID': '0'}, {'SUDO_UID': 'x'}])
def test_nothing_changes_without_a_sudo_user(tmp_path, environ):
    state, _ca = _state(tmp_path)
    assert owner.give_to_invoking_user(str(state), environ=environ) == []
    assert os.stat(state / 'kubeconfig').st_uid == 0
