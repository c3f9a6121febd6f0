# -*- coding: utf-8 -*-
# Copyright (c) 2026 aks.tunnel contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The lab data plane for real (root): each scenario's faults block exactly what they should, and the
repairs an operator would make (NSG rule PUT through azure-mgmt-network, `ufw allow`, deleting the
iptables rule) open the path again. Probes are the collection's own node scripts (_probe_scripts), run
with the lab's run-command executor inside a tunnel node's namespace.
"""

from __future__ import annotations

import os
import subprocess
import time

import pytest

from ansible_collections.aks.tunnel.plugins.module_utils import _probe_scripts as probes
from ansible_collections.aks.tunnel.tests.lab import scenario as scenario_mod
from ansible_collections.aks.tunnel.tests.lab.dataplane import lab
from ansible_collections.aks.tunnel.tests.lab.dataplane.executor import NetnsExecutor

pytestmark = [pytest.mark.lab, pytest.mark.xdist_group('lab_dataplane')]


def _quiet(_message):
    return None


class Lab:
    """A running lab plus probe helpers."""

    def __init__(self, record):
        self.record = record
        self.plan = record.get('plan')
        self.executor = NetnsExecutor(self.plan)

    def node(self, ref):
        for name, node in self.plan['nodes'].items():
            if ref in (name, node['short']):
                return dict(node, name=name)
        raise KeyError(ref)

    def targets(self):
        nodes = sorted(self.plan['nodes'].values(), key=lambda n: tuple(int(x) for x in n['ip'].split('.')))
        return [(n['ip'], 10250) for n in nodes]

    def probe(self, source=None, egress=(), targets=None, timeout=2):
        source = source or self.plan['tunnel_nodes'][0]
        targets = self.targets() if targets is None else targets
        checks = ['connect'] + (['egress'] if egress else [])
        script, params = probes.build_probe(checks, targets=targets, egress=list(egress), timeout=timeout, parallelism=64)
        out, err = self.executor.run({'name': source}, script, params, 120)
        result = probes.parse_probe_output(out.decode(), targets=targets)
        assert result['complete'], (out, err)
        return result

    def statuses(self, **kwargs):
        """{short node name: status} for 10250 from the (first) tunnel node."""
        result = self.probe(**kwargs)
        by_ip = {n['ip']: n['short'] for n in self.plan['nodes'].values()}
        return {by_ip[key.split(':')[0]]: status for key, status in result['targets'].items()}

    def egress(self, kinds=(('tls', 443), ('tcp', 9000), ('udp', 1194))):
        checks = [{'kind': kind, 'host': self.plan['api_ip'] if kind == 'udp' else self.plan['fqdn'], 'port': port} for kind, port in kinds]
        result = self.probe(egress=checks, targets=[])
        return {(e['kind'], e['port']): e for e in result['egress']}

    def sh(self, ref, script, *args):
        out, err = self.executor.run({'name': self.node(ref)['name']}, script, list(args), 30)
        return out.decode(), err.decode()

    def arm_network(self):
        from azure.identity import ClientSecretCredential  # pylint: disable=import-outside-toplevel
        from azure.mgmt.network import NetworkManagementClient  # pylint: disable=import-outside-toplevel
        auth = self._auth()
        cred = ClientSecretCredential(auth['tenant'], auth['client_id'], auth['secret'], authority=auth['authority_host'],
                                      disable_instance_discovery=True, connection_verify=auth['ca_path'])
        return NetworkManagementClient(cred, auth['subscription_id'], base_url=auth['arm_endpoint'],
                                       credential_scopes=[auth['arm_endpoint'] + '/.default'], connection_verify=auth['ca_path'],
                                       polling_interval=0.1)

    def arm_compute(self):
        from azure.identity import ClientSecretCredential  # pylint: disable=import-outside-toplevel
        from azure.mgmt.compute import ComputeManagementClient  # pylint: disable=import-outside-toplevel
        auth = self._auth()
        cred = ClientSecretCredential(auth['tenant'], auth['client_id'], auth['secret'], authority=auth['authority_host'],
                                      disable_instance_discovery=True, connection_verify=auth['ca_path'])
        return ComputeManagementClient(cred, auth['subscription_id'], base_url=auth['arm_endpoint'],
                                       credential_scopes=[auth['arm_endpoint'] + '/.default'], connection_verify=auth['ca_path'],
                                       polling_interval=0.2)

    def _auth(self):
        import yaml  # pylint: disable=import-outside-toplevel
        with open(self.record.file('vars.yml'), encoding='utf-8') as handle:
            return yaml.safe_load(handle)['aks_tunnel_azure_auth']

    def vars(self):
        import yaml  # pylint: disable=import-outside-toplevel
        with open(self.record.file('vars.yml'), encoding='utf-8') as handle:
            return yaml.safe_load(handle)


@pytest.fixture
def lab_up(tmp_path):
    """Factory: bring up a scenario (name or dict) in a fresh state dir; always taken down afterwards."""
    dirs = []

    def start(ref):
        state = str(tmp_path / ('lab%d' % len(dirs)))
        dirs.append(state)
        return Lab(lab.up(ref, state, log=_quiet))

    yield start
    for state in dirs:
        lab.down(state, log=_quiet)


def _custom(base, **faults):
    scenario = scenario_mod.load(base)
    data = {k: v for k, v in scenario.items() if k != 'source'}
    data['faults'] = dict(data['faults'], **faults)
    data['expect'] = {'problems': []}
    return scenario_mod.validate(data)


def _wait_open(probe_lab, short, seconds):
    deadline = time.monotonic() + seconds
    while True:
        status = probe_lab.statuses(targets=[(probe_lab.node(short)['ip'], 10250)], timeout=1)[short]
        if status == 'succeeded' or time.monotonic() > deadline:
            return status
        time.sleep(0.1)


def test_healthy_every_kubelet_and_every_egress_port_answers(lab_up):
    healthy = lab_up('healthy')
    assert set(healthy.statuses().values()) == {'succeeded'}
    egress = healthy.egress()
    assert egress[('tls', 443)]['tls'] == 'ok'
    assert egress[('tls', 443)]['alpn'] == 'konnectivity'
    assert egress[('tcp', 9000)]['tcp'] == 'succeeded'
    assert egress[('udp', 1194)]['udp'] == 'reply'
    data = healthy.vars()
    assert data['aks_tunnel_cluster_name'] == 'aks-lab'
    assert data['aks_tunnel_resource_group'] == 'rg-aks-lab'
    assert set(data['aks_tunnel_azure_auth']) == {'subscription_id', 'client_id', 'secret', 'tenant', 'arm_endpoint', 'authority_host', 'ca_path'}
    assert os.path.exists(data['aks_tunnel_kubeconfig'])
    assert data['aks_tunnel_lab']['expect'] == {'problems': [], 'affected_nodes': []}


def test_run_command_through_the_arm_sdk_runs_in_the_node_namespace(lab_up):
    healthy = lab_up('healthy')
    node = healthy.node('user1-1')
    topology = scenario_mod.topology_of(healthy.record.get('scenario'))
    vmss = next(n['vmss_name'] for n in topology['nodes'] if n['name'] == node['name'])
    compute = healthy.arm_compute()
    script = 'echo "host=$(hostname) ip=$(ip -4 -o addr show dev eth0 | awk \'{print $4}\') arg=$1 a=$a n=$#"'
    poller = compute.virtual_machine_scale_set_vms.begin_run_command(
        'MC_rg-aks-lab_aks-lab_westeurope', vmss, '1',
        {'commandId': 'RunShellScript', 'script': [script], 'parameters': [{'name': 'a', 'value': 'x y'}]})
    message = poller.result(timeout=60).value[0].message
    # Like Azure's handler, the lab pastes `export a=x y` and `set -- x y` unquoted into the script: the value splits.
    assert 'host=%s ip=%s/16 arg=x a=x n=2' % (node['name'], node['ip']) in message


def test_nsg_rule_blocks_then_an_allow_put_through_the_sdk_opens_within_2s(lab_up):
    denied = lab_up('nsg-deny-10250')
    statuses = denied.statuses()
    assert statuses == {'nodepool1-0': 'succeeded', 'nodepool1-1': 'succeeded', 'nodepool1-2': 'succeeded',
                        'user1-0': 'timed_out', 'user1-1': 'timed_out'}
    egress = denied.egress()
    assert egress[('tls', 443)]['alpn'] == 'konnectivity'
    from azure.mgmt.network.models import SecurityRule  # pylint: disable=import-outside-toplevel
    network = denied.arm_network()
    topology = scenario_mod.topology_of(denied.record.get('scenario'))
    started = time.monotonic()
    network.security_rules.begin_create_or_update(
        topology['cluster']['node_resource_group'], topology['nic_nsg']['name'], 'allow-kubelet-10250',
        SecurityRule(priority=150, direction='Inbound', access='Allow', protocol='Tcp', source_address_prefix='VirtualNetwork',
                     source_port_range='*', destination_address_prefix='*', destination_port_range='10250')).result()
    assert _wait_open(denied, 'user1-0', 2) == 'succeeded'
    assert time.monotonic() - started < 2 + 1.5
    assert set(denied.statuses().values()) == {'succeeded'}
    # Deleting the allow rule closes the path again (new connections only).
    network.security_rules.begin_delete(topology['cluster']['node_resource_group'], topology['nic_nsg']['name'], 'allow-kubelet-10250').result()
    assert denied.statuses()['user1-1'] == 'timed_out'


def test_ufw_blocks_until_ufw_allow_10250_inside_the_node(lab_up):
    with open('/etc/ufw/ufw.conf', encoding='utf-8') as handle:
        host_conf = handle.read()
    host_tables = subprocess.run(['nft', 'list', 'tables'], capture_output=True, text=True, check=True).stdout
    blocked = lab_up('ufw-enabled')
    statuses = blocked.statuses()
    assert statuses.pop('user1-1') == 'timed_out'
    assert set(statuses.values()) == {'succeeded'}
    out, _err = blocked.sh('user1-1', 'ufw status')
    assert 'Status: active' in out
    with open('/etc/ufw/ufw.conf', encoding='utf-8') as handle:
        assert handle.read() == host_conf, 'the host ufw must not be touched'
    assert subprocess.run(['nft', 'list', 'tables'], capture_output=True, text=True, check=True).stdout == host_tables
    blocked.sh('user1-1', 'ufw allow 10250/tcp')
    assert _wait_open(blocked, 'user1-1', 2) == 'succeeded'


def test_iptables_drop_blocks_until_the_rule_is_deleted(lab_up):
    blocked = lab_up('iptables-drop')
    statuses = blocked.statuses()
    assert statuses.pop('nodepool1-2') == 'timed_out'
    assert set(statuses.values()) == {'succeeded'}
    out, _err = blocked.sh('nodepool1-2', 'iptables -S INPUT')
    assert '-A INPUT -p tcp -m tcp --dport 10250 -j DROP' in out
    blocked.sh('nodepool1-2', 'iptables -D INPUT -p tcp --dport 10250 -j DROP')
    assert _wait_open(blocked, 'nodepool1-2', 2) == 'succeeded'


@pytest.mark.parametrize('name, blocked_key', [
    ('egress-9000-blocked', ('tcp', 9000)),
    ('egress-1194-blocked', ('udp', 1194)),
])
def test_egress_block_hits_only_its_port(lab_up, name, blocked_key):
    egress_lab = lab_up(name)
    egress = egress_lab.egress()
    for key, entry in egress.items():
        if key == blocked_key:
            assert (entry['tcp'] or entry['udp']) in ('timed_out', 'no_reply'), entry
        elif key[0] == 'udp':
            assert entry['udp'] == 'reply', entry
        else:
            assert entry['tcp'] == 'succeeded', entry
    assert egress[('tls', 443)]['alpn'] == 'konnectivity'
    assert set(egress_lab.statuses().values()) == {'succeeded'}


def test_tls_inspection_strips_alpn_but_keeps_443_open(lab_up):
    inspected = lab_up('konnectivity-alpn-stripped')
    egress = inspected.egress()
    assert egress[('tls', 443)]['tcp'] == 'succeeded'
    assert egress[('tls', 443)]['tls'] == 'ok'
    assert egress[('tls', 443)]['alpn'] == 'none'
    assert egress[('tls', 443)]['alpn_konnectivity'] is False
    assert egress[('tcp', 9000)]['tcp'] == 'succeeded'


def test_kubelet_answers_tell_reachable_timeout_refused_and_plain_http_apart(lab_up):
    custom = _custom('iptables-drop', kubelet_plain_http=['user1-0'], kubelet_down=['user1-1'])
    mixed = lab_up(custom)
    statuses = mixed.statuses()
    assert statuses == {'nodepool1-0': 'succeeded', 'nodepool1-1': 'succeeded', 'nodepool1-2': 'timed_out',
                        'user1-0': 'succeeded', 'user1-1': 'refused'}
    script = ('for ip in "$@"; do out=$(curl -sS -k --max-time 2 "https://$ip:10250/healthz" 2>&1); echo "$ip rc=$? $out"; done; '
              'curl -sS -k --max-time 2 "https://$1:10250/containerLogs/kube-system/konnectivity-agent-0/konnectivity-agent"')
    ips = [mixed.node(ref)['ip'] for ref in ('nodepool1-1', 'nodepool1-2', 'user1-0', 'user1-1')]
    out, _err = mixed.sh('nodepool1-0', script, *ips)
    lines = out.splitlines()
    assert lines[0] == '%s rc=0 ok' % ips[0]
    assert lines[1].startswith('%s rc=28 ' % ips[1])
    assert lines[2].startswith('%s rc=35 ' % ips[2])
    assert lines[3].startswith('%s rc=7 ' % ips[3])
    assert 'logs of kube-system/konnectivity-agent-0 container konnectivity-agent' in lines[4]
    # A Go client (the API server) reports a plain-HTTP answer to a TLS hello this way; our server sends that answer.
    out, _err = mixed.sh('nodepool1-0', 'printf "\\026\\003\\001\\000" | timeout 3 nc -q 2 "$1" 10250 | head -1', ips[2])
    assert out.startswith('HTTP/1.1 400 Bad Request')


def test_all_faults_block_exactly_the_expected_nodes(lab_up):
    everything = lab_up('all-faults')
    statuses = everything.statuses()
    expected = scenario_mod.expected(everything.record.get('scenario'))
    blocked = sorted(everything.node(short)['name'] for short, status in statuses.items() if status != 'succeeded')
    assert blocked == expected['affected_nodes']
    assert set(statuses[s] for s in ('nodepool1-3', 'user1-0', 'user1-2')) == {'timed_out'}


def test_down_restores_the_host_and_up_replaces_a_running_lab(tmp_path):
    def host_tables():
        return subprocess.run(['nft', 'list', 'tables'], capture_output=True, text=True, check=True).stdout

    def residue(prefixes, metrics, state):
        """Whatever of these labs still exists (other labs and tests may come and go meanwhile)."""
        netns = [line.split()[0] for line in subprocess.run(['ip', 'netns', 'list'], capture_output=True, text=True,
                                                            check=True).stdout.splitlines() if line.strip()]
        routes = subprocess.run(['ip', 'route', 'show', 'type', 'blackhole'], capture_output=True, text=True, check=True).stdout
        procs = subprocess.run(['pgrep', '-af', 'tests.lab.dataplane'], capture_output=True, text=True, check=False).stdout
        etc = os.listdir('/etc/netns') if os.path.isdir('/etc/netns') else []
        return {'netns': [n for n in netns if n.split('-')[0] in prefixes],
                'etc_netns': [n for n in etc if n.split('-')[0] in prefixes],
                'routes': [line for line in routes.splitlines() if any(line.endswith('metric %d' % m) for m in metrics)],
                'procs': [line for line in procs.splitlines() if state in line]}

    tables_before = host_tables()
    state = str(tmp_path / 'state')
    first = lab.up('healthy', state, log=_quiet)
    second = lab.up('ufw-enabled', state, log=_quiet)
    prefixes = {first.get('prefix'), second.get('prefix')}
    metrics = {first.get('plan')['metric'], second.get('plan')['metric']}
    assert len(prefixes) == 2
    assert residue({first.get('prefix')}, {first.get('plan')['metric']}, 'no-such-state') == {
        'netns': [], 'etc_netns': [], 'routes': [], 'procs': []}, 'up must take the running lab down first'
    assert len(residue(prefixes, metrics, state)['netns']) == 8
    assert lab.down(state, log=_quiet) is True
    deadline = time.monotonic() + 3
    left = residue(prefixes, metrics, state)
    while left['procs'] and time.monotonic() < deadline:
        time.sleep(0.05)  # killed daemons may stay zombies until init reaps them
        left = residue(prefixes, metrics, state)
    assert left == {'netns': [], 'etc_netns': [], 'routes': [], 'procs': []}
    assert host_tables() == tables_before
    assert lab.down(state, log=_quiet) is False
    assert not os.path.exists(state)


def test_down_cleans_up_after_a_crash(tmp_path):
    """Kill the daemons and lose nothing: down still removes every namespace, route and /etc/netns entry."""
    state = str(tmp_path / 'state')
    record = lab.up('healthy', state, log=_quiet)
    prefix = record.get('prefix')
    for entry in record.created('pids'):
        os.kill(entry['pid'], 9)
    lab.down(state, log=_quiet)
    assert prefix not in subprocess.run(['ip', 'netns', 'list'], capture_output=True, text=True, check=True).stdout
    assert not [n for n in os.listdir('/etc/netns') if n.startswith(prefix)]
    assert 'metric %d' % record.get('plan')['metric'] not in subprocess.run(['ip', 'route', 'show', 'type', 'blackhole'],
                                                                            capture_output=True, text=True, check=True).stdout


def test_kubernetes_nodes_and_tunnel_pods_match_the_namespaces(lab_up):
    from kubernetes import client, config  # pylint: disable=import-outside-toplevel

    running = lab_up('konnectivity-oom')
    api_client = config.new_client_from_config(config_file=running.vars()['aks_tunnel_kubeconfig'])
    core = client.CoreV1Api(api_client)
    topology = scenario_mod.topology_of(running.record.get('scenario'))
    by_name = {n['name']: n for n in topology['nodes']}
    nodes = core.list_node().items
    assert sorted(n.metadata.name for n in nodes) == sorted(running.plan['nodes'])
    for node in nodes:
        internal = [a.address for a in node.status.addresses if a.type == 'InternalIP']
        assert internal == [running.plan['nodes'][node.metadata.name]['ip']]
        assert node.spec.provider_id == by_name[node.metadata.name]['provider_id']
    pods = core.list_namespaced_pod('kube-system', label_selector='app=konnectivity-agent').items
    assert sorted(p.spec.node_name for p in pods) == sorted(running.plan['tunnel_nodes'])
    reasons = [s.last_state.terminated.reason for p in pods for s in p.status.container_statuses or []
               if s.last_state and s.last_state.terminated]
    assert reasons == ['OOMKilled']


def test_a_node_that_cannot_report_runs_the_script_but_never_completes(lab_up):
    custom = _custom('healthy', cannot_report=['user1-1'])
    silent = lab_up(custom)
    node = silent.node('user1-1')
    compute = silent.arm_compute()
    topology = scenario_mod.topology_of(silent.record.get('scenario'))
    vmss = next(n['vmss_name'] for n in topology['nodes'] if n['name'] == node['name'])
    marker = '/tmp/aks-tunnel-lab-ran-%s' % silent.record.get('prefix')
    body = {'commandId': 'RunShellScript', 'script': ['touch "$1"'], 'parameters': [{'name': 'f', 'value': marker}]}
    poller = compute.virtual_machine_scale_set_vms.begin_run_command('MC_rg-aks-lab_aks-lab_westeurope', vmss, '1', body)
    try:
        deadline = time.monotonic() + 10
        while not os.path.exists(marker) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert os.path.exists(marker), 'the script must run'
        time.sleep(1.5)
        assert not poller.done()
        assert poller.status().lower() == 'inprogress'
    finally:
        if os.path.exists(marker):
            os.unlink(marker)


def test_egress_reject_gives_refused_and_a_subnet_nsg_outbound_deny_blocks_only_443(lab_up):
    custom = _custom('healthy', egress_blocked=[{'port': 9000, 'protocol': 'tcp', 'action': 'reject'}], nsg_rules=[
        {'nsg': 'subnet', 'name': 'deny-https-out', 'priority': 400, 'direction': 'Outbound', 'access': 'Deny', 'protocol': 'Tcp',
         'source_address_prefix': 'VirtualNetwork', 'source_port_range': '*', 'destination_address_prefix': 'Internet',
         'destination_port_range': '443'}])
    firewalled = lab_up(custom)
    egress = firewalled.egress()
    assert egress[('tcp', 9000)]['tcp'] == 'refused'
    assert egress[('tls', 443)]['tcp'] == 'timed_out'
    assert egress[('udp', 1194)]['udp'] == 'reply'
    # Node-to-node traffic is VirtualNetwork, not Internet: the subnet NSG rule does not touch it.
    assert set(firewalled.statuses().values()) == {'succeeded'}


def test_konnectivity_undersized_has_one_agent_for_120_nodes_and_an_open_data_plane(lab_up):
    from kubernetes import client, config  # pylint: disable=import-outside-toplevel

    running = lab_up('konnectivity-undersized')
    assert running.plan['sharing'] is True
    statuses = running.statuses()
    assert len(statuses) == 120 and set(statuses.values()) == {'succeeded'}
    apps = client.AppsV1Api(config.new_client_from_config(config_file=running.vars()['aks_tunnel_kubeconfig']))
    assert apps.read_namespaced_deployment('konnectivity-agent', 'kube-system').spec.replicas == 1


def test_snat_exhaustion_shows_in_the_load_balancer_metrics_only(lab_up):
    from azure.identity import ClientSecretCredential  # pylint: disable=import-outside-toplevel
    from azure.mgmt.monitor import MonitorManagementClient  # pylint: disable=import-outside-toplevel

    running = lab_up('snat-exhaustion')
    assert set(running.statuses().values()) == {'succeeded'}
    auth = running.vars()['aks_tunnel_azure_auth']
    cred = ClientSecretCredential(auth['tenant'], auth['client_id'], auth['secret'], authority=auth['authority_host'],
                                  disable_instance_discovery=True, connection_verify=auth['ca_path'])
    monitor = MonitorManagementClient(cred, auth['subscription_id'], base_url=auth['arm_endpoint'],
                                      credential_scopes=[auth['arm_endpoint'] + '/.default'], connection_verify=auth['ca_path'])
    topology = scenario_mod.topology_of(running.record.get('scenario'))
    metrics = monitor.metrics.list(topology['load_balancer']['id'], metricnames='UsedSnatPorts,AllocatedSnatPorts', aggregation='Maximum')
    values = {m.name.value: max(d.maximum for series in m.timeseries for d in series.data if d.maximum is not None) for m in metrics.value}
    assert values == {'UsedSnatPorts': 1024.0, 'AllocatedSnatPorts': 1024.0}


def test_api_server_to_kubelet_requests_ride_the_real_tunnel_path(lab_up):
    from kubernetes import client, config  # pylint: disable=import-outside-toplevel
    from kubernetes.client.rest import ApiException  # pylint: disable=import-outside-toplevel

    custom = _custom('iptables-drop', kubelet_plain_http=['user1-0'])
    running = lab_up(custom)
    core = client.CoreV1Api(config.new_client_from_config(config_file=running.vars()['aks_tunnel_kubeconfig']))
    healthy = running.node('nodepool1-1')
    assert core.connect_get_node_proxy_with_path(healthy['name'], 'healthz') == 'ok'
    for ref, error in (('nodepool1-2', 'dial tcp %s:10250: i/o timeout'), ('user1-0', 'http: server gave HTTP response to HTTPS client')):
        node = running.node(ref)
        with pytest.raises(ApiException) as info:
            core.connect_get_node_proxy_with_path(node['name'], 'healthz')
        assert (error % node['ip'] if '%s' in error else error) in info.value.body
    pods = core.list_namespaced_pod('kube-system', label_selector='app=konnectivity-agent').items
    log = core.read_namespaced_pod_log(pods[0].metadata.name, 'kube-system', container='konnectivity-agent')
    assert 'lab kubelet on %s: logs of kube-system/%s' % (pods[0].spec.node_name, pods[0].metadata.name) in log
    # Unblock: the same request now succeeds (a fresh connection through the repaired path).
    running.sh('nodepool1-2', 'iptables -D INPUT -p tcp --dport 10250 -j DROP')
    assert core.connect_get_node_proxy_with_path(running.node('nodepool1-2')['name'], 'healthz') == 'ok'


def test_without_a_connected_agent_the_api_server_has_no_tunnel(lab_up):
    from kubernetes import client, config  # pylint: disable=import-outside-toplevel
    from kubernetes.client.rest import ApiException  # pylint: disable=import-outside-toplevel

    running = lab_up('konnectivity-alpn-stripped')
    core = client.CoreV1Api(config.new_client_from_config(config_file=running.vars()['aks_tunnel_kubeconfig']))
    with pytest.raises(ApiException) as info:
        core.connect_get_node_proxy_with_path(running.node('nodepool1-1')['name'], 'healthz')
    assert 'No agent available' in info.value.body


def test_down_by_prefix_cleans_up_when_the_state_directory_is_lost(tmp_path):
    import shutil  # pylint: disable=import-outside-toplevel

    state = str(tmp_path / 'state')
    record = lab.up('healthy', state, log=_quiet)
    prefix = record.get('prefix')
    pids = [entry['pid'] for entry in record.created('pids')]
    shutil.rmtree(state)
    lab.down_prefix(prefix, log=_quiet)
    assert prefix not in subprocess.run(['ip', 'netns', 'list'], capture_output=True, text=True, check=True).stdout
    assert not [n for n in os.listdir('/etc/netns') if n.startswith(prefix)]
    assert 'metric %d' % record.get('plan')['metric'] not in subprocess.run(['ip', 'route', 'show', 'type', 'blackhole'],
                                                                            capture_output=True, text=True, check=True).stdout
    deadline = time.monotonic() + 3
    while [pid for pid in pids if os.path.exists('/proc/%d' % pid)] and time.monotonic() < deadline:
        time.sleep(0.05)  # killed daemons may stay zombies until init reaps them
    assert not [pid for pid in pids if os.path.exists('/proc/%d' % pid)]


def test_two_labs_with_the_same_addresses_run_side_by_side(lab_up):
    first = lab_up('healthy')
    second = lab_up('nsg-deny-10250')
    assert first.record.get('prefix') != second.record.get('prefix')
    assert first.plan['metric'] != second.plan['metric']
    assert set(first.statuses().values()) == {'succeeded'}
    assert sorted(k for k, v in second.statuses().items() if v != 'succeeded') == ['user1-0', 'user1-1']


def test_every_kind_of_nsg_rule_compiles_into_a_ruleset_nft_accepts(lab_up):
    from ansible_collections.aks.tunnel.tests.lab.dataplane import netns, nsg  # pylint: disable=import-outside-toplevel

    running = lab_up('healthy')
    rules = [
        {'name': 'plural', 'properties': {'priority': 100, 'direction': 'Inbound', 'access': 'Deny', 'protocol': '*',
                                          'sourceAddressPrefixes': ['10.240.0.0/24', '192.168.1.1'], 'sourcePortRanges': ['1024-65535'],
                                          'destinationAddressPrefix': '*', 'destinationPortRanges': ['10250', '10255-10260']}},
        {'name': 'internet', 'properties': {'priority': 110, 'direction': 'Outbound', 'access': 'Deny', 'protocol': 'Udp',
                                            'sourceAddressPrefix': '*', 'sourcePortRange': '*', 'destinationAddressPrefix': 'Internet',
                                            'destinationPortRange': '1194'}},
        {'name': 'lb', 'properties': {'priority': 120, 'direction': 'Inbound', 'access': 'Allow', 'protocol': 'Tcp',
                                      'sourceAddressPrefix': 'AzureLoadBalancer', 'sourcePortRange': '*', 'destinationAddressPrefix': '*',
                                      'destinationPortRange': '*'}},
        {'name': 'icmp', 'properties': {'priority': 130, 'direction': 'Inbound', 'access': 'Deny', 'protocol': 'Icmp',
                                        'sourceAddressPrefix': 'VirtualNetwork', 'sourcePortRange': '*', 'destinationAddressPrefix': '*',
                                        'destinationPortRange': '*'}},
        {'name': 'esp', 'properties': {'priority': 140, 'direction': 'Outbound', 'access': 'Allow', 'protocol': 'Esp',
                                       'sourceAddressPrefix': '*', 'sourcePortRange': '*', 'destinationAddressPrefix': '*',
                                       'destinationPortRange': '*'}},
        {'name': 'asg', 'properties': {'priority': 150, 'direction': 'Inbound', 'access': 'Deny', 'protocol': 'Tcp',
                                       'sourceApplicationSecurityGroups': [{'id': '/subscriptions/x/asg'}], 'sourcePortRange': '*',
                                       'destinationAddressPrefix': '*', 'destinationPortRange': '22'}},
        {'name': 'v6', 'properties': {'priority': 160, 'direction': 'Inbound', 'access': 'Deny', 'protocol': 'Tcp',
                                      'sourceAddressPrefix': '2001:db8::/32', 'sourcePortRange': '*', 'destinationAddressPrefix': '*',
                                      'destinationPortRange': '22'}},
    ]
    topology = scenario_mod.topology_of(running.record.get('scenario'))
    view = {'nic': {'nic': {'rules': rules, 'ips': [n['ip'] for n in topology['nodes']]}},
            'subnet': {'id': 'subnet', 'rules': rules}, 'subnet_prefix': topology['vnet']['subnet_prefix'],
            'vnet_prefixes': topology['vnet']['address_prefixes'], 'gateway': running.plan['gateway']}
    netns.apply_nsg(running.plan, nsg.render(view))
    listing = subprocess.run(['ip', 'netns', 'exec', running.plan['bridge_ns'], 'nft', 'list', 'table', 'bridge', 'aksnsg'],
                             capture_output=True, text=True, check=True).stdout
    for label in ('nic-in:plural:100', 'nic-out:internet:110', 'nic-in:lb:120', 'nic-in:icmp:130', 'nic-out:esp:140',
                  'subnet-in:plural:100', 'subnet-out:internet:110'):
        assert 'comment "%s"' % label in listing
    assert 'asg:150' not in listing and 'v6:160' not in listing
    # The plural rule now denies 10250 from the tunnel node's /24: every other node times out.
    statuses = running.statuses()
    assert statuses.pop('nodepool1-0') == 'succeeded'
    assert set(statuses.values()) == {'timed_out'}
