"""tkinter windows: the key dialog, the settings dialog and the status window.

All Tk objects live in one thread (UiThread); other threads hand it work with `call()`.
Slow work (network, restarts) runs in named background threads; results come back through
a queue that the window polls, because Tk must only be touched from its own thread.
"""

from __future__ import annotations

import gc
import logging
import queue
import threading
import tkinter as tk
from collections.abc import Callable
from tkinter import ttk

from gigachat import APP_NAME, PRODUCT_NAME
from gigachat.core.credentials import build_key, normalize_key
from gigachat.core.errors import BridgeError, ConfigError
from gigachat.core.settings import SCOPES, Settings, check_value

log = logging.getLogger(__name__)

KEY_TITLE = "Ключ авторизации ГигаЧат"
SETTINGS_TITLE = "Настройки моста ГигаЧат"
STATUS_TITLE = PRODUCT_NAME
# X11 window classes (WM_CLASS), so tests and window managers can tell the windows apart.
KEY_CLASS, SETTINGS_CLASS, STATUS_CLASS = "GigaChatKeyDialog", "GigaChatSettings", "GigaChatStatus"
OK_COLOR, ERROR_COLOR = "#1b7f32", "#b3261e"
POLL_MS = 100


class UiThread:
    """Owns the hidden Tk root in a thread named gigachat-ui; started on first use."""

    def __init__(self) -> None:
        self._queue: queue.Queue = queue.Queue()
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._lock = threading.Lock()
        self.available = True
        self.root: tk.Tk | None = None
        self.windows: dict[str, object] = {}  # Tk-owning objects; only touched in the UI thread

    def call(self, work: Callable[[tk.Tk], object]) -> None:
        """Run `work(root)` in the UI thread (starting it if needed)."""
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="gigachat-ui", daemon=True)
                self._thread.start()
        self._queue.put(work)

    def wait_ready(self, timeout: float = 10.0) -> bool:
        return self._ready.wait(timeout) and self.available

    def _run(self) -> None:
        try:
            root = tk.Tk(className=APP_NAME)
        except tk.TclError as error:
            log.warning("windows unavailable: %s", error)
            self.available = False
            self._ready.set()
            return
        root.withdraw()
        root.title(STATUS_TITLE)
        self.root = root
        self._ready.set()
        root.after(POLL_MS, self._pump)
        root.mainloop()
        # Every Tk object must die in this thread: Tcl aborts the process otherwise.
        self.windows.clear()
        self.root = None
        root.destroy()
        del root
        gc.collect()

    def _pump(self) -> None:
        root = self.root
        while True:
            try:
                work = self._queue.get_nowait()
            except queue.Empty:
                break
            if work is None:
                root.quit()
                return
            try:
                work(root)
            except Exception:
                log.exception("window action failed")
        root.after(POLL_MS, self._pump)

    def copy(self, text: str) -> None:
        """Put text on the clipboard (Tk keeps serving it while the program runs)."""
        def put(root: tk.Tk) -> None:
            root.clipboard_clear()
            root.clipboard_append(text)
            root.update()
        self.call(put)

    def stop(self, timeout: float = 5.0) -> None:
        with self._lock:
            thread = self._thread
        if thread is None:
            return
        self._queue.put(None)
        if thread is not threading.current_thread():
            thread.join(timeout)


def _bring_to_front(window: tk.Toplevel, focus: tk.Widget) -> None:
    window.deiconify()
    window.lift()
    window.attributes("-topmost", True)
    window.after(200, lambda: window.attributes("-topmost", False))
    window.focus_force()
    focus.focus_set()


class _Background:
    """Runs one slow call at a time off the UI thread and delivers its outcome back to it."""

    def __init__(self, window: tk.Toplevel, name: str) -> None:
        self.window, self.name = window, name
        self.root = window.master or window  # timers on the parent outlive the window
        self._results: queue.Queue = queue.Queue()
        self.busy = False

    def run(self, work: Callable[[], object], done: Callable[[object, BaseException | None], None]) -> None:
        self.busy = True

        def target() -> None:
            try:
                self._results.put((work(), None))
            except BaseException as error:  # delivered to `done`, shown to the user
                self._results.put((None, error))

        threading.Thread(target=target, name=f"gigachat-{self.name}", daemon=True).start()
        self.root.after(POLL_MS, lambda: self._deliver(done))

    def _deliver(self, done) -> None:
        try:
            result, error = self._results.get_nowait()
        except queue.Empty:
            if _alive(self.window):
                self.root.after(POLL_MS, lambda: self._deliver(done))
            return
        self.busy = False
        if _alive(self.window):
            done(result, error)


def _alive(widget: tk.Misc) -> bool:
    try:
        return bool(widget.winfo_exists())
    except tk.TclError:
        return False


