"""The local HTTP server: cheroot (a production, thread-pool WSGI server) on the loopbacks."""

from __future__ import annotations

import errno
import ipaddress
import logging
import os
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from cheroot import wsgi

from gigachat import APP_NAME
from gigachat.core.errors import ConfigError

log = logging.getLogger(__name__)

LOOPBACK_NAMES = {"localhost", "127.0.0.1", "::1"}


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


def is_loopback(host: str) -> bool:
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


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
    """cheroot wraps the bind error in a plain OSError; look at the text too."""
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


@dataclass
class LocalServer:
    """Serves one WSGI app on host:port (and on ::1 too when host is 127.0.0.1)."""

    app: Callable
    host: str = "127.0.0.1"
    port: int = 8000
    threads: int = 32
    shutdown_timeout: float = 5.0
    _servers: list[wsgi.Server] = field(default_factory=list, repr=False)
    _threads: list[threading.Thread] = field(default_factory=list, repr=False)

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def addresses(self) -> list[tuple[str, int]]:
        return [tuple(server.bind_addr[:2]) for server in self._servers]

    def start(self) -> LocalServer:
        """Bind and serve in named daemon threads; raises PortBusy or ConfigError."""
        hosts = [self.host]
        if self.host in ("127.0.0.1", "localhost") and _ipv6_loopback_available():
            hosts = ["127.0.0.1", "::1"]
        try:
            for host in hosts:
                server = self._bind(host)
                if server is None:
                    continue
                self._servers.append(server)
                if self.port == 0:
                    self.port = server.bind_addr[1]
        except BaseException:
            self.stop()
            raise
        for server in self._servers:
            thread = threading.Thread(
                target=server.serve, name=f"http-{server.bind_addr[0]}", daemon=True
            )
            thread.start()
            self._threads.append(thread)
        log.info("listening on %s", ", ".join(f"{h}:{p}" for h, p in self.addresses))
        return self

    def _bind(self, host: str) -> wsgi.Server | None:
        server = wsgi.Server(
            (host, self.port), self.app, numthreads=self.threads, server_name=APP_NAME,
            shutdown_timeout=self.shutdown_timeout, timeout=30,
        )
        # cheroot's default backlog is 5: a burst of 1C forms (a new connection per call)
        # would get connection resets. Let the OS queue as many as it allows.
        server.request_queue_size = socket.SOMAXCONN
        try:
            server.prepare()
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
        return server

    def stop(self) -> None:
        """Stop accepting; in-flight requests get `shutdown_timeout` seconds to finish."""
        servers, self._servers = self._servers, []
        stoppers = [threading.Thread(target=server.stop, name="http-stop") for server in servers]
        for stopper in stoppers:
            stopper.start()
        for stopper in stoppers:
            stopper.join(self.shutdown_timeout + 2)
        for thread in self._threads:
            thread.join(self.shutdown_timeout + 2)
        self._threads = []
