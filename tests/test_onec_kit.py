"""The 1C kit's BSL: it parses, follows the wire and 1C-standard rules, passes onec-hbk-bsl with
only the findings listed below, and the generator never rewrites a string literal.

Contract tests against the live bridge: tests/test_onec_contract.py (the tutorial's routes),
tests/test_onec_contract_v2.py (jobs, extract, files), tests/test_onec_privacy.py (masking,
connection file); the Designer XML trees are checked in tests/test_onec_xml.py.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from collections import Counter
from pathlib import Path

import pytest

from installer.onec_kit import bsl, build
from tests.conftest import need
from tests.onec_bsl import (
    arguments,
    bsl_parser,
    call_name,
    error_lines,
    is_exported,
    method_calls,
    methods,
    new_expressions,
    receiver,
    string_value,
    text,
    walk,
)
from tests.onec_contract import ASYNC_MODULE, MODULE, extract_contract

ROOT = Path(__file__).resolve().parent.parent
ONEC_DIR = ROOT / "resources" / "1c"
SERVER_MODULE = ONEC_DIR / "ГигаЧатМостВызовСервера.bsl"
FORM_MODULES = sorted(ONEC_DIR.glob("*/Модуль.bsl"))
SOURCES = sorted(ONEC_DIR.glob("*.bsl")) + FORM_MODULES
ALL_BSL = sorted(ONEC_DIR.rglob("*.bsl"))
STANDARD_REGIONS = {  # v8std #455: the regions a common module and a form module may have
    "common": {"ПрограммныйИнтерфейс", "СлужебныйПрограммныйИнтерфейс", "СлужебныеПроцедурыИФункции"},
    "form": {"ОписаниеПеременных", "ОбработчикиСобытийФормы", "ОбработчикиСобытийЭлементовШапкиФормы",
             "ОбработчикиКомандФормы", "СлужебныеПроцедурыИФункции"},
}

# onec-hbk-bsl findings we accept, rule -> reason. Anything else fails the lint test.
ACCEPTED = {
    "BSL014": "LineLength: a user message is one НСтр literal; splitting it with | would put line "
              "breaks into the text the user reads",
    "BSL029": "MagicNumber: HTTP status codes (200/202/403/404/413), the documented default port and "
              "timeouts, sizes in bytes (1024); each is named by the code around it",
    "BSL062": "UnusedParameters: the platform fixes event and command handler signatures "
              "(Отказ, СтандартнаяОбработка, Команда, Элемент, ДополнительныеПараметры)",
    "BSL065": "MissingReturnedValueDescription: service functions carry a one-line comment; every "
              "exported function has the full description (BSL233 passes)",
    "BSL215": "MissingParameterDescription: as BSL065, for parameters of service methods",
    "BSL176": "DeprecatedMethodCall: ПодробноеПредставлениеОшибки/КраткоеПредставлениеОшибки and "
              "НачатьПомещениеФайла work on every 8.3 platform; their replacements (ОбработкаОшибок, "
              "НачатьПомещениеФайлаНаСервер) need 8.3.17/8.3.13, the kit supports 8.3.12",
    "BSL178": "DeprecatedMethods8317: the same calls as BSL176",
    "BSL225": "NumberOfValuesInStructureConstructor: result structures are built in one line so "
              "their keys sit next to their defaults (as the functions' descriptions list them)",
    "BSL251": "TernaryOperatorUsage: short ?() for defaults; no nesting",
    "BSL256": "Typo: Промпт, Токенов, демо are words of the domain (the tutorial's own terms)",
    "BSL208": "LatinAndCyrillicSymbolInWord: HTTP and HTML as the platform spells them "
              "(HTTPЗапрос, HTTPОтвет, РезультатHTML of the tutorial's form)",
    "BSL188": "FileSystemAccess: reading the bridge's per-user connection file (issue 15) is the point",
    "BSL203": "InternetAccess: HTTPСоединение to 127.0.0.1 is the point of the module",
    "BSL250": "TempFilesDir: КаталогВременныхФайлов() is where the bridge's connection file is looked "
              "for (the per-user temp dir, see ФайлПодключенияМоста)",
    "BSL272": "UsingSynchronousCalls: Файл.Существует/ТекстовыйДокумент.Прочитать of the connection "
              "file, inside Попытка; in bases that forbid them the settings form is used instead",
    "BSL247": "SetPrivilegedMode: БСП's safe storage is read and written in privileged mode, as its "
              "documentation requires",
    "BSL035": "DuplicateStringLiteral: \"Строка\" is the type name in Тип(\"Строка\")",
    "BSL006": "FilePathInCode: \"/tmp/\" and \"/var/tmp/\" in ИменаФайлаПодключения are named to be "
              "SKIPPED: shared folders where another user could plant a connection file (issue 15)",
}
# Findings accepted only in some files, rule -> (path pattern, reason).
ACCEPTED_IN = {
    "BSL007": ("/CommonForms/", "UnusedLocalVariable: the linter does not see a common form of an "
               "extension as a form; these are form attributes (Form.xml). The same module in "
               "ВнешняяОбработка/…/Forms/ passes this rule"),
    "BSL170": ("/CommonForms/", "CompilationDirectiveNeedLess: as BSL007; a form module needs its "
               "directives (the same module passes in ВнешняяОбработка)"),
    "BSL183": ("/ВнешняяОбработка/", "ExecuteExternalCode: Вычислить(\"ОбщегоНазначения\") takes a "
               "constant module name: without БСП a direct reference would not compile"),
}


# --- parsing ------------------------------------------------------------------------------


def _bsl_id(path: Path) -> str:
    return str(path.relative_to(ONEC_DIR))


@pytest.mark.parametrize("path", ALL_BSL, ids=_bsl_id)
def test_bsl_parses_without_error_nodes(path):
    tree = bsl_parser().parse(path.read_bytes())
    assert tree.root_node.type == "source_file"
    assert not tree.root_node.has_error, f"{path.name}: syntax errors on lines {error_lines(tree)}"
    assert methods(tree), f"{path.name}: no procedures or functions found"


def test_kit_files_exist():
    for name in ("ГигаЧатМостКлиент.bsl", "ГигаЧатМостВызовСервера.bsl", "ГигаЧатМостКлиентАсинх.bsl",
                 "ГигаЧатМостАссистент/Модуль.bsl", "ГигаЧатМостНастройки/Модуль.bsl", "README.md"):
        assert (ONEC_DIR / name).is_file(), name


def test_bsl_examples_in_the_guide_parse():
    guide = (ONEC_DIR / "README.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```bsl\n(.*?)```", guide, flags=re.S)
    assert len(blocks) >= 7
    parser = bsl_parser()
    for block in blocks:
        if not re.search(r"^(&\S+\n)?(Асинх )?(Процедура|Функция) ", block, flags=re.M):
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


# --- wire and platform rules ---------------------------------------------------------------


def test_module_wire_rules():
    tree = bsl_parser().parse(MODULE.read_bytes())
    source = MODULE.read_text(encoding="utf-8")
    # The body: UTF-8 bytes without a BOM (third argument Ложь), so its size is known before sending.
    to_bytes = list(method_calls(tree.root_node, "ПолучитьДвоичныеДанныеИзСтроки"))
    assert len(to_bytes) == 1 and text(arguments(to_bytes[0])[1]) == "КодировкаТекста.UTF8" \
        and text(arguments(to_bytes[0])[2]) == "Ложь"
    assert list(method_calls(tree.root_node, "УстановитьТелоИзДвоичныхДанных"))
    assert not list(method_calls(tree.root_node, "УстановитьТелоИзСтроки"))
    for module in (tree, bsl_parser().parse(ASYNC_MODULE.read_bytes())):
        for call in method_calls(module.root_node, "ПолучитьТелоКакСтроку"):
            assert [string_value(a) for a in arguments(call)] == ["UTF-8"]
    connections = list(new_expressions(tree.root_node, "HTTPСоединение"))
    assert len(connections) == 1, "one place builds connections (ПодготовитьHTTPЗапрос)"
    args = arguments(connections[0])
    assert len(args) == 6 and args[5] is not None and args[4] is not None  # timeout and proxy
    assert [text(a) for a in arguments(next(new_expressions(tree.root_node, "ИнтернетПрокси")))] == ["Ложь"]
    assert "НеИспользоватьПроксиДляЛокальныхАдресов = Истина" in source
    risky = [c for name in ("ОтправитьДляОбработки", "Получить", "Удалить", "ПолучитьТелоКакСтроку",
                            "ПолучитьДвоичныеДанныеИзСтроки", "ПрочитатьJSON", "ПрочитатьДатуJSON",
                            "Прочитать", "Существует")
             for c in method_calls(tree.root_node, name)
             if name not in ("Получить", "Удалить") or receiver(c) == "Подготовка.Соединение"]
    risky += connections
    assert len(risky) >= 10
    for call in risky:
        ancestor = call.parent
        while ancestor is not None and ancestor.type != "try_statement":
            ancestor = ancestor.parent
        assert ancestor is not None, f"{text(call)} is outside Попытка"
    contract = extract_contract(MODULE.read_bytes())
    assert contract.settings["Адрес"] == '"127.0.0.1"' and contract.settings["Порт"] == "8000"
    assert {"Адрес", "Порт", "КлючДоступа", "Таймаут", "ТаймаутПроверки", "ТаймаутСпискаМоделей"} \
        <= set(contract.settings)
    assert int(contract.settings["ТаймаутСпискаМоделей"]) <= 2  # the form never waits long when it opens


def _except_blocks(tree) -> list:
    blocks = []
    for node in walk(tree.root_node):
        if node.type == "try_statement":
            keyword = next(i for i, c in enumerate(node.children) if c.type == "EXCEPT_KEYWORD")
            blocks.append(node.children[keyword + 1:])
    return blocks


@pytest.mark.parametrize("path", [MODULE, SERVER_MODULE, ASYNC_MODULE], ids=_bsl_id)
def test_every_caught_exception_reaches_the_event_log(path):
    """v8std #499: each Исключение writes ПодробноеПредставлениеОшибки to the event log."""
    tree = bsl_parser().parse(path.read_bytes())
    blocks = _except_blocks(tree)
    assert blocks
    loggers = ("ЗаписатьВЖурнал", "ЗаписатьОшибку", "ОтветПриОшибкеОбмена")
    for block in blocks:
        calls = {call_name(n) for node in block for n in walk(node) if n.type == "method_call"}
        assert calls & set(loggers), f"an Исключение without a log entry: {[text(n) for n in block]}"
    source = path.read_text(encoding="utf-8")
    if path == MODULE:
        assert "ГигаЧатМостВызовСервера.ЗаписатьОшибку(Событие, ПодробноеПредставлениеОшибки(Информация));" \
            in source
        # ... and the user reads the platform's own text after the explanation.
        assert source.count("Платформа сообщила: %") >= 3
    if path == SERVER_MODULE:
        assert "ЗаписьЖурналаРегистрации(ИмяСобытия(Событие), УровеньЖурналаРегистрации.Ошибка" in source


