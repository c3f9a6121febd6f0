# -*- coding: utf-8 -*-
# Copyright (c) 2026 aks.tunnel contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Bring a whole lab up, down, or report on it (what `labctl` calls; tests call it too)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time

import yaml

from .. import scenario as scenario_mod
from ..pki import LabCA
from ..topology import build_topology
from . import firewall, netns, nsg, path
from .plan import make_plan
from .record import LabRecord
from .sh import process_start_time, run

STATE_FILES = ('lab.json', 'vars.yml', 'kubeconfig', 'kubeconfig-readonly', 'kubeconfig-diagnose', 'kubeconfig-remediate', 'services.ready',
               'services.pid', 'control.ready', 'control.pid', 'services.log', 'control.log', 'config.json')
STATE_DIRS = ('pki', 'arm', 'kube')


class LabError(RuntimeError):
    """The lab could not be brought up or down; the message says what failed."""


def python_path():
    """The directory holding `ansible_collections` (for the daemons' PYTHONPATH)."""
    parts = os.path.abspath(__file__).split(os.sep)
    if 'ansible_collections' not in parts:
        raise LabError('the lab must be imported as ansible_collections.aks.tunnel.tests.lab (see tests/lab/labctl)')
    index = len(parts) - 1 - parts[::-1].index('ansible_collections')
    return os.sep.join(parts[:index]) or os.sep


def _env():
    env = dict(os.environ)
    paths = [python_path()] + [p for p in env.get('PYTHONPATH', '').split(os.pathsep) if p]
    env['PYTHONPATH'] = os.pathsep.join(dict.fromkeys(paths))
    env['PYTHONDONTWRITEBYTECODE'] = '1'
    return env


def _spawn(record, name, module, log):
    """Start a daemon detached from us (setsid -f), wait for its pid file, record pid + start time."""
    pid_file = record.file('%s.pid' % name)
    if os.path.exists(pid_file):
        os.unlink(pid_file)
    logfile = record.file('%s.log' % name)
    with open(logfile, 'ab') as out:
        subprocess.run(['setsid', '-f', sys.executable, '-m', module, '--state', record.state_dir], stdin=subprocess.DEVNULL,
                       stdout=out, stderr=out, env=_env(), check=True, cwd='/')
    deadline = time.monotonic() + 60  # a loaded 2-core CI machine can take many seconds to start Python with its imports
    while time.monotonic() < deadline:
        try:
            with open(pid_file, encoding='ascii') as handle:
                pid = int(handle.read().strip() or 0)
            if pid:
                start = process_start_time(pid)
                record.add('pids', {'pid': pid, 'start_time': start, 'role': name})
                log('%s daemon started (pid %d, log %s)' % (name, pid, logfile))
                return pid
        except (OSError, ValueError):
            pass
        time.sleep(0.05)
    raise LabError('%s daemon did not start; see %s' % (name, logfile))


def _wait_ready(record, name, pid, timeout):
    path = record.file('%s.ready' % name)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if os.path.exists(path):
            try:
                with open(path, encoding='utf-8') as handle:
                    return json.load(handle)
            except ValueError:
                pass
        if not os.path.exists('/proc/%d' % pid):
            break
        time.sleep(0.05)
    tail = ''
    try:
        with open(record.file('%s.log' % name), encoding='utf-8', errors='replace') as handle:
            tail = handle.read()[-3000:]
    except OSError:
        pass
    raise LabError('%s daemon did not become ready within %ds:\n%s' % (name, timeout, tail))


def _issue_certs(record, plan):
    pki_dir = record.file('pki')
    ca = LabCA.create(pki_dir, common_name='aks.tunnel lab CA (%s)' % plan['prefix'])
    own = [n for n in plan['nodes'].values() if any(e['kind'] == 'node' and e['name'] == n['ns'] for e in plan['namespaces'])][:64]
    kubelet = ca.issue_server_cert('kubelet', dns_names=[name for name, n in plan['nodes'].items() if n in own][:64] or ['kubelet'],
                                   ip_addresses=[n['ip'] for n in own])
    private = [plan['private_fqdn']] if plan.get('private') else []
    api = ca.issue_server_cert('apiserver', dns_names=[plan['fqdn']] + private, ip_addresses=[plan['api_ip']])
    proxy = ca.issue_server_cert('tls-inspection', dns_names=[plan['fqdn']], ip_addresses=[plan['api_ip']])
    pki = {'dir': pki_dir, 'ca': ca.cert_path, 'kubelet_cert': kubelet[0], 'kubelet_key': kubelet[1], 'api_cert': api[0],
           'api_key': api[1], 'proxy_cert': proxy[0], 'proxy_key': proxy[1]}
    record.set('pki', pki)
    return pki


def _auth(arm_info, client, ca_path):
    return {'subscription_id': arm_info['subscription_id'], 'client_id': client['client_id'], 'secret': client['client_secret'],
            'tenant': arm_info['tenant_id'], 'arm_endpoint': arm_info['url'], 'authority_host': arm_info['url'], 'ca_path': ca_path}


