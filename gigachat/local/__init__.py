"""Local API: what 1C talks to — guards, routes, rendering, OpenAI translation, HTTP server.

``service.Service`` wires the core bridge, the guarded bottle app and our HTTP server
(``http_server``: a selector loop reading request heads + a pool of workers), and is the
façade the desktop uses (``snapshot()`` and a few named actions).
May import: ``gigachat.core``, ``gigachat`` (version, names), and the emulator only for
``--demo`` in ``service``. Never: ``gigachat.desktop``.
"""
