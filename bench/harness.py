"""Benchmark plumbing: processes (emulator, bridge, tutorial server), a load generator, a TCP cutter.

Every server runs as its own process so that the load generator (threads in this process) does
not share a GIL with what it measures. Everything listens on 127.0.0.1 only.
"""

from __future__ import annotations

import base64
import contextlib
import http.client
import json
import os
import re
import select
import shutil
import signal
import socket
import ssl
import struct
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
MAIN_PYTHON = Path(os.environ.get("BENCH_MAIN_PYTHON") or ROOT / ".venv" / "bin" / "python")
BENCH_PYTHON = Path(os.environ.get("BENCH_PYTHON") or BENCH / ".venv" / "bin" / "python")
TUTORIAL_SRC = BENCH / "baselines" / "tutorial"

DEMO_CLIENT_ID = "demo-client-id"
DEMO_CLIENT_SECRET = "demo-client-secret"
DEMO_KEY = base64.b64encode(f"{DEMO_CLIENT_ID}:{DEMO_CLIENT_SECRET}".encode()).decode()
B2B, PERS = "GIGACHAT_API_B2B", "GIGACHAT_API_PERS"

TEXT = ("Договор поставки №127 от 15.01.2024. Поставщик ООО ТехноПром обязуется поставить офисную "
        "мебель на сумму 2 450 000 руб. Срок 30 дней. Предоплата 50%.")
SYSTEM_PROMPT = "Извлеки из договора: стороны, сумму, сроки, условия оплаты. Формат - список."


def table(title: str, headers: list[str], rows: list[list], notes: list[str]) -> str:
    """A Markdown section: heading, table, notes (the small benches print these)."""
    lines = [f"### {title}", "", "| " + " | ".join(headers) + " |", "|" + " --- |" * len(headers)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines + [""] + [f"- {n}" for n in notes] + [""])


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_until(predicate: Callable[[], Any], timeout: float, interval: float = 0.01) -> Any:
    """Poll predicate() until truthy; its value, or TimeoutError."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"condition not met within {timeout} s")
        time.sleep(interval)


def http_json(method: str, url: str, body: Any = None, timeout: float = 10.0,
              context: ssl.SSLContext | None = None, headers: dict | None = None) -> tuple[int, Any]:
    """One request on a fresh connection; (status, decoded JSON or None)."""
    scheme, rest = url.split("://", 1)
    hostport, _, path = rest.partition("/")
    host, _, port = hostport.rpartition(":")
    if scheme == "https":
        conn: http.client.HTTPConnection = http.client.HTTPSConnection(
            host, int(port), timeout=timeout, context=context)
    else:
        conn = http.client.HTTPConnection(host, int(port), timeout=timeout)
    try:
        data = None if body is None else (body if isinstance(body, bytes) else json.dumps(body).encode())
        conn.request(method, "/" + path, body=data,
                     headers={"Content-Type": "application/json", **(headers or {})})
        response = conn.getresponse()
        raw = response.read()
        try:
            return response.status, json.loads(raw)
        except ValueError:
            return response.status, None
    finally:
        conn.close()


def health_of(url: str) -> dict | None:
    """The /health answer of a server at `url`, or None while it does not answer 200."""
    try:
        status, body = http_json("GET", url + "/health", timeout=5)
    except OSError:
        return None
    return body if status == 200 else None


# --------------------------------------------------------------------------- processes


def read_proc_status(pid: int, name: str) -> int:
    """A kB value from /proc/PID/status (VmRSS, VmHWM); 0 when unknown."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(name + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process, in seconds (Linux /proc)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return 0.0


