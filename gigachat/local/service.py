"""The running program without its face: bridge (core) + guarded app + local HTTP server."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from gigachat.core.bridge import Bridge, create_bridge
from gigachat.core.credentials import CredentialStore
from gigachat.core.errors import BridgeError
from gigachat.core.settings import Settings
from gigachat.local.guards import Guards
from gigachat.local.http_server import LocalServer, check_bind
from gigachat.local.routes import create_app

log = logging.getLogger(__name__)


@dataclass
class Service:
    """Start and stop everything the 1C client talks to, in the right order."""

    settings: Settings
    demo: bool = False
    credentials: CredentialStore | None = None
    bridge: Bridge | None = field(default=None, init=False)
    server: LocalServer | None = field(default=None, init=False)
    api_key: str | None = field(default=None, init=False, repr=False)
    emulator: Any = field(default=None, init=False, repr=False)  # demo only: the running Emulator

    @property
    def emulator_url(self) -> str | None:
        return self.emulator.base_url if self.emulator is not None else None

    @property
    def url(self) -> str:
        return self.server.url if self.server else ""

    def start(self) -> Service:
        """Raises ConfigError (bad bind address, busy port) or KeyringUnavailable."""
        settings = self.settings
        store = self.credentials or CredentialStore()
        if settings.api_key_enabled:
            self.api_key = store.local_api_key(create=True)
        check_bind(settings.host, settings.allow_remote, bool(self.api_key))
        self.bridge = self._create_bridge(settings, store)
        guarded = Guards(
            create_app(self.bridge),
            max_body_bytes=settings.max_body_bytes,
            allowed_origins=list(settings.allowed_origins),
            api_key=lambda: self.api_key,
            extra_hosts=[] if settings.host in ("0.0.0.0", "::") else [settings.host],
            log_bodies=settings.log_bodies,
        )
        self.server = LocalServer(guarded, settings.host, settings.port,
                                  threads=settings.server_threads)
        try:
            self.server.start()
        except BridgeError:
            self.bridge.stop()
            raise
        self.bridge.start()
        return self

    def _create_bridge(self, settings: Settings, store: CredentialStore) -> Bridge:
        if not self.demo:
            return create_bridge(settings, store.get_key)
        from gigachat.emulator import DEMO_KEY, Emulator

        emulator = Emulator(host="127.0.0.1", port=0).start()
        settings = settings.with_changes(auth_url=emulator.oauth_url, api_url=emulator.api_url)
        self.emulator = emulator
        log.info("demo mode: using the built-in GigaChat emulator at %s", emulator.base_url)
        return create_bridge(settings, lambda: DEMO_KEY, demo=True, on_stop=emulator.stop)

    def stop(self) -> None:
        """Graceful: the server lets in-flight requests finish, then the core stops."""
        if self.server is not None:
            self.server.stop()
        if self.bridge is not None:
            self.bridge.stop()
