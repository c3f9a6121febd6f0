# -*- coding: utf-8 -*-
# Copyright (c) 2026 aks.tunnel contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Every lab node starts with an AKS node's own firewall (tests/lab/dataplane/baseline.py: kube-proxy's chains,
KUBE-FIREWALL, the Azure wireserver rules), and on such nodes the diagnosis still finds exactly each scenario's
firewall causes and the repair still deletes only the blocking rule.

The diagnosis side runs the collection's node inspection (`_probe_scripts` `inspect`, what vmss_runcommand_probe runs)
and the repair side node_firewall's inspection and plan (`_firewall_fix`), both with the lab's Run Command executor in
the node namespaces. The first tests need no root.
"""

from __future__ import annotations

import copy
import os
import subprocess

import pytest

from ansible_collections.aks.tunnel.plugins.module_utils import _firewall_fix as ff
from ansible_collections.aks.tunnel.plugins.module_utils import _firewall_parsers as fw
from ansible_collections.aks.tunnel.plugins.module_utils import _probe_scripts as probes
from ansible_collections.aks.tunnel.tests.lab import scenario as scenario_mod
from ansible_collections.aks.tunnel.tests.lab.dataplane import baseline, lab
from ansible_collections.aks.tunnel.tests.lab.dataplane import plan as plan_mod
from ansible_collections.aks.tunnel.tests.lab.dataplane.executor import NetnsExecutor
from ansible_collections.aks.tunnel.tests.lab.topology import build_topology

API_IP = '198.51.100.100'
FIREWALL_CAUSES = {'iptables_blocks_10250': 'iptables', 'ufw_blocks_10250': 'ufw'}
BASE = {'name': 'unit', 'cluster': {'name': 'aks-lab', 'resource_group': 'rg-aks-lab'}, 'node_pools': [{'name': 'nodepool1', 'count': 2}]}


def _quiet(_message):
    return None


@pytest.mark.parametrize('version, mark_drop', [('1.27.9', True), ('v1.27.0', True), ('1.28.0', False), ('1.31.2', False)])
def test_kube_firewall_follows_the_kubelet_version(version, mark_drop):
    rules = [rule for _table, rule in baseline.rule_lines(version, API_IP)]
    assert any('--mark 0x8000/0x8000 -j DROP' in r for r in rules) is mark_drop
    assert ('-A KUBE-MARK-DROP -j MARK --set-xmark 0x8000/0x8000' in rules) is mark_drop
    assert sum('block incoming localnet connections' in r for r in rules) == 1  # kube-proxy keeps it from 1.28 on
    assert '-A FORWARD -d 168.63.129.16/32 -p tcp -m tcp --dport 80 -j DROP' in rules
    assert '-A FORWARD -d 168.63.129.16/32 -p tcp -m tcp --dport 32526 -j DROP' in rules
    assert ('security', '-A OUTPUT -d 168.63.129.16/32 -p tcp -m conntrack --ctstate INVALID,NEW -j DROP') in baseline.rule_lines(version, API_IP)
    chains = baseline.chain_lines(version, API_IP)
    for table in ('filter', 'nat', 'mangle'):
        assert (table, 'KUBE-KUBELET-CANARY') in chains
    for chain in ('KUBE-SERVICES', 'KUBE-EXTERNAL-SERVICES', 'KUBE-NODEPORTS', 'KUBE-FORWARD', 'KUBE-PROXY-FIREWALL', 'KUBE-FIREWALL'):
        assert ('filter', chain) in chains
    # kube-proxy's hash of the default/kubernetes:https service, as on every cluster
    assert ('nat', 'KUBE-SVC-NPX46M4PTMTKRN6Y') in chains


@pytest.mark.parametrize('version', ['1.27.9', '1.31.2'])
def test_the_collection_judges_the_bare_baseline_harmless_to_the_tunnel(version):
    listing = '\n'.join(['-P INPUT ACCEPT', '-P FORWARD ACCEPT', '-P OUTPUT ACCEPT']
                        + ['-N %s' % chain for table, chain in baseline.chain_lines(version, API_IP) if table == 'filter']
                        + [rule for table, rule in baseline.rule_lines(version, API_IP) if table == 'filter'])
    verdict = fw.decide_10250_block(iptables=listing)
    assert (verdict['blocked_by'], verdict['rules'], verdict['conditional']) == (None, [], False), verdict


@pytest.mark.parametrize('name', scenario_mod.available())
def test_every_catalogue_scenario_gets_the_baseline(name):
    scenario = scenario_mod.load(name)
    topology = build_topology(scenario)
    plan = plan_mod.make_plan(scenario, topology, 'akl0000', scenario_mod.tunnel_nodes(scenario, topology))
    assert plan['baseline_firewall'] is True, 'a catalogue scenario opts out of the baseline firewall only with a reason'


def test_opting_out_needs_a_reason():
    data = copy.deepcopy(BASE)
    data['dataplane'] = {'baseline_firewall': False}
    with pytest.raises(scenario_mod.ScenarioError, match="baseline_opt_out_reason' is a required property"):
        scenario_mod.validate(data)
    data['dataplane']['baseline_opt_out_reason'] = 'a bare node for a parser test'
    scenario = scenario_mod.validate(data)
    topology = build_topology(scenario)
    plan = plan_mod.make_plan(scenario, topology, 'akl0000', scenario_mod.tunnel_nodes(scenario, topology))
    assert plan['baseline_firewall'] is False


# ---- live (root) ----------------------------------------------------------------------------------------------------

def _iptables_save(plan, ns):
    out = subprocess.run(['ip', 'netns', 'exec', ns, 'iptables-save'], capture_output=True, text=True, check=True).stdout
    rules, table = set(), None
    for line in out.splitlines():
        if line.startswith('*'):
            table = line[1:]
        elif line.startswith('-A '):
            rules.add((table, line))
    return rules


def _inspect(executor, node_name, run_id):
    """What a diagnosis sees: the node inspection of vmss_runcommand_probe and its verdict."""
    script, params = probes.build_probe(['inspect'], inspect_port=10250, run_id=run_id)
    out, err = executor.run({'name': node_name}, script, params, 120)
    result = probes.parse_probe_output(out.decode(), run_id=run_id)
    assert result['complete'], (out, err)
    return result['firewall']['verdict']


def _fix_plan(executor, node_name, node_ip, sources, run_id):
    """What node_firewall plans: its inspection, the state and the actions."""
    params = ff.build_fix_parameters(run_id=run_id, sources=sources, node_ip=node_ip)
    out, err = executor.run({'name': node_name}, ff.FIX_SCRIPT, params, 120)
    parsed = ff.parse_fix_output(out.decode(), run_id=run_id)
    assert parsed['complete'] and not parsed['error'], (out, err)
    context = ff.context_from_sections(parsed['sections'], sources=sources, node_ip=node_ip)
    state = ff.firewall_state(parsed['sections'], context=context)
    actions, unresolved = ff.plan_actions(state, parsed['sections'], sources=sources)
    return state, actions, unresolved, context


def _without_baseline(scenario):
    data = {k: v for k, v in copy.deepcopy(scenario).items() if k != 'source'}
    data['dataplane'] = dict(data.get('dataplane') or {}, baseline_firewall=False,
                             baseline_opt_out_reason='the same scenario on bare nodes, for comparison')
    return scenario_mod.validate(data)


def _unreachable(plan, executor):
    """Nodes whose kubelet does not answer TCP 10250 from the first tunnel node (the ones a diagnosis inspects)."""
    nodes = sorted(plan['nodes'].items(), key=lambda kv: tuple(int(x) for x in kv[1]['ip'].split('.')))
    targets = [(node['ip'], 10250) for _name, node in nodes]
    script, params = probes.build_probe(['connect'], targets=targets, timeout=1, parallelism=64)
    out, err = executor.run({'name': plan['tunnel_nodes'][0]}, script, params, 300)
    result = probes.parse_probe_output(out.decode(), targets=targets)
    assert result['complete'], (out, err)
    by_ip = {node['ip']: name for name, node in nodes}
    return {by_ip[key.split(':')[0]] for key, status in result['targets'].items() if status != 'succeeded'}


def _verdicts(tmp_path, scenario, tag):
    """The unreachable nodes and {namespace's first node: (blocked_by, rules, conditional)} of the diagnosis' inspection
    of every node namespace (a diagnosis inspects only the unreachable ones; here all are compared)."""
    state = str(tmp_path / tag)
    record = lab.up(scenario, state, log=_quiet, control=False)
    try:
        plan = record.get('plan')
        executor = NetnsExecutor(plan)
        base_rules = set(baseline.rule_lines(plan['kubernetes_version'], API_IP))
        verdicts = {}
        for entry in plan['namespaces']:
            node_name = entry['nodes'][0]  # one firewall per namespace (scale mode: a shared one holds many nodes)
            assert (base_rules <= _iptables_save(plan, entry['name'])) is plan['baseline_firewall'], node_name
            verdict = _inspect(executor, node_name, '%s%d' % (tag, len(verdicts)))
            verdicts[node_name] = (verdict['blocked_by'], verdict['rules'], verdict['conditional'])
        return _unreachable(plan, executor), verdicts
    finally:
        lab.down(state, log=_quiet)


# Only the scenarios with something on the nodes (a firewall, nft, a kubelet fault, an inspection that fails), healthy and
# nsg-deny-10250 (a node unreachable for a reason outside it) are compared on and off: the other scenarios' nodes are
# healthy's (their faults live in ARM, the router or the emulators), and every lab node carries the baseline anyway, so
# every playbook and module test judges baseline nodes.
NODE_FAULTS = ('iptables', 'ufw', 'nft', 'kubelet_down', 'kubelet_plain_http', 'inspection_fails')


def _node_level(name):
    faults = scenario_mod.load(name).get('faults') or {}
    return name in ('healthy', 'nsg-deny-10250') or any(faults.get(key) for key in NODE_FAULTS)


@pytest.mark.lab
@pytest.mark.xdist_group('lab_dataplane')
# scale-5000 (healthy, 5000 kubelets) is left out: probing 5000 kubelets twice costs a minute; its 16 namespaces get the
# same baseline (test_every_catalogue_scenario_gets_the_baseline) and test_lab_scale.py probes them all. The udr-* scenarios
# (issue 16) differ from healthy / egress-9000-blocked only beyond the router (their nodes are those of egress-9000-blocked):
# tests/integration/modules_network/test_egress_firewall_lab.py probes them. private-dns-unlinked differs from private-cluster
# only in the nodes' hosts file (tests/integration/modules_kube_access/test_private_endpoint_lab.py probes it).
@pytest.mark.parametrize('name', [n for n in scenario_mod.available() if n != 'scale-5000' and _node_level(n)])
def test_on_baseline_nodes_the_diagnosis_finds_exactly_the_scenarios_firewall_causes(tmp_path, name):
    scenario = scenario_mod.load(name)
    expected = scenario_mod.expected(scenario)
    wanted = {}
    for cause, tool in FIREWALL_CAUSES.items():
        if cause in expected['problems']:
            for entry in scenario['faults'][tool]:
                wanted.setdefault(entry['node'], set()).add(tool)
    unreachable, verdicts = _verdicts(tmp_path, scenario, 'on')
    # what a diagnosis reports: an unreachable node whose inspection names the firewall
    found = {node: {verdicts[node][0]} for node in unreachable if node in verdicts and verdicts[node][0] in ('iptables', 'ufw')}
    assert found == wanted
    assert sorted(unreachable) == sorted(n for n in expected['affected_nodes'] if n in unreachable)
    # and the same nodes fail, each with exactly the verdict it gives without the baseline (same rules, same certainty)
    assert (unreachable, verdicts) == _verdicts(tmp_path, _without_baseline(scenario), 'off')


@pytest.mark.lab
@pytest.mark.xdist_group('lab_dataplane')
@pytest.mark.parametrize('name, short', [('iptables-drop', 'nodepool1-2'), ('iptables-hardened', 'user1-0'), ('all-faults', 'user1-0')])
def test_a_repair_deletes_only_the_blocking_rule_and_every_baseline_rule_stays(tmp_path, name, short):
    scenario = scenario_mod.load(name)
    run_id = 'bl-' + name
    record = lab.up(scenario, str(tmp_path / 'lab'), log=_quiet, control=False)
    try:
        plan = record.get('plan')
        executor = NetnsExecutor(plan)
        node_name = next(n for n, node in plan['nodes'].items() if node['short'] == short)
        node = plan['nodes'][node_name]
        before = _iptables_save(plan, node['ns'])
        base_rules = set(baseline.rule_lines(plan['kubernetes_version'], API_IP))
        assert base_rules <= before
        sources = [plan['subnet']]  # node_firewall's default: the node subnet the tunnel nodes live in
        _state, actions, unresolved, _context = _fix_plan(executor, node_name, node['ip'], sources, run_id)
        assert unresolved == [] and actions, actions
        fault_rules = [r for e in scenario['faults']['iptables'] if e['node'] == node_name for r in e['rules']]
        for action in actions:  # only rules the scenario injected, never a baseline rule
            assert action['type'] == 'iptables_delete' and ('filter', action['spec']) not in base_rules, action
        specs = [a['spec'] for a in actions]
        params = ff.build_fix_parameters(run_id=run_id, apply=True, delete_specs=specs, sources=sources)
        out, _err = executor.run({'name': node_name}, ff.FIX_SCRIPT, params, 120)
        done = ff.parse_fix_output(out.decode(), run_id=run_id)
        assert [a['rc'] for a in done['actions']] == [0] * len(specs), done
        after = _iptables_save(plan, node['ns'])
        assert before - after == {('filter', spec) for spec in specs}, 'the repair deleted more than the planned rules'
        assert base_rules <= after, sorted(base_rules - after)
        assert after - before == set()
        assert fault_rules  # the scenario did inject rules there
        state, actions, unresolved, _context = _fix_plan(executor, node_name, node['ip'], sources, run_id + 'w')
        assert (state['blocked_by'], actions, unresolved) == (None, [], [])  # idempotent: nothing left to do
        try:
            os.remove('/var/lib/aks-tunnel/iptables-%s.rules' % run_id)
        except FileNotFoundError:
            pass
    finally:
        lab.down(str(tmp_path / 'lab'), log=_quiet)
