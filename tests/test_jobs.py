"""The /jobs API against the live bridge and the emulator (issue 13's «Must show»)."""

from __future__ import annotations

import json
import re
import threading
import time

import pytest
import requests

from tests.conftest import wait_for
from tests.jobs_stack import Bridge, batch, text_job, timed
from tests.onec_wire import onec_json, onec_request

LONG_TEXT = "Разбери договор поставки: сроки, оплата, штрафы, гарантии. " * 4
IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@pytest.fixture
def bridge(emulator, tmp_path):
    stack = Bridge(emulator, tmp_path)
    yield stack
    stack.stop()


def keys_are_identifiers(value) -> bool:
    if isinstance(value, dict):
        return all(IDENTIFIER.match(k) and keys_are_identifiers(v) for k, v in value.items())
    if isinstance(value, list):
        return all(keys_are_identifiers(v) for v in value)
    return True


def test_post_answers_at_once_while_gigachat_is_slow_and_the_queue_is_full(bridge, emulator):
    bridge.job("0" * 32)  # a warm connection: we time the route, not the TCP handshake
    emulator.configure(latency=5.0)
    client = bridge.service.bridge.client
    calls = [threading.Thread(target=requests.post, name=f"sync-{n}", kwargs={
        "url": bridge.url + "/analyze/text", "json": {"text": f"медленно {n}"}, "timeout": 60})
        for n in range(4)]
    for call in calls:
        call.start()
    try:
        wait_for(lambda: client.in_flight == 1 and client.queue_length == 3, timeout=30)
        answer, elapsed = timed(lambda: bridge.post(text_job("Срочный вопрос")))
        assert answer.status_code == 202 and elapsed < 0.1, elapsed
        body = answer.json()
        assert body == {"success": True, "id": body["id"], "state": "queued", "error": None}
        view = bridge.job(body["id"])  # taken by a worker, which waits behind the sync calls
        assert (view["state"], view["position"]) in (("queued", 1), ("running", None))
        assert view["progress"] == {"done": 0, "failed": 0, "total": 1}
        assert keys_are_identifiers(view)
        assert bridge.http.delete(f"{bridge.url}/jobs/{body['id']}").json()["state"] == "cancelled"
    finally:
        emulator.configure(latency=0.0)
        for call in calls:
            call.join(60)
    wait_for(lambda: not bridge.runner.busy)
    assert "Срочный вопрос" not in emulator.chat_counts  # cancelled while waiting: never sent
    assert client.last_error is None  # giving up its turn is no GigaChat failure for /health


@pytest.mark.parametrize("return_format", ["html", "text"])
def test_partial_grows_while_streaming_and_result_equals_the_sync_answer(
        bridge, emulator, return_format):
    emulator.configure(stream_delay=0.1)
    body = {"text": LONG_TEXT, "return_format": return_format}
    job_id = bridge.post({"route": "analyze/text", "request": body}).json()["id"]
    partials: list[str] = []

    def finished() -> dict | None:
        view = bridge.job(job_id)
        if view["partial"] and (not partials or partials[-1] != view["partial"]):
            partials.append(view["partial"])
        return view if view["state"] in ("done", "failed") else None

    view = wait_for(finished, timeout=60, interval=0.02)
    assert view["state"] == "done" and view["error"] is None and view["partial"] == ""
    assert len(partials) >= 3, partials
    for shorter, longer in zip(partials, partials[1:], strict=False):
        assert longer.startswith(shorter) and len(longer) > len(shorter)
    sync = bridge.http.post(bridge.url + "/analyze/text", json=body, timeout=30).json()
    assert sync["success"] is True
    assert view["result"] == sync
    assert [entry["stream"] for entry in emulator.chat_log] == [True, False]


@pytest.mark.parametrize("chunk_gap", [0.3, 5.0])  # GigaChat's pace, and a stalled stream
def test_delete_closes_the_running_upstream_stream_within_a_second(bridge, emulator, chunk_gap):
    emulator.configure(stream_delay=chunk_gap)
    job_id = bridge.post(text_job(LONG_TEXT)).json()["id"]
    wait_for(lambda: bridge.job(job_id)["partial"], timeout=30)
    assert emulator.stats["streams_aborted"] == 0
    answer, _ = timed(lambda: bridge.http.delete(f"{bridge.url}/jobs/{job_id}"))
    started = time.monotonic()
    assert answer.json() == {"success": True, "id": job_id, "state": "cancelled", "error": None}
    assert emulator.wait_stat("streams_aborted", 1, timeout=10)
    assert time.monotonic() - started < 1.0
    wait_for(lambda: bridge.runner.partial(job_id) is None)
    view = bridge.job(job_id)
    assert view["state"] == "cancelled" and view["result"] is None
    assert emulator.stats["chat_calls"] == 1
    again = bridge.http.delete(f"{bridge.url}/jobs/{job_id}").json()
    assert again["success"] is True and again["state"] == "cancelled"


