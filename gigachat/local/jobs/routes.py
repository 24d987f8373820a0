"""The /jobs API (a bottle app merged into the local app): start, poll, fetch, cancel, resume.

Every answer is a JSON object with identifier-safe keys for a 1C Структура: `success`
(boolean), `error` (Russian text or null) and the route's own fields.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import sqlite3
from datetime import datetime
from pathlib import Path

import bottle

from gigachat.core.bridge import Bridge
from gigachat.core.errors import InvalidRequest
from gigachat.local.answers import INTERNAL_ERROR, json_out, note, read_body
from gigachat.local.jobs.registry import find_route
from gigachat.local.jobs.runner import JobRunner
from gigachat.local.jobs.store import FINISHED, Job, JobStore, jobs_path
from gigachat.local.json_body import parse_json_body
from gigachat.local.privacy import pin_job_bodies

log = logging.getLogger(__name__)

MAX_ITEMS = 10_000
MAX_KEY_LENGTH = 200
SHOWN_ERRORS = 100  # per-item validation errors listed in one answer
RESULTS_PAGE, RESULTS_MAX = 100, 1000
LIST_PAGE, LIST_MAX = 50, 500
_JOB_ID = re.compile(r"[0-9a-f]{32}")
_KEY = re.compile(r"[\x21-\x7e]+")  # printable ASCII without spaces, like an HTTP token


def _time(timestamp: float | None) -> str | None:
    """Local time as 1C's ПрочитатьJSON reads a date: YYYY-MM-DDTHH:MM:SS."""
    return datetime.fromtimestamp(timestamp).strftime("%Y-%m-%dT%H:%M:%S") if timestamp else None


def _progress(job: Job) -> dict:
    return {"done": job.done, "failed": job.failed, "total": job.total}


def _failure(status: int, message: str, code: str, **extra) -> bytes:
    note(error=code)
    return json_out({"success": False, "id": None, "state": None, "error": message, **extra},
                    status)


def _not_found(job_id: str) -> bytes:
    shown = job_id if len(job_id) <= 64 else job_id[:64] + "…"
    return _failure(404, f"Нет задания «{shown}»: оно не создавалось или уже удалено по сроку "
                    "хранения.", "no_job")


def _too_late(job_id: str, job: Job | None, message: str) -> bytes:
    """404 for an unknown job, else 409: it is past what was asked."""
    if job is None:
        return _not_found(job_id)
    note(error="job_finished")
    return json_out({"success": False, "id": job.id, "state": job.state, "error": message}, 409)


def _idempotency_key(body: dict) -> str | None:
    key = bottle.request.headers.get("Idempotency-Key")
    if key is None:
        key = body.get("idempotency_key")
    if key is None:
        return None
    if not isinstance(key, str) or not 0 < len(key) <= MAX_KEY_LENGTH or not _KEY.fullmatch(key):
        raise InvalidRequest(f"Ключ идемпотентности (заголовок Idempotency-Key или поле "
                             f"idempotency_key) должен быть строкой из 1–{MAX_KEY_LENGTH} "
                             "латинских букв, цифр и знаков без пробелов, например UUID.",
                             field="idempotency_key")
    return key


def _validated_items(route, items: object) -> tuple[list[dict], list[dict]]:
    """The batch's bodies and the per-item validation errors (index, field, error)."""
    if not isinstance(items, list) or not items:
        raise InvalidRequest("Поле items должно быть непустым списком запросов.", field="items")
    if len(items) > MAX_ITEMS:
        raise InvalidRequest(f"В пакете {len(items)} элементов, допустимо не больше "
                             f"{MAX_ITEMS}. Разделите пакет на части.", field="items")
    errors = []
    for index, item in enumerate(items):
        try:
            route.validate(item)
        except InvalidRequest as error:
            field = f"items[{index}]" + (f".{error.field}" if error.field else "")
            errors.append({"index": index, "field": field, "error": error.message})
    return items, errors


def _job_view(runner: JobRunner, job: Job) -> dict:
    result, error = None, job.error
    if not job.batch and job.state in ("done", "failed"):
        rows = runner.store.results(job, 0, 1)
        result = rows[0][2] if rows else None
    if error is None and job.state == "failed":
        error = (result or {}).get("error") if not job.batch else (
            f"Ни один элемент пакета не выполнен: причины в GET /jobs/{job.id}/results.")
    if error is None and job.state == "running":
        error = runner.retrying(job.id)
    return {
        "success": True, "id": job.id, "route": job.route, "batch": job.batch,
        "state": job.state, "position": runner.store.position(job), "progress": _progress(job),
        "partial": runner.partial(job.id) or "",
        "result": result, "error": error, "created": _time(job.created),
        "updated": _time(job.updated), "finished": _time(job.finished),
    }


def _int_query(name: str, default: int, low: int, high: int) -> int:
    text = bottle.request.query.get(name)
    if text is None or text == "":
        return default
    if not re.fullmatch(r"[0-9]{1,9}", text) or not low <= int(text) <= high:
        raise InvalidRequest(f"Параметр {name} должен быть целым числом от {low} до {high}.",
                             field=name)
    return int(text)


