"""The Designer XML trees of the 1C kit: generated from one source, well-formed, shaped like
public Designer dumps, stable uuids, and every form event/command bound to a procedure with
the right compilation directive (and every handler procedure bound).

We have no 1C platform: the structure is checked against what public dumps show
(nmitin/ai-1c-gigachat `cf/`, Бухгалтерия предприятия 3.0 forms as documented in
spdreg/cc-1c-skills `docs/1c-form-spec.md` and `docs/1c-extension-spec.md`). One load in a
real Designer before a release is still required (resources/1c/README.md says so).
"""

from __future__ import annotations

import re
import uuid
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from installer.onec_kit import bsl, build
from installer.onec_kit.forms import FORM_EVENT_CONTEXT, FORMS, ITEM_EVENT_CONTEXT
from installer.onec_kit.metadata import CONFIGURATION_CLASS_IDS

KIT = build.KIT
TREES = ("Расширение", "Расширение_8_3_21", "ВнешняяОбработка")
MD = "{http://v8.1c.ru/8.3/MDClasses}"
LF = "{http://v8.1c.ru/8.3/xcf/logform}"
XR = "{http://v8.1c.ru/8.3/xcf/readable}"
V8 = "{http://v8.1c.ru/8.1/data/core}"
# The namespace declarations of a Form.xml in the tutorial's public dump
# (nmitin/ai-1c-gigachat cf/CommonForms/ФормаРезультатаИИ/Ext/Form.xml): all 17, the same set.
DUMP_FORM_NAMESPACES = {
    "", "app", "cfg", "dcscor", "dcssch", "dcsset", "ent", "lf", "style", "sys", "v8", "v8ui", "web",
    "win", "xr", "xs", "xsi"}
DUMP_MD_NAMESPACES = {
    "", "app", "cfg", "cmi", "ent", "lf", "style", "sys", "v8", "v8ui", "web", "win", "xen", "xpr",
    "xr", "xs", "xsi"}
HANDLER_REGIONS = ("ОбработчикиСобытийФормы", "ОбработчикиСобытийЭлементовШапкиФормы",
                   "ОбработчикиКомандФормы")


def tree_files(tree: str) -> list[Path]:
    return sorted(p for p in (KIT / tree).rglob("*") if p.is_file())


def xml_files() -> list[Path]:
    return [p for tree in TREES for p in tree_files(tree) if p.suffix == ".xml"]


def parse(path: Path) -> ET.Element:
    return ET.fromstring(path.read_bytes())


def namespaces(data: bytes) -> set[str]:
    """Prefixes declared on the root element ("" for the default namespace)."""
    start = re.search(r"<(?:Form|MetaDataObject) ([^>]*)>", data.decode("utf-8-sig")).group(1)
    return set(re.findall(r'xmlns:?(\w*)="', start))


def form_pairs() -> list[tuple[Path, Path]]:
    """(Form.xml, its Module.bsl) for every form of every tree."""
    return [(p, p.parent / "Form" / "Module.bsl") for p in sorted(KIT.rglob("Ext/Form.xml"))]


# --- generation -----------------------------------------------------------------------


def test_committed_trees_are_what_the_generator_makes():
    assert build.differences() == [], "regenerate: .venv/bin/python -m installer.onec_kit"


def test_regeneration_is_byte_identical(tmp_path):
    first, second = tmp_path / "a", tmp_path / "b"
    build.write(first)
    build.write(second)
    a = {p.relative_to(first): p.read_bytes() for p in first.rglob("*") if p.is_file()}
    b = {p.relative_to(second): p.read_bytes() for p in second.rglob("*") if p.is_file()}
    assert a == b and len(a) == sum(len(tree_files(t)) for t in TREES)


def test_check_mode_reports_a_stale_file(tmp_path):
    build.write(tmp_path)
    assert build.differences(tmp_path) == []
    stale = tmp_path / "Расширение" / "CommonModules" / "ГигаЧатМостКлиент" / "Ext" / "Module.bsl"
    stale.write_bytes(stale.read_bytes() + b"\n// edited by hand\n")
    (tmp_path / "ВнешняяОбработка" / "лишний.txt").write_text("x", encoding="utf-8")
    assert sorted(build.differences(tmp_path)) == sorted([
        str(stale.relative_to(tmp_path)), "ВнешняяОбработка/лишний.txt"])


