"""The GigaChat authorization key: OS keyring (or environment), checks, and .env import."""

from __future__ import annotations

import base64
import binascii
import contextlib
import logging
import os
import secrets
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import keyring
import keyring.errors
from keyring.backends import chainer, fail, null

from gigachat import APP_NAME
from gigachat.core.errors import BridgeError, ConfigError, KeyringUnavailable, NoCredentials
from gigachat.core.keyring_backend import get_backend
from gigachat.core.settings import ENV_LOCAL_API_KEY, ENV_VARS, env_overrides

log = logging.getLogger(__name__)

KEYRING_SERVICE = APP_NAME
KEY_USER = "authorization_key"
LOCAL_API_KEY_USER = "local_api_key"
PROXY_USER_PREFIX = "proxy:"  # + the proxy user name: that user's proxy password
MAX_KEY_LENGTH = 1280  # Windows Credential Manager refuses longer secrets

ENV_KEY = "GIGACHAT_CREDENTIALS"
ENV_ID = "GIGACHAT_CLIENT_ID"
ENV_SECRET = "GIGACHAT_CLIENT_SECRET"
_SECRET_VARS = (ENV_KEY, ENV_ID, ENV_SECRET)

_KEY_HELP = (
    "Скопируйте ключ авторизации (Authorization key) из личного кабинета developers.sber.ru "
    "целиком — это одна длинная строка без пробелов, обычно с «==» на конце — или укажите "
    "Client ID и Client Secret."
)
_PLACEHOLDER_STARTS = ("ваш", "your", "<", "xxx", "changeme", "...")


def _malformed(reason: str, where: str = "") -> BridgeError:
    place = f" ({where})" if where else ""
    return BridgeError(
        f"Ключ авторизации ГигаЧат{place} записан неверно: {reason}. {_KEY_HELP}",
        code="malformed_key",
    )


def build_key(client_id: str, client_secret: str) -> str:
    """The authorization key from a client id and secret: base64 of "id:secret"."""
    client_id, client_secret = _unquote(client_id), _unquote(client_secret)
    if not client_id or not client_secret:
        raise _malformed("Client ID и Client Secret не должны быть пустыми")
    if ":" in client_id:
        raise _malformed("Client ID не может содержать двоеточие")
    if not (client_id + client_secret).isascii():
        raise _malformed("Client ID и Client Secret должны состоять из латинских букв и цифр")
    return normalize_key(base64.b64encode(f"{client_id}:{client_secret}".encode()).decode())


def normalize_key(text: str, where: str = "") -> str:
    """Strip spaces, quotes and "Basic "; check it is base64 of "id:secret"."""
    key = _unquote(text)
    if key[:6].lower() == "basic ":
        key = key[6:].strip()
    if not key:
        raise _malformed("ключ пустой", where)
    if len(key) > MAX_KEY_LENGTH:
        raise _malformed(
            f"ключ слишком длинный ({len(key)} символов, допустимо не более {MAX_KEY_LENGTH}) — "
            "похоже, скопирован не тот текст",
            where,
        )
    if any(ch.isspace() for ch in key):
        raise _malformed("внутри ключа есть пробелы или переносы строк", where)
    try:
        decoded = base64.b64decode(key, validate=True)
    except (binascii.Error, ValueError):
        raise _malformed("в нём есть символы, которых в ключе не бывает (похоже, скопирован "
                         "лишний текст или не весь ключ)", where) from None
    if b":" not in decoded:
        raise _malformed("ключ не похож на ключ из личного кабинета", where)
    return key


def _unquote(text: str) -> str:
    text = text.strip()
    while len(text) >= 2 and text[0] == text[-1] and text[0] in "\"'":
        text = text[1:-1].strip()
    return text


def _is_placeholder(value: str) -> bool:
    value = _unquote(value).lower()
    return not value.isascii() or value.startswith(_PLACEHOLDER_STARTS)


# --- keyring errors ----------------------------------------------------------


def _no_keyring_message() -> str:
    if sys.platform == "win32":
        how = (
            "Диспетчер учётных данных встроен в Windows: запустите программу под обычной "
            "учётной записью пользователя (с загруженным профилем)"
        )
    elif sys.platform == "darwin":
        how = "Проверьте, что связка ключей macOS (Keychain) доступна в вашем сеансе"
    else:
        how = (
            "Установите и запустите gnome-keyring или KeePassXC с включённой интеграцией "
            "Secret Service; нужен работающий сеанс D-Bus (сеанс рабочего стола)"
        )
    return (
        f"Системное хранилище паролей недоступно. {how}. На сервере без рабочего стола "
        f"задайте ключ переменной окружения {ENV_KEY}."
    )


