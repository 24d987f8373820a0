"""TLS: the bundled Ministry root, the OS store, an extra CA file, and a real handshake."""

from __future__ import annotations

import hashlib
import ssl

import pytest

from gigachat.core.client import GigaChatClient
from gigachat.core.errors import TLSError
from gigachat.core.tls import bundled_root_ca, make_session, ssl_context
from gigachat.core.token import TokenManager, TokenState

ROOT_SHA256 = (
    "D2:6D:2D:02:31:B7:C3:9F:92:CC:73:85:12:BA:54:10:"
    "35:19:E4:40:5D:68:B5:BD:70:3E:97:88:CA:8E:CF:31"
)


def test_bundled_root_fingerprint():
    der = ssl.PEM_cert_to_DER_cert(bundled_root_ca().read_text())
    digest = hashlib.sha256(der).hexdigest().upper()
    assert ":".join(digest[i:i + 2] for i in range(0, 64, 2)) == ROOT_SHA256


def test_context_trusts_ministry_root_and_os_store():
    context = ssl_context()
    subjects = [dict(item[0] for item in cert["subject"]) for cert in context.get_ca_certs()]
    names = {subject.get("commonName") for subject in subjects}
    assert "Russian Trusted Root CA" in names
    assert len(names) > 1  # the OS store came along (corporate inspection roots live there)
    assert context.verify_mode is ssl.CERT_REQUIRED and context.check_hostname


def _client(emu, ca_bundle=""):
    from gigachat.emulator import DEMO_KEY

    session = make_session(ca_bundle=ca_bundle)
    tokens = TokenManager(emu.oauth_url, "GIGACHAT_API_PERS", lambda: DEMO_KEY, session)
    return GigaChatClient(emu.api_url, tokens, session, request_timeout=5.0), tokens


def test_unknown_ca_is_a_tls_error(tls_emulator):
    client, tokens = _client(tls_emulator)
    with pytest.raises(TLSError) as caught:
        client.models()
    assert "сертификат" in caught.value.message and "TLS" in caught.value.message
    assert tokens.status.state is TokenState.ERROR and tokens.status.error_code == "tls"
    assert tls_emulator.stats["oauth_requests"] == 0  # nothing was sent over a bad channel


def test_right_ca_succeeds_over_a_real_handshake(tls_emulator, tls_ca):
    client, _ = _client(tls_emulator, ca_bundle=str(tls_ca.ca))
    assert client.models()["data"]
    assert tls_emulator.base_url.startswith("https://")
    assert tls_emulator.stats["tls_handshakes"] >= 1


@pytest.mark.filterwarnings("ignore::urllib3.exceptions.InsecureRequestWarning")
def test_verification_off_is_explicit_and_warns(tls_emulator, caplog):
    from gigachat.emulator import DEMO_KEY

    with caplog.at_level("WARNING"):
        session = make_session(verify=False)
    assert "TURNED OFF" in caplog.text
    tokens = TokenManager(tls_emulator.oauth_url, "GIGACHAT_API_PERS", lambda: DEMO_KEY, session)
    assert tokens.get_token()
