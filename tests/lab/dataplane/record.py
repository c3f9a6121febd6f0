# -*- coding: utf-8 -*-
# Copyright (c) 2026 aks.tunnel contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The lab record (`<state dir>/lab.json`): everything a lab created, written *before* each creation so
`labctl down` can undo a lab that crashed half-way."""

from __future__ import annotations

import json
import os
import threading

RECORD = 'lab.json'


class LabRecord:
    def __init__(self, state_dir, data=None):
        self.state_dir = os.path.abspath(state_dir)
        self.path = os.path.join(self.state_dir, RECORD)
        empty = {'netns': [], 'etc_netns': [], 'routes': [], 'pids': [], 'files': []}
        self.data = data if data is not None else {'version': 1, 'created': empty}
        self._lock = threading.Lock()

    @classmethod
    def load(cls, state_dir):
        path = os.path.join(os.path.abspath(state_dir), RECORD)
        try:
            with open(path, encoding='utf-8') as handle:
                return cls(state_dir, json.load(handle))
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as exc:
            raise RuntimeError('cannot read the lab record %s: %s (remove it after cleaning up by hand)' % (path, exc)) from None

    def save(self):
        with self._lock:
            os.makedirs(self.state_dir, exist_ok=True)
            tmp = self.path + '.tmp'
            with open(tmp, 'w', encoding='utf-8') as handle:
                json.dump(self.data, handle, indent=1, sort_keys=True)
            os.replace(tmp, self.path)

    def add(self, kind, value):
        """Remember something about to be created (kind: netns, etc_netns, routes, pids, files)."""
        items = self.data['created'].setdefault(kind, [])
        if value not in items:
            items.append(value)
        self.save()

    def created(self, kind):
        return list(self.data['created'].get(kind, []))

    def set(self, key, value):
        self.data[key] = value
        self.save()

    def get(self, key, default=None):
        return self.data.get(key, default)

    def file(self, name):
        return os.path.join(self.state_dir, name)
