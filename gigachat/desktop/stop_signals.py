"""SIGINT/SIGTERM stop the program calmly, whatever it is doing (also in a GUI loop).

Used by tray_app.py in both modes: headless waits on `received`; the tray connects «Выход».
"""

from __future__ import annotations

import contextlib
import logging
import signal
import socket
import threading

log = logging.getLogger("gigachat.app")


class SignalWatcher:
    """SIGINT/SIGTERM → callback, even while the main thread sits in a GUI loop's blocking read.

    The OS may deliver a signal to any thread, and Python runs handlers only in the main thread
    when it next runs Python code; the wakeup fd is written at once, so a named thread waits on it.
    Installed before anything starts: a signal that comes before `connect()` is kept and runs
    the callback as soon as it is connected.
    """

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self) -> None:
        self.received = threading.Event()
        self._callback = None
        self._lock = threading.Lock()
        self._reader, self._writer = socket.socketpair()
        self._writer.setblocking(False)
        self._old_fd = signal.set_wakeup_fd(self._writer.fileno(), warn_on_full_buffer=False)
        self._old_handlers = {sig: signal.signal(sig, self._handler) for sig in self.SIGNALS}
        self._thread = threading.Thread(target=self._run, name="gigachat-signals", daemon=True)
        self._thread.start()

    def _handler(self, sig: int, _frame) -> None:
        """Runs in the main thread whenever Python gets there. The wakeup fd alone is not
        enough: PyGObject's GLib.MainLoop.run() (pystray's gtk and appindicator backends) puts
        its own wakeup fd in place of ours while the loop runs, so the byte must come from here."""
        with contextlib.suppress(OSError):
            self._writer.send(bytes([sig]))

    def connect(self, callback) -> None:
        """Call `callback()` on SIGINT/SIGTERM (at once if one already came)."""
        with self._lock:
            self._callback = callback
            due = self.received.is_set()
        if due:
            callback()

    def _run(self) -> None:
        while True:
            data = self._reader.recv(64)
            if not data or 0 in data:  # 0: stop() was called
                return
            if any(byte in self.SIGNALS for byte in data):
                log.info("stop signal received")
                with self._lock:
                    self.received.set()
                    callback = self._callback
                if callback is not None:
                    callback()

    def stop(self) -> None:
        """Back to the default handling (a later SIGTERM ends the process at once)."""
        signal.set_wakeup_fd(self._old_fd)
        for sig, handler in self._old_handlers.items():
            signal.signal(sig, handler)
        with contextlib.suppress(OSError):
            self._writer.send(b"\0")
        self._thread.join(2)
        self._reader.close()
        self._writer.close()
