# -*- coding: utf-8 -*-
# Copyright (c) 2026 aks.tunnel contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Turning Run Command probe results into per-target results, a summary and findings (pure).

Used by vmss_runcommand_probe: one combined script per source node (connect + egress [+ inspect]),
then, optionally, one inspection script per node the sources could not reach.
"""

from __future__ import annotations

import shlex

from ansible_collections.aks.tunnel.plugins.module_utils import _causes
from ansible_collections.aks.tunnel.plugins.module_utils import _private_dns
from ansible_collections.aks.tunnel.plugins.module_utils import _probe_scripts as ps

CHECK_TO_SCRIPT = {'tcp_reachability': 'connect', 'egress': 'egress', 'firewall': 'inspect'}
FINDING_CAUSES = (_causes.UFW_BLOCKS_10250, _causes.IPTABLES_BLOCKS_10250, _causes.NFT_BLOCKS_10250, _causes.KUBELET_NOT_SERVING,
                  _causes.EGRESS_PORTS_BLOCKED)
# The causes a node inspection decides, and the inspection sections each one needs (an incomplete one gives UNKNOWN).
NODE_CAUSES = (_causes.UFW_BLOCKS_10250, _causes.IPTABLES_BLOCKS_10250, _causes.NFT_BLOCKS_10250, _causes.KUBELET_NOT_SERVING)
_CAUSE_SECTIONS = {
    _causes.UFW_BLOCKS_10250: ('ufw',),
    _causes.IPTABLES_BLOCKS_10250: ('iptables', 'iptables-legacy', 'iptables-nft'),
    _causes.NFT_BLOCKS_10250: ('nft',),
    _causes.KUBELET_NOT_SERVING: ('ss', 'tls'),
}
# Where a firewall rule blocks the port, a failed local connect says nothing about the kubelet.
_FIREWALLS = ('ufw', 'iptables', 'nft')


def egress_checks(tunnel, host, overrides=None):
    """Probe egress items ``{kind, host, port}`` for the tunnel component (or the user's overrides)."""
    if overrides:
        return [{'kind': o['kind'], 'host': o.get('host') or host, 'port': int(o['port'])} for o in overrides]
    if not host:
        return []
    return [{'kind': e['kind'], 'host': host, 'port': e['port']} for e in tunnel.get('egress') or []]


def egress_verdict(entry, expected_alpn='konnectivity'):
    """(ok, reason) for one parsed egress line; ok is None when the node could not check it (no openssl)."""
    kind = entry.get('kind')
    where = '%s %s:%s' % (kind, entry.get('host'), entry.get('port'))
    if kind == 'udp':
        if entry.get('udp') == 'reply':
            return True, '%s answered' % where
        return False, '%s: %s' % (where, entry.get('udp') or 'no result')
    if entry.get('tcp') != 'succeeded':
        return False, '%s: TCP %s' % (where, entry.get('tcp') or 'no result')
    if kind == 'tls':
        if entry.get('tls') == 'no_openssl':
            return None, '%s: TCP connects; the TLS handshake was not checked (openssl is not installed on the node)' % where
        if entry.get('tls') != 'ok':
            return False, '%s: TLS %s' % (where, entry.get('tls') or 'no result')
        if expected_alpn and entry.get('alpn') != expected_alpn:
            return False, ('%s: TLS handshake negotiated ALPN %s instead of %s (something in the path inspects TLS and strips ALPN%s)'
                           % (where, entry.get('alpn') or 'none', expected_alpn,
                              '; certificate issuer %s' % entry['issuer'] if entry.get('issuer') else ''))
    return True, '%s reachable' % where


def firewall_view(parsed_firewall):
    """Compact firewall result from parse_probe_output()['firewall']."""
    if not parsed_firewall:
        return None
    verdict = parsed_firewall.get('verdict') or {}
    details = verdict.get('details') or {}
    ufw = details.get('ufw') or {}
    ipt = details.get('iptables') or {}
    return {
        'blocked_by': verdict.get('blocked_by'),
        'rules': verdict.get('rules') or [],
        'conditional': bool(verdict.get('conditional')),
        'reason': verdict.get('reason'),
        'ufw_active': ufw.get('active'),
        'ufw_allows_port': ufw.get('allows_port'),
        'iptables_policy': ipt.get('policy'),
        'listening': details.get('listening'),
        'trimmed_sections': verdict.get('trimmed_sections') or [],
        'nft_rules': nft_rules(details.get('nft')),
        'tls': verdict.get('tls'),
        'incomplete': verdict.get('incomplete') or [],
        'parse_error': verdict.get('parse_error'),
    }


def nft_rules(nft_details):
    """Native nft rules (and base-chain drop policies) that drop/reject the port: [{family, table, chain, handle, rule, verdict,
    conditional}] (handle None for a policy, or when the listing had no handles)."""
    if not nft_details:
        return []
    rules = [{'family': b['family'], 'table': b['table_name'], 'chain': b['chain'], 'handle': b.get('handle'), 'rule': b['rule'],
              'verdict': b['verdict'], 'conditional': bool(b['conditional'])} for b in nft_details.get('blocking') or []]
    for label in nft_details.get('policy_drops') or []:
        family, table, chain = (label.split(' ', 2) + ['', ''])[:3]
        rules.append({'family': family, 'table': table, 'chain': chain, 'handle': None, 'rule': 'policy drop', 'verdict': 'policy',
                      'conditional': False})
    return rules


def shape_result(run, node, checks, targets, ip_to_node, run_id, port=10250, expected_alpn='konnectivity'):
    """One per-target result from a RunCommandExecutor result and the probe parse."""
    result = {
        'node': node['name'], 'vmss': node['vmss'], 'instance_id': node['instance_id'], 'checks': {}, 'duration': run['duration'],
        'status': run['status'], 'error': run['error'], 'truncated': False, 'problems': [], 'attempts': run['attempts'],
        'conflicts': run['conflicts'],
    }
    if run['status'] != 'succeeded':
        return result
    try:
        parsed = ps.parse_probe_output(run['stdout'], targets, run_id=run_id, port=port)
    except ps.ProbeOutputError as exc:
        result['status'] = 'failed'
        result['error'] = 'probe output not understood: %s' % exc
        return result
    result['truncated'] = bool(parsed['truncated'] or run.get('stdout_truncated'))
    result['problems'] = list(parsed['problems'])
    if parsed['error']:
        result['status'] = 'failed'
        result['error'] = 'the node script refused its parameters: %s' % parsed['error']
        return result
    if not parsed['begin_seen'] and not parsed['complete']:
        result['status'] = 'failed'
        result['error'] = 'no probe output (stderr: %s)' % (run.get('stderr') or '').strip()[-300:]
        return result
    if 'tcp_reachability' in checks:
        failed = dict((k, v) for k, v in parsed['targets'].items() if v != 'succeeded')
        result['checks']['tcp_reachability'] = {
            'counts': dict((k, v) for k, v in parsed['counts'].items() if v),
            'failed': [{'target': k, 'node': ip_to_node.get(k.rsplit(':', 1)[0].strip('[]')), 'status': v} for k, v in sorted(failed.items())],
            'targets': len(parsed['targets']),
            'scan_seconds': parsed['summary'].get('secs'),
        }
    if 'egress' in checks:
        entries = []
        for entry in parsed['egress']:
            ok, reason = egress_verdict(entry, expected_alpn)
            entries.append(dict(entry, ok=ok, reason=reason))
        result['checks']['egress'] = entries
    if 'firewall' in checks:
        result['checks']['firewall'] = firewall_view(parsed['firewall'])
    return result


def summarize(results, all_nodes, port=10250, node_targets=True):
    """Reachability across sources: a node is unreachable when any source could not connect to it.

    With ``node_targets`` (the default endpoints: every node's IP), a node without a private IP was not probed:
    it is listed in ``unprobed_nodes`` ({node, reason}) so no finding says OK for it.
    """
    unreachable = {}
    reasons = {}
    sources = []
    errors = []
    checked = set()
    for result in results:
        if result['status'] != 'succeeded':
            errors.append({'node': result['node'], 'error': result['error']})
            continue
        reach = result['checks'].get('tcp_reachability')
        if reach is None:
            continue
        sources.append(result['node'])
        for item in reach['failed']:
            name = item['node'] or item['target']
            unreachable.setdefault(name, {}).setdefault('from', {})[result['node']] = item['status']
            unreachable[name]['target'] = item['target']
    for result in results:
        reach = result['checks'].get('tcp_reachability') if result['status'] == 'succeeded' else None
        if reach is not None:
            checked.update(n['name'] for n in all_nodes)
    for name, info in unreachable.items():
        statuses = sorted(set(info['from'].values()))
        info['status'] = statuses[0] if len(statuses) == 1 else 'mixed'
        for status in statuses:
            reasons[status] = reasons.get(status, 0) + 1
    total = len([n for n in all_nodes if n.get('private_ip')]) if sources else 0
    return {
        'port': port,
        'sources': sources,
        'targets': total,
        'reachable': max(total - len(unreachable), 0) if sources else 0,
        'unreachable': len(unreachable),
        'by_reason': reasons,
        'unreachable_nodes': [dict(node=k, **v) for k, v in sorted(unreachable.items())],
        'unprobed_nodes': [{'node': n['name'], 'reason': 'the node has no private IP: its kubelet was not probed'}
                           for n in all_nodes if not n.get('private_ip')] if sources and node_targets else [],
        'errors': errors,
    }


_LABELS = {_causes.UFW_BLOCKS_10250: 'UFW', _causes.IPTABLES_BLOCKS_10250: 'iptables', _causes.NFT_BLOCKS_10250: 'nftables',
           _causes.KUBELET_NOT_SERVING: 'the kubelet'}


def nft_rule_text(rule):
    """One nft rule for humans: ``inet hostfw input: tcp dport 10250 drop (handle 4)``."""
    return '%s %s %s: %s%s%s' % (rule['family'], rule['table'], rule['chain'], rule['rule'],
                                 ' (handle %s)' % rule['handle'] if rule.get('handle') is not None else '',
                                 ' (conditional)' if rule.get('conditional') else '')


def _kubelet_state(fwv, port):
    listening = fwv.get('listening')
    tls = fwv.get('tls') or {}
    where = tls.get('addr') if tls.get('addr') not in (None, '-') else 'port %d' % port
    if listening in ('no', 'loopback_only'):
        return 'problem', 'nothing listens on TCP %d%s (ss -ltn)' % (port, ' except on loopback' if listening == 'loopback_only' else '')
    if tls.get('http') == 'plain':
        return 'problem', ('%s answers plain HTTP without TLS (%s): a TLS client (the API server) gets "http: server gave HTTP response '
                           'to HTTPS client"' % (where, tls.get('answer') or 'an HTTP answer'))
    if tls.get('tls') == 'failed':
        return 'problem', 'something listens on %s but the TLS handshake fails (and it answers no plain HTTP)' % where
    return None, None


def node_cause_state(cause, fwv, port=10250):
    """``(state, text)`` for one node cause on one inspected node: ``problem`` (text: the evidence), ``unknown`` (text: why) or
    ``ok``.  An OK needs every inspection section the cause relies on; a failed, empty or trimmed one gives UNKNOWN (a PROBLEM
    shown by what was printed stays a PROBLEM)."""
    if not fwv:
        return 'unknown', 'the inspection printed no firewall sections'
    if fwv.get('parse_error'):
        return 'unknown', 'the inspection output was not understood: %s' % fwv['parse_error']
    if cause in (_causes.UFW_BLOCKS_10250, _causes.IPTABLES_BLOCKS_10250):
        if fwv.get('blocked_by') == ('ufw' if cause == _causes.UFW_BLOCKS_10250 else 'iptables'):
            return 'problem', '%s%s' % (fwv['reason'], (' (rules: %s)' % '; '.join(fwv['rules'])) if fwv.get('rules') else '')
    elif cause == _causes.NFT_BLOCKS_10250:
        if fwv.get('nft_rules'):
            return 'problem', 'native nftables rules drop/reject TCP %d in an input hook: %s' % (
                port, '; '.join(nft_rule_text(r) for r in fwv['nft_rules']))
    elif cause == _causes.KUBELET_NOT_SERVING:
        state, text = _kubelet_state(fwv, port)
        if state:
            return state, text
    for item in fwv.get('incomplete') or []:
        if item['section'] not in _CAUSE_SECTIONS[cause]:
            continue
        if item['section'] == 'ufw' and item.get('rc') == 127:
            continue  # no ufw on the node: it cannot block anything
        return 'unknown', item['reason']
    if cause == _causes.KUBELET_NOT_SERVING:
        tls = fwv.get('tls')
        if not tls:
            return 'unknown', 'the inspection has no TLS check of the listener'
        if tls['tls'] == 'no_openssl':
            return 'unknown', 'openssl is not installed on the node: the TLS handshake of the listener was not checked'
        if tls['tls'] != 'ok':
            if fwv.get('blocked_by') in _FIREWALLS:
                return 'ok', None  # the firewall finding explains why the local connect failed
            return 'unknown', 'the listener on %s did not take a local connection (%s)' % (tls.get('addr'), tls['tls'])
    return 'ok', None


def _run_on(result, node_rg, script):
    return 'az vmss run-command invoke --resource-group %s --name %s --instance-id %s --command-id RunShellScript --scripts %s' % (
        node_rg or '<node resource group>', result.get('vmss') or '<vmss>', result.get('instance_id') or '<instance id>',
        shlex.quote(script))


def _nft_commands(result, rules, node_rg, port):
    steps = ['nft list ruleset > /var/tmp/aks-tunnel-nft-backup-$(date +%s).nft']
    for rule in rules:
        if rule['verdict'] == 'policy':
            steps.append('nft insert rule %s %s %s tcp dport %d accept' % (rule['family'], rule['table'], rule['chain'], port))
        elif rule.get('handle') is not None:
            steps.append('nft delete rule %s %s %s handle %d' % (rule['family'], rule['table'], rule['chain'], rule['handle']))
        else:
            steps.append('nft -a list chain %s %s %s' % (rule['family'], rule['table'], rule['chain']))
    return _run_on(result, node_rg, ' && '.join(steps))


def _remediation(cause, blocked, port, node_rg):
    nodes = [r['node'] for r in blocked]
    if cause == _causes.UFW_BLOCKS_10250:
        return {'summary': 'Allow TCP %d in UFW from the tunnel nodes only (ufw allow from <tunnel node IP> to any port %d '
                           'proto tcp) or disable UFW on the node(s) with aks.tunnel.node_firewall; '
                           'then restart the tunnel pods.' % (port, port),
                'module': 'aks.tunnel.node_firewall', 'nodes': nodes, 'ufw': 'allow'}
    if cause == _causes.IPTABLES_BLOCKS_10250:
        return {'summary': 'Delete the blocking iptables rule(s) by their full spec with aks.tunnel.node_firewall '
                           '(an iptables-save backup is kept); then restart the tunnel pods.',
                'module': 'aks.tunnel.node_firewall', 'nodes': nodes, 'iptables': 'delete_blocking',
                'iptables_rules': dict((r['node'], r['checks']['firewall']['rules']) for r in blocked)}
    if cause == _causes.NFT_BLOCKS_10250:
        rules = dict((r['node'], r['checks']['firewall']['nft_rules']) for r in blocked)
        conditional = any(rule['conditional'] for node_rules in rules.values() for rule in node_rules)
        return {'summary': 'Delete the blocking native nftables rule(s) by handle after a backup of the ruleset (the commands run '
                           'them through Run Command; a drop policy gets an accept rule for TCP %d instead); then restart the tunnel '
                           'pods. Make the change permanent where the rules come from (e.g. /etc/nftables.conf).%s'
                           % (port, ' Some rules match only some packets (conditional): check them before deleting.' if conditional else ''),
                'nodes': nodes, 'nft_rules': rules,
                'commands': [_nft_commands(r, rules[r['node']], node_rg, port) for r in blocked]}
    return {'summary': 'Make the kubelet serve TLS on TCP %d again: look at why it is down or serving without TLS (systemctl status '
                       'kubelet, journalctl -u kubelet; for plain HTTP the serving certificate settings tlsCertFile / '
                       'serverTLSBootstrap in /var/lib/kubelet/config.yaml), then systemctl restart kubelet, or reimage the node.'
                       % port,
            'nodes': nodes,
            'commands': [_run_on(r, node_rg, 'systemctl status kubelet --no-pager; journalctl -u kubelet --no-pager -n 100; '
                                             'ss -ltnp | grep -w %d' % port) for r in blocked]}


def _finding_node(cause, inspections, summary, reach_ran, port, node_rg=None):
    label = _LABELS[cause]
    blocked = []
    evidence = []
    unknown = {}
    inspected = set()
    for r in inspections:
        inspected.add(r['node'])
        if r['status'] != 'succeeded':
            unknown[r['node']] = 'could not be inspected: %s' % r['error']
            continue
        state, text = node_cause_state(cause, r['checks'].get('firewall'), port)
        if state == 'problem':
            blocked.append(r)
            evidence.append('%s: %s' % (r['node'], text))
        elif state == 'unknown':
            unknown.setdefault(r['node'], text)
    not_inspected = dict((u['node'], u['reason']) for u in summary.get('not_inspected') or [])
    for item in summary.get('unreachable_nodes') or []:
        if item['node'] not in inspected:
            unknown.setdefault(item['node'], 'did not answer on TCP %d and was not inspected (%s)' % (
                port, not_inspected.get(item['node']) or 'use inspect_unreachable'))
    for item in summary.get('unprobed_nodes') or []:
        unknown.setdefault(item['node'], item['reason'])
    unknown_lines = ['%s: %s' % (node, reason) for node, reason in sorted(unknown.items())]
    if blocked:
        what = 'is not serving TLS on TCP %d' % port if cause == _causes.KUBELET_NOT_SERVING else 'blocks TCP %d' % port
        return _causes.make_finding(cause, _causes.STATUS_PROBLEM, '%s %s on %d node(s)' % (label[0].upper() + label[1:], what, len(blocked)),
                                    [r['node'] for r in blocked], evidence + ['not checked: %s' % line for line in unknown_lines],
                                    _remediation(cause, blocked, port, node_rg))
    if unknown:
        first = sorted(unknown.items())[0]
        return _causes.make_finding(cause, _causes.STATUS_UNKNOWN, '%s could not be checked on %d node(s) (%s: %s)'
                                    % (label, len(unknown), first[0], first[1]), sorted(unknown), unknown_lines)
    if inspections:
        return _causes.make_finding(cause, _causes.STATUS_OK, 'no %s problem with TCP %d on the %d inspected node(s)'
                                    % (label, port, len(inspections)) if cause == _causes.KUBELET_NOT_SERVING else
                                    'no %s rule blocks TCP %d on the %d inspected node(s)' % (label, port, len(inspections)))
    if reach_ran and summary.get('sources') and not summary.get('unreachable'):
        return _causes.make_finding(cause, _causes.STATUS_OK, 'every node answered on TCP %d from the tunnel nodes' % port)
    # Why (every tunnel node's Run Command failed, timed out, or the diagnosis deadline ended it): the reason goes with it.
    errors = ['%s: %s' % (e['node'], e['error']) for e in summary.get('errors') or []]
    return _causes.make_finding(cause, _causes.STATUS_UNKNOWN, 'neither reachability nor the firewall was checked' + (
        ' (%s)' % errors[0] if errors else ''), evidence=errors)


def _finding_egress(results, egress_wanted, tunnel, cluster=None):
    cause = _causes.EGRESS_PORTS_BLOCKED
    if not egress_wanted:
        return _causes.make_finding(cause, _causes.STATUS_NOT_APPLICABLE, tunnel.get('egress_reason') or 'no tunnel egress is needed')
    ran = [r for r in results if r['status'] == 'succeeded' and 'egress' in r['checks']]
    failed_runs = [r for r in results if r['status'] != 'succeeded' and r.get('role') == 'source']
    bad = []
    evidence = []
    unchecked = []
    for r in ran:
        unchecked.extend('%s: %s' % (r['node'], e['reason']) for e in r['checks']['egress'] if e['ok'] is None)
        reasons = [e['reason'] for e in r['checks']['egress'] if e['ok'] is False]
        if reasons:
            bad.append(r['node'])
            evidence.extend('%s: %s' % (r['node'], reason) for reason in reasons)
    failed = [e for r in ran for e in r['checks']['egress'] if e['ok'] is False]
    if bad and all(_private_dns.is_dns_failure(e['reason']) for e in failed):
        # the name does not resolve on the nodes: no port is blocked, the DNS (a private cluster's zone link) is missing
        summary, remediation = _private_dns.remediation(cluster, failed[0].get('host') or '')
        return _causes.make_finding(cause, _causes.STATUS_PROBLEM, '%s: tunnel egress fails from %d node(s)' % (summary, len(bad)),
                                    bad, evidence, remediation)
    if bad:
        ports = sorted(set('%s %s' % (e['kind'].upper(), e['port']) for r in ran for e in r['checks']['egress'] if e['ok'] is False))
        alpn = any('ALPN' in line for line in evidence)
        summary = 'tunnel egress to the API server fails from %d node(s): %s' % (len(bad), ', '.join(ports))
        remediation = {
            'summary': ('Stop TLS inspection (or exempt the API server FQDN) in the egress firewall/proxy: konnectivity needs the ALPN '
                        'extension unchanged.' if alpn else
                        'Open the port(s) %s from the node subnet to the API server in the egress firewall (or NSG).' % ', '.join(ports)),
            'egress': [{'kind': e['kind'], 'host': e['host'], 'port': e['port']} for e in ran[0]['checks']['egress']] if ran else [],
        }
        return _causes.make_finding(cause, _causes.STATUS_PROBLEM, summary, bad, evidence, remediation)
    if failed_runs or not ran:
        return _causes.make_finding(cause, _causes.STATUS_UNKNOWN, 'egress could not be probed: %s'
                                    % (failed_runs[0]['error'] if failed_runs else 'no source node ran'),
                                    [r['node'] for r in failed_runs])
    if unchecked:
        return _causes.make_finding(cause, _causes.STATUS_UNKNOWN, 'egress could not be fully checked: %s' % unchecked[0],
                                    sorted(set(line.split(':', 1)[0] for line in unchecked)), unchecked)
    return _causes.make_finding(cause, _causes.STATUS_OK, 'tunnel egress to the API server works from %d node(s)' % len(ran))


def findings(causes, results, inspections, summary, checks, tunnel, egress_wanted, port=10250, node_resource_group=None, cluster=None):
    """Findings for the requested cause ids (``node_resource_group`` goes into the advised Run Command commands; ``cluster``, the
    model's cluster, names a private cluster's DNS zone when the nodes cannot resolve the API server)."""
    out = []
    reach_ran = 'tcp_reachability' in checks
    for cause in causes:
        if cause in NODE_CAUSES:
            out.append(_finding_node(cause, inspections, summary, reach_ran, port, node_resource_group))
        elif cause == _causes.EGRESS_PORTS_BLOCKED:
            out.append(_finding_egress(results, egress_wanted, tunnel, cluster))
    return out
