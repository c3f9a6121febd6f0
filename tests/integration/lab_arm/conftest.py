# -*- coding: utf-8 -*-
# Copyright (c) 2026 aks.tunnel contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Session fixture: the ARM emulator as a subprocess on 127.0.0.1 (port 0), driven by the real Azure SDK clients."""

from __future__ import annotations

import copy
import json
import os
import select
import signal
import subprocess
import sys
import time

import pytest
import requests

from ansible_collections.aks.tunnel.tests.lab.topology import build_topology

CONTRIBUTOR = {'client_id': '0b5e1c7a-0000-4000-8000-00000000c0de', 'client_secret': 'contributor-secret', 'role': 'contributor'}
READER = {'client_id': '0b5e1c7a-0000-4000-8000-0000000000ad', 'client_secret': 'reader-secret', 'role': 'reader'}
NO_RUNCOMMAND = {'client_id': '0b5e1c7a-0000-4000-8000-000000000000', 'client_secret': 'netops-secret', 'role': 'contributor',
                 'not_actions': ['Microsoft.Compute/virtualMachineScaleSets/virtualMachines/runCommand/action']}

ARM_CONFIG = {
    'cluster': {'name': 'labaks', 'resource_group': 'lab-rg', 'location': 'westeurope', 'kubernetes_version': '1.33.3',
                'enable_vnet_integration': False, 'tags': {'env': 'lab'},
                'load_balancer_profile': {'managed_outbound_ip_count': 1, 'allocated_outbound_ports': 0, 'idle_timeout_in_minutes': 30}},
    'node_pools': [{'name': 'system', 'count': 2, 'mode': 'System'}, {'name': 'user', 'count': 120, 'max_surge': '10%'}],
    'clients': [CONTRIBUTOR, READER, NO_RUNCOMMAND],
    'network': {
        'nsgs': {'customer-nsg': {'resource_group': 'lab-rg', 'security_rules': [
            {'name': 'deny-kubelet', 'properties': {'protocol': 'Tcp', 'access': 'Deny', 'priority': 300, 'direction': 'Inbound',
                                                    'sourceAddressPrefix': '*', 'sourcePortRange': '*', 'destinationAddressPrefix': '*',
                                                    'destinationPortRange': '10250'}}]}},
        'subnet_nsg': 'customer-nsg',
    },
    'metrics': {'default': {'used': 100, 'successful': 50, 'failed': 0, 'pending': 1},
                'nodes': {'system-0': {'used': 1000, 'failed': 7, 'successful': [10, 20, 30]}, 'user-5': {'allocated': 64}}},
    'runcommand_latency_s': 0.2,
    'vmss_vm_page_size': 50,
    # a NAT gateway on the node subnet, for its operations and metrics (issue 16)
    'nat_gateway': {'name': 'natgw-lab', 'public_ips': 2, 'public_ip_prefixes': [30],
                    'workload': {'concurrent_connections': 1000, 'connections_per_min': 60}},
    # a route table on the node subnet through an Azure Firewall with a policy, for their operations (issue 16)
    'network_path': {'routes': [{'name': 'default-via-firewall', 'address_prefix': '0.0.0.0/0', 'next_hop_type': 'VirtualAppliance',
                                 'next_hop_ip': '10.241.0.4'}]},
    'firewall': {'name': 'fw-lab', 'private_ip': '10.241.0.4', 'policy': 'fp-lab', 'rule_collection_groups': [
        {'name': 'rcg-aks', 'properties': {'priority': 300, 'ruleCollections': [
            {'ruleCollectionType': 'FirewallPolicyFilterRuleCollection', 'name': 'aks', 'priority': 100, 'action': {'type': 'Allow'},
             'rules': [{'ruleType': 'ApplicationRule', 'name': 'aks-tag', 'protocols': [{'protocolType': 'Https', 'port': 443}],
                        'sourceAddresses': ['*'], 'fqdnTags': ['AzureKubernetesService']}]}]}}],
        'ip_groups': [{'name': 'ipg-nodes', 'ip_addresses': ['10.240.0.0/16']}]},
}
TOPOLOGY = build_topology(ARM_CONFIG)
SUB = TOPOLOGY['cluster']['subscription_id']
NODE_RG = TOPOLOGY['cluster']['node_resource_group']
NSG_NAME = TOPOLOGY['nic_nsg']['name']
DEFAULT_SETTINGS = {'runcommand_latency_s': 0.2, 'lro_in_progress_polls': 0, 'lro_retry_after_ms': 200, 'runcommand_timeout_s': 5400,
                    'lro_retry_after_s': 0}


