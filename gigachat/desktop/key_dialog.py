"""The key dialog: the authorization key (or Client ID + Client Secret) in an accountant's words.

«Сохранить» checks the key with GigaChat first. When GigaChat could not be asked (no network,
a timeout), the dialog says so and saves only on a second, explicit «Сохранить без проверки».
Ctrl+V and the right-click menu work in any keyboard layout (edit_keys, installed by UiThread).
"""

from __future__ import annotations

import tkinter as tk
import webbrowser
from collections.abc import Callable
from tkinter import ttk

from gigachat.core.credentials import build_key, normalize_key
from gigachat.core.errors import BridgeError
from gigachat.desktop import edit_keys
from gigachat.desktop.about import CABINET_URL
from gigachat.desktop.ui_thread import (
    ERROR_COLOR,
    OK_COLOR,
    Background,
    Window,
    bring_to_front,
    message_of,
)
from gigachat.desktop.workers import Workers

KEY_TITLE = "Ключ авторизации ГигаЧат"
KEY_CLASS = "GigaChatKeyDialog"  # X11 window class (WM_CLASS)
KEY_LABEL = "Ключ авторизации (Authorization key в личном кабинете):"
# The scope as the accountant knows it: who the key was issued to and how it is paid for.
SCOPE_LABELS = {
    "GIGACHAT_API_PERS": "Физическое лицо (PERS)",
    "GIGACHAT_API_B2B": "Юрлицо, пакеты токенов (B2B)",
    "GIGACHAT_API_CORP": "Юрлицо, оплата по факту (CORP)",
}
SCOPE_HELP = "Как в проекте GigaChat API в личном кабинете: для кого выпущен ключ и как он оплачивается."
# The key itself was refused: saving it without a check would not help.
REFUSED = frozenset({"wrong_key", "malformed_key", "scope_mismatch", "oauth_rejected",
                     "unauthorized", "no_credentials", "partial_credentials"})
SAVE, SAVE_UNCHECKED = "Сохранить", "Сохранить без проверки"


def scope_value(label: str) -> str:
    """The scope setting (GIGACHAT_API_…) of a label shown in a list (a value stays as it is)."""
    return next((value for value, text in SCOPE_LABELS.items() if text == label), label)


def in_this_dialog(text: str) -> str:
    """An error message as the key dialog shows it: not sending the user to the dialog itself."""
    for phrase in ("введите его заново в меню «Ключ авторизации…»",
                   "введите ключ в окне «Ключ авторизации…»",
                   "Откройте меню «Ключ авторизации…»"):
        text = text.replace(phrase, "вставьте ключ в поле выше")
    return text


