"""Which proxy the bridge's calls to GigaChat go through (or none), and which hosts bypass it.

Sources, first match wins: the `proxy` setting (env GIGACHAT_PROXY wins over the file, as
every setting; ``direct`` turns any proxy off), else the OS: on Windows the user's Internet
Options (one thin function), elsewhere HTTPS_PROXY / ALL_PROXY with NO_PROXY. `proxy_auth`
(``basic`` | ``ntlm`` | ``negotiate``) applies to whichever proxy is in use. Credentials come
from the proxy URL (``http://DOMAIN%5Cuser:pass@host:port``) or from the keyring (the user in
the URL, the password stored by ``--set-proxy-password``); never from settings.json.
Loopback hosts are never sent through a proxy.
"""

from __future__ import annotations

import ipaddress
import logging
import os
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote, urlsplit

log = logging.getLogger(__name__)

AUTH_KINDS = ("basic", "ntlm", "negotiate")
DIRECT = "direct"  # the `proxy` value that means «no proxy at all, whatever the OS says»
DEFAULT_PROXY_PORT = 8080
_LOOPBACK_NAMES = ("localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback")


@dataclass(frozen=True)
class ProxyConfig:
    """One proxy in use. `password` never appears in repr, logs or reports."""

    host: str
    port: int
    auth: str = ""  # "" (none), "basic", "ntlm" or "negotiate"
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    source: str = ""  # Russian: where it came from, for the diagnosis report
    bypass: tuple[str, ...] = ()  # NO_PROXY / ProxyOverride patterns

    @property
    def url(self) -> str:
        """The proxy's address without credentials (safe to show)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def describe(self) -> str:
        """Russian one-liner without the password."""
        auth = {"": "без авторизации", "basic": "Basic", "ntlm": "NTLM",
                "negotiate": "Negotiate (Kerberos/NTLM)"}[self.auth]
        user = f", пользователь {self.username}" if self.username else ""
        return f"{self.url} ({self.source}; {auth}{user})"


# --- parsing and checks (settings.py validates the `proxy` setting with these) ----------


def proxy_url_problem(text: str) -> str | None:
    """Why `text` is not a usable `proxy` value, or None ("" and "direct" are fine)."""
    if text in ("", DIRECT):
        return None
    try:
        parts = urlsplit(text if "://" in text else "http://" + text)
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError:
        return "неверный номер порта"
    if parts.scheme != "http":
        return "поддерживаются прокси-серверы с адресом http://сервер:порт"
    if not parts.hostname or text.strip() != text:
        return "нет имени прокси-сервера"
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        return "после порта не должно быть пути"
    return None


def url_has_password(text: str) -> bool:
    """Whether a proxy URL carries a password (such a URL must never be written to a file)."""
    try:
        return urlsplit(text if "://" in text else "http://" + text).password is not None
    except ValueError:
        return False


def _parse(text: str) -> tuple[str, int, str | None, str | None]:
    parts = urlsplit(text if "://" in text else "http://" + text)
    user = unquote(parts.username) if parts.username else None
    password = unquote(parts.password) if parts.password is not None else None
    return parts.hostname or "", parts.port or DEFAULT_PROXY_PORT, user, password


# --- the OS's proxy ---------------------------------------------------------------------


def _windows_internet_options() -> tuple[str, str] | None:
    """(ProxyServer, ProxyOverride) of the user's Internet Options when the proxy is on."""
    import winreg  # Windows only

    path = r"Software\Microsoft\Windows\CurrentVersion\Internet Settings"
    try:
        with winreg.OpenKey(winreg.HKEY_CURRENT_USER, path) as key:
            if not winreg.QueryValueEx(key, "ProxyEnable")[0]:
                return None
            server = str(winreg.QueryValueEx(key, "ProxyServer")[0])
            try:
                override = str(winreg.QueryValueEx(key, "ProxyOverride")[0])
            except OSError:
                override = ""
    except OSError:
        return None
    return server, override


def _windows_server_for_https(server: str) -> str:
    """ProxyServer is "host:port" or "http=h:p;https=h:p;…": the one for https."""
    if "=" not in server:
        return server
    by_scheme = dict(part.split("=", 1) for part in server.split(";") if "=" in part)
    return by_scheme.get("https") or by_scheme.get("http") or ""


def system_proxy(environ: Mapping[str, str], platform: str = sys.platform) -> tuple[str, str, str]:
    """(proxy URL or "", bypass list text, Russian source) from the OS settings."""
    if platform == "win32":
        found = _windows_internet_options()
        if found:
            return _windows_server_for_https(found[0]), found[1].replace(";", ","), \
                "параметры прокси Windows (Свойства браузера)"
        return "", "", ""
    for name in ("https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
        value = (environ.get(name) or "").strip()
        if value:
            bypass = environ.get("no_proxy") or environ.get("NO_PROXY") or ""
            return value, bypass, f"переменная окружения {name}"
    return "", "", ""


# --- the choice ---------------------------------------------------------------------------


def choose_proxy(proxy: str, proxy_auth: str, environ: Mapping[str, str] = os.environ,
                 password_for: Callable[[str], str | None] | None = None,
                 platform: str = sys.platform) -> ProxyConfig | None:
    """The proxy to use, from the (already merged) settings values and the OS; None: direct."""
    if proxy == DIRECT:
        return None
    if proxy:
        url, bypass, source = proxy, "", "настройка proxy (или GIGACHAT_PROXY)"
    else:
        url, bypass, source = system_proxy(environ, platform)
    if not url:
        return None
    if proxy_url_problem(url) is not None:
        log.warning("ignoring an unusable proxy from %s", source)
        return None
    host, port, user, password = _parse(url)
    auth = proxy_auth or ("basic" if user else "")
    if user and password is None and password_for is not None:
        password = password_for(user)
    patterns = tuple(p.strip().lower() for p in bypass.split(",") if p.strip())
    return ProxyConfig(host, port, auth, user, password, source, patterns)


def for_settings(settings: Any, environ: Mapping[str, str] = os.environ) -> ProxyConfig | None:
    """choose_proxy for a Settings object, the password (if any) from the keyring."""
    def password_for(user: str) -> str | None:
        from gigachat.core.credentials import CredentialStore  # lazy: credentials imports settings
        from gigachat.core.errors import BridgeError

        try:
            return CredentialStore(environ={}).proxy_password(user)
        except BridgeError as error:
            log.warning("proxy password unavailable: %s", error.code)
            return None

    return choose_proxy(settings.proxy, settings.proxy_auth, environ, password_for)


def is_loopback(host: str | None) -> bool:
    """127.0.0.0/8, ::1 and the usual names of this machine."""
    if not host:
        return False
    host = host.strip("[]").lower().rstrip(".")
    if host in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def bypassed(host: str | None, proxy: ProxyConfig | None) -> bool:
    """Whether a connection to `host` goes direct: no proxy, loopback, or a bypass pattern."""
    if proxy is None or is_loopback(host):
        return True
    host = (host or "").strip("[]").lower().rstrip(".")
    for pattern in proxy.bypass:
        if pattern == "*":
            return True
        if pattern == "<local>":
            if "." not in host:
                return True
            continue
        bare = pattern.lstrip("*").lstrip(".")
        if bare and (host == bare or host.endswith("." + bare)):
            return True
    return False
