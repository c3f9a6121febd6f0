# -*- coding: utf-8 -*-
# Copyright (c) 2026 aks.tunnel contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""requirements-compat-min.txt pins exactly the lower bound of every range in requirements.txt (no root, no lab).

So the lowest-SDK lab run (test_sdk_range_smoke.py) tests what requirements.txt promises, and a raised floor
cannot drift from the tested set.
"""

from __future__ import annotations

import os
import re

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
# ansible-core's range is tested by the ansible-core matrix (docs/testing.md), not by this SDK set.
NOT_AN_SDK = ('ansible-core',)


def _lines(name):
    with open(os.path.join(REPO, name), encoding='utf-8') as handle:
        return [line.split('#')[0].strip() for line in handle if line.split('#')[0].strip()]


def _release(version):
    parts = [int(p) for p in version.split('.')]
    while len(parts) > 1 and parts[-1] == 0:
        parts.pop()
    return tuple(parts)


def lower_bounds():
    result = {}
    for line in _lines('requirements.txt'):
        match = re.match(r'^([A-Za-z0-9_.-]+)\s*>=\s*([0-9.]+)', line)
        assert match, 'requirements.txt: every line is a range with a lower bound, got %r' % line
        if match.group(1).lower() not in NOT_AN_SDK:
            result[match.group(1).lower()] = match.group(2)
    return result


PINS = dict(line.lower().split('==') for line in _lines('requirements-compat-min.txt') if '==' in line)


@pytest.mark.parametrize('package, floor', sorted(lower_bounds().items()))
def test_compat_set_pins_the_lower_bound(package, floor):
    assert package in PINS, 'requirements-compat-min.txt does not pin %s (requirements.txt: >=%s)' % (package, floor)
    assert _release(PINS[package]) == _release(floor), '%s: requirements.txt says >=%s, the lowest-SDK set pins %s' % (package, floor, PINS[package])
