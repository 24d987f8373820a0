"""Personal-data masking: quality on the generated corpus, latency on 10 KB, memory of the name model.

    .venv/bin/python bench/masking.py            # full run (about a minute)
    .venv/bin/python bench/masking.py --quick    # fewer repetitions, results not saved

Compared with a plain regex-only masker (numbers by length, no checksums, no names): the
usual first attempt. Tables are printed as Markdown and saved to bench/results/masking.{md,json}.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from harness import table  # noqa: E402

from gigachat.local.masking import RULE_KINDS, Masker, detect, preload_names  # noqa: E402
from tests import masking_corpus as corpus  # noqa: E402
from tests import masking_handwritten  # noqa: E402

RESULTS = ROOT / "bench" / "results"
KIND_ORDER = ("ИНН", "СНИЛС", "ОГРН", "ОГРНИП", "КАРТА", "СЧЕТ", "ПАСПОРТ", "ТЕЛЕФОН", "ПОЧТА", "ФИО")


# --------------------------------------------------------------------------- the baseline


@dataclass
class Span:
    kind: str
    start: int
    end: int


_BASELINE = [  # what a regex-only masker does: lengths and shapes, no check digits
    ("ПОЧТА", re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)*\.\w{2,}")),
    ("ТЕЛЕФОН", re.compile(r"(?:\+7|8)[ -]?\(?\d{3}\)?[ -]?\d{3}[ -]?\d{2}[ -]?\d{2}(?!\d)")),
    ("СНИЛС", re.compile(r"\b\d{3}-\d{3}-\d{3}[ -]\d{2}\b")),
    ("КАРТА", re.compile(r"\b\d{4}([ -]?)\d{4}\1\d{4}\1\d{4}\b")),
    ("ПАСПОРТ", re.compile(r"\b\d{2} ?\d{2} (?:№ )?\d{6}\b")),
    ("СЧЕТ", re.compile(r"\b\d{20}\b")),
    ("ОГРНИП", re.compile(r"\b\d{15}\b")),
    ("ОГРН", re.compile(r"\b\d{13}\b")),
    ("ИНН", re.compile(r"\b(?:\d{12}|\d{10})\b")),
    ("СНИЛС", re.compile(r"\b\d{11}\b")),
]


def baseline_detect(text: str) -> list[Span]:
    spans: list[Span] = []
    for kind, pattern in _BASELINE:
        for m in pattern.finditer(text):
            if not any(s.start < m.end() and m.start() < s.end for s in spans):
                spans.append(Span(kind, m.start(), m.end()))
    return sorted(spans, key=lambda s: s.start)


def baseline_mask(text: str) -> str:
    out, pos = [], 0
    for i, span in enumerate(baseline_detect(text), 1):
        out += [text[pos : span.start], f"[{span.kind}_{i}]"]
        pos = span.end
    return "".join(out) + text[pos:]


# --------------------------------------------------------------------------- measurements


def quality(samples) -> tuple[list[list], dict]:
    ours = corpus.score(samples, lambda t: detect(t, set(RULE_KINDS), True))
    base = corpus.score(samples, baseline_detect)
    rows = []
    for kind in KIND_ORDER:
        expected = ours.tp.get(kind, 0) + ours.fn.get(kind, 0)
        rows.append([kind, expected, f"{ours.precision(kind):.3f}", f"{ours.recall(kind):.3f}",
                     ours.fp.get(kind, 0), ours.fn.get(kind, 0),
                     "—" if kind == "ФИО" else f"{base.precision(kind):.3f}",
                     "—" if kind == "ФИО" else f"{base.recall(kind):.3f}"])  # fmt: skip
    held = corpus.score(masking_handwritten.build(), lambda t: detect(t, set(RULE_KINDS), True))
    rows.append(["ФИО, hand-written held-out set", held.tp.get("ФИО", 0) + held.fn.get("ФИО", 0),
                 f"{held.precision('ФИО'):.3f}", f"{held.recall('ФИО'):.3f}", held.fp.get("ФИО", 0),
                 held.fn.get("ФИО", 0), "—", "—"])  # fmt: skip
    survivors = {
        "sentences": len(samples),
        "bad_checksum_masked": [ours.bad_masked, base.bad_masked, ours.bad_total],
        "survivors_masked": [ours.keep_masked, base.keep_masked, ours.keep_total],
        "names_partial": ours.names_partial,
        "names_found": ours.tp.get("ФИО", 0),
        "held_out_sentences": len(masking_handwritten.SENTENCES),
        "held_out_survivors_masked": [held.keep_masked, held.keep_total],
    }
    return rows, survivors


def ten_kb_text(samples) -> str:
    text, i = "", 0
    while len(text.encode()) < 10 * 1024:
        text += samples[i % len(samples)].text + " "
        i += 1
    return text[: len(text)]


def timed(fn, repeat: int) -> tuple[float, float]:
    """(median, p95) wall time of fn() in ms."""
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1000)
    times.sort()
    return statistics.median(times), times[min(len(times) - 1, int(len(times) * 0.95))]


def latency(text: str, repeat: int) -> list[list]:
    preload_names()
    masker = Masker()
    sent = masker.mask(text)

    def stream_restore():
        stream = masker.restore_stream()
        for i in range(0, len(sent), 40):
            stream.feed(sent[i : i + 40])
        stream.finish()

    rows = [
        ["regex-only baseline (no checksums, no names)", *timed(lambda: baseline_mask(text), repeat)],
        ["ours, numbers/phones/e-mail (names off)", *timed(lambda: Masker(names=False).mask(text), repeat)],
        ["ours, with names (model loaded)", *timed(lambda: Masker().mask(text), repeat)],
        ["ours, restore the masked 10 KB", *timed(lambda: masker.restore(sent), repeat)],
        ["ours, stream restore, 40-char chunks", *timed(stream_restore, repeat)],
    ]
    return [[name, f"{p50:.2f}", f"{p95:.2f}"] for name, p50, p95 in rows]


_RSS_CHILD = """
import sys, time
sys.path.insert(0, {root!r})
def rss(field):
    for line in open('/proc/self/status'):
        if line.startswith(field + ':'):
            return int(line.split()[1]) / 1024
