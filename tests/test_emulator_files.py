"""Emulator ``/files``: multipart upload, type and size rules, management, chat attachments."""

from __future__ import annotations

import hashlib
import os

import pytest
import requests

from gigachat.emulator import files as emulator_files
from gigachat.emulator import make_key
from tests import test_emulator
from tests.test_emulator import TIMEOUT, USER, call, chat, token_for

make_emulator = test_emulator.make_emulator  # the shared fixture
MB = 1024 * 1024
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4
TRICKY = os.urandom(4096) + b"\r\n--boundary\r\n\r\n--\r\n" + bytes(range(256)) + b"\r\n"


def upload(emu, token, name, data, content_type="application/octet-stream", purpose="general", **kwargs):
    files = {"file": (name, data, content_type)}
    return call(emu, "POST", "/files", token, files=files, data={"purpose": purpose}, **kwargs)


def uploaded_id(emu, token, name, data, content_type="application/octet-stream") -> str:
    reply = upload(emu, token, name, data, content_type)
    assert reply.status_code == 200, reply.text
    return reply.json()["id"]


def with_files(*ids, text="Что в файлах?"):
    return [{"role": "user", "content": text, "attachments": list(ids)}]


# --------------------------------------------------------------------------- upload and management


def test_upload_keeps_bytes_name_and_type(emulator):
    token = token_for(emulator)
    reply = upload(emulator, token, "счёт №15 от 01.12.pdf", TRICKY, "application/pdf")
    assert reply.status_code == 200
    entry = reply.json()
    assert set(entry) >= {"id", "object", "bytes", "filename", "purpose", "created_at"}
    assert entry["object"] == "file" and entry["purpose"] == "general"
    assert entry["bytes"] == len(TRICKY) and entry["filename"] == "счёт №15 от 01.12.pdf"
    (stored,) = emulator.files
    assert stored["sha256"] == hashlib.sha256(TRICKY).hexdigest()
    assert stored["content_type"] == "application/pdf" and stored["modality"] == "text"
    assert emulator.file_content(entry["id"]) == TRICKY
    content = call(emulator, "GET", f"/files/{entry['id']}/content", token)
    assert content.content == TRICKY and content.headers["Content-Type"] == "application/pdf"


def test_list_get_and_delete(emulator):
    token = token_for(emulator)
    first = uploaded_id(emulator, token, "a.txt", b"one", "text/plain")
    second = uploaded_id(emulator, token, "b.png", PNG, "image/png")
    listing = call(emulator, "GET", "/files", token).json()["data"]
    assert {entry["id"] for entry in listing} == {first, second}
    assert call(emulator, "GET", f"/files/{second}", token).json()["filename"] == "b.png"
    deleted = call(emulator, "POST", f"/files/{first}/delete", token)
    assert deleted.json() == {"id": first, "deleted": True}
    assert call(emulator, "GET", f"/files/{first}", token).json() == {
        "status": 404,
        "message": "File not found",
    }
    assert call(emulator, "POST", f"/files/{first}/delete", token).status_code == 404
    assert [f["id"] for f in emulator.files] == [second]
    control = emulator.base_url + "/_emulator/files"
    assert [f["id"] for f in requests.get(control, timeout=TIMEOUT).json()["data"]] == [second]
    cleared = requests.delete(control, timeout=TIMEOUT).json()
    assert cleared["data"] == [] and [f["id"] for f in cleared["uploads"]] == [first, second]
    assert emulator.files == [] and emulator.stats["files_stored"] == 0
    history = emulator.uploads  # what was uploaded stays checkable after the deletes
    assert [(f["filename"], f["sha256"]) for f in history] == [
        ("a.txt", hashlib.sha256(b"one").hexdigest()),
        ("b.png", hashlib.sha256(PNG).hexdigest()),
    ]
    emulator.reset()
    assert emulator.uploads == []


