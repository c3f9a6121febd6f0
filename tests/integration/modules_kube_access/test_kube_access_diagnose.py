# -*- coding: utf-8 -*-
# Copyright (c) 2026 aks.tunnel contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""diagnose.yml without any kubeconfig (issue 16), opt-in: AKS_TUNNEL_LAB_KUBE_ACCESS_PLAYBOOKS=1 (four playbook runs, about two
minutes; the module-level tests next to this file run in make test).

entra-only: the pipeline's service principal only (Entra token for the AKS server application); private-cluster: every
Kubernetes request through the run command; private-dns-unlinked: the same, and egress_ports_blocked names the private DNS
zone link to create; diagnose-only Azure role without listClusterUserCredential: the Azure-side checks run, the Kubernetes
side is UNKNOWN with the 403."""

from __future__ import annotations

import importlib.util
import os

import pytest
import yaml

pytestmark = [pytest.mark.lab, pytest.mark.xdist_group('kube_access_playbooks'),
              pytest.mark.skipif(os.environ.get('AKS_TUNNEL_LAB_KUBE_ACCESS_PLAYBOOKS') != '1',
                                 reason='opt-in: AKS_TUNNEL_LAB_KUBE_ACCESS_PLAYBOOKS=1')]

HERE = os.path.dirname(os.path.abspath(__file__))


def _playbooks():
    spec = importlib.util.spec_from_file_location('aks_tunnel_playbooks_lab_ka', os.path.join(HERE, '..', 'playbooks', 'test_playbooks_lab.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _diagnose_without_kubeconfig(tmp_path, monkeypatch, scenario, auth='aks_tunnel_azure_auth'):
    home = tmp_path / 'home'
    home.mkdir()
    monkeypatch.setenv('HOME', str(home))   # no ~/.kube/config either
    monkeypatch.delenv('K8S_AUTH_KUBECONFIG', raising=False)
    env = _playbooks().PlaybookLab(tmp_path, scenario)
    try:
        with open(env.vars_file, encoding='utf-8') as handle:
            variables = yaml.safe_load(handle)
        variables.pop('aks_tunnel_kubeconfig', None)
        variables['aks_tunnel_azure_auth'] = variables[auth]
        with open(env.vars_file, 'w', encoding='utf-8') as handle:
            yaml.safe_dump(variables, handle)
        run = env.play('diagnose', '-e', 'aks_tunnel_fail_on_problem=false')
        return run, env.expect
    finally:
        env.down()


@pytest.mark.parametrize('scenario, mode', [('entra-only', 'arm (Entra ID token)'), ('private-cluster', 'run_command')])
def test_diagnosis_without_kubeconfig_is_exact(tmp_path, monkeypatch, scenario, mode):
    run, expect = _diagnose_without_kubeconfig(tmp_path, monkeypatch, scenario)
    assert run.rc == 0, run
    assert 'Kubernetes through %s' % mode in run.output
    assert run.report['problems'] == expect['problems']
    statuses = {f['cause']: f['status'] for f in run.report['findings']}
    assert set(statuses.values()) <= {'ok', 'not_applicable'}, statuses
    assert statuses['konnectivity_agent_scaling'] == statuses['kubelet_not_serving'] == 'ok'


def test_private_dns_zone_not_linked_is_diagnosed_through_the_run_command(tmp_path, monkeypatch):
    run, expect = _diagnose_without_kubeconfig(tmp_path, monkeypatch, 'private-dns-unlinked')
    assert run.rc == 2, run  # the verdict: a problem
    assert 'egress_ports_blocked: az network private-dns link vnet create --resource-group MC_rg-aks-lab_aks-lab_westeurope' in run.output
    assert 'Kubernetes through run_command' in run.output
    assert run.report['problems'] == expect['problems'] == ['egress_ports_blocked']
    finding = next(f for f in run.report['findings'] if f['cause'] == 'egress_ports_blocked')
    assert finding['affected_nodes'] == ['aks-nodepool1-64844604-vmss000000', 'aks-user1-64844604-vmss000000']
    assert "cannot resolve the API server's private FQDN" in finding['summary']
    assert finding['remediation']['commands'][0].startswith('az network private-dns link vnet create --resource-group MC_rg-aks-lab_aks-lab_westeurope')
    statuses = {f['cause']: f['status'] for f in run.report['findings']}
    assert statuses['kubelet_not_serving'] == 'unknown' and 'problem' not in set(statuses.values()) - {statuses['egress_ports_blocked']}


def test_without_kubernetes_access_the_azure_side_still_runs(tmp_path, monkeypatch):
    run, _expect = _diagnose_without_kubeconfig(tmp_path, monkeypatch, 'healthy', auth='aks_tunnel_lab_diagnose_auth')
    assert 'Kubernetes NOT READ, its checks are unknown' in run.output and 'listClusterUserCredential/action' in run.output
    statuses = {f['cause']: f['status'] for f in run.report['findings']}
    assert statuses['snat_exhaustion'] == 'ok'
    assert statuses['konnectivity_agent_scaling'] == statuses['kubelet_not_serving'] == statuses['egress_ports_blocked'] == 'unknown'
    assert 'problem' not in statuses.values()
