"""OpenAI <-> GigaChat shape translation (pure functions, no I/O)."""

from __future__ import annotations

import array
import base64
import json
import re

import pytest

from gigachat.core.errors import InvalidRequest
from gigachat.local.openai_compat import (
    SSE_DONE,
    StreamTranslator,
    chat_response_to_openai,
    embeddings_response_to_openai,
    models_to_openai,
    openai_error,
    sse_event,
    stream_to_openai,
)
from gigachat.local.openai_request import (
    MIN_TEMPERATURE,
    chat_request_to_gigachat,
    embeddings_request_to_gigachat,
)

CYRILLIC = re.compile("[А-Яа-яЁё]")
WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Погода в городе",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"],
        },
    },
}
TIME_TOOL = {"type": "function", "function": {"name": "get_time"}}


def user(text):
    return {"role": "user", "content": text}


def req(**extra):
    return {"model": "GigaChat-2", "messages": [user("Привет")], **extra}


# ---------------------------------------------------------------- chat request


def test_minimal_request_and_default_model():
    assert chat_request_to_gigachat({"messages": [user("Привет")]}, "GigaChat") == {
        "model": "GigaChat",
        "messages": [{"role": "user", "content": "Привет"}],
    }
    assert chat_request_to_gigachat(req(), "GigaChat")["model"] == "GigaChat-2"


def test_sampling_parameters_pass_through_and_openai_only_fields_are_dropped():
    payload = chat_request_to_gigachat(
        req(
            temperature=0.7,
            top_p=0.9,
            max_tokens=100,
            stream=True,
            repetition_penalty=1.1,
            stream_options={"include_usage": True},
            user="1c",
            seed=1,
            presence_penalty=0.5,
            n=1,
        ),
        "GigaChat",
    )
    assert payload == {
        "model": "GigaChat-2",
        "messages": [{"role": "user", "content": "Привет"}],
        "temperature": 0.7,
        "top_p": 0.9,
        "max_tokens": 100,
        "stream": True,
        "repetition_penalty": 1.1,
    }


def test_temperature_zero_becomes_the_smallest_positive_value():
    payload = chat_request_to_gigachat(req(temperature=0), "GigaChat")
    assert payload["temperature"] == MIN_TEMPERATURE > 0
    assert "top_p" not in payload


def test_max_completion_tokens_wins_over_max_tokens():
    payload = chat_request_to_gigachat(req(max_tokens=10, max_completion_tokens=20), "GigaChat")
    assert payload["max_tokens"] == 20
    assert "max_completion_tokens" not in payload


def test_system_and_developer_messages_are_merged_into_one_first_message():
    body = {
        "messages": [
            user("Вопрос 1"),
            {"role": "system", "content": "Ты бухгалтер."},
            {"role": "developer", "content": [{"type": "text", "text": "Отвечай кратко."}]},
            {"role": "assistant", "content": "Ответ 1"},
            {"role": "system", "content": ""},
            {"role": "system", "content": "Пиши по-русски."},
            user("Вопрос 2"),
        ]
    }
    assert chat_request_to_gigachat(body, "GigaChat")["messages"] == [
        {"role": "system", "content": "Ты бухгалтер.\n\nОтвечай кратко.\n\nПиши по-русски."},
        {"role": "user", "content": "Вопрос 1"},
        {"role": "assistant", "content": "Ответ 1"},
        {"role": "user", "content": "Вопрос 2"},
    ]


def test_text_content_parts_are_joined():
    parts = [{"type": "text", "text": "Первая часть."}, {"type": "text", "text": "Вторая."}]
    payload = chat_request_to_gigachat({"messages": [user(parts)]}, "GigaChat")
    assert payload["messages"] == [{"role": "user", "content": "Первая часть.\nВторая."}]


def test_tools_become_functions():
    payload = chat_request_to_gigachat(req(tools=[WEATHER_TOOL, TIME_TOOL]), "GigaChat")
    assert payload["functions"] == [
        {
            "name": "get_weather",
            "description": "Погода в городе",
            "parameters": WEATHER_TOOL["function"]["parameters"],
        },
        {"name": "get_time", "parameters": {"type": "object", "properties": {}}},
    ]
    assert "function_call" not in payload


