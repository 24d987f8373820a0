"""POST /analyze/extract: the body checked before any call, the extraction, the 1C answer.

Answer (HTTP 200, identifier-safe keys for a 1C Структура)::

    {"success": true, "data": {<exactly the requested names>}, "missing": [...],
     "error": null, "model": "...", "usage": {...}}
    {"success": false, "data": null, "missing": [], "error": "<Russian>", "model": "...",
     "usage": {...} | null, "raw": "<the model's last answer>" | null}
"""

from __future__ import annotations

import inspect
import uuid
from collections.abc import Callable
from dataclasses import dataclass

from gigachat.core.bridge import Bridge
from gigachat.core.client import GigaChatClient
from gigachat.core.errors import InvalidRequest
from gigachat.local.attachments import Uploads, attach_last, files_model, keeper_for, read_files
from gigachat.local.extract.engine import Chat, Outcome, extract, messages_for
from gigachat.local.extract.fields import fields_schema, given_schema
from gigachat.local.file_rules import FileInput
from gigachat.local.validation import optional

MAX_INSTRUCTIONS = 20_000
_TAKES_SESSION = "session_id" in inspect.signature(GigaChatClient.chat).parameters


@dataclass
class ExtractRequest:
    """A checked /analyze/extract body."""

    schema: dict
    text: str = ""
    files: list[FileInput] | None = None
    instructions: str | None = None
    model: str | None = None
    strict: bool = True  # a caller's schema: only when it closes its objects itself

    @property
    def names(self) -> list[str]:
        return list(self.schema["properties"])


def extract_request(body: object) -> ExtractRequest:
    """Validate a body (fields, text/files, instructions, model); InvalidRequest naming the
    field, before anything is sent anywhere."""
    if not isinstance(body, dict):
        raise InvalidRequest("Тело запроса должно быть JSON-объектом с полями text (или files) "
                             "и fields.")
    if body.get("fields") is not None and body.get("schema") is not None:
        raise InvalidRequest("Передайте либо fields, либо schema, но не оба поля сразу.",
                             field="fields", code="bad_fields")
    strict = True
    if body.get("schema") is not None:
        schema = given_schema(body["schema"])
        strict = schema.get("additionalProperties") is False
    elif body.get("fields") is not None:
        schema = fields_schema(body["fields"])
    else:
        raise InvalidRequest('Нет поля fields: перечислите нужные поля и их типы, например '
                             '{"ИНН": "строка", "Сумма": "число", "Дата": "дата"}.',
                             field="fields", code="bad_fields")
    text = optional(body, "text", str) or ""
    instructions = optional(body, "instructions", str)
    if instructions is not None and len(instructions) > MAX_INSTRUCTIONS:
        raise InvalidRequest(f"Поле instructions длиннее {MAX_INSTRUCTIONS} знаков.",
                             field="instructions")
    model = (optional(body, "model", str) or "").strip() or None
    files = read_files(body)
    if not text.strip() and not files:
        raise InvalidRequest("Нет ни текста (text), ни файлов (files): передайте документ, из "
                             "которого извлечь поля.", field="text")
    return ExtractRequest(schema, text, files, instructions, model, strict)


def success_answer(outcome: Outcome) -> dict:
    data = outcome.data or {}
    return {"success": True, "data": data,
            "missing": [name for name, value in data.items() if value is None],
            "error": None, "model": outcome.model or "", "usage": outcome.usage}


def failure_answer(message: str, model: str = "", usage: dict | None = None,
                   raw: str | None = None) -> dict:
    return {"success": False, "data": None, "missing": [], "error": message, "model": model,
            "usage": usage, "raw": raw}


def outcome_answer(outcome: Outcome) -> dict:
    if outcome.data is not None:
        return success_answer(outcome)
    return failure_answer(outcome.error or "", outcome.model or "", outcome.usage, outcome.raw)


def choose_model(bridge: Bridge, request: ExtractRequest) -> str:
    if request.files:
        return files_model(bridge, request.model)
    return bridge.client.pick_model(request.model)


def client_chat(client, deadline: float | None, session: str | None = None) -> Chat:
    """A chat function over `client` (the bridge's, maybe masked): the request's deadline,
    and the shared X-Session-ID when the client takes one."""
    options: dict = {"deadline": deadline}
    if session and _TAKES_SESSION:
        options["session_id"] = session
    return lambda payload: client.chat(payload, **options)


def run_extract(bridge: Bridge, request: ExtractRequest, model: str,
                make_chat: Callable[[str], Chat], deadline: float | None = None,
                parallel: int = 1) -> Outcome:
    """Upload the files, extract (calls share one X-Session-ID; up to `parallel` at once),
    delete the files."""
    chat = make_chat(uuid.uuid4().hex)
    messages = messages_for(request.text, request.instructions)
    with Uploads(keeper_for(bridge), deadline) as uploads:
        if request.files:
            ids = uploads.upload(request.files)
            messages = attach_last(messages, request.files, ids)
        return extract(chat, model, request.schema, messages, parallel=parallel,
                       strict=request.strict)
