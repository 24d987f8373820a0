"""The GigaChat emulator over real sockets: concurrency, faults, TLS, control API, lifecycle, CLI."""

from __future__ import annotations

import json
import os
import queue
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid

import pytest
import requests

from gigachat.emulator import DEMO_KEY, SCOPES, Emulator, make_key
from tests import test_emulator
from tests.conftest import no_thread_named, wait_for
from tests.test_emulator import (
    REPO,
    TIMEOUT,
    USER,
    UUID_RE,
    call,
    chat,
    in_background,
    oauth,
    sse_payloads,
    token_for,
)

make_emulator = test_emulator.make_emulator  # the shared fixture

# --------------------------------------------------------------------------- concurrency


def test_pers_second_concurrent_request_is_429(emulator):
    token = token_for(emulator)
    emulator.latency = 60
    thread, box = in_background(lambda: chat(emulator, token))
    wait_for(lambda: emulator.stats["in_flight"] == 1)
    second = chat(emulator, token)
    models = call(emulator, "GET", "/models", token)
    emulator.latency = 0  # wakes the first request at once
    thread.join(TIMEOUT)
    assert second.status_code == 429
    assert second.json() == {"status": 429, "message": "Too many requests"}
    assert models.status_code == 429
    assert box[0].status_code == 200
    stats = emulator.stats
    assert stats["max_in_flight"] == 1 and stats["in_flight"] == 0
    assert stats["responses"][429] == 2 and stats["rejected_concurrency"] == 2


def test_pers_back_to_back_requests_are_never_429(emulator):
    """The slot is free before the client sees the answer, so a queueing client never trips."""
    token = token_for(emulator)
    for index in range(40):
        if index % 2:
            with chat(emulator, token, stream=True) as reply:
                assert reply.status_code == 200
                sse_payloads(reply)
        else:
            assert chat(emulator, token).status_code == 200
    assert emulator.stats["responses"].get(429, 0) == 0


def test_b2b_allows_concurrent_requests(make_emulator):
    key = make_key("b2b-client", "secret")
    emu = make_emulator(keys={key: ["GIGACHAT_API_B2B"]})
    token = token_for(emu, key=key, scope="GIGACHAT_API_B2B")
    emu.latency = 60
    barrier = threading.Barrier(3)

    def request():
        barrier.wait(TIMEOUT)
        return chat(emu, token)

    jobs = [in_background(request) for _ in range(3)]
    wait_for(lambda: emu.stats["in_flight"] == 3)
    emu.latency = 0
    for thread, _box in jobs:
        thread.join(TIMEOUT)
    assert [box[0].status_code for _thread, box in jobs] == [200, 200, 200]
    assert emu.stats["max_in_flight"] == 3


# --------------------------------------------------------------------------- faults


def test_fault_500_once_then_ok(emulator):
    token = token_for(emulator)
    emulator.inject(status=500)
    failed = chat(emulator, token)
    assert failed.status_code == 500
    assert failed.json() == {"status": 500, "message": "Internal Server Error"}
    assert chat(emulator, token).status_code == 200
    assert emulator.stats["faults_fired"] == 1


def test_fault_retry_after_and_message(emulator):
    token = token_for(emulator)
    emulator.inject(status=429, retry_after=2, message="Slow down")
    reply = chat(emulator, token)
    assert reply.status_code == 429
    assert reply.headers["Retry-After"] == "2"
    assert reply.json() == {"status": 429, "message": "Slow down"}


def test_fault_drop_closes_without_answer(emulator):
    token = token_for(emulator)
    emulator.inject(drop=True)
    with pytest.raises(requests.ConnectionError):
        chat(emulator, token)
    assert chat(emulator, token).status_code == 200
    assert emulator.stats["dropped"] == 1


def test_faults_are_fifo_path_matched_and_counted(emulator):
    token = token_for(emulator)
    emulator.inject(status=503, path="/models", times=2)
    emulator.inject(status=502, path="/models")
    assert chat(emulator, token).status_code == 200  # other paths are untouched
    codes = [call(emulator, "GET", "/models", token).status_code for _ in range(4)]
    assert codes == [503, 503, 502, 200]


def test_fault_star_hits_oauth_and_delay_waits(emulator):
    emulator.inject(status=500, path="*")
    assert oauth(emulator).status_code == 500
    token = token_for(emulator)
    emulator.inject(path="/models", delay=0.2)
    started = time.monotonic()
    assert call(emulator, "GET", "/models", token).status_code == 200
    assert time.monotonic() - started >= 0.2


def test_clear_faults_and_validation(emulator):
    token = token_for(emulator)
    emulator.inject(status=500, times=5)
    assert emulator.stats["faults_queued"] == 5
    emulator.clear_faults()
    assert chat(emulator, token).status_code == 200
    with pytest.raises(ValueError):
        emulator.inject()
    with pytest.raises(ValueError):
        emulator.inject(status=500, times=0)


def _outcomes(emu, count):
    token = token_for(emu)
    result = []
    for _ in range(count):
        try:
            result.append(call(emu, "GET", "/models", token).status_code)
        except requests.ConnectionError:
            result.append("drop")
    return result


