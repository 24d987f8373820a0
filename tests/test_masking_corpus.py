"""The generated corpus: recall of the checksum kinds, survivors, and names with the real model."""

from __future__ import annotations

import pytest

from gigachat.local.masking import RULE_KINDS, Masker, detect, names_missing_packages
from tests import masking_corpus as corpus
from tests import masking_handwritten
from tests.conftest import need

CHECKSUM_KINDS = ("ИНН", "СНИЛС", "ОГРН", "ОГРНИП", "КАРТА", "СЧЕТ")


@pytest.fixture(scope="module")
def samples():
    built = corpus.build()
    assert len(built) >= 200
    return built


def test_rule_kinds_recall_precision_and_survivors(samples):
    score = corpus.score(samples, lambda text: detect(text, set(RULE_KINDS), False))
    for kind in CHECKSUM_KINDS:
        assert score.recall(kind) >= 0.99, (kind, score.fn.get(kind))
        assert score.precision(kind) == 1.0, (kind, score.fp.get(kind))
    for kind in ("ПАСПОРТ", "ТЕЛЕФОН", "ПОЧТА"):
        assert score.recall(kind) >= 0.99 and score.precision(kind) == 1.0, kind
    assert score.bad_total >= 60 and score.bad_masked == 0  # wrong checksums are never masked
    assert score.keep_total >= 200 and score.keep_masked == 0  # amounts, dates, КПП, БИК, orders


def test_names_on_the_corpus(samples):
    need(not names_missing_packages(), "name model packages (pip install -r requirements.txt)")
    score = corpus.score(samples, lambda text: detect(text, set(RULE_KINDS), True))
    assert score.tp["ФИО"] >= 150
    assert score.recall("ФИО") >= 0.95 and score.precision("ФИО") >= 0.95
    assert score.keep_masked == 0  # organisations, cities, months, «Минфина России» survive
    assert score.recall("ИНН") >= 0.99  # names do not eat numbers


def test_names_on_hand_written_sentences():
    need(not names_missing_packages(), "name model packages (pip install -r requirements.txt)")
    score = corpus.score(masking_handwritten.build(), lambda text: detect(text, set(RULE_KINDS), True))
    assert score.tp["ФИО"] >= 30
    assert score.recall("ФИО") >= 0.9 and score.precision("ФИО") >= 0.9
    assert score.keep_masked == 0


def test_every_corpus_sentence_round_trips(samples):
    need(not names_missing_packages(), "name model packages (pip install -r requirements.txt)")
    for sample in samples:
        masker = Masker()  # one request per sentence
        sent = masker.mask(sample.text)
        for kind, start, end in sample.spans:
            if kind in CHECKSUM_KINDS:
                assert sample.text[start:end] not in sent
        assert masker.restore(sent) == sample.text
