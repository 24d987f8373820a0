"""The local API: the tutorial's 1C contract, /health, /openapi.json; /v1/* is mounted.

One after_request hook sets Cache-Control: no-store on every answer; one error handler
answers unknown addresses and wrong methods as JSON in the caller's shape.
"""

from __future__ import annotations

import logging
from datetime import datetime

import bottle

from gigachat import __version__
from gigachat.core.bridge import Bridge
from gigachat.core.errors import BridgeError, InvalidRequest
from gigachat.core.logs import clean_detail
from gigachat.core.token import TokenState
from gigachat.local.analyze import failure_body, success_body
from gigachat.local.answers import INTERNAL_ERROR, json_out, note, read_body
from gigachat.local.attachments import (
    chat_with_files,
    files_model,
    keeper_for,
    read_files,
    request_deadline,
)
from gigachat.local.extract.answer import (
    choose_model,
    client_chat,
    extract_request,
    failure_answer,
    outcome_answer,
    run_extract,
)
from gigachat.local.guards import error_payload, request_record
from gigachat.local.json_body import parse_json_body
from gigachat.local.openai_routes import create_openai_app
from gigachat.local.openapi import openapi_spec
from gigachat.local.privacy import privacy_for_body
from gigachat.local.validation import MAX_TOKENS, integer, number, optional

log = logging.getLogger(__name__)

DEFAULT_SYSTEM_PROMPT = "Ты - полезный ассистент. Отвечай кратко и по делу."
FILES_ONLY_TEXT = "Проанализируй приложенные файлы."  # /analyze/text with files and no text
HEALTH_TEXT_LIMIT = 500  # characters of an error message /health shows


def analyze_request(body: object) -> tuple[dict, str]:
    """Validate an /analyze/text body; the GigaChat payload ("model" None if not named) and
    the format."""
    if not isinstance(body, dict):
        raise InvalidRequest("Тело запроса должно быть JSON-объектом с полем text.")
    text = body.get("text")
    with_files = bool(body.get("files"))  # read_files checks them; text may then be left out
    if text is None and not with_files:
        raise InvalidRequest("Нет поля text: передайте текст для анализа.", field="text")
    text = optional(body, "text", str) or ""
    if not text.strip():
        if not with_files:
            raise InvalidRequest("Поле text пустое: передайте текст для анализа.", field="text")
        text = FILES_ONLY_TEXT
    system_prompt = optional(body, "system_prompt", str)
    if "system_prompt" not in body:
        system_prompt = DEFAULT_SYSTEM_PROMPT
    return_format = optional(body, "return_format", str, what="строкой «text» или «html»")
    return_format = (return_format or "text").strip().lower()
    if return_format not in ("text", "html"):
        raise InvalidRequest("Поле return_format должно быть «text» или «html».",
                             field="return_format")
    model = (optional(body, "model", str) or "").strip()
    payload: dict = {"model": model or None, "messages": []}
    if system_prompt and system_prompt.strip():
        payload["messages"].append({"role": "system", "content": system_prompt})
    payload["messages"].append({"role": "user", "content": text})
    temperature = number(body, "temperature", 0.0, 2.0, low_open=True)
    if temperature is not None:
        payload["temperature"] = temperature
    max_tokens = integer(body, "max_tokens", 1, MAX_TOKENS)
    if max_tokens is not None:
        payload["max_tokens"] = max_tokens
    return payload, return_format


def _iso(timestamp: float | None) -> str | None:
    if not timestamp:
        return None
    return datetime.fromtimestamp(timestamp).astimezone().isoformat(timespec="seconds")


def _shown(text: str | None) -> str | None:
    """An error message as /health may show it: redacted, one line, capped."""
    return clean_detail(text, HEALTH_TEXT_LIMIT) if text else text


def _failed(error: str, model: str, code: str) -> bytes:
    """The tutorial's failure answer: HTTP 200, success false (1C reads it either way)."""
    note(error=code)
    return json_out(failure_body(error, model))


