"""The /jobs part of the OpenAPI description: JOB_PATHS and JOB_SCHEMAS (merged by local.openapi)."""

from __future__ import annotations

from gigachat.local.jobs.routes import LIST_MAX, MAX_ITEMS, MAX_KEY_LENGTH, RESULTS_MAX

_JSON = "application/json"
STATES = ["queued", "running", "paused", "done", "failed", "cancelled"]


def _ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(name: str, description: str) -> dict:
    return {"description": description, "content": {_JSON: {"schema": _ref(name)}}}


def _nullable(kind: str, **extra) -> dict:
    return {"type": [kind, "null"], **extra}


_PROGRESS = {"type": "object", "required": ["done", "failed", "total"],
             "properties": {k: {"type": "integer", "minimum": 0}
                            for k in ("done", "failed", "total")}}
_STATE = {"type": "string", "enum": STATES}
_TIME = _nullable("string", description="Местное время ГГГГ-ММ-ДДTЧЧ:ММ:СС")

JOB_SCHEMAS = {
    "JobRequest": {
        "type": "object",
        "required": ["route"],
        "properties": {
            "route": {"type": "string", "description": "analyze/text или analyze/extract"},
            "request": {"type": "object", "description": "Тело запроса маршрута (одно задание)"},
            "items": {"type": "array", "minItems": 1, "maxItems": MAX_ITEMS,
                      "items": {"type": "object"}, "description": "Пакет запросов маршрута"},
            "idempotency_key": {"type": "string", "minLength": 1, "maxLength": MAX_KEY_LENGTH,
                                "description": "Повтор с тем же ключом за 24 часа вернёт то "
                                               "же задание (или заголовок Idempotency-Key)"},
        },
        "example": {"route": "analyze/text",
                    "request": {"text": "Договор поставки №127", "return_format": "html"}},
    },
    "JobAccepted": {
        "type": "object", "required": ["success", "id", "state", "error"],
        "properties": {"success": {"type": "boolean"}, "id": {"type": "string"},
                       "state": _STATE, "error": {"type": "null"}},
    },
    "JobRefused": {
        "type": "object", "required": ["success", "error"],
        "properties": {
            "success": {"type": "boolean"}, "id": _nullable("string"),
            "state": {"type": ["string", "null"]}, "error": {"type": "string"},
            "field": {"type": "string"},
            "errors": {"type": "array", "items": {
                "type": "object", "required": ["index", "field", "error"],
                "properties": {"index": {"type": "integer"}, "field": {"type": "string"},
                               "error": {"type": "string"}}}},
        },
    },
    "Job": {
        "type": "object",
        "required": ["success", "id", "route", "batch", "state", "position", "progress",
                     "partial", "result", "error", "created", "updated", "finished"],
        "properties": {
            "success": {"type": "boolean"}, "id": {"type": "string"},
            "route": {"type": "string"}, "batch": {"type": "boolean"}, "state": _STATE,
            "position": _nullable("integer", minimum=1,
                                  description="Место в очереди (1 — следующее), иначе null"),
            "progress": _PROGRESS,
            "partial": {"type": "string", "description": "Текст ответа, полученный к этому "
                                                         "моменту (одиночное задание)"},
            "result": _nullable("object", description="Ровно ответ синхронного маршрута"),
            "error": _nullable("string"), "created": _TIME, "updated": _TIME, "finished": _TIME,
        },
    },
    "JobResults": {
        "type": "object",
        "required": ["success", "id", "state", "progress", "total", "offset", "limit", "items",
                     "error"],
        "properties": {
            "success": {"type": "boolean"}, "id": {"type": "string"}, "state": _STATE,
            "progress": _PROGRESS, "total": {"type": "integer"}, "offset": {"type": "integer"},
            "limit": {"type": "integer"}, "error": {"type": "null"},
            "items": {"type": "array", "items": {
                "type": "object", "required": ["index", "state", "result"],
                "properties": {"index": {"type": "integer"}, "state": {"type": "string"},
                               "result": _nullable("object")}}},
        },
    },
    "JobList": {
        "type": "object", "required": ["success", "jobs", "error"],
        "properties": {
            "success": {"type": "boolean"}, "error": {"type": "null"},
            "jobs": {"type": "array", "items": {
                "type": "object",
                "required": ["id", "route", "batch", "state", "progress", "created"],
                "properties": {"id": {"type": "string"}, "route": {"type": "string"},
                               "batch": {"type": "boolean"}, "state": _STATE,
                               "progress": _PROGRESS, "created": _TIME}}},
        },
    },
    "JobChange": {
        "type": "object", "required": ["success", "id", "state", "error"],
        "properties": {"success": {"type": "boolean"}, "id": {"type": "string"},
                       "state": _STATE, "error": _nullable("string")},
    },
}

