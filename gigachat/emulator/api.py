"""The API routes (``/api/v1/...``): chat, models, embeddings, tokens, balance, files."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable
from typing import Any

from gigachat.emulator import chat, models
from gigachat.emulator.answers import last_user_text, user_texts
from gigachat.emulator.faults import ANY_CHAT_KINDS, SCHEMA_KINDS, STREAM_KINDS, FaultQueue
from gigachat.emulator.files import FileStore, file_text
from gigachat.emulator.oauth import PERS, Token, TokenIssuer
from gigachat.emulator.protocol import API_PREFIX, ClientGone, HttpError, Reply, Request, Route
from gigachat.emulator.state import InFlight, Records, Sessions, Stats
from gigachat.emulator.structured import response_schema

CLIENT_POLL = 0.05  # how often a latency wait looks whether the client is still there
_FILE_ROUTE = re.compile(r"^" + re.escape(API_PREFIX) + r"/files/([^/]+)(/content|/delete)?$")


def api_route_name(path: str) -> str | None:
    """The table name of a parameterised API path (``/models/{id}``, ``/files/{id}...``)."""
    if path.startswith(API_PREFIX + "/models/"):
        return API_PREFIX + "/models/{id}"
    match = _FILE_ROUTE.match(path)
    return API_PREFIX + "/files/{id}" + (match.group(2) or "") if match else None


def _file_id(request: Request) -> str:
    match = _FILE_ROUTE.match(request.path)
    return match.group(1) if match else ""


class Api:
    """The API handlers over the emulator's state; ``routes()`` gives the route table."""

    def __init__(
        self,
        setting: Callable[[str], Any],
        latency_changed: threading.Condition,
        stopping: threading.Event,
        issuer: TokenIssuer,
        stats: Stats,
        faults: FaultQueue,
    ) -> None:
        self._setting = setting
        self._latency_changed = latency_changed
        self._stopping = stopping
        self._issuer = issuer
        self._stats = stats
        self._faults = faults
        self.in_flight = InFlight()
        self.store = FileStore()
        self.records = Records()
        self.sessions = Sessions()

    def routes(self) -> dict[str, Route]:
        """Full path → Route for every API route."""
        api, store = self._api_call, self.store
        table: list[tuple[str, dict[str, Callable[[Request], Reply]]]] = [
            ("/chat/completions", {"POST": api(self._chat)}),
            ("/models", {"GET": api(lambda r, t: models.models_reply(self._setting("catalogue")))}),
            ("/models/{id}", {"GET": api(self._model)}),
            ("/embeddings", {"POST": api(self._embeddings)}),
            ("/tokens/count", {"POST": api(self._tokens_count)}),
            (
                "/balance",
                {"GET": api(lambda r, t: models.balance_reply(self._setting("catalogue"), t.scope))},
            ),
            (
                "/files",
                {
                    "POST": api(lambda r, t: store.upload(r, t.key)),
                    "GET": api(lambda r, t: store.listing(t.key)),
                },
            ),
            ("/files/{id}", {"GET": api(lambda r, t: Reply(200, store.get(_file_id(r), t.key).entry()))}),
            ("/files/{id}/content", {"GET": api(self._file_content)}),
            ("/files/{id}/delete", {"POST": api(lambda r, t: store.delete(_file_id(r), t.key))}),
        ]
        return {API_PREFIX + path: Route(API_PREFIX + path, "api", handlers) for path, handlers in table}

    def _api_call(self, handler: Callable[[Request, Token], Reply]) -> Callable[[Request], Reply]:
        """Wrap an API handler: bearer check, in-flight slot (PERS: one per key)."""

        def call(request: Request) -> Reply:
            token = self._issuer.authorize(request)
            owner = (token.key, token.scope)
            if not self.in_flight.enter(owner, exclusive=token.scope == PERS):
                self._stats.incr("rejected_concurrency")
                raise HttpError.api(429)
            try:
                reply = handler(request, token)
            except BaseException:
                self.in_flight.leave(owner)
                raise
            reply.release = lambda: self.in_flight.leave(owner)
            return reply

        return call

    def _sleep_latency(self, request: Request, counter: str) -> None:
        """Wait ``latency`` seconds; a lower new value or stop() ends the wait early.

        A client that hangs up meanwhile is counted (``counter``) and its call dropped.
        """
        started = time.monotonic()
        with self._latency_changed:
            while not self._stopping.is_set():
                remaining = self._setting("latency") - (time.monotonic() - started)
                if remaining <= 0:
                    return
                self._latency_changed.wait(min(remaining, CLIENT_POLL))
                if request.client_gone():
                    self._stats.incr(counter)
                    raise ClientGone

    # ----------------------------------------------------------------- API routes

    def _chat(self, request: Request, token: Token) -> Reply:
        payload = request.json_object()
        chat.validate_chat(payload, models.models_of(self._setting("catalogue"), "chat"))
        schema = response_schema(payload.get("response_format"))
        stored = self.store.attached(payload["messages"], token.key)
        messages, stream = payload["messages"], bool(payload.get("stream"))
        user_text = last_user_text(messages)
        infos = [f.info() for f in stored]
        self.records.texts([m.get("content") or "" for m in messages])
        self.records.chat(
            {
                "user_text": user_text,
                "texts": [m.get("content") or "" for m in messages],
                "model": payload["model"],
                "stream": stream,
                "session_id": request.headers.get("X-Session-Id"),
                "request_id": request.request_id,
                "files": infos,
                "response_format": None if schema is None else "json_schema",
            }
        )
        self._stats.incr("chat_calls")
        kinds = (
            ANY_CHAT_KINDS + (STREAM_KINDS if stream else ()) + (SCHEMA_KINDS if schema is not None else ())
        )
        fault = self._faults.take_answer(request.path, kinds)
        if fault is not None:
            self._stats.incr("faults_fired")
        self._sleep_latency(request, "streams_aborted" if stream else "calls_abandoned")
        inputs = chat.ChatInputs(
            override=self._setting("reply"),
            files=infos,
            schema=schema,
            # every user turn in order, as a model reads the dialogue: a repair turn after
            # the document keeps the document's values (the first line of a name wins)
            source_text="\n".join([*user_texts(messages), *(file_text(f) for f in stored)]),
            fault=fault.kind if fault else None,
            precached=self.sessions.precached(request.headers.get("X-Session-Id"), messages),
        )
        result = chat.compose_chat(payload, inputs)
        return chat.chat_reply(result, stream, inputs.fault, lambda: float(self._setting("stream_delay")))

    def _model(self, request: Request, token: Token) -> Reply:
        return models.model_reply(self._setting("catalogue"), request.path[len(API_PREFIX + "/models/") :])

    def _embeddings(self, request: Request, token: Token) -> Reply:
        payload = request.json_object()
        self.records.texts(models.input_texts(payload.get("input")))
        self._sleep_latency(request, "calls_abandoned")
        return models.embeddings_reply(self._setting("catalogue"), payload)

    def _tokens_count(self, request: Request, token: Token) -> Reply:
        payload = request.json_object()
        self.records.texts(models.input_texts(payload.get("input")))
        return models.tokens_count_reply(self._setting("catalogue"), payload)

    def _file_content(self, request: Request, token: Token) -> Reply:
        stored = self.store.get(_file_id(request), token.key)
        return Reply(200, raw=stored.data, content_type=stored.content_type)
