"""Ask GigaChat for typed fields and never trust the answer: parse leniently, coerce, validate,
repair once; large field lists are split into calls of about a dozen properties.

Every call of one request sends the same messages (instructions in the system message, the
document in the user message; only `response_format` differs), so a shared X-Session-ID lets
GigaChat serve the repeated prefix from its cache.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from gigachat.local.extract.check import only_missing, problems, validator
from gigachat.local.extract.coerce import coerce_object, kind_of, resolve
from gigachat.local.extract.parse import parse_answer
from gigachat.local.json_body import scrub

Chat = Callable[[dict], dict]  # one chat completion for a payload

FIELDS_PER_CALL = 12  # GigaChat degrades past about a dozen properties (facts doc)
RAW_LIMIT = 20_000  # characters of a bad answer shown back to the model / returned as raw
SYSTEM_PROMPT = (
    "Ты извлекаешь данные из документов для учётной системы 1С. Ответь только JSON-объектом "
    "по заданной схеме, без пояснений и без Markdown. Если значения в документе нет, укажи "
    "null. Числа пиши числом без пробелов и валюты, даты — в формате ГГГГ-ММ-ДД, да/нет — "
    "true/false; для поля со списком значений выбери одно значение из списка; таблица — "
    "список строк-объектов."
)
NO_TEXT = "Данные — в приложенных файлах."
REPAIR_PROMPT = (
    "Твой ответ не прошёл проверку по схеме.\n{errors}\nВерни исправленный JSON-объект "
    "целиком, строго по схеме, без пояснений."
)


@dataclass
class Outcome:
    """What an extraction produced (the route turns it into the answer)."""

    data: dict | None = None
    error: str | None = None
    raw: str | None = None
    model: str | None = None
    usage: dict = field(default_factory=lambda: {"prompt_tokens": 0, "completion_tokens": 0,
                                                 "total_tokens": 0})
    calls: int = 0
    repairs: int = 0


def messages_for(text: str, instructions: str | None) -> list[dict]:
    system = SYSTEM_PROMPT + (f"\n\n{instructions.strip()}" if instructions and
                              instructions.strip() else "")
    return [{"role": "system", "content": system},
            {"role": "user", "content": text if text.strip() else NO_TEXT}]


def _weight(schema: Any, root: dict, depth: int = 0) -> int:
    """How heavy a property is for the model: 1, plus the properties of its rows/objects."""
    schema = resolve(schema, root)
    kind = kind_of(schema)
    if depth > 4:
        return 1
    if kind == "array":
        return _weight(schema.get("items", {}), root, depth + 1)
    if kind == "object" and isinstance(schema.get("properties"), dict):
        return 1 + sum(_weight(s, root, depth + 1) for s in schema["properties"].values())
    return 1


def split(schema: dict, per_call: int | None = None) -> list[dict]:
    """The schema cut into sub-schemas of at most `per_call` weight (one property at least;
    default FIELDS_PER_CALL)."""
    per_call = per_call or FIELDS_PER_CALL
    properties: dict = schema["properties"]
    required = schema.get("required") or []
    groups: list[list[str]] = [[]]
    load = 0
    for name, sub in properties.items():
        weight = _weight(sub, schema)
        if groups[-1] and load + weight > per_call:
            groups.append([])
            load = 0
        groups[-1].append(name)
        load += weight
    rest = {k: v for k, v in schema.items() if k not in ("properties", "required")}
    return [{**rest, "properties": {n: properties[n] for n in group},
             "required": [n for n in required if n in group]} for group in groups]


def fill_missing(value: Any, schema: Any, root: dict) -> Any:
    """Absent properties (objects and table rows) set to null."""
    schema = resolve(schema, root)
    kind = kind_of(schema)
    if kind == "array" and isinstance(value, list):
        return [fill_missing(v, schema.get("items", {}), root) for v in value]
    if kind == "object" and isinstance(value, dict) and isinstance(schema.get("properties"), dict):
        return {name: fill_missing(value.get(name), sub, root)
                for name, sub in schema["properties"].items()} | \
            {k: v for k, v in value.items() if k not in schema["properties"]}
    return value


def _content(answer: dict) -> str:
    choice = (answer.get("choices") or [{}])[0] if isinstance(answer, dict) else {}
    message = choice.get("message") if isinstance(choice, dict) else None
    content = message.get("content") if isinstance(message, dict) else None
    return scrub(content) if isinstance(content, str) else ""


def _count(outcome: Outcome, answer: dict) -> None:
    outcome.calls += 1
    usage = answer.get("usage") if isinstance(answer, dict) else None
    if isinstance(usage, dict):
        for key in outcome.usage:
            value = usage.get(key)
            if isinstance(value, int) and not isinstance(value, bool):
                outcome.usage[key] += value
    if isinstance(answer, dict) and isinstance(answer.get("model"), str):
        outcome.model = scrub(answer["model"])


def _judge(text: str, schema: dict, check) -> tuple[Any, list[str]]:
    value, why = parse_answer(text)
    if value is None:
        return None, [why or "ответ не является JSON-объектом"]
    value = coerce_object(value, schema, schema)
    return value, problems(check, value)


def fill(chat: Chat, model: str, messages: list[dict], schema: dict, outcome: Outcome,
         strict: bool = True) -> dict | None:
    """One sub-schema filled (with at most one repair call); None after recording a failure."""
    check = validator(schema)
    payload = {"model": model, "messages": messages,
               "response_format": {"type": "json_schema", "schema": schema, "strict": strict}}
    answer = chat(payload)
    _count(outcome, answer)
    text = _content(answer)
    value, errors = _judge(text, schema, check)
    if not errors:
        return value
    outcome.repairs += 1
    shown = text[:RAW_LIMIT] or "(пустой ответ)"
    repair = REPAIR_PROMPT.format(errors="\n".join(f"- {e}" for e in errors))
    answer = chat({**payload, "messages": [*messages, {"role": "assistant", "content": shown},
                                           {"role": "user", "content": repair}]})
    _count(outcome, answer)
    text = _content(answer)
    value, errors = _judge(text, schema, check)
    if not errors or (value is not None and only_missing(check, value)):
        return fill_missing(value, schema, schema)
    outcome.error = ("ГигаЧат дважды вернул данные не по схеме (вторая попытка — с описанием "
                     "ошибок): " + "; ".join(errors[:5]) + ". Ответ модели — в поле raw.")
    outcome.raw = text[:RAW_LIMIT]
    return None


def _merge(outcome: Outcome, part: Outcome) -> None:
    outcome.calls += part.calls
    outcome.repairs += part.repairs
    outcome.model = part.model or outcome.model
    for key in outcome.usage:
        outcome.usage[key] += part.usage[key]
    if part.error and outcome.error is None:
        outcome.error, outcome.raw = part.error, part.raw


def extract(chat: Chat, model: str, schema: dict, messages: list[dict],
            per_call: int | None = None, parallel: int = 1, strict: bool = True) -> Outcome:
    """Fill `schema` from `messages` (messages_for, files already attached); with `parallel`
    above 1 the parts of a split schema are asked at the same time (threads
    `gigachat-extract-N`, ended with the request; the client's gate still bounds them).
    `strict` asks GigaChat to follow the schema exactly (the fields' schemas are built for it)."""
    parts = split(schema, per_call)
    outcomes = [Outcome(model=model) for _ in parts]

    def ask(index: int) -> dict | None:
        return fill(chat, model, messages, parts[index], outcomes[index], strict)

    if parallel > 1 and len(parts) > 1:
        with ThreadPoolExecutor(min(parallel, len(parts)),
                                thread_name_prefix="gigachat-extract") as pool:
            values = list(pool.map(ask, range(len(parts))))
    else:
        values = []
        for index in range(len(parts)):
            values.append(ask(index))
            if values[-1] is None:
                break
    outcome = Outcome(model=model)
    for part in outcomes:
        _merge(outcome, part)
    if any(value is None for value in values):
        return outcome
    data: dict = {}
    for part, value in zip(parts, values, strict=True):
        data.update({name: value.get(name) for name in part["properties"]})
    outcome.data = {name: data.get(name) for name in schema["properties"]}
    return outcome
