# -*- coding: utf-8 -*-
# Copyright (c) 2026 aks.tunnel contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The exact next command repeats the run's own arguments (issue 18): vars files, auth, kubeconfig, report dir, vault."""

from __future__ import annotations

import json
import shlex

import pytest

from ansible_collections.aks.tunnel.plugins.module_utils import _command_line as c


@pytest.mark.parametrize('playbooks, expected', [
    (('playbooks/diagnose.yml',), 'playbooks/remediate.yml'),
    (('/opt/aks/playbooks/diagnose.yaml',), '/opt/aks/playbooks/remediate.yaml'),
    (('diagnose.yml',), 'remediate.yml'),
    (('playbooks/remediate.yml',), 'playbooks/remediate.yml'),
    (('aks.tunnel.diagnose',), 'aks.tunnel.remediate'),
    (('aks.tunnel.remediate',), 'aks.tunnel.remediate'),
    (('site.yml',), 'playbooks/remediate.yml'),          # the role embedded in a playbook of their own
    (('my-diagnose.yml',), 'playbooks/remediate.yml'),
    ((), 'playbooks/remediate.yml'),
])
def test_the_remediation_playbook_next_to_the_one_that_ran(playbooks, expected):
    assert c.remediate_playbook(playbooks) == expected


def cli(**kwargs):
    base = {'extra_vars': (), 'inventory': ('/etc/ansible/hosts',), 'vault_ids': (), 'vault_password_files': (), 'ask_vault_pass': False}
    base.update(kwargs)
    return base


@pytest.mark.parametrize('cliargs, words, secrets', [
    # Every -e in its order: vars files, auth as JSON, kubeconfig and report dir as key=value.
    (cli(extra_vars=('@/work/.lab/vars.yml', '{"aks_tunnel_azure_auth": {"auth_source": "cli"}}', 'aks_tunnel_kubeconfig=/tmp/kc',
                     'aks_tunnel_report_dir=out/report')),
     ['-e', '@/work/.lab/vars.yml', '-e', '{"aks_tunnel_azure_auth": {"auth_source": "cli"}}', '-e', 'aks_tunnel_kubeconfig=/tmp/kc',
      '-e', 'aks_tunnel_report_dir=out/report'], False),
    # The configured default inventory is not repeated, another one is; the vault options are.
    (cli(inventory=('/work/inv.yml',), vault_password_files=('/work/.vault-pass',), vault_ids=('prod@prompt',), ask_vault_pass=True),
     ['-i', '/work/inv.yml', '--vault-id', 'prod@prompt', '--vault-password-file', '/work/.vault-pass', '--ask-vault-pass'], False),
    # Secrets given inline are never printed.
    (cli(extra_vars=('{"aks_tunnel_azure_auth": {"client_id": "c", "secret": "s3cr3t", "tenant": "t"}}',)),
     ['-e', '{"aks_tunnel_azure_auth": {"client_id": "c", "secret": "REDACTED", "tenant": "t"}}'], True),
    (cli(extra_vars=('aks_tunnel_cluster_name=aks api_key=abc',)), ['-e', 'aks_tunnel_cluster_name=aks api_key=REDACTED'], True),
    (cli(extra_vars=("{aks_tunnel_kube_auth: {api_key: abc}}",)), ['-e', 'REDACTED'], True),
    (None, [], False),
])
def test_replay_args(cliargs, words, secrets):
    assert c.replay_args(cliargs, default_inventory=('/etc/ansible/hosts',)) == (words, secrets)


def test_the_command_survives_the_shell():
    symptom = json.dumps({'aks_tunnel_symptom': "Error from server: dial tcp 10.0.0.4:10250: i/o timeout (it's down)"})
    words, _secrets = c.replay_args(cli(extra_vars=('@vars with space.yml', symptom)), default_inventory=('/etc/ansible/hosts',))
    line = c.command('playbooks/remediate.yml', ['--check', '--diff', '--tags', 'nsg'], c.quote(words))
    assert shlex.split(line) == ['ansible-playbook', 'playbooks/remediate.yml', '--check', '--diff', '--tags', 'nsg',
                                 '-e', '@vars with space.yml', '-e', symptom]
