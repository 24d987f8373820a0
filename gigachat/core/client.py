"""GigaChat API client: one keep-alive session, a FIFO gate, retries inside a deadline."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import requests

from gigachat.core.errors import (
    BridgeError,
    GigaChatError,
    UnexpectedAnswer,
    UpstreamTimeout,
)
from gigachat.core.gate import FifoGate
from gigachat.core.models import ModelChooser, chat_model_ids
from gigachat.core.settings import DEFAULT_MODEL
from gigachat.core.token import TokenManager
from gigachat.core.transport import (
    TRANSPORT_ERRORS,
    api_error,
    backoff_delay,
    decode_json,
    describe,
    encode_json,
    read_json,
    request_id,
    retry_after,
    send,
    translate,
)

log = logging.getLogger(__name__)

CONNECT_TIMEOUT = 10.0
MODELS_DEADLINE = 15.0  # pick_model waits at most this long for /models


@dataclass
class LastError:
    """The most recent failure, for /health and the tray (Russian message only)."""

    message: str
    code: str
    at: float = field(default_factory=time.time)


@dataclass
class Usage:
    """Today's request and token counters (local date)."""

    day: str = ""
    requests: int = 0
    tokens: int = 0


class GigaChatClient:
    """Calls GigaChat on behalf of every local request; raises GigaChatError subclasses.

    `model` is the configured chat model: pick_model() uses it for requests that name none.
    """

    def __init__(
        self,
        api_url: str,
        tokens: TokenManager,
        session: requests.Session,
        *,
        model: str = DEFAULT_MODEL,
        concurrency: int = 1,
        request_timeout: float = 110.0,
        max_attempts: int = 6,
    ) -> None:
        self.api_url = api_url.rstrip("/")
        self.request_timeout = request_timeout
        self.max_attempts = max_attempts
        self._tokens = tokens
        self._session = session
        self._gate = FifoGate(concurrency)
        self._closed = threading.Event()
        self._lock = threading.Lock()
        self._chooser = ModelChooser(model, self._fetch_models)
        self.last_error: LastError | None = None
        self.last_success_at: float | None = None
        self.usage = Usage()

    # --- public API -----------------------------------------------------------

    @property
    def model(self) -> str:
        """The configured chat model."""
        return self._chooser.configured

    @property
    def model_notice(self) -> str | None:
        """Russian sentence for the tray when the configured model is replaced, else None."""
        return self._chooser.notice

    @property
    def queue_length(self) -> int:
        return self._gate.queue_length

    @property
    def in_flight(self) -> int:
        return self._gate.active

    @property
    def failing(self) -> bool:
        """The latest call to GigaChat failed (no success since the last error)."""
        last = self.last_error
        return last is not None and (self.last_success_at is None or last.at > self.last_success_at)

    def pick_model(self, requested: str | None) -> str:
        """The model for a request: `requested` as it is; None → the configured model if
        GigaChat lists it, else the best available chat model. Never raises over /models."""
        return self._chooser.pick(requested)

    def chat(self, payload: dict, *, deadline: float | None = None,
             session_id: str | None = None) -> dict:
        """POST /chat/completions (non-streaming); `session_id` goes out as X-Session-ID
        (calls sharing a system prompt share GigaChat's prompt cache)."""
        body = self._call("POST", "/chat/completions", {**payload, "stream": False}, deadline,
                          session_id=session_id)
        self._count_usage(body.get("usage") if isinstance(body, dict) else None)
        return body

    def chat_stream(self, payload: dict, *, deadline: float | None = None,
                    session_id: str | None = None,
                    on_response: Callable[[requests.Response], None] | None = None,
                    ) -> Iterator[dict]:
        """POST /chat/completions with stream=true; yields GigaChat's chunk dicts.

        `on_response` gets the open response before the first chunk is read (a jobs runner
        shuts it to abort a cancelled stream at once).

        An answer that is not text/event-stream is an UnexpectedAnswer, never an empty stream.
        """
        deadline = self._deadline(deadline)
        self._enter_gate(deadline)
        try:
            response = self._send("POST", "/chat/completions", {**payload, "stream": True},
                                  deadline, stream=True, session_id=session_id)
            with response:
                if on_response is not None:
                    on_response(response)
                kind = response.headers.get("Content-Type", "")
                if not kind.lower().startswith("text/event-stream"):
                    raise self._failed("POST", "/chat/completions", UnexpectedAnswer(
                        f"stream answered as {kind or 'no content type'}",
                        message="ГигаЧат ответил на потоковый запрос не потоком событий "
                        f"(text/event-stream), а {kind.split(';')[0] or 'ответом без типа'}.",
                        request_id=request_id(response)))
                for chunk in self._read_events(response):
                    if isinstance(chunk, dict) and chunk.get("usage"):
                        self._count_usage(chunk["usage"])
                    yield chunk
        finally:
            self._gate.release()

    def models(self) -> dict:
        """GET /models as GigaChat sends it (entries keep `type`); refreshes pick_model's cache."""
        body = self._call("GET", "/models")
        self._chooser.remember(body)
        return body

    def chat_models(self) -> list[str]:
        """Ids of the `type: chat` models (cached a few minutes); raises when /models fails."""
        cached = self._chooser.cached()
        if cached is not None:
            return cached
        return chat_model_ids(self.models())

    def embeddings(self, texts: list[str], model: str = "Embeddings") -> dict:
        return self._call("POST", "/embeddings", {"model": model, "input": texts})

    def tokens_count(self, texts: list[str], model: str | None = None) -> list:
        return self._call("POST", "/tokens/count",
                          {"model": self.pick_model(model), "input": texts})

    def balance(self) -> dict:
        return self._call("GET", "/balance")

    def post_bytes(self, path: str, body: bytes, content_type: str, *,
                   deadline: float | None = None, attempts: int | None = None):
        """POST a ready-made body (e.g. a multipart file upload); the answer's JSON."""
        return self._call("POST", path, deadline=deadline, attempts=attempts,
                          content=(body, content_type))

    def post_empty(self, path: str, *, deadline: float | None = None,
                   attempts: int | None = None):
        """POST without a body (e.g. /files/{id}/delete); the answer's JSON."""
        return self._call("POST", path, deadline=deadline, attempts=attempts)

    def close(self) -> None:
        """Wake any retry sleep and close the connection pool."""
        self._closed.set()
        self._session.close()

    # --- internals ----------------------------------------------------------

    def _fetch_models(self) -> dict:
        """pick_model's /models call: one attempt, a short deadline (a failure is not fatal)."""
        return self._call("GET", "/models", attempts=1,
                          deadline=time.monotonic() + min(MODELS_DEADLINE, self.request_timeout))

    def _deadline(self, deadline: float | None) -> float:
        return deadline if deadline is not None else time.monotonic() + self.request_timeout

    def _enter_gate(self, deadline: float) -> None:
        if not self._gate.acquire(max(deadline - time.monotonic(), 0.0)):
            raise self._remember(
                UpstreamTimeout(
                    "queue", message="Запрос не дождался очереди к ГигаЧат: слишком много "
                    "запросов одновременно. Повторите позже."
                )
            )

    def _call(self, method: str, path: str, payload: dict | None = None,
              deadline: float | None = None, attempts: int | None = None,
              content: tuple[bytes, str] | None = None,
              session_id: str | None = None):
        deadline = self._deadline(deadline)
        self._enter_gate(deadline)
        try:
            response = self._send(method, path, payload, deadline, attempts=attempts,
                                  content=content, session_id=session_id)
            with response:
                try:
                    return read_json(response)
                except GigaChatError as error:
                    raise self._failed(method, path, error) from None
        finally:
            self._gate.release()

    def _send(self, method: str, path: str, payload: dict | None, deadline: float,
              stream: bool = False, attempts: int | None = None,
              content: tuple[bytes, str] | None = None,
              session_id: str | None = None) -> requests.Response:
        """One logical call: token, retries with backoff, one re-auth on 401.

        Only transport errors, 429 and 5xx are retried; a body we cannot encode (NaN, a
        lone surrogate) is InvalidRequest at once, and any other local error propagates.
        """
        url = self.api_url + path
        attempts = attempts or self.max_attempts
        body = None if payload is None else encode_json(payload)
        headers = {"Accept": "application/json"}
        if body is not None:
            headers["Content-Type"] = "application/json; charset=utf-8"
        if session_id:
            headers["X-Session-ID"] = session_id
        if content is not None:  # a body the caller encoded itself (multipart)
            body, headers["Content-Type"] = content
        reauthorized = False
        attempt = 0
        while True:
            attempt += 1
            response: requests.Response | None = None
            token = None
            try:
                token = self._tokens.get_token(timeout=self._remaining(deadline))
                response = send(
                    self._session, method, url, data=body, stream=stream,
                    headers={**headers, "Authorization": f"Bearer {token}"},
                    timeout=(min(CONNECT_TIMEOUT, self._remaining(deadline)),
                             self._remaining(deadline)),
                )
                if response.status_code == 401 and not reauthorized:
                    log.info("GigaChat %s %s: 401 (X-Request-Id: %s), refreshing the token once",
                             method, path, request_id(response))
                    response.close()
                    self._tokens.invalidate(token)
                    reauthorized = True
                    attempt -= 1
                    continue
                if response.status_code < 400:
                    self.last_success_at = time.time()
                    return response
                error = api_error(response, self.api_url, path, model=(payload or {}).get("model"))
                response.close()
            except GigaChatError as failure:
                error = failure
            except BridgeError as failure:  # no key, keyring locked: not GigaChat's fault
                raise self._remember(failure) from None
            delay = backoff_delay(attempt, retry_after=retry_after(response))
            if not error.retryable or attempt >= attempts \
                    or time.monotonic() + delay >= deadline:
                raise self._failed(method, path, error)
            log.warning("GigaChat %s %s failed: %s; retry %d in %.2f s",
                        method, path, describe(error), attempt, delay)
            if self._closed.wait(delay):
                raise self._failed(method, path, error)

    def _remaining(self, deadline: float) -> float:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise UpstreamTimeout("deadline")
        return remaining

    def _read_events(self, response: requests.Response) -> Iterator[dict]:
        """Parse server-sent events: `data: {json}` lines until `data: [DONE]`."""
        try:
            for line in response.iter_lines(chunk_size=None, decode_unicode=False):
                if not line.startswith(b"data:"):
                    continue
                data = line[5:].strip()
                if data == b"[DONE]":
                    return
                try:
                    yield decode_json(data)
                except ValueError:
                    log.warning("skipping a malformed stream event")
        except TRANSPORT_ERRORS as failure:
            raise self._failed("POST", "/chat/completions", translate(failure)) from None

    def _failed(self, method: str, path: str, error: GigaChatError) -> GigaChatError:
        """Log a failed call in one line (GigaChat's message, X-Request-Id) and remember it."""
        log.warning("GigaChat %s %s failed: %s", method, path, describe(error))
        self._remember(error)
        return error

    def _remember(self, error: BridgeError) -> BridgeError:
        with self._lock:
            self.last_error = LastError(error.message, error.code)
        return error

    def _count_usage(self, usage: dict | None) -> None:
        today = time.strftime("%Y-%m-%d")
        with self._lock:
            if self.usage.day != today:
                self.usage = Usage(day=today)
            self.usage.requests += 1
            if isinstance(usage, dict):
                self.usage.tokens += int(usage.get("total_tokens") or 0)
