"""The Emulator: lifecycle, settings, routing, the API routes and what tests can read back."""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping
from typing import Any

from gigachat.emulator.api import Api, api_route_name
from gigachat.emulator.config import check_config
from gigachat.emulator.control import control_routes
from gigachat.emulator.faults import Fault, FaultQueue, transport_reply
from gigachat.emulator.oauth import DEMO_KEY, SCOPES, TokenIssuer
from gigachat.emulator.protocol import API_PREFIX, OAUTH_PATH, ClientGone, HttpError, Reply, Request, Route
from gigachat.emulator.server import Server, server_context
from gigachat.emulator.state import Stats

STOP_JOIN_TIMEOUT = 5.0
POLL_INTERVAL = 0.05  # how quickly serve_forever notices shutdown()


class Emulator:
    """A GigaChat OAuth + API server on a real socket, with test controls."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        tls: tuple[str, str] | None = None,
        keys: Mapping[str, Iterable[str] | str] | None = None,
        token_lifetime: float = 1800.0,
        latency: float = 0.0,
        seed: int = 0,
        catalogue: str = "legacy",
        stream_delay: float = 0.0,
    ) -> None:
        self._initial = {
            "latency": latency,
            "token_lifetime": token_lifetime,
            "reject_keys": False,
            "reply": None,
            "fail_rate": 0.0,
            "catalogue": catalogue,
            "stream_delay": stream_delay,
        }
        check_config(self._initial)
        self.host = host
        self._requested_port = port
        self._ssl_context = server_context(*tls) if tls else None
        self._issuer = TokenIssuer({DEMO_KEY: SCOPES} if keys is None else keys)
        self._lock = threading.Lock()
        self._latency_changed = threading.Condition()
        self._stopping = threading.Event()
        self._stats = Stats()
        self._faults = FaultQueue(seed)
        self._settings: dict[str, Any] = {}
        self._api = Api(
            self._setting, self._latency_changed, self._stopping, self._issuer, self._stats, self._faults
        )
        self._server: Server | None = None
        self._thread: threading.Thread | None = None
        self._address: tuple[str, int] | None = None
        self._stopped = False
        self._routes = self._build_routes()
        self.configure(**self._initial)

    # ----------------------------------------------------------------- lifecycle

    def start(self) -> Emulator:
        """Bind the socket and serve in a daemon thread named ``gigachat-emulator``."""
        with self._lock:
            if self._server is not None or self._stopped:
                raise RuntimeError("the emulator can be started once")
            address = (self.host, self._requested_port)
            self._server = Server(address, self.process, self._stats, self._stopping, self._ssl_context)
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
        return f"{scheme}://{f'[{host}]' if ':' in host else host}:{self.port}"

    @property
    def oauth_url(self) -> str:
        return self.base_url + OAUTH_PATH

    @property
    def api_url(self) -> str:
        """The API base URL (no trailing slash)."""
        return self.base_url + API_PREFIX

    # ----------------------------------------------------------------- settings

    @property
    def config(self) -> dict[str, Any]:
        """The run-time settings ``configure`` can change."""
        with self._lock:
            return dict(self._settings)

    def configure(self, **changes: Any) -> dict[str, Any]:
        """Change any of CONFIG_FIELDS (all or none); return the new config."""
        check_config(changes)
        with self._latency_changed:
            with self._lock:
                self._settings.update(changes)
                self._issuer.lifetime = float(self._settings["token_lifetime"])
                self._issuer.reject_keys = self._settings["reject_keys"]
                self._faults.fail_rate = float(self._settings["fail_rate"])
            self._latency_changed.notify_all()  # a lower latency ends waits early
        return self.config

    def _setting(self, name: str) -> Any:
        with self._lock:
            return self._settings[name]

    latency = property(lambda self: self._setting("latency"), lambda self, v: self.configure(latency=v))
    fail_rate = property(lambda self: self._setting("fail_rate"), lambda self, v: self.configure(fail_rate=v))
    catalogue = property(lambda self: self._setting("catalogue"), lambda self, v: self.configure(catalogue=v))
    stream_delay = property(
        lambda self: self._setting("stream_delay"), lambda self, v: self.configure(stream_delay=v)
    )
    token_lifetime = property(
        lambda self: self._setting("token_lifetime"), lambda self, v: self.configure(token_lifetime=v)
    )
    reject_keys = property(
        lambda self: self._setting("reject_keys"), lambda self, v: self.configure(reject_keys=v)
    )

    def set_reply(self, text: str | None) -> None:
        """Fix the content of subsequent chat replies (None: back to generated Markdown)."""
        self.configure(reply=text)

    # ----------------------------------------------------------------- faults and tokens

    def inject(
        self,
        status: int | None = None,
        path: str | None = None,
        times: int = 1,
        retry_after: float | int | str | None = None,
        delay: float = 0.0,
        drop: bool = False,
        message: str | None = None,
        kind: str | None = None,
    ) -> None:
        """Queue a fault for the next ``times`` matching requests (see faults.py for kinds)."""
        self.inject_faults([Fault(status, path, times, retry_after, delay, drop, message, kind)])

    def inject_faults(self, faults: Iterable[Fault]) -> None:
        """Queue ready-made faults."""
        self._faults.add(*faults)

    def clear_faults(self) -> None:
        """Drop every queued fault."""
        self._faults.clear()

    @property
    def faults_queued(self) -> int:
        """How many fault firings are still queued."""
        return self._faults.queued

    def expire_tokens(self) -> None:
        """Make every issued token expired (API answers ``Token has expired``)."""
        self._issuer.expire()

    def revoke_tokens(self) -> None:
        """Forget every issued token (API answers ``Unauthorized``)."""
        self._issuer.revoke()

    def reset(self) -> None:
        """Clear faults, counters, records and sessions; restore the constructor's settings.

        Tokens stay valid and stored files stay (use ``clear_files``).
        """
        self._faults.clear()
        self._faults.reseed()
        self._issuer.clear_log()
        self._api.records.clear()
        self._api.sessions.clear()
        self._api.store.clear_history()
        self.configure(**self._initial)
        self._stats.reset()
        self._api.in_flight.reset_max()

    # ----------------------------------------------------------------- what tests read

    @property
    def keys(self) -> list[str]:
        """Every accepted authorization key."""
        return self._issuer.keys

    @property
    def issued_tokens(self) -> list[str]:
        """Every access token issued so far."""
        return self._issuer.issued

    @property
    def oauth_log(self) -> list[dict[str, Any]]:
        """One entry per OAuth request handled: rquid, scope, content_type, accept, status."""
        return self._issuer.log

    @property
    def stats(self) -> dict[str, Any]:
        """A snapshot of the counters (response statuses keyed by int)."""
        snapshot = self._stats.snapshot()
        snapshot["in_flight"] = self._api.in_flight.current
        snapshot["max_in_flight"] = self._api.in_flight.max
        snapshot["faults_queued"] = self.faults_queued
        snapshot["files_stored"] = len(self._api.store.all())
        return snapshot

    @property
    def records(self) -> dict[str, Any]:
        """api_log, chat_log, chat_counts, session_ids, received_texts (see the properties)."""
        return self._api.records.snapshot()

    @property
    def api_log(self) -> list[dict[str, Any]]:
        """Per API request: method, path, status, request_id, session_id (as answered)."""
        return self.records["api_log"]

    @property
    def chat_log(self) -> list[dict[str, Any]]:
        """Per chat call: user_text, texts, model, stream, session_id, request_id, files, ..."""
        return self.records["chat_log"]

    @property
    def chat_counts(self) -> dict[str, int]:
        """Chat calls per distinct last-user-message text."""
        return self.records["chat_counts"]

    @property
    def session_ids(self) -> list[str]:
        """The X-Session-ID values chat calls sent, in order (calls without one left out)."""
        return self.records["session_ids"]

    @property
    def received_texts(self) -> list[str]:
        """Every text received: chat message contents, embeddings and tokens/count inputs."""
        return self.records["received_texts"]

    @property
    def files(self) -> list[dict[str, Any]]:
        """The stored files: id, filename, bytes, content_type, modality, sha256, first_line..."""
        return [stored.info() for stored in self._api.store.all()]

    def file_content(self, file_id: str) -> bytes:
        """The bytes of a stored file (KeyError when unknown)."""
        for stored in self._api.store.all():
            if stored.id == file_id:
                return stored.data
        raise KeyError(file_id)

    @property
    def uploads(self) -> list[dict[str, Any]]:
        """Every successful upload so far (deleted ones too), as in ``files``; reset() clears it."""
        return self._api.store.history

    def clear_files(self) -> None:
        """Empty the file storage."""
        self._api.store.clear()

    def wait_stat(self, name: str, at_least: int = 1, timeout: float = 10.0) -> bool:
        """Block until counter ``name`` (e.g. ``streams_aborted``) reaches ``at_least``."""
        return self._stats.wait(name, at_least, timeout)

    @property
    def stopping(self) -> bool:
        """True once stop() has begun."""
        return self._stopping.is_set()

    # ----------------------------------------------------------------- request processing

    def process(self, request: Request) -> Reply:
        """Answer one request; never raises."""
        try:
            reply = self._process(request)
        except HttpError as exc:
            reply = exc.reply()
        except ClientGone:
            reply = Reply(0, drop=True)
        except Exception:  # an emulator bug must not reach the client as a traceback
            reply = HttpError.api(500).reply()
        if request.path.startswith(API_PREFIX):
            entry = {"method": request.method, "path": request.path, "status": reply.status}
            self._api.records.api(
                {**entry, "request_id": request.request_id, "session_id": request.session_id}
            )
        return reply

    def _process(self, request: Request) -> Reply:
        route = self._find_route(request.path)
        if route is None:
            raise HttpError.api(404, f"Not found: {request.path}")
        handler = route.handlers.get(request.method)
        if handler is None:
            raise HttpError.api(405, "Method not allowed", Allow=", ".join(sorted(route.handlers)))
        self._stats.route(route.name)
        self._stats.incr(
            {"oauth": "oauth_requests", "api": "api_requests"}.get(route.kind, "control_requests")
        )
        if route.kind != "control":
            fault = self._faults.take(request.path, random_allowed=route.kind == "api")
            if fault is not None:
                self._stats.incr("faults_fired")
                reply = transport_reply(fault, request.path, self._stopping)
                if reply is not None:
                    return reply
        return handler(request)

    def _find_route(self, path: str) -> Route | None:
        return self._routes.get(path) or self._routes.get(api_route_name(path))

    def _build_routes(self) -> dict[str, Route]:
        routes = {OAUTH_PATH: Route(OAUTH_PATH, "oauth", {"POST": self._oauth})}
        routes.update(self._api.routes())
        for path, handlers in control_routes(self).items():
            routes[path] = Route(path, "control", handlers)
        return routes

    def _oauth(self, request: Request) -> Reply:
        reply = self._issuer.handle(request)
        self._stats.incr("tokens_issued")
        return reply
