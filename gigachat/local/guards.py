"""WSGI guards in front of the routes: Host, Origin, local API key, body size, request log."""

from __future__ import annotations

import hmac
import io
import ipaddress
import json
import logging
import re
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from gigachat.local.http_wire import ProtocolError

LOOPBACK_NAMES = {"localhost", "127.0.0.1", "::1"}
INTERNAL_MESSAGE = "Внутренняя ошибка моста. Подробности записаны в журнал моста."
LOGGED_PATH_MAX = 200  # characters of a path in the log
REFUSAL_SUMMARY_SECONDS = 60.0


def is_loopback(host: str) -> bool:
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


# C0/C1 controls, DEL, Unicode line/paragraph separators, lone surrogates.
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff]")


def log_safe(text: str, limit: int | None = None) -> str:
    """One line, printable, encodable: controls and lone surrogates escaped; cut to `limit`."""
    if limit is not None and len(text) > limit:
        text = f"{text[:limit]}…(+{len(text) - limit})"
    return _UNSAFE.sub(lambda m: f"\\x{ord(m.group()):02x}" if ord(m.group()) < 0x100
                       else f"\\u{ord(m.group()):04x}", text)


class SafeLogFilter(logging.Filter):
    """Rewrites a record's message with log_safe: no forged lines, no unencodable text."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a bad format string must not lose the line
            message = f"{record.msg!r} % {record.args!r}"
        cleaned = log_safe(message)
        if cleaned != message or record.args:
            record.msg, record.args = cleaned, None
        return True


@dataclass
class RefusalLog:
    """Refused and unknown-route requests: the first in a window logged, the rest counted."""

    interval: float = REFUSAL_SUMMARY_SECONDS
    clock: Callable[[], float] = time.monotonic
    counts: Counter = field(default_factory=Counter)
    total: int = 0
    _window_start: float | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def note(self, method: str, path: str, status: int | str, code: str | None = None) -> None:
        with self._lock:
            self.total += 1
            now = self.clock()
            if self._window_start is not None and now - self._window_start < self.interval:
                self.counts[str(status)] += 1
                return
            summary, self.counts = self.counts, Counter()
            self._window_start = now
        if summary:
            log.warning("%d more refused requests in the last %.0f s (%s)", sum(summary.values()),
                        self.interval, ", ".join(f"{k}: {v}" for k, v in sorted(summary.items())))
        log.warning("refused %s %s %s%s (further refusals within %.0f s are only counted)",
                    log_safe(method, 16), log_safe(path, LOGGED_PATH_MAX), status,
                    f" error={code}" if code else "", self.interval)


REFUSALS = RefusalLog()  # one per process: the server layer and the guards share it


def shared_refusals() -> RefusalLog:
    return REFUSALS


CORS_METHODS = "GET, POST, DELETE, OPTIONS"
CORS_HEADERS = ("Content-Type, Authorization, X-API-Key, Idempotency-Key, X-Mask-Personal-Data")


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
log.addFilter(SafeLogFilter())

# Routes whose bodies may carry files as base64 (issue 12): they get max_files_body_bytes.
FILE_ROUTES = ("/analyze/text", "/analyze/extract", "/v1/chat/completions")
FILE_MARKS = (b'"files"', b'"image_url"', b'"file_data"', b'"input_audio"')  # JSON keys
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
            405: "Method Not Allowed", 408: "Request Timeout", 413: "Payload Too Large",
            500: "Internal Server Error", 501: "Not Implemented"}
# Refusals are counted, not logged one by one (a web page can flood them). A route's own
# validation error (code bad_request) is logged: it is a real call that failed.
_REFUSED = {"bad_host", "bad_origin", "api_key", "too_large", "http_404", "http_405",
            "request_timeout", "unsupported_encoding"}  # last two: framing


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
    max_files_body_bytes: int | None = None  # routes that may carry files (FILE_ROUTES)
    allowed_origins: list[str] = field(default_factory=list)
    api_key: Callable[[], str | None] = lambda: None
    extra_hosts: list[str] = field(default_factory=list)
    log_bodies: bool = False
    refusals: RefusalLog = field(default_factory=shared_refusals, repr=False)

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
        origin = environ.get("HTTP_ORIGIN")
        preflight = bool(origin) and environ.get("REQUEST_METHOD") == "OPTIONS"
        # A browser's preflight never carries the API key: only Host and Origin are checked.
        problem = self._check(environ, path, key_required=not preflight)
        if problem:
            return self._refuse(environ, start_response, path, problem)
        cors = [("Access-Control-Allow-Origin", origin), ("Vary", "Origin")] if origin else []
        if preflight:
            return self._preflight(environ, start_response, cors)
        problem = self._buffer_body(environ)
        if problem:
            return self._refuse(environ, start_response, path, problem)
        critical: list[str] = []

        def with_cors(status, headers, exc_info=None):
            if status.startswith("500") and any(
                    name.lower() == "content-type" and "html" in value.lower()
                    for name, value in headers):
                critical.append(status)  # bottle's «Critical error» page: answer JSON instead
                return lambda data: None
            return start_response(status, headers + cors, exc_info)

        result = self.app(environ, with_cors)
        if not critical:
            return result
        getattr(result, "close", lambda: None)()
        log.error("bottle's critical error page on %s replaced by a JSON error",
                  log_safe(path, LOGGED_PATH_MAX))
        return json_response(start_response, 500, error_payload(path, 500, INTERNAL_MESSAGE,
                                                                "internal"))

    @staticmethod
    def _preflight(environ: dict, start_response, cors: list) -> Iterable[bytes]:
        """CORS preflight for an allowed origin (the 1C web client, 8.3.21+)."""
        headers = cors + [("Access-Control-Allow-Methods", CORS_METHODS),
                          ("Access-Control-Allow-Headers", CORS_HEADERS),
                          ("Access-Control-Max-Age", "600"), ("Content-Length", "0")]
        if environ.get("HTTP_ACCESS_CONTROL_REQUEST_PRIVATE_NETWORK", "").lower() == "true":
            headers.append(("Access-Control-Allow-Private-Network", "true"))
        start_response("204 No Content", headers)
        return [b""]

    def _refuse(self, environ: dict, start_response, path: str,
                problem: tuple[int, str, str]) -> Iterable[bytes]:
        status, message, code = problem
        request_record(environ).error = code
        return json_response(start_response, status, error_payload(path, status, message, code))

    def _check(self, environ: dict, path: str,
               key_required: bool = True) -> tuple[int, str, str] | None:
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
        if (key_required and expected and path not in OPEN_PATHS
                and not self._key_ok(environ, expected)):
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

    def body_cap(self, environ: dict) -> int:
        """The body cap: max_files_body_bytes on routes that may carry files when the body's
        size is declared (Content-Length, as 1C and the openai package send it); a chunked
        body keeps the plain cap, so refusing a huge one never holds more than that."""
        path = environ.get("PATH_INFO", "")
        chunked = "chunked" in environ.get("HTTP_TRANSFER_ENCODING", "").lower()
        if self.max_files_body_bytes and not chunked and (
                path in FILE_ROUTES or path.startswith("/jobs")):
            return max(self.max_files_body_bytes, self.max_body_bytes)
        return self.max_body_bytes

    def _too_big(self, cap: int) -> tuple[int, str, str]:
        hint = ("Уменьшите файлы или отправьте их отдельными запросами."
                if cap > self.max_body_bytes else "Сократите текст или разбейте его на части.")
        return 413, f"Тело запроса больше {cap // (1024 * 1024)} МБ. {hint}", "too_large"

    def _buffer_body(self, environ: dict) -> tuple[int, str, str] | None:
        """Read the body (at most the cap) into memory, never a temporary file; else a refusal.

        Past the plain cap a body must carry files (the larger cap is for them, not for text).
        """
        cap = self.body_cap(environ)
        too_big = self._too_big(cap)
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        if length > cap:
            return too_big
        stream = environ.get("wsgi.input")
        chunked = "chunked" in environ.get("HTTP_TRANSFER_ENCODING", "").lower()
        try:
            if stream is None or (length <= 0 and not chunked):
                body = b""
            else:  # a bounded read: the server's reader never holds more than asked for
                body = stream.read(length) if length > 0 else stream.read(cap + 1)
        except ProtocolError as error:  # broken chunked framing, a body too slow (408)
            return error.status, error.message, error.code
        if len(body) > cap:
            return too_big
        if len(body) > self.max_body_bytes and not any(mark in body for mark in FILE_MARKS):
            return self._too_big(self.max_body_bytes)
        buffered = io.BytesIO(body)
        environ["wsgi.input"] = buffered
        # bottle spills bodies over MEMFILE_MAX (100 KB) into a temporary file when it reads
        # wsgi.input itself; handing it the body it caches keeps business texts off the disk.
        environ["bottle.request.body"] = buffered
        environ["CONTENT_LENGTH"] = str(len(body))
        environ.pop("HTTP_TRANSFER_ENCODING", None)
        return None

    def _log(self, environ: dict, path: str, statuses: list[str], started: float) -> None:
        status = statuses[-1].split(" ", 1)[0] if statuses else "-"
        record = request_record(environ)
        shown = log_safe(_readable_path(path), LOGGED_PATH_MAX)
        method = log_safe(str(environ.get("REQUEST_METHOD")), 16)
        if record.error in _REFUSED or (status in ("404", "405") and record.model is None):
            self.refusals.note(method, shown, status, record.error)
            return
        extra = f" error={log_safe(record.error, 64)}" if record.error else ""
        if self.log_bodies and record.text is not None:
            extra += f" text={log_safe(record.text)}"
        log.info("%s %s %s %.0fms model=%s tokens=%s%s", method, shown,
                 status, (time.monotonic() - started) * 1000, log_safe(record.model or "-", 100),
                 "-" if record.tokens is None else log_safe(str(record.tokens), 20), extra)


def _readable_path(path: str) -> str:
    """PATH_INFO is latin-1 (PEP 3333); show its UTF-8 as text."""
    try:
        return path.encode("latin-1").decode("utf-8", "backslashreplace")
    except UnicodeEncodeError:
        return path
