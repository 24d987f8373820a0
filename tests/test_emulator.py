"""The GigaChat emulator over real loopback sockets."""

from __future__ import annotations

import base64
import json
import re
import threading
import time
import uuid
from pathlib import Path

import pytest
import requests

from gigachat.emulator import DEMO_KEY, Emulator, make_key
from tests.conftest import wait_for

REPO = Path(__file__).resolve().parent.parent
TIMEOUT = 10
USER = {"role": "user", "content": "Договор поставки №127 на сумму 2 450 000 руб."}
UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")


# --------------------------------------------------------------------------- helpers


@pytest.fixture
def make_emulator():
    """Start emulators with custom settings; stop them all afterwards."""
    started: list[Emulator] = []

    def factory(**kwargs) -> Emulator:
        emu = Emulator(**kwargs).start()
        started.append(emu)
        return emu

    yield factory
    for emu in started:
        emu.stop()


def oauth(emu, key=DEMO_KEY, scope="GIGACHAT_API_PERS", *, rquid="new", headers=None, **kwargs):
    """POST the OAuth form; ``rquid=None`` leaves the header out."""
    sent = {
        "Authorization": f"Basic {key}",
        "Accept": "application/json",
        "Content-Type": "application/x-www-form-urlencoded",
    }
    if rquid == "new":
        sent["RqUID"] = str(uuid.uuid4())
    elif rquid is not None:
        sent["RqUID"] = rquid
    sent.update(headers or {})
    session = kwargs.pop("session", requests)
    return session.post(emu.oauth_url, headers=sent, data=f"scope={scope}", timeout=TIMEOUT, **kwargs)


def token_for(emu, **kwargs) -> str:
    reply = oauth(emu, **kwargs)
    assert reply.status_code == 200, reply.text
    return reply.json()["access_token"]


def call(emu, method, path, token, *, session=requests, headers=None, **kwargs):
    sent = {"Authorization": f"Bearer {token}", **(headers or {})}
    return session.request(method, emu.api_url + path, headers=sent, timeout=TIMEOUT, **kwargs)


def chat(emu, token, *, session=requests, headers=None, **payload):
    body = {"model": "GigaChat", "messages": [USER], **payload}
    return call(emu, "POST", "/chat/completions", token, session=session, headers=headers, json=body)


def sse_payloads(response) -> list[str]:
    lines = [line.decode("utf-8") for line in response.iter_lines() if line]
    assert all(line.startswith("data: ") for line in lines), lines
    return [line[len("data: ") :] for line in lines]


def in_background(fn):
    """Run fn in a thread; return (thread, box) where box[0] gets the result or exception."""
    box: list = []

    def run():
        try:
            box.append(fn())
        except Exception as exc:  # handed to the test through the box
            box.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, box


# --------------------------------------------------------------------------- keys and OAuth


def test_demo_key_is_base64_of_id_and_secret():
    assert base64.b64decode(DEMO_KEY).decode() == "demo-client-id:demo-client-secret"
    assert make_key("a", "b") == base64.b64encode(b"a:b").decode()


def test_oauth_success_shape(emulator):
    before = time.time()
    reply = oauth(emulator)
    assert reply.status_code == 200
    assert reply.headers["Content-Type"] == "application/json; charset=utf-8"
    assert UUID_RE.match(reply.headers["X-Request-Id"])
    assert UUID_RE.match(reply.headers["X-Session-Id"])
    body = reply.json()
    assert set(body) == {"access_token", "expires_at"}
    assert 1100 <= len(body["access_token"]) <= 1400
    assert isinstance(body["expires_at"], int)
    assert (before + 1800) * 1000 - 2000 <= body["expires_at"] <= (time.time() + 1800) * 1000 + 2000
    assert emulator.issued_tokens == [body["access_token"]]
    assert emulator.stats["oauth_requests"] == 1
    assert DEMO_KEY in emulator.keys


