# -*- coding: utf-8 -*-
# Copyright (c) 2026 aks.tunnel contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The SDK ranges requirements.txt claims, as tested facts: the detection modules on a lab with the lowest and the highest SDKs.

`highest`: the interpreter running pytest (.venv, requirements-dev.txt: the top of every range).
`lowest`: .venv-compat (scripts/setup.sh, requirements-compat-min.txt: azure-identity 1.15.0, azure-core 1.29.0,
azure-mgmt-core 1.3.2, azure-mgmt-network 25.0.0, -compute 30.0.0, -containerservice 30.0.0, -monitor 6.0.0,
kubernetes 29.0.0). `azcollection`: .venv-azcoll (requirements-azcollection.txt: what a Python shared with
azure.azcollection resolves to: azure-mgmt-network 28.0.0, -compute 33.0.0, -containerservice 32.1.0). All three run
the real `ansible-playbook` of their virtualenv with aks_cluster_info, nsg_port_check, vmss_runcommand_probe and
snat_usage_info, and the repairs nsg_port_rule and aks_outbound_ports in check mode (the lab stays as it is for the
other SDK sets), against one `all-faults` lab; then the lowest set writes both repairs (its NSG deny, UFW and iptables faults and
SNAT exhaustion), so every SDK call (and the api-version each SDK sends) meets the emulator. Skipped with the reason
when a side virtualenv is absent. About 40 s per SDK set.
"""

from __future__ import annotations

import json
import os
import ssl
import subprocess
import sys
import textwrap
import urllib.request

import pytest

pytestmark = [pytest.mark.lab, pytest.mark.xdist_group('lab_sdk_range')]  # one lab for both SDK sets

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(os.path.dirname(HERE)))
SCENARIO = 'all-faults'
# The api-versions each SDK set sends (its generated default), per spec group.
SENT_VERSIONS = {
    'highest': {('aks', '2026-08-01'), ('compute', '2026-04-01'), ('runcommand', '2026-04-01'), ('network', '2026-03-01'), ('metrics', '2024-02-01')},
    'lowest': {('aks', '2024-02-01'), ('compute', '2023-03-01'), ('runcommand', '2023-03-01'), ('network', '2023-04-01'), ('metrics', '2021-05-01')},
    'azcollection': {('aks', '2024-08-01'), ('compute', '2024-07-01'), ('runcommand', '2024-07-01'), ('network', '2024-03-01'),
                     ('metrics', '2024-02-01')},
}
# The virtualenv and the pins file of each side SDK set (scripts/setup.sh builds them).
SIDE_SETS = {'lowest': ('.venv-compat', 'requirements-compat-min.txt'), 'azcollection': ('.venv-azcoll', 'requirements-azcollection.txt')}
SDKS = ('azure-identity', 'azure-core', 'azure-mgmt-core', 'azure-mgmt-network', 'azure-mgmt-compute', 'azure-mgmt-containerservice',
        'azure-mgmt-monitor', 'kubernetes')

PLAYBOOK = '''
- hosts: localhost
  gather_facts: false
  module_defaults:
    aks.tunnel.aks_cluster_info: "{{ aks_tunnel_azure_auth | combine({'kubeconfig': aks_tunnel_kubeconfig}) }}"
    aks.tunnel.nsg_port_check: "{{ aks_tunnel_azure_auth | combine({'kubeconfig': aks_tunnel_kubeconfig}) }}"
    aks.tunnel.vmss_runcommand_probe: "{{ aks_tunnel_azure_auth | combine({'kubeconfig': aks_tunnel_kubeconfig}) }}"
    aks.tunnel.snat_usage_info: "{{ aks_tunnel_azure_auth }}"
    aks.tunnel.nsg_port_rule: "{{ aks_tunnel_azure_auth }}"
    aks.tunnel.aks_outbound_ports: "{{ aks_tunnel_azure_auth }}"
  vars:
    cluster: {resource_group: "{{ aks_tunnel_resource_group }}", name: "{{ aks_tunnel_cluster_name }}"}
  tasks:
    - {name: Cluster model, aks.tunnel.aks_cluster_info: "{{ cluster }}", register: info}
    - {name: NSG path, aks.tunnel.nsg_port_check: "{{ cluster | combine({'api_server_ip': aks_tunnel_lab.api_server_ip}) }}", register: nsg}
    - name: Probe and inspect
      aks.tunnel.vmss_runcommand_probe: "{{ cluster | combine({'inspect_unreachable': true, 'finding_for': ['ufw_blocks_10250', 'iptables_blocks_10250']}) }}"
      register: probe
    - {name: SNAT, aks.tunnel.snat_usage_info: "{{ cluster }}", register: snat}
    - name: NSG allow rule (check mode)
      aks.tunnel.nsg_port_rule: {resource_group: "{{ aks_tunnel_lab.node_resource_group }}", nsg: "{{ nsg.blocking_rules[0].nsg_name }}"}
      check_mode: true
      diff: true
      register: rule
    - name: Outbound ports (check mode)
      aks.tunnel.aks_outbound_ports: "{{ cluster | combine({'allocated_outbound_ports': 'recommended', 'peak_ports': 1300}) }}"
      check_mode: true
      diff: true
      register: ports
    - name: Dump
      ansible.builtin.copy:
        dest: "{{ out }}"
        content: "{{ {'info': info, 'nsg': nsg, 'probe': probe, 'snat': snat, 'rule': rule, 'ports': ports} | to_json }}"
'''


def collections_root():
    parts = HERE.split(os.sep)
    if 'ansible_collections' in parts:
        index = len(parts) - 1 - parts[::-1].index('ansible_collections')
        return os.sep.join(parts[:index]) or os.sep
    return os.path.join(REPO, '.tmp', 'dev')


def side_venv(name):
    """That virtualenv beside the repository or beside the running .venv (make test runs a copy of the collection)."""
    for root in (REPO, os.path.dirname(sys.prefix)):
        path = os.path.join(root, name)
        if os.path.isfile(os.path.join(path, '.requirements.sha256')):
            return path
    return None


def pins(filename):
    """package -> version pinned in that requirements file."""
    path = os.path.join(REPO, filename)
    result = {}
    with open(path, encoding='utf-8') as handle:
        for line in handle:
            name, sep, version = line.split('#')[0].strip().partition('==')
            if sep:
                result[name.lower()] = version
    return result


def installed(python):
    code = 'import importlib.metadata as m, json, sys; print(json.dumps({n: m.version(n) for n in sys.argv[1:]}))'
    return json.loads(subprocess.run([python, '-c', code] + list(SDKS), capture_output=True, text=True, check=True, timeout=60).stdout)


def arm_journal(vars_file):
    """The ARM emulator's journal of answered requests (lab admin API)."""
    with open(os.path.join(os.path.dirname(vars_file), 'control.ready'), encoding='utf-8') as handle:
        arm = json.load(handle)['arm']
    with open(arm['admin_token_path'], encoding='utf-8') as handle:
        token = handle.read().strip()
    request = urllib.request.Request(arm['url'] + '/_lab/journal', headers={'Authorization': 'Bearer ' + token})
    with urllib.request.urlopen(request, context=ssl.create_default_context(cafile=arm['ca_path']), timeout=30) as response:
        return json.loads(response.read())['value']


