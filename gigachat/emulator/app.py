"""GigaChat emulator: a real HTTP/HTTPS server that behaves like GigaChat's OAuth and API.

It is the demo backend and the test double of the bridge. Behaviour follows
docs/gigachat-api.md (shared facts). Standard library only.

Run on its own: ``python -m gigachat.emulator --port 9090``.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import contextlib
import hashlib
import itertools
import json
import math
import random
import re
import secrets
import signal
import socket
import socketserver
import ssl
import sys
import threading
import time
import uuid
from collections import Counter, deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

__all__ = [
    "CHAT_MODELS",
    "DEMO_KEY",
    "EMBEDDER_MODELS",
    "EMBEDDING_SIZE",
    "SCOPES",
    "Emulator",
    "Fault",
    "main",
    "make_key",
]

SCOPES = ("GIGACHAT_API_PERS", "GIGACHAT_API_B2B", "GIGACHAT_API_CORP")
PERS, B2B, CORP = SCOPES

MODEL_VERSION = "2.0.28.2"
CHAT_MODELS = (
    "GigaChat",
    "GigaChat-2",
    "GigaChat-2-Pro",
    "GigaChat-2-Max",
    "GigaChat-Pro",
    "GigaChat-Max",
)
EMBEDDER_MODELS = ("Embeddings", "Embeddings-2", "EmbeddingsGigaR")
EMBEDDING_SIZE = 1024
BALANCE = (
    ("GigaChat", 900000),
    ("GigaChat-Pro", 50000),
    ("GigaChat-Max", 50000),
    ("embeddings", 5000000),
)

OAUTH_PATH = "/api/v2/oauth"
API_PREFIX = "/api/v1"
CONTROL_PREFIX = "/_emulator/"

MAX_BODY = 80 * 1024 * 1024
HANDSHAKE_TIMEOUT = 10.0
IDLE_TIMEOUT = 120.0
STOP_JOIN_TIMEOUT = 5.0
POLL_INTERVAL = 0.05  # how quickly serve_forever notices shutdown()
STREAM_WORDS_PER_CHUNK = 3
JSON_TYPE = "application/json; charset=utf-8"
RANDOM_FAULTS: tuple[int | str, ...] = (429, 500, 503, "drop")

STATUS_MESSAGES = {
    400: "Bad request",
    401: "Unauthorized",
    402: "Payment Required",
    403: "Permission denied",
    404: "Not found",
    405: "Method not allowed",
    413: "Payload too large",
    422: "Invalid params",
    429: "Too many requests",
    500: "Internal Server Error",
    501: "Not implemented",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}

_UUID_RE = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_TRACE_ID_RE = re.compile(r"^[\w.:-]{1,128}$")
_JWE_HEADER = (
    base64.urlsafe_b64encode(b'{"cty":"jwt","enc":"A256CBC-HS512","alg":"RSA-OAEP-256"}')
    .decode("ascii")
    .rstrip("=")
)


def make_key(client_id: str, secret: str) -> str:
    """Build an authorization key: base64 of ``client_id:secret``."""
    return base64.b64encode(f"{client_id}:{secret}".encode()).decode("ascii")


DEMO_KEY = make_key("demo-client-id", "demo-client-secret")


# --------------------------------------------------------------------------- small types


class HttpError(Exception):
    """A finished error answer raised from deep inside a handler."""

    def __init__(self, status: int, body: Any, headers: Mapping[str, str] | None = None):
        super().__init__(status)
        self.status = status
        self.body = body
        self.headers = dict(headers or {})

    @classmethod
    def api(cls, status: int, message: str | None = None, **headers: str) -> HttpError:
        """API-style error: ``{"status": n, "message": "..."}``."""
        return cls(status, {"status": status, "message": message or _status_message(status)}, headers)

    @classmethod
    def oauth(cls, status: int, code: int, message: str) -> HttpError:
        """OAuth-style error: ``{"code": n, "message": "..."}``."""
        return cls(status, {"code": code, "message": message})

    @classmethod
    def invalid(cls, detail: str) -> HttpError:
        """422 ``Invalid params: <detail>``."""
        return cls.api(422, f"Invalid params: {detail}")

    def reply(self) -> Reply:
        """The error as a reply."""
        return Reply(self.status, self.body, self.headers)


@dataclass
class Reply:
    """What a route answers: a JSON body, an SSE stream (``events``) or a dropped socket."""

    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    events: list[str] | None = None
    drop: bool = False
    release: Callable[[], None] | None = None

    def finish(self) -> None:
        """Run the release callback once (frees the in-flight slot)."""
        release, self.release = self.release, None
        if release is not None:
            release()


@dataclass
class Request:
    """A parsed HTTP request as the routes see it."""

    method: str
    path: str
    headers: Message
    body: bytes

    def json_object(self) -> dict[str, Any]:
        """Decode the body as a JSON object or raise 400."""
        try:
            value = json.loads(self.body.decode("utf-8"))
        except UnicodeDecodeError as exc:
            raise HttpError.api(400, "Bad request: body is not valid UTF-8") from exc
        except json.JSONDecodeError as exc:
            raise HttpError.api(400, f"Bad request: invalid JSON ({exc.msg})") from exc
        if not isinstance(value, dict):
            raise HttpError.api(400, "Bad request: JSON object expected")
        return value


@dataclass(frozen=True)
class Token:
    """An issued access token's owner, scope and expiry (unix seconds)."""

    key: str
    scope: str
    expires_at: float


@dataclass
class Fault:
    """One queued failure, consumed by requests whose path ends with ``path``."""

    status: int | None = None
    path: str = "/chat/completions"
    times: int = 1
    retry_after: float | int | str | None = None
    delay: float = 0.0
    drop: bool = False
    message: str | None = None

    def __post_init__(self) -> None:
        if self.status is not None and not (isinstance(self.status, int) and 100 <= self.status <= 599):
            raise ValueError("status must be an HTTP status code")
        if not isinstance(self.times, int) or self.times < 1:
            raise ValueError("times must be a positive integer")
        if not _is_number(self.delay) or self.delay < 0:
            raise ValueError("delay must be a non-negative number")
        if not isinstance(self.path, str) or not self.path:
            raise ValueError("path must be a non-empty string")
        if self.status is None and not self.drop and not self.delay:
            raise ValueError("a fault needs status, drop or delay")

    def matches(self, path: str) -> bool:
        """True when this fault applies to a request path."""
        return self.path == "*" or path.endswith(self.path)


