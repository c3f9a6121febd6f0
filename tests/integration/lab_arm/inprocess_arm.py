# -*- coding: utf-8 -*-
# Copyright (c) 2026 aks.tunnel contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The real network SDK client for an in-process ArmEmulator (tests/lab/arm), for the lab_arm tests that start one."""

from __future__ import annotations

from ansible_collections.aks.tunnel.tests.lab.arm.server import DEFAULT_CLIENT

# the one contributor of an emulator whose config lists no clients
CONTRIBUTOR = (DEFAULT_CLIENT['client_id'], DEFAULT_CLIENT['client_secret'])


def network_client(emu):
    """azure-mgmt-network's NetworkManagementClient signed in as CONTRIBUTOR against `emu`, over its HTTPS and CA."""
    from azure.identity import ClientSecretCredential  # pylint: disable=import-outside-toplevel
    from azure.mgmt.network import NetworkManagementClient  # pylint: disable=import-outside-toplevel
    cred = ClientSecretCredential(emu.state.tenant_id, CONTRIBUTOR[0], CONTRIBUTOR[1], authority=emu.url, disable_instance_discovery=True,
                                  connection_verify=emu.ca_path)
    return NetworkManagementClient(cred, emu.state.subscription_id, base_url=emu.url, credential_scopes=[emu.url + '/.default'],
                                   connection_verify=emu.ca_path, polling_interval=0.1)
