"""What both local APIs answer with: JSON bytes, the internal-error text, the request record."""

from __future__ import annotations

import bottle

from gigachat.local.guards import INTERNAL_MESSAGE, request_record
from gigachat.local.json_body import json_bytes

JSON_TYPE = "application/json; charset=utf-8"
INTERNAL_ERROR = INTERNAL_MESSAGE  # one text for every unexpected failure


def json_out(payload: object, status: int = 200) -> bytes:
    """Set the status and JSON content type; the encoded body (Cache-Control: the app hook)."""
    bottle.response.status = status
    bottle.response.content_type = JSON_TYPE
    return json_bytes(payload)


def note(model: str | None = None, usage: object = None, error: str | None = None) -> None:
    """Tell the request log the model, token count and failure code (never the text)."""
    record = request_record(bottle.request.environ)
    if model:
        record.model = model
    if isinstance(usage, dict):
        record.tokens = usage.get("total_tokens", "-")
    if error:
        record.error = error


def read_body() -> bytes:
    """The request body, read straight from the WSGI stream the guards buffered (capped) in
    memory: bottle's request.body would spill bodies over 100 KB into a temporary file."""
    environ = bottle.request.environ
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    stream = environ.get("wsgi.input")
    return stream.read(length) if stream is not None and length > 0 else b""
