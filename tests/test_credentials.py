"""Credentials: key format, environment, keyring errors, real Secret Service, .env import."""

from __future__ import annotations

import base64
import contextlib
import logging
import uuid

import keyring
import keyring.errors
import pytest
from keyring.backend import KeyringBackend
from keyring.backends import fail, null

from gigachat.core.credentials import (
    KEY_USER,
    KEYRING_SERVICE,
    CredentialStore,
    EnvImport,
    build_key,
    import_env_file,
    normalize_key,
)
from gigachat.core.errors import BridgeError, ConfigError, KeyringUnavailable, NoCredentials
from tests.conftest import SECRETS_SEEN, need

CLIENT_ID = "0f8fad5b-d9cb-469f-a165-70867728950e"
CLIENT_SECRET = "7c9e6679-7425-40de-944b-e07fc1f90ae7"
KEY = base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
OTHER_KEY = base64.b64encode(b"another-id:another-secret").decode()
SECRETS_SEEN.update({KEY, OTHER_KEY, CLIENT_SECRET})


class MemoryKeyring(KeyringBackend):
    """An in-process keyring backend."""

    priority = 1

    def __init__(self) -> None:
        super().__init__()
        self.entries: dict[tuple[str, str], str] = {}

    def get_password(self, service, username):
        return self.entries.get((service, username))

    def set_password(self, service, username, password):
        self.entries[(service, username)] = password

    def delete_password(self, service, username):
        if self.entries.pop((service, username), None) is None:
            raise keyring.errors.PasswordDeleteError("not found")


class RaisingKeyring(KeyringBackend):
    """A backend whose every call raises the given error."""

    priority = 1

    def __init__(self, error: Exception) -> None:
        super().__init__()
        self.error = error

    def get_password(self, service, username, *password):
        raise self.error

    set_password = delete_password = get_password


@pytest.fixture
def use_backend():
    """Install a keyring backend for one test; restore the previous one after."""
    previous = keyring.get_keyring()
    yield keyring.set_keyring
    keyring.set_keyring(previous)


@pytest.fixture
def memory(use_backend) -> MemoryKeyring:
    backend = MemoryKeyring()
    use_backend(backend)
    return backend


@pytest.fixture
def no_keyring_allowed(use_backend, monkeypatch):
    """A failing backend plus a tripwire on keyring.get_keyring."""
    use_backend(fail.Keyring())
    calls = []

    def tripwire():
        calls.append(1)
        raise AssertionError("the keyring must not be touched")

    monkeypatch.setattr(keyring, "get_keyring", tripwire)
    return calls


def is_russian(text: str) -> bool:
    return any("а" <= ch <= "я" for ch in text.lower())


# --- key format ----------------------------------------------------------------


def test_build_key_is_base64_of_id_and_secret():
    assert build_key(CLIENT_ID, CLIENT_SECRET) == KEY
    assert build_key(f' "{CLIENT_ID}" ', f"{CLIENT_SECRET}\n") == KEY


@pytest.mark.parametrize(
    "text", [KEY, f"  {KEY}\r\n", f'"{KEY}"', f"'{KEY}'", f"Basic {KEY}", f"basic  {KEY}"]
)
def test_normalize_key_accepts_cabinet_forms(text):
    assert normalize_key(text) == KEY


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        '""',
        "Basic ",
        KEY[:20] + " " + KEY[20:],
        KEY[:20] + "\n" + KEY[20:],
        "это не ключ",
        "not*base64!",
        base64.b64encode(b"no colon inside").decode(),
        "QUJD" * 400,
    ],
)
def test_normalize_key_rejects_malformed(text):
    with pytest.raises(BridgeError) as info:
        normalize_key(text)
    assert info.value.code == "malformed_key"
    assert is_russian(info.value.message)
    if text.strip():
        assert text.strip() not in info.value.message


def test_too_long_key_names_the_limit():
    long_key = base64.b64encode(b"id:" + b"s" * 1000).decode()
    assert len(long_key) > 1280
    with pytest.raises(BridgeError) as info:
        normalize_key(long_key)
    assert "1280" in info.value.message and long_key not in info.value.message


