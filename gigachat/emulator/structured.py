"""Structured output: ``response_format`` json_schema answers shaped by the schema.

Values come from ``Поле: значение`` lines of the user messages, in order (a repair turn after
the document keeps the document's values: the first line of a name wins), and of attached
text files, so a test controls them. Each line is ``<property name>: <value>`` (name as in the
schema, up to the first colon). By the property's schema:
- string: the value as written; ``format: date`` turns ``31.12.2026`` into ``2026-12-31``,
  ``format: date-time`` into ``2026-12-31T00:00:00``;
- number / integer: ``2 450 000,00 руб.`` → 2450000 (spaces dropped, comma = decimal point);
- boolean: да/нет, true/false, yes/no, 1/0;
- enum: the value when it is one of the enum's strings (case-insensitive), else null;
- array of objects (a table): one row per line of that name, cells as ``key=value`` pairs
  separated by ``;``, e.g. ``Товары: Наименование=Бумага; Количество=10; Цена=250``;
- array of scalars: the values of every line of that name, split on ``;``;
- nested object: its properties read from the same lines.
A property with no line is null when required, absent otherwise. ``$ref`` (to ``#/$defs`` or
``#/definitions``), ``anyOf``/``oneOf`` and ``["string", "null"]`` types are followed.
Fault kinds (see faults.py) reshape the text: json_fence, json_text_around,
json_russian_numbers, json_missing_required, json_invalid.
"""

from __future__ import annotations

import json
import re
from typing import Any

from gigachat.emulator.protocol import HttpError, is_number

_LINE_RE = re.compile(r"^\s*([^:\r\n]+?)\s*:[ \t]*(.*?)\s*$")
_NUMBER_RE = re.compile(r"^[-+]?\d+(?:[.,]\d+)?")
_RU_DATE_RE = re.compile(r"^(\d{1,2})\.(\d{1,2})\.(\d{4})")
_ISO_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}")
_TRUE = {"да", "true", "yes", "1", "истина"}
_FALSE = {"нет", "false", "no", "0", "ложь"}
MAX_DEPTH = 8


def response_schema(value: Any) -> dict[str, Any] | None:
    """The JSON Schema of a json_schema ``response_format``; None for text; 400 as GigaChat."""
    if value is None:
        return None
    if not isinstance(value, dict):
        raise HttpError.api(400, "Bad request: response_format must be an object")
    kind = value.get("type")
    if kind == "text":
        return None
    if kind != "json_schema":
        raise HttpError.api(400, f"Unknown type {kind} in response_format")
    schema = value.get("schema")
    if schema is None:
        raise HttpError.api(400, "Bad request: response_format.schema is required for type json_schema")
    if not isinstance(schema, dict):
        raise HttpError.api(400, "Bad request: response_format.schema must be an object")
    return schema


def field_lines(text: str) -> dict[str, list[str]]:
    """``Поле: значение`` lines as {name: [values in order]}."""
    fields: dict[str, list[str]] = {}
    for line in text.splitlines():
        match = _LINE_RE.match(line)
        if match:
            fields.setdefault(match.group(1), []).append(match.group(2))
    return fields


def schema_value(schema: dict[str, Any], text: str) -> Any:
    """The answer value for ``schema`` with values taken from ``text``."""
    return _build(schema, None, field_lines(text), schema, 0)