def test_same_idempotency_key_gives_one_job_and_one_upstream_call(bridge, emulator):
    job = text_job("Один раз, пожалуйста")
    first = bridge.post(job, headers={"Idempotency-Key": "1c-retry-42"})
    second = bridge.post(job, headers={"Idempotency-Key": "1c-retry-42"})
    as_field = bridge.post({**job, "idempotency_key": "1c-retry-42"})
    assert first.status_code == second.status_code == as_field.status_code == 202
    assert first.json()["id"] == second.json()["id"] == as_field.json()["id"]
    bridge.wait_state(first.json()["id"], "done")
    assert bridge.post(job, headers={"Idempotency-Key": "1c-retry-42"}).json()["state"] == "done"
    assert emulator.chat_counts == {"Один раз, пожалуйста": 1}
    other = bridge.post(text_job("Другой текст"), headers={"Idempotency-Key": "1c-retry-42"})
    assert other.status_code == 409 and "уже использован" in other.json()["error"]
    for bad in ("с пробелом и кириллицей", "x" * 201):
        refused = bridge.post(job, headers={"Idempotency-Key": bad.encode().decode("latin-1")})
        assert refused.status_code == 400 and "Idempotency-Key" in refused.json()["error"]
    assert bridge.post({**job, "idempotency_key": 7}).status_code == 400
    assert len(bridge.http.get(bridge.url + "/jobs").json()["jobs"]) == 1


def test_402_in_the_middle_of_a_batch_pauses_it_and_resume_completes_it(bridge, emulator):
    events = []
    bridge.service.add_job_listener(lambda event: events.append((event.kind, event.job.state)))
    emulator.configure(latency=0.05)
    texts = [f"строка выписки {n}" for n in range(20)]
    job_id = bridge.post(batch(texts)).json()["id"]
    wait_for(lambda: bridge.job(job_id)["progress"]["done"] >= 5, timeout=60)
    emulator.inject(status=402, times=1000)
    paused = bridge.wait_state(job_id, "paused")
    assert "Закончился пакет токенов" in paused["error"] and "Продолжить" in paused["error"]
    assert paused["progress"]["failed"] == 0 and paused["progress"]["done"] < 20
    assert [job.state for job in bridge.runner.active()] == ["paused"]
    emulator.clear_faults()
    resumed = bridge.http.post(f"{bridge.url}/jobs/{job_id}/resume").json()
    assert resumed["success"] is True and resumed["state"] == "queued"
    done = bridge.wait_state(job_id, "done")
    assert done["progress"] == {"done": 20, "failed": 0, "total": 20} and done["error"] is None
    items = bridge.results(job_id)
    assert [item["index"] for item in items] == list(range(20))
    assert all(item["state"] == "done" and item["result"]["success"] for item in items)
    assert set(emulator.chat_counts) == set(texts)
    assert ("paused", "paused") in events and events[-1] == ("finished", "done")
    assert bridge.runner.active() == []


def test_transient_failures_are_retried_inside_the_job(bridge, emulator):
    bridge.service.bridge.client.max_attempts = 1  # every failure reaches the job's own retry
    emulator.inject(status=503, times=3)
    job_id = bridge.post(batch(["переживёт сбой"])).json()["id"]
    done = bridge.wait_state(job_id, "done", "failed", "paused")
    assert done["state"] == "done" and done["progress"]["done"] == 1
    assert emulator.stats["faults_fired"] == 3 and emulator.chat_counts == {"переживёт сбой": 1}


def test_an_outage_longer_than_the_patience_pauses_the_job(bridge, emulator):
    bridge.service.bridge.client.max_attempts = 1
    bridge.runner.patience = 0.0
    emulator.inject(status=500, times=1000)
    job_id = bridge.post(batch(["долгий сбой"])).json()["id"]
    paused = bridge.wait_state(job_id, "paused")
    assert "ГигаЧат недоступен" in paused["error"]
    emulator.clear_faults()
    assert bridge.runner.credentials_changed() == 1  # what saving a new key does
    assert bridge.wait_state(job_id)["state"] == "done"


