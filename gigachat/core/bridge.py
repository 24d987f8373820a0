"""Wires settings, credentials, the token manager and the client together; starts and stops them."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from gigachat.core.client import GigaChatClient
from gigachat.core.proxy import for_settings
from gigachat.core.settings import Settings
from gigachat.core.tls import make_session
from gigachat.core.token import TokenManager

log = logging.getLogger(__name__)

DEMO_NOTE = "Демо-режим: отвечает встроенный эмулятор ГигаЧат, а не настоящая нейросеть."


@dataclass
class Bridge:
    """Everything behind the local endpoint. `demo` runs against the built-in emulator."""

    settings: Settings
    tokens: TokenManager
    client: GigaChatClient
    demo: bool = False
    on_stop: Callable[[], None] | None = None
    _stopped: bool = field(default=False, repr=False)

    def start(self) -> Bridge:
        self.tokens.start()
        return self

    def stop(self) -> None:
        """Stop the refresh thread, close connections, run `on_stop`. Idempotent."""
        if self._stopped:
            return
        self._stopped = True
        self.tokens.stop()
        self.client.close()
        if self.on_stop is not None:
            self.on_stop()


def create_bridge(
    settings: Settings,
    key_provider: Callable[[], str | None],
    *,
    demo: bool = False,
    on_stop: Callable[[], None] | None = None,
) -> Bridge:
    """Build (but don't start) a bridge. `on_stop` runs last in stop() (the demo emulator)."""
    session = make_session(
        ca_bundle=settings.ca_bundle,
        verify=settings.verify_tls,
        pool_size=max(settings.effective_concurrency, 4),
        proxy=for_settings(settings),
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
        model=settings.model,
        concurrency=settings.effective_concurrency,
        request_timeout=settings.request_timeout,
    )
    return Bridge(settings, tokens, client, demo=demo, on_stop=on_stop)
