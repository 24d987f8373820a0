"""Files and typed fields in /openapi.json: `files` on /analyze/text, POST /analyze/extract,
OpenAI content parts. `with_files(spec)` adds them (openapi.py keeps the rest)."""

from __future__ import annotations

from gigachat.local.extract.fields import MAX_FIELDS
from gigachat.local.file_rules import MAX_FILES, MAX_IMAGES, SUPPORTED_TEXT

_JSON = "application/json"


def _ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


FILE_ITEM = {
    "type": "object",
    "required": ["name", "data"],
    "properties": {
        "name": {"type": "string", "description": "Имя файла с расширением, например «счёт 15.pdf»"},
        "data": {"type": "string", "contentEncoding": "base64",
                 "description": "Содержимое в base64; переводы строк (Base64Строка() вставляет "
                                "CR LF каждые 76 символов) допускаются; можно data: URL"},
        "mime": {"type": ["string", "null"],
                 "description": "Тип содержимого; без него — по расширению имени"},
    },
}
FILES = {
    "type": ["array", "null"], "maxItems": MAX_FILES, "items": _ref("FileItem"),
    "description": f"Файлы для ГигаЧат: {SUPPORTED_TEXT}. Изображение до 15 МБ, документ до "
                   f"40 МБ, аудио до 35 МБ, не больше {MAX_IMAGES} изображений в запросе. Мост "
                   "проверяет правила до загрузки, загружает файлы в ГигаЧат и удаляет их после "
                   "ответа. Без model используется настройка files_model (GigaChat-2-Max). "
                   "С файлами поле text можно не передавать.",
}
FIELD_TYPE = {
    "oneOf": [
        {"type": "string", "enum": ["строка", "число", "дата", "булево", "string", "number",
                                    "date", "boolean"]},
        {"type": "array", "items": {"type": "string"}, "minItems": 1,
         "description": "Перечисление: одно из этих значений"},
        {"type": "object", "description": "Таблица: имя колонки → тип (без вложенных таблиц)",
         "additionalProperties": {"oneOf": [{"type": "string"},
                                            {"type": "array", "items": {"type": "string"}}]}},
    ],
}
EXTRACT_REQUEST = {
    "type": "object",
    "anyOf": [{"required": ["text"]}, {"required": ["files"]}],
    "properties": {
        "text": {"type": ["string", "null"], "description": "Текст документа"},
        "files": FILES,
        "fields": {"type": "object", "maxProperties": MAX_FIELDS,
                   "propertyNames": {"pattern": r"^[^\W\d]\w*$"},
                   "additionalProperties": FIELD_TYPE,
                   "description": "Имя поля (идентификатор 1С) → тип. Больше дюжины полей мост "
                                  "запрашивает частями."},
        "schema": {"type": "object", "description": "Вместо fields — своя JSON Schema объекта"},
        "instructions": {"type": ["string", "null"], "description": "Пояснения для модели"},
        "model": {"type": ["string", "null"]},
    },
    "example": {"text": "Договор № 15 с ООО «Ромашка», ИНН 7707083893, на 2 450 000,00 руб. "
                        "от 15.03.2026, НДС 20%",
                "fields": {"Контрагент": "строка", "ИНН": "строка", "Сумма": "число",
                           "Дата": "дата", "СтавкаНДС": ["20%", "10%", "0%", "Без НДС"],
                           "Товары": {"Наименование": "строка", "Количество": "число"}}},
}
EXTRACT_RESPONSE = {
    "type": "object",
    "required": ["success", "data", "missing", "error", "model", "usage"],
    "properties": {
        "success": {"type": "boolean"},
        "data": {"type": ["object", "null"],
                 "description": "Ровно запрошенные поля: числа — числами, даты — строками "
                                "ГГГГ-ММ-ДДTчч:мм:сс (ПрочитатьJSON с ИменаСвойствСоЗначениямиДата), "
                                "булево — true/false, таблицы — списки строк; не найдено — null"},
        "missing": {"type": "array", "items": {"type": "string"},
                    "description": "Поля, которых нет в документе (в data у них null)"},
        "error": {"type": ["string", "null"], "description": "Русский текст ошибки"},
        "model": {"type": "string"},
        "usage": {"oneOf": [_ref("Usage"), {"type": "null"}]},
        "raw": {"type": ["string", "null"],
                "description": "Только при ошибке: последний ответ модели, не прошедший проверку"},
    },
}


def with_files(spec: dict) -> dict:
    """`spec` with files and /analyze/extract added (changed in place and returned)."""
    schemas = spec["components"]["schemas"]
    schemas["FileItem"] = FILE_ITEM
    schemas["ExtractRequest"] = EXTRACT_REQUEST
    schemas["ExtractResponse"] = EXTRACT_RESPONSE
    analyze = schemas["AnalyzeRequest"]
    analyze["properties"]["files"] = FILES
    analyze.pop("required", None)
    analyze["anyOf"] = [{"required": ["text"]}, {"required": ["files"]}]
    chat = schemas.get("ChatRequest", {})
    chat.setdefault("description", "")
    chat["description"] += (" Части сообщения пользователя image_url (data: URL), file "
                            "(file_data в base64) и input_audio мост загружает в ГигаЧат как "
                            "файлы и удаляет после ответа.")
    errors = {code: response for code, response in
              spec["paths"]["/analyze/text"]["post"]["responses"].items() if code != "200"}
    spec["paths"]["/analyze/extract"] = {"post": {
        "summary": "Поля документа с типами для 1С (structured output с проверкой)",
        "operationId": "analyzeExtract",
        "requestBody": {"required": True, "content": {_JSON: {"schema": _ref("ExtractRequest")}}},
        "responses": {"200": {"description": "Поля; при ошибке success=false и текст в error",
                              "content": {_JSON: {"schema": _ref("ExtractResponse")}}},
                      **errors},
    }}
    return spec