stage = {stage!r}
text = open({text_file!r}, encoding='utf-8').read()
t0 = time.perf_counter()
if stage != 'python':
    from gigachat.local.masking import Masker
    Masker(names=(stage == 'names')).mask(text)
print(round(rss('VmRSS'), 1), round(rss('VmHWM'), 1), round((time.perf_counter() - t0) * 1000))
"""


def memory(text: str) -> list[list]:
    with tempfile.TemporaryDirectory() as folder:
        text_file = Path(folder) / "10kb.txt"
        text_file.write_text(text, encoding="utf-8")
        values = {}
        for stage in ("python", "rules", "names"):
            code = _RSS_CHILD.format(root=str(ROOT), stage=stage, text_file=str(text_file))
            out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
            rss, peak, ms = out.stdout.split()
            values[stage], values[stage + "_peak"], values[stage + "_ms"] = float(rss), peak, ms
    return [
        ["bare Python 3.11 interpreter", f"{values['python']:.1f}", "—", values["python_peak"], "—"],
        ["masking, names off (10 KB masked)", f"{values['rules']:.1f}",
         f"+{values['rules'] - values['python']:.1f}", values["rules_peak"], values["rules_ms"]],
        ["masking, names on (model loaded, 10 KB masked)", f"{values['names']:.1f}",
         f"+{values['names'] - values['python']:.1f}", values["names_peak"], values["names_ms"]],
    ]  # fmt: skip


# --------------------------------------------------------------------------- report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    samples = corpus.build()
    text = ten_kb_text(samples)
    q_rows, surv = quality(samples)
    l_rows = latency(text, 10 if args.quick else 60)
    m_rows = memory(text)
    bad, keep = surv["bad_checksum_masked"], surv["survivors_masked"]
    parts = [
        f"## Personal-data masking\n\n- date: {dt.datetime.now(dt.UTC).isoformat(timespec='seconds')}\n"
        f"- python: {platform.python_version()}, cores: {os.cpu_count()}, "
        f"load: {' '.join(f'{x:.2f}' for x in os.getloadavg())}\n",
        table(f"Detection on the generated corpus ({surv['sentences']} sentences, seed 17)",
              ["kind", "values", "precision", "recall", "FP", "FN", "regex-only precision",
               "regex-only recall"], q_rows,
              [f"numbers with a wrong checksum masked: ours {bad[0]} of {bad[2]}, regex-only {bad[1]}",
               f"amounts, dates, order numbers, КПП, БИК, organisations, cities masked: ours {keep[0]} of "
               f"{keep[2]}, regex-only {keep[1]}",
               f"names: a found name counts when it overlaps the expected one; {surv['names_partial']} of "
               f"{surv['names_found']} found names left a part unmasked",
               "the corpus comes from tests/masking_corpus.py (names in all six cases, five name styles); "
               f"the held-out set is {surv['held_out_sentences']} hand-written sentences "
               "(tests/masking_handwritten.py) never used to tune the rules; its survivors masked: "
               f"{surv['held_out_survivors_masked'][0]} of {surv['held_out_survivors_masked'][1]}"]),
        table(f"Latency on a 10 KB text ({len(text.encode())} bytes of UTF-8, {len(text)} characters), ms",
              ["what", "p50", "p95"], l_rows,
              ["one thread, warm (the name model already loaded); the load itself is paid once per "
               "process, on the first mask() with names on: see the memory table"]),
        table("Memory (RSS, MB) of a process that masked the 10 KB text",
              ["process", "RSS", "vs bare", "peak RSS", "import + first mask, ms"], m_rows,
              ["each row is a fresh process; natasha's navec embeddings + slovnet NER + "
               "pymorphy3 dictionaries make the difference"]),
    ]
    report = "\n".join(parts)
    print(report)
    if not args.quick:
        (RESULTS / "masking.md").write_text(report, encoding="utf-8")
        data = {"quality": q_rows, "survivors": surv, "latency_ms": l_rows, "rss_mb": m_rows,
                "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds")}  # fmt: skip
        (RESULTS / "masking.json").write_text(json.dumps(data, ensure_ascii=False, indent=1), "utf-8")
        print(f"saved: {RESULTS / 'masking.md'}, {RESULTS / 'masking.json'}")


if __name__ == "__main__":
    main()
