"""Helpers for the jobs tests: a live bridge (Service) with its jobs database in a temp dir."""

from __future__ import annotations

import time
from pathlib import Path

import requests

from tests.conftest import LOCAL_TEST_KEY, wait_for

FINAL = ("done", "failed", "cancelled")


class Bridge:
    """A started Service in front of `emu` whose jobs database is `folder/jobs.sqlite3`."""

    def __init__(self, emu, folder: Path, **changes) -> None:
        from gigachat.core.credentials import CredentialStore
        from gigachat.core.settings import Settings
        from gigachat.emulator import DEMO_KEY
        from gigachat.local.service import Service

        self.folder, self.emu = folder, emu
        settings = Settings(port=0, auth_url=emu.oauth_url, api_url=emu.api_url)
        store = CredentialStore(environ={"GIGACHAT_CREDENTIALS": DEMO_KEY,
                                         "GIGACHAT_BRIDGE_API_KEY": LOCAL_TEST_KEY})
        self.service = Service(settings.with_changes(**changes), credentials=store,
                               jobs_dir=folder).start()
        self.url = self.service.url.rstrip("/")
        self.http = requests.Session()

    @property
    def runner(self):
        return self.service.jobs

    def stop(self) -> None:
        self.http.close()
        self.service.stop()

    def wait_token(self) -> None:
        """Until the first access token is in: a token still being issued would miss a later
        change of the emulator (it checks the key before it stores the token)."""
        from gigachat.core.token import TokenState

        wait_for(lambda: self.service.snapshot().token.state is TokenState.VALID, timeout=60)

    def post(self, body: dict, headers: dict | None = None) -> requests.Response:
        return self.http.post(self.url + "/jobs", json=body, headers=headers, timeout=30)

    def job(self, job_id: str) -> dict:
        return self.http.get(f"{self.url}/jobs/{job_id}", timeout=30).json()

    def wait_state(self, job_id: str, *states: str, timeout: float = 60.0) -> dict:
        """The job's view once its state is one of `states` (default: final); on timeout, the last."""
        wanted, last = states or FINAL, {}

        def reached():
            last.update(self.job(job_id))
            return last["state"] in wanted and dict(last)
        try:
            return wait_for(reached, timeout=timeout, interval=0.02)
        except TimeoutError:
            raise AssertionError(f"job {job_id} not {'/'.join(wanted)} within {timeout} s; last view: "
                                 f"{last}; emulator stats: {self.emu.stats}") from None

    def results(self, job_id: str) -> list[dict]:
        items, offset = [], 0
        while True:
            page = self.http.get(f"{self.url}/jobs/{job_id}/results",
                                 params={"offset": offset, "limit": 1000}, timeout=30).json()
            items += page["items"]
            if len(page["items"]) < 1000:
                return items
            offset += 1000


def text_job(text: str, **extra) -> dict:
    return {"route": "analyze/text", "request": {"text": text, **extra}}


def batch(texts: list[str], **extra) -> dict:
    return {"route": "analyze/text", "items": [{"text": t, **extra} for t in texts]}


def timed(call):
    started = time.monotonic()
    value = call()
    return value, time.monotonic() - started
