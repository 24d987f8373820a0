"""Short-lived tokens under concurrent load: no request fails, about one OAuth call per lifetime.

The long version (5 s tokens, 20 clients, 60 s) is in bench/run.py, section "rotation".
"""

from __future__ import annotations

import threading
import time

import pytest
import requests

from gigachat.emulator import Emulator
from gigachat.local.service import Service
from tests.conftest import remember_secrets, service_for


def run_clients(url: str, clients: int, seconds: float, timeout: float = 30.0) -> tuple[int, list[str]]:
    """`clients` threads post /analyze/text back to back for `seconds`; (calls, failures)."""
    deadline = time.monotonic() + seconds
    calls = [0]
    failures: list[str] = []
    lock = threading.Lock()

    def worker(n: int) -> None:
        with requests.Session() as session:
            while time.monotonic() < deadline:
                try:
                    answer = session.post(url + "/analyze/text", json={"text": f"клиент {n}"},
                                          timeout=timeout).json()
                    error = None if answer["success"] else answer["error"]
                except (requests.RequestException, ValueError) as exc:
                    error = f"{type(exc).__name__}: {exc}"
                with lock:
                    calls[0] += 1
                    if error:
                        failures.append(error)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(seconds + timeout + 30)
    return calls[0], failures


@pytest.fixture
def short_token_emulator():
    emu = Emulator(token_lifetime=3.0, latency=0.02).start()
    yield emu
    emu.stop()
    remember_secrets(emu)


def start_service(emu: Emulator, **changes) -> Service:
    return service_for(emu, **{"scope": "GIGACHAT_API_B2B", **changes})


def test_short_lived_tokens_rotate_under_load_without_failures(short_token_emulator):
    emu = short_token_emulator
    lifetime, seconds = 3.0, 10.0
    service = start_service(emu, refresh_margin=0.5)  # the margin must be shorter than the lifetime
    try:
        calls, failures = run_clients(service.url, clients=8, seconds=seconds)
    finally:
        service.stop()
    stats = emu.stats
    assert failures == [], failures[:5]
    assert calls >= 100  # the load really ran across several token lifetimes
    # about one OAuth call per lifetime: at least one per lifetime, and no storm
    lifetimes = seconds / lifetime
    assert lifetimes - 1 <= stats["oauth_requests"] <= 2 * lifetimes + 2, stats["oauth_requests"]
    assert stats["responses"].get(401, 0) == 0  # never sent an expired token


def test_default_settings_survive_tokens_shorter_than_the_margin(short_token_emulator):
    emu = short_token_emulator
    service = start_service(emu, request_timeout=3.0)  # refresh_margin left at its default
    try:
        calls, failures = run_clients(service.url, clients=4, seconds=3.0, timeout=3.0)
        oauth = emu.stats["oauth_requests"]
    finally:
        service.stop()
    assert failures == []
    assert calls >= 20
    assert oauth <= 5, f"{oauth} OAuth calls in 3 s for a 3 s token"
