"""Settings: defaults <- JSON config file <- environment, validated with Russian messages."""

from __future__ import annotations

import dataclasses
import json
import logging
import math
import os
import re
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from platformdirs import user_config_dir

from gigachat import APP_NAME
from gigachat.core import settings_rules as office
from gigachat.core.errors import ConfigError
from gigachat.core.policy import load_policy
from gigachat.core.proxy import url_has_password

log = logging.getLogger(__name__)

APP_DIR_NAME = APP_NAME
SCOPES = ("GIGACHAT_API_PERS", "GIGACHAT_API_B2B", "GIGACHAT_API_CORP")
DEFAULT_MODEL = "GigaChat-2"  # served on both hosts; the tutorial's "GigaChat" is not on api.giga.chat
DEFAULT_FILES_MODEL = "GigaChat-2-Max"  # reads images and documents (facts doc, «Files»)
DEFAULT_SERVER_THREADS = 64  # the one default for the local HTTP server's worker threads
# The bridge's own API key (credentials.py reads it); setting it turns the key check on.
ENV_LOCAL_API_KEY = "GIGACHAT_BRIDGE_API_KEY"

# Environment variable -> Settings field (names follow the tutorial's .env).
ENV_VARS = {
    "GIGACHAT_SCOPE": "scope",
    "GIGACHAT_AUTH_URL": "auth_url",
    "GIGACHAT_API_URL": "api_url",
    "API_HOST": "host",
    "API_PORT": "port",
    "GIGACHAT_CA_BUNDLE": "ca_bundle",
    "GIGACHAT_MODEL": "model",
    "GIGACHAT_VERIFY_SSL": "verify_tls",
    "GIGACHAT_MAX_CONCURRENCY": "max_concurrency",
    "GIGACHAT_TIMEOUT": "request_timeout",
    "GIGACHAT_JOBS_RETENTION_DAYS": "jobs_retention_days",
    "GIGACHAT_MASK_PERSONAL_DATA": "mask_personal_data",
    "GIGACHAT_FILES_MODEL": "files_model",
    **office.ENV_VARS,  # GIGACHAT_PROXY, GIGACHAT_PROXY_AUTH, GIGACHAT_BRIDGE_MULTIUSER, …
}

_TRUE = ("true", "1", "yes")
_FALSE = ("false", "0", "no")


@dataclass
class Settings:
    """Non-secret program settings (secrets live in the keyring, never here)."""

    host: str = "127.0.0.1"
    port: int = 8000
    scope: str = "GIGACHAT_API_PERS"
    model: str = DEFAULT_MODEL
    auth_url: str = "https://ngw.devices.sberbank.ru:9443/api/v2/oauth"
    api_url: str = "https://api.giga.chat/v1"
    request_timeout: float = 110.0
    refresh_margin: float = 300.0
    ca_bundle: str = ""
    verify_tls: bool = True
    max_concurrency: int | None = None
    allowed_origins: list[str] = field(default_factory=list)
    api_key_enabled: bool = False
    allow_remote: bool = False
    max_body_bytes: int = 2 * 1024 * 1024
    log_bodies: bool = False
    server_threads: int = DEFAULT_SERVER_THREADS
    jobs_retention_days: float = 7.0  # finished jobs (texts and results) are deleted after this
    # Mask personal data before anything leaves the PC (issue 17), unless a request says
    # "mask_personal_data": false / X-Mask-Personal-Data: 0.
    mask_personal_data: bool = False
    # Files (issue 12): the model for requests with files that name none (it must read them),
    # and the body cap of the routes that carry files as base64 (the others keep max_body_bytes).
    files_model: str = DEFAULT_FILES_MODEL
    max_files_body_bytes: int = 50 * 1024 * 1024
    # Offices (issue 15): "" = the OS's proxy, "direct" = none; secrets never here.
    proxy: str = ""
    proxy_auth: str = ""
    multi_user: str = "auto"  # auto: on in remote/terminal sessions
    port_range: str = office.DEFAULT_PORT_RANGE  # per-user ports in multi-user mode

    @property
    def effective_concurrency(self) -> int:
        """Parallel upstream requests: the setting, else 1 for PERS and 10 for B2B/CORP."""
        if self.max_concurrency is not None:
            return self.max_concurrency
        return 1 if self.scope == "GIGACHAT_API_PERS" else 10

    def with_changes(self, **changes: Any) -> Settings:
        """Return a copy with the given fields replaced."""
        return dataclasses.replace(self, **changes)


