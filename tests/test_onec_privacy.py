"""The 1C module's personal-data masking (issue 17) and connection file (issue 15) against a
live bridge: the flags it writes, the `masked` counts it reads, the refusals of files GigaChat
reads itself, and the keys and place of the file a real multi-user bridge writes.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tests import onec_bridge
from tests.conftest import need, wait_for
from tests.onec_bridge import (
    analyze_body,
    bridge_available,
    send_like_module,
    start_bridge,
    stop_bridge,
)
from tests.onec_bsl import bsl_parser, methods, string_value, walk
from tests.onec_contract import MODULE, answer_problems, live_problems, resolve
from tests.onec_jobs import PNG, file_item, poll_until_final, post_job

# module-scoped fixtures shared by the 1C contract modules (tests/onec_bridge.py)
contract, bridge = onec_bridge.contract, onec_bridge.bridge
live_spec = onec_bridge.live_spec


# --- personal-data masking (issue 17) --------------------------------------------------------

INN = "7707083893"  # a valid 10-digit ИНН (checksum holds)
# The emulator echoes the first words it received: the ИНН first shows what came back.
MASK_TEXT = f"{INN} - ИНН ООО «Ромашка», телефон +7 916 123-45-67, почта buh@romashka.ru"
MASK_FLAGS = {"mask_personal_data", "allow_unmasked_files"}


def module_kinds() -> list[str]:
    """The kinds the module reads from `masked`: the literal of ВидыПерсональныхДанных()."""
    method = methods(bsl_parser().parse(MODULE.read_bytes()))["ВидыПерсональныхДанных"]
    (literal,) = [string_value(n) for n in walk(method) if n.type == "string"]
    return literal.split(", ")


def test_module_writes_the_masking_flags_everywhere(contract):
    assert contract.writes["ПараметрыЗапроса"] >= MASK_FLAGS  # /analyze/text and job items
    assert contract.writes["ПараметрыИзвлечения"] >= MASK_FLAGS
    for route in (("POST", "/analyze/text"), ("POST", "/analyze/extract")):
        assert ("masked",) in contract.reads[route]
    assert ("result", "masked") in contract.reads[("GET", "/jobs/{id}")]


def test_masked_kinds_are_the_bridges(live_spec):
    from gigachat.local.masking import ALL_KINDS

    counts = live_spec["components"]["schemas"]["MaskedCounts"]
    assert module_kinds() == list(ALL_KINDS) == list(counts["properties"])
    assert all(re.fullmatch(r"[А-ЯЁ]+", kind) for kind in module_kinds())  # a Структура key each
    for name in ("AnalyzeResponse", "ExtractResponse"):
        assert resolve(live_spec, live_spec["components"]["schemas"][name]["properties"]["masked"])


def test_masked_text_comes_back_with_originals_and_counts(bridge, contract):
    body = dict(analyze_body(contract, "text"), text=MASK_TEXT, mask_personal_data=True)
    status, _, raw = send_like_module(bridge, contract, ("POST", "/analyze/text"), body)
    answer = json.loads(raw)
    assert status == 200 and answer["success"] is True, answer
    assert live_problems(contract, ("POST", "/analyze/text"), answer) == []
    assert set(answer["masked"]) <= set(module_kinds()) and answer["masked"]["ИНН"] == 1
    assert all(isinstance(n, int) for n in answer["masked"].values())
    assert INN in answer["result"]  # the emulator echoes what it got: the original is back
    body["mask_personal_data"] = False
    status, _, raw = send_like_module(bridge, contract, ("POST", "/analyze/text"), body)
    assert "masked" not in json.loads(raw)  # off: no field, the module reads Неопределено


def test_masked_extract_returns_the_original_values(bridge, contract):
    body = {"text": f"Контрагент: ООО «Ромашка»\r\nИНН: {INN}", "fields": {"Контрагент": "строка",
            "ИНН": "строка"}, "mask_personal_data": True}
    assert set(body) <= contract.writes["ПараметрыИзвлечения"]
    status, _, raw = send_like_module(bridge, contract, ("POST", "/analyze/extract"), body)
    answer = json.loads(raw)
    assert status == 200 and answer["success"] is True, answer
    assert live_problems(contract, ("POST", "/analyze/extract"), answer) == []
    assert answer["data"]["ИНН"] == INN and answer["masked"]["ИНН"] == 1


def test_masked_job_result_has_the_counts(bridge, contract):
    request = dict(analyze_body(contract, "text"), text=MASK_TEXT, mask_personal_data=True)
    status, started = post_job(bridge, contract, {"route": "analyze/text", "request": request})
    assert status == 202, started
    final = poll_until_final(bridge, contract, started["id"])[-1]
    assert final["state"] == "done", final
    assert live_problems(contract, ("GET", "/jobs/{id}"), final) == []
    assert final["result"]["masked"]["ИНН"] == 1 and INN in final["result"]["result"]


def test_files_under_masking_are_refused_in_a_form_the_module_reads(bridge, contract):
    pdf = file_item(contract, "счёт.pdf", b"%PDF-1.4\n%%EOF\n")
    text_body = dict(analyze_body(contract, "text"), mask_personal_data=True, files=[pdf])
    text_body.pop("allow_unmasked_files")
    extract_body = {"text": "x", "fields": {"Сумма": "число"}, "mask_personal_data": True,
                    "files": [pdf]}
    for route, body in ((("POST", "/analyze/text"), text_body),
                        (("POST", "/analyze/extract"), extract_body)):
        status, _, raw = send_like_module(bridge, contract, route, body)
        answer = json.loads(raw)
        assert status == 200 and answer["success"] is False, answer  # РазобратьОбщиеПоляОтвета
        assert "allow_unmasked_files" in answer["error"] and re.search("[а-я]", answer["error"])
    status, refused = post_job(bridge, contract, {"route": "analyze/text", "request": text_body})
    assert status == 400 and refused["success"] is False, refused  # ЗаполнитьОшибкуHTTP: 400
    for read in contract.error_reads:
        assert answer_problems(refused, read, strict=False) == [], refused
    assert "allow_unmasked_files" in refused["error"]
    source = MODULE.read_text(encoding="utf-8")
    assert "Ответ.КодСостояния = 400" in source
    allowed = dict(text_body, allow_unmasked_files=True, files=[file_item(contract, "п.png", PNG)])
    status, _, raw = send_like_module(bridge, contract, ("POST", "/analyze/text"), allowed)
    answer = json.loads(raw)
    assert status == 200 and answer["success"] is True, answer
    assert isinstance(answer["masked"], dict)


# --- the connection file (issue 15) ---------------------------------------------------------


def module_lookup(temp: str, documents: str, sep: str = "/") -> list[str]:
    """ИменаФайлаПодключения of the module, in Python (1C cannot run here; see the literal check)."""
    temp = temp if temp.endswith(sep) else temp + sep
    names = []
    windows = sep == "\\"
    if windows or temp not in ("/tmp/", "/var/tmp/"):
        names.append(temp + "GigaChatBridge" + sep + "connection.json")
    if windows:
        return names
    home = documents if documents.endswith(sep) else documents + sep
    names.append(home + ".GigaChatBridge" + sep + "connection.json")
    parts = [p for p in home.split(sep) if p]
    if len(parts) > 1 and parts[-1] in ("Documents", "Документы"):
        names.append(sep + sep.join(parts[:-1]) + sep + ".GigaChatBridge" + sep + "connection.json")
    return names


def test_module_lookup_literals_match_the_mirror():
    method = methods(bsl_parser().parse(MODULE.read_bytes()))["ИменаФайлаПодключения"]
    literals = {string_value(n) for n in walk(method) if n.type == "string"}
    assert literals == {"", "connection.json", "\\", "/tmp/", "/var/tmp/", "GigaChatBridge",
                        ".GigaChatBridge", "Documents", "Документы"}
    from gigachat import APP_NAME
    from gigachat.local.multiuser import CONNECTION_NAME

    assert APP_NAME == "GigaChatBridge" and CONNECTION_NAME == "connection.json"
    assert module_lookup("/tmp", "/home/ivanov") == ["/home/ivanov/.GigaChatBridge/connection.json"]
    assert module_lookup("C:\\Users\\i\\AppData\\Local\\Temp\\", "C:\\Users\\i\\Documents", "\\") == [
        "C:\\Users\\i\\AppData\\Local\\Temp\\GigaChatBridge\\connection.json"]


def address_from_url(url: str) -> str:
    """АдресИзURL of the module."""
    if not url.startswith("http://"):
        return "127.0.0.1"
    host = url[len("http://"):].split("/")[0].rpartition(":")[0]
    return host if host and host.lower() != "localhost" and "[" not in host else "127.0.0.1"


def multi_user_env(root: Path, temp: Path) -> dict:
    home = root / "home"
    home.mkdir(parents=True, exist_ok=True)
    return {"GIGACHAT_BRIDGE_MULTIUSER": "true", "TMPDIR": str(temp), "HOME": str(home),
            "USER": "ivanov-1c", "LOGNAME": "ivanov-1c", "USERNAME": "ivanov-1c"}


@pytest.mark.parametrize("shared_temp", [False, True], ids=["private-temp", "shared-tmp"])
def test_connection_file_keys_and_place_match_the_module(tmp_path, contract, shared_temp):
    need(bridge_available(), "tray_app.py and gigachat/local/routes.py (the local endpoint)")
    temp = tmp_path / "tmp"
    temp.mkdir()
    temp.chmod(0o1777 if shared_temp else 0o700)
    env = multi_user_env(tmp_path, temp)
    started = start_bridge(tmp_path / "bridge", extra_env=env)
    try:
        # Where 1C looks: КаталогВременныхФайлов() is this TMPDIR; КаталогДокументов() on Linux is
        # taken as the home folder (or its Documents) - unconfirmed without a platform.
        candidates = module_lookup(str(temp), env["HOME"]) + module_lookup(str(temp),
                                                                          env["HOME"] + "/Documents")
        wait_for(lambda: any(Path(c).is_file() for c in candidates), timeout=30)
        found = next(Path(c) for c in candidates if Path(c).is_file())
        expected = (Path(env["HOME"]) / ".GigaChatBridge" if shared_temp
                    else temp / "GigaChatBridge") / "connection.json"
        assert found == expected
        assert not (temp / "GigaChatBridge").exists() or not shared_temp
        assert oct(found.stat().st_mode & 0o777) == oct(0o600)
        written = json.loads(found.read_text(encoding="utf-8"))
        assert contract.file_reads == {"port", "key", "url"} <= set(written)
        assert isinstance(written["port"], int) and written["port"] == started.port
        assert isinstance(written["key"], str) and written["key"]
        assert address_from_url(written["url"]) == started.host
        body = analyze_body(contract, "text")
        status, _, raw = send_like_module(started, contract, ("POST", "/analyze/text"), body)
        assert status == 403, raw  # multi-user mode: the key is required ...
        status, _, raw = send_like_module(started, contract, ("POST", "/analyze/text"), body,
                                          key=written["key"])
        assert status == 200 and json.loads(raw)["success"] is True, raw  # ... and the file's works
    finally:
        stop_bridge(started.process)