def test_oauth_tokens_are_unique_and_lifetime_fractional(make_emulator):
    emu = make_emulator(token_lifetime=3.0)
    first, second = oauth(emu).json(), oauth(emu).json()
    assert first["access_token"] != second["access_token"]
    assert abs(first["expires_at"] - (time.time() + 3.0) * 1000) < 1500


def test_oauth_log_records_rquid_and_scope(emulator):
    rquid = str(uuid.uuid4())
    oauth(emulator, rquid=rquid, scope="GIGACHAT_API_B2B")
    oauth(emulator, scope="")
    log = emulator.oauth_log
    assert [entry["rquid"] for entry in log][0] == rquid
    assert [(entry["scope"], entry["status"]) for entry in log] == [("GIGACHAT_API_B2B", 200), ("", 400)]
    assert all(DEMO_KEY not in json.dumps(entry) for entry in log)


@pytest.mark.parametrize(
    ("kwargs", "status", "code", "message"),
    [
        ({"key": make_key("someone", "wrong")}, 401, 6, "credentials doesn't match db data"),
        ({"key": "not base64 at all!"}, 401, 4, "Can't decode 'Authorization' header"),
        ({"key": base64.b64encode(b"\xff\xfe\xfd").decode()}, 401, 4, "Can't decode 'Authorization' header"),
        ({"scope": ""}, 400, 5, "scope is empty"),
        ({"scope": "GIGACHAT_API_WHATEVER"}, 400, 1, "scope data format invalid"),
    ],
)
def test_oauth_errors(emulator, kwargs, status, code, message):
    reply = oauth(emulator, **kwargs)
    assert reply.status_code == status
    assert reply.json() == {"code": code, "message": message}
    assert emulator.issued_tokens == []


@pytest.mark.parametrize("rquid", [None, "", "not-a-uuid", "1234"])
def test_oauth_needs_a_uuid_rquid(emulator, rquid):
    reply = oauth(emulator, rquid=rquid)
    assert reply.status_code == 400
    assert set(reply.json()) == {"code", "message"}


def test_oauth_needs_form_content_type(emulator):
    reply = oauth(emulator, headers={"Content-Type": "application/json"})
    assert reply.status_code == 400
    assert "Content-Type" in reply.json()["message"]


def test_oauth_scope_not_issued_for_the_key(make_emulator):
    key = make_key("pers-only", "secret")
    emu = make_emulator(keys={key: ["GIGACHAT_API_PERS"]})
    reply = oauth(emu, key=key, scope="GIGACHAT_API_CORP")
    assert reply.status_code == 400
    assert reply.json() == {"code": 7, "message": "scope from db not fully includes consumed scope"}
    assert oauth(emu, key=key).status_code == 200
    assert oauth(emu, key=DEMO_KEY).json()["code"] == 6  # custom keys replace the demo key


def test_reject_keys_switch(emulator):
    emulator.reject_keys = True
    assert oauth(emulator).json() == {"code": 6, "message": "credentials doesn't match db data"}
    emulator.reject_keys = False
    assert oauth(emulator).status_code == 200


# --------------------------------------------------------------------------- bearer tokens


def test_expired_token(make_emulator):
    emu = make_emulator(token_lifetime=0.2)
    reply = oauth(emu)
    expires_at = reply.json()["expires_at"] / 1000
    wait_for(lambda: time.time() > expires_at + 0.01)
    answer = call(emu, "GET", "/models", reply.json()["access_token"])
    assert answer.status_code == 401
    assert answer.json() == {"status": 401, "message": "Token has expired"}


@pytest.mark.parametrize("authorization", [None, "Bearer unknown-token", "Basic " + DEMO_KEY])
def test_unknown_token_is_unauthorized(emulator, authorization):
    headers = {} if authorization is None else {"Authorization": authorization}
    reply = requests.get(emulator.api_url + "/models", headers=headers, timeout=TIMEOUT)
    assert reply.status_code == 401
    assert reply.json() == {"status": 401, "message": "Unauthorized"}


