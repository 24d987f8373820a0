"""One request on a worker thread: the WSGI environ, the app, the response (streamed if need be)."""

from __future__ import annotations

import json
import logging
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import unquote_to_bytes

from gigachat.local.guards import INTERNAL_MESSAGE, error_payload, log_safe
from gigachat.local.http_wire import (
    REASONS,
    BodyReader,
    ProtocolError,
    RequestHead,
    SocketReader,
    response_head,
)

log = logging.getLogger("gigachat.local.http_server")

SEND_TIMEOUT = 30.0  # a client that stops reading our answer for this long is dropped


class ErrorStream:
    """wsgi.errors: whatever the app writes there goes to the log, never to sys.stderr."""

    def write(self, text: str) -> int:
        if text and text.strip():
            log.error("WSGI error output: %s", log_safe(str(text).strip(), 2000))
        return len(text or "")

    def writelines(self, lines) -> None:
        for line in lines:
            self.write(line)

    def flush(self) -> None:
        pass


def _path_of(target: str) -> str:
    if target.startswith(("http://", "https://")):
        target = "/" + target.split("://", 1)[1].partition("/")[2]
    return target.split("?", 1)[0]


def error_response(status: int, message: str, code: str, target: str = "/") -> bytes:
    """A whole response carrying the same JSON error as every other error; closes."""
    payload = error_payload(_path_of(target), status, message, code)
    body = json.dumps(payload, ensure_ascii=False).encode("utf-8")
    return response_head(f"{status} {REASONS.get(status, 'Error')}", [
        ("Content-Type", "application/json; charset=utf-8"), ("Content-Length", str(len(body))),
        ("Cache-Control", "no-store"), ("Connection", "close")]) + body


@dataclass
class Exchange:
    """The state of one request/response on a connection."""

    sock: socket.socket
    head: RequestHead
    reader: SocketReader
    keep_alive: bool
    sent_head: bool = False
    status: str = ""
    headers: list[tuple[str, str]] = field(default_factory=list)
    chunked: bool = False
    no_body: bool = False
    length: int | None = None
    written: int = 0
    body_done: Callable[[], bool] = lambda: True  # the app has read the whole request body

    def start_response(self, status: str, headers: list, exc_info=None):
        if exc_info and self.sent_head:
            raise exc_info[1].with_traceback(exc_info[2])
        self.status, self.headers = status, list(headers)
        return self.write

    def _send_head(self) -> bytes:
        """The response head (marked as sent: the caller sends it)."""
        names = {name.lower() for name, _ in self.headers}
        code = int(self.status.split(" ", 1)[0])
        headers = [(n, v) for n, v in self.headers if n.lower() not in ("connection",)]
        self.no_body = self.head.method == "HEAD" or code in (204, 304) or code < 200
        if "content-length" in names:
            self.length = int(next(v for n, v in self.headers if n.lower() == "content-length"))
        elif not self.no_body:
            if self.head.version == "HTTP/1.1":
                self.chunked = True
                headers.append(("Transfer-Encoding", "chunked"))
            else:
                self.keep_alive = False
        if self.keep_alive and not self.body_done():
            self.keep_alive = False  # an unread body (a refusal): say so, then close
        if not self.keep_alive:
            headers.append(("Connection", "close"))
        elif self.head.version == "HTTP/1.0":
            headers.append(("Connection", "keep-alive"))
        self.sent_head = True
        return response_head(self.status, headers)

    def write(self, data: bytes) -> None:
        head = b""
        if not self.sent_head:
            if not self.status:
                raise AssertionError("write() before start_response()")
            head = self._send_head()
        if data and not self.no_body:
            self.written += len(data)
            if self.length is not None and self.written > self.length:
                raise ValueError("the app wrote more than its Content-Length")
            data = b"%x\r\n%s\r\n" % (len(data), data) if self.chunked else data
        else:
            data = b""
        if head or data:  # the head goes out with the first piece of the body: one segment
            self.sock.sendall(head + data)

    def finish(self) -> None:
        head = self._send_head() if not self.sent_head else b""
        self.sock.sendall(head + (b"0\r\n\r\n" if self.chunked else b""))
        if self.length is not None and self.written != self.length and not self.no_body:
            self.keep_alive = False


def build_environ(head: RequestHead, body: BodyReader, peer: tuple, local: tuple) -> dict:
    path, _, query = head.target.partition("?")
    environ = {
        "REQUEST_METHOD": head.method, "SCRIPT_NAME": "",
        "PATH_INFO": unquote_to_bytes(_path_of(path)).decode("latin-1"), "QUERY_STRING": query,
        "REQUEST_URI": head.target, "SERVER_NAME": str(local[0]), "SERVER_PORT": str(local[1]),
        "SERVER_PROTOCOL": head.version, "REMOTE_ADDR": str(peer[0]), "REMOTE_PORT": str(peer[1]),
        "wsgi.version": (1, 0), "wsgi.url_scheme": "http", "wsgi.input": body,
        "wsgi.errors": ErrorStream(), "wsgi.multithread": True, "wsgi.multiprocess": False,
        "wsgi.run_once": False,
    }
    for name, _ in head.headers:
        if "_" in name:  # X_Api_Key would alias X-Api-Key in the environ: drop it
            continue
        key = name.upper().replace("-", "_")
        if key not in ("CONTENT_TYPE", "CONTENT_LENGTH"):
            key = "HTTP_" + key
        environ.setdefault(key, head.get(name))
    return environ


def serve_request(sock: socket.socket, head: RequestHead, leftover: bytes, peer: tuple,
                  local: tuple, app: Callable, body_timeout: float,
                  stopping: Callable[[], bool]) -> bytes | None:
    """Answer one request; the bytes already read past it to keep the connection, or None."""
    reader = SocketReader(sock, leftover, time.monotonic() + body_timeout)
    exchange = Exchange(sock, head, reader, keep_alive=head.keep_alive)

    def send_continue() -> None:
        if (head.get("expect") or "").lower() == "100-continue" and not exchange.sent_head:
            sock.settimeout(SEND_TIMEOUT)
            sock.sendall(b"HTTP/1.1 100 Continue\r\n\r\n")

    body = BodyReader(reader, head, on_first_read=send_continue)
    exchange.body_done = lambda: body.done
    try:
        result = app(build_environ(head, body, peer, local), exchange.start_response)
        try:
            for data in result:
                sock.settimeout(SEND_TIMEOUT)
                exchange.write(data)
        finally:
            close = getattr(result, "close", None)
            if close is not None:
                close()
        sock.settimeout(SEND_TIMEOUT)
        exchange.finish()
    except ProtocolError as error:  # the app read a body that broke the rules
        _fail(sock, exchange, error_response(error.status, error.message, error.code, head.target))
        return None
    except OSError as error:
        log.debug("client connection lost: %s", error)
        return None
    except Exception:
        log.exception("unhandled error while serving %s %s", head.method,
                      log_safe(_path_of(head.target)))
        _fail(sock, exchange, error_response(500, INTERNAL_MESSAGE, "internal", head.target))
        return None
    if exchange.keep_alive and body.done and not stopping():
        return bytes(reader.buffer)
    return None


def _fail(sock: socket.socket, exchange: Exchange, response: bytes) -> None:
    """Send an error answer if nothing was sent yet (else the client sees a cut answer)."""
    if exchange.sent_head:
        return
    try:
        sock.settimeout(SEND_TIMEOUT)
        sock.sendall(response)
    except OSError:
        pass