class Proc:
    """A child process whose stdout+stderr go to a log file."""

    def __init__(self, name: str, argv: list[str], env: dict[str, str], cwd: Path, workdir: Path):
        self.name = name
        self.log_path = workdir / f"{name}.log"
        self._log = open(self.log_path, "ab")  # noqa: SIM115 - closed in stop()
        self.started = time.monotonic()
        self.process = subprocess.Popen(argv, cwd=cwd, env=env, stdout=self._log,
                                        stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)

    @property
    def pid(self) -> int:
        return self.process.pid

    def output(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def wait_for(self, pattern: str, timeout: float = 30.0) -> re.Match:
        regex = re.compile(pattern)

        def found():
            if self.process.poll() is not None:
                tail = self.output()[-3000:]
                raise RuntimeError(f"{self.name} exited ({self.process.returncode}):\n{tail}")
            return regex.search(self.output())

        return wait_until(found, timeout, 0.005)

    @property
    def rss_kb(self) -> int:
        return read_proc_status(self.pid, "VmRSS")

    @property
    def cpu(self) -> float:
        return cpu_seconds(self.pid)

    def kill(self) -> None:
        """SIGKILL and reap."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)

    def stop(self, timeout: float = 15.0) -> int | None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        self._log.close()
        return self.process.returncode


def child_env(workdir: Path, **extra: str) -> dict[str, str]:
    """The environment of a child: no inherited GIGACHAT_* settings, per-run user dirs."""
    env = {k: v for k, v in os.environ.items()
           if not (k.startswith("GIGACHAT_") or k in ("API_HOST", "API_PORT"))}
    for name in ("XDG_CONFIG_HOME", "XDG_STATE_HOME", "XDG_CACHE_HOME", "XDG_DATA_HOME"):
        path = workdir / "home" / name.lower()
        path.mkdir(parents=True, exist_ok=True)
        env[name] = str(path)
    env["DBUS_SESSION_BUS_ADDRESS"] = "unix:path=/nonexistent"  # never touch a real keyring
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    env.update(extra)
    return env


class EmulatorProc(Proc):
    """`python -m gigachat.emulator` in its own process, driven through /_emulator/."""

    def __init__(self, workdir: Path, name: str = "emulator", tls: tuple[Path, Path, Path] | None = None,
                 port: int | None = None, token_lifetime: float = 1800.0):
        self.port = port or free_port()
        argv = [str(MAIN_PYTHON), "-m", "gigachat.emulator", "--port", str(self.port),
                "--token-lifetime", str(token_lifetime)]
        self.context: ssl.SSLContext | None = None
        self.ca_file: Path | None = None
        if tls:
            ca, cert, key = tls
            argv += ["--tls-cert", str(cert), "--tls-key", str(key)]
            self.context = ssl.create_default_context(cafile=str(ca))
            self.ca_file = ca
        super().__init__(name, argv, child_env(workdir), ROOT, workdir)
        self.wait_for(r"listening on")
        self.scheme = "https" if tls else "http"

    @property
    def base_url(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.port}"

    @property
    def oauth_url(self) -> str:
        return self.base_url + "/api/v2/oauth"

    @property
    def api_url(self) -> str:
        return self.base_url + "/api/v1"

    def control(self, method: str, path: str, body: Any = None) -> Any:
        status, answer = http_json(method, self.base_url + "/_emulator/" + path, body, context=self.context)
        if status != 200:
            raise RuntimeError(f"emulator control {path}: {status} {answer}")
        return answer

    def configure(self, **changes: Any) -> dict:
        return self.control("POST", "config", changes)

    def stats(self) -> dict:
        """Counters, minus the connection (and TLS handshake) this very request opened."""
        stats = self.control("GET", "stats")
        stats["connections"] -= 1
        if self.context:
            stats["tls_handshakes"] -= 1
        return stats

    def reset(self) -> None:
        self.control("POST", "reset")

    def token(self, scope: str = B2B) -> str:
        """An access token for direct API calls."""
        scheme_conn = http.client.HTTPSConnection if self.context else http.client.HTTPConnection
        kwargs = {"context": self.context} if self.context else {}
        conn = scheme_conn("127.0.0.1", self.port, timeout=10, **kwargs)
        try:
            conn.request("POST", "/api/v2/oauth", body=f"scope={scope}", headers={
                "Authorization": f"Basic {DEMO_KEY}", "RqUID": str(uuid.uuid4()),
                "Content-Type": "application/x-www-form-urlencoded", "Accept": "application/json"})
            return json.loads(conn.getresponse().read())["access_token"]
        finally:
            conn.close()


class Bridge(Proc):
    """`tray_app.py --headless` against an emulator, configured through the environment."""

    def __init__(self, workdir: Path, name: str, auth_url: str, api_url: str, scope: str = B2B,
                 ca_file: Path | None = None, port: int = 0, max_concurrency: int | None = None,
                 settings_file: dict | None = None, args: Iterable[str] = ("--headless",),
                 extra_env: dict[str, str] | None = None, wait_healthy: bool = True):
        self.workdir = workdir / name
        self.workdir.mkdir(parents=True, exist_ok=True)
        env = child_env(self.workdir, GIGACHAT_CREDENTIALS=DEMO_KEY, GIGACHAT_AUTH_URL=auth_url,
                        GIGACHAT_API_URL=api_url, GIGACHAT_SCOPE=scope, **(extra_env or {}))
        if ca_file:
            env["GIGACHAT_CA_BUNDLE"] = str(ca_file)
        if max_concurrency:
            env["GIGACHAT_MAX_CONCURRENCY"] = str(max_concurrency)
        if settings_file:
            path = Path(env["XDG_CONFIG_HOME"]) / "GigaChatBridge" / "settings.json"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(settings_file), encoding="utf-8")
        super().__init__(name, [str(MAIN_PYTHON), str(ROOT / "tray_app.py"), *args, "--port", str(port)],
                         env, ROOT, self.workdir)
        self.url = self.wait_for(r"запущен: (http://\S+)").group(1)
        self.listening_after = time.monotonic() - self.started
        if wait_healthy:
            self.wait_healthy()

    def health(self) -> dict | None:
        return health_of(self.url)

    def wait_healthy(self, timeout: float = 30.0) -> float:
        """Seconds since the process started until /health said ok."""
        wait_until(lambda: (self.health() or {}).get("status") == "ok", timeout)
        return time.monotonic() - self.started


class Tutorial:
    """The tutorial's FastAPI server and cron script (bench/baselines/tutorial), in a fresh folder."""

    def __init__(self, workdir: Path, name: str, auth_url: str, api_url: str, scope: str = PERS,
                 port: int | None = None):
        self.name = name
        self.dir = workdir / name
        if self.dir.exists():
            shutil.rmtree(self.dir)
        shutil.copytree(TUTORIAL_SRC, self.dir, ignore=shutil.ignore_patterns("__pycache__"))
        (self.dir / "logs").mkdir()
        self.port = port or free_port()
        (self.dir / ".env").write_text(
            "# GigaChat API credentials\n"
            f"GIGACHAT_CLIENT_ID={DEMO_CLIENT_ID}\n"
            f"GIGACHAT_CLIENT_SECRET={DEMO_CLIENT_SECRET}\n"
            f"GIGACHAT_SCOPE={scope}\n"
            f"GIGACHAT_AUTH_URL={auth_url}\n"
            f"GIGACHAT_API_URL={api_url}\n"
            "\n# Сервер\nAPI_HOST=127.0.0.1\n"
            f"API_PORT={self.port}\n", encoding="utf-8")
        self.env = child_env(self.dir)
        if not shutil.which("uuidgen"):
            self.env["PATH"] = f"{BENCH / 'shim'}{os.pathsep}{self.env.get('PATH', '')}"
        self.update_token()
        self.server: Proc | None = None
        self._cron_stop = threading.Event()
        self._cron: threading.Thread | None = None
        self.cron_runs = 0
        self.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def update_token(self) -> None:
        """./scripts/update_token.sh >> logs/token.log 2>&1 (what cron runs)."""
        with open(self.dir / "logs" / "token.log", "ab") as log:
            subprocess.run(["bash", str(self.dir / "scripts" / "update_token.sh")], cwd=self.dir,
                           env=self.env, stdout=log, stderr=subprocess.STDOUT, timeout=60, check=False)

    def start(self) -> Proc:
        self.server = Proc(self.name, [str(BENCH_PYTHON), "-m", "uvicorn", "api_server:app",
                                       "--host", "127.0.0.1", "--port", str(self.port)],
                           self.env, self.dir, self.dir)
        self.server.wait_for(r"Uvicorn running on")
        return self.server

    def health(self) -> dict | None:
        return health_of(self.url)

    def start_cron(self, period: float) -> None:
        """Play the crontab line: run update_token.sh every `period` seconds."""
        self._cron_stop.clear()

        def loop():
            while not self._cron_stop.wait(period):
                self.update_token()
                self.cron_runs += 1

        self._cron = threading.Thread(target=loop, name=f"{self.name}-cron", daemon=True)
        self._cron.start()

    def stop_cron(self) -> None:
        self._cron_stop.set()
        if self._cron:
            self._cron.join(30)

    def stop(self) -> None:
        self.stop_cron()
        if self.server:
            self.server.stop()


# --------------------------------------------------------------------------- network cut


class TcpCutter:
    """A loopback TCP forwarder that can be cut (listener closed, connections reset) and restored.

    Cut, GigaChat is unreachable exactly as behind a dead link: new connections are refused and
    established ones die. The emulator behind it keeps running (tokens stay valid).
    """

    def __init__(self, upstream_port: int, port: int | None = None):
        self.upstream = ("127.0.0.1", upstream_port)
        self.port = port or free_port()
        self._lock = threading.Lock()
        self._sockets: set[socket.socket] = set()
        self._listener: socket.socket | None = None
        self._closed = False
        self.restore()

    def restore(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(128)
        with self._lock:
            self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True, name="cutter-accept").start()

    def cut(self) -> None:
        with self._lock:
            listener, self._listener = self._listener, None
            sockets, self._sockets = list(self._sockets), set()
        if listener:
            with contextlib.suppress(OSError):
                listener.shutdown(socket.SHUT_RDWR)
            listener.close()
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))  # RST
                sock.close()

    def close(self) -> None:
        self._closed = True
        self.cut()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(self.upstream, timeout=5)
            except OSError:
                client.close()
                continue
            upstream.settimeout(None)
            with self._lock:
                if self._listener is not listener:
                    client.close()
                    upstream.close()
                    return
                self._sockets.update((client, upstream))
            threading.Thread(target=self._pump, args=(client, upstream), daemon=True,
                             name="cutter-pump").start()

    def _pump(self, a: socket.socket, b: socket.socket) -> None:
        peers = {a: b, b: a}
        try:
            while True:
                readable, _, _ = select.select([a, b], [], [], 1.0)
                with self._lock:
                    if a not in self._sockets:
                        return
                for sock in readable:
                    data = sock.recv(65536)
                    if not data:
                        return
                    peers[sock].sendall(data)
        except (OSError, ValueError):
            pass
        finally:
            with self._lock:
                self._sockets.discard(a)
                self._sockets.discard(b)
            for sock in (a, b):
                with contextlib.suppress(OSError):
                    sock.close()


