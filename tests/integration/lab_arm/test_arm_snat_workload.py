# -*- coding: utf-8 -*-
# Copyright (c) 2026 aks.tunnel contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The SNAT workload model: Insights metrics follow the load balancer profile over time, so a repair ends the failures.

An in-process emulator with a controlled clock (`state.clock`), driven by the real MonitorManagementClient and
ContainerServiceClient: exhausted workload -> Failed > 0 and Used == Allocated; a managed cluster PUT with a larger
allocatedOutboundPorts -> buckets after the change have Failed 0 and Used == demand, the bucket holding the change only
counts failures before it; the static form still works; the responses validate against the swagger spec.
"""

from __future__ import annotations

import datetime
import math

import pytest
import requests

from ansible_collections.aks.tunnel.plugins.module_utils import _snat
from ansible_collections.aks.tunnel.tests.lab import scenario
from ansible_collections.aks.tunnel.tests.lab.arm import ArmEmulator, NullExecutor
from ansible_collections.aks.tunnel.tests.lab.arm.providers.containerservice import node_capacity_needed
from ansible_collections.aks.tunnel.tests.lab.arm.state import ArmState

pytest.importorskip('azure.mgmt.monitor')
pytest.importorskip('azure.mgmt.containerservice')

UTC = datetime.timezone.utc
T0 = datetime.datetime(2026, 11, 25, 10, 0, tzinfo=UTC)
CLIENT = {'client_id': '0b5e1c7a-0000-4000-8000-0000000a11ad', 'client_secret': 'workload-secret', 'role': 'contributor'}
DEMAND, SMALL_DEMAND, PER_MIN = 1300, 200, 60
CONFIG = {
    'cluster': {'name': 'wlaks', 'resource_group': 'wl-rg',
                'load_balancer_profile': {'managed_outbound_ip_count': 1, 'allocated_outbound_ports': 1024}},
    'node_pools': [{'name': 'np1', 'count': 3}, {'name': 'np2', 'count': 2}],
    'clients': [CLIENT],
    'metrics': {'workload': {'default': {'demand': DEMAND, 'connections_per_min': PER_MIN}, 'nodes': {'np2-1': {'demand': SMALL_DEMAND}}}},
    'executor': 'null',
}
MON = '2024-02-01'
FAIL_PER_MIN = round(PER_MIN * (DEMAND - 1024) / DEMAND)   # 12.74 -> 13


def _at(minute, second=0):
    return T0 + datetime.timedelta(minutes=minute, seconds=second)


def _span(first, last):
    return '%s/%s' % (first.strftime('%Y-%m-%dT%H:%M:%SZ'), last.strftime('%Y-%m-%dT%H:%M:%SZ'))


class WorkloadLab:
    def __init__(self, emu):
        from azure.identity import ClientSecretCredential  # pylint: disable=import-outside-toplevel
        self.emu = emu
        self.now = _at(5)
        emu.state.clock = lambda: self.now
        self.cred = ClientSecretCredential(emu.state.tenant_id, CLIENT['client_id'], CLIENT['client_secret'], authority=emu.url,
                                           disable_instance_discovery=True, connection_verify=emu.ca_path)
        self.kwargs = dict(base_url=emu.url, credential_scopes=[emu.url + '/.default'], connection_verify=emu.ca_path)
        self.lb_id = emu.state.topology['load_balancer']['id']
        self.ip = {n['short']: n['ip'] for n in emu.state.topology['nodes']}
        self.session = requests.Session()
        self.session.verify = emu.ca_path
        self.session.trust_env = False

    def monitor(self):
        from azure.mgmt.monitor import MonitorManagementClient  # pylint: disable=import-outside-toplevel
        return MonitorManagementClient(self.cred, self.emu.state.subscription_id, **self.kwargs)

    def aks(self):
        from azure.mgmt.containerservice import ContainerServiceClient  # pylint: disable=import-outside-toplevel
        return ContainerServiceClient(self.cred, self.emu.state.subscription_id, **self.kwargs)

    def series(self, metric, timespan, aggregation, filt, interval='PT1M'):
        """{(backend ip, state or None): [data points]} split as the filter asks."""
        result = self.monitor().metrics.list(self.lb_id, metricnamespace='Microsoft.Network/loadBalancers', metricnames=metric,
                                             aggregation=aggregation, filter=filt, timespan=timespan, interval=interval, top=100)
        out = {}
        for series in result.value[0].timeseries:
            meta = {m.name.value: m.value for m in series.metadatavalues}
            out[(meta.get('backendipaddress'), meta.get('connectionstate'))] = series.data
        return out

    def connections(self, timespan, state='Failed', interval='PT1M'):
        data = self.series('SnatConnectionCount', timespan, 'Total', "BackendIPAddress eq '*' and ConnectionState eq '%s'" % state, interval)
        return {ip: [d.total for d in points] for (ip, _s), points in data.items()}

    def ports(self, metric, timespan, aggregation='Average', interval='PT1M'):
        data = self.series(metric, timespan, 'Average,Maximum,Minimum', "BackendIPAddress eq '*'", interval)
        return {ip: [getattr(d, aggregation.lower()) for d in points] for (ip, _s), points in data.items()}

    def raise_ports(self, ports, when):
        self.now = when
        client = self.aks()
        cluster = client.managed_clusters.get('wl-rg', 'wlaks')
        cluster.network_profile.load_balancer_profile.allocated_outbound_ports = ports
        client.managed_clusters.begin_create_or_update('wl-rg', 'wlaks', cluster).result()

    def admin(self, method, path, body=None):
        return self.session.request(method, self.emu.url + '/_lab/' + path, json=body, timeout=30,
                                    headers={'Authorization': 'Bearer ' + self.emu.admin_token})


@pytest.fixture
def wl(tmp_path):
    with ArmEmulator(dict(CONFIG), executor=NullExecutor(), state_dir=str(tmp_path)) as emu:
        lab = WorkloadLab(emu)
        try:
            yield lab
        finally:
            lab.session.close()


def test_exhausted_workload_fails_and_uses_every_port(wl):
    span = _span(_at(0), _at(5))
    failed = wl.connections(span)
    assert failed[wl.ip['np1-0']] == [FAIL_PER_MIN] * 5
    assert failed[wl.ip['np2-1']] == [0.0] * 5            # demand 200 <= 1024
    successful = wl.connections(span, 'Successful')
    assert successful[wl.ip['np1-0']] == [PER_MIN - FAIL_PER_MIN] * 5
    assert successful[wl.ip['np2-1']] == [PER_MIN] * 5
    pending = wl.connections(span, 'Pending')
    assert set(pending[wl.ip['np1-0']]) == {0.0}
    allocated, used = wl.ports('AllocatedSnatPorts', span), wl.ports('UsedSnatPorts', span)
    for short in ('np1-0', 'np1-1', 'np1-2', 'np2-0'):
        assert allocated[wl.ip[short]] == used[wl.ip[short]] == [1024.0] * 5
    assert used[wl.ip['np2-1']] == [float(SMALL_DEMAND)] * 5
    # a query long before the emulator started sees the initial profile too ("since the beginning of time")
    assert wl.connections(_span(_at(-600), _at(-599)))[wl.ip['np1-0']] == [FAIL_PER_MIN]


def test_larger_allocation_ends_the_failures_from_the_change_on(wl):
    wl.raise_ports(4096, _at(5, 30))
    history = wl.admin('GET', 'state').json()['snat_ports_history']
    assert [h['ports_per_node'] for h in history] == [1024, 4096]
    assert history[0]['since'] is None and history[1]['since'].startswith('2026-11-25T10:05:30')
    wl.now = _at(12)
    after = _span(_at(6), _at(12))
    failed = wl.connections(after)
    assert all(values == [0.0] * 6 for values in failed.values()) and len(failed) == 5
    assert wl.connections(after, 'Successful')[wl.ip['np1-0']] == [PER_MIN] * 6
    assert wl.ports('UsedSnatPorts', after)[wl.ip['np1-0']] == [float(DEMAND)] * 6
    assert wl.ports('AllocatedSnatPorts', after)[wl.ip['np1-0']] == [4096.0] * 6

    spanning = _span(_at(3), _at(8))
    failed = wl.connections(spanning)[wl.ip['np1-0']]
    half = round(PER_MIN / 2 * (DEMAND - 1024) / DEMAND)   # 30 s before the change in the 10:05 bucket
    assert failed == [FAIL_PER_MIN, FAIL_PER_MIN, half, 0.0, 0.0]
    assert wl.connections(spanning, 'Successful')[wl.ip['np1-0']] == [PER_MIN - FAIL_PER_MIN] * 2 + [PER_MIN - half, PER_MIN, PER_MIN]
    # ports: time-weighted average, maximum over the bucket
    assert wl.ports('AllocatedSnatPorts', spanning)[wl.ip['np1-0']] == [1024.0, 1024.0, 2560.0, 4096.0, 4096.0]
    assert wl.ports('AllocatedSnatPorts', spanning, 'Maximum')[wl.ip['np1-0']] == [1024.0, 1024.0, 4096.0, 4096.0, 4096.0]
    assert wl.ports('AllocatedSnatPorts', spanning, 'Minimum')[wl.ip['np1-0']] == [1024.0, 1024.0, 1024.0, 4096.0, 4096.0]
    assert wl.ports('UsedSnatPorts', spanning)[wl.ip['np1-0']] == [1024.0, 1024.0, 1162.0, 1300.0, 1300.0]
    assert wl.ports('UsedSnatPorts', spanning, 'Maximum')[wl.ip['np1-0']] == [1024.0, 1024.0, 1300.0, 1300.0, 1300.0]
    # one bucket for the whole span (interval FULL): only the 2.5 minutes before the change fail
    full = wl.connections(spanning, interval='FULL')[wl.ip['np1-0']]
    assert full == [round(2.5 * PER_MIN * (DEMAND - 1024) / DEMAND)]

    # the module's own verdict agrees: nothing failed after the change, and the ratio is far below the threshold
    value = []
    for names, aggregation, filt in (('SnatConnectionCount', 'Total', "BackendIPAddress eq '*' and ConnectionState eq '*'"),
                                     ('AllocatedSnatPorts,UsedSnatPorts', 'Average,Maximum', "BackendIPAddress eq '*'")):
        response = wl.session.get(wl.emu.url + wl.lb_id + '/providers/Microsoft.Insights/metrics', timeout=30, params={
            'api-version': MON, 'metricnames': names, 'aggregation': aggregation, '$filter': filt, 'timespan': after, 'interval': 'PT1M',
            'top': 100}, headers={'Authorization': 'Bearer ' + wl.cred.get_token(wl.emu.url + '/.default').token})
        assert response.status_code == 200, response.text
        value += response.json()['value']
    body = {'value': value}
    verdict = _snat.snat_verdict(_snat.series_from_azure_metrics(body))
    assert verdict['status'] == 'ok' and verdict['failed_total'] == 0 and verdict['max_ratio'] < 0.8


def test_current_bucket_is_clamped_and_future_buckets_have_no_data(wl):
    wl.now = _at(12, 30)
    span = _span(_at(10), _at(15))
    successful = wl.connections(span, 'Successful')[wl.ip['np2-1']]
    assert successful == [PER_MIN, PER_MIN, PER_MIN / 2, None, None]
    used = wl.ports('UsedSnatPorts', span)[wl.ip['np1-0']]
    assert used == [1024.0, 1024.0, 1024.0, None, None]


def test_unchanged_profile_adds_no_history_entry(wl):
    client = wl.aks()
    cluster = client.managed_clusters.get('wl-rg', 'wlaks')
    client.managed_clusters.begin_create_or_update('wl-rg', 'wlaks', cluster).result()
    assert len(wl.admin('GET', 'state').json()['snat_ports_history']) == 1


def test_admin_switches_between_static_and_workload(wl):
    original = wl.admin('GET', 'metrics').json()
    assert 'workload' in original
    response = wl.admin('PUT', 'metrics', {'default': {'failed': 3, 'used': 10}})
    assert response.status_code == 200
    span = _span(_at(0), _at(2))
    assert wl.connections(span)[wl.ip['np1-0']] == [3.0, 3.0]
    assert wl.ports('AllocatedSnatPorts', span)[wl.ip['np1-0']] == [1024.0, 1024.0]   # allocated null: the LB profile
    assert wl.ports('UsedSnatPorts', span)[wl.ip['np1-0']] == [10.0, 10.0]
    bad = wl.admin('PUT', 'metrics', {'workload': {'default': {'demand': 5}}, 'default': {'failed': 1}})
    assert bad.status_code == 400 and 'not both' in bad.json()['error']['message']
    bad = wl.admin('PUT', 'metrics', {'workload': {'default': {'demand': -1}}})
    assert bad.status_code == 400 and 'metrics.workload.default.demand' in bad.json()['error']['message']
    assert wl.admin('PUT', 'metrics', {'workload': {'default': {'demand': 2000, 'connections_per_min': 10}}}).status_code == 200
    assert wl.connections(span)[wl.ip['np1-0']] == [round(10 * (2000 - 1024) / 2000)] * 2


def test_workload_responses_match_the_swagger_spec(wl):
    from ansible_collections.aks.tunnel.tests.lab import swagger  # pylint: disable=import-outside-toplevel
    try:
        schemas = swagger.SwaggerSchemas()
    except swagger.SpecNotFound as exc:
        pytest.skip(str(exc))
    wl.raise_ports(2048, _at(5, 30))
    wl.now = _at(7, 10)
    token = wl.cred.get_token(wl.emu.url + '/.default').token
    for params in ({'metricnames': 'SnatConnectionCount,AllocatedSnatPorts,UsedSnatPorts', 'aggregation': 'Total,Average,Count,Minimum,Maximum',
                    '$filter': "BackendIPAddress eq '*'", 'timespan': _span(_at(4), _at(10)), 'interval': 'PT1M'},
                   {'metricnames': 'UsedSnatPorts', 'timespan': _span(_at(0), _at(10)), 'interval': 'FULL'}):
        response = wl.session.get(wl.emu.url + wl.lb_id + '/providers/Microsoft.Insights/metrics', params=dict(params, **{'api-version': MON}),
                                  headers={'Authorization': 'Bearer ' + token}, timeout=30)
        assert response.status_code == 200
        schemas.validate_response('metrics', 'Metrics_List', 200, response.json())


@pytest.mark.parametrize('name', scenario.available())
def test_scenario_workloads(name):
    """snat-exhaustion and all-faults are exhausted and the module's recommendation covers their demand; the rest are healthy."""
    spec = scenario.load(name)
    config = scenario.lab_config(spec)
    workload = config['metrics']['workload']['default']
    assert set(config['metrics']) == {'workload'} and workload['connections_per_min'] > 0
    state = ArmState(dict(config, executor='null'))
    allocated = state.effective_ports_per_node()
    if 'NATGateway' in (spec['cluster'].get('outbound_type') or ''):
        # a NAT gateway cluster's SNAT is its gateway's (tests/integration/modules_snat/test_snat_natgw.py); the load
        # balancer workload stays idle
        assert workload['demand'] == 0
    elif 'snat_exhaustion' in spec['expect']['problems']:
        assert workload['demand'] > allocated
        # what aks_outbound_ports recommends for the demand keeps it below the diagnosis threshold (adding outbound IPs when the
        # nodes the ports must cover - autoscaler maxCount and surge included - need them)
        needed = node_capacity_needed(state)
        nodes = sum(p['count'] for p in state.topology['pools'])
        rec = _snat.recommend(needed, surge=0, current_ports=state.lb_profile['allocated_outbound_ports'],
                              current_ips=state.lb_profile['managed_outbound_ip_count'], current_nodes=nodes,
                              peak_ports=int(workload['demand']), max_ips=_snat.MAX_MANAGED_OUTBOUND_IPS)
        assert rec['fits'] and workload['demand'] < _snat.DEFAULT_USAGE_THRESHOLD * rec['allocated_outbound_ports'], rec
    else:
        assert workload['demand'] <= _snat.DEFAULT_USAGE_THRESHOLD * allocated / 1.5, (workload['demand'], allocated)
    assert math.isfinite(workload['demand'])
