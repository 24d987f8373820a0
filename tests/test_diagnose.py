"""`tray_app.py --diagnose` (issue 15): a Russian step-by-step report against real servers —
the HTTPS emulator, a wrong CA, a wrong key, a closed port, a proxy refusing authentication.
The first failing step is named with its fix, the exit status is non-zero, and the saved copy
holds no secret."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
from pathlib import Path

from gigachat.emulator import DEMO_KEY, make_key
from tests import test_proxy
from tests.proxy_rig import ProxyServer
from tests.test_proxy import API_HOST, OAUTH_HOST, proxy_for

ROOT = Path(__file__).resolve().parent.parent
named_ca, named_emulator = test_proxy.named_ca, test_proxy.named_emulator  # fixtures
STEP = re.compile(r"^\d+\. \[(OK|ОШИБКА|—)\]\s+(.+?): (.*)$", re.M)


class Diagnosis:
    def __init__(self, done: subprocess.CompletedProcess) -> None:
        self.code, self.out = done.returncode, done.stdout + done.stderr
        self.steps = {title: (mark, detail) for mark, title, detail in STEP.findall(self.out)}
        saved = re.search(r"Копия отчёта \(без секретов\): (.+)$", self.out, re.M)
        self.saved = Path(saved.group(1).strip()) if saved else None

    def status(self, title: str) -> str:
        return self.steps[title][0]

    def failed_first(self) -> str:
        return re.search(r"первая ошибка — шаг «(.+?)»", self.out).group(1)


def diagnose(env: dict[str, str]) -> Diagnosis:
    full = {**os.environ, **env}
    done = subprocess.run([sys.executable, str(ROOT / "tray_app.py"), "--diagnose"], env=full,
                          capture_output=True, text=True, timeout=180, cwd=ROOT, check=False)
    assert "Traceback" not in done.stderr, done.stderr
    return Diagnosis(done)


def emulator_env(emu, key: str = DEMO_KEY, **extra: str) -> dict[str, str]:
    return {"GIGACHAT_AUTH_URL": emu.oauth_url, "GIGACHAT_API_URL": emu.api_url,
            "GIGACHAT_CREDENTIALS": key, **extra}


def assert_saved_without(result: Diagnosis, *secrets: str) -> str:
    assert result.saved is not None and result.saved.is_file(), result.out
    text = result.saved.read_text(encoding="utf-8")
    for secret in secrets:
        assert secret not in text and secret not in result.out
    return text


def test_healthy_emulator_every_step_ok(tls_emulator, tls_ca):
    result = diagnose(emulator_env(tls_emulator, GIGACHAT_CA_BUNDLE=str(tls_ca.ca)))
    assert result.code == 0, result.out
    assert {t: m for t, (m, _) in result.steps.items()} == {
        "Настройки": "OK", "Ключ авторизации": "OK", "Прокси": "—", "DNS": "OK", "TCP": "OK",
        "TLS": "OK", "Авторизация (OAuth)": "OK", "Список моделей (/models)": "OK",
        "Пробный запрос (1 токен)": "OK"}, result.out
    assert "GigaChat Bridge test CA" in result.steps["TLS"][1]  # the root that verified it
    assert "все проверки пройдены" in result.out
    text = assert_saved_without(result, DEMO_KEY)
    assert "Пробный запрос" in text


def test_wrong_ca_fails_at_tls_and_names_the_presented_issuer(tls_emulator):
    result = diagnose(emulator_env(tls_emulator))
    assert result.code == 1, result.out
    assert result.failed_first() == "TLS"
    assert result.status("TCP") == "OK" and result.status("TLS") == "ОШИБКА"
    assert "GigaChat Bridge test CA" in result.steps["TLS"][1]
    assert "ca_bundle" in result.out and "GIGACHAT_CA_BUNDLE" in result.out
    assert "Авторизация (OAuth)" not in result.steps  # nothing after the first failure
    assert_saved_without(result, DEMO_KEY)


def test_wrong_key_fails_at_oauth(tls_emulator, tls_ca):
    wrong = make_key("someone-else", "not-registered")
    result = diagnose(emulator_env(tls_emulator, key=wrong, GIGACHAT_CA_BUNDLE=str(tls_ca.ca)))
    assert result.code == 1, result.out
    assert result.failed_first() == "Авторизация (OAuth)"
    assert result.status("TLS") == "OK"
    assert "ключ" in result.steps["Авторизация (OAuth)"][1].lower()
    assert_saved_without(result, wrong)


def test_closed_port_fails_at_tcp():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    base = f"https://127.0.0.1:{port}"
    result = diagnose({"GIGACHAT_AUTH_URL": base + "/api/v2/oauth",
                       "GIGACHAT_API_URL": base + "/api/v1", "GIGACHAT_CREDENTIALS": DEMO_KEY})
    assert result.code == 1, result.out
    assert result.failed_first() == "TCP"
    assert f"127.0.0.1:{port}" in result.steps["TCP"][1]
    assert "отклонено" in result.steps["TCP"][1]
    assert "Что сделать:" in result.out


def test_proxy_refusing_authentication_fails_at_the_proxy_step(tls_emulator):
    with ProxyServer("refuse", user="u", password="right") as proxy:
        password = "Wrong-Pa55"
        env = emulator_env(tls_emulator, GIGACHAT_PROXY=f"http://CORP%5Cu:{password}@127.0.0.1:"
                           f"{proxy.port}")
        env["GIGACHAT_AUTH_URL"] = env["GIGACHAT_AUTH_URL"].replace("127.0.0.1", "ngw.gigachat.test")
        env["GIGACHAT_API_URL"] = env["GIGACHAT_API_URL"].replace("127.0.0.1", "api.gigachat.test")
        result = diagnose(env)
        assert any(line.startswith("CONNECT ngw.gigachat.test") for line in proxy.lines)
    assert result.code == 1, result.out
    assert result.failed_first() == "Прокси"
    assert "не принял" in result.steps["Прокси"][1] and "Basic" in result.steps["Прокси"][1]
    assert result.steps["DNS"][0] == "—" if "DNS" in result.steps else True
    assert "proxy_auth" in result.out
    assert_saved_without(result, password, DEMO_KEY)


def test_healthy_through_an_ntlm_proxy_skips_dns_and_names_the_proxy(
        named_emulator, named_ca, tmp_path, monkeypatch):
    """The GigaChat names resolve only at the proxy: DNS is skipped, every other step passes."""
    users = tmp_path / "ntlm-users"
    users.write_text("CORP:ivanov:Secret-123\n", encoding="utf-8")
    monkeypatch.setenv("NTLM_USER_FILE", str(users))  # the acceptor runs in this process
    emu = named_emulator
    with proxy_for(emu, "ntlm") as proxy:
        result = diagnose({
            "GIGACHAT_AUTH_URL": emu.oauth_url.replace("127.0.0.1", OAUTH_HOST),
            "GIGACHAT_API_URL": emu.api_url.replace("127.0.0.1", API_HOST),
            "GIGACHAT_CA_BUNDLE": str(named_ca["ca.pem"]), "GIGACHAT_CREDENTIALS": DEMO_KEY,
            "GIGACHAT_PROXY": f"http://CORP%5Civanov:Secret-123@127.0.0.1:{proxy.port}",
            "GIGACHAT_PROXY_AUTH": "ntlm"})
        assert f"{OAUTH_HOST}:{emu.port}" in proxy.connects
    assert result.code == 0, result.out
    assert result.status("DNS") == "—" and "прокси" in result.steps["DNS"][1]
    assert result.status("Прокси") == "OK" and "NTLM" in result.steps["Прокси"][1]
    assert "через прокси" in result.steps["TCP"][1]
    assert_saved_without(result, "Secret-123", DEMO_KEY)


def test_a_broken_settings_file_and_a_missing_key_are_the_first_steps(isolated_env, tls_emulator):
    settings_file = isolated_env / "xdg_config_home" / "GigaChatBridge" / "settings.json"
    settings_file.parent.mkdir(parents=True, exist_ok=True)
    settings_file.write_text('{"port": "восемь тысяч"}', encoding="utf-8")
    broken = diagnose(emulator_env(tls_emulator))
    assert broken.code == 1 and broken.failed_first() == "Настройки", broken.out
    assert "port" in broken.steps["Настройки"][1]
    settings_file.unlink()
    env = emulator_env(tls_emulator, PYTHON_KEYRING_BACKEND="keyring.backends.null.Keyring")
    del env["GIGACHAT_CREDENTIALS"]
    no_key = diagnose(env)
    assert no_key.code == 1 and no_key.failed_first() == "Ключ авторизации", no_key.out
