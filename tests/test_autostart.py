"""«Запускать при входе в систему»: the XDG entry in a temp HOME, the Windows Run key with a fake registry."""

from __future__ import annotations

import shlex
import subprocess

import pytest

from gigachat.desktop import autostart


def test_xdg_entry_is_written_and_removed(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("XDG_CONFIG_HOME", raising=False)
    layer = autostart.XdgAutostart()
    entry = tmp_path / ".config" / "autostart" / "GigaChatBridge.desktop"
    assert layer.path == entry and not autostart.is_enabled(layer)

    autostart.set_enabled(True, layer)
    text = entry.read_text(encoding="utf-8")
    assert "[Desktop Entry]" in text and "Type=Application" in text
    assert "Name=Мост ГигаЧат для 1С" in text
    command = shlex.split(layer.read())
    assert command == autostart.launch_command() and command[-1].endswith("tray_app.py")
    assert autostart.is_enabled(layer)

    autostart.set_enabled(False, layer)
    assert not entry.exists() and not autostart.is_enabled(layer)
    autostart.set_enabled(False, layer)  # removing twice is fine


def test_xdg_config_home_is_respected(tmp_path):
    layer = autostart.XdgAutostart({"XDG_CONFIG_HOME": str(tmp_path / "cfg"), "HOME": "/nonexistent"})
    assert layer.path == tmp_path / "cfg" / "autostart" / "GigaChatBridge.desktop"


class FakeWinreg:
    """The few winreg calls WindowsRunKey makes, over a dict {(hive, path): {name: value}}."""

    HKEY_CURRENT_USER = "HKCU"
    KEY_SET_VALUE = 2
    REG_SZ = 1

    def __init__(self) -> None:
        self.keys: dict[tuple[str, str], dict[str, tuple[int, str]]] = {}

    class _Key:
        def __init__(self, values):
            self.values = values

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

    def OpenKey(self, hive, path, reserved=0, access=0):  # noqa: N802 - winreg's names
        if (hive, path) not in self.keys:
            raise FileNotFoundError(path)
        return self._Key(self.keys[(hive, path)])

    def CreateKeyEx(self, hive, path, reserved=0, access=0):  # noqa: N802
        return self._Key(self.keys.setdefault((hive, path), {}))

    def QueryValueEx(self, key, name):  # noqa: N802
        if name not in key.values:
            raise FileNotFoundError(name)
        kind, value = key.values[name]
        return value, kind

    def SetValueEx(self, key, name, reserved, kind, value):  # noqa: N802
        key.values[name] = (kind, value)

    def DeleteValue(self, key, name):  # noqa: N802
        if name not in key.values:
            raise FileNotFoundError(name)
        del key.values[name]


def test_windows_run_key_for_the_current_user(monkeypatch):
    registry = FakeWinreg()
    layer = autostart.WindowsRunKey(registry)
    assert not autostart.is_enabled(layer)
    autostart.set_enabled(True, layer)
    values = registry.keys[("HKCU", r"Software\Microsoft\Windows\CurrentVersion\Run")]
    kind, command = values["GigaChatBridge"]
    assert kind == registry.REG_SZ
    assert command == subprocess.list2cmdline(autostart.launch_command())
    assert autostart.is_enabled(layer)
    autostart.set_enabled(False, layer)
    assert "GigaChatBridge" not in values and not autostart.is_enabled(layer)
    autostart.set_enabled(False, layer)  # already gone: fine


def test_frozen_exe_starts_itself(monkeypatch):
    monkeypatch.setattr("sys.frozen", True, raising=False)
    monkeypatch.setattr("sys.executable", r"C:\Program Files\GigaChatBridge\GigaChatBridge.exe")
    assert autostart.launch_command() == [r"C:\Program Files\GigaChatBridge\GigaChatBridge.exe"]
    assert subprocess.list2cmdline(autostart.launch_command()) == \
        r'"C:\Program Files\GigaChatBridge\GigaChatBridge.exe"'


@pytest.mark.parametrize("platform, kind", [("win32", autostart.WindowsRunKey),
                                            ("linux", autostart.XdgAutostart)])
def test_os_layer_is_chosen_by_platform(monkeypatch, platform, kind):
    monkeypatch.setattr("sys.platform", platform)
    if platform == "win32":
        import sys
        import types

        monkeypatch.setitem(sys.modules, "winreg", types.SimpleNamespace())
    assert isinstance(autostart.os_layer(), kind)
