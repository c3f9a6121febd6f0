# -*- coding: utf-8 -*-
# Copyright (c) 2026 aks.tunnel contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Every api-version the emulator accepts answers in its spec's shape; the rest are refused like ARM; /metadata/endpoints.

The accepted versions (tests/lab/arm/versions.py) are those the lowest and highest SDKs of requirements.txt and
azure-cli 2.91 send; test_sdk_range_smoke.py and clients_az/ drive them with the real clients, this test calls each
one directly and validates the answer against the vendored swagger (tests/lab/swagger.py).
"""

from __future__ import annotations

import pytest
import requests

from ansible_collections.aks.tunnel.tests.lab import swagger
from ansible_collections.aks.tunnel.tests.lab.arm.versions import API_VERSIONS


def _calls(arm):
    """category -> [(method, path, spec group, operationId)]: one representative read per operation family."""
    sub = arm.subscription_id
    net = '/subscriptions/%s/resourceGroups/%s/providers/Microsoft.Network' % (sub, arm.node_rg)
    vmss = '/subscriptions/%s/resourceGroups/%s/providers/Microsoft.Compute/virtualMachineScaleSets/%s' % (sub, arm.node_rg, arm.vmss['system'])
    mc = '/subscriptions/%s/resourceGroups/%s/providers/Microsoft.ContainerService/managedClusters/%s' % (sub, arm.cluster_rg, arm.cluster_name)
    return {
        'network': [(net + '/networkSecurityGroups/' + arm.nsg_name, 'network', 'NetworkSecurityGroups_Get'),
                    (net + '/networkSecurityGroups/%s/securityRules' % arm.nsg_name, 'network', 'SecurityRules_List'),
                    (net + '/loadBalancers/kubernetes', 'network', 'LoadBalancers_Get'),
                    (arm.topology['vnet']['id'], 'network', 'VirtualNetworks_Get'),
                    (arm.topology['vnet']['id'] + '/subnets', 'network', 'Subnets_List'),
                    (net + '/publicIPAddresses', 'network', 'PublicIPAddresses_List')],
        'network-vmss': [(vmss + '/networkInterfaces', 'network', 'NetworkInterfaces_ListVirtualMachineScaleSetNetworkInterfaces')],
        'compute': [(vmss, 'compute', 'VirtualMachineScaleSets_Get'), (vmss + '/virtualMachines', 'compute', 'VirtualMachineScaleSetVMs_List')],
        'aks': [(mc, 'aks', 'ManagedClusters_Get'), (mc + '/agentPools', 'aks', 'AgentPools_List')],
        'insights': [(arm.lb_id + '/providers/Microsoft.Insights/metricDefinitions', 'metrics', 'MetricDefinitions_List'),
                     (arm.lb_id + '/providers/Microsoft.Insights/metrics', 'metrics', 'Metrics_List')],
        'resources': [('/subscriptions', 'resources', 'Subscriptions_List'), ('/tenants', 'resources', 'Tenants_List')],
        # a private cluster's zone links only: test_arm_private_endpoint.py validates them on one (this lab is public)
        'privatedns': [],
    }


VERSIONS = [(category, version) for category, versions in sorted(API_VERSIONS.items()) for version in versions]


@pytest.fixture(scope='module')
def schemas():
    return swagger.SwaggerSchemas()


@pytest.mark.parametrize('category, version', VERSIONS, ids=['%s@%s' % v for v in VERSIONS])
def test_every_accepted_api_version_answers_in_the_spec_shape(arm, schemas, category, version):
    for path, group, operation_id in _calls(arm)[category]:
        response = arm.arm('GET', path, version)
        assert response.status_code == 200, (path, version, response.text[:500])
        schemas.validate_response(group, operation_id, 200, response.json(), version)


# every accepted version the project has the spec of (swagger.spec_version: the shared baseline or tests/lab/specs/)
CATEGORY_GROUPS = (('network', 'network'), ('network-vmss', 'network'), ('compute', 'compute'), ('aks', 'aks'), ('insights', 'metrics'),
                   ('resources', 'resources'))
EXACT = [(category, version) for category, group in CATEGORY_GROUPS for version in swagger.spec_versions(group) if version in API_VERSIONS[category]]


@pytest.mark.parametrize('category, version', EXACT, ids=['%s@%s' % v for v in EXACT])
def test_at_a_vendored_version_nothing_outside_that_spec_is_sent(arm, schemas, category, version):
    """Where the project has the exact spec, the answer carries no property that version does not define."""
    assert version in API_VERSIONS[category]
    for path, group, operation_id in _calls(arm)[category]:
        body = arm.arm('GET', path, version).json()
        assert swagger.spec_version(group, version) == (version, True)
        assert schemas.undefined_properties(schemas.response_schema(group, operation_id, 200, version), body) == [], (operation_id, version)


def test_undefined_properties_are_found(schemas):
    schema = schemas.response_schema('aks', 'ManagedClusters_Get', 200)
    body = {'location': 'x', 'eTag': 'e', 'properties': {'apiServerAccessProfile': {'enablePrivateCluster': False, 'enableVnetIntegration': True},
                                                         'agentPoolProfiles': [{'name': 'a', 'count': 1, 'gatewayProfile': {}}]}}
    wanted = ['/eTag', '/properties/apiServerAccessProfile/enableVnetIntegration', '/properties/agentPoolProfiles/0/gatewayProfile']
    assert schemas.undefined_properties(schema, body) == wanted


def test_a_response_is_validated_against_its_own_versions_spec(schemas):
    """The exact spec where the project has it (shared baseline or tests/lab/specs/), else the nearest version."""
    assert swagger.spec_version('aks', '2024-08-01') == ('2024-08-01', True)
    assert swagger.spec_version('runcommand', '2024-11-01') == ('2024-11-01', True)
    assert swagger.spec_version('runcommand', '2026-04-01') == ('2026-04-01', True)
    assert swagger.spec_version('compute', '2026-04-01') == ('2026-04-01', True)
    assert swagger.spec_version('compute', '2025-06-01') == ('2024-11-01', False)  # a version without a file: the nearest
    cluster = {'location': 'westeurope', 'eTag': 'e'}
    assert schemas.undefined_properties(schemas.response_schema('aks', 'ManagedClusters_Get', 200, '2024-08-01'), cluster) == ['/eTag']
    assert schemas.undefined_properties(schemas.response_schema('aks', 'ManagedClusters_Get', 200, '2026-08-01'), cluster) == []
    rule = {'name': 'r', 'properties': {'protocol': 'Tcp', 'access': 'Allow', 'direction': 'Inbound'}}
    schemas.validate_response('network', 'SecurityRules_Get', 200, rule, '2022-01-01')  # priority became required later
    with pytest.raises(swagger.SchemaValidationError, match="'priority' is a required property"):
        schemas.validate_response('network', 'SecurityRules_Get', 200, rule, '2023-04-01')


@pytest.mark.parametrize('version, has_etag', [('2024-02-01', False), ('2024-08-01', False), ('2026-06-01', True), ('2026-08-01', True)])
def test_managed_cluster_etag_only_from_the_versions_that_define_it(arm, version, has_etag):
    mc = '/subscriptions/%s/resourceGroups/%s/providers/Microsoft.ContainerService/managedClusters/%s' % (
        arm.subscription_id, arm.cluster_rg, arm.cluster_name)
    assert ('eTag' in arm.arm('GET', mc, version).json()) is has_etag
    assert [('eTag' in c) for c in arm.arm('GET', mc.rsplit('/', 1)[0], version).json()['value']] == [has_etag]
    # the spec of 2024-02-01 (vendored) defines no eTag: what that version answers carries none
    spec = swagger.SwaggerSchemas().response_schema('aks', 'ManagedClusters_Get', 200)
    assert 'eTag' not in str(spec)


@pytest.mark.parametrize('category', sorted(API_VERSIONS))
def test_other_api_versions_are_refused_like_arm(arm, category):
    calls = _calls(arm)[category] or [('/subscriptions/%s/resourceGroups/%s/providers/Microsoft.Network/privateDnsZones/z.example/virtualNetworkLinks'
                                       % (arm.subscription_id, arm.node_rg),)]  # privatedns: the version is checked before the zone
    path = calls[0][0]
    response = arm.arm('GET', path, '2015-06-15')
    assert response.status_code == 400
    error = response.json().get('error', response.json())
    assert error['code'] == 'NoRegisteredProviderFound'
    assert "API version '2015-06-15'" in error['message'] and ', '.join(API_VERSIONS[category]) in error['message']


def test_the_scale_set_nic_version_no_client_sends_is_refused(arm):
    """2017-03-30 is only the enum of the 2018-10-01 vmssNetworkInterface.json; no supported SDK nor az sends it."""
    path = _calls(arm)['network-vmss'][0][0]
    response = arm.arm('GET', path, '2017-03-30')
    assert response.status_code == 400 and response.json()['error']['code'] == 'NoRegisteredProviderFound'


def test_metadata_endpoints_describe_a_cloud_that_points_at_the_lab(arm):
    def get(version):
        return requests.get(arm.url + '/metadata/endpoints', params={'api-version': version} if version else None, verify=arm.ca_path, timeout=10)

    cloud = get('2022-09-01').json()   # no token needed, as on ARM
    assert cloud['name'] == 'AksTunnelLab' and cloud['resourceManager'] == arm.url + '/'
    assert cloud['authentication']['loginEndpoint'] == arm.url and cloud['authentication']['audiences'][0] == arm.url + '/'
    assert set(cloud['suffixes']) >= {'storage', 'keyVaultDns', 'acrLoginServer', 'sqlServerHostname'}
    clouds = get('2019-05-01').json()
    assert isinstance(clouds, list) and clouds[0]['resourceManager'] == arm.url + '/'
    legacy = get('2015-01-01').json()
    assert legacy['authentication']['loginEndpoint'] == arm.url + '/' and 'galleryEndpoint' in legacy
    assert get('2099-01-01').json()['error']['code'] == 'InvalidApiVersionParameter'
    assert get(None).json()['error']['code'] == 'MissingApiVersionParameter'


def test_subscriptions_are_listed_to_principals_with_a_role_only(arm):
    listed = arm.arm('GET', '/subscriptions', '2022-12-01').json()
    assert [s['subscriptionId'] for s in listed['value']] == [arm.subscription_id] and 'nextLink' not in listed
    assert listed['value'][0]['tenantId'] == arm.tenant_id and listed['value'][0]['state'] == 'Enabled'
    assert arm.arm('GET', '/subscriptions/' + arm.subscription_id, '2016-06-01').json()['subscriptionId'] == arm.subscription_id
    missing = arm.arm('GET', '/subscriptions/00000000-0000-4000-8000-0000000000ff', '2022-12-01')
    assert missing.status_code == 404 and missing.json()['error']['code'] == 'SubscriptionNotFound'
    tenants = arm.arm('GET', '/tenants', '2022-12-01').json()['value']
    assert [t['tenantId'] for t in tenants] == [arm.tenant_id]
