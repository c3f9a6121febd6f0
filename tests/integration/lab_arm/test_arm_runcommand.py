# -*- coding: utf-8 -*-
# Copyright (c) 2026 aks.tunnel contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""VMSS VM action run command, exactly like the real service, through begin_run_command and raw HTTP."""

from __future__ import annotations

import os
import time

import pytest
from azure.core.exceptions import HttpResponseError, ResourceExistsError, ResourceNotFoundError

from ansible_collections.aks.tunnel.tests.lab.arm import ArmEmulator, LocalBashExecutor
from ansible_collections.aks.tunnel.tests.lab.arm.executor import handler_script

COMPUTE_API = '2026-04-01'


def _run(arm, script, params=(), instance='0', pool='system', client=None, **kwargs):
    body = {'commandId': 'RunShellScript', 'script': script if isinstance(script, list) else [script],
            'parameters': [{'name': 'arg%d' % (i + 1), 'value': v} for i, v in enumerate(params)]}
    return arm.compute(client, **kwargs).virtual_machine_scale_set_vms.begin_run_command(arm.node_rg, arm.vmss[pool], instance, body).result()


def _path(arm, instance='0', pool='system'):
    return '/subscriptions/%s/resourceGroups/%s/providers/Microsoft.Compute/virtualMachineScaleSets/%s/virtualMachines/%s/runCommand' % (
        arm.subscription_id, arm.node_rg, arm.vmss[pool], instance)


def _wait_done(arm, url, timeout=10):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        body = arm.arm('GET', url).json()
        if body['status'] != 'InProgress':
            return body
        time.sleep(0.05)
    raise AssertionError('operation still InProgress after %ss' % timeout)


def test_result_message_shape_and_positional_args(arm):
    result = _run(arm, ['echo "one=$1 two=$2 count=$# env=$arg1,$arg2"', 'echo oops >&2'], params=['a', '--x'])
    assert len(result.value) == 1
    status = result.value[0]
    assert (status.code, status.level, status.display_status) == ('ProvisioningState/succeeded', 'Info', 'Provisioning succeeded')
    assert status.message == 'Enable succeeded: \n[stdout]\none=a two=--x count=2 env=a,--x\n\n[stderr]\noops\n'


def test_parameters_are_pasted_unquoted_into_the_script_like_azure(arm, tmp_path):
    """The Linux handler writes `export arg1=v1 ...` and `set -- v1 ...` on top of the script, values
    unquoted (Azure/azure-cli#10400): spaces split a value, and `$(...)` in a value runs before the
    script's first line. The lab does the same, so tests see what Azure does."""
    marker = tmp_path / 'ran'
    result = _run(arm, ['echo "count=$# first=$1 last=${@: -1}"'], params=['a b', '$(touch %s)x' % marker])
    assert result.value[0].message == 'Enable succeeded: \n[stdout]\ncount=3 first=a last=x\n\n[stderr]\n'
    assert marker.exists()
    # a value that is not a shell word breaks the script before it starts
    broken = _run(arm, ['echo reached'], params=['a(b']).value[0].message
    assert 'reached' not in broken and 'syntax error' in broken


def test_script_runs_for_the_addressed_node(arm):
    result = _run(arm, 'echo "$LAB_NODE_NAME $LAB_NODE_IP"', instance='5', pool='user')
    node = arm.node('user-5')
    assert '[stdout]\n%s %s\n' % (node['name'], node['ip']) in result.value[0].message


def test_exit_code_is_not_reported(arm):
    result = _run(arm, 'echo before; exit 3')
    assert result.value[0].code == 'ProvisioningState/succeeded'
    assert result.value[0].message == 'Enable succeeded: \n[stdout]\nbefore\n\n[stderr]\n'


def test_each_stream_keeps_its_last_4096_bytes(arm):
    result = _run(arm, "head -c 5000 /dev/zero | tr '\\0' a; printf END; head -c 6000 /dev/zero | tr '\\0' b >&2; printf ERR >&2")
    message = result.value[0].message
    stdout = message.split('\n[stdout]\n', 1)[1].split('\n[stderr]\n', 1)[0]
    stderr = message.split('\n[stderr]\n', 1)[1]
    assert len(stdout) == 4096 and stdout.endswith('aaaEND')
    assert len(stderr) == 4096 and stderr.endswith('bbbERR')


