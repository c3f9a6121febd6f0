# -*- coding: utf-8 -*-
# Copyright (c) 2026 aks.tunnel contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""PATCH bodies: JSON merge patch (RFC 7386), a strategic merge patch subset, JSON patch (RFC 6902)."""

from __future__ import annotations

import copy

from .util import ApiError, bad_request

MERGE = 'application/merge-patch+json'
STRATEGIC = 'application/strategic-merge-patch+json'
JSON_PATCH = 'application/json-patch+json'
APPLY = 'application/apply-patch+yaml'

# Lists the API server merges by a key under strategic merge patch (the ones our objects carry).
_MERGE_KEYS = {
    'containers': 'name', 'initContainers': 'name', 'env': 'name', 'volumes': 'name', 'volumeMounts': 'mountPath',
    'ports': 'containerPort', 'conditions': 'type', 'addresses': 'type', 'tolerations': None, 'taints': 'key',
    'imagePullSecrets': 'name', 'ownerReferences': 'uid',
}


def merge_patch(target, patch):
    """RFC 7386: objects merge recursively, null deletes, everything else replaces."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = copy.deepcopy(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def strategic_merge_patch(target, patch):
    """Like merge patch, but lists with a known merge key merge item by item; `$patch` directives honoured."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    if patch.get('$patch') == 'replace':
        return {k: copy.deepcopy(v) for k, v in patch.items() if k != '$patch'}
    if patch.get('$patch') == 'delete':
        return None
    result = copy.deepcopy(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if key.startswith('$') or key.startswith('$setElementOrder/'):
            continue
        if value is None:
            result.pop(key, None)
        elif isinstance(value, list) and _MERGE_KEYS.get(key) and isinstance(result.get(key), list):
            result[key] = _merge_list(result[key], value, _MERGE_KEYS[key])
        elif isinstance(value, dict):
            merged = strategic_merge_patch(result.get(key), value)
            if merged is None:
                result.pop(key, None)
            else:
                result[key] = merged
        else:
            result[key] = copy.deepcopy(value)
    return result


def _merge_list(current, patch_items, merge_key):
    result = copy.deepcopy(current)
    for item in patch_items:
        if not isinstance(item, dict) or merge_key not in item:
            return copy.deepcopy(patch_items)
        index = next((i for i, old in enumerate(result) if isinstance(old, dict) and old.get(merge_key) == item[merge_key]), None)
        if item.get('$patch') == 'delete':
            if index is not None:
                result.pop(index)
        elif index is None:
            result.append({k: v for k, v in item.items() if not k.startswith('$')})
        else:
            result[index] = strategic_merge_patch(result[index], item)
    return result


def _pointer(path):
    if path == '':
        return []
    if not path.startswith('/'):
        raise bad_request('the server rejected our request due to an error in our request: JSON pointer %r must start with /' % path)
    return [part.replace('~1', '/').replace('~0', '~') for part in path[1:].split('/')]


def _walk(doc, parts, op):
    for part in parts:
        if isinstance(doc, list):
            try:
                doc = doc[int(part)]
            except (ValueError, IndexError):
                raise _patch_error(op, 'index %s out of range' % part) from None
        elif isinstance(doc, dict) and part in doc:
            doc = doc[part]
        else:
            raise _patch_error(op, 'missing path component %s' % part)
    return doc


def _patch_error(op, detail):
    return ApiError(422, 'Invalid', 'the server rejected our request due to an error in our request: %s operation does not apply: %s'
                    % (op, detail))


def json_patch(target, operations):
    """RFC 6902 add/remove/replace/move/copy/test."""
    if not isinstance(operations, list):
        raise bad_request('json: cannot unmarshal object into Go value of type jsonpatch.Patch')
    doc = copy.deepcopy(target)
    for operation in operations:
        if not isinstance(operation, dict) or 'op' not in operation or 'path' not in operation:
            raise bad_request('the server rejected our request due to an error in our request: each JSON patch operation needs op and path')
        op = operation['op']
        parts = _pointer(operation['path'])
        if op in ('add', 'replace', 'test') and 'value' not in operation:
            raise _patch_error(op, 'missing value')
        if op in ('move', 'copy'):
            from_parts = _pointer(operation.get('from', ''))
            value = copy.deepcopy(_walk(doc, from_parts, op))
            if op == 'move':
                doc = _remove(doc, from_parts, op)
            doc = _add(doc, parts, value, op)
        elif op == 'add':
            doc = _add(doc, parts, copy.deepcopy(operation['value']), op)
        elif op == 'remove':
            doc = _remove(doc, parts, op)
        elif op == 'replace':
            _walk(doc, parts, op)
            doc = _remove(doc, parts, op)
            doc = _add(doc, parts, copy.deepcopy(operation['value']), op)
        elif op == 'test':
            if _walk(doc, parts, op) != operation['value']:
                raise _patch_error(op, 'testing value %s failed' % operation['path'])
        else:
            raise bad_request('the server rejected our request due to an error in our request: unexpected kind of operation %r' % op)
    return doc


def _add(doc, parts, value, op):
    if not parts:
        return value
    parent = _walk(doc, parts[:-1], op)
    last = parts[-1]
    if isinstance(parent, list):
        if last == '-':
            parent.append(value)
        else:
            try:
                index = int(last)
            except ValueError:
                raise _patch_error(op, 'invalid index %s' % last) from None
            if index < 0 or index > len(parent):
                raise _patch_error(op, 'index %s out of range' % last)
            parent.insert(index, value)
    elif isinstance(parent, dict):
        parent[last] = value
    else:
        raise _patch_error(op, 'parent of %s is not a container' % last)
    return doc


def _remove(doc, parts, op):
    if not parts:
        return None
    parent = _walk(doc, parts[:-1], op)
    last = parts[-1]
    if isinstance(parent, list):
        try:
            parent.pop(int(last))
        except (ValueError, IndexError):
            raise _patch_error(op, 'index %s out of range' % last) from None
    elif isinstance(parent, dict) and last in parent:
        del parent[last]
    else:
        raise _patch_error(op, 'missing path component %s' % last)
    return doc


def apply_patch(content_type, target, body):
    """Dispatch on the request's Content-Type (parameters such as charset ignored)."""
    media = (content_type or '').split(';')[0].strip().lower()
    if media == MERGE:
        if not isinstance(body, dict):
            raise bad_request('json: cannot unmarshal array into Go value of type map[string]interface {}')
        return merge_patch(target, body)
    if media == STRATEGIC:
        if not isinstance(body, dict):
            raise bad_request('json: cannot unmarshal array into Go value of type map[string]interface {}')
        return strategic_merge_patch(target, body)
    if media == JSON_PATCH:
        return json_patch(target, body)
    raise ApiError(415, 'UnsupportedMediaType', 'the body of the request was in an unknown format - accepted media types include: '
                   'application/json-patch+json, application/merge-patch+json, application/strategic-merge-patch+json')
