# -*- coding: utf-8 -*-
# Copyright (c) 2026 aks.tunnel contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Issue 18: the roles embedded in a play of the user's own honour the playbook variables, and speak them.

One ansible-playbook run (-vvv: a failed module's invocation is shown; no lab, a few seconds), one inventory host per case, each with its own variables, running
`import_role: aks.tunnel.diagnose` in a play that has no module_defaults of aks.tunnel's (the playbooks' way of passing
auth is not there):
- aks_tunnel_kubeconfig reaches the modules (the failure names that path and the variable);
- aks_tunnel_azure_auth reaches them (an incomplete service principal names the variable);
- without the variables, the play's own module_defaults for group/aks.tunnel.azure still apply;
- a missing aks_tunnel_cluster_name fails in one line, not with the role's argument spec.
"""

from __future__ import annotations

import json
import os
import re
import subprocess

import pytest
import yaml

from ansible_collections.aks.tunnel.tests.integration.modules_konnectivity.playbook_runner import ansible_playbook, collections_path

KUBECONFIG = {'apiVersion': 'v1', 'kind': 'Config', 'current-context': 'c',
              'clusters': [{'name': 'c', 'cluster': {'server': 'https://127.0.0.1:9'}}],
              # a token of realistic length: Ansible masks a no_log value everywhere in the output (a 't' would mask every t)
              'users': [{'name': 'u', 'user': {'token': 'role-variables-test-token-0123456789'}}],
              'contexts': [{'name': 'c', 'context': {'cluster': 'c', 'user': 'u'}}]}

SYMPTOM = 'Error from server: error dialing backend: dial tcp 10.240.0.5:10250: i/o timeout'

PLAY = """
- name: A play of the user's own that embeds the diagnosis
  hosts: all
  connection: local
  gather_facts: false
  vars:
    ansible_python_interpreter: "{{ ansible_playbook_python }}"
  module_defaults:
    group/aks.tunnel.azure: {auth_source: credential_file, profile: from-play-module-defaults}
  tasks:
    - name: Diagnose
      ansible.builtin.import_role:
        name: aks.tunnel.diagnose
"""


@pytest.fixture(scope='module')
def run(tmp_path_factory):
    work = tmp_path_factory.mktemp('role-variables')
    kubeconfig = work / 'kubeconfig'
    kubeconfig.write_text(yaml.safe_dump(KUBECONFIG))
    common = {'ansible_connection': 'local', 'aks_tunnel_resource_group': 'rg', 'aks_tunnel_cluster_name': 'aks',
              'aks_tunnel_apiserver_probe': False, 'aks_tunnel_api_timeout': 5}
    hosts = {
        'kube_variable': dict(common, aks_tunnel_kubeconfig='/nonexistent/kubeconfig-from-variable'),
        'azure_variable': dict(common, aks_tunnel_kubeconfig=str(kubeconfig), aks_tunnel_azure_auth={'auth_source': 'env'},
                               aks_tunnel_subscription_id='sub-from-variable'),
        'play_defaults': dict(common, aks_tunnel_kubeconfig=str(kubeconfig)),
        'no_cluster': {k: v for k, v in common.items() if k != 'aks_tunnel_cluster_name'},
        # what `-e "aks_tunnel_symptom=Error from server: ..."` delivers, and what the JSON form delivers
        'symptom_word': dict(common, aks_tunnel_kubeconfig='/nonexistent', aks_tunnel_symptom='Error'),
        'symptom_text': dict(common, aks_tunnel_kubeconfig='/nonexistent', aks_tunnel_symptom=SYMPTOM),
    }
    for name, host_vars in hosts.items():
        host_vars['aks_tunnel_report_dir'] = str(work / ('report-' + name))
    # Issue 18: the report of an earlier run, which the failing run below must not leave behind to be published.
    (work / 'report-no_cluster').mkdir()
    for stale in ('report.json', 'report.md', 'junit.xml', 'report-before.json'):
        (work / 'report-no_cluster' / stale).write_text('stale')
    (work / 'inventory.yml').write_text(yaml.safe_dump({'all': {'hosts': hosts}}))
    (work / 'play.yml').write_text(PLAY)
    (work / 'ansible.cfg').write_text('[defaults]\nstdout_callback = default\n')
    env = {k: v for k, v in os.environ.items() if not k.startswith(('AZURE_', 'K8S_AUTH_'))}
    env.update(ANSIBLE_COLLECTIONS_PATH=collections_path(), ANSIBLE_CONFIG=str(work / 'ansible.cfg'), ANSIBLE_NOCOLOR='1', HOME=str(work),
               PYTHONDONTWRITEBYTECODE='1', AKS_TUNNEL_API_RETRY_DEADLINE='0')
    proc = subprocess.run([ansible_playbook(), '-i', str(work / 'inventory.yml'), str(work / 'play.yml'), '--forks', '6', '-vvv'], cwd=str(work),
                          env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=300, check=False)
    return Output(proc.stdout, str(kubeconfig))


class Output(str):
    """The output of the run, and the kubeconfig the hosts were given."""

    def __new__(cls, text, kubeconfig):
        self = super().__new__(cls, text)
        self.kubeconfig = kubeconfig
        return self


def _args(output, host):
    """The module arguments of the host's failed cluster read (-vvv prints the invocation of a failed module)."""
    decoder = json.JSONDecoder()
    for match in re.finditer(r'fatal: \[%s\]: FAILED! => ' % host, output):
        result, _end = decoder.raw_decode(output, match.end())
        if 'invocation' in result:
            return result['invocation']['module_args']
    raise AssertionError(output[-6000:])


