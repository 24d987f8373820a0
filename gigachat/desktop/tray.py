"""The tray icon (pystray): image and tooltip follow the controller's state, the menu runs its actions.

pystray is imported only here, and only in tray mode: on Linux its import needs a display.
"""

from __future__ import annotations

import logging
import signal
import threading

from gigachat import APP_NAME
from gigachat.core.errors import ConfigError
from gigachat.core.policy import load_policy
from gigachat.desktop import shell, tray_host
from gigachat.desktop.about import ONEC_FOLDER, AboutWindow, confirm_quit, onec_folder
from gigachat.desktop.dialogs import KeyDialog, SettingsDialog, StatusWindow, UiThread
from gigachat.desktop.icons import state_icon
from gigachat.desktop.tray_control import TrayController
from gigachat.desktop.tray_state import Appearance, job_text, jobs_summary

log = logging.getLogger(__name__)

ICON_NAME = APP_NAME  # also the X11 window class, used by the tests to find the icon
MASKING = "mask_personal_data"  # the setting of the personal-data masking (issue 17)
ICON_SIZE = 32  # drawn for this size: tray hosts show 16-32 px, and scale down from here
GTK_BACKENDS = ("pystray._gtk", "pystray._appindicator")
FIRST_RUN_INTRO = ("Чтобы мост заработал, вставьте ключ авторизации ГигаЧат из личного кабинета "
                   "developers.sber.ru. Ключ хранится в системном хранилище паролей.")


def fixed_by_policy() -> set[str]:
    """Settings fields the administrator's policy fixes (none when it cannot be read)."""
    try:
        return set(load_policy().values)
    except ConfigError:
        return set()


def load_pystray():
    """Import pystray. The backend is pystray's choice (win32 on Windows; appindicator, gtk or
    xorg on Linux) unless PYSTRAY_BACKEND says otherwise. Raises if there is no display."""
    import pystray  # noqa: PLC0415

    return pystray


def keeping_sigint(icon_cls):
    """pystray's GTK backends set SIGINT back to the default when their loop starts (Ctrl+C
    would kill the process without the quit of «Выход»); their subclass keeps our handler."""
    if icon_cls.__module__ not in GTK_BACKENDS:
        return icon_cls

    class Icon(icon_cls):
        def _initialize(self):  # runs in the main thread, just before the GLib loop
            real = signal.signal

            def keep_ours(sig, handler):
                if sig == signal.SIGINT and handler == signal.SIG_DFL:
                    return signal.getsignal(sig)
                return real(sig, handler)
            signal.signal = keep_ours
            try:
                super()._initialize()
            finally:
                signal.signal = real
    Icon.__module__ = icon_cls.__module__  # still names its backend (logs, host checks)
    return Icon


