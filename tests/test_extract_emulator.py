"""What the bridge's repair call needs from the emulator: a structured answer takes its values
from every user message of the conversation (the document, then the repair turn), as a real
model reads the whole dialogue, not only the last turn."""

from __future__ import annotations

import json

from gigachat.local.extract.engine import REPAIR_PROMPT, messages_for
from gigachat.local.extract.fields import fields_schema
from tests.test_emulator import chat, token_for

SCHEMA = fields_schema({"Контрагент": "строка", "Сумма": "число",
                        "Товары": {"Наименование": "строка", "Количество": "число"}})
DOCUMENT = ("Контрагент: ООО Ромашка\nСумма: 2 450 000,00 руб.\n"
            "Товары: Наименование=Бумага; Количество=10\n")


def test_a_repair_turn_keeps_the_documents_values(emulator):
    token = token_for(emulator)
    first = messages_for(DOCUMENT, None)
    broken = '{"Сумма": 2450000}'
    repair = REPAIR_PROMPT.format(errors="- нет обязательного поля «Контрагент» (укажите null)")
    messages = [*first, {"role": "assistant", "content": broken},
                {"role": "user", "content": repair}]
    reply = chat(emulator, token, model="GigaChat-2", messages=messages,
                 response_format={"type": "json_schema", "schema": SCHEMA, "strict": True})
    assert reply.status_code == 200, reply.text
    value = json.loads(reply.json()["choices"][0]["message"]["content"])
    assert value == {"Контрагент": "ООО Ромашка", "Сумма": 2450000,
                     "Товары": [{"Наименование": "Бумага", "Количество": 10}]}
    plain = chat(emulator, token, model="GigaChat-2", messages=messages)  # no schema
    assert "«Твой»" in plain.json()["choices"][0]["message"]["content"]  # still the last turn
