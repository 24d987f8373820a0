"""The OpenAPI 3 description of the local API (served at /openapi.json)."""

from __future__ import annotations

from functools import cache

from gigachat import __version__
from gigachat.local.files_openapi import with_files
from gigachat.local.openai_request import MAX_REPETITION_PENALTY
from gigachat.local.privacy_openapi import with_privacy
from gigachat.local.validation import MAX_TOKENS

_JSON = "application/json"


def _ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict, description: str) -> dict:
    return {"description": description, "content": {_JSON: {"schema": schema}}}


def _guard_responses(error_schema: str) -> dict:
    """Statuses the guards can answer on any route."""
    return {
        "403": _json(_ref(error_schema), "Чужой Host, Origin браузера или нет локального API-ключа"),
        "413": _json(_ref(error_schema), "Тело запроса больше допустимого размера"),
    }


def _openai_errors() -> dict:
    errors = {str(code): _json(_ref("OpenAIError"), text) for code, text in (
        (400, "Некорректный запрос"), (402, "Закончился пакет токенов ГигаЧат"),
        (404, "Нет такой модели"), (429, "Слишком много запросов"),
        (500, "Внутренняя ошибка моста"), (502, "Ошибка связи с ГигаЧат"),
        (503, "Нет ключа авторизации или он неверный"), (504, "ГигаЧат не ответил вовремя"))}
    return {**errors, **_guard_responses("OpenAIError")}


_SCHEMAS = {
    "AnalyzeRequest": {
        "type": "object",
        "required": ["text"],
        "properties": {
            "text": {"type": "string", "minLength": 1, "description": "Текст для анализа"},
            "system_prompt": {"type": ["string", "null"], "description": "Системный промпт"},
            "return_format": {"type": ["string", "null"], "enum": ["text", "html", None],
                              "description": "text — как есть, html — готовый HTML-документ"},
            "model": {"type": ["string", "null"],
                      "description": "Модель ГигаЧат; без неё — настроенная модель или, если "
                                     "её нет в /models, доступная модель для чата"},
            "temperature": {"type": ["number", "null"], "exclusiveMinimum": 0, "maximum": 2},
            "max_tokens": {"type": ["integer", "null"], "minimum": 1, "maximum": MAX_TOKENS},
        },
        "example": {"text": "Договор поставки №127 на сумму 2 450 000 руб.",
                    "system_prompt": "Извлеки стороны и сумму", "return_format": "html"},
    },
    "Usage": {
        "type": "object",
        "required": ["prompt_tokens", "completion_tokens", "total_tokens"],
        "properties": {k: {"type": "integer"} for k in
                       ("prompt_tokens", "completion_tokens", "total_tokens")},
    },
    "AnalyzeResponse": {
        "type": "object",
        "required": ["success", "result", "error", "model", "usage"],
        "properties": {
            "success": {"type": "boolean"},
            "result": {"type": "string", "description": "Ответ (текст или HTML); пусто при ошибке"},
            "error": {"type": ["string", "null"], "description": "Русский текст ошибки"},
            "model": {"type": "string"},
            "usage": {"oneOf": [_ref("Usage"), {"type": "null"}]},
        },
    },
    "Health": {
        "type": "object",
        "required": ["status", "gigachat", "version", "demo", "token_state", "token_expires_at",
                     "error", "last_error", "queue_length", "in_flight"],
        "properties": {
            "status": {"type": "string", "enum": ["ok", "degraded", "starting", "no_credentials",
                                                "error"]},
            "gigachat": {"type": "boolean"},
            "version": {"type": "string"},
            "demo": {"type": "boolean"},
            "token_state": {"type": "string",
                            "enum": ["valid", "refreshing", "no_credentials", "error"]},
            "token_expires_at": {"type": ["string", "null"], "format": "date-time"},
            "error": {"type": ["string", "null"]},
            "last_error": {"type": ["string", "null"]},
            "last_error_at": {"type": ["string", "null"], "format": "date-time"},
            "queue_length": {"type": "integer", "minimum": 0},
            "in_flight": {"type": "integer", "minimum": 0},
            "scope": {"type": "string"},
        },
    },
    "OpenAIError": {
        "type": "object",
        "required": ["error"],
        "properties": {"error": {
            "type": "object",
            "required": ["message", "type"],
            "properties": {"message": {"type": "string"}, "type": {"type": "string"},
                           "param": {"type": ["string", "null"],
                                     "description": "Поле запроса с ошибкой, например "
                                                    "messages[0].content"},
                           "code": {"type": ["string", "null"]}},
        }},
    },
    "ChatRequest": {
        "type": "object",
        "required": ["messages"],
        "properties": {
            "model": {"type": "string"},
            "messages": {"type": "array", "minItems": 1, "items": {
                "type": "object", "required": ["role"],
                "properties": {"role": {"type": "string",
                                        "enum": ["system", "developer", "user", "assistant",
                                                 "tool", "function"]},
                               "content": {"type": ["string", "array", "null"]}}}},
            "temperature": {"type": "number", "minimum": 0, "maximum": 2},
            "top_p": {"type": "number", "minimum": 0, "maximum": 1},
            "repetition_penalty": {"type": "number", "minimum": 0,
                                   "maximum": MAX_REPETITION_PENALTY},
            "max_tokens": {"type": "integer", "minimum": 1, "maximum": MAX_TOKENS},
            "max_completion_tokens": {"type": "integer", "minimum": 1, "maximum": MAX_TOKENS},
            "n": {"type": "integer", "enum": [1]},
            "stream": {"type": "boolean"},
            "stream_options": {"type": "object",
                               "properties": {"include_usage": {"type": "boolean"}}},
            "tools": {"type": "array", "items": {"type": "object"}},
            "response_format": {"type": "object", "required": ["type"], "properties": {
                "type": {"type": "string", "enum": ["text", "json_object", "json_schema"]},
                "json_schema": {"type": "object", "properties": {
                    "schema": {"type": "object"}, "strict": {"type": "boolean"}}}}},
        },
        "description": "Без model мост берёт настроенную модель, а если её нет в /models — "
                       "доступную модель для чата; использованная модель — в поле model ответа. "
                       "NaN, Infinity и числа вне диапазона — ошибка 400.",
        "example": {"model": "GigaChat", "messages": [{"role": "user", "content": "Привет"}]},
    },
    "ChatCompletion": {
        "type": "object",
        "required": ["id", "object", "created", "model", "choices"],
        "properties": {
            "id": {"type": "string"},
            "object": {"type": "string", "enum": ["chat.completion"]},
            "created": {"type": "integer"},
            "model": {"type": "string"},
            "choices": {"type": "array", "items": {"type": "object"}},
            "usage": {"type": ["object", "null"]},
        },
    },
    "ModelList": {
        "type": "object",
        "required": ["object", "data"],
        "properties": {"object": {"type": "string", "enum": ["list"]},
                       "data": {"type": "array", "items": {
                           "type": "object", "required": ["id", "object"],
                           "properties": {"id": {"type": "string"},
                                          "object": {"type": "string"},
                                          "type": {"type": "string", "description":
                                                   "Тип модели ГигаЧат: chat, embedder, "
                                                   "aicheck, filter. Для чата — только chat"}}}}},
    },
    "EmbeddingsRequest": {
        "type": "object",
        "required": ["input"],
        "properties": {"model": {"type": "string"},
                       "input": {"oneOf": [{"type": "string"},
                                           {"type": "array", "items": {"type": "string"}}]},
                       "encoding_format": {"type": "string", "enum": ["float", "base64"]}},
        "example": {"model": "Embeddings", "input": ["Договор поставки"]},
    },
    "EmbeddingsResponse": {
        "type": "object",
        "required": ["object", "data", "model"],
        "properties": {"object": {"type": "string"}, "model": {"type": "string"},
                       "data": {"type": "array", "items": {"type": "object"}},
                       "usage": {"type": "object"}},
    },
}


