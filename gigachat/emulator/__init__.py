"""The GigaChat emulator: a real HTTP/HTTPS server that behaves like GigaChat's OAuth and API.

It is the demo backend (``tray_app.py --demo``) and the only stand-in the tests use.
Written from ``shared/docs/gigachat-api.md``; it imports nothing but the standard library and
its own modules (the boundary test enforces it), so it could be lifted out as it is.
``python -m gigachat.emulator --port 9090 [--catalogue new]``.

Modules, one job each:
- ``emulator``    the Emulator class: lifecycle, settings, routing, API routes, test read-back
- ``server``      the HTTP/HTTPS server and request handler (SSE, chunk delay, early close)
- ``protocol``    paths, Request/Reply, API-style errors
- ``oauth``       keys, scopes, the token endpoint, the bearer check
- ``chat``        chat request rules, answers as JSON and SSE
- ``answers``     deterministic texts (Markdown reply, function arguments)
- ``structured``  ``response_format`` json_schema answers
- ``models``      the two catalogues (``legacy``, ``new``) and the model routes
- ``files``       ``/files`` storage, multipart parsing, attachment rules
- ``faults``      injected faults and their kinds
- ``control``     the ``/_emulator/`` control API
- ``config``      the run-time settings
- ``state``       counters, in-flight slots, records, prompt-cache sessions
- ``__main__``    the command line
"""

from gigachat.emulator.emulator import Emulator
from gigachat.emulator.faults import KINDS as FAULT_KINDS
from gigachat.emulator.faults import LONG_ERROR_LENGTH, LONG_ERROR_TOKEN, Fault
from gigachat.emulator.models import CATALOGUES
from gigachat.emulator.oauth import DEMO_KEY, SCOPES, make_key

__all__ = [
    "CATALOGUES",
    "DEMO_KEY",
    "FAULT_KINDS",
    "LONG_ERROR_LENGTH",
    "LONG_ERROR_TOKEN",
    "SCOPES",
    "Emulator",
    "Fault",
    "make_key",
]
