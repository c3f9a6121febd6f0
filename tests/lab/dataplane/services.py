# -*- coding: utf-8 -*-
# Copyright (c) 2026 aks.tunnel contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The stand-in daemon: every listening socket of the lab, each created inside its namespace (setns).

* kubelet on TCP 10250 in every node namespace: TLS (lab CA) answering GET /healthz, /containerLogs/...,
  /pods; `http` mode speaks plain HTTP (a TLS client then sees "server gave HTTP response to HTTPS
  client"); `down` nodes have no listener (connection refused).
* API server namespace: konnectivity-server stand-in on TCP 443 (TLS, ALPN `konnectivity`),
  tunnel-front stand-in on TCP 9000 (SSH banner), aks-link stand-in on UDP 1194 (answers an OpenVPN
  hard-reset datagram).
* With `alpn_stripped`, a TLS-inspecting proxy in the router namespace (port 8443, the router redirects
  node traffic to the API server's 443 there) terminates TLS with a lab-CA certificate, negotiates no ALPN
  and relays to the real endpoint.

Run as `python -m ansible_collections.aks.tunnel.tests.lab.dataplane.services --state DIR`; writes
DIR/services.ready when every socket listens.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import socket
import ssl
import sys
import time

from .record import LabRecord
from .sh import in_netns

KUBELET_PORT = 10250
BAD_REQUEST = (b'HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n'
               b'400 Bad Request')


def _listen_tcp(netns, port, backlog=4096, host='0.0.0.0', defer_accept=0):
    with in_netns(netns):
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if defer_accept:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_DEFER_ACCEPT, defer_accept)
        sock.bind((host, port))
        sock.listen(backlog)
        sock.setblocking(False)
    return sock


async def _serve_tcp(handler, netns, port, backlog=4096, defer_accept=0, **kwargs):
    """asyncio server on a socket bound in `netns`; asyncio listens again with its own backlog (100 unless told),
    so the same backlog is passed there (the kernel caps it at the namespace's net.core.somaxconn)."""
    sock = _listen_tcp(netns, port, backlog, defer_accept=defer_accept)
    return await asyncio.start_server(handler, sock=sock, backlog=backlog, **kwargs)


def _bind_udp(netns, port):
    with in_netns(netns):
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.bind(('0.0.0.0', port))
        sock.setblocking(False)
    return sock


def _server_context(cert, key, alpn=None):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    if alpn:
        ctx.set_alpn_protocols(alpn)
    return ctx


def _response(status, body, content_type='text/plain; charset=utf-8'):
    reason = {200: 'OK', 400: 'Bad Request', 404: 'Not Found'}.get(status, 'OK')
    return ('HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %d\r\nConnection: close\r\n\r\n'
            % (status, reason, content_type, len(body))).encode() + body


def kubelet_answer(request_line, node_by_ip, local_ip):
    """The kubelet stand-in's answer to one request line (`GET /path HTTP/1.1`)."""
    parts = request_line.split(' ')
    if len(parts) < 3 or not parts[2].startswith('HTTP/'):
        return BAD_REQUEST
    method, path = parts[0], parts[1].split('?', 1)[0]
    node = node_by_ip.get(local_ip, local_ip)
    if method not in ('GET', 'HEAD'):
        return _response(404, b'404 page not found\n')
    if path == '/healthz':
        return _response(200, b'ok')
    if path.startswith('/containerLogs/'):
        segments = path.split('/')
        if len(segments) < 5:
            return _response(404, b'404 page not found\n')
        text = '%s lab kubelet on %s: logs of %s/%s container %s\n' % (time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime()), node,
                                                                       segments[2], segments[3], segments[4])
        return _response(200, text.encode())
    if path in ('/pods', '/pods/'):
        return _response(200, json.dumps({'kind': 'PodList', 'apiVersion': 'v1', 'items': []}).encode(), 'application/json')
    return _response(404, b'404 page not found\n')


