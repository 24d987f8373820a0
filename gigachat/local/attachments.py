"""Files a request carries: decode and check them, upload, attach to messages, delete after.

`files` is a list of ``{"name": "счёт 15.pdf", "data": "<base64>", "mime"?: "..."}``; the
base64 may hold line breaks (1C's Base64Строка puts CR LF every 76 characters) and may be a
``data:`` URL. Everything is checked (file_rules) before the first upload. GigaChat takes one
image per message: the request's last user message gets the documents, audio and the last
image; every other image goes in its own user message just before it.
"""

from __future__ import annotations

import binascii
import re
import time
from collections.abc import Callable
from pathlib import Path

from gigachat.core.bridge import Bridge
from gigachat.core.errors import BridgeError, GigaChatError, InvalidRequest
from gigachat.core.files import FileKeeper, FileLedger, ledger_path
from gigachat.core.models import substitute
from gigachat.local.file_rules import (
    TYPES,
    FileInput,
    check_counts,
    check_media,
    checked,
    classify,
)

NAME_LIMIT = 255
_CONTROL = re.compile("[\x00-\x1f\x7f]")
_DATA_URL = re.compile(r"^data:([^;,]*)(?:;[^,]*)?;base64,", re.IGNORECASE)
_LEDGERS: dict[Path, FileLedger] = {}  # one per file in the process: every keeper shares it


def file_name(value: object, field: str) -> str:
    """A file's name as GigaChat gets it: the last path component, no control characters."""
    if not isinstance(value, str) or not value.strip():
        raise InvalidRequest(f"Поле {field}.name: укажите имя файла с расширением, например "
                             "«счёт 15.pdf».", field=f"{field}.name")
    name = _CONTROL.sub("", value.replace("\\", "/").rsplit("/", 1)[-1]).strip()
    if not name:
        raise InvalidRequest(f"Поле {field}.name: в имени файла нет ничего, кроме пути.",
                             field=f"{field}.name")
    return name[:NAME_LIMIT]


def split_data_url(text: str) -> tuple[str | None, str]:
    """(declared type or None, base64 text) of a ``data:`` URL; plain base64 as it is."""
    match = _DATA_URL.match(text[:300].lstrip())
    if match is None:
        return None, text
    return (match.group(1) or None), text.lstrip()[match.end():]


_BASE64_TEXT = re.compile(r"[A-Za-z0-9+/\-_=\s]*")
_URLSAFE = str.maketrans("-_", "+/")


def decode_base64(text: str, name: str, field: str) -> bytes:
    """Base64 with any whitespace (CR LF every 76 characters), optional padding, either
    alphabet. Checked with one scan, decoded straight from the text: no copy of a large file
    as a list of lines or as bytes before its decoded form."""
    try:
        if not _BASE64_TEXT.fullmatch(text):
            raise ValueError("not base64")
        if "-" in text or "_" in text:
            text = text.translate(_URLSAFE)  # the URL-safe alphabet
        size = len(text) - sum(text.count(ch) for ch in " \t\r\n\x0b\x0c")
        if size % 4 == 1:
            raise ValueError("a base64 length can never leave one character over")
        if size % 4 and not text.rstrip().endswith("="):
            text += "=" * (-size % 4)
        return binascii.a2b_base64(text)
    except (binascii.Error, ValueError):
        raise InvalidRequest(f"Файл «{name}» ({field}): данные не в формате base64. Передайте "
                             "содержимое файла так, как его возвращает Base64Строка().",
                             field=field, code="file_data") from None


