"""A FIFO concurrency gate: at most N upstream calls at once, the rest wait in order."""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager


class GateTimeout(Exception):
    """No slot became free before the caller's deadline."""


class FifoGate:
    def __init__(self, limit: int) -> None:
        if limit < 1:
            raise ValueError("limit must be >= 1")
        self._limit = limit
        self._active = 0
        self._waiters: deque[threading.Event] = deque()
        self._lock = threading.Lock()

    @property
    def limit(self) -> int:
        return self._limit

    @property
    def queue_length(self) -> int:
        return len(self._waiters)

    @property
    def active(self) -> int:
        return self._active

    def set_limit(self, limit: int) -> None:
        """Change the limit; extra waiters are let in at once if it grew."""
        if limit < 1:
            raise ValueError("limit must be >= 1")
        with self._lock:
            self._limit = limit
            while self._waiters and self._active < self._limit:
                self._active += 1
                self._waiters.popleft().set()

    def acquire(self, timeout: float | None = None) -> bool:
        """Take a slot, waiting behind earlier callers; False on timeout."""
        with self._lock:
            if self._active < self._limit and not self._waiters:
                self._active += 1
                return True
            turn = threading.Event()
            self._waiters.append(turn)
        if turn.wait(timeout):
            return True
        with self._lock:
            if turn in self._waiters:
                self._waiters.remove(turn)
                return False
        return True  # the slot was handed over just as we timed out

    def release(self) -> None:
        """Free a slot, handing it straight to the oldest waiter."""
        with self._lock:
            if self._waiters and self._active <= self._limit:
                self._waiters.popleft().set()
            else:
                self._active -= 1

    @contextmanager
    def slot(self, timeout: float | None = None) -> Iterator[None]:
        if not self.acquire(timeout):
            raise GateTimeout
        try:
            yield
        finally:
            self.release()
