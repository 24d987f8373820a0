"""The log filter masks authorization keys and access tokens."""

from __future__ import annotations

import logging

from gigachat.logs import RedactingFilter, redact, setup_logging


def test_redacts_authorization_key_and_token():
    from gigachat.emulator import DEMO_KEY

    token = "eyJjdHkiOiJqd3QiLCJlbmMiOiJBMjU2Q0JDLUhTNTEyIiwiYWxnIjoiUlNBLU9BRVAtMjU2In0." + "x" * 900
    text = f"Authorization: Basic {DEMO_KEY} token={token} Bearer {token[:60]}"
    cleaned = redact(text)
    assert DEMO_KEY not in cleaned and token[:40] not in cleaned
    assert "Basic ***" in cleaned and "Bearer ***" in cleaned


def test_filter_applies_to_args_and_tracebacks(isolated_env, caplog):
    from gigachat.emulator import DEMO_KEY

    path = setup_logging(console=False)
    logger = logging.getLogger("gigachat.test")
    logger.warning("key was %s", DEMO_KEY)
    try:
        raise RuntimeError(f"boom with Basic {DEMO_KEY}")
    except RuntimeError:
        logger.exception("failed")
    for handler in logging.getLogger().handlers:
        handler.flush()
    text = path.read_text(encoding="utf-8")
    assert "key was" in text and "boom with" in text
    assert DEMO_KEY not in text


def test_plain_messages_pass_unchanged():
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "порт %d занят", (8000,), None)
    assert RedactingFilter().filter(record)
    assert record.getMessage() == "порт 8000 занят"
