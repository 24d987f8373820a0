"""Files through the live bridge to the emulator: byte-exact 1C requests, uploads attached to the
chat call and deleted afterwards, refusals before any upload, leftovers of a crash swept at the
next start, and OpenAI content parts (through the official `openai` package)."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re

import pytest
import requests

from gigachat.core.files import FileKeeper, FileLedger, ledger_path
from tests.bridge_process import raw_exchange
from tests.conftest import service_for, wait_for
from tests.onec_wire import onec_json, onec_request

CYRILLIC = re.compile("[А-Яа-яЁё]")
MB = 1024 * 1024
# A small real PDF (one page) followed by random bytes: every byte value, CR LF, NUL.
PDF = (b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n2 0 obj<</Type/Pages/Kids[3 0 R]"
       b"/Count 1>>endobj\n3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 612 792]>>endobj\n"
       b"trailer<</Root 1 0 R>>\n%%EOF\n") + os.urandom(50_000) + b"\r\n\x00\r\n"
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + os.urandom(30_000)


def onec_base64(data: bytes) -> str:
    """Base64Строка(): CR LF every 76 characters."""
    text = base64.b64encode(data).decode()
    return "\r\n".join(text[i:i + 76] for i in range(0, len(text), 76))


@pytest.fixture
def data_dir(tmp_path, monkeypatch):
    """The per-user data dir (the uploaded-files ledger) in a temp folder."""
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    return tmp_path / "data"


@pytest.fixture
def service(emulator, data_dir):
    svc = service_for(emulator)
    yield svc
    svc.stop()


def send_1c(service, path: str, body: dict) -> dict:
    """The request exactly as 1C sends it (BOM, Content-Length, CR LF in strings)."""
    status, headers, raw = onec_request("127.0.0.1", service.server.port, path,
                                        onec_json(body), timeout=60)
    assert status == 200 and headers["content-type"] == "application/json; charset=utf-8"
    return json.loads(raw)


def no_upload_made(emulator) -> None:
    assert emulator.uploads == [] and emulator.files == []
    assert not [e for e in emulator.api_log if "/files" in e["path"]]
    assert emulator.stats.get("chat_calls", 0) == 0


def test_pdf_and_png_from_1c_arrive_byte_identical_attached_and_deleted(service, emulator,
                                                                          data_dir):
    answer = send_1c(service, "/analyze/text", {
        "text": "Сверь счёт со сканом", "system_prompt": "Ты бухгалтер.", "return_format": "text",
        "files": [{"name": "счёт 15.pdf", "data": onec_base64(PDF)},
                  {"name": "скан счёта.png", "data": onec_base64(PNG)}]})
    assert answer["success"] is True, answer
    uploads = emulator.uploads
    assert [(u["filename"], u["content_type"], u["sha256"]) for u in uploads] == [
        ("счёт 15.pdf", "application/pdf", hashlib.sha256(PDF).hexdigest()),
        ("скан счёта.png", "image/png", hashlib.sha256(PNG).hexdigest())]
    assert all(u["purpose"] == "general" for u in uploads)
    (call,) = emulator.chat_log
    assert {f["id"] for f in call["files"]} == {u["id"] for u in uploads}
    assert call["model"] == "GigaChat-2-Max"  # the files model: the request named none
    assert answer["model"].startswith("GigaChat-2-Max")
    assert hashlib.sha256(PDF).hexdigest() in answer["result"]  # what the model "read"
    assert emulator.files == [] and emulator.stats["files_stored"] == 0  # deleted at once
    deletes = [e["path"] for e in emulator.api_log if e["path"].endswith("/delete")]
    assert sorted(deletes) == sorted(f"/api/v1/files/{u['id']}/delete" for u in uploads)
    assert not ledger_path(data_dir / "GigaChatBridge").exists()
    assert not list(data_dir.rglob("*.json"))  # the ledger removes itself when empty


@pytest.mark.parametrize("files, fragments", [
    ([{"name": f"скан {i}.png", "data": onec_base64(PNG)} for i in range(1, 12)],
     ("11 изображений", "не больше 10", "«скан 11.png»")),
    ([{"name": "большой скан.png", "data": onec_base64(PNG + bytes(16 * MB - len(PNG)))}],
     ("«большой скан.png»", "16,0 МБ", "не больше 15 МБ")),
    ([{"name": "setup.exe", "data": onec_base64(b"MZ\x90\x00" + bytes(1000))}],
     ("«setup.exe»", "«.exe»", "не принимает", "pdf")),
], ids=["eleven-images", "16-MB-image", "exe"])
def test_refused_before_any_upload_with_a_russian_message(service, emulator, files, fragments):
    answer = send_1c(service, "/analyze/text", {"text": "Что в файлах?", "files": files})
    assert answer["success"] is False and answer["result"] == "", answer
    assert CYRILLIC.search(answer["error"])
    for fragment in fragments:
        assert fragment in answer["error"], answer["error"]
    no_upload_made(emulator)


def test_files_are_deleted_when_the_chat_call_fails(emulator, data_dir):
    svc = service_for(emulator, request_timeout=3.0)
    try:
        emulator.inject(status=500, path="/chat/completions", times=50)
        answer = send_1c(svc, "/analyze/text", {
            "text": "Что в файле?", "files": [{"name": "акт.pdf", "data": onec_base64(PDF)}]})
        assert answer["success"] is False and CYRILLIC.search(answer["error"])
        assert len(emulator.uploads) == 1 and emulator.files == []
    finally:
        emulator.clear_faults()
        svc.stop()


def test_a_refused_upload_leaves_nothing_and_says_why(service, emulator):
    emulator.inject(status=400, path="/files", message="Unsupported file type")
    answer = send_1c(service, "/analyze/text", {
        "text": "x", "files": [{"name": "акт.pdf", "data": onec_base64(PDF)}]})
    assert answer["success"] is False and "«акт.pdf»" in answer["error"], answer
    assert emulator.files == [] and emulator.stats.get("chat_calls", 0) == 0


def test_files_left_by_a_crash_are_deleted_at_the_next_start(emulator, data_dir):
    first = service_for(emulator)
    keeper = FileKeeper(first.bridge.client, FileLedger(ledger_path(data_dir / "GigaChatBridge")))
    left = [keeper.upload("договор.pdf", PDF, "application/pdf") for _ in range(2)]
    first.stop()  # as if the process died between upload and delete: the ledger keeps the ids
    ledger = next(data_dir.rglob("uploaded-files.json"))
    assert {e["id"] for e in json.loads(ledger.read_text())} == set(left)
    assert "договор" not in ledger.read_text()  # ids only, never names or content
    assert {f["id"] for f in emulator.files} == set(left)
    second = service_for(emulator)
    try:
        wait_for(lambda: emulator.files == [] and not ledger.exists(), timeout=30)
    finally:
        second.stop()


def test_openai_content_parts_become_uploads_and_attachments(service, emulator):
    import openai

    client = openai.OpenAI(base_url=service.url + "/v1", api_key="unused", max_retries=0)
    png_url = "data:image/png;base64," + base64.b64encode(PNG).decode()
    pdf_data = "data:application/pdf;base64," + base64.b64encode(PDF).decode()
    parts = [{"type": "text", "text": "Сверь документы"},
             {"type": "image_url", "image_url": {"url": png_url}},
             {"type": "image_url", "image_url": {"url": png_url, "detail": "high"}},
             {"type": "file", "file": {"filename": "акт.pdf", "file_data": pdf_data}}]
    chat = client.chat.completions.create(model="GigaChat-2-Max",
                                          messages=[{"role": "user", "content": parts}])
    assert hashlib.sha256(PDF).hexdigest() in chat.choices[0].message.content
    names = [u["filename"] for u in emulator.uploads]
    assert names == ["изображение 1.png", "изображение 2.png", "акт.pdf"]
    assert [u["sha256"] for u in emulator.uploads] == [hashlib.sha256(d).hexdigest()
                                                       for d in (PNG, PNG, PDF)]
    (call,) = emulator.chat_log  # two images: two messages (GigaChat takes one per message)
    assert len(call["files"]) == 3 and call["texts"][-1] == "Сверь документы"
    assert emulator.files == []
    stream = client.chat.completions.create(
        model="GigaChat-2-Max", stream=True,
        messages=[{"role": "user", "content": parts[:2]}])
    text = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
    assert hashlib.sha256(PNG).hexdigest() in text
    wait_for(lambda: emulator.files == [], timeout=10)
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(model="GigaChat-2-Max", messages=[{"role": "user",
            "content": [{"type": "image_url", "image_url": {"url": "https://example.org/a.png"}}]}])
    assert "data: URL" in caught.value.response.json()["error"]["message"]


def test_a_body_over_the_files_cap_is_refused_in_russian(emulator, data_dir):
    svc = service_for(emulator, max_files_body_bytes=3 * MB)
    try:
        body = onec_json({"text": "x", "files": [{"name": "a.pdf",
                                                 "data": onec_base64(PDF + bytes(3 * MB))}]})
        status, _, raw = onec_request("127.0.0.1", svc.server.port, "/analyze/text", body)
        assert status == 413 and CYRILLIC.search(json.loads(raw)["error"])
        ok = requests.post(svc.url + "/analyze/text", timeout=30, json={
            "text": "x", "files": [{"name": "a.pdf", "data": onec_base64(PDF + bytes(MB))}]})
        assert ok.json()["success"] is True  # over the plain 2 MB cap, under the files cap
        assert emulator.files == []
        big = requests.post(svc.url + "/v1/embeddings", timeout=30,
                            json={"input": ["x" * (2 * MB + 10)]})
        assert big.status_code == 413  # routes without files keep the plain cap
        chunked = b"POST /analyze/extract HTTP/1.1\r\nHost: 127.0.0.1\r\n" \
                  b"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n" \
                  + b"%x\r\n" % (4 * MB) + b"[" * (4 * MB) + b"\r\n0\r\n\r\n"
        answer = raw_exchange(svc.server.port, chunked)
        assert answer.startswith(b"HTTP/1.1 413") and "МБ".encode() in answer
    finally:
        svc.stop()
