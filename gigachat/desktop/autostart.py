"""«Запускать при входе в систему»: the Windows Run key, or an XDG autostart entry on Linux.

Each OS layer sits behind one small class so tests can replace it (a dict for the registry,
a temp HOME for XDG).
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from pathlib import Path

from gigachat import APP_NAME, SOURCE_ROOT

RUN_KEY = r"Software\Microsoft\Windows\CurrentVersion\Run"
VALUE_NAME = APP_NAME
DESKTOP_FILE = "GigaChatBridge.desktop"


def launch_command() -> list[str]:
    """How to start this program at logon: the frozen .exe, or pythonw + tray_app.py."""
    if getattr(sys, "frozen", False):
        return [sys.executable]
    python = Path(sys.executable)
    if sys.platform == "win32" and python.name.lower() == "python.exe":
        windowless = python.with_name("pythonw.exe")  # no console window at logon
        if windowless.exists():
            python = windowless
    script = SOURCE_ROOT / "tray_app.py"
    return [str(python), str(script)]


class WindowsRunKey:
    """HKCU\\...\\Run value for the current user (winreg is imported only here)."""

    def __init__(self, registry=None) -> None:
        if registry is None:
            import winreg as registry  # noqa: PLC0415 - Windows only
        self.reg = registry

    def read(self) -> str | None:
        try:
            with self.reg.OpenKey(self.reg.HKEY_CURRENT_USER, RUN_KEY) as key:
                value, _ = self.reg.QueryValueEx(key, VALUE_NAME)
                return str(value)
        except FileNotFoundError:
            return None

    def write(self, command: list[str]) -> None:
        with self.reg.CreateKeyEx(self.reg.HKEY_CURRENT_USER, RUN_KEY, 0,
                                  self.reg.KEY_SET_VALUE) as key:
            self.reg.SetValueEx(key, VALUE_NAME, 0, self.reg.REG_SZ, subprocess.list2cmdline(command))

    def remove(self) -> None:
        try:
            with self.reg.OpenKey(self.reg.HKEY_CURRENT_USER, RUN_KEY, 0,
                                  self.reg.KEY_SET_VALUE) as key:
                self.reg.DeleteValue(key, VALUE_NAME)
        except FileNotFoundError:
            pass


class XdgAutostart:
    """~/.config/autostart/GigaChatBridge.desktop (XDG_CONFIG_HOME respected)."""

    def __init__(self, environ=os.environ) -> None:
        base = environ.get("XDG_CONFIG_HOME") or str(Path(environ.get("HOME", "~")).expanduser() / ".config")
        self.path = Path(base) / "autostart" / DESKTOP_FILE

    def read(self) -> str | None:
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
        for line in text.splitlines():
            if line.startswith("Exec="):
                return line[len("Exec="):]
        return None

    def write(self, command: list[str]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.write_text(
            "[Desktop Entry]\n"
            "Type=Application\n"
            "Name=Мост ГигаЧат для 1С\n"
            "Comment=Локальный адрес ГигаЧат для 1С\n"
            f"Exec={shlex.join(command)}\n"
            "Terminal=false\n"
            "X-GNOME-Autostart-enabled=true\n",
            encoding="utf-8",
        )

    def remove(self) -> None:
        self.path.unlink(missing_ok=True)


def os_layer():
    """The autostart mechanism of this OS."""
    return WindowsRunKey() if sys.platform == "win32" else XdgAutostart()


def is_enabled(layer=None) -> bool:
    return (layer or os_layer()).read() is not None


def set_enabled(enabled: bool, layer=None) -> None:
    layer = layer or os_layer()
    if enabled:
        layer.write(launch_command())
    else:
        layer.remove()
