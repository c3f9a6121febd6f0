#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2026 aks.tunnel contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r'''
module: vmss_runcommand_probe
short_description: Probe AKS nodes from the inside through VMSS Run Command, many at once
version_added: 0.1.0
description:
  - Runs the aks.tunnel node scripts on VMSS instances through the Run Command action, concurrently with a bounded
    pool, and returns the parsed results per node plus a summary and, with O(finding_for), findings.
  - C(tcp_reachability) connects from each selected node to O(endpoints) (default every node's kubelet port) in
    parallel inside one script; C(egress) checks the tunnel component's port(s) to the API server (konnectivity
    TLS 443 with ALPN C(konnectivity), tunnel-front TCP 9000, aks-link UDP 1194); C(firewall) inspects ufw,
    iptables, nftables and whether something listens on the port. Selected checks are combined into ONE script
    per node.
  - On the node the script needs bash and coreutils. The TCP connects of C(tcp_reachability) run in one C(python3) process
    (non-blocking sockets, at most O(parallelism) at a time) when the node has python3, as AKS Ubuntu and Azure Linux nodes
    do; otherwise, or when it fails, through C(nc) or bash's C(/dev/tcp) with the same verdicts (the script's summary line
    names the tool used, C(m=py), C(m=nc) or C(m=devtcp)).
  - With O(inspect_unreachable), the nodes that could not be reached are then inspected (C(firewall)), again one
    script per node, in parallel - so a whole cluster costs one Run Command per tunnel node plus one per failing node.
    O(inspect_nodes) adds nodes to that round that answered on TCP but are suspect (for example the node a symptom names).
  - The inspection also checks that what listens on the port completes a TLS handshake (on the inspected nodes only, not on
    every node), and looks for a plain HTTP answer when it does not.
  - Findings never say OK for what could not be checked - an inspection that failed, a section whose command failed, came
    back empty or was trimmed, a missing tool (C(openssl), C(nft)), an unreachable node that could not be inspected and a
    node without a private IP make the node causes C(unknown) with the reason.
  - Every value reaches the node as a Run Command parameter that is a safe shell word (Azure pastes parameter values unquoted into the
    script), never built into the script text.
  - Handles HTTP 409 (another run command in progress - waits and retries), HTTP 429 (the SDK retries, then we do),
    a run that exceeds O(run_timeout) (that node becomes an error, the others continue), an overall O(deadline), and
    output cut at 4096 bytes (flagged as C(truncated)).
  - Never changes anything on the nodes.
