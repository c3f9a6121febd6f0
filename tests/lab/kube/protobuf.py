# -*- coding: utf-8 -*-
# Copyright (c) 2026 aks.tunnel contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The few Kubernetes protobuf request bodies the lab reads: kubectl sends built-in types as
`application/vnd.kubernetes.protobuf` (magic `k8s\\0` + runtime.Unknown{typeMeta, raw}). Only the authorization.k8s.io/v1
self reviews of `kubectl auth can-i` are decoded (field numbers from k8s.io/api authorization/v1 generated.proto);
responses are JSON, which every client accepts.
"""

from __future__ import annotations

MAGIC = b'k8s\x00'


class ProtobufError(ValueError):
    """The body is not a protobuf message the lab understands."""


def _varint(data, pos):
    result = shift = 0
    while True:
        if pos >= len(data):
            raise ProtobufError('truncated varint')
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, pos
        shift += 7


def fields(data):
    """{field number: [values]} of one message; length-delimited values stay bytes."""
    out = {}
    pos = 0
    while pos < len(data):
        key, pos = _varint(data, pos)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = _varint(data, pos)
        elif wire == 2:
            length, pos = _varint(data, pos)
            value, pos = data[pos:pos + length], pos + length
        elif wire == 1:
            value, pos = data[pos:pos + 8], pos + 8
        elif wire == 5:
            value, pos = data[pos:pos + 4], pos + 4
        else:
            raise ProtobufError('unsupported wire type %d' % wire)
        out.setdefault(number, []).append(value)
    return out


def _text(msg, number):
    return msg.get(number, [b''])[-1].decode('utf-8')


def _message(msg, number):
    return fields(msg[number][-1]) if number in msg else None


def unknown(body):
    """(apiVersion, kind, raw message bytes) of a Kubernetes protobuf envelope."""
    if not body.startswith(MAGIC):
        raise ProtobufError('the body does not start with the Kubernetes protobuf magic number')
    envelope = fields(body[len(MAGIC):])
    type_meta = _message(envelope, 1) or {}
    return _text(type_meta, 1), _text(type_meta, 2), envelope.get(2, [b''])[-1]


def self_review(body):
    """The JSON form of a protobuf SelfSubjectAccessReview or SelfSubjectRulesReview."""
    api_version, kind, raw = unknown(body)
    msg = fields(raw)
    spec = _message(msg, 2) or {}
    if kind == 'SelfSubjectRulesReview':
        return {'apiVersion': api_version, 'kind': kind, 'spec': {'namespace': _text(spec, 1)}}
    if kind != 'SelfSubjectAccessReview':
        raise ProtobufError('the lab decodes only SelfSubjectAccessReview and SelfSubjectRulesReview, got %s' % kind)
    result = {}
    resource = _message(spec, 1)
    if resource is not None:
        names = ('namespace', 'verb', 'group', 'version', 'resource', 'subresource', 'name')
        result['resourceAttributes'] = {name: _text(resource, number) for number, name in enumerate(names, 1) if number in resource}
    non_resource = _message(spec, 2)
    if non_resource is not None:
        result['nonResourceAttributes'] = {'path': _text(non_resource, 1), 'verb': _text(non_resource, 2)}
    return {'apiVersion': api_version, 'kind': kind, 'spec': result}