@dataclass(frozen=True)
class Route:
    """Handlers of one path by method; ``kind`` is oauth, api or control."""

    name: str
    kind: str
    handlers: Mapping[str, Callable[[Request], Reply]]


# --------------------------------------------------------------------------- counters


class Stats:
    """Thread-safe counters of what the emulator saw; ``snapshot()`` gives a dict."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: Counter[str] = Counter()
        self._routes: Counter[str] = Counter()
        self._statuses: Counter[int] = Counter()

    def incr(self, name: str, amount: int = 1) -> None:
        """Add to a named counter."""
        with self._lock:
            self._counts[name] += amount

    def route(self, name: str) -> None:
        """Count a request to a route."""
        with self._lock:
            self._routes[name] += 1

    def status(self, code: int) -> None:
        """Count a response status."""
        with self._lock:
            self._statuses[code] += 1

    def reset(self) -> None:
        """Zero every counter."""
        with self._lock:
            self._counts.clear()
            self._routes.clear()
            self._statuses.clear()

    def snapshot(self) -> dict[str, Any]:
        """A copy of the counters."""
        names = (
            "connections",
            "tls_handshakes",
            "tls_handshake_failures",
            "oauth_requests",
            "api_requests",
            "control_requests",
            "tokens_issued",
            "faults_fired",
            "dropped",
            "rejected_concurrency",
        )
        with self._lock:
            result: dict[str, Any] = {name: self._counts[name] for name in names}
            result["routes"] = dict(self._routes)
            result["responses"] = dict(self._statuses)
        return result


class InFlight:
    """Counts API requests in flight, per (key, scope) and in total; enforces the PERS rule."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._per_owner: Counter[tuple[str, str]] = Counter()
        self.current = 0
        self.max = 0

    def enter(self, owner: tuple[str, str], exclusive: bool) -> bool:
        """Take a slot; False when ``exclusive`` and the owner already has one."""
        with self._lock:
            if exclusive and self._per_owner[owner] > 0:
                return False
            self._per_owner[owner] += 1
            self.current += 1
            self.max = max(self.max, self.current)
            return True

    def leave(self, owner: tuple[str, str]) -> None:
        """Free a slot taken by ``enter``."""
        with self._lock:
            self._per_owner[owner] -= 1
            if self._per_owner[owner] <= 0:
                del self._per_owner[owner]
            self.current -= 1

    def reset_max(self) -> None:
        """Restart the maximum from the current value."""
        with self._lock:
            self.max = self.current


# --------------------------------------------------------------------------- the emulator