class Services:
    def __init__(self, record):
        self.record = record
        self.plan = record.get('plan')
        self.pki = record.get('pki')
        self.node_by_ip = {v['ip']: k for k, v in self.plan['nodes'].items()}
        self.servers = []
        self.stats = {'kubelet': 0, 'konnectivity': 0, 'tunnelfront': 0, 'akslink': 0, 'proxy': 0}

    # --- handlers ----------------------------------------------------------------------------------
    async def _kubelet(self, reader, writer, plain):
        try:
            self.stats['kubelet'] += 1
            local_ip = writer.get_extra_info('sockname')[0]
            first = await asyncio.wait_for(reader.read(4096), 15)
            if not first:
                return
            if plain and first[:1] not in (b'G', b'H', b'P', b'D', b'O'):
                # A TLS ClientHello on a plain-HTTP port: answer like Go's net/http does.
                writer.write(BAD_REQUEST)
                await writer.drain()
                return
            data = first
            while b'\r\n\r\n' not in data and len(data) < 65536:
                more = await asyncio.wait_for(reader.read(4096), 15)
                if not more:
                    break
                data += more
            line = data.split(b'\r\n', 1)[0].decode('latin-1')
            writer.write(kubelet_answer(line, self.node_by_ip, local_ip))
            await writer.drain()
        except (OSError, asyncio.TimeoutError, ssl.SSLError):
            pass
        finally:
            await self._close(writer)

    async def _konnectivity(self, reader, writer):
        try:
            self.stats['konnectivity'] += 1
            sslobj = writer.get_extra_info('ssl_object')
            alpn = sslobj.selected_alpn_protocol() if sslobj else None
            data = await asyncio.wait_for(reader.read(4096), 10)
            if data:
                writer.write(_response(200, ('konnectivity-server lab stand-in alpn=%s\n' % (alpn or 'none')).encode()))
                await writer.drain()
        except (OSError, asyncio.TimeoutError, ssl.SSLError):
            pass
        finally:
            await self._close(writer)

    async def _tunnelfront(self, reader, writer):
        try:
            self.stats['tunnelfront'] += 1
            writer.write(b'SSH-2.0-tunnelfront-lab\r\n')
            await writer.drain()
            await asyncio.wait_for(reader.read(4096), 10)
        except (OSError, asyncio.TimeoutError):
            pass
        finally:
            await self._close(writer)

    async def _proxy(self, reader, writer):
        """TLS-inspecting middlebox: terminate TLS (no ALPN), open a new TLS session upstream, relay."""
        self.stats['proxy'] += 1
        loop = asyncio.get_running_loop()
        upstream = None
        try:
            with in_netns(self.plan['router_ns']):
                sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.setblocking(False)
            await asyncio.wait_for(loop.sock_connect(sock, (self.plan['api_ip'], 443)), 5)
            ctx = ssl.create_default_context(cafile=self.pki['ca'])
            up_reader, upstream = await asyncio.wait_for(
                asyncio.open_connection(sock=sock, ssl=ctx, server_hostname=self.plan['fqdn']), 10)

            async def pump(src, dst):
                try:
                    while True:
                        chunk = await src.read(65536)
                        if not chunk:
                            break
                        dst.write(chunk)
                        await dst.drain()
                except (OSError, ssl.SSLError):
                    pass

            await asyncio.wait_for(asyncio.gather(pump(reader, upstream), pump(up_reader, writer)), 60)
        except (OSError, asyncio.TimeoutError, ssl.SSLError):
            pass
        finally:
            await self._close(writer)
            if upstream is not None:
                await self._close(upstream)

    @staticmethod
    async def _close(writer):
        try:
            writer.close()
            await asyncio.wait_for(writer.wait_closed(), 2)
        except (OSError, asyncio.TimeoutError, ssl.SSLError):
            pass

    # --- start -------------------------------------------------------------------------------------
    async def start(self):
        plan, pki = self.plan, self.pki
        kubelet_ctx = _server_context(pki['kubelet_cert'], pki['kubelet_key'])
        for entry in plan['namespaces']:
            if entry['kubelet'] == 'down':
                continue
            plain = entry['kubelet'] == 'http'

            def handler(reader, writer, plain=plain):
                return self._kubelet(reader, writer, plain)
            # One process stands in for every kubelet (a shared namespace's one listener for up to 2500 of them), and each
            # tunnel node's probe connects to all of them within seconds: the kernel completes those handshakes, and
            # TCP_DEFER_ACCEPT keeps a connection that is reset before it sends a byte (the python3 connect probe closes
            # so) out of accept(), so it costs this event loop nothing; a client that speaks (TLS, HTTP) is accepted as
            # before. Without it 50,000 accepts and TLS set-ups starve the API server endpoints of this same loop.
            self.servers.append(await _serve_tcp(handler, entry['name'], KUBELET_PORT, backlog=65535, defer_accept=5,
                                                 ssl=None if plain else kubelet_ctx, ssl_handshake_timeout=15 if not plain else None))
        api_ctx = _server_context(pki['api_cert'], pki['api_key'], alpn=['konnectivity'])
        api = plan['api_ns']
        self.servers.append(await _serve_tcp(self._konnectivity, api, 443, ssl=api_ctx, ssl_handshake_timeout=15))
        self.servers.append(await _serve_tcp(self._tunnelfront, api, 9000))
        loop = asyncio.get_running_loop()
        await loop.create_datagram_endpoint(AksLinkProtocol, sock=_bind_udp(api, 1194))
        if plan['alpn_stripped']:
            proxy_ctx = _server_context(pki['proxy_cert'], pki['proxy_key'])
            self.servers.append(await _serve_tcp(self._proxy, plan['router_ns'], plan['proxy_port'], ssl=proxy_ctx, ssl_handshake_timeout=15))


class AksLinkProtocol(asyncio.DatagramProtocol):
    """Answers any datagram with an OpenVPN P_CONTROL_HARD_RESET_SERVER_V2-shaped packet."""

    def __init__(self):
        self.transport = None

    def connection_made(self, transport):
        self.transport = transport

    def datagram_received(self, data, addr):
        client_session = data[1:9] if len(data) >= 9 else b'\0' * 8
        reply = bytes([8 << 3]) + os.urandom(8) + b'\x01' + b'\0\0\0\0' + client_session + b'\0\0\0\0'
        self.transport.sendto(reply, addr)


async def _main(state_dir):
    record = LabRecord.load(state_dir)
    if record is None:
        raise SystemExit('no lab record in %s' % state_dir)
    services = Services(record)
    await services.start()
    ready = record.file('services.ready')
    with open(ready + '.tmp', 'w', encoding='utf-8') as handle:
        json.dump({'pid': os.getpid(), 'listeners': len(services.servers)}, handle)
    os.replace(ready + '.tmp', ready)
    print('services ready: %d listeners' % len(services.servers), flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()


def main(argv=None):
    parser = argparse.ArgumentParser(description='lab stand-in services (kubelets, API server endpoints, TLS proxy)')
    parser.add_argument('--state', required=True, help='the lab state directory')
    args = parser.parse_args(argv)
    with open(os.path.join(args.state, 'services.pid'), 'w', encoding='ascii') as handle:
        handle.write(str(os.getpid()))
    try:
        asyncio.run(_main(args.state))
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == '__main__':
    sys.exit(main())
