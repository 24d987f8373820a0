"""State → icon colour, tooltip, menu lines and notifications (pure functions, no display)."""

from __future__ import annotations

import time

import pytest

from gigachat import __version__
from gigachat.core.token import TokenState, TokenStatus
from gigachat.desktop.icons import COLORS, draw_icon
from gigachat.desktop.tray_state import TOOLTIP_MAX, TrayState, appearance, notices, plural

IN_AN_HOUR = time.time() + 3600
UNTIL = time.strftime("%H:%M", time.localtime(IN_AN_HOUR))
VALID = TokenStatus(TokenState.VALID, expires_at=IN_AN_HOUR)
WRONG_KEY = TokenStatus(TokenState.ERROR, error="Неверный ключ авторизации ГигаЧат: сервер его не принял.",
                        error_code="wrong_key")


@pytest.mark.parametrize("state, color, status_line, tooltip", [
    (TrayState(token=TokenStatus(TokenState.NO_CREDENTIALS, error_code="no_credentials")),
     "grey", "Нет ключа авторизации", "ГигаЧат: нет ключа авторизации"),
    (TrayState(token=TokenStatus(TokenState.REFRESHING)),
     "yellow", "Получение токена…", "ГигаЧат: получение токена…"),
    (TrayState(token=VALID, queue_length=3),
     "yellow", f"В очереди 3 запроса, токен до {UNTIL}", f"ГигаЧат: в очереди 3 запроса, токен до {UNTIL}"),
    (TrayState(token=VALID),
     "green", f"Токен действует до {UNTIL}", f"ГигаЧат: готов, токен до {UNTIL}"),
    (TrayState(token=VALID, demo=True),
     "green", f"Токен действует до {UNTIL}", f"ГигаЧат (демо): готов, токен до {UNTIL}"),
    (TrayState(token=WRONG_KEY),
     "red", "Ошибка: неверный ключ авторизации", "ГигаЧат: ошибка — неверный ключ авторизации"),
    (TrayState(token=TokenStatus(TokenState.ERROR), port=8000, start_error_code="port_busy",
               start_error="Порт 8000 на адресе 127.0.0.1 уже занят"),
     "red", "Порт 8000 занят", "ГигаЧат: порт 8000 занят"),
    (TrayState(token=VALID, api_error_code="payment_required", api_error="Закончились токены."),
     "red", "Ошибка: закончился баланс ГигаЧат (402)", "ГигаЧат: ошибка — закончился баланс ГигаЧат (402)"),
    (TrayState(token=TokenStatus(TokenState.ERROR, error="Сервер сломался. Подробности.",
                                 error_code="something_new")),
     "red", "Ошибка: сервер сломался", "ГигаЧат: ошибка — сервер сломался"),
])
def test_each_state_has_its_colour_status_line_and_tooltip(state, color, status_line, tooltip):
    face = appearance(state)
    assert (face.color, face.status_line) == (color, status_line)
    assert face.tooltip == f"{tooltip}\nМост для 1С {__version__}"  # the version, from one place
    assert len(face.tooltip) <= TOOLTIP_MAX
    assert face.color in COLORS


def test_usage_balance_and_demo_lines():
    face = appearance(TrayState(token=VALID, requests_today=21, tokens_today=12345, demo=True,
                                model="GigaChat-2-Pro",
                                balance=(("GigaChat", 900000), ("GigaChat-Pro", 5000))))
    assert face.usage_line == "Сегодня: 21 запрос, 12 345 токенов"
    assert face.balance_line == "Баланс GigaChat-Pro: 5 000 токенов"
    assert face.demo_line.startswith("Демо-режим")
    assert appearance(TrayState()).balance_line is None and appearance(TrayState()).demo_line is None


def test_long_error_keeps_the_tooltip_within_the_windows_limit():
    long = TokenStatus(TokenState.ERROR, error="Ж" * 500, error_code="x")
    tooltip = appearance(TrayState(token=long)).tooltip
    assert len(tooltip) <= TOOLTIP_MAX and tooltip.endswith(__version__)


@pytest.mark.parametrize("n, word", [(1, "запрос"), (2, "запроса"), (5, "запросов"), (11, "запросов"),
                                     (21, "запрос"), (104, "запроса"), (112, "запросов")])
def test_russian_plural(n, word):
    assert plural(n, "запрос", "запроса", "запросов") == word


def test_notifications_on_first_error_after_working_and_on_recovery():
    green, red = TrayState(token=VALID), TrayState(token=WRONG_KEY)
    first = notices(green, red, worked=True)
    assert [n.title for n in first] == ["ГигаЧат: ошибка"]
    assert "Неверный ключ" in first[0].message
    assert notices(red, red, worked=True) == []  # not again while it stays red
    assert notices(TrayState(), red, worked=False) == []  # never worked: the key dialog speaks
    assert [n.title for n in notices(red, green, worked=True)] == ["ГигаЧат снова работает"]


def test_notifications_on_402_low_balance_and_busy_port():
    green = TrayState(token=VALID, balance=(("GigaChat", 50000),))
    paid_out = TrayState(token=VALID, api_error_code="payment_required", api_error="Закончились токены.",
                         balance=(("GigaChat", 50000),))
    assert [n.title for n in notices(green, paid_out, worked=True)] == ["ГигаЧат: закончился баланс"]
    low = TrayState(token=VALID, balance=(("GigaChat", 9000),))
    assert [n.title for n in notices(green, low, worked=True)] == ["ГигаЧат: баланс заканчивается"]
    assert notices(low, low, worked=True) == []
    busy = TrayState(start_error_code="port_busy", start_error="Порт 8000 занят другой программой.")
    assert [(n.title, n.message) for n in notices(None, busy, worked=False)] == [
        ("Мост ГигаЧат не запущен", "Порт 8000 занят другой программой.")]


@pytest.mark.parametrize("size", [16, 24, 32, 48])
@pytest.mark.parametrize("name", sorted(COLORS))
def test_icon_is_drawn_crisply_in_the_state_colour(name, size):
    image = draw_icon(name, size)
    assert image.size == (size, size) and image.mode == "RGBA"
    rgb = tuple(int(COLORS[name][i:i + 2], 16) for i in (1, 3, 5))
    edge = image.getpixel((size // 2, max(1, size // 10)))  # inside the circle, above the bubble
    assert all(abs(a - b) <= 24 for a, b in zip(edge[:3], rgb, strict=True)) and edge[3] >= 250
    assert image.getpixel((0, 0))[3] == 0  # transparent corners
    if size >= 24:  # the white speech bubble above its dots
        assert min(image.getpixel((size // 2, round(size * 0.31)))[:3]) > 200


def test_headless_entry_point_needs_no_gui_modules():
    """pystray (needs a display on Linux) and tkinter are imported only in tray mode."""
    import subprocess
    import sys
    from pathlib import Path

    code = ("import sys, tray_app; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('pystray', 'tkinter', 'Xlib')))")
    done = subprocess.run([sys.executable, "-c", code], cwd=Path(__file__).resolve().parent.parent,
                          capture_output=True, text=True, timeout=60, env={"PATH": "/usr/bin:/bin"})
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