def test_expire_and_revoke_tokens(emulator):
    token = token_for(emulator)
    emulator.expire_tokens()
    assert call(emulator, "GET", "/models", token).json()["message"] == "Token has expired"
    emulator.revoke_tokens()
    assert call(emulator, "GET", "/models", token).json()["message"] == "Unauthorized"
    assert token in emulator.issued_tokens


# --------------------------------------------------------------------------- chat


def test_chat_shape(emulator):
    token = token_for(emulator)
    session_id = str(uuid.uuid4())
    reply = chat(emulator, token, headers={"X-Session-Id": session_id})
    assert reply.status_code == 200
    assert reply.headers["Content-Type"] == "application/json; charset=utf-8"
    assert reply.headers["X-Session-Id"] == session_id
    assert UUID_RE.match(reply.headers["X-Request-Id"])
    body = reply.json()
    assert set(body) == {"choices", "created", "model", "object", "usage"}
    assert body["object"] == "chat.completion"
    assert body["model"] == "GigaChat:2.0.28.2"
    assert abs(body["created"] - time.time()) < 60
    (choice,) = body["choices"]
    assert choice["index"] == 0 and choice["finish_reason"] == "stop"
    assert choice["message"]["role"] == "assistant"
    content = choice["message"]["content"]
    assert "**" in content and "\n- " in content and "| --- |" in content
    assert re.search("[а-яА-Я]", content)
    assert "«Договор»" in content
    usage = body["usage"]
    assert set(usage) == {"prompt_tokens", "completion_tokens", "total_tokens", "precached_prompt_tokens"}
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]
    assert usage["completion_tokens"] == (len(content) + 3) // 4
    assert chat(emulator, token).json()["choices"] == body["choices"]  # deterministic


def test_chat_model_carries_the_requested_name(emulator):
    token = token_for(emulator)
    assert chat(emulator, token, model="GigaChat-2-Max").json()["model"] == "GigaChat-2-Max:2.0.28.2"


def test_set_reply_and_max_tokens(emulator):
    token = token_for(emulator)
    emulator.set_reply("<script>alert(1)</script> & **жирный**")
    answer = chat(emulator, token).json()["choices"][0]
    assert answer["message"]["content"] == "<script>alert(1)</script> & **жирный**"
    short = chat(emulator, token, max_tokens=2).json()
    assert short["choices"][0]["finish_reason"] == "length"
    assert short["choices"][0]["message"]["content"] == "<script>"
    assert short["usage"]["completion_tokens"] == 2
    emulator.set_reply(None)
    assert "**Ответ" in chat(emulator, token).json()["choices"][0]["message"]["content"]


@pytest.mark.parametrize(
    ("change", "status", "message"),
    [
        ({"model": None}, 422, "Invalid params"),
        ({"model": "NoSuchModel"}, 404, "No such model"),
        ({"model": "Embeddings"}, 404, "No such model"),
        ({"messages": []}, 422, "Invalid params"),
        ({"messages": [{"role": "robot", "content": "x"}]}, 422, "Invalid params"),
        ({"messages": [{"role": "user", "content": 5}]}, 422, "Invalid params"),
        ({"messages": [{"role": "system", "content": "a"}, {"role": "system", "content": "b"}]}, 422, ""),
        ({"messages": [USER, {"role": "system", "content": "late"}]}, 422, "Invalid params"),
        ({"messages": [USER, {"role": "function", "content": "not json"}]}, 422, "Invalid params"),
        (
            {"messages": [USER, {"role": "assistant", "content": "", "function_call": {"name": "f"}}]},
            422,
            "Invalid params",
        ),
        ({"temperature": 0}, 422, "temperature"),
        ({"top_p": 1.5}, 422, "top_p"),
        ({"max_tokens": 0}, 422, "max_tokens"),
        ({"max_tokens": "10"}, 422, "max_tokens"),
    ],
)
def test_chat_validation(emulator, change, status, message):
    token = token_for(emulator)
    payload = {"model": "GigaChat", "messages": [USER], **change}
    payload = {k: v for k, v in payload.items() if v is not None}
    reply = call(emulator, "POST", "/chat/completions", token, json=payload)
    assert reply.status_code == status
    body = reply.json()
    assert set(body) == {"status", "message"} and body["status"] == status
    assert message in body["message"]
    if status == 422:
        assert body["message"].startswith("Invalid params: ")


