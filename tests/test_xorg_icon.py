"""Issue 16, items 3 and 4: the xorg tray icon (the frozen Linux build's backend) looks right
and stays in the tray.

pystray's xorg backend pasted the icon without its alpha on black and stretched it to the
window: black corners. Now it is drawn square over the tray's own background. Real trayer on
Xvfb; the icon's window is photographed (build/screenshots/xorg-tray-icon.png).
"""

from __future__ import annotations

import contextlib
import re
import subprocess
import sys
import threading

import pytest
import requests

from gigachat.desktop.icons import COLORS
from tests import screens, xrig
from tests.conftest import wait_for
from tests.xrig import TrayProcess, icon_windows

xdisplay, tray_host = xrig.xdisplay, xrig.tray_host  # session fixtures

GREEN, RED = xrig.hex_rgb(COLORS["green"]), xrig.hex_rgb(COLORS["red"])


def test_the_icon_has_the_trays_background_in_its_corners_not_black(tray_host):
    app = TrayProcess(tray_host, "--demo", "--port", "0")
    try:
        app.wait_line(r"tray icon shown")
        window = wait_for(lambda: (icon_windows(tray_host) or [None])[0], timeout=xrig.TRAY_DEADLINE)
        x, y, w, h = tray_host.geometry(window)
        green = xrig.hex_rgb("#21a038")

        def drawn():  # green in the middle: the icon is painted (a state change redraws it too)
            shot = tray_host.screenshot()
            return shot if xrig.has_color(shot, (x + w // 4, y + h // 4, w // 2, h // 2), green,
                                          share=0.1) else None
        shot = wait_for(drawn, timeout=xrig.TRAY_DEADLINE, interval=0.2)
        screens.save(shot.crop((x - 8, y, x + w + 8, y + h)).resize(((w + 16) * 4, h * 4)),
                     "xorg-tray-icon-x4")
        corners = [shot.getpixel(c) for c in ((x, y), (x + w - 1, y), (x, y + h - 1), (x + w - 1, y + h - 1))]
        assert all(pixel != (0, 0, 0) for pixel in corners), corners  # black corners were the bug
        first = corners[0]  # the tray's background, the same in every corner
        assert all(all(abs(a - b) <= 12 for a, b in zip(p, first, strict=True)) for p in corners), corners
    finally:
        assert app.stop() == 0


def test_a_state_change_redraws_the_icon_where_it_is_docked(tray_host):
    """pystray asked the tray to dock the icon again at every change of the icon; trayer then
    re-embedded the window and now and then left it 1 px wide: an invisible icon."""
    app = TrayProcess(tray_host, "--demo", "--port", "0")
    try:
        url, emulator = app.url(), app.emulator_url()
        window = xrig.wait_icon(tray_host, GREEN, app)
        holder = tray_host.parent(window)
        for path, body in (("/config", {"reject_keys": True}), ("/tokens/revoke", None)):
            requests.post(emulator + "/_emulator" + path, json=body, timeout=10).raise_for_status()
        requests.post(url + "/analyze/text", json={"text": "Привет"}, timeout=60)
        assert xrig.wait_icon(tray_host, RED, app) == window
        assert tray_host.parent(window) == holder  # the same place in the tray, not docked anew
        assert min(tray_host.geometry(window)[2:]) >= 16
    finally:
        assert app.stop() == 0


def test_the_icon_comes_back_when_the_tray_restarts(tmp_path):
    """A panel restart (or a tray that starts after the bridge) gets the icon: the program
    docks again when a new tray announces itself."""
    process, name = xrig._start_xvfb()
    display = xrig.XDisplay(name)
    first = xrig.start_trayer(display, tmp_path / "first.log")
    app = TrayProcess(display, "--demo", "--port", "0")
    second = None
    try:
        app.url()
        window = xrig.wait_icon(display, GREEN, app)
        first.terminate()
        first.wait(30)
        wait_for(lambda: xrig._tray_owner(name) == 0, timeout=30)
        app.wait_line(r"the system tray went away")
        second = xrig.start_trayer(display, tmp_path / "second.log")
        assert xrig.wait_icon(display, GREEN, app) == window
        app.wait_line(r"a system tray started; docking the icon")
        assert "Traceback" not in app.output
    finally:
        assert app.stop() == 0
        for tray in (first, second):
            if tray is not None and tray.poll() is None:
                tray.terminate()
                tray.wait(10)
        process.terminate()
        process.wait(10)


@pytest.fixture
def bare_display():
    """A display of its own, with no tray yet."""
    process, name = xrig._start_xvfb()
    yield xrig.XDisplay(name)
    process.terminate()
    process.wait(10)


@contextlib.contextmanager
def mini_tray(display: xrig.XDisplay, *options: str):
    """tests/mini_tray.py on `display`, once it owns the tray selection; its output lines."""
    lines: list[str] = []
    tray = subprocess.Popen([sys.executable, "-m", "tests.mini_tray", display.name, *options],
                            cwd=xrig.ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    reader = threading.Thread(target=lambda: lines.extend(tray.stdout), name="test-mini-tray", daemon=True)
    reader.start()
    try:
        wait_for(lambda: xrig._tray_owner(display.name), timeout=xrig.TRAY_DEADLINE, interval=0.1)
        yield lines
    finally:
        tray.terminate()
        tray.wait(10)
        reader.join(5)


def test_a_tray_that_ignores_the_dock_request_is_asked_again(bare_display):
    """trayer ignores a request for a window id it still remembers (a bridge restarted at once
    gets the same id from X): the icon asks again until it is in the tray."""
    with mini_tray(bare_display, "--ignore", "4") as tray:
        app = TrayProcess(bare_display, "--demo", "--port", "0")
        try:
            app.url()
            xrig.wait_icon(bare_display, GREEN, app)
            assert "dock request 5\n" in tray and "docked\n" in tray
            assert len(re.findall(r"the icon is in no tray; asking the tray again", app.output)) == 1
        finally:
            assert app.stop() == 0


def test_an_icon_squeezed_to_a_sliver_asks_the_tray_for_a_square(bare_display):
    """A tray that gives the icon a 1 px wide slot (seen in trayer) is asked for a square."""
    with mini_tray(bare_display, "--squeeze"):
        app = TrayProcess(bare_display, "--demo", "--port", "0")
        try:
            app.url()
            window = xrig.wait_icon(bare_display, GREEN, app)
            assert bare_display.geometry(window)[2:] == (30, 30)
            app.wait_line(r"the tray gave the icon 1x30 px; asking for 30x30")
        finally:
            assert app.stop() == 0
