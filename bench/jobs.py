"""Jobs benchmark (issue 13): a 1,000-item batch on PERS at 200 ms per call.

    .venv/bin/python bench/jobs.py            # 1,000 items (about 4 minutes)
    .venv/bin/python bench/jobs.py --quick    # 200 items, results not saved

Measures, with the bridge as its own process (tray_app.py --headless, PERS scope: one stream)
and the emulator in this process (its latency 200 ms per call):
- throughput of the batch against the ideal 5 items/s (one 200 ms stream at a time), side by
  side with 1C calling POST /analyze/text in a loop (the synchronous way);
- the bridge's RSS over the run (flat = no growth with the number of items done);
- the database size per item (jobs.sqlite3 plus its WAL);
- the share of prompt tokens GigaChat served from its cache (`precached_prompt_tokens`):
  the items share a system prompt and so an X-Session-ID; the emulator counts it per call.
Results: printed as Markdown tables and written to bench/results/jobs.{md,json}.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import harness as h  # noqa: E402

from gigachat.emulator import Emulator  # noqa: E402
from gigachat.emulator.protocol import count_tokens  # noqa: E402

LATENCY = 0.2
IDEAL_RATE = 1 / LATENCY
SYSTEM_PROMPT = ("Ты бухгалтер. Отнеси строку банковской выписки к статье ДДС из списка: "
                 "Оплата поставщикам, Поступления от покупателей, Налоги, Зарплата, Прочее. "
                 "Ответь только названием статьи.")


def say(text: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {text}", file=sys.stderr, flush=True)


def item_text(n: int) -> str:
    return f"Платёжное поручение №{n} от 15.01.2024, ООО «ТехноПром», сумма {1000 + n},00 руб."


class CacheMeter:
    """Wraps the emulator's prompt cache to add up prompt and cached tokens per call."""

    def __init__(self, emu: Emulator) -> None:
        self.prompt = self.cached = self.calls = 0
        self._lock = threading.Lock()
        sessions = emu._api.sessions  # the emulator's own bookkeeping; read-only use
        original = sessions.precached

        def counted(session_id, messages):
            cached = original(session_id, messages)
            with self._lock:
                self.calls += 1
                self.cached += cached
                self.prompt += sum(count_tokens(m.get("content") or "") for m in messages)
            return cached

        sessions.precached = counted

    @property
    def share(self) -> float:
        return self.cached / self.prompt if self.prompt else 0.0


def run_batch(bridge: h.Bridge, emu: Emulator, count: int) -> dict:
    items = [{"text": item_text(n), "system_prompt": SYSTEM_PROMPT} for n in range(count)]
    started = time.monotonic()
    status, created = h.http_json("POST", bridge.url + "/jobs", {"route": "analyze/text",
                                                                  "items": items}, timeout=60)
    post_ms = (time.monotonic() - started) * 1000
    assert status == 202, (status, created)
    job_id = created["id"]
    rss: list[tuple[int, int]] = []  # (items done, RSS kB)
    polls: list[float] = []
    while True:
        before = time.monotonic()
        _, view = h.http_json("GET", f"{bridge.url}/jobs/{job_id}", timeout=30)
        polls.append(time.monotonic() - before)
        rss.append((view["progress"]["done"], bridge.rss_kb))
        if view["state"] in ("done", "failed", "cancelled", "paused"):
            break
        time.sleep(0.5)
    elapsed = time.monotonic() - started
    assert view["state"] == "done" and view["progress"]["done"] == count, view
    return {"job_id": job_id, "elapsed_s": elapsed, "rate": count / elapsed, "post_ms": post_ms,
            "poll_p50_ms": h.percentile(polls, 50) * 1000, "rss": rss,
            "upstream_calls": emu.stats["chat_calls"]}


def run_sync_loop(bridge: h.Bridge, count: int) -> dict:
    """1C's synchronous way: one POST /analyze/text after another."""
    started = time.monotonic()
    for n in range(count):
        status, answer = h.http_json("POST", bridge.url + "/analyze/text",
                                     {"text": item_text(100_000 + n),
                                      "system_prompt": SYSTEM_PROMPT}, timeout=130)
        assert status == 200 and answer["success"], answer
    elapsed = time.monotonic() - started
    return {"items": count, "elapsed_s": elapsed, "rate": count / elapsed}


def database_size(bridge: h.Bridge) -> tuple[int, int]:
    """Bytes of jobs.sqlite3 and of its write-ahead log."""
    folder = Path(bridge.workdir) / "home" / "xdg_data_home" / "GigaChatBridge"
    wal = folder / "jobs.sqlite3-wal"
    return (folder / "jobs.sqlite3").stat().st_size, wal.stat().st_size if wal.exists() else 0


