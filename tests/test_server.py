"""The local endpoint, live on a loopback port, in front of the emulator."""

from __future__ import annotations

import json
import logging
import subprocess
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from html.parser import HTMLParser

import pytest
import requests

from gigachat.core.credentials import CredentialStore
from gigachat.core.errors import ConfigError
from gigachat.core.settings import Settings
from gigachat.local.http_server import PortBusy
from gigachat.local.service import Service
from tests.conftest import LOCAL_TEST_KEY, service_for, wait_for
from tests.onec_wire import onec_request

CONTRACT = ("Договор поставки №127 от 15.01.2024. Поставщик ООО ТехноПром обязуется поставить "
            "офисную мебель на сумму 2 450 000 руб. Срок 30 дней. Предоплата 50%.")


@pytest.fixture
def start_service(emulator):
    """Start real Services (a real server on a free port) against the emulator; stop them after."""
    services: list[Service] = []

    def start(**changes) -> Service:
        services.append(service_for(emulator, **changes))
        return services[-1]

    yield start
    for service in services:
        service.stop()


@pytest.fixture
def service(start_service):
    return start_service()


def analyze(service, body, **kwargs) -> requests.Response:
    data = body if isinstance(body, bytes) else json.dumps(body, ensure_ascii=False).encode()
    return requests.post(service.url + "/analyze/text", data=data,
                         headers={"Content-Type": "application/json", **kwargs.pop("headers", {})},
                         timeout=30, **kwargs)


def assert_onec_structure(answer: dict) -> None:
    """What 1C's ПрочитатьJSON into a Структура needs."""
    assert all(key.isidentifier() and key.isascii() for key in answer)
    assert isinstance(answer["success"], bool)
    assert isinstance(answer["result"], str)
    assert answer["error"] is None or isinstance(answer["error"], str)


# --- the tutorial's contract ----------------------------------------------------


def test_tutorial_curl_example(service):
    port = service.server.port
    body = json.dumps({"text": CONTRACT, "system_prompt": "Извлеки из договора: стороны, сумму, "
                       "сроки, условия оплаты. Формат - список."}, ensure_ascii=False)
    out = subprocess.run(
        ["curl", "-s", "-X", "POST", f"http://localhost:{port}/analyze/text",
         "-H", "Content-Type: application/json", "-d", body],
        capture_output=True, timeout=60, check=True)
    answer = json.loads(out.stdout)
    assert answer["success"] is True and answer["error"] is None
    assert "Договор" in answer["result"]


@pytest.mark.parametrize("bom", [True, False])
def test_onec_form_bytes_on_the_wire(service, bom):
    body = json.dumps({"text": CONTRACT.replace(". ", ".\r\n"), "system_prompt": "Кратко",
                       "return_format": "html"}, ensure_ascii=False).encode("utf-8")
    port = service.server.port
    status, headers, raw = onec_request("127.0.0.1", port, "/analyze/text", body, bom=bom,
                                        host_header=f"localhost:{port}")
    assert status == 200
    assert headers["content-type"] == "application/json; charset=utf-8"
    answer = json.loads(raw.decode("utf-8"))
    assert_onec_structure(answer)
    assert answer["success"] is True
    assert answer["result"].startswith("<!DOCTYPE html>")
    assert set(answer["usage"]) == {"prompt_tokens", "completion_tokens", "total_tokens"}


def test_plain_text_format_and_options(service, emulator):
    answer = analyze(service, {"text": "Привет", "model": "GigaChat-Pro", "temperature": 0.3,
                               "max_tokens": 500}).json()
    assert answer["success"] is True
    assert answer["model"].startswith("GigaChat-Pro")
    assert "<html" not in answer["result"]


