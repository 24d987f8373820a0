"""Two OS users on one host, multi-user mode (issue 15): two real bridges (`tray_app.py
--headless`), each as its own user — own USER/USERNAME/LOGNAME, HOME, temporary folder,
XDG folders and its own Secret Service keyring (scripts/with-keyring.sh per bridge).

They get different ports from the range, each refuses the other's key, each connection file
holds its own port and key and is readable by its owner only, the file goes at exit, and a
restart keeps the port.
"""

from __future__ import annotations

import json
import os
import re
import signal
import stat
import subprocess
import sys
import threading
from pathlib import Path

import pytest
import requests

from gigachat.emulator import DEMO_KEY
from gigachat.local.multiuser import preferred_port
from tests.conftest import wait_for

ROOT = Path(__file__).resolve().parent.parent
PORT_RANGE = (23100, 23999)  # below Linux's ephemeral ports, where other tests bind port 0


class UserBridge:
    """One user's bridge process (inside its own D-Bus session and keyring)."""

    def __init__(self, home: Path, name: str, emulator) -> None:
        self.name = name
        self.root = home / name
        self.tmp = self.root / "tmp"
        for folder in ("home", "tmp", "config", "state", "data", "cache"):
            (self.root / folder).mkdir(parents=True, exist_ok=True)
        self.tmp.chmod(0o700)
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("GIGACHAT_", "XDG_"))},
            "HOME": str(self.root / "home"), "USER": name, "USERNAME": name, "LOGNAME": name,
            "TMPDIR": str(self.tmp), "XDG_CONFIG_HOME": str(self.root / "config"),
            "XDG_STATE_HOME": str(self.root / "state"), "XDG_DATA_HOME": str(self.root / "data"),
            "XDG_CACHE_HOME": str(self.root / "cache"), "GIGACHAT_BRIDGE_MULTIUSER": "true",
            "GIGACHAT_PORT_RANGE": f"{PORT_RANGE[0]}-{PORT_RANGE[1]}",
            "GIGACHAT_CREDENTIALS": DEMO_KEY, "GIGACHAT_AUTH_URL": emulator.oauth_url,
            "GIGACHAT_API_URL": emulator.api_url}
        self.process: subprocess.Popen | None = None
        self.lines: list[str] = []

    @property
    def connection_file(self) -> Path:
        return self.tmp / "GigaChatBridge" / "connection.json"

    def start(self) -> UserBridge:
        self.lines = []
        self.process = subprocess.Popen(
            ["sh", str(ROOT / "scripts" / "with-keyring.sh"), sys.executable,
             str(ROOT / "tray_app.py"), "--headless"], env=self.env, cwd=ROOT, text=True,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
        threading.Thread(target=self._read, args=(self.process,), daemon=True,
                         name=f"test-bridge-{self.name}").start()
        wait_for(lambda: self.url or self.process.poll() is not None, timeout=90, interval=0.05)
        assert self.url, "".join(self.lines)
        wait_for(self.connection_file.exists, timeout=30)
        return self

    def _read(self, process: subprocess.Popen) -> None:
        for line in process.stdout:
            self.lines.append(line)

    @property
    def url(self) -> str | None:
        for line in self.lines:
            if match := re.search(r"запущен: (http://\S+)", line):
                return match.group(1)
        return None

    @property
    def port(self) -> int:
        return int(self.url.rsplit(":", 1)[1])

    def connection(self) -> dict:
        return json.loads(self.connection_file.read_text(encoding="utf-8"))

    def stop(self) -> None:
        """SIGTERM to the bridge itself (its pid is in the connection file), then wait."""
        if self.process is None or self.process.poll() is not None:
            return
        pid = self.connection()["pid"]
        os.kill(pid, signal.SIGTERM)
        try:
            self.process.wait(60)
        finally:
            if self.process.poll() is None:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(10)


def ask(url: str, key: str | None) -> requests.Response:
    headers = {"X-API-Key": key} if key else {}
    with requests.Session() as session:
        session.trust_env = False
        return session.post(url + "/analyze/text", json={"text": "Привет"}, headers=headers,
                            timeout=60)


def status_of(env: dict[str, str]) -> dict:
    done = subprocess.run([sys.executable, str(ROOT / "tray_app.py"), "--status"], env=env,
                          cwd=ROOT, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    return json.loads(done.stdout)


def test_status_in_single_user_mode(tmp_path, emulator):
    bridge = UserBridge(tmp_path, "carol", emulator)
    env = {**bridge.env, "GIGACHAT_BRIDGE_MULTIUSER": "false", "API_PORT": "8011"}
    shown = status_of(env)
    assert (shown["mode"], shown["port"], shown["url"]) == ("single", 8011, "http://127.0.0.1:8011")
    assert shown["paths"]["settings"].startswith(str(bridge.root / "config"))
    assert set(shown["paths"]) == {"settings", "policy", "logs", "jobs_database", "connection_file"}


@pytest.fixture
def users(tmp_path, emulator):
    made = [UserBridge(tmp_path, name, emulator) for name in ("alice", "bob")]
    yield made
    for bridge in made:
        bridge.stop()


def test_two_users_two_ports_two_keys_private_files_and_a_stable_port(users):
    alice, bob = users
    assert preferred_port("alice", *PORT_RANGE) != preferred_port("bob", *PORT_RANGE)
    alice.start()
    bob.start()
    assert alice.port != bob.port
    assert all(PORT_RANGE[0] <= b.port <= PORT_RANGE[1] for b in users)

    files = {b.name: b.connection() for b in users}
    for bridge in users:
        data = files[bridge.name]
        assert data["port"] == bridge.port and data["url"] == bridge.url
        assert data["user"] == bridge.name and len(data["key"]) >= 32
        assert stat.S_IMODE(bridge.connection_file.stat().st_mode) == 0o600
        assert stat.S_IMODE(bridge.connection_file.parent.stat().st_mode) == 0o700
    assert files["alice"]["key"] != files["bob"]["key"]

    # Each answers its own user's key only.
    for bridge, other in ((alice, bob), (bob, alice)):
        own = ask(bridge.url, files[bridge.name]["key"])
        assert own.status_code == 200 and own.json()["success"] is True, own.text
        foreign = ask(bridge.url, files[other.name]["key"])
        assert foreign.status_code == 403 and foreign.json()["success"] is False
        assert ask(bridge.url, None).status_code == 403

    # --status tells each user their own port, the mode and where the files are.
    for bridge in users:
        shown = status_of(bridge.env)
        assert (shown["mode"], shown["port"], shown["url"], shown["running"]) == (
            "multi", bridge.port, bridge.url, True)
        assert shown["paths"]["connection_file"] == str(bridge.connection_file)
        assert bridge.connection()["key"] not in json.dumps(shown)

    # At exit the file goes; a restart keeps the port.
    first_port = alice.port
    alice.stop()
    assert alice.process.returncode == 0, "".join(alice.lines)
    assert not alice.connection_file.exists()
    alice.start()
    assert alice.port == first_port
    assert alice.connection()["port"] == first_port
    assert bob.connection()["port"] == bob.port  # untouched by alice's restart