def test_no_bridge_call_runs_on_the_server():
    """127.0.0.1 on the 1C server is not the user's PC: every bridge call is client code."""
    server = _code(SERVER_MODULE.read_text(encoding="utf-8"))
    assert "HTTPСоединение" not in server and "ГигаЧатМостКлиент" not in server
    for form in FORM_MODULES:
        source = form.read_text(encoding="utf-8")
        for name, directive in _methods_with_directives(source).items():
            if "ГигаЧатМостКлиент." in _code(_method_text(source, name)):
                assert directive == "&НаКлиенте", f"{form.parent.name}.{name} calls the bridge"


def _code(source: str) -> str:
    return bsl.join([s for s in bsl.segments(source) if s.kind == "code"])


def _methods_with_directives(source: str) -> dict[str, str]:
    found, directive = {}, ""
    for line in source.split("\n"):
        if bsl.DIRECTIVE.match(line.strip()):
            directive = line.strip()
        match = bsl.METHOD_START.match(line)
        if match:
            found[match.group(2)] = directive
            directive = ""
    return found


def _method_text(source: str, name: str) -> str:
    start = re.search(r"^(?:Процедура|Функция) " + name + r"\(", source, flags=re.M).start()
    return source[start:re.search(r"^Конец(?:Процедуры|Функции)", source[start:], flags=re.M).end() + start]


