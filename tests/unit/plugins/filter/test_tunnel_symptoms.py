# -*- coding: utf-8 -*-
# Copyright (c) 2026 aks.tunnel contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import pytest
import yaml

from ansible.errors import AnsibleFilterError

from ansible_collections.aks.tunnel.plugins.filter import tunnel_symptoms as plugin
from ansible_collections.aks.tunnel.plugins.filter.tunnel_symptoms import FilterModule, tunnel_symptoms


class _TaggedStr(str):
    """Stands in for the str subclasses Ansible's templar passes to filters."""


@pytest.mark.parametrize('text, causes', [
    ('Error from server: Get "https://10.240.0.5:10250/containerLogs/kube-system/coredns-abc/coredns": dial tcp 10.240.0.5:10250: i/o timeout',
     ['nsg_blocks_10250', 'ufw_blocks_10250', 'iptables_blocks_10250', 'nft_blocks_10250', 'network_path_blocks_10250']),
    ('Error from server: error dialing backend: dial tcp 10.240.0.5:10250: i/o timeout',
     ['nsg_blocks_10250', 'ufw_blocks_10250', 'iptables_blocks_10250', 'nft_blocks_10250', 'network_path_blocks_10250']),
    ('Error from server: Get "https://aks-np-1:10250/containerLogs/ns/pod/c": http: server gave HTTP response to HTTPS client',
     ['kubelet_not_serving', 'iptables_blocks_10250']),
    ('failed calling webhook "w": Post "https://s.ns.svc:443/": read unix @->/tunnel-uds/socket: read: connection reset by peer',
     ['konnectivity_agent_scaling', 'egress_ports_blocked', 'snat_exhaustion']),
    (_TaggedStr('error dialing backend: dial tcp 10.0.0.4:10250: connect: connection refused'),
     ['iptables_blocks_10250', 'kubelet_not_serving', 'ufw_blocks_10250']),
    ('all good', []),
    ('', []),
])
def test_filter_returns_causes(text, causes):
    result = tunnel_symptoms(text)
    assert [item['cause'] for item in result] == causes
    for item in result:
        assert sorted(item) == ['cause', 'explanation', 'next_check']
        assert isinstance(item['explanation'], str) and '\n' not in item['explanation']
        assert item['next_check'].startswith('ansible-playbook playbooks/diagnose.yml --tags ')


def test_filter_result_is_plain_data():
    result = tunnel_symptoms('Error from server: error dialing backend: dial tcp 10.240.0.5:10250: i/o timeout')
    assert result[0] == {
        'cause': 'nsg_blocks_10250',
        'explanation': 'connection to the kubelet port 10.240.0.5:10250 timed out (packets silently dropped): '
                       'an NSG rule (subnet or node NIC NSG) denying TCP 10250 between nodes is the most common cause',
        'next_check': 'ansible-playbook playbooks/diagnose.yml --tags nsg',
    }


@pytest.mark.parametrize('value, type_name', [(None, 'NoneType'), (42, 'int'), (['a', 'b'], 'list'), ({'a': 1}, 'dict'), (b'x', 'bytes')])
def test_filter_rejects_non_strings(value, type_name):
    with pytest.raises(AnsibleFilterError, match='tunnel_symptoms expects a string \\(error text\\), got %s' % type_name):
        tunnel_symptoms(value)


def test_filter_module_registration():
    filters = FilterModule().filters()
    assert list(filters) == ['tunnel_symptoms']
    assert filters['tunnel_symptoms'] is tunnel_symptoms


@pytest.mark.parametrize('block', ['DOCUMENTATION', 'EXAMPLES', 'RETURN'])
def test_docs_are_valid_yaml(block):
    data = yaml.safe_load(getattr(plugin, block))
    assert data
    if block == 'DOCUMENTATION':
        assert data['name'] == 'tunnel_symptoms'
        assert data['version_added'] == '0.1.0'
        assert data['options']['_input']['type'] == 'string'
    if block == 'RETURN':
        assert sorted(data['_value']['contains']) == ['cause', 'explanation', 'next_check']
