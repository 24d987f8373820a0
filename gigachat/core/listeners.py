"""Listeners: call each one with an event; one that fails is logged and the others still run."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable

log = logging.getLogger(__name__)


def notify(listeners: Iterable[Callable[..., None]], *args: object, what: str) -> None:
    """Call every listener (on a copy of the list, so one may remove itself) with `args`."""
    for listener in list(listeners):
        try:
            listener(*args)
        except Exception:
            log.exception("%s listener failed", what)