# --------------------------------------------------------------------------- load


@dataclass
class Sample:
    start: float
    end: float
    ok: bool
    error: str = ""

    @property
    def latency(self) -> float:
        return self.end - self.start


@dataclass
class Target:
    """Where the load goes: a base URL, a path, a body and how to judge an answer."""

    name: str
    base_url: str
    path: str
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)
    context: ssl.SSLContext | None = None
    kind: str = "analyze"  # analyze (1C contract) or direct (GigaChat chat/completions)

    def judge(self, status: int, raw: bytes) -> tuple[bool, str]:
        try:
            answer = json.loads(raw)
        except ValueError:
            return False, f"HTTP {status}, not JSON"
        if self.kind == "analyze":
            if status == 200 and answer.get("success") is True:
                return True, ""
            return False, str(answer.get("error") or f"HTTP {status}")
        if status == 200 and answer.get("choices"):
            return True, ""
        return False, f"HTTP {status} {answer.get('message', '')}".strip()


def analyze_target(name: str, base_url: str) -> Target:
    body = json.dumps({"text": TEXT, "system_prompt": SYSTEM_PROMPT}, ensure_ascii=False).encode()
    return Target(name, base_url, "/analyze/text", body)


def direct_target(name: str, emulator: EmulatorProc, token: str) -> Target:
    body = json.dumps({"model": "GigaChat", "messages": [
        {"role": "system", "content": SYSTEM_PROMPT}, {"role": "user", "content": TEXT}]},
        ensure_ascii=False).encode()
    return Target(name, emulator.api_url, "/chat/completions", body,
                  {"Authorization": f"Bearer {token}"}, emulator.context, kind="direct")


