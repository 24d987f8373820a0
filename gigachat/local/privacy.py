"""Personal-data masking for every route: the request's flags, what is sent, what comes back.

One `Privacy` per request (off when masking is not asked for):

    body, privacy = privacy_for_body(body, settings)      # /analyze/*, jobs: flags + files
    client = privacy.client(bridge.client)               # every GigaChat call goes through it
    answer = privacy.answer(route_answer)                 # originals back + "masked" counts

The masked client masks every message text of a payload (and function arguments/results)
and restores the originals in the answer and in every streamed chunk, before the route
renders HTML, parses JSON or coerces types. Only placeholders leave the PC; the values
stay in the Masker's memory, never in a log line or the request record.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from gigachat.core.bridge import Bridge
from gigachat.core.errors import InvalidRequest
from gigachat.local.guards import RECORD_KEY, RequestRecord, request_record
from gigachat.local.masking import Masker
from gigachat.local.privacy_files import check_files, mask_files, mask_openai_parts
from gigachat.local.validation import optional

MASK_FIELD = "mask_personal_data"
ALLOW_FIELD = "allow_unmasked_files"
MASK_HEADER = "X-Mask-Personal-Data"
ALLOW_HEADER = "X-Allow-Unmasked-Files"
COUNTS_HEADER = "X-Masked-Personal-Data"  # the counts as ASCII JSON (headers are latin-1)
_TRUE, _FALSE = ("1", "true", "yes", "on"), ("0", "false", "no", "off")


class Privacy:
    """The masking of one request: `on` or a no-op; `counts()` says what was masked."""

    def __init__(self, masker: Masker | None = None, allow_unmasked_files: bool = False) -> None:
        self.masker = masker
        self.allow_unmasked_files = allow_unmasked_files

    def __repr__(self) -> str:
        return f"Privacy(on={self.on})"

    @property
    def on(self) -> bool:
        return self.masker is not None

    def counts(self) -> dict[str, int]:
        """Distinct values masked, by kind ({"ИНН": 2, "ФИО": 1}); {} when off."""
        return self.masker.counts() if self.masker is not None else {}

    # --- what goes out ------------------------------------------------------------------

    def mask(self, text: str) -> str:
        return self.masker.mask(text) if self.masker is not None else text

    def payload(self, payload: dict) -> dict:
        """A masked copy of a GigaChat chat payload (message texts, function calls/results)."""
        if self.masker is None:
            return payload
        out = {**payload, "messages": [self._message(m) for m in payload.get("messages") or []]}
        fmt = payload.get("response_format")
        if isinstance(fmt, dict) and isinstance(fmt.get("schema"), dict) and self.counts():
            out["response_format"] = {**fmt, "schema": _placeholder_numbers(fmt["schema"])}
        return out

    def _message(self, message: object) -> object:
        if not isinstance(message, dict):
            return message
        out = dict(message)
        content = out.get("content")
        if isinstance(content, str):
            out["content"] = (self._json_text(content) if out.get("role") == "function"
                              else self.mask(content))
        call = out.get("function_call")
        if isinstance(call, dict) and "arguments" in call:
            out["function_call"] = {**call, "arguments": self._masked_value(call["arguments"])}
        return out

    def _json_text(self, text: str) -> str:
        """A function result (a JSON object in a string) masked value by value, still JSON."""
        try:
            value = json.loads(text)
        except ValueError:
            return self.mask(text)
        return json.dumps(self._masked_value(value), ensure_ascii=False)

    def _masked_value(self, value: Any) -> Any:
        if isinstance(value, str):
            return self.mask(value)
        if isinstance(value, dict):
            return {key: self._masked_value(item) for key, item in value.items()}
        if isinstance(value, list):
            return [self._masked_value(item) for item in value]
        if isinstance(value, int) and not isinstance(value, bool):
            masked = self.mask(str(value))  # an ИНН sent as a JSON number
            return value if masked == str(value) else masked
        return value

    def texts(self, texts: list[str]) -> list[str]:
        return [self.mask(text) for text in texts]

    def body(self, body: dict) -> dict:
        """The 1C body with its text files masked; other files refused unless allowed."""
        if self.masker is None:
            return body
        return mask_files(body, self.masker, self.allow_unmasked_files)

    def openai_body(self, body: dict) -> dict:
        """The OpenAI body with text file parts masked; images/other files refused unless
        allowed (the message texts are masked in the payload)."""
        if self.masker is None:
            return body
        return mask_openai_parts(body, self.masker, self.allow_unmasked_files)

    # --- what comes back ----------------------------------------------------------------

    def restore(self, obj: Any) -> Any:
        return self.masker.restore(obj) if self.masker is not None else obj

    def answer(self, answer: dict) -> dict:
        """A route's answer with every original back and `masked` (counts by kind) added."""
        if self.masker is None or not isinstance(answer, dict):
            return answer
        return {**self.masker.restore(answer), "masked": self.counts()}

    def set_counts_header(self, response) -> None:
        """X-Masked-Personal-Data: the counts as ASCII JSON (headers are latin-1); when on."""
        if self.masker is not None:
            response.set_header(COUNTS_HEADER, json.dumps(self.counts(), ensure_ascii=True,
                                                          separators=(",", ":")))

    def chunks(self, chunks: Iterator[dict]) -> Iterator[dict]:
        """Streamed chunks with the originals back; a placeholder split across chunks is
        held back until it is whole (closing this closes the upstream stream)."""
        if self.masker is None:
            return chunks
        return _restored_chunks(self.masker, chunks)

    def client(self, client):
        """`client` (GigaChatClient) with every chat call masked and restored; itself if off."""
        return client if self.masker is None else MaskedClient(client, self)

    def bridge(self, bridge: Bridge) -> Bridge:
        """A Bridge whose client is `client(bridge.client)` (for code that takes a Bridge)."""
        return bridge if self.masker is None else dataclasses.replace(
            bridge, client=MaskedClient(bridge.client, self))


