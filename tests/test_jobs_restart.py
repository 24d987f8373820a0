"""SIGKILL in the middle of a PERS batch: the real tray_app.py process, killed and started again."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
from collections import Counter
from pathlib import Path

import requests

from gigachat.emulator import DEMO_KEY
from tests.conftest import wait_for

ROOT = Path(__file__).resolve().parent.parent
ITEMS = 50


class BridgeProcess:
    """`tray_app.py --headless --port 0` against the emulator, its data dir in `data`."""

    def __init__(self, emu, data: Path) -> None:
        env = {**os.environ, "XDG_DATA_HOME": str(data), "GIGACHAT_AUTH_URL": emu.oauth_url,
               "GIGACHAT_API_URL": emu.api_url, "GIGACHAT_CREDENTIALS": DEMO_KEY,
               "GIGACHAT_SCOPE": "GIGACHAT_API_PERS", "PYTHONUNBUFFERED": "1"}
        self.lines: list[str] = []
        self.process = subprocess.Popen(
            [sys.executable, str(ROOT / "tray_app.py"), "--headless", "--port", "0"], cwd=ROOT,
            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        threading.Thread(target=self._read, name="bridge-output", daemon=True).start()
        self.url = wait_for(self._url, timeout=60)

    def _read(self) -> None:
        for line in self.process.stdout:
            self.lines.append(line)

    def _url(self) -> str | None:
        if self.process.poll() is not None:
            raise AssertionError("the bridge exited:\n" + "".join(self.lines))
        found = (re.search(r"запущен: (http://\S+)", line) for line in self.lines)
        return next((match.group(1).rstrip("/") for match in found if match), None)

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(30)

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        return self.process.wait(30)


def _job(url: str, job_id: str) -> dict:
    return requests.get(f"{url}/jobs/{job_id}", timeout=10).json()


def test_sigkill_mid_batch_loses_nothing_and_repeats_at_most_the_item_in_flight(
        emulator, tmp_path):
    emulator.configure(latency=0.2)
    texts = [f"строка выписки №{n}" for n in range(ITEMS)]
    first = BridgeProcess(emulator, tmp_path)
    try:
        created = requests.post(first.url + "/jobs", timeout=10, json={
            "route": "analyze/text", "items": [{"text": t} for t in texts]}).json()
        job_id = created["id"]
        wait_for(lambda: _job(first.url, job_id)["progress"]["done"] >= 15, timeout=120)
    finally:
        first.kill()
    calls_before_restart = [entry["user_text"] for entry in emulator.chat_log]
    assert len(calls_before_restart) < ITEMS
    second = BridgeProcess(emulator, tmp_path)
    try:
        done = wait_for(lambda: (view := _job(second.url, job_id))["state"] == "done" and view,
                        timeout=180, interval=0.1)
        assert done["progress"] == {"done": ITEMS, "failed": 0, "total": ITEMS}
        page = requests.get(f"{second.url}/jobs/{job_id}/results", params={"limit": 1000},
                            timeout=10).json()
        assert [item["index"] for item in page["items"]] == list(range(ITEMS))
        assert all(item["state"] == "done" and item["result"]["success"] for item in page["items"])
    finally:
        assert second.stop() == 0
    counts = Counter(entry["user_text"] for entry in emulator.chat_log)
    assert set(counts) == set(texts)
    repeated = [text for text, count in counts.items() if count > 1]
    assert max(counts.values()) <= 2 and len(repeated) <= 1, counts
    if repeated:  # only the item that was in flight when the process died
        assert repeated == [calls_before_restart[-1]]
    assert emulator.stats["rejected_concurrency"] == 0  # one stream at a time, as PERS demands
