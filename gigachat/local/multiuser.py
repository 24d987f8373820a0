"""Many users on one host (terminal servers): the mode, each user's port, the connection file.

- Mode: `multi_user` (env GIGACHAT_BRIDGE_MULTIUSER) true/false, or auto: on when the OS
  says this is a remote/terminal session (one thin function per OS).
- Port: stable per OS user, keyed on the user NAME (never the numeric uid alone): a hash of
  the name picks the first try in `port_range`, the next free port is taken if that one is
  busy, and the choice is remembered in the user's local state folder, so a restart keeps it.
- Connection file (port, key, pid, version, URL), readable by this user only (0600 in a 0700
  folder; a user-only ACL on Windows), removed at exit. Where: the user's temporary folder —
  exactly what 1C's КаталогВременныхФайлов() returns in the same session (on Windows %TEMP%
  is per user, and per session on a terminal server) — as
  ``<temp>/GigaChatBridge/connection.json``. When the temporary folder is shared by all
  users (plain /tmp on Linux), the file goes to ``<home>/.GigaChatBridge/connection.json``
  instead, next to what КаталогДокументов() starts from; a shared folder is never used.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import socket
import stat
import subprocess
import sys
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import platformdirs

from gigachat import APP_NAME, __version__
from gigachat.core.settings_rules import multi_user_value, port_range

log = logging.getLogger(__name__)

CONNECTION_NAME = "connection.json"
PORT_STATE_NAME = "port.json"


def user_name(environ: Mapping[str, str] = os.environ) -> str:
    """The OS account name: USERNAME (Windows), USER or LOGNAME, else the password database."""
    for name in ("USERNAME", "USER", "LOGNAME") if sys.platform == "win32" else (
            "USER", "LOGNAME", "USERNAME"):
        if (environ.get(name) or "").strip():
            return environ[name].strip()
    import getpass

    return getpass.getuser()


# --- the mode ------------------------------------------------------------------------------


def _windows_remote_session() -> bool:
    """A Remote Desktop / terminal-services session (GetSystemMetrics(SM_REMOTESESSION))."""
    import ctypes

    sm_remotesession = 0x1000
    if ctypes.windll.user32.GetSystemMetrics(sm_remotesession):
        return True
    return not os.environ.get("SESSIONNAME", "Console").lower().startswith("console")


def _linux_remote_session(environ: Mapping[str, str]) -> bool:
    """xrdp / X2Go sessions, or several graphical sessions on this host (loginctl)."""
    if environ.get("XRDP_SESSION") or environ.get("X2GO_SESSION") or environ.get("X2GO_AGENT_PID"):
        return True
    try:
        listing = subprocess.run(["loginctl", "list-sessions", "--no-legend", "-o", "json"],
                                 capture_output=True, text=True, timeout=5, check=False).stdout
        sessions = json.loads(listing or "[]")
    except (OSError, ValueError, subprocess.SubprocessError):
        return False
    users = {s.get("user") for s in sessions if isinstance(s, dict)
             and s.get("class", "user") == "user"}
    return len(users - {None, ""}) > 1


def remote_session(environ: Mapping[str, str] = os.environ) -> bool:
    """Whether the OS reports a remote or shared (terminal-server) session."""
    try:
        if sys.platform == "win32":
            return _windows_remote_session()
        return _linux_remote_session(environ)
    except Exception:  # noqa: BLE001 - detection must never stop the start
        log.exception("session detection failed; assuming a single-user desktop")
        return False


def enabled(setting: str, environ: Mapping[str, str] = os.environ,
            detect: Callable[[Mapping[str, str]], bool] = remote_session) -> bool:
    """The `multi_user` setting (env already merged): true, false, or auto (detect)."""
    value = multi_user_value(setting) or "auto"
    return detect(environ) if value == "auto" else value == "true"


# --- the port ------------------------------------------------------------------------------


def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    """Whether the local server could bind host:port now (as it binds: SO_REUSEADDR on POSIX)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        if sys.platform == "win32":
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_EXCLUSIVEADDRUSE, 1)
        else:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def preferred_port(name: str, first: int, last: int) -> int:
    """The first port to try for user `name`: the same on every start and every host."""
    digest = hashlib.sha256(name.strip().lower().encode("utf-8")).digest()
    return first + int.from_bytes(digest[:8], "big") % (last - first + 1)


def state_dir() -> Path:
    """This user's local (not roaming) state folder."""
    return Path(platformdirs.user_state_dir(APP_NAME, appauthor=False))


