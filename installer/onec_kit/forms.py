"""The two managed forms of the 1C kit as data, and their Designer `Form.xml`.

Every event, command and item binding lives here, so Form.xml is generated, never hand-made.
Element order and names follow Designer dumps (see tests/test_onec_xml.py for the checks).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from xml.sax.saxutils import escape

FORM_NAMESPACES = (
    'xmlns="http://v8.1c.ru/8.3/xcf/logform" '
    'xmlns:app="http://v8.1c.ru/8.2/managed-application/core" '
    'xmlns:cfg="http://v8.1c.ru/8.1/data/enterprise/current-config" '
    'xmlns:dcscor="http://v8.1c.ru/8.1/data-composition-system/core" '
    'xmlns:dcssch="http://v8.1c.ru/8.1/data-composition-system/schema" '
    'xmlns:dcsset="http://v8.1c.ru/8.1/data-composition-system/settings" '
    'xmlns:ent="http://v8.1c.ru/8.1/data/enterprise" '
    'xmlns:lf="http://v8.1c.ru/8.2/managed-application/logform" '
    'xmlns:style="http://v8.1c.ru/8.1/data/ui/style" '
    'xmlns:sys="http://v8.1c.ru/8.1/data/ui/fonts/system" '
    'xmlns:v8="http://v8.1c.ru/8.1/data/core" '
    'xmlns:v8ui="http://v8.1c.ru/8.1/data/ui" '
    'xmlns:web="http://v8.1c.ru/8.1/data/ui/colors/web" '
    'xmlns:win="http://v8.1c.ru/8.1/data/ui/colors/windows" '
    'xmlns:xr="http://v8.1c.ru/8.3/xcf/readable" '
    'xmlns:xs="http://www.w3.org/2001/XMLSchema" '
    'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"'
)
FORMAT_VERSION = "2.17"

# Form events and the compilation directive their handler needs.
FORM_EVENT_CONTEXT = {"OnCreateAtServer": "&НаСервере", "OnOpen": "&НаКлиенте",
                      "OnClose": "&НаКлиенте", "BeforeClose": "&НаКлиенте"}
ITEM_EVENT_CONTEXT = {"OnClick": "&НаКлиенте", "OnChange": "&НаКлиенте"}


@dataclass(frozen=True)
class Attribute:
    name: str
    title: str
    kind: str  # "text", "string100", "port", "seconds", "bool", "list"
    fill_check: bool = False


@dataclass(frozen=True)
class Command:
    name: str
    title: str
    tooltip: str = ""
    shortcut: str = ""

    @property
    def action(self) -> str:  # the handler has the command's name
        return self.name


@dataclass(frozen=True)
class Item:
    tag: str  # InputField, LabelField, HTMLDocumentField, Button, UsualGroup
    name: str
    data_path: str = ""
    command: str = ""
    props: tuple[tuple[str, str], ...] = ()
    events: tuple[tuple[str, str], ...] = ()
    children: tuple[Item, ...] = ()
    title: str = ""


@dataclass(frozen=True)
class FormSpec:
    name: str
    title: str
    events: tuple[tuple[str, str], ...]
    command_bar: tuple[Item, ...]
    items: tuple[Item, ...]
    attributes: tuple[Attribute, ...]
    commands: tuple[Command, ...]
    properties: tuple[tuple[str, str], ...] = field(default=())

    def bound_handlers(self) -> dict[str, str]:
        """Handler procedure -> the directive it needs (events and commands of this form)."""
        bound = {handler: FORM_EVENT_CONTEXT[event] for event, handler in self.events}
        for item in walk(self.items):
            bound.update({handler: ITEM_EVENT_CONTEXT[event] for event, handler in item.events})
        bound.update({c.action: "&НаКлиенте" for c in self.commands})
        return bound


def walk(items: tuple[Item, ...]):
    for item in items:
        yield item
        yield from walk(item.children)


def button(name: str, command: str, default: bool = False) -> Item:
    return Item("Button", name, command=command, props=(("DefaultButton", "true"),) if default else ())


ASSISTANT = FormSpec(
    name="ГигаЧатМостАссистент",
    title="Ассистент ГигаЧат",
    events=(("OnCreateAtServer", "ПриСозданииНаСервере"), ("OnOpen", "ПриОткрытии"),
            ("OnClose", "ПриЗакрытии")),
    command_bar=(
        button("КнопкаОтправить", "Отправить", default=True),
        button("КнопкаОтменить", "Отменить"),
        button("КнопкаПрикрепитьФайл", "ПрикрепитьФайл"),
        button("КнопкаОткрепитьФайлы", "ОткрепитьФайлы"),
        button("КнопкаПроверитьМост", "ПроверитьМост"),
        button("КнопкаОчистить", "Очистить"),
        button("КнопкаОткрытьНастройки", "ОткрытьНастройки"),
    ),
    items=(
        Item("InputField", "Модель", "Модель", props=(("ListChoiceMode", "true"), ("TextEdit", "false"))),
        Item("InputField", "СистемныйПромпт", "СистемныйПромпт",
             props=(("Height", "3"), ("MultiLine", "true"))),
        Item("InputField", "ТекстЗапроса", "ТекстЗапроса", title="Текст для анализа",
             props=(("Height", "8"), ("MultiLine", "true"))),
        Item("LabelField", "ИменаФайлов", "ИменаФайлов", title="Файлы"),
        Item("HTMLDocumentField", "РезультатHTML", "РезультатHTML",
             props=(("TitleLocation", "None"), ("VerticalStretch", "true")),
             events=(("OnClick", "РезультатHTMLПриНажатии"),)),
        Item("LabelField", "СостояниеМоста", "СостояниеМоста", title="Состояние",
             props=(("Height", "2"),)),
    ),
    attributes=(
        Attribute("ТекстЗапроса", "Текст запроса", "text"),
        Attribute("СистемныйПромпт", "Инструкция для модели", "text"),
        Attribute("РезультатHTML", "Ответ", "text"),
        Attribute("Модель", "Модель", "string100"),
        Attribute("СостояниеМоста", "Состояние", "text"),
        Attribute("ИдЗапроса", "Идентификатор запроса", "string100"),
        Attribute("Файлы", "Файлы", "list"),
        Attribute("ИменаФайлов", "Файлы", "text"),
    ),
    commands=(
        Command("Отправить", "Отправить", "Поставить запрос в очередь моста ГигаЧат", "Ctrl+Enter"),
        Command("Отменить", "Отменить", "Отменить запрос: ГигаЧат перестанет писать ответ"),
        Command("ПрикрепитьФайл", "Прикрепить файл…", "Документ или изображение для анализа"),
        Command("ОткрепитьФайлы", "Убрать файлы"),
        Command("ПроверитьМост", "Проверить соединение"),
        Command("Очистить", "Очистить"),
        Command("ОткрытьНастройки", "Настройки…", "Адрес, порт и ключ локального API моста"),
    ),
    properties=(("AutoTitle", "false"),),
)

SETTINGS = FormSpec(
    name="ГигаЧатМостНастройки",
    title="Настройки моста ГигаЧат",
    events=(("OnCreateAtServer", "ПриСозданииНаСервере"),),
    command_bar=(
        button("КнопкаСохранитьИЗакрыть", "СохранитьИЗакрыть", default=True),
        button("КнопкаПроверитьПодключение", "ПроверитьПодключение"),
        button("КнопкаСброситьНастройки", "СброситьНастройки"),
    ),
    items=(
        Item("InputField", "Адрес", "Адрес"),
        Item("InputField", "Порт", "Порт"),
        Item("InputField", "КлючДоступа", "КлючДоступа", props=(("PasswordMode", "true"),)),
        Item("InputField", "Таймаут", "Таймаут"),
        Item("InputField", "ТаймаутПроверки", "ТаймаутПроверки"),
        Item("LabelField", "Состояние", "Состояние", props=(("Height", "3"),)),
    ),
    attributes=(
        Attribute("Адрес", "Адрес моста", "string100", fill_check=True),
        Attribute("Порт", "Порт", "port", fill_check=True),
        Attribute("КлючДоступа", "Ключ локального API", "string100"),
        Attribute("Таймаут", "Ждать ответ ГигаЧат, с", "seconds"),
        Attribute("ТаймаутПроверки", "Ждать короткие вызовы, с", "seconds"),
        Attribute("ЕстьКлюч", "Ключ сохранён", "bool"),
        Attribute("Состояние", "Состояние", "text"),
    ),
    commands=(
        Command("СохранитьИЗакрыть", "Сохранить и закрыть"),
        Command("ПроверитьПодключение", "Проверить подключение"),
        Command("СброситьНастройки", "Сбросить", "Удалить сохранённые настройки этого пользователя"),
    ),
    properties=(("AutoTitle", "false"), ("WindowOpeningMode", "LockOwnerWindow")),
)

FORMS = (ASSISTANT, SETTINGS)

_TYPES = {
    "text": "<v8:Type>xs:string</v8:Type><v8:StringQualifiers><v8:Length>0</v8:Length>"
            "<v8:AllowedLength>Variable</v8:AllowedLength></v8:StringQualifiers>",
    "string100": "<v8:Type>xs:string</v8:Type><v8:StringQualifiers><v8:Length>100</v8:Length>"
                 "<v8:AllowedLength>Variable</v8:AllowedLength></v8:StringQualifiers>",
    "port": "<v8:Type>xs:decimal</v8:Type><v8:NumberQualifiers><v8:Digits>5</v8:Digits>"
            "<v8:FractionDigits>0</v8:FractionDigits><v8:AllowedSign>Nonnegative</v8:AllowedSign>"
            "</v8:NumberQualifiers>",
    "seconds": "<v8:Type>xs:decimal</v8:Type><v8:NumberQualifiers><v8:Digits>4</v8:Digits>"
               "<v8:FractionDigits>0</v8:FractionDigits><v8:AllowedSign>Nonnegative</v8:AllowedSign>"
               "</v8:NumberQualifiers>",
    "bool": "<v8:Type>xs:boolean</v8:Type>",
    "list": "<v8:Type>v8:ValueListType</v8:Type>",
}


def local_string(tag: str, text: str, indent: str) -> list[str]:
    return [f"{indent}<{tag}>", f"{indent}\t<v8:item>", f"{indent}\t\t<v8:lang>ru</v8:lang>",
            f"{indent}\t\t<v8:content>{escape(text)}</v8:content>", f"{indent}\t</v8:item>",
            f"{indent}</{tag}>"]


class _Ids:
    def __init__(self) -> None:
        self.last = 0

    def next(self) -> int:
        self.last += 1
        return self.last


def _item(item: Item, ids: _Ids, indent: str) -> list[str]:
    lines = [f'{indent}<{item.tag} name="{item.name}" id="{ids.next()}">']
    inner = indent + "\t"
    if item.tag == "Button":
        lines.append(f"{inner}<Type>CommandBarButton</Type>")
        lines += [f"{inner}<{k}>{v}</{k}>" for k, v in item.props]
        lines.append(f"{inner}<CommandName>Form.Command.{item.command}</CommandName>")
        lines.append(f'{inner}<ExtendedTooltip name="{item.name}РасширеннаяПодсказка" id="{ids.next()}"/>')
    else:
        if item.data_path:
            lines.append(f"{inner}<DataPath>{item.data_path}</DataPath>")
        if item.title:
            lines += local_string("Title", item.title, inner)
        lines += [f"{inner}<{k}>{v}</{k}>" for k, v in item.props]
        lines.append(f'{inner}<ContextMenu name="{item.name}КонтекстноеМеню" id="{ids.next()}"/>')
        lines.append(f'{inner}<ExtendedTooltip name="{item.name}РасширеннаяПодсказка" id="{ids.next()}"/>')
        if item.children:
            lines.append(f"{inner}<ChildItems>")
            for child in item.children:
                lines += _item(child, ids, inner + "\t")
            lines.append(f"{inner}</ChildItems>")
    if item.events:
        lines.append(f"{inner}<Events>")
        lines += [f'{inner}\t<Event name="{event}">{handler}</Event>' for event, handler in item.events]
        lines.append(f"{inner}</Events>")
    lines.append(f"{indent}</{item.tag}>")
    return lines


def form_xml(spec: FormSpec) -> str:
    """The Designer's Ext/Form.xml of a managed form."""
    lines = ['<?xml version="1.0" encoding="UTF-8"?>',
             f'<Form {FORM_NAMESPACES} version="{FORMAT_VERSION}">']
    lines += local_string("Title", spec.title, "\t")
    lines += [f"\t<{k}>{v}</{k}>" for k, v in spec.properties]
    ids = _Ids()
    lines += ['\t<AutoCommandBar name="ФормаКоманднаяПанель" id="-1">', "\t\t<Autofill>false</Autofill>",
              "\t\t<ChildItems>"]
    for item in spec.command_bar:
        lines += _item(item, ids, "\t\t\t")
    lines += ["\t\t</ChildItems>", "\t</AutoCommandBar>", "\t<Events>"]
    lines += [f'\t\t<Event name="{event}">{handler}</Event>' for event, handler in spec.events]
    lines += ["\t</Events>", "\t<ChildItems>"]
    for item in spec.items:
        lines += _item(item, ids, "\t\t")
    lines += ["\t</ChildItems>", "\t<Attributes>"]
    for number, attribute in enumerate(spec.attributes, 1):
        lines.append(f'\t\t<Attribute name="{attribute.name}" id="{number}">')
        lines += local_string("Title", attribute.title, "\t\t\t")
        lines.append(f"\t\t\t<Type>{_TYPES[attribute.kind]}</Type>")
        if attribute.fill_check:
            lines.append("\t\t\t<FillChecking>ShowError</FillChecking>")
        lines.append("\t\t</Attribute>")
    lines += ["\t</Attributes>", "\t<Commands>"]
    for number, command in enumerate(spec.commands, 1):
        lines.append(f'\t\t<Command name="{command.name}" id="{number}">')
        lines += local_string("Title", command.title, "\t\t\t")
        if command.tooltip:
            lines += local_string("ToolTip", command.tooltip, "\t\t\t")
        lines.append(f"\t\t\t<Action>{command.action}</Action>")
        if command.shortcut:
            lines.append(f"\t\t\t<Shortcut>{command.shortcut}</Shortcut>")
        lines.append("\t\t</Command>")
    lines += ["\t</Commands>", "</Form>"]
    return "\n".join(lines) + "\n"