@pytest.mark.parametrize(
    ("tools", "choice", "expected"),
    [
        ([WEATHER_TOOL], "auto", "auto"),
        ([WEATHER_TOOL], "none", "none"),
        ([WEATHER_TOOL, TIME_TOOL], {"type": "function", "function": {"name": "get_time"}},
         {"name": "get_time"}),
        ([WEATHER_TOOL], "required", {"name": "get_weather"}),
        ([WEATHER_TOOL, TIME_TOOL], "required", "auto"),
    ],
)  # fmt: skip
def test_tool_choice_becomes_function_call(tools, choice, expected):
    payload = chat_request_to_gigachat(req(tools=tools, tool_choice=choice), "GigaChat")
    assert payload["function_call"] == expected


def test_tool_choice_without_tools_is_ignored():
    # GigaChat's "auto" with no functions would switch on its built-in functions.
    payload = chat_request_to_gigachat(req(tool_choice="auto"), "GigaChat")
    assert "function_call" not in payload and "functions" not in payload


def test_legacy_functions_and_function_call_are_accepted():
    body = req(
        functions=[{"name": "get_time", "parameters": {"type": "object", "properties": {}}}],
        function_call={"name": "get_time"},
    )
    body["messages"] += [
        {"role": "assistant", "content": None,
         "function_call": {"name": "get_time", "arguments": "{}"}},
        {"role": "function", "name": "get_time", "content": "12:00"},
    ]  # fmt: skip
    payload = chat_request_to_gigachat(body, "GigaChat")
    assert payload["functions"] == [
        {"name": "get_time", "parameters": {"type": "object", "properties": {}}}
    ]
    assert payload["function_call"] == {"name": "get_time"}
    assert payload["messages"][1:] == [
        {"role": "assistant", "content": "", "function_call": {"name": "get_time", "arguments": {}}},
        {"role": "function", "name": "get_time", "content": '{"result": "12:00"}'},
    ]


def test_tool_round_trip_with_arguments_as_json_string():
    # 1. The client offers a tool.
    first = chat_request_to_gigachat(
        {"messages": [user("Какая погода в Москве?")], "tools": [WEATHER_TOOL]}, "GigaChat"
    )
    assert first["functions"][0]["name"] == "get_weather"

    # 2. GigaChat calls it: arguments come back as a JSON object.
    giga = {
        "choices": [
            {
                "message": {
                    "role": "assistant",
                    "content": "",
                    "function_call": {"name": "get_weather", "arguments": {"city": "Москва"}},
                    "functions_state_id": "5f1a3e2c-0000-4000-8000-000000000000",
                },
                "index": 0,
                "finish_reason": "function_call",
            }
        ],
        "created": 1768996171,
        "model": "GigaChat:2.0.28.2",
        "object": "chat.completion",
        "usage": {"prompt_tokens": 120, "completion_tokens": 15, "total_tokens": 135},
    }
    answer = chat_response_to_openai(giga, "GigaChat")
    choice = answer["choices"][0]
    assert choice["finish_reason"] == "tool_calls"
    assert choice["message"]["content"] is None
    (call,) = choice["message"]["tool_calls"]
    assert call["type"] == "function" and call["id"].startswith("call_")
    assert call["function"]["name"] == "get_weather"
    assert isinstance(call["function"]["arguments"], str)
    assert json.loads(call["function"]["arguments"]) == {"city": "Москва"}

    # 3. The client runs the tool and sends the history back.
    history = {
        "messages": [
            {"role": "system", "content": "Ты помощник."},
            user("Какая погода в Москве?"),
            choice["message"],
            {"role": "tool", "tool_call_id": call["id"], "content": "+5 °C, облачно"},
        ],
        "tools": [WEATHER_TOOL],
    }
    messages = chat_request_to_gigachat(history, "GigaChat")["messages"]
    assert messages == [
        {"role": "system", "content": "Ты помощник."},
        {"role": "user", "content": "Какая погода в Москве?"},
        {
            "role": "assistant",
            "content": "",
            "function_call": {"name": "get_weather", "arguments": {"city": "Москва"}},
        },
        {"role": "function", "name": "get_weather", "content": '{"result": "+5 °C, облачно"}'},
    ]


