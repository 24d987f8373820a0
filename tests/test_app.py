"""tray_app.py as a real process: headless demo, bad settings, key commands."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest
import requests

from tests.conftest import wait_for

ROOT = Path(__file__).resolve().parent.parent


class Running:
    """A started tray_app.py whose output is collected by a reader thread."""

    def __init__(self, *args: str, env: dict | None = None, command: list[str] | None = None):
        self.lines: list[str] = []
        self.process = subprocess.Popen(
            [*(command or [sys.executable, str(ROOT / "tray_app.py")]), *args], cwd=ROOT,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.process.stdout:
            self.lines.append(line)

    def url(self, timeout: float = 20.0) -> str:
        def found():
            if self.process.poll() is not None:
                raise AssertionError("".join(self.lines))
            for line in self.lines:
                match = re.search(r"запущен: (http://\S+)", line)
                if match:
                    return match.group(1)
            return None
        return wait_for(found, timeout=timeout)

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        return self.process.wait(15)


def test_headless_demo_answers_and_says_it_is_a_demo():
    app = Running("--headless", "--demo", "--port", "0")
    try:
        url = app.url()
        wait_for(lambda: requests.get(url + "/health", timeout=2).json()["status"] == "ok")
        health = requests.get(url + "/health", timeout=5).json()
        assert health["demo"] is True
        answer = requests.post(url + "/analyze/text", json={"text": "Привет", "return_format": "html"},
                               timeout=30).json()
        assert answer["success"] is True and "Демо-режим" in answer["result"]
        text = requests.post(url + "/analyze/text", json={"text": "Привет"}, timeout=30).json()
        assert text["result"].startswith("[Демо-режим")
    finally:
        assert app.stop() == 0
    assert any("Мост остановлен" in line for line in app.lines)


def test_readme_run_command_starts_the_demo():
    """README's first command (scripts/run.sh --demo), here headless on a free port."""
    app = Running("--demo", "--headless", "--port", "0", command=["bash", "scripts/run.sh"])
    try:
        url = app.url(timeout=300)  # a fresh checkout installs the runtime packages first
        answer = requests.post(url + "/analyze/text", json={"text": "Привет"}, timeout=30).json()
        assert answer["success"] is True
    finally:
        assert app.stop() == 0


@pytest.mark.parametrize("name, value, fragment", [
    ("API_PORT", "99999", "API_PORT"),
    ("GIGACHAT_SCOPE", "GIGACHAT_API_XYZ", "GIGACHAT_SCOPE"),
    ("GIGACHAT_API_URL", "not a url", "GIGACHAT_API_URL"),
    ("GIGACHAT_CA_BUNDLE", "/nonexistent/ca.pem", "GIGACHAT_CA_BUNDLE"),
])
def test_bad_setting_stops_startup_with_russian_message(name, value, fragment):
    env = {**os.environ, name: value}
    done = subprocess.run([sys.executable, str(ROOT / "tray_app.py"), "--headless"], cwd=ROOT,
                          env=env, capture_output=True, text=True, timeout=30)
    assert done.returncode == 2
    assert fragment in done.stderr
    assert re.search("[а-яА-Я]", done.stderr)
    assert "Traceback" not in done.stderr + done.stdout


def test_busy_port_stops_startup_with_russian_message():
    first = Running("--headless", "--demo", "--port", "0")
    try:
        port = first.url().rsplit(":", 1)[1]
        done = subprocess.run([sys.executable, str(ROOT / "tray_app.py"), "--headless", "--demo",
                               "--port", port], cwd=ROOT, capture_output=True, text=True, timeout=30)
        assert done.returncode == 2
        assert f"Порт {port}" in done.stderr and "Traceback" not in done.stderr
    finally:
        first.stop()


def test_env_credentials_run_headless_without_keyring(emulator):
    """A headless server: the key comes from the environment, the keyring is never needed."""
    from gigachat.emulator import DEMO_KEY

    env = {**os.environ, "GIGACHAT_CREDENTIALS": DEMO_KEY, "GIGACHAT_AUTH_URL": emulator.oauth_url,
           "GIGACHAT_API_URL": emulator.api_url, "DBUS_SESSION_BUS_ADDRESS": "unix:path=/nonexistent"}
    app = Running("--headless", "--port", "0", env=env)
    try:
        url = app.url()
        answer = requests.post(url + "/analyze/text", json={"text": "Привет"}, timeout=30).json()
        assert answer["success"] is True
        assert emulator.stats["oauth_requests"] == 1
    finally:
        assert app.stop() == 0


def test_set_key_command_needs_a_keyring_and_says_so():
    env = {**os.environ, "DBUS_SESSION_BUS_ADDRESS": "unix:path=/nonexistent",
           "PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring"}
    done = subprocess.run([sys.executable, str(ROOT / "tray_app.py"), "--delete-key"], cwd=ROOT,
                          env=env, capture_output=True, text=True, timeout=30)
    assert done.returncode == 2
    assert "хранилищ" in done.stderr and "Traceback" not in done.stderr


def test_log_file_is_written(isolated_env):
    app = Running("--headless", "--demo", "--port", "0")
    try:
        url = app.url()
        requests.post(url + "/analyze/text", json={"text": "Секрет ООО Ромашка"}, timeout=30)
    finally:
        app.stop()
    logs = list((isolated_env / "xdg_state_home").rglob("*.log"))
    assert logs, "no log file in the per-user log dir"
    text = "".join(path.read_text(encoding="utf-8") for path in logs)
    assert "/analyze/text 200" in text
    assert "Ромашка" not in text  # business texts are not logged by default
