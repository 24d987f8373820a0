"""The OS keyring backend, chosen once per process, safely for a program with a GUI loop.

keyring picks its backend on first use by asking every installed backend for its priority,
and it does so without a lock. On Linux, when Debian's python3-dbus is importable (a venv made
with --system-site-packages for python3-gi), the KWallet backend's probe opens a libdbus
session-bus connection attached to the GLib main loop, with libdbus's "exit on disconnect" on.
Two threads probing at once (the token manager and the tray) each open one; dbus-python keeps
only the last and closes the others, and when the tray's GLib loop dispatches such a closed
connection libdbus calls _exit(1): the program vanishes with nothing in the log.

So the choice is made once, under a lock, and afterwards no dbus-python bus connection may
end the process when it is closed or the session bus goes away.
"""

from __future__ import annotations

import contextlib
import logging
import sys
import threading

import keyring
import keyring.backend

log = logging.getLogger(__name__)

_lock = threading.Lock()
_disarmed = False


def get_backend() -> keyring.backend.KeyringBackend:
    """keyring.get_keyring(), with the first choice made by one thread at a time."""
    global _disarmed
    with _lock:
        backend = keyring.get_keyring()
        if not _disarmed:
            _disarmed = True
            disarm_dbus_exit()
            log.info("keyring backend: %s", type(backend).__name__)
    return backend


def disarm_dbus_exit() -> int:
    """Turn off libdbus's exit-on-disconnect on dbus-python's shared bus connections (the ones
    a keyring probe leaves behind); returns how many were changed. No dbus-python: 0."""
    dbus = sys.modules.get("dbus")
    shared = getattr(getattr(dbus, "Bus", None), "_shared_instances", None)
    if not isinstance(shared, dict):
        return 0
    changed = 0
    for bus in list(shared.values()):
        with contextlib.suppress(Exception):  # an already closed connection: nothing to guard
            bus.set_exit_on_disconnect(False)
            changed += 1
    if changed:
        log.info("dbus-python session bus left by the keyring probe: exit on disconnect is off")
    return changed
