"""Malformed and hostile request bodies against the live routes (real HTTP, emulator behind).

/analyze/text keeps the tutorial's contract (HTTP 200, success false, Russian error);
/v1/* answers 400 with OpenAI's error shape and `param` naming the field.
"""

from __future__ import annotations

import json
import re
import time

import pytest
import requests

from tests.conftest import service_for

CYRILLIC = re.compile("[А-Яа-яЁё]")
CHAT = "/v1/chat/completions"
HELLO = b'{"messages": [{"role": "user", "content": "x"}]'  # without the closing brace


@pytest.fixture
def service(emulator):
    svc = service_for(emulator)
    yield svc
    svc.stop()


def post(service, path: str, body: bytes) -> requests.Response:
    return requests.post(service.url + path, data=body, timeout=30,
                         headers={"Content-Type": "application/json"})


def analyze_refused(service, body: bytes, *fragments: str) -> str:
    """/analyze/text: 200, JSON, success false, a Russian error containing `fragments`."""
    response = post(service, "/analyze/text", body)
    assert response.status_code == 200, response.text[:500]
    assert response.headers["Content-Type"] == "application/json; charset=utf-8"
    answer = response.json()
    assert answer["success"] is False and answer["result"] == "", answer
    assert CYRILLIC.search(answer["error"]), answer
    for fragment in fragments:
        assert fragment in answer["error"], answer
    return answer["error"]


def openai_refused(service, body: bytes, field: str | None, path: str = CHAT) -> dict:
    """/v1: 400, OpenAI error shape, `param` is the field and the message names it."""
    response = post(service, path, body)
    assert response.status_code == 400, response.text[:500]
    error = response.json()["error"]
    assert error["type"] == "invalid_request_error" and CYRILLIC.search(error["message"])
    assert error["param"] == field, error
    if field:
        assert field in error["message"], error
    return error


def still_works(service) -> None:
    assert post(service, "/analyze/text", b'{"text": "\xd0\xb6\xd0\xb8\xd0\xb2?"}').json()["success"]
    assert post(service, CHAT, HELLO + b"}").status_code == 200


# --- item 2: lone surrogates anywhere in a request ------------------------------------------


@pytest.mark.parametrize(("body", "field"), [
    (b'{"text": "x", "model": "\\ud800"}', "model"),
    (b'{"text": "abc\\udfff"}', "text"),
    (b'{"text": "x", "system_prompt": "\\udc00\\ud800"}', "system_prompt"),
    (b'{"text": "x", "\\ud800": 1}', "\\ud800"),
])
def test_lone_surrogate_in_analyze_is_a_clear_error(service, body, field):
    analyze_refused(service, body, f"Поле {field}" if field != "\\ud800" else "Имя поля",
                    "суррогат")
    still_works(service)


@pytest.mark.parametrize(("body", "field"), [
    (b'{"model": "\\ud800", "messages": [{"role": "user", "content": "x"}]}', "model"),
    (b'{"messages": [{"role": "user", "content": "a\\udc00"}]}', "messages[0].content"),
    (b'{"messages": [{"role": "user", "content": [{"type": "text", "text": "\\ud800"}]}]}',
     "messages[0].content[0].text"),
    (b'{"messages": [{"role": "user", "content": "x", "\\ud800": 1}]}', "messages[0].\\ud800"),
    (b'{"input": ["ok", "\\ud800"]}', "input[1]"),
])
def test_lone_surrogate_in_openai_requests_is_400_naming_the_field(service, body, field):
    path = "/v1/embeddings" if b'"input"' in body else CHAT
    openai_refused(service, body, field, path)
    still_works(service)


