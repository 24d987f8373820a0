"""Small OS desktop services: open a file, show a notification, tell the user something."""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path

from gigachat import PRODUCT_NAME

log = logging.getLogger(__name__)

TITLE = PRODUCT_NAME


def open_path(path: Path) -> None:
    """Open a file or folder with the user's default program."""
    if sys.platform == "win32":
        os.startfile(str(path))  # noqa: S606 - Windows only
    elif sys.platform == "darwin":
        subprocess.Popen(["open", str(path)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    else:
        subprocess.Popen(["xdg-open", str(path)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def notify_send(title: str, message: str) -> bool:
    """A desktop notification without a tray icon (Linux notify-send); False if unavailable."""
    tool = shutil.which("notify-send")
    if not tool:
        return False
    try:
        subprocess.run([tool, "--app-name", TITLE, title, message], timeout=5,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
    except (OSError, subprocess.SubprocessError):
        return False
    return True


def enable_dpi_awareness() -> None:
    """Windows: per-monitor DPI awareness, so windows are crisp at 125-150 % scaling (not
    bitmap-stretched by Windows). Elsewhere nothing to do. Call before the first window."""
    if sys.platform != "win32":
        return
    import ctypes  # noqa: PLC0415

    try:
        ctypes.windll.shcore.SetProcessDpiAwareness(2)  # PROCESS_PER_MONITOR_DPI_AWARE
    except (AttributeError, OSError):  # Windows 7/8: system-wide awareness only
        try:
            ctypes.windll.user32.SetProcessDPIAware()
        except (AttributeError, OSError):
            log.info("DPI awareness unavailable")


def message_box(message: str) -> None:
    """Tell the user something when there is no tray icon to speak through."""
    if sys.platform == "win32":
        import ctypes  # noqa: PLC0415

        ctypes.windll.user32.MessageBoxW(None, message, TITLE, 0x40)  # MB_ICONINFORMATION
    elif not notify_send(TITLE, message):
        log.info("no notification service; message: %s", message)


class Notifier:
    """Sends tray notifications through the icon when it can, else through the desktop.

    Every notification is also logged, so the journal tells what the user was shown."""

    def __init__(self, through_icon: Callable[[str, str], bool] | None = None) -> None:
        self.through_icon = through_icon

    def __call__(self, title: str, message: str) -> None:
        log.info("notification: %s — %s", title, message)
        try:
            if self.through_icon and self.through_icon(title, message):
                return
        except Exception:  # a notification must never break the caller
            log.warning("tray notification failed", exc_info=True)
        threading.Thread(target=notify_send, args=(title, message), name="gigachat-notify",
                         daemon=True).start()  # ends within notify_send's 5 s timeout
