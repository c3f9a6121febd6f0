# -*- coding: utf-8 -*-
# Copyright (c) 2026 aks.tunnel contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""labctl: bring the local AKS lab up or down, or show its status (needs root).

  tests/lab/labctl up --scenario healthy [--state .lab]
  tests/lab/labctl status [--state .lab] [--json]
  tests/lab/labctl down [--state .lab]
  tests/lab/labctl scenarios

`up` writes STATE/vars.yml for `ansible-playbook playbooks/diagnose.yml -e @.lab/vars.yml`; under sudo, the state
directory, vars.yml, the kubeconfigs and the CA belong to the user who ran sudo (SUDO_UID/SUDO_GID), so those
commands run without sudo.
"""

import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))


def _reexec_with_venv():
    """Run under the repository's .venv when it exists (the daemons inherit this interpreter)."""
    venv_python = os.path.join(REPO, '.venv', 'bin', 'python')
    if os.path.exists(venv_python) and os.path.abspath(sys.prefix) != os.path.join(REPO, '.venv'):
        os.execv(venv_python, [venv_python, os.path.abspath(__file__)] + sys.argv[1:])
    try:
        import cryptography  # noqa: F401 pylint: disable=unused-import,import-outside-toplevel
        import jsonschema  # noqa: F401 pylint: disable=unused-import,import-outside-toplevel
        import yaml  # noqa: F401 pylint: disable=unused-import,import-outside-toplevel
    except ImportError:
        sys.exit('labctl needs cryptography, jsonschema and pyyaml: run `make setup` (creates .venv) or install them')


def _bootstrap_path():
    """Import the lab as ansible_collections.aks.tunnel.tests.lab, creating .tmp/dev when needed."""
    parts = os.path.abspath(REPO).split(os.sep)
    if len(parts) >= 3 and parts[-3:-1] == ['ansible_collections', 'aks'] and parts[-1] == 'tunnel':
        root = os.sep.join(parts[:-3]) or os.sep
    else:
        root = os.path.join(REPO, '.tmp', 'dev')
        link = os.path.join(root, 'ansible_collections', 'aks', 'tunnel')
        if not os.path.exists(link):
            os.makedirs(os.path.dirname(link), exist_ok=True)
            os.symlink(REPO, link)
    if root not in sys.path:
        sys.path.insert(0, root)
    os.environ['PYTHONPATH'] = os.pathsep.join([root] + [p for p in os.environ.get('PYTHONPATH', '').split(os.pathsep) if p])


def _print_status(info):
    state = 'READY' if info['ready'] else 'NOT READY'
    print('lab %s  scenario %s  %s  state %s' % (info['prefix'], info['scenario'], state, info['state_dir']))
    api = info['api_server']
    print('ARM %s   Kubernetes %s   API server %s (%s)' % (info['arm_url'], info['kube_url'], api['fqdn'], api['ip']))
    blocked = ', '.join('%s/%s' % (b['port'], b['protocol']) for b in info['egress_blocked'] or []) or '-'
    print('egress blocked: %s   TLS inspection (ALPN stripped): %s' % (blocked, info['alpn_stripped']))
    for rule in info['nsg_rules']:
        ports = rule.get('destination_port_range', rule.get('destination_port_ranges', '*'))
        fields = (rule['nsg'], rule['name'], rule['direction'], rule['access'], rule['protocol'], rule['priority'], ports)
        print('NSG rule (%s NSG): %s %s %s %s prio %s dport %s' % fields)
    print('%-40s %-14s %-15s %-6s %-6s %s' % ('NODE', 'SHORT', 'IP', 'KUBLT', 'TUNNEL', 'NAMESPACE / FAULTS'))
    shown = info['nodes'] if len(info['nodes']) <= 60 else info['nodes'][:20] + [n for n in info['nodes'][20:] if n['faults'] or n['tunnel']]
    for node in shown:
        missing = '' if node['ns_exists'] else ' (MISSING)'
        fields = (node['name'], node['short'], node['ip'], node['kubelet'], 'yes' if node['tunnel'] else '', node['ns'], missing,
                  ','.join(node['faults']))
        print('%-40s %-14s %-15s %-6s %-6s %s%s %s' % fields)
    if len(shown) < len(info['nodes']):
        print('... %d more healthy nodes' % (len(info['nodes']) - len(shown)))
    for proc in info['processes']:
        print('process %-9s pid %-8d %s' % (proc['role'], proc['pid'], 'running' if proc['alive'] else 'GONE'))
    print('vars: %s' % info['vars'])


