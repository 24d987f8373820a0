"""Attached files under masking: text documents are masked, files GigaChat reads itself refused.

The bridge can read a plain-text document (.txt / text/plain in UTF-8, UTF-16 with a BOM or
Windows-1251, as 1C writes them): its text is masked with the request's Masker and the
masked bytes, in the same encoding, are what gets uploaded. PDFs, images and other documents
are read by GigaChat itself, so the bridge cannot replace the values inside them: with
masking on they are refused unless the request allows sending them unmasked. File names are
masked too (they are sent in the upload).
"""

from __future__ import annotations

import base64

from gigachat.core.errors import InvalidRequest
from gigachat.local.attachments import decode_base64, split_data_url
from gigachat.local.file_rules import classify
from gigachat.local.masking import Masker

MAX_TEXT_BYTES = 2 * 1024 * 1024  # text documents masked per request (names: ~7 s per MB)
_BOMS = ((b"\xef\xbb\xbf", "utf-8"), (b"\xff\xfe", "utf-16-le"), (b"\xfe\xff", "utf-16-be"))
_ALLOW_BODY = 'добавьте в запрос "allow_unmasked_files": true'
_ALLOW_HEADER = "добавьте заголовок X-Allow-Unmasked-Files: 1"


TEXT, OTHER, INVALID = "text", "other", "invalid"


def file_kind(name: object, mime: object, data: object = None) -> str:
    """TEXT for a document the bridge reads itself (the upload rules' text/plain), OTHER for
    one GigaChat reads, INVALID for what the upload rules refuse anyway (before any upload)."""
    if not isinstance(name, str) or (mime is not None and not isinstance(mime, str)):
        return INVALID
    declared = split_data_url(data)[0] if isinstance(data, str) else None
    try:
        content_type = classify(name, mime or declared, "files")[1]
    except InvalidRequest:
        return INVALID
    return TEXT if content_type == "text/plain" else OTHER


def _shown(name: object) -> str:
    text = name if isinstance(name, str) else "без имени"
    return text if len(text) <= 80 else text[:79] + "…"


def refusal(name: object, field: str, allow_hint: str = _ALLOW_BODY) -> InvalidRequest:
    return InvalidRequest(
        f"Файл «{_shown(name)}» ({field}) нельзя отправить с маскированием персональных "
        "данных: PDF, изображения и другие документы ГигаЧат читает сам, и мост не может "
        "заменить в них персональные данные. Передайте текст документа в поле text или "
        f"файлом .txt — его мост замаскирует; если отправить файл как есть допустимо, "
        f"{allow_hint}.", field=field, code="unmasked_file")


def _files(body: dict) -> list:
    files = body.get("files")
    return files if isinstance(files, list) else []


def check_files(body: dict, allow: bool) -> None:
    """Refuse (InvalidRequest) the first file masking cannot cover, unless `allow`."""
    if allow:
        return
    for index, item in enumerate(_files(body)):
        if isinstance(item, dict) and file_kind(item.get("name"), item.get("mime"),
                                                item.get("data")) == OTHER:
            raise refusal(item.get("name"), f"files[{index}]")


def _decode(data: bytes, name: object, field: str) -> tuple[str, str, bytes]:
    """(text, encoding, BOM) of a text document; InvalidRequest when it is not text."""
    try:
        for bom, encoding in _BOMS:
            if data.startswith(bom):
                return data[len(bom):].decode(encoding), encoding, bom
        try:
            return data.decode("utf-8"), "utf-8", b""
        except UnicodeDecodeError:
            return data.decode("cp1251"), "cp1251", b""
    except UnicodeDecodeError:
        raise InvalidRequest(f"Файл «{_shown(name)}» ({field}): не удалось прочитать его текст "
                             "для маскирования персональных данных (ожидается UTF-8, UTF-16 "
                             "или Windows-1251).", field=field, code="file_text") from None


