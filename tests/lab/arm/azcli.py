# -*- coding: utf-8 -*-
# Copyright (c) 2026 aks.tunnel contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Point the real Azure CLI at a lab's ARM emulator, in an isolated AZURE_CONFIG_DIR.

    python -m ansible_collections.aks.tunnel.tests.lab.arm.azcli --state DIR [--az PATH] [--config-dir DIR]

registers the lab as a cloud (`az cloud register --endpoint-resource-manager <ARM url>/`: the CLI reads the
emulator's /metadata/endpoints), logs in with the lab's contributor service principal and prints the shell lines
(`export AZURE_CONFIG_DIR=... REQUESTS_CA_BUNDLE=...`) that make `az` in this shell talk to the lab.

The config dir never reaches outside the machine: MSAL's instance discovery (a call to login.microsoftonline.com
for an unknown authority) is off (`core.instance_discovery=false`, the switch the CLI has for Azure Stack),
telemetry and the upgrade / survey notices are off, and `versionCheck.json` is seeded with the installed versions
(a fresh config dir otherwise makes az look up azcliprod.blob.core.windows.net for the latest release on its first
command). Nothing is written to the user's ~/.azure.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import shlex
import shutil
import subprocess
import sys

import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(os.path.dirname(HERE)))
CLOUD = 'AksTunnelLab'
CONFIG_INI = """[core]
instance_discovery = false
collect_telemetry = false
survey_message = false
only_show_errors = true
no_color = true
output = json
[auto-upgrade]
enable = no
"""


class AzCliError(RuntimeError):
    """az failed; the message carries its stderr."""


def side_venv(name):
    """<repo>/<name> made by scripts/setup.sh, found beside this file's repo or beside the running .venv (make test runs
    from a copy of the collection, with the repository's .venv/bin/python)."""
    for root in (REPO, os.path.dirname(sys.prefix)):
        path = os.path.join(root, name)
        if os.path.isfile(os.path.join(path, '.requirements.sha256')):
            return path
    return None


def find_az(explicit=None):
    """The az executable: explicit path, $AKS_TUNNEL_AZ, .venv-az/bin/az (scripts/setup.sh), else az on PATH; None if absent."""
    venv = side_venv('.venv-az')
    for candidate in (explicit, os.environ.get('AKS_TUNNEL_AZ'), venv and os.path.join(venv, 'bin', 'az')):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    return shutil.which('az')


def lab_auth(state_dir):
    """The contributor auth dict of a lab (vars.yml `aks_tunnel_azure_auth`)."""
    with open(os.path.join(state_dir, 'vars.yml'), encoding='utf-8') as handle:
        return yaml.safe_load(handle)['aks_tunnel_azure_auth']