class Emulator:
    """A GigaChat OAuth + API server on a real socket, with test controls."""

    CONFIG_FIELDS = ("latency", "token_lifetime", "reject_keys", "reply", "fail_rate")

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        tls: tuple[str, str] | None = None,
        keys: Mapping[str, Iterable[str] | str] | None = None,
        token_lifetime: float = 1800.0,
        latency: float = 0.0,
        seed: int = 0,
    ) -> None:
        _check_config({"latency": latency, "token_lifetime": token_lifetime})
        self.host = host
        self._requested_port = port
        self._ssl_context = _server_context(*tls) if tls else None
        self._keys = _normalize_keys({DEMO_KEY: SCOPES} if keys is None else keys)
        self._initial = {"latency": latency, "token_lifetime": token_lifetime}
        self._seed = seed
        self._lock = threading.Lock()
        self._latency_changed = threading.Condition()
        self._stopping = threading.Event()
        self._stats = Stats()
        self._in_flight = InFlight()
        self._tokens: dict[str, Token] = {}
        self._issued: list[str] = []
        self._oauth_log: list[dict[str, Any]] = []
        self._faults: deque[Fault] = deque()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._address: tuple[str, int] | None = None
        self._stopped = False
        self._routes = self._build_routes()
        # run-time settings; reset() restores these constructor values
        self.token_lifetime = float(token_lifetime)
        self.reject_keys = False
        self._latency = float(latency)
        self._reply: str | None = None
        self._fail_rate = 0.0
        self._rng = random.Random(seed)
        self._apply_defaults()

    # ----------------------------------------------------------------- lifecycle

    def start(self) -> Emulator:
        """Bind the socket and serve in a daemon thread named ``gigachat-emulator``."""
        with self._lock:
            if self._server is not None or self._stopped:
                raise RuntimeError("the emulator can be started once")
            self._server = _Server((self.host, self._requested_port), self, self._ssl_context)
        self._address = self._server.server_address[:2]
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": POLL_INTERVAL},
            name="gigachat-emulator",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving, close the listening socket and every open connection; idempotent."""
        with self._lock:
            server, thread = self._server, self._thread
            if server is None or self._stopped:
                return
            self._stopped = True
        self._stopping.set()
        with self._latency_changed:
            self._latency_changed.notify_all()
        server.shutdown()
        if thread is not None:
            thread.join(STOP_JOIN_TIMEOUT)
        server.server_close()
        server.close_connections(STOP_JOIN_TIMEOUT)

    def __enter__(self) -> Emulator:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def stopping(self) -> bool:
        """True once stop() has begun."""
        return self._stopping.is_set()

    # ----------------------------------------------------------------- addresses

    @property
    def port(self) -> int:
        """The bound TCP port."""
        if self._address is None:
            raise RuntimeError("the emulator is not started")
        return self._address[1]

    @property
    def base_url(self) -> str:
        """``http(s)://host:port``."""
        scheme = "https" if self._ssl_context else "http"
        host = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}.get(self.host, self.host)
        if ":" in host:
            host = f"[{host}]"
        return f"{scheme}://{host}:{self.port}"

    @property
    def oauth_url(self) -> str:
        """The OAuth endpoint URL."""
        return self.base_url + OAUTH_PATH

    @property
    def api_url(self) -> str:
        """The API base URL (no trailing slash)."""
        return self.base_url + API_PREFIX

    # ----------------------------------------------------------------- state for tests

    @property
    def keys(self) -> list[str]:
        """Every accepted authorization key."""
        with self._lock:
            return list(self._keys)

    @property
    def issued_tokens(self) -> list[str]:
        """Every access token issued so far."""
        with self._lock:
            return list(self._issued)

    @property
    def oauth_log(self) -> list[dict[str, Any]]:
        """One entry per OAuth request handled: rquid, scope, content_type, accept, status."""
        with self._lock:
            return [dict(entry) for entry in self._oauth_log]

    @property
    def stats(self) -> dict[str, Any]:
        """A snapshot of the counters (response statuses keyed by int)."""
        snapshot = self._stats.snapshot()
        snapshot["in_flight"] = self._in_flight.current
        snapshot["max_in_flight"] = self._in_flight.max
        snapshot["faults_queued"] = self.faults_queued
        return snapshot

    @property
    def faults_queued(self) -> int:
        """How many fault firings are still queued."""
        with self._lock:
            return sum(fault.times for fault in self._faults)

    @property
    def config(self) -> dict[str, Any]:
        """The run-time settings ``configure`` can change."""
        with self._lock:
            return {
                "latency": self._latency,
                "token_lifetime": self.token_lifetime,
                "reject_keys": self.reject_keys,
                "reply": self._reply,
                "fail_rate": self._fail_rate,
            }

    @property
    def latency(self) -> float:
        """Seconds each chat/embeddings request waits while in flight."""
        return self._latency

    @latency.setter
    def latency(self, value: float) -> None:
        _check_config({"latency": value})
        with self._latency_changed:
            self._latency = float(value)
            self._latency_changed.notify_all()

    @property
    def fail_rate(self) -> float:
        """Probability (0..1) of a seeded random fault on each API request."""
        return self._fail_rate

    @fail_rate.setter
    def fail_rate(self, value: float) -> None:
        _check_config({"fail_rate": value})
        with self._lock:
            self._fail_rate = float(value)

    def set_reply(self, text: str | None) -> None:
        """Fix the content of subsequent chat replies (None: back to generated Markdown)."""
        _check_config({"reply": text})
        with self._lock:
            self._reply = text

    def configure(self, **changes: Any) -> dict[str, Any]:
        """Change any of latency, token_lifetime, reject_keys, reply, fail_rate (all or none)."""
        _check_config(changes)
        if "latency" in changes:
            self.latency = changes["latency"]
        with self._lock:
            if "token_lifetime" in changes:
                self.token_lifetime = float(changes["token_lifetime"])
            if "reject_keys" in changes:
                self.reject_keys = changes["reject_keys"]
            if "reply" in changes:
                self._reply = changes["reply"]
            if "fail_rate" in changes:
                self._fail_rate = float(changes["fail_rate"])
        return self.config

    def add_key(self, key: str, scopes: Iterable[str] | str = SCOPES) -> None:
        """Accept another authorization key for the given scopes."""
        normalized = _normalize_keys({key: scopes})
        with self._lock:
            self._keys.update(normalized)

    def inject(
        self,
        status: int | None = None,
        path: str = "/chat/completions",
        times: int = 1,
        retry_after: float | int | str | None = None,
        delay: float = 0.0,
        drop: bool = False,
        message: str | None = None,
    ) -> None:
        """Queue a fault for the next ``times`` requests whose path ends with ``path``."""
        fault = Fault(status, path, times, retry_after, delay, drop, message)
        with self._lock:
            self._faults.append(fault)

    def clear_faults(self) -> None:
        """Drop every queued fault."""
        with self._lock:
            self._faults.clear()

    def expire_tokens(self) -> None:
        """Make every issued token expired (API answers ``Token has expired``)."""
        with self._lock:
            past = time.time() - 1
            self._tokens = {
                value: Token(token.key, token.scope, min(token.expires_at, past))
                for value, token in self._tokens.items()
            }

    def revoke_tokens(self) -> None:
        """Forget every issued token (API answers ``Unauthorized``)."""
        with self._lock:
            self._tokens.clear()

    def reset(self) -> None:
        """Clear faults and counters and restore the constructor's settings; tokens stay valid."""
        with self._lock:
            self._faults.clear()
            self._oauth_log.clear()
        self._apply_defaults()
        self._stats.reset()
        self._in_flight.reset_max()

    def _apply_defaults(self) -> None:
        """Put the run-time settings back to the constructor's values."""
        with self._lock:
            self.token_lifetime = float(self._initial["token_lifetime"])
            self.reject_keys = False
            self._reply = None
            self._fail_rate = 0.0
            self._rng = random.Random(self._seed)
        self.latency = self._initial["latency"]

    # ----------------------------------------------------------------- request processing

    def process(self, request: Request) -> Reply:
        """Answer one request; never raises."""
        try:
            return self._process(request)
        except HttpError as exc:
            return exc.reply()
        except Exception:  # an emulator bug must not reach the client as a traceback
            return HttpError.api(500).reply()

    def _process(self, request: Request) -> Reply:
        route = self._find_route(request.path)
        if route is None:
            raise HttpError.api(404, f"Not found: {request.path}")
        handler = route.handlers.get(request.method)
        if handler is None:
            allowed = ", ".join(sorted(route.handlers))
            raise HttpError.api(405, "Method not allowed", Allow=allowed)
        self._count_request(route)
        if route.kind != "control":
            fault = self._take_fault(request.path, random_allowed=route.kind == "api")
            if fault is not None:
                reply = self._fire(fault)
                if reply is not None:
                    return reply
        return handler(request)

    def _count_request(self, route: Route) -> None:
        self._stats.route(route.name)
        self._stats.incr(
            {"oauth": "oauth_requests", "api": "api_requests"}.get(route.kind, "control_requests")
        )

    def _find_route(self, path: str) -> Route | None:
        route = self._routes.get(path)
        if route is None and path.startswith(API_PREFIX + "/models/"):
            route = self._routes[API_PREFIX + "/models/{id}"]
        return route

    def _build_routes(self) -> dict[str, Route]:
        api = self._api_call
        table = [
            (OAUTH_PATH, "oauth", {"POST": self._oauth}),
            (API_PREFIX + "/chat/completions", "api", {"POST": api(self._chat)}),
            (API_PREFIX + "/models", "api", {"GET": api(self._models)}),
            (API_PREFIX + "/models/{id}", "api", {"GET": api(self._model)}),
            (API_PREFIX + "/embeddings", "api", {"POST": api(self._embeddings)}),
            (API_PREFIX + "/tokens/count", "api", {"POST": api(self._tokens_count)}),
            (API_PREFIX + "/balance", "api", {"GET": api(self._balance)}),
            (CONTROL_PREFIX + "stats", "control", {"GET": self._control_stats}),
            (
                CONTROL_PREFIX + "config",
                "control",
                {"GET": self._control_config, "POST": self._control_config},
            ),
            (
                CONTROL_PREFIX + "faults",
                "control",
                {"POST": self._control_faults, "DELETE": self._control_clear_faults},
            ),
            (CONTROL_PREFIX + "reset", "control", {"POST": self._control_reset}),
            (CONTROL_PREFIX + "tokens/expire", "control", {"POST": self._control_expire}),
            (CONTROL_PREFIX + "tokens/revoke", "control", {"POST": self._control_revoke}),
        ]
        return {path: Route(path, kind, handlers) for path, kind, handlers in table}

    # ----------------------------------------------------------------- faults

    def _take_fault(self, path: str, random_allowed: bool) -> Fault | None:
        with self._lock:
            for fault in self._faults:
                if fault.matches(path):
                    fault.times -= 1
                    if fault.times <= 0:
                        self._faults.remove(fault)
                    return fault
            if random_allowed and self._fail_rate and self._rng.random() < self._fail_rate:
                kind = self._rng.choice(RANDOM_FAULTS)
                return Fault(drop=True) if kind == "drop" else Fault(status=int(kind))
        return None

    def _fire(self, fault: Fault) -> Reply | None:
        self._stats.incr("faults_fired")
        if fault.delay:
            self._stopping.wait(fault.delay)
        if fault.drop:
            return Reply(0, drop=True)
        if fault.status is None:
            return None
        headers = {} if fault.retry_after is None else {"Retry-After": str(fault.retry_after)}
        return HttpError.api(fault.status, fault.message, **headers).reply()

    # ----------------------------------------------------------------- OAuth

    def _oauth(self, request: Request) -> Reply:
        entry: dict[str, Any] = {
            "rquid": request.headers.get("RqUID"),
            "scope": _peek_scope(request.body),
            "content_type": request.headers.get("Content-Type"),
            "accept": request.headers.get("Accept"),
            "status": 500,
        }
        try:
            reply = self._oauth_checked(request)
            entry["status"] = reply.status
            return reply
        except HttpError as exc:
            entry["status"] = exc.status
            raise
        finally:
            with self._lock:
                self._oauth_log.append(entry)

    def _oauth_checked(self, request: Request) -> Reply:
        if self.reject_keys:
            raise HttpError.oauth(401, 6, "credentials doesn't match db data")
        key = self._basic_key(request.headers.get("Authorization"))
        rquid = (request.headers.get("RqUID") or "").strip()
        if not _UUID_RE.match(rquid):
            raise HttpError.oauth(400, 3, "RqUID header is missing or is not a UUID")
        content_type = (request.headers.get("Content-Type") or "").split(";")[0].strip().lower()
        if content_type != "application/x-www-form-urlencoded":
            raise HttpError.oauth(400, 3, "Content-Type must be application/x-www-form-urlencoded")
        scope = _form_scope(request.body)
        if scope not in SCOPES:
            raise HttpError.oauth(400, 1, "scope data format invalid")
        with self._lock:
            allowed = self._keys[key]
        if scope not in allowed:
            raise HttpError.oauth(400, 7, "scope from db not fully includes consumed scope")
        value, expires_at = self._issue(key, scope)
        return Reply(200, {"access_token": value, "expires_at": int(expires_at * 1000)})

    def _basic_key(self, header: str | None) -> str:
        scheme, _, key = (header or "").strip().partition(" ")
        key = key.strip()
        with self._lock:
            if scheme.lower() == "basic" and key in self._keys:
                return key
        if scheme.lower() != "basic" or not _decodes_as_credentials(key):
            raise HttpError.oauth(401, 4, "Can't decode 'Authorization' header")
        raise HttpError.oauth(401, 6, "credentials doesn't match db data")

    def _issue(self, key: str, scope: str) -> tuple[str, float]:
        value = _new_access_token()
        with self._lock:
            expires_at = time.time() + self.token_lifetime
            self._tokens[value] = Token(key, scope, expires_at)
            self._issued.append(value)
        self._stats.incr("tokens_issued")
        return value, expires_at

    # ----------------------------------------------------------------- API plumbing

    def _api_call(self, handler: Callable[[Request, Token], Reply]) -> Callable[[Request], Reply]:
        """Wrap an API handler: bearer check, in-flight slot (PERS: one per key)."""

        def call(request: Request) -> Reply:
            token = self._authorize(request)
            owner = (token.key, token.scope)
            if not self._in_flight.enter(owner, exclusive=token.scope == PERS):
                self._stats.incr("rejected_concurrency")
                raise HttpError.api(429)
            try:
                reply = handler(request, token)
            except BaseException:
                self._in_flight.leave(owner)
                raise
            reply.release = lambda: self._in_flight.leave(owner)
            return reply

        return call

    def _authorize(self, request: Request) -> Token:
        scheme, _, value = (request.headers.get("Authorization") or "").strip().partition(" ")
        with self._lock:
            token = self._tokens.get(value.strip()) if scheme.lower() == "bearer" else None
        if token is None:
            raise HttpError.api(401, "Unauthorized")
        if time.time() >= token.expires_at:
            raise HttpError.api(401, "Token has expired")
        return token

    def _sleep_latency(self) -> None:
        """Wait ``latency`` seconds; a lower new value or stop() ends the wait early."""
        started = time.monotonic()
        with self._latency_changed:
            while not self._stopping.is_set():
                remaining = self._latency - (time.monotonic() - started)
                if remaining <= 0:
                    return
                self._latency_changed.wait(remaining)

    # ----------------------------------------------------------------- API routes

    def _chat(self, request: Request, token: Token) -> Reply:
        payload = request.json_object()
        validate_chat(payload)
        self._sleep_latency()
        with self._lock:
            override = self._reply
        result = compose_chat(payload, override)
        created = int(time.time())
        if payload.get("stream"):
            return Reply(200, events=sse_events(result, created))
        return Reply(200, chat_body(result, created))

    def _models(self, request: Request, token: Token) -> Reply:
        return Reply(200, {"object": "list", "data": [_model_entry(m) for m in _all_models()]})

    def _model(self, request: Request, token: Token) -> Reply:
        name = request.path[len(API_PREFIX + "/models/") :]
        if name not in _all_models():
            raise HttpError.api(404, "No such model")
        return Reply(200, _model_entry(name))

    def _embeddings(self, request: Request, token: Token) -> Reply:
        payload = request.json_object()
        model = _require_model(payload, EMBEDDER_MODELS)
        inputs = _input_texts(payload.get("input"))
        self._sleep_latency()
        data = [
            {
                "object": "embedding",
                "embedding": embedding_vector(model, text),
                "index": index,
                "usage": {"prompt_tokens": count_tokens(text)},
            }
            for index, text in enumerate(inputs)
        ]
        return Reply(200, {"object": "list", "data": data, "model": model})

    def _tokens_count(self, request: Request, token: Token) -> Reply:
        payload = request.json_object()
        _require_model(payload, _all_models())
        inputs = _input_texts(payload.get("input"))
        counts = [
            {"object": "tokens", "tokens": count_tokens(text), "characters": len(text)} for text in inputs
        ]
        return Reply(200, counts)

    def _balance(self, request: Request, token: Token) -> Reply:
        if token.scope == CORP:
            raise HttpError.api(403, "Permission denied")
        return Reply(200, {"balance": [{"usage": u, "value": v} for u, v in BALANCE]})

    # ----------------------------------------------------------------- control routes

    def _control_stats(self, request: Request) -> Reply:
        return Reply(200, self.stats)

    def _control_config(self, request: Request) -> Reply:
        if request.method == "GET":
            return Reply(200, self.config)
        try:
            return Reply(200, self.configure(**request.json_object()))
        except ValueError as exc:
            raise HttpError.api(400, str(exc)) from exc

    def _control_faults(self, request: Request) -> Reply:
        try:
            value = json.loads(request.body.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise HttpError.api(400, "Bad request: invalid JSON") from exc
        faults = value if isinstance(value, list) else [value]
        try:
            parsed = [Fault(**item) for item in faults]
        except (TypeError, ValueError) as exc:
            raise HttpError.api(400, f"Bad fault: {exc}") from exc
        with self._lock:
            self._faults.extend(parsed)
        return Reply(200, {"queued": self.faults_queued})

    def _control_clear_faults(self, request: Request) -> Reply:
        self.clear_faults()
        return Reply(200, {"queued": 0})

    def _control_reset(self, request: Request) -> Reply:
        self.reset()
        return Reply(200, {"ok": True})

    def _control_expire(self, request: Request) -> Reply:
        self.expire_tokens()
        return Reply(200, {"ok": True})

    def _control_revoke(self, request: Request) -> Reply:
        self.revoke_tokens()
        return Reply(200, {"ok": True})

    # ----------------------------------------------------------------- hooks for the HTTP layer

    def _note_connection(self) -> None:
        self._stats.incr("connections")

    def _note_handshake(self, ok: bool) -> None:
        self._stats.incr("tls_handshakes" if ok else "tls_handshake_failures")

    def _note_response(self, status: int | None) -> None:
        if status is None:
            self._stats.incr("dropped")
        else:
            self._stats.status(status)


# --------------------------------------------------------------------------- chat logic


@dataclass
class ChatResult:
    """A composed assistant answer before it is shaped as JSON or SSE."""

    model: str
    message: dict[str, Any]
    finish_reason: str
    usage: dict[str, int]


def validate_chat(payload: dict[str, Any]) -> None:
    """Apply GigaChat's request rules; raise 404/422 as the real API does."""
    model = payload.get("model")
    if not isinstance(model, str) or not model:
        raise HttpError.invalid("model is required")
    if model not in CHAT_MODELS:
        raise HttpError.api(404, "No such model")
    _validate_messages(payload.get("messages"))
    _validate_number(payload, "temperature", lambda v: v > 0, "must be greater than 0")
    _validate_number(payload, "top_p", lambda v: 0 <= v <= 1, "must be between 0 and 1")
    _validate_number(payload, "repetition_penalty", lambda v: v > 0, "must be greater than 0")
    _validate_number(payload, "update_interval", lambda v: v >= 0, "must not be negative")
    max_tokens = payload.get("max_tokens")
    if max_tokens is not None and (
        not isinstance(max_tokens, int) or isinstance(max_tokens, bool) or max_tokens <= 0
    ):
        raise HttpError.invalid("max_tokens must be a positive integer")
    for flag in ("stream", "profanity_check"):
        if flag in payload and not isinstance(payload[flag], bool):
            raise HttpError.invalid(f"{flag} must be a boolean")
    _validate_functions(payload.get("functions"), payload.get("function_call"))


def _validate_messages(messages: Any) -> None:
    if not isinstance(messages, list) or not messages:
        raise HttpError.invalid("messages must be a non-empty array")
    for index, message in enumerate(messages):
        _validate_message(index, message)
    system = [i for i, m in enumerate(messages) if m["role"] == "system"]
    if len(system) > 1 or (system and system[0] != 0):
        raise HttpError.invalid("only one system message is allowed and it must come first")
    for index, message in enumerate(messages):
        if message["role"] == "assistant" and message.get("function_call"):
            following = messages[index + 1] if index + 1 < len(messages) else None
            if following is None or following["role"] != "function":
                raise HttpError.invalid(f"messages[{index}]: a function call must be followed by its result")


def _validate_message(index: int, message: Any) -> None:
    where = f"messages[{index}]"
    if not isinstance(message, dict):
        raise HttpError.invalid(f"{where} must be an object")
    role = message.get("role")
    if role not in ("system", "user", "assistant", "function"):
        raise HttpError.invalid(f"{where}.role must be system, user, assistant or function")
    content = message.get("content")
    calls_function = role == "assistant" and message.get("function_call")
    if content is None and calls_function:
        return
    if not isinstance(content, str):
        raise HttpError.invalid(f"{where}.content must be a string")
    if role == "function":
        try:
            parsed = json.loads(content)
        except json.JSONDecodeError:
            parsed = None
        if not isinstance(parsed, dict):
            raise HttpError.invalid(f"{where}.content must be a JSON object in a string")


def _validate_number(payload: dict[str, Any], name: str, check: Callable[[float], bool], rule: str) -> None:
    if name not in payload or payload[name] is None:
        return
    value = payload[name]
    if not _is_number(value) or not check(value):
        raise HttpError.invalid(f"{name} {rule}")


def _validate_functions(functions: Any, function_call: Any) -> None:
    if functions is None:
        functions = []
    if not isinstance(functions, list):
        raise HttpError.invalid("functions must be an array")
    names = []
    for index, function in enumerate(functions):
        if not isinstance(function, dict) or not isinstance(function.get("name"), str):
            raise HttpError.invalid(f"functions[{index}] must be an object with a name")
        names.append(function["name"])
    if function_call is None or function_call in ("auto", "none"):
        return
    if not isinstance(function_call, dict) or function_call.get("name") not in names:
        raise HttpError.invalid("function_call must be auto, none or the name of a function")


def compose_chat(payload: dict[str, Any], override: str | None = None) -> ChatResult:
    """Build the deterministic answer to a validated chat request."""
    messages = payload["messages"]
    prompt_tokens = sum(count_tokens(m.get("content") or "") for m in messages)
    prompt_tokens += count_tokens(json.dumps(payload.get("functions") or [], ensure_ascii=False))
    function = _chosen_function(payload)
    if function is not None:
        call = {"name": function["name"], "arguments": example_arguments(function.get("parameters"))}
        message: dict[str, Any] = {
            "role": "assistant",
            "content": "",
            "function_call": call,
            "functions_state_id": str(uuid.uuid4()),
        }
        finish_reason = "function_call"
        completion_tokens = count_tokens(json.dumps(call, ensure_ascii=False))
    else:
        text = override if override is not None else markdown_reply(messages)
        text, finish_reason, completion_tokens = _limit(text, payload.get("max_tokens"))
        message = {"role": "assistant", "content": text}
    usage = {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "total_tokens": prompt_tokens + completion_tokens,
        "precached_prompt_tokens": prompt_tokens // 8,
    }
    return ChatResult(f"{payload['model']}:{MODEL_VERSION}", message, finish_reason, usage)


def _chosen_function(payload: dict[str, Any]) -> dict[str, Any] | None:
    functions = payload.get("functions") or []
    choice = payload.get("function_call", "auto")
    if not functions or choice == "none":
        return None
    if isinstance(choice, dict):
        return next(f for f in functions if f["name"] == choice["name"])
    if payload["messages"][-1]["role"] == "function":
        return None  # "auto" after a function result: the model answers in text
    return functions[0]


def example_arguments(schema: Any) -> dict[str, Any]:
    """Arguments for a function call: every required property with a sample value."""
    if not isinstance(schema, dict):
        return {}
    properties = schema.get("properties") or {}
    required = schema.get("required") or []
    return {
        name: _example_value(properties.get(name) if isinstance(properties, dict) else None)
        for name in required
        if isinstance(name, str)
    }


def _example_value(schema: Any) -> Any:
    if not isinstance(schema, dict):
        return "пример"
    if isinstance(schema.get("enum"), list) and schema["enum"]:
        return schema["enum"][0]
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "string")
    samples = {"integer": 1, "number": 1.0, "boolean": True, "array": []}
    if kind == "object":
        return example_arguments(schema)
    return samples.get(kind, "пример")