@pytest.mark.parametrize("raw", [b"{not json", b"\xff\xfe{}", b"[1, 2]"])
def test_chat_malformed_body_is_400_json(emulator, raw):
    token = token_for(emulator)
    headers = {"Content-Type": "application/json"}
    reply = call(emulator, "POST", "/chat/completions", token, headers=headers, data=raw)
    assert reply.status_code == 400
    assert reply.json()["status"] == 400


FUNCTIONS = [
    {
        "name": "get_weather",
        "description": "Погода",
        "parameters": {
            "type": "object",
            "properties": {
                "city": {"type": "string"},
                "days": {"type": "integer"},
                "unit": {"type": "string"},
            },
            "required": ["city", "days"],
        },
    },
    {
        "name": "find_invoice",
        "parameters": {
            "type": "object",
            "properties": {"number": {"type": "string"}},
            "required": ["number"],
        },
    },
]


def test_function_call(emulator):
    token = token_for(emulator)
    body = chat(emulator, token, functions=FUNCTIONS).json()
    (choice,) = body["choices"]
    assert choice["finish_reason"] == "function_call"
    message = choice["message"]
    assert message["content"] == ""
    assert message["function_call"] == {"name": "get_weather", "arguments": {"city": "пример", "days": 1}}
    assert UUID_RE.match(message["functions_state_id"])
    named = chat(emulator, token, functions=FUNCTIONS, function_call={"name": "find_invoice"}).json()
    assert named["choices"][0]["message"]["function_call"]["arguments"] == {"number": "пример"}
    plain = chat(emulator, token, functions=FUNCTIONS, function_call="none").json()
    assert plain["choices"][0]["finish_reason"] == "stop"


def test_function_result_gets_a_text_answer(emulator):
    token = token_for(emulator)
    messages = [
        USER,
        {"role": "assistant", "content": "", "function_call": {"name": "get_weather", "arguments": {}}},
        {"role": "function", "name": "get_weather", "content": '{"temperature": 20}'},
    ]
    body = chat(emulator, token, messages=messages, functions=FUNCTIONS).json()
    assert body["choices"][0]["finish_reason"] == "stop"
    assert body["choices"][0]["message"]["content"]


# --------------------------------------------------------------------------- streaming


def test_streaming_shape_and_keep_alive(emulator):
    session = requests.Session()
    token = token_for(emulator, session=session)
    expected = chat(emulator, token, session=session).json()["choices"][0]["message"]["content"]
    with chat(emulator, token, session=session, stream=True) as reply:
        assert reply.status_code == 200
        assert reply.headers["Content-Type"].startswith("text/event-stream")
        assert UUID_RE.match(reply.headers["X-Request-Id"])
        payloads = sse_payloads(reply)
    assert payloads[-1] == "[DONE]"
    chunks = [json.loads(p) for p in payloads[:-1]]
    assert len(chunks) >= 4
    for chunk in chunks:
        assert set(chunk) >= {"choices", "created", "model", "object"}
        assert chunk["object"] == "chat.completion" and chunk["model"] == "GigaChat:2.0.28.2"
    deltas = [chunk["choices"][0]["delta"] for chunk in chunks]
    assert deltas[0]["role"] == "assistant"
    assert all("role" not in delta for delta in deltas[1:])
    assert "".join(delta["content"] for delta in deltas) == expected
    last = chunks[-1]
    assert last["choices"][0]["delta"] == {"content": ""}
    assert last["choices"][0]["finish_reason"] == "stop"
    assert last["usage"]["completion_tokens"] == (len(expected) + 3) // 4
    assert all("finish_reason" not in chunk["choices"][0] for chunk in chunks[:-1])
    # the chunked stream ended cleanly: the same connection serves the next request
    assert chat(emulator, token, session=session).status_code == 200
    assert emulator.stats["connections"] == 1