@pytest.mark.parametrize(("cid", "secret"), [("", "x"), ("id", ""), ("ваш_client_id", "s"), ("a:b", "s")])
def test_build_key_rejects_bad_parts(cid, secret):
    with pytest.raises(BridgeError) as info:
        build_key(cid, secret)
    assert info.value.code == "malformed_key"


# --- environment -------------------------------------------------------------


def test_env_credentials_never_touch_keyring(no_keyring_allowed):
    store = CredentialStore({"GIGACHAT_CREDENTIALS": f"Basic {KEY}"})
    assert store.get_key() == KEY
    assert store.source == "env"
    assert store.has_key()
    assert no_keyring_allowed == []


def test_env_client_id_and_secret_build_the_key(no_keyring_allowed):
    store = CredentialStore({"GIGACHAT_CLIENT_ID": CLIENT_ID, "GIGACHAT_CLIENT_SECRET": CLIENT_SECRET})
    assert store.get_key() == KEY
    assert store.source == "env"
    assert no_keyring_allowed == []


def test_env_credentials_win_over_id_and_secret(no_keyring_allowed):
    environ = {
        "GIGACHAT_CREDENTIALS": OTHER_KEY,
        "GIGACHAT_CLIENT_ID": CLIENT_ID,
        "GIGACHAT_CLIENT_SECRET": CLIENT_SECRET,
    }
    assert CredentialStore(environ).get_key() == OTHER_KEY


def test_env_with_only_client_id_is_a_clear_error(no_keyring_allowed):
    with pytest.raises(ConfigError) as info:
        CredentialStore({"GIGACHAT_CLIENT_ID": CLIENT_ID}).get_key()
    assert "GIGACHAT_CLIENT_SECRET" in info.value.message
    assert no_keyring_allowed == []


def test_malformed_env_key_names_the_variable_not_the_value(no_keyring_allowed):
    with pytest.raises(BridgeError) as info:
        CredentialStore({"GIGACHAT_CREDENTIALS": "bm90LWEta2V5"}).get_key()
    assert info.value.code == "malformed_key"
    assert "GIGACHAT_CREDENTIALS" in info.value.message
    assert "bm90LWEta2V5" not in info.value.message


def test_default_environ_is_os_environ(monkeypatch, no_keyring_allowed):
    monkeypatch.setenv("GIGACHAT_CREDENTIALS", KEY)
    assert CredentialStore().get_key() == KEY


# --- keyring backends ----------------------------------------------------------


def test_memory_backend_save_get_delete(memory):
    store = CredentialStore({})
    assert store.get_key() is None and store.source is None and not store.has_key()
    store.save_key(f"Basic {KEY}\n")
    assert memory.entries == {(KEYRING_SERVICE, KEY_USER): KEY}
    assert store.get_key() == KEY and store.source == "keyring" and store.has_key()
    store.delete_key()
    assert store.get_key() is None
    store.delete_key()  # deleting a missing key is fine


def test_save_rejects_malformed_key_and_stores_nothing(memory):
    with pytest.raises(BridgeError):
        CredentialStore({}).save_key("это не ключ")
    assert memory.entries == {}


def test_custom_service_name(memory):
    CredentialStore({}, service="GigaChatBridge-other").save_key(KEY)
    assert list(memory.entries) == [("GigaChatBridge-other", KEY_USER)]


@pytest.mark.parametrize("backend", [fail.Keyring, null.Keyring])
@pytest.mark.parametrize("action", ["get_key", "save_key", "delete_key", "has_key"])
def test_no_keyring_backend_is_keyring_unavailable(use_backend, backend, action):
    use_backend(backend())
    store = CredentialStore({})
    with pytest.raises(KeyringUnavailable) as info:
        getattr(store, action)(*([KEY] if action == "save_key" else []))
    message = info.value.message
    assert info.value.code == "keyring_unavailable"
    assert "хранилище паролей недоступно" in message and "GIGACHAT_CREDENTIALS" in message
    assert "gnome-keyring" in message or "Windows" in message or "macOS" in message
    assert KEY not in message


