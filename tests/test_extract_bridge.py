"""POST /analyze/extract through the live bridge and the emulator: typed values a 1C form can
assign, every structured-output fault mode, bad fields refused before any call, large field
lists split, fields from an attached file, and answers a 1C Структура can hold."""

from __future__ import annotations

import base64
import json
import re
from datetime import datetime

import pytest

from tests.conftest import service_for
from tests.onec_wire import onec_json, onec_request

IDENTIFIER = re.compile(r"^[^\W\d]\w*$")
CYRILLIC = re.compile("[А-Яа-яЁё]")
CONTRACT = """ДОГОВОР ПОСТАВКИ № 15
г. Москва
Контрагент: ООО «Ромашка»
ИНН: 7707083893
Сумма: 2 450 000,00 руб.
Дата: 15.03.2026
СтавкаНДС: 20%
Товары: Наименование=Бумага A4; Количество=10; Цена=250,00
Товары: Наименование=Ручка шариковая; Количество=100; Цена=15,50
"""
FIELDS = {
    "Контрагент": "строка", "ИНН": "строка", "Сумма": "число", "Дата": "дата",
    "СтавкаНДС": ["20%", "10%", "0%", "Без НДС"],
    "Товары": {"Наименование": "строка", "Количество": "число", "Цена": "число"},
}
EXPECTED = {
    "Контрагент": "ООО «Ромашка»", "ИНН": "7707083893", "Сумма": 2450000,
    "Дата": "2026-03-15T00:00:00", "СтавкаНДС": "20%",
    "Товары": [{"Наименование": "Бумага A4", "Количество": 10, "Цена": 250},
               {"Наименование": "Ручка шариковая", "Количество": 100, "Цена": 15.5}],
}
ANSWER_KEYS = ["success", "data", "missing", "error", "model", "usage"]