_LOCKED_MESSAGE = (
    "Системное хранилище паролей заблокировано (или запрос на разблокировку был отклонён). "
    "Разблокируйте его: войдите в сеанс рабочего стола или выполните "
    "«gnome-keyring-daemon --unlock», затем повторите попытку."
)


def _translate(exc: keyring.errors.KeyringError) -> KeyringUnavailable:
    """A keyring exception as a KeyringUnavailable with a Russian message."""
    if isinstance(exc, keyring.errors.NoKeyringError):
        return KeyringUnavailable(_no_keyring_message(), code="keyring_unavailable")
    if isinstance(exc, keyring.errors.InitError | keyring.errors.KeyringLocked):
        return KeyringUnavailable(_LOCKED_MESSAGE, code="keyring_locked")
    return KeyringUnavailable(
        f"Ошибка системного хранилища паролей ({exc.__class__.__name__}). Проверьте, что "
        "хранилище работает и разблокировано, и повторите попытку.",
        code="keyring_error",
    )


@contextmanager
def _keyring_errors() -> Iterator[None]:
    try:
        yield
    except keyring.errors.KeyringError as exc:
        log.warning("keyring error: %s", exc.__class__.__name__)
        raise _translate(exc) from exc


# --- the store ---------------------------------------------------------------


class CredentialStore:
    """Where the authorization key lives: the environment (read-only) or the OS keyring."""

    def __init__(self, environ: Mapping[str, str] = os.environ, service: str = KEYRING_SERVICE):
        self._environ = environ
        self.service = service

    def _env_key(self) -> str | None:
        """The key from the environment, or None when the environment holds none."""
        env = {name: (self._environ.get(name) or "").strip() for name in _SECRET_VARS}
        if env[ENV_KEY]:
            return normalize_key(env[ENV_KEY], f"переменная окружения {ENV_KEY}")
        if env[ENV_ID] and env[ENV_SECRET]:
            return build_key(env[ENV_ID], env[ENV_SECRET])
        if env[ENV_ID] or env[ENV_SECRET]:
            given, missing = (ENV_ID, ENV_SECRET) if env[ENV_ID] else (ENV_SECRET, ENV_ID)
            raise ConfigError(
                f"Задана переменная окружения {given}, но не задана {missing}. Задайте обе "
                f"или одну переменную {ENV_KEY} с ключом авторизации.",
                code="partial_credentials",
            )
        return None

    def _backend(self) -> keyring.backend.KeyringBackend:
        """The OS keyring backend, or KeyringUnavailable when there is none."""
        with _keyring_errors():
            backend = get_backend()  # one probe, under a lock: see keyring_backend
        empty_chain = isinstance(backend, chainer.ChainerBackend) and not backend.backends
        if isinstance(backend, fail.Keyring | null.Keyring) or empty_chain:
            log.warning("no usable keyring backend: %s", type(backend).__name__)
            raise KeyringUnavailable(_no_keyring_message(), code="keyring_unavailable")
        return backend

    def get_key(self) -> str | None:
        """The key: environment first (never touching the keyring), else the keyring."""
        key = self._env_key()
        if key is not None:
            return key
        backend = self._backend()
        with _keyring_errors():
            stored = backend.get_password(self.service, KEY_USER)
        return normalize_key(stored, "системное хранилище паролей") if stored else None

    @property
    def source(self) -> str | None:
        """Where the key comes from: "env", "keyring" or None (no key anywhere)."""
        if self._env_key() is not None:
            return "env"
        return "keyring" if self.get_key() is not None else None

    def has_key(self) -> bool:
        """Whether a key is available from the environment or the keyring."""
        return self.get_key() is not None

    def save_key(self, key: str) -> None:
        """Check the key and store it in the OS keyring."""
        key = normalize_key(key)
        backend = self._backend()
        with _keyring_errors():
            backend.set_password(self.service, KEY_USER, key)
        log.info("authorization key saved to %s", type(backend).__name__)

    def delete_key(self) -> None:
        """Remove the key from the OS keyring (a missing key is fine)."""
        backend = self._backend()
        with _keyring_errors():
            try:
                backend.delete_password(self.service, KEY_USER)
            except keyring.errors.PasswordDeleteError:
                log.info("no authorization key to remove")
                return
        log.info("authorization key removed from %s", type(backend).__name__)

    def import_env_file(self, path: str | os.PathLike[str]) -> EnvImport:
        """Move the key of a tutorial-style .env file into the keyring."""
        return import_env_file(path, self)

    @property
    def local_api_key_forced(self) -> bool:
        """GIGACHAT_BRIDGE_API_KEY is set: the local key check must be on, whatever the file says."""
        return bool((self._environ.get(ENV_LOCAL_API_KEY) or "").strip())

    def local_api_key(self, create: bool = False) -> str | None:
        """The bridge's own API key (for shared terminal servers); optionally generate it."""
        from_env = (self._environ.get(ENV_LOCAL_API_KEY) or "").strip()
        if from_env:
            return from_env
        backend = self._backend()
        with _keyring_errors():
            stored = backend.get_password(self.service, LOCAL_API_KEY_USER)
            if stored or not create:
                return stored or None
            stored = secrets.token_urlsafe(32)
            backend.set_password(self.service, LOCAL_API_KEY_USER, stored)
        log.info("a new local API key was generated and saved to the keyring")
        return stored

    def delete_local_api_key(self) -> None:
        backend = self._backend()
        with _keyring_errors(), contextlib.suppress(keyring.errors.PasswordDeleteError):
            backend.delete_password(self.service, LOCAL_API_KEY_USER)

    def proxy_password(self, user: str) -> str | None:
        """The stored password of proxy user `user` (e.g. "DOMAIN\\ivanov"), or None."""
        backend = self._backend()
        with _keyring_errors():
            return backend.get_password(self.service, PROXY_USER_PREFIX + user) or None

    def save_proxy_password(self, user: str, password: str | None) -> None:
        """Store (or with None, remove) the proxy password of `user` in the OS keyring."""
        backend = self._backend()
        with _keyring_errors():
            if password:
                backend.set_password(self.service, PROXY_USER_PREFIX + user, password)
            else:
                with contextlib.suppress(keyring.errors.PasswordDeleteError):
                    backend.delete_password(self.service, PROXY_USER_PREFIX + user)


