"""The HTTP/HTTPS layer: a threading server with tracked connections and one request handler."""

from __future__ import annotations

import contextlib
import itertools
import json
import re
import select
import socket
import socketserver
import ssl
import threading
import time
import uuid
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

from gigachat.emulator.protocol import JSON_TYPE, HttpError, Reply, Request, status_message
from gigachat.emulator.state import Stats

MAX_BODY = 80 * 1024 * 1024
HANDSHAKE_TIMEOUT = 10.0
IDLE_TIMEOUT = 120.0
_TRACE_ID_RE = re.compile(r"^[\w.:-]{1,128}$")


def server_context(certfile: str, keyfile: str) -> ssl.SSLContext:
    """A TLS 1.2+ server context for a PEM certificate and key."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(certfile, keyfile)
    return context


def trace_id(given: str | None) -> str:
    """The client's X-Request-ID / X-Session-ID when sane, else a fresh uuid4."""
    return given if given and _TRACE_ID_RE.match(given) else str(uuid.uuid4())


class Server(ThreadingHTTPServer):
    """Threading HTTP server: TLS handshakes in the connection threads, connections tracked."""

    daemon_threads = True
    request_queue_size = 64

    def __init__(
        self,
        address: tuple[str, int],
        process: Callable[[Request], Reply],
        stats: Stats,
        stopping: threading.Event,
        context: ssl.SSLContext | None,
    ) -> None:
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        self.process = process
        self.stats = stats
        self.stopping = stopping
        self.ssl_context = context
        self._connections: dict[socket.socket, threading.Thread] = {}
        self._connections_lock = threading.Lock()
        self._sequence = itertools.count(1)
        super().__init__(address, Handler)

    def server_bind(self) -> None:
        """Bind without the reverse DNS lookup HTTPServer does."""
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = self.server_address[:2]

    def get_request(self) -> tuple[socket.socket, Any]:
        """Accept; wrap for TLS without handshaking (the connection thread does that)."""
        connection, address = self.socket.accept()
        if self.ssl_context is not None:
            connection = self.ssl_context.wrap_socket(
                connection, server_side=True, do_handshake_on_connect=False
            )
        return connection, address

    def process_request(self, request: Any, client_address: Any) -> None:
        """Serve the connection in a named daemon thread and remember it."""
        self.stats.incr("connections")
        thread = threading.Thread(
            target=self._serve_connection,
            args=(request, client_address),
            name=f"gigachat-emulator-conn-{next(self._sequence)}",
            daemon=True,
        )
        with self._connections_lock:
            self._connections[request] = thread
        thread.start()

    def _serve_connection(self, request: Any, client_address: Any) -> None:
        try:
            self.finish_request(request, client_address)
        except Exception:
            self.handle_error(request, client_address)
        finally:
            self.shutdown_request(request)
            with self._connections_lock:
                self._connections.pop(request, None)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Stay silent: a client that vanished is not worth a traceback."""

    def close_connections(self, timeout: float) -> None:
        """Shut every open connection down and wait for its thread."""
        with self._connections_lock:
            connections = list(self._connections.items())
        for connection, _thread in connections:
            with contextlib.suppress(OSError):
                socket.socket.shutdown(connection, socket.SHUT_RDWR)
        deadline = time.monotonic() + timeout
        for _connection, thread in connections:
            thread.join(max(0.0, deadline - time.monotonic()))


class _StreamEnded(Exception):
    """The client went away (or the emulator stops) in the middle of a stream."""


class Handler(BaseHTTPRequestHandler):
    """Reads requests, hands them to the emulator, writes JSON, bytes or SSE answers."""

    protocol_version = "HTTP/1.1"
    server_version = "GigaChatEmulator"
    timeout = IDLE_TIMEOUT
    disable_nagle_algorithm = True
    server: Server

    def setup(self) -> None:
        """Do the TLS handshake here, in the connection's own thread."""
        self.handshake_failed = False
        if isinstance(self.request, ssl.SSLSocket):
            self.request.settimeout(HANDSHAKE_TIMEOUT)
            try:
                self.request.do_handshake()
            except OSError:
                self.handshake_failed = True
            self.server.stats.incr("tls_handshake_failures" if self.handshake_failed else "tls_handshakes")
        super().setup()

    def handle(self) -> None:
        """Serve keep-alive requests unless the handshake failed."""
        if not self.handshake_failed:
            super().handle()

    def version_string(self) -> str:
        return self.server_version

    def log_message(self, format: str, *args: Any) -> None:
        """Silence request logging: lines could carry secrets."""

    def do_GET(self) -> None:
        """Every method goes through one dispatcher."""
        self._dispatch()

    do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = do_GET

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """Protocol-level errors as JSON, then close the connection."""
        code = int(code)
        self.close_connection = True
        self.server.stats.status(code)
        body = json.dumps({"status": code, "message": message or status_message(code)})
        self.send_response(code)
        self.send_header("Content-Type", JSON_TYPE)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Connection", "close")
        headers = getattr(self, "headers", None)
        for name in ("X-Request-Id", "X-Session-Id"):
            self.send_header(name, trace_id(headers.get(name) if headers is not None else None))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body.encode())

    def _dispatch(self) -> None:
        request_id, session_id = (
            trace_id(self.headers.get("X-Request-Id")),
            trace_id(self.headers.get("X-Session-Id")),
        )
        try:
            body = self._read_body()
        except HttpError as exc:
            self.close_connection = True
            reply = exc.reply()
        else:
            path = urlsplit(self.path).path or "/"
            request = Request(
                self.command, path, self.headers, body, request_id, session_id, self._client_gone
            )
            reply = self.server.process(request)
        if self.server.stopping.is_set():  # stop() means no more answers
            reply.finish()
            reply = Reply(0, drop=True)
        self.trace = {"X-Request-Id": request_id, "X-Session-Id": session_id}
        try:
            self._send(reply)
        except OSError:
            self.close_connection = True
        finally:
            reply.finish()

    def _read_body(self) -> bytes:
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            return self._read_chunked()
        length = self.headers.get("Content-Length")
        if not length:
            return b""
        try:
            size = int(length)
        except ValueError:
            raise HttpError.api(400, "Bad request: invalid Content-Length") from None
        if size < 0:
            raise HttpError.api(400, "Bad request: invalid Content-Length")
        if size > MAX_BODY:
            raise HttpError.api(413, "Payload too large")
        body = self.rfile.read(size)
        if len(body) < size:
            raise HttpError.api(400, "Bad request: body is shorter than Content-Length")
        return body

    def _read_chunked(self) -> bytes:
        body = bytearray()
        while True:
            line = self.rfile.readline(1024)
            try:
                size = int(line.split(b";")[0].strip(), 16)
            except ValueError:
                raise HttpError.api(400, "Bad request: invalid chunk") from None
            if size == 0:
                while self.rfile.readline(1024) not in (b"\r\n", b"\n", b""):
                    pass
                return bytes(body)
            if len(body) + size > MAX_BODY:
                raise HttpError.api(413, "Payload too large")
            body += self.rfile.read(size)
            self.rfile.readline(1024)

    def _send(self, reply: Reply) -> None:
        stats = self.server.stats
        if reply.drop:
            stats.incr("dropped")
            self._drop()
            return
        stats.status(reply.status)
        if reply.events is not None:
            stats.incr("streams_started")
            try:
                self._send_events(reply)
            except (OSError, _StreamEnded):
                self.close_connection = True
                reply.finish()  # the slot is free before anyone sees the abort counted
                if not self.server.stopping.is_set():
                    stats.incr("streams_aborted")
                self._drop()
        else:
            self._send_body(reply)

    def _drop(self) -> None:
        self.close_connection = True
        with contextlib.suppress(OSError):
            socket.socket.shutdown(self.connection, socket.SHUT_RDWR)

    def _start(self, reply: Reply, content_type: str) -> None:
        self.send_response(reply.status)
        self.send_header("Content-Type", content_type)
        for name, value in {**reply.headers, **self.trace}.items():
            self.send_header(name, value)

    def _send_body(self, reply: Reply) -> None:
        body = reply.payload()
        reply.finish()  # free the in-flight slot before the client can see the answer
        self._start(reply, reply.content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _send_events(self, reply: Reply) -> None:
        chunked = self.request_version == "HTTP/1.1"
        self._start(reply, "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        if chunked:
            self.send_header("Transfer-Encoding", "chunked")
        else:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        events = reply.events or []
        for event in events[:-1]:
            self.wfile.write(_frame(f"data: {event}\n\n".encode(), chunked))
            self._pause(reply.chunk_delay)
        last = _frame(f"data: {events[-1]}\n\n".encode(), chunked) if events else b""
        reply.finish()  # free the slot before the final bytes leave
        self.wfile.write(last + (b"0\r\n\r\n" if chunked else b""))

    def _pause(self, delay: Callable[[], float]) -> None:
        """Wait ``delay()`` seconds between chunks (re-read while waiting).

        Raise _StreamEnded when the client closes or the emulator stops.
        """
        started = time.monotonic()
        while True:
            remaining = delay() - (time.monotonic() - started)
            if self.server.stopping.is_set() or self._client_gone(min(remaining, 0.05)):
                raise _StreamEnded
            if remaining <= 0:
                return

    def _client_gone(self, wait: float = 0.0) -> bool:
        """True when the peer has closed (EOF or reset), looking for up to ``wait`` seconds."""
        try:
            if not _readable(self.connection, max(0.0, wait)):
                return False
            if not socket.socket.recv(self.connection, 1, socket.MSG_PEEK):
                return True  # EOF
        except OSError:
            return True
        if isinstance(self.connection, ssl.SSLSocket):
            return True  # TLS bytes mid-answer: the client's close_notify
        self.server.stopping.wait(max(0.0, wait))  # a pipelined request: wait without spinning
        return False


def _readable(sock: socket.socket, timeout: float) -> bool:
    """Whether ``sock`` has data or EOF within ``timeout`` (poll where it exists: no fd limit)."""
    if hasattr(select, "poll"):
        poller = select.poll()
        poller.register(sock, select.POLLIN | select.POLLPRI)
        return bool(poller.poll(timeout * 1000))
    readable, _, _ = select.select([sock], [], [], timeout)
    return bool(readable)


def _frame(data: bytes, chunked: bool) -> bytes:
    """One HTTP chunk (or the raw bytes when not chunked)."""
    return b"%x\r\n%s\r\n" % (len(data), data) if chunked else data
