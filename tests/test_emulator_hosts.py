"""The emulator's two hosts (model catalogues), trace headers, and its own package rules."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
import requests

from gigachat.emulator import CATALOGUES, DEMO_KEY, Emulator
from tests import test_emulator
from tests.test_emulator import (
    REPO,
    TIMEOUT,
    USER,
    UUID_RE,
    call,
    chat,
    token_for,
)
from tests.test_emulator_server import printed_until, start_cli

make_emulator = test_emulator.make_emulator  # the shared fixture
PACKAGE = REPO / "gigachat" / "emulator"
NEW_CHAT = {"GigaChat-2", "GigaChat-2-Pro", "GigaChat-2-Max", "GigaChat-3-Ultra"}
LEGACY_ONLY = {
    "GigaChat",
    "GigaChat-Pro",
    "GigaChat-Max",
    "GigaChat-preview",
    "GigaChat-Pro-preview",
    "GigaChat-Max-preview",
}


def _models(emu) -> dict[str, str]:
    body = call(emu, "GET", "/models", token_for(emu)).json()
    assert body["object"] == "list"
    assert all(set(entry) == {"id", "object", "owned_by", "type"} for entry in body["data"])
    return {entry["id"]: entry["type"] for entry in body["data"]}


# --------------------------------------------------------------------------- catalogues


def test_new_catalogue_is_api_giga_chat(make_emulator):
    kinds = _models(make_emulator(catalogue="new"))
    assert {name for name, kind in kinds.items() if kind == "chat"} == NEW_CHAT
    assert kinds["GigaEmbeddings-3B-2025-09"] == "embedder"
    assert kinds["GigaCheckClassification"] == kinds["GigaCheckDetection"] == "aicheck"
    assert kinds["GigaFilter"] == "filter"
    assert not LEGACY_ONLY & set(kinds)


def test_legacy_catalogue_is_the_default_and_keeps_the_old_names(emulator):
    kinds = _models(emulator)
    assert emulator.catalogue == "legacy"
    assert LEGACY_ONLY | {"GigaChat-2", "GigaChat-2-Pro", "GigaChat-2-Max"} <= {
        name for name, kind in kinds.items() if kind == "chat"
    }
    assert {"aicheck", "filter", "embedder"} <= set(kinds.values())
    assert "GigaChat-3-Ultra" not in kinds


def test_chat_outside_the_catalogue_is_no_such_model(make_emulator):
    emu = make_emulator(catalogue="new")
    token = token_for(emu)
    for model in ("GigaChat", "GigaChat-Max-preview", "GigaFilter", "Embeddings"):
        reply = chat(emu, token, model=model)
        assert reply.status_code == 404
        assert reply.json() == {"status": 404, "message": "No such model"}
    assert chat(emu, token, model="GigaChat-3-Ultra").json()["model"] == "GigaChat-3-Ultra:2.0.28.2"
    assert call(emu, "GET", "/models/GigaChat", token).json() == {"status": 404, "message": "No such model"}
    assert call(emu, "GET", "/models/GigaFilter", token).json()["type"] == "filter"


def test_unknown_api_path_is_a_different_404(make_emulator):
    emu = make_emulator(catalogue="new")
    token = token_for(emu)
    wrong = call(emu, "POST", "/chat/completion", token, json={"model": "GigaChat-2", "messages": [USER]})
    assert wrong.status_code == 404
    body = wrong.json()
    assert body["status"] == 404 and body["message"] != "No such model"
    assert "/api/v1/chat/completion" in body["message"]


def test_catalogue_switches_at_run_time_and_reset_restores_it(emulator):
    control = emulator.base_url + "/_emulator/config"
    token = token_for(emulator)
    assert chat(emulator, token).status_code == 200
    assert requests.post(control, json={"catalogue": "new"}, timeout=TIMEOUT).json()["catalogue"] == "new"
    assert chat(emulator, token).json()["message"] == "No such model"
    assert "GigaChat-3-Ultra" in _models(emulator)
    assert requests.post(control, json={"catalogue": "old"}, timeout=TIMEOUT).status_code == 400
    with pytest.raises(ValueError):
        emulator.catalogue = "old"
    with pytest.raises(ValueError):
        Emulator(catalogue="nope")
    emulator.reset()
    assert emulator.catalogue == "legacy" and chat(emulator, token).status_code == 200


def test_balance_names_follow_the_catalogue(make_emulator):
    emu = make_emulator(catalogue="new")
    usage = {entry["usage"] for entry in call(emu, "GET", "/balance", token_for(emu)).json()["balance"]}
    assert "GigaChat-2" in usage and "GigaChat" not in usage


def test_embeddings_and_token_count_follow_the_catalogue(make_emulator):
    emu = make_emulator(catalogue="new")
    token = token_for(emu)
    payload = {"model": "GigaEmbeddings-3B-2025-09", "input": ["текст"]}
    assert len(call(emu, "POST", "/embeddings", token, json=payload).json()["data"][0]["embedding"]) == 1024
    legacy = call(emu, "POST", "/embeddings", token, json={"model": "Embeddings-2", "input": ["x"]})
    assert legacy.status_code == 404
    counted = call(emu, "POST", "/tokens/count", token, json={"model": "GigaChat", "input": ["x"]})
    assert counted.json() == {"status": 404, "message": "No such model"}


def test_catalogues_are_published():
    assert set(CATALOGUES) == {"legacy", "new"}
    assert all(
        set(kinds.values()) <= {"chat", "embedder", "aicheck", "filter"} for kinds in CATALOGUES.values()
    )


# --------------------------------------------------------------------------- trace headers


def test_request_id_is_echoed_or_made_up(emulator):
    token = token_for(emulator)
    sent = str(uuid.uuid4())
    echoed = chat(emulator, token, headers={"X-Request-ID": sent})
    assert echoed.headers["X-Request-Id"] == sent
    assert UUID_RE.match(echoed.headers["X-Session-Id"])
    fresh = [chat(emulator, token).headers["X-Request-Id"] for _ in range(2)]
    assert all(UUID_RE.match(value) for value in fresh) and fresh[0] != fresh[1]
    for reply in (
        call(emulator, "GET", "/models", token),
        call(emulator, "GET", "/nowhere", token),
        chat(emulator, token, model="Nope"),
        requests.get(emulator.api_url + "/models", timeout=TIMEOUT),  # 401
    ):
        assert UUID_RE.match(reply.headers["X-Request-Id"]) and UUID_RE.match(reply.headers["X-Session-Id"])


def test_streamed_answer_carries_trace_headers(emulator):
    token = token_for(emulator)
    sent = str(uuid.uuid4())
    with chat(
        emulator, token, stream=True, headers={"X-Request-ID": sent, "X-Session-ID": "batch-1"}
    ) as reply:
        assert reply.headers["X-Request-Id"] == sent
        assert reply.headers["X-Session-Id"] == "batch-1"
        reply.content  # noqa: B018  (read the stream to its end)


def test_api_log_records_the_ids_answered(emulator):
    token = token_for(emulator)
    reply = chat(emulator, token, model="Nope")
    (entry,) = [e for e in emulator.api_log if e["path"] == "/api/v1/chat/completions"]
    assert entry == {
        "method": "POST",
        "path": "/api/v1/chat/completions",
        "status": 404,
        "request_id": reply.headers["X-Request-Id"],
        "session_id": reply.headers["X-Session-Id"],
    }
    records = requests.get(emulator.base_url + "/_emulator/records", timeout=TIMEOUT).json()
    assert records["api_log"][-1]["request_id"] == reply.headers["X-Request-Id"]


# --------------------------------------------------------------------------- CLI


def test_cli_serves_the_new_catalogue():
    proc, lines = start_cli("--catalogue", "new")
    try:
        printed = printed_until("Catalogue", lines, proc)
        assert printed["Catalogue"] == "new"
        headers = {"Authorization": f"Basic {DEMO_KEY}", "RqUID": str(uuid.uuid4())}
        token = requests.post(
            printed["OAuth URL"], headers=headers, data={"scope": "GIGACHAT_API_PERS"}, timeout=TIMEOUT
        ).json()["access_token"]
        models = requests.get(
            printed["API URL"] + "/models", headers={"Authorization": f"Bearer {token}"}, timeout=TIMEOUT
        ).json()
        assert "GigaChat" not in {entry["id"] for entry in models["data"]}
    finally:
        proc.kill()
        proc.wait()
        proc.stdout.close()
        proc.stderr.close()


def test_cli_rejects_an_unknown_catalogue():
    done = subprocess.run(
        [sys.executable, "-m", "gigachat.emulator", "--catalogue", "old"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2 and "--catalogue" in done.stderr and "Traceback" not in done.stderr


# --------------------------------------------------------------------------- the package itself


def _modules() -> list[Path]:
    return sorted(PACKAGE.glob("*.py"))


def test_every_emulator_module_is_under_400_lines():
    assert len(_modules()) >= 10
    sizes = {path.name: len(path.read_text(encoding="utf-8").splitlines()) for path in _modules()}
    assert all(size < 400 for size in sizes.values()), sizes
    assert not (PACKAGE / "app.py").exists()


def _foreign_imports(source: str) -> list[str]:
    """Imports that are neither the standard library nor the emulator itself (relative ones too)."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            names = [("." * node.level) + (node.module or "")]
        else:
            continue
        found += [
            name
            for name in names
            if not (name.startswith("gigachat.emulator") or name.split(".")[0] in sys.stdlib_module_names)
        ]
    return found


def test_emulator_imports_only_the_standard_library_and_itself():
    for path in _modules():
        assert _foreign_imports(path.read_text(encoding="utf-8")) == [], path.name


def test_the_boundary_check_catches_a_foreign_import():
    source = "import requests\nfrom gigachat.core import errors\nfrom . import chat\nimport json\n"
    assert _foreign_imports(source) == ["requests", "gigachat.core", "."]


def test_public_api_is_re_exported():
    import gigachat.emulator as package

    for name in ("DEMO_KEY", "SCOPES", "Emulator", "make_key", "Fault", "FAULT_KINDS", "LONG_ERROR_TOKEN"):
        assert hasattr(package, name)
    assert not hasattr(Emulator, "add_key")
    assert json.dumps(Emulator().config)  # serialisable as the control API sends it
