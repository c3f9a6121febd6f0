# -*- coding: utf-8 -*-
# Copyright (c) 2026 aks.tunnel contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Label and field selectors with the API server's syntax and error messages."""

from __future__ import annotations

import re

from .util import bad_request

_KEY = re.compile(r'^([a-z0-9A-Z]([-a-z0-9A-Z_.]*[a-z0-9A-Z])?/)?[a-z0-9A-Z]([-a-z0-9A-Z_.]*[a-z0-9A-Z])?$')
_SET_OP = re.compile(r'^\s*(!?)\s*([^\s!=(),]+)\s+(in|notin)\s*\((.*)\)\s*$')


def _split_top_level(text):
    """Split on commas that are not inside parentheses."""
    parts, depth, current = [], 0, ''
    for char in text:
        if char == '(':
            depth += 1
        elif char == ')':
            depth -= 1
        if char == ',' and depth == 0:
            parts.append(current)
            current = ''
        else:
            current += char
    parts.append(current)
    return [part.strip() for part in parts if part.strip()]


def _check_key(key, selector):
    if not _KEY.match(key):
        raise bad_request('unable to parse requirement: invalid label key "%s" in selector "%s"' % (key, selector))


def parse_label_selector(selector):
    """Return a predicate over a labels dict (None labels = {})."""
    if not selector:
        return None
    requirements = []
    for term in _split_top_level(selector):
        match = _SET_OP.match(term)
        if match:
            key, op, values = match.group(2), match.group(3), match.group(4)
            _check_key(key, selector)
            value_set = {value.strip() for value in values.split(',') if value.strip()}
            if not value_set and op == 'in':
                raise bad_request('unable to parse requirement: for \'in\', \'notin\' operators, values set can\'t be empty')
            requirements.append((op, key, value_set))
            continue
        for op_text, op in (('!=', '!='), ('==', '='), ('=', '=')):
            if op_text in term:
                key, value = term.split(op_text, 1)
                key, value = key.strip(), value.strip()
                _check_key(key, selector)
                requirements.append((op, key, value))
                break
        else:
            if term.startswith('!'):
                key = term[1:].strip()
                _check_key(key, selector)
                requirements.append(('!', key, None))
            else:
                _check_key(term, selector)
                requirements.append(('exists', term, None))

    def matches(labels):
        labels = labels or {}
        for op, key, value in requirements:
            present = key in labels
            if op == '=' and (not present or labels[key] != value):
                return False
            if op == '!=' and present and labels[key] == value:
                return False
            if op == 'in' and (not present or labels[key] not in value):
                return False
            if op == 'notin' and present and labels[key] in value:
                return False
            if op == 'exists' and not present:
                return False
            if op == '!' and present:
                return False
        return True
    return matches


def parse_field_selector(selector, getters, kind_label):
    """Return a predicate over an object; `getters` maps supported field names to functions obj -> str."""
    if not selector:
        return None
    requirements = []
    for term in _split_top_level(selector):
        for op_text, op in (('!=', '!='), ('==', '='), ('=', '=')):
            if op_text in term:
                field, value = term.split(op_text, 1)
                field, value = field.strip(), value.strip()
                break
        else:
            raise bad_request('invalid selector: \'%s\'; can\'t understand \'%s\'' % (selector, term))
        getter = getters.get(field)
        if getter is None:
            raise bad_request('Unable to find "%s" that match label selector "", field selector "%s": field label not supported: %s'
                              % (kind_label, selector, field))
        requirements.append((op, getter, value))

    def matches(obj):
        for op, getter, value in requirements:
            actual = getter(obj)
            if isinstance(actual, bool):
                actual = 'true' if actual else 'false'
            actual = '' if actual is None else str(actual)
            if (actual == value) != (op == '='):
                return False
        return True
    return matches


def path_getter(*path):
    def get(obj):
        for key in path:
            if not isinstance(obj, dict):
                return None
            obj = obj.get(key)
        return obj
    return get


def field_getters(resource):
    """Field selectors the real API server supports for each resource (plus metadata.* everywhere)."""
    getters = {'metadata.name': path_getter('metadata', 'name'), 'metadata.namespace': path_getter('metadata', 'namespace')}
    if resource == 'pods':
        getters.update({
            'spec.nodeName': path_getter('spec', 'nodeName'), 'status.phase': path_getter('status', 'phase'),
            'spec.restartPolicy': path_getter('spec', 'restartPolicy'), 'spec.schedulerName': path_getter('spec', 'schedulerName'),
            'spec.serviceAccountName': path_getter('spec', 'serviceAccountName'), 'status.podIP': path_getter('status', 'podIP'),
            'status.nominatedNodeName': path_getter('status', 'nominatedNodeName'), 'spec.hostNetwork': lambda o: bool(o['spec'].get('hostNetwork')),
        })
    elif resource == 'nodes':
        getters['spec.unschedulable'] = lambda o: bool(o.get('spec', {}).get('unschedulable'))
    elif resource == 'events':
        for field in ('kind', 'namespace', 'name', 'uid', 'apiVersion', 'resourceVersion', 'fieldPath'):
            getters['involvedObject.' + field] = path_getter('involvedObject', field)
            # events.k8s.io/v1 names the same fields regarding.*
            getters['regarding.' + field] = path_getter('involvedObject', field)
        getters.update({
            'reason': path_getter('reason'), 'type': path_getter('type'), 'source': path_getter('source', 'component'),
            'reportingComponent': path_getter('reportingComponent'), 'reportingController': path_getter('reportingComponent'),
            'deprecatedSource': path_getter('source', 'component'),
        })
    elif resource in ('replicasets', 'deployments'):
        getters['status.replicas'] = path_getter('status', 'replicas')
    return getters