def test_upstream_lone_surrogates_give_a_clean_answer(service, monkeypatch):
    """GigaChat's JSON may carry an escaped lone surrogate: the answer shows U+FFFD instead."""
    broken = {"choices": [{"message": {"role": "assistant", "content": "a\ud800b"},
                           "finish_reason": "stop"}], "model": "GigaChat\udfff"}
    monkeypatch.setattr(service.bridge.client, "chat", lambda payload, **kw: broken)
    for return_format in ("text", "html"):
        body = json.dumps({"text": "x", "return_format": return_format}).encode()
        answer = post(service, "/analyze/text", body).json()
        assert answer["success"] is True and "a\ufffdb" in answer["result"], answer
    response = post(service, CHAT, HELLO + b"}")
    assert response.status_code == 200
    assert response.json()["choices"][0]["message"]["content"] == "a\ufffdb"
    chunk = {"choices": [{"delta": {"role": "assistant", "content": "a\ud800b"}, "index": 0,
                          "finish_reason": "stop"}]}
    monkeypatch.setattr(service.bridge.client, "chat_stream", lambda payload, **kw: (
        c for c in [chunk]))
    stream = post(service, CHAT, HELLO + b', "stream": true}')
    assert stream.status_code == 200 and stream.text.endswith("data: [DONE]\n\n")
    assert "a\ufffdb" in stream.text


# --- item 2: encodings, BOM, malformed JSON ----------------------------------------------------


def test_bom_non_utf8_and_malformed_json(service):
    assert post(service, CHAT, b"\xef\xbb\xbf" + HELLO + b"}").status_code == 200
    assert post(service, "/analyze/text", b'\xef\xbb\xbf{"text": "x"}').json()["success"]
    error = openai_refused(service, '{"messages": [{"role": "user", "content": "Привет"}]}'
                           .encode("cp1251"), None)
    assert "UTF-8" in error["message"] and error["code"] == "bad_json"
    error = openai_refused(service, HELLO, None)
    assert "Некорректный JSON" in error["message"] and error["code"] == "bad_json"
    analyze_refused(service, b'{"text": "\xed\xa0\x80"}', "UTF-8")  # a surrogate in UTF-8 bytes


# --- item 11: NaN, Infinity, out-of-range numbers ---------------------------------------------


@pytest.mark.parametrize(("extra", "field"), [
    (b'"temperature": NaN', "temperature"),
    (b'"temperature": Infinity', "temperature"),
    (b'"top_p": -Infinity', "top_p"),
    (b'"temperature": 1e999', "temperature"),
    (b'"temperature": 1e308', "temperature"),
    (b'"repetition_penalty": 1e308', "repetition_penalty"),
    (b'"max_tokens": 1000000000000000000000000000000', "max_tokens"),
    (b'"max_completion_tokens": -1e999', "max_completion_tokens"),
    (b'"seed": NaN', "seed"),  # a field the bridge drops is still not JSON
])
def test_nan_infinity_and_out_of_range_numbers_are_400_at_once(service, emulator, extra, field):
    before = emulator.stats["api_requests"]
    started = time.monotonic()
    openai_refused(service, HELLO + b", " + extra + b"}", field)
    assert time.monotonic() - started < 2
    assert emulator.stats["api_requests"] == before  # never sent to GigaChat


@pytest.mark.parametrize(("extra", "field"), [
    (b'"temperature": NaN', "temperature"),
    (b'"temperature": -Infinity', "temperature"),
    (b'"temperature": 1e308', "temperature"),
    (b'"max_tokens": 1e999', "max_tokens"),
    (b'"max_tokens": 1000000000000000000000000000000', "max_tokens"),
])
def test_nan_and_out_of_range_numbers_in_analyze(service, emulator, extra, field):
    before = emulator.stats["api_requests"]
    analyze_refused(service, b'{"text": "x", ' + extra + b"}", field)
    assert emulator.stats["api_requests"] == before


# --- item 15: nesting, huge numbers, wrong types ------------------------------------------------


