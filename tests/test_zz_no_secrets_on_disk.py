"""Runs last: nothing the program wrote during the suite holds a key or an access token."""

from __future__ import annotations

from tests.conftest import SECRETS_SEEN, USERDIRS_ROOT


def test_no_key_or_token_in_any_written_file():
    assert USERDIRS_ROOT, "the per-user dirs fixture never ran"
    files = [path for root in USERDIRS_ROOT for path in root.rglob("*") if path.is_file()]
    assert files, "the suite wrote no files to scan (config, logs)"
    assert len(SECRETS_SEEN) >= 2, "no keys or tokens were recorded"
    leaks = []
    for path in files:
        data = path.read_bytes()
        leaks += [(path, secret[:8]) for secret in SECRETS_SEEN if secret.encode() in data]
    assert not leaks