def test_type_by_extension_when_the_content_type_says_nothing(emulator):
    token = token_for(emulator)
    for name in ("скан.JPG", "акт.docx", "запись.ogg", "таблица.xlsx"):
        assert upload(emulator, token, name, b"x").status_code == 200
    assert sorted(f["modality"] for f in emulator.files) == ["audio", "image", "text", "text"]


@pytest.mark.parametrize(
    ("name", "content_type"),
    [
        ("setup.exe", "application/x-msdownload"),
        ("setup.exe", "application/octet-stream"),
        ("noext", "application/octet-stream"),
        ("page.html", "text/html"),
    ],
)
def test_unsupported_type_is_refused(emulator, name, content_type):
    token = token_for(emulator)
    reply = upload(emulator, token, name, b"MZ\x90\x00", content_type)
    assert reply.status_code == 400
    assert reply.json()["message"].startswith("Unsupported file type")
    assert emulator.files == []


@pytest.mark.parametrize(
    ("name", "content_type", "limit"),
    [("big.png", "image/png", 15), ("big.mp3", "audio/mpeg", 35), ("big.pdf", "application/pdf", 40)],
)
def test_size_limits(emulator, name, content_type, limit):
    token = token_for(emulator)
    at_limit = b"\0" * (limit * MB)
    assert upload(emulator, token, name, at_limit, content_type).status_code == 200
    over = upload(emulator, token, name, at_limit + b"\0", content_type)
    assert over.status_code == 413
    assert over.json()["message"].startswith("Payload too large") and f"{limit} MB" in over.json()["message"]
    assert len(emulator.files) == 1 and len(emulator.uploads) == 1


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("application/json", b"{}"),
        ("multipart/form-data", b"--x\r\n\r\n--x--"),
        ("multipart/form-data; boundary=x", b"no boundary here"),
        ("multipart/form-data; boundary=x", b'--x\r\nContent-Disposition: form-data; name="file"\r\n\r\nabc'),
        (
            "multipart/form-data; boundary=x",
            b'--x\r\nContent-Disposition: form-data; name="purpose"\r\n\r\ngeneral\r\n--x--\r\n',
        ),
        (
            "multipart/form-data; boundary=x",
            b'--x\r\nContent-Disposition: form-data; name="file"; '
            b'filename="\xff.txt"\r\n\r\nabc\r\n--x--\r\n',
        ),
    ],
)
def test_malformed_uploads_are_400(emulator, content_type, body):
    token = token_for(emulator)
    reply = call(emulator, "POST", "/files", token, data=body, headers={"Content-Type": content_type})
    assert reply.status_code == 400 and reply.json()["status"] == 400
    assert emulator.files == []


def test_a_hand_written_multipart_body(emulator):
    token = token_for(emulator)
    body = (
        b'preamble\r\n--b0\r\nContent-Disposition: form-data; name="purpose"\r\n\r\ngeneral\r\n'
        b"--b0\r\nContent-Disposition: form-data; name=\"file\"; "
        b"filename*=UTF-8''%D1%81%D1%87%D1%91%D1%82.txt"
        b"\r\nContent-Type: text/plain\r\n\r\nline 1\r\nline 2\r\n--b0--\r\nepilogue"
    )
    headers = {"Content-Type": 'multipart/form-data; boundary="b0"'}
    reply = call(emulator, "POST", "/files", token, data=body, headers=headers)
    assert reply.status_code == 200, reply.text
    assert reply.json()["filename"] == "счёт.txt" and reply.json()["bytes"] == len(b"line 1\r\nline 2")


def test_files_belong_to_the_key_that_uploaded_them(make_emulator):
    other = make_key("other", "secret")
    emu = make_emulator(keys={make_key("me", "s"): ["GIGACHAT_API_PERS"], other: ["GIGACHAT_API_PERS"]})
    mine = token_for(emu, key=make_key("me", "s"))
    theirs = token_for(emu, key=other)
    file_id = uploaded_id(emu, mine, "a.txt", b"x", "text/plain")
    assert call(emu, "GET", f"/files/{file_id}", theirs).json() == {
        "status": 403,
        "message": "Permission denied",
    }
    assert call(emu, "GET", "/files", theirs).json() == {"data": []}
    assert chat(emu, theirs, messages=with_files(file_id)).status_code == 403