def markdown_reply(messages: list[dict[str, Any]]) -> str:
    """A deterministic Russian Markdown answer (bold, list, table) about the last user text."""
    text = next(
        (m["content"] for m in reversed(messages) if m["role"] == "user"),
        messages[-1].get("content") or "",
    )
    words = text.split()
    bullets = "\n".join(f"- «{word}»" for word in words[:3]) or "- (пустое сообщение)"
    return (
        "**Ответ эмулятора GigaChat**\n\n"
        f"В вашем сообщении {len(words)} {_plural(len(words), 'слово', 'слова', 'слов')}. "
        "Первые слова:\n\n"
        f"{bullets}\n\n"
        "| Показатель | Значение |\n"
        "| --- | --- |\n"
        f"| Символов | {len(text)} |\n"
        f"| Слов | {len(words)} |"
    )


def _plural(n: int, one: str, few: str, many: str) -> str:
    if n % 10 == 1 and n % 100 != 11:
        return one
    if 2 <= n % 10 <= 4 and not 12 <= n % 100 <= 14:
        return few
    return many


def _limit(text: str, max_tokens: int | None) -> tuple[str, str, int]:
    tokens = count_tokens(text)
    if max_tokens is not None and tokens > max_tokens:
        return text[: max_tokens * 4], "length", max_tokens
    return text, "stop", tokens


