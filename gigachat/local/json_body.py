"""JSON in and out: strict request bodies, and answers that always encode.

Requests: BOM-tolerant, no NaN/Infinity, no lone surrogates, bounded.

Everything a caller can send wrong becomes `InvalidRequest` with a Russian message naming
the field (e.g. ``messages[0].content``): bad encoding, malformed JSON, NaN, Infinity,
numbers out of range (``1e999``) or too long (a 100,000-digit integer), lone UTF-16
surrogates in values or keys, nesting deeper than MAX_DEPTH.
"""

from __future__ import annotations

import json
import math
import re
import sys
from dataclasses import dataclass

from gigachat.core.errors import InvalidRequest

MAX_DEPTH = 64  # deeper JSON is refused: nothing in either API needs more
MAX_NUMBER_CHARS = min(sys.get_int_max_str_digits() or 4300, 4300)
_SURROGATE = re.compile("[\ud800-\udfff]")
_SHOWN_KEY = 40  # characters of a key shown in a field path


@dataclass(frozen=True)
class _Rejected:
    """A number the parser refused; the walk reports it with its field path."""

    why: str


_NAN = _Rejected("значения NaN и Infinity в JSON недопустимы: передайте обычное число")
_HUGE = _Rejected("число вне допустимого диапазона")
_LONG = _Rejected(f"слишком длинное число (больше {MAX_NUMBER_CHARS} знаков)")


def _nan(_name: str) -> _Rejected:
    return _NAN


def _parse_int(text: str) -> int | _Rejected:
    return _LONG if len(text) > MAX_NUMBER_CHARS else int(text)


def _key_name(key: str) -> str:
    shown = key[:_SHOWN_KEY].encode("utf-8", "backslashreplace").decode("utf-8")
    return shown + ("…" if len(key) > _SHOWN_KEY else "")


def _join(path: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{path}[{key}]"
    return f"{path}.{_key_name(key)}" if path else _key_name(key)


def _surrogate_error(where: str, text: str, *, key: bool = False) -> InvalidRequest:
    found = _SURROGATE.search(text)
    code = f"\\u{ord(found.group()):04x}" if found else ""
    what = "Имя поля" if key else "Поле"
    return InvalidRequest(
        f"{what} {where or '(корень)'} содержит недопустимый символ {code} (одиночный "
        f"суррогат UTF-16): такой текст нельзя передать в UTF-8. Проверьте, как формируется "
        f"строка.", field=where or None)


def _bad_string(text: str) -> bool:
    return not text.isascii() and _SURROGATE.search(text) is not None


def _refusal(child: object) -> str | None:
    """Why a leaf value is refused (a lone surrogate, NaN, inf, a too long number), or None."""
    kind = child.__class__
    if kind is str:
        return "surrogate" if _bad_string(child) else None  # type: ignore[arg-type]
    if kind is float:
        return None if math.isfinite(child) else _HUGE.why  # type: ignore[arg-type]
    return child.why if kind is _Rejected else None  # type: ignore[attr-defined]


def _refuse(child: object, why: str, where: str) -> InvalidRequest:
    if why == "surrogate":
        return _surrogate_error(where, child)  # type: ignore[arg-type]
    return InvalidRequest(f"Поле {where or '(корень)'}: {why}.", field=where or None)


def check_tree(value: object, where: str = "") -> None:
    """Walk a parsed value (iteratively); InvalidRequest at the first unusable part."""
    if value.__class__ not in (dict, list):
        why = _refusal(value)
        if why:
            raise _refuse(value, why, where)
        return
    stack: list[tuple[object, str, int]] = [(value, where, 1)]
    while stack:
        node, path, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise InvalidRequest(f"Слишком глубокая вложенность JSON в поле {path or '(корень)'}: "
                                 f"допускается не больше {MAX_DEPTH} уровней.", field=path or None)
        pairs = node.items() if node.__class__ is dict else enumerate(node)  # type: ignore
        for key, child in pairs:
            if key.__class__ is str and _bad_string(key):
                raise _surrogate_error(_join(path, key), key, key=True)
            kind = child.__class__
            if kind is dict or kind is list:
                stack.append((child, _join(path, key), depth + 1))
            elif kind is str or kind is float or kind is _Rejected:
                why = _refusal(child)
                if why:
                    raise _refuse(child, why, _join(path, key))


def loads(text: str, where: str = "") -> object:
    """Parse JSON text strictly and check it; InvalidRequest(code="bad_json") on anything wrong.

    `where` names the field the text came from (a tool call's arguments), empty for a body.
    """
    place = f" в поле {where}" if where else " в теле запроса"
    try:
        try:
            value = json.loads(text, parse_constant=_nan)
        except ValueError as error:
            if isinstance(error, json.JSONDecodeError):
                raise
            # An integer past Python's digit limit: parse again, slower, to name its field.
            value = json.loads(text, parse_constant=_nan, parse_int=_parse_int)
    except json.JSONDecodeError as error:
        raise InvalidRequest(f"Некорректный JSON{place} (строка {error.lineno}, позиция "
                             f"{error.colno}). Проверьте формирование JSON.",
                             field=where or None, code="bad_json") from None
    except RecursionError:
        raise InvalidRequest(f"Слишком глубокая вложенность JSON{place}: допускается не больше "
                             f"{MAX_DEPTH} уровней.", field=where or None, code="bad_json") from None
    except ValueError as error:  # a number Python refuses to convert
        raise InvalidRequest(f"Некорректное число{place}: {_LONG.why}.", field=where or None,
                             code="bad_json") from error
    check_tree(value, where)
    return value


def parse_json_body(raw: bytes) -> object:
    """Decode a request body sent with or without a BOM (UTF-8, or UTF-16 with a BOM)."""
    if not raw.strip():
        raise InvalidRequest("Пустое тело запроса: передайте JSON, например {\"text\": \"...\"}.",
                             code="bad_json")
    encoding = "utf-16" if raw.startswith((b"\xff\xfe", b"\xfe\xff")) else "utf-8-sig"
    try:
        text = raw.decode(encoding)
    except UnicodeDecodeError as error:
        raise InvalidRequest(f"Тело запроса не в кодировке UTF-8 (неверный байт на позиции "
                             f"{error.start}). Передайте текст в UTF-8.", code="bad_json") from None
    return loads(text)


def json_bytes(obj: object) -> bytes:
    """Compact UTF-8 JSON; a lone surrogate (from upstream) becomes U+FFFD, never a crash."""
    text = json.dumps(obj, ensure_ascii=False, allow_nan=False)
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:
        return scrub(text).encode("utf-8")


def scrub(text: str) -> str:
    """`text` with every lone surrogate replaced by U+FFFD (safe to encode as UTF-8)."""
    return _SURROGATE.sub("\ufffd", text)
