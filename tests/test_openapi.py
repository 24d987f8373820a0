"""/openapi.json describes the live server: schemathesis fuzzes it (no 5xx, responses match)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from gigachat.core.credentials import CredentialStore
from gigachat.core.settings import Settings
from gigachat.local.service import Service

CHECKS = ("not_a_server_error,status_code_conformance,content_type_conformance,"
          "response_schema_conformance,response_headers_conformance")


@pytest.fixture(scope="module")
def live_service():
    from gigachat.emulator import DEMO_KEY, Emulator

    emulator = Emulator().start()
    settings = Settings(port=0, auth_url=emulator.oauth_url, api_url=emulator.api_url,
                        scope="GIGACHAT_API_B2B")
    store = CredentialStore(environ={"GIGACHAT_CREDENTIALS": DEMO_KEY})
    service = Service(settings, credentials=store).start()
    yield service
    service.stop()
    emulator.stop()


def test_schemathesis_against_the_live_server(live_service, tmp_path):
    """The real schemathesis CLI fuzzes every operation: no 5xx, every response as described."""
    cli = Path(sys.executable).with_name("schemathesis")
    done = subprocess.run(
        [str(cli), "run", live_service.url + "/openapi.json", "--checks", CHECKS,
         "--max-examples", "100", "--seed", "1", "--request-timeout", "30",
         "--report-dir", str(tmp_path)],
        capture_output=True, text=True, timeout=600, cwd=tmp_path)
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-6000:]
    tested = re.search(r"Tested:\s+(\d+)", output)
    assert tested and int(tested.group(1)) >= 5, output[-3000:]
    assert re.search(r"\d+ generated, \d+ passed", output), output[-3000:]


def test_openapi_lists_every_route(live_service):
    spec = requests.get(live_service.url + "/openapi.json", timeout=5).json()
    assert spec["openapi"].startswith("3.")
    assert set(spec["paths"]) == {"/analyze/text", "/analyze/extract", "/health",
                                  "/openapi.json", "/v1/chat/completions", "/v1/models",
                                  "/v1/embeddings", "/jobs", "/jobs/{id}", "/jobs/{id}/results",
                                  "/jobs/{id}/resume"}
    analyze = spec["components"]["schemas"]["AnalyzeResponse"]
    assert set(analyze["required"]) == {"success", "result", "error", "model", "usage"}


def test_openapi_describes_model_type_error_param_and_number_ranges(live_service):
    schemas = requests.get(live_service.url + "/openapi.json", timeout=5).json()["components"][
        "schemas"]
    model = schemas["ModelList"]["properties"]["data"]["items"]["properties"]
    assert model["type"]["type"] == "string"
    assert "param" in schemas["OpenAIError"]["properties"]["error"]["properties"]
    chat = schemas["ChatRequest"]["properties"]
    for name in ("temperature", "top_p", "repetition_penalty", "max_tokens",
                 "max_completion_tokens"):
        assert "maximum" in chat[name], name
    assert chat["stream_options"]["type"] == "object"
    assert "maximum" in schemas["AnalyzeRequest"]["properties"]["max_tokens"]