@pytest.mark.parametrize("path", ["/analyze/text", CHAT, "/v1/embeddings"])
def test_deep_nesting_and_huge_numbers_are_quick_clear_errors(service, path):
    digits = b"1" * 100_000
    for body, fragment in ((b"[" * 100_000, "вложенность"),
                           (b'{"text": "x", "messages": [' * 20_000, "вложенность"),
                           (b'{"text": "x", "max_tokens": ' + digits + b"}", "длинное число"),
                           (b'{"input": "x", "text": "x", "messages": [], "seed": ' + digits
                            + b"}", "Поле seed: слишком длинное число")):
        started = time.monotonic()
        if path == "/analyze/text":
            analyze_refused(service, body, fragment)
        else:
            response = post(service, path, body)
            assert response.status_code == 400, response.text[:300]
            assert fragment in response.json()["error"]["message"]
        assert time.monotonic() - started < 2
    still_works(service)


@pytest.mark.parametrize(("extra", "field"), [
    (b'"stream_options": "yes"', "stream_options"),
    (b'"stream": true, "stream_options": {"include_usage": 1}', "stream_options.include_usage"),
    (b'"response_format": {"type": "json_schema", "json_schema": "schema"}',
     "response_format.json_schema"),
    (b'"response_format": "json_object"', "response_format"),
    (b'"tools": [{"type": "function", "function": {"name": "f", "parameters": []}}]',
     "tools[0].function.parameters"),
    (b'"tools": [{"type": "function", "function": {"name": "f"}}], "tool_choice": 5',
     "tool_choice"),
    (b'"model": ["GigaChat"]', "model"),
    (b'"n": true', "n"),
])
def test_wrong_types_in_openai_fields_are_400_naming_the_field(service, extra, field):
    openai_refused(service, HELLO + b", " + extra + b"}", field)


@pytest.mark.parametrize(("message", "field"), [
    ({"role": "tool", "tool_call_id": ["c1"], "name": "f", "content": "1"},
     "messages[1].tool_call_id"),
    ({"role": "assistant", "content": None, "function_call": "f"}, "messages[1].function_call"),
    ({"role": "assistant", "content": None, "tool_calls": {"id": "c1"}},
     "messages[1].tool_calls"),
    ({"role": "assistant", "content": None, "tool_calls": [
        {"id": "c1", "type": "function", "function": {"name": "f", "arguments": ["a"]}}]},
     "messages[1].tool_calls[0].function.arguments"),
    ({"role": "assistant", "content": None, "tool_calls": [
        {"id": "c1", "type": "function", "function": {"name": "f", "arguments": '{"a": NaN}'}}]},
     "messages[1].tool_calls[0].function.arguments.a"),
    ({"role": {"x": 1}, "content": "x"}, "messages[1].role"),
])
def test_wrong_types_in_messages_are_400_naming_the_field(service, message, field):
    body = {"messages": [{"role": "user", "content": "?"}, message]}
    openai_refused(service, json.dumps(body).encode(), field)


# --- item 6: a programming error is a logged 500, never a 400 with Python's text ---------------


def test_an_unrelated_value_error_is_a_logged_internal_error(service, monkeypatch, caplog):
    def broken(*args, **kwargs):
        raise ValueError("python internals: invalid literal")

    monkeypatch.setattr(service.bridge.client, "chat", broken)
    monkeypatch.setattr(service.bridge.client, "models", broken)
    with caplog.at_level("ERROR"):
        response = post(service, CHAT, HELLO + b"}")
        models = requests.get(service.url + "/v1/models", timeout=10)
        answer = post(service, "/analyze/text", b'{"text": "x"}').json()
    for failed in (response, models):
        assert failed.status_code == 500
        assert "python internals" not in failed.text
        assert "Внутренняя ошибка" in failed.json()["error"]["message"]
    assert answer["success"] is False and "Внутренняя ошибка" in answer["error"]
    assert "python internals" not in answer["error"]
    logged = [r for r in caplog.records if r.exc_info and "python internals" in str(r.exc_info[1])]
    assert len(logged) >= 3


# --- items 3, 4, 13, 18: models, the model used, /health text, why a call failed ---------------