@pytest.fixture(scope='module')
def lab(tmp_path_factory):
    sys.path.insert(0, collections_root())
    from ansible_collections.aks.tunnel.tests.lab.dataplane import lab as labmod  # pylint: disable=import-outside-toplevel
    state = str(tmp_path_factory.mktemp('sdk-' + SCENARIO))
    labmod.up(SCENARIO, state, log=lambda message: None)
    try:
        yield os.path.join(state, 'vars.yml')
    finally:
        labmod.down(state, log=lambda message: None)


def sdk_bindir(sdk_set):
    """The bin/ of the virtualenv holding that SDK set (skips when a side set is absent)."""
    if sdk_set == 'highest':
        return os.path.dirname(sys.executable)
    name, filename = SIDE_SETS[sdk_set]
    venv = side_venv(name)
    if venv is None:
        pytest.skip('%s (the %s SDK set, %s) is absent: run scripts/setup.sh' % (name, sdk_set, filename))
    bindir = os.path.join(venv, 'bin')
    versions = installed(os.path.join(bindir, 'python'))
    wanted = pins(filename)
    assert {k: v for k, v in versions.items() if k in wanted} == {k: wanted[k] for k in versions if k in wanted}
    return bindir


def run_playbook(sdk_set, text, vars_file, tmp_path):
    """ansible-playbook of that SDK set's virtualenv; (dumped results, journal entries of its ARM requests)."""
    bindir = sdk_bindir(sdk_set)
    since = max([e['seq'] for e in arm_journal(vars_file)] or [0])
    playbook = tmp_path / 'play.yml'
    playbook.write_text(textwrap.dedent(text))
    out = tmp_path / 'out.json'
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=collections_root(), ANSIBLE_NOCOLOR='1', ANSIBLE_DEPRECATION_WARNINGS='0',
               ANSIBLE_PYTHON_INTERPRETER=os.path.join(bindir, 'python'), PATH=bindir + os.pathsep + os.environ.get('PATH', ''))
    env.pop('PYTHONPATH', None)
    proc = subprocess.run([os.path.join(bindir, 'ansible-playbook'), str(playbook), '-e', '@' + vars_file, '-e', 'out=%s' % out],
                          capture_output=True, text=True, env=env, cwd=str(tmp_path), timeout=600, check=False)
    assert proc.returncode == 0, 'ansible-playbook with the %s SDKs %s failed:\n%s\n%s' % (
        sdk_set, installed(os.path.join(bindir, 'python')), proc.stdout[-6000:], proc.stderr[-3000:])
    entries = [e for e in arm_journal(vars_file) if e['seq'] > since and e['spec']]
    # every request this SDK set made, at its own api-versions, and every answer fit the vendored swagger
    from ansible_collections.aks.tunnel.tests.lab import swagger  # pylint: disable=import-outside-toplevel
    schemas = swagger.SwaggerSchemas()
    for entry in entries:
        schemas.validate_journal_entry(entry)
    return json.loads(out.read_text()), entries


