"""Jobs and files as the 1C module sends them, for the contract tests (tests/test_onec_contract_v2.py,
tests/test_onec_privacy.py): base64 as Base64Строка writes it, POST /jobs with Idempotency-Key, polling."""

from __future__ import annotations

import base64
import json
import uuid

from tests.conftest import wait_for
from tests.onec_bridge import send_like_module
from tests.onec_contract import live_problems

FINAL = {"done", "failed", "cancelled"}
PNG = bytes.fromhex("89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c489"
                    "0000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082")


def base64_as_1c(data: bytes) -> str:
    """Base64Строка(): CR LF after every 76 characters, none at the end."""
    text = base64.b64encode(data).decode("ascii")
    return "\r\n".join(text[i:i + 76] for i in range(0, len(text), 76))


def file_item(contract, name: str, data: bytes) -> dict:
    item = {"name": name, "data": base64_as_1c(data)}
    assert set(item) == contract.writes["ФайлЗапроса"]
    return item


def post_job(bridge, contract, envelope: dict, key: str | None = None) -> tuple[int, dict]:
    assert set(envelope) <= contract.writes["ПараметрыЗадания"]
    status, _, raw = send_like_module(bridge, contract, ("POST", "/jobs"), envelope,
                                      idempotency=key or str(uuid.uuid4()))
    return status, json.loads(raw)


def get(bridge, contract, path: str) -> dict:
    status, headers, raw = send_like_module(bridge, contract, ("GET", path), None)
    assert status == 200, raw
    assert headers["content-type"] == "application/json; charset=utf-8"
    return json.loads(raw)


def poll_until_final(bridge, contract, job_id: str, timeout: float = 120) -> list[dict]:
    """Every state answer seen until a final state, each checked against what the module reads."""
    seen: list[dict] = []

    def final():
        answer = get(bridge, contract, f"/jobs/{job_id}")
        assert live_problems(contract, ("GET", "/jobs/{id}"), answer, strict=False) == [], answer
        seen.append(answer)
        return answer["state"] in FINAL

    wait_for(final, timeout=timeout, interval=0.2)
    return seen
