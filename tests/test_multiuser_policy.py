"""The administrator's policy file (issue 15): it wins over the user's settings file and the
environment, it is validated like settings, and it never holds a secret."""

from __future__ import annotations

import gc

import pytest

from gigachat.core.errors import ConfigError
from gigachat.core.policy import load_policy
from gigachat.core.settings import load_settings
from tests import xrig


def write(path, text: str):
    path.write_text(text, encoding="utf-8")
    return path


def test_policy_wins_over_the_file_and_the_environment(tmp_path):
    policy = write(tmp_path / "policy.json", '{"model": "GigaChat-2-Max", "proxy_auth": "ntlm", '
                   '"autostart": false, "installer_version": "0.1.0"}')
    user = write(tmp_path / "settings.json", '{"model": "GigaChat", "port": 8010}')
    settings = load_settings(environ={"GIGACHAT_MODEL": "GigaChat-Pro",
                                      "GIGACHAT_PROXY_AUTH": "basic"}, path=user, policy_path=policy)
    assert (settings.model, settings.proxy_auth, settings.port) == ("GigaChat-2-Max", "ntlm", 8010)
    assert load_policy(policy).values == {"model": "GigaChat-2-Max", "proxy_auth": "ntlm"}
    assert load_policy(policy).fixes("model") and not load_policy(policy).fixes("port")


def test_no_policy_file_changes_nothing(tmp_path):
    settings = load_settings(environ={}, path=tmp_path / "none.json",
                             policy_path=tmp_path / "no-policy.json")
    assert settings.model == load_settings(environ={}, path=tmp_path / "none.json").model


@pytest.mark.parametrize("text, words", [
    ('{"scope": "GIGACHAT_API_NOPE"}', ["scope", "администратор"]),
    ("{broken", ["политики", "повреждён"]),
    ('["a list"]', ["политики", "объект"]),
    ('{"proxy": "http://u:secret@proxy:3128"}', ["секреты не хранятся"]),
])
def test_a_bad_policy_stops_the_start_with_a_russian_message(tmp_path, text, words):
    policy = write(tmp_path / "policy.json", text)
    with pytest.raises(ConfigError) as caught:
        load_settings(environ={}, path=tmp_path / "s.json", policy_path=policy)
    for word in words:
        assert word in caught.value.message
    assert "secret" not in caught.value.message.replace(str(tmp_path), "")


# --- the settings dialog shows fixed fields read-only (a real Tk window under Xvfb) ----------

xdisplay = xrig.xdisplay  # session fixture


def test_settings_dialog_shows_policy_fields_read_only(xdisplay, monkeypatch):
    import tkinter as tk

    from gigachat.core.policy import FIXED_LABEL
    from gigachat.core.settings import Settings
    from gigachat.desktop.dialogs import SettingsDialog

    monkeypatch.setenv("DISPLAY", xdisplay.name)
    root = tk.Tk()
    root.withdraw()
    try:
        applied: list[dict] = []
        dialog = SettingsDialog(root, settings=Settings(model="GigaChat-2-Max"),
                                models=lambda: ["GigaChat-2-Max"], api_key=lambda: None,
                                apply=lambda **changes: applied.append(changes),
                                copy=lambda text: None, fixed={"model", "scope"})
        root.update()
        assert str(dialog.model_box.cget("state")) == "disabled"
        assert str(dialog.port_entry.cget("state")) == "normal"
        labels = [w for w in dialog.window.winfo_children()[0].winfo_children()
                  if isinstance(w, tk.ttk.Label) and w.cget("text") == FIXED_LABEL]
        assert len(labels) == 2
        dialog.model_box.insert("end", "-changed")  # a disabled box takes no input
        assert dialog.model.get() == "GigaChat-2-Max"
        dialog.close()
    finally:
        root.destroy()
        del root
        gc.collect()  # free Tcl in this thread (see tests/test_tray_dialogs.py)
