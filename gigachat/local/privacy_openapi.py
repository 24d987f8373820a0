"""The masking fields in /openapi.json: request flags, the `masked` counts, the /v1 headers.

`with_privacy(spec)` adds them to whichever of the 1C routes' schemas the document has
(AnalyzeRequest/ExtractRequest and their responses), so the routes' owners keep their schemas.
"""

from __future__ import annotations

from gigachat.local.masking import ALL_KINDS
from gigachat.local.privacy import (
    ALLOW_FIELD,
    ALLOW_HEADER,
    COUNTS_HEADER,
    MASK_FIELD,
    MASK_HEADER,
)

REQUESTS = ("AnalyzeRequest", "ExtractRequest")
RESPONSES = ("AnalyzeResponse", "ExtractResponse", "ChatCompletion")
_KINDS = ", ".join(ALL_KINDS)

MASKED_COUNTS = {
    "type": "object",
    "description": "Сколько разных значений каждого вида замаскировано (только числа, без самих "
                   f"значений). Виды: {_KINDS}. Есть в ответе, только когда маскирование "
                   "включено.",
    "properties": {kind: {"type": "integer", "minimum": 0} for kind in ALL_KINDS},
    "additionalProperties": {"type": "integer", "minimum": 0},
    "example": {"ИНН": 2, "ФИО": 1},
}
FLAGS = {
    MASK_FIELD: {"type": ["boolean", "null"],
                 "description": "Маскировать персональные данные (ФИО, ИНН, СНИЛС, ОГРН/ОГРНИП, "
                                "паспорт, карты, счета, телефоны, почту) перед отправкой в "
                                "ГигаЧат: уходят только метки вида [ИНН_1], в ответе — снова "
                                "исходные значения. Без поля — как в настройке "
                                "mask_personal_data (по умолчанию выключено). Текстовые файлы "
                                ".txt маскируются тоже; PDF и изображения с маскированием "
                                "отклоняются, если нет allow_unmasked_files."},
    ALLOW_FIELD: {"type": ["boolean", "null"],
                  "description": "При маскировании всё же отправить PDF, изображения и другие "
                                 "файлы, которые ГигаЧат читает сам, — без маскирования их "
                                 "содержимого."},
}


def _header(name: str, description: str) -> dict:
    return {"name": name, "in": "header", "required": False, "description": description,
            "schema": {"type": "string", "enum": ["0", "1"]}}


def _v1_operation(operation: dict, allow: bool) -> None:
    params = operation.setdefault("parameters", [])
    params.append(_header(MASK_HEADER, "1 — маскировать персональные данные в сообщениях (как "
                          "mask_personal_data у /analyze/text), 0 — не маскировать; без "
                          "заголовка — как в настройке."))
    if allow:
        params.append(_header(ALLOW_HEADER, "1 — при маскировании всё же отправить изображения "
                              "и файлы, которые ГигаЧат читает сам."))
    ok = operation.get("responses", {}).get("200")
    if isinstance(ok, dict):
        ok.setdefault("headers", {})[COUNTS_HEADER] = {
            "description": "При маскировании: сколько значений каждого вида замаскировано, "
                           'JSON в ASCII, например {"\\u0418\\u041d\\u041d":2}.',
            "schema": {"type": "string"}}


def with_privacy(spec: dict) -> dict:
    """`spec` with the masking fields added (changed in place and returned)."""
    schemas = spec.get("components", {}).get("schemas", {})
    schemas["MaskedCounts"] = MASKED_COUNTS
    for name in REQUESTS:
        if isinstance(schemas.get(name), dict):
            schemas[name].setdefault("properties", {}).update(FLAGS)
    for name in RESPONSES:
        if isinstance(schemas.get(name), dict):
            schemas[name].setdefault("properties", {})["masked"] = {
                "$ref": "#/components/schemas/MaskedCounts"}
    paths = spec.get("paths", {})
    for path, allow in (("/v1/chat/completions", True), ("/v1/embeddings", False)):
        operation = paths.get(path, {}).get("post")
        if isinstance(operation, dict):
            _v1_operation(operation, allow)
    return spec