def test_extension_modules_are_the_sources_byte_for_byte():
    for tree in ("Расширение", "Расширение_8_3_21"):
        for name in ("ГигаЧатМостКлиент", "ГигаЧатМостВызовСервера"):
            dumped = KIT / tree / "CommonModules" / name / "Ext" / "Module.bsl"
            assert dumped.read_bytes() == build.BOM.encode() + (KIT / f"{name}.bsl").read_bytes()
        for spec in FORMS:
            dumped = KIT / tree / "CommonForms" / spec.name / "Ext" / "Form" / "Module.bsl"
            assert dumped.read_bytes() == build.BOM.encode() + (KIT / spec.name / "Модуль.bsl").read_bytes()
    assert (KIT / "Расширение_8_3_21" / "CommonModules" / "ГигаЧатМостКлиентАсинх.xml").is_file()
    assert not (KIT / "Расширение" / "CommonModules" / "ГигаЧатМостКлиентАсинх.xml").exists()


def test_files_are_utf8_with_a_bom_as_designer_writes_them():
    for tree in TREES:
        for path in tree_files(tree):
            data = path.read_bytes()
            assert data.startswith(build.BOM.encode()), path
            data.decode("utf-8")
    for source in KIT.glob("*.bsl"):
        assert not source.read_bytes().startswith(build.BOM.encode()), source


# --- structure --------------------------------------------------------------------------


@pytest.mark.parametrize("path", xml_files(), ids=lambda p: str(p.relative_to(KIT)))
def test_xml_is_well_formed_and_shaped_like_a_dump(path):
    data = path.read_bytes()
    root = ET.fromstring(data)
    if path.name == "Form.xml":
        assert root.tag == f"{LF}Form" and root.get("version") == "2.17"
        assert namespaces(data) == DUMP_FORM_NAMESPACES
        return
    assert root.tag == f"{MD}MetaDataObject" and root.get("version") == "2.17"
    assert namespaces(data) == DUMP_MD_NAMESPACES
    (obj,) = list(root)
    uuid.UUID(obj.get("uuid"))
    properties = obj.find(f"{MD}Properties")
    assert properties is not None
    assert properties.findtext(f"{MD}Name") == ("ГигаЧатМост" if path.stem == "Configuration" else path.stem)


def test_extension_root_is_an_addon_extension():
    for tree in ("Расширение", "Расширение_8_3_21"):
        root = parse(KIT / tree / "Configuration.xml").find(f"{MD}Configuration")
        props = root.find(f"{MD}Properties")
        order = [child.tag.removeprefix(MD) for child in props]
        assert order[:8] == ["ObjectBelonging", "Name", "Synonym", "Comment", "ConfigurationExtensionPurpose",
                             "KeepMappingToExtendedConfigurationObjectsByIDs", "NamePrefix",
                             "ConfigurationExtensionCompatibilityMode"]
        assert props.findtext(f"{MD}ObjectBelonging") == "Adopted"
        assert props.findtext(f"{MD}ConfigurationExtensionPurpose") == "AddOn"
        assert "CompatibilityMode" not in order  # only the extension's own mode (see the spec)
        contained = root.find(f"{MD}InternalInfo").findall(f"{XR}ContainedObject")
        assert [c.findtext(f"{XR}ClassId") for c in contained] == list(CONFIGURATION_CLASS_IDS)
        prefix = props.findtext(f"{MD}NamePrefix")
        listed = {(c.tag.removeprefix(MD), c.text) for c in root.find(f"{MD}ChildObjects")}
        folders = {"Language": "Languages", "CommonModule": "CommonModules", "CommonForm": "CommonForms"}
        on_disk = {(kind, p.stem) for kind, folder in folders.items()
                   for p in (KIT / tree / folder).glob("*.xml")}
        assert listed == on_disk
        own = {name for kind, name in listed if kind != "Language"}
        assert all(name.startswith(prefix) for name in own), own
        mode = props.findtext(f"{MD}ConfigurationExtensionCompatibilityMode")
        has_async = ("CommonModule", "ГигаЧатМостКлиентАсинх") in listed
        assert (mode == "Version8_3_21") == has_async