# --- .env import -------------------------------------------------------------


@dataclass
class EnvImport:
    """Result of a .env import: a Russian report and the non-secret settings found."""

    message: str
    settings_overrides: dict[str, Any] = field(default_factory=dict)

    def __str__(self) -> str:
        return self.message


def parse_env_text(text: str) -> dict[str, str]:
    """KEY=VALUE lines with comments, quotes, `export ` and CRLF; later lines win."""
    values: dict[str, str] = {}
    for raw in text.lstrip("\ufeff").splitlines():
        line = raw.strip()
        if line.startswith("export "):
            line = line[len("export ") :].strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        name, value = (part.strip() for part in line.split("=", 1))
        if value[:1] in ("'", '"') and value[0] in value[1:]:
            value = value[1 : value.index(value[0], 1)]
        elif " #" in value:
            value = value.split(" #", 1)[0].rstrip()
        values[name] = value
    return values


def _read_env_file(path: Path) -> dict[str, str]:
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(f"Файл {path} не найден.", code="env_not_found") from None
    except OSError as exc:
        raise ConfigError(
            f"Не удалось прочитать файл {path} ({exc.__class__.__name__}). Проверьте права доступа.",
            code="env_unreadable",
        ) from None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = data.decode("cp1251", errors="replace")  # Notepad on a Russian Windows
    return parse_env_text(text)


def _key_from_env_file(values: Mapping[str, str], path: Path) -> str:
    """The key in a parsed .env file (placeholders and a missing key are errors)."""
    where = f"файл {path}"
    for names in ((ENV_KEY,), (ENV_ID, ENV_SECRET)):
        found = [values.get(name, "").strip() for name in names]
        if not all(found):
            continue
        if any(_is_placeholder(value) for value in found):
            raise NoCredentials(
                f"В файле {path} вместо ключа стоят заготовки из инструкции "
                f"(строки {', '.join(names)}): настоящего ключа там нет. Впишите данные из "
                "личного кабинета developers.sber.ru или введите ключ в окне «Ключ авторизации…».",
                code="placeholder_key",
            )
        if names == (ENV_KEY,):
            return normalize_key(found[0], where)
        return build_key(*found)
    raise NoCredentials(
        f"В файле {path} нет ключа ГигаЧат: ожидалась строка {ENV_KEY}=... или строки "
        f"{ENV_ID}=... и {ENV_SECRET}=...",
        code="no_credentials",
    )


def import_env_file(path: str | os.PathLike[str], store: CredentialStore | None = None) -> EnvImport:
    """Move the key from a tutorial .env file into the keyring; the file is left untouched."""
    path = Path(path).expanduser().resolve()
    values = _read_env_file(path)
    key = _key_from_env_file(values, path)
    overrides = env_overrides(values, file=path)  # checked before anything is saved
    (store or CredentialStore()).save_key(key)
    log.info("authorization key imported from %s", path)
    secret_lines = [name for name in _SECRET_VARS if values.get(name)]
    found = [name for name in ENV_VARS if ENV_VARS[name] in overrides]
    message = (
        f"Ключ авторизации из файла {path} перенесён в системное хранилище паролей. "
        f"Внимание: в файле {path} секрет по-прежнему записан открытым текстом — удалите этот "
        f"файл или строки {', '.join(secret_lines)} из него."
    )
    if found:
        message += f" Из файла также взяты настройки: {', '.join(found)}."
    return EnvImport(message, overrides)
