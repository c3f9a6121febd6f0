# -*- coding: utf-8 -*-
# Copyright (c) 2026 aks.tunnel contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Kubernetes access from the Azure identity (issue 16), real modules against the lab, no kubeconfig given.

entra-only: local accounts disabled; the module gets the user credential (kubelogin's exec kubeconfig) from ARM and an Entra
token for the AKS server application from its own service principal; the admin credential is refused and the model degrades.
private-cluster: the credential's API server cannot be reached from here; every Kubernetes request runs as kubectl --raw
inside the cluster through managedClusters/runCommand (the ARM emulator runs the real kubectl against the Kubernetes emulator).
"""

from __future__ import annotations

import importlib.util
import json
import os

import pytest

pytestmark = [pytest.mark.lab, pytest.mark.xdist_group('kube_access_lab')]

HERE = os.path.dirname(os.path.abspath(__file__))
LOCAL_ACCOUNTS_DISABLED = 'Getting static credential is not allowed because this cluster is set to disable local accounts.'


def _helpers():
    """Lab and run_playbook of tests/integration/modules_network/test_network_modules_lab.py."""
    path = os.path.join(HERE, '..', 'modules_network', 'test_network_modules_lab.py')
    spec = importlib.util.spec_from_file_location('aks_tunnel_network_modules_lab_helpers_ka', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


_HELPERS = _helpers()

# No kubeconfig anywhere: the Azure options only (HOME points to an empty directory, so no ~/.kube/config either).
PLAYBOOK = '''
- hosts: localhost
  gather_facts: false
  module_defaults:
    group/aks.tunnel.azure: "{{ aks_tunnel_azure_auth }}"
  tasks:
    - name: Cluster model through the Azure identity
      aks.tunnel.aks_cluster_info:
        resource_group: "{{ aks_tunnel_resource_group }}"
        name: "{{ aks_tunnel_cluster_name }}"
      register: info
    - name: The agent pods through the same path (a Kubernetes module given the model)
      aks.tunnel.konnectivity_agent_info:
        cluster_model: "{{ info }}"
      register: agents
    - name: The admin credential, asked for explicitly
      aks.tunnel.aks_cluster_info:
        resource_group: "{{ aks_tunnel_resource_group }}"
        name: "{{ aks_tunnel_cluster_name }}"
        kube_access: arm
        kube_credential: admin
        api_retry_deadline: 0
      register: admin
    - name: Dump
      ansible.builtin.copy:
        dest: "{{ out }}"
        content: "{{ {'info': info, 'agents': agents, 'admin': admin} | to_json }}"
'''

# private-cluster also repairs the ladder through the run command (the write: PUT with the resourceVersion read, as
# kubectl replace --raw inside the cluster), in four steps: check, real, check again, real again.
LADDER_TASKS = '''
    - name: Ladder, check mode
      aks.tunnel.konnectivity_ladder: &ladder
        state: present
        cluster_model: "{{ info }}"
        nodes_to_replicas: [[1, 3], [100, 4]]
      check_mode: true
      register: check1
    - name: Ladder
      aks.tunnel.konnectivity_ladder: *ladder
      register: real1
    - name: Ladder, check mode again
      aks.tunnel.konnectivity_ladder: *ladder
      check_mode: true
      register: check2
    - name: Ladder again
      aks.tunnel.konnectivity_ladder: *ladder
      register: real2
    - name: Dump
      ansible.builtin.copy:
        dest: "{{ out }}"
        content: >-
          {{ {'info': info, 'agents': agents, 'check1': check1, 'real1': real1, 'check2': check2, 'real2': real2} | to_json }}
'''
PRIVATE_PLAYBOOK = PLAYBOOK.split('    - name: The admin credential', maxsplit=1)[0] + LADDER_TASKS.lstrip('\n')


@pytest.fixture(scope='module')
def lab_factory(tmp_path_factory):
    labs = {}

    def make(scenario):
        if scenario not in labs:
            labs[scenario] = _HELPERS.Lab(scenario, tmp_path_factory.mktemp('lab-' + scenario))
        return labs[scenario]

    yield make
    for lab in labs.values():
        lab.down()


def _run(lab, tmp_path, monkeypatch, playbook=PLAYBOOK):
    home = tmp_path / 'home'
    home.mkdir()
    monkeypatch.setenv('HOME', str(home))
    for name in ('K8S_AUTH_KUBECONFIG', 'KUBECONFIG'):
        monkeypatch.delenv(name, raising=False)
    return _HELPERS.run_playbook(tmp_path, playbook, lab.vars_file, {})


def _configmap(lab):
    """The ladder ConfigMap as the Kubernetes emulator has it (read directly with the lab's admin kubeconfig)."""
    import yaml  # pylint: disable=import-outside-toplevel
    from kubernetes import client, config  # pylint: disable=import-outside-toplevel
    with open(lab.vars_file, encoding='utf-8') as handle:
        kubeconfig = yaml.safe_load(handle)['aks_tunnel_kubeconfig']
    api = client.CoreV1Api(config.new_client_from_config(config_file=kubeconfig))
    return api.read_namespaced_config_map('konnectivity-agent-autoscaler', 'kube-system', _preload_content=False).json()


def _journal(lab, fragment):
    return [e for e in lab.admin('GET', 'journal?since=0')['value'] if fragment in e['path']]


def test_entra_only_cluster_is_read_with_an_entra_token_and_the_admin_credential_is_refused(lab_factory, tmp_path, monkeypatch):
    lab = lab_factory('entra-only')
    data = _run(lab, tmp_path, monkeypatch)
    info, agents, admin = data['info'], data['agents'], data['admin']
    assert info['kubernetes_read'] is True and 'kubernetes_error' not in info
    assert info['kube_access']['mode'] == 'arm' and info['kube_access']['entra'] is True
    assert sorted(n['name'] for n in info['nodes']) == [
        'aks-nodepool1-64844604-vmss000000', 'aks-nodepool1-64844604-vmss000001', 'aks-user1-64844604-vmss000000']
    assert all(n['ready'] for n in info['nodes']) and info['tunnel']['component'] == 'konnectivity' and len(info['tunnel']['pods']) == 2
    assert agents['finding']['status'] == 'ok' and len(agents['pods']) == 2
    # the admin credential of a cluster without local accounts: AKS's error, and a model from Azure alone
    assert admin['kubernetes_read'] is False and admin['nodes'] and admin['tunnel']['component'] is None
    assert admin['kubernetes_error'].endswith('BadRequest: ' + LOCAL_ACCOUNTS_DISABLED)
    assert _journal(lab, '/listClusterAdminCredential')[-1]['status'] == 400
    # the token never reached ARM: only the credential and the reads went there
    assert not _journal(lab, '/runCommand')


def test_private_cluster_is_read_and_repaired_through_the_run_command(lab_factory, tmp_path, monkeypatch):
    lab = lab_factory('private-cluster')
    data = _run(lab, tmp_path, monkeypatch, PRIVATE_PLAYBOOK)
    info, agents = data['info'], data['agents']
    assert info['kubernetes_read'] is True and info['cluster']['private_cluster'] is True
    assert info['kube_access']['mode'] == 'run_command' and 'not reachable from here' in info['kube_access']['notes'][-1]
    assert len(info['nodes']) == 3 and all(n['ready'] for n in info['nodes'])
    assert info['tunnel']['component'] == 'konnectivity' and len(info['tunnel']['pods']) == 2
    assert agents['finding']['status'] == 'ok' and len(agents['pods']) == 2
    runs = _journal(lab, '/runCommand')
    assert runs and all(e['status'] == 202 for e in runs)
    # every Kubernetes request was one run command
    ladder = [data[key] for key in ('check1', 'real1', 'check2', 'real2')]
    assert info['api_calls']['kube'] + agents['api_calls']['kube'] + sum(r['api_calls']['kube'] for r in ladder) == len(runs)
    # the ladder repair: check mode, change, then nothing to change; the API server has the new ladder
    assert [r['changed'] for r in ladder] == [True, True, False, False]
    assert json.loads(_configmap(lab)['data']['ladder']) == {'nodesToReplicas': [[1, 3], [100, 4]]}


# --------------------------------------------------------------------------- the private endpoint path (issue 16)

PROBE_PLAYBOOK = '''
- hosts: localhost
  gather_facts: false
  module_defaults:
    group/aks.tunnel.azure: "{{ aks_tunnel_azure_auth }}"
  tasks:
    - name: Cluster model through the Azure identity (the run command on a private cluster)
      aks.tunnel.aks_cluster_info:
        resource_group: "{{ aks_tunnel_resource_group }}"
        name: "{{ aks_tunnel_cluster_name }}"
      register: info
    - name: The tunnel egress from the tunnel nodes, to the private FQDN
      aks.tunnel.vmss_runcommand_probe:
        resource_group: "{{ aks_tunnel_resource_group }}"
        name: "{{ aks_tunnel_cluster_name }}"
        cluster_model: "{{ info }}"
        checks: [egress]
        finding_for: [egress_ports_blocked]
        run_timeout: 60
      register: probe
    - name: The tunnel egress through the NSGs, to the private endpoint address read from ARM
      aks.tunnel.nsg_port_check:
        resource_group: "{{ aks_tunnel_resource_group }}"
        name: "{{ aks_tunnel_cluster_name }}"
        cluster_model: "{{ info }}"
      register: nsg
    - name: The tunnel egress route, to the private endpoint address read from ARM
      aks.tunnel.egress_route_info:
        resource_group: "{{ aks_tunnel_resource_group }}"
        name: "{{ aks_tunnel_cluster_name }}"
        cluster_model: "{{ info }}"
      register: route
    - name: Dump
      ansible.builtin.copy:
        dest: "{{ out }}"
        content: "{{ {'info': info, 'probe': probe, 'nsg': nsg, 'route': route} | to_json }}"
'''


def _plan(lab):
    from ansible_collections.aks.tunnel.tests.lab.dataplane.record import LabRecord  # pylint: disable=import-outside-toplevel
    return LabRecord.load(lab.state_dir).get('plan')


def _in_node(plan, *argv):
    import subprocess  # pylint: disable=import-outside-toplevel
    ns = plan['nodes'][plan['tunnel_nodes'][0]]['ns']
    return subprocess.run(['ip', 'netns', 'exec', ns] + list(argv), capture_output=True, text=True, timeout=30, check=False)


def test_private_cluster_api_server_is_reachable_only_through_the_private_endpoint(lab_factory):
    import socket  # pylint: disable=import-outside-toplevel
    import ssl  # pylint: disable=import-outside-toplevel
    import time  # pylint: disable=import-outside-toplevel
    from ansible_collections.aks.tunnel.tests.lab.dataplane.sh import in_netns  # pylint: disable=import-outside-toplevel
    lab = lab_factory('private-cluster')
    plan = _plan(lab)
    fqdn, address = plan['private_fqdn'], plan['private_endpoint_ip']
    # ARM names the same FQDN the nodes resolve; the endpoint lives in the node subnet
    assert fqdn.startswith('aks-lab-64844604.') and fqdn.endswith('.privatelink.westeurope.azmk8s.io') and address == '10.240.255.254'
    # inside the VNet (a node namespace): the private DNS zone's record, and konnectivity's TLS with ALPN through the endpoint
    assert _in_node(plan, 'getent', 'hosts', fqdn).stdout.split() == [address, fqdn]
    with in_netns(plan['nodes'][plan['tunnel_nodes'][0]]['ns']):
        sock = socket.create_connection((address, 443), timeout=5)
    context = ssl.create_default_context(cafile=_ca_path(lab))
    context.set_alpn_protocols(['konnectivity'])
    with context.wrap_socket(sock, server_hostname=fqdn) as tls:
        assert tls.selected_alpn_protocol() == 'konnectivity'
    # from the controller (the root namespace): the blackhole route for the lab subnet, failing at once
    started = time.monotonic()
    with pytest.raises(OSError):
        socket.create_connection((address, 443), timeout=5).close()
    assert time.monotonic() - started < 1


def _ca_path(lab):
    import yaml  # pylint: disable=import-outside-toplevel
    with open(lab.vars_file, encoding='utf-8') as handle:
        return yaml.safe_load(handle)['aks_tunnel_lab']['ca_path']


def test_private_dns_zone_not_linked_to_the_node_vnet_is_egress_ports_blocked_with_the_link_to_create(lab_factory, tmp_path, monkeypatch):
    lab = lab_factory('private-dns-unlinked')
    plan = _plan(lab)
    # the nodes cannot resolve the private FQDN (no zone link): at once, no lookup leaves the lab
    assert _in_node(plan, 'getent', 'hosts', plan['private_fqdn']).returncode != 0
    data = _run(lab, tmp_path, monkeypatch, PROBE_PLAYBOOK)
    info, probe = data['info'], data['probe']
    assert info['kube_access']['mode'] == 'run_command' and info['cluster']['private_dns_zone'] == 'system'
    assert info['tunnel']['egress'] and info['cluster']['api_server_host'] == plan['private_fqdn']
    # the API server address from the kube-apiserver private endpoint (ARM), not from a lookup of the private FQDN here
    address = plan['private_endpoint_ip']
    assert info['cluster']['api_server_private_ip'] == address and 'NIC kube-apiserver.nic.' in info['cluster']['api_server_private_ip_source']
    nsg, route = data['nsg'], data['route']
    assert nsg['api_server_ip'] == address and route['api_server_ip'] == address
    assert {(e['destination'], e['port'], e['access']) for e in nsg['egress']} == {(address, 443, 'Allow')}, nsg['egress']
    assert nsg['egress_finding']['status'] == 'ok', nsg['egress_finding']
    # node subnet -> private endpoint (same VNet): the VnetLocal system route, no firewall or appliance on the way
    assert route['egress_finding']['status'] == 'ok' and route['route']['next_hop_type'] == 'VnetLocal', route
    assert route['egress_finding']['evidence'][0].startswith('the tunnel egress to the API server %s takes ' % address)
    finding = next(f for f in probe['findings'] if f['cause'] == 'egress_ports_blocked')
    zone = plan['private_fqdn'].split('.', 1)[1]
    assert finding['status'] == 'problem'
    assert finding['affected_nodes'] == ['aks-nodepool1-64844604-vmss000000', 'aks-user1-64844604-vmss000000']
    vnet = info['cluster']['vnet_ids'][0]
    # proven from the zone's virtual network links (read from ARM: none), not "linked or custom DNS"
    assert finding['summary'] == (
        "the nodes cannot resolve the API server's private FQDN %s: the system private DNS zone %s in MC_rg-aks-lab_aks-lab_westeurope "
        "is not linked to their VNet %s (its virtual network links: none): tunnel egress fails from 2 node(s)"
        % (plan['private_fqdn'], zone, vnet.rsplit('/', 1)[-1]))
    assert finding['remediation']['dns']['links'] == [] and 'links_error' not in finding['remediation']['dns']
    assert finding['evidence'] == ['%s: tls %s:443: TCP dns_failed' % (node, plan['private_fqdn']) for node in finding['affected_nodes']]
    assert finding['remediation']['commands'] == [
        'az network private-dns link vnet create --resource-group MC_rg-aks-lab_aks-lab_westeurope --zone-name %s --name %s-link '
        '--virtual-network %s --registration-enabled false --subscription 00000000-0000-4000-8000-00000000a1b2' % (zone, vnet.rsplit('/', 1)[-1], vnet)]
