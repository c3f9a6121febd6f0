# -*- coding: utf-8 -*-
# Copyright (c) 2026 aks.tunnel contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations


class ModuleDocFragment:
    # Azure authentication options, named as azure.azcollection names them so existing
    # module_defaults, environment variables and ~/.azure/credentials profiles keep working.
    DOCUMENTATION = r'''
options:
  auth_source:
    description:
      - Where the Azure credentials come from.
      - V(auto) uses explicit O(client_id)/O(secret)/O(tenant) when given, then the environment
        variables, then the C([default]) profile of C(~/.azure/credentials), then the Azure CLI login.
      - V(env) reads C(AZURE_CLIENT_ID), C(AZURE_SECRET) (or C(AZURE_CLIENT_SECRET)), C(AZURE_TENANT)
        (or C(AZURE_TENANT_ID)) and C(AZURE_SUBSCRIPTION_ID).
      - V(credential_file) reads the O(profile) section of C(~/.azure/credentials).
      - V(msi) uses the managed identity of the machine running Ansible (O(client_id) selects a
        user-assigned identity).
      - V(cli) uses the Azure CLI login (C(az login)) and, without O(subscription_id), its current subscription.
    type: str
    choices: [auto, cli, credential_file, env, msi]
    default: auto
  profile:
    description:
      - Section of C(~/.azure/credentials) to read with O(auth_source=credential_file) or O(auth_source=auto).
      - Can also be set with the E(AZURE_PROFILE) environment variable.
    type: str
  subscription_id:
    description:
      - Subscription that holds the AKS cluster.
      - Can also be set with the E(AZURE_SUBSCRIPTION_ID) environment variable; in the roles and playbooks, with the
        variable C(aks_tunnel_subscription_id).
      - When none is given and the credentials are the Azure CLI login, the CLI's current subscription is used, as C(az)
        does (the C(isDefault) subscription of the active cloud in C($AZURE_CONFIG_DIR/azureProfile.json), default
        C(~/.azure); what C(az account show) prints). The module result says which subscription was used and where it came
        from (C(azure_subscription)).
    type: str
  client_id:
    description:
      - Application (client) id of the service principal, or of a user-assigned managed identity with O(auth_source=msi).
      - Can also be set with the E(AZURE_CLIENT_ID) environment variable.
    type: str
  secret:
    description:
      - Client secret of the service principal.
      - Can also be set with the E(AZURE_SECRET) or E(AZURE_CLIENT_SECRET) environment variable.
    type: str
  tenant:
    description:
      - Microsoft Entra tenant id of the service principal.
      - Can also be set with the E(AZURE_TENANT) or E(AZURE_TENANT_ID) environment variable.
    type: str
  cloud_environment:
    description:
      - The Azure cloud, one of V(AzureCloud), V(AzureChinaCloud), V(AzureUSGovernment), or the URL of a
        metadata discovery endpoint (Azure Stack).
      - Can also be set with the E(AZURE_CLOUD_ENVIRONMENT) environment variable.
    type: str
    default: AzureCloud
  arm_endpoint:
    description:
      - Azure Resource Manager endpoint URL, overriding the one of O(cloud_environment)
        (sovereign clouds, Azure Stack, the aks.tunnel lab).
      - Can also be set with the E(AZURE_ARM_ENDPOINT) environment variable.
    type: str
  authority_host:
    description:
      - Microsoft Entra authority URL, overriding the one of O(cloud_environment).
      - Can also be set with the E(AZURE_AUTHORITY_HOST) environment variable.
    type: str
  ca_path:
    description:
      - PEM bundle of certificate authorities to trust for Azure Resource Manager and Entra
        (private endpoints with TLS inspection, Azure Stack, the aks.tunnel lab).
      - Can also be set with the E(AZURE_CA_PATH) environment variable.
    type: path
  api_retry_deadline:
    description:
      - Seconds one API request may spend being retried when Azure Resource Manager or the Kubernetes API
        server throttles it (HTTP 429, honouring C(Retry-After)), answers 5xx, or cannot be reached; waits
        between attempts back off with jitter. When not set, E(AKS_TUNNEL_API_RETRY_DEADLINE) is used,
        else 300 seconds. V(0) disables retries.
      - Writes whose outcome is unknown (a 500, 502 or 504, or a lost answer) are not repeated, except
        Azure PUT and DELETE, which are idempotent.
      - Bounds the retries of one request only; O(api_timeout) still bounds each attempt.
      - Throttled responses, retries and the seconds spent waiting are returned in RV(api_calls).
    type: float
notes:
  - Diagnosis needs only read access plus the
    C(Microsoft.Compute/virtualMachineScaleSets/virtualMachines/runCommand/action) permission on
    the node resource group; repairs need write access to what they change. See the collection's
    C(docs/usage.md), section Permissions.
'''
