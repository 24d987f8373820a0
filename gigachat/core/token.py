"""The access token: OAuth, single-flight refresh, a refresh timer thread, observable state."""

from __future__ import annotations

import contextlib
import enum
import hashlib
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import requests

from gigachat.core.errors import (
    BridgeError,
    GigaChatError,
    NetworkError,
    NoCredentials,
    UpstreamTimeout,
)
from gigachat.core.listeners import notify
from gigachat.core.oauth import PERMANENT_ERRORS, request_token
from gigachat.core.transport import backoff_delay, describe

log = logging.getLogger(__name__)

PERMANENT_RETRY = 120.0  # a rejected key is retried at most this often, unless it changes
PERMANENT_RETRY_CAP = 900.0
MIN_REFRESH_INTERVAL = 1.0  # the timer never refreshes more often than this
INTERNAL_MESSAGE = "Внутренняя ошибка моста при получении токена ГигаЧат; подробности в журнале."


class TokenState(enum.StrEnum):
    NO_CREDENTIALS = "no_credentials"
    REFRESHING = "refreshing"
    VALID = "valid"
    ERROR = "error"


@dataclass(frozen=True)
class TokenStatus:
    """What the tray and /health show. Never holds the token itself."""

    state: TokenState
    expires_at: float | None = None  # unix seconds, local clock
    error: str | None = None  # Russian, safe to show
    error_code: str | None = None


KeyProvider = Callable[[], "str | None"]
Listener = Callable[[TokenStatus], None]


