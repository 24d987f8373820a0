"""`tray_app.py --status`: what this user's bridge uses, as JSON (no secret in it).

version, the port and URL in use (the running bridge's, from its connection file in
multi-user mode, else the one it would use), whether it answers, the mode (single/multi), and
the paths of the settings, the logs, the job database, the connection file and the policy.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Mapping
from typing import Any

from gigachat import __version__
from gigachat.core.logs import log_dir
from gigachat.core.policy import policy_path
from gigachat.core.settings import Settings, config_path
from gigachat.local import multiuser
from gigachat.local.jobs.store import jobs_path


def _answers(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1.0):
            return True
    except OSError:
        return False


def _planned_port(settings: Settings, environ: Mapping[str, str]) -> int:
    """The port a multi-user start would take now, without remembering anything."""
    first_last = multiuser.port_range(settings.port_range) or (8100, 8999)
    remembered = multiuser.read_connection(multiuser.state_dir() / multiuser.PORT_STATE_NAME)
    if remembered and remembered.get("user") == multiuser.user_name(environ):
        return int(remembered.get("port", 0)) or multiuser.preferred_port(
            multiuser.user_name(environ), *first_last)
    return multiuser.preferred_port(multiuser.user_name(environ), *first_last)


def status(settings: Settings, environ: Mapping[str, str] = os.environ) -> dict[str, Any]:
    multi = multiuser.enabled(settings.multi_user, environ)
    connection = multiuser.connection_path(environ)
    published = multiuser.read_connection(connection) if multi else None
    if published and isinstance(published.get("port"), int):
        port = published["port"]
    else:
        port = _planned_port(settings, environ) if multi else settings.port
    host = "127.0.0.1" if settings.host in ("0.0.0.0", "::", "") else settings.host
    url = f"http://{f'[{host}]' if ':' in host else host}:{port}"
    return {
        "version": __version__,
        "mode": "multi" if multi else "single",
        "user": multiuser.user_name(environ),
        "port": port,
        "url": url,
        "running": _answers(host, port),
        "api_key_required": multi or settings.api_key_enabled,
        "paths": {
            "settings": str(config_path()),
            "policy": str(policy_path()),
            "logs": str(log_dir()),
            "jobs_database": str(jobs_path()),
            "connection_file": str(connection),
        },
    }
