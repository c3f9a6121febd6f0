# -*- coding: utf-8 -*-
# Copyright (c) 2026 aks.tunnel contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Microsoft.Compute through ComputeManagementClient: VMSS by pool tag, NIC configs, VMSS VMs (paged), computer names."""

from __future__ import annotations

import pytest
from azure.core.exceptions import ResourceNotFoundError

COMPUTE_API = '2026-04-01'


def test_vmss_list_tagged_by_pool(arm):
    scale_sets = list(arm.compute().virtual_machine_scale_sets.list(arm.node_rg))
    assert {s.tags['aks-managed-poolName']: s.name for s in scale_sets} == arm.vmss
    assert {s.name: s.sku.capacity for s in scale_sets} == {arm.vmss['system']: 2, arm.vmss['user']: 120}
    assert all(s.tags['aks-managed-orchestrator'] == 'Kubernetes:1.33.3' for s in scale_sets)
    assert sorted(s.name for s in arm.compute().virtual_machine_scale_sets.list_all()) == sorted(arm.vmss.values())


def test_vmss_network_profile_names_nsg_and_subnet(arm):
    vmss = arm.compute().virtual_machine_scale_sets.get(arm.node_rg, arm.vmss['user'])
    config = vmss.virtual_machine_profile.network_profile.network_interface_configurations[0]
    assert config.network_security_group.id == arm.nsg_id
    assert config.ip_configurations[0].subnet.id == arm.topology['vnet']['subnet_id']
    assert config.ip_configurations[0].load_balancer_backend_address_pools[0].id == arm.lb_id + '/backendAddressPools/kubernetes'
    assert vmss.virtual_machine_profile.os_profile.computer_name_prefix == arm.vmss['user']


def test_vmss_vms_list_is_paged_and_complete(arm):
    since = arm.journal_seq()
    vms = list(arm.compute().virtual_machine_scale_set_vms.list(arm.node_rg, arm.vmss['user']))
    assert len(vms) == 120
    assert [vm.instance_id for vm in vms] == [str(i) for i in range(120)]
    pages = [e for e in arm.journal(since) if e['route'] == 'vm_list']
    assert len(pages) == 3
    assert pages[0]['body']['nextLink'].startswith(arm.url + '/subscriptions/')


@pytest.mark.parametrize('instance, suffix', [(0, '000000'), (10, '00000a'), (35, '00000z'), (36, '000010'), (119, '00003b')])
def test_computer_name_is_vmss_name_plus_base36(arm, instance, suffix):
    vm = arm.compute().virtual_machine_scale_set_vms.get(arm.node_rg, arm.vmss['user'], str(instance))
    assert vm.os_profile.computer_name == arm.vmss['user'] + suffix
    assert vm.name == '%s_%d' % (arm.vmss['user'], instance)
    assert vm.id == '%s/virtualMachines/%d' % (arm.topology['pools'][1]['vmss_id'], instance)
    assert vm.network_profile.network_interfaces[0].id.endswith('/virtualMachines/%d/networkInterfaces/%s' % (instance, arm.vmss['user']))


def test_vm_instance_view_expand(arm):
    vm = arm.compute().virtual_machine_scale_set_vms.get(arm.node_rg, arm.vmss['system'], '0', expand='instanceView')
    assert [s.code for s in vm.instance_view.statuses] == ['ProvisioningState/succeeded', 'PowerState/running']


def test_unknown_vmss_and_instance(arm):
    with pytest.raises(ResourceNotFoundError):
        arm.compute().virtual_machine_scale_sets.get(arm.node_rg, 'aks-nope-1-vmss')
    with pytest.raises(ResourceNotFoundError):
        arm.compute().virtual_machine_scale_set_vms.get(arm.node_rg, arm.vmss['system'], '7')


def test_lowercase_virtualmachines_path_segment(arm):
    path = '/subscriptions/%s/resourcegroups/%s/providers/microsoft.compute/virtualmachinescalesets/%s/virtualmachines/1' % (
        arm.subscription_id, arm.node_rg.lower(), arm.vmss['system'])
    response = arm.arm('GET', path, COMPUTE_API)
    assert response.status_code == 200
    assert response.json()['id'] == arm.node('system-1')['vm_id']
