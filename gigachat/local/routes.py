"""The local API routes: the tutorial's 1C contract, /health, and an OpenAI-compatible API."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from datetime import datetime

import bottle

from gigachat import __version__
from gigachat.core.bridge import DEMO_NOTE, Bridge
from gigachat.core.errors import BridgeError, GigaChatError, NoCredentials
from gigachat.core.token import TokenState
from gigachat.local import openai_compat
from gigachat.local.guards import error_payload, request_record
from gigachat.local.openapi import openapi_spec
from gigachat.local.render import markdown_to_html

log = logging.getLogger(__name__)

DEFAULT_SYSTEM_PROMPT = "Ты - полезный ассистент. Отвечай кратко и по делу."
JSON_TYPE = "application/json; charset=utf-8"
INTERNAL_ERROR = "Внутренняя ошибка моста. Подробности записаны в журнал моста."

# Local status of a GigaChat failure on the OpenAI-compatible routes.
_OPENAI_STATUS = {"wrong_key": 503, "scope_mismatch": 503, "malformed_key": 503,
                  "oauth_rejected": 503, "unauthorized": 503, "invalid_params": 400,
                  "timeout": 504, "tls": 502, "network": 502, "server_error": 502}


class BadInput(ValueError):
    """The caller sent something we can't use; the message is Russian."""


def parse_json_body(raw: bytes) -> object:
    """Decode a JSON body sent with or without a BOM; BadInput on anything unusable."""
    if not raw.strip():
        raise BadInput("Пустое тело запроса: передайте JSON, например {\"text\": \"...\"}.")
    encoding = "utf-16" if raw.startswith((b"\xff\xfe", b"\xfe\xff")) else "utf-8-sig"
    try:
        text = raw.decode(encoding)
    except UnicodeDecodeError:
        raise BadInput("Тело запроса не в кодировке UTF-8. Передайте текст в UTF-8.") from None
    try:
        return json.loads(text)
    except ValueError as error:
        raise BadInput(f"Некорректный JSON в теле запроса (строка {error.lineno}, "
                       f"позиция {error.colno}). Проверьте формирование JSON.") from None


def _optional(body: dict, name: str, kind: type | tuple, what: str):
    value = body.get(name)
    if value is None:
        return None
    if not isinstance(value, kind) or isinstance(value, bool):
        raise BadInput(f"Поле {name} должно быть {what}.")
    return value


def analyze_request(body: object, default_model: str) -> tuple[dict, str]:
    """Validate an /analyze/text body; return the GigaChat payload and the format."""
    if not isinstance(body, dict):
        raise BadInput("Тело запроса должно быть JSON-объектом с полем text.")
    text = body.get("text")
    if text is None:
        raise BadInput("Нет поля text: передайте текст для анализа.")
    if not isinstance(text, str):
        raise BadInput("Поле text должно быть строкой.")
    if not text.strip():
        raise BadInput("Поле text пустое: передайте текст для анализа.")
    system_prompt = _optional(body, "system_prompt", str, "строкой")
    if "system_prompt" not in body:
        system_prompt = DEFAULT_SYSTEM_PROMPT
    return_format = (_optional(body, "return_format", str, "строкой «text» или «html»") or "text")
    return_format = return_format.strip().lower()
    if return_format not in ("text", "html"):
        raise BadInput("Поле return_format должно быть «text» или «html».")
    model = _optional(body, "model", str, "строкой") or default_model
    payload: dict = {"model": model.strip() or default_model, "messages": []}
    if system_prompt and system_prompt.strip():
        payload["messages"].append({"role": "system", "content": system_prompt})
    payload["messages"].append({"role": "user", "content": text})
    temperature = _optional(body, "temperature", (int, float), "числом больше 0 и не больше 2")
    if temperature is not None:
        if not 0 < temperature <= 2:
            raise BadInput("Поле temperature должно быть числом больше 0 и не больше 2.")
        payload["temperature"] = temperature
    max_tokens = _optional(body, "max_tokens", int, "целым числом больше 0")
    if max_tokens is not None:
        if max_tokens < 1:
            raise BadInput("Поле max_tokens должно быть целым числом больше 0.")
        payload["max_tokens"] = max_tokens
    return payload, return_format


def _iso(timestamp: float | None) -> str | None:
    if not timestamp:
        return None
    return datetime.fromtimestamp(timestamp).astimezone().isoformat(timespec="seconds")


