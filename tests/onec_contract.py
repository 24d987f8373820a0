"""Reading the 1C module's contract from its BSL source, and checking it against the bridge.

We cannot run BSL here, so the contract is read from resources/1c/ГигаЧатМостКлиент.bsl with
tree-sitter-bsl: every route (`ВыполнитьЗапросКМосту("GET", "/jobs/" + Ид, ...)`), every JSON
key it writes (per body variable: ПараметрыЗапроса, ПараметрыИзвлечения, ПараметрыЗадания,
ФайлЗапроса, following calls such as ДобавитьФайлы(ПараметрыИзвлечения, ...)), every key it
reads (`Данные.Получить("state")`, followed through variables, loops and the helper methods
named in HELPERS), its headers and query parameters. The checks compare that contract with
/openapi.json and with real answers of a bridge started as `tray_app.py --headless --demo
--port 0`, to which requests are replayed byte for byte as the module builds them
(tests/onec_wire.py). Used by tests/test_onec_contract.py (the tutorial's routes) and
tests/test_onec_contract_v2.py (jobs, extract, files) and tests/test_onec_privacy.py (masking,
the connection file).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from tests.onec_bsl import (
    arguments,
    bsl_parser,
    call_name,
    error_lines,
    method_calls,
    methods,
    receiver,
    string_value,
    text,
    walk,
)

ROOT = Path(__file__).resolve().parent.parent
ONEC_DIR = ROOT / "resources" / "1c"
MODULE = ONEC_DIR / "ГигаЧатМостКлиент.bsl"
ASYNC_MODULE = ONEC_DIR / "ГигаЧатМостКлиентАсинх.bsl"
REQUEST_FUNCTION = "ВыполнитьЗапросКМосту"  # (Метод, Ресурс, ДанныеЗапроса, Настройки, Таймаут, Заголовки)
HEADERS_VARIABLE = "Заголовки"
# Body variable -> (route whose request body it is, path inside that body).
BODIES = {
    "ПараметрыЗапроса": (("POST", "/analyze/text"), ()),
    "ПараметрыИзвлечения": (("POST", "/analyze/extract"), ()),
    "ПараметрыЗадания": (("POST", "/jobs"), ()),
    "ФайлЗапроса": (("POST", "/analyze/text"), ("files", "[]")),
}
# Methods that read an answer handed to them: route -> path of the handed part in its answer.
HELPERS = {
    "РазобратьОтветАнализа": {("POST", "/analyze/text"): (), ("GET", "/jobs/{id}"): ("result",),
                              ("GET", "/jobs/{id}/results"): ("items", "[]", "result")},
    "РазобратьОбщиеПоляОтвета": {("POST", "/analyze/text"): (), ("POST", "/analyze/extract"): (),
                                 ("GET", "/jobs/{id}"): ("result",),
                                 ("GET", "/jobs/{id}/results"): ("items", "[]", "result")},
    "РезультатИзвлечения": {("POST", "/analyze/extract"): ()},
    "ЭтоМодельЧата": {("GET", "/v1/models"): ("data", "[]")},
    "ЗаполнитьСостояниеМоста": {("GET", "/health"): ()},
}
ERROR_READER = "РазобратьHTTPОтвет"  # reads `error` (and error.message) of any non-200 answer
CONNECTION_FILE_READER = "ПрочитатьФайлПодключения"  # reads the bridge's connection file (issue 15)
# Keys the module reads only if present, with the reason they may be absent today.
MASKED = "present only when personal-data masking was on (issue 17)"
OPTIONAL_READS = {
    ("GET", "/v1/models"): {("data", "[]", "type"): "the bridge's /v1/models drops GigaChat's model "
                            "type; the module then filters by name"},
    ("POST", "/analyze/text"): {("masked",): MASKED},
    ("POST", "/analyze/extract"): {("masked",): MASKED},
    ("GET", "/jobs/{id}"): {("result", "masked"): MASKED},
    ("GET", "/jobs/{id}/results"): {("items", "[]", "result", "masked"): MASKED,
                                    ("items", "[]", "result", "data"): "only in a batch of "
                                    "analyze/extract; the module checks its type first"},
}
TODAY = {("POST", "/analyze/text"), ("GET", "/health"), ("GET", "/v1/models")}
# Keys of the documents issue (12) the module writes to routes that exist today.
PENDING_WRITES = {("ПараметрыЗапроса", "files"), ("ФайлЗапроса", "*")}
JSON_KEY = re.compile(r"^[a-z][a-z0-9_]*$")  # keys of the bridge's JSON (1C-side keys are Cyrillic)

# --- the contract read from the module ----------------------------------------------


@dataclass
class Contract:
    routes: dict = field(default_factory=dict)  # (verb, path) -> names of BSL methods calling it
    queries: dict = field(default_factory=dict)  # (verb, path) -> query parameter names
    writes: dict = field(default_factory=dict)  # body variable -> JSON keys written
    reads: dict = field(default_factory=dict)  # (verb, path) -> key paths read from its answers
    error_reads: set = field(default_factory=set)  # key paths read from any error answer
    file_reads: set = field(default_factory=set)  # keys read from the connection file
    compared: dict = field(default_factory=dict)  # key path -> string values the module expects
    headers: dict = field(default_factory=dict)  # header name -> literal value (or prefix)
    unattributed: dict = field(default_factory=dict)  # method -> reads no route explains
    settings: dict = field(default_factory=dict)  # НастройкиПодключения defaults


def _reads_in(method) -> tuple[set, dict]:
    """Key paths read in one BSL method, following variables and Для Каждого loops."""
    aliases: dict[str, tuple] = {}
    holders: dict[str, tuple] = {}  # variable -> the key path whose value it holds
    reads: set[tuple] = set()
    compared: dict[tuple, set] = {}
    done: set[tuple[int, int]] = set()

    def key_of(call) -> str | None:
        args = arguments(call)
        key = string_value(args[0]) if args else None
        return key if key and JSON_KEY.match(key) else None

    def record(call) -> tuple:
        path = aliases.get(receiver(call) or "", ()) + (key_of(call),)
        reads.add(path)
        done.add((call.start_byte, call.end_byte))
        return path

    for node in walk(method):
        if node.type == "assignment_statement":
            left = node.children[0]
            right = node.child_by_field_name("right")
            if right is None:
                continue
            name = text(left)  # a variable, or a field such as Результат.Состояние
            gets = [record(c) for c in method_calls(right, "Получить") if key_of(c)]
            aliases.pop(name, None)
            holders.pop(name, None)
            inner = right.named_children[0] if right.named_child_count == 1 else None
            if inner is not None and inner.type == "call_expression" and len(gets) == 1 \
                    and inner.children[-1].type == "method_call" and left.type == "identifier":
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


def _route_path(method, node) -> tuple[str, list[str]]:
    """The path a resource expression stands for ("/jobs/" + Ид -> /jobs/{id}), and its query keys."""
    literal = string_value(node)
    if literal is None and text(node) in ("Ресурс",):  # Ресурс = СтрШаблон("/jobs/%1/results?...", ...)
        for assignment in walk(method):
            if assignment.type == "assignment_statement" and text(assignment.children[0]) == text(node):
                node = assignment.child_by_field_name("right")
        template = next(string_value(n) for n in walk(node) if n.type == "string")
        literal = re.sub(r"%\d", "{id}", template)
    elif literal is None:
        strings = [string_value(n) for n in walk(node) if n.type == "string"]
        assert len(strings) == 1 and strings[0].endswith("/"), text(node)
        literal = strings[0] + "{id}"
    path, _, query = literal.partition("?")
    return path, [part.split("=")[0] for part in query.split("&") if part]


def extract_contract(source: bytes) -> Contract:
    tree = bsl_parser().parse(source)
    assert not error_lines(tree), f"the module does not parse: lines {error_lines(tree)}"
    contract = Contract()
    found = methods(tree)
    local_writes: dict[str, dict[str, set]] = {}  # method -> body variable -> keys
    for name, method in found.items():
        routes = set()
        for call in method_calls(method, REQUEST_FUNCTION):
            args = arguments(call)
            verb = string_value(args[0])
            path, query = _route_path(method, args[1])
            assert verb in ("GET", "POST", "DELETE") and path.startswith("/"), text(call)
            routes.add((verb, path))
            contract.routes.setdefault((verb, path), set()).add(name)
            if query:
                contract.queries[(verb, path)] = query
        reads, compared = _reads_in(method)
        for path, values in compared.items():
            contract.compared.setdefault(path, set()).update(values)
        if name in HELPERS:
            for route, prefix in HELPERS[name].items():
                contract.reads.setdefault(route, set()).update(prefix + r for r in reads)
        elif name == ERROR_READER:
            contract.error_reads |= reads
        elif name == CONNECTION_FILE_READER:
            contract.file_reads |= {r[0] for r in reads}
        elif routes:
            for route in routes:
                contract.reads.setdefault(route, set()).update(reads)
        elif reads:
            contract.unattributed[name] = reads
        for call in method_calls(method, "Вставить"):
            args = arguments(call)
            key = string_value(args[0]) if args else None
            owner = receiver(call)
            if owner in BODIES and key:
                contract.writes.setdefault(owner, set()).add(key)
                local_writes.setdefault(name, {}).setdefault(owner, set()).add(key)
            elif owner == HEADERS_VARIABLE and key:
                strings = [string_value(n) for n in walk(args[1]) if n.type == "string"]
                contract.headers[key] = strings[0] if strings else ""
            elif owner == "Настройки" and name == "НастройкиПодключения" and key:
                contract.settings[key] = text(args[1])
    # ДобавитьФайлы(ПараметрыИзвлечения, ...) writes into its parameter ПараметрыЗапроса: follow it.
    for method in found.values():
        for call in walk(method):
            if call.type != "method_call" or receiver(call) is not None:
                continue
            callee = found.get(call_name(call))
            if callee is None or call_name(call) not in local_writes:
                continue
            params = [text(p.children[0]) for p in callee.child_by_field_name("parameters").named_children]
            for param, arg in zip(params, arguments(call), strict=False):
                if arg is not None and text(arg) in BODIES and param in local_writes[call_name(call)]:
                    contract.writes.setdefault(text(arg), set()).update(local_writes[call_name(call)][param])
    return contract


# --- checking a contract against an OpenAPI document and real answers ---------------


def _merged(base: dict, other: dict) -> dict:
    out = {**base, **other}
    if "properties" in base or "properties" in other:
        out["properties"] = {**base.get("properties", {}), **other.get("properties", {})}
    if "required" in base or "required" in other:
        out["required"] = [*base.get("required", []), *other.get("required", [])]
    return out


def resolve(spec: dict, schema: dict) -> list[dict]:
    """The alternatives a schema stands for ($ref followed, oneOf/anyOf/allOf flattened, each
    alternative merged with the properties beside it: {"properties": …, "anyOf": [{"required": …}]})."""
    if "$ref" in schema:
        node = spec
        for part in schema["$ref"].lstrip("#/").split("/"):
            node = node[part]
        return resolve(spec, node)
    alternatives = [{k: v for k, v in schema.items() if k not in ("oneOf", "anyOf", "allOf")}]
    for sub in schema.get("allOf", []):
        alternatives = [_merged(a, s) for a in alternatives for s in resolve(spec, sub)]
    for word in ("oneOf", "anyOf"):
        if word in schema:
            alternatives = [_merged(a, s) for a in alternatives
                            for sub in schema[word] for s in resolve(spec, sub)]
    return alternatives


def schema_problems(spec: dict, schema: dict, path: tuple) -> list[str]:
    """Empty if `path` (keys, "[]" for array items) exists in the schema."""
    if not path:
        return []
    key, rest = path[0], path[1:]
    containers = [s for s in resolve(spec, schema) if "properties" in s or "items" in s]
    if not containers:  # a scalar or free-form object here: the module type-checks before going deeper
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


def answer_schema(spec: dict, route: tuple) -> dict:
    responses = operation(spec, route)["responses"]
    ok = next(code for code in ("200", "202") if code in responses)
    return json_schema(responses[ok])


def today_routes(contract: Contract) -> set:
    """The module's routes except those of issues 12/13 (checked in test_onec_contract_v2.py)."""
    return {r for r in contract.routes if not r[1].startswith("/jobs") and r[1] != "/analyze/extract"}


