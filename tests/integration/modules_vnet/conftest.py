# -*- coding: utf-8 -*-
# Copyright (c) 2026 aks.tunnel contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""ARM emulators seeded from the lab scenarios (control plane only): the fixture of the SNAT module tests."""

from __future__ import annotations

from ansible_collections.aks.tunnel.tests.integration.modules_snat.conftest import arm_lab  # noqa: F401  pylint: disable=unused-import
