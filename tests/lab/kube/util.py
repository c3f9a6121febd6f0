# -*- coding: utf-8 -*-
# Copyright (c) 2026 aks.tunnel contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Small helpers shared by the Kubernetes emulator: quantities, timestamps, names, Status bodies."""

from __future__ import annotations

import datetime
import decimal
import hashlib
import re
import uuid

# Kubernetes' rand.String alphabet (no vowels, no 0/1/3): pod suffixes and pod-template-hash look real.
NAME_ALPHABET = 'bcdfghjklmnpqrstvwxz2456789'

_SUFFIXES = {
    'n': decimal.Decimal('1e-9'), 'u': decimal.Decimal('1e-6'), 'm': decimal.Decimal('1e-3'), '': decimal.Decimal(1),
    'k': decimal.Decimal(10) ** 3, 'M': decimal.Decimal(10) ** 6, 'G': decimal.Decimal(10) ** 9, 'T': decimal.Decimal(10) ** 12,
    'P': decimal.Decimal(10) ** 15, 'E': decimal.Decimal(10) ** 18,
    'Ki': decimal.Decimal(2) ** 10, 'Mi': decimal.Decimal(2) ** 20, 'Gi': decimal.Decimal(2) ** 30, 'Ti': decimal.Decimal(2) ** 40,
    'Pi': decimal.Decimal(2) ** 50, 'Ei': decimal.Decimal(2) ** 60,
}
_QUANTITY = re.compile(r'^([+-]?[0-9.]+(?:[eE][+-]?[0-9]+)?)(n|u|m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei)?$')


class QuantityError(ValueError):
    """A resource quantity string is not in Kubernetes syntax."""


def parse_quantity(value):
    """'1900m' -> Decimal('1.9'), '5368Mi' -> bytes as Decimal; ints/floats pass through."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return decimal.Decimal(str(value))
    match = _QUANTITY.match(str(value).strip())
    if not match:
        raise QuantityError('%r is not a Kubernetes quantity (examples: 1900m, 2, 5368Mi)' % (value,))
    return decimal.Decimal(match.group(1)) * _SUFFIXES[match.group(2) or '']


def nanocores(value):
    """CPU quantity -> metrics-server style string '123456789n'."""
    return '%dn' % int(parse_quantity(value) * 1000000000)


def kibibytes(value):
    """Memory quantity -> metrics-server style string '732212Ki'."""
    return '%dKi' % int(parse_quantity(value) / 1024)


def now():
    return datetime.datetime.now(datetime.timezone.utc)


def timestamp(when=None):
    """RFC 3339 seconds, the format of metadata.creationTimestamp."""
    return (when or now()).strftime('%Y-%m-%dT%H:%M:%SZ')


def micro_timestamp(when=None):
    """RFC 3339 with microseconds, the format of MicroTime fields (eventTime)."""
    return (when or now()).strftime('%Y-%m-%dT%H:%M:%S.%fZ')


def new_uid():
    return str(uuid.uuid4())


def random_suffix(rng, length=5):
    return ''.join(rng.choice(NAME_ALPHABET) for _unused in range(length))


def template_hash(text):
    """Stable pod-template-hash-like string for a Deployment's pod template."""
    digest = hashlib.sha256(text.encode()).digest()
    return ''.join(NAME_ALPHABET[b % len(NAME_ALPHABET)] for b in digest[:10])


def status_body(code, reason, message, name=None, kind=None, group=None, causes=None):
    """A metav1.Status failure body, as the API server returns it."""
    body = {'kind': 'Status', 'apiVersion': 'v1', 'metadata': {}, 'status': 'Failure', 'message': message, 'reason': reason}
    details = {}
    if name is not None:
        details['name'] = name
    if group:
        details['group'] = group
    if kind is not None:
        details['kind'] = kind
    if causes:
        details['causes'] = causes
    if details:
        body['details'] = details
    body['code'] = code
    return body


class ApiError(Exception):
    """Raised inside handlers; turned into a Status response by the server."""

    def __init__(self, code, reason, message, name=None, kind=None, group=None, causes=None):
        super().__init__(message)
        self.code = code
        self.body = status_body(code, reason, message, name=name, kind=kind, group=group, causes=causes)


def not_found(resource, name, group=''):
    qualified = resource + ('.' + group if group else '')
    return ApiError(404, 'NotFound', '%s "%s" not found' % (qualified, name), name=name, kind=resource, group=group)


def conflict(resource, name, group=''):
    qualified = resource + ('.' + group if group else '')
    return ApiError(409, 'Conflict', 'Operation cannot be fulfilled on %s "%s": the object has been modified; '
                    'please apply your changes to the latest version and try again' % (qualified, name),
                    name=name, kind=resource, group=group)


def already_exists(resource, name, group=''):
    qualified = resource + ('.' + group if group else '')
    return ApiError(409, 'AlreadyExists', '%s "%s" already exists' % (qualified, name), name=name, kind=resource, group=group)


def bad_request(message):
    return ApiError(400, 'BadRequest', message)


def invalid(kind, group, name, field, value, detail):
    qualified = kind + ('.' + group if group else '')
    message = '%s "%s" is invalid: %s: Invalid value: %s: %s' % (qualified, name, field, value, detail)
    return ApiError(422, 'Invalid', message, name=name, kind=kind, group=group,
                    causes=[{'reason': 'FieldValueInvalid', 'message': 'Invalid value: %s: %s' % (value, detail), 'field': field}])
