"""``/chat/completions``: request rules, the composed answer, JSON and SSE shapes."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from gigachat.emulator import structured
from gigachat.emulator.answers import example_arguments, markdown_reply, split_words
from gigachat.emulator.protocol import MODEL_VERSION, HttpError, Reply, count_tokens, dumps, is_number

STREAM_WORDS_PER_CHUNK = 3
SURROGATE_MARK = "\ue000lone-surrogate\ue000"  # replaced by a literal \ud800 escape on the wire


@dataclass
class ChatResult:
    """A composed assistant answer before it is shaped as JSON or SSE."""

    model: str
    message: dict[str, Any]
    finish_reason: str
    usage: dict[str, int]


def validate_chat(payload: dict[str, Any], chat_models: Iterable[str]) -> None:
    """Apply GigaChat's request rules; raise 404/422 as the real API does."""
    model = payload.get("model")
    if not isinstance(model, str) or not model:
        raise HttpError.invalid("model is required")
    if model not in chat_models:
        raise HttpError.api(404, "No such model")
    _validate_messages(payload.get("messages"))
    _validate_number(payload, "temperature", lambda v: v > 0, "must be greater than 0")
    _validate_number(payload, "top_p", lambda v: 0 <= v <= 1, "must be between 0 and 1")
    _validate_number(payload, "repetition_penalty", lambda v: v > 0, "must be greater than 0")
    _validate_number(payload, "update_interval", lambda v: v >= 0, "must not be negative")
    max_tokens = payload.get("max_tokens")
    if max_tokens is not None and (
        not isinstance(max_tokens, int) or isinstance(max_tokens, bool) or max_tokens <= 0
    ):
        raise HttpError.invalid("max_tokens must be a positive integer")
    for flag in ("stream", "profanity_check"):
        if flag in payload and not isinstance(payload[flag], bool):
            raise HttpError.invalid(f"{flag} must be a boolean")
    _validate_functions(payload.get("functions"), payload.get("function_call"))


def _validate_messages(messages: Any) -> None:
    if not isinstance(messages, list) or not messages:
        raise HttpError.invalid("messages must be a non-empty array")
    for index, message in enumerate(messages):
        _validate_message(index, message)
    system = [i for i, m in enumerate(messages) if m["role"] == "system"]
    if len(system) > 1 or (system and system[0] != 0):
        raise HttpError.invalid("only one system message is allowed and it must come first")
    for index, message in enumerate(messages):
        if message["role"] == "assistant" and message.get("function_call"):
            following = messages[index + 1] if index + 1 < len(messages) else None
            if following is None or following["role"] != "function":
                raise HttpError.invalid(f"messages[{index}]: a function call must be followed by its result")


def _validate_message(index: int, message: Any) -> None:
    where = f"messages[{index}]"
    if not isinstance(message, dict):
        raise HttpError.invalid(f"{where} must be an object")
    role = message.get("role")
    if role not in ("system", "user", "assistant", "function"):
        raise HttpError.invalid(f"{where}.role must be system, user, assistant or function")
    attachments = message.get("attachments")
    if attachments is not None and not (
        isinstance(attachments, list) and all(isinstance(a, str) and a for a in attachments)
    ):
        raise HttpError.invalid(f"{where}.attachments must be an array of file ids")
    content = message.get("content")
    if content is None and role == "assistant" and message.get("function_call"):
        return
    if not isinstance(content, str):
        raise HttpError.invalid(f"{where}.content must be a string")
    if role == "function":
        try:
            parsed = json.loads(content)
        except json.JSONDecodeError:
            parsed = None
        if not isinstance(parsed, dict):
            raise HttpError.invalid(f"{where}.content must be a JSON object in a string")


def _validate_number(payload: dict[str, Any], name: str, check: Callable[[float], bool], rule: str) -> None:
    if payload.get(name) is None:
        return
    value = payload[name]
    if not is_number(value) or not check(value):
        raise HttpError.invalid(f"{name} {rule}")


def _validate_functions(functions: Any, function_call: Any) -> None:
    functions = [] if functions is None else functions
    if not isinstance(functions, list):
        raise HttpError.invalid("functions must be an array")
    names = []
    for index, function in enumerate(functions):
        if not isinstance(function, dict) or not isinstance(function.get("name"), str):
            raise HttpError.invalid(f"functions[{index}] must be an object with a name")
        names.append(function["name"])
    if function_call is None or function_call in ("auto", "none"):
        return
    if not isinstance(function_call, dict) or function_call.get("name") not in names:
        raise HttpError.invalid("function_call must be auto, none or the name of a function")


