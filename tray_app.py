"""GigaChat Bridge for 1C: entry point (tray icon, or --headless for servers and CI)."""

from __future__ import annotations

import argparse
import contextlib
import faulthandler
import getpass
import json
import logging
import os
import sys
import threading
from pathlib import Path

OWN_PACKAGE_EXIT = 3  # the imported `gigachat` is not this program's (e.g. the official SDK)


def check_own_package() -> None:
    """Exit with a Russian message when `import gigachat` finds something else than this
    program's package (the official GigaChat SDK is published on PyPI under the same name)."""
    try:
        import gigachat
    except ImportError:
        found = None
    else:
        found = gigachat
    if found is not None and getattr(found, "APP_NAME", None) == "GigaChatBridge":
        return
    where = getattr(found, "__file__", None) or "(не найден)"
    message = (
        "Не удалось запустить Мост ГигаЧат для 1С: Python нашёл не тот пакет «gigachat» — "
        f"{where}. Похоже, это официальная библиотека ГигаЧат (SDK) из PyPI с тем же именем. "
        f"Запустите мост из его папки ({Path(__file__).resolve().parent}) командой "
        "scripts/run.sh или установите его в отдельное виртуальное окружение (.venv)."
    )
    stream = sys.stderr
    if stream is not None:
        with contextlib.suppress(OSError, ValueError, AttributeError):
            stream.write(message + "\n")
            stream.flush()
    raise SystemExit(OWN_PACKAGE_EXIT)


check_own_package()

from gigachat import PRODUCT_NAME, __version__  # noqa: E402 - after the check above
from gigachat.core.credentials import ENV_KEY, CredentialStore  # noqa: E402
from gigachat.core.errors import BridgeError, ConfigError  # noqa: E402
from gigachat.core.logs import log_dir, setup_logging  # noqa: E402
from gigachat.core.settings import Settings, load_settings, save_settings  # noqa: E402
from gigachat.desktop.console import RussianArgumentParser, attach_console_log, say  # noqa: E402
from gigachat.desktop.shell import message_box  # noqa: E402
from gigachat.desktop.single_instance import InstanceLock  # noqa: E402
from gigachat.desktop.stop_signals import SignalWatcher  # noqa: E402
from gigachat.local.service import Service  # noqa: E402

log = logging.getLogger("gigachat.app")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = RussianArgumentParser(
        prog="tray_app.py",
        description=f"{PRODUCT_NAME}: локальный адрес для 1С, ключ в системном хранилище.",
    )
    parser.add_argument("--headless", action="store_true",
                        help="без значка в трее (серверы, Linux без трея, CI)")
    parser.add_argument("--demo", action="store_true",
                        help="демо-режим на встроенном эмуляторе ГигаЧат, ключ не нужен")
    parser.add_argument("--host", metavar="АДРЕС",
                        help="адрес, на котором слушать (по умолчанию 127.0.0.1)")
    parser.add_argument("--port", metavar="ПОРТ",
                        help="порт (по умолчанию 8000; 0 — любой свободный)")
    parser.add_argument("--set-key", action="store_true",
                        help="ввести ключ авторизации и сохранить его в системном хранилище")
    parser.add_argument("--delete-key", action="store_true",
                        help="удалить ключ авторизации из системного хранилища")
    parser.add_argument("--import-env", metavar="ФАЙЛ",
                        help="перенести ключ из .env-файла урока в системное хранилище")
    parser.add_argument("--diagnose", action="store_true",
                        help="проверить подключение к ГигаЧат по шагам и сохранить отчёт для ИТ")
    parser.add_argument("--status", action="store_true",
                        help="показать в формате JSON версию, порт, адрес, режим и пути файлов")
    parser.add_argument("--set-proxy-password", action="store_true",
                        help="ввести пароль прокси-сервера и сохранить его в системном хранилище")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}",
                        help="показать версию программы и выйти")
    return parser.parse_args(argv)


def port_argument(text: str | None) -> int | None:
    """--port as a number 0..65535 (0: any free port); ConfigError in Russian otherwise."""
    if text is None:
        return None
    try:
        port = int(text.strip())
    except ValueError:
        port = -1
    if not 0 <= port <= 65535:
        raise ConfigError(f"Неверное значение --port {text}: порт должен быть числом от 1 до 65535 "
                          "(0 — любой свободный). Исправьте параметр --port в командной строке.")
    return port


KEY_PROMPT = "Ключ авторизации ГигаЧат"


def read_key() -> str | None:
    """Ask for the key (hidden on a terminal, else one line of stdin); None on Ctrl+D/Ctrl+C."""
    try:
        if sys.stdin is not None and sys.stdin.isatty():
            return getpass.getpass(f"{KEY_PROMPT} (ввод скрыт): ")
        say(f"{KEY_PROMPT} (одна строка из стандартного ввода):", error=True)
        line = sys.stdin.readline() if sys.stdin is not None else ""
        return line.strip() if line else None
    except (EOFError, KeyboardInterrupt):
        say("")
        return None


