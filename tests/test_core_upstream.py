"""How the client reads GigaChat's failures and odd answers (issue 10 items 2, 5, 6, 11, 13)."""

from __future__ import annotations

import logging
import re
import time

import pytest

from gigachat.core import errors
from gigachat.core.client import GigaChatClient
from gigachat.core.tls import make_session
from gigachat.core.token import TokenManager

USER = {"role": "user", "content": "Счёт №15 от 01.12.2026 на 12 000 руб."}
UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"


def client_for(emulator, api_url: str | None = None, timeout: float = 10.0) -> GigaChatClient:
    from gigachat.emulator import DEMO_KEY

    session = make_session()
    tokens = TokenManager(emulator.oauth_url, "GIGACHAT_API_PERS", lambda: DEMO_KEY, session)
    return GigaChatClient(api_url or emulator.api_url, tokens, session, request_timeout=timeout)


def chat_calls(emulator) -> int:
    return emulator.stats["routes"].get("/api/v1/chat/completions", 0)


# --- item 5: a 404 says what really failed ----------------------------------------------


def test_wrong_api_path_is_not_no_such_model(emulator):
    wrong = emulator.base_url + "/api/v1/xyz"
    client = client_for(emulator, api_url=wrong)
    with pytest.raises(errors.EndpointNotFound) as caught:
        client.chat({"model": "GigaChat-2", "messages": [USER]})
    message = caught.value.message
    assert "/api/v1/xyz/chat/completions" in message and "GIGACHAT_API_URL" in message
    assert "модел" not in message.lower()
    assert caught.value.code == "not_found" and caught.value.status == 404


def test_models_404_says_the_model_list_failed(emulator):
    client = client_for(emulator)
    emulator.inject(kind="models_404")
    with pytest.raises(errors.EndpointNotFound) as caught:
        client.models()
    assert "список моделей" in caught.value.message
    assert "/api/v1/models" in caught.value.message


def test_models_404_with_no_such_model_text_is_still_the_address(emulator):
    client = client_for(emulator)
    emulator.inject(status=404, path="/models", message="No such model")
    with pytest.raises(errors.EndpointNotFound):
        client.models()


def test_no_such_model_only_when_gigachat_says_so(emulator):
    client = client_for(emulator)
    with pytest.raises(errors.ModelNotFound) as caught:
        client.chat({"model": "GigaChat-7-Mega", "messages": [USER]})
    assert "GigaChat-7-Mega" in caught.value.message


def test_every_failed_call_logs_gigachats_message_and_request_id(emulator, caplog):
    client = client_for(emulator)
    client.models()
    caplog.set_level(logging.WARNING, logger="gigachat")
    emulator.inject(status=422, message="Invalid params: temperature must be positive")
    with pytest.raises(Exception) as caught:
        client.chat({"model": "GigaChat-2", "messages": [USER]})
    lines = [r.getMessage() for r in caplog.records if "temperature must be positive" in r.getMessage()]
    assert len(lines) == 1
    found = re.search(f"X-Request-Id: ({UUID})", lines[0])
    assert found and found.group(1) == caught.value.request_id
    assert "/chat/completions" in lines[0] and "\n" not in lines[0]


def test_retried_failures_log_one_line_each_with_request_id(emulator, caplog):
    client = client_for(emulator)
    client.models()
    caplog.set_level(logging.WARNING, logger="gigachat")
    emulator.inject(status=503, message="Service Unavailable: node busy")
    client.chat({"model": "GigaChat-2", "messages": [USER]})
    lines = [r.getMessage() for r in caplog.records if "node busy" in r.getMessage()]
    assert len(lines) == 1 and re.search(f"X-Request-Id: {UUID}", lines[0])


# --- item 13: GigaChat's text is redacted and capped where it enters --------------------


def test_long_token_like_error_text_is_redacted_and_capped(emulator, caplog):
    from gigachat.emulator import LONG_ERROR_TOKEN

    client = client_for(emulator, timeout=3.0)
    client.models()
    caplog.set_level(logging.WARNING, logger="gigachat")
    emulator.inject(kind="long_error", status=422)
    with pytest.raises(Exception) as caught:
        client.chat({"model": "GigaChat-2", "messages": [USER]})
    error = caught.value
    assert error.detail and len(error.detail) <= 300
    assert LONG_ERROR_TOKEN[:20] not in error.detail and LONG_ERROR_TOKEN[-20:] not in error.detail
    assert LONG_ERROR_TOKEN[:20] not in error.message and len(error.message) < 500
    assert "Bearer ***" in error.detail
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert LONG_ERROR_TOKEN[:20] not in logged and "Bearer ***" in logged


# --- item 6: a stream that is not a stream is an error ----------------------------------


def test_stream_answered_as_plain_json_is_an_error(emulator):
    client = client_for(emulator)
    emulator.inject(kind="plain_json_stream")
    with pytest.raises(errors.UnexpectedAnswer) as caught:
        list(client.chat_stream({"model": "GigaChat-2", "messages": [USER]}))
    assert "text/event-stream" in caught.value.message and "application/json" in caught.value.message
    assert client.last_error.code == "bad_answer"
    assert client.in_flight == 0 and client.queue_length == 0


# --- item 11: local errors are never retried as network errors --------------------------


@pytest.mark.parametrize("value", [float("nan"), float("inf"), "huge"], ids=["nan", "inf", "huge"])
def test_unsendable_number_is_refused_at_once_without_a_request(emulator, value):
    client = client_for(emulator, timeout=20.0)
    value = 10 ** 5000 if value == "huge" else value
    started = time.monotonic()
    with pytest.raises(errors.InvalidRequest) as caught:
        client.chat({"model": "GigaChat-2", "messages": [USER], "temperature": value})
    assert time.monotonic() - started < 1.0
    assert "NaN" in caught.value.message
    assert chat_calls(emulator) == 0
    assert client.in_flight == 0


def test_lone_surrogate_in_a_request_is_refused_without_a_request(emulator):
    client = client_for(emulator)
    with pytest.raises(errors.InvalidRequest):
        client.chat({"model": "GigaChat-2", "messages": [{"role": "user", "content": "x\ud800"}]})
    assert chat_calls(emulator) == 0


def test_programming_error_propagates_unretried(emulator):
    client = client_for(emulator, timeout=20.0)
    started = time.monotonic()
    with pytest.raises(TypeError):
        client.chat({"model": "GigaChat-2", "messages": [USER], "temperature": object()})
    assert time.monotonic() - started < 1.0
    assert chat_calls(emulator) == 0
    assert client.in_flight == 0
    # the client is still usable afterwards
    assert client.chat({"model": "GigaChat-2", "messages": [USER]})["choices"]


# --- item 2: lone surrogates in GigaChat's answer become U+FFFD ---------------------------


def test_lone_surrogate_in_an_answer_is_replaced(emulator):
    client = client_for(emulator)
    emulator.inject(kind="lone_surrogate")
    content = client.chat({"model": "GigaChat-2", "messages": [USER]})["choices"][0]["message"]["content"]
    assert "\ufffd" in content
    assert content.encode("utf-8")  # would raise on a lone surrogate


def test_lone_surrogate_in_a_stream_is_replaced(emulator):
    client = client_for(emulator)
    emulator.inject(kind="lone_surrogate")
    chunks = list(client.chat_stream({"model": "GigaChat-2", "messages": [USER]}))
    text = "".join(c["choices"][0]["delta"].get("content", "") for c in chunks)
    assert "\ufffd" in text
    text.encode("utf-8")
