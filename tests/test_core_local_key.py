"""GIGACHAT_BRIDGE_API_KEY in the environment turns the local key check on by itself
(issue 10 item 7): no `api_key_enabled` in settings.json needed."""

from __future__ import annotations

import json

import requests

from gigachat.core.credentials import CredentialStore
from gigachat.core.settings import load_settings
from gigachat.local.service import Service

ENV_LOCAL_API_KEY = "GIGACHAT_BRIDGE_API_KEY"


def test_env_key_alone_enables_the_check(tmp_path):
    assert load_settings({}, path=tmp_path / "none.json").api_key_enabled is False
    assert load_settings({ENV_LOCAL_API_KEY: "k-123"}, path=tmp_path / "none.json").api_key_enabled
    assert not load_settings({ENV_LOCAL_API_KEY: "  "}, path=tmp_path / "none.json").api_key_enabled
    path = tmp_path / "settings.json"
    path.write_text(json.dumps({"api_key_enabled": False}), encoding="utf-8")
    assert load_settings({ENV_LOCAL_API_KEY: "k-123"}, path=path).api_key_enabled  # env wins
    assert CredentialStore(environ={ENV_LOCAL_API_KEY: "k"}).local_api_key_forced
    assert not CredentialStore(environ={}).local_api_key_forced


def test_env_key_protects_the_running_bridge(emulator, tmp_path):
    from gigachat.emulator import DEMO_KEY

    environ = {"GIGACHAT_CREDENTIALS": DEMO_KEY, ENV_LOCAL_API_KEY: "secret-local-key",
               "GIGACHAT_AUTH_URL": emulator.oauth_url, "GIGACHAT_API_URL": emulator.api_url,
               "API_PORT": "1"}
    settings = load_settings(environ, path=tmp_path / "settings.json").with_changes(port=0)
    service = Service(settings, credentials=CredentialStore(environ=environ)).start()
    try:
        url = service.url + "/analyze/text"
        refused = requests.post(url, json={"text": "Привет"}, timeout=30)
        assert refused.status_code == 403 and "API-ключ" in refused.text
        allowed = requests.post(url, json={"text": "Привет"}, timeout=30,
                                headers={"Authorization": "Bearer secret-local-key"})
        assert allowed.status_code == 200 and allowed.json()["success"] is True
    finally:
        service.stop()