def create_app(bridge: Bridge) -> bottle.Bottle:
    """The bottle app; guards (Host, Origin, key, size) wrap it in guards.Guards."""
    app = bottle.Bottle(catchall=True)
    settings = bridge.settings

    def body_bytes() -> bytes:
        return bottle.request.body.read()

    def json_out(payload: object, status: int = 200) -> str:
        bottle.response.status = status
        bottle.response.content_type = JSON_TYPE
        bottle.response.set_header("Cache-Control", "no-store")
        return json.dumps(payload, ensure_ascii=False)

    def note(model: str | None = None, usage: dict | None = None) -> None:
        """Let the request log see the model and token count (never the text)."""
        record = request_record(bottle.request.environ)
        if model:
            record.model = model
        if usage:
            record.tokens = usage.get("total_tokens", "-")

    # --- the tutorial's 1C contract ------------------------------------------

    @app.post("/analyze/text")
    def analyze_text():
        model = ""
        try:
            payload, return_format = analyze_request(parse_json_body(body_bytes()), settings.model)
            model = payload["model"]
            note(model)
            request_record(bottle.request.environ).text = payload["messages"][-1]["content"]
            answer = bridge.client.chat(payload)
            choice = (answer.get("choices") or [{}])[0]
            content = str((choice.get("message") or {}).get("content") or "")
            usage = answer.get("usage") if isinstance(answer.get("usage"), dict) else None
            model = str(answer.get("model") or model)
            note(model, usage)
        except (BadInput, BridgeError) as error:
            return json_out({"success": False, "result": "", "error": str(error),
                             "model": model, "usage": None})
        except Exception:
            log.exception("unexpected error in /analyze/text")
            return json_out({"success": False, "result": "", "error": INTERNAL_ERROR,
                             "model": model, "usage": None})
        if return_format == "html":
            result = markdown_to_html(content, note=DEMO_NOTE if bridge.demo else None)
        else:
            result = f"[{DEMO_NOTE}]\n{content}" if bridge.demo else content
        usage_out = {key: int((usage or {}).get(key) or 0)
                     for key in ("prompt_tokens", "completion_tokens", "total_tokens")}
        return json_out({"success": True, "result": result, "error": None,
                         "model": model, "usage": usage_out})

    @app.get("/health")
    def health():
        status = bridge.tokens.status
        overall = {TokenState.VALID: "ok", TokenState.REFRESHING: "starting",
                   TokenState.NO_CREDENTIALS: "no_credentials",
                   TokenState.ERROR: "error"}[status.state]
        last = bridge.client.last_error
        error = status.error
        if overall == "ok" and bridge.client.failing:
            overall, error = "degraded", last.message  # token fine, GigaChat calls failing
        return json_out({
            "status": overall,
            "gigachat": overall == "ok",
            "version": __version__,
            "demo": bridge.demo,
            "token_state": status.state.value,
            "token_expires_at": _iso(status.expires_at),
            "error": error,
            "last_error": last.message if last else None,
            "last_error_at": _iso(last.at) if last else None,
            "queue_length": bridge.client.queue_length,
            "in_flight": bridge.client.in_flight,
            "scope": settings.scope,
        })

    @app.get("/openapi.json")
    def openapi():
        return json_out(openapi_spec())

    # --- OpenAI-compatible API ---------------------------------------------------

    def openai_failure(error: Exception) -> str:
        if isinstance(error, BadInput | ValueError):
            return json_out(openai_compat.openai_error(400, str(error)), 400)
        if isinstance(error, GigaChatError):
            status = _OPENAI_STATUS.get(error.code, error.status or 502)
            return json_out(openai_compat.openai_error(status, error.message, code=error.code),
                            status)
        if isinstance(error, BridgeError):
            status = 503 if isinstance(error, NoCredentials) else 500
            return json_out(openai_compat.openai_error(status, error.message, code=error.code),
                            status)
        log.exception("unexpected error in the OpenAI-compatible API", exc_info=error)
        return json_out(openai_compat.openai_error(500, INTERNAL_ERROR), 500)

    @app.post("/v1/chat/completions")
    def chat_completions():
        try:
            body = parse_json_body(body_bytes())
            payload = openai_compat.chat_request_to_gigachat(body, settings.model)
            note(payload.get("model"))
            if payload.get("stream"):
                include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
                return stream_response(payload, include_usage)
            answer = bridge.client.chat(payload)
            note(answer.get("model"), answer.get("usage"))
            return json_out(openai_compat.chat_response_to_openai(answer, payload["model"]))
        except Exception as error:
            return openai_failure(error)

    def stream_response(payload: dict, include_usage: bool) -> Iterator[bytes]:
        chunks = bridge.client.chat_stream(payload)
        first = next(chunks, None)  # the upstream call happens here, so errors get a status

        def all_chunks():
            if first is not None:
                yield first
            yield from chunks

        def events() -> Iterator[bytes]:
            try:
                yield from openai_compat.stream_to_openai(all_chunks(), payload["model"],
                                                          include_usage=include_usage)
            except BridgeError as error:
                yield openai_compat.sse_event(openai_compat.openai_error(502, error.message))
                yield openai_compat.SSE_DONE
            finally:
                chunks.close()

        bottle.response.content_type = "text/event-stream; charset=utf-8"
        bottle.response.set_header("Cache-Control", "no-store")
        return events()

    @app.get("/v1/models")
    def models():
        try:
            return json_out(openai_compat.models_to_openai(bridge.client.models()))
        except Exception as error:
            return openai_failure(error)

    @app.post("/v1/embeddings")
    def embeddings():
        try:
            body = parse_json_body(body_bytes())
            model, texts = openai_compat.embeddings_request_to_gigachat(body)
            answer = bridge.client.embeddings(texts, model)
            return json_out(openai_compat.embeddings_response_to_openai(
                answer, model, encoding_format=body.get("encoding_format")))
        except Exception as error:
            return openai_failure(error)

    # --- errors as JSON, never a traceback -----------------------------------

    def error_handler(error: bottle.HTTPError) -> str:
        path = bottle.request.path
        status = error.status_code
        if status == 404:
            message = f"Нет такого адреса: {path}. Адрес для 1С: POST /analyze/text."
        elif status == 405:
            message = f"Метод {bottle.request.method} не подходит для {path}."
        else:
            if error.exception is not None:
                log.error("unhandled error on %s: %r", path, error.exception)
            status, message = 500, INTERNAL_ERROR
        bottle.response.set_header("Cache-Control", "no-store")
        return json_out(error_payload(path, status, message, f"http_{status}"), status)

    for code in (400, 404, 405, 500):
        app.error(code)(error_handler)
    return app
