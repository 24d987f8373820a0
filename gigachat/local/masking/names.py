"""Personal names (ФИО) by natasha's Russian NER model, run offline, loaded on first use.

The model files ship inside the natasha wheel (navec embeddings + slovnet NER); they are run
with slovnet/navec directly, and names are lemmatised with pymorphy3 (natasha's own
morphology needs pymorphy2, which does not work on Python 3.11). Nothing is downloaded.
"""

from __future__ import annotations

import importlib.util
import os
import re
import sys
import threading
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from gigachat.core.errors import BridgeError
from gigachat.local.masking.detectors import NAME, Found

_PACKAGES = ("natasha", "slovnet", "navec", "razdel", "numpy", "pymorphy3", "pymorphy3_dicts_ru")
_NAVEC = "data/emb/navec_news_v1_1B_250K_300d_100q.tar"
_NER = "data/model/slovnet_ner_news_v1.tar"
_WORD = re.compile(r"[^\W\d_]+(?:-[^\W\d_]+)*")
_NAME_TAGS = ("Name", "Surn", "Patr")
_MAX_SENTENCE = 2000  # characters; longer "sentences" (tables, lists) are cut for the model
# The model's matrices are small: BLAS threads only fight each other (measured 20x slower on a
# busy 2-core machine). Applies when numpy is first imported here, as it is in the bridge.
_BLAS_THREADS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")


class MaskingUnavailable(BridgeError):
    """Name masking was asked for but the model packages are not installed."""

    def __init__(self, missing: str) -> None:
        super().__init__(
            "Маскирование ФИО недоступно: не установлен пакет модели распознавания имён "
            f"({missing}). Переустановите программу или отключите маскирование ФИО.",
            "masking_unavailable",
        )


@dataclass
class _Model:
    ner: object
    morph: object
    sentenize: object
    lock: threading.Lock


_model: _Model | None = None
_load_lock = threading.Lock()


def missing_packages() -> list[str]:
    """The packages of the name model that cannot be imported here (empty when all are)."""
    return [name for name in _PACKAGES if importlib.util.find_spec(name) is None]


def loaded() -> bool:
    return _model is not None


def _data_dir() -> Path:
    """natasha's data folder, found without importing natasha (its import needs pymorphy2)."""
    spec = importlib.util.find_spec("natasha")
    return Path(next(iter(spec.submodule_search_locations)))


def load() -> _Model:
    """Load the model once per process (thread-safe); raise MaskingUnavailable if missing."""
    global _model
    if _model is not None:
        return _model
    with _load_lock:
        if _model is None:
            missing = missing_packages()
            if missing:
                raise MaskingUnavailable(", ".join(missing))
            if "numpy" not in sys.modules:
                for name in _BLAS_THREADS:
                    os.environ.setdefault(name, "1")
            import pymorphy3
            from navec import Navec
            from razdel import sentenize
            from slovnet import NER

            base = _data_dir()
            ner = NER.load(str(base / _NER))
            ner.navec(Navec.load(str(base / _NAVEC)))
            morph = pymorphy3.MorphAnalyzer()
            _model = _Model(ner, morph, sentenize, threading.Lock())
    return _model


@lru_cache(maxsize=4096)
def _lemma(word: str) -> str:
    """The dictionary form of one name word, preferring a name/surname/patronymic parse."""
    lower = word.lower().replace("ё", "е")
    if len(lower) <= 2:
        return lower  # an initial
    parses = load().morph.parse(lower)
    best = next((p for p in parses if any(t in p.tag for t in _NAME_TAGS)), parses[0])
    return best.normal_form.replace("ё", "е")


def name_key(surface: str) -> str:
    """Identity of a name across cases and word order: «Иванову И.И.» == «Иванов И. И.»."""
    return " ".join(sorted(_lemma(w) for w in _WORD.findall(surface)))


def _is_name(surface: str) -> bool:
    """A capitalised span with a word the dictionary knows as a name (or does not know)."""
    words = [w for w in _WORD.findall(surface) if len(w) > 2]
    if not words or not any(w[0].isupper() for w in words):
        return False
    morph = load().morph
    for word in words:
        parses = morph.parse(word.lower())
        if not morph.word_is_known(word.lower()) or any(
            t in p.tag for p in parses for t in _NAME_TAGS
        ):
            return True
    return False


def _spans(text: str) -> list[tuple[int, int]]:
    """PER spans of the NER model, sentence by sentence (absolute offsets)."""
    model = load()
    pieces = []
    for sent in model.sentenize(text):
        for off in range(0, len(sent.text), _MAX_SENTENCE):
            pieces.append((sent.start + off, sent.text[off : off + _MAX_SENTENCE]))
    spans = []
    with model.lock:
        markups = list(model.ner.map([piece for _, piece in pieces]))
    for (offset, _), markup in zip(pieces, markups, strict=True):
        for span in markup.spans:
            if span.type == "PER":
                spans.append((offset + span.start, offset + span.stop))
    merged: list[tuple[int, int]] = []
    for start, end in sorted(spans):  # the model sometimes cuts «Иванову | Ивану Ивановичу»
        if merged and not text[merged[-1][1] : start].strip():
            merged[-1] = (merged[-1][0], end)
        else:
            merged.append((start, end))
    return merged