class KeyDialog(Window):
    """Key or Client ID + Secret, the scope in words, «Проверить», «Сохранить», the cabinet link."""

    focus_name = "key_entry"

    def __init__(self, parent: tk.Misc, *, scope: str, check: Callable[[str, str], None],
                 save: Callable[..., None], intro: str | None = None,
                 workers: Workers | None = None) -> None:
        self.check_fn, self.save_fn = check, save
        edit_keys.install(parent)
        self.window = window = tk.Toplevel(parent, class_=KEY_CLASS)
        window.title(KEY_TITLE)
        window.resizable(False, False)
        frame = ttk.Frame(window, padding=12)
        frame.pack(fill="both", expand=True)
        if intro:
            ttk.Label(frame, text=intro, wraplength=440).pack(anchor="w", pady=(0, 8))
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
        ttk.Label(self.key_frame, text=KEY_LABEL).pack(anchor="w")
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

        options = ttk.Frame(frame)
        options.pack(fill="x", pady=(4, 0))
        self.reveal = tk.BooleanVar(value=False)
        ttk.Checkbutton(options, text="Показать", variable=self.reveal, command=self._reveal
                        ).pack(side="left")
        self.cabinet_button = ttk.Button(options, text="Где взять ключ: личный кабинет",
                                         command=lambda: webbrowser.open(CABINET_URL))
        self.cabinet_button.pack(side="right")
        scope_row = ttk.Frame(frame)
        scope_row.pack(fill="x", pady=(8, 0))
        ttk.Label(scope_row, text="Тип ключа:").pack(side="left")
        self.scope = tk.StringVar(value=SCOPE_LABELS.get(scope, scope))
        self.scope_box = ttk.Combobox(scope_row, textvariable=self.scope, state="readonly",
                                      values=list(SCOPE_LABELS.values()), width=32)
        self.scope_box.pack(side="left", padx=(8, 0))
        ttk.Label(frame, text=SCOPE_HELP, wraplength=440, foreground="#555").pack(anchor="w")

        self.message = tk.StringVar(value="")
        self.message_label = tk.Label(frame, textvariable=self.message, wraplength=440,
                                      justify="left", anchor="w")
        self.message_label.pack(fill="x", pady=(8, 0))
        buttons = ttk.Frame(frame)
        buttons.pack(fill="x", pady=(10, 0))
        self.cancel_button = ttk.Button(buttons, text="Отмена", command=self.close)
        self.cancel_button.pack(side="right")
        self.save_button = ttk.Button(buttons, text=SAVE, command=self.save)
        self.save_button.pack(side="right", padx=(0, 8))
        self.check_button = ttk.Button(buttons, text="Проверить", command=self.check)
        self.check_button.pack(side="left")
        window.bind("<Return>", lambda _e: self.save())
        window.bind("<Escape>", lambda _e: self.close())
        window.protocol("WM_DELETE_WINDOW", self.close)
        for entry in (self.key_entry, self.id_entry, self.secret_entry):
            entry.bind("<KeyRelease>", self._edited, add="+")
        self._background = Background(window, "key-check", workers)
        self.saved = False
        self._unchecked: str | None = None  # the key GigaChat could not check: a second «Сохранить»
        window.after(50, lambda: bring_to_front(window, self.key_entry))

    def scope_value(self) -> str:
        """The selected scope as the setting's value (GIGACHAT_API_…)."""
        return scope_value(self.scope.get())

    def _show_mode(self) -> None:
        pair = self.mode.get() == "pair"
        (self.key_frame if pair else self.pair_frame).pack_forget()
        (self.pair_frame if pair else self.key_frame).pack(fill="x")
        (self.id_entry if pair else self.key_entry).focus_set()

    def _reveal(self) -> None:
        show = "" if self.reveal.get() else "•"
        self.key_entry.configure(show=show)
        self.secret_entry.configure(show=show)

    def _edited(self, _event=None) -> None:
        if self._unchecked is not None:  # a new key: check it again first
            self._unchecked = None
            self.save_button.configure(text=SAVE)

    def _say(self, text: str, ok: bool) -> None:
        self.message.set(in_this_dialog(text))
        self.message_label.configure(fg=OK_COLOR if ok else ERROR_COLOR)

    def key(self) -> str:
        """The key as entered (checked and normalized); raises BridgeError."""
        if self.mode.get() == "pair":
            return build_key(self.id_entry.get(), self.secret_entry.get())
        return normalize_key(self.key_entry.get())

    def _start(self, work: Callable[[str, str], None], done, waiting: str) -> None:
        """Run check or save (both talk to GigaChat) in the background, buttons disabled."""
        if self._background.busy:
            return
        try:
            key = self.key()
        except BridgeError as error:
            self._say(error.message, ok=False)
            return
        scope = self.scope_value()
        self._say(waiting, ok=True)
        for button in (self.check_button, self.save_button):
            button.state(["disabled"])
        self._background.run(lambda: work(key, scope), done)

    def _enable(self) -> None:
        for button in (self.check_button, self.save_button):
            button.state(["!disabled"])

    def check(self) -> None:
        self._start(self.check_fn, self._checked, "Проверяем ключ на сервере ГигаЧат…")

    def _checked(self, _result: object, error: BaseException | None) -> None:
        self._enable()
        if error is None:
            self._say("Ключ подходит: ГигаЧат выдал токен доступа. Нажмите «Сохранить».", ok=True)
        else:
            self._say(message_of(error), ok=False)

    def save(self) -> None:
        try:
            key = self.key()
        except BridgeError as error:
            self._say(error.message, ok=False)
            return
        if self._unchecked is not None and self._unchecked == key:
            self._start(lambda k, s: self.save_fn(k, s, verify=False), self._saved,
                        "Сохраняем ключ без проверки…")
            return
        self._start(self.save_fn, self._saved, "Проверяем ключ на сервере ГигаЧат и сохраняем…")

    def _saved(self, _result: object, error: BaseException | None) -> None:
        self._enable()
        if error is None:
            self.saved = True
            self.close()
            return
        code = getattr(error, "code", None)
        if isinstance(error, BridgeError) and code not in REFUSED:
            # GigaChat could not be asked: say so, and save only on an explicit second click.
            self._unchecked = self.key()
            self.save_button.configure(text=SAVE_UNCHECKED)
            self._say(f"Не удалось проверить ключ: {message_of(error)} Ключ не сохранён. "
                      f"Если вы уверены в ключе, нажмите «{SAVE_UNCHECKED}».", ok=False)
            return
        self._say(message_of(error), ok=False)
