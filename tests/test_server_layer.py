"""The server layer: slow clients, crashes in the app, keep-alive, the log it writes."""

from __future__ import annotations

import contextlib
import json
import logging
import socket
import threading
import time

import bottle

from gigachat.core.settings import Settings
from gigachat.local import guards
from gigachat.local.guards import Guards, RefusalLog, SafeLogFilter
from gigachat.local.http_server import LocalServer
from tests import test_hostile as hostile
from tests.bridge_process import raw_exchange
from tests.test_hostile import analyze_ok, assert_russian_json, split

# The fixtures test_hostile defines, shared (pytest finds fixtures by module attribute).
fresh_refusal_log, local_server, service = (hostile.fresh_refusal_log, hostile.local_server,
                                            hostile.service)


def hello(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "5")])
    return [b"hello"]


# --- item 10: slowloris -------------------------------------------------------------


def test_served_in_2_s_while_200_slow_header_connections_are_open(service):
    port = service.server.port
    hosts = [host for host, _ in service.server.addresses]
    slow: list[socket.socket] = []
    stop = threading.Event()
    try:
        for n in range(200):  # both loopbacks, as 1C's "localhost" may pick either
            host = hosts[n % len(hosts)]
            sock = socket.create_connection((host, port), timeout=5)
            sock.sendall(b"POST /analyze/text HTTP/1.1\r\nHost: 127.0.0.1\r\n")
            slow.append(sock)

        def trickle() -> None:  # one header byte per connection every 0.5 s
            while not stop.wait(0.5):
                for sock in slow:
                    with contextlib.suppress(OSError):
                        sock.send(b"X")

        trickler = threading.Thread(target=trickle, name="slowloris")
        trickler.start()
        timings = []
        for host in hosts:
            started = time.monotonic()
            assert analyze_ok(port, host=host, timeout=10)["success"] is True
            timings.append(time.monotonic() - started)
        print(f"\n/analyze/text with 200 slow-header connections open: "
              f"{', '.join(f'{t * 1000:.0f} ms' for t in timings)} ({', '.join(hosts)})")
        assert max(timings) < 2.0
    finally:
        stop.set()
        for sock in slow:
            sock.close()


