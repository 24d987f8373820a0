"""The 1C module's contract, read from its source, against the live bridge (routes of today).

How the contract is read and checked: tests/onec_contract.py. The newer routes (jobs, extract,
files) are checked in tests/test_onec_contract_v2.py, masking and the connection file in
tests/test_onec_privacy.py.
"""

from __future__ import annotations

import json
import re

import pytest

from tests import onec_bridge
from tests.onec_bridge import (
    LOCAL_KEY,
    SAMPLE_VALUES,
    analyze_body,
    ask,
    send_like_module,
)
from tests.onec_bsl import arguments, bsl_parser, method_calls, string_value
from tests.onec_contract import (
    ASYNC_MODULE,
    MODULE,
    TODAY,
    answer_problems,
    extract_contract,
    live_problems,
    spec_problems,
    today_routes,
)
from tests.onec_wire import onec_json, onec_request

# module-scoped fixtures shared by the 1C contract modules (tests/onec_bridge.py)
contract, bridge = onec_bridge.contract, onec_bridge.bridge
key_bridge, live_spec = onec_bridge.key_bridge, onec_bridge.live_spec


# --- tests -----------------------------------------------------------------------------


def test_contract_is_derived_from_the_source(contract):
    """Guards the extractor itself: if it finds nothing, the other checks would be empty."""
    assert set(contract.routes) >= TODAY
    assert {("POST", "/jobs"), ("GET", "/jobs/{id}"), ("DELETE", "/jobs/{id}"),
            ("GET", "/jobs/{id}/results"), ("POST", "/analyze/extract")} <= set(contract.routes)
    assert contract.queries[("GET", "/jobs/{id}/results")] == ["offset", "limit"]
    assert {"text", "system_prompt", "return_format", "model", "temperature", "max_tokens", "files"} \
        <= contract.writes["ПараметрыЗапроса"]
    assert contract.writes["ФайлЗапроса"] == {"name", "data"}
    assert {"route", "request", "items"} == contract.writes["ПараметрыЗадания"]
    assert {"fields", "text", "instructions", "model", "files", "mask_personal_data",
            "allow_unmasked_files"} == contract.writes["ПараметрыИзвлечения"]
    assert {("success",), ("result",), ("error",), ("model",), ("usage",), ("usage", "total_tokens")} \
        <= contract.reads[("POST", "/analyze/text")]
    assert {("status",), ("error",), ("version",), ("demo",)} <= contract.reads[("GET", "/health")]
    assert {("data", "[]", "id"), ("data", "[]", "type")} <= contract.reads[("GET", "/v1/models")]
    assert {("state",), ("position",), ("partial",), ("progress", "done"), ("result", "success")} \
        <= contract.reads[("GET", "/jobs/{id}")]
    assert {("data",), ("missing",), ("success",)} <= contract.reads[("POST", "/analyze/extract")]
    assert {("id",), ("state",)} <= contract.reads[("POST", "/jobs")]
    assert {("error",), ("error", "message")} <= contract.error_reads
    assert contract.file_reads == {"port", "key", "url"}
    assert {"ok", "no_credentials", "starting"} <= contract.compared[("status",)]
    assert contract.headers["Content-Type"].startswith("application/json")
    assert contract.headers["Authorization"] == "Bearer "
    assert "Idempotency-Key" in contract.headers
    assert contract.unattributed == {}, "reads no route explains: add the method to HELPERS"


def test_async_module_uses_a_route_of_the_module(contract):
    tree = bsl_parser().parse(ASYNC_MODULE.read_bytes())
    paths = {string_value(arguments(c)[0]) for c in method_calls(tree.root_node, "ПодготовитьHTTPЗапрос")}
    assert paths == {"/analyze/text"} and ("POST", "/analyze/text") in contract.routes
    assert list(method_calls(tree.root_node, "ОтправитьДляОбработкиАсинх"))  # POST, as Спросить


def test_openapi_matches_the_module(contract, live_spec):
    assert today_routes(contract) == TODAY
    assert spec_problems(contract, live_spec, TODAY, pending=False) == []


def test_renaming_a_key_in_the_module_breaks_the_contract(live_spec, contract):
    source = MODULE.read_text(encoding="utf-8")
    for old, new in (('"system_prompt"', '"systemPrompt"'), ('"max_tokens"', '"maxTokens"'),
                     ('"success"', '"succes"'), ('"total_tokens"', '"tokens"'),
                     ('"/analyze/text"', '"/analyse/text"'), ('"no_credentials"', '"no_key"'),
                     ('"id"', '"name"'), ('"message"', '"msg"'), ('"status"', '"state_"')):
        assert old in source
        mutated = extract_contract(source.replace(old, new).encode("utf-8"))
        assert spec_problems(mutated, live_spec, today_routes(mutated), pending=False), \
            f"renaming {old} went unnoticed"


def test_renaming_a_key_in_the_bridge_breaks_the_contract(contract, live_spec, bridge):
    route = ("POST", "/analyze/text")
    answer = ask(bridge, contract, "text")
    assert live_problems(contract, route, answer) == []
    for old in ("success", "result", "usage", "model"):
        renamed = {("answer" if k == old else k): v for k, v in answer.items()}
        assert live_problems(contract, route, renamed), f"renaming {old} went unnoticed"
    assert live_problems(contract, route, dict(answer, usage={"total": 1}))
    spec = json.loads(json.dumps(live_spec))
    spec["components"]["schemas"]["AnalyzeRequest"]["properties"].pop("system_prompt")
    assert spec_problems(contract, spec, TODAY, pending=False)