def _message_of(error: BaseException) -> str:
    if isinstance(error, BridgeError):
        return error.message
    log.error("unexpected error in a dialog: %r", type(error).__name__)
    return "Непредвиденная ошибка, подробности в журнале."


class KeyDialog:
    """The authorization key (or client id + secret) with scope, «Проверить» and «Сохранить»."""

    def __init__(self, parent: tk.Misc, *, scope: str, check: Callable[[str, str], None],
                 save: Callable[[str, str], None], intro: str | None = None) -> None:
        self.check_fn, self.save_fn = check, save
        self.window = window = tk.Toplevel(parent, class_=KEY_CLASS)
        window.title(KEY_TITLE)
        window.resizable(False, False)
        frame = ttk.Frame(window, padding=12)
        frame.pack(fill="both", expand=True)
        if intro:
            ttk.Label(frame, text=intro, wraplength=420).pack(anchor="w", pady=(0, 8))
        self.mode = tk.StringVar(value="key")
        modes = ttk.Frame(frame)
        modes.pack(anchor="w")
        ttk.Radiobutton(modes, text="Ключ авторизации", variable=self.mode, value="key",
                        command=self._show_mode).pack(side="left")
        ttk.Radiobutton(modes, text="Client ID и Client Secret", variable=self.mode, value="pair",
                        command=self._show_mode).pack(side="left", padx=(12, 0))

        self.fields = ttk.Frame(frame)
        self.fields.pack(fill="x", pady=(6, 0))
        self.key_frame = ttk.Frame(self.fields)
        ttk.Label(self.key_frame, text="Authorization key из личного кабинета developers.sber.ru:"
                  ).pack(anchor="w")
        self.key_entry = ttk.Entry(self.key_frame, show="•", width=60)
        self.key_entry.pack(fill="x")
        self.pair_frame = ttk.Frame(self.fields)
        ttk.Label(self.pair_frame, text="Client ID:").grid(row=0, column=0, sticky="w")
        self.id_entry = ttk.Entry(self.pair_frame, width=44)
        self.id_entry.grid(row=0, column=1, sticky="we", pady=2)
        ttk.Label(self.pair_frame, text="Client Secret:").grid(row=1, column=0, sticky="w")
        self.secret_entry = ttk.Entry(self.pair_frame, show="•", width=44)
        self.secret_entry.grid(row=1, column=1, sticky="we", pady=2)
        self.key_frame.pack(fill="x")

        self.reveal = tk.BooleanVar(value=False)
        ttk.Checkbutton(frame, text="Показать", variable=self.reveal, command=self._reveal
                        ).pack(anchor="w", pady=(4, 0))
        scope_row = ttk.Frame(frame)
        scope_row.pack(fill="x", pady=(8, 0))
        ttk.Label(scope_row, text="Версия API (scope):").pack(side="left")
        self.scope = tk.StringVar(value=scope)
        self.scope_box = ttk.Combobox(scope_row, textvariable=self.scope, values=SCOPES,
                                      state="readonly", width=22)
        self.scope_box.pack(side="left", padx=(8, 0))

        self.message = tk.StringVar(value="")
        self.message_label = tk.Label(frame, textvariable=self.message, wraplength=420,
                                      justify="left", anchor="w")
        self.message_label.pack(fill="x", pady=(8, 0))
        buttons = ttk.Frame(frame)
        buttons.pack(fill="x", pady=(10, 0))
        self.cancel_button = ttk.Button(buttons, text="Отмена", command=self.close)
        self.cancel_button.pack(side="right")
        self.save_button = ttk.Button(buttons, text="Сохранить", command=self.save)
        self.save_button.pack(side="right", padx=(0, 8))
        self.check_button = ttk.Button(buttons, text="Проверить", command=self.check)
        self.check_button.pack(side="left")
        window.bind("<Return>", lambda _e: self.save())
        window.bind("<Escape>", lambda _e: self.close())
        window.protocol("WM_DELETE_WINDOW", self.close)
        self._background = _Background(window, "key-check")
        self.saved = False
        window.after(50, lambda: _bring_to_front(window, self.key_entry))

    def _show_mode(self) -> None:
        pair = self.mode.get() == "pair"
        (self.key_frame if pair else self.pair_frame).pack_forget()
        (self.pair_frame if pair else self.key_frame).pack(fill="x")
        (self.id_entry if pair else self.key_entry).focus_set()

    def _reveal(self) -> None:
        show = "" if self.reveal.get() else "•"
        self.key_entry.configure(show=show)
        self.secret_entry.configure(show=show)

    def _say(self, text: str, ok: bool) -> None:
        self.message.set(text)
        self.message_label.configure(fg=OK_COLOR if ok else ERROR_COLOR)

    def key(self) -> str:
        """The key as entered (checked and normalized); raises BridgeError."""
        if self.mode.get() == "pair":
            return build_key(self.id_entry.get(), self.secret_entry.get())
        return normalize_key(self.key_entry.get())

    def check(self) -> None:
        if self._background.busy:
            return
        try:
            key = self.key()
        except BridgeError as error:
            self._say(error.message, ok=False)
            return
        scope = self.scope.get()
        self._say("Проверяем ключ на сервере ГигаЧат…", ok=True)
        self.check_button.state(["disabled"])
        self._background.run(lambda: self.check_fn(key, scope), self._checked)

    def _checked(self, _result: object, error: BaseException | None) -> None:
        self.check_button.state(["!disabled"])
        if error is None:
            self._say("Ключ подходит: ГигаЧат выдал токен доступа. Нажмите «Сохранить».", ok=True)
        else:
            self._say(_message_of(error), ok=False)

    def save(self) -> None:
        try:
            self.save_fn(self.key(), self.scope.get())
        except BridgeError as error:
            self._say(error.message, ok=False)
            return
        self.saved = True
        self.close()

    def close(self) -> None:
        self.window.destroy()


