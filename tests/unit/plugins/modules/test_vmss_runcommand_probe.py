# -*- coding: utf-8 -*-
# Copyright (c) 2026 aks.tunnel contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import json

import pytest

from ansible.module_utils.testing import patch_module_args

from ansible_collections.aks.tunnel.plugins.module_utils import _cluster_model
from ansible_collections.aks.tunnel.plugins.module_utils._module import AksTunnelModule
from ansible_collections.aks.tunnel.plugins.modules import vmss_runcommand_probe

AUTH = {'subscription_id': 's', 'client_id': 'c', 'secret': 'unit-test-secret', 'tenant': 't', 'resource_group': 'rg', 'name': 'aks'}
NODES = [{'name': 'n%d' % i, 'computer_name': 'n%d' % i, 'private_ip': '10.0.0.%d' % (4 + i), 'vmss': 'vmss', 'instance_id': str(i),
          'hosts_tunnel': i == 0} for i in range(3)]
MODEL = {'cluster': {'node_resource_group': 'MC_rg', 'api_server_host': 'api.example'}, 'nodes': NODES,
         'tunnel': {'component': 'konnectivity', 'nodes': ['n0'], 'egress': [{'kind': 'tls', 'port': 443, 'protocol': 'Tcp', 'alpn': 'konnectivity'}],
                    'egress_reason': 'x', 'pods': []}}

SOURCE_OUT = '''AKSTP1 begin checks=connect,egress n=3
E 0 tls api.example:443 tcp=succeeded tls=ok alpn=konnectivity
C rle s2t1
S n=3 s=2 t=1 r=0 u=0 d=0 e=0 x=0 secs=2 par=32 to=2 m=nc
AKSTP1 end n=3 rc=0
'''
INSPECT_OUT = '''AKSTP1 begin checks=inspect n=0
@@ufw rc=0 bytes=10
Status: active
Default: deny (incoming), allow (outgoing), disabled (routed)
@@iptables rc=0 bytes=10
-P INPUT ACCEPT
@@end
S n=0 s=0 t=0 r=0 u=0 d=0 e=0 x=0 secs=0 par=32 to=2 m=nc
AKSTP1 end n=0 rc=0
'''


class Poller:
    def __init__(self, stdout):
        self.stdout = stdout

    def wait(self, timeout=None):
        return None

    def done(self):
        return True

    def result(self):
        return {'value': [{'code': 'ProvisioningState/succeeded', 'message': 'Enable succeeded: \n[stdout]\n%s\n[stderr]\n' % self.stdout}]}


class FakeCompute:
    def __init__(self):
        self.calls = []
        self.virtual_machine_scale_set_vms = self

    def begin_run_command(self, rg, vmss, instance, body):
        self.calls.append((instance, body))
        return Poller(INSPECT_OUT if 'inspect' in '\n'.join(body['script'])[:400] and 'connect' not in '\n'.join(body['script'])[:400]
                      else SOURCE_OUT)


class FakeAzure:
    def __init__(self):
        self.compute = FakeCompute()

    def close(self):
        pass


def run(monkeypatch, capsys, args):
    azure = FakeAzure()
    monkeypatch.setattr(AksTunnelModule, 'azure', property(lambda self: azure))
    monkeypatch.setattr(AksTunnelModule, 'kube', property(lambda self: object()))
    monkeypatch.setattr(AksTunnelModule, 'kube_timeout', property(lambda self: (1, 1)))
    monkeypatch.setattr(_cluster_model, 'build_model', lambda *a, **k: json.loads(json.dumps(MODEL)))
    with patch_module_args(dict(AUTH, **args)):
        with pytest.raises(SystemExit):
            vmss_runcommand_probe.main()
    return json.loads(capsys.readouterr().out), azure.compute


def test_one_script_per_source_then_one_per_unreachable_node(monkeypatch, capsys):
    causes = ['ufw_blocks_10250', 'iptables_blocks_10250', 'egress_ports_blocked']
    result, compute = run(monkeypatch, capsys, {'inspect_unreachable': True, 'finding_for': causes})
    assert result['changed'] is False
    assert result['run_commands'] == {'sources': 1, 'inspections': 1}
    assert [c[0] for c in compute.calls] == ['0', '2']
    body = compute.calls[0][1]
    script = '\n'.join(body['script'])
    assert '10.0.0.4' not in script and 'api.example' not in script
    values = [p['value'] for p in body['parameters']]
    assert 'e=tls:api.example:443' in values and 'r=10.0.0.4+3:10250' in values
    assert result['summary']['unreachable_nodes'][0]['node'] == 'n2'
    assert [(f['cause'], f['status'], f['affected_nodes']) for f in result['findings']] == [
        ('ufw_blocks_10250', 'problem', ['n2']), ('iptables_blocks_10250', 'ok', []), ('egress_ports_blocked', 'ok', [])]


@pytest.mark.parametrize('args, message', [
    ({'checks': ['firewall'], 'inspect_unreachable': True}, 'inspect_unreachable needs the tcp_reachability check'),
    ({'concurrency': 0}, 'concurrency must be at least 1'),
    ({'nodes': ['ghost']}, 'unknown node(s) ghost'),
    ({'endpoints': ['10.0.0.999:10250']}, 'endpoints: invalid target IP'),
    ({'checks': ['egress'], 'egress_endpoints': [{'kind': 'tcp', 'port': 0}]}, 'cannot build the probe'),
])
def test_option_errors(monkeypatch, capsys, args, message):
    result, compute = run(monkeypatch, capsys, args)
    assert result['failed'] is True and message in result['msg'] and compute.calls == []