def render(schema: dict[str, Any], text: str, fault: str | None = None) -> str:
    """The answer's ``content``: compact JSON, or what a fault kind makes of it."""
    value = schema_value(schema, text)
    if fault == "json_russian_numbers":
        value = _russian_numbers(value)
    if fault == "json_missing_required" and isinstance(value, dict):
        required = [n for n in schema.get("required") or [] if n in value] or list(value)
        if required:
            value.pop(required[0])
    compact = json.dumps(value, ensure_ascii=False)
    if fault == "json_fence":
        return "```json\n" + json.dumps(value, ensure_ascii=False, indent=2) + "\n```"
    if fault == "json_text_around":
        return f"Вот данные из документа:\n{compact}\nЕсли нужно, уточню."
    if fault == "json_invalid":
        return compact[: max(1, len(compact) // 2)]
    return compact


def russian_number(value: float) -> str:
    """``2450000`` → ``"2 450 000,00"``."""
    return f"{value:,.2f}".replace(",", " ").replace(".", ",")


def _russian_numbers(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _russian_numbers(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_russian_numbers(v) for v in value]
    return russian_number(value) if is_number(value) else value


def _resolve(schema: Any, root: dict[str, Any]) -> dict[str, Any]:
    for _ in range(MAX_DEPTH):
        if not isinstance(schema, dict):
            return {}
        ref = schema.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/"):
            target: Any = root
            for part in ref[2:].split("/"):
                target = target.get(part) if isinstance(target, dict) else None
            schema = target
            continue
        options = schema.get("anyOf") or schema.get("oneOf")
        if isinstance(options, list) and options:
            schema = next((o for o in options if isinstance(o, dict) and o.get("type") != "null"), options[0])
            continue
        return schema
    return {}


def _kind(schema: dict[str, Any]) -> str:
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    if kind is None:
        kind = "object" if "properties" in schema else "array" if "items" in schema else "string"
    return kind if isinstance(kind, str) else "string"


def _build(
    schema: Any, name: str | None, fields: dict[str, list[str]], root: dict[str, Any], depth: int
) -> Any:
    schema = _resolve(schema, root)
    kind = _kind(schema)
    if depth > MAX_DEPTH:
        return None
    if kind == "object":
        return _build_object(schema, fields, root, depth)
    values = fields.get(name or "") or []
    if kind == "array":
        items = _resolve(schema.get("items"), root)
        if _kind(items) == "object":
            return [_build_object(items, _cells(v), root, depth + 1) for v in values] if values else None
        pieces = [p.strip() for v in values for p in v.split(";") if p.strip()]
        return [_scalar(items, p) for p in pieces] if values else None
    return _scalar(schema, values[0]) if values else None


def _build_object(
    schema: dict[str, Any], fields: dict[str, list[str]], root: dict[str, Any], depth: int
) -> dict:
    properties = schema.get("properties") if isinstance(schema.get("properties"), dict) else {}
    required = set(schema.get("required") or [])
    result: dict[str, Any] = {}
    for prop, sub in properties.items():
        value = _build(sub, prop, fields, root, depth + 1)
        if value is not None or prop in required:
            result[prop] = value
    return result


def _cells(row: str) -> dict[str, list[str]]:
    cells: dict[str, list[str]] = {}
    for pair in row.split(";"):
        key, sep, value = pair.partition("=")
        if sep and key.strip():
            cells.setdefault(key.strip(), []).append(value.strip())
    return cells


def _scalar(schema: dict[str, Any], raw: str) -> Any:
    enum = schema.get("enum")
    if isinstance(enum, list) and enum:
        folded = raw.casefold()
        return next((e for e in enum if isinstance(e, str) and e.casefold() == folded), None)
    kind = _kind(schema)
    if kind in ("number", "integer"):
        return _number(raw, kind == "integer")
    if kind == "boolean":
        word = raw.strip().casefold()
        return True if word in _TRUE else False if word in _FALSE else None
    if kind == "null":
        return None
    fmt = schema.get("format")
    if fmt in ("date", "date-time"):
        return _date(raw, fmt == "date-time")
    return raw


def _number(raw: str, integer: bool) -> int | float | None:
    match = _NUMBER_RE.match(re.sub(r"[\s\u00a0\u202f]", "", raw))
    if not match:
        return None
    value = float(match.group(0).replace(",", "."))
    if integer or value.is_integer():
        return int(value)
    return value


def _date(raw: str, with_time: bool) -> str:
    match = _RU_DATE_RE.match(raw.strip())
    if match:
        day, month, year = (int(g) for g in match.groups())
        iso = f"{year:04d}-{month:02d}-{day:02d}"
    elif _ISO_DATE_RE.match(raw.strip()):
        iso = raw.strip()[:10]
    else:
        return raw
    return iso + "T00:00:00" if with_time else iso