def test_no_keyring_error_raised_by_a_backend(use_backend):
    use_backend(RaisingKeyring(keyring.errors.NoKeyringError("no backend")))
    with pytest.raises(KeyringUnavailable) as info:
        CredentialStore({}).get_key()
    assert info.value.code == "keyring_unavailable"


@pytest.mark.parametrize(
    "error",
    [
        keyring.errors.InitError("Failed to create the collection: Prompt dismissed."),
        keyring.errors.KeyringLocked("Failed to unlock the collection!"),
    ],
)
def test_locked_keyring_says_unlock(use_backend, error):
    use_backend(RaisingKeyring(error))
    for call in (lambda s: s.get_key(), lambda s: s.save_key(KEY), lambda s: s.delete_key()):
        with pytest.raises(KeyringUnavailable) as info:
            call(CredentialStore({}))
        assert info.value.code == "keyring_locked"
        assert "Разблокируйте" in info.value.message and "gnome-keyring-daemon --unlock" in info.value.message
        assert KEY not in info.value.message


def test_other_keyring_error_is_generic(use_backend):
    use_backend(RaisingKeyring(keyring.errors.PasswordSetError("boom")))
    with pytest.raises(KeyringUnavailable) as info:
        CredentialStore({}).save_key(KEY)
    assert info.value.code == "keyring_error"
    assert is_russian(info.value.message) and KEY not in info.value.message


def test_key_never_logged(memory, caplog, tmp_path):
    caplog.set_level(logging.DEBUG)
    store = CredentialStore({})
    store.save_key(KEY)
    store.get_key()
    store.delete_key()
    env = tmp_path / ".env"
    env.write_text(f"GIGACHAT_CREDENTIALS={OTHER_KEY}\n", encoding="utf-8")
    store.import_env_file(env)
    assert caplog.records  # something was logged ...
    for secret in (KEY, OTHER_KEY, CLIENT_SECRET):
        assert secret not in caplog.text  # ... but never a key


# --- the real Secret Service ------------------------------------------------------


def secret_service_backend():
    """A working Secret Service keyring backend, or None."""
    try:
        from keyring.backends import SecretService

        SecretService.Keyring.priority  # noqa: B018 - raises without a Secret Service on the bus
        backend = SecretService.Keyring()
        backend.get_password("GigaChatBridge-test-probe", KEY_USER)  # raises when locked
        return backend
    except Exception:
        return None


@pytest.mark.keyring
def test_real_secret_service_round_trip(use_backend):
    backend = secret_service_backend()
    need(backend is not None, "Secret Service keyring (run under scripts/with-keyring.sh)")
    use_backend(backend)
    service = f"GigaChatBridge-test-{uuid.uuid4()}"  # never the real user's entry
    store = CredentialStore({}, service=service)
    try:
        assert store.get_key() is None
        store.save_key(KEY)
        assert backend.get_password(service, KEY_USER) == KEY
        assert CredentialStore({}, service=service).get_key() == KEY
        assert store.source == "keyring"
        store.delete_key()
        assert store.get_key() is None
        store.delete_key()  # missing is fine on the real backend too
    finally:
        with contextlib.suppress(keyring.errors.PasswordDeleteError):
            backend.delete_password(service, KEY_USER)


# --- .env import -----------------------------------------------------------------

TUTORIAL_ENV = f"""# GigaChat API credentials
GIGACHAT_CLIENT_ID={CLIENT_ID}
GIGACHAT_CLIENT_SECRET={CLIENT_SECRET}
GIGACHAT_SCOPE=GIGACHAT_API_PERS
GIGACHAT_AUTH_URL=https://ngw.devices.sberbank.ru:9443/api/v2/oauth
GIGACHAT_API_URL=https://gigachat.devices.sberbank.ru/api/v1

# Сервер
API_HOST=0.0.0.0
API_PORT=8000
"""

