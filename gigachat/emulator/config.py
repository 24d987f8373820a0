"""The run-time settings ``Emulator.configure`` (and ``POST /_emulator/config``) can change."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from gigachat.emulator.models import CATALOGUES
from gigachat.emulator.protocol import is_number

CHECKS: dict[str, tuple[Callable[[Any], bool], str]] = {
    "latency": (lambda v: is_number(v) and v >= 0, "a non-negative number"),
    "token_lifetime": (lambda v: is_number(v) and v >= 0, "a non-negative number"),
    "reject_keys": (lambda v: isinstance(v, bool), "true or false"),
    "reply": (lambda v: v is None or isinstance(v, str), "a string or null"),
    "fail_rate": (lambda v: is_number(v) and 0 <= v <= 1, "a number from 0 to 1"),
    "catalogue": (lambda v: isinstance(v, str) and v in CATALOGUES, "one of " + ", ".join(CATALOGUES)),
    "stream_delay": (lambda v: is_number(v) and 0 <= v <= 60, "a number of seconds from 0 to 60"),
}
CONFIG_FIELDS = tuple(CHECKS)


def check_config(changes: Mapping[str, Any]) -> None:
    """Raise ValueError unless every change names a known setting with a valid value."""
    unknown = set(changes) - set(CHECKS)
    if unknown:
        raise ValueError(f"unknown settings: {', '.join(sorted(unknown))}")
    for name, value in changes.items():
        check, rule = CHECKS[name]
        if not check(value):
            raise ValueError(f"{name} must be {rule}")