class Client:
    """One 1C-like caller: a keep-alive connection, reopened after any failure."""

    def __init__(self, target: Target, timeout: float = 130.0, fresh: bool = False):
        self.target = target
        self.timeout = timeout
        self.fresh = fresh  # a new connection per call, as the tutorial's 1C form does
        scheme, rest = target.base_url.split("://", 1)
        hostport, _, prefix = rest.partition("/")
        host, _, port = hostport.rpartition(":")
        self.host, self.port, self.https = host, int(port), scheme == "https"
        self.path = ("/" + prefix if prefix else "") + target.path
        self.conn: http.client.HTTPConnection | None = None

    def _connect(self) -> http.client.HTTPConnection:
        if self.https:
            return http.client.HTTPSConnection(self.host, self.port, timeout=self.timeout,
                                               context=self.target.context)
        return http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)

    def connect(self) -> None:
        """Open the connection now (TCP, and TLS if any) so a later call does not pay for it."""
        if self.conn is None:
            self.conn = self._connect()
        with contextlib.suppress(OSError):
            self.conn.connect()

    def _stale(self) -> bool:
        """True when the server already closed this idle connection (what urllib3 and libcurl
        check before reusing one)."""
        sock = self.conn.sock if self.conn is not None else None
        if sock is None:
            return False
        try:
            readable, _, _ = select.select([sock], [], [], 0)
        except (OSError, ValueError):
            return True
        return bool(readable)

    def call(self) -> Sample:
        start = time.monotonic()
        try:
            if self.conn is not None and self._stale():
                self.close()
            if self.conn is None:
                self.conn = self._connect()
            self.conn.request("POST", self.path, body=self.target.body, headers={
                "Content-Type": "application/json", **self.target.headers})
            response = self.conn.getresponse()
            raw = response.read()
            if response.will_close or self.fresh:
                self.close()
            ok, error = self.target.judge(response.status, raw)
        except (OSError, http.client.HTTPException) as exc:
            self.close()
            ok, error = False, f"{type(exc).__name__}: {exc}"
        return Sample(start, time.monotonic(), ok, error)

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None


