"""The default model and the model choice on both GigaChat hosts (issue 10 items 3 and 4)."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

from gigachat.core.bridge import create_bridge
from gigachat.core.client import GigaChatClient
from gigachat.core.settings import Settings, load_settings
from gigachat.core.tls import make_session
from gigachat.core.token import TokenManager
from tests.conftest import remember_secrets

USER = {"role": "user", "content": "Акт сверки за ноябрь"}
OLD_BASE = "https://gigachat.devices.sberbank.ru/api/v1"


@pytest.fixture
def new_host() -> Iterator:
    """An emulator serving api.giga.chat's catalogue (no legacy «GigaChat»)."""
    from gigachat.emulator import Emulator

    emu = Emulator(catalogue="new").start()
    yield emu
    emu.stop()
    remember_secrets(emu)


def client_for(emulator, model: str) -> GigaChatClient:
    from gigachat.emulator import DEMO_KEY

    session = make_session()
    tokens = TokenManager(emulator.oauth_url, "GIGACHAT_API_PERS", lambda: DEMO_KEY, session)
    return GigaChatClient(emulator.api_url, tokens, session, model=model, request_timeout=10.0)


def models_calls(emulator) -> int:
    return emulator.stats["routes"].get("/api/v1/models", 0)


def test_default_model_is_served_by_the_default_host(new_host):
    settings = Settings(auth_url=new_host.oauth_url, api_url=new_host.api_url)
    assert settings.model == "GigaChat-2"
    bridge = create_bridge(settings, lambda: __import__("gigachat.emulator").emulator.DEMO_KEY)
    try:
        assert bridge.client.model == "GigaChat-2"
        model = bridge.client.pick_model(None)
        answer = bridge.client.chat({"model": model, "messages": [USER]})
        assert answer["model"].startswith("GigaChat-2")
        assert bridge.client.model_notice is None
    finally:
        bridge.stop()


def test_create_bridge_passes_the_configured_model(new_host):
    settings = Settings(auth_url=new_host.oauth_url, api_url=new_host.api_url, model="GigaChat-2-Max")
    bridge = create_bridge(settings, lambda: None)
    try:
        assert bridge.client.model == "GigaChat-2-Max"
    finally:
        bridge.stop()


def test_tutorial_model_on_the_new_host_is_replaced_once(new_host, caplog):
    client = client_for(new_host, "GigaChat")
    caplog.set_level(logging.WARNING, logger="gigachat")
    picks = [client.pick_model(None) for _ in range(3)]
    assert picks == ["GigaChat-2"] * 3
    assert client.model_notice == ("Модель GigaChat недоступна на этом адресе ГигаЧат, "
                                   "используется GigaChat-2")
    assert models_calls(new_host) == 1  # cached
    notes = [r for r in caplog.records if "GigaChat-2" in r.getMessage() and "using" in r.getMessage()]
    assert len(notes) == 1
    answer = client.chat({"model": picks[0], "messages": [USER]})
    assert answer["choices"][0]["message"]["content"]


@pytest.mark.parametrize("configured, expected", [
    ("GigaChat-Pro", "GigaChat-2-Pro"),
    ("GigaChat-Max-preview", "GigaChat-2-Max"),
    ("GigaChat-3-Ultra", "GigaChat-3-Ultra"),
    ("GigaChat-5-Lite", "GigaChat-2"),
])
def test_substitute_prefers_the_same_tier(new_host, configured, expected):
    assert client_for(new_host, configured).pick_model(None) == expected


def test_a_named_model_is_used_as_it_is(new_host):
    client = client_for(new_host, "GigaChat")
    assert client.pick_model("GigaChat") == "GigaChat"
    assert client.pick_model("Что-то-своё") == "Что-то-своё"
    assert models_calls(new_host) == 0
    assert client.model_notice is None


def test_old_host_keeps_the_tutorial_model(emulator):
    client = client_for(emulator, "GigaChat")  # the legacy catalogue
    assert client.pick_model(None) == "GigaChat"
    assert client.model_notice is None


def test_models_failure_never_fails_the_call(new_host):
    client = client_for(new_host, "GigaChat-2")
    new_host.inject(kind="models_404")
    assert client.pick_model(None) == "GigaChat-2"
    assert client.pick_model(None) == "GigaChat-2"
    assert models_calls(new_host) == 1  # the failure is remembered for a while too
    new_host.inject(status=500, path="/models", times=50)
    assert client_for(new_host, "GigaChat").pick_model(None) == "GigaChat"


def test_models_keep_type_and_chat_models_filters(new_host):
    client = client_for(new_host, "GigaChat-2")
    entries = client.models()["data"]
    assert {entry["type"] for entry in entries} >= {"chat", "embedder", "aicheck", "filter"}
    chat = client.chat_models()
    assert chat == ["GigaChat-2", "GigaChat-2-Pro", "GigaChat-2-Max", "GigaChat-3-Ultra"]
    assert models_calls(new_host) == 1  # chat_models() used the answer models() just read


def test_tutorial_env_with_the_old_base_keeps_it():
    settings = load_settings({"GIGACHAT_API_URL": OLD_BASE, "GIGACHAT_MODEL": "GigaChat"})
    assert settings.api_url == OLD_BASE and settings.model == "GigaChat"
    assert load_settings({}).api_url == "https://api.giga.chat/v1"


def test_a_failed_refresh_keeps_the_last_good_list(new_host):
    from gigachat.core.models import FAILED_TTL, MODELS_TTL, ModelChooser

    now = [1000.0]
    client = client_for(new_host, "GigaChat")
    client.max_attempts = 1
    chooser = ModelChooser("GigaChat", client.models, clock=lambda: now[0])
    assert chooser.pick(None) == "GigaChat-2"
    now[0] += MODELS_TTL + 1
    new_host.inject(status=503, path="/models", times=100)
    assert chooser.pick(None) == "GigaChat-2"  # not the missing «GigaChat»
    now[0] += FAILED_TTL + 1
    new_host.clear_faults()
    assert chooser.pick(None) == "GigaChat-2"
    assert chooser.notice and "GigaChat-2" in chooser.notice


@pytest.mark.parametrize("configured", [None, "GigaChat"])
def test_tutorial_curl_works_on_the_new_host(new_host, configured):
    """The tutorial's request (no model) on api.giga.chat's catalogue: default settings, and
    settings saved by an older version with the tutorial's «GigaChat»."""
    import requests

    from tests.conftest import LOCAL_TEST_KEY, service_for

    service = service_for(new_host, **({"model": configured} if configured else {}))
    try:
        answer = requests.post(service.url + "/analyze/text", timeout=30,
                               headers={"X-API-Key": LOCAL_TEST_KEY},
                               json={"text": "Проверь реквизиты: ИНН 7707083893"}).json()
        assert answer["success"] is True, answer
        assert answer["model"].startswith("GigaChat-2")
        notice = service.bridge.client.model_notice
        assert (notice is None) if configured is None else ("GigaChat-2" in notice)
    finally:
        service.stop()