def test_v1_models_keep_type(service):
    data = requests.get(service.url + "/v1/models", timeout=10).json()["data"]
    assert all(isinstance(m.get("type"), str) for m in data), data
    kinds = {m["type"] for m in data}
    assert "chat" in kinds and kinds - {"chat"}, kinds  # the list mixes chat and other models


def test_a_request_naming_no_model_uses_the_picked_model(service, monkeypatch):
    asked: list = []

    def pick(requested):
        asked.append(requested)
        return requested or "GigaChat-2-Max"

    monkeypatch.setattr(service.bridge.client, "pick_model", pick)
    answer = post(service, "/analyze/text", b'{"text": "x"}').json()
    assert answer["success"] is True and answer["model"].startswith("GigaChat-2-Max"), answer
    chat = post(service, CHAT, HELLO + b"}").json()
    assert chat["model"].startswith("GigaChat-2-Max"), chat
    assert asked == [None, None]
    named = post(service, CHAT, HELLO + b', "model": "GigaChat-2-Pro"}').json()
    assert named["model"].startswith("GigaChat-2-Pro")


def test_health_and_answers_show_gigachat_text_capped(start_service_short, emulator):
    service = start_service_short
    emulator.inject(path="/chat/completions", status=422, message="Invalid params: " + "я" * 5000)
    answer = post(service, "/analyze/text", b'{"text": "x"}').json()
    assert answer["success"] is False and len(answer["error"]) < 1000, len(answer["error"])
    emulator.inject(path="/chat/completions", status=422, message="Invalid params: " + "я" * 5000)
    response = post(service, CHAT, HELLO + b"}")
    assert response.status_code == 400 and len(response.json()["error"]["message"]) < 1000
    from gigachat.core.client import LastError

    service.bridge.client.last_error = LastError("Сбой: " + "x" * 5000 + "\nстрока", "server_error")
    health = requests.get(service.url + "/health", timeout=5).json()
    assert health["status"] == "degraded"
    for key in ("error", "last_error"):
        assert len(health[key]) <= 500 and "\n" not in health[key], health[key][:100]


@pytest.fixture
def start_service_short(emulator):
    svc = service_for(emulator, request_timeout=5.0)
    yield svc
    svc.stop()


def test_request_log_says_why_a_call_failed(service, emulator, caplog):
    with caplog.at_level("INFO", logger="gigachat.access"):
        emulator.inject(path="/chat/completions", status=402)
        post(service, "/analyze/text", b'{"text": "x"}')
        post(service, "/analyze/text", b'{"text": ')
        post(service, "/analyze/text", b'{"text": 5}')
        emulator.inject(path="/chat/completions", status=402)
        post(service, CHAT, HELLO + b"}")
        post(service, CHAT, HELLO + b', "stream_options": "yes"}')
        post(service, CHAT, HELLO)
    lines = [r.getMessage() for r in caplog.records if r.name == "gigachat.access"]
    wanted = [("/analyze/text", "error=payment_required"), ("/analyze/text", "error=bad_json"),
              ("/analyze/text", "error=bad_request"), (CHAT, "error=payment_required"),
              (CHAT, "error=bad_request"), (CHAT, "error=bad_json")]
    for (path, code), line in zip(wanted, lines, strict=True):
        assert path in line and code in line, (path, code, lines)


def test_every_answer_is_no_store(service):
    answers = [requests.get(service.url + path, timeout=10)
               for path in ("/health", "/openapi.json", "/v1/models", "/v1/nope", "/nope", CHAT)]
    answers += [post(service, CHAT, b"{"), post(service, "/analyze/text", b'{"text": "x"}'),
                requests.post(service.url + CHAT, json={"messages": [{"role": "user",
                              "content": "x"}], "stream": True}, timeout=10)]
    assert [r.headers.get("Cache-Control") for r in answers] == ["no-store"] * len(answers)
    assert answers[5].status_code == 405 and answers[5].json()["error"]["code"] == "http_405"
    assert answers[3].status_code == 404 and "error" in answers[3].json()
