"""The real pystray Menu of a real running bridge: texts per state, and every action invoked.

The icon itself is never run here (no display needed); the windows are replaced by a recorder.
"""

from __future__ import annotations

import os
import socket
import threading
import time

import pytest
import requests

from gigachat.core.errors import NoCredentials
from gigachat.core.settings import Settings, load_settings
from gigachat.desktop.tray import TrayApp
from gigachat.desktop.tray_control import TrayController
from tests.conftest import no_thread_named, wait_for


@pytest.fixture(scope="module")
def pystray():
    """pystray's Menu and MenuItem; the dummy backend only lets it import without a display."""
    old = os.environ.get("PYSTRAY_BACKEND")
    os.environ["PYSTRAY_BACKEND"] = "dummy"
    try:
        import pystray as module
    finally:
        if old is None:
            del os.environ["PYSTRAY_BACKEND"]
        else:
            os.environ["PYSTRAY_BACKEND"] = old
    return module


class Windows:
    """Stands in for the tkinter UI thread: records what would have opened."""

    def __init__(self) -> None:
        self.opened: list[str] = []
        self.copied: list[str] = []
        self.windows: dict = {}
        self.stopped = False

    def call(self, work) -> None:
        self.opened.append(getattr(work, "__qualname__", repr(work)))

    def copy(self, text: str) -> None:
        self.copied.append(text)

    def stop(self) -> None:
        self.stopped = True


class StubIcon:
    """What TrayApp touches of a running pystray icon."""

    HAS_NOTIFICATION = False

    def __init__(self) -> None:
        self.stopped = False
        self.visible = False
        self.icon = self.title = None

    def update_menu(self) -> None:
        pass

    def stop(self) -> None:
        self.stopped = True


class MemoryStore:
    """A credential store without a keyring (the key dialog's saving is tested for real elsewhere)."""

    def __init__(self, key: str | None = None) -> None:
        self.key = key

    def get_key(self) -> str | None:
        return self.key

    def save_key(self, key: str) -> None:
        self.key = key

    def local_api_key(self, create: bool = False) -> str | None:
        return None


class Autostart:
    def __init__(self) -> None:
        self.value: str | None = None

    def read(self):
        return self.value

    def write(self, command):
        self.value = " ".join(command)

    def remove(self):
        self.value = None


class Bridge:
    """A started TrayController + TrayApp, with notifications collected."""

    def __init__(self, pystray, settings: Settings, *, demo: bool = True, store=None) -> None:
        self.notes: list[tuple[str, str]] = []
        self.autostart = Autostart()
        self.controller = TrayController(
            settings, demo=demo, store=store or MemoryStore(),
            notify=lambda title, message: self.notes.append((title, message)),
            autostart_layer=self.autostart).start()
        self.windows = Windows()
        self.app = TrayApp(self.controller, ui=self.windows, pystray=pystray)
        self.app.icon = StubIcon()
        self.app.on_ready(self.app.icon)  # as pystray calls it once the icon's loop runs
        self.menu = self.app.menu()

    def texts(self) -> list[str]:
        return [item.text for item in self.menu if item is not self.app.pystray.Menu.SEPARATOR]

    def item(self, text: str):
        return next(item for item in self.menu if item.text == text)

    def click(self, text: str):
        item = self.item(text)
        assert item.enabled, f"{text} is disabled"
        return item(self.app.icon)

    def color(self) -> str:
        return self.controller.appearance.color

    def wait_color(self, color: str, timeout: float = 20.0) -> None:
        wait_for(lambda: self.controller.refresh().color == color, timeout=timeout, interval=0.05)

    def stop(self) -> None:
        self.controller.stop()


@pytest.fixture
def bridges(pystray):
    started: list[Bridge] = []

    def make(settings: Settings | None = None, **kwargs) -> Bridge:
        bridge = Bridge(pystray, settings or Settings(port=0), **kwargs)
        started.append(bridge)
        return bridge

    yield make
    for bridge in started:
        bridge.stop()


