# -*- coding: utf-8 -*-
# Copyright (c) 2026 aks.tunnel contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Microsoft.Compute: VMSS and VMSS VMs of the node resource group, and the VMSS VM action run command.

Run command behaves like the real service (azure-rest-facts.md section 1): POST -> 202 with absolute
Azure-AsyncOperation and Location (monitor=true) URLs; the status resource goes InProgress -> Succeeded
(with properties.output) or Failed (with error); Location answers 202 then 200 RunCommandResult; one
run at a time per VM (409 Conflict, no Retry-After); each stream keeps its last 4096 bytes; the
script's exit code is not reported; parameter values become positional arguments in order.
"""

from __future__ import annotations

import logging
import threading
import urllib.parse

from ..common import ArmError, Response, iso, not_found, stable_uuid, utcnow
from .network import lb_backend_pool_id, has_lb

LOG = logging.getLogger(__name__)
OUTPUT_LIMIT = 4096
SCRIPT_LIMIT = 256 * 1024
CONFLICT_MESSAGE = 'Run command extension execution is in progress. Please wait for completion before invoking a run command.'
FAIL_MESSAGE = ("VM has reported a failure when processing extension 'RunCommandLinux' (publisher 'Microsoft.CPlat.Core' and type "
                "'RunCommandLinux'). Error message: 'Enable failed: failed to execute command: command terminated with exit status=1'. "
                "More information on troubleshooting is available at https://aka.ms/VMExtensionRCLinuxTroubleshoot.")
TIMEOUT_MESSAGE = ("Provisioning of VM extension RunCommandLinux has timed out. Extension provisioning has taken too long to complete. "
                   "The extension did not report a message. More information on troubleshooting is available at "
                   "https://aka.ms/VMExtensionRCLinuxTroubleshoot.")


def _pool_hash(vmss_name):
    parts = vmss_name.split('-')
    return parts[-2] if len(parts) >= 4 else ''


def _nic_configs(state, pool):
    ipconf = {'name': 'ipconfig1', 'properties': {'primary': True, 'subnet': {'id': state.topology['vnet']['subnet_id']},
                                                  'privateIPAddressVersion': 'IPv4'}}
    if has_lb(state):
        ipconf['properties']['loadBalancerBackendAddressPools'] = [{'id': lb_backend_pool_id(state)}]
    props = {'primary': True, 'enableAcceleratedNetworking': False, 'enableIPForwarding': True, 'ipConfigurations': [ipconf]}
    if state.nic_nsg_enabled:
        props['networkSecurityGroup'] = {'id': state.topology['nic_nsg']['id']}
    return [{'name': pool['vmss_name'], 'properties': props}]


def _tags(state, pool):
    return {'aks-managed-poolName': pool['name'], 'aks-managed-orchestrator': 'Kubernetes:%s' % state.cluster_props['kubernetes_version'],
            'aks-managed-createOperationID': stable_uuid('createop', pool['vmss_id']), 'aks-managed-creationSource': 'vmssclient-%s' % pool['vmss_name'],
            'aks-managed-resourceNameSuffix': _pool_hash(pool['vmss_name'])}


def render_vmss(state, pool):
    return {
        'id': pool['vmss_id'], 'name': pool['vmss_name'], 'type': 'Microsoft.Compute/virtualMachineScaleSets', 'location': state.location,
        'tags': _tags(state, pool), 'sku': {'name': pool['vm_size'], 'tier': 'Standard', 'capacity': pool['count']},
        'properties': {
            'singlePlacementGroup': False, 'orchestrationMode': 'Uniform', 'upgradePolicy': {'mode': 'Manual'}, 'overprovision': False,
            'doNotRunExtensionsOnOverprovisionedVMs': False, 'provisioningState': 'Succeeded', 'uniqueId': stable_uuid('vmss', pool['vmss_id']),
            'timeCreated': '2026-01-01T00:00:00.0000000+00:00',
            'virtualMachineProfile': {
                'osProfile': {'computerNamePrefix': pool['vmss_name'], 'adminUsername': 'azureuser',
                              'linuxConfiguration': {'disablePasswordAuthentication': True, 'provisionVMAgent': True}, 'secrets': [],
                              'allowExtensionOperations': True, 'requireGuestProvisionSignal': True},
                'storageProfile': {'osDisk': {'osType': 'Linux', 'createOption': 'FromImage', 'caching': 'ReadOnly', 'diskSizeGB': 128,
                                              'managedDisk': {'storageAccountType': 'Premium_LRS'}}},
                'networkProfile': {'networkInterfaceConfigurations': _nic_configs(state, pool)},
            },
        },
    }


def render_vm(state, pool, node, expand=None):
    disk_name = '%s_%s_OsDisk_1_%s' % (node['vmss_name'], node['instance_id'], stable_uuid('disk', node['vm_id']).replace('-', ''))
    props = {
        'latestModelApplied': True, 'vmId': stable_uuid('vm', node['vm_id']), 'provisioningState': 'Succeeded',
        'hardwareProfile': {'vmSize': pool['vm_size']},
        'storageProfile': {'osDisk': {'osType': 'Linux', 'name': disk_name,
                                      'createOption': 'FromImage', 'caching': 'ReadOnly', 'diskSizeGB': 128,
                                      'managedDisk': {'storageAccountType': 'Premium_LRS'}}, 'dataDisks': []},
        'osProfile': {'computerName': node['name'], 'adminUsername': 'azureuser',
                      'linuxConfiguration': {'disablePasswordAuthentication': True, 'provisionVMAgent': True}, 'secrets': [],
                      'allowExtensionOperations': True, 'requireGuestProvisionSignal': True},
        'networkProfile': {'networkInterfaces': [{'id': node['nic_id'], 'properties': {'primary': True}}]},
        'networkProfileConfiguration': {'networkInterfaceConfigurations': _nic_configs(state, pool)},
        'timeCreated': '2026-01-01T00:00:00.0000000+00:00',
    }
    if expand and 'instanceview' in expand.lower():
        props['instanceView'] = {'computerName': node['name'], 'osName': 'ubuntu', 'osVersion': '22.04',
                                 'statuses': [{'code': 'ProvisioningState/succeeded', 'level': 'Info', 'displayStatus': 'Provisioning succeeded'},
                                              {'code': 'PowerState/running', 'level': 'Info', 'displayStatus': 'VM running'}]}
    return {'id': node['vm_id'], 'name': '%s_%s' % (node['vmss_name'], node['instance_id']), 'instanceId': node['instance_id'],
            'type': 'Microsoft.Compute/virtualMachineScaleSets/virtualMachines', 'location': state.location, 'tags': _tags(state, pool),
            'sku': {'name': pool['vm_size'], 'tier': 'Standard'}, 'properties': props}


def _pool_or_404(ctx, p):
    pool = ctx.state.vmss(p['rg'], p['vmss'])
    if pool is None:
        raise not_found('Microsoft.Compute/virtualMachineScaleSets', p['vmss'], p['rg'])
    return pool


def _node_or_404(ctx, p, pool):
    node = ctx.state.node(pool['vmss_name'], p['instance'])
    if node is None:
        raise ArmError(404, 'NotFound', 'The entity was not found in this Azure location.')
    return node


def vmss_list(ctx, p):
    with ctx.state.lock:
        rg = p.get('rg')
        if rg is not None and rg.lower() != ctx.state.node_resource_group.lower():
            if not ctx.state.known_resource_group(rg):
                raise ArmError(404, 'ResourceGroupNotFound', "Resource group '%s' could not be found." % rg)
            return Response(200, {'value': []})
        return Response(200, {'value': [render_vmss(ctx.state, pool) for pool in ctx.state.topology['pools']]})


def vmss_get(ctx, p):
    with ctx.state.lock:
        return Response(200, render_vmss(ctx.state, _pool_or_404(ctx, p)))


def vm_list(ctx, p):
    with ctx.state.lock:
        pool = _pool_or_404(ctx, p)
        nodes = ctx.state.nodes_of(pool['vmss_name'])
        size = max(1, int(ctx.state.settings['vmss_vm_page_size']))
        try:
            start = int(ctx.query.get('$skiptoken') or 0)
        except ValueError:
            raise ArmError(400, 'InvalidParameter', "The value of parameter '$skiptoken' is invalid.", target='$skiptoken') from None
        page = nodes[start:start + size]
        body = {'value': [render_vm(ctx.state, pool, n, ctx.query.get('$expand')) for n in page]}
        if start + size < len(nodes):
            query = {'api-version': ctx.api_version, '$skiptoken': str(start + size)}
            if ctx.query.get('$expand'):
                query['$expand'] = ctx.query['$expand']
            body['nextLink'] = '%s%s?%s' % (ctx.base, ctx.path, urllib.parse.urlencode(query))
        return Response(200, body)


def vm_get(ctx, p):
    with ctx.state.lock:
        pool = _pool_or_404(ctx, p)
        return Response(200, render_vm(ctx.state, pool, _node_or_404(ctx, p, pool), ctx.query.get('$expand')))


def _result(code_state, level, display, message):
    return {'value': [{'code': 'ProvisioningState/%s' % code_state, 'level': level, 'displayStatus': display, 'message': message}]}


def format_output(stdout, stderr):
    """The Linux RunCommand handler's message: last 4096 bytes of each stream."""
    out = stdout[-OUTPUT_LIMIT:].decode('utf-8', 'replace')
    err = stderr[-OUTPUT_LIMIT:].decode('utf-8', 'replace')
    return 'Enable succeeded: \n[stdout]\n%s\n[stderr]\n%s' % (out, err)


