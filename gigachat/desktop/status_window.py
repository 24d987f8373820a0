"""The status window: the tray menu as a window (tray hosts without menus, a click on the
icon, and the desktop without any tray host)."""

from __future__ import annotations

import tkinter as tk
from collections.abc import Callable
from tkinter import ttk

from gigachat.desktop.ui_thread import ERROR_COLOR, OK_COLOR, STATUS_TITLE, Window, alive, bring_to_front

STATUS_CLASS = "GigaChatStatus"  # X11 window class (WM_CLASS), for tests and window managers


class StatusWindow(Window):
    """The tray menu as a window, for tray hosts without menus (and a click on the icon).

    Empty lines (no demo, no balance) take no room; «Выход» stands apart from the actions."""

    LINES = ("notice", "demo", "status", "usage", "balance", "jobs", "url")

    def __init__(self, parent: tk.Misc, *, appearance: Callable[[], object], url: Callable[[], str],
                 actions: list[tuple[str, Callable[[], None]]],
                 autostart: tuple[Callable[[], bool], Callable[[bool], None]],
                 quit_action: Callable[[], None] | None = None,
                 notice: str | None = None, jobs: Callable[[], str] | None = None) -> None:
        self.appearance_fn, self.url_fn, self.parent = appearance, url, parent
        self.notice, self.jobs_fn = notice, jobs
        self.window = window = tk.Toplevel(parent, class_=STATUS_CLASS)
        window.title(STATUS_TITLE)
        window.resizable(False, False)
        frame = ttk.Frame(window, padding=12)
        frame.pack(fill="both", expand=True)
        self.lines = {name: tk.StringVar() for name in self.LINES}
        self.labels: dict[str, tk.Widget] = {}
        for row, name in enumerate(self.LINES):
            if name == "notice":  # why this window is open instead of an icon
                label = tk.Label(frame, textvariable=self.lines[name], anchor="w", justify="left",
                                 wraplength=440, fg="#8a4b00", pady=4)
            elif name == "status":
                label = tk.Label(frame, textvariable=self.lines[name], anchor="w",
                                 font=("TkDefaultFont", 11, "bold"))
            else:
                label = ttk.Label(frame, textvariable=self.lines[name], wraplength=440,
                                  justify="left")
            label.grid(row=row, column=0, sticky="we")
            self.labels[name] = label
        self.status_label = self.labels["status"]
        buttons = ttk.Frame(frame)
        buttons.grid(row=len(self.LINES), column=0, sticky="we", pady=(10, 0))
        self.buttons: dict[str, ttk.Button] = {}
        for index, (text, action) in enumerate(actions):
            button = ttk.Button(buttons, text=text, command=action)
            button.grid(row=index // 2, column=index % 2, sticky="we", padx=2, pady=2)
            self.buttons[text] = button
        get_autostart, self._set_autostart = autostart
        self.autostart = tk.BooleanVar(value=get_autostart())
        ttk.Checkbutton(frame, text="Запускать при входе в систему", variable=self.autostart,
                        command=lambda: self._set_autostart(self.autostart.get())
                        ).grid(row=len(self.LINES) + 1, column=0, sticky="w", pady=(8, 0))
        if quit_action is not None:  # apart from the ordinary actions, at the bottom right
            ttk.Separator(frame).grid(row=len(self.LINES) + 2, column=0, sticky="we", pady=(10, 6))
            self.buttons["Выход"] = ttk.Button(frame, text="Выход", command=quit_action)
            self.buttons["Выход"].grid(row=len(self.LINES) + 3, column=0, sticky="e")
        window.protocol("WM_DELETE_WINDOW", self.close)
        window.bind("<Escape>", lambda _e: self.close())
        self.update()
        window.after(50, lambda: bring_to_front(window, frame))

    def update(self) -> None:
        if not alive(self.window):
            return
        face = self.appearance_fn()
        url = self.url_fn()
        texts = {"notice": self.notice or "", "demo": face.demo_line or "",
                 "status": face.status_line, "usage": face.usage_line,
                 "balance": face.balance_line or "", "jobs": self.jobs_fn() if self.jobs_fn else "",
                 "url": f"Адрес для 1С: {url}" if url else ""}
        for name, text in texts.items():
            self.lines[name].set(text)
            if text:
                self.labels[name].grid()
            else:
                self.labels[name].grid_remove()  # no blank rows
        self.status_label.configure(fg={"green": OK_COLOR, "red": ERROR_COLOR}.get(face.color, "#444"))
        self.parent.after(1000, self.update)
