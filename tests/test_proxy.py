"""Corporate proxies (issue 15): the bridge reaches GigaChat (the HTTPS emulator) through a
real loopback CONNECT proxy that demands Basic or NTLM (a pyspnego acceptor), and loopback
traffic never goes through a proxy.

The emulator answers as "ngw.gigachat.test" / "api.gigachat.test" (a trustme certificate for
those names): the bridge cannot resolve them itself, only the proxy maps them to loopback, so
an answer proves the request went through the tunnel.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator

import pytest
import requests

from gigachat.core.credentials import CredentialStore
from gigachat.core.errors import ConfigError
from gigachat.core.proxy import DIRECT, ProxyConfig, bypassed, choose_proxy, is_loopback
from gigachat.core.settings import Settings, load_settings, save_settings
from gigachat.emulator import DEMO_KEY, Emulator
from gigachat.local.service import Service
from tests.conftest import LOCAL_TEST_KEY, need, remember_secrets
from tests.proxy_rig import ProxyServer

OAUTH_HOST, API_HOST = "ngw.gigachat.test", "api.gigachat.test"
NTLM_USER, NTLM_PASSWORD = "CORP\\ivanov", "Secret-123"
BASIC_USER, BASIC_PASSWORD = "CORP\\petrova", "p@ss:w/rd"


@pytest.fixture(scope="module")
def named_ca(tmp_path_factory):
    """A test CA and a server certificate for the two GigaChat-like names (and 127.0.0.1)."""
    import trustme

    ca = trustme.CA(organization_name="GigaChat Bridge office test CA")
    cert = ca.issue_cert(OAUTH_HOST, API_HOST, "127.0.0.1")
    folder = tmp_path_factory.mktemp("office-tls")
    files = {name: folder / name for name in ("ca.pem", "server.pem", "server.key")}
    ca.cert_pem.write_to_path(str(files["ca.pem"]))
    cert.private_key_pem.write_to_path(str(files["server.key"]))
    for index, pem in enumerate(cert.cert_chain_pems):
        pem.write_to_path(str(files["server.pem"]), append=index > 0)
    return files


@pytest.fixture
def named_emulator(named_ca) -> Iterator[Emulator]:
    emu = Emulator(tls=(str(named_ca["server.pem"]), str(named_ca["server.key"]))).start()
    yield emu
    emu.stop()
    remember_secrets(emu)


def proxy_for(emu: Emulator, mode: str, **kwargs) -> ProxyServer:
    hosts = {OAUTH_HOST: ("127.0.0.1", emu.port), API_HOST: ("127.0.0.1", emu.port)}
    return ProxyServer(mode, hosts=hosts, **kwargs)


def named_settings(emu: Emulator, named_ca, environ: dict[str, str]) -> Settings:
    """Settings as a user's environment gives them (GIGACHAT_PROXY etc. go through validation)."""
    environ = {"GIGACHAT_AUTH_URL": emu.oauth_url.replace("127.0.0.1", OAUTH_HOST),
               "GIGACHAT_API_URL": emu.api_url.replace("127.0.0.1", API_HOST),
               "GIGACHAT_CA_BUNDLE": str(named_ca["ca.pem"]), **environ}
    return load_settings(environ=environ).with_changes(port=0)


def start_bridge(settings: Settings) -> Service:
    store = CredentialStore(environ={"GIGACHAT_CREDENTIALS": DEMO_KEY,
                                     "GIGACHAT_BRIDGE_API_KEY": LOCAL_TEST_KEY})
    return Service(settings, credentials=store).start()


def ask(service: Service) -> dict:
    """What 1C does: POST /analyze/text to the bridge on loopback (no proxy on this hop)."""
    with requests.Session() as session:
        session.trust_env = False
        answer = session.post(service.url + "/analyze/text", json={"text": "Привет"},
                              headers={"X-API-Key": LOCAL_TEST_KEY}, timeout=60)
    return answer.json()


def assert_only_tunnels(proxy: ProxyServer, emu: Emulator, service: Service) -> None:
    """The proxy saw CONNECTs to the GigaChat names, nothing for a loopback address."""
    targets = {f"{OAUTH_HOST}:{emu.port}", f"{API_HOST}:{emu.port}"}
    assert set(proxy.connects) == targets, proxy.lines
    assert all(line.startswith("CONNECT ") for line in proxy.lines), proxy.lines
    assert not [line for line in proxy.lines if "127.0.0.1" in line or str(service.server.port)
                in line.split(":")[-1].split(" ")[0]], proxy.lines


