"""TokenManager against the emulator over real loopback sockets."""

from __future__ import annotations

import threading
import time

import pytest

from gigachat.core.errors import NoCredentials, ServerError, WrongKey
from gigachat.core.tls import make_session
from gigachat.core.token import TokenManager, TokenState
from tests.conftest import no_thread_named, wait_for


class FakeClock:
    """Real time plus an offset the test moves forward."""

    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return time.time() + self.offset


def manager_for(emulator, key=None, *, margin=300.0, clock=time.time, scope="GIGACHAT_API_PERS"):
    from gigachat.emulator import DEMO_KEY

    key = DEMO_KEY if key is None else key
    return TokenManager(
        emulator.oauth_url, scope, lambda: key, make_session(), refresh_margin=margin, clock=clock
    )


def test_fifty_threads_at_expiry_share_one_oauth_request(emulator):
    clock = FakeClock()
    tokens = manager_for(emulator, clock=clock)
    first = tokens.get_token()
    assert emulator.stats["oauth_requests"] == 1
    emulator.inject(path="/api/v2/oauth", delay=0.3)  # keep the refresh in flight a while
    clock.offset = 1800.0  # the token has just expired
    barrier = threading.Barrier(50)
    results: list[str] = []
    errors: list[BaseException] = []

    def ask() -> None:
        barrier.wait()
        try:
            results.append(tokens.get_token())
        except BaseException as error:  # pragma: no cover - reported below
            errors.append(error)

    threads = [threading.Thread(target=ask) for _ in range(50)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert not errors
    assert len(results) == 50 and len(set(results)) == 1 and results[0] != first
    assert tokens.oauth_requests == 2
    assert emulator.stats["oauth_requests"] == 2


def test_oauth_request_follows_the_facts(emulator):
    tokens = manager_for(emulator, scope="GIGACHAT_API_B2B")
    tokens.get_token()
    tokens.invalidate(tokens.get_token())
    tokens.get_token()
    seen = emulator.oauth_log
    assert len(seen) == 2
    assert seen[0]["rquid"] != seen[1]["rquid"]  # a fresh uuid4 per call
    assert all(entry["scope"] == "GIGACHAT_API_B2B" for entry in seen)


def test_timer_refreshes_ahead_of_expiry_and_stops_cleanly(emulator):
    emulator.token_lifetime = 2.0
    tokens = manager_for(emulator, margin=1.0)
    seen = []
    tokens.add_listener(seen.append)
    tokens.start()
    wait_for(lambda: tokens.oauth_requests >= 3, timeout=10)
    wait_for(lambda: tokens.status.state is TokenState.VALID, timeout=5)
    assert TokenState.VALID in [status.state for status in seen]
    tokens.stop()
    assert no_thread_named("gigachat-token-refresh")


def test_wrong_key_is_an_error_and_is_not_hammered(emulator):
    from gigachat.emulator import make_key

    clock = FakeClock()
    tokens = manager_for(emulator, key=make_key("someone", "wrong"), clock=clock)
    with pytest.raises(WrongKey) as caught:
        tokens.get_token()
    assert "Неверный ключ авторизации" in caught.value.message
    assert tokens.status.state is TokenState.ERROR
    assert "Неверный ключ" in tokens.status.error
    # Ten simulated minutes of callers asking every second.
    for _ in range(600):
        clock.offset += 1.0
        with pytest.raises(WrongKey):
            tokens.get_token()
    assert tokens.oauth_requests <= 5
    assert emulator.stats["oauth_requests"] == tokens.oauth_requests


def test_new_key_is_tried_at_once_after_a_wrong_one(emulator):
    from gigachat.emulator import DEMO_KEY, make_key

    keys = [make_key("someone", "wrong")]
    tokens = TokenManager(emulator.oauth_url, "GIGACHAT_API_PERS", lambda: keys[0], make_session())
    with pytest.raises(WrongKey):
        tokens.get_token()
    keys[0] = DEMO_KEY
    assert tokens.get_token()
    assert tokens.status.state is TokenState.VALID


def test_no_credentials_state(emulator):
    tokens = TokenManager(emulator.oauth_url, "GIGACHAT_API_PERS", lambda: None, make_session())
    with pytest.raises(NoCredentials):
        tokens.get_token()
    assert tokens.status.state is TokenState.NO_CREDENTIALS
    assert "ключ" in tokens.status.error
    assert emulator.stats["oauth_requests"] == 0


def test_transient_oauth_failure_backs_off_then_recovers(emulator):
    tokens = manager_for(emulator)
    emulator.inject(path="/api/v2/oauth", status=503)
    with pytest.raises(ServerError):
        tokens.get_token()
    assert tokens.status.state is TokenState.ERROR
    token = wait_for(lambda: _try(tokens.get_token), timeout=5)
    assert token and tokens.status.state is TokenState.VALID


def test_scope_mismatch_is_named(emulator):
    from gigachat.emulator import Emulator, make_key

    emu = Emulator(keys={make_key("a", "b"): ["GIGACHAT_API_PERS"]}).start()
    try:
        tokens = TokenManager(
            emu.oauth_url, "GIGACHAT_API_CORP", lambda: make_key("a", "b"), make_session()
        )
        with pytest.raises(Exception) as caught:
            tokens.get_token()
        assert caught.value.code == "scope_mismatch"
        assert "scope" in tokens.status.error
    finally:
        emu.stop()


def _try(fn):
    try:
        return fn()
    except Exception:
        return None


def test_key_saved_during_an_in_flight_refresh_is_used_at_once(emulator):
    """A slow keyring read that started before the key was saved must not park the new key
    behind the long no-credentials backoff."""
    from gigachat.emulator import DEMO_KEY

    keys: list[str | None] = [None]
    entered, release = threading.Event(), threading.Event()

    def slow_keyring() -> str | None:
        seen = keys[0]
        if not entered.is_set():
            entered.set()
            release.wait(10)
        return seen

    tokens = TokenManager(emulator.oauth_url, "GIGACHAT_API_PERS", slow_keyring, make_session())
    tokens.start()
    try:
        assert entered.wait(10)
        keys[0] = DEMO_KEY
        tokens.credentials_changed()
        release.set()  # the stale read returns "no key"
        wait_for(lambda: tokens.status.state is TokenState.VALID, timeout=10)
    finally:
        tokens.stop()


def test_keyring_is_read_outside_the_token_lock(emulator):
    """While a caller re-reads a slow keyring (a D-Bus call) after a rejected key, nobody
    else may be blocked: invalidate(), credentials_changed() and status return at once."""
    from gigachat.emulator import make_key

    slow = threading.Event()
    entered, release = threading.Event(), threading.Event()

    def keyring() -> str:
        if slow.is_set():
            entered.set()
            release.wait(20)
        return make_key("someone", "wrong")

    tokens = TokenManager(emulator.oauth_url, "GIGACHAT_API_PERS", keyring, make_session())
    with pytest.raises(WrongKey):
        tokens.get_token()
    slow.set()
    outcome: list[object] = []
    reader = threading.Thread(target=lambda: outcome.append(_try(tokens.get_token)))
    reader.start()
    try:
        assert entered.wait(10)
        others_done = threading.Event()

        def others() -> None:
            tokens.invalidate("some-other-token")
            tokens.credentials_changed()
            others_done.set()

        threading.Thread(target=others, daemon=True).start()
        assert others_done.wait(5), "the token lock is held across the keyring read"
    finally:
        release.set()
        reader.join(10)
    assert not reader.is_alive()


def test_failed_oauth_call_logs_gigachats_message_and_request_id(emulator, caplog):
    import logging
    import re

    from gigachat.emulator import make_key

    caplog.set_level(logging.WARNING, logger="gigachat")
    tokens = manager_for(emulator, key=make_key("someone", "wrong"))
    with pytest.raises(WrongKey) as caught:
        tokens.get_token()
    lines = [r.getMessage() for r in caplog.records if "token request failed" in r.getMessage()]
    assert len(lines) == 1
    assert "credentials doesn't match db data" in lines[0] and "HTTP 401" in lines[0]
    assert caught.value.request_id and f"X-Request-Id: {caught.value.request_id}" in lines[0]
    assert re.fullmatch(r"[0-9a-f-]{36}", caught.value.request_id)