def _trim(text: str, start: int, end: int) -> tuple[int, int]:
    """Drop punctuation around a span, keeping the dot of a final initial («П. А.»)."""
    while start < end and not text[start].isalpha():
        start += 1
    while end > start and not text[end - 1].isalpha():
        if text[end - 1] == "." and end - start >= 2 and _initial_before(text, start, end - 1):
            break
        end -= 1
    if text[end : end + 1] == "." and end - start >= 2 and _initial_before(text, start, end):
        end += 1  # the model stopped at «А» of «П. А.»
    return start, end


_NEXT_WORD = re.compile(r"[ \u00a0]([А-ЯЁ][а-яё]+(?:-[А-ЯЁ][а-яё]+)?)(?!\w)")
_PREV_WORD = re.compile(r"(?<!\w)([А-ЯЁ][а-яё]+(?:-[А-ЯЁ][а-яё]+)?)[ \u00a0]$")


def _extend(text: str, start: int, end: int) -> tuple[int, int]:
    """Take in a neighbouring surname the model left out («о [Орлове] Андрее Сергеевиче»)."""
    before = _PREV_WORD.search(text, max(0, start - 40), start)
    if before and "Surn" in _name_tags(before.group(1)):
        start = before.start(1)
    after = _NEXT_WORD.match(text, end)
    if after and "Surn" in _name_tags(after.group(1)):
        end = after.end(1)
    return start, end


def _initial_before(text: str, start: int, dot: int) -> bool:
    return text[dot - 1].isupper() and (dot - 1 == start or not text[dot - 2].isalpha())


_CAPS_WORD = r"[А-ЯЁ]{2,}(?:-[А-ЯЁ]{2,})?"
_CAPS_RUN = re.compile(rf"(?<!\w){_CAPS_WORD}(?:[ \u00a0]+{_CAPS_WORD})+(?!\w)")
_ABBREVIATIONS = frozenset((
    "ИНН", "КПП", "ОГРН", "ОГРНИП", "СНИЛС", "БИК", "НДС", "ООО", "ОАО", "ЗАО", "ПАО", "НКО", "ИП",
    "РФ", "УПД", "ТОРГ", "ИФНС", "ФНС", "ПФР", "СФР", "ФСС", "МРОТ", "ГРН", "ОКПО", "ОКВЭД",
    "ОКТМО", "СЧЕТ", "СЧЁТ", "АКТ", "ДОГОВОР", "ПАСПОРТ", "КАРТА", "ТЕЛЕФОН", "ПОЧТА", "ФИО",
))  # fmt: skip


def _name_tags(word: str) -> set[str]:
    if len(word) < 3 or word in _ABBREVIATIONS:
        return set()
    return {t for p in load().morph.parse(word.lower()) for t in _NAME_TAGS if t in p.tag}


def _caps_spans(text: str) -> list[tuple[int, int]]:
    """ФИО written in capitals («ИВАНОВ ИВАН ИВАНОВИЧ»), which the model does not see as names.

    Two or three capitalised words in a row, one a first name and another a surname or a
    patronymic by the dictionary.
    """
    spans = []
    for run in _CAPS_RUN.finditer(text):
        words = [(m.start(), m.end(), _name_tags(m.group(0))) for m in re.finditer(_CAPS_WORD, run.group(0))]
        group: list[tuple[int, int, set[str]]] = []
        for word in [*words, (0, 0, set())]:
            if word[2] and len(group) < 3:
                group.append(word)
                continue
            names = [i for i, w in enumerate(group) if "Name" in w[2]]
            others = [i for i, w in enumerate(group) if w[2] & {"Surn", "Patr"}]
            if any(i != j for i in names for j in others):
                spans.append((run.start() + group[0][0], run.start() + group[-1][1]))
            group = [word] if word[2] else []
    return spans


def find_names(text: str) -> list[Found]:
    """Names in text (the model's spans plus other exact mentions of the same surfaces)."""
    found = []
    surfaces: dict[str, str] = {}
    spans = _spans(text)
    spans += [s for s in _caps_spans(text) if not any(s[0] < e and b < s[1] for b, e in spans)]
    for raw_start, raw_end in spans:
        start, end = _extend(text, *_trim(text, raw_start, raw_end))
        surface = text[start:end]
        if _is_name(surface):
            key = surfaces.setdefault(surface, name_key(surface))
            found.append(Found(NAME, start, end, key))
    taken = {(f.start, f.end) for f in found}
    for surface, key in surfaces.items():
        if len(surface) < 4:
            continue
        for m in re.finditer(rf"(?<!\w){re.escape(surface)}(?!\w)", text):
            if (m.start(), m.end()) not in taken:
                found.append(Found(NAME, m.start(), m.end(), key))
    return found
