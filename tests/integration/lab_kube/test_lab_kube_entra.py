# -*- coding: utf-8 -*-
# Copyright (c) 2026 aks.tunnel contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Entra ID tokens for the AKS server application (issue 16): issued by the lab's Entra stand-in (tests/lab/arm/auth.py),
accepted by the Kubernetes emulator for the users kube.entra_users maps them to, refused by ARM (wrong audience)."""

from __future__ import annotations

import base64
import copy
import json
import ssl
import urllib.error
import urllib.request

import pytest

from ansible_collections.aks.tunnel.tests.lab.arm.auth import AKS_SERVER_APP_ID, Identity
from ansible_collections.aks.tunnel.tests.lab.arm.common import ArmError

from .conftest import BASE_CONFIG

TENANT = '00000000-0000-4000-8000-00000000feed'
PIPELINE = {'client_id': '5a1b0c2d-0000-4000-8000-00000000c0de', 'client_secret': 'pipeline-secret'}
STRANGER = {'client_id': '5a1b0c2d-0000-4000-8000-00000000beef', 'client_secret': 'stranger-secret'}


def _get(lab, path, token):
    request = urllib.request.Request(lab.url + path, headers={'Authorization': 'Bearer ' + token})
    try:
        with urllib.request.urlopen(request, context=ssl.create_default_context(cafile=lab.ca_path), timeout=5) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


@pytest.fixture
def entra(make_lab):
    identity = Identity(TENANT, [PIPELINE, STRANGER])
    config = copy.deepcopy(BASE_CONFIG)
    config['kube']['entra_users'] = [{'client_id': PIPELINE['client_id'], 'name': 'aks-tunnel-pipeline', 'role': 'rbac', 'rbac': 'diagnose'}]
    return identity, make_lab(config)


def _token(identity, client, scope):
    form = dict(client, grant_type='client_credentials', scope=scope)
    return identity.issue_token(TENANT, form)['access_token']


def test_aks_token_is_accepted_and_mapped_to_its_kubernetes_user(entra):
    identity, lab = entra
    token = _token(identity, PIPELINE, AKS_SERVER_APP_ID + '/.default')
    claims = json.loads(base64.urlsafe_b64decode(token.split('.')[1] + '=='))
    assert claims['aud'] == AKS_SERVER_APP_ID and claims['appid'] == PIPELINE['client_id']
    status, body = _get(lab, '/api/v1/nodes', token)
    assert status == 200 and len(body['items']) == 5
    # the diagnose role: pods in kube-system only
    status, body = _get(lab, '/api/v1/namespaces/default/pods', token)
    assert status == 403 and 'User "aks-tunnel-pipeline" cannot list resource "pods"' in body['message']
    # ARM does not take a token for another audience
    with pytest.raises(ArmError) as info:
        identity.authenticate('Bearer ' + token)
    assert info.value.status == 401 and info.value.code == 'InvalidAuthenticationToken'


def test_unmapped_principal_is_its_object_id_without_rights_and_arm_tokens_are_refused(entra):
    identity, lab = entra
    status, body = _get(lab, '/api/v1/nodes', _token(identity, STRANGER, AKS_SERVER_APP_ID + '/.default'))
    assert status == 403 and 'cannot list resource "nodes"' in body['message']
    status, body = _get(lab, '/api/v1/nodes', _token(identity, PIPELINE, 'https://management.azure.com/.default'))
    assert status == 401 and body['reason'] == 'Unauthorized'
