# -*- coding: utf-8 -*-
# Copyright (c) 2026 aks.tunnel contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Azure Resource Manager emulator of the aks.tunnel lab (see server.py)."""

from __future__ import annotations

from .executor import LocalBashExecutor, NullExecutor
from .server import ArmEmulator

__all__ = ['ArmEmulator', 'LocalBashExecutor', 'NullExecutor']