@pytest.mark.parametrize("path", SOURCES, ids=_bsl_id)
def test_standard_regions(path):
    kind = "form" if path.name == "Модуль.bsl" else "common"
    top, depth = [], 0
    for line in path.read_text(encoding="utf-8").split("\n"):
        if line.startswith("#Область"):
            if depth == 0:
                top.append(line.split()[1])
            depth += 1
        elif line.startswith("#КонецОбласти"):
            depth -= 1
    assert depth == 0 and top and set(top) <= STANDARD_REGIONS[kind], top
    tree = bsl_parser().parse(path.read_bytes())
    for name, method in methods(tree).items():  # exported methods live in the interface regions
        line = method.start_point[0]
        region = [r for r in top if r in _regions_at(path, line)]
        if kind == "common" and is_exported(method):
            assert region and region[0] in ("ПрограммныйИнтерфейс", "СлужебныйПрограммныйИнтерфейс"), name


def _regions_at(path: Path, line_number: int) -> list[str]:
    stack = []
    for line in path.read_text(encoding="utf-8").split("\n")[:line_number]:
        if line.startswith("#Область"):
            stack.append(line.split()[1])
        elif line.startswith("#КонецОбласти"):
            stack.pop()
    return stack


def test_module_public_interface():
    tree = bsl_parser().parse(MODULE.read_bytes())
    found = methods(tree)
    for name in ("Спросить", "НачатьЗапрос", "НачатьПакет", "НачатьПакетИзвлечения", "СостояниеЗапроса",
                 "РезультатыПакета", "ОтменитьЗапрос", "ИзвлечьРеквизиты", "ПроверитьСоединение",
                 "СписокМоделей", "НастройкиПодключения", "ПараметрыЗапроса", "ОписаниеФайла",
                 "ФайлПодключенияМоста", "СброситьНастройкиПодключения"):
        assert name in found and is_exported(found[name]), f"{name} must be exported"
    params = found["Спросить"].child_by_field_name("parameters")
    names = [text(p.children[0]) for p in params.named_children]
    assert names == ["Текст", "СистемныйПромпт", "ПараметрыВызова"]
    code = _code(MODULE.read_text(encoding="utf-8"))  # no Асинх/Ждать: it compiles on 8.3.12
    assert not re.search(r"(?<![\wЁё])(Асинх|Ждать)(?![\wЁё])", code)
    async_tree = bsl_parser().parse(ASYNC_MODULE.read_bytes())
    (async_method,) = methods(async_tree).values()
    assert async_method.children[0].type == "ASYNC_KEYWORD" and is_exported(async_method)


