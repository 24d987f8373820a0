"""Issue 16, item 1: the install.sh build starts every time.

The installed launcher (Debian's /usr/bin/python3, python3-gi linked in, the tray on a real
Xvfb display with trayer, the real Secret Service) is started 30 times; every start must reach
/health and stop cleanly on SIGTERM. The cause of the old silent exit (keyring's KWallet probe
through Debian's python3-dbus, racing between threads while the GLib loop runs) is also tested
directly, in a venv that sees the system's packages.
"""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import pytest
import requests

from tests import sysvenv, xrig
from tests.conftest import need, wait_for
from tests.test_packaging import Home, Started, real_pip_settings

ROOT = Path(__file__).resolve().parent.parent
INSTALL_SH = ROOT / "installer" / "linux" / "install.sh"
STARTS = 30
STOP_DEADLINE = 5.0  # seconds from SIGTERM to the end of the process (item 2)

xdisplay, tray_host = xrig.xdisplay, xrig.tray_host  # session fixtures


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Home:
    """install.sh into a temp HOME with Debian's python3 (the path an accountant takes)."""
    sysvenv.need_system_gi()
    root = tmp_path_factory.mktemp("install-starts") / "user"
    env = {**os.environ, **real_pip_settings(), "HOME": str(root / "home"),
           "XDG_DATA_HOME": str(root / "data"), "XDG_CONFIG_HOME": str(root / "config"),
           "XDG_STATE_HOME": str(root / "state"), "XDG_CACHE_HOME": str(root / "cache"),
           "PYTHON": sysvenv.SYSTEM_PYTHON}
    for name in ("home", "data", "config", "state", "cache"):
        (root / name).mkdir(parents=True)
    home = Home(root, env)
    done = home.install_sh("--no-autostart")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "значок в трее (python3-gi, AppIndicator): есть" in done.stdout, done.stdout
    return home


def bridge_log(home: Home) -> Path:
    return home.root / "state" / "GigaChatBridge" / "log" / "bridge.log"


def test_the_installed_venv_sees_gi_but_not_the_system_dbus(installed):
    """python3-gi (the tray with a menu) is linked in; nothing else of the system's packages."""
    venv_python = installed.data / "gigachat-bridge" / "venv" / "bin" / "python"
    probe = subprocess.run(
        [str(venv_python), "-c", "import importlib.util as u; import gi; "
         "print(bool(u.find_spec('dbus')), bool(u.find_spec('gi.repository')))"],
        capture_output=True, text=True, timeout=60, check=False)
    assert probe.returncode == 0, probe.stderr
    assert probe.stdout.split() == ["False", "True"]


def start_and_stop(launcher: Path, env: dict[str, str], log_file: Path) -> None:
    """One start: the URL line, /health, the keyring chosen and the icon up, SIGTERM → 0 in 5 s."""
    before = log_file.stat().st_size if log_file.exists() else 0
    app = Started([str(launcher), "--port", "0"], env=env)

    def fresh_log() -> str:  # `before` counts bytes: cut the bytes, then decode
        return log_file.read_bytes()[before:].decode("utf-8", "replace") if log_file.exists() else ""

    def probed() -> bool:  # the keyring was chosen and the icon is up: the old crash window
        if app.process.poll() is not None:
            raise AssertionError(f"exited ({app.process.returncode}) after /health")
        text = fresh_log()
        return "keyring backend:" in text and "tray icon backend:" in text

    try:
        url = app.url(timeout=90)
        health = wait_for(lambda: requests.get(url + "/health", timeout=10), timeout=30, interval=0.1)
        assert health.status_code == 200 and "status" in health.json()
        wait_for(probed, timeout=60, interval=0.05)
        sent = time.monotonic()
        app.process.terminate()
        code = app.process.wait(30)
        took = time.monotonic() - sent
        assert code == 0, f"exit status {code}"
        assert took < STOP_DEADLINE, f"stopped {took:.1f} s after SIGTERM"
    except (AssertionError, TimeoutError, subprocess.TimeoutExpired, requests.RequestException) as exc:
        raise AssertionError(f"{exc}\n--- output:\n{''.join(app.lines)[-2000:]}"
                             f"\n--- log:\n{fresh_log()[-2000:]}") from None
    finally:
        app.kill()


@pytest.mark.timeout(1800)  # 30 starts of about 2 s each; generous for a loaded CI machine
def test_the_installed_launcher_starts_every_time(installed, tray_host):
    """30 starts in tray mode (no key yet: the key dialog opens, the keyring is probed while
    the tray's loop runs): each reaches /health, stays up, and stops on SIGTERM with status 0."""
    need(bool(os.environ.get("DBUS_SESSION_BUS_ADDRESS")),
         "a D-Bus session with gnome-keyring (run under scripts/with-keyring.sh)")
    env = {**installed.env, "DISPLAY": tray_host.name}
    env.pop("PYSTRAY_BACKEND", None)  # the program's own choice of backend
    failures: list[str] = []
    for start in range(1, STARTS + 1):
        try:
            start_and_stop(installed.launcher, env, bridge_log(installed))
        except AssertionError as exc:
            failures.append(f"start {start}: {exc}")
    assert not failures, f"{len(failures)} of {STARTS} starts failed:\n" + "\n\n".join(failures[:3])


RACE_SCRIPT = r"""
import sys, threading
from gi.repository import GLib
from gigachat.core.credentials import CredentialStore

def probe():
    barrier.wait()
    try:
        CredentialStore(environ={})._backend()
    except Exception as exc:  # no keyring is a clear error, never an exit
        print(type(exc).__name__, file=sys.stderr)

barrier = threading.Barrier(3)
def start():
    for _ in range(3):
        threading.Thread(target=probe).start()
    return False

loop = GLib.MainLoop()
GLib.timeout_add(50, start)
GLib.timeout_add(1500, loop.quit)
loop.run()
print("survived")
"""


def test_keyring_probes_from_three_threads_under_a_glib_loop_never_end_the_process(
        system_venv):
    """The old cause, directly: with Debian's python3-dbus visible, keyring's KWallet probe ran
    in several threads at once while a GLib loop dispatched, and libdbus called _exit(1) in
    about one run of three. Now the probe is made once, under a lock."""
    need(bool(os.environ.get("DBUS_SESSION_BUS_ADDRESS")), "a D-Bus session (scripts/with-keyring.sh)")
    dbus_seen = subprocess.run([str(system_venv), "-c", "import dbus"], capture_output=True,
                               timeout=60, check=False)
    need(dbus_seen.returncode == 0, "python3-dbus (apt-get install python3-dbus)")
    results = []
    for _ in range(20):
        done = subprocess.run([str(system_venv), "-c", RACE_SCRIPT], cwd=ROOT, capture_output=True,
                              text=True, timeout=60, check=False)
        results.append((done.returncode, done.stdout.strip(), done.stderr[-300:]))
    bad = [r for r in results if r[0] != 0 or r[1] != "survived"]
    assert not bad, bad


system_venv = sysvenv.system_venv  # session fixture