def test_green_demo_menu_lists_status_usage_and_actions(bridges):
    bridge = bridges()
    bridge.wait_color("green")
    texts = bridge.texts()
    assert texts[0] == "Демо-режим: отвечает встроенный эмулятор"
    assert texts[1].startswith("Токен действует до ")
    assert texts[2] == "Сегодня: 0 запросов, 0 токенов"
    if texts[3].startswith("Баланс"):  # fetched at start when the account has one
        del texts[3]
    assert texts[3:] == ["Состояние моста…", "Обновить токен сейчас", "Проверить подключение",
                         "Диагностика подключения…", "Ключ авторизации…", "Настройки…",
                         "Скопировать адрес для 1С", "Открыть журнал",
                         "Запускать при входе в систему", "Маскировать персональные данные",
                         "Файлы для 1С", "О программе", "Выход"]
    info = [item for item in bridge.menu][:3]
    assert not any(item.enabled for item in info)  # status lines are not clickable
    assert bridge.item("Состояние моста…").default  # the click on the icon
    assert bridge.controller.appearance.tooltip.startswith("ГигаЧат (демо): готов, токен до ")


def test_usage_and_balance_lines_follow_requests(bridges, monkeypatch):
    monkeypatch.setattr("gigachat.desktop.tray_control.BALANCE_INTERVAL", 0.0)
    bridge = bridges()
    bridge.wait_color("green")
    requests.post(bridge.controller.url + "/analyze/text", json={"text": "Привет"}, timeout=30)
    wait_for(lambda: "Сегодня: 1 запрос" in bridge.texts()[2], timeout=10)
    wait_for(lambda: any(text.startswith("Баланс GigaChat-2: 900 000") for text in bridge.texts()),
             timeout=10)


def test_no_key_is_grey_and_the_key_item_opens_the_dialog(bridges, emulator):
    bridge = bridges(Settings(port=0, auth_url=emulator.oauth_url, api_url=emulator.api_url), demo=False)
    bridge.wait_color("grey")
    assert bridge.texts()[0] == "Нет ключа авторизации"
    assert bridge.controller.appearance.tooltip.startswith("ГигаЧат: нет ключа авторизации\n")
    assert len(bridge.windows.opened) == 1  # the first-run key dialog
    bridge.click("Ключ авторизации…")
    assert len(bridge.windows.opened) == 2
    # what «Сохранить» in that dialog does: keyring, then the bridge uses the key at once
    from gigachat.emulator import DEMO_KEY

    bridge.controller.save_key(DEMO_KEY)
    bridge.wait_color("green")
    assert emulator.stats["oauth_requests"] >= 1


def test_rejected_key_is_red_with_the_reason_and_a_notification(bridges):
    bridge = bridges()
    bridge.wait_color("green")
    emulator = bridge.controller.service.emulator
    emulator.configure(reject_keys=True)
    emulator.revoke_tokens()
    answer = requests.post(bridge.controller.url + "/analyze/text", json={"text": "Привет"}, timeout=30)
    assert answer.json()["success"] is False  # 401, then the re-auth is refused
    bridge.wait_color("red")
    assert bridge.texts()[1] == "Ошибка: неверный ключ авторизации"
    assert bridge.controller.appearance.tooltip.startswith(
        "ГигаЧат (демо): ошибка — неверный ключ авторизации\n")
    wait_for(lambda: any(title == "ГигаЧат: ошибка" for title, _ in bridge.notes), timeout=10)
    emulator.configure(reject_keys=False)
    bridge.click("Обновить токен сейчас")
    bridge.wait_color("green")
    wait_for(lambda: any(title == "ГигаЧат снова работает" for title, _ in bridge.notes), timeout=10)


