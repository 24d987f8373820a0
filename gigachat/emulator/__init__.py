"""The GigaChat emulator: a real HTTP/HTTPS server that behaves like GigaChat's OAuth and API.

It is the demo backend (``tray_app.py --demo``) and the only stand-in the tests use.
Written from ``shared/docs/gigachat-api.md``; it imports nothing else of ours (the boundary
test enforces it), so it could be lifted out as it is. ``python -m gigachat.emulator``.
"""

from gigachat.emulator.app import DEMO_KEY, SCOPES, Emulator, make_key

__all__ = ["DEMO_KEY", "SCOPES", "Emulator", "make_key"]
