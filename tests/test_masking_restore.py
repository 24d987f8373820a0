"""Placeholders: stable within a request, restored in text, HTML, JSON data and streams."""

from __future__ import annotations

import json
import random

import pytest

from gigachat.local.masking import Masker
from gigachat.local.render import markdown_to_html

TEXT = (
    "Контрагент: ИНН 7707083893, ОГРН 1027700132195, р/с 40702810938000012345, "
    "БИК 044525225. Контакт: +7 (916) 123-45-67, buh@romashka.ru, карта 4111 1111 1111 1111. "
    "Повторно: ИНН 7707083893, телефон 8 916 123 45 67, почта BUH@Romashka.ru."
)
VALUES = ("7707083893", "1027700132195", "40702810938000012345", "+7 (916) 123-45-67",
          "buh@romashka.ru", "4111 1111 1111 1111")  # fmt: skip


def masked() -> tuple[Masker, str]:
    masker = Masker(names=False)
    return masker, masker.mask(TEXT)


def test_values_are_replaced_and_nothing_of_them_is_left():
    masker, sent = masked()
    for value in VALUES:
        assert value not in sent
    assert "7707083893" not in sent and "4111" not in sent and "romashka" not in sent.lower()
    assert "БИК 044525225" in sent  # not personal data, not masked


def test_same_value_same_placeholder_normalised():
    masker, sent = masked()
    assert sent.count("[ИНН_1]") == 2
    assert sent.count("[ТЕЛЕФОН_1]") == 2  # +7 (916) 123-45-67 == 8 916 123 45 67
    assert sent.count("[ПОЧТА_1]") == 2  # case-insensitive e-mail
    assert "[ИНН_2]" not in sent
    assert masker.counts() == {"ИНН": 1, "ОГРН": 1, "КАРТА": 1, "СЧЕТ": 1, "ТЕЛЕФОН": 1, "ПОЧТА": 1}


def test_numbering_continues_across_texts_of_one_request_and_restarts_per_masker():
    masker = Masker(names=False)
    assert masker.mask("ИНН 7707083893") == "ИНН [ИНН_1]"
    assert masker.mask("ИНН 500100732259 и 7707083893") == "ИНН [ИНН_2] и [ИНН_1]"
    assert masker.counts() == {"ИНН": 2}
    assert Masker(names=False).mask("ИНН 500100732259") == "ИНН [ИНН_1]"


def test_mask_then_restore_gives_the_original():
    masker, sent = masked()
    restored = masker.restore(sent)
    first_forms = TEXT.replace("8 916 123 45 67", "+7 (916) 123-45-67").replace("BUH@Romashka.ru",
                                                                             "buh@romashka.ru")
    assert restored == first_forms  # a repeated value comes back in its first written form
    exact = Masker(names=False)
    text = "ИНН 7707083893; ИНН 7707083893; карта 4111111111111111."
    assert exact.restore(exact.mask(text)) == text


@pytest.mark.parametrize(
    "written",
    ["[ИНН_1]", "[инн_1]", "[ ИНН_1 ]", "[ИНН 1]", "[ИНН-1]", "[Инн_01]", "ИНН_1", "\\[ИНН\\_1\\]",
     "[ИНН1]"],
)
def test_restore_tolerates_what_models_do_to_placeholders(written):
    masker, _ = masked()
    assert masker.restore(f"ИНН клиента: {written}.") == "ИНН клиента: 7707083893."


def test_restore_leaves_unknown_and_unrelated_text_alone():
    masker, _ = masked()
    text = "[ИНН_7] и [ФИО_1] и ИННА_1 и [ИНН_1a] и ИНН_12 и просто [ссылка]"
    assert masker.restore(text) == text
    assert masker.restore("[СЧЁТ_1]") == "40702810938000012345"


def test_placeholder_like_text_in_the_input_is_not_taken_over():
    masker = Masker(names=False)
    sent = masker.mask("Шаблон «[ИНН_1]» заполнить: ИНН 7707083893")
    assert sent == "Шаблон «[ИНН_1]» заполнить: ИНН [ИНН_2]"
    assert masker.restore(sent) == "Шаблон «[ИНН_1]» заполнить: ИНН 7707083893"


