"""tray_app.py in tray mode on a real X display with a real system tray (Xvfb + trayer).

What a user would see: the icon in the tray in its state colour, its tooltip, a click that
opens the status window, a single instance, the first-run key dialog, a busy port.
"""

from __future__ import annotations

import contextlib
import signal
import socket
import threading
import time

import pytest
import requests
from keyring.errors import PasswordDeleteError

from gigachat.desktop.icons import COLORS
from tests import xrig
from tests.conftest import wait_for
from tests.xrig import TrayProcess, hex_rgb, icon_windows, wait_icon

xdisplay, tray_host = xrig.xdisplay, xrig.tray_host  # session fixtures

GREEN, RED, GREY = (hex_rgb(COLORS[name]) for name in ("green", "red", "grey"))


@pytest.fixture
def demo_tray(tray_host):
    app = TrayProcess(tray_host, "--demo", "--port", "0")
    yield app
    app.stop()


def test_demo_icon_is_green_then_red_when_the_key_is_rejected(tray_host, demo_tray):
    url, emulator = demo_tray.url(), demo_tray.emulator_url()
    window = wait_icon(tray_host, GREEN, demo_tray)
    title = wait_for(lambda: tray_host.window_title(window), timeout=30)
    assert title.startswith("ГигаЧат (демо): готов, токен до ")

    # GigaChat stops accepting the key: the next call gets 401, the re-auth fails.
    requests.post(emulator + "/_emulator/config", json={"reject_keys": True}, timeout=10).raise_for_status()
    requests.post(emulator + "/_emulator/tokens/revoke", timeout=10).raise_for_status()
    answer = requests.post(url + "/analyze/text", json={"text": "Привет"}, timeout=60).json()
    assert answer["success"] is False and "ключ" in answer["error"].lower()

    wait_icon(tray_host, RED, demo_tray)
    wait_for(lambda: "неверный ключ авторизации" in tray_host.window_title(window), timeout=30)
    demo_tray.wait_line(r"notification: ГигаЧат: ошибка")  # the first error after working


def test_click_on_icon_opens_the_status_window(tray_host, demo_tray):
    demo_tray.url()
    window = wait_icon(tray_host, GREEN, demo_tray)
    tray_host.click_window(window)
    status = wait_for(lambda: tray_host.search("--onlyvisible", "--class", "^GigaChatStatus$"),
                      timeout=xrig.TRAY_DEADLINE)
    x, y, w, h = tray_host.geometry(status[0])
    assert w > 200 and h > 100


def test_second_start_exits_0_without_a_second_server_or_icon(tray_host, demo_tray):
    demo_tray.url()
    wait_icon(tray_host, GREEN, demo_tray)
    second = TrayProcess(tray_host, "--demo", "--port", "0")
    assert second.process.wait(30) == 0
    second.stop()
    assert "уже запущен" in second.output
    assert "запущен: http" not in second.output  # no second server
    assert len(icon_windows(tray_host)) == 1
    assert demo_tray.process.poll() is None  # the first one keeps running


def test_busy_port_keeps_running_with_a_red_icon(tray_host):
    with socket.socket() as blocker:
        blocker.bind(("127.0.0.1", 0))
        blocker.listen()
        port = blocker.getsockname()[1]
        app = TrayProcess(tray_host, "--demo", "--port", str(port))
        try:
            app.wait_line(f"Порт {port}")
            window = wait_icon(tray_host, RED, app)
            wait_for(lambda: f"порт {port} занят · Мост для 1С" in tray_host.window_title(window), timeout=30)
            app.wait_line(r"notification: Мост ГигаЧат не запущен")
            assert app.process.poll() is None
        finally:
            assert app.stop() == 0


