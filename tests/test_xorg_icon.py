"""Issue 16, item 4: the xorg tray icon (the frozen Linux build's backend) looks right.

pystray's xorg backend pasted the icon without its alpha on black and stretched it to the
window: black corners. Now it is drawn square over the tray's own background. Real trayer on
Xvfb; the icon's window is photographed (build/screenshots/xorg-tray-icon.png).
"""

from __future__ import annotations

from tests import screens, xrig
from tests.conftest import wait_for
from tests.xrig import TrayProcess, icon_windows

xdisplay, tray_host = xrig.xdisplay, xrig.tray_host  # session fixtures


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
