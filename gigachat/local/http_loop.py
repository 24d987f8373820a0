"""One selector thread: accepts connections and reads request heads without a thread each.

Only a complete, valid head goes to a worker thread, so clients that trickle header bytes
(slowloris) cost a socket, not a worker; they get a 408 at the header deadline. Bodies with a
Content-Length up to PREREAD_MAX are read here too (within a shared memory budget), so a
trickled body does not hold a worker either.
"""

from __future__ import annotations

import collections
import contextlib
import logging
import selectors
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from gigachat.local.http_wire import (
    PIECE,
    ProtocolError,
    RequestHead,
    head_end,
    parse_head,
    too_slow,
)
from gigachat.local.http_worker import error_response

log = logging.getLogger("gigachat.local.http_server")

LINGER_SECONDS = 2.0  # after an error answer, read (and drop) what the client still sends
LINGER_BYTES = 4 * 1024 * 1024
PREREAD_MAX = 4 * 1024 * 1024  # larger bodies are read by the worker (the guards' cap is 2 MB)
PREREAD_BUDGET = 64 * 1024 * 1024  # bodies buffered here at once, all connections together
_LISTEN, _WAKE = object(), object()


@dataclass(eq=False)
class Pending:
    """A connection the loop watches: reading a head, idle between requests, or lingering."""

    sock: socket.socket
    peer: tuple
    local: tuple
    deadline: float
    idle: bool = False
    lingering: bool = False
    drained: int = 0
    buffer: bytearray = field(default_factory=bytearray)
    head: RequestHead | None = None  # parsed; the body is still arriving
    head_end: int = 0  # where the head ends in `buffer`
    reserved: int = 0  # bytes of PREREAD_BUDGET held


Dispatch = Callable[[socket.socket, object, bytes, tuple, tuple], None]