def test_item_errors_are_the_sync_failure_answer(bridge, emulator):
    emulator.inject(status=422, message="Invalid params: текст не подходит", times=1)
    job_id = bridge.post(text_job("неподходящий текст")).json()["id"]
    view = bridge.wait_state(job_id)
    assert view["state"] == "failed"
    assert view["result"]["success"] is False and view["result"]["result"] == ""
    assert view["error"] == view["result"]["error"] and "текст не подходит" in view["error"]


def test_validation_errors_come_back_at_once(bridge):
    def refused(body, status=400):
        answer = bridge.http.post(bridge.url + "/jobs", data=body, timeout=30,
                                  headers={"Content-Type": "application/json"})
        assert answer.status_code == status, answer.text
        payload = answer.json()
        assert payload["success"] is False and payload["id"] is None and payload["error"]
        assert keys_are_identifiers(payload)
        return payload

    assert "JSON" in refused(b'{"route": ')["error"]
    assert "route" in refused(b"[1, 2]")["error"]
    assert "analyze/text" in refused(json.dumps({"route": "nope", "request": {}}))["error"]
    assert refused(json.dumps({"route": "analyze/text"}))["field"] == "request"
    both = {"route": "analyze/text", "request": {"text": "a"}, "items": [{"text": "a"}]}
    assert "либо" in refused(json.dumps(both))["error"]
    assert refused(json.dumps(text_job("")))["field"] == "text"
    assert refused(b'{"route": "analyze/text", "request": {"text": "a", "temperature": NaN}}')
    assert refused(json.dumps({"route": "analyze/text", "items": []}))["field"] == "items"
    too_many = json.dumps(batch(["a"] * 10_001))
    assert "10000" in refused(too_many)["error"]
    items = batch(["первая", "", "третья"])
    items["items"].append({"text": 5})
    items["items"].append("не объект")
    payload = refused(json.dumps(items, ensure_ascii=False))
    assert [(e["index"], e["field"]) for e in payload["errors"]] == [
        (1, "items[1].text"), (3, "items[3].text"), (4, "items[4]")]
    assert "3 из 5" in payload["error"]
    assert bridge.http.get(bridge.url + "/jobs").json() == {"success": True, "jobs": [],
                                                            "error": None}


def test_a_byte_exact_1c_request_with_a_bom_starts_a_job(bridge):
    port = bridge.service.server.port
    status, headers, raw = onec_request("127.0.0.1", port, "/jobs", onec_json(text_job("Привет")))
    assert status == 202 and headers["content-type"] == "application/json; charset=utf-8"
    answer = json.loads(raw)
    assert answer["success"] is True and bridge.wait_state(answer["id"])["state"] == "done"
    status, _, raw = onec_request("127.0.0.1", port, f"/jobs/{answer['id']}", None)
    assert status == 200 and keys_are_identifiers(json.loads(raw))


def test_results_pages_and_the_recent_list(bridge, emulator):
    texts = [f"позиция {n}" for n in range(5)]
    job_id = bridge.post(batch(texts, system_prompt="Классифицируй")).json()["id"]
    single = bridge.post(text_job("один")).json()["id"]
    bridge.wait_state(job_id, "done")
    bridge.wait_state(single, "done")
    page = bridge.http.get(f"{bridge.url}/jobs/{job_id}/results?offset=2&limit=2").json()
    assert [item["index"] for item in page["items"]] == [2, 3] and page["offset"] == 2
    assert page["total"] == 5
    assert page["progress"] == {"done": 5, "failed": 0, "total": 5} and keys_are_identifiers(page)
    assert all(item["result"]["success"] for item in page["items"])
    bad = bridge.http.get(f"{bridge.url}/jobs/{job_id}/results?limit=0")
    assert bad.status_code == 400 and bad.json()["field"] == "limit"
    recent = bridge.http.get(bridge.url + "/jobs").json()["jobs"]
    assert [job["id"] for job in recent] == [single, job_id]
    assert recent[1]["batch"] is True and recent[1]["progress"]["done"] == 5
    for path in ("/jobs/" + "f" * 32, "/jobs/no-such-job", "/jobs/x/results"):
        missing = bridge.http.get(bridge.url + path)
        assert missing.status_code == 404 and missing.json()["success"] is False
    assert bridge.http.put(f"{bridge.url}/jobs/{job_id}").status_code == 405
    assert bridge.http.delete(f"{bridge.url}/jobs/{job_id}").status_code == 409
    assert bridge.http.post(f"{bridge.url}/jobs/{job_id}/resume").status_code == 409


