"""tkinter windows: the settings dialog (the key dialog: key_dialog.py; the status window:
status_window.py).

They are created in the UI thread (ui_thread.UiThread) and run slow work through `Background`.
"""

from __future__ import annotations

import tkinter as tk
from collections.abc import Callable, Collection
from tkinter import ttk

from gigachat.core.errors import ConfigError
from gigachat.core.policy import FIXED_LABEL
from gigachat.core.settings import SCOPES, Settings, check_value
from gigachat.desktop.key_dialog import KEY_CLASS, KEY_TITLE, SCOPE_LABELS, KeyDialog, scope_value
from gigachat.desktop.status_window import StatusWindow
from gigachat.desktop.ui_thread import (
    ERROR_COLOR,
    OK_COLOR,
    Background,
    UiThread,
    Window,
    bring_to_front,
    message_of,
)
from gigachat.desktop.workers import Workers

__all__ = ["KEY_CLASS", "KEY_TITLE", "KeyDialog", "SettingsDialog", "StatusWindow", "UiThread",
           "parse_settings_form"]

SETTINGS_TITLE = "Настройки моста ГигаЧат"
# X11 window classes (WM_CLASS), so tests and window managers can tell the windows apart.
SETTINGS_CLASS = "GigaChatSettings"


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


class SettingsDialog(Window):
    """Port, model, scope, concurrency, the local API key; «Сохранить» restarts the service."""

    focus_name = "port_entry"

    def __init__(self, parent: tk.Misc, *, settings: Settings, models: Callable[[], list[str]],
                 apply: Callable[..., None], api_key: Callable[[], str | None],
                 copy: Callable[[str], None], workers: Workers | None = None,
                 fixed: Collection[str] = ()) -> None:
        """`fixed`: fields the administrator's policy sets (shown read-only)."""
        self.settings, self.apply_fn, self.api_key_fn, self.copy_fn = settings, apply, api_key, copy
        self.window = window = tk.Toplevel(parent, class_=SETTINGS_CLASS)
        window.title(SETTINGS_TITLE)
        window.resizable(False, False)
        frame = ttk.Frame(window, padding=12)
        frame.pack(fill="both", expand=True)
        self.port = tk.StringVar(value=str(settings.port))
        self.model = tk.StringVar(value=settings.model)
        self.scope = tk.StringVar(value=SCOPE_LABELS.get(settings.scope, settings.scope))
        self.concurrency = tk.StringVar(
            value="" if settings.max_concurrency is None else str(settings.max_concurrency))
        self.api_key_on = tk.BooleanVar(value=settings.api_key_enabled)
        rows = [
            ("Порт (тот же укажите в 1С):", ttk.Entry(frame, textvariable=self.port, width=8)),
            ("Модель:", ttk.Combobox(frame, textvariable=self.model, values=[settings.model],
                                     width=24)),
            ("Тип ключа (scope):", ttk.Combobox(frame, textvariable=self.scope,
                                                values=[SCOPE_LABELS[v] for v in SCOPES],
                                                state="readonly", width=32)),
            ("Одновременных запросов\n(пусто — автоматически):",
             ttk.Entry(frame, textvariable=self.concurrency, width=8)),
        ]
        for row, (label, widget) in enumerate(rows):
            ttk.Label(frame, text=label).grid(row=row, column=0, sticky="w", pady=3)
            widget.grid(row=row, column=1, sticky="w", pady=3, padx=(8, 0))
        self.port_entry, self.model_box = rows[0][1], rows[1][1]
        for row, name in enumerate(("port", "model", "scope", "max_concurrency")):
            if name in fixed:  # the policy wins anyway: say so instead of accepting edits
                rows[row][1].configure(state="disabled")
                ttk.Label(frame, text=FIXED_LABEL).grid(row=row, column=2, sticky="w", padx=(6, 0))
        key_row = ttk.Frame(frame)
        key_row.grid(row=len(rows), column=0, columnspan=2, sticky="we", pady=(6, 0))
        ttk.Checkbutton(key_row, text="Требовать локальный API-ключ", variable=self.api_key_on,
                        state="disabled" if "api_key_enabled" in fixed else "normal"
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
        self._background = Background(window, "settings", workers)
        self._models = Background(window, "models", workers)
        self._models.run(models, self._got_models)
        window.after(50, lambda: bring_to_front(window, self.port_entry))

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
            values = parse_settings_form(self.port.get(), self.model.get(), scope_value(self.scope.get()),
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
            self.message.set(message_of(error))
            return
        self.close()