def choose_port(name: str, range_text: str, state_file: Path | None = None,
                is_free: Callable[[int], bool] = port_is_free) -> int:
    """This user's port: the remembered one if still in range and free, else the hashed one or
    the next free after it; remembered for the next start. ConfigError when all are busy."""
    from gigachat.core.errors import ConfigError

    first, last = port_range(range_text) or (8100, 8999)
    state_file = state_file or state_dir() / PORT_STATE_NAME
    remembered = None
    with contextlib.suppress(OSError, ValueError, TypeError, AttributeError):
        data = json.loads(state_file.read_text(encoding="utf-8"))
        if data.get("user") == name and first <= int(data["port"]) <= last:
            remembered = int(data["port"])
    start = preferred_port(name, first, last)
    span = last - first + 1
    candidates = [remembered] if remembered else []
    candidates += [first + (start - first + i) % span for i in range(span)]
    for port in candidates:
        if is_free(port):
            if port != remembered:
                try:  # remembering is a convenience: a failure must not stop the start
                    _write_private(state_file, {"user": name, "port": port})
                except OSError as error:
                    log.warning("port choice not remembered: %s", error)
            return port
    raise ConfigError(f"Все порты диапазона {first}-{last} заняты. Попросите администратора "
                      "расширить диапазон (настройка port_range) или остановите лишние копии "
                      "моста.", code="port_range_full")


# --- the connection file -------------------------------------------------------------------


def _shared(folder: Path) -> bool:
    """A folder other users can write to (sticky /tmp), where our file must not go."""
    if sys.platform == "win32":
        return False
    try:
        info = folder.stat()
    except OSError:
        return True
    return bool(info.st_mode & (stat.S_IWGRP | stat.S_IWOTH)) or info.st_uid != os.geteuid()


def connection_path(environ: Mapping[str, str] = os.environ) -> Path:
    """Where this user's connection file lives (see the module docstring for why)."""
    temp = Path(environ.get("TMPDIR") or environ.get("TEMP") or environ.get("TMP")
                or tempfile.gettempdir())
    if not _shared(temp):
        return temp / APP_NAME / CONNECTION_NAME
    home = Path(environ.get("HOME") or environ.get("USERPROFILE") or Path.home())
    return home / f".{APP_NAME}" / CONNECTION_NAME


def _restrict_windows(path: Path) -> None:
    """A user-only ACL: no inherited entries, full control for this user alone."""
    user, domain = os.environ.get("USERNAME", ""), os.environ.get("USERDOMAIN", "")
    account = f"{domain}\\{user}" if domain else user
    done = subprocess.run(["icacls", str(path), "/inheritance:r", "/grant:r", f"{account}:F"],
                          capture_output=True, timeout=30, check=False)
    if done.returncode != 0:
        raise PermissionError(f"icacls could not restrict {path} to {account}")


def _private_dir(folder: Path) -> None:
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    if sys.platform == "win32":
        _restrict_windows(folder)
        return
    info = os.lstat(folder)
    if stat.S_ISLNK(info.st_mode) or info.st_uid != os.geteuid():
        raise PermissionError(f"{folder} is not this user's own folder")
    os.chmod(folder, 0o700)


def _write_private(path: Path, data: dict) -> None:
    """Write JSON readable by this user only, atomically (temp file + os.replace)."""
    _private_dir(path.parent)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_NOFOLLOW", 0), 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            json.dump(data, out, ensure_ascii=False, indent=2)
        if sys.platform == "win32":
            _restrict_windows(tmp)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise


@dataclass(frozen=True)
class Connection:
    """What the connection file holds. `key` is this user's local API key."""

    port: int
    key: str
    url: str
    user: str
    pid: int = field(default_factory=os.getpid)
    version: str = __version__


def write_connection(connection: Connection, path: Path | None = None) -> Path:
    path = path or connection_path()
    _write_private(path, {"port": connection.port, "key": connection.key, "url": connection.url,
                          "pid": connection.pid, "version": connection.version,
                          "user": connection.user})
    log.info("connection file written: %s (port %d)", path, connection.port)
    return path


def remove_connection(path: Path, pid: int | None = None) -> None:
    """Remove the file if it is ours (a newer bridge's file is left alone)."""
    pid = os.getpid() if pid is None else pid
    with contextlib.suppress(OSError, ValueError, TypeError):
        if json.loads(path.read_text(encoding="utf-8")).get("pid") != pid:
            return
    with contextlib.suppress(FileNotFoundError):
        path.unlink()


# --- what the Service calls ------------------------------------------------------------------


def user_settings(settings: Any, environ: Mapping[str, str] = os.environ) -> Any:
    """Multi-user mode's settings: this user's own port from `port_range` (port 0, «any free
    port», stays as it is) and the local API key always on."""
    port = settings.port if settings.port == 0 else choose_port(user_name(environ),
                                                                settings.port_range)
    return settings.with_changes(port=port, api_key_enabled=True)


def publish(port: int, key: str, url: str, environ: Mapping[str, str] = os.environ) -> Path:
    """Write this user's connection file; its path."""
    return write_connection(Connection(port, key, url, user_name(environ)), connection_path(environ))


def read_connection(path: Path) -> dict | None:
    """A connection file's content, or None when there is none (or it is unreadable)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None
