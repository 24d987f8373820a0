"""GigaChat answers -> OpenAI shapes (pure, no I/O): chat, streamed chunks, models, embeddings.

Requests go the other way in openai_request. Decisions where the two APIs differ:
- finish_reason: function_call -> tool_calls, blacklist -> content_filter,
  error -> stop (the text received so far is returned as is).
- GigaChat's function_call arguments (a JSON object) become OpenAI's arguments string.
- /models entries keep GigaChat's `type` (chat, embedder, ...) as an extra field.
"""

from __future__ import annotations

import base64
import json
import struct
import time
import uuid
from collections.abc import Iterable, Iterator
from typing import Any

from gigachat.local.json_body import json_bytes

SSE_DONE = b"data: [DONE]\n\n"

_FINISH_REASONS = {
    "stop": "stop",
    "length": "length",
    "function_call": "tool_calls",
    "blacklist": "content_filter",
    "error": "stop",
}
_ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    402: "insufficient_quota",
    403: "permission_error",
    404: "not_found_error",
    413: "invalid_request_error",
    422: "invalid_request_error",
    429: "rate_limit_exceeded",
}

Json = dict[str, Any]


# ---------------------------------------------------------------- chat


def _new_id(prefix: str) -> str:
    """A fresh OpenAI-style id such as chatcmpl-<hex>."""
    return prefix + uuid.uuid4().hex


def _openai_tool_call(function_call: Json) -> Json:
    """GigaChat function_call {name, arguments: object} -> OpenAI tool call (arguments string)."""
    args = function_call.get("arguments")
    if not isinstance(args, str):
        args = json.dumps(args if args is not None else {}, ensure_ascii=False)
    return {
        "id": _new_id("call_"),
        "type": "function",
        "function": {"name": function_call.get("name") or "", "arguments": args},
    }


def _finish_reason(reason: object) -> str:
    """GigaChat finish_reason -> OpenAI finish_reason."""
    return _FINISH_REASONS.get(reason, "stop") if isinstance(reason, str) else "stop"


def _usage(usage: object) -> Json | None:
    """GigaChat usage -> OpenAI usage (cached prompt tokens as prompt_tokens_details)."""
    if not isinstance(usage, dict):
        return None
    prompt = int(usage.get("prompt_tokens") or 0)
    completion = int(usage.get("completion_tokens") or 0)
    out: Json = {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": int(usage.get("total_tokens") or prompt + completion),
    }
    if usage.get("precached_prompt_tokens"):
        out["prompt_tokens_details"] = {"cached_tokens": int(usage["precached_prompt_tokens"])}
    return out


def chat_response_to_openai(resp: Json, request_model: str | None = None) -> Json:
    """GigaChat chat completion -> OpenAI chat.completion."""
    choices = []
    for k, choice in enumerate(resp.get("choices") or []):
        msg = choice.get("message") or {}
        message: Json = {"role": "assistant", "content": msg.get("content") or ""}
        finish = _finish_reason(choice.get("finish_reason"))
        if isinstance(msg.get("function_call"), dict):
            message["content"] = msg.get("content") or None
            message["tool_calls"] = [_openai_tool_call(msg["function_call"])]
            finish = "tool_calls"
        choices.append(
            {
                "index": choice.get("index", k),
                "message": message,
                "logprobs": None,
                "finish_reason": finish,
            }
        )
    out: Json = {
        "id": _new_id("chatcmpl-"),
        "object": "chat.completion",
        "created": int(resp.get("created") or time.time()),
        "model": resp.get("model") or request_model or "GigaChat",
        "choices": choices,
    }
    usage = _usage(resp.get("usage"))
    if usage:
        out["usage"] = usage
    return out