def read_files(body: dict, field: str = "files") -> list[FileInput]:
    """The request's `files`, decoded and checked against GigaChat's rules; [] when absent."""
    raw = body.get(field)
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise InvalidRequest(f"Поле {field} должно быть списком файлов вида "
                             '{"name": "счёт.pdf", "data": "<base64>"}.', field=field)
    found: list[tuple[FileInput, str]] = []
    for index, item in enumerate(raw):
        where = f"{field}[{index}]"
        if not isinstance(item, dict):
            raise InvalidRequest(f"Поле {where} должно быть объектом с полями name и data.",
                                 field=where)
        name = file_name(item.get("name"), where)
        data, mime = item.get("data"), item.get("mime")
        if not isinstance(data, str):
            raise InvalidRequest(f"Поле {where}.data должно быть строкой base64 с содержимым "
                                 f"файла «{name}».", field=f"{where}.data")
        if mime is not None and not isinstance(mime, str):
            raise InvalidRequest(f"Поле {where}.mime должно быть строкой, например "
                                 "«application/pdf».", field=f"{where}.mime")
        declared, text = split_data_url(data)
        kind, content_type = classify(name, mime or declared, where)
        found.append((FileInput(name, kind, content_type, b"", where), text))
    check_counts([item for item, _ in found])  # before decoding anything
    files = []
    for item, text in found:
        item.data = decode_base64(text, item.name, item.field)
        files.append(checked(item))
    check_media(files)
    return files


def arrange(message: dict, files: list[FileInput], ids: list[str]) -> list[dict]:
    """One user message with its files as GigaChat takes them (one image per message)."""
    if not files:
        return [message]
    images = [(f, i) for f, i in zip(files, ids, strict=True) if f.kind == "image"]
    others = [i for f, i in zip(files, ids, strict=True) if f.kind != "image"]
    extra = [{"role": "user", "content": f"Изображение «{f.name}».", "attachments": [i]}
             for f, i in images[:-1]]
    last = {**message, "attachments": [*message.get("attachments", []), *others,
                                       *(i for _, i in images[-1:])]}
    return [*extra, last]


def attach_last(messages: list[dict], files: list[FileInput], ids: list[str]) -> list[dict]:
    """`messages` with the files on the last user message (see arrange)."""
    index = max(i for i, m in enumerate(messages) if m.get("role") == "user")
    return messages[:index] + arrange(messages[index], files, ids) + messages[index + 1:]


def keeper_for(bridge: Bridge) -> FileKeeper:
    """The file keeper of this bridge: ids in the per-user ledger (in memory for the demo)."""
    if bridge.demo:
        return FileKeeper(bridge.client, FileLedger(None))
    path = ledger_path()
    ledger = _LEDGERS.get(path)
    if ledger is None:
        ledger = _LEDGERS[path] = FileLedger(path)
    return FileKeeper(bridge.client, ledger)


def files_model(bridge: Bridge, requested: str | None) -> str:
    """The model for a request with files: the one it names, else the files model setting
    (or the closest chat model GigaChat lists when that one is not served here)."""
    if requested:
        return requested
    wanted = bridge.settings.files_model
    try:
        available = bridge.client.chat_models()
    except BridgeError:
        return wanted
    return wanted if wanted in available else substitute(wanted, available) or wanted


class Uploads:
    """The uploads of one request: `upload(files)`, then `close()` deletes them (always)."""

    def __init__(self, keeper: FileKeeper, deadline: float | None = None) -> None:
        self.keeper = keeper
        self.deadline = deadline
        self.ids: list[str] = []

    def upload(self, files: list[FileInput]) -> list[str]:
        """Upload each file (in order); their ids."""
        new = []
        for item in files:
            try:
                new.append(self.keeper.upload(item.name, item.data, item.mime, self.deadline))
            except GigaChatError as error:  # say which file GigaChat did not take
                raise type(error)(error.detail, status=error.status, request_id=error.request_id,
                                  message=f"ГигаЧат не принял файл «{item.name}» "
                                          f"({item.field}): {error.message}") from None
            self.ids.append(new[-1])
        return new

    def close(self) -> None:
        ids, self.ids = self.ids, []
        self.keeper.delete_all(ids)

    def __enter__(self) -> Uploads:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def chat_with_files(keeper: FileKeeper, payload: dict, files: list[FileInput],
                    chat: Callable[[dict], dict], deadline: float | None = None) -> dict:
    """`chat(payload)` with `files` uploaded and attached to the last user message; the
    uploads are deleted afterwards, whatever happened."""
    if not files:
        return chat(payload)
    with Uploads(keeper, deadline) as uploads:
        ids = uploads.upload(files)
        return chat({**payload, "messages": attach_last(payload["messages"], files, ids)})


