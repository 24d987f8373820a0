"""Model catalogues of the two hosts, and the routes that read them.

``legacy`` is the old host (gigachat.devices.sberbank.ru): the legacy names ``GigaChat``,
``GigaChat-Pro``, ``GigaChat-Max``, their ``*-preview`` twins, the GigaChat-2 family, the
embedders and the GigaCheck/GigaFilter models. ``new`` is api.giga.chat: the GigaChat-2 family,
``GigaChat-3-Ultra``, embedders (incl. ``GigaEmbeddings-3B-2025-09``), GigaCheck and GigaFilter,
and none of the legacy names.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterable
from typing import Any

from gigachat.emulator.protocol import HttpError, Reply, count_tokens

EMBEDDING_SIZE = 1024
_GIGACHAT_2 = ("GigaChat-2", "GigaChat-2-Pro", "GigaChat-2-Max")
_AICHECK = ("GigaCheckClassification", "GigaCheckDetection")
_LEGACY_CHAT = (
    "GigaChat",
    "GigaChat-Pro",
    "GigaChat-Max",
    "GigaChat-preview",
    "GigaChat-Pro-preview",
    "GigaChat-Max-preview",
)


def _typed(kind: str, names: Iterable[str]) -> dict[str, str]:
    return {name: kind for name in names}


CATALOGUES: dict[str, dict[str, str]] = {
    "legacy": {
        **_typed("chat", _LEGACY_CHAT[:1] + _GIGACHAT_2 + _LEGACY_CHAT[1:]),
        **_typed("embedder", ("Embeddings", "Embeddings-2", "EmbeddingsGigaR")),
        **_typed("aicheck", _AICHECK),
        "GigaFilter": "filter",
    },
    "new": {
        **_typed("chat", (*_GIGACHAT_2, "GigaChat-3-Ultra")),
        **_typed("embedder", ("Embeddings", "EmbeddingsGigaR", "GigaEmbeddings-3B-2025-09")),
        **_typed("aicheck", _AICHECK),
        "GigaFilter": "filter",
    },
}
BALANCES = {
    "legacy": (
        ("GigaChat", 900000),
        ("GigaChat-Pro", 50000),
        ("GigaChat-Max", 50000),
        ("embeddings", 5000000),
    ),
    "new": (
        ("GigaChat-2", 900000),
        ("GigaChat-2-Pro", 50000),
        ("GigaChat-2-Max", 50000),
        ("embeddings", 5000000),
    ),
}


def models_of(catalogue: str, kind: str | None = None) -> tuple[str, ...]:
    """Model names of a catalogue, optionally of one type."""
    return tuple(n for n, k in CATALOGUES[catalogue].items() if kind is None or k == kind)


def model_entry(catalogue: str, name: str) -> dict[str, str]:
    """One ``/models`` entry."""
    return {"id": name, "object": "model", "owned_by": "salutedevices", "type": CATALOGUES[catalogue][name]}


def require_model(payload: dict[str, Any], allowed: Iterable[str]) -> str:
    """The payload's model, 422 when missing, 404 ``No such model`` when not allowed."""
    model = payload.get("model")
    if not isinstance(model, str) or not model:
        raise HttpError.invalid("model is required")
    if model not in allowed:
        raise HttpError.api(404, "No such model")
    return model


def input_texts(value: Any) -> list[str]:
    """``input`` as a list of strings, or 422."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and value and all(isinstance(v, str) for v in value):
        return value
    raise HttpError.invalid("input must be a string or a non-empty array of strings")


def embedding_vector(model: str, text: str) -> list[float]:
    """A deterministic unit vector of EMBEDDING_SIZE floats derived from a hash."""
    raw = hashlib.shake_256(f"{model}\0{text}".encode()).digest(EMBEDDING_SIZE * 2)
    values = [int.from_bytes(raw[i : i + 2], "big") / 32767.5 - 1.0 for i in range(0, len(raw), 2)]
    norm = math.sqrt(sum(v * v for v in values)) or 1.0
    return [round(v / norm, 6) for v in values]


def models_reply(catalogue: str) -> Reply:
    """``GET /models``."""
    return Reply(200, {"object": "list", "data": [model_entry(catalogue, m) for m in models_of(catalogue)]})


def model_reply(catalogue: str, name: str) -> Reply:
    """``GET /models/{name}``."""
    if name not in CATALOGUES[catalogue]:
        raise HttpError.api(404, "No such model")
    return Reply(200, model_entry(catalogue, name))


def embeddings_reply(catalogue: str, payload: dict[str, Any]) -> Reply:
    """``POST /embeddings`` for an already decoded payload."""
    model = require_model(payload, models_of(catalogue, "embedder"))
    data = [
        {
            "object": "embedding",
            "embedding": embedding_vector(model, text),
            "index": index,
            "usage": {"prompt_tokens": count_tokens(text)},
        }
        for index, text in enumerate(input_texts(payload.get("input")))
    ]
    return Reply(200, {"object": "list", "data": data, "model": model})


def tokens_count_reply(catalogue: str, payload: dict[str, Any]) -> Reply:
    """``POST /tokens/count``: a bare array."""
    require_model(payload, models_of(catalogue))
    counts = [
        {"object": "tokens", "tokens": count_tokens(text), "characters": len(text)}
        for text in input_texts(payload.get("input"))
    ]
    return Reply(200, counts)


def balance_reply(catalogue: str, scope: str) -> Reply:
    """``GET /balance``: 403 for pay-as-you-go (CORP)."""
    if scope == "GIGACHAT_API_CORP":
        raise HttpError.api(403, "Permission denied")
    return Reply(200, {"balance": [{"usage": u, "value": v} for u, v in BALANCES[catalogue]]})