@pytest.mark.parametrize(
    ("tool_output", "expected"),
    [
        ('{"temp": 5, "sky": "облачно"}', {"temp": 5, "sky": "облачно"}),
        ("[1, 2]", {"result": [1, 2]}),
        ("42", {"result": 42}),
        ("NaN", {"result": "NaN"}),
        ("не JSON {", {"result": "не JSON {"}),
        ("", {"result": ""}),
    ],
)
def test_tool_output_becomes_a_json_object_string(tool_output, expected):
    body = {
        "messages": [
            user("?"),
            {"role": "assistant", "content": None, "tool_calls": [
                {"id": "call_1", "type": "function",
                 "function": {"name": "f", "arguments": ""}}]},
            {"role": "tool", "tool_call_id": "call_1", "content": tool_output},
        ]
    }  # fmt: skip
    function_msg = chat_request_to_gigachat(body, "GigaChat")["messages"][-1]
    assert function_msg["role"] == "function" and function_msg["name"] == "f"
    assert json.loads(function_msg["content"]) == expected


def test_parallel_tool_calls_are_interleaved_with_their_results():
    body = {
        "messages": [
            user("Погода и время?"),
            {
                "role": "assistant",
                "content": "Сейчас узнаю.",
                "tool_calls": [
                    {"id": "call_a", "type": "function",
                     "function": {"name": "get_weather", "arguments": '{"city": "Казань"}'}},
                    {"id": "call_b", "type": "function",
                     "function": {"name": "get_time", "arguments": "{}"}},
                ],
            },
            {"role": "tool", "tool_call_id": "call_b", "content": '{"time": "12:00"}'},
            {"role": "tool", "tool_call_id": "call_a", "content": '{"temp": 3}'},
            user("Спасибо"),
        ]
    }  # fmt: skip
    assert chat_request_to_gigachat(body, "GigaChat")["messages"] == [
        {"role": "user", "content": "Погода и время?"},
        {"role": "assistant", "content": "", "function_call": {"name": "get_time", "arguments": {}}},
        {"role": "function", "name": "get_time", "content": '{"time": "12:00"}'},
        {
            "role": "assistant",
            "content": "Сейчас узнаю.",
            "function_call": {"name": "get_weather", "arguments": {"city": "Казань"}},
        },
        {"role": "function", "name": "get_weather", "content": '{"temp": 3}'},
        {"role": "user", "content": "Спасибо"},
    ]


def test_json_schema_response_format():
    schema = {"type": "object", "properties": {"ok": {"type": "boolean"}}}
    body = req(
        response_format={
            "type": "json_schema",
            "json_schema": {"name": "r", "schema": schema, "strict": True},
        }
    )
    assert chat_request_to_gigachat(body, "GigaChat")["response_format"] == {
        "type": "json_schema",
        "schema": schema,
        "strict": True,
    }
    plain = chat_request_to_gigachat(req(response_format={"type": "text"}), "GigaChat")
    assert "response_format" not in plain


BAD_CALL = {"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{"}}


@pytest.mark.parametrize(
    "body",
    [
        ["not", "a", "dict"],
        {},
        {"messages": []},
        {"messages": "Привет"},
        {"messages": ["Привет"]},
        {"messages": [{"role": "robot", "content": "x"}]},
        {"messages": [{"content": "x"}]},
        {"messages": [{"role": "user", "content": 5}]},
        {"messages": [{"role": "user", "content": None}]},
        {"messages": [{"role": "user"}]},
        {"messages": [user([{"type": "image_url", "image_url": {"url": "https://x/y.png"}}])]},
        {"messages": [user([{"type": "text", "text": 1}])]},
        {"messages": [user(["просто строка"])]},
        {"messages": [{"role": "assistant", "content": None, "tool_calls": "f"}]},
        {"messages": [{"role": "assistant", "content": None, "tool_calls": [BAD_CALL]}]},
        {"messages": [{"role": "assistant", "content": None, "tool_calls": [
            {"id": "c1", "type": "function", "function": {"name": "f", "arguments": "[1]"}}]}]},
        {"messages": [{"role": "assistant", "content": None, "tool_calls": [
            {"type": "function", "function": {"name": "f", "arguments": "{}"}}]}]},
        {"messages": [{"role": "assistant", "content": None, "tool_calls": [{"id": "c1"}]}]},
        {"messages": [{"role": "tool", "tool_call_id": "nope", "content": "1"}]},
        {"messages": [{"role": "function", "content": "1"}]},
        req(tools={"type": "function"}),
        req(tools=[{"type": "code_interpreter"}]),
        req(tools=[{"type": "function", "function": {"description": "без имени"}}]),
        req(tools=[WEATHER_TOOL], tool_choice="sometimes"),
        req(tools=[WEATHER_TOOL], tool_choice={"type": "function", "function": {}}),
        req(functions="f"),
        req(temperature=-1),
        req(temperature="горячо"),
        req(temperature=True),
        req(top_p=1.5),
        req(max_tokens=0),
        req(max_tokens=True),
        req(max_tokens=10.5),
        req(stream="yes"),
        req(n=2),
        req(model=5),
    ],
)  # fmt: skip
def test_bad_chat_requests_raise_invalid_request_in_russian(body):
    with pytest.raises(InvalidRequest) as info:
        chat_request_to_gigachat(body, "GigaChat")
    assert CYRILLIC.search(str(info.value)), str(info.value)