def parse_settings_form(port: str, model: str, scope: str, concurrency: str,
                        api_key_enabled: bool) -> dict:
    """The settings dialog's fields as checked Settings values; raises ConfigError (Russian)."""
    values: dict = {"scope": scope, "model": model.strip(), "api_key_enabled": api_key_enabled}
    try:
        values["port"] = int(port.strip())
    except ValueError:
        raise ConfigError("Порт должен быть числом от 1 до 65535.") from None
    text = concurrency.strip()
    try:
        values["max_concurrency"] = int(text) if text else None
    except ValueError:
        raise ConfigError("Число одновременных запросов должно быть целым числом от 1 "
                          "(или пустым — тогда автоматически).") from None
    for name, value in values.items():
        check_value(name, value)
    return values


class SettingsDialog:
    """Port, model, scope, concurrency, the local API key; «Сохранить» restarts the service."""

    def __init__(self, parent: tk.Misc, *, settings: Settings, models: Callable[[], list[str]],
                 apply: Callable[..., None], api_key: Callable[[], str | None],
                 copy: Callable[[str], None]) -> None:
        self.settings, self.apply_fn, self.api_key_fn, self.copy_fn = settings, apply, api_key, copy
        self.window = window = tk.Toplevel(parent, class_=SETTINGS_CLASS)
        window.title(SETTINGS_TITLE)
        window.resizable(False, False)
        frame = ttk.Frame(window, padding=12)
        frame.pack(fill="both", expand=True)
        self.port = tk.StringVar(value=str(settings.port))
        self.model = tk.StringVar(value=settings.model)
        self.scope = tk.StringVar(value=settings.scope)
        self.concurrency = tk.StringVar(
            value="" if settings.max_concurrency is None else str(settings.max_concurrency))
        self.api_key_on = tk.BooleanVar(value=settings.api_key_enabled)
        rows = [
            ("Порт (тот же укажите в 1С):", ttk.Entry(frame, textvariable=self.port, width=8)),
            ("Модель:", ttk.Combobox(frame, textvariable=self.model, values=[settings.model],
                                     width=24)),
            ("Версия API (scope):", ttk.Combobox(frame, textvariable=self.scope, values=SCOPES,
                                                 state="readonly", width=24)),
            ("Одновременных запросов\n(пусто — автоматически):",
             ttk.Entry(frame, textvariable=self.concurrency, width=8)),
        ]
        for row, (label, widget) in enumerate(rows):
            ttk.Label(frame, text=label).grid(row=row, column=0, sticky="w", pady=3)
            widget.grid(row=row, column=1, sticky="w", pady=3, padx=(8, 0))
        self.port_entry, self.model_box = rows[0][1], rows[1][1]
        key_row = ttk.Frame(frame)
        key_row.grid(row=len(rows), column=0, columnspan=2, sticky="we", pady=(6, 0))
        ttk.Checkbutton(key_row, text="Требовать локальный API-ключ", variable=self.api_key_on
                        ).pack(side="left")
        self.copy_key_button = ttk.Button(key_row, text="Скопировать ключ", command=self.copy_key)
        self.copy_key_button.pack(side="left", padx=(8, 0))
        self.message = tk.StringVar(value="")
        self.message_label = tk.Label(frame, textvariable=self.message, wraplength=380,
                                      justify="left", anchor="w", fg=ERROR_COLOR)
        self.message_label.grid(row=len(rows) + 1, column=0, columnspan=2, sticky="we", pady=(8, 0))
        buttons = ttk.Frame(frame)
        buttons.grid(row=len(rows) + 2, column=0, columnspan=2, sticky="we", pady=(10, 0))
        ttk.Button(buttons, text="Отмена", command=self.close).pack(side="right")
        self.save_button = ttk.Button(buttons, text="Сохранить", command=self.save)
        self.save_button.pack(side="right", padx=(0, 8))
        window.bind("<Return>", lambda _e: self.save())
        window.bind("<Escape>", lambda _e: self.close())
        self._background = _Background(window, "settings")
        self._models = _Background(window, "models")
        self._models.run(models, self._got_models)
        window.after(50, lambda: _bring_to_front(window, self.port_entry))

    def _got_models(self, names: object, error: BaseException | None) -> None:
        if error is None and isinstance(names, list) and names:
            self.model_box.configure(values=names)

    def copy_key(self) -> None:
        key = self.api_key_fn()
        if key:
            self.copy_fn(key)
            self.message_label.configure(fg=OK_COLOR)
            self.message.set("Локальный API-ключ скопирован в буфер обмена.")
        else:
            self.message_label.configure(fg=ERROR_COLOR)
            self.message.set("Локальный API-ключ выключен: включите его и нажмите «Сохранить».")

    def save(self) -> None:
        if self._background.busy:
            return
        try:
            values = parse_settings_form(self.port.get(), self.model.get(), self.scope.get(),
                                         self.concurrency.get(), self.api_key_on.get())
        except ConfigError as error:
            self.message_label.configure(fg=ERROR_COLOR)
            self.message.set(error.message)
            return
        changes = {k: v for k, v in values.items() if getattr(self.settings, k) != v}
        if not changes:
            self.close()
            return
        self.message_label.configure(fg=OK_COLOR)
        self.message.set("Сохраняем и перезапускаем мост…")
        self._background.run(lambda: self.apply_fn(**changes), self._applied)

    def _applied(self, _result: object, error: BaseException | None) -> None:
        if error is not None:
            self.message_label.configure(fg=ERROR_COLOR)
            self.message.set(_message_of(error))
            return
        self.close()

    def close(self) -> None:
        self.window.destroy()