def run_command(ctx, p):
    state = ctx.state
    body = ctx.body
    if not isinstance(body, dict):
        raise ArmError(400, 'InvalidRequestFormat', 'The request content was invalid and could not be deserialized.')
    with state.lock:
        pool = _pool_or_404(ctx, p)
        node = _node_or_404(ctx, p, pool)
    command_id = body.get('commandId')
    if not command_id:
        raise ArmError(400, 'InvalidParameter', "Required parameter 'commandId' is missing (null).", target='commandId')
    script_lines = body.get('script') or []
    if not isinstance(script_lines, list) or not all(isinstance(x, str) for x in script_lines):
        raise ArmError(400, 'InvalidParameter', "The value of parameter 'script' is invalid: it must be an array of strings.", target='script')
    if command_id == 'RunShellScript':
        script = '\n'.join(script_lines)
    elif command_id == 'ifconfig':
        script = '\n'.join(script_lines) if script_lines else 'ifconfig'
    else:
        raise ArmError(404, 'NotFound', 'The entity was not found in this Azure location.')
    if len(script.encode()) > SCRIPT_LIMIT:
        raise ArmError(400, 'InvalidParameter', 'The script is larger than the maximum of %d bytes.' % SCRIPT_LIMIT, target='script')
    params = body.get('parameters') or []
    if not isinstance(params, list) or not all(isinstance(x, dict) and 'value' in x and 'name' in x for x in params):
        raise ArmError(400, 'InvalidParameter', "The value of parameter 'parameters' is invalid: each entry needs name and value.", target='parameters')
    args = ['' if x['value'] is None else str(x['value']) for x in params]
    # (name, value): the executor writes them into the script as the Linux handler does (executor.handler_script)
    named = [(str(x['name']), value) for x, value in zip(params, args)]
    vm_key = node['vm_id'].lower()
    with state.lock:
        if vm_key in state.runcommand_busy:
            raise ArmError(409, 'Conflict', CONFLICT_MESSAGE)
        fault = ctx.faults.take_runcommand_fault(node)
        op = ctx.new_operation('Microsoft.Compute', 'runcommand')
        state.runcommand_busy[vm_key] = op.id
        entry = {'operation_id': op.id, 'node': node['name'], 'vm_id': node['vm_id'], 'command_id': command_id, 'script': script, 'args': args,
                 'fault': fault['type'] if fault else None, 'status': 'InProgress', 'start_time': iso(op.start), 'end_time': None,
                 'stdout': None, 'stderr': None}
        state.runcommand_journal.append(entry)
        del state.runcommand_journal[:-500]
    worker = threading.Thread(target=_execute, name='runcommand-%s' % node['name'],
                              args=(ctx.emulator, state, node, script, named, op, fault, entry), daemon=True)
    worker.start()
    return Response(202, None, ctx.lro_headers(op, location=True))