# ---------------------------------------------------------------- chat response

GIGA_ANSWER = {
    "choices": [
        {"message": {"role": "assistant", "content": "**Привет!**"}, "index": 0,
         "finish_reason": "stop"}
    ],
    "created": 1768996171,
    "model": "GigaChat:2.0.28.2",
    "object": "chat.completion",
    "usage": {"prompt_tokens": 17, "completion_tokens": 3, "total_tokens": 20,
              "precached_prompt_tokens": 2},
}  # fmt: skip


def test_plain_answer():
    out = chat_response_to_openai(GIGA_ANSWER, "GigaChat")
    assert re.fullmatch(r"chatcmpl-[0-9a-f]{32}", out["id"])
    assert out["object"] == "chat.completion"
    assert out["created"] == 1768996171
    assert out["model"] == "GigaChat:2.0.28.2"
    assert out["choices"] == [
        {
            "index": 0,
            "message": {"role": "assistant", "content": "**Привет!**"},
            "logprobs": None,
            "finish_reason": "stop",
        }
    ]
    assert out["usage"] == {
        "prompt_tokens": 17,
        "completion_tokens": 3,
        "total_tokens": 20,
        "prompt_tokens_details": {"cached_tokens": 2},
    }
    assert chat_response_to_openai(GIGA_ANSWER)["id"] != out["id"]


def test_model_falls_back_to_the_requested_one():
    bare = {"choices": [{"message": {"content": "x"}, "finish_reason": "stop"}]}
    out = chat_response_to_openai(bare, "GigaChat-2-Max")
    assert out["model"] == "GigaChat-2-Max"
    assert out["choices"][0]["index"] == 0
    assert isinstance(out["created"], int) and out["created"] > 1_700_000_000
    assert "usage" not in out


@pytest.mark.parametrize(
    ("giga", "openai"),
    [
        ("stop", "stop"),
        ("length", "length"),
        ("function_call", "tool_calls"),
        ("blacklist", "content_filter"),
        ("error", "stop"),
        (None, "stop"),
        ("something_new", "stop"),
    ],
)
def test_finish_reason_mapping(giga, openai):
    resp = {"choices": [{"message": {"role": "assistant", "content": "x"}, "finish_reason": giga}]}
    assert chat_response_to_openai(resp)["choices"][0]["finish_reason"] == openai


def test_answers_validate_against_the_openai_sdk_models():
    types = pytest.importorskip("openai.types.chat")
    types.ChatCompletion.model_validate(chat_response_to_openai(GIGA_ANSWER))
    call = {"name": "f", "arguments": {"a": 1}}
    resp = {"choices": [{"message": {"role": "assistant", "content": "", "function_call": call},
                         "finish_reason": "function_call"}]}  # fmt: skip
    parsed = types.ChatCompletion.model_validate(chat_response_to_openai(resp))
    assert parsed.choices[0].message.tool_calls[0].function.arguments == '{"a": 1}'
    for chunk in StreamTranslator("GigaChat", include_usage=True).translate(STREAM[0]):
        types.ChatCompletionChunk.model_validate(chunk)


# ---------------------------------------------------------------- streaming

STREAM = [
    {"choices": [{"delta": {"content": "Привет", "role": "assistant"}, "index": 0}],
     "created": 1768996171, "model": "GigaChat:2.0.28.2", "object": "chat.completion"},
    {"choices": [{"delta": {"content": "! Чем"}, "index": 0}],
     "created": 1768996172, "model": "GigaChat:2.0.28.2", "object": "chat.completion"},
    {"choices": [{"delta": {"content": " помочь?"}, "index": 0}],
     "created": 1768996172, "model": "GigaChat:2.0.28.2", "object": "chat.completion"},
    {"choices": [{"delta": {"content": ""}, "index": 0, "finish_reason": "stop"}],
     "created": 1768996173, "model": "GigaChat:2.0.28.2", "object": "chat.completion",
     "usage": {"prompt_tokens": 18, "completion_tokens": 7, "total_tokens": 25}},
]  # fmt: skip