def create_app(bridge: Bridge) -> bottle.Bottle:
    """The bottle app; guards (Host, Origin, key, size) wrap it in guards.Guards."""
    app = bottle.Bottle(catchall=True)
    settings = bridge.settings

    @app.hook("after_request")
    def no_store() -> None:
        bottle.response.set_header("Cache-Control", "no-store")

    # --- the tutorial's 1C contract ------------------------------------------

    @app.post("/analyze/text")
    def analyze_text():
        model = ""
        try:
            body, privacy = privacy_for_body(parse_json_body(read_body()), settings,
                                             bottle.request.environ)
            payload, return_format = analyze_request(body)
            files = read_files(body)  # checked before anything is uploaded
            requested = payload["model"]
            model = payload["model"] = files_model(bridge, requested) if files \
                else requested or bridge.client.pick_model(None)
            note(model)
            note_text(payload["messages"][-1]["content"])
            deadline = request_deadline(bridge)
            answer = chat_with_files(keeper_for(bridge), payload, files,
                                     client_chat(privacy.client(bridge.client), deadline),
                                     deadline)
            body = privacy.answer(success_body(answer, model, return_format, bridge.demo))
            note(body["model"], answer.get("usage"))
        except BridgeError as error:  # InvalidRequest and GigaChat's errors: user-fixable
            return _failed(error.message, model or "", error.code)
        except Exception:
            log.exception("unexpected error in /analyze/text")
            return _failed(INTERNAL_ERROR, model or "", "internal")
        return json_out(body)

    def note_text(text: str) -> None:
        request_record(bottle.request.environ).text = text

    @app.post("/analyze/extract")
    def analyze_extract():
        model = ""
        try:
            body, privacy = privacy_for_body(parse_json_body(read_body()), settings,
                                             bottle.request.environ)
            request = extract_request(body)  # before any call
            model = choose_model(bridge, request)
            note(model)
            note_text(request.text)
            deadline = request_deadline(bridge)
            client = privacy.client(bridge.client)
            outcome = run_extract(bridge, request, model,
                                  lambda session: client_chat(client, deadline, session),
                                  deadline, parallel=settings.effective_concurrency)
            note(outcome.model, outcome.usage, None if outcome.data is not None else "bad_json")
            return json_out(privacy.answer(outcome_answer(outcome)))
        except BridgeError as error:
            note(error=error.code)
            return json_out(failure_answer(error.message, model))
        except Exception:
            log.exception("unexpected error in /analyze/extract")
            note(error="internal")
            return json_out(failure_answer(INTERNAL_ERROR, model))

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
            "error": _shown(error),
            "last_error": _shown(last.message) if last else None,
            "last_error_at": _iso(last.at) if last else None,
            "queue_length": bridge.client.queue_length,
            "in_flight": bridge.client.in_flight,
            "scope": settings.scope,
        })

    @app.get("/openapi.json")
    def openapi():
        return json_out(openapi_spec())

    app.mount("/v1/", create_openai_app(bridge))
    sweeper = keeper_for(bridge)
    sweeper.start_sweep()  # files a crash left in GigaChat's storage, in its own thread
    stopped_before = bridge.on_stop
    bridge.on_stop = lambda: (sweeper.stop(), stopped_before and stopped_before())
    try:  # here, not at the top: the jobs registry imports this module
        from gigachat.local.extract.job import register_jobs
    except ImportError as error:  # e.g. a build without sqlite3: the routes work without jobs
        log.warning("job routes for files and extraction not registered: %s", error)
    else:
        register_jobs()

    # --- unknown addresses and wrong methods as JSON, never a traceback ---------

    def error_handler(error: bottle.HTTPError) -> bytes:
        path = bottle.request.path
        shown = path if len(path) <= 200 else path[:200] + "…"
        status = error.status_code
        if status == 404:
            message = f"Нет такого адреса: {shown}. Адрес для 1С: POST /analyze/text."
        elif status == 405:
            message = f"Метод {bottle.request.method[:20]} не подходит для {shown}."
        else:
            if error.exception is not None:
                log.error("unhandled error on %s: %r", shown, error.exception)
            status, message = 500, INTERNAL_ERROR
        note(error=f"http_{status}")
        return json_out(error_payload(path, status, message, f"http_{status}"), status)

    for code in (400, 404, 405, 500):
        app.error(code)(error_handler)
    return app
