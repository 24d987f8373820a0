"""Settings: defaults, config file, environment overrides and validation messages."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from gigachat.core.errors import ConfigError
from gigachat.core.settings import (
    SCOPES,
    Settings,
    config_path,
    load_settings,
    save_settings,
    validate,
)

PEM_HEADER = "-----BEGIN CERTIFICATE-----"


def load_error(environ=None, path=None) -> str:
    """The ConfigError message load_settings raises (fails the test if none)."""
    with pytest.raises(ConfigError) as info:
        load_settings(environ or {}, path=path)
    message = info.value.message
    assert "Traceback" not in message and "\n" not in message
    return message


def write_config(tmp_path: Path, data) -> Path:
    path = tmp_path / "settings.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def test_defaults():
    s = load_settings({})
    assert (s.host, s.port, s.scope, s.model) == ("127.0.0.1", 8000, "GIGACHAT_API_PERS", "GigaChat-2")
    assert s.auth_url == "https://ngw.devices.sberbank.ru:9443/api/v2/oauth"
    assert s.api_url == "https://api.giga.chat/v1"
    assert (s.request_timeout, s.refresh_margin) == (110.0, 300.0)
    assert (s.ca_bundle, s.verify_tls, s.max_concurrency) == ("", True, None)
    assert s.allowed_origins == [] and not s.api_key_enabled and not s.allow_remote
    assert (s.max_body_bytes, s.log_bodies, s.server_threads) == (2 * 1024 * 1024, False, 64)
    assert s == Settings()
    assert SCOPES == ("GIGACHAT_API_PERS", "GIGACHAT_API_B2B", "GIGACHAT_API_CORP")


def test_config_path_follows_xdg_config_home(isolated_env):
    expected = Path(os.environ["XDG_CONFIG_HOME"]) / "GigaChatBridge" / "settings.json"
    assert config_path() == expected


def test_round_trip_through_default_path():
    changed = Settings().with_changes(
        port=8123,
        scope="GIGACHAT_API_CORP",
        model="GigaChat-2-Max",
        request_timeout=60.5,
        max_concurrency=3,
        allowed_origins=["http://localhost:8080"],
        log_bodies=True,
        host="Сервер-1С",  # non-ASCII survives as UTF-8
    )
    save_settings(changed)
    assert config_path().is_file()
    assert "Сервер-1С" in config_path().read_text(encoding="utf-8")
    assert load_settings({}) == changed
    assert [p.name for p in config_path().parent.iterdir()] == ["settings.json"]  # no temp left


def test_with_changes_returns_a_copy():
    base = Settings()
    changed = base.with_changes(port=9000)
    assert (base.port, changed.port) == (8000, 9000)


def test_missing_file_gives_defaults(tmp_path):
    assert load_settings({}, path=tmp_path / "absent.json") == Settings()


def test_file_values_and_unknown_keys(tmp_path):
    path = write_config(tmp_path, {"port": 9001, "request_timeout": 30, "future_option": {"x": 1}})
    s = load_settings({}, path=path)
    assert s.port == 9001
    assert s.request_timeout == 30.0 and isinstance(s.request_timeout, float)


@pytest.mark.parametrize(
    ("env_name", "text", "field", "value"),
    [
        ("GIGACHAT_SCOPE", "GIGACHAT_API_B2B", "scope", "GIGACHAT_API_B2B"),
        ("GIGACHAT_AUTH_URL", "http://127.0.0.1:9443/api/v2/oauth", "auth_url", None),
        ("GIGACHAT_API_URL", "https://gigachat.devices.sberbank.ru/api/v1", "api_url", None),
        ("API_HOST", "0.0.0.0", "host", "0.0.0.0"),
        ("API_PORT", "8080", "port", 8080),
        ("GIGACHAT_MODEL", "GigaChat-2-Pro", "model", "GigaChat-2-Pro"),
        ("GIGACHAT_VERIFY_SSL", "false", "verify_tls", False),
        ("GIGACHAT_VERIFY_SSL", "No", "verify_tls", False),
        ("GIGACHAT_VERIFY_SSL", "1", "verify_tls", True),
        ("GIGACHAT_MAX_CONCURRENCY", "4", "max_concurrency", 4),
        ("GIGACHAT_TIMEOUT", "45.5", "request_timeout", 45.5),
    ],
)
def test_environment_overrides(tmp_path, env_name, text, field, value):
    path = write_config(tmp_path, {"port": 9001, "scope": "GIGACHAT_API_CORP", "verify_tls": True})
    s = load_settings({env_name: text}, path=path)
    assert getattr(s, field) == (text if value is None else value)


def test_environment_ca_bundle(tmp_path, tls_ca):
    s = load_settings({"GIGACHAT_CA_BUNDLE": str(tls_ca.ca)}, path=tmp_path / "none.json")
    assert s.ca_bundle == str(tls_ca.ca)


def test_empty_environment_value_means_unset(tmp_path):
    path = write_config(tmp_path, {"port": 9001})
    assert load_settings({"API_PORT": "  "}, path=path).port == 9001


@pytest.mark.parametrize(
    ("env_name", "text"),
    [
        ("API_PORT", "99999"),
        ("API_PORT", "0"),
        ("API_PORT", "восемь тысяч"),
        ("GIGACHAT_SCOPE", "GIGACHAT_API_PERSONAL"),
        ("GIGACHAT_AUTH_URL", "ngw.devices.sberbank.ru:9443/api/v2/oauth"),
        ("GIGACHAT_API_URL", "ftp://api.giga.chat/v1"),
        ("GIGACHAT_API_URL", "https:///v1"),
        ("GIGACHAT_API_URL", "https://api.giga.chat:70000/v1"),
        ("GIGACHAT_TIMEOUT", "0"),
        ("GIGACHAT_TIMEOUT", "-5"),
        ("GIGACHAT_TIMEOUT", "nan"),
        ("GIGACHAT_TIMEOUT", "долго"),
        ("GIGACHAT_MAX_CONCURRENCY", "0"),
        ("GIGACHAT_MAX_CONCURRENCY", "2.5"),
        ("GIGACHAT_VERIFY_SSL", "maybe"),
    ],
)
def test_bad_environment_value_names_the_variable(env_name, text):
    message = load_error({env_name: text})
    assert message.startswith(f'Неверное значение {env_name}="{text}"')
    assert f"Исправьте переменную окружения {env_name}." in message


def test_port_message_matches_the_example():
    assert load_error({"API_PORT": "99999"}) == (
        'Неверное значение API_PORT="99999": порт должен быть числом от 1 до 65535. '
        "Исправьте переменную окружения API_PORT."
    )


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("port", "8000"),
        ("port", 70000),
        ("port", True),
        ("host", ""),
        ("host", None),
        ("scope", "PERS"),
        ("api_url", "not a url"),
        ("request_timeout", 0),
        ("request_timeout", "110"),
        ("verify_tls", "yes"),
        ("max_concurrency", 0),
        ("allowed_origins", "http://localhost"),
        ("server_threads", 0),
    ],
)
def test_bad_file_value_names_key_and_file(tmp_path, key, value):
    path = write_config(tmp_path, {key: value})
    message = load_error(path=path)
    assert f'"{key}"' in message and str(path) in message
    assert "удалите эту строку" in message


def test_corrupt_json_names_file_and_fix(tmp_path):
    path = tmp_path / "settings.json"
    path.write_text('{"port": 8000,', encoding="utf-8")
    message = load_error(path=path)
    assert str(path) in message and "повреждён" in message and "удалите" in message


def test_json_that_is_not_an_object(tmp_path):
    message = load_error(path=write_config(tmp_path, [1, 2, 3]))
    assert "повреждён" in message


def test_ca_bundle_missing_file(tmp_path):
    missing = tmp_path / "nope.pem"
    message = load_error({"GIGACHAT_CA_BUNDLE": str(missing)})
    assert "GIGACHAT_CA_BUNDLE" in message and "не найден" in message


def test_ca_bundle_directory_is_not_a_file(tmp_path):
    message = load_error({"GIGACHAT_CA_BUNDLE": str(tmp_path)})
    assert "GIGACHAT_CA_BUNDLE" in message and "это не файл" in message


def test_ca_bundle_not_pem(tmp_path):
    bad = tmp_path / "ca.cer"
    bad.write_bytes(b"\x30\x82\x05\x00 DER bytes are not PEM")
    message = load_error({"GIGACHAT_CA_BUNDLE": str(bad)})
    assert "GIGACHAT_CA_BUNDLE" in message and "PEM" in message


def test_ca_bundle_corrupt_pem(tmp_path):
    bad = tmp_path / "ca.pem"
    bad.write_text(f"{PEM_HEADER}\nnot base64 at all\n-----END CERTIFICATE-----\n")
    message = load_error({"GIGACHAT_CA_BUNDLE": str(bad)})
    assert "GIGACHAT_CA_BUNDLE" in message and "повреждены" in message


def test_ca_bundle_unreadable(tmp_path, tls_ca, monkeypatch):
    locked = tmp_path / "ca.pem"
    locked.write_bytes(Path(tls_ca.ca).read_bytes())
    real_read = Path.read_bytes

    def read_bytes(self):
        if self == locked:
            raise PermissionError(13, "Permission denied")  # what a chmod 0 file gives non-root
        return real_read(self)

    monkeypatch.setattr(Path, "read_bytes", read_bytes)
    message = load_error({"GIGACHAT_CA_BUNDLE": str(locked)})
    assert "GIGACHAT_CA_BUNDLE" in message and "не удалось прочитать" in message


def test_ca_bundle_from_file_names_key(tmp_path):
    path = write_config(tmp_path, {"ca_bundle": str(tmp_path / "nope.pem")})
    message = load_error(path=path)
    assert '"ca_bundle"' in message and str(path) in message


@pytest.mark.parametrize(
    ("scope", "expected"),
    [("GIGACHAT_API_PERS", 1), ("GIGACHAT_API_B2B", 10), ("GIGACHAT_API_CORP", 10)],
)
def test_concurrency_defaults_per_scope(scope, expected):
    assert Settings(scope=scope).effective_concurrency == expected
    assert Settings(scope=scope, max_concurrency=3).effective_concurrency == 3


def test_validate_programmatic_values():
    validate(Settings())
    with pytest.raises(ConfigError) as info:
        validate(Settings(port=0))
    assert "port" in info.value.message


def test_save_refuses_invalid_settings(tmp_path):
    with pytest.raises(ConfigError):
        save_settings(Settings(scope="nope"), tmp_path / "s.json")
    assert not (tmp_path / "s.json").exists()


def test_save_creates_directory_and_writes_no_secret_fields(tmp_path):
    path = tmp_path / "deep" / "dir" / "settings.json"
    save_settings(Settings(), path)
    data = json.loads(path.read_text(encoding="utf-8"))
    assert set(data) == {f for f in Settings.__dataclass_fields__}
    for name in data:
        assert not name.endswith(("key", "secret", "token", "credentials", "password"))
