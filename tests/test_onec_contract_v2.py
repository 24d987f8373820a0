"""The 1C module against the bridge's newer routes: /jobs (issue 13), /analyze/extract and files
(issue 12). Masking (issue 17) and the connection file (issue 15): tests/test_onec_privacy.py.

Everything the module sends is built as the module builds it: one-line JSON without a BOM,
base64 with CR LF every 76 characters (Base64Строка), the key header, Idempotency-Key; the
keys it writes and reads come from its source (tests/test_onec_contract.py: extract_contract).
"""

from __future__ import annotations

import json
import re
import uuid
from datetime import datetime

from tests import onec_bridge
from tests.onec_bridge import (
    LOCAL_KEY,
    analyze_body,
    send_like_module,
)
from tests.onec_contract import (
    MODULE,
    TODAY,
    answer_problems,
    live_problems,
    spec_problems,
)
from tests.onec_jobs import PNG, file_item, get, poll_until_final, post_job

# module-scoped fixtures shared by the 1C contract modules (tests/onec_bridge.py)
contract, bridge = onec_bridge.contract, onec_bridge.bridge
key_bridge, live_spec = onec_bridge.key_bridge, onec_bridge.live_spec

NEW_ROUTES = {("POST", "/jobs"), ("GET", "/jobs/{id}"), ("DELETE", "/jobs/{id}"),
              ("GET", "/jobs/{id}/results"), ("POST", "/analyze/extract")}


def fields_as_1c() -> dict:
    """Поля as ЗаписатьJSON writes them: Cyrillic keys, a Массив for a list, a Структура for a table."""
    return {"Контрагент": "строка", "ИНН": "строка", "Сумма": "число", "Дата": "дата",
            "СтавкаНДС": ["Без НДС", "10%", "20%"],
            "Товары": {"Наименование": "строка", "Количество": "число", "Цена": "число"}}


CONTRACT_TEXT = ("Договор поставки №127 от 15.01.2024.\r\nКонтрагент: ООО «ТехноПром»\r\nИНН: 7701234567\r\n"
                 "Сумма: 2 450 000,00 руб.\r\nДата: 15.01.2024\r\nСтавкаНДС: 20%")


def test_openapi_describes_every_route_and_key_the_module_uses(contract, live_spec):
    assert set(contract.routes) >= NEW_ROUTES
    assert spec_problems(contract, live_spec) == []  # all routes, files included


def test_openapi_knows_the_job_states_the_module_compares(contract, live_spec):
    assert {"done", "failed", "cancelled"} <= contract.compared[("state",)]
    assert spec_problems(contract, live_spec, {("GET", "/jobs/{id}")}) == []


# --- files on /analyze/text --------------------------------------------------------------


def test_files_as_the_module_sends_them(bridge, contract):
    body = dict(analyze_body(contract, "text"), text="Что на картинке?",
                files=[file_item(contract, "пиксель.png", PNG)])
    assert "\r\n" in body["files"][0]["data"]  # 92 characters: one CR LF, as 1C writes it
    status, _, raw = send_like_module(bridge, contract, ("POST", "/analyze/text"), body)
    answer = json.loads(raw)
    assert status == 200 and answer["success"] is True, answer
    assert live_problems(contract, ("POST", "/analyze/text"), answer) == []


def test_files_raise_the_body_cap_to_50_mb(bridge, contract):
    """The module allows 50 MB when files are attached; the bridge must too (a 3 MB PDF is fine)."""
    pdf = b"%PDF-1.4\n" + b"0" * (3 * 1024 * 1024) + b"\n%%EOF\n"
    body = dict(analyze_body(contract, "text"), text="Кратко перескажи документ.",
                files=[file_item(contract, "договор.pdf", pdf)])
    status, _, raw = send_like_module(bridge, contract, ("POST", "/analyze/text"), body)
    assert status != 413, raw
    assert "Предел = ?(СФайлами, 50, 2) * 1024 * 1024;" in MODULE.read_text(encoding="utf-8")


# --- /analyze/extract ---------------------------------------------------------------------


def test_extract_answer_reads_into_typed_values(bridge, contract):
    body = {"text": CONTRACT_TEXT, "fields": fields_as_1c(), "instructions": "Сумма - с НДС."}
    assert set(body) <= contract.writes["ПараметрыИзвлечения"]
    status, _, raw = send_like_module(bridge, contract, ("POST", "/analyze/extract"), body)
    answer = json.loads(raw)
    assert status == 200 and answer["success"] is True, answer
    assert live_problems(contract, ("POST", "/analyze/extract"), answer) == []
    data = answer["data"]
    assert set(data) == set(fields_as_1c())  # exactly the requested names: a Структура reads them
    assert all(re.fullmatch(r"[A-Za-zА-Яа-яЁё_][\wЁё]*", k) for k in list(answer) + list(data))
    assert data["Сумма"] == 2450000 and data["СтавкаНДС"] == "20%"
    # ПрочитатьДатуJSON(..., ФорматДатыJSON.ISO) reads YYYY-MM-DDTHH:MM:SS.
    assert datetime.strptime(data["Дата"], "%Y-%m-%dT%H:%M:%S").date().isoformat() == "2024-01-15"
    assert isinstance(answer["missing"], list)
    assert all(data[name] is None for name in answer["missing"])
    # A table is a list of rows (a Массив из Структура in 1C), or null and listed as missing.
    assert isinstance(data["Товары"], list) or "Товары" in answer["missing"]


def test_extract_with_a_bad_field_name_is_refused_before_any_call(bridge, contract):
    body = {"text": CONTRACT_TEXT, "fields": {"Сумма с НДС": "число"}}
    status, _, raw = send_like_module(bridge, contract, ("POST", "/analyze/extract"), body)
    answer = json.loads(raw)
    assert status == 200 and answer["success"] is False and "Сумма с НДС" in answer["error"]