@dataclass
class ChatInputs:
    """What besides the payload shapes an answer."""

    override: str | None = None
    files: list[dict[str, Any]] | None = None  # infos of the attached files
    schema: dict[str, Any] | None = None  # response_format json_schema
    source_text: str = ""  # the user text plus attached text files, for schema values
    fault: str | None = None  # an answer fault kind
    precached: int = 0


def compose_chat(payload: dict[str, Any], inputs: ChatInputs) -> ChatResult:
    """Build the deterministic answer to a validated chat request."""
    messages = payload["messages"]
    prompt_tokens = sum(count_tokens(m.get("content") or "") for m in messages)
    prompt_tokens += count_tokens(json.dumps(payload.get("functions") or [], ensure_ascii=False))
    function = _chosen_function(payload)
    if function is not None:
        call = {"name": function["name"], "arguments": example_arguments(function.get("parameters"))}
        message: dict[str, Any] = {
            "role": "assistant",
            "content": "",
            "function_call": call,
            "functions_state_id": str(uuid.uuid4()),
        }
        finish_reason = "function_call"
        completion_tokens = count_tokens(json.dumps(call, ensure_ascii=False))
    else:
        if inputs.schema is not None:
            text = structured.render(inputs.schema, inputs.source_text, inputs.fault)
        elif inputs.override is not None:
            text = inputs.override
        else:
            text = markdown_reply(messages, inputs.files)
        if inputs.fault == "lone_surrogate":
            text = f"Ответ с {SURROGATE_MARK} внутри. {text}"
        text, finish_reason, completion_tokens = _limit(text, payload.get("max_tokens"))
        message = {"role": "assistant", "content": text}
    usage = {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "total_tokens": prompt_tokens + completion_tokens,
        "precached_prompt_tokens": min(inputs.precached, prompt_tokens),
    }
    return ChatResult(f"{payload['model']}:{MODEL_VERSION}", message, finish_reason, usage)


def chat_reply(
    result: ChatResult, stream: bool, fault: str | None, chunk_delay: Callable[[], float]
) -> Reply:
    """The reply: SSE events for a stream (plain JSON under ``plain_json_stream``), else JSON."""
    created = int(time.time())
    if stream and fault != "plain_json_stream":
        return Reply(200, events=sse_events(result, created), chunk_delay=chunk_delay)
    return Reply(200, raw_json=_wire(dumps(chat_body(result, created))))


def _chosen_function(payload: dict[str, Any]) -> dict[str, Any] | None:
    functions = payload.get("functions") or []
    choice = payload.get("function_call", "auto")
    if not functions or choice == "none":
        return None
    if isinstance(choice, dict):
        return next(f for f in functions if f["name"] == choice["name"])
    if payload["messages"][-1]["role"] == "function":
        return None  # "auto" after a function result: the model answers in text
    return functions[0]


def _limit(text: str, max_tokens: int | None) -> tuple[str, str, int]:
    tokens = count_tokens(text)
    if max_tokens is not None and tokens > max_tokens:
        return text[: max_tokens * 4], "length", max_tokens
    return text, "stop", tokens


def _wire(text: str) -> str:
    return text.replace(SURROGATE_MARK, "\\ud800")


def chat_body(result: ChatResult, created: int) -> dict[str, Any]:
    """The non-streaming chat completion JSON."""
    choice = {"message": result.message, "index": 0, "finish_reason": result.finish_reason}
    return {
        "choices": [choice],
        "created": created,
        "model": result.model,
        "object": "chat.completion",
        "usage": result.usage,
    }


def sse_events(result: ChatResult, created: int) -> list[str]:
    """The ``data:`` payloads of a streamed answer, ending with ``[DONE]``."""
    common = {"created": created, "model": result.model, "object": "chat.completion"}
    events = [
        {"choices": [{"delta": delta, "index": 0}], **common} for delta in _stream_deltas(result.message)
    ]
    final_choice = {"delta": {"content": ""}, "index": 0, "finish_reason": result.finish_reason}
    events.append({"choices": [final_choice], **common, "usage": result.usage})
    return [_wire(dumps(event)) for event in events] + ["[DONE]"]


def _stream_deltas(message: dict[str, Any]) -> list[dict[str, Any]]:
    if "function_call" in message:
        return [
            {
                "content": "",
                "role": "assistant",
                "function_call": message["function_call"],
                "functions_state_id": message["functions_state_id"],
            }
        ]
    pieces = split_words(message["content"], STREAM_WORDS_PER_CHUNK) or [""]
    deltas: list[dict[str, Any]] = [{"content": pieces[0], "role": "assistant"}]
    deltas.extend({"content": piece} for piece in pieces[1:])
    return deltas
