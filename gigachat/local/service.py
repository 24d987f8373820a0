"""The running program without its face: bridge (core) + guarded app + local HTTP server.

It is also the desktop's façade: the tray reads one `Snapshot` and calls a few named actions
(`refresh_token`, `check_connection`, `chat_models`, `check_key`, `save_key`, `apply_settings`,
`update_balance`, `job_action`; `add_job_listener` for finished and paused jobs), and never
reaches into the bridge, the token manager or the client.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gigachat.core.bridge import Bridge, create_bridge
from gigachat.core.client import LastError
from gigachat.core.credentials import CredentialStore, normalize_key
from gigachat.core.errors import BridgeError, PermissionDenied
from gigachat.core.listeners import notify
from gigachat.core.settings import Settings, load_settings, save_settings
from gigachat.core.token import TokenState, TokenStatus
from gigachat.local import multiuser
from gigachat.local.guards import Guards
from gigachat.local.http_server import LocalServer, check_bind
from gigachat.local.jobs import Job, JobRunner, open_jobs
from gigachat.local.routes import create_app

log = logging.getLogger(__name__)

KEY_CHECK_TIMEOUT = 40.0  # seconds for «Проверить» / «Сохранить» to get a token with a new key

Balance = tuple[tuple[str, int], ...]  # (usage name, tokens left)
ChangeListener = Callable[[], None]


@dataclass(frozen=True)
class Snapshot:
    """Everything the tray shows, read at one moment. Holds no secret."""

    running: bool = False  # the local server is up
    demo: bool = False
    url: str = ""  # the address for 1C ("" when not running)
    port: int = 8000
    model: str = "GigaChat"  # the configured model
    model_notice: str | None = None  # Russian: the configured model was replaced by another
    token: TokenStatus = field(default_factory=lambda: TokenStatus(TokenState.REFRESHING))
    queue_length: int = 0
    in_flight: int = 0
    requests_today: int = 0
    tokens_today: int = 0
    last_error: LastError | None = None  # the latest failed GigaChat call
    balance: Balance | None = None  # from the last update_balance(); None if unknown
    active_jobs: tuple[Job, ...] = ()  # queued, running and paused jobs, oldest first (no texts)


@dataclass
class Service:
    """Start and stop everything the 1C client talks to, in the right order."""

    settings: Settings
    demo: bool = False
    credentials: CredentialStore | None = None
    jobs_dir: str | Path | None = None  # the jobs database's folder; None: the per-user data dir
    bridge: Bridge | None = field(default=None, init=False)
    server: LocalServer | None = field(default=None, init=False)
    jobs: JobRunner | None = field(default=None, init=False, repr=False)  # None: no database
    api_key: str | None = field(default=None, init=False, repr=False)
    emulator: Any = field(default=None, init=False, repr=False)  # demo only: the running Emulator
    multi_user: bool = field(default=False, init=False)  # terminal server: own port, key, file
    connection_file: Path | None = field(default=None, init=False)  # multi-user mode only
    _listeners: list[ChangeListener] = field(default_factory=list, init=False, repr=False)
    _job_listeners: list[Callable] = field(default_factory=list, init=False, repr=False)
    _balance: Balance | None = field(default=None, init=False, repr=False)
    _balance_supported: bool = field(default=True, init=False, repr=False)
    _lock: Any = field(default_factory=threading.RLock, init=False, repr=False)

    @property
    def emulator_url(self) -> str | None:
        return self.emulator.base_url if self.emulator is not None else None

    @property
    def url(self) -> str:
        return self.server.url if self.server else ""

    @property
    def store(self) -> CredentialStore:
        if self.credentials is None:
            self.credentials = CredentialStore()
        return self.credentials

    # --- lifecycle -----------------------------------------------------------------

    def start(self) -> Service:
        """Raises ConfigError (bad bind address, busy port) or KeyringUnavailable."""
        if self.server is not None:
            return self
        settings = self.settings
        store = self.store
        self.multi_user = multiuser.enabled(settings.multi_user)
        if self.multi_user:  # this user's own port from the range; the local key always on
            settings = multiuser.user_settings(settings)
        if settings.api_key_enabled:
            self.api_key = store.local_api_key(create=True)
        check_bind(settings.host, settings.allow_remote, bool(self.api_key))
        bridge = self._create_bridge(settings, store)
        jobs, jobs_app = open_jobs(bridge, self.jobs_dir, demo=self.demo,
                                   retention_days=settings.jobs_retention_days)
        for listener in self._job_listeners if jobs is not None else ():
            jobs.add_listener(listener)
        app = create_app(bridge)
        app.merge(jobs_app)  # /jobs: its routes join the local app (hooks, error answers)
        guarded = Guards(
            app,
            max_body_bytes=settings.max_body_bytes,
            max_files_body_bytes=settings.max_files_body_bytes,
            allowed_origins=list(settings.allowed_origins),
            api_key=lambda: self.api_key,
            extra_hosts=[] if settings.host in ("0.0.0.0", "::") else [settings.host],
            log_bodies=settings.log_bodies,
        )
        server = LocalServer(guarded, settings.host, settings.port, threads=settings.server_threads)
        try:
            server.start()
        except BridgeError:
            if jobs is not None:
                jobs.close()
            bridge.stop()
            self.emulator = None
            raise
        bridge.tokens.add_listener(self._token_changed)
        with self._lock:
            self.bridge, self.server, self.jobs = bridge, server, jobs
        if self.multi_user:
            self._publish(server)
        bridge.start()
        if jobs is not None:
            jobs.start()
        return self

    def _publish(self, server: LocalServer) -> None:
        """Multi-user mode: the connection file (port, key) for this user's 1C."""
        try:
            self.connection_file = multiuser.publish(server.port, self.api_key or "", server.url)
        except OSError as error:
            log.error("connection file not written: %s", error)

    def _create_bridge(self, settings: Settings, store: CredentialStore) -> Bridge:
        if not self.demo:
            return create_bridge(settings, store.get_key)
        from gigachat.emulator import DEMO_KEY, Emulator

        # The default host's catalogue (the GigaChat-2 family), as a real new user meets it.
        emulator = Emulator(host="127.0.0.1", port=0, catalogue="new").start()
        settings = settings.with_changes(auth_url=emulator.oauth_url, api_url=emulator.api_url)
        self.emulator = emulator
        log.info("demo mode: using the built-in GigaChat emulator at %s", emulator.base_url)
        return create_bridge(settings, lambda: DEMO_KEY, demo=True, on_stop=emulator.stop)

    def stop(self) -> None:
        """Graceful: the server lets in-flight requests finish, then the core stops."""
        with self._lock:
            bridge, server, jobs = self.bridge, self.server, self.jobs
            self.bridge, self.server, self.jobs = None, None, None
        if server is not None:
            server.stop()
        if self.connection_file is not None:
            multiuser.remove_connection(self.connection_file)
            self.connection_file = None
        if jobs is not None:
            jobs.close()
        if bridge is not None:
            bridge.tokens.remove_listener(self._token_changed)
            bridge.stop()
        self.emulator = None

    @property
    def running(self) -> bool:
        return self.server is not None

    # --- observing -----------------------------------------------------------------

    def add_listener(self, listener: ChangeListener) -> None:
        """`listener()` runs when the token state changes (in the refreshing thread: be quick)."""
        self._listeners.append(listener)

    def remove_listener(self, listener: ChangeListener) -> None:
        if listener in self._listeners:
            self._listeners.remove(listener)

    def add_job_listener(self, listener: Callable) -> None:
        """`listener(JobEvent)` when a job is queued, finished, paused, resumed or cancelled
        (kept across restarts; runs in a jobs worker thread: be quick)."""
        self._job_listeners.append(listener)
        if self.jobs is not None:
            self.jobs.add_listener(listener)

    def remove_job_listener(self, listener: Callable) -> None:
        if listener in self._job_listeners:
            self._job_listeners.remove(listener)
        if self.jobs is not None:
            self.jobs.remove_listener(listener)

    def _token_changed(self, _status: TokenStatus) -> None:
        notify(self._listeners, what="service")

    def snapshot(self) -> Snapshot:
        """The current state in one frozen value (cheap: no network, no keyring)."""
        with self._lock:
            bridge, server = self.bridge, self.server
        base = Snapshot(demo=self.demo, port=self.settings.port, model=self.settings.model,
                        balance=self._balance)
        if bridge is None or server is None:
            return base
        client = bridge.client
        usage = client.usage
        today = usage.day == time.strftime("%Y-%m-%d")
        return Snapshot(
            running=True, demo=self.demo, url=server.url, port=server.port, model=self.settings.model,
            model_notice=client.model_notice,
            token=bridge.tokens.status, queue_length=client.queue_length, in_flight=client.in_flight,
            requests_today=usage.requests if today else 0, tokens_today=usage.tokens if today else 0,
            last_error=client.last_error, balance=self._balance, active_jobs=self._active_jobs())

    def _active_jobs(self) -> tuple[Job, ...]:
        jobs = self.jobs
        if jobs is None:
            return ()
        try:
            return tuple(jobs.active())
        except Exception:  # a closed or broken database must not break the tray's poll
            log.warning("active jobs unavailable", exc_info=True)
            return ()

    def job_action(self, action: str, job_id: str) -> bool:
        """The tray's «Пауза», «Продолжить», «Отменить» on a job ("pause", "resume", "cancel");
        False when there is no such job or no jobs database."""
        jobs = self.jobs
        if jobs is None or action not in ("pause", "resume", "cancel"):
            return False
        return getattr(jobs, action)(job_id) is not None

    def has_key(self) -> bool:
        """Whether the bridge has a key to work with (the demo always has one)."""
        if self.demo:
            return True
        try:
            return self.store.get_key() is not None
        except BridgeError:
            return False

    # --- actions -------------------------------------------------------------------

    def _running_bridge(self) -> Bridge:
        bridge = self.bridge
        if bridge is None:
            raise BridgeError("Мост не запущен.", code="not_running")
        return bridge

    def refresh_token(self) -> None:
        """«Обновить токен сейчас» (blocking; the outcome is in the snapshot's token)."""
        bridge = self.bridge
        if bridge is not None:
            bridge.tokens.refresh_now()

    def chat_models(self) -> list[str]:
        """Names of the chat models GigaChat offers this key (cached briefly); raises BridgeError."""
        return self._running_bridge().client.chat_models()

    def check_connection(self) -> int:
        """«Проверить подключение»: a real /models call; the number of chat models, or BridgeError."""
        body = self._running_bridge().client.models()
        entries = body.get("data", []) if isinstance(body, dict) else []
        return sum(1 for m in entries if isinstance(m, dict) and m.get("type", "chat") == "chat")

    def update_balance(self) -> Balance | None:
        """Ask GigaChat for the balance (with a valid token only); the result goes to the snapshot."""
        bridge = self.bridge
        if bridge is None or not self._balance_supported \
                or bridge.tokens.status.state is not TokenState.VALID:
            return self._balance
        try:
            body = bridge.client.balance()
        except PermissionDenied:  # pay-as-you-go accounts have no /balance
            self._balance_supported = False
            return None
        except BridgeError as error:
            log.info("balance unavailable: %s", error.code)
            return self._balance
        entries = body.get("balance") if isinstance(body, dict) else None
        if isinstance(entries, list):
            self._balance = tuple((str(e.get("usage")), int(e.get("value") or 0))
                                  for e in entries if isinstance(e, dict))
        return self._balance

    def check_key(self, key: str, scope: str | None = None) -> None:
        """Get a token with this key from a throwaway bridge (nothing is saved).

        Raises BridgeError with the Russian reason when GigaChat does not accept it."""
        key = normalize_key(key)
        bridge = self.bridge
        settings = bridge.settings if bridge is not None else self.settings
        probe = create_bridge(settings.with_changes(scope=scope or settings.scope), lambda: key)
        try:
            probe.tokens.get_token(timeout=KEY_CHECK_TIMEOUT)
        finally:
            probe.stop()

    def save_key(self, key: str, scope: str | None = None, *, verify: bool = True) -> None:
        """Check the key with GigaChat (unless verify=False), store it, and use it at once.

        A scope other than the current one is not applied here: call apply_settings(scope=…)."""
        key = normalize_key(key)
        if verify:
            self.check_key(key, scope)
        self.store.save_key(key)
        bridge, jobs = self.bridge, self.jobs
        if bridge is not None:
            bridge.tokens.credentials_changed()
        if jobs is not None:
            jobs.credentials_changed()  # jobs paused over the old key (or its quota) continue

    def apply_settings(self, settings_path: Path | None = None, **changes: Any) -> None:
        """Write the changes to the settings file and restart with them.

        Raises the restart's BridgeError (e.g. a busy port): the service is then stopped."""
        saved = load_settings(environ={}, path=settings_path).with_changes(**changes)
        save_settings(saved, settings_path)
        self.settings = self.settings.with_changes(**changes)
        log.info("settings changed (%s); restarting the service", ", ".join(sorted(changes)))
        self.stop()
        self.start()
