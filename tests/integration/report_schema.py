# -*- coding: utf-8 -*-
# Copyright (c) 2026 aks.tunnel contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Every report.json / report-before.json the tests write validates against docs/report.schema.json (issue 18).

tests/integration/conftest.py calls `ReportWatch.check` after each test: it looks under pytest's temporary base
directory for report files written or changed since the last look and validates them. A test whose run wrote an
invalid report errors in its teardown with the schema's messages.
"""

from __future__ import annotations

import json
import os

SCHEMA_PATH = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..', 'docs', 'report.schema.json'))
REPORT_NAMES = ('report.json', 'report-before.json')
# Folders of a lab state or an installed collection: many files, never a report.
_SKIP_DIRS = frozenset(('pki', 'azure-cli', 'ansible_collections', '.ansible', 'kube', 'arm', 'nodes', '__pycache__'))


def validator():
    import jsonschema  # pylint: disable=import-outside-toplevel
    with open(SCHEMA_PATH, encoding='utf-8') as handle:
        schema = json.load(handle)
    return jsonschema.Draft202012Validator(schema)


def problems(report, checker=None):
    """The schema violations of one report document, as readable lines (empty when valid)."""
    checker = checker or validator()
    return ['%s: %s' % ('/'.join(str(p) for p in error.absolute_path) or '(top)', error.message[:500])
            for error in sorted(checker.iter_errors(report), key=lambda e: list(map(str, e.absolute_path)))]


class ReportWatch:
    """Validates the report files that appear under a directory tree, each version once."""

    def __init__(self):
        self._seen = {}
        self._validator = None

    def check(self, root):
        errors = []
        if not root or not os.path.isdir(root):
            return errors
        for folder, dirs, files in os.walk(root):
            dirs[:] = [d for d in dirs if d not in _SKIP_DIRS]
            for name in REPORT_NAMES:
                if name not in files:
                    continue
                path = os.path.join(folder, name)
                try:
                    stamp = os.stat(path).st_mtime_ns
                    if self._seen.get(path) == stamp:
                        continue
                    self._seen[path] = stamp
                    with open(path, encoding='utf-8') as handle:
                        report = json.load(handle)
                except (OSError, ValueError) as exc:
                    errors.append('%s: unreadable: %s' % (path, exc))
                    continue
                if not isinstance(report, dict) or report.get('test_stand_in') or report.get('schema') != 'aks.tunnel/report/v1':
                    continue  # a test's own partial stand-in (test_ci_recipes.py), not a report of the collection
                if self._validator is None:
                    self._validator = validator()
                errors.extend('%s: %s' % (path, line) for line in problems(report, self._validator))
        return errors