def test_adopted_language_and_module_flags():
    for tree in ("Расширение", "Расширение_8_3_21"):
        language = parse(KIT / tree / "Languages" / "Русский.xml").find(f"{MD}Language/{MD}Properties")
        assert language.findtext(f"{MD}ObjectBelonging") == "Adopted"
        uuid.UUID(language.findtext(f"{MD}ExtendedConfigurationObject"))
        flags = {}
        for path in (KIT / tree / "CommonModules").glob("*.xml"):
            props = parse(path).find(f"{MD}CommonModule/{MD}Properties")
            flags[path.stem] = {c.tag.removeprefix(MD): c.text for c in props if c.text in ("true", "false")}
        client = {"ClientManagedApplication": "true", "ClientOrdinaryApplication": "true",
                  "Server": "false", "ServerCall": "false", "ExternalConnection": "false",
                  "Privileged": "false", "Global": "false"}
        assert flags["ГигаЧатМостКлиент"] == client  # v8std #469: a client module is ...Клиент
        assert flags["ГигаЧатМостВызовСервера"] == dict(client, ClientManagedApplication="false",
                                                        ClientOrdinaryApplication="false",
                                                        Server="true", ServerCall="true")
        for path in (KIT / tree / "CommonForms").glob("*.xml"):
            assert parse(path).findtext(f"{MD}CommonForm/{MD}Properties/{MD}FormType") == "Managed"


def test_external_processor_root_lists_its_forms():
    root = parse(KIT / "ВнешняяОбработка" / "ГигаЧатАссистент.xml").find(f"{MD}ExternalDataProcessor")
    info = root.find(f"{MD}InternalInfo")
    assert info.findtext(f"{XR}ContainedObject/{XR}ClassId") == "c3831ec8-d8d5-4f93-8a22-f9bfae07327f"
    assert info.find(f"{XR}GeneratedType").get("name") == "ExternalDataProcessorObject.ГигаЧатАссистент"
    forms = [f.text for f in root.find(f"{MD}ChildObjects")]
    on_disk = sorted(p.stem for p in (KIT / "ВнешняяОбработка" / "ГигаЧатАссистент" / "Forms").glob("*.xml"))
    assert sorted(forms) == on_disk
    default = root.findtext(f"{MD}Properties/{MD}DefaultForm")
    assert default == f"ExternalDataProcessor.ГигаЧатАссистент.Form.{forms[0]}" and forms[0] == "Форма"


def test_uuids_are_unique_and_stable(tmp_path):
    def collect(base: Path) -> dict[str, list[str]]:
        found: dict[str, list[str]] = {}
        for tree in TREES:
            values = []
            for path in (base / tree).rglob("*.xml"):
                values += re.findall(
                    r'uuid="([0-9a-f-]{36})"|<xr:(?:ObjectId|TypeId|ValueId)>([0-9a-f-]{36})<',
                    path.read_text(encoding="utf-8-sig"))
            found[tree] = [a or b for a, b in values]
        return found

    committed = collect(KIT)
    for tree, values in committed.items():
        assert values and len(values) == len(set(values)), tree
    build.write(tmp_path)
    assert collect(tmp_path) == committed


@pytest.mark.parametrize("form_xml", [p for p, _ in form_pairs()], ids=lambda p: str(p.relative_to(KIT)))
def test_form_xml_references_resolve(form_xml):
    root = parse(form_xml)
    attributes = {a.get("name") for a in root.iter(f"{LF}Attribute")}
    commands = {c.get("name") for c in root.iter(f"{LF}Command")}
    item_ids = [int(e.get("id")) for e in root.iter() if e.get("id") and e.tag not in
                (f"{LF}Attribute", f"{LF}Command")]
    assert len(item_ids) == len(set(item_ids)) and -1 in item_ids
    assert root.find(f"{LF}AutoCommandBar").get("name") == "ФормаКоманднаяПанель"
    for path in root.iter(f"{LF}DataPath"):
        assert path.text in attributes
    for name in root.iter(f"{LF}CommandName"):
        assert name.text.removeprefix("Form.Command.") in commands
    for item in root.find(f"{LF}ChildItems"):
        assert item.find(f"{LF}ExtendedTooltip") is not None and item.find(f"{LF}ContextMenu") is not None
    for button in root.iter(f"{LF}Button"):
        assert button.findtext(f"{LF}Type") == "CommandBarButton"


# --- bindings ---------------------------------------------------------------------------


def module_methods(source: str) -> dict[str, dict]:
    """Method -> {directive, params, region} read from BSL (strings and comments blanked)."""
    code = bsl.join([s if s.kind == "code" else bsl.Segment(s.kind, " " * len(s.text))
                     for s in bsl.segments(source)])
    found: dict[str, dict] = {}
    regions: list[str] = []
    directive = ""
    for line in code.split("\n"):
        stripped = line.strip()
        if stripped.startswith("#Область"):
            regions.append(stripped.split()[1])
        elif stripped.startswith("#КонецОбласти"):
            regions.pop()
        elif bsl.DIRECTIVE.match(stripped):
            directive = stripped
        match = bsl.METHOD_START.match(line)
        if match:
            params = line[match.end():].split(")")[0]
            names = [p.split("=")[0].strip() for p in params.split(",") if p.strip()]
            found[match.group(2)] = {"directive": directive, "region": regions[0] if regions else "",
                                     "params": names}
            directive = ""
    return found