def collection_root():
    """The directory holding ansible_collections/ (kept unresolved so the .tmp/dev symlink tree keeps working)."""
    import ansible_collections.aks.tunnel.tests.lab.arm as arm_pkg  # pylint: disable=import-outside-toplevel
    path = os.path.abspath(arm_pkg.__file__)
    for _unused in range(7):
        path = os.path.dirname(path)
    return path


def start_emulator_process(state_dir, config, extra_args=()):
    """Start `python -m ...lab.arm`; return (process, ready info, seconds until ready)."""
    config_path = os.path.join(state_dir, 'config.json')
    with open(config_path, 'w', encoding='utf-8') as handle:
        json.dump(config, handle)
    env = dict(os.environ)
    env['PYTHONPATH'] = os.pathsep.join([collection_root()] + [p for p in env.get('PYTHONPATH', '').split(os.pathsep) if p])
    env.setdefault('NO_PROXY', '127.0.0.1,localhost')
    stderr = open(os.path.join(state_dir, 'stderr.log'), 'wb')  # pylint: disable=consider-using-with
    started = time.monotonic()
    proc = subprocess.Popen([sys.executable, '-m', 'ansible_collections.aks.tunnel.tests.lab.arm', '--state-dir', state_dir, '--port', '0',
                             '--config', config_path, '--exit-with-parent'] + list(extra_args), stdout=subprocess.PIPE, stderr=stderr, env=env)
    stderr.close()
    deadline = started + 20
    line = b''
    while time.monotonic() < deadline:
        ready, _unused, _unused = select.select([proc.stdout], [], [], 0.1)
        if ready:
            line = proc.stdout.readline()
            if line.startswith(b'ARM_EMULATOR_READY ') or not line:
                break
        if proc.poll() is not None:
            break
    elapsed = time.monotonic() - started
    if not line.startswith(b'ARM_EMULATOR_READY '):
        proc.kill()
        proc.wait(5)
        with open(os.path.join(state_dir, 'stderr.log'), encoding='utf-8', errors='replace') as handle:
            raise RuntimeError('ARM emulator did not start: %s' % handle.read()[-3000:])
    return proc, json.loads(line.split(b' ', 1)[1]), elapsed


def stop_emulator_process(proc):
    proc.send_signal(signal.SIGTERM)
    try:
        return proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)
        proc.stdout.close()


