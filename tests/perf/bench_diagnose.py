#!/usr/bin/env python
# -*- coding: utf-8 -*-
# Copyright (c) 2026 aks.tunnel contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Before/after benchmark of playbooks/diagnose.yml on one lab (root): same machine, same run.

Checks out BEFORE (a git ref, default the last commit before the cause registry, issue #11) into a temporary git
worktree, brings up one lab per scenario, and runs the diagnose playbook of BEFORE and of the working tree against
it, alternating, --runs times each. Prints the report stats (arm_calls, kube_calls, run_commands, duration_s) and the
wall time of each run, and the medians. Usage (as root, from the repository):

    .venv/bin/python tests/perf/bench_diagnose.py [--before b059792] [--scenario healthy --scenario scale-5000] [--runs 2]

Record the printed table in docs/performance.md.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(REPO, '.tmp', 'dev'))

from ansible_collections.aks.tunnel.tests.lab.dataplane import lab  # noqa: E402  pylint: disable=wrong-import-position

DEFAULT_BEFORE = 'b059792'
SIX = ['nsg_blocks_10250', 'ufw_blocks_10250', 'iptables_blocks_10250', 'egress_ports_blocked', 'snat_exhaustion',
       'konnectivity_agent_scaling']


def _collection_root(tree, workdir, name):
    root = os.path.join(workdir, name)
    link = os.path.join(root, 'ansible_collections', 'aks', 'tunnel')
    os.makedirs(os.path.dirname(link), exist_ok=True)
    os.symlink(tree, link)
    return root


def _diagnose(root, vars_file, workdir, label, extra=()):
    report_dir = os.path.join(workdir, 'report-%s-%d' % (label, time.monotonic_ns()))
    cfg = os.path.join(workdir, 'ansible.cfg')
    if not os.path.exists(cfg):
        with open(cfg, 'w', encoding='utf-8') as handle:
            handle.write('[defaults]\nstdout_callback = default\n')
    playbook = os.path.join(root, 'ansible_collections', 'aks', 'tunnel', 'playbooks', 'diagnose.yml')
    command = [os.path.join(os.path.dirname(sys.executable), 'ansible-playbook'), playbook, '-e', '@' + vars_file,
               '-e', 'aks_tunnel_report_dir=' + report_dir, '-e', 'aks_tunnel_fail_on_problem=false',
               '-e', 'aks_tunnel_fail_on_unknown=false'] + list(extra)
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=root, ANSIBLE_CONFIG=cfg, ANSIBLE_NOCOLOR='1', PYTHONDONTWRITEBYTECODE='1')
    started = time.monotonic()
    proc = subprocess.run(command, cwd=workdir, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, check=False)
    wall = time.monotonic() - started
    path = os.path.join(report_dir, 'report.json')
    if proc.returncode != 0 or not os.path.exists(path):
        raise SystemExit('%s diagnose failed (rc %s):\n%s' % (label, proc.returncode, proc.stdout[-3000:]))
    with open(path, encoding='utf-8') as handle:
        report = json.load(handle)
    return dict(report['stats'], wall_s=round(wall, 1), problems=report['problems'])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--before', default=DEFAULT_BEFORE, help='git ref of the "before" code (default %(default)s)')
    parser.add_argument('--scenario', action='append', help='lab scenario(s) (default healthy)')
    parser.add_argument('--runs', type=int, default=2, help='runs of each side per scenario (default %(default)s)')
    parser.add_argument('--json', help='write the raw results here')
    parser.add_argument('--no-warmup', action='store_true', help='skip the warm-up run of each side (large labs)')
    parser.add_argument('--same-checks', action='store_true',
                        help='run only the causes BEFORE had (the first six) on the working tree too: compares like with like')
    args = parser.parse_args()
    if os.geteuid() != 0:
        raise SystemExit('run as root: the lab uses network namespaces')
    scenarios = args.scenario or ['healthy']
    results = {}
    with tempfile.TemporaryDirectory(prefix='aks-tunnel-bench-') as workdir:
        before_tree = os.path.join(workdir, 'before-tree')
        subprocess.run(['git', '-C', REPO, 'worktree', 'add', '--detach', before_tree, args.before], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            roots = {'before': _collection_root(before_tree, workdir, 'before'), 'after': _collection_root(REPO, workdir, 'after')}
            for scenario in scenarios:
                state = os.path.join(workdir, 'lab-' + scenario)
                lab.up(scenario, state, log=lambda _m: None)
                try:
                    vars_file = os.path.join(state, 'vars.yml')
                    extra = {'before': (), 'after': ('-e', json.dumps({'aks_tunnel_checks': SIX})) if args.same_checks else ()}
                    for side in () if args.no_warmup else ('before', 'after'):
                        _diagnose(roots[side], vars_file, workdir, side, extra[side])   # warm-up: caches, first token
                    for _run in range(args.runs):
                        for side in ('before', 'after'):
                            results.setdefault(scenario, {}).setdefault(side, []).append(
                                _diagnose(roots[side], vars_file, workdir, side, extra[side]))
                finally:
                    lab.down(state, log=lambda _m: None)
        finally:
            subprocess.run(['git', '-C', REPO, 'worktree', 'remove', '--force', before_tree], check=False)
    print('| scenario | code | arm_calls | kube_calls | run_commands | report duration_s (median) | wall s (median) |')
    print('|---|---|---|---|---|---|---|')
    for scenario, sides in results.items():
        for side, runs in sides.items():
            label = ('after (the six causes)' if args.same_checks else 'after') if side == 'after' else 'before (%s)' % args.before
            print('| %s | %s | %s | %s | %s | %.1f | %.1f |' % (
                scenario, label, runs[-1]['arm_calls'], runs[-1]['kube_calls'], runs[-1]['run_commands'],
                statistics.median(r['duration_s'] for r in runs), statistics.median(r['wall_s'] for r in runs)))
    if args.json:
        with open(args.json, 'w', encoding='utf-8') as handle:
            json.dump(results, handle, indent=2)


if __name__ == '__main__':
    main()
