"""Coerce a model's values to the schema's types as 1C wants them (never trust the model).

- numbers: ``"2 450 000,00 руб."`` → 2450000, ``"1 234,5"`` → 1234.5, ``"1,234.50"`` → 1234.5,
  ``"20%"`` → 20; a whole number comes out as an integer;
- dates (``format`` date or date-time): ``31.12.2026``, ``31.12.26``, ``2026-12-31``,
  ``«31» декабря 2026 г.``, ``2026-12-31 10:15`` → ``2026-12-31T00:00:00`` (what 1C's
  ПрочитатьJSON reads with ИменаСвойствСоЗначениямиДата);
- booleans: да/нет, истина/ложь, true/false, yes/no, 1/0;
- enumerations: the given value matched ignoring case, spaces and ё/е;
- strings: numbers as text (an ИНН sent as a number stays all its digits);
- «не указано», «нет данных», «—», "" → null (except for booleans);
- objects: keys matched ignoring case; unknown keys dropped; a missing key is left missing
  (the validator reports it); a table given as one row becomes a list of one row.
A value that cannot be coerced is left as it is: validation then reports it.
"""

from __future__ import annotations

import math
import re
from datetime import date, datetime
from typing import Any

_SPACES = re.compile(r"[\s\u00a0\u202f\u2009'’`]")
_CURRENCY = re.compile(r"(руб(лей|ля|ль)?\.?|р\.|₽|rub|rur|usd|eur|\$|€|%|коп(еек|ейки|\.)?)$",
                       re.IGNORECASE)
_NUMBER = re.compile(r"^[-+]?(\d+([.,]\d+)*)$")
_RU_DATE = re.compile(r"^(\d{1,2})[./-](\d{1,2})[./-](\d{2}|\d{4})(?:\s*г\.?)?"
                      r"(?:[ T](\d{1,2}):(\d{2})(?::(\d{2}))?)?$")
_ISO_DATE = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})(?:[ t](\d{1,2}):(\d{2})(?::(\d{2}))?"
                       r"(?:\.\d+)?(?:z|[+-]\d{2}:?\d{2})?)?$")
_WORD_DATE = re.compile(r"^«?(\d{1,2})»?\s+([а-яё]+)\s+(\d{4})(?:\s*(г\.?|года?))?$")
MONTHS = {"январ": 1, "феврал": 2, "март": 3, "апрел": 4, "ма": 5, "июн": 6, "июл": 7,
          "август": 8, "сентябр": 9, "октябр": 10, "ноябр": 11, "декабр": 12}
TRUE = {"да", "истина", "true", "yes", "1", "+", "есть"}
FALSE = {"нет", "ложь", "false", "no", "0", "-"}
NULLS = {"", "null", "none", "nil", "n/a", "н/д", "—", "–", "-", "нет данных", "не указано",
         "не указан", "не указана", "не найдено", "не найден", "не найдена", "отсутствует",
         "неизвестно", "undefined", "неопределено"}
MAX_DEPTH = 16


def resolve(schema: Any, root: dict) -> dict:
    """Follow local $ref (#/...) and pick the first non-null anyOf/oneOf branch."""
    for _ in range(MAX_DEPTH):
        if not isinstance(schema, dict):
            return {}
        ref = schema.get("$ref")
        if isinstance(ref, str) and ref.startswith("#"):
            target: Any = root
            for part in ref[1:].strip("/").split("/") if ref != "#" else []:
                target = target.get(part) if isinstance(target, dict) else None
            schema = target
            continue
        options = schema.get("anyOf") or schema.get("oneOf")
        if isinstance(options, list) and options and "type" not in schema:
            schema = next((o for o in options if isinstance(o, dict)
                           and o.get("type") != "null"), options[0])
            continue
        return schema
    return {}


def kind_of(schema: dict) -> str:
    """The schema's main type (the non-null one of a type list)."""
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    if kind is None:
        if "properties" in schema:
            return "object"
        if "items" in schema:
            return "array"
        return "enum" if "enum" in schema else "any"
    return kind if isinstance(kind, str) else "any"


def is_date(schema: dict) -> bool:
    return schema.get("format") in ("date", "date-time") and kind_of(schema) == "string"


def _fold(text: str) -> str:
    return _SPACES.sub("", text).casefold().replace("ё", "е")


