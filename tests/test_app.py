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


def run_app(*args: str, env: dict | None = None, timeout: float = 60, **kwargs):
    return subprocess.run([sys.executable, str(ROOT / "tray_app.py"), *args], cwd=ROOT,
                          env=env, capture_output=True, text=True, timeout=timeout, **kwargs)


@pytest.mark.parametrize("value", ["99999", "-5", "abc", "65536"])
def test_bad_port_argument_is_a_russian_message_like_a_bad_api_port(value):
    done = run_app("--headless", "--port", value)
    assert done.returncode == 2
    assert f"Неверное значение --port {value}: порт должен быть числом от 1 до 65535" in done.stderr
    assert "Traceback" not in done.stderr + done.stdout


def test_help_and_argument_errors_are_russian():
    shown = run_app("--help")
    assert shown.returncode == 0
    assert shown.stdout.startswith("Использование: tray_app.py")
    assert "показать эту справку и выйти" in shown.stdout and "показать версию" in shown.stdout
    assert "usage" not in shown.stdout and "show this help" not in shown.stdout
    wrong = run_app("--headless", "--bogus")
    assert wrong.returncode == 2
    assert "tray_app.py: ошибка: неизвестные параметры: --bogus" in wrong.stderr
    missing = run_app("--import-env")
    assert missing.returncode == 2 and "параметр --import-env: после него нужно указать значение" \
        in missing.stderr


def no_keyring_env() -> dict:
    return {**os.environ, "DBUS_SESSION_BUS_ADDRESS": "unix:path=/nonexistent",
            "PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring"}


def test_set_key_without_a_keyring_says_so_before_asking_for_the_key():
    # stdin stays open: if it asked first, it would wait for the key until the timeout
    process = subprocess.Popen([sys.executable, str(ROOT / "tray_app.py"), "--set-key"], cwd=ROOT,
                               env=no_keyring_env(), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        out, err = process.communicate(timeout=30)
    finally:
        process.kill()
    assert process.returncode == 2
    assert "Системное хранилище паролей недоступно" in err
    assert "Ключ авторизации ГигаЧат" not in out + err and "Traceback" not in err


def test_set_key_cancelled_with_ctrl_d_exits_calmly(secret_service_available):
    done = run_app("--set-key", stdin=subprocess.DEVNULL, start_new_session=True)
    assert done.returncode == 1
    assert "Ввод отменён: ключ не сохранён." in done.stdout
    assert "Traceback" not in done.stderr + done.stdout and "Warning" not in done.stderr
    assert "Ключ авторизации ГигаЧат" in done.stderr  # it did ask


def test_set_key_cancelled_with_ctrl_c_exits_calmly(secret_service_available):
    process = subprocess.Popen([sys.executable, str(ROOT / "tray_app.py"), "--set-key"], cwd=ROOT,
                               stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               start_new_session=True)
    prompt = b""
    try:
        while "Ключ авторизации ГигаЧат".encode() not in prompt:
            chunk = process.stderr.read1(256)  # the prompt: it waits for the key now
            assert chunk, f"exited before asking: {prompt!r}"
            prompt += chunk
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=30)
    finally:
        process.kill()
    assert process.returncode == 1
    assert "Ввод отменён: ключ не сохранён." in out.decode()
    assert b"Traceback" not in err and b"KeyboardInterrupt" not in err


def test_set_key_reads_the_key_from_stdin_without_a_terminal(secret_service_available):
    from gigachat.core.credentials import CredentialStore
    from gigachat.emulator import DEMO_KEY

    store = CredentialStore(environ={})
    try:
        done = run_app("--set-key", input=DEMO_KEY + "\n", start_new_session=True)
        assert done.returncode == 0, done.stderr
        assert "Ключ авторизации сохранён" in done.stdout
        assert store.get_key() == DEMO_KEY
    finally:
        store.delete_key()


@pytest.fixture
def secret_service_available():
    from tests import xrig
    from tests.conftest import need

    need(xrig.secret_service() is not None, "Secret Service keyring (run under scripts/with-keyring.sh)")


def test_start_without_a_key_says_in_russian_what_to_do():
    app = Running("--headless", "--port", "0", env=no_keyring_env())
    try:
        app.url()
        wait_for(lambda: any("GIGACHAT_CREDENTIALS" in line for line in app.lines), timeout=20)
    finally:
        assert app.stop() == 0
    text = "".join(app.lines)
    assert "Ключ авторизации ГигаЧат не задан" in text
    assert "--set-key" in text and "«Ключ авторизации…»" in text
    assert "Системное хранилище паролей недоступно" in text  # why there is no key
    assert "WARNING" not in text and "token request failed" not in text  # no English log lines


