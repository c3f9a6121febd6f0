# -*- coding: utf-8 -*-
# Copyright (c) 2026 aks.tunnel contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The collection tarball, built once per test process (`ansible-galaxy collection build` takes a second, but the
packaging, CI recipe and execution environment tests all need one; they share the xdist group `packaging`)."""

from __future__ import annotations

import atexit
import glob
import os
import shutil
import subprocess
import sys
import tempfile

COLLECTION_ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..'))
BIN = os.path.dirname(sys.executable)
_BUILT = {}


def build_tarball():
    """Path of aks-tunnel-<version>.tar.gz built from COLLECTION_ROOT (removed when the process exits)."""
    if 'path' not in _BUILT:
        work = tempfile.mkdtemp(prefix='aks-tunnel-build-')
        atexit.register(shutil.rmtree, work, True)
        build = subprocess.run([os.path.join(BIN, 'ansible-galaxy'), 'collection', 'build', '--output-path', work, COLLECTION_ROOT],
                               capture_output=True, text=True, timeout=300, check=False, env=dict(os.environ, ANSIBLE_NOCOLOR='1'))
        if build.returncode != 0:
            raise RuntimeError('ansible-galaxy collection build failed:\n%s%s' % (build.stdout, build.stderr))
        tarballs = glob.glob(os.path.join(work, 'aks-tunnel-*.tar.gz'))
        if len(tarballs) != 1:
            raise RuntimeError('expected one tarball, got %r' % tarballs)
        _BUILT['path'] = tarballs[0]
    return _BUILT['path']
