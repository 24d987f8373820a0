"""«О программе» and «Файлы для 1С»: the version, the guide, the folder with the 1C kit."""

from __future__ import annotations

import sys
import tkinter as tk
from collections.abc import Callable
from pathlib import Path
from tkinter import messagebox, ttk

from gigachat import PRODUCT_NAME, __version__, resource_path
from gigachat.desktop.ui_thread import Window, bring_to_front

ABOUT_TITLE = f"О программе «{PRODUCT_NAME}»"
ABOUT_CLASS = "GigaChatAbout"
ONEC_FOLDER = "Файлы для 1С"  # next to the program in the Windows install (installer/*.nsi)
GUIDE = "README.md"  # the 1C guide inside the kit folder
CABINET_URL = "https://developers.sber.ru/"


def onec_folder() -> Path:
    """The folder with the loadable extension and processor for 1C."""
    if getattr(sys, "frozen", False):
        installed = Path(sys.executable).resolve().parent / ONEC_FOLDER
        if installed.is_dir():
            return installed
    return resource_path("1c")


class AboutWindow(Window):
    """Version, what the program does, and buttons to the guide and the 1C files."""

    def __init__(self, parent: tk.Misc, *, open_path: Callable[[Path], None]) -> None:
        self.window = window = tk.Toplevel(parent, class_=ABOUT_CLASS)
        window.title(ABOUT_TITLE)
        window.resizable(False, False)
        frame = ttk.Frame(window, padding=14)
        frame.pack(fill="both", expand=True)
        tk.Label(frame, text=PRODUCT_NAME, font=("TkDefaultFont", 12, "bold"), anchor="w"
                 ).pack(anchor="w")
        ttk.Label(frame, text=f"Версия {__version__}").pack(anchor="w")
        ttk.Label(frame, wraplength=420, justify="left", text=(
            "Локальный адрес на этом компьютере, через который 1С работает с нейросетью "
            "ГигаЧат. Ключ авторизации хранится в системном хранилище паролей.")
        ).pack(anchor="w", pady=(8, 0))
        folder = onec_folder()
        ttk.Label(frame, wraplength=420, justify="left",
                  text=f"Файлы для 1С (расширение и обработка): {folder}").pack(anchor="w", pady=(8, 0))
        buttons = ttk.Frame(frame)
        buttons.pack(fill="x", pady=(12, 0))
        self.buttons = {
            "Руководство для 1С": ttk.Button(buttons, text="Руководство для 1С",
                                             command=lambda: open_path(folder / GUIDE)),
            ONEC_FOLDER: ttk.Button(buttons, text=ONEC_FOLDER, command=lambda: open_path(folder)),
            "Закрыть": ttk.Button(buttons, text="Закрыть", command=self.close),
        }
        self.buttons["Руководство для 1С"].pack(side="left")
        self.buttons[ONEC_FOLDER].pack(side="left", padx=(8, 0))
        self.buttons["Закрыть"].pack(side="right")
        window.bind("<Escape>", lambda _e: self.close())
        window.protocol("WM_DELETE_WINDOW", self.close)
        window.after(50, lambda: bring_to_front(window, self.buttons["Закрыть"]))


def confirm_quit(parent: tk.Misc, running: int) -> bool:
    """«Выход» while jobs run: ask first (they continue at the next start)."""
    return messagebox.askyesno(
        "Выход из моста ГигаЧат",
        f"Выполняются задания 1С ({running}). Если выйти сейчас, они остановятся и продолжатся "
        "при следующем запуске моста. Выйти?", icon="warning", default="no", parent=parent)