@pytest.mark.parametrize("body, fragment", [
    (b"{not json", "Некорректный JSON"),
    (b"", "Пустое тело"),
    (b"[1, 2]", "JSON-объектом"),
    (b'{"system_prompt": "x"}', "Нет поля text"),
    (b'{"text": 123}', "должно быть строкой"),
    (b'{"text": ["a"]}', "должно быть строкой"),
    (b'{"text": ""}', "пустое"),
    (b'{"text": "   \\r\\n"}', "пустое"),
    (b'{"text": "a", "return_format": "pdf"}', "return_format"),
    (b'{"text": "a", "temperature": "hot"}', "temperature"),
    (b'{"text": "a", "temperature": 0}', "temperature"),
    (b'{"text": "a", "max_tokens": 1.5}', "max_tokens"),
    (b'{"text": "a", "max_tokens": true}', "max_tokens"),
    ('{"text": "Привет"}'.encode("cp1251"), "UTF-8"),
    (b'{"text": "\xff\xfe\xfa"}', "UTF-8"),
])
def test_bad_input_gets_a_russian_error(service, body, fragment):
    response = analyze(service, body)
    assert response.status_code == 200
    answer = response.json()
    assert_onec_structure(answer)
    assert answer["success"] is False and fragment in answer["error"]
    assert "Traceback" not in response.text
    assert analyze(service, {"text": "жив?"}).json()["success"] is True


def test_huge_body_is_413_json_and_server_stays_fine(service):
    response = analyze(service, b'{"text": "' + b"a" * (3 * 1024 * 1024) + b'"}')
    assert response.status_code == 413
    assert response.json()["success"] is False and "МБ" in response.json()["error"]
    assert analyze(service, {"text": "жив?"}).json()["success"] is True


def test_gigachat_errors_reach_1c_as_success_false(service, emulator):
    emulator.inject(path="/chat/completions", status=402)
    answer = analyze(service, {"text": "Привет"}).json()
    assert answer["success"] is False and "пакет токенов" in answer["error"]
    answer = analyze(service, {"text": "Привет", "model": "NoSuchModel"}).json()
    assert answer["success"] is False and "модели" in answer["error"]


def test_no_credentials_is_a_clear_error(emulator):
    settings = Settings(port=0, auth_url=emulator.oauth_url, api_url=emulator.api_url)

    class NoKeyStore(CredentialStore):
        def get_key(self):
            return None

    service = Service(settings, credentials=NoKeyStore(environ={})).start()
    try:
        answer = analyze(service, {"text": "Привет"}).json()
        assert answer["success"] is False and "ключ авторизации" in answer["error"]
        health = requests.get(service.url + "/health", timeout=5).json()
        assert health["status"] == "no_credentials" and health["gigachat"] is False
    finally:
        service.stop()


# --- HTML safety ------------------------------------------------------------


