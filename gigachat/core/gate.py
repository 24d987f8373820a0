"""A priority FIFO concurrency gate: at most N upstream calls at once, the rest wait in order.

Waiters of a higher priority (HIGH: a person waiting at a 1C form) are let in before waiters
of a lower one (LOW: background jobs); within a priority the order is first come, first
served. A caller's priority is the `priority` argument, else the context's (`background()`).
A background caller may also give up its turn: when `abort()` is true as its slot comes, the
slot passes on and acquire() raises GateAborted (a cancelled job never reaches GigaChat).
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar

HIGH = 0
LOW = 1
PRIORITIES = (HIGH, LOW)  # most urgent first

_priority: ContextVar[int] = ContextVar("gate_priority", default=HIGH)
_abort: ContextVar[Callable[[], bool] | None] = ContextVar("gate_abort", default=None)


class GateTimeout(Exception):
    """No slot became free before the caller's deadline."""


class GateAborted(Exception):
    """A background caller's abort() was true when its slot came: it gave the slot up."""


@contextmanager
def background(abort: Callable[[], bool] | None = None) -> Iterator[None]:
    """Gate waits inside this block (this thread or task) are LOW priority, and give up
    their slot when `abort()` is true by the time it comes."""
    tokens = _priority.set(LOW), _abort.set(abort)
    try:
        yield
    finally:
        _priority.reset(tokens[0])
        _abort.reset(tokens[1])


class FifoGate:
    def __init__(self, limit: int) -> None:
        if limit < 1:
            raise ValueError("limit must be >= 1")
        self._limit = limit
        self._active = 0
        self._waiters: dict[int, deque[threading.Event]] = {p: deque() for p in PRIORITIES}
        self._lock = threading.Lock()

    @property
    def limit(self) -> int:
        return self._limit

    @property
    def queue_length(self) -> int:
        return sum(len(queue) for queue in self._waiters.values())

    @property
    def active(self) -> int:
        return self._active

    def waiting(self, priority: int) -> int:
        """How many callers of this priority wait for a slot."""
        return len(self._waiters[priority])

    def acquire(self, timeout: float | None = None, priority: int | None = None) -> bool:
        """Take a slot, waiting behind earlier callers of the same or a higher priority;
        False on timeout; GateAborted when the context's abort() says so."""
        if not self._take(timeout, _priority.get() if priority is None else priority):
            return False
        abort = _abort.get()
        if abort is not None and abort():
            self.release()
            raise GateAborted
        return True

    def _take(self, timeout: float | None, priority: int) -> bool:
        queue = self._waiters[priority]
        with self._lock:
            if self._active < self._limit and not self.queue_length:
                self._active += 1
                return True
            turn = threading.Event()
            queue.append(turn)
        if turn.wait(timeout):
            return True
        with self._lock:
            if turn in queue:
                queue.remove(turn)
                return False
        return True  # the slot was handed over just as we timed out

    def release(self) -> None:
        """Free a slot, handing it straight to the oldest waiter of the highest priority."""
        with self._lock:
            queue = next((q for q in self._waiters.values() if q), None)
            if queue is not None and self._active <= self._limit:
                queue.popleft().set()
            else:
                self._active -= 1

    @contextmanager
    def slot(self, timeout: float | None = None, priority: int | None = None) -> Iterator[None]:
        if not self.acquire(timeout, priority):
            raise GateTimeout
        try:
            yield
        finally:
            self.release()
