# -*- coding: utf-8 -*-
# Copyright (c) 2026 aks.tunnel contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""What a client asks ARM before it touches a resource: the cloud's endpoints, subscriptions and tenants.

`GET /metadata/endpoints?api-version=...` (no token, like ARM): the Azure CLI's `az cloud register
--endpoint-resource-manager URL` reads it (api-version 2022-09-01: one cloud object) and maps it with
`azure.cli.core.cloud._arm_to_cli_mapper`. Every endpoint points at the lab: the login endpoint and the
token audience are the emulator's own URL. Older api-versions keep their shapes: 2019-05-01 / 2020-06-01
answer a list of clouds, 2015-01-01 / 2018-01-01 the flat `galleryEndpoint` / `authentication` object.

`GET /subscriptions`, `/subscriptions/{id}` and `/tenants` (Microsoft.Resources, SubscriptionClient): `az login
--service-principal` lists the subscriptions of the tenant it signed in to, and the lab has one. As on Azure
these are not RBAC-checked: a principal sees the subscription when it holds any role in it.
"""

from __future__ import annotations

from ..common import ArmError, Response

CLOUD_NAME = 'AksTunnelLab'
METADATA_API_VERSIONS = ('2015-01-01', '2018-01-01', '2019-05-01', '2020-06-01', '2022-09-01')
TENANT_DOMAIN = 'akstunnel-lab.onmicrosoft.com'


def _cloud(base):
    root = base.rstrip('/') + '/'
    return {
        'portal': base, 'name': CLOUD_NAME,
        'authentication': {'loginEndpoint': base, 'audiences': [root, base], 'tenant': 'common', 'identityProvider': 'AAD'},
        'media': root, 'graphAudience': root, 'graph': root, 'batch': root, 'resourceManager': root, 'sqlManagement': root,
        'activeDirectoryDataLake': root, 'microsoftGraphResourceId': root, 'appInsightsResourceId': base,
        'appInsightsTelemetryChannelResourceId': base + '/v2/track', 'attestationResourceId': base, 'synapseAnalyticsResourceId': base,
        'logAnalyticsResourceId': base, 'ossrDbmsResourceId': base,
        'vmImageAliasDoc': root + 'metadata/vm-image-aliases.json',
        'suffixes': {'acrLoginServer': 'azurecr.lab.invalid', 'sqlServerHostname': 'database.lab.invalid', 'keyVaultDns': 'vault.lab.invalid',
                     'storage': 'core.lab.invalid', 'azureFrontDoorEndpointSuffix': 'azurefd.lab.invalid', 'mhsmDns': 'managedhsm.lab.invalid',
                     'storageSyncEndpointSuffix': 'afs.lab.invalid', 'synapseAnalytics': 'dev.azuresynapse.lab.invalid',
                     'attestationEndpoint': 'attest.lab.invalid', 'mysqlServerEndpoint': 'mysql.lab.invalid',
                     'postgresqlServerEndpoint': 'postgres.lab.invalid', 'mariadbServerEndpoint': 'mariadb.lab.invalid'},
    }


def metadata_endpoints(base, api_version):
    """(status, body) of GET /metadata/endpoints for this api-version."""
    if not api_version:
        return 400, {'error': {'code': 'MissingApiVersionParameter',
                               'message': 'The api-version query parameter (?api-version=) is required for all requests.'}}
    if api_version not in METADATA_API_VERSIONS:
        return 400, {'error': {'code': 'InvalidApiVersionParameter', 'message': "The api-version '%s' is invalid. The supported versions are '%s'."
                               % (api_version, ','.join(reversed(METADATA_API_VERSIONS)))}}
    cloud = _cloud(base)
    if api_version >= '2022-09-01':
        return 200, cloud
    if api_version >= '2019-05-01':
        return 200, [cloud]
    return 200, {'galleryEndpoint': base + '/', 'graphEndpoint': base + '/', 'portalEndpoint': base + '/',
                 'authentication': {'loginEndpoint': base + '/', 'audiences': cloud['authentication']['audiences']}}


def _subscription(state, api_version):
    body = {'id': '/subscriptions/%s' % state.subscription_id, 'subscriptionId': state.subscription_id,
            'displayName': 'aks-tunnel lab', 'state': 'Enabled',
            'subscriptionPolicies': {'locationPlacementId': 'Public_2014-09-01', 'quotaId': 'PayAsYouGo_2014-09-01', 'spendingLimit': 'Off'},
            'authorizationSource': 'RoleBased'}
    if api_version >= '2019-06-01':
        body['managedByTenants'] = []
    if api_version >= '2020-01-01':
        body.update(tenantId=state.tenant_id, tags={})
    return body


def _visible(ctx):
    return bool(ctx.principal.actions)


def subscription_list(ctx, params):
    # ARM also sends `count` ({type: Total, value}); no spec of the accepted versions defines it, so the lab leaves it out
    return Response(200, {'value': [_subscription(ctx.state, ctx.api_version)] if _visible(ctx) else []})


def subscription_get(ctx, params):
    if params['sub'].lower() != ctx.state.subscription_id.lower() or not _visible(ctx):
        raise ArmError(404, 'SubscriptionNotFound', "The subscription '%s' could not be found." % params['sub'])
    return Response(200, _subscription(ctx.state, ctx.api_version))


def tenant_list(ctx, params):
    tenant = {'id': '/tenants/%s' % ctx.state.tenant_id, 'tenantId': ctx.state.tenant_id}
    if ctx.api_version >= '2020-01-01':
        tenant.update(tenantCategory='Home', country='Germany', countryCode='DE', displayName='aks-tunnel lab',
                      domains=[TENANT_DOMAIN], defaultDomain=TENANT_DOMAIN, tenantType='AAD')
    return Response(200, {'value': [tenant]})
