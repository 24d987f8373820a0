"""Shared fixtures: isolated per-user dirs, a test CA, and the GigaChat emulator."""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

IN_CI = os.environ.get("CI", "").lower() == "true"

# Everything the program writes during the suite lands below this root;
# tests/test_zz_no_secrets_on_disk.py scans it at the end.
SECRETS_SEEN: set[str] = set()
USERDIRS_ROOT: list[Path] = []


def need(condition: bool, what: str) -> None:
    """Skip locally, fail in CI, when a real component is missing."""
    if condition:
        return
    if IN_CI:
        pytest.fail(f"CI=true and a required component is missing: {what}")
    pytest.skip(f"missing component: {what}")


def wait_for(predicate: Callable[[], object], timeout: float = 10.0, interval: float = 0.01):
    """Poll until predicate() is truthy; return its value or raise TimeoutError."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"condition not met within {timeout} s")
        time.sleep(interval)


@pytest.fixture(scope="session")
def userdirs_root(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("userdirs")
    USERDIRS_ROOT.append(root)
    return root


@pytest.fixture(autouse=True)
def isolated_env(monkeypatch, userdirs_root, request) -> Path:
    """Point every per-user dir at a fresh folder and clear the program's variables."""
    home = userdirs_root / request.node.name[:60].replace("/", "_")
    for name in ("XDG_CONFIG_HOME", "XDG_STATE_HOME", "XDG_CACHE_HOME", "XDG_DATA_HOME"):
        path = home / name.lower()
        path.mkdir(parents=True, exist_ok=True)
        monkeypatch.setenv(name, str(path))
    for name in list(os.environ):
        if name.startswith("GIGACHAT_") or name in ("API_HOST", "API_PORT"):
            monkeypatch.delenv(name)
    return home


@pytest.fixture(autouse=True)
def program_log_handlers_removed():
    """A test that calls setup_logging() leaves its root handlers behind; their redacting filter
    rewrites records (tracebacks into text), which would hide exceptions from later tests."""
    yield
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, "_gigachat", False):
            root.removeHandler(handler)
            handler.close()


@pytest.fixture(scope="session")
def tls_ca(tmp_path_factory):
    """A throwaway CA plus a server certificate for 127.0.0.1 / localhost."""
    import trustme

    ca = trustme.CA(organization_name="GigaChat Bridge test CA")
    cert = ca.issue_cert("127.0.0.1", "localhost", "::1")
    folder = tmp_path_factory.mktemp("tls")
    ca_file = folder / "test-ca.pem"
    cert_file = folder / "server.pem"
    key_file = folder / "server.key"
    ca.cert_pem.write_to_path(str(ca_file))
    cert.cert_chain_pems[0].write_to_path(str(cert_file))
    for extra in cert.cert_chain_pems[1:]:
        extra.write_to_path(str(cert_file), append=True)
    cert.private_key_pem.write_to_path(str(key_file))

    class Files:
        ca = ca_file
        cert = cert_file
        key = key_file

    return Files


def remember_secrets(emu) -> None:
    """Record an emulator's keys and tokens for the final no-secrets-on-disk scan."""
    SECRETS_SEEN.update(emu.issued_tokens)
    SECRETS_SEEN.update(emu.keys)


LOCAL_TEST_KEY = "local-test-key"


def service_for(emu, **changes):
    """A started Service (real server on a free port) in front of `emu`, key from the environment."""
    from gigachat.core.credentials import CredentialStore
    from gigachat.core.settings import Settings
    from gigachat.emulator import DEMO_KEY
    from gigachat.local.service import Service

    settings = Settings(port=0, auth_url=emu.oauth_url, api_url=emu.api_url).with_changes(**changes)
    store = CredentialStore(environ={"GIGACHAT_CREDENTIALS": DEMO_KEY,
                                     "GIGACHAT_BRIDGE_API_KEY": LOCAL_TEST_KEY})
    return Service(settings, credentials=store).start()


@pytest.fixture
def emulator() -> Iterator:
    """A plain-HTTP emulator on a free loopback port."""
    from gigachat.emulator import Emulator

    emu = Emulator().start()
    yield emu
    emu.stop()
    remember_secrets(emu)


@pytest.fixture
def tls_emulator(tls_ca) -> Iterator:
    """An HTTPS emulator whose certificate chains to the test CA."""
    from gigachat.emulator import Emulator

    emu = Emulator(tls=(str(tls_ca.cert), str(tls_ca.key))).start()
    yield emu
    emu.stop()
    remember_secrets(emu)


def no_thread_named(prefix: str) -> bool:
    return not any(t.name.startswith(prefix) and t.is_alive() for t in threading.enumerate())
