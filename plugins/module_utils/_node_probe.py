# -*- coding: utf-8 -*-
# Copyright (c) 2026 aks.tunnel contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Turning Run Command probe results into per-target results, a summary and findings (pure).

Used by vmss_runcommand_probe: one combined script per source node (connect + egress [+ inspect]),
then, optionally, one inspection script per node the sources could not reach.
"""

from __future__ import annotations

from ansible_collections.aks.tunnel.plugins.module_utils import _causes
from ansible_collections.aks.tunnel.plugins.module_utils import _probe_scripts as ps

CHECK_TO_SCRIPT = {'tcp_reachability': 'connect', 'egress': 'egress', 'firewall': 'inspect'}
FINDING_CAUSES = (_causes.UFW_BLOCKS_10250, _causes.IPTABLES_BLOCKS_10250, _causes.EGRESS_PORTS_BLOCKED)


def egress_checks(tunnel, host, overrides=None):
    """Probe egress items ``{kind, host, port}`` for the tunnel component (or the user's overrides)."""
    if overrides:
        return [{'kind': o['kind'], 'host': o.get('host') or host, 'port': int(o['port'])} for o in overrides]
    if not host:
        return []
    return [{'kind': e['kind'], 'host': host, 'port': e['port']} for e in tunnel.get('egress') or []]


def egress_verdict(entry, expected_alpn='konnectivity'):
    """(ok, reason) for one parsed egress line."""
    kind = entry.get('kind')
    where = '%s %s:%s' % (kind, entry.get('host'), entry.get('port'))
    if kind == 'udp':
        if entry.get('udp') == 'reply':
            return True, '%s answered' % where
        return False, '%s: %s' % (where, entry.get('udp') or 'no result')
    if entry.get('tcp') != 'succeeded':
        return False, '%s: TCP %s' % (where, entry.get('tcp') or 'no result')
    if kind == 'tls':
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
    }


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


def summarize(results, all_nodes, port=10250):
    """Reachability across sources: a node is unreachable when any source could not connect to it."""
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
        'errors': errors,
    }


def _finding_fw(cause, kind, inspections, summary, reach_ran, port):
    blocked = [r for r in inspections if r['status'] == 'succeeded' and (r['checks'].get('firewall') or {}).get('blocked_by') == kind]
    failed = [r for r in inspections if r['status'] != 'succeeded']
    label = 'UFW' if kind == 'ufw' else 'iptables'
    if blocked:
        evidence = []
        for r in blocked:
            fwv = r['checks']['firewall']
            evidence.append('%s: %s%s' % (r['node'], fwv['reason'], (' (rules: %s)' % '; '.join(fwv['rules'])) if fwv['rules'] else ''))
        if kind == 'ufw':
            remediation = {'summary': 'Allow TCP %d in UFW from the tunnel nodes only (ufw allow from <tunnel node IP> to any port %d '
                                      'proto tcp) or disable UFW on the node(s) with aks.tunnel.node_firewall; '
                                      'then restart the tunnel pods.' % (port, port),
                           'module': 'aks.tunnel.node_firewall', 'nodes': [r['node'] for r in blocked], 'ufw': 'allow'}
        else:
            remediation = {'summary': 'Delete the blocking iptables rule(s) by their full spec with aks.tunnel.node_firewall '
                                      '(an iptables-save backup is kept); then restart the tunnel pods.',
                           'module': 'aks.tunnel.node_firewall', 'nodes': [r['node'] for r in blocked], 'iptables': 'delete_blocking',
                           'iptables_rules': dict((r['node'], r['checks']['firewall']['rules']) for r in blocked)}
        return _causes.make_finding(cause, _causes.STATUS_PROBLEM, '%s blocks TCP %d on %d node(s)' % (label, port, len(blocked)),
                                    [r['node'] for r in blocked], evidence, remediation)
    if failed:
        return _causes.make_finding(cause, _causes.STATUS_UNKNOWN, 'the firewall of %d node(s) could not be inspected: %s'
                                    % (len(failed), failed[0]['error']), [r['node'] for r in failed],
                                    ['%s: %s' % (r['node'], r['error']) for r in failed])
    if inspections:
        return _causes.make_finding(cause, _causes.STATUS_OK, 'no %s rule blocks TCP %d on the %d inspected node(s)'
                                    % (label, port, len(inspections)))
    if reach_ran and summary['unreachable'] == 0 and summary['sources']:
        return _causes.make_finding(cause, _causes.STATUS_OK, 'every node answered on TCP %d from the tunnel nodes' % port)
    if reach_ran and summary['unreachable']:
        return _causes.make_finding(cause, _causes.STATUS_UNKNOWN, '%d node(s) did not answer on TCP %d and were not inspected '
                                    '(use inspect_unreachable)' % (summary['unreachable'], port),
                                    [u['node'] for u in summary['unreachable_nodes']])
    return _causes.make_finding(cause, _causes.STATUS_UNKNOWN, 'neither reachability nor the firewall was checked')


def _finding_egress(results, egress_wanted, tunnel):
    cause = _causes.EGRESS_PORTS_BLOCKED
    if not egress_wanted:
        return _causes.make_finding(cause, _causes.STATUS_NOT_APPLICABLE, tunnel.get('egress_reason') or 'no tunnel egress is needed')
    ran = [r for r in results if r['status'] == 'succeeded' and 'egress' in r['checks']]
    failed_runs = [r for r in results if r['status'] != 'succeeded' and r.get('role') == 'source']
    bad = []
    evidence = []
    for r in ran:
        reasons = [e['reason'] for e in r['checks']['egress'] if not e['ok']]
        if reasons:
            bad.append(r['node'])
            evidence.extend('%s: %s' % (r['node'], reason) for reason in reasons)
    if bad:
        ports = sorted(set('%s %s' % (e['kind'].upper(), e['port']) for r in ran for e in r['checks']['egress'] if not e['ok']))
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
    return _causes.make_finding(cause, _causes.STATUS_OK, 'tunnel egress to the API server works from %d node(s)' % len(ran))


def findings(causes, results, inspections, summary, checks, tunnel, egress_wanted, port=10250):
    """Findings for the requested cause ids."""
    out = []
    reach_ran = 'tcp_reachability' in checks
    for cause in causes:
        if cause == _causes.UFW_BLOCKS_10250:
            out.append(_finding_fw(cause, 'ufw', inspections, summary, reach_ran, port))
        elif cause == _causes.IPTABLES_BLOCKS_10250:
            out.append(_finding_fw(cause, 'iptables', inspections, summary, reach_ran, port))
        elif cause == _causes.EGRESS_PORTS_BLOCKED:
            out.append(_finding_egress(results, egress_wanted, tunnel))
    return out
