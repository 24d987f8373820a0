"""Issue 16, items 7 and 9: one window per kind, «О программе» and «Файлы для 1С».

The real tray app with its real UI thread on Xvfb (the icon itself is a stand-in, as in
test_tray_menu.py): a second «Ключ авторизации…» brings the open dialog forward instead of
opening another; «О программе» shows the version and opens the 1C kit folder.
"""

from __future__ import annotations

from gigachat import __version__
from gigachat.core.settings import Settings
from gigachat.desktop import about
from gigachat.desktop.tray import TrayApp
from gigachat.desktop.tray_control import TrayController
from gigachat.desktop.ui_thread import UiThread
from tests import xrig
from tests.conftest import wait_for
from tests.test_tray_menu import MemoryStore, StubIcon, pystray  # noqa: F401 - module fixture

xdisplay = xrig.xdisplay  # session fixture


def visible(display, cls: str) -> list[int]:
    return display.search("--onlyvisible", "--class", f"^{cls}$")


def test_second_click_focuses_the_open_dialog_and_about_shows_the_kit(
        pystray, xdisplay, monkeypatch):  # noqa: F811
    monkeypatch.setenv("DISPLAY", xdisplay.name)
    opened: list = []
    monkeypatch.setattr("gigachat.desktop.shell.open_path", lambda path: opened.append(path))
    controller = TrayController(Settings(port=0), demo=True, store=MemoryStore()).start()
    ui = UiThread()
    app = TrayApp(controller, ui=ui, pystray=pystray)
    app.icon = StubIcon()
    try:
        app.open_key_dialog()
        first = wait_for(lambda: visible(xdisplay, "GigaChatKeyDialog"), timeout=60)
        app.open_key_dialog()
        app.open_settings()
        app.open_settings()
        wait_for(lambda: len(visible(xdisplay, "GigaChatSettings")) == 1, timeout=60)
        assert visible(xdisplay, "GigaChatKeyDialog") == first  # still the one dialog

        app.show_about()
        about_window = wait_for(lambda: visible(xdisplay, about.ABOUT_CLASS), timeout=60)
        app.show_about()
        wait_for(lambda: ui.windows.get("about") is not None, timeout=30)
        assert visible(xdisplay, about.ABOUT_CLASS) == about_window
        seen: dict = {}

        def inspect(root) -> None:  # Tk objects are touched in the UI thread only
            window = ui.windows["about"]
            seen["button"] = window.buttons[about.ONEC_FOLDER].cget("text")
            window.buttons[about.ONEC_FOLDER].invoke()
            window.buttons["Руководство для 1С"].invoke()
            frame = window.window.winfo_children()[0]
            seen["texts"] = " ".join(str(w.cget("text")) for w in frame.winfo_children()
                                     if w.winfo_class() in ("Label", "TLabel"))
        ui.call(inspect)
        wait_for(lambda: "texts" in seen, timeout=30)
        assert seen["button"] == "Файлы для 1С" and __version__ in seen["texts"]
        folder = about.onec_folder()
        assert opened == [folder, folder / about.GUIDE]
        assert (folder / about.GUIDE).is_file() and any(folder.glob("*.bsl"))
        assert xdisplay.window_title(about_window[0]) == about.ABOUT_TITLE

        app.open_onec_folder()  # the menu item
        assert opened[-1] == folder
    finally:
        ui.stop()
        controller.stop()
