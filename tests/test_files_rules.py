"""Files a request carries: base64 as 1C writes it, GigaChat's rules before any upload, the
message arrangement (one image per message), the multipart body and the ids ledger."""

from __future__ import annotations

import base64
import json
import re
import stat
from email.parser import BytesParser
from email.policy import HTTP

import pytest

from gigachat.core.errors import InvalidRequest
from gigachat.core.files import FileLedger, ledger_path, multipart
from gigachat.local.attachments import arrange, attach_last, decode_base64, read_files
from gigachat.local.file_rules import MB, FileInput

CYRILLIC = re.compile("[А-Яа-яЁё]")
PDF = b"%PDF-1.7\n" + bytes(range(256)) * 3
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 2


def onec_base64(data: bytes) -> str:
    """Base64Строка(): CR LF every 76 characters."""
    text = base64.b64encode(data).decode()
    return "\r\n".join(text[i:i + 76] for i in range(0, len(text), 76))


def refused(body: dict, *fragments: str) -> InvalidRequest:
    with pytest.raises(InvalidRequest) as caught:
        read_files(body)
    message = caught.value.message
    assert CYRILLIC.search(message), message
    for fragment in fragments:
        assert fragment in message, message
    return caught.value


def test_base64_with_crlf_every_76_characters_decodes_exactly():
    text = onec_base64(PDF)
    assert "\r\n" in text and max(len(line) for line in text.split("\r\n")) == 76
    (item,) = read_files({"files": [{"name": "счёт 15.pdf", "data": text}]})
    assert item.data == PDF and item.mime == "application/pdf" and item.kind == "document"


def test_data_url_unpadded_and_urlsafe_base64_are_accepted():
    data = base64.b64encode(PNG).decode()
    assert decode_base64(data.rstrip("="), "a.png", "files[0]") == PNG
    urlsafe = base64.urlsafe_b64encode(PNG).decode()
    assert decode_base64(urlsafe, "a.png", "files[0]") == PNG
    (item,) = read_files({"files": [{"name": "скан", "data": "data:image/png;base64," + data}]})
    assert item.mime == "image/png" and item.data == PNG


def test_garbage_base64_names_the_file():
    error = refused({"files": [{"name": "акт.pdf", "data": "это не base64!"}]}, "акт.pdf", "base64")
    assert error.field == "files[0]"


def test_unsupported_type_names_file_and_rule():
    refused({"files": [{"name": "setup.exe", "data": "TVqQAA=="}]}, "setup.exe", ".exe", "pdf")
    refused({"files": [{"name": "x.pdf", "data": "TVqQAA==", "mime": "application/x-msdownload"}]},
            "x.pdf", "application/x-msdownload")


def test_content_must_match_the_type():
    exe_as_pdf = base64.b64encode(b"MZ\x90\x00" + bytes(100)).decode()
    refused({"files": [{"name": "счёт.pdf", "data": exe_as_pdf}]}, "счёт.pdf", "PDF")
    refused({"files": [{"name": "пустой.txt", "data": ""}]}, "пустой.txt", "пустой")


def test_sizes_per_kind():
    big_png = base64.b64encode(PNG + bytes(15 * MB)).decode()
    refused({"files": [{"name": "скан.png", "data": big_png}]}, "скан.png", "15 МБ")
    ok_pdf = base64.b64encode(PDF + bytes(15 * MB)).decode()
    assert read_files({"files": [{"name": "большой.pdf", "data": ok_pdf}]})[0].kind == "document"


def test_eleven_images_refused_naming_the_extra_one():
    png = base64.b64encode(PNG).decode()
    files = [{"name": f"скан {i}.png", "data": png} for i in range(1, 12)]
    error = refused({"files": files}, "11 изображений", "10", "«скан 11.png»")
    assert error.field == "files[10]"
    assert len(read_files({"files": files[:10]})) == 10


def test_wrong_shapes_name_the_field():
    assert refused({"files": "a.pdf"}).field == "files"
    assert refused({"files": ["a.pdf"]}).field == "files[0]"
    assert refused({"files": [{"data": "AAAA"}]}).field == "files[0].name"
    assert refused({"files": [{"name": "a.pdf", "data": 5}]}).field == "files[0].data"
    assert read_files({"files": None}) == [] and read_files({}) == []


def test_path_in_the_name_is_dropped():
    data = base64.b64encode(PDF).decode()
    (item,) = read_files({"files": [{"name": "C:\\Документы\\акт\r\n 5.pdf", "data": data}]})
    assert item.name == "акт 5.pdf"