class _ActiveContent(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.found: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag in ("script", "iframe", "img", "object", "embed", "svg"):
            self.found.append(tag)
        for name, value in attrs:
            if name.startswith("on"):
                self.found.append(name)
            if name in ("href", "src") and value and \
                    "javascript:" in "".join(value.split()).lower():
                self.found.append(value)


def test_model_html_never_becomes_active(service, emulator):
    emulator.set_reply("Итог:\n<script>alert(1)</script>\n<img src=x onerror=alert(2)>\n"
                       "[жми](javascript:alert(3))\n<iframe src='http://evil.example'></iframe>\n"
                       "**жирный** и таблица\n\n| a | b |\n|---|---|\n| 1 | 2 |")
    answer = analyze(service, {"text": "x", "return_format": "html"}).json()
    assert answer["success"] is True
    parser = _ActiveContent()
    parser.feed(answer["result"])
    assert parser.found == []
    assert "<strong>жирный</strong>" in answer["result"] and "<table>" in answer["result"]
    assert "Content-Security-Policy" in answer["result"] and "default-src 'none'" in answer["result"]
    assert "&lt;script&gt;" in answer["result"]  # shown as text, not run


# --- concurrency --------------------------------------------------------------


def test_sixteen_concurrent_calls_b2b_under_3s(start_service, emulator):
    emulator.latency = 1.0
    service = start_service(scope="GIGACHAT_API_B2B", max_concurrency=16)
    analyze(service, {"text": "прогрев"})
    start = time.monotonic()
    with ThreadPoolExecutor(16) as pool:
        answers = list(pool.map(lambda i: analyze(service, {"text": f"№{i}"}).json(), range(16)))
    assert time.monotonic() - start < 3.0
    assert all(answer["success"] for answer in answers)


def test_sixteen_concurrent_calls_pers_all_succeed_queued(start_service, emulator):
    emulator.latency = 0.2
    service = start_service(scope="GIGACHAT_API_PERS")
    with ThreadPoolExecutor(16) as pool:
        answers = list(pool.map(lambda i: analyze(service, {"text": f"№{i}"}).json(), range(16)))
    assert all(answer["success"] for answer in answers), answers
    assert emulator.stats["max_in_flight"] == 1
    assert emulator.stats["responses"].get(429, 0) == 0


def test_health_answers_fast_while_16_long_calls_in_flight(start_service, emulator):
    service = start_service(scope="GIGACHAT_API_B2B", max_concurrency=16)
    analyze(service, {"text": "прогрев"})
    emulator.latency = 3.0
    with ThreadPoolExecutor(16) as pool:
        futures = [pool.submit(analyze, service, {"text": f"№{i}"}) for i in range(16)]
        wait_for(lambda: emulator.stats["in_flight"] >= 16, timeout=5)
        timings = []
        for _ in range(5):
            start = time.monotonic()
            health = requests.get(service.url + "/health", timeout=5).json()
            timings.append(time.monotonic() - start)
        assert health["in_flight"] == 16
        assert max(timings) < 0.1, timings
        assert all(future.result().json()["success"] for future in futures)


def test_health_shows_queue_length(start_service, emulator):
    service = start_service()  # PERS: one at a time
    analyze(service, {"text": "прогрев"})
    emulator.latency = 1.0
    with ThreadPoolExecutor(4) as pool:
        futures = [pool.submit(analyze, service, {"text": f"№{i}"}) for i in range(4)]
        health = wait_for(lambda: _health_with_queue(service), timeout=5)
        assert health["queue_length"] >= 1 and health["in_flight"] == 1
        assert all(future.result().json()["success"] for future in futures)


def _health_with_queue(service):
    health = requests.get(service.url + "/health", timeout=5).json()
    return health if health["queue_length"] >= 1 else None


# --- guards -------------------------------------------------------------------


@pytest.mark.parametrize("headers", [
    {"Host": "evil.example"},
    {"Host": "localhost.evil.example"},
    {"Host": "127.0.0.1.evil.example:8000"},
    {"Origin": "https://evil.example"},
    {"Origin": "null"},
])
def test_foreign_host_or_origin_is_403(service, emulator, headers):
    before = emulator.stats["api_requests"]
    response = analyze(service, {"text": "потратить чужую квоту"}, headers=headers)
    assert response.status_code == 403
    assert response.json()["success"] is False and response.json()["error"]
    assert emulator.stats["api_requests"] == before
    assert requests.get(service.url + "/v1/models", headers=headers, timeout=5).status_code == 403


@pytest.mark.parametrize("host", ["localhost", "127.0.0.1", "[::1]", "localhost:8000",
                                  "127.0.0.1:1234", "[::1]:8000"])
def test_loopback_hosts_are_accepted(service, host):
    response = requests.get(service.url + "/health", headers={"Host": host}, timeout=5)
    assert response.status_code == 200


def test_allowed_origin_passes_with_cors(start_service):
    service = start_service(allowed_origins=["http://intranet.local"])
    response = analyze(service, {"text": "a"}, headers={"Origin": "http://intranet.local"})
    assert response.status_code == 200
    assert response.headers["Access-Control-Allow-Origin"] == "http://intranet.local"



def test_web_client_preflight_passes_without_the_key(start_service):
    """The 1C web client (8.3.21+): a browser preflight carries no X-API-Key; then the call does."""
    service = start_service(allowed_origins=["http://intranet.local"], api_key_enabled=True)
    origin = {"Origin": "http://intranet.local"}
    pre = requests.options(service.url + "/jobs", timeout=5, headers={
        **origin, "Access-Control-Request-Method": "DELETE",
        "Access-Control-Request-Headers": "x-api-key, idempotency-key",
        "Access-Control-Request-Private-Network": "true"})
    assert pre.status_code == 204
    assert pre.headers["Access-Control-Allow-Origin"] == "http://intranet.local"
    assert "DELETE" in pre.headers["Access-Control-Allow-Methods"]
    allowed = pre.headers["Access-Control-Allow-Headers"].lower()
    assert "x-api-key" in allowed and "idempotency-key" in allowed
    assert pre.headers["Access-Control-Allow-Private-Network"] == "true"
    assert analyze(service, {"text": "a"}, headers=origin).status_code == 403
    ok = analyze(service, {"text": "a"}, headers={**origin, "X-API-Key": LOCAL_TEST_KEY})
    assert ok.json()["success"] is True
    foreign = requests.options(service.url + "/jobs", timeout=5,
                               headers={"Origin": "http://evil.example"})
    assert foreign.status_code == 403

def test_non_loopback_bind_needs_explicit_setting_and_key(emulator):
    with pytest.raises(ConfigError) as caught:
        Service(Settings(host="0.0.0.0", port=0)).start()
    assert "127.0.0.1" in caught.value.message
    with pytest.raises(ConfigError):
        Service(Settings(host="0.0.0.0", port=0, allow_remote=True)).start()


def test_local_api_key(start_service):
    service = start_service(api_key_enabled=True)
    assert analyze(service, {"text": "a"}).status_code == 403
    assert "API-ключ" in analyze(service, {"text": "a"}).json()["error"]
    assert analyze(service, {"text": "a"}, headers={"X-API-Key": "wrong"}).status_code == 403
    assert analyze(service, {"text": "a"}, headers={"X-API-Key": LOCAL_TEST_KEY}).json()["success"]
    ok = analyze(service, {"text": "a"}, headers={"Authorization": "Bearer local-test-key"})
    assert ok.json()["success"] is True
    assert requests.get(service.url + "/health", timeout=5).status_code == 200


def test_unknown_route_and_wrong_method_are_json(service):
    response = requests.get(service.url + "/nope", timeout=5)
    assert response.status_code == 404 and response.json()["success"] is False
    response = requests.get(service.url + "/analyze/text", timeout=5)
    assert response.status_code == 405 and "GET" in response.json()["error"]
    response = requests.get(service.url + "/v1/nope", timeout=5)
    assert response.status_code == 404 and "error" in response.json()


def test_busy_port_names_the_port_and_the_setting(service):
    with pytest.raises(PortBusy) as caught:
        Service(Settings(port=service.server.port)).start()
    assert str(service.server.port) in caught.value.message
    assert "API_PORT" in caught.value.message


def test_listens_on_both_loopbacks(service):
    hosts = {host for host, _ in service.server.addresses}
    assert "127.0.0.1" in hosts
    if "::1" in hosts:
        response = requests.get(f"http://[::1]:{service.server.port}/health", timeout=5)
        assert response.json()["status"] in ("ok", "starting")


def test_graceful_stop_lets_in_flight_request_finish(start_service, emulator):
    service = start_service()
    analyze(service, {"text": "прогрев"})
    emulator.latency = 1.0
    result: list = []
    thread = threading.Thread(target=lambda: result.append(analyze(service, {"text": "долго"})))
    thread.start()
    wait_for(lambda: emulator.chat_log[-1]["user_text"] == "долго", timeout=30)  # ours is at GigaChat
    url = service.url
    service.stop()
    thread.join(10)
    assert result and result[0].json()["success"] is True
    with pytest.raises(requests.ConnectionError):
        requests.get(url + "/health", timeout=2)


def test_request_log_has_no_text(service, caplog):
    with caplog.at_level(logging.INFO, logger="gigachat.access"):
        analyze(service, {"text": "Секретный договор с ООО Ромашка"})
    lines = [r.getMessage() for r in caplog.records if r.name == "gigachat.access"]
    assert any("/analyze/text 200" in line and "model=GigaChat" in line and "tokens=" in line
               for line in lines), lines
    assert not any("Ромашка" in line for line in lines)


def test_request_log_with_bodies_on(start_service, caplog):
    service = start_service(log_bodies=True)
    with caplog.at_level(logging.INFO, logger="gigachat.access"):
        analyze(service, {"text": "Договор с ООО Ромашка"})
    assert any("Ромашка" in r.getMessage() for r in caplog.records if r.name == "gigachat.access")


# --- OpenAI-compatible API through the official client ----------------------


def test_openai_client_chat_stream_models_embeddings(service):
    import openai

    client = openai.OpenAI(base_url=service.url + "/v1", api_key="unused", max_retries=0)
    chat = client.chat.completions.create(
        model="GigaChat", messages=[{"role": "system", "content": "Кратко"},
                                    {"role": "user", "content": CONTRACT}])
    assert chat.id and chat.object == "chat.completion"
    assert chat.choices[0].message.content and chat.usage.total_tokens > 0
    stream = client.chat.completions.create(
        model="GigaChat", messages=[{"role": "user", "content": "Привет"}], stream=True,
        stream_options={"include_usage": True})
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text and chunks[-1].usage is not None
    assert all(c.object == "chat.completion.chunk" for c in chunks)
    models = [m.id for m in client.models.list()]
    assert "GigaChat" in models
    vectors = client.embeddings.create(model="Embeddings", input=["раз", "два"])
    assert [len(item.embedding) for item in vectors.data] == [1024, 1024]


def test_openai_client_tool_calls(service):
    import openai

    client = openai.OpenAI(base_url=service.url + "/v1", api_key="unused", max_retries=0)
    chat = client.chat.completions.create(
        model="GigaChat", messages=[{"role": "user", "content": "Погода в Москве?"}],
        tools=[{"type": "function", "function": {
            "name": "weather", "description": "Погода",
            "parameters": {"type": "object", "properties": {"city": {"type": "string"}},
                           "required": ["city"]}}}])
    call = chat.choices[0].message.tool_calls[0]
    assert call.function.name == "weather"
    assert isinstance(json.loads(call.function.arguments), dict)
    assert chat.choices[0].finish_reason == "tool_calls"


def test_openai_errors_have_status_and_shape(service, emulator):
    import openai

    client = openai.OpenAI(base_url=service.url + "/v1", api_key="unused", max_retries=0)
    with pytest.raises(openai.NotFoundError):
        client.chat.completions.create(model="NoSuch", messages=[{"role": "user", "content": "a"}])
    with pytest.raises(openai.BadRequestError):
        client.chat.completions.create(model="GigaChat", messages=[])
    emulator.inject(path="/chat/completions", status=402)
    with pytest.raises(openai.APIStatusError) as caught:
        client.chat.completions.create(model="GigaChat", messages=[{"role": "user", "content": "a"}])
    assert caught.value.status_code == 402


def test_health_is_degraded_while_gigachat_calls_fail(start_service, emulator):
    service = start_service(request_timeout=2.0)
    assert analyze(service, {"text": "прогрев"}).json()["success"] is True
    emulator.inject(path="/chat/completions", status=503, times=100)
    assert analyze(service, {"text": "сбой"}).json()["success"] is False
    health = requests.get(service.url + "/health", timeout=5).json()
    assert health["status"] == "degraded" and health["gigachat"] is False
    assert "недоступен" in health["error"]
    emulator.clear_faults()
    assert analyze(service, {"text": "снова"}).json()["success"] is True
    assert requests.get(service.url + "/health", timeout=5).json()["status"] == "ok"
