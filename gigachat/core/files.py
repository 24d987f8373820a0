"""Files in GigaChat's storage: upload (multipart), delete, and a ledger of ids not yet deleted.

Uploaded files stay in the account's storage until deleted, and they are business documents.
The bridge deletes each upload after the answer; the ledger (a small JSON file in the per-user
data dir holding only file ids, the API address and the upload time — never a name or a
byte of content) remembers the ids between upload and delete, so a crash in between is
cleaned up by `FileKeeper.sweep()` at the next start.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from urllib.parse import quote

import platformdirs

from gigachat import APP_NAME
from gigachat.core.errors import BridgeError, GigaChatError, UnexpectedAnswer

log = logging.getLogger(__name__)

LEDGER_NAME = "uploaded-files.json"
LEDGER_LIMIT = 1000  # ids kept at most (the oldest are forgotten first)
DELETE_DEADLINE = 15.0  # seconds for one delete (after the answer: keep it short)
DELETE_ATTEMPTS = 2


def ledger_path(folder: str | Path | None = None) -> Path:
    """The ledger file in the per-user data dir (or in `folder`)."""
    base = Path(folder) if folder else Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))
    return base / LEDGER_NAME


class FileLedger:
    """Ids uploaded and not yet deleted, per API address; `path=None` keeps them in memory.

    The file is read afresh for every change (it is tiny and changes twice per upload), so
    what another run (or another ledger on the same file) wrote is never overwritten.
    """

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._memory: list[dict] = []

    def _load(self) -> list[dict]:
        if self.path is None:
            return self._memory
        try:
            raw = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return []
        except (OSError, ValueError):
            log.warning("the uploaded-files ledger %s is unreadable; starting afresh", self.path)
            return []
        return [e for e in raw if isinstance(e, dict) and isinstance(e.get("id"), str)
                and isinstance(e.get("api"), str)] if isinstance(raw, list) else []

    def _save(self, entries: list[dict]) -> None:
        if self.path is None:
            self._memory = entries
            return
        try:
            if not entries:
                self.path.unlink(missing_ok=True)
                return
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=".uploads-", dir=self.path.parent)
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                json.dump(entries, out)
            os.chmod(tmp, 0o600)
            os.replace(tmp, self.path)
        except OSError as error:
            log.warning("cannot write the uploaded-files ledger %s: %s", self.path, error)

    def add(self, api: str, file_id: str) -> None:
        with self._lock:
            entries = self._load()
            entries.append({"id": file_id, "api": api, "at": int(time.time())})
            self._save(entries[-LEDGER_LIMIT:])

    def remove(self, file_id: str) -> None:
        with self._lock:
            entries = self._load()
            kept = [e for e in entries if e["id"] != file_id]
            if len(kept) != len(entries):
                self._save(kept)

    def pending(self, api: str) -> list[str]:
        """Ids uploaded to `api` and not yet deleted."""
        with self._lock:
            return [e["id"] for e in self._load() if e["api"] == api]


_HTML5_ESCAPES = {'"': "%22", "\\": "\\\\", **{chr(c): f"%{c:02X}" for c in range(32) if c != 27}}


def multipart(name: str, data: bytes, mime: str, purpose: str = "general") -> tuple[bytes, str]:
    """The `file` part (real name and type) and the `purpose` field; (body, content type)."""
    boundary = uuid.uuid4().hex
    while boundary.encode() in data:  # practically never; keeps the body unambiguous
        boundary = uuid.uuid4().hex
    quoted = "".join(_HTML5_ESCAPES.get(ch, ch) for ch in name)  # as requests/httpx send it
    head = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"purpose\"\r\n\r\n"
            f"{purpose}\r\n--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; "
            f"filename=\"{quoted}\"\r\n"
            f"Content-Type: {mime}\r\n\r\n").encode()
    tail = f"\r\n--{boundary}--\r\n".encode("ascii")
    return b"".join((head, data, tail)), f"multipart/form-data; boundary={boundary}"


class FileKeeper:
    """Uploads files for one request and deletes them afterwards; sweeps leftovers at start.

    `client` is the GigaChatClient (its gate, token and retries); `ledger` remembers ids.
    """

    def __init__(self, client, ledger: FileLedger) -> None:
        self._client = client
        self._ledger = ledger
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def api(self) -> str:
        return self._client.api_url

    def upload(self, name: str, data: bytes, mime: str, deadline: float | None = None) -> str:
        """POST /files; the new file's id (recorded in the ledger before returning)."""
        body, content_type = multipart(name, data, mime)
        answer = self._client.post_bytes("/files", body, content_type, deadline=deadline)
        file_id = answer.get("id") if isinstance(answer, dict) else None
        if not isinstance(file_id, str) or not file_id:
            raise UnexpectedAnswer("upload answer without id",
                                   message="ГигаЧат принял файл, но не вернул его номер (id).")
        self._ledger.add(self.api, file_id)
        return file_id

    def delete(self, file_id: str) -> bool:
        """POST /files/{id}/delete; True when the file is gone (deleted or already unknown)."""
        try:
            self._client.post_empty(f"/files/{quote(file_id, safe='')}/delete",
                                    deadline=time.monotonic() + DELETE_DEADLINE,
                                    attempts=DELETE_ATTEMPTS)
        except GigaChatError as error:
            if error.status != 404:
                log.warning("cannot delete uploaded file %s: %s (left for the next start)",
                            file_id, error.code)
                return False
        except BridgeError as error:  # no key any more: try again at the next start
            log.warning("cannot delete uploaded file %s: %s", file_id, error.code)
            return False
        self._ledger.remove(file_id)
        return True

    def delete_all(self, ids: list[str]) -> int:
        """Delete every id (each tried once); how many are gone."""
        return sum(1 for file_id in ids if self.delete(file_id))

    def sweep(self) -> int:
        """Delete what an earlier run uploaded and never deleted (a crash); how many."""
        gone = 0
        for file_id in self._ledger.pending(self.api):
            if self._stop.is_set():
                break
            gone += self.delete(file_id)
        if gone:
            log.info("deleted %d file(s) left in GigaChat's storage by an earlier run", gone)
        return gone

    def start_sweep(self, on_done: Callable[[int], None] | None = None) -> None:
        """Run sweep() in the named thread `gigachat-files-sweep` when the ledger has ids."""
        if not self._ledger.pending(self.api):
            return

        def run() -> None:
            try:
                gone = self.sweep()
            except Exception:  # a sweep must never take the program down
                log.exception("sweeping uploaded files failed")
                gone = 0
            if on_done is not None:
                on_done(gone)

        self._thread = threading.Thread(target=run, name="gigachat-files-sweep", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the sweep after its current delete."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
