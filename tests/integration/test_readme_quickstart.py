# -*- coding: utf-8 -*-
# Copyright (c) 2026 aks.tunnel contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Issue 18: the README's quick start, run as it is written, in a fresh clone.

The lines of the fenced block after `<!-- quickstart:checkout` in the clone's README.md run one by one in one bash session (so
`source .venv/bin/activate` carries over), in a `git clone` of the repository's HEAD, with a PATH that has no .venv on
it and no ANSIBLE_*/AZURE_*/K8S_AUTH_* variables. Each line must exit 0, except the diagnosis, which must exit 2 and
name the scenario's problem.

Differences from a fresh machine, to stay within the test-time budget (about 25 s):
- `.venv` of the clone is a symlink to the repository's `.venv` (built by `scripts/setup.sh` from the same
  requirements-dev.txt; the test skips when the stamp differs, so `make setup` never installs into it). `make setup`
  itself runs unchanged and finds it up to date; AKS_TUNNEL_SKIP_AZ_CLI / AKS_TUNNEL_SKIP_COMPAT skip the test-only side
  environments (az, SDK floors), which the quick start does not use.
- `sudo` is a stand-in when the test runs as root (CI has no sudo): it runs the command with sudo's secure_path and sets
  SUDO_UID/SUDO_GID to an unprivileged user, as sudo does, so the test also checks that the lab's files are left to
  that user (issue 18: the documented next command runs without sudo).

The Galaxy block is checked for what a test can do without Galaxy: the tarball `ansible-galaxy collection build` makes
is installed with the block's install command (the tarball path in place of `aks.tunnel`) into a fresh HOME, and the
requirements path the block gives exists there and is the collection's requirements.txt.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.abspath(sys.prefix))   # make test runs <repo>/.venv/bin/python from a copy of the collection
SECURE_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'
NOBODY = 65534

pytestmark = [pytest.mark.xdist_group('readme_quickstart')]


def readme_block(marker, root):
    """The command lines of the fenced block that follows `<!-- quickstart:<marker>` in <root>/README.md (comments kept)."""
    with open(os.path.join(root, 'README.md'), encoding='utf-8') as handle:
        text = handle.read()
    found = re.search(r'<!-- quickstart:%s\b[^>]*-->\s*```bash\n(.*?)```' % re.escape(marker), text, re.S)
    assert found, 'README.md has no <!-- quickstart:%s --> block' % marker
    return [line for line in found.group(1).splitlines() if line.strip()]


def _clean_env(home, extra_path=()):
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(('ANSIBLE_', 'AZURE_', 'K8S_AUTH_', 'VIRTUAL_ENV', 'PYTHON', 'SUDO_'))}
    venvs = (os.path.join(REPO, '.venv'), os.path.abspath(sys.prefix))
    path = [p for p in os.environ.get('PATH', SECURE_PATH).split(os.pathsep) if p and not p.startswith(venvs)]
    env.update(PATH=os.pathsep.join(list(extra_path) + path), HOME=home)
    return env


@pytest.mark.lab
def test_checkout_quick_start_runs_verbatim_in_a_fresh_clone(tmp_path):
    if not os.path.isdir(os.path.join(REPO, '.git')):
        pytest.skip('%s is not a git checkout (the test clones it)' % REPO)
    clone = tmp_path / 'clone'
    subprocess.run(['git', 'clone', '-q', REPO, str(clone)], check=True, timeout=120)
    lines = readme_block('checkout', str(clone))
    stamp = os.path.join(REPO, '.venv', '.requirements-dev.sha256')
    want = subprocess.run(['sha256sum', str(clone / 'requirements-dev.txt')], capture_output=True, text=True, check=True).stdout.split()[0]
    if not os.path.isfile(stamp) or open(stamp, encoding='ascii').read().strip() != want:
        pytest.skip('the repository .venv is not built from the requirements-dev.txt of HEAD (make setup would install into it)')
    os.symlink(os.path.join(REPO, '.venv'), str(clone / '.venv'))
    shims = tmp_path / 'bin'
    shims.mkdir()
    sudo = shims / 'sudo'
    sudo.write_text('#!/bin/sh\n# stand-in for sudo when the test runs as root: secure_path and SUDO_UID/SUDO_GID as sudo sets them\n'
                    'exec env PATH=%s SUDO_UID=%d SUDO_GID=%d SUDO_USER=nobody "$@"\n' % (SECURE_PATH, NOBODY, NOBODY))
    sudo.chmod(0o755)
    home = tmp_path / 'home'
    home.mkdir()
    env = _clean_env(str(home), [str(shims)])
    env.update(AKS_TUNNEL_SKIP_AZ_CLI='1', AKS_TUNNEL_SKIP_COMPAT='1')
    script = ['cd %s' % clone]
    for index, line in enumerate(lines):
        script.append('%s\necho "::quickstart-rc %d $?"' % (line, index))
    try:
        proc = subprocess.run(['bash', '-c', '\n'.join(script)], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                              timeout=600, check=False, stdin=subprocess.DEVNULL)
        output = proc.stdout
        rcs = {int(i): int(rc) for i, rc in re.findall(r'^::quickstart-rc (\d+) (\d+)$', output, re.M)}
        assert sorted(rcs) == list(range(len(lines))), output[-6000:]
        diagnose = [i for i, line in enumerate(lines) if 'diagnose.yml' in line]
        assert len(diagnose) == 1, lines
        for index, line in enumerate(lines):
            assert rcs[index] == (2 if index in diagnose else 0), (line, output[-8000:])
        assert re.search(r'^nsg_blocks_10250\s+PROBLEM\s', output, re.M), output[-6000:]
        assert 'state files owned by uid %d' % NOBODY in output
        assert (clone / 'aks-tunnel-report' / 'report.json').is_file()
    finally:
        if (clone / '.lab' / 'lab.json').exists():
            subprocess.run([str(clone / 'tests' / 'lab' / 'labctl'), 'down', '--state', str(clone / '.lab')], env=dict(os.environ),
                           capture_output=True, timeout=300, check=False)


def test_galaxy_quick_start_installs_where_its_requirements_line_points(tmp_path):
    sys.path.insert(0, HERE)
    try:
        from collection_tarball import build_tarball  # pylint: disable=import-outside-toplevel
    finally:
        sys.path.remove(HERE)
    lines = readme_block('galaxy', os.path.join(HERE, '..', '..'))
    install = next(line for line in lines if line.startswith('ansible-galaxy collection install '))
    requirements = next(line for line in lines if ' pip install -r ' in line)
    assert install.split()[-1] == 'aks.tunnel'
    home = tmp_path / 'home'
    home.mkdir()
    work = tmp_path / 'elsewhere'   # outside a checkout: no ansible.cfg
    work.mkdir()
    env = _clean_env(str(home), [os.path.dirname(sys.executable)])
    proc = subprocess.run(['bash', '-c', install.replace('aks.tunnel', build_tarball())], cwd=str(work), env=env, capture_output=True,
                          text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    path = os.path.expanduser(requirements.split(' -r ', 1)[1].split()[0].replace('~', str(home), 1))
    assert os.path.isfile(path), (path, proc.stdout)
    with open(path, encoding='utf-8') as handle, open(os.path.join(HERE, '..', '..', 'requirements.txt'), encoding='utf-8') as ours:
        assert handle.read() == ours.read()
    assert shutil.which('python3', path=env['PATH'])