def test_raw_202_absolute_urls_and_polling(arm):
    response = arm.arm('POST', _path(arm, '1'), COMPUTE_API, json={'commandId': 'RunShellScript', 'script': ['echo raw']})
    assert response.status_code == 202
    assert response.content == b''
    async_url = response.headers['Azure-AsyncOperation']
    location = response.headers['Location']
    prefix = arm.url + '/subscriptions/%s/providers/Microsoft.Compute/locations/westeurope/operations/' % arm.subscription_id
    assert async_url.startswith(prefix) and 'api-version=2026-04-01' in async_url
    assert location.startswith(prefix) and 'monitor=true' in location
    first = arm.arm('GET', async_url)
    assert first.status_code == 200
    assert first.json()['status'] == 'InProgress'
    assert 'startTime' in first.json()
    pending = arm.arm('GET', location)
    assert pending.status_code == 202 and pending.content == b''
    done = _wait_done(arm, async_url)
    assert done['status'] == 'Succeeded'
    assert done['properties']['output']['value'][0]['message'] == 'Enable succeeded: \n[stdout]\nraw\n\n[stderr]\n'
    assert 'endTime' in done
    final = arm.arm('GET', location)
    assert final.status_code == 200
    assert final.json() == done['properties']['output']


def test_second_run_while_busy_is_409_without_retry_after(arm):
    # the first run hangs (deterministic under load) until released below
    arm.admin('POST', 'faults', {'faults': [{'type': 'runcommand_hang', 'node': 'system-1', 'count': 1}]})
    first = arm.arm('POST', _path(arm, '1'), COMPUTE_API, json={'commandId': 'RunShellScript', 'script': ['true']})
    assert first.status_code == 202
    second = arm.arm('POST', _path(arm, '1'), COMPUTE_API, json={'commandId': 'RunShellScript', 'script': ['true']})
    assert second.status_code == 409
    assert second.json() == {'error': {'code': 'Conflict', 'message': 'Run command extension execution is in progress. Please wait for '
                                                                      'completion before invoking a run command.'}}
    assert 'Retry-After' not in second.headers
    with pytest.raises(ResourceExistsError):
        _run(arm, 'true', instance='1')
    # another VM is not blocked
    assert _run(arm, 'echo free', instance='0').value[0].message.startswith('Enable succeeded')
    arm.admin('POST', 'runcommands/release')
    assert _wait_done(arm, first.headers['Azure-AsyncOperation'])['status'] == 'Failed'
    assert _run(arm, 'echo free again', instance='1').value[0].message.startswith('Enable succeeded')


def test_failed_run_command_raises_with_error(arm):
    arm.admin('POST', 'faults', {'faults': [{'type': 'runcommand_fail', 'node': 'system-0', 'count': 1}]})
    with pytest.raises(HttpResponseError) as info:
        _run(arm, 'echo hi')
    assert 'VMExtensionProvisioningError' in str(info.value)
    assert "VM has reported a failure when processing extension 'RunCommandLinux'" in str(info.value)
    # the fault was used up
    assert _run(arm, 'echo ok').value[0].message.startswith('Enable succeeded')


def test_hanging_run_command_stays_in_progress_until_released(arm):
    arm.admin('POST', 'faults', {'faults': [{'type': 'runcommand_hang', 'node': 'system-1', 'count': 1}]})
    marker = os.path.join(arm.state_dir, 'hang-marker')
    response = arm.arm('POST', _path(arm, '1'), COMPUTE_API, json={'commandId': 'RunShellScript', 'script': ['touch %s' % marker]})
    url = response.headers['Azure-AsyncOperation']
    time.sleep(0.5)
    assert arm.arm('GET', url).json()['status'] == 'InProgress'
    assert arm.arm('GET', response.headers['Location']).status_code == 202
    assert arm.arm('POST', _path(arm, '1'), COMPUTE_API, json={'commandId': 'RunShellScript', 'script': ['true']}).status_code == 409
    assert not os.path.exists(marker)
    released = arm.admin('POST', 'runcommands/release')['released']
    assert len(released) == 1
    body = _wait_done(arm, url)
    assert body['status'] == 'Failed'
    assert body['error']['code'] == 'VMExtensionProvisioningTimeout'


def test_unreported_run_command_executes_but_never_completes(arm):
    arm.admin('POST', 'faults', {'faults': [{'type': 'runcommand_unreported', 'node': 'system-0', 'count': 1}]})
    marker = os.path.join(arm.state_dir, 'unreported-marker')
    response = arm.arm('POST', _path(arm, '0'), COMPUTE_API, json={'commandId': 'RunShellScript', 'script': ['touch "$1"'],
                                                                   'parameters': [{'name': 'p', 'value': marker}]})
    deadline = time.monotonic() + 5
    while not os.path.exists(marker) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert os.path.exists(marker)
    time.sleep(0.2)
    assert arm.arm('GET', response.headers['Azure-AsyncOperation']).json()['status'] == 'InProgress'
    journal = arm.admin('GET', 'runcommands')['value']
    assert journal[-1]['fault'] == 'runcommand_unreported' and journal[-1]['args'] == [marker]