def run_load(target: Target, clients: int, per_client: int | None = None, duration: float | None = None,
             stop: threading.Event | None = None, on_sample: Callable[[Sample], None] | None = None,
             timeout: float = 130.0, fresh: bool = False, prewarm: bool | None = None,
             pause_after_error: float = 0.0) -> list[Sample]:
    """`clients` threads call the target back to back: `per_client` times, or for `duration` s,
    or until `stop` is set. Returns every sample, in completion order.

    prewarm (default: on for keep-alive clients): before the clock starts, each client opens its
    connection, one client at a time, so the first call does not pay for the connection set-up.
    pause_after_error: seconds a client waits after a failed call (a person pressing the button
    again), so a dead server is not hammered in a busy loop.
    """
    samples: list[Sample] = []
    lock = threading.Lock()
    connect_lock = threading.Lock()
    prewarm = (not fresh) if prewarm is None else prewarm
    barrier = threading.Barrier(clients)
    stop = stop or threading.Event()
    deadline: list[float] = []

    def worker() -> None:
        client = Client(target, timeout, fresh)
        if prewarm:
            with connect_lock:
                client.connect()
        barrier.wait()
        if duration is not None and not deadline:
            deadline.append(time.monotonic() + duration)
        done = 0
        try:
            while not stop.is_set():
                if per_client is not None and done >= per_client:
                    break
                if duration is not None and time.monotonic() >= deadline[0]:
                    break
                sample = client.call()
                done += 1
                with lock:
                    samples.append(sample)
                if on_sample:
                    on_sample(sample)
                if not sample.ok and pause_after_error:
                    stop.wait(pause_after_error)
        finally:
            client.close()

    threads = [threading.Thread(target=worker, name=f"load-{i}", daemon=True) for i in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return samples


# --------------------------------------------------------------------------- numbers


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100); nan for no values."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(1, min(len(ordered), int(-(-q * len(ordered) // 100))))
    return ordered[rank - 1]


def median(values: list[float]) -> float:
    return percentile(values, 50)


def summary(samples: list[Sample]) -> dict[str, Any]:
    ok = [s for s in samples if s.ok]
    latencies = [s.latency for s in samples]
    span = (max(s.end for s in samples) - min(s.start for s in samples)) if samples else 0.0
    return {
        "requests": len(samples),
        "ok": len(ok),
        "errors": len(samples) - len(ok),
        "p50_ms": percentile(latencies, 50) * 1000,
        "p99_ms": percentile(latencies, 99) * 1000,
        "mean_ms": (sum(latencies) / len(latencies) * 1000) if latencies else float("nan"),
        "rps": len(ok) / span if span else 0.0,
    }


def machine_info() -> dict[str, str]:
    cpu = "?"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    mem = read_meminfo_gib()
    uname = os.uname()
    return {
        "cpu": cpu,
        "cores": str(os.cpu_count()),
        "memory": f"{mem:.0f} GiB",
        "os": f"{uname.sysname} {uname.release}",
        "python": sys.version.split()[0],
        "loadavg": " ".join(f"{x:.2f}" for x in os.getloadavg()),
    }


def read_meminfo_gib() -> float:
    with contextlib.suppress(OSError, ValueError, IndexError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) / 1024 / 1024
    return 0.0
