"""The /analyze/text answer, one implementation for the synchronous route and for jobs.

`analyze(...)` validates a body, calls GigaChat (plainly or streamed) and returns exactly the
JSON object the tutorial's contract answers, success or failure.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from contextlib import closing

from gigachat.core.bridge import DEMO_NOTE, Bridge
from gigachat.local.json_body import scrub
from gigachat.local.render import markdown_to_html

TextListener = Callable[[str], None]  # gets the answer text received so far


class Stopped(Exception):
    """A streamed answer was cut off on purpose (the job was cancelled or paused)."""


def success_body(answer: dict, model: str, return_format: str, demo: bool) -> dict:
    """The success answer for GigaChat's chat completion `answer`."""
    choice = (answer.get("choices") or [{}])[0]
    content = scrub(str((choice.get("message") or {}).get("content") or ""))
    usage = answer.get("usage") if isinstance(answer.get("usage"), dict) else {}
    model = scrub(str(answer.get("model") or model))
    if return_format == "html":
        result = markdown_to_html(content, note=DEMO_NOTE if demo else None)
    else:
        result = f"[{DEMO_NOTE}]\n{content}" if demo else content
    usage_out = {key: int(usage.get(key) or 0)
                 for key in ("prompt_tokens", "completion_tokens", "total_tokens")}
    return {"success": True, "result": result, "error": None, "model": model,
            "usage": usage_out}


def failure_body(message: str, model: str) -> dict:
    """The tutorial's failure answer (sent with HTTP 200: 1C reads it either way)."""
    return {"success": False, "result": "", "error": message, "model": model, "usage": None}


def collect_stream(chunks: Iterable[dict], on_text: TextListener | None = None,
                   stop: Callable[[], bool] | None = None) -> dict:
    """A streamed answer folded into the shape of a non-streamed chat completion.

    `on_text` sees the text received so far after every chunk; when `stop()` turns true the
    stream is closed at once (the connection ends, GigaChat stops generating and billing)
    and Stopped is raised.
    """
    parts: list[str] = []
    model, usage, finish = None, None, None
    with closing(iter(chunks)) as stream:
        for chunk in stream:
            if stop is not None and stop():
                raise Stopped
            if not isinstance(chunk, dict):
                continue
            choice = (chunk.get("choices") or [{}])[0]
            choice = choice if isinstance(choice, dict) else {}
            delta = choice.get("delta") if isinstance(choice.get("delta"), dict) else {}
            piece = delta.get("content")
            if isinstance(piece, str) and piece:
                parts.append(piece)
                if on_text is not None:
                    on_text("".join(parts))
            model = chunk.get("model") or model
            usage = chunk.get("usage") if isinstance(chunk.get("usage"), dict) else usage
            finish = choice.get("finish_reason") or finish
        if stop is not None and stop():  # cut off between chunks: never a whole answer
            raise Stopped
    message = {"role": "assistant", "content": "".join(parts)}
    return {"choices": [{"message": message, "index": 0, "finish_reason": finish}],
            "model": model, "usage": usage or {}}


def call_gigachat(bridge: Bridge, payload: dict, *, stream: bool = False,
                  on_text: TextListener | None = None, stop: Callable[[], bool] | None = None,
                  **options) -> dict:
    """One chat completion for a validated payload (model already chosen); `options` go to
    the client (e.g. session_id)."""
    client = bridge.client
    if not stream:
        return client.chat(payload, **options)
    return collect_stream(client.chat_stream(payload, **options), on_text, stop)
