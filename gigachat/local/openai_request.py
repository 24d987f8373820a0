"""OpenAI request shapes -> GigaChat payloads (pure, no I/O).

Decisions where the two APIs differ:
- GigaChat takes one system message, first: all system/developer messages are
  joined (blank line between) into one leading system message.
- GigaChat has no parallel function calls: an assistant message with N tool_calls
  becomes N assistant messages, each placed right before its function result.
- temperature: OpenAI allows 0 (greedy), GigaChat needs > 0, so 0 becomes
  MIN_TEMPERATURE (as close to greedy as GigaChat allows); top_p is left alone.
- tool_choice "required" has no GigaChat twin: with one tool it forces that tool,
  otherwise it becomes "auto".
- response_format "text" and "json_object" are dropped (GigaChat refuses json_object).
- image_url (data: URL), file (file_data) and input_audio parts of a user message become
  files: the message carries them under attachments.FILES_KEY until the route uploads them
  (attachments.upload_message_files) and attaches their ids, one image per message.
Every field read here is type- and range-checked: a wrong one is InvalidRequest naming it.
"""

from __future__ import annotations

import json
from typing import Any

from gigachat.core.errors import InvalidRequest
from gigachat.local import json_body
from gigachat.local.attachments import FILES_KEY, message_files, part_file
from gigachat.local.validation import MAX_TOKENS, integer, number, optional

MIN_TEMPERATURE = 0.001
FILE_PARTS = ("image_url", "file", "input_audio")
MAX_REPETITION_PENALTY = 10.0

_ROLES = ("system", "developer", "user", "assistant", "tool", "function")

Json = dict[str, Any]


def _text(content: object, where: str, files: list | None = None) -> str:
    """Message content (string, list of parts, or null) -> plain text; image_url, file and
    input_audio parts become files in `files` (only a user message passes a list)."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if not isinstance(content, list):
        raise InvalidRequest(f"Поле {where}.content должно быть строкой, списком частей "
                             f"или null.", field=f"{where}.content")
    texts = []
    for k, part in enumerate(content):
        field = f"{where}.content[{k}]"
        kind = part.get("type") if isinstance(part, dict) else type(part).__name__
        if isinstance(part, dict) and kind in FILE_PARTS and files is not None:
            files.append(part_file(part, field, len(files) + 1))
            continue
        if isinstance(part, dict) and kind in FILE_PARTS:
            raise InvalidRequest(f"{field}: файлы и изображения можно передавать только в "
                                 "сообщениях пользователя (role «user»).", field=field)
        if not isinstance(part, dict) or kind != "text":
            allowed = "text, image_url, file, input_audio" if files is not None else "text"
            raise InvalidRequest(f"{field}: в этом сообщении поддерживаются части типа "
                                 f"{allowed}, получено {str(kind)[:40]!r}.", field=field)
        if not isinstance(part.get("text"), str):
            raise InvalidRequest(f"Поле {field}.text должно быть строкой.", field=f"{field}.text")
        texts.append(part["text"])
    return "\n".join(texts)


def _arguments(raw: object, where: str) -> dict:
    """OpenAI's arguments (a JSON string) -> the JSON object GigaChat expects."""
    field = f"{where}.arguments"
    if isinstance(raw, dict):
        return raw
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return {}
    if not isinstance(raw, str):
        raise InvalidRequest(f"Поле {field} должно быть строкой с JSON-объектом.", field=field)
    try:
        value = json_body.loads(raw, field)
    except InvalidRequest as error:
        raise InvalidRequest(f"Поле {field} должно быть строкой с JSON-объектом: "
                             f"{error.message}", field=error.field or field) from None
    if not isinstance(value, dict):
        raise InvalidRequest(f"Поле {field} должно быть строкой с JSON-объектом.", field=field)
    return value


def _function_result(text: str) -> str:
    """Tool output -> a JSON object in a string (anything else wrapped as {"result": ...})."""
    try:
        value: Any = json_body.loads(text, "content")
    except InvalidRequest:
        value = text  # not (strict) JSON: pass it on as text
    if isinstance(value, dict):
        return text
    return json.dumps({"result": value}, ensure_ascii=False)


def _name(body: dict, where: str, required: str | None = None) -> str | None:
    """body["name"]: a non-empty string, or None; `required` is the message when missing."""
    name = optional(body, "name", str, where)
    if required and not name:
        raise InvalidRequest(f"{where}: {required}", field=f"{where}.name")
    return name or None