@pytest.fixture
def service(emulator, tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    svc = service_for(emulator)
    yield svc
    svc.stop()


def extract_1c(service, body: dict) -> dict:
    """The request as 1C sends it (BOM, CR LF line breaks); the parsed answer."""
    status, headers, raw = onec_request("127.0.0.1", service.server.port, "/analyze/extract",
                                        onec_json(body), timeout=60)
    assert status == 200 and headers["content-type"] == "application/json; charset=utf-8"
    return json.loads(raw)


def assert_structure_safe(answer: dict) -> None:
    """Every key 1C reads into a Структура is an identifier; dates parse as ISO."""
    assert all(IDENTIFIER.match(key) for key in answer), answer.keys()
    for key, value in (answer.get("data") or {}).items():
        assert IDENTIFIER.match(key), key
        for row in value if isinstance(value, list) else []:
            assert all(IDENTIFIER.match(column) for column in row), row


def test_contract_fields_come_back_typed_for_1c(service, emulator):
    answer = extract_1c(service, {"text": CONTRACT, "fields": FIELDS,
                                  "instructions": "Это договор поставки."})
    assert list(answer) == ANSWER_KEYS and answer["success"] is True, answer
    assert answer["data"] == EXPECTED and answer["missing"] == [] and answer["error"] is None
    data = answer["data"]
    assert isinstance(data["Сумма"], int) and isinstance(data["Товары"][1]["Цена"], float)
    assert datetime.strptime(data["Дата"], "%Y-%m-%dT%H:%M:%S") == datetime(2026, 3, 15)
    assert answer["usage"]["total_tokens"] > 0 and answer["model"].startswith("GigaChat-2")
    assert_structure_safe(answer)
    (call,) = emulator.chat_log
    assert call["response_format"] == "json_schema"
    assert "Это договор поставки." in call["texts"][0] and CONTRACT.strip() in call["texts"][-1]


@pytest.mark.parametrize("fault, extra_calls", [
    ("json_fence", 0), ("json_text_around", 0), ("json_russian_numbers", 0),
    ("json_missing_required", 1), ("json_invalid", 1),
])
def test_every_fault_mode_still_gives_valid_typed_data(service, emulator, fault, extra_calls):
    emulator.inject(kind=fault)
    answer = extract_1c(service, {"text": CONTRACT, "fields": FIELDS})
    assert answer["success"] is True, answer
    assert answer["data"] == EXPECTED and answer["missing"] == []
    assert emulator.stats["chat_calls"] == 1 + extra_calls
    assert_structure_safe(answer)


def test_invalid_json_twice_is_a_clean_failure_with_raw(service, emulator):
    emulator.inject(kind="json_invalid", times=2)
    answer = extract_1c(service, {"text": CONTRACT, "fields": FIELDS})
    assert answer["success"] is False and answer["data"] is None
    assert CYRILLIC.search(answer["error"]) and "raw" in answer["error"]
    assert isinstance(answer["raw"], str) and answer["raw"].startswith("{")
    assert emulator.stats["chat_calls"] == 2
    assert_structure_safe(answer)


def test_the_repair_call_shows_the_model_its_errors(service, emulator):
    emulator.inject(kind="json_missing_required")
    assert extract_1c(service, {"text": CONTRACT, "fields": FIELDS})["success"] is True
    first, repair = emulator.chat_log
    assert repair["texts"][:2] == first["texts"][:2]  # the same instructions and document
    assert "«Контрагент»" in repair["texts"][-1] and "null" in repair["texts"][-1]


@pytest.mark.parametrize("fields, fragment", [
    ({"Сумма-итого": "число"}, "«Сумма-итого»"),
    ({"Сумма": "деньги"}, "fields.Сумма"),
    ({"Т": {"Строки": {"Х": "строка"}}}, "fields.Т.Строки"),
])
def test_bad_fields_fail_before_any_call(service, emulator, fields, fragment):
    answer = extract_1c(service, {"text": CONTRACT, "fields": fields})
    assert answer["success"] is False and fragment in answer["error"], answer
    assert emulator.stats.get("chat_calls", 0) == 0 and emulator.stats.get("api_requests", 0) == 0
    assert_structure_safe(answer)


def test_missing_values_are_null_and_listed(service, emulator):
    answer = extract_1c(service, {"text": "Контрагент: ИП Петров", "fields": FIELDS})
    assert answer["success"] is True
    assert answer["data"]["Контрагент"] == "ИП Петров"
    assert answer["missing"] == ["ИНН", "Сумма", "Дата", "СтавкаНДС", "Товары"]
    assert all(answer["data"][name] is None for name in answer["missing"])


def test_thirty_fields_are_split_into_calls_of_a_dozen(service, emulator):
    fields = {f"Поле{i}": "число" for i in range(1, 31)}
    text = "\n".join(f"Поле{i}: {i} 000,5" for i in range(1, 31))
    answer = extract_1c(service, {"text": text, "fields": fields})
    assert answer["success"] is True
    assert answer["data"] == {f"Поле{i}": i * 1000 + 0.5 for i in range(1, 31)}
    assert list(answer["data"]) == list(fields)  # the requested order
    assert emulator.stats["chat_calls"] == 3
    texts = [call["texts"] for call in emulator.chat_log]
    assert texts[0] == texts[1] == texts[2]  # identical messages: a cacheable prefix
    assert len(set(emulator.session_ids)) == 1 and len(emulator.session_ids) == 3


def test_fields_from_an_attached_text_file(service, emulator):
    document = "Контрагент: ООО Вектор\r\nСумма: 12 500,00\r\nДата: 01.12.2026\r\n"
    answer = extract_1c(service, {
        "files": [{"name": "счёт.txt", "data": base64.b64encode(document.encode()).decode()}],
        "fields": {"Контрагент": "строка", "Сумма": "number", "Дата": "date"}})
    assert answer["success"] is True, answer
    assert answer["data"] == {"Контрагент": "ООО Вектор", "Сумма": 12500,
                              "Дата": "2026-12-01T00:00:00"}
    assert emulator.chat_log[0]["model"] == "GigaChat-2-Max" and emulator.files == []


def test_a_full_json_schema_instead_of_fields(service, emulator):
    schema = {"type": "object", "required": ["ИНН", "Оплачен"], "properties": {
        "ИНН": {"type": "string"}, "Оплачен": {"type": "boolean"},
        "ДатаОплаты": {"type": "string", "format": "date"}}}
    answer = extract_1c(service, {"text": "ИНН: 7707083893\nОплачен: да\nДатаОплаты: 2026-04-01",
                                  "schema": schema})
    assert answer["success"] is True, answer
    assert answer["data"] == {"ИНН": "7707083893", "Оплачен": True,
                              "ДатаОплаты": "2026-04-01T00:00:00"}


def test_parts_are_asked_at_once_where_the_account_allows(emulator, tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    svc = service_for(emulator, scope="GIGACHAT_API_B2B")  # 10 parallel calls allowed
    try:
        emulator.configure(latency=0.5)
        fields = {f"Поле{i}": "строка" for i in range(1, 31)}
        text = "\n".join(f"Поле{i}: значение {i}" for i in range(1, 31))
        answer = extract_1c(svc, {"text": text, "fields": fields})
        assert answer["success"] is True and answer["data"]["Поле30"] == "значение 30"
        assert emulator.stats["chat_calls"] == 3 and emulator.stats["max_in_flight"] >= 2
        assert len(emulator.session_ids) == 3 and len(set(emulator.session_ids)) == 1
    finally:
        svc.stop()