def _fingerprint(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


class TokenManager:
    """Keeps one access token fresh; any number of callers share one OAuth request."""

    def __init__(
        self,
        auth_url: str,
        scope: str,
        key_provider: KeyProvider,
        session: requests.Session,
        *,
        refresh_margin: float = 300.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.auth_url = auth_url
        self.scope = scope
        self.refresh_margin = refresh_margin
        self._key_provider = key_provider
        self._session = session
        self._clock = clock
        self._cond = threading.Condition()
        self._token: str | None = None
        self._expires_at = 0.0
        self._lifetime = 0.0  # seconds the current token was issued for
        self._refreshed_at = 0.0
        self._generation = 0  # bumped by credentials_changed()
        self._refreshing = False
        self._error: BridgeError | None = None
        self._failed_key: str | None = None  # fingerprint of a key GigaChat rejected
        self._failures = 0
        self._retry_at = 0.0
        self._no_credentials = False
        self._status = TokenStatus(TokenState.REFRESHING)
        self._listeners: list[Listener] = []
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self.oauth_requests = 0

    # --- public API -----------------------------------------------------------

    @property
    def status(self) -> TokenStatus:
        return self._status

    def add_listener(self, listener: Listener) -> None:
        self._listeners.append(listener)

    def remove_listener(self, listener: Listener) -> None:
        if listener in self._listeners:
            self._listeners.remove(listener)

    def start(self) -> None:
        """Start the refresh timer thread (it fetches the first token at once)."""
        if self._thread and self._thread.is_alive():
            return
        self._stopping.clear()
        self._thread = threading.Thread(
            target=self._run_timer, name="gigachat-token-refresh", daemon=True
        )
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the timer thread and wake every waiter."""
        self._stopping.set()
        self._wake.set()
        with self._cond:
            self._cond.notify_all()
        if self._thread and self._thread is not threading.current_thread():
            self._thread.join(timeout)
        self._thread = None

    def get_token(self, timeout: float | None = None) -> str:
        """A usable access token; blocks while another caller's refresh is in flight."""
        deadline = None if timeout is None else time.monotonic() + timeout
        key: str | None = None  # read outside the lock when a rejected key may have changed
        while True:
            with self._cond:
                self._wait_for_refresh(deadline)
                if self._usable():
                    return self._token  # type: ignore[return-value]
                error = self._backoff_error()
                if error is None or key is not None:
                    self._refreshing = True
                    break
                if self._failed_key is None and not self._no_credentials:
                    raise error  # a transient failure: wait out its backoff
                rejected = self._failed_key
            # The keyring may be a slow D-Bus call: never hold the lock across it.
            key = self._read_key_quietly()
            if not key or _fingerprint(key) == rejected:
                raise error
        return self._refresh(key)

    def _wait_for_refresh(self, deadline: float | None) -> None:
        """Inside the lock: wait until no refresh is in flight or a token is usable."""
        while not self._usable():
            if self._stopping.is_set():
                raise NetworkError(message="Мост останавливается.")
            if not self._refreshing:
                return
            remaining = None if deadline is None else deadline - time.monotonic()
            if remaining is not None and remaining <= 0:
                raise UpstreamTimeout(message="Не дождались токена доступа ГигаЧат.")
            self._cond.wait(remaining)

    def invalidate(self, token: str) -> None:
        """Drop `token` (GigaChat answered 401 to it); a newer token is kept."""
        with self._cond:
            if self._token == token:
                self._token = None
                self._expires_at = 0.0
                self._retry_at = 0.0

    def refresh_now(self) -> None:
        """Fetch a new token now (tray menu, new key saved); errors end up in `status`."""
        with self._cond:
            self._retry_at = 0.0
            self._failed_key = None
            if self._refreshing:
                return
            self._refreshing = True
        with contextlib.suppress(BridgeError):
            self._refresh()

    def credentials_changed(self) -> None:
        """A new key was saved: forget the old token and fetch a new one on the timer thread."""
        with self._cond:
            self._token = None
            self._expires_at = 0.0
            self._retry_at = 0.0
            self._failed_key = None
            self._failures = 0
            self._generation += 1
        self._wake.set()

    # --- internals ----------------------------------------------------------

    def _margin(self) -> float:
        """How long before expiry the timer refreshes: the setting, but at most a third of
        the token's lifetime, so short-lived tokens don't make the timer spin."""
        if self._lifetime <= 0:
            return self.refresh_margin
        return min(self.refresh_margin, self._lifetime / 3)

    def _usable(self) -> bool:
        # Usable until shortly before expiry; the timer refreshes earlier (at the full margin),
        # so callers never wait for a scheduled refresh.
        safety = min(self._margin() / 2, 60.0)
        return self._token is not None and self._expires_at - self._clock() > safety

    def _backoff_error(self) -> BridgeError | None:
        """Inside the lock: the last error while its backoff lasts (None: try OAuth now).

        After a rejected key (or none), get_token reads the key outside the lock and tries
        at once if it changed; otherwise it re-raises instead of hammering OAuth.
        """
        if self._error is None or self._clock() >= self._retry_at:
            return None
        return self._error

    def _read_key_quietly(self) -> str | None:
        try:
            return self._key_provider()
        except BridgeError:
            return None

    def _refresh(self, key: str | None = None) -> str:
        """Do one OAuth request; called with `_refreshing` set by the caller.

        `key` is a key the caller has just read; otherwise it is read here, outside the lock.
        """
        self._publish()
        with self._cond:
            generation = self._generation
        try:
            key = key or self._key_provider()
            if not key:
                raise NoCredentials()
            with self._cond:
                self.oauth_requests += 1
            token, expires_at = request_token(self._session, self.auth_url, self.scope, key,
                                              self._clock)
        except BridgeError as error:
            self._fail(error, key, generation)
            raise
        except Exception:  # never let a bug kill the timer or leak a traceback
            log.exception("unexpected error while fetching a token")
            internal = BridgeError(INTERNAL_MESSAGE, code="internal")
            self._fail(internal, None, generation)
            raise internal from None
        with self._cond:
            self._token, self._expires_at = token, expires_at
            self._refreshed_at = self._clock()
            self._lifetime = expires_at - self._refreshed_at
            self._refreshing = False
            self._error = None
            self._failed_key = None
            self._failures = 0
            self._no_credentials = False
            self._cond.notify_all()
        log.info("access token received, valid for %.0f s", expires_at - self._clock())
        self._publish()
        self._wake.set()  # let the timer re-plan
        return token

    def _fail(self, error: BridgeError, key: str | None, generation: int) -> None:
        """End a failed refresh: record it, wake the waiters and the timer."""
        with self._cond:
            self._refreshing = False
            self._record_failure(error, key)
            if generation != self._generation:
                self._retry_at = 0.0  # a new key was saved meanwhile: try it at once
            self._cond.notify_all()
        self._publish()
        self._wake.set()

    def _record_failure(self, error: BridgeError, key: str | None) -> None:
        """Inside the lock: remember the error and when to try again."""
        self._error = error
        self._no_credentials = isinstance(error, NoCredentials)
        self._failures += 1
        if isinstance(error, PERMANENT_ERRORS) or self._no_credentials:
            self._failed_key = _fingerprint(key) if key else None
            delay = backoff_delay(self._failures, base=PERMANENT_RETRY, cap=PERMANENT_RETRY_CAP,
                                  jitter=False)
        else:
            self._failed_key = None
            delay = backoff_delay(self._failures)
        self._retry_at = self._clock() + delay
        what = describe(error) if isinstance(error, GigaChatError) else error.code
        log.warning("token request failed: %s; next attempt in %.1f s", what, delay)

    def _current_status(self) -> TokenStatus:
        with self._cond:
            if self._usable():
                return TokenStatus(TokenState.VALID, expires_at=self._expires_at)
            if self._refreshing:
                return TokenStatus(TokenState.REFRESHING)
            if self._no_credentials:
                return TokenStatus(
                    TokenState.NO_CREDENTIALS, error=self._error.message, error_code="no_credentials"
                )
            if self._error is not None:
                return TokenStatus(
                    TokenState.ERROR, error=self._error.message, error_code=self._error.code
                )
            return TokenStatus(TokenState.REFRESHING)

    def _publish(self) -> None:
        """Tell listeners when the observable state changed."""
        status = self._current_status()
        with self._cond:
            if status == self._status:
                return
            self._status = status
        notify(self._listeners, status, what="token status")

    def _next_wake(self) -> float:
        """Seconds until the timer should act."""
        with self._cond:
            now = self._clock()
            if self._error is not None and self._token is None:
                return max(self._retry_at - now, 0.0)
            if self._token is None:
                return 0.0
            due = self._expires_at - self._margin()
            due = max(due, self._refreshed_at + MIN_REFRESH_INTERVAL)
            if self._error is not None:
                due = max(due, self._retry_at)
            return max(due - now, 0.0)

    def _run_timer(self) -> None:
        while not self._stopping.is_set():
            delay = self._next_wake()
            if delay > 0:
                self._wake.wait(min(delay, 3600.0))
                self._wake.clear()
                self._publish()  # a token may have run out while we slept
                continue
            with self._cond:
                if self._refreshing or self._stopping.is_set():
                    busy = True
                else:
                    self._refreshing = True
                    busy = False
            if busy:
                self._wake.wait(0.5)
                self._wake.clear()
                continue
            with contextlib.suppress(BridgeError):
                self._refresh()