def _tool_calls(msg: Json, where: str) -> list[tuple[str | None, str, dict]]:
    """An assistant message's calls as (tool_call_id or None for legacy, name, arguments)."""
    calls = []
    raw_calls = optional(msg, "tool_calls", list, where, "списком вызовов функций")
    for k, call in enumerate(raw_calls or []):
        at = f"{where}.tool_calls[{k}]"
        if not isinstance(call, dict):
            raise InvalidRequest(f"Поле {at} должно быть объектом.", field=at)
        call_id = optional(call, "id", str, at)
        if not call_id:
            raise InvalidRequest(f"{at}: не указан id вызова.", field=f"{at}.id")
        fn = optional(call, "function", dict, at)
        name = _name(fn or {}, f"{at}.function", "не указано имя функции.")
        calls.append((call_id, name, _arguments((fn or {}).get("arguments"), f"{at}.function")))
    legacy = optional(msg, "function_call", dict, where)
    if legacy is not None:
        at = f"{where}.function_call"
        name = _name(legacy, at, "не указано имя функции.")
        calls.append((None, name, _arguments(legacy.get("arguments"), at)))
    return calls


def _function_spec(fn: object, where: str) -> Json:
    """OpenAI function definition -> GigaChat function {name, description, parameters}."""
    if not isinstance(fn, dict):
        raise InvalidRequest(f"{where}: не указано имя функции.", field=f"{where}.name")
    spec: Json = {"name": _name(fn, where, "не указано имя функции.")}
    description = optional(fn, "description", str, where)
    if description is not None:
        spec["description"] = description
    parameters = optional(fn, "parameters", dict, where, "объектом (JSON Schema)")
    spec["parameters"] = parameters or {"type": "object", "properties": {}}
    return spec


def _functions(body: Json) -> list[Json]:
    """tools (or legacy functions) -> GigaChat functions."""
    tools = optional(body, "tools", list, what="списком инструментов")
    if tools is None:
        legacy = optional(body, "functions", list, what="списком функций") or []
        return [_function_spec(fn, f"functions[{k}]") for k, fn in enumerate(legacy)]
    specs = []
    for k, tool in enumerate(tools):
        if not isinstance(tool, dict) or tool.get("type", "function") != "function":
            raise InvalidRequest(f"tools[{k}]: поддерживаются только инструменты типа function.",
                                 field=f"tools[{k}].type")
        specs.append(_function_spec(tool.get("function"), f"tools[{k}].function"))
    return specs


def _function_call(choice: object, functions: list[Json], field: str) -> str | Json:
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
    raise InvalidRequest(
        f"Недопустимое значение {field}: ожидается «auto», «none», «required» "
        'или {"type": "function", "function": {"name": ...}}.', field=field)


def _messages(raw: object) -> list[Json]:
    """OpenAI messages -> GigaChat messages (one leading system message, no parallel calls)."""
    if not isinstance(raw, list) or not raw:
        raise InvalidRequest("Поле messages должно быть непустым списком сообщений.",
                             field="messages")
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
            raise InvalidRequest(f"{where}: сообщение должно быть объектом.", field=where)
        role = msg.get("role")
        if not isinstance(role, str) or role not in _ROLES:
            raise InvalidRequest(f"{where}.role: недопустимая роль {str(role)[:40]!r}; "
                                 "допустимы system, user, assistant, tool, function.",
                                 field=f"{where}.role")
        if msg.get("content") is None and role != "assistant":
            raise InvalidRequest(f"{where}: у сообщения с ролью {role} нет содержимого (content).",
                                 field=f"{where}.content")
        files: list | None = [] if role == "user" else None
        text = _text(msg.get("content"), where, files)
        if role in ("system", "developer"):
            system.append(text)
            continue
        if role == "tool":
            call_id = optional(msg, "tool_call_id", str, where)
            name = names.get(call_id) if call_id else None
            name = name or _name(msg, where)
            if not name:
                raise InvalidRequest(f"{where}: не найден вызов функции с tool_call_id "
                                     f"{str(call_id)[:80]!r}.", field=f"{where}.tool_call_id")
            if call_id in pending:
                out.append(pending.pop(call_id))
            out.append({"role": "function", "name": name, "content": _function_result(text)})
            continue
        flush()
        if role == "function":
            name = _name(msg, where, "у сообщения с ролью function не указано имя (name).")
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
            out.append({"role": role, "content": text, **({FILES_KEY: files} if files else {})})
    flush()
    merged = "\n\n".join(part for part in system if part)
    return ([{"role": "system", "content": merged}] if merged else []) + out


