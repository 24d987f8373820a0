"""Emulator fault kinds, slow and aborted streams, and what the emulator records."""

from __future__ import annotations

import json
import socket
import time
import uuid

import pytest
import requests

from gigachat.emulator import LONG_ERROR_LENGTH, LONG_ERROR_TOKEN
from tests.test_emulator import TIMEOUT, USER, call, chat, sse_payloads, token_for

CONTROL = "/_emulator"
LONG_TEXT = " ".join(f"слово{i}" for i in range(90))  # 30 stream chunks


def open_stream(emu, token, **payload):
    """A streamed chat call read as it arrives (requests' own ``stream=True``)."""
    body = {"model": "GigaChat", "messages": [USER], "stream": True, **payload}
    return call(emu, "POST", "/chat/completions", token, json=body, stream=True)


# --------------------------------------------------------------------------- transport kinds


def test_models_404_fault(emulator):
    token = token_for(emulator)
    emulator.inject(kind="models_404")
    assert chat(emulator, token).status_code == 200  # chat is not /models
    reply = call(emulator, "GET", "/models", token)
    assert reply.status_code == 404
    assert reply.json() == {"status": 404, "message": "Not found: /api/v1/models"}
    assert call(emulator, "GET", "/models", token).status_code == 200


def test_long_error_fault_leaks_a_token_like_text(emulator):
    token = token_for(emulator)
    emulator.inject(kind="long_error", status=503, times=2)
    for _ in range(2):
        reply = chat(emulator, token)
        assert reply.status_code == 503
        message = reply.json()["message"]
        assert len(message) == LONG_ERROR_LENGTH == 5000
        assert f"Bearer {LONG_ERROR_TOKEN}" in message and LONG_ERROR_TOKEN.startswith("eyJ")
    emulator.inject(kind="long_error")
    assert chat(emulator, token).status_code == 500
    assert chat(emulator, token).status_code == 200


# --------------------------------------------------------------------------- answer kinds


def test_plain_json_instead_of_a_stream(emulator):
    token = token_for(emulator)
    emulator.inject(kind="plain_json_stream")
    assert chat(emulator, token).status_code == 200  # a plain call leaves the fault queued
    assert emulator.faults_queued == 1
    with chat(emulator, token, stream=True) as reply:
        assert reply.status_code == 200
        assert reply.headers["Content-Type"] == "application/json; charset=utf-8"
        body = reply.json()
    assert body["object"] == "chat.completion" and body["choices"][0]["message"]["content"]
    assert emulator.faults_queued == 0
    with chat(emulator, token, stream=True) as again:
        assert again.headers["Content-Type"].startswith("text/event-stream")
        assert sse_payloads(again)[-1] == "[DONE]"


def test_lone_surrogate_in_a_plain_answer(emulator):
    token = token_for(emulator)
    emulator.inject(kind="lone_surrogate")
    reply = chat(emulator, token)
    assert reply.status_code == 200
    assert b"\\ud800" in reply.content
    content = json.loads(reply.content)["choices"][0]["message"]["content"]
    assert "\ud800" in content
    with pytest.raises(UnicodeEncodeError):
        content.encode("utf-8")
    assert "\\ud800" not in chat(emulator, token).text


def test_lone_surrogate_in_a_streamed_answer(emulator):
    token = token_for(emulator)
    emulator.inject(kind="lone_surrogate")
    with chat(emulator, token, stream=True) as reply:
        payloads = sse_payloads(reply)
    assert payloads[-1] == "[DONE]"
    deltas = [json.loads(p)["choices"][0]["delta"].get("content", "") for p in payloads[:-1]]
    assert any("\ud800" in delta for delta in deltas)
    assert sum("\\ud800" in p for p in payloads) == 1


def test_fault_kinds_over_the_control_api(emulator):
    token = token_for(emulator)
    url = emulator.base_url + CONTROL + "/faults"
    queued = requests.post(
        url, json=[{"kind": "models_404"}, {"kind": "json_invalid", "times": 2}], timeout=TIMEOUT
    )
    assert queued.json() == {"queued": 3}
    assert call(emulator, "GET", "/models", token).status_code == 404
    for bad in ({"kind": "nope"}, {"kind": "json_invalid", "times": 0}, {"kind": 5}):
        reply = requests.post(url, json=bad, timeout=TIMEOUT)
        assert reply.status_code == 400 and reply.json()["status"] == 400
    with pytest.raises(ValueError):
        emulator.inject(kind="nope")


# --------------------------------------------------------------------------- slow and aborted streams