TUTORIAL_OVERRIDES = {
    "scope": "GIGACHAT_API_PERS",
    "auth_url": "https://ngw.devices.sberbank.ru:9443/api/v2/oauth",
    "api_url": "https://gigachat.devices.sberbank.ru/api/v1",
    "host": "0.0.0.0",
    "port": 8000,
}


def check_report(result: EnvImport, env) -> None:
    assert isinstance(result, EnvImport) and str(result) == result.message
    assert str(env) in result.message
    assert "открытым текстом" in result.message and "удалите" in result.message
    for secret in (KEY, OTHER_KEY, CLIENT_SECRET, CLIENT_ID):
        assert secret not in result.message


@pytest.mark.parametrize(
    "encode",
    [
        lambda text: text.encode("utf-8"),
        lambda text: ("\ufeff" + text.replace("\n", "\r\n")).encode("utf-8"),  # Notepad: BOM + CRLF
    ],
    ids=["plain", "bom-crlf"],
)
def test_import_tutorial_env(memory, tmp_path, encode):
    env = tmp_path / ".env"
    env.write_bytes(encode(TUTORIAL_ENV))
    before = env.read_bytes()
    result = import_env_file(env, CredentialStore({}))
    assert memory.entries == {(KEYRING_SERVICE, KEY_USER): KEY}
    assert result.settings_overrides == TUTORIAL_OVERRIDES
    check_report(result, env)
    assert "GIGACHAT_CLIENT_ID" in result.message and "GIGACHAT_CLIENT_SECRET" in result.message
    assert env.read_bytes() == before  # the file is not modified


def test_import_credentials_line_with_export_and_quotes(memory, tmp_path):
    env = tmp_path / "gigachat.env"
    env.write_text(
        f"export GIGACHAT_CREDENTIALS=\"{OTHER_KEY}\"  # from the cabinet\nAPI_PORT='8010'\n",
        encoding="utf-8",
    )
    result = CredentialStore({}).import_env_file(env)
    assert memory.entries[(KEYRING_SERVICE, KEY_USER)] == OTHER_KEY
    assert result.settings_overrides == {"port": 8010}
    check_report(result, env)


def test_import_rejects_tutorial_placeholders(memory, tmp_path):
    env = tmp_path / ".env"
    env.write_text(
        TUTORIAL_ENV.replace(CLIENT_ID, "ваш_client_id").replace(CLIENT_SECRET, "ваш_client_secret"),
        encoding="utf-8",
    )
    with pytest.raises(NoCredentials) as info:
        import_env_file(env, CredentialStore({}))
    assert info.value.code == "placeholder_key"
    assert str(env) in info.value.message and "настоящего ключа" in info.value.message
    assert memory.entries == {}


def test_import_file_without_key(memory, tmp_path):
    env = tmp_path / ".env"
    env.write_text("API_PORT=8000\n", encoding="utf-8")
    with pytest.raises(NoCredentials) as info:
        import_env_file(env, CredentialStore({}))
    assert "GIGACHAT_CREDENTIALS" in info.value.message and str(env) in info.value.message
    assert memory.entries == {}


def test_import_bad_setting_names_line_and_saves_nothing(memory, tmp_path):
    env = tmp_path / ".env"
    env.write_text(TUTORIAL_ENV.replace("API_PORT=8000", "API_PORT=80000"), encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        import_env_file(env, CredentialStore({}))
    assert 'API_PORT="80000"' in info.value.message and str(env) in info.value.message
    assert memory.entries == {}


def test_import_missing_file(memory, tmp_path):
    with pytest.raises(ConfigError) as info:
        import_env_file(tmp_path / "absent.env", CredentialStore({}))
    assert "не найден" in info.value.message


def test_import_without_keyring_is_keyring_unavailable(use_backend, tmp_path):
    use_backend(fail.Keyring())
    env = tmp_path / ".env"
    env.write_text(TUTORIAL_ENV, encoding="utf-8")
    with pytest.raises(KeyringUnavailable):
        import_env_file(env, CredentialStore({}))
