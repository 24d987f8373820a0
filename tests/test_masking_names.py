"""Names (ФИО) with the real offline NER model shipped in the natasha wheel."""

from __future__ import annotations

import subprocess
import sys

import pytest

from gigachat.local.masking import Masker, names_missing_packages
from tests.conftest import need


@pytest.fixture(autouse=True)
def model_installed():
    missing = names_missing_packages()
    need(not missing, f"name model packages {missing} (pip install -r requirements.txt)")


CASES = [  # the same person in all six cases
    "Договор подписал Иванов Иван Петрович.",
    "Нет подписи Иванова Ивана Петровича.",
    "Передайте Иванову Ивану Петровичу акт.",
    "Прошу премировать Иванова Ивана Петровича.",
    "Договор заключён с Ивановым Иваном Петровичем.",
    "Сведения об Иванове Иване Петровиче внесены.",
]


def test_name_in_every_case_is_masked_with_one_placeholder():
    masker = Masker()
    sent = [masker.mask(text) for text in CASES]
    for text in sent:
        assert "[ФИО_1]" in text, text
        assert "Иван" not in text and "Петрович" not in text, text
    assert masker.counts() == {"ФИО": 1}
    assert masker.restore("Ответственный: [ФИО_1].") == "Ответственный: Иванов Иван Петрович."


def test_feminine_names_initials_and_word_order():
    masker = Masker()
    sent = masker.mask("Акт передан Петровой Марии Сергеевне. Подпись: М. С. Петрова. "
                       "Сидоров П. А. согласовал, Пётр Сидоров подтвердил.")
    assert "Петров" not in sent and "Сидоров" not in sent and "Марии" not in sent
    restored = masker.restore(sent)
    assert restored.startswith("Акт передан Петровой Марии Сергеевне.")
    assert masker.counts()["ФИО"] >= 3


def test_different_people_get_different_placeholders_and_organisations_survive():
    masker = Masker()
    sent = masker.mask("Директор ООО «Ромашка» Кузнецов Алексей Викторович и бухгалтер Смирнова "
                       "Ольга Николаевна, г. Москва, ПАО Сбербанк.")
    assert "[ФИО_1]" in sent and "[ФИО_2]" in sent
    for survivor in ("ООО «Ромашка»", "Москва", "ПАО Сбербанк", "Директор", "бухгалтер"):
        assert survivor in sent


def test_names_with_numbers_round_trip():
    masker = Masker()
    text = ("Работник Лебедев Дмитрий Андреевич, ИНН 500100732259, СНИЛС 112-233-445 95, "
            "тел. +7 (916) 123-45-67, сумма аванса 15 000,00 руб.")
    sent = masker.mask(text)
    assert sent == ("Работник [ФИО_1], ИНН [ИНН_1], СНИЛС [СНИЛС_1], тел. [ТЕЛЕФОН_1], "
                    "сумма аванса 15 000,00 руб.")
    assert masker.restore(sent) == text


def test_the_model_is_loaded_only_when_name_masking_is_on():
    code = (
        "import sys\n"
        "from gigachat.local.masking import Masker, names_loaded\n"
        "m = Masker(names=False); m.mask('Иванов Иван, ИНН 7707083893')\n"
        "assert not names_loaded() and 'slovnet' not in sys.modules and 'navec' not in sys.modules\n"
        "m = Masker(); print(names_loaded())\n"
        "print(m.mask('Иванов Иван, ИНН 7707083893'), names_loaded(), 'slovnet' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=240,
                         check=True).stdout.split("\n")  # fmt: skip
    assert out[0] == "False"  # creating a masker does not load the model; the first mask() does
    assert out[1] == "[ФИО_1], ИНН [ИНН_1] True True"


def test_missing_model_gives_a_russian_error(monkeypatch):
    from gigachat.local.masking import MaskingUnavailable, names

    monkeypatch.setattr(names, "_model", None)
    monkeypatch.setattr(names, "_PACKAGES", ("natasha", "no_such_model_package_xyz"))
    with pytest.raises(MaskingUnavailable) as info:
        Masker().mask("Иванов Иван")
    assert "Маскирование ФИО недоступно" in info.value.message
    assert "no_such_model_package_xyz" in info.value.message
    assert Masker(names=False).mask("ИНН 7707083893") == "ИНН [ИНН_1]"  # the rest still works