OFF = Privacy()
_NUMBERS = ("number", "integer")
_SUBSCHEMAS = ("properties", "$defs", "definitions", "patternProperties")


def _placeholder_numbers(schema: Any) -> Any:
    """A JSON Schema whose number fields also take a string: a masked ИНН can come back only
    as "[ИНН_1]"; the route coerces the restored "7707083893" into a number afterwards."""
    if isinstance(schema, list):
        return [_placeholder_numbers(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    out = {}
    for key, value in schema.items():
        if key in _SUBSCHEMAS and isinstance(value, dict):
            out[key] = {name: _placeholder_numbers(sub) for name, sub in value.items()}
        elif key in ("items", "anyOf", "oneOf", "allOf", "additionalProperties"):
            out[key] = _placeholder_numbers(value)
        else:
            out[key] = value
    kind = schema.get("type")
    kinds = kind if isinstance(kind, list) else [kind]
    if any(k in _NUMBERS for k in kinds) and "string" not in kinds:
        out["type"] = ["string", *kinds]
    return out


def _restored_chunks(masker: Masker, chunks: Iterator[dict]) -> Iterator[dict]:
    restorers: dict[int, Any] = {}
    model = None
    try:
        for chunk in chunks:
            if not isinstance(chunk, dict):
                yield chunk
                continue
            model = chunk.get("model") or model
            choices = []
            for choice in chunk.get("choices") or []:
                if not isinstance(choice, dict):
                    choices.append(choice)
                    continue
                index = choice.get("index", 0) if isinstance(choice.get("index"), int) else 0
                restorer = restorers.setdefault(index, masker.restore_stream())
                delta = dict(choice.get("delta") or {}) if isinstance(choice.get("delta"),
                                                                      dict) else {}
                if isinstance(delta.get("content"), str):
                    delta["content"] = restorer.feed(delta["content"])
                if choice.get("finish_reason"):
                    rest = restorer.finish()
                    if rest:
                        delta["content"] = (delta.get("content") or "") + rest
                if "function_call" in delta:
                    delta["function_call"] = masker.restore(delta["function_call"])
                choices.append({**choice, "delta": delta})
            yield {**chunk, "choices": choices}
        for index, restorer in sorted(restorers.items()):
            rest = restorer.finish()  # a stream that ended without finish_reason
            if rest:
                yield {"choices": [{"index": index, "delta": {"content": rest}}], "model": model}
    finally:
        close = getattr(chunks, "close", None)
        if close is not None:
            close()


class MaskedClient:
    """A GigaChatClient whose chat calls send placeholders and return the originals."""

    def __init__(self, client, privacy: Privacy) -> None:
        self._client = client
        self._privacy = privacy

    def __getattr__(self, name: str):
        return getattr(self._client, name)

    def chat(self, payload: dict, **options) -> dict:
        return self._privacy.restore(self._client.chat(self._privacy.payload(payload), **options))

    def chat_stream(self, payload: dict, **options) -> Iterator[dict]:
        sent = self._privacy.payload(payload)  # masked now: a model-loading failure raises here
        return self._privacy.chunks(self._client.chat_stream(sent, **options))

    def embeddings(self, texts: list[str], *args, **options) -> dict:
        return self._client.embeddings(self._privacy.texts(texts), *args, **options)

    def tokens_count(self, texts: list[str], *args, **options) -> list:
        return self._client.tokens_count(self._privacy.texts(texts), *args, **options)


# --- the request's flags ------------------------------------------------------------------


class MaskedRecord(RequestRecord):
    """The request record of a masked request: its text reads back masked, so the request
    log (log_bodies) shows placeholders, never the values."""

    def __init__(self, base: RequestRecord, masker: Masker) -> None:
        self._masker = masker
        self._raw: str | None = None
        self._shown: str | None = None
        for item in dataclasses.fields(RequestRecord):
            setattr(self, item.name, getattr(base, item.name))

    @property
    def text(self) -> str | None:  # type: ignore[override]
        if self._raw is not None and self._shown is None:
            self._shown = self._masker.mask(self._raw)
        return self._shown

    @text.setter
    def text(self, value: str | None) -> None:
        self._raw, self._shown = value, None


def _new(mask: bool, allow: bool, environ: dict | None) -> Privacy:
    if not mask:
        return Privacy(None, allow)
    privacy = Privacy(Masker(), allow)
    if environ is not None:
        environ[RECORD_KEY] = MaskedRecord(request_record(environ), privacy.masker)
    return privacy


def body_flags(body: object, default: bool) -> tuple[bool, bool]:
    """(mask, allow_unmasked_files) of a 1C body: its fields, else the setting."""
    if not isinstance(body, dict):
        return default, False
    mask = optional(body, MASK_FIELD, bool)
    allow = optional(body, ALLOW_FIELD, bool)
    return (default if mask is None else mask), bool(allow)


def privacy_for_body(body: object, settings, environ: dict | None = None
                     ) -> tuple[object, Privacy]:
    """The body to run (text files masked) and the request's Privacy; with the WSGI
    `environ` of an HTTP request, its request record shows only masked text.

    Raises InvalidRequest for a wrong flag, a PDF/image with masking on (unless
    allow_unmasked_files), or a text file that cannot be read.
    """
    mask, allow = body_flags(body, bool(getattr(settings, "mask_personal_data", False)))
    privacy = _new(mask, allow, environ)
    return (privacy.body(body) if isinstance(body, dict) else body), privacy


def _header_flag(headers: Mapping[str, str], name: str) -> bool | None:
    raw = headers.get(name)
    if raw is None or not raw.strip():
        return None
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise InvalidRequest(f"Заголовок {name} должен быть 1 (включить) или 0 (выключить).",
                         field=name)


def privacy_for_openai(headers: Mapping[str, str], body: object, settings,
                       environ: dict | None = None) -> tuple[object, Privacy]:
    """Privacy of an OpenAI-compatible request (headers X-Mask-Personal-Data,
    X-Allow-Unmasked-Files; the setting is the default) and the body with file parts masked."""
    mask = _header_flag(headers, MASK_HEADER)
    if mask is None:
        mask = bool(getattr(settings, "mask_personal_data", False))
    privacy = _new(mask, bool(_header_flag(headers, ALLOW_HEADER)), environ)
    return (privacy.openai_body(body) if isinstance(body, dict) else body), privacy


def pin_job_bodies(bodies: list[dict], settings) -> list[dict]:
    """Job bodies with the masking default of submission time written in (a job runs as it
    was asked, even after the setting changes), checked now (files refused at POST /jobs)."""
    default = bool(getattr(settings, "mask_personal_data", False))
    out = []
    for index, body in enumerate(bodies):
        try:
            mask, allow = body_flags(body, default)
            if mask and isinstance(body, dict):
                check_files(body, allow)  # the refusals, before anything is queued
        except InvalidRequest as error:
            if len(bodies) == 1:
                raise
            field = f"items[{index}]" + (f".{error.field}" if error.field else "")
            raise InvalidRequest(f"Элемент {index}: {error.message}", field=field,
                                 code=error.code) from None
        if mask and isinstance(body, dict) and body.get(MASK_FIELD) is None:
            body = {**body, MASK_FIELD: True}
        out.append(body)
    return out


def run_job_item(run: Callable[[Any, dict], dict], ctx, body: dict) -> dict:
    """A job item run with its masking (the jobs runner's hook): `run(ctx, body)` with the
    context's bridge masked; the answer, or an ItemError's failure answer, restored."""
    body, privacy = privacy_for_body(body, ctx.bridge.settings)
    if not privacy.on:
        return run(ctx, body)
    from gigachat.local.jobs.registry import ItemError  # the registry imports the routes

    try:
        return privacy.answer(run(dataclasses.replace(ctx, bridge=privacy.bridge(ctx.bridge)),
                                  body))
    except ItemError as failure:
        failure.answer = privacy.answer(failure.answer)
        raise
