"""The OpenAI-compatible API (/v1/*): its own bottle app, mounted by routes.create_app.

Routes raise; one plugin (OpenAIErrors) turns every failure into OpenAI-shaped error JSON
with the right status and records the failure code for the request log.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator

import bottle

from gigachat.core.bridge import Bridge
from gigachat.core.errors import BridgeError, GigaChatError, InvalidRequest, NoCredentials
from gigachat.local import openai_compat
from gigachat.local.answers import INTERNAL_ERROR, json_out, note, read_body
from gigachat.local.attachments import (
    FILES_KEY,
    Uploads,
    files_model,
    keeper_for,
    upload_message_files,
)
from gigachat.local.json_body import parse_json_body
from gigachat.local.openai_request import (
    chat_request_to_gigachat,
    embeddings_request_to_gigachat,
    include_usage,
)
from gigachat.local.privacy import Privacy, privacy_for_openai

log = logging.getLogger(__name__)

# Local status of a GigaChat failure (a bad key is the bridge's setup, not the caller's).
_STATUS = {"wrong_key": 503, "scope_mismatch": 503, "malformed_key": 503,
           "oauth_rejected": 503, "unauthorized": 503, "invalid_params": 400,
           "timeout": 504, "tls": 502, "network": 502, "server_error": 502}


def failure(error: Exception) -> bytes:
    """Any exception from a /v1 route -> the OpenAI error answer (unexpected ones logged)."""
    param = None
    if isinstance(error, InvalidRequest):
        status, param = 400, error.field
    elif isinstance(error, GigaChatError):
        status = _STATUS.get(error.code, error.status or 502)
    elif isinstance(error, BridgeError):
        status = 503 if isinstance(error, NoCredentials) else 500
    else:
        log.error("unexpected error in %s", bottle.request.path, exc_info=error)
        note(error="internal")
        return json_out(openai_compat.openai_error(500, INTERNAL_ERROR, code="internal"), 500)
    note(error=error.code)
    return json_out(openai_compat.openai_error(status, error.message, code=error.code,
                                               param=param), status)


class OpenAIErrors:
    """The one error translation of the OpenAI-compatible API (a bottle plugin)."""

    name = "openai_errors"
    api = 2

    def apply(self, callback: Callable, route: bottle.Route) -> Callable:
        def wrapper(*args, **kwargs):
            try:
                return callback(*args, **kwargs)
            except bottle.HTTPResponse:
                raise
            except Exception as error:  # noqa: BLE001 - translated (and logged if unexpected)
                return failure(error)

        return wrapper


def create_openai_app(bridge: Bridge) -> bottle.Bottle:
    """/chat/completions, /models, /embeddings; routes.create_app mounts it at /v1/."""
    app = bottle.Bottle(catchall=True)
    app.install(OpenAIErrors())

    @app.post("/chat/completions")
    def chat_completions():
        body, privacy = privacy_for_openai(bottle.request.headers, parse_json_body(read_body()),
                                           bridge.settings, bottle.request.environ)
        payload = chat_request_to_gigachat(body)
        with_files = any(message.get(FILES_KEY) for message in payload["messages"])
        if not payload["model"]:
            payload["model"] = files_model(bridge, None) if with_files \
                else bridge.client.pick_model(None)
        note(payload["model"])
        uploads, handed_over = Uploads(keeper_for(bridge)), False
        try:
            payload = upload_message_files(payload, uploads)  # deleted after the answer
            if payload.get("stream"):
                events = stream_response(payload, include_usage(body), privacy, uploads.close)
                handed_over = True
                return events
            answer = privacy.client(bridge.client).chat(payload)
        finally:
            if not handed_over:
                uploads.close()
        note(answer.get("model"), answer.get("usage"))
        privacy.set_counts_header(bottle.response)
        return json_out(privacy.answer(openai_compat.chat_response_to_openai(answer,
                                                                             payload["model"])))

    def stream_response(payload: dict, with_usage: bool, privacy: Privacy,
                        on_end: Callable[[], None]) -> Iterator[bytes]:
        chunks = privacy.client(bridge.client).chat_stream(payload)
        privacy.set_counts_header(bottle.response)
        first = next(chunks, None)  # the upstream call happens here, so errors get a status

        def all_chunks():
            if first is not None:
                yield first
            yield from chunks

        def events() -> Iterator[bytes]:
            try:
                yield from openai_compat.stream_to_openai(all_chunks(), payload["model"],
                                                          include_usage=with_usage)
            except Exception as error:  # noqa: BLE001 - the status line is already sent
                if isinstance(error, BridgeError):
                    message, code = error.message, error.code
                else:
                    log.error("unexpected error in a stream", exc_info=error)
                    message, code = INTERNAL_ERROR, "internal"
                yield openai_compat.sse_event(openai_compat.openai_error(502, message, code=code))
                yield openai_compat.SSE_DONE
            finally:
                chunks.close()
                on_end()

        bottle.response.content_type = "text/event-stream; charset=utf-8"
        return events()

    @app.get("/models")
    def models():
        return json_out(openai_compat.models_to_openai(bridge.client.models()))

    @app.post("/embeddings")
    def embeddings():
        body, privacy = privacy_for_openai(bottle.request.headers, parse_json_body(read_body()),
                                           bridge.settings, bottle.request.environ)
        model, texts = embeddings_request_to_gigachat(body)
        note(model)
        answer = privacy.client(bridge.client).embeddings(texts, model)
        privacy.set_counts_header(bottle.response)
        return json_out(openai_compat.embeddings_response_to_openai(
            answer, model, encoding_format=body.get("encoding_format")))

    return app