def test_run_command_timeout_setting_fails_unreported_run(arm):
    arm.admin('POST', 'settings', {'runcommand_timeout_s': 0.5})
    arm.admin('POST', 'faults', {'faults': [{'type': 'runcommand_unreported', 'node': 'system-0', 'count': 1}]})
    with pytest.raises(HttpResponseError) as info:
        _run(arm, 'true')
    assert 'VMExtensionProvisioningTimeout' in str(info.value)


def test_throttled_run_command_post_is_retried(arm):
    arm.admin('POST', 'faults', {'faults': [{'type': 'throttle', 'on': 'runcommand', 'count': 1, 'retry_after': 1}]})
    since = arm.journal_seq()
    assert _run(arm, 'echo after-429').value[0].message == 'Enable succeeded: \n[stdout]\nafter-429\n\n[stderr]\n'
    assert [e['status'] for e in arm.journal(since) if e['route'] == 'run_command'] == [429, 202]


def test_unknown_command_id_is_not_found(arm):
    with pytest.raises(ResourceNotFoundError):
        arm.compute().virtual_machine_scale_set_vms.begin_run_command(arm.node_rg, arm.vmss['system'], '0',
                                                                      {'commandId': 'RunPowerShellScript', 'script': ['dir']}).result()


def test_missing_command_id_is_invalid_parameter(arm):
    response = arm.arm('POST', _path(arm, '0'), COMPUTE_API, json={'script': ['true']})
    assert response.status_code == 400
    assert response.json()['error']['code'] == 'InvalidParameter'


def test_pluggable_executor_in_process(tmp_path):
    calls = []

    class Recorder:
        def run(self, node, script, args, timeout):
            calls.append((node['name'], script, args, timeout))
            return b'from ' + node['ip'].encode(), b''

    config = {'cluster': {'name': 'plug', 'resource_group': 'plug-rg'}, 'node_pools': [{'name': 'np', 'count': 2}], 'runcommand_timeout_s': 30}
    with ArmEmulator(config, executor=Recorder(), state_dir=str(tmp_path)) as emu:
        from azure.identity import ClientSecretCredential  # pylint: disable=import-outside-toplevel
        from azure.mgmt.compute import ComputeManagementClient  # pylint: disable=import-outside-toplevel
        cred = ClientSecretCredential(emu.state.tenant_id, '22222222-2222-4222-8222-22222222e5f6', 'lab-client-secret', authority=emu.url,
                                      disable_instance_discovery=True, connection_verify=emu.ca_path)
        client = ComputeManagementClient(cred, emu.state.subscription_id, base_url=emu.url, credential_scopes=[emu.url + '/.default'],
                                         connection_verify=emu.ca_path)
        node = emu.state.topology['nodes'][1]
        result = client.virtual_machine_scale_set_vms.begin_run_command(
            emu.state.node_resource_group, node['vmss_name'], '1',
            {'commandId': 'RunShellScript', 'script': ['line1', 'line2'], 'parameters': [{'name': 'x', 'value': '1'}, {'name': 'y', 'value': '2'}]}).result()
    assert calls == [(node['name'], 'line1\nline2', [('x', '1'), ('y', '2')], 30.0)]
    assert result.value[0].message == 'Enable succeeded: \n[stdout]\nfrom %s\n[stderr]\n' % node['ip']


@pytest.mark.parametrize('parameters, expected', [
    ((), 'echo hi'),
    (['a', 'b c'], 'export arg1=a arg2=b c\nset -- a b c\necho hi'),
    ([('x', '1'), ('y', '$(id)')], 'export x=1 y=$(id)\nset -- 1 $(id)\necho hi'),
])
def test_handler_script_is_the_documented_rewrite(parameters, expected):
    assert handler_script('echo hi', parameters) == expected


def test_local_bash_executor_takes_parameters_larger_than_one_argv_string():
    values = ['v%d=%s' % (i, 'a' * 20) for i in range(8000)]  # about 400 KB of script text, over the 128 KiB of one argv string
    out, err = LocalBashExecutor().run({'name': 'n', 'ip': '10.0.0.4'}, 'echo "$# ${8000}"', values, 30)
    assert (out, err) == (b'8000 v7999=%s\n' % (b'a' * 20), b'')


def test_local_bash_executor_timeout_kills_script():
    started = time.monotonic()
    out, err = LocalBashExecutor().run({'name': 'n', 'ip': '10.0.0.4'}, 'echo start; sleep 30', [], 0.5)
    assert time.monotonic() - started < 5
    assert out == b'start\n'
    assert b'script timed out' in err