def binding_problems(form_xml: str, module: str) -> list[str]:
    """Unbound handlers, missing procedures and wrong directives between a Form.xml and its module."""
    root = ET.fromstring(form_xml.encode("utf-8"))
    found = module_methods(module)
    bound: dict[str, str] = {}
    for events, context in ((root.find(f"{LF}Events"), FORM_EVENT_CONTEXT), (None, ITEM_EVENT_CONTEXT)):
        nodes = events if events is not None else [
            e for item in root.find(f"{LF}ChildItems").iter() if item.tag != f"{LF}Events"
            for group in item.findall(f"{LF}Events") for e in group]
        for event in nodes:
            bound[event.text] = context[event.get("name")]
    for command in root.iter(f"{LF}Command"):
        action = command.findtext(f"{LF}Action")
        if action:
            bound[action] = "&НаКлиенте"
    problems = [f"{handler}: no such procedure in the module" for handler in bound if handler not in found]
    problems += [f"{handler}: needs {need}, has {found[handler]['directive'] or 'no directive'}"
                 for handler, need in bound.items()
                 if handler in found and found[handler]["directive"] != need]
    for name, info in found.items():
        meant = info["region"] in HANDLER_REGIONS or info["params"] == ["Команда"]
        if meant and name not in bound:
            problems.append(f"{name}: a handler procedure bound to no event or command in Form.xml")
    code = bsl.join([s for s in bsl.segments(module) if s.kind != "comment"])
    for by_name in re.findall(r'(?:ПодключитьОбработчикОжидания|ОписаниеОповещения)\(\s*"([^"]+)"', code):
        if by_name not in found:
            problems.append(f"{by_name}: named in ПодключитьОбработчикОжидания/ОписаниеОповещения, "
                            "not defined")
    return problems


@pytest.mark.parametrize("pair", form_pairs(), ids=lambda p: str(p[0].relative_to(KIT)))
def test_every_event_and_command_is_bound_with_the_right_directive(pair):
    form_xml, module = pair
    xml_text = form_xml.read_text(encoding="utf-8-sig")
    assert binding_problems(xml_text, module.read_text(encoding="utf-8-sig")) == []


def test_form_specs_name_the_bound_handlers():
    for spec in FORMS:
        module = (KIT / spec.name / "Модуль.bsl").read_text(encoding="utf-8")
        found = module_methods(module)
        for handler, directive in spec.bound_handlers().items():
            assert found[handler]["directive"] == directive, handler


def test_the_binding_checker_fails_on_a_mutated_copy():
    """An unbound handler, a missing procedure, a wrong directive: each is caught."""
    form_xml, module = next(p for p in form_pairs() if "ГигаЧатМостАссистент" in str(p[0]))
    xml_text = form_xml.read_text(encoding="utf-8-sig")
    source = module.read_text(encoding="utf-8-sig")
    assert binding_problems(xml_text, source) == []
    unbound_event = re.sub(r'\s*<Event name="OnOpen">ПриОткрытии</Event>', "", xml_text)
    assert unbound_event != xml_text
    assert any("ПриОткрытии: a handler procedure bound to no event" in p
               for p in binding_problems(unbound_event, source))
    unbound_item = re.sub(r'\s*<Event name="OnClick">РезультатHTMLПриНажатии</Event>', "", xml_text)
    assert any(p.startswith("РезультатHTMLПриНажатии: a handler")
               for p in binding_problems(unbound_item, source))
    unbound_command = xml_text.replace("<Action>Отменить</Action>", "")
    assert any(p.startswith("Отменить: a handler") for p in binding_problems(unbound_command, source))
    renamed = source.replace("Процедура ПриЗакрытии(", "Процедура ПриЗакрытииФормы(")
    assert "ПриЗакрытии: no such procedure in the module" in binding_problems(xml_text, renamed)
    wrong = source.replace("&НаКлиенте\nПроцедура ПриОткрытии(", "&НаСервере\nПроцедура ПриОткрытии(")
    assert "ПриОткрытии: needs &НаКлиенте, has &НаСервере" in binding_problems(xml_text, wrong)
    missing = source.replace('ПодключитьОбработчикОжидания("ПроверитьЗапрос"',
                             'ПодключитьОбработчикОжидания("ПроверитьЗапросы"')
    assert any(p.startswith("ПроверитьЗапросы: named in") for p in binding_problems(xml_text, missing))
