"""Core: the GigaChat session — settings, credentials, TLS, OAuth token, client, errors.

Talks to GigaChat and knows nothing about serving HTTP or the desktop.
May import: the standard library, third-party packages, ``gigachat`` (version, names).
Never: ``gigachat.local``, ``gigachat.desktop``, ``gigachat.emulator``.
"""