def test_stream_delay_spaces_the_chunks(emulator):
    token = token_for(emulator)
    emulator.set_reply(" ".join(["раз"] * 12))  # 4 content chunks, then the final chunk
    emulator.stream_delay = 0.15
    started = time.monotonic()
    with open_stream(emulator, token) as reply:
        lines = [line for line in reply.iter_lines(chunk_size=1) if line]
    assert len(lines) == 6 and lines[-1] == b"data: [DONE]"
    assert time.monotonic() - started >= 5 * 0.15  # a pause after each of the 5 data chunks
    assert emulator.stats["streams_started"] == 1 and emulator.stats["streams_aborted"] == 0


def test_a_slow_stream_arrives_piece_by_piece(emulator):
    """The first chunk is readable while the rest waits; a lower delay releases the rest at once."""
    token = token_for(emulator)
    emulator.set_reply(LONG_TEXT)
    emulator.stream_delay = 60
    started = time.monotonic()
    with open_stream(emulator, token) as reply:
        lines = reply.iter_lines(chunk_size=1)
        first = next(line for line in lines if line)
        assert emulator.stats["in_flight"] == 1  # the answer is not finished
        control = emulator.base_url + CONTROL + "/config"
        assert requests.post(control, json={"stream_delay": 0}, timeout=TIMEOUT).json()["stream_delay"] == 0
        rest = [line for line in lines if line]
    assert time.monotonic() - started < 30
    payloads = [first.decode()[len("data: ") :]] + [line.decode()[len("data: ") :] for line in rest]
    text = "".join(json.loads(p)["choices"][0]["delta"]["content"] for p in payloads[:-1])
    assert text == LONG_TEXT and payloads[-1] == "[DONE]"
    bad = requests.post(control, json={"stream_delay": -1}, timeout=TIMEOUT)
    assert bad.status_code == 400


def test_a_client_closing_a_stream_early_is_seen(emulator):
    token = token_for(emulator)
    emulator.set_reply(LONG_TEXT)
    emulator.stream_delay = 0.5  # the whole answer would take 15 s
    assert emulator.wait_stat("streams_aborted", 1, timeout=0.01) is False
    reply = open_stream(emulator, token)
    first = next(line for line in reply.iter_lines(chunk_size=1) if line)
    assert first.startswith(b"data: ")
    closed_at = time.monotonic()
    reply.close()
    assert emulator.wait_stat("streams_aborted", 1, timeout=TIMEOUT)
    assert time.monotonic() - closed_at < 5.0  # seen at once, not after the 15 s answer
    stats = emulator.stats
    assert stats["streams_aborted"] == 1 and stats["in_flight"] == 0  # the PERS slot is free again
    assert chat(emulator, token).status_code == 200
    aborted = requests.get(emulator.base_url + CONTROL + "/stats", timeout=TIMEOUT).json()["streams_aborted"]
    assert aborted == 1


