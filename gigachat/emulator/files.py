"""Files: ``POST /files`` (multipart), listing, content, delete, and chat attachments.

Rules from the facts doc: text documents txt, doc, docx, pdf, epub, ppt, pptx, xlsx (40 MB);
images jpeg, png, tiff, bmp (15 MB); audio mp3, mp4, m4a, wav, weba, ogg, opus (35 MB).
The type is read from the part's Content-Type, or from the file name's extension when that is
``application/octet-stream`` or missing. Errors (UNCONFIRMED texts): an unsupported type →
400 ``Unsupported file type: ...``; over the limit → 413 ``Payload too large: ...``; an
unknown id → 404 ``File not found``; another key's file → 403 ``Permission denied``.
In a chat: more than one image in a message, or more than 10 in a request → 422; images and
audio of one request at 80 MB or more → 413. ``FileStore.history`` keeps the info (with sha256)
of every upload, deleted or not, so a test can check bytes after the bridge has cleaned up.
"""

from __future__ import annotations

import hashlib
import threading
import time
import uuid
from collections import deque
from dataclasses import dataclass
from email.parser import HeaderParser
from email.policy import HTTP
from typing import Any

from gigachat.emulator.protocol import HttpError, Reply, Request

MB = 1024 * 1024
LIMITS = {"text": 40 * MB, "image": 15 * MB, "audio": 35 * MB}
MAX_IMAGES_PER_REQUEST = 10
MEDIA_LIMIT = 80 * MB  # images and audio of one chat request together
HISTORY_LIMIT = 10_000
FIRST_LINE_LIMIT = 200
EXTENSIONS = {
    "text": ("txt", "doc", "docx", "pdf", "epub", "ppt", "pptx", "xlsx"),
    "image": ("jpeg", "jpg", "png", "tiff", "tif", "bmp"),
    "audio": ("mp3", "mp4", "m4a", "wav", "weba", "ogg", "opus"),
}
CONTENT_TYPES = {
    "text/plain": "text",
    "application/msword": "text",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": "text",
    "application/pdf": "text",
    "application/epub+zip": "text",
    "application/vnd.ms-powerpoint": "text",
    "application/vnd.openxmlformats-officedocument.presentationml.presentation": "text",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": "text",
    "image/jpeg": "image",
    "image/png": "image",
    "image/tiff": "image",
    "image/bmp": "image",
    "audio/mpeg": "audio",
    "audio/mp3": "audio",
    "audio/mp4": "audio",
    "video/mp4": "audio",
    "audio/x-m4a": "audio",
    "audio/m4a": "audio",
    "audio/wav": "audio",
    "audio/x-wav": "audio",
    "audio/wave": "audio",
    "audio/webm": "audio",
    "audio/ogg": "audio",
    "audio/opus": "audio",
}


@dataclass
class StoredFile:
    """One uploaded file."""

    id: str
    filename: str
    content_type: str
    modality: str
    data: bytes
    owner: str
    purpose: str
    created_at: int

    def entry(self) -> dict[str, Any]:
        """What the API says about it."""
        return {
            "id": self.id,
            "object": "file",
            "bytes": len(self.data),
            "filename": self.filename,
            "purpose": self.purpose,
            "created_at": self.created_at,
            "access_policy": "private",
        }

    def info(self) -> dict[str, Any]:
        """What tests see (and what a chat answer reports as read)."""
        return {
            **self.entry(),
            "content_type": self.content_type,
            "modality": self.modality,
            "sha256": hashlib.sha256(self.data).hexdigest(),
            "first_line": first_line(self.data)
            if self.modality == "text" and self.content_type == "text/plain"
            else None,
        }


def first_line(data: bytes) -> str:
    """The first line of a text file (BOM dropped, capped)."""
    text = data[: FIRST_LINE_LIMIT * 4].decode("utf-8", "replace").lstrip("\ufeff")
    return text.splitlines()[0][:FIRST_LINE_LIMIT] if text else ""


def file_text(stored: StoredFile) -> str:
    """A plain-text file's content (for ``Поле: значение`` lines), else empty."""
    if stored.content_type != "text/plain":
        return ""
    return stored.data.decode("utf-8", "replace").lstrip("\ufeff")


