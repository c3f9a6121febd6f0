# -*- coding: utf-8 -*-
# Copyright (c) 2026 aks.tunnel contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""`kubectl exec`, `attach` and `port-forward`: the upgrade requests of pods/{exec,attach,portforward}.

Like the API server, the emulator first dials the pod's kubelet through the tunnel (kubelet.check_reachable: the same
path and errors as `kubectl logs`); a failed dial answers the upgrade with HTTP 500 and the Status message
`error dialing backend: <dial error>` (kubectl: `Error from server: error dialing backend: dial tcp <ip>:10250: i/o timeout`).
A working dial upgrades the connection:

* WebSocket (RFC 6455), what kubectl 1.30+ tries first: exec/attach speak `v5.channel.k8s.io` / `v4.channel.k8s.io`
  (binary messages, first byte = channel: 0 stdin, 1 stdout, 2 stderr, 3 error Status, 4 resize, 255 close);
  port-forward speaks SPDY/3.1 tunnelled in binary messages (`SPDY/3.1+portforward.k8s.io`).
* SPDY/3.1 over the upgraded HTTP/1.1 connection (kubectl's fallback and older kubectl): exec/attach with
  `v4.channel.k8s.io` / `v5.channel.k8s.io` streams (streamtype error/stdout/stderr/stdin/resize), port-forward with
  `portforward.k8s.io` (an error and a data stream per connection, headers port and requestID).

What runs in the container is kubelet.exec_command (a fixed command set); a forwarded port answers when the pod declares
it (kubelet.port_answer, health endpoints say `ok`), else the kubelet's connection-refused error goes to the error stream.
"""

from __future__ import annotations

import base64
import hashlib
import json
import socket
import struct
import threading
import urllib.parse
import zlib

from .kubelet import KubeletUnreachable, check_reachable, exec_command, pod_listens, port_answer, port_refused
from .util import ApiError

WS_GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11'
EXEC_PROTOCOLS = ('v5.channel.k8s.io', 'v4.channel.k8s.io')
PORTFORWARD_WS_PROTOCOL = 'SPDY/3.1+portforward.k8s.io'
PORTFORWARD_SPDY_PROTOCOL = 'portforward.k8s.io'


def _spdy_dictionary():
    """The SPDY/3 zlib header dictionary (SPDY draft 3, 2.6.10.1): length-prefixed words, then a text tail; 1423 bytes."""
    words = ('options head post put delete trace accept accept-charset accept-encoding accept-language accept-ranges age allow '
             'authorization cache-control connection content-base content-encoding content-language content-length content-location '
             'content-md5 content-range content-type date etag expect expires from host if-match if-modified-since if-none-match if-range '
             'if-unmodified-since last-modified location max-forwards pragma proxy-authenticate proxy-authorization range referer '
             'retry-after server te trailer transfer-encoding upgrade user-agent vary via warning www-authenticate method get '
             'status').split() + ['200 OK', 'version', 'HTTP/1.1', 'url', 'public', 'set-cookie', 'keep-alive', 'origin']
    tail = ('100101201202205206300302303304305306307402405406407408409410411412413414415416417502504505'
            '203 Non-Authoritative Information204 No Content301 Moved Permanently400 Bad Request401 Unauthorized403 Forbidden'
            '404 Not Found500 Internal Server Error501 Not Implemented503 Service UnavailableJan Feb Mar Apr May Jun Jul Aug Sept '
            'Oct Nov Dec 00:00:00 Mon, Tue, Wed, Thu, Fri, Sat, Sun, GMTchunked,text/html,image/png,image/jpg,image/gif,'
            'application/xml,application/xhtml+xml,text/plain,text/javascript,publicprivatemax-age=gzip,deflate,sdchcharset=utf-8'
            'charset=iso-8859-1,utf-,*,enq=0.')
    return b''.join(struct.pack('>I', len(word)) + word.encode() for word in words) + tail.encode()


SPDY_DICTIONARY = _spdy_dictionary()
SPDY_DICTIONARY_SHA256 = '51d27341373f923f3cd88e1eb7162aeaa3723d7585ff2399201dc06498407f02'


def is_upgrade(headers):
    return 'upgrade' in (headers.get('Connection') or '').lower() and bool(headers.get('Upgrade'))


def _status_failure(code, message):
    return {'kind': 'Status', 'apiVersion': 'v1', 'metadata': {}, 'status': 'Failure', 'message': message, 'code': code}


def exit_status(code):
    """The v4/v5 error-channel Status of a finished command (kubectl: `command terminated with exit code N`)."""
    if code == 0:
        return {'metadata': {}, 'status': 'Success'}
    return {'metadata': {}, 'status': 'Failure', 'message': 'command terminated with non-zero exit code: error executing command, '
            'exit code %d' % code, 'reason': 'NonZeroExitCode', 'details': {'causes': [{'reason': 'ExitCode', 'message': str(code)}]}}


# -- transports ---------------------------------------------------------------------------------------------------------------
class RawTransport:
    """The upgraded HTTP/1.1 connection itself (SPDY)."""

    def __init__(self, rfile, wfile):
        self.rfile, self.wfile = rfile, wfile
        self._lock = threading.Lock()

    def read_exact(self, size):
        data = self.rfile.read(size)
        if len(data) < size:
            raise EOFError('connection closed')
        return data

    def write(self, data):
        with self._lock:
            self.wfile.write(data)

    def close(self):
        pass


class WebSocket:
    """Server side of RFC 6455 (client frames are masked, ours are not)."""

    def __init__(self, rfile, wfile):
        self.rfile, self.wfile = rfile, wfile
        self._lock = threading.Lock()
        self.closed = False

    def _read(self, size):
        data = self.rfile.read(size)
        if len(data) < size:
            raise EOFError('connection closed')
        return data

    def read_message(self):
        """(opcode, payload) of the next data message, or None when the peer closed."""
        message, opcode = b'', None
        while True:
            first, second = self._read(2)
            frame_opcode, length = first & 0x0F, second & 0x7F
            if length == 126:
                length = struct.unpack('>H', self._read(2))[0]
            elif length == 127:
                length = struct.unpack('>Q', self._read(8))[0]
            mask = self._read(4) if second & 0x80 else None
            payload = self._read(length)
            if mask:
                payload = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
            if frame_opcode == 0x8:
                self.close()
                return None
            if frame_opcode == 0x9:
                self.send(0xA, payload)
                continue
            if frame_opcode == 0xA:
                continue
            if frame_opcode != 0:
                opcode = frame_opcode
            message += payload
            if first & 0x80:
                return opcode, message

    def send(self, opcode, payload):
        header = bytes([0x80 | opcode])
        if len(payload) < 126:
            header += bytes([len(payload)])
        elif len(payload) < 65536:
            header += bytes([126]) + struct.pack('>H', len(payload))
        else:
            header += bytes([127]) + struct.pack('>Q', len(payload))
        with self._lock:
            if self.closed and opcode != 0x8:
                return
            self.wfile.write(header + payload)

    def close(self, code=1000):
        if not self.closed:
            try:
                self.send(0x8, struct.pack('>H', code))
            except OSError:
                pass
            self.closed = True


class WebSocketTransport:
    """A byte stream carried in binary WebSocket messages (SPDY tunnelled over WebSocket)."""

    def __init__(self, websocket):
        self.websocket = websocket
        self._buffer = b''

    def read_exact(self, size):
        while len(self._buffer) < size:
            message = self.websocket.read_message()
            if message is None:
                raise EOFError('websocket closed')
            self._buffer += message[1]
        data, self._buffer = self._buffer[:size], self._buffer[size:]
        return data

    def write(self, data):
        self.websocket.send(0x2, data)

    def close(self):
        self.websocket.close()


# -- SPDY/3.1 -------------------------------------------------------------------------------------------------------------------
SYN_STREAM, SYN_REPLY, RST_STREAM, SETTINGS, PING, GOAWAY, HEADERS, WINDOW_UPDATE = 1, 2, 3, 4, 6, 7, 8, 9
FLAG_FIN = 0x01


class SpdyStream:
    def __init__(self, session, stream_id, headers):
        self.session, self.id, self.headers = session, stream_id, headers
        self._data = b''
        self._eof = False
        self._cond = threading.Condition()

    def feed(self, data, eof=False):
        with self._cond:
            self._data += data
            self._eof = self._eof or eof
            self._cond.notify_all()

    def read_until(self, marker, timeout=10.0):
        """Bytes received until `marker` (or EOF / timeout)."""
        with self._cond:
            self._cond.wait_for(lambda: marker in self._data or self._eof, timeout)
            return self._data

    def write(self, data, fin=False):
        self.session.send_data(self.id, data, fin)


class SpdySession:
    """The server end of a spdystream connection: replies to every stream the client opens, answers pings."""

    def __init__(self, transport, on_stream):
        self.transport = transport
        self.on_stream = on_stream
        self.streams = {}
        self._deflate = zlib.compressobj(zdict=SPDY_DICTIONARY)
        self._inflate = zlib.decompressobj(zdict=SPDY_DICTIONARY)
        self._write_lock = threading.Lock()
        self.closed = threading.Event()

    def _control(self, kind, flags, data):
        return struct.pack('>HHI', 0x8000 | 3, kind, (flags << 24) | len(data)) + data

    def _send(self, frame):
        with self._write_lock:
            self.transport.write(frame)

    def _header_block(self, headers):
        raw = struct.pack('>I', len(headers))
        for name, value in headers.items():
            raw += struct.pack('>I', len(name)) + name.encode() + struct.pack('>I', len(value)) + value.encode()
        return self._deflate.compress(raw) + self._deflate.flush(zlib.Z_SYNC_FLUSH)

    def _parse_headers(self, block):
        raw = self._inflate.decompress(block)
        count, pos, headers = struct.unpack('>I', raw[:4])[0], 4, {}
        for _unused in range(count):
            size = struct.unpack('>I', raw[pos:pos + 4])[0]
            name = raw[pos + 4:pos + 4 + size].decode().lower()
            pos += 4 + size
            size = struct.unpack('>I', raw[pos:pos + 4])[0]
            headers[name] = raw[pos + 4:pos + 4 + size].decode().split('\0')[0]
            pos += 4 + size
        return headers

    def reply(self, stream_id):
        with self._write_lock:
            # Header compression state is shared by every block of the connection: compress and send in order.
            self.transport.write(self._control(SYN_REPLY, 0, struct.pack('>I', stream_id) + self._header_block({})))

    def send_data(self, stream_id, data, fin=False):
        chunks = [data[i:i + 0xFFFF] for i in range(0, len(data), 0xFFFF)] or [b'']
        for index, chunk in enumerate(chunks):
            flags = FLAG_FIN if fin and index == len(chunks) - 1 else 0
            self._send(struct.pack('>II', stream_id & 0x7FFFFFFF, (flags << 24) | len(chunk)) + chunk)

    def run(self):
        """Read frames until the client goes away."""
        try:
            while True:
                head = self.transport.read_exact(8)
                flags, length = head[4], struct.unpack('>I', b'\0' + head[5:8])[0]
                data = self.transport.read_exact(length) if length else b''
                if not head[0] & 0x80:
                    stream = self.streams.get(struct.unpack('>I', head[:4])[0] & 0x7FFFFFFF)
                    if stream is not None:
                        stream.feed(data, bool(flags & FLAG_FIN))
                    continue
                kind = struct.unpack('>H', head[2:4])[0]
                if kind == SYN_STREAM:
                    stream_id = struct.unpack('>I', data[:4])[0] & 0x7FFFFFFF
                    stream = SpdyStream(self, stream_id, self._parse_headers(data[10:]))
                    self.streams[stream_id] = stream
                    if flags & FLAG_FIN:
                        stream.feed(b'', True)
                    self.reply(stream_id)
                    self.on_stream(stream)
                elif kind == HEADERS:
                    self._parse_headers(data[4:])  # keeps the decompression state in step
                elif kind == RST_STREAM:
                    stream = self.streams.get(struct.unpack('>I', data[:4])[0] & 0x7FFFFFFF)
                    if stream is not None:
                        stream.feed(b'', True)
                elif kind == PING:
                    self._send(self._control(PING, 0, data))
                elif kind == GOAWAY:
                    break
        except (EOFError, OSError, ValueError, zlib.error, struct.error):
            pass
        finally:
            self.closed.set()
            for stream in list(self.streams.values()):
                stream.feed(b'', True)


# -- exec / attach ----------------------------------------------------------------------------------------------------------------
def _flag(query, name):
    return query.get(name, ['false'])[-1].lower() in ('1', 'true')


def _exec_result(kind, pod, container, query):
    if kind == 'attach':
        # The lab's containers print nothing new: attach ends at once, successfully.
        return b'', b'', 0
    return exec_command(pod, container, query.get('command', []))


def _exec_websocket(websocket, kind, pod, container, query):
    drain = threading.Thread(target=_drain_websocket, args=(websocket,), daemon=True)
    drain.start()
    out, err, code = _exec_result(kind, pod, container, query)
    if out and _flag(query, 'stdout'):
        websocket.send(0x2, b'\x01' + out)
    if err and _flag(query, 'stderr'):
        websocket.send(0x2, b'\x02' + err)
    websocket.send(0x2, b'\x03' + json.dumps(exit_status(code)).encode())
    websocket.close()
    drain.join(2)  # the client answers the close frame; then the connection is shut down (serve)


def _drain_websocket(websocket):
    try:
        while websocket.read_message() is not None:
            pass
    except (EOFError, OSError, ValueError):
        pass


def _exec_spdy(transport, kind, pod, container, query):
    wanted = {'error'} | {name for name in ('stdout', 'stderr', 'stdin') if _flag(query, name)}
    if _flag(query, 'tty'):
        wanted.add('resize')
    by_type = {}
    ready = threading.Event()

    def on_stream(stream):
        by_type[stream.headers.get('streamtype', '')] = stream
        if wanted <= set(by_type):
            ready.set()

    session = SpdySession(transport, on_stream)
    reader = threading.Thread(target=session.run, daemon=True)
    reader.start()
    if not ready.wait(15):
        transport.close()
        return
    out, err, code = _exec_result(kind, pod, container, query)
    if 'stdout' in by_type:
        by_type['stdout'].write(out, fin=True)
    if 'stderr' in by_type:
        by_type['stderr'].write(err, fin=True)
    by_type['error'].write(json.dumps(exit_status(code)).encode() if code else b'', fin=True)
    session.closed.wait(10)


# -- port-forward -----------------------------------------------------------------------------------------------------------------
def _portforward(transport, pod):
    pairs = {}
    lock = threading.Lock()

    def forward(error_stream, data_stream):
        try:
            port = int(data_stream.headers.get('port', '0'))
        except ValueError:
            port = 0
        if not pod_listens(pod, port):
            error_stream.write(port_refused(pod, port).encode(), fin=True)
            data_stream.write(b'', fin=True)
            return
        request = data_stream.read_until(b'\r\n\r\n')
        if request:
            data_stream.write(port_answer(request), fin=True)
        else:
            data_stream.write(b'', fin=True)
        error_stream.write(b'', fin=True)

    def on_stream(stream):
        request_id = stream.headers.get('requestid', '')
        with lock:
            pair = pairs.setdefault(request_id, {})
            pair[stream.headers.get('streamtype', '')] = stream
            complete = 'error' in pair and 'data' in pair
        if complete:
            threading.Thread(target=forward, args=(pair['error'], pair['data']), daemon=True).start()

    SpdySession(transport, on_stream).run()


# -- entry point ------------------------------------------------------------------------------------------------------------------
def _respond_error(handler, code, body):
    payload = json.dumps(body).encode()
    handler.send_response(code)
    handler.send_header('Content-Type', 'application/json')
    handler.send_header('Content-Length', str(len(payload)))
    handler.end_headers()
    handler.wfile.write(payload)


def _shutdown(handler):
    """End the upgraded connection (reader threads blocked on it return)."""
    try:
        handler.connection.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass


def _offered(headers, name):
    values = []
    for header in headers.get_all(name) or []:
        values.extend(part.strip() for part in header.split(',') if part.strip())
    return values


def serve(handler, emulator, kind, namespace, name, raw_query, user, method):
    """Answer one pods/{exec,attach,portforward} upgrade request on `handler` (a BaseHTTPRequestHandler); returns the status."""
    headers = handler.headers
    query = urllib.parse.parse_qs(raw_query, keep_blank_values=True)
    single = {key: values[-1] for key, values in query.items()}
    try:
        pod, node_name, node_ip, container = emulator.api.stream_target(kind, namespace, name, single, user, method)
        try:
            check_reachable(emulator.kubelet, node_name, node_ip)
        except KubeletUnreachable as exc:
            message = str(exc)
            if message == 'http: server gave HTTP response to HTTPS client':
                # logs go through net/http, which names a plain-HTTP answer; the upgrade dial is a bare TLS handshake.
                message = 'tls: first record does not look like a TLS handshake'
            raise ApiError(500, '', 'error dialing backend: %s' % message) from None
    except ApiError as exc:
        body = exc.body if exc.code != 500 else _status_failure(500, exc.body.get('message', str(exc)))
        _respond_error(handler, exc.code, body)
        return exc.code
    upgrade = (headers.get('Upgrade') or '').lower()
    if upgrade == 'websocket':
        wanted = (PORTFORWARD_WS_PROTOCOL,) if kind == 'portforward' else EXEC_PROTOCOLS
        offered = _offered(headers, 'Sec-WebSocket-Protocol')
        protocol = next((p for p in wanted if p in offered), None)
        key = headers.get('Sec-WebSocket-Key')
        if protocol is None or not key:
            _respond_error(handler, 400, _status_failure(400, 'unable to upgrade: no supported WebSocket subprotocol in %s' % offered))
            return 400
        handler.send_response(101)
        handler.send_header('Upgrade', 'websocket')
        handler.send_header('Connection', 'Upgrade')
        handler.send_header('Sec-WebSocket-Accept', base64.b64encode(hashlib.sha1((key + WS_GUID).encode()).digest()).decode())
        handler.send_header('Sec-WebSocket-Protocol', protocol)
        handler.end_headers()
        websocket = WebSocket(handler.rfile, handler.wfile)
        try:
            if kind == 'portforward':
                _portforward(WebSocketTransport(websocket), pod)
            else:
                _exec_websocket(websocket, kind, pod, container, query)
        finally:
            _shutdown(handler)
        return 101
    if upgrade.startswith('spdy/3.1'):
        wanted = (PORTFORWARD_SPDY_PROTOCOL,) if kind == 'portforward' else EXEC_PROTOCOLS
        offered = _offered(headers, 'X-Stream-Protocol-Version')
        protocol = next((p for p in wanted if p in offered), None)
        if protocol is None:
            _respond_error(handler, 403, _status_failure(403, 'unable to upgrade: unable to negotiate protocol: client supports %s, server '
                                                              'accepts %s' % (offered, list(wanted))))
            return 403
        handler.send_response(101)
        handler.send_header('Connection', 'Upgrade')
        handler.send_header('Upgrade', 'SPDY/3.1')
        handler.send_header('X-Stream-Protocol-Version', protocol)
        handler.end_headers()
        transport = RawTransport(handler.rfile, handler.wfile)
        try:
            if kind == 'portforward':
                _portforward(transport, pod)
            else:
                _exec_spdy(transport, kind, pod, container, query)
        finally:
            _shutdown(handler)
        return 101
    _respond_error(handler, 400, _status_failure(400, 'Upgrade request required'))
    return 400
