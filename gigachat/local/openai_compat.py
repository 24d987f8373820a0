"""Pure translation between OpenAI's API shapes and GigaChat's (no I/O).

Chat Completions (plain and streamed), models and embeddings. Decisions where the
two APIs differ:
- GigaChat takes one system message, first: all system/developer messages are
  joined (blank line between) into one leading system message.
- GigaChat has no parallel function calls: an assistant message with N tool_calls
  becomes N assistant messages, each placed right before its function result.
- temperature: OpenAI allows 0 (greedy), GigaChat needs > 0, so 0 becomes
  MIN_TEMPERATURE (as close to greedy as GigaChat allows); top_p is left alone.
- tool_choice "required" has no GigaChat twin: with one tool it forces that tool,
  otherwise it becomes "auto".
- finish_reason: function_call -> tool_calls, blacklist -> content_filter,
  error -> stop (the text received so far is returned as is).
Validation errors are ValueError with a Russian message meant for the user.
"""

from __future__ import annotations

import base64
import json
import struct
import time
import uuid
from collections.abc import Iterable, Iterator
from typing import Any

MIN_TEMPERATURE = 0.001
SSE_DONE = b"data: [DONE]\n\n"

_ROLES = ("system", "developer", "user", "assistant", "tool", "function")
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


# ---------------------------------------------------------------- helpers


def _new_id(prefix: str) -> str:
    """A fresh OpenAI-style id such as chatcmpl-<hex>."""
    return prefix + uuid.uuid4().hex


def _is_number(value: object) -> bool:
    """True for int/float but not bool."""
    return isinstance(value, int | float) and not isinstance(value, bool)


def _text(content: object, where: str) -> str:
    """Message content (string, list of text parts, or null) -> plain text."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if not isinstance(content, list):
        raise ValueError(f"{where}: content должно быть строкой, списком текстовых частей или null.")
    texts = []
    for k, part in enumerate(content):
        if not isinstance(part, dict) or part.get("type") != "text":
            kind = part.get("type") if isinstance(part, dict) else type(part).__name__
            raise ValueError(
                f"{where}.content[{k}]: поддерживаются только текстовые части (type «text»), "
                f"получено {kind!r}."
            )
        if not isinstance(part.get("text"), str):
            raise ValueError(f"{where}.content[{k}]: поле text должно быть строкой.")
        texts.append(part["text"])
    return "\n".join(texts)


def _arguments(raw: object, where: str) -> dict:
    """OpenAI's arguments (a JSON string) -> the JSON object GigaChat expects."""
    if isinstance(raw, dict):
        return raw
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return {}
    try:
        value = json.loads(raw) if isinstance(raw, str) else None
    except ValueError:
        value = None
    if not isinstance(value, dict):
        raise ValueError(f"{where}: arguments должно быть строкой с JSON-объектом.")
    return value


def _function_result(text: str) -> str:
    """Tool output -> a JSON object in a string (non-objects wrapped as {"result": ...})."""
    try:
        value: Any = json.loads(text, parse_constant=str)
    except ValueError:
        value = text
    if isinstance(value, dict):
        return text
    return json.dumps({"result": value}, ensure_ascii=False)


def _tool_calls(msg: Json, where: str) -> list[tuple[str | None, str, dict]]:
    """An assistant message's calls as (tool_call_id or None for legacy, name, arguments)."""
    calls = []
    raw_calls = msg.get("tool_calls")
    if raw_calls is not None:
        if not isinstance(raw_calls, list):
            raise ValueError(f"{where}.tool_calls: ожидается список вызовов функций.")
        for k, call in enumerate(raw_calls):
            fn = call.get("function") if isinstance(call, dict) else None
            if not isinstance(fn, dict) or not isinstance(fn.get("name"), str) or not fn["name"]:
                raise ValueError(f"{where}.tool_calls[{k}]: не указано имя функции.")
            call_id = call.get("id")
            if not isinstance(call_id, str) or not call_id:
                raise ValueError(f"{where}.tool_calls[{k}]: не указан id вызова.")
            args = _arguments(fn.get("arguments"), f"{where}.tool_calls[{k}].function")
            calls.append((call_id, fn["name"], args))
    legacy = msg.get("function_call")
    if isinstance(legacy, dict) and isinstance(legacy.get("name"), str):
        args = _arguments(legacy.get("arguments"), f"{where}.function_call")
        calls.append((None, legacy["name"], args))
    return calls


