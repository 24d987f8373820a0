"""Emulator structured output: ``response_format`` json_schema answers and their fault kinds."""

from __future__ import annotations

import json

import pytest

from tests.test_emulator import call, chat, sse_payloads, token_for
from tests.test_emulator_files import uploaded_id

SCHEMA = {
    "type": "object",
    "properties": {
        "Контрагент": {"type": "string"},
        "ИНН": {"type": "string"},
        "Сумма": {"type": "number"},
        "Дата": {"type": "string", "format": "date"},
        "ДатаВремя": {"type": "string", "format": "date-time"},
        "СтавкаНДС": {"type": "string", "enum": ["Без НДС", "10%", "20%"]},
        "Оплачен": {"type": "boolean"},
        "Количество": {"type": "integer"},
        "Примечание": {"type": ["string", "null"]},
        "Товары": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "Наименование": {"type": "string"},
                    "Количество": {"type": "number"},
                    "Цена": {"type": "number"},
                },
                "required": ["Наименование", "Количество", "Цена"],
            },
        },
    },
    "required": ["Контрагент", "ИНН", "Сумма", "Дата", "Товары"],
}
CONTRACT = """Договор поставки №127
Контрагент: ООО «Ромашка»
ИНН: 7707083893
Сумма: 2 450 000,00 руб.
Дата: 15.03.2026
ДатаВремя: 2026-03-15
СтавкаНДС: 20%
Оплачен: да
Количество: 3 шт.
Товары: Наименование=Бумага А4; Количество=10; Цена=250
Товары: Наименование=Скрепки; Количество=2,5; Цена=99,90
"""
EXPECTED = {
    "Контрагент": "ООО «Ромашка»",
    "ИНН": "7707083893",
    "Сумма": 2450000,
    "Дата": "2026-03-15",
    "ДатаВремя": "2026-03-15T00:00:00",
    "СтавкаНДС": "20%",
    "Оплачен": True,
    "Количество": 3,
    "Товары": [
        {"Наименование": "Бумага А4", "Количество": 10, "Цена": 250},
        {"Наименование": "Скрепки", "Количество": 2.5, "Цена": 99.9},
    ],
}


def structured(emu, token, text=CONTRACT, schema=SCHEMA, **payload):
    messages = payload.pop("messages", [{"role": "user", "content": text}])
    fmt = payload.pop("response_format", {"type": "json_schema", "schema": schema, "strict": True})
    return chat(emu, token, model="GigaChat-2-Max", messages=messages, response_format=fmt, **payload)


def content_of(reply) -> str:
    assert reply.status_code == 200, reply.text
    return reply.json()["choices"][0]["message"]["content"]


# --------------------------------------------------------------------------- values


def test_values_follow_the_schema_and_the_text(emulator):
    token = token_for(emulator)
    content = content_of(structured(emulator, token))
    assert json.loads(content) == EXPECTED
    assert "\n" not in content  # compact JSON, as real answers
    assert content_of(structured(emulator, token)) == content  # deterministic


def test_missing_values_are_null_when_required_and_absent_otherwise(emulator):
    token = token_for(emulator)
    value = json.loads(content_of(structured(emulator, token, text="Контрагент: ИП Петров\nСтавкаНДС: 18%")))
    assert value == {"Контрагент": "ИП Петров", "ИНН": None, "Сумма": None, "Дата": None, "Товары": None}


def test_refs_nested_objects_scalar_arrays_and_odd_values(emulator):
    token = token_for(emulator)
    schema = {
        "type": "object",
        "$defs": {"money": {"anyOf": [{"type": "null"}, {"type": "number"}]}},
        "properties": {
            "Итого": {"$ref": "#/$defs/money"},
            "Теги": {"type": "array", "items": {"type": "string"}},
            "Реквизиты": {"type": "object", "properties": {"БИК": {"type": "string"}}},
            "Флаг": {"type": "boolean"},
            "Число": {"type": "number"},
        },
        "required": ["Итого", "Флаг", "Число"],
    }
    text = "Итого: -1 234,5\nТеги: аренда; склад\nТеги: офис\nБИК: 044525225\nФлаг: может быть\nЧисло: много"
    value = json.loads(content_of(structured(emulator, token, text=text, schema=schema)))
    assert value == {
        "Итого": -1234.5,
        "Теги": ["аренда", "склад", "офис"],
        "Реквизиты": {"БИК": "044525225"},
        "Флаг": None,
        "Число": None,
    }


