"""Named background threads of the tray (menu actions, dialog checks) that «Выход» waits for."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

log = logging.getLogger(__name__)


class Workers:
    """Start slow work off the GUI thread; `join()` waits for all of it, within one deadline."""

    def __init__(self) -> None:
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()

    def start(self, name: str, work: Callable[[], None]) -> threading.Thread:
        """Run `work()` in a daemon thread named gigachat-<name>; exceptions are logged."""
        def run() -> None:
            try:
                work()
            except Exception:
                log.exception("background action %s failed", name)

        thread = threading.Thread(target=run, name=f"gigachat-{name}", daemon=True)
        with self._lock:
            self._threads = [t for t in self._threads if t.is_alive()]
            self._threads.append(thread)
        thread.start()
        return thread

    def join(self, timeout: float) -> list[str]:
        """Wait up to `timeout` s in total; the names of the threads still running (logged)."""
        deadline = time.monotonic() + timeout
        with self._lock:
            threads = list(self._threads)
        for thread in threads:
            if thread is not threading.current_thread():
                thread.join(max(deadline - time.monotonic(), 0.0))
        left = [t.name for t in threads if t.is_alive() and t is not threading.current_thread()]
        if left:
            log.warning("background work still running at exit: %s", ", ".join(left))
        return left
