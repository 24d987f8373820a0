"""Check digits of Russian identifiers: ИНН, СНИЛС, ОГРН/ОГРНИП, bank cards, bank accounts.

Every function takes a string of digits only (callers strip separators) and returns a bool;
a wrong length or a non-digit is simply invalid.
"""

from __future__ import annotations

_INN10 = (2, 4, 10, 3, 5, 9, 4, 6, 8)
_INN11 = (7, 2, 4, 10, 3, 5, 9, 4, 6, 8)
_INN12 = (3, 7, 2, 4, 10, 3, 5, 9, 4, 6, 8)
_ACCOUNT = (7, 1, 3) * 8  # 23 weights: the БИК's 3 digits + 20 digits of the account


def _weighted(digits: str, weights: tuple[int, ...]) -> int:
    return sum(int(d) * w for d, w in zip(digits, weights, strict=False))


def _is_digits(value: str, *lengths: int) -> bool:
    return len(value) in lengths and value.isascii() and value.isdigit()


def inn_valid(value: str) -> bool:
    """ИНН: 10 digits (organisation) or 12 digits (person, ИП), control digits mod 11 mod 10."""
    if not _is_digits(value, 10, 12) or value.startswith("00"):
        return False
    if len(value) == 10:
        return _weighted(value, _INN10) % 11 % 10 == int(value[9])
    return (
        _weighted(value, _INN11) % 11 % 10 == int(value[10])
        and _weighted(value, _INN12) % 11 % 10 == int(value[11])
    )


def snils_valid(value: str) -> bool:
    """СНИЛС: 11 digits; the last two are a checksum (defined for numbers above 001-001-998)."""
    if not _is_digits(value, 11) or int(value[:9]) <= 1001998:
        return False
    total = sum(int(d) * (9 - i) for i, d in enumerate(value[:9]))
    check = total % 101
    if check == 100:
        check = 0
    return check == int(value[9:])


def ogrn_valid(value: str) -> bool:
    """ОГРН (13 digits, starts with 1 or 5) or ОГРНИП (15 digits, starts with 3)."""
    if _is_digits(value, 13):
        return value[0] in "15" and int(value[:12]) % 11 % 10 == int(value[12])
    if _is_digits(value, 15):
        return value[0] == "3" and int(value[:14]) % 13 % 10 == int(value[14])
    return False


def luhn_valid(value: str) -> bool:
    """Bank card number: 16-19 digits, Luhn checksum, a real payment-system first digit."""
    if not _is_digits(value, 16, 17, 18, 19) or value[0] not in "23456":
        return False
    total = 0
    for i, d in enumerate(reversed(value)):
        n = int(d)
        if i % 2:
            n = n * 2 - 9 if n > 4 else n * 2
        total += n
    return total % 10 == 0


def bik_plausible(value: str) -> bool:
    """БИК of a Russian bank: 9 digits starting with 04."""
    return _is_digits(value, 9) and value.startswith("04")


def account_valid(account: str, bik: str) -> bool:
    """20-digit account against a БИК: the control key (weights 7-1-3, sum mod 10 == 0).

    A correspondent account (30101...) is keyed with «0» + digits 5-6 of the БИК, any other
    account with the БИК's last three digits (the Bank of Russia's rule).
    """
    if not _is_digits(account, 20) or not bik_plausible(bik):
        return False
    prefix = "0" + bik[4:6] if account.startswith("30101") else bik[-3:]
    return _weighted(prefix + account, _ACCOUNT) % 10 == 0
