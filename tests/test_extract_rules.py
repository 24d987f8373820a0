"""/analyze/extract without the network: fields → JSON Schema, bad fields named, lenient
parsing, Russian coercion, validation with jsonschema, splitting, the one repair call."""

from __future__ import annotations

import json

import pytest

from gigachat.core.errors import InvalidRequest
from gigachat.local.extract.answer import extract_request
from gigachat.local.extract.check import problems, validator
from gigachat.local.extract.coerce import coerce_object, to_boolean, to_date, to_number
from gigachat.local.extract.engine import extract, messages_for, split
from gigachat.local.extract.fields import fields_schema, given_schema
from gigachat.local.extract.parse import parse_answer

CONTRACT_FIELDS = {
    "Контрагент": "строка", "ИНН": "строка", "Сумма": "число", "Дата": "дата",
    "СтавкаНДС": ["20%", "10%", "0%", "Без НДС"],
    "Товары": {"Наименование": "строка", "Количество": "число", "Цена": "число"},
}


def bad_fields(fields, *fragments: str, field: str | None = None) -> None:
    with pytest.raises(InvalidRequest) as caught:
        extract_request({"text": "документ", "fields": fields})
    for fragment in fragments:
        assert fragment in caught.value.message, caught.value.message
    if field:
        assert caught.value.field == field


def test_fields_become_a_strict_nullable_schema():
    schema = fields_schema(CONTRACT_FIELDS)
    assert schema["required"] == list(CONTRACT_FIELDS) and schema["additionalProperties"] is False
    props = schema["properties"]
    assert props["Сумма"]["type"] == ["number", "null"]
    assert props["Дата"]["format"] == "date"
    assert props["СтавкаНДС"]["enum"] == ["20%", "10%", "0%", "Без НДС", None]
    row = props["Товары"]["items"]
    assert row["required"] == ["Наименование", "Количество", "Цена"]
    assert fields_schema({"a": "string", "b": "NUMBER", "c": "Date", "d": "boolean"})


@pytest.mark.parametrize("fields, fragments, field", [
    ({"Сумма-итого": "число"}, ("«Сумма-итого»",), "fields.Сумма-итого"),
    ({"1Сумма": "число"}, ("«1Сумма»",), None),
    ({"Сумма итого": "число"}, ("«Сумма итого»",), None),
    ({"Сумма": "деньги"}, ("fields.Сумма", "«деньги»"), "fields.Сумма"),
    ({"Если": "строка"}, ("«Если»", "ключевое слово"), None),
    ({"ИНН": "строка", "инн": "строка"}, ("«ИНН»", "«инн»"), None),
    ({"Т": {"Вложенная": {"Х": "строка"}}}, ("fields.Т.Вложенная", "один уровень"), "fields.Т.Вложенная"),
    ({"Т": {"Кол-во": "число"}}, ("«Кол-во»",), "fields.Т.Кол-во"),
    ({"Ставка": []}, ("fields.Ставка",), None),
    ({"Ставка": ["20%", 10]}, ("fields.Ставка",), None),
    ({}, ("хотя бы одно",), None),
    ("Сумма", ("fields",), "fields"),
])
def test_bad_fields_are_named(fields, fragments, field):
    bad_fields(fields, *fragments, field=field)


def test_body_rules():
    with pytest.raises(InvalidRequest, match="ни текста"):
        extract_request({"fields": {"ИНН": "строка"}})
    with pytest.raises(InvalidRequest, match="Нет поля fields"):
        extract_request({"text": "x"})
    with pytest.raises(InvalidRequest, match="либо fields, либо schema"):
        extract_request({"text": "x", "fields": {"a": "строка"}, "schema": {}})


def test_given_schema_is_checked_by_the_validator():
    schema = given_schema({"type": "object", "properties": {"Итого": {"type": "number"}}})
    assert schema["properties"]["Итого"] == {"type": "number"}
    with pytest.raises(InvalidRequest, match="JSON Schema"):
        given_schema({"type": "object", "properties": {"Итого": {"type": "деньги"}}})
    with pytest.raises(InvalidRequest, match="«total-sum»"):
        given_schema({"type": "object", "properties": {"total-sum": {"type": "number"}}})


@pytest.mark.parametrize("text", [
    '{"ИНН": "7707083893"}',
    '```json\n{"ИНН": "7707083893"}\n```',
    'Вот данные из документа:\n{"ИНН": "7707083893"}\nЕсли нужно, уточню.',
    '\ufeff{"ИНН": "7707083893",}',
    'Ответ: {"ИНН": "7707083893", "Примечание": "скобка } в тексте"} — готово',
])
def test_lenient_parse(text):
    value, why = parse_answer(text)
    assert why is None and value["ИНН"] == "7707083893"


def test_parse_failures_are_explained():
    assert parse_answer('{"ИНН": "77070')[1].startswith("ответ не является корректным JSON")
    assert parse_answer("")[1] == "ответ пустой"
    assert parse_answer("[1, 2]")[1] == "в ответе JSON, но не объект с полями"


