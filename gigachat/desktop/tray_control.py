"""The tray's brain, without any GUI: runs the service, watches its state, performs menu actions.

It only reads public state (token listener, client counters) and calls public methods; the
pystray icon (tray.py) and the tkinter windows (dialogs.py) are thin views over it.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path

from gigachat.core.credentials import CredentialStore, normalize_key
from gigachat.core.errors import BridgeError, PermissionDenied
from gigachat.core.logs import log_dir
from gigachat.core.settings import Settings, load_settings, save_settings
from gigachat.core.tls import make_session
from gigachat.core.token import TokenManager, TokenState, TokenStatus
from gigachat.desktop import autostart
from gigachat.desktop.tray_state import ACCOUNT_ERRORS, Appearance, TrayState, appearance, notices
from gigachat.local.service import Service

log = logging.getLogger(__name__)

POLL_INTERVAL = 1.0  # queue length and usage
BALANCE_INTERVAL = 600.0
KEY_CHECK_TIMEOUT = 40.0

Listener = Callable[[Appearance], None]


class TrayController:
    """Owns the running Service for the tray; every background thread is named and stoppable."""

    def __init__(self, settings: Settings, *, demo: bool = False, store: CredentialStore | None = None,
                 notify: Callable[[str, str], None] | None = None, autostart_layer=None,
                 settings_path: Path | None = None) -> None:
        self.settings = settings
        self.demo = demo
        self.store = store or CredentialStore()
        self.notify = notify or (lambda title, message: None)
        self.autostart_layer = autostart_layer
        self.settings_path = settings_path
        self.service: Service | None = None
        self.start_error: BridgeError | None = None
        self._listeners: list[Listener] = []
        self._lock = threading.RLock()
        self._state: TrayState | None = None
        self._settled: TrayState | None = None
        self._worked = False
        self._balance: tuple[tuple[str, int], ...] | None = None
        self._balance_at = 0.0
        self._balance_supported = True
        self._account_error: tuple[str, str, float, int] | None = None  # code, message, at, requests
        self._stopping = threading.Event()
        self._wake = threading.Event()  # the token changed: update the tray now
        self._poller: threading.Thread | None = None
        self._workers: list[threading.Thread] = []
        self.quitting = threading.Event()

    # --- lifecycle -------------------------------------------------------------

    def start(self) -> TrayController:
        """Start the service (a failure such as a busy port is shown, not raised) and the poller."""
        self._start_service()
        self._poller = threading.Thread(target=self._poll, name="gigachat-tray-poll", daemon=True)
        self._poller.start()
        return self

    def _start_service(self) -> None:
        service = Service(self.settings, demo=self.demo, credentials=self.store)
        try:
            service.start()
        except BridgeError as error:
            log.warning("service did not start: %s", error.code)
            with self._lock:
                self.service, self.start_error = None, error
            self.refresh()
            return
        with self._lock:
            self.service, self.start_error = service, None
        service.bridge.tokens.add_listener(self._on_token)
        self._wake.set()

    def _stop_service(self) -> None:
        with self._lock:
            service, self.service = self.service, None
        if service is not None:
            service.bridge.tokens.remove_listener(self._on_token)
            service.stop()

    def stop(self) -> None:
        """Stop the poller, the workers and the service (in-flight requests finish first)."""
        self._stopping.set()
        self._wake.set()
        if self._poller is not None:
            self._poller.join(5)
        self._stop_service()
        for worker in list(self._workers):
            worker.join(5)

    def quit(self) -> None:
        """«Выход»: stop everything; the icon's owner waits on `quitting` and removes the icon."""
        self.stop()
        self.quitting.set()

    # --- observing ---------------------------------------------------------------

    def add_listener(self, listener: Listener) -> None:
        self._listeners.append(listener)

    @property
    def state(self) -> TrayState:
        with self._lock:
            return self._state or self._collect()

    @property
    def appearance(self) -> Appearance:
        return appearance(self.state)

    @property
    def url(self) -> str:
        service = self.service
        return service.url if service else ""

    @property
    def has_key(self) -> bool:
        try:
            return self.store.get_key() is not None
        except BridgeError:
            return False

    def _on_token(self, status: TokenStatus) -> None:
        # Called in whatever thread refreshed the token (maybe a 1C request): never block it.
        self._wake.set()

    def _collect(self) -> TrayState:
        """Gather the current state from the service's public attributes."""
        service = self.service
        error = self.start_error
        base = TrayState(demo=self.demo, port=self.settings.port, model=self.settings.model,
                         autostart=self._autostart_enabled(), balance=self._balance)
        if service is None:
            return dataclasses.replace(
                base, token=TokenStatus(TokenState.ERROR) if error else TokenStatus(TokenState.REFRESHING),
                start_error_code=error.code if error else None,
                start_error=error.message if error else None)
        client = service.bridge.client
        usage = client.usage
        today = usage.day == time.strftime("%Y-%m-%d")
        requests_today = usage.requests if today else 0
        account = self._track_account_error(client.last_error, usage.requests)
        return dataclasses.replace(
            base, token=service.bridge.tokens.status, url=service.url,
            port=service.server.port if service.server else self.settings.port,
            queue_length=client.queue_length, requests_today=requests_today,
            tokens_today=usage.tokens if today else 0,
            api_error_code=account[0] if account else None,
            api_error=account[1] if account else None)

    def _track_account_error(self, last, requests: int) -> tuple[str, str, float, int] | None:
        """A 402/403 stays on until a later request succeeds (the usage counter moves)."""
        current = self._account_error
        if last is not None and last.code in ACCOUNT_ERRORS and (current is None or last.at > current[2]):
            current = (last.code, last.message, last.at, requests)
        if current is not None and requests > current[3]:
            current = None
        self._account_error = current
        return current

    def _autostart_enabled(self) -> bool:
        try:
            return autostart.is_enabled(self.autostart_layer)
        except OSError:
            return False

    def refresh(self) -> Appearance:
        """Recompute the state; tell listeners and send notifications when it changed."""
        with self._lock:
            before, after = self._state, self._collect()
            changed = after != before
            self._state = after
            # Notifications compare with the last settled state: yellow (getting a token,
            # a queue) is in between, so green → yellow → red still counts as a new error.
            found = notices(self._settled, after, self._worked) if changed else []
            if changed and appearance(after).color != "yellow":
                self._settled = after
            if after.token.state is TokenState.VALID and not after.start_error_code:
                self._worked = True
        shown = appearance(after)
        if changed:
            for listener in list(self._listeners):
                try:
                    listener(shown)
                except Exception:
                    log.exception("tray listener failed")
        for notice in found:
            self.notify(notice.title, notice.message)
        return shown

    def _poll(self) -> None:
        while not self._stopping.is_set():
            self._wake.wait(POLL_INTERVAL)
            self._wake.clear()
            if self._stopping.is_set():
                return
            try:
                self._maybe_fetch_balance()
                self.refresh()
            except Exception:
                log.exception("tray status poll failed")

    def _maybe_fetch_balance(self) -> None:
        service = self.service
        if (service is None or not self._balance_supported
                or time.monotonic() - self._balance_at < BALANCE_INTERVAL
                or service.bridge.tokens.status.state is not TokenState.VALID):
            return
        self._balance_at = time.monotonic()
        try:
            body = service.bridge.client.balance()
        except PermissionDenied:  # pay-as-you-go accounts have no /balance
            self._balance_supported = False
            return
        except BridgeError as error:
            log.info("balance unavailable: %s", error.code)
            return
        entries = body.get("balance") if isinstance(body, dict) else None
        if isinstance(entries, list):
            self._balance = tuple((str(e.get("usage")), int(e.get("value") or 0))
                                  for e in entries if isinstance(e, dict))

    # --- actions (menu items and status window buttons) -------------------------

    def in_background(self, name: str, work: Callable[[], None]) -> threading.Thread:
        """Run a slow action off the GUI thread, in a named thread that stop() waits for."""
        def run() -> None:
            try:
                work()
            except Exception:
                log.exception("action %s failed", name)
        self._workers = [w for w in self._workers if w.is_alive()]
        thread = threading.Thread(target=run, name=f"gigachat-{name}", daemon=True)
        self._workers.append(thread)
        thread.start()
        return thread

    def refresh_token_now(self) -> None:
        """«Обновить токен сейчас» (blocking; errors end up in the token status)."""
        service = self.service
        if service is not None:
            service.bridge.tokens.refresh_now()
        self.refresh()

    def check_connection(self) -> None:
        """«Проверить подключение»: a real models call, answered with a notification."""
        service = self.service
        if service is None:
            self.notify("Проверка подключения", self.appearance.error_message or "Мост не запущен.")
            return
        try:
            models = service.bridge.client.models()
        except BridgeError as error:
            self.notify("Проверка подключения: ошибка", error.message)
        else:
            count = len(models.get("data", [])) if isinstance(models, dict) else 0
            self.notify("Проверка подключения", f"ГигаЧат отвечает, доступно моделей: {count}.")
        self.refresh()

    def check_key(self, key: str, scope: str) -> None:
        """«Проверить» in the key dialog: get a token with this key from a throwaway manager.

        Raises BridgeError with the Russian reason when GigaChat does not accept it."""
        key = normalize_key(key)
        service = self.service
        settings = service.bridge.settings if service is not None else self.settings
        session = make_session(ca_bundle=settings.ca_bundle, verify=settings.verify_tls, pool_size=1)
        try:
            TokenManager(settings.auth_url, scope, lambda: key, session).get_token(
                timeout=KEY_CHECK_TIMEOUT)
        finally:
            session.close()

    def save_key(self, key: str, scope: str | None = None) -> None:
        """«Сохранить» in the key dialog: to the keyring, then the bridge uses it at once."""
        self.store.save_key(key)
        if scope and scope != self.settings.scope:
            self.apply_settings(scope=scope)
            return
        service = self.service
        if service is not None:
            service.bridge.tokens.credentials_changed()
        self.refresh()

    def apply_settings(self, **changes) -> None:
        """«Настройки…» → Сохранить: write the settings file and restart the service."""
        saved = load_settings(environ={}, path=self.settings_path).with_changes(**changes)
        save_settings(saved, self.settings_path)
        self.settings = self.settings.with_changes(**changes)
        log.info("settings changed (%s); restarting the service", ", ".join(sorted(changes)))
        self._stop_service()
        self._start_service()

    def available_models(self) -> list[str]:
        """Chat model names from GigaChat (for the settings dialog); the current one if offline."""
        service = self.service
        names: list[str] = []
        if service is not None:
            with contextlib.suppress(BridgeError):
                body = service.bridge.client.models()
                names = [str(m.get("id")) for m in body.get("data", [])
                         if isinstance(m, dict) and m.get("type", "chat") == "chat"]
        if self.settings.model not in names:
            names.insert(0, self.settings.model)
        return names

    def local_api_key(self) -> str | None:
        service = self.service
        return service.api_key if service else None

    def set_autostart(self, enabled: bool) -> None:
        """«Запускать при входе в систему»."""
        try:
            autostart.set_enabled(enabled, self.autostart_layer)
        except OSError as error:
            self.notify("Автозапуск", f"Не удалось изменить автозапуск: {error}")
        self.refresh()

    @staticmethod
    def log_file() -> Path:
        return log_dir() / "bridge.log"
