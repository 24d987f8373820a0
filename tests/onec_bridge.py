"""A live bridge for the 1C kit's tests, and requests sent to it exactly as the 1C module sends them."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import need, wait_for
from tests.onec_contract import MODULE, Contract, extract_contract
from tests.onec_wire import BOM, onec_json, onec_request

ROOT = Path(__file__).resolve().parent.parent
LOCAL_KEY = "test-local-api-key-7f3c"


@dataclass
class Bridge:
    host: str
    port: int
    process: subprocess.Popen
    key: str | None = None


def start_bridge(home: Path, api_key: str | None = None, settings: dict | None = None,
                 extra_env: dict | None = None) -> Bridge:
    for name in ("config", "state", "cache"):
        (home / name).mkdir(parents=True, exist_ok=True)
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("GIGACHAT_") and k not in ("API_HOST", "API_PORT")}
    env.update(XDG_CONFIG_HOME=str(home / "config"), XDG_STATE_HOME=str(home / "state"),
               XDG_CACHE_HOME=str(home / "cache"), PYTHONUNBUFFERED="1")
    env.update(extra_env or {})
    values = dict(settings or {})
    if api_key:
        values["api_key_enabled"] = True
        env["GIGACHAT_BRIDGE_API_KEY"] = api_key
    if values:
        config = home / "config" / "GigaChatBridge"
        config.mkdir(parents=True, exist_ok=True)
        (config / "settings.json").write_text(json.dumps(values), encoding="utf-8")
    stderr = open(home / "bridge.stderr", "wb")  # noqa: SIM115 - closed with the process
    process = subprocess.Popen(
        [sys.executable, "tray_app.py", "--headless", "--demo", "--port", "0"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=stderr, stdin=subprocess.DEVNULL)
    stderr.close()
    found: list[tuple[str, int]] = []
    lines: list[str] = []

    def read_stdout():
        for raw in process.stdout:
            line = raw.decode("utf-8", "replace")
            lines.append(line)
            match = re.search(r"http://(127\.0\.0\.1):(\d+)", line)
            if match and not found:
                found.append((match.group(1), int(match.group(2))))

    threading.Thread(target=read_stdout, name="bridge-stdout", daemon=True).start()
    try:
        wait_for(lambda: found or process.poll() is not None, timeout=60)
    except TimeoutError:
        stop_bridge(process)
        pytest.fail("the bridge printed no URL within 60 s:\n" + "".join(lines))
    if not found:
        log = (home / "bridge.stderr").read_text(encoding="utf-8", errors="replace")
        pytest.fail(f"the bridge exited with {process.returncode}:\n{''.join(lines)}{log}")
    host, port = found[0]
    return Bridge(host, port, process, api_key)


def stop_bridge(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)
    if process.stdout:
        process.stdout.close()


def bridge_available() -> bool:
    return (ROOT / "tray_app.py").is_file() and (ROOT / "gigachat" / "local" / "routes.py").is_file()


@contextmanager
def bridge_in(tmp_path_factory, name: str, **options) -> Iterator[Bridge]:
    """A real bridge for a test module (start_bridge options), stopped and cleaned up after."""
    need(bridge_available(), "tray_app.py and gigachat/local/routes.py (the local endpoint)")
    home = tmp_path_factory.mktemp(name)
    started = start_bridge(home, **options)
    try:
        yield started
    finally:
        stop_bridge(started.process)
        shutil.rmtree(home, ignore_errors=True)


def live_spec_of(bridge: Bridge) -> dict:
    """The running bridge's /openapi.json, fetched as 1C would."""
    status, _, body = onec_request(bridge.host, bridge.port, "/openapi.json", None)
    assert status == 200
    return json.loads(body)


# --- module-scoped fixtures the 1C contract modules share (`name = onec_bridge.name`) -------


def _module_name(request) -> str:
    return request.module.__name__.rsplit(".", 1)[-1].removeprefix("test_").replace("_", "-")


@pytest.fixture(scope="module")
def contract() -> Contract:
    """What the 1C module sends, read from its BSL source."""
    return extract_contract(MODULE.read_bytes())


@pytest.fixture(scope="module")
def bridge(tmp_path_factory, request):
    with bridge_in(tmp_path_factory, f"{_module_name(request)}-bridge") as started:
        yield started


@pytest.fixture(scope="module")
def key_bridge(tmp_path_factory, request):
    """A bridge with the local API key on (LOCAL_KEY)."""
    with bridge_in(tmp_path_factory, f"{_module_name(request)}-key-bridge", api_key=LOCAL_KEY) as started:
        yield started


@pytest.fixture(scope="module")
def live_spec(bridge) -> dict:
    return live_spec_of(bridge)


def module_headers(contract: Contract, key: str | None = None, *, body: bool = True,
                   idempotency: str | None = None) -> list[tuple[str, str]]:
    """The headers the module inserts, as HTTPЗапрос sends them."""
    headers = []
    if idempotency:
        headers.append(("Idempotency-Key", idempotency))
    if body:
        headers.append(("Content-Type", contract.headers["Content-Type"]))
    if key:
        headers.append(("Authorization", contract.headers["Authorization"] + key))
    return headers


SAMPLE_VALUES = {
    "text": "Договор поставки №127 от 15.01.2024.\r\nПоставщик ООО «ТехноПром», сумма 2 450 000 руб.",
    "system_prompt": "Извлеки из договора стороны, сумму и сроки.",
    "model": "GigaChat-2-Pro",
    "temperature": 0.7,
    "max_tokens": 300,
    "mask_personal_data": False,  # the module sends it only when set; False keeps the runs fast
    "allow_unmasked_files": True,  # the module sends only true
}


def analyze_body(contract: Contract, return_format: str) -> dict:
    keys = contract.writes["ПараметрыЗапроса"] - {"files", "return_format"}
    missing = keys - set(SAMPLE_VALUES)
    assert not missing, f"add sample values for the new keys {missing}"
    body = {k: SAMPLE_VALUES[k] for k in sorted(keys)}
    body["return_format"] = return_format
    return body


def send_like_module(bridge: Bridge, contract: Contract, route: tuple, body: dict | None,
                     key: str | None = None, idempotency: str | None = None) -> tuple[int, dict, bytes]:
    """One request as the module sends it: one-line JSON without a BOM, its headers, its verb."""
    verb, path = route
    raw = None if body is None else onec_json(body, line_breaks=False)  # ПереносСтрокJSON.Нет
    return onec_request(bridge.host, bridge.port, path, raw, bom=False, method=verb,
                        headers=module_headers(contract, key, body=body is not None,
                                               idempotency=idempotency))


def ask(bridge: Bridge, contract: Contract, return_format: str) -> dict:
    status, headers, raw = send_like_module(bridge, contract, ("POST", "/analyze/text"),
                                            analyze_body(contract, return_format))
    assert status == 200, raw
    assert headers["content-type"] == "application/json; charset=utf-8"
    assert not raw.startswith(BOM)
    return json.loads(raw.decode("utf-8"))
