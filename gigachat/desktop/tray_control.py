"""The tray's brain, without any GUI: runs the service, watches its state, performs menu actions.

It talks to the running program only through the façade `gigachat.local.service.Service`:
one `snapshot()` to read, a few named actions to call. The pystray icon (tray.py) and the
tkinter windows (dialogs.py) are thin views over it.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path

from gigachat.core.credentials import CredentialStore
from gigachat.core.errors import BridgeError
from gigachat.core.listeners import notify
from gigachat.core.logs import log_dir
from gigachat.core.settings import Settings
from gigachat.core.token import TokenState, TokenStatus
from gigachat.desktop import autostart
from gigachat.desktop.tray_state import (
    ACCOUNT_ERRORS,
    Appearance,
    JobLine,
    TrayState,
    appearance,
    model_notice,
    notices,
)
from gigachat.desktop.workers import Workers
from gigachat.local.service import Service, Snapshot

log = logging.getLogger(__name__)

POLL_INTERVAL = 1.0  # queue length and usage
BALANCE_INTERVAL = 600.0
WORKERS_JOIN = 2.0  # «Выход» waits this long for menu actions and dialog checks still running

Listener = Callable[[Appearance], None]


class TrayController:
    """Owns the Service for the tray; every background thread is named and stoppable."""

    def __init__(self, settings: Settings, *, demo: bool = False, store: CredentialStore | None = None,
                 notify: Callable[[str, str], None] | None = None, autostart_layer=None,
                 settings_path: Path | None = None, workers: Workers | None = None) -> None:
        self.demo = demo
        self.store = store or CredentialStore()
        self.notify = notify or (lambda title, message: None)
        self.autostart_layer = autostart_layer
        self.settings_path = settings_path
        self.workers = workers or Workers()
        self.service = Service(settings, demo=demo, credentials=self.store)
        self.service.add_listener(self._on_change)
        self.service.add_job_listener(self._on_job)
        self.start_error: BridgeError | None = None
        self._listeners: list[Listener] = []
        self._lock = threading.RLock()
        self._life = threading.Lock()  # start, restart and stop of the service, one at a time
        self._state: TrayState | None = None
        self._settled: TrayState | None = None
        self._worked = False
        self._model_notice: str | None = None  # the replaced-model notice already shown
        self._balance_at = 0.0
        self._account_error: tuple[str, str, float, int] | None = None  # code, message, at, requests
        self._stopping = threading.Event()
        self._stopped = False
        self._wake = threading.Event()  # the token changed: update the tray now
        self._poller: threading.Thread | None = None
        self.quitting = threading.Event()

    # --- lifecycle -------------------------------------------------------------

    def start(self) -> TrayController:
        """Start the service (a failure such as a busy port is shown, not raised) and the poller.

        A stop() that came first (SIGTERM during the start) wins: nothing is started."""
        with self._life:
            if self._stopping.is_set():
                return self
            self._start_service(self.service.start)
        self._poller = threading.Thread(target=self._poll, name="gigachat-tray-poll", daemon=True)
        self._poller.start()
        return self

    def _start_service(self, start: Callable[[], object]) -> None:
        try:
            start()
        except BridgeError as error:
            log.warning("service did not start: %s", error.code)
            self.start_error = error
            self.refresh()
            return
        self.start_error = None
        self._wake.set()

    def stop(self) -> None:
        """Stop the poller, the service (in-flight requests finish first) and wait for actions."""
        self._stopping.set()
        self._wake.set()
        if self._poller is not None:
            self._poller.join(5)
        with self._life:  # a start or restart in progress finishes first, then stops
            if self._stopped:
                return
            self._stopped = True
            self.service.stop()
            self.workers.join(WORKERS_JOIN)

    def quit(self) -> None:
        """«Выход»: stop everything; the icon's owner waits on `quitting` and removes the icon."""
        self.stop()
        self.quitting.set()

    # --- observing ---------------------------------------------------------------

    def add_listener(self, listener: Listener) -> None:
        self._listeners.append(listener)

    @property
    def settings(self) -> Settings:
        return self.service.settings

    @property
    def running(self) -> bool:
        return self.service.running

    @property
    def state(self) -> TrayState:
        with self._lock:
            return self._state or self._collect()

    @property
    def appearance(self) -> Appearance:
        return appearance(self.state)

    @property
    def url(self) -> str:
        return self.service.url

    @property
    def has_key(self) -> bool:
        return self.service.has_key()

    @property
    def jobs_running(self) -> bool:
        """Jobs are queued or running (paused ones wait for the user: they do not count)."""
        return any(job.state in ("queued", "running") for job in self.state.jobs)

    def _on_job(self, event) -> None:
        """A job finished or paused (in a jobs worker thread): a notification, then a refresh."""
        job = event.job
        if event.kind == "finished" and job.batch:
            failed = f", с ошибкой {job.failed}" if job.failed else ""
            self.notify("Пакет заданий выполнен",
                        f"Готово {job.done + job.failed} из {job.total}{failed}.")
        elif event.kind == "paused":
            reason = job.error or "Задание остановлено."
            self.notify("Задание ГигаЧат на паузе",
                        f"{reason} Когда причина устранена, нажмите «Продолжить» в меню моста.")
        self._wake.set()

    def job_action(self, action: str, job_id: str) -> None:
        """«Пауза», «Продолжить», «Отменить» for a job in the tray menu."""
        if not self.service.job_action(action, job_id):
            self.notify("Задания", "Задание уже завершено или недоступно.")
        self.refresh()

    def _on_change(self) -> None:
        # Called in whatever thread refreshed the token (maybe a 1C request): never block it.
        self._wake.set()

    def _collect(self) -> TrayState:
        """The tray's state from one service snapshot."""
        snap: Snapshot = self.service.snapshot()
        error = self.start_error
        base = TrayState(demo=snap.demo, port=snap.port, model=snap.model,
                         autostart=self._autostart_enabled(), balance=snap.balance)
        if not snap.running:
            return dataclasses.replace(
                base, token=TokenStatus(TokenState.ERROR) if error else TokenStatus(TokenState.REFRESHING),
                start_error_code=error.code if error else None,
                start_error=error.message if error else None)
        account = self._track_account_error(snap)
        return dataclasses.replace(
            base, token=snap.token, url=snap.url, queue_length=snap.queue_length,
            requests_today=snap.requests_today, tokens_today=snap.tokens_today,
            model_notice=snap.model_notice,
            jobs=tuple(JobLine(j.id, j.state, j.batch, j.done, j.failed, j.total, j.error)
                       for j in snap.active_jobs),
            api_error_code=account[0] if account else None,
            api_error=account[1] if account else None)

    def _track_account_error(self, snap: Snapshot) -> tuple[str, str, float, int] | None:
        """A 402/403 stays on until a later request succeeds (the usage counter moves)."""
        current, last, requests = self._account_error, snap.last_error, snap.requests_today
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
            replaced = model_notice(self._model_notice, after)
            if replaced is not None:
                self._model_notice = after.model_notice
                found.append(replaced)
        shown = appearance(after)
        if changed:
            notify(self._listeners, shown, what="tray")
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
                if time.monotonic() - self._balance_at >= BALANCE_INTERVAL and self.running \
                        and self.service.snapshot().token.state is TokenState.VALID:
                    self._balance_at = time.monotonic()
                    self.service.update_balance()
                self.refresh()
            except Exception:
                log.exception("tray status poll failed")

    # --- actions (menu items, status window buttons, dialogs) --------------------

    def in_background(self, name: str, work: Callable[[], None]) -> threading.Thread:
        """Run a slow action off the GUI thread, in a named thread that stop() waits for."""
        return self.workers.start(name, work)

    def refresh_token_now(self) -> None:
        """«Обновить токен сейчас» (blocking; errors end up in the token status)."""
        self.service.refresh_token()
        self.refresh()

    def check_connection(self) -> None:
        """«Проверить подключение»: a real models call, answered with a notification."""
        if not self.running:
            self.notify("Проверка подключения", self.appearance.error_message or "Мост не запущен.")
            return
        try:
            count = self.service.check_connection()
        except BridgeError as error:
            self.notify("Проверка подключения: ошибка", error.message)
        else:
            self.notify("Проверка подключения", f"ГигаЧат отвечает, доступно моделей: {count}.")
        self.refresh()

    def check_key(self, key: str, scope: str) -> None:
        """«Проверить» in the key dialog; raises BridgeError with the Russian reason."""
        self.service.check_key(key, scope)

    def save_key(self, key: str, scope: str | None = None, *, verify: bool = True) -> None:
        """«Сохранить» in the key dialog: checked with GigaChat (unless the user chose «Сохранить
        без проверки»), saved, used at once, and confirmed with a notification."""
        if self._stopping.is_set():
            return
        self.service.save_key(key, scope, verify=verify)
        checked = "проверен ГигаЧат и " if verify else "сохранён без проверки и "
        self.notify("Ключ авторизации сохранён",
                    f"Ключ {checked}хранится в системном хранилище паролей; мост уже работает с ним.")
        if scope and scope != self.settings.scope:
            self.apply_settings(scope=scope)
            return
        self.refresh()

    def apply_settings(self, **changes) -> None:
        """«Настройки…» → Сохранить: write the settings file and restart the service."""
        with self._life:
            if self._stopping.is_set():
                return
            self._start_service(lambda: self.service.apply_settings(self.settings_path, **changes))

    def available_models(self) -> list[str]:
        """Chat model names from GigaChat (for the settings dialog); the current one if offline."""
        names: list[str] = []
        if self.running:
            try:
                names = self.service.chat_models()
            except BridgeError as error:
                log.info("model list unavailable: %s", error.code)
        if self.settings.model not in names:
            names.insert(0, self.settings.model)
        return names

    def local_api_key(self) -> str | None:
        return self.service.api_key

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