def test_fail_rate_is_seeded(make_emulator):
    first, second = make_emulator(seed=7), make_emulator(seed=7)
    first.fail_rate = second.fail_rate = 0.5
    outcomes = _outcomes(first, 30)
    assert outcomes == _outcomes(second, 30)
    assert 200 in outcomes
    assert set(outcomes) - {200} and set(outcomes) <= {200, 429, 500, 503, "drop"}
    with pytest.raises(ValueError):
        first.fail_rate = 1.5


# --------------------------------------------------------------------------- TLS


def test_https_with_the_test_ca(tls_emulator, tls_ca):
    assert tls_emulator.base_url.startswith("https://127.0.0.1:")
    token = token_for(tls_emulator, verify=str(tls_ca.ca))
    reply = call(tls_emulator, "GET", "/models", token, verify=str(tls_ca.ca))
    assert reply.status_code == 200
    assert tls_emulator.stats["tls_handshakes"] >= 1


def test_https_without_the_ca_fails_verification(tls_emulator):
    with pytest.raises(requests.exceptions.SSLError):
        oauth(tls_emulator)
    assert tls_emulator.stats["oauth_requests"] == 0


def test_silent_client_does_not_block_accept(tls_emulator, tls_ca):
    silent = socket.create_connection(("127.0.0.1", tls_emulator.port), timeout=TIMEOUT)
    plain = socket.create_connection(("127.0.0.1", tls_emulator.port), timeout=TIMEOUT)
    try:
        plain.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")  # plain HTTP to the TLS port
        token = token_for(tls_emulator, verify=str(tls_ca.ca))
        assert token
        wait_for(lambda: tls_emulator.stats["tls_handshake_failures"] >= 1)
    finally:
        silent.close()
        plain.close()


# --------------------------------------------------------------------------- control API


def test_control_api_over_http(emulator):
    control = emulator.base_url + "/_emulator"
    token = token_for(emulator)
    queued = requests.post(control + "/faults", json={"status": 503, "path": "/models"}, timeout=TIMEOUT)
    assert queued.status_code == 200 and queued.json() == {"queued": 1}
    assert call(emulator, "GET", "/models", token).status_code == 503

    config = requests.post(control + "/config", json={"reply": "Готово", "latency": 0}, timeout=TIMEOUT)
    assert config.json()["reply"] == "Готово"
    assert chat(emulator, token).json()["choices"][0]["message"]["content"] == "Готово"

    emulator.inject(status=500, path="*")  # control routes are never faulted
    stats = requests.get(control + "/stats", timeout=TIMEOUT).json()
    assert stats["responses"]["503"] == 1
    assert stats["routes"]["/api/v1/models"] == 1
    assert stats["oauth_requests"] == 1

    for bad in ({"latency": -1}, {"bogus": 1}, {"reject_keys": "yes"}):
        assert requests.post(control + "/config", json=bad, timeout=TIMEOUT).status_code == 400
    assert requests.post(control + "/faults", json={"status": "x"}, timeout=TIMEOUT).status_code == 400
    assert requests.post(control + "/faults", data=b"{", timeout=TIMEOUT).status_code == 400

    assert requests.post(control + "/reset", timeout=TIMEOUT).json() == {"ok": True}
    assert emulator.config["reply"] is None and emulator.stats["faults_queued"] == 0
    assert emulator.stats["oauth_requests"] == 0
    assert "**Ответ" in chat(emulator, token).json()["choices"][0]["message"]["content"]

    assert requests.post(control + "/tokens/expire", timeout=TIMEOUT).status_code == 200
    assert call(emulator, "GET", "/models", token).json()["message"] == "Token has expired"


def test_control_config_drives_rejection_and_lifetime(emulator):
    control = emulator.base_url + "/_emulator/config"
    requests.post(control, json={"reject_keys": True, "token_lifetime": 5}, timeout=TIMEOUT)
    assert oauth(emulator).json()["code"] == 6
    requests.post(control, json={"reject_keys": False}, timeout=TIMEOUT)
    assert abs(oauth(emulator).json()["expires_at"] - (time.time() + 5) * 1000) < 1500
    assert requests.get(control, timeout=TIMEOUT).json()["token_lifetime"] == 5


# --------------------------------------------------------------------------- robustness


def test_unknown_route_and_wrong_method(emulator):
    missing = requests.get(emulator.base_url + "/nowhere", timeout=TIMEOUT)
    assert missing.status_code == 404 and missing.json()["status"] == 404
    assert UUID_RE.match(missing.headers["X-Request-Id"])
    wrong = requests.get(emulator.api_url + "/chat/completions", timeout=TIMEOUT)
    assert wrong.status_code == 405 and wrong.json()["status"] == 405
    assert wrong.headers["Allow"] == "POST"


