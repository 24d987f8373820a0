"""OAuth: one access-token request to GigaChat's authorization server, and its error codes."""

from __future__ import annotations

import contextlib
import email.utils
import math
import uuid
from collections.abc import Callable

import requests

from gigachat.core.errors import (
    GigaChatError,
    MalformedKey,
    OAuthRejected,
    RateLimited,
    ScopeMismatch,
    ServerError,
    UnexpectedAnswer,
    WrongKey,
)
from gigachat.core.transport import error_body, read_json, request_id, send

OAUTH_TIMEOUT = (10.0, 30.0)  # connect, read

# The `code` field of an OAuth error body (gigachat-api.md, «OAuth token»).
CODE_MALFORMED_KEY = 4  # "Can't decode 'Authorization' header"
CODE_WRONG_KEY = 6  # "credentials doesn't match db data"
CODE_SCOPE_MISMATCH = 7  # "scope from db not fully includes consumed scope"

# A key GigaChat refused: retrying it soon cannot help, only a new key can.
PERMANENT_ERRORS = (WrongKey, ScopeMismatch, MalformedKey, OAuthRejected)


def server_lifetime(expires_at_ms: float, date_header: str | None, now: float) -> float:
    """Seconds the token lives, measured on the server's clock so a wrong PC clock doesn't matter."""
    expires_at = expires_at_ms / 1000.0 if expires_at_ms > 1e11 else float(expires_at_ms)
    server_now = now
    if date_header:
        # Date has 1 s resolution: assume the latest moment it can stand for.
        with contextlib.suppress(TypeError, ValueError, OverflowError):
            server_now = email.utils.parsedate_to_datetime(date_header).timestamp() + 1.0
    return expires_at - server_now


def oauth_error(response: requests.Response) -> GigaChatError:
    """Classify a failed OAuth answer by its `code`, else by its HTTP status."""
    body = error_body(response)
    code, detail = body.get("code"), str(body.get("message", ""))
    status = response.status_code
    kind: type[GigaChatError] = OAuthRejected
    if code == CODE_WRONG_KEY or (status == 401 and code is None):
        kind = WrongKey
    elif code == CODE_SCOPE_MISMATCH:
        kind = ScopeMismatch
    elif code == CODE_MALFORMED_KEY:
        kind = MalformedKey
    elif status == 429:
        kind = RateLimited
    elif status >= 500:
        kind = ServerError
    return kind(detail, status=status, request_id=request_id(response))


def request_token(session: requests.Session, auth_url: str, scope: str, key: str,
                  clock: Callable[[], float]) -> tuple[str, float]:
    """POST one OAuth request; return the access token and its expiry on the local clock."""
    headers = {
        "Authorization": f"Basic {key}",
        "RqUID": str(uuid.uuid4()),
        "Content-Type": "application/x-www-form-urlencoded",
        "Accept": "application/json",
    }
    response = send(session, "POST", auth_url, oauth=True, headers=headers,
                    data={"scope": scope}, timeout=OAUTH_TIMEOUT)
    with response:
        if response.status_code != 200:
            raise oauth_error(response)
        try:
            body = read_json(response)
            token = str(body["access_token"])
            lifetime = server_lifetime(float(body["expires_at"]), response.headers.get("Date"),
                                       clock())
            if not math.isfinite(lifetime):
                raise ValueError(lifetime)
        except (UnexpectedAnswer, ValueError, KeyError, TypeError, OverflowError):
            raise UnexpectedAnswer(
                "bad oauth body", message="Сервер авторизации ГигаЧат прислал непонятный ответ.",
                request_id=request_id(response),
            ) from None
    return token, clock() + max(lifetime, 0.0)
