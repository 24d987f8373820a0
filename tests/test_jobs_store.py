"""The jobs database: a real SQLite file, private, in WAL mode; restarts and retention."""

from __future__ import annotations

import logging
import sqlite3
import stat
import time

import pytest

from gigachat.core.errors import ConfigError
from gigachat.core.settings import load_settings
from gigachat.local.jobs import JobStore, jobs_path
from tests.conftest import service_for, wait_for
from tests.jobs_stack import Bridge, batch, text_job

MARKER = "СЕКРЕТНЫЙ-ДОГОВОР-7731"


def _mode(path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _files(folder) -> bytes:
    return b"".join(path.read_bytes() for path in folder.glob("jobs.sqlite3*"))


def test_the_database_is_private_and_in_wal_mode(emulator, tmp_path):
    folder = tmp_path / "data"
    stack = Bridge(emulator, folder)
    try:
        stack.wait_state(stack.post(text_job("Привет")).json()["id"], "done")
        database = folder / "jobs.sqlite3"
        assert _mode(folder) == 0o700 and _mode(database) == 0o600
        for extra in folder.glob("jobs.sqlite3-*"):
            assert _mode(extra) == 0o600, extra
        with sqlite3.connect(database) as db:
            assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
            assert db.execute("SELECT COUNT(*) FROM jobs").fetchone()[0] == 1
    finally:
        stack.stop()


def test_the_default_place_is_the_per_user_data_dir(emulator, tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    assert jobs_path() == tmp_path / "GigaChatBridge" / "jobs.sqlite3"
    assert jobs_path(demo=True).name == "jobs-demo.sqlite3"  # demo jobs never reach GigaChat
    service = service_for(emulator)
    try:
        assert service.jobs.store.path == tmp_path / "GigaChatBridge" / "jobs.sqlite3"
        assert service.jobs.store.path.exists()
    finally:
        service.stop()


def test_a_restart_continues_the_queue_and_keeps_done_results(emulator, tmp_path):
    first = Bridge(emulator, tmp_path)
    single = first.post(text_job("готово до перезапуска")).json()["id"]
    before = first.wait_state(single, "done")
    emulator.configure(latency=0.2)
    texts = [f"позиция {n}" for n in range(10)]
    job_id = first.post(batch(texts)).json()["id"]
    wait_for(lambda: first.job(job_id)["progress"]["done"] >= 3, timeout=60)
    first.stop()  # «Выход» in the middle of the batch
    assert first.service.jobs is None
    second = Bridge(emulator, tmp_path)
    try:
        emulator.configure(latency=0.0)
        assert second.job(single) == before
        done = second.wait_state(job_id, "done")
        assert done["progress"] == {"done": 10, "failed": 0, "total": 10}
        items = second.results(job_id)
        assert [item["index"] for item in items] == list(range(10))
        assert all(item["state"] == "done" for item in items)
        counts = emulator.chat_counts
        assert all(counts[text] == 1 for text in texts), counts  # a graceful stop repeats nothing
    finally:
        second.stop()


def test_retention_deletes_finished_jobs_and_their_texts(emulator, tmp_path):
    first = Bridge(emulator, tmp_path, jobs_retention_days=1.0)
    old = first.post(text_job(f"{MARKER}: старый договор")).json()["id"]
    kept = first.post(text_job("свежий договор")).json()["id"]
    first.wait_state(old, "done")
    first.wait_state(kept, "done")
    emulator.inject(status=402, times=1)
    paused = first.post(batch(["ждёт оплаты"])).json()["id"]
    first.wait_state(paused, "paused")
    first.stop()
    assert MARKER.encode() in _files(tmp_path)
    day = 86400
    with sqlite3.connect(tmp_path / "jobs.sqlite3") as db:
        db.execute("UPDATE jobs SET finished = ?, created = ? WHERE id = ?",
                   (time.time() - 2 * day, time.time() - 2 * day, old))
        db.execute("UPDATE jobs SET finished = ? WHERE id = ?", (time.time() - day / 2, kept))
        db.execute("UPDATE jobs SET created = ?, updated = ? WHERE id = ?",
                   (time.time() - 30 * day, time.time() - 30 * day, paused))
    second = Bridge(emulator, tmp_path, jobs_retention_days=1.0)
    try:
        assert second.http.get(f"{second.url}/jobs/{old}").status_code == 404
        assert second.job(kept)["state"] == "done"
        assert second.job(paused)["state"] == "paused"  # unfinished work is never dropped
        assert MARKER.encode() not in _files(tmp_path)  # overwritten on disk, not just unlinked
    finally:
        second.stop()


def test_texts_never_reach_the_log(emulator, tmp_path, caplog):
    caplog.set_level(logging.DEBUG)
    stack = Bridge(emulator, tmp_path)
    try:
        emulator.inject(status=422, message="Invalid params: bad", times=1)
        failed = stack.post(text_job(f"{MARKER} раз")).json()["id"]
        stack.wait_state(failed, "failed")
        bad = stack.post(batch([f"{MARKER} два", ""]))
        assert bad.status_code == 400 and MARKER not in bad.text
        done = stack.post(batch([f"{MARKER} три"], system_prompt=MARKER)).json()["id"]
        stack.wait_state(done, "done")
    finally:
        stack.stop()
    assert caplog.records and MARKER not in caplog.text


def test_the_retention_setting_is_validated():
    assert load_settings(environ={}).jobs_retention_days == 7.0
    assert load_settings(environ={"GIGACHAT_JOBS_RETENTION_DAYS": "30"}).jobs_retention_days == 30
    for bad in ("0", "-1", "неделя", "99999"):
        with pytest.raises(ConfigError) as raised:
            load_settings(environ={"GIGACHAT_JOBS_RETENTION_DAYS": bad})
        assert "GIGACHAT_JOBS_RETENTION_DAYS" in raised.value.message
        assert "срок хранения заданий" in raised.value.message


def test_an_item_has_exactly_one_result_even_if_finished_twice(tmp_path):
    store = JobStore(tmp_path / "jobs.sqlite3")
    try:
        job, created = store.create("a" * 32, "analyze/text", [{"text": "x"}, {"text": "y"}],
                                    batch=True)
        assert created
        claim = store.claim()
        assert claim is not None and claim.idx == 0 and claim.attempts == 1
        store.finish_item(claim, {"success": True}, True)
        job = store.finish_item(claim, {"success": True}, True)
        assert (job.done, job.failed, job.state) == (1, 0, "running")
        assert store.recover() == 0
        second = store.claim()
        assert store.recover() == 1  # a crash while item 1 ran: queued again
        again = store.claim()
        assert (again.idx, again.attempts) == (second.idx, 2)
        assert store.finish_item(again, {"success": False}, False).state == "done"
        assert [state for _, state, _ in store.results(job, 0, 10)] == ["done", "failed"]
    finally:
        store.close()
