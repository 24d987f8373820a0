"""The local server under abuse: framing, limits, slow clients, huge bodies, log forging."""

from __future__ import annotations

import contextlib
import json
import socket
import sys
import tempfile
import threading
import time

import pytest

from gigachat.local import guards
from gigachat.local.guards import RefusalLog
from gigachat.local.http_server import LocalServer
from tests.bridge_process import BridgeProcess, raw_exchange
from tests.conftest import service_for
from tests.onec_wire import onec_json, onec_request


@pytest.fixture(autouse=True)
def fresh_refusal_log(monkeypatch):
    """Each test sees its own refusal window (the first refusal is logged in full)."""
    monkeypatch.setattr(guards, "REFUSALS", RefusalLog())


@pytest.fixture
def service(emulator):
    service = service_for(emulator)
    yield service
    service.stop()


@pytest.fixture
def local_server():
    """A LocalServer (port 0) around any WSGI app; stopped after the test."""
    servers: list[LocalServer] = []

    def start(app, **options) -> LocalServer:
        servers.append(LocalServer(app, "127.0.0.1", 0, **options).start())
        return servers[-1]

    yield start
    for server in servers:
        server.stop()


def split(answer: bytes) -> tuple[int, str, dict]:
    head, _, body = answer.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    return status, head.decode("latin-1").lower(), json.loads(body)


def assert_russian_json(answer: bytes, status: int) -> dict:
    got, head, payload = split(answer)
    assert got == status, answer[:400]
    assert "content-type: application/json; charset=utf-8" in head
    assert payload["success"] is False and payload["result"] == ""
    assert any("а" <= ch <= "я" for ch in payload["error"].lower()), payload
    return payload


def analyze_ok(port: int, host: str = "127.0.0.1", timeout: float = 15) -> dict:
    host_header = f"[{host}]:{port}" if ":" in host else None
    status, _, body = onec_request(host, port, "/analyze/text", onec_json({"text": "Договор"}),
                                   timeout=timeout, host_header=host_header)
    assert status == 200
    return json.loads(body)


HEAD = "POST /analyze/text HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"


# --- item 14: protocol errors are the usual Russian JSON -----------------------------


@pytest.mark.parametrize("request_bytes, status", [
    (HEAD + "Content-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n{}", 400),
    (HEAD + "Content-Length: 2\r\nContent-Length: 2\r\n\r\n{}", 400),
    (HEAD + "Content-Length: -1\r\n\r\n", 400),
    (HEAD + "Transfer-Encoding: chunked\r\n\r\nzz\r\n\r\n", 400),
    (HEAD + "Transfer-Encoding: chunked\r\n\r\n2\r\n{}XX0\r\n\r\n", 400),
    (HEAD + "Transfer-Encoding: gzip\r\n\r\n", 501),
    ("GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nHost: evil.example\r\n\r\n", 400),
    ("GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nBad Header: x\r\n\r\n", 400),
    ("GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n folded: x\r\n\r\n", 400),
    ("GET /health HTTP/3.0\r\nHost: 127.0.0.1\r\n\r\n", 505),
    ("\x16\x03\x01\x00\xa5\x01\x00\r\n\r\n", 400),
    ("GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: " + "a" * 40_000 + "\r\n\r\n", 431),
    ("GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n" + "X-A: b\r\n" * 200 + "\r\n", 431),
])
def test_protocol_errors_are_russian_json(service, request_bytes, status):
    answer = raw_exchange(service.server.port, request_bytes.encode("latin-1"), half_close=True)
    assert_russian_json(answer, status)
    assert analyze_ok(service.server.port)["success"] is True


def test_v1_protocol_errors_keep_the_openai_shape(service):
    request = (b"POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\n"
               b"Transfer-Encoding: chunked\r\n\r\nzz\r\n\r\n")
    status, _, payload = split(raw_exchange(service.server.port, request, half_close=True))
    assert status == 400 and "chunked" in payload["error"]["message"]
    assert any("а" <= ch <= "я" for ch in payload["error"]["message"])