def _raw_exchange(port: int, data: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT) as sock:
        sock.sendall(data)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def test_broken_requests_get_json_and_print_nothing(emulator, capfd):
    answer = _raw_exchange(emulator.port, b"POST /api/v2/oauth HTTP/1.1\r\nContent-Length: abc\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 400")
    assert json.loads(answer.split(b"\r\n\r\n", 1)[1])["status"] == 400
    answer = _raw_exchange(emulator.port, b"BREW /pot HTTP/1.1\r\nHost: x\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 501")
    assert b'"status": 501' in answer
    token = token_for(emulator)
    chat(emulator, token)
    out, err = capfd.readouterr()
    assert "Traceback" not in out + err
    assert token not in out + err and DEMO_KEY not in out + err


def test_chunked_request_body_is_read(emulator):
    token = token_for(emulator)
    body = json.dumps({"model": "GigaChat", "messages": [USER]}).encode()
    parts = iter([body[:10], body[10:]])
    reply = call(emulator, "POST", "/chat/completions", token, data=parts)
    assert reply.status_code == 200


# --------------------------------------------------------------------------- lifecycle and CLI


def test_stop_closes_connections_and_leaves_no_threads(make_emulator):
    emu = make_emulator()
    session = requests.Session()
    token = token_for(emu, session=session)  # an idle keep-alive connection stays open
    silent = socket.create_connection(("127.0.0.1", emu.port), timeout=TIMEOUT)
    emu.latency = 60
    thread, box = in_background(lambda: chat(emu, token))
    wait_for(lambda: emu.stats["in_flight"] == 1 and emu.stats["connections"] >= 3)
    emu.stop()
    assert no_thread_named("gigachat-emulator")
    emu.stop()  # idempotent
    thread.join(TIMEOUT)
    assert isinstance(box[0], requests.ConnectionError)
    silent.close()
    with pytest.raises(requests.ConnectionError):
        requests.get(emu.base_url + "/_emulator/stats", timeout=TIMEOUT)


def test_start_twice_is_refused_and_stop_before_start_is_harmless(make_emulator):
    emu = make_emulator()
    with pytest.raises(RuntimeError):
        emu.start()
    idle = Emulator()
    idle.stop()
    with idle:
        assert requests.get(idle.base_url + "/_emulator/stats", timeout=TIMEOUT).status_code == 200
    emu.stop()
    assert no_thread_named("gigachat-emulator")
    with pytest.raises(ValueError):
        Emulator(latency=-1)


def _read_lines(stream, lines: queue.Queue) -> None:
    for line in stream:
        lines.put(line)
    lines.put(None)


def _next_line(lines: queue.Queue, proc: subprocess.Popen) -> str:
    line = lines.get(timeout=30)
    assert line is not None, f"emulator exited early: {proc.stderr.read()}"
    return line


def start_cli(*options: str) -> tuple[subprocess.Popen, queue.Queue]:
    """`python -m gigachat.emulator --port 0 *options`, its stdout lines read into a queue."""
    command = [sys.executable, "-m", "gigachat.emulator", "--port", "0", *options]
    proc = subprocess.Popen(
        command, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, encoding="utf-8"
    )
    lines: queue.Queue = queue.Queue()
    threading.Thread(target=_read_lines, args=(proc.stdout, lines), daemon=True).start()
    return proc, lines


def printed_until(name: str, lines: queue.Queue, proc: subprocess.Popen) -> dict[str, str]:
    """The «Name: value» lines the CLI printed, up to and including `name`."""
    printed: dict[str, str] = {}
    while name not in printed:
        key, _, value = _next_line(lines, proc).partition(": ")
        printed[key] = value.strip()
    return printed


def test_cli_serves_and_stops_on_sigterm():
    extra = make_key("cli-client", "secret")
    proc, lines = start_cli("--token-lifetime", "60", "--key", f"{extra}:GIGACHAT_API_B2B")
    try:
        printed = printed_until("Demo authorization key", lines, proc)
        assert printed["Demo authorization key"] == DEMO_KEY
        oauth_url, api_url = printed["OAuth URL"], printed["API URL"]
        assert oauth_url.endswith("/api/v2/oauth") and api_url.endswith("/api/v1")
        headers = {"Authorization": f"Basic {DEMO_KEY}", "RqUID": str(uuid.uuid4())}
        token = requests.post(oauth_url, headers=headers, data={"scope": SCOPES[0]}, timeout=TIMEOUT)
        models = requests.get(
            api_url + "/models",
            headers={"Authorization": f"Bearer {token.json()['access_token']}"},
            timeout=TIMEOUT,
        )
        assert models.status_code == 200 and models.json()["object"] == "list"
        headers = {"Authorization": f"Basic {extra}", "RqUID": str(uuid.uuid4())}
        b2b = requests.post(oauth_url, headers=headers, data={"scope": "GIGACHAT_API_B2B"}, timeout=TIMEOUT)
        assert b2b.status_code == 200
        if os.name == "nt":
            proc.terminate()
            proc.wait(TIMEOUT)
            return
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(TIMEOUT) == 0
        rest = []
        while (line := lines.get(timeout=TIMEOUT)) is not None:
            rest.append(line)
        assert any("stopped" in line for line in rest)
        assert token.json()["access_token"] not in "".join(rest) + proc.stderr.read()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stdout.close()
        proc.stderr.close()
