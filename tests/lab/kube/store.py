# -*- coding: utf-8 -*-
# Copyright (c) 2026 aks.tunnel contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The emulator's object store: one lock, a global resourceVersion, cached JSON per object, sorted keys for paging.

No watch: clients poll, as the collection does. Listeners (the controllers, the CPA simulation) are called
after every committed change, under the store lock, so a change and its consequences are atomic to readers.
"""

from __future__ import annotations

import bisect
import copy
import json
import threading

from .util import new_uid, timestamp


class _Entry:
    __slots__ = ('obj', 'raw')

    def __init__(self, obj):
        self.obj = obj
        self.raw = None

    def json(self):
        if self.raw is None:
            self.raw = json.dumps(self.obj, separators=(',', ':')).encode()
        return self.raw


class Store:
    """Objects by resource ('nodes', 'pods', ...) and (namespace, name); namespace '' for cluster-scoped."""

    def __init__(self):
        self.lock = threading.RLock()
        self._rv = 1000
        self._entries = {}
        self._keys = {}
        self._listeners = []

    # -- bookkeeping -------------------------------------------------------------------------------
    def add_listener(self, callback):
        """callback(event, resource, obj, old) with event in ADDED/MODIFIED/DELETED."""
        self._listeners.append(callback)

    def _notify(self, event, resource, obj, old):
        for callback in list(self._listeners):
            callback(event, resource, obj, old)

    def resource_version(self):
        return str(self._rv)

    def _next_rv(self):
        self._rv += 1
        return str(self._rv)

    def _table(self, resource):
        if resource not in self._entries:
            self._entries[resource] = {}
            self._keys[resource] = []
        return self._entries[resource]

    # -- reads -------------------------------------------------------------------------------------
    def get(self, resource, namespace, name):
        """The live object (do not mutate; use update()) or None."""
        with self.lock:
            entry = self._table(resource).get((namespace or '', name))
            return entry.obj if entry else None

    def get_copy(self, resource, namespace, name):
        obj = self.get(resource, namespace, name)
        return copy.deepcopy(obj) if obj is not None else None

    def raw(self, resource, namespace, name):
        with self.lock:
            entry = self._table(resource).get((namespace or '', name))
            return entry.json() if entry else None

    def count(self, resource):
        with self.lock:
            return len(self._table(resource))

    def items(self, resource, namespace=None):
        """Live objects in key order, optionally of one namespace."""
        with self.lock:
            table = self._table(resource)
            keys = self._keys[resource]
            if namespace is None:
                return [table[key].obj for key in keys]
            start = bisect.bisect_left(keys, (namespace, ''))
            result = []
            for key in keys[start:]:
                if key[0] != namespace:
                    break
                result.append(table[key].obj)
            return result

    def page(self, resource, namespace, after, predicate, limit):
        """Up to `limit` (0 = all) (key, raw json, obj) after key `after`; returns (rows, more, remaining or None)."""
        with self.lock:
            table = self._table(resource)
            keys = self._keys[resource]
            if after is not None:
                index = bisect.bisect_right(keys, tuple(after))
            elif namespace is not None:
                index = bisect.bisect_left(keys, (namespace, ''))
            else:
                index = 0
            end = len(keys) if namespace is None else bisect.bisect_right(keys, (namespace, '\uffff'))
            rows = []
            while index < end and (not limit or len(rows) < limit):
                key = keys[index]
                index += 1
                entry = table[key]
                if predicate is None or predicate(entry.obj):
                    rows.append((key, entry.json(), entry.obj))
            if not limit or len(rows) < limit or index >= end:
                return rows, False, None
            if predicate is None:
                return rows, True, end - index
            more = any(predicate(table[key].obj) for key in keys[index:end])
            return rows, more, None

    # -- writes ------------------------------------------------------------------------------------
    def create(self, resource, obj, notify=True):
        """Insert a new object; fills uid, resourceVersion, creationTimestamp. Returns the stored object."""
        with self.lock:
            table = self._table(resource)
            meta = obj.setdefault('metadata', {})
            key = (meta.get('namespace') or '', meta['name'])
            if key in table:
                raise KeyError(key)
            meta.setdefault('uid', new_uid())
            meta.setdefault('creationTimestamp', timestamp())
            meta['resourceVersion'] = self._next_rv()
            table[key] = _Entry(obj)
            bisect.insort(self._keys[resource], key)
            if notify:
                self._notify('ADDED', resource, obj, None)
            return obj

    def bulk_load(self, resource, objects):
        """Seed many objects at once (no listeners, one sort)."""
        with self.lock:
            table = self._table(resource)
            for obj in objects:
                meta = obj['metadata']
                meta.setdefault('uid', new_uid())
                meta.setdefault('creationTimestamp', timestamp())
                meta['resourceVersion'] = self._next_rv()
                table[(meta.get('namespace') or '', meta['name'])] = _Entry(obj)
            self._keys[resource] = sorted(table)

    def update(self, resource, obj, notify=True):
        """Replace an existing object (same namespace/name); bumps resourceVersion. Returns the stored object."""
        with self.lock:
            table = self._table(resource)
            meta = obj['metadata']
            key = (meta.get('namespace') or '', meta['name'])
            old = table[key].obj
            meta['uid'] = old['metadata']['uid']
            meta['creationTimestamp'] = old['metadata']['creationTimestamp']
            meta['resourceVersion'] = self._next_rv()
            table[key] = _Entry(obj)
            if notify:
                self._notify('MODIFIED', resource, obj, old)
            return obj

    def mutate(self, resource, namespace, name, change, notify=True):
        """Copy, apply change(obj) in place, store. Returns the new object or None if absent."""
        with self.lock:
            obj = self.get_copy(resource, namespace, name)
            if obj is None:
                return None
            change(obj)
            return self.update(resource, obj, notify=notify)

    def delete(self, resource, namespace, name, notify=True):
        with self.lock:
            table = self._table(resource)
            key = (namespace or '', name)
            entry = table.pop(key, None)
            if entry is None:
                return None
            keys = self._keys[resource]
            index = bisect.bisect_left(keys, key)
            if index < len(keys) and keys[index] == key:
                keys.pop(index)
            self._next_rv()
            if notify:
                self._notify('DELETED', resource, entry.obj, entry.obj)
            return entry.obj
