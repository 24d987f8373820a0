"""GigaChat Bridge benchmarks: the bridge, a direct call and the tutorial's server, side by side.

    bash bench/run.sh            # everything, prints the tables (about 6–7 minutes on 2 cores)
    bash bench/run.sh --quick    # shorter runs, for a smoke check (about 3 minutes)
    bash bench/run.sh --only overhead,faults

Results: printed as Markdown tables, and written to bench/results/latest.{md,json} (the committed
results). A --quick run writes to bench/results/quick/ instead (git-ignored), so a smoke check never
overwrites them; the last line printed says where the tables went.
Each section starts its own processes (GigaChat emulator, bridge, tutorial server) on loopback
ports and stops them afterwards. See docs/benchmarks.md for what each number is compared with.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import harness as h  # noqa: E402

RESULTS = h.BENCH / "results"
"""The committed results: written by full runs only."""


def results_dir(quick: bool) -> Path:
    """Where a run writes latest.{md,json}: quick runs go to a git-ignored subfolder."""
    return RESULTS / "quick" if quick else RESULTS


# --------------------------------------------------------------------------- report


@dataclass
class Table:
    title: str
    headers: list[str]
    rows: list[list[Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def markdown(self) -> str:
        lines = [f"### {self.title}", "", "| " + " | ".join(self.headers) + " |",
                 "|" + "|".join(" --- " for _ in self.headers) + "|"]
        lines += ["| " + " | ".join(fmt(cell) for cell in row) + " |" for row in self.rows]
        if self.notes:
            lines.append("")
            lines += [f"- {note}" for note in self.notes]
        return "\n".join(lines) + "\n"


def fmt(value: Any) -> str:
    if isinstance(value, float):
        if math.isnan(value):
            return "–"
        if abs(value) >= 100:
            return f"{value:.0f}"
        if abs(value) >= 10:
            return f"{value:.1f}"
        return f"{value:.2f}"
    return str(value)


def ratio(a: float, b: float) -> str:
    if not b or math.isnan(a) or math.isnan(b):
        return "–"
    return f"{a / b:.2f}×"


class Report:
    def __init__(self) -> None:
        self.tables: list[Table] = []
        self.data: dict[str, Any] = {}

    def add(self, table: Table) -> None:
        self.tables.append(table)
        print(table.markdown(), flush=True)


def say(text: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {text}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- context


class Context:
    def __init__(self, workdir: Path, quick: bool, report: Report):
        self.workdir = workdir
        self.quick = quick
        self.report = report
        self._certs: tuple[Path, Path, Path] | None = None
        self.procs: list[Any] = []

    def scale(self, full: float, quick: float) -> Any:
        return quick if self.quick else full

    def certs(self) -> tuple[Path, Path, Path]:
        """A throwaway CA and an RSA-2048 server certificate for 127.0.0.1 (GigaChat's leaf is RSA)."""
        if self._certs is None:
            import trustme

            ca = trustme.CA(organization_name="GigaChat bench CA", key_type=trustme.KeyType.RSA)
            cert = ca.issue_cert("127.0.0.1", "localhost", key_type=trustme.KeyType.RSA)
            folder = self.workdir / "tls"
            folder.mkdir(exist_ok=True)
            files = (folder / "ca.pem", folder / "server.pem", folder / "server.key")
            ca.cert_pem.write_to_path(str(files[0]))
            cert.cert_chain_pems[0].write_to_path(str(files[1]))
            for extra in cert.cert_chain_pems[1:]:
                extra.write_to_path(str(files[1]), append=True)
            cert.private_key_pem.write_to_path(str(files[2]))
            self._certs = files
        return self._certs

    def track(self, proc: Any) -> Any:
        self.procs.append(proc)
        return proc

    def stop_all(self) -> None:
        while self.procs:
            proc = self.procs.pop()
            try:
                proc.stop()
            except Exception as exc:  # keep stopping the rest
                say(f"could not stop {getattr(proc, 'name', proc)}: {exc}")

    def emulator(self, name: str = "emulator", tls: bool = False, **kw: Any) -> h.EmulatorProc:
        return self.track(h.EmulatorProc(self.workdir, name, self.certs() if tls else None, **kw))

    def bridge(self, name: str, emu: h.EmulatorProc, **kw: Any) -> h.Bridge:
        return self.track(h.Bridge(self.workdir, name, emu.oauth_url, emu.api_url,
                                   ca_file=emu.ca_file, **kw))

    def tutorial(self, name: str, emu: h.EmulatorProc, scope: str) -> h.Tutorial:
        return self.track(h.Tutorial(self.workdir, name, emu.oauth_url, emu.api_url, scope=scope))


# --------------------------------------------------------------------------- 1. overhead


def section_overhead(ctx: Context) -> None:
    rounds = ctx.scale(3, 1)
    per_one = ctx.scale(150, 60)
    per_sixteen = ctx.scale(15, 6)
    rows = []
    data: dict[str, Any] = {}
    for transport in ("http", "tls"):
        emu = ctx.emulator(f"emu-{transport}", tls=transport == "tls")
        say(f"overhead over {transport}: starting bridge and tutorial server")
        bridge = ctx.bridge(f"bridge-{transport}", emu, scope=h.B2B, max_concurrency=16)
        tut = ctx.tutorial(f"tutorial-{transport}", emu, scope=h.B2B)
        targets = {
            "direct": h.direct_target("direct", emu, emu.token(h.B2B)),
            "bridge": h.analyze_target("bridge", bridge.url),
            "tutorial": h.analyze_target("tutorial", tut.url),
        }
        for target in targets.values():  # warm-up: imports, connection pools, first token
            h.run_load(target, 16, per_client=3)
        for clients in (1, 16):
            samples: dict[str, list[h.Sample]] = {name: [] for name in targets}
            for _ in range(rounds):  # interleaved, so drift hits every target alike
                for name, target in targets.items():
                    per = per_one if clients == 1 else per_sixteen
                    samples[name] += h.run_load(target, clients, per_client=per)
            stats = {name: h.summary(s) for name, s in samples.items()}
            data[f"{transport}/{clients}"] = stats
            d, b, t = stats["direct"], stats["bridge"], stats["tutorial"]
            rows.append([transport.upper(), clients,
                         f"{d['p50_ms']:.2f} / {d['p99_ms']:.1f}",
                         f"{b['p50_ms']:.2f} / {b['p99_ms']:.1f}",
                         f"{t['p50_ms']:.2f} / {t['p99_ms']:.1f}",
                         f"{b['p50_ms'] - d['p50_ms']:+.2f}",
                         ratio(b["p50_ms"], t["p50_ms"]), ratio(b["p99_ms"], t["p99_ms"]),
                         f"{b['errors']}/{t['errors']}"])
        bridge.stop()
        tut.stop()
        emu.stop()
    ctx.report.add(Table(
        "1. Overhead of /analyze/text: p50 / p99, ms (emulator latency 0)",
        ["upstream", "clients", "direct to emulator", "bridge", "tutorial server",
         "bridge − direct (p50)", "bridge / tutorial p50", "bridge / tutorial p99", "errors b/t"],
        rows,
        [f"{rounds} interleaved rounds per cell; {per_one} calls per round with 1 client, "
         f"{per_sixteen} per client per round with 16 clients; all three sides in the same run.",
         "Clients keep their connection to the local endpoint open (1C's HTTPСоединение reused); "
         "the direct call is a keep-alive POST /chat/completions with a ready token — the floor.",
         "Bridge: tray_app.py --headless, scope B2B, GIGACHAT_MAX_CONCURRENCY=16 (no queueing). "
         "Tutorial: its api_server.py under uvicorn, requests.post(verify=False) per call.",
         "TLS: emulator with an RSA-2048 certificate of a throwaway CA; the bridge verifies it "
         "(GIGACHAT_CA_BUNDLE), the tutorial does not (verify=False)."]))
    ctx.report.data["overhead"] = data


def _somaxconn() -> str:
    try:
        return Path("/proc/sys/net/core/somaxconn").read_text().strip()
    except OSError:
        return "?"


def section_fresh_connections(ctx: Context) -> None:
    """1C's form opens a new HTTPСоединение per call: many users at once = a burst of connects."""
    emu = ctx.emulator("emu-burst")
    bridge = ctx.bridge("bridge-burst", emu, scope=h.B2B, max_concurrency=16)
    tut = ctx.tutorial("tutorial-burst", emu, scope=h.B2B)
    rows = []
    data = {}
    rounds = ctx.scale(5, 2)
    for name, url in (("bridge", bridge.url), ("tutorial", tut.url)):
        target = h.analyze_target(name, url)
        h.run_load(target, 2, per_client=5)
        samples: list[h.Sample] = []
        for _ in range(rounds):
            samples += h.run_load(target, 32, per_client=1, fresh=True, timeout=30)
        s = h.summary(samples)
        slow = sum(1 for x in samples if x.latency > 0.9)
        kinds = Counter(x.error.split(":")[0] for x in samples if not x.ok)
        data[name] = {**s, "over_900ms": slow, "error_kinds": dict(kinds)}
        kinds_text = ", ".join(f"{k} ×{v}" for k, v in kinds.items()) or "–"
        rows.append([name, s["requests"], s["errors"], kinds_text, slow, s["p50_ms"], s["p99_ms"]])
    bridge.stop()
    tut.stop()
    emu.stop()
    ctx.report.add(Table(
        "1b. Burst of new connections: 32 callers connect at the same moment, one call each",
        ["server", "requests", "errors", "error kinds", "answers > 0.9 s", "p50, ms", "p99, ms"],
        rows,
        [f"{rounds} bursts. This is what 32 1C sessions pressing the button together do: the "
         "tutorial's form creates a new HTTPСоединение per call.",
         f"The bridge listens with a backlog of socket.SOMAXCONN ({socket.SOMAXCONN}; the kernel caps it "
         f"at net.core.somaxconn = {_somaxconn()}), uvicorn with 2048. Before the fix the bridge had "
         "cheroot's default of 5: connections beyond it waited for a SYN retransmit (1 s) or were reset."]))
    ctx.report.data["fresh_connections"] = data


# --------------------------------------------------------------------------- 2. handshakes


def section_handshakes(ctx: Context) -> None:
    emu = ctx.emulator("emu-hs", tls=True)
    rows = []
    data = {}
    tut = ctx.tutorial("tutorial-hs", emu, scope=h.B2B)
    for label, clients, per in (("1 client × 100", 1, 100), ("16 clients × 100 in all", 16, 7)):
        emu.reset()
        before = time.monotonic()
        bridge = ctx.bridge(f"bridge-hs-{clients}", emu, scope=h.B2B)  # cold: counts its OAuth too
        start_s = time.monotonic() - before
        samples = h.run_load(h.analyze_target("bridge", bridge.url), clients, per_client=per)
        st = emu.stats()
        n = len(samples)
        rows.append([label, "bridge (cold start, incl. OAuth)", n, st["tls_handshakes"],
                     f"{st['tls_handshakes'] * 100 / n:.1f}", st["oauth_requests"],
                     sum(not s.ok for s in samples)])
        data[f"bridge/{clients}"] = {"requests": n, **{k: st[k] for k in ("tls_handshakes", "connections",
                                                                          "oauth_requests")},
                                     "start_s": start_s}
        emu.reset()
        samples = h.run_load(h.analyze_target("bridge", bridge.url), clients, per_client=per)
        st = emu.stats()
        rows.append([label, "bridge (warm)", len(samples), st["tls_handshakes"],
                     f"{st['tls_handshakes'] * 100 / len(samples):.1f}", st["oauth_requests"],
                     sum(not s.ok for s in samples)])
        bridge.stop()
        emu.reset()
        samples = h.run_load(h.analyze_target("tutorial", tut.url), clients, per_client=per)
        st = emu.stats()
        rows.append([label, "tutorial server", len(samples), st["tls_handshakes"],
                     f"{st['tls_handshakes'] * 100 / len(samples):.1f}", st["oauth_requests"],
                     sum(not s.ok for s in samples)])
        data[f"tutorial/{clients}"] = {"requests": len(samples), "tls_handshakes": st["tls_handshakes"]}
    tut.stop()
    emu.stop()
    ctx.report.add(Table(
        "2. TLS handshakes with GigaChat (emulator's count)",
        ["load", "side", "requests", "TLS handshakes", "per 100 requests", "OAuth calls", "errors"],
        rows,
        ["The bridge keeps one keep-alive pool (up to max(concurrency, 4) connections) for OAuth and "
         "API; the tutorial's requests.post opens a new connection, and so a new TLS handshake, per call.",
         "On loopback a handshake costs CPU only; over the Internet each new connection also costs "
         "2–3 round trips (TCP + TLS) before the request can leave."]))
    ctx.report.data["handshakes"] = data


# --------------------------------------------------------------------------- 3. throughput


class HealthSampler:
    """Polls /health during a run: max queue length and how long /health took to answer."""

    def __init__(self, url: str, period: float = 0.2):
        self.url = url
        self.period = period
        self.max_queue = 0
        self.max_answer_s = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> HealthSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(60)

    def _run(self) -> None:
        while not self._stop.wait(self.period):
            start = time.monotonic()
            try:
                status, body = h.http_json("GET", self.url + "/health", timeout=60)
            except OSError:
                continue
            self.max_answer_s = max(self.max_answer_s, time.monotonic() - start)
            if status == 200 and isinstance(body, dict):
                self.max_queue = max(self.max_queue, int(body.get("queue_length") or 0))


def section_throughput(ctx: Context) -> None:
    latency = 0.2
    emu = ctx.emulator("emu-tp")
    emu.configure(latency=latency)
    rows = []
    data: dict[str, Any] = {}
    for scope in (h.B2B, h.PERS):
        short = scope.rsplit("_", 1)[1]
        bridge = ctx.bridge(f"bridge-tp-{short}", emu, scope=scope)
        tut = ctx.tutorial(f"tutorial-tp-{short}", emu, scope=scope)
        for clients in (1, 4, 16, 64):
            if scope == h.PERS:  # 5 calls/s at most: one wave of 64 takes 12.8 s
                per = max(1, ctx.scale(20, 10) // clients)
            else:
                per = max(ctx.scale(4, 2), ctx.scale(30, 10) // clients)
            for name, server in (("bridge", bridge), ("tutorial", tut)):
                emu.reset()
                emu.configure(latency=latency)
                target = h.analyze_target(name, server.url)
                sampler = HealthSampler(server.url) if name == "bridge" else None
                if sampler:
                    with sampler:
                        samples = h.run_load(target, clients, per_client=per)
                else:
                    samples = h.run_load(target, clients, per_client=per)
                s = h.summary(samples)
                ok_lat = [x.latency for x in samples if x.ok]
                mean_ok = sum(ok_lat) / len(ok_lat) if ok_lat else float("nan")
                # time beyond one upstream call: queueing (bridge gate or server threads) + overhead
                wait = (mean_ok - latency) * 1000
                st = emu.stats()
                rejected = st["rejected_concurrency"]
                kinds = Counter(x.error[:60] for x in samples if not x.ok)
                data[f"{short}/{clients}/{name}"] = {**s, "wait_ms": wait, "rejected_429": rejected,
                                                     "max_queue": sampler.max_queue if sampler else None,
                                                     "errors_seen": dict(kinds)}
                rows.append([short, clients, name, s["requests"], s["rps"], s["errors"],
                             rejected, s["p50_ms"], s["p99_ms"], wait,
                             sampler.max_queue if sampler else "–",
                             f"{sampler.max_answer_s * 1000:.0f}" if sampler else "–"])
        bridge.stop()
        tut.stop()
    emu.stop()
    ctx.report.add(Table(
        f"3. Throughput with {latency * 1000:.0f} ms of GigaChat latency",
        ["scope", "clients", "server", "requests", "good answers/s", "errors", "429 from GigaChat",
         "p50, ms", "p99, ms", "mean wait beyond upstream, ms", "max queue (/health)",
         "slowest /health, ms"],
        rows,
        ["Bridge defaults: 10 parallel GigaChat calls for B2B/CORP, 1 for PERS (GigaChat's limits); "
         "extra callers wait in the bridge's FIFO queue. The tutorial forwards every call at once "
         "(uvicorn's thread pool: 40).",
         "The emulator enforces GigaChat's PERS rule (a second parallel call gets 429) but not the "
         "B2B limit of 10 streams, so the tutorial's B2B numbers above 10 clients are better than "
         "real GigaChat would allow.",
         "Mean wait = mean latency of successful calls − emulator latency (queue + overhead)."]))
    ctx.report.data["throughput"] = data


# --------------------------------------------------------------------------- 4. footprint


def section_footprint(ctx: Context) -> None:
    emu = ctx.emulator("emu-fp")
    rows = []
    data: dict[str, Any] = {}
    # start-up
    runs = ctx.scale(5, 2)
    starts: dict[str, list[tuple[float, float]]] = {"bridge": [], "tutorial": []}
    for i in range(runs):
        bridge = h.Bridge(ctx.workdir, f"bridge-start-{i}", emu.oauth_url, emu.api_url, wait_healthy=False)
        first = h.wait_until(bridge.health, 30)
        answered = time.monotonic() - bridge.started
        healthy = bridge.wait_healthy() if first.get("status") != "ok" else answered
        starts["bridge"].append((answered, healthy))
        bridge.stop()
        tut = h.Tutorial(ctx.workdir, f"tutorial-start-{i}", emu.oauth_url, emu.api_url, scope=h.B2B)
        assert tut.server is not None
        tut_answer = h.wait_until(tut.health, 30)
        elapsed = time.monotonic() - tut.server.started
        starts["tutorial"].append((elapsed, elapsed if tut_answer.get("status") == "ok" else float("nan")))
        tut.stop()
    for name, values in starts.items():
        rows.append([f"start-up → /health answers ({name})",
                     h.median([v[0] for v in values]) * 1000, "ms", f"median of {runs}"])
        rows.append([f"start-up → /health \"ok\" ({name})",
                     h.median([v[1] for v in values]) * 1000, "ms",
                     "incl. first OAuth token" if name == "bridge" else "token file from update_token.sh"])
    data["startup"] = starts
    # idle RSS, then RSS and CPU over N requests
    total = ctx.scale(10_000, 2_000)
    for name in ("bridge", "tutorial"):
        if name == "bridge":
            server: Any = ctx.bridge("bridge-fp", emu, scope=h.B2B, max_concurrency=16)
            proc = server
        else:
            server = ctx.tutorial("tutorial-fp", emu, scope=h.B2B)
            proc = server.server
        time.sleep(2.0)  # let start-up settle before the idle reading
        idle = proc.rss_kb
        target = h.analyze_target(name, server.url)
        marks: list[tuple[int, int]] = []
        done = [0]
        lock = threading.Lock()

        def count(_sample: h.Sample, proc: Any = proc, lock: threading.Lock = lock,
                  done: list[int] = done, marks: list[tuple[int, int]] = marks) -> None:
            with lock:
                done[0] += 1
                if done[0] % (total // 10) == 0:
                    marks.append((done[0], proc.rss_kb))

        cpu0, t0 = proc.cpu, time.monotonic()
        samples = h.run_load(target, 16, per_client=total // 16, on_sample=count)
        wall = time.monotonic() - t0
        cpu = proc.cpu - cpu0
        s = h.summary(samples)
        after = proc.rss_kb
        first_mark = marks[0][1] if marks else idle
        data[name] = {"idle_rss_kb": idle, "rss_marks": marks, "after_rss_kb": after,
                      "cpu_s": cpu, "requests": len(samples), "errors": s["errors"], "wall_s": wall,
                      "peak_rss_kb": h.read_proc_status(proc.pid, "VmHWM")}
        rows.append([f"idle RSS, {'tray_app.py --headless' if name == 'bridge' else 'uvicorn api_server'}",
                     idle / 1024, "MiB", "2 s after /health ok"])
        rows.append([f"RSS after {len(samples):,} requests ({name})", after / 1024, "MiB",
                     f"after first {total // 10:,}: {first_mark / 1024:.1f} MiB → growth "
                     f"{(after - first_mark) / 1024:+.1f} MiB; errors {s['errors']}"])
        rows.append([f"CPU per request ({name} process)", cpu / max(len(samples), 1) * 1000, "ms",
                     f"{len(samples) / wall:.0f} req/s with 16 clients"])
        server.stop()
    # tray
    tray = _tray_rss(ctx, emu)
    data["tray"] = tray
    if tray.get("rss_kb"):
        rows.append(["idle RSS, tray mode (tray_app.py with its icon)", tray["rss_kb"] / 1024, "MiB",
                     tray["note"]])
    else:
        rows.append(["idle RSS, tray mode", "–", "", tray["note"]])
    emu.stop()
    ctx.report.add(Table("4. Footprint", ["what", "value", "unit", "note"], rows,
                         ["RSS read from /proc/PID/status (VmRSS) of the server process.",
                          "The tutorial's footprint excludes its cron job; the bridge needs none."]))
    ctx.report.data["footprint"] = data


def _tray_rss(ctx: Context, emu: h.EmulatorProc) -> dict[str, Any]:
    """RSS of tray mode: tray_app.py without --headless, its icon docked in trayer on Xvfb."""
    if not (h.ROOT / "gigachat" / "desktop" / "tray.py").exists():
        return {"note": "gigachat/desktop/tray.py not present at the time of the run: tray mode not measured"}
    missing = [tool for tool in ("Xvfb", "trayer", "xdotool") if not shutil.which(tool)]
    if missing:
        return {"note": f"not measured: {', '.join(missing)} missing (scripts/setup.sh --dev installs them)"}
    read, write = os.pipe()
    screen = subprocess.Popen(["Xvfb", "-displayfd", str(write), "-screen", "0", "1024x768x24",
                               "-nolisten", "tcp"], pass_fds=(write,),
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    os.close(write)
    with os.fdopen(read) as pipe:
        display = ":" + pipe.readline().strip()
    env = {**os.environ, "DISPLAY": display}
    host = subprocess.Popen(["trayer", "--edge", "top", "--align", "right", "--widthtype", "request",
                             "--height", "32", "--SetDockType", "true"], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    bridge = None
    try:
        h.wait_until(lambda: _tray_owner(display), 20, 0.1)
        bridge = h.Bridge(ctx.workdir, "bridge-tray", emu.oauth_url, emu.api_url, args=(),
                          extra_env={"DISPLAY": display, "PYSTRAY_BACKEND": "xorg"})
        h.wait_until(lambda: subprocess.run(
            ["xdotool", "search", "--classname", "^GigaChatBridgeSystemTrayIcon$"], env=env,
            capture_output=True, text=True, timeout=10).stdout.strip(), 20, 0.2)
        time.sleep(3.0)
        rss = bridge.rss_kb
        if "Failed to dock" in bridge.output() or "Значок в трее недоступен" in bridge.output():
            return {"note": "the icon did not dock in trayer: not measured", "rss_kb": 0}
        return {"rss_kb": rss, "note": "3 s after the icon docked in trayer (Xvfb), /health ok"}
    except Exception as exc:
        return {"note": f"tray mode not measured: {type(exc).__name__}: {exc}"}
    finally:
        if bridge is not None:
            bridge.stop()
        for process in (host, screen):
            process.terminate()
            process.wait(10)


def _tray_owner(display: str) -> int:
    from Xlib import display as xdisplay

    connection = xdisplay.Display(display)
    try:
        atom = connection.intern_atom(f"_NET_SYSTEM_TRAY_S{connection.get_default_screen()}")
        return connection.get_selection_owner(atom).id
    finally:
        connection.close()


# --------------------------------------------------------------------------- 5. token rotation


def section_rotation(ctx: Context) -> None:
    lifetime = 5.0
    duration = ctx.scale(60.0, 15.0)
    clients = 20
    latency = 0.1
    emu = ctx.emulator("emu-rot", token_lifetime=lifetime)
    emu.configure(latency=latency)
    rows = []
    data: dict[str, Any] = {}

    def measure(name: str, url: str, seconds: float) -> dict[str, Any]:
        emu.reset()
        emu.configure(latency=latency)
        samples = h.run_load(h.analyze_target(name, url), clients, duration=seconds)
        st = emu.stats()
        failures = Counter(x.error[:70] for x in samples if not x.ok)
        return {"requests": len(samples), "failed": sum(not x.ok for x in samples),
                "oauth": st["oauth_requests"], "api_401": st["responses"].get("401", 0),
                "seconds": seconds, "failures": dict(failures)}

    say("rotation: bridge with refresh_margin 1 s")
    bridge = ctx.bridge("bridge-rot", emu, scope=h.B2B, settings_file={"refresh_margin": 1.0})
    r = measure("bridge", bridge.url, duration)
    bridge.stop()
    data["bridge"] = r
    rows.append(["bridge, refresh_margin = 1 s (settings.json)", r["seconds"], r["requests"], r["failed"],
                 r["oauth"], f"{r['seconds'] / lifetime:.0f}", r["api_401"], _kinds(r)])

    say("rotation: bridge with default settings")
    short = ctx.scale(15.0, 8.0)
    bridge = ctx.bridge("bridge-rot-default", emu, scope=h.B2B, wait_healthy=False)
    r = measure("bridge", bridge.url, short)
    bridge.stop()
    data["bridge_default"] = r
    rows.append(["bridge, default settings (refresh_margin = 300 s)", r["seconds"], r["requests"],
                 r["failed"], r["oauth"], f"{r['seconds'] / lifetime:.0f}", r["api_401"], _kinds(r)])

    say("rotation: tutorial with its cron script")
    tut = ctx.tutorial("tutorial-rot", emu, scope=h.B2B)
    period = lifetime * 20 / 30  # cron every 20 min for a 30-min token, scaled
    tut.start_cron(period)
    tut_seconds = ctx.scale(30.0, 10.0)
    r = measure("tutorial", tut.url, tut_seconds)
    tut.stop_cron()
    data["tutorial_cron"] = r
    rows.append([f"tutorial + cron every {period:.2f} s (20 of 30 min, scaled)", r["seconds"], r["requests"],
                 r["failed"], r["oauth"], f"{r['seconds'] / lifetime:.0f}", r["api_401"], _kinds(r)])

    say("rotation: tutorial without cron")
    tut.update_token()
    r = measure("tutorial", tut.url, ctx.scale(12.0, 8.0))
    data["tutorial_nocron"] = r
    rows.append(["tutorial, cron not running (e.g. Windows, no crontab)", r["seconds"], r["requests"],
                 r["failed"], r["oauth"], f"{r['seconds'] / lifetime:.0f}", r["api_401"], _kinds(r)])
    tut.stop()
    emu.stop()
    ctx.report.add(Table(
        f"5. Token rotation under load: token lifetime {lifetime:.0f} s, {clients} clients, "
        f"emulator latency {latency * 1000:.0f} ms, scope B2B",
        ["side", "seconds", "requests", "failed", "OAuth calls", "token lifetimes in the run",
         "401 from GigaChat", "failure messages"],
        rows,
        ["OAuth calls counted by the emulator. The bridge refreshes a token min(refresh_margin, lifetime/3) "
         "before expiry, at most once a second, and treats it as usable until min(margin/2, 60 s) before "
         f"expiry: with the default 300 s margin and this {lifetime:.0f} s token that is "
         f"{lifetime / 3:.1f} s and {lifetime / 6:.1f} s. Real tokens live 30 min, where the 300 s "
         "margin applies in full.",
         "The tutorial's OAuth count is its cron runs; the 'no cron' row starts with one fresh token."]))
    ctx.report.data["rotation"] = data


def _kinds(r: dict[str, Any]) -> str:
    return "; ".join(f"{k} ×{v}" for k, v in r["failures"].items()) or "–"


# --------------------------------------------------------------------------- 6. fault drills


def section_faults(ctx: Context) -> None:
    emu = ctx.emulator("emu-faults")
    rows = []
    data: dict[str, Any] = {}
    # a) random faults
    bridge = ctx.bridge("bridge-faults", emu, scope=h.B2B)
    tut = ctx.tutorial("tutorial-faults", emu, scope=h.B2B)
    per = ctx.scale(40, 15)
    for name, url in (("bridge", bridge.url), ("tutorial", tut.url)):
        emu.reset()
        emu.configure(fail_rate=0.1)
        samples = h.run_load(h.analyze_target(name, url), 16, per_client=per)
        st = emu.stats()
        s = h.summary(samples)
        data[f"random/{name}"] = {**s, "faults_fired": st["faults_fired"], "dropped": st["dropped"]}
        rows.append(["10% random faults (429/500/503/drop)", name, s["requests"],
                     f"{100 * s['ok'] / s['requests']:.1f}%", s["p50_ms"], s["p99_ms"],
                     f"faults fired: {st['faults_fired']}"])
    emu.reset()
    bridge.stop()
    tut.stop()
    ctx.report.add(Table("6a. Random GigaChat faults, 16 clients",
                         ["drill", "server", "requests", "success", "p50, ms", "p99, ms", "note"], rows,
                         ["The bridge retries 429/5xx/dropped connections with exponential backoff "
                          "(0.5 s·2ⁿ with jitter, numeric Retry-After honoured) inside the request's "
                          "deadline; the tutorial passes every failure to 1C."]))
    # b) SIGKILL and restart
    rows = []
    repeats = ctx.scale(3, 2)
    for name in ("bridge", "tutorial"):
        results = [_kill_drill(ctx, emu, name, i) for i in range(repeats)]
        data[f"kill/{name}"] = results
        rows.append([name, repeats, h.median([r["restart_to_healthy_s"] for r in results]) * 1000,
                     h.median([r["kill_to_first_ok_s"] for r in results]) * 1000,
                     sum(r["failed"] for r in results), sum(r["failed_after_healthy"] for r in results),
                     "; ".join(sorted({k for r in results for k in r["error_kinds"]})) or "–"])
    ctx.report.add(Table(
        "6b. Killed with SIGKILL under load (8 clients) and restarted at once on the same port",
        ["server", "runs", "restart → /health ok, ms (median)", "kill → first good answer, ms (median)",
         "failed calls (all runs)", "failed after /health ok", "what callers saw"], rows,
        ["Calls in flight or sent while the process is down fail at the caller (connection refused "
         "or reset): no server can answer them. 'failed after /health ok' must be 0.",
         "Each client waits 50 ms after a failed call before the next one."]))
    # c) GigaChat unreachable
    _unreachable_drill(ctx, emu, data)
    emu.stop()
    ctx.report.data["faults"] = data


def _kill_drill(ctx: Context, emu: h.EmulatorProc, name: str, index: int) -> dict[str, Any]:
    port = h.free_port()

    def start() -> Any:
        if name == "bridge":
            return h.Bridge(ctx.workdir, f"bridge-kill-{index}", emu.oauth_url, emu.api_url,
                            scope=h.B2B, port=port, wait_healthy=False)
        return h.Tutorial(ctx.workdir, f"tutorial-kill-{index}", emu.oauth_url, emu.api_url,
                          scope=h.B2B, port=port)

    def healthy() -> bool:
        try:
            status, body = h.http_json("GET", f"http://127.0.0.1:{port}/health", timeout=2)
        except OSError:
            return False
        return status == 200 and isinstance(body, dict) and body.get("status") == "ok"

    server = start()
    h.wait_until(healthy, 30)
    proc = server if name == "bridge" else server.server
    stop = threading.Event()
    samples: list[h.Sample] = []
    thread = threading.Thread(target=lambda: samples.extend(
        h.run_load(h.analyze_target(name, f"http://127.0.0.1:{port}"), 8, stop=stop, timeout=30,
                   pause_after_error=0.05)))
    thread.start()
    time.sleep(1.5)
    killed_at = time.monotonic()
    proc.kill()
    restarted_at = time.monotonic()
    if name == "bridge":
        server = h.Bridge(ctx.workdir, f"bridge-kill-{index}b", emu.oauth_url, emu.api_url,
                          scope=h.B2B, port=port, wait_healthy=False)
    else:
        server.start()
    h.wait_until(healthy, 30, 0.005)
    healthy_at = time.monotonic()
    time.sleep(1.5)
    stop.set()
    thread.join(60)
    server.stop()
    first_ok = min((s.end for s in samples if s.ok and s.start >= killed_at), default=float("nan"))
    failed = [s for s in samples if not s.ok]
    return {"restart_to_healthy_s": healthy_at - restarted_at, "kill_to_first_ok_s": first_ok - killed_at,
            "failed": len(failed), "failed_after_healthy": sum(1 for s in failed if s.start >= healthy_at),
            "requests": len(samples), "error_kinds": sorted({s.error.split(":")[0] for s in failed})}


def _unreachable_drill(ctx: Context, emu: h.EmulatorProc, data: dict[str, Any]) -> None:
    outage = ctx.scale(30.0, 10.0)
    before, after = 3.0, ctx.scale(15.0, 10.0)
    cutter = h.TcpCutter(emu.port)
    auth, api = f"http://127.0.0.1:{cutter.port}/api/v2/oauth", f"http://127.0.0.1:{cutter.port}/api/v1"
    bridge = ctx.track(h.Bridge(ctx.workdir, "bridge-cut", auth, api, scope=h.B2B))
    tut = ctx.track(h.Tutorial(ctx.workdir, "tutorial-cut", auth, api, scope=h.B2B))
    stop = threading.Event()
    runs: dict[str, list[h.Sample]] = {"bridge": [], "tutorial": []}
    health: list[tuple[float, dict | None]] = []
    threads = [threading.Thread(target=lambda n=n, u=u: runs[n].extend(
        h.run_load(h.analyze_target(n, u), 4, stop=stop, timeout=130, pause_after_error=0.5)))
        for n, u in (("bridge", bridge.url), ("tutorial", tut.url))]
    for thread in threads:
        thread.start()

    def watch() -> None:
        while not stop.wait(1.0):
            health.append((time.monotonic(), bridge.health()))

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    time.sleep(before)
    say(f"unreachable: cutting GigaChat off for {outage:.0f} s")
    cut_at = time.monotonic()
    cutter.cut()
    time.sleep(outage)
    cutter.restore()
    restored_at = time.monotonic()
    say("unreachable: GigaChat is back")
    time.sleep(after)
    stop.set()
    for thread in threads:
        thread.join(200)
    watcher.join(5)
    cutter.close()
    bridge.stop()
    tut.stop()
    rows = []
    for name, samples in runs.items():
        during = [s for s in samples if s.end > cut_at and s.start < restored_at]
        failed = [s for s in during if not s.ok]
        started_after = [s for s in samples if s.start >= restored_at]
        first_ok = min((s.end for s in samples if s.ok and s.end > restored_at), default=float("nan"))
        messages = Counter(s.error for s in failed)
        time_to_error = h.median([s.latency for s in failed]) if failed else float("nan")
        data[f"unreachable/{name}"] = {
            "outage_s": outage, "calls_overlapping": len(during), "failed": len(failed),
            "ok_overlapping": len(during) - len(failed), "time_to_error_s": time_to_error,
            "restore_to_first_ok_s": first_ok - restored_at,
            "failed_after_restore": sum(not s.ok for s in started_after),
            "calls_after_restore": len(started_after), "messages": dict(messages)}
        top = messages.most_common(1)[0][0] if messages else "–"
        rows.append([name, len(during), len(failed), len(during) - len(failed), time_to_error,
                     first_ok - restored_at,
                     f"{sum(not s.ok for s in started_after)} of {len(started_after)}", top[:160]])
    statuses = Counter((b or {}).get("status", "no answer") for t, b in health if cut_at < t < restored_at)
    last_errors = Counter((b or {}).get("last_error") for t, b in health if cut_at < t < restored_at)
    data["unreachable/bridge_health"] = {"statuses": dict(statuses), "last_errors": {
        str(k): v for k, v in last_errors.items()}}
    ctx.report.add(Table(
        f"6c. GigaChat unreachable for {outage:.0f} s (connections refused), 4 clients per server",
        ["server", "calls overlapping the outage", "failed", "succeeded (retried past it)",
         "median time to error, s", "restore → first success, s", "failed among calls started after restore",
         "message 1C got (most common)"],
        rows,
        [f"Bridge /health during the outage: {dict(statuses)}; last_error: "
         f"{next((k for k in last_errors if k), '–')}",
         "A loopback forwarder stands for the network: cut = listener closed and every connection reset; "
         "the emulator (and its tokens) keeps running. Each client waits 0.5 s after a failed call.",
         "1C's own timeout in the tutorial's form is 120 s; the bridge's request deadline is 110 s."]))


# --------------------------------------------------------------------------- main

SECTIONS: dict[str, Callable[[Context], None]] = {
    "overhead": section_overhead,
    "burst": section_fresh_connections,
    "handshakes": section_handshakes,
    "throughput": section_throughput,
    "footprint": section_footprint,
    "rotation": section_rotation,
    "faults": section_faults,
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true",
                        help="shorter runs (smoke check); writes to bench/results/quick/, not bench/results/")
    parser.add_argument("--only", help=f"comma-separated sections: {', '.join(SECTIONS)}")
    parser.add_argument("--keep", action="store_true", help="keep the work folder (logs) afterwards")
    args = parser.parse_args(argv)
    chosen = [s.strip() for s in args.only.split(",")] if args.only else list(SECTIONS)
    unknown = [s for s in chosen if s not in SECTIONS]
    if unknown:
        parser.error(f"unknown sections: {', '.join(unknown)}")
    for python in (h.MAIN_PYTHON, h.BENCH_PYTHON):
        if not python.exists():
            parser.error(f"{python} not found: run bench/run.sh (it creates bench/.venv)")
    workdir = Path(tempfile.mkdtemp(prefix="gigachat-bench-"))
    report = Report()
    ctx = Context(workdir, args.quick, report)
    started = time.monotonic()
    info = h.machine_info()
    info["date"] = dt.datetime.now().astimezone().isoformat(timespec="seconds")
    info["mode"] = "quick" if args.quick else "full"
    info["git"] = _git_head()
    print("## Machine\n\n" + "\n".join(f"- {k}: {v}" for k, v in info.items()) + "\n", flush=True)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    try:
        for name in chosen:
            say(f"section {name}")
            section_started = time.monotonic()
            try:
                SECTIONS[name](ctx)
            finally:
                ctx.stop_all()
            say(f"section {name} took {time.monotonic() - section_started:.0f} s")
    finally:
        ctx.stop_all()
        info["loadavg_end"] = " ".join(f"{x:.2f}" for x in os.getloadavg())
        info["duration_s"] = f"{time.monotonic() - started:.0f}"
        _write(report, info, chosen, results_dir(args.quick))
        if args.keep:
            say(f"work folder kept: {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    where = results_dir(args.quick) / "latest.md"
    note = " (quick run: the committed bench/results/latest.* are left as they were)" if args.quick else ""
    print(f"Done in {time.monotonic() - started:.0f} s; tables in {where}{note}", flush=True)
    return 0


def _git_head() -> str:
    try:
        out = subprocess.run(["git", "-C", str(h.ROOT), "rev-parse", "--short", "HEAD"],
                             capture_output=True, text=True, timeout=10)
        dirty = subprocess.run(["git", "-C", str(h.ROOT), "status", "--porcelain", "gigachat", "tray_app.py"],
                               capture_output=True, text=True, timeout=10)
        return out.stdout.strip() + (" (gigachat/ has uncommitted changes)" if dirty.stdout.strip() else "")
    except (OSError, subprocess.SubprocessError):
        return "?"


def _write(report: Report, info: dict[str, str], chosen: list[str], folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    text = "## Machine\n\n" + "\n".join(f"- {k}: {v}" for k, v in info.items()) + "\n\n"
    text += f"Sections: {', '.join(chosen)}\n\n" + "\n".join(t.markdown() for t in report.tables)
    (folder / "latest.md").write_text(text, encoding="utf-8")
    (folder / "latest.json").write_text(json.dumps({"machine": info, "results": report.data},
                                                    ensure_ascii=False, indent=1, default=str),
                                         encoding="utf-8")


if __name__ == "__main__":
    sys.exit(main())