class AzCli:
    """Runs az with an isolated config dir that trusts the lab CA and is logged in to the lab."""

    def __init__(self, az, config_dir, ca_path):
        self.az = az
        self.config_dir = config_dir
        self.ca_path = ca_path

    def env(self):
        env = {k: v for k, v in os.environ.items() if not k.startswith(('AZURE_', 'ARM_', 'MSI_', 'IDENTITY_'))}
        env.update(AZURE_CONFIG_DIR=self.config_dir, REQUESTS_CA_BUNDLE=self.ca_path, AZURE_CORE_COLLECT_TELEMETRY='false',
                   AZURE_CORE_INSTANCE_DISCOVERY='false', NO_PROXY='127.0.0.1,localhost', no_proxy='127.0.0.1,localhost')
        return env

    def run(self, *args, check=True, timeout=120, parse=True):
        """Run `az ARGS`; return the parsed JSON (or the CompletedProcess when parse is False or check is False)."""
        proc = subprocess.run([self.az] + [str(a) for a in args], capture_output=True, text=True, env=self.env(), timeout=timeout,
                              check=False, stdin=subprocess.DEVNULL)
        if not check:
            return proc
        if proc.returncode != 0:
            raise AzCliError('az %s failed (rc %d):\n%s' % (' '.join(shlex.quote(str(a)) for a in args), proc.returncode, proc.stderr[-4000:]))
        if not parse:
            return proc
        return json.loads(proc.stdout) if proc.stdout.strip() else None

    def installed_versions(self):
        """{'azure-cli': {'local': v}, 'core': ..., 'telemetry': ...} from the Python of the az script (None if not a Python script)."""
        with open(os.path.realpath(self.az), 'rb') as handle:
            first = handle.readline().decode('utf-8', 'replace').strip()
        python = first[2:].strip().split()[0] if first.startswith('#!') and 'python' in first else None
        if not python or not os.access(python, os.X_OK):
            return None
        code = ('import importlib.metadata as m, json; print(json.dumps({k: {"local": m.version(p)} for k, p in '
                '(("azure-cli", "azure-cli"), ("core", "azure-cli-core"), ("telemetry", "azure-cli-telemetry"))}))')
        proc = subprocess.run([python, '-c', code], capture_output=True, text=True, timeout=60, check=False)
        return json.loads(proc.stdout) if proc.returncode == 0 else None

    def setup(self, arm_url, auth):
        """Write the config, register the lab cloud, make it active and log in with the service principal."""
        os.makedirs(self.config_dir, mode=0o700, exist_ok=True)
        with open(os.path.join(self.config_dir, 'config'), 'w', encoding='utf-8') as handle:
            handle.write(CONFIG_INI)
        versions = self.installed_versions()
        if versions:
            # what az would fetch from its release storage on the first command of a new config dir
            with open(os.path.join(self.config_dir, 'versionCheck.json'), 'w', encoding='utf-8') as handle:
                json.dump({'versions': versions, 'update_time': datetime.datetime.now().strftime('%Y-%m-%d %H:%M:%S.%f')}, handle)
        self.run('cloud', 'register', '--name', CLOUD, '--endpoint-resource-manager', arm_url.rstrip('/') + '/', parse=False)
        self.run('cloud', 'set', '--name', CLOUD, parse=False)
        return self.run('login', '--service-principal', '--username', auth['client_id'], '--password', auth['secret'],
                        '--tenant', auth['tenant'])


def setup_for_lab(state_dir, az=None, config_dir=None):
    """An AzCli logged in to the lab of `state_dir` (its vars.yml); config dir default <state>/azure-cli."""
    az = find_az(az)
    if az is None:
        raise AzCliError('the Azure CLI is not installed: run scripts/setup.sh (it creates .venv-az) or put az on PATH')
    auth = lab_auth(state_dir)
    cli = AzCli(az, config_dir or os.path.join(state_dir, 'azure-cli'), auth['ca_path'])
    cli.setup(auth['arm_endpoint'], auth)
    return cli


def shell_lines(cli):
    lines = ['export AZURE_CONFIG_DIR=%s' % shlex.quote(cli.config_dir), 'export REQUESTS_CA_BUNDLE=%s' % shlex.quote(cli.ca_path)]
    az_dir = os.path.dirname(os.path.realpath(cli.az))
    if az_dir != os.path.dirname(os.path.realpath(shutil.which('az') or '/')):
        lines.append('export PATH=%s:"$PATH"' % shlex.quote(az_dir))
    return lines


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n', maxsplit=1)[0])
    parser.add_argument('--state', default=os.path.join(REPO, '.lab'), help='lab state directory (default <repo>/.lab)')
    parser.add_argument('--az', help='az executable (default: .venv-az/bin/az, then PATH)')
    parser.add_argument('--config-dir', help='AZURE_CONFIG_DIR to create (default <state>/azure-cli)')
    args = parser.parse_args(argv)
    try:
        cli = setup_for_lab(args.state, args.az, args.config_dir)
    except (AzCliError, OSError, KeyError) as exc:
        print('azcli: %s' % exc, file=sys.stderr)
        return 1
    print('\n'.join(shell_lines(cli)))
    return 0


if __name__ == '__main__':
    sys.exit(main())