def test_one_image_per_message():
    files = [FileInput("a.png", "image", "image/png", PNG), FileInput("d.pdf", "document",
             "application/pdf", PDF), FileInput("b.png", "image", "image/png", PNG)]
    messages = attach_last([{"role": "system", "content": "s"}, {"role": "user", "content": "q"}],
                           files, ["id-a", "id-d", "id-b"])
    assert messages[0] == {"role": "system", "content": "s"}
    assert messages[1] == {"role": "user", "content": "Изображение «a.png».", "attachments": ["id-a"]}
    assert messages[2] == {"role": "user", "content": "q", "attachments": ["id-d", "id-b"]}
    assert arrange({"role": "user", "content": "q"}, [], []) == [{"role": "user", "content": "q"}]


def test_multipart_body_keeps_bytes_name_and_type():
    data = PDF + b"\r\n--not-a-boundary\r\n"
    body, content_type = multipart("счёт \"15\".pdf", data, "application/pdf")
    message = BytesParser(policy=HTTP).parsebytes(
        f"Content-Type: {content_type}\r\n\r\n".encode() + body)
    parts = {p.get_param("name", header="content-disposition"): p for p in message.iter_parts()}
    assert parts["purpose"].get_content() == "general"
    assert parts["file"].get_content_type() == "application/pdf"
    assert parts["file"].get_payload(decode=True) == data
    assert "счёт %2215%22.pdf" in parts["file"]["Content-Disposition"]


def test_ledger_keeps_ids_only_private_and_removes_itself(tmp_path):
    path = ledger_path(tmp_path)
    ledger = FileLedger(path)
    ledger.add("https://api/v1", "id-1")
    ledger.add("https://other/v1", "id-2")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    saved = json.loads(path.read_text())
    assert {e["id"] for e in saved} == {"id-1", "id-2"} and set(saved[0]) == {"id", "api", "at"}
    again = FileLedger(path)  # the next start reads what the last one left
    assert again.pending("https://api/v1") == ["id-1"]
    again.remove("id-1")
    again.remove("id-2")
    assert not path.exists()


def test_openai_parts_become_files_and_count_against_the_rules():
    from gigachat.local.attachments import FILES_KEY
    from gigachat.local.openai_request import chat_request_to_gigachat

    png = "data:image/png;base64," + base64.b64encode(PNG).decode()
    wav = base64.b64encode(b"RIFF\x00\x00\x00\x00WAVEfmt ").decode()
    payload = chat_request_to_gigachat({"messages": [{"role": "user", "content": [
        {"type": "text", "text": "Что здесь?"},
        {"type": "image_url", "image_url": {"url": png}},
        {"type": "input_audio", "input_audio": {"data": wav, "format": "wav"}},
        {"type": "file", "file": {"filename": "акт.pdf",
                                  "file_data": base64.b64encode(PDF).decode()}}]}]})
    (message,) = payload["messages"]
    assert message["content"] == "Что здесь?"
    assert [(f.name, f.mime) for f in message[FILES_KEY]] == [
        ("изображение 1.png", "image/png"), ("аудио 2.wav", "audio/wav"),
        ("акт.pdf", "application/pdf")]
    for part, field in [
        ({"type": "image_url", "image_url": {"url": "https://example.org/a.png"}},
         "messages[0].content[0].image_url.url"),
        ({"type": "file", "file": {"file_id": "file-abc"}}, "messages[0].content[0].file.file_id"),
        ({"type": "file", "file": {"filename": "x.exe", "file_data": "TVqQAA=="}},
         "messages[0].content[0].file.file_data"),
    ]:
        with pytest.raises(InvalidRequest) as caught:
            chat_request_to_gigachat({"messages": [{"role": "user", "content": [part]}]})
        assert caught.value.field == field and CYRILLIC.search(caught.value.message)
    eleven = [{"type": "image_url", "image_url": {"url": png}}] * 11
    with pytest.raises(InvalidRequest, match="11 изображений"):
        chat_request_to_gigachat({"messages": [{"role": "user", "content": eleven}]})
    with pytest.raises(InvalidRequest, match="«user»"):  # files only in user messages
        chat_request_to_gigachat({"messages": [{"role": "system", "content": eleven[:1]},
                                               {"role": "user", "content": "x"}]})


def test_files_settings_defaults_environment_and_file(tmp_path):
    from gigachat.core.errors import ConfigError
    from gigachat.core.settings import load_settings

    absent = tmp_path / "absent.json"
    defaults = load_settings({}, path=absent)
    assert defaults.files_model == "GigaChat-2-Max"
    assert defaults.max_files_body_bytes == 50 * MB and defaults.max_body_bytes == 2 * MB
    assert load_settings({"GIGACHAT_FILES_MODEL": "GigaChat-2-Pro"},
                         path=absent).files_model == "GigaChat-2-Pro"
    config = tmp_path / "settings.json"
    config.write_text(json.dumps({"max_files_body_bytes": 80 * MB}), encoding="utf-8")
    assert load_settings({}, path=config).max_files_body_bytes == 80 * MB
    config.write_text(json.dumps({"max_files_body_bytes": -1}), encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_settings({}, path=config)
    assert "max_files_body_bytes" in caught.value.message and CYRILLIC.search(caught.value.message)
