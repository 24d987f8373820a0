"""Is there anything on this Linux desktop that can show a tray icon?

Two kinds of hosts exist: the XEmbed system tray (an X11 client owns the selection
_NET_SYSTEM_TRAY_S<screen>: trayer, xfce4-panel, tint2, MATE, KDE's legacy tray) and the
StatusNotifierItem host that AppIndicator talks to (the name org.kde.StatusNotifierWatcher on
the session bus: KDE, GNOME with the AppIndicator extension, many panels). With neither, the
icon is invisible (GNOME without the extension): the program must say so and show its window.
Windows and macOS always have a tray: `host_present()` is True there.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import sys

log = logging.getLogger(__name__)

SNI_WATCHER = "org.kde.StatusNotifierWatcher"
LINUX_BACKENDS = ("pystray._xorg", "pystray._gtk", "pystray._appindicator")
NO_HOST_ADVICE = (
    "Значок моста в трее не виден: на этом рабочем столе нет области уведомлений (трея). "
    "Мост работает, его состояние и команды — в окне «Мост ГигаЧат для 1С». Чтобы значок "
    "появился, в GNOME установите расширение AppIndicator: sudo apt install "
    "gnome-shell-extension-appindicator, затем выйдите из сеанса и войдите снова."
)


def xembed_tray(display_name: str | None = None) -> bool:
    """An X11 client owns the _NET_SYSTEM_TRAY selection of the default screen."""
    try:
        from Xlib import display as xdisplay  # noqa: PLC0415 - Linux tray mode only
    except ImportError:
        return False
    try:
        connection = xdisplay.Display(display_name)
    except Exception:  # no X display (Wayland without XWayland, headless): no XEmbed tray
        return False
    try:
        atom = connection.intern_atom(f"_NET_SYSTEM_TRAY_S{connection.get_default_screen()}")
        return bool(getattr(connection.get_selection_owner(atom), "id", 0))
    finally:
        connection.close()


def sni_watcher() -> bool:
    """The session bus has a StatusNotifierWatcher (an AppIndicator host)."""
    if not os.environ.get("DBUS_SESSION_BUS_ADDRESS"):
        return False
    tool = shutil.which("dbus-send")
    if tool is None:
        return False
    try:
        done = subprocess.run(
            [tool, "--session", "--print-reply", "--dest=org.freedesktop.DBus",
             "/org/freedesktop/DBus", "org.freedesktop.DBus.NameHasOwner", f"string:{SNI_WATCHER}"],
            capture_output=True, text=True, timeout=5, check=False)
    except (OSError, subprocess.SubprocessError):
        return False
    return done.returncode == 0 and "boolean true" in done.stdout


def host_present(backend: str) -> bool:
    """Whether the icon of this pystray backend (module name, e.g. "pystray._xorg") can be seen."""
    if sys.platform in ("win32", "darwin") or backend not in LINUX_BACKENDS:
        return True
    # libappindicator falls back to XEmbed; gtk (GtkStatusIcon) and xorg are XEmbed icons
    found = (backend.endswith("_appindicator") and sni_watcher()) or xembed_tray()
    if not found:
        log.warning("no tray host for %s: no %s on the session bus, no XEmbed system tray",
                    backend, SNI_WATCHER)
    return found
