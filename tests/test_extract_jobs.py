"""The job routes (issue 13's registry): "analyze/extract" and files on "analyze/text" jobs run
exactly as the synchronous routes do, against the live bridge's client and the emulator."""

from __future__ import annotations

import base64

import pytest

from gigachat.core.errors import InvalidRequest
from gigachat.local.jobs.registry import ItemError, JobContext, find_route
from tests.conftest import service_for
from tests.test_extract_bridge import CONTRACT, EXPECTED, FIELDS
from tests.test_files_bridge import PDF


@pytest.fixture
def ctx(emulator, tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    svc = service_for(emulator)  # create_app registers the routes
    yield JobContext(svc.bridge)
    svc.stop()


def test_extract_job_answers_like_the_route(ctx, emulator):
    route = find_route("analyze/extract")
    body = {"text": CONTRACT, "fields": FIELDS}
    route.validate(body)
    answer = route.run(ctx, body)
    assert answer["success"] is True and answer["data"] == EXPECTED
    with pytest.raises(InvalidRequest, match="«Сумма-итого»"):
        route.validate({"text": "x", "fields": {"Сумма-итого": "число"}})
    emulator.inject(kind="json_invalid", times=2)
    with pytest.raises(ItemError) as caught:
        route.run(ctx, body)
    assert caught.value.answer["success"] is False and caught.value.answer["raw"]


def test_text_job_with_files_uploads_attaches_and_deletes(ctx, emulator):
    route = find_route("analyze/text")
    body = {"text": "Что в акте?", "files": [{"name": "акт.pdf",
                                               "data": base64.b64encode(PDF).decode()}]}
    route.validate(body)
    answer = route.run(ctx, body)
    assert answer["success"] is True and "акт.pdf" in answer["result"]
    assert [u["filename"] for u in emulator.uploads] == ["акт.pdf"] and emulator.files == []
    assert emulator.chat_log[-1]["model"] == "GigaChat-2-Max"
    with pytest.raises(InvalidRequest, match="«setup.exe»"):
        route.validate({"text": "x", "files": [{"name": "setup.exe", "data": "TVqQAA=="}]})
    plain = route.run(ctx, {"text": "без файлов"})  # the registry's own route, unchanged
    assert plain["success"] is True and emulator.chat_log[-1]["model"] == "GigaChat-2"


def test_post_jobs_runs_an_extraction_and_a_text_job_with_files(emulator, tmp_path, monkeypatch):
    from tests.jobs_stack import Bridge

    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    stack = Bridge(emulator, tmp_path)
    try:
        started = stack.post({"route": "analyze/extract",
                              "request": {"text": CONTRACT, "fields": FIELDS}}).json()
        assert started["success"] is True, started
        view = stack.wait_state(started["id"])
        assert view["state"] == "done" and view["result"]["data"] == EXPECTED
        refused = stack.post({"route": "analyze/extract",
                              "request": {"text": "x", "fields": {"Кол-во": "число"}}}).json()
        assert refused["success"] is False and "«Кол-во»" in refused["error"]
        with_file = stack.post({"route": "analyze/text", "request": {
            "text": "Что в акте?",
            "files": [{"name": "акт.pdf", "data": base64.b64encode(PDF).decode()}]}}).json()
        view = stack.wait_state(with_file["id"])
        assert view["state"] == "done" and "акт.pdf" in view["result"]["result"]
        assert emulator.files == [] and [u["filename"] for u in emulator.uploads] == ["акт.pdf"]
    finally:
        stack.stop()
