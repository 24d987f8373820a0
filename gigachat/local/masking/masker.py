"""Request-scoped masking: values out, placeholders in; placeholders out, values back."""

from __future__ import annotations

import html
import re
from collections.abc import Iterable
from typing import Any

from gigachat.local.masking import detectors, names, placeholders
from gigachat.local.masking.detectors import ALL_KINDS, NAME, RULE_KINDS


def detect(text: str, kinds: frozenset[str] | set[str], with_names: bool) -> list[detectors.Found]:
    """All values to mask in text, non-overlapping, in text order."""
    found = detectors.find(text, kinds)
    if with_names:
        found = detectors.resolve(found + names.find_names(text))
    return found


class Masker:
    """One per request: `mask()` every text that is sent, `restore()` everything returned.

    The same value (digits only for numbers, case- and inflection-insensitive for names)
    gets the same placeholder within the masker. Values are kept only in memory and never
    appear in repr(); `counts()` tells how many distinct values of each kind were masked.
    Not thread-safe: use one masker per request (or a lock around it).
    """

    def __init__(self, kinds: Iterable[str] | None = None, names: bool = True) -> None:
        wanted = set(RULE_KINDS if kinds is None else kinds)
        unknown = wanted - set(ALL_KINDS)
        if unknown:
            raise ValueError(f"unknown kinds: {sorted(unknown)}")
        if names:
            wanted.add(NAME)
        else:
            wanted.discard(NAME)
        self._rule_kinds = frozenset(wanted - {NAME})
        self._names = NAME in wanted
        self._numbers: dict[tuple[str, str], int] = {}  # (kind, key) -> placeholder number
        self._originals: dict[tuple[str, int], str] = {}  # (kind, number) -> first original
        self._reserved: set[tuple[str, int]] = set()  # placeholder-like text already in input
        self._next: dict[str, int] = {}

    def __repr__(self) -> str:
        return f"Masker(masked={self.counts()})"

    # -- masking -------------------------------------------------------------------------

    def mask(self, text: str) -> str:
        """text with every detected value replaced by its placeholder."""
        if not isinstance(text, str):
            raise TypeError("Masker.mask() takes a str")
        for m in placeholders.TEXT.finditer(text):
            self._reserved.add(placeholders.key_of(m))
        parts, pos = [], 0
        for item in detect(text, self._rule_kinds, self._names):
            parts.append(text[pos : item.start])
            parts.append(self._placeholder(item.kind, item.key, text[item.start : item.end]))
            pos = item.end
        parts.append(text[pos:])
        return "".join(parts)

    def _placeholder(self, kind: str, key: str, original: str) -> str:
        number = self._numbers.get((kind, key))
        if number is None:
            number = self._next.get(kind, 0) + 1
            while (kind, number) in self._reserved:
                number += 1
            self._next[kind] = number
            self._numbers[(kind, key)] = number
            self._originals[(kind, number)] = original
        return placeholders.label(kind, number)

    def counts(self) -> dict[str, int]:
        """Distinct values masked so far, by kind, e.g. {"ИНН": 2, "ФИО": 1}."""
        out: dict[str, int] = {}
        for kind, _ in self._numbers:
            out[kind] = out.get(kind, 0) + 1
        return {kind: out[kind] for kind in ALL_KINDS if kind in out}

    # -- restoring -----------------------------------------------------------------------

    def _value(self, match: re.Match, escape: bool) -> str:
        original = self._originals.get(placeholders.key_of(match))
        if original is None:
            return match.group(0)  # not ours: leave the text alone
        if not escape:
            return original
        tags = "".join(placeholders.TAG.findall(match.group(0)))  # keep the markup balanced
        return html.escape(original) + tags

    def restore_text(self, text: str, start: int = 0, end: int | None = None) -> str:
        """text[start:end] with placeholders replaced by the originals."""
        end = len(text) if end is None else end
        if not self._originals:
            return text[start:end]
        parts, pos = [], start
        for m in placeholders.TEXT.finditer(text, start, end):
            parts.append(text[pos : m.start()])
            parts.append(self._value(m, escape=False))
            pos = m.end()
        parts.append(text[pos:end])
        return "".join(parts)

    def restore_html(self, markup: str) -> str:
        """Rendered HTML with placeholders replaced by the HTML-escaped originals."""
        if not self._originals:
            return markup
        return placeholders.HTML.sub(lambda m: self._value(m, escape=True), markup)

    def restore(self, obj: Any) -> Any:
        """A str, or dicts/lists of them (extracted fields), with the originals back.

        Dict keys and non-string values are kept as they are; a new object is returned.
        """
        if isinstance(obj, str):
            return self.restore_text(obj)
        if isinstance(obj, dict):
            return {key: self.restore(value) for key, value in obj.items()}
        if isinstance(obj, (list, tuple)):
            return [self.restore(value) for value in obj]
        return obj

    def restore_stream(self) -> StreamRestorer:
        """A restorer for a growing answer (streamed chunks, a job's partial text)."""
        return StreamRestorer(self)


class StreamRestorer:
    """Feed chunks as they come; get restored text, never a half placeholder.

    `feed(chunk)` returns the newly restorable text (a possible placeholder start at the end
    is held back until the next chunk), `finish()` returns the rest, and `text` is all the
    restored text so far (e.g. a job's `partial`).
    """

    def __init__(self, masker: Masker) -> None:
        self._masker = masker
        self._context = ""  # the last restored raw character (placeholder rules look behind)
        self._pending = ""  # raw text not restored yet: at most a held-back placeholder start
        self._out: list[str] = []

    @property
    def text(self) -> str:
        return "".join(self._out)

    def feed(self, chunk: str) -> str:
        self._pending += chunk
        raw = self._context + self._pending
        return self._emit(raw, placeholders.hold_from(raw, len(self._context)))

    def finish(self) -> str:
        raw = self._context + self._pending
        return self._emit(raw, len(raw))

    def _emit(self, raw: str, safe: int) -> str:
        start = len(self._context)
        if safe <= start:
            return ""
        piece = self._masker.restore_text(raw, start, safe)
        self._context, self._pending = raw[safe - 1 : safe], raw[safe:]
        self._out.append(piece)
        return piece