class TrayApp:
    """Connects the controller to a pystray icon and to the tkinter windows."""

    def __init__(self, controller: TrayController, ui: UiThread | None = None, pystray=None) -> None:
        self.controller = controller
        self.ui = ui or UiThread()
        self.pystray = pystray or load_pystray()
        self.icon = None
        self._images: dict[str, object] = {}
        self._lock = threading.Lock()
        self._stopped = False  # «Выход» was asked for: no more updates, the icon goes
        self._shown = False  # the icon's loop is running (pystray called on_ready)
        self._stop_sent = False  # icon.stop() was called (exactly once)
        self.quit_thread: threading.Thread | None = None
        self._quit_lock = threading.Lock()

    # --- actions -------------------------------------------------------------------

    def face(self) -> Appearance:
        return self.controller.appearance

    def show_status(self, notice: str | None = None) -> None:
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
                         ("Диагностика подключения…", self.run_diagnosis),
                         ("Ключ авторизации…", self.open_key_dialog),
                         ("Настройки…", self.open_settings),
                         ("Скопировать адрес для 1С", self.copy_url),
                         ("Открыть журнал", self.open_log),
                         (ONEC_FOLDER, self.open_onec_folder),
                         ("О программе", self.show_about)],
                quit_action=self.ask_quit, notice=notice,
                jobs=lambda: jobs_summary(self.controller.state.jobs) or "",
                autostart=(lambda: self.controller.state.autostart, self.controller.set_autostart))
        self.ui.call(open_window)

    def no_tray_host(self) -> None:
        """Nothing shows tray icons here (GNOME without the AppIndicator extension): say so,
        with the address for 1C, and keep the status window open instead of the icon."""
        url = self.controller.url
        where = f" Адрес для 1С: {url}." if url else ""
        log.warning("no tray host: the icon is invisible; showing the status window")
        self.show_status(notice=tray_host.NO_HOST_ADVICE)
        self.controller.notify("Мост ГигаЧат работает без значка", tray_host.NO_HOST_ADVICE + where)

    def open_key_dialog(self, intro: str | None = None) -> None:
        controller = self.controller
        self._one_window("key", lambda root: KeyDialog(
            root, scope=controller.settings.scope, intro=intro, check=controller.check_key,
            save=controller.save_key, workers=controller.workers))

    def open_settings(self) -> None:
        controller = self.controller
        self._one_window("settings", lambda root: SettingsDialog(
            root, settings=controller.settings, models=controller.available_models,
            apply=controller.apply_settings, api_key=controller.local_api_key, copy=self.ui.copy,
            workers=controller.workers, fixed=fixed_by_policy()))

    def refresh_token(self) -> None:
        self.controller.in_background("token-now", self.controller.refresh_token_now)

    def check_connection(self) -> None:
        self.controller.in_background("check", self.controller.check_connection)

    def run_diagnosis(self) -> None:
        """«Диагностика подключения…»: the step-by-step report, saved as a text file and opened."""
        def work() -> None:
            from gigachat.core.diagnose import diagnose, save_report  # noqa: PLC0415

            report = diagnose()
            path = save_report(report)
            failed = report.first_failure
            summary = ("Все проверки пройдены." if failed is None
                       else f"Ошибка на шаге «{failed.title}». {failed.fix}")
            self.controller.notify("Диагностика подключения", f"{summary} Отчёт: {path}")
            try:
                shell.open_path(path)
            except OSError as error:
                log.warning("could not open the report: %s", error)
        self.controller.in_background("diagnose", work)

    def port_line(self) -> str:
        """Multi-user mode: this user's own port, in the menu."""
        url = self.controller.url
        return f"Ваш порт: {url.rsplit(':', 1)[-1]} (у каждого пользователя свой)" if url else ""

    def multi_user(self) -> bool:
        return bool(getattr(self.controller.service, "multi_user", False))

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

    def toggle_masking(self) -> None:
        """«Маскировать персональные данные»: the setting, saved; the service restarts with it."""
        on = not bool(getattr(self.controller.settings, MASKING, False))
        self.controller.in_background("masking", lambda: self.controller.apply_settings(**{MASKING: on}))

    def open_onec_folder(self) -> None:
        """«Файлы для 1С»: the folder with the loadable extension and processor."""
        folder = onec_folder()
        try:
            shell.open_path(folder)
        except OSError as error:
            self.controller.notify(ONEC_FOLDER, f"Не удалось открыть папку {folder}: {error}")

    def show_about(self) -> None:
        self._one_window("about", lambda root: AboutWindow(root, open_path=shell.open_path))

    def _one_window(self, kind: str, make) -> None:
        """One window per kind: a second click brings the open one to the front."""
        def open_window(root) -> None:
            window = self.ui.windows.get(kind)
            if window is not None and window.is_open():
                window.show()
                return
            self.ui.windows[kind] = make(root)
        self.ui.call(open_window)

    def ask_quit(self) -> threading.Thread | None:
        """«Выход» from the menu or the status window: with jobs running, ask first (then the
        quit starts from the question, and this returns None)."""
        if not self.controller.jobs_running:
            return self.quit()
        running = sum(1 for job in self.controller.state.jobs if job.state in ("queued", "running"))

        def ask(root) -> None:
            if confirm_quit(root, running):
                self.quit()
        self.ui.call(ask)
        return None

    def toggle_autostart(self) -> None:
        self.controller.set_autostart(not self.controller.state.autostart)

    def quit(self) -> threading.Thread:
        """«Выход» (also SIGTERM/SIGINT, at any moment of the start): in-flight requests finish,
        then everything stops. A second call returns the running quit."""
        with self._quit_lock:  # not self._lock: apply() may hold that while the icon updates
            if self.quit_thread is not None:
                return self.quit_thread
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
            Item(lambda _: self.port_line(), None, enabled=False, visible=lambda _: self.multi_user()),
            Item(lambda _: face().balance_line or "", None, enabled=False,
                 visible=lambda _: face().balance_line is not None),
            Item(lambda _: jobs_summary(state().jobs) or "", Menu(lambda: self.job_items()),
                 visible=lambda _: bool(state().jobs)),
            Menu.SEPARATOR,
            Item("Состояние моста…", lambda: self.show_status(), default=True),
            Item("Обновить токен сейчас", lambda: self.refresh_token(),
                 enabled=lambda _: self.controller.running),
            Item("Проверить подключение", lambda: self.check_connection()),
            Item("Диагностика подключения…", lambda: self.run_diagnosis()),
            Menu.SEPARATOR,
            Item("Ключ авторизации…", lambda: self.open_key_dialog()),
            Item("Настройки…", lambda: self.open_settings()),
            Menu.SEPARATOR,
            Item("Скопировать адрес для 1С", lambda: self.copy_url(),
                 enabled=lambda _: bool(self.controller.url)),
            Item("Открыть журнал", lambda: self.open_log()),
            Item("Запускать при входе в систему", lambda: self.toggle_autostart(),
                 checked=lambda _: state().autostart),
            Item("Маскировать персональные данные", lambda: self.toggle_masking(),
                 checked=lambda _: bool(getattr(self.controller.settings, MASKING, False)),
                 visible=lambda _: hasattr(self.controller.settings, MASKING)),
            Menu.SEPARATOR,
            Item(ONEC_FOLDER, lambda: self.open_onec_folder()),
            Item("О программе", lambda: self.show_about()),
            Menu.SEPARATOR,
            Item("Выход", lambda: self.ask_quit()),
        )

    def job_items(self):
        """One submenu per job: its progress and «Пауза» / «Продолжить» / «Отменить»."""
        Menu, Item = self.pystray.Menu, self.pystray.MenuItem  # noqa: N806
        items = []
        for job in self.controller.state.jobs:
            def act(action, job_id=job.id):
                return lambda: self.controller.in_background(
                    f"job-{action}", lambda: self.controller.job_action(action, job_id))
            actions = [Item("Пауза", act("pause"), visible=job.state in ("queued", "running")),
                       Item("Продолжить", act("resume"), visible=job.state == "paused"),
                       Item("Отменить", act("cancel"))]
            if job.error and job.state == "paused":
                actions.insert(0, Item(job.error[:120], None, enabled=False))
            items.append(Item(job_text(job), Menu(*actions)))
        return items

    def image(self, color: str):
        """The state's icon: its colour and its shape (check, clock, exclamation mark, key)."""
        if color not in self._images:
            self._images[color] = state_icon(color, ICON_SIZE)
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

    def on_ready(self, icon) -> None:
        """Runs in pystray's setup thread once the icon's loop is ready."""
        with self._lock:
            self._shown = True
            stop_now = self._stopped and not self._stop_sent
            if stop_now:
                self._stop_sent = True
            elif not self._stopped:
                icon.visible = True
        if self._stopped:
            if stop_now:  # «Выход» came while the loop was starting: pystray's stop() did nothing
                icon.stop()
            return
        self.apply(self.face())
        self.controller.add_listener(self.apply)
        log.info("tray icon shown")
        if not tray_host.host_present(self.pystray.Icon.__module__):
            self.no_tray_host()
        if not self.controller.demo and not self.controller.has_key:
            self.open_key_dialog(intro=FIRST_RUN_INTRO)

    def run(self) -> None:
        """Show the icon and block (in the main thread) until «Выход»."""
        from gigachat.desktop.tray_xorg import icon_class  # noqa: PLC0415

        face = self.face()
        # The first title is ASCII: pystray's xorg backend can only write Latin-1 at creation.
        icon = keeping_sigint(icon_class(self.pystray))(
            ICON_NAME, self.image(face.color), "GigaChat Bridge", menu=self.menu())
        with self._lock:
            if self._stopped:
                log.info("quit before the tray icon was shown")
                return
            self.icon = icon
        log.info("tray icon backend: %s", self.pystray.Icon.__module__)
        try:
            icon.run(setup=self.on_ready)
        except Exception as error:  # e.g. GTK's final notification cleanup without a daemon
            if not self._stopped:
                raise
            log.info("tray icon loop ended with %s: %s", type(error).__name__, error)

    def stop_icon(self) -> None:
        """End the icon's loop. pystray's stop() does nothing until the loop is ready, so before
        that `on_ready` stops it; the lock makes exactly one of them call it."""
        with self._lock:
            self._stopped = True
            icon = self.icon if self._shown and not self._stop_sent else None
            if icon is not None:
                self._stop_sent = True
        if icon is not None:
            icon.stop()
