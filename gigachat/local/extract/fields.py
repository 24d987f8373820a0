"""`fields` (or a full `schema`) → the JSON Schema GigaChat is asked to fill; refusals name the field.

A field name is a 1C identifier (a letter or `_`, then letters, digits, `_`; Cyrillic welcome),
not a BSL keyword, unique ignoring case (a 1C Структура's keys are case-insensitive). A type is
``строка``/``string``, ``число``/``number``, ``дата``/``date``, ``булево``/``boolean``, a list of
strings (one of these values) or an object of such fields (a table: a list of rows). Every
property is required and nullable: the model says null when the document has no value.
"""

from __future__ import annotations

import re
from typing import Any

import jsonschema

from gigachat.core.errors import InvalidRequest

MAX_FIELDS = 200
MAX_COLUMNS = 50
MAX_CHOICES = 500
MAX_NAME = 100
MAX_SCHEMA_NODES = 5000
_IDENTIFIER = re.compile(r"^[^\W\d]\w*$")
SCALARS = {
    "строка": "string", "string": "string", "текст": "string",
    "число": "number", "number": "number",
    "дата": "date", "date": "date",
    "булево": "boolean", "boolean": "boolean", "bool": "boolean",
}
_KEYWORD_TEXT = (
    "Если Тогда ИначеЕсли Иначе КонецЕсли Для Каждого Из По Пока Цикл КонецЦикла Процедура "
    "Функция КонецПроцедуры КонецФункции Перем Перейти Возврат Продолжить Прервать И Или Не "
    "Попытка Исключение ВызватьИсключение КонецПопытки Новый Выполнить Истина Ложь Неопределено "
    "Экспорт Знач Асинх Ждать If Then ElsIf Else EndIf For Each In To While Do EndDo Procedure "
    "Function EndProcedure EndFunction Var Goto Return Continue Break And Or Not Try Except "
    "Raise EndTry New Execute True False Undefined Null Export Val Async Await")
KEYWORDS = {word.casefold() for word in _KEYWORD_TEXT.split(" ")}
TYPE_HINT = ("«строка», «число», «дата», «булево» (или string, number, date, boolean), список "
             "допустимых значений или объект с полями таблицы")
DATE_HINT = "дата в формате ГГГГ-ММ-ДД"


def check_name(name: object, where: str) -> str:
    """A field name usable as a key of a 1C Структура, else InvalidRequest naming it."""
    shown = str(name)[:MAX_NAME]
    if not isinstance(name, str) or not _IDENTIFIER.match(name) or len(name) > MAX_NAME:
        raise InvalidRequest(f"Имя поля «{shown}» ({where}) не годится как имя реквизита 1С: "
                             "нужны буквы, цифры и «_», первой — буква или «_», без пробелов и "
                             f"дефисов, не длиннее {MAX_NAME} знаков.", field=where,
                             code="bad_fields")
    if name.casefold() in KEYWORDS:
        raise InvalidRequest(f"Имя поля «{name}» ({where}) — ключевое слово языка 1С, его нельзя "
                             "сделать ключом структуры. Выберите другое имя.", field=where,
                             code="bad_fields")
    return name


def _unique(names: list[str], where: str) -> None:
    seen: dict[str, str] = {}
    for name in names:
        other = seen.setdefault(name.casefold(), name)
        if other != name or names.count(name) > 1:
            raise InvalidRequest(f"Поля «{other}» и «{name}» ({where}) совпадают без учёта "
                                 "регистра, а в структуре 1С это один ключ. Переименуйте одно "
                                 "из них.", field=where, code="bad_fields")


def _nullable(schema: dict) -> dict:
    kind = schema["type"]
    return {**schema, "type": [kind, "null"]}


def _choices(values: list, where: str) -> dict:
    if not values or len(values) > MAX_CHOICES or not all(
            isinstance(v, str) and v.strip() for v in values):
        raise InvalidRequest(f"Поле {where}: список значений должен содержать от 1 до "
                             f"{MAX_CHOICES} непустых строк.", field=where, code="bad_fields")
    if len({v.casefold() for v in values}) != len(values):
        raise InvalidRequest(f"Поле {where}: в списке значений есть повторы.", field=where,
                             code="bad_fields")
    return {"type": ["string", "null"], "enum": [*values, None],
            "description": "одно из значений: " + "; ".join(values)}


