"""POST /analyze/extract: success over the emulator's fault modes, extra calls, time per field count.

    .venv/bin/python bench/extract.py            # full run (about a minute)
    .venv/bin/python bench/extract.py --quick    # fewer repetitions, results not saved

The live bridge (Service, real HTTP) in front of the emulator. Side by side with the usual
first attempt: `json.loads` of the model's answer checked against the schema, no lenient
parsing, no coercion, no repair call. Field counts are timed with the bridge's split (about a
dozen properties per call) and with one call for all fields; the emulator's `latency` stands
in for the model's time per call. Tables are printed as Markdown and saved to
bench/results/extract.{md,json}.
"""

from __future__ import annotations

import argparse
import base64
import datetime as dt
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("XDG_DATA_HOME", tempfile.mkdtemp(prefix="bench-extract-"))

import jsonschema  # noqa: E402
import requests  # noqa: E402
from harness import table  # noqa: E402

from gigachat.core.credentials import CredentialStore  # noqa: E402
from gigachat.core.settings import Settings  # noqa: E402
from gigachat.emulator import DEMO_KEY, Emulator  # noqa: E402
from gigachat.local.extract import engine  # noqa: E402
from gigachat.local.extract.fields import fields_schema  # noqa: E402
from gigachat.local.service import Service  # noqa: E402
from tests.test_extract_bridge import CONTRACT, EXPECTED, FIELDS  # noqa: E402

RESULTS = ROOT / "bench" / "results"
MODES = [("none", None, 1), ("json_fence", "json_fence", 1),
         ("json_text_around", "json_text_around", 1),
         ("json_russian_numbers", "json_russian_numbers", 1),
         ("json_missing_required", "json_missing_required", 1),
         ("json_invalid once", "json_invalid", 1), ("json_invalid twice", "json_invalid", 2)]
LATENCY = 0.2  # seconds per chat call standing in for the model


def naive_ok(content: str) -> bool:
    """The usual first attempt: json.loads, then the schema (dates as the model wrote them)."""
    try:
        value = json.loads(content)
    except ValueError:
        return False
    schema = fields_schema(FIELDS)
    return not list(jsonschema.Draft202012Validator(schema).iter_errors(value)) \
        and isinstance(value.get("Сумма"), int | float)


def fault_rows(emu: Emulator, url: str, repeat: int) -> list[list]:
    rows = []
    for label, kind, times in MODES:
        ok = calls = naive = 0
        for _ in range(repeat):
            emu.reset()
            if kind:
                emu.inject(kind=kind, times=times)
            answer = requests.post(url + "/analyze/extract", timeout=60,
                                   json={"text": CONTRACT, "fields": FIELDS}).json()
            ok += answer["success"] is True and answer["data"] == EXPECTED
            calls += emu.stats["chat_calls"]
            emu.reset()
            if kind:
                emu.inject(kind=kind, times=times)
            naive += naive_ok(raw_answer(emu))
        rows.append([label, f"{ok / repeat:.0%}", f"{calls / repeat - 1:.2f}",
                     f"{naive / repeat:.0%}"])
    return rows


def raw_answer(emu: Emulator) -> str:
    """One direct structured-output call to the emulator (what the naive client reads)."""
    token = requests.post(emu.oauth_url, timeout=10, data={"scope": "GIGACHAT_API_PERS"},
                          headers={"Authorization": f"Basic {DEMO_KEY}",
                                   "RqUID": "6f0b1291-c7f3-43c6-bb2e-9f3efb2dc98e"}).json()
    answer = requests.post(emu.api_url + "/chat/completions", timeout=30, json={
        "model": "GigaChat-2", "messages": engine.messages_for(CONTRACT, None),
        "response_format": {"type": "json_schema", "schema": fields_schema(FIELDS)}},
        headers={"Authorization": f"Bearer {token['access_token']}"}).json()
    return answer["choices"][0]["message"]["content"]


def timing_rows(emu: Emulator, urls: dict[str, str], repeat: int) -> list[list]:
    """p50 ms per field count: (latency, account, fields per call) variants."""
    variants = ((0.0, "PERS", None), (LATENCY, "PERS", None), (LATENCY, "B2B", None),
                (LATENCY, "PERS", 10**6))
    rows = []
    for count in (5, 15, 30):
        fields = {f"Поле{i}": "число" for i in range(1, count + 1)}
        text = "\n".join(f"Поле{i}: {i} 000,5" for i in range(1, count + 1))
        cells = [count]
        for latency, account, per_call in variants:
            emu.reset()
            emu.configure(latency=latency)
            engine.FIELDS_PER_CALL = per_call or 12
            times = []
            for _ in range(repeat):
                started = time.perf_counter()
                answer = requests.post(urls[account] + "/analyze/extract", timeout=120,
                                       json={"text": text, "fields": fields}).json()
                times.append(time.perf_counter() - started)
                assert answer["success"] is True, answer
            cells.append(f"{statistics.median(times) * 1000:.0f} ({emu.stats['chat_calls'] // repeat})")
        engine.FIELDS_PER_CALL = 12
        rows.append(cells)
    return rows


