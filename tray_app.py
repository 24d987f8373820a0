"""GigaChat Bridge for 1C: entry point (tray icon, or --headless for servers and CI)."""

from __future__ import annotations

import argparse
import contextlib
import getpass
import logging
import signal
import socket
import sys
import threading

from gigachat import __version__
from gigachat.core.credentials import CredentialStore
from gigachat.core.errors import BridgeError
from gigachat.core.logs import setup_logging
from gigachat.core.settings import Settings, load_settings, save_settings
from gigachat.desktop.shell import message_box
from gigachat.desktop.single_instance import InstanceLock
from gigachat.local.service import Service

log = logging.getLogger("gigachat.app")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="tray_app.py",
        description="Мост ГигаЧат для 1С: локальный адрес для 1С, ключ в системном хранилище.",
    )
    parser.add_argument("--headless", action="store_true",
                        help="без значка в трее (серверы, Linux без трея, CI)")
    parser.add_argument("--demo", action="store_true",
                        help="демо-режим на встроенном эмуляторе ГигаЧат, ключ не нужен")
    parser.add_argument("--host", help="адрес, на котором слушать (по умолчанию 127.0.0.1)")
    parser.add_argument("--port", type=int, help="порт (по умолчанию 8000; 0 — любой свободный)")
    parser.add_argument("--set-key", action="store_true",
                        help="ввести ключ авторизации и сохранить его в системном хранилище")
    parser.add_argument("--delete-key", action="store_true",
                        help="удалить ключ авторизации из системного хранилища")
    parser.add_argument("--import-env", metavar="ФАЙЛ",
                        help="перенести ключ из .env-файла урока в системное хранилище")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    return parser.parse_args(argv)


def manage_key(args: argparse.Namespace, store: CredentialStore) -> int:
    """The one-shot key commands; returns the exit status."""
    if args.delete_key:
        store.delete_key()
        store.delete_local_api_key()
        print("Ключ авторизации и локальный API-ключ удалены из системного хранилища.")
    elif args.set_key:
        key = getpass.getpass("Ключ авторизации ГигаЧат (ввод скрыт): ")
        store.save_key(key)
        print("Ключ авторизации сохранён в системном хранилище паролей.")
    elif args.import_env:
        result = store.import_env_file(args.import_env)
        if result.settings_overrides:
            overrides = {k: v for k, v in result.settings_overrides.items() if k != "host"}
            save_settings(load_settings(environ={}).with_changes(**overrides))
        print(result.message)
    return 0


def wait_for_signal(stop: threading.Event) -> None:
    """Block until SIGINT/SIGTERM (or `stop` is set elsewhere)."""
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    while not stop.wait(1.0):
        pass


class SignalWatcher:
    """SIGINT/SIGTERM → callback, even while the main thread sits in a GUI loop's blocking read.

    The OS may deliver a signal to any thread, and Python runs handlers only in the main thread
    when it next runs Python code; the wakeup fd is written at once, so a named thread waits on it.
    """

    def __init__(self, callback) -> None:
        self.callback = callback
        self._reader, self._writer = socket.socketpair()
        self._writer.setblocking(False)
        self._old = signal.set_wakeup_fd(self._writer.fileno(), warn_on_full_buffer=False)
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: None)  # the thread below does the work
        self._thread = threading.Thread(target=self._run, name="gigachat-signals", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while True:
            data = self._reader.recv(64)
            if not data or 0 in data:  # 0: stop() was called
                return
            if any(byte in (signal.SIGINT, signal.SIGTERM) for byte in data):
                self.callback()

    def stop(self) -> None:
        signal.set_wakeup_fd(self._old)
        with contextlib.suppress(OSError):
            self._writer.send(b"\0")
        self._thread.join(2)
        self._reader.close()
        self._writer.close()


def effective_settings(args: argparse.Namespace) -> Settings:
    settings = load_settings()
    overrides = {k: v for k, v in (("host", args.host), ("port", args.port)) if v is not None}
    return settings.with_changes(**overrides) if overrides else settings


def announce(url: str, service: Service | None, demo: bool) -> None:
    """The startup line (tests and scripts parse it)."""
    mode = " (демо-режим: встроенный эмулятор ГигаЧат)" if demo else ""
    print(f"Мост ГигаЧат для 1С {__version__} запущен: {url}{mode}", flush=True)
    if service and service.emulator_url:
        print(f"Эмулятор ГигаЧат (демо): {service.emulator_url}", flush=True)


def run_headless(args: argparse.Namespace, store: CredentialStore, announce_tray_missing: bool) -> int:
    try:
        service = Service(effective_settings(args), demo=args.demo, credentials=store).start()
    except BridgeError as error:
        print(error.message, file=sys.stderr)
        return 2
    announce(service.url, service, args.demo)
    if announce_tray_missing:
        print("Значок в трее недоступен: мост работает без него. Остановка: Ctrl+C.", flush=True)
    stop = threading.Event()
    try:
        wait_for_signal(stop)
    finally:
        service.stop()
        print("Мост остановлен.", flush=True)
    return 0


def load_tray():
    """pystray, or None when this system has no tray (no display, no backend)."""
    try:
        from gigachat.desktop.tray import load_pystray  # imported only in tray mode

        return load_pystray()
    except Exception as error:  # pystray raises display errors (not ImportError) at import time
        log.warning("tray unavailable: %s: %s", type(error).__name__, error)
        return None


def run_tray(args: argparse.Namespace, store: CredentialStore, pystray) -> int:
    """Tray mode: a busy port or a missing key is shown on the icon, not fatal."""
    from gigachat.desktop.shell import Notifier
    from gigachat.desktop.tray import TrayApp
    from gigachat.desktop.tray_control import TrayController

    settings = effective_settings(args)
    notifier = Notifier()
    controller = TrayController(settings, demo=args.demo, store=store, notify=notifier).start()
    if controller.service is not None:
        announce(controller.url, controller.service, args.demo)
    else:
        print(controller.start_error.message, file=sys.stderr, flush=True)
    app = TrayApp(controller, pystray=pystray)
    notifier.through_icon = app.notify_through_icon
    signals = SignalWatcher(app.quit)
    try:
        app.run()
    finally:
        signals.stop()
        if app.quit_thread is not None:
            app.quit_thread.join(10)
        controller.stop()
        app.ui.stop()
        print("Мост остановлен.", flush=True)
    leftovers = [t.name for t in threading.enumerate() if t is not threading.main_thread()
                 and t.is_alive() and t.name.startswith(("gigachat", "http"))]
    log.info("stopped; threads left: %s", ", ".join(leftovers) or "none")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    setup_logging(console=True)
    store = CredentialStore()
    try:
        if args.set_key or args.delete_key or args.import_env:
            return manage_key(args, store)
        if args.headless:
            return run_headless(args, store, announce_tray_missing=False)
        effective_settings(args)  # a bad setting stops the start, with its Russian message
    except BridgeError as error:
        print(error.message, file=sys.stderr)
        return 2
    lock = InstanceLock()
    if not lock.acquire():
        message = "Мост ГигаЧат для 1С уже запущен: его значок — в области уведомлений."
        print(message, flush=True)
        message_box(message)
        return 0
    with lock:
        pystray = load_tray()
        try:
            if pystray is None:
                return run_headless(args, store, announce_tray_missing=True)
            return run_tray(args, store, pystray)
        except BridgeError as error:
            print(error.message, file=sys.stderr)
            return 2


if __name__ == "__main__":
    sys.exit(main())
