"""What the emulator saw: counters, in-flight slots, the chat record, sessions, streams."""

from __future__ import annotations

import hashlib
import threading
import time
from collections import Counter, OrderedDict, deque
from typing import Any

from gigachat.emulator.protocol import count_tokens

RECORD_LIMIT = 100_000  # bounded memory in long benchmark runs
SESSION_LIMIT = 10_000
STAT_NAMES = (
    "connections",
    "tls_handshakes",
    "tls_handshake_failures",
    "oauth_requests",
    "api_requests",
    "control_requests",
    "tokens_issued",
    "faults_fired",
    "dropped",
    "rejected_concurrency",
    "chat_calls",
    "streams_started",
    "streams_aborted",
    "calls_abandoned",
)


class Stats:
    """Thread-safe counters; ``snapshot()`` gives a dict. ``wait`` blocks on a counter."""

    def __init__(self) -> None:
        self._changed = threading.Condition()
        self._counts: Counter[str] = Counter()
        self._routes: Counter[str] = Counter()
        self._statuses: Counter[int] = Counter()

    def incr(self, name: str, amount: int = 1) -> None:
        with self._changed:
            self._counts[name] += amount
            self._changed.notify_all()

    def route(self, name: str) -> None:
        with self._changed:
            self._routes[name] += 1

    def status(self, code: int) -> None:
        with self._changed:
            self._statuses[code] += 1

    def get(self, name: str) -> int:
        with self._changed:
            return self._counts[name]

    def wait(self, name: str, at_least: int, timeout: float) -> bool:
        """Wait until counter ``name`` reaches ``at_least``; False on timeout."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while self._counts[name] < at_least:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._changed.wait(remaining)
            return True

    def reset(self) -> None:
        with self._changed:
            self._counts.clear()
            self._routes.clear()
            self._statuses.clear()
            self._changed.notify_all()

    def snapshot(self) -> dict[str, Any]:
        with self._changed:
            result: dict[str, Any] = {name: self._counts[name] for name in STAT_NAMES}
            result["routes"] = dict(self._routes)
            result["responses"] = dict(self._statuses)
        return result


class InFlight:
    """Counts API requests in flight, per (key, scope) and in total; enforces the PERS rule."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._per_owner: Counter[tuple[str, str]] = Counter()
        self.current = 0
        self.max = 0

    def enter(self, owner: tuple[str, str], exclusive: bool) -> bool:
        """Take a slot; False when ``exclusive`` and the owner already has one."""
        with self._lock:
            if exclusive and self._per_owner[owner] > 0:
                return False
            self._per_owner[owner] += 1
            self.current += 1
            self.max = max(self.max, self.current)
            return True

    def leave(self, owner: tuple[str, str]) -> None:
        with self._lock:
            self._per_owner[owner] -= 1
            if self._per_owner[owner] <= 0:
                del self._per_owner[owner]
            self.current -= 1

    def reset_max(self) -> None:
        with self._lock:
            self.max = self.current


class Records:
    """The API requests and chat calls seen, and every text received; bounded."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._api: deque[dict[str, Any]] = deque(maxlen=RECORD_LIMIT)
        self._chats: deque[dict[str, Any]] = deque(maxlen=RECORD_LIMIT)
        self._texts: deque[str] = deque(maxlen=RECORD_LIMIT)
        self._per_text: Counter[str] = Counter()

    def api(self, entry: dict[str, Any]) -> None:
        with self._lock:
            self._api.append(entry)

    def chat(self, entry: dict[str, Any]) -> None:
        with self._lock:
            self._chats.append(entry)
            self._per_text[entry["user_text"]] += 1

    def texts(self, texts: list[str]) -> None:
        with self._lock:
            self._texts.extend(texts)

    def clear(self) -> None:
        with self._lock:
            self._api.clear()
            self._chats.clear()
            self._texts.clear()
            self._per_text.clear()

    def snapshot(self) -> dict[str, Any]:
        """Copies: api_log, chat_log, chat_counts, session_ids, received_texts."""
        with self._lock:
            chats = [dict(entry) for entry in self._chats]
            return {
                "api_log": [dict(entry) for entry in self._api],
                "chat_log": chats,
                "chat_counts": dict(self._per_text),
                "session_ids": [c["session_id"] for c in chats if c["session_id"]],
                "received_texts": list(self._texts),
            }


class Sessions:
    """Prompt cache by ``X-Session-ID``: a system prompt seen before in a session is cached."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._seen: OrderedDict[str, set[str]] = OrderedDict()

    def precached(self, session_id: str | None, messages: list[dict[str, Any]]) -> int:
        """Tokens served from cache for this call (0 on the first call of a prefix)."""
        if not session_id or not messages or messages[0].get("role") != "system":
            return 0
        prompt = messages[0].get("content") or ""
        digest = hashlib.sha256(prompt.encode("utf-8", "surrogatepass")).hexdigest()
        with self._lock:
            seen = self._seen.setdefault(session_id, set())
            self._seen.move_to_end(session_id)
            if len(self._seen) > SESSION_LIMIT:
                self._seen.popitem(last=False)
            if digest in seen:
                return count_tokens(prompt)
            seen.add(digest)
        return 0

    def clear(self) -> None:
        with self._lock:
            self._seen.clear()
