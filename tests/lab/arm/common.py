# -*- coding: utf-8 -*-
# Copyright (c) 2026 aks.tunnel contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Shared plumbing of the ARM emulator: the ARM error type, responses, etags and timestamps."""

from __future__ import annotations

import datetime
import uuid


class ArmError(Exception):
    """An error the emulator answers with, in ARM's shape.

    `flat=True` gives the Monitor metrics shape `{"code", "message"}`; otherwise ARM's usual
    `{"error": {"code", "message", ...}}`.
    """

    def __init__(self, status, code, message, headers=None, flat=False, details=None, target=None):
        super().__init__('%s: %s' % (code, message))
        self.status = status
        self.code = code
        self.message = message
        self.headers = dict(headers or {})
        self.flat = flat
        self.details = details
        self.target = target

    def body(self):
        inner = {'code': self.code, 'message': self.message}
        if self.target is not None:
            inner['target'] = self.target
        if self.details is not None:
            inner['details'] = self.details
        return inner if self.flat else {'error': inner}


class Response:
    """What a handler returns: status, JSON body (or None) and extra headers."""

    def __init__(self, status=200, body=None, headers=None, spec=None):
        self.status = status
        self.body = body
        self.headers = dict(headers or {})
        self.spec = spec  # overrides the route's (spec group, operationId) in the journal


class LabConfigError(ValueError):
    """The emulator config (or an admin request) is invalid."""


def new_etag():
    return 'W/"%s"' % uuid.uuid4()


def etag_matches(wanted, current):
    """HTTP If-Match: '*' or the same entity tag, whether the client quoted it or not (SDKs do both)."""
    if not wanted or wanted.strip() == '*':
        return True

    def norm(tag):
        tag = (tag or '').strip()
        if tag.startswith('W/'):
            tag = tag[2:]
        return tag.strip('"')
    return any(norm(part) == norm(current) for part in wanted.split(','))


def utcnow():
    return datetime.datetime.now(datetime.timezone.utc)


def iso(ts=None):
    """ARM-style timestamp: 2026-11-25T20:15:52.1234567+00:00."""
    ts = ts or utcnow()
    return ts.strftime('%Y-%m-%dT%H:%M:%S.') + '%07d' % (ts.microsecond * 10) + '+00:00'


def iso_z(ts):
    """Monitor-style timestamp: 2026-11-25T20:15:00Z."""
    return ts.astimezone(datetime.timezone.utc).strftime('%Y-%m-%dT%H:%M:%SZ')


def stable_uuid(*parts):
    """A uuid that stays the same for the same inputs (so ids survive restarts)."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, 'aks.tunnel-lab:' + '/'.join(str(p) for p in parts)))


def not_found(resource_type, name, resource_group):
    return ArmError(404, 'ResourceNotFound', "The Resource '%s/%s' under resource group '%s' was not found. "
                    "For more details please go to https://aka.ms/ARMResourceNotFoundFix" % (resource_type, name, resource_group))