def _response_format(body: Json) -> Json | None:
    """response_format -> GigaChat's {type: json_schema, schema, strict} or None."""
    fmt = optional(body, "response_format", dict)
    if fmt is None:
        return None
    kind = fmt.get("type")
    if kind not in ("text", "json_object", "json_schema"):
        raise InvalidRequest("Поле response_format.type должно быть «text», «json_object» или "
                             "«json_schema».", field="response_format.type")
    if kind != "json_schema":
        return None
    spec = optional(fmt, "json_schema", dict, "response_format") or {}
    schema = optional(spec, "schema", dict, "response_format.json_schema", "объектом (JSON Schema)")
    out: Json = {"type": "json_schema", "schema": schema or {}}
    strict = optional(spec, "strict", bool, "response_format.json_schema")
    if strict is not None:
        out["strict"] = strict
    return out


def include_usage(body: Json) -> bool:
    """stream_options.include_usage (checked)."""
    options = optional(body, "stream_options", dict) or {}
    return bool(optional(options, "include_usage", bool, "stream_options"))


def chat_request_to_gigachat(body: object, default_model: str | None = None) -> Json:
    """OpenAI chat.completions request -> GigaChat payload; "model" is None if none named."""
    if not isinstance(body, dict):
        raise InvalidRequest("Тело запроса должно быть JSON-объектом.")
    model = optional(body, "model", str) or default_model
    n = body.get("n")
    if n is not None and (not isinstance(n, int) or isinstance(n, bool) or n != 1):
        raise InvalidRequest("GigaChat возвращает один вариант ответа: поле n должно быть "
                             "равно 1.", field="n")
    payload: Json = {"model": model, "messages": _messages(body.get("messages"))}
    message_files(payload["messages"])  # GigaChat's per-request file rules, before any upload

    functions = _functions(body)
    if functions:
        payload["functions"] = functions
        field = "tool_choice" if body.get("tool_choice") is not None else "function_call"
        choice = body.get(field)
        if choice is not None:
            payload["function_call"] = _function_call(choice, functions, field)

    temperature = number(body, "temperature", 0.0, 2.0)
    if temperature is not None:
        payload["temperature"] = max(temperature, MIN_TEMPERATURE)
    top_p = number(body, "top_p", 0.0, 1.0)
    if top_p is not None:
        payload["top_p"] = top_p
    repetition_penalty = number(body, "repetition_penalty", 0.0, MAX_REPETITION_PENALTY)
    if repetition_penalty is not None:
        payload["repetition_penalty"] = repetition_penalty
    name = "max_completion_tokens" if body.get("max_completion_tokens") is not None \
        else "max_tokens"
    max_tokens = integer(body, name, 1, MAX_TOKENS)
    if max_tokens is not None:
        payload["max_tokens"] = max_tokens
    stream = optional(body, "stream", bool)
    if stream is not None:
        payload["stream"] = stream
    include_usage(body)
    response_format = _response_format(body)
    if response_format:
        payload["response_format"] = response_format
    return payload


def embeddings_request_to_gigachat(
    body: object, default_model: str = "Embeddings"
) -> tuple[str, list[str]]:
    """OpenAI embeddings request -> (GigaChat model, list of texts)."""
    if not isinstance(body, dict):
        raise InvalidRequest("Тело запроса должно быть JSON-объектом.")
    model = optional(body, "model", str) or default_model
    if body.get("encoding_format") not in (None, "float", "base64"):
        raise InvalidRequest("Поле encoding_format должно быть «float» или «base64».",
                             field="encoding_format")
    texts = body.get("input")
    if isinstance(texts, str):
        return model, [texts]
    if isinstance(texts, list) and texts and all(isinstance(t, str) for t in texts):
        return model, list(texts)
    if isinstance(texts, list) and texts and all(isinstance(t, int | list) for t in texts):
        raise InvalidRequest("Массивы токенов не поддерживаются: передайте в input строку или "
                             "список строк.", field="input")
    raise InvalidRequest("Поле input должно быть строкой или непустым списком строк.",
                         field="input")
