"""The log filter masks authorization keys and access tokens."""

from __future__ import annotations

import logging

from gigachat.core.logs import RedactingFilter, redact, setup_logging


def logged_text(path) -> str:
    """What the log file holds once every handler has flushed."""
    for handler in logging.getLogger().handlers:
        handler.flush()
    return path.read_text(encoding="utf-8")


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
    text = logged_text(path)
    assert "key was" in text and "boom with" in text
    assert DEMO_KEY not in text


def test_plain_messages_pass_unchanged():
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "порт %d занят", (8000,), None)
    assert RedactingFilter().filter(record)
    assert record.getMessage() == "порт 8000 занят"


def test_real_key_and_access_token_never_reach_the_log_file(isolated_env, emulator):
    """A real key and a real access token (issued by the emulator) logged every way a bug
    might: in the message, as arguments, inside a dict, in a traceback."""
    from gigachat.core.tls import make_session
    from gigachat.core.token import TokenManager
    from gigachat.emulator import DEMO_KEY

    path = setup_logging(console=False)
    session = make_session()
    token = TokenManager(emulator.oauth_url, "GIGACHAT_API_PERS", lambda: DEMO_KEY, session).get_token(10)
    session.close()
    assert len(token) > 100 and token in emulator.issued_tokens
    logger = logging.getLogger("gigachat.test")
    logger.info("Authorization: Basic %s", DEMO_KEY)
    logger.info("Authorization: Bearer %s", token)
    logger.warning("token=%s key=%s", token, DEMO_KEY)
    logger.error("oauth answer %s", {"access_token": token, "expires_at": 1})
    logger.info(f"key inline {DEMO_KEY} and token inline {token}")
    try:
        raise ValueError(f"upstream echoed {token} for {DEMO_KEY}")
    except ValueError:
        logger.exception("call failed")
    text = logged_text(path)
    assert "oauth answer" in text and "call failed" in text and "upstream echoed" in text
    assert DEMO_KEY not in text
    assert token[:24] not in text and token[-24:] not in text
    assert text.count("***") >= 10
    assert str(path).startswith(str(isolated_env / "xdg_state_home"))  # the per-user log dir