def test_basic_proxy_from_gigachat_proxy_url_reaches_the_emulator(named_emulator, named_ca):
    emu = named_emulator
    with proxy_for(emu, "basic", user=BASIC_USER, password=BASIC_PASSWORD) as proxy:
        url = f"http://CORP%5Cpetrova:p%40ss%3Aw%2Frd@127.0.0.1:{proxy.port}"
        service = start_bridge(named_settings(emu, named_ca, {"GIGACHAT_PROXY": url}))
        try:
            answer = ask(service)
            assert answer["success"] is True, answer
            assert answer["result"]
            assert_only_tunnels(proxy, emu, service)
        finally:
            service.stop()


def test_ntlm_proxy_with_the_password_from_the_keyring_reaches_the_emulator(
        named_emulator, named_ca, tmp_path, monkeypatch):
    need(importlib.util.find_spec("spnego") is not None, "pyspnego (requirements.txt)")
    store = CredentialStore(environ={})
    try:
        store.save_proxy_password(NTLM_USER, NTLM_PASSWORD)
    except Exception as error:  # noqa: BLE001 - say what is missing
        need(False, f"a Secret Service keyring (scripts/with-keyring.sh): {error}")
    users = tmp_path / "ntlm-users"
    users.write_text(f"CORP:ivanov:{NTLM_PASSWORD}\n", encoding="utf-8")
    monkeypatch.setenv("NTLM_USER_FILE", str(users))
    emu = named_emulator
    try:
        with proxy_for(emu, "ntlm") as proxy:
            environ = {"GIGACHAT_PROXY": f"http://CORP%5Civanov@127.0.0.1:{proxy.port}",
                       "GIGACHAT_PROXY_AUTH": "ntlm"}
            service = start_bridge(named_settings(emu, named_ca, environ))
            try:
                answer = ask(service)
                assert answer["success"] is True, answer
                assert_only_tunnels(proxy, emu, service)
                # NTLM: the first CONNECT got the 407 challenge, the second one passed.
                assert len(proxy.lines) >= 2 * len(proxy.connects), proxy.lines
            finally:
                service.stop()
    finally:
        store.save_proxy_password(NTLM_USER, None)
    assert store.proxy_password(NTLM_USER) is None


def test_negotiate_proxy_reaches_the_emulator(named_emulator, named_ca, tmp_path, monkeypatch):
    """Negotiate (SPNEGO; NTLM inside it here, Kerberos on a Windows domain)."""
    need(importlib.util.find_spec("spnego") is not None, "pyspnego (requirements.txt)")
    users = tmp_path / "ntlm-users"
    users.write_text(f"CORP:ivanov:{NTLM_PASSWORD}\n", encoding="utf-8")
    monkeypatch.setenv("NTLM_USER_FILE", str(users))
    emu = named_emulator
    with proxy_for(emu, "negotiate") as proxy:
        environ = {"GIGACHAT_PROXY": f"http://CORP%5Civanov:{NTLM_PASSWORD}@127.0.0.1:{proxy.port}",
                   "GIGACHAT_PROXY_AUTH": "negotiate"}
        service = start_bridge(named_settings(emu, named_ca, environ))
        try:
            assert ask(service)["success"] is True
            assert_only_tunnels(proxy, emu, service)
        finally:
            service.stop()


def test_wrong_ntlm_password_fails_with_a_clear_answer_and_no_tunnel(
        named_emulator, named_ca, tmp_path, monkeypatch):
    need(importlib.util.find_spec("spnego") is not None, "pyspnego (requirements.txt)")
    users = tmp_path / "ntlm-users"
    users.write_text("CORP:ivanov:the-real-one\n", encoding="utf-8")
    monkeypatch.setenv("NTLM_USER_FILE", str(users))
    emu = named_emulator
    with proxy_for(emu, "ntlm") as proxy:
        environ = {"GIGACHAT_PROXY": f"http://CORP%5Civanov:wrong@127.0.0.1:{proxy.port}",
                   "GIGACHAT_PROXY_AUTH": "ntlm"}
        service = start_bridge(named_settings(emu, named_ca, environ))
        try:
            answer = ask(service)
            assert answer["success"] is False and "прокси" in answer["error"].lower(), answer
            assert proxy.connects == []
        finally:
            service.stop()


