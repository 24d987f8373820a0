"""What the tray shows for a given state: colour, tooltip and menu texts. Pure, no display needed."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from gigachat import __version__
from gigachat.core.token import TokenState, TokenStatus

TOOLTIP_MAX = 127  # Windows cuts tray tooltips at 128 characters (with the final NUL)
LOW_BALANCE = 10_000  # tokens: warn when the model's balance falls under this
ACCOUNT_ERRORS = ("payment_required", "permission_denied")  # red until a request succeeds again

# Short forms of errors for the status line «Ошибка: …» and the tooltip.
SHORT_ERRORS = {
    "wrong_key": "неверный ключ авторизации",
    "malformed_key": "ключ авторизации записан неверно",
    "scope_mismatch": "ключ выдан для другого scope",
    "oauth_rejected": "сервер авторизации отклонил ключ",
    "no_credentials": "нет ключа авторизации",
    "partial_credentials": "ключ в переменных окружения задан не полностью",
    "keyring_unavailable": "хранилище паролей недоступно",
    "keyring_locked": "хранилище паролей заблокировано",
    "keyring_error": "ошибка хранилища паролей",
    "network": "нет связи с ГигаЧат",
    "tls": "ошибка сертификата ГигаЧат",
    "timeout": "ГигаЧат не отвечает",
    "rate_limited": "слишком много запросов к ГигаЧат",
    "server_error": "сбой на стороне ГигаЧат",
    "payment_required": "закончился баланс ГигаЧат (402)",
    "permission_denied": "нет доступа к ГигаЧат (403)",
    "remote_bind": "адрес моста доступен из сети",
    "bind_failed": "не удалось открыть порт",
}


@dataclass(frozen=True)
class JobLine:
    """A job the tray shows (from the service's snapshot): no texts, only counts."""

    id: str
    state: str  # queued, running, paused
    batch: bool
    done: int
    failed: int
    total: int
    error: str | None = None  # Russian: why it is paused


def job_text(job: JobLine) -> str:
    """«Пакет: 120 из 500 (24 %)», «Пакет на паузе: …», «Запрос в очереди»."""
    kind = "Пакет" if job.batch else "Запрос"
    finished = job.done + job.failed
    count = f"{number(finished)} из {number(job.total)}" if job.batch else ""
    share = f" ({finished * 100 // job.total} %)" if job.batch and job.total else ""
    where = {"paused": " на паузе", "queued": " в очереди"}.get(job.state, "")
    return f"{kind}{where}: {count}{share}" if count else f"{kind}{where or ' выполняется'}"


def jobs_summary(jobs: tuple[JobLine, ...]) -> str | None:
    """One line for the status window and the tooltip, or None without jobs."""
    if not jobs:
        return None
    if len(jobs) == 1:
        return job_text(jobs[0])
    paused = sum(1 for j in jobs if j.state == "paused")
    text = f"Задания: {len(jobs)} {plural(len(jobs), 'задание', 'задания', 'заданий')}"
    return text + (f", на паузе {paused}" if paused else "")


@dataclass(frozen=True)
class TrayState:
    """Everything the tray looks at, gathered by the controller."""

    token: TokenStatus = field(default_factory=lambda: TokenStatus(TokenState.REFRESHING))
    demo: bool = False
    url: str = ""
    port: int = 8000
    start_error_code: str | None = None  # the service did not start (e.g. "port_busy")
    start_error: str | None = None  # its full Russian message
    queue_length: int = 0
    requests_today: int = 0
    tokens_today: int = 0
    balance: tuple[tuple[str, int], ...] | None = None  # (usage name, tokens left)
    model: str = "GigaChat"
    model_notice: str | None = None  # the configured model was replaced (a Russian sentence)
    api_error_code: str | None = None  # an account problem (402/403) not yet followed by a success
    api_error: str | None = None
    autostart: bool = False
    jobs: tuple[JobLine, ...] = ()  # queued, running and paused jobs, oldest first


@dataclass(frozen=True)
class Appearance:
    """What the user sees."""

    color: str  # a key of gigachat.desktop.icons.COLORS
    tooltip: str
    status_line: str
    usage_line: str
    balance_line: str | None
    demo_line: str | None
    error_message: str | None  # the full Russian text of the current error, if any


def plural(n: int, one: str, few: str, many: str) -> str:
    """Russian plural form: 1 запрос, 2 запроса, 5 запросов."""
    n = abs(n)
    if n % 10 == 1 and n % 100 != 11:
        return one
    if 2 <= n % 10 <= 4 and not 12 <= n % 100 <= 14:
        return few
    return many


def number(n: int) -> str:
    """12 345 (space-separated thousands, as written in Russian)."""
    return f"{n:,}".replace(",", " ")


def clock(timestamp: float) -> str:
    return time.strftime("%H:%M", time.localtime(timestamp))


def short_error(code: str | None, message: str | None) -> str:
    """A few words for the status line; falls back to the first sentence of the message."""
    if code in SHORT_ERRORS:
        return SHORT_ERRORS[code]
    text = (message or "неизвестная ошибка").split(". ")[0].rstrip(".")
    text = text[:1].lower() + text[1:]
    return text if len(text) <= 60 else text[:57] + "…"


def balance_for(state: TrayState) -> tuple[str, int] | None:
    """The balance entry of the configured model (GigaChat-2-Pro counts as GigaChat-Pro)."""
    if not state.balance:
        return None
    entries = dict(state.balance)
    for name in (state.model, state.model.replace("-2", ""), "GigaChat"):
        if name in entries:
            return name, entries[name]
    return state.balance[0]


def balance_low(state: TrayState) -> bool:
    entry = balance_for(state)
    return entry is not None and entry[1] < LOW_BALANCE


def _problem(state: TrayState) -> tuple[str, str] | None:
    """(status line, tooltip part) when something is wrong that makes the icon red."""
    if state.start_error_code == "port_busy":
        return f"Порт {state.port} занят", f"порт {state.port} занят"
    if state.start_error_code:
        short = short_error(state.start_error_code, state.start_error)
        return f"Ошибка: {short}", f"ошибка — {short}"
    if state.token.state is TokenState.ERROR:
        short = short_error(state.token.error_code, state.token.error)
        return f"Ошибка: {short}", f"ошибка — {short}"
    if state.api_error_code:
        short = short_error(state.api_error_code, state.api_error)
        return f"Ошибка: {short}", f"ошибка — {short}"
    return None


def appearance(state: TrayState) -> Appearance:
    """Map a state to the icon colour, the tooltip and the menu's information lines."""
    prefix = "ГигаЧат (демо)" if state.demo else "ГигаЧат"
    error_message = None
    problem = _problem(state)
    token = state.token
    until = clock(token.expires_at) if token.expires_at else ""
    if problem:
        color, (status_line, tip) = "red", problem
        error_message = state.start_error or (
            token.error if token.state is TokenState.ERROR else state.api_error
        )
    elif token.state is TokenState.NO_CREDENTIALS:
        color, status_line, tip = "grey", "Нет ключа авторизации", "нет ключа авторизации"
        error_message = token.error
    elif token.state is TokenState.VALID and state.queue_length > 0:
        n = state.queue_length
        waiting = f"в очереди {n} {plural(n, 'запрос', 'запроса', 'запросов')}"
        color, status_line = "yellow", f"{waiting[:1].upper()}{waiting[1:]}, токен до {until}"
        tip = f"{waiting}, токен до {until}"
    elif token.state is TokenState.VALID:
        color, status_line, tip = "green", f"Токен действует до {until}", f"готов, токен до {until}"
    else:
        color, status_line, tip = "yellow", "Получение токена…", "получение токена…"
    r, t = state.requests_today, state.tokens_today
    usage_line = (
        f"Сегодня: {number(r)} {plural(r, 'запрос', 'запроса', 'запросов')}, "
        f"{number(t)} {plural(t, 'токен', 'токена', 'токенов')}"
    )
    entry = balance_for(state)
    balance_line = None
    if entry is not None:
        name, left = entry
        balance_line = f"Баланс {name}: {number(left)} {plural(left, 'токен', 'токена', 'токенов')}"
    version = f"\nМост для 1С {__version__}"
    tooltip = f"{prefix}: {tip}"
    if len(tooltip) + len(version) > TOOLTIP_MAX:
        tooltip = tooltip[: TOOLTIP_MAX - len(version) - 1] + "…"
    tooltip += version
    demo_line = "Демо-режим: отвечает встроенный эмулятор" if state.demo else None
    return Appearance(color, tooltip, status_line, usage_line, balance_line, demo_line, error_message)


@dataclass(frozen=True)
class Notice:
    title: str
    message: str


def model_notice(shown: str | None, state: TrayState) -> Notice | None:
    """The one notification about a replaced model (`shown`: the notice already shown)."""
    if state.model_notice and state.model_notice != shown:
        return Notice("ГигаЧат: другая модель", state.model_notice)
    return None


def notices(before: TrayState | None, after: TrayState, worked: bool) -> list[Notice]:
    """Notifications for a change from `before` (the last settled, non-yellow state) to `after`.

    `worked`: the bridge had a valid token at some point (errors before that are the first-run
    key dialog's business, not a notification's)."""
    old = appearance(before) if before is not None else None
    new = appearance(after)
    found: list[Notice] = []
    payment = after.api_error_code == "payment_required" and (
        before is None or before.api_error_code != "payment_required"
    )
    if after.start_error_code and (before is None or before.start_error_code != after.start_error_code):
        found.append(Notice("Мост ГигаЧат не запущен", after.start_error or new.status_line))
    elif payment:
        text = after.api_error or SHORT_ERRORS["payment_required"]
        found.append(Notice("ГигаЧат: закончился баланс", text))
    elif new.color == "red" and old is not None and old.color != "red" and worked:
        found.append(Notice("ГигаЧат: ошибка", new.error_message or new.status_line))
    elif old is not None and old.color == "red" and new.color == "green":
        found.append(Notice("ГигаЧат снова работает", new.status_line))
    if balance_low(after) and (before is None or not balance_low(before)):
        found.append(Notice("ГигаЧат: баланс заканчивается", new.balance_line or ""))
    return found
