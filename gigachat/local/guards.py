"""WSGI guards in front of the routes: Host, Origin, local API key, body size, request log."""

from __future__ import annotations

import hmac
import io
import json
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from gigachat.local.http_server import is_loopback


@dataclass
class RequestRecord:
    """What a route tells the request log about its call (never the text unless log_bodies)."""

    model: str | None = None
    tokens: int | str | None = None
    error: str | None = None  # BridgeError.code of a failed call: wrong_key, bad_json, ...
    text: str | None = None  # logged only with the log_bodies setting


RECORD_KEY = "gigachat.record"


def request_record(environ: dict) -> RequestRecord:
    """The request's record, created on first use (routes write it, the request log reads it)."""
    record = environ.get(RECORD_KEY)
    if record is None:
        record = environ[RECORD_KEY] = RequestRecord()
    return record


log = logging.getLogger("gigachat.access")

OPEN_PATHS = ("/health", "/openapi.json")  # no local API key needed: they reveal no secrets


def error_payload(path: str, status: int, message: str, code: str) -> dict:
    """The error body in the shape the caller of `path` understands."""
    if path.startswith("/v1/"):
        from gigachat.local.openai_compat import openai_error

        return openai_error(status, message, code=code)
    return {"success": False, "result": "", "error": message, "model": "", "usage": None}


def json_response(start_response, status: int, payload: object, extra: list | None = None):
    """Start a JSON response; returns the WSGI body."""
    body = json.dumps(payload, ensure_ascii=False).encode("utf-8")
    headers = [
        ("Content-Type", "application/json; charset=utf-8"),
        ("Content-Length", str(len(body))),
        ("Cache-Control", "no-store"),
    ]
    start_response(f"{status} {_REASONS.get(status, 'Error')}", headers + (extra or []))
    return [body]


_REASONS = {200: "OK", 400: "Bad Request", 403: "Forbidden", 404: "Not Found",
            405: "Method Not Allowed", 413: "Payload Too Large", 500: "Internal Server Error"}


def _host_name(host_header: str) -> str:
    """`[::1]:8000` → `::1`, `localhost:8000` → `localhost`."""
    host = host_header.strip().lower()
    if host.startswith("["):
        return host[1:].split("]", 1)[0]
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


@dataclass
class Guards:
    """Wraps the app; rejects what must never reach a route."""

    app: Callable
    max_body_bytes: int = 2 * 1024 * 1024
    allowed_origins: list[str] = field(default_factory=list)
    api_key: Callable[[], str | None] = lambda: None
    extra_hosts: list[str] = field(default_factory=list)
    log_bodies: bool = False

    def __call__(self, environ: dict, start_response) -> Iterable[bytes]:
        started = time.monotonic()
        path = environ.get("PATH_INFO", "")
        statuses: list[str] = []

        def recording_start_response(status, headers, exc_info=None):
            statuses.append(status)
            return start_response(status, headers, exc_info)

        try:
            return self._guarded(environ, recording_start_response, path)
        finally:
            self._log(environ, path, statuses, started)

    def _guarded(self, environ: dict, start_response, path: str) -> Iterable[bytes]:
        problem = self._check(environ, path)
        if problem:
            status, message, code = problem
            return json_response(start_response, status, error_payload(path, status, message, code))
        origin = environ.get("HTTP_ORIGIN")
        cors = [("Access-Control-Allow-Origin", origin), ("Vary", "Origin")] if origin else []
        if origin and environ.get("REQUEST_METHOD") == "OPTIONS":
            start_response("204 No Content", cors + [
                ("Access-Control-Allow-Methods", "GET, POST, OPTIONS"),
                ("Access-Control-Allow-Headers", "Content-Type, Authorization, X-API-Key"),
                ("Content-Length", "0")])
            return [b""]
        too_big = self._buffer_body(environ)
        if too_big:
            return json_response(start_response, 413, error_payload(path, 413, too_big, "too_large"))

        def with_cors(status, headers, exc_info=None):
            return start_response(status, headers + cors, exc_info)

        return self.app(environ, with_cors)

    def _check(self, environ: dict, path: str) -> tuple[int, str, str] | None:
        host = environ.get("HTTP_HOST")
        if host is not None and not self._host_ok(host):
            return (403, "Запрос отклонён: мост принимает запросы только по адресу 127.0.0.1 или "
                    "localhost (защита от DNS rebinding).", "bad_host")
        origin = environ.get("HTTP_ORIGIN")
        if origin is not None and origin not in self.allowed_origins:
            return (403, "Запрос из браузера отклонён: веб-страницы не могут обращаться к мосту "
                    "(защита от CSRF). Разрешённые источники задаются в настройках "
                    "(allowed_origins).", "bad_origin")
        expected = self.api_key()
        if expected and path not in OPEN_PATHS and not self._key_ok(environ, expected):
            return (403, "Нужен локальный API-ключ моста: передайте его в заголовке X-API-Key "
                    "или Authorization: Bearer. Ключ можно скопировать в меню моста "
                    "«Настройки…».", "api_key")
        return None

    def _host_ok(self, host_header: str) -> bool:
        name = _host_name(host_header)
        return name in ("localhost", "127.0.0.1", "::1") or name in self.extra_hosts \
            or (is_loopback(name) and name.startswith("127."))

    @staticmethod
    def _key_ok(environ: dict, expected: str) -> bool:
        given = environ.get("HTTP_X_API_KEY", "")
        auth = environ.get("HTTP_AUTHORIZATION", "")
        if not given and auth.lower().startswith("bearer "):
            given = auth[7:].strip()
        return bool(given) and hmac.compare_digest(given.encode(), expected.encode())

    def _buffer_body(self, environ: dict) -> str | None:
        """Read the body (at most the cap) into memory; a message if it is too big."""
        message = (f"Тело запроса больше {self.max_body_bytes // (1024 * 1024)} МБ. "
                   f"Сократите текст или разбейте его на части.")
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        if length > self.max_body_bytes:
            return message
        stream = environ.get("wsgi.input")
        chunked = "chunked" in environ.get("HTTP_TRANSFER_ENCODING", "").lower()
        if stream is None or (length <= 0 and not chunked):
            body = b""
        else:
            body = stream.read(length) if length > 0 else stream.read(self.max_body_bytes + 1)
        if len(body) > self.max_body_bytes:
            return message
        environ["wsgi.input"] = io.BytesIO(body)
        environ["CONTENT_LENGTH"] = str(len(body))
        environ.pop("HTTP_TRANSFER_ENCODING", None)
        return None

    def _log(self, environ: dict, path: str, statuses: list[str], started: float) -> None:
        status = statuses[-1].split(" ", 1)[0] if statuses else "-"
        record = request_record(environ)
        extra = f" error={record.error}" if record.error else ""
        if self.log_bodies and record.text is not None:
            extra += f" text={record.text!r}"
        log.info("%s %s %s %.0fms model=%s tokens=%s%s", environ.get("REQUEST_METHOD"), path,
                 status, (time.monotonic() - started) * 1000, record.model or "-",
                 "-" if record.tokens is None else record.tokens, extra)
