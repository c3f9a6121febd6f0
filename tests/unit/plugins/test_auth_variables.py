# -*- coding: utf-8 -*-
# Copyright (c) 2026 aks.tunnel contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Issue 18: the auth variables of the roles are defined once, in the roles, and reach the same modules as the auth groups."""

from __future__ import annotations

import os

import pytest
import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
VARIABLES = {'aks_tunnel_azure_auth': {}, 'aks_tunnel_subscription_id': '', 'aks_tunnel_kube_auth': {}, 'aks_tunnel_kubeconfig': ''}


def _load(*parts):
    with open(os.path.join(ROOT, *parts), encoding='utf-8') as handle:
        return yaml.safe_load(handle)


def test_variable_groups_hold_the_modules_of_the_auth_groups():
    groups = _load('meta', 'runtime.yml')['action_groups']
    assert groups['azure_from_variables'] == groups['azure']
    assert groups['kubernetes_from_variables'] == groups['kubernetes']


@pytest.mark.parametrize('role', ['diagnose', 'remediate'])
def test_roles_accept_and_default_the_auth_variables(role):
    options = _load('roles', role, 'meta', 'argument_specs.yml')['argument_specs']['main']['options']
    defaults = _load('roles', role, 'defaults', 'main.yml')
    for name, default in VARIABLES.items():
        assert options[name]['default'] == default == defaults[name], name
    with open(os.path.join(ROOT, 'roles', role, 'tasks', 'main.yml'), encoding='utf-8') as handle:
        tasks = handle.read()
    assert 'group/aks.tunnel.azure_from_variables' in tasks and 'group/aks.tunnel.kubernetes_from_variables' in tasks


@pytest.mark.parametrize('playbook', ['diagnose.yml', 'remediate.yml'])
def test_playbooks_leave_the_auth_to_the_roles(playbook):
    assert [play.get('name') for play in _load('playbooks', playbook) if 'module_defaults' in play] == []