def count_tokens(text: str) -> int:
    """Deterministic token estimate: one token per four characters, rounded up."""
    return (len(text) + 3) // 4


def chat_body(result: ChatResult, created: int) -> dict[str, Any]:
    """The non-streaming chat completion JSON."""
    choice = {"message": result.message, "index": 0, "finish_reason": result.finish_reason}
    return {
        "choices": [choice],
        "created": created,
        "model": result.model,
        "object": "chat.completion",
        "usage": result.usage,
    }


def sse_events(result: ChatResult, created: int) -> list[str]:
    """The ``data:`` payloads of a streamed answer, ending with ``[DONE]``."""
    common = {"created": created, "model": result.model, "object": "chat.completion"}
    events = [
        {"choices": [{"delta": delta, "index": 0}], **common} for delta in _stream_deltas(result.message)
    ]
    final_choice = {"delta": {"content": ""}, "index": 0, "finish_reason": result.finish_reason}
    events.append({"choices": [final_choice], **common, "usage": result.usage})
    return [json.dumps(event, ensure_ascii=False) for event in events] + ["[DONE]"]


def _stream_deltas(message: dict[str, Any]) -> list[dict[str, Any]]:
    if "function_call" in message:
        return [
            {
                "content": "",
                "role": "assistant",
                "function_call": message["function_call"],
                "functions_state_id": message["functions_state_id"],
            }
        ]
    pieces = split_words(message["content"], STREAM_WORDS_PER_CHUNK) or [""]
    deltas: list[dict[str, Any]] = [{"content": pieces[0], "role": "assistant"}]
    deltas.extend({"content": piece} for piece in pieces[1:])
    return deltas


