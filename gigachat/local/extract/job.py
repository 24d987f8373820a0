"""Job routes (issue 13): "analyze/extract", and files for "analyze/text" jobs.

The jobs registry holds the plain "analyze/text" route; it is wrapped here so a job body with
`files` gets them uploaded, attached and deleted exactly as the synchronous route does (a body
without files runs the registry's own route unchanged).
"""

from __future__ import annotations

from gigachat.core.errors import BridgeError
from gigachat.local.analyze import failure_body, success_body
from gigachat.local.attachments import chat_with_files, files_model, keeper_for, read_files
from gigachat.local.extract.answer import (
    choose_model,
    extract_request,
    failure_answer,
    outcome_answer,
    run_extract,
)
from gigachat.local.jobs.registry import ItemError, JobContext, JobRoute, find_route, register_route

EXTRACT_ROUTE = "analyze/extract"
TEXT_ROUTE = "analyze/text"


def _run_extract(ctx: JobContext, body: dict) -> dict:
    request = extract_request(body)
    model = ""
    try:
        model = choose_model(ctx.bridge, request)
        outcome = run_extract(ctx.bridge, request, model, lambda _session: ctx.chat)
    except BridgeError as error:
        raise ItemError(error, failure_answer(error.message, model)) from None
    answer = outcome_answer(outcome)
    if not answer["success"]:
        raise ItemError(BridgeError(answer["error"], "bad_json"), answer)
    return answer


def _extract_prefix(body: dict) -> str | None:
    text = body.get("instructions")
    return text if isinstance(text, str) and text.strip() else EXTRACT_ROUTE


def _with_files(plain: JobRoute) -> JobRoute:
    """The text route, uploading a body's files around the call."""
    from gigachat.local.routes import analyze_request

    def validate(body: object) -> object:
        result = plain.validate(body)
        if isinstance(body, dict):
            read_files(body)
        return result

    def run(ctx: JobContext, body: dict) -> dict:
        files = read_files(body)
        if not files:
            return plain.run(ctx, body)
        payload, return_format = analyze_request(body)
        model = ""
        try:
            model = payload["model"] = files_model(ctx.bridge, payload["model"])
            answer = chat_with_files(keeper_for(ctx.bridge), payload, files, ctx.chat)
        except BridgeError as error:
            raise ItemError(error, failure_body(error.message, model)) from None
        return success_body(answer, model, return_format, ctx.bridge.demo)

    run.with_files = True  # type: ignore[attr-defined]
    return JobRoute(plain.name, validate=validate, run=run, prefix=plain.prefix)


def register_jobs() -> None:
    """Register "analyze/extract" and give "analyze/text" jobs files (idempotent)."""
    register_route(JobRoute(EXTRACT_ROUTE, validate=extract_request, run=_run_extract,
                            prefix=_extract_prefix))
    plain = find_route(TEXT_ROUTE)
    if not getattr(plain.run, "with_files", False):
        register_route(_with_files(plain))
