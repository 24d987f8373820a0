"""OAuth: authorization keys, scopes, the token endpoint and the bearer check."""

from __future__ import annotations

import base64
import binascii
import re
import secrets
import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs

from gigachat.emulator.protocol import HttpError, Reply, Request

SCOPES = ("GIGACHAT_API_PERS", "GIGACHAT_API_B2B", "GIGACHAT_API_CORP")
PERS, B2B, CORP = SCOPES

_UUID_RE = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_JWE_HEADER = (
    base64.urlsafe_b64encode(b'{"cty":"jwt","enc":"A256CBC-HS512","alg":"RSA-OAEP-256"}')
    .decode("ascii")
    .rstrip("=")
)


def make_key(client_id: str, secret: str) -> str:
    """Build an authorization key: base64 of ``client_id:secret``."""
    return base64.b64encode(f"{client_id}:{secret}".encode()).decode("ascii")


DEMO_KEY = make_key("demo-client-id", "demo-client-secret")


@dataclass(frozen=True)
class Token:
    """An issued access token's owner, scope and expiry (unix seconds)."""

    key: str
    scope: str
    expires_at: float


def normalize_keys(keys: Mapping[str, Iterable[str] | str]) -> dict[str, frozenset[str]]:
    """``{key: scopes}`` with scopes as a frozenset; ValueError on unknown scopes."""
    result = {}
    for key, scopes in keys.items():
        scope_set = frozenset([scopes] if isinstance(scopes, str) else scopes)
        unknown = scope_set - set(SCOPES)
        if not isinstance(key, str) or not key or unknown:
            raise ValueError(f"bad key entry (unknown scopes: {sorted(unknown)})")
        result[key] = scope_set
    return result


class TokenIssuer:
    """Accepted keys, issued tokens and the OAuth log; thread-safe."""

    def __init__(self, keys: Mapping[str, Iterable[str] | str]) -> None:
        self._lock = threading.Lock()
        self._keys = normalize_keys(keys)
        self._tokens: dict[str, Token] = {}
        self._issued: list[str] = []
        self._log: list[dict[str, Any]] = []
        self.lifetime = 1800.0
        self.reject_keys = False

    @property
    def keys(self) -> list[str]:
        with self._lock:
            return list(self._keys)

    @property
    def issued(self) -> list[str]:
        with self._lock:
            return list(self._issued)

    @property
    def log(self) -> list[dict[str, Any]]:
        with self._lock:
            return [dict(entry) for entry in self._log]

    def clear_log(self) -> None:
        with self._lock:
            self._log.clear()

    def expire(self) -> None:
        """Make every issued token expired."""
        with self._lock:
            past = time.time() - 1
            self._tokens = {
                value: Token(t.key, t.scope, min(t.expires_at, past)) for value, t in self._tokens.items()
            }

    def revoke(self) -> None:
        """Forget every issued token."""
        with self._lock:
            self._tokens.clear()

    def handle(self, request: Request) -> Reply:
        """The OAuth endpoint, logged (rquid, scope, content_type, accept, status)."""
        entry: dict[str, Any] = {
            "rquid": request.headers.get("RqUID"),
            "scope": _peek_scope(request.body),
            "content_type": request.headers.get("Content-Type"),
            "accept": request.headers.get("Accept"),
            "status": 500,
        }
        try:
            reply = self._checked(request)
            entry["status"] = reply.status
            return reply
        except HttpError as exc:
            entry["status"] = exc.status
            raise
        finally:
            with self._lock:
                self._log.append(entry)

    def authorize(self, request: Request) -> Token:
        """The bearer token of an API request, or 401."""
        scheme, _, value = (request.headers.get("Authorization") or "").strip().partition(" ")
        with self._lock:
            token = self._tokens.get(value.strip()) if scheme.lower() == "bearer" else None
        if token is None:
            raise HttpError.api(401, "Unauthorized")
        if time.time() >= token.expires_at:
            raise HttpError.api(401, "Token has expired")
        return token

    def _checked(self, request: Request) -> Reply:
        if self.reject_keys:
            raise HttpError.oauth(401, 6, "credentials doesn't match db data")
        key = self._basic_key(request.headers.get("Authorization"))
        rquid = (request.headers.get("RqUID") or "").strip()
        if not _UUID_RE.match(rquid):
            raise HttpError.oauth(400, 3, "RqUID header is missing or is not a UUID")
        content_type = (request.headers.get("Content-Type") or "").split(";")[0].strip().lower()
        if content_type != "application/x-www-form-urlencoded":
            raise HttpError.oauth(400, 3, "Content-Type must be application/x-www-form-urlencoded")
        scope = _form_scope(request.body)
        if scope not in SCOPES:
            raise HttpError.oauth(400, 1, "scope data format invalid")
        with self._lock:
            allowed = self._keys[key]
        if scope not in allowed:
            raise HttpError.oauth(400, 7, "scope from db not fully includes consumed scope")
        value = _new_access_token()
        with self._lock:
            expires_at = time.time() + self.lifetime
            self._tokens[value] = Token(key, scope, expires_at)
            self._issued.append(value)
        return Reply(200, {"access_token": value, "expires_at": int(expires_at * 1000)})

    def _basic_key(self, header: str | None) -> str:
        scheme, _, key = (header or "").strip().partition(" ")
        key = key.strip()
        with self._lock:
            if scheme.lower() == "basic" and key in self._keys:
                return key
        if scheme.lower() != "basic" or not _decodes_as_credentials(key):
            raise HttpError.oauth(401, 4, "Can't decode 'Authorization' header")
        raise HttpError.oauth(401, 6, "credentials doesn't match db data")


def _form_scope(body: bytes) -> str:
    try:
        form = parse_qs(body.decode("utf-8"), keep_blank_values=True, strict_parsing=False)
    except UnicodeDecodeError as exc:
        raise HttpError.oauth(400, 1, "scope data format invalid") from exc
    scope = (form.get("scope") or [""])[0].strip()
    if not scope:
        raise HttpError.oauth(400, 5, "scope is empty")
    return scope


def _peek_scope(body: bytes) -> str | None:
    """The form's scope for the log, however malformed the body is."""
    values = parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True).get("scope")
    return values[0] if values else None


def _decodes_as_credentials(key: str) -> bool:
    try:
        decoded = base64.b64decode(key, validate=True).decode("utf-8")
    except (binascii.Error, ValueError):
        return False
    return ":" in decoded


def _new_access_token() -> str:
    """An opaque JWE-looking token of about 1.2 KB."""
    parts = [secrets.token_urlsafe(n) for n in (256, 12, 580, 32)]
    return ".".join([_JWE_HEADER, *parts])