# --- /jobs ---------------------------------------------------------------------------------


def test_single_job_polled_to_done(bridge, contract):
    request = analyze_body(contract, "html")
    status, started = post_job(bridge, contract, {"route": "analyze/text", "request": request})
    assert status == 202, started
    assert started["success"] is True and started["state"] == "queued" and started["id"]
    assert live_problems(contract, ("POST", "/jobs"), started) == []
    seen = poll_until_final(bridge, contract, started["id"])
    final = seen[-1]
    assert final["state"] == "done", final
    assert live_problems(contract, ("GET", "/jobs/{id}"), final) == []  # strict: result present
    assert final["result"]["success"] is True
    assert final["result"]["result"].lstrip().lower().startswith("<!doctype html")
    assert all(isinstance(s["partial"], str) for s in seen)
    assert all(s["position"] is None or isinstance(s["position"], int) for s in seen)


def test_cancel_as_the_module_sends_it(bridge, contract):
    items = [dict(analyze_body(contract, "text"), text=f"Опиши товар №{n}") for n in range(50)]
    status, started = post_job(bridge, contract, {"route": "analyze/text", "items": items})
    assert status == 202, started
    status, _, raw = send_like_module(bridge, contract, ("DELETE", f"/jobs/{started['id']}"), None)
    assert status == 200, raw
    cancelled = json.loads(raw)
    assert cancelled["success"] is True
    assert answer_problems(cancelled, ("error",)) == []
    seen = poll_until_final(bridge, contract, started["id"])
    assert seen[-1]["state"] == "cancelled"
    assert seen[-1]["progress"]["done"] < 50


def test_same_idempotency_key_returns_the_same_job(bridge, contract):
    envelope = {"route": "analyze/text", "request": analyze_body(contract, "text")}
    key = str(uuid.uuid4())
    first = post_job(bridge, contract, envelope, key=key)[1]
    second = post_job(bridge, contract, envelope, key=key)[1]
    assert first["id"] == second["id"]


def test_batch_progress_and_results_page(bridge, contract):
    items = [dict(analyze_body(contract, "text"), text=f"Наименование: Кабель ВВГ 3x{n}") for n in (1, 2, 4)]
    status, started = post_job(bridge, contract, {"route": "analyze/text", "items": items})
    assert status == 202, started
    final = poll_until_final(bridge, contract, started["id"])[-1]
    assert final["state"] == "done" and final["progress"] == {"done": 3, "failed": 0, "total": 3}
    page = get(bridge, contract, f"/jobs/{started['id']}/results?offset=0&limit=100")
    assert live_problems(contract, ("GET", "/jobs/{id}/results"), page) == []
    assert page["total"] == 3 and len(page["items"]) == 3
    assert all(item["result"]["success"] is True for item in page["items"])
    second = get(bridge, contract, f"/jobs/{started['id']}/results?offset=2&limit=100")
    assert len(second["items"]) == 1


def test_extract_batch_reads_like_the_module(bridge, contract):
    # The emulator reads «Имя: значение» lines (a real model reads free text).
    lines = ["Оплата по счёту 15 за канцтовары.\r\nСтатьяДДС: Оплата поставщикам",
             "Заработная плата за январь.\r\nСтатьяДДС: Оплата труда"]
    items = [{"text": line, "fields": {"СтатьяДДС": ["Оплата поставщикам", "Оплата труда", "Прочее"]}}
             for line in lines]
    status, started = post_job(bridge, contract, {"route": "analyze/extract", "items": items})
    assert status == 202, started
    assert poll_until_final(bridge, contract, started["id"])[-1]["state"] == "done"
    page = get(bridge, contract, f"/jobs/{started['id']}/results?offset=0&limit=100")
    assert [item["result"]["data"]["СтатьяДДС"] for item in page["items"]] == ["Оплата поставщикам",
                                                                               "Оплата труда"]
    assert ("items", "[]", "result", "data") in contract.reads[("GET", "/jobs/{id}/results")]


def test_job_validation_errors_come_back_at_once(bridge, contract):
    status, answer = post_job(bridge, contract, {"route": "analyze/text", "request": {"text": ""}})
    assert answer["success"] is False and re.search("[а-яА-Я]", answer["error"]), answer


def test_unknown_job_is_a_readable_404(bridge, contract):
    status, _, raw = send_like_module(bridge, contract, ("GET", "/jobs/no-such-job"), None)
    answer = json.loads(raw)
    assert status == 404 and answer["success"] is False and isinstance(answer["error"], str)


def test_new_routes_refuse_without_the_key_in_a_form_the_module_reads(key_bridge, contract):
    for verb, path in sorted(NEW_ROUTES - TODAY):
        concrete = path.replace("{id}", "any")
        body = {"route": "analyze/text", "request": {"text": "x"}} if (verb, path) == ("POST", "/jobs") \
            else {"text": "x", "fields": {"А": "строка"}} if verb == "POST" else None
        status, _, raw = send_like_module(key_bridge, contract, (verb, concrete), body)
        assert status == 403, (verb, path, raw)
        answer = json.loads(raw)
        for read in contract.error_reads:
            assert answer_problems(answer, read) == [], (verb, path, answer)
    status, started = post_job(key_bridge, contract, {"route": "analyze/text",
                                                      "request": analyze_body(contract, "text")})
    assert status == 403  # post_job sends no key
    status, _, raw = send_like_module(key_bridge, contract, ("POST", "/jobs"),
                                      {"route": "analyze/text", "request": analyze_body(contract, "text")},
                                      key=LOCAL_KEY, idempotency=str(uuid.uuid4()))
    assert status == 202, raw
