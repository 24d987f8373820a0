"""The tray icon (pystray): image and tooltip follow the controller's state, the menu runs its actions.

pystray is imported only here, and only in tray mode: on Linux its import needs a display.
"""

from __future__ import annotations

import logging
import threading

from gigachat import APP_NAME
from gigachat.desktop import shell
from gigachat.desktop.dialogs import KeyDialog, SettingsDialog, StatusWindow, UiThread
from gigachat.desktop.icons import draw_icon
from gigachat.desktop.tray_control import TrayController
from gigachat.desktop.tray_state import Appearance

log = logging.getLogger(__name__)

ICON_NAME = APP_NAME  # also the X11 window class, used by the tests to find the icon
ICON_SIZE = 64
FIRST_RUN_INTRO = ("Чтобы мост заработал, вставьте ключ авторизации ГигаЧат из личного кабинета "
                   "developers.sber.ru. Ключ хранится в системном хранилище паролей.")


def load_pystray():
    """Import pystray. The backend is pystray's choice (win32 on Windows; appindicator, gtk or
    xorg on Linux) unless PYSTRAY_BACKEND says otherwise. Raises if there is no display."""
    import pystray  # noqa: PLC0415

    return pystray


class TrayApp:
    """Connects the controller to a pystray icon and to the tkinter windows."""

    def __init__(self, controller: TrayController, ui: UiThread | None = None, pystray=None) -> None:
        self.controller = controller
        self.ui = ui or UiThread()
        self.pystray = pystray or load_pystray()
        self.icon = None
        self._images: dict[str, object] = {}
        self._lock = threading.Lock()
        self._stopped = False
        self.quit_thread: threading.Thread | None = None

    # --- actions -------------------------------------------------------------------

    def face(self) -> Appearance:
        return self.controller.appearance

    def show_status(self) -> None:
        """The default action (left click): the status window with the menu's actions."""
        def open_window(root) -> None:
            window = self.ui.windows.get("status")
            if window is not None and window.is_open():
                window.show()
                return
            self.ui.windows["status"] = StatusWindow(
                root, appearance=self.face, url=lambda: self.controller.url,
                actions=[("Обновить токен сейчас", self.refresh_token),
                         ("Проверить подключение", self.check_connection),
                         ("Ключ авторизации…", self.open_key_dialog),
                         ("Настройки…", self.open_settings),
                         ("Скопировать адрес для 1С", self.copy_url),
                         ("Открыть журнал", self.open_log),
                         ("Выход", self.quit)],
                autostart=(lambda: self.controller.state.autostart, self.controller.set_autostart))
        self.ui.call(open_window)

    def open_key_dialog(self, intro: str | None = None) -> None:
        controller = self.controller
        self.ui.call(lambda root: KeyDialog(root, scope=controller.settings.scope, intro=intro,
                                            check=controller.check_key, save=controller.save_key))

    def open_settings(self) -> None:
        controller = self.controller
        self.ui.call(lambda root: SettingsDialog(
            root, settings=controller.settings, models=controller.available_models,
            apply=controller.apply_settings, api_key=controller.local_api_key, copy=self.ui.copy))

    def refresh_token(self) -> None:
        self.controller.in_background("token-now", self.controller.refresh_token_now)

    def check_connection(self) -> None:
        self.controller.in_background("check", self.controller.check_connection)

    def copy_url(self) -> None:
        url = self.controller.url
        if url:
            self.ui.copy(url)
            self.controller.notify("Адрес скопирован", f"Вставьте его в 1С: {url}")

    def open_log(self) -> None:
        path = self.controller.log_file()
        try:
            shell.open_path(path if path.exists() else path.parent)
        except OSError as error:
            self.controller.notify("Журнал", f"Не удалось открыть журнал {path}: {error}")

    def toggle_autostart(self) -> None:
        self.controller.set_autostart(not self.controller.state.autostart)

    def quit(self) -> threading.Thread:
        """«Выход»: the server finishes in-flight requests, then everything stops."""
        thread = threading.Thread(target=self._quit, name="gigachat-quit", daemon=True)
        self.quit_thread = thread
        thread.start()
        return thread

    def _quit(self) -> None:
        log.info("quitting: stopping the service")
        self.controller.quit()
        self.ui.stop()
        log.info("quitting: removing the tray icon")
        self.stop_icon()
        log.info("quitting: tray icon removed")

    # --- the icon ------------------------------------------------------------------

    def menu(self):
        """The tray menu: pystray evaluates the callables each time it (re)builds the menu."""
        Menu, Item = self.pystray.Menu, self.pystray.MenuItem  # noqa: N806
        face, state = self.face, lambda: self.controller.state

        def info(text):
            return Item(text, None, enabled=False)

        return Menu(
            Item(lambda _: face().demo_line or "", None, enabled=False,
                 visible=lambda _: self.controller.demo),
            info(lambda _: face().status_line),
            info(lambda _: face().usage_line),
            Item(lambda _: face().balance_line or "", None, enabled=False,
                 visible=lambda _: face().balance_line is not None),
            Menu.SEPARATOR,
            Item("Состояние моста…", lambda: self.show_status(), default=True),
            Item("Обновить токен сейчас", lambda: self.refresh_token(),
                 enabled=lambda _: self.controller.service is not None),
            Item("Проверить подключение", lambda: self.check_connection()),
            Menu.SEPARATOR,
            Item("Ключ авторизации…", lambda: self.open_key_dialog()),
            Item("Настройки…", lambda: self.open_settings()),
            Menu.SEPARATOR,
            Item("Скопировать адрес для 1С", lambda: self.copy_url(),
                 enabled=lambda _: bool(self.controller.url)),
            Item("Открыть журнал", lambda: self.open_log()),
            Item("Запускать при входе в систему", lambda: self.toggle_autostart(),
                 checked=lambda _: state().autostart),
            Menu.SEPARATOR,
            Item("Выход", lambda: self.quit()),
        )

    def image(self, color: str):
        if color not in self._images:
            self._images[color] = draw_icon(color, ICON_SIZE)
        return self._images[color]

    def notify_through_icon(self, title: str, message: str) -> bool:
        icon = self.icon
        if icon is None or not icon.HAS_NOTIFICATION or self._stopped:
            return False
        icon.notify(message, title)
        return True

    def apply(self, face: Appearance) -> None:
        """Show a new state on the icon (called from any thread)."""
        with self._lock:
            icon = self.icon
            if icon is None or self._stopped or not icon.visible:
                return
            icon.icon = self.image(face.color)
            icon.title = face.tooltip
            icon.update_menu()

    def _setup(self, icon) -> None:
        """Runs in pystray's setup thread once the icon's loop is ready."""
        with self._lock:
            if self._stopped:
                return
            icon.visible = True
        self.apply(self.face())
        self.controller.add_listener(self.apply)
        if not self.controller.demo and not self.controller.has_key:
            self.open_key_dialog(intro=FIRST_RUN_INTRO)

    def run(self) -> None:
        """Show the icon and block (in the main thread) until «Выход»."""
        from gigachat.desktop.tray_xorg import icon_class  # noqa: PLC0415

        face = self.face()
        # The first title is ASCII: pystray's xorg backend can only write Latin-1 at creation.
        self.icon = icon_class(self.pystray)(ICON_NAME, self.image(face.color), "GigaChat Bridge",
                                             menu=self.menu())
        log.info("tray icon backend: %s", self.pystray.Icon.__module__)
        self.icon.run(setup=self._setup)

    def stop_icon(self) -> None:
        with self._lock:
            self._stopped = True
            icon = self.icon
        if icon is not None:
            icon.stop()
