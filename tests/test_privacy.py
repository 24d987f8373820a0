"""Personal-data masking on every route, against the live bridge and the emulator (issue 17).

The emulator records everything it received: no original value may be among it, and the 1C
caller must get every original back (result, HTML, OpenAI answers and SSE chunks, jobs'
partial and result).
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import re

import pytest

from gigachat.local.masking import Masker
from tests.conftest import wait_for
from tests.jobs_stack import Bridge, batch, text_job
from tests.onec_wire import onec_json, onec_request

VALUES = {  # valid checksums (tests/masking_corpus.py, seed 17)
    "ИНН ИП": "150366485601", "ИНН": "6764542848", "СНИЛС": "280-232-883 59",
    "карта": "4276 8114 6187 9263", "телефон": "+7 (999) 506-59-05",
    "почта": "zakupki@romashka.ru", "паспорт": "62 11 № 708254",
}
NAME = "Смирнов Алексей Петрович"
TEXT = (f"Договор с ИП {NAME} (ИНН {VALUES['ИНН ИП']}), заказчик ООО «Ромашка», ИНН "
        f"{VALUES['ИНН']}. СНИЛС {VALUES['СНИЛС']}, паспорт {VALUES['паспорт']}. Карта "
        f"{VALUES['карта']}, телефон {VALUES['телефон']}, почта {VALUES['почта']}. Сумма "
        "2 450 000,00 руб., заказ № 4815162342.")
MASKED = {"ИНН": 2, "СНИЛС": 1, "ПАСПОРТ": 1, "КАРТА": 1, "ТЕЛЕФОН": 1, "ПОЧТА": 1, "ФИО": 1}
# What a model does to placeholders: re-cases, re-spaces, escapes them.
REPLY = ("Стороны: [ФИО_1], ИНН [инн 1] и [ИНН_2]; СНИЛС [ СНИЛС_1 ], паспорт \\[ПАСПОРТ\\_1\\], "
         "карта **[КАРТА_1]**, телефон [ТЕЛЕФОН-1], почта [ПОЧТА_1]. Сумма 2 450 000,00 руб.")
ORIGINALS = [*VALUES.values(), NAME]
IDENTIFIER = re.compile(r"^[^\W\d]\w*$")


def digits(text: str) -> str:
    return re.sub(r"\D", "", text)


def leaked(emulator) -> list[str]:
    """Originals found in anything the emulator received (digits compared without spaces)."""
    sent = json.dumps([emulator.received_texts, emulator.chat_log], ensure_ascii=False)
    found = [v for v in VALUES.values() if digits(v) and digits(v) in digits(sent)]
    found += [v for v in (VALUES["почта"], "Смирнов", "Алексей", "Петрович") if v in sent]
    return found


def returned_all(text: str) -> bool:
    return all(value in text for value in ORIGINALS)


@pytest.fixture
def bridge(emulator, tmp_path):
    stack = Bridge(emulator, tmp_path)
    yield stack
    stack.stop()


def analyze(stack, body: dict, **kwargs) -> dict:
    return stack.http.post(stack.url + "/analyze/text", json=body, timeout=60, **kwargs).json()


def test_1c_request_sends_only_placeholders_and_gets_every_original_back(bridge, emulator):
    emulator.configure(reply=REPLY)
    port = int(bridge.url.rsplit(":", 1)[1])
    status, _, raw = onec_request("127.0.0.1", port, "/analyze/text", onec_json(
        {"text": TEXT, "system_prompt": "Проверь реквизиты", "return_format": "text",
         "mask_personal_data": True}))
    answer = json.loads(raw)
    assert status == 200 and answer["success"] is True, answer
    assert returned_all(answer["result"]), answer["result"]
    assert "Сумма 2 450 000,00 руб." in answer["result"]
    assert answer["masked"] == MASKED
    assert all(IDENTIFIER.match(key) for key in answer["masked"])
    assert leaked(emulator) == []
    sent = emulator.chat_log[-1]["user_text"]
    assert "[ИНН_1]" in sent and "[ФИО_1]" in sent and "заказ № 4815162342" in sent


def test_html_answer_has_the_originals_escaped(bridge, emulator):
    emulator.configure(reply="Контакт: [ПОЧТА_1], ответственный **[ФИО_1]**")
    answer = analyze(bridge, {"text": f"Пишите {VALUES['почта']}, ответственный {NAME}.",
                              "return_format": "html", "mask_personal_data": True})
    assert answer["success"] is True
    assert VALUES["почта"] in answer["result"] and f"<strong>{NAME}</strong>" in answer["result"]
    assert "ПОЧТА_1" not in answer["result"] and leaked(emulator) == []


def test_without_the_flag_nothing_is_masked_and_the_answer_is_unchanged(bridge, emulator):
    answer = analyze(bridge, {"text": TEXT})
    assert answer["success"] is True and "masked" not in answer
    assert emulator.chat_log[-1]["user_text"] == TEXT


def test_the_setting_makes_masking_the_default(emulator, tmp_path):
    stack = Bridge(emulator, tmp_path, mask_personal_data=True)
    try:
        emulator.configure(reply=REPLY)
        answer = analyze(stack, {"text": TEXT})
        assert answer["masked"] == MASKED and returned_all(answer["result"])
        assert leaked(emulator) == []
        off = analyze(stack, {"text": TEXT, "mask_personal_data": False})
        assert "masked" not in off and emulator.chat_log[-1]["user_text"] == TEXT
    finally:
        stack.stop()


@pytest.mark.parametrize("flag", ["mask_personal_data", "allow_unmasked_files"])
def test_a_wrong_flag_is_a_russian_refusal_before_any_call(bridge, emulator, flag):
    answer = analyze(bridge, {"text": TEXT, flag: "да"})
    assert answer["success"] is False and f"Поле {flag} должно быть true или false" in answer["error"]
    assert emulator.chat_log == []


PDF = {"name": "скан паспорта.pdf", "data": base64.b64encode(b"%PDF-1.4\n%\xe2\xe3\n").decode()}
PNG = {"name": "фото.png", "data": base64.b64encode(b"\x89PNG\r\n\x1a\n" + b"\0" * 16).decode()}


@pytest.mark.parametrize("item", [PDF, PNG], ids=["pdf", "png"])
def test_files_gigachat_reads_itself_are_refused_when_masking(bridge, emulator, item):
    answer = analyze(bridge, {"text": TEXT, "files": [item], "mask_personal_data": True})
    assert answer["success"] is False
    assert f"Файл «{item['name']}» (files[0]) нельзя отправить с маскированием" in answer["error"]
    assert '"allow_unmasked_files": true' in answer["error"]
    assert emulator.chat_log == [] and emulator.uploads == []


def test_openai_route_masks_with_the_header_and_restores_the_answer(bridge, emulator):
    emulator.configure(reply=REPLY)
    reply = bridge.http.post(bridge.url + "/v1/chat/completions", timeout=60, headers={
        "X-Mask-Personal-Data": "1"}, json={"messages": [{"role": "user", "content": TEXT}]})
    assert reply.status_code == 200, reply.text
    answer = reply.json()
    assert returned_all(answer["choices"][0]["message"]["content"])
    assert answer["masked"] == MASKED
    assert json.loads(reply.headers["X-Masked-Personal-Data"]) == MASKED
    assert leaked(emulator) == []


def test_openai_stream_chunks_carry_the_originals_even_when_a_placeholder_is_split(
        bridge, emulator):
    emulator.configure(reply=REPLY)  # "[инн 1]" and "[ СНИЛС_1 ]" arrive in separate chunks
    reply = bridge.http.post(bridge.url + "/v1/chat/completions", timeout=60, stream=True,
                             headers={"X-Mask-Personal-Data": "1"},
                             json={"stream": True, "messages": [{"role": "user", "content": TEXT}]})
    assert reply.status_code == 200 and json.loads(reply.headers["X-Masked-Personal-Data"]) == MASKED
    pieces = []
    for line in reply.iter_lines(decode_unicode=True):
        if line.startswith("data: {"):
            for choice in json.loads(line[6:])["choices"]:
                pieces.append(choice["delta"].get("content") or "")
    assert len([p for p in pieces if p]) >= 3
    assert all("[" not in p or "]" in p for p in pieces), pieces  # never half a placeholder
    assert returned_all("".join(pieces)) and leaked(emulator) == []


def test_openai_image_part_is_refused_when_masking(bridge, emulator):
    image = "data:image/png;base64," + PNG["data"]
    reply = bridge.http.post(bridge.url + "/v1/chat/completions", timeout=60,
                             headers={"X-Mask-Personal-Data": "1"}, json={"messages": [{
                                 "role": "user", "content": [
                                     {"type": "text", "text": TEXT},
                                     {"type": "image_url", "image_url": {"url": image}}]}]})
    assert reply.status_code == 400
    error = reply.json()["error"]
    assert "нельзя отправить с маскированием" in error["message"]
    assert "X-Allow-Unmasked-Files: 1" in error["message"] and emulator.chat_log == []


def test_openai_header_with_a_wrong_value_is_refused(bridge, emulator):
    reply = bridge.http.post(bridge.url + "/v1/chat/completions", timeout=60,
                             headers={"X-Mask-Personal-Data": "maybe"},
                             json={"messages": [{"role": "user", "content": TEXT}]})
    assert reply.status_code == 400 and "X-Mask-Personal-Data" in reply.json()["error"]["message"]
    assert emulator.chat_log == []


def test_single_job_partial_and_result_have_the_originals(bridge, emulator):
    emulator.configure(reply=REPLY, stream_delay=0.05)
    job_id = bridge.post(text_job(TEXT, mask_personal_data=True)).json()["id"]
    partials: list[str] = []

    def finished():
        view = bridge.job(job_id)
        if view["partial"] and (not partials or partials[-1] != view["partial"]):
            partials.append(view["partial"])
        return view["state"] in ("done", "failed") and view

    view = wait_for(finished, timeout=60, interval=0.02)
    assert view["state"] == "done", view
    assert view["result"]["masked"] == MASKED and returned_all(view["result"]["result"])
    assert len(partials) >= 2, partials
    assert all("ИНН_" not in p and "ФИО_" not in p for p in partials), partials
    assert any(NAME in p for p in partials)
    assert leaked(emulator) == []


def test_batch_results_have_the_originals_and_the_counts(bridge, emulator):
    emulator.configure(reply="ИНН: [ИНН_1]")
    texts = [f"Контрагент ИНН {VALUES['ИНН']}", f"Поставщик ИНН {VALUES['ИНН ИП']}"]
    job_id = bridge.post(batch(texts, mask_personal_data=True)).json()["id"]
    assert bridge.wait_state(job_id)["state"] == "done"
    results = [item["result"] for item in bridge.results(job_id)]
    assert [r["result"] for r in results] == [f"ИНН: {VALUES['ИНН']}", f"ИНН: {VALUES['ИНН ИП']}"]
    assert [r["masked"] for r in results] == [{"ИНН": 1}, {"ИНН": 1}]
    assert leaked(emulator) == []


def test_jobs_refuse_a_pdf_with_masking_at_once(bridge, emulator):
    single = bridge.post({"route": "analyze/text", "request": {
        "text": TEXT, "files": [PDF], "mask_personal_data": True}})
    assert single.status_code == 400 and "нельзя отправить с маскированием" in single.json()["error"]
    many = bridge.post({"route": "analyze/text", "items": [
        {"text": "без файлов", "mask_personal_data": True},
        {"text": TEXT, "files": [PDF], "mask_personal_data": True}]})
    assert many.status_code == 400 and many.json()["error"].startswith("Элемент 1:")
    assert emulator.chat_log == []


def test_the_setting_is_pinned_into_a_job_at_submission():
    from gigachat.core.settings import Settings
    from gigachat.local.privacy import pin_job_bodies

    on, off = Settings(mask_personal_data=True), Settings()
    assert pin_job_bodies([{"text": TEXT}], on) == [{"text": TEXT, "mask_personal_data": True}]
    assert pin_job_bodies([{"text": TEXT, "mask_personal_data": False}], on)[0][
        "mask_personal_data"] is False
    assert pin_job_bodies([{"text": TEXT}], off) == [{"text": TEXT}]


def test_the_request_log_shows_placeholders_only(emulator, tmp_path, caplog):
    caplog.set_level(logging.INFO, logger="gigachat.access")
    stack = Bridge(emulator, tmp_path, log_bodies=True)
    try:
        assert analyze(stack, {"text": TEXT, "mask_personal_data": True})["success"] is True
        lines = wait_for(lambda: [r.getMessage() for r in caplog.records
                                  if "/analyze/text" in r.getMessage()], timeout=10)
    finally:
        stack.stop()
    assert "text=" in lines[-1] and "[ИНН_1]" in lines[-1]
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert not [v for v in ORIGINALS if v in logged or (digits(v) and digits(v) in digits(logged))]


# The name line last: the name model misses «ИП Смирнов Алексей Петрович» followed by a
# line break and «ИНН: ...» (reported to the engine's owner).
CONTRACT = (f"ИНН: {VALUES['ИНН ИП']}\nТелефон: {VALUES['телефон']}\nСумма: 2 450 000,00 руб.\n"
            f"Контрагент: ИП {NAME}\n")
FIELDS = {"Контрагент": "строка", "ИНН": "число", "Телефон": "строка", "Сумма": "число"}


def test_extract_data_has_the_originals_typed_after_restoring(bridge, emulator):
    answer = bridge.http.post(bridge.url + "/analyze/extract", timeout=60, json={
        "text": CONTRACT, "fields": FIELDS, "mask_personal_data": True}).json()
    assert answer["success"] is True, answer
    assert answer["data"] == {"Контрагент": f"ИП {NAME}", "ИНН": int(VALUES["ИНН ИП"]),
                              "Телефон": VALUES["телефон"], "Сумма": 2450000}
    assert answer["masked"] == {"ИНН": 1, "ТЕЛЕФОН": 1, "ФИО": 1} and answer["missing"] == []
    assert leaked(emulator) == []


def test_extract_refuses_a_pdf_when_masking(bridge, emulator):
    answer = bridge.http.post(bridge.url + "/analyze/extract", timeout=60, json={
        "files": [PDF], "fields": FIELDS, "mask_personal_data": True}).json()
    assert answer["success"] is False and "нельзя отправить с маскированием" in answer["error"]
    assert emulator.uploads == [] and emulator.chat_log == []


@pytest.mark.parametrize("encoding", ["cp1251", "utf-8-sig"])
def test_a_text_file_is_masked_before_it_is_uploaded(bridge, emulator, encoding):
    content = CONTRACT.replace("\n", "\r\n")
    data = base64.encodebytes(content.encode(encoding)).decode().replace("\n", "\r\n")
    answer = analyze(bridge, {"text": "Проверь реквизиты в файле", "mask_personal_data": True,
                              "files": [{"name": "реквизиты.txt", "data": data}]})
    assert answer["success"] is True, answer
    masked = Masker().mask(content)  # the file is masked first: the same placeholders
    expected = (b"\xef\xbb\xbf" if encoding == "utf-8-sig" else b"") + masked.encode(
        encoding.replace("-sig", ""))
    (upload,) = emulator.uploads
    assert upload["sha256"] == hashlib.sha256(expected).hexdigest()
    if encoding != "cp1251":  # the emulator shows the first line of UTF-8 files only
        assert upload["first_line"] == "ИНН: [ИНН_1]"
        assert f"первая строка: «ИНН: {VALUES['ИНН ИП']}»" in answer["result"]
    assert answer["masked"] == {"ИНН": 1, "ТЕЛЕФОН": 1, "ФИО": 1}
    assert leaked(emulator) == [] and emulator.files == []


def test_extract_from_a_masked_text_file(bridge, emulator):
    data = base64.b64encode(CONTRACT.encode("utf-8")).decode()
    answer = bridge.http.post(bridge.url + "/analyze/extract", timeout=60, json={
        "files": [{"name": "договор.txt", "data": data}], "fields": FIELDS,
        "mask_personal_data": True}).json()
    assert answer["success"] is True, answer
    assert answer["data"]["ИНН"] == int(VALUES["ИНН ИП"]) and answer["data"]["Контрагент"] == \
        f"ИП {NAME}"
    assert leaked(emulator) == []


@pytest.fixture
def runner(emulator, tmp_path):
    """The jobs runner of a live bridge, on a real SQLite file (no HTTP: its own tests)."""
    from gigachat.local.jobs import JobRunner, JobStore

    stack = Bridge(emulator, tmp_path)
    store = JobStore(tmp_path / "privacy-jobs.sqlite3")
    jobs = JobRunner(stack.service.bridge, store).start()
    yield jobs
    jobs.stop()
    store.close()
    stack.stop()


def run_job(runner, bodies: list[dict], batch: bool = False, on_poll=None):
    from gigachat.local.privacy import pin_job_bodies

    job, _ = runner.submit("analyze/text", pin_job_bodies(bodies, runner.bridge.settings),
                           batch=batch)

    def finished():
        if on_poll is not None:
            on_poll(runner.partial(job.id))
        current = runner.store.get(job.id)
        return current.state in ("done", "failed") and current

    done = wait_for(finished, timeout=60, interval=0.01)
    return done, [row[2] for row in runner.store.results(done, 0, 100)]


def test_job_runner_partial_and_result_have_the_originals(runner, emulator):
    emulator.configure(reply=REPLY, stream_delay=0.05)
    partials: list[str] = []
    job, (result,) = run_job(runner, [{"text": TEXT, "mask_personal_data": True}],
                             on_poll=lambda p: p and p not in partials and partials.append(p))
    assert job.state == "done" and result["masked"] == MASKED, result
    assert returned_all(result["result"])
    assert len(partials) >= 2 and any(NAME in p for p in partials), partials
    assert all("ИНН_" not in p and "ФИО_" not in p for p in partials), partials
    assert emulator.chat_log[-1]["stream"] is True and leaked(emulator) == []


def test_job_runner_batch_results_are_restored_item_by_item(runner, emulator):
    emulator.configure(reply="ИНН: [ИНН_1]")
    runner.bridge.settings.mask_personal_data = True  # the default, pinned at submission
    try:
        job, results = run_job(runner, [{"text": f"Контрагент ИНН {VALUES['ИНН']}"},
                                        {"text": f"Поставщик ИНН {VALUES['ИНН ИП']}"}],
                               batch=True)
    finally:
        runner.bridge.settings.mask_personal_data = False
    assert job.state == "done"
    assert [r["result"] for r in results] == [f"ИНН: {VALUES['ИНН']}", f"ИНН: {VALUES['ИНН ИП']}"]
    assert [r["masked"] for r in results] == [{"ИНН": 1}, {"ИНН": 1}]
    assert leaked(emulator) == []


def test_openai_text_file_part_is_masked_before_upload(bridge, emulator):
    data = "data:text/plain;base64," + base64.b64encode(CONTRACT.encode()).decode()
    reply = bridge.http.post(bridge.url + "/v1/chat/completions", timeout=60,
                             headers={"X-Mask-Personal-Data": "1"}, json={"messages": [{
                                 "role": "user", "content": [
                                     {"type": "text", "text": "Проверь реквизиты"},
                                     {"type": "file", "file": {"filename": "реквизиты.txt",
                                                               "file_data": data}}]}]})
    assert reply.status_code == 200, reply.text
    (upload,) = emulator.uploads
    assert upload["sha256"] == hashlib.sha256(Masker().mask(CONTRACT).encode()).hexdigest()
    content = reply.json()["choices"][0]["message"]["content"]
    assert f"первая строка: «ИНН: {VALUES['ИНН ИП']}»" in content
    assert leaked(emulator) == [] and emulator.files == []
