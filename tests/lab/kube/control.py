# -*- coding: utf-8 -*-
# Copyright (c) 2026 aks.tunnel contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Drive an emulator that runs as a process: the same scenario helpers as KubeEmulator, over POST /lab/v1/call."""

from __future__ import annotations

import json
import os
import ssl
import urllib.error
import urllib.request

import yaml


class LabControlError(RuntimeError):
    """The emulator refused or failed a control call; the message is its Status message."""


class LabKubeControl:
    """`LabKubeControl.from_state_dir(dir).set_node_unschedulable('nodepool1-0')` and friends (see server.CONTROL_METHODS)."""

    def __init__(self, url, ca_path, token, timeout=10):
        self.url = url.rstrip('/')
        self.token = token
        self.timeout = timeout
        self._context = ssl.create_default_context(cafile=ca_path)

    @classmethod
    def from_state_dir(cls, state_dir, kubeconfig='kubeconfig'):
        """Read DIR/ready and the admin token from DIR/kubeconfig (written by `python -m ...lab.kube`)."""
        with open(os.path.join(state_dir, 'ready'), encoding='utf-8') as handle:
            ready = json.load(handle)
        with open(os.path.join(state_dir, kubeconfig), encoding='utf-8') as handle:
            config = yaml.safe_load(handle)
        token = config['users'][0]['user'].get('token')
        if not token:
            raise LabControlError('%s has no token user; lab controls need a bearer token' % kubeconfig)
        return cls(ready['url'], ready['ca'], token)

    def _request(self, method, path, payload=None):
        data = json.dumps(payload).encode() if payload is not None else None
        request = urllib.request.Request(self.url + path, data=data, method=method,
                                         headers={'Authorization': 'Bearer ' + self.token, 'Content-Type': 'application/json'})
        try:
            with urllib.request.urlopen(request, context=self._context, timeout=self.timeout) as response:
                return json.loads(response.read())
        except urllib.error.HTTPError as exc:
            try:
                message = json.loads(exc.read()).get('message')
            except ValueError:
                message = exc.reason
            raise LabControlError('lab control %s %s failed (HTTP %d): %s' % (method, path, exc.code, message)) from None

    def call(self, method, *args, **kwargs):
        return self._request('POST', '/lab/v1/call', {'method': method, 'args': list(args), 'kwargs': kwargs})['result']

    def state(self):
        return self._request('GET', '/lab/v1/state')

    def __getattr__(self, name):
        if name.startswith('_'):
            raise AttributeError(name)
        return lambda *args, **kwargs: self.call(name, *args, **kwargs)
