"""Wires settings, credentials, the token manager and the client together; starts and stops them."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from .client import GigaChatClient
from .credentials import CredentialStore
from .settings import Settings
from .tls import make_session
from .token import TokenManager

log = logging.getLogger(__name__)

DEMO_NOTE = "Демо-режим: отвечает встроенный эмулятор ГигаЧат, а не настоящая нейросеть."


@dataclass
class Bridge:
    """Everything behind the local endpoint. `demo` runs against the built-in emulator."""

    settings: Settings
    tokens: TokenManager
    client: GigaChatClient
    demo: bool = False
    emulator: object | None = None
    _stopped: bool = field(default=False, repr=False)

    def start(self) -> Bridge:
        self.tokens.start()
        return self

    def stop(self) -> None:
        """Stop the refresh thread, close connections and the demo emulator. Idempotent."""
        if self._stopped:
            return
        self._stopped = True
        self.tokens.stop()
        self.client.close()
        if self.emulator is not None:
            self.emulator.stop()


def create_bridge(
    settings: Settings, credentials: CredentialStore | None = None, *, demo: bool = False
) -> Bridge:
    """Build (but don't start) a bridge; in demo mode also start the emulator."""
    emulator = None
    if demo:
        from .emulator import DEMO_KEY, Emulator

        emulator = Emulator(host="127.0.0.1", port=0).start()
        settings = settings.with_changes(auth_url=emulator.oauth_url, api_url=emulator.api_url)
        key_provider: Callable[[], str | None] = lambda: DEMO_KEY  # noqa: E731
        log.info("demo mode: using the built-in GigaChat emulator at %s", emulator.base_url)
    else:
        store = credentials or CredentialStore()
        key_provider = store.get_key
    session = make_session(
        ca_bundle=settings.ca_bundle,
        verify=settings.verify_tls,
        pool_size=max(settings.effective_concurrency, 4),
    )
    tokens = TokenManager(
        settings.auth_url,
        settings.scope,
        key_provider,
        session,
        refresh_margin=settings.refresh_margin,
    )
    client = GigaChatClient(
        settings.api_url,
        tokens,
        session,
        concurrency=settings.effective_concurrency,
        request_timeout=settings.request_timeout,
    )
    return Bridge(settings, tokens, client, demo=demo, emulator=emulator)