def test_served_in_2_s_while_100_slow_body_connections_are_open(service):
    port = service.server.port
    slow: list[socket.socket] = []
    try:
        for _ in range(100):  # more than the worker threads: each would hold one for 30 s
            sock = socket.create_connection(("127.0.0.1", port), timeout=5)
            sock.sendall(b"POST /analyze/text HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                         b"Content-Length: 100000\r\n\r\n{\"text\": \"")
            slow.append(sock)
        started = time.monotonic()
        assert analyze_ok(port, timeout=10)["success"] is True
        elapsed = time.monotonic() - started
        print(f"\n/analyze/text with 100 slow-body connections open: {elapsed * 1000:.0f} ms")
        assert elapsed < 2.0
    finally:
        for sock in slow:
            sock.close()


def test_slow_head_gets_408_json_at_the_deadline(local_server):
    server = local_server(hello, header_timeout=1.0)
    with socket.create_connection(("127.0.0.1", server.port), timeout=0.2) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        started, answer = time.monotonic(), b""
        while time.monotonic() - started < 15 and b"\r\n\r\n" not in answer:
            try:
                answer += sock.recv(65536)  # the 0.2 s timeout paces the trickle below
            except TimeoutError:
                sock.send(b"X")
        elapsed = time.monotonic() - started
    assert_russian_json(answer, 408)
    assert 0.9 < elapsed < 5, elapsed
    assert LocalServer(hello).header_timeout == 10.0


def test_slow_body_gets_408_json_at_the_deadline(local_server):
    server = local_server(hello, body_timeout=1.0)
    started = time.monotonic()
    answer = raw_exchange(server.port, b"POST / HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                          b"Content-Length: 100\r\n\r\n12345", timeout=15)
    assert_russian_json(answer, 408)
    assert 0.9 < time.monotonic() - started < 5


def test_idle_connection_without_a_byte_is_closed_silently(local_server):
    server = local_server(hello, header_timeout=0.5)
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        assert sock.recv(100) == b""


def test_one_thread_count_default_from_the_settings():
    assert LocalServer(hello).threads == Settings().server_threads


# --- item 1: nothing escaping the app kills a worker --------------------------------


def test_app_crash_is_500_json_and_workers_survive(local_server):
    def crash(environ, start_response):
        raise RuntimeError("boom")

    def crash_midway(environ, start_response):
        start_response("200 OK", [("Content-Type", "text/plain")])
        yield b"partial"
        raise RuntimeError("late boom")

    server = local_server(lambda e, s: (crash_midway if e["PATH_INFO"] == "/late" else crash)(e, s),
                          threads=2)
    workers = {t.name for t in threading.enumerate() if t.name.startswith("http-worker")}
    for _ in range(10):
        answer = raw_exchange(server.port, b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        assert_russian_json(answer, 500)
        cut = raw_exchange(server.port, b"GET /late HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        assert cut.startswith(b"HTTP/1.1 200") and not cut.endswith(b"0\r\n\r\n")
    alive = {t.name for t in threading.enumerate() if t.name.startswith("http-worker")}
    assert workers <= alive


def test_bottle_critical_error_page_becomes_json(local_server):
    app = bottle.Bottle(catchall=True)
    app.route("/x")(lambda: "\ud800")  # a lone surrogate cannot be encoded: bottle's HTML page
    server = local_server(Guards(app))
    answer = raw_exchange(server.port, b"GET /x HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close"
                          b"\r\n\r\n")
    assert b"Critical error" not in answer and b"<h1>" not in answer
    assert_russian_json(answer, 500)


def test_lone_surrogate_field_is_never_an_html_page(service):
    body = b'{"text": "x", "model": "\\ud800"}'
    request = (b"POST /analyze/text HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
               b"Content-Length: %d\r\n\r\n%s" % (len(body), body))
    answer = raw_exchange(service.server.port, request)
    head, _, payload = answer.partition(b"\r\n\r\n")
    assert b"application/json" in head and b"Critical error" not in answer
    assert json.loads(payload)["success"] is False


# --- keep-alive, pipelining, 100-continue, HTTP/1.0 ---------------------------------


def test_keep_alive_and_pipelined_requests(local_server):
    server = local_server(hello)
    one = b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(one * 3)
        data = b""
        while data.count(b"hello") < 3 and (chunk := sock.recv(65536)):
            data += chunk
        assert data.count(b"HTTP/1.1 200 OK") == 3
        sock.sendall(one)  # still open
        assert sock.recv(65536).startswith(b"HTTP/1.1 200 OK")


def test_expect_100_continue_and_http_10(service):
    body = json.dumps({"text": "Договор"}, ensure_ascii=False).encode()
    with socket.create_connection(("127.0.0.1", service.server.port), timeout=15) as sock:
        sock.sendall(b"POST /analyze/text HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
                     b"Expect: 100-continue\r\nContent-Length: %d\r\n\r\n" % len(body))
        assert sock.recv(100) == b"HTTP/1.1 100 Continue\r\n\r\n"
        sock.sendall(body)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    assert split(answer)[2]["success"] is True
    answer = raw_exchange(service.server.port, b"GET /health HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
    assert split(answer)[0] == 200



def test_head_with_bare_line_feeds_is_served(service):
    """RFC 9112 §2.2: a server may accept LF alone as a line terminator (scripts, netcat)."""
    answer = raw_exchange(service.server.port,
                          b"GET /health HTTP/1.1\nHost: 127.0.0.1\nConnection: close\n\n")
    status, _headers, body = split(answer)
    assert status == 200 and body["status"] in ("ok", "degraded", "starting")


def test_a_refusal_that_leaves_the_body_unread_says_it_closes(local_server):
    """A client reusing the connection (1C does) must be told, not find it closed under it."""
    server = local_server(Guards(hello, api_key=lambda: "k"))
    body = b'{"text": "x"}'
    request = (b"POST /analyze/text HTTP/1.1\r\nHost: 127.0.0.1\r\n"
               b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))
    answer = raw_exchange(server.port, request)
    status, head, _ = split(answer)
    assert status == 403 and "connection: close" in head

# --- item 12: log forging and flooding; item 2: surrogate-safe log -------------------


def access_lines(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "gigachat.access"]


def test_control_characters_in_a_path_cannot_forge_a_log_line(service, caplog):
    with caplog.at_level(logging.INFO, logger="gigachat.access"):
        answer = raw_exchange(service.server.port, b"GET /%0Afake%20line%0D%1B[31m HTTP/1.1\r\n"
                              b"Host: 127.0.0.1\r\nConnection: close\r\n\r\n")
        assert split(answer)[0] == 404
    lines = access_lines(caplog)
    assert lines and all("\n" not in line and "\r" not in line and "\x1b" not in line
                         for line in lines)
    assert any("\\x0afake line" in line for line in lines), lines


def test_huge_and_refused_requests_do_not_flood_the_log(service, caplog):
    port = service.server.port
    with caplog.at_level(logging.INFO, logger="gigachat.access"):
        for _ in range(8):
            raw_exchange(port, b"GET /" + b"a" * 750_000 + b" HTTP/1.1\r\nHost: x\r\n\r\n")
        for n in range(100):
            raw_exchange(port, b"GET /nope%d HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close"
                         b"\r\n\r\n" % n)
            raw_exchange(port, b"GET /health HTTP/1.1\r\nHost: evil.example\r\n"
                         b"Connection: close\r\n\r\n")
    lines = access_lines(caplog)
    assert len(lines) <= 3, lines
    assert sum(len(line) for line in lines) < 2000
    assert guards.REFUSALS.total == 208


def test_refusal_summary_at_most_every_interval(caplog):
    now = [0.0]
    refusals = RefusalLog(interval=60, clock=lambda: now[0])
    with caplog.at_level(logging.INFO, logger="gigachat.access"):
        for n in range(500):
            now[0] = n * 0.5  # 250 s of refusals, two a second
            refusals.note("GET", f"/x{n}", 404 if n % 2 else 403)
    lines = access_lines(caplog)
    summaries = [line for line in lines if "more refused requests" in line]
    assert len(summaries) == 4 and len(lines) == 9, lines
    assert "119 more refused requests in the last 60 s (403: 59, 404: 60)" in summaries[0]


def test_lone_surrogate_in_a_log_line_is_written_not_lost(tmp_path):
    path = tmp_path / "bridge.log"
    handler = logging.FileHandler(path, encoding="utf-8")
    logger = logging.getLogger("gigachat.access")
    logger.addHandler(handler)
    try:
        logger.warning("model=%s text=%s", "\ud800", "строка\u2028вторая")
    finally:
        logger.removeHandler(handler)
        handler.close()
    text = path.read_text(encoding="utf-8")
    assert text == "model=\\ud800 text=строка\\u2028вторая\n"
    assert isinstance(SafeLogFilter(), logging.Filter)
