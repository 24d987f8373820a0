"""Each rule detector: what it masks, and the look-alikes that must survive."""

from __future__ import annotations

import pytest

from gigachat.local.masking import RULE_KINDS, Masker, detect

SBER = "ИНН 7707083893, КПП 773601001, ОГРН 1027700132195, БИК 044525225, к/с 30101810400000000225"


def kinds_found(text: str) -> list[tuple[str, str]]:
    return [(f.kind, text[f.start : f.end]) for f in detect(text, set(RULE_KINDS), False)]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("ИНН 7707083893.", [("ИНН", "7707083893")]),
        ("ИНН ИП: 500100732259", [("ИНН", "500100732259")]),
        ("СНИЛС 112-233-445 95", [("СНИЛС", "112-233-445 95")]),
        ("СНИЛС 112-233-445-95", [("СНИЛС", "112-233-445-95")]),
        ("СНИЛС 11223344595", [("СНИЛС", "11223344595")]),
        ("ОГРН 1027700132195", [("ОГРН", "1027700132195")]),
        ("ОГРНИП 304500116000157", [("ОГРНИП", "304500116000157")]),
        ("паспорт 45 08 123456", [("ПАСПОРТ", "45 08 123456")]),
        ("паспорт серии 4508 номер 123456, выдан 12.03.2015", [("ПАСПОРТ", "4508 номер 123456")]),
        ("Паспорт РФ: серия 45 08 № 123456", [("ПАСПОРТ", "45 08 № 123456")]),
        ("карта 4111 1111 1111 1111", [("КАРТА", "4111 1111 1111 1111")]),
        ("карта 4111-1111-1111-1111", [("КАРТА", "4111-1111-1111-1111")]),
        ("карта 4111111111111111", [("КАРТА", "4111111111111111")]),
        ("карта 2200 0000 0000 0000 04", [("КАРТА", "2200 0000 0000 0000 04")]),  # 18 digits
        ("р/с 40817 810 0 0000 1234567", [("СЧЕТ", "40817 810 0 0000 1234567")]),
        ("счёт 40702810938000012345", [("СЧЕТ", "40702810938000012345")]),
        ("тел. +7 (916) 123-45-67", [("ТЕЛЕФОН", "+7 (916) 123-45-67")]),
        ("тел. 8 (495) 123-45-67", [("ТЕЛЕФОН", "8 (495) 123-45-67")]),
        ("тел. 8-800-555-35-35", [("ТЕЛЕФОН", "8-800-555-35-35")]),
        ("тел. +79161234567", [("ТЕЛЕФОН", "+79161234567")]),
        ("тел. 89161234567", [("ТЕЛЕФОН", "89161234567")]),
        ("тел. +7 916 123 45 67", [("ТЕЛЕФОН", "+7 916 123 45 67")]),
        ("пишите на Ivan.Petrov+1c@Romashka-Group.ru.", [("ПОЧТА", "Ivan.Petrov+1c@Romashka-Group.ru")]),
        ("пишите на бухгалтер@почта.рф", [("ПОЧТА", "бухгалтер@почта.рф")]),
    ],
)
def test_detects(text, expected):
    assert kinds_found(text) == expected


def test_bank_requisites_mask_inn_ogrn_and_account_but_not_kpp_or_bik():
    found = kinds_found(SBER)
    assert found == [("ИНН", "7707083893"), ("ОГРН", "1027700132195"), ("СЧЕТ", "30101810400000000225")]


@pytest.mark.parametrize(
    "text",
    [
        "ИНН 7707083894",  # bad check digit
        "ИНН 500100732250",
        "СНИЛС 112-233-445 96",
        "ОГРН 1027700132196",
        "карта 4111 1111 1111 1112",
        "к/с 30101810500000000225, БИК 044525225",  # the key does not match the БИК
        "Сумма 1234567890,50 руб.",  # ten digits with kopecks
        "Сумма 7707083893.00 руб.",  # a valid ИНН's digits, but a decimal amount
        "Заказ № 7707083893 от 01.02.2026",  # an order number that happens to pass the checksum
        "Артикул 7707083893",
        "КПП 773601001, БИК 044525225",
        "Дата 01.12.2026, время 10:30, 15 000 руб., 1 250 000,00 руб.",
        "паспорт не предъявлен, заказ 123456",
        "Номер 4508 123456 без слова о документе",
        "тел. 8 (123) 456-78-90",  # no such Russian code
    ],
)
def test_look_alikes_survive(text):
    assert kinds_found(text) == []
    assert Masker(names=False).mask(text) == text


def test_account_without_a_bik_nearby_is_masked_with_one_it_must_match():
    assert kinds_found("счёт 40702810500000000001") == [("СЧЕТ", "40702810500000000001")]
    far = "счёт 40702810500000000001." + " Прочее." * 100 + " БИК 044525225"
    assert kinds_found(far) == [("СЧЕТ", "40702810500000000001")]
    assert kinds_found("счёт 40702810500000000001, БИК 044525225") == []


def test_kinds_can_be_chosen():
    text = "ИНН 7707083893, тел. +7 916 123-45-67"
    masker = Masker(kinds={"ТЕЛЕФОН"}, names=False)
    assert masker.mask(text) == "ИНН 7707083893, тел. [ТЕЛЕФОН_1]"
    with pytest.raises(ValueError):
        Masker(kinds={"ИМЯ"})


def test_masking_package_is_pure_code():
    """It imports only the standard library, gigachat.core and itself (no routes, no desktop)."""
    import ast
    from pathlib import Path

    import gigachat.local.masking as package

    for path in Path(package.__file__).parent.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else (
                [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            for name in names:
                if name.startswith("gigachat"):
                    assert name.startswith(("gigachat.core", "gigachat.local.masking")), (path, name)
                assert not name.startswith(("bottle", "logging")), (path, name)  # no I/O, no logs
