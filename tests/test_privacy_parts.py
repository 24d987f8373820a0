"""The pieces of route masking without a server: payloads, streams, files, schemas, flags."""

from __future__ import annotations

import base64
import json

import pytest

from gigachat.core.errors import InvalidRequest
from gigachat.core.settings import Settings
from gigachat.local.masking import Masker
from gigachat.local.privacy import Privacy, privacy_for_body, privacy_for_openai
from gigachat.local.privacy_files import MAX_TEXT_BYTES, mask_files, mask_openai_parts

INN = "7707083893"
PHONE = "+7 916 123-45-67"


def rules_only() -> Privacy:
    return Privacy(Masker(names=False))


def chunk(content: str | None, finish: str | None = None) -> dict:
    delta = {} if content is None else {"content": content}
    return {"choices": [{"index": 0, "delta": delta, "finish_reason": finish}], "model": "m"}


def test_payload_is_masked_in_a_copy_and_function_json_stays_json():
    privacy = rules_only()
    payload = {"model": "m", "messages": [
        {"role": "system", "content": f"ИНН заказчика {INN}"},
        {"role": "assistant", "content": "", "function_call": {
            "name": "find", "arguments": {"inn": INN, "phone": PHONE}}},
        {"role": "function", "name": "find", "content": json.dumps({"inn": int(INN), "n": 5})},
    ]}
    original = json.loads(json.dumps(payload))
    sent = privacy.payload(payload)
    assert payload == original  # the caller's payload is untouched
    assert sent["messages"][0]["content"] == "ИНН заказчика [ИНН_1]"
    assert sent["messages"][1]["function_call"]["arguments"] == {"inn": "[ИНН_1]",
                                                                 "phone": "[ТЕЛЕФОН_1]"}
    assert json.loads(sent["messages"][2]["content"]) == {"inn": "[ИНН_1]", "n": 5}
    answer = {"choices": [{"message": {"content": "ИНН [инн 1]", "function_call": {
        "name": "call", "arguments": {"phone": "[ТЕЛЕФОН_1]"}}}}]}
    back = privacy.client(type("C", (), {"chat": lambda self, p, **o: answer})()).chat(payload)
    assert back["choices"][0]["message"]["content"] == f"ИНН {INN}"
    assert back["choices"][0]["message"]["function_call"]["arguments"] == {"phone": PHONE}


def test_number_fields_of_a_schema_take_a_placeholder_only_when_something_was_masked():
    schema = {"type": "object", "properties": {
        "ИНН": {"type": "number"}, "Сумма": {"type": ["integer", "null"]},
        "Товары": {"type": "array", "items": {"type": "object", "properties": {
            "Цена": {"type": "number"}}}}}}
    payload = {"messages": [{"role": "user", "content": f"ИНН {INN}"}],
               "response_format": {"type": "json_schema", "schema": schema, "strict": True}}
    sent = rules_only().payload(payload)["response_format"]
    props = sent["schema"]["properties"]
    assert props["ИНН"]["type"] == ["string", "number"]
    assert props["Сумма"]["type"] == ["string", "integer", "null"]
    assert props["Товары"]["items"]["properties"]["Цена"]["type"] == ["string", "number"]
    assert sent["strict"] is True and schema["properties"]["ИНН"]["type"] == "number"
    plain = {**payload, "messages": [{"role": "user", "content": "без данных"}]}
    assert rules_only().payload(plain)["response_format"] == payload["response_format"]


def test_a_placeholder_split_across_chunks_comes_back_whole():
    privacy = rules_only()
    privacy.mask(f"ИНН {INN} и {PHONE}")
    closed = []

    def upstream():
        try:
            yield chunk("ИНН [ИН")
            yield chunk("Н_1], тел")
            yield chunk("ефон [ТЕЛЕФОН_1")
            yield chunk("]", "stop")
        finally:
            closed.append(True)

    out = [c["choices"][0]["delta"].get("content") for c in privacy.chunks(upstream())]
    assert "".join(x or "" for x in out) == f"ИНН {INN}, телефон {PHONE}"
    assert out[-1] == PHONE and closed == [True]


def test_a_stream_without_finish_reason_flushes_the_held_text_and_closing_closes_upstream():
    privacy = rules_only()
    privacy.mask(f"ИНН {INN}")
    out = list(privacy.chunks(iter([chunk("ответ: [ИНН_")])))
    assert [c["choices"][0]["delta"]["content"] for c in out] == ["ответ: ", "[ИНН_"]
    closed = []

    def upstream():
        try:
            yield chunk("раз ")
            yield chunk("два")
        finally:
            closed.append(True)

    stream = privacy.chunks(upstream())
    next(stream)
    stream.close()
    assert closed == [True]


def test_off_changes_nothing():
    privacy = Privacy()
    payload = {"messages": [{"role": "user", "content": f"ИНН {INN}"}]}
    assert privacy.payload(payload) is payload and privacy.answer({"a": 1}) == {"a": 1}
    body = {"text": "x", "files": [{"name": "a.pdf", "data": "JVBERi0="}]}
    assert privacy.body(body) is body


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def unb64(text: str) -> bytes:
    return base64.b64decode(text.split(",")[-1])


@pytest.mark.parametrize("encoding,bom", [("cp1251", b""), ("utf-8", b"\xef\xbb\xbf"),
                                          ("utf-16-le", b"\xff\xfe")])
