"""BSL source handling for the 1C kit: code/string/comment segments and module assembly.

The one rule: text inside string literals and comments is never rewritten. Every
transformation goes through `rewrite_code`, which touches only code segments.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

WORD = r"[A-Za-zА-Яа-яЁё_][\wЁё]*"
METHOD_START = re.compile(r"^(?:Асинх\s+)?(Процедура|Функция)\s+(" + WORD + r")\s*\(", re.M)
DIRECTIVE = re.compile(r"^&[\wЁё]+\s*$")


@dataclass(frozen=True)
class Segment:
    kind: str  # "code", "string" (with its quotes), "comment" (from // to the line end)
    text: str


def segments(source: str) -> list[Segment]:
    """Split BSL into code, string literals (multi-line ones with | included) and comments."""
    out: list[Segment] = []
    code_start = 0
    i = 0
    n = len(source)
    while i < n:
        char = source[i]
        if char == '"':
            end = i + 1
            while end < n:
                if source[end] == '"':
                    if end + 1 < n and source[end + 1] == '"':
                        end += 2  # a doubled quote inside the literal
                        continue
                    break
                end += 1
            _flush(out, source[code_start:i])
            out.append(Segment("string", source[i:end + 1]))
            i = code_start = end + 1
        elif source.startswith("//", i):
            end = source.find("\n", i)
            end = n if end < 0 else end
            _flush(out, source[code_start:i])
            out.append(Segment("comment", source[i:end]))
            i = code_start = end
        elif char == "'":  # a date literal such as '20240101'
            end = source.find("'", i + 1)
            i = n if end < 0 else end + 1
        else:
            i += 1
    _flush(out, source[code_start:])
    return out


def _flush(out: list[Segment], text: str) -> None:
    if text:
        out.append(Segment("code", text))


def join(parts: list[Segment]) -> str:
    return "".join(p.text for p in parts)


def literals(source: str) -> list[str]:
    return [s.text for s in segments(source) if s.kind == "string"]


def rewrite_code(source: str, replace) -> str:
    """Apply replace(code_text) -> code_text to code segments only."""
    return join([Segment(s.kind, replace(s.text)) if s.kind == "code" else s for s in segments(source)])


def strip_module_prefix(source: str, module: str) -> str:
    """`ГигаЧатМостКлиент.Спросить(` -> `Спросить(`, in code only."""
    pattern = re.compile(r"(?<![\wЁё.])" + re.escape(module) + r"\.(?=[А-Яа-яЁёA-Za-z_])")
    return rewrite_code(source, lambda code: pattern.sub("", code))


def body_after_header(source: str) -> str:
    """The module from its first #Область on (the header comment names the module it came from)."""
    return source[source.index("#Область"):]


def method_names(source: str) -> list[str]:
    code = join([s if s.kind == "code" else Segment(s.kind, " " * len(s.text)) for s in segments(source)])
    return [m.group(2) for m in METHOD_START.finditer(code)]


def add_directive(source: str, directive: str) -> str:
    """Put `directive` on the line before every method that has no compilation directive yet."""
    lines = source.split("\n")
    out: list[str] = []
    for line in lines:
        if METHOD_START.match(line):
            previous = next((x for x in reversed(out) if x.strip() and not x.lstrip().startswith("//")), "")
            if not DIRECTIVE.match(previous.strip()):
                out.append(directive)
        out.append(line)
    return "\n".join(out)


def rename_regions(source: str, prefix: str) -> str:
    return re.sub(r"^#Область (\S+)", lambda m: f"#Область {prefix}{m.group(1)}", source, flags=re.M)


def assigned_names(source: str) -> set[str]:
    """Identifiers assigned as plain variables (`Имя = ...` at a statement start), code only."""
    code = join([s if s.kind == "code" else Segment(s.kind, '""') for s in segments(source)])
    assigned = set(re.findall(r"(?:^|;)\s*(" + WORD + r")\s*=(?!=)", code, flags=re.M))
    return assigned | set(re.findall(r"Для\s+Каждого\s+(" + WORD + r")\s+Из", code))


@dataclass(frozen=True)
class Inlined:
    """A common module inlined into a form module of an external data processor."""

    name: str
    source: str
    directive: str
    region_prefix: str
    keep_export: bool = True  # server methods of a form module must not be exported (v8std)


def drop_export(source: str) -> str:
    """`Функция Ф(...) Экспорт` -> `Функция Ф(...)` on method header lines."""
    return "\n".join(re.sub(r"\)\s+Экспорт\s*$", ")", line) if METHOD_START.match(line) else line
                     for line in source.split("\n"))


def form_module_with(form_source: str, inlined: list[Inlined], header: list[str],
                     forbidden_locals: set[str]) -> str:
    """The form module with common modules inlined as sub-regions of its last region
    (СлужебныеПроцедурыИФункции): prefixes stripped, directives added."""
    body = body_after_header(form_source).rstrip("\n")
    last = body.rindex("#КонецОбласти")
    parts = [body[:last].rstrip("\n") + "\n"]
    for module in inlined:
        text = rename_regions(body_after_header(module.source), module.region_prefix).rstrip("\n")
        text = add_directive(text, module.directive)
        parts.append(text if module.keep_export else drop_export(text))
    text = "\n\n".join(p.rstrip("\n") for p in parts) + "\n\n" + body[last:] + "\n"
    for module in inlined:
        text = strip_module_prefix(text, module.name)
    names = method_names(text)
    clashes = sorted({n for n in names if names.count(n) > 1})
    if clashes:
        raise ValueError(f"methods clash when inlined into the form module: {clashes}")
    shadowing = sorted(assigned_names("\n".join(m.source for m in inlined)) & forbidden_locals)
    if shadowing:
        raise ValueError(f"local variables would shadow form properties/attributes: {shadowing}")
    return "\n".join(header) + "\n\n" + text