def rss_row(rss: list[tuple[int, int]], count: int) -> dict:
    """RSS (MB) once 10 % of the items are done, at half, at the end; growth first → last."""
    def at(fraction: float) -> float:
        return next((kb for done, kb in rss if done >= fraction * count), rss[-1][1]) / 1024

    return {"at_10pct_mb": at(0.1), "at_50pct_mb": at(0.5), "at_end_mb": rss[-1][1] / 1024,
            "growth_mb": (rss[-1][1] - next(kb for done, kb in rss if done >= 0.1 * count)) / 1024}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="200 items; results not saved")
    args = parser.parse_args(argv)
    count, sync_count = (200, 20) if args.quick else (1000, 100)
    with tempfile.TemporaryDirectory(prefix="bench-jobs-") as folder, \
            Emulator(latency=LATENCY) as emu:
        meter = CacheMeter(emu)
        bridge = h.Bridge(Path(folder), "bridge", emu.oauth_url, emu.api_url, scope=h.PERS)
        try:
            say(f"batch of {count} items on PERS, {LATENCY * 1000:.0f} ms per call")
            batch = run_batch(bridge, emu, count)
            size, wal = database_size(bridge)
            cache = {"share": meter.share, "cached_tokens": meter.cached,
                     "prompt_tokens": meter.prompt, "calls": meter.calls}
            say(f"synchronous loop of {sync_count} calls")
            sync = run_sync_loop(bridge, sync_count)
        finally:
            bridge.stop()
    memory = rss_row(batch["rss"], count)
    data = {"items": count, "latency_s": LATENCY, "ideal_rate": IDEAL_RATE, "batch": batch,
            "sync_loop": sync, "memory": memory, "db_bytes": size, "db_bytes_per_item": size / count,
            "wal_bytes": wal,
            "prompt_cache": cache, "machine": h.machine_info(),
            "date": dt.datetime.now().astimezone().isoformat(timespec="seconds")}
    text = markdown(data)
    print(text)
    if not args.quick:
        out = h.BENCH / "results"
        (out / "jobs.md").write_text(text, encoding="utf-8")
        data["rss_samples"] = len(batch.pop("rss"))
        (out / "jobs.json").write_text(json.dumps(data, ensure_ascii=False, indent=2) + "\n",
                                       encoding="utf-8")
        say(f"written to {out / 'jobs.md'}")
    ok = abs(batch["rate"] / IDEAL_RATE - 1) <= 0.05
    return 0 if ok else 1


def markdown(data: dict) -> str:
    batch, sync, memory, cache = data["batch"], data["sync_loop"], data["memory"], data["prompt_cache"]
    machine = data["machine"]
    lines = [
        "## Jobs: a batch on PERS (one stream), 200 ms per call", "",
        f"- date: {data['date']}", f"- python: {machine['python']}, cores: {machine['cores']}, "
        f"load: {machine['loadavg']}", "",
        "| way | items | time, s | items/s | of ideal 5/s |", "| --- | --- | --- | --- | --- |",
        f"| POST /jobs batch | {data['items']} | {batch['elapsed_s']:.1f} | {batch['rate']:.2f} | "
        f"{batch['rate'] / data['ideal_rate'] * 100:.1f} % |",
        f"| POST /analyze/text loop (sync) | {sync['items']} | "
        f"{sync['elapsed_s']:.1f} | {sync['rate']:.2f} | {sync['rate'] / data['ideal_rate'] * 100:.1f} % |",
        "",
        "| measure | value |", "| --- | --- |",
        f"| POST /jobs with {data['items']} items, ms | {batch['post_ms']:.0f} |",
        f"| GET /jobs/{{id}} during the run, p50 ms | {batch['poll_p50_ms']:.1f} |",
        f"| upstream chat calls | {batch['upstream_calls']} |",
        f"| bridge RSS at 10 % / 50 % / 100 % done, MB | {memory['at_10pct_mb']:.1f} / "
        f"{memory['at_50pct_mb']:.1f} / {memory['at_end_mb']:.1f} |",
        f"| RSS growth from 10 % to 100 % done, MB | {memory['growth_mb']:.1f} |",
        f"| database file (jobs.sqlite3), bytes per item | {data['db_bytes_per_item']:.0f} |",
        f"| write-ahead log at the end (capped at 1 MB after checkpoints), KB | "
        f"{data['wal_bytes'] / 1024:.0f} |",
        f"| prompt tokens served from GigaChat's cache (precached_prompt_tokens) | "
        f"{cache['share'] * 100:.1f} % ({cache['cached_tokens']} of {cache['prompt_tokens']}) |",
        "",
        "- ideal: one PERS stream at a time, 200 ms each = 5 items/s; the batch's time runs from "
        "POST /jobs to the poll that saw `done` (polls every 0.5 s, so up to 0.5 s of it is "
        "polling).",
        "- the cache share counts what the emulator reports as `precached_prompt_tokens`: the "
        "system prompt of every call after the first in the batch's X-Session-ID; without the "
        "shared session it would be 0 %.",
    ]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
