"""The desktop's façade: Service.snapshot() and its named actions, on a real running bridge."""

from __future__ import annotations

import ast
import dataclasses
import socket
from pathlib import Path

import pytest
import requests

from gigachat.core.credentials import CredentialStore
from gigachat.core.errors import WrongKey
from gigachat.core.settings import Settings, load_settings
from gigachat.core.token import TokenState
from gigachat.emulator import DEMO_KEY, make_key
from gigachat.local.service import Service, Snapshot
from tests.conftest import wait_for

ROOT = Path(__file__).resolve().parent.parent


class MemoryStore(CredentialStore):
    """A store without a keyring: what the façade saves stays in this object."""

    def __init__(self) -> None:
        super().__init__(environ={})
        self.key: str | None = None

    def get_key(self) -> str | None:
        return self.key

    def save_key(self, key: str) -> None:
        self.key = key


@pytest.fixture
def demo():
    service = Service(Settings(port=0), demo=True).start()
    yield service
    service.stop()


def test_snapshot_is_one_frozen_value_with_what_the_tray_shows(demo):
    snap = wait_for(lambda: (s := demo.snapshot()).token.state is TokenState.VALID and s, timeout=30)
    assert isinstance(snap, Snapshot) and snap.running and snap.demo
    assert snap.url == demo.url and snap.port == int(demo.url.rsplit(":", 1)[1])
    assert (snap.queue_length, snap.in_flight, snap.requests_today) == (0, 0, 0)
    with pytest.raises(dataclasses.FrozenInstanceError):
        snap.queue_length = 5  # type: ignore[misc]
    requests.post(demo.url + "/analyze/text", json={"text": "Привет"}, timeout=30).raise_for_status()
    assert demo.snapshot().requests_today == 1 and demo.snapshot().tokens_today > 0


def test_demo_behaves_like_the_default_host(demo):
    """The demo's emulator serves the new host's catalogue: the default model is GigaChat-2."""
    assert demo.snapshot().model == "GigaChat-2"
    models = demo.chat_models()
    assert "GigaChat-2" in models and "GigaChat" not in models
    assert demo.check_connection() == len(models)
    answer = requests.post(demo.url + "/analyze/text", json={"text": "Привет"}, timeout=30).json()
    assert answer["success"] is True
    assert demo.snapshot().model_notice is None  # the configured model exists there


def test_balance_and_token_refresh_actions(demo):
    wait_for(lambda: demo.snapshot().token.state is TokenState.VALID, timeout=30)
    assert demo.snapshot().balance is None  # nothing asked yet: no network in snapshot()
    balance = demo.update_balance()
    assert balance and dict(balance)["GigaChat-2"] > 0 and demo.snapshot().balance == balance
    before = demo.emulator.stats["oauth_requests"]
    demo.refresh_token()
    assert demo.emulator.stats["oauth_requests"] == before + 1


def test_save_key_checks_it_with_gigachat_before_saving(emulator):
    store = MemoryStore()
    service = Service(Settings(port=0, auth_url=emulator.oauth_url, api_url=emulator.api_url),
                      credentials=store).start()
    try:
        assert not service.has_key()
        with pytest.raises(WrongKey):
            service.save_key(make_key("nobody", "nothing"))
        assert store.key is None  # a rejected key is not saved
        service.save_key(DEMO_KEY)
        assert store.key == DEMO_KEY and service.has_key()
        wait_for(lambda: service.snapshot().token.state is TokenState.VALID, timeout=30)  # used at once
        service.save_key(make_key("offline", "check"), verify=False)  # issue 16: «save anyway»
        assert store.key == make_key("offline", "check")
    finally:
        service.stop()


def test_apply_settings_saves_and_restarts_on_the_new_port(demo):
    old = demo.url
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        free = probe.getsockname()[1]
    demo.apply_settings(port=free, model="GigaChat-2-Pro")
    assert demo.running and demo.url.endswith(f":{free}") and demo.snapshot().model == "GigaChat-2-Pro"
    saved = load_settings(environ={})
    assert (saved.port, saved.model) == (free, "GigaChat-2-Pro")
    wait_for(lambda: requests.get(demo.url + "/health", timeout=5).json()["status"] == "ok", timeout=30)
    with pytest.raises(requests.ConnectionError):
        requests.get(old + "/health", timeout=2)


def test_a_stopped_service_has_a_plain_snapshot_and_refuses_network_actions():
    service = Service(Settings(port=8123, model="GigaChat-2-Max"))
    snap = service.snapshot()
    assert not snap.running and snap.url == "" and snap.port == 8123 and snap.model == "GigaChat-2-Max"
    with pytest.raises(Exception, match="Мост не запущен"):
        service.check_connection()


def test_the_desktop_reads_only_the_facade():
    """No `….bridge…` chains into the core's objects: gigachat/desktop and tray_app.py use the
    snapshot and the actions (tests/test_architecture.py checks the imports)."""
    offenders = []
    for path in [*sorted((ROOT / "gigachat" / "desktop").glob("*.py")), ROOT / "tray_app.py"]:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and node.attr in ("bridge", "tokens", "client"):
                offenders.append(f"{path.name}:{node.lineno} .{node.attr}")
            if isinstance(node, ast.Name) and node.id == "TokenManager":
                offenders.append(f"{path.name}:{node.lineno} TokenManager")
    assert offenders == []