author: aks.tunnel contributors (@aks-tunnel)
options:
  checks:
    description: Checks to run on each node of O(nodes) (combined into one script).
    type: list
    elements: str
    choices: [tcp_reachability, egress, firewall]
    default: [tcp_reachability, egress]
  nodes:
    description:
      - Nodes to run the script on (Kubernetes node names, or C(<vmss>/<instance id>)).
      - Default - the nodes hosting the tunnel pods (read from Kubernetes).
    type: list
    elements: str
  endpoints:
    description:
      - Targets of C(tcp_reachability) as C(ip:port) strings. Default - every node's private IP on O(port).
    type: list
    elements: str
  egress_endpoints:
    description:
      - Egress checks instead of the tunnel component's. Default - the component's egress to the API server FQDN.
    type: list
    elements: dict
    suboptions:
      kind:
        description: V(tcp) connect, V(tls) handshake with ALPN C(konnectivity), or V(udp) datagram.
        type: str
        choices: [tcp, tls, udp]
        required: true
      host:
        description: Host name or IP (default the API server FQDN).
        type: str
      port:
        description: Port.
        type: int
        required: true
  inspect_unreachable:
    description: After C(tcp_reachability), inspect the firewall of every node that could not be reached.
    type: bool
    default: false
  inspect_nodes:
    description:
      - More nodes to inspect (firewall, listener, TLS of the listener) in the inspection round, also when they answered on TCP
        (Kubernetes node names, C(<vmss>/<instance id>), or a node's private IP, also as C(ip:port) - the endpoints a symptom
        names; an IP that is no node's is ignored with a warning). A node of O(nodes) with the C(firewall) check is not inspected twice.
    type: list
    elements: str
    default: []
  finding_for:
    description:
      - Causes to return findings for.
      - For C(egress_ports_blocked) on a private cluster whose nodes cannot resolve the API server's private FQDN, the private DNS
        zone's virtual network links are read (C(Microsoft.Network/privateDnsZones/virtualNetworkLinks/read)) to tell a missing
        link from custom DNS servers that do not forward to Azure DNS.
    type: list
    elements: str
    choices: [ufw_blocks_10250, iptables_blocks_10250, nft_blocks_10250, kubelet_not_serving, egress_ports_blocked]
    default: []
  concurrency:
    description: How many Run Commands run at the same time (Ansible forks multiply this).
    type: int
    default: 10
  run_timeout:
    description: Seconds one node's Run Command may take (waiting for HTTP 409 conflicts included).
    type: int
    default: 300
  deadline:
    description: Seconds the whole module may take; unfinished nodes are reported as errors. V(0) means no deadline.
    type: int
    default: 1800
  connect_timeout:
    description: Seconds each TCP connect / egress check may take inside the script.
    type: int
    default: 2
  parallelism:
    description: Concurrent connects inside the script.
    type: int
    default: 32
  conflict_wait:
    description: Seconds to wait before retrying after HTTP 409 (another run command in progress on the VM).
    type: float
    default: 5
extends_documentation_fragment:
  - aks.tunnel.cluster
  - aks.tunnel.cluster.MODEL
  - aks.tunnel.cluster.API_TIMEOUT
  - aks.tunnel.cluster.KUBELET_PORT
  - aks.tunnel.azure
  - aks.tunnel.kubernetes
  - aks.tunnel.attributes
  - aks.tunnel.attributes.ACTIONGROUP_AZURE_AND_KUBERNETES
  - aks.tunnel.attributes.INFO_MODULE
notes:
  - Azure RBAC - Reader on the cluster and node resource group plus
    C(Microsoft.Compute/virtualMachineScaleSets/virtualMachines/runCommand/action). Without the latter every node
    reports the HTTP 403 error and the findings are C(unknown); the module itself does not fail.
  - Run Command runs one script at a time per VM, takes tens of seconds and cannot be cancelled.
  - Kubernetes RBAC - C(list) on nodes and on pods in C(kube-system) (none with O(cluster_model)).
'''

EXAMPLES = r'''
- name: Probe every kubelet and the tunnel egress from the tunnel nodes, then inspect what failed
  aks.tunnel.vmss_runcommand_probe:
    resource_group: rg-aks-prod
    name: aks-prod
    inspect_unreachable: true
    finding_for: [ufw_blocks_10250, iptables_blocks_10250, egress_ports_blocked]
  register: probe

- name: Read the cluster model once
  aks.tunnel.aks_cluster_info:
    resource_group: rg-aks-prod
    name: aks-prod
  register: aks

- name: The same on that model (no second read of the cluster, its instances and nodes)
  aks.tunnel.vmss_runcommand_probe:
    resource_group: rg-aks-prod
    name: aks-prod
    cluster_model: "{{ aks }}"
    inspect_unreachable: true

- name: Inspect the firewall of some nodes, 25 at a time
  aks.tunnel.vmss_runcommand_probe:
    resource_group: rg-aks-prod
    name: aks-prod
    checks: [firewall]
    nodes: "{{ probe.summary.unreachable_nodes | map(attribute='node') | list }}"
    concurrency: 25

- name: Probe a custom endpoint from one node
  aks.tunnel.vmss_runcommand_probe:
    resource_group: rg-aks-prod
    name: aks-prod
    checks: [tcp_reachability]
    nodes: [aks-nodepool1-12345678-vmss000000]
    endpoints: ['10.224.0.10:10250']
'''

RETURN = r'''
results:
  description:
    - One entry per Run Command (role C(source) for the nodes in O(nodes), C(inspect) for unreachable nodes).
    - C(checks.tcp_reachability) has C(counts) by status, C(failed) targets (target, node, status) and C(targets).
    - C(checks.egress) lists egress checks (kind, host, port, tcp, tls, alpn, udp, ok, reason).
    - C(checks.firewall) has blocked_by (ufw, iptables, nft, not_listening or null), rules, conditional, reason,
      ufw_active, ufw_allows_port, iptables_policy, listening, nft_rules (native nftables rules that drop/reject the port -
      family, table, chain, handle, rule, verdict, conditional), tls (the listener's TLS check - tls, addr, http, answer),
      incomplete (sections that prove nothing - section, rc, reason) and parse_error.
  returned: success
  type: list
  elements: dict
  sample:
    - node: aks-nodepool1-12345678-vmss000000
      role: source
      vmss: aks-nodepool1-12345678-vmss
      instance_id: '0'
      status: succeeded
      error: null
      duration: 21.4
      attempts: 1
      conflicts: 0
      truncated: false
      problems: []
      checks:
        tcp_reachability:
          counts: {succeeded: 4, timed_out: 1}
          failed: [{target: '10.224.0.8:10250', node: aks-user1-12345678-vmss000001, status: timed_out}]
          targets: 5
        egress: [{kind: tls, host: aks-prod-1a2b3c4d.hcp.westeurope.azmk8s.io, port: 443, tcp: succeeded, tls: ok,
                  alpn: konnectivity, ok: true, reason: tls ... reachable}]
summary:
  description:
    - Reachability over all sources (a node is unreachable when any source failed), by reason, and run errors.
    - C(unprobed_nodes) lists the nodes without a private IP (not probed), C(not_inspected) the unreachable nodes that could not
      be inspected (not a VMSS node, or inspect_unreachable off), each with the reason.
  returned: success
  type: dict
  sample:
    port: 10250
    sources: [aks-nodepool1-12345678-vmss000000]
    targets: 5
    reachable: 4
    unreachable: 1
    by_reason: {timed_out: 1}
    unreachable_nodes: [{node: aks-user1-12345678-vmss000001, target: '10.224.0.8:10250', status: timed_out,
                         from: {aks-nodepool1-12345678-vmss000000: timed_out}}]
    unprobed_nodes: []
    not_inspected: []
    errors: []
findings:
  description: Findings for O(finding_for), in that order (cause, status, summary, affected_nodes, evidence, remediation).
  returned: success
  type: list
  elements: dict
  sample:
    - cause: ufw_blocks_10250
      status: problem
      summary: UFW blocks TCP 10250 on 1 node(s)
      affected_nodes: [aks-user1-12345678-vmss000001]
      evidence: ['aks-user1-12345678-vmss000001: ufw is active with default deny (incoming) and no rule allowing 10250/tcp from anywhere']
      remediation: {module: aks.tunnel.node_firewall, nodes: [aks-user1-12345678-vmss000001], ufw: allow, summary: ...}
tunnel:
  description: Tunnel component, its nodes and egress (see aks.tunnel.aks_cluster_info).
  returned: success
  type: dict
run_commands:
  description: Number of Run Commands issued (rounds - sources, then inspections).
  returned: success
  type: dict
  sample: {sources: 2, inspections: 1}
duration:
  description: Seconds the module spent running commands.
  returned: success
  type: float
api_calls:
  description:
    - HTTP requests the task sent, also when it failed. C(arm) counts every request to Azure Resource Manager (retries,
      long-running operation polls and list pages included; Entra token requests not), C(kube) every request to the
      Kubernetes API server (retries and list pages included).
    - Add them up over tasks with the P(aks.tunnel.api_calls_total#filter) filter; the diagnosis report shows the totals as
      C(stats.arm_calls) and C(stats.kube_calls).
  returned: always
  type: dict
  contains:
    arm: {description: "Requests to Azure Resource Manager.", type: int, returned: always}
    kube: {description: "Requests to the Kubernetes API server.", type: int, returned: always}
  sample: {arm: 20, kube: 2}
'''

import time
import uuid

from ansible_collections.aks.tunnel.plugins.module_utils import _azure
from ansible_collections.aks.tunnel.plugins.module_utils import _cluster_model
from ansible_collections.aks.tunnel.plugins.module_utils import _cluster_options
from ansible_collections.aks.tunnel.plugins.module_utils import _node_probe
from ansible_collections.aks.tunnel.plugins.module_utils import _private_dns
from ansible_collections.aks.tunnel.plugins.module_utils import _probe_scripts as ps
from ansible_collections.aks.tunnel.plugins.module_utils import _runcommand
from ansible_collections.aks.tunnel.plugins.module_utils._module import AksTunnelModule


def make_targets(nodes, node_rg, script, parameters, role):
    return [{'key': n['name'], 'resource_group': node_rg, 'vmss': n['vmss'], 'instance_id': n['instance_id'], 'script': script,
             'parameters': parameters, 'role': role} for n in nodes]


def suspect_refs(module, model, refs):
    """inspect_nodes as node references: a node's private IP (or ip:port, as a symptom names it) becomes its name."""
    by_ip = dict((n['private_ip'], n['name']) for n in model['nodes'] if n['private_ip'])
    names = []
    for ref in refs or []:
        text = str(ref).strip()
        host = text.rsplit(':', 1)[0].strip('[]') if text.count(':') == 1 or text.startswith('[') else text
        try:
            ip = ps.validate_ip(host)
        except ps.ProbeParameterError:
            names.append(text)
            continue
        if ip in by_ip:
            names.append(by_ip[ip])
        else:
            module.warn('inspect_nodes: %s is not the IP of a node of the cluster; not inspected' % text)
    return names


def main():
    module = AksTunnelModule(
        _cluster_options.argument_spec(
            _cluster_options.CLUSTER_ARGSPEC, _cluster_options.MODEL_ARGSPEC, _cluster_options.API_TIMEOUT_ARGSPEC,
            _cluster_options.KUBELET_PORT_ARGSPEC,
            checks=dict(type='list', elements='str', choices=['tcp_reachability', 'egress', 'firewall'],
                        default=['tcp_reachability', 'egress']),
            nodes=dict(type='list', elements='str'),
            endpoints=dict(type='list', elements='str'),
            egress_endpoints=dict(type='list', elements='dict', options=dict(
                kind=dict(type='str', required=True, choices=['tcp', 'tls', 'udp']),
                host=dict(type='str'),
                port=dict(type='int', required=True),
            )),
            inspect_unreachable=dict(type='bool', default=False),
            inspect_nodes=dict(type='list', elements='str', default=[]),
            finding_for=dict(type='list', elements='str', default=[], choices=list(_node_probe.FINDING_CAUSES)),
            concurrency=dict(type='int', default=10),
            run_timeout=dict(type='int', default=300),
            deadline=dict(type='int', default=1800),
            connect_timeout=dict(type='int', default=2),
            parallelism=dict(type='int', default=32),
            conflict_wait=dict(type='float', default=5),
        ),
        azure=True, kube=True,
    )
    params = module.params
    checks = list(dict.fromkeys(params['checks'] or []))
    if not checks:
        module.fail('checks must name at least one of tcp_reachability, egress, firewall')
    for key in ('concurrency', 'run_timeout'):
        if params[key] < 1:
            module.fail('%s must be at least 1, got %d' % (key, params[key]))
    if params['inspect_unreachable'] and 'tcp_reachability' not in checks:
        module.fail('inspect_unreachable needs the tcp_reachability check')

    model = _cluster_options.cluster_model(module, kube=not params['nodes'] or 'egress' in checks)
    tunnel = model['tunnel']
    try:
        if params['nodes']:
            sources = _cluster_model.resolve_nodes(model, params['nodes'])
        else:
            sources = [n for n in model['nodes'] if n['hosts_tunnel']]
        suspects = _cluster_model.resolve_nodes(model, suspect_refs(module, model, params['inspect_nodes']))
    except _cluster_model.ClusterModelError as exc:
        module.fail(str(exc))
    sources = [n for n in sources if n['vmss']]
    if not sources:
        module.fail('no node to run on: the cluster has no tunnel-hosting VMSS node (component %s); give nodes' % tunnel['component'])

    ip_to_node = dict((n['private_ip'], n['name']) for n in model['nodes'] if n['private_ip'])
    targets = []
    if 'tcp_reachability' in checks:
        raw = params['endpoints'] or ['%s:%d' % (n['private_ip'], params['port']) for n in model['nodes'] if n['private_ip']]
        try:
            targets = ps.normalize_targets(raw)
        except ps.ProbeParameterError as exc:
            module.fail('endpoints: %s' % exc)
    egress = []
    if 'egress' in checks:
        egress = _node_probe.egress_checks(tunnel, model['cluster']['api_server_host'], params['egress_endpoints'])
    egress_wanted = 'egress' in checks and bool(egress)
    run_id = 'p' + uuid.uuid4().hex[:12]
    script_checks = [_node_probe.CHECK_TO_SCRIPT[c] for c in checks if c != 'egress' or egress]
    if not script_checks:
        module.fail('nothing to run: the egress check has no endpoint (%s); add tcp_reachability or firewall, or give egress_endpoints'
                    % tunnel['egress_reason'])
    try:
        script, parameters = ps.build_probe(script_checks, targets=targets, egress=egress, timeout=params['connect_timeout'],
                                            parallelism=params['parallelism'], inspect_port=params['port'], run_id=run_id)
    except ps.ProbeParameterError as exc:
        module.fail('cannot build the probe: %s' % exc)

    node_rg = model['cluster']['node_resource_group']
    started = time.monotonic()

    def executor(deadline_left):
        return _runcommand.RunCommandExecutor(module.azure.compute, concurrency=params['concurrency'], timeout=params['run_timeout'],
                                              deadline=deadline_left, conflict_wait=params['conflict_wait'],
                                              describe=_azure.describe_azure_error)

    deadline = params['deadline'] or None
    by_name = dict((n['name'], n) for n in model['nodes'])
    runs = executor(deadline).run(make_targets(sources, node_rg, script, parameters, 'source'))
    results = []
    for run in runs:
        shaped = _node_probe.shape_result(run, by_name[run['key']], checks, targets, ip_to_node, run_id, port=params['port'])
        shaped['role'] = 'source'
        results.append(shaped)
    summary = _node_probe.summarize(results, model['nodes'], port=params['port'], node_targets=not params['endpoints'])

    inspections = [r for r in results if 'firewall' in r['checks'] or ('firewall' in checks and r['status'] != 'succeeded')]
    inspected = 0
    names = []
    summary['not_inspected'] = []
    for item in summary['unreachable_nodes']:
        node = by_name.get(item['node'])
        if not params['inspect_unreachable']:
            continue
        if node is None:
            summary['not_inspected'].append({'node': item['node'], 'reason': 'not a node of the cluster: nothing to run Run Command on'})
        elif not node['vmss']:
            summary['not_inspected'].append({'node': item['node'], 'reason': 'not a VMSS node: Run Command cannot inspect it'})
        else:
            names.append(item['node'])
    already = set(r['node'] for r in inspections)
    for node in suspects:
        if node['name'] in names or node['name'] in already:
            continue
        if node['vmss']:
            names.append(node['name'])
        else:
            summary['not_inspected'].append({'node': node['name'], 'reason': 'not a VMSS node: Run Command cannot inspect it'})
    if names:
        left = None if deadline is None else max(deadline - (time.monotonic() - started), 1)
        inspect_id = run_id + 'i'
        iscript, iparams = ps.build_probe(['inspect'], inspect_port=params['port'], run_id=inspect_id, timeout=params['connect_timeout'])
        iruns = executor(left).run(make_targets([by_name[n] for n in names], node_rg, iscript, iparams, 'inspect'))
        inspected = len(iruns)
        for run in iruns:
            shaped = _node_probe.shape_result(run, by_name[run['key']], ['firewall'], [], ip_to_node, inspect_id, port=params['port'])
            shaped['role'] = 'inspect'
            results.append(shaped)
            inspections.append(shaped)
            if shaped['status'] != 'succeeded':
                summary['errors'].append({'node': shaped['node'], 'error': shaped['error']})
    elapsed = round(time.monotonic() - started, 3)

    cluster = model['cluster']
    if 'egress_ports_blocked' in params['finding_for'] and _private_dns.needs_links(cluster, results):
        # the nodes cannot resolve the private FQDN: the zone's virtual network links tell a missing link from custom DNS
        cluster = dict(cluster, private_dns_links=_private_dns.read_links(module.azure.network, cluster))
    findings = _node_probe.findings(params['finding_for'], results, inspections, summary, checks, tunnel, egress_wanted, port=params['port'],
                                    node_resource_group=node_rg, cluster=cluster)
    for result in results:
        if result['status'] != 'succeeded':
            module.warn('%s: %s' % (result['node'], result['error']))
        elif result['truncated']:
            module.warn('%s: the probe output was truncated (%s)' % (result['node'], '; '.join(result['problems'])))
    module.exit(changed=False, results=results, summary=summary, findings=findings, tunnel=tunnel,
                run_commands={'sources': len(runs), 'inspections': inspected}, duration=elapsed)


if __name__ == '__main__':
    main()