def write_vars(record, scenario, topology, control):
    ca_path = record.get('pki')['ca']
    plan = record.get('plan')
    data = {
        'aks_tunnel_cluster_name': scenario['cluster']['name'],
        'aks_tunnel_resource_group': scenario['cluster']['resource_group'],
        'aks_tunnel_azure_auth': _auth(control['arm'], scenario_mod.LAB_CLIENT, ca_path) if control else None,
        'aks_tunnel_kubeconfig': control['kubeconfig'] if control else None,
        'aks_tunnel_lab_readonly_auth': _auth(control['arm'], scenario_mod.LAB_READONLY_CLIENT, ca_path) if control else None,
        'aks_tunnel_lab_readonly_kubeconfig': control['kubeconfig_readonly'] if control else None,
        'aks_tunnel_lab_diagnose_auth': _auth(control['arm'], scenario_mod.LAB_DIAGNOSE_CLIENT, ca_path) if control else None,
        'aks_tunnel_lab_diagnose_kubeconfig': control.get('kubeconfig_diagnose') if control else None,
        'aks_tunnel_lab_remediate_auth': _auth(control['arm'], scenario_mod.LAB_REMEDIATE_CLIENT, ca_path) if control else None,
        'aks_tunnel_lab_remediate_kubeconfig': control.get('kubeconfig_remediate') if control else None,
        'aks_tunnel_lab': {
            'state_dir': record.state_dir, 'prefix': plan['prefix'], 'scenario': scenario['name'],
            'scenario_file': scenario.get('source'), 'expect': scenario_mod.expected(scenario),
            'node_resource_group': topology['cluster']['node_resource_group'], 'api_server_fqdn': plan['fqdn'],
            'api_server_ip': plan['api_ip'], 'tunnel': scenario['cluster']['tunnel'], 'tunnel_nodes': plan['tunnel_nodes'],
            'kube_url': control['kube']['url'] if control else None, 'ca_path': ca_path,
        },
    }
    if scenario['faults'].get('routes') and not scenario['cluster'].get('private'):
        # The API server FQDN resolves only inside the lab's namespaces; with a route table on the node subnet the egress
        # route check (and the NSG egress evaluation) needs its address, as a controller in Azure resolves it (issue 16).
        # A private cluster needs none: its private endpoint address comes from ARM (the kube-apiserver private endpoint).
        data['aks_tunnel_api_server_ip'] = plan['api_ip']
    path = record.file('vars.yml')
    with open(path, 'w', encoding='utf-8') as handle:
        handle.write('# Written by tests/lab/labctl up; use: ansible-playbook playbooks/diagnose.yml -e @%s\n' % path)
        yaml.safe_dump(data, handle, default_flow_style=False, sort_keys=False)
    return path


def up(scenario_ref, state_dir, log=print, control=True):
    """Build a lab for a scenario (tearing down one already in `state_dir`); return the lab record."""
    if os.geteuid() != 0:
        raise LabError('labctl up needs root (network namespaces, nftables); run it with sudo')
    started = time.monotonic()
    scenario = scenario_mod.load(scenario_ref) if isinstance(scenario_ref, str) else scenario_ref
    topology = build_topology(scenario)
    state_dir = os.path.abspath(state_dir)
    if LabRecord.load(state_dir) is not None:
        log('a lab is already recorded in %s: taking it down first' % state_dir)
        down(state_dir, log=log)
    os.makedirs(state_dir, exist_ok=True)
    from .plan import new_prefix  # pylint: disable=import-outside-toplevel
    prefix = new_prefix()
    record = LabRecord(state_dir)
    record.set('prefix', prefix)
    record.set('started', time.time())
    try:
        tunnel = scenario_mod.tunnel_nodes(scenario, topology)
        plan = make_plan(scenario, topology, prefix, tunnel)
        config = scenario_mod.lab_config(scenario)
        plan['firewall_drops'] = firewall.drops(config, plan)  # the router as the emulated Azure Firewall (issue 16)
        record.set('scenario', scenario)
        record.set('config', config)
        record.set('plan', plan)
        _issue_certs(record, plan)
        view = nsg.view_from_config(config, topology)
        view['gateway'] = plan['gateway']
        netns.build(plan, record, nsg.render(view), log=log)
        netns.apply_nsg(plan, path.render(config, topology, plan['gateway']))  # admin rules, routes, drops: before the NSGs
        netns.apply_baseline_firewall(plan, log=log)
        netns.apply_node_faults(plan, log=log)
        pid = _spawn(record, 'services', 'ansible_collections.aks.tunnel.tests.lab.dataplane.services', log)
        _wait_ready(record, 'services', pid, 120)
        info = None
        if control:
            pid = _spawn(record, 'control', 'ansible_collections.aks.tunnel.tests.lab.dataplane.control', log)
            info = _wait_ready(record, 'control', pid, 170)
        write_vars(record, scenario, topology, info)
        record.set('ready', True)
    except BaseException:
        log('lab up failed: tearing down what was built')
        down(state_dir, log=log)
        raise
    log('lab %s (%s) is up in %.1fs: %d nodes, vars in %s' % (prefix, scenario['name'], time.monotonic() - started,
                                                              len(plan['nodes']), record.file('vars.yml')))
    return record