@pytest.mark.parametrize("raw, number", [
    ("2 450 000,00 руб.", 2450000), ("2\u00a0450\u00a0000,50", 2450000.5), ("1,234.50", 1234.5),
    ("1.234,50 ₽", 1234.5), ("20%", 20), ("−15", -15), (2450000.0, 2450000), ("15,5", 15.5),
    ("1 000 000", 1000000), ("1,000,000", 1000000),
])
def test_russian_numbers(raw, number):
    value = to_number(raw)
    assert value == number and type(value) is type(number)


@pytest.mark.parametrize("raw, iso", [
    ("15.03.2026", "2026-03-15T00:00:00"), ("15.03.26", "2026-03-15T00:00:00"),
    ("2026-03-15", "2026-03-15T00:00:00"), ("«15» марта 2026 г.", "2026-03-15T00:00:00"),
    ("1 мая 2026 года", "2026-05-01T00:00:00"), ("2026-03-15T10:20:30Z", "2026-03-15T10:20:30"),
    ("15.03.2026 10:20", "2026-03-15T10:20:00"),
])
def test_russian_dates(raw, iso):
    assert to_date(raw) == iso


def test_impossible_dates_and_words_stay_for_the_validator():
    assert to_date("31.02.2026") == "31.02.2026"
    assert to_number("два миллиона") == "два миллиона"
    assert to_boolean("Да") is True and to_boolean("нет") is False and to_boolean("может") == "может"


def test_coercion_and_validation_of_a_whole_answer():
    schema = fields_schema(CONTRACT_FIELDS)
    raw = {"контрагент": "ООО Ромашка", "ИНН": 7707083893, "Сумма": "2 450 000,00 руб.",
           "Дата": "15.03.2026", "СтавкаНДС": "20 %", "Лишнее": 1,
           "Товары": {"Наименование": "Бумага", "Количество": "10", "Цена": "250,00"}}
    value = coerce_object(raw, schema, schema)
    assert value == {"Контрагент": "ООО Ромашка", "ИНН": "7707083893", "Сумма": 2450000,
                     "Дата": "2026-03-15T00:00:00", "СтавкаНДС": "20%",
                     "Товары": [{"Наименование": "Бумага", "Количество": 10, "Цена": 250}]}
    assert problems(validator(schema), value) == []
    bad = coerce_object({**raw, "Сумма": "два миллиона", "СтавкаНДС": "18%"}, schema, schema)
    lines = problems(validator(schema), bad)
    assert any("Сумма" in line and "число" in line for line in lines), lines
    assert any("СтавкаНДС" in line and "18%" in line for line in lines), lines
    assert all(":" not in line for line in lines)  # shown to the model in the repair call


def test_split_keeps_about_a_dozen_properties_per_call():
    fields = {f"Поле{i}": "строка" for i in range(30)}
    parts = split(fields_schema(fields))
    assert [len(p["properties"]) for p in parts] == [12, 12, 6]
    assert all(p["required"] == list(p["properties"]) for p in parts)
    table = split(fields_schema({"А": "строка", "Т": {f"К{i}": "число" for i in range(20)}}))
    assert [list(p["properties"]) for p in table] == [["А"], ["Т"]]


def test_one_repair_call_shows_the_errors_then_success():
    schema = fields_schema({"Сумма": "число", "Дата": "дата"})
    answers = ['{"Сумма": "много", "Дата": "15.03.2026"}', '{"Сумма": 5, "Дата": "2026-03-15"}']
    sent: list[dict] = []

    def chat(payload):
        sent.append(payload)
        return {"choices": [{"message": {"content": answers[len(sent) - 1]}}],
                "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15}}

    outcome = extract(chat, "GigaChat-2", schema, messages_for("Сумма 5", None))
    assert outcome.data == {"Сумма": 5, "Дата": "2026-03-15T00:00:00"}
    assert outcome.calls == 2 and outcome.repairs == 1 and outcome.usage["total_tokens"] == 30
    repair = sent[1]["messages"]
    assert repair[-2] == {"role": "assistant", "content": answers[0]}
    assert "Сумма" in repair[-1]["content"] and "число" in repair[-1]["content"]
    assert sent[0]["response_format"]["type"] == "json_schema"
    assert json.dumps(sent[0]["response_format"]["schema"], ensure_ascii=False)


def test_invalid_twice_is_a_failure_with_raw():
    schema = fields_schema({"Сумма": "число"})

    def chat(payload):
        return {"choices": [{"message": {"content": '{"Сумма": "много"'}}]}

    outcome = extract(chat, "GigaChat-2", schema, messages_for("x", None))
    assert outcome.data is None and outcome.raw == '{"Сумма": "много"' and outcome.calls == 2
    assert "дважды" in outcome.error
