"""Read the JSON object out of a model's answer, leniently: code fences, text around it,
trailing commas, a BOM. Never raises: (value, None) or (None, a Russian reason)."""

from __future__ import annotations

import json
import re
from typing import Any

_FENCE = re.compile(r"```[a-zA-Z0-9_-]*\s*\n?(.*?)```", re.DOTALL)
_TRAILING_COMMA = re.compile(r",(\s*[}\]])")
MAX_CANDIDATES = 20


def _strict(text: str) -> Any:
    return json.loads(text, parse_constant=lambda name: None)


def _balanced(text: str, start: int) -> str | None:
    """The {...} or [...] starting at `start`, matched with strings respected."""
    opening = text[start]
    closing = "}" if opening == "{" else "]"
    depth, in_string, escaped = 0, False, False
    for index in range(start, len(text)):
        ch = text[index]
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "{[":
            depth += 1
        elif ch in "}]":
            depth -= 1
            if depth == 0:
                return text[start:index + 1] if ch == closing else None
    return None


def _candidates(text: str) -> list[str]:
    found = [text]
    found += [m.group(1) for m in _FENCE.finditer(text)]
    starts = [i for i, ch in enumerate(text) if ch == "{"][:MAX_CANDIDATES]
    for start in starts:
        piece = _balanced(text, start)
        if piece:
            found.append(piece)
    return found


def parse_answer(text: str) -> tuple[Any, str | None]:
    """The first JSON object found in `text`, or (None, why not)."""
    text = (text or "").lstrip("\ufeff").strip()
    if not text:
        return None, "ответ пустой"
    for candidate in _candidates(text):
        for attempt in (candidate, _TRAILING_COMMA.sub(r"\1", candidate)):
            try:
                value = _strict(attempt.strip())
            except (ValueError, RecursionError):
                continue
            if isinstance(value, dict):
                return value, None
    try:
        _strict(text)
    except json.JSONDecodeError as error:
        return None, (f"ответ не является корректным JSON (ошибка в строке {error.lineno}, "
                      f"позиция {error.colno})")
    except (ValueError, RecursionError):
        return None, "ответ не является корректным JSON"
    return None, "в ответе JSON, но не объект с полями"