def _print_env(state, with_az):
    """export lines for kubectl (KUBECONFIG, the lab's kubectl first on PATH) and az (a logged-in AZURE_CONFIG_DIR)."""
    import shlex  # pylint: disable=import-outside-toplevel

    kubeconfig = os.path.join(state, 'kubeconfig')
    if not os.path.exists(kubeconfig):
        sys.exit('no lab in %s: run `sudo tests/lab/labctl up --scenario NAME` first' % state)
    lines = ['export KUBECONFIG=%s' % shlex.quote(os.path.abspath(kubeconfig))]
    venv_bin = os.path.join(REPO, '.venv', 'bin')
    if os.path.exists(os.path.join(venv_bin, 'kubectl')):
        lines.append('export PATH=%s:"$PATH"' % shlex.quote(venv_bin))
    if with_az:
        from ansible_collections.aks.tunnel.tests.lab.arm import azcli  # pylint: disable=import-outside-toplevel
        try:
            lines += azcli.shell_lines(azcli.setup_for_lab(state))
        except azcli.AzCliError as exc:
            lines.append('# az: %s' % exc)
    print('\n'.join(lines))
    return 0


def main(argv=None):
    import argparse  # pylint: disable=import-outside-toplevel
    import json  # pylint: disable=import-outside-toplevel

    parser = argparse.ArgumentParser(
        prog='labctl', description='The aks.tunnel local AKS lab: network namespaces + ARM/Kubernetes emulators (root only).',
        epilog='Scenarios: tests/lab/scenarios/*.yaml (schema in docs/lab.md). Example: sudo tests/lab/labctl up --scenario nsg-deny-10250')
    sub = parser.add_subparsers(dest='command', required=True)
    default_state = os.path.join(REPO, '.lab')
    p_up = sub.add_parser('up', help='build a lab (tears down the one in --state first) and write STATE/vars.yml')
    p_up.add_argument('--scenario', required=True, help='scenario name from tests/lab/scenarios or a YAML file')
    p_up.add_argument('--state', default=default_state, help='state directory (default: %(default)s)')
    p_down = sub.add_parser('down', help='remove every namespace, rule, route, process and file of the lab (idempotent)')
    p_down.add_argument('--state', default=default_state, help='state directory (default: %(default)s)')
    p_down.add_argument('--prefix', help='clean up a lab whose state directory is lost, by its prefix (akl1a2b, see `ip netns list`)')
    p_status = sub.add_parser('status', help='show nodes, IPs, faults and processes')
    p_status.add_argument('--state', default=default_state, help='state directory (default: %(default)s)')
    p_status.add_argument('--json', action='store_true', help='print the status as JSON')
    p_env = sub.add_parser('env', help='print the shell lines that point az and kubectl at the lab: eval "$(tests/lab/labctl env)"')
    p_env.add_argument('--state', default=default_state, help='state directory (default: %(default)s)')
    p_env.add_argument('--no-az', action='store_true', help='only kubectl (skip the Azure CLI login, which takes a few seconds)')
    p_list = sub.add_parser('scenarios', help='list the scenario catalogue')
    p_list.add_argument('--validate', action='store_true', help='validate every scenario file')
    args = parser.parse_args(argv)

    _reexec_with_venv()
    _bootstrap_path()
    # pylint: disable=import-outside-toplevel
    from ansible_collections.aks.tunnel.tests.lab import scenario as scenario_mod
    from ansible_collections.aks.tunnel.tests.lab.dataplane import lab, owner

    def log(message):
        print(message, flush=True)

    try:
        if args.command == 'scenarios':
            for name in scenario_mod.available():
                if args.validate:
                    loaded = scenario_mod.load(name)
                    print('%-28s ok  expect %s' % (name, ','.join(loaded['expect']['problems']) or '-'))
                else:
                    print(name)
            return 0
        if args.command == 'up':
            lab.up(args.scenario, args.state, log=log)
            # `sudo labctl up`: the next commands (ansible-playbook -e @.lab/vars.yml, kubectl) run as the user
            owner.give_to_invoking_user(args.state, log=log)
            return 0
        if args.command == 'env':
            return _print_env(args.state, not args.no_az)
        if args.command == 'down':
            if os.geteuid() != 0:
                sys.exit('labctl down needs root')
            if args.prefix:
                lab.down_prefix(args.prefix, log=log)
            else:
                lab.down(args.state, log=log)
            return 0
        info = lab.status(args.state)
        if info is None:
            print('no lab in %s' % args.state)
            return 1
        if args.json:
            print(json.dumps(info, indent=1))
        else:
            _print_status(info)
        return 0
    except (scenario_mod.ScenarioError, lab.LabError) as exc:
        print('labctl: %s' % exc, file=sys.stderr)
        return 2


if __name__ == '__main__':
    sys.exit(main())
