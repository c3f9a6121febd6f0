# -*- coding: utf-8 -*-
# Copyright (c) 2026 aks.tunnel contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The article's Azure CLI commands, run unmodified with the real `az` (azure-cli from PyPI, .venv-az) against a lab.

One lab (`all-faults`: an NSG deny to user1-2, UFW on nodepool1-3, an iptables DROP chain on user1-0, SNAT
exhaustion) and one login for the module: `az cloud register --endpoint-resource-manager` reads the emulator's
/metadata/endpoints, `az login --service-principal` lists its subscriptions, every later command goes through the
api-versions azure-cli 2.91 sends. The config dir is isolated (tests/lab/arm/azcli.py: no ~/.azure, no instance
discovery, no telemetry) and trusts the lab CA through REQUESTS_CA_BUNDLE.

Skipped with the reason when az is absent (scripts/setup.sh creates .venv-az) or when not root (the lab needs it).
"""

from __future__ import annotations

import json
import os
import re
import ssl
import sys
import urllib.request

import pytest
import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(os.path.dirname(HERE)))
if os.path.join(REPO, '.tmp', 'dev') not in sys.path and 'ansible_collections' not in HERE:
    sys.path.insert(0, os.path.join(REPO, '.tmp', 'dev'))

from ansible_collections.aks.tunnel.tests.lab import swagger  # noqa: E402  pylint: disable=wrong-import-position
from ansible_collections.aks.tunnel.tests.lab.arm import azcli  # noqa: E402  pylint: disable=wrong-import-position

pytestmark = [pytest.mark.lab, pytest.mark.xdist_group('lab_clients_az')]  # one lab and one az login for the module

AZ = azcli.find_az()
if AZ is None:
    pytest.skip('the Azure CLI is absent: scripts/setup.sh installs azure-cli into .venv-az (or set AKS_TUNNEL_AZ)', allow_module_level=True)

SCENARIO = 'all-faults'


class AzLab:
    def __init__(self, state_dir):
        from ansible_collections.aks.tunnel.tests.lab.dataplane import lab  # pylint: disable=import-outside-toplevel
        self._lab = lab
        self.state_dir = str(state_dir)
        lab.up(SCENARIO, self.state_dir, log=lambda message: None)
        with open(os.path.join(self.state_dir, 'vars.yml'), encoding='utf-8') as handle:
            self.vars = yaml.safe_load(handle)
        self.status = lab.status(self.state_dir)
        self.by_short = {n['short']: n for n in self.status['nodes']}
        self.rg = self.vars['aks_tunnel_resource_group']
        self.cluster = self.vars['aks_tunnel_cluster_name']
        self.node_rg = self.vars['aks_tunnel_lab']['node_resource_group']
        self.login = None
        self.az = azcli.AzCli(AZ, os.path.join(self.state_dir, 'azure-cli'), self.vars['aks_tunnel_azure_auth']['ca_path'])
        self._instances = None

    def down(self):
        self._lab.down(self.state_dir, log=lambda message: None)

    def arm_journal(self):
        """Every ARM request the emulator answered (lab admin API), with the spec operation it belongs to."""
        with open(os.path.join(self.state_dir, 'control.ready'), encoding='utf-8') as handle:
            arm = json.load(handle)['arm']
        with open(arm['admin_token_path'], encoding='utf-8') as handle:
            token = handle.read().strip()
        request = urllib.request.Request(arm['url'] + '/_lab/journal', headers={'Authorization': 'Bearer ' + token})
        with urllib.request.urlopen(request, context=ssl.create_default_context(cafile=arm['ca_path']), timeout=30) as response:
            return json.loads(response.read())['value']

    def instances(self):
        """computer name -> (vmss, instance id), from az vmss list / list-instances as a user would look them up."""
        if self._instances is None:
            self._instances = {}
            for vmss in self.az.run('vmss', 'list', '-g', self.node_rg, '--query', '[].name'):
                for vm in self.az.run('vmss', 'list-instances', '-g', self.node_rg, '-n', vmss):
                    self._instances[vm['osProfile']['computerName']] = (vmss, vm['instanceId'])
        return self._instances

    def run_script(self, short, script):
        """az vmss run-command invoke on the node <pool>-<index>; the message of its one status."""
        vmss, instance = self.instances()[self.by_short[short]['name']]
        out = self.az.run('vmss', 'run-command', 'invoke', '-g', self.node_rg, '-n', vmss, '--instance-id', instance,
                          '--command-id', 'RunShellScript', '--scripts', script, timeout=180)
        assert [v['code'] for v in out['value']] == ['ProvisioningState/succeeded']
        return out['value'][0]['message']


@pytest.fixture(scope='module')
def azlab(tmp_path_factory):
    lab = AzLab(tmp_path_factory.mktemp('az-' + SCENARIO))
    try:
        auth = lab.vars['aks_tunnel_azure_auth']
        lab.login = lab.az.setup(auth['arm_endpoint'], auth)
        yield lab
    finally:
        lab.down()


def tunnel_short(lab):
    return next(n['short'] for n in lab.status['nodes'] if n['tunnel'])


def test_cloud_register_and_service_principal_login(azlab):
    auth = azlab.vars['aks_tunnel_azure_auth']
    assert [(s['id'], s['tenantId'], s['cloudName'], s['user']) for s in azlab.login] == [
        (auth['subscription_id'], auth['tenant'], azcli.CLOUD, {'name': auth['client_id'], 'type': 'servicePrincipal'})]
    cloud = azlab.az.run('cloud', 'show')
    assert cloud['name'] == azcli.CLOUD and cloud['isActive'] is True
    assert cloud['endpoints']['resourceManager'] == auth['arm_endpoint'] + '/'
    assert cloud['endpoints']['activeDirectory'] == auth['arm_endpoint']
    # nothing leaked into the user's own Azure CLI profile
    assert os.path.isfile(os.path.join(azlab.az.config_dir, 'azureProfile.json'))


def test_aks_show_reports_the_kubernetes_api_version(azlab):
    cluster = azlab.az.run('aks', 'show', '-g', azlab.rg, '-n', azlab.cluster)
    assert cluster['nodeResourceGroup'] == azlab.node_rg and cluster['provisioningState'] == 'Succeeded'
    with open(azlab.vars['aks_tunnel_kubeconfig'], encoding='utf-8') as handle:
        kubeconfig = yaml.safe_load(handle)
    server = kubeconfig['clusters'][0]['cluster']['server']
    token = kubeconfig['users'][0]['user']['token']
    request = urllib.request.Request(server + '/version', headers={'Authorization': 'Bearer ' + token})
    context = ssl.create_default_context(cafile=azlab.vars['aks_tunnel_lab']['ca_path'])
    with urllib.request.urlopen(request, context=context, timeout=30) as response:
        version = json.loads(response.read())
    assert version['gitVersion'] == 'v' + cluster['kubernetesVersion'] == 'v' + cluster['currentKubernetesVersion']
    pools = azlab.az.run('aks', 'nodepool', 'list', '-g', azlab.rg, '--cluster-name', azlab.cluster)
    assert {p['name']: p['orchestratorVersion'] for p in pools} == {'nodepool1': cluster['kubernetesVersion'], 'user1': cluster['kubernetesVersion']}


def test_vmss_list_and_list_instances_name_every_node(azlab):
    instances = azlab.instances()
    assert sorted(instances) == sorted(n['name'] for n in azlab.status['nodes'])
    assert sorted({vmss for vmss, _unused in instances.values()}) == sorted(azlab.az.run('vmss', 'list', '-g', azlab.node_rg, '--query', '[].name'))


def test_nsg_list_show_and_rule_list(azlab):
    nsgs = azlab.az.run('network', 'nsg', 'list', '-g', azlab.node_rg)
    assert len(nsgs) == 1 and nsgs[0]['name'].startswith('aks-agentpool-')
    shown = azlab.az.run('network', 'nsg', 'show', '-g', azlab.node_rg, '-n', nsgs[0]['name'])
    assert shown['id'] == nsgs[0]['id'] and len(shown['defaultSecurityRules']) == 6
    rules = azlab.az.run('network', 'nsg', 'rule', 'list', '-g', azlab.node_rg, '--nsg-name', nsgs[0]['name'],
                         '--query', '[].{name:name, access:access, port:destinationPortRange, priority:priority}')
    assert {'name': 'deny-kubelet-user1-2', 'access': 'Deny', 'port': '10250', 'priority': 310} in rules


def test_article_nc_probe_times_out_on_the_nsg_blocked_node_then_an_allow_rule_opens_it(azlab):
    source = tunnel_short(azlab)
    blocked_ip = azlab.by_short['user1-2']['ip']
    message = azlab.run_script(source, 'nc -v -w 2 %s 10250' % blocked_ip)
    assert 'nc: connect to %s port 10250 (tcp) timed out' % blocked_ip in message
    healthy_ip = azlab.by_short['user1-1']['ip']
    assert re.search(r'Connection to %s 10250 port \[tcp/\S+\] succeeded!' % re.escape(healthy_ip),
                     azlab.run_script(source, 'nc -v -w 2 %s 10250' % healthy_ip))
    # the article's repair with az: an allow rule before the deny, then the same probe connects
    nsg = azlab.az.run('network', 'nsg', 'list', '-g', azlab.node_rg, '--query', '[0].name')
    rule = azlab.az.run('network', 'nsg', 'rule', 'create', '-g', azlab.node_rg, '--nsg-name', nsg, '-n', 'allow-kubelet-from-vnet',
                        '--priority', '300', '--direction', 'Inbound', '--access', 'Allow', '--protocol', 'Tcp',
                        '--source-address-prefixes', 'VirtualNetwork', '--destination-port-ranges', '10250')
    assert rule['provisioningState'] == 'Succeeded' and rule['priority'] == 300
    try:
        assert 'succeeded!' in azlab.run_script(source, 'nc -v -w 2 %s 10250' % blocked_ip)
    finally:
        azlab.az.run('network', 'nsg', 'rule', 'delete', '-g', azlab.node_rg, '--nsg-name', nsg, '-n', 'allow-kubelet-from-vnet', parse=False)
    assert 'timed out' in azlab.run_script(source, 'nc -v -w 2 %s 10250' % blocked_ip)


def test_article_ufw_status_and_iptables_list_show_the_node_firewalls(azlab):
    assert 'Status: active' in azlab.run_script('nodepool1-3', 'ufw status')
    listing = azlab.run_script('user1-0', 'iptables --list --line-numbers')
    assert re.search(r'Chain KUBELET-GUARD \(1 references\)\nnum +target +prot opt source +destination\s*\n1 +DROP +(tcp|6) +-- +'
                     r'anywhere +anywhere +multiport dports 10250,10255', listing), listing
    assert re.search(r'Chain INPUT \(policy ACCEPT\)\nnum +target .*\n1 +KUBELET-GUARD ', listing), listing


def test_monitor_metrics_list_snat_connection_count_shows_failures(azlab):
    lb = azlab.az.run('network', 'lb', 'show', '-g', azlab.node_rg, '-n', 'kubernetes', '--query', 'id')
    metrics = azlab.az.run('monitor', 'metrics', 'list', '--resource', lb, '--metric', 'SnatConnectionCount', '--aggregation', 'Total',
                           '--interval', 'PT5M', '--filter', "ConnectionState eq 'Failed'")
    series = metrics['value'][0]['timeseries']
    assert metrics['value'][0]['name']['value'] == 'SnatConnectionCount' and series
    assert sum(point.get('total') or 0 for s in series for point in s['data']) > 0


def test_aks_update_load_balancer_outbound_ports_repairs_snat(azlab):
    """The article's SNAT repair with az (needs the cluster's kubelet identity, which az aks update reads)."""
    cluster = azlab.az.run('aks', 'update', '-g', azlab.rg, '-n', azlab.cluster, '--load-balancer-outbound-ports', '2048', timeout=180)
    assert cluster['networkProfile']['loadBalancerProfile']['allocatedOutboundPorts'] == 2048
    assert azlab.az.run('aks', 'show', '-g', azlab.rg, '-n', azlab.cluster,
                        '--query', 'networkProfile.loadBalancerProfile.allocatedOutboundPorts') == 2048
    rules = azlab.az.run('network', 'lb', 'outbound-rule', 'list', '-g', azlab.node_rg, '--lb-name', 'kubernetes')
    assert [r['allocatedOutboundPorts'] for r in rules] == [2048]


def test_azcli_prints_the_shell_lines_of_docs_lab_md(azlab, tmp_path):
    """`python -m ...tests.lab.arm.azcli --state DIR` (docs/lab.md): a second config dir, logged in, and its export lines."""
    import subprocess  # pylint: disable=import-outside-toplevel
    config_dir = str(tmp_path / 'az-by-hand')
    module_path = azcli.__file__.split(os.sep)
    root = os.sep.join(module_path[:len(module_path) - 1 - module_path[::-1].index('ansible_collections')])
    env = dict(os.environ, PYTHONPATH=root)
    proc = subprocess.run([sys.executable, '-m', 'ansible_collections.aks.tunnel.tests.lab.arm.azcli', '--state', azlab.state_dir,
                           '--az', AZ, '--config-dir', config_dir], capture_output=True, text=True, env=env, timeout=180, check=False)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[:2] == ['export AZURE_CONFIG_DIR=%s' % config_dir, 'export REQUESTS_CA_BUNDLE=%s' % azlab.vars['aks_tunnel_lab']['ca_path']]
    again = azcli.AzCli(AZ, config_dir, azlab.vars['aks_tunnel_lab']['ca_path'])
    assert again.run('account', 'show', '--query', 'user.name') == azlab.vars['aks_tunnel_azure_auth']['client_id']


def test_modules_use_the_az_current_subscription_when_none_is_given(azlab, tmp_path):
    """Issue 18: only `az login` (no subscription anywhere): aks_cluster_info, run as Ansible runs it (a real process, the real
    AzureCliCredential calling this az), takes the subscription `az account show` shows and says so in its result."""
    import subprocess  # pylint: disable=import-outside-toplevel
    auth = azlab.vars['aks_tunnel_azure_auth']
    shown = azlab.az.run('account', 'show')
    assert shown['id'] == auth['subscription_id'] and shown['isDefault'] is True
    args = tmp_path / 'args.json'
    args.write_text(json.dumps({'ANSIBLE_MODULE_ARGS': {
        'resource_group': azlab.rg, 'name': azlab.cluster, 'kubeconfig': azlab.vars['aks_tunnel_kubeconfig'],
        'arm_endpoint': auth['arm_endpoint'], 'ca_path': auth['ca_path'], 'api_retry_deadline': 0}}))
    home = tmp_path / 'home'   # no ~/.azure/credentials: auth_source auto ends at the CLI login
    home.mkdir()
    env = dict(azlab.az.env(), HOME=str(home), PATH=os.path.dirname(AZ) + os.pathsep + os.environ.get('PATH', ''))
    module_path = azcli.__file__.split(os.sep)
    env['PYTHONPATH'] = os.sep.join(module_path[:len(module_path) - 1 - module_path[::-1].index('ansible_collections')])
    proc = subprocess.run([sys.executable, '-m', 'ansible_collections.aks.tunnel.plugins.modules.aks_cluster_info', str(args)],
                          capture_output=True, text=True, env=env, timeout=180, check=False, cwd=str(tmp_path))
    result = json.loads(proc.stdout)
    assert not result.get('failed'), result.get('msg')
    assert result['cluster']['name'] == azlab.cluster
    used = result['azure_subscription']
    assert used['id'] == shown['id'] and used['name'] == shown['name'] and used['auth'] == 'Azure CLI login'
    assert used['source'].startswith("the Azure CLI's current subscription") and os.path.join(azlab.az.config_dir, 'azureProfile.json') in used['source']
    # the node resource group given as the cluster's: the 404 says which group to give instead
    assert azlab.node_rg.upper().startswith('MC_')
    args.write_text(json.dumps({'ANSIBLE_MODULE_ARGS': {
        'resource_group': azlab.node_rg, 'name': azlab.cluster, 'kubeconfig': azlab.vars['aks_tunnel_kubeconfig'],
        'arm_endpoint': auth['arm_endpoint'], 'ca_path': auth['ca_path'], 'api_retry_deadline': 0}}))
    proc = subprocess.run([sys.executable, '-m', 'ansible_collections.aks.tunnel.plugins.modules.aks_cluster_info', str(args)],
                          capture_output=True, text=True, env=env, timeout=180, check=False, cwd=str(tmp_path))
    result = json.loads(proc.stdout)
    assert result['failed'] is True and result['status'] == 404
    assert '%s is the node resource group AKS keeps the nodes in' % azlab.node_rg in result['msg']
    assert 'aks_tunnel_resource_group' in result['msg'] and 'az aks list -o table' in result['msg']


def test_every_request_and_answer_of_the_az_session_matches_the_specs(azlab):
    """Runs last: what azure-cli 2.91 sent (at its own api-versions) and what the emulator answered fits the swagger."""
    # The reads whose api-versions are required, again: the test must not depend on which tests ran before it on this lab
    # (under xdist, the CI run missed the aks show of an earlier test).
    azlab.az.run('aks', 'show', '-g', azlab.rg, '-n', azlab.cluster)
    azlab.az.run('vmss', 'list', '-g', azlab.node_rg)
    azlab.az.run('network', 'nsg', 'list', '-g', azlab.node_rg)
    azlab.az.run('account', 'list', '--refresh')
    journal = azlab.arm_journal()
    entries = [e for e in journal if e['spec']]
    versions = {(e['spec'][0], e['api_version']) for e in entries if e['spec'][0] != 'lro'}
    expected = {('aks', '2026-06-01'), ('compute', '2024-11-01'), ('network', '2022-01-01'), ('resources', '2022-12-01')}
    if any('/providers/Microsoft.Insights/metrics' in e['path'] for e in journal):
        expected.add(('metrics', '2018-01-01'))
    # The run-command requests of the nc test come early in the session; under load the emulator's journal (the last 20000
    # requests) may have let them go, so their version is required only when they are still in it.
    if any('/runCommand' in e['path'] for e in journal):
        expected.add(('runcommand', '2024-11-01'))
    assert expected <= versions, (versions, sorted({e['path'] for e in journal if 'runCommand' in e['path']})[:5])
    schemas = swagger.SwaggerSchemas()
    for entry in entries:
        schemas.validate_journal_entry(entry)
    # Same caveat as above: the rule create of an earlier test is checked when it is still in the journal.
    if any(e['method'] == 'PUT' and '/securityRules/' in e['path'] for e in journal):
        assert any(e['request'] and e['spec'][1] == 'SecurityRules_CreateOrUpdate' for e in entries)
