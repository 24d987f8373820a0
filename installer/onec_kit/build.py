"""Build the 1C kit's Designer XML trees from the one source in resources/1c.

    .venv/bin/python -m installer.onec_kit            # regenerate the committed trees
    .venv/bin/python -m installer.onec_kit --check    # exit 1 if a committed file differs

Sources (edited by hand): resources/1c/ГигаЧатМостКлиент.bsl, ГигаЧатМостВызовСервера.bsl,
ГигаЧатМостКлиентАсинх.bsl, ГигаЧатМостАссистент/Модуль.bsl, ГигаЧатМостНастройки/Модуль.bsl
and the form descriptions in installer/onec_kit/forms.py. Generated (never edited):
  Расширение/          the extension ГигаЧатМост for 8.3.12+ (no async module)
  Расширение_8_3_21/   the same extension plus ГигаЧатМостКлиентАсинх, for 8.3.21+
  ВнешняяОбработка/    the external data processor ГигаЧатАссистент (common modules inlined)
Files are written as Designer writes them: UTF-8 with a byte-order mark.
"""

from __future__ import annotations

import sys
from pathlib import Path

from installer.onec_kit import bsl
from installer.onec_kit.forms import ASSISTANT, FORMS, SETTINGS, FormSpec, form_xml
from installer.onec_kit.metadata import (
    CommonModule,
    Extension,
    adopted_language_xml,
    common_form_xml,
    common_module_xml,
    configuration_xml,
    processor_form_xml,
    processor_xml,
)

ROOT = Path(__file__).resolve().parents[2]
KIT = ROOT / "resources" / "1c"
BOM = "\ufeff"
VERSION = "2.0.0"
CLIENT = CommonModule("ГигаЧатМостКлиент", "Мост ГигаЧат (клиент)", client=True, server=False,
                      server_call=False)
SERVER = CommonModule("ГигаЧатМостВызовСервера", "Мост ГигаЧат (сервер)", client=False, server=True,
                      server_call=True)
ASYNC = CommonModule("ГигаЧатМостКлиентАсинх", "Мост ГигаЧат (асинхронные вызовы)", client=True,
                     server=False, server_call=False)
SYNONYMS = {ASSISTANT.name: "Ассистент ГигаЧат", SETTINGS.name: "Настройки моста ГигаЧат"}
PROCESSOR = "ГигаЧатАссистент"
PROCESSOR_FORM_NAMES = {ASSISTANT.name: "Форма", SETTINGS.name: SETTINGS.name}
# Properties of a managed form (and of a data processor's form) a local variable must not shadow.
FORM_PROPERTIES = {
    "Параметры", "Элементы", "Команды", "Заголовок", "Окно", "ВладелецФормы", "Открыта",
    "ТекущийЭлемент", "КлючУникальности", "Модифицированность", "ТолькоПросмотр", "Доступность",
    "УникальныйИдентификатор", "ИмяФормы", "РежимОткрытияОкна", "ЗакрыватьПриВыборе",
    "ЗакрыватьПриЗакрытииВладельца", "Объект", "Ширина", "Высота", "КоманднаяПанель",
}


def module_source(name: str) -> str:
    return (KIT / f"{name}.bsl").read_text(encoding="utf-8")


def form_source(spec: FormSpec) -> str:
    return (KIT / spec.name / "Модуль.bsl").read_text(encoding="utf-8")


