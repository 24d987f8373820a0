"""A generated corpus of Russian business sentences with personal data marked up.

`build(seed)` returns Samples: the text, the spans that must be masked (kind, start, end)
and the spans that must survive (amounts, dates, order numbers, КПП, БИК, and numbers whose
checksum is wrong). Used by tests/test_masking_corpus.py and bench/masking.py.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

KEEP = "KEEP"  # a span that must survive unmasked
BAD = "BAD"  # a number with a wrong checksum: must survive too (counted as a false positive)


@dataclass
class Sample:
    text: str
    spans: list[tuple[str, int, int]] = field(default_factory=list)  # (kind | KEEP | BAD, start, end)


def compose(*parts: str | tuple[str, str]) -> Sample:
    """Join parts; a (kind, value) part is recorded as a span of that kind."""
    text, spans = "", []
    for part in parts:
        if isinstance(part, tuple):
            kind, value = part
            spans.append((kind, len(text), len(text) + len(value)))
            text += value
        else:
            text += part
    return Sample(text, spans)


# -- numbers with check digits -------------------------------------------------------------


def _digits(rng: random.Random, n: int) -> str:
    return "".join(rng.choice("0123456789") for _ in range(n))


def _wsum(digits: str, weights: tuple[int, ...]) -> int:
    return sum(int(d) * w for d, w in zip(digits, weights, strict=False))


def inn10(rng, valid=True) -> str:
    body = f"{rng.randint(1, 92):02d}" + _digits(rng, 7)
    check = _wsum(body, (2, 4, 10, 3, 5, 9, 4, 6, 8)) % 11 % 10
    return body + str(check if valid else (check + rng.randint(1, 9)) % 10)


def inn12(rng, valid=True) -> str:
    body = f"{rng.randint(1, 92):02d}" + _digits(rng, 8)
    c11 = _wsum(body, (7, 2, 4, 10, 3, 5, 9, 4, 6, 8)) % 11 % 10
    c12 = _wsum(body + str(c11), (3, 7, 2, 4, 10, 3, 5, 9, 4, 6, 8)) % 11 % 10
    if not valid:
        c12 = (c12 + rng.randint(1, 9)) % 10
    return body + str(c11) + str(c12)


def snils(rng, valid=True, formatted=True) -> str:
    body = str(rng.randint(1, 6)) + _digits(rng, 8)  # never 7/8 first: those read as phones
    total = sum(int(d) * (9 - i) for i, d in enumerate(body))
    check = total % 101 % 100
    if not valid:
        check = (check + rng.randint(1, 99)) % 100
    tail = f"{check:02d}"
    if formatted:
        return f"{body[:3]}-{body[3:6]}-{body[6:]} {tail}"
    return body + tail


def ogrn(rng, valid=True, ip=False) -> str:
    body = ("3" + _digits(rng, 13)) if ip else (rng.choice("15") + _digits(rng, 11))
    check = int(body) % (13 if ip else 11) % 10
    return body + str(check if valid else (check + rng.randint(1, 9)) % 10)


def _luhn_check(body: str) -> int:
    total = 0
    for i, d in enumerate(reversed(body)):
        n = int(d)
        if i % 2 == 0:
            n = n * 2 - 9 if n > 4 else n * 2
        total += n
    return (10 - total % 10) % 10


def card(rng, valid=True, length=16, sep=" ") -> str:
    body = rng.choice(("2200", "2202", "4276", "4111", "5469", "5536", "6762")) + _digits(rng, length - 5)
    check = _luhn_check(body)
    number = body + str(check if valid else (check + rng.randint(1, 9)) % 10)
    if not sep:
        return number
    return sep.join(number[i : i + 4] for i in range(0, len(number), 4))


def bik(rng) -> str:
    return "04" + _digits(rng, 4) + f"{rng.randint(100, 999)}"


def account(rng, bank_bik: str, valid=True, prefix="40702810") -> str:
    acc = prefix + "0" + _digits(rng, 11)
    weights = (7, 1, 3) * 8
    total = _wsum(bank_bik[-3:] + acc, weights)
    key = (10 - total % 10) * 7 % 10  # the key's weight is 3, and 3 * 7 = 21 = 1 (mod 10)
    if not valid:
        key = (key + rng.randint(1, 9)) % 10
    return acc[:8] + str(key) + acc[9:]


def phone(rng) -> str:
    code = rng.choice(("916", "903", "925", "495", "812", "843", "383", "800", "999"))
    a, b, c = _digits(rng, 3), _digits(rng, 2), _digits(rng, 2)
    return rng.choice((
        f"+7 ({code}) {a}-{b}-{c}", f"8 ({code}) {a}-{b}-{c}", f"+7{code}{a}{b}{c}",
        f"8{code}{a}{b}{c}", f"+7 {code} {a} {b} {c}", f"8-{code}-{a}-{b}-{c}", f"8 {code} {a}{b}{c}",
    ))  # fmt: skip


def passport(rng) -> str:
    series = f"{rng.randint(1, 99):02d}{rng.randint(0, 25):02d}"
    number = f"{rng.randint(100000, 999999)}"
    return rng.choice((f"{series[:2]} {series[2:]} № {number}", f"{series} {number}",
                       f"{series[:2]} {series[2:]} {number}", f"{series} № {number}"))


# -- people ----------------------------------------------------------------------------------

# (nominative, genitive, dative, accusative, instrumental, prepositional)
MALE_FIRST = {
    "Иван": ("Иван", "Ивана", "Ивану", "Ивана", "Иваном", "Иване"),
    "Пётр": ("Пётр", "Петра", "Петру", "Петра", "Петром", "Петре"),
    "Алексей": ("Алексей", "Алексея", "Алексею", "Алексея", "Алексеем", "Алексее"),
    "Дмитрий": ("Дмитрий", "Дмитрия", "Дмитрию", "Дмитрия", "Дмитрием", "Дмитрии"),
    "Сергей": ("Сергей", "Сергея", "Сергею", "Сергея", "Сергеем", "Сергее"),
    "Михаил": ("Михаил", "Михаила", "Михаилу", "Михаила", "Михаилом", "Михаиле"),
    "Андрей": ("Андрей", "Андрея", "Андрею", "Андрея", "Андреем", "Андрее"),
    "Николай": ("Николай", "Николая", "Николаю", "Николая", "Николаем", "Николае"),
}
FEMALE_FIRST = {
    "Мария": ("Мария", "Марии", "Марии", "Марию", "Марией", "Марии"),
    "Анна": ("Анна", "Анны", "Анне", "Анну", "Анной", "Анне"),
    "Елена": ("Елена", "Елены", "Елене", "Елену", "Еленой", "Елене"),
    "Ольга": ("Ольга", "Ольги", "Ольге", "Ольгу", "Ольгой", "Ольге"),
    "Татьяна": ("Татьяна", "Татьяны", "Татьяне", "Татьяну", "Татьяной", "Татьяне"),
    "Наталья": ("Наталья", "Натальи", "Наталье", "Наталью", "Натальей", "Наталье"),
}
PATRONYMIC_STEMS = ("Иванов", "Петров", "Сергеев", "Алексеев", "Андреев", "Николаев", "Михайлов",
                    "Викторов", "Владимиров")
SURNAME_STEMS = ("Иванов", "Смирнов", "Кузнецов", "Попов", "Соколов", "Лебедев", "Морозов",
                 "Волков", "Фёдоров", "Захаров", "Белов", "Орлов", "Никитин", "Голубев")
SKY_STEMS = ("Ковальск", "Вишневск", "Покровск", "Заречн")
_OV_M = ("", "а", "у", "а", "ым", "е")
_OV_F = ("а", "ой", "ой", "у", "ой", "ой")
_SKY_M = ("ий", "ого", "ому", "ого", "им", "ом")
_SKY_F = ("ая", "ой", "ой", "ую", "ой", "ой")
_PATR_M = ("ич", "ича", "ичу", "ича", "ичем", "иче")
_PATR_F = ("на", "ны", "не", "ну", "ной", "не")


def person(rng) -> tuple[bool, tuple[str, ...], tuple[str, ...], tuple[str, ...]]:
    """(female, first names by case, patronymics by case, surnames by case)."""
    female = rng.random() < 0.45
    first = rng.choice(list((FEMALE_FIRST if female else MALE_FIRST).values()))
    patr_stem = rng.choice(PATRONYMIC_STEMS)
    patr = tuple(patr_stem + e for e in (_PATR_F if female else _PATR_M))
    if rng.random() < 0.2:
        stem = rng.choice(SKY_STEMS)
        surname = tuple(stem + e for e in (_SKY_F if female else _SKY_M))
    else:
        stem = rng.choice(SURNAME_STEMS)
        surname = tuple(stem + e for e in (_OV_F if female else _OV_M))
    return female, first, patr, surname


def caps_name(rng) -> str:
    """A full name in capitals, as 1C printouts and passports write it."""
    _, first, patr, surname = person(rng)
    return f"{surname[0]} {first[0]} {patr[0]}".upper()


def name_forms(rng, case: int) -> str:
    female, first, patr, surname = person(rng)
    style = rng.randrange(4)
    if style == 0:
        return f"{surname[case]} {first[case]} {patr[case]}"
    if style == 1:
        return f"{first[case]} {patr[case]} {surname[case]}"
    if style == 2:
        return f"{surname[case]} {first[0][0]}. {patr[0][0]}."
    return f"{first[case]} {surname[case]}"


NAME_TEMPLATES = (  # by case: nominative .. prepositional
    ("Ответственное лицо по договору: ", ", подпись заверена печатью."),
    ("Получено заявление от ", " о выдаче аванса на командировку."),
    ("Направить ", " счёт на оплату до конца недели."),
    ("Прошу премировать ", " по итогам третьего квартала."),
    ("Договор поставки заключён с ", " сроком на один год."),
    ("Сведения о ", " внесены в кадровую систему."),
)
NAME_TEMPLATES_2 = (
    ("Генеральный директор ", " утвердил(а) учётную политику на 2026 год."),
    ("В отсутствие ", " документы подписывает заместитель."),
    ("Передайте ", " акт сверки взаиморасчётов."),
    ("Бухгалтерия просит уведомить ", " о задолженности."),
    ("Доверенность выдана вместе с ", ", главным бухгалтером."),
    ("Вопрос о ", " вынесен на совещание."),
)
COMPANIES = ("ООО «Ромашка»", "АО «Вектор»", "ООО «СтройИнвест»", "ПАО «Северсталь»", "ООО «Альфа-Трейд»")


def _amount(rng) -> str:
    rub = rng.randint(1, 99_999_999)
    return rng.choice((f"{rub:,}".replace(",", " ") + f",{rng.randint(0, 99):02d}",
                       f"{rub}.{rng.randint(0, 99):02d}", f"{rub:,}".replace(",", " "),
                       f"{rng.randint(10**9, 10**10 - 1)},{rng.randint(0, 99):02d}"))


def _date(rng) -> str:
    return f"{rng.randint(1, 28):02d}.{rng.randint(1, 12):02d}.{rng.randint(2015, 2026)}"


def _order(rng) -> str:
    return rng.choice((_digits(rng, 6), _digits(rng, 8), f"{rng.randint(2020, 2026)}-{_digits(rng, 6)}",
                       "1" + _digits(rng, 9)))


def _kpp(rng) -> str:
    return f"{rng.randint(1, 92):02d}{rng.randint(1, 99):02d}01001"


def _email(rng) -> str:
    user = rng.choice(("ivanov", "m.petrova", "buh", "info", "a.smirnov84", "olga_k", "zakupki"))
    domain = rng.choice(("mail.ru", "yandex.ru", "gmail.com", "romashka.ru", "vector-group.com",
                         "почта.рф", "bk.ru"))
    return f"{user}@{domain}"


def _number_samples(rng) -> list[Sample]:
    c, b = rng.choice(COMPANIES), bik(rng)
    acc, bad_acc = account(rng, b), account(rng, b, valid=False)
    out = [
        compose(f"Реквизиты {c}: ИНН ", ("ИНН", inn10(rng)), ", КПП ", (KEEP, _kpp(rng)), ", ОГРН ",
                ("ОГРН", ogrn(rng)), "."),
        compose("ИП Соколов, ИНН ", ("ИНН", inn12(rng)), ", ОГРНИП ", ("ОГРНИП", ogrn(rng, ip=True)),
                ", зарегистрирован ", (KEEP, _date(rng)), "."),
        compose("Расчётный счёт ", ("СЧЕТ", acc), " в ПАО Сбербанк, БИК ", (KEEP, b), "."),
        compose("Оплату перечислите на р/с ", (BAD, bad_acc), ", БИК ", (KEEP, b),
                " (ключ счёта не сходится)."),
        compose("СНИЛС сотрудника: ", ("СНИЛС", snils(rng)), ", дата приёма ", (KEEP, _date(rng)), "."),
        compose("Страховой номер ", ("СНИЛС", snils(rng, formatted=False)), " указан в анкете."),
        compose("В заявлении указан СНИЛС ", (BAD, snils(rng, valid=False)), ", он не проходит проверку."),
        compose("Оплата картой ", ("КАРТА", card(rng)), " на сумму ", (KEEP, _amount(rng)), " руб."),
        compose("Возврат на карту ", ("КАРТА", card(rng, sep="")), " выполнен ", (KEEP, _date(rng)), "."),
        compose("Номер карты ", ("КАРТА", card(rng, sep="-")), " сообщил клиент."),
        compose("Карта ", (BAD, card(rng, valid=False)), " отклонена банком."),
        compose("Телефон бухгалтерии: ", ("ТЕЛЕФОН", phone(rng)), ", звонить до 18:00."),
        compose("Контакт для связи ", ("ТЕЛЕФОН", phone(rng)), ", почта ", ("ПОЧТА", _email(rng)), "."),
        compose("Счёт-фактура отправлена на ", ("ПОЧТА", _email(rng)), " ", (KEEP, _date(rng)), "."),
        compose("Паспорт гражданина РФ: серия ", ("ПАСПОРТ", passport(rng)), ", выдан ",
                (KEEP, _date(rng)), "."),
        compose("Паспортные данные ", ("ПАСПОРТ", passport(rng)), " проверены."),
        compose("Проверьте ИНН ", (BAD, inn10(rng, valid=False)), ": контрольная цифра неверна."),
        compose("ИНН физлица ", (BAD, inn12(rng, valid=False)), " не найден в базе ФНС."),
        compose("ОГРН ", (BAD, ogrn(rng, valid=False)), " указан с ошибкой."),
        compose("Заказ № ", (KEEP, _order(rng)), " от ", (KEEP, _date(rng)), " на сумму ",
                (KEEP, _amount(rng)), " руб."),
        compose("Итого к оплате ", (KEEP, _amount(rng)), " руб., в том числе НДС 20% ",
                (KEEP, _amount(rng)), " руб."),
        compose("Артикул ", (KEEP, _digits(rng, 10)), ", остаток ", (KEEP, str(rng.randint(1, 500))),
                " шт."),
    ]
    return out


CITIES = ("Москвы", "Казани", "Новосибирска", "Екатеринбурга", "Санкт-Петербурга")


def _name_samples(rng) -> list[Sample]:
    c = rng.choice(COMPANIES)
    out = [
        compose("Поставщик ", (KEEP, c), " из ", (KEEP, rng.choice(CITIES)), " прислал акт за ",
                (KEEP, rng.choice(("март", "Апрель", "декабрь"))), "."),
        compose("Согласно ", (KEEP, "Налоговому кодексу"), " и письму ", (KEEP, "Минфина России"), " от ",
                (KEEP, _date(rng)), " вычет НДС правомерен."),
        compose("Директор ", (KEEP, c), " ", ("ФИО", name_forms(rng, 0)), " и главный бухгалтер ",
                ("ФИО", name_forms(rng, 0)), " подписали баланс."),
        compose("Копию приказа получили ", ("ФИО", name_forms(rng, 0)), ", ", ("ФИО", name_forms(rng, 0)),
                " и ", ("ФИО", name_forms(rng, 0)), "."),
        compose("ПОЛУЧАТЕЛЬ: ", ("ФИО", caps_name(rng)), ", ИНН ", ("ИНН", inn12(rng)), "."),
        compose(("ФИО", name_forms(rng, 0)), " просит согласовать отпуск с ", (KEEP, _date(rng)), "."),
    ]
    for case in range(6):
        for templates in (NAME_TEMPLATES, NAME_TEMPLATES_2):
            before, after = templates[case]
            out.append(compose(before, ("ФИО", name_forms(rng, case)), after))
    return out


def _mixed_sample(rng) -> Sample:
    b = bik(rng)
    return compose("Работник ", ("ФИО", name_forms(rng, 0)), ", ИНН ", ("ИНН", inn12(rng)), ", СНИЛС ",
                   ("СНИЛС", snils(rng)), ", тел. ", ("ТЕЛЕФОН", phone(rng)),
                   ", зарплатный счёт ", ("СЧЕТ", account(rng, b, prefix="40817810")), " (БИК ",
                   (KEEP, b), "), сумма ", (KEEP, _amount(rng)), " руб.")


def build(seed: int = 17, rounds: int = 12) -> list[Sample]:
    """rounds × (22 number sentences + 18 name sentences + 1 mixed): 492 sentences by default."""
    rng = random.Random(seed)
    samples: list[Sample] = []
    for _ in range(rounds):
        samples += _number_samples(rng)
        samples += _name_samples(rng)
        samples.append(_mixed_sample(rng))
    return samples


@dataclass
class Score:
    """Per kind: true positives, false positives, false negatives; plus survivors hit."""

    tp: dict[str, int] = field(default_factory=dict)
    fp: dict[str, int] = field(default_factory=dict)
    fn: dict[str, int] = field(default_factory=dict)
    bad_masked: int = 0  # wrong-checksum numbers that were masked (must be 0)
    bad_total: int = 0
    keep_masked: int = 0  # amounts, dates, order numbers, КПП, БИК that were masked
    keep_total: int = 0
    names_partial: int = 0  # names found but not covered whole (a part left unmasked)

    def add(self, table: dict[str, int], kind: str) -> None:
        table[kind] = table.get(kind, 0) + 1

    def precision(self, kind: str) -> float:
        tp, fp = self.tp.get(kind, 0), self.fp.get(kind, 0)
        return tp / (tp + fp) if tp + fp else 1.0

    def recall(self, kind: str) -> float:
        tp, fn = self.tp.get(kind, 0), self.fn.get(kind, 0)
        return tp / (tp + fn) if tp + fn else 1.0

    def kinds(self) -> list[str]:
        return sorted(set(self.tp) | set(self.fn) | set(self.fp))


def _overlaps(a: tuple[int, int], b: tuple[int, int]) -> bool:
    return a[0] < b[1] and b[0] < a[1]


def score(samples: list[Sample], detect) -> Score:
    """detect(text) -> objects with kind/start/end. Names match on overlap, numbers exactly."""
    result = Score()
    for sample in samples:
        found = list(detect(sample.text))
        used = set()
        for kind, start, end in sample.spans:
            if kind in (KEEP, BAD):
                hit = any(_overlaps((f.start, f.end), (start, end)) for f in found)
                if kind == BAD:
                    result.bad_total += 1
                    result.bad_masked += hit
                else:
                    result.keep_total += 1
                    result.keep_masked += hit
                continue
            match = next((i for i, f in enumerate(found) if i not in used and f.kind == kind and (
                (f.start, f.end) == (start, end)
                or (kind == "ФИО" and _overlaps((f.start, f.end), (start, end))))), None)
            if match is None:
                result.add(result.fn, kind)
            else:
                used.add(match)
                result.add(result.tp, kind)
                result.names_partial += found[match].start > start or found[match].end < end
        for i, f in enumerate(found):
            if i not in used:
                result.add(result.fp, f.kind)
    return result
