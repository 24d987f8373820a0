"""SIGTERM stops the tray within 5 s at any moment: during the start, with windows open, and
while a dialog's key check hangs on an unanswering GigaChat (tray_app.py under Xvfb + trayer).

Why it was ignored before (issue 10, item 20): the start line was printed and the service
started before the signal watcher existed, and a quit that came before pystray's loop was
ready called `Icon.stop()` while pystray still thought it was not running: a no-op, so the
icon loop then ran forever. pystray's xorg dispatch also waited forever for a loop that
might not answer, which made the last-resort interrupt unreachable.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
import time

import pytest

from gigachat.emulator import DEMO_KEY
from tests import xrig
from tests.conftest import wait_for
from tests.xrig import TrayProcess, icon_windows

xdisplay, tray_host = xrig.xdisplay, xrig.tray_host  # session fixtures

STOP_WITHIN = 5.0


def stops_within(app: TrayProcess, seconds: float = STOP_WITHIN) -> float:
    """SIGTERM, then the exit status must be 0 within `seconds`; returns the time taken."""
    sent = app.terminate()
    try:
        status = app.process.wait(seconds)
    except Exception:
        raise AssertionError(f"still running {seconds} s after SIGTERM:\n{app.output}") from None
    assert status == 0, app.output
    return time.monotonic() - sent


@pytest.mark.parametrize("attempt", range(3))
def test_sigterm_right_after_the_start_line(tray_host, attempt):
    """The start line comes just before the icon's loop starts: the narrowest moment."""
    app = TrayProcess(tray_host, "--demo", "--port", "0")
    try:
        app.url()
        stops_within(app)
        assert "Мост остановлен." in app.output and "Traceback" not in app.output
    finally:
        app.stop()


@pytest.fixture
def cpu_load():
    """Two busy processes for the length of one test (the CI machine has two cores)."""
    burners = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(2)]
    yield
    for burner in burners:
        burner.kill()
        burner.wait(10)


def test_sigterm_under_load_right_after_the_start_line(tray_host, cpu_load):
    app = TrayProcess(tray_host, "--demo", "--port", "0")
    try:
        app.url()
        stops_within(app)
    finally:
        app.stop()


def test_sigterm_before_anything_started(tray_host, isolated_env):
    """The moment the single-instance lock is taken: pystray not loaded, no service yet."""
    app = TrayProcess(tray_host, "--demo", "--port", "0")
    lock = isolated_env / "xdg_state_home" / "GigaChatBridge" / "tray.lock"
    try:
        def locked() -> bool:
            assert app.process.poll() is None, app.output
            return lock.is_file() and lock.read_text().strip() == str(app.process.pid)
        wait_for(locked, timeout=xrig.TRAY_DEADLINE, interval=0.005)
        stops_within(app)
        assert "Мост остановлен." in app.output
    finally:
        app.stop()


def test_sigterm_while_the_icon_and_the_status_window_are_shown(tray_host):
    app = TrayProcess(tray_host, "--demo", "--port", "0")
    try:
        app.url()
        window = wait_for(lambda: icon_windows(tray_host), timeout=xrig.TRAY_DEADLINE)[0]
        wait_for(lambda: tray_host.geometry(window)[2] >= 8, timeout=xrig.TRAY_DEADLINE)  # docked
        tray_host.click_window(window)
        wait_for(lambda: tray_host.search("--onlyvisible", "--class", "^GigaChatStatus$"),
                 timeout=xrig.TRAY_DEADLINE)
        stops_within(app)
        assert "threads left: none" in app.output
        assert not icon_windows(tray_host)
    finally:
        app.stop()


class BlackHole:
    """A TCP listener that accepts connections and never answers (a hung GigaChat)."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.accepted: list[socket.socket] = []
        threading.Thread(target=self._accept, name="test-black-hole", daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.accepted.append(conn)

    def close(self) -> None:
        self.sock.close()
        for conn in self.accepted:
            conn.close()


def test_sigterm_while_the_key_dialog_waits_for_a_hung_gigachat(tray_host):
    """First run without a keyring: the key dialog; «Сохранить» checks the key with GigaChat,
    which never answers (the check would take 30 s); SIGTERM still ends it within 5 s."""
    hole = BlackHole()
    env = {"PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring",
           "DBUS_SESSION_BUS_ADDRESS": "unix:path=/nonexistent",
           "GIGACHAT_AUTH_URL": f"http://127.0.0.1:{hole.port}/api/v2/oauth",
           "GIGACHAT_API_URL": f"http://127.0.0.1:{hole.port}/api/v1"}
    app = TrayProcess(tray_host, "--port", "0", env=env)
    try:
        app.url()
        dialog = wait_for(lambda: tray_host.search("--onlyvisible", "--class", "^GigaChatKeyDialog$"),
                          timeout=xrig.TRAY_DEADLINE)[0]
        wait_for(lambda: tray_host.run("xdotool", "getwindowfocus", check=False).strip() == str(dialog),
                 timeout=xrig.TRAY_DEADLINE)
        before = len(hole.accepted)  # the token manager's own attempts knock on it too
        tray_host.run("xdotool", "type", "--delay", "5", DEMO_KEY)
        tray_host.run("xdotool", "key", "Return")
        wait_for(lambda: len(hole.accepted) > before, timeout=xrig.TRAY_DEADLINE)  # the check hangs
        stops_within(app)
        assert "background work still running at exit: gigachat-key-check" in app.output
    finally:
        app.stop()
        hole.close()


def test_sigint_stops_the_tray_like_sigterm(tray_host):
    import signal

    app = TrayProcess(tray_host, "--demo", "--port", "0")
    try:
        app.url()
        wait_for(lambda: icon_windows(tray_host), timeout=xrig.TRAY_DEADLINE)
        app.process.send_signal(signal.SIGINT)
        assert app.process.wait(STOP_WITHIN) == 0, app.output
        assert "KeyboardInterrupt" not in app.output
    finally:
        app.stop()