class FileStore:
    """The account's file storage; thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._files: dict[str, StoredFile] = {}
        self._history: deque[dict[str, Any]] = deque(maxlen=HISTORY_LIMIT)

    @property
    def history(self) -> list[dict[str, Any]]:
        """The info of every successful upload, in order."""
        with self._lock:
            return list(self._history)

    def clear_history(self) -> None:
        with self._lock:
            self._history.clear()

    def all(self) -> list[StoredFile]:
        with self._lock:
            return list(self._files.values())

    def clear(self) -> None:
        with self._lock:
            self._files.clear()

    def get(self, file_id: str, owner: str) -> StoredFile:
        """The file, 404 when unknown, 403 when another key uploaded it."""
        with self._lock:
            stored = self._files.get(file_id)
        if stored is None:
            raise HttpError.api(404, "File not found")
        if stored.owner != owner:
            raise HttpError.api(403, "Permission denied")
        return stored

    def upload(self, request: Request, owner: str) -> Reply:
        """``POST /files``."""
        parts = parse_multipart(request.headers.get("Content-Type") or "", request.body)
        upload = next((p for p in parts if p[0] == "file" and p[1] is not None), None)
        if upload is None:
            raise HttpError.api(400, "Bad request: the multipart part 'file' with a file name is required")
        purpose = next((p[3].decode("utf-8", "replace") for p in parts if p[0] == "purpose"), "general")
        _name, filename, content_type, data = upload
        modality, content_type = classify(filename or "", content_type)
        if len(data) > LIMITS[modality]:
            limit = LIMITS[modality] // MB
            raise HttpError.api(413, f"Payload too large: {modality} files are limited to {limit} MB")
        stored = StoredFile(
            str(uuid.uuid4()), filename or "", content_type, modality, data, owner, purpose, int(time.time())
        )
        info = stored.info()
        with self._lock:
            self._files[stored.id] = stored
            self._history.append(info)
        return Reply(200, stored.entry())

    def listing(self, owner: str) -> Reply:
        with self._lock:
            mine = [f.entry() for f in self._files.values() if f.owner == owner]
        return Reply(200, {"data": mine})

    def delete(self, file_id: str, owner: str) -> Reply:
        stored = self.get(file_id, owner)
        with self._lock:
            self._files.pop(stored.id, None)
        return Reply(200, {"id": stored.id, "deleted": True})

    def attached(self, messages: list[dict[str, Any]], owner: str) -> list[StoredFile]:
        """The files a chat's messages attach, with GigaChat's image rules enforced."""
        files: list[StoredFile] = []
        images = 0
        for index, message in enumerate(messages):
            ids = message.get("attachments") or []
            found = [self.get(file_id, owner) for file_id in ids]
            in_message = sum(1 for f in found if f.modality == "image")
            if in_message > 1:
                raise HttpError.invalid(f"messages[{index}]: only one image per message is allowed")
            images += in_message
            files.extend(found)
        if images > MAX_IMAGES_PER_REQUEST:
            raise HttpError.invalid(f"at most {MAX_IMAGES_PER_REQUEST} images per request are allowed")
        media = sum(len(f.data) for f in files if f.modality in ("image", "audio"))
        if media >= MEDIA_LIMIT:
            raise HttpError.api(
                413,
                f"Payload too large: images and audio of a request must stay under {MEDIA_LIMIT // MB} MB",
            )
        return files


def classify(filename: str, content_type: str | None) -> tuple[str, str]:
    """(modality, content type) of an upload, or 400 for an unsupported type."""
    given = (content_type or "").split(";")[0].strip().lower()
    extension = filename.rpartition(".")[2].lower() if "." in filename else ""
    if given in CONTENT_TYPES:
        return CONTENT_TYPES[given], given
    if given in ("", "application/octet-stream"):
        for modality, extensions in EXTENSIONS.items():
            if extension in extensions:
                return modality, given or "application/octet-stream"
    raise HttpError.api(400, f"Unsupported file type: {given or '?'} ({filename or 'no name'})")


def parse_multipart(content_type: str, body: bytes) -> list[tuple[str, str | None, str | None, bytes]]:
    """``multipart/form-data`` parts as (name, filename, content type, bytes); 400 when malformed."""
    header = HeaderParser(policy=HTTP).parsestr(f"Content-Type: {content_type}\r\n\r\n")
    boundary = header.get_param("boundary")
    if header.get_content_type() != "multipart/form-data" or not isinstance(boundary, str) or not boundary:
        raise HttpError.api(400, "Bad request: multipart/form-data with a boundary expected")
    delimiter = b"--" + boundary.encode("latin-1")
    start = body.find(delimiter)
    if start < 0 or (start and not body[:start].endswith(b"\r\n")):
        raise HttpError.api(400, "Bad request: multipart boundary not found")
    parts = []
    position = start + len(delimiter)
    while True:
        if body.startswith(b"--", position):
            return parts
        if not body.startswith(b"\r\n", position):
            raise HttpError.api(400, "Bad request: malformed multipart body")
        end = body.find(b"\r\n" + delimiter, position + 2)
        if end < 0:
            raise HttpError.api(400, "Bad request: multipart body is not terminated")
        parts.append(_part(body[position + 2 : end]))
        position = end + 2 + len(delimiter)


def _part(raw: bytes) -> tuple[str, str | None, str | None, bytes]:
    head, sep, data = raw.partition(b"\r\n\r\n")
    if not sep:
        head, data = (b"", raw[2:]) if raw.startswith(b"\r\n") else (raw, b"")
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError:
        raise HttpError.api(400, "Bad request: multipart headers are not UTF-8") from None
    headers = HeaderParser(policy=HTTP).parsestr(text + "\r\n\r\n")
    name = headers.get_param("name", header="content-disposition")
    filename = headers.get_filename()
    if not isinstance(name, str):
        raise HttpError.api(400, "Bad request: a multipart part has no name")
    return name, filename, headers.get("Content-Type"), data
