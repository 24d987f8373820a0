"""Three fixes for pystray 0.19.5's xorg backend (pinned in requirements.txt).

1. Its window title is written as Latin-1 WM_NAME, so a Russian tooltip raises
   UnicodeEncodeError; we also write the UTF-8 _NET_WM_NAME (atoms interned up front:
   a round trip from inside the loop can deadlock python-xlib).
2. Its window never selects ButtonPressMask (pystray issue #151), so clicks never arrive
   and the default action (our status window) can't open; we add the mask at creation.
3. Other threads update the icon by sending its loop a message over the loop's own X
   connection, which python-xlib does not survive reliably (updates and stop() hang now
   and then). We send those messages over a second connection instead, and as a last
   resort, if the loop still runs 2 s after stop(), interrupt its read with a signal.

They touch pystray internals (`_window`, `_display`, `_events`), so they apply to the xorg
backend only; other backends get pystray's own Icon.
"""

from __future__ import annotations

import contextlib
import logging
import signal
import threading

log = logging.getLogger(__name__)

WAKE_SIGNAL = getattr(signal, "SIGUSR1", None)


class LoopInterrupted(Exception):
    """Raised in the loop's thread to end a loop that missed its DestroyNotify."""


def _raise_interrupted(*_args) -> None:
    raise LoopInterrupted()


def _is_xorg(icon_cls) -> bool:
    return any(cls.__module__.endswith("._xorg") for cls in icon_cls.__mro__)


def icon_class(pystray):
    """pystray.Icon, or on the xorg backend the fixed subclass described above."""
    base = pystray.Icon
    if not _is_xorg(base):
        return base
    import Xlib.display  # noqa: PLC0415 - present whenever the xorg backend is
    import Xlib.protocol.event  # noqa: PLC0415
    import Xlib.X  # noqa: PLC0415

    class XorgIcon(base):
        def __init__(self, *args, **kwargs):
            self.loop_done = threading.Event()
            self.loop_thread: threading.Thread | None = None
            super().__init__(*args, **kwargs)
            # Still single-threaded here: no loop yet, so these X calls race with nothing.
            display = self._display
            self._utf8_name = display.intern_atom("_NET_WM_NAME")
            self._utf8_string = display.intern_atom("UTF8_STRING")
            self._window.change_attributes(
                event_mask=Xlib.X.ExposureMask | Xlib.X.StructureNotifyMask | Xlib.X.ButtonPressMask)
            display.flush()

        def _rewrite_implementation(self, *originals):
            """Like pystray's, but other threads wake the loop through a connection of their
            own: the loop's connection is then used by the loop thread only (python-xlib
            can deadlock when a second thread flushes while the loop reads)."""
            super()._rewrite_implementation(*originals)
            self._sender = Xlib.display.Display(self._display.get_display_name())
            self._sender_lock = threading.Lock()
            target = self._sender.create_resource_object("window", self._window.id)
            for original in originals:
                atom = self._display.intern_atom(f"_PYSTRAY_{original.__name__.upper()}")
                setattr(self, original.__name__, self._dispatcher(original, atom, target))

        def _dispatcher(self, original, atom, target):
            def call():
                if threading.current_thread() is self.loop_thread:
                    return original()
                message = Xlib.protocol.event.ClientMessage(
                    window=target.id, client_type=atom, data=(32, (Xlib.X.CurrentTime, 0, 0, 0, 0)))
                with self._sender_lock:
                    target.send_event(message, event_mask=Xlib.X.NoEventMask)
                    self._sender.flush()
                result = self._queue.get()  # pystray's handler runs `original` in the loop
                if result is not True:
                    raise result[1].with_traceback(result[2])
                return None
            return call

        def _update_title(self):
            # Runs in the loop thread (pystray dispatches it there); one-way requests only.
            # An X window title is one line: the tooltip's lines are joined.
            title = " · ".join(self.title.splitlines())
            self._window.change_property(self._utf8_name, self._utf8_string, 8,
                                         title.encode("utf-8"))
            self._window.set_wm_name(title.encode("latin-1", "replace").decode("latin-1"))
            self._display.flush()

        def _mainloop(self):
            # pystray's loop, minus its catch-all that would log our LoopInterrupted as an error
            try:
                for event in self._events():
                    if event.type == Xlib.X.DestroyNotify and event.window == self._window:
                        break
                    self._message_handlers.get(event.type, lambda e: None)(event)
            except LoopInterrupted:
                log.info("tray icon loop interrupted after stop")
            except Exception:
                log.exception("error in the tray icon loop")

        def run(self, setup=None):
            self.loop_thread = threading.current_thread()
            if WAKE_SIGNAL is not None and self.loop_thread is threading.main_thread():
                signal.signal(WAKE_SIGNAL, _raise_interrupted)
            try:
                super().run(setup)
            finally:
                self.loop_done.set()

        def stop(self):
            super().stop()
            if (not self.loop_done.wait(2.0) and WAKE_SIGNAL is not None
                    and self.loop_thread is threading.main_thread()):
                log.info("tray icon loop missed its stop; interrupting it")
                signal.pthread_kill(self.loop_thread.ident, WAKE_SIGNAL)
            with self._sender_lock, contextlib.suppress(Exception):  # already closed is fine
                self._sender.close()

    return XorgIcon