def test_batch_items_sharing_a_system_prompt_share_a_session_id(bridge, emulator):
    items = [{"text": f"строка {n}", "system_prompt": "Статья ДДС" if n % 2 else "Контрагент"}
             for n in range(6)]
    job_id = bridge.post({"route": "analyze/text", "items": items}).json()["id"]
    bridge.wait_state(job_id, "done")
    sessions = {}
    for entry in emulator.chat_log:
        sessions.setdefault(entry["texts"][0], set()).add(entry["session_id"])
    assert len(sessions) == 2 and all(len(ids) == 1 and None not in ids for ids in sessions.values())
    assert len({next(iter(ids)) for ids in sessions.values()}) == 2
    single = bridge.post(text_job("без сессии")).json()["id"]
    bridge.wait_state(single, "done")
    assert emulator.chat_log[-1]["session_id"] is None


def test_a_sync_call_goes_ahead_of_the_waiting_batch(bridge, emulator):
    emulator.configure(latency=0.3)
    job_id = bridge.post(batch([f"пакет {n}" for n in range(10)])).json()["id"]
    wait_for(lambda: bridge.job(job_id)["progress"]["done"] >= 1, timeout=30)
    before = bridge.job(job_id)["progress"]["done"]
    answer = bridge.http.post(bridge.url + "/analyze/text", json={"text": "человек у формы"},
                              timeout=60).json()
    assert answer["success"] is True
    order = [entry["user_text"] for entry in emulator.chat_log]
    assert order.index("человек у формы") <= before + 2, order
    bridge.runner.pause(job_id)
    assert bridge.job(job_id)["state"] == "paused"
    bridge.runner.resume(job_id)
    emulator.configure(latency=0.0)
    assert bridge.wait_state(job_id)["progress"]["done"] == 10


def test_a_job_paused_by_a_rejected_key_continues_once_a_token_comes_again(bridge, emulator):
    events = []
    bridge.service.add_job_listener(lambda event: events.append(event.kind))
    bridge.wait_token()
    emulator.configure(reject_keys=True)
    emulator.revoke_tokens()
    job_id = bridge.post(batch(["после смены ключа"])).json()["id"]
    paused = bridge.wait_state(job_id, "paused")
    assert "Неверный ключ авторизации" in paused["error"]
    emulator.configure(reject_keys=False)
    bridge.service.bridge.tokens.refresh_now()  # what saving a new key leads to
    assert bridge.wait_state(job_id)["state"] == "done"
    assert events == ["queued", "paused", "resumed", "finished"]


def test_an_unusable_database_leaves_the_sync_route_working(emulator, tmp_path):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x")
    stack = Bridge(emulator, blocker)
    try:
        assert stack.runner is None
        refused = stack.post(text_job("задание"))
        assert refused.status_code == 503 and "базу заданий" in refused.json()["error"]
        assert stack.http.get(stack.url + "/jobs").status_code == 503
        sync = stack.http.post(stack.url + "/analyze/text", json={"text": "Привет"}).json()
        assert sync["success"] is True
    finally:
        stack.stop()


def test_the_local_api_key_and_host_guards_cover_jobs(emulator, tmp_path):
    from tests.conftest import LOCAL_TEST_KEY

    stack = Bridge(emulator, tmp_path, api_key_enabled=True)
    try:  # fresh connections: a refusal closes its connection
        refused = requests.post(stack.url + "/jobs", json=text_job("без ключа"), timeout=30)
        assert refused.status_code == 403 and "API-ключ" in refused.json()["error"]
        assert requests.get(stack.url + "/jobs", timeout=30).status_code == 403
        key = {"X-API-Key": LOCAL_TEST_KEY}
        started = requests.post(stack.url + "/jobs", json=text_job("с ключом"), headers=key,
                                timeout=30)
        assert started.status_code == 202
        foreign = requests.get(f"{stack.url}/jobs/{started.json()['id']}", timeout=30,
                               headers={**key, "Host": "evil.example:80"})
        assert foreign.status_code == 403
        assert "без ключа" not in emulator.chat_counts
    finally:
        stack.stop()