def _cannot_read(output, host):
    found = re.search(r'ok: \[%s\] => \{\n\s+"msg": "(Cannot read the cluster [^\n]*)"\n' % host, output)
    assert found, output[-6000:]
    return found.group(1)


def test_kubeconfig_variable_reaches_the_embedded_role(run):
    assert _args(run, 'kube_variable')['kubeconfig'] == '/nonexistent/kubeconfig-from-variable'


def test_azure_auth_variable_reaches_the_embedded_role(run):
    args = _args(run, 'azure_variable')
    assert (args['auth_source'], args['subscription_id'], args['kubeconfig']) == ('env', 'sub-from-variable', run.kubeconfig)
    text = _cannot_read(run, 'azure_variable')
    assert 'service principal credentials from environment variables lack client_id, secret, tenant' in text
    assert 'playbook variable aks_tunnel_azure_auth' in text


def test_play_module_defaults_still_apply_without_the_variables(run):
    args = _args(run, 'play_defaults')
    assert (args['auth_source'], args['profile']) == ('credential_file', 'from-play-module-defaults')
    assert 'profile [from-play-module-defaults] was not found' in _cannot_read(run, 'play_defaults')


def test_missing_cluster_name_fails_in_one_line(run):
    assert re.search(r"\[ERROR\]: Task failed: Action failed: Missing aks_tunnel_cluster_name: name the cluster with "
                     r"-e aks_tunnel_cluster_name=NAME -e aks_tunnel_resource_group=RG", run), run[-6000:]
    assert 'argument_spec_data' not in run


def _debug_msg(output, host, task):
    """The msg list a debug task printed for the host (the task's header line starts the section)."""
    section = output.split('TASK [aks.tunnel.diagnose : %s' % task, 1)[1]
    match = re.search(r'ok: \[%s\] => ' % host, section)
    assert match, section[:4000]
    result, _end = json.JSONDecoder().raw_decode(section, match.end())
    return result['msg']


def test_symptom_received_is_echoed_with_a_hint_when_one_word_arrived(run):
    word = _debug_msg(run, 'symptom_word', 'Show what the symptom points to')
    assert word[0].startswith('Symptom received: "Error" (one word: text with spaces and colons needs -e \'{"aks_tunnel_symptom": "..."}\'')
    text = _debug_msg(run, 'symptom_text', 'Show what the symptom points to')
    assert text[0] == 'Symptom received: "%s"' % SYMPTOM
    assert text[1] == 'Symptom classified:'


def test_a_failed_run_leaves_no_earlier_report(run):
    """Issue 18: the report files of an earlier run are removed when a diagnosis starts, before anything can fail."""
    assert 'Missing aks_tunnel_cluster_name' in run
    assert os.listdir(os.path.join(os.path.dirname(run.kubeconfig), 'report-no_cluster')) == []
