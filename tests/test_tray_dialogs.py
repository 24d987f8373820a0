"""The tkinter windows on a real X display, driven like a user: xdotool types and clicks.

The key dialog checks keys against the emulator's OAuth and saves into the real
Secret Service keyring (run under scripts/with-keyring.sh).
"""

from __future__ import annotations

import subprocess
import uuid

import keyring
import pytest

from gigachat.core.credentials import KEY_USER, CredentialStore
from gigachat.core.settings import Settings
from gigachat.desktop.tray_control import TrayController
from gigachat.emulator import DEMO_KEY, make_key
from tests import xrig
from tests.conftest import need

xdisplay, root = xrig.xdisplay, xrig.tk_root  # session display; a Tk root per test




pump = xrig.pump


def user(root, display, *xdotool_args: str) -> None:
    """Run one xdotool command while Tk keeps handling the events it produces."""
    process = subprocess.Popen(["xdotool", *xdotool_args], env=display.env)
    pump(root, lambda: process.poll() is not None)
    assert process.returncode == 0


def click(root, display, widget) -> None:
    pump(root, lambda: widget.winfo_ismapped() and widget.winfo_width() > 1)
    x = widget.winfo_rootx() + widget.winfo_width() // 2
    y = widget.winfo_rooty() + widget.winfo_height() // 2
    user(root, display, "mousemove", "--sync", str(x), str(y), "click", "1")


def type_into(root, display, entry, text: str) -> None:
    click(root, display, entry)  # focus, as a user would
    pump(root, lambda: entry.focus_get() == entry)
    user(root, display, "type", "--delay", "5", text)
    pump(root, lambda: entry.get() == text)


def key_dialog(root, controller):
    from gigachat.desktop.dialogs import KeyDialog

    return KeyDialog(root, scope=controller.settings.scope, check=controller.check_key,
                     save=controller.save_key)


@pytest.fixture
def secret_service():
    """The real Secret Service as the program's keyring for this test."""
    backend = xrig.secret_service()
    need(backend is not None, "Secret Service keyring (run under scripts/with-keyring.sh)")
    previous = keyring.get_keyring()
    keyring.set_keyring(backend)
    yield backend
    keyring.set_keyring(previous)


@pytest.fixture
def test_store(secret_service):
    """A credential store in the real Secret Service, under a service name of this test only."""
    store = CredentialStore(environ={}, service=f"GigaChatBridge-test-{uuid.uuid4().hex[:8]}")
    yield store
    store.delete_key()


def test_check_with_a_wrong_key_shows_the_russian_error(root, xdisplay, emulator, test_store):
    controller = TrayController(Settings(auth_url=emulator.oauth_url, api_url=emulator.api_url),
                                store=test_store)
    dialog = key_dialog(root, controller)
    type_into(root, xdisplay, dialog.key_entry, make_key("wrong-client", "wrong-secret"))
    click(root, xdisplay, dialog.check_button)
    message = pump(root, lambda: "Неверный ключ" in dialog.message.get() and dialog.message.get())
    assert message.startswith("Неверный ключ авторизации ГигаЧат")
    assert dialog.message_label.cget("fg") == "#b3261e"  # shown in red
    assert emulator.stats["oauth_requests"] == 1
    assert test_store.get_key() is None  # «Проверить» never saves


def test_check_then_save_stores_the_key_in_the_secret_service(root, xdisplay, emulator, test_store,
                                                              secret_service):
    controller = TrayController(Settings(auth_url=emulator.oauth_url, api_url=emulator.api_url),
                                store=test_store)
    dialog = key_dialog(root, controller)
    type_into(root, xdisplay, dialog.key_entry, DEMO_KEY)
    assert dialog.key_entry.cget("show") == "•"  # masked while typing
    click(root, xdisplay, dialog.check_button)
    pump(root, lambda: "Ключ подходит" in dialog.message.get())
    click(root, xdisplay, dialog.save_button)
    pump(root, lambda: dialog.saved)
    assert secret_service.get_password(test_store.service, KEY_USER) == DEMO_KEY
    assert not dialog.window.winfo_exists()  # the dialog closed


def test_malformed_key_is_refused_before_any_request(root, xdisplay, emulator, test_store):
    controller = TrayController(Settings(auth_url=emulator.oauth_url), store=test_store)
    dialog = key_dialog(root, controller)
    type_into(root, xdisplay, dialog.key_entry, "Basic abc def")
    click(root, xdisplay, dialog.save_button)
    pump(root, lambda: dialog.message.get())
    assert "записан неверно: внутри ключа есть пробелы" in dialog.message.get()
    assert emulator.stats["oauth_requests"] == 0 and test_store.get_key() is None


def test_client_id_and_secret_make_the_key(root, test_store):
    controller = TrayController(Settings(), store=test_store)
    dialog = key_dialog(root, controller)
    dialog.mode.set("pair")
    dialog._show_mode()
    dialog.id_entry.insert(0, "client")
    dialog.secret_entry.insert(0, "secret")
    assert dialog.key() == make_key("client", "secret")


def test_settings_dialog_checks_the_port_and_applies_changes(root, xdisplay):
    from gigachat.desktop.dialogs import SettingsDialog

    applied: list[dict] = []
    dialog = SettingsDialog(root, settings=Settings(port=8000), models=lambda: ["GigaChat", "GigaChat-2-Max"],
                            apply=lambda **changes: applied.append(changes), api_key=lambda: None,
                            copy=lambda text: None)
    dialog.port_entry.delete(0, "end")
    type_into(root, xdisplay, dialog.port_entry, "99999")
    dialog.save()
    assert "порт должен быть числом от 1 до 65535" in dialog.message.get() and applied == []
    dialog.port_entry.delete(0, "end")
    type_into(root, xdisplay, dialog.port_entry, "8123")
    pump(root, lambda: "GigaChat-2-Max" in dialog.model_box.cget("values"))  # the model list arrived
    dialog.save()
    pump(root, lambda: applied)
    assert applied == [{"port": 8123}]


def test_status_window_shows_the_state_and_runs_actions(root):
    from gigachat.desktop.dialogs import StatusWindow
    from gigachat.desktop.tray_state import TrayState, appearance

    clicked: list[str] = []
    window = StatusWindow(root, appearance=lambda: appearance(TrayState(demo=True)),
                          url=lambda: "http://127.0.0.1:8000",
                          actions=[("Выход", lambda: clicked.append("Выход"))],
                          autostart=(lambda: False, lambda on: clicked.append(f"autostart={on}")))
    root.update()
    assert window.lines["status"].get() == "Получение токена…"
    assert window.lines["url"].get() == "Адрес для 1С: http://127.0.0.1:8000"
    assert window.lines["demo"].get().startswith("Демо-режим")
    window.buttons["Выход"].invoke()
    assert clicked == ["Выход"]
