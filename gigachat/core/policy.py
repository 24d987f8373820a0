"""The administrator's policy: a machine-wide JSON file next to the program that wins over
the user's settings file and environment.

The NSIS installer's silent presets (``/S /API_URL=… /PROXY=…``) write it as
``policy.json`` beside GigaChatBridge.exe (in Program Files for a per-machine install, where
users cannot change it); ``install.sh --system`` beside the shared program under /opt. Keys
are Settings field names; ``autostart`` is the installer's own and ignored here. A policy
never holds a secret: a proxy URL with a password is refused.
"""

from __future__ import annotations

import json
import logging
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gigachat import SOURCE_ROOT
from gigachat.core.errors import ConfigError

log = logging.getLogger(__name__)

POLICY_NAME = "policy.json"
INSTALLER_ONLY = ("autostart", "all_users", "installer_version")  # written by the installer, not settings
FIXED_LABEL = "задано администратором"  # what the settings dialog shows beside a fixed field


def program_dir() -> Path:
    """The folder holding the program: the frozen .exe's folder, else the source tree."""
    if getattr(sys, "frozen", False):
        return Path(sys.executable).resolve().parent
    return SOURCE_ROOT


def policy_path() -> Path:
    return program_dir() / POLICY_NAME


@dataclass(frozen=True)
class Policy:
    """Fixed values (Settings field -> value) and the file they came from."""

    values: dict[str, Any] = field(default_factory=dict)
    path: Path | None = None

    def fixes(self, name: str) -> bool:
        return name in self.values


def _unreadable(path: Path, why: str) -> ConfigError:
    return ConfigError(
        f"Файл политики администратора {path} {why}. Мост не запустится с неизвестными "
        "настройками администратора: обратитесь к администратору или переустановите программу.",
        code="policy_corrupt")


def load_policy(path: Path | None = None) -> Policy:
    """The policy file as a Policy (empty when there is no file); ConfigError when broken."""
    path = path or policy_path()
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        return Policy()
    except (OSError, UnicodeDecodeError) as exc:
        raise _unreadable(path, f"не читается ({exc.__class__.__name__})") from None
    try:
        data = json.loads(text) if text.strip() else {}
    except json.JSONDecodeError as exc:
        raise _unreadable(path, f"повреждён (ошибка JSON в строке {exc.lineno})") from None
    if not isinstance(data, dict):
        raise _unreadable(path, "повреждён: ожидался объект JSON {...}")
    from gigachat.core.settings import FIELD_TYPES  # lazy: settings imports this module

    values = {}
    for name, value in data.items():
        if name in INSTALLER_ONLY:
            continue
        if name not in FIELD_TYPES:
            log.warning("ignoring unknown policy key %r in %s", name, path)
            continue
        values[name] = value
    return Policy(values, path)