def request_deadline(bridge: Bridge) -> float:
    """The whole request's deadline (uploads and calls together)."""
    return time.monotonic() + bridge.settings.request_timeout


# --- OpenAI content parts -------------------------------------------------------------

FILES_KEY = "_files"  # a GigaChat message's files until upload_message_files (never sent)
_EXTENSIONS = {mime: ext for ext, (_, mime) in reversed(list(TYPES.items()))}


def _data_file(data: object, name: str | None, field: str, fallback: str) -> FileInput:
    if not isinstance(data, str) or not data.strip():
        raise InvalidRequest(f"Поле {field}: нужны данные файла в base64 (data: URL).",
                             field=field)
    declared, text = split_data_url(data)
    if name is None:
        name = f"{fallback}.{_EXTENSIONS.get((declared or '').lower(), 'bin')}"
    name = file_name(name, field)
    kind, mime = classify(name, declared, field)
    return checked(FileInput(name, kind, mime, decode_base64(text, name, field), field))


def part_file(part: dict, field: str, number: int) -> FileInput:
    """An OpenAI content part (image_url with a data: URL, file with file_data, input_audio)
    as a file to upload; InvalidRequest for what cannot be sent."""
    kind = part.get("type")
    if kind == "image_url":
        spec = part.get("image_url")
        url = spec.get("url") if isinstance(spec, dict) else spec
        if isinstance(url, str) and not url.lstrip().lower().startswith("data:"):
            raise InvalidRequest(f"Поле {field}.image_url.url: мост не скачивает изображения по "
                                 "ссылке — передайте изображение как data: URL с base64.",
                                 field=f"{field}.image_url.url")
        return _data_file(url, None, f"{field}.image_url.url", f"изображение {number}")
    if kind == "file":
        spec = part.get("file") if isinstance(part.get("file"), dict) else {}
        if spec.get("file_id") and not spec.get("file_data"):
            raise InvalidRequest(f"Поле {field}.file.file_id: файлы, загруженные в OpenAI, мосту "
                                 "недоступны — передайте содержимое в file_data (base64).",
                                 field=f"{field}.file.file_id")
        name = spec.get("filename") if isinstance(spec.get("filename"), str) else None
        return _data_file(spec.get("file_data"), name, f"{field}.file.file_data",
                          f"файл {number}")
    if kind == "input_audio":
        spec = part.get("input_audio") if isinstance(part.get("input_audio"), dict) else {}
        fmt = spec.get("format") if isinstance(spec.get("format"), str) else "wav"
        data = spec.get("data")
        if isinstance(data, str) and not data.lstrip().lower().startswith("data:"):
            data = f"data:{TYPES.get(fmt.lower(), ('', 'audio/wav'))[1]};base64,{data}"
        return _data_file(data, f"аудио {number}.{fmt.lower()}", f"{field}.input_audio.data",
                          f"аудио {number}")
    raise InvalidRequest(f"{field}: поддерживаются части text, image_url, file и input_audio, "
                         f"получено {str(kind)[:40]!r}.", field=field)


def message_files(messages: list[dict]) -> list[FileInput]:
    """Every file the messages carry; the per-request rules checked (before any upload)."""
    files = [item for message in messages for item in message.get(FILES_KEY) or []]
    check_counts(files)
    check_media(files)
    return files


def upload_message_files(payload: dict, uploads: Uploads) -> dict:
    """The payload with each message's files uploaded and attached (one image per message)."""
    messages = []
    for message in payload["messages"]:
        files = message.get(FILES_KEY)
        base = {k: v for k, v in message.items() if k != FILES_KEY}
        messages.extend(arrange(base, files, uploads.upload(files)) if files else [base])
    return {**payload, "messages": messages}
