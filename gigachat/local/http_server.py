"""The local HTTP server on the loopbacks: a selector thread reads request heads, a fixed pool of
named worker threads runs the WSGI app (see http_loop, http_worker, http_wire)."""

from __future__ import annotations

import errno
import logging
import os
import queue
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from gigachat.core.errors import ConfigError
from gigachat.core.settings import Settings
from gigachat.local.guards import RefusalLog, SafeLogFilter, is_loopback, shared_refusals
from gigachat.local.http_loop import HeadLoop
from gigachat.local.http_worker import serve_request

log = logging.getLogger(__name__)  # http_loop and http_worker log here too
log.addFilter(SafeLogFilter())

class PortBusy(ConfigError):
    """The configured port is taken by another program."""

    def __init__(self, host: str, port: int) -> None:
        super().__init__(
            f"Порт {port} на адресе {host} уже занят другой программой (возможно, мост уже запущен). "
            f"Закройте её или выберите другой порт в «Настройки…» (параметр port, переменная "
            f"окружения API_PORT) и укажите тот же порт в 1С.",
            code="port_busy",
        )
        self.port = port


def check_bind(host: str, allow_remote: bool, api_key_on: bool) -> None:
    """Refuse a non-loopback address unless the user allowed it AND a local API key is on."""
    if is_loopback(host):
        return
    if not (allow_remote and api_key_on):
        raise ConfigError(
            f"Адрес {host} доступен из сети, а мост по умолчанию слушает только этот компьютер "
            f"(127.0.0.1). Чтобы открыть его для сети, включите локальный API-ключ и параметр "
            f"allow_remote в настройках; иначе укажите API_HOST=127.0.0.1.",
            code="remote_bind",
        )


def _address_in_use(error: OSError) -> bool:
    codes = (errno.EADDRINUSE, 10048)  # 10048: WSAEADDRINUSE on Windows
    text = str(error)
    return error.errno in codes or os.strerror(errno.EADDRINUSE) in text or "10048" in text


def _ipv6_loopback_available() -> bool:
    if not socket.has_ipv6:
        return False
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as probe:
            probe.bind(("::1", 0))
        return True
    except OSError:
        return False



def _listen(host: str, port: int) -> socket.socket:
    """A listening socket on host:port; OSError as the OS reports it."""
    family, kind, proto, _, address = socket.getaddrinfo(
        host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)[0]
    sock = socket.socket(family, kind, proto)
    try:
        if os.name == "nt":  # Windows' SO_REUSEADDR would let a second program steal the port
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_EXCLUSIVEADDRUSE, 1)
        else:  # restart at once after a stop (TIME_WAIT); a live listener still blocks the bind
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if family == socket.AF_INET6:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        sock.bind(address)
        # A burst of 1C forms (a new connection per call) must not get resets: let the OS
        # queue as many connections as it allows.
        sock.listen(socket.SOMAXCONN)
    except BaseException:
        sock.close()
        raise
    return sock


@dataclass
class LocalServer:
    """Serves one WSGI app on host:port (and on ::1 too when host is 127.0.0.1)."""

    app: Callable
    host: str = "127.0.0.1"
    port: int = 8000
    threads: int = Settings.server_threads  # one default, in the settings
    shutdown_timeout: float = 5.0
    header_timeout: float = 10.0  # the whole request head must arrive within this (→ 408)
    idle_timeout: float = 15.0  # a kept-alive connection with no new request is closed
    body_timeout: float = 30.0  # the whole body must arrive within this (→ 408)
    max_connections: int = 400  # watched at once (Windows' select() stops at 512 sockets)
    refusals: RefusalLog = field(default_factory=shared_refusals, repr=False)
    _listeners: list[socket.socket] = field(default_factory=list, repr=False)
    _loop: HeadLoop | None = field(default=None, repr=False)
    _jobs: queue.SimpleQueue = field(default_factory=queue.SimpleQueue, repr=False)
    _threads: list[threading.Thread] = field(default_factory=list, repr=False)
    _stopping: bool = field(default=False, repr=False)

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def addresses(self) -> list[tuple[str, int]]:
        return [tuple(sock.getsockname()[:2]) for sock in self._listeners]

    def start(self) -> LocalServer:
        """Bind and serve in named daemon threads; raises PortBusy or ConfigError."""
        hosts = [self.host]
        if self.host in ("127.0.0.1", "localhost") and _ipv6_loopback_available():
            hosts = ["127.0.0.1", "::1"]
        try:
            for host in hosts:
                sock = self._bind(host)
                if sock is None:
                    continue
                self._listeners.append(sock)
                if self.port == 0:
                    self.port = sock.getsockname()[1]
        except BaseException:
            for sock in self._listeners:
                sock.close()
            self._listeners = []
            raise
        self._stopping = False
        self._loop = HeadLoop(self._listeners, self._dispatch, header_timeout=self.header_timeout,
                              idle_timeout=self.idle_timeout, body_timeout=self.body_timeout,
                              max_connections=self.max_connections,
                              on_refused=self._refused)
        self._threads = [threading.Thread(target=self._loop.run, name="http-loop", daemon=True)]
        self._threads += [threading.Thread(target=self._work, name=f"http-worker-{n}", daemon=True)
                          for n in range(1, self.threads + 1)]
        for thread in self._threads:
            thread.start()
        log.info("listening on %s", ", ".join(f"{h}:{p}" for h, p in self.addresses))
        return self

    def _bind(self, host: str) -> socket.socket | None:
        try:
            return _listen(host, self.port)
        except OSError as error:
            if host == "::1" and self.host != "::1":
                log.warning("IPv6 loopback not usable (%s); serving on IPv4 only", error)
                return None
            if _address_in_use(error):
                raise PortBusy(host, self.port) from None
            raise ConfigError(
                f"Не удалось открыть адрес {host}:{self.port} ({error.strerror or error}). "
                f"Проверьте параметры host и port в настройках.",
                code="bind_failed",
            ) from None

    def _dispatch(self, sock, head, leftover: bytes, peer: tuple, local: tuple) -> None:
        self._jobs.put((sock, head, leftover, peer, local))

    def _refused(self, method: str, target: str, status: int, code: str) -> None:
        self.refusals.note(method, target.split("?", 1)[0], status, code)

    def _work(self) -> None:
        """A worker: serve requests until the sentinel; nothing a request does can end it."""
        while (job := self._jobs.get()) is not None:
            sock, head, leftover, peer, local = job
            try:
                kept = serve_request(sock, head, leftover, peer, local, self.app,
                                     self.body_timeout, lambda: self._stopping)
            except BaseException:  # serve_request handles everything; this is the last net
                log.exception("HTTP worker error")
                kept = None
            if self._loop is not None:
                self._loop.give_back(sock, kept, peer, local)
            else:
                sock.close()

    def stop(self) -> None:
        """Stop accepting; in-flight requests get `shutdown_timeout` seconds to finish."""
        loop, self._loop = self._loop, None
        if loop is None:
            return
        self._stopping = True
        loop.stop()
        for _ in range(self.threads):
            self._jobs.put(None)
        deadline = time.monotonic() + self.shutdown_timeout + 2
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        self._threads, self._listeners = [], []
