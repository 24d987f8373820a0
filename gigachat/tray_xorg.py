"""Two fixes for pystray 0.19.5's xorg backend (pinned in requirements.txt).

1. Its window title is written as Latin-1 WM_NAME, so a Russian tooltip raises
   UnicodeEncodeError; we also write the UTF-8 _NET_WM_NAME.
2. Its window never selects ButtonPressMask (pystray issue #151), so clicks never arrive
   and the default action (our status window) can't open; we add the mask.

Both touch pystray internals (`_window`, `_display`), so they are guarded: on any other
backend or pystray version they do nothing.
"""

from __future__ import annotations

import logging

log = logging.getLogger(__name__)


def _is_xorg(icon_cls) -> bool:
    return icon_cls.__module__.endswith("._xorg")


def icon_class(pystray):
    """pystray.Icon, or on the xorg backend a subclass that can show a Russian title."""
    base = pystray.Icon
    if not _is_xorg(base):
        return base

    class XorgIcon(base):
        def _update_title(self):
            display, window = getattr(self, "_display", None), getattr(self, "_window", None)
            if display is None or window is None:
                return
            window.change_property(display.intern_atom("_NET_WM_NAME"),
                                   display.intern_atom("UTF8_STRING"), 8, self.title.encode("utf-8"))
            window.set_wm_name(self.title.encode("latin-1", "replace").decode("latin-1"))
            display.flush()

    return XorgIcon


def after_visible(icon) -> None:
    """Let the xorg icon window receive mouse clicks (call once the icon is visible)."""
    if not _is_xorg(type(icon)):
        return
    try:
        import Xlib.X  # noqa: PLC0415

        icon._window.change_attributes(
            event_mask=Xlib.X.ExposureMask | Xlib.X.StructureNotifyMask | Xlib.X.ButtonPressMask)
        icon._display.flush()
    except Exception:  # an unexpected pystray version: the icon still shows, just no clicks
        log.warning("could not enable clicks on the xorg tray icon", exc_info=True)
