"""Which chat model a request gets: GigaChat's /models list (cached) and a substitute when the
configured model is not served at this address (the two GigaChat hosts list different models)."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from gigachat.core.errors import BridgeError
from gigachat.core.settings import DEFAULT_MODEL

log = logging.getLogger(__name__)

MODELS_TTL = 300.0  # seconds a /models answer is trusted
FAILED_TTL = 60.0  # after /models failed, the configured model is used this long without asking
_TIERS = ("ultra", "max", "pro", "lite")


def chat_model_ids(body: Any) -> list[str]:
    """Ids of the `type: chat` entries of a /models answer (an entry without `type` counts)."""
    data = body.get("data") if isinstance(body, dict) else None
    return [str(entry["id"]) for entry in data or []
            if isinstance(entry, dict) and entry.get("id") and entry.get("type", "chat") == "chat"]


def tier(name: str) -> str:
    """The model's tier word (pro, max, ultra, lite), or "" for the base model."""
    words = name.lower().replace("_", "-").split("-")
    return next((word for word in reversed(words) if word in _TIERS), "")


def substitute(wanted: str, available: list[str]) -> str | None:
    """The best available chat model instead of `wanted`: the same tier first (GigaChat-Pro →
    GigaChat-2-Pro), then the default model, then not a preview, then GigaChat's own order."""
    if not available:
        return None

    def rank(item: tuple[int, str]) -> tuple[bool, bool, bool, int]:
        index, name = item
        return (tier(name) != tier(wanted), name != DEFAULT_MODEL, "preview" in name.lower(), index)

    return min(enumerate(available), key=rank)[1]


class ModelChooser:
    """Picks the model for requests that name none; never fails a call over /models."""

    def __init__(self, configured: str, fetch: Callable[[], Any],  # one quick GET /models
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.configured = configured
        self._fetch = fetch
        self._clock = clock
        self._lock = threading.Lock()
        self._models: list[str] | None = None
        self._fresh_until = 0.0
        self._announced: tuple[str, str] | None = None
        self.notice: str | None = None  # Russian, for the tray; None while the configured works

    def remember(self, body: Any) -> None:
        """Cache a /models answer (any caller's)."""
        with self._lock:
            self._models, self._fresh_until = chat_model_ids(body), self._clock() + MODELS_TTL

    def cached(self) -> list[str] | None:
        """The chat model ids of a fresh /models answer, or None."""
        with self._lock:
            if self._models is None or self._clock() >= self._fresh_until:
                return None
            return list(self._models)

    def pick(self, requested: str | None) -> str:
        """`requested` as it is; else the configured model if listed, else a substitute."""
        if requested:
            return requested
        with self._lock:  # one /models call at a time; the others wait for its answer
            if self._clock() >= self._fresh_until:
                try:
                    body = self._fetch()
                except BridgeError as error:
                    log.warning("GigaChat's model list is unavailable (%s); %s", error.code,
                                "keeping the last one" if self._models else "using " + self.configured)
                    self._fresh_until = self._clock() + FAILED_TTL  # keep an older list
                else:
                    self._models = chat_model_ids(body)
                    self._fresh_until = self._clock() + MODELS_TTL
            models = self._models
            if not models:  # unknown (or no chat model listed): trust the configuration
                return self.configured
            if self.configured in models:
                self.notice, self._announced = None, None
                return self.configured
            chosen = substitute(self.configured, models) or self.configured
            self._announce(chosen, models)
            return chosen

    def _announce(self, chosen: str, models: list[str]) -> None:
        """Inside the lock: log the substitution and set the tray notice, once per pair."""
        pair = (self.configured, chosen)
        if self._announced == pair:
            return
        self._announced = pair
        self.notice = (f"Модель {self.configured} недоступна на этом адресе ГигаЧат, "
                       f"используется {chosen}")
        log.warning("the configured model %s is not in GigaChat's /models (%s); using %s",
                    self.configured, ", ".join(models), chosen)
