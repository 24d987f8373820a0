"""Injected faults: a FIFO queue of failures, consumed by matching requests.

A fault without ``kind`` answers ``status`` (with ``message``, ``retry_after``), drops the
connection (``drop``) and/or waits ``delay`` seconds first. Named kinds:

Transport kinds, fired before the route runs (any matching path):
- ``long_error``: ``status`` (default 500) with a LONG_ERROR_LENGTH-character message that
  contains token-like text (LONG_ERROR_TOKEN, ``Bearer eyJ...``): for redaction tests.
- ``models_404``: (default path ``/models``) 404 ``Not found: <path>``, as for a wrong path.

Answer kinds, taken by ``/chat/completions`` only when the call fits:
- ``plain_json_stream``: a ``stream: true`` call answered with a plain ``application/json``
  chat completion instead of ``text/event-stream``.
- ``lone_surrogate``: the answer's JSON has a lone ``\\ud800`` escape in ``content``
  (plain and streamed).
- for calls with ``response_format`` json_schema: ``json_fence`` (```json code fence),
  ``json_text_around`` (prose before and after), ``json_russian_numbers`` (numbers as
  strings like ``"2 450 000,00"``), ``json_missing_required`` (the first required property
  left out), ``json_invalid`` (cut-off JSON).
``times`` counts the calls a fault fires for ("invalid twice": ``times=2``).
"""

from __future__ import annotations

import random
import threading
from collections import deque
from dataclasses import dataclass

from gigachat.emulator.protocol import HttpError, Reply, is_number

TRANSPORT_KINDS = ("long_error", "models_404")
STREAM_KINDS = ("plain_json_stream",)
ANY_CHAT_KINDS = ("lone_surrogate",)
SCHEMA_KINDS = (
    "json_fence",
    "json_text_around",
    "json_russian_numbers",
    "json_missing_required",
    "json_invalid",
)
ANSWER_KINDS = STREAM_KINDS + ANY_CHAT_KINDS + SCHEMA_KINDS
KINDS = TRANSPORT_KINDS + ANSWER_KINDS
RANDOM_FAULTS: tuple[int | str, ...] = (429, 500, 503, "drop")

LONG_ERROR_LENGTH = 5000
LONG_ERROR_TOKEN = (
    "eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJlbXVsYXRvci1sZWFrIiwic2NvcGUiOiJHSUdBQ0hBVF9BUElfUEVSUyJ9"
    ".c2lnbmF0dXJlLW9mLWEtbGVha2VkLXRva2Vu"
)


def long_error_message() -> str:
    """A long upstream error that leaks an Authorization header."""
    head = "Upstream failure while calling the model. "
    head += f"Request headers: Authorization: Bearer {LONG_ERROR_TOKEN}; "
    filler = "trace: model worker pool exhausted, retry later; "
    text = head + filler * (LONG_ERROR_LENGTH // len(filler) + 1)
    return text[:LONG_ERROR_LENGTH]


@dataclass
class Fault:
    """One queued failure, consumed by requests whose path ends with ``path`` (``*``: any)."""

    status: int | None = None
    path: str | None = None
    times: int = 1
    retry_after: float | int | str | None = None
    delay: float = 0.0
    drop: bool = False
    message: str | None = None
    kind: str | None = None

    def __post_init__(self) -> None:
        if self.kind is not None and self.kind not in KINDS:
            raise ValueError(f"kind must be one of {', '.join(KINDS)}")
        if self.path is None:
            self.path = "/models" if self.kind == "models_404" else "/chat/completions"
        if self.status is not None and not (isinstance(self.status, int) and 100 <= self.status <= 599):
            raise ValueError("status must be an HTTP status code")
        if not isinstance(self.times, int) or isinstance(self.times, bool) or self.times < 1:
            raise ValueError("times must be a positive integer")
        if not is_number(self.delay) or self.delay < 0:
            raise ValueError("delay must be a non-negative number")
        if not isinstance(self.path, str) or not self.path:
            raise ValueError("path must be a non-empty string")
        if self.status is None and not self.drop and not self.delay and self.kind is None:
            raise ValueError("a fault needs status, drop, delay or kind")

    @property
    def answer_kind(self) -> bool:
        """True when the chat handler (not the dispatcher) consumes this fault."""
        return self.kind in ANSWER_KINDS

    def matches(self, path: str) -> bool:
        """True when this fault applies to a request path."""
        return self.path == "*" or path.endswith(self.path or "")


class FaultQueue:
    """The queued faults and the seeded random ``fail_rate``; thread-safe."""

    def __init__(self, seed: int) -> None:
        self._lock = threading.Lock()
        self._faults: deque[Fault] = deque()
        self._seed = seed
        self._rng = random.Random(seed)
        self.fail_rate = 0.0

    def add(self, *faults: Fault) -> None:
        with self._lock:
            self._faults.extend(faults)

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    def reseed(self) -> None:
        with self._lock:
            self._rng = random.Random(self._seed)
            self.fail_rate = 0.0

    @property
    def queued(self) -> int:
        """How many fault firings are still queued."""
        with self._lock:
            return sum(fault.times for fault in self._faults)

    def take(self, path: str, random_allowed: bool) -> Fault | None:
        """The first transport fault for ``path`` (or a random one), consuming one firing."""
        with self._lock:
            fault = self._consume(lambda f: not f.answer_kind and f.matches(path))
            if fault is not None:
                return fault
            if random_allowed and self.fail_rate and self._rng.random() < self.fail_rate:
                kind = self._rng.choice(RANDOM_FAULTS)
                return Fault(drop=True) if kind == "drop" else Fault(status=int(kind))
        return None

    def take_answer(self, path: str, kinds: tuple[str, ...]) -> Fault | None:
        """The first answer fault of one of ``kinds`` for ``path``, consuming one firing."""
        with self._lock:
            return self._consume(lambda f: f.kind in kinds and f.matches(path))

    def _consume(self, wanted) -> Fault | None:
        for fault in self._faults:
            if wanted(fault):
                fault.times -= 1
                if fault.times <= 0:
                    self._faults.remove(fault)
                return fault
        return None


def transport_reply(fault: Fault, path: str, stopping: threading.Event) -> Reply | None:
    """Fire a transport fault: wait, then drop, answer an error, or None (carry on)."""
    if fault.delay:
        stopping.wait(fault.delay)
    if fault.drop:
        return Reply(0, drop=True)
    headers = {} if fault.retry_after is None else {"Retry-After": str(fault.retry_after)}
    if fault.kind == "long_error":
        return HttpError.api(fault.status or 500, long_error_message(), **headers).reply()
    if fault.kind == "models_404":
        return HttpError.api(404, f"Not found: {path}", **headers).reply()
    if fault.status is None:
        return None
    return HttpError.api(fault.status, fault.message, **headers).reply()
