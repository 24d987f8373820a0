"""Logging: a rotating file in the per-user log dir, with secrets redacted from every line."""

from __future__ import annotations

import logging
import logging.handlers
import re
import sys
from pathlib import Path

import platformdirs

from gigachat import APP_NAME

# Basic/Bearer credentials, long base64/JWE-like runs (keys and access tokens).
_SECRET_PATTERNS = [
    re.compile(r"(?i)\b(basic|bearer)\s+[A-Za-z0-9+/=._\-]{8,}"),
    re.compile(r"[A-Za-z0-9+/_\-]{40,}={0,2}(?:\.[A-Za-z0-9+/_\-=]+)*"),
]
REDACTED = "***"
DETAIL_LIMIT = 300  # characters of GigaChat's own error text we keep
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]+")
_SURROGATE = re.compile("[\ud800-\udfff]")


def redact(text: str) -> str:
    """Mask anything that looks like an authorization key or a token."""
    text = _SECRET_PATTERNS[0].sub(lambda m: f"{m.group(1)} {REDACTED}", text)
    return _SECRET_PATTERNS[1].sub(REDACTED, text)


def clean_detail(text: str, limit: int = DETAIL_LIMIT) -> str:
    """Text from outside (GigaChat's error message) made safe to log and show: one line,
    no lone surrogates, secrets masked, at most `limit` characters."""
    text = _SURROGATE.sub("\ufffd", str(text)[: limit * 4])
    text = redact(_CONTROL.sub(" ", text)).strip()
    return text if len(text) <= limit else text[: limit - 1] + "…"


class RedactingFilter(logging.Filter):
    """Rewrites each record's final message with secrets masked."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if record.exc_info and record.exc_info[1] is not None:
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
            record.exc_info = None
        if cleaned != message or record.args:
            record.msg, record.args = cleaned, None
        return True


def log_dir() -> Path:
    return Path(platformdirs.user_log_dir(APP_NAME, appauthor=False))


def setup_logging(level: int = logging.INFO, console: bool = True) -> Path:
    """Log to <user log dir>/bridge.log (rotating, 1 MB x 5) and optionally to stderr."""
    folder = log_dir()
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "bridge.log"
    root = logging.getLogger()
    root.setLevel(level)
    for handler in list(root.handlers):
        if getattr(handler, "_gigachat", False):
            root.removeHandler(handler)
    formatter = logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    handlers: list[logging.Handler] = [
        logging.handlers.RotatingFileHandler(path, maxBytes=1_000_000, backupCount=5,
                                             encoding="utf-8", errors="backslashreplace")
    ]
    if console and sys.stderr is not None:
        handlers.append(logging.StreamHandler(sys.stderr))
    for handler in handlers:
        handler.setFormatter(formatter)
        handler.addFilter(RedactingFilter())
        handler._gigachat = True  # type: ignore[attr-defined]
        root.addHandler(handler)
    return path
