# -*- coding: utf-8 -*-
# Copyright (c) 2026 aks.tunnel contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Entra ID stand-in: OIDC discovery, the client-credentials token endpoint, bearer checks and RBAC.

What MSAL (via azure-identity `ClientSecretCredential(..., authority='https://127.0.0.1:PORT',
disable_instance_discovery=True)`) asks for: GET /{tenant}/v2.0/.well-known/openid-configuration, then
POST the `token_endpoint` it names (form: grant_type=client_credentials, client_id, client_secret, scope).
"""

from __future__ import annotations

import base64
import fnmatch
import json
import secrets
import threading
import time
import uuid

from .common import ArmError, LabConfigError, stable_uuid, utcnow

ROLES = {
    'contributor': (['*'], []),
    'owner': (['*'], []),
    'reader': (['*/read'], []),
    'none': ([], []),
}


def role_definition_actions(document, source='role definition'):
    """(actions, not_actions) of an Azure custom role: the `az role definition create` file ({"Actions", "NotActions"})
    or an ARM roleDefinitions resource ({"properties": {"permissions": [{"actions", "notActions"}]}})."""
    if isinstance(document, dict) and isinstance(document.get('properties'), dict):
        permissions = document['properties'].get('permissions') or []
        actions = [a for p in permissions for a in p.get('actions') or []]
        not_actions = [a for p in permissions for a in p.get('notActions') or []]
    elif isinstance(document, dict) and ('Actions' in document or 'actions' in document):
        actions = document.get('Actions', document.get('actions'))
        not_actions = document.get('NotActions', document.get('notActions')) or []
    else:
        raise LabConfigError('%s: not an Azure role definition (no Actions / properties.permissions)' % source)
    if not isinstance(actions, list) or not all(isinstance(a, str) and a for a in list(actions) + list(not_actions)):
        raise LabConfigError('%s: Actions and NotActions must be lists of action strings' % source)
    return list(actions), list(not_actions)


def load_role_definition(path):
    """(actions, not_actions) of the custom role JSON file at `path`."""
    try:
        with open(path, encoding='utf-8') as handle:
            document = json.load(handle)
    except (OSError, ValueError) as exc:
        raise LabConfigError('cannot read the role definition %s: %s' % (path, exc)) from exc
    return role_definition_actions(document, path)


# The AKS server application (Entra ID's "Azure Kubernetes Service AAD Server"): tokens for the scope
# `6dae42f8-4368-4678-94ff-3960e28e3630/.default` are for the API servers of Entra-enabled clusters, not for ARM.
AKS_SERVER_APP_ID = '6dae42f8-4368-4678-94ff-3960e28e3630'
# Tokens issued for the AKS server application: token -> claims. The lab's control daemon runs the ARM and Kubernetes
# emulators in one process; the Kubernetes emulator looks the bearer tokens it gets up here (kube/server.py), where AKS's
# API server checks the token's signature, issuer and audience.
_AKS_TOKENS = {}
_AKS_TOKENS_LOCK = threading.Lock()


def aks_token_claims(token):
    """The claims of an unexpired token this process issued for the AKS server application, else None."""
    with _AKS_TOKENS_LOCK:
        claims = _AKS_TOKENS.get(token)
    if claims is None or claims['exp'] < time.time():
        return None
    return dict(claims)


def _wants_aks_server(scope):
    return any(item.lower().rstrip('/').startswith(AKS_SERVER_APP_ID) for item in (scope or '').split())


def _b64(data):
    return base64.urlsafe_b64encode(data).rstrip(b'=').decode()


class Principal:
    def __init__(self, client_id, secret, object_id, actions, not_actions):
        self.client_id = client_id
        self.secret = secret
        self.object_id = object_id
        self.actions = actions
        self.not_actions = not_actions

    def allowed(self, action):
        action = action.lower()
        if any(fnmatch.fnmatchcase(action, pat.lower()) for pat in self.not_actions):
            return False
        return any(fnmatch.fnmatchcase(action, pat.lower()) for pat in self.actions)


class OAuthError(Exception):
    def __init__(self, status, body):
        super().__init__(body.get('error_description', ''))
        self.status = status
        self.body = body


class Identity:
    """Clients from config: [{client_id, client_secret, role? | actions?/not_actions? | role_definition?, object_id?}].

    role_definition: path of a custom role JSON (`az role definition create` format), e.g. the collection's rbac/azure files.
    """

    def __init__(self, tenant_id, clients, token_lifetime_s=3599):
        self.tenant_id = tenant_id
        self.token_lifetime_s = int(token_lifetime_s)
        self.principals = {}
        for client in clients:
            if not isinstance(client, dict) or not client.get('client_id') or not client.get('client_secret'):
                raise LabConfigError('each entry of "clients" needs client_id and client_secret, got %r' % (client,))
            role = client.get('role', 'contributor')
            if client.get('role_definition'):
                actions, not_actions = load_role_definition(client['role_definition'])
            elif 'actions' in client:
                actions, not_actions = list(client['actions']), list(client.get('not_actions', []))
            elif role in ROLES:
                actions, not_actions = ROLES[role]
                not_actions = list(not_actions) + list(client.get('not_actions', []))
            else:
                raise LabConfigError('client %s: role %r is unknown; use %s or give "actions"' % (client['client_id'], role, ', '.join(ROLES)))
            object_id = client.get('object_id') or stable_uuid('sp', client['client_id'])
            self.principals[client['client_id'].lower()] = Principal(client['client_id'], client['client_secret'], object_id, actions, not_actions)
        self._tokens = {}
        self._lock = threading.Lock()

    # --- Entra endpoints -------------------------------------------------------------------------
    def openid_configuration(self, base, tenant):
        self._check_tenant(tenant)
        root = '%s/%s' % (base, tenant)
        return {
            'token_endpoint': root + '/oauth2/v2.0/token',
            'token_endpoint_auth_methods_supported': ['client_secret_post', 'private_key_jwt', 'client_secret_basic'],
            'jwks_uri': root + '/discovery/v2.0/keys',
            'response_modes_supported': ['query', 'fragment', 'form_post'],
            'subject_types_supported': ['pairwise'],
            'id_token_signing_alg_values_supported': ['RS256'],
            'response_types_supported': ['code', 'id_token', 'code id_token', 'id_token token'],
            'scopes_supported': ['openid', 'profile', 'email', 'offline_access'],
            'issuer': root + '/v2.0',
            'request_uri_parameter_supported': False,
            'userinfo_endpoint': base + '/oidc/userinfo',
            'authorization_endpoint': root + '/oauth2/v2.0/authorize',
            'device_authorization_endpoint': root + '/oauth2/v2.0/devicecode',
            'http_logout_supported': True,
            'frontchannel_logout_supported': True,
            'end_session_endpoint': root + '/oauth2/v2.0/logout',
            'claims_supported': ['sub', 'iss', 'aud', 'exp', 'iat', 'tid', 'oid'],
            'tenant_region_scope': 'EU',
            'cloud_instance_name': 'microsoftonline.com',
        }

    def _aad_error(self, status, error, code, text):
        now = utcnow()
        trace, corr = str(uuid.uuid4()), str(uuid.uuid4())
        return OAuthError(status, {
            'error': error,
            'error_description': 'AADSTS%d: %s Trace ID: %s Correlation ID: %s Timestamp: %s' % (code, text, trace, corr, now.strftime('%Y-%m-%d %H:%M:%SZ')),
            'error_codes': [code], 'timestamp': now.strftime('%Y-%m-%d %H:%M:%SZ'), 'trace_id': trace, 'correlation_id': corr,
            'error_uri': 'https://login.microsoftonline.com/error?code=%d' % code,
        })

    def _check_tenant(self, tenant):
        if tenant.lower() not in (self.tenant_id.lower(), 'organizations'):
            raise self._aad_error(400, 'invalid_request', 90002, "Tenant '%s' not found. Check to make sure you have the correct tenant ID "
                                  "and are signing into the correct cloud." % tenant)

    def issue_token(self, tenant, form):
        """Handle the token POST; returns the JSON body or raises OAuthError."""
        self._check_tenant(tenant)
        if form.get('grant_type') != 'client_credentials':
            raise self._aad_error(400, 'unsupported_grant_type', 70003, 'The app requested an unsupported grant type.')
        client_id = form.get('client_id', '')
        principal = self.principals.get(client_id.lower())
        if principal is None:
            raise self._aad_error(400, 'unauthorized_client', 700016, "Application with identifier '%s' was not found in the directory '%s'. "
                                  "This can happen if the application has not been installed by the administrator of the tenant or consented "
                                  "to by any user in the tenant. You may have sent your authentication request to the wrong tenant." % (client_id, tenant))
        if not secrets.compare_digest(form.get('client_secret', ''), principal.secret):
            raise self._aad_error(401, 'invalid_client', 7000215, "Invalid client secret provided. Ensure the secret being sent in the request is "
                                  "the client secret value, not the client secret ID, for a secret added to app '%s'." % principal.client_id)
        now = int(time.time())
        header = {'typ': 'JWT', 'alg': 'none'}
        audience = AKS_SERVER_APP_ID if _wants_aks_server(form.get('scope')) else 'https://management.azure.com/'
        claims = {'aud': audience, 'iss': 'https://sts.windows.net/%s/' % self.tenant_id, 'iat': now, 'nbf': now,
                  'exp': now + self.token_lifetime_s, 'appid': principal.client_id, 'oid': principal.object_id, 'sub': principal.object_id,
                  'tid': self.tenant_id, 'idtyp': 'app', 'jti': secrets.token_hex(8)}
        token = '%s.%s.%s' % (_b64(json.dumps(header).encode()), _b64(json.dumps(claims).encode()), _b64(secrets.token_bytes(24)))
        if audience == AKS_SERVER_APP_ID:
            # not an ARM token: ARM answers 401 to it, the Kubernetes emulator of an Entra cluster accepts it
            with _AKS_TOKENS_LOCK:
                _AKS_TOKENS[token] = claims
        else:
            with self._lock:
                self._tokens[token] = (principal, now + self.token_lifetime_s)
        return {'token_type': 'Bearer', 'expires_in': self.token_lifetime_s, 'ext_expires_in': self.token_lifetime_s, 'access_token': token}

    # --- ARM side --------------------------------------------------------------------------------
    def authenticate(self, authorization):
        """Principal for an Authorization header, or ArmError 401 like ARM."""
        www = {'WWW-Authenticate': 'Bearer authorization_uri="https://login.microsoftonline.com/%s", error="invalid_token", '
                                   'error_description="The authentication failed because of missing \'Authorization\' header."' % self.tenant_id}
        if not authorization:
            raise ArmError(401, 'AuthenticationFailed', "Authentication failed. The 'Authorization' header is missing.", headers=www)
        scheme, _unused, token = authorization.partition(' ')
        if scheme.lower() != 'bearer' or not token.strip():
            raise ArmError(401, 'AuthenticationFailed', "Authentication failed. The 'Authorization' header is not in the 'Bearer <token>' format.",
                           headers=www)
        with self._lock:
            entry = self._tokens.get(token.strip())
        www = {'WWW-Authenticate': 'Bearer authorization_uri="https://login.microsoftonline.com/%s", error="invalid_token", '
                                   'error_description="The access token is invalid."' % self.tenant_id}
        if entry is None:
            raise ArmError(401, 'InvalidAuthenticationToken', 'The access token is invalid.', headers=www)
        principal, expiry = entry
        if expiry < time.time():
            raise ArmError(401, 'ExpiredAuthenticationToken', "The access token expiry UTC time '%s' is earlier than current UTC time '%s'."
                           % (time.strftime('%m/%d/%Y %H:%M:%S', time.gmtime(expiry)), time.strftime('%m/%d/%Y %H:%M:%S', time.gmtime())), headers=www)
        return principal

    def authorize(self, principal, action, scope):
        if not principal.allowed(action):
            raise ArmError(403, 'AuthorizationFailed', "The client '%s' with object id '%s' does not have authorization to perform action '%s' "
                           "over scope '%s' or the scope is invalid. If access was recently granted, please refresh your credentials."
                           % (principal.client_id, principal.object_id, action, scope))

    def revoke_all(self):
        with self._lock:
            self._tokens.clear()
