"""GigaChat's rules for files, checked before anything is uploaded (Russian refusals).

From the facts doc («Files»): documents txt, doc, docx, pdf, epub, ppt, pptx, xlsx (40 MB);
images jpeg, png, tiff, bmp (15 MB); audio mp3, mp4, m4a, wav, weba, ogg, opus (35 MB);
images and audio of one request together under 80 MB; one image per message (the bridge
arranges messages) and at most 10 images per request. A file whose first bytes do not match
its type (an .exe renamed to .pdf) is refused too: GigaChat would refuse it after the upload.
"""

from __future__ import annotations

from dataclasses import dataclass

from gigachat.core.errors import InvalidRequest

MB = 1024 * 1024
LIMITS = {"document": 40 * MB, "image": 15 * MB, "audio": 35 * MB}
MEDIA_LIMIT = 80 * MB  # images and audio of one request together, strictly under
MAX_IMAGES = 10
MAX_FILES = 30  # files of one request (documents included): bounds the work per request

# extension → (kind, content type sent to GigaChat)
TYPES: dict[str, tuple[str, str]] = {
    "txt": ("document", "text/plain"),
    "doc": ("document", "application/msword"),
    "docx": ("document",
             "application/vnd.openxmlformats-officedocument.wordprocessingml.document"),
    "pdf": ("document", "application/pdf"),
    "epub": ("document", "application/epub+zip"),
    "ppt": ("document", "application/vnd.ms-powerpoint"),
    "pptx": ("document",
             "application/vnd.openxmlformats-officedocument.presentationml.presentation"),
    "xlsx": ("document", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
    "jpg": ("image", "image/jpeg"),
    "jpeg": ("image", "image/jpeg"),
    "png": ("image", "image/png"),
    "tif": ("image", "image/tiff"),
    "tiff": ("image", "image/tiff"),
    "bmp": ("image", "image/bmp"),
    "mp3": ("audio", "audio/mpeg"),
    "mp4": ("audio", "audio/mp4"),
    "m4a": ("audio", "audio/mp4"),
    "wav": ("audio", "audio/wav"),
    "weba": ("audio", "audio/webm"),
    "ogg": ("audio", "audio/ogg"),
    "opus": ("audio", "audio/opus"),
}
_MIME_ALIASES = {"image/jpg": "image/jpeg", "image/x-ms-bmp": "image/bmp", "audio/mp3": "audio/mpeg",
                 "audio/x-wav": "audio/wav", "audio/wave": "audio/wav", "audio/x-m4a": "audio/mp4",
                 "audio/m4a": "audio/mp4"}
BY_MIME: dict[str, tuple[str, str]] = {mime: (kind, mime) for kind, mime in TYPES.values()}

_ZIP = (b"PK\x03\x04",)
_OLE = (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1",)
SIGNATURES: dict[str, tuple[bytes, ...]] = {  # content type → accepted first bytes
    "application/pdf": (b"%PDF-",),
    "image/png": (b"\x89PNG\r\n\x1a\n",),
    "image/jpeg": (b"\xff\xd8\xff",),
    "image/tiff": (b"II*\x00", b"MM\x00*"),
    "image/bmp": (b"BM",),
    "application/msword": _OLE,
    "application/vnd.ms-powerpoint": _OLE,
    "application/epub+zip": _ZIP,
    TYPES["docx"][1]: _ZIP,
    TYPES["pptx"][1]: _ZIP,
    TYPES["xlsx"][1]: _ZIP,
}
_EXECUTABLE = (b"MZ", b"\x7fELF", b"\xcf\xfa\xed\xfe")
_KIND_WORDS = {"document": "документ", "image": "изображение", "audio": "аудиофайл"}
SUPPORTED_TEXT = ("документы (txt, doc, docx, pdf, epub, ppt, pptx, xlsx), изображения "
                  "(jpeg, png, tiff, bmp) и аудио (mp3, mp4, m4a, wav, weba, ogg, opus)")


@dataclass
class FileInput:
    """One decoded file of a request: its name, kind, content type and bytes."""

    name: str
    kind: str  # document | image | audio
    mime: str
    data: bytes
    field: str = "files"  # where it came from, for messages (files[0], messages[1].content[2])


def megabytes(size: int) -> str:
    """`16777216` → `16,0 МБ`."""
    return f"{size / MB:.1f}".replace(".", ",") + " МБ"


def classify(name: str, mime: str | None, field: str) -> tuple[str, str]:
    """(kind, content type) of a file by its declared type, else by its extension."""
    declared = (mime or "").split(";")[0].strip().lower()
    declared = _MIME_ALIASES.get(declared, declared)
    if declared in BY_MIME:
        return BY_MIME[declared]
    extension = name.rpartition(".")[2].lower() if "." in name else ""
    if declared in ("", "application/octet-stream", "binary/octet-stream") and extension in TYPES:
        return TYPES[extension]
    what = f"тип «{declared}»" if declared not in ("", "application/octet-stream") else (
        f"расширение «.{extension}»" if extension else "файл без расширения")
    raise InvalidRequest(f"Файл «{name}» ({field}): {what} ГигаЧат не принимает. Можно "
                         f"отправить {SUPPORTED_TEXT}.", field=field, code="file_type")


def check_content(item: FileInput) -> None:
    """Refuse an empty file, or one whose first bytes contradict its type."""
    if not item.data:
        raise InvalidRequest(f"Файл «{item.name}» ({item.field}) пустой: в поле data нет данных.",
                             field=item.field, code="file_empty")
    expected = SIGNATURES.get(item.mime)
    if expected is not None and not item.data.startswith(expected):
        raise InvalidRequest(f"Файл «{item.name}» ({item.field}): содержимое не похоже на "
                             f"{item.mime.rpartition('/')[2].upper()}, хотя так названо. "
                             "Проверьте, тот ли файл отправлен.", field=item.field,
                             code="file_type")
    if expected is None and item.data.startswith(_EXECUTABLE):
        raise InvalidRequest(f"Файл «{item.name}» ({item.field}) — исполняемая программа, а не "
                             f"{_KIND_WORDS[item.kind]}. ГигаЧат такие файлы не принимает.",
                             field=item.field, code="file_type")


def check_size(item: FileInput) -> None:
    limit = LIMITS[item.kind]
    if len(item.data) > limit:
        raise InvalidRequest(
            f"Файл «{item.name}» ({item.field}): {_KIND_WORDS[item.kind]} размером "
            f"{megabytes(len(item.data))}, а ГигаЧат принимает {_KIND_WORDS[item.kind]} не больше "
            f"{limit // MB} МБ. Уменьшите файл (например, сожмите скан) или разделите его.",
            field=item.field, code="file_too_large")


def check_counts(files: list[FileInput]) -> None:
    """How many files and images one request may carry (only names and kinds are needed)."""
    if len(files) > MAX_FILES:
        raise InvalidRequest(f"В запросе {len(files)} файлов, мост принимает не больше "
                             f"{MAX_FILES} в одном запросе. Разделите запрос на части.",
                             field="files", code="too_many_files")
    images = [f for f in files if f.kind == "image"]
    if len(images) > MAX_IMAGES:
        extra = ", ".join(f"«{f.name}»" for f in images[MAX_IMAGES:])
        raise InvalidRequest(f"В запросе {len(images)} изображений, а ГигаЧат принимает не "
                             f"больше {MAX_IMAGES} изображений в одном запросе. Лишние: {extra}. "
                             "Отправьте их отдельным запросом.", field=images[MAX_IMAGES].field,
                             code="too_many_images")


def check_media(files: list[FileInput]) -> None:
    """Images and audio of one request together stay under MEDIA_LIMIT."""
    media = sum(len(f.data) for f in files if f.kind in ("image", "audio"))
    if media >= MEDIA_LIMIT:
        raise InvalidRequest(f"Изображения и аудио запроса вместе занимают {megabytes(media)}, "
                             f"а ГигаЧат принимает меньше {MEDIA_LIMIT // MB} МБ на запрос. "
                             "Отправьте их несколькими запросами.", field="files",
                             code="file_too_large")


def checked(item: FileInput) -> FileInput:
    """One file with its own rules applied (content, then size)."""
    check_content(item)
    check_size(item)
    return item