def open_jobs(bridge: Bridge, folder: str | Path | None = None, *, demo: bool = False,
              retention_days: float = 7.0) -> tuple[JobRunner | None, bottle.Bottle]:
    """The runner (not started) and the bottle app of /jobs (merge it into the local app).

    A database that cannot be opened leaves the rest of the bridge working: the runner is
    None and /jobs answers 503 with the reason."""
    path = jobs_path(folder, demo=demo)
    try:
        runner = JobRunner(bridge, JobStore(path), retention_days=retention_days)
    except (OSError, sqlite3.Error) as error:
        log.error("jobs database %s cannot be opened: %s", path, error)
        return None, _unavailable_app(f"Задания недоступны: не удалось открыть базу заданий "
                                      f"{path} ({type(error).__name__}). Синхронный адрес "
                                      "/analyze/text работает.")
    return runner, create_jobs_app(runner)


def _unavailable_app(message: str) -> bottle.Bottle:
    app = bottle.Bottle(catchall=True)

    @app.route("/jobs", method="ANY")
    @app.route("/jobs/<rest:path>", method="ANY")
    def unavailable(rest: str = ""):
        return _failure(503, message, "jobs_unavailable")

    return app


def create_jobs_app(runner: JobRunner) -> bottle.Bottle:
    """The bottle app of /jobs. Merged into the local app (`app.merge`), it shares that app's
    hooks (Cache-Control) and its JSON answers for unknown addresses and wrong methods; a
    WSGI mount would decode a non-ASCII path twice."""
    app = bottle.Bottle(catchall=True)

    def answer(handler):
        def wrapped(*args, **kwargs):
            try:
                return handler(*args, **kwargs)
            except InvalidRequest as error:
                extra = {"field": error.field} if error.field else {}
                return _failure(400, error.message, error.code, **extra)
            except Exception:
                log.exception("unexpected error in %s %s", bottle.request.method, "/jobs")
                return _failure(500, INTERNAL_ERROR, "internal")
        return wrapped

    @app.post("/jobs")
    @answer
    def create():
        body = parse_json_body(read_body())
        if not isinstance(body, dict):
            raise InvalidRequest("Тело запроса должно быть JSON-объектом с полями route и "
                                 "request (или items для пакета).")
        route = find_route(body.get("route"))
        if ("request" in body) == ("items" in body):
            raise InvalidRequest("Передайте либо request (один запрос), либо items (пакет "
                                 "запросов), но не оба сразу.", field="request")
        key = _idempotency_key(body)
        if "request" in body:
            route.validate(body["request"])
            bodies, batch = [body["request"]], False
        else:
            bodies, errors = _validated_items(route, body["items"])
            if errors:
                first = errors[0]
                return _failure(400, f"Задание не создано: ошибки в {len(errors)} из "
                                f"{len(bodies)} элементов пакета. Первая — элемент "
                                f"{first['index']}: {first['error']}", "bad_items",
                                errors=errors[:SHOWN_ERRORS])
            batch = True
        bodies = pin_job_bodies(bodies, runner.bridge.settings)  # masking as asked at submission
        digest = hashlib.sha256(json.dumps([route.name, batch, bodies], ensure_ascii=False,
                                           sort_keys=True).encode("utf-8")).hexdigest()
        job, created = runner.submit(route.name, bodies, batch=batch, idem_key=key, digest=digest)
        if not created and runner.store.digest_of(job) != digest:
            return _failure(409, f"Ключ идемпотентности «{key}» уже использован для другого "
                            "задания за последние 24 часа. Для нового задания передайте новый "
                            "ключ.", "idempotency_conflict")
        return json_out({"success": True, "id": job.id, "state": job.state, "error": None}, 202)

    @app.get("/jobs")
    @answer
    def recent():
        limit = _int_query("limit", LIST_PAGE, 1, LIST_MAX)
        jobs = [{"id": job.id, "route": job.route, "batch": job.batch, "state": job.state,
                 "progress": _progress(job), "created": _time(job.created)}
                for job in runner.store.recent(limit)]
        return json_out({"success": True, "jobs": jobs, "error": None})

    def find(job_id: str) -> Job | None:
        return runner.store.get(job_id) if _JOB_ID.fullmatch(job_id) else None

    @app.get("/jobs/<job_id>")
    @answer
    def show(job_id: str):
        job = find(job_id)
        return _not_found(job_id) if job is None else json_out(_job_view(runner, job))

    @app.get("/jobs/<job_id>/results")
    @answer
    def results(job_id: str):
        job = find(job_id)
        if job is None:
            return _not_found(job_id)
        offset = _int_query("offset", 0, 0, MAX_ITEMS)
        limit = _int_query("limit", RESULTS_PAGE, 1, RESULTS_MAX)
        items = [{"index": idx, "state": state, "result": result}
                 for idx, state, result in runner.store.results(job, offset, limit)]
        return json_out({"success": True, "id": job.id, "state": job.state,
                         "progress": _progress(job), "total": job.total, "offset": offset,
                         "limit": limit, "items": items, "error": None})

    @app.delete("/jobs/<job_id>")
    @answer
    def cancel(job_id: str):
        job = runner.cancel(job_id) if find(job_id) else None
        if job is None or job.state in ("done", "failed"):
            return _too_late(job_id, job, "Задание уже завершено: отменять нечего.")
        return json_out({"success": True, "id": job.id, "state": job.state, "error": None})

    @app.post("/jobs/<job_id>/resume")
    @answer
    def resume(job_id: str):
        job = runner.resume(job_id) if find(job_id) else None
        if job is None or job.state in FINISHED:
            return _too_late(job_id, job, "Задание уже завершено или отменено: продолжать нечего.")
        return json_out(_job_view(runner, job))

    return app