def split_words(text: str, per_chunk: int) -> list[str]:
    """Split text into pieces of ``per_chunk`` words; joined they give the text back."""
    words = re.findall(r"\s*\S+\s*", text)
    if "".join(words) != text:
        return [text] if text else []
    return ["".join(words[i : i + per_chunk]) for i in range(0, len(words), per_chunk)]


# --------------------------------------------------------------------------- other helpers


def embedding_vector(model: str, text: str) -> list[float]:
    """A deterministic unit vector of EMBEDDING_SIZE floats derived from a hash."""
    raw = hashlib.shake_256(f"{model}\0{text}".encode()).digest(EMBEDDING_SIZE * 2)
    values = [int.from_bytes(raw[i : i + 2], "big") / 32767.5 - 1.0 for i in range(0, len(raw), 2)]
    norm = math.sqrt(sum(v * v for v in values)) or 1.0
    return [round(v / norm, 6) for v in values]


def _all_models() -> tuple[str, ...]:
    return CHAT_MODELS + EMBEDDER_MODELS


def _model_entry(name: str) -> dict[str, str]:
    kind = "embedder" if name in EMBEDDER_MODELS else "chat"
    return {"id": name, "object": "model", "owned_by": "salutedevices", "type": kind}


def _require_model(payload: dict[str, Any], allowed: Iterable[str]) -> str:
    model = payload.get("model")
    if not isinstance(model, str) or not model:
        raise HttpError.invalid("model is required")
    if model not in allowed:
        raise HttpError.api(404, "No such model")
    return model


