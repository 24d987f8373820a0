"""One tray bridge per user: an OS file lock in the per-user state folder.

The OS drops the lock when the process ends, even after a crash, so a stale file never
blocks the next start.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import platformdirs

from gigachat import APP_NAME

LOCK_NAME = "tray.lock"


def lock_path() -> Path:
    """Per-user: %LOCALAPPDATA%\\GigaChatBridge on Windows, $XDG_STATE_HOME/GigaChatBridge on Linux."""
    return Path(platformdirs.user_state_dir(APP_NAME, appauthor=False)) / LOCK_NAME


def _try_lock(fd: int) -> bool:
    """Take an exclusive, non-blocking lock on the open file (the one OS-specific call)."""
    try:
        if sys.platform == "win32":
            import msvcrt  # noqa: PLC0415

            os.lseek(fd, 0, os.SEEK_SET)
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        else:
            import fcntl  # noqa: PLC0415

            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return False
    return True


class InstanceLock:
    """Held for the life of the tray process; `acquire()` is False when another one runs."""

    def __init__(self, path: str | Path | None = None) -> None:
        self.path = Path(path) if path else lock_path()
        self._fd: int | None = None

    def acquire(self) -> bool:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        if not _try_lock(fd):
            os.close(fd)
            return False
        if sys.platform != "win32":  # informational; Windows keeps the locked byte untouched
            os.ftruncate(fd, 0)
            os.write(fd, f"{os.getpid()}\n".encode())
        self._fd = fd
        return True

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing drops the lock
            self._fd = None

    def __enter__(self) -> InstanceLock:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()
