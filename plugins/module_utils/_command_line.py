# -*- coding: utf-8 -*-
# Copyright (c) 2026 aks.tunnel contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The exact next command: the ansible-playbook arguments of this run, repeated for the remediation playbook.

The report's "next command" must work when pasted: the same vars files, auth, kubeconfig, report directory, inventory
and vault options the user ran with (else it fails with `subscription_id is required`, or silently reads another
cluster's ~/.kube/config). The tunnel_report action plugin reads them from ansible's parsed command line
(ansible.context.CLIARGS: extra_vars, inventory, vault options, the playbook); this module only turns them into a
command. Secrets given inline (-e 'aks_tunnel_azure_auth={"secret": ...}') are never printed: the value is replaced.

Pure Python (standard library only).
"""

from __future__ import annotations

import json
import re
import shlex

# Keys whose values are secrets: printed as REDACTED (the command then says to pass them again).
_SECRET_KEY_RE = re.compile(r'secret|password|passwd|token|api_key|apikey|private_key|certificate|credential', re.IGNORECASE)
REDACTED = 'REDACTED'
_PLAYBOOK_RE = re.compile(r'^(?P<dir>.*?)(?P<name>diagnose|remediate)(?P<ext>\.ya?ml)$')
_FQCN_RE = re.compile(r'^aks\.tunnel\.(diagnose|remediate)$')


def remediate_playbook(playbooks, fallback='playbooks/remediate.yml'):
    """How this run's user calls the remediation playbook: the sibling of the diagnose/remediate playbook they ran.

    playbooks: the playbook arguments of the command line. `playbooks/diagnose.yml` -> `playbooks/remediate.yml`,
    `aks.tunnel.diagnose` -> `aks.tunnel.remediate`; a playbook of their own (the role embedded) gives `fallback`.
    """
    for playbook in playbooks or ():
        text = str(playbook)
        if _FQCN_RE.match(text):
            return 'aks.tunnel.remediate'
        match = _PLAYBOOK_RE.match(text)
        if match and (not match.group('dir') or match.group('dir').endswith('/')):
            return match.group('dir') + 'remediate' + match.group('ext')
    return fallback


def _redact(value):
    """`value` (parsed JSON) with the values of secret-named keys replaced; (value, whether something was replaced)."""
    if isinstance(value, dict):
        out, hit = {}, False
        for key, item in value.items():
            if isinstance(key, str) and _SECRET_KEY_RE.search(key) and item not in (None, ''):
                out[key], hit = REDACTED, True
            else:
                out[key], sub = _redact(item)
                hit = hit or sub
        return out, hit
    if isinstance(value, list):
        items = [_redact(item) for item in value]
        return [item for item, _hit in items], any(hit for _item, hit in items)
    return value, False


def _safe_extra_var(text):
    """One -e value as it can be printed: (text, whether a secret was replaced)."""
    text = str(text)
    if text.startswith('@'):
        return text, False                       # a vars file: its name, never its content
    stripped = text.strip()
    if stripped.startswith(('{', '[')):
        try:
            parsed = json.loads(stripped)
        except ValueError:
            parsed = None
        if parsed is not None:
            redacted, hit = _redact(parsed)
            return (json.dumps(redacted, separators=(', ', ': ')), True) if hit else (text, False)
        # YAML flow mapping or something else ansible accepts: shown only when no secret-looking key is in it.
        return (REDACTED, True) if _SECRET_KEY_RE.search(stripped) else (text, False)
    try:
        pairs = shlex.split(text)
    except ValueError:
        pairs = text.split()
    out, hit = [], False
    for pair in pairs:
        key, sep, _value = pair.partition('=')
        if sep and _SECRET_KEY_RE.search(key):
            out.append('%s=%s' % (key, REDACTED))
            hit = True
        else:
            out.append(pair)
    return (' '.join(out), True) if hit else (text, False)


def replay_args(cliargs, default_inventory=()):
    """The arguments of this run that the next command repeats, as a list of words (not yet quoted).

    cliargs: ansible.context.CLIARGS (or a dict like it): extra_vars (in order), inventory (only when it is not the
    configured default), vault_ids, vault_password_files, ask_vault_pass. Tags, --check and --diff are not repeated:
    the next command sets them itself. Returns (words, secrets_replaced).
    """
    cliargs = cliargs or {}
    words, secrets = [], False
    inventory = tuple(cliargs.get('inventory') or ())
    if inventory and tuple(inventory) != tuple(default_inventory or ()):
        for item in inventory:
            words += ['-i', str(item)]
    for vault_id in cliargs.get('vault_ids') or ():
        words += ['--vault-id', str(vault_id)]
    for path in cliargs.get('vault_password_files') or ():
        words += ['--vault-password-file', str(path)]
    if cliargs.get('ask_vault_pass'):
        words.append('--ask-vault-pass')
    for value in cliargs.get('extra_vars') or ():
        text, hit = _safe_extra_var(value)
        secrets = secrets or hit
        words += ['-e', text]
    return words, secrets


def quote(words):
    """Words as one shell command line (each quoted only when it needs it)."""
    return ' '.join(shlex.quote(str(word)) for word in words)


def command(playbook, options, args_text):
    """`ansible-playbook <playbook> <options> <args_text>` (args_text already quoted)."""
    parts = ['ansible-playbook', shlex.quote(str(playbook))] + list(options)
    if args_text:
        parts.append(args_text)
    return ' '.join(parts)