def test_values_come_from_an_attached_text_file_too(emulator):
    token = token_for(emulator)
    file_id = uploaded_id(emulator, token, "договор.txt", ("\ufeff" + CONTRACT).encode(), "text/plain")
    messages = [
        {"role": "system", "content": "Извлеки реквизиты."},
        {"role": "user", "content": "Документ во вложении", "attachments": [file_id]},
    ]
    assert json.loads(content_of(structured(emulator, token, messages=messages))) == EXPECTED


def test_streamed_structured_answer(emulator):
    token = token_for(emulator)
    with structured(emulator, token, stream=True) as reply:
        payloads = sse_payloads(reply)
    text = "".join(json.loads(p)["choices"][0]["delta"].get("content", "") for p in payloads[:-1])
    assert json.loads(text) == EXPECTED


# --------------------------------------------------------------------------- response_format rules


@pytest.mark.parametrize("kind", ["json", "json_object", "regex", None])
def test_unknown_response_format_type_is_400(emulator, kind):
    token = token_for(emulator)
    reply = structured(emulator, token, response_format={"type": kind})
    assert reply.status_code == 400
    assert reply.json() == {"status": 400, "message": f"Unknown type {kind} in response_format"}


@pytest.mark.parametrize(
    "fmt",
    [
        {"type": "json_schema"},
        {"type": "json_schema", "json_schema": {"schema": SCHEMA}},
        {"type": "json_schema", "schema": "нет"},
        "json_schema",
    ],
)
def test_json_schema_without_a_schema_is_400(emulator, fmt):
    token = token_for(emulator)
    reply = structured(emulator, token, response_format=fmt)
    assert reply.status_code == 400 and reply.json()["status"] == 400
    assert emulator.chat_counts == {}


def test_text_response_format_is_a_plain_answer(emulator):
    token = token_for(emulator)
    assert "**Ответ" in content_of(structured(emulator, token, response_format={"type": "text"}))


# --------------------------------------------------------------------------- fault kinds


def test_json_fence(emulator):
    token = token_for(emulator)
    emulator.inject(kind="json_fence")
    content = content_of(structured(emulator, token))
    assert content.startswith("```json\n") and content.endswith("\n```")
    assert json.loads(content[len("```json\n") : -len("\n```")]) == EXPECTED


def test_json_text_around(emulator):
    token = token_for(emulator)
    emulator.inject(kind="json_text_around")
    content = content_of(structured(emulator, token))
    start, end = content.index("{"), content.rindex("}") + 1
    assert content[:start].strip() and content[end:].strip()
    assert json.loads(content[start:end]) == EXPECTED


def test_json_russian_numbers(emulator):
    token = token_for(emulator)
    emulator.inject(kind="json_russian_numbers")
    value = json.loads(content_of(structured(emulator, token)))
    assert value["Сумма"] == "2 450 000,00" and value["Количество"] == "3,00"
    assert value["Товары"][1] == {"Наименование": "Скрепки", "Количество": "2,50", "Цена": "99,90"}
    assert value["Оплачен"] is True  # booleans stay booleans


def test_json_missing_required(emulator):
    token = token_for(emulator)
    emulator.inject(kind="json_missing_required")
    value = json.loads(content_of(structured(emulator, token)))
    assert "Контрагент" not in value and value["ИНН"] == "7707083893"


def test_json_invalid_twice_then_valid(emulator):
    token = token_for(emulator)
    emulator.inject(kind="json_invalid", times=2)
    plain = chat(emulator, token)  # a call without response_format leaves the fault queued
    assert "**Ответ" in content_of(plain) and emulator.faults_queued == 2
    for _ in range(2):
        with pytest.raises(json.JSONDecodeError):
            json.loads(content_of(structured(emulator, token)))
    assert json.loads(content_of(structured(emulator, token))) == EXPECTED
    assert emulator.stats["faults_fired"] == 2


def test_schema_faults_over_the_control_api(emulator):
    import requests

    token = token_for(emulator)
    url = emulator.base_url + "/_emulator/faults"
    assert requests.post(url, json={"kind": "json_fence", "times": 1}, timeout=10).json() == {"queued": 1}
    assert content_of(structured(emulator, token)).startswith("```json")
    assert call(emulator, "GET", "/models", token).status_code == 200
