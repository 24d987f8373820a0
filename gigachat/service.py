"""The running program without its face: bridge (core) + guarded app + local HTTP server."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from .bridge import Bridge, create_bridge
from .credentials import CredentialStore
from .errors import BridgeError
from .guards import Guards
from .httpd import LocalServer, check_bind
from .server import create_app
from .settings import Settings

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
        self.bridge = create_bridge(settings, store, demo=self.demo)
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

    def stop(self) -> None:
        """Graceful: the server lets in-flight requests finish, then the core stops."""
        if self.server is not None:
            self.server.stop()
        if self.bridge is not None:
            self.bridge.stop()