def down(state_dir, log=print):
    """Remove everything the lab in `state_dir` created (idempotent; works after a crash)."""
    state_dir = os.path.abspath(state_dir)
    record = LabRecord.load(state_dir)
    if record is None:
        log('no lab recorded in %s: nothing to do' % state_dir)
        return False
    netns.destroy(record, log=log)
    for name in STATE_FILES:
        try:
            os.unlink(os.path.join(state_dir, name))
        except FileNotFoundError:
            pass
    for name in STATE_DIRS:
        shutil.rmtree(os.path.join(state_dir, name), ignore_errors=True)
    for name in ('lab.json.tmp', 'control.ready.tmp', 'services.ready.tmp'):
        try:
            os.unlink(os.path.join(state_dir, name))
        except FileNotFoundError:
            pass
    try:
        os.rmdir(state_dir)
    except OSError:
        pass
    return True


def down_prefix(prefix, log=print):
    """Clean up a lab whose state directory is lost: namespaces, /etc/netns entries and blackhole routes of `prefix`.

    Lab daemons are stopped when their state directory names this prefix or has no lab record (orphans).
    """
    if not re.match(r'^akl[0-9a-f]{4}$', prefix or ''):
        raise LabError('a lab prefix looks like akl1a2b (see `ip netns list`), got %r' % (prefix,))
    metric = 100000 + int(prefix[3:], 16)
    routes = []
    for line in run(['ip', 'route', 'show', 'type', 'blackhole'], check=False).stdout.splitlines():
        fields = line.split()
        if 'metric' in fields and fields[fields.index('metric') + 1] == str(metric):
            routes.append({'dst': fields[1], 'metric': metric})
    pids = []
    for line in run(['pgrep', '-af', 'tests.lab.dataplane'], check=False).stdout.splitlines():
        fields = line.split()
        if '--state' not in fields[:-1]:
            continue
        owner = LabRecord.load(fields[fields.index('--state') + 1]) if os.path.isdir(fields[fields.index('--state') + 1]) else None
        # Daemons of this lab, or orphans whose lab record is gone; never those of another recorded lab.
        if owner is None or owner.get('prefix') == prefix:
            pid = int(fields[0])
            pids.append({'pid': pid, 'start_time': process_start_time(pid), 'role': 'orphan'})
    record = LabRecord('/nonexistent', {'version': 1, 'prefix': prefix, 'created': {'routes': routes, 'pids': pids}})
    netns.destroy(record, log=log)


def status(state_dir):
    """A dict describing the lab: prefix, scenario, nodes (ns, ip, kubelet, faults), processes, endpoints."""
    record = LabRecord.load(state_dir)
    if record is None:
        return None
    plan = record.get('plan') or {}
    scenario = record.get('scenario') or {}
    faults = scenario.get('faults') or {}
    per_node = {}
    for entry in faults.get('ufw', []):
        per_node.setdefault(entry['node'], []).append('ufw')
    for entry in faults.get('iptables', []):
        per_node.setdefault(entry['node'], []).append('iptables')
    for key in ('kubelet_plain_http', 'kubelet_down', 'cannot_report'):
        for name in faults.get(key, []):
            per_node.setdefault(name, []).append(key)
    processes = []
    for entry in record.created('pids'):
        alive = process_start_time(entry['pid']) == entry['start_time']
        processes.append(dict(entry, alive=alive))
    existing = set(run(['ip', 'netns', 'list'], check=False).stdout.split())
    nodes = []
    for name, node in sorted((plan.get('nodes') or {}).items(), key=lambda kv: tuple(int(x) for x in kv[1]['ip'].split('.'))):
        nodes.append({'name': name, 'short': node['short'], 'ip': node['ip'], 'ns': node['ns'], 'kubelet': node['kubelet'],
                      'tunnel': node['tunnel'], 'faults': per_node.get(name, []), 'ns_exists': node['ns'] in existing})
    control = None
    if os.path.exists(record.file('control.ready')):
        with open(record.file('control.ready'), encoding='utf-8') as handle:
            control = json.load(handle)
    return {'prefix': record.get('prefix'), 'scenario': scenario.get('name'), 'ready': bool(record.get('ready')),
            'state_dir': record.state_dir, 'namespaces': record.created('netns'), 'routes': record.created('routes'),
            'processes': processes, 'nodes': nodes, 'egress_blocked': plan.get('egress_blocked'),
            'alpn_stripped': plan.get('alpn_stripped'), 'nsg_rules': faults.get('nsg_rules', []),
            'api_server': {'ip': plan.get('api_ip'), 'fqdn': plan.get('fqdn')},
            'arm_url': (control or {}).get('arm', {}).get('url'), 'kube_url': (control or {}).get('kube', {}).get('url'),
            'vars': record.file('vars.yml')}
