"""Check-digit validators against known-valid published numbers and one-digit corruptions."""

from __future__ import annotations

import random

import pytest

from gigachat.local.masking.checksums import (
    account_valid,
    bik_plausible,
    inn_valid,
    luhn_valid,
    ogrn_valid,
    snils_valid,
)
from tests import masking_corpus as corpus

# Published requisites: ПАО Сбербанк (ИНН, ОГРН, БИК, к/с), test card numbers of payment systems,
# the СНИЛС example of the Pension Fund's algorithm description, a typical ИНН/ОГРНИП of an ИП.
VALID = [
    (inn_valid, "7707083893"), (inn_valid, "500100732259"), (inn_valid, "7736207543"),
    (snils_valid, "11223344595"), (snils_valid, "08765430300"),
    (ogrn_valid, "1027700132195"), (ogrn_valid, "304500116000157"), (ogrn_valid, "1037739010891"),
    (luhn_valid, "4111111111111111"), (luhn_valid, "5555555555554444"), (luhn_valid, "2200000000000004"),
    (luhn_valid, "4276380012345679"),
]  # fmt: skip


@pytest.mark.parametrize(("check", "value"), VALID)
def test_known_valid_numbers_pass(check, value):
    assert check(value)


@pytest.mark.parametrize(("check", "value"), VALID)
def test_every_single_digit_corruption_of_the_check_digit_fails(check, value):
    last = int(value[-1])
    for digit in range(10):
        if digit != last:
            assert not check(value[:-1] + str(digit)), value[:-1] + str(digit)


@pytest.mark.parametrize(
    ("check", "value"),
    [(inn_valid, "770708389"), (inn_valid, "77070838931"), (inn_valid, "770708389a"),
     (inn_valid, "0000000000"), (inn_valid, "７７０７０８３８９３"),  # full-width digits
     (snils_valid, "00100199800"), (snils_valid, "1122334459"), (ogrn_valid, "2027700132195"),
     (ogrn_valid, "102770013219"), (luhn_valid, "1111111111111117"), (luhn_valid, "411111111111")],
)  # fmt: skip
def test_wrong_length_prefix_or_characters_fail(check, value):
    assert not check(value)


def _snils_body_with_sum(target: int) -> str:
    """A 9-digit body above 001-001-998 whose weighted sum (weights 9..1) is target."""
    rng = random.Random(target)
    while True:
        body = "".join(rng.choice("0123456789") for _ in range(9))
        if int(body) > 1001998 and sum(int(d) * (9 - i) for i, d in enumerate(body)) == target:
            return body


@pytest.mark.parametrize(("total", "check"), [(99, "99"), (100, "00"), (101, "00"), (150, "49"), (201, "00")])
def test_snils_check_number_rules(total, check):
    body = _snils_body_with_sum(total)
    assert snils_valid(body + check)
    assert not snils_valid(body + ("01" if check == "00" else "00"))
    assert not snils_valid("00100199800")  # at or below 001-001-998 no checksum is defined


def test_account_key_against_bik_published_sberbank_correspondent_account():
    assert bik_plausible("044525225")
    assert account_valid("30101810400000000225", "044525225")
    assert not account_valid("30101810500000000225", "044525225")
    assert not account_valid("30101810400000000225", "144525225")  # not a БИК


def test_generated_numbers_agree_with_the_validators():
    rng = random.Random(5)
    for _ in range(300):
        bik = corpus.bik(rng)
        assert inn_valid(corpus.inn10(rng)) and not inn_valid(corpus.inn10(rng, valid=False))
        assert inn_valid(corpus.inn12(rng)) and not inn_valid(corpus.inn12(rng, valid=False))
        assert snils_valid(corpus.snils(rng, formatted=False))
        assert not snils_valid(corpus.snils(rng, valid=False, formatted=False))
        assert ogrn_valid(corpus.ogrn(rng)) and not ogrn_valid(corpus.ogrn(rng, valid=False))
        assert ogrn_valid(corpus.ogrn(rng, ip=True))
        assert luhn_valid(corpus.card(rng, sep="")) and not luhn_valid(corpus.card(rng, False, sep=""))
        assert account_valid(corpus.account(rng, bik), bik)
        assert not account_valid(corpus.account(rng, bik, valid=False), bik)