def test_20_mib_url_is_414_and_not_echoed(service):
    port = service.server.port
    with socket.create_connection(("127.0.0.1", port), timeout=15) as sock:
        sender = threading.Thread(target=_send_quietly, args=(
            sock, b"GET /" + b"a" * (20 * 1024 * 1024) + b" HTTP/1.1\r\nHost: x\r\n\r\n"))
        sender.start()
        answer = _read_answer(sock)
        sender.join(30)
    assert len(answer) < 4096
    assert_russian_json(answer, 414)
    assert analyze_ok(port)["success"] is True


def _send_quietly(sock: socket.socket, data: bytes) -> None:
    with contextlib.suppress(OSError):  # the server answered and closed: expected
        sock.sendall(data)


def _read_answer(sock: socket.socket) -> bytes:
    """Read one answer with a Content-Length (the server closes after an error anyway)."""
    data = b""
    while b"\r\n\r\n" not in data and (chunk := sock.recv(65536)):
        data += chunk
    head = data.split(b"\r\n\r\n", 1)[0].decode("latin-1").lower()
    length = int(head.split("content-length:", 1)[1].split("\r\n", 1)[0])
    while len(data.split(b"\r\n\r\n", 1)[1]) < length and (chunk := sock.recv(65536)):
        data += chunk
    return data


# --- item 8: the body cap bounds memory for chunked bodies too ---------------------


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_200_mib_chunk_is_refused_with_bounded_memory(tmp_path):
    with BridgeProcess(tmp_path) as bridge:
        assert analyze_ok(bridge.port)["success"] is True
        peak_before = bridge.status("VmHWM")
        size = 200 * 1024 * 1024
        with socket.create_connection(("127.0.0.1", bridge.port), timeout=30) as sock:
            sock.sendall((HEAD + f"Transfer-Encoding: chunked\r\n\r\n{size:x}\r\n").encode())
            sender = threading.Thread(target=_send_zeros, args=(sock, size))
            sender.start()
            started = time.monotonic()
            try:
                answer = _read_answer(sock)
            except TimeoutError:
                answer = b""
            refused_after = time.monotonic() - started
            peak = bridge.status("VmHWM")
            sock.close()  # stops the sender if the server did not
            sender.join(60)
        print(f"\n200 MiB chunk: answered after {refused_after:.2f} s; peak RSS "
              f"{peak_before / 1024:.0f} MB before, {peak / 1024:.0f} MB after (limit 120 MB)")
        assert peak < 120 * 1024
        assert_russian_json(answer, 413)
        assert analyze_ok(bridge.port)["success"] is True


def _send_zeros(sock: socket.socket, size: int) -> None:
    piece = bytes(1024 * 1024)
    try:
        for _ in range(size // len(piece)):
            sock.sendall(piece)
    except OSError:
        pass  # refused: the server closed the connection


def test_many_small_chunks_over_the_cap_are_413(service):
    chunks = b"".join(b"10000\r\n" + bytes(0x10000) + b"\r\n" for _ in range(40))  # 2.5 MiB
    request = (HEAD + "Transfer-Encoding: chunked\r\n\r\n").encode() + chunks + b"0\r\n\r\n"
    assert_russian_json(raw_exchange(service.server.port, request), 413)


def test_chunked_body_within_the_cap_is_served(service):
    body = onec_json({"text": "Договор поставки"}, line_breaks=False)
    request = (HEAD + "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n").encode()
    request += b"".join(b"%x\r\n%s\r\n" % (len(part), part) for part in (body[:5], body[5:]))
    status, _, payload = split(raw_exchange(service.server.port, request + b"0\r\n\r\n"))
    assert status == 200 and payload["success"] is True


# --- item 9: nothing a request carries touches the disk ----------------------------


def test_large_body_is_never_spilled_to_a_temporary_file(service, monkeypatch, tmp_path):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "no-such-dir"))  # a spill would fail
    with pytest.raises(FileNotFoundError):
        tempfile.NamedTemporaryFile()  # noqa: SIM115 - must fail before it is open
    text = "Договор поставки. " * 30_000  # ~560 KB of UTF-8: above bottle's 100 KB MEMFILE_MAX
    status, _, body = onec_request("127.0.0.1", service.server.port, "/analyze/text",
                                   onec_json({"text": text}), timeout=60)
    assert status == 200 and json.loads(body)["success"] is True
    assert not (tmp_path / "no-such-dir").exists()
