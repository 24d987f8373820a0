"""Fault drills, short: random GigaChat faults, a bridge killed mid-load, GigaChat unreachable.

The long versions (and the tutorial server beside the bridge) are in bench/run.py, section "faults".
"""

from __future__ import annotations

import http.client
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests

from gigachat.emulator import DEMO_KEY, Emulator
from gigachat.local.service import Service
from tests.conftest import remember_secrets, service_for, wait_for

ROOT = Path(__file__).resolve().parent.parent
CYRILLIC = re.compile("[а-яА-Я]")


def start_service(emu: Emulator, **changes) -> Service:
    return service_for(emu, **{"scope": "GIGACHAT_API_B2B", **changes})


def analyze(url: str, text: str = "Привет", timeout: float = 60) -> dict:
    return requests.post(url + "/analyze/text", json={"text": text}, timeout=timeout).json()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


# --- random faults ------------------------------------------------------------------


def test_ten_percent_random_faults_lose_no_request(emulator):
    service = start_service(emulator, max_concurrency=8)
    try:
        analyze(service.url, "прогрев")
        emulator.fail_rate = 0.1  # 429, 500, 503 and dropped connections, seeded
        with ThreadPoolExecutor(8) as pool:
            answers = list(pool.map(lambda i: analyze(service.url, f"№{i}"), range(160)))
    finally:
        service.stop()
    assert [a["error"] for a in answers if not a["success"]] == []
    stats = emulator.stats
    assert stats["faults_fired"] >= 5  # the drill really hit faults
    assert stats["responses"].get(200, 0) >= 161


# --- SIGKILL mid-load, restart ---------------------------------------------------------


class BridgeProcess:
    """tray_app.py --headless on a fixed port, output collected by a reader thread."""

    def __init__(self, emu: Emulator, port: int) -> None:
        env = {**os.environ, "GIGACHAT_CREDENTIALS": DEMO_KEY, "GIGACHAT_AUTH_URL": emu.oauth_url,
               "GIGACHAT_API_URL": emu.api_url, "GIGACHAT_SCOPE": "GIGACHAT_API_B2B",
               "DBUS_SESSION_BUS_ADDRESS": "unix:path=/nonexistent"}
        self.lines: list[str] = []
        self.process = subprocess.Popen(
            [sys.executable, str(ROOT / "tray_app.py"), "--headless", "--port", str(port)], cwd=ROOT,
            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.process.stdout:
            self.lines.append(line)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(5)


def test_bridge_killed_mid_load_is_healthy_again_after_restart(emulator):
    port = free_port()
    url = f"http://127.0.0.1:{port}"

    def healthy() -> bool:
        try:
            return requests.get(url + "/health", timeout=2).json()["status"] == "ok"
        except (requests.RequestException, ValueError, KeyError):
            return False

    results: list[tuple[float, bool]] = []  # (start time, success)
    stop = threading.Event()

    def client() -> None:
        while not stop.is_set():
            started = time.monotonic()
            try:
                ok = analyze(url, "под нагрузкой", timeout=10)["success"]
            except (requests.RequestException, ValueError):
                ok = False
            results.append((started, ok))
            if not ok:
                stop.wait(0.05)  # a 1C user pressing the button again, not a busy loop

    first = BridgeProcess(emulator, port)
    second = None
    threads = [threading.Thread(target=client) for _ in range(4)]
    try:
        wait_for(healthy, timeout=30)
        for thread in threads:
            thread.start()
        wait_for(lambda: sum(ok for _, ok in results) >= 10, timeout=30)
        first.process.send_signal(signal.SIGKILL)
        first.process.wait(10)
        restarted = time.monotonic()
        second = BridgeProcess(emulator, port)  # what a service manager does, at once
        wait_for(healthy, timeout=30)
        time_to_healthy = time.monotonic() - restarted
        healthy_at = time.monotonic()
        wait_for(lambda: sum(ok for start, ok in results if start > healthy_at) >= 10, timeout=30)
    finally:
        stop.set()
        for thread in threads:
            if thread.is_alive():
                thread.join(15)
        first.stop()
        if second is not None:
            second.stop()
    assert time_to_healthy < 15, f"restart took {time_to_healthy:.1f} s"
    after = [ok for start, ok in results if start > healthy_at]
    assert all(after), f"{after.count(False)} of {len(after)} calls failed after /health was ok"
    assert any("запущен" in line for line in second.lines)


# --- GigaChat unreachable ---------------------------------------------------------------


def test_gigachat_unreachable_gives_russian_errors_then_recovers():
    emu = Emulator().start()
    port = emu.port
    service = start_service(emu, request_timeout=4.0)
    back = None
    try:
        assert analyze(service.url)["success"] is True
        emu.stop()  # GigaChat gone: connections refused
        remember_secrets(emu)
        started = time.monotonic()
        with ThreadPoolExecutor(2) as pool:
            answers = list(pool.map(lambda i: analyze(service.url, f"№{i}", timeout=30), range(2)))
        took = time.monotonic() - started
        for answer in answers:
            assert answer["success"] is False
            assert "ГигаЧат" in answer["error"] and CYRILLIC.search(answer["error"])
            assert "Traceback" not in answer["error"] and "HTTPConnectionPool" not in answer["error"]
        assert took < 15, f"errors took {took:.1f} s (request_timeout is 4 s)"
        health = requests.get(service.url + "/health", timeout=5).json()
        assert health["last_error"] in {answer["error"] for answer in answers}

        back = Emulator(port=port).start()  # GigaChat is back; it does not know the old token
        recovered = time.monotonic()
        assert analyze(service.url)["success"] is True
        assert time.monotonic() - recovered < 5
        with ThreadPoolExecutor(4) as pool:
            answers = list(pool.map(lambda i: analyze(service.url, f"№{i}"), range(8)))
        assert all(answer["success"] for answer in answers)
        assert back.stats["oauth_requests"] == 1  # re-authorised once, on the 401
    finally:
        service.stop()
        emu.stop()
        if back is not None:
            back.stop()
            remember_secrets(back)


# --- a burst of new connections ------------------------------------------------------------


def test_burst_of_new_connections_loses_no_request(emulator):
    service = start_service(emulator, max_concurrency=16)
    port = service.server.port
    try:
        analyze(service.url, "прогрев")
        for _ in range(2):
            barrier = threading.Barrier(32)

            def one_call(_: int, barrier: threading.Barrier = barrier) -> str:
                barrier.wait()
                try:
                    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
                    conn.request("POST", "/analyze/text", body=json.dumps({"text": "x"}),
                                 headers={"Content-Type": "application/json"})
                    answer = json.loads(conn.getresponse().read())
                    conn.close()
                    return "ok" if answer["success"] else answer["error"]
                except OSError as exc:
                    return type(exc).__name__

            with ThreadPoolExecutor(32) as pool:
                outcomes = list(pool.map(one_call, range(32)))
            assert [o for o in outcomes if o != "ok"] == []
    finally:
        service.stop()
