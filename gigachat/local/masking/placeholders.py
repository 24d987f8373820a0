"""Placeholders `[ИНН_1]`: how they are written, and how they are found again in model output.

Found again case-insensitively and tolerant of what models do to them: `[инн_1]`,
`[ ИНН_1 ]`, `[ИНН 1]`, `[ИНН-1]`, Markdown-escaped `\\[ИНН\\_1\\]`, and bare `ИНН_1`; in
HTML also with tags inside (`[<strong>ИНН_1</strong>]`). СЧЕТ is also found as СЧЁТ.
"""

from __future__ import annotations

import re

from gigachat.local.masking.detectors import ALL_KINDS


def label(kind: str, number: int) -> str:
    return f"[{kind}_{number}]"


def canonical_kind(written: str) -> str:
    return written.upper().replace("Ё", "Е")


def _kind_alternation() -> str:
    names = sorted(ALL_KINDS, key=len, reverse=True)  # ОГРНИП before ОГРН
    return "|".join(re.escape(k).replace("Е", "[ЕЁ]") for k in names)


_KINDS = _kind_alternation()
_NUM = r"(?P<n{i}>\d{{1,6}})"
_KIND = r"(?P<k{i}>" + _KINDS + ")"

TEXT = re.compile(
    r"\\?\[\s*" + _KIND.format(i=1) + r"\s*(?:\\?_|-|\s)?\s*" + _NUM.format(i=1) + r"\s*\\?\]"
    r"|(?<![\w\\])" + _KIND.format(i=2) + r"\\?_" + _NUM.format(i=2) + r"(?!\w)",
    re.IGNORECASE,
)

_TAGS = r"(?:\s|&nbsp;|<[^<>]{0,200}>)*"
HTML = re.compile(
    r"\\?\[" + _TAGS + _KIND.format(i=1) + _TAGS + r"(?:\\?_|-|\s|&nbsp;)?" + _TAGS
    + _NUM.format(i=1) + _TAGS + r"\\?\]"
    r"|(?<![\w\\])" + _KIND.format(i=2) + r"\\?_" + _NUM.format(i=2) + r"(?!\w)",
    re.IGNORECASE,
)
TAG = re.compile(r"<[^<>]{0,200}>")

# The end of a growing text that may be the start of a placeholder (held back in streams).
_OPEN_TAIL = re.compile(r"\\?\[[^\[\]\n]{0,30}$")
_BARE_TAIL = re.compile(r"(?<![\w\\])(?P<w>[^\W\d_]{1,6})(?:\\?_\d{0,6})?\\?$")
_PREFIXES = {k[:i] for k in ALL_KINDS for i in range(1, len(k) + 1)}


def key_of(match: re.Match) -> tuple[str, int]:
    """(canonical kind, number) of a placeholder match from TEXT or HTML."""
    kind = match.group("k1") or match.group("k2")
    number = match.group("n1") or match.group("n2")
    return canonical_kind(kind), int(number)


def hold_from(text: str, start: int) -> int:
    """Where a possibly incomplete placeholder begins at the end of text (len(text) if none)."""
    tail = max(start, len(text) - 40)
    m = _OPEN_TAIL.search(text, tail)
    if m:
        return max(start, m.start())
    m = _BARE_TAIL.search(text, tail)
    if m and canonical_kind(m.group("w")) in _PREFIXES:
        return max(start, m.start())
    if text.endswith("\\"):
        return max(start, len(text) - 1)
    return len(text)
