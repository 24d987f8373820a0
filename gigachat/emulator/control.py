"""The ``/_emulator/`` control API: drive a running emulator (another process) over HTTP.

- ``GET /_emulator/stats`` counters (also ``streams_started``, ``streams_aborted``, ``chat_calls``,
  ``in_flight``, ``max_in_flight``, ``faults_queued``, ``files_stored``);
- ``GET|POST /_emulator/config`` read / change latency, token_lifetime, reject_keys, reply,
  fail_rate, catalogue (``legacy``/``new``), stream_delay (seconds between SSE chunks);
- ``POST /_emulator/faults`` queue one fault or a list (the fields of ``Emulator.inject``,
  ``kind`` included); ``DELETE /_emulator/faults`` drops them;
- ``GET /_emulator/records`` api_log, chat_log, chat_counts, session_ids, received_texts;
- ``GET /_emulator/files`` the stored files (no content) and ``uploads`` (every
  upload so far); ``DELETE /_emulator/files`` empties the storage;
- ``POST /_emulator/reset``, ``POST /_emulator/tokens/expire``, ``POST /_emulator/tokens/revoke``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import TYPE_CHECKING

from gigachat.emulator.faults import Fault
from gigachat.emulator.protocol import CONTROL_PREFIX, HttpError, Reply, Request

if TYPE_CHECKING:
    from gigachat.emulator.emulator import Emulator

Handlers = dict[str, Callable[[Request], Reply]]


def control_routes(emu: Emulator) -> dict[str, Handlers]:
    """Path → {method: handler} for the control API."""

    def ok(action: Callable[[], object]) -> Callable[[Request], Reply]:
        def handler(request: Request) -> Reply:
            action()
            return Reply(200, {"ok": True})

        return handler

    def config(request: Request) -> Reply:
        if request.method == "GET":
            return Reply(200, emu.config)
        try:
            return Reply(200, emu.configure(**request.json_object()))
        except ValueError as exc:
            raise HttpError.api(400, str(exc)) from exc

    def faults(request: Request) -> Reply:
        try:
            value = json.loads(request.body.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise HttpError.api(400, "Bad request: invalid JSON") from exc
        items = value if isinstance(value, list) else [value]
        try:
            parsed = [Fault(**item) for item in items]
        except (TypeError, ValueError) as exc:
            raise HttpError.api(400, f"Bad fault: {exc}") from exc
        emu.inject_faults(parsed)
        return Reply(200, {"queued": emu.faults_queued})

    def clear_faults(request: Request) -> Reply:
        emu.clear_faults()
        return Reply(200, {"queued": 0})

    def files(request: Request) -> Reply:
        if request.method == "DELETE":
            emu.clear_files()
        return Reply(200, {"data": emu.files, "uploads": emu.uploads})

    return {
        CONTROL_PREFIX + "stats": {"GET": lambda request: Reply(200, emu.stats)},
        CONTROL_PREFIX + "config": {"GET": config, "POST": config},
        CONTROL_PREFIX + "faults": {"POST": faults, "DELETE": clear_faults},
        CONTROL_PREFIX + "records": {"GET": lambda request: Reply(200, emu.records)},
        CONTROL_PREFIX + "files": {"GET": files, "DELETE": files},
        CONTROL_PREFIX + "reset": {"POST": ok(emu.reset)},
        CONTROL_PREFIX + "tokens/expire": {"POST": ok(emu.expire_tokens)},
        CONTROL_PREFIX + "tokens/revoke": {"POST": ok(emu.revoke_tokens)},
    }
