"""GigaChatClient against the emulator over real loopback sockets."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from gigachat.core.client import GigaChatClient
from gigachat.core.errors import ModelNotFound, ServerError
from gigachat.core.gate import FifoGate
from gigachat.core.tls import make_session
from gigachat.core.token import TokenManager, TokenState
from tests.conftest import wait_for

USER = {"role": "user", "content": "Договор поставки №127 на сумму 2 450 000 руб."}


def make_client(emulator, *, scope="GIGACHAT_API_PERS", concurrency=1, timeout=20.0,
                lifetime=None, margin=300.0):
    from gigachat.emulator import DEMO_KEY

    if lifetime is not None:
        emulator.token_lifetime = lifetime
    session = make_session()
    tokens = TokenManager(emulator.oauth_url, scope, lambda: DEMO_KEY, session,
                          refresh_margin=margin)
    client = GigaChatClient(emulator.api_url, tokens, session, concurrency=concurrency,
                            request_timeout=timeout)
    return client, tokens


def test_chat_models_embeddings_tokens_balance(emulator):
    client, _ = make_client(emulator)
    answer = client.chat({"model": "GigaChat", "messages": [USER]})
    assert answer["choices"][0]["message"]["role"] == "assistant"
    assert answer["choices"][0]["message"]["content"]
    assert answer["usage"]["total_tokens"] > 0
    assert any(model["id"] == "GigaChat" for model in client.models()["data"])
    vectors = client.embeddings(["раз", "два"])
    assert [len(item["embedding"]) for item in vectors["data"]] == [1024, 1024]
    assert client.tokens_count(["Привет"])[0]["tokens"] > 0
    assert "balance" in client.balance()
    assert client.usage.requests == 1 and client.usage.tokens == answer["usage"]["total_tokens"]


def test_keep_alive_one_connection_for_many_calls(emulator):
    client, _ = make_client(emulator)
    for _ in range(10):
        client.chat({"model": "GigaChat", "messages": [USER]})
    assert emulator.stats["connections"] <= 2  # OAuth and the API share one pool


def test_stream_yields_chunks_until_done(emulator):
    client, _ = make_client(emulator)
    chunks = list(client.chat_stream({"model": "GigaChat", "messages": [USER]}))
    assert len(chunks) >= 2
    text = "".join(chunk["choices"][0]["delta"].get("content", "") for chunk in chunks)
    assert text
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop"
    assert client.queue_length == 0 and client.in_flight == 0


def test_token_lifetime_3s_margin_1s_30s_of_calls_no_failures(emulator):
    client, tokens = make_client(emulator, lifetime=3.0, margin=1.0)
    tokens.start()
    failures = calls = 0
    end = time.monotonic() + 30
    try:
        while time.monotonic() < end:
            calls += 1
            try:
                client.chat({"model": "GigaChat", "messages": [USER]})
            except Exception:
                failures += 1
    finally:
        tokens.stop()
    assert calls > 100
    assert failures == 0
    assert 8 <= tokens.oauth_requests <= 40


def test_api_401_drops_token_refreshes_once_and_retries(emulator):
    client, tokens = make_client(emulator)
    client.models()
    emulator.inject(status=401, path="/models")
    client.models()
    assert tokens.oauth_requests == 2


def test_pers_five_parallel_calls_all_succeed_one_at_a_time(emulator):
    emulator.latency = 0.3
    client, _ = make_client(emulator, scope="GIGACHAT_API_PERS", concurrency=1)
    with ThreadPoolExecutor(5) as pool:
        answers = list(pool.map(
            lambda _: client.chat({"model": "GigaChat", "messages": [USER]}), range(5)))
    assert len(answers) == 5
    assert emulator.stats["max_in_flight"] == 1
    assert emulator.stats["responses"].get(429, 0) == 0


def test_pers_rule_is_real_without_the_gate(emulator):
    """The emulator does answer 429 to a second PERS stream: the gate is what prevents it."""
    emulator.latency = 0.5
    client, _ = make_client(emulator, scope="GIGACHAT_API_PERS", concurrency=5)
    client.max_attempts = 1
    with ThreadPoolExecutor(5) as pool:
        results = list(pool.map(lambda _: _outcome(client), range(5)))
    assert "rate_limited" in results


def test_b2b_runs_in_parallel(emulator):
    emulator.latency = 0.5
    client, _ = make_client(emulator, scope="GIGACHAT_API_B2B", concurrency=10)
    start = time.monotonic()
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda _: client.chat({"model": "GigaChat", "messages": [USER]}), range(8)))
    assert time.monotonic() - start < 2.0
    assert emulator.stats["max_in_flight"] >= 4


@pytest.mark.parametrize("fault", [{"status": 500}, {"status": 503}, {"status": 429},
                                   {"status": 429, "retry_after": 1}, {"drop": True}])
def test_single_fault_is_retried(emulator, fault):
    client, _ = make_client(emulator)
    client.models()
    emulator.inject(path="/chat/completions", **fault)
    answer = client.chat({"model": "GigaChat", "messages": [USER]})
    assert answer["choices"][0]["message"]["content"]
    assert emulator.stats["routes"]["/api/v1/chat/completions"] == 2


def test_persistent_500_fails_clearly_within_deadline(emulator):
    client, _ = make_client(emulator, timeout=4.0)
    emulator.inject(path="/chat/completions", status=500, times=1000)
    start = time.monotonic()
    with pytest.raises(ServerError) as caught:
        client.chat({"model": "GigaChat", "messages": [USER]})
    assert time.monotonic() - start < 4.5
    assert "ГигаЧат" in caught.value.message
    assert client.last_error.code == "server_error"


def test_retry_after_beyond_deadline_gives_up_at_once(emulator):
    client, _ = make_client(emulator, timeout=2.0)
    emulator.inject(path="/chat/completions", status=429, retry_after=30)
    start = time.monotonic()
    with pytest.raises(Exception) as caught:
        client.chat({"model": "GigaChat", "messages": [USER]})
    assert caught.value.code == "rate_limited"
    assert time.monotonic() - start < 1.5


def test_unknown_model_is_typed(emulator):
    client, _ = make_client(emulator)
    with pytest.raises(ModelNotFound) as caught:
        client.chat({"model": "NoSuchModel", "messages": [USER]})
    assert "модели" in caught.value.message


def test_unreachable_gigachat_is_a_network_error():
    from gigachat.emulator import DEMO_KEY

    session = make_session()
    tokens = TokenManager("http://127.0.0.1:9/api/v2/oauth", "GIGACHAT_API_PERS",
                          lambda: DEMO_KEY, session)
    client = GigaChatClient("http://127.0.0.1:9/api/v1", tokens, session, request_timeout=2.0)
    with pytest.raises(Exception) as caught:
        client.models()
    assert caught.value.code == "network"
    assert "Нет связи" in caught.value.message
    assert tokens.status.state is TokenState.ERROR


def test_fifo_gate_keeps_order():
    gate = FifoGate(1)
    order: list[int] = []
    gate.acquire()
    started = []

    def worker(i: int) -> None:
        started.append(i)
        with gate.slot(5):
            order.append(i)

    threads = []
    for i in range(5):
        thread = threading.Thread(target=worker, args=(i,))
        thread.start()
        wait_for(lambda i=i: gate.queue_length == i + 1)
        threads.append(thread)
    gate.release()
    for thread in threads:
        thread.join(5)
    assert order == [0, 1, 2, 3, 4]
    assert gate.active == 0 and gate.queue_length == 0


def test_fifo_gate_times_out():
    gate = FifoGate(1)
    gate.acquire()
    assert gate.acquire(timeout=0.05) is False
    assert gate.queue_length == 0


def _outcome(client) -> str:
    try:
        client.chat({"model": "GigaChat", "messages": [USER]})
        return "ok"
    except Exception as error:
        return getattr(error, "code", type(error).__name__)


@pytest.mark.parametrize("status, code, fragment", [
    (400, "bad_request", "некорректный"),
    (402, "payment_required", "пакет токенов"),
    (403, "permission_denied", "Нет доступа"),
    (404, "model_not_found", "модели"),
    (413, "payload_too_large", "слишком большой"),
    (422, "invalid_params", "Invalid params"),
])
def test_each_api_error_is_typed_with_a_russian_message(emulator, status, code, fragment):
    client, _ = make_client(emulator)
    message = {422: "Invalid params: temperature must be positive", 404: "No such model"}
    emulator.inject(path="/chat/completions", status=status, message=message.get(status))
    with pytest.raises(Exception) as caught:
        client.chat({"model": "GigaChat", "messages": [USER]})
    assert caught.value.code == code and caught.value.status == status
    assert fragment in caught.value.message
    assert emulator.stats["routes"]["/api/v1/chat/completions"] == 1  # not retried


def test_timeout_is_typed(emulator):
    client, _ = make_client(emulator, timeout=1.0)
    client.models()
    emulator.latency = 5.0
    start = time.monotonic()
    with pytest.raises(Exception) as caught:
        client.chat({"model": "GigaChat", "messages": [USER]})
    assert caught.value.code == "timeout" and "не ответил вовремя" in caught.value.message
    assert time.monotonic() - start < 2.0
