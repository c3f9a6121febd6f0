# -*- coding: utf-8 -*-
# Copyright (c) 2026 aks.tunnel contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The symptom classifier on real error messages people posted (fixtures/symptoms_real/messages.yml)."""

from __future__ import annotations

import os

import pytest
import yaml

from ansible_collections.aks.tunnel.plugins.module_utils._causes import CAUSE_IDS
from ansible_collections.aks.tunnel.plugins.module_utils._symptoms import classify

CORPUS = os.path.join(os.path.dirname(__file__), 'fixtures', 'symptoms_real', 'messages.yml')

with open(CORPUS, encoding='utf-8') as handle:
    MESSAGES = yaml.safe_load(handle)['messages']


def test_corpus_is_large_enough_and_well_formed():
    assert len(MESSAGES) >= 15
    ids = [m['id'] for m in MESSAGES]
    assert len(ids) == len(set(ids))
    for message in MESSAGES:
        assert message['source'] and message['text'].strip()
        assert set(message['causes']) <= set(CAUSE_IDS) and message['first'] in message['causes']


@pytest.mark.parametrize('message', MESSAGES, ids=[m['id'] for m in MESSAGES])
def test_real_message_maps_to_its_causes(message):
    found = [item['cause'] for item in classify(message['text'])]
    assert found and found[0] == message['first']
    assert set(found) == set(message['causes'])


@pytest.mark.parametrize('message', MESSAGES, ids=[m['id'] for m in MESSAGES])
def test_real_message_survives_terminal_wrapping_at_80_columns(message):
    # A terminal 80 columns wide breaks every line at that width, wherever a word is.
    wrapped = '\n'.join(line[i:i + 80] for line in message['text'].split('\n') for i in range(0, max(len(line), 1), 80))
    found = [item['cause'] for item in classify(wrapped)]
    assert found and found[0] == message['first']
    assert set(found) == set(message['causes'])
