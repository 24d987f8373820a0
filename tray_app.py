"""GigaChat Bridge for 1C: entry point (tray icon, or --headless for servers and CI)."""

from __future__ import annotations

import argparse
import getpass
import logging
import signal
import sys
import threading

from gigachat import __version__
from gigachat.credentials import CredentialStore
from gigachat.errors import BridgeError
from gigachat.logs import setup_logging
from gigachat.service import Service
from gigachat.settings import load_settings, save_settings

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
        print("Ключ авторизации удалён из системного хранилища.")
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


def run_tray(service: Service, stop: threading.Event) -> bool:
    """Show the tray icon; False when this system has no tray (then run headless)."""
    try:
        from gigachat.tray import run_tray as run  # imported only in tray mode
    except ImportError:
        return False
    except Exception as error:  # pystray raises display errors at import time
        log.warning("tray unavailable: %s", type(error).__name__)
        return False
    run(service, stop)
    return True


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    setup_logging(console=True)
    store = CredentialStore()
    try:
        if args.set_key or args.delete_key or args.import_env:
            return manage_key(args, store)
        settings = load_settings()
        overrides = {k: v for k, v in (("host", args.host), ("port", args.port)) if v is not None}
        if overrides:
            settings = settings.with_changes(**overrides)
        service = Service(settings, demo=args.demo, credentials=store).start()
    except BridgeError as error:
        print(error.message, file=sys.stderr)
        return 2
    mode = " (демо-режим: встроенный эмулятор ГигаЧат)" if args.demo else ""
    print(f"Мост ГигаЧат для 1С {__version__} запущен: {service.url}{mode}", flush=True)
    stop = threading.Event()
    try:
        if args.headless or not run_tray(service, stop):
            if not args.headless:
                print("Значок в трее недоступен: мост работает без него. "
                      "Остановка: Ctrl+C.", flush=True)
            wait_for_signal(stop)
    finally:
        service.stop()
        print("Мост остановлен.", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