def test_misspelt_parameter_is_an_error_not_ignored():
    """ПараметрыЗапроса() is the constructor; ПодготовитьВызов refuses any other key."""
    source = MODULE.read_text(encoding="utf-8")
    constructor = _method_text(source, "ПараметрыЗапроса")
    keys = re.findall(r'ПараметрыВызова\.Вставить\("([^"]+)"', constructor)
    assert set(keys) == {"Формат", "Модель", "Температура", "МаксимумТокенов", "Таймаут", "Файлы",
                         "Инструкция", "КлючИдемпотентности", "МаскироватьПерсональныеДанные",
                         "РазрешитьФайлыБезМаскирования"}
    check = _method_text(source, "ПодготовитьВызов")
    assert "Если Не Подготовка.Вызов.Свойство(Элемент.Ключ) Тогда" in check
    assert "Неизвестный параметр запроса к ГигаЧат «%1»" in check
    # Forms set only fields the constructor has (ПараметрыВызова.Формат = ...).
    for form in FORM_MODULES:
        used = set(re.findall(r"ПараметрыВызова\.(\w+)\s*[=.]", form.read_text(encoding="utf-8")))
        assert used <= set(keys), used - set(keys)


def test_forms_use_only_what_the_modules_offer():
    parser = bsl_parser()
    offered = {}
    for path in (MODULE, SERVER_MODULE):
        tree = parser.parse(path.read_bytes())
        offered[path.stem] = {name for name, m in methods(tree).items() if is_exported(m)}
    for form in FORM_MODULES:
        tree = parser.parse(form.read_bytes())
        for call in walk(tree.root_node):
            if call.type == "method_call" and receiver(call) in offered:
                assert call_name(call) in offered[receiver(call)], (form.parent.name, text(call))
    assistant = (ONEC_DIR / "ГигаЧатМостАссистент" / "Модуль.bsl").read_text(encoding="utf-8")
    assert "ЭкранироватьHTML(Текст)" in assistant