def _input_texts(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and value and all(isinstance(v, str) for v in value):
        return value
    raise HttpError.invalid("input must be a string or a non-empty array of strings")


def _form_scope(body: bytes) -> str:
    try:
        form = parse_qs(body.decode("utf-8"), keep_blank_values=True, strict_parsing=False)
    except UnicodeDecodeError as exc:
        raise HttpError.oauth(400, 1, "scope data format invalid") from exc
    scope = (form.get("scope") or [""])[0].strip()
    if not scope:
        raise HttpError.oauth(400, 5, "scope is empty")
    return scope


def _peek_scope(body: bytes) -> str | None:
    """The form's scope for the log, however malformed the body is."""
    values = parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True).get("scope")
    return values[0] if values else None


def _decodes_as_credentials(key: str) -> bool:
    try:
        decoded = base64.b64decode(key, validate=True).decode("utf-8")
    except (binascii.Error, ValueError):
        return False
    return ":" in decoded


def _new_access_token() -> str:
    """An opaque JWE-looking token of about 1.2 KB."""
    parts = [secrets.token_urlsafe(n) for n in (256, 12, 580, 32)]
    return ".".join([_JWE_HEADER, *parts])


def _normalize_keys(keys: Mapping[str, Iterable[str] | str]) -> dict[str, frozenset[str]]:
    result = {}
    for key, scopes in keys.items():
        scope_set = frozenset([scopes] if isinstance(scopes, str) else scopes)
        unknown = scope_set - set(SCOPES)
        if not isinstance(key, str) or not key or unknown:
            raise ValueError(f"bad key entry (unknown scopes: {sorted(unknown)})")
        result[key] = scope_set
    return result


def _check_config(changes: Mapping[str, Any]) -> None:
    """Raise ValueError unless every change names a known setting with a valid value."""
    unknown = set(changes) - set(Emulator.CONFIG_FIELDS)
    if unknown:
        raise ValueError(f"unknown settings: {', '.join(sorted(unknown))}")
    checks: dict[str, tuple[Callable[[Any], bool], str]] = {
        "latency": (lambda v: _is_number(v) and v >= 0, "a non-negative number"),
        "token_lifetime": (lambda v: _is_number(v) and v >= 0, "a non-negative number"),
        "reject_keys": (lambda v: isinstance(v, bool), "true or false"),
        "reply": (lambda v: v is None or isinstance(v, str), "a string or null"),
        "fail_rate": (lambda v: _is_number(v) and 0 <= v <= 1, "a number from 0 to 1"),
    }
    for name, value in changes.items():
        check, rule = checks[name]
        if not check(value):
            raise ValueError(f"{name} must be {rule}")


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _status_message(status: int) -> str:
    return STATUS_MESSAGES.get(status, "Error")


def _server_context(certfile: str, keyfile: str) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(certfile, keyfile)
    return context


# --------------------------------------------------------------------------- HTTP layer


class _Server(ThreadingHTTPServer):
    """Threading HTTP server: TLS handshakes in the connection threads, connections tracked."""

    daemon_threads = True
    request_queue_size = 64

    def __init__(self, address: tuple[str, int], emulator: Emulator, context: ssl.SSLContext | None) -> None:
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        self.emulator = emulator
        self.ssl_context = context
        self._connections: dict[socket.socket, threading.Thread] = {}
        self._connections_lock = threading.Lock()
        self._sequence = itertools.count(1)
        super().__init__(address, _Handler)

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
        self.emulator._note_connection()
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


