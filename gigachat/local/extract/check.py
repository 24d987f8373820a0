"""Validate coerced data with a real JSON Schema validator (jsonschema, Draft 2020-12).

The schema checked is the one GigaChat was asked to fill, with every date (``format`` date or
date-time) turned into the 1C form ``YYYY-MM-DDTHH:MM:SS`` (a pattern), because coercion has
already rewritten dates that way. Errors come back as short Russian lines naming the field
(no colons: they are shown to the model in the repair call).
"""

from __future__ import annotations

import copy
from typing import Any

import jsonschema

ONEC_DATE = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}$"
MAX_ERRORS = 20
_TYPE_WORDS = {"string": "строка", "number": "число", "integer": "целое число",
               "boolean": "true или false", "array": "список", "object": "объект",
               "null": "null"}


def onec_dates(schema: Any) -> Any:
    """A deep copy of `schema` with date formats replaced by the 1C date pattern."""
    schema = copy.deepcopy(schema)
    stack = [schema]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            if node.get("format") in ("date", "date-time"):
                node.pop("format")
                node["pattern"] = ONEC_DATE
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return schema


def validator(schema: dict) -> jsonschema.Draft202012Validator:
    """A validator for coerced data against `schema` (asked form → 1C dates)."""
    return jsonschema.Draft202012Validator(onec_dates(schema))


def _where(path) -> str:
    parts = []
    for part in path:
        parts.append(f"[{part}]" if isinstance(part, int) else ("." if parts else "") + str(part))
    return "".join(parts) or "(корень)"


def _shown(value: Any) -> str:
    text = repr(value) if not isinstance(value, str) else f"«{value}»"
    return (text[:80] + "…") if len(text) > 80 else text


def describe(error: jsonschema.ValidationError) -> str:
    """One Russian line for one validation error."""
    where = _where(error.absolute_path)
    kind = error.validator
    if kind == "required":
        missing = error.message.split("'")[1] if "'" in error.message else "?"
        place = "" if where == "(корень)" else f" в {where}"
        return f"нет обязательного поля «{missing}»{place} (если значения нет, укажите null)"
    if kind == "type":
        wanted = error.validator_value
        wanted = [wanted] if isinstance(wanted, str) else list(wanted)
        words = " или ".join(_TYPE_WORDS.get(w, str(w)) for w in wanted)
        return f"поле «{where}» — ожидается {words}, получено {_shown(error.instance)}"
    if kind == "enum":
        allowed = "; ".join(str(v) for v in error.validator_value if v is not None)
        return f"поле «{where}» — значение {_shown(error.instance)} не из списка ({allowed})"
    if kind == "pattern" and error.validator_value == ONEC_DATE:
        return f"поле «{where}» — ожидается дата ГГГГ-ММ-ДД, получено {_shown(error.instance)}"
    if kind == "additionalProperties":
        return f"в {where} лишние поля — оставьте только поля схемы"
    return f"поле «{where}» — {error.message[:160].replace(':', ' —')}"


def problems(check: jsonschema.Draft202012Validator, value: Any) -> list[str]:
    """Russian lines for every way `value` breaks the schema ([] when it is valid)."""
    errors = sorted(check.iter_errors(value), key=lambda e: list(map(str, e.absolute_path)))
    return [describe(error) for error in errors[:MAX_ERRORS]]


def only_missing(check: jsonschema.Draft202012Validator, value: Any) -> bool:
    """True when the only errors are missing required properties."""
    errors = list(check.iter_errors(value))
    return bool(errors) and all(error.validator == "required" for error in errors)