def raw_chat(token: str, stream: bool) -> bytes:
    """A chat request as raw HTTP/1.1 bytes, for a socket the test closes itself."""
    body = json.dumps({"model": "GigaChat", "messages": [USER], "stream": stream}).encode()
    head = (
        f"POST /api/v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode()
    return head + body


def test_a_raw_socket_closed_mid_stream_is_seen(emulator):
    token = token_for(emulator)
    emulator.set_reply(LONG_TEXT)
    emulator.stream_delay = 0.3
    with socket.create_connection(("127.0.0.1", emulator.port), timeout=TIMEOUT) as sock:
        sock.sendall(raw_chat(token, stream=True))
        assert sock.recv(4096).startswith(b"HTTP/1.1 200")
    assert emulator.wait_stat("streams_aborted", 1, timeout=TIMEOUT)
    assert emulator.stats["in_flight"] == 0


# --------------------------------------------------------------------------- records


def test_chat_counts_per_user_text_and_session_ids(emulator):
    token = token_for(emulator)
    system = {"role": "system", "content": "Ты бухгалтер."}
    for text, times in (("позиция 1", 2), ("позиция 2", 1)):
        for _ in range(times):
            messages = [system, {"role": "user", "content": text}]
            assert chat(emulator, token, messages=messages, headers={"X-Session-ID": "batch-7"}).ok
    assert chat(emulator, token).ok
    assert emulator.chat_counts == {"позиция 1": 2, "позиция 2": 1, USER["content"]: 1}
    assert emulator.session_ids == ["batch-7"] * 3
    log = emulator.chat_log
    assert [entry["user_text"] for entry in log] == ["позиция 1", "позиция 1", "позиция 2", USER["content"]]
    assert log[0]["texts"] == ["Ты бухгалтер.", "позиция 1"] and log[-1]["session_id"] is None
    records = requests.get(emulator.base_url + CONTROL + "/records", timeout=TIMEOUT).json()
    assert records["chat_counts"]["позиция 1"] == 2 and records["session_ids"] == ["batch-7"] * 3
    emulator.reset()
    assert emulator.chat_counts == {} and emulator.chat_log == [] and emulator.session_ids == []


def test_rejected_calls_are_not_counted_as_chats(emulator):
    token = token_for(emulator)
    assert chat(emulator, token, model="Nope").status_code == 404
    assert emulator.chat_counts == {} and emulator.stats["chat_calls"] == 0


def test_received_texts_cover_every_message_and_input(emulator):
    token = token_for(emulator)
    messages = [{"role": "system", "content": "Маскируй ИНН."}, {"role": "user", "content": "ИНН [ИНН_1]"}]
    chat(emulator, token, messages=messages)
    call(emulator, "POST", "/embeddings", token, json={"model": "Embeddings", "input": ["вектор"]})
    call(emulator, "POST", "/tokens/count", token, json={"model": "GigaChat", "input": "счёт"})
    assert emulator.received_texts == ["Маскируй ИНН.", "ИНН [ИНН_1]", "вектор", "счёт"]
    assert not any("7707083893" in text for text in emulator.received_texts)


def test_precached_tokens_grow_when_a_session_repeats_its_system_prompt(emulator):
    token = token_for(emulator)
    system = {"role": "system", "content": "Классифицируй строку выписки по статье ДДС. " * 20}
    session = {"X-Session-ID": str(uuid.uuid4())}

    def precached(text, headers=None, prompt=system):
        messages = [prompt, {"role": "user", "content": text}]
        return chat(emulator, token, messages=messages, headers=headers).json()["usage"][
            "precached_prompt_tokens"
        ]

    assert precached("строка 1", session) == 0  # first sight of the prefix
    cached = [precached(f"строка {i}", session) for i in range(2, 5)]
    assert cached[0] == (len(system["content"]) + 3) // 4 and len(set(cached)) == 1
    assert precached("строка 5") == 0  # no session id: no cache
    assert precached("строка 6", {"X-Session-ID": str(uuid.uuid4())}) == 0  # another session
    other = {"role": "system", "content": "Другая инструкция."}
    assert precached("строка 7", session, other) == 0
    assert precached("строка 8", session, other) > 0


@pytest.mark.parametrize(("stream", "counter"), [(True, "streams_aborted"), (False, "calls_abandoned")])
def test_a_client_hanging_up_during_latency_is_seen(emulator, stream, counter):
    token = token_for(emulator)
    emulator.latency = 30
    with socket.create_connection(("127.0.0.1", emulator.port), timeout=TIMEOUT) as sock:
        sock.sendall(raw_chat(token, stream=stream))
        assert emulator.wait_stat("chat_calls", 1, timeout=TIMEOUT)
    closed_at = time.monotonic()
    assert emulator.wait_stat(counter, 1, timeout=TIMEOUT)
    assert time.monotonic() - closed_at < 5.0  # not after the 30 s latency
    assert emulator.stats["in_flight"] == 0
    emulator.latency = 0
    assert chat(emulator, token).status_code == 200


def test_lone_surrogates_sent_to_the_emulator_get_a_clean_answer(emulator):
    token = token_for(emulator)
    raw = b'{"model": "GigaChat", "messages": [{"role": "user", "content": "\\ud800 x"}]}'
    headers = {"Content-Type": "application/json"}
    reply = call(emulator, "POST", "/chat/completions", token, data=raw, headers=headers)
    assert reply.status_code == 200
    assert "\ud800" in json.loads(reply.content)["choices"][0]["message"]["content"]
    streamed = raw.replace(b"]}", b'], "stream": true}')
    with call(emulator, "POST", "/chat/completions", token, data=streamed, headers=headers) as answer:
        assert sse_payloads(answer)[-1] == "[DONE]"
    assert emulator.received_texts == ["\ud800 x", "\ud800 x"]


def test_a_tls_client_closing_a_stream_early_is_seen(tls_emulator, tls_ca):
    token = token_for(tls_emulator, verify=str(tls_ca.ca))
    tls_emulator.set_reply(LONG_TEXT)
    tls_emulator.stream_delay = 0.5
    body = {"model": "GigaChat", "messages": [USER], "stream": True}
    reply = call(
        tls_emulator, "POST", "/chat/completions", token, json=body, stream=True, verify=str(tls_ca.ca)
    )
    assert next(line for line in reply.iter_lines(chunk_size=1) if line).startswith(b"data: ")
    reply.close()
    assert tls_emulator.wait_stat("streams_aborted", 1, timeout=TIMEOUT)
    assert tls_emulator.stats["in_flight"] == 0
