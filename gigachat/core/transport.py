"""The one transport layer for OAuth and API calls: send, read JSON, translate failures, back off.

Only transport failures (connection, TLS, timeout, broken framing) become typed network
errors; anything else raised while preparing a request is a local programming error and
propagates as it is, so it is never retried as a network error.
"""

from __future__ import annotations

import json
import math
import random
import re
from typing import Any
from urllib.parse import urlsplit

import requests

from gigachat.core.errors import (
    EndpointNotFound,
    GigaChatError,
    InvalidRequest,
    ModelNotFound,
    NetworkError,
    TLSError,
    UnexpectedAnswer,
    UpstreamTimeout,
    error_for_status,
)

BACKOFF_BASE = 0.5  # seconds before the first retry
BACKOFF_CAP = 60.0
_MAX_EXPONENT = 30  # 2**30 * base is far past any cap; keeps the float finite forever

# What a network, a proxy or a server can do to a request; everything else is our bug.
TRANSPORT_ERRORS: tuple[type[Exception], ...] = (
    requests.exceptions.ConnectionError,  # also SSLError, ProxyError, ConnectTimeout
    requests.exceptions.Timeout,
    requests.exceptions.ChunkedEncodingError,
    requests.exceptions.ContentDecodingError,
)

OAUTH_TIMEOUT_MESSAGE = "Сервер авторизации ГигаЧат не ответил вовремя."
BAD_NUMBER_MESSAGE = (
    "В запросе есть число, которое нельзя передать ГигаЧат (NaN, Infinity или слишком "
    "длинное число). Исправьте числовые поля запроса."
)
BAD_TEXT_MESSAGE = (
    "В тексте запроса есть недопустимые символы (одиночные суррогаты UTF-16). "
    "Проверьте кодировку текста."
)
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")
_SURROGATE = re.compile("[\ud800-\udfff]")


def backoff_delay(attempt: int, *, retry_after: float | None = None, base: float = BACKOFF_BASE,
                  cap: float = BACKOFF_CAP, jitter: bool = True) -> float:
    """Seconds before retry number `attempt` (1, 2, ...): base * 2^(n-1), capped, with
    jitter (50..100 %); a server's numeric Retry-After wins."""
    if retry_after is not None:
        return retry_after
    delay = min(base * 2.0 ** min(max(attempt - 1, 0), _MAX_EXPONENT), cap)
    return delay * random.uniform(0.5, 1.0) if jitter else delay


def retry_after(response: requests.Response | None) -> float | None:
    """A numeric Retry-After header in seconds, else None."""
    if response is None:
        return None
    try:
        value = float(response.headers.get("Retry-After", ""))
    except ValueError:
        return None
    return max(value, 0.0) if math.isfinite(value) else None


def translate(error: Exception, *, oauth: bool = False) -> GigaChatError:
    """One of TRANSPORT_ERRORS as our typed, Russian error."""
    if isinstance(error, requests.exceptions.SSLError):
        return TLSError(type(error).__name__)
    if isinstance(error, requests.exceptions.Timeout):
        return UpstreamTimeout("timeout", message=OAUTH_TIMEOUT_MESSAGE if oauth else None)
    return NetworkError(type(error).__name__)


def send(session: requests.Session, method: str, url: str, *, oauth: bool = False,
         **kwargs: Any) -> requests.Response:
    """session.request with transport failures translated; other exceptions propagate."""
    try:
        return session.request(method, url, **kwargs)
    except TRANSPORT_ERRORS as error:
        raise translate(error, oauth=oauth) from None


def encode_json(payload: Any) -> bytes:
    """A request body as strict UTF-8 JSON; data GigaChat cannot take is InvalidRequest.

    A TypeError (an object JSON cannot hold) is a programming error and propagates.
    """
    try:
        text = json.dumps(payload, ensure_ascii=False, allow_nan=False)
    except ValueError:  # NaN/Infinity, an integer past Python's digit limit, a cycle
        raise InvalidRequest(BAD_NUMBER_MESSAGE, code="bad_number") from None
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidRequest(BAD_TEXT_MESSAGE, code="bad_text") from None


def scrub(value: Any) -> Any:
    """A decoded JSON value with lone surrogates (from \\ud800 escapes) replaced by U+FFFD."""
    if isinstance(value, str):
        return _SURROGATE.sub("\ufffd", value)
    if isinstance(value, list):
        return [scrub(item) for item in value]
    if isinstance(value, dict):
        return {scrub(key): scrub(item) for key, item in value.items()}
    return value


def decode_json(raw: bytes) -> Any:
    """JSON bytes from GigaChat as clean Python values; ValueError when it is not JSON."""
    value = json.loads(raw.decode("utf-8", errors="replace"))
    return scrub(value) if _SURROGATE_ESCAPE.search(raw) else value


def read_json(response: requests.Response) -> Any:
    """A 2xx answer's JSON body; UnexpectedAnswer when it is not JSON."""
    try:
        return decode_json(response.content)
    except ValueError:
        raise UnexpectedAnswer("not json", request_id=request_id(response)) from None
    except TRANSPORT_ERRORS as error:  # the body broke off while we read it
        raise translate(error) from None


def error_body(response: requests.Response) -> dict[str, Any]:
    """A failed answer's JSON object ({} when the body is not one)."""
    try:
        body = decode_json(response.content)
    except (ValueError, *TRANSPORT_ERRORS):
        return {}
    return body if isinstance(body, dict) else {}


def request_id(response: requests.Response | None) -> str | None:
    """GigaChat's X-Request-Id (what Sber's support asks for)."""
    return response.headers.get("X-Request-Id") if response is not None else None


def api_error(response: requests.Response, api_url: str, path: str, *,
              model: str | None = None) -> GigaChatError:
    """The typed error for a failed API answer. A 404 is «no such model» only when
    GigaChat says so; otherwise the address itself is wrong, and the message names it."""
    detail = str(error_body(response).get("message", ""))
    status, rid = response.status_code, request_id(response)
    if status != 404:
        return error_for_status(status, detail, request_id=rid)
    if "model" in detail.lower() and path != "/models":
        message = None
        if model:
            message = (f"На этом адресе ГигаЧат нет модели «{model}». Выберите модель из "
                       "списка в настройках (например, GigaChat-2).")
        return ModelNotFound(detail, status=404, message=message, request_id=rid)
    where = urlsplit(api_url + path).path
    fix = f"проверьте адрес API в настройке GIGACHAT_API_URL (сейчас {api_url})."
    if path == "/models":
        message = f"ГигаЧат не отдал список моделей: адреса {where} нет (404), {fix}"
    else:
        message = f"ГигаЧат не знает адрес {where} (404): {fix}"
    return EndpointNotFound(detail, status=404, message=message, request_id=rid)


def describe(error: GigaChatError) -> str:
    """One log-line fragment: code, status, GigaChat's own message and its X-Request-Id."""
    status = f" HTTP {error.status}" if error.status else ""
    who = "GigaChat" if error.request_id else "detail"  # an answer's text, or ours
    said = f", {who}: {error.detail!r}" if error.detail else ""
    rid = f", X-Request-Id: {error.request_id}" if error.request_id else ""
    return f"{error.code}{status}{said}{rid}"