def test_busy_port_is_red_and_settings_move_the_bridge_to_a_free_port(bridges):
    with socket.socket() as blocker:
        blocker.bind(("127.0.0.1", 0))
        blocker.listen()
        busy = blocker.getsockname()[1]
        bridge = bridges(Settings(port=busy))
        assert bridge.color() == "red"
        assert bridge.texts()[1] == f"Порт {busy} занят"
        assert bridge.notes and bridge.notes[0][0] == "Мост ГигаЧат не запущен"
        assert not bridge.item("Скопировать адрес для 1С").enabled
        assert not bridge.item("Обновить токен сейчас").enabled
        bridge.click("Настройки…")
        assert bridge.windows.opened
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            free = probe.getsockname()[1]
        bridge.controller.apply_settings(port=free)  # what the dialog's «Сохранить» does
    bridge.wait_color("green")
    assert bridge.controller.url.endswith(f":{free}")
    assert load_settings(environ={}).port == free  # saved for the next start
    assert requests.get(bridge.controller.url + "/health", timeout=5).json()["status"] == "ok"


def test_queue_makes_the_icon_yellow(bridges):
    bridge = bridges()
    bridge.wait_color("green")
    emulator = bridge.controller.service.emulator
    emulator.latency = 1.5
    url = bridge.controller.url
    threads = [threading.Thread(target=requests.post, args=(url + "/analyze/text",),
                                kwargs={"json": {"text": "Привет"}, "timeout": 30}) for _ in range(2)]
    for thread in threads:
        thread.start()
    wait_for(lambda: bridge.controller.refresh().color == "yellow", timeout=10, interval=0.05)
    assert "в очереди 1 запрос" in bridge.controller.appearance.tooltip
    for thread in threads:
        thread.join(30)
    bridge.wait_color("green")


def test_402_is_red_until_a_request_succeeds(bridges):
    bridge = bridges()
    bridge.wait_color("green")
    emulator = bridge.controller.service.emulator
    emulator.inject(402, message="Payment Required")
    url = bridge.controller.url
    answer = requests.post(url + "/analyze/text", json={"text": "Привет"}, timeout=30).json()
    assert answer["success"] is False
    bridge.wait_color("red")
    assert bridge.texts()[1] == "Ошибка: закончился баланс ГигаЧат (402)"
    wait_for(lambda: any(title == "ГигаЧат: закончился баланс" for title, _ in bridge.notes), timeout=10)
    requests.post(url + "/analyze/text", json={"text": "Привет"}, timeout=30)
    bridge.wait_color("green")


def test_check_connection_copy_url_log_and_autostart_items(bridges, monkeypatch):
    opened: list = []
    monkeypatch.setattr("gigachat.desktop.shell.open_path", opened.append)
    bridge = bridges()
    bridge.wait_color("green")
    bridge.click("Проверить подключение")
    wait_for(lambda: any(title == "Проверка подключения" for title, _ in bridge.notes), timeout=20)
    assert "ГигаЧат отвечает, доступно моделей:" in dict(bridge.notes)["Проверка подключения"]
    bridge.click("Скопировать адрес для 1С")
    assert bridge.windows.copied == [bridge.controller.url]
    bridge.click("Открыть журнал")
    assert opened and "GigaChatBridge" in str(opened[0])
    assert bridge.item("Запускать при входе в систему").checked is False
    bridge.click("Запускать при входе в систему")
    assert bridge.item("Запускать при входе в систему").checked is True
    assert "tray_app.py" in bridge.autostart.value
    bridge.click("Запускать при входе в систему")
    assert bridge.item("Запускать при входе в систему").checked is False and bridge.autostart.value is None