def _scalar(kind: object, where: str) -> dict:
    if isinstance(kind, list):
        return _choices(kind, where)
    name = SCALARS.get(kind.strip().casefold()) if isinstance(kind, str) else None
    if name is None:
        shown = str(kind)[:60] if not isinstance(kind, dict) else "объект"
        raise InvalidRequest(f"Поле {where}: неизвестный тип «{shown}». Допустимы {TYPE_HINT}.",
                             field=where, code="bad_fields")
    if name == "date":
        return {"type": ["string", "null"], "format": "date", "description": DATE_HINT}
    return _nullable({"type": name})


def _object(fields: dict, where: str, limit: int, table: bool) -> dict:
    if not fields:
        raise InvalidRequest(f"Поле {where or 'fields'}: перечислите хотя бы одно поле.",
                             field=where or "fields", code="bad_fields")
    if len(fields) > limit:
        what = "колонок таблицы" if table else "полей"
        raise InvalidRequest(f"Поле {where or 'fields'}: слишком много {what} ({len(fields)}), "
                             f"допустимо не больше {limit}.", field=where or "fields",
                             code="bad_fields")
    properties = {}
    for name, kind in fields.items():
        at = f"{where}.{name}" if where else f"fields.{name}"
        check_name(name, at)
        if isinstance(kind, dict):
            if table:
                raise InvalidRequest(f"Поле {at}: таблица внутри таблицы не поддерживается — "
                                     "допускается один уровень вложенности.", field=at,
                                     code="bad_fields")
            row = _object(kind, at, MAX_COLUMNS, table=True)
            properties[name] = {"type": ["array", "null"], "items": row,
                                "description": "таблица: список строк"}
        else:
            properties[name] = _scalar(kind, at)
    _unique(list(properties), where or "fields")
    return {"type": "object", "properties": properties, "required": list(properties),
            "additionalProperties": False}


def fields_schema(fields: object) -> dict:
    """The JSON Schema for a `fields` mapping (InvalidRequest naming a bad field)."""
    if not isinstance(fields, dict):
        raise InvalidRequest("Поле fields должно быть объектом: имя поля → тип, например "
                             '{"ИНН": "строка", "Сумма": "число"}.', field="fields",
                             code="bad_fields")
    return _object(fields, "", MAX_FIELDS, table=False)


def _count_nodes(value: Any) -> int:
    stack, count = [value], 0
    while stack:
        node = stack.pop()
        count += 1
        if isinstance(node, dict):
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return count


def given_schema(schema: object) -> dict:
    """A caller's own JSON Schema: valid (Draft 2020-12), an object with identifier-safe
    top-level properties."""
    if not isinstance(schema, dict):
        raise InvalidRequest("Поле schema должно быть объектом (JSON Schema).", field="schema",
                             code="bad_fields")
    if _count_nodes(schema) > MAX_SCHEMA_NODES:
        raise InvalidRequest("Поле schema слишком большое для одного запроса.", field="schema",
                             code="bad_fields")
    try:
        jsonschema.Draft202012Validator.check_schema(schema)
    except jsonschema.SchemaError as error:
        where = "schema" + "".join(f"[{p!r}]" for p in error.path)
        raise InvalidRequest(f"Поле schema не является корректной JSON Schema ({where}): "
                             f"{error.message[:200]}", field="schema", code="bad_fields") from None
    properties = schema.get("properties")
    if schema.get("type") not in ("object", None) or not isinstance(properties, dict) \
            or not properties:
        raise InvalidRequest("Поле schema должно описывать объект: "
                             '{"type": "object", "properties": {...}}.', field="schema",
                             code="bad_fields")
    if len(properties) > MAX_FIELDS:
        raise InvalidRequest(f"Поле schema: слишком много полей ({len(properties)}), допустимо "
                             f"не больше {MAX_FIELDS}.", field="schema.properties",
                             code="bad_fields")
    for name in properties:
        check_name(name, f"schema.properties.{name}")
    _unique(list(properties), "schema.properties")
    return {**schema, "type": "object"}
