# -*- coding: utf-8 -*-
# Copyright (c) 2026 aks.tunnel contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The one reader of the `@@section` format of the node scripts (probe AKSTP1, repair AKSFW1)."""

from __future__ import annotations

import pytest

from ansible_collections.aks.tunnel.plugins.module_utils import _node_text


def read(text, extra_keys=()):
    reader = _node_text.SectionReader(extra_keys)
    left = [line for line in _node_text.output_lines(text) if not reader.feed(line)]
    return reader, left


@pytest.mark.parametrize('text, sections, error, left', [
    # header fields, escaped text, @@end, then a record line the parser handles itself
    ('@@ufw rc=0 bytes=12 filtered=1\nStatus: active\n\\@@end\n@@end\nA 0 ufw rc=0\n',
     {'ufw': {'rc': 0, 'bytes': 12, 'filtered': True, 'trimmed': 0, 'lines': ['Status: active', '@@end']}}, None, ['A 0 ufw rc=0']),
    # rc 127 (tool missing), negative rc, trimmed, bytes not a number
    ('@@nft rc=127 bytes=0\n@@end\n@@ss rc=-1 bytes=x trimmed=40\nLISTEN\n',
     {'nft': {'rc': 127, 'bytes': 0, 'filtered': False, 'trimmed': 0, 'lines': []},
      'ss': {'rc': -1, 'bytes': None, 'filtered': False, 'trimmed': 40, 'lines': ['LISTEN']}}, None, []),
    # the script's refusal closes the open section
    ('@@net rc=0 bytes=3\n@@error bad-arg 2\nS n=0\n', {'net': {'rc': 0, 'bytes': 3, 'filtered': False, 'trimmed': 0, 'lines': []}},
     'bad-arg 2', ['S n=0']),
    # a garbled header (no name) and a trimmed value that is not a number
    ('@@\n@@x trimmed=zz rc=\n', {'': {'rc': None, 'bytes': None, 'filtered': False, 'trimmed': 0, 'lines': []},
                                  'x': {'rc': None, 'bytes': None, 'filtered': False, 'trimmed': 0, 'lines': []}}, None, []),
])
def test_sections(text, sections, error, left):
    reader, rest = read(text)
    assert reader.sections == sections and reader.error == error and rest == left


def test_extra_keys_and_close():
    reader, rest = read('@@iptables rc=0 bytes=9 enc=gz64 path=/var/lib/aks-tunnel/x\nabc\n', extra_keys=('path', 'enc'))
    assert reader.sections['iptables'] == {'rc': 0, 'bytes': 9, 'filtered': False, 'trimmed': 0, 'path': '/var/lib/aks-tunnel/x',
                                           'enc': 'gz64', 'lines': ['abc']}
    reader.close()
    assert reader.feed('AKSFW1 end id=f1 rc=0') is False and rest == []


@pytest.mark.parametrize('words, expected', [
    (['a=1', 'b=x=y', 'c', '=v'], {'a': '1', 'b': 'x=y', '': 'v'}),
    ([], {}),
])
def test_parse_kv(words, expected):
    assert _node_text.parse_kv(words) == expected
