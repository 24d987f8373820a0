"""Runs queued job items against GigaChat in named worker threads, behind synchronous calls.

Items wait in the client's one upstream gate at LOW priority, so a person at a 1C form goes
first. Transient failures are retried with the project's backoff for up to `patience`
seconds (a batch waits out an outage); account failures (wrong key, 402) pause the job with
the Russian reason; it continues on resume() or when a new key is saved.

For the tray: `active()`, `pause(id)`, `resume(id)`, `cancel(id)`, `add_listener(fn)`
(fn(JobEvent) on queued / finished / paused / resumed / cancelled, in a worker thread).
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from gigachat.core.bridge import Bridge
from gigachat.core.errors import BridgeError
from gigachat.core.gate import GateAborted, background
from gigachat.core.listeners import notify
from gigachat.core.token import TokenState, TokenStatus
from gigachat.core.transport import backoff_delay
from gigachat.local.analyze import Stopped, failure_body
from gigachat.local.answers import INTERNAL_ERROR
from gigachat.local.jobs.registry import ItemError, JobContext, find_route
from gigachat.local.jobs.store import ACTIVE, FINISHED, UNFINISHED, Claim, Job, JobStore
from gigachat.local.privacy import run_job_item

log = logging.getLogger(__name__)

PATIENCE = 30 * 60.0  # seconds of transient failures one item waits out before its job pauses
ABORT_GRACE = 0.3  # seconds a halted stream may take to end by itself before it is shut
PURGE_INTERVAL = 3600.0  # how often finished jobs past retention are deleted
MAX_WORKERS = 10
STOP_JOIN = 5.0
# Failures no retry can fix: the job pauses until the key, the balance or a setting changes.
PAUSING_CODES = frozenset({
    "wrong_key", "scope_mismatch", "malformed_key", "oauth_rejected", "unauthorized",
    "payment_required", "permission_denied", "no_credentials", "keyring", "tls", "not_found",
    "config", "outage", "no_route",
})
RESUME_HINT = "После устранения причины нажмите «Продолжить» в меню моста или вызовите " \
              "POST /jobs/{id}/resume."
OUTAGE_MESSAGE = "ГигаЧат недоступен дольше {minutes} мин ({reason})"
_SESSION_NAMESPACE = uuid.UUID("6f1d3c1e-8a4b-4f0e-9a63-0d5f2b7c9e41")

Listener = Callable[["JobEvent"], None]


@dataclass(frozen=True)
class JobEvent:
    """kind: queued, finished (done or failed), paused, resumed, cancelled."""

    kind: str
    job: Job


@dataclass
class _Running:
    claim: Claim
    stop: threading.Event = field(default_factory=threading.Event)
    partial: str | None = None
    retrying: str | None = None  # Russian: why the item is waiting for a retry
    response: Any = None  # the upstream stream while it is read

    def opened(self, response: Any) -> None:
        self.response = response
        if self.stop.is_set():
            self._shut_later()

    def halt(self) -> None:
        """Stop the item: its stream closes at the next chunk, or is shut ABORT_GRACE s later
        (a slow stream: GigaChat must stop generating and billing within a second)."""
        self.stop.set()
        if self.response is not None:
            self._shut_later()

    def _shut_later(self) -> None:
        timer = threading.Timer(ABORT_GRACE, self._shut)
        timer.name, timer.daemon = "gigachat-jobs-abort", True
        timer.start()

    def _shut(self) -> None:
        response = self.response
        if response is not None:
            with contextlib.suppress(Exception):  # already closed: nothing to do
                response.raw.shutdown()  # wakes the worker's blocked read at once


class JobRunner:
    """The jobs of one bridge: submit, observe, pause, resume, cancel; workers run items."""

    def __init__(self, bridge: Bridge, store: JobStore, *, workers: int | None = None,
                 retention_days: float = 7.0, patience: float = PATIENCE) -> None:
        self.bridge = bridge
        self.store = store
        self.retention_days = retention_days
        self.patience = patience
        limit = bridge.settings.effective_concurrency  # upstream slots; with more than one,
        count = workers or max(1, limit - 1)  # one stays free for a person at a 1C form
        self._worker_count = max(1, min(count, MAX_WORKERS))
        self._threads: list[threading.Thread] = []
        self._cond = threading.Condition()
        self._stopping = threading.Event()
        self._running: dict[str, list[_Running]] = {}
        self._listeners: list[Listener] = []
        self._next_purge = 0.0
        self._wakes = 0  # counts _wake() calls: a worker never sleeps through one
        self._token_failed = False  # the token manager is in ERROR / NO_CREDENTIALS

    # --- lifecycle -----------------------------------------------------------------------

    def start(self) -> JobRunner:
        requeued = self.store.recover()
        if requeued:
            log.info("jobs: %d interrupted item(s) queued again", requeued)
        self._purge()
        self._threads = [threading.Thread(target=self._work, name=f"gigachat-jobs-{n + 1}",
                                          daemon=True) for n in range(self._worker_count)]
        for thread in self._threads:
            thread.start()
        self.bridge.tokens.add_listener(self._token_changed)
        return self

    def stop(self, timeout: float = STOP_JOIN) -> None:
        """Stop the workers; an item cut off by the stop runs again on the next start."""
        self._stopping.set()
        self.bridge.tokens.remove_listener(self._token_changed)
        with self._cond:
            for entries in self._running.values():
                for entry in entries:
                    entry.halt()
            self._cond.notify_all()
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(deadline - time.monotonic(), 0.0))
        self._threads = []

    def close(self) -> None:
        """stop(), then close the database."""
        self.stop()
        self.store.close()

    # --- observing -----------------------------------------------------------------------

    def add_listener(self, listener: Listener) -> None:
        self._listeners.append(listener)

    def remove_listener(self, listener: Listener) -> None:
        if listener in self._listeners:
            self._listeners.remove(listener)

    def active(self) -> list[Job]:
        """Queued, running and paused jobs, oldest first (progress in each Job)."""
        return self.store.unfinished()

    @property
    def busy(self) -> bool:
        """A worker is running an item (waiting for its slot, calling, or backing off)."""
        with self._cond:
            return bool(self._running)

    def partial(self, job_id: str) -> str | None:
        """The answer text received so far while a single job streams; else None."""
        with self._cond:
            entries = self._running.get(job_id) or []
            return next((e.partial for e in entries if e.partial is not None), None)

    def retrying(self, job_id: str) -> str | None:
        """Russian: why a running job is waiting to retry, else None."""
        with self._cond:
            entries = self._running.get(job_id) or []
            return next((e.retrying for e in entries if e.retrying), None)

    # --- actions -------------------------------------------------------------------------

    def submit(self, route: str, bodies: list[dict], *, batch: bool, idem_key: str | None = None,
               digest: str | None = None) -> tuple[Job, bool]:
        """Store a job (validated bodies) and wake a worker; (job, created)."""
        job, created = self.store.create(uuid.uuid4().hex, route, bodies, batch=batch,
                                         idem_key=idem_key, digest=digest)
        if created:
            self._wake()
            self._emit("queued", job)
        return job, created

    def cancel(self, job_id: str) -> Job | None:
        """Queued items never start; a running stream is closed. None for an unknown id."""
        return self._change(job_id, "cancelled", UNFINISHED, "cancelled", stop=True)

    def pause(self, job_id: str) -> Job | None:
        """«Пауза»: no new item starts; a streaming single job is cut and runs again later."""
        return self._change(job_id, "paused", ACTIVE, "paused", stop=True)

    def resume(self, job_id: str) -> Job | None:
        """«Продолжить» / POST /jobs/{id}/resume for a paused job."""
        job = self._change(job_id, "queued", ("paused",), "resumed")
        self._wake()
        return job

    def credentials_changed(self) -> int:
        """A new key was saved (or the account fixed): resume jobs paused for such a reason."""
        resumed = 0
        for job in self.store.unfinished():
            if job.state == "paused" and job.error_code in PAUSING_CODES:
                resumed += self.resume(job.id) is not None
        return resumed

    def _token_changed(self, status: TokenStatus) -> None:
        """A token again after the key failed (a new key saved, the keyring unlocked): the
        jobs it paused continue."""
        if status.state in (TokenState.ERROR, TokenState.NO_CREDENTIALS):
            self._token_failed = True
        elif status.state is TokenState.VALID and self._token_failed:
            self._token_failed = False
            self.credentials_changed()

    def _change(self, job_id: str, state: str, from_states: tuple[str, ...], kind: str, *,
                stop: bool = False, error: str | None = None, code: str | None = None) -> Job | None:
        before = self.store.get(job_id)
        if before is None or before.state not in from_states:
            return before
        job = self.store.set_state(job_id, state, from_states, error=error, error_code=code)
        if job is None or job.state != state:
            return job
        if stop:
            with self._cond:
                for entry in self._running.get(job_id, []):
                    entry.halt()
        self._emit(kind, job)
        return job

    def _emit(self, kind: str, job: Job) -> None:
        notify(self._listeners, JobEvent(kind, job), what="job")

    def _wake(self) -> None:
        with self._cond:
            self._wakes += 1
            self._cond.notify_all()

    # --- workers -------------------------------------------------------------------------

    def _work(self) -> None:
        while not self._stopping.is_set():
            with self._cond:
                wakes = self._wakes
            try:
                claim = self.store.claim()
            except Exception:
                if not self._stopping.is_set():
                    log.exception("jobs: cannot read the queue")
                claim = None
            if claim is None:
                with self._cond:
                    if not self._stopping.is_set() and wakes == self._wakes:
                        self._cond.wait(min(60.0, max(self._next_purge - time.time(), 1.0)))
                self._purge()
                continue
            try:
                self._process(claim)
            except Exception:  # the database itself failed: keep the thread alive
                if not self._stopping.is_set():
                    log.exception("jobs: an item could not be processed")
                    self._stopping.wait(1.0)

    def _purge(self) -> None:
        now = time.time()
        if now < self._next_purge or self._stopping.is_set():
            return
        self._next_purge = now + PURGE_INTERVAL
        try:
            removed = self.store.purge(now - self.retention_days * 86400)
        except Exception:
            log.exception("jobs: the retention purge failed")
            return
        if removed:
            log.info("jobs: %d finished job(s) past the retention period deleted", removed)

    def _process(self, claim: Claim) -> None:
        entry = _Running(claim, partial="" if not claim.job.batch else None)
        with self._cond:
            self._running.setdefault(claim.job.id, []).append(entry)
            if self._stopping.is_set():
                entry.stop.set()
        current = self.store.get(claim.job.id)  # cancelled or paused just after the claim?
        if current is None or current.state not in ACTIVE:
            entry.stop.set()
        try:
            self._run_item(claim, entry)
        finally:
            with self._cond:
                entries = self._running.get(claim.job.id, [])
                if entry in entries:
                    entries.remove(entry)
                if not entries:
                    self._running.pop(claim.job.id, None)

    def _run_item(self, claim: Claim, entry: _Running) -> None:
        try:
            route = find_route(claim.job.route)
        except BridgeError:
            self._requeue_and_pause(claim, "no_route", f"Маршрут «{claim.job.route}» сейчас "
                                    "недоступен в этой версии моста.")
            return
        ctx = JobContext(self.bridge, stream=not claim.job.batch,
                         session_id=self._session_id(claim, route.prefix(claim.body)),
                         on_text=lambda text: setattr(entry, "partial", text),
                         stop=entry.stop.is_set, on_response=entry.opened)
        attempt, first_failure = 0, None
        while True:
            if entry.stop.is_set():
                self.store.requeue_item(claim)
                return
            try:
                with background(abort=entry.stop.is_set):
                    result, ok, error = run_job_item(route.run, ctx, claim.body), True, None
            except (Stopped, GateAborted):  # halted while streaming / before its turn came
                self.store.requeue_item(claim)
                return
            except ItemError as failure:
                result, ok, error = failure.answer, False, failure.error
            except BridgeError as failure:
                result, ok, error = failure_body(failure.message, ""), False, failure
            except Exception:
                log.exception("jobs: unexpected error in route %s", claim.job.route)
                result, ok, error = failure_body(INTERNAL_ERROR, ""), False, None
            finally:
                entry.response = None
            if error is not None and (entry.stop.is_set() or self._stopping.is_set()):
                self.store.requeue_item(claim)  # cut off by cancel/pause/stop: not its fault
                return
            if error is not None and getattr(error, "retryable", False):
                attempt += 1
                first_failure = first_failure or time.monotonic()
                if time.monotonic() - first_failure >= self.patience:
                    minutes = max(1, round(self.patience / 60))
                    self._requeue_and_pause(claim, "outage", OUTAGE_MESSAGE.format(
                        minutes=minutes, reason=error.message.rstrip(".")) + ".")
                    return
                delay = backoff_delay(attempt)
                entry.retrying = f"{error.message} Повтор через {delay:.0f} с."
                if entry.stop.wait(delay):
                    self.store.requeue_item(claim)
                    return
                entry.retrying, entry.partial = None, "" if entry.partial is not None else None
                continue
            if error is not None and error.code in PAUSING_CODES:
                self._requeue_and_pause(claim, error.code, error.message)
                return
            job = self.store.finish_item(claim, result, ok)
            if job.state in FINISHED:
                self._emit("finished", job)
            return

    def _requeue_and_pause(self, claim: Claim, code: str, message: str) -> None:
        self.store.requeue_item(claim)
        text = f"Задание приостановлено: {message} {RESUME_HINT.format(id=claim.job.id)}"
        self._change(claim.job.id, "paused", ACTIVE, "paused", error=text, code=code)

    @staticmethod
    def _session_id(claim: Claim, prefix: str | None) -> str | None:
        """Items of a batch sharing a prefix (system prompt) share one X-Session-ID."""
        if not claim.job.batch or not prefix:
            return None
        digest = hashlib.sha256(prefix.encode("utf-8", "surrogatepass")).hexdigest()
        return str(uuid.uuid5(_SESSION_NAMESPACE, f"{claim.job.id}:{digest}"))
