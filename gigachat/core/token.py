"""The access token: OAuth, single-flight refresh, a refresh timer thread, observable state."""

from __future__ import annotations

import contextlib
import email.utils
import enum
import hashlib
import logging
import random
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass

import requests

from gigachat.core.errors import (
    BridgeError,
    GigaChatError,
    MalformedKey,
    NetworkError,
    NoCredentials,
    OAuthRejected,
    RateLimited,
    ScopeMismatch,
    ServerError,
    TLSError,
    UpstreamTimeout,
    WrongKey,
)

log = logging.getLogger(__name__)

OAUTH_TIMEOUT = (10.0, 30.0)  # connect, read
TRANSIENT_BACKOFF_CAP = 60.0
PERMANENT_RETRY = 120.0  # a rejected key is retried at most this often, unless it changes
PERMANENT_RETRY_CAP = 900.0
MIN_REFRESH_INTERVAL = 1.0  # the timer never refreshes more often than this


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


def _server_lifetime(expires_at_ms: float, date_header: str | None, now: float) -> float:
    """Seconds the token lives, measured on the server's clock so a wrong PC clock doesn't matter."""
    expires_at = expires_at_ms / 1000.0 if expires_at_ms > 1e11 else float(expires_at_ms)
    server_now = now
    if date_header:
        # Date has 1 s resolution: assume the latest moment it can stand for.
        with contextlib.suppress(TypeError, ValueError):
            server_now = email.utils.parsedate_to_datetime(date_header).timestamp() + 1.0
    return expires_at - server_now


def _oauth_error(response: requests.Response) -> GigaChatError:
    """Classify a failed OAuth answer."""
    try:
        body = response.json()
    except ValueError:
        body = {}
    code = body.get("code") if isinstance(body, dict) else None
    detail = str(body.get("message", "")) if isinstance(body, dict) else ""
    status = response.status_code
    if code == 6 or (status == 401 and code is None):
        return WrongKey(detail, status=status)
    if code == 7:
        return ScopeMismatch(detail, status=status)
    if code == 4:
        return MalformedKey(detail, status=status)
    if status == 429:
        return RateLimited(detail, status=status)
    if status >= 500:
        return ServerError(detail, status=status)
    return OAuthRejected(detail, status=status)


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
        with self._cond:
            while True:
                if self._usable():
                    return self._token  # type: ignore[return-value]
                if self._stopping.is_set():
                    raise NetworkError(message="Мост останавливается.")
                if not self._refreshing:
                    break
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    raise UpstreamTimeout(message="Не дождались токена доступа ГигаЧат.")
                self._cond.wait(remaining)
            self._raise_if_backing_off()
            self._refreshing = True
        return self._refresh()

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

    def _raise_if_backing_off(self) -> None:
        """Inside the lock: re-raise the last error instead of hammering OAuth."""
        if self._error is None or self._clock() >= self._retry_at:
            return
        if self._failed_key is not None or self._no_credentials:
            key = self._read_key_quietly()
            if key and _fingerprint(key) != self._failed_key:
                return  # the user entered a new key: try it at once
        raise self._error

    def _read_key_quietly(self) -> str | None:
        try:
            return self._key_provider()
        except BridgeError:
            return None

    def _refresh(self) -> str:
        """Do one OAuth request; called with `_refreshing` set by the caller."""
        self._publish()
        with self._cond:
            generation = self._generation
        key: str | None = None
        try:
            key = self._key_provider()
            if not key:
                raise NoCredentials()
            token, expires_at = self._fetch(key)
        except BridgeError as error:
            self._fail(error, key, generation)
            raise
        except Exception as error:  # never let a bug kill the timer or leak a traceback
            log.exception("unexpected error while fetching a token")
            wrapped = ServerError(type(error).__name__)
            self._fail(wrapped, None, generation)
            raise wrapped from None
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
        now = self._clock()
        permanent = isinstance(error, WrongKey | ScopeMismatch | MalformedKey | OAuthRejected)
        if permanent or self._no_credentials:
            self._failed_key = _fingerprint(key) if key else None
            delay = min(PERMANENT_RETRY * 2 ** (self._failures - 1), PERMANENT_RETRY_CAP)
        else:
            self._failed_key = None
            delay = min(0.5 * 2 ** (self._failures - 1), TRANSIENT_BACKOFF_CAP)
            delay *= random.uniform(0.5, 1.0)
        self._retry_at = now + delay
        log.warning("token request failed (%s); next attempt in %.1f s", error.code, delay)

    def _fetch(self, key: str) -> tuple[str, float]:
        """POST the OAuth request; return the token and its local expiry time."""
        headers = {
            "Authorization": f"Basic {key}",
            "RqUID": str(uuid.uuid4()),
            "Content-Type": "application/x-www-form-urlencoded",
            "Accept": "application/json",
        }
        with self._cond:
            self.oauth_requests += 1
        try:
            response = self._session.post(
                self.auth_url, headers=headers, data={"scope": self.scope}, timeout=OAUTH_TIMEOUT
            )
        except requests.exceptions.SSLError as error:
            raise TLSError(type(error).__name__) from None
        except requests.exceptions.Timeout:
            raise UpstreamTimeout(
                message="Сервер авторизации ГигаЧат не ответил вовремя."
            ) from None
        except requests.exceptions.RequestException as error:
            raise NetworkError(type(error).__name__) from None
        if response.status_code != 200:
            raise _oauth_error(response)
        try:
            body = response.json()
            token = str(body["access_token"])
            lifetime = _server_lifetime(
                float(body["expires_at"]), response.headers.get("Date"), self._clock()
            )
        except (ValueError, KeyError, TypeError):
            raise ServerError(
                "bad oauth body", message="Сервер авторизации ГигаЧат прислал непонятный ответ."
            ) from None
        return token, self._clock() + max(lifetime, 0.0)

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
        for listener in list(self._listeners):
            try:
                listener(status)
            except Exception:
                log.exception("token status listener failed")

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