def extension_tree(tree: str, with_async: bool) -> dict[str, str]:
    """Relative path -> text of the extension ГигаЧатМост."""
    modules = (CLIENT, SERVER, ASYNC) if with_async else (CLIENT, SERVER)
    ext = Extension("ГигаЧатМост", "Мост ГигаЧат для 1С", "ГигаЧатМост",
                    "Version8_3_21" if with_async else "Version8_3_12", VERSION, modules,
                    tuple((f.name, SYNONYMS[f.name]) for f in FORMS))
    files = {"Configuration.xml": configuration_xml(tree, ext),
             "Languages/Русский.xml": adopted_language_xml(tree)}
    for module in modules:
        files[f"CommonModules/{module.name}.xml"] = common_module_xml(tree, module)
        files[f"CommonModules/{module.name}/Ext/Module.bsl"] = module_source(module.name)
    for spec in FORMS:
        files[f"CommonForms/{spec.name}.xml"] = common_form_xml(tree, spec.name, SYNONYMS[spec.name])
        files[f"CommonForms/{spec.name}/Ext/Form.xml"] = form_xml(spec)
        files[f"CommonForms/{spec.name}/Ext/Form/Module.bsl"] = form_source(spec)
    return files


def processor_form_module(spec: FormSpec) -> str:
    """The form module with the two common modules inlined (a processor has no common modules)."""
    header = [
        f"// Модуль формы «{PROCESSOR_FORM_NAMES[spec.name]}» внешней обработки «{PROCESSOR}».",
        "// Собран командой installer/onec_kit из resources/1c: модуля формы " + spec.name
        + "/Модуль.bsl,",
        "// ГигаЧатМостКлиент.bsl (методы &НаКлиенте) и ГигаЧатМостВызовСервера.bsl (методы",
        "// &НаСервереБезКонтекста): во внешней обработке нет общих модулей. Не правьте этот файл:",
        "// исправления вносите в исходные модули и пересоберите комплект.",
    ]
    inlined = [bsl.Inlined(CLIENT.name, module_source(CLIENT.name), "&НаКлиенте", "МостКлиент"),
               bsl.Inlined(SERVER.name, module_source(SERVER.name), "&НаСервереБезКонтекста", "МостСервер",
                           keep_export=False)]
    forbidden = FORM_PROPERTIES | {a.name for a in spec.attributes}
    return bsl.form_module_with(form_source(spec), inlined, header, forbidden)


def processor_tree(tree: str) -> dict[str, str]:
    names = tuple(PROCESSOR_FORM_NAMES[f.name] for f in FORMS)
    files = {f"{PROCESSOR}.xml": processor_xml(tree, PROCESSOR, "Ассистент ГигаЧат", names)}
    for spec in FORMS:
        name = PROCESSOR_FORM_NAMES[spec.name]
        base = f"{PROCESSOR}/Forms/{name}"
        files[f"{base}.xml"] = processor_form_xml(tree, PROCESSOR, name, SYNONYMS[spec.name])
        files[f"{base}/Ext/Form.xml"] = form_xml(spec)
        files[f"{base}/Ext/Form/Module.bsl"] = processor_form_module(spec)
    return files


def all_trees() -> dict[str, dict[str, str]]:
    """Directory under resources/1c -> its files."""
    return {"Расширение": extension_tree("Расширение", with_async=False),
            "Расширение_8_3_21": extension_tree("Расширение_8_3_21", with_async=True),
            "ВнешняяОбработка": processor_tree("ВнешняяОбработка")}


def encoded(text: str) -> bytes:
    return (BOM + text).encode("utf-8")


def write(target: Path = KIT) -> list[Path]:
    written = []
    for tree, files in all_trees().items():
        for relative, text in files.items():
            path = target / tree / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(encoded(text))
            written.append(path)
    return written


def differences(target: Path = KIT) -> list[str]:
    """Files that are missing, stale or left over in the committed trees."""
    problems = []
    for tree, files in all_trees().items():
        expected = {target / tree / relative: encoded(text) for relative, text in files.items()}
        for path, data in expected.items():
            if not path.is_file() or path.read_bytes() != data:
                problems.append(str(path.relative_to(target)))
        if (target / tree).is_dir():
            problems += [str(p.relative_to(target)) for p in sorted((target / tree).rglob("*"))
                         if p.is_file() and p not in expected]
    return problems


def main(argv: list[str]) -> int:
    if "--check" in argv:
        problems = differences()
        for problem in problems:
            print(f"устарел: {problem}")
        return 1 if problems else 0
    for path in write():
        print(path.relative_to(ROOT))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