def test_text_files_keep_their_encoding(encoding, bom):
    raw = bom + f"ИНН: {INN}\r\nТелефон: {PHONE}\r\n".encode(encoding)
    body = {"text": "x", "files": [{"name": "реквизиты.txt", "data": b64(raw)}]}
    out = mask_files(body, Masker(names=False), False)
    assert unb64(out["files"][0]["data"]) == bom + "ИНН: [ИНН_1]\r\nТелефон: [ТЕЛЕФОН_1]\r\n" \
        .encode(encoding)
    assert body["files"][0]["data"] == b64(raw)  # the caller's body is untouched


def test_a_data_url_and_1c_line_breaks_are_kept_readable():
    data = "data:text/plain;base64," + base64.encodebytes(f"ИНН {INN}".encode()).decode() \
        .replace("\n", "\r\n")
    out = mask_files({"files": [{"name": "a.txt", "data": data}]}, Masker(names=False), False)
    assert out["files"][0]["data"].startswith("data:text/plain;base64,")
    assert unb64(out["files"][0]["data"]).decode() == "ИНН [ИНН_1]"


def test_unreadable_or_too_large_text_files_are_refused():
    with pytest.raises(InvalidRequest, match="не удалось прочитать его текст"):
        mask_files({"files": [{"name": "a.txt", "data": b64(b"\x98\x98")}]}, Masker(), False)
    big = b64(b"a" * (MAX_TEXT_BYTES + 1))
    with pytest.raises(InvalidRequest, match="больше 2 МБ"):
        mask_files({"files": [{"name": "a.txt", "data": big}]}, Masker(names=False), False)


def test_allowed_pdf_goes_as_it_is_but_its_name_is_masked():
    pdf = b64(b"%PDF-1.4\n")
    body = {"files": [{"name": f"паспорт ИНН {INN}.pdf", "data": pdf}]}
    with pytest.raises(InvalidRequest) as refused:
        mask_files(body, Masker(names=False), False)
    assert refused.value.field == "files[0]" and refused.value.code == "unmasked_file"
    out = mask_files(body, Masker(names=False), True)
    assert out["files"][0] == {"name": "паспорт ИНН [ИНН_1].pdf", "data": pdf}


def test_openai_text_file_part_is_masked_and_an_image_needs_the_allow_header():
    text_part = {"type": "file", "file": {"filename": "a.txt",
                                          "file_data": "data:text/plain;base64," +
                                          b64(f"ИНН {INN}".encode())}}
    image = {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0="}}
    body = {"messages": [{"role": "user", "content": [{"type": "text", "text": "Что тут?"},
                                                      text_part]}]}
    out = mask_openai_parts(body, Masker(names=False), False)
    part = out["messages"][0]["content"][1]["file"]
    assert unb64(part["file_data"]).decode() == "ИНН [ИНН_1]"
    unnamed = {"type": "file", "file": {"file_data": "data:text/plain;base64," +
                                        b64(f"ИНН {INN}".encode())}}
    out = mask_openai_parts({"messages": [{"role": "user", "content": [unnamed]}]},
                            Masker(names=False), False)
    assert unb64(out["messages"][0]["content"][0]["file"]["file_data"]).decode() == "ИНН [ИНН_1]"
    with_image = {"messages": [{"role": "user", "content": [image]}]}
    with pytest.raises(InvalidRequest, match="X-Allow-Unmasked-Files: 1") as refused:
        mask_openai_parts(with_image, Masker(names=False), False)
    assert refused.value.field == "messages[0].content[0]"
    assert mask_openai_parts(with_image, Masker(names=False), True) == with_image


def test_flags_come_from_the_body_the_headers_and_the_setting():
    on = Settings(mask_personal_data=True)
    assert privacy_for_body({"text": "x"}, Settings())[1].on is False
    assert privacy_for_body({"text": "x"}, on)[1].on is True
    assert privacy_for_body({"text": "x", "mask_personal_data": False}, on)[1].on is False
    assert privacy_for_body({"text": "x", "mask_personal_data": None}, on)[1].on is True
    assert privacy_for_openai({"X-Mask-Personal-Data": "1"}, {}, Settings())[1].on is True
    assert privacy_for_openai({"X-Mask-Personal-Data": "0"}, {}, on)[1].on is False
    assert privacy_for_openai({}, {}, on)[1].on is True
    with pytest.raises(InvalidRequest, match="true или false"):
        privacy_for_body({"text": "x", "mask_personal_data": 1}, Settings())
    with pytest.raises(InvalidRequest, match="1 \\(включить\\) или 0"):
        privacy_for_openai({"X-Mask-Personal-Data": "да"}, {}, Settings())


def test_values_stay_out_of_reprs():
    privacy = rules_only()
    privacy.mask(f"ИНН {INN}")
    assert INN not in repr(privacy) and INN not in repr(privacy.masker)


def test_openapi_describes_the_flags_the_counts_and_the_headers():
    from gigachat.local.openapi import openapi_spec

    spec = openapi_spec()
    schemas = spec["components"]["schemas"]
    for name in ("AnalyzeRequest", "ExtractRequest"):
        props = schemas[name]["properties"]
        assert props["mask_personal_data"]["type"] == ["boolean", "null"], name
        assert "allow_unmasked_files" in props, name
    for name in ("AnalyzeResponse", "ExtractResponse", "ChatCompletion"):
        assert schemas[name]["properties"]["masked"] == {
            "$ref": "#/components/schemas/MaskedCounts"}, name
    assert set(schemas["MaskedCounts"]["properties"]) >= {"ИНН", "ФИО", "СНИЛС", "СЧЕТ"}
    chat = spec["paths"]["/v1/chat/completions"]["post"]
    assert {p["name"] for p in chat["parameters"]} >= {"X-Mask-Personal-Data",
                                                       "X-Allow-Unmasked-Files"}
    assert "X-Masked-Personal-Data" in chat["responses"]["200"]["headers"]
