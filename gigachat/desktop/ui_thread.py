"""The tkinter UI thread and what every window shares: bring to front, background work.

All Tk objects live in one thread (UiThread); other threads hand it work with `call()`.
Slow work (network, restarts) runs in named background threads (tracked by `Workers`, so
«Выход» waits for them); results come back through a queue that the window polls, because Tk
must only be touched from its own thread.
"""

from __future__ import annotations

import base64
import gc
import io
import logging
import queue
import threading
import tkinter as tk
from collections.abc import Callable

from gigachat import APP_NAME, PRODUCT_NAME
from gigachat.core.errors import BridgeError
from gigachat.desktop import edit_keys
from gigachat.desktop.icons import APP_ICON_COLOR, draw_icon
from gigachat.desktop.workers import Workers

log = logging.getLogger(__name__)

STATUS_TITLE = PRODUCT_NAME
OK_COLOR, ERROR_COLOR = "#1b7f32", "#b3261e"
POLL_MS = 100


class UiThread:
    """Owns the hidden Tk root in a thread named gigachat-ui; started on first use."""

    def __init__(self) -> None:
        self._queue: queue.Queue = queue.Queue()
        self._thread: threading.Thread | None = None
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

    def _run(self) -> None:
        try:
            root = tk.Tk(className=APP_NAME)
        except tk.TclError as error:
            log.warning("windows unavailable: %s", error)
            self.available = False
            return
        root.withdraw()
        root.title(STATUS_TITLE)
        set_app_icon(root)
        edit_keys.install(root)  # Ctrl+V and the right-click menu in any keyboard layout
        self.root = root
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


def set_app_icon(root: tk.Tk) -> None:
    """The app icon on every window (title bar, taskbar, Alt+Tab) of this Tk root."""
    images = []
    for size in (16, 32, 64):
        data = io.BytesIO()
        draw_icon(APP_ICON_COLOR, size).save(data, format="PNG")
        images.append(tk.PhotoImage(master=root, data=base64.b64encode(data.getvalue()).decode()))
    try:
        root.iconphoto(True, *images)  # True: also for every Toplevel made later
    except tk.TclError as error:
        log.info("no window icon: %s", error)
    root._gigachat_icons = images  # type: ignore[attr-defined] - Tk needs them kept alive


def bring_to_front(window: tk.Toplevel, focus: tk.Widget) -> None:
    window.deiconify()
    window.lift()
    window.attributes("-topmost", True)
    window.after(200, lambda: window.attributes("-topmost", False))
    window.focus_force()
    focus.focus_set()


class Background:
    """Runs one slow call at a time off the UI thread and delivers its outcome back to it."""

    def __init__(self, window: tk.Toplevel, name: str, workers: Workers | None = None) -> None:
        self.window, self.name = window, name
        self.workers = workers or Workers()
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

        self.workers.start(self.name, target)
        self.root.after(POLL_MS, lambda: self._deliver(done))

    def _deliver(self, done) -> None:
        try:
            result, error = self._results.get_nowait()
        except queue.Empty:
            if alive(self.window):
                self.root.after(POLL_MS, lambda: self._deliver(done))
            return
        self.busy = False
        if alive(self.window):
            done(result, error)


class Window:
    """What every window of the tray shares: one Toplevel, shown in front, closed on request.

    Subclasses set `self.window`; `focus_name` names the attribute holding the widget that gets
    the keyboard when the window is brought forward (the window itself by default).
    """

    window: tk.Toplevel
    focus_name: str = "window"

    def is_open(self) -> bool:
        return alive(self.window)

    def show(self) -> None:
        bring_to_front(self.window, getattr(self, self.focus_name))

    def close(self) -> None:
        self.window.destroy()


def alive(widget: tk.Misc) -> bool:
    try:
        return bool(widget.winfo_exists())
    except tk.TclError:
        return False


def message_of(error: BaseException) -> str:
    if isinstance(error, BridgeError):
        return error.message
    log.error("unexpected error in a dialog: %r", type(error).__name__)
    return "Непредвиденная ошибка, подробности в журнале."