def test_files_need_a_token(emulator):
    assert requests.get(emulator.api_url + "/files", timeout=TIMEOUT).status_code == 401


# --------------------------------------------------------------------------- attachments


def test_the_answer_names_the_files_it_read(emulator):
    token = token_for(emulator)
    text = "\ufeffДоговор поставки №127\r\nСумма: 100\r\n".encode()
    doc = uploaded_id(emulator, token, "договор.txt", text, "text/plain")
    image = uploaded_id(emulator, token, "скан.png", PNG, "image/png")
    body = chat(emulator, token, messages=with_files(doc, image, text="Прочитай")).json()
    content = body["choices"][0]["message"]["content"]
    assert (
        f"- «договор.txt»: {len(text)} байт, sha256 {hashlib.sha256(text).hexdigest()}, "
        "первая строка: «Договор поставки №127»"
    ) in content
    assert f"- «скан.png»: {len(PNG)} байт, sha256 {hashlib.sha256(PNG).hexdigest()}" in content
    (entry,) = emulator.chat_log
    assert [f["id"] for f in entry["files"]] == [doc, image]


def test_unknown_attachment_is_an_error(emulator):
    token = token_for(emulator)
    reply = chat(emulator, token, messages=with_files("00000000-0000-4000-8000-000000000000"))
    assert reply.status_code == 404 and reply.json() == {"status": 404, "message": "File not found"}
    bad = chat(emulator, token, messages=[{**USER, "attachments": "not-a-list"}])
    assert bad.status_code == 422 and bad.json()["message"].startswith("Invalid params: ")


def test_one_image_per_message(emulator):
    token = token_for(emulator)
    images = [uploaded_id(emulator, token, f"{i}.png", PNG, "image/png") for i in range(2)]
    doc = uploaded_id(emulator, token, "a.pdf", b"%PDF", "application/pdf")
    reply = chat(emulator, token, messages=with_files(*images))
    assert reply.status_code == 422
    assert reply.json()["message"].startswith("Invalid params: ") and "one image" in reply.json()["message"]
    assert chat(emulator, token, messages=with_files(images[0], doc)).status_code == 200


def test_at_most_ten_images_per_request(emulator):
    token = token_for(emulator)
    images = [uploaded_id(emulator, token, f"{i}.jpg", PNG, "image/jpeg") for i in range(11)]
    messages = []
    for image in images:
        messages += [
            {"role": "user", "content": "фото", "attachments": [image]},
            {"role": "assistant", "content": "вижу"},
        ]
    messages.append(USER)
    reply = chat(emulator, token, messages=messages)
    assert reply.status_code == 422 and "10 images" in reply.json()["message"]
    trimmed = messages[2:]
    assert chat(emulator, token, messages=trimmed).status_code == 200


def test_images_and_audio_of_a_request_stay_under_80_mb(emulator, monkeypatch):
    monkeypatch.setattr(emulator_files, "MEDIA_LIMIT", 3000)  # the rule, at a size a test can afford
    token = token_for(emulator)
    image = uploaded_id(emulator, token, "a.png", b"\0" * 1000, "image/png")
    audio = uploaded_id(emulator, token, "a.mp3", b"\0" * 1999, "audio/mpeg")
    doc = uploaded_id(emulator, token, "a.pdf", b"\0" * 5000, "application/pdf")
    assert chat(emulator, token, messages=with_files(image, audio, doc)).status_code == 200  # documents apart
    more = uploaded_id(emulator, token, "b.mp3", b"\0", "audio/mpeg")
    reply = chat(emulator, token, messages=with_files(image, audio, more))
    assert reply.status_code == 413 and reply.json()["message"].startswith("Payload too large")
    assert "80 MB" in (emulator_files.__doc__ or "")