def to_number(value: Any, integer: bool = False) -> Any:
    """A Russian (or English) number written as text → int/float; else the value as given."""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        return value
    if isinstance(value, float):
        return int(value) if math.isfinite(value) and value.is_integer() else value
    if isinstance(value, int):
        return value
    text = _SPACES.sub("", value).replace("−", "-").replace("–", "-")
    for _ in range(2):
        text = _CURRENCY.sub("", text).rstrip(".")
    if not _NUMBER.match(text):
        return value
    dot, comma = text.rfind("."), text.rfind(",")
    if dot >= 0 and comma >= 0:  # the later one is the decimal separator
        thousands = "," if dot > comma else "."
        text = text.replace(thousands, "").replace(",", ".")
    elif text.count(",") > 1 or text.count(".") > 1:
        text = text.replace(",", "").replace(".", "")
    else:
        text = text.replace(",", ".")
    number = float(text)
    if not math.isfinite(number):
        return value
    return int(number) if number.is_integer() or integer else number


def to_date(value: Any, with_time: bool = True) -> Any:
    """A date in a Russian or ISO spelling → ``YYYY-MM-DDTHH:MM:SS``; else as given."""
    if not isinstance(value, str):
        return value
    text = " ".join(value.strip().split()).lower()
    parts: tuple | None = None
    if match := _ISO_DATE.match(text):
        y, m, d, hh, mm, ss = match.groups()
        parts = (y, m, d, hh, mm, ss)
    elif match := _RU_DATE.match(text):
        d, m, y, hh, mm, ss = match.groups()
        parts = ("20" + y if len(y) == 2 and int(y) < 70 else "19" + y if len(y) == 2 else y,
                 m, d, hh, mm, ss)
    elif match := _WORD_DATE.match(text):
        d, word, y, _ = match.groups()
        month = next((n for stem, n in MONTHS.items() if word.startswith(stem)
                      and (stem != "ма" or word in ("мая", "май"))), None)
        if month is None:
            return value
        parts = (y, month, d, None, None, None)
    if parts is None:
        return value
    y, m, d, hh, mm, ss = (int(p) if p not in (None, "") else 0 for p in parts)
    try:
        moment = datetime(y, m, d, hh, mm, ss)
    except ValueError:
        return value
    return moment.strftime("%Y-%m-%dT%H:%M:%S") if with_time else date(y, m, d).isoformat()


def to_boolean(value: Any) -> Any:
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        word = _fold(value).rstrip(".")
        if word in TRUE:
            return True
        if word in FALSE:
            return False
    return value


def to_choice(value: Any, choices: list) -> Any:
    if value in choices:
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        value = str(to_number(value))
    if not isinstance(value, str):
        return value
    folded = _fold(value)
    for choice in choices:
        if isinstance(choice, str) and _fold(choice) == folded:
            return choice
    return value


def to_string(value: Any) -> Any:
    if isinstance(value, bool):
        return "да" if value else "нет"
    if isinstance(value, int | float):
        return str(to_number(value))
    return value


def is_null(value: Any) -> bool:
    return value is None or (isinstance(value, str) and _fold(value).rstrip(".") in NULLS)


def coerce(value: Any, schema: Any, root: dict, depth: int = 0) -> Any:
    """`value` made to fit `schema` where a Russian spelling allows it."""
    schema = resolve(schema, root)
    kind = kind_of(schema)
    if depth > MAX_DEPTH:
        return value
    if kind != "boolean" and is_null(value):
        return None
    if isinstance(schema.get("enum"), list):
        return to_choice(value, schema["enum"])
    if kind in ("number", "integer"):
        return to_number(value, integer=kind == "integer")
    if kind == "boolean":
        return None if value is None or (isinstance(value, str) and not value.strip()) \
            else to_boolean(value)
    if kind == "string":
        return to_date(value, with_time=True) if is_date(schema) else to_string(value)
    if kind == "array":
        items = schema.get("items", {})
        if isinstance(value, dict) and kind_of(resolve(items, root)) == "object":
            value = [value]
        if isinstance(value, list):
            return [coerce(item, items, root, depth + 1) for item in value]
        return value
    if kind == "object" and isinstance(value, dict):
        return coerce_object(value, schema, root, depth)
    return value


def coerce_object(value: dict, schema: dict, root: dict, depth: int = 0) -> dict:
    """An object's known properties (keys matched ignoring case), each coerced."""
    properties = schema.get("properties") if isinstance(schema.get("properties"), dict) else {}
    by_fold = {name.casefold(): name for name in properties}
    out: dict[str, Any] = {}
    for key, item in value.items():
        name = key if key in properties else by_fold.get(str(key).strip().casefold())
        if name is None:
            if schema.get("additionalProperties", True) is not False:
                out[key] = item
            continue
        if name not in out:
            out[name] = coerce(item, properties[name], root, depth + 1)
    return out
