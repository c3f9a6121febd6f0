# -*- coding: utf-8 -*-
# Copyright (c) 2026 aks.tunnel contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Kubernetes RBAC from Role/ClusterRole documents, as the API server's RBAC authorizer evaluates them.

A lab user with `role: rbac` carries `rbac: [Role/ClusterRole documents]`, each taken as bound to that user: a
ClusterRole through a ClusterRoleBinding (every namespace and the cluster scope), a Role through a RoleBinding in
its own namespace. A request is allowed when one rule matches its API group, resource (`plural` or
`plural/subresource`), verb and - when the rule has `resourceNames` - its object name (never for list/create,
which have no name). `*` matches any group, resource or verb.
"""

from __future__ import annotations

import os

import yaml

COLLECTION_ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..', '..'))
KUBERNETES_RBAC_DIR = os.path.join(COLLECTION_ROOT, 'rbac', 'kubernetes')
ROLE_KINDS = ('Role', 'ClusterRole')


class RbacError(ValueError):
    """A Role/ClusterRole document is not usable; the message says which one and why."""


def load_documents(path):
    """The Role/ClusterRole documents of a YAML file: separate documents or one v1 List of them (other kinds are
    refused: the lab binds the roles itself)."""
    with open(path, encoding='utf-8') as handle:
        documents = []
        for doc in yaml.safe_load_all(handle):
            if isinstance(doc, dict) and doc.get('apiVersion') == 'v1' and doc.get('kind') == 'List':
                documents.extend(doc.get('items') or [])
            elif doc is not None:
                documents.append(doc)
    check_documents(documents, path)
    return documents


def shipped(name):
    """The documents of rbac/kubernetes/aks-tunnel-<name>.yaml (name: diagnose or remediate)."""
    return load_documents(os.path.join(KUBERNETES_RBAC_DIR, 'aks-tunnel-%s.yaml' % name))


def check_documents(documents, source='rbac'):
    if not isinstance(documents, list) or not documents:
        raise RbacError('%s: expected a list of Role/ClusterRole documents' % source)
    for doc in documents:
        if not isinstance(doc, dict) or doc.get('kind') not in ROLE_KINDS or doc.get('apiVersion') != 'rbac.authorization.k8s.io/v1':
            raise RbacError('%s: only rbac.authorization.k8s.io/v1 Role and ClusterRole documents are supported, got %r'
                            % (source, {k: (doc or {}).get(k) for k in ('apiVersion', 'kind')} if isinstance(doc, dict) else doc))
        name = (doc.get('metadata') or {}).get('name')
        if doc['kind'] == 'Role' and not (doc.get('metadata') or {}).get('namespace'):
            raise RbacError('%s: Role %s has no metadata.namespace' % (source, name))
        for rule in doc.get('rules') or []:
            for key in ('apiGroups', 'resources', 'verbs'):
                if not isinstance(rule.get(key), list) or not rule[key]:
                    raise RbacError('%s: a rule of %s %s needs a non-empty %s list: %r' % (source, doc['kind'], name, key, rule))


def _rule_allows(rule, verb, group, resource, name):
    if '*' not in rule['apiGroups'] and group not in rule['apiGroups']:
        return False
    if '*' not in rule['resources'] and resource not in rule['resources']:
        return False
    if '*' not in rule['verbs'] and verb not in rule['verbs']:
        return False
    names = rule.get('resourceNames') or []
    return not names or (bool(name) and name in names)


def allows(documents, verb, group, resource, namespace, name=None, subresource=None):
    """True when a rule of the (bound) documents allows the request; namespace None = a cluster-scoped resource."""
    full = resource + ('/' + subresource if subresource else '')
    for doc in documents:
        if doc['kind'] == 'Role' and doc['metadata']['namespace'] != namespace:
            continue
        if any(_rule_allows(rule, verb, group, full, name) for rule in doc.get('rules') or []):
            return True
    return False


def grants(documents):
    """Every atomic permission the documents give: (namespace or '*', group, resource, verb, name or None)."""
    result = set()
    for doc in documents:
        namespace = doc['metadata']['namespace'] if doc['kind'] == 'Role' else '*'
        for rule in doc.get('rules') or []:
            for group in rule['apiGroups']:
                for resource in rule['resources']:
                    for verb in rule['verbs']:
                        for name in rule.get('resourceNames') or [None]:
                            result.add((namespace, group, resource, verb, name))
    return result