def test_quit_while_a_request_is_in_flight(bridges):
    """«Выход»: the request completes, then within 5 s no thread or listening port is left."""
    bridge = bridges()
    bridge.wait_color("green")
    url = bridge.controller.url
    port = int(url.rsplit(":", 1)[1])
    bridge.controller.service.emulator.latency = 2.0
    result: dict = {}

    def ask():
        result["answer"] = requests.post(url + "/analyze/text", json={"text": "Привет"}, timeout=30)
        result["done"] = time.monotonic()

    asker = threading.Thread(target=ask, name="test-in-flight")
    asker.start()
    # Our call is at GigaChat (in_flight alone may be a background call while ours still
    # connects: a quit then closes the listener on it, and the client sees a reset).
    emulator = bridge.controller.service.emulator
    wait_for(lambda: [c["user_text"] for c in emulator.chat_log] == ["Привет"], timeout=30)
    quitter = bridge.click("Выход")
    quitter.join(30)
    finished = time.monotonic()
    asker.join(30)
    assert result["answer"].status_code == 200 and result["answer"].json()["success"] is True
    assert finished - result["done"] < 5
    assert bridge.controller.quitting.is_set() and bridge.app.icon.stopped and bridge.windows.stopped
    for prefix in ("http-", "gigachat-token", "gigachat-tray", "gigachat-emulator"):
        assert no_thread_named(prefix), prefix
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), timeout=5).close()


def test_key_check_uses_a_throwaway_token_manager(bridges, emulator):
    from gigachat.core.errors import WrongKey
    from gigachat.emulator import DEMO_KEY, make_key

    bridge = bridges(Settings(port=0, auth_url=emulator.oauth_url, api_url=emulator.api_url), demo=False,
                     store=MemoryStore())
    bridge.controller.check_key(DEMO_KEY, "GIGACHAT_API_PERS")
    with pytest.raises(WrongKey) as caught:
        bridge.controller.check_key(make_key("nobody", "nothing"), "GIGACHAT_API_PERS")
    assert caught.value.message.startswith("Неверный ключ авторизации")
    assert bridge.controller.store.get_key() is None  # checking never saves
    with pytest.raises(NoCredentials):  # the bridge itself still has no key
        bridge.controller.service.bridge.tokens.get_token(timeout=5)


def test_quit_before_the_icon_loop_is_ready_still_stops_the_icon(bridges):
    """SIGTERM during the start: pystray's stop() is a no-op until its loop is ready, so the
    icon is stopped from on_ready (the old code left the loop running forever)."""
    bridge = bridges()
    app = TrayApp(bridge.controller, ui=Windows(), pystray=bridge.app.pystray)
    app.icon = StubIcon()  # created, but pystray has not called on_ready yet
    app.quit().join(30)
    assert bridge.controller.quitting.is_set() and not app.icon.stopped
    app.on_ready(app.icon)  # the loop becomes ready after the quit
    assert app.icon.stopped and not app.icon.visible


def test_quit_before_the_service_started_starts_nothing(pystray):
    controller = TrayController(Settings(port=0), demo=True, store=MemoryStore())
    app = TrayApp(controller, ui=Windows(), pystray=pystray)
    app.quit().join(30)
    controller.start()  # the main thread gets here after the signal: nothing may start
    assert not controller.running and controller.url == ""
    assert no_thread_named("gigachat-emulator") and no_thread_named("gigachat-tray-poll")


def test_a_replaced_model_is_told_once(bridges):
    """The configured model is not on this host: the bridge answers with another one, and the
    tray says which in one notification (not one per request)."""
    from gigachat.emulator import DEMO_KEY, Emulator

    emu = Emulator(catalogue="new").start()
    try:
        settings = Settings(port=0, auth_url=emu.oauth_url, api_url=emu.api_url, model="GigaChat")
        bridge = bridges(settings, demo=False, store=MemoryStore(DEMO_KEY))
        bridge.wait_color("green")
        for _ in range(2):
            answer = requests.post(bridge.controller.url + "/analyze/text", json={"text": "Привет"},
                                   timeout=30).json()
            assert answer["success"] is True
        wait_for(lambda: bridge.controller.refresh() and bridge.controller.state.model_notice, timeout=10)
        bridge.controller.refresh()
        told = [message for title, message in bridge.notes if title == "ГигаЧат: другая модель"]
        assert len(told) == 1 and "GigaChat" in told[0]
    finally:
        emu.stop()  # the fixture stops the bridge
