"""Issue 16, item 3: a desktop with no tray host (GNOME without the AppIndicator extension).

On a private Xvfb display with no system tray and a D-Bus session with no
StatusNotifierWatcher, tray_app.py (Debian's python3-gi, so pystray picks appindicator; and the
xorg backend) must say so in the log, send a notification naming the address and how to get an
icon, and open the status window instead: photographed to build/screenshots/.
"""

from __future__ import annotations

import os
import re
import subprocess
import threading
from pathlib import Path

import pytest
import requests

from gigachat.desktop.tray_host import NO_HOST_ADVICE
from tests import screens, sysvenv, xrig
from tests.conftest import need, wait_for

ROOT = Path(__file__).resolve().parent.parent
system_venv = sysvenv.system_venv  # session fixture


@pytest.fixture
def bare_display():
    """An X display of its own: nothing owns the system tray selection."""
    need(bool(os.environ.get("DBUS_SESSION_BUS_ADDRESS")), "a D-Bus session (scripts/with-keyring.sh)")
    process, name = xrig._start_xvfb()
    yield xrig.XDisplay(name)
    process.terminate()
    process.wait(10)


@pytest.mark.parametrize("backend", ["appindicator", "xorg"])
def test_without_a_tray_host_the_status_window_opens_and_says_why(system_venv, bare_display, backend):
    env = {**os.environ, "DISPLAY": bare_display.name, "PYSTRAY_BACKEND": backend}
    lines: list[str] = []
    app = subprocess.Popen([str(system_venv), str(ROOT / "tray_app.py"), "--demo", "--port", "0"],
                           cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    reader = threading.Thread(target=lambda: lines.extend(app.stdout), daemon=True)
    reader.start()
    try:
        def output_has(pattern: str):
            if app.poll() is not None:
                raise AssertionError(f"exited ({app.returncode}):\n{''.join(lines)}")
            return re.search(pattern, "".join(lines))
        url = wait_for(lambda: output_has(r"запущен: (http://\S+)"), timeout=90).group(1)
        wait_for(lambda: output_has("no tray host: the icon is invisible"), timeout=60)
        notice = wait_for(lambda: output_has(r"notification: Мост ГигаЧат работает без значка — (.*)"),
                          timeout=60).group(1)
        assert "gnome-shell-extension-appindicator" in notice and url in notice
        window = wait_for(lambda: bare_display.search("--onlyvisible", "--class", "^GigaChatStatus$"),
                          timeout=60)[0]
        x, y, w, h = bare_display.geometry(window)

        def painted():  # the window's text is drawn: not one flat colour any more
            shot = bare_display.screenshot().crop((x, y, x + w, y + h))
            return shot if len(set(shot.get_flattened_data())) > 20 else None
        shot = wait_for(painted, timeout=60, interval=0.2)
        screens.save(shot, f"no-tray-host-{backend}")
        assert w > 300 and h > 150
        assert requests.get(url + "/health", timeout=10).status_code == 200  # the bridge serves
        assert NO_HOST_ADVICE.split(":")[0] in "".join(lines) or "no tray host" in "".join(lines)
    finally:
        app.terminate()
        try:
            assert app.wait(10) == 0, "".join(lines)
        finally:
            if app.poll() is None:
                app.kill()
            reader.join(5)