class Lab:
    """Handles for tests: URLs, CA, credentials, SDK clients, admin and raw ARM calls."""

    def __init__(self, info, state_dir):
        self.info = info
        self.url = info['url']
        self.ca_path = info['ca_path']
        self.tenant_id = info['tenant_id']
        self.subscription_id = info['subscription_id']
        self.state_dir = state_dir
        with open(info['admin_token_path'], encoding='utf-8') as handle:
            self.admin_token = handle.read().strip()
        self.topology = TOPOLOGY
        self.config = copy.deepcopy(ARM_CONFIG)
        self.clients = {'contributor': CONTRIBUTOR, 'reader': READER, 'netops': NO_RUNCOMMAND}
        self.node_rg = NODE_RG
        self.nsg_name = NSG_NAME
        self.nsg_id = TOPOLOGY['nic_nsg']['id']
        self.cluster_rg = TOPOLOGY['cluster']['resource_group']
        self.cluster_name = TOPOLOGY['cluster']['name']
        self.lb_id = TOPOLOGY['load_balancer']['id']
        self.vmss = {p['name']: p['vmss_name'] for p in TOPOLOGY['pools']}
        self._creds = {}
        self.session = requests.Session()
        self.session.verify = self.ca_path
        self.session.trust_env = False

    def credential(self, client=None):
        from azure.identity import ClientSecretCredential  # pylint: disable=import-outside-toplevel
        client = client or CONTRIBUTOR
        key = (client['client_id'], client['client_secret'])
        if key not in self._creds:
            self._creds[key] = ClientSecretCredential(self.tenant_id, client['client_id'], client['client_secret'], authority=self.url,
                                                      disable_instance_discovery=True, connection_verify=self.ca_path)
        return self._creds[key]

    def sdk_kwargs(self, **extra):
        kwargs = {'base_url': self.url, 'credential_scopes': [self.url + '/.default'], 'connection_verify': self.ca_path}
        kwargs.update(extra)
        return kwargs

    def network(self, client=None, credential=None, **extra):
        from azure.mgmt.network import NetworkManagementClient  # pylint: disable=import-outside-toplevel
        return NetworkManagementClient(credential or self.credential(client), self.subscription_id, **self.sdk_kwargs(**extra))

    def compute(self, client=None, credential=None, **extra):
        from azure.mgmt.compute import ComputeManagementClient  # pylint: disable=import-outside-toplevel
        return ComputeManagementClient(credential or self.credential(client), self.subscription_id, **self.sdk_kwargs(**extra))

    def aks(self, client=None, credential=None, **extra):
        from azure.mgmt.containerservice import ContainerServiceClient  # pylint: disable=import-outside-toplevel
        return ContainerServiceClient(credential or self.credential(client), self.subscription_id, **self.sdk_kwargs(**extra))

    def monitor(self, client=None, credential=None, **extra):
        from azure.mgmt.monitor import MonitorManagementClient  # pylint: disable=import-outside-toplevel
        return MonitorManagementClient(credential or self.credential(client), self.subscription_id, **self.sdk_kwargs(**extra))

    def token(self, client=None):
        return self.credential(client).get_token(self.url + '/.default').token

    def arm(self, method, path, api_version=None, client=None, headers=None, **kwargs):
        """Raw ARM call with a bearer token; `path` starts with /subscriptions/... or is absolute."""
        url = path if path.startswith('https://') else self.url + path
        params = kwargs.pop('params', {}) or {}
        if api_version:
            params['api-version'] = api_version
        all_headers = {'Authorization': 'Bearer ' + self.token(client)}
        all_headers.update(headers or {})
        return self.session.request(method, url, params=params, headers=all_headers, timeout=30, **kwargs)

    def admin(self, method, path, body=None):
        response = self.session.request(method, self.url + '/_lab/' + path.lstrip('/'), json=body,
                                        headers={'Authorization': 'Bearer ' + self.admin_token}, timeout=30)
        response.raise_for_status()
        return response.json()

    def journal_seq(self):
        entries = self.admin('GET', 'journal')['value']
        return entries[-1]['seq'] if entries else 0

    def journal(self, since=0):
        return self.session.get(self.url + '/_lab/journal', params={'since': since},
                                headers={'Authorization': 'Bearer ' + self.admin_token}, timeout=30).json()['value']

    @staticmethod
    def node(short):
        return node_ref(short)

    def reset(self):
        self.admin('DELETE', 'faults')
        self.admin('POST', 'runcommands/release')
        self.admin('POST', 'settings', DEFAULT_SETTINGS)


@pytest.fixture(scope='session')
def arm(tmp_path_factory):
    state_dir = str(tmp_path_factory.mktemp('arm-emulator'))
    proc, info, _elapsed = start_emulator_process(state_dir, copy.deepcopy(ARM_CONFIG))
    lab = Lab(info, state_dir)
    try:
        yield lab
    finally:
        lab.session.close()
        stop_emulator_process(proc)


@pytest.fixture(scope='session')
def arm_launcher():
    """(start_emulator_process, stop_emulator_process, ARM_CONFIG copy) for lifecycle tests."""
    return start_emulator_process, stop_emulator_process, copy.deepcopy(ARM_CONFIG)


@pytest.fixture(autouse=True)
def _reset_arm(request):
    """Faults, hung run commands and settings never leak from one test to the next."""
    yield
    if 'arm' in request.fixturenames:
        request.getfixturevalue('arm').reset()


def node_ref(short):
    for node in TOPOLOGY['nodes']:
        if node['short'] == short:
            return node
    raise KeyError(short)