def _finish(state, node, op, entry, status, error=None, output=None):
    with state.lock:
        if state.runcommand_busy.get(node['vm_id'].lower()) == op.id:
            del state.runcommand_busy[node['vm_id'].lower()]
        if op.status == 'InProgress':
            op.finish(status, error=error, output=output)
        entry['status'] = op.status
        entry['end_time'] = iso(op.end or utcnow())


def _wait_unreported(emulator, state, node, op, entry):
    """Stay InProgress until released by the admin endpoint, the run command timeout, or stop."""
    deadline = state.settings['runcommand_timeout_s']
    if not op.done.wait(deadline) and not emulator.stopping.is_set():
        _finish(state, node, op, entry, 'Failed', error={'code': 'VMExtensionProvisioningTimeout', 'message': TIMEOUT_MESSAGE})
    else:
        _finish(state, node, op, entry, op.status)


def _execute(emulator, state, node, script, args, op, fault, entry):
    try:
        if emulator.stopping.wait(state.settings['runcommand_latency_s']):
            return
        ftype = fault['type'] if fault else None
        if ftype == 'runcommand_hang':
            _wait_unreported(emulator, state, node, op, entry)
            return
        try:
            stdout, stderr = emulator.executor.run(node, script, list(args), state.settings['runcommand_timeout_s'])
        except Exception as exc:  # pylint: disable=broad-except
            LOG.exception('executor failed for %s', node['name'])
            _finish(state, node, op, entry, 'Failed', error={'code': 'VMExtensionProvisioningError',
                                                             'message': FAIL_MESSAGE.replace('failed to execute command: command terminated with exit '
                                                                                             'status=1', 'lab executor error: %s' % exc)})
            return
        entry['stdout'] = stdout[-OUTPUT_LIMIT:].decode('utf-8', 'replace')
        entry['stderr'] = stderr[-OUTPUT_LIMIT:].decode('utf-8', 'replace')
        if ftype == 'runcommand_unreported':
            _wait_unreported(emulator, state, node, op, entry)
        elif ftype == 'runcommand_fail':
            _finish(state, node, op, entry, 'Failed', error={'code': fault.get('code', 'VMExtensionProvisioningError'),
                                                             'message': fault.get('message', FAIL_MESSAGE)})
        else:
            _finish(state, node, op, entry, 'Succeeded', output=_result('succeeded', 'Info', 'Provisioning succeeded', format_output(stdout, stderr)))
    except Exception:  # pylint: disable=broad-except
        LOG.exception('run command worker crashed')
        _finish(state, node, op, entry, 'Failed', error={'code': 'InternalExecutionError', 'message': 'The lab run command worker crashed.'})


def release_hung(state, error=None):
    """Admin: fail every run command still InProgress (as the 90-minute timeout would)."""
    released = []
    for op in state.operations.all():
        if op.kind == 'runcommand' and op.status == 'InProgress':
            op.finish('Failed', error=error or {'code': 'VMExtensionProvisioningTimeout', 'message': TIMEOUT_MESSAGE})
            released.append(op.id)
    return released


def location_body(op):
    """Location (monitor=true) answer for a finished run command."""
    if op.status == 'Succeeded':
        return op.output or _result('succeeded', 'Info', 'Provisioning succeeded', 'Enable succeeded: \n[stdout]\n\n[stderr]\n')
    return _result('failed', 'Error', 'Provisioning failed', (op.error or {}).get('message', 'Enable failed'))