_GUARDS = {"403": _json("JobRefused", "Чужой Host, Origin браузера или нет локального API-ключа"),
           "413": _json("JobRefused", "Тело запроса больше допустимого размера"),
           "503": _json("JobRefused", "База заданий недоступна")}
_ID = {"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}
_MISSING = _json("JobRefused", "Нет такого задания")


def _query(name: str, low: int, high: int) -> dict:
    return {"name": name, "in": "query", "required": False,
            "schema": {"type": "integer", "minimum": low, "maximum": high}}


JOB_PATHS = {
    "/jobs": {
        "post": {
            "summary": "Начать задание: один запрос или пакет до 10 000",
            "operationId": "createJob",
            "parameters": [{"name": "Idempotency-Key", "in": "header", "required": False,
                            "schema": {"type": "string", "maxLength": MAX_KEY_LENGTH}}],
            "requestBody": {"required": True,
                            "content": {_JSON: {"schema": _ref("JobRequest")}}},
            "responses": {"202": _json("JobAccepted", "Задание принято (или найдено по ключу)"),
                          "400": _json("JobRefused", "Ошибка в запросе, по элементам пакета"),
                          "409": _json("JobRefused", "Ключ уже использован для другого задания"),
                          **_GUARDS},
        },
        "get": {
            "summary": "Недавние задания, новые первыми",
            "operationId": "listJobs",
            "parameters": [_query("limit", 1, LIST_MAX)],
            "responses": {"200": _json("JobList", "Задания"),
                          "400": _json("JobRefused", "Неверный limit"), **_GUARDS},
        },
    },
    "/jobs/{id}": {
        "get": {
            "summary": "Состояние, ход, текст к этому моменту, результат",
            "operationId": "getJob", "parameters": [_ID],
            "responses": {"200": _json("Job", "Задание"), "404": _MISSING, **_GUARDS},
        },
        "delete": {
            "summary": "Отменить задание (поток к ГигаЧат закрывается)",
            "operationId": "cancelJob", "parameters": [_ID],
            "responses": {"200": _json("JobChange", "Отменено"), "404": _MISSING,
                          "409": _json("JobChange", "Уже завершено"), **_GUARDS},
        },
    },
    "/jobs/{id}/results": {
        "get": {
            "summary": "Результаты элементов пакета по порядку",
            "operationId": "getJobResults",
            "parameters": [_ID, _query("offset", 0, MAX_ITEMS), _query("limit", 1, RESULTS_MAX)],
            "responses": {"200": _json("JobResults", "Страница результатов"),
                          "400": _json("JobRefused", "Неверный offset или limit"),
                          "404": _MISSING, **_GUARDS},
        },
    },
    "/jobs/{id}/resume": {
        "post": {
            "summary": "Продолжить приостановленное задание",
            "operationId": "resumeJob", "parameters": [_ID],
            "responses": {"200": _json("Job", "Задание"), "404": _MISSING,
                          "409": _json("JobChange", "Уже завершено или отменено"), **_GUARDS},
        },
    },
}