def _function_spec(fn: object, where: str) -> Json:
    """OpenAI function definition -> GigaChat function {name, description, parameters}."""
    if not isinstance(fn, dict) or not isinstance(fn.get("name"), str) or not fn["name"]:
        raise ValueError(f"{where}: не указано имя функции.")
    spec: Json = {"name": fn["name"]}
    if isinstance(fn.get("description"), str):
        spec["description"] = fn["description"]
    spec["parameters"] = fn.get("parameters") or {"type": "object", "properties": {}}
    return spec


def _functions(body: Json) -> list[Json]:
    """tools (or legacy functions) -> GigaChat functions."""
    tools = body.get("tools")
    if tools is None:
        legacy = body.get("functions") or []
        if not isinstance(legacy, list):
            raise ValueError("Поле functions должно быть списком функций.")
        return [_function_spec(fn, f"functions[{k}]") for k, fn in enumerate(legacy)]
    if not isinstance(tools, list):
        raise ValueError("Поле tools должно быть списком инструментов.")
    specs = []
    for k, tool in enumerate(tools):
        if not isinstance(tool, dict) or tool.get("type", "function") != "function":
            raise ValueError(f"tools[{k}]: поддерживаются только инструменты типа function.")
        specs.append(_function_spec(tool.get("function"), f"tools[{k}].function"))
    return specs


def _function_call(choice: object, functions: list[Json]) -> str | Json:
    """tool_choice (or legacy function_call) -> GigaChat function_call."""
    if choice in ("auto", "none"):
        return str(choice)
    if choice == "required":
        return {"name": functions[0]["name"]} if len(functions) == 1 else "auto"
    if isinstance(choice, dict):
        fn = choice.get("function") if choice.get("type") == "function" else choice
        name = fn.get("name") if isinstance(fn, dict) else None
        if isinstance(name, str) and name:
            return {"name": name}
    raise ValueError(
        "Недопустимое значение tool_choice: ожидается «auto», «none», «required» "
        'или {"type": "function", "function": {"name": ...}}.'
    )


def _messages(raw: object) -> list[Json]:
    """OpenAI messages -> GigaChat messages (one leading system message, no parallel calls)."""
    if not isinstance(raw, list) or not raw:
        raise ValueError("Поле messages должно быть непустым списком сообщений.")
    system: list[str] = []
    out: list[Json] = []
    names: dict[str, str] = {}  # tool_call_id -> function name
    pending: dict[str, Json] = {}  # tool_call_id -> assistant call waiting for its result

    def flush() -> None:
        out.extend(pending.values())
        pending.clear()

    for i, msg in enumerate(raw):
        where = f"messages[{i}]"
        if not isinstance(msg, dict):
            raise ValueError(f"{where}: сообщение должно быть объектом.")
        role = msg.get("role")
        if role not in _ROLES:
            raise ValueError(
                f"{where}.role: недопустимая роль {role!r}; "
                "допустимы system, user, assistant, tool, function."
            )
        if msg.get("content") is None and role != "assistant":
            raise ValueError(f"{where}: у сообщения с ролью {role} нет содержимого (content).")
        text = _text(msg.get("content"), where)
        if role in ("system", "developer"):
            system.append(text)
            continue
        if role == "tool":
            call_id = msg.get("tool_call_id")
            name = names.get(call_id) if isinstance(call_id, str) else None
            name = name or msg.get("name")
            if not isinstance(name, str) or not name:
                raise ValueError(f"{where}: не найден вызов функции с tool_call_id {call_id!r}.")
            if call_id in pending:
                out.append(pending.pop(call_id))
            out.append({"role": "function", "name": name, "content": _function_result(text)})
            continue
        flush()
        if role == "function":
            name = msg.get("name")
            if not isinstance(name, str) or not name:
                raise ValueError(f"{where}: у сообщения с ролью function не указано имя (name).")
            out.append({"role": "function", "name": name, "content": _function_result(text)})
        elif role == "assistant" and (calls := _tool_calls(msg, where)):
            for k, (call_id, name, args) in enumerate(calls):
                call_msg = {
                    "role": "assistant",
                    "content": text if k == 0 else "",
                    "function_call": {"name": name, "arguments": args},
                }
                if call_id is None:
                    out.append(call_msg)
                else:
                    names[call_id] = name
                    pending[call_id] = call_msg
        else:
            out.append({"role": role, "content": text})
    flush()
    merged = "\n\n".join(part for part in system if part)
    return ([{"role": "system", "content": merged}] if merged else []) + out