@pytest.mark.parametrize('sdk_set', ['highest', 'lowest', 'azcollection'])
def test_detection_modules_work_with_the_sdk_range_ends(sdk_set, lab, tmp_path):
    data, entries = run_playbook(sdk_set, PLAYBOOK, lab, tmp_path)
    sent = {(e['spec'][0], e['api_version']) for e in entries if e['spec'][0] in ('aks', 'compute', 'runcommand', 'network', 'metrics')}
    assert SENT_VERSIONS[sdk_set] <= sent, sent
    info, nsg, probe, snat = data['info'], data['nsg'], data['probe'], data['snat']
    short = {n['name']: '%s-%s' % (n['pool'], n['instance_id']) for n in info['nodes']}
    assert sorted(short.values()) == ['nodepool1-0', 'nodepool1-1', 'nodepool1-2', 'nodepool1-3', 'user1-0', 'user1-1', 'user1-2']
    assert all(n['vmss'] and n['in_kubernetes'] for n in info['nodes'])
    problems = {}
    for finding in nsg['findings'] + probe['findings'] + [snat['finding']]:
        if finding['status'] == 'problem':
            problems.setdefault(finding['cause'], set()).update(short.get(n, n) for n in finding.get('affected_nodes') or [])
    assert sorted(problems) == ['iptables_blocks_10250', 'nsg_blocks_10250', 'snat_exhaustion', 'ufw_blocks_10250'], problems
    assert (sorted(problems['nsg_blocks_10250']), sorted(problems['ufw_blocks_10250']), sorted(problems['iptables_blocks_10250'])) == (
        ['user1-2'], ['nodepool1-3'], ['user1-0'])
    assert [b['rule'] for b in nsg['blocking_rules']] == ['deny-kubelet-user1-2']
    assert snat['cluster']['load_balancer_profile']['allocated_outbound_ports'] == 1024
    rule, ports = data['rule'], data['ports']
    assert (rule['changed'], rule['action'], rule['diff']['before']) == (True, 'created', {})
    assert rule['diff']['after']['destinationPortRange'] == '10250' and rule['diff']['after']['priority'] < 310
    assert ports['changed'] is True and ports['diff']['before']['allocated_outbound_ports'] == 1024
    assert ports['diff']['after']['allocated_outbound_ports'] > 1024


REPAIR = '''
- hosts: localhost
  gather_facts: false
  module_defaults:
    aks.tunnel.nsg_port_rule: "{{ aks_tunnel_azure_auth }}"
    aks.tunnel.aks_outbound_ports: "{{ aks_tunnel_azure_auth }}"
    aks.tunnel.nsg_port_check: "{{ aks_tunnel_azure_auth | combine({'kubeconfig': aks_tunnel_kubeconfig}) }}"
  vars:
    cluster: {resource_group: "{{ aks_tunnel_resource_group }}", name: "{{ aks_tunnel_cluster_name }}"}
  tasks:
    - {name: NSG path before, aks.tunnel.nsg_port_check: "{{ cluster }}", register: before}
    - name: NSG allow rule
      aks.tunnel.nsg_port_rule: {resource_group: "{{ aks_tunnel_lab.node_resource_group }}", nsg: "{{ before.blocking_rules[0].nsg_name }}"}
      register: rule
    - name: Outbound ports
      aks.tunnel.aks_outbound_ports: "{{ cluster | combine({'allocated_outbound_ports': 'recommended', 'peak_ports': 1300}) }}"
      diff: true
      register: ports
    - {name: NSG path after, aks.tunnel.nsg_port_check: "{{ cluster }}", register: after}
    - name: Dump
      ansible.builtin.copy:
        dest: "{{ out }}"
        content: "{{ {'rule': rule, 'ports': ports, 'after': after} | to_json }}"
'''


def test_lowest_sdks_write_the_repairs(lab, tmp_path):
    """Runs after both detection runs (it changes the lab): the write paths (PUT, LRO polling) with the oldest SDKs."""
    data, entries = run_playbook('lowest', REPAIR, lab, tmp_path)
    rule, ports, after = data['rule'], data['ports'], data['after']
    assert (rule['changed'], rule['action']) == (True, 'created') and rule['rule']['destinationPortRange'] == '10250'
    assert ports['changed'] is True and ports['diff']['after']['allocated_outbound_ports'] > 1024
    assert after['blocking_rules'] == [] and after['finding']['status'] == 'ok'
    writes = {(e['method'], e['spec'][1], e['api_version']) for e in entries if e['method'] in ('PUT', 'PATCH') and e['status'] < 300}
    assert {('PUT', 'SecurityRules_CreateOrUpdate', '2023-04-01'), ('PUT', 'ManagedClusters_CreateOrUpdate', '2024-02-01')} <= writes, writes
