# -*- coding: utf-8 -*-
# Copyright (c) 2026 aks.tunnel contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Reading the sectioned output of the node scripts (AKSTP1 probe, AKSFW1 repair) without trusting the node's text.

Pure Python (standard library only).

A section holds text the node's owner and its workloads choose: rule comments (iptables prints a comment's
newlines and carriage returns as they are), ufw comments, tool messages.  The scripts put a backslash before
every section line that starts with ``@``, ``\\``, ``[`` or ``AKS`` (so no line of node text reads as a section
header, an end marker or Run Command's ``[stderr]`` separator), and put an iptables rule whose comment holds
newlines back on one line (``\\n`` inside its quotes).  The parsers split the output on ``\\n`` only (the scripts'
line breaks: Python's ``splitlines`` would also split on ``\\r``, ``\\x0b``, ``\\x1c``, ``\\u2028``, ...), drop the
backslash again with :func:`section_line`, and show the other line breaks as ``\\xNN`` (:func:`section_text`), so
the firewall parsers, which split with ``splitlines``, see exactly the lines the node printed.
"""

from __future__ import annotations

import re

# What str.splitlines() breaks on besides \n.
_OTHER_LINE_BREAKS_RE = re.compile('[\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029]')


def output_lines(text):
    """The lines of a script's output, split on ``\\n`` only (no empty last line after a final newline)."""
    lines = (text or '').split('\n')
    if lines and lines[-1] == '':
        lines.pop()
    return lines


def section_line(line):
    """One line of section text as the node printed it (the script's escaping backslash removed)."""
    return line[1:] if line.startswith('\\') else line


def section_text(lines):
    """A section's text from its lines; line breaks other than ``\\n`` are shown as ``\\xNN`` / ``\\uNNNN``."""
    body = '\n'.join(lines) + '\n' if lines else ''
    return _OTHER_LINE_BREAKS_RE.sub(lambda m: ('\\x%02x' if ord(m.group(0)) < 0x100 else '\\u%04x') % ord(m.group(0)), body)


def parse_kv(words):
    """``key=value`` words -> dict (words without ``=`` are skipped; the first ``=`` splits)."""
    result = {}
    for word in words:
        key, sep, value = word.partition('=')
        if sep:
            result[key] = value
    return result


def _int(text, signed=False):
    text = text or ''
    return int(text) if (text.lstrip('-') if signed else text).isdigit() else None


class SectionReader:
    """The one reader of the ``@@<name> key=value ...`` section format both node scripts print.

    ``@@<name> rc=<rc> bytes=<size> [filtered=1] [trimmed=<cut>] [<other>=...]`` opens a section, its text lines follow
    (escaped, see :func:`section_line`), ``@@end`` closes it, ``@@error <text>`` reports the script's refusal. Each
    parser feeds it every line and handles the lines it does not take (its own begin/end markers and records).
    A section is ``{rc, bytes, filtered, trimmed, <each key of extra_keys>, lines}``; the parser turns ``lines``
    into text (:func:`section_text`) when the output is read.
    """

    def __init__(self, extra_keys=()):
        self.extra_keys = tuple(extra_keys)
        self.sections = {}
        self.error = None
        self._current = None

    def close(self):
        """End the open section (a begin or end marker of the script's own format)."""
        self._current = None

    def feed(self, line):
        """Take ``line`` when it belongs to the section format (a header, ``@@end``, ``@@error``, a section's text)."""
        if line.startswith('@@'):
            head = line[2:].split()
            name = head[0] if head else ''
            if name == 'end':
                self._current = None
            elif name == 'error':
                self.error = line[len('@@error '):].strip()
                self._current = None
            else:
                kv = parse_kv(head[1:])
                self._current = dict({'rc': _int(kv.get('rc'), signed=True), 'bytes': _int(kv.get('bytes')),
                                      'filtered': kv.get('filtered') == '1', 'trimmed': _int(kv.get('trimmed')) or 0},
                                     **dict((key, kv.get(key)) for key in self.extra_keys))
                self._current['lines'] = []
                self.sections[name] = self._current
            return True
        if self._current is not None:
            self._current['lines'].append(section_line(line))
            return True
        return False
