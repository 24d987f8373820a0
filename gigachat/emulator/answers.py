"""Deterministic answer texts: the Markdown reply, function-call arguments, stream pieces."""

from __future__ import annotations

import re
from typing import Any


def markdown_reply(messages: list[dict[str, Any]], files: list[dict[str, Any]] | None = None) -> str:
    """A Russian Markdown answer (bold, list, table) about the last user text.

    With attached files it ends with one line per file the model "read":
    ``- «name»: N байт, sha256 HEX, первая строка: «...»`` (the first line only for text files).
    """
    text = last_user_text(messages)
    words = text.split()
    bullets = "\n".join(f"- «{word}»" for word in words[:3]) or "- (пустое сообщение)"
    answer = (
        "**Ответ эмулятора GigaChat**\n\n"
        f"В вашем сообщении {len(words)} {_plural(len(words), 'слово', 'слова', 'слов')}. "
        "Первые слова:\n\n"
        f"{bullets}\n\n"
        "| Показатель | Значение |\n"
        "| --- | --- |\n"
        f"| Символов | {len(text)} |\n"
        f"| Слов | {len(words)} |"
    )
    if files:
        answer += "\n\nПрочитанные файлы:\n" + "\n".join(file_line(f) for f in files)
    return answer


def file_line(info: dict[str, Any]) -> str:
    """How an answer names one attached file."""
    line = f"- «{info['filename']}»: {info['bytes']} байт, sha256 {info['sha256']}"
    if info.get("first_line") is not None:
        line += f", первая строка: «{info['first_line']}»"
    return line


def last_user_text(messages: list[dict[str, Any]]) -> str:
    """The content of the last user message (or of the last message)."""
    return next(
        (m.get("content") or "" for m in reversed(messages) if m.get("role") == "user"),
        messages[-1].get("content") or "" if messages else "",
    )


def user_texts(messages: list[dict[str, Any]]) -> list[str]:
    """The contents of every user message, in order."""
    return [m.get("content") or "" for m in messages if m.get("role") == "user"]


def _plural(n: int, one: str, few: str, many: str) -> str:
    if n % 10 == 1 and n % 100 != 11:
        return one
    if 2 <= n % 10 <= 4 and not 12 <= n % 100 <= 14:
        return few
    return many


def example_arguments(schema: Any) -> dict[str, Any]:
    """Arguments for a function call: every required property with a sample value."""
    if not isinstance(schema, dict):
        return {}
    properties = schema.get("properties") or {}
    required = schema.get("required") or []
    return {
        name: _example_value(properties.get(name) if isinstance(properties, dict) else None)
        for name in required
        if isinstance(name, str)
    }


def _example_value(schema: Any) -> Any:
    if not isinstance(schema, dict):
        return "пример"
    if isinstance(schema.get("enum"), list) and schema["enum"]:
        return schema["enum"][0]
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "string")
    samples = {"integer": 1, "number": 1.0, "boolean": True, "array": []}
    if kind == "object":
        return example_arguments(schema)
    return samples.get(kind, "пример")


def split_words(text: str, per_chunk: int) -> list[str]:
    """Split text into pieces of ``per_chunk`` words; joined they give the text back."""
    words = re.findall(r"\s*\S+\s*", text)
    if "".join(words) != text:
        return [text] if text else []
    return ["".join(words[i : i + per_chunk]) for i in range(0, len(words), per_chunk)]
