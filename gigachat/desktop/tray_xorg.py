"""Four fixes for pystray 0.19.5's xorg backend (pinned in requirements.txt).

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
4. It asks the tray to dock the icon again at every icon change; trayer then re-embeds the
   window and now and then leaves it 1 px wide (an invisible icon). It also loses the icon for
   good when the tray restarts (a panel restart, a new session over RDP). We dock only when
   not docked; ask again while the icon is not in a tray (trayer ignores a request for a
   window id it still remembers, as when the bridge restarts at once and X reuses the id) and
   when a new tray announces itself (the MANAGER message of the freedesktop system tray spec);
   and ask for a square again when a tray squeezes the icon below a usable size.

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
MIN_SIDE = 8  # pixels: a docked icon narrower or lower than this is squeezed, not shown
MAX_RESIZES = 5  # times in a row a squeezed icon asks the tray for a square
DOCK_RETRY = (2.0, 30.0)  # seconds: first and longest wait before asking a tray again


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
            self._docked_in = 0  # the window of the tray that holds the icon (0: none)
            self._resizes = self._retries = 0
            self._watch_stop = threading.Event()
            self._watch: threading.Thread | None = None
            super().__init__(*args, **kwargs)
            # Still single-threaded here: no loop yet, so these X calls race with nothing.
            display = self._display
            self._utf8_name = display.intern_atom("_NET_WM_NAME")
            self._utf8_string = display.intern_atom("UTF8_STRING")
            self._manager = display.intern_atom("MANAGER")
            self._dock_again = display.intern_atom("_GIGACHAT_DOCK_AGAIN")
            self._root = display.screen().root
            self._root.change_attributes(event_mask=Xlib.X.StructureNotifyMask)  # MANAGER arrives here
            self._message_handlers[Xlib.X.ReparentNotify] = self._on_reparent
            self._message_handlers[Xlib.X.ConfigureNotify] = self._on_configure
            pystray_messages = self._message_handlers[Xlib.X.ClientMessage]
            self._message_handlers[Xlib.X.ClientMessage] = (
                lambda event: self._on_tray_message(event) or pystray_messages(event))
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
            target = self._sender_window = self._sender.create_resource_object("window", self._window.id)
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

        def _update_icon(self):
            if not self._docked_in:  # pystray's: dock, then draw
                return super()._update_icon()
            self._icon_data = None  # docked already: a second dock request re-embeds the window
            self._draw()
            self._icon_valid = True
            return None

        def _on_reparent(self, event):
            if event.window.id == self._window.id:
                self._docked_in = 0 if event.parent.id == self._root.id else event.parent.id
                self._retries = 0 if self._docked_in else self._retries

        def _on_configure(self, event):
            """Redraw at the new size; a docked icon squeezed to a sliver asks for a square."""
            if event.window.id != self._window.id:
                return
            side = max(event.width, event.height)
            squeezed = self._docked_in and min(event.width, event.height) < MIN_SIDE
            if squeezed and side >= MIN_SIDE and self._resizes < MAX_RESIZES:
                self._resizes += 1
                log.info("the tray gave the icon %dx%d px; asking for %dx%d",
                         event.width, event.height, side, side)
                self._window.configure(width=side, height=side)  # a request to the tray's socket
                self._display.flush()
                return
            if not squeezed:
                self._resizes = 0
            self._on_expose(event)

        def _watch_docking(self):
            """Wakes the loop to ask for docking again while the icon is in no tray."""
            wait = DOCK_RETRY[0]
            message = Xlib.protocol.event.ClientMessage(
                window=self._window.id, client_type=self._dock_again,
                data=(32, (Xlib.X.CurrentTime, 0, 0, 0, 0)))
            while not self._watch_stop.wait(wait):
                if self._docked_in:
                    wait = DOCK_RETRY[0]
                    continue
                with self._sender_lock, contextlib.suppress(Exception):  # closed at the end: fine
                    self._sender_window.send_event(message, event_mask=Xlib.X.NoEventMask)
                    self._sender.flush()
                wait = min(wait * 2, DOCK_RETRY[1])

        def _on_tray_message(self, event) -> bool:
            """A tray started (MANAGER for our screen's tray selection), or the watch found the
            icon in no tray: ask for docking."""
            if event.client_type == self._dock_again:
                if not self._docked_in and self.visible:  # a hidden icon stays out
                    self._retries += 1
                    if self._retries == 1:  # once per spell out of the tray (the watch repeats it)
                        log.info("the icon is in no tray; asking the tray again")
                    self._dock_window()
                return True
            if event.client_type != self._manager or event.data[1][1] != self._net_system_tray_sx:
                return False
            self._systray_manager = None
            if self.visible:
                log.info("a system tray started; docking the icon")
                self._dock_window()
            return True

        def _on_destroy_notify(self, event):
            # pystray's logs a traceback when the tray goes away and no other one is there yet
            if self._systray_manager is None or event.window.id != self._systray_manager.id:
                return
            log.info("the system tray went away; the icon returns when a tray starts")
            self._systray_manager = None
            self._dock_window()  # another tray may own the selection already

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
            self._watch = threading.Thread(target=self._watch_docking, name="tray-dock-watch",
                                           daemon=True)
            self._watch.start()
            try:
                super().run(setup)
            finally:
                self.loop_done.set()
                self._watch_stop.set()

        def stop(self):
            if not self.loop_done.is_set():  # a finished loop would never answer the message
                super().stop()
            if (not self.loop_done.wait(2.0) and WAKE_SIGNAL is not None
                    and self.loop_thread is threading.main_thread()):
                log.info("tray icon loop missed its stop; interrupting it")
                signal.pthread_kill(self.loop_thread.ident, WAKE_SIGNAL)
            self._watch_stop.set()
            if self._watch is not None:
                self._watch.join(2.0)
            with self._sender_lock, contextlib.suppress(Exception):  # already closed is fine
                self._sender.close()

    return XorgIcon
