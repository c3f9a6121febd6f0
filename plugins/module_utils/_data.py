# -*- coding: utf-8 -*-
# Copyright (c) 2026 aks.tunnel contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Reading nested API objects (ARM REST bodies, Kubernetes JSON) as plain dicts. Standard library only."""

from __future__ import annotations


def get_path(data, *path, default=None):
    """``data[path[0]][path[1]]...``, or ``default`` when a step is missing, None, or not a dict."""
    for key in path:
        if not isinstance(data, dict):
            return default
        data = data.get(key)
        if data is None:
            return default
    return data


def condition_true(obj, kind='Ready'):
    """Whether a Kubernetes object's ``status.conditions`` entry ``kind`` is True: True, False, or None without that condition."""
    for condition in get_path(obj, 'status', 'conditions', default=[]):
        if condition.get('type') == kind:
            return condition.get('status') == 'True'
    return None