def _number(body: Json, name: str, low: float = 0.0, high: float | None = None) -> float | None:
    """An optional numeric field within [low, high], else ValueError."""
    value = body.get(name)
    if value is None:
        return None
    if not _is_number(value) or value < low or (high is not None and value > high):
        limits = f"от {low:g} до {high:g}" if high is not None else f"не меньше {low:g}"
        raise ValueError(f"Поле {name} должно быть числом {limits}.")
    return value


# ---------------------------------------------------------------- chat


def chat_request_to_gigachat(body: Json, default_model: str) -> Json:
    """OpenAI chat.completions request -> GigaChat /chat/completions payload."""
    if not isinstance(body, dict):
        raise ValueError("Тело запроса должно быть JSON-объектом.")
    model = body.get("model") or default_model
    if not isinstance(model, str):
        raise ValueError("Поле model должно быть строкой.")
    if body.get("n") not in (None, 1):
        raise ValueError("GigaChat возвращает один вариант ответа: поле n должно быть равно 1.")
    payload: Json = {"model": model, "messages": _messages(body.get("messages"))}

    functions = _functions(body)
    if functions:
        payload["functions"] = functions
        choice = body.get("tool_choice", body.get("function_call"))
        if choice is not None:
            payload["function_call"] = _function_call(choice, functions)

    temperature = _number(body, "temperature")
    if temperature is not None:
        payload["temperature"] = max(temperature, MIN_TEMPERATURE)
    top_p = _number(body, "top_p", 0.0, 1.0)
    if top_p is not None:
        payload["top_p"] = top_p
    repetition_penalty = _number(body, "repetition_penalty")
    if repetition_penalty is not None:
        payload["repetition_penalty"] = repetition_penalty
    max_tokens = body.get("max_completion_tokens", body.get("max_tokens"))
    if max_tokens is not None:
        if not isinstance(max_tokens, int) or isinstance(max_tokens, bool) or max_tokens < 1:
            raise ValueError("Поле max_tokens должно быть положительным целым числом.")
        payload["max_tokens"] = max_tokens
    stream = body.get("stream")
    if stream is not None:
        if not isinstance(stream, bool):
            raise ValueError("Поле stream должно быть true или false.")
        payload["stream"] = stream

    response_format = body.get("response_format")
    if isinstance(response_format, dict) and response_format.get("type") == "json_schema":
        schema = response_format.get("json_schema") or {}
        payload["response_format"] = {"type": "json_schema", "schema": schema.get("schema", {})}
        if "strict" in schema:
            payload["response_format"]["strict"] = bool(schema["strict"])
    return payload


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
    return b"data: " + json.dumps(obj, ensure_ascii=False).encode("utf-8") + b"\n\n"


# ---------------------------------------------------------------- models, embeddings, errors


def models_to_openai(gigachat_models: Json) -> Json:
    """GigaChat GET /models -> OpenAI model list."""
    data = [
        {
            "id": m["id"],
            "object": "model",
            "created": 0,
            "owned_by": m.get("owned_by") or "salutedevices",
        }
        for m in gigachat_models.get("data") or []
        if isinstance(m, dict) and m.get("id")
    ]
    return {"object": "list", "data": data}


def embeddings_request_to_gigachat(
    body: Json, default_model: str = "Embeddings"
) -> tuple[str, list[str]]:
    """OpenAI embeddings request -> (GigaChat model, list of texts)."""
    if not isinstance(body, dict):
        raise ValueError("Тело запроса должно быть JSON-объектом.")
    model = body.get("model") or default_model
    if not isinstance(model, str):
        raise ValueError("Поле model должно быть строкой.")
    if body.get("encoding_format") not in (None, "float", "base64"):
        raise ValueError("Поле encoding_format должно быть «float» или «base64».")
    texts = body.get("input")
    if isinstance(texts, str):
        return model, [texts]
    if isinstance(texts, list) and texts and all(isinstance(t, str) for t in texts):
        return model, list(texts)
    if isinstance(texts, list) and texts and all(isinstance(t, int | list) for t in texts):
        raise ValueError(
            "Массивы токенов не поддерживаются: передайте в input строку или список строк."
        )
    raise ValueError("Поле input должно быть строкой или непустым списком строк.")


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
    status: int, message: str, type_: str | None = None, code: str | None = None
) -> Json:
    """An OpenAI-style error body; type follows the HTTP status unless given."""
    if type_ is None:
        type_ = _ERROR_TYPES.get(status) or (
            "server_error" if status >= 500 else "invalid_request_error"
        )
    return {"error": {"message": message, "type": type_, "param": None, "code": code}}