def set_proxy_password(store: CredentialStore) -> int:
    """--set-proxy-password: the password of the proxy user named in the proxy address."""
    from gigachat.core.proxy import choose_proxy

    settings = load_settings()
    proxy = choose_proxy(settings.proxy, settings.proxy_auth)
    if proxy is None or not proxy.username:
        raise ConfigError("Не указано имя пользователя прокси: задайте адрес вида "
                          "http://ДОМЕН%5Cпользователь@сервер:порт в настройке proxy "
                          "(или GIGACHAT_PROXY), затем повторите команду.")
    CredentialStore(environ={}, service=store.service).get_key()  # no keyring: say so first
    try:
        if sys.stdin is not None and sys.stdin.isatty():
            password = getpass.getpass(f"Пароль прокси для {proxy.username} (ввод скрыт): ")
        else:
            password = (sys.stdin.readline() if sys.stdin is not None else "").rstrip("\r\n")
    except (EOFError, KeyboardInterrupt):
        password = ""
    if not password:
        say("Ввод отменён: пароль прокси не сохранён.")
        return 1
    store.save_proxy_password(proxy.username, password)
    say(f"Пароль прокси для {proxy.username} сохранён в системном хранилище паролей.")
    return 0


def report_status(args: argparse.Namespace) -> int:
    """--status: one JSON object on stdout (no secret in it)."""
    from gigachat.local.status import status

    say(json.dumps(status(effective_settings(args)), ensure_ascii=False, indent=2))
    return 0


def manage_key(args: argparse.Namespace, store: CredentialStore) -> int:
    """The one-shot key commands; returns the exit status."""
    if args.delete_key:
        store.delete_key()
        store.delete_local_api_key()
        say("Ключ авторизации и локальный API-ключ удалены из системного хранилища.")
    elif args.set_key:
        CredentialStore(environ={}, service=store.service).get_key()  # no keyring: say so first
        key = read_key()
        if key is None:
            say("Ввод отменён: ключ не сохранён.")
            return 1
        store.save_key(key)
        say("Ключ авторизации сохранён в системном хранилище паролей.")
    elif args.import_env:
        result = store.import_env_file(args.import_env)
        if result.settings_overrides:
            overrides = {k: v for k, v in result.settings_overrides.items() if k != "host"}
            save_settings(load_settings(environ={}).with_changes(**overrides))
        say(result.message)
    return 0


NO_KEY_ADVICE = (
    "Ключ авторизации ГигаЧат не задан: мост работает, но 1С получит ответ «нет ключа», "
    "пока вы его не укажете. Как указать ключ (из личного кабинета developers.sber.ru):\n"
    "  • в трее: значок моста → «Ключ авторизации…»;\n"
    "  • в командной строке: tray_app.py --set-key (ключ сохранится в системном хранилище паролей);\n"
    f"  • на сервере без рабочего стола: переменная окружения {ENV_KEY}=<ключ>.\n"
    "Попробовать без ключа: tray_app.py --demo."
)


def advise_if_no_key(store: CredentialStore) -> None:
    """No key anywhere: say why (e.g. no keyring) and what to do, in Russian, once."""
    try:
        if store.get_key() is not None:
            return
    except BridgeError as error:
        say(error.message, error=True)
    say(NO_KEY_ADVICE)


def effective_settings(args: argparse.Namespace) -> Settings:
    settings = load_settings()
    port = port_argument(args.port)
    overrides = {k: v for k, v in (("host", args.host), ("port", port)) if v is not None}
    return settings.with_changes(**overrides) if overrides else settings


def announce(url: str, service: Service | None, demo: bool) -> None:
    """The startup line (tests and scripts parse it)."""
    mode = " (демо-режим: встроенный эмулятор ГигаЧат)" if demo else ""
    say(f"{PRODUCT_NAME} {__version__} запущен: {url}{mode}")
    if service and service.emulator_url:
        say(f"Эмулятор ГигаЧат (демо): {service.emulator_url}")


def run_headless(args: argparse.Namespace, store: CredentialStore, signals: SignalWatcher,
                 announce_tray_missing: bool) -> int:
    try:
        service = Service(effective_settings(args), demo=args.demo, credentials=store).start()
    except BridgeError as error:
        say(error.message, error=True)
        return 2
    announce(service.url, service, args.demo)
    if service.multi_user:
        say(f"Многопользовательский режим: ваш порт {service.server.port}, локальный API-ключ "
            f"обязателен; файл подключения для 1С: {service.connection_file}")
    if not args.demo:
        advise_if_no_key(store)
    if announce_tray_missing:
        say("Значок в трее недоступен: мост работает без него. Остановка: Ctrl+C.")
    try:
        signals.received.wait()  # a signal during the start is kept: then this returns at once
    finally:
        service.stop()
        say("Мост остановлен.")
    return 0