def run_stream(chunks, **kwargs):
    translator = StreamTranslator("GigaChat", **kwargs)
    out = [o for chunk in chunks for o in translator.translate(chunk)]
    return out + translator.close()


def test_stream_translation_of_a_realistic_sequence():
    out = run_stream(STREAM, include_usage=True)
    assert len(out) == 5
    assert {o["id"] for o in out} == {out[0]["id"]} and out[0]["id"].startswith("chatcmpl-")
    assert {o["created"] for o in out} == {out[0]["created"]}
    assert {o["object"] for o in out} == {"chat.completion.chunk"}
    assert {o["model"] for o in out} == {"GigaChat:2.0.28.2"}

    deltas = [o["choices"][0]["delta"] for o in out[:4]]
    assert deltas[0] == {"role": "assistant", "content": "Привет"}
    assert all("role" not in d for d in deltas[1:])
    assert "".join(d.get("content", "") for d in deltas) == "Привет! Чем помочь?"
    assert [o["choices"][0]["finish_reason"] for o in out[:4]] == [None, None, None, "stop"]
    assert deltas[3] == {}

    assert out[4]["choices"] == []
    assert out[4]["usage"] == {"prompt_tokens": 18, "completion_tokens": 7, "total_tokens": 25}

    types = pytest.importorskip("openai.types.chat")
    for chunk in out:
        types.ChatCompletionChunk.model_validate(chunk)


def test_stream_without_usage_option_sends_no_usage_chunk():
    out = run_stream(STREAM)
    assert len(out) == 4
    assert all("usage" not in o for o in out)


