"""Network probes for the connection diagnosis: DNS, TCP (direct or through the proxy), TLS.

Each returns a short Russian fact or raises ProbeFailed with what happened and the fix.
"""

from __future__ import annotations

import socket
import ssl
from urllib.parse import urlsplit

from gigachat.core.proxy import ProxyConfig, bypassed
from gigachat.core.tunnel import ProxyFailure, open_tunnel

# Words in an issuer's name that mark a TLS-inspecting proxy or antivirus (not a public CA).
INSPECTION_MARKS = (
    "kaspersky", "fortinet", "fortigate", "zscaler", "palo alto", "bluecoat", "blue coat",
    "check point", "checkpoint", "sophos", "eset", "dr.web", "drweb", "mcafee", "umbrella",
    "usergate", "ideco", "forcepoint", "netskope", "websense", "proxy", "inspection",
    "firewall", "decrypt", "mitm", "squid", "avast", "avg", "bitdefender",
)
_WELL_KNOWN_ROOTS = ("russian trusted", "globalsign", "digicert", "sectigo", "let's encrypt",
                     "isrg", "usertrust", "comodo", "gts", "google trust", "amazon", "entrust")


class ProbeFailed(Exception):
    def __init__(self, detail: str, fix: str) -> None:
        super().__init__(detail)
        self.detail, self.fix = detail, fix


def endpoint(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    return parts.hostname or "", parts.port or (443 if parts.scheme == "https" else 80)


def resolve(host: str) -> str:
    """The addresses of `host` as text; ProbeFailed when the name does not resolve."""
    try:
        infos = socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)
    except socket.gaierror as error:
        raise ProbeFailed(
            f"имя {host} не найдено в DNS ({error.strerror or error})",
            "Проверьте подключение к интернету и DNS-серверы. В сети организации имена "
            "внешних серверов часто разрешает только прокси-сервер: укажите его в настройке "
            "proxy (или GIGACHAT_PROXY).") from None
    addresses = sorted({info[4][0] for info in infos})
    return f"{host} → {', '.join(addresses[:4])}"


def connect(host: str, port: int, proxy: ProxyConfig | None, timeout: float) -> socket.socket:
    """An open TCP connection to host:port, through the proxy's tunnel unless bypassed."""
    if not bypassed(host, proxy):
        try:
            return open_tunnel(proxy, host, port, timeout)
        except ProxyFailure as failure:
            raise ProbeFailed(failure.message, _proxy_fix(failure)) from None
        except OSError as error:
            raise ProbeFailed(f"прокси-сервер {proxy.url} недоступен ({type(error).__name__})",
                              "Проверьте адрес и порт прокси в настройке proxy.") from None
    try:
        return socket.create_connection((host, port), timeout)
    except TimeoutError:
        why = "сервер не ответил вовремя"
    except ConnectionRefusedError:
        why = "соединение отклонено: на этом порту никто не слушает"
    except OSError as error:
        why = f"{type(error).__name__}: {error.strerror or error}"
    raise ProbeFailed(
        f"не удалось подключиться к {host}:{port} ({why})",
        "Проверьте адрес и порт в настройках (auth_url, api_url), подключение к интернету и "
        "брандмауэр. Если в организации выход в интернет только через прокси, укажите его "
        "в настройке proxy (или GIGACHAT_PROXY).")


def _proxy_fix(failure: ProxyFailure) -> str:
    if failure.kind == "auth":
        return ("Укажите способ авторизации прокси (proxy_auth: basic, ntlm или negotiate) и "
                "учётную запись: в адресе прокси http://ДОМЕН%5Cпользователь@сервер:порт, "
                "пароль — командой tray_app.py --set-proxy-password.")
    if failure.kind == "refused":
        return "Попросите администратора сети разрешить доступ к серверам ГигаЧат через прокси."
    return "Проверьте адрес и порт прокси в настройке proxy (или GIGACHAT_PROXY)."


def _name(rdn: tuple) -> str:
    """An ssl-module certificate name ((("commonName", "x"),), …) as "CN=x, O=y"."""
    short = {"commonName": "CN", "organizationName": "O", "organizationalUnitName": "OU",
             "countryName": "C", "localityName": "L", "stateOrProvinceName": "ST"}
    parts = [f"{short.get(k, k)}={v}" for group in rdn for k, v in group]
    return ", ".join(parts) or "(без имени)"


def _chain(sock: ssl.SSLSocket, verified: bool) -> list[dict]:
    obj = getattr(sock, "_sslobj", None)
    method = getattr(sock, "get_verified_chain" if verified else "get_unverified_chain", None) \
        or getattr(obj, "get_verified_chain" if verified else "get_unverified_chain", None)
    try:
        return [cert.get_info() for cert in (method() or [])] if method else []
    except (AttributeError, ValueError, ssl.SSLError):
        return []


def looks_like_inspection(issuer: str) -> bool:
    low = issuer.lower()
    return any(mark in low for mark in INSPECTION_MARKS) and not any(
        root in low for root in _WELL_KNOWN_ROOTS)


def tls_check(host: str, port: int, proxy: ProxyConfig | None, context: ssl.SSLContext,
              timeout: float) -> str:
    """Handshake with verification; the root that verified the chain, or ProbeFailed naming
    the issuer the server presented."""
    sock = connect(host, port, proxy, timeout)
    try:
        with context.wrap_socket(sock, server_hostname=host) as tls:
            chain = _chain(tls, verified=True)
            leaf = tls.getpeercert() or {}
    except ssl.SSLCertVerificationError as error:
        issuer = presented_issuer(host, port, proxy, timeout)
        raise ProbeFailed(*_untrusted(host, issuer, error.verify_message or str(error))) from None
    except (ssl.SSLError, OSError) as error:
        raise ProbeFailed(f"TLS-соединение с {host}:{port} не установлено "
                          f"({type(error).__name__}: {error})",
                          "Проверьте, что адрес начинается с https:// и порт верный.") from None
    root = _name(chain[-1]["subject"]) if chain else _name(leaf.get("issuer", ()))
    return f"{host}: сертификат {_name(leaf.get('subject', ()))} проверен, корень: {root}"


def presented_issuer(host: str, port: int, proxy: ProxyConfig | None, timeout: float) -> str:
    """The issuer of the topmost certificate the server sent (read without verification)."""
    plain = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    plain.check_hostname = False
    plain.verify_mode = ssl.CERT_NONE
    try:
        with plain.wrap_socket(connect(host, port, proxy, timeout), server_hostname=host) as tls:
            chain = _chain(tls, verified=False)
            if chain:
                return _name(chain[-1]["issuer"])
    except (ssl.SSLError, OSError, ProbeFailed):
        pass
    return "(не удалось прочитать)"


def _untrusted(host: str, issuer: str, reason: str) -> tuple[str, str]:
    detail = (f"сертификат сервера {host} не прошёл проверку ({reason}); сервер предъявил "
              f"сертификат, выданный «{issuer}»")
    how = ("Получите у администратора корневой сертификат (файл .cer или .pem в формате "
           "Base64/PEM) и укажите путь к нему в настройке ca_bundle (или GIGACHAT_CA_BUNDLE); "
           "программа доверяет ему вместе с системными и «Russian Trusted Root CA».")
    if looks_like_inspection(issuer):
        detail += " — похоже на корневой сертификат прокси или антивируса с проверкой трафика"
    return detail, how
