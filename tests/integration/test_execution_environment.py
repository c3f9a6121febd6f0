# -*- coding: utf-8 -*-
# Copyright (c) 2026 aks.tunnel contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""execution-environment.yml builds from the checkout (issue 18), checked without a container runtime.

`ansible-builder create` makes the build context of the documented build: the collection tarball must be in it
(additional_build_files), its galaxy stage must install exactly that tarball, ansible-builder's introspection of the
installed collection must find requirements.txt and bindep.txt (meta/execution-environment.yml), and the final image
must get the Azure CLI (docs use `auth_source: cli`) and kubelogin. The galaxy stage's own shell step runs here, with
/build moved to a temporary directory, followed by the same `ansible-galaxy collection install -r requirements.yml`
and `ansible-builder introspect` the build runs.
"""

from __future__ import annotations

import filecmp
import os
import re
import shutil
import subprocess
import sys

import pytest
import yaml

from ansible_collections.aks.tunnel.tests.integration.collection_tarball import COLLECTION_ROOT, build_tarball

pytestmark = pytest.mark.xdist_group('packaging')  # shares the tarball with test_collection_packaging.py

BIN = os.path.dirname(sys.executable)
BUILDER = os.path.join(BIN, 'ansible-builder')
EE_FILE = os.path.join(COLLECTION_ROOT, 'execution-environment.yml')

if not os.path.exists(BUILDER):
    pytest.skip('ansible-builder is absent: make setup installs requirements-dev.txt', allow_module_level=True)


def _run(args, cwd=None):
    # as in the image: no collection on PYTHONPATH, in a configured path or in ~/.ansible (it would count as installed)
    env = {k: v for k, v in os.environ.items() if k not in ('PYTHONPATH', 'ANSIBLE_CONFIG') and not k.startswith('ANSIBLE_COLLECTIONS_PATH')}
    env.update(ANSIBLE_NOCOLOR='1', HOME=cwd or env.get('HOME', '/'))
    return subprocess.run(args, capture_output=True, text=True, timeout=300, check=False, env=env, cwd=cwd)


@pytest.fixture(scope='module')
def context(tmp_path_factory):
    """(checkout stand-in, build context): execution-environment.yml and dist/<tarball>, then `ansible-builder create`."""
    work = tmp_path_factory.mktemp('ee')
    shutil.copy(EE_FILE, str(work / 'execution-environment.yml'))
    (work / 'dist').mkdir()
    shutil.copy(build_tarball(), str(work / 'dist'))
    create = _run([BUILDER, 'create', '-f', 'execution-environment.yml', '-c', 'context', '--output-filename', 'Containerfile'], cwd=str(work))
    assert create.returncode == 0, create.stdout + create.stderr
    assert 'No matches' not in create.stdout + create.stderr
    return work, work / 'context'


def _stages(containerfile):
    """Containerfile text -> {stage name: its lines}."""
    stages, current = {}, None
    for line in containerfile.splitlines():
        match = re.match(r'FROM \S+ AS (\w+)', line)
        if match:
            current = stages.setdefault(match.group(1), [])
        elif current is not None and line.strip() and not line.startswith('ARG '):
            current.append(line)
    return stages


def test_context_holds_the_tarball_and_the_galaxy_stage_installs_it(context):
    _work, ctx = context
    tarball = build_tarball()
    copied = ctx / '_build' / 'collections' / os.path.basename(tarball)
    assert copied.is_file() and filecmp.cmp(str(copied), tarball, shallow=False)
    requirements = yaml.safe_load((ctx / '_build' / 'requirements.yml').read_text())
    assert requirements == {'collections': [{'name': '/build/collections/aks-tunnel.tar.gz', 'type': 'file'}]}
    stages = _stages((ctx / 'Containerfile').read_text())
    assert sorted(stages) == ['base', 'builder', 'final', 'galaxy']
    galaxy = '\n'.join(stages['galaxy'])
    assert 'COPY _build/collections/ /build/collections/' in galaxy and 'ansible-galaxy collection install' in galaxy
    assert galaxy.index('mv "$1" /build/collections/aks-tunnel.tar.gz') < galaxy.index('ansible-galaxy collection install')
    builder = '\n'.join(stages['builder'])
    assert 'COPY --from=galaxy /usr/share/ansible /usr/share/ansible' in builder and 'introspect.py introspect' in builder


def test_final_image_gets_the_azure_cli_scripts_setup_tests_with_and_kubelogin(context):
    _work, ctx = context
    final = '\n'.join(_stages((ctx / 'Containerfile').read_text())['final'])
    with open(os.path.join(COLLECTION_ROOT, 'scripts', 'setup.sh'), encoding='utf-8') as handle:
        version = re.search(r'AZURE_CLI_VERSION=\$\{AKS_TUNNEL_AZURE_CLI_VERSION:-([0-9.]+)\}', handle.read()).group(1)
    assert 'pip install --no-cache-dir azure-cli==%s' % version in final
    assert 'ln -s /opt/azure-cli/bin/az /usr/local/bin/az' in final and '--kubelogin-install-location /usr/local/bin/kubelogin' in final
    assert final.index('install-from-bindep') < final.index('azure-cli==')
    with open(os.path.join(COLLECTION_ROOT, 'docs', 'usage.md'), encoding='utf-8') as handle:
        assert 'auth_source: cli' in handle.read()   # the reason the Azure CLI is in the image


def _galaxy_step(ctx, build_dir):
    """The RUN line of prepend_galaxy that picks the tarball, with /build moved to `build_dir`."""
    galaxy = _stages((ctx / 'Containerfile').read_text())['galaxy']
    run = next(line for line in galaxy if line.startswith('RUN set -- /build/collections/'))
    return run[len('RUN '):].replace('/build/', str(build_dir) + '/')


def test_galaxy_stage_installs_the_tarball_and_introspection_finds_requirements_and_bindep(context, tmp_path):
    _work, ctx = context
    build = tmp_path / 'build'
    shutil.copytree(str(ctx / '_build' / 'collections'), str(build / 'collections'))
    step = _run(['sh', '-c', _galaxy_step(ctx, build)])
    assert step.returncode == 0, step.stderr
    requirements = (ctx / '_build' / 'requirements.yml').read_text().replace('/build/', str(build) + '/')
    (build / 'requirements.yml').write_text(requirements)
    install = _run([os.path.join(BIN, 'ansible-galaxy'), 'collection', 'install', '--offline', '-r', str(build / 'requirements.yml'),
                    '--collections-path', str(tmp_path / 'ansible')], cwd=str(tmp_path))
    assert install.returncode == 0, install.stdout + install.stderr
    introspect = _run([BUILDER, 'introspect', '--sanitize', str(tmp_path / 'ansible')], cwd=str(tmp_path))
    assert introspect.returncode == 0, introspect.stderr
    found = yaml.safe_load(introspect.stdout)
    assert found, introspect.stdout + introspect.stderr

    def entries(path):
        with open(os.path.join(COLLECTION_ROOT, path), encoding='utf-8') as handle:
            lines = [line.split('#')[0].strip() for line in handle]
        return [line for line in lines if line and not line.startswith('ansible-core')]   # the builder installs ansible-core itself

    assert [line.split('  #')[0] for line in found['python']] == entries('requirements.txt'), introspect.stdout
    assert [line.split('  #')[0] for line in found['system']] == entries('bindep.txt')


def test_galaxy_stage_refuses_two_tarballs(context, tmp_path):
    _work, ctx = context
    build = tmp_path / 'build'
    shutil.copytree(str(ctx / '_build' / 'collections'), str(build / 'collections'))
    shutil.copy(build_tarball(), str(build / 'collections' / 'aks-tunnel-0.0.1.tar.gz'))
    step = _run(['sh', '-c', _galaxy_step(ctx, build)])
    assert step.returncode == 1 and 'expected exactly one dist/aks-tunnel-*.tar.gz' in step.stderr


def test_execution_environment_is_documented():
    with open(os.path.join(COLLECTION_ROOT, 'docs', 'execution-environment.md'), encoding='utf-8') as handle:
        text = handle.read()
    for needle in ('ansible-galaxy collection build', 'ansible-builder build', 'podman', 'docker', 'ansible-navigator', 'auth_source: cli'):
        assert needle in text, needle
