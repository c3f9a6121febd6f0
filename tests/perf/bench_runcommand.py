#!/usr/bin/env python
# -*- coding: utf-8 -*-
# Copyright (c) 2026 aks.tunnel contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Run Command concurrency benchmark on the lab (root): prove "rounds, not loops".

1. A 500-node lab (2 tunnel nodes) with 2 s injected run-command latency: vmss_runcommand_probe probes
   every node's 10250 from the 2 tunnel nodes. Expected: one round, i.e. under 2 x latency + the scan.
2. vmss_runcommand_probe inspects the firewall of 50 nodes with concurrency 25. Expected: about two
   rounds, under 3 x latency.

The exit status is 0 only when both bounds are met and no inspection failed.

Both through real `ansible-playbook` runs; the figures come from the module's own `duration` (time
spent running commands) and the wall clock. Usage (as root, from the repository):

    .venv/bin/python tests/perf/bench_runcommand.py [--nodes 500] [--latency 2] [--json out.json]

Record the printed figures in docs/performance.md.
"""

from __future__ import annotations

import argparse
import json
import os
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))


def collections_root():
    parts = REPO.split(os.sep)
    if len(parts) >= 3 and parts[-3:-1] == ['ansible_collections', 'aks']:
        return os.sep.join(parts[:-3]) or os.sep
    root = os.path.join(REPO, '.tmp', 'dev')
    link = os.path.join(root, 'ansible_collections', 'aks', 'tunnel')
    if not os.path.exists(link):
        os.makedirs(os.path.dirname(link), exist_ok=True)
        os.symlink(REPO, link)
    return root


SCENARIO = '''name: bench-runcommand
description: Benchmark - {nodes} nodes, 2 tunnel nodes, no faults.
cluster: {{name: aks-bench, resource_group: rg-aks-bench, location: westeurope, tunnel: konnectivity, private: false, outbound_type: loadBalancer}}
node_pools: [{{name: nodepool1, count: 2}}, {{name: user1, count: {user}}}]
tunnel_nodes: [nodepool1-0, nodepool1-1]
konnectivity: {{replicas: 2}}
faults: {{}}
expect: {{problems: [], affected_nodes: []}}
'''

PLAYBOOK = '''- hosts: localhost
  gather_facts: false
  module_defaults:
    aks.tunnel.vmss_runcommand_probe: "{{{{ aks_tunnel_azure_auth | combine({{'kubeconfig': aks_tunnel_kubeconfig}}) }}}}"
  tasks:
    - name: Probe every kubelet from the tunnel nodes
      aks.tunnel.vmss_runcommand_probe:
        resource_group: "{{{{ aks_tunnel_resource_group }}}}"
        name: "{{{{ aks_tunnel_cluster_name }}}}"
        checks: [tcp_reachability]
        nodes: "{{{{ sources }}}}"
        parallelism: 128
      register: sweep
    - name: Inspect {inspect} nodes, {concurrency} at a time
      aks.tunnel.vmss_runcommand_probe:
        resource_group: "{{{{ aks_tunnel_resource_group }}}}"
        name: "{{{{ aks_tunnel_cluster_name }}}}"
        checks: [firewall]
        nodes: "{{{{ (sweep.results | length > 0) | ternary(inspect_nodes, []) }}}}"
        concurrency: {concurrency}
      register: inspect
    - ansible.builtin.copy:
        dest: "{{{{ out }}}}"
        content: "{{{{ {{'sweep': sweep, 'inspect': inspect}} | to_json }}}}"
'''


def admin(info, method, path, body=None):
    with open(info['admin_token_path'], encoding='utf-8') as handle:
        token = handle.read().strip()
    request = urllib.request.Request(info['url'] + '/_lab/' + path, method=method, data=json.dumps(body).encode() if body is not None else None,
                                     headers={'Authorization': 'Bearer ' + token, 'Content-Type': 'application/json'})
    context = ssl.create_default_context(cafile=info['ca_path'])
    with urllib.request.urlopen(request, context=context, timeout=30) as response:  # nosec - lab loopback only
        return json.loads(response.read())


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n', maxsplit=1)[0])
    parser.add_argument('--nodes', type=int, default=500)
    parser.add_argument('--latency', type=float, default=2.0, help='injected run-command latency in seconds (> 0)')
    parser.add_argument('--inspect', type=int, default=50)
    parser.add_argument('--concurrency', type=int, default=25)
    parser.add_argument('--json', help='write the figures to this file')
    args = parser.parse_args(argv)
    if os.geteuid() != 0:
        sys.exit('the benchmark needs root (it brings up the lab)')
    if args.latency <= 0:
        sys.exit('--latency must be > 0 (a baseline without latency is measured anyway)')
    root = collections_root()
    sys.path.insert(0, root)
    from ansible_collections.aks.tunnel.tests.lab.dataplane import lab  # pylint: disable=import-outside-toplevel
    import yaml  # pylint: disable=import-outside-toplevel

    work = tempfile.mkdtemp(prefix='aks-tunnel-bench-')
    scenario = os.path.join(work, 'bench.yaml')
    with open(scenario, 'w', encoding='utf-8') as handle:
        handle.write(SCENARIO.format(nodes=args.nodes, user=args.nodes - 2))
    state = os.path.join(work, 'lab')
    started = time.monotonic()
    lab.up(scenario, state, log=lambda m: None)
    up_secs = time.monotonic() - started
    try:
        with open(os.path.join(state, 'control.ready'), encoding='utf-8') as handle:
            arm = json.load(handle)['arm']
        with open(os.path.join(state, 'vars.yml'), encoding='utf-8') as handle:
            lab_vars = yaml.safe_load(handle)
        playbook = os.path.join(work, 'bench.yml')
        with open(playbook, 'w', encoding='utf-8') as handle:
            handle.write(PLAYBOOK.format(inspect=args.inspect, concurrency=args.concurrency))
        # the nodes to inspect: the first user1 instances; the sources: the two tunnel nodes
        from ansible_collections.aks.tunnel.tests.lab.topology import build_topology  # pylint: disable=import-outside-toplevel
        with open(scenario, encoding='utf-8') as handle:
            topo = build_topology(yaml.safe_load(handle))
        inspect_nodes = [n['name'] for n in topo['nodes'] if n['pool'] == 'user1'][:args.inspect]
        sources = [n['name'] for n in topo['nodes'] if n['pool'] == 'nodepool1'][:2]
        assert sorted(sources) == sorted(lab_vars['aks_tunnel_lab']['tunnel_nodes'])

        def measure(latency):
            admin(arm, 'POST', 'settings', {'runcommand_latency_s': latency})
            out = os.path.join(work, 'out-%s.json' % latency)
            extra = os.path.join(work, 'extra.json')
            with open(extra, 'w', encoding='utf-8') as handle:
                json.dump({'inspect_nodes': inspect_nodes, 'out': out, 'sources': sources}, handle)
            env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=root, ANSIBLE_NOCOLOR='1')
            ansible_playbook = os.path.join(os.path.dirname(sys.executable), 'ansible-playbook')
            wall = time.monotonic()
            proc = subprocess.run([ansible_playbook, playbook, '-e', '@' + os.path.join(state, 'vars.yml'), '-e', '@' + extra],
                                  capture_output=True, text=True, env=env, cwd=work, timeout=900, check=False)
            wall = time.monotonic() - wall
            if proc.returncode != 0:
                sys.exit('ansible-playbook failed:\n%s\n%s' % (proc.stdout[-4000:], proc.stderr[-2000:]))
            with open(out, encoding='utf-8') as handle:
                data = json.load(handle)
            return data['sweep'], data['inspect'], wall

        base_sweep, base_inspect, _wall = measure(0)
        sweep, inspect, wall = measure(args.latency)
        scan_secs = [r['checks']['tcp_reachability']['scan_seconds'] or 0 for r in sweep['results']]
        figures = {
            'nodes': args.nodes, 'latency_s': args.latency, 'lab_up_s': round(up_secs, 1), 'playbook_wall_s': round(wall, 1),
            'sweep': {'sources': sweep['run_commands']['sources'], 'targets': sweep['summary']['targets'],
                      'reachable': sweep['summary']['reachable'], 'duration_s': sweep['duration'],
                      'per_source_s': [r['duration'] for r in sweep['results']], 'duration_without_latency_s': base_sweep['duration'],
                      'bound_s': round(2 * args.latency + max(scan_secs), 2), 'scan_s': max(scan_secs)},
            'inspect': {'nodes': inspect['run_commands']['sources'], 'concurrency': args.concurrency, 'duration_s': inspect['duration'],
                        'duration_without_latency_s': base_inspect['duration'],
                        'latency_share_s': round(inspect['duration'] - base_inspect['duration'], 2),
                        'latency_rounds': round((inspect['duration'] - base_inspect['duration']) / args.latency, 2),
                        'per_node_s': {'min': min(r['duration'] for r in inspect['results']),
                                       'max': max(r['duration'] for r in inspect['results'])},
                        'bound_s': 3 * args.latency,
                        'errors': len([r for r in inspect['results'] if r['status'] != 'succeeded'])},
        }
        figures['sweep']['one_round'] = figures['sweep']['duration_s'] < 2 * args.latency + figures['sweep']['scan_s']
        figures['inspect']['under_3x_latency'] = figures['inspect']['duration_s'] < 3 * args.latency
        figures['inspect']['two_latency_rounds'] = figures['inspect']['latency_rounds'] < 2.5
        print(json.dumps(figures, indent=1))
        if args.json:
            with open(args.json, 'w', encoding='utf-8') as handle:
                json.dump(figures, handle, indent=1)
        # the bounds: the sweep in one round (< 2 x latency + scan), the inspections under 3 x latency, no failed run
        met = figures['sweep']['one_round'] and figures['inspect']['under_3x_latency'] and figures['inspect']['errors'] == 0
        print('bounds %s' % ('met' if met else 'NOT met'))
        return 0 if met else 1
    finally:
        lab.down(state, log=lambda m: None)


if __name__ == '__main__':
    sys.exit(main())
