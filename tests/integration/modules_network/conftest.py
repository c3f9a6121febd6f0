# -*- coding: utf-8 -*-
# Copyright (c) 2026 aks.tunnel contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The labs of the module-level lab tests: one per scenario and test file (network_lab.py has the helpers)."""

from __future__ import annotations

import pytest

from ansible_collections.aks.tunnel.tests.integration.modules_network.network_lab import Lab


@pytest.fixture(scope='module')
def lab_factory(tmp_path_factory):
    labs = {}

    def make(scenario):
        if scenario not in labs:
            labs[scenario] = Lab(scenario, tmp_path_factory.mktemp('lab-' + scenario))
        return labs[scenario]

    yield make
    for lab in labs.values():
        lab.down()
