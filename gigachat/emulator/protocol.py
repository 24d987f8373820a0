"""What every emulator module shares: paths, the request/reply types, API-style errors."""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from email.message import Message
from typing import Any

OAUTH_PATH = "/api/v2/oauth"
API_PREFIX = "/api/v1"
CONTROL_PREFIX = "/_emulator/"
JSON_TYPE = "application/json; charset=utf-8"
MODEL_VERSION = "2.0.28.2"

STATUS_MESSAGES = {
    400: "Bad request",
    401: "Unauthorized",
    402: "Payment Required",
    403: "Permission denied",
    404: "Not found",
    405: "Method not allowed",
    413: "Payload too large",
    422: "Invalid params",
    429: "Too many requests",
    500: "Internal Server Error",
    501: "Not implemented",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}


def status_message(status: int) -> str:
    """GigaChat's short text for a status code."""
    return STATUS_MESSAGES.get(status, "Error")


def dumps(value: Any) -> str:
    """Compact-ish JSON with Cyrillic as is; ASCII escapes when the text holds lone surrogates."""
    text = json.dumps(value, ensure_ascii=False)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return json.dumps(value)
    return text


def is_number(value: Any) -> bool:
    """A finite int or float, not a bool."""
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def count_tokens(text: str) -> int:
    """Deterministic token estimate: one token per four characters, rounded up."""
    return (len(text) + 3) // 4


class ClientGone(Exception):
    """The client closed its connection before the answer was ready."""


class HttpError(Exception):
    """A finished error answer raised from deep inside a handler."""

    def __init__(self, status: int, body: Any, headers: Mapping[str, str] | None = None):
        super().__init__(status)
        self.status = status
        self.body = body
        self.headers = dict(headers or {})

    @classmethod
    def api(cls, status: int, message: str | None = None, **headers: str) -> HttpError:
        """API-style error: ``{"status": n, "message": "..."}``."""
        return cls(status, {"status": status, "message": message or status_message(status)}, headers)

    @classmethod
    def oauth(cls, status: int, code: int, message: str) -> HttpError:
        """OAuth-style error: ``{"code": n, "message": "..."}``."""
        return cls(status, {"code": code, "message": message})

    @classmethod
    def invalid(cls, detail: str) -> HttpError:
        """422 ``Invalid params: <detail>``."""
        return cls.api(422, f"Invalid params: {detail}")

    def reply(self) -> Reply:
        """The error as a reply."""
        return Reply(self.status, self.body, self.headers)


@dataclass
class Reply:
    """What a route answers: JSON ``body``, raw bytes, an SSE stream (``events``) or a drop.

    ``raw_json`` is a JSON text sent as is (for answers ``json.dumps`` cannot produce, such as
    a lone surrogate escape); ``chunk_delay()`` gives the pause between SSE events (read
    while pausing, so a lower new setting ends a pause early).
    """

    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    events: list[str] | None = None
    drop: bool = False
    raw: bytes | None = None
    content_type: str = JSON_TYPE
    raw_json: str | None = None
    chunk_delay: Callable[[], float] = lambda: 0.0
    release: Callable[[], None] | None = None

    def finish(self) -> None:
        """Run the release callback once (frees the in-flight slot)."""
        release, self.release = self.release, None
        if release is not None:
            release()

    def payload(self) -> bytes:
        """The bytes of a non-streamed answer."""
        if self.raw is not None:
            return self.raw
        if self.raw_json is not None:
            return self.raw_json.encode("utf-8")
        return dumps(self.body).encode("utf-8")


@dataclass
class Request:
    """A parsed HTTP request as the routes see it."""

    method: str
    path: str
    headers: Message
    body: bytes
    request_id: str = ""
    session_id: str = ""
    client_gone: Callable[[], bool] = lambda: False

    def json_object(self) -> dict[str, Any]:
        """Decode the body as a JSON object or raise 400."""
        try:
            value = json.loads(self.body.decode("utf-8"))
        except UnicodeDecodeError as exc:
            raise HttpError.api(400, "Bad request: body is not valid UTF-8") from exc
        except (json.JSONDecodeError, RecursionError) as exc:
            raise HttpError.api(400, "Bad request: invalid JSON") from exc
        if not isinstance(value, dict):
            raise HttpError.api(400, "Bad request: JSON object expected")
        return value


@dataclass(frozen=True)
class Route:
    """Handlers of one path by method; ``kind`` is oauth, api or control."""

    name: str
    kind: str
    handlers: Mapping[str, Callable[[Request], Reply]]
