# -*- coding: utf-8 -*-
# Copyright (c) 2026 aks.tunnel contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The lab's Linux data plane: network namespaces, a bridge with NSG rules in nftables, kubelet and
API-server stand-ins, an egress firewall, and a run-command executor that enters node namespaces.

Modules: plan (what to build), netns (build / tear down), nsg (NSG state -> nftables), services (the
stand-in daemon), executor (run command), control (the emulators daemon), lab (up / down / status).
"""
