"""HTTP CONNECT tunnels through a proxy, with Basic, NTLM or Negotiate authentication.

urllib3 cannot run a multi-step (NTLM) handshake on a CONNECT, so the bridge opens the
tunnel itself and hands urllib3 a socket that already reaches GigaChat: TLS, keep-alive and
pooling then work exactly as on a direct connection. NTLM/Negotiate come from `pyspnego`
(SSPI with the logged-on user's credentials on Windows when no user is given; a pure-Python
NTLM elsewhere).
"""

from __future__ import annotations

import base64
import socket

from urllib3 import PoolManager
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import ConnectTimeoutError, NameResolutionError, ProxyError

from gigachat.core.proxy import ProxyConfig

MAX_HEAD = 64 * 1024  # bytes of a proxy's status line + headers
MAX_BODY = 1024 * 1024  # bytes of a proxy's 407 page we read (and drop) to keep the connection
MAX_ROUNDS = 4  # authentication round trips


class ProxyFailure(OSError):
    """The tunnel could not be opened. `kind`: unreachable | auth | refused | protocol."""

    def __init__(self, message: str, kind: str, status: int | None = None,
                 offered: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.message, self.kind, self.status, self.offered = message, kind, status, offered


class _Reader:
    """Reads one HTTP response head (and a body to drop) from a socket, bounded."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock, self.buffer = sock, b""

    def _more(self) -> None:
        chunk = self.sock.recv(65536)
        if not chunk:
            raise ProxyFailure("Прокси-сервер закрыл соединение, не ответив на CONNECT.", "protocol")
        self.buffer += chunk

    def head(self) -> tuple[int, list[tuple[str, str]]]:
        while b"\r\n\r\n" not in self.buffer:
            if len(self.buffer) > MAX_HEAD:
                raise ProxyFailure("Прокси-сервер прислал слишком длинный ответ.", "protocol")
            self._more()
        head, self.buffer = self.buffer.split(b"\r\n\r\n", 1)
        lines = head.decode("latin-1").split("\r\n")
        parts = lines[0].split(" ", 2)
        if len(parts) < 2 or not parts[0].startswith("HTTP/") or not parts[1].isdigit():
            raise ProxyFailure("Прокси-сервер ответил не по протоколу HTTP.", "protocol")
        headers = [(n.strip().lower(), v.strip()) for n, _, v in (line.partition(":")
                                                                  for line in lines[1:])]
        return int(parts[1]), headers

    def drop_body(self, headers: list[tuple[str, str]]) -> None:
        values = dict(headers)
        if "chunked" in values.get("transfer-encoding", "").lower():
            while not self.buffer.endswith(b"0\r\n\r\n") and b"\r\n0\r\n\r\n" not in self.buffer:
                if len(self.buffer) > MAX_BODY:
                    raise ProxyFailure("Прокси-сервер прислал слишком длинный ответ.", "protocol")
                self._more()
            self.buffer = b""
            return
        length = int(values.get("content-length", "0") or 0)
        if length > MAX_BODY:
            raise ProxyFailure("Прокси-сервер прислал слишком длинный ответ.", "protocol")
        while len(self.buffer) < length:
            self._more()
        self.buffer = self.buffer[length:]


def _target(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _send_connect(sock: socket.socket, target: str, authorization: str | None) -> None:
    lines = [f"CONNECT {target} HTTP/1.1", f"Host: {target}", "Proxy-Connection: keep-alive"]
    if authorization:
        lines.append(f"Proxy-Authorization: {authorization}")
    sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))


def _offered(headers: list[tuple[str, str]]) -> tuple[str, ...]:
    return tuple(v.split(" ", 1)[0] for n, v in headers if n == "proxy-authenticate")


def _challenge(headers: list[tuple[str, str]], scheme: str) -> bytes | None:
    for name, value in headers:
        word, _, data = value.partition(" ")
        if name == "proxy-authenticate" and word.lower() == scheme.lower() and data.strip():
            return base64.b64decode(data.strip())
    return None


def _auth_failure(proxy: ProxyConfig, offered: tuple[str, ...]) -> ProxyFailure:
    asks = ", ".join(offered) or "неизвестный способ"
    if not proxy.auth:
        text = (f"Прокси-сервер {proxy.url} требует авторизацию ({asks}). Укажите способ в "
                "настройке proxy_auth (basic, ntlm или negotiate) и учётную запись в адресе "
                "прокси или в системном хранилище (tray_app.py --set-proxy-password).")
    else:
        who = f"пользователя {proxy.username}" if proxy.username else "текущего пользователя"
        text = (f"Прокси-сервер {proxy.url} не принял учётные данные {who} (способ "
                f"{proxy.auth}, прокси предлагает: {asks}). Проверьте имя (ДОМЕН\\пользователь) "
                "и пароль прокси или спросите администратора сети, какой способ нужен.")
    return ProxyFailure(text, "auth", 407, offered)


def handshake(sock: socket.socket, proxy: ProxyConfig, host: str, port: int) -> None:
    """CONNECT host:port on an open connection to the proxy, authenticating as configured."""
    target, reader = _target(host, port), _Reader(sock)
    context, scheme, authorization = None, "", None
    if proxy.auth == "basic":
        pair = f"{proxy.username or ''}:{proxy.password or ''}".encode()
        authorization = "Basic " + base64.b64encode(pair).decode()
    elif proxy.auth in ("ntlm", "negotiate"):
        scheme = "NTLM" if proxy.auth == "ntlm" else "Negotiate"
        context, first = _sspi(proxy)
        authorization = f"{scheme} " + base64.b64encode(first).decode()
    for _ in range(MAX_ROUNDS):
        _send_connect(sock, target, authorization)
        status, headers = reader.head()
        if status == 200:
            if reader.buffer:
                raise ProxyFailure("Прокси-сервер прислал лишние данные после CONNECT.", "protocol")
            return
        reader.drop_body(headers)
        if status != 407:
            raise ProxyFailure(f"Прокси-сервер {proxy.url} не пропустил соединение с {target}: "
                               f"ответ {status}. Попросите администратора сети открыть доступ "
                               "к серверам ГигаЧат.", "refused", status)
        challenge = _challenge(headers, scheme) if context is not None else None
        if challenge is None or context.complete:
            raise _auth_failure(proxy, _offered(headers))
        authorization = f"{scheme} " + base64.b64encode(_step(proxy, context, challenge)).decode()
    raise _auth_failure(proxy, ())


def _no_sspi(proxy: ProxyConfig, error: Exception) -> ProxyFailure:
    who = proxy.username or "текущего пользователя Windows"
    return ProxyFailure(
        f"Не удалось подготовить вход на прокси {proxy.url} способом {proxy.auth} для {who} "
        f"({type(error).__name__}). Укажите учётную запись в адресе прокси "
        "(http://ДОМЕН%5Cпользователь@сервер:порт) и пароль (tray_app.py --set-proxy-password) "
        "или выберите proxy_auth=basic, если прокси его принимает.", "auth")


def _sspi(proxy: ProxyConfig):
    """A pyspnego client context and its first token (SSPI on Windows, NTLM elsewhere)."""
    import spnego  # only when a proxy asks for it

    try:
        context = spnego.client(proxy.username, proxy.password, hostname=proxy.host,
                                service="HTTP", protocol=proxy.auth)
        return context, context.step()
    except Exception as error:  # noqa: BLE001 - pyspnego/SSPI/GSSAPI raise many kinds
        raise _no_sspi(proxy, error) from error


def _step(proxy: ProxyConfig, context, challenge: bytes) -> bytes:
    try:
        return context.step(challenge) or b""
    except Exception as error:  # noqa: BLE001 - a malformed challenge, bad credentials
        raise _no_sspi(proxy, error) from error


def open_tunnel(proxy: ProxyConfig, host: str, port: int, timeout: float | None) -> socket.socket:
    """A socket connected through the proxy to host:port (raises ProxyFailure or OSError)."""
    try:
        sock = socket.create_connection((proxy.host, proxy.port), timeout)
    except socket.gaierror:
        raise
    except OSError as error:
        raise ProxyFailure(f"Прокси-сервер {proxy.url} недоступен ({type(error).__name__}). "
                           "Проверьте адрес и порт прокси.", "unreachable") from error
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # as urllib3 does: no Nagle stalls
    try:
        handshake(sock, proxy, host, port)
    except BaseException:
        sock.close()
        raise
    return sock


def _tunneled(base: type[HTTPConnection], proxy: ProxyConfig) -> type[HTTPConnection]:
    class Tunneled(base):  # type: ignore[misc, valid-type]
        def _new_conn(self) -> socket.socket:
            try:
                return open_tunnel(proxy, self.host, self.port, self.timeout)
            except socket.gaierror as error:
                raise NameResolutionError(proxy.host, self, error) from error
            except TimeoutError as error:
                raise ConnectTimeoutError(self, f"proxy {proxy.url} timed out") from error
            except ProxyFailure as error:
                raise ProxyError(error.message, error) from error

    return Tunneled


def tunnel_pool_manager(proxy: ProxyConfig, num_pools: int, maxsize: int, block: bool = False,
                        **pool_kwargs) -> PoolManager:
    """A PoolManager whose every connection goes through a CONNECT tunnel of `proxy`."""
    class Pool(HTTPConnectionPool):
        ConnectionCls = _tunneled(HTTPConnection, proxy)

    class SecurePool(HTTPSConnectionPool):
        ConnectionCls = _tunneled(HTTPSConnection, proxy)

    manager = PoolManager(num_pools=num_pools, maxsize=maxsize, block=block, **pool_kwargs)
    manager.pool_classes_by_scheme = {"http": Pool, "https": SecurePool}
    return manager
