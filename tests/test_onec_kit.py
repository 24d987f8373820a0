"""The 1C kit under resources/1c: the BSL parses, and its contract matches the live bridge.

We cannot run BSL here, so the contract is read from the module's source with
tree-sitter-bsl: the routes it calls (`ВыполнитьЗапросКМосту("POST", "/analyze/text", ...)`),
the JSON keys it writes (`ПараметрыЗапроса.Вставить("text", ...)`), the keys it reads
(`Данные.Получить("success")`, nested through variables and loops), its HTTP headers and
its wire rules (no BOM, timeout and proxy on every connection, UTF-8 answers). Those are
checked against /openapi.json and against real answers of a bridge started as
`tray_app.py --headless --demo --port 0`, with requests built byte for byte as 1C sends them.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.conftest import need, wait_for
from tests.onec_wire import BOM, onec_json, onec_request

ROOT = Path(__file__).resolve().parent.parent
ONEC_DIR = ROOT / "resources" / "1c"
MODULE = ONEC_DIR / "ГигаЧатМост.bsl"
FORM_MODULE = ONEC_DIR / "ГигаЧатАссистент" / "Модуль.bsl"
EXTERNAL_FORM_MODULE = ONEC_DIR / "ГигаЧатАссистент" / "МодульДляВнешнейОбработки.bsl"
BSL_FILES = sorted(ONEC_DIR.rglob("*.bsl"))

BODY_VARIABLE = "ПараметрыЗапроса"  # the module builds every JSON body in this variable
HEADERS_VARIABLE = "Заголовки"  # ... and every header map in this one
REQUEST_FUNCTION = "ВыполнитьЗапросКМосту"  # (Метод, Ресурс, ДанныеЗапроса, Настройки, Таймаут)
JSON_KEY = re.compile(r"^[a-z][a-z0-9_]*$")  # keys of the bridge's JSON (1C-side keys are Cyrillic)
LOCAL_KEY = "test-local-api-key-7f3c"

# --- tree-sitter helpers -----------------------------------------------------------


def bsl_parser():
    try:
        import tree_sitter
        import tree_sitter_bsl
    except ImportError:
        need(False, "tree-sitter-bsl (pip install tree-sitter-bsl)")
    return tree_sitter.Parser(tree_sitter.Language(tree_sitter_bsl.language()))


def walk(node):
    yield node
    for child in node.children:
        yield from walk(child)


def text(node) -> str:
    return node.text.decode("utf-8")


def error_lines(tree) -> list[int]:
    return sorted({n.start_point[0] + 1 for n in walk(tree.root_node) if n.is_error or n.is_missing})


def string_value(node) -> str | None:
    """The value of a string literal expression (BSL doubles quotes, continues lines with |)."""
    while node is not None and node.type in ("expression", "const_expression") \
            and node.named_child_count == 1:
        node = node.named_children[0]
    if node is None or node.type != "string":
        return None
    parts = [text(c) for c in node.children if c.type == "string_content"]
    return "\n".join(parts).replace('""', '"')


def arguments(call) -> list:
    """Positional arguments of a method_call / new_expression; None for an empty slot."""
    args_node = next((c for c in call.children if c.type == "arguments"), None)
    if args_node is None:
        return []
    slots: list = [None]
    for child in args_node.children:
        if child.type == "expression":
            slots[-1] = child
        else:  # "," or, in newer grammars, an omitted_argument token that may hold ", ,"
            slots.extend([None] * text(child).count(","))
    return [] if slots == [None] else slots


def call_name(call) -> str:
    return text(next(c for c in call.children if c.type == "identifier"))


def receiver(call) -> str | None:
    """`Данные` for `Данные.Получить(...)`; None for a global call."""
    parent = call.parent
    if parent is not None and parent.type == "call_expression" and parent.children[0] != call:
        return text(parent.children[0])
    return None


def method_calls(node, name: str):
    for n in walk(node):
        if n.type == "method_call" and call_name(n).casefold() == name.casefold():
            yield n


def new_expressions(node, type_name: str):
    for n in walk(node):
        if n.type == "new_expression" and call_name(n).casefold() == type_name.casefold():
            yield n


def method_nodes(tree) -> list:
    return [n for n in walk(tree.root_node) if n.type in ("function_definition", "procedure_definition")]


def methods(tree) -> dict:
    return {text(n.child_by_field_name("name")): n for n in method_nodes(tree)}


def is_exported(method) -> bool:
    return any(c.type == "EXPORT_KEYWORD" for c in method.children)


# --- the contract read from the module ----------------------------------------------


@dataclass
class Contract:
    routes: dict = field(default_factory=dict)  # (method, path) -> names of BSL methods calling it
    writes: set = field(default_factory=set)  # JSON keys of the POST body
    reads: dict = field(default_factory=dict)  # (method, path) -> set of key paths read from answers
    error_reads: set = field(default_factory=set)  # key paths read from any error answer
    compared: dict = field(default_factory=dict)  # key path -> string values the module expects
    headers: dict = field(default_factory=dict)  # header name -> literal value (or prefix)
    no_bom: bool = False
    utf8_answers: bool = False
    settings: dict = field(default_factory=dict)  # НастройкиПодключения defaults


def _reads_in(method) -> tuple[set, dict]:
    """Key paths read in one BSL method, following variables and Для Каждого loops."""
    aliases: dict[str, tuple] = {}
    holders: dict[str, tuple] = {}  # variable -> the key path whose value it holds
    reads: set[tuple] = set()
    compared: dict[tuple, set] = {}

    def base(call) -> tuple:
        return aliases.get(receiver(call) or "", ())

    def key_of(call) -> str | None:
        args = arguments(call)
        key = string_value(args[0]) if args else None
        return key if key and JSON_KEY.match(key) else None

    done: set[tuple[int, int]] = set()  # reads already recorded (right sides, before re-aliasing)

    def record(call) -> tuple:
        path = base(call) + (key_of(call),)
        reads.add(path)
        done.add((call.start_byte, call.end_byte))
        return path

    for node in walk(method):
        if node.type == "assignment_statement":
            left = node.children[0]
            right = node.child_by_field_name("right")
            if left.type != "identifier" or right is None:
                continue
            name = text(left)
            gets = [record(c) for c in method_calls(right, "Получить") if key_of(c)]
            aliases.pop(name, None)
            holders.pop(name, None)
            inner = right.named_children[0] if right.named_child_count == 1 else None
            if inner is not None and inner.type == "call_expression" and len(gets) == 1 \
                    and inner.children[-1].type == "method_call":
                aliases[name] = gets[0]  # Имя = Данные.Получить("key"): Имя stands for that key
            elif len(gets) == 1:
                holders[name] = gets[0]  # Имя = СтрокаИзЗначения(Данные.Получить("key"))
        elif node.type == "for_each_statement":
            names = [c for c in node.children if c.type == "identifier"]
            source = next((c for c in node.children if c.type == "expression"), None)
            if names and source is not None and text(source) in aliases:
                aliases[text(names[0])] = aliases[text(source)] + ("[]",)
        elif node.type == "method_call" and call_name(node) == "Получить" and key_of(node) \
                and (node.start_byte, node.end_byte) not in done:
            record(node)
        elif node.type == "binary_expression":
            sides = [c for c in node.children if c.type == "expression"]
            operator = next((c for c in node.children if c.type == "operator"), None)
            if len(sides) == 2 and operator is not None and text(operator) in ("=", "<>"):
                for one, other in (sides, sides[::-1]):
                    value = string_value(other)
                    if text(one) in holders and value is not None:
                        compared.setdefault(holders[text(one)], set()).add(value)
    return reads, compared


def extract_contract(source: bytes) -> Contract:
    tree = bsl_parser().parse(source)
    assert not error_lines(tree), f"the module does not parse: lines {error_lines(tree)}"
    contract = Contract()
    common_reads: set = set()
    for name, method in methods(tree).items():
        routes = set()
        for call in method_calls(method, REQUEST_FUNCTION):
            args = arguments(call)
            verb, path = string_value(args[0]), string_value(args[1])
            assert verb in ("GET", "POST") and path and path.startswith("/"), text(call)
            routes.add((verb, path))
            contract.routes.setdefault((verb, path), set()).add(name)
        reads, compared = _reads_in(method)
        for path, values in compared.items():
            contract.compared.setdefault(path, set()).update(values)
        if routes:
            for route in routes:
                contract.reads.setdefault(route, set()).update(reads)
        else:
            common_reads |= reads
        for call in method_calls(method, "Вставить"):
            args = arguments(call)
            key = string_value(args[0]) if args else None
            if receiver(call) == BODY_VARIABLE and key:
                contract.writes.add(key)
            elif receiver(call) == HEADERS_VARIABLE and key:
                value_node = args[1]
                literal = string_value(value_node)
                if literal is None:  # "Bearer " + Настройки.КлючДоступа: keep the literal prefix
                    strings = [string_value(n) for n in walk(value_node) if n.type == "string"]
                    literal = strings[0] if strings else ""
                contract.headers[key] = literal
            elif receiver(call) == "Настройки" and name == "НастройкиПодключения" and key:
                contract.settings[key] = text(args[1])
    contract.error_reads = common_reads
    calls = list(method_calls(tree.root_node, "УстановитьТелоИзСтроки"))
    contract.no_bom = bool(calls) and all(
        len(arguments(c)) == 3 and text(arguments(c)[2]) == "ИспользованиеByteOrderMark.НеИспользовать"
        for c in calls
    )
    answers = list(method_calls(tree.root_node, "ПолучитьТелоКакСтроку"))
    contract.utf8_answers = bool(answers) and all(
        [string_value(a) for a in arguments(c)] == ["UTF-8"] for c in answers
    )
    return contract


@pytest.fixture(scope="module")
def contract() -> Contract:
    return extract_contract(MODULE.read_bytes())


# --- checking a contract against an OpenAPI document and real answers ---------------


def resolve(spec: dict, schema: dict) -> list[dict]:
    """The alternatives a schema stands for ($ref followed, oneOf/anyOf flattened)."""
    if "$ref" in schema:
        node = spec
        for part in schema["$ref"].lstrip("#/").split("/"):
            node = node[part]
        return resolve(spec, node)
    for word in ("oneOf", "anyOf"):
        if word in schema:
            return [alt for sub in schema[word] for alt in resolve(spec, sub)]
    return [schema]


def schema_problems(spec: dict, schema: dict, path: tuple) -> list[str]:
    """Empty if `path` (keys, "[]" for array items) exists in the schema."""
    if not path:
        return []
    key, rest = path[0], path[1:]
    containers = [s for s in resolve(spec, schema) if "properties" in s or "items" in s]
    if not containers:  # a scalar or null here: the module type-checks before going deeper
        return []
    for alt in containers:
        if key == "[]" and "items" in alt:
            return schema_problems(spec, alt["items"], rest)
        if key in alt.get("properties", {}):
            return schema_problems(spec, alt["properties"][key], rest)
    return [f"{'.'.join(path)} is not in the schema"]


def answer_problems(answer: object, path: tuple, *, strict: bool = False) -> list[str]:
    """Empty if `path` is present in a real answer (strict: every level present, lists non-empty)."""
    if not path:
        return []
    key, rest = path[0], path[1:]
    if key == "[]":
        if not isinstance(answer, list):
            return [] if not strict and answer is None else [f"expected a list at {'.'.join(path)}"]
        if strict and not answer:
            return ["empty list"]
        return [p for item in answer for p in answer_problems(item, rest, strict=strict)]
    if not isinstance(answer, dict):
        return [] if not strict else [f"expected an object before {'.'.join(path)}"]
    if key not in answer:
        return [f"no key {key!r} in the answer (keys: {sorted(answer)})"]
    value = answer[key]
    if rest and not isinstance(value, dict | list) and not strict:
        return []
    return answer_problems(value, rest, strict=strict)


def operation(spec: dict, route: tuple) -> dict | None:
    verb, path = route
    return spec.get("paths", {}).get(path, {}).get(verb.lower())


def json_schema(response_or_body: dict) -> dict:
    return response_or_body["content"]["application/json"]["schema"]


def spec_problems(contract: Contract, spec: dict) -> list[str]:
    """Where the module's routes and keys disagree with the bridge's OpenAPI document."""
    missing = [f"/openapi.json has no {verb} {path}" for verb, path in contract.routes
               if operation(spec, (verb, path)) is None]
    if missing:
        return missing
    problems = []
    posts = [r for r in contract.routes if r[0] == "POST"]
    if len(posts) != 1:
        return [f"expected the module to POST to exactly one route, found {posts}"]
    body_schema = json_schema(operation(spec, posts[0])["requestBody"])
    properties = {k for alt in resolve(spec, body_schema) for k in alt.get("properties", {})}
    problems += [f"the module writes {k!r}, not a property of {posts[0]}"
                 for k in sorted(contract.writes - properties)]
    for alt in resolve(spec, body_schema):
        problems += [f"{posts[0]} requires {k!r}, the module never writes it"
                     for k in alt.get("required", []) if k not in contract.writes]
    for route, reads in contract.reads.items():
        responses = operation(spec, route)["responses"]
        for path in sorted(reads):
            problems += [f"{route}: {p}" for p in schema_problems(spec, json_schema(responses["200"]), path)]
        if "403" not in responses:
            problems.append(f"{route}: no 403 answer documented")
            continue
        refused = json_schema(responses["403"])
        for path in sorted(contract.error_reads):
            problems += [f"{route} 403: {p}" for p in schema_problems(spec, refused, path)]
    # Values the module compares a field with (e.g. status = "no_credentials") must be in its enum.
    for path, values in contract.compared.items():
        for route, reads in contract.reads.items():
            if path not in reads or len(path) != 1:
                continue
            answer = json_schema(operation(spec, route)["responses"]["200"])
            allowed = {v for alt in resolve(spec, answer)
                       for prop in resolve(spec, alt.get("properties", {}).get(path[0], {}))
                       for v in prop.get("enum") or ()}
            if allowed:
                problems += [f"the module compares {path[0]} with {v!r}, not in {sorted(allowed)}"
                             for v in sorted(values - allowed)]
    return problems


def live_problems(contract: Contract, route: tuple, answer: object, *, strict: bool = True) -> list[str]:
    return [f"{route}: {p}" for path in sorted(contract.reads.get(route, ()))
            for p in answer_problems(answer, path, strict=strict)]


# --- static checks -------------------------------------------------------------------


def test_kit_files_exist():
    for name in ("ГигаЧатМост.bsl", "ГигаЧатАссистент/Модуль.bsl", "ГигаЧатАссистент/Форма.md",
                 "README.md"):
        assert (ONEC_DIR / name).is_file(), name


def _bsl_id(path: Path) -> str:
    known = {MODULE: "module", FORM_MODULE: "form", EXTERNAL_FORM_MODULE: "external-processing-form"}
    return known.get(path, f"bsl-{BSL_FILES.index(path)}")


@pytest.mark.parametrize("path", BSL_FILES, ids=_bsl_id)
def test_bsl_parses_without_error_nodes(path):
    tree = bsl_parser().parse(path.read_bytes())
    assert tree.root_node.type == "source_file"
    assert not tree.root_node.has_error, f"{path.name}: syntax errors on lines {error_lines(tree)}"
    assert methods(tree), f"{path.name}: no procedures or functions found"


def test_bsl_examples_in_the_guide_parse():
    guide = (ONEC_DIR / "README.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```bsl\n(.*?)```", guide, flags=re.S)
    assert len(blocks) >= 4
    parser = bsl_parser()
    for block in blocks:
        if not re.search(r"^(&\S+\n)?(Процедура|Функция) ", block, flags=re.M):
            block = f"Процедура Пример()\n{block}\nКонецПроцедуры\n"
        tree = parser.parse(block.encode("utf-8"))
        assert not tree.root_node.has_error, f"lines {error_lines(tree)} of:\n{block}"


@pytest.mark.parametrize("broken", [
    "Функция Ф()\n\tВозврат 1;\n",
    "Процедура П()\n\tЕсли А Тогда\n\t\tБ = 1;\nКонецПроцедуры\n",
    "Процедура П()\n\tА = Новый HTTPСоединение(\"127.0.0.1\", 8000;\nКонецПроцедуры\n",
], ids=["no-endfunction", "no-endif", "unclosed-call"])
def test_broken_bsl_is_detected(broken):
    assert bsl_parser().parse(broken.encode("utf-8")).root_node.has_error


def test_module_wire_rules(contract):
    tree = bsl_parser().parse(MODULE.read_bytes())
    source = MODULE.read_text(encoding="utf-8")
    assert contract.no_bom, "every body must be set with ИспользованиеByteOrderMark.НеИспользовать"
    assert contract.utf8_answers, 'every answer must be read with ПолучитьТелоКакСтроку("UTF-8")'
    connections = list(new_expressions(tree.root_node, "HTTPСоединение"))
    assert connections, "no HTTPСоединение in the module"
    for connection in connections:
        args = arguments(connection)
        assert len(args) >= 6 and args[5] is not None, f"no timeout: {text(connection)}"
        assert args[4] is not None, f"no proxy (the OS proxy would be used): {text(connection)}"
    proxies = list(new_expressions(tree.root_node, "ИнтернетПрокси"))
    assert proxies and all([text(a) for a in arguments(p)] == ["Ложь"] for p in proxies)
    assert "НеИспользоватьПроксиДляЛокальныхАдресов = Истина" in source
    # Every platform call that can raise sits inside Попытка ... Исключение.
    risky = [c for name in ("ОтправитьДляОбработки", "Получить", "ПолучитьТелоКакСтроку",
                            "УстановитьТелоИзСтроки", "ПрочитатьJSON", "ЗаписатьДанныеJSON")
             for c in method_calls(tree.root_node, name)
             if name != "Получить" or receiver(c) == "Соединение"]  # Соответствие.Получить can't raise
    risky += connections
    assert len(risky) >= 7
    for call in risky:
        ancestor = call.parent
        while ancestor is not None and ancestor.type != "try_statement":
            ancestor = ancestor.parent
        assert ancestor is not None, f"{text(call)} is outside Попытка"
    # Settings in one place, with the documented defaults.
    assert contract.settings["Адрес"] == '"127.0.0.1"'
    assert contract.settings["Порт"] == "8000"
    assert set(contract.settings) >= {"Адрес", "Порт", "КлючДоступа", "Таймаут", "ТаймаутПроверки"}
    assert "localhost" not in "".join(contract.settings.values())
    assert contract.headers.get("Authorization") == "Bearer "


def test_module_public_interface():
    tree = bsl_parser().parse(MODULE.read_bytes())
    found = methods(tree)
    for name in ("Спросить", "ПроверитьСоединение", "СписокМоделей", "НастройкиПодключения"):
        assert name in found and is_exported(found[name]), f"{name} must be an exported function"
    params = found["Спросить"].child_by_field_name("parameters")
    assert [text(p.children[0]) for p in params.named_children] == ["Текст", "СистемныйПромпт", "Параметры"]
    source = MODULE.read_text(encoding="utf-8")
    assert '"Успех, Результат, Ошибка, Модель, Токенов' in source
    assert '"Успех, Сообщение, Состояние"' in source
    # ПроверитьСоединение tells apart the cases the issue names.
    for state in ("НеЗапущен", "НетКлюча", "ОшибкаГигаЧат", "НетДоступа"):
        assert f'"{state}"' in source


def test_form_uses_only_what_the_module_offers():
    parser = bsl_parser()
    module = parser.parse(MODULE.read_bytes())
    form = parser.parse(FORM_MODULE.read_bytes())
    exported = {name for name, m in methods(module).items() if is_exported(m)}
    used = {call_name(c) for c in walk(form.root_node)
            if c.type == "method_call" and receiver(c) == "ГигаЧатМост"}
    assert used and used <= exported, used - exported
    # Keys the form puts into Параметры must be ones Спросить looks for.
    offered = {string_value(arguments(c)[0]) for c in method_calls(module.root_node, "Свойство")
               if receiver(c) == "Параметры"}
    passed = {string_value(arguments(c)[0]) for c in method_calls(form.root_node, "Вставить")
              if receiver(c) == "НастройкиЗапроса"}
    assert passed and passed <= offered, passed - offered
    # The HTML field never gets unescaped text of the form's own messages.
    assert "ЭкранироватьHTML(Текст)" in FORM_MODULE.read_text(encoding="utf-8")


def external_processing_module() -> str:
    """The form module plus ГигаЧатМост in one file, for an external data processor.

    An external data processor has no common modules, so the module's functions go into
    the form module as &НаКлиенте methods; `Параметры` (a form property) is renamed.
    """
    word = r"(?<![\wЁё]){}(?![\wЁё])"
    form = FORM_MODULE.read_text(encoding="utf-8")
    module = MODULE.read_text(encoding="utf-8")
    lines = [
        "// Модуль формы внешней обработки «ГигаЧатАссистент»: модуль формы и общий модуль",
        "// ГигаЧатМост в одном файле, потому что во внешней обработке нет общих модулей.",
        "// Собран из Модуль.bsl и ../ГигаЧатМост.bsl (tests/test_onec_kit.py):",
        "// исправления вносите туда. Настройки подключения - в функции НастройкиПодключения().",
        "",
    ]
    lines += form[form.index("#Область"):].replace("ГигаЧатМост.", "").rstrip("\n").splitlines()
    lines.append("")
    renames = {"#Область ПрограммныйИнтерфейс": "#Область МостГигаЧатПрограммныйИнтерфейс",
               "#Область СлужебныеПроцедурыИФункции": "#Область МостГигаЧатСлужебныеПроцедурыИФункции"}
    for line in module[module.index("#Область"):].replace("ГигаЧатМост.", "").rstrip("\n").splitlines():
        line = renames.get(line, line)
        if line.startswith(("Функция ", "Процедура ")):
            lines.append("&НаКлиенте")
        if not line.lstrip().startswith("//") or line.startswith("//  Параметры - "):
            parts = line.split('"')  # code is outside quotes, string literals inside
            parts[::2] = [re.sub(word.format("Параметры"), "ПараметрыВызова", p) for p in parts[::2]]
            line = '"'.join(parts)
        lines.append(line)
    return "\n".join(lines) + "\n"


def test_external_processing_module_is_in_sync():
    expected = external_processing_module()
    assert EXTERNAL_FORM_MODULE.read_text(encoding="utf-8") == expected, \
        "regenerate: .venv/bin/python -m tests.test_onec_kit"
    tree = bsl_parser().parse(expected.encode("utf-8"))
    found = methods(tree)
    names = [text(m.child_by_field_name("name")) for m in method_nodes(tree)]
    assert len(names) == len(set(names)), "a module function clashes with a form procedure"
    assert "Спросить" in found and not re.search(r"ГигаЧатМост\.[А-Яа-яЁё]", expected)
    assert not re.search(r"(?<![\wЁё])Параметры\.", expected), "Параметры is a form property"


def test_contract_is_derived_from_the_source(contract):
    """Guards the extractor itself: if it finds nothing, the other checks would be empty."""
    assert ("POST", "/analyze/text") in contract.routes
    assert ("GET", "/health") in contract.routes
    assert {"text", "system_prompt", "return_format", "model", "temperature", "max_tokens"} <= contract.writes
    assert {("success",), ("result",), ("error",), ("model",), ("usage",), ("usage", "total_tokens")} \
        <= contract.reads[("POST", "/analyze/text")]
    assert {("status",), ("error",)} <= contract.reads[("GET", "/health")]
    assert ("data", "[]", "id") in contract.reads[("GET", "/v1/models")]
    assert {("error",), ("error", "message")} <= contract.error_reads
    assert {"ok", "no_credentials", "starting"} <= contract.compared[("status",)]
    assert contract.headers["Content-Type"].startswith("application/json")


def test_renaming_a_key_in_the_module_breaks_the_contract(live_spec, contract):
    assert spec_problems(contract, live_spec) == []
    source = MODULE.read_text(encoding="utf-8")
    for old, new in (('"system_prompt"', '"systemPrompt"'), ('"max_tokens"', '"maxTokens"'),
                     ('"success"', '"succes"'), ('"total_tokens"', '"tokens"'),
                     ('"/analyze/text"', '"/analyse/text"'), ('"no_credentials"', '"no_key"'),
                     ('"id"', '"name"'), ('"message"', '"msg"'), ('"status"', '"state"')):
        assert old in source
        mutated = extract_contract(source.replace(old, new).encode("utf-8"))
        assert spec_problems(mutated, live_spec), f"renaming {old} went unnoticed"


def test_renaming_a_key_in_the_bridge_breaks_the_contract(contract, live_spec, bridge):
    route = ("POST", "/analyze/text")
    answer = ask(bridge, contract, "text")
    assert live_problems(contract, route, answer) == []
    for old in ("success", "result", "usage", "model"):
        renamed = {("answer" if k == old else k): v for k, v in answer.items()}
        assert live_problems(contract, route, renamed), f"renaming {old} went unnoticed"
    usage = dict(answer, usage={"total": 1})
    assert live_problems(contract, route, usage)
    spec = json.loads(json.dumps(live_spec))
    spec["components"]["schemas"]["AnalyzeRequest"]["properties"].pop("system_prompt")
    assert spec_problems(contract, spec)


# --- the live bridge ------------------------------------------------------------------


@dataclass
class Bridge:
    host: str
    port: int
    process: subprocess.Popen
    key: str | None = None


def start_bridge(home: Path, api_key: str | None = None) -> Bridge:
    for name in ("config", "state", "cache"):
        (home / name).mkdir(parents=True, exist_ok=True)
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("GIGACHAT_") and k not in ("API_HOST", "API_PORT")}
    env.update(XDG_CONFIG_HOME=str(home / "config"), XDG_STATE_HOME=str(home / "state"),
               XDG_CACHE_HOME=str(home / "cache"), PYTHONUNBUFFERED="1")
    if api_key:
        config = home / "config" / "GigaChatBridge"
        config.mkdir(parents=True, exist_ok=True)
        (config / "settings.json").write_text(json.dumps({"api_key_enabled": True}), encoding="utf-8")
        env["GIGACHAT_BRIDGE_API_KEY"] = api_key
    stderr = open(home / "bridge.stderr", "wb")  # noqa: SIM115 - closed with the process
    process = subprocess.Popen(
        [sys.executable, "tray_app.py", "--headless", "--demo", "--port", "0"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=stderr, stdin=subprocess.DEVNULL)
    stderr.close()
    found: list[tuple[str, int]] = []
    lines: list[str] = []

    def read_stdout():
        for raw in process.stdout:
            line = raw.decode("utf-8", "replace")
            lines.append(line)
            match = re.search(r"http://(127\.0\.0\.1):(\d+)", line)
            if match and not found:
                found.append((match.group(1), int(match.group(2))))

    threading.Thread(target=read_stdout, daemon=True).start()
    try:
        wait_for(lambda: found or process.poll() is not None, timeout=60)
    except TimeoutError:
        stop_bridge(process)
        pytest.fail("the bridge printed no URL within 60 s:\n" + "".join(lines))
    if not found:
        log = (home / "bridge.stderr").read_text(encoding="utf-8", errors="replace")
        pytest.fail(f"the bridge exited with {process.returncode}:\n{''.join(lines)}{log}")
    host, port = found[0]
    return Bridge(host, port, process, api_key)


def stop_bridge(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)
    if process.stdout:
        process.stdout.close()


def _bridge_available() -> bool:
    return (ROOT / "tray_app.py").is_file() and (ROOT / "gigachat" / "local" / "routes.py").is_file()


@pytest.fixture(scope="module")
def bridge(tmp_path_factory):
    need(_bridge_available(), "tray_app.py and gigachat/local/routes.py (the local endpoint)")
    home = tmp_path_factory.mktemp("onec-bridge")
    started = start_bridge(home)
    yield started
    stop_bridge(started.process)
    shutil.rmtree(home, ignore_errors=True)


@pytest.fixture(scope="module")
def key_bridge(tmp_path_factory):
    need(_bridge_available(), "tray_app.py and gigachat/local/routes.py (the local endpoint)")
    home = tmp_path_factory.mktemp("onec-key-bridge")
    started = start_bridge(home, api_key=LOCAL_KEY)
    yield started
    stop_bridge(started.process)
    shutil.rmtree(home, ignore_errors=True)


@pytest.fixture(scope="module")
def live_spec(bridge) -> dict:
    status, headers, body = onec_request(bridge.host, bridge.port, "/openapi.json", None)
    assert status == 200
    return json.loads(body)


def module_headers(contract: Contract, key: str | None = None) -> list[tuple[str, str]]:
    """The headers the module inserts, in its order, as HTTPЗапрос sends them."""
    headers = []
    for name, value in contract.headers.items():
        if name == "Authorization":
            if key:
                headers.append((name, value + key))
        else:
            headers.append((name, value))
    return headers


SAMPLE_VALUES = {
    "text": "Договор поставки №127 от 15.01.2024.\r\nПоставщик ООО «ТехноПром», сумма 2 450 000 руб.",
    "system_prompt": "Извлеки из договора стороны, сумму и сроки.",
    "model": "GigaChat-2-Pro",
    "temperature": 0.7,
    "max_tokens": 300,
}


def module_body(contract: Contract, return_format: str) -> dict:
    missing = contract.writes - set(SAMPLE_VALUES) - {"return_format"}
    assert not missing, f"add sample values for the new keys {missing}"
    body = {k: SAMPLE_VALUES[k] for k in sorted(contract.writes) if k != "return_format"}
    body["return_format"] = return_format
    return body


def send_like_module(bridge: Bridge, contract: Contract, route: tuple, body: dict | None,
                     key: str | None = None) -> tuple[int, dict, bytes]:
    verb, path = route
    raw = None if body is None else onec_json(body, line_breaks=False)  # ПереносСтрокJSON.Нет
    headers = module_headers(contract, key) if body is not None else \
        [h for h in module_headers(contract, key) if h[0] != "Content-Type"]
    return onec_request(bridge.host, bridge.port, path, raw, bom=not contract.no_bom,
                        headers=headers, method=verb)


def ask(bridge: Bridge, contract: Contract, return_format: str) -> dict:
    status, headers, raw = send_like_module(bridge, contract, ("POST", "/analyze/text"),
                                            module_body(contract, return_format))
    assert status == 200, raw
    assert headers["content-type"] == "application/json; charset=utf-8"
    assert not raw.startswith(BOM)
    return json.loads(raw.decode("utf-8"))


def test_openapi_matches_the_module(contract, live_spec):
    assert spec_problems(contract, live_spec) == []


@pytest.mark.parametrize("return_format", ["text", "html"])
def test_module_request_succeeds_on_the_wire(bridge, contract, return_format):
    answer = ask(bridge, contract, return_format)
    assert answer["success"] is True, answer
    assert live_problems(contract, ("POST", "/analyze/text"), answer) == []
    assert answer["error"] is None
    assert answer["model"].startswith(SAMPLE_VALUES["model"])  # the module's "model" key is honoured
    assert answer["usage"]["total_tokens"] > 0
    if return_format == "html":
        assert answer["result"].lstrip().lower().startswith("<!doctype html")
        assert "<script" not in answer["result"].lower()
    else:
        assert "<html" not in answer["result"].lower()
        assert answer["result"].strip()


def test_tutorial_form_request_with_bom_succeeds(bridge):
    """The tutorial's form: default ЗаписьJSON (CRLF, tabs), a BOM, `Content-Type: application/json`."""
    body = onec_json({
        "text": SAMPLE_VALUES["text"],
        "system_prompt": SAMPLE_VALUES["system_prompt"],
        "return_format": "html",
    })
    assert b"\r\n" in body and "Договор".encode() in body  # Cyrillic unescaped, Windows line breaks
    status, headers, raw = onec_request(bridge.host, bridge.port, "/analyze/text", body, bom=True,
                                        headers=[("Content-Type", "application/json")])
    assert status == 200
    assert headers["content-type"] == "application/json; charset=utf-8"
    answer = json.loads(raw.decode("utf-8"))
    assert answer["success"] is True, answer
    assert answer["result"].lstrip().lower().startswith("<!doctype html")
    # ПрочитатьJSON into a Структура fails on keys that are not 1C identifiers.
    assert all(re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", k) for k in answer)
    assert isinstance(answer["success"], bool) and isinstance(answer["result"], str)


def test_health_answer_matches_the_module(bridge, contract):
    route = ("GET", "/health")
    status, headers, raw = send_like_module(bridge, contract, route, None)
    assert status == 200
    assert headers["content-type"] == "application/json; charset=utf-8"
    answer = json.loads(raw)
    assert live_problems(contract, route, answer, strict=False) == []
    assert answer["status"] in contract.compared[("status",)]  # a state the module names


def test_models_answer_matches_the_module(bridge, contract):
    route = ("GET", "/v1/models")
    status, _, raw = send_like_module(bridge, contract, route, None)
    assert status == 200, raw
    answer = json.loads(raw)
    assert live_problems(contract, route, answer) == []
    assert any(m["id"].startswith("GigaChat") for m in answer["data"])


def test_error_answers_match_the_module(key_bridge, contract):
    """With the local API key on: refused without it, served with it, errors readable by the module."""
    for route in contract.routes:
        verb, path = route
        body = module_body(contract, "text") if verb == "POST" else None
        status, headers, raw = send_like_module(key_bridge, contract, route, body)
        if path == "/health":  # open without a key; a foreign (DNS-rebound) Host is refused
            assert status == 200
            status, headers, raw = onec_request(key_bridge.host, key_bridge.port, path, None,
                                                host_header=f"evil.example:{key_bridge.port}")
        assert status == 403, (route, raw)
        assert headers["content-type"] == "application/json; charset=utf-8"
        answer = json.loads(raw)
        for read in contract.error_reads:
            assert answer_problems(answer, read, strict=False) == [], (route, read, answer)
        message = answer["error"]["message"] if isinstance(answer["error"], dict) else answer["error"]
        assert isinstance(message, str) and re.search("[а-яА-Я]", message), answer
    # With the key (Authorization: Bearer, as the module sends it) the same request succeeds.
    status, _, raw = send_like_module(key_bridge, contract, ("POST", "/analyze/text"),
                                      module_body(contract, "text"), key=LOCAL_KEY)
    assert status == 200 and json.loads(raw)["success"] is True, raw


def test_key_probe_of_check_connection(key_bridge, bridge, contract):
    """ПроверитьСоединение probes the key with {"text": ""}: 403 means a wrong key, 200 means fine."""
    probe = {"text": ""}
    status, _, _ = send_like_module(key_bridge, contract, ("POST", "/analyze/text"), probe)
    assert status == 403
    status, _, raw = send_like_module(key_bridge, contract, ("POST", "/analyze/text"), probe,
                                      key=LOCAL_KEY)
    answer = json.loads(raw)
    assert status == 200 and answer["success"] is False and answer["usage"] is None, answer
    status, _, raw = send_like_module(bridge, contract, ("POST", "/analyze/text"), probe)
    assert status == 200 and json.loads(raw)["success"] is False


# --- optional: the onec-hbk-bsl linter (needs Python 3.12+) ---------------------------


def _hbk_command() -> list[str] | None:
    explicit = os.environ.get("ONEC_HBK_BSL")
    if explicit:
        return [explicit]
    found = shutil.which("onec-hbk-bsl")
    if found:
        return [found]
    local = ROOT / ".venv-hbk" / "bin" / "onec-hbk-bsl"  # a Python 3.12+ venv beside .venv
    return [str(local)] if local.is_file() else None


def test_onec_hbk_bsl_syntax_and_timeouts():
    command = _hbk_command()
    if command is None:
        need(False, "onec-hbk-bsl (scripts/setup.sh --dev installs it into .venv-hbk "
                    "when a Python 3.12+ is found)")
    result = subprocess.run(
        command + ["check", "--no-config", "--select", "BSL001,BSL253", "--format", "json",
                   *map(str, BSL_FILES)],
        capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert json.loads(result.stdout or "[]") == []


def test_onec_hbk_bsl_catches_what_it_should(tmp_path):
    """The same rules find a missing timeout and a syntax error, so a pass above means something."""
    command = _hbk_command()
    if command is None:
        need(False, "onec-hbk-bsl (scripts/setup.sh --dev installs it into .venv-hbk "
                    "when a Python 3.12+ is found)")
    bad = tmp_path / "Плохой.bsl"
    bad.write_text('Процедура П() Экспорт\n\tС = Новый HTTPСоединение("127.0.0.1", 8000);\n'
                   "КонецПроцедуры\nПроцедура Ы(\n", encoding="utf-8")
    result = subprocess.run(
        command + ["check", "--no-config", "--select", "BSL001,BSL253", "--format", "json", str(bad)],
        capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert result.returncode != 0
    assert {d["code"] for d in json.loads(result.stdout)} == {"BSL001", "BSL253"}


if __name__ == "__main__":
    EXTERNAL_FORM_MODULE.write_text(external_processing_module(), encoding="utf-8")
    print(f"written {EXTERNAL_FORM_MODULE.relative_to(ROOT)}")
