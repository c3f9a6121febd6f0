# -*- coding: utf-8 -*-
# Copyright (c) 2026 aks.tunnel contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""nsg_port_rule on the lab scenario nsg-jumpbox-deny (issue 13, item 4), with real packets.

The NIC NSG denies 10250 from a jumpbox subnet (priority 300, not on the tunnel path) and, further down, from anywhere to
the user1 nodes (priority 400). The repair, fed with what nsg_port_check found, adds its Allow just above the Deny at 400
for the node subnet only: the tunnel nodes reach the user1 kubelets again while a connection from a jumpbox address
(10.241.64.10, added to the lab router's LAN port, so its SYN crosses the emulated NSG like any other) stays dropped by the
jumpbox Deny. Check mode, idempotency, the etag (If-Match) accepted by ARM, and undo through the module back to the original NSG.
"""

from __future__ import annotations

import subprocess
import sys
import time

import pytest

from ansible_collections.aks.tunnel.tests.integration.modules_network.network_lab import run_playbook, short_names
from ansible_collections.aks.tunnel.tests.integration.modules_network.test_network_modules_lab import DETECT

pytestmark = pytest.mark.lab

SCENARIO = 'nsg-jumpbox-deny'
JUMPBOX_IP = '10.241.64.10'


REPAIR = '''
- hosts: localhost
  gather_facts: false
  module_defaults:
    aks.tunnel.nsg_port_rule: "{{ aks_tunnel_azure_auth }}"
  tasks:
    - {name: Rule check mode, aks.tunnel.nsg_port_rule: "{{ rule_args }}", check_mode: true, diff: true, register: r1}
    - {name: Rule, aks.tunnel.nsg_port_rule: "{{ rule_args }}", register: r2}
    - {name: Rule check mode again, aks.tunnel.nsg_port_rule: "{{ rule_args }}", check_mode: true, register: r3}
    - {name: Rule again, aks.tunnel.nsg_port_rule: "{{ rule_args }}", register: r4}
    - name: Dump
      ansible.builtin.copy:
        dest: "{{ out }}"
        content: "{{ [r1, r2, r3, r4] | to_json }}"
'''

UPDATE_AND_UNDO = '''
- hosts: localhost
  gather_facts: false
  module_defaults:
    aks.tunnel.nsg_port_rule: "{{ aks_tunnel_azure_auth }}"
  tasks:
    - {name: Narrow the rule to the node IPs (an update with If-Match), aks.tunnel.nsg_port_rule: "{{ narrow_args }}", register: u1}
    - {name: Undo the update, aks.tunnel.nsg_port_rule: "{{ u1.undo }}", register: u2}
    - {name: Undo the creation, aks.tunnel.nsg_port_rule: "{{ created_undo }}", register: u3}
    - name: Dump
      ansible.builtin.copy:
        dest: "{{ out }}"
        content: "{{ [u1, u2, u3] | to_json }}"
'''

CONNECT = '''
import socket, sys
sock = socket.socket()
sock.settimeout(float(sys.argv[3]))
sock.bind((sys.argv[1], 0))
try:
    sock.connect((sys.argv[2], 10250))
    print('open')
except socket.timeout:
    print('timeout')
except OSError as exc:
    print('error %s' % exc)
'''


class DataPlane:
    """TCP connects inside the lab's namespaces (node namespaces and the router, whose LAN port joins the NSG bridge)."""

    def __init__(self, state_dir):
        from ansible_collections.aks.tunnel.tests.lab.dataplane.record import LabRecord  # pylint: disable=import-outside-toplevel
        self.plan = LabRecord.load(state_dir).get('plan')
        self.ips = dict((node['short'], node['ip']) for node in self.plan['nodes'].values())

    def netns_of(self, ip):
        if ip in (self.plan['gateway'], JUMPBOX_IP):
            return self.plan['router_ns']
        return next(ns['name'] for ns in self.plan['namespaces'] if ip in ns['ips'])

    def connect(self, source_ip, destination_ip, timeout=1.5):
        proc = subprocess.run(['ip', 'netns', 'exec', self.netns_of(source_ip), sys.executable, '-c', CONNECT, source_ip, destination_ip,
                               str(timeout)], capture_output=True, text=True, timeout=30, check=False)
        assert proc.returncode == 0, proc.stderr
        return proc.stdout.strip()

    def add_jumpbox(self):
        subprocess.run(['ip', 'netns', 'exec', self.plan['router_ns'], 'ip', 'addr', 'add', JUMPBOX_IP + '/32', 'dev', 'lan0'],
                       capture_output=True, text=True, timeout=30, check=True)

    def matrix(self):
        """{(source, destination short name): open|timeout} for the flows this test cares about."""
        tunnel = self.ips['nodepool1-0']
        flows = {('tunnel', 'user1-0'): tunnel, ('tunnel', 'user1-1'): tunnel, ('tunnel', 'nodepool1-2'): tunnel,
                 ('jumpbox', 'user1-0'): JUMPBOX_IP, ('jumpbox', 'nodepool1-2'): JUMPBOX_IP,
                 ('gateway', 'user1-0'): self.plan['gateway'], ('gateway', 'nodepool1-2'): self.plan['gateway']}
        return dict((key, self.connect(source, self.ips[key[1]])) for key, source in flows.items())

    def wait_matrix(self, expected, seconds=10):
        """The emulator applies NSG changes to the bridge asynchronously (within about 2 s)."""
        deadline = time.monotonic() + seconds
        while True:
            seen = self.matrix()
            if seen == expected or time.monotonic() > deadline:
                return seen
            time.sleep(0.3)


def rules_of(lab, nsg_name):
    """The NSG's user rules as the engine sees them (etags and ids aside)."""
    from ansible_collections.aks.tunnel.plugins.module_utils import _nsg  # pylint: disable=import-outside-toplevel
    rules = lab.admin('GET', 'nsgs/%s/securityRules' % nsg_name)
    rules = rules.get('value', rules) if isinstance(rules, dict) else rules
    return sorted((r['name'], sorted((k, str(v)) for k, v in _nsg.normalize_rule(r).items() if k != 'id')) for r in rules)


BEFORE = {('tunnel', 'user1-0'): 'timeout', ('tunnel', 'user1-1'): 'timeout', ('tunnel', 'nodepool1-2'): 'open',
          ('jumpbox', 'user1-0'): 'timeout', ('jumpbox', 'nodepool1-2'): 'timeout',
          ('gateway', 'user1-0'): 'timeout', ('gateway', 'nodepool1-2'): 'open'}
# Repaired: the node subnet (the tunnel nodes, and the gateway which lies in it) reaches every kubelet; the jumpbox none.
REPAIRED = {**BEFORE, ('tunnel', 'user1-0'): 'open', ('tunnel', 'user1-1'): 'open', ('gateway', 'user1-0'): 'open'}


def test_scoped_allow_opens_the_tunnel_and_keeps_the_jumpbox_denied(lab_factory, tmp_path):
    lab = lab_factory(SCENARIO)
    plane = DataPlane(lab.state_dir)
    plane.add_jumpbox()
    assert plane.wait_matrix(BEFORE) == BEFORE

    detect = run_playbook(tmp_path, DETECT, lab.vars_file, {'identity': 'contributor'})
    names = short_names(detect['info'])
    finding = detect['nsg']['finding']
    assert finding['status'] == 'problem' and sorted(names[n] for n in finding['affected_nodes']) == ['user1-0', 'user1-1']
    assert [b['rule'] for b in detect['nsg']['blocking_rules']] == ['deny-kubelet-node-to-node']
    [entry] = finding['remediation']['nsg_rules']
    assert (entry['blocking_rule'], entry['blocking_priority'], entry['direction']) == ('deny-kubelet-node-to-node', 400, 'Inbound')
    assert entry['source_prefixes'] == entry['destination_prefixes'] == ['10.240.0.0/16']
    nsg_name = entry['nsg']
    original = rules_of(lab, nsg_name)

    # What roles/nsg/tasks/remediate.yml passes (scope: subnets).
    rule_args = {'resource_group': entry['resource_group'], 'nsg': entry['nsg_id'], 'direction': entry['direction'], 'port': entry['port'],
                 'protocol': entry['protocol'], 'source_prefixes': entry['source_prefixes'], 'destination_prefixes': entry['destination_prefixes'],
                 'flow_sources': entry['flow_sources'], 'flow_destinations': entry['flow_destinations'], 'vnet_prefixes': entry['vnet_prefixes']}
    r1, r2, r3, r4 = run_playbook(tmp_path, REPAIR, lab.vars_file, {'rule_args': rule_args})
    assert (r1['changed'], r1['action'], r1['previous']) == (True, 'created', {})
    assert r1['diff']['before'] == {} and r1['diff']['after']['priority'] == 398
    assert r2['changed'] is True and r2['rule']['priority'] == 398
    assert (r2['rule']['sourceAddressPrefix'], r2['rule']['destinationAddressPrefix'], r2['rule']['destinationPortRange']) == \
        ('10.240.0.0/16', '10.240.0.0/16', '10250')
    assert r2['rule']['description'].endswith('[aks.tunnel]')
    assert [(b['name'], b['priority']) for b in r2['blocking_rules']] == [('deny-kubelet-node-to-node', 400)]
    assert r2['undo'] == {'nsg': entry['nsg_id'], 'rule_name': 'allow-aks-tunnel-10250', 'state': 'absent'}
    assert (r3['changed'], r3['action']) == (False, 'none')
    assert (r4['changed'], r4['action'], r4['rule']['priority']) == (False, 'none', 398)

    # real packets: the tunnel reaches the user1 kubelets, the jumpbox still reaches no kubelet
    assert plane.wait_matrix(REPAIRED) == REPAIRED
    # the diagnosis agrees, and every other rule is as it was
    again = run_playbook(tmp_path, DETECT, lab.vars_file, {'identity': 'contributor'})
    assert again['nsg']['finding']['status'] == 'ok'
    repaired = rules_of(lab, nsg_name)
    assert [r for r in repaired if r[0] != 'allow-aks-tunnel-10250'] == original

    # An update (scope narrowed to the node IPs) goes through with the rule's etag; its undo, then the creation's undo,
    # each a plain module call, bring the NSG back to the repaired and then to the original state.
    narrow_args = dict(rule_args, source_prefixes=entry['source_ips'], destination_prefixes=entry['destination_ips'])
    u1, u2, u3 = run_playbook(tmp_path, UPDATE_AND_UNDO, lab.vars_file, {'narrow_args': narrow_args, 'created_undo': r2['undo']})
    assert (u1['changed'], u1['action']) == (True, 'updated')
    assert u1['changed_properties'] == ['sourceAddressPrefixes', 'destinationAddressPrefixes'], u1
    assert u1['undo']['source_prefixes'] == ['10.240.0.0/16'] and u1['undo']['priority'] == 398
    assert (u2['changed'], u2['action']) == (True, 'updated') and u2['rule']['sourceAddressPrefix'] == '10.240.0.0/16'
    assert (u3['changed'], u3['action']) == (True, 'deleted')
    assert rules_of(lab, nsg_name) == original
    assert plane.wait_matrix(BEFORE) == BEFORE


ONE_RULE = '''
- hosts: localhost
  gather_facts: false
  module_defaults:
    aks.tunnel.nsg_port_rule: "{{ aks_tunnel_azure_auth }}"
  tasks:
    - {name: Rule, aks.tunnel.nsg_port_rule: "{{ rule_args }}", register: r, ignore_errors: true}
    - name: Dump
      ansible.builtin.copy:
        dest: "{{ out }}"
        content: "{{ r | to_json }}"
'''


def test_a_rule_changed_meanwhile_gives_412_and_a_foreign_rule_is_left_alone(lab_factory, tmp_path):
    """The update's PUT is throttled once (Retry-After 3 s); while the SDK waits, the rule is rewritten (new etag) through
    the emulator's admin API, so the retried PUT carries a stale If-Match: ARM answers 412 and nothing is overwritten."""
    import threading  # pylint: disable=import-outside-toplevel

    lab = lab_factory(SCENARIO)
    detect = run_playbook(tmp_path, DETECT, lab.vars_file, {'identity': 'contributor'})
    [entry] = detect['nsg']['finding']['remediation']['nsg_rules']
    nsg_name = entry['nsg']
    rule_args = {'nsg': entry['nsg_id'], 'source_prefixes': entry['source_prefixes'], 'destination_prefixes': entry['destination_prefixes'],
                 'flow_sources': entry['flow_sources'], 'flow_destinations': entry['flow_destinations']}
    (tmp_path / 'create').mkdir()
    created = run_playbook(tmp_path / 'create', ONE_RULE, lab.vars_file, {'rule_args': rule_args})
    assert created['action'] == 'created', created

    lab.admin('POST', 'faults', {'faults': [{'type': 'throttle', 'on': 'write', 'count': 1, 'retry_after': 3}]})
    rewritten = {}

    def rewrite_when_throttled():
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if not lab.admin('GET', 'faults')['faults']:
                rules = lab.admin('GET', 'nsgs/%s/securityRules' % nsg_name)['value']
                rewritten['rules'] = lab.admin('PUT', 'nsgs/%s/securityRules' % nsg_name, {'security_rules': rules})['value']
                return
            time.sleep(0.05)

    watcher = threading.Thread(target=rewrite_when_throttled, daemon=True)
    watcher.start()
    narrow = dict(rule_args, source_prefixes=entry['source_ips'], destination_prefixes=entry['destination_ips'])
    (tmp_path / 'update').mkdir()
    stale = run_playbook(tmp_path / 'update', ONE_RULE, lab.vars_file, {'rule_args': narrow})
    watcher.join(10)
    assert rewritten, 'the throttled PUT was never seen'
    assert stale['failed'] is True and stale['changed'] is False and stale['status'] == 412, stale
    assert 'the rule changed since it was read; run again' in stale['msg']
    ours = next(r for r in lab.admin('GET', 'nsgs/%s/securityRules' % nsg_name)['value'] if r['name'] == 'allow-aks-tunnel-10250')
    assert ours['properties']['sourceAddressPrefix'] == '10.240.0.0/16'  # not narrowed

    # A same-name rule that aks.tunnel did not create (no marker) is neither overwritten nor deleted.
    rules = lab.admin('GET', 'nsgs/%s/securityRules' % nsg_name)['value']
    for rule in rules:
        if rule['name'] == 'allow-aks-tunnel-10250':
            rule['properties']['description'] = 'kubelet access for the monitoring subnet (network team)'
    lab.admin('PUT', 'nsgs/%s/securityRules' % nsg_name, {'security_rules': rules})
    before = rules_of(lab, nsg_name)
    for state in ('present', 'absent'):
        (tmp_path / state).mkdir()
        refused = run_playbook(tmp_path / state, ONE_RULE, lab.vars_file, {'rule_args': dict(narrow, state=state)})
        assert refused['failed'] is True and refused['changed'] is False and 'was not created by aks.tunnel' in refused['msg'], refused
    assert rules_of(lab, nsg_name) == before
    # leave the lab as the scenario defines it
    lab.admin('PUT', 'nsgs/%s/securityRules' % nsg_name, {'security_rules': [r for r in rules if r['name'] != 'allow-aks-tunnel-10250']})
