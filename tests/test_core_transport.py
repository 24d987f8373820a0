"""The one transport layer: backoff policy, OAuth codes, JSON in and out, error text."""

from __future__ import annotations

import math

import pytest

from gigachat.core.errors import InvalidParams, InvalidRequest, ServerError


@pytest.fixture
def transport():
    from gigachat.core import transport

    return transport


@pytest.fixture
def oauth():
    from gigachat.core import oauth

    return oauth


def test_one_backoff_policy_grows_caps_and_honours_retry_after(transport):
    plain = [transport.backoff_delay(n, jitter=False) for n in range(1, 10)]
    assert plain[:4] == [0.5, 1.0, 2.0, 4.0]
    assert max(plain) == transport.BACKOFF_CAP
    for n in range(1, 12):
        delay = transport.backoff_delay(n)
        assert 0.5 * min(0.5 * 2 ** (n - 1), transport.BACKOFF_CAP) <= delay <= transport.BACKOFF_CAP
    assert transport.backoff_delay(3, retry_after=7.0) == 7.0
    # a long outage: thousands of failures must not overflow (the timer thread would die)
    assert transport.backoff_delay(100_000) <= transport.BACKOFF_CAP
    assert transport.backoff_delay(100_000, base=120.0, cap=900.0, jitter=False) == 900.0


def test_token_manager_and_client_use_the_transport_layer(oauth):
    """No second copy of the exception translation or the backoff formula."""
    from pathlib import Path

    import gigachat.core.client as client
    import gigachat.core.token as token

    for module in (client, token, oauth):
        text = Path(module.__file__).read_text(encoding="utf-8")
        assert "requests.exceptions" not in text, module.__name__
        assert "2 **" not in text and "random." not in text, module.__name__
    assert Path(token.__file__).read_text(encoding="utf-8").count("\n") < 400


def test_oauth_error_codes_are_named(oauth):
    assert (oauth.CODE_MALFORMED_KEY, oauth.CODE_WRONG_KEY, oauth.CODE_SCOPE_MISMATCH) == (4, 6, 7)


def test_encode_json_refuses_what_gigachat_cannot_read(transport):
    assert transport.encode_json({"a": "ё", "n": 1.5}) == '{"a": "ё", "n": 1.5}'.encode()
    for bad in (math.nan, math.inf, -math.inf):
        with pytest.raises(InvalidRequest):
            transport.encode_json({"temperature": bad})
    with pytest.raises(InvalidRequest):
        transport.encode_json({"text": "\udc00"})
    with pytest.raises(TypeError):
        transport.encode_json({"x": object()})


def test_decode_json_replaces_lone_surrogates_everywhere(transport):
    raw = b'{"data":[{"id":"Giga\\ud800","type":"chat"}],"\\udfffkey":"ok \\ud83d\\ude00"}'
    value = transport.decode_json(raw)
    assert value["data"][0]["id"] == "Giga\ufffd"
    assert value["\ufffdkey"] == "ok \U0001F600"  # a real pair stays one character
    assert transport.decode_json(b'{"a": 1}') == {"a": 1}
    with pytest.raises(ValueError):
        transport.decode_json(b"<html>")


def test_error_detail_is_redacted_one_line_and_capped():
    from gigachat.core.logs import DETAIL_LIMIT, clean_detail

    token = "eyJ" + "A" * 1200
    detail = f"Invalid params: bad\nfake log line; Authorization: Bearer {token} " + "x" * 2000
    error = InvalidParams(detail)
    assert len(error.detail) <= DETAIL_LIMIT and "\n" not in error.detail
    assert token[:40] not in error.detail and token[:40] not in error.message
    assert "Bearer ***" in error.detail
    assert ServerError("\ud800 boom").detail == "\ufffd boom"
    assert clean_detail("short") == "short"