class _Handler(BaseHTTPRequestHandler):
    """Reads requests, hands them to the emulator, writes JSON or SSE answers."""

    protocol_version = "HTTP/1.1"
    server_version = "GigaChatEmulator"
    timeout = IDLE_TIMEOUT
    disable_nagle_algorithm = True
    server: _Server

    def setup(self) -> None:
        """Do the TLS handshake here, in the connection's own thread."""
        self.handshake_failed = False
        if isinstance(self.request, ssl.SSLSocket):
            self.request.settimeout(HANDSHAKE_TIMEOUT)
            try:
                self.request.do_handshake()
            except OSError:
                self.handshake_failed = True
            self.server.emulator._note_handshake(not self.handshake_failed)
        super().setup()

    def handle(self) -> None:
        """Serve keep-alive requests unless the handshake failed."""
        if not self.handshake_failed:
            super().handle()

    def version_string(self) -> str:
        """The Server header."""
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
        self.server.emulator._note_response(code)
        body = json.dumps({"status": code, "message": message or _status_message(code)})
        self.send_response(code)
        self.send_header("Content-Type", JSON_TYPE)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Connection", "close")
        self._send_trace_headers()
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body.encode())

    def _dispatch(self) -> None:
        try:
            body = self._read_body()
        except HttpError as exc:
            self.close_connection = True
            reply = exc.reply()
        else:
            path = urlsplit(self.path).path or "/"
            reply = self.server.emulator.process(Request(self.command, path, self.headers, body))
        if self.server.emulator.stopping:  # stop() means no more answers
            reply.finish()
            reply = Reply(0, drop=True)
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
        emulator = self.server.emulator
        if reply.drop:
            emulator._note_response(None)
            self._drop()
        elif reply.events is not None:
            emulator._note_response(reply.status)
            self._send_events(reply)
        else:
            emulator._note_response(reply.status)
            self._send_json(reply)

    def _drop(self) -> None:
        self.close_connection = True
        with contextlib.suppress(OSError):
            socket.socket.shutdown(self.connection, socket.SHUT_RDWR)

    def _send_json(self, reply: Reply) -> None:
        body = json.dumps(reply.body, ensure_ascii=False).encode("utf-8")
        reply.finish()  # free the in-flight slot before the client can see the answer
        self.send_response(reply.status)
        self.send_header("Content-Type", JSON_TYPE)
        self.send_header("Content-Length", str(len(body)))
        for name, value in reply.headers.items():
            self.send_header(name, value)
        self._send_trace_headers()
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _send_events(self, reply: Reply) -> None:
        chunked = self.request_version == "HTTP/1.1"
        self.send_response(reply.status)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        if chunked:
            self.send_header("Transfer-Encoding", "chunked")
        else:
            self.send_header("Connection", "close")
            self.close_connection = True
        self._send_trace_headers()
        self.end_headers()
        events = reply.events or []
        for event in events[:-1]:
            self.wfile.write(_frame(f"data: {event}\n\n".encode(), chunked))
        last = _frame(f"data: {events[-1]}\n\n".encode(), chunked) if events else b""
        reply.finish()  # free the slot before the final bytes leave
        self.wfile.write(last + (b"0\r\n\r\n" if chunked else b""))

    def _send_trace_headers(self) -> None:
        headers = getattr(self, "headers", None)
        for name in ("X-Request-Id", "X-Session-Id"):
            given = headers.get(name) if headers is not None else None
            value = given if given and _TRACE_ID_RE.match(given) else str(uuid.uuid4())
            self.send_header(name, value)


def _frame(data: bytes, chunked: bool) -> bytes:
    """One HTTP chunk (or the raw bytes when not chunked)."""
    return b"%x\r\n%s\r\n" % (len(data), data) if chunked else data


# --------------------------------------------------------------------------- CLI


def _parse_key(text: str) -> tuple[str, list[str]]:
    key, sep, scopes = text.rpartition(":")
    if not sep or not key:
        raise argparse.ArgumentTypeError("expected KEY:SCOPE[,SCOPE...]")
    names = [s.strip() for s in scopes.split(",") if s.strip()]
    if not names or any(s not in SCOPES for s in names):
        raise argparse.ArgumentTypeError(f"scopes must be among {', '.join(SCOPES)}")
    return key, names


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m gigachat.emulator", description="GigaChat emulator (OAuth + API)."
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9090, help="0 picks a free port")
    parser.add_argument("--tls-cert", help="server certificate (PEM) to serve HTTPS")
    parser.add_argument("--tls-key", help="private key (PEM) of --tls-cert")
    parser.add_argument("--token-lifetime", type=float, default=1800.0, metavar="S")
    parser.add_argument("--latency", type=float, default=0.0, metavar="S")
    parser.add_argument("--fail-rate", type=float, default=0.0, metavar="P")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--key",
        action="append",
        default=[],
        type=_parse_key,
        metavar="KEY:SCOPE",
        help="extra authorization key and its scopes (comma separated); repeatable",
    )
    args = parser.parse_args(argv)
    if bool(args.tls_cert) != bool(args.tls_key):
        parser.error("--tls-cert and --tls-key go together")
    return args


def main(argv: list[str] | None = None) -> int:
    """Run the emulator until Ctrl+C or SIGTERM."""
    args = _parse_args(argv)
    keys: dict[str, Iterable[str]] = {DEMO_KEY: SCOPES}
    keys.update(dict(args.key))
    try:
        emulator = Emulator(
            host=args.host,
            port=args.port,
            tls=(args.tls_cert, args.tls_key) if args.tls_cert else None,
            keys=keys,
            token_lifetime=args.token_lifetime,
            latency=args.latency,
            seed=args.seed,
        )
        emulator.fail_rate = args.fail_rate
        emulator.start()
    except (OSError, ValueError) as exc:
        print(f"Cannot start the emulator: {exc}", file=sys.stderr, flush=True)
        return 2
    stop = threading.Event()
    _install_signal_handlers(stop)
    print(f"GigaChat emulator listening on {emulator.base_url}", flush=True)
    print(f"OAuth URL: {emulator.oauth_url}", flush=True)
    print(f"API URL: {emulator.api_url}", flush=True)
    print(f"Demo authorization key: {DEMO_KEY}", flush=True)
    print(f"Scopes: {', '.join(SCOPES)}", flush=True)
    print("Press Ctrl+C to stop.", flush=True)
    try:
        while not stop.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        emulator.stop()
    print("Emulator stopped.", flush=True)
    return 0


def _install_signal_handlers(stop: threading.Event) -> None:
    def handler(signum: int, frame: Any) -> None:
        stop.set()

    for name in ("SIGINT", "SIGTERM", "SIGBREAK"):
        if hasattr(signal, name):
            signal.signal(getattr(signal, name), handler)


if __name__ == "__main__":
    sys.exit(main())