def test_restore_nested_json_data():
    masker, _ = masked()
    data = {"ИНН": "[ИНН_1]", "Сумма": 2450000, "Оплачено": True, "Дата": None,
            "Контакты": ["[ТЕЛЕФОН_1]", {"Почта": "почта: [ПОЧТА_1]"}],
            "Товары": [{"Наименование": "Бумага", "Карта": "[КАРТА_1]"}]}  # fmt: skip
    restored = masker.restore(data)
    assert restored == {"ИНН": "7707083893", "Сумма": 2450000, "Оплачено": True, "Дата": None,
                        "Контакты": ["+7 (916) 123-45-67", {"Почта": "почта: buh@romashka.ru"}],
                        "Товары": [{"Наименование": "Бумага", "Карта": "4111 1111 1111 1111"}]}  # fmt: skip
    assert data["ИНН"] == "[ИНН_1]"  # the input is not changed in place
    json.dumps(restored, ensure_ascii=False)


def test_restore_html_after_real_markdown_rendering():
    masker = Masker(names=False)
    masker.mask("ИНН 7707083893 и buh@romashka.ru")
    answer = ("**ИНН:** [ИНН_1]\n\n| Поле | Значение |\n|---|---|\n| ИНН | **[ИНН_1]** |\n"
              "| Почта | [ПОЧТА_1] |\n\n*ИНН_1* и \\[ИНН\\_1\\] и [ИНН_1](https://example.ru)")
    page = masker.restore_html(markdown_to_html(answer))
    assert "ИНН_1" not in page and "ПОЧТА_1" not in page
    assert page.count("7707083893") == 5
    assert "buh@romashka.ru" in page


def test_restore_html_escapes_values_and_keeps_tags_balanced():
    masker = Masker(names=False)
    masker._placeholder("ПОЧТА", "x", "<script>alert(1)</script>@x.ru")  # a hostile "original"
    masker.mask("ИНН 7707083893")
    page = masker.restore_html("<p>[ПОЧТА_1] <strong>[ИНН_1</strong>] [<em>ИНН</em>_1]</p>")
    assert "<script>" not in page and "&lt;script&gt;" in page
    assert page.endswith("<strong>7707083893</strong> 7707083893<em></em></p>")


def test_stream_restores_placeholders_split_across_chunks_at_every_cut():
    masker, sent = masked()
    answer = "Итог: [ИНН_1], \\[ИНН\\_1\\], [ ТЕЛЕФОН_1 ], ПОЧТА_1 и ИНН_1. Всё."
    expected = masker.restore(answer)
    for cut in range(len(answer) + 1):
        stream = masker.restore_stream()
        out = stream.feed(answer[:cut]) + stream.feed(answer[cut:]) + stream.finish()
        assert out == expected, cut
        assert stream.text == expected
    rng = random.Random(3)
    for _ in range(200):
        stream = masker.restore_stream()
        pos, out, partials = 0, "", []
        while pos < len(answer):
            step = rng.randint(1, 5)
            out += stream.feed(answer[pos : pos + step])
            pos += step
            partials.append(stream.text)
        out += stream.finish()
        assert out == expected
        # every partial is a prefix of the final text: never a half placeholder, never a rewrite
        assert all(expected.startswith(p) for p in partials)


def test_stream_without_placeholders_passes_text_through():
    masker, _ = masked()
    stream = masker.restore_stream()
    assert stream.feed("Сумма 15 000 руб. ") == "Сумма 15 000 руб. "
    assert stream.feed("[ссылка] ") == "[ссылка] "
    assert stream.finish() == ""


def test_values_never_show_in_repr_or_counts():
    masker, _ = masked()
    shown = repr(masker) + str(masker.counts()) + repr(masker.restore_stream())
    for value in VALUES:
        assert value not in shown
    assert "ИНН" in repr(masker)


def test_mask_rejects_non_text():
    with pytest.raises(TypeError):
        Masker(names=False).mask("ИНН 7707083893".encode())


@pytest.mark.parametrize(
    "text",
    ["1" * 1_000_000, "1234 " * 200_000, "а" * 1_000_000, "a@" * 500_000, "a@b." * 250_000,
     "паспорт " * 125_000, "[ИНН " * 200_000, "ИНН 7707083893 a@b.ru паспорт 4508 123456 " * 20_000,
     "ИНН 7707083893 \ud800 \x00 \ufeff конец"],
    ids=["digits", "groups", "letters", "at", "dots", "passport", "brackets", "mixed", "surrogates"],
)  # fmt: skip
def test_hostile_megabyte_inputs_stay_linear_and_round_trip(text):
    import time

    masker = Masker(names=False)
    started = time.monotonic()
    sent = masker.mask(text)
    assert masker.restore(sent) == text
    stream = masker.restore_stream()
    out = "".join(stream.feed(sent[i : i + 997]) for i in range(0, len(sent), 997)) + stream.finish()
    assert out == text
    assert time.monotonic() - started < 30  # measured about 0.5 s; quadratic would be minutes