FIELD_TYPES = {f.name: f.type for f in dataclasses.fields(Settings)}

_SECRET_NAME = re.compile(r"(key|secret|token|credentials?|password)$")


def _assert_no_secret_fields() -> None:
    """Settings is written to disk in plain text: refuse secret-looking fields."""
    bad = [name for name in FIELD_TYPES if _SECRET_NAME.search(name)]
    if bad:
        raise RuntimeError(f"Settings must not hold secrets, found fields: {bad}")


_assert_no_secret_fields()

# What a valid value looks like, per field (the middle of every error message).
_RULES = {
    "host": "укажите адрес, на котором слушает мост, например 127.0.0.1",
    "port": "порт должен быть числом от 1 до 65535",
    "scope": "допустимые значения: " + ", ".join(SCOPES),
    "model": f"укажите название модели, например {DEFAULT_MODEL}",
    "auth_url": "нужен адрес вида https://сервер/путь (http или https и имя сервера)",
    "api_url": "нужен адрес вида https://сервер/путь (http или https и имя сервера)",
    "request_timeout": "время ожидания должно быть положительным числом секунд",
    "refresh_margin": "запас обновления токена должен быть неотрицательным числом секунд",
    "ca_bundle": "укажите путь к файлу сертификата в формате PEM",
    "verify_tls": "допустимые значения: true, false, 1, 0, yes, no",
    "max_concurrency": "число одновременных запросов должно быть целым числом от 1",
    "allowed_origins": 'нужен список строк, например ["http://localhost"]',
    "api_key_enabled": "допустимые значения: true или false",
    "allow_remote": "допустимые значения: true или false",
    "max_body_bytes": "размер тела запроса должен быть целым положительным числом байт",
    "log_bodies": "допустимые значения: true или false",
    "server_threads": "число потоков сервера должно быть целым числом от 1",
    "jobs_retention_days": "срок хранения заданий — число дней больше 0 и не больше 3650, "
                           "например 7",
    "mask_personal_data": "допустимые значения: true или false",
    "files_model": f"укажите модель, которая читает файлы, например {DEFAULT_FILES_MODEL}",
    "max_files_body_bytes": "размер тела запроса с файлами должен быть целым положительным "
                            "числом байт",
    **office.RULES,
}


@dataclass(frozen=True)
class Origin:
    """Where a value came from, to name it in error messages."""

    name: str  # environment variable or config key
    kind: str  # "env", "file", "policy" or "value"
    file: Path | None = None
    text: str | None = None  # the raw environment string

    def describe(self, value: Any) -> str:
        """How the bad value is shown: «API_PORT="99999"» or «"port": 99999 в файле …»."""
        if self.kind == "env":
            where = f" в файле {self.file}" if self.file else ""
            return f'{self.name}="{_short(value if self.text is None else self.text)}"{where}'
        if self.kind in ("file", "policy"):
            return f'"{self.name}": {_short(value, as_json=True)} в файле {self.file}'
        return f"настройки {self.name}={_short(value, as_json=True)}"

    def fix(self) -> str:
        """The sentence that tells how to fix it."""
        if self.kind == "env" and self.file:
            return f"Исправьте строку {self.name} в файле {self.file}."
        if self.kind == "env":
            return f"Исправьте переменную окружения {self.name}."
        if self.kind == "policy":
            return "Это файл политики администратора: обратитесь к администратору."
        if self.kind == "file":
            return (
                f'Исправьте значение "{self.name}" в файле настроек или удалите эту строку, '
                "чтобы вернуть значение по умолчанию."
            )
        return f"Исправьте настройку {self.name}."


