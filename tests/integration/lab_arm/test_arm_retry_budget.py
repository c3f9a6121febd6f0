# -*- coding: utf-8 -*-
# Copyright (c) 2026 aks.tunnel contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Issue 17 on the ARM emulator: the collection's own Azure clients (AzureClients with DeadlineRetryPolicy,
the RunCommandExecutor) ride out throttling storms, 5xx bursts and Run Command conflicts within
api_retry_deadline, count them, and fail clearly when the storm outlasts the deadline.

Real waits (Retry-After 1 s), so this file costs about 35 s.
"""

from __future__ import annotations

import threading
import time

import pytest
from azure.core.exceptions import HttpResponseError

from ansible_collections.aks.tunnel.plugins.module_utils import _azure
from ansible_collections.aks.tunnel.plugins.module_utils import _counter
from ansible_collections.aks.tunnel.plugins.module_utils import _runcommand

COMPUTE_API = '2026-04-01'


def clients(arm, deadline=None, environ=None):
    """AzureClients exactly as a module builds them (resolve_settings from options), with their own RetryStats."""
    params = {'auth_source': 'env', 'client_id': arm.clients['contributor']['client_id'], 'secret': arm.clients['contributor']['client_secret'],
              'tenant': arm.tenant_id, 'subscription_id': arm.subscription_id, 'arm_endpoint': arm.url, 'authority_host': arm.url,
              'ca_path': arm.ca_path, 'cloud_environment': 'AzureCloud', 'api_retry_deadline': deadline}
    settings = _azure.resolve_settings(params, environ=environ or {}, credentials_file='/nonexistent')
    return _azure.AzureClients(settings, timeout=30, stats=_counter.RetryStats())


def arm_statuses(arm, since, route):
    return [e['status'] for e in arm.journal(since) if e['route'] == route]


def test_read_rides_out_a_throttle_storm_and_a_503_burst(arm):
    azure = clients(arm)
    azure.network.network_security_groups.get(arm.node_rg, arm.nsg_name)  # token and client ready before the storm
    arm.admin('POST', 'faults', {'faults': [
        {'type': 'throttle', 'on': 'read', 'count': 8, 'retry_after': 1},
        {'type': 'server_error', 'on': 'read', 'count': 3, 'status': 503}]})
    since, before = arm.journal_seq(), azure.request_count
    started = time.monotonic()
    nsg = azure.network.network_security_groups.get(arm.node_rg, arm.nsg_name)
    elapsed = time.monotonic() - started
    assert nsg.name == arm.nsg_name
    assert arm_statuses(arm, since, 'nsg_get') == [429] * 8 + [503] * 3 + [200]
    assert azure.request_count - before == 12
    stats = azure.stats.as_dict()
    assert (stats['throttled'], stats['retries']) == (8, 11)
    # 8 x Retry-After 1 s, then backoff 0.5-1 + 1-2 + 2-4 s
    assert 11.5 <= stats['retry_wait_s'] <= 15.1
    # retry_wait_s is rounded to 0.1 s; the upper bound is loose for a loaded CI machine
    assert stats['retry_wait_s'] - 0.05 <= elapsed < stats['retry_wait_s'] + 10
    azure.close()


def test_storm_longer_than_the_deadline_fails_fast_naming_throttling_and_the_option(arm):
    azure = clients(arm, environ={'AKS_TUNNEL_API_RETRY_DEADLINE': '3'})
    assert azure.retry_deadline == 3.0
    arm.admin('POST', 'faults', {'faults': [{'type': 'throttle', 'on': 'read', 'count': 20, 'retry_after': 1}]})
    started = time.monotonic()
    with pytest.raises(HttpResponseError) as info:
        azure.network.network_security_groups.get(arm.node_rg, arm.nsg_name)
    elapsed = time.monotonic() - started
    # no attempt starts after the deadline: 2 or 3 waits of 1 s fit in 3 s, depending on the requests' own time
    stats = azure.stats.as_dict()
    assert stats['retries'] in (2, 3) and stats['throttled'] == stats['retries'] + 1 and stats['retry_wait_s'] == stats['retries']
    # well under the 20 s the storm lasts: the deadline stopped the retries (loose for a loaded CI machine)
    assert stats['retries'] - 0.05 <= elapsed < 3 + 7
    message = _azure.describe_azure_error(info.value, 'read the NSG')
    assert message.startswith('Failed to read the NSG (HTTP 429): SubscriptionRequestsThrottled:')
    assert 'throttled the requests (HTTP 429) for longer than the retry deadline allows' in message
    assert 'raise api_retry_deadline (or the environment variable AKS_TUNNEL_API_RETRY_DEADLINE; now 3s)' in message
    azure.close()


def test_writes_are_repeated_only_when_safe(arm):
    azure = clients(arm)
    rule = {'properties': {'protocol': 'Tcp', 'access': 'Allow', 'priority': 3990, 'direction': 'Inbound', 'sourceAddressPrefix': '10.0.0.0/8',
                           'sourcePortRange': '*', 'destinationAddressPrefix': '*', 'destinationPortRange': '10250'}}
    # a PUT that got a 500 is repeated (ARM PUT replaces: idempotent)
    arm.admin('POST', 'faults', {'faults': [{'type': 'server_error', 'on': 'write', 'count': 1, 'status': 500}]})
    since = arm.journal_seq()
    azure.network.security_rules.begin_create_or_update(arm.node_rg, arm.nsg_name, 'retry-budget', rule).result()
    assert arm_statuses(arm, since, 'rule_put')[:2] in ([500, 201], [500, 200])
    # a Run Command POST that got a 500 may have started: it is not repeated, the target fails with the ARM message
    arm.admin('POST', 'faults', {'faults': [{'type': 'server_error', 'on': 'runcommand', 'count': 1, 'status': 500}]})
    since = arm.journal_seq()
    target = {'key': 'aks-system-0', 'resource_group': arm.node_rg, 'vmss': arm.vmss['system'], 'instance_id': '0', 'script': 'echo hi'}
    result = _runcommand.RunCommandExecutor(azure.compute, timeout=60, describe=_azure.describe_azure_error, stats=azure.stats).run([target])[0]
    assert result['status'] == 'failed' and 'HTTP 500' in result['error'] and 'server error' in result['error']
    assert arm_statuses(arm, since, 'run_command') == [500]
    # a throttled Run Command POST was not executed: repeated after Retry-After
    arm.admin('POST', 'faults', {'faults': [{'type': 'throttle', 'on': 'runcommand', 'count': 2, 'retry_after': 1}]})
    since = arm.journal_seq()
    result = _runcommand.RunCommandExecutor(azure.compute, timeout=60, describe=_azure.describe_azure_error, stats=azure.stats).run([target])[0]
    assert (result['status'], result['stdout'], result['attempts']) == ('succeeded', 'hi\n', 1)
    assert arm_statuses(arm, since, 'run_command') == [429, 429, 202]
    azure.network.security_rules.begin_delete(arm.node_rg, arm.nsg_name, 'retry-budget').result()
    azure.close()


def test_run_command_409_waits_for_the_running_one_then_succeeds(arm):
    azure = clients(arm)
    # another run command holds system-1 (hangs until released), like a probe of an earlier run that timed out
    arm.admin('POST', 'faults', {'faults': [{'type': 'runcommand_hang', 'node': 'system-1', 'count': 1}]})
    path = '/subscriptions/%s/resourceGroups/%s/providers/Microsoft.Compute/virtualMachineScaleSets/%s/virtualMachines/1/runCommand' % (
        arm.subscription_id, arm.node_rg, arm.vmss['system'])
    assert arm.arm('POST', path, COMPUTE_API, json={'commandId': 'RunShellScript', 'script': ['sleep 1']}).status_code == 202
    release = threading.Timer(3.0, lambda: arm.admin('POST', 'runcommands/release'))
    release.start()
    try:
        target = {'key': 'aks-system-1', 'resource_group': arm.node_rg, 'vmss': arm.vmss['system'], 'instance_id': '1', 'script': 'echo mine'}
        executor = _runcommand.RunCommandExecutor(azure.compute, timeout=60, conflict_wait=1, describe=_azure.describe_azure_error,
                                                  stats=azure.stats)
        started = time.monotonic()
        result = executor.run([target])[0]
        elapsed = time.monotonic() - started
    finally:
        release.cancel()
        release.join()
    assert (result['status'], result['stdout']) == ('succeeded', 'mine\n'), result['error']
    assert result['conflicts'] >= 2 and result['attempts'] == result['conflicts'] + 1
    assert 2.5 <= elapsed < 20
    stats = azure.stats.as_dict()
    assert stats['retries'] == result['conflicts'] and stats['throttled'] == 0 and stats['retry_wait_s'] >= 2.5
    azure.close()


def test_writes_and_run_command_polls_ride_out_throttling(arm):
    azure = clients(arm)
    rule = {'properties': {'protocol': 'Tcp', 'access': 'Allow', 'priority': 3991, 'direction': 'Inbound', 'sourceAddressPrefix': '10.0.0.0/8',
                           'sourcePortRange': '*', 'destinationAddressPrefix': '*', 'destinationPortRange': '10250'}}
    azure.network.network_security_groups.get(arm.node_rg, arm.nsg_name)  # token and client ready
    arm.admin('POST', 'faults', {'faults': [{'type': 'throttle', 'on': 'write', 'count': 3, 'retry_after': 1}]})
    since = arm.journal_seq()
    azure.network.security_rules.begin_create_or_update(arm.node_rg, arm.nsg_name, 'retry-budget-2', rule).result()
    assert arm_statuses(arm, since, 'rule_put') == [429, 429, 429, 201]
    arm.admin('POST', 'faults', {'faults': [{'type': 'throttle', 'on': 'poll', 'count': 3, 'retry_after': 1}]})
    target = {'key': 'aks-system-0', 'resource_group': arm.node_rg, 'vmss': arm.vmss['system'], 'instance_id': '0', 'script': 'echo polled'}
    result = _runcommand.RunCommandExecutor(azure.compute, timeout=60, describe=_azure.describe_azure_error, stats=azure.stats).run([target])[0]
    assert (result['status'], result['stdout']) == ('succeeded', 'polled\n'), result['error']
    stats = azure.stats.as_dict()
    assert (stats['throttled'], stats['retries']) == (6, 6) and stats['retry_wait_s'] == 6.0
    azure.network.security_rules.begin_delete(arm.node_rg, arm.nsg_name, 'retry-budget-2').result()
    azure.close()
