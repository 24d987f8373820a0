"""Value checks for settings.py: URLs, CA files, and the office settings (proxy, multi-user
mode, port range) with their environment variables and Russian rules."""

from __future__ import annotations

import ssl
from pathlib import Path
from urllib.parse import urlsplit

from gigachat.core.proxy import AUTH_KINDS, proxy_url_problem

MULTI_USER_VALUES = ("auto", "true", "false")
DEFAULT_PORT_RANGE = "8100-8999"
ENV_MULTI_USER = "GIGACHAT_BRIDGE_MULTIUSER"

ENV_VARS = {
    "GIGACHAT_PROXY": "proxy",
    "GIGACHAT_PROXY_AUTH": "proxy_auth",
    ENV_MULTI_USER: "multi_user",
    "GIGACHAT_PORT_RANGE": "port_range",
}

RULES = {
    "proxy": 'нужен адрес прокси вида http://сервер:порт, пусто (как в Windows) или "direct"',
    "proxy_auth": "допустимые значения: пусто, " + ", ".join(AUTH_KINDS),
    "multi_user": "допустимые значения: auto, true, false",
    "port_range": "нужен диапазон портов вида 8100-8999 (от 1024 до 65535)",
}

PROXY_PASSWORD_IN_FILE = (
    "В адресе прокси записан пароль, а в файлах настроек секреты не хранятся. Уберите пароль "
    "из адреса (оставьте http://ДОМЕН%5Cпользователь@сервер:порт) и сохраните его командой "
    "tray_app.py --set-proxy-password, либо задайте адрес с паролем переменной GIGACHAT_PROXY."
)


def port_range(text: str) -> tuple[int, int] | None:
    """"8100-8999" as (8100, 8999), None when it is not a valid range."""
    low, sep, high = text.partition("-")
    if not sep or not low.strip().isdigit() or not high.strip().isdigit():
        return None
    first, last = int(low), int(high)
    return (first, last) if 1024 <= first <= last <= 65535 else None


def multi_user_value(text: str) -> str:
    """auto/true/false, also from 1/0/yes/no/on/off; "" when not one of them."""
    value = text.strip().lower()
    aliases = {"1": "true", "yes": "true", "on": "true", "0": "false", "no": "false",
               "off": "false"}
    value = aliases.get(value, value)
    return value if value in MULTI_USER_VALUES else ""


CHECKS = {
    "proxy": lambda v: proxy_url_problem(v) is None,
    "proxy_auth": lambda v: v in ("", *AUTH_KINDS),
    "multi_user": lambda v: bool(multi_user_value(v)),
    "port_range": lambda v: port_range(v) is not None,
}


def url_ok(value: str) -> bool:
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.hostname) and value.strip() == value


def ca_problem(path: str) -> str | None:
    """Why the CA file cannot be used, or None when it is a readable PEM bundle."""
    file = Path(path)
    if not file.exists():
        return "файл не найден"
    if not file.is_file():
        return "это не файл"
    try:
        data = file.read_bytes()
    except OSError:
        return "файл не удалось прочитать (проверьте права доступа)"
    if b"-----BEGIN CERTIFICATE-----" not in data:
        return "файл не похож на сертификат в формате PEM (нет строки -----BEGIN CERTIFICATE-----)"
    try:
        ssl.create_default_context(cafile=str(file))
    except (ssl.SSLError, ValueError):
        return "сертификаты в файле повреждены или записаны не в формате PEM"
    return None
