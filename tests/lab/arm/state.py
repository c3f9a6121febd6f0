# -*- coding: utf-8 -*-
# Copyright (c) 2026 aks.tunnel contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The emulator's resources, seeded from `topology.build_topology(config)` plus the config's extras.

Everything mutable sits behind `state.lock` (an RLock). NSG changes call the `on_nsg_change` hooks
(in the request thread, after the change is applied) with `(state, event)` where event is
`{"nsg_id": ..., "change": "rule_put|rule_delete|nsg_put|admin_replace|subnet_nsg"}`.
"""

from __future__ import annotations

import copy
import logging
import threading
import uuid

from ansible_collections.aks.tunnel.plugins.module_utils import _snat

from ..topology import DEFAULT_KUBERNETES_VERSION, build_topology, TopologyError
from .common import LabConfigError, new_etag, stable_uuid, utcnow
from .config import validate_config, validate_metrics
from .lro import OperationStore
from .providers import network as net

# Automatic SNAT allocation is undefined above 1000 backend instances (the Azure table ends); the lab's choice there.
PORTS_ABOVE_ALLOCATION_TABLE = 16

LOG = logging.getLogger(__name__)

NSG_ID = '/subscriptions/%s/resourceGroups/%s/providers/Microsoft.Network/networkSecurityGroups/%s'


class ArmState:
    def __init__(self, config):
        self.lock = threading.RLock()
        self.clock = utcnow  # tests may replace it (aware UTC datetime); used by the SNAT port history and the metrics
        validate_config(config)
        self.config = copy.deepcopy(config)
        try:
            self.topology = build_topology(self.config)
        except TopologyError as exc:
            raise LabConfigError('config: %s' % exc) from None
        self._nodes_by_vmss = {}
        self._node_index = {}
        for node in self.topology['nodes']:
            self._nodes_by_vmss.setdefault(node['vmss_name'].lower(), []).append(node)
            self._node_index[(node['vmss_name'].lower(), node['instance_id'])] = node
        cluster = self.topology['cluster']
        self.subscription_id = cluster['subscription_id']
        self.tenant_id = cluster['tenant_id']
        self.location = cluster['location']
        self.resource_group = cluster['resource_group']
        self.node_resource_group = cluster['node_resource_group']
        self.cluster_name = cluster['name']
        self.operations = OperationStore()
        self._nsg_hooks = []
        self.settings = {
            'runcommand_latency_s': float(self.config.get('runcommand_latency_s', 0.0)),
            'runcommand_timeout_s': float(self.config.get('runcommand_timeout_s', 5400)),
            'lro_in_progress_polls': int(self.config.get('lro_in_progress_polls', 0)),
            'lro_retry_after_ms': int(self.config.get('lro_retry_after_ms', 200)),
            'lro_retry_after_max_ms': int(self.config.get('lro_retry_after_max_ms', 1000)),
            'vmss_vm_page_size': int(self.config.get('vmss_vm_page_size', 50)),
            'lro_retry_after_s': int(self.config.get('lro_retry_after_s', 0)),
        }
        netcfg = self.config.get('network') or {}
        self.nic_nsg_enabled = netcfg.get('node_nsg_on', 'nic') in ('nic', 'both')
        self.nsgs = {}
        self._add_nsg(self.node_resource_group, self.topology['nic_nsg']['name'], [])
        for name, spec in (netcfg.get('nsgs') or {}).items():
            spec = spec or {}
            rg = spec.get('resource_group', self.node_resource_group)
            if (rg.lower(), name.lower()) not in self.nsgs:
                self._add_nsg(rg, name, [])
            self._seed_rules(self.nsgs[(rg.lower(), name.lower())], spec.get('security_rules') or [])
        self.subnet_nsg_id = None
        if netcfg.get('node_nsg_on') in ('subnet', 'both'):
            self.subnet_nsg_id = self.topology['nic_nsg']['id']
        if netcfg.get('subnet_nsg'):
            self.subnet_nsg_id = self.find_nsg_by_ref(netcfg['subnet_nsg'])['id']
        self.subnet_etag = new_etag()
        self.vnet_etag = new_etag()
        # AKS side
        ccfg = self.config.get('cluster') or {}
        lbp = ccfg.get('load_balancer_profile') or {}
        self.cluster_props = {
            'kubernetes_version': ccfg.get('kubernetes_version') or (self.config.get('kube') or {}).get('version') or DEFAULT_KUBERNETES_VERSION,
            'network_plugin': ccfg.get('network_plugin', 'azure'),
            'network_plugin_mode': ccfg.get('network_plugin_mode', 'overlay'),
            'pod_cidr': ccfg.get('pod_cidr', '10.244.0.0/16'),
            'enable_vnet_integration': bool(ccfg.get('enable_vnet_integration', False)),
            'private_fqdn_public': bool(ccfg.get('enable_private_cluster_public_fqdn', False)),
            'byo_subnet': bool(ccfg.get('byo_subnet', False)),
            'tags': dict(ccfg.get('tags') or {}),
        }
        self.lb_profile = {
            'managed_outbound_ip_count': int(lbp.get('managed_outbound_ip_count', 1)),
            'allocated_outbound_ports': int(lbp.get('allocated_outbound_ports', 0)),
            'idle_timeout_in_minutes': int(lbp.get('idle_timeout_in_minutes', 30)),
        }
        self.outbound_ip_addresses = list(netcfg.get('outbound_ip_addresses') or [])
        self.cluster_etag = str(uuid.uuid4())
        self.lb_etag = new_etag()
        self._metrics = copy.deepcopy(self.config.get('metrics') or {})
        # (since, ports per node): the first entry holds since the beginning of time (since None), then one per LB profile change
        self._check_ports_fit()
        self._ports_history = [(None, self.effective_ports_per_node())]
        # run commands
        self.runcommand_busy = {}     # vm id (lower) -> op id
        self.runcommand_journal = []  # dicts, newest last

    # --- NSGs -------------------------------------------------------------------------------------
    def _add_nsg(self, rg, name, rules):
        nsg = {'name': name, 'resource_group': rg, 'id': NSG_ID % (self.subscription_id, rg, name), 'location': self.location,
               'etag': new_etag(), 'resource_guid': stable_uuid('nsg', rg, name), 'tags': {}, 'rules': []}
        self.nsgs[(rg.lower(), name.lower())] = nsg
        self._seed_rules(nsg, rules)
        return nsg

    def _seed_rules(self, nsg, rules):
        for rule in rules:
            if not isinstance(rule, dict) or not rule.get('name'):
                raise LabConfigError('NSG %s: each security rule needs a name, got %r' % (nsg['name'], rule))
            props = rule.get('properties')
            if props is None:
                props = {k: v for k, v in rule.items() if k != 'name'}
            try:
                stored = net.build_rule(nsg, rule['name'], props, [r for r in nsg['rules'] if r['name'].lower() != rule['name'].lower()])
            except net.ArmError as exc:
                raise LabConfigError('NSG %s rule %s: %s (%s)' % (nsg['name'], rule['name'], exc.message, exc.code)) from None
            nsg['rules'] = [r for r in nsg['rules'] if r['name'].lower() != rule['name'].lower()] + [stored]

    def find_nsg(self, rg, name):
        return self.nsgs.get((rg.lower(), name.lower()))

    def find_nsg_by_ref(self, ref):
        """NSG by id, by name (any resource group), or raise LabConfigError."""
        for nsg in self.nsgs.values():
            if ref.lower() in (nsg['id'].lower(), nsg['name'].lower()):
                return nsg
        raise LabConfigError('no NSG %r in the lab; known: %s' % (ref, ', '.join(n['name'] for n in self.nsgs.values())))

    def on_nsg_change(self, callback):
        self._nsg_hooks.append(callback)

    def nsg_changed(self, nsg_id, change):
        for hook in list(self._nsg_hooks):
            try:
                hook(self, {'nsg_id': nsg_id, 'change': change})
            except Exception:  # pylint: disable=broad-except
                LOG.exception('on_nsg_change hook failed')

    # --- lookups ----------------------------------------------------------------------------------
    def pool_specs(self):
        return {p.get('name'): p for p in self.config.get('node_pools') or []}

    def vmss(self, rg, name):
        if rg.lower() != self.node_resource_group.lower():
            return None
        for pool in self.topology['pools']:
            if pool['vmss_name'].lower() == name.lower():
                return pool
        return None

    def nodes_of(self, vmss_name):
        return list(self._nodes_by_vmss.get(vmss_name.lower(), []))

    def node(self, vmss_name, instance_id):
        return self._node_index.get((vmss_name.lower(), str(instance_id).strip()))

    def node_by_ref(self, ref):
        for node in self.topology['nodes']:
            if ref in (node['name'], node['short'], node['ip']):
                return node
        return None

    def known_resource_group(self, rg):
        groups = {self.resource_group.lower(), self.node_resource_group.lower()}
        groups.update(n['resource_group'].lower() for n in self.nsgs.values())
        return rg.lower() in groups

    def public_ips(self):
        """Managed outbound public IPs (name, id, address), as many as the LB profile asks for."""
        result = []
        for index in range(self.lb_profile['managed_outbound_ip_count']):
            name = stable_uuid('pip', self.topology['cluster']['id'], index)
            if index < len(self.outbound_ip_addresses):
                address = self.outbound_ip_addresses[index]
            else:
                address = '198.51.100.%d' % (10 + index)
            result.append({'name': name, 'address': address,
                           'id': '/subscriptions/%s/resourceGroups/%s/providers/Microsoft.Network/publicIPAddresses/%s'
                                 % (self.subscription_id, self.node_resource_group, name)})
        return result

    def now(self):
        return self.clock()

    @property
    def metrics(self):
        return self._metrics

    @metrics.setter
    def metrics(self, value):
        """Replace the metrics config (admin `PUT /_lab/metrics`): validated, static or `{"workload": ...}`."""
        validate_metrics(value)
        with self.lock:
            self._metrics = copy.deepcopy(value)

    def set_lb_profile(self, profile, when=None):
        """Apply a new load balancer profile and record the effective SNAT ports per node from `when` (default now)."""
        with self.lock:
            self.lb_profile = dict(profile)
            since = when or self.now()
            ports = self.effective_ports_per_node()
            history = [entry for entry in self._ports_history if entry[0] is None or entry[0] < since]
            history.append((since, ports))
            self._ports_history = history

    def ports_history(self):
        """[(since datetime or None, ports per node)], oldest first; since None = from the beginning of time."""
        with self.lock:
            return list(self._ports_history)

    def effective_ports_per_node(self):
        """SNAT ports each node gets from the load balancer profile in effect, by the Load Balancer's rules (_snat's facts).

        Explicit allocatedOutboundPorts: that value (ports x nodes must fit 64000 x outbound IPs: checked when the
        profile is set, see _check_ports_fit). Automatic (0): every node is in the cluster LB's one backend pool, and
        the default allocation table gives min(table value for the pool size x frontend IPs, 1024). The table ends at
        1000 instances; above that the lab gives 16 ports, or the largest share the IPs cover when that is less.
        """
        ports = self.lb_profile['allocated_outbound_ports']
        if ports:
            return ports
        nodes = max(1, len(self.topology['nodes']))
        ips = self.lb_profile['managed_outbound_ip_count']
        try:
            return _snat.default_ports_per_node(nodes, ips)
        except _snat.AutoAllocationUnsupportedError:
            return min(PORTS_ABOVE_ALLOCATION_TABLE, _snat.max_ports_per_node(ips, nodes))

    def _check_ports_fit(self):
        """An explicit allocatedOutboundPorts the outbound IPs cannot give every node is refused, as Azure refuses it."""
        ports, ips = self.lb_profile['allocated_outbound_ports'], self.lb_profile['managed_outbound_ip_count']
        nodes = len(self.topology['nodes'])
        if ports and ports * nodes > _snat.PORTS_PER_IP * ips:
            raise LabConfigError('cluster.load_balancer_profile: %d allocated outbound ports x %d nodes = %d ports, but %d outbound IP(s) '
                                 'give only %d; use more IPs or fewer ports (snat.allocated_ports / snat.outbound_ips in the scenario)'
                                 % (ports, nodes, ports * nodes, ips, _snat.PORTS_PER_IP * ips))

    def dump(self):
        with self.lock:
            return {
                'subscription_id': self.subscription_id, 'tenant_id': self.tenant_id,
                'resource_group': self.resource_group, 'node_resource_group': self.node_resource_group,
                'nsgs': {n['id']: {'rules': copy.deepcopy(n['rules']), 'etag': n['etag']} for n in self.nsgs.values()},
                'subnet_nsg_id': self.subnet_nsg_id, 'nic_nsg_enabled': self.nic_nsg_enabled,
                'lb_profile': dict(self.lb_profile), 'settings': dict(self.settings), 'metrics': copy.deepcopy(self.metrics),
                'snat_ports_history': [{'since': since.strftime('%Y-%m-%dT%H:%M:%S.%fZ') if since else None, 'ports_per_node': ports}
                                       for since, ports in self._ports_history],
                'topology': copy.deepcopy(self.topology),
            }
