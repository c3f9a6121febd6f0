# -*- coding: utf-8 -*-
# Copyright (c) 2026 aks.tunnel contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Hand the lab's client files to the user who ran `sudo labctl up` (issue 18).

The lab needs root, but the commands that follow it (`ansible-playbook ... -e @.lab/vars.yml`, `kubectl`, `labctl env`)
run as the user: the state directory, vars.yml, the kubeconfigs (0600, they hold tokens) and every file they point to
(the lab CA, client certificates and keys) change owner to SUDO_UID/SUDO_GID, keeping their modes. The daemons' own
files (pid, ready, log, the emulators' directories) stay root's.
"""

from __future__ import annotations

import os

import yaml

# The files a user of the lab reads, relative to the state directory.
CLIENT_FILES = ('vars.yml', 'kubeconfig', 'kubeconfig-readonly', 'kubeconfig-diagnose', 'kubeconfig-remediate')
# Keys of a kubeconfig's clusters/users that name files.
_KUBECONFIG_FILE_KEYS = ('certificate-authority', 'client-certificate', 'client-key')


def invoking_user(environ=None):
    """(uid, gid) of the user behind sudo, or None when not root, not under sudo, or sudo from root."""
    environ = os.environ if environ is None else environ
    uid, gid = environ.get('SUDO_UID', ''), environ.get('SUDO_GID', '')
    if os.geteuid() != 0 or not uid.isdigit() or int(uid) == 0:
        return None
    return int(uid), int(gid) if gid.isdigit() else int(uid)


def _kubeconfig_files(path):
    try:
        with open(path, encoding='utf-8') as handle:
            config = yaml.safe_load(handle) or {}
    except (OSError, yaml.YAMLError):
        return []
    files = []
    for section, inner in (('clusters', 'cluster'), ('users', 'user')):
        for entry in config.get(section) or []:
            body = (entry or {}).get(inner) or {}
            files += [body[key] for key in _KUBECONFIG_FILE_KEYS if isinstance(body.get(key), str)]
    return files


def client_files(state_dir):
    """The files and directories a user of the lab in `state_dir` reads (those that exist), state_dir first."""
    state_dir = os.path.abspath(state_dir)
    found = []
    for name in CLIENT_FILES:
        path = os.path.join(state_dir, name)
        if os.path.isfile(path):
            found.append(path)
            if name.startswith('kubeconfig'):
                found += _kubeconfig_files(path)
    vars_path = os.path.join(state_dir, 'vars.yml')
    if os.path.isfile(vars_path):
        with open(vars_path, encoding='utf-8') as handle:
            data = yaml.safe_load(handle) or {}
        ca_path = (data.get('aks_tunnel_lab') or {}).get('ca_path')
        if ca_path:
            found.append(ca_path)
    paths = [state_dir]
    for path in found:
        path = os.path.abspath(path)
        if not path.startswith(state_dir + os.sep) or not os.path.exists(path):
            continue   # only what the lab wrote
        # the directories between the state directory and the file, so the user can reach it
        parent = os.path.dirname(path)
        while parent != state_dir and parent not in paths:
            paths.append(parent)
            parent = os.path.dirname(parent)
        if path not in paths:
            paths.append(path)
    return paths


def give_to_invoking_user(state_dir, environ=None, log=None):
    """chown the lab's client files to the sudo user (modes unchanged); return the paths changed ([] when not under sudo)."""
    owner = invoking_user(environ)
    if owner is None:
        return []
    paths = client_files(state_dir)
    for path in paths:
        os.chown(path, owner[0], owner[1], follow_symlinks=False)
    if log is not None:
        log('state files owned by uid %d (the user who ran sudo): %s' % (owner[0], ', '.join(
            os.path.relpath(p, os.path.abspath(state_dir)) for p in paths[1:])))
    return paths