def memory_rows() -> list[list]:
    """Peak RSS of a bridge process (demo: the emulator, which keeps the upload, runs in it
    too) before and after one /analyze/text with a 30 MB PDF (40 MB of base64)."""
    from tests.bridge_process import BridgeProcess

    pdf = b"%PDF-1.7\n" + os.urandom(30 * 2**20)
    data = base64.encodebytes(pdf).decode().replace("\n", "\r\n")  # as 1C writes it
    body = json.dumps({"text": "Что в документе?", "files": [{"name": "скан.pdf",
                                                              "data": data}]}).encode()
    rows = []
    with tempfile.TemporaryDirectory() as folder, BridgeProcess(Path(folder)) as bridge:
        idle = bridge.status("VmHWM") / 1024
        started = time.perf_counter()
        answer = requests.post(f"http://127.0.0.1:{bridge.port}/analyze/text", data=body,
                               timeout=300, headers={"Content-Type": "application/json"}).json()
        took = time.perf_counter() - started
        assert answer["success"] is True, answer
        peak = bridge.status("VmHWM") / 1024
        rows.append([f"{len(body) / 2**20:.1f} MB body (30 MB PDF)", f"{idle:.0f}",
                     f"{peak:.0f}", f"{peak - idle:.0f}", f"{took * 1000:.0f}"])
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    repeat = 3 if args.quick else 20
    emu = Emulator().start()
    services = {}
    try:
        for scope in ("PERS", "B2B"):
            settings = Settings(port=0, auth_url=emu.oauth_url, api_url=emu.api_url,
                                scope=f"GIGACHAT_API_{scope}")
            services[scope] = Service(settings, credentials=CredentialStore(
                environ={"GIGACHAT_CREDENTIALS": DEMO_KEY})).start()
        faults = fault_rows(emu, services["PERS"].url, repeat)
        timing = timing_rows(emu, {k: v.url for k, v in services.items()},
                             3 if args.quick else 10)
        memory = memory_rows()
    finally:
        for service in services.values():
            service.stop()
        emu.stop()
    now = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    report = "\n".join([
        f"## Typed fields (/analyze/extract)\n\n- date: {now}\n- python: "
        f"{platform.python_version()}, cores: {os.cpu_count()}, load: "
        f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}\n",
        table(f"Success over the emulator's fault modes ({repeat} requests each, contract with 6 "
              "fields incl. an enumeration and a 2-row table)",
              ["fault", "bridge: valid typed data", "extra calls per request",
               "json.loads + schema, no repair"], faults,
              ["valid typed data = the answer's data equals the expected values exactly "
               "(numbers as numbers, ISO dates, the enumeration's value, table rows)",
               "«json_invalid twice» must fail: the bridge then answers success=false with raw",
               "the naive column reads the same emulator answer with json.loads and validates it "
               "against the same schema (no code fences, no Russian numbers, no repair)"]),
        table("Time per request by field count (number fields; p50 ms, calls in brackets)",
              ["fields", "split, no model latency", f"split, {LATENCY * 1000:.0f} ms per call",
               f"split, parallel (B2B), {LATENCY * 1000:.0f} ms per call",
               f"one call for all fields, {LATENCY * 1000:.0f} ms per call"], timing,
              ["split: at most 12 properties per call (GigaChat degrades past about a dozen, "
               "facts doc); the calls share one X-Session-ID and identical messages, so GigaChat "
               "can serve the repeated prefix from its cache",
               "PERS accounts get one call at a time (the parts queue); B2B/CORP accounts ask "
               "the parts at once",
               "«no model latency» is the bridge's own cost: lenient parse, coercion, "
               "jsonschema validation, HTTP",
               "the emulator does not degrade on large schemas, so «one call» always succeeds "
               "here: the table shows what the split costs in time, not what it saves in errors"]),
        table("Memory of one request with a large file (a bridge process, MB)",
              ["request", "peak RSS before", "peak RSS after", "growth", "time, ms"], memory,
              ["the body is read in bounded pieces into memory only (nothing on disk); the "
               "growth holds the body, its parsed JSON, the decoded file and the multipart "
               "upload, plus the emulator's stored copy in this demo process",
               "a 40 MB document (GigaChat's limit) is 53 MB of base64: raise max_files_body_bytes "
               "to send one"]),
    ])
    print(report)
    if not args.quick:
        RESULTS.mkdir(exist_ok=True)
        (RESULTS / "extract.md").write_text(report, encoding="utf-8")
        data = {"faults": faults, "timing": timing, "memory_mb": memory, "date": now,
                "repeat": repeat}
        (RESULTS / "extract.json").write_text(json.dumps(data, ensure_ascii=False, indent=1),
                                              "utf-8")
        print(f"saved: {RESULTS / 'extract.md'}, {RESULTS / 'extract.json'}")


if __name__ == "__main__":
    main()