def load_tray():
    """pystray, or None when this system has no tray (no display, no backend)."""
    try:
        from gigachat.desktop.tray import load_pystray  # imported only in tray mode

        return load_pystray()
    except Exception as error:  # pystray raises display errors (not ImportError) at import time
        log.warning("tray unavailable: %s: %s", type(error).__name__, error)
        return None


def run_tray(args: argparse.Namespace, store: CredentialStore, signals: SignalWatcher,
             pystray) -> int:
    """Tray mode: a busy port or a missing key is shown on the icon, not fatal."""
    from gigachat.desktop.shell import Notifier, enable_dpi_awareness

    enable_dpi_awareness()  # before any window: crisp dialogs at 125-150 % on Windows
    from gigachat.desktop.tray import TrayApp
    from gigachat.desktop.tray_control import TrayController

    notifier = Notifier()
    controller = TrayController(effective_settings(args), demo=args.demo, store=store, notify=notifier)
    app = TrayApp(controller, pystray=pystray)
    notifier.through_icon = app.notify_through_icon
    # A SIGTERM at any moment from here on (or one that came earlier) runs the quit of «Выход».
    signals.connect(app.quit)
    try:
        controller.start()
        if controller.running:
            announce(controller.url, controller.service, args.demo)
            if not args.demo:
                advise_if_no_key(store)
        elif controller.start_error is not None:
            say(controller.start_error.message, error=True)
        app.run()
    finally:
        if app.quit_thread is not None:
            app.quit_thread.join(10)
        controller.stop()
        app.ui.stop()
        say("Мост остановлен.")
    return 0


_CRASH_LOG: list = []  # the log file kept open for faulthandler


def keep_crash_trace(log_file: Path) -> None:
    """A crash inside C code (a segfault, an abort) still writes the Python stacks to the log."""
    with contextlib.suppress(OSError, ValueError, RuntimeError):
        stream = open(log_file, "a", encoding="utf-8")  # noqa: SIM115 - open for the process
        faulthandler.enable(stream)
        _CRASH_LOG.append(stream)


def report_failure(text: str, *, on_screen: bool) -> None:
    """A start that fails says why: in the log, on the console and, on a desktop, on screen."""
    log.error("start failed: %s", text)
    say(text, error=True)
    if on_screen:
        with contextlib.suppress(Exception):  # no desktop to show it on: the log has it
            message_box(f"{text}\n\nПодробности — в журнале: {log_dir() / 'bridge.log'}")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    keep_crash_trace(setup_logging(console=False))
    attach_console_log()
    log.info("starting %s (pid %d)", __version__, os.getpid())
    store = CredentialStore()
    on_screen = not (args.headless or args.set_key or args.delete_key or args.import_env)
    try:
        if args.set_key or args.delete_key or args.import_env:
            return manage_key(args, store)  # Ctrl+C stays Python's here: it cancels the input
        if args.set_proxy_password:
            return set_proxy_password(store)
        if args.diagnose:
            from gigachat.core.diagnose import run_cli

            return run_cli(say)
        if args.status:
            return report_status(args)
        effective_settings(args)  # a bad setting stops the start, with its Russian message
    except BridgeError as error:
        report_failure(error.message, on_screen=on_screen)
        return 2
    signals = SignalWatcher()  # from here on SIGTERM/SIGINT stop calmly, whatever is starting
    try:
        return run(args, store, signals)
    except Exception as error:  # never a silent end: the reason goes to the log and the screen
        log.exception("unexpected error")
        report_failure(f"{PRODUCT_NAME} остановился из-за непредвиденной ошибки "
                       f"({type(error).__name__}).", on_screen=on_screen)
        return 1
    finally:
        signals.stop()
        leftovers = [t.name for t in threading.enumerate() if t is not threading.main_thread()
                     and t.is_alive() and t.name.startswith(("gigachat", "http"))]
        log.info("stopped; threads left: %s", ", ".join(leftovers) or "none")


def run(args: argparse.Namespace, store: CredentialStore, signals: SignalWatcher) -> int:
    """Headless, or the tray (one per user) with a headless fallback when there is no tray."""
    try:
        if args.headless:
            return run_headless(args, store, signals, announce_tray_missing=False)
        lock = InstanceLock()
        if not lock.acquire():
            message = f"{PRODUCT_NAME} уже запущен: его значок — в области уведомлений."
            say(message)
            message_box(message)
            return 0
        with lock:
            pystray = load_tray()
            if pystray is None:
                return run_headless(args, store, signals, announce_tray_missing=True)
            return run_tray(args, store, signals, pystray)
    except BridgeError as error:
        report_failure(error.message, on_screen=not args.headless)
        return 2


if __name__ == "__main__":
    sys.exit(main())
