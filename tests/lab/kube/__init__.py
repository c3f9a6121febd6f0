# -*- coding: utf-8 -*-
# Copyright (c) 2026 aks.tunnel contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Kubernetes API emulator of the aks.tunnel lab (see server.KubeEmulator)."""

from __future__ import annotations

from .server import KubeEmulator, KubeLabError

__all__ = ['KubeEmulator', 'KubeLabError']
