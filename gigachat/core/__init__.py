"""Core: the GigaChat session — settings, credentials, TLS, OAuth token, client, errors.

transport (the one layer that sends, reads JSON, translates failures, backs off), oauth (one
token request and its error codes) beside token (the token manager), models (which chat model
a request gets), client (the API calls), gate, bridge (wiring), logs (redaction).

Talks to GigaChat and knows nothing about serving HTTP or the desktop.
May import: the standard library, third-party packages, ``gigachat`` (version, names).
Never: ``gigachat.local``, ``gigachat.desktop``, ``gigachat.emulator``.
"""