@cache
def openapi_spec() -> dict:
    """The OpenAPI 3.1 document."""
    from gigachat.local.jobs.openapi import JOB_PATHS, JOB_SCHEMAS  # jobs imports routes: late

    analyze_errors = {k: v for k, v in _guard_responses("AnalyzeResponse").items()}
    return with_privacy(with_files({
        "openapi": "3.1.0",
        "info": {
            "title": "Мост ГигаЧат для 1С — локальный API",
            "version": __version__,
            "description": "Локальный HTTP API моста. Ошибки, которые может исправить "
                           "пользователь, /analyze/text возвращает с кодом 200 и success=false.",
        },
        "servers": [{"url": "http://127.0.0.1:8000"}],
        "components": {
            "schemas": {**_SCHEMAS, **JOB_SCHEMAS},
            "securitySchemes": {
                "LocalKey": {"type": "apiKey", "in": "header", "name": "X-API-Key"},
                "Bearer": {"type": "http", "scheme": "bearer"},
            },
        },
        "paths": {
            **JOB_PATHS,
            "/analyze/text": {"post": {
                "summary": "Анализ текста (контракт формы 1С из урока)",
                "operationId": "analyzeText",
                "requestBody": {"required": True,
                                "content": {_JSON: {"schema": _ref("AnalyzeRequest")}}},
                "responses": {
                    "200": _json(_ref("AnalyzeResponse"),
                                 "Ответ; при ошибке success=false и текст ошибки в error"),
                    **analyze_errors,
                },
            }},
            "/health": {"get": {
                "summary": "Состояние моста и токена",
                "operationId": "health",
                "responses": {"200": _json(_ref("Health"), "Состояние"),
                              "403": _json(_ref("AnalyzeResponse"), "Чужой Host или Origin")},
            }},
            "/openapi.json": {"get": {
                "summary": "Это описание",
                "operationId": "openapi",
                "responses": {"200": _json({"type": "object"}, "OpenAPI 3"),
                              "403": _json(_ref("AnalyzeResponse"), "Чужой Host или Origin")},
            }},
            "/v1/chat/completions": {"post": {
                "summary": "OpenAI-совместимый чат (stream=true — SSE)",
                "operationId": "chatCompletions",
                "requestBody": {"required": True,
                                "content": {_JSON: {"schema": _ref("ChatRequest")}}},
                "responses": {
                    "200": {"description": "Ответ или поток SSE",
                            "content": {_JSON: {"schema": _ref("ChatCompletion")},
                                        "text/event-stream": {"schema": {
                                "type": "object", "description": "Событие SSE: data — JSON "
                                "chat.completion.chunk или [DONE]",
                                "properties": {"data": {"type": "string"},
                                               "event": {"type": "string"}}}}}},
                    **_openai_errors(),
                },
            }},
            "/v1/models": {"get": {
                "summary": "Список моделей",
                "operationId": "listModels",
                "responses": {"200": _json(_ref("ModelList"), "Модели"), **_openai_errors()},
            }},
            "/v1/embeddings": {"post": {
                "summary": "Эмбеддинги",
                "operationId": "embeddings",
                "requestBody": {"required": True,
                                "content": {_JSON: {"schema": _ref("EmbeddingsRequest")}}},
                "responses": {"200": _json(_ref("EmbeddingsResponse"), "Векторы"),
                              **_openai_errors()},
            }},
        },
    }))