def test_loopback_upstream_never_goes_through_the_os_proxy(emulator, monkeypatch):
    """HTTPS_PROXY/ALL_PROXY set (the OS proxy), a loopback upstream: the proxy sees nothing."""
    with ProxyServer("refuse") as proxy:
        for name in ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "HTTP_PROXY"):
            monkeypatch.setenv(name, proxy.url)
        monkeypatch.delenv("NO_PROXY", raising=False)
        monkeypatch.delenv("no_proxy", raising=False)
        settings = load_settings(environ={"GIGACHAT_AUTH_URL": emulator.oauth_url,
                                          "GIGACHAT_API_URL": emulator.api_url})
        service = start_bridge(settings.with_changes(port=0))
        try:
            assert ask(service)["success"] is True
        finally:
            service.stop()
        assert proxy.lines == []


# --- the choice, without sockets ---------------------------------------------------------


def test_os_proxy_from_https_proxy_with_no_proxy():
    env = {"HTTPS_PROXY": "http://proxy.corp:3128", "NO_PROXY": "*.corp.local, intranet,.sber.ru"}
    proxy = choose_proxy("", "", env, platform="linux")
    assert (proxy.host, proxy.port, proxy.auth) == ("proxy.corp", 3128, "")
    assert "HTTPS_PROXY" in proxy.source
    assert bypassed("files.corp.local", proxy) and bypassed("intranet", proxy)
    assert bypassed("api.sber.ru", proxy) and not bypassed("ngw.devices.sberbank.ru", proxy)
    assert not bypassed("gigachat.devices.sberbank.ru", proxy)


@pytest.mark.parametrize("host", ["127.0.0.1", "127.3.4.5", "::1", "[::1]", "localhost",
                                  "LOCALHOST."])
def test_loopback_is_always_direct(host):
    assert is_loopback(host)
    assert bypassed(host, ProxyConfig("proxy.corp", 3128))


def test_explicit_setting_wins_over_the_os_and_direct_turns_it_off():
    env = {"HTTPS_PROXY": "http://os-proxy:1"}
    chosen = choose_proxy("http://CORP%5Civanov:pw@explicit:8080", "ntlm", env, platform="linux")
    assert (chosen.host, chosen.username, chosen.password, chosen.auth) == (
        "explicit", "CORP\\ivanov", "pw", "ntlm")
    assert "pw" not in repr(chosen) and "pw" not in chosen.describe()
    assert choose_proxy(DIRECT, "", env, platform="linux") is None
    # proxy_auth applies to the OS proxy too; a user without a password asks the keyring.
    os_proxy = choose_proxy("", "negotiate", {"HTTPS_PROXY": "http://ivanov@os-proxy:3128"},
                            password_for=lambda user: f"from-keyring-for-{user}", platform="linux")
    assert (os_proxy.auth, os_proxy.password) == ("negotiate", "from-keyring-for-ivanov")


def test_windows_internet_options_server_strings():
    from gigachat.core.proxy import _windows_server_for_https

    assert _windows_server_for_https("proxy:8080") == "proxy:8080"
    assert _windows_server_for_https("http=a:1;https=b:2;ftp=c:3") == "b:2"
    assert _windows_server_for_https("http=a:1") == "a:1"


def test_environment_variables_win_and_are_checked(tmp_path):
    path = tmp_path / "settings.json"
    path.write_text('{"proxy": "http://file-proxy:3128", "proxy_auth": "basic"}', encoding="utf-8")
    settings = load_settings(environ={"GIGACHAT_PROXY": "http://env-proxy:8080",
                                      "GIGACHAT_PROXY_AUTH": "ntlm"}, path=path)
    assert (settings.proxy, settings.proxy_auth) == ("http://env-proxy:8080", "ntlm")
    with pytest.raises(ConfigError, match="GIGACHAT_PROXY_AUTH"):
        load_settings(environ={"GIGACHAT_PROXY_AUTH": "kerberos5"}, path=path)
    with pytest.raises(ConfigError, match="GIGACHAT_PROXY"):
        load_settings(environ={"GIGACHAT_PROXY": "socks5://proxy:1080"}, path=path)


def test_a_proxy_password_is_never_stored_in_settings_json(tmp_path):
    path = tmp_path / "settings.json"
    with pytest.raises(ConfigError, match="--set-proxy-password"):
        save_settings(Settings(proxy="http://ivanov:secret@proxy:3128"), path)
    assert not path.exists()
    path.write_text('{"proxy": "http://ivanov:secret@proxy:3128"}', encoding="utf-8")
    with pytest.raises(ConfigError, match="секреты не хранятся") as caught:
        load_settings(environ={}, path=path)
    assert "secret" not in caught.value.message.replace("секреты", "")
    save_settings(Settings(proxy="http://CORP%5Civanov@proxy:3128", proxy_auth="ntlm"), path)
    assert load_settings(environ={}, path=path).proxy == "http://CORP%5Civanov@proxy:3128"
