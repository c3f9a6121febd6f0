# -*- coding: utf-8 -*-
# Copyright (c) 2026 aks.tunnel contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The Azure reads of snat_usage_info: load balancer SNAT metrics (Azure Monitor) and backend IP -> node names; the NAT
gateway of the node subnets, its prefixes and its metrics.

Each function takes the SDK client(s) and ``guard(doing)``, a context manager that turns an SDK exception into the
task's failure (AksTunnelModule.api_errors), so every request fails with a message naming what it read.
The metric series are returned in the shape _snat.snat_verdict() reads.
"""

from __future__ import annotations

from ansible_collections.aks.tunnel.plugins.module_utils import _cluster_model
from ansible_collections.aks.tunnel.plugins.module_utils import _outbound
from ansible_collections.aks.tunnel.plugins.module_utils import _snat
from ansible_collections.aks.tunnel.plugins.module_utils import _snat_natgw

NAMESPACE = 'Microsoft.Network/loadBalancers'


def resolve_node_names(azure, node_rg, guard):
    """Backend IP -> computer name from the node resource group's scale sets (``azure``: AzureClients)."""
    vm_names, nic_ips = {}, []
    with guard('list the scale sets of %s' % node_rg):
        scale_sets = [vmss.name for vmss in azure.compute.virtual_machine_scale_sets.list(node_rg)]
    for vmss in scale_sets:
        with guard('list the VMs of scale set %s' % vmss):
            for vm in azure.compute.virtual_machine_scale_set_vms.list(node_rg, vmss):
                props = _cluster_model.as_dict(vm).get('properties') or {}
                vm_names[vm.id] = (props.get('osProfile') or {}).get('computerName')
        with guard('list the NICs of scale set %s' % vmss):
            for nic in azure.network.network_interfaces.list_virtual_machine_scale_set_network_interfaces(node_rg, vmss):
                vm_id = nic.virtual_machine.id if nic.virtual_machine else None
                for ipconf in nic.ip_configurations or []:
                    nic_ips.append((vm_id, ipconf.private_ip_address))
    return _outbound.node_ip_map(vm_names, nic_ips)


# Up to this many backends every series is read; above it only the worst backends (a 5000-node cluster would
# otherwise return 15,000 series of 60 points each).
ALL_BACKENDS_MAX = 100
WORST_BACKENDS = 25


def _query(monitor, guard, lb_id, doing, **kwargs):
    with guard(doing):
        response = monitor.metrics.list(lb_id, metricnamespace=NAMESPACE, **kwargs)
        return [_cluster_model.as_dict(m) for m in response.value or []]


def _series_ips(values):
    """Backend IPs of the series, in the order Azure returned them, with the sum of their points."""
    seen = []
    for metric in values:
        for series in metric.get('timeseries') or []:
            dims = dict((str((meta.get('name') or {}).get('value', '')).lower(), meta.get('value')) for meta in series.get('metadatavalues') or [])
            total = sum(point.get('total') or point.get('maximum') or 0 for point in series.get('data') or [])
            ip = dims.get('backendipaddress')
            if ip and ip not in [item[0] for item in seen]:
                seen.append((ip, total))
    return seen


def read_metrics(monitor, guard, lb_id, span, interval, node_count):
    """The metric series in snat_verdict()'s shape, and the backend IPs read (None = all of them).

    Small clusters: every backend. Large clusters: first the WORST_BACKENDS backends with the most failed connections
    and the highest used ports (Azure sorts and cuts with orderby/top), then every series of just those backends.
    """
    common = dict(timespan=span, interval=interval)
    ports = '%s,%s' % (_snat.METRIC_ALLOCATED, _snat.METRIC_USED)
    if node_count <= ALL_BACKENDS_MAX:
        top = max(50, 3 * (node_count + 10))
        values = _query(monitor, guard, lb_id, 'read SnatConnectionCount of %s' % lb_id, metricnames=_snat.METRIC_CONNECTIONS, aggregation='Total',
                        filter="BackendIPAddress eq '*' and ConnectionState eq '*'", top=top, **common)
        values += _query(monitor, guard, lb_id, 'read AllocatedSnatPorts and UsedSnatPorts of %s' % lb_id, metricnames=ports,
                         aggregation='Average,Maximum', filter="BackendIPAddress eq '*'", top=top, **common)
        return _snat.series_from_azure_metrics(values), None
    failing = _query(monitor, guard, lb_id, 'find the backends of %s with failed SNAT connections' % lb_id, metricnames=_snat.METRIC_CONNECTIONS,
                     aggregation='Total', filter="BackendIPAddress eq '*' and ConnectionState eq 'Failed'", orderby='sum desc',
                     top=WORST_BACKENDS, **common)
    busiest = _query(monitor, guard, lb_id, 'find the backends of %s using the most SNAT ports' % lb_id, metricnames=_snat.METRIC_USED,
                     aggregation='Maximum', filter="BackendIPAddress eq '*'", orderby='maximum desc', top=WORST_BACKENDS, **common)
    ips = [ip for ip, total in _series_ips(failing) if total > 0] + [ip for ip, _total in _series_ips(busiest)]
    ips = sorted(set(ips), key=ips.index)[:2 * WORST_BACKENDS]
    if not ips:
        return {}, []
    backends = '(%s)' % ' or '.join("BackendIPAddress eq '%s'" % ip for ip in ips)
    top = 3 * len(ips) + 10
    values = _query(monitor, guard, lb_id, 'read SnatConnectionCount of the worst backends of %s' % lb_id, metricnames=_snat.METRIC_CONNECTIONS,
                    aggregation='Total', filter=backends + " and ConnectionState eq '*'", top=top, **common)
    values += _query(monitor, guard, lb_id, 'read AllocatedSnatPorts and UsedSnatPorts of the worst backends of %s' % lb_id, metricnames=ports,
                     aggregation='Average,Maximum', filter=backends, top=top, **common)
    return _snat.series_from_azure_metrics(values), ips


