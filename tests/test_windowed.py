"""The windowed Windows build: no console (sys.stdout = sys.stderr = None, no fds 1/2)."""

from __future__ import annotations

import json
import sys

import pytest

from gigachat.core.logs import log_dir
from tests.bridge_process import BridgeProcess, raw_exchange
from tests.conftest import wait_for
from tests.onec_wire import onec_json, onec_request

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")


def _post(path: str, body: bytes, *headers: str) -> bytes:
    framed = any(h.lower().startswith(("content-length", "transfer-encoding")) for h in headers)
    head = [f"POST {path} HTTP/1.1", "Host: 127.0.0.1", "Connection: close",
            "Content-Type: application/json", *headers]
    if not framed:
        head.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


# The two requests the review found lethal, then other malformed ones.
LETHAL = [
    _post("/analyze/text", b"zz\r\n\r\n", "Transfer-Encoding: chunked"),
    _post("/analyze/text", rb'{"text":"x","model":"\ud800"}'),
]
OTHERS = [
    _post("/analyze/text", b"{}", "Content-Length: 2", "Transfer-Encoding: chunked"),
    _post("/analyze/text", b"{}", "Content-Length: 2", "Content-Length: 3"),
    _post("/analyze/text", b"{}", "Content-Length: abc"),
    _post("/v1/chat/completions", b"zz\r\n\r\n", "Transfer-Encoding: chunked"),
    _post("/v1/chat/completions", rb'{"model":"\udfff","messages":[{"role":"user",'
          rb'"content":"\ud800"}]}'),
    b"GET /%0Afake%20line HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n",
    b"GET /%ED%A0%80 HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n",
    b"GET /health HTTP/1.1\r\nHost 127.0.0.1\r\n\r\n",
    b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
    b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n",
    _post("/analyze/text", b"5\r\nabc", "Transfer-Encoding: chunked"),
]


def _malformed(count: int) -> list[tuple[bytes, bool]]:
    """(request, half_close) pairs: 70+ of each lethal kind, the rest spread over the others."""
    kinds = [(r, False) for r in LETHAL] * 3 + [(r, True) for r in OTHERS]
    return [kinds[i % len(kinds)] for i in range(count)]


def _good(port: int) -> dict:
    status, headers, body = onec_request("127.0.0.1", port, "/analyze/text",
                                         onec_json({"text": "Договор №1"}), timeout=15)
    assert status == 200
    return json.loads(body)


def test_windowed_bridge_survives_200_malformed_requests(tmp_path):
    with BridgeProcess(tmp_path, windowed=True) as bridge:
        assert _good(bridge.port)["success"] is True
        threads_before = bridge.status("Threads")
        answers = []
        for number, (request, half) in enumerate(_malformed(200), 1):
            answers.append(raw_exchange(bridge.port, request, half_close=half, timeout=10))
            assert answers[-1], f"no answer to malformed request #{number}: {request[:80]!r}"
        for answer in answers:
            head, _, body = answer.partition(b"\r\n\r\n")
            assert b"application/json" in head, answer[:300]
            payload = json.loads(body)
            assert payload.get("success") is False or "error" in payload, payload
        assert not any(b"Critical error" in a or b"<h1>" in a for a in answers)
        assert _good(bridge.port)["success"] is True
        threads_after = wait_for(lambda: (n := bridge.status("Threads")) <= threads_before and n,
                                 timeout=20)
        print(f"\nwindowed bridge: threads {threads_before} before, {threads_after} after "
              f"200 malformed requests (all answered with JSON)")
        assert threads_after == threads_before
        assert bridge.process.poll() is None
    log_text = (log_dir() / "bridge.log").read_text(encoding="utf-8")
    assert "refused POST /analyze/text 400" in log_text  # the errors went to the log file
    assert "\nfake line" not in log_text
