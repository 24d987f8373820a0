"""Which local routes can run as jobs: a name → (validate, run) table.

`analyze/text` is built in. Another route registers itself with one call, e.g. for
``/analyze/extract``::

    register_route(JobRoute("analyze/extract", validate=extract_request, run=run_extract,
                            prefix=lambda body: body.get("instructions")))

`validate(body)` raises InvalidRequest (the synchronous route's own validation, nothing
called upstream); `run(ctx, body)` returns exactly the synchronous route's answer, or raises
ItemError carrying the failure answer the route would send (any other BridgeError is
answered as `{"success": false, ...}` with its message). `prefix(body)` names text the items
of a batch may share (the system prompt): items with the same prefix share an X-Session-ID.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from gigachat.core.bridge import Bridge
from gigachat.core.errors import BridgeError, InvalidRequest
from gigachat.local.analyze import TextListener, call_gigachat, failure_body, success_body
from gigachat.local.routes import DEFAULT_SYSTEM_PROMPT, analyze_request


@dataclass
class JobContext:
    """What a route's `run` gets for one item."""

    bridge: Bridge
    stream: bool = False  # a single-request job: stream and report the text so far
    session_id: str | None = None  # X-Session-ID shared by a batch's items with one prefix
    on_text: TextListener | None = None
    stop: Callable[[], bool] | None = None  # true once the job is cancelled or paused
    on_response: Callable[[Any], None] | None = None  # gets an open stream (to abort it)

    def chat(self, payload: dict, stream: bool | None = None) -> dict:
        """GigaChat's chat completion for this item, streamed for single jobs unless
        `stream=False` (e.g. structured output asked for in one piece)."""
        stream = self.stream if stream is None else stream
        options: dict[str, Any] = {"session_id": self.session_id} if self.session_id else {}
        if stream and self.on_response is not None:
            options["on_response"] = self.on_response
        return call_gigachat(self.bridge, payload, stream=stream, on_text=self.on_text,
                             stop=self.stop, **options)


class ItemError(Exception):
    """An item failed: `error` says why, `answer` is what the synchronous route answers."""

    def __init__(self, error: BridgeError, answer: dict) -> None:
        super().__init__(error.message)
        self.error = error
        self.answer = answer


@dataclass(frozen=True)
class JobRoute:
    name: str
    validate: Callable[[object], object]
    run: Callable[[JobContext, dict], dict]
    prefix: Callable[[dict], str | None] = lambda body: None


_ROUTES: dict[str, JobRoute] = {}


def register_route(route: JobRoute) -> None:
    """Make `route.name` valid in POST /jobs (a later registration replaces an earlier one)."""
    _ROUTES[route.name] = route


def find_route(name: object) -> JobRoute:
    """The registered route, or InvalidRequest naming the known ones."""
    route = _ROUTES.get(name) if isinstance(name, str) else None
    if route is None:
        known = ", ".join(f"«{n}»" for n in sorted(_ROUTES))
        raise InvalidRequest(f"Поле route должно быть одним из: {known}.", field="route")
    return route


def route_names() -> list[str]:
    return sorted(_ROUTES)


# --- analyze/text --------------------------------------------------------------------


def _run_text(ctx: JobContext, body: dict) -> dict:
    payload, return_format = analyze_request(body)
    model = ""
    try:
        model = payload["model"] = payload["model"] or ctx.bridge.client.pick_model(None)
        answer = ctx.chat(payload)
    except BridgeError as error:
        raise ItemError(error, failure_body(error.message, model)) from None
    return success_body(answer, model, return_format, ctx.bridge.demo)


def _text_prefix(body: dict) -> str | None:
    prompt = body.get("system_prompt", DEFAULT_SYSTEM_PROMPT)
    return prompt if isinstance(prompt, str) and prompt.strip() else None


register_route(JobRoute("analyze/text", validate=analyze_request, run=_run_text,
                        prefix=_text_prefix))