# ---------------------------------------------------------------------------------------------
# NAT gateway (outboundType managedNATGateway / userAssignedNATGateway)
# ---------------------------------------------------------------------------------------------

def _parts(resource_id):
    parsed = _cluster_model.parse_resource_id(resource_id) or {}
    return parsed.get('resource_group'), parsed.get('names') or []


def find_nat_gateways(azure, guard, subnet_ids, node_rg):
    """The NAT gateways of the node subnets (their natGateway), else those in the node resource group (managed NAT gateway).

    Returns [(natGateways GET body, how it was found)], without duplicates.
    """
    found = {}
    for subnet_id in subnet_ids or []:
        rg, names = _parts(subnet_id)
        if not rg or len(names) < 2:
            continue
        with guard('read subnet %s' % subnet_id):
            subnet = _cluster_model.as_dict(azure.network.subnets.get(rg, names[0], names[1]))
        gateway_id = ((subnet.get('properties') or {}).get('natGateway') or {}).get('id')
        if gateway_id and gateway_id.lower() not in found:
            gw_rg, gw_names = _parts(gateway_id)
            with guard('read NAT gateway %s' % gateway_id):
                body = _cluster_model.as_dict(azure.network.nat_gateways.get(gw_rg, gw_names[0]))
            found[gateway_id.lower()] = (body, 'natGateway of node subnet %s' % names[1])
    if not found and node_rg:
        with guard('list the NAT gateways of %s' % node_rg):
            for gateway in azure.network.nat_gateways.list(node_rg):
                body = _cluster_model.as_dict(gateway)
                found.setdefault(body['id'].lower(), (body, 'NAT gateway in the node resource group %s' % node_rg))
    return list(found.values())


def prefix_lengths(azure, guard, gateway):
    """{public IP prefix id: prefixLength} of the gateway's prefixes."""
    lengths = {}
    for item in (gateway.get('properties') or {}).get('publicIpPrefixes') or []:
        rg, names = _parts(item.get('id'))
        if not rg or not names:
            continue
        with guard('read public IP prefix %s' % item['id']):
            prefix = _cluster_model.as_dict(azure.network.public_ip_prefixes.get(rg, names[0]))
        lengths[item['id']] = (prefix.get('properties') or {}).get('prefixLength')
    return lengths


def read_nat_metrics(monitor, guard, gateway_id, span, interval):
    """SNATConnectionCount by ConnectionState, TotalConnectionCount and PacketDropCount of a NAT gateway, in
    _snat_natgw.series_from_azure_metrics() shape."""
    common = dict(timespan=span, interval=interval, metricnamespace=_snat_natgw.NAMESPACE)
    with guard('read SNATConnectionCount of %s' % gateway_id):
        response = monitor.metrics.list(gateway_id, metricnames=_snat_natgw.METRIC_CONNECTIONS, aggregation='Total',
                                        filter="ConnectionState eq '*'", **common)
        values = [_cluster_model.as_dict(m) for m in response.value or []]
    with guard('read TotalConnectionCount and PacketDropCount of %s' % gateway_id):
        response = monitor.metrics.list(gateway_id, metricnames='%s,%s' % (_snat_natgw.METRIC_ACTIVE, _snat_natgw.METRIC_DROPPED),
                                        aggregation='Maximum,Total', **common)
        values += [_cluster_model.as_dict(m) for m in response.value or []]
    return _snat_natgw.series_from_azure_metrics(values)