class StatusWindow:
    """The tray menu as a window, for tray hosts without menus (and a click on the icon)."""

    def __init__(self, parent: tk.Misc, *, appearance: Callable[[], object], url: Callable[[], str],
                 actions: list[tuple[str, Callable[[], None]]],
                 autostart: tuple[Callable[[], bool], Callable[[bool], None]]) -> None:
        self.appearance_fn, self.url_fn, self.parent = appearance, url, parent
        self.window = window = tk.Toplevel(parent, class_=STATUS_CLASS)
        window.title(STATUS_TITLE)
        window.resizable(False, False)
        frame = ttk.Frame(window, padding=12)
        frame.pack(fill="both", expand=True)
        self.lines = {name: tk.StringVar() for name in ("demo", "status", "usage", "balance", "url")}
        self.status_label = tk.Label(frame, textvariable=self.lines["status"],
                                     font=("TkDefaultFont", 11, "bold"), anchor="w")
        for name in ("demo", "status", "usage", "balance", "url"):
            label = self.status_label if name == "status" else ttk.Label(frame, textvariable=self.lines[name])
            label.pack(anchor="w", fill="x")
        buttons = ttk.Frame(frame)
        buttons.pack(fill="x", pady=(10, 0))
        self.buttons: dict[str, ttk.Button] = {}
        for index, (text, action) in enumerate(actions):
            button = ttk.Button(buttons, text=text, command=action)
            button.grid(row=index // 2, column=index % 2, sticky="we", padx=2, pady=2)
            self.buttons[text] = button
        get_autostart, self._set_autostart = autostart
        self.autostart = tk.BooleanVar(value=get_autostart())
        ttk.Checkbutton(frame, text="Запускать при входе в систему", variable=self.autostart,
                        command=lambda: self._set_autostart(self.autostart.get())
                        ).pack(anchor="w", pady=(8, 0))
        window.protocol("WM_DELETE_WINDOW", self.close)
        window.bind("<Escape>", lambda _e: self.close())
        self.update()
        window.after(50, lambda: _bring_to_front(window, frame))

    def update(self) -> None:
        if not _alive(self.window):
            return
        face = self.appearance_fn()
        self.lines["demo"].set(face.demo_line or "")
        self.lines["status"].set(face.status_line)
        self.lines["usage"].set(face.usage_line)
        self.lines["balance"].set(face.balance_line or "")
        url = self.url_fn()
        self.lines["url"].set(f"Адрес для 1С: {url}" if url else "")
        self.status_label.configure(fg={"green": OK_COLOR, "red": ERROR_COLOR}.get(face.color, "#444"))
        self.parent.after(1000, self.update)

    def is_open(self) -> bool:
        return _alive(self.window)

    def show(self) -> None:
        _bring_to_front(self.window, self.window)

    def close(self) -> None:
        self.window.destroy()