class HeadLoop:
    """Accept, read heads, answer protocol errors; hand complete requests to `dispatch`."""

    def __init__(self, listeners: list[socket.socket], dispatch: Dispatch, *,
                 header_timeout: float, idle_timeout: float, body_timeout: float,
                 max_connections: int,
                 on_refused: Callable[[str, str, int, str], None]) -> None:
        self.dispatch, self.on_refused = dispatch, on_refused
        self.header_timeout, self.idle_timeout = header_timeout, idle_timeout
        self.body_timeout = body_timeout
        self._preread = 0  # bytes of PREREAD_BUDGET in use
        self.max_connections = max_connections
        self.selector = selectors.DefaultSelector()
        self.listeners = listeners
        self._wake_r, self._wake_w = socket.socketpair()
        for sock in (self._wake_r, self._wake_w, *listeners):
            sock.setblocking(False)
        self.selector.register(self._wake_r, selectors.EVENT_READ, _WAKE)
        for sock in listeners:
            self.selector.register(sock, selectors.EVENT_READ, _LISTEN)
        self._returned: collections.deque = collections.deque()
        self._conns: dict[socket.socket, Pending] = {}  # insertion order: oldest first
        self._stopping = False
        self._next_sweep = 0.0
        self._paused: list[socket.socket] = []  # listeners resting after a failed accept
        self._accept_logged = -3600.0

    @property
    def open_connections(self) -> int:
        return len(self._conns)

    def run(self) -> None:
        try:
            while not self._stopping:
                try:
                    self._tick()
                except Exception:  # never let the loop die: log and go on
                    log.exception("HTTP loop error")
        finally:
            self._close_all()

    def give_back(self, sock: socket.socket, leftover: bytes | None, peer: tuple,
                  local: tuple) -> None:
        """From a worker: keep the connection (leftover bytes) or close it gently (None)."""
        if self._stopping:
            _close(sock)
            return
        self._returned.append((sock, leftover, peer, local))
        self._wake()

    def stop(self) -> None:
        self._stopping = True
        self._wake()

    def _wake(self) -> None:
        with contextlib.suppress(OSError):  # full (already woken) or closed (stopped)
            self._wake_w.send(b"x")

    def _tick(self) -> None:
        for key, _ in self.selector.select(0.25):
            if key.data is _LISTEN:
                self._accept(key.fileobj)
            elif key.data is _WAKE:
                self._drain_wake()
            else:
                self._readable(key.data)
        now = time.monotonic()
        if now >= self._next_sweep:
            self._next_sweep = now + 0.1
            while self._paused:
                self.selector.register(self._paused.pop(), selectors.EVENT_READ, _LISTEN)
            for pending in [p for p in self._conns.values() if now >= p.deadline]:
                if pending.lingering or not pending.buffer:
                    self._close(pending)
                else:
                    self._refuse(pending, too_slow())

    def _accept(self, listener: socket.socket) -> None:
        for _ in range(64):
            try:
                sock, peer = listener.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError as error:  # e.g. out of file descriptors: pause, don't spin
                if time.monotonic() - self._accept_logged > 60:
                    self._accept_logged = time.monotonic()
                    log.warning("accept failed (retrying): %s", error)
                self.selector.unregister(listener)
                self._paused.append(listener)
                return
            if len(self._conns) >= self.max_connections:
                self._close(next(iter(self._conns.values())))  # the oldest makes room
            with contextlib.suppress(OSError):  # answers go out at once, not after 40 ms
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self._adopt(sock, b"", peer, listener.getsockname(), idle=False)

    def _drain_wake(self) -> None:
        try:
            while self._wake_r.recv(4096):
                pass
        except OSError:
            pass
        while self._returned:
            sock, leftover, peer, local = self._returned.popleft()
            if leftover is None:
                pending = self._adopt(sock, b"", peer, local, idle=True)
                if pending is not None:
                    self._linger(pending)
            else:
                self._adopt(sock, leftover, peer, local, idle=True)

    def _adopt(self, sock, leftover: bytes, peer, local, idle: bool) -> Pending | None:
        try:
            sock.setblocking(False)
            timeout = self.idle_timeout if idle and not leftover else self.header_timeout
            pending = Pending(sock, peer, local, time.monotonic() + timeout, idle=idle)
            self.selector.register(sock, selectors.EVENT_READ, pending)
        except (OSError, ValueError):
            _close(sock)
            return None
        self._conns[sock] = pending
        if leftover:
            pending.buffer += leftover
            self._check_head(pending)
        return pending

    def _readable(self, pending: Pending) -> None:
        try:
            data = pending.sock.recv(PIECE)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        if not data:
            self._close(pending)
            return
        if pending.lingering:
            pending.drained += len(data)
            if pending.drained > LINGER_BYTES:
                self._close(pending)
            return
        if pending.idle and not pending.buffer:  # a new request starts: the head deadline runs
            pending.deadline = time.monotonic() + self.header_timeout
        pending.buffer += data
        self._check_head(pending)

    def _check_head(self, pending: Pending) -> None:
        buffer = pending.buffer
        if pending.head is not None:  # reading the body
            if len(buffer) >= pending.head_end + pending.head.content_length:
                self._hand_over(pending, pending.head, pending.head_end)
            return
        while buffer.startswith(b"\r\n"):  # stray line breaks between requests are allowed
            del buffer[:2]
        try:
            end = head_end(buffer)
            if end < 0:
                return
            head = parse_head(bytes(buffer[:end]))
        except ProtocolError as error:
            self._refuse(pending, error)
            return
        missing = head.content_length - (len(buffer) - end)
        if missing > 0 and self._start_body(pending, head, end):
            return
        self._hand_over(pending, head, end)

    def _start_body(self, pending: Pending, head: RequestHead, end: int) -> bool:
        """Read the body here if it is small and the budget allows; False: the worker reads."""
        size = head.content_length
        if size > PREREAD_MAX or self._preread + size > PREREAD_BUDGET:
            return False
        if (head.get("expect") or "").lower() == "100-continue":
            try:
                pending.sock.send(b"HTTP/1.1 100 Continue\r\n\r\n")
            except OSError:
                return False
            head.headers = [(n, v) for n, v in head.headers if n != "expect"]
        self._preread += size
        pending.head, pending.reserved, pending.head_end = head, size, end
        pending.deadline = time.monotonic() + self.body_timeout
        return True

    def _hand_over(self, pending: Pending, head: RequestHead, end: int) -> None:
        leftover = bytes(pending.buffer[end:])
        self._forget(pending)
        try:
            pending.sock.setblocking(True)
        except OSError:
            _close(pending.sock)
            return
        self.dispatch(pending.sock, head, leftover, pending.peer, pending.local)

    def _refuse(self, pending: Pending, error: ProtocolError) -> None:
        """Answer a protocol error with the usual JSON, then close gently."""
        first = bytes(pending.buffer[:2048]).split(b"\r\n", 1)[0].split(b" ")
        method = first[0].decode("latin-1") if first else ""
        target = first[1].decode("latin-1") if len(first) > 1 else "/"
        self.on_refused(method[:16], target, error.status, error.code)
        try:
            pending.sock.send(error_response(error.status, error.message, error.code, target))
        except OSError:
            self._close(pending)
            return
        self._linger(pending)

    def _linger(self, pending: Pending) -> None:
        with contextlib.suppress(OSError):
            pending.sock.shutdown(socket.SHUT_WR)
        pending.lingering, pending.buffer = True, bytearray()
        pending.deadline = time.monotonic() + LINGER_SECONDS

    def _forget(self, pending: Pending) -> None:
        self._preread -= pending.reserved
        pending.reserved = 0
        self._conns.pop(pending.sock, None)
        with contextlib.suppress(KeyError, ValueError, OSError):
            self.selector.unregister(pending.sock)

    def _close(self, pending: Pending) -> None:
        self._forget(pending)
        _close(pending.sock)

    def _close_all(self) -> None:
        for sock in self.listeners:
            _close(sock)
        for pending in list(self._conns.values()):
            self._close(pending)
        while self._returned:
            _close(self._returned.popleft()[0])
        self.selector.close()
        _close(self._wake_r)
        _close(self._wake_w)


def _close(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.close()