def test_assistant_form_never_waits_for_gigachat():
    """The form starts a job and polls it; it never calls the synchronous Спросить."""
    form = (ONEC_DIR / "ГигаЧатМостАссистент" / "Модуль.bsl").read_text(encoding="utf-8")
    code = bsl.join([s for s in bsl.segments(form) if s.kind == "code"])
    assert "ГигаЧатМостКлиент.Спросить(" not in code
    assert "ГигаЧатМостКлиент.НачатьЗапрос(" in code and "ГигаЧатМостКлиент.СостояниеЗапроса(" in code
    assert 'ПодключитьОбработчикОжидания("ПроверитьЗапрос", 1, Ложь)' in form
    assert "ГигаЧатМостКлиент.ОтменитьЗапрос(" in _method_text(form, "Отменить")
    assert "в очереди: %1" in _method_text(form, "ПроверитьЗапрос")
    assert "Состояние.Частично" in _method_text(form, "ПроверитьЗапрос")
    on_open = _method_text(form, "ПриОткрытии")
    assert "ГигаЧатМостКлиент." not in on_open  # nothing blocking while the form opens
    assert "ГигаЧатМостКлиент.СписокМоделей()" in _method_text(form, "ЗагрузитьСписокМоделей")


# --- the generator never rewrites a string literal ----------------------------------------------


def test_rewrite_touches_code_only():
    source = ('А = ГигаЧатМостКлиент.Спросить("модуля ГигаЧатМостКлиент.",'
              ' "кавычка "" ГигаЧатМостКлиент.Х");\n'
              '// комментарий: ГигаЧатМостКлиент.Спросить(\n'
              'Б = "многострочная\n'
              '\t|ГигаЧатМостКлиент.Спросить(" + ГигаЧатМостКлиент.Версия();\n'
              "В = '20240101'; Г = ГигаЧатМостКлиентАсинх.СпроситьАсинх(1);\n")
    out = bsl.strip_module_prefix(source, "ГигаЧатМостКлиент")
    assert bsl.literals(out) == bsl.literals(source)
    assert "А = Спросить(" in out and '" + Версия();' in out
    assert "// комментарий: ГигаЧатМостКлиент.Спросить(" in out
    assert "ГигаЧатМостКлиентАсинх.СпроситьАсинх(1)" in out  # another module's name is not a prefix
    assert len(bsl.literals(source)) == 3


def test_old_generator_bug_is_gone():
    """The old generator cut «…модуля ГигаЧатМост.» inside messages (МодульДляВнешнейОбработки.bsl:612)."""
    message = 'НСтр("ru = \'…в функции НастройкиПодключения() модуля ГигаЧатМостКлиент.\'")'
    assert bsl.strip_module_prefix(message, "ГигаЧатМостКлиент") == message


@pytest.mark.parametrize("spec", [f.name for f in build.FORMS])
def test_processor_module_keeps_every_string_literal(spec):
    form = next(f for f in build.FORMS if f.name == spec)
    generated = build.processor_form_module(form)
    inputs = [build.form_source(form), build.module_source(build.CLIENT.name),
              build.module_source(build.SERVER.name)]
    assert Counter(bsl.literals(generated)) == Counter(lit for s in inputs for lit in bsl.literals(s))
    tree = bsl_parser().parse(generated.encode("utf-8"))
    assert not tree.root_node.has_error, error_lines(tree)
    names = [text(m.child_by_field_name("name")) for m in walk(tree.root_node)
             if m.type in ("function_definition", "procedure_definition")]
    assert len(names) == len(set(names))
    code = bsl.join([s for s in bsl.segments(generated) if s.kind == "code"])
    assert not re.search(r"ГигаЧатМост(Клиент|ВызовСервера)\.[А-Яа-яЁё]", code)
    assert not re.search(r"(?<![\wЁё.])Параметры\.", code), "Параметры is a form property"
    for name, directive in _methods_with_directives(generated).items():
        assert directive in ("&НаКлиенте", "&НаСервере", "&НаСервереБезКонтекста",
                             "&НаКлиентеНаСервереБезКонтекста"), name
    server = {n for n, d in _methods_with_directives(generated).items() if d == "&НаСервереБезКонтекста"}
    assert server and not any(re.search(r"^(Процедура|Функция) " + n + r"\(.*\) Экспорт", generated, re.M)
                              for n in server), "server methods of a form must not be exported"