def test_streaming_function_call(emulator):
    token = token_for(emulator)
    with chat(emulator, token, stream=True, functions=FUNCTIONS) as reply:
        payloads = sse_payloads(reply)
    chunks = [json.loads(p) for p in payloads[:-1]]
    assert chunks[0]["choices"][0]["delta"]["function_call"]["name"] == "get_weather"
    assert chunks[-1]["choices"][0]["finish_reason"] == "function_call"


# --------------------------------------------------------------------------- other endpoints


def test_models(emulator):
    token = token_for(emulator)
    body = call(emulator, "GET", "/models", token).json()
    assert body["object"] == "list"
    kinds = {entry["id"]: entry["type"] for entry in body["data"]}
    for name in (
        "GigaChat",
        "GigaChat-2",
        "GigaChat-2-Pro",
        "GigaChat-2-Max",
        "GigaChat-Pro",
        "GigaChat-Max",
    ):
        assert kinds[name] == "chat"
    for name in ("Embeddings", "Embeddings-2", "EmbeddingsGigaR"):
        assert kinds[name] == "embedder"
    assert all(e["object"] == "model" and e["owned_by"] == "salutedevices" for e in body["data"])
    assert call(emulator, "GET", "/models/GigaChat-2", token).json()["id"] == "GigaChat-2"
    assert call(emulator, "GET", "/models/Nope", token).status_code == 404


def test_embeddings(emulator):
    token = token_for(emulator)
    payload = {"model": "Embeddings", "input": ["первый текст", "второй"]}
    body = call(emulator, "POST", "/embeddings", token, json=payload).json()
    assert body["object"] == "list" and body["model"] == "Embeddings"
    assert [item["index"] for item in body["data"]] == [0, 1]
    for item in body["data"]:
        assert item["object"] == "embedding"
        assert len(item["embedding"]) == 1024
        assert all(isinstance(x, float) for x in item["embedding"])
        assert item["usage"]["prompt_tokens"] > 0
    assert body["data"][0]["embedding"] != body["data"][1]["embedding"]
    again = call(emulator, "POST", "/embeddings", token, json=payload).json()
    assert again["data"][0]["embedding"] == body["data"][0]["embedding"]
    wrong = call(emulator, "POST", "/embeddings", token, json={"model": "GigaChat", "input": ["x"]})
    assert wrong.status_code == 404 and wrong.json()["message"] == "No such model"


def test_tokens_count_is_a_bare_array(emulator):
    token = token_for(emulator)
    payload = {"model": "GigaChat", "input": ["Привет, мир!!", ""]}
    body = call(emulator, "POST", "/tokens/count", token, json=payload).json()
    assert body == [
        {"object": "tokens", "tokens": 4, "characters": 13},
        {"object": "tokens", "tokens": 0, "characters": 0},
    ]


def test_balance_and_corp_permission(make_emulator):
    corp, b2b = make_key("corp", "s"), make_key("b2b", "s")
    emu = make_emulator(keys={corp: ["GIGACHAT_API_CORP"], b2b: ["GIGACHAT_API_B2B"]})
    balance = call(emu, "GET", "/balance", token_for(emu, key=b2b, scope="GIGACHAT_API_B2B")).json()
    assert {entry["usage"] for entry in balance["balance"]} >= {"GigaChat"}
    assert all(isinstance(entry["value"], int) for entry in balance["balance"])
    denied = call(emu, "GET", "/balance", token_for(emu, key=corp, scope="GIGACHAT_API_CORP"))
    assert denied.status_code == 403
    assert denied.json() == {"status": 403, "message": "Permission denied"}


def test_pers_balance_is_allowed(emulator):
    assert "balance" in call(emulator, "GET", "/balance", token_for(emulator)).json()