class StreamTranslator:
    """GigaChat stream chunks -> OpenAI chat.completion.chunk dicts sharing one id and created."""

    def __init__(self, model: str | None = None, *, include_usage: bool = False) -> None:
        self.id = _new_id("chatcmpl-")
        self.created = int(time.time())
        self.model = model or "GigaChat"
        self.include_usage = include_usage
        self._started = False  # a chunk (with the role) has been emitted
        self._finished = False
        self._called = False  # a function call was streamed
        self._usage: Json | None = None

    def _chunk(self, choices: list[Json], **extra: Any) -> Json:
        """An OpenAI chunk envelope."""
        return {
            "id": self.id,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": self.model,
            "choices": choices,
            **extra,
        }

    def translate(self, chunk: Json) -> list[Json]:
        """One GigaChat chunk -> zero or more OpenAI chunks."""
        if not self._started and chunk.get("model"):
            self.model = chunk["model"]
        self._usage = _usage(chunk.get("usage")) or self._usage
        out = []
        for choice in chunk.get("choices") or []:
            delta_in = choice.get("delta") or {}
            delta: Json = {}
            if delta_in.get("content"):
                delta["content"] = delta_in["content"]
            if isinstance(delta_in.get("function_call"), dict):
                delta["tool_calls"] = [{"index": 0, **_openai_tool_call(delta_in["function_call"])}]
                self._called = True
            reason = None
            if choice.get("finish_reason"):
                reason = "tool_calls" if self._called else _finish_reason(choice["finish_reason"])
                self._finished = True
            if not delta and reason is None and self._started:
                continue
            if not self._started:
                delta = {"role": "assistant", "content": delta.get("content", ""), **delta}
                self._started = True
            out.append(
                self._chunk(
                    [
                        {
                            "index": choice.get("index", 0),
                            "delta": delta,
                            "logprobs": None,
                            "finish_reason": reason,
                        }
                    ]
                )
            )
        return out

    def close(self) -> list[Json]:
        """Trailing chunks: a finish chunk if none came, then the usage chunk if asked for."""
        out = []
        if not self._finished:
            delta: Json = {} if self._started else {"role": "assistant", "content": ""}
            choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": "stop"}
            out.append(self._chunk([choice]))
            self._started = self._finished = True
        if self.include_usage:
            usage = self._usage or {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0}
            out.append(self._chunk([], usage=usage))
            self.include_usage = False
        return out


def stream_to_openai(
    chunks: Iterable[Json], model: str | None = None, *, include_usage: bool = False
) -> Iterator[bytes]:
    """GigaChat stream chunks -> OpenAI SSE bytes, ending with data: [DONE]."""
    translator = StreamTranslator(model, include_usage=include_usage)
    for chunk in chunks:
        for out in translator.translate(chunk):
            yield sse_event(out)
    for out in translator.close():
        yield sse_event(out)
    yield SSE_DONE


def sse_event(obj: object) -> bytes:
    """One server-sent event: data: <json>\\n\\n (UTF-8)."""
    return b"data: " + json_bytes(obj) + b"\n\n"


# ---------------------------------------------------------------- models, embeddings, errors


def models_to_openai(gigachat_models: Json) -> Json:
    """GigaChat GET /models -> OpenAI model list."""
    data = [
        {
            "id": m["id"],
            "object": "model",
            "created": 0,
            "owned_by": m.get("owned_by") or "salutedevices",
            **({"type": m["type"]} if isinstance(m.get("type"), str) else {}),
        }
        for m in gigachat_models.get("data") or []
        if isinstance(m, dict) and m.get("id")
    ]
    return {"object": "list", "data": data}


def embeddings_response_to_openai(
    resp: Json, model: str, *, encoding_format: str | None = None
) -> Json:
    """GigaChat /embeddings answer -> OpenAI embeddings list (base64 = little-endian float32)."""
    items = [
        (item.get("index", k), item) for k, item in enumerate(resp.get("data") or [])
    ]
    data = []
    tokens = 0
    for index, item in sorted(items, key=lambda pair: pair[0]):
        vector = item.get("embedding") or []
        if encoding_format == "base64":
            vector = base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode("ascii")
        data.append({"object": "embedding", "index": index, "embedding": vector})
        tokens += int((item.get("usage") or {}).get("prompt_tokens") or 0)
    return {
        "object": "list",
        "data": data,
        "model": model,
        "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
    }


def openai_error(
    status: int, message: str, type_: str | None = None, code: str | None = None,
    param: str | None = None,
) -> Json:
    """An OpenAI-style error body; type follows the HTTP status unless given."""
    if type_ is None:
        type_ = _ERROR_TYPES.get(status) or (
            "server_error" if status >= 500 else "invalid_request_error"
        )
    return {"error": {"message": message, "type": type_, "param": param, "code": code}}