@pytest.mark.parametrize("return_format", ["text", "html"])
def test_module_request_succeeds_on_the_wire(bridge, contract, return_format):
    answer = ask(bridge, contract, return_format)
    assert answer["success"] is True, answer
    assert live_problems(contract, ("POST", "/analyze/text"), answer) == []
    assert answer["error"] is None
    assert answer["model"].startswith(SAMPLE_VALUES["model"])  # the module's "model" key is honoured
    assert answer["usage"]["total_tokens"] > 0
    if return_format == "html":
        assert answer["result"].lstrip().lower().startswith("<!doctype html")
        assert "<script" not in answer["result"].lower()
    else:
        assert "<html" not in answer["result"].lower() and answer["result"].strip()


def test_tutorial_form_request_with_bom_succeeds(bridge):
    """The tutorial's form: default ЗаписьJSON (CRLF, tabs), a BOM, `Content-Type: application/json`."""
    body = onec_json({"text": SAMPLE_VALUES["text"], "system_prompt": SAMPLE_VALUES["system_prompt"],
                      "return_format": "html"})
    assert b"\r\n" in body and "Договор".encode() in body
    status, headers, raw = onec_request(bridge.host, bridge.port, "/analyze/text", body, bom=True,
                                        headers=[("Content-Type", "application/json")])
    assert status == 200 and headers["content-type"] == "application/json; charset=utf-8"
    answer = json.loads(raw.decode("utf-8"))
    assert answer["success"] is True, answer
    assert all(re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", k) for k in answer)


def test_health_answer_matches_the_module(bridge, contract):
    route = ("GET", "/health")
    status, headers, raw = send_like_module(bridge, contract, route, None)
    assert status == 200 and headers["content-type"] == "application/json; charset=utf-8"
    answer = json.loads(raw)
    assert live_problems(contract, route, answer, strict=False) == []
    assert answer["status"] in contract.compared[("status",)]


def test_models_answer_matches_the_module(bridge, contract):
    route = ("GET", "/v1/models")
    status, _, raw = send_like_module(bridge, contract, route, None)
    assert status == 200, raw
    answer = json.loads(raw)
    assert live_problems(contract, route, answer) == []
    assert any(m["id"].startswith("GigaChat") for m in answer["data"])


def test_error_answers_match_the_module(key_bridge, contract):
    """With the local API key on: refused without it, served with it, errors readable by the module."""
    for route in sorted(TODAY):
        verb, path = route
        body = analyze_body(contract, "text") if verb == "POST" else None
        status, headers, raw = send_like_module(key_bridge, contract, route, body)
        if path == "/health":  # open without a key; a foreign (DNS-rebound) Host is refused
            assert status == 200
            status, headers, raw = onec_request(key_bridge.host, key_bridge.port, path, None,
                                                host_header=f"evil.example:{key_bridge.port}")
        assert status == 403, (route, raw)
        answer = json.loads(raw)
        for read in contract.error_reads:
            assert answer_problems(answer, read, strict=False) == [], (route, read, answer)
        message = answer["error"]["message"] if isinstance(answer["error"], dict) else answer["error"]
        assert isinstance(message, str) and re.search("[а-яА-Я]", message), answer
    status, _, raw = send_like_module(key_bridge, contract, ("POST", "/analyze/text"),
                                      analyze_body(contract, "text"), key=LOCAL_KEY)
    assert status == 200 and json.loads(raw)["success"] is True, raw


def test_key_probe_of_check_connection(key_bridge, bridge, contract):
    """ПроверитьСоединение probes the key with {"text": ""}: 403 means a wrong key, 200 means fine."""
    probe = {"text": ""}
    status, _, _ = send_like_module(key_bridge, contract, ("POST", "/analyze/text"), probe)
    assert status == 403
    status, _, raw = send_like_module(key_bridge, contract, ("POST", "/analyze/text"), probe, key=LOCAL_KEY)
    answer = json.loads(raw)
    assert status == 200 and answer["success"] is False and answer["usage"] is None, answer
    status, _, raw = send_like_module(bridge, contract, ("POST", "/analyze/text"), probe)
    assert status == 200 and json.loads(raw)["success"] is False


def test_module_body_caps_match_the_bridge():
    """The module refuses what the bridge would refuse: its 2 MB cap is the bridge's default."""
    from gigachat.core.settings import Settings

    source = MODULE.read_text(encoding="utf-8")
    assert "Предел = ?(СФайлами, 50, 2) * 1024 * 1024;" in source
    assert Settings().max_body_bytes == 2 * 1024 * 1024


def test_oversized_body_is_refused_by_the_bridge_with_413(bridge, contract):
    """What the module refuses before sending is what the bridge answers 413 to (not a dropped socket)."""
    body = dict(analyze_body(contract, "text"), text="я" * (1024 * 1024 + 10))  # 2 MB + 20 bytes in UTF-8
    status, _, raw = send_like_module(bridge, contract, ("POST", "/analyze/text"), body)
    assert status == 413 and json.loads(raw)["success"] is False