class _Budget:
    """Bytes of text documents masked so far in the request (bounded time per request)."""

    def __init__(self) -> None:
        self.used = 0

    def take(self, size: int, name: object, field: str) -> None:
        self.used += size
        if self.used > MAX_TEXT_BYTES:
            raise InvalidRequest(
                f"Файл «{_shown(name)}» ({field}): текстовые файлы запроса вместе больше "
                f"{MAX_TEXT_BYTES // (1024 * 1024)} МБ — маскирование персональных данных в них "
                "заняло бы слишком много времени. Разделите документ на части.",
                field=field, code="file_too_large")


def mask_text_base64(data: object, masker: Masker, name: object, field: str,
                     budget: _Budget) -> object:
    """Base64 (or a data: URL; CR LF breaks allowed) of a text document → the same with the
    text masked. A non-string is returned as is (the route's validation refuses it)."""
    if not isinstance(data, str):
        return data
    shown = _shown(name)
    _, encoded = split_data_url(data)
    raw = decode_base64(encoded, shown, field)  # exactly as the upload will decode it
    budget.take(len(raw), name, field)
    text, encoding, bom = _decode(raw, name, field)
    masked = masker.mask(text)
    if masked == text:
        return data
    out = base64.b64encode(bom + masked.encode(encoding)).decode("ascii")
    prefix = data.lstrip()[: len(data.lstrip()) - len(encoded)] if encoded != data else ""
    return prefix + out


def mask_files(body: dict, masker: Masker, allow: bool) -> dict:
    """The 1C body with `files` masked (text documents and every name); others refused
    unless `allow`. A new dict; the caller's body is not changed."""
    files = _files(body)
    if not files:
        return body
    check_files(body, allow)
    budget, out = _Budget(), []
    for index, item in enumerate(files):
        if not isinstance(item, dict):
            out.append(item)
            continue
        field, name = f"files[{index}]", item.get("name")
        item = dict(item)
        if file_kind(name, item.get("mime"), item.get("data")) == TEXT:
            item["data"] = mask_text_base64(item.get("data"), masker, name, field, budget)
        if isinstance(name, str):
            item["name"] = masker.mask(name)
        out.append(item)
    return {**body, "files": out}


def _openai_part(part: dict, masker: Masker, allow: bool, field: str, budget: _Budget) -> dict:
    kind = part.get("type")
    if kind == "text":
        return part
    spec = part.get("file") if kind == "file" else None
    if isinstance(spec, dict):
        name, data = spec.get("filename"), spec.get("file_data")
        if file_kind(name if isinstance(name, str) else "файл", None, data) == TEXT:
            spec = {**spec, "file_data": mask_text_base64(data, masker, name, field, budget)}
            if isinstance(name, str):
                spec["filename"] = masker.mask(name)
            return {**part, "file": spec}
        name = name or "файл"
    else:
        name = "изображение" if kind == "image_url" else f"часть типа {str(kind)[:40]}"
    if not allow:
        raise refusal(name, field, _ALLOW_HEADER)
    if isinstance(spec, dict) and isinstance(spec.get("filename"), str):
        return {**part, "file": {**spec, "filename": masker.mask(spec["filename"])}}
    return part


def mask_openai_parts(body: dict, masker: Masker, allow: bool) -> dict:
    """The OpenAI body with text file parts masked and other non-text parts refused unless
    `allow` (message texts themselves are masked in the GigaChat payload)."""
    messages = body.get("messages")
    if not isinstance(messages, list):
        return body
    budget, changed, out = _Budget(), False, []
    for i, message in enumerate(messages):
        content = message.get("content") if isinstance(message, dict) else None
        if not isinstance(content, list):
            out.append(message)
            continue
        parts = [_openai_part(part, masker, allow, f"messages[{i}].content[{k}]", budget)
                 if isinstance(part, dict) else part for k, part in enumerate(content)]
        changed = True
        out.append({**message, "content": parts})
    return {**body, "messages": out} if changed else body