def spec_problems(contract: Contract, spec: dict, routes: set | None = None,
                  *, pending: bool = True) -> list[str]:
    """Where the module's routes and keys (limited to `routes`) disagree with /openapi.json.

    pending=False leaves out the keys of routes and fields that do not exist yet (files)."""
    routes = set(contract.routes) if routes is None else routes
    problems = [f"/openapi.json has no {verb} {path}" for verb, path in sorted(routes)
                if operation(spec, (verb, path)) is None]
    if problems:
        return problems
    for variable, keys in contract.writes.items():
        route, inside = BODIES[variable]
        if route not in routes:
            continue
        body = json_schema(operation(spec, route)["requestBody"])
        for key in sorted(keys):
            if not pending and ({(variable, key), (variable, "*")} & PENDING_WRITES):
                continue
            problems += [f"{variable} writes {key!r}: {p}"
                         for p in schema_problems(spec, body, inside + (key,))]
        if not inside:
            for alt in resolve(spec, body):
                problems += [f"{route} requires {k!r}, the module never writes it"
                             for k in alt.get("required", []) if k not in keys]
    for route in sorted(routes):
        optional = OPTIONAL_READS.get(route, {})
        for path in sorted(contract.reads.get(route, ())):
            if path not in optional:
                problems += [f"{route}: {p}" for p in schema_problems(spec, answer_schema(spec, route), path)]
        for name in contract.queries.get(route, []):
            params = {p["name"] for p in operation(spec, route).get("parameters", [])}
            if name not in params:
                problems.append(f"{route}: query parameter {name!r} is not documented")
        responses = operation(spec, route)["responses"]
        if "403" not in responses:
            problems.append(f"{route}: no 403 answer documented")
            continue
        for path in sorted(contract.error_reads):
            refused = json_schema(responses["403"])
            problems += [f"{route} 403: {p}" for p in schema_problems(spec, refused, path)]
    for path, values in contract.compared.items():
        for route in routes:
            if path not in contract.reads.get(route, ()) or len(path) != 1:
                continue
            answer = answer_schema(spec, route)
            allowed = {v for alt in resolve(spec, answer)
                       for prop in resolve(spec, alt.get("properties", {}).get(path[0], {}))
                       for v in prop.get("enum") or ()}
            if allowed:
                problems += [f"the module compares {path[0]} with {v!r}, not in {sorted(allowed)}"
                             for v in sorted(values - allowed)]
    return problems


def live_problems(contract: Contract, route: tuple, answer: object, *, strict: bool = True) -> list[str]:
    optional = OPTIONAL_READS.get(route, {})
    return [f"{route}: {p}" for path in sorted(contract.reads.get(route, ())) if path not in optional
            for p in answer_problems(answer, path, strict=strict)]