def test_stream_first_chunk_without_content_still_carries_the_role():
    chunks = [{"choices": [{"delta": {"role": "assistant", "content": ""}, "index": 0}]}] + STREAM[1:]
    out = run_stream(chunks)
    assert out[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    assert out[1]["choices"][0]["delta"] == {"content": "! Чем"}
    assert {o["model"] for o in out} == {"GigaChat"}  # the first chunk named no model
    assert sum("role" in o["choices"][0]["delta"] for o in out) == 1


def test_stream_function_call_becomes_tool_calls():
    chunks = [
        {"choices": [{"delta": {"content": "", "role": "assistant",
                                "function_call": {"name": "get_weather",
                                                  "arguments": {"city": "Тверь"}}},
                      "index": 0, "finish_reason": "function_call"}],
         "model": "GigaChat-2", "usage": {"prompt_tokens": 5, "completion_tokens": 4,
                                          "total_tokens": 9}},
    ]  # fmt: skip
    (out,) = run_stream(chunks)
    choice = out["choices"][0]
    assert choice["finish_reason"] == "tool_calls"
    (call,) = choice["delta"]["tool_calls"]
    assert call["index"] == 0 and call["type"] == "function" and call["id"].startswith("call_")
    assert call["function"]["name"] == "get_weather"
    assert json.loads(call["function"]["arguments"]) == {"city": "Тверь"}
    assert choice["delta"]["role"] == "assistant"


def test_stream_cut_short_still_finishes():
    out = run_stream(STREAM[:2])
    assert out[-1]["choices"][0]["finish_reason"] == "stop"
    assert out[-1]["choices"][0]["delta"] == {}
    empty = run_stream([])
    assert len(empty) == 1 and empty[0]["choices"][0]["delta"]["role"] == "assistant"


def test_stream_to_openai_yields_server_sent_events():
    events = list(stream_to_openai(STREAM, "GigaChat", include_usage=True))
    assert events[-1] == SSE_DONE == b"data: [DONE]\n\n"
    payloads = []
    for event in events[:-1]:
        assert event.startswith(b"data: ") and event.endswith(b"\n\n")
        assert event.count(b"\n") == 2
        payloads.append(json.loads(event[len(b"data: ") :].decode("utf-8")))
    assert len(payloads) == 5
    assert payloads[0]["choices"][0]["delta"]["content"] == "Привет"


def test_sse_event_is_utf8_json():
    assert sse_event({"text": "Да\nнет"}) == 'data: {"text": "Да\\nнет"}\n\n'.encode()


# ---------------------------------------------------------------- models, embeddings, errors


def test_models_list():
    giga = {
        "object": "list",
        "data": [
            {"id": "GigaChat", "object": "model", "owned_by": "salutedevices", "type": "chat"},
            {"id": "Embeddings", "object": "model", "type": "embedder"},
            {"object": "model"},
        ],
    }
    assert models_to_openai(giga) == {
        "object": "list",
        "data": [
            {"id": "GigaChat", "object": "model", "created": 0, "owned_by": "salutedevices",
             "type": "chat"},
            {"id": "Embeddings", "object": "model", "created": 0, "owned_by": "salutedevices",
             "type": "embedder"},
        ],
    }
    assert models_to_openai({}) == {"object": "list", "data": []}


def test_embeddings_request():
    assert embeddings_request_to_gigachat({"input": "текст"}) == ("Embeddings", ["текст"])
    assert embeddings_request_to_gigachat(
        {"model": "EmbeddingsGigaR", "input": ["а", "б"], "encoding_format": "float"}
    ) == ("EmbeddingsGigaR", ["а", "б"])
    assert embeddings_request_to_gigachat({"input": "x"}, "Embeddings-2")[0] == "Embeddings-2"


@pytest.mark.parametrize(
    "body",
    [
        "текст",
        {},
        {"input": []},
        {"input": 5},
        {"input": ["а", 1]},
        {"input": [1, 2, 3]},
        {"input": [[1, 2], [3]]},
        {"input": "x", "model": 1},
        {"input": "x", "encoding_format": "int8"},
    ],
)
def test_bad_embeddings_requests_raise_invalid_request_in_russian(body):
    with pytest.raises(InvalidRequest) as info:
        embeddings_request_to_gigachat(body)
    assert CYRILLIC.search(str(info.value))


def test_token_arrays_are_rejected_with_a_clear_message():
    with pytest.raises(InvalidRequest, match="Массивы токенов"):
        embeddings_request_to_gigachat({"input": [101, 102]})


GIGA_EMBEDDINGS = {
    "object": "list",
    "model": "Embeddings",
    "data": [
        {"object": "embedding", "index": 1, "embedding": [0.5, -1.0], "usage": {"prompt_tokens": 4}},
        {"object": "embedding", "index": 0, "embedding": [0.25, 2.0], "usage": {"prompt_tokens": 9}},
    ],
}


def test_embeddings_response():
    assert embeddings_response_to_openai(GIGA_EMBEDDINGS, "Embeddings") == {
        "object": "list",
        "data": [
            {"object": "embedding", "index": 0, "embedding": [0.25, 2.0]},
            {"object": "embedding", "index": 1, "embedding": [0.5, -1.0]},
        ],
        "model": "Embeddings",
        "usage": {"prompt_tokens": 13, "total_tokens": 13},
    }
    types = pytest.importorskip("openai.types")
    types.CreateEmbeddingResponse.model_validate(
        embeddings_response_to_openai(GIGA_EMBEDDINGS, "Embeddings")
    )


def test_embeddings_response_as_base64_float32():
    out = embeddings_response_to_openai(GIGA_EMBEDDINGS, "Embeddings", encoding_format="base64")
    decoded = array.array("f", base64.b64decode(out["data"][1]["embedding"])).tolist()
    assert decoded == [0.5, -1.0]


@pytest.mark.parametrize(
    ("status", "type_"),
    [
        (400, "invalid_request_error"),
        (401, "authentication_error"),
        (402, "insufficient_quota"),
        (403, "permission_error"),
        (404, "not_found_error"),
        (413, "invalid_request_error"),
        (422, "invalid_request_error"),
        (429, "rate_limit_exceeded"),
        (500, "server_error"),
        (502, "server_error"),
        (503, "server_error"),
        (418, "invalid_request_error"),
    ],
)
def test_openai_error_types(status, type_):
    assert openai_error(status, "Ошибка") == {
        "error": {"message": "Ошибка", "type": type_, "param": None, "code": None}
    }


def test_openai_error_explicit_type_and_code():
    body = openai_error(401, "Неверный ключ", "authentication_error", "invalid_api_key")
    assert body["error"]["code"] == "invalid_api_key"
    assert openai_error(500, "x", type_="api_error")["error"]["type"] == "api_error"


@pytest.mark.parametrize(
    ("extra", "field"),
    [
        ({"stream_options": "yes"}, "stream_options"),
        ({"stream_options": {"include_usage": "yes"}}, "stream_options.include_usage"),
        ({"response_format": "json"}, "response_format"),
        ({"response_format": {"type": "xml"}}, "response_format.type"),
        ({"response_format": {"type": "json_schema", "json_schema": "s"}},
         "response_format.json_schema"),
        ({"response_format": {"type": "json_schema", "json_schema": {"schema": []}}},
         "response_format.json_schema.schema"),
        ({"response_format": {"type": "json_schema", "json_schema": {"strict": "false"}}},
         "response_format.json_schema.strict"),
        ({"tools": [{"type": "function", "function": {"name": "f", "description": 5}}]},
         "tools[0].function.description"),
        ({"tools": [{"type": "function", "function": {"name": "f", "parameters": "x"}}]},
         "tools[0].function.parameters"),
        ({"tools": [{"type": "function", "function": {"name": ["f"]}}]}, "tools[0].function.name"),
        ({"temperature": 1e308}, "temperature"),
        ({"temperature": 2.5}, "temperature"),
        ({"top_p": -0.1}, "top_p"),
        ({"repetition_penalty": 1e308}, "repetition_penalty"),
        ({"max_tokens": 10**30}, "max_tokens"),
        ({"max_completion_tokens": 0}, "max_completion_tokens"),
        ({"n": True}, "n"),
        ({"model": ["GigaChat"]}, "model"),
    ],
)  # fmt: skip
def test_wrong_types_and_ranges_name_the_field(extra, field):
    with pytest.raises(InvalidRequest) as info:
        chat_request_to_gigachat(req(**extra))
    assert info.value.field == field
    assert field in info.value.message and CYRILLIC.search(info.value.message)


CALL = {"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}}


@pytest.mark.parametrize(
    ("message", "field"),
    [
        ({"role": "tool", "tool_call_id": ["c1"], "content": "1"}, "messages[1].tool_call_id"),
        ({"role": "tool", "tool_call_id": "c1", "name": 5, "content": "1"}, "messages[1].name"),
        ({"role": "assistant", "content": None, "function_call": "f"}, "messages[1].function_call"),
        ({"role": "assistant", "content": None, "tool_calls": [
            {**CALL, "function": {"name": "f", "arguments": 5}}]},
         "messages[1].tool_calls[0].function.arguments"),
        ({"role": "assistant", "content": None, "tool_calls": [
            {**CALL, "function": {"name": "f", "arguments": '{"a": NaN}'}}]},
         "messages[1].tool_calls[0].function.arguments.a"),
        ({"role": "assistant", "content": None, "tool_calls": [
            {**CALL, "function": {"name": "f", "arguments": "[" * 100_000}}]},
         "messages[1].tool_calls[0].function.arguments"),
        ({"role": "assistant", "content": None, "tool_calls": [{**CALL, "id": 7}]},
         "messages[1].tool_calls[0].id"),
        ({"role": "assistant", "content": None, "tool_calls": [{**CALL, "function": "f"}]},
         "messages[1].tool_calls[0].function"),
        ({"role": ["user"], "content": "x"}, "messages[1].role"),
    ],
)  # fmt: skip
def test_wrong_types_in_messages_name_the_field(message, field):
    with pytest.raises(InvalidRequest) as info:
        chat_request_to_gigachat({"messages": [user("?"), message]})
    assert info.value.field == field, info.value.message
    assert CYRILLIC.search(info.value.message)


def test_tool_output_that_is_not_strict_json_is_passed_on_as_text():
    for output in ("[" * 100_000, "1" * 100_000, '{"x": Infinity}'):
        body = {"messages": [user("?"), {"role": "assistant", "content": None, "tool_calls": [CALL]},
                             {"role": "tool", "tool_call_id": "c1", "content": output}]}
        content = chat_request_to_gigachat(body)["messages"][-1]["content"]
        assert json.loads(content) == {"result": output}


def test_no_model_named_leaves_the_choice_to_the_route():
    assert chat_request_to_gigachat({"messages": [user("?")]})["model"] is None
    assert chat_request_to_gigachat(req(model=""))["model"] is None