def test_quit_with_a_request_in_flight(tray_host, demo_tray):
    """SIGTERM runs the same quit as «Выход»: the request completes, then the process exits."""
    url, emulator = demo_tray.url(), demo_tray.emulator_url()
    requests.post(emulator + "/_emulator/config", json={"latency": 2.0}, timeout=10).raise_for_status()
    port = int(url.rsplit(":", 1)[1])
    result: dict = {}

    def ask():
        result["answer"] = requests.post(url + "/analyze/text", json={"text": "Привет"}, timeout=60)
        result["done"] = time.monotonic()

    thread = threading.Thread(target=ask, name="test-in-flight")
    thread.start()
    def at_gigachat():  # our call, not only some call (a background one while ours connects)
        chats = requests.get(emulator + "/_emulator/records", timeout=5).json()["chat_log"]
        return [c["user_text"] for c in chats] == ["Привет"]
    wait_for(at_gigachat, timeout=30)
    demo_tray.process.send_signal(signal.SIGTERM)
    assert demo_tray.process.wait(30) == 0
    exited = time.monotonic()
    thread.join(30)
    assert result["answer"].status_code == 200 and result["answer"].json()["success"] is True
    assert exited - result["done"] < 5
    assert "threads left: none" in demo_tray.output
    with pytest.raises(ConnectionRefusedError):  # nobody listens any more
        socket.create_connection(("127.0.0.1", port), timeout=5).close()
    assert port not in listening_ports()


def listening_ports() -> set[int]:
    """Ports in LISTEN state on this machine (Linux /proc/net/tcp and tcp6)."""
    ports = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(table) as lines:
            next(lines)
            for line in lines:
                fields = line.split()
                if fields[3] == "0A":
                    ports.add(int(fields[1].rsplit(":", 1)[1], 16))
    return ports


def test_first_run_asks_for_the_key_and_turns_green_once_it_is_saved(tray_host, emulator):
    """No key yet: the icon is grey and the key dialog opens; typing the key and Enter saves it
    to the real Secret Service keyring, and the bridge gets a token with it at once."""
    from gigachat.core.credentials import KEY_USER, KEYRING_SERVICE
    from gigachat.emulator import DEMO_KEY
    from tests.conftest import need

    keyring = xrig.secret_service()  # the one the program (a separate process) uses
    need(keyring is not None, "Secret Service keyring (run under scripts/with-keyring.sh)")
    with contextlib.suppress(PasswordDeleteError):
        keyring.delete_password(KEYRING_SERVICE, KEY_USER)
    app = TrayProcess(tray_host, "--port", "0",
                      env={"GIGACHAT_AUTH_URL": emulator.oauth_url, "GIGACHAT_API_URL": emulator.api_url})
    try:
        app.url()
        window = wait_icon(tray_host, GREY, app)
        wait_for(lambda: tray_host.window_title(window).startswith(
            "ГигаЧат: нет ключа авторизации · Мост для 1С"), timeout=30)
        dialog = wait_for(lambda: tray_host.search("--onlyvisible", "--class", "^GigaChatKeyDialog$"),
                          timeout=xrig.TRAY_DEADLINE)[0]
        # The dialog takes the keyboard focus itself (into the key field) once it is shown; until
        # then the focus may be PointerRoot, which xdotool reports as an error: "not yet".
        wait_for(lambda: tray_host.run("xdotool", "getwindowfocus", check=False).strip() == str(dialog),
                 timeout=xrig.TRAY_DEADLINE)
        tray_host.run("xdotool", "type", "--delay", "5", DEMO_KEY)
        tray_host.run("xdotool", "key", "Return")
        wait_for(lambda: keyring.get_password(KEYRING_SERVICE, KEY_USER) == DEMO_KEY, timeout=60)
        wait_icon(tray_host, GREEN, app)
        assert emulator.stats["oauth_requests"] >= 1
        assert not tray_host.search("--onlyvisible", "--class", "^GigaChatKeyDialog$")
    finally:
        assert app.stop() == 0
        with contextlib.suppress(PasswordDeleteError):
            keyring.delete_password(KEYRING_SERVICE, KEY_USER)
