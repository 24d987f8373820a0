"""Rule-based detectors of personal data with checksums: numbers, phones, e-mail, passports.

`find(text, kinds)` returns non-overlapping `Found` spans. A number that fails its checksum
is not reported as that kind, so amounts, order numbers, КПП and БИК survive.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from gigachat.local.masking.checksums import (
    account_valid,
    bik_plausible,
    inn_valid,
    luhn_valid,
    ogrn_valid,
    snils_valid,
)

INN, SNILS, OGRN, OGRNIP = "ИНН", "СНИЛС", "ОГРН", "ОГРНИП"
PASSPORT, CARD, ACCOUNT = "ПАСПОРТ", "КАРТА", "СЧЕТ"
PHONE, EMAIL, NAME = "ТЕЛЕФОН", "ПОЧТА", "ФИО"
RULE_KINDS = (INN, SNILS, OGRN, OGRNIP, PASSPORT, CARD, ACCOUNT, PHONE, EMAIL)
ALL_KINDS = (*RULE_KINDS, NAME)


@dataclass(frozen=True, repr=False)
class Found:
    """One detected value: its kind, where it is, and its identity key (never log it)."""

    kind: str
    start: int
    end: int
    key: str

    def __repr__(self) -> str:  # the value itself stays out of reprs and tracebacks
        return f"Found({self.kind}, {self.start}:{self.end})"


_SEP = r"[ \u00a0]"  # a space or a no-break space between digit groups
_NOT_BEFORE = r"(?<![\d+])(?<!\d[.,])"  # not inside a number or a decimal
_NOT_AFTER = r"(?![.,]?\d)"
_RUN = re.compile(_NOT_BEFORE + r"(\d{10,20})" + _NOT_AFTER)
_SNILS_GROUPED = re.compile(_NOT_BEFORE + rf"\d{{3}}[-{_SEP[1:-1]}]\d{{3}}[-{_SEP[1:-1]}]\d{{3}}"
                            rf"(?:-|{_SEP}{{1,2}})\d{{2}}" + _NOT_AFTER)
_CARD_GROUPED = re.compile(_NOT_BEFORE + r"[2-6]\d{3}([ \u00a0-])\d{4}\1\d{4}\1\d{4}(?:\1\d{1,3})?"
                           r"(?!\d)(?!\1\d)(?![.,]\d)")
_ACCOUNT_GROUPED = re.compile(_NOT_BEFORE + rf"\d{{5}}{_SEP}\d{{3}}{_SEP}\d{_SEP}\d{{4}}{_SEP}\d{{7}}"
                              + _NOT_AFTER)
_PHONE = re.compile(
    r"(?<![\d+\w])(?:\+[ \u00a0]?7|8|7)[ \u00a0-]?(?:\([ \u00a0]?[3489]\d{2}[ \u00a0]?\)|[3489]\d{2})"
    r"[ \u00a0-]?\d{3}[ \u00a0-]?\d{2}[ \u00a0-]?\d{2}(?![.,]?\d)"
)
_PASSPORT = re.compile(
    r"паспорт\w*[^\d\n]{0,40}?(?<!\d)(\d{2}[ \u00a0]?\d{2})[^\d\n]{0,12}?(?<!\d)(\d{6})(?!\d)",
    re.IGNORECASE,
)
_EMAIL = re.compile(r"(?<![\w.+-])[\w.+-]{1,64}@[\w-]{1,63}(?:\.[\w-]{1,63})*\.[^\W\d_]{2,24}(?!\w)")
_BIK = re.compile(r"БИК\W{0,5}(\d{9})(?!\d)", re.IGNORECASE)
_BIK_REACH = 400  # characters either side of an account where its БИК may stand
_CONTEXT = 40  # characters before a number searched for its keyword
_KEYWORDS = {
    INN: re.compile(r"инн", re.IGNORECASE),
    SNILS: re.compile(r"снилс|страхов", re.IGNORECASE),
    OGRN: re.compile(r"огрн", re.IGNORECASE),
    CARD: re.compile(r"карт", re.IGNORECASE),
}
_NUMBERING = re.compile(r"(?:№|\bN|\bномер\w*|\bзаказ\w*|\bартикул\w*|\bарт\.)\s*$", re.IGNORECASE)


def _digits(value: str) -> str:
    return "".join(ch for ch in value if ch.isdigit())


def _keyword_near(text: str, start: int, kind: str) -> bool:
    return bool(_KEYWORDS[kind].search(text, max(0, start - _CONTEXT), start))


def _numbering(text: str, start: int, kind: str) -> bool:
    """An order/article number (after «№», «заказ»...) with no keyword of the kind nearby."""
    before = text[max(0, start - 20) : start]
    return bool(_NUMBERING.search(before)) and not _keyword_near(text, start, kind)


def _biks(text: str) -> list[tuple[int, str]]:
    return [(m.start(1), m.group(1)) for m in _BIK.finditer(text) if bik_plausible(m.group(1))]


def _account_ok(digits: str, start: int, biks: list[tuple[int, str]]) -> bool:
    """With a БИК nearby the key must match it; with none, any 20-digit number counts."""
    near = [bik for pos, bik in biks if abs(pos - start) <= _BIK_REACH]
    return not near or any(account_valid(digits, bik) for bik in near)


def _phone_like(digits: str) -> bool:
    return len(digits) == 11 and digits[0] in "78" and digits[1] in "3489"


def _classify_run(text: str, start: int, digits: str, biks: list[tuple[int, str]]) -> str | None:
    """The kind of a contiguous 10-20 digit number, or None when no checksum holds."""
    n = len(digits)
    if n in (10, 12):
        ok = inn_valid(digits) and not _numbering(text, start, INN)
        return INN if ok else None
    if n == 11:
        if _phone_like(digits) and not _keyword_near(text, start, SNILS):
            return None  # the phone pattern takes it
        return SNILS if snils_valid(digits) and not _numbering(text, start, SNILS) else None
    if n in (13, 15):
        ok = ogrn_valid(digits) and not _numbering(text, start, OGRN)
        return (OGRN if n == 13 else OGRNIP) if ok else None
    if 16 <= n <= 19:
        return CARD if luhn_valid(digits) and not _numbering(text, start, CARD) else None
    if n == 20:
        return ACCOUNT if _account_ok(digits, start, biks) else None
    return None


def _candidates(text: str, kinds: frozenset[str]) -> list[Found]:
    out: list[Found] = []
    biks = _biks(text) if ACCOUNT in kinds else []
    for m in _RUN.finditer(text):
        kind = _classify_run(text, m.start(), m.group(1), biks)
        if kind in kinds:
            out.append(Found(kind, m.start(), m.end(), m.group(1)))
    grouped = (
        (SNILS, _SNILS_GROUPED, snils_valid),
        (CARD, _CARD_GROUPED, luhn_valid),
        (ACCOUNT, _ACCOUNT_GROUPED, lambda d: True),
    )
    for kind, pattern, valid in grouped:
        if kind not in kinds:
            continue
        for m in pattern.finditer(text):
            digits = _digits(m.group(0))
            ok = valid(digits) and (kind != ACCOUNT or _account_ok(digits, m.start(), biks))
            if ok:
                out.append(Found(kind, m.start(), m.end(), digits))
    if PHONE in kinds:
        for m in _PHONE.finditer(text):
            digits = _digits(m.group(0))
            if len(digits) == 11 and not (digits.isdigit() and snils_valid(digits)
                                          and _keyword_near(text, m.start(), SNILS)):
                out.append(Found(PHONE, m.start(), m.end(), digits[1:]))
    if PASSPORT in kinds:
        for m in _PASSPORT.finditer(text):
            out.append(Found(PASSPORT, m.start(1), m.end(2), _digits(m.group(1) + m.group(2))))
    if EMAIL in kinds:
        out.extend(Found(EMAIL, m.start(), m.end(), m.group(0).lower()) for m in _EMAIL.finditer(text))
    return out


def resolve(found: list[Found]) -> list[Found]:
    """Non-overlapping spans in text order: the earliest wins, then the longest."""
    kept: list[Found] = []
    end = -1
    for item in sorted(found, key=lambda f: (f.start, -(f.end - f.start))):
        if item.start >= end:
            kept.append(item)
            end = item.end
    return kept


def find(text: str, kinds: frozenset[str] | set[str] = frozenset(RULE_KINDS)) -> list[Found]:
    """All rule-detected values of the given kinds in text, non-overlapping, in order."""
    return resolve(_candidates(text, frozenset(kinds)))
