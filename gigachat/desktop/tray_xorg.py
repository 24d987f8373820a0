"""Three fixes for pystray 0.19.5's xorg backend (pinned in requirements.txt).

1. Its window title is written as Latin-1 WM_NAME, so a Russian tooltip raises
   UnicodeEncodeError; we also write the UTF-8 _NET_WM_NAME (atoms interned up front:
   a round trip from inside the loop can deadlock python-xlib).
2. Its window never selects ButtonPressMask (pystray issue #151), so clicks never arrive
   and the default action (our status window) can't open; we add the mask at creation.
3. Other threads update the icon by sending its loop a message over the loop's own X
   connection, which python-xlib does not survive reliably (updates and stop() hang now
   and then). We send those messages over a second connection instead, wait for the loop's
   answer at most DISPATCH_TIMEOUT (pystray waits forever), and as a last resort, if the loop
   still runs 2 s after stop(), interrupt its read with a signal.

They touch pystray internals (`_window`, `_display`, `_events`), so they apply to the xorg
backend only; other backends get pystray's own Icon.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import signal
import threading

log = logging.getLogger(__name__)

WAKE_SIGNAL = getattr(signal, "SIGUSR1", None)
DISPATCH_TIMEOUT = 5.0  # seconds another thread waits for the loop to run an icon update


class LoopInterrupted(Exception):
    """Raised in the loop's thread to end a loop that missed its DestroyNotify."""


def _raise_interrupted(*_args) -> None:
    raise LoopInterrupted()


def _is_xorg(icon_cls) -> bool:
    return any(cls.__module__.endswith("._xorg") for cls in icon_cls.__mro__)


def on_backdrop(window, icon, width: int, height: int):
    """The icon drawn for a width x height tray slot: square, centred, crisp (redrawn at that
    size when it is a state icon), composited over what the tray shows behind the window.
    Also whether that background could be read (else it is drawn again at the next expose)."""
    import Xlib.X  # noqa: PLC0415
    from PIL import Image  # noqa: PLC0415

    from gigachat.desktop.icons import state_icon  # noqa: PLC0415

    backdrop, ok = Image.new("RGB", (width, height), (0, 0, 0)), False
    with contextlib.suppress(Exception):  # not mapped yet (BadMatch): black for now
        window.clear_area(0, 0, width, height)  # paints the parent-relative background
        raw = window.get_image(0, 0, width, height, Xlib.X.ZPixmap, 0xFFFFFFFF)
        if len(raw.data) >= width * height * 4:
            backdrop = Image.frombytes("RGB", (width, height), bytes(raw.data), "raw", "BGRX")
            ok = True
    side = min(width, height)
    if side < 8:  # not laid out yet: nothing sensible to draw
        return backdrop, False
    state = icon.info.get("state")
    image = state_icon(state, side) if state and side >= 16 else icon.resize(
        (side, side), Image.Resampling.LANCZOS)
    layer = Image.new("RGBA", (width, height), (0, 0, 0, 0))
    layer.paste(image.convert("RGBA"), ((width - side) // 2, (height - side) // 2))
    return Image.alpha_composite(backdrop.convert("RGBA"), layer).convert("RGB"), ok


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
            self._backdrop_ok = False  # the tray's background was read: the drawing can be kept
            super().__init__(*args, **kwargs)
            # Still single-threaded here: no loop yet, so these X calls race with nothing.
            display = self._display
            self._utf8_name = display.intern_atom("_NET_WM_NAME")
            self._utf8_string = display.intern_atom("UTF8_STRING")
            self._window.change_attributes(
                event_mask=Xlib.X.ExposureMask | Xlib.X.StructureNotifyMask | Xlib.X.ButtonPressMask,
                background_pixmap=Xlib.X.ParentRelative)  # the tray's own background shows
            display.flush()

        def _assert_icon_data(self, width, height):
            """pystray pastes the icon, stretched to the window and without its alpha, on black
            (black corners); we draw it square at the window's size over the tray's background."""
            if self._icon_data and self._icon_data.size == (width, height) and self._backdrop_ok:
                return
            self._icon_data, self._backdrop_ok = on_backdrop(self._window, self._icon, width, height)
            self._icon_data.tostring = self._icon_data.tobytes

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
                try:  # pystray's handler runs `original` in the loop and answers here
                    result = self._queue.get(timeout=DISPATCH_TIMEOUT)
                except queue.Empty:  # a stuck or finished loop must not hang the caller
                    log.warning("tray icon loop did not run %s within %.0f s",
                                original.__name__, DISPATCH_TIMEOUT)
                    return None
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
            if not self.loop_done.is_set():  # a finished loop would never answer the message
                super().stop()
            if (not self.loop_done.wait(2.0) and WAKE_SIGNAL is not None
                    and self.loop_thread is threading.main_thread()):
                log.info("tray icon loop missed its stop; interrupting it")
                signal.pthread_kill(self.loop_thread.ident, WAKE_SIGNAL)
            with self._sender_lock, contextlib.suppress(Exception):  # already closed is fine
                self._sender.close()

    return XorgIcon