def test_inlining_refuses_clashes_and_shadowing():
    form = ("#Область СлужебныеПроцедурыИФункции\n&НаКлиенте\nПроцедура Спросить()\nКонецПроцедуры\n"
            "#КонецОбласти\n")
    module = ("// м\n#Область ПрограммныйИнтерфейс\nФункция Спросить() Экспорт\n\tВозврат 1;\nКонецФункции\n"
              "#КонецОбласти\n")
    with pytest.raises(ValueError, match="clash"):
        bsl.form_module_with(form, [bsl.Inlined("М", module, "&НаКлиенте", "М")], [], set())
    module = ("// м\n#Область ПрограммныйИнтерфейс\nФункция Ф() Экспорт\n\tЭлементы = 1;\nКонецФункции\n"
              "#КонецОбласти\n")
    with pytest.raises(ValueError, match="shadow"):
        bsl.form_module_with(form, [bsl.Inlined("М", module, "&НаКлиенте", "М")], [], {"Элементы"})


# --- onec-hbk-bsl -------------------------------------------------------------------------------


def _hbk_command() -> list[str] | None:
    explicit = os.environ.get("ONEC_HBK_BSL")
    if explicit:
        return [explicit]
    found = shutil.which("onec-hbk-bsl")
    if found:
        return [found]
    local = ROOT / ".venv-hbk" / "bin" / "onec-hbk-bsl"  # a Python 3.12+ venv beside .venv
    return [str(local)] if local.is_file() else None


def _hbk(paths: list[Path], *extra: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    command = _hbk_command()
    if command is None:
        need(False, "onec-hbk-bsl (scripts/setup.sh --dev installs it into .venv-hbk "
                    "when a Python 3.12+ is found)")
    return subprocess.run(command + ["check", "--no-config", "--format", "json", *extra, *map(str, paths)],
                          capture_output=True, text=True, timeout=600, cwd=cwd)


def unlisted(findings: list[dict]) -> list[str]:
    out = []
    for d in findings:
        where = d["file"].replace(os.sep, "/")
        if d["code"] in ACCEPTED:
            continue
        if d["code"] in ACCEPTED_IN and ACCEPTED_IN[d["code"]][0] in where:
            continue
        out.append(f"{where.split('/resources/1c/')[-1]}:{d['line']} {d['code']} {d['message']}")
    return out


def test_onec_hbk_bsl_has_no_unlisted_findings():
    """Every rule, on every module as Designer will load it (the trees hold all modules, in context)."""
    result = _hbk([ONEC_DIR / "Расширение_8_3_21", ONEC_DIR / "ВнешняяОбработка"])
    findings = json.loads(result.stdout or "[]")
    assert unlisted(findings) == [], "fix the finding or list it in ACCEPTED with a reason"
    assert all(reason.strip() for reason in ACCEPTED.values())
    assert not {d["code"] for d in findings} & {"BSL001", "BSL253", "BSL008", "BSL011", "BSL016",
                                                 "BSL167", "BSL245", "BSL042"}


def test_onec_hbk_bsl_catches_what_it_should(tmp_path):
    """The same run finds a missing timeout, a syntax error and a misnamed module: a pass means something."""
    bad = tmp_path / "Плохой.bsl"
    bad.write_text('Процедура П() Экспорт\n\tС = Новый HTTPСоединение("127.0.0.1", 8000);\n'
                   "КонецПроцедуры\nПроцедура Ы(\n", encoding="utf-8")
    result = _hbk([bad], "--select", "BSL001,BSL253", cwd=tmp_path)
    assert result.returncode != 0
    assert {d["code"] for d in json.loads(result.stdout)} == {"BSL001", "BSL253"}
    findings = [{"code": "BSL999", "file": str(bad), "line": 1, "message": "new"}]
    assert unlisted(findings)  # an unknown rule is not accepted silently