def _short(value: Any, as_json: bool = False) -> str:
    text = json.dumps(value, ensure_ascii=False) if as_json else str(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _bad(origin: Origin, value: Any, rule: str) -> ConfigError:
    return ConfigError(f"Неверное значение {origin.describe(value)}: {rule}. {origin.fix()}")


def config_dir() -> Path:
    """Per-user config folder (XDG_CONFIG_HOME on Linux, %APPDATA% on Windows)."""
    return Path(user_config_dir(APP_DIR_NAME, appauthor=False, roaming=True))


def config_path() -> Path:
    """The settings file."""
    return config_dir() / "settings.json"


# --- parsing -----------------------------------------------------------------


def _from_json(name: str, value: Any, origin: Origin) -> Any:
    """Check the JSON type of one config value; return it in the field's type."""
    kind = FIELD_TYPES[name]
    if not _typed(kind, value):
        raise _bad(origin, value, _RULES[name])
    if kind == "float":
        return float(value)
    if kind == "list[str]":
        return list(value)
    return _expand(name, value)


def _from_text(name: str, text: str, origin: Origin) -> Any:
    """Parse one environment string into the field's type."""
    kind = FIELD_TYPES[name]
    try:
        if kind == "int" or kind == "int | None":
            return int(text)
        if kind == "float":
            return float(text)
        if kind == "bool":
            if text.lower() in _TRUE:
                return True
            if text.lower() in _FALSE:
                return False
            raise ValueError(text)
    except ValueError:
        raise _bad(origin, text, _RULES[name]) from None
    return office.multi_user_value(text) or text if name == "multi_user" else _expand(name, text)


def _expand(name: str, value: Any) -> Any:
    return os.path.expanduser(value) if name == "ca_bundle" and value else value


def _env_values(environ: Mapping[str, str], file: Path | None) -> dict[str, tuple[Any, Origin]]:
    """Checked field values (with their origins) from environment-style variables."""
    found: dict[str, tuple[Any, Origin]] = {}
    for env_name, name in ENV_VARS.items():
        text = (environ.get(env_name) or "").strip()
        if not text:  # an empty variable counts as unset
            continue
        origin = Origin(env_name, "env", file, text)
        value = _from_text(name, text, origin)
        check_value(name, value, origin)
        found[name] = (value, origin)
    return found


def env_overrides(environ: Mapping[str, str], file: Path | None = None) -> dict[str, Any]:
    """Typed, checked Settings fields from environment-style variables (or a .env file)."""
    return {name: value for name, (value, _) in _env_values(environ, file).items()}


def _read_config(path: Path) -> dict[str, Any]:
    """The config file as a dict; a missing file is an empty dict."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        return {}
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(
            f"Не удалось прочитать файл настроек {path} ({exc.__class__.__name__}). "
            "Проверьте права доступа к файлу или удалите его, чтобы вернуть настройки "
            "по умолчанию.",
            code="config_unreadable",
        ) from None
    try:
        data = json.loads(text) if text.strip() else {}
    except json.JSONDecodeError as exc:
        raise ConfigError(
            f"Файл настроек {path} повреждён (ошибка JSON в строке {exc.lineno}). "
            "Исправьте его или удалите, чтобы вернуть настройки по умолчанию.",
            code="config_corrupt",
        ) from None
    if not isinstance(data, dict):
        raise ConfigError(
            f"Файл настроек {path} повреждён: ожидался объект JSON {{...}}. "
            "Исправьте его или удалите, чтобы вернуть настройки по умолчанию.",
            code="config_corrupt",
        )
    return data


def load_settings(environ: Mapping[str, str] = os.environ, path: Path | None = None,
                  policy_path: Path | None = None) -> Settings:
    """Defaults <- config file <- environment <- the administrator's policy; ConfigError on
    any bad value (a proxy password in the settings file or the policy is one).

    A non-empty GIGACHAT_BRIDGE_API_KEY in `environ` turns `api_key_enabled` on by itself.
    """
    path = path or config_path()
    values: dict[str, Any] = {}
    origins: dict[str, Origin] = {}
    for name, value in _read_config(path).items():
        if name not in FIELD_TYPES:
            log.warning("ignoring unknown setting %r in %s", name, path)
            continue
        origins[name] = Origin(name, "file", path)
        values[name] = _from_json(name, value, origins[name])
    policy = load_policy(policy_path)
    for name, value in policy.values.items():
        origins[name] = Origin(name, "policy", policy.path)
        values[name] = _from_json(name, value, origins[name])
    if url_has_password(values.get("proxy", "")):
        raise ConfigError(f"{office.PROXY_PASSWORD_IN_FILE} Файл: {origins['proxy'].file}.")
    for name, (value, origin) in _env_values(environ, None).items():
        if name not in policy.values:  # the administrator's values win
            values[name], origins[name] = value, origin
    if (environ.get(ENV_LOCAL_API_KEY) or "").strip():  # a key that is set must protect
        values["api_key_enabled"] = True
        origins["api_key_enabled"] = Origin(ENV_LOCAL_API_KEY, "env")
    settings = Settings(**values)
    validate(settings, origins)
    return settings


# --- validation --------------------------------------------------------------


def _typed(kind: str, value: Any) -> bool:
    is_int = isinstance(value, int) and not isinstance(value, bool)
    return {
        "str": isinstance(value, str),
        "int": is_int,
        "float": is_int or (isinstance(value, float) and math.isfinite(value)),
        "bool": isinstance(value, bool),
        "int | None": value is None or is_int,
        "list[str]": isinstance(value, list) and all(isinstance(v, str) for v in value),
    }[kind]


_CHECKS = {
    "host": lambda v: bool(v.strip()),
    "port": lambda v: 1 <= v <= 65535,
    "scope": lambda v: v in SCOPES,
    "model": lambda v: bool(v.strip()),
    "auth_url": office.url_ok,
    "api_url": office.url_ok,
    "request_timeout": lambda v: v > 0,
    "refresh_margin": lambda v: v >= 0,
    "max_concurrency": lambda v: v is None or v >= 1,
    "max_body_bytes": lambda v: v >= 1,
    "server_threads": lambda v: v >= 1,
    "jobs_retention_days": lambda v: 0 < v <= 3650,
    "files_model": lambda v: bool(v.strip()),
    "max_files_body_bytes": lambda v: v >= 1,
    **office.CHECKS,
}


def check_value(name: str, value: Any, origin: Origin | None = None) -> None:
    """Raise ConfigError if one field's value is not acceptable."""
    origin = origin or Origin(name, "value")
    check = _CHECKS.get(name, lambda _: True)
    if not _typed(FIELD_TYPES[name], value) or not check(value):
        raise _bad(origin, value, _RULES[name])
    if name == "ca_bundle" and value and (problem := office.ca_problem(value)):
        raise _bad(origin, value, f"{problem}; {_RULES[name]}")


def validate(settings: Settings, origins: Mapping[str, Origin] | None = None) -> None:
    """Raise ConfigError naming the first bad setting (and where it came from)."""
    origins = origins or {}
    for name in FIELD_TYPES:
        check_value(name, getattr(settings, name), origins.get(name))


def save_settings(settings: Settings, path: Path | None = None) -> None:
    """Validate and write the settings as UTF-8 JSON, atomically (temp file + os.replace)."""
    _assert_no_secret_fields()
    validate(settings)
    if url_has_password(settings.proxy):
        raise ConfigError(office.PROXY_PASSWORD_IN_FILE)
    path = path or config_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(dataclasses.asdict(settings), ensure_ascii=False, indent=2) + "\n"
    fd, tmp = tempfile.mkstemp(prefix=".settings-", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