def test_a_foreign_gigachat_package_first_on_the_path_is_refused(tmp_path):
    """The official SDK is also called `gigachat`: tray_app.py says which one it found."""
    fake = tmp_path / "gigachat"
    fake.mkdir()
    (fake / "__init__.py").write_text('"""GigaChat SDK (stand-in)."""\n__version__ = "0.1.42"\n'
                                      "class GigaChat:\n    pass\n", encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": str(tmp_path)}
    # -P: the script's folder is not put first on sys.path (as with an installed launcher)
    done = subprocess.run([sys.executable, "-P", str(ROOT / "tray_app.py"), "--headless"],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 3
    assert "не тот пакет «gigachat»" in done.stderr and str(fake / "__init__.py") in done.stderr
    assert "SDK" in done.stderr and "Traceback" not in done.stderr
    ours = subprocess.run([sys.executable, str(ROOT / "tray_app.py"), "--version"], cwd=tmp_path,
                          env=env, capture_output=True, text=True, timeout=60)
    assert ours.returncode == 0 and ours.stdout.startswith("tray_app.py ")  # its own folder wins


WINDOWED = """
import os, runpy, sys
dead = os.open(os.devnull, os.O_RDONLY)  # fds 1 and 2 exist but cannot be written to
os.dup2(dead, 1)
os.dup2(dead, 2)
sys.stdout = sys.stderr = None  # as in a PyInstaller --windowed build
sys.argv = ["tray_app.py", *sys.argv[1:]]
runpy.run_path(sys.argv[0], run_name="__main__")
"""


def windowed(*args: str, env: dict | None = None) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", WINDOWED, *args], cwd=ROOT, env=env,
                            stdin=subprocess.DEVNULL)


def log_text(home) -> str:
    return "".join(p.read_text(encoding="utf-8") for p in (home / "xdg_state_home").rglob("*.log"))


def test_windowed_build_without_console_reports_to_the_log(isolated_env):
    """No stdout/stderr and no usable fds 1/2: bad input is an exit code and a log line."""
    process = windowed("--headless", "--port", "99999")
    assert process.wait(60) == 2
    assert "Неверное значение --port 99999" in log_text(isolated_env)


def test_windowed_build_serves_and_stops_on_sigterm(isolated_env, emulator):
    from gigachat.emulator import DEMO_KEY

    env = {**os.environ, "GIGACHAT_CREDENTIALS": DEMO_KEY, "GIGACHAT_AUTH_URL": emulator.oauth_url,
           "GIGACHAT_API_URL": emulator.api_url}
    process = windowed("--headless", "--port", "0", env=env)
    try:
        url = wait_for(lambda: (m := re.search(r"запущен: (http://\S+)", log_text(isolated_env)))
                       and m.group(1), timeout=30)
        answer = requests.post(url + "/analyze/text", json={"text": "Привет"}, timeout=30).json()
        assert answer["success"] is True
        process.send_signal(signal.SIGTERM)
        assert process.wait(30) == 0
    finally:
        process.kill()
    assert "Мост остановлен." in log_text(isolated_env)


def test_first_run_says_what_it_installs(tmp_path):
    """scripts/run.sh in a fresh copy (no .venv): it says so before the silent pip install."""
    import shutil

    copy = tmp_path / "checkout"
    copy.mkdir()
    for name in ("scripts", "gigachat", "resources"):
        if (ROOT / name).exists():
            shutil.copytree(ROOT / name, copy / name, ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("tray_app.py", "requirements.txt", "requirements-dev.txt"):
        shutil.copy2(ROOT / name, copy / name)
    process = subprocess.Popen(["bash", "scripts/run.sh", "--version"], cwd=copy,
                               env={**os.environ, "PYTHON": sys.executable},
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    first = process.stderr.readline()  # printed before the venv and the install start
    assert first.startswith("setup: Первый запуск: создаю окружение Python"), first
    assert process.poll() is None  # it is still working: the message came first
    out, err = process.communicate(timeout=600)
    assert process.returncode == 0, err
    assert "Устанавливаю пакеты программы из requirements.txt" in err and "Пакеты установлены." in err
    assert out.startswith("tray_app.py ")
