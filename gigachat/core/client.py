"""GigaChat API client: one keep-alive session, a FIFO gate, retries inside a deadline."""

from __future__ import annotations

import json
import logging
import random
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import requests

from gigachat.core.errors import (
    BridgeError,
    GigaChatError,
    NetworkError,
    ServerError,
    TLSError,
    UpstreamTimeout,
    error_for_status,
)
from gigachat.core.gate import FifoGate
from gigachat.core.token import TokenManager

log = logging.getLogger(__name__)

CONNECT_TIMEOUT = 10.0
BACKOFF_BASE = 0.5
BACKOFF_CAP = 30.0


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


def _detail(response: requests.Response) -> str:
    """GigaChat's own error text, if the body has one."""
    try:
        body = response.json()
    except ValueError:
        return ""
    return str(body.get("message", "")) if isinstance(body, dict) else ""


def _retry_after(response: requests.Response | None) -> float | None:
    if response is None:
        return None
    value = response.headers.get("Retry-After", "")
    try:
        return max(float(value), 0.0)
    except ValueError:
        return None


class GigaChatClient:
    """Calls GigaChat on behalf of every local request; raises GigaChatError subclasses."""

    def __init__(
        self,
        api_url: str,
        tokens: TokenManager,
        session: requests.Session,
        *,
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
        self.last_error: LastError | None = None
        self.last_success_at: float | None = None
        self.usage = Usage()

    # --- public API -----------------------------------------------------------

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

    def set_concurrency(self, limit: int) -> None:
        self._gate.set_limit(limit)

    def chat(self, payload: dict, *, deadline: float | None = None) -> dict:
        """POST /chat/completions (non-streaming)."""
        body = self._call("POST", "/chat/completions", {**payload, "stream": False}, deadline)
        self._count_usage(body.get("usage") if isinstance(body, dict) else None)
        return body

    def chat_stream(self, payload: dict, *, deadline: float | None = None) -> Iterator[dict]:
        """POST /chat/completions with stream=true; yields GigaChat's chunk dicts."""
        deadline = self._deadline(deadline)
        self._enter_gate(deadline)
        try:
            response = self._send("POST", "/chat/completions", {**payload, "stream": True},
                                  deadline, stream=True)
            with response:
                for chunk in self._read_events(response):
                    if isinstance(chunk, dict) and chunk.get("usage"):
                        self._count_usage(chunk["usage"])
                    yield chunk
        finally:
            self._gate.release()

    def models(self) -> dict:
        return self._call("GET", "/models")

    def embeddings(self, texts: list[str], model: str = "Embeddings") -> dict:
        return self._call("POST", "/embeddings", {"model": model, "input": texts})

    def tokens_count(self, texts: list[str], model: str = "GigaChat") -> list:
        return self._call("POST", "/tokens/count", {"model": model, "input": texts})

    def balance(self) -> dict:
        return self._call("GET", "/balance")

    def close(self) -> None:
        """Wake any retry sleep and close the connection pool."""
        self._closed.set()
        self._session.close()

    # --- internals ----------------------------------------------------------

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
              deadline: float | None = None):
        deadline = self._deadline(deadline)
        self._enter_gate(deadline)
        try:
            response = self._send(method, path, payload, deadline)
            try:
                return response.json()
            except ValueError:
                raise self._remember(
                    ServerError("bad json", message="ГигаЧат прислал непонятный ответ.")
                ) from None
        finally:
            self._gate.release()

    def _send(self, method: str, path: str, payload: dict | None, deadline: float,
              stream: bool = False) -> requests.Response:
        """One logical call: token, retries with backoff, one re-auth on 401."""
        url = self.api_url + path
        reauthorized = False
        attempt = 0
        while True:
            attempt += 1
            response: requests.Response | None = None
            token = None
            try:
                token = self._tokens.get_token(timeout=self._remaining(deadline))
                response = self._session.request(
                    method, url, json=payload, stream=stream,
                    headers={"Authorization": f"Bearer {token}", "Accept": "application/json"},
                    timeout=(min(CONNECT_TIMEOUT, self._remaining(deadline)),
                             self._remaining(deadline)),
                )
                if response.status_code == 401 and not reauthorized:
                    response.close()
                    self._tokens.invalidate(token)
                    reauthorized = True
                    attempt -= 1
                    continue
                if response.status_code < 400:
                    self.last_success_at = time.time()
                    return response
                error: GigaChatError = error_for_status(response.status_code, _detail(response))
                response.close()
            except GigaChatError as failure:
                error = failure
            except BridgeError as failure:  # no key, keyring locked: not GigaChat's fault
                raise self._remember(failure) from None
            except requests.exceptions.SSLError as failure:
                error = TLSError(type(failure).__name__)
            except requests.exceptions.Timeout:
                error = UpstreamTimeout("read timeout")
            except requests.exceptions.RequestException as failure:
                error = NetworkError(type(failure).__name__)
            delay = self._backoff(attempt, response)
            if not error.retryable or attempt >= self.max_attempts or delay is None \
                    or time.monotonic() + delay >= deadline:
                raise self._remember(error)
            log.info("GigaChat %s %s failed (%s), retry %d in %.2f s",
                     method, path, error.code, attempt, delay)
            if self._closed.wait(delay):
                raise self._remember(error)

    def _remaining(self, deadline: float) -> float:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise UpstreamTimeout("deadline")
        return remaining

    @staticmethod
    def _backoff(attempt: int, response: requests.Response | None) -> float | None:
        """Exponential backoff with jitter; a numeric Retry-After wins."""
        retry_after = _retry_after(response)
        if retry_after is not None:
            return retry_after
        delay = min(BACKOFF_BASE * 2 ** (attempt - 1), BACKOFF_CAP)
        return delay * random.uniform(0.5, 1.0)

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
                    yield json.loads(data)
                except ValueError:
                    log.warning("skipping a malformed stream event")
        except requests.exceptions.RequestException as failure:
            raise self._remember(NetworkError(type(failure).__name__)) from None

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
