"""Typed reads of optional request fields; every refusal is InvalidRequest naming the field."""

from __future__ import annotations

from typing import Any

from gigachat.core.errors import InvalidRequest

MAX_TOKENS = 2**31 - 1  # the largest max_tokens passed on (GigaChat's int32)

_KINDS = {str: "строкой", bool: "true или false", dict: "объектом", list: "списком",
          int: "целым числом"}


def is_number(value: object) -> bool:
    """True for int/float but not bool."""
    return isinstance(value, int | float) and not isinstance(value, bool)


def optional(body: dict, name: str, kind: type, where: str = "", what: str | None = None) -> Any:
    """body[name] if it is of `kind` (None when absent or null), else InvalidRequest."""
    value = body.get(name)
    if value is None:
        return None
    if not isinstance(value, kind) or (kind is not bool and isinstance(value, bool)):
        field = f"{where}.{name}" if where else name
        raise InvalidRequest(f"Поле {field} должно быть {what or _KINDS[kind]}.", field=field)
    return value


def number(body: dict, name: str, low: float, high: float, *, low_open: bool = False,
           field: str | None = None) -> float | None:
    """An optional number within [low, high] ((low, high] with low_open)."""
    value = body.get(name)
    if value is None:
        return None
    field = field or name
    if not is_number(value) or not low <= value <= high or (low_open and value == low):
        limits = f"больше {low:g} и не больше {high:g}" if low_open else f"от {low:g} до {high:g}"
        raise InvalidRequest(f"Поле {field} должно быть числом {limits}.", field=field)
    return value


def integer(body: dict, name: str, low: int, high: int, field: str | None = None) -> int | None:
    """An optional integer within [low, high]."""
    value = body.get(name)
    if value is None:
        return None
    field = field or name
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise InvalidRequest(f"Поле {field} должно быть целым числом от {low} до {high}.",
                             field=field)
    return value
