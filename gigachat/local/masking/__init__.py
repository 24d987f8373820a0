"""Personal-data masking: detect values, send placeholders, restore the originals.

    masker = Masker()                       # all kinds incl. names; Masker(names=False)
    sent = masker.mask(text)                # "ИНН [ИНН_1], директор [ФИО_1]"
    result = masker.restore(answer)         # str, or dict/list of extracted fields
    page = masker.restore_html(html)        # after Markdown rendering
    stream = masker.restore_stream()        # stream.feed(chunk) -> str, stream.finish()
    masker.counts()                         # {"ИНН": 1, "ФИО": 1}

Imports only gigachat.core and the standard library (the name model's packages lazily, on the
first mask() with names on): nothing from gigachat.desktop or the routes, no network, no logging.
"""

from gigachat.local.masking.detectors import ALL_KINDS, NAME, RULE_KINDS
from gigachat.local.masking.masker import Masker, StreamRestorer, detect
from gigachat.local.masking.names import MaskingUnavailable
from gigachat.local.masking.names import load as preload_names
from gigachat.local.masking.names import loaded as names_loaded
from gigachat.local.masking.names import missing_packages as names_missing_packages

KINDS = ALL_KINDS

__all__ = [
    "ALL_KINDS", "KINDS", "NAME", "RULE_KINDS", "Masker", "MaskingUnavailable", "StreamRestorer",
    "detect", "names_loaded", "names_missing_packages", "preload_names",
]  # fmt: skip
